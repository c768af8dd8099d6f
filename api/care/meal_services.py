"""Daily meal plans' rules (助餐/送餐): canteen routes and their daily capacity (staff, area-scoped), plans made by
the elder, a confirmed family member or staff (care's one rule, `api.care.services.elder_for`), pauses for a
hospital stay and resuming, ending, the generator that turns plans into care orders a few days ahead, the
kitchen's list per route and day, and the shortage list of meals a full route could not take.

The generator (`generate`) is set-based: per day and route it locks the route's row (two runs at once queue
there), counts the route's live orders of the day, picks the plans due that have no live order for that elder,
day and meal yet (oldest plan first: who joined first keeps their seat), prices each with care's price snapshot
(`api.care.pricing.snapshot`, subsidies applied) and inserts them in batches with `INSERT … ON CONFLICT DO
NOTHING` against the unique index of live meal orders (`api.care.meals.UQ_MEAL_ORDER`), then appends their
timeline rows. What is over capacity becomes shortage rows, and staff of the route's area (and the family) are
told once. The orders are what `api.care.services.place_order` makes — source "plan", the same price snapshot,
the same first status (a 保底 meal placed by the family waits for staff review) — written in bulk.

Callable without Flask; nothing here commits (the request's or the task's unit of work does).
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

from sqlalchemy import Select, and_, delete, exists, false, func, insert, or_, select, text, true
from sqlalchemy.exc import IntegrityError

from api import scope
from api.accounts.models import Role, User, UserRole
from api.care import meal_calendar, pricing, states
from api.care import services as care
from api.care.meals import (
    LIVE_MEAL_ORDER,
    MealPlan,
    MealPlanPause,
    MealRoute,
    MealShortage,
    PlanStatus,
    RouteMode,
    Schedule,
)
from api.care.models import (
    MEAL_CATEGORIES,
    CareOrder,
    CareOrderEvent,
    CareProvider,
    CareService,
    Channel,
    DeliveredBy,
    FundingTier,
    Meal,
    OrderStatus,
    Source,
)
from api.db import db, new_id, utcnow
from api.dialect import SQLITE_BATCH, insert_on_conflict
from api.eldercare import services as eldercare
from api.eldercare.models import Elder, ElderStatus
from api.errors import ApiError, NotFound
from api.fields import LOCAL_TZ
from api.notifications.services import notify

# When each meal is served (Asia/Shanghai): the order's window. Delivery routes arrive within it.
MEAL_WINDOWS: dict[Meal, tuple[time, time]] = {
    Meal.BREAKFAST: (time(7, 0), time(8, 30)),
    Meal.LUNCH: (time(11, 0), time(12, 30)),
    Meal.DINNER: (time(17, 0), time(18, 30)),
}
MEAL_ZH = {Meal.BREAKFAST: "早餐", Meal.LUNCH: "午餐", Meal.DINNER: "晚餐"}
MODE_ZH = {RouteMode.DELIVERY: "送餐上门", RouteMode.PICKUP: "食堂就餐/自取"}
# A plan starts at most this far ahead, and its dates stay inside the years the API accepts.
START_HORIZON = timedelta(days=366)
LAST_END = date(2099, 12, 31)
BATCH = SQLITE_BATCH
# Orders a pause or an end may still cancel: not yet taken by the canteen's delivery staff.
NOT_DISPATCHED = (OrderStatus.SUBMITTED, OrderStatus.PENDING_DISPATCH)


def settings() -> Any:
    from api.extensions import get_settings

    return get_settings()


def local_today(now: datetime) -> date:
    return now.astimezone(LOCAL_TZ).date()


def window(day: date, meal: Meal) -> tuple[datetime, datetime]:
    start, end = MEAL_WINDOWS[meal]
    return (
        datetime.combine(day, start, tzinfo=LOCAL_TZ).astimezone(UTC),
        datetime.combine(day, end, tzinfo=LOCAL_TZ).astimezone(UTC),
    )


def _locked(model: Any, object_id: uuid.UUID) -> Any:
    """The row by id, locked (FOR UPDATE of its own table only: its eager joins include outer ones) and fresh."""
    stmt = (
        select(model)
        .where(model.id == object_id)
        .with_for_update(of=model.__table__)
        .execution_options(populate_existing=True)
    )
    return db.session.scalar(stmt)


def _invalid(field_name: str, message: str) -> ApiError:
    return ApiError("validation_failed", errors={field_name: [message]})


# ------------------------------------------------------------------------------------------------
# Routes (staff)
# ------------------------------------------------------------------------------------------------


def staff_routes(staff: User, canteen_id: uuid.UUID | None = None) -> Select[tuple[MealRoute]]:
    stmt = scope.visible(staff, MealRoute)
    if canteen_id is not None:
        stmt = stmt.where(MealRoute.canteen_id == canteen_id)
    return stmt


def staff_route(staff: User, route_id: uuid.UUID, *, lock: bool = False) -> MealRoute:
    route = _locked(MealRoute, route_id) if lock else db.session.get(MealRoute, route_id)
    return scope.ensure_visible(staff, route)


def _meals(values: Iterable[Any]) -> str:
    meals = sorted({Meal(v) for v in values}, key=list(Meal).index)
    if not meals:
        raise _invalid("meals", "at least one meal")
    return ",".join(m.value for m in meals)


def create_route(staff: User, data: dict[str, Any]) -> MealRoute:
    """A canteen's route in a committee (or estate) of my area: its meal service, meals and daily capacity."""
    area = scope.area_for(staff, data["area_id"])
    canteen = db.session.get(CareProvider, data["canteen_id"])
    if canteen is None or canteen.kind != DeliveredBy.CANTEEN:
        raise _invalid("canteen_id", "no such canteen")
    service = db.session.get(CareService, data["service_id"])
    if service is None or service.category not in MEAL_CATEGORIES:
        raise _invalid("service_id", "no such meal service")
    name = data["name"].strip()
    if not name:
        raise _invalid("name", "required")
    clash = db.session.scalar(select(MealRoute.id).where(MealRoute.canteen_id == canteen.id, MealRoute.name == name))
    if clash is not None:
        raise _invalid("name", "the canteen has a route of that name")
    route = MealRoute(
        id=new_id(),
        canteen_id=canteen.id,
        service_id=service.id,
        name=name,
        mode=RouteMode(data["mode"]),
        area_id=area.id,
        area_path=area.path,
        meals=_meals(data["meals"]),
        daily_capacity=data["daily_capacity"],
        is_active=True,
        created_by_id=staff.id,
        created_at=utcnow(),
    )
    db.session.add(route)
    db.session.flush()
    return route


