"""Alert ingestion benchmark: the IoT platform pushes signed batches of 1,000 events into gunicorn on
PostgreSQL, and a smoke alarm travels from the ingestion endpoint to (a fake of) WeChat.

    .venv/bin/python bench/alert_ingestion.py [--database-url postgresql+psycopg://postgres@127.0.0.1:5432/linli_bench_alerts]
                                              [--redis-url redis://127.0.0.1:6379/10] [--workers 3] [--devices 19715]
                                              [--batches 20] [--concurrency 4] [--latency-samples 20]

What it does, in order:

1. drops and recreates the benchmark database (its name must contain "bench"), migrates it to head, loads the
   demo seed (every domain's part: areas, people, the demo elders with their family and devices) and adds `--devices`
   more devices in the demo rooms (the subdistrict's 19,715 by default, in its mix of door, smoke, arc-fault …);
   gives the demo family an Official Account openid so their alerts go out as template messages;
2. starts a fake WeChat API (tests/fake_wechat.py) on 127.0.0.1, gunicorn (`WEB_CONCURRENCY=--workers`, tasks
   through Redis, WECHAT_* pointed at the fake) and one Celery worker (`celery -A workers worker --pool=solo`);
3. throughput — each scenario sends `--batches` signed batches of 1,000 events from `--concurrency` client
   threads and prints events/s and per-batch latency:
   - **heartbeats**: heartbeats (with battery) and door open/close from random devices — the everyday load;
   - **repeats**: one smoke detector repeating itself 1,000 times a batch — one alert, counted, nobody re-told;
   - **re-push**: the heartbeat batches again, re-signed — every event a duplicate;
   - **alarm storm**: 1,000 smoke alarms from 1,000 different detectors a batch, one batch at a time — 1,000
     alerts opened, each telling the staff of its area (the worst case: every one a new incident with its
     outbox rows);
4. latency — `--latency-samples` times: a smoke alarm in 王阿婆's flat is posted (one event), and the time until
   the fake WeChat receives the template message for her first contact is taken; the alert is then resolved
   so the next sample is a new incident. Prints p50/p95.
5. stops everything and drops the database (unless `--keep`). It measures; it never asserts a timing.
   Exit status 0 when every answer was as expected, 1 otherwise, 2 when something it needs is missing.
"""

from __future__ import annotations

import argparse
import hashlib
import hmac
import http.client
import json
import logging
import os
import random
import secrets
import socket
import subprocess
import sys
import tempfile
import time
import uuid
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
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

from api.jobs import QUEUES  # noqa: E402

QUEUE_LIST = ",".join(QUEUES)

DEFAULT_DATABASE_URL = "postgresql+psycopg://postgres@127.0.0.1:5432/linli_bench_alerts"
DEFAULT_REDIS_URL = "redis://127.0.0.1:6379/10"
PLATFORM = "bench-platform"
MINIAPP = ("wx-bench-app", "bench-app-secret")
OA = ("wx-bench-oa", "bench-oa-secret")
TEMPLATE_SEND = "/cgi-bin/message/template/send"
# The subdistrict's device mix (door sensors and smoke detectors above all).
MIX = [
    ("door_sensor", 0.35),
    ("smoke_detector", 0.35),
    ("arc_fault_breaker", 0.15),
    ("gas_detector", 0.05),
    ("water_leak_sensor", 0.04),
    ("sos_button", 0.03),
    ("fall_detector", 0.02),
    ("blood_pressure_monitor", 0.01),
]


# ----------------------------------------------------------------------------------------------------
# Setup
# ----------------------------------------------------------------------------------------------------


def build_app(url: str, redis_url: str, secret: str, instance: Path) -> Any:
    from api import Settings, create_app

    return create_app(
        Settings(
            env="development",
            secret_key=secret,
            instance_path=instance,
            database_url=url,
            redis_url=redis_url,
            celery_always_eager=True,
        )
    )


