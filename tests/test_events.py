"""Residents book community events; staff run them. Seats are never oversold, the waitlist moves on
its own, a ticket admits once."""

from __future__ import annotations

import csv
import io
import uuid
from datetime import timedelta

import pytest
from sqlalchemy import func, select

from api.accounts.models import HouseholdMember, HouseholdRelation, User
from api.db import db, utcnow
from api.events import services
from api.events.models import Booking, BookingStatus, Event, EventStatus
from api.notifications.models import Notification
from tests.conftest import bearer, wechat_login
from tests.test_read_path import counting_statements


def iso(moment):
    return moment.isoformat()


def event_payload(**overrides):
    now = utcnow()
    body = {
        "title": "太极拳入门",
        "category": "sports",
        "venue": "控江一村睦邻中心",
        "starts_at": iso(now + timedelta(days=3)),
        "ends_at": iso(now + timedelta(days=3, hours=2)),
        "booking_opens_at": iso(now - timedelta(hours=1)),
        "booking_closes_at": iso(now + timedelta(days=2)),
        "capacity": 2,
        "waitlist_limit": 2,
    }
    body.update(overrides)
    return body


@pytest.fixture
def published(client, kj01_staff):
    def make(**overrides):
        created = client.post("/api/v1/admin/events", json=event_payload(**overrides), headers=kj01_staff["headers"])
        assert created.status_code == 201, created.get_json()
        event_id = created.get_json()["id"]
        published = client.post(f"/api/v1/admin/events/{event_id}/publish", headers=kj01_staff["headers"])
        assert published.get_json()["status"] == "published"
        return event_id

    return make


def residents(client, n):
    people = []
    for i in range(n):
        tokens = wechat_login(client, f"booker{i}#{uuid.uuid4().hex[:6]}")
        people.append({**tokens, "headers": bearer(tokens["access_token"])})
    return people


def book(client, person, event_id, **body):
    return client.post(f"/api/v1/events/{event_id}/bookings", json=body, headers=person["headers"])


def seats(event_id):
    db.session.expire_all()
    event = db.session.get(Event, uuid.UUID(event_id))
    return event.seats_taken, event.waitlist_count


@pytest.mark.smoke
def test_seats_then_waitlist_then_full(client, world, published):
    event_id = published()
    a, b, c, d, e = residents(client, 5)

    first, second = book(client, a, event_id), book(client, b, event_id)
    assert (first.status_code, first.get_json()["status"]) == (201, "confirmed")
    assert second.get_json()["status"] == "confirmed"
    assert first.get_json()["ticket"].startswith("LT1.")
    third, fourth = book(client, c, event_id), book(client, d, event_id)
    assert (third.get_json()["status"], third.get_json()["position"]) == ("waitlisted", 1)
    assert fourth.get_json()["position"] == 2 and fourth.get_json()["ticket"] is None
    full = book(client, e, event_id)
    assert full.status_code == 409 and full.get_json()["code"] == "event_full"
    assert seats(event_id) == (2, 2)
    detail = client.get(f"/api/v1/events/{event_id}", headers=a["headers"]).get_json()
    assert detail["seats_left"] == 0 and detail["waitlist_count"] == 2


def test_booking_twice_returns_the_first_booking(client, world, published):
    event_id = published()
    [a] = residents(client, 1)
    first = book(client, a, event_id)
    again = book(client, a, event_id)

    assert again.status_code == 200
    assert again.get_json()["id"] == first.get_json()["id"]
    assert seats(event_id) == (1, 0)


def test_a_booking_is_a_fixed_handful_of_statements_for_a_seat_or_a_place_on_the_waitlist(client, world, published):
    """A rush is served one booking at a time and every statement costs CPU the next resident waits for."""
    event_id = published(capacity=1)
    statements, positions = [], []
    for resident in residents(client, 3):
        db.session.remove()  # the request starts with an empty session, as in production
        with counting_statements() as seen:
            answer = book(client, resident, event_id)
        assert answer.status_code == 201, answer.get_json()
        statements.append(len(seen))
        positions.append((answer.get_json()["status"], answer.get_json()["position"]))

    # The account; the event with the resident's no-shows; then under the event's lock: the lock, the look for a
    # booking already held, the booking and the seat count. A waitlisted resident's place in line is what the
    # counter said under the lock, not counted again for the answer.
    assert statements == [6, 6, 6]
    assert positions == [("confirmed", None), ("waitlisted", 1), ("waitlisted", 2)]


