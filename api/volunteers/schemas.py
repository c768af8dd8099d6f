"""Request and response shapes of the volunteers domain: the volunteer's side (profile, task list, sign-ups, on-site,
hours, coins, certificates, leaderboards) and the coordinators' (skills, profiles, groups, tasks, rosters, hours)."""

from __future__ import annotations

from typing import Any

from flask import current_app, g
from marshmallow import Schema, ValidationError, fields, validate, validates_schema

from api.fields import Date, DateTime, Text
from api.pagination import CursorArgs
from api.volunteers import ledger, services
from api.volunteers.models import (
    CheckinRule,
    ClaimOrigin,
    ClaimStatus,
    CoinKind,
    GroupRole,
    HourKind,
    ProfileStatus,
    SignupStatus,
    TaskKind,
    TaskSource,
    TaskStatus,
)

HHMM = validate.Regexp(r"^([01]\d|2[0-3]):[0-5]\d$|^24:00$", error="HH:MM")
CODE = validate.Regexp(r"^\d{6}$", error="six digits")


def _settings() -> Any:
    return current_app.extensions["linli.settings"]


def _hours(minutes: int | None) -> float:
    return round((minutes or 0) / 60, 2)


# ------------------------------------------------------------------------------------------------
# Skills, profiles
# ------------------------------------------------------------------------------------------------


class VolunteerSkillSchema(Schema):
    id = fields.UUID(required=True)
    code = Text(required=True)
    name = Text(required=True)
    retired = fields.Function(lambda s: s.retired_at is not None, required=True, metadata={"type": "boolean"})


class SkillCreateArgs(Schema):
    code = Text(required=True, validate=validate.Regexp(r"^[a-z][a-z0-9_]{1,31}$", error="a-z, 0-9, _"))
    name = Text(required=True, validate=validate.Length(min=1, max=32))


class SkillPatchArgs(Schema):
    name = Text(validate=validate.Length(min=1, max=32))
    retired = fields.Boolean()


class AvailabilitySchema(Schema):
    weekday = fields.Integer(
        required=True, validate=validate.Range(min=1, max=7), metadata={"description": "1 = Monday"}
    )
    start = Text(required=True, validate=HHMM)
    end = Text(required=True, validate=HHMM)

    @validates_schema
    def _ordered(self, data: dict[str, Any], **_: Any) -> None:
        if data["end"] <= data["start"]:
            raise ValidationError("must be after start", "end")


class AreaRefSchema(Schema):
    id = fields.UUID(required=True)
    name = Text(required=True)


class VolunteerProfileArgs(Schema):
    real_name = Text(required=True, validate=validate.Length(min=2, max=32), metadata={"description": "实名"})
    skills = fields.List(Text(validate=validate.Length(max=32)), load_default=list, validate=validate.Length(max=30))
    committee_ids = fields.List(
        fields.UUID(),
        required=True,
        validate=validate.Length(min=1, max=10),
        metadata={"description": "the first: where I apply"},
    )
    home_estate_id = fields.UUID(load_default=None, allow_none=True)
    availability = fields.List(fields.Nested(AvailabilitySchema), load_default=list, validate=validate.Length(max=21))
    leaderboard_opt_out = fields.Boolean(load_default=False)


class VolunteerProfilePatchArgs(Schema):
    real_name = Text(validate=validate.Length(min=2, max=32))
    skills = fields.List(Text(validate=validate.Length(max=32)), validate=validate.Length(max=30))
    committee_ids = fields.List(fields.UUID(), validate=validate.Length(min=1, max=10))
    home_estate_id = fields.UUID(allow_none=True)
    availability = fields.List(fields.Nested(AvailabilitySchema), validate=validate.Length(max=21))
    leaderboard_opt_out = fields.Boolean()


class DutyArgs(Schema):
    on_duty = fields.Boolean(required=True)
    lat = fields.Float(load_default=None, allow_none=True, validate=validate.Range(min=-90, max=90))
    lng = fields.Float(load_default=None, allow_none=True, validate=validate.Range(min=-180, max=180))


