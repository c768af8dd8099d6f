"""A family member gets each message once: a real Celery worker on Redis delivers the outbox to a fake
WeChat API, through failures.

The parts are the ones a deployment runs: the worker is `celery -A workers worker` in a subprocess with
only a deployment's environment (a migrated PostgreSQL database of its own, REDIS_URL, the WeChat app
ids and secrets, WECHAT_API_BASE_URL pointed at `FakeWechat` on 127.0.0.1); the test side is an app on
the same database and broker with tasks not eager, so a committed `notify()` reaches the worker only
through the broker. What is asserted is what a family member would notice: the template messages that
arrive at the fake, and how many — after they arrive, the test waits a little longer for a duplicate.

The broker is a redis-server of this test process's own (`broker_url`: no other xdist worker takes from its
queue). The broker-outage test runs on one of the test's own (killed, and started again on the same port);
so does the test that kills the worker while WeChat has a message.
"""

from __future__ import annotations

import contextlib
import json
import logging
import re
import threading
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import redis
from flask import Flask
from sqlalchemy import create_engine, func, select, text
from sqlalchemy.pool import NullPool

from api import Settings, create_app
from api.accounts.models import User
from api.accounts.tasks import ping
from api.db import db, utcnow
from api.extensions import celery
from api.jobs import QUEUES, forget_pending
from api.models import metadata
from api.notifications import services
from api.notifications.models import AttemptOutcome, Channel, DeliveryStatus, Notification
from tests.fake_wechat import FakeWechat, Received
from tests.worker_support import (
    READY_TIMEOUT,
    SECRET_KEY,
    RedisServer,
    Worker,
    deployment_env,
    migrated_database,
    process_globals_restored,
    wait_until,
)
from workers.schedule import BEAT_SCHEDULE

# One xdist process runs this module: its worker (and database) start once.
pytestmark = [pytest.mark.services, pytest.mark.xdist_group("notifications_worker")]

MINIAPP = ("wx-test-app", "s3cret")
OA = ("wx-test-oa", "oa-s3cret")
TOKEN = "/cgi-bin/token"
TEMPLATE_SEND = "/cgi-bin/message/template/send"
ALERT_OA_TEMPLATE = "linli-oa-device-alert"
DELIVERY_TIMEOUT = 20  # the worker delivers within a second; this is only the limit of patience
RECONNECT_TIMEOUT = 45  # the worker retries the broker after 2, 4, 6 … s
SETTLE = 2.0  # once the expected messages are there: long enough for a duplicate to show up as well
SWEEP_TASK = BEAT_SCHEDULE["sweep-notifications"]["task"]
# An alarm (the device alert these tests send) is delivered by `notifications.deliver_alarm`, on the alerts queue.
DELIVERED = re.compile(r"Task notifications\.deliver(?:_alarm)?\[[^\]]+\] succeeded in [\d.e-]+s: 'sent'")

ALERT = {
    "alert_id": "a-1",
    "elder_name": "王阿婆",
    "device_type": "烟感",
    "alert_type": "烟雾报警",
    "occurred_at": "2026-11-23T02:14:00+00:00",
    "address": "凤城三村12号楼302室",
}
HOME = "/KJ/KJ01/KJ01-01/KJ01-01-001/"  # the building the alarm is about


# ----------------------------------------------------------------------------------------------------
# The parts: fake WeChat, the worker's database, a worker, the app that sends it work
# ----------------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def fake() -> Iterator[FakeWechat]:
    with FakeWechat(dict([MINIAPP, OA])) as server:
        yield server


@pytest.fixture(scope="module")
def worker_database(pg_url: str) -> Iterator[str]:
    with migrated_database(pg_url, "linli_notify") as url:
        yield url