@pytest.mark.smoke
def test_a_cancellation_promotes_the_first_waitlisted_and_tells_them(client, world, published):
    event_id = published()
    a, b, c, d = residents(client, 4)
    booking_a = book(client, a, event_id).get_json()
    book(client, b, event_id)
    waiting_c = book(client, c, event_id).get_json()
    waiting_d = book(client, d, event_id).get_json()

    cancelled = client.post(f"/api/v1/bookings/{booking_a['id']}/cancel", headers=a["headers"])
    assert cancelled.get_json()["status"] == "cancelled"

    promoted = client.get(f"/api/v1/bookings/{waiting_c['id']}", headers=c["headers"]).get_json()
    assert promoted["status"] == "confirmed" and promoted["ticket"]
    still = client.get(f"/api/v1/bookings/{waiting_d['id']}", headers=d["headers"]).get_json()
    assert (still["status"], still["position"]) == ("waitlisted", 1)
    assert seats(event_id) == (2, 1)
    titles = [m["title"] for m in client.get("/api/v1/me/messages", headers=c["headers"]).get_json()["items"]]
    assert titles == ["候补成功：太极拳入门"]


def test_raising_capacity_promotes_from_the_waitlist(client, world, published, kj01_staff):
    event_id = published(capacity=1)
    a, b, c = residents(client, 3)
    book(client, a, event_id)
    book(client, b, event_id)
    book(client, c, event_id)

    patched = client.patch(f"/api/v1/admin/events/{event_id}", json={"capacity": 3}, headers=kj01_staff["headers"])
    assert patched.status_code == 200
    assert seats(event_id) == (3, 0)


def test_capacity_cannot_drop_below_the_seats_taken(client, world, published, kj01_staff):
    event_id = published()
    a, b = residents(client, 2)
    book(client, a, event_id)
    book(client, b, event_id)

    response = client.patch(f"/api/v1/admin/events/{event_id}", json={"capacity": 1}, headers=kj01_staff["headers"])
    assert response.status_code == 409 and response.get_json()["code"] == "capacity_below_bookings"
    assert seats(event_id) == (2, 0)


def test_companions_take_seats_and_are_capped(client, world, published):
    event_id = published(capacity=3, max_companions=1)
    a, b = residents(client, 2)

    too_many = book(client, a, event_id, party_size=3)
    assert too_many.status_code == 422 and too_many.get_json()["code"] == "party_too_large"
    assert book(client, a, event_id, party_size=2).get_json()["status"] == "confirmed"
    assert book(client, b, event_id, party_size=2).get_json()["status"] == "waitlisted"  # one seat left, two needed
    assert seats(event_id) == (2, 1)


@pytest.mark.parametrize(
    ("overrides", "code"),
    [
        ({"booking_opens_at": iso(utcnow() + timedelta(hours=1))}, "booking_not_open"),
        (
            {
                "booking_opens_at": iso(utcnow() - timedelta(days=2)),
                "booking_closes_at": iso(utcnow() - timedelta(hours=1)),
            },
            "booking_closed",
        ),
    ],
)
def test_booking_outside_the_window_is_refused(client, world, published, overrides, code):
    event_id = published(**overrides)
    [a] = residents(client, 1)
    response = book(client, a, event_id)
    assert response.status_code == 409 and response.get_json()["code"] == code
    assert seats(event_id) == (0, 0)


def test_a_draft_is_invisible_and_unbookable(client, world, kj01_staff):
    event_id = client.post("/api/v1/admin/events", json=event_payload(), headers=kj01_staff["headers"]).get_json()["id"]
    [a] = residents(client, 1)
    assert client.get(f"/api/v1/events/{event_id}", headers=a["headers"]).status_code == 404
    assert book(client, a, event_id).status_code == 404
    assert book(client, a, str(uuid.uuid4())).status_code == 404


def test_a_past_event_cannot_be_booked(client, world, published):
    event_id = published()
    db.session.execute(
        Event.__table__.update().values(starts_at=utcnow() - timedelta(hours=1), ends_at=utcnow() + timedelta(hours=1))
    )
    db.session.commit()
    [a] = residents(client, 1)
    assert book(client, a, event_id).get_json()["code"] == "event_past"


