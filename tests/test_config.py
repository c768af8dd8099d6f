"""The deployment sets environment variables; the service reads them, and refuses unsafe production."""

from __future__ import annotations

import base64
import subprocess
import sys

import pytest

from api import create_app
from api.config import DEFAULT_SECRET_KEY, ConfigError, Settings
from tests.conftest import project_root

PRODUCTION = {
    "LINLI_ENV": "production",
    "SECRET_KEY": "a-production-secret-that-is-long-enough-0123456789",
    "DATABASE_URL": "postgresql://linli@db.internal:5432/linli",
    "REDIS_URL": "redis://cache.internal:6379/0",
    "WECHAT_MINIAPP_ID": "wx1234567890",
    "WECHAT_MINIAPP_SECRET": "miniapp-secret",
    "PII_ENCRYPTION_KEY": "k1:" + base64.b64encode(bytes(range(32))).decode(),
}


@pytest.mark.smoke
def test_the_embedded_default_needs_no_variable(tmp_path):
    settings = Settings.from_env({"LINLI_INSTANCE_PATH": str(tmp_path)})

    assert settings.sqlalchemy_url == f"sqlite:///{tmp_path / 'linli.sqlite3'}"
    assert settings.wechat_sandbox
    assert settings.eager_tasks
    assert not settings.uses_s3
    assert settings.media_path == tmp_path / "media"
    assert settings.wechat_api_base_url == "https://api.weixin.qq.com"


def test_each_variable_switches_one_part_to_the_real_thing():
    settings = Settings.from_env(
        {
            **PRODUCTION,
            "WECHAT_OA_APP_ID": "wxoa",
            "WECHAT_OA_SECRET": "oa-secret",
            "WECHAT_API_BASE_URL": "http://egress-proxy.internal:8080/",
            "S3_ENDPOINT": "minio.internal:9000",
            "S3_ACCESS_KEY": "ak",
            "S3_SECRET_KEY": "sk",
            "S3_BUCKET": "linli-media",
            "S3_SECURE": "false",
        }
    )

    assert settings.sqlalchemy_url == "postgresql+psycopg://linli@db.internal:5432/linli"
    assert settings.redis_url == "redis://cache.internal:6379/0"
    assert not settings.eager_tasks
    assert not settings.wechat_sandbox
    assert (settings.wechat_oa_app_id, settings.wechat_oa_secret) == ("wxoa", "oa-secret")
    assert settings.wechat_api_base_url == "http://egress-proxy.internal:8080"
    assert settings.uses_s3 and settings.s3_bucket == "linli-media" and settings.s3_secure is False


def test_a_complete_production_configuration_is_accepted():
    Settings.from_env(PRODUCTION).check_production()


@pytest.mark.parametrize(
    ("change", "complaint"),
    [
        ({"SECRET_KEY": ""}, "SECRET_KEY"),
        ({"SECRET_KEY": DEFAULT_SECRET_KEY}, "SECRET_KEY"),
        ({"SECRET_KEY": "short"}, "SECRET_KEY"),
        ({"DATABASE_URL": ""}, "SQLite"),
        ({"WECHAT_MINIAPP_SECRET": ""}, "sandbox"),
        ({"REDIS_URL": ""}, "REDIS_URL"),
        ({"PII_ENCRYPTION_KEY": ""}, "PII_ENCRYPTION_KEY"),
    ],
)
def test_production_refuses_to_start_on_laptop_settings(change, complaint):
    settings = Settings.from_env({**PRODUCTION, **change})

    with pytest.raises(ConfigError, match=complaint):
        create_app(settings)


def test_production_refusal_is_a_clear_message_at_startup(tmp_path):
    env = {"LINLI_ENV": "production", "LINLI_INSTANCE_PATH": str(tmp_path), "PATH": "/usr/bin:/bin"}
    result = subprocess.run(
        [sys.executable, "-c", "import wsgi"], cwd=project_root(), env=env, capture_output=True, text=True, timeout=60
    )

    assert result.returncode != 0
    assert "Refusing to start with LINLI_ENV=production" in result.stderr
    assert "SECRET_KEY" in result.stderr and "DATABASE_URL" in result.stderr and "WECHAT_MINIAPP_ID" in result.stderr


def test_a_number_that_is_not_a_number_is_named():
    with pytest.raises(ConfigError, match="ACCESS_TOKEN_TTL_SECONDS"):
        Settings.from_env({"ACCESS_TOKEN_TTL_SECONDS": "fifteen minutes"})


@pytest.mark.smoke
def test_liveness_touches_nothing(client):
    assert client.get("/healthz").get_json() == {"status": "ok"}


@pytest.mark.smoke
def test_readiness_reports_the_database_and_the_broker(client, settings):
    body = client.get("/readyz").get_json()
    assert body["status"] == "ok"
    assert body["checks"]["database"] == "ok"
    assert body["checks"]["broker"] == ("ok" if settings.redis_url else "eager (no broker configured)")


def test_readiness_fails_in_the_error_shape_when_the_broker_is_gone(client, settings):
    settings.redis_url = "redis://127.0.0.1:1/0"
    response = client.get("/readyz")

    assert response.status_code == 503
    assert response.get_json()["code"] == "service_unavailable"
    assert "broker" in response.get_json()["errors"]


@pytest.mark.parametrize(
    "key",
    ["no-kid-here", "k1:not base64!", "k1:" + base64.b64encode(b"too short").decode(), "bad kid!:AAAA", ","],
)
def test_an_encryption_key_that_cannot_be_read_stops_the_start(key):
    with pytest.raises(ConfigError, match="PII_ENCRYPTION_KEY"):
        Settings.from_env({**PRODUCTION, "PII_ENCRYPTION_KEY": key})
