"""Every scenario of the performance brief (issue 19) side by side, in one run, as shares of a bare Flask app.

    .venv/bin/python bench/all.py                       # the full table (about 10 minutes on 2 cores)
    .venv/bin/python bench/all.py --quick               # a smoke run of the harness (about 2 minutes)
    .venv/bin/python bench/all.py --only bare reads lists --duration 5
    .venv/bin/python bench/all.py --data district       # lists and statistics over 1,000,000 incidents
    make bench-all                                      # the first line

What it does, in order:

1. drops and recreates `linli_bench_all` (the name must contain "bench"), migrates it, loads the demo seed and
   the bench data of `--data` (bench/generate.py: `standard` = a year of 200,000 incidents, 20,000 alerts,
   20,000 bookings; `district` = five years of 1,000,000 incidents, 200,000 alerts and bookings, 20,000 devices);
2. starts the bare hello-world app (bench/bare.py) under `gunicorn -c gunicorn.conf.py -w 2` — the project's
   own settings and venv — and measures it with wrk (2 threads, 16 connections): the baseline;
3. starts the app the same way (DATABASE_URL, REDIS_URL, CELERY_ALWAYS_EAGER=1, WeChat sandbox) and measures
   `/healthz`, the authenticated single-object reads, the 20-item lists, then the incident and alert
   statistics over the year (serial requests, milliseconds) as the subdistrict admin;
4. runs bench/booking_rush.py (300 residents, 200 seats, 64 at once, 2 workers; bookings/s, p99 and every
   invariant it checks) and bench/alert_ingestion.py (alarm storm: batches of 1,000 new alarms from 1,000
   different detectors; events/s), each on its own database;
5. prints the table with each figure's share of the bare route and the brief's target, writes
   `bench/results/all-<timestamp>.json` and `.md`, and copies the Markdown to `bench/results/latest.md`.

The load generator is wrk (`scripts/bench-setup` installs it). Without wrk it falls back to bench/run.py's
Python generator and says so; its figure for the bare route shows whether it kept up. The token goes to wrk
through the environment (bench/wrk_report.lua sets the header), never on a command line.

It measures; it never asserts a timing. Exit status 0 when every run completed and every invariant held,
1 when an invariant failed or a route answered errors, 2 when something it needs is missing.
"""

from __future__ import annotations

import argparse
import contextlib
import glob
import http.client
import json
import os
import platform
import re
import resource
import secrets
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import quote

PROJECT_ROOT = Path(__file__).resolve().parent.parent
BENCH = Path(__file__).resolve().parent
RESULTS_DIR = BENCH / "results"
for _path in (PROJECT_ROOT, BENCH):
    if str(_path) not in sys.path:
        sys.path.insert(0, str(_path))

import run as http_bench  # noqa: E402  (bench/run.py: CPU accounting, the Python load generator)
from booking_rush import BenchError, check_redis, drop_database, free_port, recreate_database  # noqa: E402

DEFAULT_DATABASE_URL = "postgresql+psycopg://postgres@127.0.0.1:5432/linli_bench_all"
DEFAULT_REDIS_URL = "redis://127.0.0.1:6379/14"
HOST = "127.0.0.1"
WORKERS = 2  # the brief's reference: 2 gunicorn workers on 2 cores
WRK_THREADS, WRK_CONNECTIONS = 2, 16
GROUPS = ("bare", "healthz", "reads", "lists", "stats", "rush", "storm")


@dataclass(frozen=True)
class Route:
    """One route under wrk: `who` is whose token it carries (None: anonymous)."""

    group: str
    name: str
    path: str
    who: str | None
    target: float | None  # share of the bare route the brief asks for


# ----------------------------------------------------------------------------------------------------
# Servers
# ----------------------------------------------------------------------------------------------------


