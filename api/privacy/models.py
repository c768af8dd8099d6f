"""A person's requests about their own data: an export of everything Linli holds about them (a ZIP built
by a worker, downloadable for a few days), and the deletion of their account (a cooling-off period, then
the erasure across every domain, one domain at a time)."""

from __future__ import annotations

import enum
import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import JSON, CheckConstraint, ForeignKey, Index, String, text
from sqlalchemy.orm import Mapped, mapped_column

from api.db import Base, IdMixin, enum_column, utcnow


class ExportStatus(enum.StrEnum):
    QUEUED = "queued"
    BUILDING = "building"
    READY = "ready"
    FAILED = "failed"
    EXPIRED = "expired"  # the archive was deleted after its days


class DataExport(IdMixin, Base):
    __tablename__ = "data_exports"
    __table_args__ = (
        # At most one export per person being made at a time.
        Index(
            "uq_data_exports_running",
            "user_id",
            unique=True,
            postgresql_where=text("status = 'queued' OR status = 'building'"),
            sqlite_where=text("status = 'queued' OR status = 'building'"),
        ),
        Index("ix_data_exports_user_id_id", "user_id", "id"),
        CheckConstraint("progress >= 0 AND progress <= 100", name="progress_percent"),
    )

    user_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    status: Mapped[ExportStatus] = mapped_column(
        enum_column(ExportStatus, "export_status"), default=ExportStatus.QUEUED
    )
    progress: Mapped[int] = mapped_column(default=0, server_default=text("0"))
    object_key: Mapped[str | None] = mapped_column(String(255))
    size_bytes: Mapped[int | None]
    error: Mapped[str | None] = mapped_column(String(200))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    finished_at: Mapped[datetime | None]
    expires_at: Mapped[datetime | None] = mapped_column(index=True)


class DeletionStatus(enum.StrEnum):
    WAITING = "waiting"  # the cooling-off period: logging in again cancels it
    CANCELLED = "cancelled"
    BLOCKED = "blocked"  # something must not be dropped silently (see `blockers`); staff were told
    ERASING = "erasing"  # under way, one domain at a time (`erased_domains`)
    DONE = "done"


class DeletionRequest(IdMixin, Base):
    """A person asked for their account to be deleted. Once done, the row keeps only that it happened:
    `user_id` is gone with the user."""

    __tablename__ = "deletion_requests"
    __table_args__ = (
        Index(
            "uq_deletion_requests_open",
            "user_id",
            unique=True,
            postgresql_where=text("status = 'waiting' OR status = 'erasing'"),
            sqlite_where=text("status = 'waiting' OR status = 'erasing'"),
        ),
        Index("ix_deletion_requests_status_due_at", "status", "due_at"),
    )

    user_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    status: Mapped[DeletionStatus] = mapped_column(
        enum_column(DeletionStatus, "deletion_status"), default=DeletionStatus.WAITING
    )
    requested_at: Mapped[datetime] = mapped_column(default=utcnow)
    due_at: Mapped[datetime]
    cancelled_at: Mapped[datetime | None]
    started_at: Mapped[datetime | None]
    completed_at: Mapped[datetime | None]
    # Domains whose eraser has committed: a rerun after a crash starts with the first one not in here.
    erased_domains: Mapped[list[Any]] = mapped_column(JSON, default=list)
    blockers: Mapped[list[Any]] = mapped_column(JSON, default=list)
