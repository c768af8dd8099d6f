"""The price snapshot of an order: the list price for its unit and length, each funding line the elder's subsidy
rules give, and the elder's own share; and the 长护险 weekly quota those rules count against (reserved at
acceptance, consumed at completion, released on cancellation).

Callable without Flask; nothing here commits.
"""

from __future__ import annotations

import math
import uuid
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import Any

from sqlalchemy import func, select

from api.care.models import (
    CareOrder,
    CareProfile,
    CareQuotaUse,
    CareService,
    QuotaState,
    SubsidyRule,
    Unit,
)
from api.db import db, new_code
from api.eldercare.models import Elder
from api.errors import ApiError
from api.fields import LOCAL_TZ

SERVICE_CODE_LENGTH = 6


@dataclass
class Snapshot:
    list_price_fen: int
    lines: list[dict[str, Any]] = field(default_factory=list)
    self_pay_fen: int = 0
    uses_ltc_quota: bool = False
    quota: dict[str, Any] | None = None  # {"week", "used", "quota"} when a 长护险 rule was considered

    @property
    def subsidy_fen(self) -> int:
        return sum(line["amount_fen"] for line in self.lines)

    def as_dict(self) -> dict[str, Any]:
        return {
            "list_price_fen": self.list_price_fen,
            "subsidy_lines": self.lines,
            "subsidy_fen": self.subsidy_fen,
            "self_pay_fen": self.self_pay_fen,
            "uses_ltc_quota": self.uses_ltc_quota,
            "quota": self.quota,
        }


def profile_of(elder: Elder, *, create: bool = True, lock: bool = False) -> CareProfile | None:
    """The elder's care profile; a new one (with its service code) when there is none and `create`."""
    stmt = select(CareProfile).where(CareProfile.elder_id == elder.id)
    if lock:
        stmt = stmt.with_for_update()
    profile = db.session.scalar(stmt)
    if profile is None and create:
        profile = CareProfile(elder_id=elder.id, service_code=new_code(SERVICE_CODE_LENGTH))
        profile.elder = elder
        db.session.add(profile)
        db.session.flush()
    return profile


def list_price(service: CareService, planned_minutes: int) -> int:
    """Per visit or meal: the list price; per hour: the hourly price for the minutes (within the cap), to the fen."""
    if service.unit != Unit.PER_HOUR:
        return service.list_price_fen
    minutes = planned_minutes
    if service.hourly_cap_minutes:
        minutes = min(minutes, service.hourly_cap_minutes)
    return math.ceil(service.list_price_fen * minutes / 60)


def week_of(moment: datetime) -> date:
    """The Monday (Asia/Shanghai) of the week a service falls in: the 长护险 quota is counted per such week."""
    day = moment.astimezone(LOCAL_TZ).date()
    return day - timedelta(days=day.weekday())


def quota_used(elder_id: uuid.UUID, week: date, exclude_order: uuid.UUID | None = None) -> int:
    stmt = select(func.count(CareQuotaUse.id)).where(
        CareQuotaUse.elder_id == elder_id,
        CareQuotaUse.week == week,
        CareQuotaUse.state.in_((QuotaState.RESERVED, QuotaState.CONSUMED)),
    )
    if exclude_order is not None:
        stmt = stmt.where(CareQuotaUse.order_id != exclude_order)
    return db.session.scalar(stmt) or 0


def _age(elder: Elder, at: datetime) -> int | None:
    return at.astimezone(LOCAL_TZ).year - elder.birth_year if elder.birth_year else None


def _matches(rule: SubsidyRule, service: CareService, elder: Elder, profile: CareProfile | None, at: datetime) -> bool:
    if rule.tier != service.funding_tier or (rule.category is not None and rule.category != service.category):
        return False
    if rule.area_path and not (elder.area_path or "").startswith(rule.area_path):
        return False
    age = _age(elder, at)
    if rule.min_age is not None and (age is None or age < rule.min_age):
        return False
    if rule.max_age is not None and (age is None or age > rule.max_age):
        return False
    flags = profile or CareProfile(dibao=False, living_alone=False, disabled=False, ltc_level=None)
    if rule.requires_dibao and not flags.dibao:
        return False
    if rule.requires_living_alone and not flags.living_alone:
        return False
    if rule.requires_disabled and not flags.disabled:
        return False
    level_needed = rule.min_ltc_level
    return level_needed is None or (flags.ltc_level is not None and flags.ltc_level >= level_needed)


