"""What volunteers hold about a person: their profile (real name, skills, committees, availability, where they were
when going on duty), group memberships, sign-ups with check-in locations, hours claims, certificates, and their lines
in the two ledgers.

Erasure. A time bank must keep its books: every hours and coin entry stays, so the subdistrict's totals (hours
served, coins earned, given and held by the pool) stay true. What goes is the link to the person — their ledger
account forgets whose it was — and everything that names or locates them: the profile and memberships, certificates
(a certificate of an erased person no longer verifies), the reasons and notes about them, check-in locations. Their
sign-ups for tasks not yet over are withdrawn first (the waitlist moves up), and the rest stay as anonymous rows so
a task's roster still counts who came. Coins left on the account go to the community pool: they can never be paid out,
so there is nothing to hand back, and left on an anonymous account they would be lost to everyone; spend them or give
them to family first (`/me/privacy` shows the balance). That is not a blocker; being the only leader of a group with
members is — staff are told to name another first.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import delete, func, select, update

from api.accounts.models import User
from api.db import db, utcnow
from api.personaldata import PersonalData, forget, record
from api.volunteers import ledger, roster, states
from api.volunteers.models import (
    Certificate,
    ClaimStatus,
    Correction,
    Group,
    GroupMember,
    GroupRole,
    HourClaim,
    Profile,
    Signup,
    SignupStatus,
    Task,
    TaskStatus,
)

personal_data = PersonalData(
    categories=(
        "志愿者资料（实名、技能、服务居委会、可服务时间）",
        "在岗位置",
        "报名与签到记录",
        "志愿时长与时间币",
        "志愿服务证明",
    ),
    covers=(
        "volunteer_profiles.user_id",
        "volunteer_profiles.real_name",
        "volunteer_profiles.reject_reason",
        "volunteer_profiles.decided_by_id",
        "volunteer_groups.created_by_id",
        "volunteer_tasks.owner_id",
        "volunteer_tasks.closed_by_id",
        "volunteer_tasks.created_by_id",
        "volunteer_tasks.address",
        "volunteer_tasks.door_notes",
        "volunteer_signups.user_id",
        "volunteer_signups.leave_reason",
        "volunteer_hour_claims.user_id",
        "volunteer_hour_claims.note",
        "volunteer_hour_claims.entered_by_id",
        "volunteer_hour_claims.decided_by_id",
        "volunteer_hour_claims.reject_reason",
        "volunteer_accounts.user_id",
        "volunteer_corrections.reason",
        "volunteer_corrections.by_id",
        "volunteer_certificates.user_id",
        "volunteer_certificates.holder_name",
    ),
    export="api.volunteers.personal:export",
    erase="api.volunteers.personal:erase",
    blockers="api.volunteers.personal:blockers",
    summary="api.volunteers.personal:summary",
)


def export(user: User) -> dict[str, Any]:
    profile = db.session.scalar(select(Profile).where(Profile.user_id == user.id))
    account = ledger.account_of(user, create=False)
    signups = db.session.scalars(select(Signup).where(Signup.user_id == user.id).order_by(Signup.id)).all()
    claims = db.session.scalars(select(HourClaim).where(HourClaim.user_id == user.id).order_by(HourClaim.id)).all()
    certificates = db.session.scalars(select(Certificate).where(Certificate.user_id == user.id)).all()
    hours = db.session.scalars(ledger.my_hour_entries(user)).all() if account else []
    coins = db.session.scalars(ledger.my_coin_entries(user)).all() if account else []
    return {
        "profile": (
            {
                **record(
                    profile,
                    "real_name",
                    "status",
                    "availability",
                    "on_duty",
                    "duty_lat",
                    "duty_lng",
                    "leaderboard_opt_out",
                    "created_at",
                ),
                "skills": [s.name for s in profile.skills],
                "committees": [a.name for a in profile.committees],
            }
            if profile
            else None
        ),
        "signups": [
            {
                "task": s.task.title,
                **record(
                    s,
                    "status",
                    "created_at",
                    "checked_in_at",
                    "checked_out_at",
                    "check_in_lat",
                    "check_in_lng",
                    "minutes",
                    "late_cancel",
                    "leave_reason",
                ),
            }
            for s in signups
        ],
        "hour_claims": [record(c, "minutes", "origin", "note", "status", "created_at") for c in claims],
        "hours_ledger": [record(e, "kind", "minutes", "served_at", "created_at") for e in hours],
        "coins_ledger": [{**record(e, "kind", "created_at"), "coins": e.centi / ledger.CENTI_PER_HOUR} for e in coins],
        "certificates": [record(c, "code", "total_minutes", "issued_at") for c in certificates],
    }


def blockers(user: User) -> list[dict[str, Any]]:
    """Groups this person alone leads while others are in them: staff name another leader first."""
    mine = (
        select(GroupMember.group_id)
        .join(Profile, Profile.id == GroupMember.profile_id)
        .where(Profile.user_id == user.id, GroupMember.role == GroupRole.LEADER)
    )
    leaders = func.count().filter(GroupMember.role == GroupRole.LEADER)
    alone_ids = db.session.scalars(
        select(Group.id)
        .join(GroupMember, GroupMember.group_id == Group.id)
        .where(Group.id.in_(mine), Group.archived_at.is_(None))
        .group_by(Group.id)
        .having(leaders == 1, func.count() > 1)
    ).all()
    alone = db.session.scalars(select(Group).where(Group.id.in_(alone_ids))).all()
    return [
        {
            "reason": f"您是志愿服务队「{group.name}」唯一的队长，请先联系居委会指定新的队长",
            "area_path": group.area.path,
            "tell_staff": True,
        }
        for group in alone
    ]


def erase(user: User) -> None:
    now = utcnow()
    # Places on tasks not yet over go back (the waitlist moves up), as a departure would.
    active = db.session.execute(
        select(Signup.id, Signup.task_id)
        .join(Task, Task.id == Signup.task_id)
        .where(
            Signup.user_id == user.id,
            Signup.status.in_(("offered", "confirmed", "waitlisted")),
            Task.status.in_((TaskStatus.OPEN, TaskStatus.HANDLED)),
        )
        .order_by(Signup.task_id)
    ).all()
    from api.extensions import get_settings
    from api.volunteers import services

    for signup_id, task_id in active:
        task = services.lock_task(task_id)
        signup = db.session.get(Signup, signup_id, populate_existing=True)
        if signup is None or signup.status not in (
            SignupStatus.OFFERED,
            SignupStatus.CONFIRMED,
            SignupStatus.WAITLISTED,
        ):
            continue
        states.move(
            signup, SignupStatus.DECLINED if signup.status == SignupStatus.OFFERED else SignupStatus.CANCELLED, now
        )
        db.session.flush()
        roster.promote(task, get_settings(), now)
    db.session.execute(
        update(Signup)
        .where(Signup.user_id == user.id)
        .values(
            user_id=None,
            leave_reason=None,
            check_in_lat=None,
            check_in_lng=None,
            check_out_lat=None,
            check_out_lng=None,
        )
    )
    db.session.execute(delete(HourClaim).where(HourClaim.user_id == user.id, HourClaim.status == ClaimStatus.PENDING))
    db.session.execute(
        update(HourClaim).where(HourClaim.user_id == user.id).values(user_id=None, note="", reject_reason=None)
    )
    account = ledger.account_of(user, create=False)
    if account is not None:
        db.session.execute(delete(Correction).where(Correction.account_id == account.id))
        ledger.close_account(user)
    db.session.execute(delete(Certificate).where(Certificate.user_id == user.id))
    profile = db.session.scalar(select(Profile).where(Profile.user_id == user.id))
    if profile is not None:
        db.session.execute(delete(GroupMember).where(GroupMember.profile_id == profile.id))
        db.session.delete(profile)
    # What they wrote on tasks they made: the exact places (the tasks themselves stay, with their rosters).
    db.session.execute(
        update(Task)
        .where(Task.created_by_id == user.id, Task.status.in_((TaskStatus.CLOSED, TaskStatus.CANCELLED)))
        .values(address="", door_notes="")
    )
    for column in (
        Profile.decided_by_id,
        Group.created_by_id,
        Task.owner_id,
        Task.closed_by_id,
        Task.created_by_id,
        HourClaim.entered_by_id,
        HourClaim.decided_by_id,
        Correction.by_id,
    ):
        forget(column, user.id)
    db.session.flush()


def summary(user: User) -> dict[str, Any]:
    standing = ledger.standing(user)
    profile = db.session.scalar(select(Profile).where(Profile.user_id == user.id))
    return {
        "volunteer": profile.status.value if profile else None,
        "volunteer_hours": round(standing.minutes / 60, 2),
        "time_coins": standing.centi / ledger.CENTI_PER_HOUR,
        "time_coins_on_deletion": "注销账号时未使用的时间币将转入社区互助池" if standing.centi > 0 else None,
    }
