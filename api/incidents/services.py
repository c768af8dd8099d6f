"""Incident rules: filing a report, the one state machine staff drive, merging duplicates, resident
feedback, SLA escalation, auto-close and statistics. Callable without Flask; the caller commits.

Every change to a case takes its row lock first (`_lock`), so two staff members (or staff and the beat
job) cannot both apply a transition: the second waits, re-reads the status and gets a 409 when its move
is no longer allowed. Every change writes an `IncidentEvent` and tells the reporter and followers
through `notify` (an outbox row in the same transaction).

SLA: `due_at = accepted_at + category.time_limit_hours`. Escalation level 1 is reached at `due_at`
(the supervisors of the closest area holding supervisors are told), level 2 at `due_at + half the
time limit` (every supervisor whose area contains the case); each level once per opening of the case
(a reopen starts the clock and the levels again).
"""

from __future__ import annotations

import math
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Float, Select, and_, bindparam, false, func, literal, or_, select, type_coerce
from sqlalchemy.dialects import postgresql
from sqlalchemy.orm import aliased

from api import dialect, scope
from api.accounts.models import Area, AreaKind, HouseholdMember, Role, Room, User, UserRole
from api.config import Settings, parse_bounds
from api.db import db, utcnow
from api.errors import ApiError, NotFound
from api.fields import local_text
from api.incidents.models import (
    CLOCKED_STATUSES,
    OPEN_STATUSES,
    HandlingUnit,
    HandlingUnitKind,
    Incident,
    IncidentCategory,
    IncidentEvent,
    IncidentFollower,
    IncidentSource,
    IncidentStatus,
)
from api.masking import mask_personal_numbers
from api.notifications.services import notify

S = IncidentStatus
MAX_PHOTOS = 9
DESCRIPTION_MAX = 500
DUPLICATE_RADIUS_M = 50.0
DUPLICATE_WINDOW = timedelta(hours=24)
EARTH_RADIUS_M = 6_371_000.0
PHOTO_RECORD = "incident"  # the reporter's photos
RESULT_RECORD = "incident_result"  # the handler's closing photos
SWEEP_BATCH = 500

STATUS_ZH = {
    S.SUBMITTED: "待受理",
    S.ACCEPTED: "已受理",
    S.DISPATCHED: "已派单",
    S.IN_PROGRESS: "处置中",
    S.RESOLVED: "已办结",
    S.CLOSED: "已结案",
    S.REJECTED: "不予受理",
}

# The one state machine: action -> (statuses it may start from, status it leads to; None: unchanged).
TRANSITIONS: dict[str, tuple[frozenset[IncidentStatus], IncidentStatus | None]] = {
    "accept": (frozenset({S.SUBMITTED}), S.ACCEPTED),
    "reclassify": (frozenset({S.SUBMITTED, S.ACCEPTED}), None),
    "reject": (frozenset({S.SUBMITTED, S.ACCEPTED}), S.REJECTED),
    "dispatch": (frozenset({S.ACCEPTED, S.DISPATCHED}), S.DISPATCHED),
    "start": (frozenset({S.DISPATCHED}), S.IN_PROGRESS),
    "resolve": (frozenset({S.DISPATCHED, S.IN_PROGRESS}), S.RESOLVED),
    "close": (frozenset({S.RESOLVED}), S.CLOSED),
    "reopen": (frozenset({S.RESOLVED, S.CLOSED}), S.ACCEPTED),
}
ACTIONS = tuple(TRANSITIONS)


def allowed_actions(status: IncidentStatus) -> list[str]:
    return [action for action, (sources, _to) in TRANSITIONS.items() if status in sources]


# ------------------------------------------------------------------------------------------------
# The catalogue
# ------------------------------------------------------------------------------------------------


def list_categories(active_only: bool = True) -> list[IncidentCategory]:
    """Parents and leaves, in display order (a leaf's `parent_id` names its parent)."""
    stmt = select(IncidentCategory).order_by(IncidentCategory.position, IncidentCategory.code)
    if active_only:
        stmt = stmt.where(IncidentCategory.active.is_(True))
    return list(db.session.scalars(stmt))


def get_category_by_code(code: str) -> IncidentCategory:
    category = db.session.scalar(select(IncidentCategory).where(IncidentCategory.code == code))
    if category is None:
        raise ApiError("unknown_category", errors={"category": [f"{code}: no such category"]})
    return category


def _reportable_category(code: str) -> IncidentCategory:
    category = get_category_by_code(code)
    if not category.active:
        raise ApiError("unknown_category", errors={"category": [f"{code}: no longer in use"]})
    if category.parent_id is None:
        raise ApiError("unknown_category", errors={"category": [f"{code}: choose one of its sub-categories"]})
    return category


# ------------------------------------------------------------------------------------------------
# Filing a report
# ------------------------------------------------------------------------------------------------


@dataclass
class CreatedIncident:
    incident: Incident
    possible_duplicates: list[Incident] = field(default_factory=list)


