"""Request and response shapes of ingestion, alerts (family and staff), statistics and duty shifts.

`AlertSchema` is what other domains nest (the eldercare domain's "my elders" shows recent alerts)."""

from __future__ import annotations

from typing import Any

from marshmallow import Schema, ValidationError, fields, validate, validates

from api.alerts import rules
from api.alerts.models import AlertRule, AlertStatus, Resolution, Severity, StepKind
from api.devices.models import DeviceStatus, DeviceType
from api.eldercare import schemas as eldercare_schemas
from api.fields import DateTime, PersonalText, Text
from api.pagination import CursorArgs


class AlertSchema(Schema):
    id = fields.UUID(required=True)
    type = fields.Enum(AlertRule, by_value=True, required=True, attribute="rule", metadata={"description": "the rule"})
    type_name = fields.Function(lambda a: rules.RULE_NAMES_ZH[a.rule], required=True, metadata={"type": "string"})
    severity = fields.Enum(Severity, by_value=True, required=True)
    status = fields.Enum(AlertStatus, by_value=True, required=True)
    device_id = fields.UUID(required=True)
    device_serial = fields.Function(lambda a: a.device.serial, required=True, metadata={"type": "string"})
    device_type = fields.Function(lambda a: a.device.type.value, required=True, metadata={"type": "string"})
    elder_id = fields.UUID(required=True, allow_none=True)
    count = fields.Integer(required=True, metadata={"description": "events of this incident so far"})
    value = fields.Raw(required=True, allow_none=True, metadata={"description": "latest reading, if any"})
    first_at = DateTime(required=True)
    last_at = DateTime(required=True)
    escalation_level = fields.Integer(required=True, metadata={"description": "steps of the chain taken"})
    next_escalation_at = DateTime(required=True, allow_none=True)
    acknowledged_at = DateTime(required=True, allow_none=True)
    acknowledged_by_id = fields.UUID(required=True, allow_none=True)
    resolved_at = DateTime(required=True, allow_none=True)
    resolved_by_id = fields.UUID(required=True, allow_none=True)
    resolution = fields.Enum(Resolution, by_value=True, required=True, allow_none=True)
    # Every confirmed family member of the elder reads the note one of them wrote.
    resolution_note = PersonalText(required=True, allow_none=True, author="resolved_by_id")


class AlertStepSchema(Schema):
    id = fields.UUID(required=True)
    kind = fields.Enum(StepKind, by_value=True, required=True)
    level = fields.Integer(required=True)
    user_id = fields.UUID(required=True, allow_none=True)
    note = PersonalText(required=True, author="user_id")
    notification_ids = fields.List(fields.String(), required=True)
    at = DateTime(required=True)


class AlertDetailSchema(AlertSchema):
    address = fields.Method("get_address", required=True, metadata={"type": "string"})
    elder_name = fields.Method("get_elder_name", required=True, allow_none=True, metadata={"type": "string"})
    steps = fields.List(fields.Nested(AlertStepSchema), required=True)

    def get_address(self, alert: Any) -> str:
        room = alert.device.room
        return room.address if room is not None else ""

    def get_elder_name(self, alert: Any) -> str | None:
        return alert.elder.name if alert.elder is not None else None


class ResolveArgs(Schema):
    resolution = fields.Enum(Resolution, by_value=True, required=True)
    note = Text(multiline=True, required=True, validate=validate.Length(min=1, max=1000))

    @validates("note")
    def _not_blank(self, value: str, **_: Any) -> None:
        if not value.strip():
            raise ValidationError("Shorter than minimum length 1.")


BOARD_STATUSES = ("open", "unacknowledged", "escalated", "acknowledged", "resolved")


class AdminAlertListArgs(CursorArgs):
    status = Text(
        load_default=None,
        validate=validate.OneOf(BOARD_STATUSES),
        metadata={
            "description": "open (not resolved) · unacknowledged · escalated (past the first contact) · "
            "acknowledged · resolved"
        },
    )
    severity = fields.Enum(Severity, by_value=True, load_default=None)
    type = fields.Enum(AlertRule, by_value=True, load_default=None)
    elder_id = fields.UUID(load_default=None)
    device_id = fields.UUID(load_default=None)
    since = DateTime(load_default=None, data_key="from", metadata={"description": "first event at or after"})
    until = DateTime(load_default=None, data_key="to", metadata={"description": "first event before"})


class StatsArgs(Schema):
    since = DateTime(load_default=None, data_key="from", metadata={"description": "default: 30 days ago"})
    until = DateTime(load_default=None, data_key="to", metadata={"description": "default: now"})


