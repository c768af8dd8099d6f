"""Payments' tables: orders a resident pays with WeChat Pay, their refunds, the daily reconciliation with
WeChat Pay's trade bill and the differences it found, and the audit of what staff did with money.

Money is integer fen, one currency (CNY), and the database itself refuses the impossible: an amount that is
not positive, refunds adding up to more than was paid. "Once" is a unique constraint or a conditional
UPDATE on a locked row, never a check followed by an insert.
"""

from __future__ import annotations

import enum
import uuid
from datetime import date, datetime
from typing import Any

from sqlalchemy import JSON, CheckConstraint, Date, ForeignKey, Index, String, UniqueConstraint, text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from api.accounts.models import User
from api.db import Base, IdMixin, enum_column, utcnow


class OrderStatus(enum.StrEnum):
    PENDING = "pending"  # waiting for the resident to pay
    PAID = "paid"  # WeChat Pay took the money (refunds, if any, are on the refunds)
    CLOSED = "closed"  # never paid: expired, closed by its domain, or the payment failed


class RefundStatus(enum.StrEnum):
    REQUESTED = "requested"  # ours; WeChat Pay has not acknowledged it yet (the task sends it, the sweep again)
    PROCESSING = "processing"  # WeChat Pay accepted it and is returning the money
    SUCCEEDED = "succeeded"
    CLOSED = "closed"  # WeChat Pay gave up (refused, or closed it): the money stayed with us
    ABNORMAL = "abnormal"  # the payer's card or account could not take it: finance must act in the merchant portal


class PaidVia(enum.StrEnum):
    NOTIFY = "notify"  # WeChat Pay's signed notify
    QUERY = "query"  # our query found it paid (the notify was lost or late)
    SANDBOX = "sandbox"  # the development sandbox's stand-in


class DiscrepancyKind(enum.StrEnum):
    MISSING_HERE = "missing_here"  # in WeChat Pay's bill, not (or not as paid/refunded) in our records
    AMOUNT_MISMATCH = "amount_mismatch"  # on both sides, for different amounts
    MISSING_THERE = "missing_there"  # paid or refunded in our records that day, not in the bill


class DiscrepancyEntry(enum.StrEnum):
    PAYMENT = "payment"
    REFUND = "refund"


class ReconciliationStatus(enum.StrEnum):
    MATCHED = "matched"
    DIFFERENCES = "differences"


class AuditAction(enum.StrEnum):
    LIST = "list"  # staff listed orders (with these filters)
    EXPORT = "export"  # staff exported orders as CSV
    VIEW = "view"  # staff opened one order
    REFUND = "refund"  # staff refunded on a resident's behalf
    AUTO_REFUND = "auto_refund"  # a payment arrived after its order was closed, and was sent back


