"""Elderly service orders' rules: who may order for whom, the catalogue as a resident sees it, the cut-off and lead
time, placing an order with its price snapshot (`place_order`, also called by the daily meal plans' beat job
with `source="plan"`), a quote before confirming, reading orders, and cancelling.

Every status change goes through `api.care.states.move`. Lock order, the same everywhere: the order's row, then
the elder's care profile (the 长护险 quota). Nothing here commits: the request's (or the task's) unit of work does.
Callable without a request (the beat jobs run them in an app context).
"""

from __future__ import annotations

import math
import uuid
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from typing import Any

from sqlalchemy import Select, or_, select

from api import scope
from api.accounts.models import Role, User
from api.care import notices, pricing, states
from api.care.models import (
    MEAL_CATEGORIES,
    CareOrder,
    CareOrderEvent,
    CareService,
    Channel,
    FundingTier,
    Meal,
    OrderStatus,
    Source,
)
from api.db import db, utcnow
from api.eldercare.models import BindingStatus, Elder, ElderStatus, FamilyBinding
from api.errors import ApiError, NotFound
from api.fields import LOCAL_TZ, local_text
from api.volunteers import ledger

STAFF_ROLES = (Role.STAFF, Role.ADMIN)
HORIZON = timedelta(days=90)
PAST_TOLERANCE = timedelta(minutes=5)
MAX_MINUTES = 12 * 60


def settings() -> Any:
    from api.extensions import get_settings

    return get_settings()


def is_staff(user: User) -> bool:
    return user.has_role(*STAFF_ROLES)


# ------------------------------------------------------------------------------------------------
# Who may order for whom
# ------------------------------------------------------------------------------------------------


def channel_for(user: User, elder: Elder) -> Channel | None:
    """How `user` may order for `elder`: as the elder, as a confirmed family member, or as staff whose area holds
    the elder's home; None when they may not."""
    if elder.user_id is not None and elder.user_id == user.id:
        return Channel.SELF
    bound = db.session.scalar(
        select(FamilyBinding.id).where(
            FamilyBinding.elder_id == elder.id,
            FamilyBinding.user_id == user.id,
            FamilyBinding.status == BindingStatus.CONFIRMED,
        )
    )
    if bound is not None:
        return Channel.FAMILY
    if is_staff(user) and scope.sees(user, elder.area_path):
        return Channel.STAFF_PHONE
    return None


def elder_for(user: User, elder_id: uuid.UUID) -> tuple[Elder, Channel]:
    """The elder `user` acts for, or 403 `care_not_family` — the same for an elder that does not exist, so ids
    cannot be probed."""
    elder = db.session.get(Elder, elder_id)
    channel = channel_for(user, elder) if elder is not None else None
    if elder is None or channel is None:
        raise ApiError("care_not_family")
    return elder, channel


def looked_after_ids(user: User) -> list[uuid.UUID]:
    """The elders whose orders `user` sees as theirs: their own elder profile and those they are bound to."""
    own = select(Elder.id).where(Elder.user_id == user.id)
    bound = select(FamilyBinding.elder_id).where(
        FamilyBinding.user_id == user.id, FamilyBinding.status == BindingStatus.CONFIRMED
    )
    return list(db.session.scalars(own)) + list(db.session.scalars(bound))


# ------------------------------------------------------------------------------------------------
# The catalogue as residents see it
# ------------------------------------------------------------------------------------------------


def covers(service: CareService, path: str | None) -> bool:
    paths = service.covers_area_paths or []
    return not paths or any((path or "").startswith(p) for p in paths)


def active_services(category: str | None = None) -> list[CareService]:
    stmt = select(CareService).where(CareService.is_active.is_(True)).order_by(CareService.category, CareService.code)
    if category:
        stmt = stmt.where(CareService.category == category)
    return list(db.session.scalars(stmt))


