"""Booking rush benchmark: hundreds of residents tap "book" on one event in the same second.

    .venv/bin/python bench/booking_rush.py [--database-url postgresql+psycopg://postgres@127.0.0.1:5432/linli_bench_rush]
                                           [--workers 4] [--residents 500] [--capacity 100] [--concurrency 64]

What it does, in order:

1. drops and recreates the benchmark database (its name must contain "bench"), migrates it to head (Alembic),
   and seeds it through the app's own services: a subdistrict and a committee, a staff member, `--residents`
   residents plus `--newcomers` more, each with an access token (`issue_tokens`; hundreds of WeChat logins
   from one address would only measure the login rate limit);
2. starts `gunicorn -c gunicorn.conf.py --bind 127.0.0.1:<free port> wsgi:app` with `WEB_CONCURRENCY=--workers`,
   DATABASE_URL, REDIS_URL, CELERY_ALWAYS_EAGER=1 (promotion messages delivered inline, WeChat sandbox),
   a random SECRET_KEY and a temporary LINLI_INSTANCE_PATH, and waits for /healthz;
3. for each of `--rounds` rounds, publishes a fresh event (`--capacity` seats, `--waitlist-limit` waiting places,
   window open now) and, from a **separate load-generator process** (multiprocessing spawn; `--concurrency`
   threads, one connection per request, all released at once):
   - **rush**: every resident books once; `--double-tap` of them send the same booking twice at the same
     moment (half with one Idempotency-Key, half without);
   - **cancel race**: a quarter of the confirmed holders cancel while the newcomers book, all at once;
4. checks the invariants in the database and in the answers after each phase (OK / FAILED): exactly `capacity`
   confirmed seats, the waitlist counted right and numbered in arrival order, the rest `event_full`, nobody
   with two active bookings, promotion in arrival order with one message each, no 5xx;
5. measures, before the rounds, how long one COMMIT takes on the database (its WAL flush): a booking keeps its
   event's row lock until its COMMIT returns, so a rush on one event cannot beat one booking per COMMIT; it
   prints that ceiling beside the CPU's (cores over app and PostgreSQL CPU per request), to say which of the
   two bounds the figure on this machine;
6. prints the table, writes `bench/results/booking-rush-<timestamp>.json`, stops gunicorn, drops the database
   (unless `--keep`). Exit status 0 when every invariant held, 1 when one failed, 2 when something it needs is
   missing (PostgreSQL, Redis, a migration, gunicorn not answering).

Every booking of one event takes that event's row lock (`SELECT … FOR UPDATE`), so a rush is served one
booking at a time, whatever the number of workers: req/s here is the inverse of how long a booking holds the
lock, and latency grows with the queue in front of it. It measures; it never asserts a timing.
"""

from __future__ import annotations

import argparse
import contextlib
import http.client
import itertools
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
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections import Counter, defaultdict
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

PROJECT_ROOT = Path(__file__).resolve().parent.parent
RESULTS_DIR = Path(__file__).resolve().parent / "results"
DEFAULT_DATABASE_URL = "postgresql+psycopg://postgres@127.0.0.1:5432/linli_bench_rush"
DEFAULT_REDIS_URL = "redis://127.0.0.1:6379/14"
HOST = "127.0.0.1"

if str(PROJECT_ROOT) not in sys.path:
    sys.path.insert(0, str(PROJECT_ROOT))

# The benchmarks' one error and one way to make and drop their database (bench/run.py).
from run import BenchError, drop_database, recreate_database  # noqa: E402  (re-exported to the other benches)

# ----------------------------------------------------------------------------------------------------
# Load generator (a child process: no app code, only http.client)
# ----------------------------------------------------------------------------------------------------

# One request: (resident index, kind, method, path, idempotency key). A unit is one or more requests that
# leave together (a double tap).
Call = tuple[int, str, str, str, str | None]


def _send(port: int, call: Call, token: str, timeout: float) -> dict[str, Any]:
    who, kind, method, path, key = call
    headers = {"Authorization": f"Bearer {token}", "Accept": "application/json", "User-Agent": "linli-bench-rush"}
    body = None
    if method == "POST" and path.endswith("/bookings"):
        body = "{}"
        headers["Content-Type"] = "application/json"
    if key is not None:
        headers["Idempotency-Key"] = key
    record: dict[str, Any] = {"who": who, "kind": kind, "status": None, "body": None, "replayed": None}
    conn = http.client.HTTPConnection(HOST, port, timeout=timeout)
    start = time.monotonic()
    try:
        conn.request(method, path, body=body, headers=headers)
        response = conn.getresponse()
        raw = response.read()
        record["status"] = response.status
        record["replayed"] = response.getheader("Idempotent-Replayed")
        try:
            record["body"] = json.loads(raw)
        except ValueError:
            record["body"] = raw[:200].decode(errors="replace")
    except (OSError, http.client.HTTPException) as exc:
        record["error"] = type(exc).__name__
    finally:
        conn.close()
    end = time.monotonic()
    record["start"], record["end"] = start, end
    record["ms"] = (end - start) * 1000.0
    return record


