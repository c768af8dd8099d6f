"""Routes of volunteers: the volunteer's side in the mini-program (profile, the task list, sign-ups, check-in,
hours, coins, the certificate), anyone's check of a certificate, and the coordinators' admin side — staff of the area,
and the leaders of a group for what their group runs. Thin: parse, authorise, call a service, serialise."""

from __future__ import annotations

import uuid
from typing import Any

from flask import Response, g, request

from api import ratelimit
from api.accounts.models import Area, Role
from api.accounts.services import load_ancestors
from api.auth import current_user, login_required, staff_route
from api.db import db, utcnow
from api.errors import ApiError
from api.extensions import Blueprint, get_settings
from api.idempotency import idempotent
from api.pagination import CursorArgs, Page, decode_cursor, encode_cursor, page_of, paginate
from api.volunteers import access, certificates, ledger, roster, schemas, services
from api.volunteers.models import Group, HourClaim, Profile, Signup, Task

volunteer_blp = Blueprint(
    "volunteers", __name__, url_prefix="/api/v1", description="志愿者: my volunteer profile, tasks, hours and coins"
)
admin_blp = Blueprint(
    "admin-volunteers",
    __name__,
    url_prefix="/api/v1/admin",
    description="Staff and group leaders: volunteers, groups, tasks, rosters, hours",
)

SIGNUPS_PER_MINUTE = 30
VERIFICATIONS_PER_MINUTE = 30
STAFF_ONLY = (Role.STAFF, Role.ADMIN)
LEADERS = access.LEADER_ROUTES


# ------------------------------------------------------------------------------------------------
# The volunteer
# ------------------------------------------------------------------------------------------------


@volunteer_blp.route("/volunteer/skills", methods=["GET"])
@login_required()
@volunteer_blp.response(200, schemas.VolunteerSkillSchema(many=True))
def list_skills() -> Any:
    """The skill list a profile and a task choose from."""
    return services.skills()


@volunteer_blp.route("/me/volunteer", methods=["POST"])
@login_required()
@volunteer_blp.arguments(schemas.VolunteerProfileArgs)
@volunteer_blp.response(201, schemas.MyProfileSchema)
@volunteer_blp.alt_response(409, description="I already have a profile")
def apply(args: dict[str, Any]) -> Any:
    """Register as a volunteer (real name, skills, committees, weekly availability); staff approve it."""
    user = current_user()
    return services.apply(user, args), 201


@volunteer_blp.route("/me/volunteer", methods=["GET"])
@login_required()
@volunteer_blp.response(200, schemas.MyProfileSchema)
def get_my_profile() -> Any:
    """My profile, hours, coins and star level."""
    user = current_user()
    return services.require_profile(user)


@volunteer_blp.route("/me/volunteer", methods=["PATCH"])
@login_required()
@volunteer_blp.arguments(schemas.VolunteerProfilePatchArgs)
@volunteer_blp.response(200, schemas.MyProfileSchema)
def update_my_profile(args: dict[str, Any]) -> Any:
    """Change my skills, committees, availability or leaderboard choice."""
    user = current_user()
    return services.update_profile(user, args)


@volunteer_blp.route("/me/volunteer/duty", methods=["POST"])
@login_required()
@volunteer_blp.arguments(schemas.DutyArgs)
@volunteer_blp.response(200, schemas.MyProfileSchema)
@volunteer_blp.alt_response(403, description="Not approved")
def set_duty(args: dict[str, Any]) -> Any:
    """The on-duty switch for alarms next door, with my location (`wx.getLocation`) as I switch it on."""
    user = current_user()
    return services.set_duty(user, args["on_duty"], args["lat"], args["lng"], get_settings())


