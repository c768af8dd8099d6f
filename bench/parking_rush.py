"""Shared-parking benchmark: the evening rush on a mall's car park, and the gate's decision latency.

    .venv/bin/python bench/parking_rush.py [--database-url postgresql+psycopg://postgres@127.0.0.1:5432/linli_bench_parking]
                                           [--workers 2] [--residents 400] [--places 40] [--concurrency 32]
                                           [--decisions 2000]

1. drops and recreates the benchmark database (its name must contain "bench"), migrates it, and seeds a mall
   lending `--places` bays and a pool of `--places` on weekday nights (18:00–08:00), a lot lent all day with a
   bay per booked driver for the gate, and `--residents` residents each with a verified car and an access token;
2. starts gunicorn (`gunicorn.conf.py`, `WEB_CONCURRENCY=--workers`, tasks eager, WeChat and WeChat Pay sandbox);
3. every resident takes a quote for an overlapping Tuesday evening (half on the bays, half on the pool), then all
   book at the same moment (`--concurrency` client threads, one connection per request): bookings/s (booked ÷
   time from the gate to the last answer) and p50/p99 latency; then checks in SQL that no bay has two live
   bookings overlapping and that the pool never holds more than its capacity;
4. `--decisions` signed gate decisions (a third for booked plates, a third unbooked, a third one-character
   misreads) from `--gate-concurrency` lanes at once: p50/p99 of the decision;
5. prints the figures, stops gunicorn, drops the database (unless `--keep`). It measures; it never asserts a
   timing. Exit status 0 when the invariants held, 1 when one failed, 2 when something it needs is missing.

Every booking of one space takes that space's row lock, and a lot-wide quote tries the free spaces in random
order, so a rush on 40 bays spreads over 40 locks; a pool is one lock.
"""

from __future__ import annotations

import argparse
import contextlib
import http.client
import json
import os
import random
import secrets
import shutil
import sys
import tempfile
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
from booking_rush import (
    HOST,
    PROJECT_ROOT,
    BenchError,
    build_app,
    check_redis,
    drop_database,
    free_port,
    percentile,
    recreate_database,
    start_gunicorn,
    stop,
)

DEFAULT_DATABASE_URL = "postgresql+psycopg://postgres@127.0.0.1:5432/linli_bench_parking"
DEFAULT_REDIS_URL = "redis://127.0.0.1:6379/14"
GATE = "linli-gate-dev"
GATE_SECRET = "linli-dev-gate-secret"


