"""What aids lending does when payments reports on a deposit order (`purpose = "aids_deposit"`, reference
`loan:<id>`). Each runs inside the unit of work of the payment's change, with the order already locked by
payments — so the lock order (order → item → loan) holds here too."""

from __future__ import annotations

import uuid
from typing import Any

from api.aids import services
from api.aids.models import AidLoan, LoanStatus
from api.db import db, utcnow
from api.payments import services as payments
from api.payments.models import PaymentOrder
from api.payments.signals import LateDecision

ENDED_REASON = "预约已结束，押金全额退回"


def _loan(order: PaymentOrder) -> AidLoan | None:
    if order.purpose != services.PURPOSE:
        return None
    kind, _, raw = order.reference.partition(":")
    try:
        loan_id = uuid.UUID(raw)
    except ValueError:
        return None
    if kind != "loan" or db.session.get(AidLoan, loan_id) is None:
        return None
    return services.lock_loan(loan_id)


def on_payment_succeeded(order: PaymentOrder, **_: Any) -> None:
    """The deposit is paid: the reservation may be handed out. Paid for a reservation already over (expired,
    cancelled): all of it goes back."""
    loan = _loan(order)
    if loan is None:
        return
    if loan.status in (services.LoanStatus.RESERVED, LoanStatus.LENT):
        loan.deposit_paid_at = loan.deposit_paid_at or utcnow()
    elif order.refundable_fen > 0:
        loan.refund_fen = order.refundable_fen
        payments.refund(order, order.refundable_fen, ENDED_REASON)


def on_payment_closed(order: PaymentOrder, **_: Any) -> None:
    """The deposit was not paid in time (or the payment failed): the reservation ends and the item is free."""
    loan = _loan(order)
    if loan is None or loan.status != LoanStatus.RESERVED or loan.deposit_paid_at is not None:
        return
    now = utcnow()
    services.move(loan, LoanStatus.EXPIRED, now)
    loan.cancelled_by, loan.cancel_reason = "system", "押金未在时限内支付"
    services._tell(loan, "aid_reservation_ended", "ended", reason="因押金未在时限内支付而取消", refund_text="")
    services._wake_waiter(loan.type_id, loan.location_id, now)


def on_payment_after_close(order: PaymentOrder, **_: Any) -> LateDecision | None:
    """Paid after the order closed: the reservation ended with it (its item may be someone else's now), so the
    money goes back in full."""
    if order.purpose != services.PURPOSE:
        return None
    return LateDecision.REFUND
