"""The processes the Dockerfile starts, started here the same way (Docker itself cannot run on CI)."""

from __future__ import annotations

import json
import os
import re
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

from tests.conftest import project_root

ROOT = project_root()
BIN = Path(sys.executable).parent


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _env(tmp_path: Path, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("LINLI_", "DATABASE_URL", "REDIS_URL"))}
    env.update({"LINLI_INSTANCE_PATH": str(tmp_path), "PYTHONPATH": str(ROOT), **extra})
    return env


def _get(url: str) -> tuple[int, dict]:
    try:
        with urllib.request.urlopen(url, timeout=5) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as error:
        return error.code, json.loads(error.read())


def test_dockerfile_copies_what_exists_and_starts_gunicorn_with_its_config():
    text = (ROOT / "Dockerfile").read_text()
    for source in re.findall(r"^COPY (.+) \./?\S*$", text, flags=re.M):
        for name in source.split():
            assert (ROOT / name).exists(), f"Dockerfile copies {name}, which does not exist"
    assert 'CMD ["gunicorn", "-c", "gunicorn.conf.py", "wsgi:app"]' in text
    assert "USER linli" in text


@pytest.fixture
def served(tmp_path):
    """`flask db upgrade`, then gunicorn exactly as the image's default command runs it."""
    env = _env(tmp_path, PORT=str(_free_port()), WEB_CONCURRENCY="2")
    upgrade = subprocess.run(
        [BIN / "flask", "--app", "wsgi", "db", "upgrade"], cwd=ROOT, env=env, capture_output=True, text=True
    )
    assert upgrade.returncode == 0, upgrade.stderr
    server = subprocess.Popen(
        [BIN / "gunicorn", "-c", "gunicorn.conf.py", "--bind", f"127.0.0.1:{env['PORT']}", "wsgi:app"],
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    base = f"http://127.0.0.1:{env['PORT']}"
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                if _get(base + "/healthz")[0] == 200:
                    break
            except OSError:
                pass
            if server.poll() is not None or time.monotonic() > deadline:
                pytest.fail("gunicorn did not come up:\n" + (server.stdout.read() if server.stdout else ""))
            time.sleep(0.2)
        yield base
    finally:
        server.terminate()
        server.wait(timeout=15)


@pytest.mark.sqlite_only
def test_gunicorn_serves_the_api_on_the_embedded_default(served):
    assert _get(served + "/healthz") == (200, {"status": "ok"})
    status, ready = _get(served + "/readyz")
    assert status == 200 and ready["checks"]["database"] == "ok"
    status, spec = _get(served + "/api/v1/openapi.json")
    assert status == 200 and spec["info"]["title"].startswith("Linli")
    status, missing = _get(served + "/api/v1/nope")
    assert status == 404 and missing["code"] == "not_found"
    # A request line over gunicorn's default 4 KB still reaches the app, which answers in its own shape.
    status, long_query = _get(served + "/api/v1/areas?q=" + "x" * 6000)
    assert status in (401, 422) and set(long_query) == {"code", "message", "errors"}