def load_process(
    port: int, tokens: list[str], units: list[list[Call]], concurrency: int, timeout: float, out: Any
) -> None:
    """Send every unit from `concurrency` threads, all released together; put the records on `out`."""
    from concurrent.futures import ThreadPoolExecutor

    gate = threading.Event()
    records: list[dict[str, Any]] = []
    lock = threading.Lock()

    def run(call: Call, barrier: threading.Barrier | None) -> None:
        gate.wait()
        if barrier is not None:
            with contextlib.suppress(threading.BrokenBarrierError):
                barrier.wait(timeout=30)
        record = _send(port, call, tokens[call[0]], timeout)
        with lock:
            records.append(record)

    with ThreadPoolExecutor(max_workers=concurrency) as pool:
        futures = []
        for unit in units:
            barrier = threading.Barrier(len(unit)) if len(unit) > 1 else None
            futures += [pool.submit(run, call, barrier) for call in unit]
        time.sleep(0.2)  # let the pool's threads start before the gate opens
        started = time.monotonic()
        gate.set()
        for future in futures:
            future.result()
    out.put({"started": started, "records": records, "cpu": _proc_cpu_seconds(os.getpid())})


def run_load(port: int, tokens: list[str], units: list[list[Call]], concurrency: int, timeout: float) -> dict[str, Any]:
    ctx = mp.get_context("spawn")
    out = ctx.Queue()
    proc = ctx.Process(target=load_process, args=(port, tokens, units, concurrency, timeout, out), daemon=True)
    proc.start()
    try:
        result = out.get(timeout=600)
    finally:
        proc.join(timeout=30)
        if proc.is_alive():
            proc.kill()
    result["pid"] = proc.pid
    return result


# ----------------------------------------------------------------------------------------------------
# CPU accounting from /proc (Linux; zeros elsewhere)
# ----------------------------------------------------------------------------------------------------

_CLK_TCK = os.sysconf("SC_CLK_TCK") if hasattr(os, "sysconf") else 100


def _proc_cpu_seconds(pid: int) -> float:
    try:
        with open(f"/proc/{pid}/stat", encoding="ascii", errors="replace") as fh:
            fields = fh.read().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / _CLK_TCK
    except (OSError, IndexError, ValueError):
        return 0.0


def _children(pid: int) -> list[int]:
    try:
        with open(f"/proc/{pid}/task/{pid}/children", encoding="ascii") as fh:
            return [int(p) for p in fh.read().split()]
    except (OSError, ValueError):
        return []


def _postgres_backends(dbname: str) -> list[int]:
    pids = []
    with contextlib.suppress(OSError):
        for entry in os.listdir("/proc"):
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


def cpu_snapshot(gunicorn_pid: int, dbname: str) -> dict[str, dict[int, float]]:
    return {
        "gunicorn": {pid: _proc_cpu_seconds(pid) for pid in [gunicorn_pid, *_children(gunicorn_pid)]},
        "postgres": {pid: _proc_cpu_seconds(pid) for pid in _postgres_backends(dbname)},
    }


def cpu_used(before: dict[str, dict[int, float]], after: dict[str, dict[int, float]]) -> dict[str, float]:
    return {g: sum(max(0.0, cpu - before[g].get(pid, 0.0)) for pid, cpu in after[g].items()) for g in after}


# ----------------------------------------------------------------------------------------------------
# Database, seed, server
# ----------------------------------------------------------------------------------------------------


def check_redis(url: str) -> None:
    import redis

    try:
        redis.Redis.from_url(url, socket_connect_timeout=2).ping()
    except Exception as exc:
        raise BenchError(f"Redis at {url} does not answer: {exc}") from exc


