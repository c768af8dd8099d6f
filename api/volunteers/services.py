"""Volunteers' people and tasks: the profile a resident applies with and staff approve, the skill list, groups and
their members, tasks and what a volunteer sees of them (the coarse place for everyone, the exact one only for the
confirmed and only near the time), and the list of open tasks a volunteer can take.

Sign-ups, attendance and the roster are `api.volunteers.roster`'s; hours and coins `api.volunteers.ledger`'s.
"""

from __future__ import annotations

import secrets
import uuid
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Select, exists, func, literal, or_, select
from sqlalchemy.orm import aliased, selectinload, with_expression

from api import scope
from api.accounts.models import Area, AreaKind, HouseholdMember, Role, Room, User
from api.config import Settings, parse_bounds
from api.db import db, utcnow
from api.errors import ApiError, NotFound
from api.fields import LOCAL_TZ, local_text
from api.notifications.services import notify
from api.volunteers import access, places
from api.volunteers.models import (
    ELDER_HELP,
    CheckinRule,
    Group,
    GroupMember,
    GroupRole,
    Profile,
    ProfileStatus,
    Signup,
    SignupStatus,
    Skill,
    Task,
    TaskSource,
    TaskStatus,
    volunteer_profile_committees,
    volunteer_profile_skills,
    volunteer_task_skills,
)


def six_digits() -> str:
    return f"{secrets.randbelow(1_000_000):06d}"


# ------------------------------------------------------------------------------------------------
# Skills (the staff-managed list)
# ------------------------------------------------------------------------------------------------


def skills(include_retired: bool = False) -> list[Skill]:
    stmt = select(Skill).order_by(Skill.code)
    if not include_retired:
        stmt = stmt.where(Skill.retired_at.is_(None))
    return list(db.session.scalars(stmt))


def _skills_by_code(codes: list[str], field: str) -> list[Skill]:
    wanted = list(dict.fromkeys(codes))
    found = {
        s.code: s for s in db.session.scalars(select(Skill).where(Skill.code.in_(wanted), Skill.retired_at.is_(None)))
    }
    unknown = [c for c in wanted if c not in found]
    if unknown:
        raise ApiError("validation_failed", errors={field: [f"unknown skill: {', '.join(unknown)}"]})
    return [found[c] for c in wanted]


def create_skill(staff: User, code: str, name: str) -> Skill:
    """The skill list is the whole subdistrict's: its staff and admins keep it (committee staff use it)."""
    if not scope.sees(staff, None):
        raise ApiError("forbidden")
    taken = db.session.scalar(select(Skill).where(or_(Skill.code == code, Skill.name == name)))
    if taken is not None:
        field = "code" if taken.code == code else "name"
        raise ApiError("validation_failed", errors={field: ["already on the list"]})
    skill = Skill(code=code, name=name)
    db.session.add(skill)
    db.session.flush()
    return skill


def update_skill(staff: User, skill_id: uuid.UUID, changes: dict[str, Any]) -> Skill:
    skill = scope.ensure_visible(staff, db.session.get(Skill, skill_id))
    if "name" in changes and changes["name"] != skill.name:
        if db.session.scalar(select(Skill.id).where(Skill.name == changes["name"])) is not None:
            raise ApiError("validation_failed", errors={"name": ["already on the list"]})
        skill.name = changes["name"]
    if "retired" in changes:
        skill.retired_at = (skill.retired_at or utcnow()) if changes["retired"] else None
    db.session.flush()
    return skill


# ------------------------------------------------------------------------------------------------
# Profiles
# ------------------------------------------------------------------------------------------------


def profile_of(user: User) -> Profile | None:
    return db.session.scalar(select(Profile).where(Profile.user_id == user.id))


def real_names(user_ids: list[uuid.UUID]) -> dict[uuid.UUID, str | None]:
    """The volunteers' real names, by user, in one statement (None for someone with no profile)."""
    names: dict[uuid.UUID, str | None] = dict.fromkeys(user_ids)
    if user_ids:
        rows = db.session.execute(select(Profile.user_id, Profile.real_name).where(Profile.user_id.in_(user_ids)))
        names.update({user_id: name for user_id, name in rows})
    return names


def require_profile(user: User) -> Profile:
    profile = profile_of(user)
    if profile is None:
        raise ApiError("volunteer_profile_missing")
    return profile


