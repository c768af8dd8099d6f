"""How live streams join in what other domains report (their signals, subscribed in the manifest)."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select

from api.db import db
from api.events.models import Event
from api.live.models import LiveSession
from api.live.services import figures_of


def viewers_of_event(event: Event, **_: Any) -> dict[str, Any]:
    """Unique viewers of the event's live stream and of its replays (0 without a live session)."""
    session_id = db.session.scalar(select(LiveSession.id).where(LiveSession.event_id == event.id))
    if session_id is None:
        return {"viewers": {"live": 0, "replay": 0}}
    return {"viewers": {mode: figures.unique_viewers for mode, figures in figures_of(session_id).items()}}
