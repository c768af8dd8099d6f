"""Working party members' service (在职党员进社区), as the party domain asks for it through its signals (subscribed
in the manifest; party imports nothing of this domain):

- a branch confirmed a working member's registration with the community (`party.registration-confirmed`): they
  are there to serve, so they may take that community's tasks — a volunteer profile is made for them, approved on
  the branch's word, or their profile gains the committee. A profile staff rejected or suspended is left as it is:
  the branch does not overrule the committee.
- party asks how much service some people did (`party.service-hours-requested`): the minutes of their hours
  ledger served in the period (reversals included), for the quarterly report to their workplace branch and for
  service-hours points.

Each receiver runs inside the sender's unit of work.
"""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import func, select

from api.accounts.models import Area, AreaKind, Role, User
from api.db import db, utcnow
from api.dialect import among
from api.volunteers.models import HourEntry, LedgerAccount, Profile, ProfileStatus


def _committee_of(area_path: str) -> Area | None:
    """The neighbourhood committee an area path lies in (a branch may sit at the committee or at an estate)."""
    prefixes = []
    parts = [part for part in area_path.split("/") if part]
    for depth in range(1, len(parts) + 1):
        prefixes.append("/" + "/".join(parts[:depth]) + "/")
    if not prefixes:
        return None
    return db.session.scalar(select(Area).where(Area.kind == AreaKind.COMMITTEE, among(Area.path, prefixes)))


def on_registration_confirmed(
    _sender: Any, *, user_id: uuid.UUID, name: str, area_path: str, **_values: Any
) -> Profile | None:
    user = db.session.get(User, user_id)
    committee = _committee_of(area_path)
    if user is None or committee is None:
        return None
    profile = db.session.scalar(select(Profile).where(Profile.user_id == user_id))
    if profile is None:
        profile = Profile(
            user_id=user.id,
            real_name=name.strip()[:32],
            area_id=committee.id,
            status=ProfileStatus.APPROVED,
            decided_at=utcnow(),
            availability=[],
        )
        profile.committees = [committee]
        db.session.add(profile)
        user.grant(Role.VOLUNTEER)
    elif profile.status in (ProfileStatus.PENDING, ProfileStatus.APPROVED):
        if committee not in profile.committees:
            profile.committees = [*profile.committees, committee]
        if profile.status == ProfileStatus.PENDING:
            profile.status = ProfileStatus.APPROVED
            profile.decided_at = utcnow()
            user.grant(Role.VOLUNTEER)
    db.session.flush()
    return profile


def on_service_hours_requested(
    _sender: Any, *, user_ids: list[uuid.UUID], since: datetime, until: datetime, **_values: Any
) -> dict[uuid.UUID, int]:
    """{user_id: minutes served in [since, until)} for the people who have an hours ledger."""
    if not user_ids:
        return {}
    rows = db.session.execute(
        select(LedgerAccount.user_id, func.coalesce(func.sum(HourEntry.minutes), 0))
        .join(HourEntry, HourEntry.account_id == LedgerAccount.id)
        .where(LedgerAccount.user_id.in_(user_ids), HourEntry.served_at >= since, HourEntry.served_at < until)
        .group_by(LedgerAccount.user_id)
    )
    return {user_id: int(minutes) for user_id, minutes in rows if user_id is not None}
