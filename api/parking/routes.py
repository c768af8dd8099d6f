"""Routes of shared parking: residents (availability, quotes, bookings, vehicles, passes, stays), lenders
(offers, bookings on their spaces, earnings), gate systems and magnetometers (signed), and staff.
Thin: parse, authorise, call a service, serialise."""

from __future__ import annotations

import csv
import io
import uuid
from typing import Any

from flask import Response, request
from sqlalchemy.exc import IntegrityError

from api import signedbatch
from api.auth import current_user, login_required, staff_route
from api.db import db, utcnow
from api.errors import ApiError
from api.extensions import Blueprint, get_settings
from api.fields import LOCAL_TZ
from api.hygiene import load_json
from api.idempotency import idempotent
from api.pagination import CursorArgs, page_of, paginate
from api.parking import gates, schemas, sensors, services, stats
from api.parking.models import (
    Anomaly,
    Booking,
    ParkingBatchReceipt,
    ParkingLot,
    ParkingPass,
    ParkingSession,
    ParkingSpace,
    Sensor,
    SharingOffer,
    Vehicle,
)

parking_blp = Blueprint("parking", __name__, url_prefix="/api/v1/parking", description="智慧停车: shared parking")
lender_blp = Blueprint(
    "parking-lender", __name__, url_prefix="/api/v1/parking/lender", description="Lenders of shared spaces"
)
machines_blp = Blueprint(
    "parking-machines", __name__, url_prefix="/api/v1/parking", description="Gate systems and magnetometers (signed)"
)
admin_blp = Blueprint(
    "admin-parking", __name__, url_prefix="/api/v1/admin/parking", description="Staff: lots, approvals, anomalies"
)

GATE_CODES = signedbatch.Codes(
    not_configured="gate_not_configured",
    missing="gate_signature_missing",
    invalid="gate_signature_invalid",
    stale="gate_timestamp_stale",
    replayed="gate_replayed",
)
_SIGNED = [
    {"in": "header", "name": signedbatch.PLATFORM_HEADER, "required": True, "schema": {"type": "string"}},
    {"in": "header", "name": signedbatch.TIMESTAMP_HEADER, "required": True, "schema": {"type": "string"}},
    {
        "in": "header",
        "name": signedbatch.SIGNATURE_HEADER,
        "required": True,
        "schema": {"type": "string"},
        "description": 'hex HMAC-SHA256(secret, "<timestamp>.<raw body>")',
    },
]


# Residents --------------------------------------------------------------------------------------


@parking_blp.route("/availability", methods=["GET"])
@login_required()
@parking_blp.arguments(schemas.LotAvailabilityArgs, location="query")
@parking_blp.response(200, schemas.LotAvailabilitySchema)
@parking_blp.alt_response(422, description="The period ends before it starts, is past, too short or too long")
def parking_availability(args: dict[str, Any]) -> Any:
    """Lots near a place with a space free for the whole period, nearest first, each with a quote."""
    items = services.availability(
        current_user(), args["lat"], args["lng"], args["radius"], args["starts_at"], args["ends_at"], utcnow()
    )
    return {"items": items}


@parking_blp.route("/quotes", methods=["POST"])
@login_required()
@parking_blp.arguments(schemas.QuoteArgs)
@parking_blp.response(201, schemas.QuoteSchema)
@parking_blp.alt_response(404, description="No such lot")
@parking_blp.alt_response(409, description="Nothing free for that period (`space_taken`, `lot_full`)")
@parking_blp.alt_response(422, description="The period leaves the sharing window (`outside_window` names it)")
def parking_quote(args: dict[str, Any]) -> Any:
    """A price for one lot (or one bay of it) and a period, with its rules in words; good for a few minutes."""
    return services.make_quote(
        current_user(), args["lot_id"], args["space_id"], args["starts_at"], args["ends_at"], utcnow()
    )