def deployment(database_url: str, broker_url: str, fake: FakeWechat) -> dict[str, str]:
    """The WeChat part of a deployment's environment, pointed at the fake."""
    return {
        "DATABASE_URL": database_url,
        "REDIS_URL": broker_url,
        "SECRET_KEY": SECRET_KEY,
        "WECHAT_MINIAPP_ID": MINIAPP[0],
        "WECHAT_MINIAPP_SECRET": MINIAPP[1],
        "WECHAT_OA_APP_ID": OA[0],
        "WECHAT_OA_SECRET": OA[1],
        "WECHAT_API_BASE_URL": fake.url,
        "WECHAT_TIMEOUT_SECONDS": "3",
    }


def start_worker(env: dict[str, str], instance: Path) -> Worker:
    instance.mkdir(parents=True, exist_ok=True)
    return Worker.start(deployment_env(**env, LINLI_INSTANCE_PATH=str(instance)), instance / "worker.log")


@contextlib.contextmanager
def sending_app(env: dict[str, str], instance: Path, worker: Worker) -> Iterator[Flask]:
    """The web app of the same deployment (its settings from the same environment), tasks through the
    broker; yielded once the worker has answered a ping. Process globals are restored afterwards."""
    settings = Settings.from_env(env).with_overrides(env="test", instance_path=instance, celery_always_eager=False)
    with process_globals_restored():
        app = create_app(settings)
        assert celery.conf.task_always_eager is False
        with worker.log_on_failure():
            worker.wait_ready()
            # Not retry=True: kombu would keep that retry policy on the pooled connection for later publishes.
            ready = ping.apply_async(ignore_result=True, retry=False)
            assert worker.finished(ready.id, timeout=READY_TIMEOUT) == "'pong'"
        yield app


def empty_database(url: str) -> None:
    engine = create_engine(url, poolclass=NullPool)
    try:
        with engine.begin() as conn:
            conn.execute(text("TRUNCATE " + ", ".join(f'"{t.name}"' for t in metadata.sorted_tables) + " CASCADE"))
    finally:
        engine.dispose()


def forget_access_tokens(broker_url: str) -> None:
    """The access tokens the worker cached in Redis belong to a fake that was reset: fetch anew."""
    client = redis.Redis.from_url(broker_url)
    try:
        for key in client.scan_iter("linli:wechat:*"):
            client.delete(key)
    finally:
        client.close()


def drop_leftover_deliveries(broker_url: str) -> None:
    """A retry the worker held for later (a countdown) goes back to the queue when it shuts down; take
    ours out, so the next module's worker does not pick up deliveries for rows of a dropped database."""
    client = redis.Redis.from_url(broker_url)
    try:
        for queue in QUEUES:
            for raw in client.lrange(queue, 0, -1):
                with contextlib.suppress(ValueError, AttributeError):
                    if json.loads(raw).get("headers", {}).get("task", "").startswith("notifications."):
                        client.lrem(queue, 1, raw)
    finally:
        client.close()


@dataclass
class Row:
    """An outbox row as the database has it now."""

    status: DeliveryStatus
    channel: Channel | None
    attempt_count: int
    next_attempt_at: datetime | None
    sent_at: datetime | None
    attempts: list[tuple[Channel, AttemptOutcome, int | None]]


