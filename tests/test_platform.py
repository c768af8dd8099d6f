"""A domain plugs in by being named once: a package with a manifest, added to the installed domains, has
its routes served and documented, its tasks known to the worker and its beat entries scheduled, its error
codes rendered, and its part of the demo seeded — with nothing else edited. And the manifests of the
installed domains are whole and consistent."""

from __future__ import annotations

import sys
import textwrap
from pathlib import Path

import pytest

from api import Settings, create_app, platform
from api.errors import ApiError
from api.extensions import celery
from tests.worker_support import process_globals_restored

DUMMY = {
    "__init__.py": """
        from api.platform import Domain

        domain = Domain(
            name="dummy",
            description="a domain that only exists in this test",
            routes="linli_dummy.routes",
            tasks="linli_dummy.tasks",
            beat={"dummy-tick": {"task": "dummy.tick", "schedule": 60.0}},
            errors="linli_dummy.errors:ERRORS",
            seed="linli_dummy.seed:seed_demo",
        )
    """,
    "errors.py": """
        ERRORS = {"dummy_refused": (409, "演示拒绝", "The dummy refused")}
    """,
    "routes.py": '''
        from api.errors import ApiError
        from api.extensions import Blueprint

        blp = Blueprint("dummy", __name__, url_prefix="/api/v1/dummy", description="A test domain")


        @blp.route("/ping", methods=["GET"])
        def dummy_ping():
            """Answers."""
            return {"pong": True}


        @blp.route("/refuse", methods=["POST"])
        def dummy_refuse():
            """Always refuses, with the domain's own error code."""
            raise ApiError("dummy_refused")


        blueprints = [blp]
    ''',
    "tasks.py": """
        from api.extensions import celery


        @celery.task(name="dummy.tick")
        def tick():
            return "tock"
    """,
    "seed.py": """
        def seed_demo():
            return {"dummies added": 1}
    """,
}


@pytest.fixture
def dummy_domain(tmp_path: Path) -> str:
    package = tmp_path / "linli_dummy"
    package.mkdir()
    for name, source in DUMMY.items():
        (package / name).write_text(textwrap.dedent(source))
    sys.path.insert(0, str(tmp_path))
    try:
        yield "linli_dummy"
    finally:
        sys.path.remove(str(tmp_path))
        for module in [m for m in sys.modules if m == "linli_dummy" or m.startswith("linli_dummy.")]:
            del sys.modules[module]


def test_a_domain_named_once_has_its_routes_tasks_beat_errors_and_seed(dummy_domain, database_url, tmp_path, app):
    with process_globals_restored():
        dummy_app = create_app(
            Settings(
                env="test",
                secret_key="dummy-secret-key-that-is-long-enough-for-hs256",
                instance_path=tmp_path / "instance",
                database_url=database_url,
                celery_always_eager=True,
                extra={"DOMAINS": (*platform.INSTALLED_DOMAINS, dummy_domain)},
            )
        )
        client = dummy_app.test_client()
        assert client.get("/api/v1/dummy/ping").get_json() == {"pong": True}
        assert "/api/v1/dummy/ping" in client.get("/api/v1/openapi.json").get_json()["paths"]
        refused = client.post("/api/v1/dummy/refuse", headers={"Accept-Language": "en"})
        assert refused.status_code == 409
        assert refused.get_json() == {"code": "dummy_refused", "message": "The dummy refused", "errors": {}}
        assert "dummy.tick" in celery.tasks
        assert celery.conf.beat_schedule["dummy-tick"]["task"] == "dummy.tick"
        seeded = dummy_app.test_cli_runner().invoke(args=["seed-demo"], catch_exceptions=False)
        assert "dummy: dummies added: 1" in seeded.output


def test_the_installed_manifests_are_whole():
    domains = platform.load()
    assert [d.name for d in domains] == [name.rsplit(".", 1)[1] for name in platform.INSTALLED_DOMAINS]
    for manifest in domains:
        for module in (manifest.routes, manifest.tasks, *manifest.models):
            if module:
                platform.resolve(module)
        for signal, receiver in manifest.receivers:
            assert callable(platform.resolve(receiver)) and hasattr(platform.resolve(signal), "connect")
    codes = platform.error_codes(domains)
    assert all(isinstance(status, int) and zh and en for status, zh, en in codes.values())
    assert {kind.kind for kind in platform.message_kinds(domains)} >= {"device_alert", "household_request_decided"}
    schedule = platform.beat_schedule(domains)
    assert {entry["task"] for entry in schedule.values()} <= set(celery.tasks)


def test_an_error_code_no_domain_declares_is_refused():
    with pytest.raises(KeyError, match="manifest"):
        ApiError("no_such_code_anywhere")
