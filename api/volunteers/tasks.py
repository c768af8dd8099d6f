"""Periodic jobs of volunteers: reminders that ask for a confirmation, and the sweep — unconfirmed places released,
expired reservations opened to everyone, forgotten check-outs closed and flagged. Each takes `now` (ISO 8601) so a
test or an operator can run it "as of" a moment."""

from __future__ import annotations

from datetime import UTC, datetime

from api.db import utcnow
from api.extensions import celery, get_settings
from api.volunteers import roster


def _moment(now: str | None) -> datetime:
    if now is None:
        return utcnow()
    moment = datetime.fromisoformat(now)
    return moment.astimezone(UTC) if moment.tzinfo else moment.replace(tzinfo=UTC)


@celery.task(name="volunteers.send_reminders", ignore_result=True)
def send_reminders(now: str | None = None) -> int:
    """Ask the confirmed to confirm, once, a while before their task."""
    return roster.send_reminders(get_settings(), _moment(now))


@celery.task(name="volunteers.sweep", ignore_result=True)
def sweep(now: str | None = None) -> dict[str, int]:
    """Unconfirmed places released, expired reservations reopened, forgotten check-outs closed."""
    moment, settings = _moment(now), get_settings()
    return {
        "released": roster.release_unconfirmed(settings, moment),
        "reopened": roster.reopen_reservations(settings, moment),
        "checkouts_closed": roster.close_forgotten_checkouts(settings, moment),
    }
