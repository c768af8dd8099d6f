"""The demo subdistrict's people and places: 25 居委会 and 60 小区 shaped after 控江路街道 (names are
illustrative), their buildings and rooms (29,942 rooms: the scale of the real place, ~100,000 residents),
street staff and a few residents. The accounts domain's part of `seed-demo`; every other domain seeds its
own part on top (its manifest's `seed`), in floor order.

Idempotent: what already exists (by code or username) is left alone, so running it twice changes nothing.
"""

from __future__ import annotations

import random
from typing import Any

from flask import current_app
from sqlalchemy import insert, select, update

from api.accounts.models import (
    Area,
    AreaKind,
    HouseholdMember,
    HouseholdRelation,
    HouseholdRequest,
    Role,
    Room,
    User,
)
from api.accounts.services import create_staff
from api.db import db, new_id, utcnow
from api.wechat import SandboxMiniProgram

SUBDISTRICT = ("KJ", "控江路街道")

# 25 neighbourhood committees, each with the estates (小区) it looks after: 60 in all.
COMMITTEES: list[tuple[str, list[str]]] = [
    ("控江一村居委会", ["控江一村", "控江新苑"]),
    ("控江二村居委会", ["控江二村", "控江二村东块", "控江二村西块"]),
    ("控江三村居委会", ["控江三村", "控江三村南块"]),
    ("控江四村居委会", ["控江四村", "控江四村北块"]),
    ("控江五村居委会", ["控江五村", "控江五村小高层"]),
    ("凤城一村居委会", ["凤城一村", "凤城一村东块", "凤城一村西块"]),
    ("凤城二村居委会", ["凤城二村", "凤城二村北块"]),
    ("凤城三村居委会", ["凤城三村", "凤城三村南块"]),
    ("凤城四村居委会", ["凤城四村", "凤城四村新楼"]),
    ("凤城五村居委会", ["凤城五村", "凤城五村东块", "凤城五村西块"]),
    ("凤城六村居委会", ["凤城六村", "凤城六村北块"]),
    ("凤南一村居委会", ["凤南一村", "凤南一村南块"]),
    ("凤南二村居委会", ["凤南二村", "凤南二村东块"]),
    ("双阳一村居委会", ["双阳一村", "双阳一村北块", "双阳公寓"]),
    ("双阳二村居委会", ["双阳二村", "双阳二村南块"]),
    ("松花新村居委会", ["松花新村", "松花新村东块", "松花公寓"]),
    ("鞍山五村居委会", ["鞍山五村", "鞍山五村北块"]),
    ("鞍山六村居委会", ["鞍山六村", "鞍山六村南块"]),
    ("延吉东路居委会", ["延吉东路小区", "延吉花苑", "延吉新村"]),
    ("靖宇东路居委会", ["靖宇东路小区", "靖宇花苑", "靖宇公寓"]),
    ("打虎山路居委会", ["打虎山路第一小区", "打虎山路第二小区", "打虎山路第三小区"]),
    ("内江路居委会", ["内江路小区", "内江公寓"]),
    ("黄兴路居委会", ["黄兴路小区", "黄兴花苑", "黄兴公寓"]),
    ("辽源路居委会", ["辽源花苑", "辽源新村"]),
    ("长白新村居委会", ["长白新村", "长白新村东块", "长白公寓"]),
]

DEMO_ADMIN = ("admin", "linli-admin-demo")
DEMO_STAFF = ("kj01-staff", "linli-staff-demo", "KJ01")
DEMO_RESIDENTS = [
    ("zhangsan", "张三", HouseholdRelation.OWNER),
    ("lisi", "李四", HouseholdRelation.TENANT),
    ("wangwu", "王五", HouseholdRelation.FAMILY),
]


