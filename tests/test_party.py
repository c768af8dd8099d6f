"""Party affairs as the people who use it see them: the subdistrict's 党工委 over the 党总支 of 控江一村 with its
first and second branches, and a branch of 控江二村; a branch secretary who acts only in their branch, the
总支 above who covers both, members who see their own record and their branch's names, 三会一课 with leave and
QR sign-in, minutes approved from above and then locked, study, points, dues and transfers."""

from __future__ import annotations

import csv
import io
import uuid
from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
from typing import Any

import pytest
from PIL import Image
from sqlalchemy import func, select

from api.accounts.models import AccessLog, Role, User
from api.db import db, utcnow
from api.fields import LOCAL_TZ
from api.notifications.models import Notification
from api.party import dues, meetings, registrations, signals, study, transfers
from api.party.calendar import Quarter, add_months, current_month, month_label
from api.party.dues import DEFAULT_RULES, standard_of
from api.party.models import (
    AttendanceStatus,
    DuesMonth,
    IncomeKind,
    PartyAttendance,
    PartyMeeting,
    PartyMember,
    PartyMemberLog,
    PartyTransfer,
    PointEntry,
    StudySession,
)
from api.payments.models import OrderStatus, PaymentOrder
from tests.conftest import bearer, wechat_login

ADMIN_PARTY = "/api/v1/admin/party"
PARTY = "/api/v1/party"


def ok(response: Any, status: int = 200) -> Any:
    assert response.status_code == status, response.get_json()
    return response.get_json()


def refused(response: Any, status: int, code: str) -> dict[str, Any]:
    body = response.get_json()
    assert (response.status_code, body["code"]) == (status, code), body
    return body


def jpeg() -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", (32, 24), (200, 30, 30)).save(buffer, "JPEG")
    return buffer.getvalue()


def photo(client: Any, headers: dict[str, str]) -> str:
    uploaded = client.post(
        "/api/v1/media",
        data={"file": (io.BytesIO(jpeg()), "p.jpg", "image/jpeg")},
        headers=headers,
        content_type="multipart/form-data",
    )
    return ok(uploaded, 201)["id"]


class Party:
    """The tree, and the people made in it: `people[name]` = {"member", "headers", "user_id"}."""

    def __init__(self, client: Any, world: Any, admin: dict[str, Any]) -> None:
        self.client = client
        self.world = world
        self.admin = admin["headers"]
        self.orgs: dict[str, str] = {}
        self.people: dict[str, dict[str, Any]] = {}
        self._logins = 0

    def org(self, code: str, name: str, kind: str, parent: str | None, area: str) -> str:
        body = {"code": code, "name": name, "kind": kind, "area_id": str(self.world.areas[area].id)}
        if parent:
            body["parent_id"] = self.orgs[parent]
        self.orgs[code] = ok(self.client.post(f"{ADMIN_PARTY}/orgs", json=body, headers=self.admin), 201)["id"]
        return self.orgs[code]

    def join(
        self, name: str, branch: str, *, account: bool = True, group: str | None = None, **extra: Any
    ) -> dict[str, Any]:
        """Staff put a member on a branch's roll, linked to a fresh resident account (unless `account=False`)."""
        self._logins += 1
        person: dict[str, Any] = {}
        body: dict[str, Any] = {
            "name": name,
            "category": "full",
            "joined_on": "1990-07-01",
            "full_on": "1991-07-01",
            "branch_id": self.orgs[branch],
            **extra,
        }
        if group:
            body["group_id"] = self.orgs[group]
        if account:
            tokens = wechat_login(self.client, f"party{self._logins}-{uuid.uuid4().hex[:6]}#1")
            person = {"headers": bearer(tokens["access_token"]), "user_id": uuid.UUID(tokens["user"]["id"])}
            body["user_id"] = tokens["user"]["id"]
        person["member"] = ok(self.client.post(f"{ADMIN_PARTY}/members", json=body, headers=self.admin), 201)
        self.people[name] = person
        return person

    def appoint(self, name: str, org: str, post: str) -> None:
        body = {"member_id": self.people[name]["member"]["id"], "post": post}
        ok(self.client.post(f"{ADMIN_PARTY}/orgs/{self.orgs[org]}/officers", json=body, headers=self.admin), 201)

    def h(self, name: str) -> dict[str, str]:
        return self.people[name]["headers"]

    def mid(self, name: str) -> str:
        return self.people[name]["member"]["id"]

    def declare(self, name: str, kind: str, base_fen: int | None) -> dict[str, Any]:
        url = f"{ADMIN_PARTY}/members/{self.mid(name)}/dues/declarations"
        return ok(self.client.post(url, json={"income_kind": kind, "base_fen": base_fen}, headers=self.admin), 201)


@pytest.fixture
def party(client: Any, world: Any, admin: dict[str, Any]) -> Party:
    p = Party(client, world, admin)
    p.org("KJDGW", "控江路街道党工委", "committee", None, "KJ")
    p.org("KJ01ZZ", "控江一村居民区党总支", "general_branch", "KJDGW", "KJ01")
    p.org("KJ01ZB1", "控江一村第一党支部", "branch", "KJ01ZZ", "KJ01")
    p.org("KJ01ZB2", "控江一村第二党支部", "branch", "KJ01ZZ", "KJ01")
    p.org("KJ01ZB1X1", "第一党支部第一党小组", "group", "KJ01ZB1", "KJ01")
    p.org("KJ02ZB1", "控江二村党支部", "branch", "KJDGW", "KJ02")
    p.join("张书记", "KJ01ZB1")
    p.appoint("张书记", "KJ01ZB1", "secretary")
    p.join("王总支", "KJ01ZB2")
    p.appoint("王总支", "KJ01ZZ", "secretary")
    p.join("李党员", "KJ01ZB1", group="KJ01ZB1X1")
    p.join("赵党员", "KJ01ZB2")
    p.join("孙党员", "KJ02ZB1")
    return p


def meeting_body(
    party: Party, branch: str = "KJ01ZB1", *, starts_in: timedelta = timedelta(minutes=10), **extra: Any
) -> dict[str, Any]:
    starts = utcnow() + starts_in
    return {
        "org_id": party.orgs[branch],
        "kind": "branch_assembly",
        "topic": "学习贯彻党的二十大精神",
        "place": "睦邻中心二楼",
        "starts_at": starts.isoformat(),
        "ends_at": (starts + timedelta(hours=2)).isoformat(),
        "presenter_name": "张书记",
        "recorder_name": "李党员",
        **extra,
    }


def code_of(client: Any, headers: dict[str, str], meeting_id: str) -> str:
    return ok(client.get(f"{ADMIN_PARTY}/meetings/{meeting_id}/sign-in-code", headers=headers))["code"]


def user_of(party: Party, name: str) -> User:
    user = db.session.get(User, party.people[name]["user_id"])
    assert user is not None
    return user


# ----------------------------------------------------------------------------------------------------
# Organisations, members and who sees what
# ----------------------------------------------------------------------------------------------------


def test_a_branch_secretary_acts_only_in_their_branch_and_the_level_above_covers_both_branches(client, party):
    secretary, above = party.h("张书记"), party.h("王总支")
    names = {m["name"] for m in ok(client.get(f"{ADMIN_PARTY}/members", headers=secretary))["items"]}
    assert names == {"张书记", "李党员"}
    names = {m["name"] for m in ok(client.get(f"{ADMIN_PARTY}/members", headers=above))["items"]}
    assert names == {"张书记", "李党员", "王总支", "赵党员"}

    # Another branch's member reads as absent; the level above is out of reach: nobody edits a superior's data.
    refused(client.get(f"{ADMIN_PARTY}/members/{party.mid('赵党员')}", headers=secretary), 404, "not_found")
    scheduled = client.post(
        f"{ADMIN_PARTY}/meetings", json=meeting_body(party, "KJ01ZZ", kind="party_lecture"), headers=secretary
    )
    assert refused(scheduled, 422, "validation_failed")["errors"] == {
        "org_id": ["no such party organisation in your reach"]
    }
    appointing = client.post(
        f"{ADMIN_PARTY}/orgs/{party.orgs['KJ01ZB1']}/officers",
        json={"member_id": party.mid("李党员"), "post": "deputy_secretary"},
        headers=secretary,
    )
    refused(appointing, 403, "party_level_above_only")
    # Acting on another branch's meeting: as absent as reading it.
    theirs = ok(client.post(f"{ADMIN_PARTY}/meetings", json=meeting_body(party, "KJ01ZB2"), headers=above), 201)
    cancelling = client.post(f"{ADMIN_PARTY}/meetings/{theirs['id']}/cancel", json={"reason": "x"}, headers=secretary)
    refused(cancelling, 404, "not_found")
    assert ok(client.get(f"{ADMIN_PARTY}/meetings/{theirs['id']}", headers=above))["status"] == "scheduled"
    # The level above appoints in its branches.
    ok(
        client.post(
            f"{ADMIN_PARTY}/orgs/{party.orgs['KJ01ZB1']}/officers",
            json={"member_id": party.mid("李党员"), "post": "deputy_secretary"},
            headers=above,
        ),
        201,
    )


