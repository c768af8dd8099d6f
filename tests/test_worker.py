"""A real Celery worker on the Redis broker runs Linli's tasks against PostgreSQL.

The worker is the command a deployment runs (`celery -A workers worker ...`), started as a subprocess
with only the environment a deployment sets, on a PostgreSQL database of its own. The test side is an
app built with the same DATABASE_URL and REDIS_URL and tasks *not* eager, so every call goes through
the broker and every result comes back through the result backend.

`create_app` rebinds process-wide singletons (the database engine, the key-value store, the Celery
app's configuration and its Flask app); `_process_globals_restored` puts back whatever the session's
app had set, so the tests that follow still run on their eager, session-wide app.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import kombu.pools
import pytest
from alembic import command
from celery.exceptions import TimeoutError as CeleryTimeout
from celery.result import AsyncResult, EagerResult
from flask import Flask
from sqlalchemy import create_engine, select, text
from sqlalchemy.engine import make_url
from sqlalchemy.pool import NullPool

from api import Settings, create_app
from api.accounts.models import RefreshToken, User
from api.accounts.tasks import ping
from api.cli import alembic_config
from api.config import PROJECT_ROOT
from api.db import db, new_id, utcnow
from api.extensions import celery, store
from api.idempotency import IdempotencyKey
from workers.schedule import BEAT_SCHEDULE

SECRET_KEY = "worker-test-secret-key-that-is-long-enough-for-hs256"
PASSED_ON = ("PATH", "HOME", "LANG", "LC_ALL", "TMPDIR", "SYSTEMROOT")
READY_TIMEOUT = 60
RESULT_TIMEOUT = 30


def _deployment_env(**linli: str) -> dict[str, str]:
    return {**{k: os.environ[k] for k in PASSED_ON if k in os.environ}, "PYTHONUNBUFFERED": "1", **linli}


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
    env = _deployment_env(LINLI_INSTANCE_PATH=str(tmp_path))
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
    with _process_globals_restored():
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
    server = make_url(pg_url)
    name = f"linli_worker_{uuid.uuid4().hex[:10]}"
    admin = create_engine(server, isolation_level="AUTOCOMMIT", poolclass=NullPool)
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    url = server.set(database=name).render_as_string(hide_password=False)
    try:
        command.upgrade(alembic_config(url), "head")
        yield url
    finally:
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


class Worker:
    def __init__(self, process: subprocess.Popen[bytes], log_path: Path) -> None:
        self.process = process
        self.log_path = log_path

    def log(self) -> str:
        return self.log_path.read_text(errors="replace") if self.log_path.exists() else "(no log)"

    def result(self, result: AsyncResult, timeout: float = RESULT_TIMEOUT) -> Any:
        """The task's return value; fails with the worker's log if it dies or does not answer in time."""
        deadline = time.monotonic() + timeout
        while True:
            if self.process.poll() is not None:
                pytest.fail(f"the worker exited with {self.process.returncode}:\n{self.log()}", pytrace=False)
            with contextlib.suppress(CeleryTimeout):
                return result.get(timeout=1, propagate=True)
            if time.monotonic() > deadline:
                pytest.fail(f"no result for {result.id} within {timeout} s; worker log:\n{self.log()}", pytrace=False)

    @contextlib.contextmanager
    def log_on_failure(self) -> Iterator[None]:
        try:
            yield
        except pytest.fail.Exception:
            raise  # raised by `result()`, with the log in its message
        except BaseException:
            print(f"----- worker log -----\n{self.log()}")
            raise

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()  # warm shutdown
            try:
                self.process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=10)


@pytest.fixture(scope="module")
def worker(worker_database: str, redis_url: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Worker]:
    instance = tmp_path_factory.mktemp("worker-instance")
    log_path = instance / "worker.log"
    env = _deployment_env(
        DATABASE_URL=worker_database,
        REDIS_URL=redis_url,
        SECRET_KEY=SECRET_KEY,
        LINLI_INSTANCE_PATH=str(instance),
    )
    argv = [sys.executable, "-m", "celery", "-A", "workers", "worker", "--pool=solo", "--concurrency=1"]
    argv += ["-Q", "linli", "--loglevel=INFO", "-n", f"linli-test-{uuid.uuid4().hex[:8]}@%h"]
    with log_path.open("wb") as log:
        process = subprocess.Popen(argv, cwd=PROJECT_ROOT, env=env, stdout=log, stderr=subprocess.STDOUT)
    running = Worker(process, log_path)
    try:
        yield running
    finally:
        running.stop()


def _drop_celery_connections() -> None:
    """Celery caches its broker pool and result backend at first use; after a reconfiguration they
    would still talk to the old broker (private attributes: Celery has no public way to do this)."""
    kombu.pools.reset()
    celery._pool = None
    amqp = celery.__dict__.get("amqp")
    if amqp is not None:
        amqp._producer_pool = None
    celery._backend_cache = None
    celery._local.__dict__.pop("backend", None)


@contextlib.contextmanager
def _process_globals_restored() -> Iterator[None]:
    engine = db.engine
    backend = store.backend
    conf = dict(celery.conf.changes)
    flask_app = celery.__dict__.get("flask_app")
    _drop_celery_connections()
    try:
        yield
    finally:
        db.session.remove()
        if db.engine is not None and db.engine is not engine:
            db.engine.dispose()
        db.engine = engine
        db._factory.configure(bind=engine)
        store.backend = backend
        changes = celery.conf.changes
        changes.clear()
        changes.update(conf)
        if flask_app is None:
            celery.__dict__.pop("flask_app", None)
        else:
            celery.flask_app = flask_app
        _drop_celery_connections()


@pytest.fixture(scope="module")
def sender(
    worker: Worker, worker_database: str, redis_url: str, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Flask]:
    """An app on the worker's database and broker whose tasks go through the broker; the worker is ready."""
    settings = Settings(
        env="test",
        secret_key=SECRET_KEY,
        instance_path=tmp_path_factory.mktemp("sender-instance"),
        database_url=worker_database,
        redis_url=redis_url,
        celery_always_eager=False,
    )
    with _process_globals_restored():
        app = create_app(settings)
        assert celery.conf.task_always_eager is False
        with worker.log_on_failure():
            assert worker.result(ping.apply_async(), timeout=READY_TIMEOUT) == "pong"
        yield app


@pytest.mark.services
def test_ping_goes_through_the_broker_to_the_worker_and_back(sender, worker):
    with worker.log_on_failure():
        result = ping.delay()

        assert not isinstance(result, EagerResult)
        assert worker.result(result) == "pong"
        assert result.successful()
        assert f"Task linli.ping[{result.id}] succeeded" in worker.log()


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