@parking_blp.route("/bookings", methods=["POST"])
@login_required()
@idempotent
@parking_blp.arguments(schemas.BookArgs)
@parking_blp.response(201, schemas.ParkingBookingSchema)
@parking_blp.alt_response(403, description="Suspended after repeated no-shows")
@parking_blp.alt_response(409, description="Taken meanwhile, the quote expired, or the vehicle is not verified")
@parking_blp.alt_response(422, description="Unknown quote or vehicle, or the window was withdrawn")
def parking_book(args: dict[str, Any]) -> Any:
    """Book from a quote: the space is held at once; pay the order (`order_id`) before `hold_expires_at`."""
    return services.book(current_user(), args["quote_id"], args["vehicle_id"], utcnow())


@parking_blp.route("/bookings", methods=["GET"])
@login_required()
@parking_blp.arguments(CursorArgs, location="query")
@parking_blp.response(200, page_of(schemas.ParkingBookingSchema))
def parking_my_bookings(args: dict[str, Any]) -> Any:
    """My bookings, newest first."""
    return paginate(
        services.my_bookings(current_user()), order_by=(Booking.id,), limit=args["limit"], cursor=args["cursor"]
    )


@parking_blp.route("/bookings/<uuid:booking_id>", methods=["GET"])
@login_required()
@parking_blp.response(200, schemas.ParkingBookingSchema)
@parking_blp.alt_response(404, description="Not one of my bookings")
def parking_my_booking(booking_id: uuid.UUID) -> Any:
    return services.own_booking(current_user(), booking_id)


@parking_blp.route("/bookings/<uuid:booking_id>/cancel", methods=["POST"])
@login_required()
@parking_blp.arguments(schemas.CancelArgs)
@parking_blp.response(200, schemas.ParkingBookingSchema)
@parking_blp.alt_response(404, description="Not one of my bookings")
@parking_blp.alt_response(409, description="Past the free cancellation time, or not cancellable now")
def parking_cancel(args: dict[str, Any], booking_id: uuid.UUID) -> Any:
    """Cancel: refunded in full until the free cancellation time, later only with `accept_no_refund`."""
    return services.cancel_by_driver(current_user(), booking_id, args["accept_no_refund"], utcnow())


@parking_blp.route("/bookings/<uuid:booking_id>/extend", methods=["POST"])
@login_required()
@parking_blp.arguments(schemas.ExtendArgs)
@parking_blp.response(200, schemas.ParkingBookingSchema)
@parking_blp.alt_response(404, description="Not one of my bookings")
@parking_blp.alt_response(409, description="The time after is taken (`space_taken`), or not extendable now")
@parking_blp.alt_response(422, description="Beyond the sharing window")
def parking_extend(args: dict[str, Any], booking_id: uuid.UUID) -> Any:
    """More time on the same space when it is free; billed at the filed rate with the stay."""
    return services.extend(current_user(), booking_id, args["ends_at"], utcnow())


@parking_blp.route("/bookings/<uuid:booking_id>/plate", methods=["POST"])
@login_required()
@parking_blp.arguments(schemas.VehicleChoiceArgs)
@parking_blp.response(200, schemas.ParkingBookingSchema)
@parking_blp.alt_response(404, description="Not one of my bookings")
@parking_blp.alt_response(409, description="The car has entered already")
def parking_change_plate(args: dict[str, Any], booking_id: uuid.UUID) -> Any:
    """Another of my vehicles, until entry; the gate's allow-list follows."""
    return services.change_plate(current_user(), booking_id, args["vehicle_id"])


@parking_blp.route("/bookings/<uuid:booking_id>/occupied", methods=["POST"])
@login_required()
@parking_blp.response(200, schemas.OccupiedSchema)
@parking_blp.alt_response(404, description="Not one of my bookings")
@parking_blp.alt_response(409, description="Not started, or the sensor reads the space vacant")
def parking_report_occupied(booking_id: uuid.UUID) -> Any:
    """My space is occupied: another space for the same time, or a full refund — in one step."""
    return services.report_occupied(current_user(), booking_id, utcnow())


@parking_blp.route("/vehicles", methods=["GET"])
@login_required()
@parking_blp.arguments(CursorArgs, location="query")
@parking_blp.response(200, page_of(schemas.VehicleSchema))
def parking_my_vehicles(args: dict[str, Any]) -> Any:
    return paginate(
        services.my_vehicles(current_user()), order_by=(Vehicle.id,), limit=args["limit"], cursor=args["cursor"]
    )