@dataclass
class Rig:
    """The sending app, its worker, and the fake WeChat they talk to; what a test acts and looks through."""

    app: Flask
    worker: Worker
    fake: FakeWechat

    def family_member(self) -> tuple[uuid.UUID, str]:
        """A family member who follows the Official Account: (user id, Official Account openid)."""
        suffix = uuid.uuid4().hex[:8]
        with self.app.app_context():
            user = User(nickname="王家女儿", wechat_openid=f"o-mini-{suffix}", wechat_oa_openid=f"o-oa-{suffix}")
            db.session.add(user)
            db.session.flush()
            user_id = user.id
            db.session.commit()
        return user_id, f"o-oa-{suffix}"

    def commit_alerts(self, *user_ids: uuid.UUID, hand_over: bool = True) -> list[uuid.UUID]:
        """`notify()` each user of a smoke alarm in one transaction, and commit it (which hands the rows
        to the broker, unless `hand_over` is false: as if the broker had dropped them)."""
        with self.app.app_context():
            ids = [
                services.notify(db.session.get(User, uid), "device_alert", ALERT, subject_path=HOME).id
                for uid in user_ids
            ]
            if not hand_over:
                forget_pending()
            db.session.commit()
        return ids

    def row(self, message_id: uuid.UUID) -> Row | None:
        with self.app.app_context():
            message = db.session.get(Notification, message_id)
            if message is None:
                return None
            return Row(
                message.status,
                message.channel,
                message.attempt_count,
                message.next_attempt_at,
                message.sent_at,
                [(a.channel, a.outcome, a.errcode) for a in message.attempts],
            )

    def settled_row(self, message_id: uuid.UUID) -> Row:
        """The row once the worker has finished with it (it commits just after WeChat answered)."""
        return wait_until(
            lambda: (row := self.row(message_id)) is not None and row.status != DeliveryStatus.PENDING and row,
            DELIVERY_TIMEOUT,
            f"notification {message_id} to be delivered",
            self.worker,
        )

    def make_due(self, message_id: uuid.UUID) -> None:
        """As if time had passed: the row's next attempt is a minute ago (past the sweep's grace, too)."""
        with self.app.app_context():
            db.session.execute(
                Notification.__table__.update()
                .where(Notification.id == message_id)
                .values(next_attempt_at=utcnow() - timedelta(seconds=60))
            )
            db.session.commit()

    def messages(self, expected: int) -> list[dict[str, Any]]:
        """The messages at the fake once `expected` have arrived and no more came in `SETTLE` seconds."""
        arrived = lambda: len(self.fake.sent_messages) >= expected  # noqa: E731
        wait_until(arrived, DELIVERY_TIMEOUT, f"{expected} messages at WeChat", self.worker)
        time.sleep(SETTLE)
        return list(self.fake.sent_messages)

    def token_fetches(self, appid: str) -> list[Received]:
        return [r for r in self.fake.calls(TOKEN) if r.query.get("appid") == appid]

    def deliveries_logged(self) -> int:
        return len(DELIVERED.findall(self.worker.log()))


@pytest.fixture(scope="module")
def worker(
    worker_database: str, broker_url: str, fake: FakeWechat, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Worker]:
    running = start_worker(deployment(worker_database, broker_url, fake), tmp_path_factory.mktemp("notify-worker"))
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
    with sending_app(env, tmp_path_factory.mktemp("notify-sender"), worker) as app:
        yield app


@pytest.fixture
def rig(sender: Flask, worker: Worker, fake: FakeWechat, broker_url: str, worker_database: str) -> Iterator[Rig]:
    """A clean slate for each test: a fake that has seen nothing and issued no token, an empty database."""
    fake.reset()
    forget_access_tokens(broker_url)
    with worker.log_on_failure():
        yield Rig(sender, worker, fake)
    empty_database(worker_database)


# ----------------------------------------------------------------------------------------------------
# Once, and only if committed
# ----------------------------------------------------------------------------------------------------


def test_a_committed_alert_reaches_the_family_member_exactly_once(rig):
    user_id, openid = rig.family_member()
    [message_id] = rig.commit_alerts(user_id)

    [sent] = rig.messages(1)
    assert sent["kind"] == "template" and sent["touser"] == openid
    assert sent["template_id"] == ALERT_OA_TEMPLATE
    assert sent["miniprogram"] == {"appid": MINIAPP[0], "pagepath": "pages/alerts/detail?id=a-1"}
    assert sent["data"]["thing1"] == {"value": "王阿婆"}
    row = rig.settled_row(message_id)
    assert (row.status, row.channel, row.attempt_count) == (DeliveryStatus.SENT, Channel.OFFICIAL_ACCOUNT, 1)
    assert row.attempts == [(Channel.OFFICIAL_ACCOUNT, AttemptOutcome.SENT, 0)]
    assert row.sent_at is not None and row.next_attempt_at is None
    # It was the worker that sent it, through the broker: the test process has tasks not eager.
    assert rig.deliveries_logged() == 1
    assert len(rig.token_fetches(OA[0])) == 1


