"""Live-session rules: staff enable a stream and get its push URL; the stream server's callbacks move it
`scheduled → live → ended → replay_ready`; residents learn what to play now; heartbeats count viewing.

Callable without Flask: functions take the provider, the settings and the time they need and work on
`db.session`; the caller's unit of work commits. State changes happen with the session row locked
(`SELECT … FOR UPDATE`), so repeated or racing callbacks apply once.

Viewing is counted from heartbeats (every ~30 s while playing). Each heartbeat counts the wall time
since the previous one of the same playback, at most `live_heartbeat_cap_seconds`, so a client that
beats too fast counts no faster than the clock and one that went silent for an hour counts a minute.
The counted seconds are also added to per-minute buckets per person (`ViewerMinute`, at most 60 s a
minute whatever the number of phones), from which every staff figure is one SQL aggregate.
"""

from __future__ import annotations

import math
import re
import secrets
import uuid
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import urlsplit

from sqlalchemy import case, func, select

from api import scope
from api.accounts.models import User
from api.db import db, new_id
from api.dialect import insert_on_conflict
from api.errors import ApiError, NotFound
from api.events.models import Event, EventStatus
from api.live.models import LiveSession, LiveStatus, ReplayFile, ViewerMinute, ViewingMode, ViewingSession
from api.live.providers import PushCheck, StreamProvider, TencentCssProvider

HEARTBEAT_INTERVAL_SECONDS = 30
# A recording's file name as the stream server writes it ("<stream>.<timestamp>.flv", ".mp4", ".m3u8").
_FILE_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,199}$")


def ensure_configured(provider: StreamProvider) -> None:
    if isinstance(provider, TencentCssProvider) and not provider.configured:
        raise ApiError("live_not_configured")


def new_stream_name() -> str:
    """Random, so nobody can guess a stream to publish to or watch without being given a URL."""
    return "lv" + secrets.token_hex(12)


# Who may watch -------------------------------------------------------------------------------------


def watchable_event(event_id: uuid.UUID) -> Event:
    """An event residents can see: published (not a draft, not cancelled)."""
    event = db.session.get(Event, event_id)
    if event is None or event.status != EventStatus.PUBLISHED:
        raise NotFound()
    return event


def may_watch(user: User, event: Event) -> bool:
    """Whether this person may watch the event's live stream and replays.

    Any signed-in person may watch a published event for now; audience rules (eligibility) belong to the
    events domain and can be applied here when they should also restrict watching."""
    return event.status == EventStatus.PUBLISHED


def session_of(event_id: uuid.UUID, *, lock: bool = False) -> LiveSession:
    stmt = select(LiveSession).where(LiveSession.event_id == event_id)
    if lock:
        stmt = stmt.with_for_update(of=LiveSession)
    session = db.session.scalar(stmt)
    if session is None:
        raise ApiError("live_not_available")
    return session


def live_status_of(event_ids: Iterable[uuid.UUID]) -> dict[uuid.UUID, LiveStatus]:
    """The live status of each event that has a live session (for event lists and details)."""
    ids = list(event_ids)
    if not ids:
        return {}
    rows = db.session.execute(select(LiveSession.event_id, LiveSession.status).where(LiveSession.event_id.in_(ids)))
    return {event_id: status for event_id, status in rows}


def replays_of(session: LiveSession) -> list[ReplayFile]:
    return list(
        db.session.scalars(
            select(ReplayFile)
            .where(ReplayFile.live_session_id == session.id)
            .order_by(ReplayFile.created_at, ReplayFile.id)
        )
    )


# Staff ---------------------------------------------------------------------------------------------


def event_for_staff(staff: User, event_id: uuid.UUID, *, lock: bool = False) -> Event:
    stmt = select(Event).where(Event.id == event_id)
    if lock:
        stmt = stmt.with_for_update(of=Event)
    return scope.ensure_visible(staff, db.session.scalar(stmt))


