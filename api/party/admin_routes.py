"""Routes of party affairs for street staff and party officers (`/admin/party`): the organisation tree and its
officers, the roll of members, meetings and minutes, the quarter's figures, study, points, announcements,
dues, transfers and registrations. What each may see follows the tree (`api.party.reach`); every read of a
member's personal detail is a row of the access log. Linking members to accounts and setting their status is
for street staff only; rates and point rules for admins. Thin: parse, authorise, call a service, serialise."""

from __future__ import annotations

import uuid
from typing import Any

from flask import Response

from api.accounts.access import USER, record_access
from api.accounts.models import Role
from api.auth import current_user, staff_route
from api.db import db, utcnow
from api.errors import ApiError, NotFound
from api.extensions import Blueprint, get_settings
from api.idempotency import idempotent
from api.media.services import preload_photos
from api.pagination import CursorArgs, page_of, paginate
from api.party import (
    announcements,
    dues,
    meetings,
    members,
    points,
    registrations,
    schemas,
    study,
    transfers,
)
from api.party.calendar import Quarter, current_month, month_label, months_between
from api.party.members import MEMBER_SUBJECT, member_view
from api.party.models import (
    Announcement,
    DuesDeclaration,
    OrgKind,
    PartyAttendance,
    PartyMeeting,
    PartyMember,
    PartyMemberLog,
    PartyOrg,
    PartyTransfer,
    PointAction,
    PointClaim,
    Quiz,
    StudyMaterial,
    WorkingMemberRegistration,
)

admin_blp = Blueprint(
    "admin-party", __name__, url_prefix="/api/v1/admin/party", description="Staff and party officers: 智慧党建"
)
PARTY = (Role.STAFF, Role.ADMIN, Role.PARTY_OFFICER)  # officers act in their organisations and below
STAFF_ONLY = (Role.STAFF, Role.ADMIN)  # linking members to accounts, their status
ADMINS = (Role.ADMIN,)  # the subdistrict's rules: dues rates, point rules
MEMBER_FIELDS = members.MEMBER_FIELDS_SHOWN


def _logged(staff: Any, ids: list[uuid.UUID], fields: tuple[str, ...] = MEMBER_FIELDS) -> None:
    record_access(staff, MEMBER_SUBJECT, ids, fields)


# Organisations and officers ----------------------------------------------------------------------


@staff_route(admin_blp, "/orgs", methods=["GET"], roles=PARTY)
@admin_blp.arguments(schemas.PartyOrgListArgs, location="query")
@admin_blp.response(200, page_of(schemas.PartyOrgSchema))
def admin_list_party_orgs(args: dict[str, Any]) -> Any:
    """Organisations I reach, in tree order."""
    stmt = members.staff_orgs(current_user(), args["kind"], args["parent_id"])
    return paginate(
        stmt, order_by=(PartyOrg.path, PartyOrg.id), limit=args["limit"], cursor=args["cursor"], descending=False
    )


@staff_route(admin_blp, "/orgs", methods=["POST"], roles=PARTY)
@admin_blp.arguments(schemas.PartyOrgCreateArgs)
@admin_blp.response(201, schemas.PartyOrgSchema)
@admin_blp.alt_response(422, description="Unknown parent or area, a kind that does not fit, a code in use")
def admin_create_party_org(args: dict[str, Any]) -> Any:
    """A new organisation under one I reach (a top committee: admins)."""
    return members.create_org(current_user(), args)


@staff_route(admin_blp, "/orgs/<uuid:org_id>", methods=["GET"], roles=PARTY)
@admin_blp.response(200, schemas.PartyOrgSchema)
def admin_get_party_org(org_id: uuid.UUID) -> Any:
    return members.staff_org(current_user(), org_id)


@staff_route(admin_blp, "/orgs/<uuid:org_id>/officers", methods=["GET"], roles=PARTY)
@admin_blp.arguments(schemas.PartyOfficerListArgs, location="query")
@admin_blp.response(200, schemas.PartyOfficerListSchema)
def admin_list_party_officers(args: dict[str, Any], org_id: uuid.UUID) -> Any:
    """The organisation's secretary and committee (or group leader); ended posts on request."""
    staff = current_user()
    items = list(db.session.scalars(members.officers_of(staff, org_id, args["include_ended"])))
    _logged(staff, [o.member_id for o in items], ("name", "posts"))
    return {"items": items}


