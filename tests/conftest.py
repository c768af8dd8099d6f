"""Test fixtures: the app on a migrated database, a small subdistrict to act in, logged-in people.

Two passes run the suite (see `scripts/test`):
- the embedded default: SQLite in a temp folder, memory store, eager tasks — `-m "not services"`;
- the services pass: `LINLI_TEST_DATABASE_URL` (PostgreSQL) and `LINLI_TEST_REDIS_URL` set, every test
  including those marked `services` (real Celery worker, Redis, concurrency on PostgreSQL). With
  `LINLI_REQUIRE_SERVICES=1` a service that does not answer fails the run instead of skipping.

The schema is built by Alembic (`upgrade head`), never by `create_all`, so every test also exercises
the migrations. Tables are emptied after each test.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from alembic import command
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

from api import Settings, create_app
from api.accounts import services
from api.accounts.models import Area, AreaKind, Role, Room, User
from api.accounts.services import create_staff
from api.cache import MemoryStore
from api.cli import alembic_config
from api.db import db, new_id
from api.extensions import store
from api.models import metadata

REQUIRE_SERVICES = os.environ.get("LINLI_REQUIRE_SERVICES") == "1"
PG_URL = os.environ.get("LINLI_TEST_DATABASE_URL", "")
REDIS_URL = os.environ.get("LINLI_TEST_REDIS_URL", "")


def _unavailable(reason: str) -> None:
    if REQUIRE_SERVICES:
        pytest.fail(f"{reason} (LINLI_REQUIRE_SERVICES=1: the services pass needs it)", pytrace=False)
    pytest.skip(reason)


# ----------------------------------------------------------------------------------------------------
# Real services
# ----------------------------------------------------------------------------------------------------


@pytest.fixture(scope="session")
def pg_url() -> Iterator[str]:
    """A fresh PostgreSQL database for this run, dropped afterwards."""
    if not PG_URL:
        _unavailable("LINLI_TEST_DATABASE_URL is not set")
    admin_url = make_url(PG_URL).set(drivername="postgresql+psycopg")
    name = f"linli_test_{os.getpid()}_{uuid.uuid4().hex[:6]}"
    admin = create_engine(admin_url, isolation_level="AUTOCOMMIT")
    try:
        with admin.connect() as conn:
            conn.execute(text(f'CREATE DATABASE "{name}"'))
    except Exception as exc:  # the server is down or refuses us
        admin.dispose()
        _unavailable(f"PostgreSQL at {PG_URL} does not answer: {exc}")
    url = admin_url.set(database=name).render_as_string(hide_password=False)
    yield url
    db.session.remove()
    if db.engine is not None:
        db.engine.dispose()
    with admin.connect() as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    admin.dispose()


@pytest.fixture(scope="session")
def redis_url() -> str:
    """Redis for the services pass (a database index of its own; the store's keys are deleted between tests)."""
    if not REDIS_URL:
        _unavailable("LINLI_TEST_REDIS_URL is not set")
    import redis

    try:
        redis.Redis.from_url(REDIS_URL, socket_connect_timeout=2).ping()
    except Exception as exc:
        _unavailable(f"Redis at {REDIS_URL} does not answer: {exc}")
    return REDIS_URL


# ----------------------------------------------------------------------------------------------------
# The application
# ----------------------------------------------------------------------------------------------------


@pytest.fixture(scope="session")
def database_url(tmp_path_factory: pytest.TempPathFactory, request: pytest.FixtureRequest) -> str:
    """PostgreSQL in the services pass, else a SQLite file; migrated to head either way."""
    if PG_URL:
        url = request.getfixturevalue("pg_url")
    else:
        url = f"sqlite:///{tmp_path_factory.mktemp('db') / 'linli.sqlite3'}"
    command.upgrade(alembic_config(url), "head")
    return url


@pytest.fixture(scope="session")
def base_settings(
    tmp_path_factory: pytest.TempPathFactory, database_url: str, request: pytest.FixtureRequest
) -> Settings:
    return Settings(
        env="test",
        secret_key="test-secret-key-that-is-long-enough-for-hs256",
        instance_path=tmp_path_factory.mktemp("instance"),
        database_url=database_url,
        redis_url=request.getfixturevalue("redis_url") if PG_URL else "",
        # The request-path tests run tasks eagerly; the worker tests build their own app.
        celery_always_eager=True,
        login_rate_limit_per_minute=10_000,
    )


@pytest.fixture(scope="session")
def _app(base_settings: Settings) -> Flask:
    return create_app(base_settings)


@pytest.fixture
def app(_app: Flask) -> Iterator[Flask]:
    """The app, with settings a test may change (restored afterwards) and an emptied database after."""
    # No app context is pushed around the test: a request would reuse it (and its `g`), which
    # production never does. Tests reach the database through `db.session` directly.
    settings: Settings = _app.extensions["linli.settings"]
    saved = dict(vars(settings))
    try:
        yield _app
    finally:
        vars(settings).update(saved)
        empty_database()
        reset_store()


def empty_database() -> None:
    db.session.remove()
    assert db.engine is not None
    tables = list(reversed(metadata.sorted_tables))
    if db.engine.dialect.name == "postgresql":
        with db.engine.begin() as conn:
            conn.execute(text("TRUNCATE " + ", ".join(f'"{t.name}"' for t in tables) + " CASCADE"))
        return
    with db.engine.connect() as conn:
        # Areas reference areas; SQLite checks that row by row unless told not to (only outside a transaction).
        conn.exec_driver_sql("PRAGMA foreign_keys=OFF")
        conn.commit()
        for table in tables:
            conn.execute(table.delete())
        conn.commit()
        conn.exec_driver_sql("PRAGMA foreign_keys=ON")
        conn.commit()


def reset_store() -> None:
    if isinstance(store.backend, MemoryStore):
        store.backend = MemoryStore()
    else:
        # Only the store's own keys: a FLUSHDB would also take the Celery queue from under a worker of
        # another test run on the same Redis database.
        backend = store.backend
        keys = list(backend.client.scan_iter(match=backend.prefix + "*", count=1000))
        if keys:
            backend.client.delete(*keys)


@pytest.fixture
def settings(app: Flask) -> Settings:
    return app.extensions["linli.settings"]


@pytest.fixture
def client(app: Flask) -> FlaskClient:
    return app.test_client()


# ----------------------------------------------------------------------------------------------------
# A small subdistrict and its people
# ----------------------------------------------------------------------------------------------------


@dataclass
class World:
    """Two committees, one estate and one building each, a few rooms; staff of each scope."""

    areas: dict[str, Area] = field(default_factory=dict)
    rooms: dict[str, Room] = field(default_factory=dict)
    users: dict[str, User] = field(default_factory=dict)

    def room(self, key: str) -> Room:
        return self.rooms[key]


STAFF_PASSWORD = "correct horse battery staple"


def _add_area(world: World, kind: AreaKind, code: str, name: str, parent: str | None) -> Area:
    parent_area = world.areas[parent] if parent else None
    area = Area(
        id=new_id(),
        kind=kind,
        code=code,
        name=name,
        parent_id=parent_area.id if parent_area else None,
        path=(parent_area.path if parent_area else "/") + code + "/",
    )
    db.session.add(area)
    world.areas[code] = area
    return area


_password_hashes: dict[str, str] = {}
_real_hash_password = services.hash_password


def _hash_once(password: str) -> str:
    """Argon2 is slow on purpose; hash each test password once per run (verification stays real)."""
    if password not in _password_hashes:
        _password_hashes[password] = _real_hash_password(password)
    return _password_hashes[password]


@pytest.fixture
def world(app: Flask, monkeypatch: pytest.MonkeyPatch) -> World:
    monkeypatch.setattr(services, "hash_password", _hash_once)
    w = World()
    _add_area(w, AreaKind.SUBDISTRICT, "KJ", "控江路街道", None)
    for c in ("KJ01", "KJ02"):
        _add_area(w, AreaKind.COMMITTEE, c, f"{c}居委会", "KJ")
        _add_area(w, AreaKind.ESTATE, f"{c}-01", f"{c}小区", c)
        building = _add_area(w, AreaKind.BUILDING, f"{c}-01-001", "1号楼", f"{c}-01")
        for number in ("101", "102", "201"):
            room = Room(id=new_id(), building_id=building.id, number=number, floor=int(number[0]))
            db.session.add(room)
            w.rooms[f"{c}/{number}"] = room
    db.session.flush()
    w.users["admin"] = create_staff("admin", STAFF_PASSWORD, Role.ADMIN, "KJ")
    w.users["kj01"] = create_staff("kj01-staff", STAFF_PASSWORD, Role.STAFF, "KJ01")
    w.users["kj02"] = create_staff("kj02-staff", STAFF_PASSWORD, Role.STAFF, "KJ02")
    db.session.commit()
    return w


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def wechat_login(client: FlaskClient, code: str) -> dict[str, Any]:
    response = client.post("/api/v1/auth/wechat-login", json={"code": code})
    assert response.status_code == 200, response.get_json()
    return response.get_json()


def staff_login(client: FlaskClient, username: str, password: str = STAFF_PASSWORD) -> dict[str, Any]:
    response = client.post("/api/v1/auth/staff-login", json={"username": username, "password": password})
    assert response.status_code == 200, response.get_json()
    return response.get_json()


@pytest.fixture
def resident(client: FlaskClient, world: World) -> dict[str, Any]:
    """张三, logged in through the WeChat sandbox: `{"access_token", "refresh_token", "user", "headers"}`."""
    tokens = wechat_login(client, "zhangsan#1")
    return {**tokens, "headers": bearer(tokens["access_token"])}


@pytest.fixture
def kj01_staff(client: FlaskClient, world: World) -> dict[str, Any]:
    tokens = staff_login(client, "kj01-staff")
    return {**tokens, "headers": bearer(tokens["access_token"])}


@pytest.fixture
def kj02_staff(client: FlaskClient, world: World) -> dict[str, Any]:
    tokens = staff_login(client, "kj02-staff")
    return {**tokens, "headers": bearer(tokens["access_token"])}


@pytest.fixture
def admin(client: FlaskClient, world: World) -> dict[str, Any]:
    tokens = staff_login(client, "admin")
    return {**tokens, "headers": bearer(tokens["access_token"])}


def project_root() -> Path:
    return Path(__file__).resolve().parent.parent
