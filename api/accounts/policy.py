"""The privacy policy a person must have accepted: versions staff publish (text and effective time), the
version in force (the latest whose time has come), and each person's acceptance of it.

Once a version is in force, a resident who has not accepted it gets 403 `policy_not_accepted` from every
route that needs their personal data (`api.auth.login_required`), except the ones marked
`policy_exempt`: reading the policy, accepting it, their own profile (which says that they must), and
exporting or deleting their data. Staff are bound by their employment, not by this policy.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import ColumnElement, ScalarSelect, select
from sqlalchemy.exc import IntegrityError

from api.accounts.models import PolicyAcceptance, PrivacyPolicy, User
from api.db import db, utcnow
from api.errors import ApiError


def version_in_force(now: datetime | ColumnElement[datetime] | None = None) -> ScalarSelect[Any]:
    """The version in force now (or at `now`, a time or a bound parameter), as a scalar subquery:
    `authenticate` reads it with the user, in one query."""
    return (
        select(PrivacyPolicy.version)
        .where(PrivacyPolicy.effective_at <= (utcnow() if now is None else now))
        .order_by(PrivacyPolicy.effective_at.desc(), PrivacyPolicy.id.desc())
        .limit(1)
        .scalar_subquery()
    )


def policy_in_force(now: datetime | None = None) -> PrivacyPolicy | None:
    return db.session.scalar(
        select(PrivacyPolicy)
        .where(PrivacyPolicy.effective_at <= (now or utcnow()))
        .order_by(PrivacyPolicy.effective_at.desc(), PrivacyPolicy.id.desc())
        .limit(1)
    )


def must_accept(user: User, in_force: str | None) -> bool:
    return in_force is not None and not user.is_staff and user.policy_version != in_force


def state_of(user: User, in_force: str | None) -> dict[str, Any]:
    """What `/me` says of the policy: the version in force, the one accepted, whether it must be accepted."""
    return {
        "in_force": in_force,
        "accepted": user.policy_version,
        "accepted_at": user.policy_accepted_at,
        "must_accept": must_accept(user, in_force),
    }


def publish(staff: User, version: str, text: str, effective_at: datetime) -> PrivacyPolicy:
    policy = PrivacyPolicy(version=version, text=text, effective_at=effective_at, published_by_id=staff.id)
    db.session.add(policy)
    try:
        with db.session.begin_nested():
            db.session.flush()
    except IntegrityError:
        raise ApiError("policy_version_exists", version=version, errors={"version": ["already published"]}) from None
    return policy


def accept(user: User, version: str, now: datetime | None = None) -> User:
    """Record that `user` accepted `version`, which must be published and in force (or the next to be)."""
    now = now or utcnow()
    policy = db.session.scalar(select(PrivacyPolicy).where(PrivacyPolicy.version == version))
    if policy is None:
        raise ApiError("validation_failed", errors={"version": ["no such privacy policy version"]})
    known = db.session.scalar(
        select(PolicyAcceptance).where(PolicyAcceptance.user_id == user.id, PolicyAcceptance.version == version)
    )
    if known is None:
        db.session.add(PolicyAcceptance(user_id=user.id, version=version, accepted_at=now))
    # The newest version accepted is the one that counts (accepting an older one changes nothing).
    current = db.session.scalar(select(PrivacyPolicy).where(PrivacyPolicy.version == user.policy_version))
    if current is None or (policy.effective_at, policy.id) >= (current.effective_at, current.id):
        user.policy_version = version
        user.policy_accepted_at = now
    db.session.flush()
    return user