@staff_route(admin_blp, "/orgs/<uuid:org_id>/officers", methods=["POST"], roles=PARTY)
@admin_blp.arguments(schemas.PartyOfficerArgs)
@admin_blp.response(201, schemas.PartyOfficerSchema)
@admin_blp.alt_response(409, description="The organisation has a secretary, or the member holds the post")
@admin_blp.alt_response(422, description="No such member in reach, or a post that does not fit")
def admin_appoint_party_officer(args: dict[str, Any], org_id: uuid.UUID) -> Any:
    """Appoint a member to a post (the level above appoints); they act for the organisation from now on."""
    return members.appoint(current_user(), org_id, args["member_id"], args["post"], args["started_on"])


@staff_route(admin_blp, "/officers/<uuid:officer_id>/end", methods=["POST"], roles=PARTY)
@admin_blp.response(200, schemas.PartyOfficerSchema)
def admin_end_party_officer(officer_id: uuid.UUID) -> Any:
    """End a post (kept as history)."""
    return members.end_post(current_user(), officer_id)


@staff_route(admin_blp, "/orgs/<uuid:org_id>/figures", methods=["GET"], roles=PARTY)
@admin_blp.arguments(schemas.PartyQuarterArgs, location="query")
@admin_blp.response(200, schemas.PartyFiguresSchema)
def admin_party_figures(args: dict[str, Any], org_id: uuid.UUID) -> Any:
    """The quarter per branch: 三会一课 held against due, other meetings, attendance rates (counted in SQL)."""
    quarter = Quarter.parse(args["quarter"], utcnow())
    return meetings.figures(current_user(), org_id, quarter, get_settings())


@staff_route(admin_blp, "/orgs/<uuid:org_id>/rankings", methods=["GET"], roles=PARTY)
@admin_blp.arguments(schemas.PartyQuarterArgs, location="query")
@admin_blp.response(200, schemas.PartyRankingSchema)
@admin_blp.alt_response(422, description="Not a branch")
def admin_party_ranking(args: dict[str, Any], org_id: uuid.UUID) -> Any:
    """A branch's points ranking of the quarter, those hidden from members' view included (marked)."""
    staff = current_user()
    org = members.staff_org(staff, org_id)
    if org.kind != OrgKind.BRANCH:
        raise ApiError("validation_failed", errors={"org_id": ["a branch"]})
    quarter = Quarter.parse(args["quarter"], utcnow())
    items = points.ranking(org.id, quarter, include_hidden=True)
    _logged(staff, [i["member_id"] for i in items], ("name", "points"))
    return {"quarter": quarter.label, "branch_name": org.name, "items": items, "me": None}


@staff_route(admin_blp, "/orgs/<uuid:org_id>/dues/unpaid", methods=["GET"], roles=PARTY)
@admin_blp.arguments(CursorArgs, location="query")
@admin_blp.response(200, page_of(schemas.PartyUnpaidSchema))
def admin_party_unpaid_dues(args: dict[str, Any], org_id: uuid.UUID) -> Any:
    """Members of the organisation and below with dues unpaid up to this month; those six months behind are
    flagged (the rules take it seriously: the system flags, people decide)."""
    staff = current_user()
    now = utcnow()
    page = paginate(
        dues.unpaid(staff, org_id, now), order_by=(PartyMember.id,), limit=args["limit"], cursor=args["cursor"]
    )
    _logged(staff, [m.id for m in page.items], ("name", "dues"))
    page.items = [
        {
            "member_id": m.id,
            "name": m.name,
            "branch_name": m.branch.name,
            "standard_fen": m.dues_standard_fen,
            "paid_until": month_label(m.dues_paid_until) if m.dues_paid_until else None,
            "months_unpaid": months_between(dues.first_unpaid(m), current_month(now)),
            "flagged": m.dues_flagged_at is not None,
        }
        for m in page.items
    ]
    return page


