"""Tasks other domains hand to volunteers, through their signals (subscribed in the manifest; none of those
domains imports this one):

- an alarm next door (`alerts.volunteers-needed`): an unacknowledged critical alert reached the volunteers step of
  its chain. An urgent task is made at the elder's home and offered to the nearest on-duty volunteers within
  `VOLUNTEERS_ALERT_RADIUS_M` (at most `VOLUNTEERS_ALERT_OFFER_COUNT`, by the location they shared going on duty,
  else their home estate); the first `VOLUNTEERS_ALERT_ACCEPT_COUNT` to accept get the address and the elder's
  notes, the others are stood down. Staff were told by the chain itself. When the alarm is acknowledged or
  resolved (`alerts.alert-closed`), the task is handled: whoever has not arrived is told not to come.
- an event asking for helpers (`events.helpers-requested`), and an event cancelled (`events.event-cancelled`).

Each receiver runs inside the sender's unit of work: the task and its messages commit with the step that caused
them, or not at all. A signal delivered twice finds the task it made the first time (one task per source).
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import func, or_, select

from api.accounts.models import Area, Room, User
from api.alerts import rules as alert_rules
from api.alerts.models import Alert, Severity
from api.config import Settings
from api.db import db, utcnow
from api.eldercare.models import Elder
from api.events.models import Event
from api.extensions import get_settings
from api.fields import local_text
from api.notifications.services import notify
from api.volunteers import places, roster, services, states
from api.volunteers.models import (
    CheckinRule,
    Profile,
    ProfileStatus,
    Signup,
    SignupStatus,
    Task,
    TaskKind,
    TaskSource,
    TaskStatus,
)

ALERT_GEOFENCE_M = 100


def _settings() -> Settings:
    """The running app's settings; outside an app (a script driving the alert engine), the environment's."""
    from flask import has_app_context

    return get_settings() if has_app_context() else Settings.from_env()


def _existing(source: TaskSource, ref: str) -> Task | None:
    return db.session.scalar(select(Task).where(Task.source == source, Task.source_ref == ref))


def _home(alert: Alert) -> tuple[Room | None, Elder | None]:
    elder = db.session.get(Elder, alert.elder_id) if alert.elder_id else None
    room = db.session.get(Room, alert.room_id) if alert.room_id else None
    if room is None and alert.device.room is not None:
        room = alert.device.room
    if room is None and elder is not None:
        room = elder.room
    return room, elder


def nearest_on_duty(lat: float, lng: float, radius_m: int, limit: int, exclude: set[Any]) -> list[tuple[Profile, int]]:
    """On-duty approved volunteers within `radius_m` of (lat, lng), nearest first: each where they said they were
    when going on duty, else at their home estate."""
    estate = Area.__table__.alias("home_estate")
    at_lat = func.coalesce(Profile.duty_lat, estate.c.lat)
    at_lng = func.coalesce(Profile.duty_lng, estate.c.lng)
    min_lat, min_lng, max_lat, max_lng = places.box(lat, lng, radius_m)
    rows = db.session.execute(
        select(Profile, at_lat, at_lng)
        .outerjoin(estate, estate.c.id == Profile.home_estate_id)
        .join(User, User.id == Profile.user_id)
        .where(
            Profile.on_duty.is_(True),
            Profile.status == ProfileStatus.APPROVED,
            User.is_active.is_(True),
            at_lat.between(min_lat, max_lat),
            at_lng.between(min_lng, max_lng),
        )
    ).all()
    found = []
    for profile, p_lat, p_lng in rows:
        if profile.user_id in exclude:
            continue
        distance = places.distance_m(lat, lng, p_lat, p_lng)
        if distance <= radius_m:
            found.append((profile, round(distance)))
    found.sort(key=lambda pair: (pair[1], str(pair[0].id)))
    return found[:limit]


def on_volunteers_needed(alert: Alert, step: Any = None, now: datetime | None = None, **_: Any) -> Task | None:
    """An alarm nobody acknowledged: an urgent task at the elder's home, offered to the nearest on-duty volunteers."""
    if alert.severity != Severity.CRITICAL:
        return None  # warnings (blood pressure, a door not opened) wait for staff; a volunteer goes for alarms
    existing = _existing(TaskSource.ALERT, str(alert.id))
    if existing is not None:
        return existing
    settings = _settings()
    now = now or utcnow()
    room, elder = _home(alert)
    if room is None:
        return None
    estate = places.estate_of(room.building)
    point = places.point_of(room.building)
    what = alert_rules.RULE_NAMES_ZH.get(alert.rule, alert.rule.value)
    task = Task(
        title=f"紧急上门：{(estate.name if estate else room.building.name)}{what}",
        kind=TaskKind.ALERT_RESPONSE,
        description=(
            f"{local_text(alert.first_at)} {what}，家属与工作人员均未确认。请尽快上门查看，必要时拨打 119/120。"
        ),
        area_id=(estate or room.building).id,
        address=room.address,
        door_notes=(f"{elder.name}：{elder.conditions}" if elder is not None else ""),
        lat=point[0] if point else None,
        lng=point[1] if point else None,
        starts_at=now,
        ends_at=now + timedelta(minutes=settings.volunteers_alert_task_minutes),
        slots=max(settings.volunteers_alert_accept_count, 1),
        waitlist_limit=0,
        checkin_rule=CheckinRule.GEOFENCE if point else CheckinRule.OWNER_CODE,
        geofence_radius_m=ALERT_GEOFENCE_M,
        checkin_code=services.six_digits(),
        source=TaskSource.ALERT,
        source_ref=str(alert.id),
        status=TaskStatus.OPEN,
        urgent=True,
        coins=True,
        cancel_cutoff_minutes=0,
    )
    db.session.add(task)
    db.session.flush()
    if point is None:
        return task  # nowhere to measure from: staff (told by the chain) send someone
    exclude = {elder.user_id} if elder is not None and elder.user_id else set()
    nearby = nearest_on_duty(
        point[0], point[1], settings.volunteers_alert_radius_m, settings.volunteers_alert_offer_count, exclude
    )
    for profile, distance in nearby:
        offer = Signup(task_id=task.id, user_id=profile.user_id, offered_distance_m=distance)
        states.enter(offer, task, SignupStatus.OFFERED, now)
        db.session.add(offer)
        db.session.flush()
        assert profile.user is not None
        notify(
            profile.user,
            "volunteer_alert_offer",
            {
                **services.coarse_context(task),
                "alert_type": what,
                "distance": distance,
                "slots": task.slots,
                "occurred_at": alert.first_at,
            },
            subject_path=task.area.path,
            dedupe_key=f"volunteer-offer:{task.id}",
        )
    return task


