"""Field types shared by every domain's schemas.

Times are stored in UTC and presented in Asia/Shanghai with their offset ("2026-11-23T17:03:00+08:00");
a client may send any offset, and a time without one is refused rather than guessed.

Free text a person wrote (`PersonalText`) is shown whole to its writer and to staff, and to anyone else
with the phone and ID numbers in it masked (`api.masking`).
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any
from zoneinfo import ZoneInfo

from flask import g, has_app_context
from marshmallow import fields
from marshmallow.utils import get_value

from api.masking import mask_personal_numbers

LOCAL_TZ = ZoneInfo("Asia/Shanghai")


class DateTime(fields.AwareDateTime):
    def _serialize(self, value: datetime | None, attr: Any, obj: Any, **kwargs: Any) -> str | None:
        if value is None:
            return None
        if value.tzinfo is None:
            value = value.replace(tzinfo=UTC)
        return value.astimezone(LOCAL_TZ).isoformat()

    def _deserialize(self, value: Any, attr: Any, data: Any, **kwargs: Any) -> datetime:
        return super()._deserialize(value, attr, data, **kwargs).astimezone(UTC)


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
