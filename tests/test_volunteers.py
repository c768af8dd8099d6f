"""Volunteers as the people using them notice it: a resident applies and is approved, finds the tasks they can take,
signs up (a place, else the waitlist; never more people than places, even in a rush on PostgreSQL), leaves, is
promoted, checks in with the owner's code; the owner closes the roster; hours and coins land in the ledgers and on a
PDF certificate whose code anyone can verify; and a smoke alarm nobody answers reaches the on-duty volunteers next
door — not one across the subdistrict — the first two to accept see the address, the third is told to stand down.

Time is moved by setting the domain's clock (`clock`), never by sleeping.
"""

from __future__ import annotations

import re
import threading
import uuid
import zlib
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import func, select, text

from api.accounts.models import Area, HouseholdMember, HouseholdRelation, Role, User
from api.accounts.services import issue_tokens
from api.alerts import services as alerts
from api.db import db, utcnow
from api.devices.models import Device, DeviceStatus, DeviceType
from api.eldercare.models import Elder, ElderStatus, MonitoringConsent
from api.notifications.models import Notification
from api.volunteers import certificates, ledger, roster, services
from api.volunteers.models import (
    CoinEntry,
    HourClaim,
    HourEntry,
    LedgerAccount,
    Signup,
    SignupStatus,
    Skill,
    Task,
    TaskStatus,
)
from tests.conftest import PG_URL, bearer, wechat_login
from tests.factories import iot_event as event
from tests.factories import pushed
from tests.test_alerts import commit

KJ01_01 = (31.2800, 121.5300)  # the elder's estate
KJ02_01 = (31.2950, 121.5500)  # about 2.5 km away


def ok(response: Any, status: int = 200) -> Any:
    assert response.status_code == status, response.get_json()
    return response.get_json()


def refused(response: Any, status: int, code: str) -> dict[str, Any]:
    body = response.get_json()
    assert response.status_code == status, body
    assert set(body) == {"code", "message", "errors"} and body["code"] == code, body
    return body


def at(moment: datetime) -> str:
    return moment.isoformat()


def north_of(point: tuple[float, float], metres: float) -> tuple[float, float]:
    return point[0] + metres / 111_320, point[1]


class Clock:
    """The domain's idea of now, moved by the test (services, roster, ledger and certificates read it)."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch) -> None:
        self.now: datetime | None = None
        for module in (services, roster, ledger, certificates):
            monkeypatch.setattr(module, "utcnow", self.read)

    def read(self) -> datetime:
        return self.now or utcnow()

    def set(self, moment: datetime) -> None:
        self.now = moment


@pytest.fixture
def clock(monkeypatch: pytest.MonkeyPatch) -> Clock:
    return Clock(monkeypatch)


@dataclass
class Volunteer:
    name: str
    user_id: uuid.UUID
    profile_id: str
    headers: dict[str, str]


@pytest.fixture
def place(world) -> dict[str, Area]:
    """The two estates of the small world on the map, and the skill list."""
    world.areas["KJ01-01"].lat, world.areas["KJ01-01"].lng = KJ01_01
    world.areas["KJ02-01"].lat, world.areas["KJ02-01"].lng = KJ02_01
    for code, name in (("elder_care", "助老"), ("first_aid", "急救证"), ("meal_delivery", "助餐配送")):
        db.session.add(Skill(code=code, name=name))
    db.session.commit()
    return world.areas


@pytest.fixture
def enrol(client, world, place, kj01_staff):
    """A resident who applied and was approved by KJ01's staff."""
    counter = iter(range(1, 10_000))

    def make(
        name: str | None = None,
        *,
        skills: tuple[str, ...] = ("elder_care",),
        committees: tuple[str, ...] = ("KJ01",),
        estate: str = "KJ01-01",
        approve: bool = True,
    ) -> Volunteer:
        name = name or f"志愿者{next(counter)}"
        tokens = wechat_login(client, f"vol-{name}#1")
        headers = bearer(tokens["access_token"])
        profile = ok(
            client.post(
                "/api/v1/me/volunteer",
                json={
                    "real_name": name,
                    "skills": list(skills),
                    "committee_ids": [str(world.areas[c].id) for c in committees],
                    "home_estate_id": str(world.areas[estate].id),
                    "availability": [{"weekday": d, "start": "07:00", "end": "21:00"} for d in range(1, 8)],
                },
                headers=headers,
            ),
            201,
        )
        assert profile["status"] == "pending"
        if approve:
            staff = kj01_staff["headers"] if committees[0] == "KJ01" else None
            assert staff is not None
            ok(client.post(f"/api/v1/admin/volunteer-profiles/{profile['id']}/approve", headers=staff))
        return Volunteer(name, uuid.UUID(tokens["user"]["id"]), profile["id"], headers)

    return make


@pytest.fixture
def make_task(client, world, place, kj01_staff):
    def make(headers: dict[str, str] | None = None, **overrides: Any) -> dict[str, Any]:
        now = utcnow()
        body = {
            "title": "探访独居老人",
            "kind": "elder_visit",
            "area_id": str(world.areas["KJ01-01"].id),
            "address": "控江一村2号楼301室",
            "door_notes": "敲门三下，老人耳背",
            "starts_at": at(now + timedelta(days=2)),
            "ends_at": at(now + timedelta(days=2, hours=2)),
            "slots": 2,
            "waitlist_limit": 2,
            "checkin_rule": "owner_code",
            "skills": ["elder_care"],
        }
        body.update(overrides)
        body = {k: v for k, v in body.items() if v is not None}
        return ok(
            client.post("/api/v1/admin/volunteer-tasks", json=body, headers=headers or kj01_staff["headers"]), 201
        )

    return make


def sign_up(client, who: Volunteer, task_id: str, key: str | None = None) -> Any:
    headers = {**who.headers, **({"Idempotency-Key": key} if key else {})}
    return client.post(f"/api/v1/volunteer/tasks/{task_id}/signups", headers=headers)


def kinds_to(user_id: uuid.UUID) -> list[str]:
    db.session.expire_all()
    return list(
        db.session.scalars(
            select(Notification.kind).where(Notification.user_id == user_id).order_by(Notification.created_at)
        )
    )


def everything() -> dict[str, int]:
    db.session.expire_all()
    return {
        name: db.session.scalar(select(func.count()).select_from(model))
        for name, model in (("signups", Signup), ("hours", HourEntry), ("coins", CoinEntry), ("claims", HourClaim))
    }


# ----------------------------------------------------------------------------------------------------
# Applying and finding tasks
# ----------------------------------------------------------------------------------------------------


