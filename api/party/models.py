"""Party affairs' tables (智慧党建): the organisation tree and its officers, members and their history, meetings
with their roster and minutes, study and quizzes, points, announcements, dues, membership transfers, and the
registration of working members with the community they live in.

Nothing of a member is deleted: a leaver keeps their record with a status (已转出, 停止党籍 …), the member log
(`party_member_log`), the points ledger and the transfer steps are append-only. "Once" is a unique constraint
or a conditional UPDATE, never a check followed by an insert: one open transfer per member, one attendance row
per member and meeting, one ledger row per member and month, one payment per month, one award per thing
awarded for. Money is integer fen.
"""

from __future__ import annotations

import enum
import uuid
from datetime import date, datetime
from typing import Any

from sqlalchemy import JSON, CheckConstraint, Date, ForeignKey, Index, String, Text, UniqueConstraint, text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from api.accounts.models import Area, User
from api.db import Base, IdMixin, enum_column, utcnow

# ------------------------------------------------------------------------------------------------
# Organisations and officers
# ------------------------------------------------------------------------------------------------


class OrgKind(enum.StrEnum):
    COMMITTEE = "committee"  # 党工委 / 党委
    GENERAL_BRANCH = "general_branch"  # 党总支
    BRANCH = "branch"  # 党支部
    GROUP = "group"  # 党小组


class PartyOrg(IdMixin, Base):
    """One organisation of the tree 党工委/党委 → 党总支 → 党支部 → 党小组, anchored in an area (its committee or
    estate). `path` is the materialised path of codes ("/KJDGW/KJ01ZZ/KJ01ZB1/"), so "in this organisation or
    below" is a prefix comparison; `area_path` is its area's path (areas' paths never change)."""

    __tablename__ = "party_orgs"

    code: Mapped[str] = mapped_column(String(32), unique=True)
    name: Mapped[str] = mapped_column(String(64))
    kind: Mapped[OrgKind] = mapped_column(enum_column(OrgKind, "party_org_kind"))
    parent_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("party_orgs.id", ondelete="RESTRICT"), index=True)
    path: Mapped[str] = mapped_column(String(255), unique=True)
    area_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("areas.id", ondelete="RESTRICT"), index=True)
    area_path: Mapped[str] = mapped_column(String(255))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)

    parent: Mapped[PartyOrg | None] = relationship(remote_side="PartyOrg.id", lazy="joined", join_depth=1)
    area: Mapped[Area] = relationship(lazy="joined", innerjoin=True)


class OfficerPost(enum.StrEnum):
    SECRETARY = "secretary"  # 书记
    DEPUTY_SECRETARY = "deputy_secretary"  # 副书记
    ORGANISATION = "organisation"  # 组织委员
    PUBLICITY = "publicity"  # 宣传委员
    DISCIPLINE = "discipline"  # 纪检委员
    COMMITTEE_MEMBER = "committee_member"  # 委员
    GROUP_LEADER = "group_leader"  # 党小组组长


class PartyOfficer(IdMixin, Base):
    """A member's post in an organisation (its secretary and committee, a group's leader), from appointment
    until it ends; ended posts stay as history."""

    __tablename__ = "party_officers"
    __table_args__ = (
        # One secretary at a time, and a member holds a post once.
        Index(
            "uq_party_officers_one_secretary",
            "org_id",
            unique=True,
            postgresql_where=text("post = 'secretary' AND ended_on IS NULL"),
            sqlite_where=text("post = 'secretary' AND ended_on IS NULL"),
        ),
        Index(
            "uq_party_officers_active_post",
            "org_id",
            "member_id",
            "post",
            unique=True,
            postgresql_where=text("ended_on IS NULL"),
            sqlite_where=text("ended_on IS NULL"),
        ),
        Index("ix_party_officers_member_id", "member_id"),
        CheckConstraint("ended_on IS NULL OR ended_on >= started_on", name="ends_after_start"),
    )

    org_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("party_orgs.id", ondelete="RESTRICT"))
    member_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("party_members.id", ondelete="RESTRICT"))
    post: Mapped[OfficerPost] = mapped_column(enum_column(OfficerPost, "party_officer_post"))
    started_on: Mapped[date] = mapped_column(Date)
    ended_on: Mapped[date | None] = mapped_column(Date)
    appointed_by_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    ended_by_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)

    org: Mapped[PartyOrg] = relationship(lazy="joined", innerjoin=True)
    member: Mapped[PartyMember] = relationship(lazy="joined", innerjoin=True)