def seed(app: Any, devices: int, rng: random.Random) -> dict[str, Any]:
    """The demo seed, `devices` more devices in its rooms, and Official Account openids for the demo family."""
    from sqlalchemy import select

    from api import platform
    from api.accounts.models import Room
    from api.db import db, new_id, utcnow
    from api.devices.models import Device, DeviceType, default_heartbeat
    from api.eldercare.services import contacts_in_order

    with app.app_context():
        for _domain, seed_part in platform.seeds(app.extensions["linli.domains"]):
            seed_part()
        db.session.flush()
        rooms = db.session.scalars(select(Room.id)).all()
        now = utcnow()
        kinds, weights = zip(*MIX, strict=True)
        rows = []
        for i in range(devices):
            kind = rng.choices(kinds, weights)[0]
            rows.append(
                {
                    "id": new_id(),
                    "serial": f"KJ-BENCH-{i:06d}",
                    "type": DeviceType(kind).value,
                    "room_id": rng.choice(rooms),
                    "status": "active",
                    "heartbeat_interval_seconds": default_heartbeat(kind),
                    "last_seen_at": now,
                    "created_at": now,
                }
            )
        for start in range(0, len(rows), 5000):
            db.session.execute(Device.__table__.insert(), rows[start : start + 5000])
        demo = db.session.scalars(select(Device).where(Device.serial.like("KJ-DEMO-%"))).all()
        smoke = next(d for d in demo if d.type == DeviceType.SMOKE_DETECTOR and d.elder_id is not None)
        contacts = contacts_in_order(smoke.elder_id)
        if not contacts:
            raise BenchError("the demo seed has no family contact for its first smoke detector")
        for n, user in enumerate(contacts):
            user.wechat_oa_openid = user.wechat_oa_openid or f"o-oa-bench-{n}-{uuid.uuid4().hex[:6]}"
        first_openid = contacts[0].wechat_oa_openid
        db.session.commit()
        by_type: dict[str, list[str]] = {}
        for row in rows:
            by_type.setdefault(row["type"], []).append(row["serial"])
        return {
            "serials": [r["serial"] for r in rows],
            "by_type": by_type,
            "demo_smoke": smoke.serial,
            "demo_smoke_id": smoke.id,
            "first_openid": first_openid,
            "demo_devices": len(demo),
        }


def start_worker(
    env: dict[str, str], log: Path, options: tuple[str, ...] = ("--pool=solo", "-Q", QUEUE_LIST)
) -> subprocess.Popen[bytes]:
    """`celery -A workers worker OPTIONS`, once it says it is ready."""
    node = f"bench-{uuid.uuid4().hex[:6]}@{socket.gethostname()}"
    argv = [sys.executable, "-m", "celery", "-A", "workers", "worker", *options, "-n", node, "--loglevel=INFO"]
    with log.open("wb") as out:
        worker = subprocess.Popen(argv, cwd=PROJECT_ROOT, env=env, stdout=out, stderr=subprocess.STDOUT)
    deadline = time.monotonic() + 60
    while f"{node} ready." not in log.read_text(errors="replace"):
        if worker.poll() is not None or time.monotonic() > deadline:
            stop(worker)
            raise BenchError(f"the Celery worker did not start; its log ends:\n{log.read_text()[-3000:]}")
        time.sleep(0.2)
    return worker


# ----------------------------------------------------------------------------------------------------
# Sending
# ----------------------------------------------------------------------------------------------------


def signed_post(port: int, secret: str, items: list[dict[str, Any]], stamp_offset: int = 0) -> dict[str, Any]:
    body = json.dumps(items).encode()
    stamp = str(int(time.time()) - stamp_offset)
    signature = hmac.new(secret.encode(), f"{stamp}.".encode() + body, hashlib.sha256).hexdigest()
    headers = {
        "Content-Type": "application/json",
        "X-Linli-Platform": PLATFORM,
        "X-Linli-Timestamp": stamp,
        "X-Linli-Signature": signature,
    }
    conn = http.client.HTTPConnection(HOST, port, timeout=120)
    start = time.monotonic()
    try:
        conn.request("POST", "/api/v1/iot/events", body=body, headers=headers)
        response = conn.getresponse()
        raw = response.read()
        status = response.status
    finally:
        conn.close()
    elapsed = time.monotonic() - start
    try:
        answer = json.loads(raw)
        if not isinstance(answer, dict):
            answer = {"raw": answer}
    except ValueError:
        answer = {"raw": raw[:200].decode(errors="replace")}
    return {"status": status, "seconds": elapsed, "answer": answer, "events": len(items)}


