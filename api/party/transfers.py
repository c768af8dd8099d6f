"""Membership transfers (组织关系转接): one state machine in one place (`TRANSITIONS`), every step on the
transfer's timeline (who, in which role, when, the result, a remark) and the member told of each.

draft → submitted → confirmed (the sending branch) → approved (the committee above: the letter is issued with
its validity and "dues paid up to") → received (the receiving organisation's 回执) → completed; on the side,
returned (with a reason; resubmitting reuses the application), withdrawn (by the member), rejected, expired (the
beat, once the letter's time is up), revoked. A move the status does not allow is a 409 listing the allowed
actions; an actor in the wrong role is a 403 naming whose step it is.

Completion moves the member: to the receiving branch (inside the subdistrict), to 已转出 (out), or from pending
to a member in good standing (in). A transfer in starts at "approved" — the letter came from outside — with a
pending member record for the receiving branch. One open transfer per member (a partial unique index).
"""

from __future__ import annotations

import secrets
import uuid
from datetime import date, datetime, timedelta
from typing import Any

from sqlalchemy import Select, or_, select
from sqlalchemy.exc import IntegrityError

from api.accounts.models import User
from api.config import Settings
from api.db import db, new_id, utcnow
from api.errors import ApiError, NotFound
from api.fields import LOCAL_TZ, local_text
from api.notifications.services import notify
from api.party import reach
from api.party.calendar import add_months, current_month, month_text
from api.party.members import committee_above, create_member, locked, log_member, move_member, my_records, staff_member
from api.party.models import (
    MemberStatus,
    OrgKind,
    PartyMember,
    PartyOrg,
    PartyTransfer,
    PartyTransferStep,
    TransferDirection,
    TransferReach,
    TransferStatus,
)

T = TransferStatus
D = TransferDirection

# The one state machine: action -> (statuses it may start from, status it leads to (None: unchanged), who may
# take it). Who: the member; the sending branch; the committee above (approver); the receiving side.
TRANSITIONS: dict[str, tuple[frozenset[TransferStatus], TransferStatus | None, tuple[str, ...]]] = {
    "edit": (frozenset({T.DRAFT, T.RETURNED}), None, ("member", "sender")),
    "submit": (frozenset({T.DRAFT, T.RETURNED}), T.SUBMITTED, ("member", "sender")),
    "withdraw": (frozenset({T.DRAFT, T.SUBMITTED, T.RETURNED, T.CONFIRMED}), T.WITHDRAWN, ("member",)),
    "confirm": (frozenset({T.SUBMITTED}), T.CONFIRMED, ("sender",)),
    "return": (frozenset({T.SUBMITTED, T.CONFIRMED}), T.RETURNED, ("sender", "committee")),
    "reject": (frozenset({T.SUBMITTED, T.CONFIRMED}), T.REJECTED, ("sender", "committee")),
    "approve": (frozenset({T.CONFIRMED}), T.APPROVED, ("committee",)),
    "revoke": (frozenset({T.APPROVED}), T.REVOKED, ("committee",)),
    "receive": (frozenset({T.APPROVED}), T.RECEIVED, ("receiver",)),
    "complete": (frozenset({T.RECEIVED}), T.COMPLETED, ("committee",)),
    "expire": (frozenset({T.APPROVED}), T.EXPIRED, ("system",)),
}
ACTIONS = tuple(a for a in TRANSITIONS if a != "expire")
NEEDS_REMARK = frozenset({"return", "reject", "revoke"})
FAILED = frozenset({T.WITHDRAWN, T.REJECTED, T.EXPIRED, T.REVOKED})
ROLE_NAMES = {"member": "member", "sender": "sending_branch", "committee": "committee", "receiver": "receiving_branch"}
STATUS_ZH = {
    T.DRAFT: "草稿",
    T.SUBMITTED: "已提交",
    T.RETURNED: "已退回",
    T.CONFIRMED: "党支部已确认",
    T.APPROVED: "已开具介绍信",
    T.RECEIVED: "接收方已回执",
    T.COMPLETED: "已办结",
    T.WITHDRAWN: "已撤回",
    T.REJECTED: "未通过",
    T.EXPIRED: "介绍信已过期",
    T.REVOKED: "已撤销",
}
STEP_ZH = {
    "create": "已创建申请",
    "register": "已登记转入介绍信",
    "edit": "申请已修改",
    "submit": "已提交申请",
    "withdraw": "已撤回",
    "confirm": "党支部已确认",
    "return": "已退回修改",
    "reject": "未获通过",
    "approve": "已审批，开具介绍信",
    "revoke": "介绍信已撤销",
    "receive": "接收方已回执",
    "complete": "已办结",
    "expire": "介绍信已过期",
}
STEP_SHORT = {"approve": "已审批", "complete": "已办结", "expire": "已过期", "receive": "已回执", "confirm": "已确认"}


