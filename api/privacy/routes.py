"""Routes of privacy: a person's export, account deletion, privacy overview and access log; the privacy
policy (public), its acceptance and its publication (admins); the access log (admins). Thin: parse,
authorise, call a service, serialise."""

from __future__ import annotations

import csv
import io
import uuid
from typing import Any

from flask import Response, g

from api.accounts import policy
from api.accounts.models import AccessLog, Role
from api.auth import current_user, login_required, policy_exempt, staff_route
from api.errors import ApiError, NotFound
from api.extensions import Blueprint, get_settings
from api.fields import LOCAL_TZ
from api.media.storage import get_storage
from api.pagination import CursorArgs, page_of, paginate
from api.privacy import schemas, services
from api.privacy.models import DataExport

me_blp = Blueprint("me-privacy", __name__, url_prefix="/api/v1/me", description="My data: export, deletion, who looked")
policy_blp = Blueprint("privacy-policy", __name__, url_prefix="/api/v1", description="The privacy policy")
admin_blp = Blueprint(
    "admin-privacy", __name__, url_prefix="/api/v1/admin", description="Staff: privacy policies, the access log"
)


# Export ------------------------------------------------------------------------------------------


def _export_view(export: DataExport) -> DataExport:
    export.download_url = services.download_url(export, get_storage())  # type: ignore[attr-defined]
    return export


@me_blp.route("/data-exports", methods=["POST"])
@login_required()
@policy_exempt
@me_blp.response(202, schemas.DataExportSchema)
@me_blp.alt_response(409, description="An export is already being made")
def privacy_request_export() -> Any:
    """Ask for a copy of everything Linli holds about me: a ZIP (a JSON document per part of Linli and my
    photos) is made in the background; poll it, then download it within the days it is kept."""
    return _export_view(services.request_export(current_user()))


@me_blp.route("/data-exports/<uuid:export_id>", methods=["GET"])
@login_required()
@policy_exempt
@me_blp.response(200, schemas.DataExportSchema)
@me_blp.alt_response(404, description="Not an export of mine")
def privacy_get_export(export_id: uuid.UUID) -> Any:
    """Progress of my export, and when ready a download link valid for 10 minutes."""
    return _export_view(services.export_of(current_user(), export_id))


# Deletion ----------------------------------------------------------------------------------------


@me_blp.route("/account-deletion", methods=["POST"])
@login_required()
@policy_exempt
@me_blp.response(202, schemas.DeletionSchema)
@me_blp.alt_response(409, description="Already asked; or blocked (I am an elder's only contact: staff are told)")
def privacy_request_deletion() -> Any:
    """Delete my account (注销): after the cooling-off period everything Linli holds about me is erased.
    Logging in again before then cancels it."""
    return services.request_deletion(current_user(), get_settings())


@me_blp.route("/account-deletion", methods=["GET"])
@login_required()
@policy_exempt
@me_blp.response(200, schemas.DeletionSchema)
@me_blp.alt_response(404, description="No deletion under way")
def privacy_get_deletion() -> Any:
    """My pending account deletion, if any."""
    request = services.open_deletion(current_user())
    if request is None:
        raise NotFound()
    return request


@me_blp.route("/account-deletion/cancel", methods=["POST"])
@login_required()
@policy_exempt
@me_blp.response(200, schemas.DeletionSchema)
@me_blp.alt_response(409, description="No deletion waiting")
def privacy_cancel_deletion() -> Any:
    """Keep my account after all."""
    request = services.cancel_deletion(current_user())
    if request is None:
        raise ApiError("deletion_not_requested")
    return request


# Overview, policy, access log ---------------------------------------------------------------------


@me_blp.route("/privacy", methods=["GET"])
@login_required()
@policy_exempt
@me_blp.response(200, schemas.PrivacyOverviewSchema)
def privacy_overview() -> Any:
    """The policy I accepted and when, my consents and links, and what kinds of data Linli holds."""
    return services.overview(current_user(), g.get("policy_in_force"))


