"""Request and response shapes of party affairs. Money is integer fen; months are "YYYY-MM"; times are ISO 8601
in Asia/Shanghai."""

from __future__ import annotations

from typing import Any

from marshmallow import Schema, ValidationError, fields, validate, validates_schema

from api.fields import Date, DateTime, PersonalText, Text
from api.pagination import CursorArgs
from api.party.calendar import month_label
from api.party.models import (
    AttendanceStatus,
    ClaimStatus,
    DeclarationStatus,
    DuesChannel,
    DuesPaymentStatus,
    IncomeKind,
    LeaveState,
    MaterialKind,
    MeetingKind,
    MeetingStatus,
    MemberCategory,
    MemberStatus,
    MinutesStatus,
    OfficerPost,
    OrgKind,
    PointAction,
    PointCycle,
    RegistrationStatus,
    SignInVia,
    TransferDirection,
    TransferReach,
    TransferStatus,
)

CODE = validate.Regexp(r"^[A-Za-z0-9-]{2,24}$", error="2–24 letters, digits or dashes")
MONTH = validate.Regexp(r"^\d{4}-\d{2}$", error="a month such as 2026-03")
QUARTER = validate.Regexp(r"^\d{4}Q[1-4]$", error="a quarter such as 2026Q2")
HTTPS = validate.Regexp(r"^https://\S+$", error="an https:// address")


def _month(value: Any) -> str | None:
    return month_label(value) if value is not None else None


class PartyPhotoSchema(Schema):
    id = fields.UUID(required=True)
    url = Text(required=True, allow_none=True)
    thumbnail_url = Text(required=True, allow_none=True)
    url_expires_at = DateTime(required=True, allow_none=True)


def _minutes_actions(minutes: Any) -> list[str]:
    from api.party.meetings import allowed_minutes_actions

    return allowed_minutes_actions(minutes.status)


def _transfer_actions(transfer: Any) -> list[str]:
    from api.party.transfers import allowed_actions

    return allowed_actions(transfer)


def photos(record_type: str, record: Any) -> list[Any]:
    """The photos attached to a record, with URLs signed for whoever asked (the route checked they may)."""
    from api.media.services import photos_on, present
    from api.media.storage import get_storage

    storage = get_storage()
    return PartyPhotoSchema(many=True).dump([present(m, storage) for m in photos_on(record, record_type)])


class PartyQuarterArgs(Schema):
    quarter = Text(load_default=None, validate=QUARTER, metadata={"description": "2026Q2; default: this quarter"})


class PartyOrgRefSchema(Schema):
    id = fields.UUID(required=True)
    name = Text(required=True)
    kind = fields.Enum(OrgKind, by_value=True, required=True)


class PartyPostSchema(Schema):
    org_id = fields.UUID(required=True)
    org_name = Text(required=True)
    post = fields.Enum(OfficerPost, by_value=True, required=True)
    post_name = Text(required=True)


# ------------------------------------------------------------------------------------------------
# Organisations and officers
# ------------------------------------------------------------------------------------------------


class PartyOrgCreateArgs(Schema):
    code = Text(required=True, validate=CODE, metadata={"description": "unique; the tree's path is made of codes"})
    name = Text(required=True, validate=validate.Length(min=1, max=64))
    kind = fields.Enum(OrgKind, by_value=True, required=True)
    parent_id = fields.UUID(load_default=None, allow_none=True, metadata={"description": "none: a top committee"})
    area_id = fields.UUID(load_default=None, allow_none=True, metadata={"description": "default: the parent's"})


class PartyOrgListArgs(CursorArgs):
    kind = fields.Enum(OrgKind, by_value=True, load_default=None)
    parent_id = fields.UUID(load_default=None)


class PartyOrgSchema(Schema):
    id = fields.UUID(required=True)
    code = Text(required=True)
    name = Text(required=True)
    kind = fields.Enum(OrgKind, by_value=True, required=True)
    parent_id = fields.UUID(required=True, allow_none=True)
    area_id = fields.UUID(required=True)
    area_name = fields.Function(lambda o: o.area.full_name or o.area.name, required=True, metadata={"type": "string"})
    created_at = DateTime(required=True)


class PartyPublicOrgArgs(CursorArgs):
    area_id = fields.UUID(load_default=None, metadata={"description": "branches of this committee or estate"})


class PartyPublicOrgSchema(Schema):
    id = fields.UUID(required=True)
    name = Text(required=True)
    area_name = fields.Function(lambda o: o.area.full_name or o.area.name, required=True, metadata={"type": "string"})