@staff_route(admin_blp, "/orgs/<uuid:org_id>/registrations/hours.csv", methods=["GET"], roles=PARTY)
@admin_blp.arguments(schemas.PartyQuarterArgs, location="query")
@admin_blp.response(200, {"type": "string"}, content_type="text/csv")
def admin_party_registration_hours(args: dict[str, Any], org_id: uuid.UUID) -> Any:
    """The quarter's service hours of the working members registered with the organisation and below, for
    their workplace branches (CSV, UTF-8 with BOM for spreadsheet programs)."""
    staff = current_user()
    quarter = Quarter.parse(args["quarter"], utcnow())
    rows = registrations.hours_rows(staff, org_id, quarter)
    record_access(staff, USER, [r["user_id"] for r in rows], ("name", "workplace_org", "hours"))
    body = "\ufeff" + registrations.hours_csv(rows, quarter)
    return Response(
        body,
        mimetype="text/csv",
        headers={"Content-Disposition": f'attachment; filename="registered-members-{quarter.label}.csv"'},
    )


# Members -----------------------------------------------------------------------------------------


@staff_route(admin_blp, "/members", methods=["GET"], roles=PARTY)
@admin_blp.arguments(schemas.PartyMemberListArgs, location="query")
@admin_blp.response(200, page_of(schemas.PartyStaffMemberSchema))
def admin_list_party_members(args: dict[str, Any]) -> Any:
    """Members of the organisations I reach (leavers included, with their status); in the access log."""
    staff = current_user()
    page = paginate(
        members.staff_members(staff, args), order_by=(PartyMember.id,), limit=args["limit"], cursor=args["cursor"]
    )
    _logged(staff, [m.id for m in page.items])
    posts = members.posts_of([m.id for m in page.items])
    page.items = [member_view(m, posts[m.id]) for m in page.items]
    return page


@staff_route(admin_blp, "/members", methods=["POST"], roles=STAFF_ONLY)
@admin_blp.arguments(schemas.PartyMemberCreateArgs)
@admin_blp.response(201, schemas.PartyStaffMemberSchema)
@admin_blp.alt_response(409, description="The account is linked to a current member record already")
@admin_blp.alt_response(422, description="A branch out of reach, an unknown account, inconsistent dates")
def admin_create_party_member(args: dict[str, Any]) -> Any:
    """Put a member on a branch's roll, linked to their resident account (staff only: never self-declared)."""
    return member_view(members.create_member(current_user(), args))


@staff_route(admin_blp, "/members/<uuid:member_id>", methods=["GET"], roles=PARTY)
@admin_blp.response(200, schemas.PartyStaffMemberDetailSchema)
def admin_get_party_member(member_id: uuid.UUID) -> Any:
    """A member's record and its history (in the access log)."""
    staff = current_user()
    member = members.staff_member(staff, member_id)
    _logged(staff, [member.id], (*MEMBER_FIELDS, "history"))
    history = db.session.scalars(
        members.member_log(staff, member_id).order_by(PartyMemberLog.id.desc()).limit(100)
    ).all()
    return {**member_view(member), "history": history}


@staff_route(admin_blp, "/members/<uuid:member_id>", methods=["PATCH"], roles=STAFF_ONLY)
@admin_blp.arguments(schemas.PartyMemberPatchArgs)
@admin_blp.response(200, schemas.PartyStaffMemberSchema)
@admin_blp.alt_response(409, description="The account is linked to another current member record")
def admin_update_party_member(args: dict[str, Any], member_id: uuid.UUID) -> Any:
    """Correct a record, or link (unlink) its account; logged. The branch changes through a transfer."""
    return member_view(members.update_member(current_user(), member_id, args))


@staff_route(admin_blp, "/members/<uuid:member_id>/status", methods=["POST"], roles=STAFF_ONLY)
@admin_blp.arguments(schemas.PartyMemberStatusArgs)
@admin_blp.response(200, schemas.PartyStaffMemberSchema)
@admin_blp.alt_response(409, description="Not a current member, or a transfer is open")
def admin_set_party_member_status(args: dict[str, Any], member_id: uuid.UUID) -> Any:
    """Suspend (停止党籍), restore, or record a leaver or a death: the record stays as history."""
    return member_view(members.set_status(current_user(), member_id, args["status"], args["reason"]))


