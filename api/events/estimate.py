"""热门程度预估: how full an event will be, and how many booked people will not come, judged from
past events like it — the same category, time of day and audience, widening to fewer likenesses when
there are too few. Averages of what happened, with the events they come from: a street worker can
check every number, which matters more than a cleverer model.
"""

from __future__ import annotations

from typing import Any

from marshmallow import Schema, fields
from sqlalchemy import func, select

from api.db import db, utcnow
from api.events.models import Booking, BookingStatus, Event, EventStatus
from api.fields import LOCAL_TZ, DateTime, Text

MIN_SAMPLE = 3
MAX_SAMPLE = 30


def time_slot(event: Event) -> str:
    hour = event.starts_at.astimezone(LOCAL_TZ).hour
    return "morning" if hour < 12 else "afternoon" if hour < 18 else "evening"


def audience(event: Event) -> str:
    rules = event.eligibility or {}
    if rules.get("party_members_only"):
        return "party_members"
    if (rules.get("min_age") or 0) >= 60:
        return "seniors"
    if rules.get("area_ids"):
        return "local_residents"
    return "everyone"


def _past_events(event: Event) -> list[dict[str, Any]]:
    confirmed = Booking.status == BookingStatus.CONFIRMED
    figures = (
        select(
            Booking.event_id,
            func.coalesce(func.sum(Booking.party_size).filter(confirmed), 0).label("seats"),
            func.count().filter(confirmed).label("bookings"),
            func.count().filter(confirmed, Booking.checked_in_at.is_not(None)).label("checked_in"),
            func.count().filter(Booking.status == BookingStatus.WAITLISTED).label("waitlisted"),
        )
        .group_by(Booking.event_id)
        .subquery()
    )
    rows = db.session.execute(
        select(Event, figures.c.seats, figures.c.bookings, figures.c.checked_in, figures.c.waitlisted)
        .outerjoin(figures, figures.c.event_id == Event.id)
        .where(
            Event.category == event.category,
            Event.status == EventStatus.PUBLISHED,
            Event.ends_at < utcnow(),
            Event.id != event.id,
        )
        .order_by(Event.starts_at.desc())
        .limit(200)
    ).all()
    return [
        {
            "event": past,
            "seats": seats or 0,
            "bookings": bookings or 0,
            "checked_in": checked_in or 0,
            "waitlisted": waitlisted or 0,
        }
        for past, seats, bookings, checked_in, waitlisted in rows
    ]


def estimate(event: Event) -> dict[str, Any]:
    past = _past_events(event)
    slot, crowd = time_slot(event), audience(event)
    levels = [
        (
            "category+time_slot+audience",
            [p for p in past if time_slot(p["event"]) == slot and audience(p["event"]) == crowd],
        ),
        ("category+time_slot", [p for p in past if time_slot(p["event"]) == slot]),
        ("category", past),
    ]
    basis, sample = next(((name, rows) for name, rows in levels if len(rows) >= MIN_SAMPLE), levels[-1])
    sample = sample[:MAX_SAMPLE]
    fill = [min(1.0, p["seats"] / p["event"].capacity) for p in sample]
    no_show = [1 - p["checked_in"] / p["bookings"] for p in sample if p["bookings"]]
    fill_rate = round(sum(fill) / len(fill), 3) if fill else None
    no_show_rate = round(sum(no_show) / len(no_show), 3) if no_show else None
    oversubscribed = sum(1 for p in sample if p["waitlisted"] > 0)
    expected_seats = round(fill_rate * event.capacity) if fill_rate is not None else None
    expected_attendance = (
        round(expected_seats * (1 - no_show_rate)) if expected_seats is not None and no_show_rate is not None else None
    )
    if not sample:
        explanation = "没有同类的往期活动可供参考 (no past events of this category yet)"
    else:
        explanation = (
            f"依据 {len(sample)} 场往期同类活动（{basis}）：平均满座率 {fill_rate:.0%}，"
            f"平均缺席率 {(no_show_rate or 0):.0%}，其中 {oversubscribed} 场出现候补。"
        )
    return {
        "based_on": basis if sample else None,
        "time_slot": slot,
        "audience": crowd,
        "sample_size": len(sample),
        "expected_fill_rate": fill_rate,
        "expected_no_show_rate": no_show_rate,
        "expected_confirmed_seats": expected_seats,
        "expected_attendance": expected_attendance,
        "past_events_with_waitlist": oversubscribed,
        "explanation": explanation,
        "sample": [
            {
                "id": p["event"].id,
                "title": p["event"].title,
                "starts_at": p["event"].starts_at,
                "capacity": p["event"].capacity,
                "confirmed_seats": p["seats"],
                "checked_in": p["checked_in"],
                "waitlisted": p["waitlisted"],
            }
            for p in sample
        ],
    }


class EstimateSampleSchema(Schema):
    id = fields.UUID(required=True)
    title = Text(required=True)
    starts_at = DateTime(required=True)
    capacity = fields.Integer(required=True)
    confirmed_seats = fields.Integer(required=True)
    checked_in = fields.Integer(required=True)
    waitlisted = fields.Integer(required=True)


class EstimateSchema(Schema):
    based_on = Text(allow_none=True, required=True, metadata={"description": "which likeness was used"})
    time_slot = Text(required=True)
    audience = Text(required=True)
    sample_size = fields.Integer(required=True)
    expected_fill_rate = fields.Float(allow_none=True, required=True)
    expected_no_show_rate = fields.Float(allow_none=True, required=True)
    expected_confirmed_seats = fields.Integer(allow_none=True, required=True)
    expected_attendance = fields.Integer(allow_none=True, required=True)
    past_events_with_waitlist = fields.Integer(required=True)
    explanation = Text(required=True)
    sample = fields.List(fields.Nested(EstimateSampleSchema), required=True)
