"""The volunteers' part of the demo, on top of the accounts and eldercare parts: the skill list, eight approved
volunteers of 控江一村 (log in as `zhiyuan1#1` … `zhiyuan8#1`; five on duty around the demo elders' estate), 张三 as
the leader of 控江一村助老服务队, a subdistrict emergency team, and a few upcoming tasks of each kind of check-in.
Skipped when already there."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from flask import current_app
from sqlalchemy import select

from api.accounts.models import Area, Role, User
from api.accounts.seed import DEMO_STAFF, demo_admin, demo_resident
from api.db import db, new_id, utcnow
from api.volunteers import services
from api.volunteers.models import (
    CheckinRule,
    Group,
    GroupMember,
    GroupRole,
    Profile,
    ProfileStatus,
    Skill,
    Task,
    TaskKind,
    TaskStatus,
)
from api.wechat import SandboxMiniProgram

SKILLS = [
    ("elder_care", "助老"),
    ("meal_delivery", "助餐配送"),
    ("first_aid", "急救证"),
    ("haircut", "理发"),
    ("repair", "维修"),
    ("companionship", "心理陪伴"),
    ("performance", "文艺"),
    ("environment", "环保"),
]
# name, skills, home estate, on duty
VOLUNTEERS = [
    ("陈志远", ("elder_care", "first_aid"), "KJ01-01", True),
    ("林晓梅", ("elder_care", "meal_delivery"), "KJ01-01", True),
    ("王建国", ("repair", "elder_care"), "KJ01-02", True),
    ("赵丽华", ("companionship", "elder_care"), "KJ01-02", True),
    ("周海涛", ("first_aid",), "KJ02-01", True),
    ("吴佳琪", ("performance", "environment"), "KJ01-01", False),
    ("郑国强", ("haircut", "elder_care"), "KJ01-02", False),
    ("孙美玲", ("meal_delivery",), "KJ02-01", False),
]


def _skills() -> dict[str, Skill]:
    known = {s.code: s for s in db.session.scalars(select(Skill))}
    for code, name in SKILLS:
        if code not in known:
            known[code] = Skill(code=code, name=name)
            db.session.add(known[code])
    db.session.flush()
    return known


def _area(code: str) -> Area:
    area = db.session.scalar(select(Area).where(Area.code == code))
    assert area is not None, f"demo area {code} missing"
    return area


def seed_demo() -> dict[str, Any]:
    skills = _skills()
    if db.session.scalar(select(Group).where(Group.name == "控江一村助老服务队")) is not None:
        return {}
    admin = demo_admin()
    staff = db.session.scalar(select(User).where(User.username == DEMO_STAFF[0])) or admin
    sandbox = SandboxMiniProgram(current_app.extensions["linli.settings"])
    kj01, now = _area("KJ01"), utcnow()
    profiles = []
    for index, (name, skill_codes, estate_code, on_duty) in enumerate(VOLUNTEERS, start=1):
        openid = sandbox.code_to_session(f"zhiyuan{index}").openid
        user = db.session.scalar(select(User).where(User.wechat_openid == openid))
        if user is None:
            user = User(id=new_id(), wechat_openid=openid, nickname=name)
            user.grant(Role.RESIDENT)
            db.session.add(user)
        user.grant(Role.VOLUNTEER)
        estate = _area(estate_code)
        profile = Profile(
            user=user,
            real_name=name,
            area_id=estate.parent_id,
            home_estate_id=estate.id,
            status=ProfileStatus.APPROVED,
            decided_by_id=staff.id,
            decided_at=now,
            on_duty=on_duty,
            duty_since=now if on_duty else None,
            availability=[{"weekday": d, "start": "08:00", "end": "20:00"} for d in range(1, 8)],
        )
        profile.skills = [skills[c] for c in skill_codes]
        profile.committees = [kj01] + ([_area("KJ02")] if estate_code.startswith("KJ02") else [])
        db.session.add(profile)
        profiles.append(profile)
    zhang = demo_resident("zhangsan")
    if zhang is not None:
        zhang.grant(Role.VOLUNTEER)
        leader = Profile(
            user=zhang,
            real_name="张三",
            area_id=kj01.id,
            home_estate_id=_area("KJ01-01").id,
            status=ProfileStatus.APPROVED,
            decided_by_id=staff.id,
            decided_at=now,
        )
        leader.skills = [skills["elder_care"]]
        leader.committees = [kj01]
        db.session.add(leader)
        profiles.insert(0, leader)
    db.session.flush()
    elder_team = Group(
        name="控江一村助老服务队", description="探访独居老人、助餐配送", area_id=kj01.id, created_by_id=staff.id
    )
    emergency = Group(
        name="控江路街道应急志愿队", description="报警上门、急救", area_id=_area("KJ").id, created_by_id=admin.id
    )
    db.session.add_all([elder_team, emergency])
    db.session.flush()
    for position, profile in enumerate(profiles):
        role = GroupRole.LEADER if position == 0 else GroupRole.MEMBER
        db.session.add(GroupMember(group_id=elder_team.id, profile_id=profile.id, role=role))
    for profile in profiles[1:4]:
        db.session.add(GroupMember(group_id=emergency.id, profile_id=profile.id, role=GroupRole.MEMBER))
    tomorrow = (now + timedelta(days=1)).replace(hour=1, minute=0, second=0, microsecond=0)  # 09:00 in Shanghai
    plans = [
        (
            "探访独居老人（控江一村）",
            TaskKind.ELDER_VISIT,
            "KJ01-01",
            "控江一村2号楼",
            CheckinRule.OWNER_CODE,
            4,
            ("elder_care",),
            elder_team,
        ),
        (
            "助餐配送：午餐送到家",
            TaskKind.MEAL_DELIVERY,
            "KJ01-01",
            "控江一村睦邻中心（取餐）",
            CheckinRule.SERVED_CODE,
            3,
            ("meal_delivery",),
            elder_team,
        ),
        ("小区环境巡查", TaskKind.PATROL, "KJ01-02", "控江新苑南门", CheckinRule.GEOFENCE, 10, (), None),
        ("社区文艺汇演志愿者", TaskKind.EVENT_HELP, "KJ01", "控江一村睦邻中心", CheckinRule.OWNER_CODE, 10, (), None),
    ]
    for day, (title, kind, area_code, address, rule, slots, needs, group) in enumerate(plans):
        starts = tomorrow + timedelta(days=day)
        task = Task(
            title=title,
            kind=kind,
            description="",
            area_id=_area(area_code).id,
            address=address,
            door_notes="按门铃后请出示志愿者证" if kind == TaskKind.ELDER_VISIT else "",
            starts_at=starts,
            ends_at=starts + timedelta(hours=2),
            slots=slots,
            waitlist_limit=slots,
            checkin_rule=rule,
            checkin_code=services.six_digits(),
            served_code=services.six_digits() if rule == CheckinRule.SERVED_CODE else None,
            owner_id=staff.id,
            created_by_id=staff.id,
            group_id=group.id if group else None,
            status=TaskStatus.OPEN,
            coins=kind in (TaskKind.ELDER_VISIT, TaskKind.MEAL_DELIVERY),
        )
        task.skills = [skills[c] for c in needs]
        db.session.add(task)
    db.session.flush()
    return {
        "volunteers added": len(profiles),
        "volunteer logins": "zhiyuan1#1 … zhiyuan8#1 (张三 leads 控江一村助老服务队)",
        "volunteer tasks added": len(plans),
    }