class Gunicorn:
    """`gunicorn -c gunicorn.conf.py -w 2` on a free loopback port: the project's settings, as deployed."""

    def __init__(self, app: str, env: dict[str, str], log: Path, extra: list[str] | None = None) -> None:
        self.port = free_port()
        self.log = log
        self.cmd = [sys.executable, "-m", "gunicorn", "-c", str(PROJECT_ROOT / "gunicorn.conf.py")]
        self.cmd += [*(extra or []), "-w", str(WORKERS), "-b", f"{HOST}:{self.port}", "--error-logfile", str(log)]
        self.cmd += ["--log-level", "warning", app]
        env = env | {"WEB_CONCURRENCY": str(WORKERS)}
        # The access log goes to stdout (gunicorn.conf.py): discarded here, written in both servers alike.
        self.proc = subprocess.Popen(
            self.cmd, cwd=PROJECT_ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
        )
        deadline = time.monotonic() + 60
        while True:
            if self.proc.poll() is not None or time.monotonic() > deadline:
                self.stop()
                raise BenchError(f"{app} did not come up under gunicorn; its log ends:\n{self.tail()}")
            try:
                status, _ = get(self.port, "/healthz" if app == "wsgi:app" else "/", timeout=2)
                if status == 200:
                    return
            except OSError:
                pass
            time.sleep(0.2)

    def tail(self) -> str:
        try:
            return "\n".join(self.log.read_text(errors="replace").splitlines()[-20:])
        except OSError:
            return "(no log)"

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(timeout=10)


def get(port: int, path: str, token: str | None = None, timeout: float = 30) -> tuple[int, Any]:
    conn = http.client.HTTPConnection(HOST, port, timeout=timeout)
    try:
        headers = {"Accept": "application/json"}
        if token:
            headers["Authorization"] = f"Bearer {token}"
        conn.request("GET", path, headers=headers)
        response = conn.getresponse()
        raw = response.read()
        try:
            return response.status, json.loads(raw)
        except ValueError:
            return response.status, raw[:200]
    finally:
        conn.close()


# ----------------------------------------------------------------------------------------------------
# Load: wrk, or the Python generator of bench/run.py
# ----------------------------------------------------------------------------------------------------


# `--generator python` forces bench/run.py's generator even where wrk is installed: run `--only bare` both ways
# to see whether the Python generator keeps up with the bare route on this machine.
FORCE_PYTHON = False


def wrk_path() -> str | None:
    return None if FORCE_PYTHON else shutil.which("wrk")


def load(
    port: int, path: str, token: str | None, duration: float, warmup: float, server_pid: int, dbname: str
) -> dict[str, Any]:
    """Requests per second, latency and errors of one route, plus the CPU each party used meanwhile."""
    wrk = wrk_path()
    if wrk is None:
        return python_load(port, path, token, duration, warmup, server_pid, dbname)
    env = os.environ | {"BENCH_TOKEN": token or ""}
    url = f"http://{HOST}:{port}{path}"
    script = str(BENCH / "wrk_report.lua")
    base = [wrk, "-t", str(WRK_THREADS), "-c", str(WRK_CONNECTIONS), "-s", script, "--timeout", "10s"]
    if warmup > 0:
        subprocess.run([*base, "-d", f"{warmup:g}s", url], env=env, capture_output=True, check=False)
    children_before = resource.getrusage(resource.RUSAGE_CHILDREN)
    before = http_bench.cpu_snapshot(server_pid, dbname, [])
    started = time.monotonic()
    done = subprocess.run([*base, "-d", f"{duration:g}s", url], env=env, capture_output=True, text=True, check=False)
    wall = time.monotonic() - started
    after = http_bench.cpu_snapshot(server_pid, dbname, [])
    children_after = resource.getrusage(resource.RUSAGE_CHILDREN)
    match = re.search(r"^WRK_JSON (.*)$", done.stdout, re.MULTILINE)
    if done.returncode != 0 or match is None:
        raise BenchError(f"wrk failed on {path} (exit {done.returncode}): {done.stderr.strip() or done.stdout[-500:]}")
    figures = json.loads(match.group(1))
    seconds = figures["duration_us"] / 1e6
    errors = sum(figures[k] for k in ("connect", "read", "write", "status", "timeout"))
    cpu = http_bench.cpu_delta(before, after)
    client = (children_after.ru_utime + children_after.ru_stime) - (children_before.ru_utime + children_before.ru_stime)
    other = max(0.0, cpu["machine"] - cpu["gunicorn"] - cpu["postgres"] - client)
    return {
        "generator": "wrk",
        "requests": figures["requests"],
        "rps": figures["requests"] / seconds,
        "p50_ms": figures["p50_us"] / 1000,
        "p90_ms": figures["p90_us"] / 1000,
        "p99_ms": figures["p99_us"] / 1000,
        "errors": errors,
        "error_kinds": {k: figures[k] for k in ("connect", "read", "write", "status", "timeout") if figures[k]},
        "cpu_pct": {
            "gunicorn": 100 * cpu["gunicorn"] / wall,
            "postgres": 100 * cpu["postgres"] / wall,
            "load_generator": 100 * client / wall,
            "other": 100 * other / wall,
        },
    }


