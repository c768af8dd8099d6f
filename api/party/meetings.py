"""Meetings (三会一课, 主题党日, 组织生活会): the roster drawn when a meeting is scheduled, leave asked for before
the start and decided by the organiser, sign-in inside the window by QR code, one attendance status per member,
the minutes and their approval by the level above (one state machine, `MINUTES_TRANSITIONS`), and the quarter's
figures per branch, counted in SQL.

Sign-in reuses events' signed codes (`api.events.services.signed_code`): the organiser's screen shows the
meeting's code (`LM1`), which members scan; or the organiser scans the code on a member's phone, their place on
the roster (`LP1`); members without a phone are marked present by the organiser. Every change to an attendance
row happens with the row locked; signing in twice changes nothing.
"""

from __future__ import annotations

import uuid
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Select, and_, case, func, or_, select, update

from api.accounts.models import User
from api.config import Settings
from api.db import db, new_id, utcnow
from api.errors import ApiError, NotFound
from api.events.services import read_signed_code, signed_code
from api.fields import local_text
from api.notifications.services import notify
from api.party import reach
from api.party.calendar import Quarter
from api.party.members import ORG_KIND_ZH, current_record, locked
from api.party.models import (
    AttendanceStatus,
    LeaveState,
    MeetingKind,
    MeetingStatus,
    MemberStatus,
    MinutesStatus,
    OrgKind,
    PartyAttendance,
    PartyMeeting,
    PartyMember,
    PartyMinutes,
    PartyOfficer,
    PartyOrg,
    PointAction,
    SignInVia,
)
from api.party.points import Award, award

MEETING_CODE = "LM1"  # a meeting's sign-in code, on the organiser's screen
SEAT_CODE = "LP1"  # a member's place on a meeting's roster, on their phone
MINUTES_PHOTOS = "party_minutes"
MAX_MINUTES_PHOTOS = 9

KIND_ZH = {
    MeetingKind.BRANCH_ASSEMBLY: "支部党员大会",
    MeetingKind.BRANCH_COMMITTEE: "支委会",
    MeetingKind.GROUP_MEETING: "党小组会",
    MeetingKind.PARTY_LECTURE: "党课",
    MeetingKind.THEME_DAY: "主题党日",
    MeetingKind.LIFE_MEETING: "组织生活会",
}
# Which organisations hold which meetings.
KIND_ORGS: dict[MeetingKind, frozenset[OrgKind]] = {
    MeetingKind.BRANCH_ASSEMBLY: frozenset({OrgKind.BRANCH}),
    MeetingKind.BRANCH_COMMITTEE: frozenset({OrgKind.BRANCH}),
    MeetingKind.GROUP_MEETING: frozenset({OrgKind.GROUP}),
    MeetingKind.PARTY_LECTURE: frozenset(OrgKind),
    MeetingKind.THEME_DAY: frozenset(OrgKind),
    MeetingKind.LIFE_MEETING: frozenset({OrgKind.BRANCH, OrgKind.GROUP}),
}
# 三会一课: what a branch must hold each quarter (党小组会: each of its groups, monthly).
REQUIRED_PER_QUARTER: dict[MeetingKind, int] = {
    MeetingKind.BRANCH_ASSEMBLY: 1,
    MeetingKind.BRANCH_COMMITTEE: 3,
    MeetingKind.GROUP_MEETING: 3,
    MeetingKind.PARTY_LECTURE: 1,
}
STATUS_ZH = {
    MinutesStatus.DRAFT: "草稿",
    MinutesStatus.SUBMITTED: "待审核",
    MinutesStatus.APPROVED: "已通过",
    MinutesStatus.REJECTED: "已退回",
}

M = MinutesStatus
# The one state machine of minutes: action -> (statuses it may start from, status it leads to; None: unchanged).
MINUTES_TRANSITIONS: dict[str, tuple[frozenset[MinutesStatus], MinutesStatus | None]] = {
    "edit": (frozenset({M.DRAFT, M.REJECTED}), None),
    "submit": (frozenset({M.DRAFT, M.REJECTED}), M.SUBMITTED),
    "approve": (frozenset({M.SUBMITTED}), M.APPROVED),
    "reject": (frozenset({M.SUBMITTED}), M.REJECTED),
}