def haversine_m(lat1: float, lng1: float, lat2: float, lng2: float) -> float:
    p1, p2 = math.radians(lat1), math.radians(lat2)
    dp, dl = p2 - p1, math.radians(lng2 - lng1)
    a = math.sin(dp / 2) ** 2 + math.cos(p1) * math.cos(p2) * math.sin(dl / 2) ** 2
    return 2 * EARTH_RADIUS_M * math.asin(math.sqrt(a))


def nearby_open(
    category_id: uuid.UUID, lat: float, lng: float, now: datetime, *, exclude: uuid.UUID | None = None
) -> list[Incident]:
    """Open cases of this category filed in the last 24 h within ~50 m, nearest first.

    SQL narrows to a bounding box (category, then latitude range on `ix_incidents_category_lat_lng`);
    the exact great-circle distance is then checked on the few rows left.
    """
    dlat = math.degrees(DUPLICATE_RADIUS_M / EARTH_RADIUS_M)
    dlng = dlat / max(math.cos(math.radians(lat)), 0.01)
    stmt = select(Incident).where(
        Incident.category_id == category_id,
        Incident.lat.between(lat - dlat, lat + dlat),
        Incident.lng.between(lng - dlng, lng + dlng),
        Incident.status.in_(OPEN_STATUSES),
        Incident.created_at >= now - DUPLICATE_WINDOW,
    )
    if exclude is not None:
        stmt = stmt.where(Incident.id != exclude)
    found = [
        (haversine_m(lat, lng, i.lat, i.lng), i)
        for i in db.session.scalars(stmt.limit(50))
        if i.lat is not None and i.lng is not None
    ]
    return [i for d, i in sorted(found, key=lambda pair: pair[0]) if d <= DUPLICATE_RADIUS_M][:10]


def _settings() -> Settings:
    from flask import current_app, has_app_context

    return current_app.extensions["linli.settings"] if has_app_context() else Settings.from_env()


def _check_attributes(
    category: IncidentCategory, given: Mapping[str, Any]
) -> tuple[dict[str, Any], dict[str, list[str]]]:
    """The category's extra fields (Open311 attributes): required ones present, list values known."""
    errors: dict[str, list[str]] = {}
    clean: dict[str, Any] = {}
    spec = {a["code"]: a for a in category.attributes or []}
    for code in given:
        if code not in spec:
            errors[f"attributes.{code}"] = ["not a field of this category"]
    for code, attribute in spec.items():
        value = given.get(code)
        if value in (None, "", []):
            if attribute.get("required"):
                errors[f"attributes.{code}"] = ["required"]
            continue
        keys = {str(v["key"]) for v in attribute.get("values") or []}
        kind = attribute.get("datatype", "string")
        if kind == "singlevaluelist":
            if isinstance(value, list) and len(value) == 1:
                value = value[0]
            if str(value) not in keys:
                errors[f"attributes.{code}"] = [f"one of {sorted(keys)}"]
                continue
            value = str(value)
        elif kind == "multivaluelist":
            values = [str(v) for v in (value if isinstance(value, list) else [value])]
            if not set(values) <= keys:
                errors[f"attributes.{code}"] = [f"each one of {sorted(keys)}"]
                continue
            value = values
        elif kind == "number":
            try:
                value = float(value)
            except (TypeError, ValueError):
                errors[f"attributes.{code}"] = ["not a number"]
                continue
        elif kind == "datetime":
            try:
                moment = datetime.fromisoformat(str(value).replace("Z", "+00:00"))
            except ValueError:
                errors[f"attributes.{code}"] = ["not an ISO 8601 date and time"]
                continue
            value = moment.isoformat()
        else:
            value = str(value)
            if len(value) > DESCRIPTION_MAX:
                errors[f"attributes.{code}"] = [f"at most {DESCRIPTION_MAX} characters"]
                continue
        clean[code] = value
    return clean, errors


def _home_area(user: User) -> uuid.UUID | None:
    """The estate of the reporter's (first) home: the case's committee until staff say otherwise."""
    building = aliased(Area)
    return db.session.scalar(
        select(building.parent_id)
        .select_from(HouseholdMember)
        .join(Room, Room.id == HouseholdMember.room_id)
        .join(building, building.id == Room.building_id)
        .where(HouseholdMember.user_id == user.id)
        .order_by(HouseholdMember.created_at)
        .limit(1)
    )


