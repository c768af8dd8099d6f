"""Shared parking's rules: lots and spaces, lenders' offers and staff approval, vehicles, availability and
quotes, bookings and passes (one state machine each), paying through payments, cancellation, extension,
change of plate, no-shows, and an occupied space on arrival. Gates and sensors are `gates.py` and
`sensors.py`; figures for staff `stats.py`.

Time on a space is taken as a `Hold` under the space's row lock (`_lock_space`), so bookings of one space
run one after another; on PostgreSQL an exclusion constraint on the holds refuses an overlap on a bay
whatever the code does, and a pooled space is counted at its peak under the same lock. Lock order, the
same everywhere so nothing waits in a circle: a payment order (payments locks it when WeChat Pay reports)
→ the space → the booking or pass. A path that will touch a booking's existing order locks that order
first (`_lock_order`). Services never commit; the request (or task) does.

Lenders act on their own spaces only: `lender_space` / `_ensure_lender` are that rule, written once.
"""

from __future__ import annotations

import math
import random
import uuid
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from typing import Any

from sqlalchemy import Select, delete, func, select, update
from sqlalchemy.exc import IntegrityError

from api import scope
from api.accounts.models import HouseholdMember, Room, User
from api.config import Settings
from api.db import db, new_id
from api.errors import ApiError, NotFound
from api.extensions import get_settings
from api.fields import LOCAL_TZ, local_text
from api.jobs import after_commit
from api.media import services as media
from api.notifications.services import notify
from api.parking import plates, windows
from api.parking.models import (
    LIVE_BOOKING,
    Booking,
    BookingStatus,
    Hold,
    OfferStatus,
    ParkingLot,
    ParkingPass,
    ParkingSpace,
    PassStatus,
    Quote,
    SharingOffer,
    SpaceKind,
    Vehicle,
    Verification,
)
from api.payments import services as payments
from api.payments.models import OrderStatus, PaymentOrder

PURPOSE = "parking"
MIN_STAY = timedelta(minutes=15)
MAX_STAY = timedelta(days=7)
PAST_TOLERANCE = timedelta(minutes=5)
RADIUS_MAX_M = 5000
LICENCE_PHOTO = "parking_vehicle"
PUSH_TASK = "parking.push_allowlist"
CLOSE_ORDER_TASK = "parking.close_order"

# The one state machine of a booking: where each status may go.
BOOKING_MOVES: dict[BookingStatus, frozenset[BookingStatus]] = {
    BookingStatus.HELD: frozenset({BookingStatus.CONFIRMED, BookingStatus.EXPIRED, BookingStatus.CANCELLED}),
    BookingStatus.CONFIRMED: frozenset({BookingStatus.IN_PROGRESS, BookingStatus.CANCELLED, BookingStatus.NO_SHOW}),
    BookingStatus.IN_PROGRESS: frozenset({BookingStatus.COMPLETED}),
    # A payment that arrives after its hold lapsed takes the time again when it is still free.
    BookingStatus.EXPIRED: frozenset({BookingStatus.HELD, BookingStatus.CONFIRMED}),
    BookingStatus.COMPLETED: frozenset(),
    BookingStatus.CANCELLED: frozenset(),
    BookingStatus.NO_SHOW: frozenset(),
}
PASS_MOVES: dict[PassStatus, frozenset[PassStatus]] = {
    PassStatus.HELD: frozenset({PassStatus.ACTIVE, PassStatus.EXPIRED, PassStatus.CANCELLED}),
    PassStatus.ACTIVE: frozenset({PassStatus.EXPIRED, PassStatus.CANCELLED}),
    PassStatus.EXPIRED: frozenset({PassStatus.HELD, PassStatus.ACTIVE}),
    PassStatus.CANCELLED: frozenset(),
}
STATUS_ZH = {
    "held": "待支付",
    "confirmed": "已确认",
    "in_progress": "停放中",
    "completed": "已完成",
    "expired": "已过期",
    "cancelled": "已取消",
    "no_show": "未到场",
}


def settings() -> Settings:
    return get_settings()


def yuan(fen: int) -> str:
    return payments.yuan(fen)


# ------------------------------------------------------------------------------------------------
# States and locks
# ------------------------------------------------------------------------------------------------


def move(booking: Booking, to: BookingStatus, now: datetime) -> None:
    """The one way a booking changes status; a move the machine does not allow is a 409 naming the status."""
    if to not in BOOKING_MOVES[booking.status]:
        raise ApiError("booking_not_changeable", state=STATUS_ZH[booking.status.value])
    booking.status = to
    if to == BookingStatus.CONFIRMED:
        booking.confirmed_at = now
    if to not in LIVE_BOOKING:
        booking.ended_at = now
        _release_holds(Hold.booking_id == booking.id, now)


def move_pass(parking_pass: ParkingPass, to: PassStatus, now: datetime) -> None:
    if to not in PASS_MOVES[parking_pass.status]:
        raise ApiError("booking_not_changeable", state=parking_pass.status.value)
    parking_pass.status = to
    if to == PassStatus.ACTIVE:
        parking_pass.activated_at = now
    if to in (PassStatus.EXPIRED, PassStatus.CANCELLED):
        # Days not begun yet are freed; days past stay as they were (they happened).
        _release_holds((Hold.pass_id == parking_pass.id) & (Hold.until > now), now)


def _release_holds(condition: Any, now: datetime) -> None:
    db.session.execute(
        update(Hold)
        .where(condition, Hold.released_at.is_(None))
        .values(released_at=now)
        .execution_options(synchronize_session=False)
    )


def _locked(model: Any, key: uuid.UUID) -> Any:
    """The row of `model` with id `key`, locked FOR UPDATE and read afresh; 404 when there is none."""
    row = db.session.scalar(
        select(model).where(model.id == key).with_for_update(of=model).execution_options(populate_existing=True)
    )
    if row is None:
        raise NotFound()
    return row


def _lock_space(space_id: uuid.UUID) -> ParkingSpace:
    return _locked(ParkingSpace, space_id)


def _lock_booking(booking_id: uuid.UUID) -> Booking:
    return _locked(Booking, booking_id)


def _lock_order(order_id: uuid.UUID | None) -> None:
    """Take the payment order's lock first (see the lock order in the module docstring)."""
    if order_id is not None:
        db.session.execute(select(PaymentOrder.id).where(PaymentOrder.id == order_id).with_for_update())


def _locked_booking_of(booking_id: uuid.UUID) -> Booking:
    """A booking locked in the house order: its order, its space, then itself."""
    booking = db.session.get(Booking, booking_id)
    if booking is None:
        raise NotFound()
    _lock_order(booking.order_id)
    _lock_space(booking.space_id)
    return _lock_booking(booking_id)


# ------------------------------------------------------------------------------------------------
# Prices and rules in words
# ------------------------------------------------------------------------------------------------


def price(lot: ParkingLot, starts_at: datetime, ends_at: datetime) -> int:
    """The lot's filed price: each started hour at the hourly rate, each 24 hours at most the daily cap."""
    seconds = max(0, int((ends_at - starts_at).total_seconds()))
    days, rest = divmod(seconds, 86400)
    day_price = min(24 * lot.hourly_rate_fen, lot.daily_cap_fen) if lot.daily_cap_fen else 24 * lot.hourly_rate_fen
    rest_price = math.ceil(rest / 3600) * lot.hourly_rate_fen
    if lot.daily_cap_fen:
        rest_price = min(rest_price, lot.daily_cap_fen)
    return days * day_price + rest_price