def allowed_minutes_actions(status: MinutesStatus) -> list[str]:
    return [action for action, (sources, _to) in MINUTES_TRANSITIONS.items() if status in sources]


def window(meeting: PartyMeeting, settings: Settings) -> tuple[datetime, datetime]:
    """When members may sign in: from `party_sign_in_before_minutes` before the start to
    `party_sign_in_after_minutes` after it."""
    return (
        meeting.starts_at - timedelta(minutes=settings.party_sign_in_before_minutes),
        meeting.starts_at + timedelta(minutes=settings.party_sign_in_after_minutes),
    )


# ------------------------------------------------------------------------------------------------
# Scheduling
# ------------------------------------------------------------------------------------------------


def _roster(org: PartyOrg, kind: MeetingKind) -> list[PartyMember]:
    """The members in good standing a meeting of `kind` in `org` is for, at this moment."""
    stmt = select(PartyMember).where(PartyMember.status == MemberStatus.ACTIVE)
    if kind == MeetingKind.BRANCH_COMMITTEE:  # the branch committee: those holding a post in the branch
        posts = select(PartyOfficer.member_id).where(PartyOfficer.org_id == org.id, PartyOfficer.ended_on.is_(None))
        stmt = stmt.where(PartyMember.id.in_(posts))
    elif org.kind == OrgKind.GROUP:
        stmt = stmt.where(PartyMember.group_id == org.id)
    elif org.kind == OrgKind.BRANCH:
        stmt = stmt.where(PartyMember.branch_id == org.id)
    else:
        inside = select(PartyOrg.id).where(PartyOrg.path.startswith(org.path, autoescape=True))
        stmt = stmt.where(PartyMember.branch_id.in_(inside))
    return list(db.session.scalars(stmt.order_by(PartyMember.id)))


def _invitees(user: User, member_ids: list[uuid.UUID], already: set[uuid.UUID]) -> list[PartyMember]:
    wanted = [i for i in dict.fromkeys(member_ids) if i not in already]
    found = (
        {m.id: m for m in db.session.scalars(select(PartyMember).where(PartyMember.id.in_(wanted)))} if wanted else {}
    )
    bad = [
        str(i)
        for i in wanted
        if i not in found or found[i].status != MemberStatus.ACTIVE or not reach.sees(user, found[i].branch)
    ]
    if bad:
        raise ApiError(
            "validation_failed", errors={"invitee_ids": [f"{i}: no such member in good standing" for i in bad]}
        )
    return [found[i] for i in wanted]


def _kind_context(meeting: PartyMeeting) -> dict[str, Any]:
    return {
        "meeting_id": meeting.id,
        "topic": meeting.topic,
        "place": meeting.place,
        "kind_name": KIND_ZH[meeting.kind],
        "org_name": meeting.org.name,
        "starts_at": meeting.starts_at,
        "starts_at_text": local_text(meeting.starts_at),
    }


def _seat(meeting: PartyMeeting, member: PartyMember, invited: bool, tell: bool = True) -> PartyAttendance:
    row = PartyAttendance(
        id=new_id(),
        meeting_id=meeting.id,
        member_id=member.id,
        invited=invited,
        status=AttendanceStatus.EXPECTED,
        leave_state=LeaveState.NONE,
    )
    db.session.add(row)
    if tell and member.user is not None:
        notify(
            member.user,
            "party_meeting_scheduled",
            _kind_context(meeting),
            subject_path=meeting.org.area_path,
            dedupe_key=f"party-meeting:{meeting.id}",
        )
    return row


