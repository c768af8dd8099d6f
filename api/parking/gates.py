"""Gate cameras (微卡口/道闸): the synchronous entry/exit decision, passage records (batched, late, out of
order) that open and close parking sessions and settle what a stay owes, the allow-list each lot's gate
system keeps so it opens while the link to Linli is down (per-vendor adapters, pushed after each change and
reconciled nightly), and the cases staff look into.

A gate system signs its calls like the IoT platform (`api.signedbatch`, secrets `PARKING_GATE_SECRETS`) and
speaks for the lots whose `gate_platform` is its id; a call about any other lot is answered as for an unknown
lot — a safe `hold`, logged.

Passages are applied in time order under the lot's row lock, so a batch replayed hours late, out of order or
twice still opens one session per stay: an entry while a session is open is a repeated trigger; an exit that
comes before its entry is kept, reported as an anomaly, and paired with the entry when it arrives.
"""

from __future__ import annotations

import logging
import threading
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Protocol

from sqlalchemy import select, text, update

from api import hygiene, signedbatch
from api.accounts.models import User
from api.db import db, new_id
from api.dialect import insert_on_conflict
from api.errors import ApiError
from api.fields import LOCAL_TZ, local_text
from api.jobs import after_commit
from api.notifications.services import notify
from api.parking import plates, services
from api.parking.models import (
    LIVE_BOOKING,
    Anomaly,
    AnomalyKind,
    AnomalyStatus,
    Booking,
    BookingStatus,
    Direction,
    ParkingLot,
    ParkingPass,
    ParkingSession,
    Passage,
    PassStatus,
    SessionStatus,
)
from api.payments import services as payments
from api.payments.models import OrderStatus, PaymentOrder

log = logging.getLogger(__name__)

MAX_BATCH = 1000
OPENED_BY = ("auto", "allow_list", "manual", "linli")
REPEAT_TRIGGER = timedelta(minutes=2)  # the same car at the same barrier again within this: one passage
FUTURE_TOLERANCE = timedelta(minutes=10)


# ------------------------------------------------------------------------------------------------
# Cases for staff
# ------------------------------------------------------------------------------------------------


def open_case(
    lot: ParkingLot,
    kind: str,
    *,
    plate: str | None,
    at: datetime,
    details: str,
    dedupe_key: str,
    booking_id: uuid.UUID | None = None,
    passage_id: uuid.UUID | None = None,
    reported_by_id: uuid.UUID | None = None,
) -> None:
    """An anomaly for staff, once per `dedupe_key` while it is open."""
    table = Anomaly.__table__
    db.session.execute(
        insert_on_conflict(table)
        .values(
            id=new_id(),
            lot_id=lot.id,
            area_path=lot.area_path,
            kind=AnomalyKind(kind).value,
            plate=plate,
            at=at,
            details=details[:200],
            dedupe_key=dedupe_key[:120],
            booking_id=booking_id,
            passage_id=passage_id,
            reported_by_id=reported_by_id,
            status=AnomalyStatus.OPEN.value,
            created_at=at,
        )
        .on_conflict_do_nothing(index_elements=[table.c.dedupe_key], index_where=text("status = 'open'"))
    )


def resolve_case(staff: User, anomaly_id: uuid.UUID, note: str, now: datetime) -> Anomaly:
    from api import scope

    anomaly = scope.ensure_visible(staff, db.session.get(Anomaly, anomaly_id))
    if anomaly.status == AnomalyStatus.OPEN:
        anomaly.status, anomaly.resolved_by_id, anomaly.resolved_at = AnomalyStatus.RESOLVED, staff.id, now
        anomaly.resolution_note = note
    return anomaly


def _resolve_automatically(dedupe_key: str, note: str, now: datetime) -> None:
    db.session.execute(
        update(Anomaly)
        .where(Anomaly.dedupe_key == dedupe_key, Anomaly.status == AnomalyStatus.OPEN)
        .values(status=AnomalyStatus.RESOLVED, resolved_at=now, resolution_note=note)
        .execution_options(synchronize_session=False)
    )


# ------------------------------------------------------------------------------------------------
# The synchronous decision
# ------------------------------------------------------------------------------------------------


