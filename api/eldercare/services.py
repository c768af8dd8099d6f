"""Eldercare rules: elder profiles and their approval, monitoring consent, family bindings through
invite codes, contact order, and linking a family member's Official Account identity.

Called by the routes and, for the read helpers at the top (`contacts_in_order`, `is_bound`,
`elders_of`, `has_consent`), by the alert engine. Nothing here commits: the caller's unit of work does.
"""

from __future__ import annotations

import logging
import uuid
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from sqlalchemy import Select, func, or_, select, update

from api import scope
from api.accounts.models import Area, Role, Room, User
from api.config import Settings
from api.db import db, new_code, utcnow
from api.eldercare import signals
from api.eldercare.models import (
    BindingInvite,
    BindingStatus,
    Elder,
    ElderStatus,
    FamilyBinding,
    MonitoringConsent,
)
from api.errors import ApiError, NotFound
from api.masking import mask_personal_numbers
from api.notifications.services import notify

log = logging.getLogger(__name__)

ALL_DEVICES = "*"
# Invite and link codes: short enough to read out over the phone, without 0/O and 1/I/L look-alikes.
INVITE_CODE_LENGTH = 8
# The code inside a message ("绑定 ABCD2345", "abcd2345"): not part of a longer run of letters/digits.


# ------------------------------------------------------------------------------------------------
# What the alert engine asks
# ------------------------------------------------------------------------------------------------


def contacts_in_order(elder_id: uuid.UUID) -> list[User]:
    """The elder's confirmed family members, first contact first."""
    stmt = (
        select(User)
        .join(FamilyBinding, FamilyBinding.user_id == User.id)
        .where(FamilyBinding.elder_id == elder_id, FamilyBinding.status == BindingStatus.CONFIRMED)
        .where(User.is_active.is_(True))
        .order_by(FamilyBinding.position, FamilyBinding.confirmed_at, FamilyBinding.id)
    )
    return list(db.session.scalars(stmt))


def is_bound(user: User, elder_id: uuid.UUID) -> bool:
    """Whether `user` is a confirmed family member of that elder."""
    return (
        db.session.scalar(
            select(FamilyBinding.id).where(
                FamilyBinding.elder_id == elder_id,
                FamilyBinding.user_id == user.id,
                FamilyBinding.status == BindingStatus.CONFIRMED,
            )
        )
        is not None
    )


def elders_of(user: User) -> list[Elder]:
    """The elders `user` looks after (confirmed bindings), in the order they were bound."""
    stmt = (
        select(Elder)
        .join(FamilyBinding, FamilyBinding.elder_id == Elder.id)
        .where(FamilyBinding.user_id == user.id, FamilyBinding.status == BindingStatus.CONFIRMED)
        .order_by(FamilyBinding.confirmed_at, FamilyBinding.id)
    )
    return list(db.session.scalars(stmt))


def consent_covers(consent: MonitoringConsent, device_type: str) -> bool:
    types = consent.device_types or []
    return ALL_DEVICES in types or str(device_type) in types


def has_consent(elder_id: uuid.UUID, device_type: str) -> bool:
    """Whether a consent in force lets devices of `device_type` watch that elder."""
    consents = db.session.scalars(
        select(MonitoringConsent).where(
            MonitoringConsent.elder_id == elder_id, MonitoringConsent.withdrawn_at.is_(None)
        )
    )
    return any(consent_covers(c, device_type) for c in consents)


# ------------------------------------------------------------------------------------------------
# Elder profiles
# ------------------------------------------------------------------------------------------------


def get_elder(elder_id: uuid.UUID) -> Elder:
    elder = db.session.get(Elder, elder_id)
    if elder is None:
        raise NotFound()
    return elder


def staff_elder(staff: User, elder_id: uuid.UUID) -> Elder:
    return scope.ensure_visible(staff, db.session.get(Elder, elder_id))


def _room(room_id: uuid.UUID) -> Room:
    room = db.session.get(Room, room_id)
    if room is None:
        raise ApiError("validation_failed", errors={"room_id": ["no such room"]})
    return room


PROFILE_FIELDS = (
    "name",
    "birth_year",
    "conditions",
    "phone",
    "door_inactivity_hours",
    "bp_systolic_max",
    "bp_diastolic_max",
)


