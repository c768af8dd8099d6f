"""Live sessions of events, their recordings, and who watched them.

- `LiveSession`: at most one per event. Its `stream_name` is random (the only thing a push URL and a
  play URL have in common besides the domain), and its `status` moves `scheduled → live → ended →
  replay_ready` on the stream server's callbacks; a reconnecting encoder takes it back to `live`.
- `ReplayFile`: a recording the stream server announced (`on_dvr`), one row per file.
- `ViewingSession`: one playback on one phone — user, session, mode (live or replay) and the
  client's `play_id` — with the wall time it was watched, counted from heartbeats and capped per gap.
- `ViewerMinute`: one row per (session, mode, minute, user) with the seconds that user watched in
  that minute (at most 60, whatever number of phones or heartbeats). Every staff figure is one
  aggregate over it: unique viewers `COUNT(DISTINCT user_id)`, peak concurrent viewers the largest
  `COUNT(*)` of a minute, watch minutes `SUM(seconds) / 60`.
"""

from __future__ import annotations

import enum
import uuid
from datetime import datetime

from sqlalchemy import BigInteger, CheckConstraint, ForeignKey, Index, String, UniqueConstraint, text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from api.db import Base, IdMixin, TimestampMixin, enum_column, utcnow
from api.events.models import Event


class LiveStatus(enum.StrEnum):
    SCHEDULED = "scheduled"
    LIVE = "live"
    ENDED = "ended"
    REPLAY_READY = "replay_ready"


class ViewingMode(enum.StrEnum):
    LIVE = "live"
    REPLAY = "replay"


class LiveSession(IdMixin, TimestampMixin, Base):
    __tablename__ = "live_sessions"
    __table_args__ = (CheckConstraint("publish_count >= 0", name="publish_count_not_negative"),)

    event_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("events.id", ondelete="CASCADE"), unique=True)
    stream_name: Mapped[str] = mapped_column(String(64), unique=True)
    status: Mapped[LiveStatus] = mapped_column(enum_column(LiveStatus, "live_status"), default=LiveStatus.SCHEDULED)
    scheduled_start: Mapped[datetime]
    # First publish; the start of the current (or last) publish; the last unpublish.
    started_at: Mapped[datetime | None]
    last_published_at: Mapped[datetime | None]
    ended_at: Mapped[datetime | None]
    publish_count: Mapped[int] = mapped_column(default=0, server_default=text("0"))
    # The stream server's id of the encoder connection now publishing (repeated callbacks carry the same).
    publisher_client_id: Mapped[str | None] = mapped_column(String(64))
    created_by_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))

    event: Mapped[Event] = relationship(lazy="joined", innerjoin=True)


class ReplayFile(IdMixin, Base):
    __tablename__ = "replay_files"
    __table_args__ = (UniqueConstraint("live_session_id", "path"),)

    live_session_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("live_sessions.id", ondelete="CASCADE"))
    # Relative to the replay base URL ("<app>/<file name>"), or an absolute URL the server gave.
    path: Mapped[str] = mapped_column(String(512))
    duration_seconds: Mapped[int | None]
    size_bytes: Mapped[int | None] = mapped_column(BigInteger)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class ViewingSession(IdMixin, Base):
    __tablename__ = "viewing_sessions"
    __table_args__ = (
        UniqueConstraint("live_session_id", "user_id", "mode", "play_id"),
        Index("ix_viewing_sessions_user_id", "user_id"),
        CheckConstraint("watched_seconds >= 0", name="watched_seconds_not_negative"),
    )

    live_session_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("live_sessions.id", ondelete="CASCADE"))
    user_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    mode: Mapped[ViewingMode] = mapped_column(enum_column(ViewingMode, "viewing_mode"))
    play_id: Mapped[str] = mapped_column(String(64))
    started_at: Mapped[datetime]
    last_heartbeat_at: Mapped[datetime]
    watched_seconds: Mapped[int] = mapped_column(default=0, server_default=text("0"))
    position_seconds: Mapped[int | None]


class ViewerMinute(Base):
    __tablename__ = "viewer_minutes"
    __table_args__ = (
        CheckConstraint("seconds >= 0 AND seconds <= 60", name="seconds_within_minute"),
        Index("ix_viewer_minutes_user_id", "user_id"),
    )

    live_session_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("live_sessions.id", ondelete="CASCADE"), primary_key=True
    )
    mode: Mapped[ViewingMode] = mapped_column(enum_column(ViewingMode, "viewing_mode"), primary_key=True)
    # UTC, truncated to the minute.
    minute: Mapped[datetime] = mapped_column(primary_key=True)
    user_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), primary_key=True)
    seconds: Mapped[int] = mapped_column(default=0, server_default=text("0"))
