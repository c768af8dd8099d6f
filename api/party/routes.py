"""Routes of party affairs for members (the mini-program): my record, my branch's names and posts, meetings,
study, points, announcements, dues, transfers, and working members' registration. The staff and officers'
side is `admin_routes.py`. Thin: parse, authorise, call a service, serialise."""

from __future__ import annotations

import uuid
from typing import Any

from api.auth import current_user, login_required
from api.db import utcnow
from api.extensions import Blueprint, get_settings
from api.idempotency import idempotent
from api.media.services import preload_photos
from api.pagination import CursorArgs, page_of, paginate
from api.party import announcements, dues, meetings, members, points, registrations, schemas, study, transfers
from api.party.admin_routes import admin_blp
from api.party.calendar import Quarter
from api.party.members import member_view
from api.party.models import (
    Announcement,
    DuesPayment,
    PartyAttendance,
    PartyMember,
    PartyOrg,
    PartyTransfer,
    PointClaim,
    PointEntry,
    Quiz,
    StudyMaterial,
    WorkingMemberRegistration,
)

party_blp = Blueprint("party", __name__, url_prefix="/api/v1/party", description="智慧党建: a member's party affairs")


def my_meeting_view(row: PartyAttendance) -> dict[str, Any]:
    settings = get_settings()
    opens, closes = meetings.window(row.meeting, settings)
    return {
        "meeting": row.meeting,
        "status": row.status,
        "signed_in_at": row.signed_in_at,
        "leave_state": row.leave_state,
        "leave_note": row.leave_note,
        "ticket": meetings.seat_code(row, settings),
        "sign_in_opens_at": opens,
        "sign_in_closes_at": closes,
    }


# My record and my branch -------------------------------------------------------------------------


@party_blp.route("/me", methods=["GET"])
@login_required()
@party_blp.response(200, schemas.PartyMemberSchema)
@party_blp.alt_response(403, description="`not_a_party_member`: no member record is linked to my account")
def party_get_me() -> Any:
    """My own member record, in full (linked by staff: nobody declares themselves a member)."""
    return member_view(members.my_member(current_user(), good_standing=False))


@party_blp.route("/me", methods=["PATCH"])
@login_required()
@party_blp.arguments(schemas.PartyMyMemberPatchArgs)
@party_blp.response(200, schemas.PartyMemberSchema)
@party_blp.alt_response(403, description="Not a party member")
def party_update_me(args: dict[str, Any]) -> Any:
    """Hide myself from (or show myself in) my branch's points ranking."""
    return member_view(members.set_ranking_visibility(current_user(), args["hide_from_rankings"]))


@party_blp.route("/me/branch/members", methods=["GET"])
@login_required()
@party_blp.arguments(CursorArgs, location="query")
@party_blp.response(200, page_of(schemas.PartyRollEntrySchema))
@party_blp.alt_response(403, description="Not a member in good standing")
def party_list_my_branch(args: dict[str, Any]) -> Any:
    """The members of my own branch: names and posts only."""
    page = paginate(
        members.branch_roll(current_user()), order_by=(PartyMember.id,), limit=args["limit"], cursor=args["cursor"]
    )
    posts = members.posts_of([m.id for m in page.items])
    page.items = [{"name": m.name, "posts": posts[m.id]} for m in page.items]
    return page


@party_blp.route("/orgs", methods=["GET"])
@login_required()
@party_blp.arguments(schemas.PartyPublicOrgArgs, location="query")
@party_blp.response(200, page_of(schemas.PartyPublicOrgSchema))
def party_list_branches(args: dict[str, Any]) -> Any:
    """Branches to register with as a working member (names and places; never their members)."""
    stmt = members.public_orgs(args["area_id"])
    return paginate(stmt, order_by=(PartyOrg.id,), limit=args["limit"], cursor=args["cursor"], descending=False)


# Meetings ------------------------------------------------------------------------------------------


