"""Routes of events: residents browse and book; staff create, publish, cancel, check in and count.
Thin: parse, authorise, call a service, serialise."""

from __future__ import annotations

import csv
import io
import uuid
from typing import Any

from flask import Response

from api import ratelimit
from api.auth import current_user, login_required, reads_replica, staff_route
from api.events import estimate, schemas, services
from api.events.models import Booking, Event
from api.extensions import Blueprint, get_settings
from api.fields import LOCAL_TZ
from api.idempotency import idempotent
from api.pagination import CursorArgs, page_of, paginate

events_blp = Blueprint("events", __name__, url_prefix="/api/v1/events", description="智慧文体: events and booking")
bookings_blp = Blueprint("bookings", __name__, url_prefix="/api/v1", description="My bookings")
admin_blp = Blueprint(
    "admin-events", __name__, url_prefix="/api/v1/admin/events", description="Staff: events, check-in, figures"
)

BOOKINGS_PER_MINUTE = 30


@events_blp.route("", methods=["GET"])
@login_required()
@events_blp.arguments(schemas.EventListArgs, location="query")
@events_blp.response(200, page_of(schemas.EventSchema))
@reads_replica
def list_events(args: dict[str, Any]) -> Any:
    """Published events, soonest first; filter by category, committee, dates, or what can be booked now."""
    stmt = services.list_events(
        category=args["category"],
        area_id=args["area_id"],
        starts_from=args["starts_from"],
        starts_until=args["starts_until"],
        bookable_now=args["bookable_now"],
    )
    return paginate(
        stmt, order_by=(Event.starts_at, Event.id), limit=args["limit"], cursor=args["cursor"], descending=False
    )


@events_blp.route("/<uuid:event_id>", methods=["GET"])
@login_required()
@events_blp.response(200, schemas.EventSchema)
def get_event(event_id: uuid.UUID) -> Any:
    """One event with seats left, booking window and eligibility."""
    return services.get_visible_event(event_id)


@events_blp.route("/<uuid:event_id>/bookings", methods=["POST"])
@login_required()
@idempotent
@events_blp.arguments(schemas.BookingArgs)
@events_blp.response(201, schemas.BookingSchema)
@events_blp.alt_response(200, schema=schemas.BookingSchema, description="You had booked already: that booking")
@events_blp.alt_response(403, description="Not eligible, or suspended after no-shows")
@events_blp.alt_response(409, description="Outside the booking window, cancelled, past, or full")
def book_event(args: dict[str, Any], event_id: uuid.UUID) -> Any:
    """Book a seat: confirmed while seats last, then waitlisted (promoted automatically when one frees)."""
    user = current_user()
    ratelimit.enforce("book", str(user.id), limit=BOOKINGS_PER_MINUTE)
    result = services.book(user, event_id, args["party_size"], get_settings())
    return result.booking, (201 if result.created else 200)


@bookings_blp.route("/me/bookings", methods=["GET"])
@login_required()
@bookings_blp.arguments(CursorArgs, location="query")
@bookings_blp.response(200, page_of(schemas.BookingSchema))
@reads_replica
def list_my_bookings(args: dict[str, Any]) -> Any:
    """My bookings, newest first."""
    stmt = services.my_bookings(current_user())
    return paginate(stmt, order_by=(Booking.id,), limit=args["limit"], cursor=args["cursor"])


@bookings_blp.route("/bookings/<uuid:booking_id>", methods=["GET"])
@login_required()
@bookings_blp.response(200, schemas.BookingSchema)
def get_my_booking(booking_id: uuid.UUID) -> Any:
    """One of my bookings, with its ticket when confirmed."""
    return services.own_booking(current_user(), booking_id)


@bookings_blp.route("/bookings/<uuid:booking_id>/cancel", methods=["POST"])
@login_required()
@bookings_blp.response(200, schemas.BookingSchema)
@bookings_blp.alt_response(409, description="After the cut-off, or already checked in")
def cancel_my_booking(booking_id: uuid.UUID) -> Any:
    """Cancel my booking; the seat goes to the first on the waitlist at once."""
    return services.cancel_booking(current_user(), booking_id, get_settings())


# Staff ------------------------------------------------------------------------------------------


@staff_route(admin_blp, "", methods=["GET"])
@admin_blp.arguments(schemas.AdminEventListArgs, location="query")
@admin_blp.response(200, page_of(schemas.EventSchema))
def admin_list_events(args: dict[str, Any]) -> Any:
    """Events of my area, drafts included, newest first."""
    stmt = services.staff_events(current_user(), args["status"])
    return paginate(stmt, order_by=(Event.id,), limit=args["limit"], cursor=args["cursor"])


@staff_route(admin_blp, "", methods=["POST"])
@admin_blp.arguments(schemas.EventCreateArgs)
@admin_blp.response(201, schemas.EventSchema)
def admin_create_event(args: dict[str, Any]) -> Any:
    """Create an event as a draft."""
    return services.create_event(current_user(), args)


@staff_route(admin_blp, "/<uuid:event_id>", methods=["GET"])
@admin_blp.response(200, schemas.EventSchema)
def admin_get_event(event_id: uuid.UUID) -> Any:
    """One event of my area, drafts included."""
    return services.staff_event(current_user(), event_id)