def test_membership_is_linked_by_staff_never_self_declared(client, party, world):
    tokens = wechat_login(client, "jiang#1")
    headers = bearer(tokens["access_token"])
    refused(client.get(f"{PARTY}/me", headers=headers), 403, "not_a_party_member")
    before = db.session.scalar(select(func.count()).select_from(PartyMember))
    myself = {
        "name": "蒋某",
        "user_id": tokens["user"]["id"],
        "category": "full",
        "joined_on": "2000-07-01",
        "branch_id": party.orgs["KJ01ZB1"],
    }
    refused(client.post(f"{ADMIN_PARTY}/members", json=myself, headers=headers), 403, "forbidden")
    # An officer cannot link accounts either: that is street staff's.
    refused(client.post(f"{ADMIN_PARTY}/members", json=myself, headers=party.h("张书记")), 403, "forbidden")
    assert db.session.scalar(select(func.count()).select_from(PartyMember)) == before
    assert db.session.get(User, uuid.UUID(tokens["user"]["id"])).is_party_member is False

    party.join("蒋党员", "KJ01ZB1")
    mine = ok(client.get(f"{PARTY}/me", headers=party.h("蒋党员")))
    assert (mine["name"], mine["branch"]["name"], mine["status"]) == ("蒋党员", "控江一村第一党支部", "active")
    db.session.expire_all()
    assert user_of(party, "蒋党员").is_party_member is True
    # An account is linked to one current record: a second is refused.
    again = client.post(
        f"{ADMIN_PARTY}/members",
        json={
            "name": "蒋党员",
            "user_id": str(party.people["蒋党员"]["user_id"]),
            "category": "full",
            "joined_on": "2000-07-01",
            "branch_id": party.orgs["KJ01ZB2"],
        },
        headers=party.admin,
    )
    refused(again, 409, "party_member_linked")


def test_a_member_sees_their_own_record_in_full_and_in_their_branch_only_names_and_posts(client, party):
    mine = ok(client.get(f"{PARTY}/me", headers=party.h("李党员")))
    assert mine["group"]["name"] == "第一党支部第一党小组" and mine["joined_on"] == "1990-07-01"
    roll = ok(client.get(f"{PARTY}/me/branch/members", headers=party.h("李党员")))["items"]
    assert all(set(entry) == {"name", "posts"} for entry in roll)
    assert {e["name"]: [p["post_name"] for p in e["posts"]] for e in roll} == {"张书记": ["书记"], "李党员": []}
    # A member of branch A never sees branch B's roster: there is no way to name another branch.
    theirs = ok(client.get(f"{PARTY}/me/branch/members", headers=party.h("赵党员")))["items"]
    assert {e["name"] for e in theirs} == {"王总支", "赵党员"}
    refused(client.get(f"{ADMIN_PARTY}/members", headers=party.h("李党员")), 403, "forbidden")


def test_leavers_stay_on_the_roll_as_history_and_lose_what_membership_gave(client, party, kj01_staff):
    url = f"{ADMIN_PARTY}/members/{party.mid('张书记')}/status"
    left = ok(client.post(url, json={"status": "left", "reason": "本人申请退党"}, headers=kj01_staff["headers"]))
    assert (left["status"], left["status_reason"], left["posts"]) == ("left", "本人申请退党", [])
    listed = ok(client.get(f"{ADMIN_PARTY}/members", query_string={"status": "left"}, headers=kj01_staff["headers"]))
    assert [m["name"] for m in listed["items"]] == ["张书记"]
    db.session.expire_all()
    person = user_of(party, "张书记")
    assert person.is_party_member is False and not person.has_role(Role.PARTY_OFFICER)
    # The former secretary acts for the branch no more.
    refused(client.get(f"{ADMIN_PARTY}/members", headers=party.h("张书记")), 403, "forbidden")
    detail = ok(client.get(f"{ADMIN_PARTY}/members/{party.mid('张书记')}", headers=kj01_staff["headers"]))
    assert [h["kind"] for h in detail["history"]][:2] == ["post_ended", "status"]
    refused(
        client.post(url, json={"status": "transferred_out", "reason": "x"}, headers=kj01_staff["headers"]),
        409,
        "party_member_not_current",
    )


def test_every_staff_read_of_a_member_is_in_the_access_log_and_the_member_sees_it(
    client, party, kj01_staff, kj02_staff
):
    ok(client.get(f"{ADMIN_PARTY}/members/{party.mid('李党员')}", headers=kj01_staff["headers"]))
    ok(client.get(f"{ADMIN_PARTY}/members", headers=party.h("张书记")))
    refused(client.get(f"{ADMIN_PARTY}/members/{party.mid('李党员')}", headers=kj02_staff["headers"]), 404, "not_found")
    rows = db.session.scalars(
        select(AccessLog).where(
            AccessLog.subject_kind == "party_member", AccessLog.subject_id == uuid.UUID(party.mid("李党员"))
        )
    ).all()
    assert sorted(r.route for r in rows) == [
        "GET /api/v1/admin/party/members",
        "GET /api/v1/admin/party/members/<uuid:member_id>",
    ]
    assert {r.staff_id for r in rows} == {
        party.people["张书记"]["user_id"],
        db.session.scalar(select(User.id).where(User.username == "kj01-staff")),
    }
    seen = ok(client.get("/api/v1/me/access-log", headers=party.h("李党员")))["items"]
    assert len([e for e in seen if e["subject_kind"] == "party_member"]) == 2


# ----------------------------------------------------------------------------------------------------
# Meetings
# ----------------------------------------------------------------------------------------------------


def test_a_meeting_roster_leave_sign_in_and_one_status_per_member(app, client, party, settings):
    party.join("钱党员", "KJ01ZB1")
    party.join("冯党员", "KJ01ZB1", account=False)
    ok(
        client.post(
            f"{ADMIN_PARTY}/members/{party.mid('钱党员')}/status",
            json={"status": "suspended", "reason": "停止党籍"},
            headers=party.admin,
        )
    )
    secretary = party.h("张书记")
    meeting = ok(client.post(f"{ADMIN_PARTY}/meetings", json=meeting_body(party), headers=secretary), 201)
    # The branch secretary reaches no other branch's members; the 总支 above invites one.
    invite = {"member_ids": [party.mid("赵党员")]}
    refused(
        client.post(f"{ADMIN_PARTY}/meetings/{meeting['id']}/invitees", json=invite, headers=secretary),
        422,
        "validation_failed",
    )
    ok(client.post(f"{ADMIN_PARTY}/meetings/{meeting['id']}/invitees", json=invite, headers=party.h("王总支")))
    roster = ok(client.get(f"{ADMIN_PARTY}/meetings/{meeting['id']}/attendance", headers=secretary))["items"]
    # Members in good standing now (the suspended one is not), plus the invitee from the second branch.
    assert sorted(r["name"] for r in roster) == ["冯党员", "张书记", "李党员", "赵党员"]
    told = db.session.scalars(select(Notification.user_id).where(Notification.kind == "party_meeting_scheduled")).all()
    assert set(told) == {party.people[n]["user_id"] for n in ("张书记", "李党员", "赵党员")}

    # 李 asks for leave; the organiser approves; then he comes after all: signing in clears it.
    ok(client.post(f"{PARTY}/meetings/{meeting['id']}/leave", json={"reason": "去医院复查"}, headers=party.h("李党员")))
    decided = ok(
        client.post(
            f"{ADMIN_PARTY}/meetings/{meeting['id']}/leave-decisions",
            json={"member_id": party.mid("李党员"), "approve": True},
            headers=secretary,
        )
    )
    assert (decided["status"], decided["leave_state"]) == ("leave", "approved")
    code = code_of(client, secretary, meeting["id"])
    signed = ok(client.post(f"{PARTY}/meeting-sign-ins", json={"code": code}, headers=party.h("李党员")))
    assert signed["status"] == "present" and signed["points"]["points"] == 2
    again = ok(client.post(f"{PARTY}/meeting-sign-ins", json={"code": code}, headers=party.h("李党员")))
    assert again["signed_in_at"] == signed["signed_in_at"] and again["points"] is None
    mine = ok(client.get(f"{PARTY}/meetings/{meeting['id']}", headers=party.h("李党员")))
    assert (mine["status"], mine["leave_state"], mine["ticket"]) == ("present", "cleared", None)

    # The invitee shows the code on their phone; the organiser scans it. A member without a phone: by hand.
    ticket = ok(client.get(f"{PARTY}/meetings/{meeting['id']}", headers=party.h("赵党员")))["ticket"]
    scanned = ok(
        client.post(f"{ADMIN_PARTY}/meetings/{meeting['id']}/sign-ins", json={"ticket": ticket}, headers=secretary)
    )
    assert scanned["attendance"]["signed_in_via"] == "ticket"
    by_hand = client.post(
        f"{ADMIN_PARTY}/meetings/{meeting['id']}/sign-ins", json={"member_id": party.mid("冯党员")}, headers=secretary
    )
    assert ok(by_hand)["attendance"]["signed_in_via"] == "organiser"

    # Not on the roster, and too early for another meeting: 422, nothing changes.
    refused(
        client.post(f"{PARTY}/meeting-sign-ins", json={"code": code}, headers=party.h("孙党员")),
        422,
        "party_not_on_roster",
    )
    later = ok(
        client.post(
            f"{ADMIN_PARTY}/meetings", json=meeting_body(party, starts_in=timedelta(hours=2)), headers=secretary
        ),
        201,
    )
    early = client.post(
        f"{PARTY}/meeting-sign-ins", json={"code": code_of(client, secretary, later["id"])}, headers=party.h("李党员")
    )
    refused(early, 422, "party_sign_in_window")
    refused(
        client.post(f"{PARTY}/meeting-sign-ins", json={"code": ticket}, headers=party.h("李党员")),
        422,
        "ticket_invalid",
    )
    late_leave = client.post(f"{PARTY}/meetings/{meeting['id']}/leave", json={"reason": "x"}, headers=party.h("张书记"))
    assert late_leave.status_code == 200  # before the start, leave may still be asked for

    # The window closes: whoever is still expected is absent.
    with app.app_context():
        starts = db.session.get(PartyMeeting, uuid.UUID(meeting["id"])).starts_at
        assert meetings.close_meetings(settings, now=starts + timedelta(minutes=21)) == 1
        db.session.commit()
    statuses = {
        r["name"]: r["status"]
        for r in ok(client.get(f"{ADMIN_PARTY}/meetings/{meeting['id']}/attendance", headers=secretary))["items"]
    }
    assert statuses == {"张书记": "absent", "李党员": "present", "赵党员": "present", "冯党员": "present"}