def test_an_applicant_takes_no_task_until_staff_approve_and_is_told(client, enrol, make_task):
    task = make_task()
    pending = enrol("李明", approve=False)
    refused(client.get("/api/v1/volunteer/tasks", headers=pending.headers), 403, "volunteer_not_approved")
    refused(sign_up(client, pending, task["id"]), 403, "volunteer_not_approved")

    staff = bearer(wechat_login(client, "nobody#1")["access_token"])
    refused(
        client.post(f"/api/v1/admin/volunteer-profiles/{pending.profile_id}/approve", headers=staff), 403, "forbidden"
    )
    kj01 = bearer(
        ok(
            client.post(
                "/api/v1/auth/staff-login", json={"username": "kj01-staff", "password": "correct horse battery staple"}
            )
        )["access_token"]
    )
    ok(client.post(f"/api/v1/admin/volunteer-profiles/{pending.profile_id}/approve", headers=kj01))
    assert "volunteer_profile_decided" in kinds_to(pending.user_id)
    listed = ok(client.get("/api/v1/volunteer/tasks", headers=pending.headers))["items"]
    assert [t["id"] for t in listed] == [task["id"]]


def test_the_task_list_holds_what_i_can_take_soonest_or_nearest_first_with_places_and_waitlist(
    client, world, enrol, make_task
):
    me = enrol("王芳", skills=("elder_care",))
    now = utcnow()
    later = make_task(
        title="较晚的探访", starts_at=at(now + timedelta(days=3)), ends_at=at(now + timedelta(days=3, hours=1))
    )
    sooner = make_task(
        title="较早的探访", starts_at=at(now + timedelta(days=1)), ends_at=at(now + timedelta(days=1, hours=1))
    )
    far_but_first = make_task(
        title="居委会的巡查",
        kind="patrol",
        skills=[],
        area_id=str(world.areas["KJ01"].id),
        lat=north_of(KJ01_01, 900)[0],
        lng=KJ01_01[1],
        starts_at=at(now + timedelta(hours=20)),
        ends_at=at(now + timedelta(hours=21)),
    )
    make_task(title="需要急救证", skills=["first_aid"])
    kj02 = bearer(
        ok(
            client.post(
                "/api/v1/auth/staff-login", json={"username": "kj02-staff", "password": "correct horse battery staple"}
            )
        )["access_token"]
    )
    make_task(kj02, title="另一个居委会的任务", area_id=str(world.areas["KJ02-01"].id))
    # A task I am confirmed for takes its hours out of the list.
    mine = make_task(
        title="我已报名的", starts_at=at(now + timedelta(days=5)), ends_at=at(now + timedelta(days=5, hours=2))
    )
    ok(sign_up(client, me, mine["id"]), 201)
    make_task(
        title="与我已报名的冲突",
        starts_at=at(now + timedelta(days=5, hours=1)),
        ends_at=at(now + timedelta(days=5, hours=3)),
    )

    soonest = ok(client.get("/api/v1/volunteer/tasks", headers=me.headers))["items"]
    assert [t["title"] for t in soonest] == ["居委会的巡查", "较早的探访", "较晚的探访"]
    assert all(t["places_left"] == 2 and t["waitlist_count"] == 0 and t["address"] is None for t in soonest)
    assert soonest[1]["place"].endswith("KJ01小区")

    nearest = ok(
        client.get(
            "/api/v1/volunteer/tasks",
            query_string={"sort": "nearest", "limit": 2, **dict(zip(("lat", "lng"), KJ01_01, strict=True))},
            headers=me.headers,
        )
    )
    assert [t["id"] for t in nearest["items"]] == sorted([sooner["id"], later["id"]])
    assert nearest["items"][0]["distance_m"] == 0
    rest = ok(
        client.get(
            "/api/v1/volunteer/tasks",
            query_string={"sort": "nearest", "lat": KJ01_01[0], "lng": KJ01_01[1], "cursor": nearest["next_cursor"]},
            headers=me.headers,
        )
    )
    assert [t["id"] for t in rest["items"]] == [far_but_first["id"]] and 850 < rest["items"][0]["distance_m"] < 950


# ----------------------------------------------------------------------------------------------------
# Signing up
# ----------------------------------------------------------------------------------------------------


def test_a_place_while_places_last_then_the_waitlist_then_full_and_a_second_try_finds_the_first(
    client, enrol, make_task
):
    task = make_task(slots=1, waitlist_limit=1)
    first, second, third = enrol(), enrol(), enrol()
    placed = ok(sign_up(client, first, task["id"], key="tap-1"), 201)
    assert placed["status"] == "confirmed"
    again = sign_up(client, first, task["id"], key="tap-1")
    assert again.status_code == 201 and again.headers["Idempotent-Replayed"] == "true"
    assert ok(sign_up(client, first, task["id"]))["id"] == placed["id"]  # no key: the first stands (200)
    waiting = ok(sign_up(client, second, task["id"]), 201)
    assert (waiting["status"], waiting["position"]) == ("waitlisted", 1)
    before = everything()
    refused(sign_up(client, third, task["id"]), 409, "task_full")
    assert everything() == before
    shown = ok(client.get(f"/api/v1/volunteer/tasks/{task['id']}", headers=third.headers))
    assert (shown["places_left"], shown["waitlist_count"]) == (0, 1)


def test_a_task_outside_my_committees_or_skills_is_refused_with_the_reason(client, world, enrol, make_task):
    me = enrol("赵强", skills=())
    needs_skill = make_task()
    body = refused(sign_up(client, me, needs_skill["id"]), 403, "volunteer_not_eligible")
    assert "助老" in body["message"] and body["errors"]["eligibility"] == ["需要技能：助老"]
    kj02 = bearer(
        ok(
            client.post(
                "/api/v1/auth/staff-login", json={"username": "kj02-staff", "password": "correct horse battery staple"}
            )
        )["access_token"]
    )
    elsewhere = make_task(kj02, skills=[], area_id=str(world.areas["KJ02-01"].id))
    body = refused(sign_up(client, me, elsewhere["id"]), 403, "volunteer_not_eligible")
    assert "不在您服务的居委会" in body["message"]


def test_an_overlapping_task_is_refused_unless_the_owner_puts_me_on_it(client, enrol, make_task, kj01_staff):
    me = enrol()
    now = utcnow()
    first = make_task(starts_at=at(now + timedelta(days=1)), ends_at=at(now + timedelta(days=1, hours=2)))
    second = make_task(
        title="同一时段的助餐",
        starts_at=at(now + timedelta(days=1, hours=1)),
        ends_at=at(now + timedelta(days=1, hours=3)),
    )
    ok(sign_up(client, me, first["id"]), 201)
    body = refused(sign_up(client, me, second["id"]), 409, "task_overlaps")
    assert "探访独居老人" in body["message"]
    url = f"/api/v1/admin/volunteer-tasks/{second['id']}/signups"
    refused(client.post(url, json={"profile_id": me.profile_id}, headers=kj01_staff["headers"]), 409, "task_overlaps")
    added = ok(
        client.post(url, json={"profile_id": me.profile_id, "override_overlap": True}, headers=kj01_staff["headers"]),
        201,
    )
    assert added["status"] == "confirmed" and added["overlap_override"] is True


