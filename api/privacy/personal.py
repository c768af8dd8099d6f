"""What the privacy domain itself holds about a person: their export requests and their deletion request
(which, once done, keeps only that a deletion happened)."""

from __future__ import annotations

from typing import Any

from sqlalchemy import delete, select

from api.accounts.models import User
from api.db import db
from api.media.storage import get_storage
from api.personaldata import PersonalData, record
from api.privacy.models import DataExport, DeletionRequest

personal_data = PersonalData(
    categories=("数据导出与注销申请",),
    covers=("data_exports.user_id", "deletion_requests.user_id"),
    export="api.privacy.personal:export",
    erase="api.privacy.personal:erase",
)


def export(user: User) -> dict[str, Any]:
    exports = db.session.scalars(select(DataExport).where(DataExport.user_id == user.id)).all()
    deletions = db.session.scalars(select(DeletionRequest).where(DeletionRequest.user_id == user.id)).all()
    return {
        "exports": [record(e, "status", "created_at", "finished_at", "expires_at") for e in exports],
        "deletion_requests": [record(d, "status", "requested_at", "due_at", "cancelled_at") for d in deletions],
    }


def erase(user: User) -> None:
    """Their archives go (objects first). The deletion request being carried out stays until it is done:
    it records progress, and loses the user when the user row goes."""
    storage = get_storage()
    for export in db.session.scalars(select(DataExport).where(DataExport.user_id == user.id)).all():
        if export.object_key:
            storage.delete(export.object_key)
    db.session.execute(delete(DataExport).where(DataExport.user_id == user.id))
