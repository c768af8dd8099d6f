"""Daily reconciliation: WeChat Pay's trade bill for a day (Shanghai calendar day, as WeChat Pay bills) against
our orders and refunds. Every difference becomes a row on the staff list of discrepancies, once, and finance
staff are told; the day's totals on both sides are kept (`PaymentReconciliation`), so anyone can see the two
agree to the fen.

Kinds of difference, for payments and for refunds alike: in the bill and not (as paid / as refunded) in our
records (`missing_here`); on both sides for different amounts (`amount_mismatch`); ours that day and not in
the bill (`missing_there`).

The bill (`bill_type=ALL`) is WeChat Pay's CSV: a header line, one line per trade with every value after a
backtick, then a summary. Columns are found by their names, not their positions. Amounts are yuan with two
decimals and become integer fen by exact decimal arithmetic.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from decimal import Decimal, InvalidOperation
from typing import Any

from sqlalchemy import select

from api.db import db, new_id, utcnow
from api.dialect import insert_on_conflict
from api.fields import LOCAL_TZ
from api.notifications.services import notify
from api.payments.gateway import Gateway, WechatPayError
from api.payments.models import (
    DiscrepancyEntry,
    DiscrepancyKind,
    OrderStatus,
    PaidVia,
    PaymentDiscrepancy,
    PaymentOrder,
    PaymentReconciliation,
    PaymentRefund,
    ReconciliationStatus,
    RefundStatus,
)
from api.payments.services import finance_staff, own_unit_of_work

log = logging.getLogger(__name__)

# The bill's column names (WeChat Pay API v3 trade bill, type ALL).
TRADE_STATE = "交易状态"
TRANSACTION_ID = "微信订单号"
OUT_TRADE_NO = "商户订单号"
OUT_REFUND_NO = "商户退款单号"
ORDER_AMOUNT = "订单金额"
SETTLED_AMOUNT = "应结订单金额"
REFUND_AMOUNT = "退款金额"
REFUND_REQUESTED = "申请退款金额"
SUMMARY_START = "总交易单数"


class BillError(ValueError):
    """A bill we cannot read: nothing is concluded from it."""


@dataclass(frozen=True)
class BillLine:
    out_trade_no: str
    transaction_id: str
    amount_fen: int
    out_refund_no: str = ""


@dataclass
class Bill:
    payments: dict[str, BillLine] = field(default_factory=dict)
    refunds: dict[str, BillLine] = field(default_factory=dict)


def to_fen(value: str) -> int:
    """ "12.34" yuan → 1234 fen, exactly; BillError for anything that is not a whole number of fen."""
    try:
        amount = Decimal(value) * 100
    except InvalidOperation as exc:
        raise BillError(f"not an amount: {value!r}") from exc
    if amount != amount.to_integral_value():
        raise BillError(f"not a whole number of fen: {value!r}")
    return int(amount)


def _cells(line: str) -> list[str]:
    return [cell.strip().lstrip("`").strip() for cell in line.split(",")]


def parse_bill(text: str) -> Bill:
    """The payments (`SUCCESS`) and refunds (`REFUND`) of a trade bill, by out_trade_no / out_refund_no."""
    lines = [line for line in text.splitlines() if line.strip()]
    bill = Bill()
    if not lines:
        return bill
    header = _cells(lines[0])
    try:
        index = {name: header.index(name) for name in (TRADE_STATE, TRANSACTION_ID, OUT_TRADE_NO)}
    except ValueError as exc:
        raise BillError("the bill has no header line with the expected columns") from exc

    def cell(row: list[str], *names: str) -> str:
        for name in names:
            if name in header and header.index(name) < len(row) and row[header.index(name)] not in ("", "0", "0.00"):
                return row[header.index(name)]
        return "0"

    for line in lines[1:]:
        row = _cells(line)
        if row and row[0] == SUMMARY_START:
            break
        if len(row) <= max(index.values()):
            raise BillError(f"a trade line with {len(row)} columns")
        state, out_trade_no = row[index[TRADE_STATE]], row[index[OUT_TRADE_NO]]
        transaction_id = row[index[TRANSACTION_ID]]
        if state == "SUCCESS":
            bill.payments[out_trade_no] = BillLine(
                out_trade_no, transaction_id, to_fen(cell(row, ORDER_AMOUNT, SETTLED_AMOUNT))
            )
        elif state == "REFUND":
            out_refund_no = row[header.index(OUT_REFUND_NO)] if OUT_REFUND_NO in header else ""
            if not out_refund_no:
                raise BillError("a refund line without 商户退款单号")
            bill.refunds[out_refund_no] = BillLine(
                out_trade_no, transaction_id, to_fen(cell(row, REFUND_AMOUNT, REFUND_REQUESTED)), out_refund_no
            )
    return bill


def day_bounds(bill_date: date) -> tuple[datetime, datetime]:
    """The Shanghai calendar day, in UTC."""
    start = datetime.combine(bill_date, time(0), tzinfo=LOCAL_TZ).astimezone(UTC)
    return start, start + timedelta(days=1)


def yesterday(now: datetime | None = None) -> date:
    return ((now or utcnow()).astimezone(LOCAL_TZ) - timedelta(days=1)).date()


@dataclass
class _Difference:
    entry: DiscrepancyEntry
    kind: DiscrepancyKind
    reference: str
    out_trade_no: str | None
    order: PaymentOrder | None = None
    refund: PaymentRefund | None = None
    ours: int | None = None
    theirs: int | None = None
    transaction_id: str | None = None


def _compare(bill: Bill, bill_date: date) -> tuple[list[_Difference], dict[str, int]]:
    start, end = day_bounds(bill_date)
    ours_paid = {
        o.out_trade_no: o
        for o in db.session.scalars(
            select(PaymentOrder).where(
                PaymentOrder.status == OrderStatus.PAID,
                PaymentOrder.paid_at >= start,
                PaymentOrder.paid_at < end,
                PaymentOrder.paid_via != PaidVia.SANDBOX,  # never at WeChat Pay
            )
        )
    }
    ours_refunded = {
        r.out_refund_no: r
        for r in db.session.scalars(
            select(PaymentRefund).where(
                PaymentRefund.status == RefundStatus.SUCCEEDED,
                PaymentRefund.succeeded_at >= start,
                PaymentRefund.succeeded_at < end,
            )
        )
    }
    differences: list[_Difference] = []
    billed_orders = _by(PaymentOrder.out_trade_no, [n for n in bill.payments if n not in ours_paid])
    for number, line in bill.payments.items():
        order = ours_paid.get(number) or billed_orders.get(number)
        if order is None or order.status != OrderStatus.PAID:
            differences.append(
                _Difference(
                    DiscrepancyEntry.PAYMENT,
                    DiscrepancyKind.MISSING_HERE,
                    number,
                    number,
                    order=order,
                    theirs=line.amount_fen,
                    transaction_id=line.transaction_id,
                )
            )
        elif order.amount_fen != line.amount_fen:
            differences.append(
                _Difference(
                    DiscrepancyEntry.PAYMENT,
                    DiscrepancyKind.AMOUNT_MISMATCH,
                    number,
                    number,
                    order=order,
                    ours=order.amount_fen,
                    theirs=line.amount_fen,
                    transaction_id=line.transaction_id,
                )
            )
    for number, order in ours_paid.items():
        if number not in bill.payments:
            differences.append(
                _Difference(
                    DiscrepancyEntry.PAYMENT,
                    DiscrepancyKind.MISSING_THERE,
                    number,
                    number,
                    order=order,
                    ours=order.amount_fen,
                    transaction_id=order.transaction_id,
                )
            )
    billed_refunds = _by(PaymentRefund.out_refund_no, [n for n in bill.refunds if n not in ours_refunded])
    for number, line in bill.refunds.items():
        row = ours_refunded.get(number) or billed_refunds.get(number)
        if row is None or row.status != RefundStatus.SUCCEEDED:
            differences.append(
                _Difference(
                    DiscrepancyEntry.REFUND,
                    DiscrepancyKind.MISSING_HERE,
                    number,
                    line.out_trade_no,
                    order=row.order if row is not None else None,
                    refund=row,
                    theirs=line.amount_fen,
                    transaction_id=line.transaction_id,
                )
            )
        elif row.amount_fen != line.amount_fen:
            differences.append(
                _Difference(
                    DiscrepancyEntry.REFUND,
                    DiscrepancyKind.AMOUNT_MISMATCH,
                    number,
                    line.out_trade_no,
                    order=row.order,
                    refund=row,
                    ours=row.amount_fen,
                    theirs=line.amount_fen,
                    transaction_id=line.transaction_id,
                )
            )
    for number, row in ours_refunded.items():
        if number not in bill.refunds:
            differences.append(
                _Difference(
                    DiscrepancyEntry.REFUND,
                    DiscrepancyKind.MISSING_THERE,
                    number,
                    row.order.out_trade_no,
                    order=row.order,
                    refund=row,
                    ours=row.amount_fen,
                    transaction_id=row.order.transaction_id,
                )
            )
    totals = {
        "bill_payments": len(bill.payments),
        "bill_payments_fen": sum(line.amount_fen for line in bill.payments.values()),
        "bill_refunds": len(bill.refunds),
        "bill_refunds_fen": sum(line.amount_fen for line in bill.refunds.values()),
        "our_payments": len(ours_paid),
        "our_payments_fen": sum(o.amount_fen for o in ours_paid.values()),
        "our_refunds": len(ours_refunded),
        "our_refunds_fen": sum(r.amount_fen for r in ours_refunded.values()),
    }
    return differences, totals


def _by(column: Any, numbers: Iterable[str]) -> dict[str, Any]:
    numbers = list(numbers)
    if not numbers:
        return {}
    entity = column.class_
    return {getattr(row, column.key): row for row in db.session.scalars(select(entity).where(column.in_(numbers)))}


def reconcile(bill_date: date, gateway: Gateway) -> PaymentReconciliation | None:
    """Compare one day with WeChat Pay's bill, in a unit of work of its own; None in the sandbox (no bill).
    Running a day again replaces its totals and adds only differences not listed before; finance staff are
    told of the new ones. `WechatPayError` when the bill cannot be had (not ready yet: the beat tries again)."""
    if gateway.sandbox:
        return None
    text = gateway.trade_bill(bill_date)
    bill = parse_bill(text) if text else Bill()
    with own_unit_of_work():
        differences, totals = _compare(bill, bill_date)
        new = 0
        for difference in differences:
            inserted = db.session.execute(
                insert_on_conflict(PaymentDiscrepancy)
                .values(
                    id=new_id(),
                    bill_date=bill_date,
                    entry=difference.entry,
                    kind=difference.kind,
                    reference=difference.reference,
                    out_trade_no=difference.out_trade_no,
                    order_id=difference.order.id if difference.order is not None else None,
                    refund_id=difference.refund.id if difference.refund is not None else None,
                    area_path=difference.order.area_path if difference.order is not None else None,
                    our_amount_fen=difference.ours,
                    their_amount_fen=difference.theirs,
                    transaction_id=difference.transaction_id,
                    detected_at=utcnow(),
                )
                .on_conflict_do_nothing(index_elements=["bill_date", "entry", "kind", "reference"])
                .returning(PaymentDiscrepancy.id)
            ).scalar()
            new += inserted is not None
        status = ReconciliationStatus.DIFFERENCES if differences else ReconciliationStatus.MATCHED
        values = {**totals, "status": status, "ran_at": utcnow(), "differences": len(differences)}
        stmt = insert_on_conflict(PaymentReconciliation).values(id=new_id(), bill_date=bill_date, **values)
        db.session.execute(stmt.on_conflict_do_update(index_elements=["bill_date"], set_=values))
        if new:
            _tell_finance(bill_date, differences)
        log.info("reconciled %s: %d differences (%d new), totals %s", bill_date, len(differences), new, totals)
        # Loaded before the commit; the session keeps what it loaded (no expiry on commit) for the caller.
        result = db.session.scalar(select(PaymentReconciliation).where(PaymentReconciliation.bill_date == bill_date))
    return result


def _tell_finance(bill_date: date, differences: list[_Difference]) -> None:
    counts = {kind.value: sum(d.kind == kind for d in differences) for kind in DiscrepancyKind}
    for person in finance_staff():
        notify(
            person,
            "payment_discrepancies",
            {"bill_date": bill_date.isoformat(), "count": len(differences), **counts},
            subject_path=None,
            dedupe_key=f"payments-reconcile:{bill_date.isoformat()}:{len(differences)}",
        )


def reconcile_due(gateway: Gateway, now: datetime | None = None) -> str:
    """The beat's daily job: yesterday's bill, unless that day was reconciled already. WeChat Pay makes the
    bill in the morning: until it is there this answers "not ready" and the next hourly run tries again."""
    if gateway.sandbox:
        return "sandbox: no bill"
    bill_date = yesterday(now)
    done = db.session.scalar(select(PaymentReconciliation.id).where(PaymentReconciliation.bill_date == bill_date))
    if done is not None:
        return f"{bill_date}: done already"
    try:
        result = reconcile(bill_date, gateway)
    except WechatPayError as exc:
        log.warning("trade bill of %s not available yet: %s", bill_date, exc)
        return f"{bill_date}: not ready ({exc.code})"
    except BillError as exc:
        log.error("trade bill of %s cannot be read: %s", bill_date, exc)
        return f"{bill_date}: unreadable bill"
    return f"{bill_date}: {result.differences if result else 0} differences"
