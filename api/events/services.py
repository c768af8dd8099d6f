"""Booking rules of community events: who may book, when, how many seats, the waitlist, tickets,
check-in, the no-show policy, reminders, and what staff may change.

Every change to an event's seats takes the event row's lock first (`_lock_event`), so concurrent
bookings, cancellations and capacity changes of one event run one after another and the counters
on the row stay exact: never more confirmed seats than capacity, never a negative seat count. A
cancellation promotes from the waitlist in the same transaction, in arrival order.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Select, and_, bindparam, func, literal, or_, select, true
from sqlalchemy.orm import aliased, joinedload, selectinload, with_expression
from sqlalchemy.orm.attributes import set_committed_value

from api import scope
from api.accounts.models import Area, HouseholdMember, Room, User
from api.config import Settings
from api.db import db, utcnow
from api.errors import ApiError, NotFound
from api.events import signals
from api.events.models import Booking, BookingStatus, Event, EventCategory, EventStatus
from api.fields import LOCAL_TZ, local_text
from api.notifications.services import notify

TICKET_PREFIX = "LT1"


# ------------------------------------------------------------------------------------------------
# Reading
# ------------------------------------------------------------------------------------------------


def get_event(event_id: uuid.UUID) -> Event:
    event = db.session.get(Event, event_id)
    if event is None:
        raise NotFound()
    return event


# The event a page shows, with its cover in the same statement.
_WITH_COVER = [joinedload(Event.cover)]


def get_visible_event(event_id: uuid.UUID) -> Event:
    """Residents see published (and cancelled, so a booked resident learns why) events; drafts are staff's."""
    event = db.session.get(Event, event_id, options=_WITH_COVER)
    if event is None or event.status == EventStatus.DRAFT:
        raise NotFound()
    return event


def list_events(
    *,
    category: EventCategory | None = None,
    area_id: uuid.UUID | None = None,
    starts_from: datetime | None = None,
    starts_until: datetime | None = None,
    bookable_now: bool = False,
    now: datetime | None = None,
) -> Select[tuple[Event]]:
    now = now or utcnow()
    # A page's covers in one more statement (none when no event on it has one), not one per event.
    stmt = select(Event).where(Event.status == EventStatus.PUBLISHED).options(selectinload(Event.cover))
    if category is not None:
        stmt = stmt.where(Event.category == category)
    if area_id is not None:
        area = db.session.get(Area, area_id)
        if area is None:
            return stmt.where(False)
        # Events of this committee and of its estates, and the subdistrict's own events for everyone.
        stmt = stmt.join(Event.area).where(
            or_(Area.path.startswith(area.path, autoescape=True), literal(area.path).startswith(Area.path))
        )
    if starts_from is not None:
        stmt = stmt.where(Event.starts_at >= starts_from)
    if starts_until is not None:
        stmt = stmt.where(Event.starts_at < starts_until)
    if bookable_now:
        stmt = stmt.where(
            Event.booking_opens_at <= now,
            Event.booking_closes_at > now,
            Event.starts_at > now,
            or_(Event.seats_taken < Event.capacity, Event.waitlist_count < Event.waitlist_limit),
        )
    return stmt


# Built once: an alias of a mapped class is costly to make and to adapt (a third of a page of bookings' time
# went into making this one for every request).
_AHEAD = aliased(Booking)
_WAITLIST_AHEAD = (
    select(func.count())
    .select_from(_AHEAD)
    .where(
        _AHEAD.event_id == Booking.event_id,
        _AHEAD.status == BookingStatus.WAITLISTED,
        _AHEAD.waitlist_seq < Booking.waitlist_seq,
    )
    .correlate(Booking)
    .scalar_subquery()
)


def with_waitlist_ahead(stmt: Select[tuple[Booking]]) -> Select[tuple[Booking]]:
    """`stmt` loading each booking's place in its waitlist with the row: a page of bookings costs one statement,
    not one count per waitlisted booking."""
    return stmt.options(with_expression(Booking.waitlist_ahead, _WAITLIST_AHEAD))


def my_bookings(user: User) -> Select[tuple[Booking]]:
    return with_waitlist_ahead(select(Booking).where(Booking.user_id == user.id))


