"""What party affairs hold about a person, and what becomes of it when they delete their account.

A member record is the party organisation's record of a member (党员档案): their branch, dates, posts, dues,
meetings, transfers. It is not the app account's and is kept as history when the account goes — without the
account: the record is unlinked (`user_id` emptied), the branch's officers are told, and the person can no
longer be reached through the app. What the person wrote for themselves goes with the account: the reasons they
gave for leave, the descriptions of their points claims (the facts stay — on leave, points awarded), and their
registrations as a working member with the community (they exist only for the person; volunteers hears that a
confirmed one ended). Their photos (claim evidence, registration slip) are the media domain's and go with it.
Where the person acted as staff or an officer, the record keeps the act and forgets the actor.

A transfer of membership under way blocks the deletion: it must be finished or withdrawn first, or the letter
and the receiving organisation would be left with nobody to answer to.
"""

from __future__ import annotations

import uuid
from typing import Any

from sqlalchemy import select, update

from api.accounts.models import User
from api.db import db, utcnow
from api.notifications.services import notify
from api.party.members import officer_users
from api.party.models import (
    OPEN_TRANSFER_STATUSES,
    Announcement,
    AnnouncementRead,
    DuesDeclaration,
    DuesMonth,
    DuesPayment,
    DuesRate,
    PartyAttendance,
    PartyMeeting,
    PartyMember,
    PartyMemberLog,
    PartyMinutes,
    PartyOfficer,
    PartyTransfer,
    PartyTransferStep,
    PointClaim,
    PointEntry,
    PointRule,
    Quiz,
    QuizAttempt,
    RegistrationStatus,
    StudyMaterial,
    StudyProgress,
    WorkingMemberRegistration,
)
from api.party.registrations import end
from api.personaldata import PersonalData, forget, record

personal_data = PersonalData(
    categories=(
        "党员档案（所在党组织、党内职务、入党与转正日期、状态）",
        "组织生活（会议出勤、请假）",
        "学习与测试记录、积分",
        "党费（申报、缴纳记录）",
        "组织关系转接",
        "在职党员报到",
    ),
    covers=(
        "party_members.user_id",
        "party_members.name",
        "party_members.status_reason",
        "party_members.linked_by_id",
        "party_member_log.actor_id",
        "party_officers.appointed_by_id",
        "party_officers.ended_by_id",
        # Names the organiser typed on a meeting (who presented it, who kept the minutes): the meeting's record.
        "party_meetings.presenter_name",
        "party_meetings.recorder_name",
        "party_meetings.created_by_id",
        "party_attendance.signed_in_by_id",
        "party_attendance.leave_reason",
        "party_attendance.leave_note",
        "party_attendance.leave_decided_by_id",
        "party_minutes.edited_by_id",
        "party_minutes.submitted_by_id",
        "party_minutes.decided_by_id",
        "party_study_materials.created_by_id",
        "party_quizzes.created_by_id",
        "party_point_rules.updated_by_id",
        "party_points_ledger.awarded_by_id",
        "party_point_claims.description",
        "party_point_claims.reject_reason",
        "party_point_claims.award_note",
        "party_point_claims.decided_by_id",
        "party_announcements.created_by_id",
        "party_dues_rates.created_by_id",
        "party_dues_declarations.declared_by_id",
        "party_dues_declarations.decided_by_id",
        "party_dues_declarations.reject_reason",
        "party_dues_payments.payer_id",
        "party_dues_payments.recorded_by_id",
        "party_dues_payments.paid_by_name",
        "party_dues_payments.late_reason",
        "party_transfers.reason",
        "party_transfers.created_by_id",
        "party_transfer_steps.actor_id",
        "party_registrations.user_id",
        "party_registrations.name",
        "party_registrations.reject_reason",
        "party_registrations.decided_by_id",
    ),
    export="api.party.personal:export",
    erase="api.party.personal:erase",
    blockers="api.party.personal:blockers",
    summary="api.party.personal:summary",
    subjects="api.party.personal:subjects",
)

ERASED_WORDS = "（申请人已注销账号）"


def _records(user: User) -> list[PartyMember]:
    return list(db.session.scalars(select(PartyMember).where(PartyMember.user_id == user.id).order_by(PartyMember.id)))