@dataclass
class Decision:
    decision: str  # open | hold | deny
    reason: str
    display: str
    flagged: bool = False
    booking_id: uuid.UUID | None = None
    pass_id: uuid.UUID | None = None
    plate: str | None = None

    def as_dict(self) -> dict[str, Any]:
        return {
            "decision": self.decision,
            "reason": self.reason,
            "display": self.display,
            "flagged": self.flagged,
            "booking_id": self.booking_id,
            "pass_id": self.pass_id,
            "plate": self.plate,
        }


def _lot_for(platform: str, lot_id: Any) -> ParkingLot | None:
    try:
        key = uuid.UUID(str(lot_id))
    except (ValueError, TypeError):
        return None
    lot = db.session.get(ParkingLot, key)
    if lot is None or not lot.is_active or lot.gate_platform != platform:
        return None
    return lot


def _read_plates(body: dict[str, Any]) -> list[str]:
    """The plate read and the camera's other candidates, normalised, most confident first."""
    found = []
    raw = body.get("plate")
    if isinstance(raw, str) and hygiene.text_problem(raw) is None:
        found.append(plates.normalise(raw)[:10])
    candidates = body.get("candidates")
    if isinstance(candidates, list):
        ranked = [c for c in candidates[:10] if isinstance(c, dict) and isinstance(c.get("plate"), str)]
        ranked.sort(key=lambda c: -float(c["confidence"]) if isinstance(c.get("confidence"), int | float) else 0.0)
        for candidate in ranked:
            if hygiene.text_problem(candidate["plate"]) is None:
                found.append(plates.normalise(candidate["plate"])[:10])
    return [p for p in dict.fromkeys(found) if p]


def _unpaid_bill(plate: str) -> PaymentOrder | None:
    return db.session.scalar(
        select(PaymentOrder)
        .join(ParkingSession, ParkingSession.order_id == PaymentOrder.id)
        .where(ParkingSession.plate == plate, PaymentOrder.status == OrderStatus.PENDING)
        .limit(1)
    )


def _open_session(lot_id: uuid.UUID, plate: str, before: datetime | None = None) -> ParkingSession | None:
    stmt = select(ParkingSession).where(
        ParkingSession.lot_id == lot_id, ParkingSession.plate == plate, ParkingSession.status == SessionStatus.OPEN
    )
    if before is not None:
        stmt = stmt.where(ParkingSession.entered_at <= before)
    return db.session.scalar(stmt.order_by(ParkingSession.entered_at.desc()).limit(1))


@dataclass(frozen=True)
class Valid:
    """A booking whose time covers a moment: what a gate needs of it, and nothing it does not (no joins)."""

    id: uuid.UUID
    plate: str | None
    starts_at: datetime


def _bookings_now(lot_id: uuid.UUID, plate_list: list[str] | None, at: datetime, early: timedelta) -> list[Valid]:
    """Bookings of the lot whose time covers `at` (the early-entry allowance included); `plate_list` None: any."""
    stmt = select(Booking.id, Booking.plate, Booking.starts_at).where(
        Booking.lot_id == lot_id,
        Booking.status.in_((BookingStatus.CONFIRMED, BookingStatus.IN_PROGRESS, BookingStatus.NO_SHOW)),
        Booking.starts_at <= at + early,
        Booking.ends_at > at,
    )
    if plate_list is not None:
        stmt = stmt.where(Booking.plate.in_(plate_list))
    return [Valid(*row) for row in db.session.execute(stmt.order_by(Booking.starts_at))]


def _pass_window(parking_pass: ParkingPass, at: datetime) -> tuple[datetime, datetime] | None:
    """The pass's daily window that holds `at` (yesterday's when it crosses midnight), if any."""
    start, end = (
        services.windows.parse_hhmm(parking_pass.window_start),
        services.windows.parse_hhmm(parking_pass.window_end),
    )
    assert start is not None and end is not None
    local = at.astimezone(LOCAL_TZ).date()
    for day in (local - timedelta(days=1), local):
        if not parking_pass.starts_on <= day <= parking_pass.ends_on:
            continue
        begins = datetime.combine(day, start, tzinfo=LOCAL_TZ)
        finishes = datetime.combine(day + timedelta(days=1) if end <= start else day, end, tzinfo=LOCAL_TZ)
        if begins <= at < finishes:
            return begins, finishes
    return None


