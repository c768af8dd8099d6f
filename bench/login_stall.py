"""Login stall benchmark: what slow WeChat logins do to everything else a web worker serves.

    .venv/bin/python bench/login_stall.py [--delay 3] [--slow-logins 4] [--healthz-clients 8] [--duration 15]
                                          [--configs sync:2:1 gthread:2:8]

A login calls WeChat's `code2session` inside the request (up to WECHAT_TIMEOUT_SECONDS). With sync workers each
slow login holds a whole worker; two of them and the site stops answering. For each gunicorn configuration
(`class:workers:threads`; gevent only if it is installed) it:

1. starts a fake WeChat (tests/fake_wechat.py) whose `jscode2session` answers after `--delay` seconds (any code
   is a new resident), and `gunicorn -c gunicorn.conf.py` with GUNICORN_WORKER_CLASS / WEB_CONCURRENCY /
   GUNICORN_THREADS from the configuration, on PostgreSQL (the database is dropped and recreated, its name must
   contain "bench") with WeChat pointed at the fake;
2. for `--duration` seconds runs `--slow-logins` client threads logging in again and again (each login waits
   `--delay` s at the fake) and, beside them, `--healthz-clients` threads calling `GET /healthz` closed-loop
   (a new connection each time);
3. prints per configuration: /healthz req/s, p50/p99/max ms and errors during the stall, the same without the
   slow logins (baseline), and the logins completed. Results go to `bench/results/login-stall-<ts>.json`.

It measures; it never asserts a timing. Exit 2 when PostgreSQL, Redis or gunicorn is missing.
"""

from __future__ import annotations

import argparse
import contextlib
import http.client
import itertools
import json
import os
import secrets
import sys
import tempfile
import threading
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

PROJECT_ROOT = Path(__file__).resolve().parent.parent
for path in (PROJECT_ROOT, PROJECT_ROOT / "bench"):
    if str(path) not in sys.path:
        sys.path.insert(0, str(path))

from booking_rush import (  # noqa: E402  (the sibling bench's plumbing)
    HOST,
    BenchError,
    check_redis,
    drop_database,
    free_port,
    percentile,
    recreate_database,
    start_gunicorn,
    stop,
)

DEFAULT_DATABASE_URL = "postgresql+psycopg://postgres@127.0.0.1:5432/linli_bench_login"
DEFAULT_REDIS_URL = "redis://127.0.0.1:6379/13"
MINIAPP = ("wx-bench-login", "bench-login-secret")


def slow_fake(delay: float) -> Any:
    import logging

    from tests.fake_wechat import FakeWechat, Received

    logging.getLogger("werkzeug").setLevel(logging.WARNING)  # the fake's access log

    fake = FakeWechat(dict([MINIAPP]))
    counter = itertools.count()

    def code2session(req: Received) -> dict[str, Any]:
        time.sleep(delay)  # WeChat taking its time
        return {"openid": f"o-bench-{next(counter)}-{secrets.token_hex(4)}", "session_key": secrets.token_hex(12)}

    fake.add_handler("GET", "/sns/jscode2session", code2session)
    return fake


def _get(port: int, method: str, path: str, body: bytes | None, timeout: float) -> tuple[int, float]:
    started = time.monotonic()
    conn = http.client.HTTPConnection(HOST, port, timeout=timeout)
    try:
        headers = {"Content-Type": "application/json"} if body is not None else {}
        conn.request(method, path, body=body, headers=headers)
        response = conn.getresponse()
        response.read()
        return response.status, time.monotonic() - started
    finally:
        conn.close()


