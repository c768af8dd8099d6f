"""Device registry rules: staff list, create, bind, retire and bulk-import devices of their area.

A device is in a staff member's scope through its home (`Device.area_path`, by `api.scope`'s rule): one not
yet installed in a home is the whole subdistrict's. Binding a device to an elder needs a monitoring consent in
force that covers its type (`api.eldercare.services.has_consent`), and puts it in the elder's home.

The CSV import is built for the subdistrict's 19,715 devices in one file: rooms, elders, consents and
existing serials are read in a few set-based queries, and the good rows are written with one bulk upsert
(`api.dialect.bulk_upsert`: COPY and one `INSERT … SELECT … ON CONFLICT (serial) DO UPDATE` on
PostgreSQL), never a query per row.
"""

from __future__ import annotations

import csv
import io
import re
import uuid
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import date
from typing import Any

from sqlalchemy import Select, select

from api import dialect, hygiene, scope
from api.accounts.models import Area, Room, User
from api.db import db, new_id, utcnow
from api.devices.models import Device, DeviceStatus, DeviceType, default_heartbeat
from api.eldercare import services as eldercare
from api.eldercare.models import Elder, ElderStatus, MonitoringConsent
from api.errors import ApiError
from api.fields import MAX_YEAR, MIN_YEAR

LOW_BATTERY_PERCENT = 20
MIN_HEARTBEAT_SECONDS = 60
MAX_HEARTBEAT_SECONDS = 7 * 24 * 3600
MAX_REPORTED_ERRORS = 1000
_ROOM_REF = re.compile(r"^\s*(?P<building>[A-Za-z0-9-]+)\s*[/#\s]\s*(?P<number>[0-9A-Za-z-]+)\s*$")


# ------------------------------------------------------------------------------------------------
# Scope and lookups
# ------------------------------------------------------------------------------------------------


def staff_device(staff: User, device_id: uuid.UUID, *, lock: bool = False) -> Device:
    stmt = select(Device).where(Device.id == device_id)
    if lock:
        stmt = stmt.with_for_update(of=Device)
    return scope.ensure_visible(staff, db.session.scalar(stmt))


def staff_devices(
    staff: User,
    *,
    type: DeviceType | None = None,
    status: DeviceStatus | None = None,
    area_id: uuid.UUID | None = None,
    elder_id: uuid.UUID | None = None,
    low_battery: bool = False,
    offline: bool = False,
) -> Select[tuple[Device]]:
    stmt = scope.visible(staff, Device)
    if type is not None:
        stmt = stmt.where(Device.type == type)
    if status is not None:
        stmt = stmt.where(Device.status == status)
    if offline:
        stmt = stmt.where(Device.status == DeviceStatus.OFFLINE)
    if low_battery:
        stmt = stmt.where(Device.battery_percent < LOW_BATTERY_PERCENT, Device.status != DeviceStatus.RETIRED)
    if elder_id is not None:
        stmt = stmt.where(Device.elder_id == elder_id)
    if area_id is not None:
        area = db.session.get(Area, area_id)
        if area is None:
            raise ApiError("validation_failed", errors={"area_id": ["no such area"]})
        stmt = stmt.where(Device.area_path.startswith(area.path, autoescape=True))
    return stmt


def devices_of_elders(elder_ids: list[uuid.UUID]) -> dict[uuid.UUID, list[Device]]:
    """Devices watching each elder (retired ones left out), for the family's view."""
    found: dict[uuid.UUID, list[Device]] = defaultdict(list)
    if not elder_ids:
        return found
    stmt = (
        select(Device)
        .where(Device.elder_id.in_(elder_ids), Device.status != DeviceStatus.RETIRED)
        .order_by(Device.type, Device.id)
    )
    for device in db.session.scalars(stmt):
        assert device.elder_id is not None
        found[device.elder_id].append(device)
    return found


# ------------------------------------------------------------------------------------------------
# Create, bind, retire
# ------------------------------------------------------------------------------------------------


