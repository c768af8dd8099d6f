"""Incidents (随手拍 / 民情): the category catalogue, the reported case, its timeline, followers, handling units.

A case runs 民情收集 → 事件分类 → 任务派单 → 问题处置 → 反馈评价 → 入库备案, i.e. the statuses
submitted → accepted → dispatched → in_progress → resolved → closed (or rejected). The one table of
allowed moves lives in `api.incidents.services.TRANSITIONS`; every move, and every other staff action,
writes an `IncidentEvent` row (the audit timeline). Reports come from the mini-program (a resident is
the reporter) or from a partner system through Open311 (`reporter_id` is null, `partner_id` names the
partner; that table belongs to the Open311 package, so there is deliberately no foreign key here).
"""

from __future__ import annotations

import enum
import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import JSON, CheckConstraint, Float, ForeignKey, Index, String, text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from api.accounts.models import Area, User, area_path_through
from api.db import Base, IdMixin, TimestampMixin, enum_column, utcnow


class IncidentStatus(enum.StrEnum):
    SUBMITTED = "submitted"  # 民情收集: filed, not yet looked at
    ACCEPTED = "accepted"  # 事件分类: classified and accepted; the SLA clock runs from here
    DISPATCHED = "dispatched"  # 任务派单: handed to a handling unit or a person
    IN_PROGRESS = "in_progress"  # 问题处置: the handler is on it
    RESOLVED = "resolved"  # handled; waiting for the reporter's feedback (反馈评价)
    CLOSED = "closed"  # 入库备案: archived
    REJECTED = "rejected"  # not a case (out of scope, spam, duplicate report …)

    @property
    def is_open(self) -> bool:
        """Open311 maps every status but closed/rejected to "open"."""
        return self not in (IncidentStatus.CLOSED, IncidentStatus.REJECTED)


OPEN_STATUSES = tuple(s.value for s in IncidentStatus if s.is_open)
# The statuses in which the SLA clock runs (due_at is set at acceptance, cleared at resolution).
CLOCKED_STATUSES = ("accepted", "dispatched", "in_progress")


class IncidentSource(enum.StrEnum):
    MINIPROGRAM = "miniprogram"
    OPEN311 = "open311"


class HandlingUnitKind(enum.StrEnum):
    PROPERTY_COMPANY = "property_company"  # 物业公司
    GRID = "grid"  # 网格 (grid workers)
    CITY_DEPARTMENT = "city_department"  # 城管、房管、环卫 … (一网统管)


class IncidentCategory(IdMixin, Base):
    """A two-level catalogue: a parent (市容环境) groups leaves (偷倒垃圾); reports name a leaf."""

    __tablename__ = "incident_categories"
    __table_args__ = (CheckConstraint("time_limit_hours > 0", name="time_limit_positive"),)

    code: Mapped[str] = mapped_column(String(64), unique=True)  # "env.dumping"
    parent_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("incident_categories.id", ondelete="RESTRICT"), index=True
    )
    name_zh: Mapped[str] = mapped_column(String(64))
    name_en: Mapped[str] = mapped_column(String(64))
    # The handling time limit (办结时限) counted from acceptance.
    time_limit_hours: Mapped[int] = mapped_column(default=72, server_default=text("72"))
    photo_required: Mapped[bool] = mapped_column(default=False, server_default=text("false"))
    active: Mapped[bool] = mapped_column(default=True, server_default=text("true"))
    position: Mapped[int] = mapped_column(default=0, server_default=text("0"))  # display order
    # Extra fields asked of a report (Open311 service definition attributes):
    # [{"code", "datatype": "string|number|datetime|text|singlevaluelist|multivaluelist",
    #   "required", "description", "values": [{"key", "name"}]}]
    attributes: Mapped[list[dict[str, Any]]] = mapped_column(JSON, default=list)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)

    parent: Mapped[IncidentCategory | None] = relationship(remote_side="IncidentCategory.id", lazy="joined")

    @property
    def is_leaf(self) -> bool:
        return self.parent_id is not None


class HandlingUnit(IdMixin, Base):
    """Who a case is dispatched to: a property company, a grid, a city department."""

    __tablename__ = "handling_units"

    name: Mapped[str] = mapped_column(String(64))
    kind: Mapped[HandlingUnitKind] = mapped_column(enum_column(HandlingUnitKind, "handling_unit_kind"))
    # The area it serves (staff scope); null: the whole city / subdistrict.
    area_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("areas.id", ondelete="RESTRICT"), index=True)
    active: Mapped[bool] = mapped_column(default=True, server_default=text("true"))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)

    area: Mapped[Area | None] = relationship(lazy="joined")

    # None: serves everywhere (`api.scope.serving`).
    area_path = area_path_through("area")


