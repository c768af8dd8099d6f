"""Request and response shapes of shared parking: residents (availability, quotes, bookings, vehicles, passes,
stays), lenders (offers, bookings with plates masked, earnings), gate systems and sensors, and staff."""

from __future__ import annotations

from marshmallow import EXCLUDE, Schema, fields, validate

from api.fields import Date, DateTime, Text
from api.pagination import CursorArgs
from api.parking import plates
from api.parking.models import (
    AnomalyKind,
    AnomalyStatus,
    BookingStatus,
    LotKind,
    Occupancy,
    OfferStatus,
    PassStatus,
    SessionStatus,
    SpaceKind,
    Verification,
)

FEN = {"description": "integer fen (1 yuan = 100 fen), CNY"}
HHMM = validate.Regexp(r"^([01]\d|2[0-3]):[0-5]\d$", error="HH:MM, 00:00–23:59")


class LotSchema(Schema):
    id = fields.UUID(required=True)
    area_id = fields.UUID(required=True)
    name = Text(required=True)
    kind = fields.Enum(LotKind, by_value=True, required=True)
    address = Text(required=True)
    lat = fields.Float(required=True)
    lng = fields.Float(required=True)
    opening_hours = Text(required=True)
    hourly_rate_fen = fields.Integer(required=True, metadata=FEN)
    daily_cap_fen = fields.Integer(required=True, metadata=FEN)
    overstay_rate_fen = fields.Integer(required=True, metadata=FEN)
    pass_monthly_fen = fields.Integer(required=True, metadata=FEN)


class StaffLotSchema(LotSchema):
    gate_platform = Text(required=True, allow_none=True)
    gate_vendor = Text(required=True)
    is_active = fields.Boolean(required=True)
    allowlist_reconciled_at = DateTime(required=True, allow_none=True)


class QuoteSchema(Schema):
    id = fields.UUID(required=True)
    lot_id = fields.UUID(required=True)
    space_id = fields.UUID(required=True, allow_none=True)
    starts_at = DateTime(required=True)
    ends_at = DateTime(required=True)
    price_fen = fields.Integer(required=True, metadata=FEN)
    expires_at = DateTime(required=True)
    window = Text(required=True, metadata={"description": "the sharing window the period lies in"})
    cancellation_rule = Text(required=True)
    overstay_rule = Text(required=True)


class AvailableLotSchema(Schema):
    lot = fields.Nested(LotSchema, required=True)
    distance_m = fields.Integer(required=True)
    free_places = fields.Integer(required=True)
    quote = fields.Nested(QuoteSchema, required=True)


class LotAvailabilitySchema(Schema):
    items = fields.List(fields.Nested(AvailableLotSchema), required=True)


class LotAvailabilityArgs(Schema):
    lat = fields.Float(required=True, validate=validate.Range(min=-90, max=90))
    lng = fields.Float(required=True, validate=validate.Range(min=-180, max=180))
    radius = fields.Integer(load_default=1000, validate=validate.Range(min=50, max=5000), metadata={"description": "m"})
    starts_at = DateTime(required=True)
    ends_at = DateTime(required=True)


class QuoteArgs(Schema):
    lot_id = fields.UUID(required=True)
    space_id = fields.UUID(load_default=None, metadata={"description": "a specific bay; default: any free space"})
    starts_at = DateTime(required=True)
    ends_at = DateTime(required=True)


class BookArgs(Schema):
    quote_id = fields.UUID(required=True)
    vehicle_id = fields.UUID(required=True)


class ParkingBookingSchema(Schema):
    id = fields.UUID(required=True)
    lot = fields.Nested(LotSchema, required=True)
    space_code = fields.Function(lambda b: b.space.code, required=True, metadata={"type": "string"})
    plate = Text(required=True, allow_none=True)
    starts_at = DateTime(required=True)
    ends_at = DateTime(required=True)
    window = Text(required=True)
    status = fields.Enum(BookingStatus, by_value=True, required=True)
    price_fen = fields.Integer(required=True, metadata=FEN)
    extension_fen = fields.Integer(required=True, metadata={"description": "extra time, billed with the stay"})
    refund_fen = fields.Integer(required=True, metadata=FEN)
    order_id = fields.UUID(required=True, allow_none=True, metadata={"description": "pay it: /payments/{id}/prepay"})
    hold_expires_at = DateTime(required=True, allow_none=True, metadata={"description": "pay before this"})
    created_at = DateTime(required=True)
    cancelled_by = Text(required=True, allow_none=True)
    cancel_reason = Text(required=True, allow_none=True)


