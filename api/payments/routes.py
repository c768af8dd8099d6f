"""Routes of payments: the resident's orders and prepay (mini-program), the sandbox, WeChat Pay's notifies,
and the staff side. Thin: parse, authorise, call a service, serialise.

WeChat Pay's two notify routes are WeChat Pay's, not the mini-program's: they live outside the API document
(a plain blueprint) and answer in WeChat Pay's own shape — 204 when taken, `{"code": "FAIL", "message"}` with
a 4xx when refused (WeChat Pay sends it again later) — never a 500.
"""

from __future__ import annotations

import csv
import io
import logging
import uuid
from typing import Any

import flask
from flask import Response, request

from api.accounts.models import Role
from api.auth import current_user, login_required, staff_route
from api.db import db
from api.extensions import Blueprint
from api.fields import LOCAL_TZ
from api.idempotency import idempotent
from api.masking import mask_phone
from api.pagination import CursorArgs, page_of, paginate
from api.payments import schemas, services
from api.payments.cli import commands
from api.payments.gateway import NOTIFY_HEADERS, NotifyRefused
from api.payments.models import AuditAction, PaymentAudit, PaymentDiscrepancy, PaymentOrder, PaymentReconciliation

log = logging.getLogger(__name__)

payments_blp = Blueprint(
    "payments", __name__, url_prefix="/api/v1", description="支付: my payments and WeChat Pay (JSAPI) prepay"
)
admin_blp = Blueprint(
    "admin-payments",
    __name__,
    url_prefix="/api/v1/admin/payments",
    description="Staff: payments of my area, refunds, reconciliation with WeChat Pay",
)
wechat_blp = flask.Blueprint("wechat-pay", __name__, url_prefix="/api/v1/payments/wechat")


# ------------------------------------------------------------------------------------------------
# The resident
# ------------------------------------------------------------------------------------------------


@payments_blp.route("/me/payments", methods=["GET"])
@login_required()
@payments_blp.arguments(CursorArgs, location="query")
@payments_blp.response(200, page_of(schemas.PaymentSchema))
def list_my_payments(args: dict[str, Any]) -> Any:
    """My payment orders, newest first."""
    stmt = services.my_orders(current_user())
    return paginate(stmt, order_by=(PaymentOrder.id,), limit=args["limit"], cursor=args["cursor"])


@payments_blp.route("/payments/<uuid:order_id>", methods=["GET"])
@login_required()
@payments_blp.response(200, schemas.PaymentSchema)
def get_my_payment(order_id: uuid.UUID) -> Any:
    """One of my orders: its state, what it pays for, its refunds (anyone else's: 404; staff: orders of their
    area)."""
    return services.visible_order(current_user(), order_id)


@payments_blp.route("/payments/<uuid:order_id>/prepay", methods=["POST"])
@login_required()
@payments_blp.response(200, schemas.PayParamsSchema)
@payments_blp.alt_response(404, description="Not my order")
@payments_blp.alt_response(409, description="Paid, closed or expired; or I have no mini-program login")
@payments_blp.alt_response(502, description="WeChat Pay did not answer, or refused")
def prepay_my_payment(order_id: uuid.UUID) -> Any:
    """The parameters for `wx.requestPayment` (JSAPI order at WeChat Pay, made once; asking again for the same
    unpaid order gives a valid set for the same prepay_id). In the sandbox they are marked `sandbox`."""
    return services.prepay(current_user(), order_id, services.get_gateway())


@payments_blp.route("/payments/<uuid:order_id>/sandbox-complete", methods=["POST"])
@login_required()
@payments_blp.arguments(schemas.SandboxCompleteArgs)
@payments_blp.response(200, schemas.PaymentSchema)
@payments_blp.alt_response(404, description="Not in the payments sandbox, or not my order")
def sandbox_complete_my_payment(args: dict[str, Any], order_id: uuid.UUID) -> Any:
    """SANDBOX ONLY (no WeChat Pay configured; never in production): pay or fail my order as WeChat Pay would
    report it, so the whole paid flow can be tried without WeChat."""
    return services.sandbox_complete(current_user(), order_id, args["outcome"], services.get_gateway())


@payments_blp.route("/payments/sandbox-orders", methods=["POST"])
@login_required()
@idempotent
@payments_blp.arguments(schemas.SandboxOrderArgs)
@payments_blp.response(201, schemas.PaymentSchema)
@payments_blp.alt_response(404, description="Not in the payments sandbox")
def create_sandbox_payment(args: dict[str, Any]) -> Any:
    """SANDBOX ONLY: a demo order for me to pay (until parking, dues and services sell things themselves)."""
    return services.create_sandbox_order(
        current_user(), args["amount_fen"], args["description"], services.get_gateway()
    )


