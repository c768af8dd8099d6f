"""The beat's jobs of elderly services: offers nobody answered go back to dispatch, workers who never came are
reported and their orders re-dispatched, staff told of a missed door nobody of the family answered for in time,
unconfirmed visits confirm themselves. Each takes `now` (ISO) for tests
and operators."""

from __future__ import annotations

from datetime import UTC, datetime

from api.care import dispatch, visits
from api.db import utcnow
from api.extensions import celery


def _moment(now: str | None) -> datetime:
    if now is None:
        return utcnow()
    moment = datetime.fromisoformat(now)
    return moment.astimezone(UTC) if moment.tzinfo else moment.replace(tzinfo=UTC)


@celery.task(name="care.expire_offers", ignore_result=True)
def expire_offers(now: str | None = None) -> int:
    return dispatch.expire_offers(_moment(now))


@celery.task(name="care.no_shows", ignore_result=True)
def no_shows(now: str | None = None) -> int:
    return visits.no_shows(_moment(now))


@celery.task(name="care.auto_confirm", ignore_result=True)
def auto_confirm(now: str | None = None) -> int:
    return visits.auto_confirm(_moment(now))


@celery.task(name="care.welfare_escalate", ignore_result=True)
def welfare_escalate(now: str | None = None) -> int:
    return visits.escalate_welfare(_moment(now))