def test_cancelling_an_event_releases_every_seat_and_tells_everyone(client, world, published, kj01_staff, kj02_staff):
    event_id = published()
    a, b, c = residents(client, 3)
    for person in (a, b, c):
        book(client, person, event_id)

    response = client.post(
        f"/api/v1/admin/events/{event_id}/cancel", json={"reason": "场地维修"}, headers=kj01_staff["headers"]
    )
    assert response.get_json()["status"] == "cancelled"
    assert seats(event_id) == (0, 0)
    for person in (a, b, c):
        message = client.get("/api/v1/me/messages", headers=person["headers"]).get_json()["items"][0]
        assert message["title"] == "活动取消：太极拳入门" and "场地维修" in message["body"]
    [d] = residents(client, 1)
    assert book(client, d, event_id).get_json()["code"] == "event_cancelled"
    # The committee whose event it was sees that everyone was told, wherever they live; another does not.
    for staff, expected in ((kj01_staff, ["event_cancelled"] * 3), (kj02_staff, [])):
        outbox = client.get("/api/v1/admin/notifications", headers=staff["headers"]).get_json()["items"]
        assert [m["kind"] for m in outbox] == expected


def test_cancel_after_the_cut_off_is_refused(client, world, published):
    event_id = published(cancel_cutoff_minutes=7 * 24 * 60)
    [a] = residents(client, 1)
    booking = book(client, a, event_id).get_json()

    response = client.post(f"/api/v1/bookings/{booking['id']}/cancel", headers=a["headers"])
    assert response.status_code == 409 and response.get_json()["code"] == "cancel_too_late"
    assert seats(event_id) == (1, 0)


def test_nobody_else_can_cancel_my_booking(client, world, published):
    event_id = published()
    a, b = residents(client, 2)
    booking = book(client, a, event_id).get_json()
    assert client.post(f"/api/v1/bookings/{booking['id']}/cancel", headers=b["headers"]).status_code == 404
    assert seats(event_id) == (1, 0)


def test_a_ticket_admits_once_and_only_at_its_event(client, world, published, kj01_staff):
    event_id, other_id = published(), published(title="健康讲座")
    [a] = residents(client, 1)
    ticket = book(client, a, event_id).get_json()["ticket"]
    url = f"/api/v1/admin/events/{event_id}/check-ins"

    admitted = client.post(url, json={"ticket": ticket}, headers=kj01_staff["headers"])
    assert admitted.status_code == 200 and admitted.get_json()["checked_in_at"]
    again = client.post(url, json={"ticket": ticket}, headers=kj01_staff["headers"])
    assert again.status_code == 409 and again.get_json()["code"] == "ticket_used"
    elsewhere = client.post(
        f"/api/v1/admin/events/{other_id}/check-ins", json={"ticket": ticket}, headers=kj01_staff["headers"]
    )
    assert elsewhere.get_json()["code"] == "ticket_other_event"
    forged = ticket[:-2] + ("AA" if not ticket.endswith("AA") else "BB")
    refused = client.post(url, json={"ticket": forged}, headers=kj01_staff["headers"])
    assert refused.status_code == 422 and refused.get_json()["code"] == "ticket_invalid"
    assert (
        client.post(url, json={"ticket": "hello"}, headers=kj01_staff["headers"]).get_json()["code"] == "ticket_invalid"
    )


def test_a_cancelled_bookings_ticket_is_refused(client, world, published, kj01_staff):
    event_id = published()
    [a] = residents(client, 1)
    booking = book(client, a, event_id).get_json()
    client.post(f"/api/v1/bookings/{booking['id']}/cancel", headers=a["headers"])

    response = client.post(
        f"/api/v1/admin/events/{event_id}/check-ins", json={"ticket": booking["ticket"]}, headers=kj01_staff["headers"]
    )
    assert response.status_code == 409 and response.get_json()["code"] == "ticket_not_confirmed"


def test_staff_of_another_committee_cannot_run_this_event(client, world, published, kj02_staff, resident):
    event_id = published()
    for method, path in [
        ("patch", f"/api/v1/admin/events/{event_id}"),
        ("post", f"/api/v1/admin/events/{event_id}/publish"),
        ("get", f"/api/v1/admin/events/{event_id}/figures"),
    ]:
        response = getattr(client, method)(path, json={} if method != "get" else None, headers=kj02_staff["headers"])
        assert response.status_code == 404, path
    assert client.get(f"/api/v1/admin/events/{event_id}", headers=resident["headers"]).status_code == 403


