"""Dues (党费): the rates as versioned data (default 中组发〔2008〕3号), members' declared income confirmed by their
branch, the standard it gives per year, a ledger of months per member, payments online (through payments) or
recorded by the branch, "paid up to", reminders, the unpaid list, and the flag after six months unpaid.

The rules, all in fen and integers:
- A standard is one rate on the whole monthly base, a base on a band's boundary in the lower band, rounded half
  up to the fen; students, the unemployed and those on 低保 pay a fixed amount.
- A confirmed declaration sets the standard of its year; a change in the year applies to the current month only
  while it is unpaid (and to the months after), never to a month already paid or being paid — logged.
- Months are paid in order: a payment covers the oldest unpaid months, one or several, consecutive; "paid up to"
  is the last of them. A month is paid once: its row (unique per member and month) is held by one payment at a
  time (a conditional UPDATE of rows no payment holds, under the member's row lock), and a paid month never
  changes again. An online order that closes lets its months go; one paid after it closed is kept when its
  months are still free.
"""

from __future__ import annotations

import logging
import uuid
from datetime import UTC, date, datetime, time, timedelta
from itertools import pairwise
from typing import Any

from sqlalchemy import Select, and_, or_, select, update
from sqlalchemy.exc import IntegrityError

from api.accounts.models import User
from api.config import Settings
from api.db import db, new_id, utcnow
from api.dialect import insert_on_conflict
from api.errors import ApiError
from api.fields import LOCAL_TZ
from api.notifications.services import notify
from api.party import reach
from api.party.calendar import (
    add_months,
    current_month,
    local_today,
    month_label,
    month_start,
    month_text,
    months_between,
    parse_month,
)
from api.party.members import locked, log_member, my_member, officer_users, staff_member, staff_org
from api.party.models import (
    DeclarationStatus,
    DuesChannel,
    DuesDeclaration,
    DuesMonth,
    DuesPayment,
    DuesPaymentStatus,
    DuesRate,
    IncomeKind,
    MemberStatus,
    PartyMember,
    PartyOrg,
)
from api.payments import services as payments
from api.payments.models import PaymentOrder
from api.payments.signals import LateDecision

log = logging.getLogger(__name__)

PURPOSE = "party_dues"
DEFAULT_VERSION = "中组发〔2008〕3号"
DEFAULT_EFFECTIVE_FROM = date(2008, 1, 1)
# The rules of 中组发〔2008〕3号: stored as the first version of the rules the first time rules are needed.
DEFAULT_RULES: dict[str, Any] = {
    "wage": [
        {"up_to_fen": 300_000, "basis_points": 50},
        {"up_to_fen": 500_000, "basis_points": 100},
        {"up_to_fen": 1_000_000, "basis_points": 150},
        {"up_to_fen": None, "basis_points": 200},
    ],
    "pension": [{"up_to_fen": 500_000, "basis_points": 50}, {"up_to_fen": None, "basis_points": 100}],
    "fixed_fen": {"student": 20, "unemployed": 20, "subsistence": 20},
}
INCOME_ZH = {
    IncomeKind.WAGE: "工资收入",
    IncomeKind.PENSION: "离退休费",
    IncomeKind.STUDENT: "学生",
    IncomeKind.UNEMPLOYED: "下岗失业",
    IncomeKind.SUBSISTENCE: "低保",
}
CHANNEL_ZH = {DuesChannel.ONLINE: "微信支付", DuesChannel.OFFLINE: "交党支部"}
MIN_BASE_FEN = 100  # 1 元: less is no income to take a share of
MAX_BASE_FEN = 100_000_000  # 1,000,000 元 a month: anything above is a typing mistake
MAX_MONTHS_AT_ONCE = 12
MAX_MONTHS_AHEAD = 12


def yuan(fen: int) -> str:
    return payments.yuan(fen)


# ------------------------------------------------------------------------------------------------
# Rates and standards
# ------------------------------------------------------------------------------------------------


