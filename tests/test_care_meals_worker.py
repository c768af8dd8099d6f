"""Daily meal plans with the parts a deployment runs (PostgreSQL, a real Celery worker, the app served over HTTP —
the payments rig): a daughter makes a weekday lunch plan for her father over HTTP; 500 elders of a canteen's route
have their lunch ordered for tomorrow by the beat job sent through the broker twice at once, and exactly 500 orders
exist afterwards, each with its price snapshot, and the kitchen's CSV counts them."""

from __future__ import annotations

import uuid
from datetime import datetime, timedelta

import pytest
from sqlalchemy import func, select

from api.accounts.models import Area, AreaKind, Role, Room, User
from api.accounts.services import create_staff, issue_tokens
from api.care.meals import MealPlan, MealRoute, PlanStatus, RouteMode, Schedule
from api.care.models import (
    CareOrder,
    CareProvider,
    CareService,
    Category,
    Channel,
    DeliveredBy,
    FundingTier,
    Meal,
    OrderStatus,
    Unit,
)
from api.db import db, new_id, utcnow
from api.eldercare.models import BindingStatus, Elder, ElderStatus, FamilyBinding
from api.extensions import celery
from api.fields import LOCAL_TZ
from tests.test_payments_worker import STAFF_PASSWORD, Rig, login
from tests.test_payments_worker import rig as rig

pytestmark = pytest.mark.services

ELDERS = 500


def test_500_elders_lunches_for_tomorrow_are_ordered_once_by_the_beat_job_sent_twice_at_once(rig: Rig) -> None:
    tag = uuid.uuid4().hex[:6]
    with rig.app.app_context():
        kj = db.session.scalar(select(Area).where(Area.code == "KJ"))
        if kj is None:
            kj = Area(kind=AreaKind.SUBDISTRICT, code="KJ", name="控江路街道", path="/KJ/")
            db.session.add(kj)
            db.session.flush()
        committee = Area(
            kind=AreaKind.COMMITTEE, code=f"M{tag}", name="凤城居委会", parent_id=kj.id, path=f"/KJ/M{tag}/"
        )
        db.session.add(committee)
        db.session.flush()
        building = Area(
            kind=AreaKind.BUILDING, code=f"M{tag}-1", name="1号楼", parent_id=committee.id, path=f"{committee.path}1/"
        )
        db.session.add(building)
        db.session.flush()
        room = Room(building_id=building.id, number="101", floor=1)
        canteen = CareProvider(name=f"凤城长者食堂{tag}", kind=DeliveredBy.CANTEEN, area_path="", daily_capacity=600)
        service = CareService(
            code=f"lunch-{tag}",
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
        db.session.add_all([room, canteen, service])
        db.session.flush()
        route = MealRoute(
            canteen_id=canteen.id,
            service_id=service.id,
            name="一号线",
            mode=RouteMode.DELIVERY,
            area_id=committee.id,
            area_path=committee.path,
            meals="lunch",
            daily_capacity=600,
        )
        db.session.add(route)
        create_staff(f"meals-{tag}", STAFF_PASSWORD, Role.STAFF, committee.code)
        father = Elder(name="李老伯", room_id=room.id, birth_year=1940, status=ElderStatus.ACTIVE)
        daughter = User(wechat_openid=f"o-meals-{tag}", nickname="李女儿")
        daughter.grant(Role.RESIDENT)
        db.session.add_all([father, daughter])
        db.session.flush()
        db.session.add(
            FamilyBinding(
                elder_id=father.id,
                user_id=daughter.id,
                relation="子女",
                position=1,
                status=BindingStatus.CONFIRMED,
                confirmed_at=utcnow(),
            )
        )
        elder_ids = [new_id() for _ in range(ELDERS - 1)]
        db.session.execute(
            Elder.__table__.insert(),
            [
                {
                    "id": elder_id,
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
                for i, elder_id in enumerate(elder_ids)
            ],
        )
        # Every day of the week, holidays too: whatever day this runs, tomorrow is a lunch day.
        db.session.execute(
            MealPlan.__table__.insert(),
            [
                {
                    "id": new_id(),
                    "elder_id": elder_id,
                    "route_id": route.id,
                    "meal": Meal.LUNCH,
                    "schedule": Schedule.WEEKDAYS,
                    "weekdays": "1234567",
                    "skip_holidays": False,
                    "starts_on": datetime.now(LOCAL_TZ).date(),
                    "status": PlanStatus.ACTIVE,
                    "note": "",
                    "area_path": building.path,
                    "channel": Channel.FAMILY,
                    "created_at": utcnow(),
                }
                for elder_id in elder_ids
            ],
        )
        settings = rig.app.extensions["linli.settings"]
        token = issue_tokens(daughter, settings).access_token
        db.session.commit()
        father_id, route_id, tomorrow = father.id, route.id, datetime.now(LOCAL_TZ).date() + timedelta(days=1)

    # The daughter's plan over HTTP: the 500th elder, ordered at once for tomorrow.
    made = rig.post(
        "/api/v1/care/meal-plans",
        token,
        headers={"Idempotency-Key": str(uuid.uuid4())},
        json={
            "elder_id": str(father_id),
            "route_id": str(route_id),
            "meal": "lunch",
            "schedule": "weekdays",
            "weekdays": "1234567",
            "skip_holidays": False,
        },
    )
    assert made.status_code == 201, made.text

    # Beat sends the job; a second beat (a restarted scheduler, a second host) sends it at the same moment.
    task = celery.tasks["care.order_meal_plans"]
    first, second = task.apply_async(kwargs={"days_ahead": 1}), task.apply_async(kwargs={"days_ahead": 1})
    answers = [rig.worker.finished(first.id, timeout=120), rig.worker.finished(second.id, timeout=120)]

    with rig.app.app_context():
        orders = db.session.execute(
            select(CareOrder.elder_id, func.count(CareOrder.id))
            .where(CareOrder.route_id == str(route_id), CareOrder.service_date == tomorrow)
            .group_by(CareOrder.elder_id)
        ).all()
        assert len(orders) == ELDERS and {count for _, count in orders} == {1}, answers
        prices = db.session.execute(
            select(CareOrder.status, CareOrder.self_pay_fen, func.count())
            .where(CareOrder.route_id == str(route_id), CareOrder.service_date == tomorrow)
            .group_by(CareOrder.status, CareOrder.self_pay_fen)
        ).all()
        assert prices == [(OrderStatus.PENDING_DISPATCH, 1500, ELDERS)]

    staff = login(rig, "/api/v1/auth/staff-login", {"username": f"meals-{tag}", "password": STAFF_PASSWORD})
    listing = rig.get(
        f"/api/v1/admin/care/meal-routes/{route_id}/meals?date={tomorrow.isoformat()}", staff["access_token"]
    )
    assert listing.status_code == 200 and listing.json()["count"] == ELDERS
    csv = rig.get(
        f"/api/v1/admin/care/meal-routes/{route_id}/meals.csv?date={tomorrow.isoformat()}", staff["access_token"]
    )
    assert csv.status_code == 200 and csv.text.count("\n") == ELDERS + 2
