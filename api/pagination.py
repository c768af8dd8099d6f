"""Cursor (keyset) pagination, the one way every list route pages.

A route declares `@blp.arguments(CursorArgs, location="query")` (or a subclass that adds filters),
answers with `page_of(ItemSchema)`, and calls `paginate(stmt, order_by=..., limit=, cursor=)`. The
cursor is an opaque token holding the last row's sort key; the next page is `WHERE key < last ORDER
BY key DESC LIMIT n+1` — an index range scan, never an OFFSET over a large table.
"""

from __future__ import annotations

import base64
import enum
import json
import math
import uuid
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from marshmallow import Schema, fields, validate
from sqlalchemy import Integer, Select, and_, bindparam, or_
from sqlalchemy.orm import InstrumentedAttribute

from api.db import db
from api.errors import ApiError
from api.fields import Text, to_utc
from api.hygiene import text_problem

DEFAULT_LIMIT = 20
MAX_LIMIT = 100


class CursorArgs(Schema):
    limit = fields.Integer(
        load_default=DEFAULT_LIMIT,
        validate=validate.Range(min=1, max=MAX_LIMIT),
        metadata={"description": f"page size, 1–{MAX_LIMIT}"},
    )
    cursor = Text(
        load_default=None,
        validate=validate.Length(max=512),
        metadata={"description": "`next_cursor` of the previous page"},
    )


_page_schemas: dict[type[Schema], type[Schema]] = {}


def page_of(item_schema: type[Schema]) -> type[Schema]:
    """The response schema `{"items": [...], "next_cursor": str|null}` for one item schema."""
    if item_schema not in _page_schemas:
        name = item_schema.__name__.removesuffix("Schema") + "PageSchema"
        _page_schemas[item_schema] = type(
            name,
            (Schema,),
            {
                "items": fields.List(fields.Nested(item_schema), required=True),
                "next_cursor": Text(required=True, allow_none=True, metadata={"description": "null on the last page"}),
            },
        )
    return _page_schemas[item_schema]


@dataclass
class Page:
    items: list[Any]
    next_cursor: str | None


def _encode_value(value: Any) -> Any:
    if isinstance(value, datetime):
        return {"t": value.isoformat()}
    if isinstance(value, uuid.UUID):
        return {"u": value.hex}
    return value


def _decode_value(value: Any) -> Any:
    if isinstance(value, dict):
        if "t" in value:
            return to_utc(datetime.fromisoformat(value["t"]))
        if "u" in value:
            return uuid.UUID(hex=value["u"])
        raise ValueError("unknown cursor value")
    return value


def _comparable(value: Any) -> bool:
    """A value the database can compare with a column: cursors come from clients, who may forge them."""
    if isinstance(value, bool) or value is None:
        return True
    if isinstance(value, int):
        return -(2**63) <= value < 2**63
    if isinstance(value, float):
        return math.isfinite(value)
    if isinstance(value, str):
        return text_problem(value) is None
    return isinstance(value, dict)


def encode_cursor(values: list[Any]) -> str:
    raw = json.dumps([_encode_value(v) for v in values], separators=(",", ":")).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def _python_type(column: Any) -> type | None:
    try:
        return column.type.python_type
    except NotImplementedError:
        return None


def _fits(value: Any, column: Any) -> bool:
    """A decoded cursor value of the type its column holds (a forged cursor must not reach the database)."""
    expected = _python_type(column)
    if expected is None or value is None:
        return True
    if issubclass(expected, enum.Enum):
        return isinstance(value, str | expected)
    if expected is float:
        return isinstance(value, int | float) and not isinstance(value, bool)
    return isinstance(value, expected) and not (expected is int and isinstance(value, bool))


def decode_cursor(cursor: str, arity: int, columns: list[Any] | None = None) -> list[Any]:
    try:
        padded = cursor + "=" * (-len(cursor) % 4)
        values = json.loads(base64.urlsafe_b64decode(padded.encode()))
        if not isinstance(values, list) or len(values) != arity:
            raise ValueError("wrong arity")
        if not all(_comparable(v) for v in values):
            raise ValueError("a value no column can hold")
        decoded = [_decode_value(v) for v in values]
        if columns is not None and not all(_fits(v, c) for v, c in zip(decoded, columns, strict=True)):
            raise ValueError("a value of another type than its column")
        return decoded
    except (ValueError, TypeError, RecursionError, AttributeError) as exc:
        raise ApiError("invalid_cursor", errors={"cursor": ["invalid"]}) from exc


def _after(columns: list[InstrumentedAttribute[Any]], values: list[Any], descending: bool) -> Any:
    """Rows strictly after `values` in (col1, col2, ...) order, written portably without row values."""
    clauses = []
    for i, column in enumerate(columns):
        equal_prefix = [columns[j] == values[j] for j in range(i)]
        step = column < values[i] if descending else column > values[i]
        clauses.append(and_(*equal_prefix, step))
    return or_(*clauses)


def paginate(
    stmt: Select[Any],
    *,
    order_by: tuple[InstrumentedAttribute[Any], ...],
    limit: int = DEFAULT_LIMIT,
    cursor: str | None = None,
    descending: bool = True,
) -> Page:
    """Run `stmt` one page at a time. `order_by` must end in a unique column (the id)."""
    columns = list(order_by)
    if cursor:
        stmt = stmt.where(_after(columns, decode_cursor(cursor, len(columns), columns), descending))
    ordering = [c.desc() for c in columns] if descending else [c.asc() for c in columns]
    # The page size written into the statement, not bound: with it bound, PostgreSQL prices a reused plan as
    # if it returned a tenth of the table and plans the statement again on every run (see `api.scope._prefix`).
    page_size = bindparam(None, limit + 1, type_=Integer, literal_execute=True)
    rows = list(db.session.scalars(stmt.order_by(*ordering).limit(page_size)))
    next_cursor = None
    if len(rows) > limit:
        rows = rows[:limit]
        last = rows[-1]
        next_cursor = encode_cursor([getattr(last, c.key) for c in columns])
    return Page(items=rows, next_cursor=next_cursor)