# ------------------------------------------------------------------------------------------------
# Members
# ------------------------------------------------------------------------------------------------


class MemberCategory(enum.StrEnum):
    PROBATIONARY = "probationary"  # 预备党员
    FULL = "full"  # 正式党员


class MemberStatus(enum.StrEnum):
    ACTIVE = "active"  # 正常
    PENDING = "pending"  # 待接收: a transfer into the subdistrict is under way
    SUSPENDED = "suspended"  # 停止党籍
    TRANSFERRED_OUT = "transferred_out"  # 已转出
    LEFT = "left"  # 出党 (退党、除名、开除)
    DECEASED = "deceased"  # 去世
    NOT_ARRIVED = "not_arrived"  # a transfer in that never completed


# A member's current record (one per account at a time); the others are history. (Partial indexes spell a set of
# values as ORs: PostgreSQL would hand an IN list back as `= ANY (ARRAY[...])`, which no longer reads as written.)
CURRENT_STATUSES = ("active", "pending", "suspended")


class PartyMember(IdMixin, Base):
    """A party member of one of the subdistrict's branches, linked by staff to their resident account (when
    they have one). Never deleted: leavers keep their record with a status."""

    __tablename__ = "party_members"
    __table_args__ = (
        Index(
            "uq_party_members_current_user",
            "user_id",
            unique=True,
            postgresql_where=text("status = 'active' OR status = 'pending' OR status = 'suspended'"),
            sqlite_where=text("status = 'active' OR status = 'pending' OR status = 'suspended'"),
        ),
        Index("ix_party_members_branch_id_status", "branch_id", "status"),
        Index("ix_party_members_group_id", "group_id"),
        Index("ix_party_members_user_id", "user_id"),
        CheckConstraint("full_on IS NULL OR full_on >= joined_on", name="full_after_joining"),
        CheckConstraint("full_on IS NULL OR category = 'full'", name="full_members_have_a_date"),
        CheckConstraint("dues_standard_fen >= 0", name="dues_standard_not_negative"),
    )

    # Null while they have no account (many retired members), or once they deleted it.
    user_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    name: Mapped[str] = mapped_column(String(32))
    category: Mapped[MemberCategory] = mapped_column(enum_column(MemberCategory, "party_member_category"))
    joined_on: Mapped[date] = mapped_column(Date)  # 入党
    full_on: Mapped[date | None] = mapped_column(Date)  # 转正
    branch_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("party_orgs.id", ondelete="RESTRICT"))
    group_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("party_orgs.id", ondelete="RESTRICT"))
    is_mobile: Mapped[bool] = mapped_column(default=False, server_default=text("false"))  # 流动党员
    status: Mapped[MemberStatus] = mapped_column(enum_column(MemberStatus, "party_member_status"))
    status_changed_at: Mapped[datetime] = mapped_column(default=utcnow)
    status_reason: Mapped[str | None] = mapped_column(String(200))
    # Dues: the monthly standard in force, the first month owed here, the last month paid (first of month).
    dues_standard_fen: Mapped[int] = mapped_column(default=0, server_default=text("0"))
    dues_start_month: Mapped[date] = mapped_column(Date)
    dues_paid_until: Mapped[date | None] = mapped_column(Date)
    # Six months unpaid: flagged to the branch once per run of unpaid months (cleared when they pay).
    dues_flagged_at: Mapped[datetime | None]
    hide_from_rankings: Mapped[bool] = mapped_column(default=False, server_default=text("false"))
    linked_by_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)

    branch: Mapped[PartyOrg] = relationship(foreign_keys=[branch_id], lazy="joined", innerjoin=True)
    group: Mapped[PartyOrg | None] = relationship(foreign_keys=[group_id], lazy="joined")
    user: Mapped[User | None] = relationship(foreign_keys=[user_id])


class PartyMemberLog(IdMixin, Base):
    """What happened to a member's record, append-only: linked, edited, moved, a status, a post, a dues
    standard, a payment recorded, a flag. `data` holds the before and after."""

    __tablename__ = "party_member_log"
    __table_args__ = (Index("ix_party_member_log_member_id_id", "member_id", "id"),)

    member_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("party_members.id", ondelete="RESTRICT"))
    kind: Mapped[str] = mapped_column(String(32))
    data: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    actor_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    at: Mapped[datetime] = mapped_column(default=utcnow)


# ------------------------------------------------------------------------------------------------
# Meetings (三会一课, 主题党日, 组织生活会)
# ------------------------------------------------------------------------------------------------