def test_a_rolled_back_notify_sends_nothing(rig):
    user_id, _ = rig.family_member()
    witness_id, witness_openid = rig.family_member()
    with rig.app.app_context():
        services.notify(db.session.get(User, user_id), "device_alert", ALERT, subject_path=HOME)
        db.session.rollback()
    # A message committed afterwards comes through the same queue: once it is there, the worker has had
    # every chance to send the rolled-back one too.
    rig.commit_alerts(witness_id)
    wait_until(lambda: rig.fake.sent_messages, DELIVERY_TIMEOUT, "the witness message", rig.worker)
    time.sleep(3)

    assert [m["touser"] for m in rig.fake.sent_messages] == [witness_openid]
    with rig.app.app_context():
        rows = db.session.scalar(select(func.count()).select_from(Notification).where(Notification.user_id == user_id))
    assert rows == 0


def test_an_access_token_expiring_mid_run_is_fetched_anew_and_both_messages_arrive_once(rig):
    first, first_openid = rig.family_member()
    second, second_openid = rig.family_member()
    [first_id] = rig.commit_alerts(first)
    rig.messages(1)
    rig.settled_row(first_id)

    rig.fake.expire_tokens()  # 7200 s later, between two messages
    [second_id] = rig.commit_alerts(second)

    assert [m["touser"] for m in rig.messages(2)] == [first_openid, second_openid]
    assert len(rig.token_fetches(OA[0])) == 2  # the worker asked for a new token once, not per message
    assert len(rig.fake.calls(TEMPLATE_SEND)) == 3  # sent, refused for the expired token, sent again
    row = rig.settled_row(second_id)
    assert row.status == DeliveryStatus.SENT
    assert row.attempts == [(Channel.OFFICIAL_ACCOUNT, AttemptOutcome.SENT, 0)]  # recovered within one attempt
    assert len(rig.fake.valid_tokens()) == 1


def test_the_same_row_enqueued_twice_is_sent_once(rig):
    user_id, openid = rig.family_member()
    [message_id] = rig.commit_alerts(user_id, hand_over=False)

    # Twice by name, as the sweep or a redelivering broker would hand it over.
    first = celery.send_task("notifications.deliver", args=[str(message_id)], ignore_result=True)
    second = celery.send_task("notifications.deliver", args=[str(message_id)], ignore_result=True)

    assert sorted([rig.worker.finished(first.id), rig.worker.finished(second.id)]) == ["'sent'", "None"]
    assert [m["touser"] for m in rig.messages(1)] == [openid]
    assert rig.settled_row(message_id).attempt_count == 1


def test_a_second_delivery_while_the_first_is_waiting_for_wechat_sends_nothing(rig):
    """Two deliverers at the same moment (two workers, or the sweep's task beside the commit's): the one
    that finds the row locked leaves it, without waiting and without calling WeChat."""
    user_id, openid = rig.family_member()
    normal = rig.fake.routes[("POST", TEMPLATE_SEND)]
    inside, release = threading.Event(), threading.Event()

    def slow_wechat(req: Received) -> Any:
        inside.set()
        release.wait(10)
        return normal.handler(req)

    rig.fake.add_handler("POST", TEMPLATE_SEND, slow_wechat, token=True)
    try:
        [message_id] = rig.commit_alerts(user_id)
        assert inside.wait(DELIVERY_TIMEOUT), rig.worker.log()  # the worker holds the row, WeChat is slow

        settings = rig.app.extensions["linli.settings"]
        with rig.app.app_context():
            started = time.monotonic()
            status = services.deliver(message_id, settings, services.WechatSenders(settings))
            waited = time.monotonic() - started
        assert status is None and waited < 2
        assert len(rig.fake.calls(TEMPLATE_SEND)) == 1
    finally:
        release.set()
        rig.fake.routes[("POST", TEMPLATE_SEND)] = normal

    assert [m["touser"] for m in rig.messages(1)] == [openid]
    row = rig.settled_row(message_id)
    assert (row.status, row.attempt_count) == (DeliveryStatus.SENT, 1)


