"""Points (积分): rules per action with a cycle and a cap, the append-only ledger, claims decided by the branch,
and rankings per branch and quarter.

An award is weighed against its rule's cap under the lock of the member's tally row for that action and cycle
(`party_point_tallies`, created by `INSERT … ON CONFLICT DO NOTHING` and then locked), so concurrent awards
can never pass the cap; what would pass it is not awarded and the answer says why. Each thing is awarded for
once (a unique source per member and action).
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Select, and_, func, select

from api.accounts.models import User
from api.db import db, new_id, utcnow
from api.dialect import insert_on_conflict
from api.errors import ApiError
from api.notifications.services import notify
from api.party import reach
from api.party.calendar import Quarter, cycle_key
from api.party.members import locked, my_member
from api.party.models import (
    ClaimStatus,
    MemberStatus,
    PartyMember,
    PointAction,
    PointClaim,
    PointCycle,
    PointEntry,
    PointRule,
    PointTally,
)

ACTION_ZH = {
    PointAction.MEETING_SIGN_IN: "会议签到",
    PointAction.STUDY_TIME: "学习时长",
    PointAction.QUIZ_PASSED: "测试通过",
    PointAction.SERVICE_HOURS: "服务时长",
    PointAction.CLAIM: "积分申请",
}
CYCLE_ZH = {PointCycle.DAY: "日", PointCycle.MONTH: "月", PointCycle.QUARTER: "季度", PointCycle.YEAR: "年"}
CLAIM_PHOTOS = "party_claim"
MAX_CLAIM_PHOTOS = 6


@dataclass(frozen=True)
class Award:
    """What an award gave: `points` of the `wanted`, and why not all of them when less."""

    points: int
    wanted: int
    note: str

    def as_dict(self) -> dict[str, Any]:
        return {"points": self.points, "wanted": self.wanted, "note": self.note}


# action -> (points per unit, unit, cycle, cap): the rules until admins set their own.
DEFAULT_RULES: dict[PointAction, tuple[int, int, PointCycle, int]] = {
    PointAction.MEETING_SIGN_IN: (2, 1, PointCycle.QUARTER, 30),
    PointAction.STUDY_TIME: (1, 1800, PointCycle.DAY, 4),  # a point per half hour of reading
    PointAction.QUIZ_PASSED: (5, 1, PointCycle.QUARTER, 20),
    PointAction.SERVICE_HOURS: (2, 60, PointCycle.QUARTER, 40),  # two points per hour of service
    PointAction.CLAIM: (5, 1, PointCycle.QUARTER, 15),
}


def ensure_default_rules() -> None:
    """Each action has a rule as data from its first use on (admins change it; it is never deleted)."""
    now = utcnow()
    db.session.execute(
        insert_on_conflict(PointRule)
        .values(
            [
                {"action": a, "points": p, "unit": u, "cycle": c, "cap": cap, "active": True, "updated_at": now}
                for a, (p, u, c, cap) in DEFAULT_RULES.items()
            ]
        )
        .on_conflict_do_nothing(index_elements=["action"])
    )


def rule_of(action: PointAction) -> PointRule | None:
    rule = db.session.get(PointRule, action)
    if rule is None:
        ensure_default_rules()
        rule = db.session.get(PointRule, action)
    return rule


def _cap_note(rule: PointRule) -> str:
    return f"「{ACTION_ZH[rule.action]}」积分本{CYCLE_ZH[rule.cycle]}上限 {rule.cap} 分"


def _locked_tally(member_id: uuid.UUID, action: PointAction, key: str) -> PointTally:
    db.session.execute(
        insert_on_conflict(PointTally)
        .values(id=new_id(), member_id=member_id, action=action, cycle_key=key, points=0)
        .on_conflict_do_nothing(index_elements=["member_id", "action", "cycle_key"])
    )
    tally = locked(
        PointTally, PointTally.member_id == member_id, PointTally.action == action, PointTally.cycle_key == key
    )
    assert tally is not None
    return tally


def award(
    member: PartyMember,
    action: PointAction,
    source: str,
    *,
    units: int = 1,
    note: str = "",
    by: User | None = None,
    now: datetime | None = None,
) -> Award:
    """Award `units` of `action` for `source` (once), as far as the rule's cap for the cycle allows."""
    now = now or utcnow()
    rule = rule_of(action)
    if rule is None or not rule.active or units <= 0:
        return Award(0, 0, f"「{ACTION_ZH[action]}」暂不计积分")
    wanted = rule.points * units
    tally = _locked_tally(member.id, action, cycle_key(rule.cycle, now))
    given = db.session.scalar(
        select(PointEntry.points).where(
            PointEntry.member_id == member.id, PointEntry.action == action, PointEntry.source == source
        )
    )
    if given is not None:
        return Award(given, wanted, "已计分")
    grant = max(0, min(wanted, rule.cap - tally.points))
    if grant == 0:
        return Award(0, wanted, _cap_note(rule) + "，已达上限，本次不再累计")
    db.session.add(
        PointEntry(
            id=new_id(),
            member_id=member.id,
            action=action,
            source=source[:80],
            points=grant,
            units=units,
            cycle_key=tally.cycle_key,
            note=note[:100],
            awarded_by_id=by.id if by is not None else None,
            awarded_at=now,
        )
    )
    tally.points += grant
    db.session.flush()
    explained = "" if grant == wanted else _cap_note(rule) + f"，本次计 {grant} 分"
    return Award(grant, wanted, explained)