def update_route(staff: User, route_id: uuid.UUID, data: dict[str, Any], now: datetime) -> MealRoute:
    """Capacity, name, meals or in service. More room orders the waiting meals at once (the shortage list)."""
    route = staff_route(staff, route_id, lock=True)
    if "name" in data and data["name"].strip() != route.name:
        name = data["name"].strip()
        if not name:
            raise _invalid("name", "required")
        clash = db.session.scalar(
            select(MealRoute.id).where(MealRoute.canteen_id == route.canteen_id, MealRoute.name == name)
        )
        if clash is not None:
            raise _invalid("name", "the canteen has a route of that name")
        route.name = name
    if "meals" in data:
        route.meals = _meals(data["meals"])
    if "daily_capacity" in data:
        route.daily_capacity = data["daily_capacity"]
    if "is_active" in data:
        route.is_active = data["is_active"]
    db.session.flush()
    if route.is_active:
        generate(now, route_ids=[route.id])
    return route


def routes_for_elder(user: User, elder_id: uuid.UUID) -> list[MealRoute]:
    """The routes in service that reach the elder's home (for choosing one when making a plan)."""
    elder, _channel = care.elder_for(user, elder_id)
    path = elder.area_path or ""
    routes = db.session.scalars(
        select(MealRoute).where(MealRoute.is_active.is_(True)).order_by(MealRoute.name, MealRoute.id)
    )
    return [r for r in routes if path.startswith(r.area_path)]


# ------------------------------------------------------------------------------------------------
# Plans
# ------------------------------------------------------------------------------------------------


def _check_dates(starts_on: date, ends_on: date | None, today: date) -> None:
    if starts_on < today:
        raise _invalid("starts_on", "today or later")
    if starts_on > today + START_HORIZON:
        raise _invalid("starts_on", f"at most {START_HORIZON.days} days ahead")
    if ends_on is not None:
        if ends_on < starts_on:
            raise _invalid("ends_on", "on or after starts_on")
        if ends_on > LAST_END:
            raise _invalid("ends_on", f"on or before {LAST_END.isoformat()}")


def _schedule(data: dict[str, Any]) -> tuple[Schedule, str]:
    schedule = Schedule(data["schedule"])
    raw = data.get("weekdays")
    if schedule == Schedule.WORKDAYS:
        if raw:
            raise _invalid("weekdays", "only with schedule=weekdays")
        return schedule, ""
    problem = meal_calendar.weekdays_problem(raw)
    if problem is not None:
        raise _invalid("weekdays", problem)
    return schedule, meal_calendar.normalised_weekdays(raw)


