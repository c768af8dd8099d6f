"""The one state machine of a care order: which action moves it from where to where. Every change of an order's
status goes through `move`, which also appends the timeline entry, so a move that is not in `TRANSITIONS`
cannot happen anywhere; one that is not allowed now is a 409 `care_transition_not_allowed` listing the actions
the order's status allows (as incidents do).

    submitted ─approve→ pending_dispatch ─offer→ offered ─accept→ accepted ─set_off→ en_route
        │  (保底: eligibility review; other tiers pass straight through)   │grab (a provider's worker, from the pool)
        └──────────────────────────────────────────────────────────────────┘
    accepted / en_route ─check_in→ in_service ─check_out→ service_done ─ask_confirmation→ awaiting_confirmation
        ─confirm / auto_confirm→ completed
    side exits: cancel → cancelled; not_delivered (nobody at the door); no_show → provider_no_show ─redispatch→
    pending_dispatch; dispute → disputed ─resolve→ completed | ─void→ cancelled.
"""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import func, select

from api.care.models import CareOrder, CareOrderEvent
from api.care.models import OrderStatus as S
from api.db import db
from api.errors import ApiError

LIVE_BEFORE_SERVICE = frozenset({S.SUBMITTED, S.PENDING_DISPATCH, S.OFFERED, S.ACCEPTED, S.EN_ROUTE})

# action -> (the statuses it may start from, where it goes)
TRANSITIONS: dict[str, tuple[frozenset[S], S]] = {
    "approve": (frozenset({S.SUBMITTED}), S.PENDING_DISPATCH),
    "reject": (frozenset({S.SUBMITTED}), S.CANCELLED),
    "offer": (frozenset({S.PENDING_DISPATCH}), S.OFFERED),
    "grab": (frozenset({S.PENDING_DISPATCH}), S.ACCEPTED),
    "accept": (frozenset({S.OFFERED}), S.ACCEPTED),
    "decline": (frozenset({S.OFFERED}), S.PENDING_DISPATCH),
    "expire_offer": (frozenset({S.OFFERED}), S.PENDING_DISPATCH),
    "transfer": (frozenset({S.ACCEPTED, S.EN_ROUTE}), S.PENDING_DISPATCH),
    "set_off": (frozenset({S.ACCEPTED}), S.EN_ROUTE),
    "check_in": (frozenset({S.ACCEPTED, S.EN_ROUTE}), S.IN_SERVICE),
    "check_out": (frozenset({S.IN_SERVICE}), S.SERVICE_DONE),
    "ask_confirmation": (frozenset({S.SERVICE_DONE}), S.AWAITING_CONFIRMATION),
    "confirm": (frozenset({S.AWAITING_CONFIRMATION}), S.COMPLETED),
    "auto_confirm": (frozenset({S.AWAITING_CONFIRMATION}), S.COMPLETED),
    "dispute": (frozenset({S.AWAITING_CONFIRMATION, S.COMPLETED}), S.DISPUTED),
    "resolve": (frozenset({S.DISPUTED}), S.COMPLETED),
    "void": (frozenset({S.DISPUTED}), S.CANCELLED),
    "cancel": (LIVE_BEFORE_SERVICE, S.CANCELLED),
    "not_delivered": (frozenset({S.ACCEPTED, S.EN_ROUTE}), S.NOT_DELIVERED),
    "no_show": (frozenset({S.ACCEPTED, S.EN_ROUTE, S.OFFERED}), S.PROVIDER_NO_SHOW),
    "redispatch": (frozenset({S.PROVIDER_NO_SHOW}), S.PENDING_DISPATCH),
}
ACTIONS = tuple(TRANSITIONS)
FINAL = frozenset({S.COMPLETED, S.CANCELLED, S.NOT_DELIVERED})
# A worker holds the order (their time is taken; the address is theirs to see around the window).
HELD_BY_WORKER = frozenset({S.ACCEPTED, S.EN_ROUTE, S.IN_SERVICE})


def allowed_actions(status: S) -> list[str]:
    return [action for action, (sources, _to) in TRANSITIONS.items() if status in sources]


def may(order: CareOrder, action: str) -> bool:
    return order.status in TRANSITIONS[action][0]


def ensure(order: CareOrder, action: str) -> S:
    """The status `action` leads to from the order's status, or the 409 listing what is allowed now."""
    sources, target = TRANSITIONS[action]
    if order.status not in sources:
        allowed = allowed_actions(order.status)
        raise ApiError(
            "care_transition_not_allowed",
            errors={"action": allowed},
            state=order.status.value,
            allowed=", ".join(allowed) or "-",
        )
    return target


def record(
    order: CareOrder,
    action: str,
    actor_id: uuid.UUID | None,
    now: datetime,
    *,
    note: str = "",
    data: dict[str, Any] | None = None,
    from_status: S | None = None,
) -> CareOrderEvent:
    """Append one entry to the order's timeline (also for actions that do not move it: a quote, a note)."""
    seq = (db.session.scalar(select(func.max(CareOrderEvent.seq)).where(CareOrderEvent.order_id == order.id)) or 0) + 1
    event = CareOrderEvent(
        order_id=order.id,
        seq=seq,
        at=now,
        actor_id=actor_id,
        action=action,
        from_status=(from_status.value if from_status else None),
        to_status=order.status.value,
        note=note[:200],
        data=data or {},
    )
    db.session.add(event)
    return event


def move(
    order: CareOrder,
    action: str,
    actor_id: uuid.UUID | None,
    now: datetime,
    *,
    note: str = "",
    data: dict[str, Any] | None = None,
) -> S:
    """Apply `action` to the order (the caller holds its row lock) and append the timeline entry."""
    target = ensure(order, action)
    before = order.status
    order.status = target
    order.updated_at = now
    record(order, action, actor_id, now, note=note, data=data, from_status=before)
    return before