def test_leaving_frees_the_place_for_the_first_waiting_who_is_told_and_late_leaving_needs_a_reason(
    client, enrol, make_task, kj01_staff, clock
):
    now = utcnow()
    task = make_task(
        slots=1, waitlist_limit=3, starts_at=at(now + timedelta(days=3)), ends_at=at(now + timedelta(days=3, hours=2))
    )
    first, second, third = enrol(), enrol(), enrol()
    placed = ok(sign_up(client, first, task["id"]), 201)
    ok(sign_up(client, second, task["id"]), 201)
    ok(sign_up(client, third, task["id"]), 201)

    left = ok(client.post(f"/api/v1/volunteer/signups/{placed['id']}/leave", json={}, headers=first.headers))
    assert left["status"] == "cancelled" and left["late_cancel"] is False
    mine = ok(client.get("/api/v1/me/volunteer/tasks", headers=second.headers))["items"][0]
    assert mine["status"] == "confirmed"
    assert "volunteer_promoted" in kinds_to(second.user_id) and "volunteer_promoted" not in kinds_to(third.user_id)
    assert ok(client.get("/api/v1/me/volunteer/tasks", headers=third.headers))["items"][0]["position"] == 1

    clock.set(utcnow() + timedelta(days=2, hours=12))  # inside the 24 h cancel deadline
    url = f"/api/v1/volunteer/signups/{mine['id']}/leave"
    refused(client.post(url, json={}, headers=second.headers), 422, "leave_reason_required")
    late = ok(client.post(url, json={"reason": "家里老人住院"}, headers=second.headers))
    assert late["late_cancel"] is True
    roster_ = ok(client.get(f"/api/v1/admin/volunteer-tasks/{task['id']}/roster", headers=kj01_staff["headers"]))[
        "items"
    ]
    mine_there = next(r for r in roster_ if r["user_id"] == str(second.user_id))
    assert mine_there["reliability"]["late_cancels"] == 1 and mine_there["leave_reason"] == "家里老人住院"
    # The third moved up in turn; volunteers never see each other's reliability.
    assert ok(client.get("/api/v1/me/volunteer/tasks", headers=third.headers))["items"][0]["status"] == "confirmed"
    assert "reliability" not in ok(client.get(f"/api/v1/volunteer/tasks/{task['id']}", headers=third.headers))


def test_promotion_stops_before_the_start_and_the_owner_fills_by_hand(
    client, enrol, make_task, kj01_staff, clock, settings
):
    task = make_task(slots=1, waitlist_limit=2)
    first, second = enrol(), enrol()
    placed = ok(sign_up(client, first, task["id"]), 201)
    waiting = ok(sign_up(client, second, task["id"]), 201)
    starts = datetime.fromisoformat(task["starts_at"])
    clock.set(starts - timedelta(minutes=settings.volunteers_promotion_stop_minutes - 5))
    ok(
        client.post(
            f"/api/v1/volunteer/signups/{placed['id']}/leave", json={"reason": "临时加班"}, headers=first.headers
        )
    )
    assert ok(client.get("/api/v1/me/volunteer/tasks", headers=second.headers))["items"][0]["status"] == "waitlisted"
    promoted = ok(
        client.post(
            f"/api/v1/admin/volunteer-tasks/{task['id']}/signups/{waiting['id']}/promote",
            json={},
            headers=kj01_staff["headers"],
        )
    )
    assert promoted["status"] == "confirmed"


def test_reserved_places_are_the_groups_until_they_expire(client, world, enrol, make_task, kj01_staff, clock):
    member, outsider, late = enrol("队员"), enrol("路人"), enrol("后来者")
    group = ok(
        client.post("/api/v1/admin/volunteer-groups", json={"name": "助老服务队"}, headers=kj01_staff["headers"]), 201
    )
    ok(
        client.post(
            f"/api/v1/admin/volunteer-groups/{group['id']}/members",
            json={"profile_id": member.profile_id},
            headers=kj01_staff["headers"],
        ),
        201,
    )
    now = utcnow()
    task = make_task(
        slots=2,
        waitlist_limit=5,
        reserved_group_id=group["id"],
        reserved_slots=1,
        reserved_until=at(now + timedelta(days=1)),
    )
    assert ok(sign_up(client, outsider, task["id"]), 201)["status"] == "confirmed"
    assert ok(sign_up(client, late, task["id"]), 201)["status"] == "waitlisted"  # the last place is the group's
    assert ok(sign_up(client, member, task["id"]), 201)["status"] == "confirmed"

    other = make_task(
        title="第二个",
        slots=1,
        waitlist_limit=5,
        reserved_group_id=group["id"],
        reserved_slots=1,
        reserved_until=at(now + timedelta(days=1)),
        starts_at=at(now + timedelta(days=4)),
        ends_at=at(now + timedelta(days=4, hours=1)),
    )
    assert ok(sign_up(client, outsider, other["id"]), 201)["status"] == "waitlisted"
    clock.set(now + timedelta(days=1, minutes=1))
    with client.application.app_context():
        assert roster.reopen_reservations(settings_of(client), clock.read()) == 1
        db.session.commit()
    assert (
        ok(client.get(f"/api/v1/volunteer/tasks/{other['id']}", headers=outsider.headers))["my_status"] == "confirmed"
    )


def settings_of(client: Any) -> Any:
    return client.application.extensions["linli.settings"]


def test_the_exact_address_shows_only_to_the_confirmed_and_only_near_the_time(
    client, enrol, make_task, clock, settings
):
    task = make_task(slots=1, waitlist_limit=1)
    confirmed, waiting = enrol(), enrol()
    ok(sign_up(client, confirmed, task["id"]), 201)
    ok(sign_up(client, waiting, task["id"]), 201)
    url = f"/api/v1/volunteer/tasks/{task['id']}"
    assert ok(client.get(url, headers=confirmed.headers))["address"] is None  # two days ahead
    clock.set(
        datetime.fromisoformat(task["starts_at"]) - timedelta(minutes=settings.volunteers_address_lead_minutes - 1)
    )
    shown = ok(client.get(url, headers=confirmed.headers))
    assert (shown["address"], shown["door_notes"]) == ("控江一村2号楼301室", "敲门三下，老人耳背")
    assert ok(client.get(url, headers=waiting.headers))["address"] is None
    clock.set(datetime.fromisoformat(task["ends_at"]) + timedelta(minutes=1))
    assert ok(client.get(url, headers=confirmed.headers))["address"] is None


# ----------------------------------------------------------------------------------------------------
# Reminders
# ----------------------------------------------------------------------------------------------------


def test_a_reminder_asks_for_confirmation_and_an_unconfirmed_place_goes_to_the_waitlist(
    client, app, enrol, make_task, settings
):
    task = make_task(slots=2, waitlist_limit=2)
    sure, silent, waiting = enrol(), enrol(), enrol()
    sure_signup = ok(sign_up(client, sure, task["id"]), 201)
    ok(sign_up(client, silent, task["id"]), 201)
    ok(sign_up(client, waiting, task["id"]), 201)
    starts = datetime.fromisoformat(task["starts_at"])
    with app.app_context():
        assert roster.send_reminders(settings, starts - timedelta(hours=20)) == 2
        assert roster.send_reminders(settings, starts - timedelta(hours=19)) == 0
        commit()
    assert "volunteer_task_reminder" in kinds_to(silent.user_id)
    ok(client.post(f"/api/v1/volunteer/signups/{sure_signup['id']}/confirm", headers=sure.headers))
    settings.volunteers_promotion_stop_minutes = 30
    with app.app_context():
        assert (
            roster.release_unconfirmed(settings, starts - timedelta(minutes=settings.volunteers_confirm_by_minutes - 1))
            == 1
        )
        commit()
    statuses = {
        v.name: ok(client.get("/api/v1/me/volunteer/tasks", headers=v.headers))["items"][0]["status"]
        for v in (sure, silent, waiting)
    }
    assert statuses == {sure.name: "confirmed", silent.name: "released", waiting.name: "confirmed"}
    assert "volunteer_place_released" in kinds_to(silent.user_id)