def _nearest_page(stmt: Any, lat: float, lng: float, limit: int, cursor: str | None) -> Page:
    """Keyset pages ordered by distance then id (the distance is an expression, so not `paginate`)."""
    from sqlalchemy import and_, or_

    stmt = services.with_distance(stmt, lat, lng)
    d2 = stmt.selected_columns.d2
    if cursor:
        last_d2, last_id = decode_cursor(cursor, 2)
        if not isinstance(last_d2, int | float) or isinstance(last_d2, bool) or not isinstance(last_id, uuid.UUID):
            raise ApiError("invalid_cursor", errors={"cursor": ["invalid"]})
        stmt = stmt.where(or_(d2 > last_d2, and_(d2 == last_d2, Task.id > last_id)))
    rows = db.session.execute(stmt.order_by(d2, Task.id).limit(limit + 1)).all()
    items = []
    for task, distance in rows[:limit]:
        task._d2 = float(distance)
        items.append(task)
    next_cursor = encode_cursor([float(rows[limit - 1][1]), rows[limit - 1][0].id]) if len(rows) > limit else None
    return Page(items=items, next_cursor=next_cursor)


@volunteer_blp.route("/volunteer/tasks", methods=["GET"])
@login_required()
@volunteer_blp.arguments(schemas.TaskListArgs, location="query")
@volunteer_blp.response(200, page_of(schemas.VolunteerTaskSchema))
@volunteer_blp.alt_response(403, description="Not approved")
def list_open_tasks(args: dict[str, Any]) -> Any:
    """Open tasks I can take (my committees, my skills, not clashing with mine), soonest first — or nearest first
    (`sort=nearest` with my `lat`/`lng`, else from my home estate) — with places left and the waitlist."""
    profile = services.require_approved(current_user())
    stmt = services.open_tasks(profile, utcnow())
    if args["sort"] == "nearest":
        lat, lng = args["lat"], args["lng"]
        if lat is None or lng is None:
            home = db.session.get(Area, profile.home_estate_id) if profile.home_estate_id else None
            if home is None or home.lat is None or home.lng is None:
                raise ApiError("validation_failed", errors={"lat": ["needed to sort by distance"]})
            lat, lng = home.lat, home.lng
        return _with_what_the_page_shows(_nearest_page(stmt, lat, lng, args["limit"], args["cursor"]), profile)
    page = paginate(
        stmt, order_by=(Task.starts_at, Task.id), limit=args["limit"], cursor=args["cursor"], descending=False
    )
    return _with_what_the_page_shows(page, profile)


def _with_what_the_page_shows(page: Page, profile: Profile | None = None) -> Page:
    """Each task shows my sign-up for it, whether it fits my availability and its place's full name: loaded for
    the page here — my profile, my sign-ups in one statement, the places' ancestors in one — not per task by the
    schema (`VolunteerTaskSchema` reads them from `g`, and reads my profile itself when not given)."""
    if profile is not None:
        g.volunteer_profile = profile
    g.volunteer_signups = services.my_signups(current_user(), [task.id for task in page.items])
    load_ancestors(task.area for task in page.items)
    return page


@volunteer_blp.route("/volunteer/tasks/<uuid:task_id>", methods=["GET"])
@login_required()
@volunteer_blp.response(200, schemas.VolunteerTaskSchema)
def get_task(task_id: uuid.UUID) -> Any:
    """A task: the coarse place for everyone; the exact address and door notes for the confirmed, near the time."""
    return services.visible_task(current_user(), task_id)


@volunteer_blp.route("/volunteer/tasks/<uuid:task_id>/signups", methods=["POST"])
@login_required()
@idempotent
@volunteer_blp.response(201, schemas.VolunteerSignupSchema)
@volunteer_blp.alt_response(200, schema=schemas.VolunteerSignupSchema, description="Signed up already: that sign-up")
@volunteer_blp.alt_response(403, description="Not approved, or not my committees or skills (the reasons say)")
@volunteer_blp.alt_response(409, description="Closed, started, full with a full waitlist, or overlapping mine")
def sign_up(task_id: uuid.UUID) -> Any:
    """Sign up: a place while places last, then the waitlist (moved up automatically when a place frees). For an
    alarm I was offered, accepting it: the first to accept go, and see the address."""
    user = current_user()
    ratelimit.enforce("volunteer-signup", str(user.id), limit=SIGNUPS_PER_MINUTE)
    result = roster.sign_up(user, task_id, get_settings())
    return result.signup, (201 if result.created else 200)