@staff_route(admin_blp, "/members/<uuid:member_id>/dues", methods=["GET"], roles=PARTY)
@admin_blp.response(200, schemas.PartyLedgerSchema)
def admin_party_member_dues(member_id: uuid.UUID) -> Any:
    """A member's dues ledger (in the access log)."""
    staff = current_user()
    shown = dues.staff_ledger(staff, member_id)
    _logged(staff, [member_id], ("name", "dues"))
    declarations = db.session.scalars(
        dues.staff_declarations(staff, None)
        .where(DuesDeclaration.member_id == member_id)
        .order_by(DuesDeclaration.id.desc())
    ).all()
    return {**shown, "declarations": declarations}


@staff_route(admin_blp, "/members/<uuid:member_id>/dues/payments", methods=["POST"], roles=PARTY)
@idempotent
@admin_blp.arguments(schemas.PartyPayOfflineArgs)
@admin_blp.response(201, schemas.PartyDuesPaymentSchema)
@admin_blp.alt_response(409, description="A month is paid already or being paid online; no standard yet")
@admin_blp.alt_response(422, description="Months not consecutive from the oldest unpaid one")
def admin_record_party_dues(args: dict[str, Any], member_id: uuid.UUID) -> Any:
    """Record dues paid to the branch (cash, transfer; by someone for the member: 代缴)."""
    return dues.record_offline(
        current_user(), member_id, args["months"], args["paid_by_name"], args["paid_on"], args["late_reason"]
    )


@staff_route(admin_blp, "/members/<uuid:member_id>/dues/declarations", methods=["POST"], roles=PARTY)
@admin_blp.arguments(schemas.PartyDeclarationArgs)
@admin_blp.response(201, schemas.PartyDeclarationSchema)
@admin_blp.alt_response(422, description="A base that is missing, negative or absurd")
def admin_declare_party_dues(args: dict[str, Any], member_id: uuid.UUID) -> Any:
    """Enter a member's declaration for them (no app), confirmed at once."""
    return dues.declaration_for(current_user(), member_id, args["income_kind"], args["base_fen"], args["year"])


@staff_route(admin_blp, "/dues-declarations", methods=["GET"], roles=PARTY)
@admin_blp.arguments(schemas.PartyDeclarationListArgs, location="query")
@admin_blp.response(200, page_of(schemas.PartyDeclarationSchema))
def admin_list_party_declarations(args: dict[str, Any]) -> Any:
    """Declarations of members in reach (`status=declared`: waiting for the branch)."""
    staff = current_user()
    stmt = dues.staff_declarations(staff, args["status"])
    page = paginate(stmt, order_by=(DuesDeclaration.id,), limit=args["limit"], cursor=args["cursor"])
    _logged(staff, [d.member_id for d in page.items], ("name", "income"))
    return page


@staff_route(admin_blp, "/dues-declarations/<uuid:declaration_id>/decision", methods=["POST"], roles=PARTY)
@admin_blp.arguments(schemas.PartyDeclarationDecisionArgs)
@admin_blp.response(200, schemas.PartyDeclarationSchema)
@admin_blp.alt_response(409, description="Decided already")
def admin_decide_party_declaration(args: dict[str, Any], declaration_id: uuid.UUID) -> Any:
    """Confirm the standard (it applies to this month while unpaid, and on), or reject with a reason."""
    return dues.decide(current_user(), declaration_id, args["confirm"], args["reason"])


@staff_route(admin_blp, "/dues-rates", methods=["GET"], roles=PARTY)
@admin_blp.response(200, schemas.PartyRateListSchema)
def admin_list_party_dues_rates() -> Any:
    """The versions of the dues rules, newest first."""
    return {"items": dues.rates()}


@staff_route(admin_blp, "/dues-rates", methods=["POST"], roles=ADMINS)
@admin_blp.arguments(schemas.PartyRateArgs)
@admin_blp.response(201, schemas.PartyRateSchema)
@admin_blp.alt_response(422, description="Bands that do not rise or end open, a version or date in use")
def admin_add_party_dues_rate(args: dict[str, Any]) -> Any:
    """A new version of the dues rules, from its date on (versions are never edited)."""
    return dues.add_rate(current_user(), args["version"], args["effective_from"], args["rules"])