def test_minutes_are_approved_by_the_level_above_then_locked_and_a_rejection_comes_back_with_a_reason(client, party):
    secretary, above = party.h("张书记"), party.h("王总支")
    meeting = ok(client.post(f"{ADMIN_PARTY}/meetings", json=meeting_body(party), headers=secretary), 201)
    url = f"{ADMIN_PARTY}/meetings/{meeting['id']}/minutes"
    assert ok(client.get(url, headers=secretary))["allowed_actions"] == ["edit", "submit"]
    ok(client.put(url, json={"content": "会议学习了……\n讨论了……", "decisions": "一、……"}, headers=secretary))
    ok(client.post(f"{url}/transitions", json={"action": "submit"}, headers=secretary))
    refused(
        client.post(f"{url}/transitions", json={"action": "approve"}, headers=secretary), 403, "party_level_above_only"
    )
    refused(client.put(url, json={"content": "改"}, headers=secretary), 409, "party_transition_not_allowed")
    refused(client.post(f"{url}/transitions", json={"action": "reject"}, headers=above), 422, "validation_failed")
    rejected = ok(client.post(f"{url}/transitions", json={"action": "reject", "reason": "缺少表决结果"}, headers=above))
    assert (rejected["status"], rejected["reject_reason"]) == ("rejected", "缺少表决结果")
    assert db.session.scalar(select(Notification.title).where(Notification.kind == "party_minutes_decided")) == (
        "会议记录被退回：学习贯彻党的二十大精神"
    )
    ok(client.put(url, json={"content": "会议学习了……\n表决：全票通过", "decisions": "一、……"}, headers=secretary))
    ok(client.post(f"{url}/transitions", json={"action": "submit"}, headers=secretary))
    approved = ok(client.post(f"{url}/transitions", json={"action": "approve"}, headers=above))
    assert (approved["status"], approved["allowed_actions"]) == ("approved", [])

    locked = refused(client.put(url, json={"content": "事后修改"}, headers=secretary), 409, "party_minutes_locked")
    assert locked["errors"] == {"action": []}
    refused(client.put(url, json={"content": "事后修改"}, headers=above), 409, "party_minutes_locked")
    assert ok(client.get(url, headers=secretary))["content"] == "会议学习了……\n表决：全票通过"


def test_the_quarters_figures_count_meetings_due_and_held_and_attendance(app, client, party, settings):
    secretary = party.h("张书记")
    for kind, offset in (("branch_assembly", 1), ("branch_committee", 2), ("party_lecture", 3), ("theme_day", 4)):
        body = meeting_body(party, kind=kind, topic=f"{kind}会议", starts_in=-timedelta(minutes=offset))
        ok(client.post(f"{ADMIN_PARTY}/meetings", json=body, headers=secretary), 201)
    group_meeting = meeting_body(party, "KJ01ZB1X1", kind="group_meeting", starts_in=-timedelta(minutes=5))
    ok(client.post(f"{ADMIN_PARTY}/meetings", json=group_meeting, headers=secretary), 201)
    cancelled = ok(
        client.post(
            f"{ADMIN_PARTY}/meetings", json=meeting_body(party, starts_in=timedelta(days=1)), headers=secretary
        ),
        201,
    )
    ok(client.post(f"{ADMIN_PARTY}/meetings/{cancelled['id']}/cancel", json={"reason": "改期"}, headers=secretary))
    assembly = db.session.scalar(
        select(PartyMeeting).where(PartyMeeting.kind == "branch_assembly", PartyMeeting.status == "scheduled")
    )
    code = code_of(client, secretary, str(assembly.id))
    ok(client.post(f"{PARTY}/meeting-sign-ins", json={"code": code}, headers=party.h("李党员")))
    with app.app_context():
        meetings.close_meetings(settings, now=utcnow() + timedelta(minutes=30))
        db.session.commit()

    figures = ok(client.get(f"{ADMIN_PARTY}/orgs/{party.orgs['KJ01ZZ']}/figures", headers=party.h("王总支")))
    first = next(b for b in figures["branches"] if b["name"] == "控江一村第一党支部")
    assert {r["name"]: (r["held"], r["due"]) for r in first["required"]} == {
        "支部党员大会": (1, 1),
        "支委会": (1, 3),
        "党小组会": (1, 3),
        "党课": (1, 1),
    }
    assert first["other_meetings"]["theme_day"] == 1 and first["required_met"] is False
    # Five meetings held: 张 and 李 on four of them, the group meeting has only 李, the committee meeting only 张.
    assert first["attendance"] == {
        "expected": 8,
        "present": 1,
        "leave": 0,
        "absent": 7,
        "rate": 0.125,
        "rate_excluding_leave": 0.125,
    }
    second = next(b for b in figures["branches"] if b["name"] == "控江一村第二党支部")
    assert second["attendance"]["expected"] == 0 and all(r["held"] == 0 for r in second["required"])
    refused(client.get(f"{ADMIN_PARTY}/orgs/{party.orgs['KJ01ZZ']}/figures", headers=secretary), 404, "not_found")


# ----------------------------------------------------------------------------------------------------
# Study, quizzes, points, announcements
# ----------------------------------------------------------------------------------------------------


def test_read_time_counts_heartbeats_and_a_gap_over_ten_minutes_closes_the_session(app, client, party, settings):
    material = ok(
        client.post(
            f"{ADMIN_PARTY}/study-materials",
            json={"org_id": party.orgs["KJ01ZZ"], "kind": "article", "title": "党章学习", "body": "第一章 党员……"},
            headers=party.h("王总支"),
        ),
        201,
    )
    assert [m["title"] for m in ok(client.get(f"{PARTY}/study-materials", headers=party.h("李党员")))["items"]] == [
        "党章学习"
    ]
    assert ok(client.get(f"{PARTY}/study-materials", headers=party.h("孙党员")))["items"] == []
    start = datetime(2026, 3, 2, 1, 0, tzinfo=UTC)
    reader = user_of(party, "李党员")
    with app.app_context():
        beats = [0, 60, 120, 1000, 1060, 1500]  # a gap of 880 s after 120: a new session, the gap not counted
        for second in beats:
            progress, _ = study.heartbeat(
                reader, uuid.UUID(material["id"]), settings, start + timedelta(seconds=second)
            )
        db.session.commit()
        assert (progress.seconds_total, progress.sessions, progress.session_seconds) == (120 + 500, 2, 500)
        # Reading on (beats every 5 minutes) passes half an hour: one study point (1 per 1,800 s), once.
        awards = []
        for second in range(1560, 1560 + 1800, 300):
            progress, award = study.heartbeat(
                reader, uuid.UUID(material["id"]), settings, start + timedelta(seconds=second)
            )
            awards.append(award.points if award else None)
        db.session.commit()
    assert progress.seconds_total == 620 + 60 + 5 * 300
    assert awards == [None, None, None, None, 1, None]
    closed = db.session.scalars(select(StudySession.seconds).order_by(StudySession.started_at)).all()
    assert closed == [120]
    refused(
        client.post(f"{PARTY}/study-materials/{material['id']}/heartbeats", headers=party.h("孙党员")), 404, "not_found"
    )


