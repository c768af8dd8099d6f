"""The elder's own share through payments (purpose `care`): charged when a worker accepts a 市场-tier order, or at
check-out for per-hour services by the actual time within the service's cap; refunded in full on cancellation,
an absent elder or a voided dispute, in part on an adjusted one. An order nobody can pay online (ordered by
staff for an elder with no account and no family) is settled in person and carries no payment order.

And the street's monthly settlement with each provider: completed orders, minutes, list price, subsidy by funding
line and the elders' own share, for one calendar month (Asia/Shanghai), as JSON and CSV."""

from __future__ import annotations

import csv
import io
import re
import uuid
from collections import defaultdict
from datetime import date, datetime, timedelta
from typing import Any

from sqlalchemy import select

from api import scope
from api.accounts.models import Role, User
from api.care.models import CareOrder, CareProvider, FundingTier, OrderStatus, Unit
from api.care.notices import family_of
from api.db import db
from api.errors import ApiError
from api.fields import LOCAL_TZ
from api.payments import services as payments
from api.payments.models import OrderStatus as PaymentStatus
from api.payments.models import PaymentOrder
from api.volunteers import ledger

PURPOSE = "care"
PAY_WITHIN = timedelta(days=3)
MONTH = re.compile(r"^([0-9]{4})-([0-9]{2})$")


def payer_of(order: CareOrder) -> User | None:
    """Who pays online: who ordered (unless staff), else the elder's own account, else the first family contact."""
    if order.ordered_by_id is not None:
        orderer = db.session.get(User, order.ordered_by_id)
        if orderer is not None and orderer.is_active and not orderer.has_role(Role.STAFF, Role.ADMIN):
            return orderer
    people = family_of(order)
    return people[0] if people else None


def _charge(order: CareOrder) -> None:
    if order.payment_order_id is not None or order.self_pay_fen <= 0 or order.coins_centi > 0:
        return
    if order.service.funding_tier != FundingTier.SHICHANG:
        return
    payer = payer_of(order)
    if payer is None:
        return
    description = f"为老服务：{order.service.name}（{order.elder.name}）"[:127]
    payment = payments.create_order(
        payer,
        PURPOSE,
        str(order.id),
        order.self_pay_fen,
        description,
        PAY_WITHIN,
        area_path=order.area_path or None,
    )
    order.payment_order_id = payment.id


def charge_on_accept(order: CareOrder) -> None:
    if order.service.unit != Unit.PER_HOUR:
        _charge(order)


def charge_on_completion(order: CareOrder) -> None:
    """Per-hour services: the share for the actual time, within the cap (already priced at check-out)."""
    if order.service.unit == Unit.PER_HOUR:
        _charge(order)


def payment_of(order: CareOrder) -> PaymentOrder | None:
    return db.session.get(PaymentOrder, order.payment_order_id) if order.payment_order_id else None


def refund(order: CareOrder, amount_fen: int, reason: str, by: User | None = None) -> int:
    """Give back up to `amount_fen` of what was paid (an unpaid order is withdrawn instead); returns what is
    refunded."""
    payment = payment_of(order)
    if payment is None or amount_fen <= 0:
        return 0
    if payment.status == PaymentStatus.PENDING:
        payments.close_order(payment)
        return 0
    if payment.status != PaymentStatus.PAID:
        return 0
    amount = min(amount_fen, payment.amount_fen - order.refunded_fen)
    if amount <= 0:
        return 0
    payments.refund(payment, amount, reason[:80], requested_by=by)
    order.refunded_fen += amount
    return amount


def refund_all(order: CareOrder, reason: str, by: User | None = None) -> int:
    refund_coins(order)
    return refund(order, order.self_pay_fen, reason, by)


def refund_coins(order: CareOrder) -> None:
    """Time coins paid for a service that did not happen go back to whoever paid them (once)."""
    if order.coins_centi <= 0 or order.coins_refunded or order.ordered_by_id is None:
        return
    payer = db.session.get(User, order.ordered_by_id)
    if payer is None:
        return
    ledger.refund_spent(payer, order.coins_centi, order.id)
    order.coins_refunded = True


