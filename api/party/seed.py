"""The party domain's part of the demo: the subdistrict's 党工委, the 党总支 of 控江一村居民区 with two branches (the
first with a party group), members among the demo residents — 张三 (a retired member, secretary of the first
branch, his pension declared), 李四 and 王五 — and members without the app, dues standards confirmed, and a
支部党员大会 next week. Skipped when already there."""

from __future__ import annotations

from datetime import date, timedelta
from typing import Any

from sqlalchemy import select

from api.accounts.models import Area
from api.accounts.seed import demo_admin, demo_resident
from api.db import db, utcnow
from api.party import dues, meetings, members
from api.party.models import IncomeKind, MeetingKind, MemberCategory, OfficerPost, OrgKind, PartyOrg

# code, name, kind, parent code, area code
ORGS = [
    ("KJDGW", "控江路街道党工委", OrgKind.COMMITTEE, None, "KJ"),
    ("KJ01ZZ", "控江一村居民区党总支", OrgKind.GENERAL_BRANCH, "KJDGW", "KJ01"),
    ("KJ01ZB1", "控江一村居民区第一党支部", OrgKind.BRANCH, "KJ01ZZ", "KJ01"),
    ("KJ01ZB2", "控江一村居民区第二党支部", OrgKind.BRANCH, "KJ01ZZ", "KJ01"),
    ("KJ01ZB1X1", "第一党支部第一党小组", OrgKind.GROUP, "KJ01ZB1", "KJ01"),
]
# name, sandbox login (or None), branch, joined, income kind, monthly base (元), post
MEMBERS = [
    ("张三", "zhangsan", "KJ01ZB1", date(1978, 7, 1), IncomeKind.PENSION, 4800, OfficerPost.SECRETARY),
    ("李四", "lisi", "KJ01ZB1", date(1995, 6, 30), IncomeKind.WAGE, 8600, OfficerPost.ORGANISATION),
    ("王五", "wangwu", "KJ01ZB2", date(2010, 11, 12), IncomeKind.WAGE, 4200, None),
    ("周秀英", None, "KJ01ZB1", date(1972, 3, 8), IncomeKind.PENSION, 5600, None),
    ("吴国强", None, "KJ01ZB1", date(1968, 10, 1), IncomeKind.PENSION, 3900, None),
    ("郑桂兰", None, "KJ01ZB1", date(1981, 5, 4), IncomeKind.PENSION, 4300, None),
    ("孙建华", None, "KJ01ZB1", date(1999, 7, 1), IncomeKind.UNEMPLOYED, None, None),
    ("陈丽娟", None, "KJ01ZB2", date(1985, 12, 20), IncomeKind.PENSION, 5200, OfficerPost.SECRETARY),
    ("刘志明", None, "KJ01ZB2", date(2003, 1, 15), IncomeKind.WAGE, 12500, None),
]


def seed_demo() -> dict[str, Any]:
    if db.session.scalar(select(PartyOrg).where(PartyOrg.code == ORGS[0][0])) is not None:
        return {}
    admin = demo_admin()
    now = utcnow()
    orgs: dict[str, PartyOrg] = {}
    for code, name, kind, parent, area_code in ORGS:
        area = db.session.scalar(select(Area).where(Area.code == area_code))
        assert area is not None
        orgs[code] = members.create_org(
            admin,
            {
                "code": code,
                "name": name,
                "kind": kind,
                "parent_id": orgs[parent].id if parent else None,
                "area_id": area.id,
            },
        )
    db.session.flush()
    start = date(now.year, 1, 1)
    added = []
    for name, login, branch, joined, kind, base_yuan, post in MEMBERS:
        person = demo_resident(login) if login else None
        member = members.create_member(
            admin,
            {
                "name": name,
                "user_id": person.id if person is not None else None,
                "category": MemberCategory.FULL,
                "joined_on": joined,
                "full_on": joined + timedelta(days=366),
                "branch_id": orgs[branch].id,
                "group_id": orgs["KJ01ZB1X1"].id if branch == "KJ01ZB1" and len(added) % 2 == 0 else None,
                "dues_start_month": start,
            },
            now,
        )
        dues.declaration_for(admin, member.id, kind, base_yuan * 100 if base_yuan else None, now.year)
        if post is not None:
            members.appoint(admin, orgs[branch].id, member.id, post, None)
        added.append(member)
    next_week = now + timedelta(days=7)
    meetings.schedule(
        admin,
        {
            "org_id": orgs["KJ01ZB1"].id,
            "kind": MeetingKind.BRANCH_ASSEMBLY,
            "topic": "学习贯彻党的二十大精神专题党员大会",
            "place": "控江一村睦邻中心二楼会议室",
            "starts_at": next_week,
            "ends_at": next_week + timedelta(hours=2),
            "presenter_name": "张三",
            "recorder_name": "李四",
        },
        tell=False,
    )
    return {"party organisations added": len(ORGS), "party members added": len(added), "party meetings added": 1}
