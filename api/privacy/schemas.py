"""Schemas of the privacy routes."""

from __future__ import annotations

from marshmallow import Schema, fields, validate

from api.fields import DateTime, Text
from api.pagination import CursorArgs


class DataExportSchema(Schema):
    id = fields.UUID(required=True)
    status = fields.String(required=True, metadata={"enum": ["queued", "building", "ready", "failed", "expired"]})
    progress = fields.Integer(required=True, metadata={"description": "percent"})
    size_bytes = fields.Integer(required=True, allow_none=True)
    created_at = DateTime(required=True)
    finished_at = DateTime(required=True, allow_none=True)
    expires_at = DateTime(required=True, allow_none=True, metadata={"description": "the archive is deleted then"})
    download_url = fields.String(
        required=True,
        allow_none=True,
        metadata={"description": "signed, valid for 10 minutes: ask again for a new one"},
    )


class DeletionSchema(Schema):
    status = fields.String(required=True, metadata={"enum": ["waiting", "cancelled", "blocked", "erasing", "done"]})
    requested_at = DateTime(required=True)
    due_at = DateTime(required=True, metadata={"description": "logging in again before this cancels the deletion"})
    cancelled_at = DateTime(required=True, allow_none=True)


class PolicyAcceptArgs(Schema):
    version = Text(required=True, validate=validate.Length(min=1, max=32))


class PolicySchema(Schema):
    version = fields.String(required=True)
    text = fields.String(required=True)
    effective_at = DateTime(required=True)


class PolicyPublishArgs(Schema):
    version = Text(required=True, validate=validate.Length(min=1, max=32))
    text = Text(required=True, multiline=True, validate=validate.Length(min=1, max=50_000))
    effective_at = DateTime(required=True)


class _PolicyStateSchema(Schema):
    in_force = fields.String(required=True, allow_none=True)
    accepted = fields.String(required=True, allow_none=True)
    accepted_at = DateTime(required=True, allow_none=True)


class _DataHeldSchema(Schema):
    domain = fields.String(required=True)
    categories = fields.List(fields.String(), required=True)


class PrivacyOverviewSchema(Schema):
    policy = fields.Nested(_PolicyStateSchema, required=True)
    consents = fields.Dict(
        keys=fields.String(),
        required=True,
        metadata={"description": "monitoring consents, Official Account link, subscribe-message credits"},
    )
    data_held = fields.List(fields.Nested(_DataHeldSchema), required=True)
    deletion = fields.Nested(DeletionSchema, required=True, allow_none=True)


class MyAccessLogEntrySchema(Schema):
    """Who at the street looked: their role and committee, never their name."""

    at = DateTime(required=True)
    staff_role = fields.String(required=True)
    staff_area_code = fields.String(required=True, allow_none=True)
    subject_kind = fields.String(required=True, metadata={"description": "user (me) or elder (one I look after)"})
    subject_id = fields.UUID(required=True, allow_none=True)
    fields_ = fields.List(fields.String(), required=True, data_key="fields", attribute="fields")
    reason = fields.String(required=True, allow_none=True)


class AccessLogEntrySchema(MyAccessLogEntrySchema):
    id = fields.UUID(required=True)
    staff_id = fields.UUID(required=True, allow_none=True)
    route = fields.String(required=True)


class AccessLogArgs(CursorArgs):
    subject_kind = Text(load_default=None, validate=validate.OneOf(["user", "elder", "erased"]))
    subject_id = fields.UUID(load_default=None)
    staff_id = fields.UUID(load_default=None)
    since = DateTime(load_default=None, data_key="from")
    until = DateTime(load_default=None, data_key="to")
