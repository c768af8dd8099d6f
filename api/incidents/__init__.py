"""Incidents (随手拍 / 民情): reports, their handling cycle, SLA escalation, statistics."""

from api.platform import Domain

domain = Domain(
    name="incidents",
    description="citizen reports and their handling cycle",
    routes="api.incidents.routes",
    models=("api.incidents.models",),
    tasks="api.incidents.tasks",
    # Escalate overdue cases (level 1 at due, level 2 at due + half the limit) and auto-close resolved
    # cases unrated for INCIDENTS_AUTO_CLOSE_DAYS; idempotent (SKIP LOCKED).
    beat={"incidents-sla-sweep": {"task": "incidents.sla_sweep", "schedule": 300.0}},
    errors="api.incidents.errors:ERRORS",
    messages="api.incidents.messages:MESSAGES",
    media_visibility={
        "incident": "api.incidents.services:may_see",  # the reporter's photos
        "incident_result": "api.incidents.services:may_see",  # the handler's closing photos
    },
    seed="api.incidents.seed:seed_demo",
    personal_data="api.incidents.personal:personal_data",
)