def standard_of(rules: dict[str, Any], kind: IncomeKind, base_fen: int | None) -> int:
    """The monthly dues for a base under a version of the rules (fen, half up)."""
    if kind in (IncomeKind.WAGE, IncomeKind.PENSION):
        assert base_fen is not None
        for band in rules["wage" if kind == IncomeKind.WAGE else "pension"]:
            if band["up_to_fen"] is None or base_fen <= band["up_to_fen"]:
                return (base_fen * band["basis_points"] + 5000) // 10000
        raise ValueError("the rules' last band must be open-ended")
    return int(rules["fixed_fen"][kind.value])


def check_rules(rules: dict[str, Any]) -> dict[str, Any]:
    """A new version's rules, checked: bands rising, the last one open, rates and fixed amounts sensible."""
    errors: dict[str, list[str]] = {}
    for name in ("wage", "pension"):
        bands = rules.get(name) or []
        limits = [band.get("up_to_fen") for band in bands]
        closed = limits[:-1]
        if not bands or limits[-1] is not None or any(not isinstance(x, int) or x <= 0 for x in closed):
            errors[name] = ["bands from the lowest up, each with up_to_fen but the last"]
        elif any(b <= a for a, b in pairwise(closed)):
            errors[name] = ["up_to_fen must rise"]
        elif any(not 0 < band["basis_points"] <= 10_000 for band in bands):
            errors[name] = ["basis_points between 1 and 10000"]
    fixed = rules.get("fixed_fen") or {}
    if set(fixed) != {"student", "unemployed", "subsistence"} or any(not 0 < v <= 100_000 for v in fixed.values()):
        errors["fixed_fen"] = ["student, unemployed and subsistence, each 1–100000 fen"]
    if errors:
        raise ApiError("validation_failed", errors=errors)
    return rules


def ensure_default_rate() -> None:
    """The first version of the rules, 中组发〔2008〕3号, as data (once; versions are never edited)."""
    db.session.execute(
        insert_on_conflict(DuesRate)
        .values(
            id=new_id(),
            version=DEFAULT_VERSION,
            effective_from=DEFAULT_EFFECTIVE_FROM,
            rules=DEFAULT_RULES,
            created_at=utcnow(),
        )
        .on_conflict_do_nothing(index_elements=["version"])
    )


def rates() -> list[DuesRate]:
    ensure_default_rate()
    return list(db.session.scalars(select(DuesRate).order_by(DuesRate.effective_from.desc())))


def rate_in_force(on: date) -> DuesRate:
    ensure_default_rate()
    rate = db.session.scalar(
        select(DuesRate).where(DuesRate.effective_from <= on).order_by(DuesRate.effective_from.desc()).limit(1)
    )
    if rate is None:
        raise ApiError("party_dues_base_invalid", problem="no dues rules in force (an admin adds a version)")
    return rate


def add_rate(admin: User, version: str, effective_from: date, rules: dict[str, Any]) -> DuesRate:
    rate = DuesRate(
        id=new_id(),
        version=version.strip(),
        effective_from=effective_from,
        rules=check_rules(rules),
        created_by_id=admin.id,
    )
    db.session.add(rate)
    try:
        with db.session.begin_nested():
            db.session.flush()
    except IntegrityError:
        raise ApiError("validation_failed", errors={"version": ["a version of that name or date exists"]}) from None
    return rate


def _checked_base(kind: IncomeKind, base_fen: int | None) -> int | None:
    if kind not in (IncomeKind.WAGE, IncomeKind.PENSION):
        if base_fen is not None and base_fen < 0:
            raise ApiError("party_dues_base_invalid", errors={"base_fen": ["negative"]}, problem="金额不能为负")
        return None
    if base_fen is None:
        raise ApiError("party_dues_base_invalid", errors={"base_fen": ["required"]}, problem="须填写月收入（分）")
    if base_fen < 0:
        raise ApiError("party_dues_base_invalid", errors={"base_fen": ["negative"]}, problem="金额不能为负")
    if not MIN_BASE_FEN <= base_fen <= MAX_BASE_FEN:
        raise ApiError(
            "party_dues_base_invalid",
            errors={"base_fen": [f"{MIN_BASE_FEN}–{MAX_BASE_FEN} fen a month"]},
            problem=f"月收入须在 {yuan(MIN_BASE_FEN)} 元至 {yuan(MAX_BASE_FEN)} 元之间",
        )
    return base_fen