class PartyOfficerArgs(Schema):
    member_id = fields.UUID(required=True)
    post = fields.Enum(OfficerPost, by_value=True, required=True)
    started_on = Date(load_default=None)


class PartyOfficerSchema(Schema):
    id = fields.UUID(required=True)
    org = fields.Nested(PartyOrgRefSchema, required=True)
    member_id = fields.UUID(required=True)
    name = Text(attribute="member.name", required=True, dump_only=True)
    post = fields.Enum(OfficerPost, by_value=True, required=True)
    started_on = Date(required=True)
    ended_on = Date(required=True, allow_none=True)


class PartyOfficerListArgs(Schema):
    include_ended = fields.Boolean(load_default=False)


class PartyOfficerListSchema(Schema):
    items = fields.List(fields.Nested(PartyOfficerSchema), required=True)


# ------------------------------------------------------------------------------------------------
# Members
# ------------------------------------------------------------------------------------------------


class PartyMemberSchema(Schema):
    """A member's full record: theirs to read, and their branch's and the levels above (in the access log)."""

    id = fields.UUID(required=True)
    name = Text(required=True)
    category = fields.Enum(MemberCategory, by_value=True, required=True)
    joined_on = Date(required=True)
    full_on = Date(required=True, allow_none=True)
    branch = fields.Nested(PartyOrgRefSchema, required=True)
    group = fields.Nested(PartyOrgRefSchema, required=True, allow_none=True)
    posts = fields.List(fields.Nested(PartyPostSchema), required=True)
    is_mobile = fields.Boolean(required=True, metadata={"description": "流动党员"})
    status = fields.Enum(MemberStatus, by_value=True, required=True)
    status_changed_at = DateTime(required=True)
    status_reason = Text(required=True, allow_none=True)
    dues_standard_fen = fields.Integer(required=True)
    dues_paid_until = Text(required=True, allow_none=True, metadata={"description": "the last month paid, 2026-03"})
    dues_flagged = fields.Boolean(required=True, metadata={"description": "six months unpaid, flagged to the branch"})
    hide_from_rankings = fields.Boolean(required=True)
    has_account = fields.Boolean(required=True)
    created_at = DateTime(required=True)


class PartyStaffMemberSchema(PartyMemberSchema):
    user_id = fields.UUID(required=True, allow_none=True)


class PartyMemberLogSchema(Schema):
    id = fields.UUID(required=True)
    kind = Text(required=True)
    data = fields.Dict(required=True)
    at = DateTime(required=True)


class PartyStaffMemberDetailSchema(PartyStaffMemberSchema):
    history = fields.List(fields.Nested(PartyMemberLogSchema), required=True)


class PartyMemberCreateArgs(Schema):
    name = Text(required=True, validate=validate.Length(min=1, max=32))
    user_id = fields.UUID(load_default=None, allow_none=True, metadata={"description": "their resident account"})
    category = fields.Enum(MemberCategory, by_value=True, required=True)
    joined_on = Date(required=True)
    full_on = Date(load_default=None, allow_none=True)
    branch_id = fields.UUID(required=True)
    group_id = fields.UUID(load_default=None, allow_none=True)
    is_mobile = fields.Boolean(load_default=False)
    dues_start_month = Date(load_default=None, allow_none=True, metadata={"description": "first month owed here"})


class PartyMemberPatchArgs(Schema):
    name = Text(validate=validate.Length(min=1, max=32))
    user_id = fields.UUID(allow_none=True, metadata={"description": "link (or, with null, unlink) an account"})
    category = fields.Enum(MemberCategory, by_value=True)
    joined_on = Date()
    full_on = Date(allow_none=True)
    group_id = fields.UUID(allow_none=True)
    is_mobile = fields.Boolean()


class PartyMemberListArgs(CursorArgs):
    org_id = fields.UUID(load_default=None, metadata={"description": "members of this organisation and below"})
    status = fields.Enum(MemberStatus, by_value=True, load_default=None)
    q = Text(load_default=None, validate=validate.Length(max=32), metadata={"description": "name contains"})


class PartyMemberStatusArgs(Schema):
    status = fields.Enum(MemberStatus, by_value=True, required=True)
    reason = Text(required=True, validate=validate.Length(min=1, max=200))


class PartyMyMemberPatchArgs(Schema):
    hide_from_rankings = fields.Boolean(required=True)


class PartyRollEntrySchema(Schema):
    """A member of my branch as other members see them: a name and posts, nothing else."""

    name = Text(required=True)
    posts = fields.List(fields.Nested(PartyPostSchema), required=True)


# ------------------------------------------------------------------------------------------------
# Meetings
# ------------------------------------------------------------------------------------------------


