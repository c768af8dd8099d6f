"""Shared parking's tables: lots and their spaces, lenders' sharing offers, residents' vehicles, quotes,
bookings and monthly passes, the time each takes on a space (`parking_holds`), what gates and
magnetometers report (passages, sessions, sensors), and the cases staff look into (anomalies).

Time on a space is one table for bookings and passes alike, so the database itself can refuse two live
claims on one bay that overlap: on PostgreSQL an exclusion constraint over `tstzrange(starts_at, until,
'[)')` per space for the live, unpooled holds (half-open, so 18:00–22:00 and 22:00–08:00 both fit; `until`
is the end plus the turnover buffer). SQLite has no such constraint: there the service's check under the
space's lock is the guard (`services`). A pooled space (capacity N, bays not assigned) is guarded by its row
lock and a peak count in SQL.

Every place-bound row carries `area_path` (the lot's area, copied when it is made), the one thing staff
scope (`api.scope`) compares. Money is integer fen.
"""

from __future__ import annotations

import enum
import uuid
from datetime import date, datetime
from typing import Any

from sqlalchemy import JSON, CheckConstraint, Date, ForeignKey, Index, String, UniqueConstraint, text
from sqlalchemy.dialects import postgresql
from sqlalchemy.orm import Mapped, mapped_column, relationship

from api.accounts.models import Area, User
from api.db import Base, IdMixin, enum_column, utcnow

PATH_OPS = {"area_path": "varchar_pattern_ops"}


class LotKind(enum.StrEnum):
    CAR_PARK = "car_park"  # gated, gate cameras read plates
    ROAD = "road"  # a stretch of road spaces, magnetometers in the bays


class SpaceKind(enum.StrEnum):
    BAY = "bay"  # one marked space (capacity 1)
    POOL = "pool"  # capacity of a car park whose bays are not assigned


class OfferStatus(enum.StrEnum):
    PENDING = "pending"  # waiting for staff
    APPROVED = "approved"  # in force: its windows can be booked
    REJECTED = "rejected"
    SUPERSEDED = "superseded"  # a newer offer of the same lender and lot was approved
    WITHDRAWN = "withdrawn"  # the lender took it back


class Verification(enum.StrEnum):
    UNVERIFIED = "unverified"  # registered, nothing shown yet
    VERIFIED = "verified"  # by staff, or by a driving-licence photo (staff may still reject it)
    REJECTED = "rejected"


class BookingStatus(enum.StrEnum):
    HELD = "held"  # the time is taken, waiting for payment
    CONFIRMED = "confirmed"  # paid (or free)
    IN_PROGRESS = "in_progress"  # the car came in
    COMPLETED = "completed"  # the car left
    EXPIRED = "expired"  # not paid in time: the space was freed
    CANCELLED = "cancelled"  # by the driver, the lender or staff
    NO_SHOW = "no_show"  # nobody came by start + the no-show time: released


LIVE_BOOKING = (BookingStatus.HELD, BookingStatus.CONFIRMED, BookingStatus.IN_PROGRESS)


class PassStatus(enum.StrEnum):
    HELD = "held"
    ACTIVE = "active"
    EXPIRED = "expired"  # unpaid in time, or its months are over
    CANCELLED = "cancelled"


class SessionStatus(enum.StrEnum):
    OPEN = "open"  # the car is inside
    CLOSED = "closed"  # it left; the bill is settled or owed


class Direction(enum.StrEnum):
    ENTRY = "entry"
    EXIT = "exit"


class Occupancy(enum.StrEnum):
    VACANT = "vacant"
    OCCUPIED = "occupied"
    UNKNOWN = "unknown"  # the sensor went silent: never shown as free
    FAULT = "fault"


class AnomalyKind(enum.StrEnum):
    EXIT_WITHOUT_SESSION = "exit_without_session"
    UNBOOKED_ENTRY = "unbooked_entry"
    MISREAD_OPENED = "misread_opened"
    OCCUPIED_ON_ARRIVAL = "occupied_on_arrival"
    SENSOR_SILENT = "sensor_silent"
    SENSOR_FAULT = "sensor_fault"


class AnomalyStatus(enum.StrEnum):
    OPEN = "open"
    RESOLVED = "resolved"


