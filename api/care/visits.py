"""The visit and what follows it: cancelling before it; the worker setting off, checking in at the door with the
elder's service code (or staff vouching for an elder with neither phone nor card) within the window, checking out
with the actual minutes (and photos where the service asks); nobody at the door (the family told at once, staff
after `CARE_WELFARE_STAFF_MINUTES` unless the family reports the elder safe first); a worker who never came (staff
told, the order back to dispatch); the family's confirmation or the automatic one; disputes staff resolve (adjust,
void, redo); ratings, and the return visits (回访) a low score or a staff sample asks for.

Proof of a visit needs two people: the worker's check-in carries what only the elder's side knows (the code), or
a staff member's word recorded beforehand (`vouch`). Wrong codes are counted; after `CARE_CODE_ATTEMPTS` in ten
minutes the worker must wait.
"""

from __future__ import annotations

import math
import random
import uuid
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Select, func, select, update

from api import scope
from api.accounts.models import User
from api.care import money, notices, pricing, states
from api.care.dispatch import staff_order, worker_order
from api.care.models import (
    CareDispute,
    CareOrder,
    CareOrderEvent,
    CareRating,
    CareReturnVisit,
    DisputeOutcome,
    DisputeStatus,
    OrderStatus,
    Proof,
    Unit,
    VisitReason,
    VisitStatus,
)
from api.care.services import (
    get_order,
    is_staff,
    looked_after_ids,
    may_see,
    place_order,
    settings,
    visible_order,
)
from api.db import db
from api.errors import ApiError, NotFound
from api.fields import local_text
from api.media import services as media

CODE_WINDOW = timedelta(minutes=10)
PHOTO_RECORD = "care_order"


def may_see_photo(viewer: User, order_id: uuid.UUID) -> bool:
    """A visit's before/after photos: whoever may see the order (its family, staff of its area, its worker)."""
    order = db.session.get(CareOrder, order_id)
    return order is not None and may_see(viewer, order)


# Cancelling ------------------------------------------------------------------------------------


def cancel(user: User, order_id: uuid.UUID, reason: str | None, now: datetime) -> CareOrder:
    """Free until a worker accepts; afterwards a reason is required and, inside the grace before the window, the
    cancellation is counted late. The 长护险 visit is released and what was paid refunded."""
    order = visible_order(user, order_id, lock=True)
    if order.worker is not None and order.worker.user_id == user.id and not is_staff(user):
        raise NotFound()
    states.ensure(order, "cancel")
    accepted = order.status in (OrderStatus.ACCEPTED, OrderStatus.EN_ROUTE)
    reason = (reason or "").strip()
    if accepted and not reason:
        raise ApiError("care_cancel_reason_required", errors={"reason": ["required once a worker accepted"]})
    states.move(order, "cancel", user.id, now, note=reason)
    order.cancel_reason = reason or None
    order.cancelled_by_id = user.id
    order.cancelled_at = now
    grace = timedelta(minutes=settings().care_checkin_grace_minutes)
    order.late_cancel = accepted and now >= order.window_start - max(grace, timedelta(hours=2))
    pricing.release_quota(order)
    money.refund_all(order, "订单取消", user)
    if accepted and order.worker is not None:
        notices.tell_worker(order, order.worker, "care_order_cancelled", reason=reason)
    return order


# At the door ----------------------------------------------------------------------------------


def set_off(user: User, order_id: uuid.UUID, now: datetime) -> CareOrder:
    order, _worker = worker_order(user, order_id)
    states.move(order, "set_off", user.id, now)
    return order


def _window_open(order: CareOrder, now: datetime) -> None:
    grace = timedelta(minutes=settings().care_checkin_grace_minutes)
    opens, closes = order.window_start - grace, order.window_end + grace
    if not opens <= now <= closes:
        raise ApiError(
            "care_outside_window",
            opens=local_text(opens),
            closes=local_text(closes),
            errors={"at": [f"{opens.isoformat()} – {closes.isoformat()}"]},
        )


def _wrong_codes(order: CareOrder, now: datetime) -> int:
    return (
        db.session.scalar(
            select(func.count(CareOrderEvent.id)).where(
                CareOrderEvent.order_id == order.id,
                CareOrderEvent.action == "code_wrong",
                CareOrderEvent.at > now - CODE_WINDOW,
            )
        )
        or 0
    )