def _usable_route(route_id: uuid.UUID, elder: Elder, meal: Meal, mode: RouteMode | None) -> MealRoute:
    route = db.session.get(MealRoute, route_id)
    if route is None:
        raise _invalid("route_id", "no such route")
    if not route.is_active:
        raise ApiError("meal_route_inactive", errors={"route_id": ["not in service"]})
    if not (elder.area_path or "").startswith(route.area_path):
        raise _invalid("route_id", "the route does not reach the elder's home")
    if meal.value not in route.meal_list:
        raise _invalid("meal", f"the route serves {', '.join(route.meal_list)}")
    if mode is not None and mode != route.mode:
        raise _invalid("mode", f"the route is a {route.mode.value} route")
    return route


def create_plan(user: User, data: dict[str, Any], now: datetime) -> MealPlan:
    """A standing order for one meal a day, made by the elder, a confirmed family member or staff (403 otherwise);
    the first days' orders are placed at once."""
    elder, channel = care.elder_for(user, data["elder_id"])
    if elder.status != ElderStatus.ACTIVE:
        raise ApiError("care_elder_inactive", state=elder.status.value)
    meal = Meal(data["meal"])
    route = _usable_route(data["route_id"], elder, meal, RouteMode(data["mode"]) if data.get("mode") else None)
    schedule, weekdays = _schedule(data)
    today = local_today(now)
    starts_on = data.get("starts_on") or today + timedelta(days=1)
    ends_on = data.get("ends_on")
    _check_dates(starts_on, ends_on, today)
    taken = db.session.scalar(
        select(MealPlan.id).where(
            MealPlan.elder_id == elder.id, MealPlan.meal == meal, MealPlan.status == PlanStatus.ACTIVE
        )
    )
    if taken is not None:
        raise ApiError("meal_plan_exists", meal=MEAL_ZH[meal], errors={"meal": [str(taken)]})
    plan = MealPlan(
        id=new_id(),
        elder_id=elder.id,
        route_id=route.id,
        meal=meal,
        schedule=schedule,
        weekdays=weekdays,
        skip_holidays=data.get("skip_holidays", True),
        starts_on=starts_on,
        ends_on=ends_on,
        status=PlanStatus.ACTIVE,
        note=(data.get("note") or "").strip(),
        area_path=elder.area_path or "",
        ordered_by_id=user.id,
        channel=channel,
        created_at=now,
    )
    try:
        with db.session.begin_nested():
            db.session.add(plan)
            db.session.flush()
    except IntegrityError:
        # Another request made the same plan a moment ago (the unique index of plans in force).
        raise ApiError("meal_plan_exists", meal=MEAL_ZH[meal]) from None
    generate(now, plan_ids=[plan.id])
    return plan


def _may_manage(user: User, plan: MealPlan) -> bool:
    return care.channel_for(user, plan.elder) is not None


def plan_for(user: User, plan_id: uuid.UUID, *, lock: bool = False) -> MealPlan:
    """A plan the user may see and change: the elder's own, a confirmed family member's, staff of the area's.
    Any other id reads as absent (404), so plan ids cannot be probed."""
    plan = _locked(MealPlan, plan_id) if lock else db.session.get(MealPlan, plan_id)
    if plan is None or not _may_manage(user, plan):
        raise NotFound()
    return plan


def my_plans(user: User, elder_id: uuid.UUID | None = None, status: PlanStatus | None = None) -> Select[Any]:
    """Plans of the elders I am or look after, and those I made."""
    elders = care.looked_after_ids(user)
    stmt = select(MealPlan).where(or_(MealPlan.elder_id.in_(elders), MealPlan.ordered_by_id == user.id))
    if elder_id is not None:
        stmt = stmt.where(MealPlan.elder_id == elder_id)
    if status is not None:
        stmt = stmt.where(MealPlan.status == status)
    return stmt


def staff_plans(staff: User, filters: dict[str, Any]) -> Select[Any]:
    stmt = scope.visible(staff, MealPlan)
    for key in ("route_id", "elder_id"):
        if filters.get(key) is not None:
            stmt = stmt.where(getattr(MealPlan, key) == filters[key])
    if filters.get("status") is not None:
        stmt = stmt.where(MealPlan.status == filters["status"])
    return stmt