# The month's settlement --------------------------------------------------------------------------


def month_bounds(month: str) -> tuple[datetime, datetime]:
    """ "2026-11" → its first moment and the next month's, Asia/Shanghai, as aware datetimes; 422 otherwise."""
    match = MONTH.match(month or "") if isinstance(month, str) else None
    if match is None:
        raise ApiError("care_month_invalid", month=str(month)[:16], errors={"month": ["YYYY-MM"]})
    year, number = int(match.group(1)), int(match.group(2))
    if not (2000 <= year <= 2199 and 1 <= number <= 12):
        raise ApiError("care_month_invalid", month=month, errors={"month": ["a month between 2000-01 and 2199-12"]})
    start = date(year, number, 1)
    end = date(year + (number == 12), number % 12 + 1, 1)
    return (
        datetime(start.year, start.month, 1, tzinfo=LOCAL_TZ),
        datetime(end.year, end.month, 1, tzinfo=LOCAL_TZ),
    )


def settlement(staff: User, month: str, provider_id: uuid.UUID | None = None) -> dict[str, Any]:
    """Per provider, the orders completed in the month within the staff member's area."""
    start, end = month_bounds(month)
    stmt = scope.visible(
        staff,
        select(CareOrder).where(
            CareOrder.status == OrderStatus.COMPLETED,
            CareOrder.completed_at >= start,
            CareOrder.completed_at < end,
        ),
    )
    if provider_id is not None:
        stmt = stmt.where(CareOrder.provider_id == provider_id)
    rows: dict[Any, dict[str, Any]] = {}
    lines: dict[Any, dict[str, int]] = defaultdict(lambda: defaultdict(int))
    for order in db.session.scalars(stmt.order_by(CareOrder.completed_at, CareOrder.id)):
        key = order.provider_id
        row = rows.get(key)
        if row is None:
            provider = db.session.get(CareProvider, key) if key else None
            row = rows[key] = {
                "provider_id": key,
                "provider_name": provider.name if provider else "未指定",
                "orders": 0,
                "minutes": 0,
                "list_price_fen": 0,
                "subsidy_fen": 0,
                "self_pay_fen": 0,
                "refunded_fen": 0,
            }
        row["orders"] += 1
        row["minutes"] += order.actual_minutes if order.actual_minutes is not None else order.planned_minutes
        row["list_price_fen"] += order.list_price_fen
        row["subsidy_fen"] += order.subsidy_fen
        row["self_pay_fen"] += order.self_pay_fen
        row["refunded_fen"] += order.refunded_fen
        for line in order.subsidy_lines or []:
            lines[key][line["funding_line"]] += int(line["amount_fen"])
    providers = []
    for key, row in rows.items():
        row["funding_lines"] = [{"funding_line": k, "amount_fen": v} for k, v in sorted(lines[key].items())]
        providers.append(row)
    providers.sort(key=lambda r: r["provider_name"])
    return {"month": month, "providers": providers}


def settlement_csv(report: dict[str, Any]) -> str:
    funding = sorted({line["funding_line"] for row in report["providers"] for line in row["funding_lines"]})
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(
        [
            "月份",
            "服务机构",
            "完成订单",
            "服务分钟",
            "标准价(分)",
            "补贴合计(分)",
            *[f"{f}(分)" for f in funding],
            "自付(分)",
            "已退款(分)",
        ]
    )
    for row in report["providers"]:
        by_line = {line["funding_line"]: line["amount_fen"] for line in row["funding_lines"]}
        writer.writerow(
            [
                report["month"],
                row["provider_name"],
                row["orders"],
                row["minutes"],
                row["list_price_fen"],
                row["subsidy_fen"],
                *[by_line.get(f, 0) for f in funding],
                row["self_pay_fen"],
                row["refunded_fen"],
            ]
        )
    return out.getvalue()
