"""Area scope, walked over the whole admin API: a committee's staff member finds nothing of another committee
through any admin route — every object reads as absent (404), every list leaves it out, nothing changes — while
the whole subdistrict's admin sees all of it. Things with no place yet are the whole subdistrict's.

The walk reads the served OpenAPI document, so a new domain's admin routes are walked on arrival; a route whose
path names an object this file does not create (or whose body it cannot fill) fails the walk until it does.
"""

from __future__ import annotations

import io
import re
import uuid
from datetime import timedelta
from typing import Any

import pytest
from flask import Flask
from sqlalchemy import select

from api import scope
from api.accounts.access import ELDER, record_access
from api.accounts.models import AccessLog, Role, User, UserRole
from api.accounts.services import create_staff
from api.db import db, utcnow
from api.devices.models import Device, DeviceType
from api.errors import NotFound
from api.incidents.categories import ensure_default_catalogue
from api.models import metadata
from api.notifications.models import Notification
from tests.conftest import bearer, staff_login
from tests.factories import iot_event as event
from tests.factories import pushed
from tests.test_events import event_payload
from tests.test_incidents import act, filed, someone

ADMIN_PREFIX = "/api/v1/admin/"
WRITES = ("post", "put", "patch", "delete")


def ok(response: Any, status: int = 200) -> dict[str, Any]:
    assert response.status_code == status, response.get_json()
    return response.get_json()


def answer(response: Any) -> tuple[int, str | None]:
    """The status and error code of an answer (no code: it was not an error)."""
    body = response.get_json(silent=True)
    return response.status_code, body.get("code") if isinstance(body, dict) else None


