"""What live streams hold about a person: when they watched which event, live or on replay."""

from __future__ import annotations

from typing import Any

from sqlalchemy import delete, select

from api.accounts.models import User
from api.db import db
from api.live.models import LiveSession, ViewerMinute, ViewingSession
from api.personaldata import PersonalData, forget, record

personal_data = PersonalData(
    categories=("直播与回看观看记录",),
    covers=("viewing_sessions.user_id", "viewer_minutes.user_id", "live_sessions.created_by_id"),
    export="api.live.personal:export",
    erase="api.live.personal:erase",
)


def export(user: User) -> dict[str, Any]:
    sessions = db.session.scalars(
        select(ViewingSession).where(ViewingSession.user_id == user.id).order_by(ViewingSession.started_at)
    ).all()
    return {
        "viewing": [
            record(v, "live_session_id", "mode", "started_at", "last_heartbeat_at", "watched_seconds") for v in sessions
        ]
    }


def erase(user: User) -> None:
    db.session.execute(delete(ViewerMinute).where(ViewerMinute.user_id == user.id))
    db.session.execute(delete(ViewingSession).where(ViewingSession.user_id == user.id))
    forget(LiveSession.created_by_id, user.id)