def seed(app: Any, residents: int, places: int) -> dict[str, Any]:
    from api.accounts.models import Area, AreaKind, HouseholdMember, HouseholdRelation, Role, Room, User
    from api.accounts.services import issue_tokens
    from api.db import db, new_id, utcnow
    from api.parking.models import (
        Booking,
        BookingStatus,
        Hold,
        LotKind,
        OfferStatus,
        ParkingLot,
        ParkingSpace,
        SharingOffer,
        SpaceKind,
        Vehicle,
        Verification,
    )

    settings = app.extensions["linli.settings"]
    with app.app_context():
        top = Area(id=new_id(), kind=AreaKind.SUBDISTRICT, code="KJ", name="控江路街道", path="/KJ/")
        committee = Area(
            id=new_id(), kind=AreaKind.COMMITTEE, code="KJ01", name="KJ01居委会", parent_id=top.id, path="/KJ/KJ01/"
        )
        building = Area(
            id=new_id(), kind=AreaKind.BUILDING, code="B1", name="1号楼", parent_id=committee.id, path="/KJ/KJ01/B1/"
        )
        db.session.add_all([top, committee, building])
        mall = User(id=new_id(), nickname="商场", wechat_openid="bench-mall")
        db.session.add(mall)
        db.session.flush()
        lots: dict[str, str] = {}
        for name, kind, spaces, rules in (
            ("bays", SpaceKind.BAY, [(f"B{i:03d}", 1) for i in range(places)], "workdays"),
            ("pool", SpaceKind.POOL, [("POOL", places)], "workdays"),
            ("gate", SpaceKind.BAY, [(f"G{i:04d}", 1) for i in range(residents)], "everyday"),
        ):
            lot = ParkingLot(
                id=new_id(), area_id=committee.id, area_path=committee.path, name=name, kind=LotKind.CAR_PARK,
                address="控江路", lat=31.28, lng=121.53, hourly_rate_fen=500, daily_cap_fen=4000,
                overstay_rate_fen=1000, gate_platform=GATE, gate_vendor="none",
            )  # fmt: skip
            db.session.add(lot)
            db.session.flush()
            for code, capacity in spaces:
                db.session.add(
                    ParkingSpace(id=new_id(), lot_id=lot.id, area_path=lot.area_path, code=code, kind=kind,
                                 capacity=capacity, lender_id=mall.id)
                )  # fmt: skip
            window = (
                {"days": "workdays", "start": "18:00", "end": "08:00"}
                if rules == "workdays"
                else {"days": "everyday", "start": "00:00", "end": "00:00"}
            )
            db.session.add(
                SharingOffer(lot_id=lot.id, lender_id=mall.id, area_path=lot.area_path, rules=[window],
                             blocked_dates=[], status=OfferStatus.APPROVED)
            )  # fmt: skip
            lots[name] = str(lot.id)
        db.session.flush()
        people = []
        gate_spaces = list(
            db.session.scalars(
                ParkingSpace.__table__.select()
                .where(ParkingSpace.lot_id == lots["gate"])
                .with_only_columns(ParkingSpace.id)
            )
        )
        now = utcnow()
        for n in range(residents):
            user = User(id=new_id(), nickname=f"居民{n}", wechat_openid=f"bench-parking-{n:06d}")
            user.grant(Role.RESIDENT)
            room = Room(id=new_id(), building_id=building.id, number=f"{n:05d}", floor=1)
            db.session.add_all([user, room])
            db.session.flush()
            db.session.add(HouseholdMember(user_id=user.id, room_id=room.id, relation=HouseholdRelation.OWNER))
            plate = f"沪B{n:05d}"
            vehicle = Vehicle(
                id=new_id(), owner_id=user.id, room_id=room.id, area_path=building.path, plate=plate,
                verification=Verification.VERIFIED, verified_via="staff",
            )  # fmt: skip
            db.session.add(vehicle)
            db.session.flush()
            # Half of them are also booked on the gate's lot right now (what the gate decides about).
            if n % 2 == 0:
                booking = Booking(
                    id=new_id(), user_id=user.id, vehicle_id=vehicle.id, plate=plate, lot_id=lots["gate"],
                    space_id=gate_spaces[n], lender_id=mall.id, area_path=committee.path,
                    starts_at=now - timedelta(minutes=5), ends_at=now + timedelta(hours=6), window="每天 全天",
                    status=BookingStatus.CONFIRMED, price_fen=3000, created_at=now,
                )  # fmt: skip
                db.session.add(booking)
                db.session.flush()
                db.session.add(Hold(space_id=gate_spaces[n], booking_id=booking.id, pooled=False,
                                    starts_at=booking.starts_at, until=booking.ends_at))  # fmt: skip
            db.session.flush()
            people.append(
                {"token": issue_tokens(user, settings).access_token, "vehicle_id": str(vehicle.id), "plate": plate}
            )
        db.session.commit()
    return {"lots": lots, "people": people}


def request(
    port: int, method: str, path: str, body: Any, headers: dict[str, str], timeout: float = 60
) -> tuple[int | None, Any, float]:
    data = body if isinstance(body, bytes) else json.dumps(body, ensure_ascii=False).encode()
    started = time.perf_counter()
    conn = http.client.HTTPConnection(HOST, port, timeout=timeout)
    try:
        conn.request(method, path, body=data, headers={"Content-Type": "application/json", **headers})
        response = conn.getresponse()
        raw = response.read()
        status = response.status
    except OSError as exc:
        return None, str(exc), time.perf_counter() - started
    finally:
        conn.close()
    with contextlib.suppress(ValueError):
        return status, json.loads(raw), time.perf_counter() - started
    return status, raw, time.perf_counter() - started


def next_tuesday() -> datetime:
    from api.fields import LOCAL_TZ
    from api.parking import windows

    day = datetime.now(LOCAL_TZ).date() + timedelta(days=2)
    while day.weekday() != 1 or not (windows.is_workday(day) and windows.is_workday(day + timedelta(days=1))):
        day += timedelta(days=1)
    return datetime.combine(day, datetime.min.time(), tzinfo=LOCAL_TZ)