class PartyMeetingCreateArgs(Schema):
    org_id = fields.UUID(required=True)
    kind = fields.Enum(MeetingKind, by_value=True, required=True)
    topic = Text(required=True, validate=validate.Length(min=1, max=100))
    place = Text(required=True, validate=validate.Length(min=1, max=100))
    starts_at = DateTime(required=True)
    ends_at = DateTime(required=True)
    presenter_name = Text(load_default="", validate=validate.Length(max=32))
    recorder_name = Text(load_default="", validate=validate.Length(max=32))
    invitee_ids = fields.List(fields.UUID(), load_default=list, validate=validate.Length(max=200))


class PartyMeetingListArgs(CursorArgs):
    org_id = fields.UUID(load_default=None)
    kind = fields.Enum(MeetingKind, by_value=True, load_default=None)


class PartyMeetingSchema(Schema):
    id = fields.UUID(required=True)
    org = fields.Nested(PartyOrgRefSchema, required=True)
    kind = fields.Enum(MeetingKind, by_value=True, required=True)
    topic = Text(required=True)
    place = Text(required=True)
    starts_at = DateTime(required=True)
    ends_at = DateTime(required=True)
    presenter_name = Text(required=True)
    recorder_name = Text(required=True)
    status = fields.Enum(MeetingStatus, by_value=True, required=True)
    cancel_reason = Text(required=True, allow_none=True)


class PartyMeetingCancelArgs(Schema):
    reason = Text(required=True, validate=validate.Length(min=1, max=200))


class PartyInviteesArgs(Schema):
    member_ids = fields.List(fields.UUID(), required=True, validate=validate.Length(min=1, max=200))


class PartyAwardSchema(Schema):
    points = fields.Integer(required=True)
    wanted = fields.Integer(required=True)
    note = Text(required=True, metadata={"description": "why fewer points than wanted (a cap), or empty"})


class PartyAttendanceSchema(Schema):
    id = fields.UUID(required=True)
    member_id = fields.UUID(required=True)
    name = Text(attribute="member.name", required=True, dump_only=True)
    invited = fields.Boolean(required=True)
    status = fields.Enum(AttendanceStatus, by_value=True, required=True)
    signed_in_at = DateTime(required=True, allow_none=True)
    signed_in_via = fields.Enum(SignInVia, by_value=True, required=True, allow_none=True)
    leave_state = fields.Enum(LeaveState, by_value=True, required=True)
    leave_reason = PersonalText(required=True, allow_none=True)
    leave_note = Text(required=True, allow_none=True)


class PartySignedInSchema(Schema):
    attendance = fields.Nested(PartyAttendanceSchema, required=True)
    points = fields.Nested(PartyAwardSchema, required=True, allow_none=True)


class PartyLeaveDecisionArgs(Schema):
    member_id = fields.UUID(required=True)
    approve = fields.Boolean(required=True)
    note = Text(load_default=None, allow_none=True, validate=validate.Length(max=200))


class PartyStaffSignInArgs(Schema):
    ticket = Text(
        load_default=None,
        allow_none=True,
        validate=validate.Length(max=120),
        metadata={"description": "the code on the member's phone"},
    )
    member_id = fields.UUID(load_default=None, allow_none=True, metadata={"description": "or: by hand (no phone)"})


class PartySignInCodeSchema(Schema):
    code = Text(required=True)
    qr_payload = Text(required=True)
    opens_at = DateTime(required=True)
    closes_at = DateTime(required=True)


class PartyMyMeetingSchema(Schema):
    meeting = fields.Nested(PartyMeetingSchema, required=True)
    status = fields.Enum(AttendanceStatus, by_value=True, required=True)
    signed_in_at = DateTime(required=True, allow_none=True)
    leave_state = fields.Enum(LeaveState, by_value=True, required=True)
    leave_note = Text(required=True, allow_none=True)
    ticket = Text(required=True, allow_none=True, metadata={"description": "my code for the organiser to scan"})
    sign_in_opens_at = DateTime(required=True)
    sign_in_closes_at = DateTime(required=True)


class PartyLeaveArgs(Schema):
    reason = Text(required=True, validate=validate.Length(min=1, max=200))


class PartySignInArgs(Schema):
    code = Text(required=True, validate=validate.Length(min=1, max=120), metadata={"description": "the meeting's code"})


class PartyMySignInSchema(Schema):
    meeting = fields.Nested(PartyMeetingSchema, required=True)
    status = fields.Enum(AttendanceStatus, by_value=True, required=True)
    signed_in_at = DateTime(required=True, allow_none=True)
    points = fields.Nested(PartyAwardSchema, required=True, allow_none=True)


