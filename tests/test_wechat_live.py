"""The live WeChat path, end to end: the app in live mode, real wechatpy HTTP calls, a local fake WeChat.

Nothing here uses the sandbox: the app is built with a mini-program appid and secret and
`WECHAT_API_BASE_URL` pointing at `tests.fake_wechat.FakeWechat`, so logging in and binding a phone
number go through wechatpy, `RebasedSession` and `call_wechat` exactly as in production.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable, Iterator
from typing import Any

import pytest
import requests
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import func, select

from api import create_app
from api.accounts.models import User
from api.config import Settings
from api.db import db
from api.extensions import celery, store
from api.wechat import LiveMiniProgram
from tests.conftest import bearer
from tests.fake_wechat import Answer, FakeWechat

APPID = "wx-test-app"
SECRET = "s3cret"
TOKEN = "/cgi-bin/token"
JSCODE = "/sns/jscode2session"
PHONE = "/wxa/business/getuserphonenumber"


# ----------------------------------------------------------------------------------------------------
# Fixtures
# ----------------------------------------------------------------------------------------------------


@pytest.fixture
def fake() -> Iterator[FakeWechat]:
    with FakeWechat({APPID: SECRET}) as server:
        yield server


def _forget_access_token(live: Flask) -> None:
    """The token cache outlives an app (process memory, or Redis): each test starts without one."""
    client = live.extensions["linli.miniprogram"].client
    client.session.delete(client.access_token_key)


@pytest.fixture
def make_live_app(app: Flask, base_settings: Settings, fake: FakeWechat) -> Iterator[Callable[..., Flask]]:
    """Build the app in live WeChat mode (as often as a test likes), pointed at the fake.

    `create_app` rebinds process-wide singletons: `store.backend` and `celery.flask_app` (the database
    engine is reused for the same URL, and the Celery settings it writes are the same as the normal
    test app's). They are put back afterwards so the session-wide test app carries on as before; the
    `app` fixture then empties the database and the store.
    """
    saved_store, saved_flask_app = store.backend, getattr(celery, "flask_app", None)
    built: list[Flask] = []

    def build(**overrides: Any) -> Flask:
        live_overrides = {
            "wechat_miniapp_id": APPID,
            "wechat_miniapp_secret": SECRET,
            "wechat_api_base_url": fake.url,
            "wechat_timeout_seconds": 2,
        }
        settings = base_settings.with_overrides(**{**live_overrides, **overrides})
        live = create_app(settings)
        assert live.extensions["linli.miniprogram"].sandbox is False
        _forget_access_token(live)
        built.append(live)
        return live

    try:
        yield build
    finally:
        for live in built:
            _forget_access_token(live)
        store.backend = saved_store
        celery.flask_app = saved_flask_app  # type: ignore[attr-defined]


@pytest.fixture
def live(make_live_app: Callable[..., Flask]) -> FlaskClient:
    """A test client of the app in live mode."""
    return make_live_app().test_client()


def login(client: FlaskClient, code: str) -> Any:
    return client.post("/api/v1/auth/wechat-login", json={"code": code})


def logged_in(client: FlaskClient, fake: FakeWechat, code: str, openid: str, unionid: str | None = None) -> Any:
    fake.add_login(code, openid, unionid)
    response = login(client, code)
    assert response.status_code == 200, response.get_json()
    return response.get_json()


def residents() -> int:
    db.session.remove()
    return db.session.scalar(select(func.count()).select_from(User).where(User.wechat_openid.is_not(None))) or 0


def stored_user(openid: str) -> User | None:
    db.session.remove()
    return db.session.scalar(select(User).where(User.wechat_openid == openid))


def stored_phone(user_id: str) -> str | None:
    """What the database committed (read in a fresh session)."""
    db.session.remove()
    user = db.session.get(User, uuid.UUID(user_id))
    assert user is not None
    return user.phone


def assert_error_shape(response: Any, status: int, code: str) -> dict[str, Any]:
    body = response.get_json()
    assert response.status_code == status, body
    assert set(body) == {"code", "message", "errors"}
    assert body["code"] == code
    assert body["message"]
    return body


# ----------------------------------------------------------------------------------------------------
# Logging in
# ----------------------------------------------------------------------------------------------------


def test_first_login_creates_a_resident_with_the_identity_wechat_gave(live, fake):
    tokens = logged_in(live, fake, "code-1", openid="oZhangSan001", unionid="uZhangSan001")

    assert tokens["user"]["roles"] == ["resident"]
    user = stored_user("oZhangSan001")
    assert user is not None
    assert str(user.id) == tokens["user"]["id"]
    assert user.wechat_unionid == "uZhangSan001"
    me = live.get("/api/v1/me", headers=bearer(tokens["access_token"]))
    assert me.status_code == 200
    assert me.get_json()["id"] == tokens["user"]["id"]

    (call,) = fake.calls(JSCODE)
    assert call.method == "GET"
    assert call.query == {
        "appid": APPID,
        "secret": SECRET,
        "js_code": "code-1",
        "grant_type": "authorization_code",
    }


def test_the_same_openid_logs_in_again_as_the_same_resident(live, fake):
    first = logged_in(live, fake, "code-1", openid="oZhangSan001")
    second = logged_in(live, fake, "code-2", openid="oZhangSan001", unionid="uZhangSan001")
    other = logged_in(live, fake, "code-3", openid="oLiSi002")

    assert second["user"]["id"] == first["user"]["id"]
    assert other["user"]["id"] != first["user"]["id"]
    assert residents() == 2
    # WeChat sent the unionid only once the mini-program joined the open platform: it is kept now.
    user = stored_user("oZhangSan001")
    assert user is not None and user.wechat_unionid == "uZhangSan001"


def test_login_needs_no_access_token(live, fake):
    """jscode2session is authorised by appid+secret; logging in neither fetches nor leaks an access token,
    so a token endpoint in trouble does not lock residents out."""
    fake.fail_next(TOKEN, -1, times=5)

    logged_in(live, fake, "code-1", openid="oZhangSan001")

    assert fake.calls(TOKEN) == []
    assert "access_token" not in fake.calls(JSCODE)[0].query


@pytest.mark.parametrize(
    ("errcode", "status", "code"),
    [
        (40029, 400, "wechat_code_invalid"),
        (40163, 400, "wechat_code_used"),
        (45011, 429, "wechat_rate_limited"),
        (45009, 429, "wechat_rate_limited"),
        (-1, 503, "wechat_busy"),
        (40226, 502, "wechat_error"),
    ],
)
def test_login_refused_by_wechat_is_a_clear_error_and_creates_nobody(live, fake, errcode, status, code):
    fake.add_login("code-1", "oZhangSan001")
    fake.fail_next(JSCODE, errcode)

    response = login(live, "code-1")

    assert_error_shape(response, status, code)
    if status in (429, 503):
        assert int(response.headers["Retry-After"]) > 0
    assert residents() == 0
    assert len(fake.calls(JSCODE)) == 1


@pytest.mark.parametrize("errcode", [-1, 45011])
def test_after_a_passing_wechat_hiccup_the_same_code_logs_in(live, fake, errcode):
    """WeChat never consumed the code, so the mini-program's retry with it must work."""
    fake.add_login("code-1", "oZhangSan001")
    fake.fail_next(JSCODE, errcode)
    assert login(live, "code-1").status_code in (429, 503)

    retry = login(live, "code-1")
    assert retry.status_code == 200
    assert residents() == 1
    assert login(live, "code-1").get_json()["code"] == "wechat_code_used"


def test_a_code_wechat_does_not_know_is_invalid(live, fake):
    assert_error_shape(login(live, "forged-code"), 400, "wechat_code_invalid")
    assert residents() == 0


def test_a_code_wechat_has_already_consumed_is_used(live, fake):
    """Another backend instance (or an attacker) got to the code first: WeChat says 40163."""
    fake.add_login("code-1", "oZhangSan001").used = True

    assert_error_shape(login(live, "code-1"), 400, "wechat_code_used")
    assert residents() == 0


def test_when_wechat_cannot_be_reached_login_says_so(live, fake):
    fake.stop()

    assert_error_shape(login(live, "code-1"), 502, "wechat_unavailable")
    assert residents() == 0


@pytest.mark.parametrize(
    "answer",
    [
        Answer("<html><body>502 Bad Gateway</body></html>", status=502, content_type="text/html"),
        Answer("<html><body>upstream says hello</body></html>", status=200, content_type="text/html"),
        Answer(b"", status=200),
    ],
    ids=["proxy-502", "html-200", "empty-200"],
)
def test_a_garbled_answer_from_wechat_or_a_proxy_is_unavailable_not_a_crash(live, fake, answer):
    fake.add_login("code-1", "oZhangSan001")
    fake.answer_next(JSCODE, answer)

    assert_error_shape(login(live, "code-1"), 502, "wechat_unavailable")
    assert residents() == 0


def test_a_wrong_app_secret_is_our_misconfiguration_not_the_residents_code(make_live_app, fake):
    live = make_live_app(wechat_miniapp_secret="not-the-secret").test_client()
    fake.add_login("code-1", "oZhangSan001")

    body = assert_error_shape(login(live, "code-1"), 502, "wechat_error")
    assert "40125" in body["message"]
    assert residents() == 0


# ----------------------------------------------------------------------------------------------------
# Binding the phone number
# ----------------------------------------------------------------------------------------------------


def bind_phone(client: FlaskClient, tokens: dict[str, Any], code: str) -> Any:
    return client.patch("/api/v1/me", json={"phone_code": code}, headers=bearer(tokens["access_token"]))


def test_binding_the_phone_number_shows_it_masked_and_stores_it(live, fake):
    tokens = logged_in(live, fake, "code-1", openid="oZhangSan001")
    fake.add_phone("phone-1", "13812345678")

    response = bind_phone(live, tokens, "phone-1")

    assert response.status_code == 200, response.get_json()
    assert response.get_json()["phone"] == "138****5678"
    me = live.get("/api/v1/me", headers=bearer(tokens["access_token"]))
    assert me.get_json()["phone"] == "138****5678"
    assert stored_phone(tokens["user"]["id"]) == "13812345678"

    (token_call,) = fake.calls(TOKEN)
    assert token_call.query == {"grant_type": "client_credential", "appid": APPID, "secret": SECRET}
    (phone_call,) = fake.calls(PHONE)
    assert phone_call.method == "POST"
    assert phone_call.json == {"code": "phone-1"}
    assert phone_call.access_token == fake.valid_tokens()[0]


def test_a_phone_code_wechat_refuses_leaves_the_profile_unchanged(live, fake):
    tokens = logged_in(live, fake, "code-1", openid="oZhangSan001")

    response = live.patch(
        "/api/v1/me", json={"nickname": "张三", "phone_code": "forged"}, headers=bearer(tokens["access_token"])
    )

    assert_error_shape(response, 400, "wechat_code_invalid")
    me = live.get("/api/v1/me", headers=bearer(tokens["access_token"])).get_json()
    assert me["phone"] is None
    assert me["nickname"] == ""
    assert stored_phone(tokens["user"]["id"]) is None


@pytest.mark.parametrize("errcode", [42001, 40001, 40014])
def test_a_rejected_access_token_is_refreshed_and_the_call_retried_once(live, fake, errcode):
    tokens = logged_in(live, fake, "code-1", openid="oZhangSan001")
    fake.add_phone("phone-1", "13812345678")
    fake.fail_next(PHONE, errcode)

    response = bind_phone(live, tokens, "phone-1")

    assert response.status_code == 200, response.get_json()
    assert response.get_json()["phone"] == "138****5678"
    assert len(fake.calls(TOKEN)) == 2
    first, second = fake.calls(PHONE)
    assert first.access_token != second.access_token
    assert second.access_token == fake.valid_tokens()[-1]
    assert stored_phone(tokens["user"]["id"]) == "13812345678"


def test_an_access_token_that_expires_mid_run_is_replaced(live, fake):
    tokens = logged_in(live, fake, "code-1", openid="oZhangSan001")
    fake.add_phone("phone-1", "13812345678")
    fake.add_phone("phone-2", "13987654321")
    assert bind_phone(live, tokens, "phone-1").status_code == 200
    old_token = fake.valid_tokens()[0]

    fake.expire_tokens()  # two hours later, as far as WeChat is concerned
    response = bind_phone(live, tokens, "phone-2")

    assert response.status_code == 200, response.get_json()
    assert response.get_json()["phone"] == "139****4321"
    assert len(fake.calls(TOKEN)) == 2
    assert [c.access_token for c in fake.calls(PHONE)][1:] == [old_token, fake.valid_tokens()[0]]
    assert fake.valid_tokens()[0] != old_token


def test_a_second_rejection_is_a_clear_error_not_a_loop(live, fake):
    tokens = logged_in(live, fake, "code-1", openid="oZhangSan001")
    fake.add_phone("phone-1", "13812345678")
    fake.fail_next(PHONE, 42001, times=10)

    response = bind_phone(live, tokens, "phone-1")

    body = assert_error_shape(response, 502, "wechat_error")
    assert "42001" in body["message"]
    assert len(fake.calls(PHONE)) == 2
    assert len(fake.calls(TOKEN)) == 2
    assert stored_phone(tokens["user"]["id"]) is None


def test_a_token_endpoint_refusing_the_refresh_is_a_clear_error(live, fake):
    tokens = logged_in(live, fake, "code-1", openid="oZhangSan001")
    fake.add_phone("phone-1", "13812345678")
    fake.add_phone("phone-2", "13987654321")
    assert bind_phone(live, tokens, "phone-1").status_code == 200
    fake.fail_next(PHONE, 42001)
    fake.fail_next(TOKEN, -1)

    response = bind_phone(live, tokens, "phone-2")

    assert_error_shape(response, 503, "wechat_busy")
    assert len(fake.calls(TOKEN)) == 2
    assert len(fake.calls(PHONE)) == 2
    assert stored_phone(tokens["user"]["id"]) == "13812345678"


def test_a_wrong_app_secret_when_binding_a_phone_is_our_misconfiguration(make_live_app, fake):
    good = make_live_app().test_client()
    tokens = logged_in(good, fake, "code-1", openid="oZhangSan001")
    bad = make_live_app(wechat_miniapp_secret="not-the-secret").test_client()
    fake.add_phone("phone-1", "13812345678")

    body = assert_error_shape(bind_phone(bad, tokens, "phone-1"), 502, "wechat_error")
    assert "40125" in body["message"]
    assert fake.calls(PHONE) == []


def test_a_token_endpoint_that_hangs_times_out(make_live_app, fake):
    live = make_live_app(wechat_timeout_seconds=1).test_client()
    tokens = logged_in(live, fake, "code-1", openid="oZhangSan001")
    fake.add_phone("phone-1", "13812345678")
    fake.answer_next(TOKEN, Answer(delay=5))

    started = time.monotonic()
    response = bind_phone(live, tokens, "phone-1")

    assert time.monotonic() - started < 4
    assert_error_shape(response, 502, "wechat_unavailable")
    assert stored_phone(tokens["user"]["id"]) is None


def test_a_token_endpoint_answering_garbage_is_unavailable_not_a_crash(live, fake):
    tokens = logged_in(live, fake, "code-1", openid="oZhangSan001")
    fake.add_phone("phone-1", "13812345678")
    fake.answer_next(TOKEN, Answer("<html><body>captive portal</body></html>", content_type="text/html"))

    assert_error_shape(bind_phone(live, tokens, "phone-1"), 502, "wechat_unavailable")
    assert fake.calls(PHONE) == []


def test_when_wechat_goes_away_binding_says_so(live, fake):
    tokens = logged_in(live, fake, "code-1", openid="oZhangSan001")
    fake.stop()

    assert_error_shape(bind_phone(live, tokens, "phone-1"), 502, "wechat_unavailable")


def test_the_access_token_is_shared_by_every_client_of_the_app(live, fake, base_settings):
    """Another worker (a new client on the same token store — Redis when REDIS_URL is set) reuses the
    cached token instead of spending the daily token quota."""
    tokens = logged_in(live, fake, "code-1", openid="oZhangSan001")
    fake.add_phone("phone-1", "13812345678")
    fake.add_phone("phone-2", "13987654321")
    assert bind_phone(live, tokens, "phone-1").status_code == 200

    other_worker = LiveMiniProgram(
        base_settings.with_overrides(
            wechat_miniapp_id=APPID, wechat_miniapp_secret=SECRET, wechat_api_base_url=fake.url
        )
    )
    assert other_worker.phone_number("phone-2") == "13987654321"

    assert len(fake.calls(TOKEN)) == 1
    if base_settings.redis_url:
        assert type(other_worker.client.session).__name__ == "RedisStorage"


# ----------------------------------------------------------------------------------------------------
# Where the requests go
# ----------------------------------------------------------------------------------------------------


def test_every_wechat_request_goes_to_the_configured_base_url(live, fake, monkeypatch):
    sent: list[str] = []
    real_send = requests.Session.send

    def recording_send(self: requests.Session, request: requests.PreparedRequest, **kwargs: Any) -> Any:
        sent.append(str(request.url))
        return real_send(self, request, **kwargs)

    monkeypatch.setattr(requests.Session, "send", recording_send)
    tokens = logged_in(live, fake, "code-1", openid="oZhangSan001")
    fake.add_phone("phone-1", "13812345678")
    fake.fail_next(PHONE, 42001)
    assert bind_phone(live, tokens, "phone-1").status_code == 200

    assert len(sent) == 5  # jscode2session, token, phone (42001), token, phone
    assert all(url.startswith(fake.url + "/") for url in sent), sent
    assert not any("weixin.qq.com" in url for url in sent)
    assert [r.path for r in fake.requests] == [JSCODE, TOKEN, PHONE, TOKEN, PHONE]
