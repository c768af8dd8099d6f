"""Elderly service orders (为老服务): one entry point for every service an elder at home needs — the catalogue
(助餐, 送餐, 助浴, 助洁, 助医陪诊, 上门康复, 陪聊, 代买, 适老化改造), providers and their workers, orders placed
by the elder, a confirmed family member or staff on the elder's behalf, subsidies and the 长护险 weekly quota,
dispatch, proof of service at the door, confirmation, disputes, ratings and return visits, and each provider's
monthly settlement.

It sits above eldercare (elders, consent, family bindings), payments (the elder's own share) and volunteers;
none of them imports it. Daily meal plans build on `api.care.services.place_order`.
"""

from celery.schedules import crontab

from api.platform import Domain

domain = Domain(
    name="care",
    description="elderly service catalogue, providers, orders, dispatch, proof of service, subsidies, ratings",
    models=("api.care.models", "api.care.meals"),
    # Daily meal plans (api.care.meal_*): their routes, jobs, errors and messages; care's own join these modules.
    routes="api.care.meal_routes",
    tasks="api.care.meal_tasks",
    beat={
        # Every hour at :10 — a plan made or resumed, or a route given more room, is ordered by the next run anyway.
        "care-meal-plans-order": {"task": "care.order_meal_plans", "schedule": crontab(minute=10)},
    },
    errors="api.care.meal_errors:ERRORS",
    messages="api.care.meal_messages:MESSAGES",
    personal_data="api.care.meal_personal:personal_data",
)