class VolunteerProfileSchema(Schema):
    id = fields.UUID(required=True)
    real_name = Text(required=True)
    status = fields.Enum(ProfileStatus, by_value=True, required=True)
    reject_reason = Text(allow_none=True, required=True)
    skills = fields.Function(
        lambda p: [s.code for s in p.skills], required=True, metadata={"type": "array", "items": {"type": "string"}}
    )
    committees = fields.Function(
        lambda p: [{"id": str(a.id), "name": a.name} for a in p.committees],
        required=True,
        metadata={"type": "array", "items": {"type": "object"}},
    )
    home_estate_id = fields.UUID(allow_none=True, required=True)
    availability = fields.List(fields.Nested(AvailabilitySchema), required=True)
    on_duty = fields.Boolean(required=True)
    leaderboard_opt_out = fields.Boolean(required=True)
    created_at = DateTime(required=True)


class MyProfileSchema(VolunteerProfileSchema):
    hours = fields.Method("_hours", required=True, metadata={"type": "number"})
    coins = fields.Method("_coins", required=True, metadata={"type": "number"})
    stars = fields.Method(
        "_stars", required=True, metadata={"type": "integer", "description": "0–5: 100/300/600/1000/1500 h"}
    )
    next_star_hours = fields.Method("_next", allow_none=True, required=True, metadata={"type": "integer"})

    def _standing(self, profile: Any) -> ledger.Standing:
        return ledger.standing(profile.user)

    def _hours(self, profile: Any) -> float:
        return _hours(self._standing(profile).minutes)

    def _coins(self, profile: Any) -> float:
        return self._standing(profile).centi / ledger.CENTI_PER_HOUR

    def _stars(self, profile: Any) -> int:
        return self._standing(profile).stars

    def _next(self, profile: Any) -> int | None:
        return self._standing(profile).next_star_hours


class ReliabilitySchema(Schema):
    attended = fields.Integer(required=True)
    no_shows = fields.Integer(required=True)
    late_cancels = fields.Integer(required=True)
    rate = fields.Float(allow_none=True, required=True, metadata={"description": "share of commitments kept"})


class StaffProfileSchema(VolunteerProfileSchema):
    user_id = fields.UUID(allow_none=True, required=True)
    area_id = fields.UUID(required=True)
    reliability = fields.Method("reliable", required=True, metadata={"type": "object"})

    def reliable(self, profile: Any) -> dict[str, Any]:
        from api.volunteers import roster

        if profile.user_id is None:
            return {"attended": 0, "no_shows": 0, "late_cancels": 0, "rate": None}
        return roster.reliability([profile.user_id])[profile.user_id]


class ProfileListArgs(CursorArgs):
    status = fields.Enum(ProfileStatus, by_value=True, load_default=None)


class VolunteerRejectArgs(Schema):
    reason = Text(required=True, validate=validate.Length(min=1, max=200))


# ------------------------------------------------------------------------------------------------
# Groups
# ------------------------------------------------------------------------------------------------


class GroupArgs(Schema):
    name = Text(required=True, validate=validate.Length(min=1, max=64))
    description = Text(multiline=True, load_default="", validate=validate.Length(max=2000))
    area_id = fields.UUID(load_default=None, metadata={"description": "a committee or the subdistrict (default: mine)"})


class GroupPatchArgs(Schema):
    name = Text(validate=validate.Length(min=1, max=64))
    description = Text(multiline=True, validate=validate.Length(max=2000))
    archived = fields.Boolean()


class VolunteerGroupMemberSchema(Schema):
    profile_id = fields.UUID(required=True)
    real_name = fields.Function(lambda m: m.profile.real_name, required=True, metadata={"type": "string"})
    role = fields.Enum(GroupRole, by_value=True, required=True)
    joined_at = DateTime(required=True)


