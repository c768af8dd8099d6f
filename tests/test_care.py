"""Elderly service orders (api/care): a daughter orders a bath for her father, a worker grabs it, checks in with her
father's code and out again, she confirms; the subsidy and her share appear on the order and in the provider's
month. And what goes wrong: strangers, late orders, quotas, races for one order, workers who never come, doors
nobody opens, disputes, ratings out of range, hostile input."""

from __future__ import annotations

import csv
import io
import json
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import select

from api.care import services
from api.care.models import (
    CareOrder,
    CareProfile,
    CareProvider,
    CareService,
    CareWorker,
    Category,
    DeliveredBy,
    FundingTier,
    OrderStatus,
    SubsidyRule,
    Unit,
)
from api.care.pricing import profile_of
from api.care.tasks import auto_confirm, expire_offers, no_shows, welfare_escalate
from api.db import db
from api.errors import ApiError
from api.fields import LOCAL_TZ
from api.notifications.models import Notification
from tests.conftest import signed_in
from tests.factories import add_elder, add_family_member, add_wechat_user, bind_family


class Clock:
    """The time the care routes see (they read `utcnow()`); tests move it to the visit."""

    def __init__(self) -> None:
        self.now = datetime.now(UTC)

    def __call__(self) -> datetime:
        return self.now

    def at(self, moment: datetime) -> None:
        self.now = moment.astimezone(UTC)


@pytest.fixture
def clock(monkeypatch: pytest.MonkeyPatch) -> Clock:
    c = Clock()
    for module in ("api.care.routes", "api.care.schemas"):
        monkeypatch.setattr(f"{module}.utcnow", c)
    return c


def ok(response: Any, status: int = 200) -> Any:
    assert response.status_code == status, (response.status_code, response.get_json(silent=True))
    return response.get_json()


def fails(response: Any, status: int, code: str) -> dict[str, Any]:
    body = response.get_json()
    assert (response.status_code, body["code"]) == (status, code), body
    return body


def local(days: int, hhmm: str) -> datetime:
    hour, minute = (int(x) for x in hhmm.split(":"))
    day = datetime.now(LOCAL_TZ).date() + timedelta(days=days)
    return datetime(day.year, day.month, day.day, hour, minute, tzinfo=LOCAL_TZ)


class Care:
    """A small world: a home-care provider with two workers, a bath and a cleaning service, the street's bath
    subsidy for elders living alone, 李老伯 (KJ01/101, living alone) and his daughter; a stranger."""

    def __init__(self, app: Any, world: Any, settings: Any) -> None:
        self.world = world
        self.father = add_elder(world.room("KJ01/101"), "李老伯", birth_year=1940)
        daughter = add_family_member("李女儿")
        stranger = add_family_member("陌生人")
        bind_family(self.father, daughter)
        self.provider = CareProvider(
            name="颐家服务社", kind=DeliveredBy.PROVIDER, daily_capacity=50, area_path=world.areas["KJ01"].path
        )
        db.session.add(self.provider)
        w1, w2 = add_wechat_user("周护理员"), add_wechat_user("吴护理员")
        db.session.flush()
        db.session.add_all(
            [
                CareWorker(provider=self.provider, user=w1, name="周护理员"),
                CareWorker(provider=self.provider, user=w2, name="吴护理员"),
            ]
        )
        self.bath = CareService(
            code="bath-home",
            name="上门助浴",
            category=Category.BATHING,
            unit=Unit.PER_VISIT,
            list_price_fen=12000,
            duration_minutes=90,
            delivered_by=DeliveredBy.PROVIDER,
            provider_id=self.provider.id,
            funding_tier=FundingTier.SHICHANG,
            cutoff_days_before=1,
            cutoff_local_time="18:00",
        )
        self.ltc_bath = CareService(
            code="bath-ltc",
            name="长护险助浴",
            category=Category.BATHING,
            unit=Unit.PER_VISIT,
            list_price_fen=12000,
            duration_minutes=90,
            delivered_by=DeliveredBy.PROVIDER,
            funding_tier=FundingTier.BAODI,
            self_pay_allowed=False,
        )
        self.cleaning = CareService(
            code="clean-hour",
            name="助洁",
            category=Category.CLEANING,
            unit=Unit.PER_HOUR,
            list_price_fen=4500,
            duration_minutes=120,
            delivered_by=DeliveredBy.PROVIDER,
            funding_tier=FundingTier.SHICHANG,
            hourly_cap_minutes=180,
        )
        db.session.add_all([self.bath, self.ltc_bath, self.cleaning])
        db.session.add_all(
            [
                SubsidyRule(
                    name="独居老人助浴补贴",
                    funding_line="街道养老服务补贴",
                    tier=FundingTier.SHICHANG,
                    category=Category.BATHING,
                    min_age=70,
                    requires_living_alone=True,
                    percent=50,
                    cap_fen=5000,
                ),
                SubsidyRule(
                    name="长护险居家护理",
                    funding_line="长护险",
                    tier=FundingTier.BAODI,
                    min_ltc_level=2,
                    uses_ltc_quota=True,
                    percent=90,
                ),
                SubsidyRule(
                    name="长护险自付减免",
                    funding_line="民政低保补贴",
                    tier=FundingTier.BAODI,
                    min_ltc_level=2,
                    percent=10,
                ),
            ]
        )
        db.session.flush()
        profile = profile_of(self.father)
        assert profile is not None
        profile.living_alone = True
        self.code = profile.service_code
        db.session.commit()
        self.daughter = signed_in(daughter, settings)
        self.stranger = signed_in(stranger, settings)
        self.w1 = signed_in(w1, settings)
        self.w2 = signed_in(w2, settings)

    def order(
        self, client: Any, who: dict[str, Any], service: Any = None, start: datetime | None = None, **extra: Any
    ) -> Any:
        body = {
            "elder_id": str(self.father.id),
            "service_id": str((service or self.bath).id),
            "window_start": (start or local(3, "09:00")).isoformat(),
            **extra,
        }
        return client.post("/api/v1/care/orders", json=body, headers=who["headers"])