def waitlist_position(booking: Booking) -> int | None:
    if booking.status != BookingStatus.WAITLISTED or booking.waitlist_seq is None:
        return None
    if booking.waitlist_ahead is not None:
        return booking.waitlist_ahead + 1
    ahead = db.session.scalar(
        select(func.count())
        .select_from(Booking)
        .where(
            Booking.event_id == booking.event_id,
            Booking.status == BookingStatus.WAITLISTED,
            Booking.waitlist_seq < booking.waitlist_seq,
        )
    )
    return (ahead or 0) + 1


# ------------------------------------------------------------------------------------------------
# Tickets
# ------------------------------------------------------------------------------------------------


def _signature(prefix: str, ident: uuid.UUID, secret: str) -> str:
    key = hashlib.sha256(b"linli-ticket:" + secret.encode()).digest()
    # Events' own tickets sign the id alone (tickets already handed out stay valid); every other kind of code
    # signs its prefix too, so a code of one kind is never taken for another.
    message = ident.bytes if prefix == TICKET_PREFIX else prefix.encode() + b"." + ident.bytes
    digest = hmac.new(key, message, hashlib.sha256).digest()[:15]
    return base64.b32encode(digest).decode().rstrip("=")


def signed_code(prefix: str, ident: uuid.UUID, secret: str) -> str:
    """A code a phone shows as a QR code (or a screen shows for phones to scan): `<prefix>.<id>.<signature>`.
    Events' tickets are `LT1` codes of a booking; other domains sign their own things with their own prefix
    (party meetings: a meeting's sign-in code, a member's place on its roster)."""
    if not prefix or "." in prefix:
        raise ValueError(f"a code prefix is a non-empty word without dots, not {prefix!r}")
    ident_part = base64.b32encode(ident.bytes).decode().rstrip("=")
    return f"{prefix}.{ident_part}.{_signature(prefix, ident, secret)}"


def read_signed_code(prefix: str, code: str, secret: str) -> uuid.UUID:
    """The id a `signed_code` of kind `prefix` names; 422 `ticket_invalid` for anything else (another kind,
    a forged or damaged code)."""
    parts = code.strip().split(".")
    if len(parts) != 3 or parts[0] != prefix:
        raise ApiError("ticket_invalid")
    try:
        ident = uuid.UUID(bytes=base64.b32decode(parts[1] + "=" * (-len(parts[1]) % 8)))
    except ValueError:
        raise ApiError("ticket_invalid") from None
    if not hmac.compare_digest(parts[2], _signature(prefix, ident, secret)):
        raise ApiError("ticket_invalid")
    return ident


def ticket_for(booking: Booking, secret: str) -> str | None:
    """The code the mini-program renders as a QR code: the booking id and a signature over it."""
    if booking.status != BookingStatus.CONFIRMED:
        return None
    return signed_code(TICKET_PREFIX, booking.id, secret)


def _booking_id_of(ticket: str, secret: str) -> uuid.UUID:
    return read_signed_code(TICKET_PREFIX, ticket, secret)


# ------------------------------------------------------------------------------------------------
# Booking
# ------------------------------------------------------------------------------------------------


@dataclass
class BookingResult:
    booking: Booking
    created: bool


# The statements of a booking are built once, with their values as bound parameters (as `api.auth` builds the
# account query): a rush runs them for every resident, and building and keying a statement costs more CPU than
# PostgreSQL spends answering it.
_LOCKED_EVENT = (
    select(Event)
    .where(Event.id == bindparam("event_id"))
    .with_for_update(of=Event)
    .execution_options(populate_existing=True)
)
_ACTIVE_BOOKING = select(Booking).where(
    Booking.event_id == bindparam("event_id"),
    Booking.user_id == bindparam("user_id"),
    Booking.status != BookingStatus.CANCELLED,
)


def _lock_event(event_id: uuid.UUID) -> Event:
    event = db.session.scalar(_LOCKED_EVENT, {"event_id": event_id})
    if event is None:
        raise NotFound()
    return event


def _active_booking(event_id: uuid.UUID, user_id: uuid.UUID) -> Booking | None:
    return db.session.scalar(_ACTIVE_BOOKING, {"event_id": event_id, "user_id": user_id})