def _check_proof(order: CareOrder, code: str | None, user: User, now: datetime) -> Proof:
    profile = pricing.profile_of(order.elder)
    assert profile is not None
    if profile.proof_by_staff:
        if order.proof != Proof.STAFF:
            raise ApiError("care_staff_proof_required")
        return Proof.STAFF
    if _wrong_codes(order, now) >= settings().care_code_attempts:
        raise ApiError("care_code_locked")
    given = (code or "").strip().upper()
    if not given or given != profile.service_code:
        states.record(order, "code_wrong", user.id, now)
        raise ApiError("care_code_wrong", errors={"code": ["wrong"]}, keep_changes=True)
    return Proof.CODE


def check_in(user: User, order_id: uuid.UUID, lat: float, lng: float, code: str | None, now: datetime) -> CareOrder:
    order, _worker = worker_order(user, order_id)
    states.ensure(order, "check_in")
    _window_open(order, now)
    order.proof = _check_proof(order, code, user, now)
    states.move(order, "check_in", user.id, now, data={"lat": lat, "lng": lng})
    order.checkin_at, order.checkin_lat, order.checkin_lng = now, lat, lng
    notices.tell_family(order, "care_checked_in", at_text=local_text(now), round=now.isoformat())
    return order


def check_out(
    user: User, order_id: uuid.UUID, lat: float, lng: float, photo_ids: list[uuid.UUID], now: datetime
) -> CareOrder:
    """The visit is over: actual minutes stored; a per-hour service priced again by them (within its cap) and
    its share charged; the family asked to confirm."""
    order, _worker = worker_order(user, order_id)
    states.ensure(order, "check_out")
    if order.service.needs_photos and not photo_ids:
        raise ApiError("validation_failed", errors={"photo_ids": ["this service asks for before/after photos"]})
    assert order.checkin_at is not None
    order.actual_minutes = max(1, math.ceil((now - order.checkin_at).total_seconds() / 60))
    order.checkout_at, order.checkout_lat, order.checkout_lng = now, lat, lng
    if photo_ids:
        attached = media.attach(photo_ids, user, PHOTO_RECORD, order.id, max_count=9, field="photo_ids")
        order.photo_ids = [str(p.id) for p in attached]
    states.move(order, "check_out", user.id, now, data={"lat": lat, "lng": lng, "minutes": order.actual_minutes})
    if order.service.unit == Unit.PER_HOUR:
        pricing.apply(
            order,
            pricing.snapshot(
                order.service, order.elder, order.window_start, order.actual_minutes, order_id=order.id, enforce=False
            ),
        )
        money.charge_on_completion(order)
    states.move(order, "ask_confirmation", None, now)
    notices.tell_family(
        order,
        "care_awaiting_confirmation",
        minutes=order.actual_minutes,
        self_pay_yuan=money.payments.yuan(order.self_pay_fen),
        round=now.isoformat(),
    )
    return order


def not_delivered(user: User, order_id: uuid.UUID, note: str, now: datetime) -> CareOrder:
    """Nobody answered the door: a welfare step like an alarm's — the family told at once (urgent), staff after
    `CARE_WELFARE_STAFF_MINUTES` unless one of them reports the elder safe first; staff at once when nobody but
    the elder's own account could be told."""
    order, _worker = worker_order(user, order_id)
    states.ensure(order, "not_delivered")
    _window_open(order, now)
    states.move(order, "not_delivered", user.id, now, note=note)
    pricing.release_quota(order)
    money.refund_all(order, "老人不在家，未能服务")
    minutes = settings().care_welfare_staff_minutes
    told = notices.family_of(order)
    family = any(person.id != order.elder.user_id for person in told)
    staff_after = f"{minutes} 分钟内未报平安，社区工作人员将跟进" if family else "社区工作人员也已收到提醒"
    notices.tell_family(order, "care_not_delivered", to=told, note=note, staff_after=staff_after, round=now.isoformat())
    if family:
        order.welfare_staff_due_at = now + timedelta(minutes=minutes)
    else:
        order.welfare_staff_due_at = order.welfare_staff_told_at = now
        _tell_staff_welfare(order, now, note)
    return order