@parking_blp.route("/vehicles", methods=["POST"])
@login_required()
@idempotent
@parking_blp.arguments(schemas.VehicleArgs)
@parking_blp.response(201, schemas.VehicleSchema)
@parking_blp.alt_response(403, description="Not bound to a household")
@parking_blp.alt_response(409, description="Plate on another household, or the household's limit reached")
@parking_blp.alt_response(422, description="The plate breaks a rule (named)")
def parking_register_vehicle(args: dict[str, Any]) -> Any:
    """Register a car of my household (plate normalised and checked); verify it with a driving-licence photo."""
    return services.register_vehicle(current_user(), args["plate"], args["room_id"], get_settings())


@parking_blp.route("/vehicles/<uuid:vehicle_id>/licence", methods=["POST"])
@login_required()
@parking_blp.arguments(schemas.LicenceArgs)
@parking_blp.response(200, schemas.VehicleSchema)
@parking_blp.alt_response(404, description="Not one of my vehicles")
@parking_blp.alt_response(422, description="Not a ready photo of mine")
def parking_vehicle_licence(args: dict[str, Any], vehicle_id: uuid.UUID) -> Any:
    """Attach the driving licence's photo: the vehicle is verified by it (staff may still reject)."""
    return services.add_licence_photo(current_user(), vehicle_id, args["media_id"], utcnow())


@parking_blp.route("/vehicles/<uuid:vehicle_id>", methods=["DELETE"])
@login_required()
@parking_blp.response(204)
@parking_blp.alt_response(404, description="Not one of my vehicles")
def parking_remove_vehicle(vehicle_id: uuid.UUID) -> Any:
    services.remove_vehicle(current_user(), vehicle_id, utcnow())
    return None


@parking_blp.route("/passes", methods=["POST"])
@login_required()
@idempotent
@parking_blp.arguments(schemas.PassArgs)
@parking_blp.response(201, schemas.PassSchema)
@parking_blp.alt_response(409, description="No space is free on every day of it")
@parking_blp.alt_response(422, description="The daily window lies in no sharing window, or bad dates")
def parking_buy_pass(args: dict[str, Any]) -> Any:
    """A monthly off-peak pass: one plate, a daily window, whole months; pay its order before it lapses."""
    return services.buy_pass(current_user(), args, utcnow())


@parking_blp.route("/passes", methods=["GET"])
@login_required()
@parking_blp.arguments(CursorArgs, location="query")
@parking_blp.response(200, page_of(schemas.PassSchema))
def parking_my_passes(args: dict[str, Any]) -> Any:
    return paginate(
        services.my_passes(current_user()), order_by=(ParkingPass.id,), limit=args["limit"], cursor=args["cursor"]
    )


@parking_blp.route("/passes/<uuid:pass_id>", methods=["GET"])
@login_required()
@parking_blp.response(200, schemas.PassSchema)
@parking_blp.alt_response(404, description="Not one of my passes")
def parking_my_pass(pass_id: uuid.UUID) -> Any:
    return services.own_pass(current_user(), pass_id)


@parking_blp.route("/sessions", methods=["GET"])
@login_required()
@parking_blp.arguments(CursorArgs, location="query")
@parking_blp.response(200, page_of(schemas.ParkingSessionSchema))
def parking_my_sessions(args: dict[str, Any]) -> Any:
    """My stays and what each cost (the receipts)."""
    return paginate(
        gates.my_sessions(current_user()), order_by=(ParkingSession.id,), limit=args["limit"], cursor=args["cursor"]
    )


# Lenders ----------------------------------------------------------------------------------------


@lender_blp.route("/spaces", methods=["GET"])
@login_required()
@lender_blp.arguments(CursorArgs, location="query")
@lender_blp.response(200, page_of(schemas.SpaceSchema))
def lender_spaces(args: dict[str, Any]) -> Any:
    """The spaces I lend."""
    return paginate(
        services.lender_spaces(current_user()), order_by=(ParkingSpace.id,), limit=args["limit"], cursor=args["cursor"]
    )