def test_a_quiz_is_scored_on_the_server_within_its_window_and_time_limit(app, client, party):
    now = utcnow()
    quiz = ok(
        client.post(
            f"{ADMIN_PARTY}/quizzes",
            json={
                "org_id": party.orgs["KJ01ZB1"],
                "title": "党史知识测试",
                "opens_at": (now - timedelta(hours=1)).isoformat(),
                "closes_at": (now + timedelta(days=1)).isoformat(),
                "time_limit_seconds": 600,
                "pass_percent": 60,
                "questions": [
                    {
                        "text": "中国共产党成立于哪一年？",
                        "options": ["1919", "1921", "1949"],
                        "answer": [1],
                        "points": 2,
                    },
                    {
                        "text": "党的最高领导机关是？",
                        "options": ["全国代表大会和中央委员会", "国务院"],
                        "answer": [0],
                        "points": 2,
                    },
                    {
                        "text": "三会一课包括？",
                        "options": ["支部党员大会", "支委会", "党小组会", "运动会"],
                        "answer": [0, 1, 2],
                        "points": 1,
                    },
                ],
            },
            headers=party.h("张书记"),
        ),
        201,
    )
    attempt = ok(client.post(f"{PARTY}/quizzes/{quiz['id']}/attempts", headers=party.h("李党员")), 201)
    assert all(set(q) == {"id", "text", "options", "points"} for q in attempt["questions"])
    again = ok(client.post(f"{PARTY}/quizzes/{quiz['id']}/attempts", headers=party.h("李党员")), 201)
    assert again["id"] == attempt["id"] and again["deadline_at"] == attempt["deadline_at"]
    bad = client.post(
        f"{PARTY}/quiz-attempts/{attempt['id']}/answers", json={"answers": {"q9": [0]}}, headers=party.h("李党员")
    )
    refused(bad, 422, "validation_failed")
    answered = ok(
        client.post(
            f"{PARTY}/quiz-attempts/{attempt['id']}/answers",
            json={"answers": {"q1": [1], "q2": [0], "q3": [0, 1]}},
            headers=party.h("李党员"),
        )
    )
    assert (answered["attempt"]["score"], answered["attempt"]["max_score"], answered["attempt"]["passed"]) == (
        4,
        5,
        True,
    )
    assert answered["points"]["points"] == 5
    refused(
        client.post(f"{PARTY}/quiz-attempts/{attempt['id']}/answers", json={"answers": {}}, headers=party.h("李党员")),
        409,
        "party_quiz_submitted",
    )

    # Too slow: handed in after the time limit, nothing is scored.
    slow = ok(client.post(f"{PARTY}/quizzes/{quiz['id']}/attempts", headers=party.h("张书记")), 201)
    with app.app_context():
        member = db.session.get(User, party.people["张书记"]["user_id"])
        with pytest.raises(Exception) as too_late:
            study.answer(member, uuid.UUID(slow["id"]), {"q1": [1]}, now=utcnow() + timedelta(minutes=11))
        assert too_late.value.code == "party_quiz_time_over"


def test_points_stop_at_the_rules_cap_and_the_answer_says_why(client, party, admin):
    ok(
        client.put(
            f"{ADMIN_PARTY}/point-rules/claim",
            json={"points": 6, "cycle": "quarter", "cap": 10},
            headers=admin["headers"],
        )
    )
    refused(
        client.put(
            f"{ADMIN_PARTY}/point-rules/claim",
            json={"points": 6, "cycle": "quarter", "cap": 10},
            headers=party.h("张书记"),
        ),
        403,
        "forbidden",
    )
    claims = []
    for text in ("为独居老人代买药品", "协助居委会疫苗接种登记"):
        body = {"description": text, "media_ids": [photo(client, party.h("李党员"))]}
        claims.append(ok(client.post(f"{PARTY}/me/point-claims", json=body, headers=party.h("李党员")), 201))
    first = ok(
        client.post(
            f"{ADMIN_PARTY}/point-claims/{claims[0]['id']}/decision", json={"approve": True}, headers=party.h("张书记")
        )
    )
    assert (first["points_awarded"], first["award_note"]) == (6, None)
    second = ok(
        client.post(
            f"{ADMIN_PARTY}/point-claims/{claims[1]['id']}/decision", json={"approve": True}, headers=party.h("张书记")
        )
    )
    assert second["points_awarded"] == 4
    assert second["award_note"] == "「积分申请」积分本季度上限 10 分，本次计 4 分"
    # The cap is reached: a new claim is refused at once and explained; nothing is kept.
    body = {"description": "又一件好事", "media_ids": [photo(client, party.h("李党员"))]}
    cap = refused(
        client.post(f"{PARTY}/me/point-claims", json=body, headers=party.h("李党员")), 422, "party_points_cap_reached"
    )
    assert cap["message"] == "「积分申请」积分本季度已达上限 10 分，不再累计"
    assert len(ok(client.get(f"{PARTY}/me/point-claims", headers=party.h("李党员")))["items"]) == 2
    ledger = ok(client.get(f"{PARTY}/me/points", headers=party.h("李党员")))["items"]
    assert sorted(e["points"] for e in ledger) == [4, 6]
    refused(
        client.post(
            f"{ADMIN_PARTY}/point-claims/{claims[0]['id']}/decision", json={"approve": True}, headers=party.h("张书记")
        ),
        409,
        "party_transition_not_allowed",
    )


def test_rankings_per_branch_and_quarter_leave_out_those_who_hide(app, client, party):
    party.join("周党员", "KJ01ZB1")
    with app.app_context():
        for name, points in (("李党员", 5), ("周党员", 9), ("张书记", 5)):
            member = db.session.get(PartyMember, uuid.UUID(party.mid(name)))
            db.session.add(
                PointEntry(member_id=member.id, action="claim", source=f"test:{name}", points=points, cycle_key="x")
            )
        db.session.commit()
    ok(client.patch(f"{PARTY}/me", json={"hide_from_rankings": True}, headers=party.h("周党员")))
    shown = ok(client.get(f"{PARTY}/rankings", headers=party.h("李党员")))
    assert [(e["rank"], e["name"], e["points"]) for e in shown["items"]] == [(1, "张书记", 5), (1, "李党员", 5)]
    assert shown["me"] == {"points": 5, "rank": 1, "hidden": False}
    hidden = ok(client.get(f"{PARTY}/rankings", headers=party.h("周党员")))
    assert hidden["me"] == {"points": 9, "rank": None, "hidden": True}
    staff = ok(client.get(f"{ADMIN_PARTY}/orgs/{party.orgs['KJ01ZB1']}/rankings", headers=party.h("张书记")))
    assert next((e["name"], e["hidden"]) for e in staff["items"]) == ("周党员", True)
    last_year = ok(client.get(f"{PARTY}/rankings", query_string={"quarter": "2020Q1"}, headers=party.h("李党员")))
    assert {e["points"] for e in last_year["items"]} == {0}


def test_announcement_receipts_show_who_has_read_and_who_has_not(client, party):
    item = ok(
        client.post(
            f"{ADMIN_PARTY}/announcements",
            json={"org_id": party.orgs["KJ01ZZ"], "title": "关于收缴2026年党费的通知", "body": "请各位党员……"},
            headers=party.h("王总支"),
        ),
        201,
    )
    listed = ok(client.get(f"{PARTY}/announcements", headers=party.h("李党员")))["items"]
    assert [(a["title"], a["read_at"]) for a in listed] == [("关于收缴2026年党费的通知", None)]
    read = ok(client.post(f"{PARTY}/announcements/{item['id']}/read", headers=party.h("李党员")))
    assert (
        ok(client.post(f"{PARTY}/announcements/{item['id']}/read", headers=party.h("李党员")))["read_at"]
        == read["read_at"]
    )
    refused(client.get(f"{PARTY}/announcements/{item['id']}", headers=party.h("孙党员")), 404, "not_found")
    receipts = ok(client.get(f"{ADMIN_PARTY}/announcements/{item['id']}/receipts", headers=party.h("王总支")))
    assert [r["name"] for r in receipts["read"]] == ["李党员"]
    assert sorted(r["name"] for r in receipts["unread"]) == ["张书记", "王总支", "赵党员"]
    refused(
        client.get(f"{ADMIN_PARTY}/announcements/{item['id']}/receipts", headers=party.h("张书记")), 404, "not_found"
    )


# ----------------------------------------------------------------------------------------------------
# Dues
# ----------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("kind", "base_fen", "due_fen"),
    [
        (IncomeKind.PENSION, 480_000, 2400),  # 4,800 元 pension: 0.5 % = 24.00
        (IncomeKind.PENSION, 500_000, 2500),  # on the boundary: the lower band
        (IncomeKind.PENSION, 500_001, 5000),  # above it: 1 % of the whole amount
        (IncomeKind.WAGE, 300_000, 1500),
        (IncomeKind.WAGE, 300_001, 3000),
        (IncomeKind.WAGE, 500_000, 5000),
        (IncomeKind.WAGE, 1_000_000, 15000),
        (IncomeKind.WAGE, 1_000_001, 20000),
        (IncomeKind.WAGE, 290_900, 1455),  # 14.545 元: half up to the fen
        (IncomeKind.WAGE, 100, 1),  # 0.005 元 rounds up to a fen
        (IncomeKind.STUDENT, None, 20),
        (IncomeKind.SUBSISTENCE, None, 20),
    ],
)
def test_the_standard_follows_the_2008_rules_to_the_fen(kind, base_fen, due_fen):
    assert standard_of(DEFAULT_RULES, kind, base_fen) == due_fen


