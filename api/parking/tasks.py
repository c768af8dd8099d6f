"""Parking's jobs: what follows a commit (an allow-list line to a gate system, an unpaid order withdrawn) and
the beat's — lapsed holds freed, no-shows released, the T−15 min overstay warning, magnetometers debounced and
silent ones turned unknown, the nightly allow-list reconciliation, old replay receipts forgotten. Each takes
`now` (ISO) where time matters, for tests and operators."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime

from api import signedbatch
from api.db import utcnow
from api.extensions import celery, get_settings
from api.parking import gates, sensors, services
from api.parking.models import ParkingBatchReceipt


def _moment(now: str | None) -> datetime:
    if now is None:
        return utcnow()
    moment = datetime.fromisoformat(now)
    return moment.astimezone(UTC) if moment.tzinfo else moment.replace(tzinfo=UTC)


@celery.task(name="parking.push_allowlist", ignore_result=True, acks_late=True)
def push_allowlist(kind: str, record_id: str) -> str:
    return gates.push_allowlist(kind, uuid.UUID(record_id), utcnow())


@celery.task(name="parking.close_order", ignore_result=True, acks_late=True)
def close_order(order_id: str) -> str:
    return services.close_order_later(uuid.UUID(order_id))


@celery.task(name="parking.expire_holds", ignore_result=True)
def expire_holds(now: str | None = None) -> int:
    """Held bookings and passes not paid in time free their time (and passes whose months are over end)."""
    return services.expire_holds(_moment(now))


@celery.task(name="parking.release_no_shows", ignore_result=True)
def release_no_shows(now: str | None = None) -> int:
    return services.release_no_shows(_moment(now))


@celery.task(name="parking.warn_overstay", ignore_result=True)
def warn_overstay(now: str | None = None) -> int:
    return gates.warn_overstay(_moment(now))


@celery.task(name="parking.sweep_sensors", ignore_result=True)
def sweep_sensors(now: str | None = None) -> int:
    return sensors.sweep(_moment(now))


@celery.task(name="parking.reconcile_allowlists", ignore_result=True)
def reconcile_allowlists(now: str | None = None) -> dict[str, int]:
    return gates.reconcile_all(_moment(now))


@celery.task(name="parking.forget_old_receipts", ignore_result=True)
def forget_old_receipts(now: str | None = None) -> int:
    """Replay receipts older than any signature could still be accepted, and quotes a day past their expiry
    (every availability search leaves one per lot; a booking copies what it needs of its quote)."""
    moment = _moment(now)
    window = get_settings().iot_replay_window_seconds
    return signedbatch.forget_old(ParkingBatchReceipt, window, moment) + services.forget_old_quotes(moment)