def snapshot(
    service: CareService,
    elder: Elder,
    window_start: datetime,
    planned_minutes: int,
    *,
    order_id: uuid.UUID | None = None,
    enforce: bool = True,
) -> Snapshot:
    """What the order costs and who pays: list price, one line per matching subsidy rule (in priority order,
    never more than what is left), the elder's share. A 长护险 rule applies while the week's quota lasts; beyond
    it the elder pays — or, when the service allows no self-pay, `enforce` makes it a 409."""
    price = list_price(service, planned_minutes)
    profile = profile_of(elder, create=False)
    rules = db.session.scalars(
        select(SubsidyRule)
        .where(SubsidyRule.is_active.is_(True), SubsidyRule.tier == service.funding_tier)
        .order_by(SubsidyRule.priority, SubsidyRule.created_at, SubsidyRule.id)
    )
    result = Snapshot(list_price_fen=price)
    left = price
    quota_exhausted = False
    for rule in rules:
        if left <= 0 or not _matches(rule, service, elder, profile, window_start):
            continue
        if rule.uses_ltc_quota:
            week = week_of(window_start)
            quota = profile.ltc_weekly_visits if profile else 0
            used = quota_used(elder.id, week, exclude_order=order_id)
            result.quota = {"week": week.isoformat(), "used": used, "quota": quota}
            if used >= quota:
                quota_exhausted = True
                continue
        amount = price * rule.percent // 100 + rule.amount_fen
        if rule.cap_fen:
            amount = min(amount, rule.cap_fen)
        amount = min(amount, left)
        if amount <= 0:
            continue
        left -= amount
        result.uses_ltc_quota = result.uses_ltc_quota or rule.uses_ltc_quota
        result.lines.append(
            {
                "rule_id": str(rule.id),
                "funding_line": rule.funding_line,
                "name": rule.name,
                "amount_fen": amount,
                "uses_ltc_quota": rule.uses_ltc_quota,
            }
        )
    result.self_pay_fen = left
    if enforce and left > 0 and not service.self_pay_allowed:
        if quota_exhausted and result.quota is not None:
            raise ApiError("care_quota_exhausted", used=result.quota["used"], quota=result.quota["quota"])
        raise ApiError("care_self_pay_not_allowed")
    return result


def apply(order: CareOrder, price: Snapshot) -> None:
    order.list_price_fen = price.list_price_fen
    order.subsidy_lines = price.lines
    order.subsidy_fen = price.subsidy_fen
    order.self_pay_fen = price.self_pay_fen
    order.uses_ltc_quota = price.uses_ltc_quota


def _quota_row(order: CareOrder) -> CareQuotaUse | None:
    return db.session.scalar(select(CareQuotaUse).where(CareQuotaUse.order_id == order.id))


def reserve_quota(order: CareOrder) -> None:
    """At acceptance: take one of the week's 长护险 visits under the elder's profile lock. When the week filled up
    since the quote, the order is priced again without that line (409 when it then allows no self-pay)."""
    if not order.uses_ltc_quota:
        return
    profile = profile_of(order.elder, lock=True)
    assert profile is not None
    week = week_of(order.window_start)
    if quota_used(order.elder_id, week, exclude_order=order.id) >= profile.ltc_weekly_visits:
        apply(order, snapshot(order.service, order.elder, order.window_start, order.planned_minutes, order_id=order.id))
        if not order.uses_ltc_quota:
            return
    row = _quota_row(order)
    if row is None:
        db.session.add(CareQuotaUse(elder_id=order.elder_id, order_id=order.id, week=week, state=QuotaState.RESERVED))
    else:
        row.state = QuotaState.RESERVED
        row.week = week


def consume_quota(order: CareOrder) -> None:
    row = _quota_row(order)
    if row is not None and row.state == QuotaState.RESERVED:
        row.state = QuotaState.CONSUMED


def release_quota(order: CareOrder) -> None:
    row = _quota_row(order)
    if row is not None and row.state != QuotaState.RELEASED:
        row.state = QuotaState.RELEASED
