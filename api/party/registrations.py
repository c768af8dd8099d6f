"""在职党员进社区报到: a working party member registers with the community where they live (its branch, the
date, the registration slip as a photo); the branch confirms. From then on the volunteers domain may give them
service tasks, and each quarter their hours go back to their workplace branch as a CSV.

The seam with volunteers is `api.party.signals`: party tells it who is registered (`registration_confirmed`,
`registration_ended`) and asks it for hours (`service_hours_requested`, whose receivers return minutes per
person). With no receiver connected the hours are zero; nothing here imports volunteers. The same question
turns service hours into points (`award_service_hours`, daily).
"""

from __future__ import annotations

import csv
import io
import uuid
from collections.abc import Iterable
from datetime import date, datetime
from typing import Any

from sqlalchemy import Select, or_, select
from sqlalchemy.exc import IntegrityError

from api.accounts.models import User
from api.db import db, new_id, utcnow
from api.errors import ApiError, NotFound
from api.notifications.services import notify
from api.party import reach, signals
from api.party.calendar import Quarter, local_today
from api.party.members import officer_users, staff_org
from api.party.models import (
    MemberStatus,
    OrgKind,
    PartyMember,
    PartyOrg,
    PointAction,
    RegistrationStatus,
    WorkingMemberRegistration,
)
from api.party.points import award, rule_of, units_recorded

SLIP_PHOTOS = "party_registration"
R = RegistrationStatus


def service_minutes(user_ids: Iterable[uuid.UUID], since: datetime, until: datetime) -> dict[uuid.UUID, int]:
    """Minutes of service per person in [since, until), added up over every receiver's answer."""
    ids = list(dict.fromkeys(user_ids))
    totals: dict[uuid.UUID, int] = dict.fromkeys(ids, 0)
    if not ids:
        return totals
    for _receiver, answer in signals.service_hours_requested.send("party", user_ids=ids, since=since, until=until):
        for user_id, minutes in (answer or {}).items():
            if user_id in totals and isinstance(minutes, int) and not isinstance(minutes, bool) and minutes > 0:
                totals[user_id] += minutes
    return totals


# ------------------------------------------------------------------------------------------------
# Registering
# ------------------------------------------------------------------------------------------------


def register(user: User, values: dict[str, Any], now: datetime | None = None) -> WorkingMemberRegistration:
    """I register with the branch of the community I live in, with my registration slip (a photo)."""
    from api.media.services import attach

    now = now or utcnow()
    org = db.session.get(PartyOrg, values["org_id"])
    if org is None or org.kind != OrgKind.BRANCH:
        raise ApiError("validation_failed", errors={"org_id": ["a branch of the community you live in"]})
    if values["registered_on"] > local_today(now):
        raise ApiError("validation_failed", errors={"registered_on": ["not in the future"]})
    registration = WorkingMemberRegistration(
        id=new_id(),
        user_id=user.id,
        org_id=org.id,
        org=org,
        name=values["name"].strip(),
        workplace_org=values["workplace_org"].strip(),
        registered_on=values["registered_on"],
        status=R.SUBMITTED,
        created_at=now,
    )
    db.session.add(registration)
    try:
        with db.session.begin_nested():
            db.session.flush()
    except IntegrityError:
        raise ApiError("party_registration_open") from None
    attach([values["slip_media_id"]], user, SLIP_PHOTOS, registration.id, max_count=1, field="slip_media_id")
    return registration


def my_registrations(user: User) -> Select[tuple[WorkingMemberRegistration]]:
    return select(WorkingMemberRegistration).where(WorkingMemberRegistration.user_id == user.id)


def end_mine(user: User, registration_id: uuid.UUID) -> WorkingMemberRegistration:
    """I end my registration (I moved away, or changed jobs): no more tasks through it."""
    registration = db.session.scalar(
        select(WorkingMemberRegistration)
        .where(WorkingMemberRegistration.id == registration_id, WorkingMemberRegistration.user_id == user.id)
        .with_for_update(of=WorkingMemberRegistration)
    )
    if registration is None:
        raise NotFound()
    if registration.status in (R.SUBMITTED, R.CONFIRMED):
        end(registration, utcnow())
    return registration


def end(registration: WorkingMemberRegistration, now: datetime) -> None:
    was_confirmed = registration.status == R.CONFIRMED
    registration.status = R.ENDED
    registration.ended_at = now
    if was_confirmed and registration.user_id is not None:
        signals.registration_ended.send("party", user_id=registration.user_id, registration_id=registration.id)


def staff_registrations(staff: User, status: RegistrationStatus | None) -> Select[tuple[WorkingMemberRegistration]]:
    stmt = reach.in_reach(staff, WorkingMemberRegistration)
    if status is not None:
        stmt = stmt.where(WorkingMemberRegistration.status == status)
    return stmt


def staff_registration(staff: User, registration_id: uuid.UUID, *, lock: bool = False) -> WorkingMemberRegistration:
    stmt = select(WorkingMemberRegistration).where(WorkingMemberRegistration.id == registration_id)
    if lock:
        stmt = stmt.with_for_update(of=WorkingMemberRegistration).execution_options(populate_existing=True)
    registration = db.session.scalar(stmt)
    return reach.ensure(staff, registration, registration.org if registration is not None else None)


