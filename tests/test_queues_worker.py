"""An alarm never waits behind bulk work, and is not lost with the worker delivering it: real workers per queue,
as deployed (`api.jobs.ROUTES`; README "Queues"), a real beat, and the fake WeChat.

The deployment's two workers: one on `alerts`, one on `notifications,default,bulk`. While the second is held
by minutes of bulk work with 3,000 ordinary messages queued behind it, a new smoke alarm still reaches the
family's WeChat at once — well before any of the backlog. And when the alerts worker delivering an alarm is
killed (SIGKILL) while WeChat has the message, the other alerts worker sends it again within seconds, driven
by beat's 5-second alarm sweep, not at the next minute's. Waits are bounds of patience, never assertions of
speed: the seconds measured are printed (`-s`).
"""

from __future__ import annotations

import contextlib
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import redis
from flask import Flask

from api import jobs
from api.accounts.models import User
from api.config import PROJECT_ROOT
from api.db import db
from api.extensions import celery
from api.jobs import ALERTS, BULK, DEFAULT, NOTIFICATIONS
from api.notifications import services
from api.notifications.models import AttemptOutcome, Channel, DeliveryStatus, Notification
from tests.conftest import private_redis
from tests.fake_wechat import FakeWechat, Received
from tests.queue_tasks import HOLD_TASK
from tests.test_notifications_worker import ALERT, HOME, MINIAPP, OA, TEMPLATE_SEND, deployment, sending_app
from tests.worker_support import RedisServer, Worker, deployment_env, migrated_database, wait_until

pytestmark = [pytest.mark.services, pytest.mark.xdist_group("queues_worker")]

BACKLOG = 3000
PATIENCE = 30  # an alarm arrives within a second or two; this is only how long the test waits at most
BULK_SECONDS = 600  # "minutes of bulk work": released by the test when it is done
JOB_QUEUES = (NOTIFICATIONS, DEFAULT, BULK)


@dataclass
class Deployment:
    app: Flask
    alerts: list[Worker]
    jobs: Worker
    fake: FakeWechat
    broker: redis.Redis
    env: dict[str, str]
    folder: Path

    def family_member(self) -> tuple[uuid.UUID, str]:
        suffix = uuid.uuid4().hex[:8]
        with self.app.app_context():
            user = User(nickname="王家女儿", wechat_openid=f"o-mini-{suffix}", wechat_oa_openid=f"o-oa-{suffix}")
            db.session.add(user)
            db.session.commit()
            return user.id, f"o-oa-{suffix}"

    def commit(self, user_id: uuid.UUID, kind: str, context: dict[str, Any], times: int = 1) -> list[uuid.UUID]:
        """`notify()` `times` messages of `kind` in one transaction, and commit (which hands them to the broker)."""
        with self.app.app_context():
            user = db.session.get(User, user_id)
            ids = [services.notify(user, kind, context, subject_path=HOME).id for _ in range(times)]
            db.session.commit()
        return ids

    def row(self, message_id: uuid.UUID) -> Notification:
        with self.app.app_context():
            message = db.session.get(Notification, message_id)
            assert message is not None
            db.session.expunge(message)
            return message

    def attempts(self, message_id: uuid.UUID) -> list[tuple[Channel, AttemptOutcome]]:
        with self.app.app_context():
            message = db.session.get(Notification, message_id)
            assert message is not None
            return [(a.channel, a.outcome) for a in message.attempts]

    def to(self, openid: str) -> list[dict[str, Any]]:
        return [m for m in self.fake.sent_messages if m["touser"] == openid]


@pytest.fixture(scope="module")
def fake() -> Iterator[FakeWechat]:
    with FakeWechat(dict([MINIAPP, OA])) as server:
        yield server


@pytest.fixture(scope="module")
def own_broker(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RedisServer]:
    """A broker of the module's own: the 3,000-message backlog never reaches another module's workers."""
    with private_redis(tmp_path_factory.mktemp("queues-broker") / "redis-server.log") as server:
        yield server