def create_elder(staff: User, data: dict[str, Any]) -> Elder:
    """Staff register an elder of their area: active at once (staff vouch for them)."""
    room = scope.room_for(staff, data["room_id"])
    now = utcnow()
    elder = Elder(
        room_id=room.id,
        user_id=data.get("user_id"),
        status=ElderStatus.ACTIVE,
        registered_by_id=staff.id,
        approved_by_id=staff.id,
        approved_at=now,
        created_at=now,
        **{k: data[k] for k in PROFILE_FIELDS if data.get(k) is not None},
    )
    if elder.user_id is not None and db.session.get(User, elder.user_id) is None:
        raise ApiError("validation_failed", errors={"user_id": ["no such user"]})
    db.session.add(elder)
    db.session.flush()
    return elder


def register_elder(user: User, data: dict[str, Any]) -> Elder:
    """A resident registers themselves (`is_self`) or a relative; staff of the home's area approve."""
    room = _room(data["room_id"])
    elder = Elder(
        room_id=room.id,
        user_id=user.id if data.get("is_self") else None,
        status=ElderStatus.PENDING,
        registered_by_id=user.id,
        **{k: data[k] for k in PROFILE_FIELDS if data.get(k) is not None},
    )
    db.session.add(elder)
    db.session.flush()
    return elder


def my_registrations(user: User) -> Select[tuple[Elder]]:
    """Elders I registered or who are me."""
    return select(Elder).where(or_(Elder.registered_by_id == user.id, Elder.user_id == user.id))


def own_elder(user: User, elder_id: uuid.UUID) -> Elder:
    """An elder profile that is the user's own (the elder acting for themselves); else 404."""
    elder = db.session.get(Elder, elder_id)
    if elder is None or elder.user_id != user.id:
        raise NotFound()
    return elder


def visible_registration(user: User, elder_id: uuid.UUID) -> Elder:
    elder = db.session.get(Elder, elder_id)
    if elder is None or user.id not in (elder.user_id, elder.registered_by_id):
        raise NotFound()
    return elder


def _locked_staff_elder(staff: User, elder_id: uuid.UUID) -> Elder:
    return scope.ensure_visible(
        staff, db.session.scalar(select(Elder).where(Elder.id == elder_id).with_for_update(of=Elder))
    )


def _tell_registrant(elder: Elder) -> None:
    if elder.registered_by_id is None:
        return
    registrant = db.session.get(User, elder.registered_by_id)
    if registrant is None or registrant.is_staff:
        return
    approved = elder.status == ElderStatus.ACTIVE
    notify(
        registrant,
        "elder_registration_decided",
        {
            "elder_name": elder.name,
            "result": "通过" if approved else "未通过",
            "reason": "" if approved else f"原因：{elder.reject_reason}",
            "decided_at": elder.approved_at or utcnow(),
        },
        subject_path=elder.room.path,
        dedupe_key=f"elder-registration:{elder.id}",
    )


def approve_elder(staff: User, elder_id: uuid.UUID) -> Elder:
    elder = _locked_staff_elder(staff, elder_id)
    if elder.status != ElderStatus.PENDING:
        raise ApiError("elder_not_pending", state=elder.status.value)
    elder.status = ElderStatus.ACTIVE
    elder.approved_by_id = staff.id
    elder.approved_at = utcnow()
    _tell_registrant(elder)
    return elder


def reject_elder(staff: User, elder_id: uuid.UUID, reason: str) -> Elder:
    elder = _locked_staff_elder(staff, elder_id)
    if elder.status != ElderStatus.PENDING:
        raise ApiError("elder_not_pending", state=elder.status.value)
    elder.status = ElderStatus.INACTIVE
    elder.reject_reason = reason
    elder.approved_by_id = staff.id
    _tell_registrant(elder)
    return elder


def staff_elders(
    staff: User, *, status: ElderStatus | None = None, area_id: uuid.UUID | None = None, q: str | None = None
) -> Select[tuple[Elder]]:
    stmt = scope.visible(staff, Elder)
    if status is not None:
        stmt = stmt.where(Elder.status == status)
    if area_id is not None:
        area = db.session.get(Area, area_id)
        if area is None:
            raise ApiError("validation_failed", errors={"area_id": ["no such area"]})
        stmt = stmt.where(Elder.area_path.startswith(area.path, autoescape=True))
    if q:
        stmt = stmt.where(Elder.name.contains(q, autoescape=True))
    return stmt


