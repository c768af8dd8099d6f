"""Device registry import benchmark: the subdistrict's 19,715 IoT devices in one CSV.

    .venv/bin/python bench/device_import.py [--database-url postgresql+psycopg://postgres@127.0.0.1:5432/linli_bench_devices]
                                            [--rows 19715] [--keep]

What it does, in order:

1. drops and recreates the benchmark database (its name must contain "bench"), migrates it to head and runs
   the demo seed (`seed_demo`: 60 estates, ~30,000 rooms, the admin);
2. generates a CSV of `--rows` devices spread over the seeded rooms (building code/room number), with the
   subdistrict's mix of types (door sensors and smoke detectors above all), installation dates and, for
   one row in ten, an explicit heartbeat interval;
3. posts it to `POST /api/v1/admin/devices/import` as the demo admin through the app in process (the route,
   the service and PostgreSQL; no HTTP server in between), once as a first import (every row created) and once
   again (every row an upsert of an existing serial), and prints rows/s for each;
4. checks that the table holds exactly `--rows` devices and no row failed; drops the database unless `--keep`.
"""

from __future__ import annotations

import argparse
import csv
import io
import random
import sys
import time
from pathlib import Path

PROJECT_ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(PROJECT_ROOT))

from run import BenchError, drop_database, recreate_database  # noqa: E402  (the benchmarks' one way, bench/run.py)

DEFAULT_URL = "postgresql+psycopg://postgres@127.0.0.1:5432/linli_bench_devices"
# Roughly the subdistrict's installed base (门磁, 烟感, 电弧, …) by share.
MIX = [
    ("door_sensor", 0.34),
    ("smoke_detector", 0.34),
    ("arc_fault_breaker", 0.12),
    ("gas_detector", 0.08),
    ("water_leak_sensor", 0.04),
    ("sos_button", 0.04),
    ("fall_detector", 0.02),
    ("blood_pressure_monitor", 0.02),
]


def make_csv(rooms: list[tuple[str, str]], rows: int, seed: int = 19715) -> bytes:
    rng = random.Random(seed)
    kinds = [k for k, _ in MIX]
    weights = [w for _, w in MIX]
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(["serial", "type", "room", "elder_id", "installed_on", "heartbeat_interval_seconds"])
    for n in range(rows):
        code, number = rooms[n % len(rooms)]
        kind = rng.choices(kinds, weights)[0]
        installed = f"20{rng.randint(19, 25)}-{rng.randint(1, 12):02d}-{rng.randint(1, 28):02d}"
        heartbeat = str(rng.choice((1800, 3600, 7200))) if n % 10 == 0 else ""
        writer.writerow([f"NB{n:08d}", kind, f"{code}/{number}", "", installed, heartbeat])
    return out.getvalue().encode()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--database-url", default=DEFAULT_URL)
    parser.add_argument("--rows", type=int, default=19_715)
    parser.add_argument("--keep", action="store_true", help="keep the benchmark database afterwards")
    args = parser.parse_args()

    from alembic import command
    from sqlalchemy import func, select

    from api import create_app
    from api.accounts.models import Area, Room
    from api.accounts.seed import DEMO_ADMIN, seed_demo
    from api.cli import alembic_config
    from api.config import Settings
    from api.db import db
    from api.devices.models import Device

    try:
        recreate_database(args.database_url)
    except BenchError as exc:
        print(f"device_import: {exc}", file=sys.stderr)
        return 2
    try:
        command.upgrade(alembic_config(args.database_url), "head")
        settings = Settings(env="test", database_url=args.database_url, celery_always_eager=True)
        app = create_app(settings)
        with app.app_context():
            seed_demo()
            db.session.commit()
            rooms = [
                (code, number)
                for code, number in db.session.execute(
                    select(Area.code, Room.number)
                    .join(Area, Area.id == Room.building_id)
                    .order_by(Area.code, Room.number)
                )
            ]
            db.session.remove()
        body = make_csv(rooms, args.rows)
        client = app.test_client()
        login = client.post("/api/v1/auth/staff-login", json={"username": DEMO_ADMIN[0], "password": DEMO_ADMIN[1]})
        headers = {"Authorization": f"Bearer {login.get_json()['access_token']}"}
        print(
            f"CSV: {args.rows} rows over {len(rooms)} rooms, {len(body) / 1e6:.2f} MB; PostgreSQL {args.database_url}"
        )
        with app.app_context():
            before = db.session.scalar(select(func.count(Device.id)))
            db.session.remove()
        ok = True
        for label in ("first import (insert)", "second import (upsert)"):
            started = time.perf_counter()
            response = client.post("/api/v1/admin/devices/import", data=body, content_type="text/csv", headers=headers)
            elapsed = time.perf_counter() - started
            result = response.get_json()
            if response.status_code != 200 or result["failed"]:
                print(f"{label}: FAILED {response.status_code} {str(result)[:500]}")
                ok = False
                continue
            print(
                f"{label}: {result['received']} rows in {elapsed:.2f} s = {result['received'] / elapsed:,.0f} rows/s "
                f"(created {result['created']}, updated {result['updated']}, failed {result['failed']})"
            )
        with app.app_context():
            count = db.session.scalar(select(func.count(Device.id)))
            db.session.remove()
        expected = before + args.rows  # the demo seed's own devices, and the imported ones
        print(f"devices in the registry: {count}, expected {expected} ({'OK' if count == expected else 'FAILED'})")
        ok = ok and count == expected
        if db.engine is not None:
            db.engine.dispose()
        return 0 if ok else 1
    finally:
        if not args.keep:
            drop_database(args.database_url)


if __name__ == "__main__":
    sys.exit(main())