@pytest.fixture
def care(app, world, settings) -> Care:
    return Care(app, world, settings)


def kinds_for(user_id: str) -> list[str]:
    who = uuid.UUID(user_id)
    return list(
        db.session.scalars(select(Notification.kind).where(Notification.user_id == who).order_by(Notification.id))
    )


def run(app: Any, task: Any, moment: datetime) -> int:
    """A beat job as the worker runs it, at `moment`."""
    with app.app_context():
        done = task.run(moment.isoformat())
        db.session.commit()
    return done


# ------------------------------------------------------------------------------------------------
# The journey
# ------------------------------------------------------------------------------------------------


@pytest.mark.smoke
def test_a_daughter_orders_a_bath_a_worker_grabs_it_serves_with_the_code_and_she_confirms(
    client, care, clock, admin, kj01_staff
):
    start = local(3, "09:00")
    quote = ok(
        client.post(
            "/api/v1/care/quote",
            json={"elder_id": str(care.father.id), "service_id": str(care.bath.id), "window_start": start.isoformat()},
            headers=care.daughter["headers"],
        )
    )
    assert quote["list_price_fen"] == 12000 and quote["subsidy_fen"] == 5000 and quote["self_pay_fen"] == 7000
    assert quote["subsidy_lines"][0]["funding_line"] == "街道养老服务补贴"

    order = ok(care.order(client, care.daughter, start=start), 201)
    assert order["status"] == "pending_dispatch" and order["channel"] == "family"
    assert order["ordered_by_id"] == care.daughter["user"]["id"] and order["elder_id"] == str(care.father.id)
    assert (order["list_price_fen"], order["subsidy_fen"], order["self_pay_fen"]) == (12000, 5000, 7000)
    mine = ok(client.get("/api/v1/me/care/orders", headers=care.daughter["headers"]))
    assert [o["id"] for o in mine["items"]] == [order["id"]]

    pool = ok(client.get("/api/v1/care/worker/pool", headers=care.w1["headers"]))
    assert [o["id"] for o in pool["items"]] == [order["id"]] and pool["items"][0]["address"] is None
    grabbed = ok(client.post(f"/api/v1/care/worker/orders/{order['id']}/grab", headers=care.w1["headers"]))
    assert grabbed["status"] == "accepted"
    accepted = ok(client.get(f"/api/v1/care/orders/{order['id']}", headers=care.daughter["headers"]))
    assert accepted["worker_name"] == "周护理员" and accepted["payment_order_id"] is not None

    code = ok(client.get(f"/api/v1/me/care/elders/{care.father.id}/code", headers=care.daughter["headers"]))
    assert code["service_code"] == care.code
    clock.at(start + timedelta(minutes=5))
    at_door = ok(client.get(f"/api/v1/care/worker/orders/{order['id']}", headers=care.w1["headers"]))
    assert "101室" in at_door["address"]
    where = {"lat": 31.28, "lng": 121.53}
    wrong = client.post(
        f"/api/v1/care/worker/orders/{order['id']}/check-in",
        json={**where, "code": "XXXXXX"},
        headers=care.w1["headers"],
    )
    fails(wrong, 422, "care_code_wrong")
    ok(
        client.post(
            f"/api/v1/care/worker/orders/{order['id']}/check-in",
            json={**where, "code": care.code.lower()},
            headers=care.w1["headers"],
        )
    )
    clock.at(start + timedelta(minutes=80))
    done = ok(
        client.post(f"/api/v1/care/worker/orders/{order['id']}/check-out", json=where, headers=care.w1["headers"])
    )
    assert done["status"] == "awaiting_confirmation"

    confirmed = ok(client.post(f"/api/v1/care/orders/{order['id']}/confirm", headers=care.daughter["headers"]))
    assert confirmed["status"] == "completed" and confirmed["actual_minutes"] == 75
    fails(
        client.post(f"/api/v1/care/orders/{order['id']}/confirm", headers=care.daughter["headers"]),
        409,
        "care_already_confirmed",
    )
    assert [e["action"] for e in confirmed["timeline"]] == [
        "place",
        "approve",
        "grab",
        "code_wrong",
        "check_in",
        "check_out",
        "ask_confirmation",
        "confirm",
    ]
    told = kinds_for(care.daughter["user"]["id"])
    assert {"care_order_accepted", "care_checked_in", "care_awaiting_confirmation"} <= set(told)

    month = start.astimezone(LOCAL_TZ).strftime("%Y-%m")
    clock.at(datetime.now(UTC))
    report = ok(client.get(f"/api/v1/admin/care/settlement?month={month}", headers=admin["headers"]))
    row = report["providers"][0]
    assert (row["provider_name"], row["orders"], row["minutes"]) == ("颐家服务社", 1, 75)
    assert (row["subsidy_fen"], row["self_pay_fen"]) == (5000, 7000)
    assert row["funding_lines"] == [{"funding_line": "街道养老服务补贴", "amount_fen": 5000}]
    exported = client.get(f"/api/v1/admin/care/settlement.csv?month={month}", headers=kj01_staff["headers"])
    rows = list(csv.reader(io.StringIO(exported.get_data(as_text=True).lstrip("\ufeff"))))
    assert rows[1][1] == "颐家服务社" and "5000" in rows[1]
    kj02 = ok(client.get(f"/api/v1/admin/care/settlement?month={month}", headers=_kj02(client)["headers"]))
    assert kj02["providers"] == []