@pytest.fixture(scope="module")
def deployed(
    pg_url: str, own_broker: RedisServer, fake: FakeWechat, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Deployment]:
    """Two alerts workers (one is killed by a test) and one worker for everything else, as deployed; each
    `--pool=solo`, so a task holds its worker as a busy process would."""
    folder = tmp_path_factory.mktemp("queues")
    with migrated_database(pg_url, "linli_queues") as url:
        env = {**deployment(url, own_broker.url, fake), "WECHAT_TIMEOUT_SECONDS": "2"}
        started: list[Worker] = []

        def start(name: str, queues: tuple[str, ...], *extra: str) -> Worker:
            (folder / name).mkdir()
            worker_env = deployment_env(**env, LINLI_INSTANCE_PATH=str(folder / name))
            worker = Worker.start(worker_env, folder / name / "worker.log", queues, extra)
            started.append(worker)
            return worker

        try:
            alerts = [start(f"alerts-{n}", (ALERTS,)) for n in (1, 2)]
            jobs = start("jobs", JOB_QUEUES, "--include", "tests.queue_tasks")
            for worker in alerts:
                worker.wait_ready()
            client = redis.Redis.from_url(own_broker.url)
            (folder / "sender").mkdir()
            with sending_app(env, folder / "sender", jobs) as app:
                yield Deployment(app, alerts, jobs, fake, client, env, folder)
            client.close()
        finally:
            for worker in started:
                worker.stop()


@contextlib.contextmanager
def bulk_work_running(deployed: Deployment) -> Iterator[str]:
    """A bulk task of `BULK_SECONDS` holding the jobs worker; released (and the queues emptied) afterwards."""
    key = f"hold-{uuid.uuid4().hex[:8]}"
    celery.send_task(HOLD_TASK, args=[deployed.env["REDIS_URL"], key, BULK_SECONDS], queue=BULK, ignore_result=True)
    wait_until(lambda: deployed.broker.get(f"{key}:started"), PATIENCE, "the bulk task to start", deployed.jobs)
    try:
        yield key
    finally:
        deployed.broker.delete(NOTIFICATIONS)  # the backlog: nobody is waiting for it
        deployed.broker.set(f"{key}:release", "1")
        wait_until(lambda: deployed.broker.get(f"{key}:finished"), PATIENCE, "the bulk task to stop", deployed.jobs)


def test_a_smoke_alarm_reaches_the_family_while_bulk_work_and_3000_messages_wait(deployed, monkeypatch):
    deployed.fake.reset()
    daughter, daughter_openid = deployed.family_member()
    neighbour, neighbour_openid = deployed.family_member()
    reminder = {"event_title": "社区合唱", "venue": "活动室", "booking_id": "b-1"}
    # The backlog as 3,000 tasks in the queue (as many small commits leave it), not one fan-out task.
    monkeypatch.setattr(jobs, "FAN_OUT_AT", BACKLOG)

    with bulk_work_running(deployed) as key:
        deployed.commit(neighbour, "event_reminder", reminder, times=BACKLOG)
        queued = deployed.broker.llen(NOTIFICATIONS)
        assert queued >= BACKLOG - 1  # the jobs worker may hold one of them, waiting behind the bulk task

        started = time.monotonic()
        [alarm_id] = deployed.commit(daughter, "device_alert", ALERT)
        wait_until(lambda: deployed.to(daughter_openid), PATIENCE, "the alarm at WeChat", deployed.alerts[0])
        seconds = time.monotonic() - started

        # It arrived while the bulk job still runs and the backlog has not moved: it waited for neither.
        assert not deployed.broker.get(f"{key}:finished")
        assert deployed.broker.llen(NOTIFICATIONS) == queued
        assert deployed.to(neighbour_openid) == []
        print(f"\nalarm at WeChat {seconds:.2f} s after its commit, behind {queued} queued messages and bulk work")

    [sent] = deployed.to(daughter_openid)
    assert sent["kind"] == "template" and sent["data"]["thing1"] == {"value": "王阿婆"}
    row = deployed.row(alarm_id)
    assert (row.status, row.channel, row.attempt_count) == (DeliveryStatus.SENT, Channel.OFFICIAL_ACCOUNT, 1)


