"""Routes of eldercare: residents register elders and bind as family; elders confirm their family;
staff manage profiles, consent, invites and contact order.
Thin: parse, authorise, call a service, serialise."""

from __future__ import annotations

import logging
import uuid
from typing import Any

from api import ratelimit
from api.accounts import schemas as account_schemas
from api.accounts.access import ELDER, USER, record_access
from api.auth import current_user, login_required, staff_route
from api.eldercare import schemas, services
from api.eldercare.models import Elder
from api.extensions import Blueprint, get_settings
from api.idempotency import idempotent
from api.pagination import CursorArgs, page_of, paginate

log = logging.getLogger(__name__)

elders_blp = Blueprint(
    "eldercare", __name__, url_prefix="/api/v1", description="智慧养老: elders, family bindings, my elders"
)
admin_blp = Blueprint(
    "admin-eldercare", __name__, url_prefix="/api/v1/admin", description="Staff: elders, consent, family bindings"
)
BINDING_ATTEMPTS_PER_MINUTE = 10
# What a staff read of an elder's profile shows (the access log names it; the phone is masked there).
PROFILE_SHOWN = ("name", "birth_year", "conditions", "address")


def _invite_view(invite: Any) -> dict[str, Any]:
    return {
        "code": invite.code,
        "qr_payload": services.qr_payload(invite),
        "elder_id": invite.elder_id,
        "expires_at": invite.expires_at,
    }


# Residents and the elders themselves ------------------------------------------------------------


@elders_blp.route("/elders", methods=["POST"])
@login_required()
@idempotent
@elders_blp.arguments(schemas.ElderRegisterArgs)
@elders_blp.response(201, schemas.ElderSchema)
@elders_blp.alt_response(422, description="Bad fields or no such room")
def eldercare_register_elder(args: dict[str, Any]) -> Any:
    """Register myself (`is_self`) or a relative as an elder to look after; staff of the area approve."""
    return services.register_elder(current_user(), args)


@elders_blp.route("/elders", methods=["GET"])
@login_required()
@elders_blp.arguments(CursorArgs, location="query")
@elders_blp.response(200, page_of(schemas.ElderSchema))
def eldercare_list_my_registrations(args: dict[str, Any]) -> Any:
    """Elders I registered, and my own elder profile; newest first."""
    stmt = services.my_registrations(current_user())
    return paginate(stmt, order_by=(Elder.id,), limit=args["limit"], cursor=args["cursor"])


@elders_blp.route("/elders/<uuid:elder_id>", methods=["GET"])
@login_required()
@elders_blp.response(200, schemas.ElderSchema)
@elders_blp.alt_response(404, description="Not an elder I registered or am")
def eldercare_get_my_registration(elder_id: uuid.UUID) -> Any:
    """One elder I registered (with the registration's state), or my own profile."""
    return services.visible_registration(current_user(), elder_id)


@elders_blp.route("/elders/<uuid:elder_id>/invites", methods=["POST"])
@login_required()
@elders_blp.response(201, schemas.InviteSchema)
@elders_blp.alt_response(404, description="Not my own elder profile")
@elders_blp.alt_response(409, description="The profile is not active")
def eldercare_create_invite(elder_id: uuid.UUID) -> Any:
    """As the elder: a short-lived code (and QR payload) a family member scans to ask to bind."""
    user = current_user()
    return _invite_view(services.create_invite(user, services.own_elder(user, elder_id), get_settings()))


@elders_blp.route("/elders/<uuid:elder_id>/family-bindings", methods=["GET"])
@login_required()
@elders_blp.response(200, schemas.BindingListSchema)
@elders_blp.alt_response(404, description="Not my own elder profile")
def eldercare_list_elder_bindings(elder_id: uuid.UUID) -> Any:
    """As the elder: my family, in contact order, then the requests waiting for me."""
    elder = services.own_elder(current_user(), elder_id)
    return {"items": services.bindings_of_elder(elder.id)}


@elders_blp.route("/family-bindings", methods=["POST"])
@login_required()
@idempotent
@elders_blp.arguments(schemas.BindingRequestArgs)
@elders_blp.response(201, schemas.BindingSchema)
@elders_blp.alt_response(404, description="Unknown invite code")
@elders_blp.alt_response(409, description="Code already used, already bound, or binding myself")
@elders_blp.alt_response(410, description="Code expired")
@elders_blp.alt_response(429, description="Too many attempts")
def eldercare_request_binding(args: dict[str, Any]) -> Any:
    """As a family member: use an invite code; the elder (or staff) then confirms. A code works once."""
    user = current_user()
    # Codes are short enough to read out over the phone: keep anyone from guessing through them.
    ratelimit.enforce("family-binding", str(user.id), limit=BINDING_ATTEMPTS_PER_MINUTE)
    return services.request_binding(user, args["code"], args["relation"])