# ------------------------------------------------------------------------------------------------
# WeChat Pay
# ------------------------------------------------------------------------------------------------


def _wechat_answer(handler: Any) -> Response:
    headers = {name: request.headers.get(name, "") for name in NOTIFY_HEADERS}
    body = request.get_data(cache=True)
    try:
        gateway = services.get_gateway()
        outcome = handler(headers, body, gateway)
    except NotifyRefused as exc:
        db.session.rollback()
        log.warning("WeChat Pay notify to %s refused (%s): %s", request.path, exc.status, exc.reason)
        return flask.jsonify({"code": "FAIL", "message": exc.reason}), exc.status  # type: ignore[return-value]
    log.info("WeChat Pay notify to %s: %s", request.path, outcome)
    return Response(status=204)


@wechat_blp.route("/notify", methods=["POST"])
def wechat_pay_notify() -> Response:
    """WeChat Pay's payment notify (TRANSACTION.SUCCESS)."""
    return _wechat_answer(services.handle_payment_notify)


@wechat_blp.route("/refund-notify", methods=["POST"])
def wechat_pay_refund_notify() -> Response:
    """WeChat Pay's refund notify (REFUND.SUCCESS / REFUND.ABNORMAL / REFUND.CLOSED)."""
    return _wechat_answer(services.handle_refund_notify)


@wechat_blp.errorhandler(Exception)
def wechat_pay_error(exc: Exception) -> Any:
    """Whatever else goes wrong in a notify: WeChat Pay's shape, and a status that makes it send again."""
    from api.errors import ApiError, handle_unexpected

    if isinstance(exc, ApiError):
        return flask.jsonify({"code": "FAIL", "message": exc.code}), exc.status
    # An outage is a 503 already; anything else (a bug) is logged by handle_unexpected and answered 503 too:
    # WeChat Pay retries any failure, and a payment must be retried, not dropped.
    response = handle_unexpected(exc)
    message = (response.get_json(silent=True) or {}).get("code", "error")
    return flask.jsonify({"code": "FAIL", "message": message}), 503, {"Retry-After": "5"}


# ------------------------------------------------------------------------------------------------
# Staff
# ------------------------------------------------------------------------------------------------

# Orders of an area: its staff and finance; money moved or reconciled: finance (and admins) only.
PAYMENT_STAFF_ROLES = (Role.STAFF, Role.FINANCE, Role.ADMIN)
FINANCE_ROLES = (Role.FINANCE, Role.ADMIN)


@staff_route(admin_blp, "", methods=["GET"], roles=PAYMENT_STAFF_ROLES)
@admin_blp.arguments(schemas.AdminPaymentListArgs, location="query")
@admin_blp.response(200, page_of(schemas.StaffPaymentSchema))
def admin_list_payments(args: dict[str, Any]) -> Any:
    """Orders of my area, newest first; filter by state, purpose, payer, out_trade_no, creation time. Audited."""
    filters = {k: v for k, v in args.items() if k not in ("limit", "cursor")}
    stmt = services.staff_orders(current_user(), filters, AuditAction.LIST)
    return paginate(stmt, order_by=(PaymentOrder.id,), limit=args["limit"], cursor=args["cursor"])


CSV_COLUMNS = (
    "订单编号",
    "商户订单号",
    "微信支付订单号",
    "用途",
    "业务编号",
    "商品描述",
    "付款人",
    "手机",
    "金额(元)",
    "状态",
    "创建时间",
    "支付时间",
    "已退款(元)",
    "退款中(元)",
    "区域",
)
STATUS_ZH = {"pending": "待支付", "paid": "已支付", "closed": "已关闭"}


def _local(value: Any) -> str:
    return value.astimezone(LOCAL_TZ).strftime("%Y-%m-%d %H:%M:%S") if value else ""


def _cell(value: Any) -> str:
    """A cell Excel will not run: text that starts like a formula is kept as text."""
    text = "" if value is None else str(value)
    return "'" + text if text[:1] in ("=", "+", "-", "@", "\t", "\r") else text


