"""Volunteers (志愿者): profiles, the staff-managed skill list, groups, tasks and their sign-ups, hours
waiting for review, the two ledgers (service hours and time coins) and the certificates issued from them.

Places on a task are counted on the task row (`confirmed_count`, `reserved_taken`, `waitlist_count`) and every
change to them happens with that row locked (`SELECT … FOR UPDATE`), so a rush of sign-ups is served one at a
time per task and can never put more people on it than it has places — the events domain's rule, here too.

The ledgers are append-only: an entry is never updated or deleted (on PostgreSQL a trigger refuses it), a
correction is a reversing entry, and a balance is the sum of an account's entries. Entries name a ledger
*account*, not a person: erasing a person unlinks their account and keeps every entry, so the subdistrict's
totals (hours served, coins in circulation) stay true after they leave.
"""

from __future__ import annotations

import enum
import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    CheckConstraint,
    Column,
    ForeignKey,
    Index,
    String,
    Table,
    Text,
    UniqueConstraint,
    text,
)
from sqlalchemy.orm import Mapped, mapped_column, query_expression, relationship

from api.accounts.models import PATH_PREFIX_OPS, Area, User, area_path_through
from api.db import Base, IdMixin, TimestampMixin, enum_column, utcnow


class ProfileStatus(enum.StrEnum):
    PENDING = "pending"  # applied, waiting for staff
    APPROVED = "approved"  # may take tasks
    REJECTED = "rejected"
    SUSPENDED = "suspended"  # staff stopped them taking tasks (kept: their hours stay theirs)


class GroupRole(enum.StrEnum):
    LEADER = "leader"
    MEMBER = "member"


class TaskKind(enum.StrEnum):
    ELDER_VISIT = "elder_visit"  # 探访独居老人
    MEAL_DELIVERY = "meal_delivery"  # 助餐配送
    ESCORT = "escort"  # 陪同就医
    EVENT_HELP = "event_help"  # 活动协助
    PATROL = "patrol"  # 巡查
    CLEANUP = "cleanup"  # 环境清洁
    ALERT_RESPONSE = "alert_response"  # 报警上门
    OTHER = "other"


# Elder help: a task of these kinds earns time coins by default (1 per hour), unless its owner says otherwise.
ELDER_HELP = frozenset({TaskKind.ELDER_VISIT, TaskKind.MEAL_DELIVERY, TaskKind.ESCORT, TaskKind.ALERT_RESPONSE})


class TaskSource(enum.StrEnum):
    MANUAL = "manual"
    ALERT = "alert"
    CARE_ORDER = "care_order"
    INCIDENT = "incident"
    EVENT = "event"


class CheckinRule(enum.StrEnum):
    GEOFENCE = "geofence"  # the phone's location inside the task's radius
    OWNER_CODE = "owner_code"  # the 6-digit code (or its QR) the owner shows on site
    SERVED_CODE = "served_code"  # the code the person served reads out


class TaskStatus(enum.StrEnum):
    OPEN = "open"
    HANDLED = "handled"  # an alarm's task after the alarm was acknowledged: nobody else needs to go
    CANCELLED = "cancelled"
    CLOSED = "closed"  # the roster was closed: attendance and hours settled


class SignupStatus(enum.StrEnum):
    OFFERED = "offered"  # an alarm next door, offered to a volunteer nearby
    CONFIRMED = "confirmed"
    WAITLISTED = "waitlisted"
    DECLINED = "declined"  # turned an offer down
    STOOD_DOWN = "stood_down"  # the places were taken, or the alarm was handled, before they were needed
    CANCELLED = "cancelled"  # left the task (or the task was cancelled)
    RELEASED = "released"  # never needed: the roster closed while they waited, or an unconfirmed place let go
    ATTENDED = "attended"
    NO_SHOW = "no_show"


# Sign-ups that hold (or wait for) a place: one per person and task. Written as `<>`s, which PostgreSQL keeps as they
# are, so the migrations test can compare the index's WHERE with the model's.
ACTIVE_SIGNUP = ("offered", "confirmed", "waitlisted", "attended", "no_show")
_ACTIVE_WHERE = "status <> 'declined' AND status <> 'stood_down' AND status <> 'cancelled' AND status <> 'released'"