@party_blp.route("/meetings", methods=["GET"])
@login_required()
@party_blp.arguments(CursorArgs, location="query")
@party_blp.response(200, page_of(schemas.PartyMyMeetingSchema))
@party_blp.alt_response(403, description="Not a party member")
def party_list_my_meetings(args: dict[str, Any]) -> Any:
    """Meetings I am on the roster of, newest first."""
    page = paginate(
        meetings.my_meetings(current_user()), order_by=(PartyAttendance.id,), limit=args["limit"], cursor=args["cursor"]
    )
    page.items = [my_meeting_view(row) for row in page.items]
    return page


@party_blp.route("/meetings/<uuid:meeting_id>", methods=["GET"])
@login_required()
@party_blp.response(200, schemas.PartyMyMeetingSchema)
@party_blp.alt_response(403, description="Not a party member")
@party_blp.alt_response(404, description="Not a meeting I am on the roster of")
def party_get_my_meeting(meeting_id: uuid.UUID) -> Any:
    """A meeting I am on the roster of, my status, and my code for the organiser to scan."""
    return my_meeting_view(meetings.my_meeting(current_user(), meeting_id))


@party_blp.route("/meetings/<uuid:meeting_id>/leave", methods=["POST"])
@login_required()
@party_blp.arguments(schemas.PartyLeaveArgs)
@party_blp.response(200, schemas.PartyMyMeetingSchema)
@party_blp.alt_response(403, description="Not a party member")
@party_blp.alt_response(404, description="Not a meeting I am on the roster of")
@party_blp.alt_response(409, description="Too late (it started), cancelled, or already signed in")
def party_ask_leave(args: dict[str, Any], meeting_id: uuid.UUID) -> Any:
    """Ask the organiser for leave, before the start."""
    return my_meeting_view(meetings.ask_leave(current_user(), meeting_id, args["reason"]))


@party_blp.route("/meeting-sign-ins", methods=["POST"])
@login_required()
@party_blp.arguments(schemas.PartySignInArgs)
@party_blp.response(200, schemas.PartyMySignInSchema)
@party_blp.alt_response(403, description="Not a party member")
@party_blp.alt_response(409, description="The meeting was cancelled")
@party_blp.alt_response(422, description="Not a meeting code, not on the roster, or outside the sign-in window")
def party_sign_in(args: dict[str, Any]) -> Any:
    """Sign in by scanning the meeting's code (20 minutes before to 20 after the start); once."""
    row, award = meetings.sign_in(current_user(), args["code"], get_settings())
    return {
        "meeting": row.meeting,
        "status": row.status,
        "signed_in_at": row.signed_in_at,
        "points": award.as_dict() if award else None,
    }


# Study -------------------------------------------------------------------------------------------


@party_blp.route("/study-materials", methods=["GET"])
@login_required()
@party_blp.arguments(CursorArgs, location="query")
@party_blp.response(200, page_of(schemas.PartyMaterialSchema))
@party_blp.alt_response(403, description="Not a member in good standing")
def party_list_materials(args: dict[str, Any]) -> Any:
    """Study materials of my branch and the organisations above it, newest first."""
    stmt = study.my_materials(current_user())
    return paginate(stmt, order_by=(StudyMaterial.id,), limit=args["limit"], cursor=args["cursor"])


@party_blp.route("/study-materials/<uuid:material_id>", methods=["GET"])
@login_required()
@party_blp.response(200, schemas.PartyMaterialSchema)
@party_blp.alt_response(403, description="Not a member in good standing")
@party_blp.alt_response(404, description="Not a material for me")
def party_get_material(material_id: uuid.UUID) -> Any:
    return study.my_material(current_user(), material_id)[0]


@party_blp.route("/study-materials/<uuid:material_id>/heartbeats", methods=["POST"])
@login_required()
@party_blp.response(200, schemas.PartyProgressSchema)
@party_blp.alt_response(403, description="Not a member in good standing")
@party_blp.alt_response(404, description="Not a material for me")
def party_study_heartbeat(material_id: uuid.UUID) -> Any:
    """I am reading (send every 30–60 s): the time since my last heartbeat counts; after a gap of more than
    10 minutes a new session starts."""
    progress, award = study.heartbeat(current_user(), material_id, get_settings())
    return {
        "material_id": material_id,
        "seconds_total": progress.seconds_total,
        "sessions": progress.sessions,
        "session_seconds": progress.session_seconds,
        "last_beat_at": progress.last_beat_at,
        "points": award.as_dict() if award else None,
    }