def item(serial: str, kind: str, value: Any = None, event_id: str | None = None) -> dict[str, Any]:
    out = {
        "device_serial": serial,
        "type": kind,
        "occurred_at": datetime.now(UTC).isoformat(),
        "event_id": event_id or uuid.uuid4().hex,
    }
    if value is not None:
        out["value"] = value
    return out


def heartbeat_batch(world: dict[str, Any], rng: random.Random, size: int) -> list[dict[str, Any]]:
    batch = []
    doors = world["by_type"].get("door_sensor", [])
    for _ in range(size):
        if doors and rng.random() < 0.3:
            batch.append(item(rng.choice(doors), rng.choice(("open", "close"))))
        else:
            batch.append(item(rng.choice(world["serials"]), "heartbeat", {"battery": rng.randint(20, 100)}))
    return batch


def run_scenario(
    name: str,
    port: int,
    secret: str,
    batches: list[list[dict[str, Any]]],
    concurrency: int,
    expect: str,
    stamp_offset: int = 0,
) -> dict[str, Any]:
    """`stamp_offset`: sign as of that many seconds ago (a re-push of the same bodies needs another signature)."""
    started = time.monotonic()
    with ThreadPoolExecutor(max_workers=concurrency) as pool:
        results = list(pool.map(lambda b: signed_post(port, secret, b, stamp_offset=stamp_offset), batches))
    wall = time.monotonic() - started
    statuses = Counter(r["status"] for r in results)
    items = Counter()
    for r in results:
        items.update(r["answer"].get("counts", {}))
    events = sum(r["events"] for r in results)
    latencies = sorted(r["seconds"] * 1000 for r in results)
    ok = statuses == Counter({200: len(batches)}) and items.get(expect, 0) == events
    return {
        "scenario": name,
        "batches": len(batches),
        "events": events,
        "wall_s": wall,
        "events_per_s": events / wall if wall else None,
        "batch_ms_p50": percentile(latencies, 50),
        "batch_ms_p95": percentile(latencies, 95),
        "batch_ms_max": latencies[-1] if latencies else None,
        "http": dict(statuses),
        "items": dict(items),
        "alerts_opened": sum(r["answer"].get("alerts_opened", 0) for r in results),
        "ok": ok,
    }


def latency(app: Any, port: int, secret: str, world: dict[str, Any], fake: Any, samples: int) -> dict[str, Any]:
    """Ingestion → WeChat for one smoke alarm, `samples` times (each a new incident)."""
    from sqlalchemy import update

    from api.alerts.models import Alert, AlertStatus
    from api.db import db, utcnow

    arrivals: dict[str, float] = {}
    normal = fake.routes[("POST", TEMPLATE_SEND)]

    def timed(req: Any) -> Any:
        answer = normal.handler(req)
        body = req.json or {}
        arrivals.setdefault(str(body.get("miniprogram", {}).get("pagepath", "")), time.monotonic())
        return answer

    fake.add_handler("POST", TEMPLATE_SEND, timed, token=True)
    waits: list[float] = []
    lost = 0

    def close_incident() -> None:  # so the next alarm is a new incident, which notifies
        with app.app_context():
            db.session.execute(
                update(Alert)
                .where(Alert.device_id == world["demo_smoke_id"], Alert.status != AlertStatus.RESOLVED)
                .values(status=AlertStatus.RESOLVED, resolved_at=utcnow())
            )
            db.session.commit()

    try:
        for _ in range(samples):
            close_incident()
            sent = time.monotonic()
            result = signed_post(port, secret, [item(world["demo_smoke"], "smoke")])
            if result["status"] != 200:
                print(f"latency sample refused: {result['status']} {result['answer']}", flush=True)
                lost += 1
                continue
            alert_id = result["answer"]["results"][0].get("alert_id")
            page = f"pages/alerts/detail?id={alert_id}"
            deadline = time.monotonic() + 30
            while page not in arrivals and time.monotonic() < deadline:
                time.sleep(0.005)
            if page in arrivals:
                waits.append((arrivals[page] - sent) * 1000)
            else:
                lost += 1
            time.sleep(0.2)
    finally:
        fake.routes[("POST", TEMPLATE_SEND)] = normal
    waits.sort()
    return {
        "samples": samples,
        "received": len(waits),
        "lost": lost,
        "ms_p50": percentile(waits, 50),
        "ms_p95": percentile(waits, 95),
        "ms_max": waits[-1] if waits else None,
    }