def _kj02(client: Any) -> dict[str, Any]:
    from tests.conftest import bearer, staff_login

    return {"headers": bearer(staff_login(client, "kj02-staff")["access_token"])}


# ------------------------------------------------------------------------------------------------
# Who may order, and when
# ------------------------------------------------------------------------------------------------


@pytest.mark.smoke
def test_only_the_elder_confirmed_family_or_staff_of_the_area_order_and_the_cutoff_is_named(
    client, care, clock, kj01_staff, kj02_staff
):
    fails(care.order(client, care.stranger), 403, "care_not_family")
    fails(care.order(client, kj02_staff), 403, "care_not_family")
    by_phone = ok(care.order(client, kj01_staff), 201)
    assert by_phone["channel"] == "staff_phone" and by_phone["ordered_by_id"] == kj01_staff["user"]["id"]

    clock.at(local(1, "18:30"))
    late = fails(care.order(client, care.daughter, start=local(2, "09:00")), 422, "care_after_cutoff")
    assert "18:00" in late["message"]
    stranger_sees = client.get(f"/api/v1/care/orders/{by_phone['id']}", headers=care.stranger["headers"])
    fails(stranger_sees, 404, "not_found")


def test_an_order_retried_with_its_idempotency_key_is_made_once(client, care, clock):
    headers = {**care.daughter["headers"], "Idempotency-Key": "bath-weekly-1"}
    body = {
        "elder_id": str(care.father.id),
        "service_id": str(care.bath.id),
        "window_start": local(3, "09:00").isoformat(),
    }
    first = ok(client.post("/api/v1/care/orders", json=body, headers=headers), 201)
    again = ok(client.post("/api/v1/care/orders", json=body, headers=headers), 201)
    assert first["id"] == again["id"]
    assert db.session.scalar(select(CareOrder.id).where(CareOrder.elder_id == care.father.id).offset(1)) is None


def test_cancel_is_free_until_accepted_then_needs_a_reason_and_late_ones_are_counted(client, care, clock):
    free = ok(care.order(client, care.daughter), 201)
    cancelled = ok(client.post(f"/api/v1/care/orders/{free['id']}/cancel", json={}, headers=care.daughter["headers"]))
    assert cancelled["status"] == "cancelled" and cancelled["late_cancel"] is False

    start = local(3, "10:00")
    taken = ok(care.order(client, care.daughter, start=start), 201)
    ok(client.post(f"/api/v1/care/worker/orders/{taken['id']}/grab", headers=care.w1["headers"]))
    fails(
        client.post(f"/api/v1/care/orders/{taken['id']}/cancel", json={}, headers=care.daughter["headers"]),
        422,
        "care_cancel_reason_required",
    )
    clock.at(start - timedelta(minutes=30))
    late = ok(
        client.post(
            f"/api/v1/care/orders/{taken['id']}/cancel", json={"reason": "父亲住院"}, headers=care.daughter["headers"]
        )
    )
    assert late["late_cancel"] is True and late["cancel_reason"] == "父亲住院"
    again = client.post(
        f"/api/v1/care/orders/{taken['id']}/cancel", json={"reason": "x"}, headers=care.daughter["headers"]
    )
    body = fails(again, 409, "care_transition_not_allowed")
    assert body["errors"]["action"] == []


# ------------------------------------------------------------------------------------------------
# Subsidies and the 长护险 quota
# ------------------------------------------------------------------------------------------------


def test_the_ltc_quota_pays_while_it_lasts_then_a_tier_without_self_pay_refuses(client, care, clock, kj01_staff):
    profile = db.session.scalar(select(CareProfile).where(CareProfile.elder_id == care.father.id))
    profile.ltc_level, profile.ltc_weekly_visits = 3, 1
    db.session.commit()
    start = local(7, "09:00")
    first = ok(care.order(client, care.daughter, care.ltc_bath, start=start), 201)
    assert first["status"] == "submitted"  # 保底: the eligibility review first
    assert [line["funding_line"] for line in first["subsidy_lines"]] == ["长护险", "民政低保补贴"]
    assert first["self_pay_fen"] == 0
    assert "care_review_needed" in kinds_for(kj01_staff["user"]["id"])
    ok(client.post(f"/api/v1/admin/care/orders/{first['id']}/approve", headers=kj01_staff["headers"]))
    ok(client.post(f"/api/v1/care/worker/orders/{first['id']}/grab", headers=care.w1["headers"]))

    second = care.order(client, care.daughter, care.ltc_bath, start=start + timedelta(days=1))
    body = fails(second, 409, "care_quota_exhausted")
    assert "1/1" in body["message"]
    ok(
        client.post(
            f"/api/v1/care/orders/{first['id']}/cancel", json={"reason": "改期"}, headers=care.daughter["headers"]
        )
    )
    ok(care.order(client, care.daughter, care.ltc_bath, start=start + timedelta(days=1)), 201)


def test_per_hour_cleaning_is_charged_by_the_actual_time_within_its_cap(client, care, clock):
    start = local(2, "14:00")
    order = ok(care.order(client, care.daughter, care.cleaning, start=start, planned_minutes=120), 201)
    assert order["list_price_fen"] == 9000
    ok(client.post(f"/api/v1/care/worker/orders/{order['id']}/grab", headers=care.w2["headers"]))
    assert (
        ok(client.get(f"/api/v1/care/orders/{order['id']}", headers=care.daughter["headers"]))["payment_order_id"]
        is None
    )
    where = {"lat": 31.28, "lng": 121.53}
    clock.at(start)
    ok(
        client.post(
            f"/api/v1/care/worker/orders/{order['id']}/check-in",
            json={**where, "code": care.code},
            headers=care.w2["headers"],
        )
    )
    clock.at(start + timedelta(minutes=200))
    ok(client.post(f"/api/v1/care/worker/orders/{order['id']}/check-out", json=where, headers=care.w2["headers"]))
    done = ok(client.get(f"/api/v1/care/orders/{order['id']}", headers=care.daughter["headers"]))
    assert done["actual_minutes"] == 200 and done["list_price_fen"] == 13500  # capped at 180 minutes
    assert done["self_pay_fen"] == 13500 and done["payment_order_id"] is not None


