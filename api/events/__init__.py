"""Events (智慧文体): events with capacity, booking windows, eligibility, waitlist, tickets and check-in,
no-show policy, reminders, figures and turnout estimates."""

from api.platform import Domain

domain = Domain(
    name="events",
    description="events, bookings, waitlist, tickets and check-in",
    routes="api.events.routes",
    models=("api.events.models",),
    tasks="api.events.tasks",
    beat={"event-reminders": {"task": "events.send_reminders", "schedule": 300.0}},
    errors="api.events.errors:ERRORS",
    messages="api.events.messages:MESSAGES",
    media_visibility={"event": "api.events.services:may_see_event_photos"},
    personal_data="api.events.personal:personal_data",
)