def enable_live(
    staff: User, event_id: uuid.UUID, provider: StreamProvider, *, scheduled_start: datetime | None = None
) -> tuple[LiveSession, bool]:
    """Give the event a live session (or find the one it has). Returns the session and whether it is new.

    The event row is locked first, so two staff enabling at once end with one session."""
    ensure_configured(provider)
    event = event_for_staff(staff, event_id, lock=True)
    if event.status == EventStatus.CANCELLED:
        raise ApiError("live_event_unavailable")
    existing = db.session.scalar(select(LiveSession).where(LiveSession.event_id == event.id))
    if existing is not None:
        if scheduled_start is not None and existing.status == LiveStatus.SCHEDULED:
            existing.scheduled_start = scheduled_start
        return existing, False
    session = LiveSession(
        id=new_id(),
        event_id=event.id,
        stream_name=new_stream_name(),
        status=LiveStatus.SCHEDULED,
        scheduled_start=scheduled_start or event.starts_at,
        publish_count=0,
        created_by_id=staff.id,
    )
    db.session.add(session)
    db.session.flush()
    return session, True


@dataclass
class Figures:
    unique_viewers: int = 0
    peak_concurrent_viewers: int = 0
    peak_at: datetime | None = None
    watch_seconds: int = 0

    @property
    def watch_minutes(self) -> float:
        return round(self.watch_seconds / 60, 1)


def figures_of(session_id: uuid.UUID) -> dict[str, Figures]:
    """Unique viewers, peak concurrent viewers (the busiest minute) and watch time, per mode."""
    result = {mode.value: Figures() for mode in ViewingMode}
    totals = db.session.execute(
        select(ViewerMinute.mode, func.count(func.distinct(ViewerMinute.user_id)), func.sum(ViewerMinute.seconds))
        .where(ViewerMinute.live_session_id == session_id)
        .group_by(ViewerMinute.mode)
    )
    for mode, viewers, seconds in totals:
        result[ViewingMode(mode).value].unique_viewers = int(viewers)
        result[ViewingMode(mode).value].watch_seconds = int(seconds or 0)
    for mode in ViewingMode:
        viewers = func.count().label("viewers")
        busiest = db.session.execute(
            select(ViewerMinute.minute, viewers)
            .where(ViewerMinute.live_session_id == session_id, ViewerMinute.mode == mode)
            .group_by(ViewerMinute.minute)
            .order_by(viewers.desc(), ViewerMinute.minute)
            .limit(1)
        ).first()
        if busiest is not None:
            result[mode.value].peak_at, result[mode.value].peak_concurrent_viewers = busiest[0], int(busiest[1])
    return result


def push_expiry(event: Event, grace_seconds: int, now: datetime) -> datetime:
    """Until some hours after the scheduled end (an overrunning event or a reconnect still works)."""
    return max(event.ends_at, now) + timedelta(seconds=grace_seconds)


def staff_view(session: LiveSession, provider: StreamProvider, settings: Any, now: datetime) -> dict[str, Any]:
    """What staff see: the push URL for the encoder, the status, replays and the viewing figures."""
    ensure_configured(provider)
    event = session.event
    push = None
    if event.status != EventStatus.CANCELLED:
        expires_at = push_expiry(event, settings.live_push_url_grace_seconds, now)
        url = provider.push_url(session.stream_name, expires_at)
        server, _, stream_key = url.rpartition("/")
        push = {"url": url, "server": server + "/", "stream_key": stream_key, "expires_at": expires_at}
    play_expires = now + timedelta(seconds=settings.live_play_url_ttl_seconds)
    return {
        "event_id": event.id,
        "status": session.status,
        "stream_name": session.stream_name,
        "scheduled_start": session.scheduled_start,
        "started_at": session.started_at,
        "ended_at": session.ended_at,
        "publish_count": session.publish_count,
        "push": push,
        "play": _play(session, provider, play_expires) if session.status == LiveStatus.LIVE else None,
        "replays": _replays(session, provider, play_expires),
        "figures": figures_of(session.id),
    }


