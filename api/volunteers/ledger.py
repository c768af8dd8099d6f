"""The two ledgers: service hours (志愿服务时长: certificates, star levels, leaderboards) and time coins (时间币: one
per hour of qualifying elder help, to be spent later on services from the catalogue), and the hours that wait for
someone's approval before they reach them.

Append-only: this module only ever INSERTs entries. A correction is a reversing entry pointing at the one it undoes
(once: `reverses_id` is unique; a reversal is never reversed); a balance is the SUM of an account's entries,
computed, never stored. Moving coins locks the giver's account row first, so two gifts at once cannot spend the same
coins. Coins can be given to family, donated to the community pool, or spent on a coin-redeemable elderly service
(`spend`, given back by `refund_spent` when the service does not happen); nothing buys them or pays them out.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Select, func, or_, select

from api.accounts.models import Area, HouseholdMember, User
from api.db import db, new_id, utcnow
from api.eldercare.models import BindingStatus, Elder, FamilyBinding
from api.errors import ApiError, NotFound
from api.notifications.services import notify
from api.volunteers import access, services
from api.volunteers.models import (
    AccountKind,
    ClaimOrigin,
    ClaimStatus,
    CoinEntry,
    CoinKind,
    Correction,
    Group,
    HourClaim,
    HourEntry,
    HourKind,
    LedgerAccount,
    Profile,
    Task,
)

POOL = "community-pool"
CENTI_PER_HOUR = 100  # one coin per hour of qualifying service, kept in hundredths
STAR_HOURS = (100, 300, 600, 1000, 1500)  # 一星 … 五星


# ------------------------------------------------------------------------------------------------
# Accounts and balances
# ------------------------------------------------------------------------------------------------


def account_of(user: User, *, create: bool = True) -> LedgerAccount | None:
    account = db.session.scalar(select(LedgerAccount).where(LedgerAccount.user_id == user.id))
    if account is None and create:
        account = LedgerAccount(kind=AccountKind.PERSON, user_id=user.id)
        db.session.add(account)
        db.session.flush()
    return account


def pool() -> LedgerAccount:
    account = db.session.scalar(select(LedgerAccount).where(LedgerAccount.code == POOL))
    if account is None:
        account = LedgerAccount(kind=AccountKind.POOL, code=POOL)
        db.session.add(account)
        db.session.flush()
    return account


def _lock(account_id: uuid.UUID) -> LedgerAccount:
    account = db.session.scalar(
        select(LedgerAccount)
        .where(LedgerAccount.id == account_id)
        .with_for_update(of=LedgerAccount)
        .execution_options(populate_existing=True)
    )
    assert account is not None
    return account


def hour_balance(account_id: uuid.UUID | None) -> int:
    """Minutes: the sum of the account's hour entries."""
    if account_id is None:
        return 0
    return int(
        db.session.scalar(
            select(func.coalesce(func.sum(HourEntry.minutes), 0)).where(HourEntry.account_id == account_id)
        )
    )


def coin_balance(account_id: uuid.UUID | None) -> int:
    """Hundredths of a coin: the sum of the account's coin entries."""
    if account_id is None:
        return 0
    return int(
        db.session.scalar(select(func.coalesce(func.sum(CoinEntry.centi), 0)).where(CoinEntry.account_id == account_id))
    )


def stars(minutes: int) -> int:
    hours = minutes / 60
    return sum(1 for threshold in STAR_HOURS if hours >= threshold)


def next_star_hours(minutes: int) -> int | None:
    hours = minutes / 60
    return next((t for t in STAR_HOURS if hours < t), None)


@dataclass
class Standing:
    minutes: int
    centi: int
    stars: int
    next_star_hours: int | None


def standing(user: User) -> Standing:
    account = account_of(user, create=False)
    minutes = hour_balance(account.id if account else None)
    return Standing(minutes, coin_balance(account.id if account else None), stars(minutes), next_star_hours(minutes))


def coins_text(centi: int) -> str:
    return f"{centi / CENTI_PER_HOUR:g}"


# ------------------------------------------------------------------------------------------------
# Crediting hours (and coins)
# ------------------------------------------------------------------------------------------------


