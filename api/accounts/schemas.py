"""Request and response shapes of the accounts routes."""

from __future__ import annotations

from typing import Any

from marshmallow import Schema, fields, validate

from api.accounts.models import AreaKind, HouseholdRelation, HouseholdRequestStatus
from api.fields import DateTime, Text
from api.masking import mask_phone
from api.pagination import CursorArgs

NonEmpty = validate.Length(min=1)


class WechatLoginArgs(Schema):
    code = Text(
        required=True,
        validate=validate.Length(min=1, max=128),
        metadata={"description": "the code from `wx.login()`"},
    )


class RefreshArgs(Schema):
    refresh_token = Text(required=True, validate=validate.Length(min=1, max=256))


class StaffLoginArgs(Schema):
    username = Text(required=True, validate=validate.Length(min=1, max=64))
    password = Text(required=True, validate=validate.Length(min=1, max=256), load_only=True)


class HouseholdSchema(Schema):
    room_id = fields.UUID(required=True)
    address = fields.Function(lambda m: m.room.address, required=True, metadata={"type": "string"})
    relation = fields.Enum(HouseholdRelation, by_value=True, required=True)
    since = DateTime(attribute="created_at", required=True)


class UserSchema(Schema):
    id = fields.UUID(required=True)
    nickname = Text(required=True)
    avatar_url = Text(allow_none=True, required=True)
    phone = fields.Method(
        "masked_phone", allow_none=True, required=True, metadata={"type": "string", "example": "138****5678"}
    )
    roles = fields.List(Text(), required=True)
    scope = fields.Function(
        lambda u: u.staff_area.code if u.staff_area else None,
        allow_none=True,
        required=True,
        metadata={"type": "string", "description": "area code a staff member acts within"},
    )
    created_at = DateTime(required=True)

    def masked_phone(self, user: Any) -> str | None:
        return mask_phone(user.phone)


class PolicyStateSchema(Schema):
    in_force = Text(required=True, allow_none=True, metadata={"description": "the version in force, if any"})
    accepted = Text(required=True, allow_none=True, metadata={"description": "the version I accepted last"})
    accepted_at = DateTime(required=True, allow_none=True)
    must_accept = fields.Boolean(required=True, metadata={"description": "other routes answer 403 until I do"})


class MeSchema(UserSchema):
    households = fields.List(fields.Nested(HouseholdSchema), required=True)
    privacy_policy = fields.Nested(PolicyStateSchema, required=True)


class TokenSchema(Schema):
    access_token = Text(required=True)
    refresh_token = Text(required=True)
    token_type = fields.Constant("Bearer", required=True, metadata={"type": "string", "enum": ["Bearer"]})
    expires_in = fields.Integer(required=True, metadata={"description": "seconds the access token lives"})
    user = fields.Nested(UserSchema, required=True)


class ProfilePatchArgs(Schema):
    nickname = Text(validate=validate.Length(min=1, max=32))
    avatar_url = fields.URL(schemes={"https", "http"}, validate=validate.Length(max=512), allow_none=True)
    phone_code = Text(
        validate=validate.Length(min=1, max=128),
        metadata={"description": "code from the `getPhoneNumber` button; binds the WeChat phone number"},
    )


class AreaSchema(Schema):
    id = fields.UUID(required=True)
    kind = fields.Enum(AreaKind, by_value=True, required=True)
    code = Text(required=True)
    name = Text(required=True)
    parent_id = fields.UUID(allow_none=True, required=True)


class AreaListArgs(CursorArgs):
    parent_id = fields.UUID(load_default=None, metadata={"description": "children of this area; roots if absent"})
    q = Text(load_default=None, validate=validate.Length(min=1, max=32), metadata={"description": "name contains"})


class RoomSchema(Schema):
    id = fields.UUID(required=True)
    building_id = fields.UUID(required=True)
    number = Text(required=True)
    floor = fields.Integer(required=True)
    address = Text(required=True)


class HouseholdRequestArgs(Schema):
    room_id = fields.UUID(required=True)
    relation = fields.Enum(HouseholdRelation, by_value=True, required=True)
    note = Text(multiline=True, load_default="", validate=validate.Length(max=200))


class HouseholdRequestSchema(Schema):
    id = fields.UUID(required=True)
    room_id = fields.UUID(required=True)
    address = fields.Function(lambda r: r.room.address, required=True, metadata={"type": "string"})
    relation = fields.Enum(HouseholdRelation, by_value=True, required=True)
    status = fields.Enum(HouseholdRequestStatus, by_value=True, required=True)
    note = Text(required=True)
    reject_reason = Text(allow_none=True, required=True)
    created_at = DateTime(required=True)
    decided_at = DateTime(allow_none=True, required=True)


class AdminHouseholdRequestSchema(HouseholdRequestSchema):
    applicant = fields.Nested(UserSchema, attribute="user", required=True)


class AdminHouseholdRequestListArgs(CursorArgs):
    status = fields.Enum(HouseholdRequestStatus, by_value=True, load_default=HouseholdRequestStatus.PENDING)


class RejectArgs(Schema):
    reason = Text(required=True, validate=validate.Length(min=1, max=200))


class RevealPhoneArgs(Schema):
    reason = Text(required=True, validate=validate.Length(min=2, max=200), metadata={"description": "why (logged)"})


class RevealedPhoneSchema(Schema):
    phone = fields.String(required=True, allow_none=True)
