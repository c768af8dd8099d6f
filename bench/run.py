"""Linli HTTP benchmark: one command that prepares a database, starts gunicorn, loads it and prints figures.

    .venv/bin/python bench/run.py [--database-url postgresql+psycopg://postgres@127.0.0.1:5432/linli_bench]
                                  [--duration 10] [--concurrency 16] [--workers 2]

What it does, in order:

1. drops and recreates the benchmark database (its name must contain "bench"), runs
   `flask --app wsgi db upgrade` and `flask --app wsgi seed-demo` with the benchmark environment
   (DATABASE_URL, REDIS_URL, CELERY_ALWAYS_EAGER=1, a random 64-character SECRET_KEY, a temporary
   LINLI_INSTANCE_PATH, WeChat sandbox);
2. starts `gunicorn -w N -b 127.0.0.1:<free port> wsgi:app` with that environment and waits for /healthz;
3. logs in a demo resident (sandbox WeChat code `zhangsan#bench-...`) and the demo staff member;
4. for every scenario, spawns load-generator processes (separate from the server; threads with
   `http.client` connections, `--concurrency` in all) that hammer one route for a warm-up and then
   `--duration` seconds, and samples the CPU time of gunicorn, of the PostgreSQL backends serving the
   benchmark database and of the load generator itself;
5. runs an in-process probe (Flask test client, no network) that counts SQL statements, pool checkouts
   (a ping round trip only for a connection idle 2 s or more, `api.db`) and commits per request, and times
   the app code alone;
6. prints the tables, writes `bench/results/<timestamp>.json`, stops gunicorn and drops the database
   (unless `--keep`).

It measures; it never asserts. Figures depend on the machine and on whatever else runs on it.
"""

from __future__ import annotations

import argparse
import http.client
import json
import math
import multiprocessing as mp
import os
import platform
import random
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

PROJECT_ROOT = Path(__file__).resolve().parent.parent
RESULTS_DIR = Path(__file__).resolve().parent / "results"
DEFAULT_DATABASE_URL = "postgresql+psycopg://postgres@127.0.0.1:5432/linli_bench"
DEFAULT_REDIS_URL = "redis://127.0.0.1:6379/14"
HOST = "127.0.0.1"
STAFF_CREDENTIALS = {"username": "kj01-staff", "password": "linli-staff-demo"}
RESIDENT_PREFIX = "zhangsan"
# The app allows 30 logins per minute per client IP (api/ratelimit.py, `login-ip`). The login scenario
# spreads its requests over loopback addresses (127.0.0.0/8) so it measures the login path, not the 429.
LOGINS_PER_SOURCE_IP = 25


class BenchError(RuntimeError):
    """Something the benchmark needs is missing or broken; the message says what."""


# ----------------------------------------------------------------------------------------------------
# Scenarios
# ----------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Scenario:
    """One route under load. `login` scenarios send a fresh WeChat code with each request."""

    name: str
    method: str
    path: str
    token: str | None = None
    login: bool = False
    description: str = ""

    def headers(self) -> dict[str, str]:
        headers = {"Accept": "application/json", "User-Agent": "linli-bench"}
        if self.token:
            headers["Authorization"] = f"Bearer {self.token}"
        if self.method in ("POST", "PUT", "PATCH"):
            headers["Content-Type"] = "application/json"
        return headers


def login_code(run_id: str, thread_id: int, n: int) -> str:
    """A never-used sandbox code that logs in the demo resident 张三."""
    return f"{RESIDENT_PREFIX}#bench-{run_id}-{thread_id}-{n}"


def source_ip(salt: int, thread_id: int, k: int) -> str:
    """The k-th loopback address of a load-generator thread (never 127.0.0.1, distinct per thread)."""
    n = salt + thread_id * 4096 + k
    return f"127.{(n // (254 * 256)) % 255 + 1}.{(n // 254) % 256}.{n % 254 + 1}"


# ----------------------------------------------------------------------------------------------------
# Load generator (runs in child processes)
# ----------------------------------------------------------------------------------------------------


@dataclass
class ThreadResult:
    latencies_ms: list[float] = field(default_factory=list)
    errors: Counter[str] = field(default_factory=Counter)
    ok: int = 0