class LenderBookingSchema(Schema):
    """A booking on my space as its lender sees it: the plate masked, nobody named."""

    id = fields.UUID(required=True)
    lot_id = fields.UUID(required=True)
    space_code = fields.Function(lambda b: b.space.code, required=True, metadata={"type": "string"})
    plate = fields.Function(lambda b: plates.mask(b.plate), required=True, metadata={"type": "string"})
    starts_at = DateTime(required=True)
    ends_at = DateTime(required=True)
    status = fields.Enum(BookingStatus, by_value=True, required=True)
    price_fen = fields.Integer(required=True, metadata=FEN)


class ParkingStaffBookingSchema(ParkingBookingSchema):
    space_id = fields.UUID(required=True)
    user_id = fields.UUID(required=True, allow_none=True)
    area_path = Text(required=True)


class CancelArgs(Schema):
    accept_no_refund = fields.Boolean(
        load_default=False, metadata={"description": "after the free cancellation time: cancel without a refund"}
    )


class ReasonArgs(Schema):
    reason = Text(required=True, validate=validate.Length(min=1, max=200))


class NoteArgs(Schema):
    note = Text(required=True, validate=validate.Length(min=1, max=200))


class ExtendArgs(Schema):
    ends_at = DateTime(required=True)


class VehicleChoiceArgs(Schema):
    vehicle_id = fields.UUID(required=True)


class OccupiedSchema(Schema):
    outcome = Text(required=True, metadata={"description": "moved (another space, same time) or refunded"})
    booking = fields.Nested(ParkingBookingSchema, required=True)


class VehicleArgs(Schema):
    plate = Text(required=True, validate=validate.Length(min=1, max=20))
    room_id = fields.UUID(load_default=None, metadata={"description": "which of my households; default the first"})


class LicenceArgs(Schema):
    media_id = fields.UUID(required=True, metadata={"description": "a photo of the driving licence (/media)"})


class VehicleSchema(Schema):
    id = fields.UUID(required=True)
    plate = Text(required=True)
    new_energy = fields.Boolean(required=True)
    verification = fields.Enum(Verification, by_value=True, required=True)
    verified_via = Text(required=True, allow_none=True)
    reject_reason = Text(required=True, allow_none=True)
    room_id = fields.UUID(required=True)
    created_at = DateTime(required=True)


class StaffVehicleSchema(VehicleSchema):
    owner_id = fields.UUID(required=True)
    licence_media_id = fields.UUID(required=True, allow_none=True)


class PassArgs(Schema):
    lot_id = fields.UUID(required=True)
    space_id = fields.UUID(load_default=None)
    vehicle_id = fields.UUID(required=True)
    window_start = fields.String(required=True, validate=HHMM, metadata={"example": "19:00"})
    window_end = fields.String(required=True, validate=HHMM, metadata={"example": "07:00"})
    starts_on = Date(required=True)
    months = fields.Integer(strict=True, required=True, validate=validate.Range(min=1, max=6))


class PassSchema(Schema):
    id = fields.UUID(required=True)
    lot = fields.Nested(LotSchema, required=True)
    plate = Text(required=True, allow_none=True)
    window_start = Text(required=True)
    window_end = Text(required=True)
    starts_on = Date(required=True)
    ends_on = Date(required=True)
    months = fields.Integer(required=True)
    days = fields.Integer(required=True, metadata={"description": "days whose window the lender offers"})
    price_fen = fields.Integer(required=True, metadata=FEN)
    status = fields.Enum(PassStatus, by_value=True, required=True)
    order_id = fields.UUID(required=True, allow_none=True)
    hold_expires_at = DateTime(required=True, allow_none=True)


