"""Test fixtures: the app on a migrated database, a small subdistrict to act in, signed-in people.

Two passes run the suite (see `scripts/test`), each spread over the cores by pytest-xdist (`-n`):
- the services pass, PostgreSQL + Redis (production): `LINLI_TEST_DATABASE_URL` and `LINLI_TEST_REDIS_URL`
  set, every test except those marked `sqlite_only` — including those marked `services` (real Celery
  worker, gunicorn, concurrency on PostgreSQL), the fuzz run and the TypeScript compile. With
  `LINLI_REQUIRE_SERVICES=1` a service that does not answer fails the run instead of skipping;
- the embedded default (SQLite in a temp folder, memory store, eager tasks, WeChat sandbox): only the smoke
  set, `-m "smoke or sqlite_only"` (see the markers in pyproject.toml).

Each pytest process (each xdist worker) has a database of its own, created and migrated by Alembic
(`upgrade head`, never `create_all`, so the migrations run too), a Redis key prefix of its own for the store
and the WeChat token cache (`Settings.redis_key_prefix`), and a private redis-server as the broker of the
tests that start a real Celery worker (`broker_url`).

Cleaning up after a test, in one of two modes:
- savepoint (the default on PostgreSQL): the scoped session is bound to one connection inside an outer
  transaction, joined with `join_transaction_mode="create_savepoint"`: the app's commit after a request and
  a task's commit release a SAVEPOINT, and the outer transaction is rolled back when the test ends. A test
  that commits past it anyway (its own engine or connection, a thread, a subprocess) fails: mark it;
- truncate (tests marked `commits`, and every test on SQLite): real commits; the tables are emptied after.
Either way the store's keys are deleted after each test.

Tokens in the `resident`, `admin` and `kj0x_staff` fixtures are issued directly (`issue_tokens`), not through
argon2 and the WeChat sandbox; tests/test_auth.py and friends log in through the real endpoints.
"""

from __future__ import annotations

import contextlib
import os
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest
from alembic import command
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import create_engine, exists, literal, select, text, union_all
from sqlalchemy.engine import make_url

from api import Settings, create_app
from api.accounts import services
from api.accounts.models import Area, AreaKind, Role, Room, User
from api.accounts.schemas import TokenSchema
from api.accounts.services import create_staff, issue_tokens
from api.cache import MemoryStore
from api.cli import alembic_config
from api.db import db, new_id, utcnow
from api.extensions import store
from api.models import metadata

if TYPE_CHECKING:
    from tests.worker_support import RedisServer

REQUIRE_SERVICES = os.environ.get("LINLI_REQUIRE_SERVICES") == "1"
PG_URL = os.environ.get("LINLI_TEST_DATABASE_URL", "")
REDIS_URL = os.environ.get("LINLI_TEST_REDIS_URL", "")
# The xdist worker this process is ("gw0", "gw1", …), or "main" without xdist.
WORKER = os.environ.get("PYTEST_XDIST_WORKER", "main")

pytest_plugins = ["tests.factories"]


def _unavailable(reason: str) -> None:
    if REQUIRE_SERVICES:
        pytest.fail(f"{reason} (LINLI_REQUIRE_SERVICES=1: the services pass needs it)", pytrace=False)
    pytest.skip(reason)


# ----------------------------------------------------------------------------------------------------
# Real services
# ----------------------------------------------------------------------------------------------------


@pytest.fixture(scope="session")
def pg_url() -> Iterator[str]:
    """A fresh PostgreSQL database for this process (this xdist worker), dropped afterwards."""
    if not PG_URL:
        _unavailable("LINLI_TEST_DATABASE_URL is not set")
    admin_url = make_url(PG_URL).set(drivername="postgresql+psycopg")
    name = f"linli_test_{WORKER}_{os.getpid()}_{uuid.uuid4().hex[:6]}"
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
    """Redis for the services pass (a database index of the run's own; each process keeps to its key prefix)."""
    if not REDIS_URL:
        _unavailable("LINLI_TEST_REDIS_URL is not set")
    import redis

    try:
        redis.Redis.from_url(REDIS_URL, socket_connect_timeout=2).ping()
    except Exception as exc:
        _unavailable(f"Redis at {REDIS_URL} does not answer: {exc}")
    return REDIS_URL


