"""Which days a daily meal plan serves: the State Council's working-day calendar (`chinese-calendar`: public
holidays and the make-up workdays, 调休, that pay for them) and fixed weekday patterns.

- `workdays`: a day is served when it is a working day — Monday–Friday except public holidays, plus the
  make-up Saturdays and Sundays (National Day 2026: 1–7 October off, Sunday 20 September and Saturday
  10 October worked).
- `weekdays` (e.g. "12345", Monday–Friday): a day is served when its ISO weekday is in the pattern, and — unless
  the plan says otherwise — it is not a statutory holiday (any day of a holiday period, 1–7 October included).
  Make-up workdays are not added: a pattern means those weekdays.

The package knows the years the State Council has published (up to 2026 in chinese-calendar 1.11.0). For a
later year it answers NotImplementedError; then the calendar falls back — never failing — to Monday–Friday
working days with only the statutory holidays that have a fixed date (New Year's Day 1 January, Labour Day
1–2 May, National Day 1–3 October; the lunar holidays and 调休 are not known in advance), and says so
(`DayInfo.official` False, `source` "fallback") so the API and the kitchen's list can show it.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass
from datetime import date

import chinese_calendar

# The holidays fixed by date in the State Council's 全国年节及纪念日放假办法 (the others follow the lunar calendar).
FIXED_HOLIDAYS: dict[tuple[int, int], str] = {
    (1, 1): "New Year's Day",
    (5, 1): "Labour Day",
    (5, 2): "Labour Day",
    (10, 1): "National Day",
    (10, 2): "National Day",
    (10, 3): "National Day",
}
HOLIDAY_NAMES_ZH = {
    "New Year's Day": "元旦",
    "Spring Festival": "春节",
    "Tomb-sweeping Day": "清明节",
    "Labour Day": "劳动节",
    "Dragon Boat Festival": "端午节",
    "National Day": "国庆节",
    "Mid-autumn Festival": "中秋节",
    "Anti-Fascist 70th Day": "抗战胜利纪念日",
}
WEEKDAY_DIGITS = "1234567"


@dataclass(frozen=True)
class DayInfo:
    day: date
    workday: bool
    # The statutory holiday this day belongs to (a day off of it), None on other days.
    holiday: str | None
    # A make-up workday (调休): a Saturday or Sunday worked for a holiday.
    makeup_workday: bool
    # Whether the State Council's calendar for the year is known (False: the Monday–Friday fallback).
    official: bool

    @property
    def source(self) -> str:
        return "official" if self.official else "fallback"

    @property
    def holiday_zh(self) -> str | None:
        return HOLIDAY_NAMES_ZH.get(self.holiday, self.holiday) if self.holiday else None


@functools.lru_cache(maxsize=4096)
def day_info(day: date) -> DayInfo:
    """What the calendar says of `day`; never raises for a valid date."""
    try:
        workday = bool(chinese_calendar.is_workday(day))
        on_holiday, name = chinese_calendar.get_holiday_detail(day)
    except NotImplementedError:
        holiday = FIXED_HOLIDAYS.get((day.month, day.day))
        return DayInfo(day, day.weekday() < 5 and holiday is None, holiday, False, False)
    holiday = name if on_holiday and name else None
    return DayInfo(day, workday, holiday, workday and day.weekday() >= 5, True)


def official_until() -> date:
    """The last day the package's calendar covers."""
    return max(max(chinese_calendar.holidays), max(chinese_calendar.workdays))


def weekdays_problem(value: object) -> str | None:
    """What is wrong with a weekday pattern ("12345"), or None."""
    if not isinstance(value, str) or not value:
        return "1–7 ISO weekday digits, e.g. 12345 for Monday–Friday"
    if any(ch not in WEEKDAY_DIGITS for ch in value):
        return "only the digits 1 (Monday) to 7 (Sunday)"
    if len(set(value)) != len(value):
        return "each weekday once"
    return None


def normalised_weekdays(value: str) -> str:
    return "".join(sorted(value))


def serves(schedule: str, weekdays: str, skip_holidays: bool, day: date) -> bool:
    """Whether a plan with this schedule orders a meal on `day` (before its dates and pauses are considered)."""
    info = day_info(day)
    if schedule == "workdays":
        return info.workday
    if str(day.isoweekday()) not in weekdays:
        return False
    return not (skip_holidays and info.holiday is not None)