@pytest.fixture
def kj02(client, world, admin) -> dict[str, str]:
    """One of everything the admin API names by id, all in committee KJ02, made by the subdistrict's admin (and
    the residents who ask for things). Keys are the admin routes' path parameter names."""
    h = admin["headers"]
    room = str(world.room("KJ02/101").id)
    family, applicant, reporter = someone(client, "kj02-son"), someone(client, "kj02-tenant"), someone(client, "kj02-r")

    elder = ok(client.post("/api/v1/admin/elders", json={"name": "赵阿婆", "room_id": room}, headers=h), 201)["id"]
    consent = ok(
        client.post(
            f"/api/v1/admin/elders/{elder}/consents", json={"given_by": "本人", "device_types": ["*"]}, headers=h
        ),
        201,
    )["id"]
    device = ok(
        client.post(
            "/api/v1/admin/devices",
            json={"serial": "KJ02-SMK-1", "type": "smoke_detector", "elder_id": elder},
            headers=h,
        ),
        201,
    )["id"]
    code = ok(client.post(f"/api/v1/admin/elders/{elder}/invites", headers=h), 201)["code"]
    binding = ok(
        client.post("/api/v1/family-bindings", json={"code": code, "relation": "子女"}, headers=family["headers"]),
        201,
    )["id"]
    alert = pushed(client, [event("KJ02-SMK-1", "smoke")])["results"][0]["alert_id"]

    ensure_default_catalogue()
    db.session.commit()
    incidents = [filed(client, reporter)["id"] for _ in range(2)]
    for case in incidents:
        ok(act(client, admin, case, "accept", area_id=str(world.areas["KJ02-01"].id)))

    the_event = ok(
        client.post("/api/v1/admin/events", json=event_payload(area_id=str(world.areas["KJ02"].id)), headers=h), 201
    )["id"]
    ok(client.post(f"/api/v1/admin/events/{the_event}/publish", headers=h))
    ticket = ok(client.post(f"/api/v1/events/{the_event}/bookings", json={}, headers=family["headers"]), 201)["ticket"]
    ok(client.post(f"/api/v1/admin/events/{the_event}/live", json={}, headers=h), 201)

    request = ok(
        client.post(
            "/api/v1/me/household-requests", json={"room_id": room, "relation": "tenant"}, headers=applicant["headers"]
        ),
        201,
    )["id"]
    now = utcnow()
    shift = ok(
        client.post(
            "/api/v1/admin/duty-shifts",
            json={
                "user_id": str(world.users["kj02"].id),
                "area_id": str(world.areas["KJ02"].id),
                "starts_at": now.isoformat(),
                "ends_at": (now + timedelta(hours=8)).isoformat(),
            },
            headers=h,
        ),
        201,
    )["id"]
    # What KJ02's staff read of the elder leaves in the access log.
    record_access(world.users["kj02"], ELDER, [uuid.UUID(elder)], ["name", "phone"])
    db.session.commit()
    unit = ok(
        client.post(
            "/api/v1/admin/handling-units",
            json={"name": "KJ02物业", "kind": "property_company", "area_id": str(world.areas["KJ02"].id)},
            headers=h,
        ),
        201,
    )["id"]
    from api.payments import services as payments

    with client.application.app_context():
        payer = db.session.get(User, uuid.UUID(family["user"]["id"]))
        order = payments.create_order(
            payer, "test", "kj02-1", 1000, "测试订单", 3600, area_path=world.areas["KJ02-01-001"].path
        )
        db.session.commit()
    volunteer = someone(client, "kj02-volunteer")
    skill = ok(
        client.post("/api/v1/admin/volunteer-skills", json={"code": "kj02_help", "name": "帮忙"}, headers=h), 201
    )["id"]
    profile = ok(
        client.post(
            "/api/v1/me/volunteer",
            json={"real_name": "赵志愿", "committee_ids": [str(world.areas["KJ02"].id)], "skills": ["kj02_help"]},
            headers=volunteer["headers"],
        ),
        201,
    )["id"]
    ok(client.post(f"/api/v1/admin/volunteer-profiles/{profile}/approve", headers=h))
    group = ok(
        client.post(
            "/api/v1/admin/volunteer-groups",
            json={"name": "KJ02助老队", "area_id": str(world.areas["KJ02"].id)},
            headers=h,
        ),
        201,
    )["id"]
    task = ok(
        client.post(
            "/api/v1/admin/volunteer-tasks",
            json={
                "title": "KJ02探访",
                "kind": "elder_visit",
                "area_id": str(world.areas["KJ02-01"].id),
                "group_id": group,
                "starts_at": (now + timedelta(days=2)).isoformat(),
                "ends_at": (now + timedelta(days=2, hours=2)).isoformat(),
                "slots": 2,
                "waitlist_limit": 2,
                "checkin_rule": "owner_code",
            },
            headers=h,
        ),
        201,
    )["id"]
    signup = ok(client.post(f"/api/v1/volunteer/tasks/{task}/signups", headers=volunteer["headers"]), 201)["id"]
    hours = {"task_id": task, "profile_id": profile, "minutes": 60}
    credited = ok(client.post("/api/v1/admin/volunteer-hours", json=hours, headers=h), 201)["id"]
    kj02_staff = bearer(staff_login(client, "kj02-staff")["access_token"])
    ok(client.post(f"/api/v1/admin/volunteer-hours/{credited}/approve", headers=kj02_staff))
    claim = ok(client.post("/api/v1/admin/volunteer-hours", json=hours, headers=h), 201)["id"]
    hour_entry = ok(client.get("/api/v1/me/volunteer/hours", headers=volunteer["headers"]))["items"][0]["id"]
    coin_entry = ok(client.get("/api/v1/me/volunteer/coins", headers=volunteer["headers"]))["items"][0]["id"]
    parking = kj02_parking(client, world, admin)
    party = kj02_party(client, world, h, family, applicant)
    aids = kj02_aids(client, world, admin, family)
    care = kj02_care(client, world, h, elder, family)
    meals = kj02_meals(client, world, h, elder)
    return {
        **parking,
        **party,
        **aids,
        **care,
        **meals,
        "skill_id": skill,
        "profile_id": profile,
        "group_id": group,
        "task_id": task,
        "signup_id": signup,
        "claim_id": claim,
        "hour_entry_id": hour_entry,
        "coin_entry_id": coin_entry,
        "order_id": str(order.id),
        "elder_id": elder,
        "consent_id": consent,
        "device_id": device,
        "binding_id": binding,
        "alert_id": alert,
        "incident_id": incidents[0],
        "other_incident_id": incidents[1],
        "event_id": the_event,
        "ticket": ticket,
        "request_id": request,
        "user_id": applicant["user"]["id"],
        "shift_id": shift,
        "unit_id": unit,
    }


def kj02_aids(client: Any, world: Any, admin: dict[str, Any], resident: dict[str, Any]) -> dict[str, str]:
    """A KJ02 service station with a wheelchair in stock, reserved by a resident."""
    from tests.test_aids import make_station

    station = make_station(client, world, admin, admin, area="KJ02-01")
    body = {"type_id": station["types"]["walker"]["id"], "location_id": station["station"]["id"]}
    loan = ok(client.post("/api/v1/aids/reservations", json=body, headers=resident["headers"]), 201)
    return {
        "aid_type_id": station["types"]["walker"]["id"],
        "aid_location_id": station["station"]["id"],
        "aid_item_id": station["items"]["walker"][0]["id"],
        "aid_loan_id": loan["id"],
    }


