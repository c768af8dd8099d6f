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
    routes="api.care.meal_routes",  # care's blueprints and the meal plans' (api.care.meal_routes.blueprints)
    models=("api.care.models", "api.care.meals"),
    tasks="api.care.meal_tasks",  # imports care's tasks too
    beat={
        "care-expire-offers": {"task": "care.expire_offers", "schedule": 60.0},
        "care-no-shows": {"task": "care.no_shows", "schedule": 120.0},
        "care-welfare-escalate": {"task": "care.welfare_escalate", "schedule": 60.0},
        "care-auto-confirm": {"task": "care.auto_confirm", "schedule": 900.0},
        # Every hour at :10 — a plan made or resumed, or a route given more room, is ordered by the next run anyway.
        "care-meal-plans-order": {"task": "care.order_meal_plans", "schedule": crontab(minute=10)},
    },
    # The daily meal plans' modules fold care's in: care's codes, messages and personal data and their own.
    errors="api.care.meal_errors:ERRORS",
    messages="api.care.meal_messages:MESSAGES",
    media_visibility={"care_order": "api.care.visits:may_see_photo"},
    receivers=(
        ("api.payments.signals:payment_succeeded", "api.care.receivers:on_payment_succeeded"),
        ("api.payments.signals:payment_after_close", "api.care.receivers:on_payment_after_close"),
    ),
    seed="api.care.meal_seed:seed_demo",  # care's demo, then the meal routes and a plan
    personal_data="api.care.meal_personal:personal_data",
)
