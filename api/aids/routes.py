"""Routes of rehabilitation aids lending: residents (the catalogue, availability, reservations and loans, renewal,
waits) and staff (the catalogue — admins —, stations, stock, hand-out and return). Thin: parse, authorise, call a
service, serialise."""

from __future__ import annotations

import uuid
from typing import Any

from api.accounts.access import ELDER, USER, record_access
from api.accounts.models import Role, User
from api.aids import schemas, services
from api.aids.models import AidItem, AidLoan, AidLocation, AidWait
from api.auth import current_user, login_required, staff_route
from api.db import utcnow
from api.extensions import Blueprint
from api.idempotency import idempotent
from api.media.services import preload_photos
from api.pagination import CursorArgs, page_of, paginate

aids_blp = Blueprint("aids", __name__, url_prefix="/api/v1/aids", description="康复辅具共享: rehabilitation aids")
admin_blp = Blueprint(
    "admin-aids", __name__, url_prefix="/api/v1/admin/aids", description="Staff: aid stations, stock, loans"
)
ADMINS = (Role.ADMIN,)
BORROWER_SHOWN = ("nickname", "phone_masked")
# The condition photos a loan shows: at hand-out and at return.
LOAN_PHOTOS = ("aid_loan_out", "aid_loan_return")


# Residents --------------------------------------------------------------------------------------


@aids_blp.route("/types", methods=["GET"])
@login_required()
@aids_blp.response(200, schemas.AidTypesSchema)
def aids_types() -> Any:
    """The kinds of aid lent, with their deposit and loan period."""
    return {"items": services.types()}


@aids_blp.route("/availability", methods=["GET"])
@login_required()
@aids_blp.arguments(schemas.AidAvailabilityArgs, location="query")
@aids_blp.response(200, schemas.AidAvailabilitySchema)
@aids_blp.alt_response(422, description="Unknown area")
def aids_availability(args: dict[str, Any]) -> Any:
    """Per station and kind: how many are lendable, free now, and waited for. Nobody is named."""
    return {"items": services.availability(args["type_id"], args["area_id"])}


@aids_blp.route("/reservations", methods=["POST"])
@login_required()
@idempotent
@aids_blp.arguments(schemas.AidReserveArgs)
@aids_blp.response(201, schemas.AidLoanSchema)
@aids_blp.alt_response(403, description="The elder is not one I am a confirmed family member of")
@aids_blp.alt_response(409, description="None free (`aid_unavailable`), or the named aid is out (`aid_already_lent`)")
@aids_blp.alt_response(422, description="Unknown type, station or item")
def aids_reserve(args: dict[str, Any]) -> Any:
    """Reserve an aid for me or an elder I look after: held at the station for pick-up; a deposit, when the kind
    has one, is a payment order (`order_id`) to pay now."""
    return services.reserve(current_user(), args, utcnow())


@aids_blp.route("/loans", methods=["GET"])
@login_required()
@aids_blp.arguments(CursorArgs, location="query")
@aids_blp.response(200, page_of(schemas.AidLoanSchema))
def aids_my_loans(args: dict[str, Any]) -> Any:
    """My reservations and loans, and those of the elders I look after, newest first."""
    page = paginate(
        services.my_loans(current_user()), order_by=(AidLoan.id,), limit=args["limit"], cursor=args["cursor"]
    )
    preload_photos(page.items, LOAN_PHOTOS)
    return page


@aids_blp.route("/loans/<uuid:loan_id>", methods=["GET"])
@login_required()
@aids_blp.response(200, schemas.AidLoanSchema)
@aids_blp.alt_response(404, description="Not mine nor an elder's I look after")
def aids_my_loan(loan_id: uuid.UUID) -> Any:
    return services.own_loan(current_user(), loan_id)


@aids_blp.route("/loans/<uuid:loan_id>/cancel", methods=["POST"])
@login_required()
@aids_blp.response(200, schemas.AidLoanSchema)
@aids_blp.alt_response(404, description="Not mine nor an elder's I look after")
@aids_blp.alt_response(409, description="Not a reservation any more")
def aids_cancel(loan_id: uuid.UUID) -> Any:
    """Cancel a reservation: the deposit comes back in full."""
    return services.cancel_by_resident(current_user(), loan_id, utcnow())


@aids_blp.route("/loans/<uuid:loan_id>/renew", methods=["POST"])
@login_required()
@aids_blp.response(200, schemas.AidLoanSchema)
@aids_blp.alt_response(404, description="Not mine nor an elder's I look after")
@aids_blp.alt_response(409, description="Renewed before, overdue, or somebody waits for this kind of aid")
def aids_renew(loan_id: uuid.UUID) -> Any:
    """Another loan period, once, before the due date, while nobody waits."""
    return services.renew(current_user(), loan_id, utcnow())