# Meetings ----------------------------------------------------------------------------------------


@staff_route(admin_blp, "/meetings", methods=["GET"], roles=PARTY)
@admin_blp.arguments(schemas.PartyMeetingListArgs, location="query")
@admin_blp.response(200, page_of(schemas.PartyMeetingSchema))
def admin_list_party_meetings(args: dict[str, Any]) -> Any:
    stmt = meetings.staff_meetings(current_user(), args)
    return paginate(stmt, order_by=(PartyMeeting.id,), limit=args["limit"], cursor=args["cursor"])


@staff_route(admin_blp, "/meetings", methods=["POST"], roles=PARTY)
@idempotent
@admin_blp.arguments(schemas.PartyMeetingCreateArgs)
@admin_blp.response(201, schemas.PartyMeetingSchema)
@admin_blp.alt_response(422, description="An organisation out of reach, a kind it does not hold, bad times")
def admin_schedule_party_meeting(args: dict[str, Any]) -> Any:
    """Schedule a meeting; its roster (the members in good standing now, and invitees) is told."""
    return meetings.schedule(current_user(), args)


@staff_route(admin_blp, "/meetings/<uuid:meeting_id>", methods=["GET"], roles=PARTY)
@admin_blp.response(200, schemas.PartyMeetingSchema)
def admin_get_party_meeting(meeting_id: uuid.UUID) -> Any:
    return meetings.staff_meeting(current_user(), meeting_id)


@staff_route(admin_blp, "/meetings/<uuid:meeting_id>/cancel", methods=["POST"], roles=PARTY)
@admin_blp.arguments(schemas.PartyMeetingCancelArgs)
@admin_blp.response(200, schemas.PartyMeetingSchema)
@admin_blp.alt_response(409, description="It has started")
def admin_cancel_party_meeting(args: dict[str, Any], meeting_id: uuid.UUID) -> Any:
    return meetings.cancel(current_user(), meeting_id, args["reason"])


@staff_route(admin_blp, "/meetings/<uuid:meeting_id>/invitees", methods=["POST"], roles=PARTY)
@admin_blp.arguments(schemas.PartyInviteesArgs)
@admin_blp.response(200, schemas.PartyMeetingSchema)
@admin_blp.alt_response(422, description="Not members in good standing in reach; the window closed")
def admin_invite_to_party_meeting(args: dict[str, Any], meeting_id: uuid.UUID) -> Any:
    return meetings.invite(current_user(), meeting_id, args["member_ids"], get_settings())


@staff_route(admin_blp, "/meetings/<uuid:meeting_id>/attendance", methods=["GET"], roles=PARTY)
@admin_blp.arguments(CursorArgs, location="query")
@admin_blp.response(200, page_of(schemas.PartyAttendanceSchema))
def admin_party_meeting_attendance(args: dict[str, Any], meeting_id: uuid.UUID) -> Any:
    """The roster with each member's one status (present, leave, absent; expected until the window closes)."""
    staff = current_user()
    stmt = meetings.attendance(staff, meeting_id)
    page = paginate(stmt, order_by=(PartyAttendance.id,), limit=args["limit"], cursor=args["cursor"], descending=False)
    _logged(staff, [row.member_id for row in page.items], ("name", "attendance"))
    return page


@staff_route(admin_blp, "/meetings/<uuid:meeting_id>/leave-decisions", methods=["POST"], roles=PARTY)
@admin_blp.arguments(schemas.PartyLeaveDecisionArgs)
@admin_blp.response(200, schemas.PartyAttendanceSchema)
@admin_blp.alt_response(409, description="No leave request waiting")
def admin_decide_party_leave(args: dict[str, Any], meeting_id: uuid.UUID) -> Any:
    """The organiser approves or refuses a member's leave request."""
    return meetings.decide_leave(
        current_user(), meeting_id, args["member_id"], args["approve"], args["note"], get_settings()
    )


