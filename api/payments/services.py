"""Payments: orders the other domains create for what residents pay for, WeChat Pay's word on them (notify,
query, close), refunds, and what staff may see and do. Reconciliation with the daily bill is in
`reconciliation.py`; talking to WeChat Pay is `gateway.py`'s.

For domains: `create_order(...)` in the domain's own transaction gives a `PaymentOrder`; the domain learns what
became of it from the signals in `signals.py` (each sent once, in the transaction of the change it reports);
`refund(order, amount_fen, reason)` returns money in full or in parts; `close_order(order)` withdraws an unpaid
order. A domain never talks to WeChat Pay.

"Once" everywhere: an order or refund changes state by a conditional UPDATE (`WHERE status = <the state it
was read in>`) on a row locked FOR UPDATE, and only the caller whose UPDATE changed the row sends the signal;
refunds are held against the order by one UPDATE that cannot take the total above the paid amount. WeChat Pay
is never called inside a transaction that holds a lock: its answer is applied in a short unit of work after.

Work that reaches WeChat Pay after a domain's commit (submitting a refund, closing an order there) is a task
sent with `after_commit`; each has a beat sweep that finds what a lost task left (`sweep`). Such work runs in a
unit of work of its own (`own_unit_of_work`), which is also `db.session` for the signal receivers it calls —
so it works the same in a worker and run eagerly right after a request's commit.
"""

from __future__ import annotations

import contextlib
import logging
import re
import secrets
import uuid
from collections.abc import Iterator
from datetime import datetime, timedelta
from typing import Any

from flask import current_app
from sqlalchemy import ColumnElement, Select, or_, select, text, update
from sqlalchemy.orm import Session

from api import scope
from api.accounts.models import AreaKind, Role, User, UserRole
from api.config import Settings
from api.db import db, new_id, utcnow
from api.dialect import insert_on_conflict
from api.errors import ApiError, NotFound
from api.fields import LOCAL_TZ
from api.hygiene import text_problem
from api.jobs import after_commit
from api.notifications.services import notify
from api.payments import signals
from api.payments.gateway import Gateway, NotifyRefused, WechatPayError, make_gateway, parse_time
from api.payments.models import (
    AuditAction,
    OrderStatus,
    PaidVia,
    PaymentAudit,
    PaymentDiscrepancy,
    PaymentOrder,
    PaymentReconciliation,
    PaymentRefund,
    RefundStatus,
)

log = logging.getLogger(__name__)

PURPOSE = re.compile(r"^[a-z][a-z0-9_]{0,31}$")
MIN_EXPIRES_IN = timedelta(minutes=1)
MAX_EXPIRES_IN = timedelta(days=7)
# A prepay_id is good for two hours at WeChat Pay; ours is reused until a little before that.
PREPAY_VALIDITY = timedelta(hours=2) - timedelta(minutes=5)
PREPAY_REUSE_MARGIN = timedelta(minutes=1)
REFUND_RETRY_AFTER = timedelta(minutes=1)
BATCH = 100
LATE_REFUND_REASON = "订单已关闭，全额退款"
# WeChat Pay answers to a refund that say "later", not "no": the sweep submits it again.
REFUND_RETRY_CODES = frozenset(
    {"NOT_ENOUGH", "FREQUENCY_LIMITED", "SYSTEM_ERROR", "SIGN_ERROR", "RESOURCE_ALREADY_EXISTS"}
)
CLOSE_REASONS_ZH = {
    "expired": "超过支付期限",
    "closed_by_domain": "业务已取消",
    "closed_at_wechat": "微信支付已关闭",
    "payment_failed": "支付失败",
}

SUBMIT_REFUND_TASK = "payments.submit_refund"
CLOSE_AT_WECHAT_TASK = "payments.close_at_wechat"
QUERY_ORDER_TASK = "payments.query_order"


# ------------------------------------------------------------------------------------------------
# Plumbing
# ------------------------------------------------------------------------------------------------


@contextlib.contextmanager
def own_unit_of_work() -> Iterator[Session]:
    """A unit of work of its own, committed when the block ends (rolled back on an error), which is also
    `db.session` for everything inside it — signal receivers and `notify()` write into it. The session that
    was there before is put back afterwards. Used for work done after another unit of work committed (a task
    run eagerly right after a request's commit cannot use that request's session) and for jobs that settle
    many orders, each on its own."""
    registry = db.session.registry
    outer = registry() if registry.has() else None
    inner = db.new_session()
    registry.set(inner)
    try:
        yield inner
        inner.commit()
    except BaseException:
        inner.rollback()
        raise
    finally:
        inner.close()
        if outer is None:
            registry.clear()
        else:
            registry.set(outer)


def current_settings() -> Settings:
    return current_app.extensions["linli.settings"]


def get_gateway() -> Gateway:
    """The running app's WeChat Pay gateway (live or sandbox), built once per process and configuration;
    `payments_unavailable` (503) when there is none (production without WeChat Pay)."""
    settings = current_settings()
    key = (
        settings.payments_live,
        settings.payments_sandbox,
        settings.wechat_pay_mchid,
        settings.wechat_pay_api_base_url,
        settings.wechat_pay_private_key_path,
        settings.wechat_pay_public_key_path,
        settings.wechat_pay_public_key_id,
        settings.wechat_pay_cert_dir,
        settings.wechat_miniapp_id,
    )
    cached = current_app.extensions.get("linli.wechatpay")
    if cached is None or cached[0] != key:
        cached = (key, make_gateway(settings))
        current_app.extensions["linli.wechatpay"] = cached
    gateway = cached[1]
    if gateway is None:
        raise ApiError("payments_unavailable")
    return gateway


