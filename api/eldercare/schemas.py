"""Request and response shapes of eldercare: elders, consents, invites, family bindings, OA linking."""

from __future__ import annotations

from typing import Any

from marshmallow import Schema, ValidationError, fields, validate, validates

from api.eldercare.models import BindingStatus, DeviceType, ElderStatus
from api.fields import DateTime, PersonalText, Text
from api.masking import mask_phone
from api.pagination import CursorArgs

PHONE = validate.Regexp(r"^\+?[0-9-]{5,20}$", error="not a phone number")
RELATIONS = ("子女", "配偶", "孙辈", "兄弟姐妹", "其他亲属", "邻居", "朋友", "监护人")


class _ProfileFields(Schema):
    name = Text(required=True, validate=validate.Length(min=1, max=32))
    room_id = fields.UUID(required=True, metadata={"description": "the elder's home"})
    birth_year = fields.Integer(load_default=None, validate=validate.Range(min=1900, max=2010), allow_none=True)
    conditions = Text(
        multiline=True,
        load_default="",
        validate=validate.Length(max=500),
        metadata={"description": "care-relevant conditions"},
    )
    phone = Text(load_default=None, allow_none=True, validate=PHONE)


class ElderRegisterArgs(_ProfileFields):
    is_self = fields.Boolean(load_default=False, metadata={"description": "I register myself (the account is mine)"})


class ElderCreateArgs(_ProfileFields):
    user_id = fields.UUID(load_default=None, allow_none=True, metadata={"description": "the elder's own account"})
    door_inactivity_hours = fields.Integer(load_default=None, validate=validate.Range(min=2, max=168))
    bp_systolic_max = fields.Integer(load_default=None, validate=validate.Range(min=90, max=250))
    bp_diastolic_max = fields.Integer(load_default=None, validate=validate.Range(min=50, max=150))


class ElderPatchArgs(Schema):
    name = Text(validate=validate.Length(min=1, max=32))
    room_id = fields.UUID()
    user_id = fields.UUID(allow_none=True)
    birth_year = fields.Integer(validate=validate.Range(min=1900, max=2010), allow_none=True)
    conditions = Text(multiline=True, validate=validate.Length(max=500))
    phone = Text(allow_none=True, validate=PHONE)
    status = fields.Enum(ElderStatus, by_value=True)
    door_inactivity_hours = fields.Integer(validate=validate.Range(min=2, max=168))
    bp_systolic_max = fields.Integer(validate=validate.Range(min=90, max=250))
    bp_diastolic_max = fields.Integer(validate=validate.Range(min=50, max=150))


class ElderRejectArgs(Schema):
    reason = Text(required=True, validate=validate.Length(min=1, max=200))


class ElderListArgs(CursorArgs):
    status = fields.Enum(ElderStatus, by_value=True, load_default=None)
    area_id = fields.UUID(load_default=None, metadata={"description": "a committee, estate or building"})
    q = Text(load_default=None, validate=validate.Length(max=32), metadata={"description": "name contains"})


class ElderSchema(Schema):
    id = fields.UUID(required=True)
    name = Text(required=True)
    room_id = fields.UUID(required=True)
    address = fields.Function(lambda e: e.room.address, required=True, metadata={"type": "string"})
    birth_year = fields.Integer(required=True, allow_none=True)
    # Family members read what the registrant or staff wrote about the elder.
    conditions = PersonalText(required=True, author="registered_by_id")
    phone = fields.Function(
        lambda e: mask_phone(e.phone), required=True, allow_none=True, metadata={"type": "string", "nullable": True}
    )
    status = fields.Enum(ElderStatus, by_value=True, required=True)
    has_account = fields.Function(lambda e: e.user_id is not None, required=True, metadata={"type": "boolean"})
    door_inactivity_hours = fields.Integer(required=True)
    bp_systolic_max = fields.Integer(required=True)
    bp_diastolic_max = fields.Integer(required=True)
    created_at = DateTime(required=True)
    approved_at = DateTime(required=True, allow_none=True)
    reject_reason = Text(required=True, allow_none=True)


class ConsentArgs(Schema):
    given_by = Text(
        required=True,
        validate=validate.Length(min=1, max=64),
        metadata={"description": "who consented: 本人, or the guardian's name and relation"},
    )
    device_types = fields.List(
        Text(validate=validate.OneOf(["*", *[t.value for t in DeviceType]])),
        required=True,
        validate=validate.Length(min=1, max=len(DeviceType) + 1),
        metadata={"description": 'device types covered, or ["*"] for all'},
    )


class ConsentSchema(Schema):
    id = fields.UUID(required=True)
    elder_id = fields.UUID(required=True)
    given_by = Text(required=True)
    device_types = fields.List(Text(), required=True)
    recorded_at = DateTime(required=True)
    withdrawn_at = DateTime(required=True, allow_none=True)


class ConsentListSchema(Schema):
    items = fields.List(fields.Nested(ConsentSchema), required=True)


class ConsentWithdrawalSchema(Schema):
    consent = fields.Nested(ConsentSchema, required=True)
    devices_unbound = fields.Integer(required=True, metadata={"description": "devices no longer watching the elder"})


class InviteSchema(Schema):
    code = Text(required=True)
    qr_payload = Text(required=True, metadata={"description": "what the mini-program shows as a QR"})
    elder_id = fields.UUID(required=True)
    expires_at = DateTime(required=True)


class BindingRequestArgs(Schema):
    code = Text(required=True, validate=validate.Length(min=4, max=16))
    relation = Text(
        required=True, validate=validate.Length(min=1, max=16), metadata={"description": "e.g. " + "、".join(RELATIONS)}
    )


class BindingElderSchema(Schema):
    id = fields.UUID(required=True)
    name = Text(required=True)
    address = fields.Function(lambda e: e.room.address, required=True, metadata={"type": "string"})


class BindingSchema(Schema):
    id = fields.UUID(required=True)
    elder = fields.Nested(BindingElderSchema, required=True)
    user_id = fields.UUID(required=True)
    # The elder (and staff) read what the family member chose as a name and typed as the relation.
    nickname = PersonalText(attribute="user.nickname", required=True, dump_only=True, author="user_id")
    phone = fields.Function(
        lambda b: mask_phone(b.user.phone),
        required=True,
        allow_none=True,
        metadata={"type": "string", "nullable": True},
    )
    relation = PersonalText(required=True, author="user_id")
    position = fields.Integer(required=True, metadata={"description": "contact order, 1 first; 0 until confirmed"})
    status = fields.Enum(BindingStatus, by_value=True, required=True)
    requested_at = DateTime(required=True)
    confirmed_at = DateTime(required=True, allow_none=True)


class BindingListSchema(Schema):
    items = fields.List(fields.Nested(BindingSchema), required=True)


class ContactOrderArgs(Schema):
    binding_ids = fields.List(fields.UUID(), required=True, metadata={"description": "confirmed bindings, first first"})

    @validates("binding_ids")
    def _not_empty(self, value: list[Any], **_: Any) -> None:
        if not value:
            raise ValidationError("Shorter than minimum length 1.")