def ineligibility(rules: dict[str, Any] | None, user: User, now: datetime) -> list[str]:
    """Why `user` may not book an event with these eligibility rules (`Event.eligibility`; empty: eligible)."""
    rules = rules or {}
    reasons = []
    area_ids = rules.get("area_ids") or []
    if area_ids:
        paths = db.session.scalars(select(Area.path).where(Area.id.in_([uuid.UUID(str(a)) for a in area_ids]))).all()
        lives_there = db.session.scalar(
            select(func.count())
            .select_from(HouseholdMember)
            .join(Room, Room.id == HouseholdMember.room_id)
            .join(Area, Area.id == Room.building_id)
            .where(
                HouseholdMember.user_id == user.id,
                or_(*[Area.path.startswith(p, autoescape=True) for p in paths]) if paths else False,
            )
        )
        if not lives_there:
            reasons.append("residents_only")
    min_age = rules.get("min_age")
    if min_age:
        local_year = now.astimezone(LOCAL_TZ).year
        if user.birth_year is None or local_year - user.birth_year < int(min_age):
            reasons.append("min_age")
    if rules.get("party_members_only") and not user.is_party_member:
        reasons.append("party_members_only")
    return reasons


def _rules_with_no_shows() -> Select[tuple[dict[str, Any] | None, int, datetime | None]]:
    """The event's eligibility rules, and in the same row how many confirmed events the resident (`user_id`)
    missed within the no-show window (`window_start` to `now`): `missed`, and when the last of them ended:
    `last_missed`. Not the whole event: the locked read loads that (loading it here too cost a booking ~5 % more
    Python calls)."""
    no_shows = (
        select(func.count().label("missed"), func.max(Event.ends_at).label("last_missed"))
        .select_from(Event)
        .join(Booking, Booking.event_id == Event.id)
        .where(
            Booking.user_id == bindparam("user_id"),
            Booking.status == BookingStatus.CONFIRMED,
            Booking.checked_in_at.is_(None),
            Event.status == EventStatus.PUBLISHED,
            Event.ends_at < bindparam("now"),
            Event.ends_at >= bindparam("window_start"),
        )
        .subquery("no_shows")
    )
    return (
        select(Event.eligibility, no_shows.c.missed, no_shows.c.last_missed)
        .join(no_shows, true())
        .where(Event.id == bindparam("event_id"))
    )


_RULES_WITH_NO_SHOWS = _rules_with_no_shows()


def suspension_end(missed: int, last_missed: datetime | None, settings: Settings, now: datetime) -> datetime | None:
    """The no-show policy: missing `no_show_limit` confirmed events within the rolling window
    suspends booking until `no_show_suspension_days` after the last one missed."""
    if missed < settings.no_show_limit or last_missed is None:
        return None
    until = last_missed + timedelta(days=settings.no_show_suspension_days)
    return until if until > now else None