class PartyMinutesArgs(Schema):
    content = Text(required=True, multiline=True, validate=validate.Length(min=1, max=20000))
    decisions = Text(load_default="", multiline=True, validate=validate.Length(max=5000))
    media_ids = fields.List(fields.UUID(), load_default=list, validate=validate.Length(max=9))


class PartyMinutesActionArgs(Schema):
    action = Text(required=True, validate=validate.OneOf(["submit", "approve", "reject"]))
    reason = Text(load_default=None, allow_none=True, validate=validate.Length(max=200))


class PartyMinutesSchema(Schema):
    meeting_id = fields.UUID(required=True)
    content = Text(required=True)
    decisions = Text(required=True)
    status = fields.Enum(MinutesStatus, by_value=True, required=True)
    allowed_actions = fields.Function(
        lambda m: _minutes_actions(m), required=True, metadata={"type": "array", "items": {"type": "string"}}
    )
    submitted_at = DateTime(required=True, allow_none=True)
    decided_at = DateTime(required=True, allow_none=True)
    reject_reason = Text(required=True, allow_none=True)
    attachments = fields.Function(
        lambda m: photos("party_minutes", m), required=True, metadata={"type": "array", "items": {"type": "object"}}
    )


class PartyRequiredSchema(Schema):
    kind = fields.Enum(MeetingKind, by_value=True, required=True)
    name = Text(required=True)
    due = fields.Integer(required=True)
    held = fields.Integer(required=True)


class PartyTurnoutSchema(Schema):
    expected = fields.Integer(required=True, metadata={"description": "places on the rosters of meetings held"})
    present = fields.Integer(required=True)
    leave = fields.Integer(required=True)
    absent = fields.Integer(required=True)
    rate = fields.Float(required=True, allow_none=True)
    rate_excluding_leave = fields.Float(required=True, allow_none=True)


class PartyBranchFiguresSchema(Schema):
    org_id = fields.UUID(required=True)
    name = Text(required=True)
    required = fields.List(fields.Nested(PartyRequiredSchema), required=True)
    required_met = fields.Boolean(required=True)
    other_meetings = fields.Dict(keys=fields.String(), values=fields.Integer(), required=True)
    attendance = fields.Nested(PartyTurnoutSchema, required=True)


class PartyFiguresSchema(Schema):
    quarter = Text(required=True)
    org_id = fields.UUID(required=True)
    org_name = Text(required=True)
    org_kind = Text(required=True)
    branches = fields.List(fields.Nested(PartyBranchFiguresSchema), required=True)


# ------------------------------------------------------------------------------------------------
# Study and quizzes
# ------------------------------------------------------------------------------------------------


class PartyMaterialCreateArgs(Schema):
    org_id = fields.UUID(required=True)
    kind = fields.Enum(MaterialKind, by_value=True, required=True)
    title = Text(required=True, validate=validate.Length(min=1, max=100))
    body = Text(load_default="", multiline=True, validate=validate.Length(max=20000))
    video_url = Text(load_default=None, allow_none=True, validate=[validate.Length(max=500), HTTPS])
    cover_media_id = fields.UUID(load_default=None, allow_none=True)


class PartyMaterialSchema(Schema):
    id = fields.UUID(required=True)
    org = fields.Nested(PartyOrgRefSchema, required=True)
    kind = fields.Enum(MaterialKind, by_value=True, required=True)
    title = Text(required=True)
    body = Text(required=True)
    video_url = Text(required=True, allow_none=True)
    published_at = DateTime(required=True)


class PartyProgressSchema(Schema):
    material_id = fields.UUID(required=True)
    seconds_total = fields.Integer(required=True)
    sessions = fields.Integer(required=True)
    session_seconds = fields.Integer(required=True)
    last_beat_at = DateTime(required=True, allow_none=True)
    points = fields.Nested(PartyAwardSchema, required=True, allow_none=True)


class PartyQuestionArgs(Schema):
    text = Text(required=True, validate=validate.Length(min=1, max=500))
    options = fields.List(
        Text(validate=validate.Length(min=1, max=200)), required=True, validate=validate.Length(min=2, max=8)
    )
    answer = fields.List(fields.Integer(), required=True, validate=validate.Length(min=1, max=8))
    points = fields.Integer(load_default=1, validate=validate.Range(min=1, max=100))


