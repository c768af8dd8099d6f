"""Alert rules in action: open one alert per incident, tell people in contact order, escalate what
nobody acknowledges, acknowledge and resolve, and the staff board, history and statistics.

`raise_alerts` is the one way an alert opens or repeats (ingestion and the sweeps call it): a single
`INSERT … ON CONFLICT DO UPDATE` against the partial unique index "one unresolved alert per (device,
rule)" — a repeat only counts, and only the statement that *inserted* the row tells anyone. Telling
people is `notify(...)` in the same transaction (the outbox), so an alert that commits is delivered.

The chain of an alert is: its elder's confirmed family contacts in order (only for an active elder who
consented to that kind of device), then the grid workers and staff on duty for its area (or, when no
shift covers it, the staff whose scope contains it), then volunteers nearby — there is no volunteer
domain yet, so that step is recorded on the timeline and the staff in scope are told volunteers are
needed. The chain follows people, not positions: the alert's timeline records whom it told (one
`notified_contact` step per person), and each step tells the first contact, in the contact order as it
is *now*, who has not been told — so a contact who left is passed over, one who joined is told in turn,
a reordering skips nobody and repeats nobody, and nobody is told twice. Staff come only once every
reachable contact was told (or none is reachable any more: consent withdrawn, the elder no longer
active), and are told whether the family was reached and is silent or there was no family to reach;
volunteers after staff; each of these once. A contact who joins after staff were told is left to the
family page. Level N means N steps were taken; the beat job takes the next one under a row lock (`SKIP
LOCKED`), and `notify`'s dedupe key `alert:<id>:level:<n>` keeps each step to one message even so.
Notices tell the family only and never escalate; acknowledging stops the chain.
"""

from __future__ import annotations

import logging
import uuid
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Float, Select, and_, case, func, insert, select, text, tuple_, type_coerce, update
from sqlalchemy.dialects import postgresql
from sqlalchemy.orm.attributes import set_committed_value

from api import dialect, scope
from api.accounts.models import Area, Role, Room, User, UserRole
from api.alerts import rules, signals
from api.alerts.models import (
    Alert,
    AlertRule,
    AlertStatus,
    AlertStep,
    DutyShift,
    IotEvent,
    Resolution,
    Severity,
    StepKind,
)
from api.config import Settings
from api.db import db, new_id
from api.devices.models import Device, DeviceStatus
from api.eldercare.models import BindingStatus, Elder, ElderStatus, FamilyBinding
from api.errors import ApiError, NotFound
from api.notifications.services import Outgoing, notify, notify_many

log = logging.getLogger(__name__)

_OUTBOX = "alerts.outbox"  # session.info: the first messages of the alerts `raise_alerts` is opening
ALERT_KIND = "device_alert"  # the catalogue's kind: Official Account template first, then subscribe, inbox
GRID_WORKER = getattr(Role, "GRID_WORKER", None)  # added by the incidents domain's migration
ESCALATION_BATCH = 200
SWEEP_BATCH = 2000
AUTO_CLOSED_NOTE = "已确认的报警超过重复窗口后再次触发，系统结案并开启新报警"
BACK_ONLINE_NOTE = "设备恢复在线"


def ancestor_paths(path: str) -> list[str]:
    """`/KJ/KJ01/KJ01-01/` → [`/KJ/`, `/KJ/KJ01/`, `/KJ/KJ01/KJ01-01/`]: the areas containing it."""
    parts = [p for p in path.split("/") if p]
    return ["/" + "/".join(parts[: i + 1]) + "/" for i in range(len(parts))]


# ------------------------------------------------------------------------------------------------
# Opening and repeating alerts
# ------------------------------------------------------------------------------------------------


@dataclass
class Raise:
    """Events of one device that hit one rule (already grouped: one row per (device, rule))."""

    device_id: uuid.UUID
    rule: AlertRule
    severity: Severity
    elder_id: uuid.UUID | None
    room_id: uuid.UUID | None
    area_path: str
    first_at: datetime
    last_at: datetime
    count: int = 1
    value: Any = None


@dataclass
class Raised:
    alert_id: uuid.UUID
    created: bool


