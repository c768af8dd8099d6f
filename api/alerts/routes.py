"""Routes of device alerts: the IoT platform's signed ingestion, family members' and staff's alerts
(acknowledge, resolve), the staff board, per-device history, statistics and duty shifts.
Thin: parse, authorise, call a service, serialise."""

from __future__ import annotations

import uuid
from datetime import timedelta
from typing import Any

from flask import request
from sqlalchemy.exc import IntegrityError

from api.accounts.services import load_ancestors
from api.alerts import ingestion, schemas, services
from api.alerts.models import Alert, DutyShift, IotEvent
from api.auth import current_user, login_required, reads_replica, staff_route
from api.db import db, utcnow
from api.devices import services as devices
from api.eldercare import services as eldercare
from api.eldercare.models import Elder
from api.errors import ApiError
from api.extensions import Blueprint, get_settings
from api.fields import shift
from api.hygiene import load_json
from api.pagination import CursorArgs, page_of, paginate

iot_blp = Blueprint("iot", __name__, url_prefix="/api/v1/iot", description="The IoT platform's signed event batches")
alerts_blp = Blueprint("alerts", __name__, url_prefix="/api/v1", description="Device alerts for families and staff")
admin_alerts_blp = Blueprint(
    "admin-alerts", __name__, url_prefix="/api/v1/admin", description="Staff: alert board, device history, duty"
)

_SIGNATURE_PARAMETERS = [
    {"in": "header", "name": ingestion.PLATFORM_HEADER, "required": True, "schema": {"type": "string"}},
    {
        "in": "header",
        "name": ingestion.TIMESTAMP_HEADER,
        "required": True,
        "schema": {"type": "string"},
        "description": "unix seconds; refused outside ±IOT_REPLAY_WINDOW_SECONDS",
    },
    {
        "in": "header",
        "name": ingestion.SIGNATURE_HEADER,
        "required": True,
        "schema": {"type": "string"},
        "description": 'hex HMAC-SHA256(platform secret, "<timestamp>.<raw body>")',
    },
]


@iot_blp.route("/events", methods=["POST"])
@iot_blp.doc(
    parameters=_SIGNATURE_PARAMETERS,
    requestBody={
        "required": True,
        "content": {
            "application/json": {
                "schema": {"type": "array", "maxItems": ingestion.MAX_BATCH, "items": schemas.IotEventItemSchema}
            }
        },
    },
)
@iot_blp.response(200, schemas.IotBatchResultSchema)
@iot_blp.alt_response(401, description="Signature missing or wrong, or timestamp outside the window")
@iot_blp.alt_response(409, description="This signed batch was received before (replay)")
@iot_blp.alt_response(413, description="More than 1,000 events")
@iot_blp.alt_response(422, description="The body is not a JSON array")
@iot_blp.alt_response(503, description="No platform secret configured")
def iot_ingest_events() -> Any:
    """A batch of up to 1,000 device events; a result per item (accepted, duplicate, unknown_device,
    invalid, unsupported_type) — a bad item never fails the batch."""
    settings, now = get_settings(), utcnow()
    body = request.get_data(cache=True)
    platform = ingestion.verify(request.headers, body, settings, now)
    try:
        # Text is judged item by item (a bad item must not cost the batch its good ones), so only the
        # structure is checked here.
        items = load_json(body, check_text=False)
    except ApiError as exc:
        raise ApiError("iot_batch_invalid", errors=exc.errors) from exc
    if not isinstance(items, list):
        raise ApiError("iot_batch_invalid")
    ingestion.take_once(platform, request.headers, now)
    result = ingestion.ingest(platform, items, settings, now)
    # Committed here rather than after the response, so a failed commit is answered as what it is: the
    # receipt went with it, and the platform may re-send the batch as it was.
    try:
        db.session.commit()
    except IntegrityError as exc:
        db.session.rollback()
        raise ApiError("conflict") from exc
    return {"results": result.results, "counts": result.counts, "alerts_opened": result.alerts_opened}