def kj02_parking(client: Any, world: Any, admin: dict[str, Any]) -> dict[str, str]:
    """A KJ02 lot lent all day, a resident's car and a paid booking on it, a stay that left without an entry
    (an anomaly), and a magnetometer."""
    from tests.parking_support import booked_now, lent_lot, resident_with_car, signed

    lot = lent_lot(
        client, admin, world, area="KJ02", bays=2, rules=[{"days": "everyday", "start": "00:00", "end": "00:00"}]
    )
    driver = resident_with_car(client, admin, world, "kj02-driver", "KJ02/102", "沪K20002")
    booking = booked_now(client, driver, lot)
    lot_id = lot["lot"]["id"]
    now = utcnow()
    entered = signed(
        client,
        "/api/v1/parking/gates/passages",
        [
            {
                "event_id": "kj02-in",
                "lot_id": lot_id,
                "lane": "A",
                "direction": "entry",
                "plate": "沪K20002",
                "at": now.isoformat(),
            },
            {
                "event_id": "kj02-out",
                "lot_id": lot_id,
                "lane": "B",
                "direction": "exit",
                "plate": "沪K29999",
                "at": now.isoformat(),
            },
        ],
    ).get_json()
    anomaly = ok(client.get("/api/v1/admin/parking/anomalies", headers=admin["headers"]))["items"][0]["id"]
    sensor = ok(
        client.post(
            "/api/v1/admin/parking/sensors",
            json={"serial": "KJ02-MAG-1", "space_id": lot["spaces"][1]["id"]},
            headers=admin["headers"],
        ),
        201,
    )["id"]
    return {
        "lot_id": lot_id,
        "space_id": lot["spaces"][0]["id"],
        "offer_id": lot["offer"]["id"],
        "vehicle_id": driver["vehicle_id"],
        "booking_id": booking["id"],
        "anomaly_id": anomaly,
        "session_id": entered["results"][0]["session_id"],
        "sensor_id": sensor,
    }


def kj02_meals(client: Any, world: Any, h: dict[str, str], elder: str) -> dict[str, str]:
    """Daily meal plans of KJ02: a canteen's route with no room left, the elder's lunch plan (phoned in by the admin)
    and the shortage it leaves on the route's list."""
    from api.care.models import CareProvider, CareService, Category, DeliveredBy, FundingTier, Unit

    canteen = CareProvider(name="KJ02长者食堂", kind=DeliveredBy.CANTEEN, area_path="/KJ/KJ02/", daily_capacity=50)
    service = CareService(
        code="kj02-lunch",
        name="助餐（午餐）",
        category=Category.MEAL_CANTEEN,
        unit=Unit.PER_MEAL,
        list_price_fen=1200,
        duration_minutes=60,
        delivered_by=DeliveredBy.CANTEEN,
        funding_tier=FundingTier.SHICHANG,
        cutoff_days_before=None,
        cutoff_local_time=None,
    )
    db.session.add_all([canteen, service])
    db.session.commit()
    route = {
        "canteen_id": str(canteen.id),
        "service_id": str(service.id),
        "name": "KJ02线",
        "mode": "pickup",
        "area_id": str(world.areas["KJ02"].id),
        "meals": ["lunch"],
        "daily_capacity": 0,
    }
    route_id = ok(client.post("/api/v1/admin/care/meal-routes", json=route, headers=h), 201)["id"]
    plan = {
        "elder_id": elder,
        "route_id": route_id,
        "meal": "lunch",
        "schedule": "weekdays",
        "weekdays": "1234567",
        "skip_holidays": False,
    }
    plan_id = ok(client.post("/api/v1/care/meal-plans", json=plan, headers=h), 201)["id"]
    shortage = ok(client.get(f"/api/v1/admin/care/meal-shortages?route_id={route_id}", headers=h))["items"][0]["id"]
    return {"route_id": route_id, "meal_plan_id": plan_id, "meal_shortage_id": shortage}


