"""How shared parking will be judged, end to end with the parts a deployment runs: PostgreSQL, Redis, a real
Celery worker (`celery -A workers worker`, a deployment's environment, WeChat Pay pointed at the fake), the app
served over HTTP on loopback (WeChat Pay's notifies arrive as real POSTs).

A mall lends 40 bays and a pooled car park of 40 on weekday nights (18:00–08:00); 200 residents book
overlapping evenings at the same second in each. Afterwards, in SQL: no bay has two live bookings that overlap,
and the pool never holds more than 40 at any instant. An overnight booking Tuesday 19:30 → Wednesday 07:00 is
accepted, one into Saturday refused. Paid through WeChat Pay (the fake), a booking is confirmed; unpaid holds
expire through the worker and free their spaces. The gate opens for a booked plate and holds an unbooked one;
a camera replays yesterday's offline records and the bill comes out right; a magnetometer that stops reporting
turns its bay unknown.
"""

from __future__ import annotations

import contextlib
import random
import threading
import uuid
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import pytest
import requests
from flask import Flask
from sqlalchemy import select, text

from api import signedbatch
from api.accounts.models import Area, AreaKind, HouseholdMember, HouseholdRelation, Role, Room, User
from api.accounts.services import create_staff
from api.auth import issue_access_token
from api.config import DEV_IOT_PLATFORM_SECRETS, DEV_PARKING_GATE_SECRETS
from api.db import db, new_id, utcnow
from api.extensions import celery
from api.parking.models import (
    Booking,
    BookingStatus,
    Hold,
    LotKind,
    OfferStatus,
    ParkingLot,
    ParkingSpace,
    SharingOffer,
    SpaceKind,
    Vehicle,
    Verification,
)
from api.payments.models import OrderStatus, PaymentOrder
from tests.fake_wechatpay import FakeWechatPay
from tests.parking_support import GATE, IOT, WEEKDAY_NIGHTS, local, next_weekday
from tests.worker_support import (
    SECRET_KEY,
    Worker,
    served_with_worker,
    wait_until,
)

pytestmark = pytest.mark.services

RESIDENTS = 200
PLACES = 40
STAFF_PASSWORD = "correct horse battery staple"


@dataclass
class Rig:
    app: Flask
    worker: Worker
    fake: FakeWechatPay
    base_url: str

    def call(self, method: str, path: str, token: str | None = None, **kwargs: Any) -> requests.Response:
        headers = {**kwargs.pop("headers", {}), **({"Authorization": f"Bearer {token}"} if token else {})}
        return requests.request(method, self.base_url + path, headers=headers, timeout=30, **kwargs)

    def signed(self, path: str, payload: Any, platform: str = GATE) -> requests.Response:
        import json
        import time

        body = json.dumps(payload, ensure_ascii=False).encode()
        secret = {**DEV_PARKING_GATE_SECRETS, **DEV_IOT_PLATFORM_SECRETS}[platform]
        stamp = int(time.time())
        headers = {
            signedbatch.PLATFORM_HEADER: platform,
            signedbatch.TIMESTAMP_HEADER: str(stamp),
            signedbatch.SIGNATURE_HEADER: signedbatch.sign(secret, stamp, body),
            "Content-Type": "application/json",
        }
        return requests.post(self.base_url + path, data=body, headers=headers, timeout=30)

    def run_task(self, name: str, *args: Any) -> str:
        result = celery.tasks[name].apply_async(args=list(args))
        return self.worker.finished(result.id)


@pytest.fixture(scope="module")
def rig(pg_url: str, broker_url: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Rig]:
    folder = tmp_path_factory.mktemp("parking-worker")
    with served_with_worker(pg_url, broker_url, folder, "linli_parking") as (app, worker, fake, _keys, base_url):
        yield Rig(app, worker, fake, base_url)