@lender_blp.route("/offers", methods=["GET"])
@login_required()
@lender_blp.arguments(CursorArgs, location="query")
@lender_blp.response(200, page_of(schemas.OfferSchema))
def lender_offers(args: dict[str, Any]) -> Any:
    return paginate(
        services.lender_offers(current_user()), order_by=(SharingOffer.id,), limit=args["limit"], cursor=args["cursor"]
    )


@lender_blp.route("/offers", methods=["POST"])
@login_required()
@lender_blp.arguments(schemas.OfferArgs)
@lender_blp.response(201, schemas.OfferSchema)
@lender_blp.alt_response(404, description="I lend no space in that lot")
@lender_blp.alt_response(409, description="An offer is already waiting for staff")
@lender_blp.alt_response(422, description="Rules or dates invalid")
def lender_make_offer(args: dict[str, Any]) -> Any:
    """Offer my spaces of a lot in recurring windows (Chinese working-day calendar), minus blocked dates."""
    return services.make_offer(current_user(), args["lot_id"], args["rules"], args["blocked_dates"], args["note"])


@lender_blp.route("/offers/<uuid:offer_id>/withdraw", methods=["POST"])
@login_required()
@lender_blp.response(200, schemas.OfferSchema)
@lender_blp.alt_response(404, description="Not one of my offers")
@lender_blp.alt_response(409, description="Already decided or withdrawn")
def lender_withdraw_offer(offer_id: uuid.UUID) -> Any:
    return services.withdraw_offer(current_user(), offer_id)


@lender_blp.route("/offers/<uuid:offer_id>/blocked-dates", methods=["PUT"])
@login_required()
@lender_blp.arguments(schemas.BlockedDatesArgs)
@lender_blp.response(200, schemas.OfferSchema)
@lender_blp.alt_response(404, description="Not one of my offers")
@lender_blp.alt_response(409, description="Not in force or waiting")
def lender_block_dates(args: dict[str, Any], offer_id: uuid.UUID) -> Any:
    """The days I need my space myself (the windows starting on them are not lent)."""
    return services.block_dates(current_user(), offer_id, args["blocked_dates"])


@lender_blp.route("/bookings", methods=["GET"])
@login_required()
@lender_blp.arguments(CursorArgs, location="query")
@lender_blp.response(200, page_of(schemas.LenderBookingSchema))
def lender_bookings(args: dict[str, Any]) -> Any:
    """Bookings on my spaces, plates masked."""
    return paginate(
        services.lender_bookings(current_user()), order_by=(Booking.id,), limit=args["limit"], cursor=args["cursor"]
    )


@lender_blp.route("/bookings/<uuid:booking_id>/cancel", methods=["POST"])
@login_required()
@lender_blp.arguments(schemas.ReasonArgs)
@lender_blp.response(200, schemas.LenderBookingSchema)
@lender_blp.alt_response(404, description="Not a booking on my space")
@lender_blp.alt_response(409, description="Not cancellable now")
def lender_cancel_booking(args: dict[str, Any], booking_id: uuid.UUID) -> Any:
    """I need my space: the driver is refunded in full and told at once."""
    user = current_user()
    booking = services.lender_booking(user, booking_id)
    return services.cancel_for_driver(user, booking, "lender", args["reason"].strip(), utcnow())


@lender_blp.route("/earnings", methods=["GET"])
@login_required()
@lender_blp.response(200, schemas.EarningsSchema)
def lender_earnings() -> Any:
    """What my spaces earned per month."""
    return {"items": services.earnings(current_user())}


# Gate systems and magnetometers -----------------------------------------------------------------


def _signed_body(secrets: dict[str, str]) -> tuple[str, bytes]:
    settings = get_settings()
    body = request.get_data(cache=True)
    platform = signedbatch.verify(
        request.headers, body, secrets, settings.iot_replay_window_seconds, utcnow(), GATE_CODES
    )
    return platform, body