def raise_alerts(raises: list[Raise], settings: Settings, now: datetime) -> dict[tuple[uuid.UUID, AlertRule], Raised]:
    """Open an alert per (device, rule), or count the repeats on the one already open; notify for new ones."""
    if not raises:
        return {}
    table = Alert.__table__
    pairs = [(r.device_id, r.rule.value) for r in raises]
    # An acknowledged alert whose incident went quiet longer than the window is over: a new event is a new
    # incident, so that alert is closed here and the upsert below opens (and notifies) a fresh one.
    window_start = now - timedelta(seconds=settings.alerts_repeat_window_seconds)
    closed = (
        db.session.execute(
            update(table)
            .where(
                dialect.among_pairs(table.c.device_id, table.c.rule, pairs),
                table.c.status == AlertStatus.ACKNOWLEDGED.value,
                table.c.last_at < window_start,
            )
            .values(
                status=AlertStatus.RESOLVED.value,
                resolution=Resolution.OTHER.value,
                resolution_note=AUTO_CLOSED_NOTE,
                resolved_at=now,
                next_escalation_at=None,
            )
            .returning(table.c.id)
        )
        .scalars()
        .all()
    )
    for alert_id in closed:
        db.session.add(AlertStep(alert_id=alert_id, kind=StepKind.RESOLVED, note=AUTO_CLOSED_NOTE[:200], at=now))

    rows = []
    # In (device, rule) order: concurrent batches upserting the same alerts lock them in the same order.
    for r in sorted(raises, key=lambda r: (r.device_id, r.rule.value)):
        delay = rules.escalation_delay(
            r.severity, settings.alerts_critical_escalate_seconds, settings.alerts_warning_escalate_seconds
        )
        rows.append(
            {
                "id": new_id(),
                "device_id": r.device_id,
                "elder_id": r.elder_id,
                "room_id": r.room_id,
                "area_path": r.area_path,
                "rule": r.rule.value,
                "severity": r.severity.value,
                "status": AlertStatus.OPEN.value,
                "count": r.count,
                "value": r.value,
                "first_at": r.first_at,
                "last_at": r.last_at,
                # Its first step is taken below, in this transaction, and every first step is level 1: the row is
                # written at that level (and the escalation time most first steps keep), not written twice.
                "escalation_level": 1,
                "next_escalation_at": now + timedelta(seconds=delay) if delay is not None else None,
                "created_at": now,
            }
        )
    stmt, params = dialect.insert_rows(table, rows)
    stmt = stmt.on_conflict_do_update(
        index_elements=[table.c.device_id, table.c.rule],
        # A literal, exactly the index's predicate: with a bound parameter PostgreSQL cannot match the partial
        # index once psycopg prepares the statement (its 5th run), and refuses the ON CONFLICT.
        index_where=text("status <> 'resolved'"),
        set_={
            "count": table.c.count + stmt.excluded.count,
            "last_at": case((stmt.excluded.last_at > table.c.last_at, stmt.excluded.last_at), else_=table.c.last_at),
            "value": func.coalesce(stmt.excluded.value, table.c.value),
        },
    ).returning(table.c.id, table.c.device_id, table.c.rule, table.c.count)
    wanted = {(r.device_id, r.rule): r.count for r in raises}
    # Each returned row names its (device, rule), so the rows' order does not matter: asking for parameter order
    # made SQLAlchemy send one statement per alert (an upsert's RETURNING cannot be matched to its parameters).
    result: dict[tuple[uuid.UUID, AlertRule], Raised] = {}
    for alert_id, device_id, rule, count in db.session.execute(stmt, params):
        key = (device_id, AlertRule(rule))
        # The row holds exactly this batch's count only when this statement inserted it.
        result[key] = Raised(alert_id, created=count == wanted[key])
    created_ids = [r.alert_id for r in result.values() if r.created]
    if created_ids:
        alerts = db.session.scalars(
            select(Alert).where(dialect.among(Alert.id, created_ids)).execution_options(populate_existing=True)
        ).all()
        loaded = _load_places_and_elders(alerts)
        # Set-based for a storm: every new alert's first messages go into one outbox INSERT (`notify_many`),
        # their timeline steps into one more and the alerts' levels into a few UPDATEs (`_write_first_steps`),
        # instead of an ORM round of each per alert. Nothing in the loop reads what it wrote, so it is not
        # flushed as it goes (each flush was a round trip).
        outbox: list[Outgoing] = []
        db.session.info[_OUTBOX] = outbox
        try:
            with db.session.no_autoflush:
                # Just inserted: nothing on their timelines yet. A first step never asks for volunteers.
                taken = [_take(alert, settings, now, ChainRecord(), level_before=0) for alert in alerts]
        finally:
            db.session.info.pop(_OUTBOX, None)
            del loaded
        notify_many(outbox)
        _write_first_steps(alerts, taken)
    return result


def _load_places_and_elders(alerts: list[Alert]) -> list[Area | Elder]:
    """The areas above the alerts' buildings and the alerts' elders, in two queries, into the session: each
    alert's message names its estate, committee and elder, which would otherwise be read one alert at a time.
    The caller holds the list while it works: the session keeps only objects someone refers to."""
    loaded: list[Area | Elder] = []
    above = {path for alert in alerts for path in ancestor_paths(alert.area_path)}
    if above:
        loaded.extend(db.session.scalars(select(Area).where(dialect.among(Area.path, sorted(above)))))
    elders = {alert.elder_id for alert in alerts if alert.elder_id is not None}
    if elders:
        loaded.extend(db.session.scalars(select(Elder).where(dialect.among(Elder.id, list(elders)))))
    return loaded