def test_a_busy_wechat_is_retried_later_and_the_message_arrives_once(rig):
    user_id, openid = rig.family_member()
    rig.fake.fail_next(TEMPLATE_SEND, -1)  # "system error": try again later
    [message_id] = rig.commit_alerts(user_id)

    waiting = wait_until(
        lambda: (row := rig.row(message_id)) is not None and row.attempt_count == 1 and row,
        DELIVERY_TIMEOUT,
        "the first attempt",
        rig.worker,
    )
    assert waiting.status == DeliveryStatus.PENDING
    assert waiting.attempts == [
        (Channel.OFFICIAL_ACCOUNT, AttemptOutcome.RETRY, -1),
        (Channel.SUBSCRIBE, AttemptOutcome.SKIPPED, None),  # no subscription credit
    ]
    assert waiting.next_attempt_at > utcnow()  # backoff: not before its time
    assert rig.fake.sent_messages == []
    # The retry was handed back to the broker with a countdown, and the worker holds it for then.
    scheduled = wait_until(
        lambda: (celery.control.inspect([rig.worker.nodename], timeout=2).scheduled() or {}).get(rig.worker.nodename),
        10,
        "the retry to be scheduled",
        rig.worker,
    )
    assert [entry["request"]["args"] for entry in scheduled] == [[str(message_id)]]

    # The worker reads `notification_retry_base_seconds` (30 s) from no environment variable, so instead of
    # waiting 15–30 s the row is made due and beat's sweep hands it over; the countdown task will find it sent.
    rig.make_due(message_id)
    sweep = celery.send_task(SWEEP_TASK, ignore_result=True)
    assert rig.worker.finished(sweep.id) == "1"

    assert [m["touser"] for m in rig.messages(1)] == [openid]
    row = rig.settled_row(message_id)
    assert (row.status, row.attempt_count) == (DeliveryStatus.SENT, 2)
    assert row.attempts[-1] == (Channel.OFFICIAL_ACCOUNT, AttemptOutcome.SENT, 0)


# ----------------------------------------------------------------------------------------------------
# The broker goes down at commit time, or the worker dies mid-call (a private redis-server and worker)
# ----------------------------------------------------------------------------------------------------


@pytest.fixture
def own_rig(private_broker: RedisServer, worker_database: str, fake: FakeWechat, tmp_path: Path) -> Iterator[Rig]:
    """A worker of its own on a broker of its own: either may be killed without touching the module's."""
    fake.reset()
    env = deployment(worker_database, private_broker.url, fake)
    worker = start_worker(env, tmp_path / "worker")
    try:
        with sending_app(env, tmp_path / "sender", worker) as app, worker.log_on_failure():
            yield Rig(app, worker, fake)
    finally:
        worker.stop()
        empty_database(worker_database)