# Residents -----------------------------------------------------------------------------------------


def _play(session: LiveSession, provider: StreamProvider, expires_at: datetime) -> dict[str, Any]:
    return {**provider.play_urls(session.stream_name, expires_at), "expires_at": expires_at}


def _replays(session: LiveSession, provider: StreamProvider, expires_at: datetime) -> list[dict[str, Any]]:
    return [
        {
            "id": replay.id,
            "url": provider.replay_url(replay.path, expires_at),
            "duration_seconds": replay.duration_seconds,
            "recorded_at": replay.created_at,
            "expires_at": expires_at,
        }
        for replay in replays_of(session)
    ]


def resident_view(
    user: User, event_id: uuid.UUID, provider: StreamProvider, settings: Any, now: datetime
) -> dict[str, Any]:
    """What to play now: live URLs while on air, replays once recorded, or when it starts."""
    event = watchable_event(event_id)
    if not may_watch(user, event):
        raise ApiError("forbidden")
    session = session_of(event.id)
    ensure_configured(provider)
    expires_at = now + timedelta(seconds=settings.live_play_url_ttl_seconds)
    replays = _replays(session, provider, expires_at) if session.status == LiveStatus.REPLAY_READY else []
    return {
        "event_id": event.id,
        "status": session.status,
        "starts_at": session.scheduled_start,
        "started_at": session.started_at,
        "ended_at": session.ended_at,
        "play": _play(session, provider, expires_at) if session.status == LiveStatus.LIVE else None,
        "replay_available": bool(replays),
        "replays": replays,
        "heartbeat_interval_seconds": HEARTBEAT_INTERVAL_SECONDS,
    }


# Heartbeats ----------------------------------------------------------------------------------------


def _minute_of(epoch_seconds: int) -> datetime:
    return datetime.fromtimestamp(epoch_seconds - epoch_seconds % 60, UTC)


def _count_minutes(session_id: uuid.UUID, user_id: uuid.UUID, mode: ViewingMode, end: datetime, seconds: int) -> None:
    """Add the `seconds` that ended at `end` to this person's minute buckets (at most 60 s each).

    A heartbeat that counts nothing still marks the person present in the current minute."""
    end_s = math.floor(end.timestamp())
    start_s = end_s - seconds
    shares: dict[datetime, int] = {_minute_of(end_s): 0} if seconds == 0 else {}
    minute_start = start_s - start_s % 60
    while minute_start < end_s:
        shares[_minute_of(minute_start)] = min(end_s, minute_start + 60) - max(start_s, minute_start)
        minute_start += 60
    for minute, share in shares.items():
        stmt = insert_on_conflict(ViewerMinute).values(
            live_session_id=session_id, mode=mode, minute=minute, user_id=user_id, seconds=min(share, 60)
        )
        total = ViewerMinute.seconds + stmt.excluded.seconds
        db.session.execute(
            stmt.on_conflict_do_update(
                index_elements=["live_session_id", "mode", "minute", "user_id"],
                set_={"seconds": case((total > 60, 60), else_=total)},
            )
        )


@dataclass
class HeartbeatResult:
    counted_seconds: int
    watched_seconds: int
    status: LiveStatus
    next_heartbeat_in: int = HEARTBEAT_INTERVAL_SECONDS