def create_incident(
    reporter: User | None,
    *,
    category_code: str,
    description: str,
    lat: float | None,
    lng: float | None,
    address: str | None,
    media_ids: Sequence[uuid.UUID] = (),
    source: str = "miniprogram",
    partner_id: uuid.UUID | None = None,
    external_media_urls: Sequence[str] = (),
    attributes: Mapping[str, Any] | None = None,
    area_id: uuid.UUID | None = None,
    settings: Settings | None = None,
) -> CreatedIncident:
    """File a report. Validates everything (ApiError with field errors), adds it and flushes."""
    settings = settings or _settings()
    source_enum = IncidentSource(source)
    category = _reportable_category(category_code)
    errors: dict[str, list[str]] = {}
    text = (description or "").strip()
    if not text:
        errors["description"] = ["must not be empty"]
    elif len(text) > DESCRIPTION_MAX:
        errors["description"] = [f"at most {DESCRIPTION_MAX} characters"]
    address = (address or "").strip() or None
    if address is not None and len(address) > 200:
        errors["location.address"] = ["at most 200 characters"]
    if (lat is None) != (lng is None):
        errors["location"] = ["lat and lng go together"]
    elif lat is None and address is None:
        errors["location"] = ["lat/lng or an address is required"]
    media_ids = list(dict.fromkeys(media_ids))
    if len(media_ids) > MAX_PHOTOS:
        errors["media_ids"] = [f"at most {MAX_PHOTOS}"]
    clean_attributes, attribute_errors = _check_attributes(category, attributes or {})
    errors.update(attribute_errors)
    if errors:
        raise ApiError("validation_failed", errors=errors)
    if lat is not None and lng is not None:
        min_lat, min_lng, max_lat, max_lng = parse_bounds(settings.incidents_bounds)
        if not (min_lat <= lat <= max_lat and min_lng <= lng <= max_lng):
            raise ApiError("location_out_of_bounds", errors={"location": ["outside the subdistrict"]})
    has_photo = bool(media_ids) or (source_enum == IncidentSource.OPEN311 and bool(external_media_urls))
    if category.photo_required and not has_photo:
        raise ApiError("photo_required", errors={"media_ids": ["this category needs at least one photo"]})
    if media_ids and reporter is None:
        raise ApiError("validation_failed", errors={"media_ids": ["only a signed-in reporter can attach photos"]})
    if area_id is not None:
        if db.session.get(Area, area_id) is None:
            raise ApiError("validation_failed", errors={"area_id": ["unknown area"]})
    elif reporter is not None:
        area_id = _home_area(reporter)

    now = utcnow()
    duplicates = nearby_open(category.id, lat, lng, now) if lat is not None and lng is not None else []
    incident = Incident(
        category_id=category.id,
        reporter_id=reporter.id if reporter is not None else None,
        source=source_enum,
        partner_id=partner_id,
        status=S.SUBMITTED,
        description=text,
        lat=lat,
        lng=lng,
        address=address,
        area_id=area_id,
        external_media_urls=list(external_media_urls),
        attributes=clean_attributes,
        created_at=now,
        updated_at=now,
    )
    db.session.add(incident)
    db.session.flush()
    if media_ids:
        from api.media.services import attach

        attach(media_ids, reporter, PHOTO_RECORD, incident.id, max_count=MAX_PHOTOS)  # type: ignore[arg-type]
    _record(incident, "submit", None, S.SUBMITTED, reporter, None, {"source": source_enum.value}, now)
    db.session.flush()
    return CreatedIncident(incident, duplicates)


# ------------------------------------------------------------------------------------------------
# Reading
# ------------------------------------------------------------------------------------------------


def _follows(user: User, incident_id: uuid.UUID) -> bool:
    return db.session.get(IncidentFollower, {"incident_id": incident_id, "user_id": user.id}) is not None


def own_incident(user: User, incident_id: uuid.UUID) -> Incident:
    """A case the resident filed or follows; a 404 otherwise (whether or not it exists)."""
    incident = db.session.get(Incident, incident_id)
    if incident is None or (incident.reporter_id != user.id and not _follows(user, incident.id)):
        raise NotFound()
    return incident


def my_incidents(user: User) -> Select[tuple[Incident]]:
    followed = select(IncidentFollower.incident_id).where(IncidentFollower.user_id == user.id)
    return select(Incident).where(or_(Incident.reporter_id == user.id, Incident.id.in_(followed)))


# Built once, with a bound parameter (see `api.auth._auth_statement`): every case opened runs it.
_TIMELINE = (
    select(IncidentEvent)
    .where(IncidentEvent.incident_id == bindparam("incident_id"))
    .order_by(IncidentEvent.at, IncidentEvent.id)
)


def timeline(incident: Incident) -> list[IncidentEvent]:
    return list(db.session.scalars(_TIMELINE, {"incident_id": incident.id}))


def _photos(incident: Incident) -> dict[str, list[Any]]:
    """The report's and the result's photos, read together once per case object (one statement, not two)."""
    from api.media.services import photos_of_kinds

    cached: dict[str, list[Any]] | None = incident.__dict__.get("_linli_photos")
    if cached is None:
        cached = photos_of_kinds((PHOTO_RECORD, RESULT_RECORD), incident.id)
        incident.__dict__["_linli_photos"] = cached
    return cached


def photos(incident: Incident) -> list[Any]:
    return _photos(incident)[PHOTO_RECORD]


def result_photos(incident: Incident) -> list[Any]:
    return _photos(incident)[RESULT_RECORD]


def staff_incident(staff: User, incident_id: uuid.UUID) -> Incident:
    return scope.ensure_visible(staff, db.session.get(Incident, incident_id))