def require_approved(user: User) -> Profile:
    profile = require_profile(user)
    if profile.status != ProfileStatus.APPROVED:
        raise ApiError("volunteer_not_approved", state=profile.status.value)
    return profile


def _committees(ids: list[uuid.UUID]) -> list[Area]:
    wanted = list(dict.fromkeys(ids))
    found = {a.id: a for a in db.session.scalars(select(Area).where(Area.id.in_(wanted)))}
    bad = [str(i) for i in wanted if i not in found or found[i].kind not in (AreaKind.COMMITTEE, AreaKind.SUBDISTRICT)]
    if bad or not wanted:
        raise ApiError("validation_failed", errors={"committee_ids": ["committees (or the subdistrict) that exist"]})
    return [found[i] for i in wanted]


def _estate(area_id: uuid.UUID | None) -> Area | None:
    if area_id is None:
        return None
    area = db.session.get(Area, area_id)
    if area is None or area.kind != AreaKind.ESTATE:
        raise ApiError("validation_failed", errors={"home_estate_id": ["an estate that exists"]})
    return area


def _household_estate(user: User) -> Area | None:
    building = db.session.scalar(
        select(Area)
        .join(Room, Room.building_id == Area.id)
        .join(HouseholdMember, HouseholdMember.room_id == Room.id)
        .where(HouseholdMember.user_id == user.id)
        .limit(1)
    )
    return places.estate_of(building)


def apply(user: User, data: dict[str, Any]) -> Profile:
    """A resident registers as a volunteer; staff of the first committee named approve them."""
    if profile_of(user) is not None:
        raise ApiError("volunteer_profile_exists")
    committees = _committees(data["committee_ids"])
    home = _estate(data.get("home_estate_id")) or _household_estate(user)
    profile = Profile(
        user_id=user.id,
        real_name=data["real_name"].strip(),
        area_id=committees[0].id,
        home_estate_id=home.id if home is not None else None,
        availability=data.get("availability") or [],
        status=ProfileStatus.PENDING,
        leaderboard_opt_out=data.get("leaderboard_opt_out", False),
    )
    profile.skills = _skills_by_code(data.get("skills") or [], "skills")
    profile.committees = committees
    db.session.add(profile)
    db.session.flush()
    return profile


def update_profile(user: User, changes: dict[str, Any]) -> Profile:
    profile = require_profile(user)
    if "real_name" in changes:
        profile.real_name = changes["real_name"].strip()
    if "skills" in changes:
        profile.skills = _skills_by_code(changes["skills"], "skills")
    if "committee_ids" in changes:
        profile.committees = _committees(changes["committee_ids"])
    if "home_estate_id" in changes:
        home = _estate(changes["home_estate_id"])
        profile.home_estate_id = home.id if home is not None else None
    for key in ("availability", "leaderboard_opt_out"):
        if key in changes:
            setattr(profile, key, changes[key])
    db.session.flush()
    return profile


def set_duty(user: User, on_duty: bool, lat: float | None, lng: float | None, settings: Settings) -> Profile:
    """The on-duty switch for alarms next door, with the location the phone shares as they switch it on."""
    profile = require_approved(user)
    if on_duty and lat is not None and lng is not None:
        min_lat, min_lng, max_lat, max_lng = parse_bounds(settings.incidents_bounds)
        if not (min_lat <= lat <= max_lat and min_lng <= lng <= max_lng):
            raise ApiError("validation_failed", errors={"lat": ["outside the subdistrict"]})
    profile.on_duty = on_duty
    profile.duty_lat, profile.duty_lng = (lat, lng) if on_duty else (None, None)
    profile.duty_since = utcnow() if on_duty else None
    db.session.flush()
    return profile


def staff_profiles(staff: User, status: ProfileStatus | None) -> Select[tuple[Profile]]:
    access.ensure_staff(staff)
    stmt = scope.visible(staff, Profile)
    if status is not None:
        stmt = stmt.where(Profile.status == status)
    return stmt


def staff_profile(staff: User, profile_id: uuid.UUID) -> Profile:
    access.ensure_staff(staff)
    return scope.ensure_visible(staff, db.session.get(Profile, profile_id))