class MeetingKind(enum.StrEnum):
    BRANCH_ASSEMBLY = "branch_assembly"  # 支部党员大会
    BRANCH_COMMITTEE = "branch_committee"  # 支委会
    GROUP_MEETING = "group_meeting"  # 党小组会
    PARTY_LECTURE = "party_lecture"  # 党课
    THEME_DAY = "theme_day"  # 主题党日
    LIFE_MEETING = "life_meeting"  # 组织生活会


class MeetingStatus(enum.StrEnum):
    SCHEDULED = "scheduled"
    CANCELLED = "cancelled"


class PartyMeeting(IdMixin, Base):
    __tablename__ = "party_meetings"
    __table_args__ = (
        CheckConstraint("ends_at > starts_at", name="ends_after_start"),
        Index("ix_party_meetings_org_id_starts_at", "org_id", "starts_at"),
        Index("ix_party_meetings_starts_at", "starts_at"),
    )

    org_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("party_orgs.id", ondelete="RESTRICT"))
    kind: Mapped[MeetingKind] = mapped_column(enum_column(MeetingKind, "party_meeting_kind"))
    topic: Mapped[str] = mapped_column(String(100))
    place: Mapped[str] = mapped_column(String(100))
    starts_at: Mapped[datetime]
    ends_at: Mapped[datetime]
    presenter_name: Mapped[str] = mapped_column(String(32), default="")  # 主持人 / 授课人
    recorder_name: Mapped[str] = mapped_column(String(32), default="")  # 记录人
    status: Mapped[MeetingStatus] = mapped_column(enum_column(MeetingStatus, "party_meeting_status"))
    cancel_reason: Mapped[str | None] = mapped_column(String(200))
    # Absences written once the sign-in window closed (the beat's `party.close_meetings`).
    closed_at: Mapped[datetime | None]
    created_by_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)

    org: Mapped[PartyOrg] = relationship(lazy="joined", innerjoin=True)


class AttendanceStatus(enum.StrEnum):
    EXPECTED = "expected"  # on the roster, the window not yet closed
    PRESENT = "present"
    LEAVE = "leave"  # leave approved by the organiser
    ABSENT = "absent"


class LeaveState(enum.StrEnum):
    NONE = "none"
    REQUESTED = "requested"
    APPROVED = "approved"
    REFUSED = "refused"
    CLEARED = "cleared"  # they came after all: signing in cleared it


class SignInVia(enum.StrEnum):
    CODE = "code"  # the member scanned the meeting's code
    TICKET = "ticket"  # the organiser scanned the member's code
    ORGANISER = "organiser"  # the organiser marked them present (no phone)


class PartyAttendance(IdMixin, Base):
    """A member's place on a meeting's roster and their one attendance status."""

    __tablename__ = "party_attendance"
    __table_args__ = (
        UniqueConstraint("meeting_id", "member_id"),
        Index("ix_party_attendance_member_id_id", "member_id", "id"),
        CheckConstraint("status <> 'present' OR signed_in_at IS NOT NULL", name="present_signed_in"),
    )

    meeting_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("party_meetings.id", ondelete="RESTRICT"))
    member_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("party_members.id", ondelete="RESTRICT"))
    invited: Mapped[bool] = mapped_column(default=False, server_default=text("false"))
    status: Mapped[AttendanceStatus] = mapped_column(enum_column(AttendanceStatus, "party_attendance_status"))
    signed_in_at: Mapped[datetime | None]
    signed_in_via: Mapped[SignInVia | None] = mapped_column(enum_column(SignInVia, "party_sign_in_via"))
    signed_in_by_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    leave_state: Mapped[LeaveState] = mapped_column(enum_column(LeaveState, "party_leave_state"))
    leave_reason: Mapped[str | None] = mapped_column(String(200))
    leave_requested_at: Mapped[datetime | None]
    leave_decided_by_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    leave_decided_at: Mapped[datetime | None]
    leave_note: Mapped[str | None] = mapped_column(String(200))

    meeting: Mapped[PartyMeeting] = relationship(lazy="joined", innerjoin=True)
    member: Mapped[PartyMember] = relationship(lazy="joined", innerjoin=True)


class MinutesStatus(enum.StrEnum):
    DRAFT = "draft"
    SUBMITTED = "submitted"
    APPROVED = "approved"  # locked
    REJECTED = "rejected"  # back with a reason, to edit and submit again


