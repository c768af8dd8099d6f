"""Request and response shapes of payments: the resident's orders and prepay, the sandbox, the staff side."""

from __future__ import annotations

from marshmallow import Schema, fields, validate

from api.fields import Date, DateTime, Text
from api.masking import mask_phone
from api.pagination import CursorArgs
from api.payments.models import (
    AuditAction,
    DiscrepancyEntry,
    DiscrepancyKind,
    OrderStatus,
    PaidVia,
    ReconciliationStatus,
    RefundStatus,
)

AMOUNT = {"description": "integer fen (1 yuan = 100 fen), CNY"}


class RefundSchema(Schema):
    id = fields.UUID(required=True)
    amount_fen = fields.Integer(required=True, metadata=AMOUNT)
    status = fields.Enum(RefundStatus, by_value=True, required=True)
    reason = Text(required=True)
    created_at = DateTime(required=True)
    succeeded_at = DateTime(required=True, allow_none=True)


class PaymentSchema(Schema):
    """One order as its payer sees it: what it pays for, its state and its refunds."""

    id = fields.UUID(required=True)
    purpose = Text(required=True, metadata={"description": "what kind of thing it pays for (parking, party_dues …)"})
    reference = Text(required=True, metadata={"description": "the id of the thing in its domain"})
    description = Text(required=True)
    amount_fen = fields.Integer(required=True, metadata=AMOUNT)
    currency = Text(required=True)
    status = fields.Enum(OrderStatus, by_value=True, required=True)
    created_at = DateTime(required=True)
    expires_at = DateTime(required=True)
    paid_at = DateTime(required=True, allow_none=True)
    closed_at = DateTime(required=True, allow_none=True)
    close_reason = Text(required=True, allow_none=True)
    refunded_fen = fields.Integer(
        required=True, attribute="refund_succeeded_fen", metadata={"description": "refunds that reached the payer"}
    )
    refund_pending_fen = fields.Integer(required=True, metadata={"description": "refunds on their way"})
    refunds = fields.List(fields.Nested(RefundSchema), required=True)


class PayParamsSchema(Schema):
    """What `wx.requestPayment` takes (its own camelCase names), and whether it is the sandbox's."""

    order_id = fields.UUID(required=True)
    sandbox = fields.Boolean(
        required=True, metadata={"description": "true: not WeChat Pay; complete it with …/sandbox-complete"}
    )
    appId = Text(required=True)
    timeStamp = Text(required=True)
    nonceStr = Text(required=True)
    package = Text(required=True, metadata={"description": "prepay_id=…"})
    signType = Text(required=True, metadata={"description": "RSA"})
    paySign = Text(required=True)


class SandboxCompleteArgs(Schema):
    outcome = fields.String(
        required=True,
        validate=validate.OneOf(["paid", "failed"]),
        metadata={"description": "paid: as WeChat Pay's notify would; failed: the order closes"},
    )


class SandboxOrderArgs(Schema):
    amount_fen = fields.Integer(strict=True, required=True, metadata=AMOUNT)
    description = Text(load_default="演示订单", validate=validate.Length(min=1, max=127))


# Staff ------------------------------------------------------------------------------------------


class PayerSchema(Schema):
    id = fields.UUID(required=True)
    nickname = Text(required=True)
    phone = fields.Function(lambda u: mask_phone(u.phone), required=True, allow_none=True, metadata={"type": "string"})


class StaffRefundSchema(RefundSchema):
    out_refund_no = Text(required=True)
    refund_id = Text(required=True, allow_none=True, metadata={"description": "WeChat Pay's refund id"})
    requested_by_id = fields.UUID(
        required=True, allow_none=True, metadata={"description": "null: a domain, or automatic"}
    )
    last_error = Text(required=True, allow_none=True)


class StaffPaymentSchema(PaymentSchema):
    out_trade_no = Text(required=True)
    transaction_id = Text(required=True, allow_none=True, metadata={"description": "WeChat Pay's order number"})
    payer = fields.Nested(PayerSchema, required=True, allow_none=True)
    area_path = Text(required=True, allow_none=True)
    paid_via = fields.Enum(PaidVia, by_value=True, required=True, allow_none=True)
    paid_after_close = fields.Boolean(required=True)
    refundable_fen = fields.Integer(required=True, metadata=AMOUNT)
    refunds = fields.List(fields.Nested(StaffRefundSchema), required=True)


