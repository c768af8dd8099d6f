"""Workers' side of the outbox: deliver one message, and the sweep that re-enqueues what is due."""

from __future__ import annotations

import uuid

from flask import current_app

from api.extensions import celery, get_settings
from api.notifications import services


def senders() -> services.WechatSenders:
    """One pair of WeChat clients per process, so their access tokens are fetched once and shared."""
    app = current_app._get_current_object()
    if "linli.senders" not in app.extensions:
        app.extensions["linli.senders"] = services.WechatSenders(get_settings())
    return app.extensions["linli.senders"]


@celery.task(name="notifications.deliver", ignore_result=True, acks_late=True)
def deliver_notification(notification_id: str) -> str | None:
    """Deliver one outbox row (idempotent: a row delivered already, or locked by another worker, is left)."""
    status = services.deliver(uuid.UUID(notification_id), get_settings(), senders())
    return status.value if status else None


@celery.task(name="notifications.deliver_alarm", ignore_result=True, acks_late=True, reject_on_worker_lost=True)
def deliver_alarm(notification_id: str) -> str | None:
    """`deliver` for an alarm, on the `alerts` queue (api.jobs.ROUTES): acknowledged only once done, and
    given back to the queue if the worker process is lost mid-send."""
    status = services.deliver(uuid.UUID(notification_id), get_settings(), senders())
    return status.value if status else None


@celery.task(name="notifications.sweep_alarms", ignore_result=True)
def sweep_alarms() -> int:
    """Every few seconds: alarms due and not delivered (a deliverer killed mid-send, a lost task)."""
    return services.sweep_due_alarms()


@celery.task(name="notifications.sweep", ignore_result=True)
def sweep_notifications() -> int:
    """Re-enqueue rows that are due and not delivered: the broker lost them, or a worker died."""
    return services.sweep_due()
