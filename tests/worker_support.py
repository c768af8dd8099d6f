"""What the tests with a real Celery worker share: the worker subprocess, its database, a private
redis-server, and the guard that undoes what building a second app in the test process changes.

The worker is the command a deployment runs (`celery -A workers worker ...`), started as a subprocess
with only the environment a deployment sets. The test side builds an app with the same DATABASE_URL and
REDIS_URL and tasks *not* eager, so every call goes through the broker.

`create_app` rebinds process-wide singletons (the database engine, the key-value store, the Celery app's
configuration and its Flask app); `process_globals_restored` puts back whatever was set before, so the
tests that follow still run on their eager, session-wide app. Guards nest.
"""

from __future__ import annotations

import contextlib
import os
import re
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, TypeVar

import kombu.pools
import pytest
from alembic import command
from celery.exceptions import TimeoutError as CeleryTimeout
from celery.result import AsyncResult
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url
from sqlalchemy.pool import NullPool

from api.cli import alembic_config
from api.config import PROJECT_ROOT
from api.db import db
from api.extensions import celery, store
from api.jobs import QUEUES

SECRET_KEY = "worker-test-secret-key-that-is-long-enough-for-hs256"
PASSED_ON = ("PATH", "HOME", "LANG", "LC_ALL", "TMPDIR", "SYSTEMROOT")
READY_TIMEOUT = 60
RESULT_TIMEOUT = 30

T = TypeVar("T")


def deployment_env(**linli: str) -> dict[str, str]:
    """The environment of a deployed process: the basics of the OS, and Linli's own variables."""
    return {**{k: os.environ[k] for k in PASSED_ON if k in os.environ}, "PYTHONUNBUFFERED": "1", **linli}


@contextlib.contextmanager
def migrated_database(pg_url: str, prefix: str = "linli_worker") -> Iterator[str]:
    """A PostgreSQL database of its own on the server of `pg_url`, migrated to head, dropped after."""
    server = make_url(pg_url)
    name = f"{prefix}_{uuid.uuid4().hex[:10]}"
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


# ----------------------------------------------------------------------------------------------------
# The worker subprocess
# ----------------------------------------------------------------------------------------------------