class PartyQuizCreateArgs(Schema):
    org_id = fields.UUID(required=True)
    title = Text(required=True, validate=validate.Length(min=1, max=100))
    opens_at = DateTime(required=True)
    closes_at = DateTime(required=True)
    time_limit_seconds = fields.Integer(required=True, validate=validate.Range(min=60, max=4 * 3600))
    pass_percent = fields.Integer(required=True, validate=validate.Range(min=0, max=100))
    questions = fields.List(fields.Nested(PartyQuestionArgs), required=True, validate=validate.Length(min=1, max=50))


class PartyQuestionSchema(Schema):
    id = Text(required=True)
    text = Text(required=True)
    options = fields.List(Text(), required=True)
    points = fields.Integer(required=True)


class PartyQuizSchema(Schema):
    id = fields.UUID(required=True)
    org = fields.Nested(PartyOrgRefSchema, required=True)
    title = Text(required=True)
    opens_at = DateTime(required=True)
    closes_at = DateTime(required=True)
    time_limit_seconds = fields.Integer(required=True)
    pass_percent = fields.Integer(required=True)
    question_count = fields.Function(lambda q: len(q.questions), required=True, metadata={"type": "integer"})


class PartyAttemptSchema(Schema):
    id = fields.UUID(required=True)
    quiz = fields.Nested(PartyQuizSchema, required=True)
    questions = fields.Function(
        lambda a: [{k: q[k] for k in ("id", "text", "options", "points")} for q in a.quiz.questions],
        required=True,
        metadata={"type": "array", "items": {"type": "object"}},
    )
    started_at = DateTime(required=True)
    deadline_at = DateTime(required=True)
    submitted_at = DateTime(required=True, allow_none=True)
    score = fields.Integer(required=True, allow_none=True)
    max_score = fields.Integer(required=True)
    passed = fields.Boolean(required=True, allow_none=True)


class PartyAnswersArgs(Schema):
    answers = fields.Dict(
        keys=Text(validate=validate.Length(min=1, max=8)),
        values=fields.List(fields.Integer(validate=validate.Range(min=0, max=7)), validate=validate.Length(max=8)),
        required=True,
        validate=validate.Length(max=50),
        metadata={"description": '{"q1": [0], "q2": [1, 3]}: the chosen options of each question'},
    )


class PartyAnswerResultSchema(Schema):
    attempt = fields.Nested(PartyAttemptSchema, required=True)
    points = fields.Nested(PartyAwardSchema, required=True, allow_none=True)


# ------------------------------------------------------------------------------------------------
# Points and announcements
# ------------------------------------------------------------------------------------------------


class PartyPointRuleSchema(Schema):
    action = fields.Enum(PointAction, by_value=True, required=True)
    points = fields.Integer(required=True)
    unit = fields.Integer(required=True, metadata={"description": "study: seconds; service: minutes; else 1"})
    cycle = fields.Enum(PointCycle, by_value=True, required=True)
    cap = fields.Integer(required=True)
    active = fields.Boolean(required=True)


class PartyPointRuleArgs(Schema):
    points = fields.Integer(required=True, validate=validate.Range(min=1, max=1000))
    unit = fields.Integer(load_default=1, validate=validate.Range(min=1, max=86400))
    cycle = fields.Enum(PointCycle, by_value=True, required=True)
    cap = fields.Integer(required=True, validate=validate.Range(min=0, max=100000))
    active = fields.Boolean(load_default=True)


class PartyPointRuleListSchema(Schema):
    items = fields.List(fields.Nested(PartyPointRuleSchema), required=True)


class PartyPointEntrySchema(Schema):
    id = fields.UUID(required=True)
    action = fields.Enum(PointAction, by_value=True, required=True)
    points = fields.Integer(required=True)
    cycle_key = Text(required=True)
    note = Text(required=True)
    awarded_at = DateTime(required=True)


class PartyClaimArgs(Schema):
    description = Text(required=True, multiline=True, validate=validate.Length(min=1, max=500))
    media_ids = fields.List(fields.UUID(), required=True, validate=validate.Length(min=1, max=6))


class PartyClaimSchema(Schema):
    id = fields.UUID(required=True)
    member_id = fields.UUID(required=True)
    name = Text(attribute="member.name", required=True, dump_only=True)
    description = PersonalText(required=True)
    status = fields.Enum(ClaimStatus, by_value=True, required=True)
    created_at = DateTime(required=True)
    decided_at = DateTime(required=True, allow_none=True)
    reject_reason = Text(required=True, allow_none=True)
    points_awarded = fields.Integer(required=True, allow_none=True)
    award_note = Text(required=True, allow_none=True)


class PartyClaimListArgs(CursorArgs):
    status = fields.Enum(ClaimStatus, by_value=True, load_default=None)


class PartyDecisionArgs(Schema):
    approve = fields.Boolean(required=True)
    reason = Text(load_default=None, allow_none=True, validate=validate.Length(max=200))


