"""Routes of accounts: login and tokens, the resident's own profile and households, areas, and the
staff side of household binding. Thin: parse, authorise, call a service, serialise."""

from __future__ import annotations

import uuid
from typing import Any

from flask import g, request
from sqlalchemy import select

from api import ratelimit
from api.accounts import policy, schemas, services
from api.accounts.access import USER, record_access
from api.accounts.models import Area, AreaKind, HouseholdRequest, Room
from api.auth import current_user, login_required, policy_exempt, reads_replica, staff_route
from api.db import db
from api.errors import NotFound
from api.extensions import Blueprint, get_miniprogram, get_settings
from api.idempotency import idempotent
from api.pagination import CursorArgs, page_of, paginate

auth_blp = Blueprint("auth", __name__, url_prefix="/api/v1/auth", description="Login, token refresh and logout")
me_blp = Blueprint("me", __name__, url_prefix="/api/v1/me", description="The signed-in person: profile and households")
areas_blp = Blueprint("areas", __name__, url_prefix="/api/v1/areas", description="居委会 → 小区 → 楼 → 室")
admin_blp = Blueprint(
    "admin-accounts", __name__, url_prefix="/api/v1/admin", description="Staff: household binding approvals"
)


def _client_ip() -> str:
    return request.remote_addr or "unknown"


def _tokens(pair: services.TokenPair) -> dict[str, Any]:
    return {
        "access_token": pair.access_token,
        "refresh_token": pair.refresh_token,
        "expires_in": pair.expires_in,
        "user": pair.user,
    }


@auth_blp.route("/wechat-login", methods=["POST"])
@auth_blp.arguments(schemas.WechatLoginArgs)
@auth_blp.response(200, schemas.TokenSchema)
@auth_blp.alt_response(400, description="The code is invalid or was already used")
@auth_blp.alt_response(429, description="Too many attempts")
def wechat_login(args: dict[str, Any]) -> Any:
    """Log in with the code from `wx.login()`; the first login creates the resident."""
    settings = get_settings()
    ratelimit.enforce("login-ip", _client_ip(), limit=settings.login_rate_limit_per_minute)
    return _tokens(services.wechat_login(args["code"], get_miniprogram(), settings))


@auth_blp.route("/staff-login", methods=["POST"])
@auth_blp.arguments(schemas.StaffLoginArgs)
@auth_blp.response(200, schemas.TokenSchema)
@auth_blp.alt_response(401, description="Wrong username or password")
@auth_blp.alt_response(429, description="Too many attempts; the account is locked for a while")
def staff_login(args: dict[str, Any]) -> Any:
    """Password login for street staff."""
    settings = get_settings()
    ratelimit.enforce("login-ip", _client_ip(), limit=settings.login_rate_limit_per_minute)
    return _tokens(services.staff_login(args["username"], args["password"], settings))


@auth_blp.route("/refresh", methods=["POST"])
@auth_blp.arguments(schemas.RefreshArgs)
@auth_blp.response(200, schemas.TokenSchema)
@auth_blp.alt_response(401, description="Invalid, expired or already used refresh token")
def refresh(args: dict[str, Any]) -> Any:
    """Trade a refresh token for a new pair. Each refresh token works once; reuse ends the session."""
    return _tokens(services.refresh_tokens(args["refresh_token"], get_settings()))


@auth_blp.route("/logout", methods=["POST"])
@auth_blp.arguments(schemas.RefreshArgs)
@auth_blp.response(204)
def logout(args: dict[str, Any]) -> None:
    """End the session this refresh token belongs to (on this device)."""
    services.logout(args["refresh_token"], get_settings())


@me_blp.route("", methods=["GET"])
@login_required()
@policy_exempt
@me_blp.response(200, schemas.MeSchema)
def get_me() -> Any:
    """My profile, roles and households, and whether I must accept the privacy policy in force. The phone
    number is always masked."""
    user = current_user()
    user.households = services.households_of(user)
    user.privacy_policy = policy.state_of(user, g.get("policy_in_force"))
    return user


@me_blp.route("", methods=["PATCH"])
@login_required()
@me_blp.arguments(schemas.ProfilePatchArgs)
@me_blp.response(200, schemas.MeSchema)
def patch_me(args: dict[str, Any]) -> Any:
    """Change nickname or avatar, or bind the WeChat phone number with a `getPhoneNumber` code."""
    user = services.update_profile(current_user(), get_miniprogram(), **args)
    user.households = services.households_of(user)
    user.privacy_policy = policy.state_of(user, g.get("policy_in_force"))
    return user


@me_blp.route("/household-requests", methods=["POST"])
@login_required()
@idempotent
@me_blp.arguments(schemas.HouseholdRequestArgs)
@me_blp.response(201, schemas.HouseholdRequestSchema)
@me_blp.alt_response(409, description="Already bound, or a request for this room is pending")
def create_household_request(args: dict[str, Any]) -> Any:
    """Ask to be bound to a room; staff of its area decide."""
    return services.request_household(current_user(), args["room_id"], args["relation"], args["note"])


