"""Routes of elderly services: the catalogue, quotes and orders for elders, their families and staff on their behalf;
the service code a family shows the worker; the workers' pool and visits; staff's catalogue, dispatch, disputes,
return visits and each provider's monthly settlement. Thin: parse, authorise, call a service, serialise."""

from __future__ import annotations

import uuid
from typing import Any

from flask import Response

from api.auth import current_user, login_required, staff_route
from api.care import catalogue, dispatch, money, schemas, services, visits
from api.care.models import CareOrder, CareProvider, CareReturnVisit, CareService, SubsidyRule
from api.db import db, utcnow
from api.extensions import Blueprint
from api.idempotency import idempotent
from api.pagination import CursorArgs, page_of, paginate

care_blp = Blueprint("care", __name__, url_prefix="/api/v1/care", description="为老服务: elderly service orders")
me_blp = Blueprint("me-care", __name__, url_prefix="/api/v1/me/care", description="My elderly service orders")
worker_blp = Blueprint(
    "care-worker", __name__, url_prefix="/api/v1/care/worker", description="Providers' workers: pool and visits"
)
admin_blp = Blueprint(
    "admin-care", __name__, url_prefix="/api/v1/admin/care", description="Staff: catalogue, dispatch, settlement"
)


def _fresh(order: CareOrder) -> CareOrder:
    """The order with its timeline as it is now (entries are appended beside the relationship)."""
    db.session.flush()
    db.session.expire(order, ["events"])
    return order


# Residents, elders and families --------------------------------------------------------------


@care_blp.route("/services", methods=["GET"])
@login_required()
@care_blp.arguments(schemas.CareServiceArgs, location="query")
@care_blp.response(200, schemas.CareServiceListSchema)
def care_services(args: dict[str, Any]) -> Any:
    """The catalogue: every active service, with its unit, list price, funding tier and cut-off."""
    category = args["category"].value if args["category"] else None
    return {"items": services.active_services(category)}


@care_blp.route("/quote", methods=["POST"])
@login_required()
@care_blp.arguments(schemas.CareQuoteArgs)
@care_blp.response(200, schemas.CareQuoteSchema)
@care_blp.alt_response(403, description="`care_not_family`: not the elder, a confirmed family member or staff")
@care_blp.alt_response(
    409, description="The tier allows no self-pay (`care_quota_exhausted`, `care_self_pay_not_allowed`)"
)
@care_blp.alt_response(422, description="After the cut-off (`care_after_cutoff` names it), too soon, not offered here")
def care_quote(args: dict[str, Any]) -> Any:
    """The price snapshot an order would store — list price, each funding line, the elder's own share."""
    return services.quote(
        current_user(),
        args["elder_id"],
        args["service_id"],
        args["window_start"],
        args["window_end"],
        args["planned_minutes"],
        utcnow(),
    )


@care_blp.route("/orders", methods=["POST"])
@login_required()
@idempotent
@care_blp.arguments(schemas.CareOrderArgs)
@care_blp.response(201, schemas.CareOrderDetailSchema)
@care_blp.alt_response(403, description="`care_not_family`: not the elder, a confirmed family member or staff")
@care_blp.alt_response(
    409, description="The tier allows no self-pay (`care_quota_exhausted`, `care_self_pay_not_allowed`)"
)
@care_blp.alt_response(422, description="After the cut-off (`care_after_cutoff` names it), too soon, not offered here")
def care_order(args: dict[str, Any]) -> Any:
    """Order a service for an elder: by the elder, a confirmed family member, or staff on the elder's behalf.
    Honours `Idempotency-Key`; the order records who ordered for whom and its price snapshot."""
    order = services.place_order(
        elder_id=args["elder_id"],
        service_id=args["service_id"],
        window_start=args["window_start"],
        window_end=args["window_end"],
        planned_minutes=args["planned_minutes"],
        note=args["note"],
        ordered_by=current_user(),
        pay_with_coins=args["pay_with_coins"],
        now=utcnow(),
    )
    return _fresh(order)


@care_blp.route("/orders/<uuid:order_id>", methods=["GET"])
@login_required()
@care_blp.response(200, schemas.CareOrderDetailSchema)
@care_blp.alt_response(404, description="No such order, or not mine to see")
def care_get_order(order_id: uuid.UUID) -> Any:
    return _fresh(services.visible_order(current_user(), order_id))