def python_load(
    port: int, path: str, token: str | None, duration: float, warmup: float, server_pid: int, dbname: str
) -> dict[str, Any]:
    scenario = http_bench.Scenario(path, "GET", path, token)
    result = http_bench.run_scenario(
        scenario,
        port=port,
        concurrency=WRK_CONNECTIONS,
        client_processes=2,
        duration=duration,
        warmup=warmup,
        timeout=10.0,
        run_id=secrets.token_hex(3),
        gunicorn_pid=server_pid,
        dbname=dbname,
    )
    cpu = result["cpu"]
    return {
        "generator": "python (bench/run.py)",
        "requests": result["requests"],
        "rps": result["rps"],
        "p50_ms": result["p50_ms"],
        "p90_ms": result["p90_ms"],
        "p99_ms": result["p99_ms"],
        "errors": result["errors"],
        "error_kinds": result["error_kinds"],
        "cpu_pct": {
            "gunicorn": cpu["gunicorn_pct"],
            "postgres": cpu["postgres_pct"],
            "load_generator": cpu["client_pct"],
            "other": cpu["other_pct"],
        },
    }


# ----------------------------------------------------------------------------------------------------
# The data and who reads it
# ----------------------------------------------------------------------------------------------------


def prepare(url: str, redis_url: str, data: str, secret: str, instance: Path) -> dict[str, Any]:
    """Migrated, demo-seeded, bench data loaded; tokens for 张三, kj01-staff and admin; ids to read."""
    from alembic import command
    from booking_rush import build_app
    from generate import generate
    from sqlalchemy import select

    from api import platform as domains
    from api.accounts.models import User
    from api.accounts.services import issue_tokens
    from api.cli import alembic_config
    from api.db import db

    recreate_database(url)
    command.upgrade(alembic_config(url), "head")
    app = build_app(url, redis_url, secret, instance)
    with app.app_context():
        for _domain, seed_part in domains.seeds(app.extensions["linli.domains"]):
            seed_part()
        db.session.commit()
    try:
        generated = generate(url, data)
    except Exception as exc:  # GenerateError, or psycopg's: the schema moved under the generator
        raise BenchError(f"bench/generate.py could not load '{data}': {exc}") from exc
    settings = app.extensions["linli.settings"]
    with app.app_context():
        resident = db.session.scalar(select(User).where(User.nickname == "张三", User.wechat_openid.is_not(None)))
        staff = db.session.scalar(select(User).where(User.username == "kj01-staff"))
        admin = db.session.scalar(select(User).where(User.username == "admin"))
        if resident is None or staff is None or admin is None:
            raise BenchError("the demo seed has no 张三 / kj01-staff / admin")
        tokens = {
            "resident": issue_tokens(resident, settings).access_token,
            "staff": issue_tokens(staff, settings).access_token,
            "admin": issue_tokens(admin, settings).access_token,
        }
        db.session.commit()
        db.session.remove()
        db.engine.dispose()
    return {"tokens": tokens, "generated": generated}