@me_blp.route("/privacy/accept", methods=["POST"])
@login_required()
@policy_exempt
@me_blp.arguments(schemas.PolicyAcceptArgs)
@me_blp.response(200, schemas.PrivacyOverviewSchema)
@me_blp.alt_response(422, description="No such version")
def privacy_accept_policy(args: dict[str, Any]) -> Any:
    """I accept this version of the privacy policy."""
    user = policy.accept(current_user(), args["version"])
    return services.overview(user, g.get("policy_in_force"))


@me_blp.route("/access-log", methods=["GET"])
@login_required()
@policy_exempt
@me_blp.arguments(CursorArgs, location="query")
@me_blp.response(200, page_of(schemas.MyAccessLogEntrySchema))
def privacy_my_access_log(args: dict[str, Any]) -> Any:
    """Who at the street looked at my data, or at an elder I look after: their role and committee."""
    stmt = services.my_access_log(current_user())
    return paginate(stmt, order_by=(AccessLog.id,), limit=args["limit"], cursor=args["cursor"])


@policy_blp.route("/privacy-policy", methods=["GET"])
@policy_blp.response(200, schemas.PolicySchema)
@policy_blp.alt_response(404, description="No policy published yet")
def privacy_get_policy() -> Any:
    """The privacy policy in force (no login needed: it is read before agreeing)."""
    found = policy.policy_in_force()
    if found is None:
        raise NotFound()
    return found


@staff_route(admin_blp, "/privacy-policies", roles=(Role.ADMIN,), methods=["POST"])
@admin_blp.arguments(schemas.PolicyPublishArgs)
@admin_blp.response(201, schemas.PolicySchema)
@admin_blp.alt_response(409, description="This version was already published")
def privacy_publish_policy(args: dict[str, Any]) -> Any:
    """Publish a version of the privacy policy; from its effective time residents must accept it."""
    return policy.publish(current_user(), args["version"], args["text"], args["effective_at"])


@staff_route(admin_blp, "/access-log", methods=["GET"])
@admin_blp.arguments(schemas.AccessLogArgs, location="query")
@admin_blp.response(200, page_of(schemas.AccessLogEntrySchema))
@admin_blp.alt_response(404, description="Staff other than admins: name an elder of your area")
def privacy_access_log(args: dict[str, Any]) -> Any:
    """Staff reads of personal data, newest first (admins; other staff: the trail on an elder of their area)."""
    stmt = services.access_log(current_user(), _filters(args))
    return paginate(stmt, order_by=(AccessLog.id,), limit=args["limit"], cursor=args["cursor"])


@staff_route(admin_blp, "/access-log.csv", methods=["GET"])
@admin_blp.arguments(schemas.AccessLogArgs, location="query")
@admin_blp.response(200, description="text/csv")
@admin_blp.alt_response(404, description="Staff other than admins: name an elder of your area")
def privacy_access_log_csv(args: dict[str, Any]) -> Any:
    """The same rows as CSV (at most 50,000, newest first)."""
    stmt = services.access_log(current_user(), _filters(args)).order_by(AccessLog.id.desc()).limit(50_000)
    from api.db import db

    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(["时间", "工作人员", "角色", "居委会", "对象类型", "对象", "字段", "路由", "理由"])
    for row in db.session.scalars(stmt):
        writer.writerow(
            [
                row.at.astimezone(LOCAL_TZ).strftime("%Y-%m-%d %H:%M:%S"),
                row.staff_id or "",
                row.staff_role,
                row.staff_area_code or "",
                row.subject_kind,
                row.subject_id or "",
                " ".join(row.fields or []),
                row.route,
                row.reason or "",
            ]
        )
    return Response(
        "\ufeff" + out.getvalue(),
        mimetype="text/csv",
        headers={"Content-Disposition": "attachment; filename=access-log.csv"},
    )


def _filters(args: dict[str, Any]) -> services.AccessLogFilters:
    return services.AccessLogFilters(
        subject_kind=args["subject_kind"],
        subject_id=args["subject_id"],
        staff_id=args["staff_id"],
        since=args["since"],
        until=args["until"],
    )


blueprints = [me_blp, policy_blp, admin_blp]