@care_blp.route("/orders/<uuid:order_id>/cancel", methods=["POST"])
@login_required()
@care_blp.arguments(schemas.CareCancelArgs)
@care_blp.response(200, schemas.CareOrderDetailSchema)
@care_blp.alt_response(404, description="No such order, or not mine")
@care_blp.alt_response(409, description="`care_transition_not_allowed`: `errors.action` lists what is allowed now")
@care_blp.alt_response(422, description="`care_cancel_reason_required` once a worker accepted")
def care_cancel(args: dict[str, Any], order_id: uuid.UUID) -> Any:
    """Cancel: free until a worker accepts; afterwards with a reason, and late ones are counted."""
    return _fresh(visits.cancel(current_user(), order_id, args["reason"], utcnow()))


@care_blp.route("/orders/<uuid:order_id>/confirm", methods=["POST"])
@login_required()
@care_blp.response(200, schemas.CareOrderDetailSchema)
@care_blp.alt_response(404, description="No such order, or not my elder's")
@care_blp.alt_response(409, description="Already confirmed (`care_already_confirmed`) or not awaiting confirmation")
def care_confirm(order_id: uuid.UUID) -> Any:
    """The family or the elder confirm the service was done."""
    return _fresh(visits.confirm(current_user(), order_id, utcnow()))


@care_blp.route("/orders/<uuid:order_id>/elder-safe", methods=["POST"])
@login_required()
@care_blp.arguments(schemas.CareNoteArgs)
@care_blp.response(200, schemas.CareOrderDetailSchema)
@care_blp.alt_response(404, description="No such order, or not my elder's")
@care_blp.alt_response(
    409, description="`care_welfare_not_open` (nobody missed at the door) or `care_welfare_already_reported`"
)
def care_elder_safe(args: dict[str, Any], order_id: uuid.UUID) -> Any:
    """After nobody answered the door: I reached the elder and they are safe — staff need not check (and are told
    so if they already were). Without it staff are told `CARE_WELFARE_STAFF_MINUTES` after the missed visit."""
    return _fresh(visits.elder_safe(current_user(), order_id, args["note"], utcnow()))


@care_blp.route("/orders/<uuid:order_id>/rating", methods=["POST"])
@login_required()
@care_blp.arguments(schemas.CareRatingArgs)
@care_blp.response(201, schemas.CareRatingSchema)
@care_blp.alt_response(404, description="No such order, or not my elder's")
@care_blp.alt_response(409, description="Rated already (`care_already_rated`) or not completed (`care_not_ratable`)")
def care_rate(args: dict[str, Any], order_id: uuid.UUID) -> Any:
    """Overall, punctuality and attitude, 1–5 each; a low score asks staff for a return visit."""
    return visits.rate(current_user(), order_id, args, utcnow())


@care_blp.route("/orders/<uuid:order_id>/dispute", methods=["POST"])
@login_required()
@care_blp.arguments(schemas.CareDisputeArgs)
@care_blp.response(201, schemas.CareDisputeSchema)
@care_blp.alt_response(404, description="No such order, or not my elder's")
@care_blp.alt_response(409, description="Too late (`care_dispute_closed`) or not disputable now")
def care_dispute(args: dict[str, Any], order_id: uuid.UUID) -> Any:
    """Dispute a service within CARE_DISPUTE_DAYS of its completion; staff resolve it."""
    return visits.dispute(current_user(), order_id, args["reason"], utcnow())


@me_blp.route("/orders", methods=["GET"])
@login_required()
@me_blp.arguments(schemas.CareMyOrdersArgs, location="query")
@me_blp.response(200, page_of(schemas.CareOrderSchema))
def me_care_orders(args: dict[str, Any]) -> Any:
    """Orders I placed and every order of the elders I look after (or am), newest first."""
    status = args["status"].value if args["status"] else None
    stmt = services.my_orders(current_user(), args["elder_id"], status)
    return paginate(stmt, order_by=(CareOrder.id,), limit=args["limit"], cursor=args["cursor"])


@me_blp.route("/elders/<uuid:elder_id>/code", methods=["GET"])
@login_required()
@me_blp.response(200, schemas.CareServiceCodeSchema)
@me_blp.alt_response(403, description="`care_not_family`: not the elder or a confirmed family member")
def me_care_code(elder_id: uuid.UUID) -> Any:
    """The elder's service code, to read to the worker at the door (the elder's printed card shows the same)."""
    return catalogue.service_code_for(current_user(), elder_id)


# Workers ------------------------------------------------------------------------------------


