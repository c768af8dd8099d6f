"""The rules of rehabilitation aids lending (康复辅具共享): the catalogue of aid types, stations and their stock
(staff), availability as residents see it (counts, nobody named), reservations by a resident for themselves or
for an elder they are a confirmed family member of, the deposit through payments, the hand-out and the return
with condition notes and photos, renewal (once, when nobody waits), waiting for an aid, and the beat's jobs:
reservations not picked up expire, borrowers are reminded before the due date, overdue loans go to the
station's staff.

An item is in one live loan at a time: a reservation takes the item's row lock (`SELECT … FOR UPDATE`) inside a
savepoint, looks again whether it is free and inserts the loan; the partial unique index on live loans has the
last word (an IntegrityError there means "taken", the next item is tried). Lock order, the same everywhere so
nothing waits in a circle: the payment order (payments holds it when WeChat Pay reports) → the item → the loan.
Services never commit; the request (or task) does.
"""

from __future__ import annotations

import random
import uuid
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Select, and_, case, exists, func, literal, or_, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import selectinload

from api import scope
from api.accounts.models import Area, Role, User, UserRole
from api.aids.models import (
    LENDABLE,
    LIVE_LOAN,
    AidItem,
    AidLoan,
    AidLocation,
    AidType,
    AidWait,
    Condition,
    LoanStatus,
)
from api.config import Settings
from api.db import db, new_id
from api.eldercare import services as eldercare
from api.eldercare.models import Elder, ElderStatus
from api.errors import ApiError, NotFound
from api.extensions import get_settings
from api.fields import local_text
from api.media import services as media
from api.notifications.services import notify
from api.payments import services as payments
from api.payments.models import OrderStatus, PaymentOrder

PURPOSE = "aids_deposit"
LEND_PHOTOS = "aid_loan_out"
RETURN_PHOTOS = "aid_loan_return"
MAX_PHOTOS = 6
BATCH = 500

# The one state machine of a loan: where each status may go.
LOAN_MOVES: dict[LoanStatus, frozenset[LoanStatus]] = {
    LoanStatus.RESERVED: frozenset({LoanStatus.LENT, LoanStatus.EXPIRED, LoanStatus.CANCELLED}),
    LoanStatus.LENT: frozenset({LoanStatus.RETURNED}),
    LoanStatus.RETURNED: frozenset(),
    LoanStatus.EXPIRED: frozenset(),
    LoanStatus.CANCELLED: frozenset(),
}
STATUS_ZH = {"reserved": "待领取", "lent": "借用中", "returned": "已归还", "expired": "已过期", "cancelled": "已取消"}
CONDITION_ZH = {"good": "完好", "fair": "可用（有磨损）", "needs_repair": "待维修", "retired": "已报废"}


def settings() -> Settings:
    return get_settings()


def yuan(fen: int) -> str:
    return payments.yuan(fen)


def move(loan: AidLoan, to: LoanStatus, now: datetime) -> None:
    """The one way a loan changes status; a move the machine does not allow is a 409 naming the status."""
    if to not in LOAN_MOVES[loan.status]:
        raise ApiError("aid_loan_not_changeable", state=STATUS_ZH[loan.status.value])
    loan.status = to
    if to not in LIVE_LOAN:
        loan.ended_at = now
        loan.hold_until = None


def _locked(model: Any, key: uuid.UUID) -> Any:
    row = db.session.scalar(
        select(model).where(model.id == key).with_for_update(of=model).execution_options(populate_existing=True)
    )
    if row is None:
        raise NotFound()
    return row


def lock_loan(loan_id: uuid.UUID) -> AidLoan:
    """A loan locked in the house order: its payment order, its item, then itself."""
    loan = db.session.get(AidLoan, loan_id)
    if loan is None:
        raise NotFound()
    if loan.order_id is not None:
        db.session.execute(select(PaymentOrder.id).where(PaymentOrder.id == loan.order_id).with_for_update())
    _locked(AidItem, loan.item_id)
    return _locked(AidLoan, loan_id)


# ------------------------------------------------------------------------------------------------
# The catalogue and the stock (staff)
# ------------------------------------------------------------------------------------------------


def types(include_inactive: bool = False) -> list[AidType]:
    stmt = select(AidType).order_by(AidType.code)
    if not include_inactive:
        stmt = stmt.where(AidType.is_active.is_(True))
    return list(db.session.scalars(stmt))