def kj02_party(
    client: Any, world: Any, h: dict[str, str], member: dict[str, Any], worker: dict[str, Any]
) -> dict[str, str]:
    """Party affairs of KJ02: a branch under the subdistrict's 党工委, a member (the family member's account) who is
    its secretary, with a declaration, a claim and a transfer; a meeting with minutes, a study material, a quiz,
    an announcement, and a working member's registration."""
    party = "/api/v1/admin/party"
    committee = ok(
        client.post(
            f"{party}/orgs",
            json={"code": "KJDGW", "name": "党工委", "kind": "committee", "area_id": str(world.areas["KJ"].id)},
            headers=h,
        ),
        201,
    )["id"]
    branch = ok(
        client.post(
            f"{party}/orgs",
            json={"code": "KJ02ZB", "name": "KJ02党支部", "kind": "branch", "parent_id": committee},
            headers=h,
        ),
        201,
    )["id"]
    body = {"name": "赵党员", "user_id": member["user"]["id"], "category": "full", "joined_on": "1990-07-01"}
    member_id = ok(client.post(f"{party}/members", json={**body, "branch_id": branch}, headers=h), 201)["id"]
    officer = ok(
        client.post(f"{party}/orgs/{branch}/officers", json={"member_id": member_id, "post": "secretary"}, headers=h),
        201,
    )["id"]
    mine = member["headers"]
    declared = {"income_kind": "pension", "base_fen": 480000}
    declaration = ok(client.post("/api/v1/party/me/dues/declarations", json=declared, headers=mine), 201)["id"]
    upload = client.post(
        "/api/v1/media",
        data={"file": (io.BytesIO(_jpeg()), "p.jpg", "image/jpeg")},
        headers=mine,
        content_type="multipart/form-data",
    )
    claimed = {"description": "帮助邻居", "media_ids": [ok(upload, 201)["id"]]}
    claim = ok(client.post("/api/v1/party/me/point-claims", json=claimed, headers=mine), 201)["id"]
    transfer = ok(
        client.post("/api/v1/party/me/transfers", json={"direction": "out", "external_org": "外区党委"}, headers=mine),
        201,
    )["id"]
    starts = utcnow() + timedelta(minutes=10)
    meeting = ok(
        client.post(
            f"{party}/meetings",
            json={
                "org_id": branch,
                "kind": "branch_assembly",
                "topic": "党员大会",
                "place": "KJ02活动室",
                "starts_at": starts.isoformat(),
                "ends_at": (starts + timedelta(hours=1)).isoformat(),
            },
            headers=h,
        ),
        201,
    )["id"]
    ok(client.put(f"{party}/meetings/{meeting}/minutes", json={"content": "会议记录"}, headers=h))
    material = ok(
        client.post(
            f"{party}/study-materials",
            json={"org_id": branch, "kind": "article", "title": "学习材料", "body": "正文"},
            headers=h,
        ),
        201,
    )["id"]
    quiz = ok(
        client.post(
            f"{party}/quizzes",
            json={
                "org_id": branch,
                "title": "测试",
                "opens_at": utcnow().isoformat(),
                "closes_at": (utcnow() + timedelta(days=1)).isoformat(),
                "time_limit_seconds": 600,
                "pass_percent": 60,
                "questions": [{"text": "题目", "options": ["甲", "乙"], "answer": [0]}],
            },
            headers=h,
        ),
        201,
    )["id"]
    notice = {"org_id": branch, "title": "通知", "body": "内容"}
    announcement = ok(client.post(f"{party}/announcements", json=notice, headers=h), 201)["id"]
    slip = client.post(
        "/api/v1/media",
        data={"file": (io.BytesIO(_jpeg()), "s.jpg", "image/jpeg")},
        headers=worker["headers"],
        content_type="multipart/form-data",
    )
    registered = {
        "org_id": branch,
        "name": "钱在职",
        "workplace_org": "某公司党委",
        "registered_on": "2026-01-05",
        "slip_media_id": ok(slip, 201)["id"],
    }
    registration = ok(client.post("/api/v1/party/registrations", json=registered, headers=worker["headers"]), 201)["id"]
    return {
        "org_id": branch,
        "member_id": member_id,
        "officer_id": officer,
        "declaration_id": declaration,
        "point_claim_id": claim,
        "transfer_id": transfer,
        "meeting_id": meeting,
        "material_id": material,
        "quiz_id": quiz,
        "announcement_id": announcement,
        "registration_id": registration,
        "action": "claim",
    }


def kj02_care(client: Any, world: Any, h: dict[str, str], elder: str, worker: dict[str, Any]) -> dict[str, str]:
    """Elderly services in KJ02: a provider with a worker, a bath service and a subsidy rule of the committee, an
    order staff placed by phone for the KJ02 elder, and a return visit on it."""
    care = "/api/v1/admin/care"
    kj02 = str(world.areas["KJ02"].id)
    provider = ok(
        client.post(f"{care}/providers", json={"name": "KJ02服务社", "kind": "provider", "area_id": kj02}, headers=h),
        201,
    )["id"]
    hired = {"user_id": worker["user"]["id"], "name": "KJ02护理员"}
    care_worker = ok(client.post(f"{care}/providers/{provider}/workers", json=hired, headers=h), 201)["id"]
    service = {
        "code": "kj02-bath",
        "name": "KJ02助浴",
        "category": "bathing",
        "unit": "per_visit",
        "list_price_fen": 8000,
        "duration_minutes": 60,
        "delivered_by": "provider",
        "funding_tier": "shichang",
        "provider_id": provider,
        "area_id": kj02,
    }
    service_id = ok(client.post(f"{care}/services", json=service, headers=h), 201)["id"]
    rule = {"name": "KJ02助浴补贴", "funding_line": "居委补贴", "tier": "shichang", "percent": 10, "area_id": kj02}
    rule_id = ok(client.post(f"{care}/subsidy-rules", json=rule, headers=h), 201)["id"]
    starts = (utcnow() + timedelta(days=3)).replace(microsecond=0)
    placed = {"elder_id": elder, "service_id": service_id, "window_start": starts.isoformat()}
    order = ok(client.post("/api/v1/care/orders", json=placed, headers=h), 201)["id"]
    visit = ok(client.post(f"{care}/orders/{order}/return-visits", headers=h), 201)["id"]
    return {
        "care_provider_id": provider,
        "care_worker_id": care_worker,
        "care_service_id": service_id,
        "care_rule_id": rule_id,
        "care_order_id": order,
        "care_visit_id": visit,
    }