def credit(
    user: User, task: Task, minutes: int, *, source_id: uuid.UUID, now: datetime, kind: HourKind = HourKind.ATTENDANCE
) -> HourEntry:
    """Hours for service on `task`, recorded by its group; coins too when the task qualifies. The volunteer is told."""
    account = account_of(user)
    assert account is not None
    entry = HourEntry(
        account_id=account.id,
        kind=kind,
        minutes=minutes,
        task_id=task.id,
        group_id=task.group_id,
        area_path=task.area.path,
        served_at=task.starts_at,
        source_id=source_id,
        created_at=now,
    )
    db.session.add(entry)
    centi = minutes * CENTI_PER_HOUR // 60 if task.coins else 0
    if centi:
        db.session.add(
            CoinEntry(
                account_id=account.id,
                kind=CoinKind.EARNED,
                centi=centi,
                task_id=task.id,
                area_path=task.area.path,
                source_id=source_id,
                created_at=now,
            )
        )
    db.session.flush()
    total = hour_balance(account.id)
    notify(
        user,
        "volunteer_hours_recorded",
        {
            "task_title": task.title,
            "hours": f"{minutes / 60:g}",
            "coins_text": f"，获得 {coins_text(centi)} 枚时间币" if centi else "",
            "total_hours": f"{total / 60:g}",
        },
        subject_path=task.area.path,
        dedupe_key=f"volunteer-hours:{source_id}",
    )
    return entry


# ------------------------------------------------------------------------------------------------
# Hours waiting for approval
# ------------------------------------------------------------------------------------------------


def enter_hours(user: User, task_id: uuid.UUID, volunteer_id: uuid.UUID, minutes: int, note: str) -> HourClaim:
    """Staff or a leader enter hours by hand: pending until someone else approves them, never above the plan."""
    task = services.managed_task(user, task_id)
    profile = db.session.get(Profile, volunteer_id)
    if profile is None or profile.user_id is None:
        raise ApiError("validation_failed", errors={"profile_id": ["not found"]})
    if minutes > task.minutes:
        raise ApiError("hours_above_cap", errors={"minutes": [f"at most {task.minutes}"]}, cap=task.minutes)
    claim = HourClaim(
        task_id=task.id,
        user_id=profile.user_id,
        minutes=minutes,
        origin=ClaimOrigin.MANUAL,
        note=note,
        entered_by_id=user.id,
    )
    db.session.add(claim)
    db.session.flush()
    return claim


def managed_claims(user: User, status: ClaimStatus | None) -> Select[tuple[HourClaim]]:
    stmt = select(HourClaim).join(HourClaim.task).where(access.condition(user, Task))
    if status is not None:
        stmt = stmt.where(HourClaim.status == status)
    return stmt


def _claim(user: User, claim_id: uuid.UUID) -> HourClaim:
    claim = db.session.scalar(
        select(HourClaim)
        .where(HourClaim.id == claim_id)
        .with_for_update(of=HourClaim)
        .execution_options(populate_existing=True)
    )
    return access.ensure_manages(user, claim)


def decide_claim(user: User, claim_id: uuid.UUID, approve: bool, reason: str = "") -> HourClaim:
    """Approve (to the ledgers) or reject: by someone other than who entered the hours, and not the volunteer."""
    claim = _claim(user, claim_id)
    if claim.status != ClaimStatus.PENDING:
        raise ApiError("claim_decided", state=claim.status.value)
    if user.id in (claim.entered_by_id, claim.user_id):
        raise ApiError("own_hours")
    now = utcnow()
    claim.status = ClaimStatus.APPROVED if approve else ClaimStatus.REJECTED
    claim.decided_by_id = user.id
    claim.decided_at = now
    claim.reject_reason = None if approve else reason
    db.session.flush()
    if approve and claim.user is not None:
        credit(claim.user, claim.task, claim.minutes, source_id=claim.id, now=now, kind=HourKind.MANUAL)
    return claim


# ------------------------------------------------------------------------------------------------
# Corrections
# ------------------------------------------------------------------------------------------------


@dataclass
class Reversal:
    entry: Any
    reverses: Any
    reason: str


def _reverse(model: Any, amount: str, ledger: str, user: User, entry_id: uuid.UUID, reason: str) -> Reversal:
    entry = db.session.get(model, entry_id)
    if entry is None or entry.task_id is None:
        if entry is not None and user.is_staff and access.manages(user, _Placed(entry.area_path)):
            raise ApiError("entry_not_reversible")
        raise NotFound()
    task = db.session.get(Task, entry.task_id)
    access.ensure_manages(user, task)
    if entry.reverses_id is not None:
        raise ApiError("reversal_of_reversal")
    _lock(entry.account_id)
    if db.session.scalar(select(model.id).where(model.reverses_id == entry.id)) is not None:
        raise ApiError("already_reversed")
    kind = HourKind.REVERSAL if model is HourEntry else CoinKind.REVERSAL
    fields = {c: getattr(entry, c) for c in ("account_id", "task_id", "area_path", "source_id")}
    if model is HourEntry:
        fields.update(group_id=entry.group_id, served_at=entry.served_at)
    reversal = model(kind=kind, reverses_id=entry.id, **{amount: -getattr(entry, amount)}, **fields)
    db.session.add(reversal)
    db.session.flush()
    db.session.add(
        Correction(ledger=ledger, entry_id=reversal.id, account_id=entry.account_id, reason=reason, by_id=user.id)
    )
    db.session.flush()
    return Reversal(reversal, entry, reason)