def create_type(values: dict[str, Any]) -> AidType:
    aid_type = AidType(**values)
    db.session.add(aid_type)
    try:
        with db.session.begin_nested():
            db.session.flush()
    except IntegrityError:
        raise ApiError("validation_failed", errors={"code": ["already used by another type"]}) from None
    return aid_type


def update_type(type_id: uuid.UUID, changes: dict[str, Any]) -> AidType:
    aid_type = db.session.get(AidType, type_id)
    if aid_type is None:
        raise NotFound()
    for key, value in changes.items():
        setattr(aid_type, key, value)
    db.session.flush()
    return aid_type


def staff_location(staff: User, location_id: uuid.UUID) -> AidLocation:
    return scope.ensure_visible(staff, db.session.get(AidLocation, location_id))


def create_location(staff: User, values: dict[str, Any]) -> AidLocation:
    area = scope.area_for(staff, values.pop("area_id"))
    location = AidLocation(area_id=area.id, area_path=area.path, **values)
    db.session.add(location)
    db.session.flush()
    return location


def update_location(staff: User, location_id: uuid.UUID, changes: dict[str, Any]) -> AidLocation:
    location = staff_location(staff, location_id)
    for key, value in changes.items():
        setattr(location, key, value)
    db.session.flush()
    return location


def staff_item(staff: User, item_id: uuid.UUID) -> AidItem:
    return scope.ensure_visible(staff, db.session.get(AidItem, item_id))


def create_item(staff: User, values: dict[str, Any]) -> AidItem:
    location = scope.ensure_visible(staff, db.session.get(AidLocation, values["location_id"]), field="location_id")
    if db.session.get(AidType, values["type_id"]) is None:
        raise ApiError("validation_failed", errors={"type_id": ["no such aid type"]})
    item = AidItem(
        type_id=values["type_id"],
        location_id=location.id,
        area_path=location.area_path,
        asset_tag=values["asset_tag"],
        condition=values.get("condition") or Condition.GOOD,
        condition_note=values.get("condition_note") or "",
    )
    db.session.add(item)
    try:
        with db.session.begin_nested():
            db.session.flush()
    except IntegrityError:
        raise ApiError("validation_failed", errors={"asset_tag": ["already used by another item"]}) from None
    return item


def update_item(staff: User, item_id: uuid.UUID, changes: dict[str, Any], now: datetime) -> AidItem:
    """Staff record an item's condition (mended, worn, retired). Retiring one that is reserved or lent out is a
    409: it comes back first."""
    staff_item(staff, item_id)
    item = _locked(AidItem, item_id)
    was_lendable = item.condition in LENDABLE
    condition = changes.get("condition")
    if condition == Condition.RETIRED and live_loan_of(item.id) is not None:
        raise ApiError("aid_already_lent")
    for key, value in changes.items():
        setattr(item, key, value)
    db.session.flush()
    if not was_lendable and item.condition in LENDABLE and live_loan_of(item.id) is None:
        _wake_waiter(item.type_id, item.location_id, now)
    return item


def live_loan_of(item_id: uuid.UUID) -> AidLoan | None:
    return db.session.scalar(select(AidLoan).where(AidLoan.item_id == item_id, AidLoan.status.in_(LIVE_LOAN)))


def staff_list(staff: User, model: Any, filters: dict[str, Any]) -> Select[Any]:
    stmt = scope.visible(staff, model)
    for column, value in filters.items():
        if value is not None:
            stmt = stmt.where(getattr(model, column) == value)
    return stmt


def staff_loans(staff: User, filters: dict[str, Any], now: datetime) -> Select[tuple[AidLoan]]:
    stmt = staff_list(staff, AidLoan, {k: filters.get(k) for k in ("status", "location_id", "type_id", "elder_id")})
    # The page's borrowers and elders in one statement each, not one per loan (their roles are not shown).
    stmt = stmt.options(
        selectinload(AidLoan.user).lazyload(User.role_rows),
        selectinload(AidLoan.elder),
    )
    if filters.get("overdue"):
        stmt = stmt.where(AidLoan.status == LoanStatus.LENT, AidLoan.due_at <= now)
    if filters.get("due_before") is not None:
        stmt = stmt.where(AidLoan.status == LoanStatus.LENT, AidLoan.due_at < filters["due_before"])
    return stmt


def staff_loan(staff: User, loan_id: uuid.UUID) -> AidLoan:
    return scope.ensure_visible(staff, db.session.get(AidLoan, loan_id))


