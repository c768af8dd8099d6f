"""What media holds about a person: the photos they uploaded (of a report, an event, a registration slip).
They are handed over in the export as files, and erased with their stored objects — also those attached
to a record that stays (an incident's public case keeps its text, not the reporter's photos)."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select

from api.accounts.models import User
from api.db import db
from api.media.models import Media, MediaStatus
from api.media.storage import get_storage
from api.personaldata import PersonalData, record

personal_data = PersonalData(
    categories=("上传的照片",),
    covers=("media.owner_id",),
    export="api.media.personal:export",
    erase="api.media.personal:erase",
    photos="api.media.personal:photos",
)


def photos(user: User) -> list[Media]:
    return list(
        db.session.scalars(
            select(Media).where(Media.owner_id == user.id, Media.status == MediaStatus.READY).order_by(Media.id)
        )
    )


def export(user: User) -> dict[str, Any]:
    rows = db.session.scalars(select(Media).where(Media.owner_id == user.id).order_by(Media.id)).all()
    return {
        "photos": [
            record(m, "id", "content_type", "size", "width", "height", "record_type", "created_at", "attached_at")
            for m in rows
        ]
    }


def erase(user: User) -> None:
    """Objects first, then rows: a storage failure raises, the transaction rolls back, and the rerun of the
    erasure deletes what is left (an object already gone is no error)."""
    storage = get_storage()
    for media in db.session.scalars(select(Media).where(Media.owner_id == user.id).with_for_update(of=Media)).all():
        for key in media.keys:
            storage.delete(key)  # a missing object is no error; a failing storage raises (StorageError)
        db.session.delete(media)
    db.session.flush()