def decide(staff: User, registration_id: uuid.UUID, confirm: bool, reason: str | None) -> WorkingMemberRegistration:
    registration = staff_registration(staff, registration_id, lock=True)
    if registration.status != R.SUBMITTED:
        raise ApiError(
            "party_transition_not_allowed", errors={"confirm": []}, state=registration.status.value, allowed="-"
        )
    reason = (reason or "").strip()
    if not confirm and not reason:
        raise ApiError("validation_failed", errors={"reason": ["say why"]})
    now = utcnow()
    registration.status = R.CONFIRMED if confirm else R.REJECTED
    registration.decided_by_id = staff.id
    registration.decided_at = now
    registration.reject_reason = None if confirm else reason
    person = db.session.get(User, registration.user_id) if registration.user_id else None
    if person is not None:
        notify(
            person,
            "party_registration_decided",
            {"org_name": registration.org.name, "result": "已确认" if confirm else "未通过", "reason": reason},
            subject_path=registration.org.area_path,
            dedupe_key=f"party-registration:{registration.id}",
        )
    if confirm and registration.user_id is not None:
        signals.registration_confirmed.send(
            "party",
            user_id=registration.user_id,
            registration_id=registration.id,
            name=registration.name,
            area_path=registration.org.area_path,
            org_name=registration.org.name,
        )
    return registration


def may_see_slip(viewer: User, registration_id: uuid.UUID) -> bool:
    registration = db.session.get(WorkingMemberRegistration, registration_id)
    if registration is None:
        return False
    return registration.user_id == viewer.id or reach.sees(viewer, registration.org)


# ------------------------------------------------------------------------------------------------
# The quarter's hours, for the workplace branches
# ------------------------------------------------------------------------------------------------


def hours_rows(staff: User, org_id: uuid.UUID, quarter: Quarter) -> list[dict[str, Any]]:
    """Working members registered with an organisation (and below) at any time in the quarter, and their
    service hours in it."""
    org = staff_org(staff, org_id)
    inside = select(PartyOrg.id).where(PartyOrg.path.startswith(org.path, autoescape=True))
    registrations = list(
        db.session.scalars(
            select(WorkingMemberRegistration)
            .where(
                WorkingMemberRegistration.org_id.in_(inside),
                WorkingMemberRegistration.decided_at.is_not(None),
                WorkingMemberRegistration.decided_at < quarter.end,
                WorkingMemberRegistration.status.in_((R.CONFIRMED, R.ENDED)),
            )
            .order_by(WorkingMemberRegistration.workplace_org, WorkingMemberRegistration.name)
        )
    )
    registrations = [r for r in registrations if r.ended_at is None or r.ended_at >= quarter.start]
    minutes = service_minutes([r.user_id for r in registrations if r.user_id], quarter.start, quarter.end)
    return [
        {
            "user_id": r.user_id,
            "name": r.name,
            "workplace_org": r.workplace_org,
            "community": r.org.name,
            "registered_on": r.registered_on,
            "minutes": minutes.get(r.user_id, 0) if r.user_id else 0,
        }
        for r in registrations
    ]


def hours_csv(rows: list[dict[str, Any]], quarter: Quarter) -> str:
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow(["季度", "姓名", "工作单位党组织", "报到社区党组织", "报到日期", "服务时长（小时）"])
    for row in rows:
        hours = f"{row['minutes'] // 60}.{(row['minutes'] % 60) * 10 // 60}"
        registered: date = row["registered_on"]
        writer.writerow(
            [quarter.label, row["name"], row["workplace_org"], row["community"], registered.isoformat(), hours]
        )
    return buffer.getvalue()


def report_quarter(now: datetime | None = None) -> int:
    """The first day of a quarter: each organisation that had working members registered in the last one has its
    officers told the hours report is ready (to download and send to the workplace branches). Returns how many
    organisations were told."""
    now = now or utcnow()
    last = Quarter.of(now).previous
    org_ids = set(
        db.session.scalars(
            select(WorkingMemberRegistration.org_id).where(
                WorkingMemberRegistration.decided_at.is_not(None),
                WorkingMemberRegistration.decided_at < last.end,
                WorkingMemberRegistration.status.in_((R.CONFIRMED, R.ENDED)),
                or_(WorkingMemberRegistration.ended_at.is_(None), WorkingMemberRegistration.ended_at >= last.start),
            )
        )
    )
    for org in db.session.scalars(select(PartyOrg).where(PartyOrg.id.in_(org_ids)).order_by(PartyOrg.path)):
        for officer in officer_users(org):
            notify(
                officer,
                "party_hours_report",
                {"org_name": org.name, "org_id": org.id, "quarter": last.label},
                subject_path=org.area_path,
                dedupe_key=f"party-hours-report:{org.id}:{last.label}",
            )
    return len(org_ids)


def award_service_hours(now: datetime | None = None) -> int:
    """Service hours of the quarter so far turn into points (daily): the units not yet counted, as far as the
    cap allows. Returns how many members were awarded something."""
    now = now or utcnow()
    rule = rule_of(PointAction.SERVICE_HOURS)
    if rule is None or not rule.active:
        return 0
    quarter = Quarter.of(now)
    members = list(
        db.session.scalars(
            select(PartyMember).where(PartyMember.status == MemberStatus.ACTIVE, PartyMember.user_id.is_not(None))
        )
    )
    minutes = service_minutes([m.user_id for m in members if m.user_id], quarter.start, now)
    awarded = 0
    for member in members:
        assert member.user_id is not None
        units = minutes.get(member.user_id, 0) // rule.unit
        prefix = f"service:{quarter.label}:"
        new = units - units_recorded(member.id, PointAction.SERVICE_HOURS, prefix)
        if (
            new > 0
            and award(
                member, PointAction.SERVICE_HOURS, f"{prefix}{units}", units=new, note="志愿服务时长", now=now
            ).points
        ):
            awarded += 1
    return awarded
