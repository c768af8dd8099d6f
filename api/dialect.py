"""The one place for SQL that differs between PostgreSQL (production) and SQLite (the embedded default):
`INSERT … ON CONFLICT`, "IN a list" (`= ANY(:array)` on PostgreSQL: one parameter however many values),
interval arithmetic against a per-row number of seconds, durations between two timestamps, and
percentiles interpolated like PostgreSQL's `percentile_cont` (SQLite has no percentile aggregate, so
there the values are numbered with window functions and the two around p·(n−1) interpolated — still
one query, never a Python loop over the rows). Domains call these instead of asking which database
they are on."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import Integer, Select, String, any_, bindparam, case, cast, extract, func, literal, select
from sqlalchemy.dialects import postgresql, sqlite

from api.db import db

# SQLite refuses statements with more than 32,766 bound parameters; lists are sent in batches there.
SQLITE_BATCH = 500


def insert_on_conflict(target: Any) -> Any:
    """INSERT that knows ON CONFLICT for the bound database (PostgreSQL, or SQLite ≥ 3.24)."""
    return (postgresql.insert if db.dialect == "postgresql" else sqlite.insert)(target)


def among(column: Any, values: list[str]) -> Any:
    """`column IN (values)` for text; on PostgreSQL `= ANY(:array)`, one parameter however many values."""
    if db.dialect == "postgresql":
        return column == any_(bindparam(None, values, type_=postgresql.ARRAY(String)))
    return column.in_(values)


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
