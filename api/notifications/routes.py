"""Routes of notifications: my inbox and subscribe-message credits; the staff view of the outbox."""

from __future__ import annotations

import uuid
from typing import Any

from api.auth import current_user, login_required, staff_route
from api.errors import ApiError
from api.extensions import Blueprint, get_settings
from api.notifications import schemas, services
from api.notifications.catalogue import describe
from api.notifications.models import Notification
from api.pagination import page_of, paginate

me_blp = Blueprint("me-messages", __name__, url_prefix="/api/v1/me", description="My messages and WeChat subscriptions")
admin_blp = Blueprint(
    "admin-notifications", __name__, url_prefix="/api/v1/admin", description="Staff: what was sent, and how"
)


@me_blp.route("/messages", methods=["GET"])
@login_required()
@me_blp.arguments(schemas.InboxArgs, location="query")
@me_blp.response(200, page_of(schemas.MessageSchema))
def list_messages(args: dict[str, Any]) -> Any:
    """My inbox, newest first: every message sent to me, whatever happened on WeChat."""
    stmt = services.inbox(current_user(), args["unread_only"])
    return paginate(stmt, order_by=(Notification.id,), limit=args["limit"], cursor=args["cursor"])


@me_blp.route("/messages/unread-count", methods=["GET"])
@login_required()
@me_blp.response(200, schemas.UnreadCountSchema)
def count_unread_messages() -> Any:
    """How many messages I have not read (the badge on the tab bar)."""
    return {"unread": services.unread_count(current_user())}


@me_blp.route("/messages/<uuid:message_id>/read", methods=["POST"])
@login_required()
@me_blp.response(200, schemas.MessageSchema)
def mark_message_read(message_id: uuid.UUID) -> Any:
    """Mark one message read (again is harmless)."""
    return services.mark_read(current_user(), message_id)


@me_blp.route("/messages/read-all", methods=["POST"])
@login_required()
@me_blp.response(200, schemas.MarkedSchema)
def mark_all_messages_read() -> Any:
    """Mark every message read."""
    return {"marked": services.mark_all_read(current_user())}


@me_blp.route("/subscriptions", methods=["POST"])
@login_required()
@me_blp.arguments(schemas.SubscriptionAnswersArgs)
@me_blp.response(200, schemas.CreditsSchema)
def record_subscriptions(args: dict[str, Any]) -> Any:
    """Report what `wx.requestSubscribeMessage` resolved with; each "accept" is one message allowed."""
    args.pop("errMsg", None)
    bad = {
        k: ['must be "accept", "reject", "ban" or "filter"']
        for k, v in args.items()
        if v not in schemas.SUBSCRIBE_ANSWERS
    }
    if bad:
        raise ApiError("validation_failed", errors=bad)
    return {"credits": services.record_subscriptions(current_user(), args, get_settings())}


@me_blp.route("/subscriptions", methods=["GET"])
@login_required()
@me_blp.response(200, schemas.CreditsSchema)
def get_subscriptions() -> Any:
    """My subscription credits per subscribe template."""
    return {"credits": services.subscription_credits(current_user(), get_settings())}


@me_blp.route("/message-templates", methods=["GET"])
@login_required()
@me_blp.response(200, schemas.TemplateCatalogueSchema)
def list_message_templates() -> Any:
    """The message catalogue with this deployment's template ids: what to ask
    `wx.requestSubscribeMessage` for before an action whose outcome the resident wants to hear about."""
    return {"kinds": describe(get_settings().wechat_template_ids)}


@staff_route(admin_blp, "/notifications", methods=["GET"])
@admin_blp.arguments(schemas.OutboxArgs, location="query")
@admin_blp.response(200, page_of(schemas.OutboxMessageSchema))
def list_outbox(args: dict[str, Any]) -> Any:
    """Messages to people in my area with every delivery attempt (in the sandbox: what would be sent)."""
    stmt = services.outbox_in_scope(current_user(), args["status"], args["user_id"])
    return paginate(stmt, order_by=(Notification.id,), limit=args["limit"], cursor=args["cursor"])


blueprints = [me_blp, admin_blp]