def decide(platform: str, body: dict[str, Any], now: datetime) -> Decision:
    """open | hold | deny for a car at a lane, with the reason and what the gate's display says."""
    config = services.settings()
    lot = _lot_for(platform, body.get("lot_id"))
    direction = body.get("direction")
    if lot is None or direction not in ("entry", "exit"):
        log.warning(
            "gate decision from %r for unknown lot %r (or direction %r): hold", platform, body.get("lot_id"), direction
        )
        return Decision("hold", "unknown_lot", "请稍候，工作人员马上处理")
    read = _read_plates(body)
    if not read:
        return Decision("hold", "no_booking", "未识别车牌，请稍候")
    plate = read[0]
    early = timedelta(minutes=config.parking_early_entry_minutes)
    if direction == "exit":
        return _decide_exit(lot, plate, now)
    unpaid = _unpaid_bill(plate)
    if unpaid is not None:
        return Decision(
            "deny",
            "overstay_unpaid",
            f"{plate} 有未付停车费 {services.yuan(unpaid.amount_fen)} 元，请先在小程序支付",
            plate=plate,
        )
    inside = _open_session(lot.id, plate)
    if inside is not None:
        if now - inside.entered_at <= REPEAT_TRIGGER:
            return Decision("open", "duplicate_entry", f"{plate} 欢迎", booking_id=inside.booking_id, plate=plate)
        return Decision("hold", "duplicate_entry", f"{plate} 已在场内，请联系管理员", plate=plate)
    exact = [b for b in _bookings_now(lot.id, [plate], now, early)]
    if exact:
        return Decision("open", "booking_valid", f"{plate} 预约有效，欢迎", booking_id=exact[0].id, plate=plate)
    parking_pass = _pass_for(lot.id, plate)
    if parking_pass is not None:
        if _pass_window(parking_pass, now + early) is not None:
            return Decision("open", "pass_valid", f"{plate} 包月有效，欢迎", pass_id=parking_pass.id, plate=plate)
        return Decision(
            "hold",
            "early",
            f"包月时段 {parking_pass.window_start}–{parking_pass.window_end}，请在时段内入场",
            plate=plate,
        )
    later = db.session.scalar(
        select(Booking.starts_at)
        .where(
            Booking.lot_id == lot.id,
            Booking.plate == plate,
            Booking.status == BookingStatus.CONFIRMED,
            Booking.starts_at > now + early,
            Booking.starts_at < now + timedelta(hours=24),
        )
        .order_by(Booking.starts_at)
        .limit(1)
    )
    if later is not None:
        opens = later - early
        return Decision(
            "hold",
            "early",
            f"预约 {local_text(later)} 开始，请于 {opens.astimezone(LOCAL_TZ):%H:%M} 后入场",
            plate=plate,
        )
    # A one-character misread opens only when exactly one booking valid now is one character away.
    near = [
        b
        for b in _bookings_now(lot.id, None, now, early)
        if b.plate and any(plates.one_apart(p, b.plate) or p == b.plate for p in read)
    ]
    near_ids = {b.id for b in near}
    if len(near_ids) == 1:
        booking = near[0]
        open_case(
            lot,
            AnomalyKind.MISREAD_OPENED,
            plate=booking.plate,
            at=now,
            details=f"识别为 {plate}，按唯一相近预约 {plates.mask(booking.plate)} 放行",
            dedupe_key=f"misread:{booking.id}:{plate}",
            booking_id=booking.id,
        )
        return Decision(
            "open",
            "booking_valid",
            f"{booking.plate} 预约有效，欢迎",
            flagged=True,
            booking_id=booking.id,
            plate=booking.plate,
        )
    return Decision("hold", "no_booking", f"{plate} 未预约，请扫码预约或联系管理员", plate=plate)


def _pass_for(lot_id: uuid.UUID, plate: str) -> ParkingPass | None:
    return db.session.scalar(
        select(ParkingPass)
        .where(ParkingPass.lot_id == lot_id, ParkingPass.plate == plate, ParkingPass.status == PassStatus.ACTIVE)
        .limit(1)
    )