def decide_profile(staff: User, profile_id: uuid.UUID, approve: bool, reason: str = "") -> Profile:
    profile = staff_profile(staff, profile_id)
    wanted = ProfileStatus.APPROVED if approve else ProfileStatus.REJECTED
    if profile.status == wanted:
        return profile
    if profile.status not in (ProfileStatus.PENDING, ProfileStatus.SUSPENDED) and approve:
        raise ApiError("volunteer_profile_decided", state=profile.status.value)
    if not approve and profile.status != ProfileStatus.PENDING:
        raise ApiError("volunteer_profile_decided", state=profile.status.value)
    profile.status = wanted
    profile.decided_by_id = staff.id
    profile.decided_at = utcnow()
    profile.reject_reason = None if approve else reason
    user = profile.user
    if user is not None:
        if approve:
            user.grant(Role.VOLUNTEER)
        notify(
            user,
            "volunteer_profile_decided",
            {"outcome": "已通过" if approve else "未通过", "reason": "" if approve else f"原因：{reason}"},
            subject_path=profile.area.path,
        )
    db.session.flush()
    return profile


# ------------------------------------------------------------------------------------------------
# Groups
# ------------------------------------------------------------------------------------------------


def create_group(staff: User, data: dict[str, Any]) -> Group:
    access.ensure_staff(staff)
    area_id = data.get("area_id") or staff.staff_area_id
    if area_id is None:
        raise ApiError("validation_failed", errors={"area_id": ["required for staff without an area"]})
    area = scope.area_for(staff, area_id)
    if area.kind not in (AreaKind.COMMITTEE, AreaKind.SUBDISTRICT):
        raise ApiError("validation_failed", errors={"area_id": ["a committee or the subdistrict"]})
    group = Group(name=data["name"], description=data.get("description", ""), area_id=area.id, created_by_id=staff.id)
    db.session.add(group)
    db.session.flush()
    return group


def managed_groups(user: User) -> Select[tuple[Group]]:
    return access.managed(user, select(Group), Group)


def managed_group(user: User, group_id: uuid.UUID) -> Group:
    return access.ensure_manages(user, db.session.get(Group, group_id))


def update_group(user: User, group_id: uuid.UUID, changes: dict[str, Any]) -> Group:
    group = managed_group(user, group_id)
    for key in ("name", "description"):
        if key in changes:
            setattr(group, key, changes[key])
    if "archived" in changes:
        access.ensure_staff(user)
        group.archived_at = (group.archived_at or utcnow()) if changes["archived"] else None
    db.session.flush()
    return group


def add_member(user: User, group_id: uuid.UUID, profile_id: uuid.UUID, role: GroupRole) -> GroupMember:
    """Leaders add members; only staff make leaders."""
    group = managed_group(user, group_id)
    if role == GroupRole.LEADER:
        access.ensure_staff(user)
    profile = db.session.get(Profile, profile_id)
    if profile is None or profile.status != ProfileStatus.APPROVED:
        raise ApiError("validation_failed", errors={"profile_id": ["an approved volunteer"]})
    member = db.session.scalar(
        select(GroupMember).where(GroupMember.group_id == group.id, GroupMember.profile_id == profile.id)
    )
    if member is None:
        member = GroupMember(group_id=group.id, profile_id=profile.id, role=role)
        db.session.add(member)
    elif member.role != role:
        access.ensure_staff(user)
        member.role = role
    db.session.flush()
    return member


def remove_member(user: User, group_id: uuid.UUID, profile_id: uuid.UUID) -> None:
    group = managed_group(user, group_id)
    member = db.session.scalar(
        select(GroupMember).where(GroupMember.group_id == group.id, GroupMember.profile_id == profile_id)
    )
    if member is None:
        raise NotFound()
    if member.role == GroupRole.LEADER:
        access.ensure_staff(user)
    db.session.delete(member)
    db.session.flush()


def my_groups(profile: Profile) -> list[uuid.UUID]:
    return list(db.session.scalars(select(GroupMember.group_id).where(GroupMember.profile_id == profile.id)))


# ------------------------------------------------------------------------------------------------
# Tasks: staff and leaders
# ------------------------------------------------------------------------------------------------

EDITABLE = (
    "title",
    "kind",
    "description",
    "address",
    "door_notes",
    "lat",
    "lng",
    "starts_at",
    "ends_at",
    "slots",
    "waitlist_limit",
    "checkin_rule",
    "geofence_radius_m",
    "served_code",
    "reserved_slots",
    "reserved_until",
    "coins",
    "cancel_cutoff_minutes",
)