def test_eligibility_rules_are_enforced_with_reasons(client, world, published):
    event_id = published(eligibility={"area_ids": [str(world.areas["KJ01"].id)], "min_age": 60})
    [a] = residents(client, 1)
    refused = book(client, a, event_id)
    assert refused.status_code == 403 and refused.get_json()["code"] == "not_eligible"
    assert set(refused.get_json()["errors"]["eligibility"]) == {"residents_only", "min_age"}

    user = db.session.get(User, uuid.UUID(a["user"]["id"]))
    user.birth_year = utcnow().year - 70
    db.session.add(
        HouseholdMember(user_id=user.id, room_id=world.room("KJ01/101").id, relation=HouseholdRelation.OWNER)
    )
    db.session.commit()
    assert book(client, a, event_id).get_json()["status"] == "confirmed"


def test_repeated_no_shows_suspend_booking_and_say_until_when(client, world, published, settings):
    [a] = residents(client, 1)
    user_id = uuid.UUID(a["user"]["id"])
    staff_id = world.users["kj01"].id
    now = utcnow()
    for i in range(settings.no_show_limit):
        past = Event(
            title=f"往期活动{i}",
            category="sports",
            venue="x",
            area_id=world.areas["KJ01"].id,
            starts_at=now - timedelta(days=10 + i, hours=2),
            ends_at=now - timedelta(days=10 + i),
            booking_opens_at=now - timedelta(days=20),
            booking_closes_at=now - timedelta(days=12 + i),
            capacity=10,
            seats_taken=1,
            status=EventStatus.PUBLISHED,
            created_by_id=staff_id,
        )
        db.session.add(past)
        db.session.flush()
        db.session.add(Booking(event_id=past.id, user_id=user_id, status=BookingStatus.CONFIRMED, created_at=now))
    db.session.commit()

    response = book(client, a, published())
    assert response.status_code == 403 and response.get_json()["code"] == "booking_suspended"
    assert "月" in response.get_json()["message"]


@pytest.mark.smoke
def test_figures_attendance_and_csv(client, world, published, kj01_staff):
    event_id = published()
    a, b, c = residents(client, 3)
    ticket = book(client, a, event_id).get_json()["ticket"]
    book(client, b, event_id)
    book(client, c, event_id)
    client.post(f"/api/v1/admin/events/{event_id}/check-ins", json={"ticket": ticket}, headers=kj01_staff["headers"])

    figures = client.get(f"/api/v1/admin/events/{event_id}/figures", headers=kj01_staff["headers"]).get_json()
    assert (figures["confirmed_seats"], figures["waitlisted"], figures["checked_in"]) == (2, 1, 1)
    assert figures["no_shows"] is None  # not over yet
    assert figures["viewers"] == {"live": 0, "replay": 0}
    attendance = client.get(f"/api/v1/admin/events/{event_id}/attendance", headers=kj01_staff["headers"]).get_json()
    assert [row["status"] for row in attendance["items"]] == ["confirmed", "confirmed", "waitlisted"]
    exported = client.get(f"/api/v1/admin/events/{event_id}/attendance.csv", headers=kj01_staff["headers"])
    assert exported.mimetype == "text/csv"
    rows = list(csv.reader(io.StringIO(exported.get_data(as_text=True).lstrip("\ufeff"))))
    assert rows[0][0] == "预约编号" and len(rows) == 4
    assert [r[3] for r in rows[1:]] == ["已确认", "已确认", "候补"]


def test_the_popularity_estimate_explains_itself(client, world, published, kj01_staff):
    now = utcnow()
    staff_id = world.users["kj01"].id
    for i, (seats_taken, came) in enumerate([(20, 18), (20, 15), (10, 10)]):
        start = (now - timedelta(days=7 * (i + 1))).replace(hour=1, minute=0)  # 09:00 in Shanghai
        past = Event(
            title=f"太极拳第{i}期",
            category="sports",
            venue="x",
            area_id=world.areas["KJ01"].id,
            starts_at=start,
            ends_at=start + timedelta(hours=2),
            booking_opens_at=start - timedelta(days=5),
            booking_closes_at=start - timedelta(days=1),
            capacity=20,
            seats_taken=seats_taken,
            status=EventStatus.PUBLISHED,
            created_by_id=staff_id,
        )
        db.session.add(past)
        db.session.flush()
        for j in range(seats_taken):
            user = User(nickname=f"u{i}-{j}")
            db.session.add(user)
            db.session.flush()
            db.session.add(
                Booking(
                    event_id=past.id,
                    user_id=user.id,
                    status=BookingStatus.CONFIRMED,
                    created_at=start - timedelta(days=3),
                    checked_in_at=start if j < came else None,
                )
            )
    db.session.commit()
    start = (now + timedelta(days=3)).replace(hour=1, minute=0)
    event_id = published(
        starts_at=iso(start), ends_at=iso(start + timedelta(hours=2)), booking_closes_at=iso(start - timedelta(hours=1))
    )

    estimate = client.get(f"/api/v1/admin/events/{event_id}/estimate", headers=kj01_staff["headers"]).get_json()
    assert estimate["sample_size"] == 3 and estimate["based_on"] == "category+time_slot+audience"
    assert estimate["time_slot"] == "morning"
    assert estimate["expected_fill_rate"] == pytest.approx((1 + 1 + 0.5) / 3, abs=0.001)
    assert estimate["expected_no_show_rate"] == pytest.approx((0.1 + 0.25 + 0) / 3, abs=0.001)
    assert len(estimate["sample"]) == 3 and "3 场" in estimate["explanation"]