def heartbeat(
    user: User,
    event_id: uuid.UUID,
    *,
    play_id: str,
    mode: ViewingMode,
    position_seconds: int | None,
    settings: Any,
    now: datetime,
) -> HeartbeatResult:
    """Count one heartbeat of a playback (`play_id`, made up by the client for each playback)."""
    event = watchable_event(event_id)
    if not may_watch(user, event):
        raise ApiError("forbidden")
    session = session_of(event.id)
    if mode == ViewingMode.LIVE and session.status != LiveStatus.LIVE:
        raise ApiError("live_not_on_air")
    if mode == ViewingMode.REPLAY and not db.session.scalar(
        select(ReplayFile.id).where(ReplayFile.live_session_id == session.id).limit(1)
    ):
        raise ApiError("replay_not_available")

    inserted = db.session.execute(
        insert_on_conflict(ViewingSession)
        .values(
            id=new_id(),
            live_session_id=session.id,
            user_id=user.id,
            mode=mode,
            play_id=play_id,
            started_at=now,
            last_heartbeat_at=now,
            watched_seconds=0,
            position_seconds=position_seconds,
        )
        .on_conflict_do_nothing(index_elements=["live_session_id", "user_id", "mode", "play_id"])
    )
    viewing = db.session.scalar(
        select(ViewingSession)
        .where(
            ViewingSession.live_session_id == session.id,
            ViewingSession.user_id == user.id,
            ViewingSession.mode == mode,
            ViewingSession.play_id == play_id,
        )
        .with_for_update(of=ViewingSession)
        .execution_options(populate_existing=True)
    )
    assert viewing is not None
    counted = 0
    if inserted.rowcount != 1:
        elapsed = (now - viewing.last_heartbeat_at).total_seconds()
        cap = settings.live_heartbeat_cap_seconds
        if elapsed > cap:
            counted = cap
            viewing.last_heartbeat_at = now
        elif elapsed >= 1:
            # Whole seconds only; the remainder is carried to the next heartbeat, never rounded up.
            counted = math.floor(elapsed)
            viewing.last_heartbeat_at = viewing.last_heartbeat_at + timedelta(seconds=counted)
        viewing.watched_seconds += counted
        if position_seconds is not None:
            viewing.position_seconds = position_seconds
    _count_minutes(session.id, user.id, mode, viewing.last_heartbeat_at if counted else now, counted)
    return HeartbeatResult(counted_seconds=counted, watched_seconds=viewing.watched_seconds, status=session.status)


# Stream server callbacks ---------------------------------------------------------------------------


def _text(payload: Mapping[str, Any], name: str) -> str:
    value = payload.get(name)
    return "" if value is None else str(value)


def _push_param(payload: Mapping[str, Any]) -> str:
    """The query string the encoder published with: SRS sends it as `param`; older ones only in `tcUrl`."""
    param = _text(payload, "param")
    if param:
        return param
    return urlsplit(_text(payload, "tcUrl")).query


def _locked_session(payload: Mapping[str, Any], provider: StreamProvider) -> LiveSession:
    stream, app = _text(payload, "stream"), _text(payload, "app")
    session = None
    if stream and (not app or app == provider.app):
        session = db.session.scalar(
            select(LiveSession).where(LiveSession.stream_name == stream).with_for_update(of=LiveSession)
        )
    if session is None:
        raise ApiError("live_stream_unknown")
    return session


def _has_replays(session: LiveSession) -> bool:
    return db.session.scalar(select(ReplayFile.id).where(ReplayFile.live_session_id == session.id).limit(1)) is not None


def on_publish(payload: Mapping[str, Any], provider: StreamProvider, now: datetime) -> LiveSession:
    """An encoder starts publishing: allowed only with a push URL we signed for this stream, unexpired."""
    session = _locked_session(payload, provider)
    check = provider.check_push_param(session.stream_name, _push_param(payload), now)
    if check == PushCheck.EXPIRED:
        raise ApiError("live_push_url_expired")
    if check != PushCheck.OK:
        raise ApiError("live_push_signature_invalid")
    if session.event.status == EventStatus.CANCELLED:
        raise ApiError("live_event_unavailable")
    client_id = _text(payload, "client_id")[:64] or None
    if session.status == LiveStatus.LIVE and session.publisher_client_id == client_id:
        return session  # the same callback again
    # First publish, a reconnect after an unpublish, or a new connection whose predecessor's
    # unpublish never arrived.
    session.status = LiveStatus.LIVE
    session.started_at = session.started_at or now
    session.last_published_at = now
    session.ended_at = None
    session.publish_count += 1
    session.publisher_client_id = client_id
    return session


