"""Messages for what happens in the domains below notifications (their signals, subscribed in the
manifest): those domains cannot call `notify` themselves."""

from __future__ import annotations

from typing import Any

from api.accounts.models import HouseholdRequest, HouseholdRequestStatus
from api.notifications.services import notify


def tell_household_applicant(request: HouseholdRequest, **_: Any) -> None:
    """The resident hears whether their request to bind to a flat was approved, and why not."""
    approved = request.status == HouseholdRequestStatus.APPROVED
    notify(
        request.user,
        "household_request_decided",
        {
            "address": request.room.door_address(),
            "result": "通过" if approved else "未通过",
            "reason": "" if approved else f"原因：{request.reject_reason}",
            "decided_at": request.decided_at,
        },
        subject_path=request.room.path,
        dedupe_key=f"household-request:{request.id}",
    )