def standards(member_id: uuid.UUID) -> dict[int, int]:
    """Year → the standard of the latest confirmed declaration for that year (one query)."""
    rows = db.session.execute(
        select(DuesDeclaration.year, DuesDeclaration.standard_fen)
        .where(DuesDeclaration.member_id == member_id, DuesDeclaration.status == DeclarationStatus.CONFIRMED)
        .order_by(DuesDeclaration.year, DuesDeclaration.decided_at, DuesDeclaration.id)
    ).all()
    return {year: standard for year, standard in rows}  # later decisions of a year overwrite earlier ones


def due_in(by_year: dict[int, int], month: date) -> int:
    """The standard a month is due at: that of its year, or the latest earlier year's; a month owed from before
    the first standard was set is due at that first one (0: no standard confirmed yet, nothing is owed)."""
    if not by_year:
        return 0
    years = [year for year in by_year if year <= month.year]
    return by_year[max(years)] if years else by_year[min(by_year)]


def standard_for(member_id: uuid.UUID, month: date) -> int:
    return due_in(standards(member_id), month)


def declare(
    member: PartyMember, kind: IncomeKind, base_fen: int | None, year: int | None, by: User, now: datetime
) -> DuesDeclaration:
    this_year = local_today(now).year
    year = year or this_year
    if not this_year - 1 <= year <= this_year + 1:
        raise ApiError("validation_failed", errors={"year": [f"{this_year - 1}–{this_year + 1}"]})
    base_fen = _checked_base(kind, base_fen)
    rate = rate_in_force(max(date(year, 1, 1), current_month(now)))
    standard = standard_of(rate.rules, kind, base_fen)
    if standard <= 0:
        raise ApiError("party_dues_base_invalid", errors={"base_fen": ["gives no dues"]}, problem="按此收入无须缴纳")
    declaration = DuesDeclaration(
        id=new_id(),
        member_id=member.id,
        member=member,
        year=year,
        income_kind=kind,
        base_fen=base_fen,
        rate_id=rate.id,
        rate=rate,
        standard_fen=standard,
        status=DeclarationStatus.DECLARED,
        declared_by_id=by.id,
        declared_at=now,
    )
    db.session.add(declaration)
    db.session.flush()
    return declaration


def my_declaration(user: User, kind: IncomeKind, base_fen: int | None, year: int | None) -> DuesDeclaration:
    """I declare my income; my branch confirms the standard it gives."""
    member = my_member(user)
    return declare(member, kind, base_fen, year, user, utcnow())


def declaration_for(
    staff: User, member_id: uuid.UUID, kind: IncomeKind, base_fen: int | None, year: int | None
) -> DuesDeclaration:
    """The branch enters a member's declaration (a member without the app) and confirms it at once."""
    member = staff_member(staff, member_id)
    if member.status != MemberStatus.ACTIVE:
        raise ApiError("party_member_not_current", state=member.status.value)
    now = utcnow()
    declaration = declare(member, kind, base_fen, year, staff, now)
    _confirm(staff, declaration, now)
    return declaration


def staff_declarations(staff: User, status: DeclarationStatus | None) -> Select[tuple[DuesDeclaration]]:
    stmt = reach.of_members_in_reach(staff, DuesDeclaration)
    if status is not None:
        stmt = stmt.where(DuesDeclaration.status == status)
    return stmt


def my_declarations(user: User) -> list[DuesDeclaration]:
    member = my_member(user, good_standing=False)
    return list(
        db.session.scalars(
            select(DuesDeclaration).where(DuesDeclaration.member_id == member.id).order_by(DuesDeclaration.id.desc())
        )
    )