def _decide_exit(lot: ParkingLot, plate: str, now: datetime) -> Decision:
    session = _open_session(lot.id, plate)
    if session is None:
        # The gate may have let it in while the link was down: let it out, the passage will tell.
        unpaid = _unpaid_bill(plate)
        if unpaid is not None:
            return Decision(
                "deny", "overstay_unpaid", f"有未付停车费 {services.yuan(unpaid.amount_fen)} 元，请先支付", plate=plate
            )
        return Decision("hold", "no_booking", f"{plate} 无入场记录，请联系管理员", plate=plate)
    owed, detail = _charge(session, lot, now)
    reason = "pass_valid" if session.pass_id else ("booking_valid" if session.booking_id else "no_booking")
    display = (
        f"{plate} 一路顺风" if owed == 0 else f"{plate} {detail}，费用 {services.yuan(owed)} 元，出场后在小程序支付"
    )
    return Decision("open", reason, display, booking_id=session.booking_id, pass_id=session.pass_id, plate=plate)


# ------------------------------------------------------------------------------------------------
# Passage records
# ------------------------------------------------------------------------------------------------


@dataclass
class PassageItem:
    index: int
    event_id: str
    lot_id: uuid.UUID
    lane: str
    direction: Direction
    plate: str
    at: datetime
    opened_by: str


def _parse_passage(index: int, raw: Any, now: datetime) -> tuple[PassageItem | None, dict[str, list[str]]]:
    if not isinstance(raw, dict):
        return None, {"_item": ["must be an object"]}
    errors: dict[str, list[str]] = {}
    event_id = signedbatch.item_text(raw, "event_id", 64, errors)
    lane = signedbatch.item_text(raw, "lane", 32, errors)
    plate = plates.normalise(signedbatch.item_text(raw, "plate", 16, errors, required=False))[:10]
    direction = raw.get("direction")
    if direction not in ("entry", "exit"):
        errors["direction"] = ["entry or exit"]
    opened_by = raw.get("opened_by", "auto")
    if opened_by not in OPENED_BY:
        errors["opened_by"] = [f"one of {', '.join(OPENED_BY)}"]
    try:
        lot_id = uuid.UUID(str(raw.get("lot_id")))
    except ValueError:
        errors["lot_id"] = ["a lot id"]
        lot_id = uuid.UUID(int=0)
    at = signedbatch.item_time(raw, "at", now, FUTURE_TOLERANCE, errors)
    if errors or at is None:
        return None, errors
    return PassageItem(index, event_id, lot_id, lane, Direction(direction), plate, at, opened_by), {}


def ingest_passages(platform: str, items: list[Any], now: datetime) -> dict[str, Any]:
    """A batch of passage records: one result per item — accepted (with the session it opened, closed or
    joined), duplicate (by event id), unknown_lot, invalid."""
    if len(items) > MAX_BATCH:
        raise ApiError("gate_batch_too_large", limit=MAX_BATCH, count=len(items))
    results: list[dict[str, Any]] = []
    parsed: list[PassageItem] = []
    seen: set[str] = set()
    for index, raw in enumerate(items):
        item, errors = _parse_passage(index, raw, now)
        result: dict[str, Any] = {"event_id": signedbatch.item_event_id(raw)}
        results.append(result)
        if item is None:
            result.update(status="invalid", errors=errors)
        elif item.event_id in seen:
            result["status"] = "duplicate"
        else:
            seen.add(item.event_id)
            parsed.append(item)
    lots: dict[uuid.UUID, ParkingLot | None] = {}
    by_lot: dict[uuid.UUID, list[PassageItem]] = {}
    for item in parsed:
        if item.lot_id not in lots:
            lots[item.lot_id] = _lot_for(platform, item.lot_id)
        if lots[item.lot_id] is None:
            results[item.index]["status"] = "unknown_lot"
            continue
        by_lot.setdefault(item.lot_id, []).append(item)
    for lot_id in sorted(by_lot):  # one lock order for concurrent batches
        lot = db.session.scalar(select(ParkingLot).where(ParkingLot.id == lot_id).with_for_update(of=ParkingLot))
        assert lot is not None
        for item, passage in _store(platform, by_lot[lot_id], now):
            if passage is None:
                results[item.index]["status"] = "duplicate"
                continue
            outcome = _apply(lot, passage, now)
            results[item.index].update(status="accepted", **outcome)
    counts: dict[str, int] = {}
    for result in results:
        counts[result["status"]] = counts.get(result["status"], 0) + 1
    return {"results": results, "counts": counts}


