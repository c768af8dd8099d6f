"""Alerts: the raw IoT events (kept per device), the alert raised for an incident, its timeline, and
who is on duty for an area (the staff/grid-worker step of an escalation).

At most one unresolved alert exists per (device, rule): a partial unique index enforces it, and the
ingestion writes alerts with `INSERT … ON CONFLICT DO UPDATE` against that index, so a storm of
repeats — even from concurrent batches — increments one row instead of opening (and notifying) many.
"""

from __future__ import annotations

import enum
import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import JSON, CheckConstraint, ForeignKey, Index, String, Text, UniqueConstraint, text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from api.accounts.models import PATH_PREFIX_OPS, Area, User, area_path_through
from api.db import Base, IdMixin, enum_column, utcnow
from api.devices.models import Device
from api.eldercare.models import Elder


class Severity(enum.StrEnum):
    CRITICAL = "critical"
    WARNING = "warning"
    NOTICE = "notice"


class AlertStatus(enum.StrEnum):
    OPEN = "open"
    ACKNOWLEDGED = "acknowledged"
    RESOLVED = "resolved"


class Resolution(enum.StrEnum):
    FALSE_ALARM = "false_alarm"
    HANDLED = "handled"
    HOSPITALISED = "hospitalised"
    OTHER = "other"


class AlertRule(enum.StrEnum):
    SMOKE = "smoke"
    GAS = "gas"
    ARC_FAULT = "arc_fault"
    WATER_LEAK = "water_leak"
    SOS = "sos"
    FALL = "fall"
    BLOOD_PRESSURE = "blood_pressure"
    DOOR_INACTIVITY = "door_inactivity"
    TAMPER = "tamper"
    LOW_BATTERY = "low_battery"
    OFFLINE = "offline"


class StepKind(enum.StrEnum):
    NOTIFIED_CONTACT = "notified_contact"  # one family contact (user_id): the chain's record of whom it told
    ESCALATED_STAFF = "escalated_staff"  # grid workers and staff on duty (or in scope) for the area
    VOLUNTEERS_REQUESTED = "volunteers_requested"  # no volunteer domain yet: staff told volunteers are needed
    NO_CONTACT = "no_contact"  # a step that found nobody to tell (recorded so the timeline has no hole)
    ACKNOWLEDGED = "acknowledged"
    RESOLVED = "resolved"


class IotEvent(IdMixin, Base):
    """One event as the IoT platform pushed it; (platform, event_id) makes a re-push a no-op."""

    __tablename__ = "iot_events"
    __table_args__ = (
        UniqueConstraint("platform", "event_id"),
        # Per-device history, in the order things happened (a batch's ids share a millisecond).
        Index("ix_iot_events_device_id_occurred_at_id", "device_id", "occurred_at", "id"),
    )

    platform: Mapped[str] = mapped_column(String(32))
    event_id: Mapped[str] = mapped_column(String(64))
    device_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("devices.id", ondelete="CASCADE"))
    type: Mapped[str] = mapped_column(String(32))
    value: Mapped[Any | None] = mapped_column(JSON)
    occurred_at: Mapped[datetime]
    received_at: Mapped[datetime] = mapped_column(default=utcnow)


class IotBatchReceipt(Base):
    """A signed batch taken in: its signature is accepted once (replay guard). Written in the batch's own
    transaction, so a batch that fails leaves no receipt and may be re-sent as it was, and kept in the
    database rather than Redis, so alarms keep coming in while Redis is down."""

    __tablename__ = "iot_batch_receipts"

    platform: Mapped[str] = mapped_column(String(32), primary_key=True)
    signature: Mapped[str] = mapped_column(String(64), primary_key=True)
    received_at: Mapped[datetime] = mapped_column(default=utcnow, index=True)