def _take_once(channel: str, platform: str) -> None:
    signedbatch.take_once(ParkingBatchReceipt, f"{channel}:{platform}", request.headers, utcnow(), GATE_CODES.replayed)


def _commit() -> None:
    # Committed here, so a failed commit is answered as what it is: the receipt went with it, and the caller
    # may send it again as it was.
    try:
        db.session.commit()
    except IntegrityError as exc:
        db.session.rollback()
        raise ApiError("conflict") from exc


@machines_blp.route("/gates/decisions", methods=["POST"])
@machines_blp.doc(parameters=_SIGNED)
@machines_blp.arguments(schemas.GateDecisionArgs)
@machines_blp.response(200, schemas.GateDecisionSchema)
@machines_blp.alt_response(401, description="Signature missing or wrong, or timestamp outside the window")
@machines_blp.alt_response(409, description="This signed call was received before (replay)")
def gate_decision(args: dict[str, Any]) -> Any:
    """open | hold | deny for a plate at a lane (an unknown lot: a safe hold), answered at once."""
    platform, _body = _signed_body(get_settings().parking_gate_secrets)
    _take_once("gate", platform)
    answer = gates.decide(platform, request.get_json(silent=True) or args, utcnow()).as_dict()
    _commit()
    return answer


def _batch() -> list[Any]:
    try:
        items = load_json(request.get_data(cache=True), check_text=False)
    except ApiError as exc:
        raise ApiError("gate_batch_invalid", errors=exc.errors) from exc
    if not isinstance(items, list):
        raise ApiError("gate_batch_invalid")
    return items


@machines_blp.route("/gates/passages", methods=["POST"])
@machines_blp.doc(
    parameters=_SIGNED,
    requestBody={
        "required": True,
        "content": {
            "application/json": {
                "schema": {"type": "array", "maxItems": gates.MAX_BATCH, "items": schemas.PassageItemSchema}
            }
        },
    },
)
@machines_blp.response(200, schemas.ParkingBatchResultSchema)
@machines_blp.alt_response(401, description="Signature missing or wrong, or timestamp outside the window")
@machines_blp.alt_response(409, description="This signed batch was received before (replay)")
@machines_blp.alt_response(413, description="More than 1,000 records")
@machines_blp.alt_response(422, description="The body is not a JSON array")
def gate_passages(**_: Any) -> Any:
    """Passage records (may be hours late and out of order): a result per record — accepted, duplicate,
    unknown_lot, invalid; they open and close sessions and settle what a stay owes."""
    platform, _body = _signed_body(get_settings().parking_gate_secrets)
    items = _batch()
    _take_once("gate", platform)
    result = gates.ingest_passages(platform, items, utcnow())
    _commit()
    return result


@machines_blp.route("/sensors/frames", methods=["POST"])
@machines_blp.doc(
    parameters=_SIGNED,
    requestBody={
        "required": True,
        "content": {
            "application/json": {
                "schema": {"type": "array", "maxItems": sensors.MAX_BATCH, "items": schemas.FrameItemSchema}
            }
        },
    },
)
@machines_blp.response(200, schemas.ParkingBatchResultSchema)
@machines_blp.alt_response(401, description="Signature missing or wrong, or timestamp outside the window")
@machines_blp.alt_response(409, description="This signed batch was received before (replay)")
@machines_blp.alt_response(413, description="More than 1,000 frames")
@machines_blp.alt_response(422, description="The body is not a JSON array")
def sensor_frames(**_: Any) -> Any:
    """Magnetometer frames from the IoT platform (signed with its secret): accepted, stale (sequence not above
    the last), unknown_sensor, invalid."""
    platform, _body = _signed_body(get_settings().iot_platform_secrets)
    items = _batch()
    _take_once("sensor", platform)
    result = sensors.ingest_frames(items, utcnow())
    _commit()
    return result


# Staff ------------------------------------------------------------------------------------------


@staff_route(admin_blp, "/lots", methods=["GET"])
@admin_blp.arguments(CursorArgs, location="query")
@admin_blp.response(200, page_of(schemas.StaffLotSchema))
def admin_parking_lots(args: dict[str, Any]) -> Any:
    stmt = services.staff_list(current_user(), ParkingLot, {})
    return paginate(stmt, order_by=(ParkingLot.id,), limit=args["limit"], cursor=args["cursor"])


