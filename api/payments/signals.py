"""What payments tells the domains that sell things (parking, party dues, paid services), which subscribe in
their manifests; payments imports none of them. Each signal is sent once per change, inside the unit of work
of the change it reports (the order or refund records that it was sent): what a receiver writes commits or
rolls back with it, and a receiver that raises makes WeChat Pay send its notify again.

Every order passes through every receiver: a receiver looks at `order.purpose` and ignores the others'.
"""

from __future__ import annotations

import enum

from blinker import Namespace

_signals = Namespace()


class LateDecision(enum.StrEnum):
    """A receiver's answer to `payment_after_close`."""

    KEEP = "keep"  # the thing is still to be had: take the payment (`payment_succeeded` follows)
    REFUND = "refund"  # it is gone: refund in full and tell the payer


payment_succeeded = _signals.signal(
    "payments.payment-succeeded",
    doc="WeChat Pay took the money for an order: `send(order)`. Once per order.",
)
payment_closed = _signals.signal(
    "payments.payment-closed",
    doc=(
        "An order will not be paid: `send(order, reason=...)` with `order.close_reason` `expired`, `closed_by_domain`, "
        "`closed_at_wechat` or `payment_failed`. Once per order."
    ),
)
payment_after_close = _signals.signal(
    "payments.payment-after-close",
    doc=(
        "WeChat Pay took money for an order that was already closed here (the resident paid at the last second): "
        "`send(order)`. The receiver of its purpose returns `LateDecision.KEEP` to take it (then `payment_succeeded` "
        "is sent) or `LateDecision.REFUND`; when no receiver answers KEEP, the payment is refunded in full and the "
        "payer told. Once per order."
    ),
)
refund_succeeded = _signals.signal(
    "payments.refund-succeeded",
    doc="A refund reached the payer: `send(refund)` (`refund.order` is its order). Once per refund.",
)
refund_failed = _signals.signal(
    "payments.refund-failed",
    doc=(
        "A refund did not reach the payer: `send(refund)` with `refund.status` `closed` (the amount is refundable "
        "again) or `abnormal` (the payer's account refused it; finance settles it in the merchant portal). Once."
    ),
)
