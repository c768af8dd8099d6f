"""Bench data generator: years of a subdistrict's incidents, alerts and bookings, loaded set-based.

    .venv/bin/python bench/generate.py --database-url postgresql+psycopg://postgres@127.0.0.1:5432/linli_bench_all \
                                       [--scale standard|district] [--fresh]

It writes into a database that is already migrated and holds the demo seed (`flask seed-demo`, or
`platform.seeds`): it needs the 控江路街道 areas and rooms, the incident categories, the demo admin and the
resident 张三. With `--fresh` it first drops and recreates the database (its name must contain "bench"),
migrates it and loads the demo seed itself. `bench/all.py` calls `generate()` on its own database.

Everything is one `INSERT … SELECT … FROM generate_series(…)` per table inside PostgreSQL — no rows travel
through Python — so a district (1,000,000 incidents) loads in minutes, not hours:

| scale | incidents | alerts | over | devices | bookings | events | bench residents |
|---|--:|--:|--:|--:|--:|--:|--:|
| `standard` | 200,000 | 20,000 | a year | 2,000 | 20,000 | 200 | 2,000 |
| `district` | 1,000,000 | 200,000 | five years | 20,000 | 200,000 | 2,000 | 20,000 |

Ids are time-ordered (UUIDv7-shaped, from the row's creation time) as the app's own are, so "newest first"
lists page through the same index order they would in production. 张三 gets 30 bookings of upcoming events
and 30 incidents of his own; everything else belongs to generated residents. Rows are spread over every
committee, so a committee's staff member sees about 1/25 of them and the subdistrict admin all of them.
Alerts are resolved (the open-alert uniqueness per device and rule holds trivially); incidents go through
the statuses in a plausible mix with the timestamps each status implies.
"""

from __future__ import annotations

import argparse
import sys
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

PROJECT_ROOT = Path(__file__).resolve().parent.parent


def _importable() -> None:
    """Run as a script: the project and its sibling benches importable (importing this module changes nothing)."""
    for path in (PROJECT_ROOT, PROJECT_ROOT / "bench"):
        if str(path) not in sys.path:
            sys.path.insert(0, str(path))


@dataclass(frozen=True)
class Scale:
    incidents: int
    alerts: int
    devices: int
    bookings: int
    events: int
    residents: int
    days: int = 365  # the history incidents and alerts are spread over, ending now


SCALES = {
    "standard": Scale(incidents=200_000, alerts=20_000, devices=2_000, bookings=20_000, events=200, residents=2_000),
    # Five years of a district's history: the past year holds about as many incidents as `standard`, so the
    # statistics over a year count the same ~200,000 rows with four times as many more in the tables.
    "district": Scale(
        incidents=1_000_000,
        alerts=200_000,
        devices=20_000,
        bookings=200_000,
        events=2_000,
        residents=20_000,
        days=5 * 365,
    ),
    # For the harness's own smoke run (--quick): enough for full pages, nothing more.
    "tiny": Scale(incidents=2_000, alerts=1_000, devices=200, bookings=1_000, events=60, residents=200),
}

# A time-ordered id from a timestamp: 48 bits of Unix milliseconds, version 7, variant 8, random rest.
UUID7_FUNCTION = """
CREATE OR REPLACE FUNCTION pg_temp.bench_uuid7(ts timestamptz) RETURNS uuid LANGUAGE sql VOLATILE AS $$
  SELECT (lpad(to_hex(floor(extract(epoch FROM ts) * 1000)::bigint), 12, '0') || '7'
          || substr(md5(random()::text), 1, 3) || '8' || substr(md5(random()::text), 1, 15))::uuid
$$
"""

