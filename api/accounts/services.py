"""Account rules: WeChat and staff login, rotating refresh tokens, profiles, household binding.

Callable without Flask: functions take what they need and work on `db.session`; the caller's unit of
work commits.
"""

from __future__ import annotations

import contextlib
import functools
import hashlib
import logging
import uuid
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from sqlalchemy import bindparam, delete, or_, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import joinedload
from sqlalchemy.orm.attributes import set_committed_value

from api import scope
from api.accounts import signals
from api.accounts.models import (
    Area,
    HouseholdMember,
    HouseholdRelation,
    HouseholdRequest,
    HouseholdRequestStatus,
    RefreshToken,
    Role,
    Room,
    User,
)
from api.auth import issue_access_token
from api.cache import StoreUnavailable
from api.config import Settings
from api.db import db, new_id, new_token, utcnow
from api.errors import ApiError, NotFound
from api.extensions import store
from api.wechat import MiniProgram

log = logging.getLogger(__name__)

_hasher = PasswordHasher()


@functools.cache
def _dummy_hash() -> str:
    """Verified against when the username does not exist, so both failures take the same time.

    Computed on first use: hashing is deliberately slow and would slow every process start."""
    return _hasher.hash("linli-no-such-user")


WECHAT_CODE_TTL_SECONDS = 600
WECHAT_TRANSIENT_ERRORS = frozenset({"wechat_busy", "wechat_rate_limited", "wechat_unavailable"})


@dataclass
class TokenPair:
    access_token: str
    refresh_token: str
    expires_in: int
    user: User