@me_blp.route("/household-requests", methods=["GET"])
@login_required()
@me_blp.arguments(CursorArgs, location="query")
@me_blp.response(200, page_of(schemas.HouseholdRequestSchema))
def list_household_requests(args: dict[str, Any]) -> Any:
    """My household binding requests, newest first."""
    stmt = select(HouseholdRequest).where(HouseholdRequest.user_id == current_user().id)
    return paginate(stmt, order_by=(HouseholdRequest.id,), limit=args["limit"], cursor=args["cursor"])


@me_blp.route("/household-requests/<uuid:request_id>/withdraw", methods=["POST"])
@login_required()
@me_blp.response(200, schemas.HouseholdRequestSchema)
def withdraw_household_request(request_id: uuid.UUID) -> Any:
    """Withdraw a request that is still pending."""
    return services.withdraw_household_request(current_user(), request_id)


@areas_blp.route("", methods=["GET"])
@login_required()
@areas_blp.arguments(schemas.AreaListArgs, location="query")
@areas_blp.response(200, page_of(schemas.AreaSchema))
@reads_replica
def list_areas(args: dict[str, Any]) -> Any:
    """Browse the area tree: roots, or the children of `parent_id`; `q` filters by name."""
    stmt = services.search_areas(args["parent_id"], args["q"])
    return paginate(stmt, order_by=(Area.code, Area.id), limit=args["limit"], cursor=args["cursor"], descending=False)


@areas_blp.route("/<uuid:area_id>/rooms", methods=["GET"])
@login_required()
@areas_blp.arguments(CursorArgs, location="query")
@areas_blp.response(200, page_of(schemas.RoomSchema))
def list_rooms(args: dict[str, Any], area_id: uuid.UUID) -> Any:
    """Rooms of a building, in number order."""
    area = db.session.get(Area, area_id)
    if area is None or area.kind != AreaKind.BUILDING:
        raise NotFound()
    return paginate(
        services.rooms_of_building(area_id),
        order_by=(Room.number, Room.id),
        limit=args["limit"],
        cursor=args["cursor"],
        descending=False,
    )


@staff_route(admin_blp, "/household-requests", methods=["GET"])
@admin_blp.arguments(schemas.AdminHouseholdRequestListArgs, location="query")
@admin_blp.response(200, page_of(schemas.AdminHouseholdRequestSchema))
@reads_replica
def admin_list_household_requests(args: dict[str, Any]) -> Any:
    """Household requests in my area (pending by default), newest first."""
    staff = current_user()
    stmt = services.household_requests_in_scope(staff, args["status"])
    page = paginate(stmt, order_by=(HouseholdRequest.id,), limit=args["limit"], cursor=args["cursor"])
    services.load_ancestors(r.room.building for r in page.items)  # the addresses, in one statement
    record_access(staff, USER, [r.user_id for r in page.items], ("household_request", "nickname", "phone_masked"))
    return page


@staff_route(admin_blp, "/users/<uuid:user_id>/reveal-phone", methods=["POST"])
@admin_blp.arguments(schemas.RevealPhoneArgs)
@admin_blp.response(200, schemas.RevealedPhoneSchema)
@admin_blp.alt_response(404, description="No such resident, or none with a household in my area")
def reveal_user_phone(args: dict[str, Any], user_id: uuid.UUID) -> Any:
    """A resident's full phone number (of my area), for a reason that goes into the access log."""
    staff = current_user()
    person = services.resident_in_scope(staff, user_id)
    record_access(staff, USER, [person.id], ["phone"], reason=args["reason"])
    return {"phone": person.phone}


@staff_route(admin_blp, "/household-requests/<uuid:request_id>/approve", methods=["POST"])
@admin_blp.response(200, schemas.AdminHouseholdRequestSchema)
@admin_blp.alt_response(409, description="Already decided")
def approve_household_request(request_id: uuid.UUID) -> Any:
    """Approve: the applicant becomes a member of the household."""
    return services.approve_household_request(current_user(), request_id)


@staff_route(admin_blp, "/household-requests/<uuid:request_id>/reject", methods=["POST"])
@admin_blp.arguments(schemas.RejectArgs)
@admin_blp.response(200, schemas.AdminHouseholdRequestSchema)
@admin_blp.alt_response(409, description="Already decided")
def reject_household_request(args: dict[str, Any], request_id: uuid.UUID) -> Any:
    """Reject with a reason the resident will see."""
    return services.reject_household_request(current_user(), request_id, args["reason"])


blueprints = [auth_blp, me_blp, areas_blp, admin_blp]
