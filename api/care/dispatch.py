"""Dispatch: staff review eligibility and assign orders to a worker (an offer that times out); a provider's workers
see the pool of orders they may take and grab one — a conditional UPDATE, so of two grabs at once exactly one
wins; a worker accepts or declines an offer, or transfers an accepted order back. Declines, time-outs and
transfers go back to the pool; after `CARE_DISPATCH_TRIES` of them the order leaves the pool and waits for staff
(`escalated_at`), who are told.

At acceptance the 长护险 visit is reserved and a 市场-tier order's own share is charged; the family is told.
"""

from __future__ import annotations

import uuid
from datetime import datetime, timedelta

from sqlalchemy import Select, and_, func, or_, select, update

from api import scope
from api.accounts.models import User
from api.care import money, notices, pricing, states
from api.care.catalogue import workers_of
from api.care.models import CareOrder, CareOrderEvent, CareProvider, CareWorker, OrderStatus
from api.care.services import get_order, settings
from api.db import db
from api.errors import ApiError, NotFound
from api.fields import LOCAL_TZ


def _provider_matches(order: CareOrder, provider: CareProvider) -> bool:
    if not provider.is_active:
        return False
    if order.provider_id is not None:
        return order.provider_id == provider.id
    if order.service.delivered_by != provider.kind:
        return False
    paths = provider.service_area_paths or []
    return not paths or any((order.area_path or "").startswith(p) for p in paths)


def _worker_for(user: User, order: CareOrder) -> CareWorker:
    """The user's worker row that may take this order, or 403 `care_not_worker`."""
    for worker in workers_of(user):
        if _provider_matches(order, worker.provider):
            return worker
    raise ApiError("care_not_worker")


def pool(user: User) -> Select[tuple[CareOrder]]:
    """Orders waiting in the pool that one of my providers may take (not those handed to staff)."""
    workers = workers_of(user)
    if not workers:
        raise ApiError("care_not_worker")
    conditions = []
    for worker in workers:
        provider = worker.provider
        mine = CareOrder.provider_id == provider.id
        paths = provider.service_area_paths or []
        unassigned = CareOrder.provider_id.is_(None)
        if paths:
            unassigned = and_(unassigned, or_(*[CareOrder.area_path.startswith(p, autoescape=True) for p in paths]))
        conditions.append(or_(mine, unassigned))
    return select(CareOrder).where(
        CareOrder.status == OrderStatus.PENDING_DISPATCH, CareOrder.escalated_at.is_(None), or_(*conditions)
    )


def my_work(user: User) -> Select[tuple[CareOrder]]:
    ids = [w.id for w in workers_of(user)]
    return select(CareOrder).where(CareOrder.worker_id.in_(ids))


def worker_order(user: User, order_id: uuid.UUID, *, lock: bool = True) -> tuple[CareOrder, CareWorker]:
    """An order offered to or held by one of my worker rows; 404 for any other."""
    order = get_order(order_id, lock=lock)
    worker = order.worker
    if worker is None or worker.user_id != user.id:
        raise NotFound()
    return order, worker


TAKEN = (
    OrderStatus.ACCEPTED,
    OrderStatus.EN_ROUTE,
    OrderStatus.IN_SERVICE,
    OrderStatus.SERVICE_DONE,
    OrderStatus.AWAITING_CONFIRMATION,
    OrderStatus.COMPLETED,
)


def ensure_capacity(provider_id: uuid.UUID, order: CareOrder) -> None:
    """A provider takes at most `daily_capacity` orders a (local) day: counted under its row lock, so two
    acceptances at once cannot both pass the last place."""
    provider = db.session.scalar(select(CareProvider).where(CareProvider.id == provider_id).with_for_update())
    if provider is None:
        return
    day = order.window_start.astimezone(LOCAL_TZ).date()
    start = datetime(day.year, day.month, day.day, tzinfo=LOCAL_TZ)
    taken = db.session.scalar(
        select(func.count(CareOrder.id)).where(
            CareOrder.provider_id == provider.id,
            CareOrder.status.in_(TAKEN),
            CareOrder.window_start >= start,
            CareOrder.window_start < start + timedelta(days=1),
            CareOrder.id != order.id,
        )
    )
    if (taken or 0) >= provider.daily_capacity:
        raise ApiError("care_provider_full", name=provider.name, capacity=provider.daily_capacity)


def after_accept(order: CareOrder, now: datetime) -> None:
    pricing.reserve_quota(order)
    money.charge_on_accept(order)
    notices.tell_family(order, "care_order_accepted", round=now.isoformat())


def grab(user: User, order_id: uuid.UUID, now: datetime) -> CareOrder:
    order = get_order(order_id)
    worker = _worker_for(user, order)
    if order.escalated_at is not None and order.status == OrderStatus.PENDING_DISPATCH:
        raise ApiError("care_already_taken")
    states.ensure(order, "grab")
    ensure_capacity(worker.provider_id, order)
    # The one guard against two grabs at once: only the UPDATE that still finds the order in the pool wins.
    won = db.session.execute(
        update(CareOrder)
        .where(CareOrder.id == order.id, CareOrder.status == OrderStatus.PENDING_DISPATCH)
        .values(
            status=OrderStatus.ACCEPTED,
            worker_id=worker.id,
            provider_id=worker.provider_id,
            accepted_at=now,
            updated_at=now,
        )
        .execution_options(synchronize_session=False)
    ).rowcount
    if not won:
        raise ApiError("care_already_taken")
    db.session.refresh(order)
    states.record(order, "grab", user.id, now, from_status=OrderStatus.PENDING_DISPATCH, data={"worker": worker.name})
    after_accept(order, now)
    return order