# ----------------------------------------------------------------------------------------------------
# On site, the roster, hours, coins, the certificate
# ----------------------------------------------------------------------------------------------------


def _pdf_text_map(pdf: bytes) -> str:
    """The Unicode text a PDF's fonts map to (their ToUnicode CMaps), to tell which characters it holds."""
    found = []
    for raw in re.findall(rb"stream\r?\n(.*?)\r?\nendstream", pdf, re.S):
        try:
            found.append(zlib.decompress(raw).decode("latin-1"))
        except zlib.error:
            found.append(raw.decode("latin-1"))  # stored as it is
    pairs = re.findall(r"<([0-9A-F]{4})> <([0-9A-F]{4,8})>", "\n".join(found))
    return "".join(chr(int(u[:4], 16)) for _cid, u in pairs)


def test_a_check_in_with_the_owners_code_a_closed_roster_hours_and_coins_and_a_certificate_that_verifies(
    client, app, enrol, make_task, kj01_staff, clock
):
    volunteer = enrol("陈志远")
    task = make_task(slots=3, waitlist_limit=1)
    absent = enrol("缺席者")
    placed = ok(sign_up(client, volunteer, task["id"]), 201)
    ok(sign_up(client, absent, task["id"]), 201)
    code = ok(client.get(f"/api/v1/admin/volunteer-tasks/{task['id']}", headers=kj01_staff["headers"]))["checkin_code"]
    starts = datetime.fromisoformat(task["starts_at"])

    clock.set(starts + timedelta(minutes=3))
    checked = ok(
        client.post(f"/api/v1/volunteer/tasks/{task['id']}/check-in", json={"code": code}, headers=volunteer.headers)
    )
    assert checked["checked_in_at"] is not None and checked["address"] == "控江一村2号楼301室"
    clock.set(starts + timedelta(hours=1, minutes=40))  # 97 minutes of service: 1 h + 37 min → 1.5 h
    ok(
        client.post(
            f"/api/v1/volunteer/tasks/{task['id']}/check-out",
            json={"code": f"linli-vol:{task['id']}:{code}"},
            headers=volunteer.headers,
        )
    )

    closed = ok(
        client.post(f"/api/v1/admin/volunteer-tasks/{task['id']}/roster/close", json={}, headers=kj01_staff["headers"])
    )
    assert closed["status"] == "closed"
    listed = {
        r["user_id"]: r
        for r in ok(client.get(f"/api/v1/admin/volunteer-tasks/{task['id']}/roster", headers=kj01_staff["headers"]))[
            "items"
        ]
    }
    assert listed[str(volunteer.user_id)]["status"] == "attended" and listed[str(volunteer.user_id)]["minutes"] == 90
    assert listed[str(absent.user_id)]["status"] == "no_show"
    assert listed[str(absent.user_id)]["reliability"]["no_shows"] == 1

    hours = ok(client.get("/api/v1/me/volunteer/hours", headers=volunteer.headers))["items"]
    coins = ok(client.get("/api/v1/me/volunteer/coins", headers=volunteer.headers))["items"]
    assert [(h["kind"], h["hours"]) for h in hours] == [("attendance", 1.5)]
    assert [(c["kind"], c["coins"]) for c in coins] == [("earned", 1.5)]  # an elder visit earns 1 coin an hour
    me = ok(client.get("/api/v1/me/volunteer", headers=volunteer.headers))
    assert (me["hours"], me["coins"], me["stars"], me["next_star_hours"]) == (1.5, 1.5, 0, 100)
    assert "volunteer_hours_recorded" in kinds_to(volunteer.user_id)
    assert placed["id"] == listed[str(volunteer.user_id)]["id"]

    pdf = client.get("/api/v1/me/volunteer/certificate", headers=volunteer.headers)
    assert pdf.status_code == 200 and pdf.mimetype == "application/pdf" and pdf.data.startswith(b"%PDF-")
    code = pdf.headers["X-Certificate-Code"]
    assert f"verification:{code}".encode() in pdf.data  # the code is in the document
    assert b"/FontFile2" in pdf.data  # the CJK font travels inside it
    shown = _pdf_text_map(pdf.data)
    assert set("志愿服务证明陈志远控江路街道验证码") <= set(shown), shown
    checked = ok(client.get(f"/api/v1/volunteer-certificates/{code.lower()}"))
    assert checked["valid"] is True and checked["holder"] == "陈*远" and checked["hours"] == 1.5
    assert checked["lines"] == [{"group": "KJ01居委会志愿服务", "recorded_by": "KJ01居委会", "hours": 1.5}]
    refused(client.get("/api/v1/volunteer-certificates/NOPE-NOPE-NOPE"), 404, "not_found")


def test_checking_in_outside_the_window_or_the_geofence_or_with_a_wrong_code_records_nothing(
    client, enrol, make_task, clock, settings
):
    volunteer = enrol()
    fenced = make_task(checkin_rule="geofence", geofence_radius_m=100, lat=KJ01_01[0], lng=KJ01_01[1])
    coded = make_task(
        title="凭码签到", starts_at=at(utcnow() + timedelta(days=4)), ends_at=at(utcnow() + timedelta(days=4, hours=2))
    )
    ok(sign_up(client, volunteer, fenced["id"]), 201)
    ok(sign_up(client, volunteer, coded["id"]), 201)
    starts = datetime.fromisoformat(fenced["starts_at"])
    url = f"/api/v1/volunteer/tasks/{fenced['id']}/check-in"
    before = everything()

    clock.set(starts - timedelta(minutes=settings.volunteers_checkin_grace_minutes + 1))
    refused(
        client.post(url, json={"lat": KJ01_01[0], "lng": KJ01_01[1]}, headers=volunteer.headers),
        422,
        "checkin_outside_window",
    )
    clock.set(starts + timedelta(minutes=1))
    away = north_of(KJ01_01, 400)
    body = refused(
        client.post(url, json={"lat": away[0], "lng": away[1], "accuracy": 10}, headers=volunteer.headers),
        422,
        "checkin_outside_geofence",
    )
    assert "400" in body["message"] or "399" in body["message"]
    code_url = f"/api/v1/volunteer/tasks/{coded['id']}/check-in"
    clock.set(datetime.fromisoformat(coded["starts_at"]) + timedelta(minutes=1))
    for _ in range(settings.volunteers_code_attempts):
        refused(client.post(code_url, json={"code": "000000"}, headers=volunteer.headers), 422, "checkin_code_wrong")
    refused(client.post(code_url, json={"code": "000000"}, headers=volunteer.headers), 429, "too_many_requests")
    db.session.expire_all()
    assert everything() == before
    assert db.session.scalar(select(func.count()).select_from(Signup).where(Signup.checked_in_at.is_not(None))) == 0

    # Inside the fence, but the location is the task's own to the last digit: taken, and flagged for review.
    clock.set(starts + timedelta(minutes=2))
    checked = ok(
        client.post(url, json={"lat": KJ01_01[0], "lng": KJ01_01[1], "accuracy": 5}, headers=volunteer.headers)
    )
    assert checked["checked_in_at"] is not None
    db.session.expire_all()
    assert "check_in:location_identical_to_task" in db.session.get(Signup, uuid.UUID(checked["id"])).flags