def stock(staff: User, now: datetime) -> list[dict[str, Any]]:
    """Per station of my area and kind: items, lendable, free, reserved, lent, overdue, waiting for repair — one
    grouped statement (an item is in at most one live loan, so the outer join does not multiply it)."""
    live = AidLoan.__table__.alias("live")
    stmt = scope.visible(
        staff,
        select(
            AidItem.location_id,
            AidItem.type_id,
            func.count().label("items"),
            func.sum(case((AidItem.condition.in_(LENDABLE), 1), else_=0)).label("lendable"),
            func.sum(case((and_(AidItem.condition.in_(LENDABLE), live.c.id.is_(None)), 1), else_=0)).label("free"),
            func.sum(case((live.c.status == LoanStatus.RESERVED.value, 1), else_=0)).label("reserved"),
            func.sum(case((live.c.status == LoanStatus.LENT.value, 1), else_=0)).label("lent"),
            func.sum(case((and_(live.c.status == LoanStatus.LENT.value, live.c.due_at <= now), 1), else_=0)).label(
                "overdue"
            ),
            func.sum(case((AidItem.condition == Condition.NEEDS_REPAIR, 1), else_=0)).label("needs_repair"),
        )
        .select_from(AidItem)
        .outerjoin(live, and_(live.c.item_id == AidItem.id, live.c.status.in_([s.value for s in LIVE_LOAN])))
        .where(AidItem.condition != Condition.RETIRED)
        .group_by(AidItem.location_id, AidItem.type_id),
        path=AidItem.area_path,
    )
    rows = db.session.execute(stmt).all()
    locations = {
        x.id: x
        for x in db.session.scalars(select(AidLocation).where(AidLocation.id.in_({r.location_id for r in rows})))
    }
    kinds = {t.id: t for t in db.session.scalars(select(AidType).where(AidType.id.in_({r.type_id for r in rows})))}
    counted = ("items", "lendable", "free", "reserved", "lent", "overdue", "needs_repair")
    items = [
        {
            "location": locations[r.location_id],
            "type": kinds[r.type_id],
            **{k: int(getattr(r, k) or 0) for k in counted},
        }
        for r in rows
    ]
    return sorted(items, key=lambda i: (i["location"].name, i["type"].code))


# ------------------------------------------------------------------------------------------------
# Availability (residents): counts per type and station, nobody named
# ------------------------------------------------------------------------------------------------


def _free() -> Any:
    """SQL: the item (`AidItem`) is in no live loan."""
    return ~exists().where(AidLoan.item_id == AidItem.id, AidLoan.status.in_(LIVE_LOAN))


def availability(type_id: uuid.UUID | None, area_id: uuid.UUID | None) -> list[dict[str, Any]]:
    """Per station and type: the lendable items and how many are free now, and how many people wait."""
    lendable = AidItem.condition.in_(LENDABLE)
    waiting = (
        select(func.count())
        .select_from(AidWait)
        .where(
            AidWait.type_id == AidItem.type_id,
            AidWait.location_id == AidItem.location_id,
            AidWait.ended_at.is_(None),
        )
        .correlate(AidItem)
        .scalar_subquery()
    )
    stmt = (
        select(
            AidItem.location_id,
            AidItem.type_id,
            func.count().label("total"),
            func.sum(case((_free(), 1), else_=0)).label("free"),
            func.max(waiting).label("waiting"),
        )
        .join(AidLocation, AidLocation.id == AidItem.location_id)
        .join(AidType, AidType.id == AidItem.type_id)
        .where(lendable, AidLocation.is_active.is_(True), AidType.is_active.is_(True))
        .group_by(AidItem.location_id, AidItem.type_id)
    )
    if type_id is not None:
        stmt = stmt.where(AidItem.type_id == type_id)
    if area_id is not None:
        area = db.session.get(Area, area_id)
        if area is None:
            raise ApiError("validation_failed", errors={"area_id": ["no such area"]})
        # A station in the area or above it (a subdistrict station serves every committee).
        stmt = stmt.where(
            or_(
                AidLocation.area_path.startswith(area.path, autoescape=True),
                literal(area.path).startswith(AidLocation.area_path),
            )
        )
    rows = db.session.execute(stmt).all()
    locations = {
        loc.id: loc
        for loc in db.session.scalars(select(AidLocation).where(AidLocation.id.in_({r.location_id for r in rows})))
    }
    kinds = {t.id: t for t in db.session.scalars(select(AidType).where(AidType.id.in_({r.type_id for r in rows})))}
    items = [
        {
            "location": locations[r.location_id],
            "type": kinds[r.type_id],
            "total": int(r.total),
            "available": int(r.free or 0),
            "waiting": int(r.waiting or 0),
        }
        for r in rows
    ]
    return sorted(items, key=lambda i: (i["location"].name, i["type"].code))