def schedule(user: User, values: dict[str, Any], *, tell: bool = True) -> PartyMeeting:
    """Schedule a meeting of an organisation in reach; its roster is drawn now (the members in good standing,
    plus invitees) and each is told (`tell=False`: the demo seed)."""
    org = reach.org_for(user, values["org_id"])
    kind = MeetingKind(values["kind"])
    if org.kind not in KIND_ORGS[kind]:
        allowed = ", ".join(sorted(k.value for k in KIND_ORGS[kind]))
        raise ApiError("validation_failed", errors={"kind": [f"a {kind.value} is held by a {allowed}"]})
    if values["ends_at"] <= values["starts_at"]:
        raise ApiError("validation_failed", errors={"ends_at": ["must be after starts_at"]})
    meeting = PartyMeeting(
        id=new_id(),
        org_id=org.id,
        org=org,
        kind=kind,
        topic=values["topic"].strip(),
        place=values["place"].strip(),
        starts_at=values["starts_at"],
        ends_at=values["ends_at"],
        presenter_name=(values.get("presenter_name") or "").strip(),
        recorder_name=(values.get("recorder_name") or "").strip(),
        status=MeetingStatus.SCHEDULED,
        created_by_id=user.id,
    )
    db.session.add(meeting)
    roster = _roster(org, kind)
    invited = _invitees(user, values.get("invitee_ids") or [], {m.id for m in roster})
    for member in roster:
        _seat(meeting, member, invited=False, tell=tell)
    for member in invited:
        _seat(meeting, member, invited=True, tell=tell)
    db.session.flush()
    return meeting


def staff_meetings(user: User, filters: dict[str, Any]) -> Select[tuple[PartyMeeting]]:
    stmt = reach.in_reach(user, PartyMeeting)
    if filters.get("org_id") is not None:
        stmt = stmt.where(PartyMeeting.org_id == filters["org_id"])
    if filters.get("kind") is not None:
        stmt = stmt.where(PartyMeeting.kind == filters["kind"])
    return stmt


def staff_meeting(user: User, meeting_id: uuid.UUID, *, lock: bool = False) -> PartyMeeting:
    stmt = select(PartyMeeting).where(PartyMeeting.id == meeting_id)
    if lock:
        stmt = stmt.with_for_update(of=PartyMeeting).execution_options(populate_existing=True)
    meeting = db.session.scalar(stmt)
    return reach.ensure(user, meeting, meeting.org if meeting is not None else None)


def _roster_rows(meeting: PartyMeeting) -> list[PartyAttendance]:
    return list(db.session.scalars(select(PartyAttendance).where(PartyAttendance.meeting_id == meeting.id)))


def cancel(user: User, meeting_id: uuid.UUID, reason: str) -> PartyMeeting:
    meeting = staff_meeting(user, meeting_id, lock=True)
    if meeting.status == MeetingStatus.CANCELLED:
        return meeting
    if meeting.starts_at <= utcnow():
        raise ApiError("party_transition_not_allowed", errors={"action": []}, state="已召开", allowed="-")
    meeting.status = MeetingStatus.CANCELLED
    meeting.cancel_reason = reason.strip()
    for row in _roster_rows(meeting):
        if row.member.user is not None:
            notify(
                row.member.user,
                "party_meeting_cancelled",
                {**_kind_context(meeting), "reason": meeting.cancel_reason},
                subject_path=meeting.org.area_path,
                dedupe_key=f"party-meeting-cancelled:{meeting.id}",
            )
    return meeting


def invite(user: User, meeting_id: uuid.UUID, member_ids: list[uuid.UUID], settings: Settings) -> PartyMeeting:
    """Add invitees (members of other branches in reach) until the sign-in window closes."""
    meeting = staff_meeting(user, meeting_id, lock=True)
    _ensure_open(meeting, settings, utcnow())
    on_roster = {row.member_id for row in _roster_rows(meeting)}
    for member in _invitees(user, member_ids, on_roster):
        _seat(meeting, member, invited=True)
    db.session.flush()
    return meeting


def _ensure_open(meeting: PartyMeeting, settings: Settings, now: datetime) -> None:
    if meeting.status == MeetingStatus.CANCELLED:
        raise ApiError("party_meeting_cancelled")
    opens, closes = window(meeting, settings)
    if now > closes:
        raise ApiError("party_sign_in_window", opens=local_text(opens), closes=local_text(closes))


def attendance(user: User, meeting_id: uuid.UUID) -> Select[tuple[PartyAttendance]]:
    meeting = staff_meeting(user, meeting_id)
    return select(PartyAttendance).where(PartyAttendance.meeting_id == meeting.id)