def on_alert_closed(alert: Alert, now: datetime | None = None, **_: Any) -> Task | None:
    """The alarm was acknowledged or resolved: its task is handled, and nobody still on the way needs to go."""
    task = _existing(TaskSource.ALERT, str(alert.id))
    if task is None:
        return None
    task = services.lock_task(task.id)
    if task.status != TaskStatus.OPEN:
        return task
    states.move_task(task, TaskStatus.HANDLED)
    roster.stand_down(task, now or utcnow(), "报警已有人确认处理。", including_confirmed=True)
    db.session.flush()
    return task


# ------------------------------------------------------------------------------------------------
# Events
# ------------------------------------------------------------------------------------------------


def on_helpers_requested(
    event: Event, slots: int = 1, note: str = "", requested_by: User | None = None, **_: Any
) -> dict[str, Any]:
    """Staff of an event ask for helpers: one task for the event (asking again raises its places)."""
    settings = _settings()
    task = _existing(TaskSource.EVENT, str(event.id))
    if task is not None:
        if task.status == TaskStatus.OPEN and slots > task.slots:
            locked = services.lock_task(task.id)
            locked.slots = slots
            db.session.flush()
            roster.promote(locked, settings, utcnow())
        return {"volunteer_task_id": str(task.id), "volunteer_slots": task.slots}
    task = Task(
        title=f"活动志愿者：{event.title}"[:64],
        kind=TaskKind.EVENT_HELP,
        description=note or f"协助「{event.title}」的签到、引导与秩序维护。",
        area_id=event.area_id,
        address=event.venue,
        starts_at=event.starts_at - timedelta(hours=1),
        ends_at=event.ends_at,
        slots=slots,
        waitlist_limit=slots,
        checkin_rule=CheckinRule.OWNER_CODE,
        checkin_code=services.six_digits(),
        source=TaskSource.EVENT,
        source_ref=str(event.id),
        status=TaskStatus.OPEN,
        coins=False,
        cancel_cutoff_minutes=settings.volunteers_cancel_cutoff_minutes,
        owner_id=requested_by.id if requested_by is not None else None,
        created_by_id=requested_by.id if requested_by is not None else None,
    )
    db.session.add(task)
    db.session.flush()
    return {"volunteer_task_id": str(task.id), "volunteer_slots": task.slots}


def on_event_cancelled(event: Event, **_: Any) -> None:
    task = _existing(TaskSource.EVENT, str(event.id))
    if task is None or task.status != TaskStatus.OPEN:
        return
    task = services.lock_task(task.id)
    states.move_task(task, TaskStatus.CANCELLED)
    task.cancel_reason = "活动已取消"
    now = utcnow()
    for signup in db.session.scalars(
        select(Signup).where(
            Signup.task_id == task.id,
            or_(Signup.status == SignupStatus.CONFIRMED, Signup.status == SignupStatus.WAITLISTED),
        )
    ):
        states.move(signup, SignupStatus.CANCELLED, now)
        if signup.user is not None:
            notify(
                signup.user,
                "volunteer_task_cancelled",
                {**services.coarse_context(task), "reason": "活动已取消。"},
                subject_path=task.area.path,
                dedupe_key=f"volunteer-task-cancelled:{task.id}",
            )
    db.session.flush()
