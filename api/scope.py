"""Area scope: the one rule for what a staff member may see and act on, for lists and for single objects.

Every scoped thing answers `area_path`, the materialised path of the area it is in ("/KJ/KJ01/KJ01-01/…/",
see `api.accounts.models`): a column where one exists (alerts), otherwise a hybrid property whose SQL side
is a correlated subquery (`area_path_through`), so the same attribute serves `visible` (a list's WHERE) and
`ensure_visible` (one object). Nothing else in the API compares a staff member's area with a thing's.

The rule
- Staff reach their area and everything under it (a path prefix). An admin with no area reaches everything
  (the whole subdistrict); anyone else with no area reaches nothing.
- A thing with no place yet — a device not installed in a home, a case not placed in an area, a message about
  no place, an alert of a device with no home (`area_path` NULL or empty) — belongs to the whole subdistrict:
  staff whose area is the subdistrict, and admins with no area, see it; committee (and estate) staff do not,
  and only the former may leave something they create or move unplaced (`ensure_may_leave_unplaced`).
- Out of reach reads as absent: `ensure_visible` answers 404 `not_found`, exactly as for an id that does not
  exist, so the ids of another committee cannot be probed. Whether a role may call a route at all is decided
  before any object is read (`api.auth.staff_route`: 403 `forbidden`).
- A place or an object named in a request body (the area an event is held in, the room or the elder a device
  is bound to) that does not exist or is out of reach is a 422 `validation_failed` naming the field: the body
  is what is wrong, not the URL. Areas and rooms are public, so their message says which of the two it is;
  any other object out of reach reads "not found", like one that does not exist.
- Picking whom to hand work to (`serving`) is a different rule on purpose: a handling unit or a person serves
  my area when placed inside it, above it (a subdistrict unit serves every committee), or everywhere (no area).
"""

from __future__ import annotations

import uuid
from typing import Any, Protocol, TypeVar

from sqlalchemy import BindParameter, ColumnElement, Select, bindparam, false, literal, or_, select, true

from api.accounts.models import Area, AreaKind, Role, Room, User
from api.db import db
from api.errors import ApiError, NotFound


class Placed(Protocol):
    @property
    def area_path(self) -> str | None: ...


P = TypeVar("P", bound=Placed)


def _reach(staff: User) -> Area | bool:
    """The area a staff member acts in; True for an admin with no area (everything), False for anyone else."""
    return staff.staff_area if staff.staff_area is not None else staff.has_role(Role.ADMIN)


def sees(staff: User, path: str | None) -> bool:
    """Whether a thing at `path` (None or "": not placed yet) is within the staff member's reach."""
    reach = _reach(staff)
    if isinstance(reach, bool):
        return reach
    if not path:
        return reach.kind == AreaKind.SUBDISTRICT
    return path.startswith(reach.path)


def _prefix(path: str) -> BindParameter[str]:
    """An area's path as a LIKE prefix (escaped with "/"), written into the statement rather than sent as a
    parameter. Bound, PostgreSQL cannot know how much of the table the prefix selects when it weighs a reused
    plan, estimates it at 0.5 % of the areas, prices the generic plan above a fresh one and so plans the
    statement again on every run: 1.6–3.5 ms of planning for the triage queue's 0.7 ms of work (EXPLAIN of the
    prepared statement, 200,000 cases). Written in, the prefix makes each area's statement its own, and the
    plan PostgreSQL keeps for it is the one it would make."""
    escaped = path.replace("/", "//").replace("%", "/%").replace("_", "/_")
    return bindparam(None, escaped, literal_execute=True)


def condition(staff: User, path: ColumnElement[Any]) -> ColumnElement[bool]:
    """`sees` in SQL, for a WHERE: the same rule over a path column or expression."""
    reach = _reach(staff)
    if isinstance(reach, bool):
        return true() if reach else false()
    inside = path.startswith(_prefix(reach.path), escape="/")
    if reach.kind == AreaKind.SUBDISTRICT:
        return or_(inside, path.is_(None), path == "")
    return inside


def visible(staff: User, stmt_or_model: Select[Any] | type[Any], path: ColumnElement[Any] | None = None) -> Select[Any]:
    """The statement (or `select(model)`) narrowed to what the staff member may see, by the `area_path` of the
    statement's first entity unless `path` names another column (an aggregate over a model, a joined path)."""
    stmt = select(stmt_or_model) if isinstance(stmt_or_model, type) else stmt_or_model
    if path is None:
        path = stmt.column_descriptions[0]["entity"].area_path
    return stmt.where(condition(staff, path))


def ensure_visible(staff: User, obj: P | None, *, field: str | None = None) -> P:
    """`obj` if it exists and the staff member may see it. Otherwise a 404 — or, for an object named in a
    request body, a 422 naming that `field` — the same whether it does not exist or is out of reach."""
    if obj is not None and sees(staff, obj.area_path):
        return obj
    if field is None:
        raise NotFound()
    raise ApiError("validation_failed", errors={field: ["not found"]})


def area_for(staff: User, area_id: uuid.UUID, *, field: str = "area_id") -> Area:
    """The area staff create or move something into: 422 naming `field` when unknown or out of reach."""
    return _place(staff, db.session.get(Area, area_id), field, "area")


def room_for(staff: User, room_id: uuid.UUID, *, field: str = "room_id") -> Room:
    """The home staff register someone or something in: 422 naming `field` when unknown or out of reach."""
    return _place(staff, db.session.get(Room, room_id), field, "room")


def _place(staff: User, place: Any, field: str, noun: str) -> Any:
    if place is None:
        raise ApiError("validation_failed", errors={field: [f"no such {noun}"]})
    if not sees(staff, place.path):
        raise ApiError("validation_failed", errors={field: [f"the {noun} is outside your area"]})
    return place


def ensure_may_leave_unplaced(staff: User, field: str) -> None:
    """Only whole-subdistrict staff keep things with no place; committee staff must name `field`."""
    if not sees(staff, None):
        raise ApiError("validation_failed", errors={field: ["required for staff of a committee"]})


def serving(staff: User, path: ColumnElement[Any]) -> ColumnElement[bool]:
    """Targets (handling units, assignees) serving the staff member's area, by their area `path`: placed inside
    it or above it, or serving everywhere (no area); an admin with no area may pick any."""
    reach = _reach(staff)
    if isinstance(reach, bool):
        return true() if reach else false()
    return or_(path.is_(None), path.startswith(reach.path, autoescape=True), literal(reach.path).startswith(path))