class ParkingLot(IdMixin, Base):
    """A car park with gates, or a stretch of road spaces, with the prices it filed (备案价)."""

    __tablename__ = "parking_lots"
    __table_args__ = (
        CheckConstraint("hourly_rate_fen >= 0 AND daily_cap_fen >= 0", name="prices_not_negative"),
        CheckConstraint("overstay_rate_fen >= 0 AND pass_monthly_fen >= 0", name="rates_not_negative"),
        CheckConstraint("lat BETWEEN -90 AND 90 AND lng BETWEEN -180 AND 180", name="on_the_globe"),
        Index("ix_parking_lots_lat_lng", "lat", "lng"),
        Index("ix_parking_lots_area_path_id", "area_path", "id", postgresql_ops=PATH_OPS),
    )

    area_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("areas.id", ondelete="RESTRICT"))
    area_path: Mapped[str] = mapped_column(String(255))
    name: Mapped[str] = mapped_column(String(64))
    kind: Mapped[LotKind] = mapped_column(enum_column(LotKind, "parking_lot_kind"))
    address: Mapped[str] = mapped_column(String(200))
    lat: Mapped[float]
    lng: Mapped[float]
    opening_hours: Mapped[str] = mapped_column(String(200), default="")
    hourly_rate_fen: Mapped[int]
    daily_cap_fen: Mapped[int]
    overstay_rate_fen: Mapped[int]
    pass_monthly_fen: Mapped[int] = mapped_column(default=0, server_default=text("0"))
    # The gate system that speaks for this lot (its platform id among PARKING_GATE_SECRETS) and the adapter
    # that pushes allow-lists to it; "none" for a lot without gates (road spaces).
    gate_platform: Mapped[str | None] = mapped_column(String(32))
    gate_vendor: Mapped[str] = mapped_column(String(32), default="none")
    allowlist_reconciled_at: Mapped[datetime | None]
    is_active: Mapped[bool] = mapped_column(default=True, server_default=text("true"))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)

    area: Mapped[Area] = relationship(lazy="joined")


class ParkingSpace(IdMixin, Base):
    """A bay, or a pool of `capacity` places, lent by `lender` (an owner, or the unit whose car park it is)."""

    __tablename__ = "parking_spaces"
    __table_args__ = (
        UniqueConstraint("lot_id", "code"),
        CheckConstraint("capacity >= 1", name="capacity_positive"),
        CheckConstraint("kind = 'pool' OR capacity = 1", name="bay_holds_one"),
        Index("ix_parking_spaces_area_path_id", "area_path", "id", postgresql_ops=PATH_OPS),
    )

    lot_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("parking_lots.id", ondelete="RESTRICT"), index=True)
    area_path: Mapped[str] = mapped_column(String(255))
    code: Mapped[str] = mapped_column(String(32))
    kind: Mapped[SpaceKind] = mapped_column(enum_column(SpaceKind, "parking_space_kind"))
    capacity: Mapped[int] = mapped_column(default=1)
    lender_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("users.id", ondelete="RESTRICT"), index=True)
    is_active: Mapped[bool] = mapped_column(default=True, server_default=text("true"))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)

    lot: Mapped[ParkingLot] = relationship(lazy="joined")


class SharingOffer(IdMixin, Base):
    """What a lender offers for their spaces in one lot: recurring windows in Asia/Shanghai time following the
    Chinese working-day calendar (`rules`: [{"days": "workdays|restdays|everyday", "start": "18:00",
    "end": "08:00"}], an end at or before the start is the next day), minus `blocked_dates`. In force once
    staff approve it; one in force per lender and lot."""

    __tablename__ = "parking_offers"
    __table_args__ = (
        Index(
            "uq_parking_offers_approved",
            "lot_id",
            "lender_id",
            unique=True,
            postgresql_where=text("status = 'approved'"),
            sqlite_where=text("status = 'approved'"),
        ),
        Index(
            "uq_parking_offers_pending",
            "lot_id",
            "lender_id",
            unique=True,
            postgresql_where=text("status = 'pending'"),
            sqlite_where=text("status = 'pending'"),
        ),
        Index("ix_parking_offers_area_path_id", "area_path", "id", postgresql_ops=PATH_OPS),
    )

    lot_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("parking_lots.id", ondelete="RESTRICT"), index=True)
    lender_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"), index=True)
    area_path: Mapped[str] = mapped_column(String(255))
    rules: Mapped[list[dict[str, Any]]] = mapped_column(JSON)
    blocked_dates: Mapped[list[str]] = mapped_column(JSON, default=list)
    note: Mapped[str] = mapped_column(String(200), default="")
    status: Mapped[OfferStatus] = mapped_column(enum_column(OfferStatus, "parking_offer_status"))
    decided_by_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    decided_at: Mapped[datetime | None]
    reject_reason: Mapped[str | None] = mapped_column(String(200))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)

    lot: Mapped[ParkingLot] = relationship(lazy="joined")


