"""What incidents hold about a person: the cases they reported and followed, and what they wrote on them
(feedback). Erasing them keeps each case — the city's statistics and the public Open311 record count it —
but without its reporter: the case loses the link to them and their own feedback words; the notes of the
timeline they wrote themselves lose their author and text. (Their photos go with media.)"""

from __future__ import annotations

from typing import Any

from sqlalchemy import delete, select, update

from api.accounts.models import User
from api.db import db
from api.incidents.models import Incident, IncidentEvent, IncidentFollower
from api.personaldata import PersonalData, forget, record

personal_data = PersonalData(
    categories=("随手拍上报及评价", "关注的问题"),
    covers=(
        "incidents.reporter_id",
        "incidents.description",
        "incidents.address",
        "incidents.status_note",
        "incidents.feedback_comment",
        "incidents.assignee_id",
        "incident_events.actor_id",
        "incident_events.note",
        "incident_followers.user_id",
    ),
    export="api.incidents.personal:export",
    erase="api.incidents.personal:erase",
)


def export(user: User) -> dict[str, Any]:
    reports = db.session.scalars(select(Incident).where(Incident.reporter_id == user.id).order_by(Incident.id)).all()
    follows = db.session.scalars(select(IncidentFollower.incident_id).where(IncidentFollower.user_id == user.id)).all()
    return {
        "reports": [
            {
                "category": i.category.name_zh,
                **record(i, "id", "description", "address", "lat", "lng", "status", "created_at", "closed_at"),
                **record(i, "feedback_score", "feedback_comment", "feedback_at"),
            }
            for i in reports
        ],
        "following": [str(incident_id) for incident_id in follows],
    }


def erase(user: User) -> None:
    db.session.execute(
        update(Incident).where(Incident.reporter_id == user.id).values(reporter_id=None, feedback_comment=None)
    )
    # What they wrote on a timeline (their feedback) goes; staff's own entries only lose nothing.
    db.session.execute(update(IncidentEvent).where(IncidentEvent.actor_id == user.id).values(actor_id=None, note=None))
    db.session.execute(delete(IncidentFollower).where(IncidentFollower.user_id == user.id))
    forget(Incident.assignee_id, user.id)
    db.session.flush()