def _load_thread(
    scenario: Scenario,
    port: int,
    thread_id: int,
    run_id: str,
    ip_salt: int,
    timeout: float,
    go: threading.Event,
    window: list[float],
    result: ThreadResult,
) -> None:
    go.wait()
    measure_start, measure_end = window
    headers = scenario.headers()
    conn: http.client.HTTPConnection | None = None
    n = 0
    while True:
        now = time.monotonic()
        if now >= measure_end:
            break
        if scenario.login and n % LOGINS_PER_SOURCE_IP == 0 and conn is not None:
            conn.close()
            conn = None
        if conn is None:
            source = (source_ip(ip_salt, thread_id, n // LOGINS_PER_SOURCE_IP), 0) if scenario.login else None
            conn = http.client.HTTPConnection(HOST, port, timeout=timeout, source_address=source)
        body = json.dumps({"code": login_code(run_id, thread_id, n)}) if scenario.login else None
        n += 1
        status: int | None = None
        error = ""
        try:
            conn.request(scenario.method, scenario.path, body=body, headers=headers)
            response = conn.getresponse()
            response.read()
            status = response.status
        except (OSError, http.client.HTTPException) as exc:
            error = type(exc).__name__
            conn.close()
            conn = None
        end = time.monotonic()
        if now < measure_start or end > measure_end:
            continue
        if status is None:
            result.errors[error] += 1
            continue
        result.latencies_ms.append((end - now) * 1000.0)
        if 200 <= status < 300:
            result.ok += 1
        else:
            result.errors[f"HTTP {status}"] += 1
    if conn is not None:
        conn.close()


def _load_process(
    scenario: Scenario,
    port: int,
    thread_ids: list[int],
    run_id: str,
    ip_salt: int,
    timeout: float,
    ready: Any,
    go: Any,
    window: Any,
    results: Any,
) -> None:
    """Child process: `len(thread_ids)` threads, started together when the parent says go."""
    threads_go = threading.Event()
    times: list[float] = [0.0, 0.0]
    thread_results = [ThreadResult() for _ in thread_ids]
    threads = [
        threading.Thread(
            target=_load_thread,
            args=(scenario, port, tid, run_id, ip_salt, timeout, threads_go, times, res),
            daemon=True,
        )
        for tid, res in zip(thread_ids, thread_results, strict=True)
    ]
    for thread in threads:
        thread.start()
    ready.put(os.getpid())
    if not go.wait(timeout=60):
        results.put({"pid": os.getpid(), "fatal": "never told to start"})
        return
    times[0], times[1] = window[0], window[1]
    threads_go.set()
    for thread in threads:
        thread.join(timeout=max(1.0, times[1] - time.monotonic()) + timeout + 5)
    latencies: list[float] = []
    errors: Counter[str] = Counter()
    ok = 0
    for res in thread_results:
        latencies.extend(res.latencies_ms)
        errors.update(res.errors)
        ok += res.ok
    results.put(
        {
            "pid": os.getpid(),
            "latencies_ms": latencies,
            "errors": dict(errors),
            "ok": ok,
            "stuck_threads": sum(t.is_alive() for t in threads),
        }
    )


# ----------------------------------------------------------------------------------------------------
# CPU accounting from /proc (Linux; zeros elsewhere)
# ----------------------------------------------------------------------------------------------------

_CLK_TCK = os.sysconf("SC_CLK_TCK") if hasattr(os, "sysconf") else 100


def _proc_cpu_seconds(pid: int) -> float:
    try:
        with open(f"/proc/{pid}/stat", encoding="ascii", errors="replace") as fh:
            fields = fh.read().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / _CLK_TCK  # utime, stime
    except (OSError, IndexError, ValueError):
        return 0.0


def _children(pid: int) -> list[int]:
    try:
        with open(f"/proc/{pid}/task/{pid}/children", encoding="ascii") as fh:
            return [int(p) for p in fh.read().split()]
    except (OSError, ValueError):
        return []


def _postgres_backends(dbname: str) -> list[int]:
    """PIDs of PostgreSQL backends connected to `dbname` (from their process titles)."""
    pids = []
    try:
        entries = os.listdir("/proc")
    except OSError:
        return []
    for entry in entries:
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/cmdline", "rb") as fh:
                title = fh.read().replace(b"\0", b" ").decode("utf-8", "replace")
        except OSError:
            continue
        if title.startswith("postgres:") and f" {dbname} " in title:
            pids.append(int(entry))
    return pids


def _machine_busy_seconds() -> float:
    """CPU seconds the whole machine has spent not idle (all cores), from /proc/stat."""
    try:
        with open("/proc/stat", encoding="ascii") as fh:
            values = [int(v) for v in fh.readline().split()[1:9]]
    except (OSError, ValueError):
        return 0.0
    user, nice, system, _idle, _iowait, irq, softirq, steal = values
    return (user + nice + system + irq + softirq + steal) / _CLK_TCK


def cpu_snapshot(gunicorn_pid: int, dbname: str, client_pids: list[int]) -> dict[str, dict[int, float]]:
    """CPU seconds so far of gunicorn (master and workers), the benchmark DB's backends, the load generator
    and the whole machine (pid 0)."""
    server = [gunicorn_pid, *_children(gunicorn_pid)]
    return {
        "gunicorn": {pid: _proc_cpu_seconds(pid) for pid in server},
        "postgres": {pid: _proc_cpu_seconds(pid) for pid in _postgres_backends(dbname)},
        "client": {pid: _proc_cpu_seconds(pid) for pid in client_pids},
        "machine": {0: _machine_busy_seconds()},
    }


def cpu_delta(before: dict[str, dict[int, float]], after: dict[str, dict[int, float]]) -> dict[str, float]:
    """CPU seconds used between two snapshots, per group; `other` is the machine's busy time not ours."""
    used = {
        group: sum(max(0.0, cpu - before[group].get(pid, 0.0)) for pid, cpu in after[group].items()) for group in after
    }
    used["other"] = max(0.0, used["machine"] - used["gunicorn"] - used["postgres"] - used["client"])
    return used


# ----------------------------------------------------------------------------------------------------
# Running one scenario
# ----------------------------------------------------------------------------------------------------


def percentile(sorted_values: list[float], q: float) -> float | None:
    """Nearest-rank percentile of an already sorted list (None when empty)."""
    if not sorted_values:
        return None
    rank = max(1, math.ceil(q / 100.0 * len(sorted_values)))
    return sorted_values[min(rank, len(sorted_values)) - 1]


def run_scenario(
    scenario: Scenario,
    *,
    port: int,
    concurrency: int,
    client_processes: int,
    duration: float,
    warmup: float,
    timeout: float,
    run_id: str,
    gunicorn_pid: int,
    dbname: str,
) -> dict[str, Any]:
    """Load one route from child processes; return counts, rates, latency percentiles and CPU use."""
    ctx = mp.get_context("spawn")
    procs_n = max(1, min(client_processes, concurrency))
    thread_ids = [list(range(concurrency))[i::procs_n] for i in range(procs_n)]
    ready, results = ctx.Queue(), ctx.Queue()
    go = ctx.Event()
    window = ctx.Array("d", [0.0, 0.0], lock=False)
    ip_salt = random.randrange(0, 200 * 254 * 256)
    processes = [
        ctx.Process(
            target=_load_process,
            args=(scenario, port, ids, run_id, ip_salt, timeout, ready, go, window, results),
            daemon=True,
        )
        for ids in thread_ids
    ]
    for proc in processes:
        proc.start()
    try:
        client_pids = [int(ready.get(timeout=60)) for _ in processes]
        start = time.monotonic() + 0.05
        window[0], window[1] = start + warmup, start + warmup + duration
        go.set()
        time.sleep(max(0.0, window[0] - time.monotonic()))
        cpu_before = cpu_snapshot(gunicorn_pid, dbname, client_pids)
        time.sleep(max(0.0, window[1] - time.monotonic()))
        cpu_after = cpu_snapshot(gunicorn_pid, dbname, client_pids)
        parts = [results.get(timeout=timeout + 60) for _ in processes]
    except Exception as exc:  # queue.Empty and friends: a child died or hung
        raise BenchError(f"load generator for {scenario.name!r} did not report back: {exc!r}") from exc
    finally:
        for proc in processes:
            proc.join(timeout=10)
            if proc.is_alive():
                proc.terminate()
                proc.join(timeout=5)
    fatal = [p["fatal"] for p in parts if "fatal" in p]
    if fatal:
        raise BenchError(f"load generator for {scenario.name!r} failed: {fatal}")

    latencies = sorted(lat for p in parts for lat in p["latencies_ms"])
    errors: Counter[str] = Counter()
    for p in parts:
        errors.update(p["errors"])
    ok = sum(p["ok"] for p in parts)
    error_count = sum(errors.values())
    requests = ok + error_count
    server_cpu = cpu_delta(cpu_before, cpu_after)
    per_request = (lambda seconds: seconds * 1000.0 / ok) if ok else (lambda seconds: None)
    return {
        "scenario": scenario.name,
        "method": scenario.method,
        "path": scenario.path,
        "description": scenario.description,
        "requests": requests,
        "ok": ok,
        "errors": error_count,
        "error_kinds": dict(errors),
        "rps": requests / duration,
        "ok_rps": ok / duration,
        "p50_ms": percentile(latencies, 50),
        "p90_ms": percentile(latencies, 90),
        "p99_ms": percentile(latencies, 99),
        "max_ms": latencies[-1] if latencies else None,
        "cpu": {
            "gunicorn_pct": 100.0 * server_cpu["gunicorn"] / duration,
            "postgres_pct": 100.0 * server_cpu["postgres"] / duration,
            "client_pct": 100.0 * server_cpu["client"] / duration,
            "other_pct": 100.0 * server_cpu["other"] / duration,
            "gunicorn_ms_per_ok_request": per_request(server_cpu["gunicorn"]),
            "postgres_ms_per_ok_request": per_request(server_cpu["postgres"]),
        },
        "stuck_threads": sum(p.get("stuck_threads", 0) for p in parts),
    }


# ----------------------------------------------------------------------------------------------------
# Database, Redis, server
# ----------------------------------------------------------------------------------------------------


def _pg_params(database_url: str) -> tuple[dict[str, Any], str]:
    from sqlalchemy.engine import make_url

    try:
        url = make_url(database_url)
    except Exception as exc:
        raise BenchError(f"--database-url {database_url!r} is not a database URL: {exc}") from exc
    if not url.drivername.startswith("postgresql"):
        raise BenchError("the benchmark needs PostgreSQL (--database-url postgresql+psycopg://...)")
    if not url.database:
        raise BenchError("--database-url must name a database, e.g. .../linli_bench")
    params = {
        "host": url.host or "127.0.0.1",
        "port": url.port or 5432,
        "user": url.username or "postgres",
        "password": url.password,
        "connect_timeout": 5,
    }
    return {k: v for k, v in params.items() if v is not None}, url.database


def _admin_connect(params: dict[str, Any]) -> Any:
    import psycopg

    try:
        return psycopg.connect(dbname="postgres", autocommit=True, **params)
    except psycopg.OperationalError as exc:
        where = f"{params['host']}:{params['port']}"
        raise BenchError(
            f"PostgreSQL at {where} is not reachable as {params['user']!r} (is it running? trust auth?): "
            f"{str(exc).strip()}"
        ) from exc


def recreate_database(database_url: str) -> str:
    """Drop and create the benchmark database; return its name."""
    from psycopg import sql

    params, dbname = _pg_params(database_url)
    if "bench" not in dbname:
        raise BenchError(f"refusing to drop database {dbname!r}: the benchmark database's name must contain 'bench'")
    with _admin_connect(params) as conn:
        conn.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(dbname)))
        conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(dbname)))
    return dbname