def _cancel_orders(plan: MealPlan, first: date, last: date | None, actor: User, reason: str, now: datetime) -> dict:
    """Cancel the plan's orders from `first` (to `last`) that the canteen has not dispatched; the others are
    listed (already with a delivery worker: call the canteen)."""
    stmt = (
        select(CareOrder)
        .where(
            CareOrder.meal_plan_id == str(plan.id),
            CareOrder.service_date >= first,
            CareOrder.status != OrderStatus.CANCELLED,
        )
        .order_by(CareOrder.service_date, CareOrder.id)
        .with_for_update(of=CareOrder.__table__)
    )
    if last is not None:
        stmt = stmt.where(CareOrder.service_date <= last)
    cancelled, kept = [], []
    for order in db.session.scalars(stmt):
        if order.status in NOT_DISPATCHED:
            states.move(order, "cancel", actor.id, now, note=reason)
            order.cancel_reason = reason[:200]
            order.cancelled_by_id = actor.id
            order.cancelled_at = now
            cancelled.append(order.service_date)
        elif order.status in states.LIVE_BEFORE_SERVICE:
            kept.append(order)
    shortages = delete(MealShortage).where(MealShortage.plan_id == plan.id, MealShortage.service_date >= first)
    if last is not None:
        shortages = shortages.where(MealShortage.service_date <= last)
    db.session.execute(shortages)
    return {"cancelled_dates": cancelled, "dispatched_orders": kept}


def pause_plan(user: User, plan_id: uuid.UUID, data: dict[str, Any], now: datetime) -> dict[str, Any]:
    """Pause from `starts_on` to `ends_on` (open-ended until resumed): no meals ordered for those days, and the
    ones already ordered but not dispatched are cancelled."""
    plan = plan_for(user, plan_id, lock=True)
    if plan.status != PlanStatus.ACTIVE:
        raise ApiError("meal_plan_ended")
    today = local_today(now)
    starts_on: date = data.get("starts_on") or today + timedelta(days=1)
    ends_on: date | None = data.get("ends_on")
    if starts_on < today:
        raise _invalid("starts_on", "today or later")
    if starts_on > today + START_HORIZON:
        raise _invalid("starts_on", f"at most {START_HORIZON.days} days ahead")
    if ends_on is not None and ends_on < starts_on:
        raise _invalid("ends_on", "on or after starts_on")
    if ends_on is not None and ends_on > LAST_END:
        raise _invalid("ends_on", f"on or before {LAST_END.isoformat()}")
    for pause in plan.pauses:
        overlaps = (pause.ends_on is None or pause.ends_on >= starts_on) and (
            ends_on is None or pause.starts_on <= ends_on
        )
        if overlaps:
            raise ApiError("meal_plan_paused_overlap", starts_on=pause.starts_on.isoformat())
    pause = MealPlanPause(
        id=new_id(),
        plan_id=plan.id,
        starts_on=starts_on,
        ends_on=ends_on,
        reason=(data.get("reason") or "").strip(),
        created_by_id=user.id,
        created_at=now,
    )
    db.session.add(pause)
    outcome = _cancel_orders(plan, starts_on, ends_on, user, f"助餐计划暂停：{pause.reason or '暂停'}", now)
    db.session.flush()
    db.session.refresh(plan, ["pauses"])
    return {"plan": plan, **outcome}


def resume_plan(user: User, plan_id: uuid.UUID, data: dict[str, Any], now: datetime) -> dict[str, Any]:
    """Resume from `on` (default tomorrow): the pause ends the day before (a pause not begun yet is withdrawn),
    and the days ahead are ordered again."""
    plan = plan_for(user, plan_id, lock=True)
    if plan.status != PlanStatus.ACTIVE:
        raise ApiError("meal_plan_ended")
    today = local_today(now)
    on: date = data.get("on") or today + timedelta(days=1)
    if on < today:
        raise _invalid("on", "today or later")
    if on > today + START_HORIZON:
        raise _invalid("on", f"at most {START_HORIZON.days} days ahead")
    current = [p for p in plan.pauses if p.ends_on is None or p.ends_on >= on]
    if not current:
        raise ApiError("meal_plan_not_paused")
    for pause in current:
        if pause.starts_on >= on:
            db.session.delete(pause)
        else:
            pause.ends_on = on - timedelta(days=1)
            pause.resumed_at = now
            pause.resumed_by_id = user.id
    db.session.flush()
    db.session.refresh(plan, ["pauses"])
    result = generate(now, plan_ids=[plan.id])
    return {
        "plan": plan,
        "ordered_dates": result.ordered_dates(plan.id),
        "cancelled_dates": [],
        "dispatched_orders": [],
    }