@dataclass
class _Placed:
    area_path: str | None
    group_id: uuid.UUID | None = None


def reverse_hours(user: User, entry_id: uuid.UUID, reason: str) -> Reversal:
    """Undo an hours entry with a reversing one; the coins it earned are reversed with it."""
    reversal = _reverse(HourEntry, "minutes", "hours", user, entry_id, reason)
    original = reversal.reverses
    if original.kind != HourKind.REVERSAL:
        earned = db.session.scalar(
            select(CoinEntry).where(
                CoinEntry.source_id == original.source_id,
                CoinEntry.account_id == original.account_id,
                CoinEntry.kind == CoinKind.EARNED,
            )
        )
        if (
            earned is not None
            and db.session.scalar(select(CoinEntry.id).where(CoinEntry.reverses_id == earned.id)) is None
        ):
            _reverse(CoinEntry, "centi", "coins", user, earned.id, reason)
    return reversal


def reverse_coins(user: User, entry_id: uuid.UUID, reason: str) -> Reversal:
    return _reverse(CoinEntry, "centi", "coins", user, entry_id, reason)


# ------------------------------------------------------------------------------------------------
# Gifts and donations
# ------------------------------------------------------------------------------------------------


def is_family(giver: User, receiver_id: uuid.UUID) -> bool:
    """Family, for coins: the same household (a room both are bound to), or an elder one looks after (the elder's
    own account) — either way round."""
    shared_room = db.session.scalar(
        select(HouseholdMember.id)
        .where(
            HouseholdMember.user_id == receiver_id,
            HouseholdMember.room_id.in_(select(HouseholdMember.room_id).where(HouseholdMember.user_id == giver.id)),
        )
        .limit(1)
    )
    if shared_room is not None:
        return True
    bound = db.session.scalar(
        select(FamilyBinding.id)
        .join(Elder, Elder.id == FamilyBinding.elder_id)
        .where(
            FamilyBinding.status == BindingStatus.CONFIRMED,
            or_(
                (FamilyBinding.user_id == giver.id) & (Elder.user_id == receiver_id),
                (FamilyBinding.user_id == receiver_id) & (Elder.user_id == giver.id),
            ),
        )
        .limit(1)
    )
    return bound is not None


def _move_coins(giver: User, to: LedgerAccount, centi: int, out: CoinKind, into: CoinKind) -> uuid.UUID:
    account = account_of(giver)
    assert account is not None
    _lock(account.id)
    balance = coin_balance(account.id)
    if centi > balance:
        raise ApiError(
            "coins_insufficient", errors={"coins": [f"at most {coins_text(balance)}"]}, balance=coins_text(balance)
        )
    transfer = new_id()
    now = utcnow()
    db.session.add_all(
        [
            CoinEntry(
                account_id=account.id, kind=out, centi=-centi, counterpart_id=to.id, source_id=transfer, created_at=now
            ),
            CoinEntry(
                account_id=to.id, kind=into, centi=centi, counterpart_id=account.id, source_id=transfer, created_at=now
            ),
        ]
    )
    db.session.flush()
    return transfer


def give(giver: User, receiver_id: uuid.UUID, centi: int) -> uuid.UUID:
    receiver = db.session.get(User, receiver_id)
    if receiver is None or receiver.id == giver.id or not is_family(giver, receiver.id):
        raise ApiError("coins_not_family", errors={"to_user_id": ["not your family"]})
    to = account_of(receiver)
    assert to is not None
    transfer = _move_coins(giver, to, centi, CoinKind.GIFT_OUT, CoinKind.GIFT_IN)
    notify(
        receiver,
        "volunteer_coins_received",
        {"giver": giver.nickname or "家人", "coins": coins_text(centi)},
        subject_path=None,
        dedupe_key=f"volunteer-coins:{transfer}",
    )
    return transfer


def donate(giver: User, centi: int) -> uuid.UUID:
    return _move_coins(giver, pool(), centi, CoinKind.DONATION_OUT, CoinKind.DONATION_IN)


def spend(payer: User, centi: int) -> uuid.UUID:
    """Pay `centi` for an elderly service (api/care): to the community pool, under the payer's lock; 409
    `coins_insufficient` when the balance is short."""
    return _move_coins(payer, pool(), centi, CoinKind.SPENT_OUT, CoinKind.SPENT_IN)


def refund_spent(payer: User, centi: int, source_id: uuid.UUID) -> uuid.UUID:
    """Give back coins spent on a service that did not happen (the pool's row locked first)."""
    community = pool()
    _lock(community.id)
    account = account_of(payer)
    assert account is not None
    transfer = new_id()
    now = utcnow()
    db.session.add_all(
        [
            CoinEntry(
                account_id=community.id,
                kind=CoinKind.REFUND_OUT,
                centi=-centi,
                counterpart_id=account.id,
                source_id=source_id,
                created_at=now,
            ),
            CoinEntry(
                account_id=account.id,
                kind=CoinKind.REFUND_IN,
                centi=centi,
                counterpart_id=community.id,
                source_id=source_id,
                created_at=now,
            ),
        ]
    )
    db.session.flush()
    return transfer