@aids_blp.route("/waits", methods=["POST"])
@login_required()
@idempotent
@aids_blp.arguments(schemas.AidWaitArgs)
@aids_blp.response(201, schemas.AidWaitSchema)
@aids_blp.alt_response(409, description="Already waiting for it")
@aids_blp.alt_response(422, description="Unknown type or station")
def aids_wait(args: dict[str, Any]) -> Any:
    """Wait for a kind of aid at a station: told when one comes back (whoever reserves first has it)."""
    return services.wait(current_user(), args["type_id"], args["location_id"], utcnow())


@aids_blp.route("/waits", methods=["GET"])
@login_required()
@aids_blp.arguments(CursorArgs, location="query")
@aids_blp.response(200, page_of(schemas.AidWaitSchema))
def aids_my_waits(args: dict[str, Any]) -> Any:
    return paginate(
        services.my_waits(current_user()), order_by=(AidWait.id,), limit=args["limit"], cursor=args["cursor"]
    )


@aids_blp.route("/waits/<uuid:wait_id>/leave", methods=["POST"])
@login_required()
@aids_blp.response(200, schemas.AidWaitSchema)
@aids_blp.alt_response(404, description="Not mine")
def aids_leave_wait(wait_id: uuid.UUID) -> Any:
    return services.leave_wait(current_user(), wait_id, utcnow())


# Staff ------------------------------------------------------------------------------------------


@staff_route(admin_blp, "/types", methods=["POST"], roles=ADMINS)
@admin_blp.arguments(schemas.AidTypeArgs)
@admin_blp.response(201, schemas.AidTypeSchema)
def admin_aids_create_type(args: dict[str, Any]) -> Any:
    """A kind of aid the subdistrict lends (admins: the catalogue is the whole subdistrict's)."""
    return services.create_type(dict(args))


@staff_route(admin_blp, "/types/<uuid:aid_type_id>", methods=["PATCH"], roles=ADMINS)
@admin_blp.arguments(schemas.AidTypePatchArgs)
@admin_blp.response(200, schemas.AidTypeSchema)
def admin_aids_update_type(args: dict[str, Any], aid_type_id: uuid.UUID) -> Any:
    """Its name, deposit or loan period (loans already made keep theirs), or retire it."""
    return services.update_type(aid_type_id, dict(args))


@staff_route(admin_blp, "/locations", methods=["GET"])
@admin_blp.arguments(CursorArgs, location="query")
@admin_blp.response(200, page_of(schemas.StaffAidLocationSchema))
def admin_aids_locations(args: dict[str, Any]) -> Any:
    stmt = services.staff_list(current_user(), AidLocation, {})
    return paginate(stmt, order_by=(AidLocation.id,), limit=args["limit"], cursor=args["cursor"])


@staff_route(admin_blp, "/locations", methods=["POST"])
@admin_blp.arguments(schemas.AidLocationArgs)
@admin_blp.response(201, schemas.StaffAidLocationSchema)
def admin_aids_create_location(args: dict[str, Any]) -> Any:
    """A service station in an area of mine."""
    return services.create_location(current_user(), dict(args))


@staff_route(admin_blp, "/locations/<uuid:aid_location_id>", methods=["GET"])
@admin_blp.response(200, schemas.StaffAidLocationSchema)
def admin_aids_location(aid_location_id: uuid.UUID) -> Any:
    return services.staff_location(current_user(), aid_location_id)


@staff_route(admin_blp, "/locations/<uuid:aid_location_id>", methods=["PATCH"])
@admin_blp.arguments(schemas.AidLocationPatchArgs)
@admin_blp.response(200, schemas.StaffAidLocationSchema)
def admin_aids_update_location(args: dict[str, Any], aid_location_id: uuid.UUID) -> Any:
    return services.update_location(current_user(), aid_location_id, dict(args))


@staff_route(admin_blp, "/items", methods=["GET"])
@admin_blp.arguments(schemas.AidItemListArgs, location="query")
@admin_blp.response(200, page_of(schemas.AidItemSchema))
def admin_aids_items(args: dict[str, Any]) -> Any:
    """The stock of my area's stations."""
    filters = {k: args[k] for k in ("type_id", "location_id", "condition")}
    stmt = services.staff_list(current_user(), AidItem, filters)
    return paginate(stmt, order_by=(AidItem.id,), limit=args["limit"], cursor=args["cursor"])


@staff_route(admin_blp, "/items", methods=["POST"])
@admin_blp.arguments(schemas.AidItemArgs)
@admin_blp.response(201, schemas.AidItemSchema)
def admin_aids_create_item(args: dict[str, Any]) -> Any:
    """An aid put in stock at a station of mine, with its asset tag."""
    return services.create_item(current_user(), dict(args))


