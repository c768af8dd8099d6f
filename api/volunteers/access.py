"""Who manages what, in one place: staff act on the volunteers' things of their area (`api.scope`, the one area
rule), and a group's leaders on their group's things — its tasks, their rosters and hours, its members.

Everything managed answers `area_path` (for staff) and `group_id` (for leaders: the group that runs it; a group is
its own). Out of reach reads as absent (404), as everywhere in the admin API. Leaders are volunteers, not staff:
they reach the `/admin/volunteer-*` routes meant for them (`LEADER_ROUTES`) with the volunteer role, and find there
only what their groups run.
"""

from __future__ import annotations

import uuid
from typing import Any, Protocol, TypeVar

from sqlalchemy import ColumnElement, Select, false, select

from api import scope
from api.accounts.models import Role, User
from api.db import db
from api.errors import ApiError, NotFound
from api.volunteers.models import Group, GroupMember, GroupRole, Profile, ProfileStatus

# The roles that may call the routes leaders share with staff (a volunteer finds only what their groups run).
LEADER_ROUTES = (Role.STAFF, Role.ADMIN, Role.VOLUNTEER)


class Managed(Protocol):
    @property
    def area_path(self) -> str | None: ...

    @property
    def group_id(self) -> uuid.UUID | None: ...


M = TypeVar("M", bound=Managed)


def led_groups(user: User) -> Select[tuple[uuid.UUID]]:
    """The groups `user` leads now (an approved volunteer, a group not archived)."""
    return (
        select(GroupMember.group_id)
        .join(Profile, Profile.id == GroupMember.profile_id)
        .join(Group, Group.id == GroupMember.group_id)
        .where(
            Profile.user_id == user.id,
            Profile.status == ProfileStatus.APPROVED,
            GroupMember.role == GroupRole.LEADER,
            Group.archived_at.is_(None),
        )
    )


def leads(user: User, group_id: uuid.UUID | None) -> bool:
    if group_id is None:
        return False
    return db.session.scalar(led_groups(user).where(GroupMember.group_id == group_id).limit(1)) is not None


def manages(user: User, thing: Managed) -> bool:
    if user.is_staff:
        return scope.sees(user, thing.area_path)
    return leads(user, thing.group_id)


def ensure_manages(user: User, thing: M | None) -> M:
    """`thing` if `user` manages it; a 404 otherwise, the same as when it does not exist."""
    if thing is None or not manages(user, thing):
        raise NotFound()
    return thing


def condition(user: User, model: Any) -> ColumnElement[bool]:
    """`manages` in SQL, over a model with `area_path` and `group_id` (a task, a group)."""
    if user.is_staff:
        return scope.condition(user, model.area_path)
    group_column = model.id if model is Group else model.group_id
    return group_column.in_(led_groups(user)) if user.has_role(Role.VOLUNTEER) else false()


def managed(user: User, stmt: Select[Any], model: Any) -> Select[Any]:
    return stmt.where(condition(user, model))


def ensure_staff(user: User) -> None:
    """What only staff do (approve profiles, keep the skill list): a leader is refused."""
    if not user.is_staff:
        raise ApiError("forbidden")