def routes(port: int, tokens: dict[str, str]) -> list[Route]:
    """The brief's routes, with real ids taken from the API itself (so each is checked to answer 2xx)."""

    def first(path: str, who: str) -> dict[str, Any]:
        status, body = get(port, path, tokens[who])
        if status != 200 or not isinstance(body, dict) or not body.get("items"):
            raise BenchError(f"GET {path} as {who} answers HTTP {status}: {str(body)[:300]}")
        return body["items"][0]

    booking = first("/api/v1/me/bookings?limit=20", "resident")
    incident = first("/api/v1/me/incidents?limit=20", "resident")
    root = first("/api/v1/areas?limit=20", "resident")
    event_id = booking.get("event_id") or (booking.get("event") or {}).get("id")
    if not event_id:
        event_id = first("/api/v1/events?limit=20", "resident")["id"]
    out = [
        Route("healthz", "/healthz", "/healthz", None, 0.85),
        Route("reads", "/me", "/api/v1/me", "resident", 0.25),
        Route("reads", "/events/{id}", f"/api/v1/events/{event_id}", "resident", 0.25),
        Route("reads", "/bookings/{id}", f"/api/v1/bookings/{booking['id']}", "resident", 0.25),
        Route("reads", "/incidents/{id}", f"/api/v1/incidents/{incident['id']}", "resident", 0.25),
        Route("lists", "/events", "/api/v1/events?limit=20", "resident", 0.15),
        Route("lists", "/areas", f"/api/v1/areas?parent_id={root['id']}&limit=20", "resident", 0.15),
        Route("lists", "/me/bookings", "/api/v1/me/bookings?limit=20", "resident", 0.15),
        Route("lists", "/admin/incidents", "/api/v1/admin/incidents?limit=20", "staff", 0.15),
        Route("lists", "/admin/alerts", "/api/v1/admin/alerts?limit=20", "staff", 0.15),
    ]
    for route in out:
        status, body = get(port, route.path, tokens.get(route.who or ""))
        if status != 200:
            raise BenchError(f"GET {route.path} answers HTTP {status} before any load: {str(body)[:300]}")
        if route.group == "lists" and len(body.get("items", [])) < 20 and route.name != "/areas":
            print(f"  note: {route.name} returns {len(body.get('items', []))} items, not a full page", flush=True)
    return out


def stats_figures(port: int, admin_token: str, samples: int) -> list[dict[str, Any]]:
    """Incident and alert statistics over the past year as the subdistrict admin: serial requests, ms."""
    until = datetime.now(UTC).replace(microsecond=0)
    since = until - timedelta(days=365)
    span = f"from={quote(since.isoformat())}&to={quote(until.isoformat())}"
    out = []
    for name, path in (
        ("incident stats (year, by committee)", f"/api/v1/admin/incidents/stats?{span}"),
        ("incident stats (year, by category)", f"/api/v1/admin/incidents/stats?{span}&group_by=category"),
        ("alert stats (year)", f"/api/v1/admin/alerts/stats?{span}"),
    ):
        t = time.perf_counter()
        status, body = get(port, path, admin_token, timeout=120)  # warm-up, and the check that it answers
        first_ms = (time.perf_counter() - t) * 1000
        if status != 200:
            # A figure too: past gunicorn's worker timeout (30 s) the worker is killed and the answer is a 500.
            print(f"  {name}: HTTP {status} after {first_ms:,.0f} ms", flush=True)
            out.append(
                {"name": name, "path": path.split("?")[0], "samples": 1, "median_ms": first_ms, "max_ms": first_ms}
                | {"counted": None, "error": f"HTTP {status} after {first_ms:,.0f} ms"}
            )
            continue
        times = []
        for _ in range(samples):
            t = time.perf_counter()
            status, _ = get(port, path, admin_token, timeout=120)
            times.append((time.perf_counter() - t) * 1000)
            if status != 200:
                raise BenchError(f"GET {path} answered HTTP {status} under measurement")
        received = body.get("total", {}).get("received") if isinstance(body.get("total"), dict) else body.get("total")
        out.append(
            {
                "name": name,
                "path": path.split("?")[0],
                "samples": samples,
                "median_ms": statistics.median(times),
                "max_ms": max(times),
                "counted": received,
            }
        )
    return out


