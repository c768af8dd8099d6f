"""In-process measurement of the read path: SQL statements and milliseconds per request of the reads the
mini-program and the staff console make most, and of the incident and alert statistics over a year of data.

No network and no concurrency (the Flask test client, one request after another), so the figures hold on a
busy machine better than req/s do; compare two trees (before and after a change) with the same database.

    .venv/bin/python bench/read_path.py --prepare               # build linli_readpath_bench, then measure
    .venv/bin/python bench/read_path.py                         # measure again on the kept database
    .venv/bin/python bench/read_path.py --profile me            # and cProfile one scenario (top 25 by own time)
    .venv/bin/python bench/read_path.py --only incident-stats alert-stats --requests 5

`--prepare` drops and recreates the database (its name must contain `bench`), migrates it, runs `seed-demo`
(the 控江路街道 demo: 1,640 areas, 29,942 rooms), and adds with plain SQL (`generate_series`): `--incidents`
cases (default 200,000) spread over the last year, 20,000 smoke detectors and `--alerts` alerts (default
50,000), 2,000 pending household requests, 30 published events and 25 bookings of 张三 (half waitlisted); 张三
reported the newest 30 incidents.
"""

from __future__ import annotations

import argparse
import cProfile
import os
import pstats
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

PROJECT_ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(PROJECT_ROOT))
sys.path.insert(0, str(PROJECT_ROOT / "bench"))

from run import add_pending_requests, bench_env, recreate_database, run_cli  # noqa: E402

DEFAULT_URL = "postgresql+psycopg://postgres@127.0.0.1:5432/linli_readpath_bench"

DATA_SQL = [
    # A year of incidents in the estates of the subdistrict: most closed, some open, some late, some rated.
    """INSERT INTO incidents (id, category_id, source, status, description, address, area_id, external_media_urls,
                              attributes, escalation_level, reopen_count, created_at, updated_at, accepted_at,
                              due_at, resolved_at, feedback_score)
       SELECT gen_random_uuid(), c.ids[1 + g %% array_length(c.ids, 1)], 'miniprogram',
              (ARRAY['closed','closed','closed','closed','closed','resolved','rejected','submitted','accepted',
                     'in_progress'])[1 + g %% 10],
              'bench', 'bench', e.ids[1 + g %% array_length(e.ids, 1)], '[]', '{}', 0, 0,
              t.at, t.at, t.at, t.at + interval '72 hours',
              CASE WHEN g %% 10 < 6 THEN t.at + (g %% 97) * interval '1 hour' END,
              CASE WHEN g %% 10 < 5 AND g %% 3 = 0 THEN 1 + g %% 5 END
       FROM generate_series(1, %(incidents)s) g
       CROSS JOIN (SELECT array_agg(id) AS ids FROM areas WHERE kind = 'estate') e
       CROSS JOIN (SELECT array_agg(id) AS ids FROM incident_categories WHERE parent_id IS NOT NULL) c
       CROSS JOIN LATERAL (SELECT now() - (g %% 365) * interval '1 day' - (g %% 1440) * interval '1 minute' AS at) t""",
    """INSERT INTO devices (id, serial, type, room_id, status, heartbeat_interval_seconds, created_at)
       SELECT gen_random_uuid(), 'BENCH-SMK-' || g, 'smoke_detector', r.id, 'active', 3600, now()
       FROM (SELECT id, row_number() OVER (ORDER BY id) AS g FROM rooms LIMIT 20000) r""",
    # Alerts over the year; only the newest one of a device may be unresolved (one open alert per device and rule).
    """INSERT INTO alerts (id, device_id, room_id, area_path, rule, severity, status, count, first_at, last_at,
                           escalation_level, acknowledged_at, resolved_at, resolution, created_at)
       SELECT gen_random_uuid(), d.id, d.room_id, b.path,
              (ARRAY['smoke','gas','water_leak','sos','fall'])[1 + g %% 5], (ARRAY['critical','warning'])[1 + g %% 2],
              CASE WHEN g <= 20000 AND g %% 7 = 0 THEN 'open' ELSE 'resolved' END, 1, t.at, t.at, 0,
              CASE WHEN g <= 20000 AND g %% 7 = 0 THEN NULL ELSE t.at + (g %% 600) * interval '1 second' END,
              CASE WHEN g <= 20000 AND g %% 7 = 0 THEN NULL ELSE t.at + interval '1 hour' END,
              CASE WHEN g <= 20000 AND g %% 7 = 0 THEN NULL WHEN g %% 4 = 0 THEN 'false_alarm' ELSE 'handled' END,
              t.at
       FROM generate_series(1, %(alerts)s) g
       JOIN (SELECT id, room_id, row_number() OVER (ORDER BY id) AS n FROM devices WHERE serial LIKE 'BENCH-%%') d
         ON d.n = 1 + (g - 1) %% 20000
       JOIN rooms r ON r.id = d.room_id JOIN areas b ON b.id = r.building_id
       CROSS JOIN LATERAL (SELECT now() - (g %% 365) * interval '1 day' - (g %% 1440) * interval '1 minute' AS at) t""",
    """INSERT INTO events (id, title, description, category, venue, area_id, starts_at, ends_at, booking_opens_at,
                           booking_closes_at, capacity, seats_taken, waitlist_limit, waitlist_count,
                           next_waitlist_seq, max_companions, cancel_cutoff_minutes, eligibility, status,
                           published_at, created_by_id, created_at, updated_at)
       SELECT gen_random_uuid(), '活动' || g, '', 'sports', '睦邻中心', a.id, now() + g * interval '1 day',
              now() + g * interval '1 day' + interval '2 hours', now() - interval '1 day', now() + interval '1 day',
              30, 1, 10, 1, 2, 0, 120, '{}', 'published', now(), u.id, now(), now()
       FROM generate_series(1, 30) g
       CROSS JOIN (SELECT id FROM areas WHERE code = 'KJ01') a
       CROSS JOIN (SELECT id FROM users WHERE username = 'kj01-staff') u""",
    """INSERT INTO bookings (id, event_id, user_id, status, party_size, waitlist_seq, created_at, confirmed_at)
       SELECT gen_random_uuid(), e.id, u.id, CASE WHEN e.n %% 2 = 0 THEN 'waitlisted' ELSE 'confirmed' END, 1,
              CASE WHEN e.n %% 2 = 0 THEN 1 END, now(), CASE WHEN e.n %% 2 = 1 THEN now() END
       FROM (SELECT id, row_number() OVER (ORDER BY starts_at) AS n FROM events) e
       CROSS JOIN (SELECT u.id FROM users u JOIN household_members m ON m.user_id = u.id
                   WHERE u.nickname = '张三' LIMIT 1) u
       WHERE e.n <= 25""",
    # 张三 reported the newest 30 of them (their own case is what `/incidents/{id}` shows a resident).
    """UPDATE incidents SET reporter_id = (SELECT id FROM users WHERE nickname = '张三' AND wechat_openid IS NOT NULL
                                          LIMIT 1)
       WHERE id IN (SELECT id FROM incidents ORDER BY created_at DESC LIMIT 30)""",
    "ANALYZE",
]