def _bind_target(
    staff: User, device_type: DeviceType, room_id: uuid.UUID | None, elder_id: uuid.UUID | None
) -> tuple[uuid.UUID | None, uuid.UUID | None]:
    """Check a (room, elder) placement and return it; an elder's device goes to the elder's home."""
    if elder_id is not None:
        elder = scope.ensure_visible(staff, db.session.get(Elder, elder_id), field="elder_id")
        if elder.status != ElderStatus.ACTIVE:
            raise ApiError("elder_not_active", state=elder.status.value)
        if room_id is not None and room_id != elder.room_id:
            raise ApiError("device_room_mismatch", errors={"room_id": ["must be the elder's home"]})
        if not eldercare.has_consent(elder.id, device_type):
            raise ApiError("consent_required", device_type=device_type.value, errors={"elder_id": ["no consent"]})
        return elder.room_id, elder.id
    if room_id is not None:
        return scope.room_for(staff, room_id).id, None
    # No home yet: the whole subdistrict's device, which committee staff may not keep.
    scope.ensure_may_leave_unplaced(staff, "room_id")
    return None, None


def create_device(staff: User, data: dict[str, Any]) -> Device:
    device_type = DeviceType(data["type"])
    if db.session.scalar(select(Device.id).where(Device.serial == data["serial"])) is not None:
        raise ApiError("device_serial_exists", serial=data["serial"], errors={"serial": ["exists"]})
    room_id, elder_id = _bind_target(staff, device_type, data.get("room_id"), data.get("elder_id"))
    device = Device(
        serial=data["serial"],
        type=device_type,
        room_id=room_id,
        elder_id=elder_id,
        installed_on=data.get("installed_on"),
        heartbeat_interval_seconds=data.get("heartbeat_interval_seconds"),
        status=DeviceStatus.ACTIVE,
        created_at=utcnow(),
    )
    db.session.add(device)
    db.session.flush()
    return device


def update_device(staff: User, device_id: uuid.UUID, changes: dict[str, Any]) -> Device:
    """Move, bind or unbind a device, or change its installation date or heartbeat interval."""
    device = staff_device(staff, device_id, lock=True)
    if device.status == DeviceStatus.RETIRED:
        raise ApiError("device_retired")
    if "room_id" in changes or "elder_id" in changes:
        room_id = changes.get("room_id", device.room_id)
        elder_id = changes.get("elder_id", device.elder_id)
        if "room_id" in changes and "elder_id" not in changes and room_id != device.room_id:
            elder_id = None  # moved to another home: no longer watching the old one's elder
        if "elder_id" in changes and changes["elder_id"] is not None and "room_id" not in changes:
            room_id = None  # bound to an elder: the elder's home decides the room
        room_id, elder_id = _bind_target(staff, device.type, room_id, elder_id)
        device.room_id, device.elder_id = room_id, elder_id
    if "installed_on" in changes:
        device.installed_on = changes["installed_on"]
    if changes.get("heartbeat_interval_seconds") is not None:
        device.heartbeat_interval_seconds = changes["heartbeat_interval_seconds"]
    db.session.flush()
    db.session.refresh(device)
    return device


def retire_device(staff: User, device_id: uuid.UUID) -> Device:
    """Take a device out of service: ingestion and the sweeps ignore it from now on; history stays."""
    device = staff_device(staff, device_id, lock=True)
    if device.status != DeviceStatus.RETIRED:
        device.status = DeviceStatus.RETIRED
        device.retired_at = utcnow()
        db.session.flush()
    return device


# ------------------------------------------------------------------------------------------------
# CSV import
# ------------------------------------------------------------------------------------------------


@dataclass
class ImportResult:
    received: int = 0
    created: int = 0
    updated: int = 0
    failed: int = 0
    errors: list[dict[str, Any]] = field(default_factory=list)
    errors_truncated: bool = False

    def fail(self, line: int, serial: str, column: str, message: str) -> None:
        self.failed += 1
        if len(self.errors) < MAX_REPORTED_ERRORS:
            self.errors.append({"line": line, "serial": serial or None, "errors": {column: [message]}})
        else:
            self.errors_truncated = True


def decode_csv(raw: bytes) -> str:
    """UTF-8 (with or without Excel's BOM), else GB18030 — what Excel on a Chinese Windows saves."""
    for encoding in ("utf-8-sig", "gb18030"):
        try:
            return raw.decode(encoding)
        except UnicodeDecodeError:
            continue
    raise ApiError("csv_invalid", reason="encoding", errors={"file": ["not UTF-8 or GB18030 text"]})


@dataclass
class _Row:
    line: int
    serial: str
    type: DeviceType
    room_ref: str
    elder_id: uuid.UUID | None
    installed_on: date | None
    heartbeat: int | None
    room_id: uuid.UUID | None = None


def _chunks(values: list[Any], size: int = 500) -> list[list[Any]]:
    return [values[i : i + size] for i in range(0, len(values), size)]


