"""Device alerts (设备报警): signed IoT ingestion, rules, one alert per incident, the escalation chain,
acknowledgement, and the family's home screen (elders with devices and recent alerts)."""

from celery.schedules import crontab

from api.platform import Domain

domain = Domain(
    name="alerts",
    description="IoT ingestion, alert rules, escalation chains",
    routes="api.alerts.routes",
    models=("api.alerts.models",),
    tasks="api.alerts.tasks",
    beat={
        "escalate-alerts": {"task": "alerts.escalate", "schedule": 30.0},
        "sweep-alert-devices": {"task": "alerts.sweep_devices", "schedule": 300.0},
        "forget-old-iot-batch-receipts": {"task": "alerts.forget_old_batch_receipts", "schedule": crontab(minute=23)},
    },
    errors="api.alerts.errors:ERRORS",
    messages="api.alerts.messages:MESSAGES",
    personal_data="api.alerts.personal:personal_data",
)