def _hash_token(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def hash_password(password: str) -> str:
    return _hasher.hash(password)


# Tokens -------------------------------------------------------------------------------------------


def _new_refresh_token(user: User, family_id: uuid.UUID, settings: Settings) -> str:
    token = new_token(32)
    db.session.add(
        RefreshToken(
            user_id=user.id,
            family_id=family_id,
            token_hash=_hash_token(token),
            expires_at=utcnow() + timedelta(seconds=settings.refresh_token_ttl_seconds),
        )
    )
    return token


def issue_tokens(user: User, settings: Settings, *, family_id: uuid.UUID | None = None) -> TokenPair:
    family_id = family_id or new_id()
    refresh = _new_refresh_token(user, family_id, settings)
    access = issue_access_token(
        user, secret=settings.secret_key, ttl_seconds=settings.access_token_ttl_seconds, session_id=family_id
    )
    return TokenPair(access, refresh, settings.access_token_ttl_seconds, user)


def revoke_family(family_id: uuid.UUID) -> None:
    """End a login session: its refresh tokens are revoked, and with them its access tokens (still
    unexpired): `authenticate` refuses a token whose session has a revoked refresh token."""
    db.session.execute(
        update(RefreshToken)
        .where(RefreshToken.family_id == family_id, RefreshToken.revoked_at.is_(None))
        .values(revoked_at=utcnow())
    )


def refresh_tokens(refresh_token: str, settings: Settings) -> TokenPair:
    """Rotate: the presented token is spent and a new one of the same family issued.

    Presenting a token spent longer ago than `refresh_reuse_grace_seconds` means it leaked (or a
    client misbehaved): the whole family is revoked, so the thief's copy and the owner's current one
    both stop working. The caller must commit even when this raises `refresh_token_reused`, or the
    revocation would be rolled back.
    """
    row = db.session.scalar(
        select(RefreshToken)
        .where(RefreshToken.token_hash == _hash_token(refresh_token))
        .with_for_update(of=RefreshToken)
    )
    now = utcnow()
    if row is None or row.revoked_at is not None or row.expires_at <= now:
        raise ApiError("refresh_token_invalid")
    if row.used_at is not None and now - row.used_at > timedelta(seconds=settings.refresh_reuse_grace_seconds):
        revoke_family(row.family_id)
        raise ApiError("refresh_token_reused", keep_changes=True)
    user = db.session.get(User, row.user_id)
    if user is None or not user.is_active:
        raise ApiError("refresh_token_invalid")
    # Within the grace period a second use is the same phone retrying after the first answer was lost
    # on a weak network: it gets a pair of the same family instead of losing the whole session.
    row.used_at = row.used_at or now
    return issue_tokens(user, settings, family_id=row.family_id)


def logout(refresh_token: str, settings: Settings) -> None:
    row = db.session.scalar(select(RefreshToken).where(RefreshToken.token_hash == _hash_token(refresh_token)))
    if row is not None:
        revoke_family(row.family_id)


def purge_expired_refresh_tokens(now: datetime | None = None) -> int:
    result = db.session.execute(delete(RefreshToken).where(RefreshToken.expires_at <= (now or utcnow())))
    return result.rowcount or 0


# WeChat login -------------------------------------------------------------------------------------


def wechat_login(code: str, miniprogram: MiniProgram, settings: Settings) -> TokenPair:
    """Exchange a `wx.login` code for our tokens, creating the resident on first login."""
    marker = f"wxcode:{hashlib.sha256(code.encode()).hexdigest()}"
    try:
        fresh = store.add_once(marker, WECHAT_CODE_TTL_SECONDS)
    except StoreUnavailable:
        # WeChat itself takes a code once (code2session refuses a used one); our mark only answers a reuse
        # before asking it. Logins go on while Redis is down.
        log.warning("WeChat login code not marked: the store is unavailable")
        fresh, marker = True, ""
    if not fresh:
        raise ApiError("wechat_code_used", errors={"code": ["already used"]})
    # In the sandbox the part before '#' names the person: "alice#1" and "alice#2" are one resident.
    identity_code = code.split("#", 1)[0] if miniprogram.sandbox else code
    try:
        session = miniprogram.code_to_session(identity_code)
    except ApiError as exc:
        if exc.code in WECHAT_TRANSIENT_ERRORS and marker:
            # WeChat never looked at the code: the mini-program may retry with it.
            with contextlib.suppress(StoreUnavailable):
                store.release(marker)
        raise
    user = db.session.scalar(select(User).where(User.wechat_openid == session.openid))
    if user is None:
        user = User(wechat_openid=session.openid, wechat_unionid=session.unionid, nickname="")
        user.grant(Role.RESIDENT)
        db.session.add(user)
        try:
            db.session.flush()
        except IntegrityError:
            # The same person logging in twice at once: the other request created them.
            db.session.rollback()
            user = db.session.scalar(select(User).where(User.wechat_openid == session.openid))
            if user is None:
                raise
    elif session.unionid and user.wechat_unionid != session.unionid:
        user.wechat_unionid = session.unionid
    if not user.is_active:
        raise ApiError("account_disabled")
    user.last_login_at = utcnow()
    signals.logged_in.send(user)
    return issue_tokens(user, settings)


# Staff login --------------------------------------------------------------------------------------


def staff_login(username: str, password: str, settings: Settings) -> TokenPair:
    """Password login for street staff, with a lockout after repeated failures.

    A failed attempt is counted although the request fails (`keep_changes`).
    """
    user = db.session.scalar(select(User).where(User.username == username).with_for_update(of=User))
    now = utcnow()
    if user is None or user.password_hash is None:
        with contextlib.suppress(VerificationError):
            _hasher.verify(_dummy_hash(), password + "x")
        raise ApiError("invalid_credentials")
    if user.locked_until is not None and user.locked_until > now:
        retry_after = int((user.locked_until - now).total_seconds()) + 1
        raise ApiError("account_locked", headers={"Retry-After": str(retry_after)}, retry_after=retry_after)
    try:
        _hasher.verify(user.password_hash, password)
    except (VerificationError, InvalidHashError):
        user.failed_login_count += 1
        if user.failed_login_count >= settings.staff_lockout_threshold:
            user.locked_until = now + timedelta(seconds=settings.staff_lockout_seconds)
            user.failed_login_count = 0
        raise ApiError("invalid_credentials", keep_changes=True) from None
    if not user.is_active or not user.is_staff:
        raise ApiError("account_disabled")
    if _hasher.check_needs_rehash(user.password_hash):
        user.password_hash = _hasher.hash(password)
    user.failed_login_count = 0
    user.locked_until = None
    user.last_login_at = now
    return issue_tokens(user, settings)


def create_staff(username: str, password: str, role: Role, area_code: str | None) -> User:
    if role not in (Role.STAFF, Role.ADMIN):
        raise ValueError("staff role must be 'staff' or 'admin'")
    if len(password) < 8:
        raise ValueError("password must be at least 8 characters")
    area = None
    if area_code:
        area = db.session.scalar(select(Area).where(Area.code == area_code))
        if area is None:
            raise ValueError(f"no area with code {area_code!r}")
    elif role == Role.STAFF:
        raise ValueError("a staff member needs --area (an admin without one sees the whole subdistrict)")
    user = db.session.scalar(select(User).where(User.username == username))
    if user is None:
        user = User(username=username, nickname=username)
        db.session.add(user)
    user.password_hash = hash_password(password)
    user.staff_area = area
    user.grant(role)
    db.session.flush()
    return user


# Profile ------------------------------------------------------------------------------------------


def update_profile(
    user: User,
    miniprogram: MiniProgram,
    *,
    nickname: str | None = None,
    avatar_url: str | None = None,
    phone_code: str | None = None,
) -> User:
    if nickname is not None:
        user.nickname = nickname.strip()
    if avatar_url is not None:
        user.avatar_url = avatar_url or None
    if phone_code:
        user.phone = miniprogram.phone_number(phone_code)
    return user


# A room's address names its building, estate and committee: load them with the room, not one by one.
WITH_ADDRESS = (
    joinedload(HouseholdMember.room)
    .joinedload(Room.building)
    .joinedload(Area.parent)
    .joinedload(Area.parent)
    .joinedload(Area.parent)
)


# Built once (see `api.auth._auth_statement`): nearly every page that names a place runs it.
_AREAS_AT = select(Area).where(Area.path.in_(bindparam("paths", expanding=True)))


def load_ancestors(places: Iterable[Area | None]) -> None:
    """Load every ancestor of these areas in one statement and hang each on its child's `.parent`, so walking
    up the tree (full names, addresses) sends no more statements. Their paths name the ancestors
    ("/KJ/KJ01/KJ01-01/" → "/KJ/", "/KJ/KJ01/"): a page of cases in twenty estates costs this one statement,
    not one per estate and level."""
    areas = [area for area in places if area is not None]
    wanted: set[str] = set()
    for area in areas:
        parts = area.path.strip("/").split("/")
        wanted.update("/" + "/".join(parts[:depth]) + "/" for depth in range(1, len(parts)))
    if not wanted:
        return
    by_id = {a.id: a for a in db.session.scalars(_AREAS_AT, {"paths": sorted(wanted)})}
    for area in areas:
        node: Area | None = area
        while node is not None and "parent" not in node.__dict__:
            parent = by_id.get(node.parent_id) if node.parent_id is not None else None
            if node.parent_id is not None and parent is None:
                break  # not under its path's ancestors (never so in practice): leave it to the lazy load
            set_committed_value(node, "parent", parent)
            node = parent


# Built once (see `api.auth._auth_statement`): the home screen asks for it on every open.
_HOUSEHOLDS_OF = (
    select(HouseholdMember)
    .where(HouseholdMember.user_id == bindparam("user_id"))
    .options(WITH_ADDRESS)
    .order_by(HouseholdMember.created_at)
)


def households_of(user: User) -> list[HouseholdMember]:
    """The person's households, each with what its address needs, in one statement."""
    return list(db.session.scalars(_HOUSEHOLDS_OF, {"user_id": user.id}).unique())


# Household binding --------------------------------------------------------------------------------


def request_household(user: User, room_id: uuid.UUID, relation: HouseholdRelation, note: str = "") -> HouseholdRequest:
    room = db.session.get(Room, room_id)
    if room is None:
        raise ApiError("validation_failed", errors={"room_id": ["no such room"]})
    member = db.session.scalar(
        select(HouseholdMember).where(HouseholdMember.user_id == user.id, HouseholdMember.room_id == room_id)
    )
    if member is not None:
        raise ApiError("already_household_member")
    pending = db.session.scalar(
        select(HouseholdRequest).where(
            HouseholdRequest.user_id == user.id,
            HouseholdRequest.room_id == room_id,
            HouseholdRequest.status == HouseholdRequestStatus.PENDING,
        )
    )
    if pending is not None:
        raise ApiError("household_request_exists")
    req = HouseholdRequest(user_id=user.id, room_id=room_id, relation=relation, note=note)
    db.session.add(req)
    try:
        db.session.flush()
    except IntegrityError:
        db.session.rollback()
        raise ApiError("household_request_exists") from None
    return req


def get_own_household_request(user: User, request_id: uuid.UUID) -> HouseholdRequest:
    req = db.session.get(HouseholdRequest, request_id)
    if req is None or req.user_id != user.id:
        raise NotFound()
    return req


def withdraw_household_request(user: User, request_id: uuid.UUID) -> HouseholdRequest:
    req = get_own_household_request(user, request_id)
    _ensure_pending(req)
    req.status = HouseholdRequestStatus.WITHDRAWN
    req.decided_at = utcnow()
    return req


def _ensure_pending(req: HouseholdRequest) -> None:
    if req.status != HouseholdRequestStatus.PENDING:
        raise ApiError("household_request_decided", state=req.status.value)


def _locked_staff_request(staff: User, request_id: uuid.UUID) -> HouseholdRequest:
    return scope.ensure_visible(
        staff,
        db.session.scalar(
            select(HouseholdRequest).where(HouseholdRequest.id == request_id).with_for_update(of=HouseholdRequest)
        ),
    )


def approve_household_request(staff: User, request_id: uuid.UUID) -> HouseholdRequest:
    req = _locked_staff_request(staff, request_id)
    _ensure_pending(req)
    req.status = HouseholdRequestStatus.APPROVED
    req.decided_by_id = staff.id
    req.decided_at = utcnow()
    exists = db.session.scalar(
        select(HouseholdMember).where(HouseholdMember.user_id == req.user_id, HouseholdMember.room_id == req.room_id)
    )
    if exists is None:
        db.session.add(
            HouseholdMember(user_id=req.user_id, room_id=req.room_id, relation=req.relation, approved_by_id=staff.id)
        )
    signals.household_request_decided.send(req)
    return req


def reject_household_request(staff: User, request_id: uuid.UUID, reason: str) -> HouseholdRequest:
    req = _locked_staff_request(staff, request_id)
    _ensure_pending(req)
    req.status = HouseholdRequestStatus.REJECTED
    req.reject_reason = reason
    req.decided_by_id = staff.id
    req.decided_at = utcnow()
    signals.household_request_decided.send(req)
    return req


def resident_in_scope(staff: User, user_id: uuid.UUID) -> User:
    """A resident with a household (or a request for one) in the staff member's area (`api.scope`); 404 otherwise."""
    person = db.session.get(User, user_id)
    if person is None:
        raise NotFound()
    rooms = [m.room for m in households_of(person)] + [
        r.room for r in db.session.scalars(select(HouseholdRequest).where(HouseholdRequest.user_id == person.id))
    ]
    if not any(scope.sees(staff, room.path) for room in rooms):
        raise NotFound()
    return person


def household_requests_in_scope(staff: User, status: HouseholdRequestStatus | None):
    """The select() of requests a staff member may see; the route pages through it."""
    stmt = scope.visible(staff, HouseholdRequest)
    if status is not None:
        stmt = stmt.where(HouseholdRequest.status == status)
    return stmt


def search_areas(parent_id: uuid.UUID | None, q: str | None):
    stmt = select(Area)
    stmt = stmt.where(Area.parent_id == parent_id) if parent_id else stmt.where(Area.parent_id.is_(None))
    if q:
        stmt = stmt.where(or_(Area.name.contains(q, autoescape=True), Area.code == q))
    return stmt


def rooms_of_building(building_id: uuid.UUID):
    return select(Room).where(Room.building_id == building_id)
