"""Organisations, officers and members: the tree and who runs each part of it, the roll of members and its
history, and what a member sees of it (their own record in full; in their own branch, names and posts only).

Members are linked to resident accounts by street staff (`STAFF`/`ADMIN`), never declared by the person;
`User.is_party_member` (what event eligibility asks) follows the link. A leaver keeps their record with a
status; every change is a row of the member log. Callable without Flask; the caller commits.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable
from datetime import date, datetime
from typing import Any, TypeVar

from flask import current_app, has_app_context
from sqlalchemy import Select, delete, literal, select
from sqlalchemy.exc import IntegrityError

from api.accounts.models import Area, Role, User, UserRole
from api.config import Settings
from api.db import db, new_id, utcnow
from api.errors import ApiError, NotFound
from api.party import reach
from api.party.calendar import current_month, local_today, month_label
from api.party.models import (
    CURRENT_STATUSES,
    OPEN_TRANSFER_STATUSES,
    MemberCategory,
    MemberStatus,
    OfficerPost,
    OrgKind,
    PartyMember,
    PartyMemberLog,
    PartyOfficer,
    PartyOrg,
    PartyTransfer,
)
from api.personaldata import jsonable

T = TypeVar("T")
MEMBER_SUBJECT = "party_member"  # access-log subject kind: a staff read of a member's record

ORG_KIND_ZH = {
    OrgKind.COMMITTEE: "党委",
    OrgKind.GENERAL_BRANCH: "党总支",
    OrgKind.BRANCH: "党支部",
    OrgKind.GROUP: "党小组",
}
POST_ZH = {
    OfficerPost.SECRETARY: "书记",
    OfficerPost.DEPUTY_SECRETARY: "副书记",
    OfficerPost.ORGANISATION: "组织委员",
    OfficerPost.PUBLICITY: "宣传委员",
    OfficerPost.DISCIPLINE: "纪检委员",
    OfficerPost.COMMITTEE_MEMBER: "委员",
    OfficerPost.GROUP_LEADER: "党小组组长",
}
# What may hang under what: 党工委/党委 → 党委/党总支/党支部; 党总支 → 党支部; 党支部 → 党小组.
CHILD_KINDS: dict[OrgKind, frozenset[OrgKind]] = {
    OrgKind.COMMITTEE: frozenset({OrgKind.COMMITTEE, OrgKind.GENERAL_BRANCH, OrgKind.BRANCH}),
    OrgKind.GENERAL_BRANCH: frozenset({OrgKind.BRANCH}),
    OrgKind.BRANCH: frozenset({OrgKind.GROUP}),
    OrgKind.GROUP: frozenset(),
}
# Statuses staff set by hand; pending, transferred out and not arrived come with transfers only.
HAND_SET_STATUSES = (MemberStatus.ACTIVE, MemberStatus.SUSPENDED, MemberStatus.LEFT, MemberStatus.DECEASED)
MEMBER_FIELDS_SHOWN = ("name", "category", "joined_on", "full_on", "branch", "posts", "status", "dues")


def settings() -> Settings:
    return current_app.extensions["linli.settings"] if has_app_context() else Settings.from_env()


def log_member(
    member: PartyMember, kind: str, data: dict[str, Any], actor: User | None, now: datetime | None = None
) -> None:
    """One row of the member's history (append-only)."""
    db.session.add(
        PartyMemberLog(
            id=new_id(),
            member_id=member.id,
            kind=kind,
            data=jsonable(data),
            actor_id=actor.id if actor is not None else None,
            at=now or utcnow(),
        )
    )


def locked(model: type[T], *conditions: Any) -> T | None:
    """The one row of `model` matching `conditions`, locked for this unit of work (`FOR UPDATE`) and read afresh:
    what is decided on it next cannot be decided by another request at the same time."""
    return db.session.scalar(
        select(model).where(*conditions).with_for_update(of=model).execution_options(populate_existing=True)
    )


def _invalid(field: str, problem: str) -> ApiError:
    return ApiError("validation_failed", errors={field: [problem]})


# ------------------------------------------------------------------------------------------------
# Organisations
# ------------------------------------------------------------------------------------------------


