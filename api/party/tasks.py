"""Party affairs' periodic jobs: meetings whose sign-in window closed (absences written), letters whose time is
up (transfers expire), dues reminders on the configured days, the six-month unpaid flag, service hours turned
into points, and the quarter's hours report for the workplace branches. Each takes `now` (ISO) for tests and
operators, and is safe to run again."""

from __future__ import annotations

from datetime import datetime

from api.extensions import celery
from api.party import dues, meetings, registrations, transfers
from api.party.members import settings


def _now(now: str | None) -> datetime | None:
    return datetime.fromisoformat(now) if now else None


@celery.task(name="party.close_meetings")
def close_meetings(now: str | None = None) -> int:
    return meetings.close_meetings(settings(), _now(now))


@celery.task(name="party.expire_transfers")
def expire_transfers(now: str | None = None) -> int:
    return transfers.expire(_now(now))


@celery.task(name="party.dues_reminders")
def dues_reminders(now: str | None = None) -> int:
    return dues.remind(settings(), _now(now))


@celery.task(name="party.flag_unpaid_dues")
def flag_unpaid_dues(now: str | None = None) -> int:
    return dues.flag_unpaid(settings(), _now(now))


@celery.task(name="party.report_hours")
def report_hours(now: str | None = None) -> int:
    return registrations.report_quarter(_now(now))


@celery.task(name="party.award_service_hours")
def award_service_hours(now: str | None = None) -> int:
    return registrations.award_service_hours(_now(now))