def test_a_forgotten_check_out_closes_at_the_planned_end_and_its_hours_wait_for_review(
    client, app, enrol, make_task, kj01_staff, admin, clock, settings
):
    volunteer = enrol()
    task = make_task(kind="patrol", skills=[])
    ok(sign_up(client, volunteer, task["id"]), 201)
    code = ok(client.get(f"/api/v1/admin/volunteer-tasks/{task['id']}", headers=kj01_staff["headers"]))["checkin_code"]
    starts, ends = (datetime.fromisoformat(task[k]) for k in ("starts_at", "ends_at"))
    clock.set(starts)
    ok(client.post(f"/api/v1/volunteer/tasks/{task['id']}/check-in", json={"code": code}, headers=volunteer.headers))
    with app.app_context():
        assert roster.close_forgotten_checkouts(settings, ends + timedelta(hours=1)) == 1
        commit()
    clock.set(ends + timedelta(hours=2))
    ok(client.post(f"/api/v1/admin/volunteer-tasks/{task['id']}/roster/close", json={}, headers=kj01_staff["headers"]))
    assert ok(client.get("/api/v1/me/volunteer/hours", headers=volunteer.headers))["items"] == []
    pending = ok(client.get("/api/v1/admin/volunteer-hours", headers=kj01_staff["headers"]))["items"]
    assert [(c["origin"], c["minutes"], c["note"]) for c in pending] == [("flagged", 120, "check_out:forgotten")]
    refused(
        client.post(f"/api/v1/admin/volunteer-hours/{pending[0]['id']}/approve", headers=kj01_staff["headers"]),
        403,
        "own_hours",
    )
    ok(client.post(f"/api/v1/admin/volunteer-hours/{pending[0]['id']}/approve", headers=admin["headers"]))
    assert [h["hours"] for h in ok(client.get("/api/v1/me/volunteer/hours", headers=volunteer.headers))["items"]] == [
        2.0
    ]


def test_manual_hours_are_capped_pending_and_approved_only_by_someone_else(client, enrol, make_task, kj01_staff, admin):
    volunteer = enrol()
    task = make_task()
    url = "/api/v1/admin/volunteer-hours"
    before = everything()
    refused(
        client.post(
            url,
            json={"task_id": task["id"], "profile_id": volunteer.profile_id, "minutes": 121},
            headers=kj01_staff["headers"],
        ),
        422,
        "hours_above_cap",
    )
    assert everything() == before
    claim = ok(
        client.post(
            url,
            json={"task_id": task["id"], "profile_id": volunteer.profile_id, "minutes": 90, "note": "老人不会用手机"},
            headers=kj01_staff["headers"],
        ),
        201,
    )
    assert claim["status"] == "pending"
    refused(client.post(f"{url}/{claim['id']}/approve", headers=kj01_staff["headers"]), 403, "own_hours")
    assert ok(client.post(f"{url}/{claim['id']}/approve", headers=admin["headers"]))["status"] == "approved"
    refused(client.post(f"{url}/{claim['id']}/approve", headers=admin["headers"]), 409, "claim_decided")
    assert ok(client.get("/api/v1/me/volunteer", headers=volunteer.headers))["hours"] == 1.5


def _credited(
    client, volunteer: Volunteer, task: dict[str, Any], minutes: int, approver: dict[str, Any], staff: dict[str, Any]
) -> None:
    claim = ok(
        client.post(
            "/api/v1/admin/volunteer-hours",
            json={"task_id": task["id"], "profile_id": volunteer.profile_id, "minutes": minutes},
            headers=staff["headers"],
        ),
        201,
    )
    ok(client.post(f"/api/v1/admin/volunteer-hours/{claim['id']}/approve", headers=approver["headers"]))


def test_a_correction_is_a_reversing_entry_never_reversed_again_and_balances_are_the_ledger_sums(
    client, enrol, make_task, kj01_staff, admin
):
    volunteer = enrol()
    task = make_task()
    _credited(client, volunteer, task, 120, admin, kj01_staff)
    _credited(client, volunteer, task, 60, admin, kj01_staff)
    entries = ok(client.get("/api/v1/me/volunteer/hours", headers=volunteer.headers))["items"]
    reversal = ok(
        client.post(
            f"/api/v1/admin/volunteer-hour-entries/{entries[0]['id']}/reverse",
            json={"reason": "重复录入"},
            headers=kj01_staff["headers"],
        ),
        201,
    )
    refused(
        client.post(
            f"/api/v1/admin/volunteer-hour-entries/{entries[0]['id']}/reverse",
            json={"reason": "再来"},
            headers=kj01_staff["headers"],
        ),
        409,
        "already_reversed",
    )
    refused(
        client.post(
            f"/api/v1/admin/volunteer-hour-entries/{reversal['entry_id']}/reverse",
            json={"reason": "撤销冲正"},
            headers=kj01_staff["headers"],
        ),
        409,
        "reversal_of_reversal",
    )
    me = ok(client.get("/api/v1/me/volunteer", headers=volunteer.headers))
    assert (me["hours"], me["coins"]) == (2.0, 2.0)  # the reversed hour took its coin with it
    kinds = [e["kind"] for e in ok(client.get("/api/v1/me/volunteer/coins", headers=volunteer.headers))["items"]]
    assert sorted(kinds) == ["earned", "earned", "reversal"]
    # Every balance is its ledger's sum; nothing but inserts ever touched the ledgers.
    db.session.expire_all()
    for account in db.session.scalars(select(LedgerAccount)):
        assert ledger.hour_balance(account.id) == sum(
            db.session.scalars(select(HourEntry.minutes).where(HourEntry.account_id == account.id))
        )
        assert ledger.coin_balance(account.id) == sum(
            db.session.scalars(select(CoinEntry.centi).where(CoinEntry.account_id == account.id))
        )
    assert sum(db.session.scalars(select(HourEntry.minutes))) == 120


