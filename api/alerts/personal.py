"""What the alert engine holds about a person: when they were told of an alarm, which alarms they
acknowledged or resolved and what they wrote, and (staff) their duty shifts. Erasing a family member
keeps every alert in the elder's care record — the timeline still says the first contact was told at
14:02 — but no longer says who: their id and the words they wrote go."""

from __future__ import annotations

from typing import Any

from sqlalchemy import delete, or_, select, update

from api.accounts.models import User
from api.alerts.models import Alert, AlertStep, DutyShift, StepKind
from api.db import db
from api.personaldata import PersonalData, forget, record

personal_data = PersonalData(
    categories=("设备报警通知与处理记录", "值班记录"),
    covers=(
        "alerts.acknowledged_by_id",
        "alerts.resolved_by_id",
        "alerts.resolution_note",
        "alert_steps.user_id",
        "alert_steps.note",
        "duty_shifts.user_id",
        "duty_shifts.created_by_id",
    ),
    export="api.alerts.personal:export",
    erase="api.alerts.personal:erase",
)


def export(user: User) -> dict[str, Any]:
    steps = db.session.scalars(select(AlertStep).where(AlertStep.user_id == user.id).order_by(AlertStep.at)).all()
    handled = db.session.scalars(
        select(Alert).where(or_(Alert.acknowledged_by_id == user.id, Alert.resolved_by_id == user.id))
    ).all()
    return {
        "told_or_acted": [record(s, "alert_id", "kind", "level", "note", "at") for s in steps],
        "alerts_handled": [
            record(
                a,
                "id",
                "rule",
                "severity",
                "first_at",
                "acknowledged_at",
                "resolved_at",
                "resolution",
                "resolution_note",
            )
            for a in handled
        ],
    }


def erase(user: User) -> None:
    db.session.execute(
        update(Alert).where(Alert.resolved_by_id == user.id).values(resolved_by_id=None, resolution_note=None)
    )
    forget(Alert.acknowledged_by_id, user.id)
    # A resolution's words are on its step too; "told as the first contact" says nothing of who.
    db.session.execute(
        update(AlertStep)
        .where(AlertStep.user_id == user.id, AlertStep.kind.in_((StepKind.ACKNOWLEDGED, StepKind.RESOLVED)))
        .values(note="")
    )
    db.session.execute(update(AlertStep).where(AlertStep.user_id == user.id).values(user_id=None))
    db.session.execute(delete(DutyShift).where(DutyShift.user_id == user.id))
    forget(DutyShift.created_by_id, user.id)
    db.session.flush()
