"""Daily meal plans (助餐/送餐, api/care meal_*): a daughter's weekday lunch plan for her father follows the State
Council's calendar — the National Day holiday off, the make-up Saturday worked — a hospital stay pauses it, a full
route orders no meal beyond its capacity and tells staff, and the beat job run twice (even at once, 500 elders)
orders each meal once; the kitchen gets its list and CSV; bad input is a clear 4xx."""

from __future__ import annotations

import json
import threading
import time as clock
import uuid
from collections import Counter
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

import pytest
from sqlalchemy import func, select

from api.care import meal_services as meals
from api.care import meal_tasks
from api.care import services as care
from api.care.meals import MealPlan, MealPlanPause, MealRoute, MealShortage, PlanStatus, RouteMode, Schedule
from api.care.models import (
    CareOrder,
    CareOrderEvent,
    CareProvider,
    CareService,
    Category,
    Channel,
    DeliveredBy,
    FundingTier,
    Meal,
    OrderStatus,
    SubsidyRule,
    Unit,
)
from api.db import db, new_id, utcnow
from api.eldercare.models import Elder, ElderStatus
from api.errors import ApiError
from api.fields import LOCAL_TZ
from api.notifications.models import Notification
from tests.conftest import PG_URL, signed_in
from tests.factories import add_elder, add_family_member, bind_family


def local(day: date, hour: int = 9) -> datetime:
    return datetime.combine(day, time(hour), tzinfo=LOCAL_TZ).astimezone(UTC)


def orders_of(elder: Elder) -> list[CareOrder]:
    return list(
        db.session.scalars(
            select(CareOrder)
            .where(CareOrder.elder_id == elder.id, CareOrder.status != OrderStatus.CANCELLED)
            .order_by(CareOrder.service_date)
        )
    )


def days_of(elder: Elder) -> list[date]:
    return [o.service_date for o in orders_of(elder)]


@pytest.fixture
def canteen(world) -> dict[str, Any]:
    """控江社区长者食堂 with a lunch delivery service (¥15, no cut-off: the tests choose `now`), a ¥5 subsidy for the
    over-60s, and a delivery route in committee KJ01 for 40 meals a day."""
    provider = CareProvider(name="控江社区长者食堂", kind=DeliveredBy.CANTEEN, area_path="", daily_capacity=200)
    service = CareService(
        code="meal-delivery",
        name="送餐上门（午餐）",
        category=Category.MEAL_DELIVERY,
        unit=Unit.PER_MEAL,
        list_price_fen=1500,
        duration_minutes=90,
        delivered_by=DeliveredBy.CANTEEN,
        funding_tier=FundingTier.SHICHANG,
        cutoff_days_before=None,
        cutoff_local_time=None,
    )
    db.session.add_all([provider, service])
    db.session.flush()
    db.session.add(
        SubsidyRule(
            name="60岁以上助餐补贴",
            funding_line="街道养老补贴",
            tier=FundingTier.SHICHANG,
            category=Category.MEAL_DELIVERY,
            min_age=60,
            amount_fen=500,
        )
    )
    route = MealRoute(
        canteen_id=provider.id,
        service_id=service.id,
        name="一号线",
        mode=RouteMode.DELIVERY,
        area_id=world.areas["KJ01"].id,
        area_path=world.areas["KJ01"].path,
        meals="lunch,dinner",
        daily_capacity=40,
    )
    db.session.add(route)
    db.session.commit()
    return {"provider": provider, "service": service, "route": route}


def make_plan(elder: Elder, route: MealRoute, *, starts_on: date, **fields: Any) -> MealPlan:
    plan = MealPlan(
        elder_id=elder.id,
        route_id=route.id,
        meal=fields.pop("meal", Meal.LUNCH),
        schedule=fields.pop("schedule", Schedule.WORKDAYS),
        weekdays=fields.pop("weekdays", ""),
        skip_holidays=fields.pop("skip_holidays", True),
        starts_on=starts_on,
        status=PlanStatus.ACTIVE,
        area_path=elder.area_path or "",
        channel=Channel.FAMILY,
        **fields,
    )
    db.session.add(plan)
    db.session.flush()
    return plan


