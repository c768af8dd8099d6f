"""Routes of live streams: residents ask what to play and post heartbeats; staff enable a stream and
read its push URL and figures; the stream server posts its callbacks. Thin: parse, authorise, call a
service, serialise."""

from __future__ import annotations

import functools
import uuid
from collections.abc import Callable
from typing import Any, TypeVar

from flask import request

from api import ratelimit
from api.auth import current_user, login_required, staff_route
from api.db import utcnow
from api.errors import ApiError
from api.extensions import Blueprint, get_settings
from api.live import schemas, services
from api.live.providers import CALLBACK_SECRET_HEADER, CALLBACK_SECRET_PARAM, StreamProvider, make_provider

F = TypeVar("F", bound=Callable[..., Any])

live_blp = Blueprint(
    "live", __name__, url_prefix="/api/v1/events", description="Watching events live and on replay (线上观看及回看)"
)
admin_live_blp = Blueprint(
    "admin-live", __name__, url_prefix="/api/v1/admin/events", description="Staff: live streams of events"
)
callbacks_blp = Blueprint(
    "live-callbacks", __name__, url_prefix="/api/v1/live", description="The stream server's HTTP callbacks"
)


def _provider() -> StreamProvider:
    return make_provider(get_settings())


def stream_server_only(func: F) -> F:
    """Refuse a callback without the shared secret before its body is even read."""

    @functools.wraps(func)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        if not _provider().verify_callback(request):
            raise ApiError("live_callback_forbidden")
        return func(*args, **kwargs)

    apidoc = getattr(wrapper, "_apidoc", {})
    parameters = apidoc.setdefault("manual_doc", {}).setdefault("parameters", [])
    parameters += [
        {
            "in": "query",
            "name": CALLBACK_SECRET_PARAM,
            "required": False,
            "schema": {"type": "string"},
            "description": "the shared callback secret (`LIVE_CALLBACK_SECRET`), in the hook URL",
        },
        {
            "in": "header",
            "name": CALLBACK_SECRET_HEADER,
            "required": False,
            "schema": {"type": "string"},
            "description": "or the same secret in a header (from a proxy)",
        },
    ]
    wrapper._apidoc = apidoc  # type: ignore[attr-defined]
    return wrapper  # type: ignore[return-value]


@live_blp.route("/<uuid:event_id>/live", methods=["GET"])
@login_required()
@live_blp.response(200, schemas.EventLiveSchema)
@live_blp.alt_response(404, description="No such event, or it has no live stream")
def get_event_live(event_id: uuid.UUID) -> Any:
    """What to play now: live URLs while on air, replays once recorded, or when the stream starts."""
    return services.resident_view(current_user(), event_id, _provider(), get_settings(), utcnow())


@live_blp.route("/<uuid:event_id>/live/heartbeats", methods=["POST"])
@login_required()
@live_blp.arguments(schemas.HeartbeatArgs)
@live_blp.response(200, schemas.HeartbeatSchema)
@live_blp.alt_response(404, description="No such event, or it has no live stream")
@live_blp.alt_response(409, description="Not on air (live), or no replay yet (replay)")
@live_blp.alt_response(429, description="Heartbeats too fast")
def post_live_heartbeat(args: dict[str, Any], event_id: uuid.UUID) -> Any:
    """Post while playing, every `heartbeat_interval_seconds`; viewing time counts the clock, not the posts."""
    user = current_user()
    settings = get_settings()
    ratelimit.enforce("live-heartbeat", str(user.id), limit=settings.live_heartbeat_rate_limit_per_minute)
    return services.heartbeat(user, event_id, settings=settings, now=utcnow(), **args)


@staff_route(admin_live_blp, "/<uuid:event_id>/live", methods=["POST"])
@admin_live_blp.arguments(schemas.EnableLiveArgs)
@admin_live_blp.response(201, schemas.AdminEventLiveSchema)
@admin_live_blp.alt_response(200, schema=schemas.AdminEventLiveSchema, description="It had one already")
@admin_live_blp.alt_response(409, description="The event is cancelled")
def admin_enable_event_live(args: dict[str, Any], event_id: uuid.UUID) -> Any:
    """Give the event a live stream (once; asking again returns it): its push URL for the encoder."""
    provider, settings = _provider(), get_settings()
    session, created = services.enable_live(current_user(), event_id, provider, **args)
    return services.staff_view(session, provider, settings, utcnow()), 201 if created else 200


@staff_route(admin_live_blp, "/<uuid:event_id>/live", methods=["GET"])
@admin_live_blp.response(200, schemas.AdminEventLiveSchema)
@admin_live_blp.alt_response(404, description="No such event, or it has no live stream")
def admin_get_event_live(event_id: uuid.UUID) -> Any:
    """The push URL (signed, valid until hours after the scheduled end), status, replays and viewing
    figures — unique viewers, peak concurrent viewers and watch minutes, live and replay apart."""
    event = services.event_for_staff(current_user(), event_id)
    return services.staff_view(services.session_of(event.id), _provider(), get_settings(), utcnow())


@callbacks_blp.route("/callbacks", methods=["POST"])
@stream_server_only
@callbacks_blp.arguments(schemas.StreamCallbackArgs)
@callbacks_blp.response(200, schemas.StreamCallbackAnswerSchema)
@callbacks_blp.alt_response(403, description="No or wrong secret; or a publish without a valid push signature")
@callbacks_blp.alt_response(404, description="Unknown stream")
def post_stream_callback(args: dict[str, Any]) -> Any:
    """SRS `http_hooks` (`on_publish`, `on_unpublish`, `on_dvr`): 200 `{"code": 0}` allows; anything else refuses."""
    services.handle_callback(args, _provider(), utcnow())
    return {"code": 0, "msg": "OK"}


blueprints = [live_blp, admin_live_blp, callbacks_blp]