def decide(staff: User, declaration_id: uuid.UUID, confirm: bool, reason: str | None) -> DuesDeclaration:
    declaration = locked(DuesDeclaration, DuesDeclaration.id == declaration_id)
    declaration = reach.ensure(staff, declaration, declaration.member.branch if declaration is not None else None)
    if declaration.status != DeclarationStatus.DECLARED:
        raise ApiError(
            "party_transition_not_allowed", errors={"confirm": []}, state=declaration.status.value, allowed="-"
        )
    now = utcnow()
    if confirm:
        _confirm(staff, declaration, now)
    else:
        if not (reason or "").strip():
            raise ApiError("validation_failed", errors={"reason": ["say why"]})
        declaration.status = DeclarationStatus.REJECTED
        declaration.decided_by_id = staff.id
        declaration.decided_at = now
        declaration.reject_reason = (reason or "").strip()
    return declaration


def _lock_member(member_id: uuid.UUID) -> PartyMember:
    member = locked(PartyMember, PartyMember.id == member_id)
    assert member is not None
    return member


def _confirm(staff: User, declaration: DuesDeclaration, now: datetime) -> None:
    """The standard of the year is the confirmed one; it reaches the current month only while unpaid."""
    declaration.status = DeclarationStatus.CONFIRMED
    declaration.decided_by_id = staff.id
    declaration.decided_at = now
    db.session.flush()
    member = _lock_member(declaration.member_id)
    month = current_month(now)
    before = member.dues_standard_fen
    member.dues_standard_fen = standard_for(member.id, month)
    changed = []
    by_year = standards(member.id)
    for row in db.session.scalars(
        select(DuesMonth)
        .where(
            DuesMonth.member_id == member.id,
            DuesMonth.month >= month,
            DuesMonth.paid_at.is_(None),
            DuesMonth.payment_id.is_(None),
        )
        .with_for_update(of=DuesMonth)
    ):
        due = due_in(by_year, row.month)
        if due > 0 and due != row.due_fen:
            changed.append({"month": month_label(row.month), "from": row.due_fen, "to": due})
            row.due_fen = due
    log_member(
        member,
        "dues_standard",
        {
            "year": declaration.year,
            "income_kind": declaration.income_kind,
            "base_fen": declaration.base_fen,
            "standard_fen": declaration.standard_fen,
            "rate": declaration.rate.version,
            "standard_now": [before, member.dues_standard_fen],
            "months_changed": changed,
        },
        staff,
        now,
    )
    db.session.flush()


# ------------------------------------------------------------------------------------------------
# The ledger
# ------------------------------------------------------------------------------------------------


def first_unpaid(member: PartyMember) -> date:
    return add_months(member.dues_paid_until, 1) if member.dues_paid_until else member.dues_start_month


def months_unpaid(member: PartyMember, now: datetime) -> int:
    """Months owed up to and including the current one."""
    return months_between(first_unpaid(member), current_month(now))


def _late(month: date, paid_at: datetime) -> bool:
    """Paid after the month was over."""
    return paid_at >= month_start(add_months(month, 1))


def ledger(member: PartyMember, now: datetime | None = None) -> dict[str, Any]:
    """A member's dues as they and their branch see them: the standard, paid up to, what is owed now (a due per
    unpaid month up to the current one), and the months' rows, newest first."""
    now = now or utcnow()
    first, current = first_unpaid(member), current_month(now)
    rows = list(
        db.session.scalars(
            select(DuesMonth).where(DuesMonth.member_id == member.id).order_by(DuesMonth.month.desc()).limit(36)
        )
    )
    by_month = {r.month: r for r in rows}
    by_year = standards(member.id)
    owed = []
    month = first
    while month <= current and len(owed) < 240:
        row = by_month.get(month)
        due = row.due_fen if row is not None else due_in(by_year, month)
        if due > 0:  # before any standard was confirmed nothing is owed
            held = row is not None and row.payment_id is not None
            owed.append({"month": month_label(month), "due_fen": due, "held": held})
        month = add_months(month, 1)
    return {
        "member_id": member.id,
        "name": member.name,
        "standard_fen": member.dues_standard_fen,
        "paid_until": month_label(member.dues_paid_until) if member.dues_paid_until else None,
        "first_unpaid": month_label(first),
        "months_unpaid": len(owed),
        "owed_fen": sum(o["due_fen"] for o in owed),
        "flagged": member.dues_flagged_at is not None,
        "unpaid": owed,
        "months": rows,
    }