class PaymentOrder(IdMixin, Base):
    """One thing a resident pays for: created by a domain (parking, party dues, services), paid once."""

    __tablename__ = "payment_orders"
    __table_args__ = (
        CheckConstraint("amount_fen > 0", name="amount_positive"),
        CheckConstraint("currency = 'CNY'", name="currency_cny"),
        CheckConstraint("refunded_fen >= 0 AND refunded_fen <= amount_fen", name="refunds_within_paid"),
        CheckConstraint("refunded_fen = 0 OR status = 'paid'", name="refunds_only_when_paid"),
        # At most one order waiting for payment per thing paid for: a domain's retry cannot charge twice.
        Index(
            "uq_payment_orders_open_reference",
            "purpose",
            "reference",
            unique=True,
            postgresql_where=text("status = 'pending'"),
            sqlite_where=text("status = 'pending'"),
        ),
        Index("ix_payment_orders_payer_id_id", "payer_id", "id"),
        Index("ix_payment_orders_status_expires_at", "status", "expires_at"),
        Index("ix_payment_orders_status_prepaid_at", "status", "prepaid_at"),
        Index("ix_payment_orders_paid_at", "paid_at"),
        Index("ix_payment_orders_area_path_id", "area_path", "id", postgresql_ops={"area_path": "varchar_pattern_ops"}),
    )

    # WeChat Pay's merchant order number: 6–32 characters of [0-9A-Za-z_-|*], unique per merchant.
    out_trade_no: Mapped[str] = mapped_column(String(32), unique=True)
    # Null once the payer deleted their account: the order stays (accounts and reconciliation), not whose.
    payer_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("users.id", ondelete="RESTRICT"))
    # What it pays for: the domain's name for it (`parking`, `party_dues`) and its own id of the thing.
    purpose: Mapped[str] = mapped_column(String(32))
    reference: Mapped[str] = mapped_column(String(64))
    description: Mapped[str] = mapped_column(String(127))
    amount_fen: Mapped[int]
    currency: Mapped[str] = mapped_column(String(3), default="CNY", server_default=text("'CNY'"))
    # The area path of what it pays for (the parking lot's estate, the branch's committee): staff scope.
    area_path: Mapped[str | None] = mapped_column(String(255))
    status: Mapped[OrderStatus] = mapped_column(enum_column(OrderStatus, "payment_order_status"))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    expires_at: Mapped[datetime]
    # The JSAPI order at WeChat Pay: one per order (a second prepay reuses it while it is valid).
    prepay_id: Mapped[str | None] = mapped_column(String(64))
    prepaid_at: Mapped[datetime | None]
    prepay_expires_at: Mapped[datetime | None]
    last_queried_at: Mapped[datetime | None]
    transaction_id: Mapped[str | None] = mapped_column(String(32), unique=True)
    paid_at: Mapped[datetime | None]
    paid_via: Mapped[PaidVia | None] = mapped_column(enum_column(PaidVia, "payment_paid_via"))
    payer_openid: Mapped[str | None] = mapped_column(String(64))
    # WeChat Pay took the money after we had closed the order (the resident paid at the last second).
    paid_after_close: Mapped[bool] = mapped_column(default=False, server_default=text("false"))
    closed_at: Mapped[datetime | None]
    close_reason: Mapped[str | None] = mapped_column(String(32))
    # Closed here; WeChat Pay not yet told (the close-order call is made after the commit, and again by the beat).
    close_pending_at_wechat: Mapped[bool] = mapped_column(default=False, server_default=text("false"))
    # Refunds that are not closed, added up (requested, processing, succeeded, abnormal): never above the amount.
    refunded_fen: Mapped[int] = mapped_column(default=0, server_default=text("0"))
    # When the domain was told (each signal once, in the transaction of the change it reports).
    success_signalled_at: Mapped[datetime | None]
    closed_signalled_at: Mapped[datetime | None]

    payer: Mapped[User | None] = relationship(lazy="joined")
    refunds: Mapped[list[PaymentRefund]] = relationship(
        back_populates="order", lazy="selectin", order_by="PaymentRefund.created_at"
    )

    @property
    def refund_succeeded_fen(self) -> int:
        return sum(r.amount_fen for r in self.refunds if r.status == RefundStatus.SUCCEEDED)

    @property
    def refund_pending_fen(self) -> int:
        return sum(r.amount_fen for r in self.refunds if r.status in (RefundStatus.REQUESTED, RefundStatus.PROCESSING))

    @property
    def refundable_fen(self) -> int:
        return self.amount_fen - self.refunded_fen if self.status == OrderStatus.PAID else 0