class ParkingSessionSchema(Schema):
    id = fields.UUID(required=True)
    lot_id = fields.UUID(required=True)
    lot_name = fields.Function(lambda s: s.lot.name, required=True, metadata={"type": "string"})
    plate = Text(required=True, allow_none=True)
    booking_id = fields.UUID(required=True, allow_none=True)
    pass_id = fields.UUID(required=True, allow_none=True)
    status = fields.Enum(SessionStatus, by_value=True, required=True)
    entered_at = DateTime(required=True)
    exited_at = DateTime(required=True, allow_none=True)
    overstay_minutes = fields.Integer(required=True)
    charge_fen = fields.Integer(required=True, metadata=FEN)
    charge_detail = Text(required=True)
    order_id = fields.UUID(required=True, allow_none=True, metadata={"description": "the bill to pay, if any"})


# Lenders ----------------------------------------------------------------------------------------


class SpaceSchema(Schema):
    id = fields.UUID(required=True)
    lot_id = fields.UUID(required=True)
    code = Text(required=True)
    kind = fields.Enum(SpaceKind, by_value=True, required=True)
    capacity = fields.Integer(required=True)
    lender_id = fields.UUID(required=True, allow_none=True)
    is_active = fields.Boolean(required=True)


class RuleSchema(Schema):
    days = fields.String(required=True, validate=validate.OneOf(["workdays", "restdays", "everyday"]))
    start = fields.String(required=True, validate=HHMM)
    end = fields.String(required=True, validate=HHMM, metadata={"description": "at or before start: the next day"})


class OfferArgs(Schema):
    lot_id = fields.UUID(required=True)
    rules = fields.List(fields.Nested(RuleSchema), required=True, validate=validate.Length(min=1, max=7))
    blocked_dates = fields.List(Date(), load_default=list, validate=validate.Length(max=366))
    note = Text(load_default="", validate=validate.Length(max=200))


class BlockedDatesArgs(Schema):
    blocked_dates = fields.List(Date(), required=True, validate=validate.Length(max=366))


class OfferSchema(Schema):
    id = fields.UUID(required=True)
    lot_id = fields.UUID(required=True)
    lot_name = fields.Function(lambda o: o.lot.name, required=True, metadata={"type": "string"})
    rules = fields.List(fields.Nested(RuleSchema), required=True)
    blocked_dates = fields.List(fields.String(), required=True)
    note = Text(required=True)
    status = fields.Enum(OfferStatus, by_value=True, required=True)
    reject_reason = Text(required=True, allow_none=True)
    created_at = DateTime(required=True)


class StaffOfferSchema(OfferSchema):
    lender_id = fields.UUID(required=True, allow_none=True)


class EarningSchema(Schema):
    month = Text(required=True, metadata={"description": "YYYY-MM (Asia/Shanghai)"})
    bookings = fields.Integer(required=True)
    paid_fen = fields.Integer(required=True, metadata=FEN)


class EarningsSchema(Schema):
    items = fields.List(fields.Nested(EarningSchema), required=True)


# Gates and sensors ------------------------------------------------------------------------------


class CandidateSchema(Schema):
    plate = fields.String(required=True)
    confidence = fields.Float(load_default=None)


class GateDecisionArgs(Schema):
    class Meta:
        unknown = EXCLUDE  # gate systems send more than we read (image links, vendor ids): never a reason to hold a car

    lot_id = fields.String(required=True, metadata={"description": "the lot's id in Linli"})
    lane = fields.String(required=True)
    direction = fields.String(required=True, metadata={"enum": ["entry", "exit"]})
    plate = fields.String(required=True, metadata={"description": "as read; normalised here"})
    confidence = fields.Float(load_default=None)
    candidates = fields.List(fields.Nested(CandidateSchema), load_default=list)


class GateDecisionSchema(Schema):
    decision = Text(required=True, metadata={"enum": ["open", "hold", "deny"]})
    reason = Text(
        required=True,
        metadata={
            "enum": [
                "booking_valid",
                "pass_valid",
                "early",
                "no_booking",
                "overstay_unpaid",
                "duplicate_entry",
                "unknown_lot",
            ]
        },
    )
    display = Text(required=True, metadata={"description": "what the gate's display should say"})
    flagged = fields.Boolean(required=True, metadata={"description": "opened on a one-character misread"})
    booking_id = fields.UUID(required=True, allow_none=True)
    pass_id = fields.UUID(required=True, allow_none=True)
    plate = Text(required=True, allow_none=True)


