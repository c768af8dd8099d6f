"""Media: one row per photo a person uploads, from the upload ticket to its attachment to a record.

A photo belongs to its uploader until a domain attaches it to one of its records (`record_type`,
`record_id`); from then on the record's visibility rule decides who sees it. The row names the storage
objects: the sanitised original (`object_key`), its thumbnail, and — for uploads that go straight to
storage — the raw incoming object (`upload_key`), which is never served and is deleted once sanitised.
"""

from __future__ import annotations

import enum
import uuid
from datetime import datetime

from sqlalchemy import CheckConstraint, ForeignKey, Index, String, text
from sqlalchemy.orm import Mapped, mapped_column

from api.db import Base, IdMixin, enum_column, utcnow


class MediaStatus(enum.StrEnum):
    PENDING_UPLOAD = "pending_upload"  # an upload ticket was issued; the bytes are not verified yet
    READY = "ready"  # verified, sanitised (no EXIF/GPS) and stored; may be attached


class Media(IdMixin, Base):
    __tablename__ = "media"
    __table_args__ = (
        CheckConstraint("(record_type IS NULL) = (record_id IS NULL)", name="attachment"),
        Index("ix_media_record", "record_type", "record_id"),
        # The purge job's scan: unattached uploads, oldest first. Attached photos (the bulk) stay out of it.
        Index(
            "ix_media_unattached_created",
            "created_at",
            postgresql_where=text("record_id IS NULL"),
            sqlite_where=text("record_id IS NULL"),
        ),
    )

    owner_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    status: Mapped[MediaStatus] = mapped_column(enum_column(MediaStatus, "media_status"))
    content_type: Mapped[str] = mapped_column(String(32))
    size: Mapped[int | None]
    width: Mapped[int | None]
    height: Mapped[int | None]
    object_key: Mapped[str | None] = mapped_column(String(255))
    thumbnail_key: Mapped[str | None] = mapped_column(String(255))
    upload_key: Mapped[str | None] = mapped_column(String(255))
    upload_expires_at: Mapped[datetime | None]
    record_type: Mapped[str | None] = mapped_column(String(32))
    record_id: Mapped[uuid.UUID | None]
    attached_at: Mapped[datetime | None]
    position: Mapped[int | None]  # order among the record's photos
    created_at: Mapped[datetime] = mapped_column(default=utcnow)

    @property
    def is_attached(self) -> bool:
        return self.record_id is not None

    @property
    def keys(self) -> list[str]:
        """Every storage object this row may own."""
        return [k for k in (self.object_key, self.thumbnail_key, self.upload_key) if k]