def build_app(url: str, redis_url: str, secret: str, instance: Path) -> Any:
    """The app in this (orchestrating) process: it seeds, publishes events and reads what the rush left."""
    from api import Settings, create_app

    return create_app(
        Settings(
            env="development",
            secret_key=secret,
            instance_path=instance,
            database_url=url,
            redis_url=redis_url,
            celery_always_eager=True,
            access_token_ttl_seconds=6 * 3600,
        )
    )


def seed(app: Any, people: int) -> dict[str, Any]:
    from api.accounts.models import Area, AreaKind, Role, User
    from api.accounts.services import create_staff, issue_tokens
    from api.db import db, new_id

    settings = app.extensions["linli.settings"]
    subdistrict = Area(id=new_id(), kind=AreaKind.SUBDISTRICT, code="KJ", name="控江路街道", path="/KJ/")
    committee = Area(
        id=new_id(), kind=AreaKind.COMMITTEE, code="KJ01", name="KJ01居委会", parent_id=subdistrict.id, path="/KJ/KJ01/"
    )
    db.session.add_all([subdistrict, committee])
    db.session.flush()
    staff = create_staff("bench-staff", secrets.token_urlsafe(16), Role.STAFF, "KJ01")
    users = []
    for i in range(people):
        user = User(wechat_openid=f"bench-rush-{i:06d}", nickname=f"居民{i}")
        user.grant(Role.RESIDENT)
        users.append(user)
    db.session.add_all(users)
    db.session.flush()
    tokens = [issue_tokens(user, settings).access_token for user in users]
    db.session.commit()
    return {"staff_id": staff.id, "area_id": committee.id, "user_ids": [u.id for u in users], "tokens": tokens}


def new_event(world: dict[str, Any], capacity: int, waitlist_limit: int, title: str) -> uuid.UUID:
    from api.accounts.models import User
    from api.db import db, utcnow
    from api.events import services
    from api.events.models import EventCategory

    now = utcnow()
    staff = db.session.get(User, world["staff_id"])
    event = services.create_event(
        staff,
        {
            "title": title,
            "category": EventCategory.CULTURE,
            "venue": "控江一村睦邻中心",
            "area_id": world["area_id"],
            "starts_at": now + timedelta(days=2),
            "ends_at": now + timedelta(days=2, hours=2),
            "booking_opens_at": now - timedelta(minutes=1),
            "booking_closes_at": now + timedelta(days=1),
            "capacity": capacity,
            "waitlist_limit": waitlist_limit,
        },
    )
    services.publish_event(staff, event.id)
    db.session.commit()
    return event.id


def free_port() -> int:
    with socket.socket() as s:
        s.bind((HOST, 0))
        return s.getsockname()[1]


def _healthy(port: int) -> bool:
    conn = http.client.HTTPConnection(HOST, port, timeout=2)
    try:
        conn.request("GET", "/healthz")
        return conn.getresponse().status == 200
    except OSError:
        return False
    finally:
        conn.close()


def start_gunicorn(env: dict[str, str], port: int, log: Path) -> subprocess.Popen[bytes]:
    argv = [sys.executable, "-m", "gunicorn", "-c", "gunicorn.conf.py", "--bind", f"{HOST}:{port}", "wsgi:app"]
    with log.open("wb") as out:
        server = subprocess.Popen(argv, cwd=PROJECT_ROOT, env=env, stdout=out, stderr=subprocess.STDOUT)
    deadline = time.monotonic() + 60
    while not _healthy(port):
        if server.poll() is not None or time.monotonic() > deadline:
            stop(server)
            tail = log.read_text(errors="replace")[-3000:]
            raise BenchError(f"gunicorn did not answer /healthz on port {port}; its log ends:\n{tail}")
        time.sleep(0.2)
    return server


def stop(server: subprocess.Popen[bytes] | None) -> None:
    if server is None or server.poll() is not None:
        return
    server.terminate()
    try:
        server.wait(timeout=25)
    except subprocess.TimeoutExpired:
        server.kill()
        server.wait(timeout=10)


# ----------------------------------------------------------------------------------------------------
# The phases and their invariants
# ----------------------------------------------------------------------------------------------------


def percentile(sorted_values: list[float], q: float) -> float | None:
    if not sorted_values:
        return None
    rank = max(1, math.ceil(q / 100.0 * len(sorted_values)))
    return sorted_values[min(rank, len(sorted_values)) - 1]


class Checks:
    def __init__(self) -> None:
        self.items: list[dict[str, Any]] = []

    def __call__(self, name: str, ok: bool, detail: Any = "") -> None:
        self.items.append({"check": name, "ok": bool(ok), "detail": "" if ok else str(detail)[:500]})

    @property
    def ok(self) -> bool:
        return all(c["ok"] for c in self.items)


