"""Community events (智慧文体): the event with its seats and rules, and residents' bookings.

Seats are counted on the event row (`seats_taken`, `waitlist_count`), and every change to them
happens with that row locked (`SELECT … FOR UPDATE`), so a rush of bookings is served one at a time
per event and can never oversell — pretix's quota-lock idea, on one row.
"""

from __future__ import annotations

import enum
import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import JSON, BigInteger, CheckConstraint, ForeignKey, Index, String, Text, text
from sqlalchemy.orm import Mapped, mapped_column, query_expression, relationship

from api.accounts.models import Area, User, area_path_through
from api.db import Base, IdMixin, TimestampMixin, enum_column
from api.media.models import Media


class EventCategory(enum.StrEnum):
    CULTURE = "culture"  # 文化
    SPORTS = "sports"  # 体育
    HEALTH = "health"  # 健康讲座
    PARTY = "party"  # 党课
    VOLUNTEER = "volunteer"  # 志愿活动
    OTHER = "other"


class EventStatus(enum.StrEnum):
    DRAFT = "draft"
    PUBLISHED = "published"
    CANCELLED = "cancelled"


class BookingStatus(enum.StrEnum):
    CONFIRMED = "confirmed"
    WAITLISTED = "waitlisted"
    CANCELLED = "cancelled"


ACTIVE_BOOKING = ("confirmed", "waitlisted")


class Event(IdMixin, TimestampMixin, Base):
    __tablename__ = "events"
    __table_args__ = (
        CheckConstraint("seats_taken >= 0 AND seats_taken <= capacity", name="seats_within_capacity"),
        CheckConstraint("waitlist_count >= 0", name="waitlist_not_negative"),
        CheckConstraint("ends_at > starts_at", name="ends_after_start"),
        Index("ix_events_status_starts_at", "status", "starts_at"),
    )

    title: Mapped[str] = mapped_column(String(64))
    description: Mapped[str] = mapped_column(Text, default="")
    category: Mapped[EventCategory] = mapped_column(enum_column(EventCategory, "event_category"))
    venue: Mapped[str] = mapped_column(String(128))
    # The organising area (the subdistrict, a committee or an estate): staff scope and default audience.
    area_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("areas.id", ondelete="RESTRICT"), index=True)
    cover_media_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("media.id", ondelete="SET NULL"))
    starts_at: Mapped[datetime]
    ends_at: Mapped[datetime]
    booking_opens_at: Mapped[datetime]
    booking_closes_at: Mapped[datetime]
    capacity: Mapped[int]
    seats_taken: Mapped[int] = mapped_column(default=0, server_default=text("0"))
    waitlist_limit: Mapped[int] = mapped_column(default=0, server_default=text("0"))
    waitlist_count: Mapped[int] = mapped_column(default=0, server_default=text("0"))
    # Arrival order of the waitlist: the next number handed out, under the event's lock.
    next_waitlist_seq: Mapped[int] = mapped_column(BigInteger, default=1, server_default=text("1"))
    max_companions: Mapped[int] = mapped_column(default=0, server_default=text("0"))
    cancel_cutoff_minutes: Mapped[int] = mapped_column(default=120, server_default=text("120"))
    # {"area_ids": [...], "min_age": 60, "party_members_only": true}; empty: every resident.
    eligibility: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    status: Mapped[EventStatus] = mapped_column(enum_column(EventStatus, "event_status"), default=EventStatus.DRAFT)
    published_at: Mapped[datetime | None]
    cancelled_at: Mapped[datetime | None]
    cancel_reason: Mapped[str | None] = mapped_column(String(200))
    created_by_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("users.id", ondelete="RESTRICT"))

    area: Mapped[Area] = relationship(lazy="joined", innerjoin=True)
    # Read when shown: a page of events loads its covers in one statement (`list_events`), never joined (the
    # booking's `SELECT … FOR UPDATE` of the event cannot lock the nullable side of an outer join).
    cover: Mapped[Media | None] = relationship()

    area_path = area_path_through("area")

    @property
    def seats_left(self) -> int:
        return self.capacity - self.seats_taken


class Booking(IdMixin, Base):
    __tablename__ = "bookings"
    __table_args__ = (
        # One active booking per resident per event: a second attempt finds this one.
        Index(
            "uq_bookings_active_per_user",
            "event_id",
            "user_id",
            unique=True,
            postgresql_where=text("status <> 'cancelled'"),
            sqlite_where=text("status <> 'cancelled'"),
        ),
        Index("ix_bookings_event_id_status_waitlist_seq", "event_id", "status", "waitlist_seq"),
        Index("ix_bookings_user_id_id", "user_id", "id"),
        CheckConstraint("party_size >= 1", name="party_size_positive"),
    )

    event_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("events.id", ondelete="CASCADE"))
    user_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    status: Mapped[BookingStatus] = mapped_column(enum_column(BookingStatus, "booking_status"))
    party_size: Mapped[int] = mapped_column(default=1)
    waitlist_seq: Mapped[int | None] = mapped_column(BigInteger)
    created_at: Mapped[datetime]
    confirmed_at: Mapped[datetime | None]
    cancelled_at: Mapped[datetime | None]
    checked_in_at: Mapped[datetime | None]
    checked_in_by_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    reminded_day_at: Mapped[datetime | None]
    reminded_hour_at: Mapped[datetime | None]

    event: Mapped[Event] = relationship(lazy="joined", innerjoin=True)
    user: Mapped[User] = relationship(foreign_keys=[user_id])
    # How many wait before a waitlisted booking, when a list loaded it with the row
    # (`services.with_waitlist_ahead`); None otherwise, and `services.waitlist_position` counts.
    waitlist_ahead: Mapped[int | None] = query_expression()
