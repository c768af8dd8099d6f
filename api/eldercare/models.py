"""Eldercare models: the elder, their monitoring consent, family bindings and binding invites.

An elder is a person the subdistrict looks after at home (often living alone). Nothing may watch them
(no device bound to them) until a `MonitoringConsent` covering that kind of device is on record, and
nobody receives their alerts until the elder (or staff on their behalf) confirms a `FamilyBinding`.
The confirmed bindings, ordered by `position`, are the escalation chain the alert engine walks.
"""

from __future__ import annotations

import enum
import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import JSON, ForeignKey, Index, String, Text, UniqueConstraint, text
from sqlalchemy.orm import Mapped, mapped_column, relationship, validates

from api.accounts.models import Room, User, area_path_through
from api.crypto import Encrypted, lookup_hash
from api.db import Base, IdMixin, enum_column, utcnow


# The kinds of device that can watch an elder: what a monitoring consent names. The device registry
# (api/devices) keeps the devices themselves.
class DeviceType(enum.StrEnum):
    DOOR_SENSOR = "door_sensor"  # 门磁
    SMOKE_DETECTOR = "smoke_detector"  # 烟感
    GAS_DETECTOR = "gas_detector"  # 燃气报警器
    ARC_FAULT_BREAKER = "arc_fault_breaker"  # 电弧灭弧保护器
    WATER_LEAK_SENSOR = "water_leak_sensor"  # 水浸
    SOS_BUTTON = "sos_button"  # 一键呼叫
    FALL_DETECTOR = "fall_detector"  # 跌倒检测
    BLOOD_PRESSURE_MONITOR = "blood_pressure_monitor"  # 血压计


class ElderStatus(enum.StrEnum):
    PENDING = "pending"  # registered by a resident, waiting for staff
    ACTIVE = "active"
    INACTIVE = "inactive"  # rejected, moved away or deceased: kept for history, never monitored


class BindingStatus(enum.StrEnum):
    REQUESTED = "requested"
    CONFIRMED = "confirmed"
    REVOKED = "revoked"  # declined, left, or removed


class Elder(IdMixin, Base):
    __tablename__ = "elders"
    __table_args__ = (Index("ix_elders_status_id", "status", "id"),)

    # The elder's own mini-program account, if they have one (many do not: staff act for them).
    user_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"), index=True)
    name: Mapped[str] = mapped_column(String(32))
    room_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("rooms.id", ondelete="RESTRICT"), index=True)
    birth_year: Mapped[int | None]
    conditions: Mapped[str] = mapped_column(Text, default="")
    # Encrypted at rest (api.crypto); `phone_hash` finds a number without decrypting every row.
    phone: Mapped[str | None] = mapped_column(Encrypted("elders.phone"))
    phone_hash: Mapped[str | None] = mapped_column(String(64), index=True)
    status: Mapped[ElderStatus] = mapped_column(enum_column(ElderStatus, "elder_status"), default=ElderStatus.PENDING)
    registered_by_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    approved_by_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    approved_at: Mapped[datetime | None]
    reject_reason: Mapped[str | None] = mapped_column(String(200))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    # Per-elder thresholds the alert rules read.
    door_inactivity_hours: Mapped[int] = mapped_column(default=24, server_default=text("24"))
    bp_systolic_max: Mapped[int] = mapped_column(default=160, server_default=text("160"))
    bp_diastolic_max: Mapped[int] = mapped_column(default=100, server_default=text("100"))

    @validates("phone")
    def _hash_phone(self, _key: str, value: str | None) -> str | None:
        self.phone_hash = lookup_hash(value)
        return value

    room: Mapped[Room] = relationship(lazy="joined", innerjoin=True)
    user: Mapped[User | None] = relationship(foreign_keys=[user_id])

    area_path = area_path_through("room")


class MonitoringConsent(IdMixin, Base):
    """Who agreed that which devices may watch the elder, and when; withdrawal ends it (kept for the record)."""

    __tablename__ = "monitoring_consents"

    elder_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("elders.id", ondelete="CASCADE"), index=True)
    given_by: Mapped[str] = mapped_column(String(64))  # "本人" or the guardian's name and relation
    recorded_by_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    recorded_at: Mapped[datetime] = mapped_column(default=utcnow)
    # DeviceType values, or ["*"] for every kind of device.
    device_types: Mapped[list[Any]] = mapped_column(JSON, default=list)
    withdrawn_at: Mapped[datetime | None]
    withdrawn_by_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))


class FamilyBinding(IdMixin, Base):
    __tablename__ = "family_bindings"
    __table_args__ = (
        UniqueConstraint("elder_id", "user_id"),
        Index("ix_family_bindings_user_id_status", "user_id", "status"),
    )

    elder_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("elders.id", ondelete="CASCADE"), index=True)
    user_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    relation: Mapped[str] = mapped_column(String(16))  # 子女, 配偶, 亲属, 邻居 …
    # Contact order: 1 is called first. Only meaningful for confirmed bindings.
    position: Mapped[int] = mapped_column(default=0, server_default=text("0"))
    status: Mapped[BindingStatus] = mapped_column(
        enum_column(BindingStatus, "binding_status"), default=BindingStatus.REQUESTED
    )
    requested_at: Mapped[datetime] = mapped_column(default=utcnow)
    confirmed_at: Mapped[datetime | None]
    confirmed_by_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    revoked_at: Mapped[datetime | None]

    elder: Mapped[Elder] = relationship(lazy="joined", innerjoin=True)
    user: Mapped[User] = relationship(foreign_keys=[user_id], lazy="joined", innerjoin=True)


class BindingInvite(IdMixin, Base):
    """A short-lived code (shown as a QR in the mini-program) a family member scans to ask to bind."""

    __tablename__ = "binding_invites"

    elder_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("elders.id", ondelete="CASCADE"), index=True)
    code: Mapped[str] = mapped_column(String(16), unique=True)
    created_by_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    expires_at: Mapped[datetime]
    used_at: Mapped[datetime | None]
    used_by_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
