"""The read path stays cheap as tables grow: what a route returns is loaded in a fixed number of statements
(one page of 25 costs what a page of one does), the account and its ended-session check are one statement,
and the statistics answer from one statement per question."""

from __future__ import annotations

import contextlib
import os
import uuid
from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import event

from api.accounts.models import AreaKind, HouseholdMember, HouseholdRelation, HouseholdRequest, User
from api.alerts.models import Alert, AlertRule, AlertStatus, Severity
from api.db import db, utcnow
from api.devices.models import DeviceType
from api.events.models import Booking, BookingStatus, Event, EventCategory, EventStatus
from api.incidents.categories import ensure_default_catalogue
from api.incidents.models import Incident, IncidentStatus
from api.incidents.services import get_category_by_code
from api.media.models import Media, MediaStatus
from api.notifications.models import AttemptOutcome, Channel, DeliveryAttempt, DeliveryStatus, Notification, Urgency
from tests.conftest import _add_area
from tests.factories import add_device, add_elder

# Savepoints belong to the test's rolled-back transaction, not to the route.
_HARNESS = ("SAVEPOINT", "RELEASE SAVEPOINT", "ROLLBACK TO SAVEPOINT")


@contextlib.contextmanager
def counting_statements() -> Iterator[list[str]]:
    """The SQL statements the code inside sends, in order."""
    seen: list[str] = []
    assert db.engine is not None

    def count(_conn: Any, _cursor: Any, statement: str, *_args: Any) -> None:
        if not statement.lstrip().upper().startswith(_HARNESS):
            seen.append(statement)

    event.listen(db.engine, "before_cursor_execute", count)
    try:
        yield seen
    finally:
        event.remove(db.engine, "before_cursor_execute", count)


def statements_of(client: Any, url: str, headers: dict[str, str]) -> int:
    db.session.remove()  # the request starts with an empty session, as in production (the test shares its thread)
    with counting_statements() as seen:
        response = client.get(url, headers=headers)
    assert response.status_code == 200, response.get_json()
    if os.environ.get("LINLI_SHOW_SQL"):
        print(f"\n== {url}: {len(seen)}", *(" ".join(s.split())[:400] for s in seen), sep="\n  ")
    return len(seen)


# ----------------------------------------------------------------------------------------------------
# Rows, as many as a test asks for
# ----------------------------------------------------------------------------------------------------


def add_events(world: Any, n: int, *, area: str = "KJ01") -> list[Event]:
    """`n` published events, each with its cover photo."""
    now = utcnow()
    covers = [
        Media(
            owner_id=world.users["kj01"].id,
            status=MediaStatus.READY,
            content_type="image/jpeg",
            object_key=f"photos/00/cover-{uuid.uuid4()}.jpg",
        )
        for _ in range(n)
    ]
    db.session.add_all(covers)
    db.session.flush()
    events = [
        Event(
            title=f"活动{i}",
            category=EventCategory.SPORTS,
            venue="睦邻中心",
            area_id=world.areas[area].id,
            starts_at=now + timedelta(days=3, minutes=i),
            ends_at=now + timedelta(days=3, hours=2),
            booking_opens_at=now - timedelta(hours=1),
            booking_closes_at=now + timedelta(days=2),
            capacity=10,
            waitlist_limit=5,
            status=EventStatus.PUBLISHED,
            published_at=now,
            created_by_id=world.users["kj01"].id,
            cover_media_id=covers[i].id,
        )
        for i in range(n)
    ]
    db.session.add_all(events)
    db.session.flush()
    for cover, ev in zip(covers, events, strict=True):
        cover.record_type, cover.record_id, cover.attached_at = "event", ev.id, now
    db.session.flush()
    return events


def add_bookings(world: Any, user_id: uuid.UUID, n: int) -> list[Booking]:
    """`n` bookings of the user, on events of their own; every other one on a waitlist."""
    now = utcnow()
    bookings = []
    for i, ev in enumerate(add_events(world, n)):
        waitlisted = i % 2 == 1
        bookings.append(
            Booking(
                event_id=ev.id,
                user_id=user_id,
                status=BookingStatus.WAITLISTED if waitlisted else BookingStatus.CONFIRMED,
                waitlist_seq=1 if waitlisted else None,
                created_at=now,
                confirmed_at=None if waitlisted else now,
            )
        )
    db.session.add_all(bookings)
    db.session.flush()
    return bookings