def units_recorded(member_id: uuid.UUID, action: PointAction, source_prefix: str) -> int:
    """Units already awarded for sources starting with `source_prefix` (service hours of a quarter)."""
    return int(
        db.session.scalar(
            select(func.coalesce(func.sum(PointEntry.units), 0)).where(
                PointEntry.member_id == member_id,
                PointEntry.action == action,
                PointEntry.source.startswith(source_prefix, autoescape=True),
            )
        )
        or 0
    )


# ------------------------------------------------------------------------------------------------
# Rules
# ------------------------------------------------------------------------------------------------


def rules() -> list[PointRule]:
    ensure_default_rules()
    return list(db.session.scalars(select(PointRule).order_by(PointRule.action)))


def set_rule(admin: User, action: PointAction, values: dict[str, Any]) -> PointRule:
    ensure_default_rules()
    rule = db.session.get(PointRule, action, with_for_update=True, populate_existing=True)
    assert rule is not None
    for key in ("points", "unit", "cycle", "cap", "active"):
        if key in values:
            setattr(rule, key, values[key])
    rule.updated_by_id = admin.id
    rule.updated_at = utcnow()
    db.session.flush()
    return rule


# ------------------------------------------------------------------------------------------------
# My points, claims, rankings
# ------------------------------------------------------------------------------------------------


def my_ledger(user: User) -> Select[tuple[PointEntry]]:
    member = my_member(user, good_standing=False)
    return select(PointEntry).where(PointEntry.member_id == member.id)


def quarter_total(member_id: uuid.UUID, quarter: Quarter) -> int:
    return int(
        db.session.scalar(
            select(func.coalesce(func.sum(PointEntry.points), 0)).where(
                PointEntry.member_id == member_id,
                PointEntry.awarded_at >= quarter.start,
                PointEntry.awarded_at < quarter.end,
            )
        )
        or 0
    )


def submit_claim(user: User, description: str, media_ids: list[uuid.UUID], now: datetime | None = None) -> PointClaim:
    """Ask the branch for points for something done, with photos as evidence. Refused at once (nothing kept)
    when the claim rule's cap for this cycle is already reached."""
    from api.media.services import attach

    now = now or utcnow()
    member = my_member(user)
    rule = rule_of(PointAction.CLAIM)
    if rule is None or not rule.active:
        raise ApiError("validation_failed", errors={"description": ["points are not given for claims now"]})
    reached = db.session.scalar(
        select(PointTally.points).where(
            PointTally.member_id == member.id,
            PointTally.action == PointAction.CLAIM,
            PointTally.cycle_key == cycle_key(rule.cycle, now),
        )
    )
    if (reached or 0) >= rule.cap:
        raise ApiError(
            "party_points_cap_reached", action=ACTION_ZH[rule.action], cycle=CYCLE_ZH[rule.cycle], cap=rule.cap
        )
    if not media_ids:
        raise ApiError("validation_failed", errors={"media_ids": ["a photo as evidence is required"]})
    claim = PointClaim(
        id=new_id(), member_id=member.id, description=description.strip(), status=ClaimStatus.PENDING, created_at=now
    )
    db.session.add(claim)
    db.session.flush()
    attach(media_ids, user, CLAIM_PHOTOS, claim.id, max_count=MAX_CLAIM_PHOTOS)
    return claim