def meeting_code(user: User, meeting_id: uuid.UUID, settings: Settings) -> dict[str, Any]:
    """What the organiser's screen shows for members to scan."""
    meeting = staff_meeting(user, meeting_id)
    if meeting.status == MeetingStatus.CANCELLED:
        raise ApiError("party_meeting_cancelled")
    opens, closes = window(meeting, settings)
    code = signed_code(MEETING_CODE, meeting.id, settings.secret_key)
    return {"code": code, "qr_payload": f"linli://party-sign-in?code={code}", "opens_at": opens, "closes_at": closes}


# ------------------------------------------------------------------------------------------------
# Leave and sign-in
# ------------------------------------------------------------------------------------------------


def _my_row(user: User, meeting_id: uuid.UUID, *, lock: bool = False) -> PartyAttendance:
    member = current_record(user)
    if member is None:
        raise ApiError("not_a_party_member")
    stmt = select(PartyAttendance).where(
        PartyAttendance.meeting_id == meeting_id, PartyAttendance.member_id == member.id
    )
    if lock:
        stmt = stmt.with_for_update(of=PartyAttendance).execution_options(populate_existing=True)
    row = db.session.scalar(stmt)
    if row is None:
        raise NotFound()
    return row


def my_meetings(user: User) -> Select[tuple[PartyAttendance]]:
    member = current_record(user)
    if member is None:
        raise ApiError("not_a_party_member")
    return select(PartyAttendance).where(PartyAttendance.member_id == member.id)


def my_meeting(user: User, meeting_id: uuid.UUID) -> PartyAttendance:
    """My place on a meeting's roster (404 for a meeting I am not on)."""
    return _my_row(user, meeting_id)


def seat_code(row: PartyAttendance, settings: Settings) -> str | None:
    """The code on my phone the organiser may scan instead (while the meeting is to come)."""
    if row.meeting.status == MeetingStatus.CANCELLED or row.status != AttendanceStatus.EXPECTED:
        return None
    return signed_code(SEAT_CODE, row.id, settings.secret_key)


def ask_leave(user: User, meeting_id: uuid.UUID, reason: str, now: datetime | None = None) -> PartyAttendance:
    """Ask the organiser for leave, before the start."""
    now = now or utcnow()
    row = _my_row(user, meeting_id, lock=True)
    if row.meeting.status == MeetingStatus.CANCELLED:
        raise ApiError("party_meeting_cancelled")
    if now >= row.meeting.starts_at:
        raise ApiError("party_leave_too_late")
    if row.status == AttendanceStatus.PRESENT:
        raise ApiError("party_transition_not_allowed", errors={"action": []}, state="已签到", allowed="-")
    if row.leave_state != LeaveState.APPROVED:
        row.leave_state = LeaveState.REQUESTED
        row.leave_reason = reason.strip()
        row.leave_requested_at = now
    return row


def decide_leave(
    user: User, meeting_id: uuid.UUID, member_id: uuid.UUID, approve: bool, note: str | None, settings: Settings
) -> PartyAttendance:
    """The organiser approves or refuses a leave request (until the sign-in window closes)."""
    meeting = staff_meeting(user, meeting_id)
    _ensure_open(meeting, settings, utcnow())
    row = locked(PartyAttendance, PartyAttendance.meeting_id == meeting.id, PartyAttendance.member_id == member_id)
    if row is None:
        raise ApiError("validation_failed", errors={"member_id": ["not on this meeting's roster"]})
    if row.leave_state != LeaveState.REQUESTED:
        raise ApiError("party_leave_not_requested")
    now = utcnow()
    row.leave_state = LeaveState.APPROVED if approve else LeaveState.REFUSED
    row.leave_decided_by_id = user.id
    row.leave_decided_at = now
    row.leave_note = (note or "").strip() or None
    if approve and row.status == AttendanceStatus.EXPECTED:
        row.status = AttendanceStatus.LEAVE
    if row.member.user is not None:
        notify(
            row.member.user,
            "party_leave_decided",
            {**_kind_context(meeting), "result": "已批准" if approve else "未批准", "note": row.leave_note or ""},
            subject_path=meeting.org.area_path,
            dedupe_key=f"party-leave:{row.id}:{row.leave_state.value}",
        )
    return row