@alerts_blp.route("/me/alerts", methods=["GET"])
@login_required()
@alerts_blp.arguments(CursorArgs, location="query")
@alerts_blp.response(200, page_of(schemas.AlertSchema))
@reads_replica
def alerts_list_mine(args: dict[str, Any]) -> Any:
    """Alerts of the elders I look after (confirmed bindings), newest first."""
    stmt = services.family_alerts(current_user())
    return paginate(stmt, order_by=(Alert.id,), limit=args["limit"], cursor=args["cursor"])


@alerts_blp.route("/alerts/<uuid:alert_id>", methods=["GET"])
@login_required()
@alerts_blp.response(200, schemas.AlertDetailSchema)
@alerts_blp.alt_response(404, description="No such alert, or not of an elder I look after (nor of my area, for staff)")
def alerts_get_alert(alert_id: uuid.UUID) -> Any:
    """One alert with its timeline (the page the WeChat message opens)."""
    return _with_address(services.alert_for(current_user(), alert_id))


@alerts_blp.route("/alerts/<uuid:alert_id>/ack", methods=["POST"])
@login_required()
@alerts_blp.response(200, schemas.AlertDetailSchema)
@alerts_blp.alt_response(404, description="No such alert, or not of an elder I look after (nor of my area, for staff)")
def alerts_acknowledge(alert_id: uuid.UUID) -> Any:
    """ "I am on it": stops the escalation. Acknowledging again is harmless and answers the same."""
    return services.acknowledge(current_user(), alert_id, utcnow())


@alerts_blp.route("/alerts/<uuid:alert_id>/resolve", methods=["POST"])
@login_required()
@alerts_blp.arguments(schemas.ResolveArgs)
@alerts_blp.response(200, schemas.AlertDetailSchema)
@alerts_blp.alt_response(404, description="No such alert, or not of an elder I look after (nor of my area, for staff)")
@alerts_blp.alt_response(409, description="Already resolved")
@alerts_blp.alt_response(422, description="Resolution or note missing")
def alerts_resolve(args: dict[str, Any], alert_id: uuid.UUID) -> Any:
    """Close the incident: false alarm, handled, hospitalised or other, with a note."""
    return services.resolve(current_user(), alert_id, args["resolution"], args["note"].strip(), utcnow())


def _with_address(alert: Alert) -> Alert:
    """The alert with its room's address loaded in one statement (not one per level of the area tree)."""
    room = alert.device.room
    load_ancestors([room.building] if room is not None else [])
    return alert


# Staff ------------------------------------------------------------------------------------------


@staff_route(admin_alerts_blp, "/alerts", methods=["GET"])
@admin_alerts_blp.arguments(schemas.AdminAlertListArgs, location="query")
@admin_alerts_blp.response(200, page_of(schemas.AlertSchema))
@reads_replica
def admin_list_alerts(args: dict[str, Any]) -> Any:
    """The alert board of my area, newest first: live (open, unacknowledged, escalated) or history."""
    filters = services.BoardFilters(
        status=args["status"],
        severity=args["severity"],
        rule=args["type"],
        elder_id=args["elder_id"],
        device_id=args["device_id"],
        since=args["since"],
        until=args["until"],
    )
    stmt = services.staff_alerts(current_user(), filters)
    return paginate(stmt, order_by=(Alert.id,), limit=args["limit"], cursor=args["cursor"])


@staff_route(admin_alerts_blp, "/alerts/stats", methods=["GET"])
@admin_alerts_blp.arguments(schemas.StatsArgs, location="query")
@admin_alerts_blp.response(200, schemas.AlertStatsSchema)
@reads_replica
def admin_alert_stats(args: dict[str, Any]) -> Any:
    """Alerts by type and severity, time to acknowledge (p50/p90 seconds), false-alarm rate."""
    until = args["until"] or utcnow()
    since = args["since"] or shift(until, -timedelta(days=30))
    if since >= until:
        raise ApiError("validation_failed", errors={"from": ["must be before to"]})
    return services.stats(current_user(), since, until)


@staff_route(admin_alerts_blp, "/alerts/<uuid:alert_id>", methods=["GET"])
@admin_alerts_blp.response(200, schemas.AlertDetailSchema)
def admin_get_alert(alert_id: uuid.UUID) -> Any:
    """One alert of my area with its timeline."""
    return _with_address(services.staff_alert(current_user(), alert_id))


