"""Logging in, staying logged in, and being thrown out when a token is forged, stolen or expired."""

from __future__ import annotations

import base64
import json
import uuid
from datetime import timedelta

import jwt
import pytest
from sqlalchemy import select

from api.accounts.models import RefreshToken, User
from api.auth import AUDIENCE, ISSUER
from api.db import db, utcnow
from tests.conftest import STAFF_PASSWORD, bearer, staff_login, wechat_login


@pytest.mark.smoke
def test_first_wechat_login_creates_a_resident_and_the_token_opens_my_profile(client, world):
    tokens = wechat_login(client, "zhaoliu#1")

    assert tokens["expires_in"] == 900
    assert tokens["user"]["roles"] == ["resident"]
    me = client.get("/api/v1/me", headers=bearer(tokens["access_token"]))
    assert me.status_code == 200
    assert me.get_json()["id"] == tokens["user"]["id"]
    assert me.get_json()["households"] == []


@pytest.mark.smoke
def test_the_same_wechat_identity_logs_in_as_the_same_person(client, world):
    first = wechat_login(client, "zhaoliu#1")
    second = wechat_login(client, "zhaoliu#2")
    other = wechat_login(client, "qianqi#1")

    assert first["user"]["id"] == second["user"]["id"]
    assert other["user"]["id"] != first["user"]["id"]


def test_a_wechat_login_code_works_only_once(client, world):
    wechat_login(client, "zhaoliu#1")
    again = client.post("/api/v1/auth/wechat-login", json={"code": "zhaoliu#1"})

    assert again.status_code == 400
    assert again.get_json()["code"] == "wechat_code_used"


@pytest.mark.smoke
def test_access_token_carries_subject_roles_scope_and_a_unique_id(client, world):
    first = staff_login(client, "kj01-staff")
    second = staff_login(client, "kj01-staff")
    claims = jwt.decode(first["access_token"], options={"verify_signature": False})
    other = jwt.decode(second["access_token"], options={"verify_signature": False})

    assert claims["sub"] == first["user"]["id"]
    assert claims["roles"] == ["staff"]
    assert claims["scope"] == "KJ01"
    assert claims["jti"] != other["jti"]


@pytest.mark.smoke
def test_refresh_rotates_the_pair_and_the_new_access_token_works(client, resident):
    response = client.post("/api/v1/auth/refresh", json={"refresh_token": resident["refresh_token"]})

    assert response.status_code == 200
    fresh = response.get_json()
    assert fresh["refresh_token"] != resident["refresh_token"]
    assert client.get("/api/v1/me", headers=bearer(fresh["access_token"])).status_code == 200
    stored = db.session.scalars(select(RefreshToken)).all()
    assert all(fresh["refresh_token"] not in (row.token_hash, str(row.id)) for row in stored), "stored hashed"


def spent_a_minute_ago() -> None:
    db.session.execute(
        RefreshToken.__table__.update()
        .where(RefreshToken.used_at.is_not(None))
        .values(used_at=utcnow() - timedelta(minutes=1))
    )
    db.session.commit()


def test_a_retry_right_after_a_lost_refresh_answer_keeps_the_session(client, resident):
    """The phone refreshed, the answer was lost on the 4G line, and it tries again at once."""
    first = client.post("/api/v1/auth/refresh", json={"refresh_token": resident["refresh_token"]})
    retry = client.post("/api/v1/auth/refresh", json={"refresh_token": resident["refresh_token"]})

    assert first.status_code == retry.status_code == 200
    fresh = retry.get_json()
    assert client.get("/api/v1/me", headers=bearer(fresh["access_token"])).status_code == 200
    assert client.post("/api/v1/auth/refresh", json={"refresh_token": fresh["refresh_token"]}).status_code == 200


def test_reusing_a_rotated_refresh_token_ends_the_whole_session(client, resident):
    stolen = resident["refresh_token"]
    rotated = client.post("/api/v1/auth/refresh", json={"refresh_token": stolen}).get_json()
    spent_a_minute_ago()

    replay = client.post("/api/v1/auth/refresh", json={"refresh_token": stolen})
    assert replay.status_code == 401
    assert replay.get_json()["code"] == "refresh_token_reused"

    # The legitimate holder's newer token is revoked too: the thief cannot keep the session alive.
    after = client.post("/api/v1/auth/refresh", json={"refresh_token": rotated["refresh_token"]})
    assert after.status_code == 401
    assert after.get_json()["code"] == "refresh_token_invalid"
    # … nor use an access token the session issued, for the minutes it would still have had.
    me = client.get("/api/v1/me", headers=bearer(rotated["access_token"]))
    assert me.status_code == 401 and me.get_json()["code"] == "session_ended"