def rush(port: int, world: dict[str, Any], concurrency: int, seed_: int) -> dict[str, Any]:
    rng = random.Random(seed_)
    tuesday = next_tuesday()
    quotes = []

    def ask(index_person: tuple[int, dict[str, Any]]) -> tuple[dict[str, Any], str | None]:
        index, person = index_person
        starts = tuesday + timedelta(hours=rng.randint(18, 21), minutes=rng.choice((0, 30)))
        ends = starts + timedelta(hours=rng.randint(2, 10))
        lot = world["lots"]["bays" if index % 2 == 0 else "pool"]
        status, body, _ = request(
            port, "POST", "/api/v1/parking/quotes",
            {"lot_id": lot, "starts_at": starts.isoformat(), "ends_at": ends.isoformat()},
            {"Authorization": f"Bearer {person['token']}"},
        )  # fmt: skip
        return person, body["id"] if status == 201 else None

    with ThreadPoolExecutor(max_workers=concurrency) as pool:
        quotes = [q for q in pool.map(ask, enumerate(world["people"])) if q[1]]
    gate = threading.Barrier(min(concurrency, len(quotes)))

    def book(entry: tuple[dict[str, Any], str]) -> tuple[int | None, float]:
        person, quote_id = entry
        with contextlib.suppress(threading.BrokenBarrierError):
            gate.wait(timeout=10)
        status, _body, seconds = request(
            port, "POST", "/api/v1/parking/bookings",
            {"quote_id": quote_id, "vehicle_id": person["vehicle_id"]},
            {"Authorization": f"Bearer {person['token']}", "Idempotency-Key": quote_id},
        )  # fmt: skip
        return status, seconds

    started = time.perf_counter()
    with ThreadPoolExecutor(max_workers=concurrency) as pool:
        answers = list(pool.map(book, quotes))
    elapsed = time.perf_counter() - started
    latencies = sorted(s for _status, s in answers)
    booked = sum(1 for status, _ in answers if status == 201)
    return {
        "requests": len(answers),
        "booked": booked,
        "refused_409": sum(1 for status, _ in answers if status == 409),
        "errors_5xx": sum(1 for status, _ in answers if status is None or status >= 500),
        "seconds": round(elapsed, 3),
        "bookings_per_s": round(booked / elapsed, 1) if elapsed else None,
        "requests_per_s": round(len(answers) / elapsed, 1) if elapsed else None,
        "p50_ms": round(1000 * (percentile(latencies, 50) or 0), 1),
        "p99_ms": round(1000 * (percentile(latencies, 99) or 0), 1),
    }


def decisions(port: int, world: dict[str, Any], count: int, concurrency: int) -> dict[str, Any]:
    from api import signedbatch

    people = world["people"]
    lot = world["lots"]["gate"]
    calls = []
    for n in range(count):
        person = people[(n * 2) % len(people)]  # a booked one
        plate = (person["plate"], f"沪Z{n % 99999:05d}", person["plate"][:-1] + "9")[n % 3]
        calls.append({"lot_id": lot, "lane": f"L{n}", "direction": "entry", "plate": plate})  # unique: not a replay

    def decide(call: dict[str, Any]) -> tuple[int | None, Any, float]:
        body = json.dumps(call, ensure_ascii=False).encode()
        stamp = int(time.time())
        return request(
            port, "POST", "/api/v1/parking/gates/decisions", body,
            {
                signedbatch.PLATFORM_HEADER: GATE,
                signedbatch.TIMESTAMP_HEADER: str(stamp),
                signedbatch.SIGNATURE_HEADER: signedbatch.sign(GATE_SECRET, stamp, body),
            },
        )  # fmt: skip

    started = time.perf_counter()
    # Each lane asks again as soon as it has its answer (a car every few seconds per lane in real life).
    with ThreadPoolExecutor(max_workers=concurrency) as pool:
        answers = list(pool.map(decide, calls))
    elapsed = time.perf_counter() - started
    latencies = sorted(s for *_rest, s in answers)
    outcomes: dict[str, int] = {}
    for status, body, _ in answers:
        key = (
            f"{body.get('decision')}:{body.get('reason')}" if status == 200 and isinstance(body, dict) else str(status)
        )
        outcomes[key] = outcomes.get(key, 0) + 1
    return {
        "requests": len(answers),
        "per_s": round(len(answers) / elapsed, 1) if elapsed else None,
        "p50_ms": round(1000 * (percentile(latencies, 50) or 0), 1),
        "p99_ms": round(1000 * (percentile(latencies, 99) or 0), 1),
        "outcomes": outcomes,
    }


