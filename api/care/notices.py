"""Who is told what about an order: the family and the elder (the person who ordered, the elder's own account,
the confirmed family in contact order) at acceptance, check-in, check-out and when nobody answered the door;
staff of the order's area when a worker never came, an order needs a person to dispatch it, a welfare check
is due (or the family reported the elder safe after it); a worker when staff offer them an order. Through the
notifications outbox, in the caller's transaction."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select

from api.accounts.models import Area, Role, User, UserRole
from api.care.models import CareOrder, CareWorker
from api.db import db
from api.eldercare.models import BindingStatus, FamilyBinding
from api.fields import local_text
from api.notifications.services import notify


def context(order: CareOrder, **extra: Any) -> dict[str, Any]:
    return {
        "order_id": str(order.id),
        "elder_name": order.elder.name,
        "service_name": order.service.name,
        "window_start": order.window_start.isoformat(),
        "window_start_text": local_text(order.window_start),
        "worker_name": order.worker.name if order.worker else "",
        **extra,
    }


def family_of(order: CareOrder) -> list[User]:
    """The elder's own account, who ordered (unless staff), and the confirmed family, each once."""
    people: list[User] = []
    if order.elder.user is not None:
        people.append(order.elder.user)
    if order.ordered_by_id is not None:
        orderer = db.session.get(User, order.ordered_by_id)
        if orderer is not None and not orderer.has_role(Role.STAFF, Role.ADMIN):
            people.append(orderer)
    people.extend(
        db.session.scalars(
            select(User)
            .join(FamilyBinding, FamilyBinding.user_id == User.id)
            .where(FamilyBinding.elder_id == order.elder_id, FamilyBinding.status == BindingStatus.CONFIRMED)
            .order_by(FamilyBinding.position, FamilyBinding.id)
        )
    )
    seen: set[Any] = set()
    unique = []
    for person in people:
        if person.id not in seen and person.is_active:
            seen.add(person.id)
            unique.append(person)
    return unique


def staff_of(order: CareOrder) -> list[User]:
    """Staff whose area holds the order's elder (their committee or the whole subdistrict)."""
    path = order.area_path or ""
    rows = db.session.scalars(
        select(User)
        .join(Area, Area.id == User.staff_area_id)
        .join(UserRole, UserRole.user_id == User.id)
        .where(UserRole.role == Role.STAFF, User.is_active.is_(True))
    )
    return [u for u in dict.fromkeys(rows) if u.staff_area is not None and path.startswith(u.staff_area.path)]


def tell_family(order: CareOrder, kind: str, *, to: list[User] | None = None, **extra: Any) -> None:
    """Tell `family_of(order)`, or `to` when the caller has it already."""
    ctx = context(order, **extra)
    for person in family_of(order) if to is None else to:
        notify(
            person,
            kind,
            ctx,
            subject_path=order.area_path or None,
            dedupe_key=f"{kind}:{order.id}:{extra.get('round', 0)}",
        )


def tell_staff(order: CareOrder, kind: str, **extra: Any) -> None:
    ctx = context(order, **extra)
    for person in staff_of(order):
        notify(
            person,
            kind,
            ctx,
            subject_path=order.area_path or None,
            dedupe_key=f"{kind}:{order.id}:{extra.get('round', 0)}",
        )


def tell_worker(order: CareOrder, worker: CareWorker, kind: str, **extra: Any) -> None:
    notify(worker.user, kind, context(order, **extra), subject_path=order.area_path or None)
