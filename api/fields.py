"""Field types shared by every domain's schemas.

Times are stored in UTC and presented in Asia/Shanghai with their offset ("2026-11-23T17:03:00+08:00");
a client may send any offset, and a time without one is refused rather than guessed.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any
from zoneinfo import ZoneInfo

from marshmallow import fields

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