def staff_ledger(staff: User, member_id: uuid.UUID) -> dict[str, Any]:
    return ledger(staff_member(staff, member_id))


def unpaid(staff: User, org_id: uuid.UUID, now: datetime | None = None) -> Select[tuple[PartyMember]]:
    """Members in good standing of an organisation and below with months unpaid up to this one."""
    org = staff_org(staff, org_id)
    month = current_month(now or utcnow())
    inside = select(PartyOrg.id).where(PartyOrg.path.startswith(org.path, autoescape=True))
    return select(PartyMember).where(
        PartyMember.branch_id.in_(inside),
        PartyMember.status == MemberStatus.ACTIVE,
        PartyMember.dues_standard_fen > 0,
        _unpaid_since(month),
    )


def _unpaid_since(month: date) -> Any:
    """SQL: the first unpaid month is `month` or earlier."""
    return or_(
        and_(PartyMember.dues_paid_until.is_(None), PartyMember.dues_start_month <= month),
        PartyMember.dues_paid_until < month,
    )


# ------------------------------------------------------------------------------------------------
# Paying
# ------------------------------------------------------------------------------------------------


def _months(member: PartyMember, raw: list[str], now: datetime) -> list[date]:
    """The months asked for, checked: consecutive, from the oldest unpaid one, not paid, not too far ahead."""
    if not raw:
        raise ApiError("party_dues_months_invalid", errors={"months": ["at least one"]}, problem="请选择月份")
    months = sorted({parse_month(m) for m in raw})
    if len(months) > MAX_MONTHS_AT_ONCE:
        raise ApiError(
            "party_dues_months_invalid",
            errors={"months": [f"at most {MAX_MONTHS_AT_ONCE}"]},
            problem=f"一次最多缴纳 {MAX_MONTHS_AT_ONCE} 个月",
        )
    paid = [m for m in months if member.dues_paid_until is not None and m <= member.dues_paid_until]
    if paid:
        labels = "、".join(month_label(m) for m in paid)
        raise ApiError("party_dues_month_paid", errors={"months": [f"{labels}: paid"]}, months=labels)
    if any(b != add_months(a, 1) for a, b in pairwise(months)):
        raise ApiError("party_dues_months_invalid", errors={"months": ["consecutive months"]}, problem="月份须连续")
    first = first_unpaid(member)
    if months[0] != first:
        raise ApiError(
            "party_dues_months_invalid",
            errors={"months": [f"from {month_label(first)}, the oldest unpaid month"]},
            problem=f"请从最早未缴的 {month_label(first)} 起缴",
        )
    if months[-1] > add_months(current_month(now), MAX_MONTHS_AHEAD):
        raise ApiError(
            "party_dues_months_invalid",
            errors={"months": [f"at most {MAX_MONTHS_AHEAD} months ahead"]},
            problem=f"最多预缴 {MAX_MONTHS_AHEAD} 个月",
        )
    return months


def _open(member: PartyMember, months: list[date]) -> list[DuesMonth]:
    """The months' rows (added where missing, at the standard of their year), locked."""
    values = []
    by_year = standards(member.id)
    for month in months:
        due = due_in(by_year, month)
        if due <= 0:
            raise ApiError("party_dues_standard_missing")
        values.append({"id": new_id(), "member_id": member.id, "month": month, "due_fen": due, "late": False})
    db.session.execute(
        insert_on_conflict(DuesMonth).values(values).on_conflict_do_nothing(index_elements=["member_id", "month"])
    )
    return list(
        db.session.scalars(
            select(DuesMonth)
            .where(DuesMonth.member_id == member.id, DuesMonth.month.in_(months))
            .order_by(DuesMonth.month)
            .with_for_update(of=DuesMonth)
            .execution_options(populate_existing=True)
        )
    )