# Each statement gets the scale's counts as parameters; %(…)s are psycopg placeholders.
STATEMENTS: list[tuple[str, str]] = [
    (
        "lookups",
        """
        CREATE TEMP TABLE g_buildings AS
          SELECT row_number() OVER (ORDER BY id) AS n, id, path FROM areas WHERE kind = 'building';
        CREATE TEMP TABLE g_committees AS
          SELECT row_number() OVER (ORDER BY code) AS n, id FROM areas WHERE kind = 'committee';
        CREATE TEMP TABLE g_rooms AS
          SELECT row_number() OVER (ORDER BY r.id) AS n, r.id, a.path
          FROM rooms r JOIN areas a ON a.id = r.building_id;
        CREATE TEMP TABLE g_categories AS
          SELECT row_number() OVER (ORDER BY code) AS n, id, time_limit_hours
          FROM incident_categories WHERE parent_id IS NOT NULL AND active;
        """,
    ),
    (
        "residents",
        """
        INSERT INTO users (id, nickname, wechat_openid, created_at, updated_at)
        SELECT pg_temp.bench_uuid7(now() - interval '400 days' + g * interval '1 second'),
               '居民' || g, 'bench-gen-' || g, now() - interval '400 days', now() - interval '400 days'
        FROM generate_series(1, %(residents)s) g;
        INSERT INTO user_roles (user_id, role)
        SELECT id, 'resident' FROM users WHERE wechat_openid LIKE 'bench-gen-%%';
        CREATE TEMP TABLE g_residents AS
          SELECT row_number() OVER (ORDER BY id) AS n, id FROM users WHERE wechat_openid LIKE 'bench-gen-%%';
        """,
    ),
    (
        "events",
        # Half of them over the past year, half in the coming months; every one published, 1,000 seats.
        """
        INSERT INTO events (id, title, description, category, venue, area_id, starts_at, ends_at,
                            booking_opens_at, booking_closes_at, capacity, seats_taken, waitlist_limit,
                            waitlist_count, next_waitlist_seq, max_companions, cancel_cutoff_minutes, eligibility,
                            status, published_at, created_by_id, created_at, updated_at)
        SELECT pg_temp.bench_uuid7(s.at - interval '20 days'), '社区活动 ' || g, '',
               (ARRAY['culture','sports','health','party','volunteer','other'])[1 + g %% 6],
               '睦邻中心 ' || (g %% 25), c.id, s.at, s.at + interval '2 hours',
               s.at - interval '20 days', s.at - interval '1 hour', 1000, 0, 100, 0, 1, 0, 120, '{}'::json,
               'published', s.at - interval '20 days', %(admin_id)s, s.at - interval '20 days',
               s.at - interval '20 days'
        FROM generate_series(1, %(events)s) g
        CROSS JOIN LATERAL (SELECT now() - interval '365 days' + (g::float / %(events)s) * interval '540 days'
                            + interval '9 hours' AS at) s
        JOIN g_committees c ON c.n = 1 + g %% (SELECT count(*) FROM g_committees);
        CREATE TEMP TABLE g_events AS
          SELECT row_number() OVER (ORDER BY starts_at, id) AS n, id, starts_at FROM events
          WHERE title LIKE '社区活动 %%';
        """,
    ),
    (
        "bookings",
        # Booking i: event i mod E, resident (i div E) mod R — a distinct (event, resident) pair while
        # bookings <= events x residents. One in ten cancelled.
        """
        INSERT INTO bookings (id, event_id, user_id, status, party_size, created_at, confirmed_at, cancelled_at)
        SELECT pg_temp.bench_uuid7(e.starts_at - interval '10 days'), e.id, r.id,
               CASE WHEN g %% 10 = 0 THEN 'cancelled' ELSE 'confirmed' END, 1,
               e.starts_at - interval '10 days', e.starts_at - interval '10 days',
               CASE WHEN g %% 10 = 0 THEN e.starts_at - interval '5 days' END
        FROM generate_series(0, %(bookings)s - 1) g
        JOIN g_events e ON e.n = 1 + g %% %(events)s
        JOIN g_residents r ON r.n = 1 + (g / %(events)s) %% %(residents)s;
        INSERT INTO bookings (id, event_id, user_id, status, party_size, created_at, confirmed_at)
        SELECT pg_temp.bench_uuid7(now() - interval '1 day' + e.n * interval '1 second'), e.id, %(resident_id)s,
               'confirmed', 1, now() - interval '1 day', now() - interval '1 day'
        FROM g_events e WHERE e.starts_at > now() ORDER BY e.n LIMIT 30;
        UPDATE events SET seats_taken = b.taken
        FROM (SELECT event_id, count(*) AS taken FROM bookings WHERE status = 'confirmed' GROUP BY event_id) b
        WHERE b.event_id = events.id;
        """,
    ),
    (
        "devices",
        """
        INSERT INTO devices (id, serial, type, room_id, status, heartbeat_interval_seconds, last_seen_at, created_at)
        SELECT pg_temp.bench_uuid7(now() - interval '400 days'), 'KJ-GEN-' || lpad(g::text, 6, '0'),
               (ARRAY['door_sensor','smoke_detector','door_sensor','smoke_detector','arc_fault_breaker',
                      'gas_detector','water_leak_sensor','sos_button'])[1 + g %% 8],
               r.id, 'active', 3600, now(), now() - interval '400 days'
        FROM generate_series(1, %(devices)s) g
        JOIN g_rooms r ON r.n = 1 + (g::bigint * 7919) %% (SELECT count(*) FROM g_rooms);
        CREATE TEMP TABLE g_devices AS
          SELECT row_number() OVER (ORDER BY d.id) AS n, d.id, d.type, d.room_id, r.path
          FROM devices d JOIN g_rooms r ON r.id = d.room_id WHERE d.serial LIKE 'KJ-GEN-%%';
        """,
    ),
    (
        "alerts",
        # A year of resolved alerts; one in four a false alarm; acknowledged 1-10 minutes after.
        """
        INSERT INTO alerts (id, device_id, room_id, area_path, rule, severity, status, count, first_at, last_at,
                            escalation_level, acknowledged_at, resolved_at, resolution, created_at)
        SELECT pg_temp.bench_uuid7(s.at), d.id, d.room_id, d.path,
               CASE d.type WHEN 'door_sensor' THEN 'door_inactivity' WHEN 'smoke_detector' THEN 'smoke'
                           WHEN 'arc_fault_breaker' THEN 'arc_fault' WHEN 'gas_detector' THEN 'gas'
                           WHEN 'water_leak_sensor' THEN 'water_leak' ELSE 'sos' END,
               CASE WHEN d.type IN ('smoke_detector', 'gas_detector', 'sos_button') THEN 'critical'
                    ELSE 'warning' END,
               'resolved', 1, s.at, s.at, 1, s.at + (1 + g %% 10) * interval '1 minute',
               s.at + interval '30 minutes', CASE WHEN g %% 4 = 0 THEN 'false_alarm' ELSE 'handled' END, s.at
        FROM generate_series(1, %(alerts)s) g
        CROSS JOIN LATERAL (SELECT now() - %(days)s * interval '1 day'
                                   + (g::float / %(alerts)s) * %(days)s * interval '1 day' - interval '1 hour' AS at) s
        JOIN g_devices d ON d.n = 1 + (g::bigint * 104729) %% %(devices)s;
        """,
    ),
    (
        "incidents",
        # A year of cases. Status by age and chance: most closed, some resolved, in progress, or waiting.
        """
        INSERT INTO incidents (id, category_id, reporter_id, source, status, description, area_id,
                               external_media_urls, attributes, due_at, escalation_level, accepted_at,
                               dispatched_at, started_at, resolved_at, closed_at, feedback_score, feedback_at,
                               reopen_count, created_at, updated_at)
        SELECT pg_temp.bench_uuid7(s.at), c.id,
               CASE WHEN g <= 30 THEN %(resident_id)s ELSE r.id END,
               'miniprogram', s.status, '楼道堆物 ' || g, b.id, '[]'::json, '{}'::json,
               s.at + c.time_limit_hours * interval '1 hour', 0,
               CASE WHEN s.status <> 'submitted' THEN s.at + interval '20 minutes' END,
               CASE WHEN s.status IN ('dispatched', 'in_progress', 'resolved', 'closed')
                    THEN s.at + interval '1 hour' END,
               CASE WHEN s.status IN ('in_progress', 'resolved', 'closed') THEN s.at + interval '2 hours' END,
               CASE WHEN s.status IN ('resolved', 'closed') THEN s.at + (2 + g %% 70) * interval '1 hour' END,
               CASE WHEN s.status = 'closed' THEN s.at + (3 + g %% 70) * interval '1 hour' END,
               CASE WHEN s.status = 'closed' AND g %% 3 = 0 THEN 1 + g %% 5 END,
               CASE WHEN s.status = 'closed' AND g %% 3 = 0 THEN s.at + (4 + g %% 70) * interval '1 hour' END,
               0, s.at, s.at
        FROM generate_series(1, %(incidents)s) g
        CROSS JOIN LATERAL (
          SELECT now() - %(days)s * interval '1 day' + (g::float / %(incidents)s) * %(days)s * interval '1 day'
                 - interval '10 minutes' AS at,
                 CASE WHEN g %% 50 = 0 THEN 'rejected'
                      WHEN g > %(incidents)s * 0.98 THEN (ARRAY['submitted','accepted','dispatched','in_progress',
                                                                'resolved'])[1 + g %% 5]
                      WHEN g %% 17 = 0 THEN 'resolved'
                      ELSE 'closed' END AS status) s
        JOIN g_categories c ON c.n = 1 + g %% (SELECT count(*) FROM g_categories)
        JOIN g_buildings b ON b.n = 1 + (g::bigint * 7919) %% (SELECT count(*) FROM g_buildings)
        JOIN g_residents r ON r.n = 1 + g %% %(residents)s;
        """,
    ),
]


