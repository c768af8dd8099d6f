"""Routes of Official Account linking: a person asks for a follow-and-bind code and sees whether they are
linked; WeChat pushes the Official Account's messages and events here. Thin: parse, authorise, call a
service, serialise."""

from __future__ import annotations

import logging
from typing import Any

from flask import Response, request

from api.auth import current_user, login_required
from api.extensions import Blueprint, accepts, get_settings
from api.officialaccount import schemas, services

log = logging.getLogger(__name__)

me_blp = Blueprint(
    "official-account", __name__, url_prefix="/api/v1", description="My Official Account link (template messages)"
)
oa_blp = Blueprint(
    "wechat-official-account",
    __name__,
    url_prefix="/api/v1/wechat/official-account",
    description="The Official Account's message and event push (follow-and-bind)",
)
XML_TYPES = ("text/xml", "application/xml")


@me_blp.route("/me/official-account", methods=["GET"])
@login_required()
@me_blp.response(200, schemas.OaLinkStatusSchema)
def eldercare_get_official_account_link() -> Any:
    """Whether my Official Account identity is linked (template messages reach me)."""
    return services.oa_link_status(current_user())


@me_blp.route("/me/official-account/link", methods=["POST"])
@login_required()
@me_blp.response(201, schemas.OaLinkSchema)
def eldercare_start_official_account_link() -> Any:
    """Follow-and-bind: a code to send to the Official Account (or the scene of its follow QR code)."""
    user = current_user()
    linked = user.wechat_oa_openid is not None
    link = services.start_oa_link(user, get_settings())
    return {
        "code": link.code,
        "scene": services.OA_SCENE_PREFIX + link.code,
        "expires_at": link.expires_at,
        "linked": linked,
    }


@me_blp.route("/me/official-account/link/sandbox-confirm", methods=["POST"])
@login_required()
@me_blp.arguments(schemas.OaSandboxConfirmArgs)
@me_blp.response(200, schemas.OaLinkStatusSchema)
@me_blp.alt_response(404, description="Not in sandbox mode (an Official Account is configured)")
def eldercare_sandbox_confirm_official_account_link(args: dict[str, Any]) -> Any:
    """SANDBOX ONLY (no Official Account configured, never in production): act as if I had followed
    the Official Account with this code, so the flow can be tried without WeChat."""
    user = current_user()
    services.sandbox_confirm_oa_link(get_settings(), user, args["code"])
    return services.oa_link_status(user)


def _signed() -> None:
    services.check_oa_signature(
        get_settings(),
        request.args.get("signature", ""),
        request.args.get("timestamp", ""),
        request.args.get("nonce", ""),
    )


@oa_blp.route("/events", methods=["GET"])
@oa_blp.doc(
    responses={
        "200": {"description": "echostr, as WeChat asks", "content": {"text/plain": {"schema": {"type": "string"}}}}
    }
)
@oa_blp.alt_response(403, description="Bad signature")
@oa_blp.alt_response(503, description="WECHAT_OA_TOKEN is not set")
def wechat_official_account_verify() -> Any:
    """WeChat's server check when the push URL is configured: answer `echostr` if the signature holds."""
    _signed()
    return Response(request.args.get("echostr", ""), mimetype="text/plain")


@oa_blp.route("/events", methods=["POST"])
@accepts(*XML_TYPES, "text/plain")
@oa_blp.doc(
    responses={
        "200": {
            "description": "`success`, or an XML text reply",
            "content": {"text/xml": {"schema": {"type": "string"}}},
        }
    }
)
@oa_blp.alt_response(403, description="Bad signature")
@oa_blp.alt_response(503, description="WECHAT_OA_TOKEN is not set")
def wechat_official_account_push() -> Any:
    """Messages and events WeChat pushes (plaintext mode): a follow or scan with a `link_<code>` scene, or
    a text with the link code, links the follower's openid to the user who asked for the code; a follow
    without one links by unionid (`cgi-bin/user/info`) when it matches a mini-program user."""
    from wechatpy import parse_message
    from wechatpy.replies import create_reply

    _signed()
    try:
        message = parse_message(request.get_data(as_text=True))
    except Exception:  # malformed XML is the sender's problem: never a 500 back to WeChat
        log.warning("unreadable Official Account push")
        return Response("success", mimetype="text/plain")
    outcome = services.handle_oa_message(get_settings(), message)
    if outcome.reply is None:
        return Response("success", mimetype="text/plain")
    return Response(create_reply(outcome.reply, message).render(), mimetype="text/xml")


blueprints = [me_blp, oa_blp]