def yuan(fen: int) -> str:
    """Fen as yuan for people: 1234 → "12.34" (integers throughout, never a float)."""
    sign = "-" if fen < 0 else ""
    fen = abs(fen)
    return f"{sign}{fen // 100}.{fen % 100:02d}"


def _new_number(prefix: str, now: datetime) -> str:
    # 26 characters of [0-9A-Z]: the day (Shanghai) for people reading a bill, then 64 random bits.
    return f"{prefix}{now.astimezone(LOCAL_TZ):%Y%m%d}{secrets.token_hex(8).upper()}"


def _locked_order(order_id: uuid.UUID) -> PaymentOrder | None:
    return db.session.scalar(
        select(PaymentOrder)
        .where(PaymentOrder.id == order_id)
        .with_for_update(of=PaymentOrder)
        .execution_options(populate_existing=True)
    )


def _locked_refund(refund_id: uuid.UUID) -> PaymentRefund | None:
    return db.session.scalar(
        select(PaymentRefund)
        .where(PaymentRefund.id == refund_id)
        .with_for_update(of=PaymentRefund)
        .execution_options(populate_existing=True)
    )


def _move_order(order: PaymentOrder, from_status: OrderStatus, **values: Any) -> bool:
    """Change the order's row only if it is still in `from_status`: True for the one caller that did."""
    result = db.session.execute(
        update(PaymentOrder)
        .where(PaymentOrder.id == order.id, PaymentOrder.status == from_status)
        .values(**values)
        .execution_options(synchronize_session=False)
    )
    if result.rowcount != 1:
        db.session.refresh(order)
        return False
    db.session.refresh(order)
    return True


def _move_refund(refund: PaymentRefund, from_states: tuple[RefundStatus, ...], **values: Any) -> bool:
    result = db.session.execute(
        update(PaymentRefund)
        .where(PaymentRefund.id == refund.id, PaymentRefund.status.in_(from_states))
        .values(updated_at=utcnow(), **values)
        .execution_options(synchronize_session=False)
    )
    db.session.refresh(refund)
    return result.rowcount == 1


def _audit(
    actor: User | None,
    action: AuditAction,
    *,
    order: PaymentOrder | None = None,
    refund: PaymentRefund | None = None,
    amount_fen: int | None = None,
    reason: str | None = None,
    details: dict[str, Any] | None = None,
) -> None:
    db.session.add(
        PaymentAudit(
            id=new_id(),
            actor_id=actor.id if actor is not None else None,
            action=action,
            order_id=order.id if order is not None else None,
            refund_id=refund.id if refund is not None else None,
            amount_fen=amount_fen,
            reason=reason,
            details=details or {},
            at=utcnow(),
        )
    )


# ------------------------------------------------------------------------------------------------
# What domains call
# ------------------------------------------------------------------------------------------------


def check_amount(amount_fen: Any, settings: Settings) -> int:
    """A whole number of fen between 1 and the configured ceiling, or a 422 that says so."""
    ceiling = settings.payments_max_amount_fen
    if isinstance(amount_fen, bool) or not isinstance(amount_fen, int) or not 0 < amount_fen <= ceiling:
        raise ApiError("payment_amount_invalid", errors={"amount_fen": [f"1–{ceiling}"]}, max_fen=ceiling)
    return amount_fen


def _invalid(field: str, problem: str) -> ApiError:
    return ApiError("payment_order_invalid", errors={field: [problem]})


def _checked_text(value: Any, field: str, limit: int) -> str:
    if not isinstance(value, str) or not value.strip():
        raise _invalid(field, "required")
    if len(value) > limit:
        raise _invalid(field, f"at most {limit} characters")
    if text_problem(value) is not None or any(c in value for c in "\r\n\t"):
        raise _invalid(field, "control characters")
    return value.strip()


def create_order(
    payer: User,
    purpose: str,
    reference: str,
    amount_fen: int,
    description: str,
    expires_in: timedelta | int,
    *,
    area_path: str | None,
    settings: Settings | None = None,
) -> PaymentOrder:
    """An order for `payer` to pay `amount_fen` (CNY) for `reference` of `purpose`, in the caller's transaction.

    `purpose` names the domain's kind of thing (`parking`, `party_dues`; lower case), `reference` its id of the
    thing, `description` what the resident sees in WeChat Pay (≤ 127 characters), `expires_in` how long it may
    be paid (1 minute – 7 days; seconds or a timedelta), `area_path` the area of what it pays for (staff scope;
    None for no place). At most one unpaid order per (purpose, reference): asking again with the same payer and
    amount returns that order; with another, 409 `payment_order_open`.
    """
    settings = settings or current_settings()
    amount_fen = check_amount(amount_fen, settings)
    if not isinstance(purpose, str) or not PURPOSE.match(purpose):
        raise _invalid("purpose", "lower-case letters, digits and _, at most 32")
    reference = _checked_text(reference, "reference", 64)
    description = _checked_text(description, "description", 127)
    if isinstance(expires_in, int) and not isinstance(expires_in, bool):
        expires_in = timedelta(seconds=expires_in)
    if not isinstance(expires_in, timedelta) or not MIN_EXPIRES_IN <= expires_in <= MAX_EXPIRES_IN:
        raise _invalid("expires_in", "between 1 minute and 7 days")
    if area_path is not None and (
        not isinstance(area_path, str) or not area_path.startswith("/") or not area_path.endswith("/")
    ):
        raise _invalid("area_path", "an area path such as /KJ/KJ01/")
    now = utcnow()
    order_id = new_id()
    inserted = db.session.execute(
        insert_on_conflict(PaymentOrder)
        .values(
            id=order_id,
            out_trade_no=_new_number("LL", now),
            payer_id=payer.id,
            purpose=purpose,
            reference=reference,
            description=description,
            amount_fen=amount_fen,
            currency="CNY",
            area_path=area_path,
            status=OrderStatus.PENDING,
            created_at=now,
            expires_at=now + expires_in,
            refunded_fen=0,
            paid_after_close=False,
            close_pending_at_wechat=False,
        )
        .on_conflict_do_nothing(index_elements=["purpose", "reference"], index_where=text("status = 'pending'"))
        .returning(PaymentOrder.id)
    ).scalar()
    if inserted is not None:
        order = db.session.get(PaymentOrder, order_id)
        assert order is not None
        return order
    existing = db.session.scalar(
        select(PaymentOrder).where(
            PaymentOrder.purpose == purpose,
            PaymentOrder.reference == reference,
            PaymentOrder.status == OrderStatus.PENDING,
        )
    )
    if existing is not None and existing.payer_id == payer.id and existing.amount_fen == amount_fen:
        return existing
    raise ApiError("payment_order_open")


