"""The beat schedule: periodic jobs of every domain, in one place."""

from __future__ import annotations

from celery.schedules import crontab

BEAT_SCHEDULE = {
    "escalate-alerts": {
        "task": "alerts.escalate",
        "schedule": 30.0,
    },
    "sweep-alert-devices": {
        "task": "alerts.sweep_devices",
        "schedule": 300.0,
    },
    "forget-old-iot-batch-receipts": {
        "task": "alerts.forget_old_batch_receipts",
        "schedule": crontab(minute=23),
    },
    # Incidents: escalate overdue cases (level 1 at due, level 2 at due + half the limit) and
    # auto-close resolved cases unrated for INCIDENTS_AUTO_CLOSE_DAYS; idempotent (SKIP LOCKED).
    "incidents-sla-sweep": {
        "task": "incidents.sla_sweep",
        "schedule": 300.0,
    },
    "event-reminders": {
        "task": "events.send_reminders",
        "schedule": 300.0,
    },
    "end-abandoned-live-sessions": {
        "task": "live.end_abandoned",
        "schedule": 600.0,
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
