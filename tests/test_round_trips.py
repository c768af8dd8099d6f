"""A GET pays for its own statements only: its reads run without BEGIN and COMMIT around them, and a pooled
connection that answered a moment ago is handed out without a ping first. What those savings could cost is
checked too: a GET that writes still writes in a transaction and reads what it wrote, and a connection whose
server went away while it sat idle is replaced before a request gets it.

These tests use the app's own engine (as in production), so they commit (truncate mode)."""

from __future__ import annotations

import contextlib
import sys
import uuid
from collections.abc import Iterator
from typing import Any

import pytest
from sqlalchemy import create_engine, event, func, select, text
from sqlalchemy.engine import make_url
from sqlalchemy.pool import NullPool

from api.accounts.access import AccessLog
from api.accounts.models import HouseholdRelation, HouseholdRequest, User
from api.db import RoutingSession, db
from tests.conftest import PG_URL

# What is measured here is PostgreSQL's (autocommit reads, the pool's pings): the embedded SQLite has neither.
pytestmark = [pytest.mark.commits, pytest.mark.skipif(not PG_URL, reason="needs PostgreSQL (the services pass)")]


@contextlib.contextmanager
def statements() -> Iterator[list[tuple[str, bool]]]:
    """Each statement sent, with whether its connection was in autocommit (no transaction opened for it)."""
    seen: list[tuple[str, bool]] = []
    assert db.engine is not None

    def record(conn: Any, _cursor: Any, statement: str, *_args: Any) -> None:
        seen.append((statement, conn.connection.dbapi_connection.autocommit))

    event.listen(db.engine, "before_cursor_execute", record)
    try:
        yield seen
    finally:
        event.remove(db.engine, "before_cursor_execute", record)


def test_the_home_screen_reads_without_opening_a_transaction(client, world, resident):
    with statements() as seen:
        assert client.get("/api/v1/me", headers=resident["headers"]).status_code == 200
        assert client.get("/api/v1/events", headers=resident["headers"]).status_code == 200
    assert len(seen) == 4, seen
    assert all(autocommit for _, autocommit in seen), seen


def test_a_get_that_writes_writes_in_a_transaction(client, world, kj01_staff):
    """The staff queue of household requests records who saw whose details (the access log) as it reads."""
    applicant = User(nickname="申请人", wechat_openid=f"o-{uuid.uuid4().hex}")
    db.session.add(applicant)
    db.session.flush()
    db.session.add(
        HouseholdRequest(user_id=applicant.id, room_id=world.room("KJ01/101").id, relation=HouseholdRelation.TENANT)
    )
    db.session.commit()
    db.session.remove()
    with statements() as seen:
        response = client.get("/api/v1/admin/household-requests", headers=kj01_staff["headers"])
    assert response.status_code == 200 and len(response.get_json()["items"]) == 1
    assert [autocommit for sql, autocommit in seen if sql.startswith("INSERT INTO access_log")] == [False]
    assert db.session.scalar(select(func.count()).select_from(AccessLog)) == 1


def test_after_its_first_write_a_get_reads_through_its_transaction_and_a_rollback_undoes_the_write(app):
    with app.test_request_context("/api/v1/me", method="GET"):
        app.preprocess_request()
        someone = User(nickname="临时", wechat_openid=f"o-{uuid.uuid4().hex}")
        db.session.add(someone)
        db.session.flush()
        # Read on another connection in autocommit, the row flushed (not committed) would not be there.
        assert db.session.scalar(select(User.nickname).where(User.id == someone.id)) == "临时"
        db.session.rollback()
    db.session.remove()
    assert db.session.scalar(select(func.count()).select_from(User).where(User.nickname == "临时")) == 0


@pytest.fixture
def pings(monkeypatch: pytest.MonkeyPatch) -> list[Any]:
    """The pings sent to the server before handing out a pooled connection."""
    assert db.engine is not None
    sent: list[Any] = []
    dialect = db.engine.dialect
    ping = dialect.do_ping

    def counted(dbapi_connection: Any) -> bool:
        sent.append(dbapi_connection)
        return ping(dbapi_connection)

    monkeypatch.setattr(dialect, "do_ping", counted)
    return sent


def test_a_connection_back_from_a_request_a_moment_ago_is_handed_out_without_a_ping(client, resident, pings):
    assert client.get("/api/v1/me", headers=resident["headers"]).status_code == 200
    pings.clear()
    for _ in range(5):
        assert client.get("/api/v1/me", headers=resident["headers"]).status_code == 200
    assert pings == []


def test_a_connection_whose_server_went_away_while_it_idled_is_replaced_before_a_request_gets_it(
    client, resident, pg_url, pings, monkeypatch
):
    assert client.get("/api/v1/me", headers=resident["headers"]).status_code == 200
    assert db.engine is not None
    with db.engine.connect() as conn:  # the pool hands out the connection used last first
        pid = conn.connection.dbapi_connection.info.backend_pid
    admin = create_engine(make_url(pg_url), poolclass=NullPool)
    try:
        with admin.connect() as other:
            other.execute(text("SELECT pg_terminate_backend(:pid)"), {"pid": pid})
    finally:
        admin.dispose()
    monkeypatch.setattr(sys.modules["api.db"], "PING_AFTER_IDLE_SECONDS", 0.0)  # it has idled long enough to be checked

    response = client.get("/api/v1/me", headers=resident["headers"])
    assert response.status_code == 200, response.get_json()
    assert pings, "the connection was handed out unchecked"


def test_a_get_that_only_read_is_not_committed_unless_a_task_waits_for_its_commit(app):
    from api.jobs import after_commit, waiting_for_commit

    committed: list[object] = []

    def on_commit(session: object) -> None:
        committed.append(session)

    event.listen(RoutingSession, "after_commit", on_commit)
    try:
        with app.test_request_context("/api/v1/me", method="GET"):
            app.preprocess_request()
            db.session.scalar(select(func.count()).select_from(User))
            app.process_response(app.response_class("{}", status=200))
            assert committed == []  # nothing to commit: the teardown closes the session

        with app.test_request_context("/api/v1/me", method="GET"):
            app.preprocess_request()
            db.session.scalar(select(func.count()).select_from(User))
            after_commit("linli.ping")
            app.process_response(app.response_class("{}", status=200))
            assert committed and not waiting_for_commit()  # committed, and the task handed over
    finally:
        event.remove(RoutingSession, "after_commit", on_commit)
        db.session.remove()
