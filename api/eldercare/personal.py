"""What eldercare holds about a person: the elders they registered or look after (bindings, invites), and
their own elder profile if they are one. Erasing them removes their bindings (the contact order closes
up) but keeps every elder's care record — an elder profile belongs to the community's care of that
elder, not to whoever registered it. The only confirmed contact of an active elder cannot leave without
a word: that blocks the deletion until staff arrange another contact."""

from __future__ import annotations

import uuid
from typing import Any

from sqlalchemy import delete, func, select

from api.accounts.models import User
from api.db import db
from api.eldercare.models import BindingInvite, BindingStatus, Elder, ElderStatus, FamilyBinding, MonitoringConsent
from api.eldercare.services import renumber_contacts
from api.personaldata import PersonalData, forget, record

personal_data = PersonalData(
    categories=("登记的老人信息", "家属绑定关系", "老人档案（本人）", "监护同意记录"),
    covers=(
        "elders.user_id",
        "elders.name",
        "elders.conditions",
        "elders.phone",
        "elders.phone_hash",
        "elders.registered_by_id",
        "elders.approved_by_id",
        "elders.reject_reason",
        "family_bindings.user_id",
        "family_bindings.relation",
        "family_bindings.confirmed_by_id",
        "binding_invites.created_by_id",
        "binding_invites.used_by_id",
        "monitoring_consents.given_by",
        "monitoring_consents.recorded_by_id",
        "monitoring_consents.withdrawn_by_id",
    ),
    export="api.eldercare.personal:export",
    erase="api.eldercare.personal:erase",
    blockers="api.eldercare.personal:blockers",
    summary="api.eldercare.personal:summary",
    subjects="api.eldercare.personal:subjects",
)

_ELDER_FIELDS = ("id", "name", "birth_year", "conditions", "phone", "status", "created_at")


def export(user: User) -> dict[str, Any]:
    registered = db.session.scalars(select(Elder).where(Elder.registered_by_id == user.id)).all()
    own = db.session.scalars(select(Elder).where(Elder.user_id == user.id)).all()
    bindings = db.session.scalars(select(FamilyBinding).where(FamilyBinding.user_id == user.id)).all()
    return {
        "my_elder_profile": [{**record(e, *_ELDER_FIELDS), "address": e.room.address} for e in own],
        "elders_i_registered": [{**record(e, *_ELDER_FIELDS), "address": e.room.address} for e in registered],
        "family_bindings": [
            {"elder": b.elder.name, **record(b, "relation", "position", "status", "requested_at", "confirmed_at")}
            for b in bindings
        ],
    }


def blockers(user: User) -> list[dict[str, Any]]:
    """Elders who would be left with no confirmed family contact: staff must arrange another first."""
    mine = (
        select(FamilyBinding.elder_id)
        .where(FamilyBinding.user_id == user.id, FamilyBinding.status == BindingStatus.CONFIRMED)
        .scalar_subquery()
    )
    contacts = (
        select(FamilyBinding.elder_id, func.count().label("n"))
        .where(FamilyBinding.elder_id.in_(mine), FamilyBinding.status == BindingStatus.CONFIRMED)
        .group_by(FamilyBinding.elder_id)
        .subquery()
    )
    alone = db.session.scalars(
        select(Elder)
        .join(contacts, contacts.c.elder_id == Elder.id)
        .where(Elder.status == ElderStatus.ACTIVE, contacts.c.n <= 1)
    ).all()
    return [
        {
            "reason": f"您是{elder.name}唯一的家属联系人，请先联系居委会安排其他联系人",
            "area_path": elder.room.path,
            "elder_id": str(elder.id),
            "elder_name": elder.name,
        }
        for elder in alone
    ]


def erase(user: User) -> None:
    elders = set(db.session.scalars(select(FamilyBinding.elder_id).where(FamilyBinding.user_id == user.id)))
    db.session.execute(delete(FamilyBinding).where(FamilyBinding.user_id == user.id))
    db.session.flush()
    for elder_id in elders:
        renumber_contacts(elder_id)
    db.session.execute(
        delete(BindingInvite).where(BindingInvite.created_by_id == user.id, BindingInvite.used_at.is_(None))
    )
    for column in (
        Elder.user_id,
        Elder.registered_by_id,
        Elder.approved_by_id,
        FamilyBinding.confirmed_by_id,
        BindingInvite.created_by_id,
        BindingInvite.used_by_id,
        MonitoringConsent.recorded_by_id,
        MonitoringConsent.withdrawn_by_id,
    ):
        forget(column, user.id)
    db.session.flush()


def summary(user: User) -> dict[str, Any]:
    bindings = db.session.scalars(
        select(FamilyBinding).where(FamilyBinding.user_id == user.id, FamilyBinding.status == BindingStatus.CONFIRMED)
    ).all()
    consents = db.session.scalars(
        select(MonitoringConsent)
        .where(MonitoringConsent.elder_id.in_([b.elder_id for b in bindings]), MonitoringConsent.withdrawn_at.is_(None))
        .order_by(MonitoringConsent.recorded_at)
    ).all()
    return {
        "elders_i_look_after": [
            {"elder": b.elder.name, **record(b, "elder_id", "relation", "position", "confirmed_at")} for b in bindings
        ],
        "monitoring_consents": [record(c, "elder_id", "given_by", "device_types", "recorded_at") for c in consents],
    }


def subjects(user: User) -> list[tuple[str, uuid.UUID]]:
    """The elder records whose access-log rows this person may read: their own, and those they look after."""
    bound = select(FamilyBinding.elder_id).where(
        FamilyBinding.user_id == user.id, FamilyBinding.status == BindingStatus.CONFIRMED
    )
    own = select(Elder.id).where(Elder.user_id == user.id)
    return [("elder", elder_id) for elder_id in db.session.scalars(bound.union(own))]