def create_org(user: User, values: dict[str, Any]) -> PartyOrg:
    """A new organisation under one the user reaches (a top one: admins only), anchored inside its parent's
    area; its kind must fit under the parent's."""
    kind = OrgKind(values["kind"])
    parent = None
    if values.get("parent_id") is None:
        if not user.has_role(Role.ADMIN):
            raise _invalid("parent_id", "required: only admins found a top organisation")
        if kind != OrgKind.COMMITTEE:
            raise _invalid("kind", "a top organisation is a committee (党工委/党委)")
    else:
        parent = reach.org_for(user, values["parent_id"], field="parent_id")
        if kind not in CHILD_KINDS[parent.kind]:
            allowed = sorted(k.value for k in CHILD_KINDS[parent.kind]) or ["nothing"]
            raise _invalid("kind", f"under a {parent.kind.value}: {', '.join(allowed)}")
    area_id = values.get("area_id") or (parent.area_id if parent is not None else None)
    if area_id is None:
        raise _invalid("area_id", "required for a top organisation")
    area = db.session.get(Area, area_id)
    if area is None:
        raise _invalid("area_id", "no such area")
    if parent is not None and not area.path.startswith(parent.area_path):
        raise _invalid("area_id", "must lie inside the parent organisation's area")
    code = values["code"].strip().upper()
    org = PartyOrg(
        id=new_id(),
        code=code,
        name=values["name"].strip(),
        kind=kind,
        parent_id=parent.id if parent is not None else None,
        path=(parent.path if parent is not None else "/") + code + "/",
        area_id=area.id,
        area_path=area.path,
    )
    if not reach.sees(user, org):
        # Staff anchor what they found inside their own area, or they would lose sight of it.
        raise _invalid("area_id", "outside your area")
    db.session.add(org)
    try:
        with db.session.begin_nested():
            db.session.flush()
    except IntegrityError:
        raise _invalid("code", "already used by another organisation") from None
    return org


def staff_orgs(user: User, kind: OrgKind | None = None, parent_id: uuid.UUID | None = None) -> Select[tuple[PartyOrg]]:
    stmt = select(PartyOrg).where(reach.condition(user))
    if kind is not None:
        stmt = stmt.where(PartyOrg.kind == kind)
    if parent_id is not None:
        stmt = stmt.where(PartyOrg.parent_id == parent_id)
    return stmt


def staff_org(user: User, org_id: uuid.UUID) -> PartyOrg:
    org = db.session.get(PartyOrg, org_id)
    return reach.ensure(user, org, org)


def public_orgs(area_id: uuid.UUID | None) -> Select[tuple[PartyOrg]]:
    """The branches a resident may register with (names and places only: no member is shown)."""
    stmt = select(PartyOrg).where(PartyOrg.kind == OrgKind.BRANCH)
    if area_id is not None:
        area = db.session.get(Area, area_id)
        if area is None:
            return stmt.where(False)
        stmt = stmt.where(PartyOrg.area_path.startswith(area.path, autoescape=True))
    return stmt


def branch_of(org: PartyOrg) -> PartyOrg | None:
    """The branch an organisation is (or, for a group, belongs to)."""
    if org.kind == OrgKind.BRANCH:
        return org
    if org.kind == OrgKind.GROUP:
        return org.parent
    return None


def committee_above(org: PartyOrg) -> PartyOrg | None:
    """The nearest committee (党工委/党委) above an organisation: who approves its transfers."""
    node = org.parent
    while node is not None and node.kind != OrgKind.COMMITTEE:
        node = node.parent
    return node


# ------------------------------------------------------------------------------------------------
# Officers
# ------------------------------------------------------------------------------------------------


def sync_officer_role(user_id: uuid.UUID | None) -> None:
    """`party_officer` is held while the person has a post (as a member in good standing), and only then."""
    if user_id is None:
        return
    user = db.session.get(User, user_id)
    if user is None:
        return
    holds = db.session.scalar(
        select(PartyOfficer.id)
        .join(PartyMember, PartyMember.id == PartyOfficer.member_id)
        .where(
            PartyMember.user_id == user_id,
            PartyMember.status == MemberStatus.ACTIVE,
            PartyOfficer.ended_on.is_(None),
        )
        .limit(1)
    )
    if holds is not None:
        user.grant(Role.PARTY_OFFICER)
    elif user.has_role(Role.PARTY_OFFICER):
        db.session.execute(delete(UserRole).where(UserRole.user_id == user_id, UserRole.role == Role.PARTY_OFFICER))
        db.session.expire(user, ["role_rows"])
    reach.forget_cached(user)