@staff_route(admin_blp, "/<uuid:event_id>", methods=["PATCH"])
@admin_blp.arguments(schemas.EventPatchArgs)
@admin_blp.response(200, schemas.EventSchema)
def admin_update_event(args: dict[str, Any], event_id: uuid.UUID) -> Any:
    """Edit an event; raising capacity fills seats from the waitlist at once."""
    return services.update_event(current_user(), event_id, args, get_settings())


@staff_route(admin_blp, "/<uuid:event_id>/publish", methods=["POST"])
@admin_blp.response(200, schemas.EventSchema)
def admin_publish_event(event_id: uuid.UUID) -> Any:
    """Make a draft visible and bookable (within its window)."""
    return services.publish_event(current_user(), event_id)


@staff_route(admin_blp, "/<uuid:event_id>/cancel", methods=["POST"])
@admin_blp.arguments(schemas.CancelEventArgs)
@admin_blp.response(200, schemas.EventSchema)
def admin_cancel_event(args: dict[str, Any], event_id: uuid.UUID) -> Any:
    """Cancel an event: every booking is released and its holder told the reason."""
    return services.cancel_event(current_user(), event_id, args["reason"])


@staff_route(admin_blp, "/<uuid:event_id>/helpers", methods=["POST"])
@admin_blp.arguments(schemas.HelpersArgs)
@admin_blp.response(200, schemas.HelpersAnswerSchema)
@admin_blp.alt_response(409, description="The event is a draft, cancelled or over")
def admin_request_helpers(args: dict[str, Any], event_id: uuid.UUID) -> Any:
    """Ask volunteers to help at the event (a volunteer task is made for it; asking again raises its places)."""
    return services.request_helpers(current_user(), event_id, args["slots"], args["note"])


@staff_route(admin_blp, "/<uuid:event_id>/check-ins", methods=["POST"])
@admin_blp.arguments(schemas.CheckInArgs)
@admin_blp.response(200, schemas.AttendeeSchema)
@admin_blp.alt_response(409, description="Another event's ticket, not confirmed, or already used")
@admin_blp.alt_response(422, description="Not a valid ticket")
def admin_check_in(args: dict[str, Any], event_id: uuid.UUID) -> Any:
    """Admit a ticket holder, once."""
    return services.check_in(current_user(), event_id, args["ticket"], get_settings())


@staff_route(admin_blp, "/<uuid:event_id>/attendance", methods=["GET"])
@admin_blp.arguments(CursorArgs, location="query")
@admin_blp.response(200, page_of(schemas.AttendeeSchema))
def admin_list_attendance(args: dict[str, Any], event_id: uuid.UUID) -> Any:
    """Confirmed and waitlisted bookings, in booking order."""
    stmt = services.attendance(current_user(), event_id)
    return paginate(stmt, order_by=(Booking.id,), limit=args["limit"], cursor=args["cursor"], descending=False)


CSV_COLUMNS = ("预约编号", "昵称", "手机", "状态", "人数", "候补序号", "报名时间", "签到时间")
STATUS_ZH = {"confirmed": "已确认", "waitlisted": "候补", "cancelled": "已取消"}


def _local(value: Any) -> str:
    return value.astimezone(LOCAL_TZ).strftime("%Y-%m-%d %H:%M") if value else ""


@staff_route(admin_blp, "/<uuid:event_id>/attendance.csv", methods=["GET"])
@admin_blp.doc(
    responses={"200": {"description": "attendance list", "content": {"text/csv": {"schema": {"type": "string"}}}}}
)
def admin_export_attendance(event_id: uuid.UUID) -> Any:
    """The attendance list as CSV (UTF-8 with BOM, so Excel opens the Chinese correctly)."""
    from api.db import db
    from api.masking import mask_phone

    stmt = services.attendance(current_user(), event_id).order_by(Booking.id)
    out = io.StringIO()
    out.write("\ufeff")
    writer = csv.writer(out)
    writer.writerow(CSV_COLUMNS)
    for booking in db.session.scalars(stmt):
        writer.writerow(
            [
                booking.id,
                booking.user.nickname,
                mask_phone(booking.user.phone) or "",
                STATUS_ZH[booking.status.value],
                booking.party_size,
                booking.waitlist_seq or "",
                _local(booking.created_at),
                _local(booking.checked_in_at),
            ]
        )
    return Response(
        out.getvalue(),
        mimetype="text/csv",
        headers={"Content-Disposition": f'attachment; filename="attendance-{event_id}.csv"'},
    )


@staff_route(admin_blp, "/<uuid:event_id>/figures", methods=["GET"])
@admin_blp.response(200, schemas.EventFiguresSchema)
def admin_event_figures(event_id: uuid.UUID) -> Any:
    """Booked, waitlisted, checked in, no-shows."""
    return services.figures(current_user(), event_id)


@staff_route(admin_blp, "/<uuid:event_id>/estimate", methods=["GET"])
@admin_blp.response(200, estimate.EstimateSchema)
def admin_estimate_event(event_id: uuid.UUID) -> Any:
    """热门程度预估: expected fill and no-show rates from past events like this one, with the figures used."""
    return estimate.estimate(services.staff_event(current_user(), event_id))


blueprints = [events_blp, bookings_blp, admin_blp]
