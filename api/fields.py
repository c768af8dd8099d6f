"""Field types shared by every domain's schemas, and the one Shanghai time zone.

Times are stored in UTC and presented in Asia/Shanghai with their offset ("2026-11-23T17:03:00+08:00");
a client may send any offset, and a time without one is refused rather than guessed. A time (or a
date) must lie in the years 1900–2200: anything further out cannot be converted between time zones
at the edges of the calendar, and nothing a community does happens there.

Text: every string a client sends is checked at the edge (`api.hygiene`); a `Text` field adds what only
the field knows — whether it may hold line breaks and how long it may be.

Free text a person wrote (`PersonalText`) is shown whole to its writer and to staff, and to anyone else
with the phone and ID numbers in it masked (`api.masking`).
"""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from flask import g, has_app_context
from marshmallow import ValidationError, fields, validate
from marshmallow.utils import get_value

from api.hygiene import message
from api.masking import mask_personal_numbers

LOCAL_TZ = ZoneInfo("Asia/Shanghai")

MIN_YEAR = 1900
MAX_YEAR = 2200
# One day inside the limits on each side: converting between any two offsets (±14 h) never leaves them.
EARLIEST = datetime(MIN_YEAR, 1, 2, tzinfo=UTC)
LATEST = datetime(MAX_YEAR, 12, 30, tzinfo=UTC)

SINGLE_LINE_MAX = 200
MULTILINE_MAX = 5000


def local_text(moment: datetime | None) -> str:
    """A time as people here read it in a message: "12月2日 09:00" (Asia/Shanghai); "" for none."""
    if moment is None:
        return ""
    local = moment.astimezone(LOCAL_TZ)
    return f"{local.month}月{local.day}日 {local:%H:%M}"


class TimeOutOfRange(ValueError):
    """A time outside the years the API accepts; its message says which years those are."""


def _range_message() -> str:
    from api.errors import wants_english

    if wants_english():
        return f"must be between the years {MIN_YEAR} and {MAX_YEAR}"
    return f"时间须在 {MIN_YEAR} 年至 {MAX_YEAR} 年之间"


def parse_aware(value: str) -> datetime:
    """An ISO 8601 time with an offset, in UTC; ValueError (with a message a client can act on) otherwise."""
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError:
        raise ValueError("not an ISO 8601 time") from None
    if parsed.tzinfo is None:
        raise ValueError("needs a UTC offset")
    return to_utc(parsed)


def to_utc(value: datetime) -> datetime:
    """`value` in UTC, or ValueError when it lies outside the years the API accepts."""
    if not MIN_YEAR <= value.year <= MAX_YEAR:
        raise TimeOutOfRange(_range_message())
    try:
        converted = value.astimezone(UTC)
    except OverflowError as exc:
        raise TimeOutOfRange(_range_message()) from exc
    if not EARLIEST <= converted <= LATEST:
        raise TimeOutOfRange(_range_message())
    return converted


def clamp(value: datetime) -> datetime:
    """Keep a computed time inside the accepted range (statistics windows, defaults), never overflowing."""
    return min(max(value, EARLIEST), LATEST)


def shift(value: datetime, delta: timedelta) -> datetime:
    """`value + delta`, clamped to the accepted range instead of overflowing at the edge of the calendar."""
    try:
        return clamp(value + delta)
    except OverflowError:
        return LATEST if delta > timedelta(0) else EARLIEST


class DateTime(fields.AwareDateTime):
    def _serialize(self, value: datetime | None, attr: Any, obj: Any, **kwargs: Any) -> str | None:
        if value is None:
            return None
        if value.tzinfo is None:
            value = value.replace(tzinfo=UTC)
        return value.astimezone(LOCAL_TZ).isoformat()

    def _deserialize(self, value: Any, attr: Any, data: Any, **kwargs: Any) -> datetime:
        parsed = super()._deserialize(value, attr, data, **kwargs)
        try:
            return to_utc(parsed)
        except ValueError as exc:
            raise ValidationError(str(exc)) from exc


class Date(fields.Date):
    def _deserialize(self, value: Any, attr: Any, data: Any, **kwargs: Any) -> date:
        parsed = super()._deserialize(value, attr, data, **kwargs)
        if not MIN_YEAR <= parsed.year <= MAX_YEAR:
            raise ValidationError(_range_message())
        return parsed


class Text(fields.String):
    """A string a person typed. Single-line unless `multiline=True` (tabs and line breaks refused), and
    never longer than `max_length` (200 characters single-line, 5,000 multi-line) unless a `Length`
    validator says otherwise. Surrounding whitespace is kept: trimming is a domain decision.

    The default limit is checked on load, not declared as a validator: schemas that only present text
    (responses) use the same field without claiming a limit in the API document."""

    def __init__(self, *args: Any, multiline: bool = False, max_length: int | None = None, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.multiline = multiline
        has_length = any(isinstance(v, validate.Length) and v.max is not None for v in self.validators)
        self.max_length = None if has_length else (max_length or (MULTILINE_MAX if multiline else SINGLE_LINE_MAX))

    def _deserialize(self, value: Any, attr: Any, data: Any, **kwargs: Any) -> str:
        text = super()._deserialize(value, attr, data, **kwargs)
        if not self.multiline and ("\n" in text or "\r" in text or "\t" in text):
            raise ValidationError(message("newline"))
        if self.max_length is not None and len(text) > self.max_length:
            raise ValidationError(validate.Length.message_max.format(max=self.max_length))
        return text


def _reads_whole(obj: Any, author: str | None) -> bool:
    """Whether this request's reader sees `obj`'s free text unmasked: staff, or the person who wrote it.

    Outside a request (a task, a script) there is no reader, and the text is masked.
    """
    reader = g.get("user") if has_app_context() else None
    if reader is None:
        return False
    if getattr(reader, "is_staff", False):
        return True
    return author is not None and get_value(obj, author) == getattr(reader, "id", None)


class PersonalText(fields.String):
    """Free text a person wrote, shown to others: the writer and staff read it whole, anyone else masked.

    `author` names the attribute holding the writer's user id (`"reporter_id"`); without it, only staff read
    the text whole. Staff handle the case and may need to call back; another resident, a family member or a
    follower of a merged report sees `139****5678`.
    """

    def __init__(self, *args: Any, author: str | None = None, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.author = author

    def _serialize(self, value: Any, attr: Any, obj: Any, **kwargs: Any) -> str | None:
        text = super()._serialize(value, attr, obj, **kwargs)
        if not text or _reads_whole(obj, self.author):
            return text
        return mask_personal_numbers(text)


class PersonalTextValues(fields.Dict):
    """A mapping of free-text answers (an incident's extra fields): its text values masked as `PersonalText`."""

    def __init__(self, *args: Any, author: str | None = None, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.author = author

    def _serialize(self, value: Any, attr: Any, obj: Any, **kwargs: Any) -> Any:
        shown = super()._serialize(value, attr, obj, **kwargs)
        if not shown or _reads_whole(obj, self.author):
            return shown
        return {key: _masked(item) for key, item in shown.items()}


def _masked(value: Any) -> Any:
    if isinstance(value, str):
        return mask_personal_numbers(value)
    if isinstance(value, list):
        return [_masked(item) for item in value]
    return value