class VolunteerGroupSchema(Schema):
    id = fields.UUID(required=True)
    name = Text(required=True)
    description = Text(required=True)
    area_id = fields.UUID(required=True)
    area_name = fields.Function(lambda g_: g_.area.name, required=True, metadata={"type": "string"})
    archived = fields.Function(lambda g_: g_.archived_at is not None, required=True, metadata={"type": "boolean"})
    members = fields.List(fields.Nested(VolunteerGroupMemberSchema), required=True)


class MemberArgs(Schema):
    profile_id = fields.UUID(required=True)
    role = fields.Enum(GroupRole, by_value=True, load_default=GroupRole.MEMBER)


# ------------------------------------------------------------------------------------------------
# Tasks
# ------------------------------------------------------------------------------------------------


class TaskWriteSchema(Schema):
    title = Text(validate=validate.Length(min=1, max=64))
    kind = fields.Enum(TaskKind, by_value=True)
    description = Text(multiline=True, validate=validate.Length(max=5000))
    area_id = fields.UUID(metadata={"description": "the coarse place (default: mine, or my group's)"})
    address = Text(validate=validate.Length(max=200), metadata={"description": "exact: for the confirmed only"})
    door_notes = Text(multiline=True, validate=validate.Length(max=1000))
    lat = fields.Float(allow_none=True, validate=validate.Range(min=-90, max=90))
    lng = fields.Float(allow_none=True, validate=validate.Range(min=-180, max=180))
    starts_at = DateTime()
    ends_at = DateTime()
    slots = fields.Integer(validate=validate.Range(min=1, max=10_000))
    waitlist_limit = fields.Integer(validate=validate.Range(min=0, max=10_000))
    skills = fields.List(Text(validate=validate.Length(max=32)), validate=validate.Length(max=20))
    checkin_rule = fields.Enum(CheckinRule, by_value=True)
    geofence_radius_m = fields.Integer(validate=validate.Range(min=20, max=2000))
    served_code = Text(allow_none=True, validate=CODE, metadata={"description": "the served person's code"})
    reserved_group_id = fields.UUID(allow_none=True)
    reserved_slots = fields.Integer(validate=validate.Range(min=0, max=10_000))
    reserved_until = DateTime(allow_none=True)
    coins = fields.Boolean(metadata={"description": "earns time coins (default: elder-help kinds)"})
    cancel_cutoff_minutes = fields.Integer(validate=validate.Range(min=0, max=30 * 24 * 60))
    group_id = fields.UUID(allow_none=True, metadata={"description": "the group that records the hours"})


class TaskCreateArgs(TaskWriteSchema):
    title = Text(required=True, validate=validate.Length(min=1, max=64))
    kind = fields.Enum(TaskKind, by_value=True, required=True)
    starts_at = DateTime(required=True)
    ends_at = DateTime(required=True)
    slots = fields.Integer(required=True, validate=validate.Range(min=1, max=10_000))
    checkin_rule = fields.Enum(CheckinRule, by_value=True, required=True)
    description = Text(multiline=True, load_default="", validate=validate.Length(max=5000))
    address = Text(load_default="", validate=validate.Length(max=200))
    door_notes = Text(multiline=True, load_default="", validate=validate.Length(max=1000))


class TaskPatchArgs(TaskWriteSchema):
    class Meta:
        exclude = ("area_id", "group_id", "reserved_group_id")