def _hold(member: PartyMember, rows: list[DuesMonth], payment: DuesPayment) -> None:
    """The payment takes the months: only rows no payment holds, all of them or none."""
    paid = [r for r in rows if r.paid_at is not None]
    if paid:
        labels = "、".join(month_label(r.month) for r in paid)
        raise ApiError("party_dues_month_paid", errors={"months": [f"{labels}: paid"]}, months=labels)
    held = db.session.execute(
        update(DuesMonth)
        .where(DuesMonth.id.in_([r.id for r in rows]), DuesMonth.payment_id.is_(None), DuesMonth.paid_at.is_(None))
        .values(payment_id=payment.id)
        .execution_options(synchronize_session=False)
    ).rowcount
    if held != len(rows):
        labels = "、".join(month_label(r.month) for r in rows if r.payment_id is not None)
        raise ApiError("party_dues_payment_pending", errors={"months": [f"{labels}: being paid"]}, months=labels)
    for row in rows:
        db.session.refresh(row)


def _take(
    member: PartyMember, rows: list[DuesMonth], channel: DuesChannel, late_reason: str | None, now: datetime, **who: Any
) -> DuesPayment:
    """A payment of the months' rows (their dues added up), holding them."""
    payment = DuesPayment(
        id=new_id(),
        member_id=member.id,
        member=member,
        channel=channel,
        status=DuesPaymentStatus.PENDING,
        first_month=rows[0].month,
        last_month=rows[-1].month,
        months=len(rows),
        amount_fen=sum(r.due_fen for r in rows),
        late_reason=(late_reason or "").strip() or None,
        created_at=now,
        **who,
    )
    db.session.add(payment)
    db.session.flush()
    _hold(member, rows, payment)
    return payment


def pay_online(
    user: User, raw_months: list[str], late_reason: str | None, settings: Settings, now: datetime | None = None
) -> DuesPayment:
    """Pay one or several months with WeChat Pay: an order (api/payments) for their dues; asking again for the
    same months while it is open returns the same payment and order."""
    now = now or utcnow()
    member = my_member(user, lock=True)
    waiting = db.session.scalar(
        select(DuesPayment).where(
            DuesPayment.member_id == member.id,
            DuesPayment.status == DuesPaymentStatus.PENDING,
            DuesPayment.channel == DuesChannel.ONLINE,
        )
    )
    if waiting is not None and waiting.order_id is not None:
        order = db.session.get(PaymentOrder, waiting.order_id)
        if order is not None and order.expires_at <= now:
            # Its time to pay ran out and the sweep has not closed it yet: close it now (its months go free,
            # `payment_closed`), so a retry starts afresh instead of waiting for the beat.
            payments.close_order(order)
            db.session.refresh(waiting)
            waiting = None if waiting.status != DuesPaymentStatus.PENDING else waiting
    months = _months(member, raw_months, now) if waiting is None else None
    if waiting is not None:
        asked = sorted({parse_month(m) for m in raw_months}) if raw_months else []
        if asked and (asked[0], asked[-1], len(asked)) == (waiting.first_month, waiting.last_month, waiting.months):
            return waiting
        labels = month_text(waiting.first_month, waiting.last_month)
        raise ApiError("party_dues_payment_pending", errors={"months": [f"{labels}: being paid"]}, months=labels)
    assert months is not None
    rows = _open(member, months)
    payment = _take(member, rows, DuesChannel.ONLINE, late_reason, now, payer_id=user.id)
    order = payments.create_order(
        user,
        PURPOSE,
        str(payment.id),
        payment.amount_fen,
        f"党费 {month_text(payment.first_month, payment.last_month)}",
        timedelta(minutes=settings.party_dues_order_minutes),
        area_path=member.branch.area_path,
        settings=settings,
    )
    payment.order_id = order.id
    log_member(
        member,
        "dues_order",
        {"months": [month_label(m) for m in months], "amount_fen": payment.amount_fen, "order_id": order.id},
        user,
        now,
    )
    return payment


