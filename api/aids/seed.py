"""The aids domain's part of the demo: the catalogue (轮椅, 助行器, 洗澡椅, 护理床, 坐便椅 with their deposits and loan
periods) and two community service stations, in KJ01 and KJ02, each with a few of every kind in stock. Skipped when
already there."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select

from api.accounts.models import Area
from api.aids.models import AidItem, AidLocation, AidType, Condition
from api.db import db, new_id

# code, name, description, deposit (fen), loan days, how many per station
DEMO_TYPES = [
    ("wheelchair", "轮椅", "手动折叠轮椅，承重 100 公斤", 20000, 30, 3),
    ("walker", "助行器", "四脚助行器，可调高度", 5000, 30, 2),
    ("bath_chair", "洗澡椅", "防滑洗澡椅，带靠背", 0, 30, 2),
    ("hospital_bed", "护理床", "手摇双摇护理床（含床垫），服务站可协助送装", 50000, 90, 1),
    ("commode_chair", "坐便椅", "可折叠坐便椅", 0, 30, 1),
]
# name, area code, address, opening hours, asset tag prefix
DEMO_STATIONS = [
    ("控江一村社区服务站", "KJ01", "控江一村 12 号楼底层", "周一至周六 8:30–17:00", "KJ01"),
    ("控江二村社区服务站", "KJ02", "控江二村 5 号楼旁", "周一至周五 8:30–16:30", "KJ02"),
]


def seed_demo() -> dict[str, Any]:
    if db.session.scalar(select(AidType.id).limit(1)) is not None:
        return {"aid types": "already there"}
    kinds = []
    for code, name, description, deposit, days, _count in DEMO_TYPES:
        kind = AidType(id=new_id(), code=code, name=name, description=description, deposit_fen=deposit, loan_days=days)
        db.session.add(kind)
        kinds.append(kind)
    items = 0
    for name, area_code, address, hours, prefix in DEMO_STATIONS:
        area = db.session.scalar(select(Area).where(Area.code == area_code))
        if area is None:
            continue
        station = AidLocation(
            id=new_id(), area_id=area.id, area_path=area.path, name=name, address=address, opening_hours=hours
        )
        db.session.add(station)
        for kind, (code, *_rest, count) in zip(kinds, DEMO_TYPES, strict=True):
            for number in range(1, count + 1):
                db.session.add(
                    AidItem(
                        type_id=kind.id,
                        location_id=station.id,
                        area_path=station.area_path,
                        asset_tag=f"{prefix}-{code.upper()}-{number:02d}",
                        condition=Condition.GOOD,
                    )
                )
                items += 1
    db.session.flush()
    return {"aid types added": len(kinds), "aids in stock": items}