@volunteer_blp.route("/volunteer/tasks/<uuid:task_id>/decline", methods=["POST"])
@login_required()
@volunteer_blp.response(200, schemas.VolunteerSignupSchema)
def decline_offer(task_id: uuid.UUID) -> Any:
    """Turn down an alarm I was offered (I cannot go now)."""
    return roster.decline(current_user(), task_id)


@volunteer_blp.route("/volunteer/tasks/<uuid:task_id>/check-in", methods=["POST"])
@login_required()
@volunteer_blp.arguments(schemas.CheckinArgs)
@volunteer_blp.response(200, schemas.VolunteerSignupSchema)
@volunteer_blp.alt_response(409, description="No confirmed place, or checked in already")
@volunteer_blp.alt_response(422, description="Outside the window or the geofence, or a wrong code (nothing recorded)")
@volunteer_blp.alt_response(429, description="Too many code attempts")
def check_in(args: dict[str, Any], task_id: uuid.UUID) -> Any:
    """Check in on site by the task's rule: my location inside the geofence, the owner's code (or QR), or the code
    of the person I serve. A suspicious location is kept for review, not refused."""
    return roster.check_in(current_user(), task_id, args, get_settings())


@volunteer_blp.route("/volunteer/tasks/<uuid:task_id>/check-out", methods=["POST"])
@login_required()
@volunteer_blp.arguments(schemas.CheckinArgs)
@volunteer_blp.response(200, schemas.VolunteerSignupSchema)
@volunteer_blp.alt_response(409, description="Not checked in, or checked out already")
@volunteer_blp.alt_response(422, description="After the window, outside the geofence, or a wrong code")
@volunteer_blp.alt_response(429, description="Too many code attempts")
def check_out(args: dict[str, Any], task_id: uuid.UUID) -> Any:
    """Check out, by the same rule (a forgotten check-out is closed at the planned end, and reviewed)."""
    return roster.check_out(current_user(), task_id, args, get_settings())


@volunteer_blp.route("/me/volunteer/tasks", methods=["GET"])
@login_required()
@volunteer_blp.arguments(CursorArgs, location="query")
@volunteer_blp.response(200, page_of(schemas.VolunteerSignupSchema))
def list_my_tasks(args: dict[str, Any]) -> Any:
    """My sign-ups and offers, newest first."""
    page = paginate(
        services.my_tasks(current_user()), order_by=(Signup.id,), limit=args["limit"], cursor=args["cursor"]
    )
    load_ancestors(signup.task.area for signup in page.items)  # each task's place, named in full
    return page


@volunteer_blp.route("/volunteer/signups/<uuid:signup_id>/leave", methods=["POST"])
@login_required()
@volunteer_blp.arguments(schemas.LeaveArgs)
@volunteer_blp.response(200, schemas.VolunteerSignupSchema)
@volunteer_blp.alt_response(409, description="Not active, or checked in")
@volunteer_blp.alt_response(422, description="After the cancel deadline without a reason")
def leave(args: dict[str, Any], signup_id: uuid.UUID) -> Any:
    """Leave a task; the place goes to the first on the waitlist. After the deadline, say why (it counts)."""
    return roster.leave(current_user(), signup_id, args["reason"], get_settings())


@volunteer_blp.route("/volunteer/signups/<uuid:signup_id>/confirm", methods=["POST"])
@login_required()
@volunteer_blp.response(200, schemas.VolunteerSignupSchema)
def confirm_attendance(signup_id: uuid.UUID) -> Any:
    """Answer the reminder: I will come (an unconfirmed place is released before the start)."""
    return roster.confirm_attendance(current_user(), signup_id)