@party_blp.route("/quizzes", methods=["GET"])
@login_required()
@party_blp.arguments(CursorArgs, location="query")
@party_blp.response(200, page_of(schemas.PartyQuizSchema))
@party_blp.alt_response(403, description="Not a member in good standing")
def party_list_quizzes(args: dict[str, Any]) -> Any:
    return paginate(study.my_quizzes(current_user()), order_by=(Quiz.id,), limit=args["limit"], cursor=args["cursor"])


@party_blp.route("/quizzes/<uuid:quiz_id>/attempts", methods=["POST"])
@login_required()
@party_blp.response(201, schemas.PartyAttemptSchema)
@party_blp.alt_response(403, description="Not a member in good standing")
@party_blp.alt_response(404, description="Not a quiz for me")
@party_blp.alt_response(409, description="Outside the quiz's window")
def party_start_quiz(quiz_id: uuid.UUID) -> Any:
    """Start my one attempt (asking again returns it): the questions, without their answers, and my deadline."""
    return study.start(current_user(), quiz_id)


@party_blp.route("/quiz-attempts/<uuid:attempt_id>/answers", methods=["POST"])
@login_required()
@party_blp.arguments(schemas.PartyAnswersArgs)
@party_blp.response(200, schemas.PartyAnswerResultSchema)
@party_blp.alt_response(403, description="Not a member in good standing")
@party_blp.alt_response(404, description="Not my attempt")
@party_blp.alt_response(409, description="Handed in already, or the time was up")
def party_answer_quiz(args: dict[str, Any], attempt_id: uuid.UUID) -> Any:
    """Hand in my answers; scored on the server."""
    attempt, award = study.answer(current_user(), attempt_id, args["answers"])
    return {"attempt": attempt, "points": award.as_dict() if award else None}


# Points and announcements ------------------------------------------------------------------------


@party_blp.route("/me/points", methods=["GET"])
@login_required()
@party_blp.arguments(CursorArgs, location="query")
@party_blp.response(200, page_of(schemas.PartyPointEntrySchema))
@party_blp.alt_response(403, description="Not a party member")
def party_list_my_points(args: dict[str, Any]) -> Any:
    """My points ledger, newest first."""
    return paginate(
        points.my_ledger(current_user()), order_by=(PointEntry.id,), limit=args["limit"], cursor=args["cursor"]
    )


@party_blp.route("/rankings", methods=["GET"])
@login_required()
@party_blp.arguments(schemas.PartyQuarterArgs, location="query")
@party_blp.response(200, schemas.PartyRankingSchema)
@party_blp.alt_response(403, description="Not a member in good standing")
def party_my_ranking(args: dict[str, Any]) -> Any:
    """My branch's points ranking of a quarter (without those who hid themselves), and my own place."""
    return points.my_ranking(current_user(), Quarter.parse(args["quarter"], utcnow()))


@party_blp.route("/me/point-claims", methods=["POST"])
@login_required()
@idempotent
@party_blp.arguments(schemas.PartyClaimArgs)
@party_blp.response(201, schemas.PartyClaimSchema)
@party_blp.alt_response(403, description="Not a member in good standing")
@party_blp.alt_response(422, description="No photo, or this cycle's cap for claims is reached (nothing kept)")
def party_claim_points(args: dict[str, Any]) -> Any:
    """Ask my branch for points for something I did, with photos as evidence."""
    return points.submit_claim(current_user(), args["description"], args["media_ids"])


@party_blp.route("/me/point-claims", methods=["GET"])
@login_required()
@party_blp.arguments(CursorArgs, location="query")
@party_blp.response(200, page_of(schemas.PartyClaimSchema))
@party_blp.alt_response(403, description="Not a party member")
def party_list_my_claims(args: dict[str, Any]) -> Any:
    return paginate(
        points.my_claims(current_user()), order_by=(PointClaim.id,), limit=args["limit"], cursor=args["cursor"]
    )


def _with_read(items: list[Announcement], member: PartyMember) -> list[dict[str, Any]]:
    read = announcements.read_times(member, [a.id for a in items])
    return [
        {**{k: getattr(a, k) for k in ("id", "org", "title", "body", "published_at")}, "read_at": read.get(a.id)}
        for a in items
    ]