class Worker:
    """`celery -A workers worker --pool=solo -Q <queues>` in a subprocess, its output in `log_path`. By default
    it consumes every queue of `api.jobs.QUEUES` (one worker for all kinds of work); a test of the queues
    starts one per group, as a deployment does. `extra` is added to the command line (`--include`, …)."""

    def __init__(
        self, env: dict[str, str], log_path: Path, queues: tuple[str, ...] = QUEUES, extra: tuple[str, ...] = ()
    ) -> None:
        self.env = env
        self.log_path = log_path
        self.queues = queues
        self.extra = extra
        self.process: subprocess.Popen[bytes] | None = None
        self.starts = 0
        # The node name `celery inspect` and `control` address it by (other workers may share the broker).
        self.nodename = f"linli-test-{uuid.uuid4().hex[:8]}@{socket.gethostname()}"

    @classmethod
    def start(
        cls, env: dict[str, str], log_path: Path, queues: tuple[str, ...] = QUEUES, extra: tuple[str, ...] = ()
    ) -> Worker:
        worker = cls(env, log_path, queues, extra)
        worker._spawn()
        return worker

    def _spawn(self) -> None:
        argv = [sys.executable, "-m", "celery", "-A", "workers", "worker", "--pool=solo", "--concurrency=1"]
        argv += ["-Q", ",".join(self.queues), "--loglevel=INFO", "-n", self.nodename, *self.extra]
        with self.log_path.open("ab") as log:
            self.process = subprocess.Popen(argv, cwd=PROJECT_ROOT, env=self.env, stdout=log, stderr=subprocess.STDOUT)
        self.starts += 1

    @property
    def alive(self) -> bool:
        return self.process is not None and self.process.poll() is None

    def log(self) -> str:
        return self.log_path.read_text(errors="replace") if self.log_path.exists() else "(no log)"

    def check_alive(self) -> None:
        assert self.process is not None
        if self.process.poll() is not None:
            pytest.fail(f"the worker exited with {self.process.returncode}:\n{self.log()}", pytrace=False)

    def wait_ready(self, timeout: float = READY_TIMEOUT) -> None:
        """Until the worker consumes from its queue (`<nodename> ready.` in its log). A task sent before
        then waits in the broker for seconds, where anything else using that Redis database (another test
        session's FLUSHDB) can take it away."""
        wait_until(lambda: f"{self.nodename} ready." in self.log(), timeout, "the worker to be ready", self)

    def result(self, result: AsyncResult, timeout: float = RESULT_TIMEOUT) -> Any:
        """The task's return value; fails with the worker's log if it dies or does not answer in time."""
        deadline = time.monotonic() + timeout
        while True:
            self.check_alive()
            with contextlib.suppress(CeleryTimeout):
                return result.get(timeout=1, propagate=True)
            if time.monotonic() > deadline:
                pytest.fail(f"no result for {result.id} within {timeout} s; worker log:\n{self.log()}", pytrace=False)

    def finished(self, task_id: str, timeout: float = RESULT_TIMEOUT) -> str:
        """What the worker's log says task `task_id` returned (its repr), read from the log rather than a
        result backend: tasks that ignore their result, and a broker that lost everything, still show."""
        # The worker's log is masked (api.masking): a run of digits in the id may read as a phone number there.
        task = "".join(rf"(?:{re.escape(c)}|\*)" for c in task_id)
        pattern = re.compile(rf"Task [\w.]+\[{task}\] (?:succeeded in [\d.e-]+s: (.*)|(raised .*))")
        found = wait_until(lambda: pattern.search(self.log()), timeout, f"task {task_id} to finish", self)
        if found.group(2):
            pytest.fail(f"task {task_id} {found.group(2)}; worker log:\n{self.log()}", pytrace=False)
        return found.group(1).strip()

    @contextlib.contextmanager
    def log_on_failure(self) -> Iterator[None]:
        try:
            yield
        except pytest.fail.Exception:
            raise  # raised by `result()` and `wait_until()`, with the log in its message
        except BaseException:
            print(f"----- worker log -----\n{self.log()}")
            raise

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()  # warm shutdown
            try:
                self.process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=10)

    def restart(self) -> None:
        self.stop()
        self._spawn()


def wait_until(
    predicate: Callable[[], T], timeout: float, what: str, worker: Worker | None = None, interval: float = 0.1
) -> T:
    """Poll `predicate` until it returns something true, and return that; fail (with the worker's log)
    when the worker dies or `timeout` seconds pass."""
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if worker is not None:
            worker.check_alive()
        if time.monotonic() > deadline:
            log = f"; worker log:\n{worker.log()}" if worker is not None else ""
            pytest.fail(f"waited {timeout} s for {what}{log}", pytrace=False)
        time.sleep(interval)


# ----------------------------------------------------------------------------------------------------
# Process-wide state a second app changes
# ----------------------------------------------------------------------------------------------------


def drop_celery_connections() -> None:
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
def process_globals_restored() -> Iterator[None]:
    engine = db.engine
    session_bind = dict(db._factory.kw)  # the engine, or the connection of a test in savepoint mode
    backend = store.backend
    conf = dict(celery.conf.changes)
    flask_app = celery.__dict__.get("flask_app")
    drop_celery_connections()
    try:
        yield
    finally:
        db.session.remove()
        if db.engine is not None and db.engine is not engine:
            db.engine.dispose()
        db.engine = engine
        db._factory.kw = session_bind
        store.backend = backend
        changes = celery.conf.changes
        changes.clear()
        changes.update(conf)
        if flask_app is None:
            celery.__dict__.pop("flask_app", None)
        else:
            celery.flask_app = flask_app
        drop_celery_connections()