class PartyMinutes(IdMixin, Base):
    """A meeting's minutes (content, decisions, attachments through media), approved by the level above."""

    __tablename__ = "party_minutes"

    meeting_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("party_meetings.id", ondelete="RESTRICT"), unique=True)
    content: Mapped[str] = mapped_column(Text, default="")
    decisions: Mapped[str] = mapped_column(Text, default="")
    status: Mapped[MinutesStatus] = mapped_column(enum_column(MinutesStatus, "party_minutes_status"))
    edited_by_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    edited_at: Mapped[datetime] = mapped_column(default=utcnow)
    submitted_by_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    submitted_at: Mapped[datetime | None]
    decided_by_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    decided_at: Mapped[datetime | None]
    reject_reason: Mapped[str | None] = mapped_column(String(200))

    meeting: Mapped[PartyMeeting] = relationship(lazy="joined", innerjoin=True)


# ------------------------------------------------------------------------------------------------
# Study, quizzes, points, announcements
# ------------------------------------------------------------------------------------------------


class MaterialKind(enum.StrEnum):
    ARTICLE = "article"
    VIDEO = "video"


class StudyMaterial(IdMixin, Base):
    """Something to study, for the members of the publishing organisation and below: an article (text, a cover
    photo through media) or a video (its URL on the subdistrict's video service)."""

    __tablename__ = "party_study_materials"
    __table_args__ = (Index("ix_party_study_materials_org_id_id", "org_id", "id"),)

    org_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("party_orgs.id", ondelete="RESTRICT"))
    kind: Mapped[MaterialKind] = mapped_column(enum_column(MaterialKind, "party_material_kind"))
    title: Mapped[str] = mapped_column(String(100))
    body: Mapped[str] = mapped_column(Text, default="")
    video_url: Mapped[str | None] = mapped_column(String(500))
    published_at: Mapped[datetime] = mapped_column(default=utcnow)
    created_by_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))

    org: Mapped[PartyOrg] = relationship(lazy="joined", innerjoin=True)


class StudyProgress(IdMixin, Base):
    """A member's reading of one material: the time counted so far and the session in progress (heartbeats
    further apart than the gap close it: `party_study_sessions` keeps the closed ones)."""

    __tablename__ = "party_study_progress"
    __table_args__ = (UniqueConstraint("member_id", "material_id"),)

    member_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("party_members.id", ondelete="RESTRICT"))
    material_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("party_study_materials.id", ondelete="RESTRICT"))
    seconds_total: Mapped[int] = mapped_column(default=0, server_default=text("0"))
    sessions: Mapped[int] = mapped_column(default=0, server_default=text("0"))
    session_started_at: Mapped[datetime | None]
    session_seconds: Mapped[int] = mapped_column(default=0, server_default=text("0"))
    last_beat_at: Mapped[datetime | None]
    # Study-time points already asked for (whole units of the rule), so a unit is counted once.
    units_awarded: Mapped[int] = mapped_column(default=0, server_default=text("0"))


class StudySession(IdMixin, Base):
    """A closed reading session (append-only)."""

    __tablename__ = "party_study_sessions"
    __table_args__ = (Index("ix_party_study_sessions_member_id_id", "member_id", "id"),)

    member_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("party_members.id", ondelete="RESTRICT"))
    material_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("party_study_materials.id", ondelete="RESTRICT"))
    started_at: Mapped[datetime]
    ended_at: Mapped[datetime]
    seconds: Mapped[int]


class Quiz(IdMixin, Base):
    """A quiz with a window, a time limit and a pass mark; `questions` hold the answers, never shown."""

    __tablename__ = "party_quizzes"
    __table_args__ = (
        CheckConstraint("closes_at > opens_at", name="closes_after_opening"),
        CheckConstraint("pass_percent BETWEEN 0 AND 100", name="pass_percent_range"),
        CheckConstraint("time_limit_seconds > 0", name="time_limit_positive"),
        Index("ix_party_quizzes_org_id_id", "org_id", "id"),
    )

    org_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("party_orgs.id", ondelete="RESTRICT"))
    title: Mapped[str] = mapped_column(String(100))
    opens_at: Mapped[datetime]
    closes_at: Mapped[datetime]
    time_limit_seconds: Mapped[int]
    pass_percent: Mapped[int]
    # [{"id", "text", "options": [...], "answer": [indexes], "points"}]
    questions: Mapped[list[dict[str, Any]]] = mapped_column(JSON)
    created_by_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)

    org: Mapped[PartyOrg] = relationship(lazy="joined", innerjoin=True)


