"""The trail staff leave: every read of a person's personal detail — an elder's profile and conditions,
a family binding, a resident's household request, a reporter's contact, a revealed phone number — is one
access-log row, written in the request's unit of work by the route that shows it."""

from __future__ import annotations

import uuid
from collections.abc import Iterable

from flask import has_request_context, request

from api.accounts.models import AccessLog, Role, User
from api.db import db, new_id, utcnow

USER = "user"
ELDER = "elder"
_ROLE_ORDER = (Role.ADMIN, Role.SUPERVISOR, Role.STAFF, Role.GRID_WORKER, Role.FINANCE, Role.PARTY_OFFICER)


def _role(staff: User) -> str:
    return next((role.value for role in _ROLE_ORDER if staff.has_role(role)), "staff")


def record_access(
    staff: User,
    subject_kind: str,
    subject_ids: Iterable[uuid.UUID | None],
    fields: Iterable[str],
    *,
    reason: str | None = None,
) -> None:
    """One row per subject read (a list of 20 elders is 20 rows, in one multi-row INSERT at commit)."""
    route = f"{request.method} {request.url_rule.rule}" if has_request_context() and request.url_rule else "-"
    now, role = utcnow(), _role(staff)
    area = staff.staff_area.code if staff.staff_area is not None else None
    shown = sorted(set(fields))
    for subject_id in dict.fromkeys(i for i in subject_ids if i is not None):
        db.session.add(
            AccessLog(
                id=new_id(),
                staff_id=staff.id,
                staff_role=role,
                staff_area_code=area,
                subject_kind=subject_kind,
                subject_id=subject_id,
                fields=shown,
                route=route[:128],
                reason=reason,
                at=now,
            )
        )