@staff_route(admin_blp, "/lots", methods=["POST"])
@admin_blp.arguments(schemas.LotArgs)
@admin_blp.response(201, schemas.StaffLotSchema)
def admin_parking_create_lot(args: dict[str, Any]) -> Any:
    """A car park or a stretch of road spaces in an area of mine, with its filed prices."""
    return services.create_lot(current_user(), dict(args))


@staff_route(admin_blp, "/lots/<uuid:lot_id>", methods=["GET"])
@admin_blp.response(200, schemas.StaffLotSchema)
def admin_parking_lot(lot_id: uuid.UUID) -> Any:
    return services.staff_lot(current_user(), lot_id)


@staff_route(admin_blp, "/lots/<uuid:lot_id>", methods=["PATCH"])
@admin_blp.arguments(schemas.LotPatchArgs)
@admin_blp.response(200, schemas.StaffLotSchema)
def admin_parking_update_lot(args: dict[str, Any], lot_id: uuid.UUID) -> Any:
    return services.update_lot(current_user(), lot_id, dict(args))


@staff_route(admin_blp, "/lots/<uuid:lot_id>/spaces", methods=["GET"])
@admin_blp.arguments(CursorArgs, location="query")
@admin_blp.response(200, page_of(schemas.SpaceSchema))
def admin_parking_spaces(args: dict[str, Any], lot_id: uuid.UUID) -> Any:
    lot = services.staff_lot(current_user(), lot_id)
    return paginate(services.lot_spaces(lot), order_by=(ParkingSpace.id,), limit=args["limit"], cursor=args["cursor"])


@staff_route(admin_blp, "/lots/<uuid:lot_id>/spaces", methods=["POST"])
@admin_blp.arguments(schemas.SpaceArgs)
@admin_blp.response(201, schemas.SpaceSchema)
def admin_parking_create_space(args: dict[str, Any], lot_id: uuid.UUID) -> Any:
    """A bay, or a pool of N places, and who lends it."""
    return services.create_space(current_user(), lot_id, args)


@staff_route(admin_blp, "/lots/<uuid:lot_id>/spaces/<uuid:space_id>", methods=["PATCH"])
@admin_blp.arguments(schemas.CapacityArgs)
@admin_blp.response(200, schemas.SpaceSchema)
@admin_blp.alt_response(409, description="Below the cars already booked at some instant")
def admin_parking_space_capacity(args: dict[str, Any], lot_id: uuid.UUID, space_id: uuid.UUID) -> Any:
    return services.set_capacity(current_user(), lot_id, space_id, args["capacity"], utcnow())


@staff_route(admin_blp, "/offers", methods=["GET"])
@admin_blp.arguments(schemas.OfferListArgs, location="query")
@admin_blp.response(200, page_of(schemas.StaffOfferSchema))
def admin_parking_offers(args: dict[str, Any]) -> Any:
    """Lenders' offers of my area (`status=pending`: the approval queue)."""
    stmt = services.staff_list(current_user(), SharingOffer, {"status": args["status"]})
    return paginate(stmt, order_by=(SharingOffer.id,), limit=args["limit"], cursor=args["cursor"])


@staff_route(admin_blp, "/offers/<uuid:offer_id>/approve", methods=["POST"])
@admin_blp.response(200, schemas.StaffOfferSchema)
@admin_blp.alt_response(409, description="Already decided")
def admin_parking_approve_offer(offer_id: uuid.UUID) -> Any:
    """In force at once (replacing the lender's previous offer for that lot); the lender is told."""
    return services.decide_offer(current_user(), offer_id, True, None, utcnow())


@staff_route(admin_blp, "/offers/<uuid:offer_id>/reject", methods=["POST"])
@admin_blp.arguments(schemas.ReasonArgs)
@admin_blp.response(200, schemas.StaffOfferSchema)
@admin_blp.alt_response(409, description="Already decided")
def admin_parking_reject_offer(args: dict[str, Any], offer_id: uuid.UUID) -> Any:
    return services.decide_offer(current_user(), offer_id, False, args["reason"].strip(), utcnow())