# ------------------------------------------------------------------------------------------------
# The chain: contacts, staff on duty, volunteers
# ------------------------------------------------------------------------------------------------


def contacts_for(alert: Alert) -> list[User]:
    """The elder's family contacts in order — only for an active elder who consented to this device."""
    if alert.elder_id is None:
        return []
    from api.eldercare import services as eldercare

    elder = db.session.get(Elder, alert.elder_id)
    if elder is None or elder.status != ElderStatus.ACTIVE:
        return []
    if not eldercare.has_consent(elder.id, alert.device.type.value):
        return []
    return list(eldercare.contacts_in_order(elder.id))


def _responder_roles() -> list[Role]:
    return [Role.STAFF, GRID_WORKER] if GRID_WORKER is not None else [Role.STAFF]


def responders_for(area_path: str, now: datetime) -> list[User]:
    """Grid workers and staff on duty for the area now; else staff (and grid workers) whose scope holds it;
    else the subdistrict's admins."""
    on_duty, in_scope, admins = _responder_index(now)
    paths = set(ancestor_paths(area_path) or ["/"])
    for candidates in (on_duty, in_scope):
        found = {user.id: user for path, user in candidates if path in paths}
        if found:
            return list(found.values())
    return admins


def _responder_index(now: datetime) -> tuple[list[tuple[str, User]], list[tuple[str, User]], list[User]]:
    """Everyone who may be told, with the area they answer for — three queries per moment `now`, kept for the
    session, rather than three per alert (an alarm storm opens hundreds of alerts in one batch)."""
    cache = db.session.info.setdefault("alerts.responders", {})
    if now in cache:
        return cache[now]
    on_duty = db.session.execute(
        select(Area.path, User)
        .join(DutyShift, DutyShift.area_id == Area.id)
        .join(User, User.id == DutyShift.user_id)
        .where(DutyShift.starts_at <= now, DutyShift.ends_at > now, User.is_active)
        .order_by(User.id)
    ).all()
    in_scope = db.session.execute(
        select(Area.path, User)
        .join(User, User.staff_area_id == Area.id)
        .where(User.is_active, User.id.in_(select(UserRole.user_id).where(UserRole.role.in_(_responder_roles()))))
        .order_by(User.id)
    ).all()
    admins = db.session.scalars(
        select(User)
        .join(UserRole, UserRole.user_id == User.id)
        .where(UserRole.role == Role.ADMIN, User.is_active)
        .order_by(User.id)
    ).all()
    cache.clear()  # one moment at a time: a later `now` sees shifts as they are then
    cache[now] = ([tuple(r) for r in on_duty], [tuple(r) for r in in_scope], list(admins))
    return cache[now]


@dataclass
class ChainRecord:
    """What the chain has done for one alert, as its timeline says: the contacts told, and whether the staff
    and volunteers steps were taken. The timeline is the record, so nothing else can drift from it."""

    told: set[uuid.UUID] = field(default_factory=set)
    staff: bool = False
    volunteers: bool = False


_CHAIN_KINDS = (StepKind.NOTIFIED_CONTACT, StepKind.ESCALATED_STAFF, StepKind.VOLUNTEERS_REQUESTED)


def chain_records(alert_ids: list[uuid.UUID]) -> dict[uuid.UUID, ChainRecord]:
    """The chain's record of each alert, from the timelines of all of them in one query."""
    records = {alert_id: ChainRecord() for alert_id in alert_ids}
    if not alert_ids:
        return records
    rows = db.session.execute(
        select(AlertStep.alert_id, AlertStep.kind, AlertStep.user_id).where(
            AlertStep.alert_id.in_(alert_ids), AlertStep.kind.in_(_CHAIN_KINDS)
        )
    )
    for alert_id, kind, user_id in rows:
        record = records[alert_id]
        if kind == StepKind.NOTIFIED_CONTACT and user_id is not None:
            record.told.add(user_id)
        elif kind == StepKind.ESCALATED_STAFF:
            record.staff = True
        elif kind == StepKind.VOLUNTEERS_REQUESTED:
            record.volunteers = True
    return records


@dataclass
class NextStep:
    kind: StepKind
    contact: User | None = None
    position: int = 0  # the contact's place in the contact order now


def next_step(alert: Alert, record: ChainRecord) -> NextStep | None:
    """Whom the chain tells next: the first eligible contact (in the contact order as it is now) not told yet;
    once every one is, staff; then volunteers. None when the chain has nothing left to do."""
    if not record.staff:
        # Asked afresh each step: whoever left, joined or moved since, and consent or the elder's status now.
        for position, contact in enumerate(contacts_for(alert), start=1):
            if contact.id not in record.told:
                return NextStep(StepKind.NOTIFIED_CONTACT, contact, position)
        if alert.severity == Severity.NOTICE:
            return None  # a notice is for the family only
        return NextStep(StepKind.ESCALATED_STAFF)
    if not record.volunteers:
        return NextStep(StepKind.VOLUNTEERS_REQUESTED)
    return None