def appoint(
    user: User, org_id: uuid.UUID, member_id: uuid.UUID, post: OfficerPost, started_on: date | None
) -> PartyOfficer:
    """Give a member a post in an organisation; the level above appoints."""
    org = staff_org(user, org_id)
    if not reach.above(user, org):
        raise ApiError("party_level_above_only", what="任免党组织书记、委员")
    member = db.session.get(PartyMember, member_id)
    if member is None or not reach.sees(user, member.branch):
        raise _invalid("member_id", "no such member in your reach")
    if member.status != MemberStatus.ACTIVE:
        raise ApiError("party_member_not_current", state=member.status.value)
    if (post == OfficerPost.GROUP_LEADER) != (org.kind == OrgKind.GROUP):
        raise _invalid("post", "a group has a leader; other organisations a secretary and committee")
    now = utcnow()
    officer = PartyOfficer(
        id=new_id(),
        org_id=org.id,
        member_id=member.id,
        post=post,
        started_on=started_on or local_today(now),
        appointed_by_id=user.id,
        created_at=now,
    )
    db.session.add(officer)
    try:
        with db.session.begin_nested():
            db.session.flush()
    except IntegrityError:
        raise ApiError("party_officer_post_taken") from None
    log_member(member, "post_given", {"org": org.name, "post": post, "since": officer.started_on}, user, now)
    sync_officer_role(member.user_id)
    return officer


def end_post(user: User, officer_id: uuid.UUID, ended_on: date | None = None) -> PartyOfficer:
    officer = db.session.get(PartyOfficer, officer_id)
    officer = reach.ensure(user, officer, officer.org if officer is not None else None)
    if not reach.above(user, officer.org):
        raise ApiError("party_level_above_only", what="任免党组织书记、委员")
    if officer.ended_on is None:
        now = utcnow()
        officer.ended_on = max(ended_on or local_today(now), officer.started_on)
        officer.ended_by_id = user.id
        log_member(officer.member, "post_ended", {"org": officer.org.name, "post": officer.post}, user, now)
        db.session.flush()
        sync_officer_role(officer.member.user_id)
    return officer


def officers_of(user: User, org_id: uuid.UUID, include_ended: bool = False) -> Select[tuple[PartyOfficer]]:
    org = staff_org(user, org_id)
    stmt = select(PartyOfficer).where(PartyOfficer.org_id == org.id)
    if not include_ended:
        stmt = stmt.where(PartyOfficer.ended_on.is_(None))
    return stmt


def _end_posts(member: PartyMember, actor: User | None, now: datetime) -> None:
    """A member who leaves (or is no longer in good standing) holds no post."""
    for officer in db.session.scalars(
        select(PartyOfficer).where(PartyOfficer.member_id == member.id, PartyOfficer.ended_on.is_(None))
    ):
        officer.ended_on = max(local_today(now), officer.started_on)
        officer.ended_by_id = actor.id if actor is not None else None
        log_member(member, "post_ended", {"org": officer.org.name, "post": officer.post}, actor, now)


def officer_users(org: PartyOrg) -> list[User]:
    """Who hears of an organisation's business: the accounts of its officers; when it has none, those of the
    level above; when nobody holds a post up the tree, the street staff whose area holds it."""
    node: PartyOrg | None = org
    while node is not None:
        found = list(
            db.session.scalars(
                select(User)
                .join(PartyMember, PartyMember.user_id == User.id)
                .join(PartyOfficer, PartyOfficer.member_id == PartyMember.id)
                .where(
                    PartyOfficer.org_id == node.id,
                    PartyOfficer.ended_on.is_(None),
                    PartyMember.status == MemberStatus.ACTIVE,
                    User.is_active,
                )
                .distinct()
                .order_by(User.id)
            )
        )
        if found:
            return found
        node = node.parent
    staff_ids = select(UserRole.user_id).where(UserRole.role.in_((Role.STAFF, Role.ADMIN)))
    return list(
        db.session.scalars(
            select(User)
            .join(Area, Area.id == User.staff_area_id)
            .where(User.is_active, User.id.in_(staff_ids), literal(org.area_path).startswith(Area.path))
            .order_by(User.id)
        )
    )