class AdminPaymentListArgs(CursorArgs):
    status = fields.Enum(OrderStatus, by_value=True, load_default=None)
    purpose = Text(load_default=None, validate=validate.Length(max=32))
    payer_id = fields.UUID(load_default=None)
    out_trade_no = Text(load_default=None, validate=validate.Length(max=32))
    created_from = DateTime(load_default=None)
    created_to = DateTime(load_default=None)


class AdminPaymentExportArgs(Schema):
    status = fields.Enum(OrderStatus, by_value=True, load_default=None)
    purpose = Text(load_default=None, validate=validate.Length(max=32))
    payer_id = fields.UUID(load_default=None)
    out_trade_no = Text(load_default=None, validate=validate.Length(max=32))
    created_from = DateTime(load_default=None)
    created_to = DateTime(load_default=None)


class StaffRefundArgs(Schema):
    amount_fen = fields.Integer(strict=True, required=True, metadata=AMOUNT)
    reason = Text(required=True, validate=validate.Length(min=1, max=80), metadata={"description": "told to the payer"})


class DiscrepancyListArgs(CursorArgs):
    bill_date = Date(load_default=None)
    kind = fields.Enum(DiscrepancyKind, by_value=True, load_default=None)
    entry = fields.Enum(DiscrepancyEntry, by_value=True, load_default=None)


class DiscrepancySchema(Schema):
    id = fields.UUID(required=True)
    bill_date = Date(required=True)
    entry = fields.Enum(DiscrepancyEntry, by_value=True, required=True)
    kind = fields.Enum(DiscrepancyKind, by_value=True, required=True)
    reference = Text(required=True, metadata={"description": "out_trade_no of a payment, out_refund_no of a refund"})
    out_trade_no = Text(required=True, allow_none=True)
    order_id = fields.UUID(required=True, allow_none=True)
    refund_id = fields.UUID(required=True, allow_none=True)
    our_amount_fen = fields.Integer(required=True, allow_none=True, metadata=AMOUNT)
    their_amount_fen = fields.Integer(required=True, allow_none=True, metadata=AMOUNT)
    transaction_id = Text(required=True, allow_none=True)
    detected_at = DateTime(required=True)


class ReconciliationSchema(Schema):
    id = fields.UUID(required=True)
    bill_date = Date(required=True)
    status = fields.Enum(ReconciliationStatus, by_value=True, required=True)
    ran_at = DateTime(required=True)
    bill_payments = fields.Integer(required=True)
    bill_payments_fen = fields.Integer(required=True, metadata=AMOUNT)
    bill_refunds = fields.Integer(required=True)
    bill_refunds_fen = fields.Integer(required=True, metadata=AMOUNT)
    our_payments = fields.Integer(required=True)
    our_payments_fen = fields.Integer(required=True, metadata=AMOUNT)
    our_refunds = fields.Integer(required=True)
    our_refunds_fen = fields.Integer(required=True, metadata=AMOUNT)
    differences = fields.Integer(required=True)


class AuditSchema(Schema):
    id = fields.UUID(required=True)
    actor_id = fields.UUID(required=True, allow_none=True, metadata={"description": "null: automatic"})
    actor_name = fields.Function(
        lambda a: a.actor.nickname if a.actor is not None else None,
        required=True,
        allow_none=True,
        metadata={"type": "string"},
    )
    action = fields.Enum(AuditAction, by_value=True, required=True)
    order_id = fields.UUID(required=True, allow_none=True)
    refund_id = fields.UUID(required=True, allow_none=True)
    amount_fen = fields.Integer(required=True, allow_none=True, metadata=AMOUNT)
    reason = Text(required=True, allow_none=True)
    details = fields.Dict(keys=fields.String(), values=fields.String(), required=True)
    at = DateTime(required=True)