def test_a_dues_base_that_is_negative_or_absurd_is_refused_and_nothing_changes(client, party):
    for base, field in ((-480_000, "negative"), (100_000_000_000, "100–100000000 fen a month"), (None, "required")):
        body = {"income_kind": "pension", "base_fen": base}
        answer = refused(
            client.post(f"{PARTY}/me/dues/declarations", json=body, headers=party.h("李党员")),
            422,
            "party_dues_base_invalid",
        )
        assert answer["errors"]["base_fen"] == [field]
    assert ok(client.get(f"{PARTY}/me/dues", headers=party.h("李党员")))["declarations"] == []


def test_a_declared_base_is_confirmed_by_the_branch_and_the_standard_changes_only_for_an_unpaid_current_month(
    client, party
):
    declared = ok(
        client.post(
            f"{PARTY}/me/dues/declarations",
            json={"income_kind": "pension", "base_fen": 480_000},
            headers=party.h("李党员"),
        ),
        201,
    )
    assert (declared["standard_fen"], declared["status"], declared["rate_version"]) == (
        2400,
        "declared",
        "中组发〔2008〕3号",
    )
    refused(
        client.post(
            f"{PARTY}/me/dues/payments",
            json={"months": [month_label(current_month(utcnow()))]},
            headers=party.h("李党员"),
        ),
        409,
        "party_dues_standard_missing",
    )
    queue = ok(
        client.get(f"{ADMIN_PARTY}/dues-declarations", query_string={"status": "declared"}, headers=party.h("张书记"))
    )["items"]
    assert [d["id"] for d in queue] == [declared["id"]]
    ok(
        client.post(
            f"{ADMIN_PARTY}/dues-declarations/{declared['id']}/decision",
            json={"confirm": True},
            headers=party.h("张书记"),
        )
    )
    month = month_label(current_month(utcnow()))
    ledger = ok(client.get(f"{PARTY}/me/dues", headers=party.h("李党员")))
    assert (ledger["standard_fen"], ledger["first_unpaid"], ledger["owed_fen"]) == (2400, month, 2400)

    # Pension rises mid-year: the unpaid current month takes the new standard; a paid month would not.
    ok(
        client.post(
            f"{ADMIN_PARTY}/members/{party.mid('李党员')}/dues/payments",
            json={"months": [month]},
            headers=party.h("张书记"),
        ),
        201,
    )
    raised = party.declare("李党员", "pension", 560_000)
    assert raised["status"] == "confirmed" and raised["standard_fen"] == 5600
    ledger = ok(client.get(f"{PARTY}/me/dues", headers=party.h("李党员")))
    assert [(m["month"], m["due_fen"], m["paid"]) for m in ledger["months"]] == [(month, 2400, True)]
    assert ledger["standard_fen"] == 5600 and ledger["unpaid"] == []
    logged = db.session.scalars(
        select(PartyMemberLog.data).where(
            PartyMemberLog.member_id == uuid.UUID(party.mid("李党员")), PartyMemberLog.kind == "dues_standard"
        )
    ).all()
    assert [entry["standard_now"] for entry in logged] == [[0, 2400], [2400, 5600]]


def test_paying_three_months_online_advances_paid_up_to_and_the_ledger_and_payment_record_agree(client, party):
    party.declare("李党员", "pension", 480_000)
    first = current_month(utcnow())
    months = [month_label(add_months(first, i)) for i in range(3)]
    paying = ok(client.post(f"{PARTY}/me/dues/payments", json={"months": months}, headers=party.h("李党员")), 201)
    assert (paying["amount_fen"], paying["months"], paying["status"]) == (7200, 3, "pending")
    # Asking again while the order is open gives the same payment (no second order).
    assert (
        ok(client.post(f"{PARTY}/me/dues/payments", json={"months": months}, headers=party.h("李党员")), 201)["id"]
        == paying["id"]
    )
    paid = client.post(
        f"/api/v1/payments/{paying['order_id']}/sandbox-complete", json={"outcome": "paid"}, headers=party.h("李党员")
    )
    assert ok(paid)["status"] == "paid"

    ledger = ok(client.get(f"{PARTY}/me/dues", headers=party.h("李党员")))
    assert ledger["paid_until"] == months[-1]
    assert [(m["month"], m["due_fen"], m["paid"], m["channel"]) for m in reversed(ledger["months"])] == [
        (m, 2400, True, "online") for m in months
    ]
    order = db.session.get(PaymentOrder, uuid.UUID(paying["order_id"]))
    assert (order.status, order.amount_fen, order.purpose) == (OrderStatus.PAID, 7200, "party_dues")
    assert order.area_path == "/KJ/KJ01/"
    assert ok(client.get(f"{PARTY}/me", headers=party.h("李党员")))["dues_paid_until"] == months[-1]
    # A month twice: 409, and nothing is held or paid again.
    twice = client.post(f"{PARTY}/me/dues/payments", json={"months": [months[1]]}, headers=party.h("李党员"))
    refused(twice, 409, "party_dues_month_paid")
    offline = client.post(
        f"{ADMIN_PARTY}/members/{party.mid('李党员')}/dues/payments",
        json={"months": [months[2]]},
        headers=party.h("张书记"),
    )
    refused(offline, 409, "party_dues_month_paid")
    assert db.session.scalar(select(func.count()).select_from(DuesMonth)) == 3


def test_months_are_paid_in_order_and_an_order_that_closes_lets_its_months_go(client, party):
    party.declare("李党员", "wage", 800_000)
    month = current_month(utcnow())
    skipping = client.post(
        f"{PARTY}/me/dues/payments", json={"months": [month_label(add_months(month, 1))]}, headers=party.h("李党员")
    )
    refused(skipping, 422, "party_dues_months_invalid")
    gap = client.post(
        f"{PARTY}/me/dues/payments",
        json={"months": [month_label(month), month_label(add_months(month, 2))]},
        headers=party.h("李党员"),
    )
    refused(gap, 422, "party_dues_months_invalid")
    paying = ok(
        client.post(f"{PARTY}/me/dues/payments", json={"months": [month_label(month)]}, headers=party.h("李党员")), 201
    )
    held = client.post(
        f"{ADMIN_PARTY}/members/{party.mid('李党员')}/dues/payments",
        json={"months": [month_label(month)]},
        headers=party.h("张书记"),
    )
    refused(held, 409, "party_dues_payment_pending")
    failed = client.post(
        f"/api/v1/payments/{paying['order_id']}/sandbox-complete", json={"outcome": "failed"}, headers=party.h("李党员")
    )
    assert ok(failed)["status"] == "closed"
    ledger = ok(client.get(f"{PARTY}/me/dues", headers=party.h("李党员")))
    assert ledger["unpaid"] == [{"month": month_label(month), "due_fen": 12000, "held": False}]
    cash = ok(
        client.post(
            f"{ADMIN_PARTY}/members/{party.mid('李党员')}/dues/payments",
            json={"months": [month_label(month)], "paid_by_name": "李党员之子（代缴）"},
            headers=party.h("张书记"),
        ),
        201,
    )
    assert (cash["channel"], cash["status"], cash["paid_by_name"]) == ("offline", "paid", "李党员之子（代缴）")


def test_a_retry_after_the_order_lapsed_starts_afresh(app, client, party):
    party.declare("李党员", "pension", 480_000)
    month = [month_label(current_month(utcnow()))]
    first = ok(client.post(f"{PARTY}/me/dues/payments", json={"months": month}, headers=party.h("李党员")), 201)
    with app.app_context():
        order = db.session.get(PaymentOrder, uuid.UUID(first["order_id"]))
        order.expires_at = utcnow() - timedelta(seconds=1)  # the resident left the payment screen open too long
        db.session.commit()
    second = ok(client.post(f"{PARTY}/me/dues/payments", json={"months": month}, headers=party.h("李党员")), 201)
    assert second["id"] != first["id"] and second["amount_fen"] == 2400
    db.session.expire_all()
    assert db.session.get(PaymentOrder, uuid.UUID(first["order_id"])).status == OrderStatus.CLOSED
    held = db.session.scalars(select(DuesMonth.payment_id)).all()
    assert [str(h) for h in held] == [second["id"]]


