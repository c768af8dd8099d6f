"""Who may act on which party organisation: the tree rule, written once, for lists and single objects.

An organisation is reached — its data seen and acted on — by
- street staff through `api.scope`'s area rule over the organisation's anchor (`PartyOrg.area_path`): the
  committee's staff reach the organisations anchored in their committee and below; the whole subdistrict's
  staff and admins reach every one;
- party officers through the tree: a post in an organisation (书记, 委员, 党小组组长 …) reaches that
  organisation and every one below it (`PartyOrg.path` prefix), never a sibling or one above.

A child is anchored inside its parent's area, so both parts reach downwards only: the level above covers its
branches, and nobody reaches — so nobody edits — a superior's data. What needs "the level above" (approving
minutes, appointing officers, approving a transfer) asks `above`. Out of reach reads as absent: 404 for the
object in the URL, a 422 naming the field for one named in a body, exactly as for one that does not exist.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable
from typing import Any, TypeVar

from flask import g, has_request_context
from sqlalchemy import ColumnElement, Select, false, or_, select

from api import scope
from api.accounts.models import Role, User
from api.db import db
from api.errors import ApiError, NotFound
from api.party.models import MemberStatus, OrgKind, PartyMember, PartyOfficer, PartyOrg

T = TypeVar("T")


def officer_paths(user: User) -> tuple[str, ...]:
    """The paths of the organisations `user` holds a post in (a member in good standing, the post not ended);
    read once per request."""
    cache: dict[uuid.UUID, tuple[str, ...]] | None = (
        g.setdefault("_party_officer_paths", {}) if has_request_context() else None
    )
    if cache is not None and user.id in cache:
        return cache[user.id]
    paths = tuple(
        db.session.scalars(
            select(PartyOrg.path)
            .join(PartyOfficer, PartyOfficer.org_id == PartyOrg.id)
            .join(PartyMember, PartyMember.id == PartyOfficer.member_id)
            .where(
                PartyMember.user_id == user.id,
                PartyMember.status == MemberStatus.ACTIVE,
                PartyOfficer.ended_on.is_(None),
            )
            .distinct()
        )
    )
    if cache is not None:
        cache[user.id] = paths
    return paths


def forget_cached(user: User) -> None:
    """A post was given or ended in this request: read the posts again."""
    if has_request_context():
        g.setdefault("_party_officer_paths", {}).pop(user.id, None)


def condition(user: User, org: Any = PartyOrg) -> ColumnElement[bool]:
    """The rule in SQL over an organisation entity (or an alias of it)."""
    parts: list[ColumnElement[bool]] = []
    if user.is_staff:
        parts.append(scope.condition(user, org.area_path))
    parts += [org.path.startswith(path, autoescape=True) for path in officer_paths(user)]
    return or_(*parts) if parts else false()


def reachable(user: User) -> Select[tuple[uuid.UUID]]:
    """The ids of every organisation `user` reaches, for `<thing>.org_id.in_(reachable(user))`."""
    return select(PartyOrg.id).where(condition(user))


def in_reach(user: User, model: Any) -> Select[Any]:
    """The things (`model.org_id`: meetings, materials, quizzes, announcements, registrations) of organisations
    `user` reaches."""
    return select(model).where(model.org_id.in_(reachable(user)))


def of_members_in_reach(user: User, model: Any) -> Select[Any]:
    """The things (`model.member_id`: declarations, claims) of members of branches `user` reaches."""
    return (
        select(model)
        .join(PartyMember, PartyMember.id == model.member_id)
        .where(PartyMember.branch_id.in_(reachable(user)))
    )


def sees(user: User, org: PartyOrg | None) -> bool:
    """The rule for one organisation."""
    if org is None:
        return False
    if user.is_staff and scope.sees(user, org.area_path):
        return True
    return any(org.path.startswith(path) for path in officer_paths(user))


def above(user: User, org: PartyOrg) -> bool:
    """Whether `user` acts for the level above `org`: they reach its parent (for a top organisation, only an
    admin does)."""
    if org.parent is None:
        return user.has_role(Role.ADMIN) and sees(user, org)
    return sees(user, org.parent)


def ensure(user: User, obj: T | None, org: PartyOrg | None) -> T:
    """`obj` when it exists and its organisation is reached; otherwise 404, as for an id that does not exist."""
    if obj is None or not sees(user, org):
        raise NotFound()
    return obj


def org_for(
    user: User, org_id: uuid.UUID | None, *, field: str = "org_id", kinds: Iterable[OrgKind] | None = None
) -> PartyOrg:
    """An organisation named in a request body: 422 naming `field` when it does not exist or is out of reach,
    or is not of one of `kinds`."""
    org = db.session.get(PartyOrg, org_id) if org_id is not None else None
    if org is None or not sees(user, org):
        raise ApiError("validation_failed", errors={field: ["no such party organisation in your reach"]})
    allowed = tuple(kinds or ())
    if allowed and org.kind not in allowed:
        raise ApiError("validation_failed", errors={field: [f"must be a {' or '.join(k.value for k in allowed)}"]})
    return org


def may_act(user: User) -> bool:
    """Whether `user` acts for any organisation at all (staff, or an officer)."""
    return user.is_staff or bool(officer_paths(user))