def close_order(order: PaymentOrder, reason: str = "closed_by_domain") -> PaymentOrder:
    """Withdraw an unpaid order (the booking was cancelled): closed here at once, and at WeChat Pay after the
    commit. A payment that still arrives is handled as a payment after close (`payment_after_close`).
    409 `payment_already_paid` when it is paid: refund it instead."""
    locked = _locked_order(order.id)
    if locked is None:
        raise NotFound()
    if locked.status == OrderStatus.PAID:
        raise ApiError("payment_already_paid")
    if locked.status == OrderStatus.PENDING:
        _close_here(locked, reason)
    return locked


def _close_here(order: PaymentOrder, reason: str) -> bool:
    """Pending → closed, and the domain told once. WeChat Pay is asked to close it too after the commit when it
    knows the order (a prepay was made) — unless it told us it is closed."""
    now = utcnow()
    at_wechat = order.prepay_id is not None and reason not in ("expired", "closed_at_wechat")
    if not _move_order(
        order,
        OrderStatus.PENDING,
        status=OrderStatus.CLOSED,
        closed_at=now,
        close_reason=reason,
        close_pending_at_wechat=at_wechat,
        closed_signalled_at=now,
    ):
        return False
    signals.payment_closed.send(order, reason=reason)
    if at_wechat:
        after_commit(CLOSE_AT_WECHAT_TASK, str(order.id))
    return True


def refund(order: PaymentOrder, amount_fen: int, reason: str, *, requested_by: User | None = None) -> PaymentRefund:
    """Return `amount_fen` of a paid order to its payer (full or partial; several, up to the paid amount).
    Sent to WeChat Pay after the commit; the outcome comes as `refund_succeeded` / `refund_failed`."""
    locked = _locked_order(order.id)
    if locked is None:
        raise NotFound()
    return _hold_refund(locked, amount_fen, reason, requested_by)


def _hold_refund(order: PaymentOrder, amount_fen: int, reason: str, requested_by: User | None) -> PaymentRefund:
    if order.status != OrderStatus.PAID:
        raise ApiError("payment_not_paid")
    if isinstance(amount_fen, bool) or not isinstance(amount_fen, int) or amount_fen <= 0:
        raise ApiError(
            "payment_amount_invalid",
            errors={"amount_fen": ["a positive whole number of fen"]},
            max_fen=order.amount_fen,
        )
    reason = _checked_text(reason, "reason", 80)
    # One UPDATE holds the amount: it cannot take the refunds above the paid amount, however many ask at once.
    held = db.session.execute(
        update(PaymentOrder)
        .where(
            PaymentOrder.id == order.id,
            PaymentOrder.status == OrderStatus.PAID,
            PaymentOrder.refunded_fen + amount_fen <= PaymentOrder.amount_fen,
        )
        .values(refunded_fen=PaymentOrder.refunded_fen + amount_fen)
        .execution_options(synchronize_session=False)
    )
    db.session.refresh(order)
    if held.rowcount != 1:
        raise ApiError(
            "refund_exceeds_paid",
            errors={"amount_fen": [f"≤ {order.refundable_fen}"]},
            refundable_fen=order.refundable_fen,
        )
    now = utcnow()
    row = PaymentRefund(
        id=new_id(),
        order_id=order.id,
        out_refund_no=_new_number("LR", now),
        amount_fen=amount_fen,
        reason=reason,
        status=RefundStatus.REQUESTED,
        requested_by_id=requested_by.id if requested_by is not None else None,
        created_at=now,
        updated_at=now,
    )
    db.session.add(row)
    db.session.flush()
    db.session.refresh(order)
    after_commit(SUBMIT_REFUND_TASK, str(row.id))
    return row


# ------------------------------------------------------------------------------------------------
# WeChat Pay's word: paid (notify, query, sandbox)
# ------------------------------------------------------------------------------------------------


def _transaction_problem(order: PaymentOrder, resource: dict[str, Any], gateway: Gateway) -> str | None:
    """Why WeChat Pay's account of a payment does not fit our order (None when it does)."""
    amount = resource.get("amount") if isinstance(resource.get("amount"), dict) else {}
    if resource.get("mchid") != gateway.mchid:
        return f"mchid {resource.get('mchid')!r} is not ours"
    if resource.get("appid") != gateway.appid:
        return f"appid {resource.get('appid')!r} is not our mini-program's"
    if resource.get("out_trade_no") != order.out_trade_no:
        return "out_trade_no differs"
    if resource.get("trade_state") not in ("SUCCESS", "REFUND"):
        return f"trade_state {resource.get('trade_state')!r} is not a payment"
    total = amount.get("total")
    if isinstance(total, bool) or not isinstance(total, int) or total != order.amount_fen:
        return f"amount {total!r} fen, the order is {order.amount_fen}"
    if amount.get("currency", "CNY") != "CNY":
        return f"currency {amount.get('currency')!r}"
    transaction_id = resource.get("transaction_id")
    if not isinstance(transaction_id, str) or not 0 < len(transaction_id) <= 32:
        return "no transaction_id"
    return None