def classify(record: dict[str, Any]) -> str:
    status, body = record["status"], record["body"]
    if status is None or not isinstance(body, dict):
        return "error"
    if status in (200, 201) and body.get("status") in ("confirmed", "waitlisted", "cancelled"):
        return body["status"]
    if status == 409 and body.get("code") == "event_full" and set(body) == {"code", "message", "errors"}:
        return "full"
    return "error"


def summarise(name: str, load: dict[str, Any], cpu: dict[str, float]) -> dict[str, Any]:
    records = load["records"]
    latencies = sorted(r["ms"] for r in records)
    wall = max((r["end"] for r in records), default=load["started"]) - load["started"]
    counts = Counter(classify(r) for r in records)
    statuses = Counter(str(r["status"] or r.get("error")) for r in records)
    return {
        "phase": name,
        "requests": len(records),
        "seconds": round(wall, 3),
        "rps": round(len(records) / wall, 1) if wall > 0 else None,
        "p50_ms": percentile(latencies, 50),
        "p90_ms": percentile(latencies, 90),
        "p99_ms": percentile(latencies, 99),
        "max_ms": latencies[-1] if latencies else None,
        "confirmed": counts["confirmed"],
        "waitlisted": counts["waitlisted"],
        "cancelled": counts["cancelled"],
        "full": counts["full"],
        "errors": counts["error"],
        "statuses": dict(statuses),
        "server_5xx": sum(1 for r in records if (r["status"] or 0) >= 500),
        "gunicorn_cpu_ms_per_request": round(cpu["gunicorn"] * 1000 / len(records), 2) if records else None,
        "postgres_cpu_ms_per_request": round(cpu["postgres"] * 1000 / len(records), 2) if records else None,
        "gunicorn_cpu_pct": round(cpu["gunicorn"] * 100 / wall, 1) if wall > 0 else None,
        "postgres_cpu_pct": round(cpu["postgres"] * 100 / wall, 1) if wall > 0 else None,
    }


def commit_latency(url: str, samples: int = 200) -> float:
    """Median milliseconds of a one-row UPDATE and its COMMIT on this database, on one connection and nothing
    else running: the WAL flush (fdatasync) a committed booking waits for.

    A booking holds its event's row lock until its COMMIT returns, so one event's bookings follow one another
    at best once per commit: 1000 / this figure is the ceiling of a rush on one event here, whatever the CPU."""
    import psycopg
    from run import _pg_params

    params, dbname = _pg_params(url)
    times = []
    with psycopg.connect(dbname=dbname, **params) as conn:
        # A plain table, not a temporary one: a temporary table writes no WAL, and its COMMIT flushes nothing.
        conn.execute("CREATE TABLE bench_commit_probe (n int)")
        conn.execute("INSERT INTO bench_commit_probe VALUES (0)")
        conn.commit()
        try:
            for _ in range(samples):
                start = time.perf_counter()
                conn.execute("UPDATE bench_commit_probe SET n = n + 1")
                conn.commit()
                times.append((time.perf_counter() - start) * 1000.0)
        finally:
            conn.rollback()
            conn.execute("DROP TABLE bench_commit_probe")
            conn.commit()
    return statistics.median(times)


def db_state(event_id: uuid.UUID) -> tuple[Any, list[Any]]:
    from sqlalchemy import select

    from api.db import db
    from api.events.models import Booking, Event

    db.session.remove()
    event = db.session.get(Event, event_id)
    rows = db.session.scalars(select(Booking).where(Booking.event_id == event_id).order_by(Booking.created_at)).all()
    return event, list(rows)


def check_rows(check: Checks, event: Any, rows: list[Any]) -> None:
    """What must hold of an event's counters and bookings at any quiet moment."""
    confirmed = [b for b in rows if b.status.value == "confirmed"]
    waitlisted = [b for b in rows if b.status.value == "waitlisted"]
    seats = sum(b.party_size for b in confirmed)
    check(
        "seats taken on the event = confirmed seats in bookings", seats == event.seats_taken, (seats, event.seats_taken)
    )
    check("waitlist count on the event = waitlisted bookings", len(waitlisted) == event.waitlist_count)
    check("0 <= seats taken <= capacity", 0 <= event.seats_taken <= event.capacity, event.seats_taken)
    check("0 <= waitlist <= waitlist limit", 0 <= event.waitlist_count <= event.waitlist_limit, event.waitlist_count)
    active = Counter(b.user_id for b in rows if b.status.value != "cancelled")
    check("no resident with two active bookings", max(active.values(), default=0) <= 1)
    seqs = [b.waitlist_seq for b in waitlisted]  # rows are in created_at order
    check(
        "waitlist numbers grow with arrival (created_at)",
        None not in seqs and all(a < b for a, b in itertools.pairwise(seqs)),
        seqs[:20],
    )


