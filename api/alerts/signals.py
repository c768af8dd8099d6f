"""What the alert engine tells the domains above it (volunteers, who may answer an alarm next door),
which subscribe in their manifests; alerts imports none of them. Sent inside the unit of work of the
escalation step, so what a receiver writes (a task for volunteers) commits with the step."""

from __future__ import annotations

from blinker import Namespace

_signals = Namespace()

volunteers_needed = _signals.signal(
    "alerts.volunteers-needed",
    doc=(
        "An unacknowledged alarm reached the volunteers step of its chain: `send(alert, step=…, now=…)`. "
        "Until a volunteers domain subscribes, staff in scope are told volunteers are needed."
    ),
)
alert_closed = _signals.signal(
    "alerts.alert-closed",
    doc=(
        "Someone acknowledged or resolved an alert: `send(alert, now=…, how='acknowledged'|'resolved')`, once each. "
        "Volunteers: the alarm's task is handled, and whoever has not arrived is told not to come."
    ),
)
