"""Live streams and replays of community events (线上观看及回看): signed push/play URLs, the stream
server's callbacks, and viewing figures from the mini-program's heartbeats."""

from api.platform import Domain

domain = Domain(
    name="live",
    description="live streams and replays of events",
    routes="api.live.routes",
    models=("api.live.models",),
    tasks="api.live.tasks",
    beat={"end-abandoned-live-sessions": {"task": "live.end_abandoned", "schedule": 600.0}},
    errors="api.live.errors:ERRORS",
    receivers=(("api.events.signals:figures_requested", "api.live.receivers:viewers_of_event"),),
    personal_data="api.live.personal:personal_data",
)