def update_elder(staff: User, elder_id: uuid.UUID, changes: dict[str, Any]) -> Elder:
    elder = _locked_staff_elder(staff, elder_id)
    if "room_id" in changes:
        room = scope.room_for(staff, changes.pop("room_id"))
        elder.room_id = room.id
        signals.elder_moved.send(elder, room_id=room.id)
    if "status" in changes:
        status = changes.pop("status")
        if status == ElderStatus.PENDING:
            raise ApiError("validation_failed", errors={"status": ["active or inactive"]})
        if elder.status == ElderStatus.PENDING:
            # A registration is decided with approve/reject (the registrant is told), not by a patch.
            raise ApiError("elder_not_active", state=elder.status.value)
        elder.status = status
    if "user_id" in changes:
        user_id = changes.pop("user_id")
        if user_id is not None and db.session.get(User, user_id) is None:
            raise ApiError("validation_failed", errors={"user_id": ["no such user"]})
        elder.user_id = user_id
    for key, value in changes.items():
        if key in PROFILE_FIELDS:
            setattr(elder, key, value)
    db.session.flush()
    db.session.refresh(elder)
    return elder


# ------------------------------------------------------------------------------------------------
# Consent
# ------------------------------------------------------------------------------------------------


def record_consent(staff: User, elder_id: uuid.UUID, given_by: str, device_types: list[str]) -> MonitoringConsent:
    elder = staff_elder(staff, elder_id)
    if elder.status == ElderStatus.INACTIVE:
        raise ApiError("elder_not_active", state=elder.status.value)
    types = [ALL_DEVICES] if ALL_DEVICES in device_types else sorted(set(device_types))
    consent = MonitoringConsent(
        elder_id=elder.id, given_by=given_by, recorded_by_id=staff.id, recorded_at=utcnow(), device_types=types
    )
    db.session.add(consent)
    db.session.flush()
    return consent


def consents_of(elder_id: uuid.UUID) -> list[MonitoringConsent]:
    stmt = (
        select(MonitoringConsent)
        .where(MonitoringConsent.elder_id == elder_id)
        .order_by(MonitoringConsent.recorded_at.desc(), MonitoringConsent.id.desc())
    )
    return list(db.session.scalars(stmt))


@dataclass
class Withdrawal:
    consent: MonitoringConsent
    devices_unbound: int


def withdraw_consent(staff: User, elder_id: uuid.UUID, consent_id: uuid.UUID) -> Withdrawal:
    """Withdraw a consent. Devices no remaining consent covers are unbound from the elder at once:
    nothing may watch them without consent, and their alerts stop reaching the family (the domains that
    hold such things let them go on `signals.consent_withdrawn`, and say how many)."""
    elder = staff_elder(staff, elder_id)
    consent = db.session.get(MonitoringConsent, consent_id)
    if consent is None or consent.elder_id != elder.id:
        raise NotFound()
    if consent.withdrawn_at is not None:
        raise ApiError("consent_withdrawn", at=consent.withdrawn_at.isoformat())
    consent.withdrawn_at = utcnow()
    consent.withdrawn_by_id = staff.id
    db.session.flush()
    unbound = sum(answer for _receiver, answer in signals.consent_withdrawn.send(elder) if isinstance(answer, int))
    return Withdrawal(consent=consent, devices_unbound=unbound)


# ------------------------------------------------------------------------------------------------
# Family bindings
# ------------------------------------------------------------------------------------------------


def _ensure_active(elder: Elder) -> None:
    if elder.status != ElderStatus.ACTIVE:
        raise ApiError("elder_not_active", state=elder.status.value)


def create_invite(actor: User, elder: Elder, settings: Settings) -> BindingInvite:
    """A short-lived code the family member scans; the caller has checked `actor` may act for the elder."""
    _ensure_active(elder)
    now = utcnow()
    for _attempt in range(5):
        code = new_code(INVITE_CODE_LENGTH)
        if db.session.scalar(select(BindingInvite.id).where(BindingInvite.code == code)) is None:
            break
    else:  # pragma: no cover - 31^8 codes; five collisions in a row do not happen
        raise ApiError("conflict")
    invite = BindingInvite(
        elder_id=elder.id,
        code=code,
        created_by_id=actor.id,
        created_at=now,
        expires_at=now + timedelta(hours=settings.eldercare_invite_ttl_hours),
    )
    db.session.add(invite)
    db.session.flush()
    return invite