def _store(platform: str, items: list[PassageItem], now: datetime) -> list[tuple[PassageItem, Passage | None]]:
    """Insert the new records (duplicates by event id fall away); in time order for applying."""
    table = Passage.__table__
    rows = {
        item.event_id: {
            "id": new_id(),
            "platform": platform,
            "event_id": item.event_id,
            "lot_id": item.lot_id,
            "lane": item.lane,
            "direction": item.direction.value,
            "plate": item.plate or None,
            "at": item.at,
            "opened_by": item.opened_by,
            "received_at": now,
        }
        for item in items
    }
    stmt = (
        insert_on_conflict(table)
        .on_conflict_do_nothing(index_elements=[table.c.platform, table.c.event_id])
        .returning(table.c.event_id, table.c.id)
    )
    new = dict(db.session.execute(stmt, list(rows.values())).all()) if rows else {}
    out = []
    for item in sorted(items, key=lambda i: (i.at, i.direction == Direction.EXIT)):
        passage = db.session.get(Passage, new[item.event_id]) if item.event_id in new else None
        out.append((item, passage))
    return out


def _apply(lot: ParkingLot, passage: Passage, now: datetime) -> dict[str, Any]:
    if not passage.plate:
        open_case(
            lot,
            AnomalyKind.UNBOOKED_ENTRY if passage.direction == Direction.ENTRY else AnomalyKind.EXIT_WITHOUT_SESSION,
            plate=None,
            at=passage.at,
            details=f"{passage.lane} 车道未识别车牌（{passage.opened_by}）",
            dedupe_key=f"passage:{passage.id}",
            passage_id=passage.id,
        )
        return {"anomaly": "no_plate"}
    if passage.direction == Direction.ENTRY:
        return _apply_entry(lot, passage, now)
    return _apply_exit(lot, passage, now)


def _apply_entry(lot: ParkingLot, passage: Passage, now: datetime) -> dict[str, Any]:
    plate = passage.plate
    assert plate is not None
    inside = db.session.scalar(
        select(ParkingSession)
        .where(
            ParkingSession.lot_id == lot.id,
            ParkingSession.plate == plate,
            ParkingSession.entered_at <= passage.at,
            (ParkingSession.exited_at.is_(None)) | (ParkingSession.exited_at > passage.at),
        )
        .limit(1)
    )
    if inside is not None:
        passage.session_id = inside.id  # the car was inside then: a repeated trigger, never a second session
        return {"session_id": str(inside.id), "session": "repeated"}
    # An exit recorded before this entry arrived (a camera replaying its offline records).
    exit_first = db.session.scalar(
        select(Passage)
        .where(
            Passage.lot_id == lot.id,
            Passage.plate == plate,
            Passage.direction == Direction.EXIT,
            Passage.session_id.is_(None),
            Passage.at >= passage.at,
        )
        .order_by(Passage.at)
        .limit(1)
    )
    session = _start(lot, passage, now)
    if exit_first is not None:
        _close(session, lot, exit_first, now)
        _resolve_automatically(f"passage:{exit_first.id}", "入场记录补传后已配对", now)
        return {"session_id": str(session.id), "session": "closed"}
    return {"session_id": str(session.id), "session": "opened"}


def _start(lot: ParkingLot, passage: Passage, now: datetime) -> ParkingSession:
    config = services.settings()
    early = timedelta(minutes=config.parking_early_entry_minutes)
    plate = passage.plate
    assert plate is not None
    booking = next(iter(_bookings_now(lot.id, [plate], passage.at, early)), None)
    parking_pass = _pass_for(lot.id, plate) if booking is None else None
    session = ParkingSession(
        id=new_id(),
        lot_id=lot.id,
        area_path=lot.area_path,
        plate=plate,
        status=SessionStatus.OPEN,
        entered_at=passage.at,
        created_at=now,
    )
    if booking is not None:
        booking = services._lock_booking(booking.id)
        session.booking_id, session.space_id, session.user_id = booking.id, booking.space_id, booking.user_id
        if booking.status in (BookingStatus.CONFIRMED, BookingStatus.NO_SHOW):
            # A no-show that the camera's late record proves was not one comes back (its time stays released).
            booking.status = BookingStatus.IN_PROGRESS
            booking.ended_at = None
    elif parking_pass is not None:
        session.pass_id, session.space_id, session.user_id = (
            parking_pass.id,
            parking_pass.space_id,
            parking_pass.user_id,
        )
    else:
        open_case(
            lot,
            AnomalyKind.UNBOOKED_ENTRY,
            plate=plate,
            at=passage.at,
            details=f"{passage.lane} 车道无预约入场（{passage.opened_by}）",
            dedupe_key=f"passage:{passage.id}",
            passage_id=passage.id,
        )
    db.session.add(session)
    db.session.flush()
    passage.session_id = session.id
    return session


