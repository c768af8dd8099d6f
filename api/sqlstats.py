"""Statistics computed in SQL on both databases: durations between two timestamps, and percentiles
interpolated like PostgreSQL's `percentile_cont` (SQLite has no percentile aggregate, so there the
values are numbered with window functions and the two around p·(n−1) interpolated — still one query,
never a Python loop over the rows)."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from sqlalchemy import Integer, Select, case, cast, extract, func, literal, select

from api.db import db


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