def record_offline(
    staff: User,
    member_id: uuid.UUID,
    raw_months: list[str],
    paid_by_name: str | None,
    paid_on: date | None,
    late_reason: str | None,
    now: datetime | None = None,
) -> DuesPayment:
    """The branch records dues paid to it (cash, a transfer; by the member or someone for them, 代缴)."""
    now = now or utcnow()
    member = staff_member(staff, member_id, lock=True)
    if member.status != MemberStatus.ACTIVE:
        raise ApiError("party_member_not_current", state=member.status.value)
    today = local_today(now)
    if paid_on is not None and paid_on > today:
        raise ApiError("validation_failed", errors={"paid_on": ["not in the future"]})
    paid_at = (
        now
        if paid_on is None or paid_on == today
        else datetime.combine(paid_on, time(12), tzinfo=LOCAL_TZ).astimezone(UTC)
    )
    months = _months(member, raw_months, now)
    rows = _open(member, months)
    who = {"paid_by_name": (paid_by_name or "").strip() or None, "recorded_by_id": staff.id}
    payment = _take(member, rows, DuesChannel.OFFLINE, late_reason, now, **who)
    _settle(payment, paid_at, staff)
    return payment


def _settle(payment: DuesPayment, paid_at: datetime, actor: User | None) -> None:
    """The payment is paid: its months once and for all, "paid up to" advanced, the member told."""
    member = _lock_member(payment.member_id)
    payment.status = DuesPaymentStatus.PAID
    payment.paid_at = paid_at
    rows = list(
        db.session.scalars(
            select(DuesMonth)
            .where(DuesMonth.payment_id == payment.id)
            .order_by(DuesMonth.month)
            .with_for_update(of=DuesMonth)
        )
    )
    for row in rows:
        row.paid_at = paid_at
        row.channel = payment.channel
        row.late = _late(row.month, paid_at)
    if payment.first_month == first_unpaid(member):
        member.dues_paid_until = payment.last_month
    else:  # cannot happen while months are paid in order; kept visible rather than guessed
        log.error("dues payment %s of member %s is not the oldest unpaid months", payment.id, member.id)
    member.dues_flagged_at = None
    log_member(
        member,
        "dues_paid",
        {
            "months": [month_label(r.month) for r in rows],
            "amount_fen": payment.amount_fen,
            "channel": payment.channel,
            "paid_by": payment.paid_by_name,
            "late": [month_label(r.month) for r in rows if r.late],
            "late_reason": payment.late_reason,
            "payment_id": payment.id,
        },
        actor,
    )
    db.session.flush()
    if member.user is not None:
        notify(
            member.user,
            "party_dues_paid",
            {
                "months_text": month_text(payment.first_month, payment.last_month),
                "amount_yuan": yuan(payment.amount_fen),
                "channel_name": CHANNEL_ZH[payment.channel],
                "paid_until_text": month_text(member.dues_paid_until, member.dues_paid_until)
                if member.dues_paid_until
                else "",
                "paid_at": paid_at,
            },
            subject_path=member.branch.area_path,
            dedupe_key=f"party-dues-paid:{payment.id}",
        )


def my_payments(user: User) -> Select[tuple[DuesPayment]]:
    member = my_member(user, good_standing=False)
    return select(DuesPayment).where(DuesPayment.member_id == member.id)


# ------------------------------------------------------------------------------------------------
# What payments tells us (receivers, in the unit of work of the change)
# ------------------------------------------------------------------------------------------------


def _payment_of(order: PaymentOrder) -> DuesPayment | None:
    try:
        payment_id = uuid.UUID(order.reference)
    except ValueError:
        return None
    return locked(DuesPayment, DuesPayment.id == payment_id)


def on_payment_succeeded(order: PaymentOrder, **_: Any) -> None:
    if order.purpose != PURPOSE:
        return
    payment = _payment_of(order)
    if payment is None:
        log.error("paid order %s names no dues payment", order.out_trade_no)
        return
    if payment.status == DuesPaymentStatus.PENDING:
        _settle(payment, order.paid_at or utcnow(), None)


def on_payment_closed(order: PaymentOrder, **_: Any) -> None:
    if order.purpose != PURPOSE:
        return
    payment = _payment_of(order)
    if payment is None or payment.status != DuesPaymentStatus.PENDING:
        return
    payment.status = DuesPaymentStatus.CLOSED
    payment.closed_at = utcnow()
    db.session.execute(
        update(DuesMonth)
        .where(DuesMonth.payment_id == payment.id, DuesMonth.paid_at.is_(None))
        .values(payment_id=None)
        .execution_options(synchronize_session=False)
    )