def test_a_broker_outage_at_commit_time_still_ends_in_one_delivery_each_after_the_sweep(
    own_rig, private_broker, caplog
):
    rig = own_rig
    daughter, daughter_openid = rig.family_member()
    son, son_openid = rig.family_member()

    private_broker.stop()  # the broker crashes, and whatever it held is gone
    caplog.set_level(logging.WARNING, logger="api.notifications.services")
    started = time.monotonic()
    message_ids = rig.commit_alerts(daughter, son)  # the API's transaction commits all the same
    commit_seconds = time.monotonic() - started

    lost = [r for r in caplog.records if r.getMessage().startswith("could not enqueue notification")]
    assert len(lost) == 2
    assert {rig.row(i).status for i in message_ids} == {DeliveryStatus.PENDING}
    assert commit_seconds < 2, f"the commit waited {commit_seconds:.1f} s for the broker"

    private_broker.start()  # back, on the same port, empty
    # The worker reconnects by itself: the same process answers a ping through the new broker.
    assert rig.worker.finished(ping.apply_async(ignore_result=True).id, timeout=RECONNECT_TIMEOUT) == "'pong'"
    assert rig.worker.starts == 1 and rig.worker.alive
    assert "Connection to broker lost" in rig.worker.log()
    assert rig.fake.sent_messages == []  # nothing reached anyone: the hand-over was lost with the broker

    # Beat's next sweep, sent by name as beat sends it, once the rows are past its grace period.
    for message_id in message_ids:
        rig.make_due(message_id)
    sweep = celery.send_task(SWEEP_TASK, ignore_result=True)
    assert rig.worker.finished(sweep.id) == "2"

    assert sorted(m["touser"] for m in rig.messages(2)) == sorted([daughter_openid, son_openid])
    for message_id in message_ids:
        row = rig.settled_row(message_id)
        assert (row.status, row.channel, row.attempt_count) == (DeliveryStatus.SENT, Channel.OFFICIAL_ACCOUNT, 1)


def test_a_worker_killed_while_wechat_has_the_alarm_leaves_it_leased_and_the_sweep_sends_it_again(own_rig):
    """SIGKILL after WeChat took the message in, before the worker heard the answer: the family may be told
    twice, never not at all."""
    rig = own_rig
    user_id, openid = rig.family_member()
    normal = rig.fake.routes[("POST", TEMPLATE_SEND)]
    took_it, release = threading.Event(), threading.Event()

    def takes_it_then_hangs(req: Received) -> Any:
        answer = normal.handler(req)  # the message is at WeChat: it will reach the phone
        took_it.set()
        release.wait(10)
        return answer

    rig.fake.add_handler("POST", TEMPLATE_SEND, takes_it_then_hangs, token=True)
    try:
        [message_id] = rig.commit_alerts(user_id)
        assert took_it.wait(DELIVERY_TIMEOUT), rig.worker.log()
        assert rig.worker.process is not None
        rig.worker.process.kill()
        rig.worker.process.wait(10)
    finally:
        release.set()
        rig.fake.routes[("POST", TEMPLATE_SEND)] = normal

    stuck = rig.row(message_id)
    assert (stuck.status, stuck.attempt_count) == (DeliveryStatus.PENDING, 1)
    assert stuck.attempts == [(Channel.OFFICIAL_ACCOUNT, AttemptOutcome.SENDING, None)]
    assert stuck.next_attempt_at > utcnow()  # leased: the sweep leaves it while the call could still run

    rig.worker.restart()  # the deployment's supervisor starts the worker again
    assert rig.worker.finished(ping.apply_async(ignore_result=True).id, timeout=READY_TIMEOUT) == "'pong'"
    assert [m["touser"] for m in rig.fake.sent_messages] == [openid]

    rig.make_due(message_id)  # the lease is over
    sweep = celery.send_task(SWEEP_TASK, ignore_result=True)
    assert rig.worker.finished(sweep.id) == "1"

    assert [m["touser"] for m in rig.messages(2)] == [openid, openid]  # a duplicate, not a loss
    row = rig.settled_row(message_id)
    assert (row.status, row.channel, row.attempt_count) == (DeliveryStatus.SENT, Channel.OFFICIAL_ACCOUNT, 2)
    assert row.attempts == [
        (Channel.OFFICIAL_ACCOUNT, AttemptOutcome.UNKNOWN, None),
        (Channel.OFFICIAL_ACCOUNT, AttemptOutcome.SENT, 0),
    ]