def on_unpublish(payload: Mapping[str, Any], provider: StreamProvider, now: datetime) -> LiveSession:
    """The encoder stopped: the session has ended (or has its replay already, when one was recorded)."""
    session = _locked_session(payload, provider)
    client_id = _text(payload, "client_id")[:64] or None
    if session.status != LiveStatus.LIVE:
        return session  # already ended: a repeated callback
    if client_id and session.publisher_client_id and client_id != session.publisher_client_id:
        return session  # a late unpublish of a connection a reconnect has replaced
    session.status = LiveStatus.REPLAY_READY if _has_replays(session) else LiveStatus.ENDED
    session.ended_at = now
    session.publisher_client_id = None
    return session


def end_abandoned(after_seconds: int, now: datetime, batch: int = 200) -> int:
    """End sessions still "live" `after_seconds` past their event's end: the stream server went away
    without its on_unpublish, and residents would otherwise be shown a live stream that is not there.
    A later on_publish (the encoder was really still on) makes the session live again."""
    cutoff = now - timedelta(seconds=after_seconds)
    sessions = db.session.scalars(
        select(LiveSession)
        .join(Event, Event.id == LiveSession.event_id)
        .where(LiveSession.status == LiveStatus.LIVE, Event.ends_at < cutoff)
        .order_by(LiveSession.id)
        .limit(batch)
        .with_for_update(of=LiveSession, skip_locked=True)
    ).all()
    for session in sessions:
        session.status = LiveStatus.REPLAY_READY if _has_replays(session) else LiveStatus.ENDED
        session.ended_at = now
        session.publisher_client_id = None
    return len(sessions)


def _replay_path(payload: Mapping[str, Any], app: str) -> str:
    file = _text(payload, "file")
    if file.startswith(("https://", "http://")):
        if len(file) > 512:
            raise ApiError("validation_failed", errors={"file": ["too long"]})
        return file
    name = file.replace("\\", "/").rsplit("/", 1)[-1]
    if not _FILE_NAME.match(name):
        raise ApiError("validation_failed", errors={"file": ["not a recording's file name"]})
    # The stream server's DVR folder is organised by app ("./objs/nginx/html/[app]/[stream].[timestamp].flv").
    return f"{app}/{name}"


def _non_negative_int(value: Any) -> int | None:
    try:
        number = int(float(value))
    except (TypeError, ValueError, OverflowError):
        return None
    return number if 0 <= number < 2**62 else None


def on_dvr(payload: Mapping[str, Any], provider: StreamProvider, now: datetime) -> LiveSession:
    """A recording was written: register it (once) and, once the stream has ended, offer the replay."""
    session = _locked_session(payload, provider)
    path = _replay_path(payload, provider.app)
    exists = db.session.scalar(
        select(ReplayFile.id).where(ReplayFile.live_session_id == session.id, ReplayFile.path == path)
    )
    if exists is None:
        duration = _non_negative_int(payload.get("duration"))
        if duration is None and session.last_published_at is not None:
            # SRS does not say; a recording covers the publish that just ended (or is still running).
            end = session.ended_at if session.status != LiveStatus.LIVE and session.ended_at else now
            duration = max(0, int((end - session.last_published_at).total_seconds()))
        db.session.add(
            ReplayFile(
                id=new_id(),
                live_session_id=session.id,
                path=path,
                duration_seconds=duration,
                size_bytes=_non_negative_int(payload.get("file_size")),
                created_at=now,
            )
        )
        db.session.flush()
    if session.status == LiveStatus.ENDED:
        session.status = LiveStatus.REPLAY_READY
    return session


CALLBACKS = {"on_publish": on_publish, "on_unpublish": on_unpublish, "on_dvr": on_dvr}


def handle_callback(payload: Mapping[str, Any], provider: StreamProvider, now: datetime) -> LiveSession | None:
    """Apply one stream-server callback. Actions we do not track (on_connect, on_play, …) are allowed."""
    handler = CALLBACKS.get(_text(payload, "action"))
    if handler is None:
        return None
    return handler(payload, provider, now)