def _subdistrict(rig: Rig) -> dict[str, Any]:
    """The mall's lots (40 bays; a pool of 40) lent on weekday nights, a lot lent all day for the gate, and 200
    residents with a verified car each, made straight in the database (what is judged is the booking)."""
    with rig.app.app_context():
        top = Area(id=new_id(), kind=AreaKind.SUBDISTRICT, code="KJ", name="控江路街道", path="/KJ/")
        committee = Area(
            id=new_id(), kind=AreaKind.COMMITTEE, code="KJ01", name="控江一村居委会", parent_id=top.id, path="/KJ/KJ01/"
        )
        building = Area(
            id=new_id(),
            kind=AreaKind.BUILDING,
            code="KJ01-01-001",
            name="1号楼",
            parent_id=committee.id,
            path="/KJ/KJ01/KJ01-01-001/",
        )
        db.session.add_all([top, committee, building])
        db.session.flush()
        mall = User(id=new_id(), nickname="控江商场", wechat_openid="o-mall")
        db.session.add(mall)
        lots = {}
        for name, kind, spaces, rules in (
            ("商场车位", SpaceKind.BAY, [(f"B{i:03d}", 1) for i in range(1, PLACES + 1)], WEEKDAY_NIGHTS),
            ("商场车库", SpaceKind.POOL, [("POOL", PLACES)], WEEKDAY_NIGHTS),
            (
                "全天车库",
                SpaceKind.BAY,
                [("G01", 1), ("G02", 1)],
                [{"days": "everyday", "start": "00:00", "end": "00:00"}],
            ),
        ):
            lot = ParkingLot(
                id=new_id(),
                area_id=committee.id,
                area_path=committee.path,
                name=name,
                kind=LotKind.CAR_PARK,
                address="控江路1000号",
                lat=31.2822,
                lng=121.5301,
                hourly_rate_fen=500,
                daily_cap_fen=4000,
                overstay_rate_fen=1000,
                pass_monthly_fen=30000,
                gate_platform=GATE,
                gate_vendor="fake",
            )
            db.session.add(lot)
            db.session.flush()
            for code, capacity in spaces:
                db.session.add(
                    ParkingSpace(
                        id=new_id(),
                        lot_id=lot.id,
                        area_path=lot.area_path,
                        code=code,
                        kind=kind,
                        capacity=capacity,
                        lender_id=mall.id,
                    )
                )
            db.session.add(
                SharingOffer(
                    lot_id=lot.id,
                    lender_id=mall.id,
                    area_path=lot.area_path,
                    rules=rules,
                    blocked_dates=[],
                    status=OfferStatus.APPROVED,
                )
            )
            lots[name] = str(lot.id)
        people = []
        for n in range(RESIDENTS + 2):
            user = User(id=new_id(), nickname=f"居民{n}", wechat_openid=f"o-resident-{n}")
            user.grant(Role.RESIDENT)
            room = Room(id=new_id(), building_id=building.id, number=f"{n:04d}", floor=1)
            db.session.add_all([user, room])
            db.session.flush()
            db.session.add(HouseholdMember(user_id=user.id, room_id=room.id, relation=HouseholdRelation.OWNER))
            vehicle = Vehicle(
                id=new_id(),
                owner_id=user.id,
                room_id=room.id,
                area_path=building.path,
                plate=f"沪A{n:05d}",
                verification=Verification.VERIFIED,
                verified_via="staff",
            )
            db.session.add(vehicle)
            db.session.flush()
            token = issue_access_token(user, secret=SECRET_KEY, ttl_seconds=3600)
            people.append({"token": token, "vehicle_id": str(vehicle.id), "plate": vehicle.plate, "id": user.id})
        staff = create_staff("parking-admin-e2e", STAFF_PASSWORD, Role.ADMIN, None)
        db.session.commit()
        staff_token = issue_access_token(staff, secret=SECRET_KEY, ttl_seconds=3600)
    return {"lots": lots, "people": people, "staff": staff_token}


def _no_overlap_on_any_bay() -> int:
    return db.session.execute(
        text(
            "SELECT count(*) FROM parking_bookings a JOIN parking_bookings b ON a.space_id = b.space_id "
            "AND a.id < b.id JOIN parking_spaces s ON s.id = a.space_id AND s.kind = 'bay' "
            "WHERE a.status IN ('held', 'confirmed', 'in_progress') "
            "AND b.status IN ('held', 'confirmed', 'in_progress') "
            "AND tstzrange(a.starts_at, a.ends_at, '[)') && tstzrange(b.starts_at, b.ends_at, '[)')"
        )
    ).scalar_one()