def get_service(service_id: uuid.UUID, *, field: str | None = None) -> CareService:
    service = db.session.get(CareService, service_id)
    if service is None:
        if field:
            raise ApiError("validation_failed", errors={field: ["no such service"]})
        raise NotFound()
    return service


# ------------------------------------------------------------------------------------------------
# Time rules
# ------------------------------------------------------------------------------------------------


def cutoff_for(service: CareService, window_start: datetime) -> datetime | None:
    """When orders for a window starting at `window_start` close: `cutoff_days_before` days before its local day
    at `cutoff_local_time` (e.g. meals for tomorrow until 16:00 today); None when the service has no cut-off."""
    if service.cutoff_days_before is None or not service.cutoff_local_time:
        return None
    hours, minutes = (int(x) for x in service.cutoff_local_time.split(":"))
    day: date = window_start.astimezone(LOCAL_TZ).date() - timedelta(days=service.cutoff_days_before)
    return datetime.combine(day, time(hours, minutes), tzinfo=LOCAL_TZ)


def check_time(
    service: CareService, window_start: datetime, window_end: datetime, now: datetime, *, cutoff: bool = True
) -> None:
    """The window is ahead (within the horizon), well-formed, and — unless `cutoff` is off (a plan's run, a
    redo staff arrange) — before the service's cut-off and lead time."""
    if window_start < now - PAST_TOLERANCE:
        raise ApiError("validation_failed", errors={"window_start": ["in the past"]})
    if window_start > now + HORIZON:
        raise ApiError("validation_failed", errors={"window_start": [f"at most {HORIZON.days} days ahead"]})
    if window_end <= window_start:
        raise ApiError("validation_failed", errors={"window_end": ["must be after window_start"]})
    if window_end - window_start > timedelta(minutes=MAX_MINUTES):
        raise ApiError("validation_failed", errors={"window_end": [f"a window is at most {MAX_MINUTES // 60} hours"]})
    if not cutoff:
        return
    closes = cutoff_for(service, window_start)
    if closes is not None and now > closes:
        raise ApiError("care_after_cutoff", cutoff=local_text(closes), errors={"window_start": [closes.isoformat()]})
    earliest = now + timedelta(minutes=service.lead_time_minutes)
    if service.lead_time_minutes and window_start < earliest:
        raise ApiError(
            "care_too_soon",
            minutes=service.lead_time_minutes,
            earliest=local_text(earliest),
            errors={"window_start": [earliest.isoformat()]},
        )


def _checked_service(service: CareService, elder: Elder) -> None:
    if not service.is_active:
        raise ApiError("care_service_unavailable", reason="已停用", errors={"service_id": ["inactive"]})
    if not covers(service, elder.area_path):
        raise ApiError(
            "care_service_unavailable", reason="不覆盖老人所在社区", errors={"service_id": ["not offered here"]}
        )
    if elder.status != ElderStatus.ACTIVE:
        raise ApiError("care_elder_inactive", state=elder.status.value)


@dataclass
class Request:
    """An order as asked for, before it is stored: what, for whom, when, and its price."""

    service: CareService
    elder: Elder
    channel: Channel
    window_start: datetime
    window_end: datetime
    planned_minutes: int
    price: pricing.Snapshot


def _prepare(
    service: CareService,
    elder: Elder,
    channel: Channel,
    window_start: datetime,
    window_end: datetime | None,
    planned_minutes: int | None,
    now: datetime,
    *,
    check_cutoff: bool = True,
) -> Request:
    _checked_service(service, elder)
    if planned_minutes is not None and not 1 <= planned_minutes <= MAX_MINUTES:
        raise ApiError("validation_failed", errors={"planned_minutes": [f"between 1 and {MAX_MINUTES}"]})
    minutes = planned_minutes or service.duration_minutes
    end = window_end or window_start + timedelta(minutes=minutes)
    check_time(service, window_start, end, now, cutoff=check_cutoff)
    price = pricing.snapshot(service, elder, window_start, minutes)
    return Request(service, elder, channel, window_start, end, minutes, price)