def started_hours(seconds: float) -> int:
    return math.ceil(max(0.0, seconds) / 3600)


def cancellation_rule(config: Settings) -> str:
    minutes = config.parking_free_cancel_minutes
    return (
        f"开始前 {minutes} 分钟之前取消全额退款；之后取消或开始后 {config.parking_no_show_minutes} 分钟未入场不退款，"
        f"车位释放；出借人或工作人员取消全额退款"
    )


def overstay_rule(lot: ParkingLot, config: Settings) -> str:
    return (
        f"到期前 {config.parking_overstay_warning_minutes} 分钟提醒续时；"
        f"超时每开始一小时按 {yuan(lot.overstay_rate_fen)} 元收费，出场后在小程序支付"
    )


# ------------------------------------------------------------------------------------------------
# Lots, spaces (staff)
# ------------------------------------------------------------------------------------------------


def staff_lot(staff: User, lot_id: uuid.UUID) -> ParkingLot:
    return scope.ensure_visible(staff, db.session.get(ParkingLot, lot_id))


def create_lot(staff: User, values: dict[str, Any]) -> ParkingLot:
    area = scope.area_for(staff, values.pop("area_id"))
    lot = ParkingLot(area_id=area.id, area_path=area.path, **values)
    db.session.add(lot)
    db.session.flush()
    return lot


def update_lot(staff: User, lot_id: uuid.UUID, changes: dict[str, Any]) -> ParkingLot:
    lot = staff_lot(staff, lot_id)
    for key, value in changes.items():
        setattr(lot, key, value)
    db.session.flush()
    return lot


def create_space(staff: User, lot_id: uuid.UUID, values: dict[str, Any]) -> ParkingSpace:
    lot = staff_lot(staff, lot_id)
    lender_id = values.get("lender_id")
    if lender_id is not None and db.session.get(User, lender_id) is None:
        raise ApiError("validation_failed", errors={"lender_id": ["no such user"]})
    kind = values["kind"]
    capacity = values.get("capacity") or 1
    if kind == SpaceKind.BAY and capacity != 1:
        raise ApiError("validation_failed", errors={"capacity": ["a bay holds one car"]})
    space = ParkingSpace(
        lot_id=lot.id, area_path=lot.area_path, code=values["code"], kind=kind, capacity=capacity, lender_id=lender_id
    )
    db.session.add(space)
    try:
        with db.session.begin_nested():
            db.session.flush()
    except IntegrityError:
        raise ApiError("validation_failed", errors={"code": ["already used in this lot"]}) from None
    return space


def set_capacity(staff: User, lot_id: uuid.UUID, space_id: uuid.UUID, capacity: int, now: datetime) -> ParkingSpace:
    """A pool's capacity: never below the cars already booked into it at any instant from now on."""
    staff_lot(staff, lot_id)
    space = _lock_space(space_id)
    if space.lot_id != lot_id:
        raise NotFound()
    if space.kind == SpaceKind.BAY and capacity != 1:
        raise ApiError("validation_failed", errors={"capacity": ["a bay holds one car"]})
    peak = _peak(space.id, now, now + timedelta(days=400), None)
    if capacity < peak:
        raise ApiError("pool_below_bookings", peak=peak)
    space.capacity = capacity
    return space


def lot_spaces(lot: ParkingLot) -> Select[tuple[ParkingSpace]]:
    return select(ParkingSpace).where(ParkingSpace.lot_id == lot.id)


# ------------------------------------------------------------------------------------------------
# Lenders and their offers
# ------------------------------------------------------------------------------------------------


def lender_spaces(lender: User) -> Select[tuple[ParkingSpace]]:
    return select(ParkingSpace).where(ParkingSpace.lender_id == lender.id)


def _ensure_lender(lender: User, lot_id: uuid.UUID) -> None:
    """Lenders act on their own spaces only: the one rule. 404 for a lot where they lend nothing."""
    mine = db.session.scalar(
        select(ParkingSpace.id).where(ParkingSpace.lot_id == lot_id, ParkingSpace.lender_id == lender.id).limit(1)
    )
    if mine is None:
        raise NotFound()


def lender_booking(lender: User, booking_id: uuid.UUID) -> Booking:
    booking = db.session.get(Booking, booking_id)
    if booking is None or booking.lender_id != lender.id:
        raise NotFound()
    return booking


def lender_bookings(lender: User) -> Select[tuple[Booking]]:
    return select(Booking).where(Booking.lender_id == lender.id)


def lender_offers(lender: User) -> Select[tuple[SharingOffer]]:
    return select(SharingOffer).where(SharingOffer.lender_id == lender.id)


def _blocked_dates(values: Iterable[date]) -> list[str]:
    return sorted({d.isoformat() for d in values})


def make_offer(
    lender: User, lot_id: uuid.UUID, rules: list[dict[str, Any]], blocked: list[date], note: str
) -> SharingOffer:
    """A lender offers windows for their spaces in a lot; staff decide. One waiting per lender and lot."""
    _ensure_lender(lender, lot_id)
    problems = windows.rule_problems(rules)
    if problems:
        raise ApiError("rules_invalid", errors=problems)
    if len(blocked) > windows.MAX_BLOCKED:
        raise ApiError("rules_invalid", errors={"blocked_dates": [f"at most {windows.MAX_BLOCKED}"]})
    lot = db.session.get(ParkingLot, lot_id)
    assert lot is not None
    offer = SharingOffer(
        lot_id=lot.id,
        lender_id=lender.id,
        area_path=lot.area_path,
        rules=[{"days": r["days"], "start": r["start"], "end": r["end"]} for r in rules],
        blocked_dates=_blocked_dates(blocked),
        note=note,
        status=OfferStatus.PENDING,
    )
    db.session.add(offer)
    try:
        with db.session.begin_nested():
            db.session.flush()
    except IntegrityError:
        raise ApiError("offer_pending") from None
    return offer


def _own_offer(lender: User, offer_id: uuid.UUID) -> SharingOffer:
    offer = db.session.get(SharingOffer, offer_id)
    if offer is None or offer.lender_id != lender.id:
        raise NotFound()
    return offer


def withdraw_offer(lender: User, offer_id: uuid.UUID) -> SharingOffer:
    """Taking an offer back stops new bookings; bookings already made stay (cancel them one by one)."""
    offer = _own_offer(lender, offer_id)
    if offer.status not in (OfferStatus.PENDING, OfferStatus.APPROVED):
        raise ApiError("offer_decided")
    offer.status = OfferStatus.WITHDRAWN
    return offer


def block_dates(lender: User, offer_id: uuid.UUID, blocked: list[date]) -> SharingOffer:
    """Blocking days only takes time away, so it needs no new approval; bookings on those days stay."""
    offer = _own_offer(lender, offer_id)
    if offer.status not in (OfferStatus.PENDING, OfferStatus.APPROVED):
        raise ApiError("offer_decided")
    if len(blocked) > windows.MAX_BLOCKED:
        raise ApiError("rules_invalid", errors={"blocked_dates": [f"at most {windows.MAX_BLOCKED}"]})
    offer.blocked_dates = _blocked_dates(blocked)
    return offer


def staff_offer(staff: User, offer_id: uuid.UUID) -> SharingOffer:
    return scope.ensure_visible(staff, db.session.get(SharingOffer, offer_id))