def book(user: User, event_id: uuid.UUID, party_size: int, settings: Settings) -> BookingResult:
    """Book a seat (or a place on the waitlist). A second attempt returns the first booking."""
    # What does not depend on seats is worked out before the lock, so the rush queues for less time.
    checked_at = utcnow()
    row = db.session.execute(
        _RULES_WITH_NO_SHOWS,
        {
            "event_id": event_id,
            "user_id": user.id,
            "now": checked_at,
            "window_start": checked_at - timedelta(days=settings.no_show_window_days),
        },
    ).first()
    if row is None:
        raise NotFound()
    rules, missed, last_missed = row
    reasons = ineligibility(rules, user, checked_at)
    until = suspension_end(missed, last_missed, settings, checked_at)
    event = _lock_event(event_id)
    # The clock is read once the lock is ours, so `created_at` follows the order seats and waitlist
    # numbers are handed out in; read before, a request that waited on the lock was dated before
    # bookings served ahead of it (报名时间 earlier than someone ahead of it on the waitlist).
    now = utcnow()
    if event.status == EventStatus.DRAFT:
        raise NotFound()
    existing = _active_booking(event.id, user.id)
    if existing is not None:
        db.session.commit()  # nothing written: only the lock to give back
        return BookingResult(existing, created=False)
    if event.status == EventStatus.CANCELLED:
        raise ApiError("event_cancelled")
    if event.starts_at <= now:
        raise ApiError("event_past")
    if now < event.booking_opens_at:
        raise ApiError("booking_not_open", opens=local_text(event.booking_opens_at))
    if now >= event.booking_closes_at:
        raise ApiError("booking_closed")
    if party_size - 1 > event.max_companions:
        raise ApiError(
            "party_too_large",
            errors={"party_size": [f"at most {event.max_companions + 1}"]},
            limit=event.max_companions + 1,
        )
    if reasons:
        raise ApiError("not_eligible", errors={"eligibility": reasons})
    if until is not None:
        raise ApiError("booking_suspended", until=local_text(until), limit=settings.no_show_limit)

    # With its event in hand: the answer shows the event, which would otherwise be read again after the commit.
    booking = Booking(event=event, user_id=user.id, party_size=party_size, created_at=now)
    if event.seats_taken + party_size <= event.capacity and event.waitlist_count == 0:
        booking.status = BookingStatus.CONFIRMED
        booking.confirmed_at = now
        event.seats_taken += party_size
    elif event.waitlist_count < event.waitlist_limit:
        booking.status = BookingStatus.WAITLISTED
        booking.waitlist_seq = event.next_waitlist_seq
        event.next_waitlist_seq += 1
        event.waitlist_count += 1
    else:
        raise ApiError("event_full")
    db.session.add(booking)
    # Commit at once: the event's row lock is held for the counter update and the insert only. Serialising
    # the answer, storing it for the Idempotency-Key and anything else the request does come after, in a
    # transaction of their own, while the next resident already has the lock (a rush is served one booking at
    # a time: its throughput is the inverse of how long the lock is held).
    db.session.commit()
    if booking.status == BookingStatus.WAITLISTED:
        # Last in the line, as the counter said under the lock: the answer need not count the line again.
        set_committed_value(booking, "waitlist_ahead", event.waitlist_count - 1)
    return BookingResult(booking, created=True)


def _promote(event: Event, settings: Settings, now: datetime) -> list[Booking]:
    """Fill free seats from the waitlist in arrival order; the head waits if its party does not fit."""
    promoted = []
    while event.waitlist_count > 0:
        head = db.session.scalar(
            select(Booking)
            .where(Booking.event_id == event.id, Booking.status == BookingStatus.WAITLISTED)
            .order_by(Booking.waitlist_seq)
            .limit(1)
        )
        if head is None or event.seats_taken + head.party_size > event.capacity:
            break
        head.status = BookingStatus.CONFIRMED
        head.confirmed_at = now
        head.waitlist_seq = None
        event.seats_taken += head.party_size
        event.waitlist_count -= 1
        db.session.flush()
        promoted.append(head)
        notify(
            head.user,
            "booking_promoted",
            {
                "event_title": event.title,
                "venue": event.venue,
                "starts_at": event.starts_at,
                "starts_at_text": local_text(event.starts_at),
                "booking_id": head.id,
            },
            subject_path=event.area.path,
            dedupe_key=f"booking-promoted:{head.id}",
        )
    return promoted


def _release(event: Event, booking: Booking, now: datetime) -> None:
    if booking.status == BookingStatus.CONFIRMED:
        event.seats_taken -= booking.party_size
    elif booking.status == BookingStatus.WAITLISTED:
        event.waitlist_count -= 1
    booking.status = BookingStatus.CANCELLED
    booking.cancelled_at = now
    booking.waitlist_seq = None


def cancel_booking(user: User, booking_id: uuid.UUID, settings: Settings) -> Booking:
    """Cancel my booking (until the event's cut-off); a freed seat goes to the waitlist at once."""
    booking = db.session.get(Booking, booking_id)
    if booking is None or booking.user_id != user.id:
        raise NotFound()
    event = _lock_event(booking.event_id)
    now = utcnow()  # under the lock, as in `book`: a promotion is never dated before the booking it confirms
    db.session.refresh(booking)
    if booking.status == BookingStatus.CANCELLED:
        return booking
    if booking.checked_in_at is not None:
        raise ApiError("booking_checked_in")
    cutoff = event.starts_at - timedelta(minutes=event.cancel_cutoff_minutes)
    if booking.status == BookingStatus.CONFIRMED and now >= cutoff:
        raise ApiError("cancel_too_late", cutoff=local_text(cutoff))
    _release(event, booking, now)
    db.session.flush()
    _promote(event, settings, now)
    signals.booking_cancelled.send(booking)
    return booking