def _jpeg() -> bytes:
    from PIL import Image

    buffer = io.BytesIO()
    Image.new("RGB", (16, 12), (10, 120, 40)).save(buffer, "JPEG")
    return buffer.getvalue()


def bodies(objects: dict[str, str]) -> dict[str, Any]:
    """A valid body for every admin route that takes one, so that scope — not validation — decides the answer."""
    return {
        "patch /api/v1/admin/devices/{device_id}": {"installed_on": "2026-01-05"},
        "patch /api/v1/admin/elders/{elder_id}": {"conditions": "高血压"},
        "post /api/v1/admin/elders/{elder_id}/reject": {"reason": "信息不符"},
        "post /api/v1/admin/elders/{elder_id}/consents": {"given_by": "本人", "device_types": ["*"]},
        "put /api/v1/admin/elders/{elder_id}/contacts": {"binding_ids": [objects["binding_id"]]},
        "patch /api/v1/admin/events/{event_id}": {"title": "改名的活动"},
        "post /api/v1/admin/events/{event_id}/cancel": {"reason": "天气原因"},
        "post /api/v1/admin/events/{event_id}/check-ins": {"ticket": objects["ticket"]},
        "post /api/v1/admin/events/{event_id}/live": {},
        "post /api/v1/admin/household-requests/{request_id}/reject": {"reason": "房产证信息不符"},
        "post /api/v1/admin/incidents/{incident_id}/transitions": {"action": "reject", "reason": "不属实"},
        "post /api/v1/admin/incidents/{incident_id}/merge": {"into": objects["other_incident_id"]},
        "post /api/v1/admin/elders/{elder_id}/reveal-phone": {"reason": "联系家属"},
        "post /api/v1/admin/users/{user_id}/reveal-phone": {"reason": "核实住户"},
        "post /api/v1/admin/events/{event_id}/helpers": {"slots": 2},
        "patch /api/v1/admin/volunteer-skills/{skill_id}": {"name": "改名的技能"},
        "post /api/v1/admin/volunteer-profiles/{profile_id}/reject": {"reason": "信息不全"},
        "patch /api/v1/admin/volunteer-groups/{group_id}": {"name": "改名的队伍"},
        "post /api/v1/admin/volunteer-groups/{group_id}/members": {"profile_id": objects["profile_id"]},
        "patch /api/v1/admin/volunteer-tasks/{task_id}": {"title": "改名的任务"},
        "post /api/v1/admin/volunteer-tasks/{task_id}/cancel": {"reason": "天气原因"},
        "post /api/v1/admin/volunteer-tasks/{task_id}/roster/close": {},
        "post /api/v1/admin/volunteer-tasks/{task_id}/signups": {"profile_id": objects["profile_id"]},
        "post /api/v1/admin/volunteer-tasks/{task_id}/signups/{signup_id}/promote": {},
        "post /api/v1/admin/volunteer-hours/{claim_id}/reject": {"reason": "不属实"},
        "post /api/v1/admin/volunteer-hour-entries/{hour_entry_id}/reverse": {"reason": "录入错误"},
        "post /api/v1/admin/time-coin-entries/{coin_entry_id}/reverse": {"reason": "录入错误"},
        "patch /api/v1/admin/parking/lots/{lot_id}": {"name": "改名的车库"},
        "patch /api/v1/admin/care/providers/{care_provider_id}": {"daily_capacity": 10},
        "post /api/v1/admin/care/providers/{care_provider_id}/workers": {"user_id": objects["user_id"], "name": "某"},
        "patch /api/v1/admin/care/services/{care_service_id}": {"name": "改名的服务"},
        "patch /api/v1/admin/care/elders/{elder_id}/profile": {"dibao": True},
        "post /api/v1/admin/care/orders/{care_order_id}/reject": {"reason": "不符合条件"},
        "post /api/v1/admin/care/orders/{care_order_id}/assign": {"worker_id": objects["care_worker_id"]},
        "post /api/v1/admin/care/orders/{care_order_id}/cancel": {"reason": "老人住院"},
        "post /api/v1/admin/care/orders/{care_order_id}/resolve": {"outcome": "void", "note": "核实"},
        "post /api/v1/admin/care/return-visits/{care_visit_id}/done": {"outcome": "已回访"},
        "patch /api/v1/admin/care/meal-routes/{route_id}": {"daily_capacity": 5},
        "post /api/v1/admin/parking/lots/{lot_id}/spaces": {"code": "NEW1", "kind": "bay"},
        "patch /api/v1/admin/parking/lots/{lot_id}/spaces/{space_id}": {"capacity": 1},
        "post /api/v1/admin/parking/offers/{offer_id}/reject": {"reason": "手续不全"},
        "post /api/v1/admin/parking/vehicles/{vehicle_id}/reject": {"reason": "行驶证不符"},
        "post /api/v1/admin/parking/bookings/{booking_id}/cancel": {"reason": "车位维修"},
        "post /api/v1/admin/parking/anomalies/{anomaly_id}/resolve": {"note": "已核实"},
        "post /api/v1/admin/party/orgs/{org_id}/officers": {"member_id": objects["member_id"], "post": "publicity"},
        "patch /api/v1/admin/party/members/{member_id}": {"is_mobile": True},
        "post /api/v1/admin/party/members/{member_id}/status": {"status": "suspended", "reason": "停止党籍"},
        "post /api/v1/admin/party/members/{member_id}/dues/payments": {"months": ["2026-01"]},
        "post /api/v1/admin/party/members/{member_id}/dues/declarations": {"income_kind": "student"},
        "post /api/v1/admin/party/dues-declarations/{declaration_id}/decision": {"confirm": True},
        "post /api/v1/admin/party/meetings/{meeting_id}/cancel": {"reason": "改期"},
        "post /api/v1/admin/party/meetings/{meeting_id}/invitees": {"member_ids": [objects["member_id"]]},
        "post /api/v1/admin/party/meetings/{meeting_id}/leave-decisions": {
            "member_id": objects["member_id"],
            "approve": True,
        },
        "post /api/v1/admin/party/meetings/{meeting_id}/sign-ins": {"member_id": objects["member_id"]},
        "put /api/v1/admin/party/meetings/{meeting_id}/minutes": {"content": "改写的记录"},
        "post /api/v1/admin/party/meetings/{meeting_id}/minutes/transitions": {"action": "submit"},
        "post /api/v1/admin/party/point-claims/{point_claim_id}/decision": {"approve": True},
        "post /api/v1/admin/party/transfers/{transfer_id}/transitions": {"action": "withdraw"},
        "post /api/v1/admin/party/registrations/{registration_id}/decision": {"confirm": True},
        "patch /api/v1/admin/aids/types/{aid_type_id}": {"loan_days": 60},
        "patch /api/v1/admin/aids/locations/{aid_location_id}": {"name": "改名的服务站"},
        "patch /api/v1/admin/aids/items/{aid_item_id}": {"condition": "fair"},
        "post /api/v1/admin/aids/loans/{aid_loan_id}/lend": {"condition_note": "完好"},
        "post /api/v1/admin/aids/loans/{aid_loan_id}/return": {"condition_note": "完好"},
        "post /api/v1/admin/aids/loans/{aid_loan_id}/cancel": {"reason": "辅具维修"},
    }