def export(user: User) -> dict[str, Any]:
    records = _records(user)
    ids = [m.id for m in records]

    def rows(model: Any, column: Any) -> list[Any]:
        return list(db.session.scalars(select(model).where(column.in_(ids)).order_by(model.id))) if ids else []

    return {
        "member_records": [
            {
                **record(m, "id", "name", "category", "joined_on", "full_on", "is_mobile", "status", "status_reason"),
                **record(m, "dues_standard_fen", "dues_start_month", "dues_paid_until", "hide_from_rankings"),
                "branch": m.branch.name,
                "group": m.group.name if m.group else None,
            }
            for m in records
        ],
        "posts": [
            {"org": o.org.name, **record(o, "post", "started_on", "ended_on")}
            for o in rows(PartyOfficer, PartyOfficer.member_id)
        ],
        "history": [record(e, "kind", "data", "at") for e in rows(PartyMemberLog, PartyMemberLog.member_id)],
        "meetings": [
            {
                "topic": a.meeting.topic,
                "kind": a.meeting.kind,
                "starts_at": a.meeting.starts_at,
                **record(a, "status", "signed_in_at", "leave_state", "leave_reason", "leave_note"),
            }
            for a in rows(PartyAttendance, PartyAttendance.member_id)
        ],
        "study": [
            {"material_id": p.material_id, **record(p, "seconds_total", "sessions", "last_beat_at")}
            for p in rows(StudyProgress, StudyProgress.member_id)
        ],
        "quizzes": [
            {"quiz": q.quiz.title, **record(q, "started_at", "submitted_at", "score", "max_score", "passed")}
            for q in rows(QuizAttempt, QuizAttempt.member_id)
        ],
        "points": [
            record(p, "action", "points", "cycle_key", "note", "awarded_at")
            for p in rows(PointEntry, PointEntry.member_id)
        ],
        "point_claims": [
            record(c, "description", "status", "created_at", "points_awarded", "reject_reason")
            for c in rows(PointClaim, PointClaim.member_id)
        ],
        "announcements_read": [
            record(r, "announcement_id", "read_at") for r in rows(AnnouncementRead, AnnouncementRead.member_id)
        ],
        "dues_declarations": [
            record(d, "year", "income_kind", "base_fen", "standard_fen", "status", "declared_at", "decided_at")
            for d in rows(DuesDeclaration, DuesDeclaration.member_id)
        ],
        "dues_months": [
            record(r, "month", "due_fen", "paid_at", "channel", "late") for r in rows(DuesMonth, DuesMonth.member_id)
        ],
        "dues_payments": [
            record(
                p,
                "channel",
                "status",
                "first_month",
                "last_month",
                "amount_fen",
                "paid_by_name",
                "late_reason",
                "paid_at",
            )
            for p in rows(DuesPayment, DuesPayment.member_id)
        ],
        "transfers": [
            {
                **record(t, "direction", "reach", "external_org", "reason", "status", "letter_no", "valid_until"),
                "from": t.from_org.name if t.from_org else t.external_org,
                "to": t.to_org.name if t.to_org else t.external_org,
                "steps": [record(s, "action", "to_status", "actor_role", "remark", "at") for s in t.steps],
            }
            for t in rows(PartyTransfer, PartyTransfer.member_id)
        ],
        "registrations": [
            {"org": r.org.name, **record(r, "name", "workplace_org", "registered_on", "status", "created_at")}
            for r in db.session.scalars(
                select(WorkingMemberRegistration).where(WorkingMemberRegistration.user_id == user.id)
            )
        ],
    }


def blockers(user: User) -> list[dict[str, Any]]:
    open_transfer = db.session.scalar(
        select(PartyTransfer)
        .join(PartyMember, PartyMember.id == PartyTransfer.member_id)
        .where(PartyMember.user_id == user.id, PartyTransfer.status.in_(OPEN_TRANSFER_STATUSES))
        .limit(1)
    )
    if open_transfer is None:
        return []
    return [
        {
            "reason": "您的党组织关系转接正在办理中，请办结或撤回后再注销账号",
            "area_path": (open_transfer.from_org or open_transfer.to_org or open_transfer.approver_org).area_path,
            "tell_staff": False,
        }
    ]


def erase(user: User) -> None:
    records = _records(user)
    ids = [m.id for m in records]
    for registration in db.session.scalars(
        select(WorkingMemberRegistration).where(WorkingMemberRegistration.user_id == user.id)
    ):
        if registration.status in (RegistrationStatus.SUBMITTED, RegistrationStatus.CONFIRMED):
            end(registration, utcnow())
        db.session.delete(registration)
    if ids:
        db.session.execute(update(PartyAttendance).where(PartyAttendance.member_id.in_(ids)).values(leave_reason=None))
        db.session.execute(update(PointClaim).where(PointClaim.member_id.in_(ids)).values(description=ERASED_WORDS))
    for member in records:
        if member.status.value in ("active", "pending", "suspended"):
            for officer in officer_users(member.branch):
                if officer.id != user.id:
                    notify(
                        officer,
                        "party_member_account_deleted",
                        {"branch_name": member.branch.name, "name": member.name, "member_id": member.id},
                        subject_path=member.branch.area_path,
                        dedupe_key=f"party-account-deleted:{member.id}",
                    )
    for column in (
        PartyMember.user_id,
        PartyMember.linked_by_id,
        PartyMemberLog.actor_id,
        PartyOfficer.appointed_by_id,
        PartyOfficer.ended_by_id,
        PartyMeeting.created_by_id,
        PartyAttendance.signed_in_by_id,
        PartyAttendance.leave_decided_by_id,
        PartyMinutes.edited_by_id,
        PartyMinutes.submitted_by_id,
        PartyMinutes.decided_by_id,
        StudyMaterial.created_by_id,
        Quiz.created_by_id,
        PointRule.updated_by_id,
        PointEntry.awarded_by_id,
        PointClaim.decided_by_id,
        Announcement.created_by_id,
        DuesRate.created_by_id,
        DuesDeclaration.declared_by_id,
        DuesDeclaration.decided_by_id,
        DuesPayment.payer_id,
        DuesPayment.recorded_by_id,
        PartyTransfer.created_by_id,
        PartyTransferStep.actor_id,
        WorkingMemberRegistration.decided_by_id,
    ):
        forget(column, user.id)
    db.session.flush()


def summary(user: User) -> dict[str, Any]:
    current = [m for m in _records(user) if m.status.value in ("active", "pending", "suspended")]
    return {
        "party_membership": [
            {"branch": m.branch.name, "status": m.status, "linked": "由党组织核实后关联"} for m in current
        ]
    }


def subjects(user: User) -> list[tuple[str, uuid.UUID]]:
    """The member records whose access-log rows the person may read (staff reads of their membership)."""
    return [("party_member", m.id) for m in _records(user)]