def _parse_rows(text: str, result: ImportResult) -> list[_Row]:
    reader = csv.DictReader(io.StringIO(text))
    columns = {(c or "").strip().lower() for c in (reader.fieldnames or [])}
    missing = {"serial", "type", "room"} - columns
    if missing:
        raise ApiError(
            "csv_invalid",
            reason="missing columns " + ", ".join(sorted(missing)),
            errors={"file": [f"missing column {c}" for c in sorted(missing)]},
        )
    rows: list[_Row] = []
    seen: dict[str, int] = {}
    for record in reader:
        line = reader.line_num
        result.received += 1
        values = {(k or "").strip().lower(): (v or "").strip() for k, v in record.items() if k is not None}
        refused = next(
            ((column, problem) for column, v in values.items() if (problem := hygiene.text_problem(v))), None
        )
        if refused is not None:  # the same rules as any text a client sends (api.hygiene)
            result.fail(line, values.get("serial", "")[:64], refused[0], hygiene.message(refused[1]))
            continue
        values = {k: hygiene.normalise(v) for k, v in values.items()}
        serial = values.get("serial", "")
        if not serial or len(serial) > 64:
            result.fail(line, serial, "serial", "required, at most 64 characters")
            continue
        if serial in seen:
            result.fail(line, serial, "serial", f"repeats line {seen[serial]}")
            continue
        try:
            device_type = DeviceType(values.get("type", "").lower())
        except ValueError:
            result.fail(line, serial, "type", f"unknown type {values.get('type')!r}")
            continue
        elder_id = None
        if values.get("elder_id"):
            try:
                elder_id = uuid.UUID(values["elder_id"])
            except ValueError:
                result.fail(line, serial, "elder_id", "not a valid id")
                continue
        installed_on = None
        if values.get("installed_on"):
            try:
                installed_on = date.fromisoformat(values["installed_on"].replace("/", "-"))
                if not MIN_YEAR <= installed_on.year <= MAX_YEAR:
                    raise ValueError("out of range")
            except ValueError:
                result.fail(line, serial, "installed_on", "not a date (YYYY-MM-DD)")
                continue
        heartbeat = None
        if values.get("heartbeat_interval_seconds"):
            try:
                heartbeat = int(values["heartbeat_interval_seconds"])
            except ValueError:
                heartbeat = -1
            if not MIN_HEARTBEAT_SECONDS <= heartbeat <= MAX_HEARTBEAT_SECONDS:
                result.fail(
                    line,
                    serial,
                    "heartbeat_interval_seconds",
                    f"a whole number of seconds, {MIN_HEARTBEAT_SECONDS}–{MAX_HEARTBEAT_SECONDS}",
                )
                continue
        if not values.get("room") and elder_id is None:
            result.fail(line, serial, "room", "required (building code/room number, or room id)")
            continue
        seen[serial] = line
        rows.append(_Row(line, serial, device_type, values.get("room", ""), elder_id, installed_on, heartbeat))
    return rows


def _resolve_rooms(rows: list[_Row]) -> tuple[dict[str, uuid.UUID], dict[uuid.UUID, str]]:
    """Room references → room ids, and room id → area path, in a few set-based queries."""
    by_ref: dict[str, uuid.UUID] = {}
    paths: dict[uuid.UUID, str] = {}
    wanted_ids: set[uuid.UUID] = set()
    wanted_buildings: set[str] = set()
    for row in rows:
        if not row.room_ref:
            continue
        try:
            wanted_ids.add(uuid.UUID(row.room_ref))
            continue
        except ValueError:
            pass
        match = _ROOM_REF.match(row.room_ref)
        if match:
            wanted_buildings.add(match.group("building").upper())
    for chunk in _chunks(sorted(wanted_buildings)):
        stmt = select(Area.code, Room.number, Room.id, Area.path).join(Area, Area.id == Room.building_id)
        for code, number, room_id, path in db.session.execute(stmt.where(Area.code.in_(chunk))):
            by_ref[f"{code}/{number}"] = room_id
            paths[room_id] = path
    for chunk in _chunks(sorted(wanted_ids, key=str)):
        stmt = select(Room.id, Area.path).join(Area, Area.id == Room.building_id)
        for room_id, path in db.session.execute(stmt.where(Room.id.in_(chunk))):
            by_ref[str(room_id)] = room_id
            paths[room_id] = path
    return by_ref, paths


def _room_key(ref: str) -> str:
    try:
        return str(uuid.UUID(ref))
    except ValueError:
        pass
    match = _ROOM_REF.match(ref)
    return f"{match.group('building').upper()}/{match.group('number')}" if match else ref


