"""Official Account identity: follow-and-bind codes, the follower's openid linked to a user (by the code
shown as the OA QR's scene or sent as text, or by unionid), and the handling of what the OA pushes.
With the openid linked, template messages reach the person on the Official Account (notifications).
"""

from __future__ import annotations

import hashlib
import hmac
import logging
import re
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from sqlalchemy import select

from api.accounts.models import User
from api.config import Settings
from api.db import CODE_ALPHABET, db, new_code, utcnow
from api.errors import ApiError
from api.officialaccount.models import OfficialAccountLink

log = logging.getLogger(__name__)

LINK_CODE_LENGTH = 8
OA_SCENE_PREFIX = "link_"
_OA_CODE = re.compile(r"(?<![A-Z0-9])([" + CODE_ALPHABET + r"]{" + str(LINK_CODE_LENGTH) + r"})(?![A-Z0-9])")


def start_oa_link(user: User, settings: Settings) -> OfficialAccountLink:
    """A code for follow-and-bind: shown as the OA QR's scene (`link_<code>`) or sent to the OA as text."""
    now = utcnow()
    link = OfficialAccountLink(
        user_id=user.id,
        code=new_code(LINK_CODE_LENGTH),
        created_at=now,
        expires_at=now + timedelta(minutes=settings.oa_link_ttl_minutes),
    )
    db.session.add(link)
    db.session.flush()
    return link


def _set_oa_openid(user: User, openid: str) -> None:
    holder = db.session.scalar(select(User).where(User.wechat_oa_openid == openid))
    if holder is not None and holder.id != user.id:
        # One WeChat person follows the OA once: the newest proof of who they are wins.
        holder.wechat_oa_openid = None
        db.session.flush()
    user.wechat_oa_openid = openid
    db.session.flush()


def link_by_code(code: str, openid: str) -> User | None:
    """The follower showed a link code (QR scene or text): give its user this OA openid."""
    now = utcnow()
    link = db.session.scalar(
        select(OfficialAccountLink)
        .where(OfficialAccountLink.code == code.strip().upper())
        .with_for_update(of=OfficialAccountLink)
    )
    if link is None or link.used_at is not None or link.expires_at <= now:
        return None
    user = db.session.get(User, link.user_id)
    if user is None:
        return None
    link.used_at = now
    _set_oa_openid(user, openid)
    return user


def link_by_unionid(openid: str, unionid: str | None) -> User | None:
    """WeChat told us the follower's unionid: the mini-program user with the same unionid is them."""
    if not unionid:
        return None
    user = db.session.scalar(select(User).where(User.wechat_unionid == unionid).order_by(User.created_at).limit(1))
    if user is None or user.wechat_oa_openid == openid:
        return user
    _set_oa_openid(user, openid)
    return user


def check_oa_signature(settings: Settings, signature: str, timestamp: str, nonce: str) -> None:
    from wechatpy.exceptions import InvalidSignatureException
    from wechatpy.utils import check_signature

    if not settings.wechat_oa_token:
        raise ApiError("oa_not_configured")
    try:
        check_signature(settings.wechat_oa_token, signature, timestamp, nonce)
    except InvalidSignatureException as exc:
        raise ApiError("oa_signature_invalid") from exc


def fetch_oa_unionid(settings: Settings, openid: str) -> str | None:
    """`cgi-bin/user/info` for the follower's unionid; None in the sandbox or when WeChat fails (the
    follow-and-bind code still works then)."""
    if not (settings.wechat_oa_app_id and settings.wechat_oa_secret):
        return None
    from api.wechat import WechatCallError, call_wechat_raw, make_client

    client = make_client(settings.wechat_oa_app_id, settings.wechat_oa_secret, settings)
    try:
        info = call_wechat_raw(client, lambda: client.user.get(openid))
    except WechatCallError as exc:
        log.warning("OA user info for a follower failed: %s", exc)
        return None
    return info.get("unionid")


@dataclass
class OaOutcome:
    reply: str | None  # text to answer the follower with, if any
    linked_user: User | None = None


LINKED_REPLY = "绑定成功！家中设备报警将通过本公众号通知您。"
UNKNOWN_CODE_REPLY = "绑定码无效或已过期，请在小程序“我的-公众号通知”中重新获取。"


def handle_oa_message(settings: Settings, message: Any) -> OaOutcome:
    """One parsed OA push (`wechatpy.parse_message`): follows, scans, unfollows and text with a code."""
    openid = str(message.source)
    kind = getattr(message, "type", "")
    event = getattr(message, "event", "")
    if kind == "event" and event in ("subscribe", "subscribe_scan", "scan"):
        scene = str(getattr(message, "scene_id", "") or getattr(message, "key", "") or "")
        scene = scene.removeprefix("qrscene_")
        user = None
        if scene.startswith(OA_SCENE_PREFIX):
            user = link_by_code(scene[len(OA_SCENE_PREFIX) :], openid)
        if user is None:
            user = link_by_unionid(openid, fetch_oa_unionid(settings, openid))
        if user is not None:
            return OaOutcome(LINKED_REPLY, user)
        return OaOutcome(None)
    if kind == "event" and event == "unsubscribe":
        # The openid stays linked (it is the same person if they follow again); WeChat refuses template
        # messages to a non-follower (43004) and the notifier falls back to the mini-program message.
        log.info("an Official Account follower unsubscribed")
        return OaOutcome(None)
    if kind == "text":
        match = _OA_CODE.search(str(getattr(message, "content", "")).upper())
        if match is None:
            return OaOutcome(None)
        user = link_by_code(match.group(1), openid)
        return OaOutcome(LINKED_REPLY if user is not None else UNKNOWN_CODE_REPLY, user)
    return OaOutcome(None)


def sandbox_oa_openid(settings: Settings, user: User) -> str:
    """The OA openid a user gets when the sandbox stands in for the follow (no OA configured)."""
    digest = hmac.new(settings.secret_key.encode(), f"oa-openid:{user.id}".encode(), hashlib.sha256).hexdigest()
    return "sbx-oa-" + digest[:24]


def sandbox_confirm_oa_link(settings: Settings, user: User, code: str) -> User:
    """Sandbox only: behave as if the user had followed the OA with this code."""
    if settings.wechat_oa_app_id or settings.is_production:
        raise ApiError("oa_sandbox_only")
    linked = link_by_code(code, sandbox_oa_openid(settings, user))
    if linked is None or linked.id != user.id:
        raise ApiError("oa_link_invalid", errors={"code": ["invalid or expired"]})
    return linked


def oa_link_status(user: User) -> dict[str, Any]:
    return {"linked": user.wechat_oa_openid is not None}