def end_plan(user: User, plan_id: uuid.UUID, data: dict[str, Any], now: datetime) -> dict[str, Any]:
    """The plan's last day is `last_day` (default today): later orders not yet dispatched are cancelled; the plan
    is over at once when that day has come (and frees the elder's meal for a new plan)."""
    plan = plan_for(user, plan_id, lock=True)
    if plan.status != PlanStatus.ACTIVE:
        raise ApiError("meal_plan_ended")
    today = local_today(now)
    last_day: date = data.get("last_day") or today
    if last_day < today:
        raise _invalid("last_day", "today or later")
    if last_day > LAST_END:
        raise _invalid("last_day", f"on or before {LAST_END.isoformat()}")
    plan.ends_on = max(last_day, plan.starts_on)
    if last_day <= today or last_day < plan.starts_on:
        plan.status = PlanStatus.ENDED
        plan.ended_at = now
        plan.ended_by_id = user.id
    first_cancelled = last_day + timedelta(days=1) if last_day >= plan.starts_on else plan.starts_on
    outcome = _cancel_orders(plan, first_cancelled, None, user, "助餐计划结束", now)
    db.session.flush()
    return {"plan": plan, **outcome}


def pause_on(plan: MealPlan, day: date) -> MealPlanPause | None:
    for pause in plan.pauses:
        if pause.starts_on <= day and (pause.ends_on is None or pause.ends_on >= day):
            return pause
    return None


def upcoming(plan: MealPlan, now: datetime, count: int = 5) -> list[dict[str, Any]]:
    """The next days the plan serves (at most `count`, within two months), with the calendar's word on each."""
    today = local_today(now)
    day = max(plan.starts_on, today + timedelta(days=1))
    out: list[dict[str, Any]] = []
    for _ in range(62):
        if len(out) >= count or (plan.ends_on is not None and day > plan.ends_on) or plan.status != PlanStatus.ACTIVE:
            break
        if pause_on(plan, day) is None and meal_calendar.serves(
            plan.schedule.value, plan.weekdays, plan.skip_holidays, day
        ):
            out.append({"date": day, "calendar": meal_calendar.day_info(day).source})
        if day >= LAST_END:
            break
        day += timedelta(days=1)
    return out


def calendar(first: date, last: date) -> list[dict[str, Any]]:
    out = []
    day = first
    while day <= last:
        info = meal_calendar.day_info(day)
        out.append(
            {
                "date": day,
                "workday": info.workday,
                "holiday": info.holiday_zh,
                "makeup_workday": info.makeup_workday,
                "calendar": info.source,
            }
        )
        day += timedelta(days=1)
    return out


# ------------------------------------------------------------------------------------------------
# The generator
# ------------------------------------------------------------------------------------------------


@dataclass
class Generation:
    """What one run did: orders created and meals left over capacity, per day."""

    created: list[tuple[uuid.UUID, date]] = field(default_factory=list)  # (plan, day)
    short: list[tuple[uuid.UUID, date]] = field(default_factory=list)
    ended: int = 0

    def ordered_dates(self, plan_id: uuid.UUID) -> list[date]:
        return sorted(day for plan, day in self.created if plan == plan_id)

    def as_dict(self) -> dict[str, int]:
        return {"created": len(self.created), "short": len(self.short), "ended": self.ended}


def _due_on(day: date) -> Any:
    """SQL: the plans whose schedule serves `day` (the calendar is read here, once per day)."""
    info = meal_calendar.day_info(day)
    weekday = and_(MealPlan.schedule == Schedule.WEEKDAYS, MealPlan.weekdays.contains(str(day.isoweekday())))
    if info.holiday is not None:
        weekday = and_(weekday, MealPlan.skip_holidays.is_(False))
    return or_(and_(MealPlan.schedule == Schedule.WORKDAYS, true() if info.workday else false()), weekday)


def _candidates(day: date, plan_ids: list[uuid.UUID] | None, route_ids: list[uuid.UUID] | None) -> Select[Any]:
    paused = exists().where(
        MealPlanPause.plan_id == MealPlan.id,
        MealPlanPause.starts_on <= day,
        or_(MealPlanPause.ends_on.is_(None), MealPlanPause.ends_on >= day),
    )
    ordered = exists().where(
        CareOrder.elder_id == MealPlan.elder_id,
        CareOrder.service_date == day,
        CareOrder.meal == MealPlan.meal,
        CareOrder.status != OrderStatus.CANCELLED,
    )
    stmt = (
        select(MealPlan.id, MealPlan.elder_id, MealPlan.route_id, MealPlan.meal, MealPlan.channel)
        .join(MealRoute, MealRoute.id == MealPlan.route_id)
        .join(Elder, Elder.id == MealPlan.elder_id)
        .where(
            MealPlan.status == PlanStatus.ACTIVE,
            MealPlan.starts_on <= day,
            or_(MealPlan.ends_on.is_(None), MealPlan.ends_on >= day),
            MealRoute.is_active.is_(True),
            Elder.status == ElderStatus.ACTIVE,
            _due_on(day),
            ~paused,
            ~ordered,
        )
    )
    if plan_ids is not None:
        stmt = stmt.where(MealPlan.id.in_(plan_ids))
    if route_ids is not None:
        stmt = stmt.where(MealPlan.route_id.in_(route_ids))
    return stmt