def test_coins_go_to_family_or_the_pool_never_beyond_the_balance(client, world, enrol, make_task, kj01_staff, admin):
    volunteer = enrol("刘洋")
    task = make_task()
    _credited(client, volunteer, task, 120, admin, kj01_staff)  # 2 coins
    mother = wechat_login(client, "liu-mother#1")
    stranger = wechat_login(client, "stranger#1")
    room = world.room("KJ01/101")
    for user_id in (volunteer.user_id, uuid.UUID(mother["user"]["id"])):
        db.session.add(HouseholdMember(user_id=user_id, room_id=room.id, relation=HouseholdRelation.FAMILY))
    db.session.commit()
    url = "/api/v1/me/volunteer/coins/gifts"
    before = everything()
    refused(
        client.post(url, json={"to_user_id": mother["user"]["id"], "coins": 2.5}, headers=volunteer.headers),
        409,
        "coins_insufficient",
    )
    refused(
        client.post(url, json={"to_user_id": stranger["user"]["id"], "coins": 1}, headers=volunteer.headers),
        422,
        "coins_not_family",
    )
    assert everything() == before
    given = ok(
        client.post(
            url,
            json={"to_user_id": mother["user"]["id"], "coins": 1.5},
            headers={**volunteer.headers, "Idempotency-Key": "gift-1"},
        ),
        201,
    )
    replay = client.post(
        url,
        json={"to_user_id": mother["user"]["id"], "coins": 1.5},
        headers={**volunteer.headers, "Idempotency-Key": "gift-1"},
    )
    assert replay.get_json() == given and given["balance"] == 0.5
    ok(client.post("/api/v1/me/volunteer/coins/donations", json={"coins": 0.5}, headers=volunteer.headers), 201)
    refused(
        client.post("/api/v1/me/volunteer/coins/donations", json={"coins": 0.01}, headers=volunteer.headers),
        409,
        "coins_insufficient",
    )
    mothers = ok(client.get("/api/v1/me/volunteer/coins", headers=bearer(mother["access_token"])))["items"]
    assert [(c["kind"], c["coins"]) for c in mothers] == [("gift_in", 1.5)]
    assert "volunteer_coins_received" in kinds_to(uuid.UUID(mother["user"]["id"]))
    db.session.expire_all()
    assert ledger.coin_balance(ledger.pool().id) == 50
    # Coins are only ever moved: what was earned is what is held, by people and the pool.
    assert sum(db.session.scalars(select(CoinEntry.centi))) == 200


def test_star_levels_and_leaderboards_that_respect_an_opt_out(client, world, enrol, make_task, kj01_staff, admin):
    first, second, shy = enrol("钱一"), enrol("孙二"), enrol("李三")
    ok(client.patch("/api/v1/me/volunteer", json={"leaderboard_opt_out": True}, headers=shy.headers))
    task = make_task()
    for who, minutes in ((first, 120), (second, 60), (shy, 120)):
        _credited(client, who, task, minutes, admin, kj01_staff)
    board = ok(
        client.get(
            "/api/v1/volunteer/leaderboards",
            query_string={"committee_id": str(world.areas["KJ01"].id)},
            headers=second.headers,
        )
    )
    assert [(r["rank"], r["name"], r["hours"], r["me"]) for r in board["items"]] == [
        (1, "钱*", 2.0, False),
        (2, "孙*", 1.0, True),
    ]
    assert ledger.stars(99 * 60) == 0 and ledger.stars(100 * 60) == 1 and ledger.stars(1500 * 60) == 5


# ----------------------------------------------------------------------------------------------------
# Groups and leaders
# ----------------------------------------------------------------------------------------------------


def test_a_leader_runs_their_groups_tasks_and_nothing_else(client, world, enrol, make_task, kj01_staff):
    leader, member = enrol("队长"), enrol("队员")
    group = ok(
        client.post("/api/v1/admin/volunteer-groups", json={"name": "助老服务队"}, headers=kj01_staff["headers"]), 201
    )
    other_group = ok(
        client.post("/api/v1/admin/volunteer-groups", json={"name": "环保队"}, headers=kj01_staff["headers"]), 201
    )
    ok(
        client.post(
            f"/api/v1/admin/volunteer-groups/{group['id']}/members",
            json={"profile_id": leader.profile_id, "role": "leader"},
            headers=kj01_staff["headers"],
        ),
        201,
    )
    # Leaders add members, but do not make leaders.
    ok(
        client.post(
            f"/api/v1/admin/volunteer-groups/{group['id']}/members",
            json={"profile_id": member.profile_id},
            headers=leader.headers,
        ),
        201,
    )
    refused(
        client.post(
            f"/api/v1/admin/volunteer-groups/{group['id']}/members",
            json={"profile_id": member.profile_id, "role": "leader"},
            headers=leader.headers,
        ),
        403,
        "forbidden",
    )

    ours = make_task(leader.headers, group_id=group["id"], area_id=None)
    assert ours["group_id"] == group["id"] and ours["owner_id"] == str(leader.user_id)
    staff_task = make_task()
    listed = [t["id"] for t in ok(client.get("/api/v1/admin/volunteer-tasks", headers=leader.headers))["items"]]
    assert listed == [ours["id"]]
    refused(client.get(f"/api/v1/admin/volunteer-tasks/{staff_task['id']}", headers=leader.headers), 404, "not_found")
    refused(
        client.post(
            "/api/v1/admin/volunteer-tasks",
            json={
                "title": "x",
                "kind": "other",
                "starts_at": ours["starts_at"],
                "ends_at": ours["ends_at"],
                "slots": 1,
                "checkin_rule": "owner_code",
                "group_id": other_group["id"],
            },
            headers=leader.headers,
        ),
        422,
        "validation_failed",
    )
    refused(client.get("/api/v1/admin/volunteer-profiles", headers=leader.headers), 403, "forbidden")
    # A member who is no leader finds nothing to run.
    assert ok(client.get("/api/v1/admin/volunteer-tasks", headers=member.headers))["items"] == []


def test_event_staff_ask_for_helpers_and_a_volunteer_task_appears(client, world, enrol, kj01_staff):
    from tests.test_events import event_payload

    h = kj01_staff["headers"]
    event = ok(
        client.post("/api/v1/admin/events", json=event_payload(area_id=str(world.areas["KJ01"].id)), headers=h), 201
    )
    ok(client.post(f"/api/v1/admin/events/{event['id']}/publish", headers=h))
    answer = ok(
        client.post(f"/api/v1/admin/events/{event['id']}/helpers", json={"slots": 3, "note": "签到引导"}, headers=h)
    )
    task_id = answer["answers"]["volunteer_task_id"]
    again = ok(client.post(f"/api/v1/admin/events/{event['id']}/helpers", json={"slots": 5}, headers=h))
    assert again["answers"] == {"volunteer_task_id": task_id, "volunteer_slots": 5}
    volunteer = enrol(skills=())
    listed = ok(client.get("/api/v1/volunteer/tasks", headers=volunteer.headers))["items"]
    assert [(t["id"], t["source"], t["kind"]) for t in listed] == [(task_id, "event", "event_help")]
    ok(sign_up(client, volunteer, task_id), 201)
    ok(client.post(f"/api/v1/admin/events/{event['id']}/cancel", json={"reason": "天气原因"}, headers=h))
    assert ok(client.get("/api/v1/me/volunteer/tasks", headers=volunteer.headers))["items"][0]["status"] == "cancelled"
    assert "volunteer_task_cancelled" in kinds_to(volunteer.user_id)