def staff_order(staff: User, order_id: uuid.UUID, *, lock: bool = True) -> CareOrder:
    """The order under its row lock if it is in the staff member's area; 404 otherwise."""
    stmt = select(CareOrder).where(CareOrder.id == order_id)
    if lock:
        stmt = stmt.with_for_update(of=CareOrder)
    return scope.ensure_visible(staff, db.session.scalar(stmt))


def approve(staff: User, order_id: uuid.UUID, now: datetime) -> CareOrder:
    order = staff_order(staff, order_id)
    states.move(order, "approve", staff.id, now, note="资格审核通过")
    return order


def reject(staff: User, order_id: uuid.UUID, reason: str, now: datetime) -> CareOrder:
    order = staff_order(staff, order_id)
    states.move(order, "reject", staff.id, now, note=reason)
    order.cancel_reason = reason
    order.cancelled_by_id = staff.id
    order.cancelled_at = now
    return order


def _round_robin(order: CareOrder) -> CareWorker:
    """The active worker of a provider serving the order with the fewest orders that local day (then the one
    offered longest ago), skipping whoever already declined it."""
    declined = set(
        db.session.scalars(
            select(CareOrderEvent.actor_id).where(
                CareOrderEvent.order_id == order.id, CareOrderEvent.action.in_(("decline", "transfer"))
            )
        )
    )
    day = order.window_start.astimezone(LOCAL_TZ).date()
    start = datetime(day.year, day.month, day.day, tzinfo=LOCAL_TZ)
    load = (
        select(func.count(CareOrder.id))
        .where(
            CareOrder.worker_id == CareWorker.id,
            CareOrder.status.in_((*TAKEN, OrderStatus.OFFERED)),
            CareOrder.window_start >= start,
            CareOrder.window_start < start + timedelta(days=1),
        )
        .correlate(CareWorker)
        .scalar_subquery()
    )
    candidates = db.session.execute(
        select(CareWorker, load)
        .where(CareWorker.is_active.is_(True))
        .order_by(load, CareWorker.created_at, CareWorker.id)
    ).all()
    for worker, _load in candidates:
        if worker.user_id not in declined and _provider_matches(order, worker.provider):
            return worker
    raise ApiError("care_no_worker")


def assign(staff: User, order_id: uuid.UUID, worker_id: uuid.UUID | None, now: datetime) -> CareOrder:
    """Staff offer the order to one worker — the one named, or round-robin the least busy that day — who accepts
    or declines before the offer expires."""
    order = staff_order(staff, order_id)
    states.ensure(order, "offer")
    worker = db.session.get(CareWorker, worker_id) if worker_id is not None else _round_robin(order)
    if worker is None or not worker.is_active or not _provider_matches(order, worker.provider):
        raise ApiError("validation_failed", errors={"worker_id": ["no active worker of a provider serving this order"]})
    states.move(order, "offer", staff.id, now, data={"worker": worker.name})
    order.worker_id = worker.id
    order.worker = worker
    order.provider_id = worker.provider_id
    order.offered_at = now
    order.offer_expires_at = now + timedelta(minutes=settings().care_offer_minutes)
    order.escalated_at = None
    notices.tell_worker(order, worker, "care_order_offered", expires_at=order.offer_expires_at.isoformat())
    return order


def accept(user: User, order_id: uuid.UUID, now: datetime) -> CareOrder:
    order, worker = worker_order(user, order_id)
    states.ensure(order, "accept")
    ensure_capacity(worker.provider_id, order)
    states.move(order, "accept", user.id, now)
    order.accepted_at = now
    after_accept(order, now)
    return order


def _back_to_pool(order: CareOrder, now: datetime) -> None:
    """After a decline, time-out or transfer: free the worker; too many tries hand the order to staff."""
    order.worker_id = None
    order.worker = None
    order.offered_at = None
    order.offer_expires_at = None
    order.accepted_at = None
    order.decline_count += 1
    if order.service.provider_id is None:
        order.provider_id = None
    if order.decline_count >= settings().care_dispatch_tries and order.escalated_at is None:
        order.escalated_at = now
        states.record(order, "escalate", None, now, data={"tries": order.decline_count})
        notices.tell_staff(order, "care_order_escalated", tries=order.decline_count, round=order.decline_count)


def decline(user: User, order_id: uuid.UUID, reason: str, now: datetime) -> CareOrder:
    order, _worker = worker_order(user, order_id)
    states.move(order, "decline", user.id, now, note=reason)
    _back_to_pool(order, now)
    return order


def transfer(user: User, order_id: uuid.UUID, reason: str, now: datetime) -> CareOrder:
    """An accepted order the worker cannot serve goes back to dispatch; its 长护险 visit is released (taken
    again by whoever accepts next); a payment stays with the order."""
    order, _worker = worker_order(user, order_id)
    states.move(order, "transfer", user.id, now, note=reason)
    pricing.release_quota(order)
    _back_to_pool(order, now)
    return order


def expire_offers(now: datetime) -> int:
    """Beat: offers nobody answered in time go back to the pool (or to staff after too many tries)."""
    ids = list(
        db.session.scalars(
            select(CareOrder.id).where(CareOrder.status == OrderStatus.OFFERED, CareOrder.offer_expires_at <= now)
        )
    )
    done = 0
    for order_id in ids:
        order = get_order(order_id, lock=True)
        if order.status != OrderStatus.OFFERED or order.offer_expires_at is None or order.offer_expires_at > now:
            continue
        states.move(order, "expire_offer", None, now)
        _back_to_pool(order, now)
        done += 1
    return done
