"""A daughter's WeChat during her father's bath, end to end: the app on PostgreSQL, a real Celery worker on Redis
delivering the outbox, the fake WeChat API receiving the Official Account template messages. She orders, a
provider's worker grabs the order, checks in with her father's code and checks out — and she is told at each of
the three steps, once. A worker who never turns up: the beat job, sent through the broker as beat sends it,
alerts the committee's staff and puts the order back in the pool.
"""

from __future__ import annotations

import threading
import time
import uuid
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

import pytest
from flask import Flask
from sqlalchemy import select

from api.accounts.models import Area, AreaKind, Role, Room
from api.auth import issue_access_token
from api.care.models import (
    CareOrder,
    CareOrderEvent,
    CareProvider,
    CareService,
    CareWorker,
    Category,
    DeliveredBy,
    FundingTier,
    Unit,
)
from api.care.pricing import profile_of
from api.db import db, utcnow
from api.extensions import celery
from api.notifications.models import Notification
from tests.factories import add_elder, add_wechat_user, bind_family
from tests.fake_wechat import FakeWechat
from tests.test_notifications_worker import (
    MINIAPP,
    OA,
    deployment,
    drop_leftover_deliveries,
    empty_database,
    forget_access_tokens,
    sending_app,
    start_worker,
)
from tests.worker_support import Worker, migrated_database, wait_until

pytestmark = [pytest.mark.services, pytest.mark.xdist_group("care_worker")]

DELIVERY_TIMEOUT = 20
CREW = 8
SETTLE = 2.0


@pytest.fixture(scope="module")
def fake() -> Iterator[FakeWechat]:
    with FakeWechat(dict([MINIAPP, OA])) as server:
        yield server


@pytest.fixture(scope="module")
def worker_database(pg_url: str) -> Iterator[str]:
    with migrated_database(pg_url, "linli_care") as url:
        yield url


@pytest.fixture(scope="module")
def worker(
    worker_database: str, broker_url: str, fake: FakeWechat, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Worker]:
    running = start_worker(deployment(worker_database, broker_url, fake), tmp_path_factory.mktemp("care-worker"))
    try:
        yield running
    finally:
        running.stop()
        drop_leftover_deliveries(broker_url)


@pytest.fixture(scope="module")
def sender(
    worker: Worker, worker_database: str, broker_url: str, fake: FakeWechat, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Flask]:
    with sending_app(
        deployment(worker_database, broker_url, fake), tmp_path_factory.mktemp("care-sender"), worker
    ) as app:
        yield app


@dataclass
class Bath:
    app: Flask
    worker: Worker
    fake: FakeWechat
    father_id: str
    service_id: str
    openids: dict[str, str]
    tokens: dict[str, str]
    staff_id: uuid.UUID

    def call(self, method: str, path: str, who: str, **kwargs: Any) -> Any:
        response = self.app.test_client().open(
            path, method=method, headers={"Authorization": f"Bearer {self.tokens[who]}"}, **kwargs
        )
        assert response.status_code < 300, (path, response.status_code, response.get_json())
        return response.get_json()

    def order(self, starts_in: timedelta) -> str:
        body = {
            "elder_id": self.father_id,
            "service_id": self.service_id,
            "window_start": (utcnow() + starts_in).isoformat(),
        }
        return self.call("POST", "/api/v1/care/orders", "daughter", json=body)["id"]

    def received(self, expected: int) -> list[str]:
        """The templates the daughter got, once `expected` arrived and no more came in `SETTLE` s."""
        wait_until(
            lambda: len(self.fake.sent_messages) >= expected, DELIVERY_TIMEOUT, f"{expected} messages", self.worker
        )
        time.sleep(SETTLE)
        return [m["template_id"] for m in self.fake.sent_messages if m["touser"] == self.openids["daughter"]]