def decide_offer(staff: User, offer_id: uuid.UUID, approve: bool, reason: str | None, now: datetime) -> SharingOffer:
    offer = staff_offer(staff, offer_id)
    offer = db.session.scalar(
        select(SharingOffer)
        .where(SharingOffer.id == offer.id)
        .with_for_update(of=SharingOffer)
        .execution_options(populate_existing=True)
    )
    assert offer is not None
    if offer.status != OfferStatus.PENDING:
        raise ApiError("offer_decided")
    if approve:
        # The offer in force before is superseded first: one approved offer per lender and lot.
        db.session.execute(
            update(SharingOffer)
            .where(
                SharingOffer.lot_id == offer.lot_id,
                SharingOffer.lender_id == offer.lender_id,
                SharingOffer.status == OfferStatus.APPROVED,
            )
            .values(status=OfferStatus.SUPERSEDED)
            .execution_options(synchronize_session=False)
        )
        db.session.flush()
    offer.status = OfferStatus.APPROVED if approve else OfferStatus.REJECTED
    offer.decided_by_id, offer.decided_at, offer.reject_reason = staff.id, now, reason
    lender = db.session.get(User, offer.lender_id) if offer.lender_id else None
    if lender is not None:
        notify(
            lender,
            "parking_offer_decided",
            {"lot_name": offer.lot.name, "decision": "通过" if approve else "未通过", "reason": reason or ""},
            subject_path=offer.area_path,
            dedupe_key=f"parking-offer-decided:{offer.id}",
        )
    return offer


def _approved_offers(lot_ids: Iterable[uuid.UUID]) -> dict[tuple[uuid.UUID, uuid.UUID | None], SharingOffer]:
    ids = list(lot_ids)
    if not ids:
        return {}
    rows = db.session.scalars(
        select(SharingOffer).where(SharingOffer.lot_id.in_(ids), SharingOffer.status == OfferStatus.APPROVED)
    )
    return {(o.lot_id, o.lender_id): o for o in rows}


# ------------------------------------------------------------------------------------------------
# Vehicles
# ------------------------------------------------------------------------------------------------


def parse_plate(raw: str, field: str = "plate") -> plates.Plate:
    try:
        return plates.parse(raw)
    except plates.PlateError as exc:
        raise ApiError("plate_invalid", errors={field: [str(exc)]}, rule=str(exc)) from None


def register_vehicle(user: User, raw_plate: str, room_id: uuid.UUID | None, config: Settings) -> Vehicle:
    """A vehicle of my household: the plate valid and on no other household; at most N per household (the
    room's row is locked while its vehicles are counted, so two members registering at once stay within N)."""
    plate = parse_plate(raw_plate)
    rooms = list(db.session.scalars(select(HouseholdMember.room_id).where(HouseholdMember.user_id == user.id)))
    if not rooms:
        raise ApiError("household_required")
    if room_id is not None and room_id not in rooms:
        raise ApiError("validation_failed", errors={"room_id": ["not a household of yours"]})
    room = db.session.scalar(select(Room).where(Room.id == (room_id or rooms[0])).with_for_update(of=Room))
    assert room is not None
    registered = db.session.scalar(select(Vehicle).where(Vehicle.plate == plate.text, Vehicle.removed_at.is_(None)))
    if registered is not None:
        raise ApiError("plate_registered" if registered.room_id == room.id else "plate_taken")
    count = db.session.scalar(
        select(func.count()).select_from(Vehicle).where(Vehicle.room_id == room.id, Vehicle.removed_at.is_(None))
    )
    if (count or 0) >= config.parking_vehicles_per_household:
        raise ApiError("vehicle_limit", limit=config.parking_vehicles_per_household)
    vehicle = Vehicle(
        owner_id=user.id,
        room_id=room.id,
        area_path=room.path,
        plate=plate.text,
        new_energy=plate.new_energy,
        verification=Verification.UNVERIFIED,
    )
    db.session.add(vehicle)
    try:
        with db.session.begin_nested():
            db.session.flush()
    except IntegrityError:
        # Another household registered the plate in the same instant: the unique index decided.
        raise ApiError("plate_taken") from None
    return vehicle


def my_vehicles(user: User) -> Select[tuple[Vehicle]]:
    return select(Vehicle).where(Vehicle.owner_id == user.id, Vehicle.removed_at.is_(None))


def own_vehicle(user: User, vehicle_id: uuid.UUID) -> Vehicle:
    vehicle = db.session.get(Vehicle, vehicle_id)
    if vehicle is None or vehicle.owner_id != user.id or vehicle.removed_at is not None:
        raise NotFound()
    return vehicle


def add_licence_photo(user: User, vehicle_id: uuid.UUID, media_id: uuid.UUID, now: datetime) -> Vehicle:
    """A driving-licence photo verifies the vehicle at once (staff may still reject it on review)."""
    vehicle = own_vehicle(user, vehicle_id)
    media.attach([media_id], user, LICENCE_PHOTO, vehicle.id, max_count=1, field="media_id")
    vehicle.licence_media_id = media_id
    vehicle.verification, vehicle.verified_via, vehicle.verified_at = Verification.VERIFIED, "licence_photo", now
    vehicle.reject_reason = None
    return vehicle


def remove_vehicle(user: User, vehicle_id: uuid.UUID, now: datetime) -> Vehicle:
    vehicle = own_vehicle(user, vehicle_id)
    vehicle.removed_at = now
    return vehicle


def may_see_licence(viewer: User, vehicle_id: uuid.UUID) -> bool:
    vehicle = db.session.get(Vehicle, vehicle_id)
    if vehicle is None:
        return False
    return vehicle.owner_id == viewer.id or (viewer.is_staff and scope.sees(viewer, vehicle.area_path))


def staff_vehicle(staff: User, vehicle_id: uuid.UUID) -> Vehicle:
    return scope.ensure_visible(staff, db.session.get(Vehicle, vehicle_id))


def verify_vehicle(staff: User, vehicle_id: uuid.UUID, ok: bool, reason: str | None, now: datetime) -> Vehicle:
    vehicle = staff_vehicle(staff, vehicle_id)
    vehicle.verification = Verification.VERIFIED if ok else Verification.REJECTED
    vehicle.verified_via = "staff" if ok else None
    vehicle.verified_by_id, vehicle.verified_at, vehicle.reject_reason = staff.id, now, reason
    return vehicle


# ------------------------------------------------------------------------------------------------
# Availability and quotes
# ------------------------------------------------------------------------------------------------


def check_period(starts_at: datetime, ends_at: datetime, now: datetime, config: Settings) -> None:
    def bad(problem: str, field: str = "ends_at") -> ApiError:
        return ApiError("period_invalid", errors={field: [problem]}, problem=problem)

    if ends_at <= starts_at:
        raise bad("结束时间须晚于开始时间")
    if starts_at < now - PAST_TOLERANCE:
        raise bad("开始时间已过", "starts_at")
    if ends_at - starts_at < MIN_STAY:
        raise bad("至少 15 分钟")
    if ends_at - starts_at > MAX_STAY:
        raise bad("最长 7 天")
    if starts_at > now + timedelta(days=config.parking_booking_horizon_days):
        raise bad(f"最多提前 {config.parking_booking_horizon_days} 天预约", "starts_at")


def _live_holds(space_id: uuid.UUID, starts_at: datetime, until: datetime, exclude: Any = None) -> list[Hold]:
    stmt = select(Hold).where(
        Hold.space_id == space_id,
        Hold.released_at.is_(None),
        Hold.starts_at < until,
        Hold.until > starts_at,
    )
    if exclude is not None:
        stmt = stmt.where(exclude)
    return list(db.session.scalars(stmt))