def quote(
    user: User,
    elder_id: uuid.UUID,
    service_id: uuid.UUID,
    window_start: datetime,
    window_end: datetime | None = None,
    planned_minutes: int | None = None,
    now: datetime | None = None,
) -> dict[str, Any]:
    """The price snapshot an order would store, shown before confirming; nothing is stored."""
    now = now or utcnow()
    elder, channel = elder_for(user, elder_id)
    service = get_service(service_id, field="service_id")
    req = _prepare(service, elder, channel, window_start, window_end, planned_minutes, now)
    cutoff = cutoff_for(service, window_start)
    return {
        "service_id": service.id,
        "elder_id": elder.id,
        "window_start": req.window_start,
        "window_end": req.window_end,
        "planned_minutes": req.planned_minutes,
        "cutoff": cutoff,
        **req.price.as_dict(),
    }


# ------------------------------------------------------------------------------------------------
# Placing an order
# ------------------------------------------------------------------------------------------------


def _coins_payable(service: CareService, ordered_by: User | None, channel: Channel) -> None:
    if not service.coin_redeemable:
        raise ApiError("validation_failed", errors={"pay_with_coins": ["this service cannot be paid in time coins"]})
    if ordered_by is None or channel == Channel.STAFF_PHONE:
        raise ApiError("validation_failed", errors={"pay_with_coins": ["only the elder or their family pay in coins"]})


def place_order(
    *,
    elder_id: uuid.UUID,
    service_id: uuid.UUID,
    window_start: datetime,
    ordered_by: User | None,
    window_end: datetime | None = None,
    planned_minutes: int | None = None,
    note: str = "",
    channel: Channel | None = None,
    source: Source | str = Source.MANUAL,
    meal: Meal | str | None = None,
    service_date: date | None = None,
    meal_plan_id: str | None = None,
    route_id: str | None = None,
    check_cutoff: bool = True,
    pay_with_coins: bool = False,
    now: datetime | None = None,
) -> CareOrder:
    """Place one order for an elder and return it (flushed, not committed).

    `ordered_by` is the person ordering: the elder, a confirmed family member, or staff whose area holds the
    elder (otherwise 403 `care_not_family`); the channel follows from who they are. None is the system — a
    meal plan's beat run — and then `channel` says whose plan it is (default `family`). The service must be
    active and cover the elder's committee; the window must be ahead, within the lead time and before the
    cut-off (422 `care_after_cutoff` naming it; `check_cutoff=False` lets a plan skip cut-off and lead time, never
    the window's own checks). The price snapshot
    is stored; a 保底 (subsidised) order waits in `submitted` for the staff eligibility review unless staff
    placed it, any other goes straight to `pending_dispatch`.

    Meal plans pass `source="plan"`, `meal`, `service_date` (the local day; defaults to the window's),
    `meal_plan_id` and `route_id`; a second live order for the same elder, day and meal violates the unique
    index `uq_care_orders_elder_day_meal` (api.care.meals; an IntegrityError at flush). The plans' beat job
    does not come through here: it inserts a day's orders set-based with the same snapshot and first status.

    `pay_with_coins`: the elder's share of a coin-redeemable service is paid at once in the orderer's time coins
    (`CARE_COIN_VALUE_FEN` a coin, rounded up to the hundredth; 409 `coins_insufficient` when short), given back
    if the service does not happen; no WeChat payment is made then.
    """
    now = now or utcnow()
    source = Source(source)
    if ordered_by is not None:
        elder, channel_found = elder_for(ordered_by, elder_id)
        channel = channel_found
    else:
        elder = db.session.get(Elder, elder_id)
        if elder is None:
            raise ApiError("validation_failed", errors={"elder_id": ["no such elder"]})
        channel = Channel(channel or Channel.FAMILY)
    service = get_service(service_id, field="service_id")
    if meal is not None and service.category not in MEAL_CATEGORIES:
        raise ApiError("validation_failed", errors={"meal": ["only meal services have a meal"]})
    req = _prepare(service, elder, channel, window_start, window_end, planned_minutes, now, check_cutoff=check_cutoff)
    order = CareOrder(
        service=service,
        elder=elder,
        ordered_by_id=ordered_by.id if ordered_by else None,
        channel=channel,
        source=source,
        status=OrderStatus.SUBMITTED,
        area_path=elder.area_path or "",
        note=(note or "")[:200],
        window_start=req.window_start,
        window_end=req.window_end,
        planned_minutes=req.planned_minutes,
        provider_id=service.provider_id,
        meal=Meal(meal) if meal else None,
        service_date=service_date or (req.window_start.astimezone(LOCAL_TZ).date() if meal else None),
        meal_plan_id=meal_plan_id,
        route_id=route_id,
        created_at=now,
        updated_at=now,
    )
    pricing.apply(order, req.price)
    if pay_with_coins:
        _coins_payable(service, ordered_by, channel)
    db.session.add(order)
    db.session.flush()
    actor_id = ordered_by.id if ordered_by else None
    states.record(order, "place", actor_id, now, data={"channel": channel.value, "source": source.value})
    if pay_with_coins and order.self_pay_fen > 0:
        assert ordered_by is not None
        order.coins_centi = math.ceil(order.self_pay_fen * 100 / settings().care_coin_value_fen)
        transfer = ledger.spend(ordered_by, order.coins_centi)
        states.record(
            order, "paid_in_coins", actor_id, now, data={"centi": order.coins_centi, "transfer": str(transfer)}
        )
    needs_review = service.funding_tier == FundingTier.BAODI and channel != Channel.STAFF_PHONE
    if needs_review:
        notices.tell_staff(order, "care_review_needed", tier_text="保底（政府购买）")
    else:
        states.move(order, "approve", actor_id, now, note="无需资格审核" if channel != Channel.STAFF_PHONE else "")
    return order