def test_a_payment_that_arrives_after_its_order_closed_is_kept_while_its_months_are_free_else_refunded(client, party):
    party.declare("李党员", "pension", 480_000)
    party.declare("赵党员", "pension", 480_000)
    month = [month_label(current_month(utcnow()))]

    def pay_after_close(name: str, meanwhile: Any = None) -> PaymentOrder:
        paying = ok(client.post(f"{PARTY}/me/dues/payments", json={"months": month}, headers=party.h(name)), 201)
        sandbox = f"/api/v1/payments/{paying['order_id']}/sandbox-complete"
        ok(client.post(sandbox, json={"outcome": "failed"}, headers=party.h(name)))  # the order closes
        if meanwhile:
            meanwhile()
        ok(client.post(sandbox, json={"outcome": "paid"}, headers=party.h(name)))  # WeChat Pay took it anyway
        db.session.expire_all()
        return db.session.get(PaymentOrder, uuid.UUID(paying["order_id"]))

    kept = pay_after_close("李党员")
    assert (kept.status, kept.refunded_fen) == (OrderStatus.PAID, 0)
    assert ok(client.get(f"{PARTY}/me/dues", headers=party.h("李党员")))["paid_until"] == month[0]

    def paid_in_cash() -> None:
        url = f"{ADMIN_PARTY}/members/{party.mid('赵党员')}/dues/payments"
        ok(client.post(url, json={"months": month}, headers=party.h("王总支")), 201)

    refunded = pay_after_close("赵党员", paid_in_cash)
    assert refunded.refunded_fen == 2400  # the month was paid in cash meanwhile: the money goes back
    months = ok(client.get(f"{PARTY}/me/dues", headers=party.h("赵党员")))["months"]
    assert [(m["channel"], m["due_fen"]) for m in months] == [("offline", 2400)]


def test_a_month_paid_late_says_so_and_why(app, client, party):
    party.declare("李党员", "pension", 480_000)
    earlier = add_months(current_month(utcnow()), -2)
    with app.app_context():
        member = db.session.get(PartyMember, uuid.UUID(party.mid("李党员")))
        member.dues_start_month = earlier
        db.session.commit()
    ledger = ok(client.get(f"{ADMIN_PARTY}/members/{party.mid('李党员')}/dues", headers=party.h("张书记")))
    assert ledger["months_unpaid"] == 3 and ledger["owed_fen"] == 7200
    body = {"months": [month_label(add_months(earlier, i)) for i in range(3)], "late_reason": "住院三个月，出院后补缴"}
    ok(
        client.post(f"{ADMIN_PARTY}/members/{party.mid('李党员')}/dues/payments", json=body, headers=party.h("张书记")),
        201,
    )
    months = ok(client.get(f"{PARTY}/me/dues", headers=party.h("李党员")))["months"]
    assert [(m["late"], m["late_reason"]) for m in reversed(months)] == [
        (True, "住院三个月，出院后补缴"),
        (True, "住院三个月，出院后补缴"),
        (False, "住院三个月，出院后补缴"),
    ]


def test_reminders_go_out_on_the_configured_days_and_six_months_unpaid_are_flagged_to_the_branch(
    app, client, party, settings
):
    party.declare("李党员", "pension", 480_000)
    party.declare("赵党员", "pension", 480_000)
    with app.app_context():
        behind = db.session.get(PartyMember, uuid.UUID(party.mid("李党员")))
        behind.dues_start_month = date(2026, 1, 1)
        db.session.get(PartyMember, uuid.UUID(party.mid("赵党员"))).dues_start_month = date(2026, 6, 1)
        db.session.commit()
        settings.party_dues_reminder_days = (5, 20)
        fifth = datetime(2026, 7, 5, 2, 0, tzinfo=UTC)
        assert dues.remind(settings, now=fifth - timedelta(days=1)) == 0
        assert dues.remind(settings, now=fifth) == 2
        assert dues.remind(settings, now=fifth) == 2  # again: the same messages (dedupe), nobody told twice
        assert dues.flag_unpaid(settings, now=fifth) == 1  # January to June: six whole months
        assert dues.flag_unpaid(settings, now=fifth) == 0  # flagged once
        db.session.commit()
    reminders = db.session.scalars(select(Notification.user_id).where(Notification.kind == "party_dues_reminder")).all()
    assert sorted(reminders) == sorted([party.people["李党员"]["user_id"], party.people["赵党员"]["user_id"]])
    flags = db.session.scalars(select(Notification).where(Notification.kind == "party_dues_unpaid_flag")).all()
    assert [(f.user_id, f.body) for f in flags] == [
        (
            party.people["张书记"]["user_id"],
            "控江一村第一党支部有党员已连续 6 个月未缴纳党费，请在党费未缴名单中查看并按规定处理。",
        )
    ]
    unpaid = ok(client.get(f"{ADMIN_PARTY}/orgs/{party.orgs['KJ01ZZ']}/dues/unpaid", headers=party.h("王总支")))[
        "items"
    ]
    assert {(u["name"], u["flagged"]) for u in unpaid} == {("李党员", True), ("赵党员", False)}


# ----------------------------------------------------------------------------------------------------
# Transfers
# ----------------------------------------------------------------------------------------------------


def act(
    client: Any, headers: dict[str, str], transfer_id: str, action: str, *, admin: bool = True, **extra: Any
) -> Any:
    base = ADMIN_PARTY if admin else f"{PARTY}/me"
    return client.post(f"{base}/transfers/{transfer_id}/transitions", json={"action": action, **extra}, headers=headers)


def test_a_transfer_to_another_branch_then_out_of_the_subdistrict_every_step_on_the_timeline(client, party, admin):
    member = party.h("李党员")
    inside = ok(
        client.post(
            f"{PARTY}/me/transfers",
            json={"direction": "inside", "to_org_id": party.orgs["KJ01ZB2"], "reason": "搬家到二村"},
            headers=member,
        ),
        201,
    )
    ok(act(client, member, inside["id"], "submit", admin=False))
    ok(act(client, party.h("张书记"), inside["id"], "confirm", remark="同意转出"))
    approved = ok(act(client, admin["headers"], inside["id"], "approve"))
    assert approved["letter"]["letter_no"].startswith("KJ") and approved["letter"]["to"] == "控江一村第二党支部"
    ok(act(client, party.h("王总支"), inside["id"], "receive"))
    done = ok(act(client, admin["headers"], inside["id"], "complete"))
    assert [s["action"] for s in done["steps"]] == ["create", "submit", "confirm", "approve", "receive", "complete"]
    assert [s["actor_role"] for s in done["steps"]] == [
        "member",
        "member",
        "sending_branch",
        "committee",
        "receiving_branch",
        "committee",
    ]
    assert ok(client.get(f"{PARTY}/me", headers=member))["branch"]["name"] == "控江一村第二党支部"

    out = ok(
        client.post(
            f"{PARTY}/me/transfers",
            json={"direction": "out", "external_org": "浦东新区某街道党工委", "reach": "in_city"},
            headers=member,
        ),
        201,
    )
    ok(act(client, member, out["id"], "submit", admin=False))
    ok(act(client, party.h("王总支"), out["id"], "confirm"))
    letter = ok(act(client, admin["headers"], out["id"], "approve"))["letter"]
    assert (letter["to"], letter["from"]) == ("浦东新区某街道党工委", "控江一村第二党支部")
    ok(act(client, admin["headers"], out["id"], "receive", remark="回执已收到"))
    ok(act(client, admin["headers"], out["id"], "complete"))

    timeline = ok(client.get(f"{PARTY}/me/transfers", headers=member))["items"]
    assert [t["status"] for t in timeline] == ["completed", "completed"]
    assert [len(t["steps"]) for t in timeline] == [6, 6]
    refused(client.get(f"{PARTY}/me", headers=member), 403, "not_a_party_member")  # 已转出: no current record
    record = db.session.get(PartyMember, uuid.UUID(party.mid("李党员")))
    assert record.status.value == "transferred_out"
    told = db.session.scalars(
        select(Notification.title).where(
            Notification.user_id == party.people["李党员"]["user_id"], Notification.kind == "party_transfer_step"
        )
    ).all()
    assert len(told) == 12