def triage_queue(
    staff: User,
    *,
    status: IncidentStatus | None = None,
    category: str | None = None,
    area_id: uuid.UUID | None = None,
    overdue: bool | None = None,
    now: datetime | None = None,
) -> Select[tuple[Incident]]:
    """The staff member's cases, filtered; newest first (the caller pages by id)."""
    now = now or utcnow()
    stmt = scope.visible(staff, Incident).where(Incident.merged_into_id.is_(None))
    if status is not None:
        stmt = stmt.where(Incident.status == status)
    if category is not None:
        chosen = db.session.scalar(select(IncidentCategory).where(IncidentCategory.code == category))
        if chosen is None:
            return stmt.where(false())
        # A parent category filters on all of its leaves.
        leaves = select(IncidentCategory.id).where(
            or_(IncidentCategory.id == chosen.id, IncidentCategory.parent_id == chosen.id)
        )
        stmt = stmt.where(Incident.category_id.in_(leaves))
    if area_id is not None:
        area = db.session.get(Area, area_id)
        if area is None:
            return stmt.where(false())
        stmt = stmt.where(Incident.area_path.startswith(area.path, autoescape=True))
    if overdue is True:
        stmt = stmt.where(Incident.status.in_(CLOCKED_STATUSES), Incident.due_at <= now)
    elif overdue is False:
        stmt = stmt.where(
            or_(Incident.due_at.is_(None), Incident.due_at > now, Incident.status.not_in(CLOCKED_STATUSES))
        )
    return stmt


# ------------------------------------------------------------------------------------------------
# The state machine
# ------------------------------------------------------------------------------------------------


def _lock(incident_id: uuid.UUID) -> Incident | None:
    """The case under its row lock, re-read; None when there is no such case."""
    return db.session.scalar(
        select(Incident)
        .where(Incident.id == incident_id)
        .with_for_update(of=Incident)
        .execution_options(populate_existing=True)
    )


def _record(
    incident: Incident,
    action: str,
    from_status: IncidentStatus | None,
    to_status: IncidentStatus | None,
    actor: User | None,
    note: str | None,
    data: dict[str, Any] | None,
    at: datetime,
) -> IncidentEvent:
    row = IncidentEvent(
        incident_id=incident.id,
        action=action,
        from_status=from_status.value if from_status else None,
        to_status=to_status.value if to_status else None,
        actor_id=actor.id if actor is not None else None,
        note=note,
        data=data or {},
        at=at,
    )
    db.session.add(row)
    return row


def audience(incident: Incident) -> list[User]:
    """Who hears about a case: its reporter and its followers."""
    followers = select(IncidentFollower.user_id).where(IncidentFollower.incident_id == incident.id)
    ids = [incident.reporter_id] if incident.reporter_id else []
    ids += list(db.session.scalars(followers))
    if not ids:
        return []
    return list(db.session.scalars(select(User).where(User.id.in_(ids), User.is_active.is_(True))))


def _tell(
    incident: Incident, note: str | None, at: datetime, event: IncidentEvent, *, skip: User | None = None
) -> None:
    context = {
        "incident_id": incident.id,
        "category_name": incident.category.name_zh,
        "status": incident.status.value,
        "status_text": STATUS_ZH[incident.status],
        # Followers of a merged report are told too: a number quoted in a staff note is not theirs to read.
        "note": mask_personal_numbers(note or ""),
        "at": at,
    }
    path = incident.area.path if incident.area is not None else None
    for person in audience(incident):
        if skip is not None and person.id == skip.id:
            continue
        notify(person, "incident_status_changed", context, subject_path=path, dedupe_key=f"incident:{event.id}")


def _text(value: Any, limit: int = DESCRIPTION_MAX) -> str | None:
    text = (value or "").strip() if isinstance(value, str) else None
    return text[:limit] if text else None


