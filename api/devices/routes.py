"""Routes of the device registry (staff): list, get, create, bind, retire, and the CSV bulk import.
Thin: parse, authorise, call a service, serialise."""

from __future__ import annotations

import uuid
from typing import Any

from flask import request
from werkzeug.exceptions import RequestEntityTooLarge

from api.auth import current_user, staff_route
from api.devices import schemas, services
from api.devices.models import Device
from api.errors import ApiError
from api.extensions import Blueprint, accepts
from api.pagination import page_of, paginate

admin_blp = Blueprint(
    "admin-devices", __name__, url_prefix="/api/v1/admin/devices", description="Staff: the device registry"
)

# The subdistrict's 19,715 devices are ~1.5 MB of CSV; leave room for a district (10×).
MAX_IMPORT_BYTES = 32 * 1024 * 1024
CSV_TYPES = ("text/csv", "text/plain", "application/vnd.ms-excel")
MULTIPART = "multipart/form-data"


@staff_route(admin_blp, "", methods=["GET"])
@admin_blp.arguments(schemas.DeviceListArgs, location="query")
@admin_blp.response(200, page_of(schemas.DeviceSchema))
def admin_list_devices(args: dict[str, Any]) -> Any:
    """Devices of my area, newest first; filter by type, status, area, elder, low battery, offline."""
    stmt = services.staff_devices(
        current_user(),
        type=args["type"],
        status=args["status"],
        area_id=args["area_id"],
        elder_id=args["elder_id"],
        low_battery=args["low_battery"],
        offline=args["offline"],
    )
    return paginate(stmt, order_by=(Device.id,), limit=args["limit"], cursor=args["cursor"])


@staff_route(admin_blp, "", methods=["POST"])
@admin_blp.arguments(schemas.DeviceCreateArgs)
@admin_blp.response(201, schemas.DeviceSchema)
@admin_blp.alt_response(409, description="Serial exists, the elder is not active, or no consent covers this type")
@admin_blp.alt_response(
    422, description="Bad fields, a home or elder not in my area, no home (committee staff), or not the elder's home"
)
def admin_create_device(args: dict[str, Any]) -> Any:
    """Register a device, in a home and optionally watching an elder (only with their consent)."""
    return services.create_device(current_user(), args)


@staff_route(admin_blp, "/<uuid:device_id>", methods=["GET"])
@admin_blp.response(200, schemas.DeviceSchema)
def admin_get_device(device_id: uuid.UUID) -> Any:
    """One device of my area."""
    return services.staff_device(current_user(), device_id)


@staff_route(admin_blp, "/<uuid:device_id>", methods=["PATCH"])
@admin_blp.arguments(schemas.DevicePatchArgs)
@admin_blp.response(200, schemas.DeviceSchema)
@admin_blp.alt_response(409, description="Retired, the elder is not active, or no consent covers this type")
@admin_blp.alt_response(
    422, description="Bad fields, a home or elder not in my area, no home (committee staff), or not the elder's home"
)
def admin_update_device(args: dict[str, Any], device_id: uuid.UUID) -> Any:
    """Move a device, bind it to an elder (refused without their consent) or unbind it (`elder_id: null`)."""
    return services.update_device(current_user(), device_id, args)


@staff_route(admin_blp, "/<uuid:device_id>/retire", methods=["POST"])
@admin_blp.response(200, schemas.DeviceSchema)
def admin_retire_device(device_id: uuid.UUID) -> Any:
    """Take a device out of service (its history stays)."""
    return services.retire_device(current_user(), device_id)


def _import_body() -> bytes:
    request.max_content_length = MAX_IMPORT_BYTES
    try:
        if request.mimetype == MULTIPART:
            upload = request.files.get("file")
            if upload is None:
                raise ApiError("validation_failed", errors={"file": ["Missing data for required field."]})
            return upload.read()
        return request.get_data()
    except RequestEntityTooLarge:
        raise ApiError("payload_too_large", limit="32 MB") from None


@staff_route(admin_blp, "/import", methods=["POST"])
@accepts(MULTIPART, *CSV_TYPES)
@admin_blp.doc(
    requestBody={
        "required": True,
        "description": "columns: serial, type, room (building code/room number, e.g. KJ01-01-001/101, or a room "
        "id), elder_id (optional), installed_on (YYYY-MM-DD, optional), heartbeat_interval_seconds (optional)",
        "content": {
            "text/csv": {"schema": {"type": "string"}},
            MULTIPART: {"schema": {"type": "object", "properties": {"file": {"type": "string", "format": "binary"}}}},
        },
    }
)
@admin_blp.response(200, schemas.ImportResultSchema)
@admin_blp.alt_response(413, description="Larger than 32 MB")
@admin_blp.alt_response(422, description="Not a readable CSV, or columns missing")
def admin_import_devices() -> Any:
    """Upsert devices by serial from a CSV (UTF-8 or GB18030). Good rows are kept; each bad row is reported
    with its line number. A row with an elder needs that elder's consent for the device type."""
    return services.import_devices(current_user(), _import_body())


blueprints = [admin_blp]