def record_paid(order: PaymentOrder, resource: dict[str, Any], via: PaidVia, gateway: Gateway) -> str:
    """Apply WeChat Pay's account of a payment to our order (locked here), once: "paid" for the caller that
    marked it paid, "duplicate" when it was already, "late_kept"/"late_refunded" for a payment that arrived
    after the order was closed. A payment that does not fit the order (mchid, appid, amount …) changes nothing:
    `NotifyRefused`."""
    locked = _locked_order(order.id)
    if locked is None:
        raise NotifyRefused("unknown order", 404)
    order = locked
    if order.status == OrderStatus.PAID:
        if order.transaction_id != resource.get("transaction_id"):
            log.error(
                "order %s is paid by %s; WeChat Pay reports another transaction %r",
                order.out_trade_no,
                order.transaction_id,
                resource.get("transaction_id"),
            )
        return "duplicate"
    problem = _transaction_problem(order, resource, gateway)
    if problem is not None:
        log.error("payment of order %s refused: %s", order.out_trade_no, problem)
        raise NotifyRefused(problem)
    now = utcnow()
    payer = resource.get("payer") if isinstance(resource.get("payer"), dict) else {}
    values: dict[str, Any] = {
        "status": OrderStatus.PAID,
        "transaction_id": resource["transaction_id"],
        "paid_at": parse_time(resource.get("success_time")) or now,
        "paid_via": via,
        "payer_openid": str(payer.get("openid") or "")[:64] or None,
    }
    if order.status == OrderStatus.PENDING:
        if not _move_order(order, OrderStatus.PENDING, success_signalled_at=now, **values):
            return "duplicate"
        signals.payment_succeeded.send(order)
        return "paid"
    # Closed here, paid there: the money is recorded as taken; the domain decides whether to keep it.
    if not _move_order(order, OrderStatus.CLOSED, paid_after_close=True, close_pending_at_wechat=False, **values):
        return "duplicate"
    answers = {answer for _receiver, answer in signals.payment_after_close.send(order) if answer is not None}
    if signals.LateDecision.KEEP in answers and signals.LateDecision.REFUND not in answers:
        _move_order(order, OrderStatus.PAID, success_signalled_at=now)
        signals.payment_succeeded.send(order)
        return "late_kept"
    late = _hold_refund(order, order.amount_fen, LATE_REFUND_REASON, None)
    _audit(
        None, AuditAction.AUTO_REFUND, order=order, refund=late, amount_fen=late.amount_fen, reason=LATE_REFUND_REASON
    )
    if order.payer is None:  # the payer deleted their account: nobody to tell
        return "late_refunded"
    notify(
        order.payer,
        "payment_refunded_late",
        {
            "order_id": order.id,
            "description": order.description,
            "amount_yuan": yuan(order.amount_fen),
            "closed_reason": CLOSE_REASONS_ZH.get(order.close_reason or "", "订单已关闭"),
            "paid_at": order.paid_at,
        },
        subject_path=order.area_path,
        dedupe_key=f"payment-late-refund:{order.id}",
    )
    log.warning("order %s was paid after it closed: refunded in full", order.out_trade_no)
    return "late_refunded"


def handle_payment_notify(headers: dict[str, str], body: bytes, gateway: Gateway) -> str:
    """A payment notify from WeChat Pay, in the request's unit of work: verified (`gateway.verify_notify`),
    checked against our order, applied once. Raises `NotifyRefused` (WeChat Pay sends it again later)."""
    message = gateway.verify_notify(headers, body)
    if message.event_type != "TRANSACTION.SUCCESS":
        log.info("payment notify %s of type %r: nothing to do", message.notify_id, message.event_type)
        return "ignored"
    resource = message.resource
    order = db.session.scalar(select(PaymentOrder).where(PaymentOrder.out_trade_no == resource.get("out_trade_no")))
    if order is None:
        # Signed by WeChat Pay for our merchant, yet not our order: the bill will show it (paid there, not here).
        log.error("payment notify %s for unknown out_trade_no %r", message.notify_id, resource.get("out_trade_no"))
        raise NotifyRefused("unknown out_trade_no", 404)
    outcome = record_paid(order, resource, PaidVia.NOTIFY, gateway)
    log.info("payment notify %s for order %s: %s", message.notify_id, order.out_trade_no, outcome)
    return outcome


def _apply_trade_state(order: PaymentOrder, state: dict[str, Any] | None, gateway: Gateway) -> str:
    """What a query told us, applied (in the caller's unit of work)."""
    trade_state = (state or {}).get("trade_state")
    if trade_state in ("SUCCESS", "REFUND"):
        try:
            return record_paid(order, state or {}, PaidVia.QUERY, gateway)
        except NotifyRefused as exc:
            return f"refused: {exc.reason}"
    locked = _locked_order(order.id)
    if locked is None:
        return "gone"
    if trade_state in ("CLOSED", "REVOKED", "PAYERROR") and locked.status == OrderStatus.PENDING:
        _close_here(locked, "closed_at_wechat")
        return "closed"
    if locked.status == OrderStatus.PENDING:
        locked.last_queried_at = utcnow()
    return str(trade_state or "unknown").lower()


# ------------------------------------------------------------------------------------------------
# Refunds: submission, WeChat Pay's word on them
# ------------------------------------------------------------------------------------------------