class Vehicle(IdMixin, Base):
    """A resident's car, registered to their household (a room); one household holds a plate at a time."""

    __tablename__ = "parking_vehicles"
    __table_args__ = (
        Index(
            "uq_parking_vehicles_plate_registered",
            "plate",
            unique=True,
            postgresql_where=text("removed_at IS NULL"),
            sqlite_where=text("removed_at IS NULL"),
        ),
        Index("ix_parking_vehicles_area_path_id", "area_path", "id", postgresql_ops=PATH_OPS),
    )

    owner_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    room_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("rooms.id", ondelete="RESTRICT"), index=True)
    area_path: Mapped[str] = mapped_column(String(255))
    plate: Mapped[str] = mapped_column(String(10))
    new_energy: Mapped[bool] = mapped_column(default=False)
    verification: Mapped[Verification] = mapped_column(enum_column(Verification, "parking_vehicle_verification"))
    verified_via: Mapped[str | None] = mapped_column(String(16))  # staff, licence_photo
    licence_media_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("media.id", ondelete="SET NULL"))
    verified_by_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    verified_at: Mapped[datetime | None]
    reject_reason: Mapped[str | None] = mapped_column(String(200))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    removed_at: Mapped[datetime | None]

    owner: Mapped[User] = relationship(foreign_keys=[owner_id], lazy="joined")


class Quote(IdMixin, Base):
    """A price for one period at one lot (or one space of it), good until `expires_at`."""

    __tablename__ = "parking_quotes"

    user_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    lot_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("parking_lots.id", ondelete="CASCADE"))
    space_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("parking_spaces.id", ondelete="CASCADE"))
    starts_at: Mapped[datetime]
    ends_at: Mapped[datetime]
    price_fen: Mapped[int]
    window: Mapped[str] = mapped_column(String(64))
    expires_at: Mapped[datetime] = mapped_column(index=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)

    lot: Mapped[ParkingLot] = relationship(lazy="joined")


class Booking(IdMixin, Base):
    """An hourly booking of a space by a resident for a vehicle; one state machine (`services.BOOKING_MOVES`)."""

    __tablename__ = "parking_bookings"
    __table_args__ = (
        CheckConstraint("ends_at > starts_at", name="ends_after_start"),
        CheckConstraint("price_fen >= 0 AND extension_fen >= 0 AND refund_fen >= 0", name="money_not_negative"),
        Index("ix_parking_bookings_user_id_id", "user_id", "id"),
        Index("ix_parking_bookings_plate_status", "plate", "status"),
        Index("ix_parking_bookings_status_starts_at", "status", "starts_at"),
        Index("ix_parking_bookings_status_hold_expires_at", "status", "hold_expires_at"),
        Index("ix_parking_bookings_area_path_id", "area_path", "id", postgresql_ops=PATH_OPS),
    )

    user_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    vehicle_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("parking_vehicles.id", ondelete="SET NULL"))
    # The plate the gate looks for (changeable until entry); None once the driver's account was erased.
    plate: Mapped[str | None] = mapped_column(String(10))
    lot_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("parking_lots.id", ondelete="RESTRICT"), index=True)
    space_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("parking_spaces.id", ondelete="RESTRICT"), index=True)
    lender_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"), index=True)
    area_path: Mapped[str] = mapped_column(String(255))
    starts_at: Mapped[datetime]
    ends_at: Mapped[datetime]
    window: Mapped[str] = mapped_column(String(64))
    status: Mapped[BookingStatus] = mapped_column(enum_column(BookingStatus, "parking_booking_status"))
    price_fen: Mapped[int]
    # Extra time booked after the start, billed with the stay at exit.
    extension_fen: Mapped[int] = mapped_column(default=0, server_default=text("0"))
    refund_fen: Mapped[int] = mapped_column(default=0, server_default=text("0"))
    order_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("payment_orders.id", ondelete="RESTRICT"))
    hold_expires_at: Mapped[datetime | None]
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    confirmed_at: Mapped[datetime | None]
    ended_at: Mapped[datetime | None]  # when it left the live statuses
    cancelled_by: Mapped[str | None] = mapped_column(String(16))  # driver, lender, staff, system
    cancel_reason: Mapped[str | None] = mapped_column(String(200))
    warned_at: Mapped[datetime | None]  # the T−15 min overstay warning
    allowlist_pushed_at: Mapped[datetime | None]

    lot: Mapped[ParkingLot] = relationship(lazy="joined")
    space: Mapped[ParkingSpace] = relationship(lazy="joined")