class QuizAttempt(IdMixin, Base):
    """A member's one attempt at a quiz, scored on the server when answered before its deadline."""

    __tablename__ = "party_quiz_attempts"
    __table_args__ = (UniqueConstraint("quiz_id", "member_id"),)

    quiz_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("party_quizzes.id", ondelete="RESTRICT"))
    member_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("party_members.id", ondelete="RESTRICT"))
    started_at: Mapped[datetime]
    deadline_at: Mapped[datetime]
    submitted_at: Mapped[datetime | None]
    answers: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    score: Mapped[int | None]
    max_score: Mapped[int]
    passed: Mapped[bool | None]

    quiz: Mapped[Quiz] = relationship(lazy="joined", innerjoin=True)


class PointAction(enum.StrEnum):
    MEETING_SIGN_IN = "meeting_sign_in"
    STUDY_TIME = "study_time"
    QUIZ_PASSED = "quiz_passed"
    SERVICE_HOURS = "service_hours"
    CLAIM = "claim"


class PointCycle(enum.StrEnum):
    DAY = "day"
    MONTH = "month"
    QUARTER = "quarter"
    YEAR = "year"


class PointRule(Base):
    """Points per action: `points` per unit (a sign-in, `unit` seconds of study, `unit` minutes of service, a
    passed quiz, an approved claim), at most `cap` per cycle. Data, set by admins; the defaults come with the
    migration."""

    __tablename__ = "party_point_rules"
    __table_args__ = (
        CheckConstraint("points > 0", name="points_positive"),
        CheckConstraint("cap >= 0", name="cap_not_negative"),
        CheckConstraint("unit > 0", name="unit_positive"),
    )

    action: Mapped[PointAction] = mapped_column(enum_column(PointAction, "party_point_action"), primary_key=True)
    points: Mapped[int]
    unit: Mapped[int] = mapped_column(default=1, server_default=text("1"))
    cycle: Mapped[PointCycle] = mapped_column(enum_column(PointCycle, "party_point_cycle"))
    cap: Mapped[int]
    active: Mapped[bool] = mapped_column(default=True, server_default=text("true"))
    updated_by_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)


class PointEntry(IdMixin, Base):
    """One award (append-only). `source` names what it was for ("meeting:<id>"), once per member and action."""

    __tablename__ = "party_points_ledger"
    __table_args__ = (
        UniqueConstraint("member_id", "action", "source"),
        CheckConstraint("points > 0", name="points_positive"),
        Index("ix_party_points_ledger_member_id_awarded_at", "member_id", "awarded_at"),
        Index("ix_party_points_ledger_awarded_at", "awarded_at"),
    )

    member_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("party_members.id", ondelete="RESTRICT"))
    action: Mapped[PointAction] = mapped_column(enum_column(PointAction, "party_point_action"))
    source: Mapped[str] = mapped_column(String(80))
    points: Mapped[int]
    units: Mapped[int] = mapped_column(default=1, server_default=text("1"))
    cycle_key: Mapped[str] = mapped_column(String(16))
    note: Mapped[str] = mapped_column(String(100), default="")
    awarded_by_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    awarded_at: Mapped[datetime] = mapped_column(default=utcnow)


class PointTally(IdMixin, Base):
    """Points of one action in one cycle so far: the row locked while an award is weighed against the cap."""

    __tablename__ = "party_point_tallies"
    __table_args__ = (
        UniqueConstraint("member_id", "action", "cycle_key"),
        CheckConstraint("points >= 0", name="points_not_negative"),
    )

    member_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("party_members.id", ondelete="RESTRICT"))
    action: Mapped[PointAction] = mapped_column(enum_column(PointAction, "party_point_action"))
    cycle_key: Mapped[str] = mapped_column(String(16))
    points: Mapped[int] = mapped_column(default=0, server_default=text("0"))


class ClaimStatus(enum.StrEnum):
    PENDING = "pending"
    APPROVED = "approved"
    REJECTED = "rejected"


class PointClaim(IdMixin, Base):
    """A member's claim for points (a good deed, with photos as evidence), decided by their branch."""

    __tablename__ = "party_point_claims"
    __table_args__ = (Index("ix_party_point_claims_member_id_id", "member_id", "id"),)

    member_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("party_members.id", ondelete="RESTRICT"))
    description: Mapped[str] = mapped_column(Text)
    status: Mapped[ClaimStatus] = mapped_column(enum_column(ClaimStatus, "party_claim_status"))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    decided_by_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    decided_at: Mapped[datetime | None]
    reject_reason: Mapped[str | None] = mapped_column(String(200))
    points_awarded: Mapped[int | None]
    award_note: Mapped[str | None] = mapped_column(String(100))

    member: Mapped[PartyMember] = relationship(lazy="joined", innerjoin=True)