# ----------------------------------------------------------------------------------------------------
# An alarm next door
# ----------------------------------------------------------------------------------------------------


@pytest.fixture
def smoke_home(world, place) -> str:
    """王阿婆 in KJ01/102 with a smoke detector, and no family to reach: the chain goes to staff, then volunteers."""
    elder = Elder(
        name="王阿婆",
        room_id=world.room("KJ01/102").id,
        status=ElderStatus.ACTIVE,
        conditions="独居；行动不便，钥匙在邻居301",
    )
    db.session.add(elder)
    db.session.flush()
    db.session.add(MonitoringConsent(elder_id=elder.id, given_by="本人", device_types=["*"]))
    db.session.add(
        Device(
            serial="SMK-NEXT-DOOR",
            type=DeviceType.SMOKE_DETECTOR,
            room_id=elder.room_id,
            elder_id=elder.id,
            status=DeviceStatus.ACTIVE,
        )
    )
    db.session.commit()
    return "SMK-NEXT-DOOR"


def _on_duty(client, who: Volunteer, point: tuple[float, float] | None) -> None:
    body = {"on_duty": True, **({"lat": point[0], "lng": point[1]} if point else {})}
    ok(client.post("/api/v1/me/volunteer/duty", json=body, headers=who.headers))


def _raise_and_escalate(client, app, settings, serial: str) -> str:
    alert_id = pushed(client, [event(serial, "smoke")])["results"][0]["alert_id"]
    with app.app_context():
        for minutes in (4, 8):  # staff, then volunteers, each when the alarm waits too long
            alerts.escalate_due(settings, utcnow() + timedelta(minutes=minutes))
            commit()
    return alert_id


def test_a_smoke_alarm_nobody_answers_reaches_the_on_duty_volunteers_next_door_and_the_first_two_go(
    client, app, settings, enrol, smoke_home, kj01_staff
):
    near = [enrol(f"近邻{i}", skills=()) for i in range(3)]
    for who, metres in zip(near, (120, 250, 380), strict=True):
        _on_duty(client, who, north_of(KJ01_01, metres))
    far = enrol("远处", skills=(), estate="KJ02-01")
    _on_duty(client, far, None)  # at home, 2.5 km away
    off_duty = enrol("休息中", skills=())  # next door, but not on duty

    alert_id = _raise_and_escalate(client, app, settings, smoke_home)
    task = db.session.scalar(select(Task).where(Task.source_ref == alert_id))
    assert task is not None and task.urgent and task.slots == 2
    offered = {v.name for v in (*near, far, off_duty) if "volunteer_alert_offer" in kinds_to(v.user_id)}
    assert offered == {v.name for v in near}
    offer_text = db.session.scalar(
        select(Notification.body).where(Notification.kind == "volunteer_alert_offer").limit(1)
    )
    assert "301" not in offer_text and "102室" not in offer_text  # the offer names the estate, not the door
    url = f"/api/v1/volunteer/tasks/{task.id}"
    assert ok(client.get(url, headers=near[0].headers))["address"] is None
    refused(client.get(url, headers=far.headers), 404, "not_found")

    first = ok(sign_up(client, near[2], str(task.id)))
    second = ok(sign_up(client, near[0], str(task.id)))
    assert first["status"] == second["status"] == "confirmed"
    assert first["address"].endswith("102室") and "钥匙在邻居301" in second["door_notes"]
    refused(sign_up(client, near[1], str(task.id)), 409, "task_full")
    assert "volunteer_stand_down" in kinds_to(near[1].user_id)
    assert ok(client.get(url, headers=near[1].headers))["address"] is None
    assert "volunteer_stand_down" not in kinds_to(near[0].user_id)

    # Staff were told in parallel by the chain; once someone acknowledges, nobody else needs to go.
    assert any(k == "device_alert" for k in kinds_to(kj01_staff["user"]["id"] and uuid.UUID(kj01_staff["user"]["id"])))
    ok(client.post(f"/api/v1/alerts/{alert_id}/ack", headers=kj01_staff["headers"]))
    db.session.expire_all()
    assert db.session.get(Task, task.id).status == TaskStatus.HANDLED
    assert "volunteer_stand_down" in kinds_to(near[2].user_id)


def test_a_warning_or_a_volunteer_out_of_range_makes_no_offer(client, app, settings, enrol, smoke_home):
    settings.volunteers_alert_radius_m = 100
    who = enrol(skills=())
    _on_duty(client, who, north_of(KJ01_01, 150))
    alert_id = _raise_and_escalate(client, app, settings, smoke_home)
    assert db.session.scalar(select(Task).where(Task.source_ref == alert_id)) is not None
    assert "volunteer_alert_offer" not in kinds_to(who.user_id)


# ----------------------------------------------------------------------------------------------------
# PostgreSQL: the rush, and the ledgers' guard
# ----------------------------------------------------------------------------------------------------

RUSH = 300
RUSH_SLOTS = 10


@pytest.mark.services
@pytest.mark.commits
@pytest.mark.skipif(not PG_URL, reason="needs PostgreSQL (the services pass)")
def test_300_volunteers_signing_up_in_the_same_second_fill_exactly_ten_places_then_the_waitlist_in_order(
    app, client, world, place, kj01_staff, settings
):
    skill = db.session.scalar(select(Skill).where(Skill.code == "elder_care"))
    committee = world.areas["KJ01"]
    people = []
    from api.volunteers.models import Profile, ProfileStatus

    for i in range(RUSH):
        user = User(wechat_openid=f"rush-vol-{i:03d}", nickname=f"志愿者{i}")
        user.grant(Role.RESIDENT)
        user.grant(Role.VOLUNTEER)
        profile = Profile(user=user, real_name=f"志愿者{i:03d}", area_id=committee.id, status=ProfileStatus.APPROVED)
        profile.skills, profile.committees = [skill], [committee]
        db.session.add(profile)
        people.append(user)
    db.session.flush()
    tokens = [issue_tokens(user, settings).access_token for user in people]
    db.session.commit()
    task = ok(
        client.post(
            "/api/v1/admin/volunteer-tasks",
            json={
                "title": "重阳节敬老活动",
                "kind": "elder_visit",
                "starts_at": at(utcnow() + timedelta(days=2)),
                "ends_at": at(utcnow() + timedelta(days=2, hours=3)),
                "slots": RUSH_SLOTS,
                "waitlist_limit": RUSH,
                "checkin_rule": "owner_code",
            },
            headers=kj01_staff["headers"],
        ),
        201,
    )
    gate, answers, lock = threading.Event(), [], threading.Lock()

    def tap(i: int, key: str | None) -> None:
        headers = {"Authorization": f"Bearer {tokens[i]}", **({"Idempotency-Key": key} if key else {})}
        gate.wait()
        response = app.test_client().post(f"/api/v1/volunteer/tasks/{task['id']}/signups", headers=headers)
        with lock:
            answers.append((i, response.status_code, response.get_json()))

    with ThreadPoolExecutor(max_workers=24) as pool:
        futures = [pool.submit(tap, i, None) for i in range(RUSH)]
        # Twenty people tap twice at once, with the same Idempotency-Key: one sign-up each.
        futures += [pool.submit(tap, i, f"double-{i}") for i in range(0, 40, 2)]
        futures += [pool.submit(tap, i, f"double-{i}") for i in range(0, 40, 2)]
        gate.set()
        for future in futures:
            future.result()

    assert not [a for a in answers if a[1] >= 500], answers[:3]
    ids_per_person: dict[int, set[str]] = {}
    for who, status, body in answers:
        assert status in (200, 201), body
        ids_per_person.setdefault(who, set()).add(body["id"])
    assert all(len(ids) == 1 for ids in ids_per_person.values()), "someone signed up twice"
    db.session.remove()
    rows = db.session.scalars(
        select(Signup).where(Signup.task_id == uuid.UUID(task["id"])).order_by(Signup.created_at)
    ).all()
    statuses = Counter(r.status for r in rows)
    assert statuses == {SignupStatus.CONFIRMED: RUSH_SLOTS, SignupStatus.WAITLISTED: RUSH - RUSH_SLOTS}
    assert len({r.user_id for r in rows}) == RUSH
    waiting = [r for r in rows if r.status == SignupStatus.WAITLISTED]
    assert [r.waitlist_seq for r in waiting] == list(range(1, RUSH - RUSH_SLOTS + 1)), (
        "the waitlist is not in arrival order"
    )
    assert max(r.created_at for r in rows if r.status == SignupStatus.CONFIRMED) <= waiting[0].created_at
    stored = db.session.get(Task, uuid.UUID(task["id"]))
    assert (stored.confirmed_count, stored.waitlist_count) == (RUSH_SLOTS, RUSH - RUSH_SLOTS)