def rush_units(
    args: argparse.Namespace, world: dict[str, Any], round_no: int, rng: random.Random
) -> tuple[uuid.UUID, list[list[Call]]]:
    """A fresh event, and every resident's booking of it (a few sent twice at once)."""
    event_id = new_event(world, args.capacity, args.waitlist_limit, f"抢票测试 {round_no}")
    path = f"/api/v1/events/{event_id}/bookings"
    units: list[list[Call]] = []
    people = list(range(args.residents))
    rng.shuffle(people)
    for i, who in enumerate(people):
        if rng.random() >= args.double_tap:
            units.append([(who, "single", "POST", path, None)])
        elif i % 2:
            key = f"rush-{round_no}-{who}-{uuid.uuid4().hex[:8]}"
            units.append([(who, "same-key", "POST", path, key)] * 2)
        else:
            units.append([(who, "no-key", "POST", path, None)] * 2)
    return event_id, units


def check_rush(
    check: Checks, args: argparse.Namespace, event_id: uuid.UUID, records: list[dict[str, Any]]
) -> dict[int, dict[str, Any]]:
    """The invariants after a rush; returns each booked resident's booking (as the API gave it)."""
    check("no 5xx and no socket errors", all(r["status"] is not None and r["status"] < 500 for r in records))
    check("every answer is a booking or event_full", all(classify(r) != "error" for r in records))
    mine: dict[int, list[dict[str, Any]]] = defaultdict(list)
    for r in records:
        mine[r["who"]].append(r)
    booked: dict[int, dict[str, Any]] = {}
    two_ids = []
    for who, answers in mine.items():
        ids = {r["body"].get("id") for r in answers if r["status"] in (200, 201) and isinstance(r["body"], dict)}
        if len(ids) > 1 or (ids and any(r["status"] == 409 for r in answers)):
            two_ids.append(who)
        if ids:
            booked[who] = next(r["body"] for r in answers if r["status"] in (200, 201))
    check("a double tap gets one booking (the same id twice, or event_full twice)", not two_ids, two_ids[:10])
    created = sum(1 for r in records if r["status"] == 201 and r["replayed"] != "true")
    check(
        "one 201 per booking made (duplicates: 200 or a replayed 201)", created == len(booked), (created, len(booked))
    )
    confirmed = [b for b in booked.values() if b["status"] == "confirmed"]
    waitlisted = [b for b in booked.values() if b["status"] == "waitlisted"]
    expect_confirmed = min(args.residents, args.capacity)
    expect_waiting = min(args.residents - expect_confirmed, args.waitlist_limit)
    check(
        "API: exactly `capacity` confirmed",
        len(confirmed) == expect_confirmed,
        (len(confirmed), expect_confirmed),
    )
    check("API: waitlisted = min(rest, waitlist limit)", len(waitlisted) == expect_waiting, len(waitlisted))
    check(
        "API: waitlist positions 1..n",
        sorted(b["position"] for b in waitlisted) == list(range(1, expect_waiting + 1)),
    )
    event, rows = db_state(event_id)
    check_rows(check, event, rows)
    check(
        "DB: seats taken = capacity, waitlist = expected",
        (event.seats_taken, event.waitlist_count) == (expect_confirmed, expect_waiting),
        (event.seats_taken, event.waitlist_count),
    )
    check("DB: one row per booked resident, none for the refused", len(rows) == len(booked), (len(rows), len(booked)))
    waiting_rows = [b for b in rows if b.status.value == "waitlisted"]
    check(
        "DB: waitlist numbered 1..n in arrival order",
        [b.waitlist_seq for b in waiting_rows] == list(range(1, expect_waiting + 1)),
    )
    first_waiting = waiting_rows[0].created_at if waiting_rows else None
    check(
        "DB: every confirmed seat was booked before the first waitlisted booking",
        first_waiting is None or all(b.created_at < first_waiting for b in rows if b.status.value == "confirmed"),
    )
    return booked