def withdraw_bookings(user: User, settings: Settings, now: datetime | None = None) -> int:
    """Release every active booking of `user` for an event not yet over (their account is going): each
    seat goes to the waitlist under the event's lock, as a cancellation would. Returns how many."""
    now = now or utcnow()
    active = db.session.execute(
        select(Booking.id, Booking.event_id)
        .join(Event, Event.id == Booking.event_id)
        .where(Booking.user_id == user.id, Booking.status != BookingStatus.CANCELLED, Event.ends_at > now)
        .order_by(Booking.event_id)
    ).all()
    for booking_id, event_id in active:
        event = _lock_event(event_id)
        booking = db.session.get(Booking, booking_id, populate_existing=True)
        if booking is None or booking.status == BookingStatus.CANCELLED:
            continue
        _release(event, booking, now)
        db.session.flush()
        _promote(event, settings, now)
    return len(active)


def check_in(staff: User, event_id: uuid.UUID, ticket: str, settings: Settings) -> Booking:
    """Admit the holder of a ticket, once. Refusals name the reason."""
    event = staff_event(staff, event_id)
    booking_id = _booking_id_of(ticket, settings.secret_key)
    booking = db.session.scalar(select(Booking).where(Booking.id == booking_id).with_for_update(of=Booking))
    if booking is None:
        raise ApiError("ticket_invalid")
    if booking.event_id != event.id:
        raise ApiError("ticket_other_event", event=booking.event.title)
    if booking.status != BookingStatus.CONFIRMED:
        raise ApiError("ticket_not_confirmed", state=booking.status.value)
    if booking.checked_in_at is not None:
        raise ApiError("ticket_used", at=local_text(booking.checked_in_at))
    booking.checked_in_at = utcnow()
    booking.checked_in_by_id = staff.id
    return booking


# ------------------------------------------------------------------------------------------------
# Staff
# ------------------------------------------------------------------------------------------------

EDITABLE = (
    "title",
    "description",
    "category",
    "venue",
    "cover_media_id",
    "starts_at",
    "ends_at",
    "booking_opens_at",
    "booking_closes_at",
    "capacity",
    "waitlist_limit",
    "max_companions",
    "cancel_cutoff_minutes",
    "eligibility",
)


def _check_times(values: dict[str, Any]) -> None:
    errors: dict[str, list[str]] = {}
    if values["ends_at"] <= values["starts_at"]:
        errors["ends_at"] = ["must be after starts_at"]
    if values["booking_closes_at"] <= values["booking_opens_at"]:
        errors["booking_closes_at"] = ["must be after booking_opens_at"]
    if values["booking_closes_at"] > values["starts_at"]:
        errors.setdefault("booking_closes_at", []).append("must not be after starts_at")
    if errors:
        raise ApiError("validation_failed", errors=errors)


def _check_eligibility(rules: dict[str, Any]) -> dict[str, Any]:
    area_ids = [str(a) for a in rules.get("area_ids") or []]
    if area_ids:
        found = db.session.scalar(
            select(func.count()).select_from(Area).where(Area.id.in_([uuid.UUID(a) for a in area_ids]))
        )
        if found != len(set(area_ids)):
            raise ApiError("validation_failed", errors={"eligibility.area_ids": ["unknown area"]})
    return {k: v for k, v in {**rules, "area_ids": area_ids}.items() if v not in (None, [], False, 0)}


def create_event(staff: User, values: dict[str, Any]) -> Event:
    """A new event, as a draft: residents see it once it is published."""
    area_id = values.get("area_id") or (staff.staff_area_id if staff.staff_area_id else None)
    if area_id is None:
        raise ApiError("validation_failed", errors={"area_id": ["required for staff without an area"]})
    scope.area_for(staff, area_id)
    _check_times(values)
    event = Event(
        area_id=area_id,
        created_by_id=staff.id,
        status=EventStatus.DRAFT,
        **{k: values[k] for k in EDITABLE if k in values and k != "eligibility"},
        eligibility=_check_eligibility(values.get("eligibility") or {}),
    )
    db.session.add(event)
    db.session.flush()
    if event.cover_media_id is not None:
        _attach_cover(staff, event)
    return event


