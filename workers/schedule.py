"""The beat schedule: periodic jobs of every domain, in one place."""

from __future__ import annotations

from celery.schedules import crontab

BEAT_SCHEDULE = {
    "event-reminders": {
        "task": "events.send_reminders",
        "schedule": 300.0,
    },
    "sweep-notifications": {
        "task": "notifications.sweep",
        "schedule": 60.0,
    },
    "purge-expired-credentials": {
        "task": "accounts.purge_expired_credentials",
        "schedule": crontab(minute=17),
    },
    "purge-unattached-media": {
        "task": "media.purge_unattached",
        "schedule": crontab(minute=43),
    },
    "sweep-thumbnails": {
        "task": "media.sweep_thumbnails",
        "schedule": 600.0,
    },
}