def wait_for_empty_queue(redis_url: str, timeout: float) -> float:
    import redis

    client = redis.Redis.from_url(redis_url)
    started = time.monotonic()
    try:
        while sum(client.llen(q) for q in QUEUES) > 0 and time.monotonic() - started < timeout:
            time.sleep(0.5)
    finally:
        client.close()
    return time.monotonic() - started


# ----------------------------------------------------------------------------------------------------
# Main
# ----------------------------------------------------------------------------------------------------


def _fmt(value: Any, digits: int = 1) -> str:
    if value is None:
        return "-"
    return (
        f"{value:,.{digits}f}" if isinstance(value, float) else f"{value:,}" if isinstance(value, int) else str(value)
    )


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--database-url", default=DEFAULT_DATABASE_URL)
    parser.add_argument("--redis-url", default=DEFAULT_REDIS_URL)
    parser.add_argument("--workers", type=int, default=3, help="gunicorn workers")
    parser.add_argument("--devices", type=int, default=19715, help="devices added to the demo seed")
    parser.add_argument("--batches", type=int, default=20, help="batches of 1,000 per scenario")
    parser.add_argument("--storm-batches", type=int, default=3, help="batches of 1,000 new alarms")
    parser.add_argument("--concurrency", type=int, default=4, help="batches in flight at once")
    parser.add_argument("--latency-samples", type=int, default=20)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--keep", action="store_true", help="keep the database afterwards")
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    # The fake WeChat server is werkzeug's: keep its access log out of the figures.
    logging.getLogger("werkzeug").setLevel(logging.WARNING)
    from sqlalchemy.engine import make_url

    from tests.fake_wechat import FakeWechat

    url = make_url(args.database_url).set(drivername="postgresql+psycopg").render_as_string(hide_password=False)
    secret_key = secrets.token_urlsafe(48)
    iot_secret = secrets.token_urlsafe(24)
    tmp = Path(tempfile.mkdtemp(prefix="linli-bench-alerts-"))
    rng = random.Random(args.seed)
    server = worker = None
    created = False
    fake = FakeWechat(dict([MINIAPP, OA])).start()
    try:
        check_redis(args.redis_url)
        recreate_database(url)
        created = True
        from alembic import command

        from api.cli import alembic_config

        command.upgrade(alembic_config(url), "head")
        app = build_app(url, args.redis_url, secret_key, tmp / "bench-instance")
        t = time.monotonic()
        world = seed(app, args.devices, rng)
        print(
            f"seeded the demo ({world['demo_devices']} devices) + {args.devices:,} devices in "
            f"{time.monotonic() - t:.1f} s",
            flush=True,
        )
        env = {k: os.environ[k] for k in ("PATH", "HOME", "LANG", "LC_ALL", "TMPDIR") if k in os.environ}
        env.update(
            PYTHONUNBUFFERED="1",
            DATABASE_URL=url,
            REDIS_URL=args.redis_url,
            SECRET_KEY=secret_key,
            LINLI_INSTANCE_PATH=str(tmp / "instance"),
            WEB_CONCURRENCY=str(args.workers),
            IOT_PLATFORM_SECRETS=json.dumps({PLATFORM: iot_secret}),
            WECHAT_MINIAPP_ID=MINIAPP[0],
            WECHAT_MINIAPP_SECRET=MINIAPP[1],
            WECHAT_OA_APP_ID=OA[0],
            WECHAT_OA_SECRET=OA[1],
            WECHAT_API_BASE_URL=fake.url,
        )
        worker = start_worker(env, tmp / "worker.log")
        port = free_port()
        server = start_gunicorn(env, port, tmp / "gunicorn.log")
        print(
            f"gunicorn -w {args.workers} on {HOST}:{port}, one Celery worker, fake WeChat at {fake.url}\n", flush=True
        )

        heartbeats = [heartbeat_batch(world, rng, 1000) for _ in range(args.batches)]
        smokes = world["by_type"].get("smoke_detector", [])
        rows = [
            run_scenario("heartbeats", port, iot_secret, heartbeats, args.concurrency, "accepted"),
            run_scenario(
                "repeats",
                port,
                iot_secret,
                [[item(world["demo_smoke"], "smoke") for _ in range(1000)] for _ in range(args.batches)],
                args.concurrency,
                "accepted",
            ),
            run_scenario("re-push", port, iot_secret, heartbeats, args.concurrency, "duplicate", stamp_offset=-200),
        ]
        storm_serials = rng.sample(smokes, min(len(smokes), 1000 * args.storm_batches))
        storm = [[item(s, "smoke") for s in storm_serials[i : i + 1000]] for i in range(0, len(storm_serials), 1000)]
        if storm:
            # One batch at a time: each opens 1,000 alerts with their outbox rows (the heaviest request there is).
            rows.append(run_scenario("alarm storm", port, iot_secret, storm, 1, "accepted"))
        columns = ("batches", "events", "events/s", "p50 ms", "p95 ms", "max ms", "opened")
        print(f"{'scenario':<12} " + " ".join(f"{c:>9}" for c in columns) + "  ok")
        for r in rows:
            cells = (
                f"{r['batches']:,}",
                f"{r['events']:,}",
                _fmt(r["events_per_s"], 0),
                _fmt(r["batch_ms_p50"]),
                _fmt(r["batch_ms_p95"]),
                _fmt(r["batch_ms_max"]),
                f"{r['alerts_opened']:,}",
            )
            verdict = "OK" if r["ok"] else f"FAILED http={r['http']} items={r['items']}"
            print(f"{r['scenario']:<12} " + " ".join(f"{c:>9}" for c in cells) + f"  {verdict}")
        # The storm's outbox is being delivered by the one worker: let it drain before timing a single alarm.
        drained = wait_for_empty_queue(args.redis_url, 300)
        print(f"\nthe worker drained the storm's outbox in {drained:.1f} s", flush=True)
        lat = latency(app, port, iot_secret, world, fake, args.latency_samples)
        print(
            f"\ningestion → WeChat template message (first contact), {lat['received']}/{lat['samples']} received: "
            f"p50 {_fmt(lat['ms_p50'])} ms, p95 {_fmt(lat['ms_p95'])} ms, max {_fmt(lat['ms_max'])} ms"
        )
        results = Path(__file__).resolve().parent / "results"
        results.mkdir(exist_ok=True)
        out = results / f"alert-ingestion-{datetime.now(UTC):%Y%m%dT%H%M%SZ}.json"
        out.write_text(json.dumps({"args": vars(args), "throughput": rows, "latency": lat}, indent=2, default=str))
        print(f"written {out.relative_to(PROJECT_ROOT)}")
        return 0 if all(r["ok"] for r in rows) and lat["lost"] == 0 else 1
    except BenchError as exc:
        print(f"bench: {exc}", file=sys.stderr)
        return 2
    finally:
        stop(server)
        stop(worker)
        fake.stop()
        if created and not args.keep:
            drop_database(url)


if __name__ == "__main__":
    sys.exit(main())
