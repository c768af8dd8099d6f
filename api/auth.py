"""The one auth check: bearer access tokens (pyjwt, HS256), `login_required` for people's routes and
`staff_route` for staff's (which also documents their 401/403/404 answers). What staff may see once in is
`api.scope`'s rule, not this module's.

Access tokens are short-lived and carry `sub`, `roles`, `scope` (a staff member's area code) and `jti`.
The decoder pins the algorithm, audience and issuer, so `alg: none`, a foreign key or another
service's token are all refused. The user is re-read on every request, so a disabled account or a
withdrawn role stops working at once rather than when the token expires; so is whether the token's login
session was ended (logout, a stolen refresh token), in the same query.
"""

from __future__ import annotations

import functools
import uuid
from collections.abc import Callable
from datetime import timedelta
from typing import TYPE_CHECKING, Any, TypeVar

import jwt
from flask import current_app, g, request
from sqlalchemy import Select, bindparam, false, select
from sqlalchemy.orm import joinedload

from api.accounts import policy
from api.accounts.models import RefreshToken, Role, User
from api.cache import StoreUnavailable
from api.db import db, new_id, utcnow
from api.errors import ApiError
from api.extensions import store

if TYPE_CHECKING:
    from api.extensions import Blueprint

ALGORITHM = "HS256"
AUDIENCE = "linli-api"
ISSUER = "linli"

F = TypeVar("F", bound=Callable[..., Any])


def issue_access_token(user: User, *, secret: str, ttl_seconds: int, session_id: uuid.UUID | None = None) -> str:
    now = utcnow()
    claims: dict[str, Any] = {
        "sub": str(user.id),
        "roles": user.roles,
        "scope": user.staff_area.code if user.staff_area is not None else None,
        "jti": new_id().hex,
        "iat": now,
        "nbf": now,
        "exp": now + timedelta(seconds=ttl_seconds),
        "aud": AUDIENCE,
        "iss": ISSUER,
    }
    if session_id is not None:
        # The refresh-token family: ending the session also stops its access tokens before they expire.
        claims["sid"] = session_id.hex
    return jwt.encode(claims, secret, algorithm=ALGORITHM)


LEEWAY_SECONDS = 5
INVALID_TOKEN = 'Bearer error="invalid_token"'


@functools.lru_cache(maxsize=4096)
def _signed_claims(token: str, secret: str) -> dict[str, Any]:
    """The claims of a token whose signature, algorithm, audience and issuer check out, remembered per process:
    a token is sent with every request of a session and checking it anew cost 41 µs, 5 % of a worker's CPU on
    `/me` (py-spy). Only what cannot change is remembered; expiry is judged on each use. A refused token raises
    and is not remembered."""
    return jwt.decode(
        token,
        secret,
        algorithms=[ALGORITHM],
        audience=AUDIENCE,
        issuer=ISSUER,
        options={"require": ["exp", "sub", "jti", "aud", "iss"], "verify_exp": False},
        leeway=LEEWAY_SECONDS,
    )


def decode_access_token(token: str, *, secret: str) -> dict[str, Any]:
    try:
        claims = _signed_claims(token, secret)
    except jwt.PyJWTError as exc:
        raise ApiError("token_invalid", headers={"WWW-Authenticate": INVALID_TOKEN}) from exc
    expires = claims["exp"]
    if isinstance(expires, bool) or not isinstance(expires, int | float):
        raise ApiError("token_invalid", headers={"WWW-Authenticate": INVALID_TOKEN})
    if expires < utcnow().timestamp() - LEEWAY_SECONDS:
        raise ApiError("token_expired", headers={"WWW-Authenticate": INVALID_TOKEN})
    return dict(claims)  # the remembered claims stay as they were


def _bearer_token() -> str | None:
    header = request.headers.get("Authorization", "")
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        return None
    return token.strip()


def authenticate() -> User:
    """The user behind this request's bearer token, or a 401."""
    if "user" in g:
        return g.user
    token = _bearer_token()
    if token is None:
        raise ApiError("unauthorized", headers={"WWW-Authenticate": "Bearer"})
    claims = decode_access_token(token, secret=current_app.config["SECRET_KEY"])
    try:
        user_id = uuid.UUID(claims["sub"])
        session_id = uuid.UUID(hex=claims["sid"]) if "sid" in claims else None
    except (ValueError, TypeError, AttributeError) as exc:
        raise ApiError("token_invalid") from exc
    statement = _AUTH_IN_SESSION if session_id is not None else _AUTH
    row = db.session.execute(statement, {"uid": user_id, "sid": session_id, "now": utcnow()}).unique().first()
    if row is None:
        raise ApiError("token_invalid")
    user, session_ended, g.policy_in_force = row
    if session_ended:
        raise ApiError("session_ended", headers={"WWW-Authenticate": INVALID_TOKEN})
    if not user.is_active:
        raise ApiError("account_disabled")
    g.user = user
    return user


