"""Messages to people: the outbox row (also the in-app inbox entry), each delivery attempt, and the
one-time subscribe-message credits a resident granted in the mini-program."""

from __future__ import annotations

import enum
import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import JSON, ForeignKey, Index, String, Text, UniqueConstraint, text
from sqlalchemy.orm import Mapped, mapped_column, relationship, synonym

from api.accounts.models import User
from api.db import Base, IdMixin, enum_column, utcnow


class Urgency(enum.StrEnum):
    LOW = "low"
    NORMAL = "normal"
    HIGH = "high"
    CRITICAL = "critical"


class DeliveryStatus(enum.StrEnum):
    PENDING = "pending"  # committed, not yet tried (or tried and due again: see attempts)
    SENT = "sent"  # delivered on a WeChat channel (or recorded by the sandbox)
    INBOX_ONLY = "inbox_only"  # no WeChat channel could take it; the inbox has it
    FAILED = "failed"  # retries exhausted on transient errors; the inbox has it


class Channel(enum.StrEnum):
    OFFICIAL_ACCOUNT = "official_account"
    SUBSCRIBE = "subscribe"
    SANDBOX = "sandbox"


class AttemptOutcome(enum.StrEnum):
    SENDING = "sending"  # in flight: committed before the WeChat call, its answer recorded right after
    SENT = "sent"
    RETRY = "retry"  # transient: the whole delivery is tried again later
    REFUSED = "refused"  # permanent for this channel: the next channel is tried
    SKIPPED = "skipped"  # the channel does not apply (no credit, not following the account, …)
    # The deliverer died while WeChat had the message (its lease ran out with no answer recorded): it may
    # have arrived. The next delivery sends it again — a possible duplicate, never a loss.
    UNKNOWN = "unknown"


class Notification(IdMixin, Base):
    """One message to one person. Written in the caller's transaction (the outbox), delivered by a
    worker afterwards, and readable in the in-app inbox whatever happens on WeChat."""

    __tablename__ = "notifications"
    __table_args__ = (
        Index("ix_notifications_user_id_id", "user_id", "id"),
        Index("ix_notifications_status_next_attempt_at", "status", "next_attempt_at"),
        # The staff outbox filters by a prefix of the subject's path (LIKE '/KJ/KJ01/%'): pattern ops on
        # PostgreSQL, so the prefix can use the index whatever the database's collation.
        Index(
            "ix_notifications_subject_path_id",
            "subject_path",
            "id",
            postgresql_ops={"subject_path": "varchar_pattern_ops"},
        ),
        UniqueConstraint("user_id", "dedupe_key"),
    )

    user_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    kind: Mapped[str] = mapped_column(String(64))
    urgency: Mapped[Urgency] = mapped_column(enum_column(Urgency, "urgency"))
    title: Mapped[str] = mapped_column(String(64))
    body: Mapped[str] = mapped_column(Text)
    page: Mapped[str | None] = mapped_column(String(255))
    context: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    # A domain event that must not notify twice (e.g. "alert:…:level:2") names itself here.
    dedupe_key: Mapped[str | None] = mapped_column(String(128))
    # The area path of what the message is about (the alert's building, the case's area, the event's area):
    # staff see messages about their area, not every message of a person who lives there. None: about no
    # place (an account matter), for the whole subdistrict's staff and admins only.
    subject_path: Mapped[str | None] = mapped_column(String(255))
    # What api.scope reads on every scoped model.
    area_path: Mapped[str | None] = synonym("subject_path")
    status: Mapped[DeliveryStatus] = mapped_column(enum_column(DeliveryStatus, "delivery_status"))
    channel: Mapped[Channel | None] = mapped_column(enum_column(Channel, "channel"))
    attempt_count: Mapped[int] = mapped_column(default=0, server_default=text("0"))
    next_attempt_at: Mapped[datetime | None]
    sent_at: Mapped[datetime | None]
    read_at: Mapped[datetime | None]
    created_at: Mapped[datetime] = mapped_column(default=utcnow)

    user: Mapped[User] = relationship(lazy="joined", innerjoin=True)
    # Ids made in the same millisecond are not ordered; each attempt's own time is.
    attempts: Mapped[list[DeliveryAttempt]] = relationship(
        back_populates="notification",
        order_by="(DeliveryAttempt.attempted_at, DeliveryAttempt.id)",
        cascade="all, delete-orphan",
    )


class DeliveryAttempt(IdMixin, Base):
    """What happened when a channel was tried: kept for staff and for the family asking 'why not?'."""

    __tablename__ = "delivery_attempts"

    notification_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("notifications.id", ondelete="CASCADE"), index=True)
    channel: Mapped[Channel] = mapped_column(enum_column(Channel, "channel"))
    outcome: Mapped[AttemptOutcome] = mapped_column(enum_column(AttemptOutcome, "attempt_outcome"))
    errcode: Mapped[int | None]
    errmsg: Mapped[str | None] = mapped_column(String(255))
    # What was (or, in the sandbox, would have been) sent: template id, page, fields.
    payload: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    attempted_at: Mapped[datetime] = mapped_column(default=utcnow)

    notification: Mapped[Notification] = relationship(back_populates="attempts")


class SubscriptionCredit(Base):
    """One-time subscribe-message credits: each 'accept' in wx.requestSubscribeMessage allows one
    message of that template; we spend one per message and never send without one."""

    __tablename__ = "subscription_credits"

    user_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), primary_key=True)
    template_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    credits: Mapped[int] = mapped_column(default=0, server_default=text("0"))
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)