def allowed_actions(transfer: PartyTransfer) -> list[str]:
    return [a for a in ACTIONS if transfer.status in TRANSITIONS[a][0] and _fits(a, transfer)]


def _fits(action: str, transfer: PartyTransfer) -> bool:
    """Actions that belong to our side only: a transfer in has no sending branch here to confirm it."""
    if transfer.direction == D.IN:
        return action not in ("edit", "submit", "confirm")
    return True


def _route(transfer: PartyTransfer) -> str:
    here = transfer.from_org.name if transfer.from_org is not None else (transfer.external_org or "")
    there = transfer.to_org.name if transfer.to_org is not None else (transfer.external_org or "")
    return f"{here} → {there}"


def _qualifies(user: User, role: str, transfer: PartyTransfer) -> bool:
    if role == "member":
        return transfer.member.user_id is not None and transfer.member.user_id == user.id
    if role == "sender":
        return transfer.from_org is not None and reach.sees(user, transfer.from_org)
    if role == "committee":
        return reach.sees(user, transfer.approver_org)
    if role == "receiver":
        if transfer.direction == D.OUT:  # the 回执 comes back from outside: the committee records it
            return reach.sees(user, transfer.approver_org)
        return transfer.to_org is not None and reach.sees(user, transfer.to_org)
    return False


def _actor_org(role: str, transfer: PartyTransfer) -> PartyOrg | None:
    if role == "sender":
        return transfer.from_org
    if role == "committee" or (role == "receiver" and transfer.direction == D.OUT):
        return transfer.approver_org
    if role == "receiver":
        return transfer.to_org
    return None


def _step(
    transfer: PartyTransfer,
    action: str,
    before: TransferStatus | None,
    actor: User | None,
    role: str,
    remark: str,
    now: datetime,
) -> PartyTransferStep:
    org = _actor_org(role, transfer)
    step = PartyTransferStep(
        id=new_id(),
        transfer_id=transfer.id,
        action=action,
        from_status=before.value if before is not None else None,
        to_status=transfer.status.value,
        actor_id=actor.id if actor is not None else None,
        actor_role="member" if role == "member" else ROLE_NAMES.get(role, role),
        actor_org_id=org.id if org is not None else None,
        remark=remark,
        at=now,
    )
    transfer.steps.append(step)
    transfer.updated_at = now
    if transfer.member.user is not None:
        notify(
            transfer.member.user,
            "party_transfer_step",
            {
                "transfer_id": transfer.id,
                "route": _route(transfer),
                "step": STEP_ZH[action],
                "step_short": STEP_SHORT.get(action, STATUS_ZH[transfer.status][:5]),
                "remark": remark,
                "at": now,
            },
            subject_path=(transfer.from_org or transfer.to_org or transfer.approver_org).area_path,
            dedupe_key=f"party-transfer:{step.id}",
        )
    return step


def _approver(org: PartyOrg) -> PartyOrg:
    committee = committee_above(org)
    if committee is None:
        raise ApiError("validation_failed", errors={"to_org_id": ["no committee above to approve it"]})
    return committee


