"""What accounts holds about a person (their profile, WeChat identity, households and requests, login
sessions, roles, Idempotency-Key replies, policy acceptances, and the staff reads of their data), how it
is exported, and how it is erased: the last domain to erase, it deletes the user row itself."""

from __future__ import annotations

from typing import Any

from sqlalchemy import delete, select

from api.accounts.models import (
    AccessLog,
    HouseholdMember,
    HouseholdRequest,
    PolicyAcceptance,
    PrivacyPolicy,
    RefreshToken,
    User,
    UserRole,
)
from api.db import db
from api.idempotency import IdempotencyKey
from api.personaldata import PersonalData, forget, jsonable, record

ERASED = "erased"

personal_data = PersonalData(
    categories=("账号与微信身份", "手机号", "房屋绑定及申请", "登录会话", "隐私政策同意记录", "工作人员查阅记录"),
    covers=(
        "users.nickname",
        "users.avatar_url",
        "users.phone",
        "users.phone_hash",
        "users.wechat_openid",
        "users.wechat_unionid",
        "users.wechat_oa_openid",
        "users.username",
        "user_roles.user_id",
        "refresh_tokens.user_id",
        "household_members.user_id",
        "household_members.relation",
        "household_members.approved_by_id",
        "household_requests.user_id",
        "household_requests.relation",
        "household_requests.note",
        "household_requests.reject_reason",
        "household_requests.decided_by_id",
        "idempotency_keys.user_id",
        "idempotency_keys.response_body",
        "policy_acceptances.user_id",
        "privacy_policies.published_by_id",
        "access_log.staff_id",
        "access_log.subject_id",
        "access_log.reason",
    ),
    export="api.accounts.personal:export",
    erase="api.accounts.personal:erase",
    summary="api.accounts.personal:summary",
)


def export(user: User) -> dict[str, Any]:
    households = db.session.scalars(select(HouseholdMember).where(HouseholdMember.user_id == user.id)).all()
    requests = db.session.scalars(select(HouseholdRequest).where(HouseholdRequest.user_id == user.id)).all()
    acceptances = db.session.scalars(select(PolicyAcceptance).where(PolicyAcceptance.user_id == user.id)).all()
    return {
        "profile": {
            **record(user, "id", "nickname", "avatar_url", "phone", "birth_year", "is_party_member"),
            **record(user, "created_at", "last_login_at", "policy_version", "policy_accepted_at"),
            "roles": sorted(user.roles),
            "wechat_linked": user.wechat_openid is not None,
            "official_account_linked": user.wechat_oa_openid is not None,
        },
        "households": [{"address": m.room.address, **record(m, "relation", "created_at")} for m in households],
        "household_requests": [
            {"address": r.room.address, **record(r, "relation", "note", "status", "reject_reason", "created_at")}
            for r in requests
        ],
        "privacy_policy_acceptances": [record(a, "version", "accepted_at") for a in acceptances],
    }


def erase(user: User) -> None:
    """Everything that exists only for them goes; what staff decided stays without them; then the user."""
    for model in (HouseholdMember, HouseholdRequest, RefreshToken, IdempotencyKey, PolicyAcceptance, UserRole):
        db.session.execute(delete(model).where(model.user_id == user.id))
    forget(HouseholdMember.approved_by_id, user.id)
    forget(HouseholdRequest.decided_by_id, user.id)
    forget(AccessLog.staff_id, user.id)
    # Staff reads of their data stay in the log (an audit trail), but no longer say whose.
    db.session.execute(
        AccessLog.__table__.update()
        .where(AccessLog.subject_kind == "user", AccessLog.subject_id == user.id)
        .values(subject_id=None, subject_kind=ERASED)
    )
    forget(PrivacyPolicy.published_by_id, user.id)
    db.session.execute(delete(User).where(User.id == user.id))


def summary(user: User) -> dict[str, Any]:
    return jsonable({"privacy_policy": {"version": user.policy_version, "accepted_at": user.policy_accepted_at}})