# ------------------------------------------------------------------------------------------------
# Who a loan is for, and who may see it
# ------------------------------------------------------------------------------------------------


def _elder_for(user: User, elder_id: uuid.UUID) -> Elder:
    """The elder `user` borrows for: themselves (the elder's own account) or one they are a confirmed family
    member of. Anything else — an unknown id included, so ids cannot be probed — is 403."""
    elder = db.session.get(Elder, elder_id)
    if elder is None or elder.status != ElderStatus.ACTIVE:
        raise ApiError("aid_not_for_elder")
    if elder.user_id != user.id and not eldercare.is_bound(user, elder.id):
        raise ApiError("aid_not_for_elder")
    return elder


def may_view(user: User, loan: AidLoan) -> bool:
    if loan.user_id is not None and loan.user_id == user.id:
        return True
    if loan.elder_id is None:
        return False
    elder = db.session.get(Elder, loan.elder_id)
    return elder is not None and (elder.user_id == user.id or eldercare.is_bound(user, elder.id))


def own_loan(user: User, loan_id: uuid.UUID) -> AidLoan:
    loan = db.session.get(AidLoan, loan_id)
    if loan is None or not may_view(user, loan):
        raise NotFound()
    return loan


def my_loans(user: User) -> Select[tuple[AidLoan]]:
    """Loans I asked for, and those of the elders I look after (whoever of the family asked)."""
    elder_ids = [e.id for e in eldercare.elders_of(user)]
    own = select(Elder.id).where(Elder.user_id == user.id)
    return select(AidLoan).where(
        or_(AidLoan.user_id == user.id, AidLoan.elder_id.in_(elder_ids), AidLoan.elder_id.in_(own))
    )


def may_see_loan_photos(viewer: User, loan_id: uuid.UUID) -> bool:
    """Condition photos of a hand-out or a return: the station's staff (in scope), the borrower and the elder's
    confirmed family."""
    loan = db.session.get(AidLoan, loan_id)
    if loan is None:
        return False
    if viewer.is_staff and scope.sees(viewer, loan.area_path):
        return True
    return may_view(viewer, loan)


def _for_whom(loan: AidLoan) -> str:
    if loan.elder_id is not None:
        elder = db.session.get(Elder, loan.elder_id)
        if elder is not None:
            return elder.name
    return "您"


def _context(loan: AidLoan) -> dict[str, Any]:
    item = loan.item
    return {
        "loan_id": loan.id,
        "type_name": item.type.name,
        "asset_tag": item.asset_tag,
        "location_name": item.location.name,
        "for_whom": _for_whom(loan),
        "hold_until": loan.hold_until,
        "hold_until_text": local_text(loan.hold_until),
        "due_at": loan.due_at,
        "due_at_text": local_text(loan.due_at),
    }


def _tell(loan: AidLoan, kind: str, key: str, **extra: Any) -> None:
    """The borrower (who asked) is told; an erased account is told nothing."""
    who = db.session.get(User, loan.user_id) if loan.user_id else None
    if who is None:
        return
    notify(who, kind, {**_context(loan), **extra}, subject_path=loan.area_path, dedupe_key=f"{kind}:{loan.id}:{key}")


# ------------------------------------------------------------------------------------------------
# Reserving
# ------------------------------------------------------------------------------------------------


class _Taken(Exception):
    """The item was found taken under its lock: try the next (its savepoint is rolled back)."""


def _take(item_id: uuid.UUID, loan: AidLoan) -> bool:
    """Lock the item, look again that it is lendable and free, and insert the loan — inside a savepoint, so an
    item found taken (by the check, or by the unique index) leaves no lock and no row behind."""
    try:
        with db.session.begin_nested():
            item = _locked(AidItem, item_id)
            if item.condition not in LENDABLE or live_loan_of(item.id) is not None:
                raise _Taken
            loan.item_id = item.id
            db.session.add(loan)
            db.session.flush()
    except (_Taken, IntegrityError):
        return False
    return True