def _peak(space_id: uuid.UUID, starts_at: datetime, until: datetime, exclude: Any) -> int:
    """The most live holds at any one instant of [starts_at, until) on a space: a sweep over their edges."""
    edges: list[tuple[datetime, int]] = []
    for hold in _live_holds(space_id, starts_at, until, exclude):
        edges.append((max(hold.starts_at, starts_at), 1))
        edges.append((hold.until, -1))
    peak = current = 0
    for _moment, step in sorted(edges, key=lambda e: (e[0], e[1])):  # an end before a start at the same instant
        current += step
        peak = max(peak, current)
    return peak


def is_free(space: ParkingSpace, starts_at: datetime, until: datetime, exclude: Any = None) -> bool:
    """Whether one more car fits on `space` for [starts_at, until) (read under its lock to be sure)."""
    if space.kind == SpaceKind.BAY:
        return not _live_holds(space.id, starts_at, until, exclude)
    return _peak(space.id, starts_at, until, exclude) < space.capacity


def _until(ends_at: datetime, config: Settings) -> datetime:
    return ends_at + timedelta(minutes=config.parking_turnover_buffer_minutes)


@dataclass
class Offered:
    lot: ParkingLot
    spaces: list[ParkingSpace]
    window: windows.Window


def _bookable(
    lots: list[ParkingLot], starts_at: datetime, ends_at: datetime, space_id: uuid.UUID | None = None
) -> tuple[list[Offered], dict[uuid.UUID, windows.Fit]]:
    """For each lot, its active spaces whose lender's offer holds the whole period (and the first misfit of each
    lot, to name the window in an error)."""
    offers = _approved_offers(lot.id for lot in lots)
    stmt = select(ParkingSpace).where(
        ParkingSpace.lot_id.in_([lot.id for lot in lots]), ParkingSpace.is_active.is_(True)
    )
    if space_id is not None:
        stmt = stmt.where(ParkingSpace.id == space_id)
    spaces = list(db.session.scalars(stmt.order_by(ParkingSpace.code)))
    fits: dict[tuple[uuid.UUID, uuid.UUID | None], windows.Fit] = {}
    found: dict[uuid.UUID, Offered] = {}
    misfit: dict[uuid.UUID, windows.Fit] = {}
    by_id = {lot.id: lot for lot in lots}
    for space in spaces:
        key = (space.lot_id, space.lender_id)
        offer = offers.get(key)
        if offer is None:
            continue
        if key not in fits:
            fits[key] = windows.fit(offer.rules, offer.blocked_dates, starts_at, ends_at)
        fit = fits[key]
        if fit.window is None:
            misfit.setdefault(space.lot_id, fit)
            continue
        entry = found.setdefault(space.lot_id, Offered(by_id[space.lot_id], [], fit.window))
        entry.spaces.append(space)
    return list(found.values()), misfit


def _distance_m(lat1: float, lng1: float, lat2: float, lng2: float) -> float:
    r = 6371000.0
    p1, p2 = math.radians(lat1), math.radians(lat2)
    dp, dl = p2 - p1, math.radians(lng2 - lng1)
    a = math.sin(dp / 2) ** 2 + math.cos(p1) * math.cos(p2) * math.sin(dl / 2) ** 2
    return 2 * r * math.asin(math.sqrt(a))


def _new_quote(
    user: User,
    lot: ParkingLot,
    space_id: uuid.UUID | None,
    starts_at: datetime,
    ends_at: datetime,
    window: str,
    now: datetime,
    config: Settings,
) -> Quote:
    quote = Quote(
        user_id=user.id,
        lot_id=lot.id,
        space_id=space_id,
        starts_at=starts_at,
        ends_at=ends_at,
        price_fen=price(lot, starts_at, ends_at),
        window=window[:64],
        expires_at=now + timedelta(minutes=config.parking_quote_minutes),
        created_at=now,
    )
    db.session.add(quote)
    return quote


def availability(
    user: User, lat: float, lng: float, radius_m: int, starts_at: datetime, ends_at: datetime, now: datetime
) -> list[dict[str, Any]]:
    """Lots within `radius_m` with at least one space free for the whole period, nearest first, each with a
    quote. Spaces are free when their lender's offer holds the period and no live booking or pass takes it."""
    config = settings()
    check_period(starts_at, ends_at, now, config)
    dlat = radius_m / 111_000
    dlng = radius_m / (111_000 * max(0.1, math.cos(math.radians(lat))))
    lots = [
        lot
        for lot in db.session.scalars(
            select(ParkingLot).where(
                ParkingLot.is_active.is_(True),
                ParkingLot.lat.between(lat - dlat, lat + dlat),
                ParkingLot.lng.between(lng - dlng, lng + dlng),
            )
        )
        if _distance_m(lat, lng, lot.lat, lot.lng) <= radius_m
    ]
    offered, _misfit = _bookable(lots, starts_at, ends_at) if lots else ([], {})
    until = _until(ends_at, config)
    answer = []
    for entry in offered:
        free = [space for space in entry.spaces if is_free(space, starts_at, until)]
        places = sum(_free_places(space, starts_at, until) for space in free)
        if not free:
            continue
        quote = _new_quote(user, entry.lot, None, starts_at, ends_at, entry.window.label, now, config)
        answer.append(
            {
                "lot": entry.lot,
                "distance_m": round(_distance_m(lat, lng, entry.lot.lat, entry.lot.lng)),
                "free_places": places,
                "quote": present_quote(quote, entry.lot, config),
            }
        )
    db.session.flush()
    return sorted(answer, key=lambda a: a["distance_m"])


def _free_places(space: ParkingSpace, starts_at: datetime, until: datetime) -> int:
    if space.kind == SpaceKind.BAY:
        return 1
    return max(0, space.capacity - _peak(space.id, starts_at, until, None))


def forget_old_quotes(now: datetime) -> int:
    result = db.session.execute(delete(Quote).where(Quote.expires_at < now - timedelta(days=1)))
    return result.rowcount or 0


def present_quote(quote: Quote, lot: ParkingLot, config: Settings) -> dict[str, Any]:
    return {
        "id": quote.id,
        "lot_id": lot.id,
        "space_id": quote.space_id,
        "starts_at": quote.starts_at,
        "ends_at": quote.ends_at,
        "price_fen": quote.price_fen,
        "expires_at": quote.expires_at,
        "window": quote.window,
        "cancellation_rule": cancellation_rule(config),
        "overstay_rule": overstay_rule(lot, config),
    }


def make_quote(
    user: User, lot_id: uuid.UUID, space_id: uuid.UUID | None, starts_at: datetime, ends_at: datetime, now: datetime
) -> dict[str, Any]:
    """A quote for one lot (or one of its spaces): 422 naming the window the period leaves, 409 when nothing is
    free for it."""
    config = settings()
    check_period(starts_at, ends_at, now, config)
    lot = db.session.get(ParkingLot, lot_id)
    if lot is None or not lot.is_active:
        raise NotFound()
    offered, misfit = _bookable([lot], starts_at, ends_at, space_id)
    if not offered:
        fit = misfit.get(lot.id)
        if fit is None:
            raise ApiError("outside_window", errors={"lot_id": ["no sharing window is offered here"]}, window="无")
        assert fit.problem is not None
        raise ApiError("outside_window", errors={fit.field: [fit.problem]}, window=fit.problem)
    entry = offered[0]
    until = _until(ends_at, config)
    if not any(is_free(space, starts_at, until) for space in entry.spaces):
        raise ApiError("space_taken" if space_id is not None or len(entry.spaces) > 1 else _full_code(entry.spaces))
    quote = _new_quote(user, lot, space_id, starts_at, ends_at, entry.window.label, now, config)
    db.session.flush()
    return present_quote(quote, lot, config)


