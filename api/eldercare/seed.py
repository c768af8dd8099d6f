"""The eldercare domain's part of the demo: elders living alone in one building of 控江一村, each with
consent for every kind of device; 张三 and 李四 are their family (张三 first contact of 王阿婆, 李四 second,
and 李四 the contact of 李老伯). Skipped when already there."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select

from api.accounts.models import Role
from api.accounts.seed import demo_admin, demo_resident, demo_room
from api.db import db, utcnow
from api.eldercare.models import BindingStatus, Elder, ElderStatus, FamilyBinding, MonitoringConsent

# name, room, born, conditions, the devices installed (seeded by the device registry's part)
DEMO_ELDERS = [
    ("王阿婆", "101", 1938, "独居；高血压", ("door_sensor", "smoke_detector", "blood_pressure_monitor")),
    ("李老伯", "102", 1942, "独居；行动不便", ("door_sensor", "smoke_detector", "fall_detector", "sos_button")),
    ("陈阿姨", "201", 1945, "独居", ("door_sensor", "smoke_detector", "gas_detector")),
    ("赵老师", "202", 1940, "独居；糖尿病", ("door_sensor", "arc_fault_breaker", "water_leak_sensor")),
]
DEMO_ELDER_BUILDING = "KJ01-01-002"
# elder's index in DEMO_ELDERS -> their family contacts in order (sandbox login names)
DEMO_FAMILY = {0: ("zhangsan", "lisi"), 1: ("lisi",)}


def demo_elders() -> list[Elder]:
    """The demo elders that exist, in the order of `DEMO_ELDERS`."""
    found = []
    for name, number, *_rest in DEMO_ELDERS:
        room = demo_room(DEMO_ELDER_BUILDING, number)
        elder = db.session.scalar(select(Elder).where(Elder.name == name, Elder.room_id == room.id))
        if elder is not None:
            found.append(elder)
    return found


def seed_demo() -> dict[str, Any]:
    if demo_elders():
        return {}
    admin = demo_admin()
    now = utcnow()
    for index, (name, number, birth_year, conditions, _kinds) in enumerate(DEMO_ELDERS):
        elder = Elder(
            name=name,
            room_id=demo_room(DEMO_ELDER_BUILDING, number).id,
            birth_year=birth_year,
            conditions=conditions,
            phone=f"1390000{index + 1:04d}",
            status=ElderStatus.ACTIVE,
            registered_by_id=admin.id,
            approved_by_id=admin.id,
            approved_at=now,
        )
        db.session.add(elder)
        db.session.flush()
        db.session.add(
            MonitoringConsent(elder_id=elder.id, given_by="本人", recorded_by_id=admin.id, device_types=["*"])
        )
        for position, code in enumerate(DEMO_FAMILY.get(index, ()), start=1):
            user = demo_resident(code)
            if user is None:
                continue
            user.grant(Role.FAMILY)
            db.session.add(
                FamilyBinding(
                    elder_id=elder.id,
                    user_id=user.id,
                    relation="子女",
                    position=position,
                    status=BindingStatus.CONFIRMED,
                    confirmed_at=now,
                    confirmed_by_id=admin.id,
                )
            )
    db.session.flush()
    return {"demo elders added": len(DEMO_ELDERS)}