def _pool_peak(space_id: uuid.UUID) -> int:
    """The most live bookings of the pool at any instant (each booking's start is where a peak can begin)."""
    return db.session.execute(
        text(
            "SELECT coalesce(max(c), 0) FROM (SELECT (SELECT count(*) FROM parking_bookings b WHERE b.space_id = :s "
            "AND b.status IN ('held', 'confirmed', 'in_progress') AND b.starts_at <= a.starts_at "
            "AND b.ends_at > a.starts_at) AS c FROM parking_bookings a WHERE a.space_id = :s "
            "AND a.status IN ('held', 'confirmed', 'in_progress')) AS peaks"
        ),
        {"s": space_id},
    ).scalar_one()


def test_the_rush_the_night_window_the_gate_the_cameras_late_records_and_a_silent_magnetometer(rig: Rig):
    world = _subdistrict(rig)
    people, lots = world["people"], world["lots"]
    tuesday = next_weekday(1)
    rng = random.Random(17)

    with rig.worker.log_on_failure():
        # Every resident asks for a quote first (an overlapping evening each), then all book at the same second.
        def evening() -> tuple[datetime, datetime]:
            start = local(tuesday, f"{rng.randint(18, 21)}:{rng.choice(['00', '30'])}")
            return start, start + timedelta(hours=rng.randint(2, 10))

        quotes = []
        for index, person in enumerate(people[:RESIDENTS]):
            lot = lots["商场车位"] if index % 2 == 0 else lots["商场车库"]
            starts, ends = evening()
            for target in (lot, lots["商场车库"] if lot == lots["商场车位"] else lots["商场车位"]):
                answer = rig.call(
                    "POST",
                    "/api/v1/parking/quotes",
                    person["token"],
                    json={"lot_id": target, "starts_at": starts.isoformat(), "ends_at": ends.isoformat()},
                )
                assert answer.status_code == 201, answer.text
                quotes.append((person, answer.json()["id"]))
        start_line = threading.Barrier(50)

        def book(entry: tuple[dict[str, Any], str]) -> int:
            person, quote_id = entry
            with contextlib.suppress(threading.BrokenBarrierError):  # the last few, fewer than a full line
                start_line.wait(timeout=5)
            answer = rig.call(
                "POST",
                "/api/v1/parking/bookings",
                person["token"],
                json={"quote_id": quote_id, "vehicle_id": person["vehicle_id"]},
                headers={"Idempotency-Key": quote_id},
            )
            assert answer.status_code in (201, 409), answer.text
            return answer.status_code

        with ThreadPoolExecutor(max_workers=50) as pool:
            codes = list(pool.map(book, quotes))
        assert codes.count(201) >= PLACES and 409 in codes

        with rig.app.app_context():
            assert _no_overlap_on_any_bay() == 0
            pool_space = db.session.scalar(select(ParkingSpace.id).where(ParkingSpace.code == "POOL"))
            assert 0 < _pool_peak(pool_space) <= PLACES
            overlapping_holds = db.session.execute(
                text(
                    "SELECT count(*) FROM parking_holds a JOIN parking_holds b "
                    "ON a.space_id = b.space_id AND a.id < b.id "
                    "WHERE a.released_at IS NULL AND b.released_at IS NULL AND NOT a.pooled "
                    "AND tstzrange(a.starts_at, a.until, '[)') && tstzrange(b.starts_at, b.until, '[)')"
                )
            ).scalar_one()
            assert overlapping_holds == 0

        # The night window: Tuesday 19:30 → Wednesday 07:00 is one window; Friday night into Saturday is not.
        late = people[RESIDENTS]
        friday = tuesday + timedelta(days=3)
        over_saturday = rig.call(
            "POST",
            "/api/v1/parking/quotes",
            late["token"],
            json={
                "lot_id": lots["商场车位"],
                "starts_at": local(friday, "19:30").isoformat(),
                "ends_at": local(friday, "10:00", 1).isoformat(),
            },
        )
        assert over_saturday.status_code == 422 and over_saturday.json()["code"] == "outside_window", over_saturday.text
        overnight = rig.call(
            "POST",
            "/api/v1/parking/quotes",
            late["token"],
            json={
                "lot_id": lots["商场车位"],
                "starts_at": local(tuesday + timedelta(days=7), "19:30").isoformat(),
                "ends_at": local(tuesday + timedelta(days=7), "07:00", 1).isoformat(),
            },
        )
        assert overnight.status_code == 201, overnight.text

        # A booking paid through WeChat Pay (the fake) is confirmed; the unpaid holds expire through the worker.
        booked = rig.call(
            "POST",
            "/api/v1/parking/bookings",
            late["token"],
            json={"quote_id": overnight.json()["id"], "vehicle_id": late["vehicle_id"]},
        )
        assert booked.status_code == 201, booked.text
        order_id = booked.json()["order_id"]
        assert rig.call("POST", f"/api/v1/payments/{order_id}/prepay", late["token"]).status_code == 200
        with rig.app.app_context():
            order = db.session.get(PaymentOrder, uuid.UUID(order_id))
            out_trade_no = order.out_trade_no
        delivered = FakeWechatPay.send(rig.fake.pay(out_trade_no), rig.base_url + "/api/v1/payments/wechat/notify")
        assert delivered.status_code == 204, delivered.text
        mine = rig.call("GET", f"/api/v1/parking/bookings/{booked.json()['id']}", late["token"]).json()
        assert mine["status"] == "confirmed"
        later = (utcnow() + timedelta(minutes=11)).isoformat()
        expired = int(rig.run_task("parking.expire_holds", later))
        assert expired >= PLACES
        with rig.app.app_context():
            still_held = db.session.scalar(select(Booking.id).where(Booking.status == BookingStatus.HELD).limit(1))
            assert still_held is None
            live_holds = db.session.execute(
                text("SELECT count(*) FROM parking_holds WHERE released_at IS NULL")
            ).scalar_one()
            assert live_holds == 1  # only the paid booking keeps its time

        # The gate: the booked plate opens, an unbooked one is held.
        driver = people[RESIDENTS + 1]
        now = utcnow()
        quoted = rig.call(
            "POST",
            "/api/v1/parking/quotes",
            driver["token"],
            json={
                "lot_id": lots["全天车库"],
                "starts_at": (now + timedelta(minutes=1)).isoformat(),
                "ends_at": (now + timedelta(hours=2)).isoformat(),
            },
        )
        assert quoted.status_code == 201, quoted.text
        gate_booking = rig.call(
            "POST",
            "/api/v1/parking/bookings",
            driver["token"],
            json={"quote_id": quoted.json()["id"], "vehicle_id": driver["vehicle_id"]},
        ).json()
        assert (
            rig.call("POST", f"/api/v1/payments/{gate_booking['order_id']}/prepay", driver["token"]).status_code == 200
        )
        with rig.app.app_context():
            number = db.session.get(PaymentOrder, uuid.UUID(gate_booking["order_id"])).out_trade_no
        FakeWechatPay.send(rig.fake.pay(number), rig.base_url + "/api/v1/payments/wechat/notify")
        opened = rig.signed(
            "/api/v1/parking/gates/decisions",
            {"lot_id": lots["全天车库"], "lane": "A1", "direction": "entry", "plate": driver["plate"]},
        ).json()
        assert (opened["decision"], opened["reason"]) == ("open", "booking_valid"), opened
        held = rig.signed(
            "/api/v1/parking/gates/decisions",
            {"lot_id": lots["全天车库"], "lane": "A1", "direction": "entry", "plate": "沪Z99999"},
        ).json()
        assert (held["decision"], held["reason"]) == ("hold", "no_booking"), held

        # Yesterday's booking (made then, paid then) and the camera that was offline all night replays its records.
        with rig.app.app_context():
            space = db.session.scalar(select(ParkingSpace).where(ParkingSpace.code == "G02"))
            starts = utcnow().replace(microsecond=0) - timedelta(hours=20)
            yesterday = Booking(
                id=new_id(),
                user_id=people[0]["id"],
                vehicle_id=uuid.UUID(people[0]["vehicle_id"]),
                plate=people[0]["plate"],
                lot_id=space.lot_id,
                space_id=space.id,
                lender_id=space.lender_id,
                area_path=space.area_path,
                starts_at=starts,
                ends_at=starts + timedelta(hours=11, minutes=30),
                window="每天 全天",
                status=BookingStatus.CONFIRMED,
                price_fen=4000,
                created_at=starts - timedelta(days=1),
            )
            db.session.add(yesterday)
            db.session.flush()
            db.session.add(
                Hold(
                    space_id=space.id, booking_id=yesterday.id, pooled=False, starts_at=starts, until=yesterday.ends_at
                )
            )
            db.session.commit()
            entered, exited = starts - timedelta(minutes=5), yesterday.ends_at + timedelta(hours=2, minutes=10)
        replay = rig.signed(
            "/api/v1/parking/gates/passages",
            [
                {
                    "event_id": "y-out",
                    "lot_id": lots["全天车库"],
                    "lane": "B",
                    "direction": "exit",
                    "plate": people[0]["plate"],
                    "at": exited.isoformat(),
                },
                {
                    "event_id": "y-in",
                    "lot_id": lots["全天车库"],
                    "lane": "A",
                    "direction": "entry",
                    "plate": people[0]["plate"],
                    "at": entered.isoformat(),
                },
            ],
        )
        assert replay.status_code == 200, replay.text
        assert [r["status"] for r in replay.json()["results"]] == ["accepted", "accepted"]
        stays = rig.call("GET", "/api/v1/parking/sessions", people[0]["token"]).json()["items"]
        assert len(stays) == 1 and stays[0]["charge_fen"] == 3 * 1000 and stays[0]["overstay_minutes"] == 130
        with rig.app.app_context():
            bill = db.session.get(PaymentOrder, uuid.UUID(stays[0]["order_id"]))
            assert (bill.amount_fen, bill.status) == (3000, OrderStatus.PENDING)

        # A magnetometer that stops reporting turns its bay unknown (the worker's sweep), never free.
        with rig.app.app_context():
            road = ParkingLot(
                id=new_id(),
                area_id=db.session.scalar(select(Area.id).where(Area.code == "KJ01")),
                area_path="/KJ/KJ01/",
                name="路侧车位",
                kind=LotKind.ROAD,
                address="控江路",
                lat=31.28,
                lng=121.53,
                hourly_rate_fen=400,
                daily_cap_fen=3000,
                overstay_rate_fen=800,
            )
            db.session.add(road)
            db.session.flush()
            bay = ParkingSpace(
                id=new_id(), lot_id=road.id, area_path=road.area_path, code="R01", kind=SpaceKind.BAY, capacity=1
            )
            db.session.add(bay)
            db.session.commit()
            road_id, bay_id = road.id, bay.id
        made = rig.call(
            "POST",
            "/api/v1/admin/parking/sensors",
            world["staff"],
            json={"serial": "MAG-R01", "space_id": str(bay_id), "heartbeat_seconds": 60},
        )
        assert made.status_code == 201, made.text
        frame_at = utcnow() - timedelta(seconds=70)
        framed = rig.signed(
            "/api/v1/parking/sensors/frames",
            [{"event_id": "m1", "serial": "MAG-R01", "seq": 1, "type": "vacant", "at": frame_at.isoformat()}],
            platform=IOT,
        )
        assert framed.json()["results"][0]["status"] == "accepted"

        def road_counts() -> dict[str, Any]:
            items = rig.call("GET", "/api/v1/admin/parking/free-counts", world["staff"]).json()["items"]
            return next(lot for estate in items for lot in estate["lots"] if lot["lot_id"] == str(road_id))

        assert road_counts()["free"] == 1
        rig.run_task("parking.sweep_sensors", (utcnow() + timedelta(minutes=2)).isoformat())
        silent = wait_until(
            lambda: road_counts()["unknown"] == 1 and road_counts(), 10, "the bay to be unknown", rig.worker
        )
        assert silent["free"] == 0