def prepare(database_url: str, redis_url: str, incidents: int, alerts: int) -> None:
    import psycopg
    from run import _pg_params

    recreate_database(database_url)
    env = bench_env(database_url, redis_url, Path(tempfile.mkdtemp(prefix="linli-readpath-")) / "instance")
    t0 = time.monotonic()
    run_cli(env, "db", "upgrade")
    run_cli(env, "seed-demo")
    add_pending_requests(database_url, 2000)
    params, dbname = _pg_params(database_url)
    _app(database_url, redis_url)  # the incident catalogue (seeded by the app when missing)
    with psycopg.connect(dbname=dbname, autocommit=True, **params) as conn:
        for statement in DATA_SQL:
            conn.execute(statement, {"incidents": incidents, "alerts": alerts})
    print(f"prepared {dbname} in {time.monotonic() - t0:.0f} s: {incidents:,} incidents, {alerts:,} alerts")


def _app(database_url: str, redis_url: str) -> Any:
    from api import create_app
    from api.config import Settings
    from api.db import db
    from api.incidents.categories import ensure_default_catalogue

    env = bench_env(database_url, redis_url, Path(tempfile.mkdtemp(prefix="linli-readpath-")) / "instance")
    env.update({k: v for k, v in os.environ.items() if k.startswith("DATABASE_READ")})
    app = create_app(Settings.from_env(env))
    with app.app_context():
        ensure_default_catalogue()
        db.session.commit()
    return app