class VolunteerTaskSchema(Schema):
    """A task as a volunteer sees it: the exact place only when confirmed and near the time."""

    id = fields.UUID(required=True)
    title = Text(required=True)
    kind = fields.Enum(TaskKind, by_value=True, required=True)
    description = Text(required=True)
    place = fields.Function(services.place_name, required=True, metadata={"type": "string", "description": "coarse"})
    area_id = fields.UUID(required=True)
    starts_at = DateTime(required=True)
    ends_at = DateTime(required=True)
    slots = fields.Integer(required=True)
    places_left = fields.Method("left", required=True, metadata={"type": "integer"})
    waitlist_count = fields.Integer(required=True)
    waitlist_limit = fields.Integer(required=True)
    skills = fields.Function(
        lambda t: [s.code for s in t.skills], required=True, metadata={"type": "array", "items": {"type": "string"}}
    )
    checkin_rule = fields.Enum(CheckinRule, by_value=True, required=True)
    geofence_radius_m = fields.Integer(required=True)
    source = fields.Enum(TaskSource, by_value=True, required=True)
    status = fields.Enum(TaskStatus, by_value=True, required=True)
    urgent = fields.Boolean(required=True)
    coins = fields.Boolean(required=True)
    group_id = fields.UUID(allow_none=True, required=True)
    reserved_slots = fields.Integer(required=True)
    reserved_until = DateTime(allow_none=True, required=True)
    cancel_cutoff_minutes = fields.Integer(required=True)
    distance_m = fields.Method("distance", allow_none=True, required=True, metadata={"type": "integer"})
    in_my_availability = fields.Method("available", allow_none=True, required=True, metadata={"type": "boolean"})
    address = fields.Method("exact_address", allow_none=True, required=True, metadata={"type": "string"})
    door_notes = fields.Method("exact_notes", allow_none=True, required=True, metadata={"type": "string"})
    my_signup_id = fields.Method("signup_id", allow_none=True, required=True, metadata={"type": "string"})
    my_status = fields.Method("signup_status", allow_none=True, required=True, metadata={"type": "string"})

    def _signup(self, task: Any) -> Any:
        # Per request (the schema instance lives as long as the route): the reader's sign-up for each task shown.
        cache = g.setdefault("volunteer_signups", {})
        if task.id not in cache:
            user = g.get("user")
            cache[task.id] = services.my_signup(user, task.id) if user is not None else None
        return cache[task.id]

    def _profile(self) -> Any:
        # Per request, like `_signup`: the reader's volunteer profile (the list route sets it).
        if "volunteer_profile" not in g:
            user = g.get("user")
            g.volunteer_profile = services.profile_of(user) if user is not None else None
        return g.volunteer_profile

    def left(self, task: Any) -> int:
        from api.db import utcnow

        return services.places_left_for(task, self._profile(), utcnow())

    def distance(self, task: Any) -> int | None:
        d2 = getattr(task, "_d2", None)
        return int(d2**0.5) if d2 is not None and d2 < 1e14 else None

    def available(self, task: Any) -> bool | None:
        profile = self._profile()
        return services.in_availability(profile, task) if profile is not None else None

    def exact_address(self, task: Any) -> str | None:
        return task.address if services.shows_address(task, self._signup(task), _settings()) else None

    def exact_notes(self, task: Any) -> str | None:
        return task.door_notes if services.shows_address(task, self._signup(task), _settings()) else None

    def signup_id(self, task: Any) -> str | None:
        signup = self._signup(task)
        return str(signup.id) if signup is not None else None

    def signup_status(self, task: Any) -> str | None:
        signup = self._signup(task)
        return signup.status.value if signup is not None else None


class ManagedTaskSchema(VolunteerTaskSchema):
    """A task as its coordinators see it: everything, with the code to show on site."""

    owner_id = fields.UUID(allow_none=True, required=True)
    confirmed_count = fields.Integer(required=True)
    reserved_group_id = fields.UUID(allow_none=True, required=True)
    reserved_taken = fields.Integer(required=True)
    source_ref = Text(allow_none=True, required=True)
    checkin_code = Text(required=True, metadata={"description": "the owner's 6-digit code"})
    checkin_qr = fields.Function(
        lambda t: f"linli-vol:{t.id}:{t.checkin_code}",
        required=True,
        metadata={"type": "string", "description": "QR payload"},
    )
    served_code = Text(allow_none=True, required=True)
    cancel_reason = Text(allow_none=True, required=True)
    address = Text(required=True)
    door_notes = Text(required=True)


