"""The alert rules as data and pure functions: which events each kind of device can send, which of them
raise an alert of what severity, the per-elder thresholds, and the clock rules (daytime, quiet hours).

Nothing here touches the database or Flask, so the rules are tested (and read) as a table.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, time, timedelta
from typing import Any

from api.alerts.models import AlertRule, Severity
from api.fields import LOCAL_TZ

HEARTBEAT = "heartbeat"
DOOR_OPEN = "open"
BLOOD_PRESSURE = "blood_pressure"

# What each kind of device can say. An event type outside its row is `unsupported_type`.
_COMMON = frozenset({HEARTBEAT, "low_battery", "tamper"})
EVENT_TYPES: dict[str, frozenset[str]] = {
    "door_sensor": _COMMON | {"open", "close"},
    "smoke_detector": _COMMON | {"smoke", "test", "clear"},
    "gas_detector": _COMMON | {"gas", "test", "clear"},
    "arc_fault_breaker": _COMMON | {"arc_fault", "test", "clear"},
    "water_leak_sensor": _COMMON | {"leak", "clear"},
    "sos_button": _COMMON | {"sos", "cancel"},
    "fall_detector": _COMMON | {"fall", "clear"},
    "blood_pressure_monitor": _COMMON | {BLOOD_PRESSURE},
}

# event type -> (rule, severity): raised at once, whatever the value.
IMMEDIATE: dict[str, tuple[AlertRule, Severity]] = {
    "smoke": (AlertRule.SMOKE, Severity.CRITICAL),
    "gas": (AlertRule.GAS, Severity.CRITICAL),
    "arc_fault": (AlertRule.ARC_FAULT, Severity.CRITICAL),
    "leak": (AlertRule.WATER_LEAK, Severity.CRITICAL),
    "sos": (AlertRule.SOS, Severity.CRITICAL),
    "fall": (AlertRule.FALL, Severity.CRITICAL),
    "low_battery": (AlertRule.LOW_BATTERY, Severity.NOTICE),
    "tamper": (AlertRule.TAMPER, Severity.NOTICE),
}
# Raised by the sweeps rather than by an event.
DOOR_INACTIVITY = (AlertRule.DOOR_INACTIVITY, Severity.WARNING)
OFFLINE = (AlertRule.OFFLINE, Severity.NOTICE)
BLOOD_PRESSURE_HIGH = (AlertRule.BLOOD_PRESSURE, Severity.WARNING)

# Words a family member reads in the message and the mini-program.
RULE_NAMES_ZH: dict[AlertRule, str] = {
    AlertRule.SMOKE: "烟雾报警",
    AlertRule.GAS: "燃气泄漏报警",
    AlertRule.ARC_FAULT: "电弧故障报警",
    AlertRule.WATER_LEAK: "水浸报警",
    AlertRule.SOS: "紧急呼叫",
    AlertRule.FALL: "跌倒报警",
    AlertRule.BLOOD_PRESSURE: "血压偏高",
    AlertRule.DOOR_INACTIVITY: "长时间未开门",
    AlertRule.TAMPER: "设备被拆动",
    AlertRule.LOW_BATTERY: "电量低",
    AlertRule.OFFLINE: "设备离线",
}
DEVICE_NAMES_ZH: dict[str, str] = {
    "door_sensor": "门磁",
    "smoke_detector": "烟感",
    "gas_detector": "燃气报警器",
    "arc_fault_breaker": "电弧保护器",
    "water_leak_sensor": "水浸传感器",
    "sos_button": "一键呼叫",
    "fall_detector": "跌倒检测器",
    "blood_pressure_monitor": "血压计",
}


@dataclass(frozen=True)
class Thresholds:
    """An elder's own limits (defaults when the device watches nobody in particular)."""

    bp_systolic_max: int = 160
    bp_diastolic_max: int = 100
    door_inactivity_hours: int = 24


@dataclass(frozen=True)
class Hit:
    rule: AlertRule
    severity: Severity


def supported(device_type: str, event_type: str) -> bool:
    return event_type in EVENT_TYPES.get(device_type, frozenset())


def _int_in(value: Any, low: int, high: int) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and low <= value <= high


def value_errors(event_type: str, value: Any) -> list[str]:
    """What is wrong with an event's value (empty when it is fine)."""
    if event_type == BLOOD_PRESSURE:
        if not isinstance(value, dict):
            return ["a blood pressure reading needs {systolic, diastolic, pulse?}"]
        problems = [
            f"{key} must be an integer 20–300"
            for key in ("systolic", "diastolic")
            if not _int_in(value.get(key), 20, 300)
        ]
        if "pulse" in value and value["pulse"] is not None and not _int_in(value["pulse"], 20, 250):
            problems.append("pulse must be an integer 20–250")
        return problems
    if isinstance(value, dict) and "battery" in value and not _int_in(value["battery"], 0, 100):
        return ["battery must be an integer 0–100"]
    return []


def battery_of(value: Any) -> int | None:
    """The battery level an event reports, if it reports one (`{"battery": 0–100}`)."""
    if isinstance(value, dict) and _int_in(value.get("battery"), 0, 100):
        return int(value["battery"])
    return None


def evaluate(event_type: str, value: Any, thresholds: Thresholds) -> Hit | None:
    """The alert an (already validated, supported) event raises, or None."""
    if event_type in IMMEDIATE:
        return Hit(*IMMEDIATE[event_type])
    if event_type != BLOOD_PRESSURE or not isinstance(value, dict):
        return None
    if value["systolic"] > thresholds.bp_systolic_max or value["diastolic"] > thresholds.bp_diastolic_max:
        return Hit(*BLOOD_PRESSURE_HIGH)
    return None


# ------------------------------------------------------------------------------------------------
# Clock rules
# ------------------------------------------------------------------------------------------------


def parse_hours(spec: str) -> tuple[int, int]:
    """`"22-7"` → (22, 7): from 22:00 to 07:00 local time (it may wrap over midnight)."""
    start, _, end = spec.partition("-")
    first, last = int(start), int(end)
    if not (0 <= first <= 23 and 0 <= last <= 23):
        raise ValueError(f"hours {spec!r} must be two hours 0–23 like '22-7'")
    return first, last


def within(moment: datetime, spec: str) -> bool:
    """Whether `moment` falls in the local-time hours `spec` (start inclusive, end exclusive)."""
    start, end = parse_hours(spec)
    hour = moment.astimezone(LOCAL_TZ).hour
    if start == end:
        return False
    return start <= hour < end if start < end else (hour >= start or hour < end)


def end_of(moment: datetime, spec: str) -> datetime:
    """When the hours `spec` that `moment` is in end (the next `end:00` local time)."""
    _, end = parse_hours(spec)
    local = moment.astimezone(LOCAL_TZ)
    candidate = datetime.combine(local.date(), time(end), LOCAL_TZ)
    if candidate <= local:
        candidate = datetime.combine(local.date() + timedelta(days=1), time(end), LOCAL_TZ)
    return candidate


def door_inactive(last_activity_at: datetime | None, now: datetime, hours: int) -> bool:
    """No door opening for `hours` (a sensor that never reported an opening is judged by the sweep's caller)."""
    return last_activity_at is not None and now - last_activity_at >= timedelta(hours=hours)


def escalation_delay(severity: Severity, critical_seconds: int, warning_seconds: int) -> int | None:
    """Seconds an alert of `severity` waits for an acknowledgement before the next step; None: never escalates."""
    return {Severity.CRITICAL: critical_seconds, Severity.WARNING: warning_seconds}.get(severity)