def _full_code(spaces: list[ParkingSpace]) -> str:
    return "lot_full" if spaces and spaces[0].kind == SpaceKind.POOL else "space_taken"


# ------------------------------------------------------------------------------------------------
# Bookings
# ------------------------------------------------------------------------------------------------


def suspended_until(user: User, config: Settings, now: datetime) -> datetime | None:
    """Repeated no-shows restrict booking: `limit` within the window suspend until `suspension` after the last."""
    since = now - timedelta(days=config.parking_no_show_window_days)
    missed = list(
        db.session.scalars(
            select(Booking.ended_at)
            .where(Booking.user_id == user.id, Booking.status == BookingStatus.NO_SHOW, Booking.ended_at >= since)
            .order_by(Booking.ended_at.desc())
        )
    )
    if len(missed) < config.parking_no_show_limit or missed[0] is None:
        return None
    until = missed[0] + timedelta(days=config.parking_no_show_suspension_days)
    return until if until > now else None


def usable_vehicle(user: User, vehicle_id: uuid.UUID) -> Vehicle:
    vehicle = db.session.get(Vehicle, vehicle_id)
    if vehicle is None or vehicle.owner_id != user.id or vehicle.removed_at is not None:
        raise ApiError("validation_failed", errors={"vehicle_id": ["not found"]})
    if vehicle.verification != Verification.VERIFIED:
        raise ApiError("vehicle_not_verified")
    return vehicle


def _expire_due_holds(space_id: uuid.UUID, now: datetime) -> None:
    """Held bookings of this space whose time to pay is over free their time now (under the space's lock);
    their orders are closed after the commit. A payment that still arrives is handled by the receivers."""
    due = list(
        db.session.scalars(
            select(Booking).where(
                Booking.space_id == space_id, Booking.status == BookingStatus.HELD, Booking.hold_expires_at <= now
            )
        )
    )
    for booking in due:
        move(booking, BookingStatus.EXPIRED, now)
        if booking.order_id is not None:
            after_commit(CLOSE_ORDER_TASK, str(booking.order_id))


class _Taken(Exception):
    """The space was found taken under its lock: try the next one (its savepoint is rolled back)."""


def _take(space_id: uuid.UUID, starts_at: datetime, until: datetime, hold: Hold, now: datetime) -> ParkingSpace:
    """Lock the space, check it is free, and insert `hold` on it — inside a savepoint, so a space found taken
    (by the check, or on PostgreSQL by the exclusion constraint) leaves no lock and no row behind."""
    try:
        with db.session.begin_nested():
            space = _lock_space(space_id)
            _expire_due_holds(space.id, now)
            if not space.is_active or not is_free(space, starts_at, until):
                raise _Taken
            hold.space_id, hold.pooled = space.id, space.kind == SpaceKind.POOL
            db.session.add(hold)
            db.session.flush()
    except (_Taken, IntegrityError):
        return None  # type: ignore[return-value]
    return space


def book(user: User, quote_id: uuid.UUID, vehicle_id: uuid.UUID, now: datetime) -> Booking:
    """Book from a quote: the time is held on a free space at once (a quote for the lot takes any free one, in
    random order so a rush spreads over the spaces), paid within the hold time or released. Free: confirmed."""
    config = settings()
    quote = db.session.get(Quote, quote_id)
    if quote is None or quote.user_id != user.id:
        raise ApiError("validation_failed", errors={"quote_id": ["not found"]})
    if quote.expires_at <= now:
        raise ApiError("quote_expired")
    vehicle = usable_vehicle(user, vehicle_id)
    until_suspended = suspended_until(user, config, now)
    if until_suspended is not None:
        raise ApiError("parking_suspended", until=local_text(until_suspended), limit=config.parking_no_show_limit)
    check_period(quote.starts_at, quote.ends_at, now, config)
    lot = quote.lot
    offered, misfit = _bookable([lot], quote.starts_at, quote.ends_at, quote.space_id)
    if not offered:
        fit = misfit.get(lot.id)
        problem = fit.problem if fit is not None and fit.problem else "共享时段已撤回"
        raise ApiError("outside_window", errors={"quote_id": [problem]}, window=problem)
    candidates = offered[0].spaces
    until = _until(quote.ends_at, config)
    # Only spaces that look free now are tried (one query), in random order so a rush spreads over their locks;
    # each is checked again under its lock. A pool is always tried: its count is taken under the lock.
    free = _unclaimed(candidates, quote.starts_at, until)
    ordered = free if quote.space_id is not None else random.sample(free, len(free))
    booking = Booking(
        id=new_id(),
        user_id=user.id,
        vehicle_id=vehicle.id,
        plate=vehicle.plate,
        lot_id=lot.id,
        area_path=lot.area_path,
        starts_at=quote.starts_at,
        ends_at=quote.ends_at,
        window=quote.window,
        status=BookingStatus.HELD,
        price_fen=quote.price_fen,
        created_at=now,
    )
    for candidate in ordered:
        booking.space_id, booking.lender_id = candidate.id, candidate.lender_id
        hold = Hold(booking_id=booking.id, starts_at=quote.starts_at, until=until)
        with db.session.no_autoflush:
            if _take_for(booking, candidate.id, until, hold, now):
                break
    else:
        raise ApiError(_full_code(candidates) if len(candidates) == 1 else "space_taken")
    if booking.price_fen == 0:
        move(booking, BookingStatus.CONFIRMED, now)
        _confirmed(booking)
        return booking
    booking.hold_expires_at = now + timedelta(minutes=config.parking_hold_minutes)
    order = payments.create_order(
        user,
        PURPOSE,
        f"booking:{booking.id}",
        booking.price_fen,
        _description(lot, booking.starts_at, booking.ends_at),
        timedelta(minutes=config.parking_hold_minutes),
        area_path=lot.area_path,
    )
    booking.order_id = order.id
    db.session.flush()
    return booking


def _unclaimed(spaces: list[ParkingSpace], starts_at: datetime, until: datetime) -> list[ParkingSpace]:
    bays = [s.id for s in spaces if s.kind == SpaceKind.BAY]
    claimed = (
        set(
            db.session.scalars(
                select(Hold.space_id).where(
                    Hold.space_id.in_(bays),
                    Hold.released_at.is_(None),
                    Hold.starts_at < until,
                    Hold.until > starts_at,
                )
            )
        )
        if bays
        else set()
    )
    return [s for s in spaces if s.id not in claimed]


def _take_for(booking: Booking, space_id: uuid.UUID, until: datetime, hold: Hold, now: datetime) -> bool:
    try:
        with db.session.begin_nested():
            space = _lock_space(space_id)
            _expire_due_holds(space.id, now)
            if not space.is_active or not is_free(space, booking.starts_at, until):
                raise _Taken
            db.session.add(booking)
            db.session.flush()
            hold.space_id, hold.pooled = space.id, space.kind == SpaceKind.POOL
            db.session.add(hold)
            db.session.flush()
    except (_Taken, IntegrityError):
        return False
    return True


