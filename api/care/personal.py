"""What elderly services hold about a person: the orders they placed (for themselves or an elder they look after),
their confirmations, ratings and disputes, their work for a provider (as a worker), and — for an elder with an
account — the door notes on their care profile.

Erasure: the orders stay (the provider's settlement and the subsidy accounts need them) without the person — no
`ordered_by`, no note they wrote; ratings and disputes stay as scores and outcomes without their words; a worker
row goes (the orders keep their provider); staff who acted are forgotten on the timeline."""

from __future__ import annotations

from typing import Any

from sqlalchemy import or_, select, update

from api.accounts.models import User
from api.care.models import (
    CareDispute,
    CareOrder,
    CareOrderEvent,
    CareProfile,
    CareRating,
    CareReturnVisit,
    CareWorker,
)
from api.db import db
from api.eldercare.models import Elder
from api.personaldata import PersonalData, forget, record, remove

personal_data = PersonalData(
    categories=("为老服务订单（本人下单或为照护的老人下单）", "服务确认、评价与申诉", "服务人员身份"),
    covers=(
        "care_workers.user_id",
        "care_workers.name",
        "care_profiles.door_notes",
        "care_orders.ordered_by_id",
        "care_orders.note",
        "care_orders.confirmed_by_id",
        "care_orders.cancelled_by_id",
        "care_orders.cancel_reason",
        "care_orders.welfare_safe_by_id",
        "care_orders.welfare_safe_note",
        "care_order_events.actor_id",
        "care_order_events.note",
        "care_ratings.by_id",
        "care_ratings.comment",
        "care_disputes.opened_by_id",
        "care_disputes.reason",
        "care_disputes.resolved_by_id",
        "care_disputes.resolution_note",
        "care_return_visits.done_by_id",
    ),
    export="api.care.personal:export",
    erase="api.care.personal:erase",
)


def _own_elders(user: User) -> list[Any]:
    return list(db.session.scalars(select(Elder.id).where(Elder.user_id == user.id)))


def export(user: User) -> dict[str, Any]:
    elders = _own_elders(user)
    orders = db.session.scalars(
        select(CareOrder)
        .where(or_(CareOrder.ordered_by_id == user.id, CareOrder.elder_id.in_(elders)))
        .order_by(CareOrder.id)
    ).all()
    ratings = db.session.scalars(select(CareRating).where(CareRating.by_id == user.id)).all()
    disputes = db.session.scalars(select(CareDispute).where(CareDispute.opened_by_id == user.id)).all()
    workers = db.session.scalars(select(CareWorker).where(CareWorker.user_id == user.id)).all()
    safe = db.session.scalars(
        select(CareOrder).where(CareOrder.welfare_safe_by_id == user.id).order_by(CareOrder.id)
    ).all()
    return {
        "orders": [
            {
                "service": o.service.name,
                "elder": o.elder.name,
                **record(
                    o,
                    "status",
                    "channel",
                    "window_start",
                    "window_end",
                    "note",
                    "list_price_fen",
                    "subsidy_fen",
                    "self_pay_fen",
                    "cancel_reason",
                    "created_at",
                ),
            }
            for o in orders
        ],
        "elder_safe_reports": [
            {"service": o.service.name, "elder": o.elder.name, **record(o, "welfare_safe_at", "welfare_safe_note")}
            for o in safe
        ],
        "ratings": [record(r, "overall", "punctuality", "attitude", "comment", "created_at") for r in ratings],
        "disputes": [record(d, "reason", "status", "outcome", "opened_at") for d in disputes],
        "worker_of": [{"provider": w.provider.name, **record(w, "name", "is_active", "created_at")} for w in workers],
    }


def erase(user: User) -> None:
    elders = _own_elders(user)
    if elders:
        db.session.execute(update(CareProfile).where(CareProfile.elder_id.in_(elders)).values(door_notes=""))
    db.session.execute(update(CareOrder).where(CareOrder.ordered_by_id == user.id).values(note=""))
    db.session.execute(update(CareOrder).where(CareOrder.cancelled_by_id == user.id).values(cancel_reason=None))
    forget(CareOrder.ordered_by_id, user.id)
    forget(CareOrder.confirmed_by_id, user.id)
    forget(CareOrder.cancelled_by_id, user.id)
    forget(CareOrder.welfare_safe_by_id, user.id, welfare_safe_note=None)
    db.session.execute(update(CareOrderEvent).where(CareOrderEvent.actor_id == user.id).values(note=""))
    forget(CareOrderEvent.actor_id, user.id)
    forget(CareRating.by_id, user.id, comment="")
    db.session.execute(update(CareDispute).where(CareDispute.opened_by_id == user.id).values(reason="（已注销）"))
    forget(CareDispute.opened_by_id, user.id)
    forget(CareDispute.resolved_by_id, user.id)
    forget(CareReturnVisit.done_by_id, user.id)
    remove(CareWorker.user_id, user.id)