@party_blp.route("/announcements", methods=["GET"])
@login_required()
@party_blp.arguments(CursorArgs, location="query")
@party_blp.response(200, page_of(schemas.PartyAnnouncementSchema))
@party_blp.alt_response(403, description="Not a member in good standing")
def party_list_announcements(args: dict[str, Any]) -> Any:
    """Announcements of my branch and the organisations above it, newest first, with when I read each."""
    user = current_user()
    page = paginate(
        announcements.my_announcements(user), order_by=(Announcement.id,), limit=args["limit"], cursor=args["cursor"]
    )
    page.items = _with_read(page.items, members.my_member(user))
    return page


@party_blp.route("/announcements/<uuid:announcement_id>", methods=["GET"])
@login_required()
@party_blp.response(200, schemas.PartyAnnouncementSchema)
@party_blp.alt_response(403, description="Not a member in good standing")
@party_blp.alt_response(404, description="Not an announcement for me")
def party_get_announcement(announcement_id: uuid.UUID) -> Any:
    item, member = announcements.my_announcement(current_user(), announcement_id)
    return _with_read([item], member)[0]


@party_blp.route("/announcements/<uuid:announcement_id>/read", methods=["POST"])
@login_required()
@party_blp.response(200, schemas.PartyAnnouncementSchema)
@party_blp.alt_response(403, description="Not a member in good standing")
@party_blp.alt_response(404, description="Not an announcement for me")
def party_read_announcement(announcement_id: uuid.UUID) -> Any:
    """I read it (the receipt is kept once: the first time counts)."""
    item, read_at = announcements.mark_read(current_user(), announcement_id)
    return {**{k: getattr(item, k) for k in ("id", "org", "title", "body", "published_at")}, "read_at": read_at}


# Dues ----------------------------------------------------------------------------------------------


@party_blp.route("/me/dues", methods=["GET"])
@login_required()
@party_blp.response(200, schemas.PartyLedgerSchema)
@party_blp.alt_response(403, description="Not a party member")
def party_my_dues() -> Any:
    """My dues: standard, paid up to, what I owe month by month, the months' ledger, my declarations."""
    user = current_user()
    return {**dues.ledger(members.my_member(user, good_standing=False)), "declarations": dues.my_declarations(user)}


@party_blp.route("/me/dues/declarations", methods=["POST"])
@login_required()
@idempotent
@party_blp.arguments(schemas.PartyDeclarationArgs)
@party_blp.response(201, schemas.PartyDeclarationSchema)
@party_blp.alt_response(403, description="Not a member in good standing")
@party_blp.alt_response(422, description="A base that is missing, negative or absurd")
def party_declare_income(args: dict[str, Any]) -> Any:
    """Declare my monthly income (wage or pension, after tax) or my fixed category for a year; my branch
    confirms the standard it gives."""
    return dues.my_declaration(current_user(), args["income_kind"], args["base_fen"], args["year"])


@party_blp.route("/me/dues/payments", methods=["POST"])
@login_required()
@idempotent
@party_blp.arguments(schemas.PartyPayOnlineArgs)
@party_blp.response(201, schemas.PartyDuesPaymentSchema)
@party_blp.alt_response(403, description="Not a member in good standing")
@party_blp.alt_response(409, description="A month is paid already, or being paid; no standard yet")
@party_blp.alt_response(422, description="Months not consecutive from the oldest unpaid one, or too many")
def party_pay_dues(args: dict[str, Any]) -> Any:
    """Pay one or several months online: answers the payment with its `order_id`, which
    `POST /payments/{order_id}/prepay` turns into what `wx.requestPayment` takes."""
    return dues.pay_online(current_user(), args["months"], args["late_reason"], get_settings())


@party_blp.route("/me/dues/payments", methods=["GET"])
@login_required()
@party_blp.arguments(CursorArgs, location="query")
@party_blp.response(200, page_of(schemas.PartyDuesPaymentSchema))
@party_blp.alt_response(403, description="Not a party member")
def party_list_my_dues_payments(args: dict[str, Any]) -> Any:
    stmt = dues.my_payments(current_user())
    return paginate(stmt, order_by=(DuesPayment.id,), limit=args["limit"], cursor=args["cursor"])