@staff_route(admin_blp, "/vehicles", methods=["GET"])
@admin_blp.arguments(schemas.VehicleListArgs, location="query")
@admin_blp.response(200, page_of(schemas.StaffVehicleSchema))
def admin_parking_vehicles(args: dict[str, Any]) -> Any:
    stmt = services.staff_list(current_user(), Vehicle, {"verification": args["verification"]})
    return paginate(
        stmt.where(Vehicle.removed_at.is_(None)), order_by=(Vehicle.id,), limit=args["limit"], cursor=args["cursor"]
    )


@staff_route(admin_blp, "/vehicles/<uuid:vehicle_id>/verify", methods=["POST"])
@admin_blp.response(200, schemas.StaffVehicleSchema)
def admin_parking_verify_vehicle(vehicle_id: uuid.UUID) -> Any:
    return services.verify_vehicle(current_user(), vehicle_id, True, None, utcnow())


@staff_route(admin_blp, "/vehicles/<uuid:vehicle_id>/reject", methods=["POST"])
@admin_blp.arguments(schemas.ReasonArgs)
@admin_blp.response(200, schemas.StaffVehicleSchema)
def admin_parking_reject_vehicle(args: dict[str, Any], vehicle_id: uuid.UUID) -> Any:
    return services.verify_vehicle(current_user(), vehicle_id, False, args["reason"].strip(), utcnow())


@staff_route(admin_blp, "/bookings", methods=["GET"])
@admin_blp.arguments(schemas.BookingListArgs, location="query")
@admin_blp.response(200, page_of(schemas.ParkingStaffBookingSchema))
def admin_parking_bookings(args: dict[str, Any]) -> Any:
    stmt = services.staff_bookings(current_user(), args)
    return paginate(stmt, order_by=(Booking.id,), limit=args["limit"], cursor=args["cursor"])


def _local(value: Any) -> str:
    return value.astimezone(LOCAL_TZ).strftime("%Y-%m-%d %H:%M") if value else ""


def _safe(value: Any) -> str:
    text = "" if value is None else str(value)
    return "'" + text if text[:1] in ("=", "+", "-", "@", "\t", "\r") else text  # never a formula in Excel


@staff_route(admin_blp, "/bookings.csv", methods=["GET"])
@admin_blp.arguments(schemas.BookingExportArgs, location="query")
@admin_blp.doc(responses={"200": {"description": "bookings", "content": {"text/csv": {"schema": {"type": "string"}}}}})
def admin_parking_bookings_csv(args: dict[str, Any]) -> Any:
    """Bookings of my area with the same filters, as CSV (UTF-8 with BOM; amounts in yuan; plates masked)."""
    out = io.StringIO()
    out.write("\ufeff")
    writer = csv.writer(out)
    writer.writerow(("预约编号", "停车场", "车位", "车牌", "开始", "结束", "状态", "金额(元)", "退款(元)", "区域"))
    for b in db.session.scalars(services.staff_bookings(current_user(), args).order_by(Booking.id)):
        writer.writerow(
            [
                _safe(v)
                for v in (
                    b.id,
                    b.lot.name,
                    b.space.code,
                    services.plates.mask(b.plate),
                    _local(b.starts_at),
                    _local(b.ends_at),
                    services.STATUS_ZH[b.status.value],
                    services.yuan(b.price_fen + b.extension_fen),
                    services.yuan(b.refund_fen),
                    b.area_path,
                )
            ]
        )
    return Response(
        out.getvalue(),
        mimetype="text/csv",
        headers={"Content-Disposition": 'attachment; filename="parking-bookings.csv"'},
    )


@staff_route(admin_blp, "/bookings/<uuid:booking_id>", methods=["GET"])
@admin_blp.response(200, schemas.ParkingStaffBookingSchema)
def admin_parking_booking(booking_id: uuid.UUID) -> Any:
    return services.staff_booking(current_user(), booking_id)