def reserve(user: User, values: dict[str, Any], now: datetime) -> AidLoan:
    """Reserve an aid: a named item (`item_id`, 409 `aid_already_lent` when it is reserved or out), or any free
    one of a type at a station (409 `aid_unavailable`). Held for pick-up `AIDS_HOLD_DAYS`; a type with a
    deposit makes a payment order at once, to be paid within `AIDS_DEPOSIT_ORDER_MINUTES`."""
    config = settings()
    elder = _elder_for(user, values["elder_id"]) if values.get("elder_id") else None
    item_id = values.get("item_id")
    if item_id is not None:
        named = db.session.get(AidItem, item_id)
        if named is None or not named.location.is_active:
            raise ApiError("validation_failed", errors={"item_id": ["not found"]})
        type_id, location_id = named.type_id, named.location_id
        if named.condition not in LENDABLE:
            raise ApiError("aid_not_lendable", condition=CONDITION_ZH[named.condition.value])
    else:
        type_id, location_id = values.get("type_id"), values.get("location_id")
        if type_id is None or location_id is None:
            raise ApiError("validation_failed", errors={"type_id": ["type_id and location_id, or item_id"]})
    aid_type = db.session.get(AidType, type_id)
    if aid_type is None or not aid_type.is_active:
        raise ApiError("validation_failed", errors={"type_id": ["not found"]})
    location = db.session.get(AidLocation, location_id)
    if location is None or not location.is_active:
        raise ApiError("validation_failed", errors={"location_id": ["not found"]})
    if item_id is not None:
        candidates = [item_id]
    else:
        candidates = list(
            db.session.scalars(
                select(AidItem.id).where(
                    AidItem.type_id == type_id,
                    AidItem.location_id == location_id,
                    AidItem.condition.in_(LENDABLE),
                    _free(),
                )
            )
        )
        # In random order, so a rush spreads over the items' locks instead of queueing on the first.
        random.shuffle(candidates)
    loan = AidLoan(
        id=new_id(),
        type_id=type_id,
        location_id=location_id,
        area_path=location.area_path,
        user_id=user.id,
        elder_id=elder.id if elder is not None else None,
        status=LoanStatus.RESERVED,
        reserved_at=now,
        hold_until=now + timedelta(days=config.aids_hold_days),
        deposit_fen=aid_type.deposit_fen,
    )
    with db.session.no_autoflush:
        taken = any(_take(candidate, loan) for candidate in candidates)
    if not taken:
        if item_id is not None:
            raise ApiError("aid_already_lent")
        raise ApiError("aid_unavailable", type_name=aid_type.name)
    deposit_text = ""
    if loan.deposit_fen > 0:
        order = payments.create_order(
            user,
            PURPOSE,
            f"loan:{loan.id}",
            loan.deposit_fen,
            f"康复辅具押金 {aid_type.name} {location.name[:40]}",
            timedelta(minutes=config.aids_deposit_order_minutes),
            area_path=location.area_path,
        )
        loan.order_id = order.id
        deposit_text = (
            f"押金 {yuan(loan.deposit_fen)} 元请在 {config.aids_deposit_order_minutes} 分钟内支付，归还后原路退回。"
        )
    db.session.flush()
    db.session.refresh(loan)
    _end_wait(user.id, type_id, location_id, now)
    _tell(loan, "aid_reserved", "reserved", deposit_text=deposit_text)
    return loan


def _end_wait(user_id: uuid.UUID, type_id: uuid.UUID, location_id: uuid.UUID, now: datetime) -> None:
    db.session.execute(
        update(AidWait)
        .where(
            AidWait.user_id == user_id,
            AidWait.type_id == type_id,
            AidWait.location_id == location_id,
            AidWait.ended_at.is_(None),
        )
        .values(ended_at=now)
        .execution_options(synchronize_session=False)
    )


def _order(loan: AidLoan) -> PaymentOrder | None:
    return db.session.get(PaymentOrder, loan.order_id) if loan.order_id else None


def _give_back_deposit(loan: AidLoan, reason: str) -> str:
    """A reservation ending: an unpaid order is withdrawn, a paid one refunded in full. Returns the words for
    the message."""
    order = _order(loan)
    if order is None:
        return ""
    if order.status == OrderStatus.PENDING:
        payments.close_order(order)
        return ""
    if order.status == OrderStatus.PAID and order.refundable_fen > 0:
        loan.refund_fen = order.refundable_fen
        payments.refund(order, order.refundable_fen, reason[:80])
        return f"押金 {yuan(loan.refund_fen)} 元已原路退回。"
    return ""


