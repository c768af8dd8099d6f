"""What payments hold about a person: what they paid for, when, how much, and its refunds. A payment is a
financial record the street must keep and reconcile, so erasure keeps every order and refund without
its payer (no id, no openid); an order still unpaid, or one with a refund on its way, blocks the
deletion until it is settled."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select, update

from api.accounts.models import User
from api.db import db
from api.payments.models import OrderStatus, PaymentAudit, PaymentOrder, PaymentRefund, RefundStatus
from api.personaldata import PersonalData, forget, record

personal_data = PersonalData(
    categories=("支付与退款记录",),
    covers=(
        "payment_orders.payer_id",
        "payment_orders.payer_openid",
        "payment_orders.description",
        "payment_orders.close_reason",
        "payment_refunds.reason",
        "payment_refunds.requested_by_id",
        "payment_audit.actor_id",
        "payment_audit.reason",
    ),
    export="api.payments.personal:export",
    erase="api.payments.personal:erase",
    blockers="api.payments.personal:blockers",
)


def export(user: User) -> dict[str, Any]:
    orders = db.session.scalars(select(PaymentOrder).where(PaymentOrder.payer_id == user.id).order_by(PaymentOrder.id))
    return {
        "payments": [
            {
                **record(o, "out_trade_no", "purpose", "description", "amount_fen", "status", "created_at", "paid_at"),
                "refunds": [record(r, "amount_fen", "reason", "status", "created_at") for r in o.refunds],
            }
            for o in orders
        ]
    }


def blockers(user: User) -> list[dict[str, Any]]:
    unsettled = db.session.scalar(
        select(PaymentOrder.id)
        .outerjoin(PaymentRefund, PaymentRefund.order_id == PaymentOrder.id)
        .where(
            PaymentOrder.payer_id == user.id,
            (PaymentOrder.status == OrderStatus.PENDING)
            | PaymentRefund.status.in_((RefundStatus.REQUESTED, RefundStatus.PROCESSING, RefundStatus.ABNORMAL)),
        )
        .limit(1)
    )
    if unsettled is None:
        return []
    return [{"reason": "您有尚未完成的支付或退款，请完成或等待退款到账后再注销", "area_path": ""}]


def erase(user: User) -> None:
    db.session.execute(
        update(PaymentOrder).where(PaymentOrder.payer_id == user.id).values(payer_id=None, payer_openid=None)
    )
    forget(PaymentRefund.requested_by_id, user.id)
    forget(PaymentAudit.actor_id, user.id)
    db.session.flush()