# Transfers ---------------------------------------------------------------------------------------


@party_blp.route("/me/transfers", methods=["GET"])
@login_required()
@party_blp.arguments(CursorArgs, location="query")
@party_blp.response(200, page_of(schemas.PartyTransferSchema))
@party_blp.alt_response(403, description="Not a party member")
def party_list_my_transfers(args: dict[str, Any]) -> Any:
    """My transfers of membership, each with every step."""
    stmt = transfers.my_transfers(current_user())
    return paginate(stmt, order_by=(PartyTransfer.id,), limit=args["limit"], cursor=args["cursor"])


@party_blp.route("/me/transfers", methods=["POST"])
@login_required()
@idempotent
@party_blp.arguments(schemas.PartyTransferStartArgs)
@party_blp.response(201, schemas.PartyTransferSchema)
@party_blp.alt_response(403, description="Not a member in good standing")
@party_blp.alt_response(409, description="`party_transfer_open`: one open transfer at a time")
@party_blp.alt_response(422, description="No destination")
def party_start_transfer(args: dict[str, Any]) -> Any:
    """Start a transfer (a draft: submit it with the `submit` action) to another branch here, or out."""
    return transfers.start_mine(current_user(), args)


@party_blp.route("/me/transfers/<uuid:transfer_id>", methods=["GET"])
@login_required()
@party_blp.response(200, schemas.PartyTransferSchema)
@party_blp.alt_response(404, description="Not my transfer")
def party_get_my_transfer(transfer_id: uuid.UUID) -> Any:
    """One of my transfers: every step (who in which role, when, the result, a remark) and the letter."""
    return transfers.my_transfer(current_user(), transfer_id)


@party_blp.route("/me/transfers/<uuid:transfer_id>/transitions", methods=["POST"])
@login_required()
@party_blp.arguments(schemas.PartyTransferActionArgs)
@party_blp.response(200, schemas.PartyTransferSchema)
@party_blp.alt_response(403, description="Not the member's step")
@party_blp.alt_response(404, description="Not my transfer")
@party_blp.alt_response(409, description="Not allowed now: `errors.action` lists what is")
def party_act_on_my_transfer(args: dict[str, Any], transfer_id: uuid.UUID) -> Any:
    """`edit` (draft or returned), `submit` (again after a return: the same application), `withdraw`."""
    transfers.my_transfer(current_user(), transfer_id)
    action = args.pop("action")
    return transfers.act(current_user(), transfer_id, action, args, get_settings())


# Working members' registration -----------------------------------------------------------------


@party_blp.route("/registrations", methods=["POST"])
@login_required()
@idempotent
@party_blp.arguments(schemas.PartyRegistrationArgs)
@party_blp.response(201, schemas.PartyRegistrationSchema)
@party_blp.alt_response(409, description="A registration under way or confirmed already")
@party_blp.alt_response(422, description="Not a branch, a date ahead, or the slip is not my photo")
def party_register(args: dict[str, Any]) -> Any:
    """在职党员报到: register with the branch of the community I live in, with my registration slip."""
    return registrations.register(current_user(), args)


@party_blp.route("/me/registrations", methods=["GET"])
@login_required()
@party_blp.arguments(CursorArgs, location="query")
@party_blp.response(200, page_of(schemas.PartyRegistrationSchema))
def party_list_my_registrations(args: dict[str, Any]) -> Any:
    stmt = registrations.my_registrations(current_user())
    page = paginate(stmt, order_by=(WorkingMemberRegistration.id,), limit=args["limit"], cursor=args["cursor"])
    preload_photos(page.items, ("party_registration",))
    return page


@party_blp.route("/registrations/<uuid:registration_id>/end", methods=["POST"])
@login_required()
@party_blp.response(200, schemas.PartyRegistrationSchema)
@party_blp.alt_response(404, description="Not my registration")
def party_end_registration(registration_id: uuid.UUID) -> Any:
    """End my registration (I moved, or changed jobs)."""
    return registrations.end_mine(current_user(), registration_id)


blueprints = (party_blp, admin_blp)
