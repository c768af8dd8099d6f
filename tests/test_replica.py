"""A read replica (`DATABASE_READ_URL`): lists and statistics read from it, everything else from the primary,
and a person who just wrote reads their own write (`DATABASE_READ_STICKY_SECONDS`).

The "replica" here is the test database itself, opened read-only (PostgreSQL: `default_transaction_read_only`;
SQLite: `mode=ro`), through an engine of its own: a statement on it is one the replica served, and a write
routed there would fail. The replica needs committed rows, so these tests commit (truncate mode).
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import pytest
from flask import Flask
from sqlalchemy import event, func, select
from sqlalchemy.engine import make_url

from api import create_app
from api.accounts.access import AccessLog
from api.config import Settings
from api.db import db, utcnow
from tests.test_read_path import add_events, add_incidents

pytestmark = pytest.mark.commits


def read_only_url(url: str) -> str:
    """The same database, opened so that it refuses writes."""
    parsed = make_url(url)
    if parsed.drivername.startswith("sqlite"):
        return f"sqlite:///file:{parsed.database}?mode=ro&uri=true"
    return parsed.update_query_dict(
        {"options": "-c default_transaction_read_only=on", "application_name": "linli-replica"}
    ).render_as_string(hide_password=False)


class Served:
    """Which engine served each statement."""

    def __init__(self) -> None:
        self.primary: list[str] = []
        self.replica: list[str] = []

    def clear(self) -> None:
        self.primary.clear()
        self.replica.clear()


@pytest.fixture
def replica_app(app: Flask, base_settings: Settings) -> Iterator[Flask]:
    """The app with a read replica configured; the session app's engines are back afterwards."""
    settings = base_settings.with_overrides(database_read_url=read_only_url(base_settings.sqlalchemy_url))
    replica = create_app(settings)
    try:
        yield replica
    finally:
        db.bind(base_settings.sqlalchemy_url)


@pytest.fixture
def served(replica_app: Flask) -> Iterator[Served]:
    record = Served()
    assert db.engine is not None and db.read_engine is not None

    def on_primary(_conn: Any, _cursor: Any, statement: str, *_args: Any) -> None:
        record.primary.append(statement)

    def on_replica(_conn: Any, _cursor: Any, statement: str, *_args: Any) -> None:
        record.replica.append(statement)

    event.listen(db.engine, "before_cursor_execute", on_primary)
    event.listen(db.read_engine, "before_cursor_execute", on_replica)
    try:
        yield record
    finally:
        event.remove(db.engine, "before_cursor_execute", on_primary)
        event.remove(db.read_engine, "before_cursor_execute", on_replica)


def _selects(statements: list[str], table: str) -> bool:
    return any(s.lstrip().upper().startswith("SELECT") and f"FROM {table}" in s for s in statements)


def test_the_events_list_is_read_from_the_replica_and_the_account_from_the_primary(
    replica_app, served, world, resident
):
    add_events(world, 3)
    db.session.commit()
    db.session.remove()
    served.clear()
    response = replica_app.test_client().get("/api/v1/events", headers=resident["headers"])
    assert response.status_code == 200 and len(response.get_json()["items"]) == 3
    assert _selects(served.replica, "events"), served.replica
    assert not _selects(served.primary, "events")
    # Who is asking, and whether their session was ended, is the primary's answer: a logout is never missed.
    assert _selects(served.primary, "users") and not _selects(served.replica, "users")


def test_a_resident_who_just_booked_sees_the_booking_in_my_bookings_then_reads_move_back_to_the_replica(
    replica_app, served, world, resident
):
    settings = replica_app.extensions["linli.settings"]
    settings.database_read_sticky_seconds = 1
    (show,) = add_events(world, 1)
    db.session.commit()
    client = replica_app.test_client()

    booked = client.post(f"/api/v1/events/{show.id}/bookings", json={"party_size": 1}, headers=resident["headers"])
    assert booked.status_code == 201, booked.get_json()
    db.session.remove()
    served.clear()
    mine = client.get("/api/v1/me/bookings", headers=resident["headers"])
    assert [b["id"] for b in mine.get_json()["items"]] == [booked.get_json()["id"]]
    assert served.replica == [], "read from the replica right after the write"

    time.sleep(1.3)
    served.clear()
    again = client.get("/api/v1/me/bookings", headers=resident["headers"])
    assert [b["id"] for b in again.get_json()["items"]] == [booked.get_json()["id"]]
    assert _selects(served.replica, "bookings"), served.replica


def test_a_list_that_also_writes_reads_from_the_replica_and_writes_to_the_primary(
    replica_app, served, world, kj01_staff
):
    """The staff queue of household requests writes who saw whose details (the access log) as it reads."""
    from api.accounts.models import HouseholdRelation, HouseholdRequest, User

    applicant = User(nickname="申请人", wechat_openid=f"o-{uuid.uuid4().hex}")
    db.session.add(applicant)
    db.session.flush()
    db.session.add(
        HouseholdRequest(user_id=applicant.id, room_id=world.room("KJ01/101").id, relation=HouseholdRelation.TENANT)
    )
    db.session.commit()
    db.session.remove()
    served.clear()
    response = replica_app.test_client().get("/api/v1/admin/household-requests", headers=kj01_staff["headers"])
    assert response.status_code == 200 and len(response.get_json()["items"]) == 1
    assert _selects(served.replica, "household_requests")
    assert any(s.startswith("INSERT INTO access_log") for s in served.primary)
    assert db.session.scalar(select(func.count()).select_from(AccessLog)) == 1


def test_statistics_are_read_from_the_replica(replica_app, served, world, admin):
    add_incidents(world, 3)
    db.session.commit()
    db.session.remove()
    served.clear()
    now = utcnow()
    query = {"from": (now - timedelta(days=1)).isoformat(), "to": (now + timedelta(minutes=1)).isoformat()}
    body = replica_app.test_client().get("/api/v1/admin/incidents/stats", query_string=query, headers=admin["headers"])
    assert body.status_code == 200 and body.get_json()["total"]["received"] == 3
    assert _selects(served.replica, "incidents") and not _selects(served.primary, "incidents")
    alerts = replica_app.test_client().get("/api/v1/admin/alerts/stats", headers=admin["headers"])
    assert alerts.status_code == 200 and _selects(served.replica, "alerts")


def test_single_objects_and_writes_stay_on_the_primary(replica_app, served, world, resident):
    (show,) = add_events(world, 1)
    db.session.commit()
    db.session.remove()
    served.clear()
    client = replica_app.test_client()
    assert client.get(f"/api/v1/events/{show.id}", headers=resident["headers"]).status_code == 200
    assert served.replica == []


def test_without_a_read_url_there_is_no_replica(app, resident):
    assert db.read_engine is None
    assert app.test_client().get("/api/v1/events", headers=resident["headers"]).status_code == 200


@pytest.mark.smoke
def test_the_read_url_and_the_sticky_seconds_come_from_the_environment():
    settings = Settings.from_env(
        {"DATABASE_READ_URL": "postgresql://linli@replica:5432/linli", "DATABASE_READ_STICKY_SECONDS": "8"}
    )
    assert settings.database_read_url == "postgresql+psycopg://linli@replica:5432/linli"
    assert settings.database_read_sticky_seconds == 8
    assert Settings.from_env({}).database_read_url == ""