def transition(staff: User, incident_id: uuid.UUID, action: str, args: Mapping[str, Any]) -> Incident:
    """Apply one staff action to a case, under its row lock. A move the status does not allow is a 409
    listing the allowed ones; missing reasons/notes/targets are 422s; nothing changes on any error."""
    if action not in TRANSITIONS:
        raise ApiError("validation_failed", errors={"action": [f"one of {list(ACTIONS)}"]})
    incident = scope.ensure_visible(staff, _lock(incident_id))
    sources, target = TRANSITIONS[action]
    before = incident.status
    if before not in sources:
        allowed = allowed_actions(before)
        raise ApiError(
            "transition_not_allowed",
            errors={"action": allowed},
            state=before.value,
            allowed=", ".join(allowed) or "-",
        )
    now = utcnow()
    reason = _text(args.get("reason"))
    note = _text(args.get("note"))
    data: dict[str, Any] = {}
    public_note: str | None = None

    if action in ("reject", "reclassify") and not reason:
        raise ApiError("validation_failed", errors={"reason": ["a reason is required"]})
    if action == "resolve" and not note:
        raise ApiError("validation_failed", errors={"note": ["say what was done"]})

    if action == "accept":
        if args.get("area_id"):
            incident.area_id = scope.area_for(staff, args["area_id"]).id
            data["area_id"] = str(incident.area_id)
        incident.accepted_at = now
        incident.due_at = now + timedelta(hours=incident.category.time_limit_hours)
        incident.escalation_level = 0
        data["due_at"] = incident.due_at.isoformat()
        public_note = note or "已受理，将尽快安排处置"
    elif action == "reclassify":
        code = args.get("category")
        if not code:
            raise ApiError("validation_failed", errors={"category": ["the new category is required"]})
        new = _reportable_category(code)
        data.update({"from": incident.category.code, "to": new.code})
        incident.category_id = new.id
        incident.category = new
        if args.get("area_id"):
            incident.area_id = scope.area_for(staff, args["area_id"]).id
            data["area_id"] = str(incident.area_id)
        if incident.accepted_at is not None and before == S.ACCEPTED:
            incident.due_at = incident.accepted_at + timedelta(hours=new.time_limit_hours)
            data["due_at"] = incident.due_at.isoformat()
        public_note = f"问题类型调整为「{new.name_zh}」：{reason}"
    elif action == "reject":
        incident.closed_at = now
        incident.due_at = None
        public_note = reason
    elif action == "dispatch":
        _dispatch(staff, incident, args, data)
        incident.dispatched_at = now
        public_note = note or f"已派往{data.get('unit_name') or data.get('assignee_name') or '处置人员'}处置"
    elif action == "start":
        incident.started_at = now
        public_note = note or "处置人员已开始处置"
    elif action == "resolve":
        media_ids = list(args.get("media_ids") or [])
        if incident.category.photo_required and not media_ids:
            raise ApiError("photo_required", errors={"media_ids": ["a photo of the result is required"]})
        if media_ids:
            from api.media.services import attach

            attach(media_ids, staff, RESULT_RECORD, incident.id, max_count=MAX_PHOTOS)
            data["media_ids"] = [str(m) for m in media_ids]
        incident.resolved_at = now
        public_note = note
    elif action == "close":
        incident.closed_at = now
        public_note = note or "已结案"
    elif action == "reopen":
        _reopen(incident, now)
        public_note = reason or note or "已重新处理"

    if target is not None:
        incident.status = target
    if public_note:
        incident.status_note = public_note[:DESCRIPTION_MAX]
    incident.updated_at = now
    row = _record(incident, action, before, target or before, staff, reason or note, data, now)
    db.session.flush()
    _tell(incident, public_note, now, row)
    return incident


def _dispatch(staff: User, incident: Incident, args: Mapping[str, Any], data: dict[str, Any]) -> None:
    unit_id, assignee_id = args.get("unit_id"), args.get("assignee_id")
    if not unit_id and not assignee_id:
        raise ApiError("validation_failed", errors={"unit_id": ["a handling unit or an assignee is required"]})
    if unit_id:
        # The units this staff member's list offers, and only those: the same query picks the target.
        unit = db.session.scalar(handling_units(staff).where(HandlingUnit.id == unit_id))
        if unit is None:
            raise ApiError("validation_failed", errors={"unit_id": ["no such handling unit serving your area"]})
        incident.assigned_unit_id = unit.id
        data.update({"unit_id": str(unit.id), "unit_name": unit.name})
    if assignee_id:
        person = db.session.scalar(assignees(staff).where(User.id == assignee_id))
        if person is None:
            raise ApiError(
                "validation_failed", errors={"assignee_id": ["not a grid worker or staff member serving your area"]}
            )
        incident.assignee_id = person.id
        data.update({"assignee_id": str(person.id), "assignee_name": person.nickname or person.username or ""})


def _reopen(incident: Incident, now: datetime) -> None:
    """Back to accepted with a fresh SLA clock and escalation levels."""
    incident.reopen_count += 1
    incident.accepted_at = now
    incident.due_at = now + timedelta(hours=incident.category.time_limit_hours)
    incident.escalation_level = 0
    incident.closed_at = None
    incident.started_at = None


# ------------------------------------------------------------------------------------------------
# Merging duplicates
# ------------------------------------------------------------------------------------------------


def merge(staff: User, incident_id: uuid.UUID, into_id: uuid.UUID) -> Incident:
    """Merge a duplicate into the surviving case: its reporter and followers follow the survivor, and
    the duplicate is closed with a timeline entry on both. Returns the survivor."""
    if incident_id == into_id:
        raise ApiError("merge_not_allowed", reason="同一案件", errors={"into": ["a case cannot merge into itself"]})
    # Both rows locked, in id order, so two opposite merges cannot deadlock.
    locked = {i: _lock(i) for i in sorted((incident_id, into_id))}
    duplicate = scope.ensure_visible(staff, locked[incident_id])
    survivor = scope.ensure_visible(staff, locked[into_id], field="into")
    if duplicate.category_id != survivor.category_id:
        raise ApiError("merge_not_allowed", reason="问题类型不同", errors={"into": ["a case of another category"]})
    if not duplicate.status.is_open or not survivor.status.is_open:
        raise ApiError("merge_not_allowed", reason="案件已结束", errors={"into": ["both cases must be open"]})
    now = utcnow()
    people = set(
        db.session.scalars(select(IncidentFollower.user_id).where(IncidentFollower.incident_id == duplicate.id))
    )
    if duplicate.reporter_id is not None:
        people.add(duplicate.reporter_id)
    people.discard(survivor.reporter_id)  # type: ignore[arg-type]
    present = set(
        db.session.scalars(select(IncidentFollower.user_id).where(IncidentFollower.incident_id == survivor.id))
    )
    for user_id in people - present:
        db.session.add(IncidentFollower(incident_id=survivor.id, user_id=user_id, created_at=now))
    before = duplicate.status
    duplicate.status = S.CLOSED
    duplicate.closed_at = now
    duplicate.due_at = None
    duplicate.merged_into_id = survivor.id
    duplicate.status_note = "与附近相同问题合并处理"
    duplicate.updated_at = now
    gone = _record(duplicate, "merge", before, S.CLOSED, staff, None, {"into": str(survivor.id)}, now)
    _record(survivor, "absorb", survivor.status, survivor.status, staff, None, {"from": str(duplicate.id)}, now)
    db.session.flush()
    # The duplicate's people hear where their report went; they now follow the survivor.
    _tell(duplicate, "您反映的问题已与附近相同问题合并处理，可在原记录中查看进度", now, gone)
    return survivor