# ------------------------------------------------------------------------------------------------
# Dispatch
# ------------------------------------------------------------------------------------------------


@pytest.mark.smoke
def test_two_workers_grab_one_order_and_exactly_one_wins(client, care, clock):
    order = ok(care.order(client, care.daughter), 201)
    first = client.post(f"/api/v1/care/worker/orders/{order['id']}/grab", headers=care.w1["headers"])
    second = client.post(f"/api/v1/care/worker/orders/{order['id']}/grab", headers=care.w2["headers"])
    assert first.status_code == 200
    fails(second, 409, "care_transition_not_allowed")
    fails(
        client.post(f"/api/v1/care/worker/orders/{order['id']}/grab", headers=care.stranger["headers"]),
        403,
        "care_not_worker",
    )


def test_declined_and_unanswered_offers_go_back_and_then_to_staff(app, client, care, clock, kj01_staff, settings):
    order = ok(care.order(client, care.daughter), 201)
    workers = ok(client.get(f"/api/v1/admin/care/providers/{care.provider.id}/workers", headers=kj01_staff["headers"]))[
        "items"
    ]
    w1 = next(w["id"] for w in workers if w["name"] == "周护理员")
    w2 = next(w["id"] for w in workers if w["name"] == "吴护理员")
    offered = ok(
        client.post(
            f"/api/v1/admin/care/orders/{order['id']}/assign", json={"worker_id": w1}, headers=kj01_staff["headers"]
        )
    )
    assert offered["status"] == "offered"
    declined = ok(
        client.post(
            f"/api/v1/care/worker/orders/{order['id']}/decline", json={"reason": "时间冲突"}, headers=care.w1["headers"]
        )
    )
    assert declined["status"] == "pending_dispatch"
    ok(
        client.post(
            f"/api/v1/admin/care/orders/{order['id']}/assign", json={"worker_id": w2}, headers=kj01_staff["headers"]
        )
    )
    later = datetime.now(UTC) + timedelta(minutes=settings.care_offer_minutes + 1)
    assert run(app, expire_offers, later) == 1
    ok(
        client.post(
            f"/api/v1/admin/care/orders/{order['id']}/assign", json={"worker_id": w1}, headers=kj01_staff["headers"]
        )
    )
    ok(
        client.post(
            f"/api/v1/care/worker/orders/{order['id']}/decline", json={"reason": "太远"}, headers=care.w1["headers"]
        )
    )
    db.session.commit()
    seen = ok(client.get(f"/api/v1/admin/care/orders/{order['id']}", headers=kj01_staff["headers"]))
    assert seen["decline_count"] == 3 and seen["escalated_at"] is not None
    assert ok(client.get("/api/v1/care/worker/pool", headers=care.w2["headers"]))["items"] == []
    assert "care_order_escalated" in kinds_for(kj01_staff["user"]["id"])
    escalated = ok(client.get("/api/v1/admin/care/orders?escalated=true", headers=kj01_staff["headers"]))
    assert [o["id"] for o in escalated["items"]] == [order["id"]]


@pytest.mark.smoke
def test_a_worker_who_never_turns_up_causes_a_staff_alert_and_a_re_dispatch(
    app, client, care, clock, kj01_staff, settings
):
    start = local(2, "09:00")
    order = ok(care.order(client, care.daughter, start=start), 201)
    ok(client.post(f"/api/v1/care/worker/orders/{order['id']}/grab", headers=care.w1["headers"]))
    assert run(app, no_shows, start + timedelta(minutes=settings.care_checkin_grace_minutes - 1)) == 0
    assert run(app, no_shows, start + timedelta(minutes=settings.care_checkin_grace_minutes + 1)) == 1
    db.session.commit()
    after = ok(client.get(f"/api/v1/admin/care/orders/{order['id']}", headers=kj01_staff["headers"]))
    assert after["status"] == "pending_dispatch" and after["worker_name"] is None
    assert [e["action"] for e in after["timeline"]][-2:] == ["no_show", "redispatch"]
    assert "care_provider_no_show" in kinds_for(kj01_staff["user"]["id"])
    clock.at(start + timedelta(minutes=40))
    regrab = ok(client.post(f"/api/v1/care/worker/orders/{order['id']}/grab", headers=care.w2["headers"]))
    assert regrab["status"] == "accepted"


def _nobody_at_the_door(client: Any, care: Care, clock: Any, who: dict[str, Any]) -> tuple[dict[str, Any], datetime]:
    start = local(2, "09:00")
    order = ok(care.order(client, who, start=start), 201)
    ok(client.post(f"/api/v1/care/worker/orders/{order['id']}/grab", headers=care.w1["headers"]))
    early = client.post(f"/api/v1/care/worker/orders/{order['id']}/not-delivered", json={}, headers=care.w1["headers"])
    fails(early, 422, "care_outside_window")
    missed = start + timedelta(minutes=10)
    clock.at(missed)
    gone = ok(
        client.post(
            f"/api/v1/care/worker/orders/{order['id']}/not-delivered",
            json={"note": "敲门无人应答"},
            headers=care.w1["headers"],
        )
    )
    assert gone["status"] == "not_delivered"
    return gone, missed