@worker_blp.route("/pool", methods=["GET"])
@login_required()
@worker_blp.arguments(CursorArgs, location="query")
@worker_blp.response(200, page_of(schemas.CareWorkerOrderSchema))
@worker_blp.alt_response(403, description="`care_not_worker`")
def care_pool(args: dict[str, Any]) -> Any:
    """Orders my providers may take, soonest window last page first (by id); no address until accepted."""
    return paginate(dispatch.pool(current_user()), order_by=(CareOrder.id,), limit=args["limit"], cursor=args["cursor"])


@worker_blp.route("/orders", methods=["GET"])
@login_required()
@worker_blp.arguments(CursorArgs, location="query")
@worker_blp.response(200, page_of(schemas.CareWorkerOrderSchema))
def care_my_work(args: dict[str, Any]) -> Any:
    """Orders offered to me or that I hold."""
    return paginate(
        dispatch.my_work(current_user()), order_by=(CareOrder.id,), limit=args["limit"], cursor=args["cursor"]
    )


@worker_blp.route("/orders/<uuid:order_id>", methods=["GET"])
@login_required()
@worker_blp.response(200, schemas.CareWorkerOrderSchema)
@worker_blp.alt_response(404, description="Not offered to me nor held by me")
def care_work_order(order_id: uuid.UUID) -> Any:
    """One of my orders: the full address and door notes only once accepted and around the window."""
    return dispatch.worker_order(current_user(), order_id, lock=False)[0]


def _worker_action(rule: str, name: str, doc: str, args_schema: Any = None) -> Any:
    """Register one worker action on an order (the same shape for each)."""

    def decorator(func: Any) -> Any:
        func.__doc__ = doc
        view = worker_blp.alt_response(
            409, description="`care_transition_not_allowed`: `errors.action` lists what is allowed now"
        )(func)
        view = worker_blp.alt_response(404, description="Not offered to me nor held by me")(view)
        view = worker_blp.response(200, schemas.CareWorkerOrderSchema)(view)
        if args_schema is not None:
            view = worker_blp.arguments(args_schema)(view)
        view = login_required()(view)
        return worker_blp.route(rule, methods=["POST"], endpoint=name)(view)

    return decorator


@worker_blp.route("/orders/<uuid:order_id>/grab", methods=["POST"])
@login_required()
@worker_blp.response(200, schemas.CareWorkerOrderSchema)
@worker_blp.alt_response(403, description="`care_not_worker`: none of my providers serves this order")
@worker_blp.alt_response(409, description="`care_already_taken`: someone else was first")
def care_grab(order_id: uuid.UUID) -> Any:
    """Take an order from the pool; of two grabs at once exactly one wins."""
    return dispatch.grab(current_user(), order_id, utcnow())


@_worker_action("/orders/<uuid:order_id>/accept", "care_accept", "Accept an order staff offered me.")
def care_accept(order_id: uuid.UUID) -> Any:
    return dispatch.accept(current_user(), order_id, utcnow())


@_worker_action(
    "/orders/<uuid:order_id>/decline", "care_decline", "Decline an offer: back to dispatch.", schemas.CareReasonArgs
)
def care_decline(args: dict[str, Any], order_id: uuid.UUID) -> Any:
    return dispatch.decline(current_user(), order_id, args["reason"], utcnow())


@_worker_action(
    "/orders/<uuid:order_id>/transfer",
    "care_transfer",
    "Hand an accepted order back to dispatch (I cannot serve it).",
    schemas.CareReasonArgs,
)
def care_transfer(args: dict[str, Any], order_id: uuid.UUID) -> Any:
    return dispatch.transfer(current_user(), order_id, args["reason"], utcnow())


@_worker_action("/orders/<uuid:order_id>/set-off", "care_set_off", "I am on my way.")
def care_set_off(order_id: uuid.UUID) -> Any:
    return visits.set_off(current_user(), order_id, utcnow())


@_worker_action(
    "/orders/<uuid:order_id>/check-in",
    "care_check_in",
    "Check in at the door within the window (± grace), with the elder's service code (422 when wrong).",
    schemas.CareCheckInArgs,
)
def care_check_in(args: dict[str, Any], order_id: uuid.UUID) -> Any:
    return visits.check_in(current_user(), order_id, args["lat"], args["lng"], args["code"], utcnow())