def drop_database(database_url: str) -> None:
    from psycopg import sql

    params, dbname = _pg_params(database_url)
    with _admin_connect(params) as conn:
        conn.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(dbname)))


# Pending household requests from extra residents, in random rooms of the whole subdistrict, so the staff
# queue (scenario admin-requests) returns full pages and its scope filter has rows to skip. seed-demo
# itself leaves a single pending request.
PENDING_REQUESTS_SQL = [
    """CREATE TEMP TABLE bench_picked AS
       SELECT r.id AS room_id, row_number() OVER () AS n FROM (SELECT id FROM rooms ORDER BY random() LIMIT %(n)s) r""",
    """INSERT INTO users (id, nickname, wechat_openid, created_at, updated_at)
       SELECT gen_random_uuid(), 'bench-' || n, 'bench-openid-' || n, now(), now() FROM bench_picked""",
    """INSERT INTO user_roles (user_id, role)
       SELECT id, 'resident' FROM users WHERE wechat_openid LIKE 'bench-openid-%%'""",
    """INSERT INTO household_requests (id, user_id, room_id, relation, status, note, created_at)
       SELECT gen_random_uuid(), u.id, p.room_id, 'owner', 'pending', 'bench', now() - p.n * interval '1 minute'
       FROM bench_picked p JOIN users u ON u.wechat_openid = 'bench-openid-' || p.n""",
]