def race_units(
    args: argparse.Namespace, event_id: uuid.UUID, booked: dict[int, dict[str, Any]], rng: random.Random
) -> tuple[list[list[Call]], list[int]]:
    holders = sorted(who for who, b in booked.items() if b["status"] == "confirmed")
    cancelling = rng.sample(holders, max(1, len(holders) // 4)) if holders else []
    units: list[list[Call]] = [
        [(who, "cancel", "POST", f"/api/v1/bookings/{booked[who]['id']}/cancel", None)] for who in cancelling
    ]
    path = f"/api/v1/events/{event_id}/bookings"
    units += [[(who, "newcomer", "POST", path, None)] for who in range(args.residents, args.residents + args.newcomers)]
    rng.shuffle(units)
    return units, cancelling


def check_race(
    check: Checks,
    event_id: uuid.UUID,
    records: list[dict[str, Any]],
    cancelled_ids: set[str],
) -> None:
    from sqlalchemy import select

    from api.db import db
    from api.notifications.models import Notification

    check("race: no 5xx and no socket errors", all(r["status"] is not None and r["status"] < 500 for r in records))
    check(
        "race: every cancel answered `cancelled`",
        all(classify(r) == "cancelled" for r in records if r["kind"] == "cancel"),
    )
    check(
        "race: every newcomer booked or event_full",
        all(classify(r) in ("waitlisted", "full", "confirmed") for r in records if r["kind"] == "newcomer"),
    )
    event, rows = db_state(event_id)
    check_rows(check, event, rows)
    check(
        "race: no seat left empty while someone waits",
        event.waitlist_count == 0 or event.seats_taken == event.capacity,
        (event.seats_taken, event.waitlist_count),
    )
    check(
        "race: the cancelled bookings are cancelled",
        {str(b.id) for b in rows if b.status.value == "cancelled"} == cancelled_ids,
    )
    promoted = [b for b in rows if b.confirmed_at is not None and b.confirmed_at > b.created_at]
    still = [b for b in rows if (b in promoted or b.status.value == "waitlisted") and b.status.value != "cancelled"]
    n = sum(b.status.value == "confirmed" for b in still)
    check(
        "race: promoted = the earliest waiting (arrival order)",
        all(b.status.value == "confirmed" for b in still[:n])
        and all(b.status.value == "waitlisted" for b in still[n:]),
    )
    freed = sum(1 for b in rows if b.status.value == "cancelled" and b.confirmed_at is not None)
    check(
        "race: one promotion per freed seat (while someone waited)",
        len(promoted) == freed or event.waitlist_count == 0,
        (len(promoted), freed),
    )
    ids = {str(b.id) for b in promoted}
    told = [
        n
        for n in db.session.scalars(select(Notification).where(Notification.kind == "booking_promoted"))
        if n.context.get("booking_id") in ids
    ]
    check(
        "race: each promoted resident told once",
        sorted(n.context["booking_id"] for n in told) == sorted(ids),
        (len(told), len(ids)),
    )
    check("race: every promotion message delivered (not pending)", all(n.status.value != "pending" for n in told))


# ----------------------------------------------------------------------------------------------------
# Output
# ----------------------------------------------------------------------------------------------------


def _fmt(value: Any, digits: int = 1) -> str:
    if value is None:
        return "-"
    if isinstance(value, float):
        return f"{value:.{digits}f}"
    return str(value)


def print_table(rows: list[dict[str, Any]]) -> None:
    columns = [
        ("phase", "phase", 14),
        ("requests", "requests", 8),
        ("seconds", "s", 6),
        ("rps", "req/s", 7),
        ("p50_ms", "p50 ms", 8),
        ("p90_ms", "p90 ms", 8),
        ("p99_ms", "p99 ms", 8),
        ("max_ms", "max ms", 8),
        ("confirmed", "confirmed", 9),
        ("waitlisted", "waitlisted", 10),
        ("cancelled", "cancelled", 9),
        ("full", "full", 5),
        ("errors", "errors", 6),
        ("gunicorn_cpu_ms_per_request", "app CPU ms/req", 14),
        ("postgres_cpu_ms_per_request", "PG CPU ms/req", 13),
        ("loadavg_1min_before", "load", 5),
    ]
    print("  ".join(title.rjust(width) if i else title.ljust(width) for i, (_, title, width) in enumerate(columns)))
    for row in rows:
        cells = []
        for i, (key, _, width) in enumerate(columns):
            text = _fmt(row.get(key), 3 if key == "seconds" else 1)
            cells.append(text.rjust(width) if i else text.ljust(width))
        print("  ".join(cells))


# ----------------------------------------------------------------------------------------------------
# Main
# ----------------------------------------------------------------------------------------------------


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--database-url", default=DEFAULT_DATABASE_URL, help="dropped and recreated; must say 'bench'")
    parser.add_argument("--redis-url", default=DEFAULT_REDIS_URL)
    parser.add_argument("--workers", type=int, default=4, help="gunicorn sync workers (WEB_CONCURRENCY)")
    parser.add_argument("--residents", type=int, default=500, help="residents in the rush, each books once")
    parser.add_argument("--capacity", type=int, default=100)
    parser.add_argument("--waitlist-limit", type=int, default=200)
    parser.add_argument("--newcomers", type=int, default=100, help="residents booking during the cancel race")
    parser.add_argument("--double-tap", type=float, default=0.1, help="share of residents who send the booking twice")
    parser.add_argument("--concurrency", type=int, default=64, help="load-generator threads")
    parser.add_argument("--rounds", type=int, default=3, help="rounds, each on a fresh event")
    parser.add_argument("--timeout", type=float, default=60.0, help="client socket timeout (s)")
    parser.add_argument("--seed", type=int, default=20261124, help="random seed of who books when")
    parser.add_argument("--keep", action="store_true", help="keep the database afterwards")
    return parser.parse_args(argv)


def _interrupted(*_: Any) -> None:
    raise KeyboardInterrupt


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    from sqlalchemy.engine import make_url

    url = make_url(args.database_url).set(drivername="postgresql+psycopg").render_as_string(hide_password=False)
    dbname = make_url(url).database or ""
    secret = secrets.token_urlsafe(48)
    tmp = Path(tempfile.mkdtemp(prefix="linli-bench-rush-"))
    server: subprocess.Popen[bytes] | None = None
    created = False
    signal.signal(signal.SIGTERM, _interrupted)
    try:
        check_redis(args.redis_url)
        recreate_database(url)
        print(f"database {dbname}: recreated; migrating …", flush=True)
        created = True
        from alembic import command

        from api.cli import alembic_config

        try:
            command.upgrade(alembic_config(url), "head")
        except Exception as exc:
            raise BenchError(f"migration failed: {exc}") from exc
        commit_ms = commit_latency(url)
        print(
            f"a COMMIT here takes {commit_ms:.2f} ms (median of 200): one event's bookings, which queue on its row "
            f"lock until each COMMIT returns, cannot go faster than {1000 / commit_ms:,.0f}/s on this database",
            flush=True,
        )
        app = build_app(url, args.redis_url, secret, tmp / "bench-instance")
        t = time.monotonic()
        world = seed(app, args.residents + args.newcomers)
        print(f"seeded {args.residents + args.newcomers} residents with tokens in {time.monotonic() - t:.1f} s")
        env = {k: os.environ[k] for k in ("PATH", "HOME", "LANG", "LC_ALL", "TMPDIR") if k in os.environ}
        env.update(
            PYTHONUNBUFFERED="1",
            DATABASE_URL=url,
            REDIS_URL=args.redis_url,
            CELERY_ALWAYS_EAGER="1",
            SECRET_KEY=secret,
            LINLI_INSTANCE_PATH=str(tmp / "instance"),
            WEB_CONCURRENCY=str(args.workers),
        )
        # gunicorn.conf.py's own knobs (worker class, threads) pass through, to compare them in one command.
        env.update({k: v for k, v in os.environ.items() if k.startswith("GUNICORN_")})
        port = free_port()
        log = tmp / "gunicorn.log"
        server = start_gunicorn(env, port, log)
        print(
            f"gunicorn -w {args.workers} on {HOST}:{port}; {args.rounds} round(s) of {args.residents} residents on "
            f"{args.capacity} seats + {args.waitlist_limit} waiting, {args.concurrency} client threads\n",
            flush=True,
        )
        rng = random.Random(args.seed)
        rows: list[dict[str, Any]] = []
        all_checks: list[dict[str, Any]] = []
        for round_no in range(1, args.rounds + 1):
            # Rush ------------------------------------------------------------------------------
            event_id, units = rush_units(args, world, round_no, rng)
            check = Checks()
            before, loadavg = cpu_snapshot(server.pid, dbname), os.getloadavg()[0]
            load = run_load(port, world["tokens"], units, args.concurrency, args.timeout)
            cpu = cpu_used(before, cpu_snapshot(server.pid, dbname))
            row = {"round": round_no, **summarise(f"rush #{round_no}", load, cpu), "loadavg_1min_before": loadavg}
            booked = check_rush(check, args, event_id, load["records"])
            row["checks_ok"] = check.ok
            rows.append(row)
            all_checks += [{"round": round_no, "phase": "rush", **c} for c in check.items]
            # Cancel race -----------------------------------------------------------------------
            race_check = Checks()
            race, cancelling = race_units(args, event_id, booked, rng)
            before, loadavg = cpu_snapshot(server.pid, dbname), os.getloadavg()[0]
            load = run_load(port, world["tokens"], race, args.concurrency, args.timeout)
            cpu = cpu_used(before, cpu_snapshot(server.pid, dbname))
            row = {"round": round_no, **summarise(f"race #{round_no}", load, cpu), "loadavg_1min_before": loadavg}
            check_race(race_check, event_id, load["records"], {booked[w]["id"] for w in cancelling})
            row["checks_ok"] = race_check.ok
            rows.append(row)
            all_checks += [{"round": round_no, "phase": "race", **c} for c in race_check.items]

        print_table(rows)
        print(
            "(answers counted per request: a double tap counts twice; req/s = requests / time from the gate to the "
            "last answer; CPU per request from /proc; load = 1-min load average before the phase)"
        )
        rush_rows = sorted((r for r in rows if r["phase"].startswith("rush")), key=lambda r: r["rps"] or 0)
        if len(rush_rows) > 1:
            median = rush_rows[len(rush_rows) // 2]
            p50, p99 = _fmt(median["p50_ms"]), _fmt(median["p99_ms"])
            print(f"\nmedian rush round: {median['rps']} req/s, p50 {p50} ms, p99 {p99} ms")
        cpu_ms = [
            (r["gunicorn_cpu_ms_per_request"] or 0) + (r["postgres_cpu_ms_per_request"] or 0)
            for r in rush_rows
            if r.get("gunicorn_cpu_ms_per_request")
        ]
        if cpu_ms:
            cpu_bound = (os.cpu_count() or 1) * 1000 / statistics.median(cpu_ms)
            print(
                f"ceilings of a rush on one event here: the disk, one COMMIT per booking, {1000 / commit_ms:,.0f}/s; "
                f"the CPU, {os.cpu_count()} cores over {statistics.median(cpu_ms):.1f} ms of app and PostgreSQL CPU "
                f"per request, {cpu_bound:,.0f}/s (the load generator's share not counted)"
            )
        print("\ninvariants:")
        names: dict[str, list[bool]] = defaultdict(list)
        for c in all_checks:
            names[c["check"]].append(c["ok"])
        for name, oks in names.items():
            print(
                f"  {'OK    ' if all(oks) else 'FAILED'}  {name}"
                + ("" if all(oks) else f"  ({oks.count(False)} rounds)")
            )
        for c in all_checks:
            if not c["ok"]:
                print(f"    round {c['round']} {c['phase']}: {c['check']}: {c['detail']}")
        ok = all(c["ok"] for c in all_checks)
        print(f"\n{'OK' if ok else 'FAILED'}: {sum(c['ok'] for c in all_checks)}/{len(all_checks)} checks held")

        RESULTS_DIR.mkdir(parents=True, exist_ok=True)
        stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
        out = RESULTS_DIR / f"booking-rush-{stamp}.json"
        out.write_text(
            json.dumps(
                {
                    "benchmark": "booking_rush",
                    "started_at": stamp,
                    "command": " ".join(["python", "bench/booking_rush.py", *(argv or sys.argv[1:])]),
                    "config": {k: v for k, v in vars(args).items() if k != "database_url"}
                    | {"database": dbname, "gunicorn": f"sync, {args.workers} workers, gunicorn.conf.py"},
                    "machine": {
                        "cpus": os.cpu_count(),
                        "platform": platform.platform(),
                        "python": platform.python_version(),
                    },
                    "commit_ms": round(commit_ms, 3),
                    "results": rows,
                    "checks": all_checks,
                    "ok": ok,
                },
                indent=2,
                ensure_ascii=False,
                default=str,
            )
        )
        print(f"results: {out.relative_to(PROJECT_ROOT)}")
        return 0 if ok else 1
    except BenchError as exc:
        print(f"booking_rush: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("interrupted; cleaning up", file=sys.stderr)
        return 130
    finally:
        stop(server)
        with contextlib.suppress(Exception):
            from api.db import db

            db.session.remove()
            if db.engine is not None:
                db.engine.dispose()
        if created and not args.keep:
            with contextlib.suppress(Exception):
                drop_database(url)
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
