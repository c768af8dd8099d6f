"""Signed IoT ingestion: verify a batch (HMAC-SHA256, timestamp window, replay), then store and judge
up to 1,000 events with a handful of set-based statements, whatever the batch holds:

0. one INSERT of the batch's receipt (its signature is taken once: the replay guard);
1. one SELECT of the batch's devices by serial (with their room's area and elder's thresholds);
2. one `INSERT … ON CONFLICT (platform, event_id) DO NOTHING RETURNING` — what comes back is new, the
   rest were pushed before (`duplicate`);
3. one executemany UPDATE of last_seen / battery / last activity per device;
4. one UPDATE bringing offline devices back (and resolving their offline alerts), if any;
5. one upsert of the alerts the new events raise (`services.raise_alerts`), if any.

A malformed item, an unknown device or an event its device cannot send is reported in that item's
result and never fails the batch: the good items are kept.
"""

from __future__ import annotations

import uuid
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import bindparam, case, select

from api import hygiene, signedbatch
from api.accounts.models import Area, Room
from api.alerts import rules, services
from api.alerts.models import AlertRule, IotBatchReceipt, IotEvent
from api.config import Settings
from api.db import db, new_id
from api.devices.models import Device, DeviceStatus
from api.dialect import among, insert_rows
from api.eldercare.models import Elder
from api.errors import ApiError

MAX_BATCH = 1000
PLATFORM_HEADER = signedbatch.PLATFORM_HEADER
TIMESTAMP_HEADER = signedbatch.TIMESTAMP_HEADER
SIGNATURE_HEADER = signedbatch.SIGNATURE_HEADER
FUTURE_TOLERANCE = timedelta(minutes=10)  # device clocks drift; an event from further ahead is refused
STATUSES = ("accepted", "duplicate", "unknown_device", "invalid", "unsupported_type")
CODES = signedbatch.Codes(
    not_configured="iot_not_configured",
    missing="iot_signature_missing",
    invalid="iot_signature_invalid",
    stale="iot_timestamp_stale",
    replayed="iot_batch_replayed",
)
sign = signedbatch.sign


def verify(headers: Any, body: bytes, settings: Settings, now: datetime) -> str:
    """The platform that signed this batch, or the error to answer with (`api.signedbatch.verify`, with the
    IoT platforms' secrets). Whether it was seen before is `take_once`, in the batch's transaction."""
    return signedbatch.verify(
        headers, body, settings.iot_platform_secrets, settings.iot_replay_window_seconds, now, CODES
    )


def take_once(platform: str, headers: Any, now: datetime) -> None:
    """The replay guard: a signature is taken in once (a row of `iot_batch_receipts` in the batch's own
    transaction — see `api.signedbatch`), so Redis being down loses no alarm."""
    signedbatch.take_once(IotBatchReceipt, platform, headers, now, CODES.replayed)


def forget_old_receipts(settings: Settings, now: datetime) -> int:
    """A signature is acceptable for at most 2·window seconds (timestamps ±window): older receipts can go."""
    return signedbatch.forget_old(IotBatchReceipt, settings.iot_replay_window_seconds, now)


# ------------------------------------------------------------------------------------------------
# Items
# ------------------------------------------------------------------------------------------------


@dataclass
class Item:
    index: int
    event_id: str
    serial: str
    type: str
    occurred_at: datetime
    value: Any


@dataclass
class BatchResult:
    results: list[dict[str, Any]]
    counts: dict[str, int] = field(default_factory=dict)
    alerts_opened: int = 0


def parse_item(index: int, raw: Any, now: datetime) -> tuple[Item | None, dict[str, list[str]]]:
    """One item of a batch, or what is wrong with it: nothing in an item can fail the batch."""
    if not isinstance(raw, dict):
        return None, {"_item": ["must be an object"]}
    errors: dict[str, list[str]] = {}
    event_id = signedbatch.item_text(raw, "event_id", 64, errors)
    serial = signedbatch.item_text(raw, "device_serial", 64, errors)
    event_type = signedbatch.item_text(raw, "type", 32, errors)
    occurred_at = signedbatch.item_time(raw, "occurred_at", now, FUTURE_TOLERANCE, errors)
    value, value_errors = hygiene.check_strings(raw.get("value"), "value")
    errors.update(value_errors)
    if errors or occurred_at is None:
        return None, errors
    return Item(index, event_id, serial, event_type, occurred_at, value), {}


