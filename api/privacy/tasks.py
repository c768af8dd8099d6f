"""Privacy's jobs: build an export (after the request commits), erase people whose cooling-off period is
over (hourly), and apply retention (daily). Each takes an optional `now` (ISO 8601) for tests and
operators."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime

from api.db import utcnow
from api.extensions import celery, get_settings
from api.media.storage import get_storage
from api.privacy import services


def _moment(now: str | None) -> datetime:
    if now is None:
        return utcnow()
    moment = datetime.fromisoformat(now)
    return moment.astimezone(UTC) if moment.tzinfo else moment.replace(tzinfo=UTC)


@celery.task(name="privacy.build_export", acks_late=True)
def build_export(export_id: str) -> None:
    services.build_export(uuid.UUID(export_id), get_storage(), get_settings())


@celery.task(name="privacy.erase_due")
def erase_due(now: str | None = None) -> int:
    return services.erase_due(_moment(now))


@celery.task(name="privacy.apply_retention", ignore_result=True)
def apply_retention(now: str | None = None) -> dict[str, int]:
    return services.apply_retention(get_settings(), get_storage(), _moment(now))