def may_see_claim_photos(viewer: User, claim_id: uuid.UUID) -> bool:
    """A claim's evidence: the member who claimed, and whoever reaches their branch."""
    claim = db.session.get(PointClaim, claim_id)
    if claim is None:
        return False
    return (claim.member.user_id is not None and claim.member.user_id == viewer.id) or reach.sees(
        viewer, claim.member.branch
    )


def my_claims(user: User) -> Select[tuple[PointClaim]]:
    member = my_member(user, good_standing=False)
    return select(PointClaim).where(PointClaim.member_id == member.id)


def staff_claims(staff: User, status: ClaimStatus | None) -> Select[tuple[PointClaim]]:
    stmt = reach.of_members_in_reach(staff, PointClaim)
    if status is not None:
        stmt = stmt.where(PointClaim.status == status)
    return stmt


def decide_claim(
    staff: User, claim_id: uuid.UUID, approve: bool, reason: str | None
) -> tuple[PointClaim, Award | None]:
    claim = locked(PointClaim, PointClaim.id == claim_id)
    claim = reach.ensure(staff, claim, claim.member.branch if claim is not None else None)
    if claim.status != ClaimStatus.PENDING:
        raise ApiError("party_transition_not_allowed", errors={"approve": []}, state=claim.status.value, allowed="-")
    if not approve and not (reason or "").strip():
        raise ApiError("validation_failed", errors={"reason": ["a reason is required to reject"]})
    now = utcnow()
    claim.decided_by_id = staff.id
    claim.decided_at = now
    result: Award | None = None
    if approve:
        claim.status = ClaimStatus.APPROVED
        result = award(claim.member, PointAction.CLAIM, f"claim:{claim.id}", note="积分申请", by=staff, now=now)
        claim.points_awarded = result.points
        claim.award_note = result.note or None
        detail = f"获得 {result.points} 分。{result.note}"
    else:
        claim.status = ClaimStatus.REJECTED
        claim.reject_reason = (reason or "").strip()
        detail = f"原因：{claim.reject_reason}"
    if claim.member.user is not None:
        notify(
            claim.member.user,
            "party_claim_decided",
            {"result": "已通过" if approve else "未通过", "detail": detail, "claim_id": claim.id},
            subject_path=claim.member.branch.area_path,
            dedupe_key=f"party-claim:{claim.id}",
        )
    return claim, result


def ranking(branch_id: uuid.UUID, quarter: Quarter, *, include_hidden: bool) -> list[dict[str, Any]]:
    """Members in good standing of a branch by their points in the quarter (ties share a rank), summed in SQL."""
    total = func.coalesce(func.sum(PointEntry.points), 0).label("points")
    stmt = (
        select(PartyMember.id, PartyMember.name, PartyMember.hide_from_rankings, total)
        .outerjoin(
            PointEntry,
            and_(
                PointEntry.member_id == PartyMember.id,
                PointEntry.awarded_at >= quarter.start,
                PointEntry.awarded_at < quarter.end,
            ),
        )
        .where(PartyMember.branch_id == branch_id, PartyMember.status == MemberStatus.ACTIVE)
        .group_by(PartyMember.id, PartyMember.name, PartyMember.hide_from_rankings)
        .order_by(total.desc(), PartyMember.name, PartyMember.id)
    )
    rows = [r for r in db.session.execute(stmt) if include_hidden or not r.hide_from_rankings]
    ranked: list[dict[str, Any]] = []
    for index, row in enumerate(rows):
        rank = ranked[-1]["rank"] if ranked and ranked[-1]["points"] == row.points else index + 1
        ranked.append(
            {
                "rank": rank,
                "member_id": row.id,
                "name": row.name,
                "points": int(row.points),
                "hidden": row.hide_from_rankings,
            }
        )
    return ranked


def my_ranking(user: User, quarter: Quarter) -> dict[str, Any]:
    """My branch's ranking as members see it (without those who hid themselves), and my own place."""
    member = my_member(user)
    items = ranking(member.branch_id, quarter, include_hidden=False)
    mine = next((i for i in items if i["member_id"] == member.id), None)
    return {
        "quarter": quarter.label,
        "branch_name": member.branch.name,
        "items": [{k: v for k, v in i.items() if k not in ("member_id", "hidden")} for i in items],
        "me": {
            "points": quarter_total(member.id, quarter),
            "rank": mine["rank"] if mine else None,
            "hidden": member.hide_from_rankings,
        },
    }
