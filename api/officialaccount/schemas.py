"""Schemas of Official Account linking."""

from __future__ import annotations

from marshmallow import Schema, fields, validate

from api.fields import DateTime, Text


class OaLinkSchema(Schema):
    code = Text(required=True, metadata={"description": "send it to the Official Account as a message"})
    scene = Text(required=True, metadata={"description": "scene_str of the OA follow QR code"})
    expires_at = DateTime(required=True)
    linked = fields.Boolean(required=True, metadata={"description": "already linked before this code"})


class OaLinkStatusSchema(Schema):
    linked = fields.Boolean(required=True)


class OaSandboxConfirmArgs(Schema):
    code = Text(required=True, validate=validate.Length(min=4, max=16))
