"""Periodic job of incidents: SLA escalation of overdue cases and auto-close of unrated resolved ones."""

from __future__ import annotations

from api.extensions import celery
from api.incidents import services


@celery.task(name="incidents.sla_sweep", ignore_result=True)
def sla_sweep() -> dict[str, int]:
    """Escalate overdue cases (each level once) and close resolved cases left unrated too long."""
    return {"escalated": services.escalate_overdue(), "auto_closed": services.auto_close()}