class GenerateError(RuntimeError):
    """The database lacks what the generator builds on (demo seed, schema); the message says what."""


def generate(database_url: str, scale: str | Scale = "standard", *, verbose: bool = True) -> dict[str, Any]:
    """Load `scale` into the (migrated, demo-seeded) database; return the counts and seconds per table."""
    import psycopg
    from sqlalchemy.engine import make_url

    sizes = SCALES[scale] if isinstance(scale, str) else scale
    url = make_url(database_url)
    params = {
        "host": url.host or "127.0.0.1",
        "port": url.port or 5432,
        "user": url.username or "postgres",
        "dbname": url.database,
    }
    if url.password:
        params["password"] = url.password
    timings: dict[str, float] = {}
    started = time.monotonic()
    with psycopg.connect(**params) as conn:
        admin = conn.execute("SELECT id FROM users WHERE username = 'admin'").fetchone()
        resident = conn.execute("SELECT id FROM users WHERE nickname = '张三' AND wechat_openid IS NOT NULL").fetchone()
        if admin is None or resident is None:
            raise GenerateError("the database has no demo seed (admin, 张三): run `flask seed-demo` first")
        done = conn.execute("SELECT count(*) FROM users WHERE wechat_openid LIKE 'bench-gen-%'").fetchone()
        if done and done[0]:
            raise GenerateError("the database already holds generated rows (bench-gen-* residents)")
        conn.execute(UUID7_FUNCTION)
        values = asdict(sizes) | {"admin_id": admin[0], "resident_id": resident[0]}
        for name, sql in STATEMENTS:
            t = time.monotonic()
            for statement in (s.strip() for s in sql.split(";\n")):
                if statement:
                    conn.execute(statement, values)
            timings[name] = round(time.monotonic() - t, 2)
            if verbose:
                print(f"  generated {name} in {timings[name]:.1f} s", flush=True)
        conn.commit()
        conn.autocommit = True
        t = time.monotonic()
        conn.execute("ANALYZE")
        timings["analyze"] = round(time.monotonic() - t, 2)
        counts = {
            table: conn.execute(f"SELECT count(*) FROM {table}").fetchone()[0]  # type: ignore[index]
            for table in ("incidents", "alerts", "devices", "bookings", "events", "users")
        }
    total = round(time.monotonic() - started, 1)
    return {"scale": asdict(sizes), "counts": counts, "seconds": timings, "total_s": total}