@_worker_action(
    "/orders/<uuid:order_id>/check-out",
    "care_check_out",
    "Check out: actual minutes stored, the family asked to confirm; photos where the service asks for them.",
    schemas.CareCheckOutArgs,
)
def care_check_out(args: dict[str, Any], order_id: uuid.UUID) -> Any:
    return visits.check_out(current_user(), order_id, args["lat"], args["lng"], args["photo_ids"], utcnow())


@_worker_action(
    "/orders/<uuid:order_id>/not-delivered",
    "care_not_delivered",
    "Nobody answered the door: the family is told at once; staff when nobody of them reports the elder safe in time.",
    schemas.CareNoteArgs,
)
def care_not_delivered(args: dict[str, Any], order_id: uuid.UUID) -> Any:
    return visits.not_delivered(current_user(), order_id, args["note"], utcnow())


# Staff: catalogue -----------------------------------------------------------------------------


@staff_route(admin_blp, "/providers", methods=["GET"])
@admin_blp.arguments(CursorArgs, location="query")
@admin_blp.response(200, page_of(schemas.CareProviderSchema))
def admin_care_providers(args: dict[str, Any]) -> Any:
    stmt = catalogue.staff_providers(current_user())
    return paginate(stmt, order_by=(CareProvider.id,), limit=args["limit"], cursor=args["cursor"])


@staff_route(admin_blp, "/providers", methods=["POST"])
@admin_blp.arguments(schemas.CareProviderCreateArgs)
@admin_blp.response(201, schemas.CareProviderSchema)
def admin_care_create_provider(args: dict[str, Any]) -> Any:
    """A service organisation, the canteen or a volunteer team, with the committees it serves."""
    return catalogue.create_provider(current_user(), args)


@staff_route(admin_blp, "/providers/<uuid:care_provider_id>", methods=["PATCH"])
@admin_blp.arguments(schemas.CareProviderUpdateArgs)
@admin_blp.response(200, schemas.CareProviderSchema)
def admin_care_update_provider(args: dict[str, Any], care_provider_id: uuid.UUID) -> Any:
    return catalogue.update_provider(current_user(), care_provider_id, args)


@staff_route(admin_blp, "/providers/<uuid:care_provider_id>/workers", methods=["GET"])
@admin_blp.response(200, schemas.CareWorkerListSchema)
def admin_care_workers(care_provider_id: uuid.UUID) -> Any:
    provider = catalogue.staff_provider(current_user(), care_provider_id)
    return {"items": catalogue.provider_workers(provider)}


@staff_route(admin_blp, "/providers/<uuid:care_provider_id>/workers", methods=["POST"])
@admin_blp.arguments(schemas.CareWorkerArgs)
@admin_blp.response(201, schemas.CareWorkerSchema)
def admin_care_add_worker(args: dict[str, Any], care_provider_id: uuid.UUID) -> Any:
    """A user account becomes a worker of the provider: they see its pool, grab and serve."""
    return catalogue.add_worker(current_user(), care_provider_id, args)


@staff_route(admin_blp, "/services", methods=["GET"])
@admin_blp.arguments(CursorArgs, location="query")
@admin_blp.response(200, page_of(schemas.CareServiceSchema))
def admin_care_services(args: dict[str, Any]) -> Any:
    stmt = catalogue.staff_services(current_user())
    return paginate(stmt, order_by=(CareService.id,), limit=args["limit"], cursor=args["cursor"])


@staff_route(admin_blp, "/services", methods=["POST"])
@admin_blp.arguments(schemas.CareServiceCreateArgs)
@admin_blp.response(201, schemas.CareServiceSchema)
def admin_care_create_service(args: dict[str, Any]) -> Any:
    return catalogue.create_service(current_user(), args)


@staff_route(admin_blp, "/services/<uuid:care_service_id>", methods=["PATCH"])
@admin_blp.arguments(schemas.CareServiceUpdateArgs)
@admin_blp.response(200, schemas.CareServiceSchema)
def admin_care_update_service(args: dict[str, Any], care_service_id: uuid.UUID) -> Any:
    return catalogue.update_service(current_user(), care_service_id, args)


@staff_route(admin_blp, "/subsidy-rules", methods=["GET"])
@admin_blp.arguments(CursorArgs, location="query")
@admin_blp.response(200, page_of(schemas.CareRuleSchema))
def admin_care_rules(args: dict[str, Any]) -> Any:
    stmt = catalogue.staff_rules(current_user())
    return paginate(stmt, order_by=(SubsidyRule.id,), limit=args["limit"], cursor=args["cursor"])