@dataclass
class _DeviceRow:
    id: uuid.UUID
    type: str
    status: DeviceStatus
    elder_id: uuid.UUID | None
    room_id: uuid.UUID | None
    area_path: str
    thresholds: rules.Thresholds
    last_seen_at: datetime | None = None


def _devices(serials: set[str]) -> dict[str, _DeviceRow]:
    if not serials:
        return {}
    rows = db.session.execute(
        select(
            Device.serial,
            Device.id,
            Device.type,
            Device.status,
            Device.elder_id,
            Device.room_id,
            Area.path,
            Elder.bp_systolic_max,
            Elder.bp_diastolic_max,
            Device.last_seen_at,
        )
        .outerjoin(Room, Room.id == Device.room_id)
        .outerjoin(Area, Area.id == Room.building_id)
        .outerjoin(Elder, Elder.id == Device.elder_id)
        .where(among(Device.serial, sorted(serials)))
    ).all()
    out = {}
    for serial, device_id, device_type, status, elder_id, room_id, path, sys_max, dia_max, seen in rows:
        thresholds = (
            rules.Thresholds(bp_systolic_max=sys_max, bp_diastolic_max=dia_max)
            if sys_max is not None
            else rules.Thresholds()
        )
        out[serial] = _DeviceRow(
            device_id, _enum_value(device_type), DeviceStatus(status), elder_id, room_id, path or "", thresholds, seen
        )
    return out


def _enum_value(value: Any) -> str:
    return value.value if hasattr(value, "value") else str(value)


def ingest(platform: str, items: list[Any], settings: Settings, now: datetime) -> BatchResult:
    """Store and judge one verified batch; one result per item, in order."""
    if len(items) > MAX_BATCH:
        raise ApiError("iot_batch_too_large", limit=MAX_BATCH, count=len(items))
    results: list[dict[str, Any]] = []
    parsed: list[Item] = []
    seen_ids: set[str] = set()
    for index, raw in enumerate(items):
        item, errors = parse_item(index, raw, now)
        result: dict[str, Any] = {"event_id": signedbatch.item_event_id(raw)}
        results.append(result)
        if item is None:
            result.update(status="invalid", errors=errors)
            continue
        if item.event_id in seen_ids:
            result["status"] = "duplicate"  # twice in the same batch
            continue
        seen_ids.add(item.event_id)
        parsed.append(item)

    devices = _devices({i.serial for i in parsed})
    candidates: list[tuple[Item, _DeviceRow]] = []
    for item in parsed:
        result = results[item.index]
        device = devices.get(item.serial)
        if device is None or device.status == DeviceStatus.RETIRED:
            result["status"] = "unknown_device"
            continue
        if not rules.supported(device.type, item.type):
            result.update(status="unsupported_type", errors={"type": [f"a {device.type} cannot send {item.type!r}"]})
            continue
        problems = rules.value_errors(item.type, item.value)
        if problems:
            result.update(status="invalid", errors={"value": problems})
            continue
        candidates.append((item, device))

    accepted = _store_events(platform, candidates, now)
    opened = 0
    if accepted:
        _touch_devices(accepted, now)
        opened = _judge(accepted, results, settings, now)
    for item, _device in candidates:
        results[item.index].setdefault("status", "duplicate")  # not returned by the insert: pushed before
    counts = dict.fromkeys(STATUSES, 0)
    for result in results:
        counts[result["status"]] += 1
    return BatchResult(results, counts, opened)


def _store_events(
    platform: str, candidates: list[tuple[Item, _DeviceRow]], now: datetime
) -> list[tuple[Item, _DeviceRow]]:
    if not candidates:
        return []
    table = IotEvent.__table__
    candidates = sorted(candidates, key=lambda c: c[0].event_id)  # one lock order for racing re-pushes
    rows = [
        {
            "id": new_id(),
            "platform": platform,
            "event_id": item.event_id,
            "device_id": device.id,
            "type": item.type,
            "value": item.value,
            "occurred_at": item.occurred_at,
            "received_at": now,
        }
        for item, device in candidates
    ]
    stmt, params = insert_rows(table, rows)
    stmt = stmt.on_conflict_do_nothing(index_elements=[table.c.platform, table.c.event_id]).returning(table.c.event_id)
    new = set(db.session.scalars(stmt, params).all())
    accepted = []
    for item, device in candidates:
        if item.event_id in new:
            accepted.append((item, device))
    return accepted


