"""The bench data generator (bench/generate.py) writes rows the app reads as its own.

bench/all.py measures lists and statistics over generated data; if a migration adds a required column or a
check the generator does not know, the benchmark would fail on the day it is needed, or measure empty pages.
So: the demo seed plus the generator's smallest scale on a database of its own, then the routes bench/all.py
loads, through the app, answering full pages of what was generated.
"""

from __future__ import annotations

import importlib.util
import sys
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from sqlalchemy import select

from api import Settings, create_app
from api import platform as domains
from api.accounts.models import User
from api.accounts.services import issue_tokens
from api.db import db, utcnow
from tests.conftest import project_root
from tests.worker_support import migrated_database, process_globals_restored

pytestmark = [pytest.mark.services, pytest.mark.xdist_group("bench_data")]

# bench/ is a folder of scripts, not a package: load the generator by its path, leaving sys.path alone.
_spec = importlib.util.spec_from_file_location("bench_generate", project_root() / "bench" / "generate.py")
assert _spec is not None and _spec.loader is not None
bench_generate = importlib.util.module_from_spec(_spec)
sys.modules["bench_generate"] = bench_generate  # dataclasses look their module up there
_spec.loader.exec_module(bench_generate)
SCALES, generate = bench_generate.SCALES, bench_generate.generate


@pytest.fixture(scope="module")
def generated(pg_url: str, redis_url: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Flask, Any]]:
    folder = tmp_path_factory.mktemp("bench-data")
    with migrated_database(pg_url, prefix="linli_bench_data") as url, process_globals_restored():
        settings = Settings(
            env="test",
            secret_key="bench-data-secret-key-that-is-long-enough-for-hs256",
            instance_path=Path(folder),
            database_url=url,
            redis_url=redis_url,
            celery_always_eager=True,
        )
        app = create_app(settings)
        with app.app_context():
            for _domain, seed_part in domains.seeds(app.extensions["linli.domains"]):
                seed_part()
            db.session.commit()
        result = generate(url, "tiny", verbose=False)
        # No app context stays pushed: each test-client request must get one of its own (and its own `g`).
        yield app, result
        db.session.remove()


def _token(app: Flask, **where: Any) -> str:
    with app.app_context():
        user = db.session.scalar(select(User).filter_by(**where))
        assert user is not None, where
        token = issue_tokens(user, app.extensions["linli.settings"]).access_token
        db.session.commit()
        return token


def test_every_table_gets_what_the_scale_says(generated: tuple[Flask, Any]) -> None:
    _app, result = generated
    scale = SCALES["tiny"]
    counts = result["counts"]
    assert counts["incidents"] >= scale.incidents and counts["alerts"] >= scale.alerts
    assert counts["bookings"] >= scale.bookings and counts["events"] >= scale.events
    assert counts["devices"] >= scale.devices


def test_the_benchmarked_lists_answer_full_pages_of_generated_rows(generated: tuple[Flask, Any]) -> None:
    app, _ = generated
    client = app.test_client()
    resident = {"Authorization": f"Bearer {_token(app, nickname='张三', username=None)}"}
    staff = {"Authorization": f"Bearer {_token(app, username='kj01-staff')}"}
    for path, headers in (
        ("/api/v1/events?limit=20", resident),
        ("/api/v1/me/bookings?limit=20", resident),
        ("/api/v1/me/incidents?limit=20", resident),
        ("/api/v1/admin/incidents?limit=20", staff),
        ("/api/v1/admin/alerts?limit=20", staff),
    ):
        response = client.get(path, headers=headers)
        assert response.status_code == 200, (path, response.get_json())
        assert len(response.get_json()["items"]) == 20, path
    # And the single objects bench/all.py reads: 张三's own booking, its event and his own incident.
    booking = client.get("/api/v1/me/bookings?limit=1", headers=resident).get_json()["items"][0]
    incident = client.get("/api/v1/me/incidents?limit=1", headers=resident).get_json()["items"][0]
    for path in (
        f"/api/v1/bookings/{booking['id']}",
        f"/api/v1/events/{booking['event_id']}",
        f"/api/v1/incidents/{incident['id']}",
    ):
        assert client.get(path, headers=resident).status_code == 200, path


def test_a_years_statistics_count_the_generated_history(generated: tuple[Flask, Any]) -> None:
    app, _ = generated
    client = app.test_client()
    admin = {"Authorization": f"Bearer {_token(app, username='admin')}"}
    until = utcnow()
    span = {"from": (until - timedelta(days=365)).isoformat(), "to": until.isoformat()}
    incidents = client.get("/api/v1/admin/incidents/stats", query_string=span, headers=admin)
    assert incidents.status_code == 200, incidents.get_json()
    # Rejected and merged cases aside, the year's cases are all counted, across the committees.
    assert incidents.get_json()["total"]["received"] >= SCALES["tiny"].incidents * 0.95
    alerts = client.get("/api/v1/admin/alerts/stats", query_string=span, headers=admin)
    assert alerts.status_code == 200, alerts.get_json()
    assert alerts.get_json()["total"] >= SCALES["tiny"].alerts