class ParkingPass(IdMixin, Base):
    """A monthly off-peak pass (错峰包月): one plate, one daily window, whole months; unlimited entries inside it."""

    __tablename__ = "parking_passes"
    __table_args__ = (
        CheckConstraint("months BETWEEN 1 AND 12", name="months_in_range"),
        Index("ix_parking_passes_user_id_id", "user_id", "id"),
        Index("ix_parking_passes_plate_status", "plate", "status"),
        Index("ix_parking_passes_area_path_id", "area_path", "id", postgresql_ops=PATH_OPS),
    )

    user_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    vehicle_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("parking_vehicles.id", ondelete="SET NULL"))
    plate: Mapped[str | None] = mapped_column(String(10))
    lot_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("parking_lots.id", ondelete="RESTRICT"), index=True)
    space_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("parking_spaces.id", ondelete="RESTRICT"), index=True)
    area_path: Mapped[str] = mapped_column(String(255))
    window_start: Mapped[str] = mapped_column(String(5))  # "19:00", Asia/Shanghai
    window_end: Mapped[str] = mapped_column(String(5))  # at or before the start: the next morning
    starts_on: Mapped[date] = mapped_column(Date)
    ends_on: Mapped[date] = mapped_column(Date)  # the last day a window starts
    months: Mapped[int]
    days: Mapped[int]  # days whose window lies inside the lender's offer (the pass's windows)
    price_fen: Mapped[int]
    status: Mapped[PassStatus] = mapped_column(enum_column(PassStatus, "parking_pass_status"))
    order_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("payment_orders.id", ondelete="RESTRICT"))
    hold_expires_at: Mapped[datetime | None]
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    activated_at: Mapped[datetime | None]
    allowlist_pushed_at: Mapped[datetime | None]

    lot: Mapped[ParkingLot] = relationship(lazy="joined")


class Hold(IdMixin, Base):
    """Time a booking or a pass's day takes on a space: [starts_at, until), `until` = end + turnover buffer.
    Live while `released_at` is null. See the module docstring for the exclusion constraint."""

    __tablename__ = "parking_holds"
    __table_args__ = (
        CheckConstraint("until > starts_at", name="until_after_start"),
        CheckConstraint("(booking_id IS NULL) <> (pass_id IS NULL)", name="one_owner"),
        Index("ix_parking_holds_space_id_starts_at", "space_id", "starts_at"),
        postgresql.ExcludeConstraint(
            ("space_id", "="),
            (text("tstzrange(starts_at, until, '[)')"), "&&"),
            name="ex_parking_holds_no_overlap",
            using="gist",
            where=text("released_at IS NULL AND NOT pooled"),
        ).ddl_if(dialect="postgresql"),
    )

    space_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("parking_spaces.id", ondelete="RESTRICT"))
    booking_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("parking_bookings.id", ondelete="CASCADE"), index=True
    )
    pass_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("parking_passes.id", ondelete="CASCADE"), index=True)
    pooled: Mapped[bool]
    starts_at: Mapped[datetime]
    until: Mapped[datetime]
    released_at: Mapped[datetime | None]


class ParkingSession(IdMixin, Base):
    """A car's stay in a lot, from the entry passage to the exit passage, and what it owes."""

    __tablename__ = "parking_sessions"
    __table_args__ = (
        CheckConstraint("charge_fen >= 0", name="charge_not_negative"),
        Index("ix_parking_sessions_lot_plate_status", "lot_id", "plate", "status"),
        Index("ix_parking_sessions_user_id_id", "user_id", "id"),
        Index("ix_parking_sessions_area_path_id", "area_path", "id", postgresql_ops=PATH_OPS),
    )

    lot_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("parking_lots.id", ondelete="RESTRICT"), index=True)
    space_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("parking_spaces.id", ondelete="SET NULL"))
    area_path: Mapped[str] = mapped_column(String(255))
    plate: Mapped[str | None] = mapped_column(String(10))
    user_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    booking_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("parking_bookings.id", ondelete="SET NULL"))
    pass_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("parking_passes.id", ondelete="SET NULL"))
    status: Mapped[SessionStatus] = mapped_column(enum_column(SessionStatus, "parking_session_status"))
    entered_at: Mapped[datetime]
    exited_at: Mapped[datetime | None]
    overstay_minutes: Mapped[int] = mapped_column(default=0)
    charge_fen: Mapped[int] = mapped_column(default=0)
    charge_detail: Mapped[str] = mapped_column(String(200), default="")
    order_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("payment_orders.id", ondelete="RESTRICT"))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)

    lot: Mapped[ParkingLot] = relationship(lazy="joined")