def _tell_staff_welfare(order: CareOrder, now: datetime, door_note: str) -> None:
    """Staff are told to check on the elder (the caller has marked the order told)."""
    notices.tell_staff(order, "care_welfare_check", note=door_note or "无人应答", round=now.isoformat())
    states.record(order, "welfare_staff_told", None, now)


def elder_safe(user: User, order_id: uuid.UUID, note: str, now: datetime) -> CareOrder:
    """Someone of the family reached the elder after nobody answered the door: staff need not check (and are
    told so if they already were)."""
    order = _family_order(user, order_id)
    if order.status != OrderStatus.NOT_DELIVERED:
        raise ApiError("care_welfare_not_open")
    if order.welfare_safe_at is not None:
        raise ApiError("care_welfare_already_reported", at=local_text(order.welfare_safe_at))
    order.welfare_safe_at, order.welfare_safe_by_id, order.welfare_safe_note = now, user.id, note
    states.record(order, "elder_safe", user.id, now, note=note)
    if order.welfare_staff_told_at is not None:
        notices.tell_staff(order, "care_welfare_safe", note=note or "家属已联系上老人", round=now.isoformat())
    return order


def escalate_welfare(now: datetime) -> int:
    """Beat: nobody of the family reported the elder safe in time — staff are told, once per order (the
    conditional UPDATE lets two beats at once tell them once)."""
    ids = list(
        db.session.scalars(
            update(CareOrder)
            .where(
                CareOrder.status == OrderStatus.NOT_DELIVERED,
                CareOrder.welfare_safe_at.is_(None),
                CareOrder.welfare_staff_told_at.is_(None),
                CareOrder.welfare_staff_due_at <= now,
            )
            .values(welfare_staff_told_at=now)
            .returning(CareOrder.id)
            .execution_options(synchronize_session=False)
        )
    )
    for order_id in ids:
        door_note = db.session.scalar(
            select(CareOrderEvent.note)
            .where(CareOrderEvent.order_id == order_id, CareOrderEvent.action == "not_delivered")
            .order_by(CareOrderEvent.seq.desc())
            .limit(1)
        )
        _tell_staff_welfare(get_order(order_id), now, door_note or "")
    return len(ids)


def vouch(staff: User, order_id: uuid.UUID, now: datetime) -> CareOrder:
    """Staff confirm this visit for an elder who has neither a phone nor a card (a call, a neighbour, a visit)."""
    order = staff_order(staff, order_id)
    if order.status not in (OrderStatus.ACCEPTED, OrderStatus.EN_ROUTE):
        states.ensure(order, "check_in")
    order.proof = Proof.STAFF
    states.record(order, "vouch", staff.id, now)
    return order


def no_shows(now: datetime) -> int:
    """Beat: accepted orders nobody checked in to by the window start + grace: staff alerted, the order marked
    provider no-show and put back to dispatch."""
    grace = timedelta(minutes=settings().care_checkin_grace_minutes)
    ids = list(
        db.session.scalars(
            select(CareOrder.id).where(
                CareOrder.status.in_((OrderStatus.ACCEPTED, OrderStatus.EN_ROUTE, OrderStatus.OFFERED)),
                CareOrder.checkin_at.is_(None),
                CareOrder.window_start <= now - grace,
            )
        )
    )
    done = 0
    for order_id in ids:
        order = get_order(order_id, lock=True)
        if order.status not in (OrderStatus.ACCEPTED, OrderStatus.EN_ROUTE, OrderStatus.OFFERED):
            continue
        worker_name = order.worker.name if order.worker else ""
        states.move(order, "no_show", None, now, data={"worker": worker_name})
        pricing.release_quota(order)
        notices.tell_staff(order, "care_provider_no_show", no_show_worker=worker_name, round=now.isoformat())
        order.worker_id = None
        order.worker = None
        order.offered_at = order.offer_expires_at = order.accepted_at = None
        if order.service.provider_id is None:
            order.provider_id = None
        states.move(order, "redispatch", None, now)
        done += 1
    return done


# Confirmation -----------------------------------------------------------------------------------


def _family_order(user: User, order_id: uuid.UUID) -> CareOrder:
    """An order of an elder I am (or look after), or that I placed; 404 for any other."""
    order = get_order(order_id, lock=True)
    if order.ordered_by_id != user.id and order.elder_id not in looked_after_ids(user):
        raise NotFound()
    return order