class ClaimStatus(enum.StrEnum):
    PENDING = "pending"
    APPROVED = "approved"
    REJECTED = "rejected"


class ClaimOrigin(enum.StrEnum):
    MANUAL = "manual"  # entered by staff or a leader (a volunteer without a phone, work done off-app)
    UNCHECKED = "unchecked"  # marked attended at the roster close without a check-in
    FLAGGED = "flagged"  # a check-in or check-out the system did not trust (location, forgotten check-out)


class AccountKind(enum.StrEnum):
    PERSON = "person"
    POOL = "pool"  # the community pool coins are donated to


class HourKind(enum.StrEnum):
    ATTENDANCE = "attendance"  # from a check-in and check-out, at the roster close
    MANUAL = "manual"  # an approved hours claim
    REVERSAL = "reversal"


class CoinKind(enum.StrEnum):
    EARNED = "earned"  # 1 per hour of a qualifying elder-help task
    REVERSAL = "reversal"
    GIFT_OUT = "gift_out"
    GIFT_IN = "gift_in"
    DONATION_OUT = "donation_out"
    DONATION_IN = "donation_in"  # the pool's side of a donation
    CLOSING_OUT = "closing_out"  # an erased account's balance, moved to the pool
    CLOSING_IN = "closing_in"
    SPENT_OUT = "spent_out"  # paid for an elderly service (api/care), to the community pool
    SPENT_IN = "spent_in"  # the pool's side of it
    REFUND_OUT = "refund_out"  # the pool gives them back: the service was cancelled or voided
    REFUND_IN = "refund_in"


volunteer_profile_skills = Table(
    "volunteer_profile_skills",
    Base.metadata,
    Column("profile_id", ForeignKey("volunteer_profiles.id", ondelete="CASCADE"), primary_key=True),
    Column("skill_id", ForeignKey("volunteer_skills.id", ondelete="RESTRICT"), primary_key=True, index=True),
)

volunteer_profile_committees = Table(
    "volunteer_profile_committees",
    Base.metadata,
    Column("profile_id", ForeignKey("volunteer_profiles.id", ondelete="CASCADE"), primary_key=True),
    Column("area_id", ForeignKey("areas.id", ondelete="RESTRICT"), primary_key=True, index=True),
)

volunteer_task_skills = Table(
    "volunteer_task_skills",
    Base.metadata,
    Column("task_id", ForeignKey("volunteer_tasks.id", ondelete="CASCADE"), primary_key=True),
    Column("skill_id", ForeignKey("volunteer_skills.id", ondelete="RESTRICT"), primary_key=True, index=True),
)


