"""Request and response shapes of elderly services: the catalogue, quotes and orders for residents and families,
the worker's pool and visits (the address only once accepted and near the window), and staff's catalogue,
dispatch, disputes, return visits and monthly settlement."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from marshmallow import Schema, fields, validate

from api.care.models import (
    Category,
    Channel,
    DeliveredBy,
    DisputeOutcome,
    FundingTier,
    Meal,
    OrderStatus,
    Proof,
    Source,
    Unit,
    VisitReason,
    VisitStatus,
)
from api.db import utcnow
from api.fields import DateTime, Text
from api.masking import mask_phone
from api.pagination import CursorArgs

FEN = {"description": "integer fen (1 yuan = 100 fen), CNY"}
HHMM = validate.Regexp(r"^([01]\d|2[0-3]):[0-5]\d$", error="HH:MM, 00:00–23:59")
SCORE = validate.Range(min=1, max=5)
LAT = validate.Range(min=-90, max=90)
LNG = validate.Range(min=-180, max=180)
PATHS = fields.List(Text(validate=validate.Length(max=255)), validate=validate.Length(max=50))


# Catalogue -------------------------------------------------------------------------------------


class CareServiceSchema(Schema):
    id = fields.UUID(required=True)
    code = Text(required=True)
    name = Text(required=True)
    description = Text(required=True)
    category = fields.Enum(Category, by_value=True, required=True)
    unit = fields.Enum(Unit, by_value=True, required=True)
    list_price_fen = fields.Integer(required=True, metadata=FEN)
    duration_minutes = fields.Integer(required=True)
    delivered_by = fields.Enum(DeliveredBy, by_value=True, required=True)
    provider_id = fields.UUID(required=True, allow_none=True)
    covers_area_paths = fields.List(fields.String(), required=True)
    lead_time_minutes = fields.Integer(required=True)
    cutoff_days_before = fields.Integer(required=True, allow_none=True)
    cutoff_local_time = Text(required=True, allow_none=True)
    funding_tier = fields.Enum(FundingTier, by_value=True, required=True)
    self_pay_allowed = fields.Boolean(required=True)
    coin_redeemable = fields.Boolean(required=True)
    needs_photos = fields.Boolean(required=True)
    hourly_cap_minutes = fields.Integer(required=True, allow_none=True)
    is_active = fields.Boolean(required=True)


class CareServiceListSchema(Schema):
    items = fields.List(fields.Nested(CareServiceSchema), required=True)


class CareServiceArgs(Schema):
    category = fields.Enum(Category, by_value=True, load_default=None)


class CareServiceCreateArgs(Schema):
    code = Text(required=True, validate=[validate.Length(min=1, max=32), validate.Regexp(r"^[a-z0-9_-]+$")])
    name = Text(required=True, validate=validate.Length(min=1, max=64))
    description = Text(load_default="", multiline=True, validate=validate.Length(max=2000))
    category = fields.Enum(Category, by_value=True, required=True)
    unit = fields.Enum(Unit, by_value=True, required=True)
    list_price_fen = fields.Integer(
        required=True, strict=True, validate=validate.Range(min=0, max=10_000_000), metadata=FEN
    )
    duration_minutes = fields.Integer(required=True, strict=True, validate=validate.Range(min=1, max=720))
    delivered_by = fields.Enum(DeliveredBy, by_value=True, required=True)
    provider_id = fields.UUID(load_default=None, allow_none=True)
    area_id = fields.UUID(load_default=None, allow_none=True)
    covers_area_paths = PATHS
    lead_time_minutes = fields.Integer(load_default=0, strict=True, validate=validate.Range(min=0, max=30 * 24 * 60))
    cutoff_days_before = fields.Integer(load_default=None, allow_none=True, validate=validate.Range(min=0, max=30))
    cutoff_local_time = Text(load_default=None, allow_none=True, validate=HHMM)
    funding_tier = fields.Enum(FundingTier, by_value=True, required=True)
    self_pay_allowed = fields.Boolean(load_default=True)
    coin_redeemable = fields.Boolean(load_default=False)
    needs_photos = fields.Boolean(load_default=False)
    hourly_cap_minutes = fields.Integer(load_default=None, allow_none=True, validate=validate.Range(min=1, max=720))


class CareServiceUpdateArgs(Schema):
    name = Text(validate=validate.Length(min=1, max=64))
    description = Text(multiline=True, validate=validate.Length(max=2000))
    list_price_fen = fields.Integer(strict=True, validate=validate.Range(min=0, max=10_000_000), metadata=FEN)
    duration_minutes = fields.Integer(strict=True, validate=validate.Range(min=1, max=720))
    provider_id = fields.UUID(allow_none=True)
    covers_area_paths = PATHS
    lead_time_minutes = fields.Integer(strict=True, validate=validate.Range(min=0, max=30 * 24 * 60))
    cutoff_days_before = fields.Integer(allow_none=True, validate=validate.Range(min=0, max=30))
    cutoff_local_time = Text(allow_none=True, validate=HHMM)
    self_pay_allowed = fields.Boolean()
    coin_redeemable = fields.Boolean()
    needs_photos = fields.Boolean()
    hourly_cap_minutes = fields.Integer(allow_none=True, validate=validate.Range(min=1, max=720))
    is_active = fields.Boolean()


class CareProviderSchema(Schema):
    id = fields.UUID(required=True)
    name = Text(required=True)
    kind = fields.Enum(DeliveredBy, by_value=True, required=True)
    area_path = fields.String(required=True)
    service_area_paths = fields.List(fields.String(), required=True)
    daily_capacity = fields.Integer(required=True)
    contact_name = Text(required=True)
    contact_phone = fields.Function(lambda p: mask_phone(p.contact_phone), required=True)
    is_active = fields.Boolean(required=True)


class CareProviderCreateArgs(Schema):
    name = Text(required=True, validate=validate.Length(min=1, max=64))
    kind = fields.Enum(DeliveredBy, by_value=True, required=True)
    area_id = fields.UUID(load_default=None, allow_none=True)
    service_area_paths = PATHS
    daily_capacity = fields.Integer(load_default=50, strict=True, validate=validate.Range(min=0, max=100_000))
    contact_name = Text(load_default="", validate=validate.Length(max=32))
    contact_phone = Text(load_default="", validate=validate.Length(max=32))


class CareProviderUpdateArgs(Schema):
    service_area_paths = PATHS
    daily_capacity = fields.Integer(strict=True, validate=validate.Range(min=0, max=100_000))
    contact_name = Text(validate=validate.Length(max=32))
    contact_phone = Text(validate=validate.Length(max=32))
    is_active = fields.Boolean()


class CareWorkerSchema(Schema):
    id = fields.UUID(required=True)
    provider_id = fields.UUID(required=True)
    user_id = fields.UUID(required=True)
    name = Text(required=True)
    skills = fields.List(fields.String(), required=True)
    is_active = fields.Boolean(required=True)


class CareWorkerListSchema(Schema):
    items = fields.List(fields.Nested(CareWorkerSchema), required=True)


class CareWorkerArgs(Schema):
    user_id = fields.UUID(required=True)
    name = Text(required=True, validate=validate.Length(min=1, max=32))
    skills = fields.List(fields.Enum(Category, by_value=True), load_default=list, validate=validate.Length(max=9))


class CareRuleSchema(Schema):
    id = fields.UUID(required=True)
    name = Text(required=True)
    funding_line = Text(required=True)
    tier = fields.Enum(FundingTier, by_value=True, required=True)
    category = fields.Enum(Category, by_value=True, required=True, allow_none=True)
    min_age = fields.Integer(required=True, allow_none=True)
    max_age = fields.Integer(required=True, allow_none=True)
    requires_dibao = fields.Boolean(required=True)
    requires_living_alone = fields.Boolean(required=True)
    requires_disabled = fields.Boolean(required=True)
    min_ltc_level = fields.Integer(required=True, allow_none=True)
    uses_ltc_quota = fields.Boolean(required=True)
    percent = fields.Integer(required=True)
    amount_fen = fields.Integer(required=True, metadata=FEN)
    cap_fen = fields.Integer(required=True, metadata=FEN)
    priority = fields.Integer(required=True)
    area_path = fields.String(required=True)
    is_active = fields.Boolean(required=True)


class CareRuleArgs(Schema):
    name = Text(required=True, validate=validate.Length(min=1, max=64))
    funding_line = Text(required=True, validate=validate.Length(min=1, max=32))
    tier = fields.Enum(FundingTier, by_value=True, required=True)
    category = fields.Enum(Category, by_value=True, load_default=None, allow_none=True)
    min_age = fields.Integer(load_default=None, allow_none=True, validate=validate.Range(min=0, max=130))
    max_age = fields.Integer(load_default=None, allow_none=True, validate=validate.Range(min=0, max=130))
    requires_dibao = fields.Boolean(load_default=False)
    requires_living_alone = fields.Boolean(load_default=False)
    requires_disabled = fields.Boolean(load_default=False)
    min_ltc_level = fields.Integer(load_default=None, allow_none=True, validate=validate.Range(min=1, max=6))
    uses_ltc_quota = fields.Boolean(load_default=False)
    percent = fields.Integer(load_default=0, strict=True, validate=validate.Range(min=0, max=100))
    amount_fen = fields.Integer(
        load_default=0, strict=True, validate=validate.Range(min=0, max=10_000_000), metadata=FEN
    )
    cap_fen = fields.Integer(load_default=0, strict=True, validate=validate.Range(min=0, max=10_000_000), metadata=FEN)
    priority = fields.Integer(load_default=100, strict=True, validate=validate.Range(min=0, max=10_000))
    area_id = fields.UUID(load_default=None, allow_none=True)


class CareProfileSchema(Schema):
    elder_id = fields.UUID(required=True)
    dibao = fields.Boolean(required=True)
    living_alone = fields.Boolean(required=True)
    disabled = fields.Boolean(required=True)
    ltc_level = fields.Integer(required=True, allow_none=True)
    ltc_weekly_visits = fields.Integer(required=True)
    proof_by_staff = fields.Boolean(required=True)
    door_notes = Text(required=True)
    service_code = Text(required=True, metadata={"description": "printed on the elder's card; read out at the door"})


class CareProfileArgs(Schema):
    dibao = fields.Boolean()
    living_alone = fields.Boolean()
    disabled = fields.Boolean()
    ltc_level = fields.Integer(allow_none=True, validate=validate.Range(min=1, max=6))
    ltc_weekly_visits = fields.Integer(strict=True, validate=validate.Range(min=0, max=21))
    proof_by_staff = fields.Boolean()
    door_notes = Text(validate=validate.Length(max=200))
    renew_code = fields.Boolean(load_default=False)


class CareServiceCodeSchema(Schema):
    elder_id = fields.UUID(required=True)
    service_code = Text(required=True)


# Orders ----------------------------------------------------------------------------------------


class CareOrderArgs(Schema):
    elder_id = fields.UUID(required=True)
    service_id = fields.UUID(required=True)
    window_start = DateTime(required=True)
    window_end = DateTime(load_default=None, allow_none=True)
    planned_minutes = fields.Integer(
        load_default=None, allow_none=True, strict=True, validate=validate.Range(min=1, max=720)
    )
    note = Text(load_default="", validate=validate.Length(max=200))
    pay_with_coins = fields.Boolean(
        load_default=False, metadata={"description": "pay the own share in time coins (coin-redeemable services)"}
    )


class CareQuoteArgs(CareOrderArgs):
    pass


class CareSubsidyLineSchema(Schema):
    rule_id = fields.String(required=True)
    funding_line = Text(required=True)
    name = Text(required=True)
    amount_fen = fields.Integer(required=True, metadata=FEN)
    uses_ltc_quota = fields.Boolean(required=True)


class CareQuotaSchema(Schema):
    week = fields.String(required=True)
    used = fields.Integer(required=True)
    quota = fields.Integer(required=True)


class CareQuoteSchema(Schema):
    service_id = fields.UUID(required=True)
    elder_id = fields.UUID(required=True)
    window_start = DateTime(required=True)
    window_end = DateTime(required=True)
    planned_minutes = fields.Integer(required=True)
    cutoff = DateTime(required=True, allow_none=True)
    list_price_fen = fields.Integer(required=True, metadata=FEN)
    subsidy_lines = fields.List(fields.Nested(CareSubsidyLineSchema), required=True)
    subsidy_fen = fields.Integer(required=True, metadata=FEN)
    self_pay_fen = fields.Integer(required=True, metadata=FEN)
    uses_ltc_quota = fields.Boolean(required=True)
    quota = fields.Nested(CareQuotaSchema, required=True, allow_none=True)


class CareEventSchema(Schema):
    at = DateTime(required=True)
    action = fields.String(required=True)
    from_status = fields.String(required=True, allow_none=True)
    to_status = fields.String(required=True, allow_none=True)
    note = Text(required=True)


class CareOrderSchema(Schema):
    id = fields.UUID(required=True)
    service_id = fields.UUID(required=True)
    service_name = fields.Function(lambda o: o.service.name, required=True)
    category = fields.Function(lambda o: o.service.category.value, required=True)
    elder_id = fields.UUID(required=True)
    elder_name = fields.Function(lambda o: o.elder.name, required=True)
    ordered_by_id = fields.UUID(required=True, allow_none=True)
    channel = fields.Enum(Channel, by_value=True, required=True)
    source = fields.Enum(Source, by_value=True, required=True)
    status = fields.Enum(OrderStatus, by_value=True, required=True)
    note = Text(required=True)
    window_start = DateTime(required=True)
    window_end = DateTime(required=True)
    planned_minutes = fields.Integer(required=True)
    actual_minutes = fields.Integer(required=True, allow_none=True)
    provider_id = fields.UUID(required=True, allow_none=True)
    worker_name = fields.Function(lambda o: o.worker.name if o.worker else None, required=True, allow_none=True)
    accepted_at = DateTime(required=True, allow_none=True)
    checkin_at = DateTime(required=True, allow_none=True)
    checkout_at = DateTime(required=True, allow_none=True)
    completed_at = DateTime(required=True, allow_none=True)
    auto_confirmed = fields.Boolean(required=True)
    list_price_fen = fields.Integer(required=True, metadata=FEN)
    subsidy_lines = fields.List(fields.Nested(CareSubsidyLineSchema), required=True)
    subsidy_fen = fields.Integer(required=True, metadata=FEN)
    self_pay_fen = fields.Integer(required=True, metadata=FEN)
    refunded_fen = fields.Integer(required=True, metadata=FEN)
    coins_centi = fields.Integer(required=True, metadata={"description": "own share paid in time coins, 1/100 coin"})
    coins_refunded = fields.Boolean(required=True)
    payment_order_id = fields.UUID(required=True, allow_none=True)
    cancel_reason = Text(required=True, allow_none=True)
    late_cancel = fields.Boolean(required=True)
    meal = fields.Enum(Meal, by_value=True, required=True, allow_none=True)
    service_date = fields.Date(required=True, allow_none=True)
    meal_plan_id = fields.String(required=True, allow_none=True)
    route_id = fields.String(required=True, allow_none=True)
    welfare_staff_due_at = DateTime(
        required=True,
        allow_none=True,
        metadata={"description": "nobody at the door: when staff are told unless the family reports the elder safe"},
    )
    welfare_staff_told_at = DateTime(required=True, allow_none=True)
    welfare_safe_at = DateTime(required=True, allow_none=True)
    welfare_safe_note = Text(required=True, allow_none=True)
    created_at = DateTime(required=True)


class CareOrderDetailSchema(CareOrderSchema):
    timeline = fields.List(fields.Nested(CareEventSchema), required=True, attribute="events")


class CareStaffOrderSchema(CareOrderDetailSchema):
    decline_count = fields.Integer(required=True)
    escalated_at = DateTime(required=True, allow_none=True)
    proof = fields.Enum(Proof, by_value=True, required=True, allow_none=True)
    address = fields.Function(lambda o: o.elder.room.address, required=True)


def _address_visible(order: Any) -> bool:
    """A worker sees the door only once accepted, and from the lead time before the window until it ends."""
    from api.care.services import settings
    from api.care.states import HELD_BY_WORKER

    now = utcnow()
    lead = timedelta(minutes=settings().care_address_lead_minutes)
    return order.status in HELD_BY_WORKER and order.window_start - lead <= now <= order.window_end + lead


class CareWorkerOrderSchema(Schema):
    id = fields.UUID(required=True)
    service_name = fields.Function(lambda o: o.service.name, required=True)
    category = fields.Function(lambda o: o.service.category.value, required=True)
    status = fields.Enum(OrderStatus, by_value=True, required=True)
    window_start = DateTime(required=True)
    window_end = DateTime(required=True)
    planned_minutes = fields.Integer(required=True)
    offer_expires_at = DateTime(required=True, allow_none=True)
    elder_name = fields.Function(lambda o: o.elder.name[:1] + "*" * max(len(o.elder.name) - 1, 1), required=True)
    neighbourhood = fields.Function(lambda o: o.elder.room.building.full_name, required=True)
    address = fields.Function(
        lambda o: o.elder.room.address if _address_visible(o) else None,
        required=True,
        allow_none=True,
        metadata={"description": "only once accepted, from CARE_ADDRESS_LEAD_MINUTES before the window to its end"},
    )
    door_notes = fields.Method("_door_notes", required=True, allow_none=True)
    elder_phone = fields.Function(lambda o: mask_phone(o.elder.phone), required=True, allow_none=True)
    needs_photos = fields.Function(lambda o: o.service.needs_photos, required=True)
    note = Text(required=True)

    def _door_notes(self, order: Any) -> str | None:
        if not _address_visible(order):
            return None
        from api.care.pricing import profile_of

        profile = profile_of(order.elder, create=False)
        return profile.door_notes if profile else ""


class CareCancelArgs(Schema):
    reason = Text(load_default=None, allow_none=True, validate=validate.Length(max=200))


class CareReasonArgs(Schema):
    reason = Text(required=True, validate=validate.Length(min=1, max=200))


class CareNoteArgs(Schema):
    note = Text(load_default="", validate=validate.Length(max=200))


class CareMyOrdersArgs(CursorArgs):
    elder_id = fields.UUID(load_default=None)
    status = fields.Enum(OrderStatus, by_value=True, load_default=None)


class CareStaffOrdersArgs(CareMyOrdersArgs):
    escalated = fields.Boolean(load_default=None)


class CareCheckInArgs(Schema):
    lat = fields.Float(required=True, validate=LAT, allow_nan=False)
    lng = fields.Float(required=True, validate=LNG, allow_nan=False)
    code = Text(load_default=None, allow_none=True, validate=validate.Length(max=16))


class CareCheckOutArgs(Schema):
    lat = fields.Float(required=True, validate=LAT, allow_nan=False)
    lng = fields.Float(required=True, validate=LNG, allow_nan=False)
    photo_ids = fields.List(fields.UUID(), load_default=list, validate=validate.Length(max=9))


class CareAssignArgs(Schema):
    worker_id = fields.UUID(
        load_default=None, allow_none=True, metadata={"description": "none: round-robin, the least busy that day"}
    )


class CareRatingArgs(Schema):
    overall = fields.Integer(required=True, strict=True, validate=SCORE)
    punctuality = fields.Integer(required=True, strict=True, validate=SCORE)
    attitude = fields.Integer(required=True, strict=True, validate=SCORE)
    comment = Text(load_default="", multiline=True, validate=validate.Length(max=500))


class CareRatingSchema(Schema):
    order_id = fields.UUID(required=True)
    overall = fields.Integer(required=True)
    punctuality = fields.Integer(required=True)
    attitude = fields.Integer(required=True)
    comment = Text(required=True)
    created_at = DateTime(required=True)


class CareDisputeArgs(Schema):
    reason = Text(required=True, multiline=True, validate=validate.Length(min=1, max=500))


class CareDisputeSchema(Schema):
    id = fields.UUID(required=True)
    order_id = fields.UUID(required=True)
    reason = Text(required=True)
    status = fields.String(required=True)
    outcome = fields.Enum(DisputeOutcome, by_value=True, required=True, allow_none=True)
    opened_at = DateTime(required=True)


class CareResolveArgs(Schema):
    outcome = fields.Enum(DisputeOutcome, by_value=True, required=True)
    note = Text(required=True, validate=validate.Length(min=1, max=200))
    adjusted_self_pay_fen = fields.Integer(load_default=None, allow_none=True, strict=True, metadata=FEN)
    redo_start = DateTime(load_default=None, allow_none=True)


class CareVisitSchema(Schema):
    id = fields.UUID(required=True)
    order_id = fields.UUID(required=True)
    reason = fields.Enum(VisitReason, by_value=True, required=True)
    status = fields.Enum(VisitStatus, by_value=True, required=True)
    outcome = Text(required=True)
    done_at = DateTime(required=True, allow_none=True)
    created_at = DateTime(required=True)


class CareVisitArgs(CursorArgs):
    status = fields.Enum(VisitStatus, by_value=True, load_default=None)


class CareVisitDoneArgs(Schema):
    outcome = Text(required=True, multiline=True, validate=validate.Length(min=1, max=500))


class CareSampleArgs(Schema):
    month = fields.String(required=True, validate=validate.Length(max=16))
    percent = fields.Integer(load_default=None, allow_none=True, validate=validate.Range(min=1, max=100))


class CareVisitListSchema(Schema):
    items = fields.List(fields.Nested(CareVisitSchema), required=True)


class CareMonthArgs(Schema):
    month = fields.String(required=True, validate=validate.Length(max=16), metadata={"description": "YYYY-MM"})
    provider_id = fields.UUID(load_default=None)


class CareFundingLineSchema(Schema):
    funding_line = Text(required=True)
    amount_fen = fields.Integer(required=True, metadata=FEN)


class CareProviderMonthSchema(Schema):
    provider_id = fields.UUID(required=True, allow_none=True)
    provider_name = Text(required=True)
    orders = fields.Integer(required=True)
    minutes = fields.Integer(required=True)
    list_price_fen = fields.Integer(required=True, metadata=FEN)
    subsidy_fen = fields.Integer(required=True, metadata=FEN)
    self_pay_fen = fields.Integer(required=True, metadata=FEN)
    refunded_fen = fields.Integer(required=True, metadata=FEN)
    funding_lines = fields.List(fields.Nested(CareFundingLineSchema), required=True)


class CareSettlementSchema(Schema):
    month = fields.String(required=True)
    providers = fields.List(fields.Nested(CareProviderMonthSchema), required=True)