class AlertStatsSchema(Schema):
    from_ = DateTime(required=True, data_key="from", attribute="from")
    to = DateTime(required=True)
    total = fields.Integer(required=True)
    by_type = fields.Dict(keys=Text(), values=fields.Integer(), required=True)
    by_severity = fields.Dict(keys=Text(), values=fields.Integer(), required=True)
    acknowledged = fields.Integer(required=True)
    ack_seconds_p50 = fields.Float(required=True, allow_none=True)
    ack_seconds_p90 = fields.Float(required=True, allow_none=True)
    resolved = fields.Integer(required=True)
    false_alarms = fields.Integer(required=True)
    false_alarm_rate = fields.Float(required=True, allow_none=True, metadata={"description": "of resolved alerts"})


class IotEventSchema(Schema):
    id = fields.UUID(required=True)
    platform = Text(required=True)
    event_id = Text(required=True)
    type = Text(required=True)
    value = fields.Raw(required=True, allow_none=True)
    occurred_at = DateTime(required=True)
    received_at = DateTime(required=True)


class IotEventItemSchema(Schema):
    """One event as the platform sends it (documentation of the request body)."""

    device_serial = Text(required=True)
    type = Text(required=True, metadata={"description": "open, smoke, heartbeat, blood_pressure …"})
    value = fields.Raw(load_default=None, metadata={"description": "{battery} or {systolic, diastolic, pulse}"})
    occurred_at = DateTime(required=True)
    event_id = Text(required=True, metadata={"description": "the platform's id; a re-push is a duplicate"})


class IotItemResultSchema(Schema):
    event_id = Text(required=True, allow_none=True)
    status = Text(
        required=True,
        validate=validate.OneOf(("accepted", "duplicate", "unknown_device", "invalid", "unsupported_type")),
    )
    errors = fields.Dict(keys=Text(), values=fields.List(Text()))
    alert_id = Text(metadata={"description": "the alert this event opened or counts on"})


class IotBatchResultSchema(Schema):
    results = fields.List(fields.Nested(IotItemResultSchema), required=True)
    counts = fields.Dict(keys=Text(), values=fields.Integer(), required=True)
    alerts_opened = fields.Integer(required=True)


class DutyShiftSchema(Schema):
    id = fields.UUID(required=True)
    user_id = fields.UUID(required=True)
    user_name = fields.Function(
        lambda s: s.user.nickname or s.user.username or "", required=True, metadata={"type": "string"}
    )
    area_id = fields.UUID(required=True)
    area_name = fields.Function(lambda s: s.area.name, required=True, metadata={"type": "string"})
    starts_at = DateTime(required=True)
    ends_at = DateTime(required=True)


class DutyShiftArgs(Schema):
    user_id = fields.UUID(required=True)
    area_id = fields.UUID(required=True)
    starts_at = DateTime(required=True)
    ends_at = DateTime(required=True)


class DutyShiftListArgs(CursorArgs):
    active_at = DateTime(load_default=None, metadata={"description": "only shifts covering this moment"})


# The family's home screen: the elders I look after, with their devices and recent alerts ------------


class MyDeviceSchema(Schema):
    id = fields.UUID(required=True)
    serial = Text(required=True)
    type = fields.Enum(DeviceType, by_value=True, required=True)
    status = fields.Enum(DeviceStatus, by_value=True, required=True)
    last_seen_at = DateTime(required=True, allow_none=True)
    battery_percent = fields.Integer(required=True, allow_none=True)


def _attr(obj: Any, name: str) -> Any:
    value = getattr(obj, name, None)
    return getattr(value, "value", value)


class RecentAlertSchema(Schema):
    id = fields.UUID(required=True)
    device_id = fields.UUID(required=True)
    rule = fields.Function(lambda a: _attr(a, "rule"), required=True, metadata={"type": "string"})
    severity = fields.Function(lambda a: _attr(a, "severity"), required=True, metadata={"type": "string"})
    status = fields.Function(lambda a: _attr(a, "status"), required=True, metadata={"type": "string"})
    count = fields.Integer(required=True)
    first_at = DateTime(required=True)
    last_at = DateTime(required=True)
    acknowledged_at = DateTime(required=True, allow_none=True)


class MyElderSchema(eldercare_schemas.ElderSchema):
    relation = Text(required=True)
    position = fields.Integer(required=True, metadata={"description": "my place in the contact order"})
    devices = fields.List(fields.Nested(MyDeviceSchema), required=True)
    recent_alerts = fields.List(fields.Nested(RecentAlertSchema), required=True)


class MyEldersSchema(Schema):
    items = fields.List(fields.Nested(MyElderSchema), required=True)