class PartyRankingEntrySchema(Schema):
    rank = fields.Integer(required=True)
    name = Text(required=True)
    points = fields.Integer(required=True)
    hidden = fields.Boolean(metadata={"description": "staff only: hidden from the members' ranking"})


class PartyMyPlaceSchema(Schema):
    points = fields.Integer(required=True)
    rank = fields.Integer(required=True, allow_none=True)
    hidden = fields.Boolean(required=True)


class PartyRankingSchema(Schema):
    quarter = Text(required=True)
    branch_name = Text(required=True)
    items = fields.List(fields.Nested(PartyRankingEntrySchema), required=True)
    me = fields.Nested(PartyMyPlaceSchema, allow_none=True)


class PartyAnnouncementArgs(Schema):
    org_id = fields.UUID(required=True)
    title = Text(required=True, validate=validate.Length(min=1, max=100))
    body = Text(required=True, multiline=True, validate=validate.Length(min=1, max=5000))


class PartyAnnouncementSchema(Schema):
    id = fields.UUID(required=True)
    org = fields.Nested(PartyOrgRefSchema, required=True)
    title = Text(required=True)
    body = Text(required=True)
    published_at = DateTime(required=True)
    read_at = DateTime(allow_none=True, metadata={"description": "mine (members)"})


class PartyReceiptSchema(Schema):
    member_id = fields.UUID(required=True)
    name = Text(required=True)
    branch_name = Text(required=True)
    read_at = DateTime(required=True, allow_none=True)


class PartyReceiptsSchema(Schema):
    announcement_id = fields.UUID(required=True)
    title = Text(required=True)
    read = fields.List(fields.Nested(PartyReceiptSchema), required=True)
    unread = fields.List(fields.Nested(PartyReceiptSchema), required=True)


# ------------------------------------------------------------------------------------------------
# Dues
# ------------------------------------------------------------------------------------------------


class PartyDeclarationArgs(Schema):
    income_kind = fields.Enum(IncomeKind, by_value=True, required=True)
    base_fen = fields.Integer(
        load_default=None, allow_none=True, metadata={"description": "monthly after tax (wage, pension)"}
    )
    year = fields.Integer(load_default=None, allow_none=True, validate=validate.Range(min=1900, max=2200))


class PartyDeclarationSchema(Schema):
    id = fields.UUID(required=True)
    member_id = fields.UUID(required=True)
    name = Text(attribute="member.name", required=True, dump_only=True)
    year = fields.Integer(required=True)
    income_kind = fields.Enum(IncomeKind, by_value=True, required=True)
    base_fen = fields.Integer(required=True, allow_none=True)
    standard_fen = fields.Integer(required=True)
    rate_version = Text(attribute="rate.version", required=True, dump_only=True)
    status = fields.Enum(DeclarationStatus, by_value=True, required=True)
    declared_at = DateTime(required=True)
    decided_at = DateTime(required=True, allow_none=True)
    reject_reason = Text(required=True, allow_none=True)


class PartyDeclarationListArgs(CursorArgs):
    status = fields.Enum(DeclarationStatus, by_value=True, load_default=None)


class PartyDeclarationDecisionArgs(Schema):
    confirm = fields.Boolean(required=True)
    reason = Text(load_default=None, allow_none=True, validate=validate.Length(max=200))


class PartyDuesPaymentSchema(Schema):
    id = fields.UUID(required=True)
    channel = fields.Enum(DuesChannel, by_value=True, required=True)
    status = fields.Enum(DuesPaymentStatus, by_value=True, required=True)
    first_month = fields.Function(lambda p: _month(p.first_month), required=True, metadata={"type": "string"})
    last_month = fields.Function(lambda p: _month(p.last_month), required=True, metadata={"type": "string"})
    months = fields.Integer(required=True)
    amount_fen = fields.Integer(required=True)
    order_id = fields.UUID(
        required=True, allow_none=True, metadata={"description": "online: pay it with POST /payments/{id}/prepay"}
    )
    paid_by_name = Text(required=True, allow_none=True, metadata={"description": "代缴: who paid for the member"})
    late_reason = Text(required=True, allow_none=True)
    created_at = DateTime(required=True)
    paid_at = DateTime(required=True, allow_none=True)


