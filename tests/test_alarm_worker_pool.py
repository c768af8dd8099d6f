"""The alarm queue's worker, started with the options the deployment gives it (`deploy/compose.yaml`), delivers
while WeChat is slow: its deliveries wait for WeChat's answers side by side, not one or two at a time.

The fake WeChat holds every template message until the test lets go, and counts how many it holds at once.
With the deployed `--pool threads --concurrency 16`, the alarms of one commit are all at WeChat together;
with the former `--concurrency 2` processes, two were, and the rest waited for them. Then each arrives once.
"""

from __future__ import annotations

import threading
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from api.accounts.models import User
from api.db import db
from api.notifications import services
from api.notifications.models import DeliveryStatus, Notification
from tests.fake_wechat import Answer, FakeWechat, Received
from tests.test_deploy import DEPLOY, command_of, option
from tests.test_notifications_worker import ALERT, HOME, MINIAPP, OA, TEMPLATE_SEND, deployment, sending_app
from tests.worker_support import RedisServer, Worker, deployment_env, migrated_database, wait_until

pytestmark = [pytest.mark.services, pytest.mark.xdist_group("alarm_worker_pool")]

ALARMS = 12
AT_ONCE = 8  # more than any two processes could hold
PATIENCE = 30  # how long the test waits at most; never an assertion of speed


def deployed_pool_options() -> list[str]:
    """`--pool` and `--concurrency` of the compose file's alerts worker, as it gives them."""
    command = command_of(yaml.safe_load((DEPLOY / "compose.yaml").read_text())["services"]["worker-alerts"])
    options = []
    for name in ("--pool", "--concurrency"):
        value = option(command, name)
        assert value, f"the alerts worker's command names its {name}"
        options += [name, value]
    return options


class HeldWechat:
    """Template messages wait at the fake until `release()`; `most` is how many waited there at once."""

    def __init__(self, fake: FakeWechat) -> None:
        self.fake = fake
        self.released = threading.Event()
        self.lock = threading.Lock()
        self.holding = 0
        self.most = 0
        fake.add_handler("POST", TEMPLATE_SEND, self.template_send, token=True)

    def template_send(self, req: Received) -> dict[str, Any] | Answer:
        with self.lock:
            self.holding += 1
            self.most = max(self.most, self.holding)
        try:
            self.released.wait(PATIENCE)
            return self.fake.template_send(req)
        finally:
            with self.lock:
                self.holding -= 1

    def release(self) -> None:
        self.released.set()


@pytest.fixture
def fake() -> Iterator[FakeWechat]:
    with FakeWechat(dict([MINIAPP, OA])) as server:
        yield server


def test_while_wechat_is_slow_the_alerts_worker_has_a_commits_alarms_at_wechat_together(
    pg_url: str, private_broker: RedisServer, fake: FakeWechat, tmp_path: Path
) -> None:
    held = HeldWechat(fake)
    with migrated_database(pg_url, "linli_alarm_pool") as url:
        # A held call is not given up on (and retried, a second request at the fake) while the test holds it.
        env = {**deployment(url, private_broker.url, fake), "WECHAT_TIMEOUT_SECONDS": str(2 * PATIENCE)}
        (tmp_path / "worker").mkdir()
        worker_env = deployment_env(**env, LINLI_INSTANCE_PATH=str(tmp_path / "worker"))
        # `default` too: the readiness ping `sending_app` waits for goes there; every alarm goes to `alerts`.
        worker = Worker.start(
            worker_env, tmp_path / "worker" / "worker.log", ("alerts", "default"), tuple(deployed_pool_options())
        )
        try:
            (tmp_path / "sender").mkdir()
            with sending_app(env, tmp_path / "sender", worker) as app, app.app_context():
                family = []
                for _ in range(ALARMS):
                    suffix = uuid.uuid4().hex[:8]
                    family.append(
                        User(nickname="家属", wechat_openid=f"o-mini-{suffix}", wechat_oa_openid=f"o-oa-{suffix}")
                    )
                db.session.add_all(family)
                db.session.commit()
                ids = [services.notify(user, "device_alert", ALERT, subject_path=HOME).id for user in family]
                db.session.commit()  # one commit: every alarm handed to the alerts queue

                try:
                    wait_until(lambda: held.most >= AT_ONCE, PATIENCE, f"{AT_ONCE} alarms at WeChat at once", worker)
                finally:
                    held.release()
                arrived = lambda: len(fake.sent_messages) >= ALARMS  # noqa: E731
                wait_until(arrived, PATIENCE, "every alarm at WeChat", worker)

                assert sorted(m["touser"] for m in fake.sent_messages) == sorted(u.wechat_oa_openid for u in family)

                # The worker records a delivery once WeChat has answered: the last one a moment after it arrived.
                def recorded_sent() -> bool:
                    db.session.expire_all()
                    return {db.session.get(Notification, i).status for i in ids} == {DeliveryStatus.SENT}

                wait_until(recorded_sent, PATIENCE, "every alarm recorded as sent", worker)
        finally:
            held.release()
            worker.stop()
    print(f"\nat most {held.most} of {ALARMS} alarms were at WeChat at once")
