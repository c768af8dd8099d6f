"""The parking domain's part of the demo: a mall lends its basement car park (a pool of 40) on weekday
nights, a school its five bays on weekday nights and all weekend, the street four road bays with
magnetometers every night; 张三 has a verified car. The mall and the school act through accounts of their
own (sandbox logins `kjmall#1`, `kjschool#1`). Skipped when already there."""

from __future__ import annotations

from typing import Any

from flask import current_app
from sqlalchemy import select

from api.accounts.models import Area, HouseholdMember, Role, User
from api.accounts.seed import demo_admin, demo_resident
from api.db import db, new_id, utcnow
from api.parking.models import (
    LotKind,
    Occupancy,
    OfferStatus,
    ParkingLot,
    ParkingSpace,
    Sensor,
    SharingOffer,
    SpaceKind,
    Vehicle,
    Verification,
)
from api.wechat import SandboxMiniProgram

WEEKDAY_NIGHTS = [{"days": "workdays", "start": "18:00", "end": "08:00"}]
SCHOOL = [
    {"days": "workdays", "start": "17:30", "end": "07:30"},
    {"days": "restdays", "start": "00:00", "end": "00:00"},
]
NIGHTLY = [{"days": "everyday", "start": "19:00", "end": "07:00"}]
# name, kind, area code, address, lat, lng, hourly, daily cap, overstay, pass/month, lender login, spaces, rules
DEMO_LOTS = [
    (
        "控江商场地下车库",
        LotKind.CAR_PARK,
        "KJ01",
        "控江路1000号 B1",
        31.2822,
        121.5301,
        500,
        4000,
        1000,
        30000,
        "kjmall",
        [("P", SpaceKind.POOL, 40)],
        WEEKDAY_NIGHTS,
    ),
    (
        "控江中学停车场",
        LotKind.CAR_PARK,
        "KJ02",
        "控江路1100号",
        31.2835,
        121.5340,
        300,
        2500,
        800,
        20000,
        "kjschool",
        [(f"S{i:02d}", SpaceKind.BAY, 1) for i in range(1, 6)],
        SCHOOL,
    ),
    (
        "控江一村路侧车位",
        LotKind.ROAD,
        "KJ01-01",
        "控江一村沿街",
        31.2810,
        121.5320,
        400,
        3000,
        800,
        0,
        None,
        [(f"R{i:02d}", SpaceKind.BAY, 1) for i in range(1, 5)],
        NIGHTLY,
    ),
]


def _unit(login: str, nickname: str) -> User:
    openid = SandboxMiniProgram(current_app.extensions["linli.settings"]).code_to_session(login).openid
    user = db.session.scalar(select(User).where(User.wechat_openid == openid))
    if user is None:
        user = User(id=new_id(), wechat_openid=openid, nickname=nickname)
        user.grant(Role.RESIDENT)
        db.session.add(user)
        db.session.flush()
    return user


def seed_demo() -> dict[str, Any]:
    if db.session.scalar(select(ParkingLot.id).where(ParkingLot.name == DEMO_LOTS[0][0])) is not None:
        return {}
    admin = demo_admin()
    now = utcnow()
    for name, kind, area_code, address, lat, lng, hourly, cap, over, monthly, login, spaces, rules in DEMO_LOTS:
        area = db.session.scalar(select(Area).where(Area.code == area_code))
        assert area is not None
        lender = _unit(login, name[:8]) if login else admin
        lot = ParkingLot(
            id=new_id(),
            area_id=area.id,
            area_path=area.path,
            name=name,
            kind=kind,
            address=address,
            lat=lat,
            lng=lng,
            opening_hours="24小时" if kind == LotKind.ROAD else "6:00–24:00 正门，夜间走北门",
            hourly_rate_fen=hourly,
            daily_cap_fen=cap,
            overstay_rate_fen=over,
            pass_monthly_fen=monthly,
            gate_platform="linli-gate-dev" if kind == LotKind.CAR_PARK else None,
            gate_vendor="fake" if kind == LotKind.CAR_PARK else "none",
        )
        db.session.add(lot)
        db.session.flush()
        for code, space_kind, capacity in spaces:
            space = ParkingSpace(
                id=new_id(),
                lot_id=lot.id,
                area_path=lot.area_path,
                code=code,
                kind=space_kind,
                capacity=capacity,
                lender_id=lender.id,
            )
            db.session.add(space)
            if kind == LotKind.ROAD:
                db.session.flush()
                db.session.add(
                    Sensor(
                        serial=f"MAG-{code}",
                        space_id=space.id,
                        area_path=lot.area_path,
                        heartbeat_seconds=300,
                        state=Occupancy.UNKNOWN,
                        state_since=now,
                    )
                )
        db.session.add(
            SharingOffer(
                lot_id=lot.id,
                lender_id=lender.id,
                area_path=lot.area_path,
                rules=rules,
                blocked_dates=[],
                status=OfferStatus.APPROVED,
                decided_by_id=admin.id,
                decided_at=now,
            )
        )
    zhang = demo_resident("zhangsan")
    home = db.session.scalar(select(HouseholdMember).where(HouseholdMember.user_id == zhang.id)) if zhang else None
    if zhang is not None and home is not None:
        db.session.add(
            Vehicle(
                owner_id=zhang.id,
                room_id=home.room_id,
                area_path=home.room.path,
                plate="沪A12345",
                verification=Verification.VERIFIED,
                verified_via="staff",
                verified_by_id=admin.id,
                verified_at=now,
            )
        )
    db.session.flush()
    return {"parking lots added": len(DEMO_LOTS)}
