"""Request and response shapes of rehabilitation aids lending: the catalogue and availability (counts, nobody
named), reservations and loans as residents see them, waits, and the staff side (stations, stock, loans with the
borrower's phone masked)."""

from __future__ import annotations

from typing import Any

from marshmallow import Schema, fields, validate

from api.aids.models import Condition, LoanStatus
from api.fields import DateTime, PersonalText, Text
from api.masking import mask_phone
from api.pagination import CursorArgs

PHOTOS = {"type": "array", "items": {"type": "object"}}
FEN = {"description": "integer fen (1 yuan = 100 fen), CNY"}
CODE = validate.Regexp(r"^[a-z][a-z0-9_]{1,31}$", error="lower-case letters, digits and _, 2–32")


def photos(record_type: str, record: Any) -> list[dict[str, Any]]:
    """The photos attached to a record, with URLs signed for whoever asked (the route checked they may)."""
    from api.media.services import photos_on, present
    from api.media.storage import get_storage

    storage = get_storage()
    return AidPhotoSchema(many=True).dump([present(m, storage) for m in photos_on(record, record_type)])


class AidPhotoSchema(Schema):
    id = fields.UUID(required=True)
    url = Text(required=True, allow_none=True)
    thumbnail_url = Text(required=True, allow_none=True)
    url_expires_at = DateTime(required=True, allow_none=True)


class AidTypeSchema(Schema):
    id = fields.UUID(required=True)
    code = Text(required=True)
    name = Text(required=True)
    description = Text(required=True)
    deposit_fen = fields.Integer(required=True, metadata={"description": "0: no deposit; " + FEN["description"]})
    loan_days = fields.Integer(required=True)
    is_active = fields.Boolean(required=True)


class AidTypesSchema(Schema):
    items = fields.List(fields.Nested(AidTypeSchema), required=True)


class AidTypeArgs(Schema):
    code = Text(required=True, validate=CODE, metadata={"description": "wheelchair, walker, bath_chair …"})
    name = Text(required=True, validate=validate.Length(min=1, max=32))
    description = Text(load_default="", max_length=200)
    deposit_fen = fields.Integer(load_default=0, validate=validate.Range(min=0, max=500000), metadata=FEN)
    loan_days = fields.Integer(required=True, validate=validate.Range(min=1, max=365))


class AidTypePatchArgs(Schema):
    name = Text(validate=validate.Length(min=1, max=32))
    description = Text(max_length=200)
    deposit_fen = fields.Integer(validate=validate.Range(min=0, max=500000), metadata=FEN)
    loan_days = fields.Integer(validate=validate.Range(min=1, max=365))
    is_active = fields.Boolean()


class AidLocationSchema(Schema):
    id = fields.UUID(required=True)
    area_id = fields.UUID(required=True)
    name = Text(required=True)
    address = Text(required=True)
    opening_hours = Text(required=True)


class StaffAidLocationSchema(AidLocationSchema):
    is_active = fields.Boolean(required=True)
    area_path = Text(required=True)


class AidLocationArgs(Schema):
    area_id = fields.UUID(required=True)
    name = Text(required=True, validate=validate.Length(min=1, max=64))
    address = Text(required=True, validate=validate.Length(min=1, max=200))
    opening_hours = Text(load_default="", max_length=200)


class AidLocationPatchArgs(Schema):
    name = Text(validate=validate.Length(min=1, max=64))
    address = Text(validate=validate.Length(min=1, max=200))
    opening_hours = Text(max_length=200)
    is_active = fields.Boolean()


class AidAvailabilityArgs(Schema):
    type_id = fields.UUID(load_default=None)
    area_id = fields.UUID(load_default=None, metadata={"description": "stations in this area or serving it"})


class AidAvailabilityRowSchema(Schema):
    location = fields.Nested(AidLocationSchema, required=True)
    type = fields.Nested(AidTypeSchema, required=True)
    total = fields.Integer(required=True, metadata={"description": "lendable items of the type at the station"})
    available = fields.Integer(required=True, metadata={"description": "free now"})
    waiting = fields.Integer(required=True, metadata={"description": "residents waiting for one"})


class AidAvailabilitySchema(Schema):
    items = fields.List(fields.Nested(AidAvailabilityRowSchema), required=True)


class AidItemSchema(Schema):
    id = fields.UUID(required=True)
    type = fields.Nested(AidTypeSchema, required=True)
    location = fields.Nested(AidLocationSchema, required=True)
    asset_tag = Text(required=True)
    condition = fields.Enum(Condition, by_value=True, required=True)
    condition_note = Text(required=True)
    created_at = DateTime(required=True)


class AidItemArgs(Schema):
    type_id = fields.UUID(required=True)
    location_id = fields.UUID(required=True)
    asset_tag = Text(required=True, validate=validate.Length(min=1, max=32))
    condition = fields.Enum(Condition, by_value=True, load_default=Condition.GOOD)
    condition_note = Text(load_default="", max_length=500)


class AidItemPatchArgs(Schema):
    condition = fields.Enum(Condition, by_value=True)
    condition_note = Text(max_length=500)


class AidItemListArgs(CursorArgs):
    type_id = fields.UUID(load_default=None)
    location_id = fields.UUID(load_default=None)
    condition = fields.Enum(Condition, by_value=True, load_default=None)


class AidReserveArgs(Schema):
    type_id = fields.UUID(load_default=None)
    location_id = fields.UUID(load_default=None)
    item_id = fields.UUID(load_default=None, metadata={"description": "a named item; else any free one"})
    elder_id = fields.UUID(
        load_default=None, metadata={"description": "for an elder I am a confirmed family member of; default: me"}
    )


