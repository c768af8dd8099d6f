"""What elderly services do when payments reports on one of their orders (`purpose = "care"`, the reference is
the care order's id): the payment is written on the order's timeline; one that arrives after the order was
cancelled is refunded."""

from __future__ import annotations

import uuid
from typing import Any

from api.care import states
from api.care.models import CareOrder, OrderStatus
from api.care.money import PURPOSE
from api.db import db, utcnow
from api.payments.models import PaymentOrder
from api.payments.signals import LateDecision


def _order(payment: PaymentOrder) -> CareOrder | None:
    if payment.purpose != PURPOSE:
        return None
    try:
        return db.session.get(CareOrder, uuid.UUID(payment.reference))
    except ValueError:
        return None


def on_payment_succeeded(payment: PaymentOrder, **_: Any) -> None:
    order = _order(payment)
    if order is not None:
        states.record(order, "paid", payment.payer_id, utcnow(), data={"amount_fen": payment.amount_fen})


def on_payment_after_close(payment: PaymentOrder, **_: Any) -> LateDecision | None:
    order = _order(payment)
    if order is None:
        return None
    gone = order.status in (OrderStatus.CANCELLED, OrderStatus.NOT_DELIVERED)
    return LateDecision.REFUND if gone else LateDecision.KEEP
