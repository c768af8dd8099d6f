"""What parking does when payments reports on one of its orders (`purpose = "parking"`; the reference says
what it paid for: `booking:<id>`, `pass:<id>`, `session:<id>`). Each runs inside the unit of work of the
payment's change, with the order already locked by payments — so the lock order (order → space → booking)
holds here too."""

from __future__ import annotations

import uuid
from typing import Any

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from api.db import db, utcnow
from api.parking import services
from api.parking.models import Booking, BookingStatus, Hold, ParkingPass, PassStatus
from api.payments import services as payments
from api.payments.models import PaymentOrder
from api.payments.signals import LateDecision

TAKEN_REASON = "车位已被他人预订，全额退款"


def _target(order: PaymentOrder) -> tuple[str, uuid.UUID] | None:
    if order.purpose != services.PURPOSE:
        return None
    kind, _, raw = order.reference.partition(":")
    try:
        return kind, uuid.UUID(raw)
    except ValueError:
        return None


def _booking(record_id: uuid.UUID) -> Booking | None:
    booking = db.session.get(Booking, record_id)
    if booking is None:
        return None
    services._lock_space(booking.space_id)
    return services._lock_booking(record_id)


def _pass(record_id: uuid.UUID) -> ParkingPass | None:
    return db.session.scalar(
        select(ParkingPass)
        .where(ParkingPass.id == record_id)
        .with_for_update(of=ParkingPass)
        .execution_options(populate_existing=True)
    )


def _retake_pass(parking_pass: ParkingPass) -> bool:
    """A lapsed pass paid late: its days again, if they are all still free."""
    now = utcnow()
    days = list(db.session.scalars(select(Hold).where(Hold.pass_id == parking_pass.id, Hold.until > now)))
    space = services._lock_space(parking_pass.space_id)
    if any(not services.is_free(space, h.starts_at, h.until, exclude=Hold.pass_id != parking_pass.id) for h in days):
        return False
    try:
        with db.session.begin_nested():  # the exclusion constraint has the last word on PostgreSQL
            for hold in days:
                hold.released_at = None
            db.session.flush()
    except IntegrityError:
        return False
    return True


def on_payment_succeeded(order: PaymentOrder, **_: Any) -> None:
    target = _target(order)
    if target is None:
        return
    kind, record_id = target
    now = utcnow()
    if kind == "booking":
        booking = _booking(record_id)
        if booking is None:
            return
        if booking.status == BookingStatus.HELD or (
            booking.status == BookingStatus.EXPIRED and services.retake(booking, now)
        ):
            services.move(booking, BookingStatus.CONFIRMED, now)
            services._confirmed(booking)
        elif booking.status in (BookingStatus.EXPIRED, BookingStatus.CANCELLED):
            # Paid for time that is gone (lapsed and taken, or cancelled while paying): all of it goes back.
            booking.refund_fen = order.amount_fen
            payments.refund(order, order.refundable_fen, TAKEN_REASON)
    elif kind == "pass":
        parking_pass = _pass(record_id)
        if parking_pass is None:
            return
        if parking_pass.status == PassStatus.HELD or (
            parking_pass.status == PassStatus.EXPIRED and _retake_pass(parking_pass)
        ):
            services.move_pass(parking_pass, PassStatus.ACTIVE, now)
            services.after_commit(services.PUSH_TASK, "pass", str(parking_pass.id))
        elif parking_pass.status in (PassStatus.EXPIRED, PassStatus.CANCELLED):
            payments.refund(order, order.refundable_fen, TAKEN_REASON)


def on_payment_closed(order: PaymentOrder, **_: Any) -> None:
    """An unpaid order closed (expired, failed, withdrawn): a booking or pass still held lets its time go."""
    target = _target(order)
    if target is None:
        return
    kind, record_id = target
    now = utcnow()
    if kind == "booking":
        booking = _booking(record_id)
        if booking is not None and booking.status == BookingStatus.HELD:
            services.move(booking, BookingStatus.EXPIRED, now)
    elif kind == "pass":
        parking_pass = _pass(record_id)
        if parking_pass is not None and parking_pass.status == PassStatus.HELD:
            services.move_pass(parking_pass, PassStatus.EXPIRED, now)


def on_payment_after_close(order: PaymentOrder, **_: Any) -> LateDecision | None:
    """Paid after the order closed: keep it when the time is still free (held again now; `payment_succeeded`
    follows and confirms it), refund otherwise."""
    target = _target(order)
    if target is None:
        return None
    kind, record_id = target
    now = utcnow()
    if kind == "booking":
        booking = _booking(record_id)
        if booking is None or booking.status != BookingStatus.EXPIRED or booking.starts_at <= now:
            return LateDecision.REFUND
        if not services.retake(booking, now):
            return LateDecision.REFUND
        services.move(booking, BookingStatus.HELD, now)
        return LateDecision.KEEP
    if kind == "pass":
        parking_pass = _pass(record_id)
        if parking_pass is None or parking_pass.status != PassStatus.EXPIRED or not _retake_pass(parking_pass):
            return LateDecision.REFUND
        services.move_pass(parking_pass, PassStatus.HELD, now)
        return LateDecision.KEEP
    return None