def _destination(values: dict[str, Any], member: PartyMember, direction: TransferDirection) -> dict[str, Any]:
    """Where to, checked: another branch of the subdistrict (inside), or an organisation outside (out)."""
    if direction == D.INSIDE:
        to_org = db.session.get(PartyOrg, values.get("to_org_id")) if values.get("to_org_id") else None
        if to_org is None or to_org.kind != OrgKind.BRANCH:
            raise ApiError("validation_failed", errors={"to_org_id": ["a branch of the subdistrict"]})
        if to_org.id == member.branch_id:
            raise ApiError("validation_failed", errors={"to_org_id": ["the member's own branch"]})
        return {"to_org_id": to_org.id, "external_org": None, "reach": TransferReach.IN_CITY}
    external = (values.get("external_org") or "").strip()
    if not external:
        raise ApiError("validation_failed", errors={"external_org": ["the organisation receiving the member"]})
    return {"to_org_id": None, "external_org": external, "reach": TransferReach(values.get("reach") or "in_city")}


def _insert(transfer: PartyTransfer) -> None:
    db.session.add(transfer)
    try:
        with db.session.begin_nested():
            db.session.flush()
    except IntegrityError:
        raise ApiError("party_transfer_open") from None


def start(
    actor: User, member: PartyMember, values: dict[str, Any], role: str, now: datetime | None = None
) -> PartyTransfer:
    """A draft transfer of a member in good standing, inside the subdistrict or out of it."""
    now = now or utcnow()
    direction = TransferDirection(values["direction"])
    if direction == D.IN:
        raise ApiError(
            "validation_failed", errors={"direction": ["a transfer in is registered by the receiving branch"]}
        )
    if member.status != MemberStatus.ACTIVE:
        raise ApiError("party_member_not_current", state=member.status.value)
    where = _destination(values, member, direction)
    transfer = PartyTransfer(
        id=new_id(),
        member_id=member.id,
        member=member,
        direction=direction,
        from_org_id=member.branch_id,
        from_org=member.branch,
        approver_org_id=_approver(member.branch).id,
        reason=(values.get("reason") or "").strip(),
        status=T.DRAFT,
        created_by_id=actor.id,
        created_at=now,
        updated_at=now,
        **where,
    )
    _insert(transfer)
    db.session.refresh(transfer)
    _step(transfer, "create", None, actor, role, transfer.reason, now)
    return transfer


def start_mine(user: User, values: dict[str, Any]) -> PartyTransfer:
    from api.party.members import my_member

    member = my_member(user, lock=True)
    return start(user, member, values, "member")


def start_for(staff: User, values: dict[str, Any], settings: Settings) -> PartyTransfer:
    """Staff start a transfer for a member of a branch in reach, or register one coming in from outside."""
    if TransferDirection(values["direction"]) == D.IN:
        return register_incoming(staff, values, settings)
    if values.get("member_id") is None:
        raise ApiError("validation_failed", errors={"member_id": ["required"]})
    member = staff_member(staff, values["member_id"], lock=True)
    return start(staff, member, values, "sender")


def register_incoming(
    staff: User, values: dict[str, Any], settings: Settings, now: datetime | None = None
) -> PartyTransfer:
    """A letter came from outside: the receiving branch registers it with a pending member record."""
    now = now or utcnow()
    to_org = reach.org_for(staff, values.get("to_org_id"), field="to_org_id", kinds=[OrgKind.BRANCH])
    person = values.get("member") or {}
    external = (values.get("external_org") or "").strip()
    if not person or not external:
        missing = [f for f, v in (("member", person), ("external_org", external)) if not v]
        raise ApiError("validation_failed", errors={f: ["required for a transfer in"] for f in missing})
    paid_until: date | None = values.get("letter_paid_until")
    member = create_member(
        staff,
        {
            **person,
            "branch_id": to_org.id,
            "status": MemberStatus.PENDING,
            "dues_start_month": add_months(paid_until.replace(day=1), 1) if paid_until else current_month(now),
        },
        now,
    )
    member.dues_paid_until = paid_until.replace(day=1) if paid_until else None
    letter_reach = TransferReach(values.get("reach") or "in_city")
    valid_until = values.get("valid_until") or now + timedelta(days=_valid_days(letter_reach, settings))
    transfer = PartyTransfer(
        id=new_id(),
        member_id=member.id,
        member=member,
        direction=D.IN,
        reach=letter_reach,
        to_org_id=to_org.id,
        to_org=to_org,
        approver_org_id=_approver(to_org).id,
        external_org=external,
        reason=(values.get("reason") or "").strip(),
        status=T.APPROVED,
        letter_no=(values.get("letter_no") or "").strip() or None,
        letter_issued_at=now,
        valid_until=valid_until,
        letter_paid_until=member.dues_paid_until,
        created_by_id=staff.id,
        created_at=now,
        updated_at=now,
    )
    _insert(transfer)
    db.session.refresh(transfer)
    _step(transfer, "register", None, staff, "receiver", transfer.letter_no or "", now)
    return transfer


