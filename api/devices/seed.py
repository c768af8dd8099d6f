"""The device registry's part of the demo: the devices installed in each demo elder's home (serials
`KJ-DEMO-<elder>-<n>`; one low battery, so the low-battery filter has something to show). Skipped when
already there."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select

from api.db import db, utcnow
from api.devices.models import Device, DeviceType
from api.eldercare.seed import DEMO_ELDERS, demo_elders


def seed_demo() -> dict[str, Any]:
    if db.session.scalar(select(Device.id).where(Device.serial == "KJ-DEMO-0001-01")) is not None:
        return {}
    now = utcnow()
    kinds_by_name = {name: kinds for name, _number, _born, _conditions, kinds in DEMO_ELDERS}
    added = 0
    for index, elder in enumerate(demo_elders(), start=1):
        for d_index, kind in enumerate(kinds_by_name[elder.name], start=1):
            db.session.add(
                Device(
                    serial=f"KJ-DEMO-{index:04d}-{d_index:02d}",
                    type=DeviceType(kind),
                    room_id=elder.room_id,
                    elder_id=elder.id,
                    installed_on=now.date(),
                    last_seen_at=now,
                    battery_percent=15 if kind == "smoke_detector" and index == 2 else 90,
                    battery_at=now,
                )
            )
            added += 1
    db.session.flush()
    return {"demo devices added": added}
