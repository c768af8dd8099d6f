"""Elderly service orders (为老服务): one entry point for every service an elder at home needs — the catalogue
(助餐, 送餐, 助浴, 助洁, 助医陪诊, 上门康复, 陪聊, 代买, 适老化改造), providers and their workers, orders placed
by the elder, a confirmed family member or staff on the elder's behalf, subsidies and the 长护险 weekly quota,
dispatch, proof of service at the door, confirmation, disputes, ratings and return visits, and each provider's
monthly settlement.

It sits above eldercare (elders, consent, family bindings), payments (the elder's own share) and volunteers;
none of them imports it. Daily meal plans build on `api.care.services.place_order`.
"""

from api.platform import Domain

domain = Domain(
    name="care",
    description="elderly service catalogue, providers, orders, dispatch, proof of service, subsidies, ratings",
    routes="api.care.routes",
    models=("api.care.models",),
    tasks="api.care.tasks",
    beat={
        "care-expire-offers": {"task": "care.expire_offers", "schedule": 60.0},
        "care-no-shows": {"task": "care.no_shows", "schedule": 120.0},
        "care-auto-confirm": {"task": "care.auto_confirm", "schedule": 900.0},
    },
    errors="api.care.errors:ERRORS",
    messages="api.care.messages:MESSAGES",
    media_visibility={"care_order": "api.care.visits:may_see_photo"},
    receivers=(
        ("api.payments.signals:payment_succeeded", "api.care.receivers:on_payment_succeeded"),
        ("api.payments.signals:payment_after_close", "api.care.receivers:on_payment_after_close"),
    ),
    seed="api.care.seed:seed_demo",
    personal_data="api.care.personal:personal_data",
)