class PassageItemSchema(Schema):
    event_id = fields.String(required=True)
    lot_id = fields.String(required=True)
    lane = fields.String(required=True)
    direction = fields.String(required=True, metadata={"enum": ["entry", "exit"]})
    plate = fields.String(required=True)
    at = fields.String(required=True, metadata={"format": "date-time"})
    opened_by = fields.String(load_default="auto", metadata={"enum": ["auto", "allow_list", "manual", "linli"]})


class FrameItemSchema(Schema):
    event_id = fields.String(required=True)
    serial = fields.String(required=True)
    seq = fields.Integer(required=True)
    type = fields.String(required=True, metadata={"enum": ["occupied", "vacant", "heartbeat", "fault"]})
    at = fields.String(required=True, metadata={"format": "date-time"})


class ParkingItemResultSchema(Schema):
    event_id = Text(required=True, allow_none=True)
    status = Text(required=True)
    errors = fields.Dict(keys=fields.String(), values=fields.List(fields.String()))
    session_id = Text()
    session = Text()
    charge_fen = fields.Integer()
    anomaly = Text()


class ParkingBatchResultSchema(Schema):
    results = fields.List(fields.Nested(ParkingItemResultSchema), required=True)
    counts = fields.Dict(keys=fields.String(), values=fields.Integer(), required=True)


# Staff ------------------------------------------------------------------------------------------


class LotArgs(Schema):
    area_id = fields.UUID(required=True)
    name = Text(required=True, validate=validate.Length(min=1, max=64))
    kind = fields.Enum(LotKind, by_value=True, required=True)
    address = Text(required=True, validate=validate.Length(min=1, max=200))
    lat = fields.Float(required=True, validate=validate.Range(min=-90, max=90))
    lng = fields.Float(required=True, validate=validate.Range(min=-180, max=180))
    opening_hours = Text(load_default="", validate=validate.Length(max=200))
    hourly_rate_fen = fields.Integer(strict=True, required=True, validate=validate.Range(min=0, max=100_000))
    daily_cap_fen = fields.Integer(strict=True, required=True, validate=validate.Range(min=0, max=500_000))
    overstay_rate_fen = fields.Integer(strict=True, required=True, validate=validate.Range(min=0, max=100_000))
    pass_monthly_fen = fields.Integer(strict=True, load_default=0, validate=validate.Range(min=0, max=500_000))
    gate_platform = Text(load_default=None, allow_none=True, validate=validate.Length(min=1, max=32))
    gate_vendor = fields.String(load_default="none", validate=validate.OneOf(["none", "fake"]))


class LotPatchArgs(Schema):
    name = Text(validate=validate.Length(min=1, max=64))
    address = Text(validate=validate.Length(min=1, max=200))
    opening_hours = Text(validate=validate.Length(max=200))
    hourly_rate_fen = fields.Integer(strict=True, validate=validate.Range(min=0, max=100_000))
    daily_cap_fen = fields.Integer(strict=True, validate=validate.Range(min=0, max=500_000))
    overstay_rate_fen = fields.Integer(strict=True, validate=validate.Range(min=0, max=100_000))
    pass_monthly_fen = fields.Integer(strict=True, validate=validate.Range(min=0, max=500_000))
    gate_platform = Text(allow_none=True, validate=validate.Length(min=1, max=32))
    gate_vendor = fields.String(validate=validate.OneOf(["none", "fake"]))
    is_active = fields.Boolean()


class SpaceArgs(Schema):
    code = Text(required=True, validate=validate.Length(min=1, max=32))
    kind = fields.Enum(SpaceKind, by_value=True, required=True)
    capacity = fields.Integer(strict=True, load_default=1, validate=validate.Range(min=1, max=5000))
    lender_id = fields.UUID(load_default=None, metadata={"description": "who lends it (an owner, or the unit)"})


class CapacityArgs(Schema):
    capacity = fields.Integer(strict=True, required=True, validate=validate.Range(min=1, max=5000))