def posts_of(member_ids: Iterable[uuid.UUID]) -> dict[uuid.UUID, list[dict[str, Any]]]:
    """Each member's current posts: `[{"org_id", "org_name", "post", "post_name"}]`."""
    ids = list(member_ids)
    found: dict[uuid.UUID, list[dict[str, Any]]] = {i: [] for i in ids}
    if not ids:
        return found
    for officer in db.session.scalars(
        select(PartyOfficer)
        .where(PartyOfficer.member_id.in_(ids), PartyOfficer.ended_on.is_(None))
        .order_by(PartyOfficer.started_on, PartyOfficer.id)
    ):
        found[officer.member_id].append(
            {
                "org_id": officer.org_id,
                "org_name": officer.org.name,
                "post": officer.post,
                "post_name": POST_ZH[officer.post],
            }
        )
    return found


# ------------------------------------------------------------------------------------------------
# Members
# ------------------------------------------------------------------------------------------------


def _linkable_user(user_id: uuid.UUID) -> User:
    person = db.session.get(User, user_id)
    if person is None or not person.has_role(Role.RESIDENT):
        raise _invalid("user_id", "no such resident account")
    return person


def _sync_member_flag(user_id: uuid.UUID | None) -> None:
    """`User.is_party_member` is true while the person has a member record in good standing."""
    if user_id is None:
        return
    person = db.session.get(User, user_id)
    if person is None:
        return
    person.is_party_member = (
        db.session.scalar(
            select(PartyMember.id).where(PartyMember.user_id == user_id, PartyMember.status == MemberStatus.ACTIVE)
        )
        is not None
    )


def _check_dates(category: MemberCategory, joined_on: date, full_on: date | None) -> None:
    if full_on is not None and category != MemberCategory.FULL:
        raise _invalid("full_on", "only a full member has a date of becoming one")
    if full_on is not None and full_on < joined_on:
        raise _invalid("full_on", "cannot be before joined_on")


def _group_for(user: User, group_id: uuid.UUID | None, branch: PartyOrg) -> PartyOrg | None:
    if group_id is None:
        return None
    group = reach.org_for(user, group_id, field="group_id", kinds=[OrgKind.GROUP])
    if group.parent_id != branch.id:
        raise _invalid("group_id", "a group of the member's branch")
    return group


def _flush_member() -> None:
    try:
        with db.session.begin_nested():
            db.session.flush()
    except IntegrityError:
        raise ApiError("party_member_linked") from None


def create_member(staff: User, values: dict[str, Any], now: datetime | None = None) -> PartyMember:
    """Put a member on the roll of a branch in reach, linked to their resident account when they have one."""
    now = now or utcnow()
    branch = reach.org_for(staff, values["branch_id"], field="branch_id", kinds=[OrgKind.BRANCH])
    group = _group_for(staff, values.get("group_id"), branch)
    category = MemberCategory(values["category"])
    _check_dates(category, values["joined_on"], values.get("full_on"))
    person = _linkable_user(values["user_id"]) if values.get("user_id") else None
    member = PartyMember(
        id=new_id(),
        user_id=person.id if person is not None else None,
        name=values["name"].strip(),
        category=category,
        joined_on=values["joined_on"],
        full_on=values.get("full_on"),
        branch_id=branch.id,
        group_id=group.id if group is not None else None,
        is_mobile=bool(values.get("is_mobile")),
        status=values.get("status") or MemberStatus.ACTIVE,
        status_changed_at=now,
        dues_start_month=values.get("dues_start_month") or current_month(now),
        linked_by_id=staff.id,
        created_at=now,
        updated_at=now,
    )
    db.session.add(member)
    _flush_member()
    log_member(member, "entered", {"branch": branch.name, "linked": person is not None}, staff, now)
    _sync_member_flag(member.user_id)
    return member


def staff_members(staff: User, filters: dict[str, Any]) -> Select[tuple[PartyMember]]:
    stmt = select(PartyMember).where(PartyMember.branch_id.in_(reach.reachable(staff)))
    if filters.get("org_id") is not None:
        org = db.session.get(PartyOrg, filters["org_id"])
        if org is None:
            return stmt.where(False)
        inside = select(PartyOrg.id).where(PartyOrg.path.startswith(org.path, autoescape=True))
        stmt = stmt.where(PartyMember.branch_id.in_(inside))
    if filters.get("status") is not None:
        stmt = stmt.where(PartyMember.status == filters["status"])
    if filters.get("q"):
        stmt = stmt.where(PartyMember.name.contains(filters["q"], autoescape=True))
    return stmt