def _end_reservation(loan: AidLoan, to: LoanStatus, by: str, reason: str, now: datetime) -> AidLoan:
    move(loan, to, now)
    loan.cancelled_by, loan.cancel_reason = by, reason
    refund_text = _give_back_deposit(loan, reason)
    _tell(loan, "aid_reservation_ended", "ended", reason=reason, refund_text=refund_text)
    _wake_waiter(loan.type_id, loan.location_id, now)
    return loan


def cancel_by_resident(user: User, loan_id: uuid.UUID, now: datetime) -> AidLoan:
    own_loan(user, loan_id)
    loan = lock_loan(loan_id)
    if loan.status != LoanStatus.RESERVED:
        raise ApiError("aid_loan_not_changeable", state=STATUS_ZH[loan.status.value])
    return _end_reservation(loan, LoanStatus.CANCELLED, "resident", "取消预约", now)


def cancel_by_staff(staff: User, loan_id: uuid.UUID, reason: str, now: datetime) -> AidLoan:
    staff_loan(staff, loan_id)
    loan = lock_loan(loan_id)
    if loan.status != LoanStatus.RESERVED:
        raise ApiError("aid_loan_not_changeable", state=STATUS_ZH[loan.status.value])
    return _end_reservation(loan, LoanStatus.CANCELLED, "staff", reason, now)


# ------------------------------------------------------------------------------------------------
# Hand-out, renewal, return
# ------------------------------------------------------------------------------------------------


def lend(staff: User, loan_id: uuid.UUID, values: dict[str, Any], now: datetime) -> AidLoan:
    """Staff hand a reserved aid out: the deposit must be paid, the item lendable; a condition note and photos
    (uploaded by the staff member through media) are kept; due back after the type's loan period."""
    staff_loan(staff, loan_id)
    loan = lock_loan(loan_id)
    if loan.status != LoanStatus.RESERVED:
        raise ApiError("aid_loan_not_changeable", state=STATUS_ZH[loan.status.value])
    if loan.deposit_fen > 0 and loan.deposit_paid_at is None:
        raise ApiError("aid_deposit_unpaid")
    item = loan.item
    if item.condition not in LENDABLE:
        raise ApiError("aid_not_lendable", condition=CONDITION_ZH[item.condition.value])
    if values.get("media_ids"):
        media.attach(values["media_ids"], staff, LEND_PHOTOS, loan.id, max_count=MAX_PHOTOS)
    move(loan, LoanStatus.LENT, now)
    loan.lent_at, loan.lent_by_id = now, staff.id
    loan.lend_note = values.get("condition_note") or ""
    loan.due_at = now + timedelta(days=item.type.loan_days)
    loan.hold_until = None
    if values.get("condition") is not None:
        item.condition = values["condition"]
    db.session.flush()
    _tell(loan, "aid_lent", "lent")
    return loan


def renew(user: User, loan_id: uuid.UUID, now: datetime) -> AidLoan:
    """Once, before the due date, and only while nobody waits for this kind of aid at the station."""
    own_loan(user, loan_id)
    loan = lock_loan(loan_id)
    if loan.status != LoanStatus.LENT or loan.due_at is None:
        raise ApiError("aid_loan_not_changeable", state=STATUS_ZH[loan.status.value])
    if loan.renewals >= 1:
        raise ApiError("aid_renewal_refused", reason="每次借用只能续借一次", errors={"renewals": ["once"]})
    if loan.due_at <= now:
        raise ApiError("aid_renewal_refused", reason="已逾期，请先归还")
    if waiting_count(loan.type_id, loan.location_id) > 0:
        raise ApiError("aid_renewal_refused", reason="有其他居民在等候该辅具")
    loan.renewals += 1
    loan.due_at = loan.due_at + timedelta(days=loan.item.type.loan_days)
    loan.reminded_at = None
    db.session.flush()
    return loan