class Announcement(IdMixin, Base):
    """A notice to the members of an organisation and below, with read receipts."""

    __tablename__ = "party_announcements"
    __table_args__ = (Index("ix_party_announcements_org_id_id", "org_id", "id"),)

    org_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("party_orgs.id", ondelete="RESTRICT"))
    title: Mapped[str] = mapped_column(String(100))
    body: Mapped[str] = mapped_column(Text)
    published_at: Mapped[datetime] = mapped_column(default=utcnow)
    created_by_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))

    org: Mapped[PartyOrg] = relationship(lazy="joined", innerjoin=True)


class AnnouncementRead(IdMixin, Base):
    __tablename__ = "party_announcement_reads"
    __table_args__ = (UniqueConstraint("announcement_id", "member_id"),)

    announcement_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("party_announcements.id", ondelete="RESTRICT"))
    member_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("party_members.id", ondelete="RESTRICT"))
    read_at: Mapped[datetime] = mapped_column(default=utcnow)


# ------------------------------------------------------------------------------------------------
# Dues (党费)
# ------------------------------------------------------------------------------------------------


class IncomeKind(enum.StrEnum):
    WAGE = "wage"  # 工资收入 (monthly, after tax)
    PENSION = "pension"  # 离退休费
    STUDENT = "student"  # 学生: a fixed amount
    UNEMPLOYED = "unemployed"  # 下岗失业: a fixed amount
    SUBSISTENCE = "subsistence"  # 低保: a fixed amount


class DuesRate(IdMixin, Base):
    """A version of the dues rules (never edited: a change is a new version). `rules`:
    `{"wage": [{"up_to_fen": 300000, "basis_points": 50}, …, {"up_to_fen": null, …}], "pension": [...],
    "fixed_fen": {"student": 20, "unemployed": 20, "subsistence": 20}}` — one rate on the whole base, a base on
    a boundary in the lower band."""

    __tablename__ = "party_dues_rates"

    version: Mapped[str] = mapped_column(String(64), unique=True)
    effective_from: Mapped[date] = mapped_column(Date, unique=True)
    rules: Mapped[dict[str, Any]] = mapped_column(JSON)
    created_by_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class DeclarationStatus(enum.StrEnum):
    DECLARED = "declared"
    CONFIRMED = "confirmed"
    REJECTED = "rejected"


class DuesDeclaration(IdMixin, Base):
    """A member's declared income for a year, confirmed (or not) by their branch: the standard it gives."""

    __tablename__ = "party_dues_declarations"
    __table_args__ = (
        CheckConstraint("base_fen IS NULL OR base_fen >= 0", name="base_not_negative"),
        CheckConstraint("standard_fen > 0", name="standard_positive"),
        Index("ix_party_dues_declarations_member_id_year", "member_id", "year"),
        Index("ix_party_dues_declarations_status_id", "status", "id"),
    )

    member_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("party_members.id", ondelete="RESTRICT"))
    year: Mapped[int]
    income_kind: Mapped[IncomeKind] = mapped_column(enum_column(IncomeKind, "party_income_kind"))
    base_fen: Mapped[int | None]
    rate_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("party_dues_rates.id", ondelete="RESTRICT"))
    standard_fen: Mapped[int]
    status: Mapped[DeclarationStatus] = mapped_column(enum_column(DeclarationStatus, "party_declaration_status"))
    declared_by_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    declared_at: Mapped[datetime] = mapped_column(default=utcnow)
    decided_by_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    decided_at: Mapped[datetime | None]
    reject_reason: Mapped[str | None] = mapped_column(String(200))

    member: Mapped[PartyMember] = relationship(lazy="joined", innerjoin=True)
    rate: Mapped[DuesRate] = relationship(lazy="joined", innerjoin=True)


class DuesChannel(enum.StrEnum):
    ONLINE = "online"  # WeChat Pay (api/payments)
    OFFLINE = "offline"  # cash or transfer, recorded by the branch


class DuesPaymentStatus(enum.StrEnum):
    PENDING = "pending"  # an online order waiting for WeChat Pay
    PAID = "paid"
    CLOSED = "closed"  # the order was never paid: its months are free again


