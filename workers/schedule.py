"""The beat schedule: periodic jobs of every domain, in one place."""

from __future__ import annotations

from celery.schedules import crontab

BEAT_SCHEDULE = {
    "sweep-notifications": {
        "task": "notifications.sweep",
        "schedule": 60.0,
    },
    "purge-expired-credentials": {
        "task": "accounts.purge_expired_credentials",
        "schedule": crontab(minute=17),
    },
}