@staff_route(admin_blp, "/meetings/<uuid:meeting_id>/sign-ins", methods=["POST"], roles=PARTY)
@admin_blp.arguments(schemas.PartyStaffSignInArgs)
@admin_blp.response(200, schemas.PartySignedInSchema)
@admin_blp.alt_response(409, description="Cancelled")
@admin_blp.alt_response(422, description="Not a roster code, not on the roster, or outside the window")
def admin_party_sign_in(args: dict[str, Any], meeting_id: uuid.UUID) -> Any:
    """Sign a member in: scan the code on their phone, or by hand for a member without one."""
    row, award = meetings.sign_in_for(current_user(), meeting_id, args["ticket"], args["member_id"], get_settings())
    return {"attendance": row, "points": award.as_dict() if award else None}


@staff_route(admin_blp, "/meetings/<uuid:meeting_id>/sign-in-code", methods=["GET"], roles=PARTY)
@admin_blp.response(200, schemas.PartySignInCodeSchema)
@admin_blp.alt_response(409, description="Cancelled")
def admin_party_sign_in_code(meeting_id: uuid.UUID) -> Any:
    """The meeting's code, to show as a QR code for members to scan."""
    return meetings.meeting_code(current_user(), meeting_id, get_settings())


@staff_route(admin_blp, "/meetings/<uuid:meeting_id>/minutes", methods=["GET"], roles=PARTY)
@admin_blp.response(200, schemas.PartyMinutesSchema)
def admin_get_party_minutes(meeting_id: uuid.UUID) -> Any:
    """The minutes (an empty draft until written), with what may be done with them now."""
    return meetings.minutes_of(current_user(), meeting_id)


@staff_route(admin_blp, "/meetings/<uuid:meeting_id>/minutes", methods=["PUT"], roles=PARTY)
@admin_blp.arguments(schemas.PartyMinutesArgs)
@admin_blp.response(200, schemas.PartyMinutesSchema)
@admin_blp.alt_response(409, description="`party_minutes_locked` once approved; submitted minutes wait")
def admin_write_party_minutes(args: dict[str, Any], meeting_id: uuid.UUID) -> Any:
    """Write the minutes: content, decisions, attachments (photos from /media)."""
    return meetings.write_minutes(current_user(), meeting_id, args["content"], args["decisions"], args["media_ids"])


@staff_route(admin_blp, "/meetings/<uuid:meeting_id>/minutes/transitions", methods=["POST"], roles=PARTY)
@admin_blp.arguments(schemas.PartyMinutesActionArgs)
@admin_blp.response(200, schemas.PartyMinutesSchema)
@admin_blp.alt_response(409, description="Not allowed now: `errors.action` lists what is")
def admin_act_on_party_minutes(args: dict[str, Any], meeting_id: uuid.UUID) -> Any:
    """`submit` (the organiser); `approve` or `reject` with a reason (the level above, not the submitter)."""
    return meetings.act_on_minutes(current_user(), meeting_id, args["action"], args["reason"])


# Study, points, announcements ------------------------------------------------------------------


@staff_route(admin_blp, "/study-materials", methods=["GET"], roles=PARTY)
@admin_blp.arguments(CursorArgs, location="query")
@admin_blp.response(200, page_of(schemas.PartyMaterialSchema))
def admin_list_party_materials(args: dict[str, Any]) -> Any:
    stmt = study.staff_materials(current_user())
    return paginate(stmt, order_by=(StudyMaterial.id,), limit=args["limit"], cursor=args["cursor"])


@staff_route(admin_blp, "/study-materials", methods=["POST"], roles=PARTY)
@admin_blp.arguments(schemas.PartyMaterialCreateArgs)
@admin_blp.response(201, schemas.PartyMaterialSchema)
def admin_publish_party_material(args: dict[str, Any]) -> Any:
    """Publish an article (text, a cover photo) or a video (its https address) to an organisation and below."""
    return study.publish_material(current_user(), args)


@staff_route(admin_blp, "/quizzes", methods=["GET"], roles=PARTY)
@admin_blp.arguments(CursorArgs, location="query")
@admin_blp.response(200, page_of(schemas.PartyQuizSchema))
def admin_list_party_quizzes(args: dict[str, Any]) -> Any:
    return paginate(
        study.staff_quizzes(current_user()), order_by=(Quiz.id,), limit=args["limit"], cursor=args["cursor"]
    )