def _apply_exit(lot: ParkingLot, passage: Passage, now: datetime) -> dict[str, Any]:
    plate = passage.plate
    assert plate is not None
    session = _open_session(lot.id, plate, before=passage.at)
    if session is not None:
        _close(session, lot, passage, now)
        return {"session_id": str(session.id), "session": "closed", "charge_fen": session.charge_fen}
    repeated = db.session.scalar(
        select(ParkingSession)
        .where(
            ParkingSession.lot_id == lot.id,
            ParkingSession.plate == plate,
            ParkingSession.status == SessionStatus.CLOSED,
            ParkingSession.exited_at <= passage.at,
            ParkingSession.exited_at >= passage.at - REPEAT_TRIGGER,
        )
        .limit(1)
    )
    if repeated is not None:
        passage.session_id = repeated.id
        return {"session_id": str(repeated.id), "session": "repeated"}
    open_case(
        lot,
        AnomalyKind.EXIT_WITHOUT_SESSION,
        plate=plate,
        at=passage.at,
        details=f"{passage.lane} 车道出场，无入场记录（{passage.opened_by}）",
        dedupe_key=f"passage:{passage.id}",
        passage_id=passage.id,
    )
    return {"anomaly": AnomalyKind.EXIT_WITHOUT_SESSION.value}


def _charge(session: ParkingSession, lot: ParkingLot, exited_at: datetime) -> tuple[int, str]:
    """What a stay owes at `exited_at`, and in words: overstay past the booking at the filed overstay rate (each
    started hour) plus booked extensions; a pass's time outside its daily window, and an unbooked stay, at the
    filed hourly rate."""
    if session.booking_id is not None:
        booking = db.session.get(Booking, session.booking_id)
        assert booking is not None
        over = (exited_at - booking.ends_at).total_seconds()
        hours = services.started_hours(over)
        amount = hours * lot.overstay_rate_fen + booking.extension_fen
        parts = []
        if hours:
            parts.append(f"超时 {hours} 小时")
        if booking.extension_fen:
            parts.append(f"续时 {services.yuan(booking.extension_fen)} 元")
        return amount, "，".join(parts)
    if session.pass_id is not None:
        parking_pass = db.session.get(ParkingPass, session.pass_id)
        assert parking_pass is not None
        outside = _seconds_outside(parking_pass, session.entered_at, exited_at)
        hours = services.started_hours(outside)
        return hours * lot.hourly_rate_fen, f"包月时段外 {hours} 小时" if hours else ""
    amount = services.price(lot, session.entered_at, exited_at)
    return amount, "临时停车"


def _seconds_outside(parking_pass: ParkingPass, entered: datetime, exited: datetime) -> float:
    """Seconds of [entered, exited) outside the pass's daily windows (checked minute by minute at most a week)."""
    outside = 0.0
    moment = entered
    step = timedelta(minutes=1)
    stop = min(exited, entered + timedelta(days=7))
    while moment < stop:
        if _pass_window(parking_pass, moment) is None:
            outside += step.total_seconds()
        moment += step
    return outside + max(0.0, (exited - stop).total_seconds())


