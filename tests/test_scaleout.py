"""Two stateless web nodes: two gunicorn instances of the app on two ports, one PostgreSQL, one Redis.

A load balancer sends a resident's consecutive requests to whichever node is free, so nothing a request
leaves behind may live in one node's memory: a token issued by one is honoured by the other, a WeChat login
code used on one is refused on the other, the login limit counts attempts on both together, and a logout on
one ends the session on the other. One test walks a resident through all of it, alternating nodes.

The two nodes share a redis-server of this test's own (tests/worker_support.RedisServer), so the login
limiter counts only this test's attempts; the window starts at the first attempt, so the count cannot be
split by a minute boundary.
"""

from __future__ import annotations

import contextlib
import http.client
import json
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import project_root
from tests.worker_support import RedisServer, deployment_env, migrated_database

# One xdist process starts both nodes (and their redis-server) once.
pytestmark = [pytest.mark.services, pytest.mark.xdist_group("scaleout")]

ROOT = project_root()
BIN = Path(sys.executable).parent
SECRET_KEY = "scale-out-secret-key-shared-by-every-node-long-enough"
LOGIN_LIMIT = 6  # per client address per minute, across all nodes (LOGIN_RATE_LIMIT_PER_MINUTE)
# A logout reaches the other node at once today (the session check reads PostgreSQL). Should a node ever keep
# a per-process cache of ended sessions, its invalidation must arrive within this.
LOGOUT_REACHES_EVERY_NODE_S = 2.0


@dataclass
class Node:
    name: str
    port: int
    process: subprocess.Popen[bytes]
    log: Path

    def call(self, method: str, path: str, body: dict[str, Any] | None = None, token: str | None = None) -> Any:
        conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=30)
        try:
            headers = {"Accept": "application/json"}
            if token:
                headers["Authorization"] = f"Bearer {token}"
            payload = None
            if body is not None:
                headers["Content-Type"] = "application/json"
                payload = json.dumps(body)
            conn.request(method, path, body=payload, headers=headers)
            response = conn.getresponse()
            raw = response.read()
            return response.status, (json.loads(raw) if raw else None)
        finally:
            conn.close()

    def wechat_login(self, code: str) -> Any:
        return self.call("POST", "/api/v1/auth/wechat-login", {"code": code})


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def _start(name: str, env: dict[str, str], folder: Path) -> Node:
    port = _free_port()
    log = folder / f"{name}.log"
    with log.open("wb") as out:
        process = subprocess.Popen(
            [BIN / "gunicorn", "-c", "gunicorn.conf.py", "--bind", f"127.0.0.1:{port}", "wsgi:app"],
            cwd=ROOT,
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    return Node(name, port, process, log)


def _wait_healthy(node: Node) -> None:
    deadline = time.monotonic() + 60
    while True:
        with contextlib.suppress(OSError):
            if node.call("GET", "/healthz")[0] == 200:
                return
        if node.process.poll() is not None or time.monotonic() > deadline:
            pytest.fail(f"node {node.name} did not come up:\n" + node.log.read_text(errors="replace")[-4000:])
        time.sleep(0.2)


def _stop(node: Node) -> None:
    if node.process.poll() is None:
        node.process.terminate()
        try:
            node.process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            node.process.kill()
            node.process.wait(timeout=10)


@pytest.fixture(scope="module")
def nodes(pg_url: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Node, Node]]:
    """Nodes A and B: the same image and settings, the same database and Redis, nothing else in common."""
    folder = tmp_path_factory.mktemp("scaleout")
    redis = RedisServer(folder / "redis-server.log").start()
    started: list[Node] = []
    try:
        with migrated_database(pg_url, prefix="linli_scaleout") as url:
            for name in ("a", "b"):
                env = deployment_env(
                    DATABASE_URL=url,
                    REDIS_URL=redis.url,
                    SECRET_KEY=SECRET_KEY,
                    CELERY_ALWAYS_EAGER="1",
                    LOGIN_RATE_LIMIT_PER_MINUTE=str(LOGIN_LIMIT),
                    # Each node its own instance folder, as two hosts would have.
                    LINLI_INSTANCE_PATH=str(folder / f"instance-{name}"),
                    WEB_CONCURRENCY="1",
                )
                started.append(_start(name, env, folder))
            for node in started:
                _wait_healthy(node)
            yield started[0], started[1]
    finally:
        for node in started:
            _stop(node)
        redis.stop()


def test_a_resident_alternating_between_two_nodes_meets_one_service(nodes: tuple[Node, Node]) -> None:
    a, b = nodes
    attempts = 0  # login attempts from this address, on either node

    # Logged in on A (the first login creates the resident), the token works on B: same person.
    code = f"scaleout-{uuid.uuid4().hex[:12]}"
    status, tokens = a.wechat_login(code)
    attempts += 1
    assert status == 200, tokens
    status, me_on_b = b.call("GET", "/api/v1/me", token=tokens["access_token"])
    assert status == 200, me_on_b
    status, me_on_a = a.call("GET", "/api/v1/me", token=tokens["access_token"])
    assert status == 200 and me_on_a["id"] == me_on_b["id"] == tokens["user"]["id"]

    # The same WeChat code again, this time on B: already used, whichever node saw it first.
    status, refused = b.wechat_login(code)
    attempts += 1
    assert status == 400 and refused["code"] == "wechat_code_used", refused

    # A refresh on B, the new access token used on A.
    status, renewed = b.call("POST", "/api/v1/auth/refresh", {"refresh_token": tokens["refresh_token"]})
    assert status == 200, renewed
    assert a.call("GET", "/api/v1/me", token=renewed["access_token"])[0] == 200

    # Logout on A ends the session on B too: its access tokens (old and renewed) stop working everywhere.
    status, _ = a.call("POST", "/api/v1/auth/logout", {"refresh_token": renewed["refresh_token"]})
    assert status == 204
    deadline = time.monotonic() + LOGOUT_REACHES_EVERY_NODE_S
    while True:
        status, ended = b.call("GET", "/api/v1/me", token=renewed["access_token"])
        if status == 401 or time.monotonic() > deadline:
            break
        time.sleep(0.1)
    assert status == 401 and ended["code"] == "session_ended", ended
    for node in (a, b):
        for token in (tokens["access_token"], renewed["access_token"]):
            status, ended = node.call("GET", "/api/v1/me", token=token)
            assert status == 401 and ended["code"] == "session_ended", (node.name, ended)

    # The login limit counts attempts on both nodes together: fresh codes, alternating, until the limit.
    outcomes = []
    for n in range(LOGIN_LIMIT - attempts):
        node = (a, b)[n % 2]
        status, body = node.wechat_login(f"scaleout-{uuid.uuid4().hex[:12]}")
        outcomes.append((node.name, status))
        assert status == 200, (node.name, body)
    # The limit is used up: the next attempt is refused on either node, with the same Retry-After window.
    for node in (a, b):
        status, body = node.wechat_login(f"scaleout-{uuid.uuid4().hex[:12]}")
        assert status == 429 and body["code"] == "too_many_requests", (node.name, outcomes, body)