class DuesPayment(IdMixin, Base):
    """One payment of one or several consecutive months."""

    __tablename__ = "party_dues_payments"
    __table_args__ = (
        CheckConstraint("amount_fen > 0", name="amount_positive"),
        CheckConstraint("months > 0", name="months_positive"),
        CheckConstraint("last_month >= first_month", name="months_in_order"),
        Index("ix_party_dues_payments_member_id_id", "member_id", "id"),
    )

    member_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("party_members.id", ondelete="RESTRICT"))
    channel: Mapped[DuesChannel] = mapped_column(enum_column(DuesChannel, "party_dues_channel"))
    status: Mapped[DuesPaymentStatus] = mapped_column(enum_column(DuesPaymentStatus, "party_dues_payment_status"))
    first_month: Mapped[date] = mapped_column(Date)
    last_month: Mapped[date] = mapped_column(Date)
    months: Mapped[int]
    amount_fen: Mapped[int]
    order_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("payment_orders.id", ondelete="RESTRICT"), unique=True
    )
    payer_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    paid_by_name: Mapped[str | None] = mapped_column(String(32))  # 代缴: who paid for the member
    recorded_by_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    late_reason: Mapped[str | None] = mapped_column(String(200))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    paid_at: Mapped[datetime | None]
    closed_at: Mapped[datetime | None]

    member: Mapped[PartyMember] = relationship(lazy="joined", innerjoin=True)


class DuesMonth(IdMixin, Base):
    """A member's dues for one month: what is due, and — once, never changed after — how it was paid.
    A month is held by the payment paying it (a pending online order holds it; a closed one lets go)."""

    __tablename__ = "party_dues_months"
    __table_args__ = (
        UniqueConstraint("member_id", "month"),
        CheckConstraint("due_fen > 0", name="due_positive"),
        CheckConstraint("paid_at IS NULL OR payment_id IS NOT NULL", name="paid_by_a_payment"),
        Index("ix_party_dues_months_payment_id", "payment_id"),
    )

    member_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("party_members.id", ondelete="RESTRICT"))
    month: Mapped[date] = mapped_column(Date)  # the first of the month
    due_fen: Mapped[int]
    payment_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("party_dues_payments.id", ondelete="RESTRICT"))
    paid_at: Mapped[datetime | None]
    channel: Mapped[DuesChannel | None] = mapped_column(enum_column(DuesChannel, "party_dues_channel"))
    late: Mapped[bool] = mapped_column(default=False, server_default=text("false"))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)

    payment: Mapped[DuesPayment | None] = relationship(lazy="joined")


# ------------------------------------------------------------------------------------------------
# Membership transfers (组织关系转接)
# ------------------------------------------------------------------------------------------------


class TransferDirection(enum.StrEnum):
    INSIDE = "inside"  # between two branches of the subdistrict
    OUT = "out"  # to an organisation outside it
    IN = "in"  # from an organisation outside it


class TransferReach(enum.StrEnum):
    IN_CITY = "in_city"  # within Shanghai: the letter is valid for the shorter time
    OUT_OF_CITY = "out_of_city"  # to or from another province


class TransferStatus(enum.StrEnum):
    DRAFT = "draft"
    SUBMITTED = "submitted"
    RETURNED = "returned"  # back to the member with a reason; resubmitting reuses the application
    CONFIRMED = "confirmed"  # by the sending branch
    APPROVED = "approved"  # by the committee above: the letter is issued, its validity runs
    RECEIVED = "received"  # the receiving organisation took it in (回执)
    COMPLETED = "completed"
    WITHDRAWN = "withdrawn"
    REJECTED = "rejected"
    EXPIRED = "expired"
    REVOKED = "revoked"


OPEN_TRANSFER_STATUSES = ("draft", "submitted", "returned", "confirmed", "approved", "received")
OPEN_TRANSFER = " OR ".join(f"status = '{status}'" for status in OPEN_TRANSFER_STATUSES)


