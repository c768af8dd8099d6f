"""Routes of incidents (随手拍): residents report and follow; staff triage, dispatch, merge and count.
Thin: parse, authorise, call a service, serialise."""

from __future__ import annotations

import uuid
from typing import Any

from api import ratelimit
from api.accounts.access import USER, record_access
from api.accounts.services import load_ancestors
from api.auth import current_user, login_required, reads_replica, staff_route
from api.extensions import Blueprint, get_settings
from api.idempotency import idempotent
from api.incidents import schemas, services
from api.incidents.models import HandlingUnit, Incident
from api.pagination import CursorArgs, page_of, paginate

blp = Blueprint("incidents", __name__, url_prefix="/api/v1", description="随手拍: report problems and follow them")
admin_blp = Blueprint(
    "admin-incidents",
    __name__,
    url_prefix="/api/v1/admin",
    description="Staff: triage, dispatch, handle, merge, statistics of incidents",
)


@blp.route("/incident-categories", methods=["GET"])
@login_required()
@blp.response(200, schemas.IncidentCategorySchema(many=True))
def incidents_list_categories() -> Any:
    """The two-level catalogue (大类 → 小类) with each time limit, photo rule and extra fields."""
    return services.list_categories()


@blp.route("/incidents", methods=["POST"])
@login_required()
@idempotent
@blp.arguments(schemas.IncidentCreateArgs)
@blp.response(201, schemas.IncidentCreatedSchema)
@blp.alt_response(409, description="A photo is not ready or is attached elsewhere")
@blp.alt_response(422, description="Unknown category, missing photo, location outside the subdistrict …")
@blp.alt_response(429, description="Too many reports in the last hour")
def incidents_create(args: dict[str, Any]) -> Any:
    """Report a problem with photos and a location; nearby open reports of the same kind are listed."""
    user = current_user()
    settings = get_settings()
    ratelimit.enforce("incident-report", str(user.id), limit=settings.incidents_reports_per_hour, window_seconds=3600)
    location = args["location"]
    created = services.create_incident(
        user,
        category_code=args["category"],
        description=args["description"],
        lat=location["lat"],
        lng=location["lng"],
        address=location["address"],
        media_ids=args["media_ids"],
        attributes=args["attributes"],
        area_id=args["area_id"],
        settings=settings,
    )
    incident = created.incident
    incident.possible_duplicates = created.possible_duplicates  # type: ignore[attr-defined]
    return incident, 201


@blp.route("/me/incidents", methods=["GET"])
@login_required()
@blp.arguments(CursorArgs, location="query")
@blp.response(200, page_of(schemas.IncidentSummarySchema))
@reads_replica
def incidents_list_mine(args: dict[str, Any]) -> Any:
    """Reports I filed or follow (merged into another), newest first."""
    stmt = services.my_incidents(current_user())
    page = paginate(stmt, order_by=(Incident.id,), limit=args["limit"], cursor=args["cursor"])
    load_ancestors(i.area for i in page.items)  # the places' full names, in one statement
    return page


@blp.route("/incidents/<uuid:incident_id>", methods=["GET"])
@login_required()
@blp.response(200, schemas.IncidentDetailSchema)
def incidents_get(incident_id: uuid.UUID) -> Any:
    """One of my reports: its photos, the timeline of what was done, and the handler's closing photos."""
    incident = services.own_incident(current_user(), incident_id)
    load_ancestors([incident.area])
    return incident


@blp.route("/incidents/<uuid:incident_id>/feedback", methods=["POST"])
@login_required()
@blp.arguments(schemas.FeedbackArgs)
@blp.response(200, schemas.IncidentDetailSchema)
@blp.alt_response(403, description="Only the reporter rates the result")
@blp.alt_response(409, description="Not resolved yet, or already rated")
def incidents_give_feedback(args: dict[str, Any], incident_id: uuid.UUID) -> Any:
    """Rate the result (1–5): 1–2 sends the case back for handling, 3–5 closes it."""
    return services.give_feedback(current_user(), incident_id, args["score"], args["comment"])


# Staff ------------------------------------------------------------------------------------------


@staff_route(admin_blp, "/incidents", methods=["GET"])
@admin_blp.arguments(schemas.AdminIncidentListArgs, location="query")
@admin_blp.response(200, page_of(schemas.AdminIncidentSummarySchema))
@reads_replica
def admin_list_incidents(args: dict[str, Any]) -> Any:
    """The triage queue of my area, newest first; filter by status, category, committee, overdue."""
    stmt = services.triage_queue(
        current_user(),
        status=args["status"],
        category=args["category"],
        area_id=args["area_id"],
        overdue=args["overdue"],
    )
    page = paginate(stmt, order_by=(Incident.id,), limit=args["limit"], cursor=args["cursor"])
    load_ancestors(i.area for i in page.items)  # the places' full names, in one statement
    return page