FAMILY_DID_NOT_ANSWER = "（家属未确认）"
NO_FAMILY_TO_TELL = "（无可通知的家属）"
VOLUNTEERS_NEEDED = "·需志愿者上门"


def message_context(alert: Alert, note: str = "") -> dict[str, Any]:
    """What the `device_alert` message says. `address` is the short form that finds the door (the WeChat
    template's slot is 20 characters); `full_address` is for the inbox text, and the alert page shows it too."""
    device = alert.device
    elder = db.session.get(Elder, alert.elder_id) if alert.elder_id else None
    room = device.room if device.room is not None else (elder.room if elder is not None else None)
    return {
        "alert_id": str(alert.id),
        "elder_name": elder.name if elder is not None else "住户",
        "device_type": rules.DEVICE_NAMES_ZH.get(device.type.value, device.type.value),
        "alert_type": rules.RULE_NAMES_ZH[alert.rule] + note,
        "occurred_at": alert.first_at,
        "address": room.door_address() if room is not None else "",
        "full_address": room.address if room is not None else "",
        "severity": alert.severity.value,
    }


def _tell(
    users: list[User], alert: Alert, level: int, settings: Settings, now: datetime, note: str = ""
) -> list[uuid.UUID]:
    """Queue the alert's message to `users`; returns the outbox rows' ids."""
    context = message_context(alert, note)
    # Quiet hours hold notices (never warnings or alarms) until they end; the outbox sweep sends them then.
    held = alert.severity == Severity.NOTICE and rules.within(now, settings.alerts_quiet_hours)
    held_until = rules.end_of(now, settings.alerts_quiet_hours) if held else None
    if level == 1:
        # Level 1 is taken by the statement that inserted the alert, so nothing can have been sent for it yet:
        # no dedupe key, and the rows go to the storm's one INSERT when `raise_alerts` collects them.
        outgoing = [
            Outgoing(u.id, ALERT_KIND, context, alert.area_path, next_attempt_at=held_until, id=new_id()) for u in users
        ]
        collected = db.session.info.get(_OUTBOX)
        if collected is None:
            return notify_many(outgoing)
        collected.extend(outgoing)
        return [message.id for message in outgoing if message.id is not None]
    # Later levels (the beat job) carry a dedupe key as a second guard beside the row lock.
    dedupe_key = f"alert:{alert.id}:level:{level}"
    sent = []
    for user in users:
        message = notify(user, ALERT_KIND, context, subject_path=alert.area_path, dedupe_key=dedupe_key)
        if held_until is not None:
            message.next_attempt_at = held_until
        sent.append(message.id)
    return sent


@dataclass
class _Taken:
    """One step of the chain worked out and its messages queued: what it does to the alert and its timeline row
    (None when the chain has nothing left to do)."""

    level: int
    next_escalation_at: datetime | None
    step: dict[str, Any] | None = None  # AlertStep's columns


def _take(alert: Alert, settings: Settings, now: datetime, record: ChainRecord, level_before: int) -> _Taken:
    """The alert's next step (level N → N+1, N = `level_before`): whom to tell, told (queued in the outbox), and
    the one after it scheduled. Writes only the messages; `advance` and `_write_first_steps` write the rest."""
    planned = next_step(alert, record)
    if planned is None:
        if level_before == 0:  # nobody at all to tell: say so on the timeline, once
            return _Taken(1, None, _step_row(alert, StepKind.NO_CONTACT, 1, "无可通知的联系人", now))
        return _Taken(level_before, None)
    level = level_before + 1
    user_id: uuid.UUID | None = None
    if planned.kind == StepKind.NOTIFIED_CONTACT:
        assert planned.contact is not None
        message_ids = _tell([planned.contact], alert, level, settings, now)
        note = f"第{planned.position}联系人"
        user_id = planned.contact.id
        record.told.add(user_id)
    elif planned.kind == StepKind.ESCALATED_STAFF:
        # Staff must know whether the family was reached and is silent, or there was no family to reach.
        why = FAMILY_DID_NOT_ANSWER if record.told else NO_FAMILY_TO_TELL
        message_ids = _tell(responders_for(alert.area_path, now), alert, level, settings, now, why)
        note = f"通知值班网格员/工作人员 {len(message_ids)} 人"
        record.staff = True
    else:
        message_ids = _tell(responders_for(alert.area_path, now), alert, level, settings, now, VOLUNTEERS_NEEDED)
        note = f"请求附近志愿者上门（已通知工作人员 {len(message_ids)} 人）"
        record.volunteers = True
    delay = rules.escalation_delay(
        alert.severity, settings.alerts_critical_escalate_seconds, settings.alerts_warning_escalate_seconds
    )
    # Every step but the volunteers' leaves one after it (more contacts, or staff, or volunteers).
    further = planned.kind != StepKind.VOLUNTEERS_REQUESTED
    step = _step_row(alert, planned.kind, level, note, now, user_id, message_ids)
    return _Taken(level, now + timedelta(seconds=delay) if delay is not None and further else None, step)