# ----------------------------------------------------------------------------------------------------
# The calendar
# ----------------------------------------------------------------------------------------------------


@pytest.mark.smoke
def test_a_weekday_lunch_plan_skips_the_national_day_holiday_and_works_the_make_up_saturday(app, world, canteen):
    father = add_elder(world.room("KJ01/101"), "李老伯")
    neighbour = add_elder(world.room("KJ01/102"), "王阿婆")
    make_plan(father, canteen["route"], starts_on=date(2026, 9, 19))  # the working-day calendar
    make_plan(neighbour, canteen["route"], starts_on=date(2026, 9, 19), schedule=Schedule.WEEKDAYS, weekdays="12345")

    # The beat job on Friday 18 September 2026, ordering 25 days ahead (to 13 October).
    result = meals.generate(local(date(2026, 9, 18)), days_ahead=25)
    db.session.commit()

    worked = {date(2026, 9, 20), date(2026, 10, 10)}  # the make-up Sunday and Saturday (调休)
    holidays = {date(2026, 9, 25)} | {date(2026, 10, d) for d in range(1, 8)}  # Mid-autumn Fri; National Day 1–7
    father_days = set(days_of(father))
    assert worked <= father_days, "the make-up workdays are worked"
    assert not holidays & father_days, "no lunch on the holidays"
    assert {
        date(2026, 9, 21),
        date(2026, 9, 30),
        date(2026, 10, 8),
        date(2026, 10, 9),
        date(2026, 10, 12),
    } <= father_days
    assert date(2026, 10, 11) not in father_days and date(2026, 9, 19) not in father_days  # ordinary weekend days
    assert len(father_days) == 13
    # Monday–Friday by pattern: the holidays are skipped, the make-up weekend days are not added.
    neighbour_days = set(days_of(neighbour))
    assert not (worked | holidays) & neighbour_days
    assert all(d.isoweekday() <= 5 for d in neighbour_days) and len(neighbour_days) == 11
    assert result.as_dict()["created"] == 24

    first = orders_of(father)[0]
    assert first.source == "plan" and first.meal == Meal.LUNCH and first.route_id == str(canteen["route"].id)
    assert first.list_price_fen == 1500 and first.subsidy_fen == 500 and first.self_pay_fen == 1000
    assert first.status == OrderStatus.PENDING_DISPATCH and first.ordered_by_id is None
    assert first.window_start.astimezone(LOCAL_TZ).time() == time(11, 0)
    timeline = db.session.scalars(select(CareOrderEvent.action).where(CareOrderEvent.order_id == first.id)).all()
    assert sorted(timeline) == ["approve", "place"]


def test_a_year_the_calendar_does_not_know_falls_back_to_monday_to_friday_and_says_so(app, client, world, canteen):
    father = add_elder(world.room("KJ01/101"), "李老伯")
    make_plan(father, canteen["route"], starts_on=date(2026, 12, 28))
    meals.generate(local(date(2026, 12, 27)), days_ahead=9)  # to Tuesday 5 January 2027
    db.session.commit()

    days = days_of(father)
    assert date(2027, 1, 1) not in days, "New Year's Day is a fixed-date holiday even without the official calendar"
    assert [d for d in days if d.year == 2027] == [date(2027, 1, 4), date(2027, 1, 5)]
    staff = signed_in(world.users["kj01"], client.application.extensions["linli.settings"])
    answer = client.get("/api/v1/care/meal-calendar?from=2026-12-31&to=2027-01-04", headers=staff["headers"])
    assert answer.status_code == 200, answer.get_json()
    body = answer.get_json()
    assert [d["calendar"] for d in body["items"]] == ["official", "fallback", "fallback", "fallback", "fallback"]
    assert body["items"][1]["holiday"] == "元旦" and body["items"][4]["workday"] is True
    assert body["official_until"] == "2026-10-10"


# ----------------------------------------------------------------------------------------------------
# Pause, resume, end
# ----------------------------------------------------------------------------------------------------


@pytest.mark.smoke
def test_a_paused_plan_makes_no_orders_during_the_hospital_stay(app, world, canteen):
    with app.app_context():
        _hospital_stay(world, canteen)