@staff_route(admin_blp, "/export.csv", methods=["GET"], roles=PAYMENT_STAFF_ROLES)
@admin_blp.arguments(schemas.AdminPaymentExportArgs, location="query")
@admin_blp.doc(responses={"200": {"description": "orders", "content": {"text/csv": {"schema": {"type": "string"}}}}})
def admin_export_payments(args: dict[str, Any]) -> Any:
    """Orders of my area with the same filters, as CSV (UTF-8 with BOM for Excel; amounts in yuan). Audited."""
    stmt = services.staff_orders(current_user(), args, AuditAction.EXPORT).order_by(PaymentOrder.id)
    out = io.StringIO()
    out.write("\ufeff")
    writer = csv.writer(out)
    writer.writerow(CSV_COLUMNS)
    for order in db.session.scalars(stmt):
        writer.writerow(
            [
                _cell(v)
                for v in (
                    order.id,
                    order.out_trade_no,
                    order.transaction_id,
                    order.purpose,
                    order.reference,
                    order.description,
                    order.payer.nickname if order.payer else "已注销用户",
                    mask_phone(order.payer.phone) if order.payer else "",
                    services.yuan(order.amount_fen),
                    STATUS_ZH[order.status.value],
                    _local(order.created_at),
                    _local(order.paid_at),
                    services.yuan(order.refund_succeeded_fen),
                    services.yuan(order.refund_pending_fen),
                    order.area_path,
                )
            ]
        )
    return Response(
        out.getvalue(),
        mimetype="text/csv",
        headers={"Content-Disposition": 'attachment; filename="payments.csv"'},
    )


@staff_route(admin_blp, "/<uuid:order_id>", methods=["GET"], roles=PAYMENT_STAFF_ROLES)
@admin_blp.response(200, schemas.StaffPaymentSchema)
def admin_get_payment(order_id: uuid.UUID) -> Any:
    """One order of my area with its refunds. Audited."""
    return services.view_order(current_user(), order_id)


@staff_route(admin_blp, "/<uuid:order_id>/refunds", methods=["POST"], roles=FINANCE_ROLES)
@idempotent
@admin_blp.arguments(schemas.StaffRefundArgs)
@admin_blp.response(201, schemas.StaffRefundSchema)
@admin_blp.alt_response(409, description="Not paid, or more than is left to refund")
def admin_refund_payment(args: dict[str, Any], order_id: uuid.UUID) -> Any:
    """Refund part or all of an order on the resident's behalf, saying why (finance and admins; audited). The
    refund goes to WeChat Pay after this answer; its state shows on the order."""
    return services.staff_refund(current_user(), order_id, args["amount_fen"], args["reason"])


@staff_route(admin_blp, "/discrepancies", methods=["GET"], roles=FINANCE_ROLES)
@admin_blp.arguments(schemas.DiscrepancyListArgs, location="query")
@admin_blp.response(200, page_of(schemas.DiscrepancySchema))
def admin_list_payment_discrepancies(args: dict[str, Any]) -> Any:
    """Differences the daily reconciliation found between our records and WeChat Pay's bill (finance, admins)."""
    filters = {k: args[k] for k in ("bill_date", "kind", "entry")}
    stmt = services.discrepancies(current_user(), filters)
    return paginate(stmt, order_by=(PaymentDiscrepancy.id,), limit=args["limit"], cursor=args["cursor"])


@staff_route(admin_blp, "/reconciliations", methods=["GET"], roles=FINANCE_ROLES)
@admin_blp.arguments(CursorArgs, location="query")
@admin_blp.response(200, page_of(schemas.ReconciliationSchema))
def admin_list_payment_reconciliations(args: dict[str, Any]) -> Any:
    """Each reconciled day: the totals of WeChat Pay's bill and ours, and how many differences (finance, admins)."""
    stmt = services.reconciliations(current_user())
    return paginate(stmt, order_by=(PaymentReconciliation.id,), limit=args["limit"], cursor=args["cursor"])


@staff_route(admin_blp, "/audit", methods=["GET"], roles=FINANCE_ROLES)
@admin_blp.arguments(CursorArgs, location="query")
@admin_blp.response(200, page_of(schemas.AuditSchema))
def admin_list_payment_audit(args: dict[str, Any]) -> Any:
    """Who read, exported or refunded what, when and why (finance, admins)."""
    stmt = services.audit_log(current_user())
    return paginate(stmt, order_by=(PaymentAudit.id,), limit=args["limit"], cursor=args["cursor"])


blueprints = [payments_blp, admin_blp]
plain_blueprints = [wechat_blp, commands]
