"""Periodic jobs of alerts: the escalation chain, and the sweeps for silent devices and shut doors.

Each takes an optional `now` (ISO 8601) so a test or an operator can run it "as of" a moment instead
of waiting minutes for the clock.
"""

from __future__ import annotations

from datetime import UTC, datetime

from api.alerts import ingestion, services
from api.db import utcnow
from api.extensions import celery, get_settings


def _moment(now: str | None) -> datetime:
    if now is None:
        return utcnow()
    moment = datetime.fromisoformat(now)
    return moment.astimezone(UTC) if moment.tzinfo else moment.replace(tzinfo=UTC)


@celery.task(name="alerts.escalate", ignore_result=True)
def escalate(now: str | None = None) -> int:
    """Next step for every unacknowledged alert that is due; each step once."""
    return services.escalate_due(get_settings(), _moment(now))


@celery.task(name="alerts.sweep_devices", ignore_result=True)
def sweep_devices(now: str | None = None) -> dict[str, int]:
    """Devices past twice their heartbeat go offline (notice); door sensors shut too long (warning, daytime)."""
    moment, settings = _moment(now), get_settings()
    return {
        "offline": services.sweep_offline(settings, moment),
        "door_inactivity": services.sweep_door_inactivity(settings, moment),
    }


@celery.task(name="alerts.forget_old_batch_receipts", ignore_result=True)
def forget_old_batch_receipts(now: str | None = None) -> int:
    """Receipts of signed batches older than any signature could still be accepted (the replay guard)."""
    return ingestion.forget_old_receipts(get_settings(), _moment(now))
