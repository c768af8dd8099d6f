"""A real Celery worker on the Redis broker runs Linli's tasks against PostgreSQL.

The worker is the command a deployment runs (`celery -A workers worker ...`), started as a subprocess
with only the environment a deployment sets, on a PostgreSQL database of its own and the test process's own
redis-server as broker (`broker_url`, so parallel test workers never take each other's tasks). The test side is an
app built with the same DATABASE_URL and REDIS_URL and tasks *not* eager, so every call goes through
the broker and every result comes back through the result backend.

`create_app` rebinds process-wide singletons (the database engine, the key-value store, the Celery
app's configuration and its Flask app); `process_globals_restored` puts back whatever the session's
app had set, so the tests that follow still run on their eager, session-wide app. The worker, its
database and that guard live in tests/worker_support.py (shared with tests/test_notifications_worker.py).
"""

from __future__ import annotations

import hashlib
import json
import subprocess
import sys
import uuid
from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import pytest
from celery.result import EagerResult
from flask import Flask
from sqlalchemy import select

from api import Settings, create_app
from api.accounts.models import RefreshToken, User
from api.accounts.tasks import ping
from api.config import PROJECT_ROOT
from api.db import db, new_id, utcnow
from api.extensions import celery, store
from api.idempotency import IdempotencyKey
from tests.worker_support import (
    READY_TIMEOUT,
    SECRET_KEY,
    Worker,
    deployment_env,
    migrated_database,
    process_globals_restored,
)
from workers.schedule import BEAT_SCHEDULE

# One xdist process runs this module: its worker (and database) start once.
pytestmark = pytest.mark.xdist_group("worker")

# ----------------------------------------------------------------------------------------------------
# The beat schedule (no services needed)
# ----------------------------------------------------------------------------------------------------


def test_the_beat_schedule_of_the_worker_entry_point_lists_the_purge_job(tmp_path):
    """What `celery -A workers beat` would load, in a fresh process with a deployment's environment."""
    script = (
        "import json, workers\n"
        "app = workers.celery\n"
        "schedule = app.conf.beat_schedule\n"
        "print(json.dumps({name: [entry['task'], entry['task'] in app.tasks, str(entry['schedule'])]"
        " for name, entry in schedule.items()}))\n"
    )
    env = deployment_env(LINLI_INSTANCE_PATH=str(tmp_path))
    done = subprocess.run(
        [sys.executable, "-c", script], cwd=PROJECT_ROOT, env=env, capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 0, done.stderr

    schedule = json.loads(done.stdout.strip().splitlines()[-1])
    assert schedule["purge-expired-credentials"][:2] == ["accounts.purge_expired_credentials", True]
    assert all(registered for _task, registered, _when in schedule.values()), schedule
    assert set(schedule) == set(BEAT_SCHEDULE)


def test_process_globals_restored_undoes_what_create_app_changes(tmp_path):
    """The guard the worker tests rely on: another app built inside it leaves no trace behind."""

    def snapshot() -> tuple[Any, ...]:
        return db.engine, store.backend, dict(celery.conf.changes), celery.__dict__.get("flask_app")

    before = snapshot()
    with process_globals_restored():
        other = create_app(
            Settings(
                env="test",
                instance_path=tmp_path,
                database_url=f"sqlite:///{tmp_path / 'other.sqlite3'}",
                celery_always_eager=False,
            )
        )
        assert celery.flask_app is other
        assert celery.conf.task_always_eager is False
    after = snapshot()

    assert after[0] is before[0] and after[1] is before[1] and after[3] is before[3]
    assert after[2] == before[2]


# ----------------------------------------------------------------------------------------------------
# The worker and the app that sends it work
# ----------------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def worker_database(pg_url: str) -> Iterator[str]:
    """A PostgreSQL database for the worker and this module only, migrated to head."""
    with migrated_database(pg_url) as url:
        yield url


@pytest.fixture(scope="module")
def worker(worker_database: str, broker_url: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Worker]:
    instance = tmp_path_factory.mktemp("worker-instance")
    env = deployment_env(
        DATABASE_URL=worker_database,
        REDIS_URL=broker_url,
        SECRET_KEY=SECRET_KEY,
        LINLI_INSTANCE_PATH=str(instance),
    )
    running = Worker.start(env, instance / "worker.log")
    try:
        yield running
    finally:
        running.stop()


@pytest.fixture(scope="module")
def sender(
    worker: Worker, worker_database: str, broker_url: str, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Flask]:
    """An app on the worker's database and broker whose tasks go through the broker; the worker is ready."""
    settings = Settings(
        env="test",
        secret_key=SECRET_KEY,
        instance_path=tmp_path_factory.mktemp("sender-instance"),
        database_url=worker_database,
        redis_url=broker_url,
        celery_always_eager=False,
    )
    with process_globals_restored():
        app = create_app(settings)
        assert celery.conf.task_always_eager is False
        with worker.log_on_failure():
            worker.wait_ready()
            assert worker.result(ping.apply_async(), timeout=READY_TIMEOUT) == "pong"
        yield app


@pytest.mark.services
def test_ping_goes_through_the_broker_to_the_worker_and_back(sender, worker):
    with worker.log_on_failure():
        result = ping.delay()

        assert not isinstance(result, EagerResult)
        assert worker.result(result) == "pong"
        assert result.successful()
        # Celery stores the result before it logs the success: the line may come a moment later.
        assert worker.finished(result.id) == "'pong'"


def _credentials(user_id: uuid.UUID, label: str, expires_in: timedelta) -> tuple[RefreshToken, IdempotencyKey]:
    now = utcnow()
    token = RefreshToken(
        id=new_id(),
        user_id=user_id,
        family_id=new_id(),
        token_hash=hashlib.sha256(f"{user_id}-{label}".encode()).hexdigest(),
        expires_at=now + expires_in,
    )
    key = IdempotencyKey(
        id=new_id(),
        user_id=user_id,
        key=label,
        method="POST",
        path="/api/v1/me/household-requests",
        request_hash="0" * 64,
        status_code=201,
        response_body="{}",
        expires_at=now + expires_in,
    )
    return token, key


@pytest.mark.services
def test_the_worker_purges_expired_credentials_and_keeps_live_ones(sender, worker):
    with sender.app_context(), worker.log_on_failure():
        user = User(id=new_id(), nickname="张三")
        db.session.add(user)
        db.session.flush()
        expired = _credentials(user.id, "expired", -timedelta(seconds=1))
        live = _credentials(user.id, "live", timedelta(hours=1))
        db.session.add_all([*expired, *live])
        db.session.commit()
        db.session.remove()

        # As beat sends it: by the name in the schedule.
        task_name = BEAT_SCHEDULE["purge-expired-credentials"]["task"]
        removed = worker.result(celery.send_task(task_name))

        assert removed == {"refresh_tokens": 1, "idempotency_keys": 1}
        tokens = db.session.scalars(select(RefreshToken.id).where(RefreshToken.user_id == user.id)).all()
        keys = db.session.scalars(select(IdempotencyKey.id).where(IdempotencyKey.user_id == user.id)).all()
        assert tokens == [live[0].id]
        assert keys == [live[1].id]
        db.session.execute(User.__table__.delete().where(User.id == user.id))
        db.session.commit()