class Skill(IdMixin, Base):
    """One entry of the staff-managed skill list (助老, 急救证 …). Retired skills stay on profiles and tasks."""

    __tablename__ = "volunteer_skills"

    code: Mapped[str] = mapped_column(String(32), unique=True)
    name: Mapped[str] = mapped_column(String(32), unique=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    retired_at: Mapped[datetime | None]

    @property
    def area_path(self) -> str | None:
        return None  # the subdistrict's list: its staff and admins manage it (api.scope)


class Profile(IdMixin, TimestampMixin, Base):
    """A resident's volunteer profile: who they are for the hours to count, what they can do, where and when."""

    __tablename__ = "volunteer_profiles"
    __table_args__ = (
        Index("ix_volunteer_profiles_status_id", "status", "id"),
        Index("ix_volunteer_profiles_on_duty", "on_duty", "status"),
    )

    user_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), unique=True)
    real_name: Mapped[str] = mapped_column(String(32))
    # The committee they applied through: whose staff approve them and see them.
    area_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("areas.id", ondelete="RESTRICT"), index=True)
    # Their home estate: where they are when they have not shared a location (alarms next door).
    home_estate_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("areas.id", ondelete="SET NULL"))
    # [{"weekday": 1–7, "start": "HH:MM", "end": "HH:MM"}, …] in Shanghai time.
    availability: Mapped[list[Any]] = mapped_column(JSON, default=list)
    status: Mapped[ProfileStatus] = mapped_column(
        enum_column(ProfileStatus, "volunteer_profile_status"), default=ProfileStatus.PENDING
    )
    decided_by_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    decided_at: Mapped[datetime | None]
    reject_reason: Mapped[str | None] = mapped_column(String(200))
    on_duty: Mapped[bool] = mapped_column(default=False, server_default=text("false"))
    duty_lat: Mapped[float | None]
    duty_lng: Mapped[float | None]
    duty_since: Mapped[datetime | None]
    leaderboard_opt_out: Mapped[bool] = mapped_column(default=False, server_default=text("false"))

    user: Mapped[User | None] = relationship(foreign_keys=[user_id])
    area: Mapped[Area] = relationship(foreign_keys=[area_id], lazy="joined", innerjoin=True)
    home_estate: Mapped[Area | None] = relationship(foreign_keys=[home_estate_id])
    skills: Mapped[list[Skill]] = relationship(secondary=volunteer_profile_skills, order_by="Skill.code")
    committees: Mapped[list[Area]] = relationship(secondary=volunteer_profile_committees, order_by="Area.code")

    area_path = area_path_through("area")


class Group(IdMixin, Base):
    """A volunteer team (志愿服务队) of a committee or of the whole subdistrict."""

    __tablename__ = "volunteer_groups"

    name: Mapped[str] = mapped_column(String(64))
    description: Mapped[str] = mapped_column(Text, default="")
    area_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("areas.id", ondelete="RESTRICT"), index=True)
    created_by_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    archived_at: Mapped[datetime | None]

    area: Mapped[Area] = relationship(lazy="joined", innerjoin=True)
    members: Mapped[list[GroupMember]] = relationship(back_populates="group", order_by="GroupMember.joined_at")

    area_path = area_path_through("area")

    @property
    def group_id(self) -> uuid.UUID:
        return self.id  # a group is its own group: the leaders' rule reads `group_id` (api.volunteers.access)


class GroupMember(IdMixin, Base):
    __tablename__ = "volunteer_group_members"
    __table_args__ = (
        UniqueConstraint("group_id", "profile_id"),
        Index("ix_volunteer_group_members_profile_id", "profile_id"),
    )

    group_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("volunteer_groups.id", ondelete="CASCADE"))
    profile_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("volunteer_profiles.id", ondelete="CASCADE"))
    role: Mapped[GroupRole] = mapped_column(enum_column(GroupRole, "volunteer_group_role"), default=GroupRole.MEMBER)
    joined_at: Mapped[datetime] = mapped_column(default=utcnow)

    group: Mapped[Group] = relationship(back_populates="members")
    profile: Mapped[Profile] = relationship(lazy="joined", innerjoin=True)