@pytest.fixture(scope="session")
def broker_url(redis_url: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A redis-server of this process's own: the broker of the real Celery workers, whose queue, results and
    WeChat tokens no other xdist worker (nor another test run on the shared Redis) can take or see."""
    from tests.worker_support import RedisServer

    server = RedisServer(tmp_path_factory.mktemp("broker") / "redis-server.log").start()
    try:
        yield server.url
    finally:
        server.stop()


@contextlib.contextmanager
def private_redis(log_path: Path) -> Iterator[RedisServer]:
    """A redis-server of its own on a free port, stopped afterwards (a test may stop and start it: a broker crash);
    one that cannot be started makes the test unavailable."""
    from tests.worker_support import RedisServer

    server = RedisServer(log_path)
    try:
        server.start()
    except (OSError, RuntimeError) as exc:
        _unavailable(f"could not start a private redis-server: {exc}")
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
def private_broker(redis_url: str, tmp_path: Path) -> Iterator[RedisServer]:
    """A broker of the test's own (`private_redis`)."""
    with private_redis(tmp_path / "redis-server.log") as server:
        yield server


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
    """The session app's settings; apps a test builds from them (`with_overrides`) share its database and prefix."""
    return Settings(
        env="test",
        secret_key="test-secret-key-that-is-long-enough-for-hs256",
        instance_path=tmp_path_factory.mktemp("instance"),
        database_url=database_url,
        redis_url=request.getfixturevalue("redis_url") if PG_URL else "",
        redis_key_prefix=f"linli-test-{WORKER}-{os.getpid()}:",
        # The request-path tests run tasks eagerly; the worker tests build their own app.
        celery_always_eager=True,
        login_rate_limit_per_minute=10_000,
    )


@pytest.fixture(scope="session")
def _app(base_settings: Settings) -> Flask:
    """The app, built once per process; tests take it through `app`."""
    return create_app(base_settings)


@pytest.fixture
def app(_app: Flask, request: pytest.FixtureRequest) -> Iterator[Flask]:
    """The app, with settings a test may change (restored afterwards); its data rolled back or emptied after."""
    # No app context is pushed around the test: a request would reuse it (and its `g`), which
    # production never does. Tests reach the database through `db.session` directly.
    settings: Settings = _app.extensions["linli.settings"]
    saved = dict(vars(settings))
    truncate = db.dialect != "postgresql" or request.node.get_closest_marker("commits") is not None
    try:
        with contextlib.nullcontext() if truncate else one_transaction_rolled_back():
            try:
                yield _app
            finally:
                vars(settings).update(saved)
    finally:
        if truncate:
            empty_database()
        reset_store()


@contextlib.contextmanager
def one_transaction_rolled_back() -> Iterator[None]:
    """Savepoint mode: every session of `db` on one connection, in a transaction rolled back at the end."""
    assert db.engine is not None
    db.session.remove()
    connection = db.engine.connect()
    outer = connection.begin()
    unbound = dict(db._factory.kw)
    db._factory.configure(bind=connection, join_transaction_mode="create_savepoint")
    try:
        yield
    finally:
        db.session.remove()
        db._factory.kw = unbound
        outer.rollback()
        connection.close()
    leaked = tables_with_rows()
    if leaked:
        empty_database()
        pytest.fail(
            f"committed past the test's transaction (rows left in {', '.join(leaked)}): "
            "mark it @pytest.mark.commits, or keep its writes on db.session",
            pytrace=False,
        )


def tables_with_rows() -> list[str]:
    assert db.engine is not None
    probes = [select(literal(t.name)).where(exists(select(literal(1)).select_from(t))) for t in metadata.sorted_tables]
    with db.engine.connect() as conn:
        return list(conn.scalars(union_all(*probes)))


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
        # Only this process's keys (its prefix): other xdist workers and test runs share the Redis database.
        backend = store.backend
        keys = list(backend.client.scan_iter(match=backend.prefix + "*", count=1000))
        if keys:
            backend.client.delete(*keys)


@pytest.fixture
def settings(app: Flask) -> Settings:
    """The running app's settings; a test may change them (restored afterwards)."""
    return app.extensions["linli.settings"]


@pytest.fixture
def client(app: Flask) -> FlaskClient:
    """A test client of the session app."""
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
    """控江路街道 (KJ) with committees KJ01 and KJ02, a building and rooms 101/102/201 each; admin and staff."""
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
    """Log in through `/auth/wechat-login` (the sandbox in the session app)."""
    response = client.post("/api/v1/auth/wechat-login", json={"code": code})
    assert response.status_code == 200, response.get_json()
    return response.get_json()


def staff_login(client: FlaskClient, username: str, password: str = STAFF_PASSWORD) -> dict[str, Any]:
    """Log in through `/auth/staff-login` (argon2)."""
    response = client.post("/api/v1/auth/staff-login", json={"username": username, "password": password})
    assert response.status_code == 200, response.get_json()
    return response.get_json()


def signed_in(user: User, settings: Settings) -> dict[str, Any]:
    """What a login answers for `user`, with `headers`, issued directly (`issue_tokens`) and committed."""
    user.last_login_at = utcnow()
    pair = issue_tokens(user, settings)
    db.session.commit()
    answer = TokenSchema().dump(
        {
            "access_token": pair.access_token,
            "refresh_token": pair.refresh_token,
            "expires_in": pair.expires_in,
            "user": user,
        }
    )
    return {**answer, "headers": bearer(pair.access_token)}


def sandbox_resident(app: Flask, name: str) -> User:
    """The resident the WeChat sandbox logs in for `name#…` codes, created as the first login creates them."""
    session = app.extensions["linli.miniprogram"].code_to_session(name)
    user = db.session.scalar(select(User).where(User.wechat_openid == session.openid))
    if user is None:
        user = User(wechat_openid=session.openid, wechat_unionid=session.unionid, nickname="")
        user.grant(Role.RESIDENT)
        db.session.add(user)
        db.session.flush()
    return user


@pytest.fixture
def resident(app: Flask, settings: Settings, world: World) -> dict[str, Any]:
    """张三 (sandbox code `zhangsan#…`), signed in: `{"access_token", "refresh_token", "user", "headers"}`."""
    return signed_in(sandbox_resident(app, "zhangsan"), settings)


@pytest.fixture
def kj01_staff(settings: Settings, world: World) -> dict[str, Any]:
    """`kj01-staff`, committee KJ01's staff member, signed in (same shape as `resident`)."""
    return signed_in(world.users["kj01"], settings)


@pytest.fixture
def kj02_staff(settings: Settings, world: World) -> dict[str, Any]:
    """`kj02-staff`, committee KJ02's staff member, signed in."""
    return signed_in(world.users["kj02"], settings)


@pytest.fixture
def admin(settings: Settings, world: World) -> dict[str, Any]:
    """`admin`, the whole subdistrict, signed in."""
    return signed_in(world.users["admin"], settings)


def project_root() -> Path:
    return Path(__file__).resolve().parent.parent