def add_pending_requests(database_url: str, count: int) -> int:
    """Insert `count` pending household requests (one new resident each); return how many exist now."""
    import psycopg

    params, dbname = _pg_params(database_url)
    try:
        with psycopg.connect(dbname=dbname, **params) as conn:
            if count > 0:
                for statement in PENDING_REQUESTS_SQL:
                    conn.execute(statement, {"n": count})
                conn.commit()
                conn.autocommit = True
                conn.execute("ANALYZE")
            row = conn.execute("SELECT count(*) FROM household_requests WHERE status = 'pending'").fetchone()
    except psycopg.Error as exc:
        raise BenchError(f"could not add pending household requests (has the schema changed?): {exc}") from exc
    return int(row[0]) if row else 0


def postgres_version(database_url: str) -> str:
    params, _ = _pg_params(database_url)
    with _admin_connect(params) as conn:
        row = conn.execute("SHOW server_version").fetchone()
    return str(row[0]) if row else "?"


def check_redis(redis_url: str) -> None:
    import redis

    try:
        redis.Redis.from_url(redis_url, socket_connect_timeout=3, socket_timeout=3).ping()
    except Exception as exc:
        raise BenchError(f"Redis at {redis_url} does not answer (is it running?): {exc}") from exc


def bench_env(database_url: str, redis_url: str, instance_path: Path) -> dict[str, str]:
    """The environment of the CLI commands and of gunicorn: real PostgreSQL and Redis, WeChat sandbox."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("WECHAT_", "S3_", "LINLI_"))}
    env.update(
        DATABASE_URL=database_url,
        REDIS_URL=redis_url,
        CELERY_ALWAYS_EAGER="1",
        SECRET_KEY=secrets.token_urlsafe(48),  # 64 characters
        LINLI_ENV="development",
        LINLI_INSTANCE_PATH=str(instance_path),
        PYTHONUNBUFFERED="1",
    )
    return env


def run_cli(env: dict[str, str], *args: str, timeout: float = 600) -> str:
    """`python -m flask --app wsgi ARGS` in the project root; its output, or a BenchError with its stderr."""
    cmd = [sys.executable, "-m", "flask", "--app", "wsgi", *args]
    try:
        proc = subprocess.run(cmd, cwd=PROJECT_ROOT, env=env, capture_output=True, text=True, timeout=timeout)
    except subprocess.TimeoutExpired as exc:
        raise BenchError(f"`flask {' '.join(args)}` took longer than {timeout:.0f} s") from exc
    if proc.returncode != 0:
        tail = "\n".join((proc.stderr or proc.stdout).strip().splitlines()[-15:])
        raise BenchError(f"`flask {' '.join(args)}` failed (exit {proc.returncode}):\n{tail}")
    return proc.stdout


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((HOST, 0))
        return int(sock.getsockname()[1])


def http_json(
    port: int,
    method: str,
    path: str,
    body: dict[str, Any] | None = None,
    token: str | None = None,
    timeout: float = 10,
) -> tuple[int, Any]:
    """One request on a fresh connection; (status, decoded JSON or raw text)."""
    conn = http.client.HTTPConnection(HOST, port, timeout=timeout)
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
        raw = response.read().decode("utf-8", "replace")
        try:
            return response.status, json.loads(raw)
        except ValueError:
            return response.status, raw
    finally:
        conn.close()


GUNICORN_CONF = PROJECT_ROOT / "gunicorn.conf.py"


class Server:
    """gunicorn serving `wsgi:app` on a free loopback port.

    gunicorn reads `gunicorn.conf.py` from its working directory anyway; it is named explicitly so the
    benchmark visibly runs the production settings (access log to stdout, keep-alive, ...) with only
    workers, threads, bind address, timeout and the error log overridden.
    """

    def __init__(self, env: dict[str, str], workers: int, threads: int, log_dir: Path) -> None:
        self.port = free_port()
        self.log_path = log_dir / "gunicorn.log"
        cmd = [sys.executable, "-m", "gunicorn"]
        if GUNICORN_CONF.exists():
            cmd += ["-c", str(GUNICORN_CONF)]
        cmd += [
            "-w",
            str(workers),
            "--threads",
            str(threads),  # > 1: the gthread worker (keep-alive); 1: the sync worker
            "-b",
            f"{HOST}:{self.port}",
            "--timeout",
            "60",
            "--error-logfile",
            str(self.log_path),
            "--log-level",
            "warning",
            "wsgi:app",
        ]
        self.cmd = cmd
        self.proc = subprocess.Popen(
            cmd, cwd=PROJECT_ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True
        )

    def log_tail(self, lines: int = 20) -> str:
        try:
            return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return "(no gunicorn log)"

    def wait_healthy(self, timeout: float = 60) -> None:
        deadline = time.monotonic() + timeout
        last = ""
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise BenchError(f"gunicorn exited with {self.proc.returncode}:\n{self.log_tail()}")
            try:
                status, _ = http_json(self.port, "GET", "/healthz", timeout=2)
                if status == 200:
                    return
                last = f"HTTP {status}"
            except OSError as exc:
                last = str(exc)
            time.sleep(0.2)
        raise BenchError(f"gunicorn did not answer /healthz within {timeout:.0f} s ({last}):\n{self.log_tail()}")

    def stop(self) -> None:
        if self.proc.poll() is not None:
            return
        self.proc.send_signal(signal.SIGTERM)  # graceful: the master stops its workers
        try:
            self.proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait(timeout=10)


def login(port: int, run_id: str) -> tuple[str, str]:
    """Access tokens of the demo resident 张三 and of the demo staff member kj01-staff."""
    status, body = http_json(port, "POST", "/api/v1/auth/wechat-login", {"code": login_code(run_id, -1, 0)})
    if status != 200:
        raise BenchError(f"resident login failed: HTTP {status} {body}")
    resident = body["access_token"]
    status, body = http_json(port, "POST", "/api/v1/auth/staff-login", STAFF_CREDENTIALS)
    if status != 200:
        raise BenchError(f"staff login failed: HTTP {status} {body}")
    return resident, body["access_token"]


def build_scenarios(port: int, resident: str, staff: str, run_id: str) -> list[Scenario]:
    """The five scenarios; checks once that each answers 2xx before it is put under load."""
    # /api/v1/areas without parent_id lists the roots: the one subdistrict. Its children (25 居委会) make
    # a real page: 20 items and a next_cursor.
    status, body = http_json(port, "GET", "/api/v1/areas?limit=20", token=resident)
    if status != 200 or not body.get("items"):
        raise BenchError(f"GET /api/v1/areas answers HTTP {status}: {body}")
    root_id = body["items"][0]["id"]
    scenarios = [
        Scenario("healthz", "GET", "/healthz", description="bare route: no auth, no database (the baseline)"),
        Scenario("me", "GET", "/api/v1/me", resident, description="auth + user reload + households"),
        Scenario(
            "areas",
            "GET",
            f"/api/v1/areas?parent_id={root_id}&limit=20",
            resident,
            description="paginated list: a page of 20 of the 25 committees",
        ),
        Scenario(
            "admin-requests",
            "GET",
            "/api/v1/admin/household-requests",
            staff,
            description="staff: scoped list of pending requests",
        ),
        Scenario("wechat-login", "POST", "/api/v1/auth/wechat-login", login=True, description="login (writes)"),
    ]
    for scenario in scenarios:
        if scenario.login:
            continue
        status, body = http_json(port, scenario.method, scenario.path, token=scenario.token)
        if not 200 <= status < 300:
            raise BenchError(f"{scenario.method} {scenario.path} answers HTTP {status} before any load: {body}")
    return scenarios


# ----------------------------------------------------------------------------------------------------
# In-process probe: what one request costs the app, without network or contention
# ----------------------------------------------------------------------------------------------------


def probe(env: dict[str, str], scenarios: list[Scenario], run_id: str, requests: int = 200) -> list[dict[str, Any]]:
    """Per request: SQL statements, pool checkouts, commits (none for a GET that only read), and app time (ms)."""
    sys.path.insert(0, str(PROJECT_ROOT))
    from sqlalchemy import event

    from api import create_app
    from api.config import Settings
    from api.db import db

    app = create_app(Settings.from_env(env))
    client = app.test_client()
    engine = db.engine
    assert engine is not None
    counts = Counter[str]()
    statements: list[str] = []

    def on_execute(_conn: Any, _cursor: Any, statement: str, *_args: Any) -> None:
        counts["sql"] += 1
        statements.append(" ".join(statement.split())[:160])

    def on_checkout(*_args: Any) -> None:
        counts["checkouts"] += 1

    def on_commit(_conn: Any) -> None:
        counts["commits"] += 1

    event.listen(engine, "before_cursor_execute", on_execute)
    event.listen(engine.pool, "checkout", on_checkout)
    event.listen(engine, "commit", on_commit)
    out = []
    serial = 0
    try:
        for scenario in scenarios:

            def call(scenario: Scenario = scenario) -> int:
                nonlocal serial
                serial += 1
                headers = scenario.headers()
                body = json.dumps({"code": f"{RESIDENT_PREFIX}#probe-{run_id}-{serial}"}) if scenario.login else None
                # A fresh client address per login request: the per-IP login limit is not what we measure.
                addr = f"10.{serial // 65536 % 256}.{serial // 256 % 256}.{serial % 256}"
                response = client.open(
                    scenario.path,
                    method=scenario.method,
                    data=body,
                    headers=headers,
                    environ_base={"REMOTE_ADDR": addr},
                )
                return response.status_code

            for _ in range(20):
                call()
            counts.clear()
            statements.clear()
            bad = 0
            t0 = time.perf_counter()
            for _ in range(requests):
                if not 200 <= call() < 300:
                    bad += 1
            elapsed = time.perf_counter() - t0
            per_request_sql = statements[: max(1, counts["sql"] // requests)]
            out.append(
                {
                    "scenario": scenario.name,
                    "app_ms": elapsed * 1000.0 / requests,
                    "sql_per_request": counts["sql"] / requests,
                    "checkouts_per_request": counts["checkouts"] / requests,
                    "commits_per_request": counts["commits"] / requests,
                    "non_2xx": bad,
                    "sql_of_one_request": per_request_sql,
                }
            )
    finally:
        event.remove(engine, "before_cursor_execute", on_execute)
        event.remove(engine.pool, "checkout", on_checkout)
        event.remove(engine, "commit", on_commit)
        db.session.remove()
        engine.dispose()
    return out


# ----------------------------------------------------------------------------------------------------
# Output
# ----------------------------------------------------------------------------------------------------


def _fmt(value: float | None, digits: int = 1) -> str:
    return "-" if value is None else f"{value:,.{digits}f}"


def format_table(headers: list[str], rows: list[list[str]]) -> str:
    """A Markdown table (readable in a terminal and pasteable into the README)."""
    widths = [max(len(h), *(len(r[i]) for r in rows)) for i, h in enumerate(headers)]
    lines = ["| " + " | ".join(h.ljust(w) for h, w in zip(headers, widths, strict=True)) + " |"]
    lines.append("|" + "|".join("-" * (w + 1) + ":" for w in widths) + "|")
    for row in rows:
        lines.append("| " + " | ".join(c.rjust(w) for c, w in zip(row, widths, strict=True)) + " |")
    return "\n".join(lines)


def results_table(results: list[dict[str, Any]]) -> str:
    baseline = next((r["rps"] for r in results if r["scenario"] == "healthz"), None)
    rows = []
    for r in results:
        ratio = r["rps"] / baseline if baseline else None
        rows.append(
            [
                r["scenario"],
                f"{r['requests']:,}",
                _fmt(r["rps"]),
                _fmt(r["p50_ms"]),
                _fmt(r["p90_ms"]),
                _fmt(r["p99_ms"]),
                f"{r['errors']:,}",
                _fmt(ratio, 3),
            ]
        )
    headers = ["scenario", "requests", "req/s", "p50 ms", "p90 ms", "p99 ms", "errors", "vs healthz"]
    return format_table(headers, rows)


def cost_table(results: list[dict[str, Any]], probes: list[dict[str, Any]]) -> str:
    by_name = {p["scenario"]: p for p in probes}
    rows = []
    for r in results:
        p = by_name.get(r["scenario"], {})
        cpu = r["cpu"]
        rows.append(
            [
                r["scenario"],
                _fmt(cpu["gunicorn_pct"], 0),
                _fmt(cpu["postgres_pct"], 0),
                _fmt(cpu["client_pct"], 0),
                _fmt(cpu.get("other_pct"), 0),
                _fmt(cpu["gunicorn_ms_per_ok_request"], 2),
                _fmt(cpu["postgres_ms_per_ok_request"], 2),
                _fmt(p.get("app_ms"), 2),
                _fmt(p.get("sql_per_request"), 1),
                _fmt(p.get("checkouts_per_request"), 1),
                _fmt(p.get("commits_per_request"), 1),
            ]
        )
    headers = [
        "scenario",
        "gunicorn CPU %",
        "postgres CPU %",
        "client CPU %",
        "other CPU %",
        "gunicorn CPU ms/req",
        "pg CPU ms/req",
        "in-process ms/req",
        "SQL/req",
        "checkouts/req",
        "commits/req",
    ]
    return format_table(headers, rows)


def _display_path(path: Path) -> str:
    return str(path.relative_to(PROJECT_ROOT)) if path.is_relative_to(PROJECT_ROOT) else str(path)


def machine_info(database_url: str) -> dict[str, Any]:
    cpu_model = ""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu_model = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    try:
        pg = postgres_version(database_url)
    except BenchError:
        pg = "?"
    return {
        "cores": os.cpu_count(),
        "cpu_model": cpu_model,
        "platform": platform.platform(),
        "python": platform.python_version(),
        "postgresql": pg,
    }


# ----------------------------------------------------------------------------------------------------
# Main
# ----------------------------------------------------------------------------------------------------


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument(
        "--database-url", default=DEFAULT_DATABASE_URL, help="dropped and recreated (name must contain 'bench')"
    )
    parser.add_argument("--redis-url", default=DEFAULT_REDIS_URL)
    parser.add_argument("--duration", type=float, default=10.0, help="measured seconds per scenario")
    parser.add_argument("--warmup", type=float, default=2.0, help="unmeasured seconds before each scenario")
    parser.add_argument("--concurrency", type=int, default=16, help="concurrent connections (client threads)")
    parser.add_argument("--client-processes", type=int, default=2, help="load-generator processes")
    parser.add_argument("--workers", type=int, default=2, help="gunicorn worker processes")
    parser.add_argument("--threads", type=int, default=1, help="gunicorn threads per worker (>1: gthread worker)")
    parser.add_argument(
        "--rounds", type=int, default=1, help="run every scenario this many times; report the best round"
    )
    parser.add_argument("--timeout", type=float, default=10.0, help="client socket timeout, seconds")
    parser.add_argument(
        "--pending-requests",
        type=int,
        default=2000,
        help="extra pending household requests across the subdistrict (0: seed-demo's single one)",
    )
    parser.add_argument("--only", nargs="+", metavar="SCENARIO", help="run only these scenarios")
    parser.add_argument("--no-probe", action="store_true", help="skip the in-process per-request probe")
    parser.add_argument("--show-sql", action="store_true", help="print the SQL one request of each scenario issues")
    parser.add_argument("--keep", action="store_true", help="keep the database afterwards")
    args = parser.parse_args(argv)
    if args.duration <= 0 or args.warmup < 0 or args.concurrency < 1 or args.workers < 1 or args.threads < 1:
        parser.error("--duration must be > 0, --warmup >= 0, and --concurrency, --workers, --threads >= 1")
    if args.rounds < 1:
        parser.error("--rounds must be >= 1")
    if args.pending_requests < 0:
        parser.error("--pending-requests must be >= 0")
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    run_id = f"{int(time.time())}{secrets.token_hex(2)}"
    started = datetime.now(UTC)
    tmp = Path(tempfile.mkdtemp(prefix="linli-bench-"))
    server: Server | None = None
    database_created = False
    try:
        check_redis(args.redis_url)
        print(f"preparing database {args.database_url} ...", flush=True)
        dbname = recreate_database(args.database_url)
        database_created = True
        env = bench_env(args.database_url, args.redis_url, tmp / "instance")
        t0 = time.monotonic()
        run_cli(env, "db", "upgrade")
        seed_output = run_cli(env, "seed-demo")
        pending = add_pending_requests(args.database_url, args.pending_requests)
        print(
            f"  migrated and seeded in {time.monotonic() - t0:.1f} s: "
            + "; ".join(seed_output.splitlines()[:2])
            + f"; pending household requests: {pending:,}"
        )

        server = Server(env, args.workers, args.threads, tmp)
        server.wait_healthy()
        mode = f"{args.workers} workers" + (f" x {args.threads} threads (gthread)" if args.threads > 1 else " (sync)")
        print(f"gunicorn on {HOST}:{server.port}, {mode}", flush=True)
        resident, staff = login(server.port, run_id)
        scenarios = build_scenarios(server.port, resident, staff, run_id)
        if args.only:
            unknown = set(args.only) - {s.name for s in scenarios}
            if unknown:
                raise BenchError(f"unknown scenario(s) {sorted(unknown)}; known: {[s.name for s in scenarios]}")
            scenarios = [s for s in scenarios if s.name in args.only]

        rounds: dict[str, list[dict[str, Any]]] = {s.name: [] for s in scenarios}
        for round_no in range(1, args.rounds + 1):
            if args.rounds > 1:
                print(f"  round {round_no}/{args.rounds}", flush=True)
            for scenario in scenarios:
                print(
                    f"  {scenario.name:<15} {scenario.method} {scenario.path}: "
                    f"{args.warmup:g} s warm-up + {args.duration:g} s at concurrency {args.concurrency} ...",
                    end="",
                    flush=True,
                )
                load_before = os.getloadavg()[0] if hasattr(os, "getloadavg") else None
                result = run_scenario(
                    scenario,
                    port=server.port,
                    concurrency=args.concurrency,
                    client_processes=args.client_processes,
                    duration=args.duration,
                    warmup=args.warmup,
                    timeout=args.timeout,
                    run_id=f"{run_id}r{round_no}",  # login codes must never repeat
                    gunicorn_pid=server.proc.pid,
                    dbname=dbname,
                )
                result["round"] = round_no
                result["loadavg_1min_before"] = load_before
                result["loadavg_1min_after"] = os.getloadavg()[0] if hasattr(os, "getloadavg") else None
                rounds[scenario.name].append(result)
                kinds = f" {result['error_kinds']}" if result["errors"] else ""
                load = f", load avg {load_before:.1f}" if load_before is not None else ""
                print(f" {result['rps']:,.0f} req/s, {result['errors']} errors{kinds}{load}", flush=True)
                if server.proc.poll() is not None:
                    raise BenchError(f"gunicorn died during {scenario.name!r}:\n{server.log_tail()}")
        # Best of the rounds: on a shared machine the slowest rounds measure the neighbours, not the app.
        results = [max(rounds[s.name], key=lambda r: r["ok_rps"]) for s in scenarios]

        server.stop()
        probes = [] if args.no_probe else probe(env, scenarios, run_id)

        print()
        print(f"Linli benchmark — {started:%Y-%m-%d %H:%M} UTC, {os.cpu_count()} cores, gunicorn {mode}, ", end="")
        best = f", best of {args.rounds} rounds" if args.rounds > 1 else ""
        print(
            f"concurrency {args.concurrency} from {args.client_processes} client processes, "
            f"{args.duration:g} s each{best}"
        )
        print()
        print(results_table(results))
        print()
        print("Where the time goes (CPU sampled from /proc during the measured window; probe: in-process, serial):")
        print()
        print(cost_table(results, probes))
        if args.show_sql:
            for p in probes:
                print(f"\n{p['scenario']}:")
                for statement in p["sql_of_one_request"]:
                    print(f"  {statement}")
        errors = {r["scenario"]: r["error_kinds"] for r in results if r["errors"]}
        if errors:
            print(f"\nerrors: {errors}")

        RESULTS_DIR.mkdir(parents=True, exist_ok=True)
        out = RESULTS_DIR / f"{started:%Y%m%dT%H%M%SZ}.json"
        record = {
            "started_at": started.isoformat(),
            "command": " ".join([_display_path(Path(sys.executable)), *sys.argv]),
            "config": {k: v for k, v in vars(args).items()},
            "gunicorn": " ".join(server.cmd[2:]).replace(str(PROJECT_ROOT) + "/", ""),
            "machine": machine_info(args.database_url),
            "scenarios": [asdict(s) | {"token": "..." if s.token else None} for s in scenarios],
            "results": results,
            "rounds": rounds,
            "probe": probes,
        }
        out.write_text(json.dumps(record, indent=2, ensure_ascii=False) + "\n")
        print(f"\nresults written to {out.relative_to(PROJECT_ROOT)}")
        return 0
    except BenchError as exc:
        print(f"\nbench: error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("\nbench: interrupted", file=sys.stderr)
        return 130
    finally:
        if server is not None:
            server.stop()
        if database_created and not args.keep:
            try:
                drop_database(args.database_url)
            except BenchError as exc:
                print(f"bench: could not drop the database: {exc}", file=sys.stderr)
        elif database_created:
            print(f"database kept: {args.database_url}")
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