class TaskListArgs(CursorArgs):
    sort = Text(load_default="soonest", validate=validate.OneOf(["soonest", "nearest"]))
    lat = fields.Float(load_default=None, validate=validate.Range(min=-90, max=90))
    lng = fields.Float(load_default=None, validate=validate.Range(min=-180, max=180))


class ManagedTaskListArgs(CursorArgs):
    status = fields.Enum(TaskStatus, by_value=True, load_default=None)
    starts_from = DateTime(load_default=None)


class CancelTaskArgs(Schema):
    reason = Text(required=True, validate=validate.Length(min=1, max=200))


# ------------------------------------------------------------------------------------------------
# Sign-ups, on site, the roster
# ------------------------------------------------------------------------------------------------


class SignupTaskSchema(Schema):
    id = fields.UUID(required=True)
    title = Text(required=True)
    place = fields.Function(services.place_name, required=True, metadata={"type": "string"})
    starts_at = DateTime(required=True)
    ends_at = DateTime(required=True)
    status = fields.Enum(TaskStatus, by_value=True, required=True)
    urgent = fields.Boolean(required=True)


class VolunteerSignupSchema(Schema):
    id = fields.UUID(required=True)
    task_id = fields.UUID(required=True)
    status = fields.Enum(SignupStatus, by_value=True, required=True)
    position = fields.Method(
        "waiting", allow_none=True, required=True, metadata={"type": "integer", "description": "1 = next"}
    )
    created_at = DateTime(required=True)
    confirmed_at = DateTime(allow_none=True, required=True)
    attendance_confirmed_at = DateTime(allow_none=True, required=True)
    checked_in_at = DateTime(allow_none=True, required=True)
    checked_out_at = DateTime(allow_none=True, required=True)
    minutes = fields.Integer(allow_none=True, required=True)
    late_cancel = fields.Boolean(required=True)
    task = fields.Nested(SignupTaskSchema, required=True)
    address = fields.Method("exact_address", allow_none=True, required=True, metadata={"type": "string"})
    door_notes = fields.Method("exact_notes", allow_none=True, required=True, metadata={"type": "string"})

    def waiting(self, signup: Any) -> int | None:
        if signup.status != SignupStatus.WAITLISTED or signup.waitlist_seq is None:
            return None
        if signup.waitlist_ahead is not None:  # counted with the row (`services.my_tasks`)
            return signup.waitlist_ahead + 1
        from sqlalchemy import func, select

        from api.db import db
        from api.volunteers.models import Signup

        ahead = db.session.scalar(
            select(func.count())
            .select_from(Signup)
            .where(
                Signup.task_id == signup.task_id,
                Signup.status == SignupStatus.WAITLISTED,
                Signup.waitlist_seq < signup.waitlist_seq,
            )
        )
        return (ahead or 0) + 1

    def exact_address(self, signup: Any) -> str | None:
        return signup.task.address if services.shows_address(signup.task, signup, _settings()) else None

    def exact_notes(self, signup: Any) -> str | None:
        return signup.task.door_notes if services.shows_address(signup.task, signup, _settings()) else None


class RosterEntrySchema(Schema):
    id = fields.UUID(required=True, metadata={"description": "the sign-up"})
    user_id = fields.UUID(allow_none=True, required=True)
    real_name = fields.Method("name", allow_none=True, required=True, metadata={"type": "string"})
    status = fields.Enum(SignupStatus, by_value=True, required=True)
    waitlist_seq = fields.Integer(allow_none=True, required=True)
    reserved = fields.Boolean(required=True)
    overlap_override = fields.Boolean(required=True)
    created_at = DateTime(required=True)
    attendance_confirmed_at = DateTime(allow_none=True, required=True)
    checked_in_at = DateTime(allow_none=True, required=True)
    checked_out_at = DateTime(allow_none=True, required=True)
    flags = fields.List(Text(), required=True)
    minutes = fields.Integer(allow_none=True, required=True)
    late_cancel = fields.Boolean(required=True)
    leave_reason = Text(allow_none=True, required=True)
    offered_distance_m = fields.Integer(allow_none=True, required=True)
    reliability = fields.Method("reliable", required=True, metadata={"type": "object"})

    # The roster route loads the page's names and reliability in one statement each (`g.roster_names`,
    # `g.roster_reliability`); without them (one entry) they are read here.

    def name(self, signup: Any) -> str | None:
        if signup.user_id is None:
            return None
        names = g.get("roster_names")
        if names is not None and signup.user_id in names:
            return names[signup.user_id]
        profile = services.profile_of(signup.user)
        return profile.real_name if profile else None

    def reliable(self, signup: Any) -> dict[str, Any]:
        from api.volunteers import roster

        if signup.user_id is None:
            return {"attended": 0, "no_shows": 0, "late_cancels": 0, "rate": None}
        figures = g.get("roster_reliability")
        if figures is not None and signup.user_id in figures:
            return figures[signup.user_id]
        return roster.reliability([signup.user_id])[signup.user_id]