def _attach_cover(staff: User, event: Event) -> None:
    from api.media.services import attach, release

    release("event", event.id)
    attach([event.cover_media_id], staff, "event", event.id, max_count=1, field="cover_media_id")


def may_see_event_photos(viewer: User, event_id: uuid.UUID) -> bool:
    event = db.session.get(Event, event_id)
    if event is None:
        return False
    if event.status != EventStatus.DRAFT:
        return True
    return viewer.is_staff and scope.sees(viewer, event.area_path)


def staff_event(staff: User, event_id: uuid.UUID, *, lock: bool = False) -> Event:
    return scope.ensure_visible(
        staff, _lock_event(event_id) if lock else db.session.get(Event, event_id, options=_WITH_COVER)
    )


def update_event(staff: User, event_id: uuid.UUID, changes: dict[str, Any], settings: Settings) -> Event:
    """Edit an event. Capacity may not drop below the seats already taken; raising it (or the
    waitlist cap) fills seats from the waitlist at once."""
    event = staff_event(staff, event_id, lock=True)
    if event.status == EventStatus.CANCELLED:
        raise ApiError("event_cancelled")
    if "area_id" in changes:
        scope.area_for(staff, changes["area_id"])
        event.area_id = changes.pop("area_id")
    merged = {k: changes.get(k, getattr(event, k)) for k in EDITABLE}
    _check_times(merged)
    if merged["capacity"] < event.seats_taken:
        raise ApiError(
            "capacity_below_bookings",
            errors={"capacity": [f"at least {event.seats_taken}"]},
            taken=event.seats_taken,
        )
    if merged["waitlist_limit"] < event.waitlist_count:
        raise ApiError("validation_failed", errors={"waitlist_limit": [f"at least {event.waitlist_count}"]})
    if "eligibility" in changes:
        changes["eligibility"] = _check_eligibility(changes["eligibility"] or {})
    cover_changed = "cover_media_id" in changes and changes["cover_media_id"] != event.cover_media_id
    for key, value in changes.items():
        setattr(event, key, value)
    db.session.flush()
    if cover_changed:
        if event.cover_media_id is None:
            from api.media.services import release

            release("event", event.id)
        else:
            _attach_cover(staff, event)
    _promote(event, settings, utcnow())
    return event


def publish_event(staff: User, event_id: uuid.UUID) -> Event:
    event = staff_event(staff, event_id, lock=True)
    if event.status == EventStatus.CANCELLED:
        raise ApiError("event_cancelled")
    if event.status == EventStatus.DRAFT:
        event.status = EventStatus.PUBLISHED
        event.published_at = utcnow()
    return event


def cancel_event(staff: User, event_id: uuid.UUID, reason: str) -> Event:
    """Cancel an event: every booking is released and its holder told why."""
    event = staff_event(staff, event_id, lock=True)
    if event.status == EventStatus.CANCELLED:
        return event
    now = utcnow()
    event.status = EventStatus.CANCELLED
    event.cancelled_at = now
    event.cancel_reason = reason
    active = db.session.scalars(
        select(Booking).where(Booking.event_id == event.id, Booking.status != BookingStatus.CANCELLED)
    ).all()
    for booking in active:
        _release(event, booking, now)
        notify(
            booking.user,
            "event_cancelled",
            {
                "event_title": event.title,
                "event_id": event.id,
                "starts_at": event.starts_at,
                "starts_at_text": local_text(event.starts_at),
                "reason": reason,
            },
            subject_path=event.area.path,
            dedupe_key=f"event-cancelled:{event.id}",
        )
    signals.event_cancelled.send(event)
    return event


def request_helpers(staff: User, event_id: uuid.UUID, slots: int, note: str) -> dict[str, Any]:
    """Ask volunteers to help at a published event not yet over; what took the request answers (nothing: no
    volunteers domain installed)."""
    event = staff_event(staff, event_id)
    if event.status == EventStatus.CANCELLED:
        raise ApiError("event_cancelled")
    if event.status == EventStatus.DRAFT or event.ends_at <= utcnow():
        raise ApiError("event_past" if event.status != EventStatus.DRAFT else "conflict")
    answers: dict[str, Any] = {}
    for _receiver, answer in signals.helpers_requested.send(event, slots=slots, note=note, requested_by=staff):
        answers.update(answer or {})
    return {"event_id": event.id, "slots": slots, "answers": answers}