# ------------------------------------------------------------------------------------------------
# Resident feedback
# ------------------------------------------------------------------------------------------------


def give_feedback(user: User, incident_id: uuid.UUID, score: int, comment: str | None) -> Incident:
    """反馈评价 on a resolved case, once per resolution: 1–2 reopens it, 3–5 closes it."""
    own = own_incident(user, incident_id)
    if own.reporter_id != user.id:
        raise ApiError("forbidden")
    incident = _lock(own.id)
    if incident is None:  # gone since it was read
        raise NotFound()
    if incident.status != S.RESOLVED:
        if incident.feedback_at is not None and incident.resolved_at and incident.feedback_at >= incident.resolved_at:
            raise ApiError("feedback_already_given")
        raise ApiError("incident_not_resolved")
    now = utcnow()
    before = incident.status
    incident.feedback_score = score
    incident.feedback_comment = _text(comment, 200)
    incident.feedback_at = now
    if score <= 2:
        _reopen(incident, now)
        incident.status = S.ACCEPTED
        incident.status_note = "居民对处理结果不满意，已重新处理"
        result = "reopen"
    else:
        incident.status = S.CLOSED
        incident.closed_at = now
        incident.status_note = "居民已评价，已结案"
        result = "close"
    incident.updated_at = now
    data = {"score": score, "result": result}
    row = _record(incident, "feedback", before, incident.status, user, incident.feedback_comment, data, now)
    db.session.flush()
    _tell(incident, incident.status_note, now, row, skip=user)
    return incident


# ------------------------------------------------------------------------------------------------
# Handling units
# ------------------------------------------------------------------------------------------------


def handling_units(staff: User) -> Select[tuple[HandlingUnit]]:
    """Units serving the staff member's area: those inside it, above it, or serving everywhere."""
    return select(HandlingUnit).where(HandlingUnit.active.is_(True), scope.serving(staff, HandlingUnit.area_path))


def assignees(staff: User) -> Select[tuple[User]]:
    """Grid workers and staff a case may be assigned to by this staff member (the rule of `handling_units`)."""
    roles = select(UserRole.user_id).where(UserRole.role.in_((Role.GRID_WORKER, Role.STAFF, Role.ADMIN)))
    their_area = select(Area.path).where(Area.id == User.staff_area_id).correlate_except(Area).scalar_subquery()
    return select(User).where(User.is_active, User.id.in_(roles), scope.serving(staff, their_area))


def create_handling_unit(staff: User, name: str, kind: HandlingUnitKind, area_id: uuid.UUID | None) -> HandlingUnit:
    if area_id is None:
        scope.ensure_may_leave_unplaced(staff, "area_id")
    else:
        scope.area_for(staff, area_id)
    unit = HandlingUnit(name=name.strip(), kind=kind, area_id=area_id)
    db.session.add(unit)
    db.session.flush()
    return unit


# ------------------------------------------------------------------------------------------------
# SLA escalation and auto-close (the beat job)
# ------------------------------------------------------------------------------------------------

LEVEL_ZH = {1: "一级督办", 2: "二级督办"}


def _level_reached(incident: Incident, now: datetime) -> int:
    assert incident.due_at is not None
    half = timedelta(hours=incident.category.time_limit_hours / 2)
    if now >= incident.due_at + half:
        return 2
    return 1 if now >= incident.due_at else 0


def supervisors_for(incident: Incident, level: int) -> list[User]:
    """Level 1: the supervisors of the closest area holding any; level 2: every supervisor above the case."""
    path = incident.area.path if incident.area is not None else None
    stmt = (
        select(User, Area.path)
        .join(UserRole, UserRole.user_id == User.id)
        .join(Area, Area.id == User.staff_area_id)
        .where(UserRole.role == Role.SUPERVISOR, User.is_active.is_(True))
    )
    if path is None:
        stmt = stmt.where(Area.kind == AreaKind.SUBDISTRICT)
    else:
        stmt = stmt.where(literal(path).startswith(Area.path))
    rows = db.session.execute(stmt).all()
    if not rows:
        return []
    if level >= 2:
        return [user for user, _path in rows]
    deepest = max(len(p) for _user, p in rows)
    return [user for user, p in rows if len(p) == deepest]