def _hospital_stay(world, canteen):
    father = add_elder(world.room("KJ01/101"), "李老伯")
    daughter = add_family_member("李女儿")
    bind_family(father, daughter)
    plan = make_plan(father, canteen["route"], starts_on=date(2026, 11, 2), ordered_by_id=None)
    monday = local(date(2026, 11, 1), 10)  # Sunday 1 November 2026
    meals.generate(monday, days_ahead=7)
    db.session.commit()
    assert len(days_of(father)) == 5  # Monday 2 – Friday 6 November

    # Into hospital on Wednesday 4 November until Tuesday 10th.
    changed = meals.pause_plan(
        daughter, plan.id, {"starts_on": date(2026, 11, 4), "ends_on": date(2026, 11, 10), "reason": "住院"}, monday
    )
    db.session.commit()
    assert changed["cancelled_dates"] == [date(2026, 11, 4), date(2026, 11, 5), date(2026, 11, 6)]
    cancelled = db.session.scalar(
        select(CareOrder).where(CareOrder.elder_id == father.id, CareOrder.service_date == date(2026, 11, 4))
    )
    assert cancelled.status == OrderStatus.CANCELLED and cancelled.cancelled_by_id == daughter.id

    # The beat job keeps running through the stay: nothing during it, lunch again from the 11th.
    for day in range(1, 12):
        meals.generate(local(date(2026, 11, day), 10), days_ahead=2)
        db.session.commit()
    days = days_of(father)
    assert not [d for d in days if date(2026, 11, 4) <= d <= date(2026, 11, 10)]
    assert date(2026, 11, 11) in days and date(2026, 11, 3) in days

    # Home early: resuming from Monday 9th orders the days ahead again (the cancelled days free their slot).
    back = meals.resume_plan(daughter, plan.id, {"on": date(2026, 11, 9)}, local(date(2026, 11, 7), 10))
    db.session.commit()
    assert back["ordered_dates"] == [date(2026, 11, 9)]
    assert plan.pauses[0].ends_on == date(2026, 11, 8)
    with pytest.raises(ApiError) as again:
        meals.resume_plan(daughter, plan.id, {"on": date(2026, 11, 10)}, local(date(2026, 11, 7), 10))
    assert again.value.code == "meal_plan_not_paused"

    # Ending it cancels what is not dispatched yet, and the elder's lunch is free for a new plan.
    ended = meals.end_plan(daughter, plan.id, {}, local(date(2026, 11, 9), 10))
    db.session.commit()
    assert plan.status == PlanStatus.ENDED and ended["cancelled_dates"] == [
        date(2026, 11, 11),
        date(2026, 11, 12),
        date(2026, 11, 13),
    ]


def test_a_dispatched_meal_is_not_cancelled_by_a_pause_and_is_listed_instead(app, world, canteen):
    father = add_elder(world.room("KJ01/101"), "李老伯")
    staff = world.users["kj01"]
    plan = make_plan(father, canteen["route"], starts_on=date(2026, 11, 2))
    now = local(date(2026, 11, 1), 10)
    meals.generate(now, days_ahead=2)
    first = orders_of(father)[0]
    first.status = OrderStatus.ACCEPTED  # the canteen's delivery worker took it
    db.session.commit()

    changed = meals.pause_plan(staff, plan.id, {"starts_on": date(2026, 11, 2)}, now)
    assert changed["cancelled_dates"] == [date(2026, 11, 3)]
    assert [o.id for o in changed["dispatched_orders"]] == [first.id]


# ----------------------------------------------------------------------------------------------------
# Capacity and running twice
# ----------------------------------------------------------------------------------------------------