def attendance(staff: User, event_id: uuid.UUID) -> Select[tuple[Booking]]:
    staff_event(staff, event_id)
    # Each booking shows its resident's name and masked phone: the page's residents in one statement.
    return (
        select(Booking)
        .where(Booking.event_id == event_id, Booking.status != BookingStatus.CANCELLED)
        .options(selectinload(Booking.user).lazyload(User.role_rows))
    )


def figures(staff: User, event_id: uuid.UUID, now: datetime | None = None) -> dict[str, Any]:
    """Booked, waitlisted, checked in and no-shows of one event, counted in SQL."""
    now = now or utcnow()
    event = staff_event(staff, event_id)
    confirmed = and_(Booking.status == BookingStatus.CONFIRMED)
    row = db.session.execute(
        select(
            func.count().filter(confirmed),
            func.coalesce(func.sum(Booking.party_size).filter(confirmed), 0),
            func.count().filter(Booking.status == BookingStatus.WAITLISTED),
            func.count().filter(confirmed, Booking.checked_in_at.is_not(None)),
            func.count().filter(Booking.status == BookingStatus.CANCELLED),
        ).where(Booking.event_id == event.id)
    ).one()
    bookings, seats, waitlisted, checked_in, cancelled = row
    ended = event.ends_at < now
    result = {
        "capacity": event.capacity,
        "confirmed_bookings": bookings,
        "confirmed_seats": seats,
        "seats_left": event.seats_left,
        "waitlisted": waitlisted,
        "cancelled": cancelled,
        "checked_in": checked_in,
        "no_shows": bookings - checked_in if ended else None,
        # Without the live domain (or a session) nobody watched online; with it, its receiver says how many.
        "viewers": {"live": 0, "replay": 0},
    }
    for _receiver, extra in signals.figures_requested.send(event):
        result.update(extra or {})
    return result


# ------------------------------------------------------------------------------------------------
# Reminders
# ------------------------------------------------------------------------------------------------


REMINDERS = (("day", timedelta(hours=24)), ("hour", timedelta(hours=1)))


def send_reminders(now: datetime | None = None) -> int:
    """Remind confirmed bookers a day and an hour before; each reminder once (marked on the booking)."""
    now = now or utcnow()
    sent = 0
    for name, ahead in REMINDERS:
        column = Booking.reminded_day_at if name == "day" else Booking.reminded_hour_at
        due = db.session.scalars(
            select(Booking)
            .join(Booking.event)
            .where(
                Event.status == EventStatus.PUBLISHED,
                Event.starts_at > now,
                Event.starts_at <= now + ahead,
                Booking.status == BookingStatus.CONFIRMED,
                column.is_(None),
            )
            .with_for_update(of=Booking, skip_locked=True)
            .limit(1000)
        ).all()
        for booking in due:
            if name == "day" and booking.event.starts_at <= now + timedelta(hours=2):
                # Booked at the last minute: the hour reminder will do.
                booking.reminded_day_at = now
                continue
            setattr(booking, column.key, now)
            event = booking.event
            notify(
                booking.user,
                "event_reminder",
                {
                    "event_title": event.title,
                    "venue": event.venue,
                    "starts_at": event.starts_at,
                    "starts_at_text": local_text(event.starts_at),
                    "booking_id": booking.id,
                },
                subject_path=event.area.path,
                dedupe_key=f"event-reminder:{booking.id}:{name}",
            )
            sent += 1
    return sent


def staff_events(staff: User, status: EventStatus | None) -> Select[tuple[Event]]:
    stmt = scope.visible(staff, Event).options(selectinload(Event.cover))
    if status is not None:
        stmt = stmt.where(Event.status == status)
    return stmt


def own_booking(user: User, booking_id: uuid.UUID) -> Booking:
    booking = db.session.get(Booking, booking_id)
    if booking is None or booking.user_id != user.id:
        raise NotFound()
    return booking
