"""How party affairs will be judged, end to end with the parts a deployment runs (PostgreSQL, a real Celery
worker, WeChat Pay's fake on loopback, the app served over HTTP — the payments rig): a branch secretary schedules
a 支部党员大会, thirty members sign in within the window (at once), two ask for leave, one stays away; the minutes
are approved from above and then cannot be edited; the quarter's figures show it. A retired member with a 4,800
元 pension pays three months of dues online (24.00 元 a month) and the ledger, "paid up to" and the payment
record agree. A member transfers to another branch, then out of the subdistrict, every step on their timeline;
a member of branch A never sees branch B's roster."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta
from typing import Any

import pytest
import requests
from sqlalchemy import select

from api.accounts.models import Area, AreaKind, Role
from api.accounts.services import create_staff
from api.db import db, utcnow
from api.party.calendar import Quarter, add_months, current_month, month_label
from api.party.models import DuesMonth, DuesPayment, PartyMeeting
from api.payments.models import OrderStatus
from tests.fake_wechatpay import FakeWechatPay
from tests.test_payments_worker import STAFF_PASSWORD, Rig, login
from tests.test_payments_worker import rig as rig

pytestmark = pytest.mark.services

PARTY = "/api/v1/party"
ADMIN = "/api/v1/admin/party"


@pytest.fixture(autouse=True)
def phones_of_their_own(rig: Rig) -> Iterator[None]:
    """Three dozen members log in from this one address; in the street each has a phone of their own."""
    settings = rig.app.extensions["linli.settings"]
    saved = settings.login_rate_limit_per_minute
    settings.login_rate_limit_per_minute = 10_000
    yield
    settings.login_rate_limit_per_minute = saved


def call(rig: Rig, method: str, path: str, token: str, status: int = 200, **kwargs: Any) -> Any:
    answer = requests.request(
        method, rig.base_url + path, headers={"Authorization": f"Bearer {token}"}, timeout=20, **kwargs
    )
    assert answer.status_code == status, (method, path, answer.text)
    return answer.json() if answer.content else None


class Town:
    """The subdistrict in the rig's database: its areas, the party office's admin, and people by name."""

    def __init__(self, rig: Rig, tag: str) -> None:
        self.rig = rig
        self.tag = tag
        with rig.app.app_context():
            areas = {a.code: a for a in db.session.scalars(select(Area))}
            if "KJ" not in areas:
                kj = Area(kind=AreaKind.SUBDISTRICT, code="KJ", name="控江路街道", path="/KJ/")
                db.session.add(kj)
                db.session.flush()
                for code in ("KJ01", "KJ02"):
                    db.session.add(
                        Area(
                            kind=AreaKind.COMMITTEE,
                            code=code,
                            name=f"{code}居委会",
                            parent_id=kj.id,
                            path=f"/KJ/{code}/",
                        )
                    )
            create_staff(f"party-office-{tag}", STAFF_PASSWORD, Role.ADMIN, "KJ")
            db.session.commit()
            self.areas = {a.code: str(a.id) for a in db.session.scalars(select(Area))}
        self.admin = login(
            rig, "/api/v1/auth/staff-login", {"username": f"party-office-{tag}", "password": STAFF_PASSWORD}
        )["access_token"]
        self.orgs: dict[str, str] = {}
        self.tokens: dict[str, str] = {}
        self.members: dict[str, str] = {}

    def org(self, key: str, name: str, kind: str, parent: str | None, area: str) -> None:
        body = {"code": f"{key}{self.tag}".upper()[:24], "name": name, "kind": kind, "area_id": self.areas[area]}
        if parent:
            body["parent_id"] = self.orgs[parent]
        self.orgs[key] = call(self.rig, "POST", f"{ADMIN}/orgs", self.admin, 201, json=body)["id"]

    def join(self, name: str, branch: str) -> None:
        session = login(self.rig, "/api/v1/auth/wechat-login", {"code": f"{self.tag}-{uuid.uuid4().hex[:8]}#1"})
        body = {
            "name": name,
            "user_id": session["user"]["id"],
            "category": "full",
            "joined_on": "1980-07-01",
            "branch_id": self.orgs[branch],
        }
        self.members[name] = call(self.rig, "POST", f"{ADMIN}/members", self.admin, 201, json=body)["id"]
        self.tokens[name] = session["access_token"]

    def appoint(self, name: str, org: str) -> None:
        body = {"member_id": self.members[name], "post": "secretary"}
        call(self.rig, "POST", f"{ADMIN}/orgs/{self.orgs[org]}/officers", self.admin, 201, json=body)


def test_a_branch_assembly_dues_paid_online_and_a_transfer_as_the_issue_judges_them(rig: Rig) -> None:
    town = Town(rig, "j1")
    town.org("dgw", "控江路街道党工委", "committee", None, "KJ")
    town.org("zz", "控江一村居民区党总支", "general_branch", "dgw", "KJ01")
    town.org("a", "控江一村第一党支部", "branch", "zz", "KJ01")
    town.org("b", "控江一村第二党支部", "branch", "zz", "KJ01")
    members_a = [f"甲{i:02d}" for i in range(33)]
    for name in members_a:
        town.join(name, "a")
    town.join("乙书记", "b")
    town.join("乙党员", "b")
    town.appoint("甲00", "a")
    town.appoint("乙书记", "zz")
    secretary, above = town.tokens["甲00"], town.tokens["乙书记"]

    with rig.worker.log_on_failure():
        # The branch secretary schedules a 支部党员大会: the roster is the 33 members in good standing.
        starts = utcnow() + timedelta(minutes=10)
        meeting = call(
            rig,
            "POST",
            f"{ADMIN}/meetings",
            secretary,
            201,
            json={
                "org_id": town.orgs["a"],
                "kind": "branch_assembly",
                "topic": "2026年第二季度支部党员大会",
                "place": "控江一村睦邻中心",
                "starts_at": starts.isoformat(),
                "ends_at": (starts + timedelta(hours=2)).isoformat(),
                "presenter_name": "甲00",
                "recorder_name": "甲01",
            },
        )
        roster = call(rig, "GET", f"{ADMIN}/meetings/{meeting['id']}/attendance?limit=100", secretary)["items"]
        assert len(roster) == 33

        # Two ask for leave before the start; the organiser approves.
        for name in ("甲31", "甲32"):
            call(rig, "POST", f"{PARTY}/meetings/{meeting['id']}/leave", town.tokens[name], json={"reason": "外出就医"})
            decision = {"member_id": town.members[name], "approve": True}
            call(rig, "POST", f"{ADMIN}/meetings/{meeting['id']}/leave-decisions", secretary, json=decision)

        # Thirty sign in within the window by scanning the meeting's code, all at once; one stays away.
        code = call(rig, "GET", f"{ADMIN}/meetings/{meeting['id']}/sign-in-code", secretary)["code"]

        def sign_in(name: str) -> int:
            answer = requests.post(
                rig.base_url + f"{PARTY}/meeting-sign-ins",
                json={"code": code},
                headers={"Authorization": f"Bearer {town.tokens[name]}"},
                timeout=30,
            )
            return answer.status_code

        with ThreadPoolExecutor(max_workers=10) as pool:
            assert list(pool.map(sign_in, members_a[:30])) == [200] * 30
        outsider = requests.post(
            rig.base_url + f"{PARTY}/meeting-sign-ins",
            json={"code": code},
            headers={"Authorization": f"Bearer {town.tokens['乙党员']}"},
            timeout=10,
        )
        assert (outsider.status_code, outsider.json()["code"]) == (422, "party_not_on_roster")

        # An hour and a half passes (the meeting is moved back in time); the beat's job closes it on the worker.
        with rig.app.app_context():
            moved = db.session.get(PartyMeeting, uuid.UUID(meeting["id"]))
            moved.starts_at -= timedelta(minutes=90)
            moved.ends_at -= timedelta(minutes=90)
            held_at = moved.starts_at
            db.session.commit()
        assert rig.run_task("party.close_meetings") == "1"
        statuses = [
            r["status"]
            for r in call(rig, "GET", f"{ADMIN}/meetings/{meeting['id']}/attendance?limit=100", secretary)["items"]
        ]
        assert (statuses.count("present"), statuses.count("leave"), statuses.count("absent")) == (30, 2, 1)

        # Minutes: written and submitted by the branch, approved by the 总支 above, then locked.
        minutes = f"{ADMIN}/meetings/{meeting['id']}/minutes"
        call(
            rig,
            "PUT",
            minutes,
            secretary,
            json={"content": "应到33人，实到30人，请假2人，缺席1人。", "decisions": "通过发展对象名单"},
        )
        call(rig, "POST", f"{minutes}/transitions", secretary, json={"action": "submit"})
        assert call(rig, "POST", f"{minutes}/transitions", above, json={"action": "approve"})["status"] == "approved"
        locked = requests.put(
            rig.base_url + minutes, json={"content": "改"}, headers={"Authorization": f"Bearer {secretary}"}, timeout=10
        )
        assert (locked.status_code, locked.json()["code"]) == (409, "party_minutes_locked")
        assert call(rig, "GET", minutes, secretary)["content"] == "应到33人，实到30人，请假2人，缺席1人。"

        # The quarter's figures show it.
        quarter = Quarter.of(held_at).label
        figures = call(rig, "GET", f"{ADMIN}/orgs/{town.orgs['zz']}/figures?quarter={quarter}", above)
        branch_a = next(b for b in figures["branches"] if b["org_id"] == town.orgs["a"])
        assert next(r for r in branch_a["required"] if r["kind"] == "branch_assembly") == {
            "kind": "branch_assembly",
            "name": "支部党员大会",
            "due": 1,
            "held": 1,
        }
        assert branch_a["attendance"] == {
            "expected": 33,
            "present": 30,
            "leave": 2,
            "absent": 1,
            "rate": round(30 / 33, 4),
            "rate_excluding_leave": round(30 / 31, 4),
        }

        # A retired member with a 4,800 元 pension declares it; the branch confirms 24.00 元 a month.
        retired = town.tokens["甲05"]
        declared = call(
            rig,
            "POST",
            f"{PARTY}/me/dues/declarations",
            retired,
            201,
            json={"income_kind": "pension", "base_fen": 480_000},
        )
        assert declared["standard_fen"] == 2400
        call(rig, "POST", f"{ADMIN}/dues-declarations/{declared['id']}/decision", secretary, json={"confirm": True})
        first = current_month(utcnow())
        months = [month_label(add_months(first, i)) for i in range(3)]
        paying = call(rig, "POST", f"{PARTY}/me/dues/payments", retired, 201, json={"months": months})
        assert (paying["amount_fen"], paying["status"]) == (7200, "pending")
        prepaid = call(rig, "POST", f"/api/v1/payments/{paying['order_id']}/prepay", retired)
        assert prepaid["sandbox"] is False
        order = rig.order(uuid.UUID(paying["order_id"]))
        delivered = FakeWechatPay.send(
            rig.fake.pay(order.out_trade_no), rig.base_url + "/api/v1/payments/wechat/notify"
        )
        assert delivered.status_code == 204, delivered.text

        ledger = call(rig, "GET", f"{PARTY}/me/dues", retired)
        assert ledger["paid_until"] == months[-1]
        paid_months = sorted(ledger["months"], key=lambda m: m["month"])
        assert [(m["month"], m["due_fen"], m["paid"], m["channel"]) for m in paid_months] == [
            (m, 2400, True, "online") for m in months
        ]
        assert call(rig, "GET", f"{PARTY}/me", retired)["dues_paid_until"] == months[-1]
        record = rig.order(uuid.UUID(paying["order_id"]))
        assert (record.status, record.amount_fen, record.purpose) == (OrderStatus.PAID, 7200, "party_dues")
        assert record.transaction_id == rig.fake.orders[record.out_trade_no].transaction_id
        assert rig.fake.orders[record.out_trade_no].total == 7200
        with rig.app.app_context():
            payment = db.session.get(DuesPayment, uuid.UUID(paying["id"]))
            assert (payment.status.value, payment.amount_fen, payment.order_id) == ("paid", 7200, record.id)
            held = db.session.scalars(select(DuesMonth).where(DuesMonth.payment_id == payment.id)).all()
            assert sum(m.due_fen for m in held) == record.amount_fen and {m.paid_at for m in held} == {record.paid_at}
        mine = call(rig, "GET", f"/api/v1/payments/{paying['order_id']}", retired)
        assert (mine["status"], mine["amount_fen"]) == ("paid", 7200)

        # A member transfers to the second branch, then out of the subdistrict: every step on their timeline.
        mover = town.tokens["甲10"]
        inside = call(
            rig,
            "POST",
            f"{PARTY}/me/transfers",
            mover,
            201,
            json={"direction": "inside", "to_org_id": town.orgs["b"], "reason": "搬家"},
        )
        for token, action in (
            (mover, "submit"),
            (secretary, "confirm"),
            (town.admin, "approve"),
            (above, "receive"),
            (town.admin, "complete"),
        ):
            base = f"{PARTY}/me" if token == mover else ADMIN
            call(rig, "POST", f"{base}/transfers/{inside['id']}/transitions", token, json={"action": action})
        out = call(
            rig,
            "POST",
            f"{PARTY}/me/transfers",
            mover,
            201,
            json={"direction": "out", "external_org": "杭州市某街道党工委", "reach": "out_of_city"},
        )
        for token, action in (
            (mover, "submit"),
            (above, "confirm"),
            (town.admin, "approve"),
            (town.admin, "receive"),
            (town.admin, "complete"),
        ):
            base = f"{PARTY}/me" if token == mover else ADMIN
            answer = call(rig, "POST", f"{base}/transfers/{out['id']}/transitions", token, json={"action": action})
            if action == "approve":
                assert answer["letter"]["valid_until"] and answer["letter"]["to"] == "杭州市某街道党工委"
        timeline = call(rig, "GET", f"{PARTY}/me/transfers", mover)["items"]
        assert [[s["action"] for s in t["steps"]] for t in timeline] == [
            ["create", "submit", "confirm", "approve", "receive", "complete"],
            ["create", "submit", "confirm", "approve", "receive", "complete"],
        ]
        assert [t["status"] for t in timeline] == ["completed", "completed"]
        assert {t["to_org"]["name"] if t["to_org"] else t["external_org"] for t in timeline} == {
            "控江一村第二党支部",
            "杭州市某街道党工委",
        }
        gone = requests.get(rig.base_url + f"{PARTY}/me", headers={"Authorization": f"Bearer {mover}"}, timeout=10)
        assert gone.json()["code"] == "not_a_party_member"

        # A member of branch A never sees branch B's roster.
        roll = call(rig, "GET", f"{PARTY}/me/branch/members?limit=100", town.tokens["甲20"])["items"]
        names = {entry["name"] for entry in roll}
        assert names == set(members_a) - {"甲10"} and not names & {"乙书记", "乙党员"}
        other = requests.get(
            rig.base_url + f"{ADMIN}/members/{town.members['乙党员']}",
            headers={"Authorization": f"Bearer {secretary}"},
            timeout=10,
        )
        assert other.status_code == 404


def test_a_month_paid_at_the_same_moment_twice_is_paid_once(rig: Rig) -> None:
    """Two branch officers record the same member's month at the same moment: one payment, the other a 409."""
    town = Town(rig, "j2")
    town.org("dgw", "党工委", "committee", None, "KJ")
    town.org("a", "党支部", "branch", "dgw", "KJ02")
    town.join("丙", "a")
    town.join("丁书记", "a")
    town.appoint("丁书记", "a")
    call(
        rig,
        "POST",
        f"{ADMIN}/members/{town.members['丙']}/dues/declarations",
        town.admin,
        201,
        json={"income_kind": "student"},
    )
    month = month_label(current_month(utcnow()))

    def record(token: str) -> int:
        answer = requests.post(
            rig.base_url + f"{ADMIN}/members/{town.members['丙']}/dues/payments",
            json={"months": [month]},
            headers={"Authorization": f"Bearer {token}"},
            timeout=30,
        )
        return answer.status_code

    with ThreadPoolExecutor(max_workers=4) as pool:
        answers = sorted(pool.map(record, [town.admin, town.tokens["丁书记"]] * 2))
    assert answers == [201, 409, 409, 409]
    with rig.app.app_context():
        member_id = uuid.UUID(town.members["丙"])
        payments = db.session.scalars(select(DuesPayment).where(DuesPayment.member_id == member_id)).all()
        assert [(p.status.value, p.amount_fen) for p in payments] == [("paid", 20)]
        rows = db.session.scalars(select(DuesMonth).where(DuesMonth.member_id == member_id)).all()
        assert [(month_label(r.month), r.payment_id) for r in rows] == [(month, payments[0].id)]