class Task(IdMixin, TimestampMixin, Base):
    __tablename__ = "volunteer_tasks"
    __table_args__ = (
        CheckConstraint("ends_at > starts_at", name="ends_after_start"),
        CheckConstraint("slots >= 1", name="slots_positive"),
        CheckConstraint("confirmed_count >= 0 AND confirmed_count <= slots", name="confirmed_within_slots"),
        CheckConstraint("reserved_slots >= 0 AND reserved_slots <= slots", name="reserved_within_slots"),
        CheckConstraint("reserved_taken >= 0 AND reserved_taken <= confirmed_count", name="reserved_taken_counted"),
        CheckConstraint("waitlist_count >= 0 AND waitlist_count <= waitlist_limit", name="waitlist_within_limit"),
        Index("ix_volunteer_tasks_status_starts_at", "status", "starts_at"),
        # One task per alarm (or per event asking for helpers): a signal delivered twice finds the first.
        Index(
            "uq_volunteer_tasks_source_ref",
            "source",
            "source_ref",
            unique=True,
            postgresql_where=text("source_ref IS NOT NULL"),
            sqlite_where=text("source_ref IS NOT NULL"),
        ),
        Index("ix_volunteer_tasks_group_id_id", "group_id", "id"),
    )

    title: Mapped[str] = mapped_column(String(64))
    kind: Mapped[TaskKind] = mapped_column(enum_column(TaskKind, "volunteer_task_kind"))
    description: Mapped[str] = mapped_column(Text, default="")
    # Where, coarsely (an estate, a committee, the subdistrict): shown to everyone, and the staff scope.
    area_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("areas.id", ondelete="RESTRICT"), index=True)
    # Where exactly: only for confirmed volunteers, from a while before the window until its end.
    address: Mapped[str] = mapped_column(String(200), default="")
    door_notes: Mapped[str] = mapped_column(Text, default="")
    lat: Mapped[float | None]
    lng: Mapped[float | None]
    starts_at: Mapped[datetime]
    ends_at: Mapped[datetime]
    slots: Mapped[int]
    confirmed_count: Mapped[int] = mapped_column(default=0, server_default=text("0"))
    waitlist_limit: Mapped[int] = mapped_column(default=0, server_default=text("0"))
    waitlist_count: Mapped[int] = mapped_column(default=0, server_default=text("0"))
    # Arrival order of the waitlist: the next number handed out, under the task's lock.
    next_waitlist_seq: Mapped[int] = mapped_column(BigInteger, default=1, server_default=text("1"))
    # Places kept for one group's members until `reserved_until`, then open to everyone.
    reserved_group_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("volunteer_groups.id", ondelete="SET NULL"))
    reserved_slots: Mapped[int] = mapped_column(default=0, server_default=text("0"))
    reserved_until: Mapped[datetime | None]
    reserved_taken: Mapped[int] = mapped_column(default=0, server_default=text("0"))
    owner_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    # The group that records the hours (谁记录谁证明); none: the committee of the task's place.
    group_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("volunteer_groups.id", ondelete="SET NULL"))
    checkin_rule: Mapped[CheckinRule] = mapped_column(enum_column(CheckinRule, "volunteer_checkin_rule"))
    geofence_radius_m: Mapped[int] = mapped_column(default=150, server_default=text("150"))
    checkin_code: Mapped[str] = mapped_column(String(6))
    served_code: Mapped[str | None] = mapped_column(String(6))
    source: Mapped[TaskSource] = mapped_column(
        enum_column(TaskSource, "volunteer_task_source"), default=TaskSource.MANUAL
    )
    source_ref: Mapped[str | None] = mapped_column(String(64))
    status: Mapped[TaskStatus] = mapped_column(
        enum_column(TaskStatus, "volunteer_task_status"), default=TaskStatus.OPEN
    )
    urgent: Mapped[bool] = mapped_column(default=False, server_default=text("false"))
    coins: Mapped[bool] = mapped_column(default=False, server_default=text("false"))
    cancel_cutoff_minutes: Mapped[int] = mapped_column(default=1440, server_default=text("1440"))
    cancel_reason: Mapped[str | None] = mapped_column(String(200))
    closed_at: Mapped[datetime | None]
    closed_by_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    created_by_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))

    area: Mapped[Area] = relationship(lazy="joined", innerjoin=True)
    group: Mapped[Group | None] = relationship(foreign_keys=[group_id])
    reserved_group: Mapped[Group | None] = relationship(foreign_keys=[reserved_group_id])
    skills: Mapped[list[Skill]] = relationship(secondary=volunteer_task_skills, order_by="Skill.code")

    area_path = area_path_through("area")

    @property
    def minutes(self) -> int:
        """The planned duration: the most hours one person can get for it."""
        return int((self.ends_at - self.starts_at).total_seconds() // 60)


class Signup(IdMixin, Base):
    __tablename__ = "volunteer_signups"
    __table_args__ = (
        # One active sign-up per person and task: a second attempt finds this one.
        Index(
            "uq_volunteer_signups_active_per_user",
            "task_id",
            "user_id",
            unique=True,
            postgresql_where=text(_ACTIVE_WHERE),
            sqlite_where=text(_ACTIVE_WHERE),
        ),
        Index("ix_volunteer_signups_task_id_status_waitlist_seq", "task_id", "status", "waitlist_seq"),
        Index("ix_volunteer_signups_user_id_id", "user_id", "id"),
    )

    task_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("volunteer_tasks.id", ondelete="CASCADE"))
    # None once the person erased their account: the roster keeps counting them.
    user_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    status: Mapped[SignupStatus] = mapped_column(enum_column(SignupStatus, "volunteer_signup_status"))
    waitlist_seq: Mapped[int | None] = mapped_column(BigInteger)
    reserved: Mapped[bool] = mapped_column(default=False, server_default=text("false"))  # holds a reserved place
    overlap_override: Mapped[bool] = mapped_column(default=False, server_default=text("false"))
    created_at: Mapped[datetime]
    confirmed_at: Mapped[datetime | None]
    ended_at: Mapped[datetime | None]  # left, declined, stood down or released
    late_cancel: Mapped[bool] = mapped_column(default=False, server_default=text("false"))
    leave_reason: Mapped[str | None] = mapped_column(String(200))
    offered_distance_m: Mapped[int | None]
    reminded_at: Mapped[datetime | None]
    attendance_confirmed_at: Mapped[datetime | None]  # "I will come", asked by the reminder
    checked_in_at: Mapped[datetime | None]
    checked_in_by: Mapped[str | None] = mapped_column(String(16))  # the rule used
    checked_out_at: Mapped[datetime | None]
    check_in_lat: Mapped[float | None]
    check_in_lng: Mapped[float | None]
    check_out_lat: Mapped[float | None]
    check_out_lng: Mapped[float | None]
    # Why the check-in or check-out is not trusted as it is (suspicious location, forgotten check-out).
    flags: Mapped[list[Any]] = mapped_column(JSON, default=list)
    minutes: Mapped[int | None]  # credited at the roster close
    # How many wait ahead of a waitlisted sign-up, loaded with the row by the lists that show it
    # (`services.my_tasks`); None otherwise, and the schema counts.
    waitlist_ahead: Mapped[int | None] = query_expression()

    task: Mapped[Task] = relationship(lazy="joined", innerjoin=True)
    user: Mapped[User | None] = relationship(foreign_keys=[user_id])