def add_incidents(world: Any, n: int, reporter_id: uuid.UUID | None = None) -> list[Incident]:
    ensure_default_catalogue()
    category = get_category_by_code("env.dumping")
    now = utcnow()
    cases = [
        Incident(
            category_id=category.id,
            description=f"垃圾{i}",
            address="控江路1号",
            area_id=world.areas["KJ01-01"].id,
            reporter_id=reporter_id,
            status=IncidentStatus.SUBMITTED,
            created_at=now,
            updated_at=now,
        )
        for i in range(n)
    ]
    db.session.add_all(cases)
    db.session.flush()
    return cases


def add_alerts(world: Any, n: int) -> list[Alert]:
    room = world.room("KJ01/101")
    elder = add_elder(room)
    now = utcnow()
    alerts = []
    for _ in range(n):
        device = add_device(f"SMK-{uuid.uuid4().hex[:8]}", DeviceType.SMOKE_DETECTOR, room, elder)
        alerts.append(
            Alert(
                device_id=device.id,
                elder_id=elder.id,
                room_id=room.id,
                area_path=world.areas["KJ01-01-001"].path,
                rule=AlertRule.SMOKE,
                severity=Severity.CRITICAL,
                status=AlertStatus.OPEN,
                first_at=now,
                last_at=now,
            )
        )
    db.session.add_all(alerts)
    db.session.flush()
    return alerts


def add_messages(world: Any, user_id: uuid.UUID, n: int) -> None:
    """`n` messages to the user about KJ01, each with its delivery attempt."""
    now = utcnow()
    for i in range(n):
        message = Notification(
            user_id=user_id,
            kind="booking_confirmed",
            urgency=Urgency.NORMAL,
            title=f"通知{i}",
            body="正文",
            subject_path=world.areas["KJ01-01"].path,
            status=DeliveryStatus.SENT,
            next_attempt_at=now,
            created_at=now,
        )
        message.attempts.append(DeliveryAttempt(channel=Channel.SANDBOX, outcome=AttemptOutcome.SENT, attempted_at=now))
        db.session.add(message)
    db.session.flush()


def bind_households(world: Any, user_id: uuid.UUID, rooms: list[str]) -> None:
    for key in rooms:
        db.session.add(HouseholdMember(user_id=user_id, room_id=world.room(key).id, relation=HouseholdRelation.OWNER))
    db.session.flush()


# ----------------------------------------------------------------------------------------------------
# Lists: one item or a page of 25, the same statements
# ----------------------------------------------------------------------------------------------------


def _grow(kind: str, world: Any, people: dict[str, Any], n: int) -> str:
    """Add `n` items a list shows; answer its URL."""
    resident_id = uuid.UUID(people["resident"]["user"]["id"])
    if kind == "events":
        add_events(world, n)
        return "/api/v1/events?limit=25"
    if kind == "admin-events":
        add_events(world, n)
        return "/api/v1/admin/events?limit=25"
    if kind == "areas":
        for i in range(n):
            _add_area(world, AreaKind.ESTATE, f"KJ01-X{len(world.areas)}-{i}", f"小区{i}", "KJ01")
        db.session.flush()
        return f"/api/v1/areas?parent_id={world.areas['KJ01'].id}&limit=25"
    if kind == "my-bookings":
        add_bookings(world, resident_id, n)
        return "/api/v1/me/bookings?limit=25"
    if kind == "admin-incidents":
        add_incidents(world, n, reporter_id=resident_id)
        return "/api/v1/admin/incidents?limit=25"
    if kind == "my-incidents":
        add_incidents(world, n, reporter_id=resident_id)
        return "/api/v1/me/incidents?limit=25"
    if kind == "admin-alerts":
        add_alerts(world, n)
        return "/api/v1/admin/alerts?limit=25"
    if kind == "admin-outbox":
        add_messages(world, resident_id, n)
        return "/api/v1/admin/notifications?limit=25"
    if kind == "admin-household-requests":
        for i in range(n):
            applicant = User(nickname=f"申请人{i}", wechat_openid=f"o-applicant-{uuid.uuid4().hex}")
            db.session.add(applicant)
            db.session.flush()
            db.session.add(
                HouseholdRequest(
                    user_id=applicant.id, room_id=world.room("KJ01/101").id, relation=HouseholdRelation.TENANT
                )
            )
        db.session.flush()
        return "/api/v1/admin/household-requests?limit=25"
    raise AssertionError(kind)


