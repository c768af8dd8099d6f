"""What a domain declares about the personal data it holds (PIPL Art. 45–47), and the helpers its
exporter and eraser share.

Each domain's manifest names a `PersonalData`: the categories it holds about a person in words, the
columns that refer to a person or hold what a person wrote (`covers`, checked by a test against every
model), and the functions that export a person's data as JSON and erase it — deleting what exists only
for them, anonymising what must stay (an incident's public case keeps counting without its reporter; an
alert's history stays in the elder's care record without a departed relative's name). An eraser is
idempotent and runs in its domain's own transaction, so an erasure that dies half-way is finished by
running it again. `blockers` names what must not be silently dropped (the only confirmed contact of an
elder); `summary` what `/me/privacy` shows (consents, links, credits); `subjects` the other records
whose access-log rows the person may see (the elders they look after).
"""

from __future__ import annotations

import enum
import uuid
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import delete, update

from api.db import db


@dataclass(frozen=True)
class PersonalData:
    categories: tuple[str, ...]
    covers: tuple[str, ...]  # "table.column"
    export: str  # "module:function(user) -> dict"
    erase: str  # "module:function(user) -> None", idempotent
    blockers: str | None = None  # "module:function(user) -> list[str]": reasons the account cannot go yet
    summary: str | None = None  # "module:function(user) -> dict": consents and links for /me/privacy
    subjects: str | None = None  # "module:function(user) -> list[tuple[str, uuid.UUID]]"
    photos: str | None = None  # "module:function(user) -> list[Media]": the person's photos for the export


def jsonable(value: Any) -> Any:
    """A value as it goes into an export's JSON: times in ISO 8601, ids and enums as strings."""
    if isinstance(value, dict):
        return {str(k): jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple | set):
        return [jsonable(v) for v in value]
    if isinstance(value, datetime | date):
        return value.isoformat()
    if isinstance(value, uuid.UUID | Decimal):
        return str(value)
    if isinstance(value, enum.Enum):
        return value.value
    return value


def record(obj: Any, *names: str) -> dict[str, Any]:
    """The named attributes of a row, ready for JSON."""
    return {name: jsonable(getattr(obj, name)) for name in names}


def _column(attribute: Any) -> Any:
    """The Core column of a mapped attribute (`Alert.resolved_by_id`) or of a column itself."""
    prop = getattr(attribute, "property", None)
    return prop.columns[0] if prop is not None else attribute


def forget(attribute: Any, user_id: uuid.UUID, **also: Any) -> int:
    """`UPDATE … SET column = NULL (and `also`) WHERE column = user_id`: a record that stays, without them."""
    column = _column(attribute)
    stmt = update(column.table).where(column == user_id).values({column.name: None, **also})
    return db.session.execute(stmt).rowcount or 0


def remove(attribute: Any, user_id: uuid.UUID) -> int:
    """`DELETE … WHERE column = user_id`: rows that exist only for them."""
    column = _column(attribute)
    return db.session.execute(delete(column.table).where(column == user_id)).rowcount or 0