def _area(kind: AreaKind, code: str, name: str, parent: Area | None) -> dict[str, Any]:
    path = (parent["path"] if parent else "/") + code + "/"
    return {
        "id": new_id(),
        "kind": kind,
        "code": code,
        "name": name,
        "parent_id": parent["id"] if parent else None,
        "path": path,
        "created_at": utcnow(),
    }


# Where the estates are: inside the subdistrict's box (`INCIDENTS_BOUNDS`, 控江路街道 in Yangpu), laid out in
# committee order across it, a few hundred metres apart, as the real estates are.
ESTATE_BOX = (31.268, 121.518, 31.297, 121.552)  # min_lat, min_lng, max_lat, max_lng (a margin inside the bounds)
ESTATE_GRID = (6, 10)  # rows × columns: 60 estates


def estate_coordinates() -> dict[str, tuple[float, float]]:
    """Plausible (lat, lng) of each demo estate by code, the same every time."""
    rng = random.Random(200093)  # the subdistrict's postcode
    rows, columns = ESTATE_GRID
    min_lat, min_lng, max_lat, max_lng = ESTATE_BOX
    codes = [
        f"KJ{c_index:02d}-{e_index:02d}"
        for c_index, (_name, estates) in enumerate(COMMITTEES, start=1)
        for e_index in range(1, len(estates) + 1)
    ]
    spots = {}
    for index, code in enumerate(codes):
        row, column = divmod(index, columns)
        lat = min_lat + (max_lat - min_lat) * (row + 0.5 + rng.uniform(-0.3, 0.3)) / rows
        lng = min_lng + (max_lng - min_lng) * (column + 0.5 + rng.uniform(-0.3, 0.3)) / columns
        spots[code] = (round(lat, 6), round(lng, 6))
    return spots


def _place_estates() -> int:
    """Give demo estates without coordinates theirs (also for a subdistrict seeded before estates had any)."""
    placed = 0
    unplaced = set(db.session.scalars(select(Area.code).where(Area.kind == AreaKind.ESTATE, Area.lat.is_(None))))
    for code, (lat, lng) in estate_coordinates().items():
        if code in unplaced:
            db.session.execute(update(Area).where(Area.code == code).values(lat=lat, lng=lng))
            placed += 1
    return placed


def _plan() -> tuple[list[dict[str, Any]], dict[str, tuple[int, int]]]:
    """Every area row to exist, and for each building code its (floors, rooms per floor)."""
    rng = random.Random(20200327)  # the planning document's date: the same town every time
    rows: list[dict[str, Any]] = []
    shapes: dict[str, tuple[int, int]] = {}
    root = _area(AreaKind.SUBDISTRICT, SUBDISTRICT[0], SUBDISTRICT[1], None)
    rows.append(root)
    for c_index, (committee_name, estates) in enumerate(COMMITTEES, start=1):
        committee = _area(AreaKind.COMMITTEE, f"KJ{c_index:02d}", committee_name, root)
        rows.append(committee)
        for e_index, estate_name in enumerate(estates, start=1):
            estate = _area(AreaKind.ESTATE, f"KJ{c_index:02d}-{e_index:02d}", estate_name, committee)
            rows.append(estate)
            for b_number in range(1, rng.randint(14, 38) + 1):
                code = f"{estate['code']}-{b_number:03d}"
                rows.append(_area(AreaKind.BUILDING, code, f"{b_number}号楼", estate))
                shapes[code] = (rng.choice((5, 6, 6, 6, 7)), rng.choice((2, 3, 4, 4)))
    return rows, shapes