def _group_for(user: User, group_id: uuid.UUID | None, field: str) -> Group | None:
    if group_id is None:
        return None
    group = db.session.get(Group, group_id)
    if group is None or not access.manages(user, group):
        raise ApiError("validation_failed", errors={field: ["not found"]})
    return group


def _area_for(user: User, area_id: uuid.UUID | None, group: Group | None) -> Area:
    """Staff place a task in their area; leaders in their group's."""
    if user.is_staff:
        chosen = area_id or (group.area_id if group is not None else None) or user.staff_area_id
        if chosen is None:
            raise ApiError("validation_failed", errors={"area_id": ["required for staff without an area"]})
        return scope.area_for(user, chosen)
    assert group is not None
    if area_id is None:
        return group.area
    area = db.session.get(Area, area_id)
    if area is None or not area.path.startswith(group.area.path):
        raise ApiError("validation_failed", errors={"area_id": ["inside your group's area"]})
    return area


def _check(values: dict[str, Any], area: Area) -> None:
    errors: dict[str, list[str]] = {}
    if values["ends_at"] <= values["starts_at"]:
        errors["ends_at"] = ["must be after starts_at"]
    if values.get("reserved_slots", 0) > values["slots"]:
        errors["reserved_slots"] = ["at most the number of slots"]
    if values.get("reserved_slots") and (
        values.get("reserved_group_id") is None or values.get("reserved_until") is None
    ):
        errors["reserved_group_id"] = ["reserved places need a group and an expiry"]
    if values.get("reserved_until") is not None and values["reserved_until"] > values["starts_at"]:
        errors.setdefault("reserved_until", []).append("must not be after starts_at")
    unplaced = values.get("lat") is None or values.get("lng") is None
    if values["checkin_rule"] == CheckinRule.GEOFENCE and unplaced and places.point_of(area) is None:
        errors["lat"] = ["a geofence check-in needs the task's location (or an estate's)"]
    if (values.get("lat") is None) != (values.get("lng") is None):
        errors["lng"] = ["lat and lng go together"]
    if errors:
        raise ApiError("validation_failed", errors=errors)


def create_task(user: User, data: dict[str, Any], settings: Settings) -> Task:
    """A new open task, owned by whoever creates it (staff, or the leader of the group it is for)."""
    group = _group_for(user, data.get("group_id"), "group_id")
    if group is None and not user.is_staff:
        raise ApiError("validation_failed", errors={"group_id": ["required: the group you lead"]})
    area = _area_for(user, data.get("area_id"), group)
    reserved_group = _group_for(user, data.get("reserved_group_id"), "reserved_group_id") if user.is_staff else None
    if data.get("reserved_group_id") is not None and reserved_group is None:
        reserved_group = group if group is not None and group.id == data["reserved_group_id"] else None
        if reserved_group is None:
            raise ApiError("validation_failed", errors={"reserved_group_id": ["not found"]})
    values = {
        "waitlist_limit": 0,
        "geofence_radius_m": 150,
        "reserved_slots": 0,
        "reserved_until": None,
        "cancel_cutoff_minutes": settings.volunteers_cancel_cutoff_minutes,
        "coins": data["kind"] in ELDER_HELP,
        **{k: data[k] for k in EDITABLE if k in data},
        "reserved_group_id": reserved_group.id if reserved_group else None,
    }
    _check(values, area)
    if values["checkin_rule"] == CheckinRule.SERVED_CODE and not values.get("served_code"):
        values["served_code"] = six_digits()
    task = Task(
        **values,
        area_id=area.id,
        group_id=group.id if group is not None else None,
        owner_id=user.id,
        created_by_id=user.id,
        checkin_code=six_digits(),
        source=TaskSource.MANUAL,
        status=TaskStatus.OPEN,
    )
    task.skills = _skills_by_code(data.get("skills") or [], "skills")
    db.session.add(task)
    db.session.flush()
    return task


def managed_tasks(
    user: User, status: TaskStatus | None = None, starts_from: datetime | None = None
) -> Select[tuple[Task]]:
    stmt = access.managed(user, select(Task), Task).options(selectinload(Task.skills))  # a page's in one statement
    if status is not None:
        stmt = stmt.where(Task.status == status)
    if starts_from is not None:
        stmt = stmt.where(Task.starts_at >= starts_from)
    return stmt


def lock_task(task_id: uuid.UUID) -> Task:
    task = db.session.scalar(
        select(Task).where(Task.id == task_id).with_for_update(of=Task).execution_options(populate_existing=True)
    )
    if task is None:
        raise NotFound()
    return task