def test_nobody_at_the_door_tells_the_family_at_once_and_staff_only_when_nobody_reports_him_safe(
    app, client, care, clock, kj01_staff, settings
):
    gone, missed = _nobody_at_the_door(client, care, clock, care.daughter)
    urgent = db.session.scalar(
        select(Notification).where(
            Notification.user_id == uuid.UUID(care.daughter["user"]["id"]), Notification.kind == "care_not_delivered"
        )
    )
    assert urgent is not None and urgent.urgency == "high"
    assert f"{settings.care_welfare_staff_minutes} 分钟内未报平安" in urgent.body
    due = missed + timedelta(minutes=settings.care_welfare_staff_minutes)
    mine = ok(client.get(f"/api/v1/care/orders/{gone['id']}", headers=care.daughter["headers"]))
    assert datetime.fromisoformat(mine["welfare_staff_due_at"]) == due and mine["welfare_staff_told_at"] is None
    assert "care_welfare_check" not in kinds_for(kj01_staff["user"]["id"])

    assert run(app, welfare_escalate, due - timedelta(minutes=1)) == 0
    assert "care_welfare_check" not in kinds_for(kj01_staff["user"]["id"])
    assert run(app, welfare_escalate, due) == 1
    assert run(app, welfare_escalate, due + timedelta(minutes=1)) == 0  # told once
    assert kinds_for(kj01_staff["user"]["id"]).count("care_welfare_check") == 1
    seen = ok(client.get(f"/api/v1/admin/care/orders/{gone['id']}", headers=kj01_staff["headers"]))
    assert seen["welfare_staff_told_at"] is not None and seen["welfare_safe_at"] is None
    assert seen["timeline"][-1]["action"] == "welfare_staff_told"


def test_a_daughter_who_reaches_her_father_spares_staff_the_check_and_tells_them_if_they_already_heard(
    app, client, care, clock, kj01_staff, settings
):
    gone, missed = _nobody_at_the_door(client, care, clock, care.daughter)
    safe_url = f"/api/v1/care/orders/{gone['id']}/elder-safe"
    fails(client.post(safe_url, json={}, headers=care.stranger["headers"]), 404, "not_found")
    safe = ok(client.post(safe_url, json={"note": "在楼下晒太阳，已联系上"}, headers=care.daughter["headers"]))
    assert safe["welfare_safe_at"] is not None and safe["welfare_safe_note"] == "在楼下晒太阳，已联系上"
    assert safe["timeline"][-1]["action"] == "elder_safe"
    fails(client.post(safe_url, json={}, headers=care.daughter["headers"]), 409, "care_welfare_already_reported")
    due = missed + timedelta(minutes=settings.care_welfare_staff_minutes)
    assert run(app, welfare_escalate, due + timedelta(minutes=5)) == 0
    assert not {"care_welfare_check", "care_welfare_safe"} & set(kinds_for(kj01_staff["user"]["id"]))

    # Another week: she answers only after staff were told — they hear it, so nobody knocks for nothing.
    clock.at(local(3, "08:00"))
    order = ok(care.order(client, care.daughter, start=local(9, "09:00")), 201)
    ok(client.post(f"/api/v1/care/worker/orders/{order['id']}/grab", headers=care.w1["headers"]))
    clock.at(local(9, "09:05"))
    ok(client.post(f"/api/v1/care/worker/orders/{order['id']}/not-delivered", json={}, headers=care.w1["headers"]))
    assert run(app, welfare_escalate, local(9, "09:05") + timedelta(minutes=settings.care_welfare_staff_minutes)) == 1
    clock.at(local(9, "09:40"))
    ok(client.post(f"/api/v1/care/orders/{order['id']}/elder-safe", json={}, headers=care.daughter["headers"]))
    assert kinds_for(kj01_staff["user"]["id"]).count("care_welfare_safe") == 1

    # Her reports are her personal data: in her export, and gone with her account.
    from api.accounts.models import User
    from api.care import personal

    daughter = db.session.get(User, uuid.UUID(care.daughter["user"]["id"]))
    assert [r["welfare_safe_note"] for r in personal.export(daughter)["elder_safe_reports"]] == [
        "在楼下晒太阳，已联系上",
        "",
    ]
    personal.erase(daughter)
    db.session.commit()
    assert db.session.scalar(select(CareOrder.id).where(CareOrder.welfare_safe_note.is_not(None))) is None

    # Nothing was missed at the door of an order that went well: there is nothing to report.
    fine = ok(care.order(client, care.daughter, start=local(10, "09:00")), 201)
    fails(
        client.post(f"/api/v1/care/orders/{fine['id']}/elder-safe", json={}, headers=care.daughter["headers"]),
        409,
        "care_welfare_not_open",
    )


def test_an_elder_with_no_family_to_tell_has_staff_told_at_once(app, client, care, clock, kj01_staff, world):
    alone = add_elder(world.room("KJ01/102"), "王阿婆", birth_year=1938)
    db.session.commit()
    start = local(2, "09:00")
    body = {"elder_id": str(alone.id), "service_id": str(care.bath.id), "window_start": start.isoformat()}
    order = ok(client.post("/api/v1/care/orders", json=body, headers=kj01_staff["headers"]), 201)
    ok(client.post(f"/api/v1/care/worker/orders/{order['id']}/grab", headers=care.w1["headers"]))
    clock.at(start + timedelta(minutes=5))
    ok(client.post(f"/api/v1/care/worker/orders/{order['id']}/not-delivered", json={}, headers=care.w1["headers"]))
    seen = ok(client.get(f"/api/v1/admin/care/orders/{order['id']}", headers=kj01_staff["headers"]))
    assert seen["welfare_staff_told_at"] is not None
    assert "care_welfare_check" in kinds_for(kj01_staff["user"]["id"])
    assert run(app, welfare_escalate, start + timedelta(hours=2)) == 0