class Alert(IdMixin, Base):
    """One incident: the first event opens it, repeats only count, people are told along the chain."""

    __tablename__ = "alerts"
    __table_args__ = (
        Index(
            "uq_alerts_unresolved_per_device_rule",
            "device_id",
            "rule",
            unique=True,
            postgresql_where=text("status <> 'resolved'"),
            sqlite_where=text("status <> 'resolved'"),
        ),
        # The escalation beat: unacknowledged alerts due for their next step.
        Index("ix_alerts_status_next_escalation_at", "status", "next_escalation_at"),
        Index("ix_alerts_area_path_id", "area_path", "id", postgresql_ops={"area_path": PATH_PREFIX_OPS}),
        Index("ix_alerts_elder_id_id", "elder_id", "id"),
        Index("ix_alerts_device_id_id", "device_id", "id"),
        CheckConstraint("count >= 1", name="count_positive"),
    )

    device_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("devices.id", ondelete="CASCADE"))
    elder_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("elders.id", ondelete="SET NULL"))
    room_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("rooms.id", ondelete="SET NULL"))
    # The building's area path ("/KJ/KJ01/KJ01-01/KJ01-01-001/") when the alert opened: staff scope (api.scope);
    # empty when the device had no home.
    area_path: Mapped[str] = mapped_column(String(255), default="")
    rule: Mapped[AlertRule] = mapped_column(enum_column(AlertRule, "alert_rule"))
    severity: Mapped[Severity] = mapped_column(enum_column(Severity, "alert_severity"))
    status: Mapped[AlertStatus] = mapped_column(enum_column(AlertStatus, "alert_status"), default=AlertStatus.OPEN)
    count: Mapped[int] = mapped_column(default=1, server_default=text("1"))
    value: Mapped[Any | None] = mapped_column(JSON)  # the latest reading (blood pressure …)
    first_at: Mapped[datetime]
    last_at: Mapped[datetime]
    escalation_level: Mapped[int] = mapped_column(default=0, server_default=text("0"))
    next_escalation_at: Mapped[datetime | None]
    acknowledged_by_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    acknowledged_at: Mapped[datetime | None]
    resolved_by_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    resolved_at: Mapped[datetime | None]
    resolution: Mapped[Resolution | None] = mapped_column(enum_column(Resolution, "alert_resolution"))
    resolution_note: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)

    device: Mapped[Device] = relationship(lazy="joined", innerjoin=True)
    elder: Mapped[Elder | None] = relationship()
    # Ids made in the same millisecond are not ordered; the step's time is (one step per action).
    steps: Mapped[list[AlertStep]] = relationship(order_by="(AlertStep.at, AlertStep.id)", cascade="all, delete-orphan")


class AlertStep(IdMixin, Base):
    """The alert's timeline: who was told or acted, when, and the outbox rows that carried it."""

    __tablename__ = "alert_steps"
    __table_args__ = (Index("ix_alert_steps_alert_id_at", "alert_id", "at"),)

    alert_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("alerts.id", ondelete="CASCADE"))
    kind: Mapped[StepKind] = mapped_column(enum_column(StepKind, "alert_step_kind"))
    level: Mapped[int] = mapped_column(default=0, server_default=text("0"))
    # The person told (a contact step) or who acted (acknowledged, resolved); none for system steps.
    user_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    notification_ids: Mapped[list[Any]] = mapped_column(JSON, default=list)
    note: Mapped[str] = mapped_column(String(200), default="")
    at: Mapped[datetime] = mapped_column(default=utcnow)

    user: Mapped[User | None] = relationship()


class DutyShift(IdMixin, Base):
    """A staff member or grid worker on duty for an area (and everything under it) for a while."""

    __tablename__ = "duty_shifts"
    __table_args__ = (
        CheckConstraint("ends_at > starts_at", name="ends_after_start"),
        Index("ix_duty_shifts_area_id_ends_at", "area_id", "ends_at"),
    )

    user_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    area_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("areas.id", ondelete="RESTRICT"))
    starts_at: Mapped[datetime]
    ends_at: Mapped[datetime]
    created_by_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)

    user: Mapped[User] = relationship(foreign_keys=[user_id], lazy="joined", innerjoin=True)
    area: Mapped[Area] = relationship(lazy="joined", innerjoin=True)

    area_path = area_path_through("area")