def import_devices(staff: User, raw: bytes) -> ImportResult:
    """Upsert devices by serial from a CSV (columns: serial, type, room, elder_id, installed_on,
    heartbeat_interval_seconds). Bad rows are reported with their line number; good rows are kept."""
    result = ImportResult()
    rows = _parse_rows(decode_csv(raw), result)
    room_ids, room_paths = _resolve_rooms(rows)

    elder_ids = sorted({r.elder_id for r in rows if r.elder_id is not None}, key=str)
    elders: dict[uuid.UUID, tuple[uuid.UUID, ElderStatus, str]] = {}
    consents: dict[uuid.UUID, list[MonitoringConsent]] = defaultdict(list)
    for chunk in _chunks(elder_ids):
        stmt = (
            select(Elder.id, Elder.room_id, Elder.status, Area.path)
            .join(Room, Room.id == Elder.room_id)
            .join(Area, Area.id == Room.building_id)
            .where(Elder.id.in_(chunk))
        )
        for elder_id, elder_room, status, path in db.session.execute(stmt):
            elders[elder_id] = (elder_room, status, path)
        for consent in db.session.scalars(
            select(MonitoringConsent).where(
                MonitoringConsent.elder_id.in_(chunk), MonitoringConsent.withdrawn_at.is_(None)
            )
        ):
            consents[consent.elder_id].append(consent)

    existing: dict[str, str | None] = {}
    serials = [r.serial for r in rows]
    for chunk in dialect.batches(serials):
        stmt = (
            select(Device.serial, Area.path)
            .outerjoin(Room, Room.id == Device.room_id)
            .outerjoin(Area, Area.id == Room.building_id)
            .where(dialect.among(Device.serial, chunk))
        )
        for serial, path in db.session.execute(stmt):
            existing[serial] = path

    good: list[dict[str, Any]] = []
    now = utcnow()
    for row in rows:
        room_id = None
        if row.room_ref:
            room_id = room_ids.get(_room_key(row.room_ref))
            if room_id is None:
                result.fail(row.line, row.serial, "room", f"no such room {row.room_ref!r}")
                continue
        if row.elder_id is not None:
            elder = elders.get(row.elder_id)
            if elder is None:
                result.fail(row.line, row.serial, "elder_id", "no such elder")
                continue
            elder_room, status, elder_path = elder
            if room_id is not None and room_id != elder_room:
                result.fail(row.line, row.serial, "room", "not the elder's home")
                continue
            if status != ElderStatus.ACTIVE:
                result.fail(row.line, row.serial, "elder_id", f"elder not active ({status.value})")
                continue
            if not any(eldercare.consent_covers(c, row.type) for c in consents.get(row.elder_id, [])):
                result.fail(row.line, row.serial, "elder_id", f"no monitoring consent covers {row.type.value}")
                continue
            room_id = elder_room
            room_paths.setdefault(elder_room, elder_path)
        path = room_paths.get(room_id) if room_id is not None else None
        if not scope.sees(staff, path):
            why = "outside your area" if path else "required for staff of a committee"
            result.fail(row.line, row.serial, "room", why)
            continue
        if row.serial in existing and not scope.sees(staff, existing[row.serial]):
            result.fail(row.line, row.serial, "serial", "belongs to a device outside your area")
            continue
        if row.serial in existing:
            result.updated += 1
        else:
            result.created += 1
        good.append(
            {
                "id": new_id(),
                "serial": row.serial,
                "type": row.type,
                "room_id": room_id,
                "elder_id": row.elder_id,
                "installed_on": row.installed_on,
                "heartbeat_interval_seconds": row.heartbeat or default_heartbeat(row.type),
                "status": DeviceStatus.ACTIVE,
                "created_at": now,
            }
        )
    _upsert(good)
    return result


_UPSERT_COLUMNS = (
    "id",
    "serial",
    "type",
    "room_id",
    "elder_id",
    "installed_on",
    "heartbeat_interval_seconds",
    "status",
    "created_at",
)
# Registry facts come from the file; what the devices themselves report (status, last seen, battery,
# activity) is left as it is.
_UPDATED_ON_CONFLICT = ("type", "room_id", "elder_id", "installed_on", "heartbeat_interval_seconds")


def _upsert(rows: list[dict[str, Any]]) -> None:
    dialect.bulk_upsert(Device.__table__, rows, "serial", _UPSERT_COLUMNS, _UPDATED_ON_CONFLICT)
