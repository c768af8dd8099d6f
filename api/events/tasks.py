"""Periodic jobs of events: reminders before an event starts."""

from __future__ import annotations

from api.events import services
from api.extensions import celery


@celery.task(name="events.send_reminders", ignore_result=True)
def send_reminders() -> int:
    """Remind confirmed bookers the day before and an hour before; each reminder once."""
    return services.send_reminders()