class HourClaim(IdMixin, Base):
    """Hours that need someone's approval before they reach the ledger: entered by hand, or settled at the roster
    close from an attendance nobody could check. Nobody approves hours they entered, or their own."""

    __tablename__ = "volunteer_hour_claims"
    __table_args__ = (
        Index("ix_volunteer_hour_claims_status_id", "status", "id"),
        Index("ix_volunteer_hour_claims_task_id", "task_id"),
        CheckConstraint("minutes > 0", name="minutes_positive"),
    )

    task_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("volunteer_tasks.id", ondelete="RESTRICT"))
    user_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    signup_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("volunteer_signups.id", ondelete="SET NULL"))
    minutes: Mapped[int]
    origin: Mapped[ClaimOrigin] = mapped_column(enum_column(ClaimOrigin, "volunteer_claim_origin"))
    note: Mapped[str] = mapped_column(String(200), default="")
    entered_by_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    status: Mapped[ClaimStatus] = mapped_column(
        enum_column(ClaimStatus, "volunteer_claim_status"), default=ClaimStatus.PENDING
    )
    decided_by_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    decided_at: Mapped[datetime | None]
    reject_reason: Mapped[str | None] = mapped_column(String(200))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)

    task: Mapped[Task] = relationship(lazy="joined", innerjoin=True)
    user: Mapped[User | None] = relationship(foreign_keys=[user_id])

    @property
    def area_path(self) -> str | None:
        return self.task.area_path  # lists join the task and filter on its place (api.volunteers.access)

    @property
    def group_id(self) -> uuid.UUID | None:
        return self.task.group_id