def test_a_check_in_outside_the_window_or_without_staffs_word_is_refused(client, care, clock, kj01_staff):
    start = local(2, "09:00")
    order = ok(care.order(client, care.daughter, start=start), 201)
    ok(client.post(f"/api/v1/care/worker/orders/{order['id']}/grab", headers=care.w1["headers"]))
    where = {"lat": 31.28, "lng": 121.53, "code": care.code}
    fails(
        client.post(f"/api/v1/care/worker/orders/{order['id']}/check-in", json=where, headers=care.w1["headers"]),
        422,
        "care_outside_window",
    )
    ok(
        client.patch(
            f"/api/v1/admin/care/elders/{care.father.id}/profile",
            json={"proof_by_staff": True},
            headers=kj01_staff["headers"],
        )
    )
    clock.at(start)
    fails(
        client.post(f"/api/v1/care/worker/orders/{order['id']}/check-in", json=where, headers=care.w1["headers"]),
        422,
        "care_staff_proof_required",
    )
    ok(client.post(f"/api/v1/admin/care/orders/{order['id']}/vouch", headers=kj01_staff["headers"]))
    inside = ok(
        client.post(f"/api/v1/care/worker/orders/{order['id']}/check-in", json=where, headers=care.w1["headers"])
    )
    assert inside["status"] == "in_service"
    fails(client.get(f"/api/v1/care/worker/orders/{order['id']}", headers=care.w2["headers"]), 404, "not_found")


# ------------------------------------------------------------------------------------------------
# After the visit
# ------------------------------------------------------------------------------------------------


def _served(client: Any, care: Care, clock: Clock, start: datetime) -> str:
    order = ok(care.order(client, care.daughter, start=start), 201)
    ok(client.post(f"/api/v1/care/worker/orders/{order['id']}/grab", headers=care.w1["headers"]))
    where = {"lat": 31.28, "lng": 121.53}
    clock.at(start)
    ok(
        client.post(
            f"/api/v1/care/worker/orders/{order['id']}/check-in",
            json={**where, "code": care.code},
            headers=care.w1["headers"],
        )
    )
    clock.at(start + timedelta(minutes=60))
    ok(client.post(f"/api/v1/care/worker/orders/{order['id']}/check-out", json=where, headers=care.w1["headers"]))
    return order["id"]


def test_ratings_out_of_range_or_twice_are_refused_and_a_low_score_asks_for_a_return_visit(
    client, care, clock, kj01_staff
):
    order = _served(client, care, clock, local(2, "09:00"))
    fails(
        client.post(
            f"/api/v1/care/orders/{order}/rating",
            json={"overall": 5, "punctuality": 5, "attitude": 5},
            headers=care.daughter["headers"],
        ),
        409,
        "care_not_ratable",
    )
    ok(client.post(f"/api/v1/care/orders/{order}/confirm", headers=care.daughter["headers"]))
    for bad in (
        {"overall": 6, "punctuality": 5, "attitude": 5},
        {"overall": 0, "punctuality": 5, "attitude": 5},
        {"overall": "5"},
    ):
        fails(
            client.post(f"/api/v1/care/orders/{order}/rating", json=bad, headers=care.daughter["headers"]),
            422,
            "validation_failed",
        )
    scores = {"overall": 2, "punctuality": 4, "attitude": 1, "comment": "态度不好"}
    ok(client.post(f"/api/v1/care/orders/{order}/rating", json=scores, headers=care.daughter["headers"]), 201)
    fails(
        client.post(f"/api/v1/care/orders/{order}/rating", json=scores, headers=care.daughter["headers"]),
        409,
        "care_already_rated",
    )
    visits = ok(client.get("/api/v1/admin/care/return-visits", headers=kj01_staff["headers"]))["items"]
    assert [(v["order_id"], v["reason"]) for v in visits] == [(order, "low_score")]
    done = ok(
        client.post(
            f"/api/v1/admin/care/return-visits/{visits[0]['id']}/done",
            json={"outcome": "已电话回访"},
            headers=kj01_staff["headers"],
        )
    )
    assert done["status"] == "done"


def test_unconfirmed_visits_confirm_themselves_and_a_dispute_is_adjusted_by_staff(
    app, client, care, clock, kj01_staff, settings
):
    start = local(2, "09:00")
    order = _served(client, care, clock, start)
    later = start + timedelta(minutes=60, hours=settings.care_auto_confirm_hours, seconds=1)
    assert run(app, auto_confirm, later) == 1
    db.session.commit()
    done = ok(client.get(f"/api/v1/care/orders/{order}", headers=care.daughter["headers"]))
    assert done["status"] == "completed" and done["auto_confirmed"] is True
    ok(
        client.post(
            f"/api/v1/care/orders/{order}/dispute", json={"reason": "只洗了一半"}, headers=care.daughter["headers"]
        ),
        201,
    )
    bad = client.post(
        f"/api/v1/admin/care/orders/{order}/resolve",
        json={"outcome": "adjust", "note": "部分服务", "adjusted_self_pay_fen": 999999},
        headers=kj01_staff["headers"],
    )
    fails(bad, 422, "validation_failed")
    adjusted = ok(
        client.post(
            f"/api/v1/admin/care/orders/{order}/resolve",
            json={"outcome": "adjust", "note": "部分服务", "adjusted_self_pay_fen": 3500},
            headers=kj01_staff["headers"],
        )
    )
    assert adjusted["status"] == "completed" and adjusted["self_pay_fen"] == 3500