def _open(service: CareService, day: date, meal: Meal, now: datetime) -> bool:
    """Whether a meal of `day` may still be ordered now: before the service's cut-off and lead time."""
    start, _end = window(day, meal)
    cutoff = care.cutoff_for(service, start)
    if cutoff is not None and now > cutoff:
        return False
    return start >= now + timedelta(minutes=service.lead_time_minutes)


def _order_rows(
    route: MealRoute, day: date, picked: list[Any], now: datetime
) -> tuple[list[dict[str, Any]], dict[uuid.UUID, uuid.UUID]]:
    """The care-order rows of the picked plans (price snapshot per elder), and order id -> plan id."""
    service = route.service
    elders = {e.id: e for e in db.session.scalars(select(Elder).where(Elder.id.in_([p.elder_id for p in picked])))}
    rows, plan_of = [], {}
    for plan_id, elder_id, _route_id, meal, channel in picked:
        elder = elders[elder_id]
        if not care.covers(service, elder.area_path):
            continue
        start, end = window(day, meal)
        minutes = int((end - start).total_seconds() // 60)
        try:
            price = pricing.snapshot(service, elder, start, minutes)
        except ApiError:
            continue  # a 保底 meal the elder no longer qualifies for and may not pay: staff see it on the plan list
        needs_review = service.funding_tier == FundingTier.BAODI and channel != Channel.STAFF_PHONE
        order_id = new_id()
        plan_of[order_id] = plan_id
        rows.append(
            {
                "id": order_id,
                "service_id": service.id,
                "elder_id": elder_id,
                "ordered_by_id": None,
                "channel": channel,
                "source": Source.PLAN,
                "status": OrderStatus.SUBMITTED if needs_review else OrderStatus.PENDING_DISPATCH,
                "area_path": elder.area_path or "",
                "note": f"助餐计划（{route.name}）",
                "window_start": start,
                "window_end": end,
                "planned_minutes": minutes,
                "provider_id": route.canteen_id,
                "decline_count": 0,
                "photo_ids": [],
                "auto_confirmed": False,
                "list_price_fen": price.list_price_fen,
                "subsidy_lines": price.lines,
                "subsidy_fen": price.subsidy_fen,
                "self_pay_fen": price.self_pay_fen,
                "uses_ltc_quota": price.uses_ltc_quota,
                "refunded_fen": 0,
                "late_cancel": False,
                "meal": meal,
                "service_date": day,
                "meal_plan_id": str(plan_id),
                "route_id": str(route.id),
                "created_at": now,
                "updated_at": now,
            }
        )
    return rows, plan_of


def _insert_orders(rows: list[dict[str, Any]], now: datetime) -> set[uuid.UUID]:
    """INSERT … ON CONFLICT DO NOTHING on the live-meal index, in batches; the ids actually inserted, with their
    timeline rows ("place", then "approve" for those that need no review) as `place_order` writes them."""
    table = CareOrder.__table__
    created: set[uuid.UUID] = set()
    for start in range(0, len(rows), BATCH):
        chunk = rows[start : start + BATCH]
        stmt = (
            insert_on_conflict(table)
            .values(chunk)
            .on_conflict_do_nothing(
                index_elements=[table.c.elder_id, table.c.service_date, table.c.meal],
                index_where=text(LIVE_MEAL_ORDER),
            )
            .returning(table.c.id)
        )
        created.update(db.session.scalars(stmt))
    events = []
    for row in rows:
        if row["id"] not in created:
            continue
        data = {
            "channel": Channel(row["channel"]).value,
            "source": Source.PLAN.value,
            "meal_plan_id": row["meal_plan_id"],
        }
        events.append(
            {
                "id": new_id(),
                "order_id": row["id"],
                "seq": 1,  # a new order's timeline begins here
                "at": now,
                "actor_id": None,
                "action": "place",
                "from_status": None,
                "to_status": OrderStatus.SUBMITTED.value,
                "note": "",
                "data": data,
            }
        )
        if row["status"] == OrderStatus.PENDING_DISPATCH:
            events.append(
                {
                    "id": new_id(),
                    "order_id": row["id"],
                    "seq": 2,
                    "at": now,
                    "actor_id": None,
                    "action": "approve",
                    "from_status": OrderStatus.SUBMITTED.value,
                    "to_status": OrderStatus.PENDING_DISPATCH.value,
                    "note": "无需资格审核",
                    "data": {},
                }
            )
    for start in range(0, len(events), BATCH):
        db.session.execute(insert(CareOrderEvent.__table__), events[start : start + BATCH])
    return created


def _route_used(route_id: uuid.UUID, day: date) -> int:
    return (
        db.session.scalar(
            select(func.count(CareOrder.id)).where(
                CareOrder.route_id == str(route_id),
                CareOrder.service_date == day,
                CareOrder.status != OrderStatus.CANCELLED,
            )
        )
        or 0
    )


def _record_shortage(route: MealRoute, day: date, left_out: list[Any], now: datetime) -> list[uuid.UUID]:
    """Shortage rows for the meals left out (once per plan and day); staff of the route's area and each family
    are told about the new ones, once."""
    if not left_out:
        return []
    table = MealShortage.__table__
    rows = [
        {
            "id": new_id(),
            "plan_id": p[0],
            "route_id": route.id,
            "elder_id": p[1],
            "service_date": day,
            "meal": p[3],
            "created_at": now,
        }
        for p in left_out
    ]
    new: list[uuid.UUID] = []
    for start in range(0, len(rows), BATCH):
        stmt = (
            insert_on_conflict(table)
            .values(rows[start : start + BATCH])
            .on_conflict_do_nothing(index_elements=[table.c.plan_id, table.c.service_date])
            .returning(table.c.plan_id)
        )
        new.extend(db.session.scalars(stmt))
    if not new:
        return []
    total = db.session.scalar(
        select(func.count(MealShortage.id)).where(MealShortage.route_id == route.id, MealShortage.service_date == day)
    )
    context = {
        "route_id": str(route.id),
        "route_name": route.name,
        "canteen_name": route.canteen.name,
        "service_date": day.isoformat(),
        "capacity": route.daily_capacity,
        "count": total,
    }
    for person in route_staff(route):
        notify(
            person,
            "care_meal_shortage",
            context,
            subject_path=route.area_path,
            dedupe_key=f"care-meal-shortage:{route.id}:{day.isoformat()}:{total}",
        )
    new_plans = set(new)
    for plan_id, elder_id, _r, meal, _c in left_out:
        if plan_id not in new_plans:
            continue
        elder = db.session.get(Elder, elder_id)
        assert elder is not None
        for person in _family_and_self(elder):
            notify(
                person,
                "care_meal_not_arranged",
                {
                    "plan_id": str(plan_id),
                    "elder_name": elder.name,
                    "service_date": day.isoformat(),
                    "meal_zh": MEAL_ZH[Meal(meal)],
                    "route_name": route.name,
                },
                subject_path=elder.area_path,
                dedupe_key=f"care-meal-not-arranged:{plan_id}:{day.isoformat()}",
            )
    return new


def _family_and_self(elder: Elder) -> list[User]:
    people = list(eldercare.contacts_in_order(elder.id))
    if elder.user_id is not None and all(p.id != elder.user_id for p in people):
        own = db.session.get(User, elder.user_id)
        if own is not None:
            people.append(own)
    return people


def route_staff(route: MealRoute) -> list[User]:
    """Staff whose area holds the route (committee staff of its committee, the subdistrict's), else admins."""
    staff = db.session.scalars(
        select(User)
        .where(
            User.is_active.is_(True),
            User.staff_area_id.is_not(None),
            User.id.in_(select(UserRole.user_id).where(UserRole.role.in_((Role.STAFF, Role.ADMIN)))),
        )
        .order_by(User.id)
    ).all()
    reaching = [u for u in staff if scope.sees(u, route.area_path)]
    if reaching:
        return reaching
    return list(
        db.session.scalars(
            select(User)
            .join(UserRole, UserRole.user_id == User.id)
            .where(UserRole.role == Role.ADMIN, User.is_active.is_(True))
            .order_by(User.id)
        )
    )


def _end_finished(today: date) -> int:
    """Plans whose last day has passed are over."""
    finished = list(
        db.session.scalars(
            select(MealPlan)
            .where(MealPlan.status == PlanStatus.ACTIVE, MealPlan.ends_on < today)
            .with_for_update(of=MealPlan.__table__)
        )
    )
    for plan in finished:
        plan.status = PlanStatus.ENDED
        plan.ended_at = utcnow()
    return len(finished)


def generate(
    now: datetime,
    *,
    days_ahead: int | None = None,
    plan_ids: list[uuid.UUID] | None = None,
    route_ids: list[uuid.UUID] | None = None,
) -> Generation:
    """Order the plans' meals for the next `days_ahead` days (setting CARE_MEAL_DAYS_AHEAD; tomorrow first),
    each day's still open for ordering. Safe to run any number of times, and twice at once."""
    ahead = settings().care_meal_days_ahead if days_ahead is None else days_ahead
    today = local_today(now)
    result = Generation()
    if plan_ids is None and route_ids is None:
        result.ended = _end_finished(today)
    for offset in range(1, ahead + 1):
        day = today + timedelta(days=offset)
        base = _candidates(day, plan_ids, route_ids)
        due_routes = sorted(set(db.session.scalars(select(base.subquery().c.route_id).distinct())))
        for route_id in due_routes:
            # The route's row lock: a second run waits here, then sees what the first one ordered.
            route = _locked(MealRoute, route_id)
            assert route is not None
            open_meals = [m for m in Meal if _open(route.service, day, m, now)]
            if not open_meals:
                continue
            rows = db.session.execute(
                _candidates(day, plan_ids, [route_id])
                .where(MealPlan.meal.in_(open_meals))
                .order_by(MealPlan.created_at, MealPlan.id)
            ).all()
            if not rows:
                continue
            room = max(0, route.daily_capacity - _route_used(route_id, day))
            picked, left_out = rows[:room], rows[room:]
            order_rows, plan_of = _order_rows(route, day, picked, now)
            created = _insert_orders(order_rows, now)
            created_plans = [plan_of[order_id] for order_id in created]
            result.created.extend((plan_id, day) for plan_id in created_plans)
            if created_plans:
                db.session.execute(
                    delete(MealShortage).where(
                        MealShortage.plan_id.in_(created_plans), MealShortage.service_date == day
                    )
                )
            _record_shortage(route, day, left_out, now)
            result.short.extend((p[0], day) for p in left_out)
    return result


# ------------------------------------------------------------------------------------------------
# What staff and the kitchen see
# ------------------------------------------------------------------------------------------------


def meal_list(route: MealRoute, day: date, meal: Meal | None = None) -> dict[str, Any]:
    """The route's meals of a day for the kitchen and the delivery staff: count, each order with the elder and
    their door, and the meals left out (the shortage list)."""
    stmt = (
        select(CareOrder)
        .where(
            CareOrder.route_id == str(route.id),
            CareOrder.service_date == day,
            CareOrder.status != OrderStatus.CANCELLED,
        )
        .order_by(CareOrder.meal, CareOrder.area_path, CareOrder.id)
    )
    shortages = select(MealShortage).where(MealShortage.route_id == route.id, MealShortage.service_date == day)
    if meal is not None:
        stmt = stmt.where(CareOrder.meal == meal)
        shortages = shortages.where(MealShortage.meal == meal)
    orders = list(db.session.scalars(stmt))
    short = list(db.session.scalars(shortages.order_by(MealShortage.created_at, MealShortage.id)))
    short_elders = {e.id: e for e in db.session.scalars(select(Elder).where(Elder.id.in_([s.elder_id for s in short])))}
    by_meal: dict[str, int] = {}
    for order in orders:
        key = order.meal.value if order.meal else ""
        by_meal[key] = by_meal.get(key, 0) + 1
    info = meal_calendar.day_info(day)
    return {
        "route": route,
        "date": day,
        "calendar": info.source,
        "holiday": info.holiday_zh,
        "capacity": route.daily_capacity,
        "count": len(orders),
        "by_meal": by_meal,
        "items": [
            {
                "order_id": o.id,
                "elder_id": o.elder_id,
                "elder_name": o.elder.name,
                "address": o.elder.room.address,
                "meal": o.meal,
                "status": o.status,
                "self_pay_fen": o.self_pay_fen,
                "note": o.note,
            }
            for o in orders
        ],
        "shortages": [
            {
                "plan_id": s.plan_id,
                "elder_id": s.elder_id,
                "elder_name": short_elders[s.elder_id].name,
                "address": short_elders[s.elder_id].room.address,
                "meal": s.meal,
            }
            for s in short
        ],
    }


def staff_shortages(staff: User, day: date | None, route_id: uuid.UUID | None) -> Select[Any]:
    stmt = select(MealShortage).join(MealRoute, MealRoute.id == MealShortage.route_id)
    stmt = scope.visible(staff, stmt, MealRoute.area_path)
    if day is not None:
        stmt = stmt.where(MealShortage.service_date == day)
    if route_id is not None:
        stmt = stmt.where(MealShortage.route_id == route_id)
    return stmt
