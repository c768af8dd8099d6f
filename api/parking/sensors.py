"""Magnetometers (地磁) in road bays: their signed frame batches (occupied / vacant / heartbeat / fault, each with
a sequence number), the debounced state the public sees, and silence.

- A frame whose sequence number is not above the last one taken is stale (a re-send, or older than what we
  know) and dropped — reported per item, never applied.
- Occupancy is debounced here, not on the device: a reading must hold `PARKING_SENSOR_OCCUPIED_SECONDS`
  (occupied, ~90 s) or `PARKING_SENSOR_VACANT_SECONDS` (vacant, ~60 s) before the state follows it, so a car
  passing over a bay or a bus stopping beside it does not flip the map.
- Two missed heartbeats (2 × the sensor's interval with no frame) turn the space **unknown** — never free —
  until the sensor speaks again.

The IoT platform signs these batches as it signs device events (`api.signedbatch`, `IOT_PLATFORM_SECRETS`).
"""

from __future__ import annotations

import uuid
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import select

from api import scope, signedbatch
from api.accounts.models import User
from api.db import db
from api.errors import ApiError, NotFound
from api.parking import gates, services
from api.parking.models import AnomalyKind, Occupancy, ParkingSpace, Sensor

MAX_BATCH = 1000
FRAME_TYPES = ("occupied", "vacant", "heartbeat", "fault")


def register(staff: User, values: dict[str, Any], now: datetime) -> Sensor:
    space = scope.ensure_visible(staff, db.session.get(ParkingSpace, values["space_id"]), field="space_id")
    sensor = Sensor(
        serial=values["serial"],
        space_id=space.id,
        area_path=space.area_path,
        heartbeat_seconds=values.get("heartbeat_seconds") or 300,
        state=Occupancy.UNKNOWN,
        state_since=now,
        created_at=now,
    )
    db.session.add(sensor)
    from sqlalchemy.exc import IntegrityError

    try:
        with db.session.begin_nested():
            db.session.flush()
    except IntegrityError:
        raise ApiError("validation_failed", errors={"serial": ["this serial or space already has a sensor"]}) from None
    return sensor


def staff_sensor(staff: User, sensor_id: uuid.UUID) -> Sensor:
    sensor = db.session.get(Sensor, sensor_id)
    if sensor is None:
        raise NotFound()
    return scope.ensure_visible(staff, sensor)


def _settle(sensor: Sensor, now: datetime) -> bool:
    """Debounce and silence: the state the reading supports by `now`. True when the state changed."""
    config = services.settings()
    before = sensor.state
    silent = sensor.last_frame_at is None or now - sensor.last_frame_at > timedelta(
        seconds=2 * sensor.heartbeat_seconds
    )
    if silent:
        target = Occupancy.UNKNOWN
        since = (sensor.last_frame_at or now) + timedelta(seconds=2 * sensor.heartbeat_seconds)
    elif sensor.reported == Occupancy.FAULT:
        target, since = Occupancy.FAULT, sensor.reported_since or now
    elif sensor.reported in (Occupancy.OCCUPIED, Occupancy.VACANT) and sensor.reported_since is not None:
        hold = (
            config.parking_sensor_occupied_seconds
            if sensor.reported == Occupancy.OCCUPIED
            else (config.parking_sensor_vacant_seconds)
        )
        if now - sensor.reported_since >= timedelta(seconds=hold):
            target, since = sensor.reported, sensor.reported_since + timedelta(seconds=hold)
        else:
            return False  # not held long enough yet: the state stays as it was
    else:
        return False
    if target == before:
        return False
    sensor.state, sensor.state_since = target, min(since, now)
    if target in (Occupancy.UNKNOWN, Occupancy.FAULT):
        space = sensor.space
        gates.open_case(
            space.lot,
            AnomalyKind.SENSOR_SILENT if target == Occupancy.UNKNOWN else AnomalyKind.SENSOR_FAULT,
            plate=None,
            at=now,
            details=f"车位 {space.code} 地磁 {sensor.serial} {'失联' if target == Occupancy.UNKNOWN else '故障'}",
            dedupe_key=f"sensor:{sensor.id}:{target.value}",
        )
    return True