def test_staff_sample_the_months_completed_orders_and_a_month_off_the_calendar_is_422(client, care, clock, kj01_staff):
    order = _served(client, care, clock, local(2, "09:00"))
    ok(client.post(f"/api/v1/care/orders/{order}/confirm", headers=care.daughter["headers"]))
    month = clock.now.astimezone(LOCAL_TZ).strftime("%Y-%m")
    sampled = ok(
        client.post(
            "/api/v1/admin/care/return-visits/sample",
            json={"month": month, "percent": 100},
            headers=kj01_staff["headers"],
        ),
        201,
    )
    assert [v["order_id"] for v in sampled["items"]] == [order]
    for month in ("9999-12", "2026-13", "2026-00", "abc", "２０２６-01"):
        fails(
            client.get(f"/api/v1/admin/care/settlement?month={month}", headers=kj01_staff["headers"]),
            422,
            "care_month_invalid",
        )
        fails(
            client.get(f"/api/v1/admin/care/settlement.csv?month={month}", headers=kj01_staff["headers"]),
            422,
            "care_month_invalid",
        )


# ------------------------------------------------------------------------------------------------
# Hostile input
# ------------------------------------------------------------------------------------------------


@pytest.mark.smoke
def test_hostile_input_is_a_clear_4xx_and_stores_nothing(client, care, clock):
    h = care.daughter["headers"]
    base = {
        "elder_id": str(care.father.id),
        "service_id": str(care.bath.id),
        "window_start": local(3, "09:00").isoformat(),
    }
    for body in (
        {**base, "elder_id": "not-a-uuid"},
        {**base, "window_start": "9999-12-31T23:59:59+08:00"},
        {**base, "window_start": "0001-01-01T00:00:00+00:00"},
        {**base, "window_start": "2026-02-30T09:00:00+08:00"},
        {**base, "planned_minutes": 10**12},
        {**base, "service_id": "00000000-0000-0000-0000-000000000000"},
        {**base, "window_end": local(3, "08:00").isoformat()},
    ):
        response = client.post("/api/v1/care/orders", json=body, headers=h)
        assert 400 <= response.status_code < 500, (body, response.get_json())
    surrogate = json.dumps({**base, "note": "\ud800"}).encode()  # a lone surrogate, escaped as a client sends it
    response = client.post("/api/v1/care/orders", data=surrogate, content_type="application/json", headers=h)
    assert 400 <= response.status_code < 500, response.get_json()
    fails(
        client.post("/api/v1/care/orders", data="{", content_type="application/json", headers=h), 400, "malformed_json"
    )
    assert client.get("/api/v1/care/orders/not-an-id", headers=h).status_code == 404
    assert db.session.scalar(select(CareOrder.id)) is None


def test_place_order_without_a_request_for_a_meal_plan(app, care):
    lunch = CareService(
        code="meal-lunch",
        name="长者食堂午餐",
        category=Category.MEAL_CANTEEN,
        unit=Unit.PER_MEAL,
        list_price_fen=1500,
        duration_minutes=45,
        delivered_by=DeliveredBy.CANTEEN,
        funding_tier=FundingTier.SHICHANG,
        cutoff_days_before=1,
        cutoff_local_time="16:00",
    )
    db.session.add(lunch)
    db.session.flush()
    start = local(3, "11:30")
    order = services.place_order(
        elder_id=care.father.id,
        service_id=lunch.id,
        window_start=start,
        ordered_by=None,
        source="plan",
        meal="lunch",
        meal_plan_id="plan-1",
    )
    assert order.source == "plan" and order.service_date == start.date() and order.ordered_by_id is None
    with pytest.raises(ApiError) as refused:
        services.place_order(
            elder_id=care.father.id, service_id=care.bath.id, window_start=start, ordered_by=None, meal="lunch"
        )
    assert refused.value.code == "validation_failed"
    assert order.status == OrderStatus.PENDING_DISPATCH


def test_a_provider_takes_no_more_orders_a_day_than_its_capacity(client, care, clock):
    care.provider.daily_capacity = 1
    db.session.commit()
    first = ok(care.order(client, care.daughter, start=local(3, "09:00")), 201)
    second = ok(care.order(client, care.daughter, start=local(3, "15:00")), 201)
    other_day = ok(care.order(client, care.daughter, start=local(4, "09:00")), 201)
    ok(client.post(f"/api/v1/care/worker/orders/{first['id']}/grab", headers=care.w1["headers"]))
    full = client.post(f"/api/v1/care/worker/orders/{second['id']}/grab", headers=care.w2["headers"])
    fails(full, 409, "care_provider_full")
    ok(client.post(f"/api/v1/care/worker/orders/{other_day['id']}/grab", headers=care.w2["headers"]))


def test_a_service_that_asks_for_photos_is_checked_out_with_them_and_the_family_sees_them(client, care, clock):
    from PIL import Image

    care.bath.needs_photos = True
    db.session.commit()
    start = local(2, "09:00")
    order = ok(care.order(client, care.daughter, start=start), 201)
    ok(client.post(f"/api/v1/care/worker/orders/{order['id']}/grab", headers=care.w1["headers"]))
    where = {"lat": 31.28, "lng": 121.53}
    clock.at(start)
    check_in = {**where, "code": care.code}
    ok(client.post(f"/api/v1/care/worker/orders/{order['id']}/check-in", json=check_in, headers=care.w1["headers"]))
    clock.at(start + timedelta(minutes=70))
    bare = client.post(f"/api/v1/care/worker/orders/{order['id']}/check-out", json=where, headers=care.w1["headers"])
    fails(bare, 422, "validation_failed")
    buffer = io.BytesIO()
    Image.new("RGB", (16, 12), (10, 120, 40)).save(buffer, "JPEG")
    upload = client.post(
        "/api/v1/media",
        data={"file": (io.BytesIO(buffer.getvalue()), "after.jpg", "image/jpeg")},
        headers=care.w1["headers"],
        content_type="multipart/form-data",
    )
    photo = ok(upload, 201)["id"]
    out = {**where, "photo_ids": [photo]}
    ok(client.post(f"/api/v1/care/worker/orders/{order['id']}/check-out", json=out, headers=care.w1["headers"]))
    assert client.get(f"/api/v1/media/{photo}", headers=care.daughter["headers"]).status_code == 200
    assert client.get(f"/api/v1/media/{photo}", headers=care.stranger["headers"]).status_code == 404