class AidLoanSchema(Schema):
    """A loan as the borrower (and the elder's confirmed family) see it."""

    id = fields.UUID(required=True)
    type = fields.Nested(AidTypeSchema, attribute="item.type", required=True)
    location = fields.Nested(AidLocationSchema, attribute="item.location", required=True)
    asset_tag = Text(attribute="item.asset_tag", required=True)
    elder_id = fields.UUID(required=True, allow_none=True)
    status = fields.Enum(LoanStatus, by_value=True, required=True)
    reserved_at = DateTime(required=True)
    hold_until = DateTime(required=True, allow_none=True, metadata={"description": "pick it up before this"})
    deposit_fen = fields.Integer(required=True, metadata=FEN)
    order_id = fields.UUID(
        required=True, allow_none=True, metadata={"description": "the deposit: pay it with /payments/{id}/prepay"}
    )
    deposit_paid = fields.Function(lambda loan: loan.deposit_paid_at is not None, required=True)
    lent_at = DateTime(required=True, allow_none=True)
    due_at = DateTime(required=True, allow_none=True)
    renewals = fields.Integer(required=True)
    lend_note = PersonalText(required=True)
    returned_at = DateTime(required=True, allow_none=True)
    return_note = PersonalText(required=True)
    damaged = fields.Boolean(required=True)
    deduction_fen = fields.Integer(required=True, metadata=FEN)
    deduction_reason = PersonalText(required=True)
    refund_fen = fields.Integer(required=True, metadata=FEN)
    cancel_reason = PersonalText(required=True, allow_none=True)
    lend_photos = fields.Function(
        lambda loan: photos("aid_loan_out", loan),
        required=True,
        metadata=PHOTOS,
    )
    return_photos = fields.Function(
        lambda loan: photos("aid_loan_return", loan),
        required=True,
        metadata=PHOTOS,
    )


def _user_phone(loan: Any) -> str | None:
    return mask_phone(loan.user.phone) if loan.user is not None else None


def _user_name(loan: Any) -> str | None:
    return loan.user.nickname if loan.user is not None else None


def _elder_name(loan: Any) -> str | None:
    return loan.elder.name if loan.elder is not None else None


class StaffAidLoanSchema(AidLoanSchema):
    """A loan as the station's staff see it: who borrowed (the phone masked), for which elder, who handled it."""

    item_id = fields.UUID(required=True)
    area_path = Text(required=True)
    user_id = fields.UUID(required=True, allow_none=True)
    borrower_name = fields.Function(_user_name, required=True, allow_none=True, metadata={"type": "string"})
    borrower_phone = fields.Function(
        _user_phone, required=True, allow_none=True, metadata={"type": "string", "description": "139****5678"}
    )
    elder_name = fields.Function(_elder_name, required=True, allow_none=True, metadata={"type": "string"})
    lent_by_id = fields.UUID(required=True, allow_none=True)
    returned_by_id = fields.UUID(required=True, allow_none=True)
    escalated_at = DateTime(required=True, allow_none=True)
    cancelled_by = Text(required=True, allow_none=True)


class AidLoanListArgs(CursorArgs):
    status = fields.Enum(LoanStatus, by_value=True, load_default=None)
    location_id = fields.UUID(load_default=None)
    type_id = fields.UUID(load_default=None)
    elder_id = fields.UUID(load_default=None)
    overdue = fields.Boolean(load_default=False, metadata={"description": "lent and past the due date"})
    due_before = DateTime(load_default=None, metadata={"description": "lent and due before this (this week's returns)"})


MEDIA_IDS = fields.List(
    fields.UUID(), load_default=list, validate=validate.Length(max=6), metadata={"description": "photos from /media"}
)


class AidLendArgs(Schema):
    condition_note = Text(load_default="", multiline=True, max_length=1000)
    condition = fields.Enum(Condition, by_value=True, load_default=None, validate=validate.OneOf(["good", "fair"]))
    media_ids = MEDIA_IDS


class AidReturnArgs(Schema):
    condition_note = Text(load_default="", multiline=True, max_length=1000)
    damaged = fields.Boolean(load_default=False)
    condition = fields.Enum(Condition, by_value=True, load_default=None)
    deduction_fen = fields.Integer(load_default=0, validate=validate.Range(min=0, max=500000), metadata=FEN)
    deduction_reason = Text(load_default="", max_length=200)
    media_ids = MEDIA_IDS


class AidCancelArgs(Schema):
    reason = Text(required=True, validate=validate.Length(min=1, max=200))


class AidWaitArgs(Schema):
    type_id = fields.UUID(required=True)
    location_id = fields.UUID(required=True)


class AidWaitSchema(Schema):
    id = fields.UUID(required=True)
    type_id = fields.UUID(required=True)
    location_id = fields.UUID(required=True)
    created_at = DateTime(required=True)
    notified_at = DateTime(required=True, allow_none=True)
    ended_at = DateTime(required=True, allow_none=True)


class AidStockRowSchema(Schema):
    location = fields.Nested(StaffAidLocationSchema, required=True)
    type = fields.Nested(AidTypeSchema, required=True)
    items = fields.Integer(required=True, metadata={"description": "in stock, not retired"})
    lendable = fields.Integer(required=True, metadata={"description": "good or fair"})
    free = fields.Integer(required=True, metadata={"description": "lendable and in no live loan"})
    reserved = fields.Integer(required=True)
    lent = fields.Integer(required=True)
    overdue = fields.Integer(required=True)
    needs_repair = fields.Integer(required=True)


class AidStockSchema(Schema):
    items = fields.List(fields.Nested(AidStockRowSchema), required=True)