def _valid_days(letter_reach: TransferReach, settings: Settings) -> int:
    if letter_reach == TransferReach.IN_CITY:
        return settings.party_transfer_valid_days_in_city
    return settings.party_transfer_valid_days_out_of_city


def _letter_no(now: datetime) -> str:
    return f"KJ{now.astimezone(LOCAL_TZ):%Y%m%d}{secrets.token_hex(3).upper()}"


# ------------------------------------------------------------------------------------------------
# Acting on a transfer
# ------------------------------------------------------------------------------------------------


def _lock(transfer_id: uuid.UUID) -> PartyTransfer | None:
    return locked(PartyTransfer, PartyTransfer.id == transfer_id)


def visible_to(user: User, transfer: PartyTransfer) -> bool:
    if transfer.member.user_id is not None and transfer.member.user_id == user.id:
        return True
    return any(reach.sees(user, org) for org in (transfer.from_org, transfer.to_org, transfer.approver_org) if org)


def act(
    user: User,
    transfer_id: uuid.UUID,
    action: str,
    values: dict[str, Any],
    settings: Settings,
    now: datetime | None = None,
) -> PartyTransfer:
    """Take one step, under the transfer's row lock; nothing changes on any error."""
    now = now or utcnow()
    if action not in ACTIONS:
        raise ApiError("validation_failed", errors={"action": [f"one of {list(ACTIONS)}"]})
    transfer = _lock(transfer_id)
    if transfer is None or not visible_to(user, transfer):
        raise NotFound()
    sources, target, roles = TRANSITIONS[action]
    if transfer.status not in sources or not _fits(action, transfer):
        allowed = allowed_actions(transfer)
        raise ApiError(
            "party_transition_not_allowed",
            errors={"action": allowed},
            state=STATUS_ZH[transfer.status],
            allowed=", ".join(allowed) or "-",
        )
    role = next((r for r in roles if _qualifies(user, r, transfer)), None)
    if role is None:
        whose = {"member": "党员本人", "sender": "转出党支部", "committee": "上级党委", "receiver": "接收党组织"}
        raise ApiError("party_level_above_only", what="、".join(whose[r] for r in roles))
    remark = (values.get("remark") or "").strip()
    if action in NEEDS_REMARK and not remark:
        raise ApiError("validation_failed", errors={"remark": ["say why"]})
    before = transfer.status
    if action == "edit":
        where = _destination({**_current_destination(transfer), **values}, transfer.member, transfer.direction)
        for key, value in where.items():
            setattr(transfer, key, value)
        if "reason" in values:
            transfer.reason = (values.get("reason") or "").strip()
        db.session.flush()
        db.session.refresh(transfer)
    elif action == "approve":
        transfer.letter_no = _letter_no(now)
        transfer.letter_issued_at = now
        transfer.valid_until = now + timedelta(days=_valid_days(transfer.reach, settings))
        transfer.letter_paid_until = transfer.member.dues_paid_until
    elif action == "receive" and transfer.valid_until is not None and now > transfer.valid_until:
        raise ApiError("party_transfer_letter_expired", until=local_text(transfer.valid_until))
    if target is not None:
        transfer.status = target
    if target in FAILED or target == T.COMPLETED:
        transfer.closed_at = now
    if target == T.COMPLETED:
        _complete(transfer, user, now)
    elif target in FAILED and transfer.direction == D.IN:
        move_member(transfer.member, MemberStatus.NOT_ARRIVED, None, STEP_ZH[action], user, now)
    _step(transfer, action, before, user, role, remark, now)
    return transfer