def test_a_full_route_creates_no_orders_beyond_its_capacity_and_tells_staff(app, client, world, canteen, settings):
    route = canteen["route"]
    route.daily_capacity = 3
    elders = [add_elder(world.room("KJ01/101"), f"老人{i}") for i in range(5)]
    daughter = add_family_member("女儿")
    bind_family(elders[4], daughter)
    for i, elder in enumerate(elders):
        make_plan(elder, route, starts_on=date(2026, 11, 2), created_at=utcnow() + timedelta(seconds=i))
    db.session.commit()

    with app.app_context():
        meals.generate(local(date(2026, 11, 1), 10), days_ahead=1)  # Monday 2 November
        meals.generate(local(date(2026, 11, 1), 11), days_ahead=1)  # and again: nothing more, nobody told twice
        db.session.commit()

    on_monday = db.session.scalars(select(CareOrder).where(CareOrder.service_date == date(2026, 11, 2))).all()
    assert sorted(o.elder_id for o in on_monday) == sorted(e.id for e in elders[:3]), "who joined first is served"
    short = db.session.scalars(select(MealShortage).order_by(MealShortage.created_at)).all()
    assert sorted(s.elder_id for s in short) == sorted(e.id for e in elders[3:])
    told = db.session.scalars(select(Notification).where(Notification.kind == "care_meal_shortage")).all()
    assert {n.user_id for n in told} >= {world.users["kj01"].id} and world.users["kj02"].id not in {
        n.user_id for n in told
    }
    assert len([n for n in told if n.user_id == world.users["kj01"].id]) == 1
    assert "每日限 3 份" in told[0].body and "2 位老人" in told[0].body
    family = db.session.scalars(select(Notification).where(Notification.kind == "care_meal_not_arranged")).all()
    assert [n.user_id for n in family] == [daughter.id]

    # Staff see it on the route's list for the day, then give the route more room: the waiting meals are ordered.
    staff = signed_in(world.users["kj01"], settings)
    listing = client.get(f"/api/v1/admin/care/meal-routes/{route.id}/meals?date=2026-11-02", headers=staff["headers"])
    assert listing.status_code == 200, listing.get_json()
    body = listing.get_json()
    assert body["count"] == 3 and body["capacity"] == 3 and len(body["shortages"]) == 2
    shortages = client.get("/api/v1/admin/care/meal-shortages?date=2026-11-02", headers=staff["headers"])
    assert len(shortages.get_json()["items"]) == 2
    other = signed_in(world.users["kj02"], settings)
    assert client.get(f"/api/v1/admin/care/meal-routes/{route.id}/meals", headers=other["headers"]).status_code == 404
    assert client.get("/api/v1/admin/care/meal-shortages", headers=other["headers"]).get_json()["items"] == []

    with app.app_context():
        meals.update_route(world.users["kj01"], route.id, {"daily_capacity": 5}, local(date(2026, 11, 1), 12))
        db.session.commit()
    assert db.session.scalar(select(func.count(CareOrder.id)).where(CareOrder.service_date == date(2026, 11, 2))) == 5
    assert db.session.scalar(select(func.count(MealShortage.id))) == 0


@pytest.mark.smoke
def test_the_beat_job_run_twice_orders_each_meal_once(app, world, canteen):
    elders = [add_elder(world.room("KJ01/201"), f"老人{i}") for i in range(12)]
    for elder in elders:
        make_plan(elder, canteen["route"], starts_on=date(2026, 11, 2))
    db.session.commit()
    now = local(date(2026, 11, 1), 10).isoformat()

    first = meal_tasks.order_meal_plans.apply(kwargs={"now": now}).get()
    second = meal_tasks.order_meal_plans.apply(kwargs={"now": now}).get()
    db.session.remove()

    assert first["created"] == 24 and second["created"] == 0  # two days ahead by default: Monday and Tuesday
    counts = Counter(
        db.session.execute(select(CareOrder.elder_id, CareOrder.service_date).where(CareOrder.source == "plan")).all()
    )
    assert len(counts) == 24 and set(counts.values()) == {1}


def test_a_meal_ordered_by_hand_is_not_ordered_again_by_the_plan(app, world, canteen):
    father = add_elder(world.room("KJ01/101"), "李老伯")
    daughter = add_family_member("李女儿")
    bind_family(father, daughter)
    db.session.flush()
    tuesday = date(2026, 11, 3)
    start, _ = meals.window(tuesday, Meal.LUNCH)
    by_hand = care.place_order(
        elder_id=father.id,
        service_id=canteen["service"].id,
        window_start=start,
        ordered_by=daughter,
        meal=Meal.LUNCH,
        now=local(date(2026, 11, 1)),
    )
    make_plan(father, canteen["route"], starts_on=date(2026, 11, 2))
    meals.generate(local(date(2026, 11, 1), 10), days_ahead=2)
    db.session.commit()
    assert [o.id for o in orders_of(father) if o.service_date == tuesday] == [by_hand.id]
    assert days_of(father) == [date(2026, 11, 2), tuesday]