def test_round_robin_offers_the_least_busy_worker_and_never_one_who_declined(client, care, clock, kj01_staff):
    h = kj01_staff["headers"]
    first = ok(care.order(client, care.daughter, start=local(3, "09:00")), 201)
    second = ok(care.order(client, care.daughter, start=local(3, "14:00")), 201)
    offered = ok(client.post(f"/api/v1/admin/care/orders/{first['id']}/assign", json={}, headers=h))
    assert offered["worker_name"] == "周护理员"
    ok(client.post(f"/api/v1/care/worker/orders/{first['id']}/accept", headers=care.w1["headers"]))
    other = ok(client.post(f"/api/v1/admin/care/orders/{second['id']}/assign", json={}, headers=h))
    assert other["worker_name"] == "吴护理员"
    busy = {"reason": "没空"}
    ok(client.post(f"/api/v1/care/worker/orders/{second['id']}/decline", json=busy, headers=care.w2["headers"]))
    again = ok(client.post(f"/api/v1/admin/care/orders/{second['id']}/assign", json={}, headers=h))
    assert again["worker_name"] == "周护理员"
    ok(client.post(f"/api/v1/care/worker/orders/{second['id']}/decline", json=busy, headers=care.w1["headers"]))
    fails(client.post(f"/api/v1/admin/care/orders/{second['id']}/assign", json={}, headers=h), 409, "care_no_worker")


def test_hostile_input_at_the_door_and_after_is_a_clear_4xx(client, care, clock):
    start = local(2, "09:00")
    order = ok(care.order(client, care.daughter, start=start), 201)["id"]
    ok(client.post(f"/api/v1/care/worker/orders/{order}/grab", headers=care.w1["headers"]))
    clock.at(start)
    w = care.w1["headers"]
    for body in (
        {"lat": 91, "lng": 121.5, "code": care.code},
        {"lat": 31.2, "lng": -181, "code": care.code},
        {"lat": "NaN", "lng": 121.5, "code": care.code},
        {"lat": 31.2, "lng": 121.5, "code": "x" * 5000},
        {"lng": 121.5},
    ):
        response = client.post(f"/api/v1/care/worker/orders/{order}/check-in", json=body, headers=w)
        fails(response, 422, "validation_failed")
    surrogate = json.dumps({"lat": 31.2, "lng": 121.5, "code": "\udfff"}).encode()
    response = client.post(
        f"/api/v1/care/worker/orders/{order}/check-in", data=surrogate, content_type="application/json", headers=w
    )
    assert 400 <= response.status_code < 500
    bad_photos = {"lat": 31.2, "lng": 121.5, "photo_ids": ["not-a-uuid"]}
    ok(
        client.post(
            f"/api/v1/care/worker/orders/{order}/check-in",
            json={"lat": 31.2, "lng": 121.5, "code": care.code},
            headers=w,
        )
    )
    fails(
        client.post(f"/api/v1/care/worker/orders/{order}/check-out", json=bad_photos, headers=w),
        422,
        "validation_failed",
    )
    strangers_photo = {"lat": 31.2, "lng": 121.5, "photo_ids": [str(uuid.uuid4())]}
    response = client.post(f"/api/v1/care/worker/orders/{order}/check-out", json=strangers_photo, headers=w)
    assert response.status_code == 422
    assert ok(client.get(f"/api/v1/care/orders/{order}", headers=care.daughter["headers"]))["status"] == "in_service"
    assert client.post(f"/api/v1/care/worker/orders/{uuid.uuid4()}/grab", headers=w).status_code == 404
    assert client.get("/api/v1/admin/care/settlement", headers=w).status_code in (401, 403)


def test_a_daughter_pays_an_errand_in_time_coins_and_gets_them_back_when_it_is_cancelled(client, care, clock, settings):
    from api.accounts.models import User
    from api.volunteers import ledger
    from api.volunteers.models import CoinEntry, CoinKind

    errand = CareService(
        code="errand",
        name="代买代办",
        category=Category.ERRAND,
        unit=Unit.PER_VISIT,
        list_price_fen=4500,
        duration_minutes=60,
        delivered_by=DeliveredBy.PROVIDER,
        funding_tier=FundingTier.GONGYI,
        coin_redeemable=True,
    )
    db.session.add(errand)
    daughter = db.session.get(User, uuid.UUID(care.daughter["user"]["id"]))
    account = ledger.account_of(daughter)
    db.session.add(CoinEntry(account_id=account.id, kind=CoinKind.EARNED, centi=200))  # two coins
    db.session.commit()

    order = ok(care.order(client, care.daughter, errand, pay_with_coins=True), 201)
    assert order["coins_centi"] == 150 and order["payment_order_id"] is None  # 45 元 at 30 元 a coin
    assert ledger.coin_balance(account.id) == 50
    short = care.order(client, care.daughter, errand, start=local(4, "09:00"), pay_with_coins=True)
    fails(short, 409, "coins_insufficient")
    fails(care.order(client, care.daughter, care.bath, pay_with_coins=True), 422, "validation_failed")

    back = ok(client.post(f"/api/v1/care/orders/{order['id']}/cancel", json={}, headers=care.daughter["headers"]))
    assert back["coins_refunded"] is True
    db.session.expire_all()
    assert ledger.coin_balance(account.id) == 200
    again = client.post(f"/api/v1/care/orders/{order['id']}/cancel", json={}, headers=care.daughter["headers"])
    fails(again, 409, "care_transition_not_allowed")
    assert ledger.coin_balance(account.id) == 200