def staff_member(staff: User, member_id: uuid.UUID, *, lock: bool = False) -> PartyMember:
    stmt = select(PartyMember).where(PartyMember.id == member_id)
    if lock:
        stmt = stmt.with_for_update(of=PartyMember).execution_options(populate_existing=True)
    member = db.session.scalar(stmt)
    return reach.ensure(staff, member, member.branch if member is not None else None)


EDITABLE = ("name", "category", "joined_on", "full_on", "group_id", "is_mobile", "user_id")


def update_member(staff: User, member_id: uuid.UUID, changes: dict[str, Any]) -> PartyMember:
    """Correct a record or link (unlink) its account. The branch changes only through a transfer."""
    member = staff_member(staff, member_id, lock=True)
    before = {key: getattr(member, key) for key in EDITABLE}
    category = MemberCategory(changes.get("category", member.category))
    _check_dates(category, changes.get("joined_on", member.joined_on), changes.get("full_on", member.full_on))
    if "group_id" in changes:
        group = _group_for(staff, changes["group_id"], member.branch)
        member.group_id = group.id if group is not None else None
    old_user = member.user_id
    if "user_id" in changes:
        person = _linkable_user(changes["user_id"]) if changes["user_id"] else None
        member.user_id = person.id if person is not None else None
    for key in ("name", "category", "joined_on", "full_on", "is_mobile"):
        if key in changes:
            setattr(member, key, changes[key].strip() if key == "name" else changes[key])
    _flush_member()
    after = {key: getattr(member, key) for key in EDITABLE}
    changed = {key: [before[key], after[key]] for key in EDITABLE if before[key] != after[key]}
    if changed:
        log_member(member, "edited", changed, staff)
    if old_user != member.user_id:
        _sync_member_flag(old_user)
        _sync_member_flag(member.user_id)
        sync_officer_role(old_user)
        sync_officer_role(member.user_id)
    return member


def _no_open_transfer(member: PartyMember) -> None:
    open_transfer = db.session.scalar(
        select(PartyTransfer.id).where(
            PartyTransfer.member_id == member.id, PartyTransfer.status.in_(OPEN_TRANSFER_STATUSES)
        )
    )
    if open_transfer is not None:
        raise ApiError("party_transfer_open")


def set_status(staff: User, member_id: uuid.UUID, status: MemberStatus, reason: str) -> PartyMember:
    """Suspend (停止党籍), restore, record a leaver (出党) or a death. The record stays, as history."""
    member = staff_member(staff, member_id, lock=True)
    if member.status not in (MemberStatus.ACTIVE, MemberStatus.SUSPENDED):
        raise ApiError("party_member_not_current", state=member.status.value)
    if status not in HAND_SET_STATUSES:
        raise _invalid("status", f"one of {[s.value for s in HAND_SET_STATUSES]}; transfers set the others")
    _no_open_transfer(member)
    if status == member.status:
        return member
    now = utcnow()
    log_member(member, "status", {"from": member.status, "to": status, "reason": reason}, staff, now)
    member.status = status
    member.status_changed_at = now
    member.status_reason = reason
    if status != MemberStatus.ACTIVE:
        _end_posts(member, staff, now)
    _flush_member()
    _sync_member_flag(member.user_id)
    sync_officer_role(member.user_id)
    return member


def move_member(
    member: PartyMember,
    status: MemberStatus | None,
    branch: PartyOrg | None,
    reason: str,
    actor: User | None,
    now: datetime,
) -> None:
    """A transfer's effect on the record (another branch, 已转出, arrived): logged, posts and flags kept true."""
    data: dict[str, Any] = {"reason": reason}
    if branch is not None and branch.id != member.branch_id:
        data["branch"] = [member.branch.name, branch.name]
        member.branch_id = branch.id
        member.branch = branch
        member.group_id = None
        _end_posts(member, actor, now)
    if status is not None and status != member.status:
        data["status"] = [member.status, status]
        member.status = status
        member.status_changed_at = now
        member.status_reason = reason
        if status != MemberStatus.ACTIVE:
            _end_posts(member, actor, now)
    log_member(member, "transferred", data, actor, now)
    db.session.flush()
    _sync_member_flag(member.user_id)
    sync_officer_role(member.user_id)


