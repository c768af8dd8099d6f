"""Device registry: every IoT device in an elder's home, what it is, where it is and whom it watches.

The alert engine (`api/alerts/`) reads this table on every ingested event (by `serial`) and sweeps it
for devices that stopped reporting (`status`, `last_seen_at`); this domain owns the rows themselves:
staff create, bind, retire and bulk-import them.
"""

from __future__ import annotations

import enum
import uuid
from datetime import date, datetime

from sqlalchemy import ForeignKey, Index, String, text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from api.accounts.models import Room, area_path_through
from api.db import Base, IdMixin, enum_column, utcnow
from api.eldercare.models import DeviceType, Elder


class DeviceStatus(enum.StrEnum):
    ACTIVE = "active"
    OFFLINE = "offline"  # missed its heartbeat interval (set by the alerts sweep)
    RETIRED = "retired"  # removed from service; kept for history, ignored by ingestion and sweeps


# How often each kind of device reports when nothing happens (seconds), as the NB-IoT devices of the
# subdistrict are configured: battery smoke/water sensors save power with a 4 h heartbeat; mains or
# safety-critical devices (gas, arc fault, SOS, fall) report hourly; a door sensor hourly; a blood
# pressure monitor only reports when used, so it is given a day. A device's own value overrides this.
DEFAULT_HEARTBEAT_SECONDS: dict[DeviceType, int] = {
    DeviceType.DOOR_SENSOR: 3600,
    DeviceType.SMOKE_DETECTOR: 4 * 3600,
    DeviceType.GAS_DETECTOR: 3600,
    DeviceType.ARC_FAULT_BREAKER: 3600,
    DeviceType.WATER_LEAK_SENSOR: 4 * 3600,
    DeviceType.SOS_BUTTON: 3600,
    DeviceType.FALL_DETECTOR: 3600,
    DeviceType.BLOOD_PRESSURE_MONITOR: 24 * 3600,
}


def default_heartbeat(device_type: DeviceType | str) -> int:
    return DEFAULT_HEARTBEAT_SECONDS.get(DeviceType(device_type), 3600)


class Device(IdMixin, Base):
    __tablename__ = "devices"
    __table_args__ = (
        # The offline sweep: active devices ordered by when they were last heard from.
        Index("ix_devices_status_last_seen_at", "status", "last_seen_at"),
    )

    serial: Mapped[str] = mapped_column(String(64), unique=True)
    type: Mapped[DeviceType] = mapped_column(enum_column(DeviceType, "device_type"))
    room_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("rooms.id", ondelete="SET NULL"), index=True)
    elder_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("elders.id", ondelete="SET NULL"), index=True)
    installed_on: Mapped[date | None]
    status: Mapped[DeviceStatus] = mapped_column(
        enum_column(DeviceStatus, "device_status"), default=DeviceStatus.ACTIVE
    )
    last_seen_at: Mapped[datetime | None]
    battery_percent: Mapped[int | None]
    # When the reading that set `battery_percent` was taken: an older reading re-sent after an outage
    # never overwrites a newer one.
    battery_at: Mapped[datetime | None]
    heartbeat_interval_seconds: Mapped[int] = mapped_column(default=3600, server_default=text("3600"))
    # Last door opening / last reading: the alerts engineer updates it; door inactivity reads it.
    last_activity_at: Mapped[datetime | None]
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    retired_at: Mapped[datetime | None]

    room: Mapped[Room | None] = relationship(lazy="joined")
    elder: Mapped[Elder | None] = relationship()

    # Where its home is; None until it is installed in one.
    area_path = area_path_through("room")

    def __init__(self, **kwargs: object) -> None:
        # A device created without an interval gets its type's default (see DEFAULT_HEARTBEAT_SECONDS).
        if kwargs.get("heartbeat_interval_seconds") is None and kwargs.get("type") is not None:
            kwargs["heartbeat_interval_seconds"] = default_heartbeat(kwargs["type"])  # type: ignore[arg-type]
        super().__init__(**kwargs)
