"""Notifications: the one outbox for every message to a person, its delivery by the Official Account
template and the mini-program subscribe message (with one-time credits), and the in-app inbox."""

from api.platform import Domain

domain = Domain(
    name="notifications",
    description="the outbox, WeChat delivery, subscribe-message credits, the inbox",
    routes="api.notifications.routes",
    models=("api.notifications.models",),
    tasks="api.notifications.tasks",
    beat={
        "sweep-notifications": {"task": "notifications.sweep", "schedule": 60.0},
        # Alarms whose deliverer died mid-send are sent again within seconds (their lease is short).
        "sweep-alarm-notifications": {"task": "notifications.sweep_alarms", "schedule": 5.0},
    },
    messages="api.notifications.messages:MESSAGES",
    receivers=(
        ("api.accounts.signals:household_request_decided", "api.notifications.receivers:tell_household_applicant"),
    ),
    personal_data="api.notifications.personal:personal_data",
)