def admin_operations(client: Any) -> list[tuple[str, str, dict[str, Any]]]:
    document = ok(client.get("/api/v1/openapi.json"))
    found = [
        (method, path, operation)
        for path, item in document["paths"].items()
        if path.startswith(ADMIN_PREFIX)
        for method, operation in item.items()
        if method in ("get", *WRITES)
    ]
    assert len(found) >= 40, "the OpenAPI document lost its admin routes"
    return found


def path_parameters(path: str) -> list[str]:
    return re.findall(r"{(\w+)}", path)


def roles_of(app: Flask, method: str, path: str) -> tuple[Role, ...]:
    """Who a route is for, as its `staff_route` declared."""
    rule = re.sub(r"{(\w+)}", lambda m: str(uuid.uuid4()), path)
    endpoint, _ = app.url_map.bind("localhost").match(rule, method=method.upper())
    return app.view_functions[endpoint].staff_roles


def everything() -> dict[str, list[str]]:
    """Every row of every table, to tell that a refused request changed nothing."""
    db.session.expire_all()
    assert db.engine is not None
    with db.engine.connect() as conn:
        return {t.name: sorted(map(repr, conn.execute(t.select()).all())) for t in metadata.sorted_tables}


@pytest.mark.parametrize(
    ("who", "sees"),
    [
        ("admin with no area", {"KJ01 home", "KJ02 home", "no home"}),
        ("subdistrict staff", {"KJ01 home", "KJ02 home", "no home"}),
        ("KJ01 staff", {"KJ01 home"}),
        ("staff with no area", set()),
    ],
)
def test_the_rule_in_one_place_agrees_for_lists_and_single_objects(world, who, sees):
    """Staff see their area and below; things with no place yet are the whole subdistrict's (its staff and
    admins), never a committee's; staff with no area and no admin role see nothing."""
    people = {
        "admin with no area": create_staff("root", "long-enough-password", Role.ADMIN, None),
        "subdistrict staff": world.users["admin"],
        "KJ01 staff": world.users["kj01"],
        "staff with no area": User(username="nobody", role_rows=[UserRole(role=Role.STAFF)]),
    }
    devices = {
        "KJ01 home": Device(serial="A", type=DeviceType.DOOR_SENSOR, room_id=world.room("KJ01/101").id),
        "KJ02 home": Device(serial="B", type=DeviceType.DOOR_SENSOR, room_id=world.room("KJ02/101").id),
        "no home": Device(serial="C", type=DeviceType.DOOR_SENSOR),
    }
    db.session.add_all([*people.values(), *devices.values()])
    db.session.commit()
    staff = people[who]
    listed = set(db.session.scalars(scope.visible(staff, Device)))
    assert {name for name, d in devices.items() if d in listed} == sees
    assert {name for name, d in devices.items() if scope.sees(staff, d.area_path)} == sees
    for name, device in devices.items():
        if name not in sees:
            with pytest.raises(NotFound):
                scope.ensure_visible(staff, device)


