"""Shapes of the inbox, subscription and outbox routes."""

from __future__ import annotations

from marshmallow import Schema, fields, validate

from api.fields import DateTime, Text
from api.notifications.models import AttemptOutcome, Channel, DeliveryStatus, Urgency
from api.pagination import CursorArgs


class MessageSchema(Schema):
    id = fields.UUID(required=True)
    kind = Text(required=True)
    urgency = fields.Enum(Urgency, by_value=True, required=True)
    title = Text(required=True)
    body = Text(required=True)
    page = Text(allow_none=True, required=True, metadata={"description": "mini-program page to open"})
    created_at = DateTime(required=True)
    read_at = DateTime(allow_none=True, required=True)
    delivery_status = fields.Enum(DeliveryStatus, by_value=True, attribute="status", required=True)
    delivered_via = fields.Enum(Channel, by_value=True, attribute="channel", allow_none=True, required=True)


class InboxArgs(CursorArgs):
    unread_only = fields.Boolean(load_default=False)


class UnreadCountSchema(Schema):
    unread = fields.Integer(required=True)


class MarkedSchema(Schema):
    marked = fields.Integer(required=True)


SUBSCRIBE_ANSWERS = ("accept", "reject", "ban", "filter")


class SubscriptionAnswersArgs(Schema):
    """What `wx.requestSubscribeMessage` resolved with: `{TEMPLATE_ID: "accept"|"reject"|…, errMsg}`."""

    errMsg = Text(load_default=None, validate=validate.Length(max=200))

    class Meta:
        unknown = "include"


class CreditsSchema(Schema):
    credits = fields.Dict(
        keys=Text(),
        values=fields.Integer(),
        required=True,
        metadata={"description": "one-time subscription credits left, per subscribe template id"},
    )


class TemplateCatalogueSchema(Schema):
    kinds = fields.Dict(
        keys=Text(),
        values=fields.Dict(),
        required=True,
        metadata={"description": "per message kind: page, channels, and template ids with their fields"},
    )


class AttemptSchema(Schema):
    channel = fields.Enum(Channel, by_value=True, required=True)
    outcome = fields.Enum(AttemptOutcome, by_value=True, required=True)
    errcode = fields.Integer(allow_none=True, required=True)
    errmsg = Text(allow_none=True, required=True)
    payload = fields.Dict(allow_none=True, required=True, metadata={"description": "what was (or would be) sent"})
    attempted_at = DateTime(required=True)


class OutboxMessageSchema(MessageSchema):
    user_id = fields.UUID(required=True)
    attempt_count = fields.Integer(required=True)
    next_attempt_at = DateTime(allow_none=True, required=True)
    sent_at = DateTime(allow_none=True, required=True)
    attempts = fields.List(fields.Nested(AttemptSchema), required=True)


class OutboxArgs(CursorArgs):
    status = fields.Enum(DeliveryStatus, by_value=True, load_default=None)
    user_id = fields.UUID(load_default=None)