@volunteer_blp.route("/me/volunteer/hours", methods=["GET"])
@login_required()
@volunteer_blp.arguments(CursorArgs, location="query")
@volunteer_blp.response(200, page_of(schemas.HourEntrySchema))
def list_my_hours(args: dict[str, Any]) -> Any:
    """My service-hours ledger, newest first (corrections are entries of their own)."""
    from api.volunteers.models import HourEntry

    stmt = ledger.my_hour_entries(current_user())
    return paginate(stmt, order_by=(HourEntry.id,), limit=args["limit"], cursor=args["cursor"])


@volunteer_blp.route("/me/volunteer/coins", methods=["GET"])
@login_required()
@volunteer_blp.arguments(CursorArgs, location="query")
@volunteer_blp.response(200, page_of(schemas.CoinEntrySchema))
def list_my_coins(args: dict[str, Any]) -> Any:
    """My time-coin ledger, newest first."""
    from api.volunteers.models import CoinEntry

    stmt = ledger.my_coin_entries(current_user())
    return paginate(stmt, order_by=(CoinEntry.id,), limit=args["limit"], cursor=args["cursor"])


def _transfer(transfer_id: uuid.UUID, centi: int) -> dict[str, Any]:
    account = ledger.account_of(current_user(), create=False)
    return {
        "transfer_id": transfer_id,
        "coins": centi / ledger.CENTI_PER_HOUR,
        "balance": ledger.coin_balance(account.id if account else None) / ledger.CENTI_PER_HOUR,
    }


@volunteer_blp.route("/me/volunteer/coins/gifts", methods=["POST"])
@login_required()
@idempotent
@volunteer_blp.arguments(schemas.GiftArgs)
@volunteer_blp.response(201, schemas.TransferSchema)
@volunteer_blp.alt_response(409, description="More than my balance")
@volunteer_blp.alt_response(422, description="Not my family")
def give_coins(args: dict[str, Any]) -> Any:
    """Give time coins to my household or an elder I look after (never for money)."""
    centi = round(args["coins"] * ledger.CENTI_PER_HOUR)
    return _transfer(ledger.give(current_user(), args["to_user_id"], centi), centi), 201


@volunteer_blp.route("/me/volunteer/coins/donations", methods=["POST"])
@login_required()
@idempotent
@volunteer_blp.arguments(schemas.CoinsArgs)
@volunteer_blp.response(201, schemas.TransferSchema)
@volunteer_blp.alt_response(409, description="More than my balance")
def donate_coins(args: dict[str, Any]) -> Any:
    """Donate time coins to the community pool."""
    centi = round(args["coins"] * ledger.CENTI_PER_HOUR)
    return _transfer(ledger.donate(current_user(), centi), centi), 201


@volunteer_blp.route("/me/volunteer/certificate", methods=["GET"])
@login_required()
@volunteer_blp.arguments(schemas.CertificateArgs, location="query")
@volunteer_blp.doc(
    responses={
        "200": {
            "description": "the certificate",
            "content": {"application/pdf": {"schema": {"type": "string", "format": "binary"}}},
        }
    }
)
@volunteer_blp.alt_response(409, description="No hours to certify")
def my_certificate(args: dict[str, Any]) -> Any:
    """My certificate as a PDF: hours per recording group in the period, with a verification code."""
    since, until = certificates.period_bounds(args["since"], args["until"])
    certificate = certificates.issue(current_user(), since, until)
    url = request.host_url.rstrip("/") + f"/api/v1/volunteer-certificates/{certificate.code}"
    return Response(
        certificates.render(certificate, url),
        mimetype="application/pdf",
        headers={
            "Content-Disposition": f'attachment; filename="volunteer-certificate-{certificate.code}.pdf"',
            "X-Certificate-Code": certificate.code,
        },
    )


@volunteer_blp.route("/volunteer-certificates/<string:code>", methods=["GET"])
@volunteer_blp.response(200, schemas.VerificationSchema)
@volunteer_blp.alt_response(404, description="No certificate has this code")
@volunteer_blp.alt_response(429, description="Too many checks from this address")
def verify_certificate(code: str) -> Any:
    """Anyone may check a certificate by its code (no login): what it says, the name masked."""
    ratelimit.enforce("volunteer-certificate", request.remote_addr or "?", limit=VERIFICATIONS_PER_MINUTE)
    return certificates.verify(code)


