"""Sharing windows: a lender's recurring rules turned into the concrete periods a space may be booked.

A rule is `{"days": "workdays" | "restdays" | "everyday", "start": "HH:MM", "end": "HH:MM"}` in Asia/Shanghai
time. Its window on a day starts that day at `start` and ends at `end` the same day — or the next day when
`end` is at or before `start` ("18:00–08:00" is one window from Tuesday evening to Wednesday morning;
"00:00–00:00" is the whole day). Which days are working days is the State Council's calendar
(`chinese-calendar`: holidays and make-up workdays, 调休); for a year the package does not know yet, Monday
to Friday. A blocked date removes the windows that start on it.

Windows of one offer that touch or overlap are one stretch of time: a booking must lie inside one stretch,
so Friday 18:00–Saturday 08:00 followed by an all-day Saturday is bookable straight through.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from typing import Any

import chinese_calendar

from api.fields import LOCAL_TZ

log = logging.getLogger(__name__)

DAYS = ("workdays", "restdays", "everyday")
DAYS_ZH = {"workdays": "工作日", "restdays": "休息日", "everyday": "每天"}
HHMM = re.compile(r"^([01]\d|2[0-3]):([0-5]\d)$")
MAX_RULES = 7
MAX_BLOCKED = 366


def is_workday(day: date) -> bool:
    """A working day in China: the State Council's calendar, Monday–Friday where it has no data yet."""
    try:
        return bool(chinese_calendar.is_workday(day))
    except NotImplementedError:
        return day.weekday() < 5


def parse_hhmm(value: Any) -> time | None:
    if not isinstance(value, str):
        return None
    match = HHMM.match(value)
    return time(int(match.group(1)), int(match.group(2))) if match else None


def rule_problems(rules: Any) -> dict[str, list[str]]:
    """What is wrong with a list of rules (empty: nothing)."""
    if not isinstance(rules, list) or not 1 <= len(rules) <= MAX_RULES:
        return {"rules": [f"1–{MAX_RULES} rules"]}
    problems: dict[str, list[str]] = {}
    for index, rule in enumerate(rules):
        where = f"rules.{index}"
        if not isinstance(rule, dict) or set(rule) - {"days", "start", "end"}:
            problems[where] = ['an object {"days", "start", "end"}']
            continue
        if rule.get("days") not in DAYS:
            problems[f"{where}.days"] = [f"one of {', '.join(DAYS)}"]
        for key in ("start", "end"):
            if parse_hhmm(rule.get(key)) is None:
                problems[f"{where}.{key}"] = ["a time HH:MM (00:00–23:59)"]
    return problems


def label(rule: dict[str, Any]) -> str:
    """A rule in words: "工作日 18:00–次日08:00"."""
    start, end = parse_hhmm(rule["start"]), parse_hhmm(rule["end"])
    assert start is not None and end is not None
    if start == end:
        return f"{DAYS_ZH[rule['days']]} 全天"
    return f"{DAYS_ZH[rule['days']]} {rule['start']}–{'次日' if end < start else ''}{rule['end']}"


@dataclass(frozen=True)
class Window:
    starts_at: datetime  # UTC
    ends_at: datetime
    label: str


def _applies(days: str, day: date) -> bool:
    if days == "everyday":
        return True
    return is_workday(day) == (days == "workdays")


def instances(rules: Iterable[dict[str, Any]], blocked: Iterable[str], first: date, last: date) -> list[Window]:
    """The windows that start on the local days `first`…`last`, in order of start."""
    skip = set(blocked)
    found = []
    day = first
    while day <= last:
        if day.isoformat() not in skip:
            for rule in rules:
                if not _applies(rule["days"], day):
                    continue
                start, end = parse_hhmm(rule["start"]), parse_hhmm(rule["end"])
                assert start is not None and end is not None
                begins = datetime.combine(day, start, tzinfo=LOCAL_TZ)
                finishes = datetime.combine(day + timedelta(days=1) if end <= start else day, end, tzinfo=LOCAL_TZ)
                found.append(Window(begins, finishes, label(rule)))
        day += timedelta(days=1)
    return sorted(found, key=lambda w: w.starts_at)


def stretches(windows: list[Window]) -> list[Window]:
    """Touching or overlapping windows joined; each stretch keeps the label of the window it starts with."""
    joined: list[Window] = []
    for window in windows:
        if joined and window.starts_at <= joined[-1].ends_at:
            last = joined[-1]
            if window.ends_at > last.ends_at:
                joined[-1] = Window(last.starts_at, window.ends_at, last.label)
            continue
        joined.append(window)
    return joined


@dataclass(frozen=True)
class Fit:
    """Whether [starts_at, ends_at) lies inside the offer: `window` the stretch it is in, else `problem`
    names the window it leaves (or that none holds its start)."""

    window: Window | None
    problem: str | None = None
    field: str = "starts_at"


def fit(rules: list[dict[str, Any]], blocked: list[str], starts_at: datetime, ends_at: datetime) -> Fit:
    first = starts_at.astimezone(LOCAL_TZ).date() - timedelta(days=1)
    last = ends_at.astimezone(LOCAL_TZ).date()
    windows = instances(rules, blocked, first, last)
    for stretch in stretches(windows):
        if stretch.starts_at <= starts_at < stretch.ends_at:
            if ends_at <= stretch.ends_at:
                return Fit(stretch)
            # Name the window the booking runs out of: the last one that began before the stretch's end.
            leaving = [w for w in windows if stretch.starts_at <= w.starts_at < stretch.ends_at]
            name = leaving[-1].label if leaving else stretch.label
            return Fit(None, f"{name}（止于 {_local(stretch.ends_at)}）", "ends_at")
    names = "、".join(dict.fromkeys(label(r) for r in rules))
    return Fit(None, f"开始时间不在共享时段内（{names}）")


def _local(moment: datetime) -> str:
    local = moment.astimezone(LOCAL_TZ)
    return f"{local.month}月{local.day}日 {local:%H:%M}"