def _touch_devices(accepted: list[tuple[Item, _DeviceRow]], now: datetime) -> None:
    """Last seen, battery and last activity of every device that spoke — one executemany UPDATE.

    Each field follows the newest reading only: after an outage a platform re-sends older batches after
    newer ones were taken, and a battery level of yesterday must not hide today's low battery. The
    comparison is in the statement, so it also holds against a concurrent batch.
    """
    seen: dict[uuid.UUID, datetime] = {}
    battery: dict[uuid.UUID, tuple[datetime, int]] = {}
    activity: dict[uuid.UUID, datetime] = {}
    offline: set[uuid.UUID] = set()
    for item, device in accepted:
        seen[device.id] = max(seen.get(device.id, item.occurred_at), item.occurred_at)
        level = rules.battery_of(item.value)
        if level is not None and (device.id not in battery or battery[device.id][0] <= item.occurred_at):
            battery[device.id] = (item.occurred_at, level)
        if item.type in (rules.DOOR_OPEN, rules.BLOOD_PRESSURE):
            activity[device.id] = max(activity.get(device.id, item.occurred_at), item.occurred_at)
        # Only a reading newer than the last one heard brings a silent device back: a re-sent old batch
        # says nothing about whether it works now.
        if device.status == DeviceStatus.OFFLINE and (
            device.last_seen_at is None or item.occurred_at > device.last_seen_at
        ):
            offline.add(device.id)
    table = Device.__table__
    stamp_type = table.c.last_seen_at.type
    new_seen = bindparam("b_seen", type_=stamp_type)
    new_activity = bindparam("b_activity", type_=stamp_type)
    new_battery_at = bindparam("b_battery_at", type_=stamp_type)
    battery_is_newer = new_battery_at.is_not(None) & (
        table.c.battery_at.is_(None) | (table.c.battery_at < new_battery_at)
    )
    stmt = (
        table.update()
        .where(table.c.id == bindparam("b_id"))
        .values(
            last_seen_at=case(
                (table.c.last_seen_at.is_(None) | (table.c.last_seen_at < new_seen), new_seen),
                else_=table.c.last_seen_at,
            ),
            battery_percent=case(
                (battery_is_newer, bindparam("b_battery", type_=table.c.battery_percent.type)),
                else_=table.c.battery_percent,
            ),
            battery_at=case((battery_is_newer, new_battery_at), else_=table.c.battery_at),
            last_activity_at=case(
                (
                    new_activity.is_not(None)
                    & (table.c.last_activity_at.is_(None) | (table.c.last_activity_at < new_activity)),
                    new_activity,
                ),
                else_=table.c.last_activity_at,
            ),
        )
    )
    # In device-id order: concurrent batches touching the same devices then lock them in the same order
    # (no deadlock), one waiting for the other.
    params = [
        {
            "b_id": device_id,
            "b_seen": stamp,
            "b_battery": battery[device_id][1] if device_id in battery else None,
            "b_battery_at": battery[device_id][0] if device_id in battery else None,
            "b_activity": activity.get(device_id),
        }
        for device_id, stamp in sorted(seen.items())
    ]
    db.session.execute(stmt, params)
    services.back_online(sorted(offline), now)


def _judge(
    accepted: list[tuple[Item, _DeviceRow]], results: list[dict[str, Any]], settings: Settings, now: datetime
) -> int:
    """Run the rules; group the hits per (device, rule); open or repeat one alert per group."""
    groups: dict[tuple[uuid.UUID, AlertRule], list[tuple[Item, _DeviceRow, rules.Hit]]] = defaultdict(list)
    for item, device in accepted:
        results[item.index]["status"] = "accepted"
        hit = rules.evaluate(item.type, item.value, device.thresholds)
        if hit is not None:
            groups[(device.id, hit.rule)].append((item, device, hit))
    raises = []
    for (device_id, rule), hits in groups.items():
        device, hit = hits[0][1], hits[0][2]
        latest = max(hits, key=lambda h: h[0].occurred_at)[0]
        raises.append(
            services.Raise(
                device_id=device_id,
                rule=rule,
                severity=hit.severity,
                elder_id=device.elder_id,
                room_id=device.room_id,
                area_path=device.area_path,
                first_at=min(h[0].occurred_at for h in hits),
                last_at=latest.occurred_at,
                count=len(hits),
                value=latest.value if isinstance(latest.value, dict) else None,
            )
        )
    raised = services.raise_alerts(raises, settings, now)
    for key, hits in groups.items():
        for item, _device, _hit in hits:
            results[item.index]["alert_id"] = str(raised[key].alert_id)
    return sum(1 for r in raised.values() if r.created)