def _present(row: PartyAttendance, via: SignInVia, by: User | None, settings: Settings, now: datetime) -> Award | None:
    """Sign `row` in (once), inside the window; signing in clears a leave request."""
    meeting = row.meeting
    if meeting.status == MeetingStatus.CANCELLED:
        raise ApiError("party_meeting_cancelled")
    if row.status == AttendanceStatus.PRESENT:
        return None
    opens, closes = window(meeting, settings)
    if not opens <= now <= closes:
        raise ApiError("party_sign_in_window", opens=local_text(opens), closes=local_text(closes))
    row.status = AttendanceStatus.PRESENT
    row.signed_in_at = now
    row.signed_in_via = via
    row.signed_in_by_id = by.id if by is not None else None
    if row.leave_state in (LeaveState.REQUESTED, LeaveState.APPROVED):
        row.leave_state = LeaveState.CLEARED
    db.session.flush()
    return award(row.member, PointAction.MEETING_SIGN_IN, f"meeting:{meeting.id}", note=meeting.topic[:100], now=now)


def sign_in(
    user: User, code: str, settings: Settings, now: datetime | None = None
) -> tuple[PartyAttendance, Award | None]:
    """I scanned the meeting's code: I am signed in, if I am on its roster and the window is open."""
    now = now or utcnow()
    meeting_id = read_signed_code(MEETING_CODE, code, settings.secret_key)
    member = current_record(user)
    if member is None:
        raise ApiError("not_a_party_member")
    if db.session.get(PartyMeeting, meeting_id) is None:
        raise ApiError("ticket_invalid")
    row = locked(PartyAttendance, PartyAttendance.meeting_id == meeting_id, PartyAttendance.member_id == member.id)
    if row is None:
        raise ApiError("party_not_on_roster")
    return row, _present(row, SignInVia.CODE, None, settings, now)


def sign_in_for(
    user: User, meeting_id: uuid.UUID, ticket: str | None, member_id: uuid.UUID | None, settings: Settings
) -> tuple[PartyAttendance, Award | None]:
    """The organiser signs a member in: by the code on their phone, or by hand (no phone)."""
    meeting = staff_meeting(user, meeting_id)
    if ticket:
        seat_id = read_signed_code(SEAT_CODE, ticket, settings.secret_key)
        condition = PartyAttendance.id == seat_id
        via = SignInVia.TICKET
    elif member_id is not None:
        condition = PartyAttendance.member_id == member_id
        via = SignInVia.ORGANISER
    else:
        raise ApiError("validation_failed", errors={"ticket": ["the member's code, or their member_id"]})
    row = locked(PartyAttendance, condition, PartyAttendance.meeting_id == meeting.id)
    if row is None:
        raise ApiError("party_not_on_roster")
    return row, _present(row, via, user, settings, utcnow())


def close_meetings(settings: Settings, now: datetime | None = None) -> int:
    """Meetings whose sign-in window closed: whoever is still expected is absent (the beat, every 5 minutes).
    Returns how many meetings were closed."""
    now = now or utcnow()
    cutoff = now - timedelta(minutes=settings.party_sign_in_after_minutes)
    due = db.session.scalars(
        select(PartyMeeting)
        .where(
            PartyMeeting.closed_at.is_(None),
            PartyMeeting.status == MeetingStatus.SCHEDULED,
            PartyMeeting.starts_at < cutoff,
        )
        .with_for_update(of=PartyMeeting, skip_locked=True)
        .limit(500)
    ).all()
    for meeting in due:
        db.session.execute(
            update(PartyAttendance)
            .where(PartyAttendance.meeting_id == meeting.id, PartyAttendance.status == AttendanceStatus.EXPECTED)
            .values(status=AttendanceStatus.ABSENT)
            .execution_options(synchronize_session=False)
        )
        meeting.closed_at = now
    return len(due)


# ------------------------------------------------------------------------------------------------
# Minutes
# ------------------------------------------------------------------------------------------------


def may_see_minutes_photos(viewer: User, minutes_id: uuid.UUID) -> bool:
    """Minutes' attachments: whoever reaches the meeting's organisation (its organisers and the levels above)."""
    minutes = db.session.get(PartyMinutes, minutes_id)
    return minutes is not None and reach.sees(viewer, minutes.meeting.org)


