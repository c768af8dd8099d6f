"""The party's calendar: months and quarters as people here count them (Asia/Shanghai), and the UTC instants
that bound them for SQL. Dues are owed by the month, meetings are due by the quarter, points are capped by
day, month, quarter or year."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, date, datetime, time

from api.errors import ApiError
from api.fields import LOCAL_TZ, MAX_YEAR, MIN_YEAR

QUARTER = re.compile(r"^(\d{4})Q([1-4])$")
MONTH = re.compile(r"^(\d{4})-(\d{2})$")


def local_today(now: datetime) -> date:
    return now.astimezone(LOCAL_TZ).date()


def month_of(day: date) -> date:
    """The first of `day`'s month (how a month is stored)."""
    return day.replace(day=1)


def current_month(now: datetime) -> date:
    return month_of(local_today(now))


def add_months(month: date, n: int) -> date:
    index = month.year * 12 + month.month - 1 + n
    return date(index // 12, index % 12 + 1, 1)


def months_between(first: date, last: date) -> int:
    """How many months from `first` to `last`, both counted (0 when `last` is before `first`)."""
    return max(0, (last.year - first.year) * 12 + last.month - first.month + 1)


def month_start(month: date) -> datetime:
    """The instant (UTC) a month begins in Shanghai."""
    return datetime.combine(month, time.min, tzinfo=LOCAL_TZ).astimezone(UTC)


def month_label(month: date) -> str:
    return f"{month.year}-{month.month:02d}"


def month_text(first: date, last: date) -> str:
    """ "2026年1月" or "2026年1月至3月" / "2026年11月至2027年2月", for people."""
    if first == last:
        return f"{first.year}年{first.month}月"
    if first.year == last.year:
        return f"{first.year}年{first.month}月至{last.month}月"
    return f"{first.year}年{first.month}月至{last.year}年{last.month}月"


def parse_month(value: str, field: str = "months") -> date:
    found = MONTH.match(value.strip()) if isinstance(value, str) else None
    if not found or not 1 <= int(found.group(2)) <= 12 or not MIN_YEAR <= int(found.group(1)) <= MAX_YEAR:
        raise ApiError("validation_failed", errors={field: [f"{value!r}: a month such as 2026-03"]})
    return date(int(found.group(1)), int(found.group(2)), 1)


@dataclass(frozen=True)
class Quarter:
    year: int
    number: int

    @classmethod
    def of(cls, moment: datetime) -> Quarter:
        day = local_today(moment)
        return cls(day.year, (day.month - 1) // 3 + 1)

    @classmethod
    def parse(cls, value: str | None, now: datetime, field: str = "quarter") -> Quarter:
        """`2026Q2`, or the current quarter when not given."""
        if not value:
            return cls.of(now)
        found = QUARTER.match(value.strip())
        if not found or not MIN_YEAR <= int(found.group(1)) <= MAX_YEAR:
            raise ApiError("validation_failed", errors={field: ["a quarter such as 2026Q2"]})
        return cls(int(found.group(1)), int(found.group(2)))

    @property
    def previous(self) -> Quarter:
        return Quarter(self.year - 1, 4) if self.number == 1 else Quarter(self.year, self.number - 1)

    @property
    def label(self) -> str:
        return f"{self.year}Q{self.number}"

    @property
    def first_month(self) -> date:
        return date(self.year, 3 * self.number - 2, 1)

    @property
    def start(self) -> datetime:
        return month_start(self.first_month)

    @property
    def end(self) -> datetime:
        """The instant the next quarter begins (excluded)."""
        return month_start(add_months(self.first_month, 3))


def cycle_key(cycle: str, moment: datetime) -> str:
    """The name of the point-rule cycle `moment` falls in: `2026-03-05`, `2026-03`, `2026Q1`, `2026`."""
    day = local_today(moment)
    if cycle == "day":
        return day.isoformat()
    if cycle == "month":
        return month_label(day)
    if cycle == "quarter":
        return Quarter.of(moment).label
    return str(day.year)