def _step_row(
    alert: Alert,
    kind: StepKind,
    level: int,
    note: str,
    now: datetime,
    user_id: uuid.UUID | None = None,
    message_ids: list[uuid.UUID] | None = None,
) -> dict[str, Any]:
    """An `AlertStep`'s columns, every one given: the storm writes them with one executemany INSERT."""
    return {
        "id": new_id(),
        "alert_id": alert.id,
        "kind": kind,
        "level": level,
        "user_id": user_id,
        "notification_ids": [str(i) for i in message_ids or []],
        "note": note,
        "at": now,
    }


def advance(alert: Alert, settings: Settings, now: datetime, record: ChainRecord | None = None) -> AlertStep | None:
    """Take the alert's next step (level N → N+1) and schedule the one after; None when none is left.

    `record` is the chain's record of this alert (`chain_records`); read from its timeline when not given.
    """
    if record is None:
        record = chain_records([alert.id])[alert.id]
    taken = _take(alert, settings, now, record, alert.escalation_level)
    alert.escalation_level, alert.next_escalation_at = taken.level, taken.next_escalation_at
    if taken.step is None:
        return None
    step = AlertStep(**taken.step)
    db.session.add(step)
    if step.kind == StepKind.VOLUNTEERS_REQUESTED:
        signals.volunteers_needed.send(alert, step=step, now=now)
    return step


def _write_first_steps(alerts: list[Alert], taken: list[_Taken]) -> None:
    """The first steps of new alerts (one, or a storm's thousand), set-based: their timeline rows in one INSERT.
    The alerts were inserted at level 1 with their severity's escalation time, which most first steps keep;
    those that differ (nobody to tell: no escalation) get one UPDATE per distinct pair — where the ORM would send
    a statement per alert at flush. The loaded alerts are given the values stored, so the session agrees with
    the rows and flushes nothing more for them."""
    steps = [t.step for t in taken if t.step is not None]
    if steps:
        db.session.execute(insert(AlertStep.__table__), steps)
    moved: dict[tuple[int, datetime | None], list[uuid.UUID]] = {}
    for alert, t in zip(alerts, taken, strict=True):
        if (t.level, t.next_escalation_at) == (alert.escalation_level, alert.next_escalation_at):
            continue
        moved.setdefault((t.level, t.next_escalation_at), []).append(alert.id)
        set_committed_value(alert, "escalation_level", t.level)
        set_committed_value(alert, "next_escalation_at", t.next_escalation_at)
    table = Alert.__table__
    for (level, next_at), ids in moved.items():
        db.session.execute(
            update(table).where(table.c.id.in_(ids)).values(escalation_level=level, next_escalation_at=next_at)
        )


def escalate_due(settings: Settings, now: datetime, batch: int = ESCALATION_BATCH) -> int:
    """Take the next step of every unacknowledged alert whose time has come; returns how many steps.

    Rows are locked `SKIP LOCKED`: two beat runs at once share the work instead of doubling it.
    """
    alerts = db.session.scalars(
        select(Alert)
        .where(Alert.status == AlertStatus.OPEN, Alert.next_escalation_at <= now)
        .order_by(Alert.next_escalation_at)
        .limit(batch)
        .with_for_update(of=Alert, skip_locked=True)
        .execution_options(populate_existing=True)
    ).all()
    # Read under the row locks: no other run can be adding to these timelines now.
    records = chain_records([alert.id for alert in alerts])
    steps = 0
    for alert in alerts:
        if advance(alert, settings, now, records[alert.id]) is not None:
            steps += 1
    db.session.flush()
    return steps


# ------------------------------------------------------------------------------------------------
# Sweeps: devices that went quiet, doors that stayed shut
# ------------------------------------------------------------------------------------------------


def _raises_for(device_ids: list[uuid.UUID], hit: tuple[AlertRule, Severity], now: datetime) -> list[Raise]:
    rows = db.session.execute(
        select(Device.id, Device.elder_id, Device.room_id, Area.path, Device.last_seen_at)
        .outerjoin(Room, Room.id == Device.room_id)
        .outerjoin(Area, Area.id == Room.building_id)
        .where(Device.id.in_(device_ids))
    ).all()
    return [
        Raise(device_id, hit[0], hit[1], elder_id, room_id, path or "", now, now)
        for device_id, elder_id, room_id, path, _seen in rows
    ]


