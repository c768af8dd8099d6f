"""Request and response shapes of the live routes: the resident's "what to play now", heartbeats, the
staff view with push URL and figures, and the stream server's (SRS-style) callbacks."""

from __future__ import annotations

from typing import Any

from marshmallow import EXCLUDE, Schema, ValidationError, fields, validate

from api.fields import DateTime, Text
from api.live.models import LiveStatus, ViewingMode

STATUS_DESCRIPTION = (
    "`scheduled` (not started), `live` (on air: play `play`), `ended` (no replay yet), `replay_ready` (play `replays`)"
)


class PlaySchema(Schema):
    hls = Text(required=True, metadata={"description": "HLS (.m3u8), for the `video` component"})
    flv = Text(required=True, metadata={"description": "HTTP-FLV, for `live-player`"})
    rtmp = Text(required=True, metadata={"description": "RTMP, for `live-player`"})
    expires_at = DateTime(required=True, metadata={"description": "ask again for fresh URLs after this"})


class ReplaySchema(Schema):
    id = fields.UUID(required=True)
    url = Text(required=True)
    duration_seconds = fields.Integer(allow_none=True, required=True)
    recorded_at = DateTime(required=True)
    expires_at = DateTime(required=True)


class EventLiveSchema(Schema):
    event_id = fields.UUID(required=True)
    status = fields.Enum(LiveStatus, by_value=True, required=True, metadata={"description": STATUS_DESCRIPTION})
    starts_at = DateTime(required=True, metadata={"description": "when the stream is scheduled to start"})
    started_at = DateTime(allow_none=True, required=True)
    ended_at = DateTime(allow_none=True, required=True)
    play = fields.Nested(PlaySchema, allow_none=True, required=True, metadata={"description": "while live"})
    replay_available = fields.Boolean(required=True)
    replays = fields.List(fields.Nested(ReplaySchema), required=True)
    heartbeat_interval_seconds = fields.Integer(
        required=True, metadata={"description": "post a heartbeat this often while playing"}
    )


class HeartbeatArgs(Schema):
    play_id = Text(
        required=True,
        validate=[validate.Length(min=1, max=64), validate.Regexp(r"^[A-Za-z0-9_-]+$")],
        metadata={"description": "made up by the client for each playback (e.g. a UUID), kept while it lasts"},
    )
    mode = fields.Enum(ViewingMode, by_value=True, required=True)
    position_seconds = fields.Integer(
        load_default=None,
        allow_none=True,
        validate=validate.Range(min=0, max=7 * 24 * 3600),
        metadata={"description": "playback position (replays: where to resume)"},
    )


class HeartbeatSchema(Schema):
    counted_seconds = fields.Integer(required=True, metadata={"description": "viewing time this heartbeat added"})
    watched_seconds = fields.Integer(required=True, metadata={"description": "this playback's total so far"})
    status = fields.Enum(LiveStatus, by_value=True, required=True)
    next_heartbeat_in = fields.Integer(required=True)


class EnableLiveArgs(Schema):
    scheduled_start = DateTime(
        load_default=None, allow_none=True, metadata={"description": "default: the event's start"}
    )


class PushSchema(Schema):
    url = Text(required=True, metadata={"description": "the whole RTMP push URL"})
    server = Text(required=True, metadata={"description": "OBS 'Server' (服务器)"})
    stream_key = Text(required=True, metadata={"description": "OBS 'Stream Key' (串流密钥)"})
    expires_at = DateTime(required=True)


class FiguresSchema(Schema):
    unique_viewers = fields.Integer(required=True)
    peak_concurrent_viewers = fields.Integer(required=True, metadata={"description": "in the busiest minute"})
    peak_at = DateTime(allow_none=True, required=True, metadata={"description": "the busiest minute"})
    watch_minutes = fields.Float(required=True, metadata={"description": "total, one decimal"})
    watch_seconds = fields.Integer(required=True)


class FiguresByModeSchema(Schema):
    live = fields.Nested(FiguresSchema, required=True)
    replay = fields.Nested(FiguresSchema, required=True)


class AdminEventLiveSchema(Schema):
    event_id = fields.UUID(required=True)
    status = fields.Enum(LiveStatus, by_value=True, required=True, metadata={"description": STATUS_DESCRIPTION})
    stream_name = Text(required=True)
    scheduled_start = DateTime(required=True)
    started_at = DateTime(allow_none=True, required=True)
    ended_at = DateTime(allow_none=True, required=True)
    publish_count = fields.Integer(required=True, metadata={"description": "publishes so far (reconnects count)"})
    push = fields.Nested(PushSchema, allow_none=True, required=True, metadata={"description": "null if cancelled"})
    play = fields.Nested(PlaySchema, allow_none=True, required=True, metadata={"description": "preview while live"})
    replays = fields.List(fields.Nested(ReplaySchema), required=True)
    figures = fields.Nested(FiguresByModeSchema, required=True)


class _StringOrNumber(fields.Field):
    """SRS sends some ids as numbers (v4) and others as strings (v5)."""

    def _deserialize(self, value: Any, attr: Any, data: Any, **kwargs: Any) -> str:
        if isinstance(value, bool) or not isinstance(value, str | int | float):
            raise ValidationError("Not a valid string.")
        text = str(value)
        if len(text) > 512:
            raise ValidationError("Longer than maximum length 512.")
        return text


class StreamCallbackArgs(Schema):
    """The JSON an SRS server posts to its `http_hooks` (other fields it sends are ignored)."""

    class Meta:
        unknown = EXCLUDE

    action = Text(
        required=True,
        validate=validate.Length(min=1, max=32),
        metadata={"description": "`on_publish`, `on_unpublish`, `on_dvr` (others are allowed and ignored)"},
    )
    client_id = _StringOrNumber(load_default=None, metadata={"type": "string"})
    server_id = _StringOrNumber(load_default=None, metadata={"type": "string"})
    ip = Text(load_default=None, validate=validate.Length(max=64))
    vhost = Text(load_default=None, validate=validate.Length(max=255))
    app = Text(load_default=None, validate=validate.Length(max=64))
    stream = Text(load_default=None, validate=validate.Length(max=128))
    param = Text(load_default=None, validate=validate.Length(max=2048))
    tcUrl = Text(load_default=None, validate=validate.Length(max=2048))  # SRS spells it so
    cwd = Text(load_default=None, validate=validate.Length(max=1024))
    file = Text(load_default=None, validate=validate.Length(max=1024))
    duration = fields.Float(load_default=None, allow_nan=False, metadata={"description": "seconds, if known"})
    file_size = fields.Integer(load_default=None, metadata={"description": "bytes, if known"})


class StreamCallbackAnswerSchema(Schema):
    code = fields.Integer(required=True, metadata={"description": "0: allowed (what SRS expects)"})
    msg = Text(required=True)