def _description(lot: ParkingLot, starts_at: datetime, ends_at: datetime) -> str:
    start, end = starts_at.astimezone(LOCAL_TZ), ends_at.astimezone(LOCAL_TZ)
    return f"共享停车 {lot.name[:40]} {start:%m-%d %H:%M}至{end:%m-%d %H:%M}"


def _confirmed(booking: Booking) -> None:
    """What follows a confirmation: the gate's allow-list, and the driver told."""
    after_commit(PUSH_TASK, "booking", str(booking.id))
    driver = db.session.get(User, booking.user_id) if booking.user_id else None
    if driver is None:
        return
    notify(
        driver,
        "parking_booking_confirmed",
        {
            "lot_name": booking.lot.name,
            "space_code": booking.space.code,
            "plate": booking.plate or "",
            "starts_at": booking.starts_at,
            "ends_at": booking.ends_at,
            "starts_at_text": local_text(booking.starts_at),
            "ends_at_text": local_text(booking.ends_at),
            "booking_id": booking.id,
        },
        subject_path=booking.area_path,
        dedupe_key=f"parking-confirmed:{booking.id}:{booking.space_id}",
    )


def my_bookings(user: User) -> Select[tuple[Booking]]:
    return select(Booking).where(Booking.user_id == user.id)


def own_booking(user: User, booking_id: uuid.UUID) -> Booking:
    booking = db.session.get(Booking, booking_id)
    if booking is None or booking.user_id != user.id:
        raise NotFound()
    return booking


def _paid_order(booking: Booking) -> PaymentOrder | None:
    order = db.session.get(PaymentOrder, booking.order_id) if booking.order_id else None
    return order if order is not None and order.status == OrderStatus.PAID else None


def _end_with_refund(booking: Booking, full: bool, reason: str, by: str, now: datetime) -> None:
    """Cancel a held or confirmed booking (locked in the house order): an unpaid order is withdrawn, a paid one
    refunded in full when `full`."""
    move(booking, BookingStatus.CANCELLED, now)
    booking.cancelled_by, booking.cancel_reason = by, reason
    order = db.session.get(PaymentOrder, booking.order_id) if booking.order_id else None
    if order is not None and order.status == OrderStatus.PENDING:
        payments.close_order(order)
    elif order is not None and order.status == OrderStatus.PAID and full and order.refundable_fen > 0:
        booking.refund_fen = order.refundable_fen
        payments.refund(order, order.refundable_fen, reason[:80])
    if booking.allowlist_pushed_at is not None:
        after_commit(PUSH_TASK, "booking", str(booking.id))


def cancel_by_driver(user: User, booking_id: uuid.UUID, accept_no_refund: bool, now: datetime) -> Booking:
    """Free until `PARKING_FREE_CANCEL_MINUTES` before the start; later only when the driver accepts no refund."""
    own_booking(user, booking_id)
    booking = _locked_booking_of(booking_id)
    if booking.status not in (BookingStatus.HELD, BookingStatus.CONFIRMED):
        raise ApiError("booking_not_changeable", state=STATUS_ZH[booking.status.value])
    cutoff = booking.starts_at - timedelta(minutes=settings().parking_free_cancel_minutes)
    refundable = booking.status == BookingStatus.HELD or now < cutoff
    if not refundable and not accept_no_refund:
        raise ApiError("cancel_not_refundable", cutoff=local_text(cutoff))
    _end_with_refund(booking, refundable, "用户取消", "driver", now)
    return booking


def cancel_for_driver(actor: User, booking: Booking, by: str, reason: str, now: datetime) -> Booking:
    """A lender or staff cancels: a full refund, and the driver told at once."""
    booking = _locked_booking_of(booking.id)
    if booking.status not in (BookingStatus.HELD, BookingStatus.CONFIRMED):
        raise ApiError("booking_not_changeable", state=STATUS_ZH[booking.status.value])
    _end_with_refund(booking, True, reason, by, now)
    _tell_cancelled(booking, reason)
    return booking


def _tell_cancelled(booking: Booking, reason: str) -> None:
    driver = db.session.get(User, booking.user_id) if booking.user_id else None
    if driver is None:
        return
    refund_text = f"已全额退款 {yuan(booking.refund_fen)} 元，原路退回。" if booking.refund_fen else ""
    notify(
        driver,
        "parking_booking_cancelled",
        {
            "lot_name": booking.lot.name,
            "starts_at": booking.starts_at,
            "starts_at_text": local_text(booking.starts_at),
            "reason": reason,
            "refund_text": refund_text,
            "booking_id": booking.id,
        },
        subject_path=booking.area_path,
        dedupe_key=f"parking-cancelled:{booking.id}",
    )


def staff_booking(staff: User, booking_id: uuid.UUID) -> Booking:
    return scope.ensure_visible(staff, db.session.get(Booking, booking_id))


def extend(user: User, booking_id: uuid.UUID, ends_at: datetime, now: datetime) -> Booking:
    """More time on the same space, only if it is free (the same guard as a booking) and inside the window;
    the extra time is billed at the filed rate with the stay."""
    config = settings()
    own_booking(user, booking_id)
    booking = _locked_booking_of(booking_id)
    if booking.status not in (BookingStatus.CONFIRMED, BookingStatus.IN_PROGRESS):
        raise ApiError("booking_not_changeable", state=STATUS_ZH[booking.status.value])
    if ends_at <= booking.ends_at:
        raise ApiError("period_invalid", errors={"ends_at": ["须晚于当前结束时间"]}, problem="须晚于当前结束时间")
    if ends_at - booking.starts_at > MAX_STAY:
        raise ApiError("period_invalid", errors={"ends_at": ["最长 7 天"]}, problem="最长 7 天")
    offers = _approved_offers([booking.lot_id])
    offer = offers.get((booking.lot_id, booking.lender_id))
    fit = windows.fit(offer.rules, offer.blocked_dates, booking.starts_at, ends_at) if offer else None
    if fit is None or fit.window is None:
        problem = fit.problem if fit is not None and fit.problem else "共享时段已撤回"
        raise ApiError("outside_window", errors={"ends_at": [problem]}, window=problem)
    space = db.session.get(ParkingSpace, booking.space_id)
    assert space is not None
    own_hold = Hold.booking_id == booking.id
    new_until = _until(ends_at, config)
    if not is_free(space, booking.starts_at, new_until, exclude=~own_hold):
        raise ApiError("space_taken")
    added = price(booking.lot, booking.starts_at, ends_at) - price(booking.lot, booking.starts_at, booking.ends_at)
    try:
        with db.session.begin_nested():
            db.session.execute(
                update(Hold)
                .where(own_hold, Hold.released_at.is_(None))
                .values(until=new_until)
                .execution_options(synchronize_session=False)
            )
    except IntegrityError:
        raise ApiError("space_taken") from None
    booking.ends_at, booking.extension_fen = ends_at, booking.extension_fen + max(0, added)
    booking.warned_at = None
    if booking.allowlist_pushed_at is not None:
        after_commit(PUSH_TASK, "booking", str(booking.id))
    return booking


def change_plate(user: User, booking_id: uuid.UUID, vehicle_id: uuid.UUID) -> Booking:
    """Another of my vehicles, until the car has entered."""
    own_booking(user, booking_id)
    vehicle = usable_vehicle(user, vehicle_id)
    booking = _lock_booking(booking_id)
    if booking.status not in (BookingStatus.HELD, BookingStatus.CONFIRMED):
        raise ApiError("booking_not_changeable", state=STATUS_ZH[booking.status.value])
    booking.vehicle_id, booking.plate = vehicle.id, vehicle.plate
    if booking.status == BookingStatus.CONFIRMED:
        after_commit(PUSH_TASK, "booking", str(booking.id))
    return booking