def _refund_state_problem(refund_row: PaymentRefund, resource: dict[str, Any], gateway: Gateway | None) -> str | None:
    amount = resource.get("amount") if isinstance(resource.get("amount"), dict) else {}
    if gateway is not None and "mchid" in resource and resource.get("mchid") != gateway.mchid:
        return f"mchid {resource.get('mchid')!r} is not ours"
    if resource.get("out_refund_no") not in (None, refund_row.out_refund_no):
        return "out_refund_no differs"
    if resource.get("out_trade_no") not in (None, refund_row.order.out_trade_no):
        return "out_trade_no differs"
    if "refund" in amount and amount.get("refund") != refund_row.amount_fen:
        return f"refund amount {amount.get('refund')!r} fen, ours is {refund_row.amount_fen}"
    if "total" in amount and amount.get("total") != refund_row.order.amount_fen:
        return f"order total {amount.get('total')!r} fen, ours is {refund_row.order.amount_fen}"
    return None


def apply_refund_state(refund_row: PaymentRefund, resource: dict[str, Any], gateway: Gateway | None) -> str:
    """WeChat Pay's account of a refund (its answer, a query, a notify), applied once in the caller's unit of
    work: the state moves forward only, and the domain is told of the outcome once."""
    locked = _locked_refund(refund_row.id)
    if locked is None:
        return "gone"
    refund_row = locked
    problem = _refund_state_problem(refund_row, resource, gateway)
    if problem is not None:
        log.error("refund %s: WeChat Pay's account refused: %s", refund_row.out_refund_no, problem)
        raise NotifyRefused(problem)
    status = resource.get("status") or resource.get("refund_status")
    refund_id = resource.get("refund_id") if isinstance(resource.get("refund_id"), str) else None
    now = utcnow()
    open_states = (RefundStatus.REQUESTED, RefundStatus.PROCESSING)
    if status == "SUCCESS":
        moved = _move_refund(
            refund_row,
            (*open_states, RefundStatus.ABNORMAL),
            status=RefundStatus.SUCCEEDED,
            succeeded_at=parse_time(resource.get("success_time")) or now,
            refund_id=refund_id or refund_row.refund_id,
            outcome_signalled_at=now,
            last_error=None,
        )
        if not moved:
            return "duplicate"
        order = refund_row.order
        signals.refund_succeeded.send(refund_row)
        if order.payer is None:
            return "succeeded"
        notify(
            order.payer,
            "payment_refunded",
            {
                "order_id": order.id,
                "description": order.description,
                "amount_yuan": yuan(refund_row.amount_fen),
                "reason": refund_row.reason,
                "refunded_at": refund_row.succeeded_at,
            },
            subject_path=order.area_path,
            dedupe_key=f"payment-refunded:{refund_row.id}",
        )
        return "succeeded"
    if status == "PROCESSING":
        moved = _move_refund(
            refund_row, (RefundStatus.REQUESTED,), status=RefundStatus.PROCESSING, refund_id=refund_id, last_error=None
        )
        return "processing" if moved else "duplicate"
    if status in ("CLOSED", "ABNORMAL"):
        new_status = RefundStatus.CLOSED if status == "CLOSED" else RefundStatus.ABNORMAL
        if not _move_refund(
            refund_row,
            open_states,
            status=new_status,
            refund_id=refund_id or refund_row.refund_id,
            outcome_signalled_at=now,
        ):
            return "duplicate"
        if new_status == RefundStatus.CLOSED:
            _release(refund_row)
        log.warning("refund %s ended %s at WeChat Pay", refund_row.out_refund_no, status)
        signals.refund_failed.send(refund_row)
        return new_status.value
    log.warning("refund %s: WeChat Pay status %r not understood", refund_row.out_refund_no, status)
    return "unknown"


def _release(refund_row: PaymentRefund) -> None:
    """A refund that will not happen gives its amount back to the order (refundable again)."""
    db.session.execute(
        update(PaymentOrder)
        .where(PaymentOrder.id == refund_row.order_id)
        .values(refunded_fen=PaymentOrder.refunded_fen - refund_row.amount_fen)
        .execution_options(synchronize_session=False)
    )
    db.session.refresh(refund_row.order)


def submit_refund(refund_id: uuid.UUID, gateway: Gateway) -> str:
    """Send a requested refund to WeChat Pay (its `out_refund_no` makes a second sending the same refund) and
    apply the answer. The call is made between two units of work, holding no lock."""
    with own_unit_of_work():
        row = db.session.get(PaymentRefund, refund_id)
        if row is None or row.status != RefundStatus.REQUESTED:
            return row.status.value if row is not None else "gone"
        request = {
            "out_trade_no": row.order.out_trade_no,
            "out_refund_no": row.out_refund_no,
            "amount_fen": row.amount_fen,
            "total_fen": row.order.amount_fen,
            "reason": row.reason,
        }
        row.submitted_at = utcnow()
        row.updated_at = row.submitted_at
    try:
        answer = gateway.refund(**request)
    except WechatPayError as exc:
        with own_unit_of_work():
            row = _locked_refund(refund_id)
            if row is None or row.status != RefundStatus.REQUESTED:
                return "gone"
            row.last_error = f"{exc.status} {exc.code}: {exc.message}"[:255]
            if exc.unreachable or exc.code in REFUND_RETRY_CODES or (exc.status or 0) >= 500 or exc.status == 429:
                return "retry"
            # WeChat Pay says no for good (the order cannot be refunded): the amount is refundable again.
            return apply_refund_state(row, {"status": "CLOSED"}, None)
    with own_unit_of_work():
        row = db.session.get(PaymentRefund, refund_id)
        if row is None:
            return "gone"
        try:
            return apply_refund_state(row, answer if isinstance(answer, dict) else {}, gateway)
        except NotifyRefused as exc:
            return f"refused: {exc.reason}"