def sweep_offline(settings: Settings, now: datetime) -> int:
    """Devices silent for twice their heartbeat interval go offline, with a notice alert each."""
    due = db.session.scalars(
        select(Device.id)
        .where(
            Device.status == DeviceStatus.ACTIVE,
            Device.last_seen_at.is_not(None),
            dialect.older_than(Device.last_seen_at, now, Device.heartbeat_interval_seconds * 2),
        )
        .limit(SWEEP_BATCH)
    ).all()
    if not due:
        return 0
    gone = db.session.scalars(
        update(Device)
        .where(Device.id.in_(due), Device.status == DeviceStatus.ACTIVE)
        .values(status=DeviceStatus.OFFLINE)
        .returning(Device.id)
        .execution_options(synchronize_session=False)
    ).all()
    raise_alerts(_raises_for(list(gone), rules.OFFLINE, now), settings, now)
    return len(gone)


def sweep_door_inactivity(settings: Settings, now: datetime) -> int:
    """In the daytime only: door sensors of active elders with no opening for the elder's N hours."""
    if not rules.within(now, settings.alerts_daytime_hours):
        return 0
    # A sensor that has never seen the door open counts from its registration: silence from the first day
    # is the same warning sign as silence after years of daily openings.
    quiet_since = func.coalesce(Device.last_activity_at, Device.created_at)
    # One alert per quiet stretch: not while one is unresolved, nor again after it was resolved (the family
    # said what happened) until the door has opened since.
    already = (
        select(Alert.id)
        .where(
            Alert.device_id == Device.id,
            Alert.rule == AlertRule.DOOR_INACTIVITY,
            (Alert.status != AlertStatus.RESOLVED) | (Alert.first_at >= quiet_since),
        )
        .exists()
    )
    due = db.session.scalars(
        select(Device.id)
        .join(Elder, Elder.id == Device.elder_id)
        .where(
            Device.type == "door_sensor",
            Device.status == DeviceStatus.ACTIVE,
            Elder.status == ElderStatus.ACTIVE,
            dialect.older_than(quiet_since, now, Elder.door_inactivity_hours * 3600),
            ~already,
        )
        .limit(SWEEP_BATCH)
    ).all()
    if not due:
        return 0
    raise_alerts(_raises_for(list(due), rules.DOOR_INACTIVITY, now), settings, now)
    return len(due)


def back_online(device_ids: list[uuid.UUID], now: datetime) -> int:
    """Offline devices that spoke again are active, and their offline alerts resolved (set-based)."""
    if not device_ids:
        return 0
    db.session.execute(
        update(Device)
        .where(Device.id.in_(device_ids), Device.status == DeviceStatus.OFFLINE)
        .values(status=DeviceStatus.ACTIVE)
        .execution_options(synchronize_session=False)
    )
    resolved = db.session.scalars(
        update(Alert)
        .where(Alert.device_id.in_(device_ids), Alert.rule == AlertRule.OFFLINE, Alert.status != AlertStatus.RESOLVED)
        .values(
            status=AlertStatus.RESOLVED,
            resolution=Resolution.HANDLED,
            resolution_note=BACK_ONLINE_NOTE,
            resolved_at=now,
            next_escalation_at=None,
        )
        .returning(Alert.id)
        .execution_options(synchronize_session=False)
    ).all()
    for alert_id in resolved:
        db.session.add(AlertStep(alert_id=alert_id, kind=StepKind.RESOLVED, note=BACK_ONLINE_NOTE, at=now))
    return len(resolved)


# ------------------------------------------------------------------------------------------------
# Acknowledging and resolving
# ------------------------------------------------------------------------------------------------


def is_responder(user: User) -> bool:
    return user.is_staff or (GRID_WORKER is not None and user.has_role(GRID_WORKER))


def _bound(user: User, elder_id: uuid.UUID | None) -> bool:
    if elder_id is None:
        return False
    from api.eldercare import services as eldercare

    return bool(eldercare.is_bound(user, elder_id))


def alert_for(user: User, alert_id: uuid.UUID, *, lock: bool = False) -> Alert:
    """The alert, if `user` may see it: a confirmed family member of its elder, or staff in scope.

    Anyone else gets a 404: a family member learns nothing of other elders' alerts, staff nothing of
    another area's.
    """
    stmt = select(Alert).where(Alert.id == alert_id).execution_options(populate_existing=True)
    if lock:
        stmt = stmt.with_for_update(of=Alert)
    alert = db.session.scalar(stmt)
    if alert is None:
        raise NotFound()
    if _bound(user, alert.elder_id):
        return alert
    if is_responder(user):
        return scope.ensure_visible(user, alert)
    raise NotFound()