def retake(booking: Booking, now: datetime) -> bool:
    """A payment arrived after the hold lapsed: take the time again if it is still free (space locked)."""
    space = _lock_space(booking.space_id)
    hold = Hold(booking_id=booking.id, starts_at=booking.starts_at, until=_until(booking.ends_at, settings()))
    try:
        with db.session.begin_nested():
            if not space.is_active or not is_free(space, booking.starts_at, hold.until):
                raise _Taken
            hold.space_id, hold.pooled = space.id, space.kind == SpaceKind.POOL
            db.session.add(hold)
            db.session.flush()
    except (_Taken, IntegrityError):
        return False
    return True


# ------------------------------------------------------------------------------------------------
# No-shows, an occupied space on arrival
# ------------------------------------------------------------------------------------------------


def release_no_shows(now: datetime) -> int:
    """Confirmed bookings nobody entered (no session, no occupied sensor) by start + the no-show time: the space
    is released for the rest of the period, the price is kept (the rule in the quote), the driver told."""
    config = settings()
    cutoff = now - timedelta(minutes=config.parking_no_show_minutes)
    ids = list(
        db.session.scalars(
            select(Booking.id)
            .where(Booking.status == BookingStatus.CONFIRMED, Booking.starts_at <= cutoff)
            .order_by(Booking.starts_at)
            .limit(500)
        )
    )
    from api.parking import sensors  # the sensor's word on the bay (same domain, one floor)

    released = 0
    for booking_id in ids:
        booking = _locked_booking_of(booking_id)
        if booking.status != BookingStatus.CONFIRMED:
            continue
        if sensors.occupied_since(booking.space_id, booking.starts_at):
            continue  # a road space whose sensor saw a car: it came, without a gate to tell
        move(booking, BookingStatus.NO_SHOW, now)
        released += 1
        if booking.allowlist_pushed_at is not None:
            after_commit(PUSH_TASK, "booking", str(booking.id))
        driver = db.session.get(User, booking.user_id) if booking.user_id else None
        if driver is not None:
            notify(
                driver,
                "parking_no_show",
                {
                    "lot_name": booking.lot.name,
                    "starts_at_text": local_text(booking.starts_at),
                    "minutes": config.parking_no_show_minutes,
                    "booking_id": booking.id,
                },
                subject_path=booking.area_path,
                dedupe_key=f"parking-no-show:{booking.id}",
            )
    return released


def report_occupied(user: User, booking_id: uuid.UUID, now: datetime) -> dict[str, Any]:
    """The driver finds the booked space occupied: in one step another free space of the lot for the same
    period (same price), or a full refund — and a case for staff either way."""
    from api.parking import gates, sensors

    own_booking(user, booking_id)
    booking = _locked_booking_of(booking_id)
    if booking.status != BookingStatus.CONFIRMED or now < booking.starts_at - timedelta(minutes=30):
        raise ApiError("booking_not_changeable", state=STATUS_ZH[booking.status.value])
    if sensors.reads_vacant(booking.space_id):
        raise ApiError("not_occupied")
    config = settings()
    until = _until(booking.ends_at, config)
    old_space = booking.space
    offered, _misfit = _bookable([booking.lot], max(booking.starts_at, now), booking.ends_at)
    others = [s for s in (offered[0].spaces if offered else []) if s.id != booking.space_id]
    moved_to = None
    for other in others:
        hold = Hold(booking_id=booking.id, starts_at=booking.starts_at, until=until)
        if _take(other.id, booking.starts_at, until, hold, now) is not None:
            moved_to = other
            break
    if moved_to is not None:
        # The new hold is in; the old one goes (the occupied bay is the lender's and staff's matter now).
        _release_holds((Hold.booking_id == booking.id) & (Hold.space_id == old_space.id), now)
        booking.space_id, booking.lender_id = moved_to.id, moved_to.lender_id
        db.session.flush()
        db.session.refresh(booking)
        outcome = "moved"
    else:
        _end_with_refund(booking, True, "车位被占用，全额退款", "system", now)
        _tell_cancelled(booking, "车位被占用")
        outcome = "refunded"
    gates.open_case(
        booking.lot,
        "occupied_on_arrival",
        plate=booking.plate,
        at=now,
        details=f"预约车位 {old_space.code} 被占用：{'已换至 ' + moved_to.code if moved_to else '已全额退款'}",
        dedupe_key=f"occupied:{booking.id}",
        booking_id=booking.id,
        reported_by_id=user.id,
    )
    if moved_to is not None:
        _confirmed_move(booking)
    return {"outcome": outcome, "booking": booking}


def _confirmed_move(booking: Booking) -> None:
    after_commit(PUSH_TASK, "booking", str(booking.id))
    driver = db.session.get(User, booking.user_id) if booking.user_id else None
    if driver is not None:
        notify(
            driver,
            "parking_space_moved",
            {"lot_name": booking.lot.name, "space_code": booking.space.code, "booking_id": booking.id},
            subject_path=booking.area_path,
            dedupe_key=f"parking-moved:{booking.id}:{booking.space_id}",
        )


# ------------------------------------------------------------------------------------------------
# Monthly off-peak passes
# ------------------------------------------------------------------------------------------------


def _add_months(day: date, months: int) -> date:
    month = day.month - 1 + months
    year, month = day.year + month // 12, month % 12 + 1
    for last in (31, 30, 29, 28):
        try:
            return date(year, month, min(day.day, last))
        except ValueError:
            continue
    raise ValueError(day)


def pass_days(
    rules: list[dict[str, Any]], blocked: list[str], start: time, end: time, first: date, months: int
) -> list[tuple[datetime, datetime]]:
    """The days of a pass whose daily window lies inside the lender's offer, as periods."""
    periods = []
    day, last = first, _add_months(first, months) - timedelta(days=1)
    while day <= last:
        begins = datetime.combine(day, start, tzinfo=LOCAL_TZ)
        finishes = datetime.combine(day + timedelta(days=1) if end <= start else day, end, tzinfo=LOCAL_TZ)
        if windows.fit(rules, blocked, begins, finishes).window is not None:
            periods.append((begins, finishes))
        day += timedelta(days=1)
    return periods