def test_an_area_whose_code_holds_a_like_wildcard_or_a_quote_reaches_only_itself(world):
    """The area's path goes into the statement as a LIKE prefix: "_" and "%" match only themselves, a quote is
    only a quote — staff of "K_1" see nothing of "KX1", staff of "K%" nothing of "K%2" or "KX", and the list
    agrees with the single-object rule."""
    from api.accounts.models import AreaKind, Room
    from tests.conftest import _add_area

    devices, staff = {}, {}
    for code in ("K_1", "KX1", "K%", "K%2", "KX", "O'B"):
        committee = _add_area(world, AreaKind.COMMITTEE, code, f"{code}居委会", "KJ")
        building = _add_area(world, AreaKind.BUILDING, f"{code}-B", "1号楼", code)
        room = Room(building_id=building.id, number="101", floor=1)
        db.session.add(room)
        db.session.flush()
        devices[code] = Device(serial=f"SCOPE-{code}", type=DeviceType.DOOR_SENSOR, room_id=room.id)
        staff[code] = create_staff(f"staff-{code}", "long-enough-password", Role.STAFF, committee.code)
    db.session.add_all(devices.values())
    db.session.commit()
    for code, person in staff.items():
        listed = {d.serial for d in db.session.scalars(scope.visible(person, Device))}
        assert listed == {f"SCOPE-{code}"}, code
        assert [c for c, d in devices.items() if scope.sees(person, d.area_path)] == [code]


def test_committee_staff_find_nothing_of_another_committee_through_any_admin_route(
    app, client, world, kj01_staff, admin, kj02
):
    body_of = bodies(kj02)
    walked = 0
    for method, path, operation in admin_operations(client):
        names = path_parameters(path)
        for_staff = Role.STAFF in roles_of(app, method, path)
        if for_staff and not names:
            continue  # nothing named: the lists' test below
        unmapped = [n for n in names if n not in kj02]
        assert not unmapped, f"{method.upper()} {path}: make a KJ02 object for {unmapped} in the `kj02` fixture"
        url = path.format(**kj02)
        key = f"{method} {path}"
        kwargs: dict[str, Any] = {}
        if "requestBody" in operation and for_staff:  # another role is refused before the body is read
            assert key in body_of, f"{method.upper()} {path}: add a valid body to `bodies`"
            kwargs["json"] = body_of[key]

        before = everything()
        refused = client.open(url, method=method.upper(), headers=kj01_staff["headers"], **kwargs)
        # Out of reach reads as absent, so KJ02's ids cannot be probed; a route for another role refuses first.
        expected = (404, "not_found") if for_staff else (403, "forbidden")
        assert answer(refused) == expected, (key, refused.get_json(silent=True))
        assert everything() == before, f"{key} changed something for staff of another committee"

        if method == "get":
            seen = client.get(url, headers=admin["headers"])
            assert seen.status_code == 200, (key, seen.get_json())
        walked += 1
    print(f"walked {walked} admin routes that name an object or are for another role")
    assert walked >= 30


def list_routes(client: Any) -> list[str]:
    """The admin routes that answer a page of things (`{"items", "next_cursor"}`)."""
    schemas = ok(client.get("/api/v1/openapi.json"))["components"]["schemas"]

    def is_page(operation: dict[str, Any]) -> bool:
        ref = operation["responses"]["200"].get("content", {}).get("application/json", {}).get("schema", {})
        name = ref.get("$ref", "").rsplit("/", 1)[-1]
        return {"items", "next_cursor"} <= set(schemas.get(name, {}).get("properties", {}))

    return [
        path
        for method, path, operation in admin_operations(client)
        if method == "get" and not path_parameters(path) and is_page(operation)
    ]