@staff_route(admin_blp, "/bookings/<uuid:booking_id>/cancel", methods=["POST"])
@admin_blp.arguments(schemas.ReasonArgs)
@admin_blp.response(200, schemas.ParkingStaffBookingSchema)
@admin_blp.alt_response(409, description="Not cancellable now")
def admin_parking_cancel_booking(args: dict[str, Any], booking_id: uuid.UUID) -> Any:
    """Cancel for the driver: refunded in full, told at once."""
    staff = current_user()
    booking = services.staff_booking(staff, booking_id)
    return services.cancel_for_driver(staff, booking, "staff", args["reason"].strip(), utcnow())


@staff_route(admin_blp, "/sessions", methods=["GET"])
@admin_blp.arguments(schemas.SessionListArgs, location="query")
@admin_blp.response(200, page_of(schemas.ParkingStaffSessionSchema))
def admin_parking_sessions(args: dict[str, Any]) -> Any:
    """Stays in my area's lots (open: cars inside now)."""
    stmt = services.staff_list(current_user(), ParkingSession, {"status": args["status"]})
    return paginate(stmt, order_by=(ParkingSession.id,), limit=args["limit"], cursor=args["cursor"])


@staff_route(admin_blp, "/anomalies", methods=["GET"])
@admin_blp.arguments(schemas.AnomalyListArgs, location="query")
@admin_blp.response(200, page_of(schemas.ParkingAnomalySchema))
def admin_parking_anomalies(args: dict[str, Any]) -> Any:
    """Unbooked entries, exits without an entry, misreads that opened, occupied spaces, silent sensors."""
    stmt = services.staff_list(current_user(), Anomaly, {"status": args["status"], "kind": args["kind"]})
    return paginate(stmt, order_by=(Anomaly.id,), limit=args["limit"], cursor=args["cursor"])


@staff_route(admin_blp, "/anomalies/<uuid:anomaly_id>/resolve", methods=["POST"])
@admin_blp.arguments(schemas.NoteArgs)
@admin_blp.response(200, schemas.ParkingAnomalySchema)
def admin_parking_resolve_anomaly(args: dict[str, Any], anomaly_id: uuid.UUID) -> Any:
    return gates.resolve_case(current_user(), anomaly_id, args["note"].strip(), utcnow())


@staff_route(admin_blp, "/sensors", methods=["GET"])
@admin_blp.arguments(CursorArgs, location="query")
@admin_blp.response(200, page_of(schemas.ParkingSensorSchema))
def admin_parking_sensors(args: dict[str, Any]) -> Any:
    stmt = services.staff_list(current_user(), Sensor, {})
    return paginate(stmt, order_by=(Sensor.id,), limit=args["limit"], cursor=args["cursor"])


@staff_route(admin_blp, "/sensors", methods=["POST"])
@admin_blp.arguments(schemas.SensorArgs)
@admin_blp.response(201, schemas.ParkingSensorSchema)
def admin_parking_register_sensor(args: dict[str, Any]) -> Any:
    """A magnetometer installed in a bay of my area."""
    return sensors.register(current_user(), args, utcnow())


@staff_route(admin_blp, "/free-counts", methods=["GET"])
@admin_blp.response(200, schemas.FreeCountsSchema)
def admin_parking_free_counts() -> Any:
    """Free places now per estate and lot, with how old the data is; silent sensors count as unknown."""
    return {"items": stats.free_counts(current_user(), utcnow())}


@staff_route(admin_blp, "/utilisation", methods=["GET"])
@admin_blp.arguments(schemas.UtilisationArgs, location="query")
@admin_blp.response(200, schemas.UtilisationSchema)
def admin_parking_utilisation(args: dict[str, Any]) -> Any:
    """Occupied and booked car-hours per lot and hour (at most 31 days), and utilisation."""
    if args["until"] <= args["since"]:
        raise ApiError("validation_failed", errors={"to": ["must be after from"]})
    return {"items": stats.utilisation(current_user(), args["since"], args["until"], utcnow())}


blueprints = [parking_blp, lender_blp, machines_blp, admin_blp]
