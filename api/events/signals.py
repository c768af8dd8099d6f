"""What the events domain tells the domains above it (live streams, volunteers, and the party domain
to come), which subscribe in their manifests; events imports none of them. Sent inside the unit of work
of the change they report."""

from __future__ import annotations

from blinker import Namespace

_signals = Namespace()

figures_requested = _signals.signal(
    "events.figures-requested",
    doc=(
        "Staff asked for an event's figures: `send(event)`. A receiver returns a dict of figures it adds "
        "(live: `{'viewers': {'live': n, 'replay': n}}`)."
    ),
)
booking_cancelled = _signals.signal(
    "events.booking-cancelled",
    doc="A resident (or staff) cancelled a booking: `send(booking)`, after the seat went back or to the waitlist.",
)
event_cancelled = _signals.signal(
    "events.event-cancelled",
    doc="Staff cancelled an event: `send(event)`, after every booking was cancelled and the bookers told.",
)
helpers_requested = _signals.signal(
    "events.helpers-requested",
    doc=(
        "Staff ask for volunteers to help at an event: `send(event, slots=n, note=…, requested_by=staff)`. A receiver "
        "returns a dict of what it did (volunteers: `{'volunteer_task_id': …, 'volunteer_slots': n}`)."
    ),
)