def return_loan(staff: User, loan_id: uuid.UUID, values: dict[str, Any], now: datetime) -> AidLoan:
    """Staff take an aid back: condition notes and photos, whether it is damaged, and a deduction from the
    deposit when staff record one (never more than the deposit). The rest of the deposit is refunded — once:
    the loan moves lent → returned under its lock, so a second return is a 409 and refunds nothing."""
    staff_loan(staff, loan_id)
    loan = lock_loan(loan_id)
    if loan.status != LoanStatus.LENT:
        raise ApiError("aid_loan_not_changeable", state=STATUS_ZH[loan.status.value])
    deduction = values.get("deduction_fen") or 0
    if deduction > loan.deposit_fen:
        raise ApiError("validation_failed", errors={"deduction_fen": [f"at most the deposit, {loan.deposit_fen}"]})
    reason = (values.get("deduction_reason") or "").strip()
    if deduction > 0 and not reason:
        raise ApiError("validation_failed", errors={"deduction_reason": ["say what the deduction is for"]})
    if values.get("media_ids"):
        media.attach(values["media_ids"], staff, RETURN_PHOTOS, loan.id, max_count=MAX_PHOTOS)
    damaged = bool(values.get("damaged"))
    move(loan, LoanStatus.RETURNED, now)
    loan.returned_at, loan.returned_by_id = now, staff.id
    loan.return_note = values.get("condition_note") or ""
    loan.damaged, loan.deduction_fen, loan.deduction_reason = damaged, deduction, reason
    item = loan.item
    condition = values.get("condition") or (Condition.NEEDS_REPAIR if damaged else item.condition)
    item.condition = condition
    refund_text = ""
    order = _order(loan)
    back = loan.deposit_fen - deduction
    if order is not None and order.status == OrderStatus.PAID and back > 0:
        back = min(back, order.refundable_fen)
        if back > 0:
            loan.refund_fen = back
            payments.refund(order, back, "康复辅具归还，退还押金")
            refund_text = f"押金退还 {yuan(back)} 元，原路退回。"
    if deduction > 0:
        refund_text += f"扣除 {yuan(deduction)} 元（{reason}）。"
    db.session.flush()
    _tell(
        loan,
        "aid_returned",
        "returned",
        returned_at=now,
        returned_at_text=local_text(now),
        refund_text=refund_text,
        refund_short=f"退押金{yuan(loan.refund_fen)}元" if loan.refund_fen else "已归还",
    )
    if condition in LENDABLE:
        _wake_waiter(loan.type_id, loan.location_id, now)
    return loan


# ------------------------------------------------------------------------------------------------
# Waiting for an aid
# ------------------------------------------------------------------------------------------------


def waiting_count(type_id: uuid.UUID, location_id: uuid.UUID) -> int:
    return (
        db.session.scalar(
            select(func.count())
            .select_from(AidWait)
            .where(AidWait.type_id == type_id, AidWait.location_id == location_id, AidWait.ended_at.is_(None))
        )
        or 0
    )


def wait(user: User, type_id: uuid.UUID, location_id: uuid.UUID, now: datetime) -> AidWait:
    aid_type = db.session.get(AidType, type_id)
    if aid_type is None or not aid_type.is_active:
        raise ApiError("validation_failed", errors={"type_id": ["not found"]})
    location = db.session.get(AidLocation, location_id)
    if location is None or not location.is_active:
        raise ApiError("validation_failed", errors={"location_id": ["not found"]})
    row = AidWait(
        user_id=user.id, type_id=type_id, location_id=location_id, area_path=location.area_path, created_at=now
    )
    db.session.add(row)
    try:
        with db.session.begin_nested():
            db.session.flush()
    except IntegrityError:
        raise ApiError("aid_already_waiting") from None
    return row


def my_waits(user: User) -> Select[tuple[AidWait]]:
    return select(AidWait).where(AidWait.user_id == user.id)


def leave_wait(user: User, wait_id: uuid.UUID, now: datetime) -> AidWait:
    row = db.session.get(AidWait, wait_id)
    if row is None or row.user_id != user.id:
        raise NotFound()
    if row.ended_at is None:
        row.ended_at = now
        db.session.flush()
    return row


def _wake_waiter(type_id: uuid.UUID, location_id: uuid.UUID, now: datetime) -> None:
    """An aid of this kind is free again at the station: the first still waiting is told (and stops waiting;
    the aid is not kept for them — whoever reserves first has it)."""
    first = db.session.scalar(
        select(AidWait)
        .where(AidWait.type_id == type_id, AidWait.location_id == location_id, AidWait.ended_at.is_(None))
        .order_by(AidWait.created_at, AidWait.id)
        .limit(1)
        .with_for_update(skip_locked=True)
    )
    if first is None:
        return
    first.notified_at = first.ended_at = now
    who = db.session.get(User, first.user_id)
    location = db.session.get(AidLocation, location_id)
    aid_type = db.session.get(AidType, type_id)
    if who is None or location is None or aid_type is None:
        return
    notify(
        who,
        "aid_available",
        {"type_name": aid_type.name, "location_name": location.name, "type_id": type_id, "location_id": location_id},
        subject_path=location.area_path,
        dedupe_key=f"aid-available:{first.id}",
    )