def buy_pass(user: User, values: dict[str, Any], now: datetime) -> ParkingPass:
    """A monthly pass: one plate, one daily window, whole months. Its days take the window on one space (the one
    named, or any that is free on every day); paid like a booking."""
    config = settings()
    vehicle = usable_vehicle(user, values["vehicle_id"])
    lot = db.session.get(ParkingLot, values["lot_id"])
    if lot is None or not lot.is_active:
        raise ApiError("validation_failed", errors={"lot_id": ["not found"]})
    if lot.pass_monthly_fen <= 0:
        raise ApiError("outside_window", errors={"lot_id": ["no monthly passes here"]}, window="本停车场不办理包月")
    start, end = windows.parse_hhmm(values["window_start"]), windows.parse_hhmm(values["window_end"])
    if start is None or end is None:
        raise ApiError("validation_failed", errors={"window_start": ["HH:MM"]})
    first, months = values["starts_on"], values["months"]
    if (
        first < now.astimezone(LOCAL_TZ).date()
        or first > (now + timedelta(days=config.parking_booking_horizon_days)).date()
    ):
        raise ApiError(
            "period_invalid", errors={"starts_on": ["today or within the booking horizon"]}, problem="开始日期无效"
        )
    offers = _approved_offers([lot.id])
    spaces = list(
        db.session.scalars(
            select(ParkingSpace)
            .where(ParkingSpace.lot_id == lot.id, ParkingSpace.is_active.is_(True))
            .where(ParkingSpace.id == values["space_id"] if values.get("space_id") else True)
            .order_by(ParkingSpace.code)
        )
    )
    for space in spaces:
        offer = offers.get((lot.id, space.lender_id))
        if offer is None:
            continue
        periods = pass_days(offer.rules, offer.blocked_dates, start, end, first, months)
        if not periods:
            raise ApiError(
                "outside_window",
                errors={"window_start": ["the daily window lies in no sharing window"]},
                window="、".join(windows.label(r) for r in offer.rules),
            )
        parking_pass = ParkingPass(
            id=new_id(),
            user_id=user.id,
            vehicle_id=vehicle.id,
            plate=vehicle.plate,
            lot_id=lot.id,
            space_id=space.id,
            area_path=lot.area_path,
            window_start=values["window_start"],
            window_end=values["window_end"],
            starts_on=first,
            ends_on=_add_months(first, months) - timedelta(days=1),
            months=months,
            days=len(periods),
            price_fen=lot.pass_monthly_fen * months,
            status=PassStatus.HELD,
            hold_expires_at=now + timedelta(minutes=config.parking_hold_minutes),
            created_at=now,
        )
        if _take_days(parking_pass, periods, config, now):
            order = payments.create_order(
                user,
                PURPOSE,
                f"pass:{parking_pass.id}",
                parking_pass.price_fen,
                f"错峰包月 {lot.name[:40]} {values['window_start']}-{values['window_end']} {months}个月",
                timedelta(minutes=config.parking_hold_minutes),
                area_path=lot.area_path,
            )
            parking_pass.order_id = order.id
            db.session.flush()
            return parking_pass
    raise ApiError("space_taken")


def _take_days(
    parking_pass: ParkingPass, periods: list[tuple[datetime, datetime]], config: Settings, now: datetime
) -> bool:
    """The pass and every one of its days on its space, or nothing (a savepoint)."""
    try:
        with db.session.begin_nested():
            space = _lock_space(parking_pass.space_id)
            _expire_due_holds(space.id, now)
            for begins, finishes in periods:
                if not space.is_active or not is_free(space, begins, _until(finishes, config)):
                    raise _Taken
            db.session.add(parking_pass)
            db.session.flush()
            db.session.add_all(
                Hold(
                    space_id=space.id,
                    pass_id=parking_pass.id,
                    pooled=space.kind == SpaceKind.POOL,
                    starts_at=begins,
                    until=_until(finishes, config),
                )
                for begins, finishes in periods
            )
            db.session.flush()
    except (_Taken, IntegrityError):
        return False
    return True


def my_passes(user: User) -> Select[tuple[ParkingPass]]:
    return select(ParkingPass).where(ParkingPass.user_id == user.id)


def own_pass(user: User, pass_id: uuid.UUID) -> ParkingPass:
    found = db.session.get(ParkingPass, pass_id)
    if found is None or found.user_id != user.id:
        raise NotFound()
    return found


def expire_holds(now: datetime) -> int:
    """Held bookings and passes not paid in time: their time is freed, their orders closed after the commit."""
    expired = 0
    for booking_id in list(
        db.session.scalars(
            select(Booking.id).where(Booking.status == BookingStatus.HELD, Booking.hold_expires_at <= now).limit(500)
        )
    ):
        booking = _locked_booking_of(booking_id)
        if booking.status == BookingStatus.HELD and booking.hold_expires_at and booking.hold_expires_at <= now:
            move(booking, BookingStatus.EXPIRED, now)
            if booking.order_id is not None:
                after_commit(CLOSE_ORDER_TASK, str(booking.order_id))
            expired += 1
    for parking_pass in list(
        db.session.scalars(
            select(ParkingPass).where(ParkingPass.status == PassStatus.HELD, ParkingPass.hold_expires_at <= now)
        )
    ):
        _lock_order(parking_pass.order_id)
        move_pass(parking_pass, PassStatus.EXPIRED, now)
        if parking_pass.order_id is not None:
            after_commit(CLOSE_ORDER_TASK, str(parking_pass.order_id))
        expired += 1
    # Passes whose months are over.
    today = now.astimezone(LOCAL_TZ).date()
    for parking_pass in db.session.scalars(
        select(ParkingPass).where(
            ParkingPass.status == PassStatus.ACTIVE, ParkingPass.ends_on < today - timedelta(days=1)
        )
    ):
        move_pass(parking_pass, PassStatus.EXPIRED, now)
    return expired


def close_order_later(order_id: uuid.UUID) -> str:
    """Withdraw the unpaid order of a lapsed hold (a task after the commit, in its own transaction)."""
    order = db.session.get(PaymentOrder, order_id)
    if order is None or order.status != OrderStatus.PENDING:
        return "nothing to do"
    payments.close_order(order, "expired")
    return "closed"


def overlapping_live(space_id: uuid.UUID, starts_at: datetime, ends_at: datetime) -> Select[Any]:
    """For checks: the live holds of a space overlapping a period."""
    return select(Hold).where(
        Hold.space_id == space_id, Hold.released_at.is_(None), Hold.starts_at < ends_at, Hold.until > starts_at
    )


def staff_bookings(staff: User, filters: dict[str, Any]) -> Select[tuple[Booking]]:
    stmt = scope.visible(staff, Booking)
    if filters.get("status") is not None:
        stmt = stmt.where(Booking.status == filters["status"])
    if filters.get("lot_id") is not None:
        stmt = stmt.where(Booking.lot_id == filters["lot_id"])
    if filters.get("starts_from") is not None:
        stmt = stmt.where(Booking.starts_at >= filters["starts_from"])
    if filters.get("starts_until") is not None:
        stmt = stmt.where(Booking.starts_at < filters["starts_until"])
    return stmt


def earnings(lender: User) -> list[dict[str, Any]]:
    """What my spaces earned per month (Asia/Shanghai): paid bookings, less what was refunded."""
    rows = db.session.execute(
        select(Booking.starts_at, PaymentOrder.amount_fen, PaymentOrder.refunded_fen)
        .join(PaymentOrder, PaymentOrder.id == Booking.order_id)
        .where(Booking.lender_id == lender.id, PaymentOrder.status == OrderStatus.PAID)
    ).all()
    months: dict[str, dict[str, Any]] = {}
    for starts_at, amount, refunded in rows:
        month = starts_at.astimezone(LOCAL_TZ).strftime("%Y-%m")
        entry = months.setdefault(month, {"month": month, "bookings": 0, "paid_fen": 0})
        entry["bookings"] += 1
        entry["paid_fen"] += amount - refunded
    return [months[m] for m in sorted(months, reverse=True)]


def staff_list(staff: User, model: Any, filters: dict[str, Any]) -> Select[Any]:
    """A staff list of `model` narrowed to their area and the given equality filters (None: not filtered)."""
    stmt = scope.visible(staff, model)
    for column, value in filters.items():
        if value is not None:
            stmt = stmt.where(getattr(model, column) == value)
    return stmt