LISTS = {
    "events": "resident",
    "admin-events": "kj01_staff",
    "areas": "resident",
    "my-bookings": "resident",
    "my-incidents": "resident",
    "admin-incidents": "kj01_staff",
    "admin-alerts": "kj01_staff",
    "admin-outbox": "kj01_staff",
    "admin-household-requests": "kj01_staff",
}


@pytest.mark.smoke
@pytest.mark.parametrize("kind", sorted(LISTS))
def test_a_page_of_25_costs_the_statements_a_page_of_one_does(kind, client, world, resident, kj01_staff):
    people = {"resident": resident, "kj01_staff": kj01_staff}
    headers = people[LISTS[kind]]["headers"]
    url = _grow(kind, world, people, 1)
    db.session.commit()
    one = statements_of(client, url, headers)
    _grow(kind, world, people, 24)
    db.session.commit()
    page = client.get(url, headers=headers).get_json()
    assert len(page["items"]) >= 25 if kind != "areas" else len(page["items"]) >= 20
    twenty_five = statements_of(client, url, headers)
    assert twenty_five == one, f"{kind}: {one} statements for one item, {twenty_five} for 25"
    # The account, the page, at most the rows it names (applicants' roles, the places' ancestors) and, for staff
    # reading people's details, the access log's insert.
    assert one <= 5, f"{kind}: {one} statements"


# ----------------------------------------------------------------------------------------------------
# Single objects
# ----------------------------------------------------------------------------------------------------


@pytest.mark.smoke
def test_me_with_three_homes_costs_what_me_with_one_does(client, world, resident):
    resident_id = uuid.UUID(resident["user"]["id"])
    bind_households(world, resident_id, ["KJ01/101"])
    db.session.commit()
    one = statements_of(client, "/api/v1/me", resident["headers"])
    bind_households(world, resident_id, ["KJ01/102", "KJ02/201"])
    db.session.commit()
    body = client.get("/api/v1/me", headers=resident["headers"]).get_json()
    assert len(body["households"]) == 3
    three = statements_of(client, "/api/v1/me", resident["headers"])
    assert three == one <= 2, (one, three)


@pytest.mark.smoke
def test_single_object_reads_load_what_they_return_in_two_statements(client, world, resident, kj01_staff):
    resident_id = uuid.UUID(resident["user"]["id"])
    (booking,) = add_bookings(world, resident_id, 1)
    (case,) = add_incidents(world, 1, reporter_id=resident_id)
    (alert,) = add_alerts(world, 1)
    db.session.commit()
    # The account and the object; a case adds its place's ancestors, its photos (report and result: one statement)
    # and its timeline (and for staff the reporter and the access log); an alert its place's ancestors, its elder
    # and its timeline.
    reads = {
        f"/api/v1/events/{booking.event_id}": (resident, 2),
        f"/api/v1/bookings/{booking.id}": (resident, 2),
        f"/api/v1/incidents/{case.id}": (resident, 5),
        f"/api/v1/admin/incidents/{case.id}": (kj01_staff, 8),
        f"/api/v1/admin/alerts/{alert.id}": (kj01_staff, 5),
    }
    counts = {url: statements_of(client, url, who["headers"]) for url, (who, _) in reads.items()}
    assert counts == {url: most for url, (_, most) in reads.items()}, counts


# ----------------------------------------------------------------------------------------------------
# Sessions
# ----------------------------------------------------------------------------------------------------


def test_a_logged_out_token_is_refused_at_once_by_every_web_node(app, base_settings, world, resident):
    """No node keeps a cache of sessions: whether a token's session was ended is read with the account, in the
    same statement, on every request — so a logout on one node stops the token on another at once."""
    from api import create_app

    other_node = create_app(base_settings).test_client()
    this_node = app.test_client()
    assert other_node.get("/api/v1/me", headers=resident["headers"]).status_code == 200
    out = this_node.post("/api/v1/auth/logout", json={"refresh_token": resident["refresh_token"]})
    assert out.status_code == 204, out.get_json()
    refused = other_node.get("/api/v1/me", headers=resident["headers"])
    assert refused.status_code == 401 and refused.get_json()["code"] == "session_ended"


# ----------------------------------------------------------------------------------------------------
# Statistics: the same figures, from one statement on PostgreSQL
# ----------------------------------------------------------------------------------------------------