class Incident(IdMixin, TimestampMixin, Base):
    __tablename__ = "incidents"
    __table_args__ = (
        CheckConstraint("escalation_level >= 0", name="escalation_not_negative"),
        CheckConstraint("reopen_count >= 0", name="reopen_not_negative"),
        CheckConstraint("feedback_score IS NULL OR (feedback_score >= 1 AND feedback_score <= 5)", name="score_1_5"),
        CheckConstraint("(lat IS NULL) = (lng IS NULL)", name="lat_lng_together"),
        # The triage queue: by status, newest first (ids are UUIDv7, so id order is arrival order).
        Index("ix_incidents_status_id", "status", "id"),
        Index("ix_incidents_area_id_status", "area_id", "status"),
        # Nearby-duplicate check: category equality, then a latitude range (the bounding-box prefilter).
        Index("ix_incidents_category_lat_lng", "category_id", "lat", "lng"),
        Index("ix_incidents_reporter_id_id", "reporter_id", "id"),
        # Statistics by date range.
        Index("ix_incidents_created_at", "created_at"),
        # The SLA beat job's scan: cases with a running clock, by due time.
        Index(
            "ix_incidents_clocked_due_at",
            "due_at",
            postgresql_where=text("status = 'accepted' OR status = 'dispatched' OR status = 'in_progress'"),
            sqlite_where=text("status = 'accepted' OR status = 'dispatched' OR status = 'in_progress'"),
        ),
        # The auto-close scan: resolved cases waiting for feedback, by resolution time.
        Index(
            "ix_incidents_resolved_waiting",
            "resolved_at",
            postgresql_where=text("status = 'resolved'"),
            sqlite_where=text("status = 'resolved'"),
        ),
    )

    category_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("incident_categories.id", ondelete="RESTRICT"))
    # Null when a partner system filed it through Open311 (or the resident deleted their account).
    reporter_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    source: Mapped[IncidentSource] = mapped_column(
        enum_column(IncidentSource, "incident_source"), default=IncidentSource.MINIPROGRAM
    )
    # The Open311 partner that filed it; no foreign key: the Open311 package owns that table.
    partner_id: Mapped[uuid.UUID | None] = mapped_column(index=True)
    status: Mapped[IncidentStatus] = mapped_column(
        enum_column(IncidentStatus, "incident_status"), default=IncidentStatus.SUBMITTED
    )
    description: Mapped[str] = mapped_column(String(500))
    lat: Mapped[float | None] = mapped_column(Float)
    lng: Mapped[float | None] = mapped_column(Float)
    address: Mapped[str | None] = mapped_column(String(200))
    # The committee (or estate) the case falls in: staff scope and statistics; null until known.
    area_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("areas.id", ondelete="RESTRICT"))
    external_media_urls: Mapped[list[str]] = mapped_column(JSON, default=list)
    attributes: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    # The latest public note of a transition (Open311 `status_notes`, the resident's headline).
    status_note: Mapped[str | None] = mapped_column(String(500))

    due_at: Mapped[datetime | None]
    escalation_level: Mapped[int] = mapped_column(default=0, server_default=text("0"))
    accepted_at: Mapped[datetime | None]
    dispatched_at: Mapped[datetime | None]
    started_at: Mapped[datetime | None]
    resolved_at: Mapped[datetime | None]
    closed_at: Mapped[datetime | None]

    assigned_unit_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("handling_units.id", ondelete="SET NULL"))
    assignee_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    merged_into_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("incidents.id", ondelete="SET NULL"))

    feedback_score: Mapped[int | None]
    feedback_comment: Mapped[str | None] = mapped_column(String(200))
    feedback_at: Mapped[datetime | None]
    reopen_count: Mapped[int] = mapped_column(default=0, server_default=text("0"))

    category: Mapped[IncidentCategory] = relationship(lazy="joined", innerjoin=True)
    area: Mapped[Area | None] = relationship(lazy="joined")
    reporter: Mapped[User | None] = relationship(foreign_keys=[reporter_id])
    assigned_unit: Mapped[HandlingUnit | None] = relationship(lazy="joined")
    assignee: Mapped[User | None] = relationship(foreign_keys=[assignee_id])

    # None until the case is placed in an area: the whole subdistrict's until then.
    area_path = area_path_through("area")

    @property
    def is_overdue(self) -> bool:
        return self.due_at is not None and self.status.value in CLOCKED_STATUSES and self.due_at <= utcnow()


class IncidentEvent(IdMixin, Base):
    """One line of a case's timeline: a status change or another staff/system action (audit)."""

    __tablename__ = "incident_events"
    __table_args__ = (Index("ix_incident_events_incident_id_at", "incident_id", "at"),)

    incident_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("incidents.id", ondelete="CASCADE"))
    action: Mapped[str] = mapped_column(String(32))  # "submit", "accept", …, "merge", "escalate", "feedback"
    from_status: Mapped[str | None] = mapped_column(String(16))
    to_status: Mapped[str | None] = mapped_column(String(16))
    # Null: the system (the SLA job, auto-close) or a partner system.
    actor_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    note: Mapped[str | None] = mapped_column(String(500))
    data: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    at: Mapped[datetime] = mapped_column(default=utcnow)

    actor: Mapped[User | None] = relationship()


class IncidentFollower(Base):
    """A resident following a case that is not theirs: reporters of reports merged into it."""

    __tablename__ = "incident_followers"

    incident_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("incidents.id", ondelete="CASCADE"), primary_key=True)
    user_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), primary_key=True, index=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
