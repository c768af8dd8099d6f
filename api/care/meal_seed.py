"""Daily meal plans' part of the demo, after care's own (the canteen and its meal services): a pickup route and a
delivery route of the community canteen in each demo elder's committee, and a working-day lunch delivery plan for
the first demo elder, starting tomorrow. Skipped when already there."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from sqlalchemy import select

from api.accounts.models import Area, AreaKind
from api.care import meal_services
from api.care import seed as care_seed
from api.care.meals import MealPlan, MealRoute, PlanStatus, RouteMode, Schedule
from api.care.models import CareProvider, CareService, Channel, Meal
from api.db import db, new_id, utcnow
from api.eldercare.seed import demo_elders

ROUTES = (("meal-lunch", "食堂堂食", RouteMode.PICKUP, 80), ("meal-delivery", "送餐一线", RouteMode.DELIVERY, 40))


def _committee(area: Area | None) -> Area | None:
    while area is not None and area.kind != AreaKind.COMMITTEE:
        area = area.parent
    return area


def seed_demo() -> dict[str, Any]:
    done = care_seed.seed_demo()
    canteen = db.session.scalar(select(CareProvider).where(CareProvider.name == care_seed.CANTEEN))
    if canteen is None or db.session.scalar(select(MealRoute.id).where(MealRoute.canteen_id == canteen.id)):
        return done
    services = {s.code: s for s in db.session.scalars(select(CareService).where(CareService.code.like("meal-%")))}
    elders = demo_elders()
    routes: dict[tuple[str, str], MealRoute] = {}
    for elder in elders:
        committee = _committee(elder.room.building)
        if committee is None:
            continue
        for code, name, mode, capacity in ROUTES:
            if (committee.code, code) in routes or code not in services:
                continue
            route = MealRoute(
                id=new_id(),
                canteen_id=canteen.id,
                service_id=services[code].id,
                name=f"{committee.name}{name}",
                mode=mode,
                area_id=committee.id,
                area_path=committee.path,
                meals="lunch,dinner",
                daily_capacity=capacity,
            )
            db.session.add(route)
            routes[(committee.code, code)] = route
    db.session.flush()
    plans = 0
    if elders:
        first = elders[0]
        committee = _committee(first.room.building)
        route = routes.get((committee.code, "meal-delivery")) if committee else None
        if route is not None:
            now = utcnow()
            db.session.add(
                MealPlan(
                    id=new_id(),
                    elder_id=first.id,
                    route_id=route.id,
                    meal=Meal.LUNCH,
                    schedule=Schedule.WORKDAYS,
                    weekdays="",
                    skip_holidays=True,
                    starts_on=meal_services.local_today(now) + timedelta(days=1),
                    status=PlanStatus.ACTIVE,
                    note="少盐",
                    area_path=first.area_path or "",
                    channel=Channel.STAFF_PHONE,
                    created_at=now,
                )
            )
            plans = 1
    db.session.flush()
    return {**done, "meal routes added": len(routes), "meal plans added": plans}
