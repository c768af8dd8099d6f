"""Daily meal plans' beat job: order each plan's meals for the next CARE_MEAL_DAYS_AHEAD days (`now` in ISO for
tests and operators). Safe to run twice at once: the route's row lock and the unique index of live meal orders
(`INSERT … ON CONFLICT DO NOTHING`) create each order once."""

from __future__ import annotations

from datetime import UTC, datetime

from api.care import meal_services
from api.care import tasks as care_tasks  # noqa: F401 (the manifest names this module: care's tasks register too)
from api.db import utcnow
from api.extensions import celery


def _moment(now: str | None) -> datetime:
    if now is None:
        return utcnow()
    moment = datetime.fromisoformat(now)
    return moment.astimezone(UTC) if moment.tzinfo else moment.replace(tzinfo=UTC)


@celery.task(name="care.order_meal_plans", ignore_result=True)
def order_meal_plans(now: str | None = None, days_ahead: int | None = None) -> dict[str, int]:
    return meal_services.generate(_moment(now), days_ahead=days_ahead).as_dict()
