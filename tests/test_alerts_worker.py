"""From the smoke detector to the family's WeChat, end to end: a signed batch posted to the ingestion
endpoint of an app on PostgreSQL, a real Celery worker on Redis delivering the outbox, and the fake
WeChat API receiving the Official Account template messages.

What is asserted is what the people notice: the daughter gets exactly one message however often the
detector repeats itself; when nobody answers, the son and then the staff of the area get one each; once
someone acknowledges, nobody else is woken. Escalation is driven by sending the beat job's task through
the broker with a `now` a few minutes ahead, instead of waiting minutes. Timings are measured in
`bench/alert_ingestion.py`, never asserted here.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

import pytest
from flask import Flask

from api.accounts.models import Area, AreaKind, Role, Room
from api.db import db, utcnow
from api.devices.models import DeviceType
from api.extensions import celery
from tests.factories import add_device, add_elder, add_wechat_user, bind_family, iot_event, pushed
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

# One xdist process runs this module: its worker (and database) start once.
pytestmark = [pytest.mark.services, pytest.mark.xdist_group("alerts_worker")]

ALERT_OA_TEMPLATE = "linli-oa-device-alert"
DELIVERY_TIMEOUT = 20
SETTLE = 2.0  # once the expected messages are there: long enough for a duplicate to arrive as well


@pytest.fixture(scope="module")
def fake() -> Iterator[FakeWechat]:
    with FakeWechat(dict([MINIAPP, OA])) as server:
        yield server


@pytest.fixture(scope="module")
def worker_database(pg_url: str) -> Iterator[str]:
    with migrated_database(pg_url, "linli_alerts") as url:
        yield url


@pytest.fixture(scope="module")
def worker(
    worker_database: str, broker_url: str, fake: FakeWechat, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Worker]:
    running = start_worker(deployment(worker_database, broker_url, fake), tmp_path_factory.mktemp("alerts-worker"))
    try:
        yield running
    finally:
        running.stop()
        drop_leftover_deliveries(broker_url)


@pytest.fixture(scope="module")
def sender(
    worker: Worker, worker_database: str, broker_url: str, fake: FakeWechat, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Flask]:
    env = deployment(worker_database, broker_url, fake)
    with sending_app(env, tmp_path_factory.mktemp("alerts-sender"), worker) as app:
        yield app


@dataclass
class Home:
    """王阿婆's flat with a smoke detector; her daughter (first contact), son (second), the committee's staff."""

    app: Flask
    worker: Worker
    fake: FakeWechat
    openids: dict[str, str]
    tokens: dict[str, str]

    def push(self, *kinds: str, serial: str = "SMK-E2E") -> dict[str, Any]:
        return pushed(self.app.test_client(), [iot_event(serial, kind) for kind in kinds])

    def beat(self, after_seconds: float) -> str:
        """The escalation beat job, sent by name through the broker as beat sends it, `after_seconds` ahead."""
        now = (utcnow() + timedelta(seconds=after_seconds)).isoformat()
        task = celery.send_task("alerts.escalate", kwargs={"now": now}, ignore_result=True)
        return self.worker.finished(task.id)

    def received(self, expected: int) -> list[str]:
        """Who got template messages (by name), once `expected` arrived and no more came in `SETTLE` s."""
        wait_until(
            lambda: len(self.fake.sent_messages) >= expected, DELIVERY_TIMEOUT, f"{expected} messages", self.worker
        )
        time.sleep(SETTLE)
        names = {openid: name for name, openid in self.openids.items()}
        return [names.get(m["touser"], m["touser"]) for m in self.fake.sent_messages]


@pytest.fixture
def home(sender: Flask, worker: Worker, fake: FakeWechat, broker_url: str, worker_database: str) -> Iterator[Home]:
    fake.reset()
    forget_access_tokens(broker_url)
    with sender.app_context():
        areas: dict[str, Area] = {}
        parent = None
        for kind, code in ((AreaKind.SUBDISTRICT, "KJ"), (AreaKind.COMMITTEE, "KJ05"), (AreaKind.ESTATE, "KJ05-01")):
            area = Area(
                kind=kind,
                code=code,
                name=code,
                parent_id=parent.id if parent else None,
                path=(parent.path if parent else "/") + code + "/",
            )
            db.session.add(area)
            db.session.flush()
            areas[code] = parent = area
        building = Area(
            kind=AreaKind.BUILDING,
            code="KJ05-01-012",
            name="12号楼",
            parent_id=parent.id,
            path=parent.path + "KJ05-01-012/",
        )
        db.session.add(building)
        db.session.flush()
        room = Room(building_id=building.id, number="302", floor=3)
        db.session.add(room)
        db.session.flush()
        elder = add_elder(room, birth_year=None, consent=["smoke_detector"])
        daughter, son = add_wechat_user("daughter"), add_wechat_user("son")
        staff = add_wechat_user("staff", Role.STAFF, staff_area_id=areas["KJ05"].id, username="kj05-staff")
        bind_family(elder, daughter, son)
        add_device("SMK-E2E", DeviceType.SMOKE_DETECTOR, room, elder)
        openids = {"daughter": daughter.wechat_oa_openid, "son": son.wechat_oa_openid, "staff": staff.wechat_oa_openid}
        db.session.commit()
        from api.auth import issue_access_token

        secret = sender.config["SECRET_KEY"]
        tokens = {"daughter": issue_access_token(daughter, secret=secret, ttl_seconds=900)}
    with worker.log_on_failure():
        yield Home(sender, worker, fake, openids, tokens)
    empty_database(worker_database)


def test_a_smoke_alarm_reaches_the_first_contact_once_then_the_chain_walks_while_nobody_answers(home):
    answer = home.push("smoke")
    alert_id = answer["results"][0]["alert_id"]

    assert home.received(1) == ["daughter"]
    [message] = home.fake.sent_messages
    assert message["kind"] == "template" and message["template_id"] == ALERT_OA_TEMPLATE
    assert message["miniprogram"] == {"appid": MINIAPP[0], "pagepath": f"pages/alerts/detail?id={alert_id}"}
    assert message["data"]["thing1"] == {"value": "王阿婆"}

    for _ in range(5):  # 50 repeats within a minute
        repeats = home.push(*["smoke"] * 10)
        assert {r["alert_id"] for r in repeats["results"]} == {alert_id}
    assert home.received(1) == ["daughter"]

    assert home.beat(60) == "0"  # not yet
    assert home.beat(181) == "1"
    assert home.received(2) == ["daughter", "son"]
    assert home.beat(181) == "0"  # the same step is not taken twice
    assert home.beat(362) == "1"
    assert home.received(3) == ["daughter", "son", "staff"]


def test_an_acknowledgement_stops_the_chain(home):
    alert_id = home.push("smoke")["results"][0]["alert_id"]
    assert home.received(1) == ["daughter"]

    ack = home.app.test_client().post(
        f"/api/v1/alerts/{alert_id}/ack", headers={"Authorization": f"Bearer {home.tokens['daughter']}"}
    )
    assert ack.status_code == 200 and ack.get_json()["status"] == "acknowledged"

    assert home.beat(181) == "0"
    assert home.beat(3600) == "0"
    assert home.received(1) == ["daughter"]