def escalate_overdue(now: datetime | None = None) -> int:
    """Escalate cases past their due time, one level at a time, each level once. Rows are claimed
    with SKIP LOCKED, and the level is re-checked under the lock, so concurrent runs do not repeat."""
    now = now or utcnow()
    rows = db.session.scalars(
        select(Incident)
        .where(
            Incident.status.in_(CLOCKED_STATUSES),
            Incident.due_at <= now,
            Incident.escalation_level < 2,
        )
        .order_by(Incident.due_at)
        .with_for_update(of=Incident, skip_locked=True)
        .limit(SWEEP_BATCH)
        .execution_options(populate_existing=True)
    ).all()
    escalated = 0
    for incident in rows:
        level = _level_reached(incident, now)
        if level <= incident.escalation_level:
            continue
        incident.escalation_level = level
        people = supervisors_for(incident, level)
        _record(
            incident,
            "escalate",
            incident.status,
            incident.status,
            None,
            LEVEL_ZH[level],
            {"level": level, "notified": [str(p.id) for p in people]},
            now,
        )
        context = {
            "incident_id": incident.id,
            "category_name": incident.category.name_zh,
            "address": incident.address or (incident.area.full_name if incident.area else ""),
            "due_at": incident.due_at,
            "due_at_text": local_text(incident.due_at),
            "status_text": STATUS_ZH[incident.status],
            "level": level,
            "level_text": LEVEL_ZH[level],
        }
        for person in people:
            notify(
                person,
                "incident_overdue",
                context,
                subject_path=incident.area.path if incident.area is not None else None,
                dedupe_key=f"incident-overdue:{incident.id}:{incident.reopen_count}:{level}",
            )
        escalated += 1
        db.session.flush()
    return escalated


def auto_close(settings: Settings | None = None, now: datetime | None = None) -> int:
    """Close resolved cases whose reporter said nothing for `INCIDENTS_AUTO_CLOSE_DAYS`."""
    settings = settings or _settings()
    now = now or utcnow()
    cutoff = now - timedelta(days=settings.incidents_auto_close_days)
    rows = db.session.scalars(
        select(Incident)
        .where(Incident.status == S.RESOLVED, Incident.resolved_at <= cutoff)
        .order_by(Incident.resolved_at)
        .with_for_update(of=Incident, skip_locked=True)
        .limit(SWEEP_BATCH)
        .execution_options(populate_existing=True)
    ).all()
    closed = 0
    for incident in rows:
        if incident.status != S.RESOLVED:
            continue
        incident.status = S.CLOSED
        incident.closed_at = now
        incident.updated_at = now
        incident.status_note = "逾期未评价，系统自动结案"
        row = _record(incident, "close", S.RESOLVED, S.CLOSED, None, incident.status_note, {"by": "auto_close"}, now)
        db.session.flush()
        _tell(incident, incident.status_note, now, row)
        closed += 1
    return closed


# ------------------------------------------------------------------------------------------------
# Statistics
# ------------------------------------------------------------------------------------------------


def statistics(
    staff: User, *, start: datetime, end: datetime, group_by: str, now: datetime | None = None
) -> list[dict[str, Any]]:
    """Per committee (or per category) for cases received in [start, end): received, closed, closure
    rate, median and p90 handling hours (receipt → resolution), overdue, satisfaction — all in SQL.

    Closure rate = closed / (received − rejected); satisfaction = scores ≥ 4 / scores given; overdue =
    still open past the due time, or resolved after it. Merged duplicates are not counted twice.
    """
    now = now or utcnow()
    committee = aliased(Area)
    placed = aliased(Area)
    if group_by == "total":
        # One group: every row counted here has merged_into_id NULL, so grouping by it groups them all.
        key_id = key_code = key_name = Incident.merged_into_id
        joins: list[tuple[Any, Any]] = []
    elif group_by == "category":
        key_id = IncidentCategory.id
        key_code = IncidentCategory.code
        key_name = IncidentCategory.name_zh
        joins = [(IncidentCategory, IncidentCategory.id == Incident.category_id)]
    else:
        key_id = committee.id
        key_code = committee.code
        key_name = committee.name
        joins = [
            (placed, placed.id == Incident.area_id),
            (committee, and_(committee.kind == AreaKind.COMMITTEE, placed.path.startswith(committee.path))),
        ]

    def base(*columns: Any) -> Select[Any]:
        stmt = select(*columns).select_from(Incident)
        for target, on in joins:
            stmt = stmt.outerjoin(target, on)
        return stmt.where(
            scope.condition(staff, Incident.area_path),
            Incident.merged_into_id.is_(None),
            Incident.created_at >= start,
            Incident.created_at < end,
        )

    counts = db.session.execute(
        base(key_id, key_code, key_name, *_stats_counts(now)).group_by(key_id, key_code, key_name)
    ).all()

    handled = and_(Incident.resolved_at.is_not(None), Incident.status.in_(("resolved", "closed")))
    hours = dialect.seconds_between(Incident.resolved_at, Incident.created_at) / 3600.0
    handling = dialect.percentiles(lambda *columns: base(*columns).where(handled), hours, (0.5, 0.9), group=key_id)

    out = [
        _stats_row(group_by == "total", code, name, counted, handling.get(key, (None, None)))
        for key, code, name, *counted in counts
    ]
    return sorted(out, key=lambda row: row["key"])