def test_a_storm_of_alarms_from_one_commit_reaches_the_families_each_once_through_the_alerts_workers(deployed):
    """A commit of many alarm messages hands the broker one fan-out task (not one per message); an alerts worker
    splits it on the alerts queue, so the storm's messages wait neither behind the bulk work nor for each other's
    hand-over."""
    deployed.fake.reset()
    family = [deployed.family_member() for _ in range(3 * jobs.FAN_OUT_AT)]
    with bulk_work_running(deployed):
        with deployed.app.app_context():
            users = [db.session.get(User, user_id) for user_id, _openid in family]
            ids = [services.notify(user, "device_alert", ALERT, subject_path=HOME).id for user in users]
            db.session.commit()
        arrived = lambda: all(deployed.to(openid) for _user, openid in family)  # noqa: E731
        wait_until(arrived, PATIENCE, "the storm at WeChat", deployed.alerts[0])
    assert [len(deployed.to(openid)) for _user, openid in family] == [1] * len(family)
    assert {(deployed.row(i).status, deployed.row(i).attempt_count) for i in ids} == {(DeliveryStatus.SENT, 1)}


@contextlib.contextmanager
def beat(deployed: Deployment) -> Iterator[subprocess.Popen[bytes]]:
    """`celery -A workers beat`, as deployed: it sends the 5-second alarm sweep (and every other entry)."""
    folder = deployed.folder / f"beat-{uuid.uuid4().hex[:6]}"
    folder.mkdir()
    argv = [sys.executable, "-m", "celery", "-A", "workers", "beat", "--loglevel=INFO"]
    argv += ["--schedule", str(folder / "celerybeat-schedule")]
    env = deployment_env(**deployed.env, LINLI_INSTANCE_PATH=str(folder))
    with (folder / "beat.log").open("ab") as log:
        process = subprocess.Popen(argv, cwd=PROJECT_ROOT, env=env, stdout=log, stderr=subprocess.STDOUT)
    try:
        yield process
    finally:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=10)


def test_an_alarm_whose_worker_is_killed_mid_send_is_sent_again_within_seconds(deployed):
    """SIGKILL while WeChat has the alarm: the lease of an alarm is one send's worth, and beat's alarm sweep
    (every 5 s) hands it to the other alerts worker — a duplicate at worst, within seconds, never a loss."""
    deployed.fake.reset()
    daughter, openid = deployed.family_member()
    normal = deployed.fake.routes[("POST", TEMPLATE_SEND)]
    took_it, release = threading.Event(), threading.Event()

    def takes_the_first_then_hangs(req: Received) -> Any:
        answer = normal.handler(req)  # the message is at WeChat: it will reach the phone
        if not took_it.is_set():
            took_it.set()
            release.wait(10)
        return answer

    deployed.fake.add_handler("POST", TEMPLATE_SEND, takes_the_first_then_hangs, token=True)
    with beat(deployed):
        try:
            seen = {id(w): len(w.log()) for w in deployed.alerts}
            [alarm_id] = deployed.commit(daughter, "device_alert", ALERT)
            assert took_it.wait(PATIENCE), [w.log() for w in deployed.alerts]
            [sending] = [w for w in deployed.alerts if "notifications.deliver_alarm[" in w.log()[seen[id(w)] :]]
            [other] = [w for w in deployed.alerts if w is not sending]
            assert sending.process is not None
            sending.process.kill()
            killed_at = time.monotonic()
            sending.process.wait(10)
        finally:
            release.set()
            deployed.fake.routes[("POST", TEMPLATE_SEND)] = normal

        # Not restarted: its host is gone. The other alerts worker sends it again.
        wait_until(lambda: len(deployed.to(openid)) >= 2, PATIENCE, "the alarm sent again", other)
        seconds = time.monotonic() - killed_at
    print(f"\nalarm sent again {seconds:.1f} s after its deliverer was killed")

    assert len(deployed.to(openid)) == 2  # once by the killed worker (WeChat took it), once again
    row = wait_until(
        lambda: (r := deployed.row(alarm_id)).status == DeliveryStatus.SENT and r, PATIENCE, "the row to settle", other
    )
    assert (row.channel, row.attempt_count) == (Channel.OFFICIAL_ACCOUNT, 2)
    assert deployed.attempts(alarm_id) == [
        (Channel.OFFICIAL_ACCOUNT, AttemptOutcome.UNKNOWN),
        (Channel.OFFICIAL_ACCOUNT, AttemptOutcome.SENT),
    ]
    sending.restart()  # the supervisor brings it back, for whatever runs next
    sending.wait_ready()