def test_one_open_transfer_at_a_time_a_step_not_allowed_lists_what_is_and_roles_are_kept(client, party, admin):
    member = party.h("李党员")
    first = ok(
        client.post(
            f"{PARTY}/me/transfers",
            json={"direction": "out", "external_org": "外省某党委", "reach": "out_of_city"},
            headers=member,
        ),
        201,
    )
    second = client.post(
        f"{PARTY}/me/transfers", json={"direction": "inside", "to_org_id": party.orgs["KJ01ZB2"]}, headers=member
    )
    refused(second, 409, "party_transfer_open")
    assert db.session.scalar(select(func.count()).select_from(PartyTransfer)) == 1
    wrong = refused(act(client, admin["headers"], first["id"], "approve"), 409, "party_transition_not_allowed")
    assert wrong["errors"] == {"action": ["edit", "submit", "withdraw"]}
    ok(act(client, member, first["id"], "submit", admin=False))
    refused(act(client, member, first["id"], "confirm", admin=False), 403, "party_level_above_only")
    # The sending branch returns it with a reason; the member resubmits the same application.
    refused(act(client, party.h("张书记"), first["id"], "return"), 422, "validation_failed")
    ok(act(client, party.h("张书记"), first["id"], "return", remark="请写明转往单位全称"))
    ok(act(client, member, first["id"], "edit", admin=False, external_org="贵州省某县委组织部"))
    again = ok(act(client, member, first["id"], "submit", admin=False))
    assert again["id"] == first["id"] and again["external_org"] == "贵州省某县委组织部"
    assert [s["action"] for s in again["steps"]] == ["create", "submit", "return", "edit", "submit"]
    assert again["steps"][2]["remark"] == "请写明转往单位全称"
    # A member who holds no post has no admin side at all; the other committee's branch secretary finds nothing.
    refused(client.get(f"{ADMIN_PARTY}/transfers/{first['id']}", headers=party.h("孙党员")), 403, "forbidden")
    party.appoint("孙党员", "KJ02ZB1", "secretary")
    refused(client.get(f"{ADMIN_PARTY}/transfers/{first['id']}", headers=party.h("孙党员")), 404, "not_found")


def test_a_letter_that_runs_out_expires_and_a_transfer_in_creates_a_pending_member(app, client, party, admin, settings):
    member = party.h("李党员")
    out = ok(
        client.post(f"{PARTY}/me/transfers", json={"direction": "out", "external_org": "徐汇区某党委"}, headers=member),
        201,
    )
    ok(act(client, member, out["id"], "submit", admin=False))
    ok(act(client, party.h("张书记"), out["id"], "confirm"))
    approved = ok(act(client, admin["headers"], out["id"], "approve"))
    valid_until = datetime.fromisoformat(approved["letter"]["valid_until"])
    assert valid_until - datetime.fromisoformat(approved["steps"][-1]["at"]) == timedelta(
        days=settings.party_transfer_valid_days_in_city
    )
    with app.app_context():
        assert transfers.expire(now=valid_until - timedelta(minutes=1)) == 0
        assert transfers.expire(now=valid_until + timedelta(minutes=1)) == 1
        db.session.commit()
    expired = ok(client.get(f"{PARTY}/me/transfers/{out['id']}", headers=member))
    assert (expired["status"], expired["steps"][-1]["actor_role"]) == ("expired", "system")
    assert ok(client.get(f"{PARTY}/me", headers=member))["status"] == "active"

    coming = ok(
        client.post(
            f"{ADMIN_PARTY}/transfers",
            json={
                "direction": "in",
                "to_org_id": party.orgs["KJ01ZB1"],
                "external_org": "闵行区某党委",
                "letter_no": "闵组2026第12号",
                "letter_paid_until": "2026-05-01",
                "member": {"name": "新来党员", "category": "full", "joined_on": "2001-07-01"},
            },
            headers=party.h("张书记"),
        ),
        201,
    )
    pending = db.session.get(PartyMember, uuid.UUID(coming["member_id"]))
    assert (pending.status.value, pending.dues_paid_until) == ("pending", date(2026, 5, 1))
    ok(act(client, party.h("张书记"), coming["id"], "receive"))
    ok(act(client, admin["headers"], coming["id"], "complete"))
    db.session.expire_all()
    assert db.session.get(PartyMember, uuid.UUID(coming["member_id"])).status.value == "active"


# ----------------------------------------------------------------------------------------------------
# Working members' registration and the seam with volunteers
# ----------------------------------------------------------------------------------------------------


@pytest.fixture
def volunteers_stand_in() -> Iterator[dict[str, Any]]:
    """What the volunteers domain will answer: minutes of service per person, and what it heard."""
    heard: dict[str, Any] = {"confirmed": [], "ended": [], "asked": [], "minutes": {}}

    def hours(_sender: Any, *, user_ids: list[uuid.UUID], since: datetime, until: datetime) -> dict[uuid.UUID, int]:
        heard["asked"].append((len(user_ids), since, until))
        return {u: heard["minutes"][u] for u in user_ids if u in heard["minutes"]}

    def confirmed(_sender: Any, **values: Any) -> None:
        heard["confirmed"].append(values)

    def ended(_sender: Any, **values: Any) -> None:
        heard["ended"].append(values)

    signals.service_hours_requested.connect(hours)
    signals.registration_confirmed.connect(confirmed)
    signals.registration_ended.connect(ended)
    try:
        yield heard
    finally:
        signals.service_hours_requested.disconnect(hours)
        signals.registration_confirmed.disconnect(confirmed)
        signals.registration_ended.disconnect(ended)


def test_a_working_member_registers_the_branch_confirms_and_the_quarters_hours_go_back_as_csv(
    app, client, party, volunteers_stand_in
):
    tokens = wechat_login(client, "worker#1")
    headers, user_id = bearer(tokens["access_token"]), uuid.UUID(tokens["user"]["id"])
    branches = ok(
        client.get(f"{PARTY}/orgs", query_string={"area_id": str(party.world.areas["KJ01"].id)}, headers=headers)
    )["items"]
    assert sorted(b["name"] for b in branches) == ["控江一村第一党支部", "控江一村第二党支部"]
    body = {
        "org_id": party.orgs["KJ01ZB1"],
        "name": "钱在职",
        "workplace_org": "上海某公司党委",
        "registered_on": str(date.today()),
        "slip_media_id": photo(client, headers),
    }
    registration = ok(client.post(f"{PARTY}/registrations", json=body, headers=headers), 201)
    refused(
        client.post(f"{PARTY}/registrations", json={**body, "slip_media_id": photo(client, headers)}, headers=headers),
        409,
        "party_registration_open",
    )
    assert volunteers_stand_in["confirmed"] == []
    shown = ok(client.get(f"{ADMIN_PARTY}/registrations/{registration['id']}", headers=party.h("张书记")))
    assert len(shown["slip"]) == 1 and shown["slip"][0]["url"]
    ok(
        client.post(
            f"{ADMIN_PARTY}/registrations/{registration['id']}/decision",
            json={"confirm": True},
            headers=party.h("张书记"),
        )
    )
    assert volunteers_stand_in["confirmed"] == [
        {
            "user_id": user_id,
            "registration_id": uuid.UUID(registration["id"]),
            "name": "钱在职",
            "area_path": "/KJ/KJ01/",
            "org_name": "控江一村第一党支部",
        }
    ]

    volunteers_stand_in["minutes"] = {user_id: 375}
    quarter = Quarter.of(utcnow())
    report = client.get(f"{ADMIN_PARTY}/orgs/{party.orgs['KJ01ZZ']}/registrations/hours.csv", headers=party.h("王总支"))
    assert report.status_code == 200 and report.mimetype == "text/csv"
    rows = list(csv.reader(io.StringIO(report.get_data(as_text=True).lstrip("\ufeff"))))
    assert rows[1] == [quarter.label, "钱在职", "上海某公司党委", "控江一村第一党支部", str(date.today()), "6.2"]
    assert volunteers_stand_in["asked"][-1] == (1, quarter.start, quarter.end)
    routes = db.session.scalars(select(AccessLog.route).where(AccessLog.subject_id == user_id)).all()
    assert sorted(routes) == [
        "GET /api/v1/admin/party/orgs/<uuid:org_id>/registrations/hours.csv",
        "GET /api/v1/admin/party/registrations/<uuid:registration_id>",
    ]

    # The first day of the next quarter the branch's officers hear the report is ready, once.
    next_quarter = Quarter(quarter.year + 1, 1) if quarter.number == 4 else Quarter(quarter.year, quarter.number + 1)
    with app.app_context():
        assert registrations.report_quarter(now=next_quarter.start + timedelta(hours=8)) == 1
        assert registrations.report_quarter(now=next_quarter.start + timedelta(hours=9)) == 1
        db.session.commit()
    reports = db.session.scalars(select(Notification).where(Notification.kind == "party_hours_report")).all()
    assert [(n.user_id, n.title) for n in reports] == [
        (party.people["张书记"]["user_id"], f"在职党员服务时长报表（{quarter.label}）")
    ]

    ok(client.post(f"{PARTY}/registrations/{registration['id']}/end", headers=headers))
    assert [e["user_id"] for e in volunteers_stand_in["ended"]] == [user_id]


def test_service_hours_earn_points_once_and_within_the_cap(app, party, volunteers_stand_in):
    user_id = party.people["李党员"]["user_id"]
    volunteers_stand_in["minutes"] = {user_id: 150}
    with app.app_context():
        assert registrations.award_service_hours() == 1  # two whole hours: 4 points
        assert registrations.award_service_hours() == 0  # the same hours again: nothing more
        volunteers_stand_in["minutes"] = {user_id: 60 * 30}
        assert registrations.award_service_hours() == 1  # 30 hours: the cap of 40 points for the quarter
        db.session.commit()
    awarded = db.session.scalars(
        select(PointEntry.points).where(PointEntry.action == "service_hours").order_by(PointEntry.id)
    ).all()
    assert awarded == [4, 36]