def _cases_over_a_month(world: Any) -> None:
    """Cases in KJ01 and KJ02 and one not placed yet: closed, resolved late, rejected, open, rated."""
    ensure_default_catalogue()
    dumping, noise = get_category_by_code("env.dumping"), get_category_by_code("nuisance.noise")
    now = utcnow()
    for i in range(40):
        created = now - timedelta(days=i % 28, hours=i)
        status = (IncidentStatus.CLOSED, IncidentStatus.RESOLVED, IncidentStatus.REJECTED, IncidentStatus.ACCEPTED)[
            i % 4
        ]
        handled = status in (IncidentStatus.CLOSED, IncidentStatus.RESOLVED)
        db.session.add(
            Incident(
                category_id=(dumping if i % 3 else noise).id,
                description="x",
                address="a",
                area_id=None if i % 10 == 9 else world.areas["KJ01-01" if i % 2 else "KJ02-01"].id,
                status=status,
                created_at=created,
                updated_at=created,
                accepted_at=created,
                due_at=created + timedelta(hours=24),
                resolved_at=created + timedelta(hours=1 + i) if handled else None,
                feedback_score=1 + i % 5 if status == IncidentStatus.CLOSED else None,
            )
        )
    db.session.commit()


@pytest.mark.parametrize("group_by", ["committee", "category"])
def test_incident_statistics_and_their_total_are_the_figures_counted_group_by_group(
    group_by, client, world, admin, kj01_staff
):
    from api.incidents import services

    _cases_over_a_month(world)
    now = utcnow()
    for who in (admin, kj01_staff):
        query = {"from": (now - timedelta(days=30)).isoformat(), "to": now.isoformat(), "group_by": group_by}
        db.session.remove()
        with counting_statements() as seen:
            body = client.get("/api/v1/admin/incidents/stats", query_string=query, headers=who["headers"]).get_json()
        staff = db.session.get(User, uuid.UUID(who["user"]["id"]))
        # The slow way, group by group: what the statistics always said.
        expected_rows = services.statistics(staff, start=now - timedelta(days=30), end=now, group_by=group_by, now=now)
        (expected_total,) = services.statistics(
            staff, start=now - timedelta(days=30), end=now, group_by="total", now=now
        )
        assert body["rows"] == expected_rows
        assert body["total"] == expected_total
        assert body["total"]["received"] == sum(r["received"] for r in body["rows"]) > 0
        if db.dialect == "postgresql":
            assert len(seen) == 2, seen  # the account, then the statistics
    committees = {r["key"] for r in body["rows"]}
    assert "KJ02" not in committees  # kj01's own area only


def test_incident_statistics_of_an_empty_period_are_zero(client, world, admin):
    now = utcnow()
    query = {"from": (now - timedelta(days=3)).isoformat(), "to": now.isoformat()}
    body = client.get("/api/v1/admin/incidents/stats", query_string=query, headers=admin["headers"]).get_json()
    assert body["rows"] == []
    assert body["total"]["received"] == 0 and body["total"]["closure_rate"] is None


def test_alert_statistics_count_types_severities_acknowledgements_and_false_alarms(client, world, admin):
    alerts = add_alerts(world, 6)
    now = utcnow()
    for i, alert in enumerate(alerts):
        alert.first_at = now - timedelta(hours=i + 1)
        if i < 4:
            alert.acknowledged_at = alert.first_at + timedelta(seconds=60 * (i + 1))
        if i < 3:
            alert.status = AlertStatus.RESOLVED
            alert.resolved_at = now
            alert.resolution = "false_alarm" if i == 0 else "handled"
    alerts[5].severity = Severity.WARNING
    db.session.commit()
    db.session.remove()
    with counting_statements() as seen:
        body = client.get("/api/v1/admin/alerts/stats", headers=admin["headers"]).get_json()
    assert body["total"] == 6 and body["by_type"] == {"smoke": 6}
    assert body["by_severity"] == {"critical": 5, "warning": 1}
    assert body["acknowledged"] == 4
    assert body["ack_seconds_p50"] == 150.0 and body["ack_seconds_p90"] == pytest.approx(222.0)
    assert body["resolved"] == 3 and body["false_alarms"] == 1 and body["false_alarm_rate"] == 0.3333
    if db.dialect == "postgresql":
        assert len(seen) == 2, seen