# ------------------------------------------------------------------------------------------------
# Reading orders
# ------------------------------------------------------------------------------------------------


def my_orders(user: User, elder_id: uuid.UUID | None = None, status: str | None = None) -> Select[tuple[CareOrder]]:
    """Orders I placed, and every order of the elders I look after."""
    elders = looked_after_ids(user)
    stmt = select(CareOrder).where(or_(CareOrder.ordered_by_id == user.id, CareOrder.elder_id.in_(elders)))
    if elder_id is not None:
        stmt = stmt.where(CareOrder.elder_id == elder_id)
    if status:
        stmt = stmt.where(CareOrder.status == status)
    return stmt


def may_see(user: User, order: CareOrder) -> bool:
    if order.ordered_by_id == user.id or order.elder_id in looked_after_ids(user):
        return True
    if is_staff(user) and scope.sees(user, order.area_path):
        return True
    return order.worker is not None and order.worker.user_id == user.id


def get_order(order_id: uuid.UUID, *, lock: bool = False) -> CareOrder:
    stmt = select(CareOrder).where(CareOrder.id == order_id)
    if lock:
        stmt = stmt.with_for_update(of=CareOrder)
    order = db.session.scalar(stmt)
    if order is None:
        raise NotFound()
    return order


def visible_order(user: User, order_id: uuid.UUID, *, lock: bool = False) -> CareOrder:
    """The order if `user` may see it (who ordered, the elder and their family, staff in scope, its worker);
    404 otherwise, like one that does not exist."""
    order = get_order(order_id, lock=lock)
    if not may_see(user, order):
        raise NotFound()
    return order


def timeline(order: CareOrder) -> list[CareOrderEvent]:
    return list(
        db.session.scalars(
            select(CareOrderEvent).where(CareOrderEvent.order_id == order.id).order_by(CareOrderEvent.seq)
        )
    )
