"""Media jobs: thumbnails (`media.make_thumbnail`, after each upload), the sweep that re-sends thumbnails a
lost task never made, and the daily clean-up of uploads never attached to anything (`media.purge_unattached`,
hourly in the beat schedule)."""

from __future__ import annotations

import uuid

from api.db import db
from api.extensions import celery
from api.media import services
from api.media.storage import StorageError, get_storage

PURGE_BATCHES_PER_RUN = 20


@celery.task(
    name="media.make_thumbnail",
    autoretry_for=(StorageError,),
    retry_backoff=5,
    retry_backoff_max=300,
    retry_jitter=True,
    max_retries=5,
)
def make_thumbnail(media_id: str) -> bool:
    """Make the thumbnail of one photo (nothing if it has one, or is gone)."""
    return services.make_thumbnail(uuid.UUID(media_id), get_storage())


@celery.task(name="media.sweep_thumbnails")
def sweep_thumbnails() -> int:
    return services.sweep_thumbnails()


@celery.task(name="media.purge_unattached")
def purge_unattached() -> dict[str, int]:
    """Delete uploads (and unused upload tickets) never attached to a record within a day, objects first."""
    totals = {"media": 0, "objects": 0, "kept": 0}
    for _ in range(PURGE_BATCHES_PER_RUN):
        done = services.purge_unattached(get_storage())
        db.session.commit()  # one batch at a time: a failure later keeps what was already deleted
        for name, value in done.items():
            totals[name] += value
        if done["kept"] or done["media"] < services.PURGE_BATCH:
            break  # all done, or storage is failing: the next run carries on
    return totals