@staff_route(admin_blp, "/quizzes", methods=["POST"], roles=PARTY)
@admin_blp.arguments(schemas.PartyQuizCreateArgs)
@admin_blp.response(201, schemas.PartyQuizSchema)
def admin_create_party_quiz(args: dict[str, Any]) -> Any:
    """A quiz with a window, a time limit and a pass mark; answers are scored on the server."""
    return study.create_quiz(current_user(), args)


@staff_route(admin_blp, "/point-rules", methods=["GET"], roles=PARTY)
@admin_blp.response(200, schemas.PartyPointRuleListSchema)
def admin_list_party_point_rules() -> Any:
    return {"items": points.rules()}


@staff_route(admin_blp, "/point-rules/<string:action>", methods=["PUT"], roles=ADMINS)
@admin_blp.arguments(schemas.PartyPointRuleArgs)
@admin_blp.response(200, schemas.PartyPointRuleSchema)
def admin_set_party_point_rule(args: dict[str, Any], action: str) -> Any:
    """Set an action's points, unit, cycle and cap (admins; from now on, never backwards)."""
    try:
        which = PointAction(action)
    except ValueError:
        raise NotFound() from None
    return points.set_rule(current_user(), which, args)


@staff_route(admin_blp, "/point-claims", methods=["GET"], roles=PARTY)
@admin_blp.arguments(schemas.PartyClaimListArgs, location="query")
@admin_blp.response(200, page_of(schemas.PartyClaimSchema))
def admin_list_party_claims(args: dict[str, Any]) -> Any:
    staff = current_user()
    page = paginate(
        points.staff_claims(staff, args["status"]),
        order_by=(PointClaim.id,),
        limit=args["limit"],
        cursor=args["cursor"],
    )
    _logged(staff, [c.member_id for c in page.items], ("name", "claim"))
    return page


@staff_route(admin_blp, "/point-claims/<uuid:point_claim_id>/decision", methods=["POST"], roles=PARTY)
@admin_blp.arguments(schemas.PartyDecisionArgs)
@admin_blp.response(200, schemas.PartyClaimSchema)
@admin_blp.alt_response(409, description="Decided already")
def admin_decide_party_claim(args: dict[str, Any], point_claim_id: uuid.UUID) -> Any:
    """Approve (points as far as the cap allows: the answer says why when fewer) or reject with a reason."""
    claim, _award = points.decide_claim(current_user(), point_claim_id, args["approve"], args["reason"])
    return claim


@staff_route(admin_blp, "/announcements", methods=["GET"], roles=PARTY)
@admin_blp.arguments(CursorArgs, location="query")
@admin_blp.response(200, page_of(schemas.PartyAnnouncementSchema))
def admin_list_party_announcements(args: dict[str, Any]) -> Any:
    stmt = announcements.staff_announcements(current_user())
    return paginate(stmt, order_by=(Announcement.id,), limit=args["limit"], cursor=args["cursor"])


@staff_route(admin_blp, "/announcements", methods=["POST"], roles=PARTY)
@admin_blp.arguments(schemas.PartyAnnouncementArgs)
@admin_blp.response(201, schemas.PartyAnnouncementSchema)
def admin_publish_party_announcement(args: dict[str, Any]) -> Any:
    return announcements.publish(current_user(), args["org_id"], args["title"], args["body"])


@staff_route(admin_blp, "/announcements/<uuid:announcement_id>/receipts", methods=["GET"], roles=PARTY)
@admin_blp.response(200, schemas.PartyReceiptsSchema)
def admin_party_announcement_receipts(announcement_id: uuid.UUID) -> Any:
    """Who has read it and when, and who has not (in the access log)."""
    staff = current_user()
    shown = announcements.receipts(staff, announcement_id)
    _logged(staff, [r["member_id"] for r in shown["read"] + shown["unread"]], ("name", "read_at"))
    return shown


# Transfers ---------------------------------------------------------------------------------------


