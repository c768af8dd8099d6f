"""The one place for SQL that differs between PostgreSQL (production) and SQLite (the embedded default):
`INSERT … ON CONFLICT`, "IN a list" (`= ANY(:array)` on PostgreSQL: one parameter however many values),
many rows in one INSERT (`unnest` of one array per column on PostgreSQL),
interval arithmetic against a per-row number of seconds, durations between two timestamps, and
percentiles interpolated like PostgreSQL's `percentile_cont` (SQLite has no percentile aggregate, so
there the values are numbered with window functions and the two around p·(n−1) interpolated — still
one query, never a Python loop over the rows). Domains call these instead of asking which database
they are on."""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import (
    JSON,
    Integer,
    Select,
    Table,
    Text,
    any_,
    bindparam,
    case,
    cast,
    extract,
    func,
    literal,
    select,
    tuple_,
)
from sqlalchemy.dialects import postgresql, sqlite

from api.db import db

# SQLite refuses statements with more than 32,766 bound parameters; lists are sent in batches there.
SQLITE_BATCH = 500


def insert_on_conflict(target: Any) -> Any:
    """INSERT that knows ON CONFLICT for the bound database (PostgreSQL, or SQLite ≥ 3.24)."""
    return (postgresql.insert if db.dialect == "postgresql" else sqlite.insert)(target)


def among(column: Any, values: Sequence[Any]) -> Any:
    """`column IN (values)`; on PostgreSQL `= ANY(:array)`, one parameter however many values: psycopg parses a
    statement's placeholders anew each time once it is past the size it caches, and a thousand of them cost
    more than the database's answer."""
    if db.dialect == "postgresql":
        return column == any_(bindparam(None, list(values), type_=postgresql.ARRAY(column.type)))
    return column.in_(values)


def among_pairs(first: Any, second: Any, pairs: Sequence[tuple[Any, Any]]) -> Any:
    """`(first, second) IN (pairs)`; on PostgreSQL against `unnest(:firsts, :seconds)`, two parameters however
    many pairs (see `among`)."""
    if db.dialect == "postgresql":
        source = (
            func.unnest(
                bindparam(None, [p[0] for p in pairs], type_=postgresql.ARRAY(first.type)),
                bindparam(None, [p[1] for p in pairs], type_=postgresql.ARRAY(second.type)),
            )
            .table_valued("first", "second")
            .render_derived()
        )
        return tuple_(first, second).in_(select(source.c.first, source.c.second))
    return tuple_(first, second).in_(pairs)


def insert_rows(table: Table, rows: list[dict[str, Any]]) -> tuple[Any, Any]:
    """One INSERT of `rows` (dicts with the same keys) and its parameters: `db.session.execute(*insert_rows(…))`,
    after adding ON CONFLICT or RETURNING to the statement (it is `insert_on_conflict`'s).

    On PostgreSQL the rows arrive as one array per column and are unnested (`INSERT … SELECT … FROM
    unnest(:a, :b, …)`), in the order given (a lock order callers rely on): one parameter per column, where
    SQLAlchemy's multi-row VALUES for an INSERT with ON CONFLICT or RETURNING has one per value — fifteen
    thousand for a storm's thousand alerts, for psycopg to parse anew (past its cache's size) and PostgreSQL to
    plan. Measured on a batch of 1,000 (in process): the alerts' upsert 78 → 47 ms, the events' insert 42 →
    29 ms. A plain executemany INSERT (no RETURNING) is sent as a pipeline of one short prepared statement and
    gains nothing from this. JSON values travel as text and are cast back (an array of JSON would take a list
    value for one more dimension). On SQLite, the rows as executemany parameters."""
    stmt = insert_on_conflict(table)
    if db.dialect != "postgresql" or not rows:
        return stmt, rows
    names = list(rows[0])
    columns = [table.c[name] for name in names]
    json_columns = {c.name for c in columns if isinstance(c.type, JSON)}
    arrays = {}
    for column in columns:
        values = [row[column.name] for row in rows]
        arrays[column.name] = [json.dumps(v) for v in values] if column.name in json_columns else values
    source = (
        func.unnest(
            *(bindparam(c.name, type_=postgresql.ARRAY(Text if c.name in json_columns else c.type)) for c in columns)
        )
        .table_valued(*names)
        .render_derived()
    )
    picked = [cast(source.c[n], JSON) if n in json_columns else source.c[n] for n in names]
    return stmt.from_select(names, select(*picked)), arrays