def on_payment_after_close(order: PaymentOrder, **_: Any) -> LateDecision | None:
    """Paid after the order closed: kept when its months are still free (they are held again, and
    `payment_succeeded` follows), refunded when another payment took them meanwhile."""
    if order.purpose != PURPOSE:
        return None
    payment = _payment_of(order)
    if payment is None or payment.status != DuesPaymentStatus.CLOSED:
        return LateDecision.REFUND
    member = _lock_member(payment.member_id)
    if payment.first_month != first_unpaid(member):
        return LateDecision.REFUND
    months = [add_months(payment.first_month, i) for i in range(payment.months)]
    free = db.session.execute(
        update(DuesMonth)
        .where(
            DuesMonth.member_id == member.id,
            DuesMonth.month.in_(months),
            DuesMonth.payment_id.is_(None),
            DuesMonth.paid_at.is_(None),
        )
        .values(payment_id=payment.id)
        .execution_options(synchronize_session=False)
    ).rowcount
    if free != payment.months:
        db.session.execute(
            update(DuesMonth)
            .where(DuesMonth.payment_id == payment.id, DuesMonth.paid_at.is_(None))
            .values(payment_id=None)
            .execution_options(synchronize_session=False)
        )
        return LateDecision.REFUND
    payment.status = DuesPaymentStatus.PENDING
    payment.closed_at = None
    return LateDecision.KEEP


# ------------------------------------------------------------------------------------------------
# Reminders and the six-month flag (the beat)
# ------------------------------------------------------------------------------------------------


def remind(settings: Settings, now: datetime | None = None) -> int:
    """On the reminder days of the month: members in good standing whose current month is unpaid are told."""
    now = now or utcnow()
    today = local_today(now)
    if today.day not in settings.party_dues_reminder_days:
        return 0
    month = current_month(now)
    told = 0
    for member in db.session.scalars(
        select(PartyMember).where(
            PartyMember.status == MemberStatus.ACTIVE,
            PartyMember.user_id.is_not(None),
            PartyMember.dues_standard_fen > 0,
            _unpaid_since(month),
        )
    ):
        assert member.user is not None
        notify(
            member.user,
            "party_dues_reminder",
            {
                "due_yuan": yuan(member.dues_standard_fen),
                "paid_until_text": month_text(member.dues_paid_until, member.dues_paid_until)
                if member.dues_paid_until
                else "（尚无缴费记录）",
            },
            subject_path=member.branch.area_path,
            dedupe_key=f"party-dues-reminder:{member.id}:{today.isoformat()}",
        )
        told += 1
    return told


def flag_unpaid(settings: Settings, now: datetime | None = None) -> int:
    """Members with `party_dues_flag_months` whole months unpaid are flagged to their branch's officers, once
    per run of unpaid months (paying clears it). The system flags; people decide."""
    now = now or utcnow()
    months = settings.party_dues_flag_months
    threshold = add_months(current_month(now), -months)
    flagged = 0
    for member in db.session.scalars(
        select(PartyMember)
        .where(
            PartyMember.status == MemberStatus.ACTIVE,
            PartyMember.dues_standard_fen > 0,
            PartyMember.dues_flagged_at.is_(None),
            _unpaid_since(threshold),
        )
        .with_for_update(of=PartyMember, skip_locked=True)
        .limit(1000)
    ):
        member.dues_flagged_at = now
        behind = months_between(first_unpaid(member), add_months(current_month(now), -1))
        log_member(member, "dues_flagged", {"months_unpaid": behind}, None, now)
        for officer in officer_users(member.branch):
            notify(
                officer,
                "party_dues_unpaid_flag",
                {"branch_name": member.branch.name, "branch_id": member.branch_id, "months": behind},
                subject_path=member.branch.area_path,
                dedupe_key=f"party-dues-flag:{member.id}:{month_label(threshold)}",
            )
        flagged += 1
    return flagged