def scenarios(app: Any) -> dict[str, tuple[str, dict[str, str]]]:
    from sqlalchemy import select

    from api.accounts.models import Area, User
    from api.alerts.models import Alert
    from api.auth import issue_access_token
    from api.db import db
    from api.events.models import Booking
    from api.incidents.models import Incident

    secret = app.config["SECRET_KEY"]
    with app.app_context():
        resident = db.session.scalar(select(User).where(User.nickname == "张三").limit(1))
        staff = db.session.scalar(select(User).where(User.username == "kj01-staff"))
        admin = db.session.scalar(select(User).where(User.username == "admin"))
        kj = db.session.scalar(select(Area).where(Area.code == "KJ"))
        booking = db.session.scalar(select(Booking).where(Booking.user_id == resident.id).limit(1))
        case = db.session.scalar(select(Incident).where(Incident.area_path.startswith("/KJ/KJ01/")).limit(1))
        own_case = db.session.scalar(select(Incident).where(Incident.reporter_id == resident.id).limit(1))
        alert = db.session.scalar(select(Alert).where(Alert.area_path.startswith("/KJ/KJ01/")).limit(1))

        def headers(user: Any) -> dict[str, str]:
            return {"Authorization": "Bearer " + issue_access_token(user, secret=secret, ttl_seconds=3600)}

        as_resident, as_staff, as_admin = headers(resident), headers(staff), headers(admin)
        year = "from=" + _iso(-365) + "&to=" + _iso(0)
        return {
            "healthz": ("/healthz", {}),
            "me": ("/api/v1/me", as_resident),
            "events": ("/api/v1/events?limit=20", as_resident),
            "event": (f"/api/v1/events/{booking.event_id}", as_resident),
            "areas": (f"/api/v1/areas?parent_id={kj.id}&limit=20", as_resident),
            "my-bookings": ("/api/v1/me/bookings?limit=20", as_resident),
            "booking": (f"/api/v1/bookings/{booking.id}", as_resident),
            "incident": (f"/api/v1/incidents/{own_case.id}", as_resident),
            "admin-incidents": ("/api/v1/admin/incidents?limit=20", as_staff),
            "admin-incident": (f"/api/v1/admin/incidents/{case.id}", as_staff),
            "admin-alerts": ("/api/v1/admin/alerts?limit=20", as_staff),
            "admin-alert": (f"/api/v1/admin/alerts/{alert.id}", as_staff),
            "admin-requests": ("/api/v1/admin/household-requests?limit=20", as_staff),
            "incident-stats": (f"/api/v1/admin/incidents/stats?group_by=committee&{year}", as_admin),
            "incident-stats-kj01": (f"/api/v1/admin/incidents/stats?group_by=category&{year}", as_staff),
            "alert-stats": (f"/api/v1/admin/alerts/stats?{year}", as_admin),
        }


def _iso(days: int) -> str:
    from datetime import UTC, datetime, timedelta

    return (datetime.now(UTC) + timedelta(days=days)).strftime("%Y-%m-%dT%H:%M:%S%%2B00:00")


def measure(app: Any, url: str, headers: dict[str, str], requests: int) -> dict[str, Any]:
    from sqlalchemy import event

    from api.db import db

    client = app.test_client()
    seen: list[str] = []

    def count(_conn: Any, _cursor: Any, statement: str, *_args: Any) -> None:
        seen.append(statement)

    engines = {id(e): e for e in (db.engine, getattr(db, "read_engine", None)) if e is not None}.values()
    for engine in engines:
        event.listen(engine, "before_cursor_execute", count)
    try:
        for _ in range(min(5, requests)):
            response = client.get(url, headers=headers)
            assert response.status_code == 200, (url, response.status_code, response.get_data(as_text=True)[:300])
        seen.clear()
        times = []
        for _ in range(requests):
            t0 = time.perf_counter()
            client.get(url, headers=headers)
            times.append((time.perf_counter() - t0) * 1000)
    finally:
        for engine in engines:
            event.remove(engine, "before_cursor_execute", count)
    return {"sql": len(seen) / requests, "median_ms": statistics.median(times), "min_ms": min(times)}


def profile(app: Any, url: str, headers: dict[str, str], requests: int) -> None:
    client = app.test_client()
    profiler = cProfile.Profile()
    profiler.runcall(lambda: [client.get(url, headers=headers) for _ in range(requests)])
    pstats.Stats(profiler).sort_stats("tottime").print_stats(25)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--database-url", default=DEFAULT_URL)
    parser.add_argument("--redis-url", default="redis://127.0.0.1:6379/14")
    parser.add_argument("--prepare", action="store_true", help="drop, recreate and fill the database first")
    parser.add_argument("--incidents", type=int, default=200_000)
    parser.add_argument("--alerts", type=int, default=50_000)
    parser.add_argument("--requests", type=int, default=200, help="requests per scenario (statistics: a tenth)")
    parser.add_argument("--only", nargs="*")
    parser.add_argument("--profile", help="cProfile this scenario")
    args = parser.parse_args(argv)
    if args.prepare:
        prepare(args.database_url, args.redis_url, args.incidents, args.alerts)
    app = _app(args.database_url, args.redis_url)
    table = scenarios(app)
    if args.profile:
        url, headers = table[args.profile]
        profile(app, url, headers, args.requests)
        return 0
    print(f"{'scenario':>20} | {'SQL/req':>7} | {'median ms':>9} | {'min ms':>7}")
    for name, (url, headers) in table.items():
        if args.only and name not in args.only:
            continue
        n = max(3, args.requests // 10) if "stats" in name else args.requests
        figures = measure(app, url, headers, n)
        print(f"{name:>20} | {figures['sql']:>7.1f} | {figures['median_ms']:>9.2f} | {figures['min_ms']:>7.2f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
