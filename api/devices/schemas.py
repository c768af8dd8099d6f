"""Request and response shapes of the device registry."""

from __future__ import annotations

from marshmallow import Schema, fields, validate

from api.devices.models import DeviceStatus, DeviceType
from api.devices.services import MAX_HEARTBEAT_SECONDS, MIN_HEARTBEAT_SECONDS
from api.fields import Date, DateTime, Text
from api.pagination import CursorArgs

HEARTBEAT = validate.Range(min=MIN_HEARTBEAT_SECONDS, max=MAX_HEARTBEAT_SECONDS)


class DeviceListArgs(CursorArgs):
    type = fields.Enum(DeviceType, by_value=True, load_default=None)
    status = fields.Enum(DeviceStatus, by_value=True, load_default=None)
    area_id = fields.UUID(load_default=None, metadata={"description": "a committee, estate or building"})
    elder_id = fields.UUID(load_default=None)
    low_battery = fields.Boolean(load_default=False, metadata={"description": "battery under 20 %"})
    offline = fields.Boolean(load_default=False, metadata={"description": "missed their heartbeat"})


class DeviceCreateArgs(Schema):
    serial = Text(required=True, validate=validate.Length(min=1, max=64))
    type = fields.Enum(DeviceType, by_value=True, required=True)
    room_id = fields.UUID(load_default=None, allow_none=True, metadata={"description": "the home it is installed in"})
    elder_id = fields.UUID(
        load_default=None, allow_none=True, metadata={"description": "the elder it watches (needs their consent)"}
    )
    installed_on = Date(load_default=None, allow_none=True)
    heartbeat_interval_seconds = fields.Integer(
        load_default=None, allow_none=True, validate=HEARTBEAT, metadata={"description": "default: by type"}
    )


class DevicePatchArgs(Schema):
    room_id = fields.UUID(allow_none=True)
    elder_id = fields.UUID(allow_none=True, metadata={"description": "null unbinds; an id binds (consent needed)"})
    installed_on = Date(allow_none=True)
    heartbeat_interval_seconds = fields.Integer(validate=HEARTBEAT)


class DeviceSchema(Schema):
    id = fields.UUID(required=True)
    serial = Text(required=True)
    type = fields.Enum(DeviceType, by_value=True, required=True)
    status = fields.Enum(DeviceStatus, by_value=True, required=True)
    room_id = fields.UUID(required=True, allow_none=True)
    address = fields.Function(
        lambda d: d.room.address if d.room is not None else None,
        required=True,
        allow_none=True,
        metadata={"type": "string", "nullable": True},
    )
    elder_id = fields.UUID(required=True, allow_none=True)
    installed_on = Date(required=True, allow_none=True)
    last_seen_at = DateTime(required=True, allow_none=True)
    last_activity_at = DateTime(required=True, allow_none=True)
    battery_percent = fields.Integer(required=True, allow_none=True)
    heartbeat_interval_seconds = fields.Integer(required=True)
    created_at = DateTime(required=True)
    retired_at = DateTime(required=True, allow_none=True)


class ImportRowErrorSchema(Schema):
    line = fields.Integer(required=True, metadata={"description": "line number in the file (header is line 1)"})
    serial = Text(required=True, allow_none=True)
    errors = fields.Dict(keys=Text(), values=fields.List(Text()), required=True)


class ImportResultSchema(Schema):
    received = fields.Integer(required=True)
    created = fields.Integer(required=True)
    updated = fields.Integer(required=True)
    failed = fields.Integer(required=True)
    errors = fields.List(fields.Nested(ImportRowErrorSchema), required=True)
    errors_truncated = fields.Boolean(required=True, metadata={"description": "more than 1,000 bad rows"})


class DeviceImportFileArgs(Schema):
    file = fields.Raw(load_default=None, metadata={"type": "string", "format": "binary"})
