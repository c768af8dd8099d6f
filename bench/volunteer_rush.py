"""Volunteer sign-up rush: hundreds of volunteers tap "sign up" for one task in the same second.

    .venv/bin/python bench/volunteer_rush.py [--database-url postgresql+psycopg://postgres@127.0.0.1:5432/linli_bench_volunteers]
                                             [--redis-url redis://127.0.0.1:6379/8] [--workers 4] [--volunteers 300]
                                             [--slots 10] [--concurrency 64] [--keep]

It drops and recreates the benchmark database (its name must contain "bench"), migrates it, seeds a committee, a
staff member and `--volunteers` approved volunteers with access tokens (through the app's services: hundreds of
WeChat logins from one address would only measure the login rate limit), starts gunicorn (`--workers`) on a free
loopback port, makes one task of `--slots` places with a waitlist for everyone, and releases every sign-up at once
from `--concurrency` threads, one connection per request. It prints sign-ups/s and latency p50/p99, and checks what
the database holds: exactly `--slots` confirmed, the rest waitlisted in arrival order, nobody twice, no 5xx (exit 1
otherwise). Every sign-up takes the task's row lock, so the rush is served one sign-up at a time: sign-ups/s is the
inverse of how long one holds the lock. It measures; it never asserts a timing.
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import secrets
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta
from pathlib import Path

PROJECT_ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(PROJECT_ROOT))

from run import BenchError, drop_database, recreate_database  # noqa: E402  (the benchmarks' one way, bench/run.py)


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def _percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(q * (len(ordered) - 1))))]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--database-url", default="postgresql+psycopg://postgres@127.0.0.1:5432/linli_bench_volunteers")
    parser.add_argument("--redis-url", default="redis://127.0.0.1:6379/8")
    parser.add_argument("--workers", type=int, default=4)
    parser.add_argument("--volunteers", type=int, default=300)
    parser.add_argument("--slots", type=int, default=10)
    parser.add_argument("--concurrency", type=int, default=64)
    parser.add_argument("--keep", action="store_true", help="keep the database afterwards")
    args = parser.parse_args()

    from alembic import command
    from sqlalchemy import select
    from sqlalchemy.engine import make_url

    url = make_url(args.database_url)
    try:
        recreate_database(args.database_url)
    except BenchError as exc:
        print(f"volunteer_rush: {exc}", file=sys.stderr)
        return 2
    database_url = url.render_as_string(hide_password=False)

    from api import Settings, create_app
    from api.accounts.models import Area, AreaKind, Role, User
    from api.accounts.services import create_staff, issue_tokens
    from api.cli import alembic_config
    from api.db import db, new_id, utcnow
    from api.volunteers import services
    from api.volunteers.models import CheckinRule, Profile, ProfileStatus, Signup, SignupStatus, Task, TaskKind

    command.upgrade(alembic_config(database_url), "head")
    secret = secrets.token_urlsafe(40)
    instance = Path(tempfile.mkdtemp(prefix="linli-bench-"))
    settings = Settings(
        env="bench",
        secret_key=secret,
        database_url=database_url,
        redis_url=args.redis_url,
        instance_path=instance,
        celery_always_eager=True,
        access_token_ttl_seconds=3600,
    )
    create_app(settings)
    root = Area(id=new_id(), kind=AreaKind.SUBDISTRICT, code="KJ", name="控江路街道", path="/KJ/")
    committee = Area(
        id=new_id(), kind=AreaKind.COMMITTEE, code="KJ01", name="控江一村居委会", parent_id=root.id, path="/KJ/KJ01/"
    )
    db.session.add_all([root, committee])
    db.session.flush()
    staff = create_staff("bench-staff", "bench-staff-password", Role.STAFF, "KJ01")
    people = []
    for i in range(args.volunteers):
        user = User(wechat_openid=f"bench-vol-{i:05d}", nickname=f"志愿者{i}")
        user.grant(Role.RESIDENT)
        user.grant(Role.VOLUNTEER)
        profile = Profile(user=user, real_name=f"志愿者{i:05d}", area_id=committee.id, status=ProfileStatus.APPROVED)
        profile.committees = [committee]
        db.session.add(profile)
        people.append(user)
    db.session.flush()
    tokens = [issue_tokens(user, settings).access_token for user in people]
    now = utcnow()
    task = services.create_task(
        staff,
        {
            "title": "重阳节敬老活动志愿者",
            "kind": TaskKind.ELDER_VISIT,
            "area_id": committee.id,
            "starts_at": now + timedelta(days=2),
            "ends_at": now + timedelta(days=2, hours=3),
            "slots": args.slots,
            "waitlist_limit": args.volunteers,
            "checkin_rule": CheckinRule.OWNER_CODE,
        },
        settings,
    )
    task_id = task.id
    db.session.commit()

    port = _free_port()
    env = {
        **{k: os.environ[k] for k in ("PATH", "HOME", "LANG") if k in os.environ},
        "DATABASE_URL": database_url,
        "REDIS_URL": args.redis_url,
        "CELERY_ALWAYS_EAGER": "1",
        "SECRET_KEY": secret,
        "LINLI_INSTANCE_PATH": str(instance),
        "WEB_CONCURRENCY": str(args.workers),
        "LINLI_ENV": "bench",
    }
    log = instance / "gunicorn.log"
    gunicorn = Path(sys.executable).parent / "gunicorn"
    with log.open("wb") as out:
        process = subprocess.Popen(
            [str(gunicorn), "-c", "gunicorn.conf.py", "--bind", f"127.0.0.1:{port}", "wsgi:app"],
            cwd=PROJECT_ROOT,
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                conn = http.client.HTTPConnection("127.0.0.1", port, timeout=2)
                conn.request("GET", "/healthz")
                if conn.getresponse().status == 200:
                    break
            except OSError:
                pass
            if process.poll() is not None or time.monotonic() > deadline:
                print(log.read_text(errors="replace")[-3000:], file=sys.stderr)
                return 2
            time.sleep(0.2)

        gate = threading.Event()
        results: list[tuple[int, float]] = []
        lock = threading.Lock()

        def tap(i: int) -> None:
            gate.wait()
            started = time.perf_counter()
            conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
            try:
                conn.request(
                    "POST",
                    f"/api/v1/volunteer/tasks/{task_id}/signups",
                    headers={"Authorization": f"Bearer {tokens[i]}"},
                )
                status = conn.getresponse().status
            finally:
                conn.close()
            with lock:
                results.append((status, time.perf_counter() - started))

        with ThreadPoolExecutor(max_workers=args.concurrency) as pool:
            futures = [pool.submit(tap, i) for i in range(args.volunteers)]
            started = time.perf_counter()
            gate.set()
            for future in futures:
                future.result()
            elapsed = time.perf_counter() - started
    finally:
        process.terminate()
        process.wait(timeout=20)

    db.session.remove()
    rows = db.session.scalars(select(Signup).where(Signup.task_id == task_id)).all()
    statuses = Counter(r.status for r in rows)
    waiting = sorted((r for r in rows if r.status == SignupStatus.WAITLISTED), key=lambda r: r.created_at)
    stored = db.session.get(Task, task_id)
    checks = {
        "no 5xx": not [s for s, _ in results if s >= 500],
        f"exactly {args.slots} confirmed": statuses[SignupStatus.CONFIRMED] == args.slots == stored.confirmed_count,
        "the rest waitlisted": statuses[SignupStatus.WAITLISTED] == args.volunteers - args.slots,
        "waitlist in arrival order": [r.waitlist_seq for r in waiting] == list(range(1, len(waiting) + 1)),
        "nobody twice": len({r.user_id for r in rows}) == len(rows) == args.volunteers,
    }
    latencies = [latency for _, latency in results]
    print(
        f"volunteer rush: {args.volunteers} sign-ups for {args.slots} places, {args.workers} gunicorn workers, "
        f"{args.concurrency} client threads (PostgreSQL, one task row lock)"
    )
    print(f"  sign-ups/s     {args.volunteers / elapsed:8.1f}")
    print(f"  latency p50    {statistics.median(latencies) * 1000:8.1f} ms")
    print(f"  latency p99    {_percentile(latencies, 0.99) * 1000:8.1f} ms")
    print(f"  statuses       {dict(Counter(s for s, _ in results))}")
    for name, held in checks.items():
        print(f"  {'OK    ' if held else 'FAILED'} {name}")
    db.session.remove()
    if db.engine is not None:
        db.engine.dispose()
    if not args.keep:
        drop_database(database_url)
    print(json.dumps({"signups_per_second": round(args.volunteers / elapsed, 1)}))
    return 0 if all(checks.values()) else 1


if __name__ == "__main__":
    sys.exit(main())