class PartyTransfer(IdMixin, Base):
    __tablename__ = "party_transfers"
    __table_args__ = (
        # One open transfer per member at a time.
        Index(
            "uq_party_transfers_open_member",
            "member_id",
            unique=True,
            postgresql_where=text(OPEN_TRANSFER),
            sqlite_where=text(OPEN_TRANSFER),
        ),
        Index("ix_party_transfers_member_id_id", "member_id", "id"),
        Index("ix_party_transfers_status_valid_until", "status", "valid_until"),
    )

    member_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("party_members.id", ondelete="RESTRICT"))
    direction: Mapped[TransferDirection] = mapped_column(enum_column(TransferDirection, "party_transfer_direction"))
    reach: Mapped[TransferReach] = mapped_column(enum_column(TransferReach, "party_transfer_reach"))
    from_org_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("party_orgs.id", ondelete="RESTRICT"))
    to_org_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("party_orgs.id", ondelete="RESTRICT"))
    # The committee above that approves (and, for a transfer out, records the 回执).
    approver_org_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("party_orgs.id", ondelete="RESTRICT"))
    external_org: Mapped[str | None] = mapped_column(String(100))  # where to (out) or from (in)
    reason: Mapped[str] = mapped_column(String(200), default="")
    status: Mapped[TransferStatus] = mapped_column(enum_column(TransferStatus, "party_transfer_status"))
    letter_no: Mapped[str | None] = mapped_column(String(40))  # ours (issued on approval), or the one received
    letter_issued_at: Mapped[datetime | None]
    valid_until: Mapped[datetime | None]
    letter_paid_until: Mapped[date | None] = mapped_column(Date)  # the letter carries "dues paid up to"
    created_by_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)
    closed_at: Mapped[datetime | None]

    member: Mapped[PartyMember] = relationship(lazy="joined", innerjoin=True)
    from_org: Mapped[PartyOrg | None] = relationship(foreign_keys=[from_org_id], lazy="joined")
    to_org: Mapped[PartyOrg | None] = relationship(foreign_keys=[to_org_id], lazy="joined")
    approver_org: Mapped[PartyOrg] = relationship(foreign_keys=[approver_org_id], lazy="joined", innerjoin=True)
    steps: Mapped[list[PartyTransferStep]] = relationship(
        lazy="selectin", order_by="PartyTransferStep.at, PartyTransferStep.id"
    )


class PartyTransferStep(IdMixin, Base):
    """One step of a transfer (append-only): who, in which role, when, the result and a remark."""

    __tablename__ = "party_transfer_steps"
    __table_args__ = (Index("ix_party_transfer_steps_transfer_id_id", "transfer_id", "id"),)

    transfer_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("party_transfers.id", ondelete="RESTRICT"))
    action: Mapped[str] = mapped_column(String(16))
    from_status: Mapped[str | None] = mapped_column(String(16))
    to_status: Mapped[str] = mapped_column(String(16))
    actor_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    actor_role: Mapped[str] = mapped_column(String(24))  # member, sending_branch, committee, receiving_branch, system
    actor_org_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("party_orgs.id", ondelete="RESTRICT"))
    remark: Mapped[str] = mapped_column(String(200), default="")
    at: Mapped[datetime] = mapped_column(default=utcnow)


# ------------------------------------------------------------------------------------------------
# Working members' registration with their community (在职党员进社区报到)
# ------------------------------------------------------------------------------------------------


class RegistrationStatus(enum.StrEnum):
    SUBMITTED = "submitted"
    CONFIRMED = "confirmed"
    REJECTED = "rejected"
    ENDED = "ended"


class WorkingMemberRegistration(IdMixin, Base):
    """A party member whose membership is with their workplace registers with the community where they live:
    the community's branch confirms it; they then get service tasks (volunteers) and their hours go back to
    their workplace branch each quarter."""

    __tablename__ = "party_registrations"
    __table_args__ = (
        Index(
            "uq_party_registrations_open_user",
            "user_id",
            unique=True,
            postgresql_where=text("status = 'submitted' OR status = 'confirmed'"),
            sqlite_where=text("status = 'submitted' OR status = 'confirmed'"),
        ),
        Index("ix_party_registrations_org_id_id", "org_id", "id"),
        Index("ix_party_registrations_user_id", "user_id"),
    )

    user_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    org_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("party_orgs.id", ondelete="RESTRICT"))
    name: Mapped[str] = mapped_column(String(32))
    workplace_org: Mapped[str] = mapped_column(String(100))  # the workplace's party organisation
    registered_on: Mapped[date] = mapped_column(Date)
    status: Mapped[RegistrationStatus] = mapped_column(enum_column(RegistrationStatus, "party_registration_status"))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    decided_by_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    decided_at: Mapped[datetime | None]
    reject_reason: Mapped[str | None] = mapped_column(String(200))
    ended_at: Mapped[datetime | None]

    org: Mapped[PartyOrg] = relationship(lazy="joined", innerjoin=True)