@volunteer_blp.route("/volunteer/leaderboards", methods=["GET"])
@login_required()
@volunteer_blp.arguments(schemas.LeaderboardArgs, location="query")
@volunteer_blp.response(200, schemas.LeaderboardSchema)
def leaderboard(args: dict[str, Any]) -> Any:
    """The most hours in a group or a committee (names masked; whoever opted out is not listed)."""
    user = current_user()
    path = None
    if args["committee_id"] is not None:
        area = db.session.get(Area, args["committee_id"])
        if area is None:
            raise ApiError("validation_failed", errors={"committee_id": ["no such committee"]})
        path = area.path
    elif db.session.get(Group, args["group_id"]) is None:
        raise ApiError("validation_failed", errors={"group_id": ["no such group"]})
    rows = ledger.leaderboard(group_id=args["group_id"], committee_path=path, since=args["since"])
    return {
        "items": [
            {
                "rank": rank,
                "name": certificates.mask_name(profile.real_name),
                "hours": round(minutes / 60, 2),
                "stars": ledger.stars(minutes),
                "me": profile.user_id == user.id,
            }
            for rank, (profile, minutes) in enumerate(rows, start=1)
        ]
    }


# ------------------------------------------------------------------------------------------------
# Staff: skills and profiles
# ------------------------------------------------------------------------------------------------


@staff_route(admin_blp, "/volunteer-skills", methods=["POST"])
@admin_blp.arguments(schemas.SkillCreateArgs)
@admin_blp.response(201, schemas.VolunteerSkillSchema)
def admin_create_skill(args: dict[str, Any]) -> Any:
    """Add a skill to the list (the whole subdistrict's staff and admins)."""
    return services.create_skill(current_user(), args["code"], args["name"])


@staff_route(admin_blp, "/volunteer-skills/<uuid:skill_id>", methods=["PATCH"])
@admin_blp.arguments(schemas.SkillPatchArgs)
@admin_blp.response(200, schemas.VolunteerSkillSchema)
def admin_update_skill(args: dict[str, Any], skill_id: uuid.UUID) -> Any:
    """Rename or retire a skill (retired: kept where it was chosen, offered no more)."""
    return services.update_skill(current_user(), skill_id, args)


@staff_route(admin_blp, "/volunteer-profiles", methods=["GET"])
@admin_blp.arguments(schemas.ProfileListArgs, location="query")
@admin_blp.response(200, page_of(schemas.StaffProfileSchema))
def admin_list_profiles(args: dict[str, Any]) -> Any:
    """Volunteers who applied through my area, with their reliability, newest first."""
    stmt = services.staff_profiles(current_user(), args["status"])
    return paginate(stmt, order_by=(Profile.id,), limit=args["limit"], cursor=args["cursor"])


@staff_route(admin_blp, "/volunteer-profiles/<uuid:profile_id>", methods=["GET"])
@admin_blp.response(200, schemas.StaffProfileSchema)
def admin_get_profile(profile_id: uuid.UUID) -> Any:
    """One volunteer: profile and reliability."""
    return services.staff_profile(current_user(), profile_id)


@staff_route(admin_blp, "/volunteer-profiles/<uuid:profile_id>/approve", methods=["POST"])
@admin_blp.response(200, schemas.StaffProfileSchema)
@admin_blp.alt_response(409, description="Rejected already")
def admin_approve_profile(profile_id: uuid.UUID) -> Any:
    """Approve a volunteer: they may take tasks (and are told)."""
    return services.decide_profile(current_user(), profile_id, approve=True)


@staff_route(admin_blp, "/volunteer-profiles/<uuid:profile_id>/reject", methods=["POST"])
@admin_blp.arguments(schemas.VolunteerRejectArgs)
@admin_blp.response(200, schemas.StaffProfileSchema)
@admin_blp.alt_response(409, description="Decided already")
def admin_reject_profile(args: dict[str, Any], profile_id: uuid.UUID) -> Any:
    """Reject an application, saying why."""
    return services.decide_profile(current_user(), profile_id, approve=False, reason=args["reason"])