class LeaveArgs(Schema):
    reason = Text(load_default=None, allow_none=True, validate=validate.Length(max=200))


class CheckinArgs(Schema):
    lat = fields.Float(load_default=None, allow_none=True, validate=validate.Range(min=-90, max=90))
    lng = fields.Float(load_default=None, allow_none=True, validate=validate.Range(min=-180, max=180))
    accuracy = fields.Float(
        load_default=None,
        allow_none=True,
        validate=validate.Range(min=0, max=100_000),
        metadata={"description": "metres"},
    )
    code = Text(
        load_default=None,
        allow_none=True,
        validate=validate.Length(max=80),
        metadata={"description": "6 digits or the QR"},
    )


class AddSignupArgs(Schema):
    profile_id = fields.UUID(required=True)
    override_overlap = fields.Boolean(load_default=False)


class PromoteArgs(Schema):
    override_overlap = fields.Boolean(load_default=False)


class CloseRosterArgs(Schema):
    attended = fields.List(fields.UUID(), load_default=list, validate=validate.Length(max=10_000))
    no_show = fields.List(fields.UUID(), load_default=list, validate=validate.Length(max=10_000))

    @validates_schema
    def _apart(self, data: dict[str, Any], **_: Any) -> None:
        if set(data["attended"]) & set(data["no_show"]):
            raise ValidationError("a sign-up cannot be both attended and a no-show", "no_show")


# ------------------------------------------------------------------------------------------------
# Hours, coins, certificates, leaderboards
# ------------------------------------------------------------------------------------------------


class ClaimArgs(Schema):
    task_id = fields.UUID(required=True)
    profile_id = fields.UUID(required=True)
    minutes = fields.Integer(required=True, validate=validate.Range(min=1, max=24 * 60))
    note = Text(load_default="", validate=validate.Length(max=200))


class VolunteerHoursClaimSchema(Schema):
    id = fields.UUID(required=True)
    task_id = fields.UUID(required=True)
    task_title = fields.Function(lambda c: c.task.title, required=True, metadata={"type": "string"})
    user_id = fields.UUID(allow_none=True, required=True)
    minutes = fields.Integer(required=True)
    origin = fields.Enum(ClaimOrigin, by_value=True, required=True)
    note = Text(required=True)
    entered_by_id = fields.UUID(allow_none=True, required=True)
    status = fields.Enum(ClaimStatus, by_value=True, required=True)
    decided_by_id = fields.UUID(allow_none=True, required=True)
    decided_at = DateTime(allow_none=True, required=True)
    reject_reason = Text(allow_none=True, required=True)
    created_at = DateTime(required=True)


class ClaimListArgs(CursorArgs):
    status = fields.Enum(ClaimStatus, by_value=True, load_default=ClaimStatus.PENDING)


class ReverseArgs(Schema):
    reason = Text(required=True, validate=validate.Length(min=1, max=200))