def invariants(app: Any) -> dict[str, int]:
    from sqlalchemy import text

    from api.db import db

    with app.app_context():
        overlaps = db.session.execute(
            text(
                "SELECT count(*) FROM parking_holds a JOIN parking_holds b ON a.space_id = b.space_id AND a.id < b.id "
                "WHERE a.released_at IS NULL AND b.released_at IS NULL AND NOT a.pooled "
                "AND tstzrange(a.starts_at, a.until, '[)') && tstzrange(b.starts_at, b.until, '[)')"
            )
        ).scalar_one()
        peak = db.session.execute(
            text(
                "SELECT coalesce(max(c), 0) FROM (SELECT (SELECT count(*) FROM parking_holds b WHERE b.space_id = "
                "a.space_id AND b.released_at IS NULL AND b.starts_at <= a.starts_at AND b.until > a.starts_at) AS c "
                "FROM parking_holds a WHERE a.pooled AND a.released_at IS NULL) AS peaks"
            )
        ).scalar_one()
    return {"bay_overlaps": int(overlaps), "pool_peak": int(peak)}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--database-url", default=DEFAULT_DATABASE_URL)
    parser.add_argument("--redis-url", default=DEFAULT_REDIS_URL)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--residents", type=int, default=400)
    parser.add_argument("--places", type=int, default=40)
    parser.add_argument("--concurrency", type=int, default=32)
    parser.add_argument("--decisions", type=int, default=2000)
    parser.add_argument(
        "--gate-concurrency", type=int, default=4, help="lanes asking at once (a lot has a few; the rush has more)"
    )
    parser.add_argument("--seed", type=int, default=17)
    parser.add_argument("--keep", action="store_true")
    args = parser.parse_args(argv)
    url = args.database_url
    tmp = Path(tempfile.mkdtemp(prefix="linli-bench-parking-"))
    server = None
    created = False
    try:
        check_redis(args.redis_url)
        recreate_database(url)
        created = True
        from alembic import command

        from api.cli import alembic_config

        command.upgrade(alembic_config(url), "head")
        secret = secrets.token_urlsafe(48)
        app = build_app(url, args.redis_url, secret, tmp / "bench-instance")
        t = time.monotonic()
        world = seed(app, args.residents, args.places)
        print(f"seeded {args.residents} residents with cars and tokens in {time.monotonic() - t:.1f} s", flush=True)
        env = {k: os.environ[k] for k in ("PATH", "HOME", "LANG", "LC_ALL", "TMPDIR") if k in os.environ}
        env.update(
            PYTHONUNBUFFERED="1", DATABASE_URL=url, REDIS_URL=args.redis_url, CELERY_ALWAYS_EAGER="1",
            SECRET_KEY=secret, LINLI_INSTANCE_PATH=str(tmp / "instance"), WEB_CONCURRENCY=str(args.workers),
        )  # fmt: skip
        port = free_port()
        server = start_gunicorn(env, port, tmp / "gunicorn.log")
        print(f"gunicorn -w {args.workers} on {HOST}:{port}, {args.concurrency} client threads", flush=True)
        booking = rush(port, world, args.concurrency, args.seed)
        held = invariants(app)
        gate = decisions(port, world, args.decisions, args.gate_concurrency)
        print("\nrush (bookings from quotes, all released at once):")
        for key, value in booking.items():
            print(f"  {key:16} {value}")
        print(f"\ngate decisions (signed, synchronous; {args.gate_concurrency} lanes asking at once):")
        for key, value in gate.items():
            print(f"  {key:16} {value}")
        ok = held["bay_overlaps"] == 0 and held["pool_peak"] <= args.places and booking["errors_5xx"] == 0
        print(
            f"\ninvariants: {held['bay_overlaps']} overlapping live holds on a bay (0), pool peak {held['pool_peak']} "
            f"(≤ {args.places}): {'OK' if ok else 'FAILED'}"
        )
        return 0 if ok else 1
    except BenchError as exc:
        print(f"parking_rush: {exc}", file=sys.stderr)
        return 2
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
    os.chdir(PROJECT_ROOT)
    sys.exit(main())