def test_another_device_session_survives_a_reuse_on_one_device(client, world):
    phone = wechat_login(client, "zhaoliu#1")
    tablet = wechat_login(client, "zhaoliu#2")
    client.post("/api/v1/auth/refresh", json={"refresh_token": phone["refresh_token"]})
    spent_a_minute_ago()
    assert client.post("/api/v1/auth/refresh", json={"refresh_token": phone["refresh_token"]}).status_code == 401

    assert client.post("/api/v1/auth/refresh", json={"refresh_token": tablet["refresh_token"]}).status_code == 200


@pytest.mark.smoke
def test_logout_revokes_the_refresh_token_and_the_sessions_access_token(client, resident):
    other_phone = wechat_login(client, "zhangsan#other-phone")
    assert client.get("/api/v1/me", headers=resident["headers"]).status_code == 200
    assert client.post("/api/v1/auth/logout", json={"refresh_token": resident["refresh_token"]}).status_code == 204

    response = client.post("/api/v1/auth/refresh", json={"refresh_token": resident["refresh_token"]})
    assert response.status_code == 401
    assert response.get_json()["code"] == "refresh_token_invalid"
    me = client.get("/api/v1/me", headers=resident["headers"])
    assert me.status_code == 401 and me.get_json()["code"] == "session_ended"
    # Logging out on one phone leaves the same person's other phone signed in.
    assert client.get("/api/v1/me", headers=bearer(other_phone["access_token"])).status_code == 200


def test_an_expired_refresh_token_is_refused(client, resident):
    db.session.execute(RefreshToken.__table__.update().values(expires_at=utcnow() - timedelta(seconds=1)))
    db.session.commit()

    response = client.post("/api/v1/auth/refresh", json={"refresh_token": resident["refresh_token"]})
    assert response.status_code == 401
    assert response.get_json()["code"] == "refresh_token_invalid"


def test_an_unknown_refresh_token_is_refused(client, world):
    response = client.post("/api/v1/auth/refresh", json={"refresh_token": "not-a-token"})
    assert response.status_code == 401
    assert response.get_json()["code"] == "refresh_token_invalid"


def _forge(claims: dict, key: str, algorithm: str = "HS256") -> str:
    return jwt.encode(claims, key, algorithm=algorithm)


def _claims(user_id: str, **overrides) -> dict:
    now = utcnow()
    claims = {
        "sub": user_id,
        "roles": ["admin"],
        "scope": None,
        "jti": "x",
        "iat": now,
        "exp": now + timedelta(minutes=5),
        "aud": AUDIENCE,
        "iss": ISSUER,
    }
    claims.update(overrides)
    return claims


def _unsigned(claims: dict) -> str:
    def part(value: dict) -> str:
        return base64.urlsafe_b64encode(json.dumps(value, default=str).encode()).rstrip(b"=").decode()

    return f"{part({'alg': 'none', 'typ': 'JWT'})}.{part(claims)}."


@pytest.mark.parametrize(
    "forgery",
    ["wrong_key", "alg_none", "wrong_audience", "wrong_issuer", "no_jti", "garbage"],
)
def test_forged_access_tokens_are_refused(client, resident, settings, forgery):
    user_id = resident["user"]["id"]
    claims = _claims(user_id)
    token = {
        "wrong_key": lambda: _forge(claims, "some-other-secret-key-of-sufficient-length"),
        "alg_none": lambda: _unsigned({**claims, "iat": 0, "exp": 4102444800}),
        "wrong_audience": lambda: _forge({**claims, "aud": "someone-else"}, settings.secret_key),
        "wrong_issuer": lambda: _forge({**claims, "iss": "someone-else"}, settings.secret_key),
        "no_jti": lambda: _forge({k: v for k, v in claims.items() if k != "jti"}, settings.secret_key),
        "garbage": lambda: "abc.def.ghi",
    }[forgery]()

    response = client.get("/api/v1/me", headers=bearer(token))
    assert response.status_code == 401
    assert response.get_json()["code"] == "token_invalid"
    assert "WWW-Authenticate" in response.headers


def test_an_expired_access_token_says_so(client, resident, settings):
    token = _forge(
        _claims(resident["user"]["id"], iat=utcnow() - timedelta(hours=1), exp=utcnow() - timedelta(minutes=1)),
        settings.secret_key,
    )

    response = client.get("/api/v1/me", headers=bearer(token))
    assert response.status_code == 401
    assert response.get_json()["code"] == "token_expired"