def acknowledge(user: User, alert_id: uuid.UUID, now: datetime) -> Alert:
    """ "I am on it": stops the escalation. Acknowledging again (or a resolved alert) changes nothing."""
    alert = alert_for(user, alert_id, lock=True)
    if alert.status == AlertStatus.OPEN:
        alert.status = AlertStatus.ACKNOWLEDGED
        alert.acknowledged_by_id = user.id
        alert.acknowledged_at = now
        alert.next_escalation_at = None
        db.session.add(AlertStep(alert_id=alert.id, kind=StepKind.ACKNOWLEDGED, user_id=user.id, at=now))
        db.session.flush()
        db.session.expire(alert, ["steps"])
        signals.alert_closed.send(alert, now=now, how="acknowledged")
    return alert


def resolve(user: User, alert_id: uuid.UUID, resolution: Resolution, note: str, now: datetime) -> Alert:
    """Close the incident with what happened; resolving an unacknowledged alert acknowledges it too."""
    alert = alert_for(user, alert_id, lock=True)
    if alert.status == AlertStatus.RESOLVED:
        raise ApiError("alert_resolved", at=alert.resolved_at.isoformat() if alert.resolved_at else "")
    if alert.acknowledged_at is None:  # the resolution is the answer: one step on the timeline, not two
        alert.acknowledged_by_id = user.id
        alert.acknowledged_at = now
    alert.status = AlertStatus.RESOLVED
    alert.resolved_by_id = user.id
    alert.resolved_at = now
    alert.resolution = resolution
    alert.resolution_note = note
    alert.next_escalation_at = None
    db.session.add(
        AlertStep(
            alert_id=alert.id, kind=StepKind.RESOLVED, user_id=user.id, note=f"{resolution.value}: {note}"[:200], at=now
        )
    )
    db.session.flush()
    db.session.expire(alert, ["steps"])
    signals.alert_closed.send(alert, now=now, how="resolved")
    return alert


# ------------------------------------------------------------------------------------------------
# Reading: families, staff, the eldercare domain
# ------------------------------------------------------------------------------------------------


def my_elder_ids(user: User) -> Select[tuple[uuid.UUID]]:
    return select(FamilyBinding.elder_id).where(
        FamilyBinding.user_id == user.id, FamilyBinding.status == BindingStatus.CONFIRMED
    )


def family_alerts(user: User) -> Select[tuple[Alert]]:
    return select(Alert).where(Alert.elder_id.in_(my_elder_ids(user)))


def recent_alerts_for(elder_ids: list[uuid.UUID], limit: int = 5) -> dict[uuid.UUID, list[Alert]]:
    """The newest `limit` alerts of each elder, in one query (a window function)."""
    out: dict[uuid.UUID, list[Alert]] = {elder_id: [] for elder_id in elder_ids}
    if not elder_ids:
        return out
    ranked = (
        select(Alert.id, func.row_number().over(partition_by=Alert.elder_id, order_by=Alert.id.desc()).label("n"))
        .where(Alert.elder_id.in_(elder_ids))
        .subquery()
    )
    alerts = db.session.scalars(
        select(Alert).join(ranked, ranked.c.id == Alert.id).where(ranked.c.n <= limit).order_by(Alert.id.desc())
    ).all()
    for alert in alerts:
        out[alert.elder_id].append(alert)  # type: ignore[index]
    return out


@dataclass
class BoardFilters:
    status: str | None = None  # open (not resolved) | unacknowledged | escalated | acknowledged | resolved
    severity: Severity | None = None
    rule: AlertRule | None = None
    elder_id: uuid.UUID | None = None
    device_id: uuid.UUID | None = None
    since: datetime | None = None
    until: datetime | None = None
    extra: dict[str, Any] = field(default_factory=dict)


def staff_alerts(staff: User, filters: BoardFilters) -> Select[tuple[Alert]]:
    """The board of the staff member's area: live (open, unacknowledged, escalated) or history."""
    stmt = scope.visible(staff, Alert)
    status = filters.status
    if status == "open":
        stmt = stmt.where(Alert.status != AlertStatus.RESOLVED)
    elif status == "unacknowledged":
        stmt = stmt.where(Alert.status == AlertStatus.OPEN)
    elif status == "escalated":
        # Past the first contact: the family did not answer in time (or there was no family to tell).
        stmt = stmt.where(Alert.status != AlertStatus.RESOLVED, Alert.escalation_level > 1)
    elif status in ("acknowledged", "resolved"):
        stmt = stmt.where(Alert.status == AlertStatus(status))
    if filters.severity is not None:
        stmt = stmt.where(Alert.severity == filters.severity)
    if filters.rule is not None:
        stmt = stmt.where(Alert.rule == filters.rule)
    if filters.elder_id is not None:
        stmt = stmt.where(Alert.elder_id == filters.elder_id)
    if filters.device_id is not None:
        stmt = stmt.where(Alert.device_id == filters.device_id)
    if filters.since is not None:
        stmt = stmt.where(Alert.first_at >= filters.since)
    if filters.until is not None:
        stmt = stmt.where(Alert.first_at < filters.until)
    return stmt