def managed_task(user: User, task_id: uuid.UUID, *, lock: bool = False) -> Task:
    return access.ensure_manages(user, lock_task(task_id) if lock else db.session.get(Task, task_id))


def update_task(user: User, task_id: uuid.UUID, changes: dict[str, Any], settings: Settings) -> Task:
    """Edit an open task; raising its places fills them from the waitlist at once."""
    from api.volunteers import roster

    task = managed_task(user, task_id, lock=True)
    if task.status != TaskStatus.OPEN:
        raise ApiError("task_not_open", state=task.status.value)
    merged = {k: changes.get(k, getattr(task, k)) for k in EDITABLE}
    merged["reserved_group_id"] = task.reserved_group_id
    _check(merged, task.area)
    if merged["slots"] < task.confirmed_count:
        raise ApiError("validation_failed", errors={"slots": [f"at least {task.confirmed_count} (confirmed already)"]})
    if merged["waitlist_limit"] < task.waitlist_count:
        raise ApiError("validation_failed", errors={"waitlist_limit": [f"at least {task.waitlist_count}"]})
    if merged["reserved_slots"] < task.reserved_taken:
        raise ApiError("validation_failed", errors={"reserved_slots": [f"at least {task.reserved_taken}"]})
    for key, value in changes.items():
        if key == "skills":
            task.skills = _skills_by_code(value, "skills")
        elif key in EDITABLE:
            setattr(task, key, value)
    db.session.flush()
    roster.promote(task, settings, utcnow())
    return task


# ------------------------------------------------------------------------------------------------
# Tasks: what a volunteer sees
# ------------------------------------------------------------------------------------------------


def place_name(task: Task) -> str:
    """The coarse place everyone sees: the estate or committee, never the door."""
    return task.area.full_name or task.area.name


def shows_address(task: Task, signup: Signup | None, settings: Settings, now: datetime | None = None) -> bool:
    """The exact address and door notes: for a confirmed volunteer, from a while before the window to its end."""
    if signup is None or signup.status not in (SignupStatus.CONFIRMED, SignupStatus.ATTENDED):
        return False
    if task.status not in (TaskStatus.OPEN, TaskStatus.HANDLED):
        return False
    now = now or utcnow()
    lead = timedelta(minutes=settings.volunteers_address_lead_minutes)
    return task.starts_at - lead <= now <= task.ends_at


def my_signups(user: User, task_ids: list[uuid.UUID]) -> dict[uuid.UUID, Signup | None]:
    """`my_signup` for a page of tasks, in one statement: the latest sign-up of each, None where there is none."""
    found: dict[uuid.UUID, Signup | None] = dict.fromkeys(task_ids)
    if task_ids:
        rows = db.session.scalars(
            select(Signup)
            .where(Signup.user_id == user.id, Signup.task_id.in_(task_ids))
            .order_by(Signup.created_at, Signup.id)
        )
        for signup in rows:
            found[signup.task_id] = signup  # in order: the latest stays
    return found


def my_signup(user: User, task_id: uuid.UUID) -> Signup | None:
    return db.session.scalar(
        select(Signup)
        .where(Signup.task_id == task_id, Signup.user_id == user.id)
        .order_by(Signup.created_at.desc(), Signup.id.desc())
        .limit(1)
    )


def visible_task(user: User, task_id: uuid.UUID) -> Task:
    """A task as a volunteer may see it: open ones, and any they signed up for or were offered."""
    task = db.session.get(Task, task_id)
    if task is None:
        raise NotFound()
    offered_only = task.source == TaskSource.ALERT or task.status != TaskStatus.OPEN
    if offered_only and my_signup(user, task_id) is None:
        raise NotFound()
    return task


def _eligible_area(profile_paths: list[str]) -> Any:
    """Tasks placed in one of my committees, or above them (the subdistrict's own tasks are everyone's)."""
    if not profile_paths:
        return literal(False)
    path = select(Area.path).where(Area.id == Task.area_id).scalar_subquery()
    return or_(
        *[path.startswith(p, autoescape=True) for p in profile_paths],
        *[literal(p).startswith(path) for p in profile_paths],
    )