def _minutes(meeting: PartyMeeting, *, lock: bool = False) -> PartyMinutes | None:
    stmt = select(PartyMinutes).where(PartyMinutes.meeting_id == meeting.id)
    if lock:
        stmt = stmt.with_for_update(of=PartyMinutes).execution_options(populate_existing=True)
    return db.session.scalar(stmt)


def minutes_of(user: User, meeting_id: uuid.UUID) -> PartyMinutes:
    """The minutes, or an empty draft when none were written yet (not stored)."""
    meeting = staff_meeting(user, meeting_id)
    found = _minutes(meeting)
    if found is not None:
        return found
    return PartyMinutes(meeting_id=meeting.id, meeting=meeting, content="", decisions="", status=MinutesStatus.DRAFT)


def _not_allowed(minutes: PartyMinutes, action: str) -> ApiError:
    allowed = allowed_minutes_actions(minutes.status)
    if action == "edit" and minutes.status == MinutesStatus.APPROVED:
        return ApiError("party_minutes_locked", errors={"action": allowed})
    return ApiError(
        "party_transition_not_allowed",
        errors={"action": allowed},
        state=STATUS_ZH[minutes.status],
        allowed=", ".join(allowed) or "-",
    )


def write_minutes(
    user: User, meeting_id: uuid.UUID, content: str, decisions: str, media_ids: list[uuid.UUID] | None
) -> PartyMinutes:
    """Write or rewrite the minutes (while a draft, or returned); approved minutes are locked (409)."""
    from api.media.services import attach

    meeting = staff_meeting(user, meeting_id, lock=True)
    minutes = _minutes(meeting, lock=True)
    now = utcnow()
    if minutes is None:
        minutes = PartyMinutes(id=new_id(), meeting_id=meeting.id, status=MinutesStatus.DRAFT)
        db.session.add(minutes)
    elif minutes.status not in MINUTES_TRANSITIONS["edit"][0]:
        raise _not_allowed(minutes, "edit")
    minutes.content = content
    minutes.decisions = decisions
    minutes.edited_by_id = user.id
    minutes.edited_at = now
    db.session.flush()
    if media_ids:
        attach(media_ids, user, MINUTES_PHOTOS, minutes.id, max_count=MAX_MINUTES_PHOTOS)
    return minutes


def act_on_minutes(user: User, meeting_id: uuid.UUID, action: str, reason: str | None) -> PartyMinutes:
    """Submit the minutes (the organiser), approve or return them with a reason (the level above, never the
    person who submitted them)."""
    if action not in MINUTES_TRANSITIONS or action == "edit":
        raise ApiError("validation_failed", errors={"action": ["one of submit, approve, reject"]})
    meeting = staff_meeting(user, meeting_id, lock=True)
    minutes = _minutes(meeting, lock=True)
    if minutes is None or not minutes.content.strip():
        raise ApiError("validation_failed", errors={"content": ["write the minutes before submitting them"]})
    sources, target = MINUTES_TRANSITIONS[action]
    if minutes.status not in sources:
        raise _not_allowed(minutes, action)
    now = utcnow()
    if action == "submit":
        minutes.submitted_by_id = user.id
        minutes.submitted_at = now
        minutes.reject_reason = None
    else:
        if not reach.above(user, meeting.org) or user.id == minutes.submitted_by_id:
            raise ApiError("party_level_above_only", what="审核会议记录")
        reason = (reason or "").strip()
        if action == "reject" and not reason:
            raise ApiError("validation_failed", errors={"reason": ["say why the minutes go back"]})
        minutes.decided_by_id = user.id
        minutes.decided_at = now
        minutes.reject_reason = reason if action == "reject" else None
        submitter = db.session.get(User, minutes.submitted_by_id) if minutes.submitted_by_id else None
        if submitter is not None:
            notify(
                submitter,
                "party_minutes_decided",
                {
                    "meeting_id": meeting.id,
                    "topic": meeting.topic,
                    "result": "已通过" if action == "approve" else "被退回",
                    "reason": f"原因：{reason}" if reason else "",
                },
                subject_path=meeting.org.area_path,
            )
    assert target is not None
    minutes.status = target
    return minutes


# ------------------------------------------------------------------------------------------------
# The quarter's figures
# ------------------------------------------------------------------------------------------------