def staff_alert(staff: User, alert_id: uuid.UUID) -> Alert:
    return scope.ensure_visible(staff, db.session.get(Alert, alert_id))


def device_events(staff: User, device_id: uuid.UUID) -> Select[tuple[IotEvent]]:
    device = scope.ensure_visible(staff, db.session.get(Device, device_id))
    return select(IotEvent).where(IotEvent.device_id == device.id)


def stats(staff: User, since: datetime, until: datetime) -> dict[str, Any]:
    """Alerts by type and severity, time to acknowledge (p50/p90, seconds), false-alarm rate — in SQL."""
    mine = and_(scope.condition(staff, Alert.area_path), Alert.first_at >= since, Alert.first_at < until)
    ack = dialect.seconds_between(Alert.acknowledged_at, Alert.first_at)
    acked = Alert.acknowledged_at.is_not(None)
    if db.dialect == "postgresql":
        # One statement, one scan: the type × severity cells and the whole period's figures are a
        # `GROUP BY GROUPING SETS`; the percentiles one `percentile_cont(ARRAY[…])` over the acknowledged.
        percentiles = func.percentile_cont(postgresql.array([0.5, 0.9])).within_group(ack).filter(acked)
        rows = db.session.execute(
            select(
                func.grouping(Alert.rule, Alert.severity),
                Alert.rule,
                Alert.severity,
                func.count(),
                func.count().filter(acked),
                func.count().filter(Alert.status == AlertStatus.RESOLVED),
                func.count().filter(Alert.resolution == Resolution.FALSE_ALARM),
                type_coerce(percentiles, postgresql.ARRAY(Float)),
            )
            .where(mine)
            .group_by(func.grouping_sets(tuple_(Alert.rule, Alert.severity), tuple_()))
        ).all()
        by_type = [(rule, severity, count) for grouped, rule, severity, count, *_ in rows if not grouped]
        _, _, _, _, n, resolved, false_alarms, quantiles = next(row for row in rows if row[0])
        p50, p90 = quantiles or (None, None)
    else:
        by_type = db.session.execute(
            select(Alert.rule, Alert.severity, func.count()).where(mine).group_by(Alert.rule, Alert.severity)
        ).all()
        resolved, false_alarms = db.session.execute(
            select(
                func.count().filter(Alert.status == AlertStatus.RESOLVED),
                func.count().filter(Alert.resolution == Resolution.FALSE_ALARM),
            ).where(mine)
        ).one()
        n = db.session.scalar(select(func.count()).select_from(Alert).where(mine, acked))
        p50, p90 = dialect.percentiles(lambda *columns: select(*columns).where(mine, acked), ack).get(
            None, (None, None)
        )
    total = sum(count for _rule, _severity, count in by_type)
    types: dict[str, int] = {}
    severities: dict[str, int] = {}
    for rule, severity, count in by_type:
        types[AlertRule(rule).value] = types.get(AlertRule(rule).value, 0) + count
        severities[Severity(severity).value] = severities.get(Severity(severity).value, 0) + count
    return {
        "from": since,
        "to": until,
        "total": total,
        "by_type": dict(sorted(types.items())),
        "by_severity": dict(sorted(severities.items())),
        "acknowledged": n,
        "ack_seconds_p50": round(float(p50), 1) if p50 is not None else None,
        "ack_seconds_p90": round(float(p90), 1) if p90 is not None else None,
        "resolved": resolved,
        "false_alarms": false_alarms,
        "false_alarm_rate": round(false_alarms / resolved, 4) if resolved else None,
    }


# ------------------------------------------------------------------------------------------------
# Duty shifts
# ------------------------------------------------------------------------------------------------


def duty_shifts(staff: User, active_at: datetime | None) -> Select[tuple[DutyShift]]:
    stmt = scope.visible(staff, DutyShift)
    if active_at is not None:
        stmt = stmt.where(DutyShift.starts_at <= active_at, DutyShift.ends_at > active_at)
    return stmt


def create_duty_shift(staff: User, args: dict[str, Any]) -> DutyShift:
    area = scope.area_for(staff, args["area_id"])
    person = db.session.get(User, args["user_id"])
    if person is None or not is_responder(person):
        raise ApiError("validation_failed", errors={"user_id": ["not a staff member or grid worker"]})
    if args["ends_at"] <= args["starts_at"]:
        raise ApiError("validation_failed", errors={"ends_at": ["must be after starts_at"]})
    shift = DutyShift(
        user_id=person.id,
        area_id=area.id,
        starts_at=args["starts_at"],
        ends_at=args["ends_at"],
        created_by_id=staff.id,
    )
    db.session.add(shift)
    db.session.flush()
    return shift


def delete_duty_shift(staff: User, shift_id: uuid.UUID) -> None:
    shift = scope.ensure_visible(staff, db.session.get(DutyShift, shift_id))
    db.session.delete(shift)
    db.session.flush()