class OfferListArgs(CursorArgs):
    status = fields.Enum(OfferStatus, by_value=True, load_default=None)


class VehicleListArgs(CursorArgs):
    verification = fields.Enum(Verification, by_value=True, load_default=None)


class BookingListArgs(CursorArgs):
    status = fields.Enum(BookingStatus, by_value=True, load_default=None)
    lot_id = fields.UUID(load_default=None)
    starts_from = DateTime(load_default=None)
    starts_until = DateTime(load_default=None)


class BookingExportArgs(Schema):
    status = fields.Enum(BookingStatus, by_value=True, load_default=None)
    lot_id = fields.UUID(load_default=None)
    starts_from = DateTime(load_default=None)
    starts_until = DateTime(load_default=None)


class AnomalyListArgs(CursorArgs):
    status = fields.Enum(AnomalyStatus, by_value=True, load_default=None)
    kind = fields.Enum(AnomalyKind, by_value=True, load_default=None)


class ParkingAnomalySchema(Schema):
    id = fields.UUID(required=True)
    lot_id = fields.UUID(required=True)
    lot_name = fields.Function(lambda a: a.lot.name, required=True, metadata={"type": "string"})
    kind = fields.Enum(AnomalyKind, by_value=True, required=True)
    plate = Text(required=True, allow_none=True)
    at = DateTime(required=True)
    details = Text(required=True)
    booking_id = fields.UUID(required=True, allow_none=True)
    status = fields.Enum(AnomalyStatus, by_value=True, required=True)
    resolved_at = DateTime(required=True, allow_none=True)
    resolution_note = Text(required=True, allow_none=True)


class SensorArgs(Schema):
    serial = Text(required=True, validate=validate.Length(min=1, max=64))
    space_id = fields.UUID(required=True)
    heartbeat_seconds = fields.Integer(strict=True, load_default=300, validate=validate.Range(min=30, max=86400))


class ParkingSensorSchema(Schema):
    id = fields.UUID(required=True)
    serial = Text(required=True)
    space_id = fields.UUID(required=True)
    heartbeat_seconds = fields.Integer(required=True)
    state = fields.Enum(Occupancy, by_value=True, required=True)
    state_since = DateTime(required=True)
    last_frame_at = DateTime(required=True, allow_none=True)
    last_seq = fields.Integer(required=True, allow_none=True)


class FreeLotSchema(Schema):
    lot_id = fields.UUID(required=True)
    name = Text(required=True)
    kind = Text(required=True)
    places = fields.Integer(required=True)
    occupied = fields.Integer(required=True)
    unknown = fields.Integer(required=True, metadata={"description": "silent or faulty sensors: never counted free"})
    free = fields.Integer(required=True)
    as_of = DateTime(required=True, allow_none=True)
    data_age_seconds = fields.Integer(required=True, allow_none=True)


class FreeEstateSchema(Schema):
    area_id = fields.UUID(required=True)
    area_name = Text(required=True)
    free = fields.Integer(required=True)
    lots = fields.List(fields.Nested(FreeLotSchema), required=True)


class FreeCountsSchema(Schema):
    items = fields.List(fields.Nested(FreeEstateSchema), required=True)


class UtilisationArgs(Schema):
    since = DateTime(required=True, data_key="from")
    until = DateTime(required=True, data_key="to")


class UtilisationRowSchema(Schema):
    lot_id = fields.UUID(required=True)
    lot_name = Text(required=True)
    hour = DateTime(required=True)
    occupied_hours = fields.Float(required=True, metadata={"description": "car-hours parked in that hour"})
    booked_hours = fields.Float(required=True, metadata={"description": "car-hours booked (or passes) in that hour"})
    places = fields.Integer(required=True)
    utilisation = fields.Float(required=True, metadata={"description": "occupied_hours / places"})


class UtilisationSchema(Schema):
    items = fields.List(fields.Nested(UtilisationRowSchema), required=True)


class SessionListArgs(CursorArgs):
    status = fields.Enum(SessionStatus, by_value=True, load_default=None)


class ParkingStaffSessionSchema(ParkingSessionSchema):
    user_id = fields.UUID(required=True, allow_none=True)