def qr_payload(invite: BindingInvite) -> str:
    """What the mini-program encodes in the QR: its own bind page with the code."""
    return f"linli://family-binding?code={invite.code}"


def request_binding(user: User, code: str, relation: str) -> FamilyBinding:
    """A family member uses an invite: the binding is requested, the code spent (once, even under a race)."""
    invite = db.session.scalar(select(BindingInvite).where(BindingInvite.code == code.strip().upper()))
    if invite is None:
        raise ApiError("invite_invalid", errors={"code": ["unknown"]})
    now = utcnow()
    if invite.used_at is not None:
        raise ApiError("invite_used", errors={"code": ["used"]})
    if invite.expires_at <= now:
        raise ApiError("invite_expired", errors={"code": ["expired"]})
    elder = get_elder(invite.elder_id)
    _ensure_active(elder)
    if elder.user_id == user.id:
        raise ApiError("binding_self")
    binding = db.session.scalar(
        select(FamilyBinding).where(FamilyBinding.elder_id == elder.id, FamilyBinding.user_id == user.id)
    )
    if binding is not None and binding.status != BindingStatus.REVOKED:
        raise ApiError("binding_exists", state=binding.status.value)
    # Spend the code with a conditional UPDATE: of two simultaneous scans, exactly one wins.
    spent = db.session.execute(
        update(BindingInvite)
        .where(BindingInvite.id == invite.id, BindingInvite.used_at.is_(None))
        .values(used_at=now, used_by_id=user.id)
    )
    if spent.rowcount != 1:
        raise ApiError("invite_used", errors={"code": ["used"]})
    if binding is None:
        binding = FamilyBinding(elder_id=elder.id, user_id=user.id)
        db.session.add(binding)
    binding.relation = relation
    binding.status = BindingStatus.REQUESTED
    binding.requested_at = now
    binding.position = 0
    binding.confirmed_at = None
    binding.confirmed_by_id = None
    binding.revoked_at = None
    db.session.flush()
    if elder.user_id is not None:
        elder_user = db.session.get(User, elder.user_id)
        if elder_user is not None:
            notify(
                elder_user,
                "family_binding_requested",
                {
                    # What the family member typed, read by the elder: numbers in it masked.
                    "family_name": mask_personal_numbers(user.nickname or "家属"),
                    "relation": mask_personal_numbers(relation),
                    "elder_name": elder.name,
                    "elder_id": elder.id,
                    "requested_at": now,
                },
                subject_path=elder.room.path,
            )
    return binding


def _binding(binding_id: uuid.UUID) -> FamilyBinding:
    binding = db.session.scalar(
        select(FamilyBinding).where(FamilyBinding.id == binding_id).with_for_update(of=FamilyBinding)
    )
    if binding is None:
        raise NotFound()
    return binding


def binding_for_elder_user(user: User, binding_id: uuid.UUID) -> FamilyBinding:
    """A binding of the elder who is `user` (the elder deciding for themselves); else 404."""
    binding = _binding(binding_id)
    if binding.elder.user_id != user.id:
        raise NotFound()
    return binding


def binding_for_staff(staff: User, binding_id: uuid.UUID) -> FamilyBinding:
    binding = _binding(binding_id)
    scope.ensure_visible(staff, binding.elder)
    return binding


def _next_position(elder_id: uuid.UUID) -> int:
    top = db.session.scalar(
        select(func.max(FamilyBinding.position)).where(
            FamilyBinding.elder_id == elder_id, FamilyBinding.status == BindingStatus.CONFIRMED
        )
    )
    return (top or 0) + 1


def _tell_family(binding: FamilyBinding, confirmed: bool) -> None:
    notify(
        binding.user,
        "family_binding_decided",
        {
            "elder_name": binding.elder.name,
            "result": "已确认" if confirmed else "未通过",
            "hint": "设备报警将第一时间通知您。" if confirmed else "",
            "decided_at": utcnow(),
        },
        subject_path=binding.elder.room.path,
    )


def confirm_binding(actor: User, binding: FamilyBinding) -> FamilyBinding:
    """Confirm a request: the family member joins the end of the contact list and gets the family role."""
    if binding.status != BindingStatus.REQUESTED:
        raise ApiError("binding_not_requested", state=binding.status.value)
    _ensure_active(binding.elder)
    binding.status = BindingStatus.CONFIRMED
    binding.position = _next_position(binding.elder_id)
    binding.confirmed_at = utcnow()
    binding.confirmed_by_id = actor.id
    binding.user.grant(Role.FAMILY)
    db.session.flush()
    _tell_family(binding, confirmed=True)
    return binding