class Passage(IdMixin, Base):
    """One camera record: a car went in or out at a lane, at a time, opened some way. Duplicates by
    (platform, event_id)."""

    __tablename__ = "parking_passages"
    __table_args__ = (
        UniqueConstraint("platform", "event_id"),
        Index("ix_parking_passages_lot_plate_at", "lot_id", "plate", "at"),
    )

    platform: Mapped[str] = mapped_column(String(32))
    event_id: Mapped[str] = mapped_column(String(64))
    lot_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("parking_lots.id", ondelete="RESTRICT"))
    lane: Mapped[str] = mapped_column(String(32))
    direction: Mapped[Direction] = mapped_column(enum_column(Direction, "parking_direction"))
    plate: Mapped[str | None] = mapped_column(String(10))
    at: Mapped[datetime]
    opened_by: Mapped[str] = mapped_column(String(16))  # auto, allow_list, manual, linli
    session_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("parking_sessions.id", ondelete="SET NULL"))
    received_at: Mapped[datetime] = mapped_column(default=utcnow)


class Sensor(IdMixin, Base):
    """A magnetometer (地磁) in a bay: what it last reported, and the debounced state the public sees."""

    __tablename__ = "parking_sensors"
    __table_args__ = (Index("ix_parking_sensors_area_path_id", "area_path", "id", postgresql_ops=PATH_OPS),)

    serial: Mapped[str] = mapped_column(String(64), unique=True)
    space_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("parking_spaces.id", ondelete="RESTRICT"), unique=True)
    area_path: Mapped[str] = mapped_column(String(255))
    heartbeat_seconds: Mapped[int] = mapped_column(default=300)
    last_seq: Mapped[int | None]
    last_frame_at: Mapped[datetime | None]  # when the sensor last spoke (any frame)
    reported: Mapped[Occupancy | None] = mapped_column(enum_column(Occupancy, "parking_sensor_reported"))
    reported_since: Mapped[datetime | None]
    state: Mapped[Occupancy] = mapped_column(enum_column(Occupancy, "parking_occupancy"))
    state_since: Mapped[datetime]
    created_at: Mapped[datetime] = mapped_column(default=utcnow)

    space: Mapped[ParkingSpace] = relationship(lazy="joined")


class Anomaly(IdMixin, Base):
    """Something staff should look at: an exit nobody entered, an unbooked car let in, a misread that opened,
    a space occupied when its driver arrived, a silent or faulty sensor."""

    __tablename__ = "parking_anomalies"
    __table_args__ = (
        Index("ix_parking_anomalies_status_id", "status", "id"),
        Index("ix_parking_anomalies_area_path_id", "area_path", "id", postgresql_ops=PATH_OPS),
        Index(
            "uq_parking_anomalies_open_key",
            "dedupe_key",
            unique=True,
            postgresql_where=text("status = 'open'"),
            sqlite_where=text("status = 'open'"),
        ),
    )

    lot_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("parking_lots.id", ondelete="RESTRICT"), index=True)
    area_path: Mapped[str] = mapped_column(String(255))
    kind: Mapped[AnomalyKind] = mapped_column(enum_column(AnomalyKind, "parking_anomaly_kind"))
    plate: Mapped[str | None] = mapped_column(String(10))
    at: Mapped[datetime]
    details: Mapped[str] = mapped_column(String(200), default="")
    dedupe_key: Mapped[str] = mapped_column(String(120))
    booking_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("parking_bookings.id", ondelete="SET NULL"))
    passage_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("parking_passages.id", ondelete="SET NULL"))
    reported_by_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    status: Mapped[AnomalyStatus] = mapped_column(enum_column(AnomalyStatus, "parking_anomaly_status"))
    resolved_by_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    resolved_at: Mapped[datetime | None]
    resolution_note: Mapped[str | None] = mapped_column(String(200))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)

    lot: Mapped[ParkingLot] = relationship(lazy="joined")


class ParkingBatchReceipt(Base):
    """A signed gate or sensor call taken in (the replay guard of `api.signedbatch`)."""

    __tablename__ = "parking_batch_receipts"

    platform: Mapped[str] = mapped_column(String(40), primary_key=True)
    signature: Mapped[str] = mapped_column(String(64), primary_key=True)
    received_at: Mapped[datetime] = mapped_column(default=utcnow, index=True)