@staff_route(admin_blp, "/subsidy-rules", methods=["POST"])
@admin_blp.arguments(schemas.CareRuleArgs)
@admin_blp.response(201, schemas.CareRuleSchema)
def admin_care_create_rule(args: dict[str, Any]) -> Any:
    """A funding line applied automatically when the elder and the service match (age band, 低保/独居/失能,
    长护险 level with its weekly quota)."""
    return catalogue.create_rule(current_user(), args)


@staff_route(admin_blp, "/elders/<uuid:elder_id>/profile", methods=["GET"])
@admin_blp.response(200, schemas.CareProfileSchema)
def admin_care_profile(elder_id: uuid.UUID) -> Any:
    return catalogue.staff_profile(current_user(), elder_id)


@staff_route(admin_blp, "/elders/<uuid:elder_id>/profile", methods=["PATCH"])
@admin_blp.arguments(schemas.CareProfileArgs)
@admin_blp.response(200, schemas.CareProfileSchema)
def admin_care_update_profile(args: dict[str, Any], elder_id: uuid.UUID) -> Any:
    """Subsidy flags, 长护险 level and weekly visits, whether staff vouch for visits, door notes; a new code."""
    return catalogue.update_profile(current_user(), elder_id, args)


# Staff: orders --------------------------------------------------------------------------------


@staff_route(admin_blp, "/orders", methods=["GET"])
@admin_blp.arguments(schemas.CareStaffOrdersArgs, location="query")
@admin_blp.response(200, page_of(schemas.CareOrderSchema))
def admin_care_orders(args: dict[str, Any]) -> Any:
    """Orders in my area; `escalated=true`: those waiting for a person to dispatch them."""
    from api import scope

    stmt = scope.visible(current_user(), CareOrder)
    if args["elder_id"]:
        stmt = stmt.where(CareOrder.elder_id == args["elder_id"])
    if args["status"]:
        stmt = stmt.where(CareOrder.status == args["status"])
    if args["escalated"] is not None:
        stmt = stmt.where(
            CareOrder.escalated_at.is_not(None) if args["escalated"] else CareOrder.escalated_at.is_(None)
        )
    return paginate(stmt, order_by=(CareOrder.id,), limit=args["limit"], cursor=args["cursor"])


@staff_route(admin_blp, "/orders/<uuid:care_order_id>", methods=["GET"])
@admin_blp.response(200, schemas.CareStaffOrderSchema)
def admin_care_order(care_order_id: uuid.UUID) -> Any:
    return _fresh(dispatch.staff_order(current_user(), care_order_id, lock=False))


def _staff_action(rule: str, name: str, doc: str, args_schema: Any = None) -> Any:
    def decorator(func: Any) -> Any:
        func.__doc__ = doc
        view = admin_blp.alt_response(
            409, description="`care_transition_not_allowed`: `errors.action` lists what is allowed now"
        )(func)
        view = admin_blp.response(200, schemas.CareStaffOrderSchema)(view)
        if args_schema is not None:
            view = admin_blp.arguments(args_schema)(view)
        return staff_route(admin_blp, rule, methods=["POST"], endpoint=name)(view)

    return decorator


@_staff_action("/orders/<uuid:care_order_id>/approve", "admin_care_approve", "Eligibility reviewed: to dispatch.")
def admin_care_approve(care_order_id: uuid.UUID) -> Any:
    return _fresh(dispatch.approve(current_user(), care_order_id, utcnow()))


@_staff_action(
    "/orders/<uuid:care_order_id>/reject", "admin_care_reject", "Not eligible: the order ends.", schemas.CareReasonArgs
)
def admin_care_reject(args: dict[str, Any], care_order_id: uuid.UUID) -> Any:
    return _fresh(dispatch.reject(current_user(), care_order_id, args["reason"], utcnow()))


@_staff_action(
    "/orders/<uuid:care_order_id>/assign",
    "admin_care_assign",
    "Offer the order to one worker, who accepts or declines before CARE_OFFER_MINUTES pass.",
    schemas.CareAssignArgs,
)
def admin_care_assign(args: dict[str, Any], care_order_id: uuid.UUID) -> Any:
    return _fresh(dispatch.assign(current_user(), care_order_id, args["worker_id"], utcnow()))