# ------------------------------------------------------------------------------------------------
# The beat: expiry, reminders, overdue escalation
# ------------------------------------------------------------------------------------------------


def expire_reservations(now: datetime) -> int:
    """Reservations not picked up by their hold time end: the item is free again, the deposit comes back."""
    expired = 0
    due = list(
        db.session.scalars(
            select(AidLoan.id)
            .where(AidLoan.status == LoanStatus.RESERVED, AidLoan.hold_until <= now)
            .order_by(AidLoan.hold_until)
            .limit(BATCH)
        )
    )
    for loan_id in due:
        loan = lock_loan(loan_id)
        if loan.status == LoanStatus.RESERVED and loan.hold_until is not None and loan.hold_until <= now:
            _end_reservation(loan, LoanStatus.EXPIRED, "system", "超过领取时限未领取", now)
            expired += 1
    return expired


def remind_due(now: datetime) -> int:
    """`AIDS_REMINDER_DAYS` before the due date, the borrower is reminded once (per loan period)."""
    ahead = now + timedelta(days=settings().aids_reminder_days)
    reminded = 0
    for loan_id in list(
        db.session.scalars(
            select(AidLoan.id)
            .where(
                AidLoan.status == LoanStatus.LENT,
                AidLoan.reminded_at.is_(None),
                AidLoan.due_at <= ahead,
                AidLoan.due_at > now,
            )
            .limit(BATCH)
        )
    ):
        # A conditional UPDATE claims the reminder: two beats at once send it once.
        claimed = db.session.execute(
            update(AidLoan)
            .where(AidLoan.id == loan_id, AidLoan.reminded_at.is_(None), AidLoan.status == LoanStatus.LENT)
            .values(reminded_at=now)
            .execution_options(synchronize_session=False)
        ).rowcount
        if claimed != 1:
            continue
        loan = db.session.get(AidLoan, loan_id, populate_existing=True)
        assert loan is not None
        _tell(loan, "aid_due_soon", f"due:{loan.renewals}")
        reminded += 1
    return reminded


def station_staff(path: str) -> list[User]:
    """The staff of the station's area: those of the closest area above it that has any; the admins when none."""
    rows = db.session.execute(
        select(User, Area.path)
        .join(UserRole, UserRole.user_id == User.id)
        .join(Area, Area.id == User.staff_area_id)
        .where(UserRole.role == Role.STAFF, User.is_active.is_(True), literal(path).startswith(Area.path))
    ).all()
    if rows:
        deepest = max(len(p) for _user, p in rows)
        return sorted({user for user, p in rows if len(p) == deepest}, key=lambda u: u.id)
    return list(
        db.session.scalars(
            select(User)
            .join(UserRole, UserRole.user_id == User.id)
            .where(UserRole.role == Role.ADMIN, User.is_active.is_(True))
            .order_by(User.id)
        )
    )


def escalate_overdue(now: datetime) -> int:
    """A loan past its due date: the borrower is asked to return it and the station's staff are told — once."""
    escalated = 0
    for loan_id in list(
        db.session.scalars(
            select(AidLoan.id)
            .where(AidLoan.status == LoanStatus.LENT, AidLoan.escalated_at.is_(None), AidLoan.due_at <= now)
            .limit(BATCH)
        )
    ):
        claimed = db.session.execute(
            update(AidLoan)
            .where(AidLoan.id == loan_id, AidLoan.escalated_at.is_(None), AidLoan.status == LoanStatus.LENT)
            .values(escalated_at=now)
            .execution_options(synchronize_session=False)
        ).rowcount
        if claimed != 1:
            continue
        loan = db.session.get(AidLoan, loan_id, populate_existing=True)
        assert loan is not None
        _tell(loan, "aid_overdue", "overdue")
        context = _context(loan)
        for staff in station_staff(loan.area_path):
            notify(
                staff,
                "aid_overdue_staff",
                context,
                subject_path=loan.area_path,
                dedupe_key=f"aid-overdue-staff:{loan.id}:{staff.id}",
            )
        escalated += 1
    return escalated


def overdue_days(loan: AidLoan, now: datetime) -> int:
    if loan.status != LoanStatus.LENT or loan.due_at is None or loan.due_at > now:
        return 0
    return (now - loan.due_at).days + 1