class HourEntrySchema(Schema):
    id = fields.UUID(required=True)
    kind = fields.Enum(HourKind, by_value=True, required=True)
    minutes = fields.Integer(required=True)
    hours = fields.Function(lambda e: _hours(e.minutes), required=True, metadata={"type": "number"})
    task_id = fields.UUID(allow_none=True, required=True)
    group_id = fields.UUID(allow_none=True, required=True)
    served_at = DateTime(required=True)
    reverses_id = fields.UUID(allow_none=True, required=True)
    created_at = DateTime(required=True)


class CoinEntrySchema(Schema):
    id = fields.UUID(required=True)
    kind = fields.Enum(CoinKind, by_value=True, required=True)
    coins = fields.Function(lambda e: e.centi / ledger.CENTI_PER_HOUR, required=True, metadata={"type": "number"})
    task_id = fields.UUID(allow_none=True, required=True)
    reverses_id = fields.UUID(allow_none=True, required=True)
    created_at = DateTime(required=True)


class ReversalSchema(Schema):
    entry_id = fields.Function(lambda r: str(r.entry.id), required=True, metadata={"type": "string"})
    reverses_id = fields.Function(lambda r: str(r.reverses.id), required=True, metadata={"type": "string"})
    reason = Text(required=True)


class CoinsArgs(Schema):
    coins = fields.Float(
        required=True, validate=validate.Range(min=0.01, max=100_000), metadata={"description": "up to 2 decimals"}
    )

    @validates_schema
    def _hundredths(self, data: dict[str, Any], **_: Any) -> None:
        if abs(round(data["coins"] * 100) - data["coins"] * 100) > 1e-6:
            raise ValidationError("at most two decimals", "coins")


class GiftArgs(CoinsArgs):
    to_user_id = fields.UUID(required=True, metadata={"description": "a family member"})


class TransferSchema(Schema):
    transfer_id = fields.UUID(required=True)
    coins = fields.Float(required=True)
    balance = fields.Float(required=True)


class CertificateArgs(Schema):
    since = Date(load_default=None, metadata={"description": "first day (Shanghai); none: from the start"})
    until = Date(load_default=None, metadata={"description": "last day, inclusive; none: today"})


class CertificateLineSchema(Schema):
    group = Text(required=True)
    recorded_by = Text(required=True)
    hours = fields.Function(lambda line: _hours(line["minutes"]), required=True, metadata={"type": "number"})


class VerificationSchema(Schema):
    valid = fields.Constant(True, required=True, metadata={"type": "boolean"})
    code = Text(required=True)
    holder = fields.Method("masked", required=True, metadata={"type": "string", "description": "name, masked"})
    hours = fields.Function(lambda c: _hours(c.total_minutes), required=True, metadata={"type": "number"})
    stars = fields.Function(lambda c: ledger.stars(c.total_minutes), required=True, metadata={"type": "integer"})
    period_from = DateTime(allow_none=True, required=True)
    period_to = DateTime(allow_none=True, required=True)
    lines = fields.List(fields.Nested(CertificateLineSchema), required=True)
    issued_at = DateTime(required=True)
    issuer = fields.Constant("控江路街道", required=True, metadata={"type": "string"})

    def masked(self, certificate: Any) -> str:
        from api.volunteers.certificates import mask_name

        return mask_name(certificate.holder_name)


class LeaderboardArgs(Schema):
    group_id = fields.UUID(load_default=None)
    committee_id = fields.UUID(load_default=None)
    since = DateTime(load_default=None)

    @validates_schema
    def _one(self, data: dict[str, Any], **_: Any) -> None:
        if (data["group_id"] is None) == (data["committee_id"] is None):
            raise ValidationError("name a group or a committee", "group_id")


class LeaderSchema(Schema):
    rank = fields.Integer(required=True)
    name = Text(required=True, metadata={"description": "masked"})
    hours = fields.Float(required=True)
    stars = fields.Integer(required=True)
    me = fields.Boolean(required=True)


class LeaderboardSchema(Schema):
    items = fields.List(fields.Nested(LeaderSchema), required=True)