def test_a_plans_meals_wait_for_the_cut_off_of_the_service(app, world, canteen):
    service = canteen["service"]
    service.cutoff_days_before, service.cutoff_local_time = 1, "16:00"
    father = add_elder(world.room("KJ01/101"), "李老伯")
    make_plan(father, canteen["route"], starts_on=date(2026, 11, 2))
    db.session.commit()
    meals.generate(local(date(2026, 11, 1), 17), days_ahead=2)  # Sunday 17:00: Monday's meals closed at 16:00
    db.session.commit()
    assert days_of(father) == [date(2026, 11, 3)]


# ----------------------------------------------------------------------------------------------------
# 500 elders, the beat job twice at once (PostgreSQL)
# ----------------------------------------------------------------------------------------------------


@pytest.mark.services
@pytest.mark.commits
@pytest.mark.skipif(not PG_URL, reason="needs PostgreSQL (the services pass)")
def test_500_elders_meal_orders_for_tomorrow_are_generated_once_even_when_the_beat_job_runs_twice_at_once(
    app, world, canteen
):
    route = canteen["route"]
    route.daily_capacity = 1000
    room = world.room("KJ01/101")
    db.session.execute(
        Elder.__table__.insert(),
        [
            {
                "id": new_id(),
                "name": f"老人{i:03d}",
                "room_id": room.id,
                "birth_year": 1940,
                "conditions": "",
                "status": ElderStatus.ACTIVE,
                "created_at": utcnow(),
                "door_inactivity_hours": 24,
                "bp_systolic_max": 160,
                "bp_diastolic_max": 100,
            }
            for i in range(500)
        ],
    )
    elder_ids = db.session.scalars(select(Elder.id)).all()
    db.session.execute(
        MealPlan.__table__.insert(),
        [
            {
                "id": new_id(),
                "elder_id": elder_id,
                "route_id": route.id,
                "meal": Meal.LUNCH,
                "schedule": Schedule.WORKDAYS,
                "weekdays": "",
                "skip_holidays": True,
                "starts_on": date(2026, 11, 2),
                "status": PlanStatus.ACTIVE,
                "note": "",
                "area_path": room.path,
                "channel": Channel.FAMILY,
                "created_at": utcnow(),
            }
            for elder_id in elder_ids
        ],
    )
    db.session.commit()
    now = local(date(2026, 11, 1), 10)  # tomorrow is Monday 2 November
    gate, answers, lock = threading.Barrier(2), [], threading.Lock()

    def run() -> None:
        with app.app_context():
            gate.wait()
            started = clock.perf_counter()
            result = meals.generate(now, days_ahead=1)
            db.session.commit()
            with lock:
                answers.append((len(result.created), clock.perf_counter() - started))
            db.session.remove()

    threads = [threading.Thread(target=run) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    db.session.remove()

    print("two generator runs at once (created, seconds):", sorted(answers))
    assert sorted(created for created, _ in answers) == [0, 500]
    assert max(seconds for _, seconds in answers) < 30, answers
    per_elder = Counter(
        db.session.scalars(select(CareOrder.elder_id).where(CareOrder.service_date == date(2026, 11, 2))).all()
    )
    assert len(per_elder) == 500 and set(per_elder.values()) == {1}
    assert db.session.scalar(select(func.count(CareOrderEvent.id))) == 1000  # "place" and "approve" once each


# ----------------------------------------------------------------------------------------------------
# Through the API: residents, families, staff; bad input
# ----------------------------------------------------------------------------------------------------


@pytest.fixture
def family(world, settings, canteen) -> dict[str, Any]:
    father = add_elder(world.room("KJ01/101"), "李老伯")
    daughter = add_family_member("李女儿")
    bind_family(father, daughter)
    stranger = add_family_member("陌生人")
    db.session.commit()
    return {
        "father": father,
        "daughter": signed_in(daughter, settings),
        "stranger": signed_in(stranger, settings),
        "route": canteen["route"],
    }


def plan_body(family: dict[str, Any], **overrides: Any) -> dict[str, Any]:
    return {
        "elder_id": str(family["father"].id),
        "route_id": str(family["route"].id),
        "meal": "lunch",
        "schedule": "weekdays",
        "weekdays": "12345",
        **overrides,
    }


@pytest.mark.smoke
def test_a_daughter_makes_a_weekday_lunch_plan_for_her_father_and_pauses_it(client, family):
    headers = {**family["daughter"]["headers"], "Idempotency-Key": str(uuid.uuid4())}
    made = client.post("/api/v1/care/meal-plans", json=plan_body(family, note="少盐"), headers=headers)
    assert made.status_code == 201, made.get_json()
    again = client.post("/api/v1/care/meal-plans", json=plan_body(family, note="少盐"), headers=headers)
    assert again.get_json()["id"] == made.get_json()["id"], "a retry returns the first plan"
    plan = made.get_json()
    assert plan["elder_name"] == "李老伯" and plan["route"]["name"] == "一号线" and plan["mode"] == "delivery"
    assert plan["channel"] == "family" and plan["upcoming"] and plan["upcoming"][0]["calendar"] == "official"

    mine = client.get("/api/v1/me/care/meal-plans", headers=family["daughter"]["headers"]).get_json()
    assert [p["id"] for p in mine["items"]] == [plan["id"]]
    routes = client.get(
        f"/api/v1/care/meal-routes?elder_id={family['father'].id}", headers=family["daughter"]["headers"]
    )
    assert [r["name"] for r in routes.get_json()["items"]] == ["一号线"]

    tomorrow = (datetime.now(LOCAL_TZ) + timedelta(days=1)).date()
    paused = client.post(
        f"/api/v1/care/meal-plans/{plan['id']}/pause",
        json={"starts_on": tomorrow.isoformat(), "reason": "住院"},
        headers=family["daughter"]["headers"],
    )
    assert paused.status_code == 200, paused.get_json()
    assert paused.get_json()["plan"]["pauses"][0]["ends_on"] is None
    assert paused.get_json()["plan"]["upcoming"] == []
    second = client.post("/api/v1/care/meal-plans", json=plan_body(family), headers=family["daughter"]["headers"])
    assert second.status_code == 409 and second.get_json()["code"] == "meal_plan_exists"
    resumed = client.post(
        f"/api/v1/care/meal-plans/{plan['id']}/resume", json={}, headers=family["daughter"]["headers"]
    )
    assert resumed.status_code == 200, resumed.get_json()
    ended = client.post(f"/api/v1/care/meal-plans/{plan['id']}/end", json={}, headers=family["daughter"]["headers"])
    assert ended.status_code == 200 and ended.get_json()["plan"]["status"] == "ended"


def test_someone_who_does_not_look_after_the_elder_is_refused(client, family):
    refused = client.post("/api/v1/care/meal-plans", json=plan_body(family), headers=family["stranger"]["headers"])
    assert refused.status_code == 403 and refused.get_json()["code"] == "care_not_family"
    made = client.post("/api/v1/care/meal-plans", json=plan_body(family), headers=family["daughter"]["headers"])
    plan_id = made.get_json()["id"]
    for path in ("", "/pause", "/resume", "/end"):
        method = client.get if not path else client.post
        answer = method(f"/api/v1/care/meal-plans/{plan_id}{path}", json={}, headers=family["stranger"]["headers"])
        assert answer.status_code == 404, (path, answer.get_json())
    assert client.get("/api/v1/me/care/meal-plans", headers=family["stranger"]["headers"]).get_json()["items"] == []


@pytest.mark.parametrize(
    ("overrides", "field"),
    [
        ({"weekdays": "12389"}, "weekdays"),
        ({"weekdays": "1123"}, "weekdays"),
        ({"weekdays": ""}, "weekdays"),
        ({"schedule": "workdays", "weekdays": "12345"}, "weekdays"),
        ({"schedule": "fortnightly"}, "schedule"),
        ({"meal": "supper"}, "meal"),
        ({"meal": "breakfast"}, "meal"),
        ({"mode": "pickup"}, "mode"),
        ({"starts_on": "2026-12-20", "ends_on": "2026-12-10"}, "ends_on"),
        ({"starts_on": "2020-01-01"}, "starts_on"),
        ({"starts_on": "9999-12-31"}, "starts_on"),
        ({"starts_on": "0001-01-01"}, "starts_on"),
        ({"ends_on": "9999-12-31"}, "ends_on"),
        ({"starts_on": "2026-02-30"}, "starts_on"),
        ({"route_id": "00000000-0000-0000-0000-000000000000"}, "route_id"),
        ({"route_id": "not-a-uuid"}, "route_id"),
        ({"note": "少盐\ud800"}, "note"),
        ({"note": "x" * 201}, "note"),
        ({"skip_holidays": "maybe"}, "skip_holidays"),
    ],
)
def test_bad_plan_input_is_a_clear_422_and_stores_nothing(client, family, overrides, field):
    # Sent as JSON text with `\ud800` escapes, as a client would (a lone surrogate cannot be encoded otherwise).
    answer = client.post(
        "/api/v1/care/meal-plans",
        data=json.dumps(plan_body(family, **overrides)),
        content_type="application/json",
        headers=family["daughter"]["headers"],
    )
    assert answer.status_code == 422, answer.get_json()
    assert field in answer.get_json()["errors"], answer.get_json()
    assert db.session.scalar(select(func.count(MealPlan.id))) == 0


def test_bad_pause_and_calendar_input_is_a_clear_4xx(client, family):
    made = client.post("/api/v1/care/meal-plans", json=plan_body(family), headers=family["daughter"]["headers"])
    plan_id = made.get_json()["id"]
    headers = family["daughter"]["headers"]
    cases = [
        ({"starts_on": "2026-12-20", "ends_on": "2026-12-10"}, 422),
        ({"starts_on": "2020-01-01"}, 422),
        ({"starts_on": "9999-12-31"}, 422),
        ({"reason": "\ud83d"}, 422),
    ]
    for body, status in cases:
        answer = client.post(
            f"/api/v1/care/meal-plans/{plan_id}/pause",
            data=json.dumps(body),
            content_type="application/json",
            headers=headers,
        )
        assert answer.status_code == status, (body, answer.get_json())
    ok = client.post(f"/api/v1/care/meal-plans/{plan_id}/pause", json={}, headers=headers)
    assert ok.status_code == 200
    overlap = client.post(f"/api/v1/care/meal-plans/{plan_id}/pause", json={"reason": "再次"}, headers=headers)
    assert overlap.status_code == 409 and overlap.get_json()["code"] == "meal_plan_paused_overlap"
    for query in ("from=2026-12-01&to=2026-11-01", "from=2026-01-01&to=2026-12-31", "from=0000-01-01&to=2026-01-01"):
        answer = client.get(f"/api/v1/care/meal-calendar?{query}", headers=headers)
        assert answer.status_code == 422, (query, answer.get_json())
    edge = client.get("/api/v1/care/meal-calendar?from=9999-12-01&to=9999-12-31", headers=headers)
    assert edge.status_code in (200, 422) and edge.status_code != 500


def test_staff_run_routes_of_their_area_and_export_the_kitchens_list(client, world, canteen, family, settings):
    staff = signed_in(world.users["kj01"], settings)
    body = {
        "canteen_id": str(canteen["provider"].id),
        "service_id": str(canteen["service"].id),
        "name": "二号线",
        "mode": "pickup",
        "area_id": str(world.areas["KJ01"].id),
        "meals": ["lunch"],
        "daily_capacity": 30,
    }
    made = client.post("/api/v1/admin/care/meal-routes", json=body, headers=staff["headers"])
    assert made.status_code == 201, made.get_json()
    assert made.get_json()["canteen_name"] == "控江社区长者食堂" and made.get_json()["meals"] == ["lunch"]
    duplicate = client.post("/api/v1/admin/care/meal-routes", json=body, headers=staff["headers"])
    assert duplicate.status_code == 422
    elsewhere = client.post(
        "/api/v1/admin/care/meal-routes",
        json={**body, "name": "三号线", "area_id": str(world.areas["KJ02"].id)},
        headers=staff["headers"],
    )
    assert elsewhere.status_code == 422 and "area_id" in elsewhere.get_json()["errors"]
    bad = client.post(
        "/api/v1/admin/care/meal-routes",
        json={**body, "name": "四号线", "daily_capacity": -1},
        headers=staff["headers"],
    )
    assert bad.status_code == 422
    routes = client.get("/api/v1/admin/care/meal-routes", headers=staff["headers"]).get_json()["items"]
    assert {r["name"] for r in routes} == {"一号线", "二号线"}
    other = signed_in(world.users["kj02"], settings)
    assert client.get("/api/v1/admin/care/meal-routes", headers=other["headers"]).get_json()["items"] == []
    patched = client.patch(
        f"/api/v1/admin/care/meal-routes/{made.get_json()['id']}", json={"daily_capacity": 10}, headers=other["headers"]
    )
    assert patched.status_code == 404
    assert client.get("/api/v1/admin/care/meal-routes", headers=family["daughter"]["headers"]).status_code == 403

    # A phone order by staff: a lunch plan for 李老伯, then tomorrow's list and its CSV for the kitchen.
    phoned = client.post(
        "/api/v1/care/meal-plans", json=plan_body(family, schedule="workdays", weekdays=None), headers=staff["headers"]
    )
    assert phoned.status_code == 201, phoned.get_json()
    assert phoned.get_json()["channel"] == "staff_phone"
    route_id = family["route"].id
    tomorrow = (datetime.now(LOCAL_TZ) + timedelta(days=1)).date()
    listing = client.get(f"/api/v1/admin/care/meal-routes/{route_id}/meals", headers=staff["headers"]).get_json()
    assert listing["date"] == tomorrow.isoformat()
    served = meals.meal_list(db.session.get(MealRoute, route_id), tomorrow)["count"]
    assert listing["count"] == served
    csv = client.get(f"/api/v1/admin/care/meal-routes/{route_id}/meals.csv", headers=staff["headers"])
    assert csv.status_code == 200 and csv.mimetype == "text/csv"
    text = csv.get_data(as_text=True)
    assert text.startswith("\ufeff") and "序号,老人,地址" in text
    assert ("李老伯" in text) == (served == 1)
    plans = client.get("/api/v1/admin/care/meal-plans", headers=staff["headers"]).get_json()["items"]
    assert [p["elder_name"] for p in plans] == ["李老伯"]
    assert client.get("/api/v1/admin/care/meal-plans", headers=other["headers"]).get_json()["items"] == []


def test_a_daughters_account_deleted_leaves_her_fathers_plan_without_her_name_or_note(app, world, canteen):
    from api.care import meal_personal

    father = add_elder(world.room("KJ01/101"), "李老伯")
    daughter = add_family_member("李女儿")
    bind_family(father, daughter)
    plan = make_plan(
        father, canteen["route"], starts_on=date(2026, 11, 2), ordered_by_id=None, note="少盐，139 1234 5678"
    )
    db.session.flush()
    plan.ordered_by_id = daughter.id
    db.session.add(
        MealPlanPause(plan_id=plan.id, starts_on=date(2026, 11, 5), reason="住院", created_by_id=daughter.id)
    )
    db.session.commit()

    exported = meal_personal.export_meals(daughter)
    assert [p["id"] for p in exported["meal_plans"]] == [str(plan.id)]
    assert exported["meal_plans"][0]["made_by_me"] and exported["meal_plans"][0]["pauses"][0]["reason"] == "住院"

    meal_personal.erase_meals(daughter)
    meal_personal.erase_meals(daughter)  # idempotent
    db.session.commit()
    db.session.expire_all()
    kept = db.session.get(MealPlan, plan.id)
    assert kept.status == PlanStatus.ACTIVE and kept.ordered_by_id is None and kept.note == ""
    assert kept.pauses[0].reason == "" and kept.pauses[0].created_by_id is None