def _auth_statement(*, in_session: bool) -> Select[Any]:
    """The user, their roles, whether this login session was ended (logout, a stolen refresh token) and the
    privacy policy version in force, in one query. Ended sessions are read from the database, where logging
    out revokes the session's refresh tokens, not from Redis: a Redis restart or outage neither lets an
    ended session back in nor locks anyone out.

    Built once, with its values as bound parameters: every request runs it, and building a statement and
    deriving its cache key cost more than the database takes to answer it."""
    ended = (
        select(RefreshToken.id)
        .where(RefreshToken.family_id == bindparam("sid"), RefreshToken.revoked_at.is_not(None))
        .exists()
        if in_session
        else false()
    )
    return (
        select(User, ended.label("ended"), policy.version_in_force(bindparam("now")).label("policy"))
        .where(User.id == bindparam("uid"))
        .options(joinedload(User.role_rows))
    )


_AUTH = _auth_statement(in_session=False)
_AUTH_IN_SESSION = _auth_statement(in_session=True)


def current_user() -> User:
    return authenticate()


def wrote_key(user_id: uuid.UUID) -> str:
    """The store's mark of a person who wrote something a moment ago (see `reads_replica`)."""
    return f"wrote:{user_id}"


def reads_replica(func: F) -> F:
    """The route only lists or counts: its reads may go to the read replica (`DATABASE_READ_URL`) — unless the
    person wrote something in the last `DATABASE_READ_STICKY_SECONDS` (the app marks them after each committed
    write), so that a booking just made is in "my bookings" however far the replica lags. The account and the
    ended-session check were read from the primary already (`authenticate`), so a logout is never missed.
    When the shared store cannot say, the primary answers."""

    @functools.wraps(func)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        if db.read_engine is not None:
            user = g.get("user")
            try:
                sticky = user is not None and store.marked(wrote_key(user.id))
            except StoreUnavailable:
                sticky = True
            if not sticky:
                db.read_from_replica()
        return func(*args, **kwargs)

    return wrapper  # type: ignore[return-value]


def policy_exempt(func: F) -> F:
    """This route works before the person accepted the privacy policy in force (see `api.accounts.policy`)."""
    func._policy_exempt = True  # type: ignore[attr-defined]
    return func


def login_required(*roles: Role) -> Callable[[F], F]:
    """Require a valid access token and, when given, one of `roles`; a resident must have accepted the
    privacy policy in force unless the route is `policy_exempt`. Also documents the security."""

    def decorator(func: F) -> F:
        @functools.wraps(func)
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            user = authenticate()
            if roles and not user.has_role(*roles):
                raise ApiError("forbidden")
            in_force = g.get("policy_in_force")
            if (
                in_force is not None
                and not wrapper.__dict__.get("_policy_exempt")
                and policy.must_accept(user, in_force)
            ):
                raise ApiError("policy_not_accepted", version=in_force)
            return func(*args, **kwargs)

        apidoc = getattr(wrapper, "_apidoc", {})
        apidoc.setdefault("manual_doc", {}).setdefault("security", [{"bearerAuth": []}])
        wrapper._apidoc = apidoc  # type: ignore[attr-defined]
        return wrapper  # type: ignore[return-value]

    return decorator


STAFF_ROLES = (Role.STAFF, Role.ADMIN)


def staff_route(
    blp: Blueprint, rule: str, *, roles: tuple[Role, ...] = STAFF_ROLES, **options: Any
) -> Callable[[F], F]:
    """Register a route only staff may call, in place of `blp.route(rule, **options)`.

    The access token and the role (one of `roles`) are checked before the body is parsed or any object is read:
    401, then 403 `forbidden`. The OpenAPI document says so, and where the path names an object, that the
    answer is 404 when it does not exist or is outside the caller's area (`api.scope`), which the view checks.
    """
    who = " or ".join(role.value for role in roles)

    def decorator(func: F) -> F:
        view: Any = login_required(*roles)(func)
        view = blp.alt_response(401, description="Not signed in, or the access token is invalid or expired")(view)
        view = blp.alt_response(403, description=f"Signed in, but not as {who}")(view)
        if "<" in rule:
            view = blp.alt_response(404, description="No such object, or it is outside my area")(view)
        # Who may call it, for tests that walk the routes and expect 403 of everyone else.
        view.staff_roles = roles
        return blp.route(rule, **options)(view)

    return decorator
