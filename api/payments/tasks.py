"""Payments' jobs: what follows a commit (submit a refund, close an order at WeChat Pay, ask about an order)
and the beat's — unpaid orders asked about (lost notifies), expired orders closed on both sides, refunds and
closings that a lost task left (`sweep`), and the daily reconciliation with WeChat Pay's bill. Each takes `now`
(ISO) where time matters, for tests and operators. In production without WeChat Pay they do nothing."""

from __future__ import annotations

import uuid
from datetime import date, datetime

from api.errors import ApiError
from api.extensions import celery
from api.payments import reconciliation, services
from api.payments.gateway import Gateway


def _gateway() -> Gateway | None:
    try:
        return services.get_gateway()
    except ApiError:
        return None  # production without WeChat Pay: nothing to do


def _now(now: str | None) -> datetime | None:
    return datetime.fromisoformat(now) if now else None


@celery.task(name="payments.submit_refund", ignore_result=True, acks_late=True)
def submit_refund(refund_id: str) -> str:
    gateway = _gateway()
    return services.submit_refund(uuid.UUID(refund_id), gateway) if gateway else "payments off"


@celery.task(name="payments.close_at_wechat", ignore_result=True, acks_late=True)
def close_at_wechat(order_id: str) -> str:
    gateway = _gateway()
    return services.close_at_wechat(uuid.UUID(order_id), gateway) if gateway else "payments off"


@celery.task(name="payments.query_order", ignore_result=True, acks_late=True)
def query_order(order_id: str) -> str:
    gateway = _gateway()
    return services.query_order(uuid.UUID(order_id), gateway) if gateway else "payments off"


@celery.task(name="payments.query_unpaid")
def query_unpaid(now: str | None = None) -> int:
    """Orders still unpaid a few minutes after their prepay: asked about (their notify may be lost)."""
    gateway = _gateway()
    return services.query_unpaid(services.current_settings(), gateway, _now(now)) if gateway else 0


@celery.task(name="payments.close_expired")
def close_expired(now: str | None = None) -> int:
    """Orders past their time to pay: closed at WeChat Pay, then here."""
    gateway = _gateway()
    return services.close_expired(gateway, _now(now)) if gateway else 0


@celery.task(name="payments.sweep")
def sweep(now: str | None = None) -> dict[str, int]:
    """Refunds not acknowledged or still processing, and closings WeChat Pay was not told of."""
    gateway = _gateway()
    return services.sweep(services.current_settings(), gateway, _now(now)) if gateway else {}


@celery.task(name="payments.reconcile")
def reconcile(bill_date: str | None = None, now: str | None = None) -> str:
    """Yesterday's bill (once; the beat runs it hourly through the day until the bill is there), or the day
    named (again, whether done or not)."""
    gateway = _gateway()
    if gateway is None:
        return "payments off"
    if bill_date is None:
        return reconciliation.reconcile_due(gateway, _now(now))
    result = reconciliation.reconcile(date.fromisoformat(bill_date), gateway)
    return f"{bill_date}: {result.differences if result else 0} differences"
