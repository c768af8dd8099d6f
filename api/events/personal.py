"""What events holds about a person: their bookings. Erasing them releases every booking of an event not
yet over first — the seat goes to the next on the waitlist, as a cancellation would — then removes
their bookings; an event's figures then count the people who remain."""

from __future__ import annotations

from typing import Any

from sqlalchemy import delete, select

from api.accounts.models import User
from api.db import db
from api.events.models import Booking, Event
from api.events.services import withdraw_bookings
from api.extensions import get_settings
from api.personaldata import PersonalData, forget, record

personal_data = PersonalData(
    categories=("活动报名与签到记录",),
    covers=("bookings.user_id", "bookings.checked_in_by_id", "events.created_by_id"),
    export="api.events.personal:export",
    erase="api.events.personal:erase",
)


def export(user: User) -> dict[str, Any]:
    bookings = db.session.scalars(select(Booking).where(Booking.user_id == user.id).order_by(Booking.id)).all()
    return {
        "bookings": [
            {
                "event": b.event.title,
                "starts_at": record(b.event, "starts_at")["starts_at"],
                **record(b, "status", "party_size", "created_at", "confirmed_at", "cancelled_at", "checked_in_at"),
            }
            for b in bookings
        ]
    }


def erase(user: User) -> None:
    withdraw_bookings(user, get_settings())
    db.session.execute(delete(Booking).where(Booking.user_id == user.id))
    forget(Booking.checked_in_by_id, user.id)
    forget(Event.created_by_id, user.id)
    db.session.flush()