@elders_blp.route("/family-bindings/<uuid:binding_id>/confirm", methods=["POST"])
@login_required()
@elders_blp.response(200, schemas.BindingSchema)
@elders_blp.alt_response(404, description="Not a request to bind to me")
@elders_blp.alt_response(409, description="Already decided")
def eldercare_confirm_binding(binding_id: uuid.UUID) -> Any:
    """As the elder: accept a family member; they become my last contact and receive my alerts."""
    user = current_user()
    return services.confirm_binding(user, services.binding_for_elder_user(user, binding_id))


@elders_blp.route("/family-bindings/<uuid:binding_id>/decline", methods=["POST"])
@login_required()
@elders_blp.response(200, schemas.BindingSchema)
@elders_blp.alt_response(404, description="Not a request to bind to me")
@elders_blp.alt_response(409, description="Already decided")
def eldercare_decline_binding(binding_id: uuid.UUID) -> Any:
    """As the elder: refuse a request to bind."""
    user = current_user()
    return services.decline_binding(user, services.binding_for_elder_user(user, binding_id))


@elders_blp.route("/family-bindings/<uuid:binding_id>/leave", methods=["POST"])
@login_required()
@elders_blp.response(200, schemas.BindingSchema)
@elders_blp.alt_response(404, description="Not my binding")
@elders_blp.alt_response(409, description="Already ended")
def eldercare_leave_binding(binding_id: uuid.UUID) -> Any:
    """As a family member: stop looking after this elder (or withdraw my request)."""
    return services.leave_binding(current_user(), binding_id)


@elders_blp.route("/me/family-bindings", methods=["GET"])
@login_required()
@elders_blp.response(200, schemas.BindingListSchema)
def eldercare_list_my_bindings() -> Any:
    """My bindings as a family member: confirmed ones and requests still waiting."""
    return {"items": services.my_bindings(current_user())}


# Staff -------------------------------------------------------------------------------------------


@staff_route(admin_blp, "/elders", methods=["GET"])
@admin_blp.arguments(schemas.ElderListArgs, location="query")
@admin_blp.response(200, page_of(schemas.ElderSchema))
def admin_list_elders(args: dict[str, Any]) -> Any:
    """Elders of my area, newest first; filter by status (pending: the approval queue), area, name."""
    staff = current_user()
    stmt = services.staff_elders(staff, status=args["status"], area_id=args["area_id"], q=args["q"])
    page = paginate(stmt, order_by=(Elder.id,), limit=args["limit"], cursor=args["cursor"])
    record_access(staff, ELDER, [e.id for e in page.items], PROFILE_SHOWN)
    return page


@staff_route(admin_blp, "/elders", methods=["POST"])
@admin_blp.arguments(schemas.ElderCreateArgs)
@admin_blp.response(201, schemas.ElderSchema)
@admin_blp.alt_response(422, description="Bad fields, or a home not in my area")
def admin_create_elder(args: dict[str, Any]) -> Any:
    """Register an elder of my area (active at once)."""
    return services.create_elder(current_user(), args)


@staff_route(admin_blp, "/elders/<uuid:elder_id>", methods=["GET"])
@admin_blp.response(200, schemas.ElderSchema)
def admin_get_elder(elder_id: uuid.UUID) -> Any:
    """One elder of my area (the read is in the access log: the elder's family can see it)."""
    staff = current_user()
    elder = services.staff_elder(staff, elder_id)
    record_access(staff, ELDER, [elder.id], PROFILE_SHOWN)
    return elder


@staff_route(admin_blp, "/elders/<uuid:elder_id>/reveal-phone", methods=["POST"])
@admin_blp.arguments(account_schemas.RevealPhoneArgs)
@admin_blp.response(200, account_schemas.RevealedPhoneSchema)
def admin_reveal_elder_phone(args: dict[str, Any], elder_id: uuid.UUID) -> Any:
    """The elder's full phone number, for a reason that goes into the access log (lists never show it)."""
    staff = current_user()
    elder = services.staff_elder(staff, elder_id)
    record_access(staff, ELDER, [elder.id], ["phone"], reason=args["reason"])
    return {"phone": elder.phone}


@staff_route(admin_blp, "/elders/<uuid:elder_id>", methods=["PATCH"])
@admin_blp.arguments(schemas.ElderPatchArgs)
@admin_blp.response(200, schemas.ElderSchema)
@admin_blp.alt_response(409, description="A pending registration is decided with approve/reject")
def admin_update_elder(args: dict[str, Any], elder_id: uuid.UUID) -> Any:
    """Edit a profile: home, conditions, phone, alert thresholds, status."""
    return services.update_elder(current_user(), elder_id, args)


@staff_route(admin_blp, "/elders/<uuid:elder_id>/approve", methods=["POST"])
@admin_blp.response(200, schemas.ElderSchema)
@admin_blp.alt_response(409, description="Not pending")
def admin_approve_elder(elder_id: uuid.UUID) -> Any:
    """Approve a resident's registration; the registrant is told."""
    return services.approve_elder(current_user(), elder_id)