def run_phase(port: int, duration: float, healthz_clients: int, slow_logins: int, timeout: float) -> dict[str, Any]:
    stop_at = time.monotonic() + duration
    latencies: list[float] = []
    errors = {"healthz": 0, "login": 0}
    logins: list[float] = []
    lock = threading.Lock()

    def healthz() -> None:
        while time.monotonic() < stop_at:
            try:
                status, seconds = _get(port, "GET", "/healthz", None, timeout)
            except OSError:
                with lock:
                    errors["healthz"] += 1
                continue
            with lock:
                if status == 200:
                    latencies.append(seconds)
                else:
                    errors["healthz"] += 1

    def login() -> None:
        while time.monotonic() < stop_at:
            body = json.dumps({"code": secrets.token_hex(8)}).encode()
            try:
                status, seconds = _get(port, "POST", "/api/v1/auth/wechat-login", body, timeout)
            except OSError:
                with lock:
                    errors["login"] += 1
                continue
            with lock:
                if status == 200:
                    logins.append(seconds)
                else:
                    errors["login"] += 1

    threads = [threading.Thread(target=healthz) for _ in range(healthz_clients)]
    threads += [threading.Thread(target=login) for _ in range(slow_logins)]
    started = time.monotonic()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    wall = time.monotonic() - started
    ordered = sorted(latencies)
    ms = lambda q: round(percentile(ordered, q * 100) * 1000, 1) if ordered else None  # noqa: E731
    return {
        "healthz_ok": len(ordered),
        "healthz_per_s": round(len(ordered) / wall, 1),
        "healthz_p50_ms": ms(0.50),
        "healthz_p99_ms": ms(0.99),
        "healthz_max_ms": round(ordered[-1] * 1000, 1) if ordered else None,
        "healthz_errors": errors["healthz"],
        "logins_ok": len(logins),
        "login_p50_ms": round(percentile(sorted(logins), 50) * 1000, 1) if logins else None,
        "login_errors": errors["login"],
        "wall_s": round(wall, 2),
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--database-url", default=DEFAULT_DATABASE_URL)
    parser.add_argument("--redis-url", default=DEFAULT_REDIS_URL)
    parser.add_argument("--delay", type=float, default=3.0, help="seconds WeChat takes to answer a login")
    parser.add_argument("--slow-logins", type=int, default=4, help="client threads logging in, one after another")
    parser.add_argument("--healthz-clients", type=int, default=8)
    parser.add_argument("--duration", type=float, default=15.0)
    parser.add_argument("--timeout", type=float, default=30.0, help="client socket timeout (s)")
    parser.add_argument("--configs", nargs="+", default=["sync:2:1", "gthread:2:8"], help="class:workers:threads")
    parser.add_argument("--keep", action="store_true")
    args = parser.parse_args(argv)

    from sqlalchemy.engine import make_url

    url = make_url(args.database_url).set(drivername="postgresql+psycopg").render_as_string(hide_password=False)
    configs = []
    for spec in args.configs:
        worker_class, workers, threads = spec.split(":")
        if worker_class == "gevent":
            try:
                import gevent  # noqa: F401
            except ImportError:
                print("gevent is not installed: skipped")
                continue
        configs.append((worker_class, int(workers), int(threads)))
    tmp = Path(tempfile.mkdtemp(prefix="linli-bench-login-"))
    rows: list[dict[str, Any]] = []
    try:
        check_redis(args.redis_url)
        recreate_database(url)
        from alembic import command

        from api.cli import alembic_config

        command.upgrade(alembic_config(url), "head")
        with slow_fake(args.delay) as fake:
            for worker_class, workers, threads in configs:
                env = {k: os.environ[k] for k in ("PATH", "HOME", "LANG", "LC_ALL", "TMPDIR") if k in os.environ}
                env.update(
                    PYTHONUNBUFFERED="1",
                    DATABASE_URL=url,
                    REDIS_URL=args.redis_url,
                    CELERY_ALWAYS_EAGER="1",
                    SECRET_KEY=secrets.token_urlsafe(48),
                    LINLI_INSTANCE_PATH=str(tmp / "instance"),
                    WEB_CONCURRENCY=str(workers),
                    GUNICORN_WORKER_CLASS=worker_class,
                    GUNICORN_THREADS=str(threads),
                    WECHAT_MINIAPP_ID=MINIAPP[0],
                    WECHAT_MINIAPP_SECRET=MINIAPP[1],
                    WECHAT_API_BASE_URL=fake.url,
                    WECHAT_TIMEOUT_SECONDS=str(int(args.delay) + 5),
                    LOGIN_RATE_LIMIT_PER_MINUTE="100000",
                )
                port = free_port()
                server = start_gunicorn(env, port, tmp / f"gunicorn-{worker_class}.log")
                try:
                    name = f"{worker_class} -w {workers} --threads {threads}"
                    quiet = run_phase(port, args.duration, args.healthz_clients, 0, args.timeout)
                    stalled = run_phase(port, args.duration, args.healthz_clients, args.slow_logins, args.timeout)
                    rows.append({"config": name, "quiet": quiet, "slow_logins": stalled})
                    print(f"{name}: quiet {quiet}\n{' ' * len(name)}  stall {stalled}", flush=True)
                finally:
                    stop(server)
    except BenchError as exc:
        print(f"login_stall: {exc}", file=sys.stderr)
        return 2
    finally:
        if not args.keep:
            with contextlib.suppress(BenchError):
                drop_database(url)

    print(f"\n{args.slow_logins} logins in flight, each {args.delay:.0f} s at WeChat; ", end="")
    print(f"{args.healthz_clients} /healthz clients")
    header = f"{'config':>28} | {'quiet req/s':>11} {'p99 ms':>7} | {'stall req/s':>11} {'p50 ms':>7} {'p99 ms':>8} "
    print(header + f"{'max ms':>8} {'errors':>6} | {'logins':>6} {'login p50 ms':>12}")
    for row in rows:
        q, s = row["quiet"], row["slow_logins"]
        print(
            f"{row['config']:>28} | {q['healthz_per_s']:>11} {q['healthz_p99_ms']!s:>7} | {s['healthz_per_s']:>11} "
            f"{s['healthz_p50_ms']!s:>7} {s['healthz_p99_ms']!s:>8} {s['healthz_max_ms']!s:>8} "
            f"{s['healthz_errors']:>6} | {s['logins_ok']:>6} {s['login_p50_ms']!s:>12}"
        )
    results = PROJECT_ROOT / "bench" / "results"
    results.mkdir(exist_ok=True)
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    out = results / f"login-stall-{stamp}.json"
    out.write_text(json.dumps({"args": vars(args), "rows": rows, "loadavg": os.getloadavg()}, indent=2))
    print(f"results: {out.relative_to(PROJECT_ROOT)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