def member_log(staff: User, member_id: uuid.UUID) -> Select[tuple[PartyMemberLog]]:
    member = staff_member(staff, member_id)
    return select(PartyMemberLog).where(PartyMemberLog.member_id == member.id)


# ------------------------------------------------------------------------------------------------
# What a member sees
# ------------------------------------------------------------------------------------------------


def current_record(user: User) -> PartyMember | None:
    return db.session.scalar(
        select(PartyMember).where(PartyMember.user_id == user.id, PartyMember.status.in_(CURRENT_STATUSES))
    )


def my_member(user: User, *, good_standing: bool = True, lock: bool = False) -> PartyMember:
    """The member record linked to my account; 403 `not_a_party_member` when there is none (membership is
    never self-declared: staff link it). With `good_standing`, only an active member."""
    stmt = select(PartyMember).where(
        PartyMember.user_id == user.id,
        PartyMember.status.in_((MemberStatus.ACTIVE,) if good_standing else CURRENT_STATUSES),
    )
    if lock:
        stmt = stmt.with_for_update(of=PartyMember).execution_options(populate_existing=True)
    member = db.session.scalar(stmt)
    if member is None:
        raise ApiError("not_a_party_member")
    return member


def my_records(user: User) -> list[PartyMember]:
    """Every record ever linked to my account (a transfer out leaves one behind)."""
    return list(db.session.scalars(select(PartyMember).where(PartyMember.user_id == user.id).order_by(PartyMember.id)))


def set_ranking_visibility(user: User, hidden: bool) -> PartyMember:
    member = my_member(user, good_standing=False)
    if member.hide_from_rankings != hidden:
        member.hide_from_rankings = hidden
        log_member(member, "ranking_visibility", {"hidden": hidden}, user)
    return member


def branch_roll(user: User) -> Select[tuple[PartyMember]]:
    """The members in good standing of my own branch (shown with names and posts only)."""
    member = my_member(user)
    return select(PartyMember).where(
        PartyMember.branch_id == member.branch_id, PartyMember.status == MemberStatus.ACTIVE
    )


def member_view(member: PartyMember, posts: list[dict[str, Any]] | None = None) -> dict[str, Any]:
    """A member record with its branch, group and current posts (read here unless a list read them for its
    page), as the record schemas show it."""
    view = {column.key: getattr(member, column.key) for column in PartyMember.__table__.columns}
    paid = member.dues_paid_until
    return {
        **view,
        "branch": member.branch,
        "group": member.group,
        "posts": posts if posts is not None else posts_of([member.id])[member.id],
        "dues_paid_until": month_label(paid) if paid else None,
        "dues_flagged": member.dues_flagged_at is not None,
        "has_account": member.user_id is not None,
    }


def audience_orgs(member: PartyMember) -> Select[tuple[uuid.UUID]]:
    """The organisations whose notices and study materials reach a member: their branch and every one above it."""
    return select(PartyOrg.id).where(literal(member.branch.path).startswith(PartyOrg.path))


def for_member(member: PartyMember, model: Any) -> Select[Any]:
    """The things (`model.org_id`) a member is meant to see: of their branch and the organisations above it."""
    return select(model).where(model.org_id.in_(audience_orgs(member)))


def one_for_me(user: User, model: Any, thing_id: uuid.UUID) -> tuple[Any, PartyMember]:
    """One thing meant for me (a material, a quiz, an announcement) and my record; 404 for anything else."""
    member = my_member(user)
    thing = db.session.scalar(for_member(member, model).where(model.id == thing_id))
    if thing is None:
        raise NotFound()
    return thing, member


def audience(org: PartyOrg) -> Select[tuple[PartyMember]]:
    """The members in good standing an organisation's notices and materials are for: those of it and below."""
    inside = select(PartyOrg.id).where(PartyOrg.path.startswith(org.path, autoescape=True))
    return select(PartyMember).where(PartyMember.branch_id.in_(inside), PartyMember.status == MemberStatus.ACTIVE)