def _close(session: ParkingSession, lot: ParkingLot, passage: Passage, now: datetime) -> None:
    session.status, session.exited_at = SessionStatus.CLOSED, passage.at
    passage.session_id = session.id
    amount, detail = _charge(session, lot, passage.at)
    session.charge_fen, session.charge_detail = amount, detail[:200]
    if session.booking_id is not None:
        booking = services._lock_booking(session.booking_id)
        session.overstay_minutes = max(0, int((passage.at - booking.ends_at).total_seconds() // 60))
        if booking.status in (BookingStatus.IN_PROGRESS, BookingStatus.CONFIRMED, BookingStatus.NO_SHOW):
            booking.status = BookingStatus.COMPLETED
            booking.ended_at = passage.at
            services._release_holds(services.Hold.booking_id == booking.id, now)
    db.session.flush()
    if amount <= 0 or session.user_id is None:
        return
    payer = db.session.get(User, session.user_id)
    if payer is None:
        return
    order = payments.create_order(
        payer,
        services.PURPOSE,
        f"session:{session.id}",
        min(amount, payments.current_settings().payments_max_amount_fen),
        f"停车费 {lot.name[:40]} {detail}"[:127],
        timedelta(days=7),
        area_path=lot.area_path,
    )
    session.order_id = order.id
    notify(
        payer,
        "parking_session_bill",
        {
            "lot_name": lot.name,
            "entered_at_text": local_text(session.entered_at),
            "exited_at_text": local_text(session.exited_at),
            "amount_yuan": services.yuan(amount),
            "detail": detail,
            "session_id": session.id,
        },
        subject_path=lot.area_path,
        dedupe_key=f"parking-bill:{session.id}",
    )


def my_sessions(user: User) -> Any:
    return select(ParkingSession).where(ParkingSession.user_id == user.id)


def warn_overstay(now: datetime) -> int:
    """Cars still parked 15 minutes before their booking ends: told once, with the offer to extend."""
    config = services.settings()
    soon = now + timedelta(minutes=config.parking_overstay_warning_minutes)
    bookings = list(
        db.session.scalars(
            select(Booking).where(
                Booking.status == BookingStatus.IN_PROGRESS,
                Booking.warned_at.is_(None),
                Booking.ends_at <= soon,
                Booking.ends_at > now,
            )
        )
    )
    for booking in bookings:
        booking.warned_at = now
        driver = db.session.get(User, booking.user_id) if booking.user_id else None
        if driver is None:
            continue
        notify(
            driver,
            "parking_overstay_warning",
            {
                "lot_name": booking.lot.name,
                "ends_at": booking.ends_at,
                "ends_at_text": local_text(booking.ends_at),
                "overstay_yuan": services.yuan(booking.lot.overstay_rate_fen),
                "booking_id": booking.id,
            },
            subject_path=booking.area_path,
            dedupe_key=f"parking-overstay:{booking.id}:{booking.ends_at.isoformat()}",
        )
    return len(bookings)


# ------------------------------------------------------------------------------------------------
# Allow-lists on the gate systems
# ------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class AllowEntry:
    key: str  # "booking:<id>" or "pass:<id>"
    plate: str
    valid_from: datetime
    valid_until: datetime


class GateAdapter(Protocol):
    """One vendor's way to keep a lot's allow-list: push entries, remove them, list what it holds."""

    def push(self, lot: ParkingLot, entries: list[AllowEntry]) -> None: ...

    def remove(self, lot: ParkingLot, keys: list[str]) -> None: ...

    def entries(self, lot: ParkingLot) -> dict[str, AllowEntry] | None: ...


class NoGate:
    """A lot without a gate system (road spaces): nothing to keep."""

    def push(self, lot: ParkingLot, entries: list[AllowEntry]) -> None:
        return None

    def remove(self, lot: ParkingLot, keys: list[str]) -> None:
        return None

    def entries(self, lot: ParkingLot) -> dict[str, AllowEntry] | None:
        return None


class FakeGate:
    """The gate system of tests and the demo: keeps each lot's list in this process; `unreachable` makes every
    call fail, as a gate link that is down."""

    lists: dict[uuid.UUID, dict[str, AllowEntry]] = {}  # noqa: RUF012 (one shared fake per process)
    unreachable = False
    _lock = threading.Lock()

    def _check(self) -> None:
        if FakeGate.unreachable:
            raise ConnectionError("the fake gate system does not answer")

    def push(self, lot: ParkingLot, entries: list[AllowEntry]) -> None:
        self._check()
        with FakeGate._lock:
            FakeGate.lists.setdefault(lot.id, {}).update({e.key: e for e in entries})

    def remove(self, lot: ParkingLot, keys: list[str]) -> None:
        self._check()
        with FakeGate._lock:
            for key in keys:
                FakeGate.lists.setdefault(lot.id, {}).pop(key, None)

    def entries(self, lot: ParkingLot) -> dict[str, AllowEntry] | None:
        self._check()
        with FakeGate._lock:
            return dict(FakeGate.lists.get(lot.id, {}))


ADAPTERS: dict[str, type] = {"none": NoGate, "fake": FakeGate}


def adapter_for(lot: ParkingLot) -> GateAdapter:
    return ADAPTERS.get(lot.gate_vendor, NoGate)()


def _entry_of_booking(booking: Booking, early: timedelta) -> AllowEntry | None:
    if booking.status not in (BookingStatus.CONFIRMED, BookingStatus.IN_PROGRESS) or not booking.plate:
        return None
    return AllowEntry(f"booking:{booking.id}", booking.plate, booking.starts_at - early, booking.ends_at)


def _entry_of_pass(parking_pass: ParkingPass) -> AllowEntry | None:
    if parking_pass.status != PassStatus.ACTIVE or not parking_pass.plate:
        return None
    first = datetime.combine(parking_pass.starts_on, datetime.min.time(), tzinfo=LOCAL_TZ)
    last = datetime.combine(parking_pass.ends_on + timedelta(days=2), datetime.min.time(), tzinfo=LOCAL_TZ)
    return AllowEntry(f"pass:{parking_pass.id}", parking_pass.plate, first, last)


def push_allowlist(kind: str, record_id: uuid.UUID, now: datetime) -> str:
    """Bring one booking's or pass's line on its lot's gate system up to date (after the commit that changed it;
    the nightly reconciliation mends what a failed push left)."""
    early = timedelta(minutes=services.settings().parking_early_entry_minutes)
    record: Booking | ParkingPass | None = db.session.get(Booking if kind == "booking" else ParkingPass, record_id)
    if record is None:
        return "gone"
    lot = db.session.get(ParkingLot, record.lot_id)
    assert lot is not None
    entry = _entry_of_booking(record, early) if isinstance(record, Booking) else _entry_of_pass(record)
    adapter = adapter_for(lot)
    try:
        if entry is not None and entry.valid_until > now:
            adapter.push(lot, [entry])
        else:
            adapter.remove(lot, [f"{kind}:{record.id}"])
    except Exception:
        log.warning("allow-list push to lot %s failed; the nightly reconciliation will retry", lot.id, exc_info=True)
        return "failed"
    record.allowlist_pushed_at = now
    return "pushed" if entry is not None else "removed"


def desired_allowlist(lot: ParkingLot, now: datetime) -> dict[str, AllowEntry]:
    early = timedelta(minutes=services.settings().parking_early_entry_minutes)
    wanted: dict[str, AllowEntry] = {}
    for booking in db.session.scalars(
        select(Booking).where(Booking.lot_id == lot.id, Booking.status.in_(LIVE_BOOKING[1:]), Booking.ends_at > now)
    ):
        entry = _entry_of_booking(booking, early)
        if entry is not None:
            wanted[entry.key] = entry
    for parking_pass in db.session.scalars(
        select(ParkingPass).where(ParkingPass.lot_id == lot.id, ParkingPass.status == PassStatus.ACTIVE)
    ):
        entry = _entry_of_pass(parking_pass)
        if entry is not None and entry.valid_until > now:
            wanted[entry.key] = entry
    return wanted


def reconcile_allowlist(lot: ParkingLot, now: datetime) -> dict[str, int]:
    """Make a lot's gate system hold exactly what it should: missing or changed lines pushed, stale ones removed."""
    adapter = adapter_for(lot)
    try:
        held = adapter.entries(lot)
        if held is None:
            return {"pushed": 0, "removed": 0}
        wanted = desired_allowlist(lot, now)
        push = [e for key, e in wanted.items() if held.get(key) != e]
        remove = [key for key in held if key not in wanted]
        if push:
            adapter.push(lot, push)
        if remove:
            adapter.remove(lot, remove)
    except Exception:
        log.warning("allow-list reconciliation of lot %s failed", lot.id, exc_info=True)
        return {"pushed": 0, "removed": 0, "failed": 1}
    lot.allowlist_reconciled_at = now
    return {"pushed": len(push), "removed": len(remove)}


def reconcile_all(now: datetime) -> dict[str, int]:
    totals = {"lots": 0, "pushed": 0, "removed": 0}
    for lot in db.session.scalars(
        select(ParkingLot).where(ParkingLot.is_active.is_(True), ParkingLot.gate_vendor != "none")
    ):
        done = reconcile_allowlist(lot, now)
        totals["lots"] += 1
        totals["pushed"] += done.get("pushed", 0)
        totals["removed"] += done.get("removed", 0)
    return totals


def enqueue_push(kind: str, record_id: uuid.UUID) -> None:
    after_commit(services.PUSH_TASK, kind, str(record_id))