def batches(values: list[Any], size: int = SQLITE_BATCH) -> list[list[Any]]:
    """`values` in one batch on PostgreSQL (see `among`), in batches of `size` on SQLite."""
    if db.dialect == "postgresql":
        return [values] if values else []
    return [values[i : i + size] for i in range(0, len(values), size)]


def bulk_upsert(
    table: Any, rows: list[dict[str, Any]], key: str, columns: Sequence[str], update: Sequence[str]
) -> None:
    """Insert `rows` (dicts of `columns`) into `table`, updating `update` where `key` already exists.

    On PostgreSQL the rows are COPY'd into a temporary table and moved with one `INSERT … SELECT … ON
    CONFLICT DO UPDATE` (tens of thousands of rows in two statements, where an executemany would send a
    statement per row); on SQLite, executemany in batches. Enum values are written as their values."""
    if not rows:
        return
    if db.dialect != "postgresql":
        stmt = insert_on_conflict(table)
        stmt = stmt.on_conflict_do_update(index_elements=[table.c[key]], set_={c: stmt.excluded[c] for c in update})
        for chunk in batches(rows):
            db.session.execute(stmt, chunk)
        return
    staging = f"{table.name}_upsert"
    connection = db.session.connection()
    connection.exec_driver_sql(
        f"CREATE TEMPORARY TABLE IF NOT EXISTS {staging} (LIKE {table.name} INCLUDING DEFAULTS) ON COMMIT DROP"
    )
    connection.exec_driver_sql(f"TRUNCATE {staging}")
    names = ", ".join(columns)
    raw = connection.connection.dbapi_connection
    assert raw is not None
    with raw.cursor() as cursor, cursor.copy(f"COPY {staging} ({names}) FROM STDIN") as copy:
        for row in rows:
            copy.write_row([getattr(row[c], "value", row[c]) for c in columns])
    updates = ", ".join(f"{c} = EXCLUDED.{c}" for c in update)
    # In key order: concurrent imports touching the same rows lock them in the same order.
    connection.exec_driver_sql(
        f"INSERT INTO {table.name} ({names}) SELECT {names} FROM {staging} ORDER BY {key} "
        f"ON CONFLICT ({key}) DO UPDATE SET {updates}"
    )


def older_than(column: Any, now: datetime, seconds: Any) -> Any:
    """`column < now - seconds`, where `seconds` may be a column expression (a per-row interval)."""
    if db.dialect == "postgresql":
        return column < literal(now) - func.make_interval(0, 0, 0, 0, 0, 0, seconds)
    stamp = now.replace(tzinfo=None).isoformat(sep=" ")
    return (func.julianday(stamp) - func.julianday(column)) * 86400.0 > seconds


def seconds_between(later: Any, earlier: Any) -> Any:
    """SQL expression: `later - earlier` in seconds (a float)."""
    if db.dialect == "postgresql":
        return extract("epoch", later - earlier)
    return (func.julianday(later) - func.julianday(earlier)) * 86400.0


def percentiles(
    base: Callable[..., Select[Any]],
    value: Any,
    qs: Sequence[float] = (0.5, 0.9),
    *,
    group: Any = None,
) -> dict[Any, tuple[float | None, ...]]:
    """{group value: (percentile for each q)} of `value` over the rows `base(*columns)` selects.

    `base` builds the statement (joins and filters) around the columns it is given; with no `group`,
    the one result is under the key None.
    """
    if db.dialect == "postgresql":
        aggregates = [func.percentile_cont(q).within_group(value) for q in qs]
        if group is None:
            row = db.session.execute(base(*aggregates)).one()
            return {None: tuple(row)} if row[0] is not None else {}
        rows = db.session.execute(base(group, *aggregates).group_by(group)).all()
        return {row[0]: tuple(row[1:]) for row in rows}

    key = group if group is not None else literal(0)
    partition = {"partition_by": group} if group is not None else {}
    ranked = base(
        key.label("grp"),
        value.label("v"),
        func.row_number().over(order_by=value, **partition).label("rn"),
        func.count().over(**partition).label("n"),
    ).subquery()

    def pick(q: float) -> Any:
        position = q * (ranked.c.n - 1)
        low = cast(position, Integer)  # positions are ≥ 0, so truncation is the floor
        at_low = func.max(case((ranked.c.rn - 1 == low, ranked.c.v)))
        at_high = func.max(case((ranked.c.rn - 1 == low + 1, ranked.c.v)))
        fraction = func.max(position - low)
        return at_low + fraction * (func.coalesce(at_high, at_low) - at_low)

    rows = db.session.execute(select(ranked.c.grp, *(pick(q) for q in qs)).group_by(ranked.c.grp)).all()
    return {(row[0] if group is not None else None): tuple(row[1:]) for row in rows}