def ingest_frames(items: list[Any], now: datetime) -> dict[str, Any]:
    """A batch of frames: per item accepted, stale (sequence not above the last), unknown_sensor, invalid."""
    if len(items) > MAX_BATCH:
        raise ApiError("gate_batch_too_large", limit=MAX_BATCH, count=len(items))
    results: list[dict[str, Any]] = []
    good: list[tuple[int, str, int, str, datetime]] = []
    for index, raw in enumerate(items):
        errors: dict[str, list[str]] = {}
        result: dict[str, Any] = {"event_id": signedbatch.item_event_id(raw)}
        results.append(result)
        if not isinstance(raw, dict):
            result.update(status="invalid", errors={"_item": ["must be an object"]})
            continue
        serial = signedbatch.item_text(raw, "serial", 64, errors)
        seq = raw.get("seq")
        if isinstance(seq, bool) or not isinstance(seq, int) or not 0 <= seq < 2**53:
            errors["seq"] = ["a non-negative integer"]
        kind = raw.get("type")
        if kind not in FRAME_TYPES:
            errors["type"] = [f"one of {', '.join(FRAME_TYPES)}"]
        at = signedbatch.item_time(raw, "at", now, gates.FUTURE_TOLERANCE, errors)
        if errors or at is None:
            result.update(status="invalid", errors=errors)
            continue
        good.append((index, serial, seq, kind, at))
    serials = sorted({g[1] for g in good})
    sensors = (
        {
            s.serial: s
            for s in db.session.scalars(
                select(Sensor).where(Sensor.serial.in_(serials)).order_by(Sensor.serial).with_for_update(of=Sensor)
            )
        }
        if serials
        else {}
    )
    for index, serial, seq, kind, at in sorted(good, key=lambda g: (g[1], g[2])):
        sensor = sensors.get(serial)
        if sensor is None:
            results[index]["status"] = "unknown_sensor"
            continue
        if sensor.last_seq is not None and seq <= sensor.last_seq:
            results[index]["status"] = "stale"
            continue
        if kind in ("occupied", "vacant", "fault") and sensor.reported != Occupancy(kind):
            # What the previous reading had earned by the time this one came counts before it is replaced.
            _settle(sensor, at)
            sensor.reported, sensor.reported_since = Occupancy(kind), at
        sensor.last_seq = seq
        sensor.last_frame_at = max(sensor.last_frame_at or at, at)
        results[index]["status"] = "accepted"
    for sensor in sensors.values():
        _settle(sensor, now)
    counts: dict[str, int] = {}
    for result in results:
        counts[result["status"]] = counts.get(result["status"], 0) + 1
    return {"results": results, "counts": counts}


def sweep(now: datetime) -> int:
    """Debounce what has now held long enough; turn silent sensors unknown. Returns how many changed."""
    changed = 0
    for sensor in db.session.scalars(select(Sensor).order_by(Sensor.id).with_for_update(of=Sensor, skip_locked=True)):
        changed += _settle(sensor, now)
    return changed


def occupied_since(space_id: uuid.UUID, since: datetime) -> bool:
    """Whether the space's sensor shows a car (for no-shows on road spaces that have no gate)."""
    state = db.session.scalar(select(Sensor.state).where(Sensor.space_id == space_id))
    return state == Occupancy.OCCUPIED


def reads_vacant(space_id: uuid.UUID) -> bool:
    """Whether the space's sensor says, reliably, that nobody is there (no sensor: we believe the driver)."""
    state = db.session.scalar(select(Sensor.state).where(Sensor.space_id == space_id))
    return state == Occupancy.VACANT