def _leave_at_the_gate(app: Any, gate: threading.Barrier, signup_id: str, headers: dict[str, str]) -> int:
    gate.wait()
    return app.test_client().post(f"/api/v1/volunteer/signups/{signup_id}/leave", json={}, headers=headers).status_code


@pytest.mark.services
@pytest.mark.commits
@pytest.mark.skipif(not PG_URL, reason="needs PostgreSQL (the services pass)")
def test_a_volunteer_waiting_for_two_overlapping_tasks_moves_up_into_one_when_both_free_a_place_at_once(
    app, client, enrol, make_task
):
    for _ in range(4):  # the two departures race; a few rounds give the race its chances
        first, second = make_task(slots=1), make_task(slots=1)  # the same two hours
        leaving_first, leaving_second, waiting = enrol(), enrol(), enrol()
        places = {}
        for who, task in ((leaving_first, first), (leaving_second, second)):
            places[who.name] = ok(
                client.post(f"/api/v1/volunteer/tasks/{task['id']}/signups", headers=who.headers), 201
            )
        for task in (first, second):
            queued = ok(client.post(f"/api/v1/volunteer/tasks/{task['id']}/signups", headers=waiting.headers), 201)
            assert queued["status"] == "waitlisted"
        gate = threading.Barrier(2)
        with ThreadPoolExecutor(max_workers=2) as pool:
            left = [
                pool.submit(_leave_at_the_gate, app, gate, places[who.name]["id"], who.headers)
                for who in (leaving_first, leaving_second)
            ]
            assert [f.result() for f in left] == [200, 200]
        db.session.remove()
        confirmed = db.session.scalars(
            select(Signup.task_id).where(Signup.user_id == waiting.user_id, Signup.status == SignupStatus.CONFIRMED)
        ).all()
        assert len(confirmed) == 1, "moved up into two tasks at the same time, or into none"


@pytest.mark.services
@pytest.mark.commits
@pytest.mark.skipif(not PG_URL, reason="needs PostgreSQL (the services pass)")
def test_the_database_refuses_to_edit_or_delete_a_ledger_entry(client, enrol, make_task, kj01_staff, admin):
    volunteer = enrol()
    _credited(client, volunteer, make_task(), 60, admin, kj01_staff)
    from sqlalchemy.exc import DBAPIError

    for statement in ("UPDATE volunteer_hour_entries SET minutes = 600", "DELETE FROM time_coin_entries"):
        with pytest.raises(DBAPIError, match="append-only"):
            db.session.execute(text(statement))
        db.session.rollback()
    assert db.session.scalar(select(func.sum(HourEntry.minutes))) == 60


def test_the_only_leader_of_a_group_with_members_cannot_leave_without_a_successor(client, enrol, kj01_staff):
    leader, member = enrol("唯一队长"), enrol("队员甲")
    group = ok(
        client.post("/api/v1/admin/volunteer-groups", json={"name": "巡查队"}, headers=kj01_staff["headers"]), 201
    )
    for who, role in ((leader, "leader"), (member, "member")):
        ok(
            client.post(
                f"/api/v1/admin/volunteer-groups/{group['id']}/members",
                json={"profile_id": who.profile_id, "role": role},
                headers=kj01_staff["headers"],
            ),
            201,
        )
    body = refused(client.post("/api/v1/me/account-deletion", headers=leader.headers), 409, "deletion_blocked")
    assert "巡查队" in body["message"]
    assert client.post("/api/v1/me/account-deletion", headers=member.headers).status_code == 202


def test_my_list_shows_each_waiting_place_and_costs_the_same_statements_for_two_as_for_one(client, enrol, make_task):
    from tests.test_read_path import statements_of

    now = utcnow()
    first, second, third = enrol(), enrol(), enrol()
    tasks = [
        make_task(
            slots=1,
            waitlist_limit=2,
            starts_at=at(now + timedelta(days=day)),
            ends_at=at(now + timedelta(days=day, hours=2)),
        )
        for day in (2, 4)
    ]
    for task in tasks:
        ok(sign_up(client, first, task["id"]), 201)
    ok(sign_up(client, second, tasks[0]["id"]), 201)
    mine = "/api/v1/me/volunteer/tasks"
    ok(sign_up(client, third, tasks[0]["id"]), 201)
    one = statements_of(client, mine, third.headers)
    ok(sign_up(client, third, tasks[1]["id"]), 201)
    listed = ok(client.get(mine, headers=third.headers))["items"]
    assert sorted((s["status"], s["position"]) for s in listed) == [("waitlisted", 1), ("waitlisted", 2)]
    assert statements_of(client, mine, third.headers) == one


def test_the_task_list_costs_the_same_statements_for_three_tasks_as_for_one(client, enrol, make_task):
    """Each task shows my sign-up, my availability and its place: loaded with the page, not per task."""
    from tests.test_read_path import statements_of

    now = utcnow()
    me = enrol()

    def task(day: int) -> dict[str, Any]:
        when = now + timedelta(days=day)
        return make_task(starts_at=at(when), ends_at=at(when + timedelta(hours=2)))

    task(2)
    url = "/api/v1/volunteer/tasks"
    one = statements_of(client, url, me.headers)
    for day in (4, 6):
        task(day)
    listed = ok(client.get(url, headers=me.headers))["items"]
    assert len(listed) == 3 and all(t["place"] and t["in_my_availability"] is not None for t in listed)
    assert statements_of(client, url, me.headers) == one