# ----------------------------------------------------------------------------------------------------
# A redis-server of a test's own, to stop and start without touching the shared one
# ----------------------------------------------------------------------------------------------------


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


class RedisServer:
    """`redis-server` on 127.0.0.1 and a free port, without persistence: stopping it loses everything
    it held, as a broker that crashed would; `start()` again serves on the same port."""

    def __init__(self, log_path: Path, executable: str = "redis-server") -> None:
        self.executable = executable
        self.log_path = log_path
        self.port = _free_port()
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def _answers(self) -> bool:
        try:
            with socket.create_connection(("127.0.0.1", self.port), timeout=0.2) as conn:
                conn.sendall(b"PING\r\n")
                return conn.recv(16).startswith(b"+PONG")
        except OSError:
            return False

    def start(self, timeout: float = 10) -> RedisServer:
        argv = [self.executable, "--port", str(self.port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"]
        argv += ["--daemonize", "no"]
        with self.log_path.open("ab") as log:
            self.process = subprocess.Popen(argv, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
        deadline = time.monotonic() + timeout
        while not self._answers():
            if self.process.poll() is not None or time.monotonic() > deadline:
                self.stop()
                raise RuntimeError(f"redis-server did not start on port {self.port}:\n{self.log_path.read_text()}")
            time.sleep(0.05)
        return self

    def stop(self) -> None:
        """Kill it (SIGKILL: no goodbye to the clients, as in a crash)."""
        if self.process is not None and self.process.poll() is None:
            self.process.kill()
            self.process.wait(timeout=10)
        self.process = None


# ----------------------------------------------------------------------------------------------------
# The app served over HTTP beside a worker, with WeChat Pay pointed at the fake
# ----------------------------------------------------------------------------------------------------


@contextlib.contextmanager
def served_with_worker(pg_url: str, redis_url: str, folder: Path, prefix: str) -> Iterator[Any]:
    """A database of its own, the fake WeChat Pay, a real worker and the app served on loopback (its notifies
    arrive as real POSTs): yields `(app, worker, fake, keys, base_url)`. Everything is undone afterwards."""
    import threading

    from werkzeug.serving import make_server

    from api import Settings, create_app
    from api.accounts.tasks import ping
    from tests.fake_wechatpay import FakeWechatPay, TestKeys

    keys = TestKeys.make(folder / "keys")
    instance = folder / "instance"
    instance.mkdir()
    with FakeWechatPay(keys) as fake, migrated_database(pg_url, prefix) as url:
        env = {"DATABASE_URL": url, "REDIS_URL": redis_url, "SECRET_KEY": SECRET_KEY, **keys.env(fake.url)}
        worker = Worker.start(deployment_env(**env, LINLI_INSTANCE_PATH=str(instance)), folder / "worker.log")
        try:
            # Every rig of an xdist process logs in from 127.0.0.1 against the same broker Redis, where the
            # login limiter counts; together they pass 30 a minute. The limiter has tests of its own.
            env["LOGIN_RATE_LIMIT_PER_MINUTE"] = "10000"
            settings = Settings.from_env(env).with_overrides(
                env="test", instance_path=instance, celery_always_eager=False
            )
            with process_globals_restored():
                app = create_app(settings)
                assert settings.payments_live and celery.conf.task_always_eager is False
                with worker.log_on_failure():
                    worker.wait_ready()
                    ready = ping.apply_async(ignore_result=True, retry=False)
                    assert worker.finished(ready.id, timeout=READY_TIMEOUT) == "'pong'"
                server = make_server("127.0.0.1", 0, app, threaded=True)
                thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
                thread.start()
                try:
                    yield app, worker, fake, keys, f"http://127.0.0.1:{server.server_port}"
                finally:
                    server.shutdown()
                    server.server_close()
        finally:
            worker.stop()