def test_committee_lists_leave_out_another_committee_and_the_subdistrict_admins_show_it(
    app, client, world, kj01_staff, admin, kj02
):
    theirs = set(kj02.values())
    theirs |= {
        str(i) for i in db.session.scalars(select(Notification.id).where(Notification.area_path.like("/KJ/KJ02/%")))
    }
    theirs |= {
        str(i)
        for i in db.session.scalars(select(AccessLog.id).where(AccessLog.subject_id == uuid.UUID(kj02["elder_id"])))
    }
    walked = 0
    for path in list_routes(client):
        if Role.STAFF not in roles_of(app, "get", path):
            continue  # for another role (finance): the walk above checks that committee staff are refused
        mine = client.get(path, query_string={"limit": 100}, headers=kj01_staff["headers"])
        # A list that committee staff may only read about a thing they name (the access log) answers 404.
        if answer(mine) != (404, "not_found"):
            assert not {i["id"] for i in ok(mine)["items"]} & theirs, f"{path} shows KJ02 to KJ01's staff"
        everything_ = ok(client.get(path, query_string={"limit": 100}, headers=admin["headers"]))
        assert {i["id"] for i in everything_["items"]} & theirs, f"{path}: make a KJ02 object this list shows"
        walked += 1
    assert walked >= 10


def test_the_access_log_of_another_committees_elder_is_not_found(client, kj01_staff, kj02_staff, kj02):
    about = {"subject_kind": "elder", "subject_id": kj02["elder_id"]}
    refused = client.get("/api/v1/admin/access-log", query_string=about, headers=kj01_staff["headers"])
    assert answer(refused) == (404, "not_found")
    theirs = ok(client.get("/api/v1/admin/access-log", query_string=about, headers=kj02_staff["headers"]))["items"]
    assert [row["subject_id"] for row in theirs] == [kj02["elder_id"]]


def test_committee_statistics_count_nothing_of_another_committee(client, kj01_staff, admin, kj02):
    def alerts(who):
        return ok(client.get("/api/v1/admin/alerts/stats", headers=who["headers"]))["total"]

    def incidents(who):
        today = {"from": (utcnow() - timedelta(days=1)).isoformat(), "to": (utcnow() + timedelta(days=1)).isoformat()}
        stats = client.get("/api/v1/admin/incidents/stats", query_string=today, headers=who["headers"])
        return ok(stats)["total"]["received"]

    assert (alerts(kj01_staff), alerts(admin)) == (0, 1)
    assert (incidents(kj01_staff), incidents(admin)) == (0, 2)


def test_staff_of_another_committee_find_no_alert_through_the_familys_routes_either(client, kj01_staff, kj02):
    for method, url in (("get", "/api/v1/alerts/{}"), ("post", "/api/v1/alerts/{}/ack")):
        response = client.open(url.format(kj02["alert_id"]), method=method.upper(), headers=kj01_staff["headers"])
        assert answer(response) == (404, "not_found")


def test_every_admin_route_documents_who_may_call_it_and_what_else_it_answers(client, world):
    for method, path, operation in admin_operations(client):
        documented = set(operation["responses"])
        assert operation["security"] == [{"bearerAuth": []}], (method, path)
        assert {"401", "403"} <= documented, f"{method.upper()} {path}: declare it with auth.staff_route"
        if path_parameters(path):
            assert "404" in documented, f"{method.upper()} {path}: names an object, so it may be absent"


def test_the_demo_admin_registers_and_sees_a_device_not_yet_installed(app, client):
    from api.accounts.seed import DEMO_ADMIN, DEMO_STAFF

    seeded = app.test_cli_runner().invoke(args=["seed-demo"], catch_exceptions=False)
    assert seeded.exit_code == 0, seeded.output
    admin = bearer(staff_login(client, *DEMO_ADMIN)["access_token"])
    committee = bearer(staff_login(client, *DEMO_STAFF[:2])["access_token"])

    created = ok(
        client.post("/api/v1/admin/devices", json={"serial": "NEW-SMK-1", "type": "smoke_detector"}, headers=admin), 201
    )
    assert created["room_id"] is None
    assert ok(client.get(f"/api/v1/admin/devices/{created['id']}", headers=admin))["serial"] == "NEW-SMK-1"
    listed = ok(client.get("/api/v1/admin/devices", query_string={"limit": 100}, headers=admin))["items"]
    assert created["id"] in [d["id"] for d in listed]
    # Not a committee's until it is installed in one of its homes.
    assert client.get(f"/api/v1/admin/devices/{created['id']}", headers=committee).status_code == 404


def test_a_route_for_admins_refuses_other_staff_with_forbidden_before_reading_the_body(client, kj01_staff, admin):
    """Publishing a privacy policy is for admins: committee staff get 403 `forbidden` whatever they send."""
    url = "/api/v1/admin/privacy-policies"
    body = {"version": "2027-01", "text": "隐私政策全文", "effective_at": (utcnow() + timedelta(days=30)).isoformat()}
    assert answer(client.post(url, json={"nonsense": True}, headers=kj01_staff["headers"])) == (403, "forbidden")
    assert answer(client.post(url, json=body)) == (401, "unauthorized")
    assert ok(client.post(url, json=body, headers=admin["headers"]), 201)["version"] == "2027-01"
    responses = ok(client.get("/api/v1/openapi.json"))["paths"][url]["post"]["responses"]
    assert responses["403"]["description"] == "Signed in, but not as admin"
    assert "404" not in responses  # it names no object