@staff_route(admin_blp, "/elders/<uuid:elder_id>/reject", methods=["POST"])
@admin_blp.arguments(schemas.ElderRejectArgs)
@admin_blp.response(200, schemas.ElderSchema)
@admin_blp.alt_response(409, description="Not pending")
def admin_reject_elder(args: dict[str, Any], elder_id: uuid.UUID) -> Any:
    """Reject a resident's registration with a reason; the registrant is told."""
    return services.reject_elder(current_user(), elder_id, args["reason"])


@staff_route(admin_blp, "/elders/<uuid:elder_id>/consents", methods=["GET"])
@admin_blp.response(200, schemas.ConsentListSchema)
def admin_list_elder_consents(elder_id: uuid.UUID) -> Any:
    """The consent record of an elder, newest first (withdrawn ones included)."""
    elder = services.staff_elder(current_user(), elder_id)
    return {"items": services.consents_of(elder.id)}


@staff_route(admin_blp, "/elders/<uuid:elder_id>/consents", methods=["POST"])
@admin_blp.arguments(schemas.ConsentArgs)
@admin_blp.response(201, schemas.ConsentSchema)
@admin_blp.alt_response(409, description="The elder is inactive")
def admin_record_elder_consent(args: dict[str, Any], elder_id: uuid.UUID) -> Any:
    """Record that the elder (or their guardian) agreed to monitoring by these device types."""
    return services.record_consent(current_user(), elder_id, args["given_by"], args["device_types"])


@staff_route(admin_blp, "/elders/<uuid:elder_id>/consents/<uuid:consent_id>/withdraw", methods=["POST"])
@admin_blp.response(200, schemas.ConsentWithdrawalSchema)
@admin_blp.alt_response(409, description="Already withdrawn")
def admin_withdraw_elder_consent(elder_id: uuid.UUID, consent_id: uuid.UUID) -> Any:
    """Withdraw a consent; devices no other consent covers are unbound from the elder at once."""
    return services.withdraw_consent(current_user(), elder_id, consent_id)


@staff_route(admin_blp, "/elders/<uuid:elder_id>/invites", methods=["POST"])
@admin_blp.response(201, schemas.InviteSchema)
@admin_blp.alt_response(409, description="The profile is not active")
def admin_create_elder_invite(elder_id: uuid.UUID) -> Any:
    """On the elder's behalf: a short-lived family invite code and QR payload."""
    staff = current_user()
    return _invite_view(services.create_invite(staff, services.staff_elder(staff, elder_id), get_settings()))


@staff_route(admin_blp, "/elders/<uuid:elder_id>/family-bindings", methods=["GET"])
@admin_blp.response(200, schemas.BindingListSchema)
def admin_list_elder_bindings(elder_id: uuid.UUID) -> Any:
    """The elder's family in contact order, then the requests waiting."""
    staff = current_user()
    elder = services.staff_elder(staff, elder_id)
    bindings = services.bindings_of_elder(elder.id)
    record_access(staff, ELDER, [elder.id], ["family_bindings"])
    record_access(staff, USER, [b.user_id for b in bindings], ["family_binding"])
    return {"items": bindings}


@staff_route(admin_blp, "/elders/<uuid:elder_id>/contacts", methods=["PUT"])
@admin_blp.arguments(schemas.ContactOrderArgs)
@admin_blp.response(200, schemas.BindingListSchema)
@admin_blp.alt_response(422, description="Not exactly the elder's confirmed bindings")
def admin_order_elder_contacts(args: dict[str, Any], elder_id: uuid.UUID) -> Any:
    """Set the emergency contact order: every confirmed binding id, first contact first."""
    return {"items": services.reorder_contacts(current_user(), elder_id, args["binding_ids"])}


@staff_route(admin_blp, "/family-bindings/<uuid:binding_id>/confirm", methods=["POST"])
@admin_blp.response(200, schemas.BindingSchema)
@admin_blp.alt_response(409, description="Already decided")
def admin_confirm_binding(binding_id: uuid.UUID) -> Any:
    """On the elder's behalf: accept a family member."""
    staff = current_user()
    return services.confirm_binding(staff, services.binding_for_staff(staff, binding_id))


@staff_route(admin_blp, "/family-bindings/<uuid:binding_id>/decline", methods=["POST"])
@admin_blp.response(200, schemas.BindingSchema)
@admin_blp.alt_response(409, description="Already decided")
def admin_decline_binding(binding_id: uuid.UUID) -> Any:
    """On the elder's behalf: refuse a request to bind."""
    staff = current_user()
    return services.decline_binding(staff, services.binding_for_staff(staff, binding_id))


blueprints = [elders_blp, admin_blp]