def fresh_database(database_url: str) -> None:
    """Drop, create, migrate and load the demo seed (the state `generate` builds on)."""
    import secrets
    import tempfile

    _importable()
    from alembic import command
    from booking_rush import build_app, recreate_database

    from api import platform
    from api.cli import alembic_config
    from api.db import db

    recreate_database(database_url)
    command.upgrade(alembic_config(database_url), "head")
    app = build_app(database_url, "redis://127.0.0.1:6379/14", secrets.token_urlsafe(48), Path(tempfile.mkdtemp()))
    with app.app_context():
        for _domain, seed_part in platform.seeds(app.extensions["linli.domains"]):
            seed_part()
        db.session.commit()
        db.session.remove()
        db.engine.dispose()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--database-url", default="postgresql+psycopg://postgres@127.0.0.1:5432/linli_bench_data")
    parser.add_argument("--scale", choices=sorted(SCALES), default="standard")
    parser.add_argument("--fresh", action="store_true", help="drop, create, migrate and seed the database first")
    args = parser.parse_args(argv)
    _importable()
    try:
        if args.fresh:
            print(f"recreating {args.database_url} with the demo seed …", flush=True)
            fresh_database(args.database_url)
        result = generate(args.database_url, args.scale)
    except GenerateError as exc:
        print(f"generate: {exc}", file=sys.stderr)
        return 2
    counts = ", ".join(f"{k} {v:,}" for k, v in result["counts"].items())
    print(f"loaded {args.scale} in {result['total_s']} s: {counts}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