@_staff_action(
    "/orders/<uuid:care_order_id>/cancel",
    "admin_care_cancel",
    "Cancel on the elder's behalf (a phone call).",
    schemas.CareCancelArgs,
)
def admin_care_cancel(args: dict[str, Any], care_order_id: uuid.UUID) -> Any:
    dispatch.staff_order(current_user(), care_order_id, lock=False)
    return _fresh(visits.cancel(current_user(), care_order_id, args["reason"], utcnow()))


@_staff_action(
    "/orders/<uuid:care_order_id>/vouch",
    "admin_care_vouch",
    "Confirm this visit for an elder with neither phone nor card (in place of the service code).",
)
def admin_care_vouch(care_order_id: uuid.UUID) -> Any:
    return _fresh(visits.vouch(current_user(), care_order_id, utcnow()))


@_staff_action(
    "/orders/<uuid:care_order_id>/resolve",
    "admin_care_resolve",
    "Resolve a dispute: adjust the elder's share, void the order, or redo the service for free.",
    schemas.CareResolveArgs,
)
def admin_care_resolve(args: dict[str, Any], care_order_id: uuid.UUID) -> Any:
    order = visits.resolve(
        current_user(),
        care_order_id,
        args["outcome"],
        args["note"],
        utcnow(),
        adjusted_self_pay_fen=args["adjusted_self_pay_fen"],
        redo_start=args["redo_start"],
    )
    return _fresh(order)


@staff_route(admin_blp, "/orders/<uuid:care_order_id>/return-visits", methods=["POST"])
@admin_blp.response(201, schemas.CareVisitSchema)
def admin_care_visit_order(care_order_id: uuid.UUID) -> Any:
    """Put one order on the return-visit list by hand."""
    return visits.visit_order(current_user(), care_order_id, utcnow())


@staff_route(admin_blp, "/return-visits", methods=["GET"])
@admin_blp.arguments(schemas.CareVisitArgs, location="query")
@admin_blp.response(200, page_of(schemas.CareVisitSchema))
def admin_care_visits(args: dict[str, Any]) -> Any:
    """Return visits (回访) to make: after a low score, or sampled."""
    status = args["status"].value if args["status"] else None
    stmt = visits.staff_visits(current_user(), status)
    return paginate(stmt, order_by=(CareReturnVisit.id,), limit=args["limit"], cursor=args["cursor"])


@staff_route(admin_blp, "/return-visits/sample", methods=["POST"])
@admin_blp.arguments(schemas.CareSampleArgs)
@admin_blp.response(201, schemas.CareVisitListSchema)
@admin_blp.alt_response(422, description="`care_month_invalid`")
def admin_care_sample(args: dict[str, Any]) -> Any:
    """Sample the month's completed orders in my area for return visits (CARE_SAMPLE_PERCENT unless given)."""
    return {"items": visits.sample(current_user(), args["month"], args["percent"], utcnow())}


@staff_route(admin_blp, "/return-visits/<uuid:care_visit_id>/done", methods=["POST"])
@admin_blp.arguments(schemas.CareVisitDoneArgs)
@admin_blp.response(200, schemas.CareVisitSchema)
@admin_blp.alt_response(409, description="Done already")
def admin_care_visit_done(args: dict[str, Any], care_visit_id: uuid.UUID) -> Any:
    return visits.finish_visit(current_user(), care_visit_id, args["outcome"], utcnow())


@staff_route(admin_blp, "/settlement", methods=["GET"])
@admin_blp.arguments(schemas.CareMonthArgs, location="query")
@admin_blp.response(200, schemas.CareSettlementSchema)
@admin_blp.alt_response(422, description="`care_month_invalid`: not a YYYY-MM month of the calendar")
def admin_care_settlement(args: dict[str, Any]) -> Any:
    """Per provider, the month's completed orders, minutes, list price, subsidy by funding line, own share."""
    return money.settlement(current_user(), args["month"], args["provider_id"])


@staff_route(admin_blp, "/settlement.csv", methods=["GET"])
@admin_blp.arguments(schemas.CareMonthArgs, location="query")
@admin_blp.response(200, description="CSV, UTF-8 with BOM")
@admin_blp.alt_response(422, description="`care_month_invalid`")
def admin_care_settlement_csv(args: dict[str, Any]) -> Any:
    report = money.settlement(current_user(), args["month"], args["provider_id"])
    return Response(
        "\ufeff" + money.settlement_csv(report),
        mimetype="text/csv",
        headers={"Content-Disposition": f"attachment; filename=care-settlement-{args['month']}.csv"},
    )


blueprints = [care_blp, me_blp, worker_blp, admin_blp]