def _current_destination(transfer: PartyTransfer) -> dict[str, Any]:
    return {"to_org_id": transfer.to_org_id, "external_org": transfer.external_org, "reach": transfer.reach}


def _complete(transfer: PartyTransfer, actor: User | None, now: datetime) -> None:
    member = db.session.scalar(
        select(PartyMember).where(PartyMember.id == transfer.member_id).with_for_update(of=PartyMember)
    )
    assert member is not None
    if transfer.direction == D.INSIDE:
        assert transfer.to_org is not None
        move_member(member, None, transfer.to_org, f"组织关系转入{transfer.to_org.name}", actor, now)
    elif transfer.direction == D.OUT:
        move_member(member, MemberStatus.TRANSFERRED_OUT, None, f"组织关系转出至{transfer.external_org}", actor, now)
    else:
        move_member(member, MemberStatus.ACTIVE, None, f"组织关系由{transfer.external_org}转入", actor, now)


def expire(now: datetime | None = None) -> int:
    """Letters whose time is up (the beat, hourly): the transfer expires, the member is told."""
    now = now or utcnow()
    due = db.session.scalars(
        select(PartyTransfer.id)
        .where(PartyTransfer.status == T.APPROVED, PartyTransfer.valid_until < now)
        .order_by(PartyTransfer.valid_until)
        .limit(500)
    ).all()
    expired = 0
    for transfer_id in due:
        transfer = _lock(transfer_id)
        if transfer is None or transfer.status != T.APPROVED:
            continue
        transfer.status = T.EXPIRED
        transfer.closed_at = now
        if transfer.direction == D.IN:
            move_member(transfer.member, MemberStatus.NOT_ARRIVED, None, STEP_ZH["expire"], None, now)
        _step(transfer, "expire", T.APPROVED, None, "system", f"有效期至{local_text(transfer.valid_until)}", now)
        log_member(transfer.member, "transfer_expired", {"transfer_id": transfer.id}, None, now)
        expired += 1
    return expired


# ------------------------------------------------------------------------------------------------
# Reading
# ------------------------------------------------------------------------------------------------


def my_transfers(user: User) -> Select[tuple[PartyTransfer]]:
    ids = [m.id for m in my_records(user)]
    if not ids:
        raise ApiError("not_a_party_member")
    return select(PartyTransfer).where(PartyTransfer.member_id.in_(ids))


def my_transfer(user: User, transfer_id: uuid.UUID) -> PartyTransfer:
    transfer = db.session.get(PartyTransfer, transfer_id)
    if transfer is None or transfer.member.user_id != user.id:
        raise NotFound()
    return transfer


def staff_transfers(staff: User, status: TransferStatus | None) -> Select[tuple[PartyTransfer]]:
    reached = reach.reachable(staff)
    stmt = select(PartyTransfer).where(
        or_(
            PartyTransfer.from_org_id.in_(reached),
            PartyTransfer.to_org_id.in_(reached),
            PartyTransfer.approver_org_id.in_(reached),
        )
    )
    if status is not None:
        stmt = stmt.where(PartyTransfer.status == status)
    return stmt


def staff_transfer(staff: User, transfer_id: uuid.UUID) -> PartyTransfer:
    transfer = db.session.get(PartyTransfer, transfer_id)
    if transfer is None or not any(
        reach.sees(staff, org) for org in (transfer.from_org, transfer.to_org, transfer.approver_org) if org
    ):
        raise NotFound()
    return transfer


def letter(transfer: PartyTransfer) -> dict[str, Any] | None:
    """The letter of introduction, once issued (or received)."""
    if transfer.letter_issued_at is None:
        return None
    return {
        "letter_no": transfer.letter_no,
        "issued_at": transfer.letter_issued_at,
        "valid_until": transfer.valid_until,
        "dues_paid_until": month_text(transfer.letter_paid_until, transfer.letter_paid_until)
        if transfer.letter_paid_until
        else None,
        "from": transfer.from_org.name if transfer.from_org else transfer.external_org,
        "to": transfer.to_org.name if transfer.to_org else transfer.external_org,
        "member_name": transfer.member.name,
    }