class PartyDuesMonthSchema(Schema):
    month = fields.Function(lambda r: _month(r.month), required=True, metadata={"type": "string"})
    due_fen = fields.Integer(required=True)
    paid = fields.Function(lambda r: r.paid_at is not None, required=True, metadata={"type": "boolean"})
    paid_at = DateTime(required=True, allow_none=True)
    channel = fields.Enum(DuesChannel, by_value=True, required=True, allow_none=True)
    paid_by_name = Text(attribute="payment.paid_by_name", required=True, allow_none=True, dump_only=True)
    late = fields.Boolean(required=True)
    late_reason = Text(attribute="payment.late_reason", required=True, allow_none=True, dump_only=True)
    payment_id = fields.UUID(required=True, allow_none=True)


class PartyOwedMonthSchema(Schema):
    month = Text(required=True)
    due_fen = fields.Integer(required=True)
    held = fields.Boolean(required=True, metadata={"description": "an open online payment holds it"})


class PartyLedgerSchema(Schema):
    member_id = fields.UUID(required=True)
    name = Text(required=True)
    standard_fen = fields.Integer(required=True)
    paid_until = Text(required=True, allow_none=True)
    first_unpaid = Text(required=True)
    months_unpaid = fields.Integer(required=True)
    owed_fen = fields.Integer(required=True)
    flagged = fields.Boolean(required=True)
    unpaid = fields.List(fields.Nested(PartyOwedMonthSchema), required=True)
    months = fields.List(fields.Nested(PartyDuesMonthSchema), required=True)
    declarations = fields.List(fields.Nested(PartyDeclarationSchema))


class PartyPayOnlineArgs(Schema):
    months = fields.List(Text(validate=MONTH), required=True, validate=validate.Length(min=1, max=12))
    late_reason = Text(load_default=None, allow_none=True, validate=validate.Length(max=200))


class PartyPayOfflineArgs(PartyPayOnlineArgs):
    paid_by_name = Text(load_default=None, allow_none=True, validate=validate.Length(max=32))
    paid_on = Date(load_default=None, allow_none=True)


class PartyUnpaidSchema(Schema):
    member_id = fields.UUID(required=True)
    name = Text(required=True)
    branch_name = Text(required=True)
    standard_fen = fields.Integer(required=True)
    paid_until = Text(required=True, allow_none=True)
    months_unpaid = fields.Integer(required=True)
    flagged = fields.Boolean(required=True)


class PartyRateArgs(Schema):
    version = Text(required=True, validate=validate.Length(min=1, max=64))
    effective_from = Date(required=True)
    rules = fields.Dict(required=True, metadata={"description": "wage and pension bands, fixed amounts (see README)"})

    @validates_schema
    def _shape(self, data: dict[str, Any], **_: Any) -> None:
        rules = data.get("rules") or {}
        for name in ("wage", "pension"):
            bands = rules.get(name)
            if not isinstance(bands, list) or not all(
                isinstance(b, dict)
                and (
                    b.get("up_to_fen") is None
                    or (isinstance(b.get("up_to_fen"), int) and not isinstance(b.get("up_to_fen"), bool))
                )
                and isinstance(b.get("basis_points"), int)
                and not isinstance(b.get("basis_points"), bool)
                for b in bands
            ):
                raise ValidationError({"rules": [f"{name}: a list of {{up_to_fen, basis_points}}"]})
        fixed = rules.get("fixed_fen")
        if not isinstance(fixed, dict) or not all(
            isinstance(v, int) and not isinstance(v, bool) for v in fixed.values()
        ):
            raise ValidationError({"rules": ["fixed_fen: whole fen per category"]})


class PartyRateSchema(Schema):
    id = fields.UUID(required=True)
    version = Text(required=True)
    effective_from = Date(required=True)
    rules = fields.Dict(required=True)
    created_at = DateTime(required=True)


class PartyRateListSchema(Schema):
    items = fields.List(fields.Nested(PartyRateSchema), required=True)


# ------------------------------------------------------------------------------------------------
# Transfers
# ------------------------------------------------------------------------------------------------


class PartyTransferStepSchema(Schema):
    action = Text(required=True)
    from_status = Text(required=True, allow_none=True)
    to_status = Text(required=True)
    actor_role = Text(required=True)
    actor_org_id = fields.UUID(required=True, allow_none=True)
    remark = Text(required=True)
    at = DateTime(required=True)


class PartyLetterSchema(Schema):
    letter_no = Text(required=True, allow_none=True)
    issued_at = DateTime(required=True)
    valid_until = DateTime(required=True, allow_none=True)
    dues_paid_until = Text(required=True, allow_none=True)
    member_name = Text(required=True)
    to = Text(required=True, allow_none=True)
    from_ = Text(required=True, allow_none=True, data_key="from", attribute="from")