@pytest.fixture
def bath(sender: Flask, worker: Worker, fake: FakeWechat, broker_url: str, worker_database: str) -> Iterator[Bath]:
    fake.reset()
    forget_access_tokens(broker_url)
    with sender.app_context():
        parent = None
        for kind, code in ((AreaKind.SUBDISTRICT, "KJ"), (AreaKind.COMMITTEE, "KJ07"), (AreaKind.ESTATE, "KJ07-01")):
            area = Area(
                kind=kind,
                code=code,
                name=code,
                parent_id=parent.id if parent else None,
                path=(parent.path if parent else "/") + code + "/",
            )
            db.session.add(area)
            db.session.flush()
            if kind == AreaKind.COMMITTEE:
                committee = area
            parent = area
        building = Area(
            kind=AreaKind.BUILDING,
            code="KJ07-01-003",
            name="3号楼",
            parent_id=parent.id,
            path=parent.path + "KJ07-01-003/",
        )
        db.session.add(building)
        db.session.flush()
        room = Room(building_id=building.id, number="501", floor=5)
        db.session.add(room)
        db.session.flush()
        father = add_elder(room, "李老伯", birth_year=1940)
        daughter = add_wechat_user("daughter")
        hand = add_wechat_user("worker")
        staff = add_wechat_user("staff", Role.STAFF, staff_area_id=committee.id, username="kj07-staff")
        bind_family(father, daughter)
        provider = CareProvider(name="颐家服务社", kind=DeliveredBy.PROVIDER, daily_capacity=50)
        db.session.add(provider)
        db.session.flush()
        db.session.add(CareWorker(provider=provider, user=hand, name="周护理员"))
        crew = [add_wechat_user(f"crew{i}") for i in range(CREW)]
        db.session.flush()
        db.session.add_all(CareWorker(provider=provider, user=u, name=f"护理员{i}") for i, u in enumerate(crew))
        service = CareService(
            code="bath-charity",
            name="公益助浴",
            category=Category.BATHING,
            unit=Unit.PER_VISIT,
            list_price_fen=0,
            duration_minutes=60,
            delivered_by=DeliveredBy.PROVIDER,
            provider_id=provider.id,
            funding_tier=FundingTier.GONGYI,
        )
        db.session.add(service)
        db.session.flush()
        profile_of(father)
        openids = {"daughter": daughter.wechat_oa_openid}
        db.session.commit()
        secret = sender.config["SECRET_KEY"]
        tokens = {
            "daughter": issue_access_token(daughter, secret=secret, ttl_seconds=900),
            "worker": issue_access_token(hand, secret=secret, ttl_seconds=900),
            **{f"crew{i}": issue_access_token(u, secret=secret, ttl_seconds=900) for i, u in enumerate(crew)},
        }
        ids = (str(father.id), str(service.id), staff.id)
    with worker.log_on_failure():
        yield Bath(sender, worker, fake, ids[0], ids[1], openids, tokens, ids[2])
    empty_database(worker_database)


def test_the_daughter_is_told_on_wechat_when_the_bath_is_taken_begun_and_done(bath):
    order = bath.order(timedelta(minutes=5))
    bath.call("POST", f"/api/v1/care/worker/orders/{order}/grab", "worker")
    assert bath.received(1) == ["linli-oa-care-accepted"]
    [accepted] = bath.fake.sent_messages
    assert accepted["data"]["thing1"] == {"value": "公益助浴"} and accepted["data"]["thing2"] == {"value": "李老伯"}
    assert accepted["miniprogram"]["pagepath"] == f"pages/care/order?id={order}"

    code = bath.call("GET", f"/api/v1/me/care/elders/{bath.father_id}/code", "daughter")["service_code"]
    where = {"lat": 31.28, "lng": 121.53}
    bath.call("POST", f"/api/v1/care/worker/orders/{order}/check-in", "worker", json={**where, "code": code})
    assert bath.received(2) == ["linli-oa-care-accepted", "linli-oa-care-checked-in"]
    bath.call("POST", f"/api/v1/care/worker/orders/{order}/check-out", "worker", json=where)
    assert bath.received(3) == ["linli-oa-care-accepted", "linli-oa-care-checked-in", "linli-oa-care-done"]

    confirmed = bath.call("POST", f"/api/v1/care/orders/{order}/confirm", "daughter")
    assert confirmed["status"] == "completed"


def test_a_worker_who_never_turns_up_alerts_staff_and_the_order_goes_back_to_the_pool(bath):
    order = bath.order(timedelta(minutes=1))
    bath.call("POST", f"/api/v1/care/worker/orders/{order}/grab", "worker")
    late = (utcnow() + timedelta(hours=1)).isoformat()
    task = celery.send_task("care.no_shows", kwargs={"now": late}, ignore_result=True)
    assert bath.worker.finished(task.id) == "1"
    with bath.app.app_context():
        again = db.session.get(CareOrder, uuid.UUID(order))
        assert again is not None and again.status == "pending_dispatch" and again.worker_id is None
        told = db.session.scalars(select(Notification.kind).where(Notification.user_id == bath.staff_id)).all()
        assert told == ["care_provider_no_show"]
    pool = bath.call("GET", "/api/v1/care/worker/pool", "worker")
    assert [o["id"] for o in pool["items"]] == [order]


def test_eight_workers_grab_one_order_at_the_same_instant_and_exactly_one_wins(bath):
    order = bath.order(timedelta(hours=3))
    barrier = threading.Barrier(CREW)

    def grab(i: int) -> tuple[int, str | None]:
        client = bath.app.test_client()
        barrier.wait()
        response = client.post(
            f"/api/v1/care/worker/orders/{order}/grab", headers={"Authorization": f"Bearer {bath.tokens[f'crew{i}']}"}
        )
        return response.status_code, (response.get_json() or {}).get("code")

    with ThreadPoolExecutor(CREW) as pool:
        answers = list(pool.map(grab, range(CREW)))
    assert sorted(status for status, _ in answers) == [200] + [409] * (CREW - 1), answers
    assert {code for status, code in answers if status == 409} <= {"care_already_taken", "care_transition_not_allowed"}
    with bath.app.app_context():
        grabs = db.session.scalars(
            select(CareOrderEvent.action).where(
                CareOrderEvent.order_id == uuid.UUID(order), CareOrderEvent.action == "grab"
            )
        ).all()
        assert grabs == ["grab"]