@staff_route(admin_blp, "/items/<uuid:aid_item_id>", methods=["GET"])
@admin_blp.response(200, schemas.AidItemSchema)
def admin_aids_item(aid_item_id: uuid.UUID) -> Any:
    return services.staff_item(current_user(), aid_item_id)


@staff_route(admin_blp, "/items/<uuid:aid_item_id>", methods=["PATCH"])
@admin_blp.arguments(schemas.AidItemPatchArgs)
@admin_blp.response(200, schemas.AidItemSchema)
@admin_blp.alt_response(409, description="Retiring an item that is reserved or lent out")
def admin_aids_update_item(args: dict[str, Any], aid_item_id: uuid.UUID) -> Any:
    """Its condition: mended, worn, retired."""
    return services.update_item(current_user(), aid_item_id, dict(args), utcnow())


@staff_route(admin_blp, "/stock", methods=["GET"])
@admin_blp.response(200, schemas.AidStockSchema)
def admin_aids_stock() -> Any:
    """Per station of my area and kind: items, lendable, free, reserved, lent, overdue, waiting for repair."""
    return {"items": services.stock(current_user(), utcnow())}


@staff_route(admin_blp, "/loans", methods=["GET"])
@admin_blp.arguments(schemas.AidLoanListArgs, location="query")
@admin_blp.response(200, page_of(schemas.StaffAidLoanSchema))
def admin_aids_loans(args: dict[str, Any]) -> Any:
    """Reservations and loans of my area's stations (`overdue=true`: lent and past due), with the borrower's name
    and phone masked: each borrower and elder shown is a row of the access log."""
    staff = current_user()
    page = paginate(
        services.staff_loans(staff, args, utcnow()), order_by=(AidLoan.id,), limit=args["limit"], cursor=args["cursor"]
    )
    _log_read(staff, page.items)
    preload_photos(page.items, LOAN_PHOTOS)
    return page


def _log_read(staff: User, loans: list[AidLoan]) -> None:
    record_access(staff, USER, [loan.user_id for loan in loans if loan.user_id], BORROWER_SHOWN)
    record_access(staff, ELDER, [loan.elder_id for loan in loans if loan.elder_id], ("name",))


@staff_route(admin_blp, "/loans/<uuid:aid_loan_id>", methods=["GET"])
@admin_blp.response(200, schemas.StaffAidLoanSchema)
def admin_aids_loan(aid_loan_id: uuid.UUID) -> Any:
    staff = current_user()
    loan = services.staff_loan(staff, aid_loan_id)
    _log_read(staff, [loan])
    return loan


@staff_route(admin_blp, "/loans/<uuid:aid_loan_id>/lend", methods=["POST"])
@idempotent
@admin_blp.arguments(schemas.AidLendArgs)
@admin_blp.response(200, schemas.StaffAidLoanSchema)
@admin_blp.alt_response(409, description="Not reserved, the deposit unpaid, or the item not lendable")
@admin_blp.alt_response(422, description="A photo that is not mine or not uploaded")
def admin_aids_lend(args: dict[str, Any], aid_loan_id: uuid.UUID) -> Any:
    """Hand a reserved aid out, with a condition note and photos; due back after the type's loan period."""
    return services.lend(current_user(), aid_loan_id, args, utcnow())


@staff_route(admin_blp, "/loans/<uuid:aid_loan_id>/return", methods=["POST"])
@idempotent
@admin_blp.arguments(schemas.AidReturnArgs)
@admin_blp.response(200, schemas.StaffAidLoanSchema)
@admin_blp.alt_response(409, description="Not lent out (returned already)")
@admin_blp.alt_response(422, description="A deduction above the deposit or without a reason; a bad photo")
def admin_aids_return(args: dict[str, Any], aid_loan_id: uuid.UUID) -> Any:
    """Take an aid back: condition notes and photos, damaged or not; the deposit less any deduction is refunded."""
    return services.return_loan(current_user(), aid_loan_id, args, utcnow())


@staff_route(admin_blp, "/loans/<uuid:aid_loan_id>/cancel", methods=["POST"])
@admin_blp.arguments(schemas.AidCancelArgs)
@admin_blp.response(200, schemas.StaffAidLoanSchema)
@admin_blp.alt_response(409, description="Not a reservation any more")
def admin_aids_cancel(args: dict[str, Any], aid_loan_id: uuid.UUID) -> Any:
    """Cancel a reservation (the aid broke, the family rang): the deposit comes back in full, the borrower is told."""
    return services.cancel_by_staff(current_user(), aid_loan_id, args["reason"], utcnow())


blueprints = [aids_blp, admin_blp]