class PaymentRefund(IdMixin, Base):
    """One refund of an order, full or partial, with its own `out_refund_no`."""

    __tablename__ = "payment_refunds"
    __table_args__ = (
        CheckConstraint("amount_fen > 0", name="amount_positive"),
        Index("ix_payment_refunds_status_updated_at", "status", "updated_at"),
        Index("ix_payment_refunds_succeeded_at", "succeeded_at"),
    )

    order_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("payment_orders.id", ondelete="RESTRICT"), index=True)
    out_refund_no: Mapped[str] = mapped_column(String(64), unique=True)
    amount_fen: Mapped[int]
    reason: Mapped[str] = mapped_column(String(80))
    status: Mapped[RefundStatus] = mapped_column(enum_column(RefundStatus, "payment_refund_status"))
    # Who asked: staff on a resident's behalf; None for a domain or the automatic refund of a late payment.
    requested_by_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    refund_id: Mapped[str | None] = mapped_column(String(32))  # WeChat Pay's
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)
    submitted_at: Mapped[datetime | None]
    succeeded_at: Mapped[datetime | None]
    last_error: Mapped[str | None] = mapped_column(String(255))
    outcome_signalled_at: Mapped[datetime | None]

    order: Mapped[PaymentOrder] = relationship(back_populates="refunds", lazy="joined")


class PaymentReconciliation(IdMixin, Base):
    """One day compared with WeChat Pay's trade bill (a Shanghai calendar day), and what the two sides add up to."""

    __tablename__ = "payment_reconciliations"

    bill_date: Mapped[date] = mapped_column(Date, unique=True)
    status: Mapped[ReconciliationStatus] = mapped_column(enum_column(ReconciliationStatus, "reconciliation_status"))
    ran_at: Mapped[datetime] = mapped_column(default=utcnow)
    bill_payments: Mapped[int]
    bill_payments_fen: Mapped[int]
    bill_refunds: Mapped[int]
    bill_refunds_fen: Mapped[int]
    our_payments: Mapped[int]
    our_payments_fen: Mapped[int]
    our_refunds: Mapped[int]
    our_refunds_fen: Mapped[int]
    differences: Mapped[int]


class PaymentDiscrepancy(IdMixin, Base):
    """A difference between our records and WeChat Pay's trade bill, for finance staff to look into."""

    __tablename__ = "payment_discrepancies"
    __table_args__ = (
        # Running a day again finds the same differences: each is listed once.
        UniqueConstraint("bill_date", "entry", "kind", "reference"),
        Index("ix_payment_discrepancies_bill_date_id", "bill_date", "id"),
    )

    bill_date: Mapped[date] = mapped_column(Date)
    entry: Mapped[DiscrepancyEntry] = mapped_column(enum_column(DiscrepancyEntry, "discrepancy_entry"))
    kind: Mapped[DiscrepancyKind] = mapped_column(enum_column(DiscrepancyKind, "discrepancy_kind"))
    # out_trade_no of a payment, out_refund_no of a refund
    reference: Mapped[str] = mapped_column(String(64))
    out_trade_no: Mapped[str | None] = mapped_column(String(32))
    order_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("payment_orders.id", ondelete="SET NULL"))
    refund_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("payment_refunds.id", ondelete="SET NULL"))
    area_path: Mapped[str | None] = mapped_column(String(255))
    our_amount_fen: Mapped[int | None]
    their_amount_fen: Mapped[int | None]
    transaction_id: Mapped[str | None] = mapped_column(String(32))
    detected_at: Mapped[datetime] = mapped_column(default=utcnow)


class PaymentAudit(IdMixin, Base):
    """Who did what with payments, when and why: staff reading and exporting orders, refunds."""

    __tablename__ = "payment_audit"
    __table_args__ = (Index("ix_payment_audit_order_id_id", "order_id", "id"),)

    actor_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"), index=True)
    action: Mapped[AuditAction] = mapped_column(enum_column(AuditAction, "payment_audit_action"))
    order_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("payment_orders.id", ondelete="SET NULL"))
    refund_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("payment_refunds.id", ondelete="SET NULL"))
    amount_fen: Mapped[int | None]
    reason: Mapped[str | None] = mapped_column(String(200))
    details: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    at: Mapped[datetime] = mapped_column(default=utcnow)

    actor: Mapped[User | None] = relationship(lazy="joined")