@staff_route(admin_blp, "/transfers", methods=["GET"], roles=PARTY)
@admin_blp.arguments(schemas.PartyTransferListArgs, location="query")
@admin_blp.response(200, page_of(schemas.PartyTransferSchema))
def admin_list_party_transfers(args: dict[str, Any]) -> Any:
    """Transfers from, to or approved by organisations I reach."""
    staff = current_user()
    page = paginate(
        transfers.staff_transfers(staff, args["status"]),
        order_by=(PartyTransfer.id,),
        limit=args["limit"],
        cursor=args["cursor"],
    )
    _logged(staff, [t.member_id for t in page.items], ("name", "transfer"))
    return page


@staff_route(admin_blp, "/transfers", methods=["POST"], roles=PARTY)
@idempotent
@admin_blp.arguments(schemas.PartyStaffTransferArgs)
@admin_blp.response(201, schemas.PartyTransferSchema)
@admin_blp.alt_response(409, description="`party_transfer_open`: one open transfer per member")
def admin_start_party_transfer(args: dict[str, Any]) -> Any:
    """Start a transfer for a member (inside or out), or register a letter from outside (`in`): a pending
    member for the receiving branch."""
    return transfers.start_for(current_user(), args, get_settings())


@staff_route(admin_blp, "/transfers/<uuid:transfer_id>", methods=["GET"], roles=PARTY)
@admin_blp.response(200, schemas.PartyTransferSchema)
def admin_get_party_transfer(transfer_id: uuid.UUID) -> Any:
    staff = current_user()
    transfer = transfers.staff_transfer(staff, transfer_id)
    _logged(staff, [transfer.member_id], ("name", "transfer"))
    return transfer


@staff_route(admin_blp, "/transfers/<uuid:transfer_id>/transitions", methods=["POST"], roles=PARTY)
@admin_blp.arguments(schemas.PartyTransferActionArgs)
@admin_blp.response(200, schemas.PartyTransferSchema)
@admin_blp.alt_response(409, description="Not allowed now: `errors.action` lists what is")
def admin_act_on_party_transfer(args: dict[str, Any], transfer_id: uuid.UUID) -> Any:
    """confirm / return / reject (the sending branch), approve / revoke / complete (the committee above),
    receive (the receiving side; out: the committee records the 回执)."""
    staff = current_user()
    transfers.staff_transfer(staff, transfer_id)
    action = args.pop("action")
    return transfers.act(staff, transfer_id, action, args, get_settings())


# Working members' registrations ------------------------------------------------------------------


@staff_route(admin_blp, "/registrations", methods=["GET"], roles=PARTY)
@admin_blp.arguments(schemas.PartyRegistrationListArgs, location="query")
@admin_blp.response(200, page_of(schemas.PartyRegistrationSchema))
def admin_list_party_registrations(args: dict[str, Any]) -> Any:
    staff = current_user()
    stmt = registrations.staff_registrations(staff, args["status"])
    page = paginate(stmt, order_by=(WorkingMemberRegistration.id,), limit=args["limit"], cursor=args["cursor"])
    record_access(staff, USER, [r.user_id for r in page.items], ("name", "workplace_org"))
    preload_photos(page.items, ("party_registration",))
    return page


@staff_route(admin_blp, "/registrations/<uuid:registration_id>", methods=["GET"], roles=PARTY)
@admin_blp.response(200, schemas.PartyRegistrationSchema)
def admin_get_party_registration(registration_id: uuid.UUID) -> Any:
    staff = current_user()
    registration = registrations.staff_registration(staff, registration_id)
    record_access(staff, USER, [registration.user_id], ("name", "workplace_org", "slip"))
    return registration


@staff_route(admin_blp, "/registrations/<uuid:registration_id>/decision", methods=["POST"], roles=PARTY)
@admin_blp.arguments(schemas.PartyRegistrationDecisionArgs)
@admin_blp.response(200, schemas.PartyRegistrationSchema)
@admin_blp.alt_response(409, description="Decided already")
def admin_decide_party_registration(args: dict[str, Any], registration_id: uuid.UUID) -> Any:
    """Confirm (they may get service tasks from now on) or reject with a reason."""
    return registrations.decide(current_user(), registration_id, args["confirm"], args["reason"])
