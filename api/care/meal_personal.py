"""What daily meal plans hold about a person: the plans they made (for themselves or an elder they look after),
the notes and pause reasons they wrote, and staff's part in them (who ended a plan, who made a route).

Erasure: a plan is the elder's standing order and stays for the elder (an elder's own record goes with the elder,
by eldercare); it loses who made it and the note they wrote; a pause keeps its dates without its reason or who
asked; a route keeps its canteen's name without who created it. Care's own personal-data hooks fold these in
(`COVERS`, `export_meals`, `erase_meals`) when care declares its own.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import or_, select, update

from api.accounts.models import User
from api.care import personal as care_personal
from api.care.meals import MealPlan, MealPlanPause, MealRoute
from api.db import db
from api.eldercare.models import Elder
from api.personaldata import PersonalData, forget, record

COVERS = (
    "care_meal_plans.ordered_by_id",
    "care_meal_plans.ended_by_id",
    "care_meal_plans.note",
    "care_meal_plan_pauses.created_by_id",
    "care_meal_plan_pauses.resumed_by_id",
    "care_meal_plan_pauses.reason",
    "care_meal_routes.created_by_id",
)


def export_meals(user: User) -> dict[str, Any]:
    own_elders = select(Elder.id).where(Elder.user_id == user.id)
    plans = db.session.scalars(
        select(MealPlan)
        .where(or_(MealPlan.ordered_by_id == user.id, MealPlan.elder_id.in_(own_elders)))
        .order_by(MealPlan.id)
    )
    return {
        "meal_plans": [
            {
                **record(p, "id", "elder_id", "meal", "schedule", "weekdays", "starts_on", "ends_on", "status", "note"),
                "route": p.route.name,
                "made_by_me": p.ordered_by_id == user.id,
                "pauses": [record(x, "starts_on", "ends_on", "reason") for x in p.pauses],
            }
            for p in plans
        ]
    }


def erase_meals(user: User) -> None:
    db.session.execute(update(MealPlan).where(MealPlan.ordered_by_id == user.id).values(note=""))
    forget(MealPlan.ordered_by_id, user.id)
    forget(MealPlan.ended_by_id, user.id)
    db.session.execute(update(MealPlanPause).where(MealPlanPause.created_by_id == user.id).values(reason=""))
    forget(MealPlanPause.created_by_id, user.id)
    forget(MealPlanPause.resumed_by_id, user.id)
    forget(MealRoute.created_by_id, user.id)


def export(user: User) -> dict[str, Any]:
    return {**care_personal.export(user), **export_meals(user)}


def erase(user: User) -> None:
    care_personal.erase(user)
    erase_meals(user)


# The domain's manifest names one: care's orders and the meal plans together.
CARE = care_personal.personal_data
personal_data = PersonalData(
    categories=(*CARE.categories, "助餐计划（为自己或所照顾的老人）"),
    covers=(*CARE.covers, *COVERS),
    export="api.care.meal_personal:export",
    erase="api.care.meal_personal:erase",
    blockers=CARE.blockers,
    summary=CARE.summary,
    subjects=CARE.subjects,
    photos=CARE.photos,
)
