"""Volunteers (志愿者): profiles staff approve, groups with leaders, the task list and sign-ups that never overbook,
on-site check-in, hours and time coins in append-only ledgers, certificates anyone can verify, leaderboards — and
answering an alarm next door.

Other domains hand tasks over through their signals (alerts: an alarm nobody acknowledged, and its end; events: staff
asking for helpers, an event cancelled; party: a working member registered with the community, and the service
hours it reports on); none of them imports this one."""

from api.platform import Domain

domain = Domain(
    name="volunteers",
    description="volunteer profiles, groups, tasks, sign-ups, hours and time coins",
    routes="api.volunteers.routes",
    models=("api.volunteers.models",),
    tasks="api.volunteers.tasks",
    beat={
        "volunteer-reminders": {"task": "volunteers.send_reminders", "schedule": 300.0},
        "volunteer-sweep": {"task": "volunteers.sweep", "schedule": 300.0},
    },
    errors="api.volunteers.errors:ERRORS",
    messages="api.volunteers.messages:MESSAGES",
    receivers=(
        ("api.alerts.signals:volunteers_needed", "api.volunteers.alarms:on_volunteers_needed"),
        ("api.alerts.signals:alert_closed", "api.volunteers.alarms:on_alert_closed"),
        ("api.events.signals:helpers_requested", "api.volunteers.alarms:on_helpers_requested"),
        ("api.events.signals:event_cancelled", "api.volunteers.alarms:on_event_cancelled"),
        ("api.party.signals:registration_confirmed", "api.volunteers.party:on_registration_confirmed"),
        ("api.party.signals:service_hours_requested", "api.volunteers.party:on_service_hours_requested"),
    ),
    seed="api.volunteers.seed:seed_demo",
    personal_data="api.volunteers.personal:personal_data",
)