def test_reminders_go_out_once_a_day_and_an_hour_before(app, client, world, published):
    event_id = published()
    [a] = residents(client, 1)
    book(client, a, event_id)
    event = db.session.get(Event, uuid.UUID(event_id))
    with app.app_context():
        assert services.send_reminders(now=event.starts_at - timedelta(hours=30)) == 0
        assert services.send_reminders(now=event.starts_at - timedelta(hours=23)) == 1
        assert services.send_reminders(now=event.starts_at - timedelta(hours=22)) == 0
        assert services.send_reminders(now=event.starts_at - timedelta(minutes=50)) == 1
        assert services.send_reminders(now=event.starts_at - timedelta(minutes=40)) == 0
        db.session.commit()
    kinds = db.session.scalars(select(Notification.kind)).all()
    assert kinds.count("event_reminder") == 2


def test_listing_filters(client, world, published):
    sports = published()
    published(title="党课", category="party")
    [a] = residents(client, 1)
    listed = client.get("/api/v1/events?category=sports", headers=a["headers"]).get_json()["items"]
    assert [e["id"] for e in listed] == [sports]
    bookable = client.get("/api/v1/events?bookable_now=true", headers=a["headers"]).get_json()["items"]
    assert len(bookable) == 2
    by_committee = client.get(f"/api/v1/events?area_id={world.areas['KJ02'].id}", headers=a["headers"]).get_json()[
        "items"
    ]
    assert by_committee == []


@pytest.mark.smoke
def test_booking_honours_the_idempotency_key(client, world, published):
    event_id = published()
    [a] = residents(client, 1)
    headers = {**a["headers"], "Idempotency-Key": "tap-1"}
    first = client.post(f"/api/v1/events/{event_id}/bookings", json={}, headers=headers)
    retry = client.post(f"/api/v1/events/{event_id}/bookings", json={}, headers=headers)
    assert retry.headers["Idempotent-Replayed"] == "true" and retry.get_json() == first.get_json()
    assert db.session.scalar(select(func.count()).select_from(Booking)) == 1


def test_a_booking_whose_answer_was_lost_is_found_by_the_retry_with_its_key(client, world, published, monkeypatch):
    """The booking commits before its answer is stored (the event's lock goes at once); a request that dies in
    between leaves the key without an answer. The phone's retry gets the booking, not a key 'in use'."""
    from api import idempotency

    monkeypatch.setattr(idempotency, "ANSWER_WAIT_SECONDS", 0.1)
    event_id = published()
    [a] = residents(client, 1)
    headers = {**a["headers"], "Idempotency-Key": "tap-lost"}
    first = client.post(f"/api/v1/events/{event_id}/bookings", json={}, headers=headers)
    assert first.status_code == 201
    key = db.session.scalar(select(idempotency.IdempotencyKey).where(idempotency.IdempotencyKey.key == "tap-lost"))
    key.status_code, key.response_body = None, None  # as if the request died after the booking's commit
    db.session.commit()

    retry = client.post(f"/api/v1/events/{event_id}/bookings", json={}, headers=headers)
    assert retry.status_code == 200 and retry.get_json()["id"] == first.get_json()["id"]
    again = client.post(f"/api/v1/events/{event_id}/bookings", json={}, headers=headers)
    assert again.headers["Idempotent-Replayed"] == "true" and again.get_json()["id"] == first.get_json()["id"]
    assert db.session.scalar(select(func.count()).select_from(Booking)) == 1
