"""Outages underneath are 503s in the error shape, never 500s, and lose nothing that matters.

Redis: a redis-server of the test's own is stopped (SIGKILL, as in a crash) and started again. While it
is down a signed smoke alarm is still taken in and reaches the family (the replay guard is a row in
PostgreSQL), authenticated requests keep working (ended sessions are read from the database), logins
go on (rate limits and code marks fail open) — and an ended session stays ended, during and after.

PostgreSQL: the server end of the request's connection is terminated in the middle of a request; the
answer is a 503 with `Retry-After`, and the next request works.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import create_engine, event, func, select, text
from sqlalchemy.engine import make_url
from sqlalchemy.pool import NullPool

from api.alerts.models import Alert
from api.cache import RedisStore
from api.db import db
from api.extensions import store
from api.notifications.models import Notification
from tests.conftest import bearer, wechat_login
from tests.factories import iot_event, signed
from tests.worker_support import RedisServer

pytestmark = pytest.mark.services


@pytest.fixture
def private_redis(redis_url: str, tmp_path: Path) -> Iterator[RedisServer]:
    """The app's store on a redis-server of this test's own, put back afterwards."""
    server = RedisServer(tmp_path / "redis-server.log").start()
    saved = store.backend
    store.backend = RedisStore(server.url)
    try:
        yield server
    finally:
        store.backend = saved
        server.stop()


def test_with_redis_down_alarms_are_taken_in_reads_work_and_ended_sessions_stay_ended(
    client,
    home,
    private_redis,
):
    zhang = wechat_login(client, "zhangsan#1")
    li = wechat_login(client, "lisi#1")
    assert client.post("/api/v1/auth/logout", json={"refresh_token": li["refresh_token"]}).status_code in (200, 204)

    private_redis.stop()

    body = json.dumps([iot_event("SMK-1", "smoke")]).encode()
    headers = signed(body)  # signed once: signing again a second later would make another batch, not a replay
    taken = client.post("/api/v1/iot/events", data=body, headers=headers)
    assert taken.status_code == 200, taken.get_json()
    assert taken.get_json()["counts"]["accepted"] == 1
    assert db.session.scalar(select(func.count()).select_from(Alert)) == 1
    told = db.session.scalars(select(Notification.user_id).where(Notification.kind == "device_alert")).all()
    assert told == [home.daughter]
    replay = client.post("/api/v1/iot/events", data=body, headers=headers)
    assert replay.status_code == 409 and replay.get_json()["code"] == "iot_batch_replayed"

    assert client.get("/api/v1/me", headers=bearer(zhang["access_token"])).status_code == 200
    ended = client.get("/api/v1/me", headers=bearer(li["access_token"]))
    assert ended.status_code == 401 and ended.get_json()["code"] == "session_ended"
    assert client.post("/api/v1/auth/wechat-login", json={"code": "wangwu#1"}).status_code == 200

    private_redis.start()

    assert client.get("/api/v1/me", headers=bearer(zhang["access_token"])).status_code == 200
    assert client.get("/api/v1/me", headers=bearer(li["access_token"])).status_code == 401


def test_a_redis_error_nobody_handles_is_a_503_with_retry_after(app, client, resident, monkeypatch):
    import redis

    from api.accounts import routes

    def redis_gone(*_args, **_kwargs):
        raise redis.ConnectionError("Error 111 connecting to 127.0.0.1:6379. Connection refused.")

    monkeypatch.setattr(routes.services, "update_profile", redis_gone)
    response = client.patch("/api/v1/me", json={"nickname": "张三"}, headers=resident["headers"])
    assert response.status_code == 503
    assert response.get_json()["code"] == "service_unavailable"
    assert set(response.get_json()) == {"code", "message", "errors"}
    assert int(response.headers["Retry-After"]) > 0


@pytest.mark.commits
def test_a_database_connection_cut_in_the_middle_of_a_request_is_a_503_and_the_next_request_works(
    client, resident, pg_url
):
    admin = create_engine(make_url(pg_url), poolclass=NullPool)
    cut = {"done": False}

    def terminate_this_connection(conn, cursor, statement, parameters, context, executemany):
        if cut["done"] or "users" not in statement:
            return
        cut["done"] = True
        pid = conn.connection.dbapi_connection.info.backend_pid
        with admin.connect() as other:
            other.execute(text("SELECT pg_terminate_backend(:pid)"), {"pid": pid})

    assert db.engine is not None
    event.listen(db.engine, "before_cursor_execute", terminate_this_connection)
    try:
        response = client.get("/api/v1/me", headers=resident["headers"])
    finally:
        event.remove(db.engine, "before_cursor_execute", terminate_this_connection)
        admin.dispose()
    assert cut["done"]
    assert response.status_code == 503, response.get_json()
    assert response.get_json()["code"] == "service_unavailable"
    assert "Retry-After" in response.headers

    again = client.get("/api/v1/me", headers=resident["headers"])
    assert again.status_code == 200, again.get_json()