# ----------------------------------------------------------------------------------------------------
# Personal information
# ----------------------------------------------------------------------------------------------------


def test_deleting_an_account_keeps_the_member_record_as_history_without_it(app, client, party, settings):
    from api.privacy import services as privacy

    meeting = ok(
        client.post(
            f"{ADMIN_PARTY}/meetings", json=meeting_body(party, starts_in=timedelta(days=2)), headers=party.h("张书记")
        ),
        201,
    )
    ok(client.post(f"{PARTY}/meetings/{meeting['id']}/leave", json={"reason": "住院做手术"}, headers=party.h("李党员")))
    exported = client.post("/api/v1/me/data-exports", headers=party.h("李党员"))
    assert exported.status_code == 202
    # An open transfer blocks the deletion: it must be finished or withdrawn first.
    out = ok(
        client.post(
            f"{PARTY}/me/transfers", json={"direction": "out", "external_org": "外区党委"}, headers=party.h("李党员")
        ),
        201,
    )
    blocked = refused(client.post("/api/v1/me/account-deletion", headers=party.h("李党员")), 409, "deletion_blocked")
    assert "组织关系转接" in blocked["message"]
    ok(act(client, party.h("李党员"), out["id"], "withdraw", admin=False))
    assert client.post("/api/v1/me/account-deletion", headers=party.h("李党员")).status_code == 202
    with app.app_context():
        later = utcnow() + timedelta(days=settings.account_deletion_cooling_off_days, minutes=1)
        assert privacy.erase_due(now=later) == 1
    db.session.remove()
    record = db.session.get(PartyMember, uuid.UUID(party.mid("李党员")))
    assert (record.user_id, record.name, record.status.value) == (None, "李党员", "active")
    leave = db.session.scalar(select(PartyAttendance).where(PartyAttendance.member_id == record.id))
    assert (leave.leave_state.value, leave.leave_reason) == ("requested", None)
    told = db.session.scalar(select(Notification).where(Notification.kind == "party_member_account_deleted"))
    assert told is not None and told.user_id == party.people["张书记"]["user_id"]
    assert db.session.get(User, party.people["李党员"]["user_id"]) is None


def test_the_export_holds_the_members_record_and_their_party_life(app, client, party):
    from api.party import personal

    party.declare("李党员", "pension", 480_000)
    with app.app_context():
        exported = personal.export(db.session.get(User, party.people["李党员"]["user_id"]))
    assert exported["member_records"][0]["branch"] == "控江一村第一党支部"
    assert exported["dues_declarations"][0]["standard_fen"] == 2400
    assert [h["kind"] for h in exported["history"]][:2] == ["entered", "dues_standard"]


def test_the_local_month_is_shanghais(app):
    # 2026-01-31 17:00 UTC is 1 February 01:00 in Shanghai: February's dues.
    assert current_month(datetime(2026, 1, 31, 17, 0, tzinfo=UTC)) == date(2026, 2, 1)
    assert datetime(2026, 2, 1, 1, 0, tzinfo=LOCAL_TZ).astimezone(UTC).day == 31
    assert Quarter.parse("2026Q2", utcnow()).first_month == date(2026, 4, 1)


def test_a_member_on_the_roster_is_one_row_whatever_happens(app, client, party):
    meeting = ok(client.post(f"{ADMIN_PARTY}/meetings", json=meeting_body(party), headers=party.h("张书记")), 201)
    ok(
        client.post(
            f"{ADMIN_PARTY}/meetings/{meeting['id']}/invitees",
            json={"member_ids": [party.mid("李党员"), party.mid("赵党员")]},
            headers=party.h("王总支"),
        )
    )
    rows = db.session.scalars(
        select(PartyAttendance.member_id).where(PartyAttendance.meeting_id == uuid.UUID(meeting["id"]))
    ).all()
    assert sorted(map(str, rows)) == sorted([party.mid("张书记"), party.mid("李党员"), party.mid("赵党员")])
    statuses = {r.status for r in db.session.scalars(select(PartyAttendance))}
    assert statuses == {AttendanceStatus.EXPECTED}


def test_the_party_settings_are_read_from_the_environment_and_checked():
    from api.config import ConfigError, Settings

    read = Settings.from_env({"PARTY_DUES_REMINDER_DAYS": "20, 5", "PARTY_TRANSFER_VALID_DAYS_OUT_OF_CITY": "60"})
    assert (read.party_dues_reminder_days, read.party_transfer_valid_days_out_of_city) == ((5, 20), 60)
    assert Settings.from_env({}).party_sign_in_before_minutes == 20
    with pytest.raises(ConfigError, match="PARTY_DUES_REMINDER_DAYS"):
        Settings.from_env({"PARTY_DUES_REMINDER_DAYS": "5,32"})
    with pytest.raises(ConfigError, match="PARTY_SIGN_IN_AFTER_MINUTES"):
        Settings.from_env({"PARTY_SIGN_IN_AFTER_MINUTES": "0"})
    with pytest.raises(ConfigError, match="PARTY_DUES_ORDER_MINUTES"):
        Settings.from_env({"PARTY_DUES_ORDER_MINUTES": "20000"})


def test_a_confirmed_working_member_may_take_the_communitys_tasks_and_their_hours_reach_the_report(
    client, world, party, kj01_staff, admin
):
    """The seam through the real volunteers domain: the branch's word makes a volunteer of the registered member,
    and the hours their service earned are what the quarter's report sends back to their workplace."""
    headers = bearer(wechat_login(client, "working-member#1")["access_token"])
    registration = ok(
        client.post(
            f"{PARTY}/registrations",
            json={
                "org_id": party.orgs["KJ01ZB1"],
                "name": "周在职",
                "workplace_org": "上海某研究所党委",
                "registered_on": str(date.today()),
                "slip_media_id": photo(client, headers),
            },
            headers=headers,
        ),
        201,
    )
    assert client.get("/api/v1/me/volunteer", headers=headers).status_code == 404
    ok(
        client.post(
            f"{ADMIN_PARTY}/registrations/{registration['id']}/decision",
            json={"confirm": True},
            headers=party.h("张书记"),
        )
    )
    profile = ok(client.get("/api/v1/me/volunteer", headers=headers))
    assert (profile["real_name"], profile["status"]) == ("周在职", "approved")
    assert [c["id"] for c in profile["committees"]] == [str(world.areas["KJ01"].id)]

    starts = utcnow() + timedelta(hours=3)
    task = ok(
        client.post(
            "/api/v1/admin/volunteer-tasks",
            json={
                "title": "楼道清洁",
                "kind": "cleanup",
                "area_id": str(world.areas["KJ01-01"].id),
                "starts_at": starts.isoformat(),
                "ends_at": (starts + timedelta(hours=2)).isoformat(),
                "slots": 3,
                "checkin_rule": "owner_code",
            },
            headers=kj01_staff["headers"],
        ),
        201,
    )
    ok(client.post(f"/api/v1/volunteer/tasks/{task['id']}/signups", headers=headers), 201)
    claim = ok(
        client.post(
            "/api/v1/admin/volunteer-hours",
            json={"task_id": task["id"], "profile_id": profile["id"], "minutes": 105},
            headers=kj01_staff["headers"],
        ),
        201,
    )
    ok(client.post(f"/api/v1/admin/volunteer-hours/{claim['id']}/approve", headers=admin["headers"]))

    quarter = Quarter.of(starts)
    report = client.get(
        f"{ADMIN_PARTY}/orgs/{party.orgs['KJ01ZB1']}/registrations/hours.csv",
        query_string={"quarter": quarter.label},
        headers=party.h("张书记"),
    )
    rows = list(csv.reader(io.StringIO(report.get_data(as_text=True).lstrip("\ufeff"))))
    assert [row[1] for row in rows[1:]] == ["周在职"]
    assert rows[1][-1] == "1.7"  # 105 minutes, in tenths of an hour not rounded up


def test_the_branchs_list_of_registrations_costs_the_same_statements_for_two_slips_as_for_one(client, party):
    """Each registration shows its slip's photo: a page loads the slips with it, not one per registration."""
    from tests.test_read_path import statements_of

    def register(code: str, name: str) -> None:
        headers = bearer(wechat_login(client, code)["access_token"])
        body = {
            "org_id": party.orgs["KJ01ZB1"],
            "name": name,
            "workplace_org": "上海某公司党委",
            "registered_on": str(date.today()),
            "slip_media_id": photo(client, headers),
        }
        ok(client.post(f"{PARTY}/registrations", json=body, headers=headers), 201)

    register("worker-a#1", "钱在职")
    one = statements_of(client, f"{ADMIN_PARTY}/registrations", party.h("张书记"))
    register("worker-b#1", "孙在职")
    listed = ok(client.get(f"{ADMIN_PARTY}/registrations", headers=party.h("张书记")))["items"]
    assert sorted((r["name"], len(r["slip"])) for r in listed) == [("孙在职", 1), ("钱在职", 1)]
    assert statements_of(client, f"{ADMIN_PARTY}/registrations", party.h("张书记")) == one
