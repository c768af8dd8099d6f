"""The migrations build exactly the schema the models describe, on PostgreSQL and on SQLite, and undo it.

Each test migrates a database of its own (a fresh PostgreSQL database, or a SQLite file in a temp
folder), never the session's. After `upgrade head`, Alembic's autogenerate comparison must find nothing
to do: once with `alembic check` (which runs `migrations/env.py` as it is), once with `compare_metadata`
and the stricter `compare_server_default`. Autogenerate does not look at CHECK constraints or at the
WHERE of partial indexes, so those are compared here directly. `downgrade base` must leave nothing but
`alembic_version` behind, and a second `upgrade head` must work on what is left.

The CLI path runs `flask --app wsgi db upgrade` / `db current` in a subprocess with only the environment
variables a deployment would set.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import BindParameter, CheckConstraint, create_engine, inspect, select, text
from sqlalchemy.engine import Connection, make_url
from sqlalchemy.pool import NullPool

from api.cli import alembic_config
from api.config import PROJECT_ROOT
from api.models import metadata

HEAD = ScriptDirectory.from_config(alembic_config("sqlite://")).get_current_head()
# What a deployment's shell would pass on; everything Linli reads is set explicitly by each test.
PASSED_ON = ("PATH", "HOME", "LANG", "LC_ALL", "TMPDIR", "SYSTEMROOT")


@pytest.fixture
def fresh_pg(pg_url: str) -> Iterator[str]:
    """An empty PostgreSQL database on the test server, dropped afterwards."""
    server = make_url(pg_url)
    name = f"linli_mig_{uuid.uuid4().hex[:10]}"
    admin = create_engine(server, isolation_level="AUTOCOMMIT", poolclass=NullPool)
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    try:
        yield server.set(database=name).render_as_string(hide_password=False)
    finally:
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


@pytest.fixture
def fresh_sqlite(tmp_path: Path) -> str:
    return f"sqlite:///{tmp_path / 'linli.sqlite3'}"


# ----------------------------------------------------------------------------------------------------
# Comparing the migrated schema with the models
# ----------------------------------------------------------------------------------------------------


def _connect(url: str) -> Any:
    return create_engine(url, poolclass=NullPool)


def _autogenerate_diff(url: str) -> list[Any]:
    engine = _connect(url)
    try:
        with engine.connect() as conn:
            context = MigrationContext.configure(
                conn,
                opts={
                    "target_metadata": metadata,
                    "compare_type": True,
                    "compare_server_default": True,
                    "render_as_batch": True,
                },
            )
            return compare_metadata(context, metadata)
    finally:
        engine.dispose()


def _quoted(sql: str) -> set[str]:
    return set(re.findall(r"'([^']*)'", sql))


def _normalised_where(sql: Any) -> str:
    """`((status)::text = 'pending'::text)` and `status = 'pending'` are the same condition."""
    return re.sub(r"::[a-z ]+|[()\s]", "", str(sql).lower())


def _not_compared_by_autogenerate(conn: Connection) -> list[str]:
    """CHECK constraints (the allowed values of every enum column) and WHERE clauses of partial indexes."""
    inspector = inspect(conn)
    dialect = conn.dialect.name
    problems = []
    for table in metadata.sorted_tables:
        expected: dict[str, set[str] | None] = {}
        for constraint in table.constraints:
            if not isinstance(constraint, CheckConstraint):
                continue
            # An enum's CHECK is `column IN (values)`; other CHECKs are compared by name only.
            allowed = getattr(constraint.sqltext, "right", None)
            values = allowed.value if isinstance(allowed, BindParameter) else None
            expected[str(constraint.name)] = set(values) if isinstance(values, list | tuple) else None
        reflected = {str(c["name"]): _quoted(c["sqltext"]) for c in inspector.get_check_constraints(table.name)}
        if set(expected) != set(reflected):
            problems.append(f"{table.name}: CHECK constraints {sorted(reflected)} != models' {sorted(expected)}")
        for name, values in expected.items():
            if values is not None and reflected.get(name) not in (None, values):
                problems.append(f"{table.name}.{name} allows {sorted(reflected[name])}, models {sorted(values)}")

        indexes = {i["name"]: i for i in inspector.get_indexes(table.name)}
        for index in table.indexes:
            where = index.dialect_options[dialect].get("where") if dialect in index.dialect_options else None
            found = indexes.get(index.name, {}).get("dialect_options", {}).get(f"{dialect}_where")
            if (where is None) != (found is None) or (
                where is not None and _normalised_where(where) != _normalised_where(found)
            ):
                problems.append(f"index {index.name}: WHERE {found!s} in the database, {where!s} in the models")
    return problems


def _assert_schema_matches_models(url: str) -> None:
    command.check(alembic_config(url))  # raises AutogenerateDiffsDetected, listing them
    assert _autogenerate_diff(url) == []
    engine = _connect(url)
    try:
        with engine.connect() as conn:
            assert set(inspect(conn).get_table_names()) == {*metadata.tables, "alembic_version"}
            assert _not_compared_by_autogenerate(conn) == []
            assert MigrationContext.configure(conn).get_current_heads() == (HEAD,)
    finally:
        engine.dispose()


def _assert_only_alembic_version_is_left(url: str) -> None:
    engine = _connect(url)
    try:
        with engine.connect() as conn:
            assert inspect(conn).get_table_names() == ["alembic_version"]
            assert MigrationContext.configure(conn).get_current_heads() == ()
            if conn.dialect.name == "postgresql":
                leftovers = conn.execute(
                    text(
                        "SELECT c.relname FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace "
                        "WHERE n.nspname = 'public' AND c.relname NOT LIKE 'alembic_version%' "
                        "UNION ALL SELECT t.typname FROM pg_type t JOIN pg_namespace n ON n.oid = t.typnamespace "
                        "WHERE n.nspname = 'public' AND t.typtype IN ('e', 'd')"
                    )
                ).scalars()
                assert list(leftovers) == [], "indexes, sequences or types outlived the downgrade"
    finally:
        engine.dispose()


def _round_trip(url: str) -> None:
    config = alembic_config(url)
    command.upgrade(config, "head")
    _assert_schema_matches_models(url)

    command.downgrade(config, "base")
    _assert_only_alembic_version_is_left(url)

    command.upgrade(config, "head")
    _assert_schema_matches_models(url)


def test_there_is_one_head():
    assert len(ScriptDirectory.from_config(alembic_config("sqlite://")).get_heads()) == 1


@pytest.mark.sqlite_only
def test_sqlite_upgrade_matches_the_models_and_downgrade_removes_everything(fresh_sqlite):
    _round_trip(fresh_sqlite)


@pytest.mark.services
def test_postgresql_upgrade_matches_the_models_and_downgrade_removes_everything(fresh_pg):
    _round_trip(fresh_pg)


# ----------------------------------------------------------------------------------------------------
# The command line a deployment runs
# ----------------------------------------------------------------------------------------------------


def _flask(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    base = {k: os.environ[k] for k in PASSED_ON if k in os.environ}
    return subprocess.run(
        [sys.executable, "-m", "flask", "--app", "wsgi", *args],
        cwd=PROJECT_ROOT,
        env={**base, **env},
        capture_output=True,
        text=True,
        timeout=120,
    )


def _assert_cli_migrates(env: dict[str, str]) -> None:
    upgrade = _flask(env, "db", "upgrade")
    assert upgrade.returncode == 0, upgrade.stdout + upgrade.stderr

    current = _flask(env, "db", "current")
    assert current.returncode == 0, current.stdout + current.stderr
    assert f"Rev: {HEAD} (head)" in current.stdout, current.stdout + current.stderr


@pytest.mark.sqlite_only
def test_cli_upgrades_the_embedded_sqlite_database_in_the_instance_folder(tmp_path):
    env = {"LINLI_INSTANCE_PATH": str(tmp_path)}
    _assert_cli_migrates(env)

    assert (tmp_path / "linli.sqlite3").is_file()
    check = _flask(env, "db", "check")
    assert check.returncode == 0, check.stdout + check.stderr


@pytest.mark.services
def test_cli_upgrades_the_postgresql_database_of_database_url(fresh_pg, tmp_path):
    # Deployments write `postgresql://` (or `postgres://`); the app switches it to psycopg 3 itself.
    url = make_url(fresh_pg).set(drivername="postgresql").render_as_string(hide_password=False)
    _assert_cli_migrates({"DATABASE_URL": url, "LINLI_INSTANCE_PATH": str(tmp_path)})

    engine = _connect(fresh_pg)
    try:
        with engine.connect() as conn:
            assert set(inspect(conn).get_table_names()) == {*metadata.tables, "alembic_version"}
    finally:
        engine.dispose()
    assert not (tmp_path / "linli.sqlite3").exists(), "DATABASE_URL set, yet SQLite was used"


# ----------------------------------------------------------------------------------------------------
# Data the migrations carry over
# ----------------------------------------------------------------------------------------------------


def _messages_about_things_before_the_outbox_knew_subjects(url: str) -> dict[str, str | None]:
    """At 0009: a smoke alarm in KJ02, a household decision in KJ02, a family binding request about an
    elder in KJ02, an account notice, and an alert message naming no alert we know. Their kinds → ids."""
    from api.accounts.models import AreaKind, HouseholdRelation, HouseholdRequestStatus
    from api.alerts.models import AlertRule, AlertStatus, Severity
    from api.db import new_id, utcnow
    from api.devices.models import DeviceStatus, DeviceType
    from api.eldercare.models import ElderStatus
    from api.notifications.models import DeliveryStatus, Urgency

    t = metadata.tables
    building_path = "/KJ/KJ02/KJ02-01/KJ02-01-001/"
    room_id, user_id, request_id, device_id, alert_id, elder_id = (new_id() for _ in range(6))
    now = utcnow()
    engine = _connect(url)
    try:
        with engine.begin() as conn:
            parent = None
            for kind, path in zip(AreaKind, ("/KJ/", "/KJ/KJ02/", "/KJ/KJ02/KJ02-01/", building_path), strict=True):
                area_id, code = new_id(), path.rstrip("/").rsplit("/", 1)[-1]
                conn.execute(
                    t["areas"].insert().values(id=area_id, kind=kind, code=code, name=code, parent_id=parent, path=path)
                )
                parent = area_id
            conn.execute(t["rooms"].insert().values(id=room_id, building_id=parent, number="101", floor=1))
            conn.execute(t["users"].insert().values(id=user_id, nickname="王家女儿"))
            conn.execute(
                t["household_requests"]
                .insert()
                .values(
                    id=request_id,
                    user_id=user_id,
                    room_id=room_id,
                    relation=HouseholdRelation.OWNER,
                    status=HouseholdRequestStatus.APPROVED,
                )
            )
            conn.execute(
                t["devices"]
                .insert()
                .values(id=device_id, serial="SMK-1", type=DeviceType.SMOKE_DETECTOR, status=DeviceStatus.ACTIVE)
            )
            conn.execute(
                t["alerts"]
                .insert()
                .values(
                    id=alert_id,
                    device_id=device_id,
                    area_path=building_path,
                    rule=AlertRule.SMOKE,
                    severity=Severity.CRITICAL,
                    status=AlertStatus.OPEN,
                    first_at=now,
                    last_at=now,
                )
            )
            conn.execute(
                t["elders"].insert().values(id=elder_id, name="王阿婆", room_id=room_id, status=ElderStatus.ACTIVE)
            )
            messages = {
                "device_alert": ({"alert_id": str(alert_id)}, None),
                "household_request_decided": ({"address": "1号楼101室"}, f"household-request:{request_id}"),
                "family_binding_requested": ({"elder_id": str(elder_id)}, None),
                "notice": ({"title": "账号安全提醒"}, None),
                "device_alert:unknown": ({"alert_id": "a-1"}, None),
            }
            ids = {}
            for name, (context, dedupe_key) in messages.items():
                ids[name] = new_id()
                conn.execute(
                    t["notifications"]
                    .insert()
                    .values(
                        id=ids[name],
                        user_id=user_id,
                        kind=name.split(":")[0],
                        urgency=Urgency.NORMAL,
                        title="t",
                        body="b",
                        context=context,
                        dedupe_key=dedupe_key,
                        status=DeliveryStatus.SENT,
                        created_at=now,
                    )
                )
    finally:
        engine.dispose()
    return {name: str(message_id) for name, message_id in ids.items()}


def _subjects_after_upgrade(url: str) -> None:
    config = alembic_config(url)
    command.upgrade(config, "0010_hostile_input")
    ids = _messages_about_things_before_the_outbox_knew_subjects(url)
    command.upgrade(config, "0011_outbox_subject")

    engine = _connect(url)
    try:
        with engine.connect() as conn:
            table = metadata.tables["notifications"]
            found = {str(i): path for i, path in conn.execute(select(table.c.id, table.c.subject_path))}
    finally:
        engine.dispose()
    building = "/KJ/KJ02/KJ02-01/KJ02-01-001/"
    assert {name: found[message_id] for name, message_id in ids.items()} == {
        "device_alert": building,
        "household_request_decided": building,
        "family_binding_requested": building,
        "notice": None,  # about no place: the subdistrict's staff and admins see it, committee staff do not
        "device_alert:unknown": None,
    }


@pytest.mark.sqlite_only
def test_sqlite_upgrade_gives_existing_messages_the_area_they_are_about(fresh_sqlite):
    _subjects_after_upgrade(fresh_sqlite)


@pytest.mark.services
def test_postgresql_upgrade_gives_existing_messages_the_area_they_are_about(fresh_pg):
    _subjects_after_upgrade(fresh_pg)