class LedgerAccount(IdMixin, Base):
    """Whose entries are whose: a person's account (unlinked, not removed, when they erase their data) or the
    community pool."""

    __tablename__ = "volunteer_accounts"

    kind: Mapped[AccountKind] = mapped_column(enum_column(AccountKind, "volunteer_account_kind"))
    user_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"), unique=True)
    code: Mapped[str | None] = mapped_column(String(32), unique=True)  # the pool's name
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    closed_at: Mapped[datetime | None]


class HourEntry(IdMixin, Base):
    """志愿服务时长: one line of the service-hours ledger. Never updated or deleted."""

    __tablename__ = "volunteer_hour_entries"
    __table_args__ = (
        CheckConstraint("minutes <> 0", name="minutes_not_zero"),
        Index("ix_volunteer_hour_entries_account_id_id", "account_id", "id"),
        Index("ix_volunteer_hour_entries_group_id_served_at", "group_id", "served_at"),
        Index(
            "ix_volunteer_hour_entries_area_path_id", "area_path", "id", postgresql_ops={"area_path": PATH_PREFIX_OPS}
        ),
    )

    account_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("volunteer_accounts.id", ondelete="RESTRICT"))
    kind: Mapped[HourKind] = mapped_column(enum_column(HourKind, "volunteer_hour_kind"))
    minutes: Mapped[int]
    task_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("volunteer_tasks.id", ondelete="RESTRICT"))
    group_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("volunteer_groups.id", ondelete="RESTRICT"))
    # The task's place when recorded (staff scope), and when the service was done (certificates by period).
    area_path: Mapped[str] = mapped_column(String(255), default="")
    served_at: Mapped[datetime]
    source_id: Mapped[uuid.UUID | None]  # the sign-up or the claim it came from
    reverses_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("volunteer_hour_entries.id"), unique=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class CoinEntry(IdMixin, Base):
    """时间币: one line of the time-coin ledger, in hundredths of a coin. Never updated or deleted."""

    __tablename__ = "time_coin_entries"
    __table_args__ = (
        CheckConstraint("centi <> 0", name="centi_not_zero"),
        Index("ix_time_coin_entries_account_id_id", "account_id", "id"),
        Index("ix_time_coin_entries_area_path_id", "area_path", "id", postgresql_ops={"area_path": PATH_PREFIX_OPS}),
    )

    account_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("volunteer_accounts.id", ondelete="RESTRICT"))
    kind: Mapped[CoinKind] = mapped_column(enum_column(CoinKind, "time_coin_kind"))
    centi: Mapped[int]
    task_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("volunteer_tasks.id", ondelete="RESTRICT"))
    counterpart_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("volunteer_accounts.id", ondelete="RESTRICT"))
    area_path: Mapped[str] = mapped_column(String(255), default="")
    source_id: Mapped[uuid.UUID | None]  # the sign-up, claim or transfer it came from
    reverses_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("time_coin_entries.id"), unique=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class Correction(IdMixin, Base):
    """Why a ledger entry was reversed, and by whom: beside the ledgers rather than in them, so the ledgers hold
    no one's words and never need rewriting."""

    __tablename__ = "volunteer_corrections"

    ledger: Mapped[str] = mapped_column(String(8))  # "hours" | "coins"
    entry_id: Mapped[uuid.UUID] = mapped_column(unique=True)  # the reversing entry
    account_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("volunteer_accounts.id", ondelete="RESTRICT"), index=True)
    reason: Mapped[str] = mapped_column(String(200))
    by_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class Certificate(IdMixin, Base):
    """A certificate as issued: what it said, and the code anyone may verify it by."""

    __tablename__ = "volunteer_certificates"

    code: Mapped[str] = mapped_column(String(16), unique=True)
    user_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    holder_name: Mapped[str] = mapped_column(String(32))
    period_from: Mapped[datetime | None]
    period_to: Mapped[datetime | None]
    total_minutes: Mapped[int]
    # [{"group": "…", "recorded_by": "…", "minutes": n}, …]: the hours per recording group.
    lines: Mapped[list[Any]] = mapped_column(JSON, default=list)
    issued_at: Mapped[datetime] = mapped_column(default=utcnow)