# ----------------------------------------------------------------------------------------------------
# The two write benchmarks, each its own script and database
# ----------------------------------------------------------------------------------------------------


def run_script(script: str, args: list[str], prefix: str, log: Path, timeout: float) -> tuple[int, dict[str, Any]]:
    """Run bench/<script>, return its exit status and the results JSON it wrote (the newest `prefix`-*.json)."""
    before = set(glob.glob(str(RESULTS_DIR / f"{prefix}-*.json")))
    cmd = [sys.executable, str(BENCH / script), *args]
    with log.open("w") as out:
        try:
            proc = subprocess.run(cmd, cwd=PROJECT_ROOT, stdout=out, stderr=subprocess.STDOUT, timeout=timeout)
        except subprocess.TimeoutExpired as exc:
            raise BenchError(f"{script} took longer than {timeout:.0f} s; its log: {log}") from exc
    new = sorted(set(glob.glob(str(RESULTS_DIR / f"{prefix}-*.json"))) - before)
    if not new:
        tail = "\n".join(log.read_text(errors="replace").splitlines()[-15:])
        raise BenchError(f"{script} wrote no results (exit {proc.returncode}); its log ends:\n{tail}")
    return proc.returncode, json.loads(Path(new[-1]).read_text())


def booking_rush(quick: bool, log: Path) -> dict[str, Any]:
    rounds = 1 if quick else 3
    args = ["--residents", "300", "--capacity", "200", "--concurrency", "64", "--workers", str(WORKERS)]
    args += ["--rounds", str(rounds)]
    code, record = run_script("booking_rush.py", args, "booking-rush", log, timeout=900)
    rush = sorted((r for r in record["results"] if str(r["phase"]).startswith("rush")), key=lambda r: r["rps"] or 0)
    median = rush[len(rush) // 2]
    checks = record.get("checks", [])
    return {
        "exit": code,
        "rounds": rounds,
        "bookings_per_s": median["rps"],
        "p50_ms": median["p50_ms"],
        "p99_ms": median["p99_ms"],
        "errors": median.get("errors"),
        "commit_ms": record.get("commit_ms"),
        "invariants_held": sum(c["ok"] for c in checks),
        "invariants": len(checks),
        "failed": sorted({c["check"] for c in checks if not c["ok"]}),
        "all_rounds": [{k: r.get(k) for k in ("phase", "rps", "p50_ms", "p99_ms")} for r in rush],
    }


def alarm_storm(quick: bool, log: Path) -> dict[str, Any]:
    batches = 1 if quick else 3
    # Smoke detectors are about 35 % of the device mix: enough of them for `batches` x 1,000 distinct ones.
    devices = 3_500 * batches
    args = ["--workers", str(WORKERS), "--devices", str(devices), "--batches", "1", "--storm-batches", str(batches)]
    args += ["--latency-samples", "3"]
    code, record = run_script("alert_ingestion.py", args, "alert-ingestion", log, timeout=900)
    storm = next((r for r in record["throughput"] if r["scenario"] == "alarm storm"), None)
    if storm is None:
        raise BenchError("alert_ingestion.py ran no alarm storm (too few smoke detectors?)")
    return {
        "exit": code,
        "batches": storm["batches"],
        "events": storm["events"],
        "events_per_s": storm["events_per_s"],
        "batch_ms_p50": storm["batch_ms_p50"],
        "batch_ms_max": storm["batch_ms_max"],
        "alerts_opened": storm["alerts_opened"],
        "ok": storm["ok"],
        "alarm_to_wechat_ms_p50": record.get("latency", {}).get("ms_p50"),
    }


# ----------------------------------------------------------------------------------------------------
# The table
# ----------------------------------------------------------------------------------------------------


def _n(value: float | None, digits: int = 0) -> str:
    return "–" if value is None else f"{value:,.{digits}f}"


def table(record: dict[str, Any]) -> str:
    """The Markdown table: one line per scenario, its figure, its share of the bare route, the brief's target."""
    rows: list[list[str]] = []
    http = record["http"]
    bare = next((r["rps"] for r in http if r["name"] == "bare Flask hello"), None)
    for r in http:
        share = r["rps"] / bare if bare else None
        target = r["target"]
        met = "–" if target is None or share is None else ("yes" if share >= target else "no")
        rows.append(
            [
                r["name"],
                f"{_n(r['rps'])} req/s",
                _n(r["p99_ms"], 1),
                f"{r['errors']:,}",
                _n(share, 3) if share is not None else "–",
                f"≥ {target:.2f}" if target is not None else "",
                met,
            ]
        )
    rush = record.get("rush")
    if rush:
        good = (rush["bookings_per_s"] or 0) >= 600 and (rush["p99_ms"] or 1e9) <= 150
        invariants = f"{rush['invariants_held']}/{rush['invariants']} invariants"
        if rush.get("commit_ms"):
            # A rush on one event cannot beat one booking per COMMIT: the disk's ceiling, beside the figure.
            invariants += f"; a COMMIT takes {rush['commit_ms']:.1f} ms (≤ {1000 / rush['commit_ms']:,.0f}/s)"
        rows.append(
            [
                "booking rush: 300 residents → 200 seats, 64 at once",
                f"{_n(rush['bookings_per_s'])} bookings/s",
                _n(rush["p99_ms"], 1),
                invariants,
                "",
                "≥ 600/s, p99 ≤ 150 ms",
                "yes" if good and not rush["failed"] else "no",
            ]
        )
    storm = record.get("storm")
    if storm:
        rows.append(
            [
                f"alarm storm: {storm['batches']} × 1,000 new alarms",
                f"{_n(storm['events_per_s'])} events/s",
                _n(storm["batch_ms_max"], 0),
                f"{storm['alerts_opened']:,} opened",
                "",
                "≥ 2,000/s",
                "yes" if (storm["events_per_s"] or 0) >= 2000 and storm["ok"] else "no",
            ]
        )
    for s in record.get("stats", []):
        rows.append(
            [
                s["name"],
                f"{_n(s['median_ms'], 0)} ms",
                _n(s["max_ms"], 0),
                s.get("error") or (f"{s['counted']:,} counted" if isinstance(s["counted"], int) else ""),
                "",
                "< 500 ms",
                "yes" if s["median_ms"] < 500 and not s.get("error") else "no",
            ]
        )
    headers = ["scenario", "figure", "p99 / max ms", "errors / notes", "share of bare", "target", "met"]
    return http_bench.format_table(headers, rows)


def cpu_table(record: dict[str, Any]) -> str:
    rows = []
    for r in record["http"]:
        c = r["cpu_pct"]
        rows.append(
            [r["name"], *(_n(c[k]) for k in ("gunicorn", "postgres", "load_generator", "other")), r["generator"]]
        )
    headers = ["scenario", "gunicorn CPU %", "postgres CPU %", "load generator CPU %", "other CPU %", "generator"]
    return http_bench.format_table(headers, rows)


def busy_note(record: dict[str, Any]) -> list[str]:
    """A warning under the table when the rest of the machine took a noticeable share of it during the run."""
    others = [r["cpu_pct"]["other"] for r in record["http"] if r["cpu_pct"].get("other") is not None]
    if not others or max(others) < 25:
        return []
    cores = record["machine"].get("cores") or 1
    return [
        "",
        f"**Not a quiet machine**: other processes used {min(others):.0f}–{max(others):.0f} % of one core "
        f"(of {cores * 100} %) while routes were measured; the figures are lower than this machine alone would give, "
        "and the shares of bare are only as steady as that load.",
    ]


def markdown(record: dict[str, Any]) -> str:
    m = record["machine"]
    data = record["data"]
    counts = data.get("counts", {})
    lines = [
        f"# Linli benchmark — {record['started_at']}",
        "",
        f"`{record['command']}` · {m['cores']} cores ({m['cpu_model']}), Python {m['python']}, PostgreSQL "
        f"{m['postgresql']} · gunicorn `-c gunicorn.conf.py -w {WORKERS}` for the bare app and the app alike · "
        + (
            f"wrk ({WRK_THREADS} threads, {WRK_CONNECTIONS} connections), "
            if record["load_generator"] == "wrk"
            else f"bench/run.py's Python generator (2 processes, {WRK_CONNECTIONS} connections), "
        )
        + f"{record['config']['duration']:g} s per route after {record['config']['warmup']:g} s warm-up · "
        + f"data `{record['config']['data']}`: "
        + ", ".join(f"{k} {v:,}" for k, v in counts.items())
        + f" · load average before the run {record['loadavg_before']}",
        "",
        table(record),
        *busy_note(record),
        "",
        "CPU during each measured window (% of one core; **other** = the rest of the machine: what else was running):",
        "",
        cpu_table(record),
        "",
    ]
    return "\n".join(lines)


# ----------------------------------------------------------------------------------------------------
# Main
# ----------------------------------------------------------------------------------------------------


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--only", nargs="+", choices=GROUPS, help="run only these groups (bare always runs)")
    parser.add_argument("--duration", type=float, default=None, help="measured seconds per route (default 10)")
    parser.add_argument("--warmup", type=float, default=None, help="unmeasured seconds before each (default 2)")
    parser.add_argument("--quick", action="store_true", help="3 s per route, tiny data, one rush round, one storm")
    parser.add_argument(
        "--data", choices=("standard", "district"), default=None, help="bench data for lists and statistics"
    )
    parser.add_argument("--database-url", default=DEFAULT_DATABASE_URL, help="dropped and recreated ('bench' in it)")
    parser.add_argument("--redis-url", default=DEFAULT_REDIS_URL)
    parser.add_argument("--stats-samples", type=int, default=5)
    parser.add_argument(
        "--generator", choices=("wrk", "python"), default="wrk", help="python: bench/run.py's, even with wrk"
    )
    parser.add_argument("--keep", action="store_true", help="keep the database afterwards")
    args = parser.parse_args(argv)
    args.duration = args.duration or (3.0 if args.quick else 10.0)
    args.warmup = args.warmup if args.warmup is not None else (1.0 if args.quick else 2.0)
    args.data = args.data or ("tiny" if args.quick else "standard")
    return args


def main(argv: list[str] | None = None) -> int:
    global FORCE_PYTHON
    args = parse_args(argv)
    FORCE_PYTHON = args.generator == "python"
    groups = set(args.only or GROUPS) | {"bare"}
    started = datetime.now(UTC)
    tmp = Path(tempfile.mkdtemp(prefix="linli-bench-all-"))
    secret = secrets.token_urlsafe(48)
    server: Gunicorn | None = None
    created = False
    generator = (
        "wrk"
        if wrk_path()
        else "python load generator (bench/run.py)"
        + ("" if FORCE_PYTHON else ": wrk is not installed (scripts/bench-setup)")
    )
    print(f"load generator: {generator}", flush=True)
    record: dict[str, Any] = {
        "started_at": started.strftime("%Y-%m-%d %H:%M UTC"),
        "command": " ".join(["python bench/all.py", *(argv if argv is not None else sys.argv[1:])]),
        "config": {k: v for k, v in vars(args).items() if k not in ("database_url", "redis_url")},
        "load_generator": "wrk" if wrk_path() else "python",
        "machine": http_bench.machine_info(args.database_url),
        "loadavg_before": " ".join(f"{x:.2f}" for x in os.getloadavg()),
        "http": [],
        "data": {},
    }
    record["machine"]["platform"] = platform.platform()
    env = {k: v for k, v in os.environ.items() if not k.startswith(("WECHAT_", "S3_", "LINLI_", "DATABASE_"))}
    from sqlalchemy.engine import make_url

    url = make_url(args.database_url).set(drivername="postgresql+psycopg").render_as_string(hide_password=False)
    dbname = make_url(url).database or ""
    ok = True
    try:
        check_redis(args.redis_url)
        # 1. The bare route.
        bare = Gunicorn("bare:app", env, tmp / "bare.log", extra=["--pythonpath", str(BENCH)])
        try:
            print(f"bare Flask hello under gunicorn -w {WORKERS} …", end="", flush=True)
            result = load(bare.port, "/", None, args.duration, args.warmup, bare.proc.pid, dbname)
        finally:
            bare.stop()
        print(f" {result['rps']:,.0f} req/s", flush=True)
        record["http"].append({"group": "bare", "name": "bare Flask hello", "path": "/", "target": None, **result})

        if groups & {"healthz", "reads", "lists", "stats"}:
            print(f"preparing {dbname} with bench data '{args.data}' …", flush=True)
            t = time.monotonic()
            created = True  # from here on the database is ours to drop
            prepared = prepare(url, args.redis_url, args.data, secret, tmp / "prep-instance")
            record["data"] = prepared["generated"]
            print(f"  ready in {time.monotonic() - t:.0f} s", flush=True)
            env_app = env | {
                "DATABASE_URL": url,
                "REDIS_URL": args.redis_url,
                "CELERY_ALWAYS_EAGER": "1",
                "SECRET_KEY": secret,
                "LINLI_ENV": "development",
                "LINLI_INSTANCE_PATH": str(tmp / "instance"),
                "PYTHONUNBUFFERED": "1",
            }
            server = Gunicorn("wsgi:app", env_app, tmp / "app.log")
            tokens = prepared["tokens"]
            for route in routes(server.port, tokens):
                if route.group not in groups:
                    continue
                print(f"{route.name:<18} …", end="", flush=True)
                token = tokens[route.who] if route.who else None
                result = load(server.port, route.path, token, args.duration, args.warmup, server.proc.pid, dbname)
                print(f" {result['rps']:,.0f} req/s, {result['errors']} errors", flush=True)
                ok = ok and result["errors"] == 0
                record["http"].append(
                    {"group": route.group, "name": route.name, "path": route.path, "target": route.target, **result}
                )
            if "stats" in groups:
                print("statistics over the year …", flush=True)
                record["stats"] = stats_figures(server.port, tokens["admin"], args.stats_samples)
                ok = ok and not any(s.get("error") for s in record["stats"])
            server.stop()
            server = None
        if "rush" in groups:
            print("booking rush (bench/booking_rush.py) …", flush=True)
            record["rush"] = booking_rush(args.quick, tmp / "booking-rush.log")
            ok = ok and not record["rush"]["failed"] and record["rush"]["exit"] == 0
        if "storm" in groups:
            print("alarm storm (bench/alert_ingestion.py) …", flush=True)
            record["storm"] = alarm_storm(args.quick, tmp / "alert-ingestion.log")
            ok = ok and record["storm"]["ok"]
            if record["storm"]["exit"] != 0:
                print(f"  note: alert_ingestion.py exited {record['storm']['exit']}; see its results JSON")

        text = markdown(record)
        print()
        print(text)
        RESULTS_DIR.mkdir(parents=True, exist_ok=True)
        stamp = started.strftime("%Y%m%dT%H%M%SZ")
        (RESULTS_DIR / f"all-{stamp}.json").write_text(json.dumps(record, indent=2, ensure_ascii=False, default=str))
        (RESULTS_DIR / f"all-{stamp}.md").write_text(text)
        (RESULTS_DIR / "latest.md").write_text(text)
        print(f"written bench/results/all-{stamp}.json, .md and bench/results/latest.md")
        return 0 if ok else 1
    except BenchError as exc:
        print(f"\nbench/all.py: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("\nbench/all.py: interrupted", file=sys.stderr)
        return 130
    finally:
        if server is not None:
            server.stop()
        if created and not args.keep:
            with contextlib.suppress(Exception):
                drop_database(url)
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