def decline_binding(actor: User, binding: FamilyBinding) -> FamilyBinding:
    if binding.status != BindingStatus.REQUESTED:
        raise ApiError("binding_not_requested", state=binding.status.value)
    binding.status = BindingStatus.REVOKED
    binding.revoked_at = utcnow()
    db.session.flush()
    _tell_family(binding, confirmed=False)
    return binding


def renumber_contacts(elder_id: uuid.UUID) -> None:
    """Close the gaps in the contact order (1, 2, 3 …) after someone left."""
    confirmed = db.session.scalars(
        select(FamilyBinding)
        .where(FamilyBinding.elder_id == elder_id, FamilyBinding.status == BindingStatus.CONFIRMED)
        .order_by(FamilyBinding.position, FamilyBinding.id)
    )
    for index, binding in enumerate(confirmed, start=1):
        binding.position = index


def leave_binding(user: User, binding_id: uuid.UUID) -> FamilyBinding:
    """A family member withdraws (a request or a confirmed binding); the contact order closes up."""
    binding = _binding(binding_id)
    if binding.user_id != user.id:
        raise NotFound()
    if binding.status == BindingStatus.REVOKED:
        raise ApiError("binding_not_confirmed", state=binding.status.value)
    binding.status = BindingStatus.REVOKED
    binding.revoked_at = utcnow()
    binding.position = 0
    db.session.flush()
    renumber_contacts(binding.elder_id)
    if not db.session.scalar(
        select(func.count(FamilyBinding.id)).where(
            FamilyBinding.user_id == user.id, FamilyBinding.status == BindingStatus.CONFIRMED
        )
    ):
        # No elder left to look after: the family role goes with the last binding.
        user.role_rows = [r for r in user.role_rows if r.role != Role.FAMILY]
    db.session.flush()
    return binding


def bindings_of_elder(elder_id: uuid.UUID) -> list[FamilyBinding]:
    """Requested and confirmed bindings: the contacts in order, then the open requests."""
    stmt = (
        select(FamilyBinding)
        .where(FamilyBinding.elder_id == elder_id, FamilyBinding.status != BindingStatus.REVOKED)
        .order_by(
            (FamilyBinding.status != BindingStatus.CONFIRMED),
            FamilyBinding.position,
            FamilyBinding.requested_at,
            FamilyBinding.id,
        )
    )
    return list(db.session.scalars(stmt))


def my_binding_to(user: User, elder_id: uuid.UUID) -> FamilyBinding:
    """My confirmed binding to that elder; 404 otherwise (an elder I do not look after does not exist to me)."""
    binding = db.session.scalar(
        select(FamilyBinding).where(
            FamilyBinding.elder_id == elder_id,
            FamilyBinding.user_id == user.id,
            FamilyBinding.status == BindingStatus.CONFIRMED,
        )
    )
    if binding is None:
        raise NotFound()
    return binding


def my_bindings(user: User) -> list[FamilyBinding]:
    stmt = (
        select(FamilyBinding)
        .where(FamilyBinding.user_id == user.id, FamilyBinding.status != BindingStatus.REVOKED)
        .order_by(FamilyBinding.requested_at.desc(), FamilyBinding.id.desc())
    )
    return list(db.session.scalars(stmt))


def reorder_contacts(staff: User, elder_id: uuid.UUID, binding_ids: list[uuid.UUID]) -> list[FamilyBinding]:
    """Set the contact order: `binding_ids` must be exactly the elder's confirmed bindings."""
    elder = staff_elder(staff, elder_id)
    confirmed = {
        b.id: b
        for b in db.session.scalars(
            select(FamilyBinding)
            .where(FamilyBinding.elder_id == elder.id, FamilyBinding.status == BindingStatus.CONFIRMED)
            .with_for_update(of=FamilyBinding)
        )
    }
    if len(binding_ids) != len(set(binding_ids)) or set(binding_ids) != set(confirmed):
        raise ApiError("contacts_mismatch", errors={"binding_ids": [f"expected {len(confirmed)} confirmed bindings"]})
    for position, binding_id in enumerate(binding_ids, start=1):
        confirmed[binding_id].position = position
    db.session.flush()
    return [confirmed[i] for i in binding_ids]