def _stats_row(
    total: bool, code: str | None, name: str | None, counted: Sequence[int], handling: Sequence[Any]
) -> dict[str, Any]:
    received, closed, rejected, late, scored, satisfied = counted
    median, p90 = handling
    considered = received - rejected
    return {
        "key": "total" if total else (code or "unassigned"),
        "name": "合计" if total else (name or "未归属"),
        "received": received,
        "closed": closed,
        "rejected": rejected,
        "closure_rate": round(closed / considered, 4) if considered else None,
        "median_handling_hours": round(float(median), 2) if median is not None else None,
        "p90_handling_hours": round(float(p90), 2) if p90 is not None else None,
        "overdue": late,
        "feedback_count": scored,
        "satisfaction_rate": round(satisfied / scored, 4) if scored else None,
    }


def statistics_with_total(
    staff: User, *, start: datetime, end: datetime, group_by: str, now: datetime | None = None
) -> tuple[list[dict[str, Any]], dict[str, Any] | None]:
    """`statistics` by `group_by` and their total (None when no case was received).

    On PostgreSQL one statement answers both, over one scan of the period's cases: the groups and the total
    are a `GROUP BY ROLLUP`, the counts aggregate `FILTER`s, both percentiles one `percentile_cont(ARRAY[…])`
    (one sort per group), and the committee of each case comes from a join of the 1,640 areas with their
    committees, not of every case with every committee. Elsewhere (SQLite) the two are asked separately."""
    if db.dialect != "postgresql":
        totals = statistics(staff, start=start, end=end, group_by="total", now=now)
        return statistics(staff, start=start, end=end, group_by=group_by, now=now), (totals[0] if totals else None)
    now = now or utcnow()
    stmt = select().select_from(Incident)
    if group_by == "category":
        key_id, key_code, key_name = IncidentCategory.id, IncidentCategory.code, IncidentCategory.name_zh
        stmt = stmt.outerjoin(IncidentCategory, IncidentCategory.id == Incident.category_id)
    else:
        committee, placed = aliased(Area), aliased(Area)
        placement = (
            select(placed.id.label("area_id"), committee.id, committee.code, committee.name)
            .join(committee, and_(committee.kind == AreaKind.COMMITTEE, placed.path.startswith(committee.path)))
            .subquery()
        )
        key_id, key_code, key_name = placement.c.id, placement.c.code, placement.c.name
        stmt = stmt.outerjoin(placement, placement.c.area_id == Incident.area_id)
    handled = and_(Incident.resolved_at.is_not(None), Incident.status.in_(("resolved", "closed")))
    hours = dialect.seconds_between(Incident.resolved_at, Incident.created_at) / 3600.0
    percentiles = func.percentile_cont(postgresql.array([0.5, 0.9])).within_group(hours).filter(handled)
    rows = db.session.execute(
        stmt.add_columns(
            func.grouping(key_id),
            func.min(key_code),
            func.min(key_name),
            *_stats_counts(now),
            type_coerce(percentiles, postgresql.ARRAY(Float)),
        )
        .where(
            scope.condition(staff, Incident.area_path),
            Incident.merged_into_id.is_(None),
            Incident.created_at >= start,
            Incident.created_at < end,
        )
        .group_by(func.rollup(key_id))
    ).all()
    groups, total = [], None
    for is_total, code, name, *counted, handling in rows:
        row = _stats_row(bool(is_total), code, name, counted[:6], handling or (None, None))
        if is_total:
            total = row
        else:
            groups.append(row)
    return sorted(groups, key=lambda row: row["key"]), total


def _stats_counts(now: datetime) -> tuple[Any, ...]:
    """Received, closed, rejected, overdue, rated and satisfied, as aggregates (see `statistics`)."""
    overdue = or_(
        and_(Incident.status.in_(CLOCKED_STATUSES), Incident.due_at <= now),
        and_(Incident.status.in_(("resolved", "closed")), Incident.resolved_at > Incident.due_at),
    )
    return (
        func.count(),
        func.count().filter(Incident.status == S.CLOSED),
        func.count().filter(Incident.status == S.REJECTED),
        func.count().filter(overdue),
        func.count(Incident.feedback_score),
        func.count().filter(Incident.feedback_score >= 4),
    )


# ------------------------------------------------------------------------------------------------
# Who may see a case's photos
# ------------------------------------------------------------------------------------------------


def may_see(viewer: User, incident_id: uuid.UUID) -> bool:
    incident = db.session.get(Incident, incident_id)
    if incident is None:
        return False
    if incident.reporter_id == viewer.id or _follows(viewer, incident.id):
        return True
    return viewer.is_staff and scope.sees(viewer, incident.area_path)