def _seed_areas() -> tuple[int, int]:
    rows, shapes = _plan()
    existing = dict(db.session.execute(select(Area.code, Area.id)).all())
    ids = dict(existing)
    new_areas = []
    for row in rows:
        if row["code"] in existing:
            continue
        parent_code = row["path"].rstrip("/").split("/")[-2] if row["parent_id"] else None
        row["parent_id"] = ids[parent_code] if parent_code else None
        ids[row["code"]] = row["id"]
        new_areas.append(row)
    if new_areas:
        db.session.execute(insert(Area), new_areas)
    new_rooms = []
    for row in new_areas:
        if row["kind"] != AreaKind.BUILDING:
            continue
        floors, per_floor = shapes[row["code"]]
        for floor in range(1, floors + 1):
            for unit in range(1, per_floor + 1):
                new_rooms.append(
                    {"id": new_id(), "building_id": row["id"], "number": f"{floor}{unit:02d}", "floor": floor}
                )
    for start in range(0, len(new_rooms), 5000):
        db.session.execute(insert(Room), new_rooms[start : start + 5000])
    return len(new_areas), len(new_rooms)


def demo_room(building_code: str, number: str) -> Room:
    room = db.session.scalar(select(Room).join(Room.building).where(Area.code == building_code, Room.number == number))
    assert room is not None, f"demo room {building_code}/{number} missing"
    return room


def _seed_people() -> dict[str, Any]:
    created: dict[str, Any] = {}
    if db.session.scalar(select(User).where(User.username == DEMO_ADMIN[0])) is None:
        create_staff(DEMO_ADMIN[0], DEMO_ADMIN[1], Role.ADMIN, SUBDISTRICT[0])
        created["admin"] = f"{DEMO_ADMIN[0]} / {DEMO_ADMIN[1]}"
    if db.session.scalar(select(User).where(User.username == DEMO_STAFF[0])) is None:
        create_staff(DEMO_STAFF[0], DEMO_STAFF[1], Role.STAFF, DEMO_STAFF[2])
        created["staff"] = f"{DEMO_STAFF[0]} / {DEMO_STAFF[1]} (scope {DEMO_STAFF[2]})"
    admin = db.session.scalar(select(User).where(User.username == DEMO_ADMIN[0]))
    sandbox = SandboxMiniProgram(current_app.extensions["linli.settings"])
    for index, (code, nickname, relation) in enumerate(DEMO_RESIDENTS, start=1):
        openid = sandbox.code_to_session(code).openid
        if db.session.scalar(select(User).where(User.wechat_openid == openid)) is not None:
            continue
        user = User(id=new_id(), wechat_openid=openid, nickname=nickname, phone=f"1380000{index:04d}")
        user.grant(Role.RESIDENT)
        db.session.add(user)
        db.session.flush()
        room = demo_room("KJ01-01-001", f"{index}01")
        if index < len(DEMO_RESIDENTS):
            db.session.add(
                HouseholdMember(user_id=user.id, room_id=room.id, relation=relation, approved_by_id=admin.id)
            )
        else:
            # One request left pending, so the staff approval queue has something in it.
            db.session.add(HouseholdRequest(user_id=user.id, room_id=room.id, relation=relation, note="新搬来"))
        created.setdefault("residents", []).append(f"{nickname} (log in with code '{code}#1')")
    return created


def demo_admin() -> User:
    admin = db.session.scalar(select(User).where(User.username == DEMO_ADMIN[0]))
    assert admin is not None, "the accounts part of the demo is seeded first"
    return admin


def demo_resident(code: str) -> User | None:
    """A demo resident by their sandbox login name ("zhangsan")."""
    openid = SandboxMiniProgram(current_app.extensions["linli.settings"]).code_to_session(code).openid
    return db.session.scalar(select(User).where(User.wechat_openid == openid))


def seed_demo() -> dict[str, Any]:
    """The areas, staff and residents of the demo subdistrict (the accounts domain's part of `seed-demo`)."""
    areas, rooms = _seed_areas()
    db.session.flush()
    summary: dict[str, Any] = {"areas added": areas, "rooms added": rooms}
    placed = _place_estates()
    if placed:
        summary["estates placed on the map"] = placed
    summary.update(_seed_people())
    summary["committees"] = len(COMMITTEES)
    summary["estates"] = sum(len(e) for _, e in COMMITTEES)
    return summary