def _complete(order: CareOrder, action: str, actor_id: uuid.UUID | None, now: datetime) -> None:
    states.move(order, action, actor_id, now)
    order.completed_at = now
    pricing.consume_quota(order)


def confirm(user: User, order_id: uuid.UUID, now: datetime) -> CareOrder:
    order = _family_order(user, order_id)
    if order.completed_at is not None and order.status in (OrderStatus.COMPLETED, OrderStatus.DISPUTED):
        raise ApiError("care_already_confirmed", at=local_text(order.completed_at))
    _complete(order, "confirm", user.id, now)
    order.confirmed_by_id = user.id
    return order


def auto_confirm(now: datetime) -> int:
    """Beat: orders waiting for confirmation longer than `CARE_AUTO_CONFIRM_HOURS` confirm themselves."""
    due = now - timedelta(hours=settings().care_auto_confirm_hours)
    ids = list(
        db.session.scalars(
            select(CareOrder.id).where(
                CareOrder.status == OrderStatus.AWAITING_CONFIRMATION, CareOrder.checkout_at <= due
            )
        )
    )
    for order_id in ids:
        order = get_order(order_id, lock=True)
        if order.status == OrderStatus.AWAITING_CONFIRMATION:
            _complete(order, "auto_confirm", None, now)
            order.auto_confirmed = True
    return len(ids)


# Disputes -------------------------------------------------------------------------------------


def dispute(user: User, order_id: uuid.UUID, reason: str, now: datetime) -> CareDispute:
    order = _family_order(user, order_id)
    days = settings().care_dispute_days
    if order.status == OrderStatus.COMPLETED and order.completed_at and now > order.completed_at + timedelta(days=days):
        raise ApiError("care_dispute_closed", days=days)
    states.move(order, "dispute", user.id, now, note=reason)
    case = CareDispute(order_id=order.id, opened_by_id=user.id, reason=reason, status=DisputeStatus.OPEN, opened_at=now)
    db.session.add(case)
    notices.tell_staff(order, "care_dispute_opened", reason=reason, round=now.isoformat())
    return case


def open_dispute(order: CareOrder) -> CareDispute | None:
    return db.session.scalar(
        select(CareDispute).where(CareDispute.order_id == order.id, CareDispute.status == DisputeStatus.OPEN)
    )


def resolve(
    staff: User,
    order_id: uuid.UUID,
    outcome: DisputeOutcome,
    note: str,
    now: datetime,
    *,
    adjusted_self_pay_fen: int | None = None,
    redo_start: datetime | None = None,
) -> CareOrder:
    """Staff settle a dispute: `adjust` lowers the elder's share (the difference refunded), `void` cancels the
    order (all refunded, the 长护险 visit given back), `redo` voids it and places a free order for the same
    service at `redo_start`."""
    order = staff_order(staff, order_id)
    states.ensure(order, "resolve")
    case = open_dispute(order)
    if outcome == DisputeOutcome.ADJUST:
        if adjusted_self_pay_fen is None or not 0 <= adjusted_self_pay_fen <= order.self_pay_fen:
            raise ApiError(
                "validation_failed", errors={"adjusted_self_pay_fen": [f"between 0 and {order.self_pay_fen}"]}
            )
        money.refund(order, order.self_pay_fen - adjusted_self_pay_fen, "申诉调整", staff)
        order.self_pay_fen = adjusted_self_pay_fen
        states.move(order, "resolve", staff.id, now, note=note, data={"outcome": "adjust"})
    else:
        if outcome == DisputeOutcome.REDO and redo_start is None:
            raise ApiError("validation_failed", errors={"redo_start": ["when the service is done again"]})
        states.move(order, "void", staff.id, now, note=note, data={"outcome": outcome.value})
        pricing.release_quota(order)
        money.refund_all(order, "申诉撤销", staff)
        order.cancel_reason = f"申诉：{note}"[:200]
        order.cancelled_by_id, order.cancelled_at = staff.id, now
        if outcome == DisputeOutcome.REDO:
            assert redo_start is not None
            redo = place_order(
                elder_id=order.elder_id,
                service_id=order.service_id,
                window_start=redo_start,
                ordered_by=staff,
                planned_minutes=order.planned_minutes,
                note=f"返工：{note}"[:200],
                check_cutoff=False,
                now=now,
            )
            redo.redo_of_id = order.id
            redo.list_price_fen = redo.subsidy_fen = redo.self_pay_fen = 0
            redo.subsidy_lines = []
            redo.uses_ltc_quota = False
            redo.provider_id = order.provider_id
    if case is not None:
        case.status = DisputeStatus.RESOLVED
        case.outcome = outcome
        case.adjusted_self_pay_fen = adjusted_self_pay_fen
        case.resolution_note = note
        case.resolved_by_id, case.resolved_at = staff.id, now
    return order