def open_tasks(profile: Profile, now: datetime) -> Select[Any]:
    """Open tasks `profile` can take: not started, in their committees, needing no skill they lack, not clashing
    with a task they are confirmed for, and not one they are already on. Alarms are offered, not listed."""
    mine = select(volunteer_profile_skills.c.skill_id).where(volunteer_profile_skills.c.profile_id == profile.id)
    lacking = exists().where(volunteer_task_skills.c.task_id == Task.id, volunteer_task_skills.c.skill_id.not_in(mine))
    other = Task.__table__.alias("other")
    clash = (
        select(Signup.id)
        .join(other, other.c.id == Signup.task_id)
        .where(
            Signup.user_id == profile.user_id,
            Signup.status == SignupStatus.CONFIRMED,
            other.c.starts_at < Task.ends_at,
            other.c.ends_at > Task.starts_at,
        )
        .exists()
    )
    already = (
        select(Signup.id)
        .where(
            Signup.task_id == Task.id,
            Signup.user_id == profile.user_id,
            Signup.status.in_(("confirmed", "waitlisted", "offered")),
        )
        .exists()
    )
    committees = list(
        db.session.scalars(
            select(Area.path)
            .join(volunteer_profile_committees, volunteer_profile_committees.c.area_id == Area.id)
            .where(volunteer_profile_committees.c.profile_id == profile.id)
        )
    )
    # The skills each task asks for are shown with it: a page's in one statement, not one per task.
    return (
        select(Task)
        .where(
            Task.status == TaskStatus.OPEN,
            Task.source != TaskSource.ALERT,
            Task.starts_at > now,
            _eligible_area(committees),
            ~lacking,
            ~clash,
            ~already,
            or_(Task.confirmed_count < Task.slots, Task.waitlist_count < Task.waitlist_limit),
        )
        .options(selectinload(Task.skills))
    )


def with_distance(stmt: Select[Any], lat: float, lng: float) -> Select[Any]:
    """The statement with each task's squared distance from (lat, lng) as a second column (the task's own point,
    else its estate's)."""
    area_lat = select(Area.lat).where(Area.id == Task.area_id).scalar_subquery()
    area_lng = select(Area.lng).where(Area.id == Task.area_id).scalar_subquery()
    from sqlalchemy import func

    point_lat = func.coalesce(Task.lat, area_lat)
    point_lng = func.coalesce(Task.lng, area_lng)
    return stmt.add_columns(places.squared_distance(point_lat, point_lng, lat, lng).label("d2"))


def in_availability(profile: Profile, task: Task) -> bool:
    """Whether the task's start falls in one of the volunteer's weekly slots (no slots given: always)."""
    slots = profile.availability or []
    if not slots:
        return True
    local = task.starts_at.astimezone(LOCAL_TZ)
    moment = f"{local:%H:%M}"
    return any(
        s.get("weekday") == local.isoweekday() and s.get("start", "") <= moment < s.get("end", "") for s in slots
    )


def places_left_for(task: Task, profile: Profile | None, now: datetime) -> int:
    """Places this volunteer could take now: reserved places count only for the reserved group's members."""
    reserved_open = task.reserved_slots if task.reserved_until is not None and task.reserved_until > now else 0
    general = task.slots - max(reserved_open, task.reserved_taken) - (task.confirmed_count - task.reserved_taken)
    if profile is not None and reserved_open and task.reserved_group_id in my_groups(profile):
        return max(general, 0) + max(reserved_open - task.reserved_taken, 0)
    return max(general, 0)


# Built once (see `api.events.services._WAITLIST_AHEAD`): a waitlisted sign-up's place, counted with the row.
_AHEAD = aliased(Signup)
_WAITLIST_AHEAD = (
    select(func.count())
    .select_from(_AHEAD)
    .where(
        _AHEAD.task_id == Signup.task_id,
        _AHEAD.status == SignupStatus.WAITLISTED,
        _AHEAD.waitlist_seq < Signup.waitlist_seq,
    )
    .correlate(Signup)
    .scalar_subquery()
)


def my_tasks(user: User) -> Select[tuple[Signup]]:
    """My sign-ups, each waitlisted one with its place in line: a page costs one statement, not one count each."""
    return (
        select(Signup).where(Signup.user_id == user.id).options(with_expression(Signup.waitlist_ahead, _WAITLIST_AHEAD))
    )


def coarse_context(task: Task) -> dict[str, Any]:
    return {
        "task_id": str(task.id),
        "task_title": task.title,
        "place": place_name(task),
        "starts_at": task.starts_at,
        "starts_at_text": local_text(task.starts_at),
    }