def handle_refund_notify(headers: dict[str, str], body: bytes, gateway: Gateway) -> str:
    """A refund notify from WeChat Pay, in the request's unit of work (see `handle_payment_notify`)."""
    message = gateway.verify_notify(headers, body)
    if not message.event_type.startswith("REFUND."):
        log.info("refund notify %s of type %r: nothing to do", message.notify_id, message.event_type)
        return "ignored"
    resource = message.resource
    if resource.get("mchid") != gateway.mchid:
        log.error("refund notify %s for mchid %r", message.notify_id, resource.get("mchid"))
        raise NotifyRefused(f"mchid {resource.get('mchid')!r} is not ours")
    row = db.session.scalar(select(PaymentRefund).where(PaymentRefund.out_refund_no == resource.get("out_refund_no")))
    if row is None:
        log.error("refund notify %s for unknown out_refund_no %r", message.notify_id, resource.get("out_refund_no"))
        raise NotifyRefused("unknown out_refund_no", 404)
    outcome = apply_refund_state(row, resource, gateway)
    log.info("refund notify %s for refund %s: %s", message.notify_id, row.out_refund_no, outcome)
    return outcome


# ------------------------------------------------------------------------------------------------
# Jobs: lost notifies, expiry, closing at WeChat Pay, refunds still open
# ------------------------------------------------------------------------------------------------


def query_order(order_id: uuid.UUID, gateway: Gateway) -> str:
    """Ask WeChat Pay about one order and apply the answer (in a unit of work of its own)."""
    with own_unit_of_work():
        order = db.session.get(PaymentOrder, order_id)
        if order is None:
            return "gone"
        out_trade_no = order.out_trade_no
    try:
        state = gateway.query(out_trade_no)
    except WechatPayError:
        return "retry"
    with own_unit_of_work():
        order = db.session.get(PaymentOrder, order_id)
        return _apply_trade_state(order, state, gateway) if order is not None else "gone"


def query_unpaid(settings: Settings, gateway: Gateway, now: datetime | None = None) -> int:
    """Ask WeChat Pay about orders still unpaid a while after their prepay (their notify may be lost), each
    at most once per `PAYMENTS_QUERY_AFTER_SECONDS`. Returns how many were asked about."""
    now = now or utcnow()
    cutoff = now - timedelta(seconds=settings.payments_query_after_seconds)
    with own_unit_of_work():
        ids = list(
            db.session.scalars(
                select(PaymentOrder.id)
                .where(
                    PaymentOrder.status == OrderStatus.PENDING,
                    PaymentOrder.prepaid_at <= cutoff,
                    or_(PaymentOrder.last_queried_at.is_(None), PaymentOrder.last_queried_at <= cutoff),
                )
                .order_by(PaymentOrder.prepaid_at)
                .limit(BATCH)
            )
        )
    for order_id in ids:
        outcome = query_order(order_id, gateway)
        log.info("queried unpaid order %s: %s", order_id, outcome)
    return len(ids)


def close_expired(gateway: Gateway, now: datetime | None = None) -> int:
    """Close orders whose time to pay is over: at WeChat Pay first (so it takes no more money for them), then
    here, and the domain is told. WeChat Pay saying it was paid makes it paid instead; WeChat Pay out of reach
    leaves the order for the next run. Returns how many were closed here."""
    now = now or utcnow()
    with own_unit_of_work():
        rows = db.session.execute(
            select(PaymentOrder.id, PaymentOrder.out_trade_no, PaymentOrder.prepay_id)
            .where(PaymentOrder.status == OrderStatus.PENDING, PaymentOrder.expires_at <= now)
            .order_by(PaymentOrder.expires_at)
            .limit(BATCH)
        ).all()
    closed = 0
    for order_id, out_trade_no, prepay_id in rows:
        if prepay_id is not None:
            try:
                gateway.close(out_trade_no)
            except WechatPayError as exc:
                if exc.unreachable:
                    continue
                # Refused: most likely paid, or closed already — the query says which (and applies it). Only an
                # order WeChat Pay never heard of is closed here without its word.
                outcome = query_order(order_id, gateway)
                if outcome == "closed":
                    closed += 1
                if outcome != "unknown":
                    continue
        with own_unit_of_work():
            order = _locked_order(order_id)
            if order is not None and order.status == OrderStatus.PENDING and _close_here(order, "expired"):
                closed += 1
    return closed


def close_at_wechat(order_id: uuid.UUID, gateway: Gateway) -> str:
    """Tell WeChat Pay an order closed here is closed (it takes no payment for it after); a payment it took
    before is applied as a payment after close."""
    with own_unit_of_work():
        order = db.session.get(PaymentOrder, order_id)
        if order is None or not order.close_pending_at_wechat:
            return "nothing to do"
        out_trade_no = order.out_trade_no
    try:
        gateway.close(out_trade_no)
    except WechatPayError as exc:
        if exc.unreachable:
            return "retry"
        outcome = query_order(order_id, gateway)
        if outcome in ("paid", "duplicate", "late_kept", "late_refunded", "retry"):
            return outcome
    with own_unit_of_work():
        db.session.execute(
            update(PaymentOrder)
            .where(PaymentOrder.id == order_id, PaymentOrder.status == OrderStatus.CLOSED)
            .values(close_pending_at_wechat=False)
        )
    return "closed"