@staff_route(admin_alerts_blp, "/devices/<uuid:device_id>/events", methods=["GET"])
@admin_alerts_blp.arguments(CursorArgs, location="query")
@admin_alerts_blp.response(200, page_of(schemas.IotEventSchema))
def admin_list_device_events(args: dict[str, Any], device_id: uuid.UUID) -> Any:
    """Everything a device reported, newest first."""
    stmt = services.device_events(current_user(), device_id)
    return paginate(stmt, order_by=(IotEvent.occurred_at, IotEvent.id), limit=args["limit"], cursor=args["cursor"])


@staff_route(admin_alerts_blp, "/duty-shifts", methods=["GET"])
@admin_alerts_blp.arguments(schemas.DutyShiftListArgs, location="query")
@admin_alerts_blp.response(200, page_of(schemas.DutyShiftSchema))
def admin_list_duty_shifts(args: dict[str, Any]) -> Any:
    """Duty shifts of my area (who is told when a family does not answer), newest first."""
    stmt = services.duty_shifts(current_user(), args["active_at"])
    return paginate(stmt, order_by=(DutyShift.id,), limit=args["limit"], cursor=args["cursor"])


@staff_route(admin_alerts_blp, "/duty-shifts", methods=["POST"])
@admin_alerts_blp.arguments(schemas.DutyShiftArgs)
@admin_alerts_blp.response(201, schemas.DutyShiftSchema)
@admin_alerts_blp.alt_response(
    422, description="Unknown area or outside mine, not a staff member or grid worker, or ends before it starts"
)
def admin_create_duty_shift(args: dict[str, Any]) -> Any:
    """Put a staff member or grid worker on duty for an area."""
    return services.create_duty_shift(current_user(), args)


@staff_route(admin_alerts_blp, "/duty-shifts/<uuid:shift_id>", methods=["DELETE"])
@admin_alerts_blp.response(204)
def admin_delete_duty_shift(shift_id: uuid.UUID) -> Any:
    """Remove a duty shift."""
    services.delete_duty_shift(current_user(), shift_id)
    return None


# The family's home screen -------------------------------------------------------------------------
# Elders (eldercare), their devices (devices) and recent alerts (here), assembled on the floor that
# sees all three.


@alerts_blp.route("/me/elders", methods=["GET"])
@login_required()
@alerts_blp.response(200, schemas.MyEldersSchema)
def eldercare_list_my_elders() -> Any:
    """The elders I look after, each with their devices (status, last seen, battery) and recent alerts."""
    user = current_user()
    elders = eldercare.elders_of(user)
    ids = [e.id for e in elders]
    load_ancestors(e.room.building for e in elders)  # each home's full address, in one statement
    bindings = {b.elder_id: b for b in eldercare.my_bindings(user)}
    watching = devices.devices_of_elders(ids)
    alerts = services.recent_alerts_for(ids, limit=5)
    return {
        "items": [
            _MyElder(e, bindings[e.id], watching.get(e.id, []), alerts.get(e.id, []))
            for e in elders
            if e.id in bindings
        ]
    }


@alerts_blp.route("/me/elders/<uuid:elder_id>", methods=["GET"])
@login_required()
@alerts_blp.response(200, schemas.MyElderSchema)
@alerts_blp.alt_response(404, description="Not an elder I look after (confirmed)")
def eldercare_get_my_elder(elder_id: uuid.UUID) -> Any:
    """One elder I look after, with devices and recent alerts."""
    user = current_user()
    binding = eldercare.my_binding_to(user, elder_id)
    elder = binding.elder
    return _MyElder(
        elder,
        binding,
        devices.devices_of_elders([elder.id]).get(elder.id, []),
        services.recent_alerts_for([elder.id], limit=5).get(elder.id, []),
    )


class _MyElder:
    """An elder as a family member sees it: the profile, my place among the contacts, devices and alerts."""

    def __init__(self, elder: Elder, binding: Any, devices: list[Any], alerts: list[Any]) -> None:
        self._elder = elder
        self.relation = binding.relation
        self.position = binding.position
        self.devices = devices
        self.recent_alerts = alerts

    def __getattr__(self, name: str) -> Any:
        return getattr(self._elder, name)


blueprints = [iot_blp, alerts_blp, admin_alerts_blp]