class PartyTransferSchema(Schema):
    id = fields.UUID(required=True)
    member_id = fields.UUID(required=True)
    member_name = Text(attribute="member.name", required=True, dump_only=True)
    direction = fields.Enum(TransferDirection, by_value=True, required=True)
    reach = fields.Enum(TransferReach, by_value=True, required=True)
    from_org = fields.Nested(PartyOrgRefSchema, required=True, allow_none=True)
    to_org = fields.Nested(PartyOrgRefSchema, required=True, allow_none=True)
    approver_org = fields.Nested(PartyOrgRefSchema, required=True)
    external_org = Text(required=True, allow_none=True)
    reason = PersonalText(required=True)
    status = fields.Enum(TransferStatus, by_value=True, required=True)
    letter = fields.Method("letter_", required=True, allow_none=True, metadata={"type": "object", "nullable": True})
    steps = fields.List(fields.Nested(PartyTransferStepSchema), required=True)
    allowed_actions = fields.Function(
        lambda t: _transfer_actions(t), required=True, metadata={"type": "array", "items": {"type": "string"}}
    )

    def letter_(self, transfer: Any) -> Any:
        from api.party.transfers import letter

        shown = letter(transfer)
        return PartyLetterSchema().dump(shown) if shown is not None else None

    created_at = DateTime(required=True)


class PartyTransferStartArgs(Schema):
    direction = fields.Enum(TransferDirection, by_value=True, required=True)
    to_org_id = fields.UUID(load_default=None, allow_none=True, metadata={"description": "inside: the branch"})
    external_org = Text(load_default=None, allow_none=True, validate=validate.Length(max=100))
    reach = fields.Enum(TransferReach, by_value=True, load_default=None, allow_none=True)
    reason = Text(load_default="", validate=validate.Length(max=200))


class PartyIncomingMemberArgs(Schema):
    name = Text(required=True, validate=validate.Length(min=1, max=32))
    user_id = fields.UUID(load_default=None, allow_none=True)
    category = fields.Enum(MemberCategory, by_value=True, required=True)
    joined_on = Date(required=True)
    full_on = Date(load_default=None, allow_none=True)


class PartyStaffTransferArgs(PartyTransferStartArgs):
    member_id = fields.UUID(load_default=None, allow_none=True, metadata={"description": "inside and out"})
    member = fields.Nested(PartyIncomingMemberArgs, load_default=None, allow_none=True, metadata={"description": "in"})
    letter_no = Text(load_default=None, allow_none=True, validate=validate.Length(max=40))
    valid_until = DateTime(load_default=None, allow_none=True)
    letter_paid_until = Date(load_default=None, allow_none=True)


class PartyTransferActionArgs(Schema):
    action = Text(required=True, validate=validate.Length(min=1, max=16))
    remark = Text(load_default="", validate=validate.Length(max=200))
    to_org_id = fields.UUID(allow_none=True)
    external_org = Text(allow_none=True, validate=validate.Length(max=100))
    reach = fields.Enum(TransferReach, by_value=True, allow_none=True)
    reason = Text(validate=validate.Length(max=200))


class PartyTransferListArgs(CursorArgs):
    status = fields.Enum(TransferStatus, by_value=True, load_default=None)


# ------------------------------------------------------------------------------------------------
# Working members' registration
# ------------------------------------------------------------------------------------------------


class PartyRegistrationArgs(Schema):
    org_id = fields.UUID(required=True, metadata={"description": "the branch of the community I live in"})
    name = Text(required=True, validate=validate.Length(min=1, max=32))
    workplace_org = Text(required=True, validate=validate.Length(min=1, max=100))
    registered_on = Date(required=True)
    slip_media_id = fields.UUID(required=True, metadata={"description": "the registration slip (报到单), from /media"})


class PartyRegistrationSchema(Schema):
    id = fields.UUID(required=True)
    org = fields.Nested(PartyOrgRefSchema, required=True)
    name = Text(required=True)
    workplace_org = Text(required=True)
    registered_on = Date(required=True)
    status = fields.Enum(RegistrationStatus, by_value=True, required=True)
    created_at = DateTime(required=True)
    decided_at = DateTime(required=True, allow_none=True)
    reject_reason = Text(required=True, allow_none=True)
    slip = fields.Function(
        lambda r: photos("party_registration", r),
        required=True,
        metadata={"type": "array", "items": {"type": "object"}, "description": "the slip's photo, signed URL"},
    )


class PartyRegistrationListArgs(CursorArgs):
    status = fields.Enum(RegistrationStatus, by_value=True, load_default=None)


class PartyRegistrationDecisionArgs(Schema):
    confirm = fields.Boolean(required=True)
    reason = Text(load_default=None, allow_none=True, validate=validate.Length(max=200))