# Ratings and return visits --------------------------------------------------------------------


def rate(user: User, order_id: uuid.UUID, scores: dict[str, Any], now: datetime) -> CareRating:
    order = _family_order(user, order_id)
    if order.status not in (OrderStatus.COMPLETED, OrderStatus.DISPUTED) or order.completed_at is None:
        raise ApiError("care_not_ratable")
    if db.session.scalar(select(CareRating.id).where(CareRating.order_id == order.id)) is not None:
        raise ApiError("care_already_rated")
    rating = CareRating(
        order_id=order.id,
        by_id=user.id,
        overall=scores["overall"],
        punctuality=scores["punctuality"],
        attitude=scores["attitude"],
        comment=scores.get("comment") or "",
        created_at=now,
    )
    db.session.add(rating)
    states.record(order, "rate", user.id, now, data={k: scores[k] for k in ("overall", "punctuality", "attitude")})
    if min(rating.overall, rating.punctuality, rating.attitude) <= settings().care_low_score:
        add_visit(order, VisitReason.LOW_SCORE, now)
    return rating


def rating_of(order: CareOrder) -> CareRating | None:
    return db.session.scalar(select(CareRating).where(CareRating.order_id == order.id))


def add_visit(order: CareOrder, reason: VisitReason, now: datetime) -> CareReturnVisit | None:
    existing = db.session.scalar(
        select(CareReturnVisit).where(CareReturnVisit.order_id == order.id, CareReturnVisit.reason == reason)
    )
    if existing is not None:
        return existing
    visit = CareReturnVisit(
        order_id=order.id, area_path=order.area_path, reason=reason, status=VisitStatus.OPEN, created_at=now
    )
    db.session.add(visit)
    db.session.flush()
    return visit


def staff_visits(staff: User, status: str | None) -> Select[tuple[CareReturnVisit]]:
    stmt = scope.visible(staff, CareReturnVisit)
    if status:
        stmt = stmt.where(CareReturnVisit.status == status)
    return stmt


def staff_visit(staff: User, visit_id: uuid.UUID) -> CareReturnVisit:
    return scope.ensure_visible(staff, db.session.get(CareReturnVisit, visit_id))


def visit_order(staff: User, order_id: uuid.UUID, now: datetime) -> CareReturnVisit:
    """Staff pick one order for a return visit by hand."""
    order = staff_order(staff, order_id)
    visit = add_visit(order, VisitReason.SAMPLE, now)
    assert visit is not None
    return visit


def finish_visit(staff: User, visit_id: uuid.UUID, outcome: str, now: datetime) -> CareReturnVisit:
    visit = staff_visit(staff, visit_id)
    if visit.status == VisitStatus.DONE:
        raise ApiError("conflict")
    visit.status = VisitStatus.DONE
    visit.outcome = outcome
    visit.done_by_id, visit.done_at = staff.id, now
    return visit


def sample(
    staff: User, month: str, percent: int | None, now: datetime, rng: random.Random | None = None
) -> list[CareReturnVisit]:
    """Staff sample the month's completed orders in their area for return visits (at least one when any)."""
    start, end = money.month_bounds(month)
    share = settings().care_sample_percent if percent is None else percent
    ids = list(
        db.session.scalars(
            scope.visible(
                staff,
                select(CareOrder.id).where(
                    CareOrder.status == OrderStatus.COMPLETED,
                    CareOrder.completed_at >= start,
                    CareOrder.completed_at < end,
                ),
                CareOrder.area_path,
            ).order_by(CareOrder.id)
        )
    )
    if not ids or share <= 0:
        return []
    count = max(1, math.ceil(len(ids) * share / 100))
    chosen = (rng or random.SystemRandom()).sample(ids, min(count, len(ids)))
    visits = []
    for order_id in chosen:
        visit = add_visit(get_order(order_id), VisitReason.SAMPLE, now)
        if visit is not None:
            visits.append(visit)
    return visits
