"""The beat's jobs of aids lending: reservations not picked up expire, borrowers are reminded before the due date,
overdue loans go to the station's staff. Each takes `now` (ISO) for tests and operators, and is safe to run twice
at once (row locks, conditional UPDATEs and dedupe keys)."""

from __future__ import annotations

from datetime import UTC, datetime

from api.aids import services
from api.db import utcnow
from api.extensions import celery


def _moment(now: str | None) -> datetime:
    if now is None:
        return utcnow()
    moment = datetime.fromisoformat(now)
    return moment.astimezone(UTC) if moment.tzinfo else moment.replace(tzinfo=UTC)


@celery.task(name="aids.expire_reservations", ignore_result=True)
def expire_reservations(now: str | None = None) -> int:
    return services.expire_reservations(_moment(now))


@celery.task(name="aids.remind_due", ignore_result=True)
def remind_due(now: str | None = None) -> int:
    return services.remind_due(_moment(now))


@celery.task(name="aids.escalate_overdue", ignore_result=True)
def escalate_overdue(now: str | None = None) -> int:
    return services.escalate_overdue(_moment(now))