def test_a_token_that_worked_is_refused_as_expired_once_its_time_is_up(client, resident, monkeypatch):
    headers = bearer(resident["access_token"])
    assert client.get("/api/v1/me", headers=headers).status_code == 200

    later = utcnow() + timedelta(hours=2)
    monkeypatch.setattr("api.auth.utcnow", lambda: later)
    response = client.get("/api/v1/me", headers=headers)
    assert response.status_code == 401
    assert response.get_json()["code"] == "token_expired"


def test_a_signed_token_whose_expiry_is_not_a_time_is_invalid_not_an_error(client, resident, settings):
    token = _forge(_claims(resident["user"]["id"], exp="tomorrow"), settings.secret_key)

    response = client.get("/api/v1/me", headers=bearer(token))
    assert response.status_code == 401
    assert response.get_json()["code"] == "token_invalid"


def test_no_token_is_a_401_in_the_error_shape(client, world):
    response = client.get("/api/v1/me")
    assert response.status_code == 401
    assert response.get_json() == {"code": "unauthorized", "message": "请先登录", "errors": {}}


def test_a_disabled_account_is_locked_out_at_once_even_with_a_valid_token(client, resident):
    user = db.session.get(User, uuid.UUID(resident["user"]["id"]))
    user.is_active = False
    db.session.commit()

    response = client.get("/api/v1/me", headers=resident["headers"])
    assert response.status_code == 403
    assert response.get_json()["code"] == "account_disabled"
    assert client.post("/api/v1/auth/refresh", json={"refresh_token": resident["refresh_token"]}).status_code == 401


def test_staff_login_with_a_wrong_password_or_unknown_name_gives_the_same_answer(client, world):
    wrong = client.post("/api/v1/auth/staff-login", json={"username": "kj01-staff", "password": "nope-nope"})
    unknown = client.post("/api/v1/auth/staff-login", json={"username": "nobody", "password": "nope-nope"})

    assert wrong.status_code == unknown.status_code == 401
    assert wrong.get_json() == unknown.get_json()


def test_staff_account_locks_after_five_failures_even_for_the_right_password(client, world):
    for _ in range(5):
        response = client.post("/api/v1/auth/staff-login", json={"username": "kj01-staff", "password": "wrong-pass"})
        assert response.status_code == 401

    locked = client.post("/api/v1/auth/staff-login", json={"username": "kj01-staff", "password": STAFF_PASSWORD})
    assert locked.status_code == 429
    assert locked.get_json()["code"] == "account_locked"
    assert int(locked.headers["Retry-After"]) > 800


def test_the_lock_lifts_when_its_time_is_up(client, world):
    user = world.users["kj01"]
    user.locked_until = utcnow() - timedelta(seconds=1)
    db.session.commit()

    assert staff_login(client, "kj01-staff")["user"]["roles"] == ["staff"]


def test_a_resident_cannot_use_the_staff_login(client, world):
    tokens = wechat_login(client, "zhaoliu#1")
    user = db.session.get(User, uuid.UUID(tokens["user"]["id"]))
    user.username = "zhaoliu"
    db.session.commit()

    response = client.post("/api/v1/auth/staff-login", json={"username": "zhaoliu", "password": STAFF_PASSWORD})
    assert response.status_code == 401


def test_login_is_rate_limited_per_client_address(client, world, settings):
    settings.login_rate_limit_per_minute = 3
    codes = [client.post("/api/v1/auth/wechat-login", json={"code": f"p{i}#1"}).status_code for i in range(4)]

    assert codes == [200, 200, 200, 429]
    limited = client.post("/api/v1/auth/wechat-login", json={"code": "p9#1"})
    assert limited.get_json()["code"] == "too_many_requests"
    assert int(limited.headers["Retry-After"]) >= 1


def test_behind_a_trusted_proxy_each_resident_has_their_own_login_limit(app, world):
    """nginx forwards every request from one address: the limit must follow X-Forwarded-For instead."""
    from api import create_app
    from tests.worker_support import process_globals_restored

    settings = app.extensions["linli.settings"].with_overrides(trusted_proxies=1, login_rate_limit_per_minute=2)
    with process_globals_restored():
        client = create_app(settings).test_client()

        def login(code: str, address: str) -> int:
            return client.post(
                "/api/v1/auth/wechat-login",
                json={"code": code},
                headers={"X-Forwarded-For": address},
                environ_base={"REMOTE_ADDR": "10.0.0.2"},  # the proxy
            ).status_code

        first = [login(f"a{i}#1", "203.0.113.7") for i in range(3)]
        other = login("b1#1", "198.51.100.20")

    assert first == [200, 200, 429]
    assert other == 200  # another phone behind the same proxy is not throttled by the first