# ------------------------------------------------------------------------------------------------
# Groups (staff; leaders for their own)
# ------------------------------------------------------------------------------------------------


@staff_route(admin_blp, "/volunteer-groups", methods=["GET"], roles=LEADERS)
@admin_blp.arguments(CursorArgs, location="query")
@admin_blp.response(200, page_of(schemas.VolunteerGroupSchema))
def admin_list_groups(args: dict[str, Any]) -> Any:
    """Groups of my area (a leader: the groups I lead), newest first."""
    stmt = services.managed_groups(current_user())
    return paginate(stmt, order_by=(Group.id,), limit=args["limit"], cursor=args["cursor"])


@staff_route(admin_blp, "/volunteer-groups", methods=["POST"])
@admin_blp.arguments(schemas.GroupArgs)
@admin_blp.response(201, schemas.VolunteerGroupSchema)
def admin_create_group(args: dict[str, Any]) -> Any:
    """A new group of a committee (or of the subdistrict)."""
    return services.create_group(current_user(), args)


@staff_route(admin_blp, "/volunteer-groups/<uuid:group_id>", methods=["GET"], roles=LEADERS)
@admin_blp.response(200, schemas.VolunteerGroupSchema)
def admin_get_group(group_id: uuid.UUID) -> Any:
    """One group with its members."""
    return services.managed_group(current_user(), group_id)


@staff_route(admin_blp, "/volunteer-groups/<uuid:group_id>", methods=["PATCH"], roles=LEADERS)
@admin_blp.arguments(schemas.GroupPatchArgs)
@admin_blp.response(200, schemas.VolunteerGroupSchema)
def admin_update_group(args: dict[str, Any], group_id: uuid.UUID) -> Any:
    """Rename or describe a group (archiving it is for staff)."""
    return services.update_group(current_user(), group_id, args)


@staff_route(admin_blp, "/volunteer-groups/<uuid:group_id>/members", methods=["POST"], roles=LEADERS)
@admin_blp.arguments(schemas.MemberArgs)
@admin_blp.response(201, schemas.VolunteerGroupMemberSchema)
def admin_add_member(args: dict[str, Any], group_id: uuid.UUID) -> Any:
    """Add an approved volunteer to the group (staff also make leaders)."""
    return services.add_member(current_user(), group_id, args["profile_id"], args["role"])


@staff_route(
    admin_blp, "/volunteer-groups/<uuid:group_id>/members/<uuid:profile_id>", methods=["DELETE"], roles=LEADERS
)
@admin_blp.response(204)
def admin_remove_member(group_id: uuid.UUID, profile_id: uuid.UUID) -> Any:
    """Take a member out of the group (a leader: staff only)."""
    services.remove_member(current_user(), group_id, profile_id)
    return None


# ------------------------------------------------------------------------------------------------
# Tasks and rosters (staff; leaders for their groups')
# ------------------------------------------------------------------------------------------------


@staff_route(admin_blp, "/volunteer-tasks", methods=["GET"], roles=LEADERS)
@admin_blp.arguments(schemas.ManagedTaskListArgs, location="query")
@admin_blp.response(200, page_of(schemas.ManagedTaskSchema))
def admin_list_tasks(args: dict[str, Any]) -> Any:
    """Tasks of my area (a leader: my groups'), newest first."""
    stmt = services.managed_tasks(current_user(), args["status"], args["starts_from"])
    return _with_what_the_page_shows(paginate(stmt, order_by=(Task.id,), limit=args["limit"], cursor=args["cursor"]))


@staff_route(admin_blp, "/volunteer-tasks", methods=["POST"], roles=LEADERS)
@admin_blp.arguments(schemas.TaskCreateArgs)
@admin_blp.response(201, schemas.ManagedTaskSchema)
def admin_create_task(args: dict[str, Any]) -> Any:
    """A new task (a leader: for a group I lead), open for sign-ups at once."""
    return services.create_task(current_user(), args, get_settings())