def sweep(settings: Settings, gateway: Gateway, now: datetime | None = None) -> dict[str, int]:
    """What tasks lost or left open: refunds never acknowledged (sent again under the same out_refund_no),
    refunds still processing (asked about), orders closed here that WeChat Pay was not told of."""
    now = now or utcnow()
    before = now - REFUND_RETRY_AFTER
    with own_unit_of_work():
        requested = list(
            db.session.scalars(
                select(PaymentRefund.id)
                .where(PaymentRefund.status == RefundStatus.REQUESTED, PaymentRefund.updated_at <= before)
                .limit(BATCH)
            )
        )
        processing = db.session.execute(
            select(PaymentRefund.id, PaymentRefund.out_refund_no)
            .where(PaymentRefund.status == RefundStatus.PROCESSING, PaymentRefund.updated_at <= before)
            .limit(BATCH)
        ).all()
        unclosed = list(
            db.session.scalars(
                select(PaymentOrder.id)
                .where(PaymentOrder.status == OrderStatus.CLOSED, PaymentOrder.close_pending_at_wechat.is_(True))
                .limit(BATCH)
            )
        )
    for refund_id in requested:
        submit_refund(refund_id, gateway)
    for refund_id, out_refund_no in processing:
        try:
            state = gateway.query_refund(out_refund_no)
        except WechatPayError:
            continue
        with own_unit_of_work():
            row = db.session.get(PaymentRefund, refund_id)
            if row is not None and state is not None:
                with contextlib.suppress(NotifyRefused):  # logged; finance sees it in the reconciliation
                    apply_refund_state(row, state, gateway)
            if row is not None and row.status == RefundStatus.PROCESSING:
                row.updated_at = utcnow()  # asked; not again before the next interval
    for order_id in unclosed:
        close_at_wechat(order_id, gateway)
    return {"refunds_submitted": len(requested), "refunds_queried": len(processing), "orders_closed": len(unclosed)}


# ------------------------------------------------------------------------------------------------
# The mini-program: my orders, prepay, the sandbox
# ------------------------------------------------------------------------------------------------


def own_order(user: User, order_id: uuid.UUID) -> PaymentOrder:
    """One of my orders; anyone else's is not found (404), not forbidden: ids are not confirmed to strangers."""
    order = db.session.get(PaymentOrder, order_id)
    if order is None or order.payer_id != user.id:
        raise NotFound()
    return order


def visible_order(user: User, order_id: uuid.UUID) -> PaymentOrder:
    """One order as `GET /payments/{id}` shows it: its payer's; staff's when it is of their area (audited)."""
    order = db.session.get(PaymentOrder, order_id)
    if order is not None and order.payer_id == user.id:
        return order
    if user.is_staff:
        return view_order(user, order_id)
    raise NotFound()


def my_orders(user: User) -> Select[tuple[PaymentOrder]]:
    return select(PaymentOrder).where(PaymentOrder.payer_id == user.id)


def _ensure_payable(order: PaymentOrder, now: datetime) -> None:
    if order.status == OrderStatus.PAID:
        raise ApiError("payment_already_paid")
    if order.status == OrderStatus.CLOSED:
        raise ApiError("payment_closed")
    if order.expires_at <= now + PREPAY_REUSE_MARGIN:
        raise ApiError("payment_expired")


def prepay(user: User, order_id: uuid.UUID, gateway: Gateway) -> dict[str, Any]:
    """The signed parameters `wx.requestPayment` takes for one of my unpaid orders. The JSAPI order is made at
    WeChat Pay once and its prepay_id kept: asking again while it is valid signs the same one (no second
    WeChat Pay order; WeChat Pay itself would answer the same prepay_id for the same out_trade_no)."""
    order = own_order(user, order_id)
    now = utcnow()
    _ensure_payable(order, now)
    if order.prepay_id and order.prepay_expires_at and order.prepay_expires_at > now + PREPAY_REUSE_MARGIN:
        return _pay_params(order, gateway)
    if not user.wechat_openid:
        raise ApiError("payment_no_openid")
    try:
        prepay_id = gateway.jsapi(
            out_trade_no=order.out_trade_no,
            description=order.description,
            amount_fen=order.amount_fen,
            openid=user.wechat_openid,
            expires_at=order.expires_at,
        )
    except WechatPayError as exc:
        if exc.code in ("ORDERPAID", "ORDER_CLOSED", "ORDERCLOSED", "ORDER_PAID"):
            after_commit(QUERY_ORDER_TASK, str(order.id))  # WeChat Pay knows something we do not yet
            raise ApiError("payment_already_paid" if "PAID" in exc.code else "payment_closed") from exc
        if exc.unreachable:
            raise ApiError("wechat_pay_unavailable", headers={"Retry-After": "5"}) from exc
        raise ApiError("wechat_pay_error", wechat_code=exc.code) from exc
    locked = _locked_order(order.id)
    assert locked is not None
    _ensure_payable(locked, now)  # a notify may have marked it paid while WeChat Pay was answering
    if not (locked.prepay_id and locked.prepay_expires_at and locked.prepay_expires_at > now + PREPAY_REUSE_MARGIN):
        locked.prepay_id = prepay_id
        locked.prepay_expires_at = min(now + PREPAY_VALIDITY, locked.expires_at)
        locked.prepaid_at = locked.prepaid_at or now
    return _pay_params(locked, gateway)


def _pay_params(order: PaymentOrder, gateway: Gateway) -> dict[str, Any]:
    assert order.prepay_id is not None
    return {"order_id": order.id, "sandbox": gateway.sandbox, **gateway.pay_params(order.prepay_id)}


def sandbox_complete(user: User, order_id: uuid.UUID, outcome: str, gateway: Gateway) -> PaymentOrder:
    """SANDBOX ONLY: what WeChat Pay would report, without WeChat Pay — `paid` (as a verified notify would; on
    an order already closed, as a payment after close) or `failed` (the order closes, the domain is told)."""
    if not gateway.sandbox:
        raise ApiError("payments_sandbox_only")
    order = own_order(user, order_id)
    if outcome == "failed":
        locked = _locked_order(order.id)
        assert locked is not None
        if locked.status != OrderStatus.PENDING:
            raise ApiError("payment_already_paid" if locked.status == OrderStatus.PAID else "payment_closed")
        _close_here(locked, "payment_failed")
        return locked
    if order.status == OrderStatus.PAID:
        raise ApiError("payment_already_paid")
    resource = {
        "mchid": gateway.mchid,
        "appid": gateway.appid,
        "out_trade_no": order.out_trade_no,
        "transaction_id": "SANDBOX" + secrets.token_hex(8).upper(),
        "trade_state": "SUCCESS",
        "success_time": None,
        "amount": {"total": order.amount_fen, "currency": "CNY"},
        "payer": {"openid": user.wechat_openid},
    }
    record_paid(order, resource, PaidVia.SANDBOX, gateway)
    db.session.refresh(order)
    return order