@staff_route(admin_blp, "/incidents/stats", methods=["GET"])
@admin_blp.arguments(schemas.StatsArgs, location="query")
@admin_blp.response(200, schemas.StatsSchema)
@admin_blp.alt_response(422, description="`from` is not before `to`")
@reads_replica
def admin_incident_stats(args: dict[str, Any]) -> Any:
    """Received, closed, closure rate, median/p90 handling hours, overdue and satisfaction, per committee
    or category, for cases received in [from, to) within my area."""
    from api.errors import ApiError

    start, end = args["from_"], args["to"]
    if start >= end:
        raise ApiError("validation_failed", errors={"to": ["must be after from"]})
    staff = current_user()
    rows, total = services.statistics_with_total(staff, start=start, end=end, group_by=args["group_by"])
    empty = {k: 0 for k in ("received", "closed", "rejected", "overdue", "feedback_count")}
    none = dict.fromkeys(("closure_rate", "median_handling_hours", "p90_handling_hours", "satisfaction_rate"))
    return {
        "group_by": args["group_by"],
        "from_": start,
        "to": end,
        "rows": rows,
        "total": total or {"key": "total", "name": "合计", **empty, **none},
    }


@staff_route(admin_blp, "/incidents/<uuid:incident_id>", methods=["GET"])
@admin_blp.response(200, schemas.AdminIncidentDetailSchema)
def admin_get_incident(incident_id: uuid.UUID) -> Any:
    """One case with its full timeline (who did what, when), the reporter (phone masked) and allowed actions."""
    staff = current_user()
    incident = services.staff_incident(staff, incident_id)
    load_ancestors([incident.area])
    record_access(staff, USER, [incident.reporter_id], ("reporter_nickname", "reporter_phone_masked"))
    return incident


@staff_route(admin_blp, "/incidents/<uuid:incident_id>/transitions", methods=["POST"])
@admin_blp.arguments(schemas.TransitionArgs)
@admin_blp.response(200, schemas.AdminIncidentDetailSchema)
@admin_blp.alt_response(409, description="`transition_not_allowed`: `errors.action` lists the allowed actions")
@admin_blp.alt_response(
    422, description="A reason, note, category or dispatch target is missing or unknown, or an area outside mine"
)
def admin_transition_incident(args: dict[str, Any], incident_id: uuid.UUID) -> Any:
    """Move a case through its cycle: accept, reclassify, reject, dispatch, start, resolve, close, reopen."""
    return services.transition(current_user(), incident_id, args["action"], args)


@staff_route(admin_blp, "/incidents/<uuid:incident_id>/merge", methods=["POST"])
@admin_blp.arguments(schemas.MergeArgs)
@admin_blp.response(200, schemas.AdminIncidentDetailSchema)
@admin_blp.alt_response(409, description="Different categories, or one of them is no longer open")
@admin_blp.alt_response(422, description="No such case to merge into in my area")
def admin_merge_incident(args: dict[str, Any], incident_id: uuid.UUID) -> Any:
    """Merge this duplicate into another case: its reporter follows the survivor; this one is closed."""
    return services.merge(current_user(), incident_id, args["into"])


@staff_route(admin_blp, "/handling-units", methods=["GET"])
@admin_blp.arguments(CursorArgs, location="query")
@admin_blp.response(200, page_of(schemas.HandlingUnitSchema))
def admin_list_handling_units(args: dict[str, Any]) -> Any:
    """Property companies, grids and city departments that cases in my area can be dispatched to."""
    stmt = services.handling_units(current_user())
    return paginate(stmt, order_by=(HandlingUnit.id,), limit=args["limit"], cursor=args["cursor"], descending=False)


@staff_route(admin_blp, "/handling-units", methods=["POST"])
@admin_blp.arguments(schemas.HandlingUnitArgs)
@admin_blp.response(201, schemas.HandlingUnitSchema)
@admin_blp.alt_response(422, description="Unknown area or outside mine; committee staff must name one")
def admin_create_handling_unit(args: dict[str, Any]) -> Any:
    """Add a handling unit serving an area of mine."""
    return services.create_handling_unit(current_user(), args["name"], args["kind"], args["area_id"]), 201


blueprints = [blp, admin_blp]