def figures(
    user: User, org_id: uuid.UUID, quarter: Quarter, settings: Settings, now: datetime | None = None
) -> dict[str, Any]:
    """Per branch in (or of) an organisation: the meetings 三会一课 requires this quarter against those held (not
    cancelled, started by now), the others held, and attendance — present, on leave, absent (still expected
    once the window closed), and the rates. Three grouped queries, whatever the number of branches."""
    now = now or utcnow()
    found = db.session.get(PartyOrg, org_id)
    org = reach.ensure(user, found, found)
    top = org.parent if org.kind == OrgKind.GROUP and org.parent is not None else org
    branches = list(
        db.session.scalars(
            select(PartyOrg)
            .where(PartyOrg.kind == OrgKind.BRANCH, PartyOrg.path.startswith(top.path, autoescape=True))
            .order_by(PartyOrg.path)
        )
    )
    ids = [b.id for b in branches]
    branch_of_meeting = case((PartyOrg.kind == OrgKind.GROUP, PartyOrg.parent_id), else_=PartyOrg.id)
    held = and_(
        PartyMeeting.status == MeetingStatus.SCHEDULED,
        PartyMeeting.starts_at >= quarter.start,
        PartyMeeting.starts_at < quarter.end,
        PartyMeeting.starts_at <= now,
        branch_of_meeting.in_(ids),
    )
    counts: dict[tuple[uuid.UUID, MeetingKind], int] = {
        (row[0], row[1]): row[2]
        for row in db.session.execute(
            select(branch_of_meeting, PartyMeeting.kind, func.count())
            .join(PartyOrg, PartyOrg.id == PartyMeeting.org_id)
            .where(held)
            .group_by(branch_of_meeting, PartyMeeting.kind)
        )
    }
    groups = dict(
        db.session.execute(
            select(PartyOrg.parent_id, func.count())
            .where(PartyOrg.kind == OrgKind.GROUP, PartyOrg.parent_id.in_(ids))
            .group_by(PartyOrg.parent_id)
        ).all()
    )
    cutoff = now - timedelta(minutes=settings.party_sign_in_after_minutes)
    absent = or_(
        PartyAttendance.status == AttendanceStatus.ABSENT,
        and_(PartyAttendance.status == AttendanceStatus.EXPECTED, PartyMeeting.starts_at < cutoff),
    )
    turnout = {
        row[0]: row[1:]
        for row in db.session.execute(
            select(
                branch_of_meeting,
                func.count(),
                func.count().filter(PartyAttendance.status == AttendanceStatus.PRESENT),
                func.count().filter(PartyAttendance.status == AttendanceStatus.LEAVE),
                func.count().filter(absent),
            )
            .select_from(PartyAttendance)
            .join(PartyMeeting, PartyMeeting.id == PartyAttendance.meeting_id)
            .join(PartyOrg, PartyOrg.id == PartyMeeting.org_id)
            .where(held)
            .group_by(branch_of_meeting)
        )
    }
    result = []
    for branch in branches:
        required = []
        for kind, per_quarter in REQUIRED_PER_QUARTER.items():
            due = per_quarter * (groups.get(branch.id, 0) if kind == MeetingKind.GROUP_MEETING else 1)
            required.append({"kind": kind, "name": KIND_ZH[kind], "due": due, "held": counts.get((branch.id, kind), 0)})
        roster, present, leave, away = turnout.get(branch.id, (0, 0, 0, 0))
        result.append(
            {
                "org_id": branch.id,
                "name": branch.name,
                "required": required,
                "required_met": all(r["held"] >= r["due"] for r in required),
                "other_meetings": {
                    kind: counts.get((branch.id, kind), 0) for kind in MeetingKind if kind not in REQUIRED_PER_QUARTER
                },
                "attendance": {
                    "expected": roster,
                    "present": present,
                    "leave": leave,
                    "absent": away,
                    "rate": round(present / roster, 4) if roster else None,
                    "rate_excluding_leave": round(present / (roster - leave), 4) if roster - leave > 0 else None,
                },
            }
        )
    return {
        "quarter": quarter.label,
        "org_id": org.id,
        "org_name": org.name,
        "org_kind": ORG_KIND_ZH[org.kind],
        "branches": result,
    }