@staff_route(admin_blp, "/volunteer-tasks/<uuid:task_id>", methods=["GET"], roles=LEADERS)
@admin_blp.response(200, schemas.ManagedTaskSchema)
def admin_get_task(task_id: uuid.UUID) -> Any:
    """One task, with the check-in code to show on site."""
    return services.managed_task(current_user(), task_id)


@staff_route(admin_blp, "/volunteer-tasks/<uuid:task_id>", methods=["PATCH"], roles=LEADERS)
@admin_blp.arguments(schemas.TaskPatchArgs)
@admin_blp.response(200, schemas.ManagedTaskSchema)
@admin_blp.alt_response(409, description="Not open")
def admin_update_task(args: dict[str, Any], task_id: uuid.UUID) -> Any:
    """Edit an open task; more places fill from the waitlist at once."""
    return services.update_task(current_user(), task_id, args, get_settings())


@staff_route(admin_blp, "/volunteer-tasks/<uuid:task_id>/cancel", methods=["POST"], roles=LEADERS)
@admin_blp.arguments(schemas.CancelTaskArgs)
@admin_blp.response(200, schemas.ManagedTaskSchema)
@admin_blp.alt_response(409, description="Closed already")
def admin_cancel_task(args: dict[str, Any], task_id: uuid.UUID) -> Any:
    """Cancel a task: everyone on it is told why."""
    return roster.cancel_task(current_user(), task_id, args["reason"])


@staff_route(admin_blp, "/volunteer-tasks/<uuid:task_id>/roster", methods=["GET"], roles=LEADERS)
@admin_blp.arguments(CursorArgs, location="query")
@admin_blp.response(200, page_of(schemas.RosterEntrySchema))
def admin_roster(args: dict[str, Any], task_id: uuid.UUID) -> Any:
    """Everyone on the task in sign-up order, with check-ins, flags and each one's reliability."""
    stmt = roster.roster(current_user(), task_id)
    page = paginate(stmt, order_by=(Signup.id,), limit=args["limit"], cursor=args["cursor"], descending=False)
    # Each entry shows the volunteer's name and reliability: the page's in one statement each, not per entry.
    people = [signup.user_id for signup in page.items if signup.user_id is not None]
    g.roster_names = services.real_names(people)
    g.roster_reliability = roster.reliability(people)
    return page


@staff_route(admin_blp, "/volunteer-tasks/<uuid:task_id>/roster/close", methods=["POST"], roles=LEADERS)
@admin_blp.arguments(schemas.CloseRosterArgs)
@admin_blp.response(200, schemas.ManagedTaskSchema)
@admin_blp.alt_response(409, description="Before the start, or closed already")
def admin_close_roster(args: dict[str, Any], task_id: uuid.UUID) -> Any:
    """Close the roster in one step: attended or no-show for everyone (checked in: attended, unless named), the
    waitlist released; checked hours to the ledgers, the rest to someone else's approval."""
    return roster.close_roster(current_user(), task_id, args["attended"], args["no_show"], get_settings())


@staff_route(admin_blp, "/volunteer-tasks/<uuid:task_id>/signups", methods=["POST"], roles=LEADERS)
@admin_blp.arguments(schemas.AddSignupArgs)
@admin_blp.response(201, schemas.RosterEntrySchema)
@admin_blp.alt_response(409, description="Full, not open, or an overlap not overridden")
def admin_add_signup(args: dict[str, Any], task_id: uuid.UUID) -> Any:
    """Put a volunteer on the task by hand (into a free place; past an overlap only with `override_overlap`)."""
    return roster.add_by_owner(current_user(), task_id, args["profile_id"], args["override_overlap"], get_settings())


@staff_route(
    admin_blp, "/volunteer-tasks/<uuid:task_id>/signups/<uuid:signup_id>/promote", methods=["POST"], roles=LEADERS
)
@admin_blp.arguments(schemas.PromoteArgs)
@admin_blp.response(200, schemas.RosterEntrySchema)
@admin_blp.alt_response(409, description="Not waitlisted, full, or an overlap not overridden")
def admin_promote(args: dict[str, Any], task_id: uuid.UUID, signup_id: uuid.UUID) -> Any:
    """Move someone up from the waitlist by hand (after automatic promotion stopped)."""
    return roster.promote_by_hand(current_user(), task_id, signup_id, args["override_overlap"], get_settings())