def close_account(user: User) -> int:
    """An erased person's account: coins left go to the community pool (they cannot be paid out), then the account
    forgets whose it was. Every entry stays, so the totals do too. Returns the coins moved (hundredths)."""
    account = account_of(user, create=False)
    if account is None:
        return 0
    _lock(account.id)
    balance = coin_balance(account.id)
    if balance > 0:
        community = pool()
        transfer, now = new_id(), utcnow()
        db.session.add_all(
            [
                CoinEntry(
                    account_id=account.id,
                    kind=CoinKind.CLOSING_OUT,
                    centi=-balance,
                    counterpart_id=community.id,
                    source_id=transfer,
                    created_at=now,
                ),
                CoinEntry(
                    account_id=community.id,
                    kind=CoinKind.CLOSING_IN,
                    centi=balance,
                    counterpart_id=account.id,
                    source_id=transfer,
                    created_at=now,
                ),
            ]
        )
    account.user_id = None
    account.closed_at = utcnow()
    db.session.flush()
    return max(balance, 0)


# ------------------------------------------------------------------------------------------------
# Reading
# ------------------------------------------------------------------------------------------------


def my_hour_entries(user: User) -> Select[tuple[HourEntry]]:
    account = account_of(user, create=False)
    return select(HourEntry).where(HourEntry.account_id == (account.id if account else None))


def my_coin_entries(user: User) -> Select[tuple[CoinEntry]]:
    account = account_of(user, create=False)
    return select(CoinEntry).where(CoinEntry.account_id == (account.id if account else None))


def hours_by_group(account_id: uuid.UUID, since: datetime | None, until: datetime | None) -> list[dict[str, Any]]:
    """Hours per recording group (谁记录谁证明): a task's group, else the committee of its place."""
    stmt = (
        select(HourEntry.group_id, HourEntry.area_path, func.sum(HourEntry.minutes))
        .where(HourEntry.account_id == account_id)
        .group_by(HourEntry.group_id, HourEntry.area_path)
    )
    if since is not None:
        stmt = stmt.where(HourEntry.served_at >= since)
    if until is not None:
        stmt = stmt.where(HourEntry.served_at < until)
    totals: dict[str, dict[str, Any]] = {}
    for group_id, path, minutes in db.session.execute(stmt):
        if group_id is not None:
            group = db.session.get(Group, group_id)
            key, name, recorder = (
                f"g:{group_id}",
                group.name if group else "志愿服务队",
                group.area.name if group else "",
            )
        else:
            committee_code = next(iter(path.strip("/").split("/")[1:2]), "")
            area = db.session.scalar(select(Area).where(Area.code == committee_code)) if committee_code else None
            name = f"{area.name}志愿服务" if area else "街道志愿服务"
            key, recorder = f"a:{committee_code}", area.name if area else "控江路街道"
        line = totals.setdefault(key, {"group": name, "recorded_by": recorder, "minutes": 0})
        line["minutes"] += int(minutes or 0)
    return sorted((line for line in totals.values() if line["minutes"] > 0), key=lambda line: -line["minutes"])


def leaderboard(
    *, group_id: uuid.UUID | None, committee_path: str | None, since: datetime | None, limit: int = 50
) -> list[tuple[Profile, int]]:
    """Volunteers by hours recorded by a group, or on tasks in a committee; those who opted out are left out."""
    stmt = (
        select(Profile.id, func.sum(HourEntry.minutes).label("minutes"))
        .join(LedgerAccount, LedgerAccount.user_id == Profile.user_id)
        .join(HourEntry, HourEntry.account_id == LedgerAccount.id)
        .where(Profile.leaderboard_opt_out.is_(False))
        .group_by(Profile.id)
        .having(func.sum(HourEntry.minutes) > 0)
        .order_by(func.sum(HourEntry.minutes).desc(), Profile.id)
        .limit(limit)
    )
    if group_id is not None:
        stmt = stmt.where(HourEntry.group_id == group_id)
    if committee_path is not None:
        stmt = stmt.where(HourEntry.area_path.startswith(committee_path, autoescape=True))
    if since is not None:
        stmt = stmt.where(HourEntry.served_at >= since)
    rows = db.session.execute(stmt).all()
    profiles = {p.id: p for p in db.session.scalars(select(Profile).where(Profile.id.in_([r[0] for r in rows])))}
    return [(profiles[profile_id], int(minutes)) for profile_id, minutes in rows]