def create_sandbox_order(user: User, amount_fen: int, description: str, gateway: Gateway) -> PaymentOrder:
    """SANDBOX ONLY: an order of the `demo` purpose for me, so the embedded default can show a paid flow
    before any domain sells anything."""
    if not gateway.sandbox:
        raise ApiError("payments_sandbox_only")
    return create_order(user, "demo", new_id().hex, amount_fen, description, timedelta(minutes=30), area_path=None)


# ------------------------------------------------------------------------------------------------
# Staff: what they see, refunds on a resident's behalf, the audit
# ------------------------------------------------------------------------------------------------


def staff_scope(staff: User, area_path: Any) -> ColumnElement[bool]:
    """Which payments a staff member may see: the one area rule (`api.scope`) over an area-path column."""
    return scope.condition(staff, area_path)


def visible_orders(staff: User) -> Select[tuple[PaymentOrder]]:
    return select(PaymentOrder).where(staff_scope(staff, PaymentOrder.area_path))


def staff_order(staff: User, order_id: uuid.UUID) -> PaymentOrder:
    """One order a staff member may see (outside their area: 404, as for a resident)."""
    order = db.session.scalar(visible_orders(staff).where(PaymentOrder.id == order_id))
    if order is None:
        raise NotFound()
    return order


def may_refund(staff: User) -> bool:
    return staff.has_role(Role.FINANCE, Role.ADMIN)


def staff_orders(staff: User, filters: dict[str, Any], action: AuditAction) -> Select[tuple[PaymentOrder]]:
    """Orders of my area with the list's filters; the reading is audited (who, when, with which filters)."""
    stmt = visible_orders(staff)
    if filters.get("status") is not None:
        stmt = stmt.where(PaymentOrder.status == filters["status"])
    if filters.get("purpose"):
        stmt = stmt.where(PaymentOrder.purpose == filters["purpose"])
    if filters.get("payer_id") is not None:
        stmt = stmt.where(PaymentOrder.payer_id == filters["payer_id"])
    if filters.get("out_trade_no"):
        stmt = stmt.where(PaymentOrder.out_trade_no == filters["out_trade_no"])
    if filters.get("created_from") is not None:
        stmt = stmt.where(PaymentOrder.created_at >= filters["created_from"])
    if filters.get("created_to") is not None:
        stmt = stmt.where(PaymentOrder.created_at < filters["created_to"])
    _audit(staff, action, details={k: str(v) for k, v in filters.items() if v is not None and k not in ("cursor",)})
    return stmt


def view_order(staff: User, order_id: uuid.UUID) -> PaymentOrder:
    order = staff_order(staff, order_id)
    _audit(staff, AuditAction.VIEW, order=order)
    return order


def staff_refund(staff: User, order_id: uuid.UUID, amount_fen: int, reason: str) -> PaymentRefund:
    """Finance (or an admin) refunds part or all of an order of their area on the resident's behalf, saying
    why; audited."""
    _ensure_finance(staff)
    order = staff_order(staff, order_id)
    row = refund(order, amount_fen, reason, requested_by=staff)
    _audit(staff, AuditAction.REFUND, order=order, refund=row, amount_fen=amount_fen, reason=row.reason)
    return row


def audit_log(staff: User) -> Select[tuple[PaymentAudit]]:
    """The payments audit: finance and admins (of the whole subdistrict, or entries about orders of their area)."""
    _ensure_finance(staff)
    orders_in_scope = select(PaymentOrder.id).where(staff_scope(staff, PaymentOrder.area_path))
    area = staff.staff_area
    everything = area is None or area.kind == AreaKind.SUBDISTRICT
    if everything and (area is not None or staff.has_role(Role.ADMIN)):
        return select(PaymentAudit)
    return select(PaymentAudit).where(PaymentAudit.order_id.in_(orders_in_scope))


def _ensure_finance(staff: User) -> None:
    if not may_refund(staff):
        raise ApiError("forbidden")


def discrepancies(staff: User, filters: dict[str, Any]) -> Select[tuple[PaymentDiscrepancy]]:
    """Reconciliation differences for finance and admins, by the same area rule as orders (a difference about
    no order of ours — paid there, unknown here — only for the whole subdistrict's)."""
    _ensure_finance(staff)
    stmt = select(PaymentDiscrepancy).where(staff_scope(staff, PaymentDiscrepancy.area_path))
    if filters.get("bill_date") is not None:
        stmt = stmt.where(PaymentDiscrepancy.bill_date == filters["bill_date"])
    if filters.get("kind") is not None:
        stmt = stmt.where(PaymentDiscrepancy.kind == filters["kind"])
    if filters.get("entry") is not None:
        stmt = stmt.where(PaymentDiscrepancy.entry == filters["entry"])
    return stmt


def reconciliations(staff: User) -> Select[tuple[PaymentReconciliation]]:
    """The reconciled days (whole-subdistrict totals): finance and admins."""
    _ensure_finance(staff)
    return select(PaymentReconciliation)


def finance_staff() -> list[User]:
    """Who is told about money matters: the active users with the finance role; the admins when there is none."""
    for role in (Role.FINANCE, Role.ADMIN):
        users = list(
            db.session.scalars(
                select(User)
                .where(User.is_active, User.id.in_(select(UserRole.user_id).where(UserRole.role == role)))
                .order_by(User.id)
            )
        )
        if users:
            return users
    return []