# ------------------------------------------------------------------------------------------------
# Hours (staff; leaders for their groups')
# ------------------------------------------------------------------------------------------------


@staff_route(admin_blp, "/volunteer-hours", methods=["GET"], roles=LEADERS)
@admin_blp.arguments(schemas.ClaimListArgs, location="query")
@admin_blp.response(200, page_of(schemas.VolunteerHoursClaimSchema))
def admin_list_claims(args: dict[str, Any]) -> Any:
    """Hours waiting for approval (or decided: `status`), newest first."""
    stmt = ledger.managed_claims(current_user(), args["status"])
    return paginate(stmt, order_by=(HourClaim.id,), limit=args["limit"], cursor=args["cursor"])


@staff_route(admin_blp, "/volunteer-hours", methods=["POST"], roles=LEADERS)
@idempotent
@admin_blp.arguments(schemas.ClaimArgs)
@admin_blp.response(201, schemas.VolunteerHoursClaimSchema)
@admin_blp.alt_response(422, description="Above the task's planned duration")
def admin_enter_hours(args: dict[str, Any]) -> Any:
    """Enter hours by hand (a volunteer without a phone, work done off-app): pending until someone else approves."""
    return ledger.enter_hours(current_user(), args["task_id"], args["profile_id"], args["minutes"], args["note"])


@staff_route(admin_blp, "/volunteer-hours/<uuid:claim_id>/approve", methods=["POST"], roles=LEADERS)
@admin_blp.response(200, schemas.VolunteerHoursClaimSchema)
@admin_blp.alt_response(409, description="Decided already")
def admin_approve_hours(claim_id: uuid.UUID) -> Any:
    """Approve hours into the ledgers — never hours I entered, nor my own (403)."""
    return ledger.decide_claim(current_user(), claim_id, approve=True)


@staff_route(admin_blp, "/volunteer-hours/<uuid:claim_id>/reject", methods=["POST"], roles=LEADERS)
@admin_blp.arguments(schemas.VolunteerRejectArgs)
@admin_blp.response(200, schemas.VolunteerHoursClaimSchema)
@admin_blp.alt_response(409, description="Decided already")
def admin_reject_hours(args: dict[str, Any], claim_id: uuid.UUID) -> Any:
    """Reject hours, saying why."""
    return ledger.decide_claim(current_user(), claim_id, approve=False, reason=args["reason"])


@staff_route(admin_blp, "/volunteer-hour-entries/<uuid:hour_entry_id>/reverse", methods=["POST"], roles=LEADERS)
@admin_blp.arguments(schemas.ReverseArgs)
@admin_blp.response(201, schemas.ReversalSchema)
@admin_blp.alt_response(409, description="A reversal, or reversed already")
def admin_reverse_hours(args: dict[str, Any], hour_entry_id: uuid.UUID) -> Any:
    """Correct the hours ledger with a reversing entry (the coins the hours earned are reversed with them)."""
    return ledger.reverse_hours(current_user(), hour_entry_id, args["reason"]), 201


@staff_route(admin_blp, "/time-coin-entries/<uuid:coin_entry_id>/reverse", methods=["POST"], roles=LEADERS)
@admin_blp.arguments(schemas.ReverseArgs)
@admin_blp.response(201, schemas.ReversalSchema)
@admin_blp.alt_response(409, description="A reversal, reversed already, or a gift (not staff's to undo)")
def admin_reverse_coins(args: dict[str, Any], coin_entry_id: uuid.UUID) -> Any:
    """Correct the time-coin ledger with a reversing entry."""
    return ledger.reverse_coins(current_user(), coin_entry_id, args["reason"]), 201


blueprints = [volunteer_blp, admin_blp]
