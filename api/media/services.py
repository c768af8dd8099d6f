"""Media rules: uploading and verifying photos, who may see them, attaching them to records, cleaning up.

- A photo is stored only as a sanitised re-encoding (`api.media.images`): no EXIF, no GPS, upright.
  Direct uploads are sanitised in the request; ticket uploads land as a raw `incoming/` object that
  nobody can read, and `complete_upload` verifies, sanitises and deletes it before the photo is `ready`.
- A photo belongs to its uploader until a domain calls `attach(...)`; from then on the visibility
  check that domain registered with `register_media_visibility` decides who gets URLs. Everybody else
  gets a 404, never a hint that the photo exists.
- Unattached uploads (and tickets never used) are purged after a day by `purge_unattached`.

Callable without Flask: functions take the storage they use and work on `db.session`; the caller's unit
of work commits. Thumbnails are made by the `media.make_thumbnail` task once the photo is committed
(in the request itself when tasks run eagerly); a beat job re-sends those a lost task never made.
"""

from __future__ import annotations

import contextlib
import logging
import uuid
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import bindparam, func, select

from api import dialect
from api.accounts.models import User
from api.db import db, new_id, utcnow
from api.errors import ApiError, NotFound
from api.extensions import celery
from api.jobs import after_commit, enqueue
from api.media import images
from api.media.models import Media, MediaStatus
from api.media.storage import LocalStorage, Storage, StorageError, UploadRefused, UploadTicket

log = logging.getLogger(__name__)

MAX_UPLOAD_BYTES = 10 * 1024 * 1024
# What a stored original may weigh when read back (a re-encoded PNG can outgrow its upload).
MAX_STORED_BYTES = 64 * 1024 * 1024
URL_TTL = timedelta(minutes=10)
TICKET_TTL = timedelta(minutes=10)
UNATTACHED_TTL = timedelta(hours=24)
MAX_OPEN_TICKETS = 20
PURGE_BATCH = 500
DEFAULT_MAX_ATTACHED = 9
RECORD_TYPE_MAX_LENGTH = 32
THUMBNAIL_TASK = "media.make_thumbnail"

VisibilityCheck = Callable[[User, uuid.UUID], bool]
_visibility: dict[str, VisibilityCheck] = {}


# ----------------------------------------------------------------------------------------------------
# Who may see a photo
# ----------------------------------------------------------------------------------------------------


def register_media_visibility(record_type: str, check: VisibilityCheck) -> None:
    """Declare who may see photos attached to records of `record_type` (e.g. "incident"); `create_app`
    calls it for every rule a domain's manifest names (`media_visibility`).

    `check(viewer, record_id)` answers whether `viewer` may see that record — the declaring domain's
    rule, staff scopes included. It is called on every request for a URL; a check that raises counts
    as "no".
    """
    if not record_type or len(record_type) > RECORD_TYPE_MAX_LENGTH:
        raise ValueError(f"record_type must be 1–{RECORD_TYPE_MAX_LENGTH} characters")
    _visibility[record_type] = check


def can_view(viewer: User, media: Media) -> bool:
    if media.record_type is None or media.record_id is None:
        return media.owner_id == viewer.id
    check = _visibility.get(media.record_type)
    if check is None:
        log.error("no visibility check registered for media of %r; nobody may see them", media.record_type)
        return False
    try:
        return bool(check(viewer, media.record_id))
    except Exception:
        log.exception("visibility check for %r failed; refusing", media.record_type)
        return False


def get_visible(viewer: User, media_id: uuid.UUID) -> Media:
    """The photo, if `viewer` may see it; a 404 otherwise (whether or not it exists)."""
    media = db.session.get(Media, media_id)
    if media is None or not can_view(viewer, media):
        raise NotFound()
    return media


def get_own(owner: User, media_id: uuid.UUID, *, lock: bool = False) -> Media:
    stmt = select(Media).where(Media.id == media_id)
    if lock:
        stmt = stmt.with_for_update(of=Media)
    media = db.session.scalar(stmt)
    if media is None or media.owner_id != owner.id:
        raise NotFound()
    return media


@dataclass(frozen=True)
class Presented:
    """A photo with URLs fresh for whoever asked (the caller checked they may see it)."""

    media: Media
    url: str | None
    thumbnail_url: str | None
    url_expires_at: datetime | None

    def __getattr__(self, name: str) -> Any:
        return getattr(self.media, name)


def present(media: Media, storage: Storage) -> Presented:
    if media.status != MediaStatus.READY or not media.object_key:
        return Presented(media, None, None, None)
    with storage_errors():
        url = storage.url(media.object_key, ttl=URL_TTL)
        thumbnail = storage.url(media.thumbnail_key, ttl=URL_TTL) if media.thumbnail_key else None
    return Presented(media, url, thumbnail, utcnow() + URL_TTL)


# ----------------------------------------------------------------------------------------------------
# Uploading
# ----------------------------------------------------------------------------------------------------


def _shard(media_id: uuid.UUID) -> str:
    return media_id.hex[-2:]  # the random end of a UUIDv7: spreads files over 256 folders


def photo_key(media_id: uuid.UUID, fmt: images.ImageFormat) -> str:
    return f"photos/{_shard(media_id)}/{media_id}.{fmt.extension}"


def thumbnail_key(media_id: uuid.UUID) -> str:
    return f"photos/{_shard(media_id)}/{media_id}.thumb.jpg"


def incoming_key(media_id: uuid.UUID) -> str:
    return f"incoming/{media_id}"


@contextlib.contextmanager
def storage_errors() -> Iterator[None]:
    try:
        yield
    except StorageError:
        log.exception("media storage failed")
        raise ApiError("service_unavailable") from None


def too_large() -> ApiError:
    return ApiError("payload_too_large", errors={"file": ["larger than 10 MB"]}, limit="10 MB")


def _sanitise(data: bytes) -> images.CleanImage:
    try:
        return images.sanitise(data)
    except images.ImageRejected as exc:
        raise ApiError(exc.code, errors={"file": [exc.detail]}, **exc.params) from None


def _store_clean(media: Media, clean: images.CleanImage, storage: Storage) -> None:
    key = photo_key(media.id, clean.format)
    with storage_errors():
        storage.put(key, clean.data, clean.format.content_type)
    media.object_key = key
    media.content_type = clean.format.content_type
    media.size = len(clean.data)
    media.width = clean.width
    media.height = clean.height
    media.status = MediaStatus.READY


def upload(owner: User, data: bytes, storage: Storage) -> Media:
    """Store a photo sent through the app (`wx.uploadFile` to `POST /media`): verified, sanitised, ready."""
    if len(data) > MAX_UPLOAD_BYTES:
        raise too_large()
    clean = _sanitise(data)
    media = Media(id=new_id(), owner_id=owner.id, status=MediaStatus.PENDING_UPLOAD, content_type="")
    _store_clean(media, clean, storage)
    db.session.add(media)
    db.session.flush()
    schedule_thumbnail(media, storage)
    return media


def issue_upload_ticket(owner: User, content_type: str, size: int, storage: Storage) -> tuple[Media, UploadTicket]:
    """A presigned form to upload one photo straight to storage; `complete_upload` verifies it afterwards."""
    if content_type not in images.BY_CONTENT_TYPE:
        raise ApiError("media_type_not_allowed", errors={"content_type": [f"one of {images.ACCEPTED_CONTENT_TYPES}"]})
    if size > MAX_UPLOAD_BYTES:
        raise ApiError("payload_too_large", errors={"size": ["larger than 10 MB"]}, limit="10 MB")
    now = utcnow()
    open_tickets = db.session.scalar(
        select(func.count())
        .select_from(Media)
        .where(
            Media.owner_id == owner.id,
            Media.status == MediaStatus.PENDING_UPLOAD,
            Media.upload_expires_at > now,
        )
    )
    if (open_tickets or 0) >= MAX_OPEN_TICKETS:
        wait = int(TICKET_TTL.total_seconds())
        raise ApiError("too_many_requests", headers={"Retry-After": str(wait)}, retry_after=wait)
    media = Media(
        id=new_id(),
        owner_id=owner.id,
        status=MediaStatus.PENDING_UPLOAD,
        content_type=content_type,
        upload_expires_at=now + TICKET_TTL,
        created_at=now,
    )
    media.upload_key = incoming_key(media.id)
    with storage_errors():
        ticket = storage.upload_ticket(
            media.upload_key, content_type=content_type, max_bytes=MAX_UPLOAD_BYTES, ttl=TICKET_TTL
        )
    db.session.add(media)
    db.session.flush()
    return media, ticket


def _discard_incoming(media: Media, storage: Storage) -> None:
    if media.upload_key:
        with storage_errors():
            storage.delete(media.upload_key)


def complete_upload(owner: User, media_id: uuid.UUID, storage: Storage) -> Media:
    """Verify what was uploaded with a ticket, store it sanitised and mark it ready (once: a retry after
    success returns the ready photo). A refused file is deleted; the ticket may be used again while valid."""
    media = get_own(owner, media_id, lock=True)
    if media.status == MediaStatus.READY:
        return media
    if not media.upload_key:
        raise ApiError("media_upload_missing")
    with storage_errors():
        info = storage.stat(media.upload_key)
    if info is None:
        raise ApiError("media_upload_missing")
    if info.size > MAX_UPLOAD_BYTES:
        _discard_incoming(media, storage)
        raise too_large()
    with storage_errors():
        data = storage.read(media.upload_key, max_bytes=MAX_UPLOAD_BYTES)
    if data is None:
        raise ApiError("media_upload_missing")
    if len(data) > MAX_UPLOAD_BYTES:
        _discard_incoming(media, storage)
        raise too_large()
    try:
        clean = images.sanitise(data)
    except images.ImageRejected as exc:
        _discard_incoming(media, storage)
        raise ApiError(exc.code, errors={"file": [exc.detail]}, **exc.params) from None
    _store_clean(media, clean, storage)
    _discard_incoming(media, storage)
    media.upload_key = None
    media.upload_expires_at = None
    db.session.flush()
    schedule_thumbnail(media, storage)
    return media


def receive_local_upload(storage: LocalStorage, form: dict[str, str], data: bytes) -> str:
    """Local-disk storage: take a file posted with an upload ticket, as S3 takes a presigned POST."""
    try:
        with storage_errors():
            return storage.accept_upload(form, data)
    except UploadRefused as refused:
        if refused.code == "payload_too_large":
            raise too_large() from None
        raise ApiError(refused.code, errors={"file": [refused.code]}) from None


def delete_own(owner: User, media_id: uuid.UUID, storage: Storage) -> None:
    """The uploader takes back a photo not yet attached to anything."""
    media = get_own(owner, media_id, lock=True)
    if media.is_attached:
        raise ApiError("media_already_attached")
    with storage_errors():
        for key in media.keys:
            storage.delete(key)
    db.session.delete(media)


# ----------------------------------------------------------------------------------------------------
# Attaching photos to records (called by other domains)
# ----------------------------------------------------------------------------------------------------


def attach(
    media_ids: Iterable[uuid.UUID],
    owner: User,
    record_type: str,
    record_id: uuid.UUID,
    *,
    max_count: int = DEFAULT_MAX_ATTACHED,
    field: str = "media_ids",
) -> list[Media]:
    """Attach the owner's ready photos to a record, in the order given; returns them in that order.

    Every photo must exist, be `owner`'s, be ready and not be attached to another record; the record ends
    up with at most `max_count` photos. Attaching a photo again to the same record changes nothing (a
    retried request). Errors name `field`, so the domain's request field is the one reported.
    """
    if record_type not in _visibility:
        raise ValueError(f"register_media_visibility({record_type!r}, ...) before attaching photos to it")
    ids = list(dict.fromkeys(media_ids))
    rows = {
        m.id: m
        for m in db.session.scalars(select(Media).where(Media.id.in_(ids)).order_by(Media.id).with_for_update(of=Media))
    }
    missing = [i for i in ids if i not in rows or rows[i].owner_id != owner.id]
    if missing:
        raise ApiError("media_not_available", errors={field: [f"{i}: no such photo of yours" for i in missing]})
    not_ready = [i for i in ids if rows[i].status != MediaStatus.READY]
    if not_ready:
        raise ApiError("media_not_ready", errors={field: [f"{i}: not uploaded completely" for i in not_ready]})
    elsewhere = [
        i for i in ids if rows[i].is_attached and (rows[i].record_type, rows[i].record_id) != (record_type, record_id)
    ]
    if elsewhere:
        problems = [f"{i}: attached to another record" for i in elsewhere]
        raise ApiError("media_already_attached", errors={field: problems})
    already = db.session.scalar(
        select(func.count())
        .select_from(Media)
        .where(Media.record_type == record_type, Media.record_id == record_id, Media.id.not_in(ids))
    )
    new = [rows[i] for i in ids if not rows[i].is_attached]
    if (already or 0) + len(ids) > max_count:
        raise ApiError("media_too_many", errors={field: [f"at most {max_count}"]}, limit=max_count)
    position = db.session.scalar(
        select(func.coalesce(func.max(Media.position), -1)).where(
            Media.record_type == record_type, Media.record_id == record_id
        )
    )
    now = utcnow()
    for media in new:
        position += 1
        media.record_type = record_type
        media.record_id = record_id
        media.attached_at = now
        media.position = position
    db.session.flush()
    return [rows[i] for i in ids]


def photos_of(record_type: str, record_id: uuid.UUID) -> list[Media]:
    """The photos attached to a record, in their order (the caller checked the viewer may see the record)."""
    return photos_of_kinds((record_type,), record_id)[record_type]


# Built once, with bound parameters (see `api.auth._auth_statement`): every case, aid or party page opened runs it.
_PHOTOS_OF_KINDS = (
    select(Media)
    .where(Media.record_type.in_(bindparam("kinds", expanding=True)), Media.record_id == bindparam("record_id"))
    .order_by(Media.position, Media.id)
)


def photos_of_kinds(record_types: tuple[str, ...], record_id: uuid.UUID) -> dict[str, list[Media]]:
    """`photos_of` for several kinds of photo of one record (a case's report and its result), in one statement."""
    found: dict[str, list[Media]] = {kind: [] for kind in record_types}
    for media in db.session.scalars(_PHOTOS_OF_KINDS, {"kinds": list(record_types), "record_id": record_id}):
        found[media.record_type].append(media)
    return found


def preload_photos(records: Iterable[Any], record_types: tuple[str, ...]) -> None:
    """The photos of these kinds of a page of records, in one statement, hung on each record for its schema to
    read (`photos_on`): a list shows each record's photos, which would otherwise cost a statement per record and
    kind."""
    records = [r for r in records if r is not None]
    if not records:
        return
    found: dict[tuple[str, uuid.UUID], list[Media]] = {}
    stmt = (
        select(Media)
        .where(Media.record_type.in_(record_types), dialect.among(Media.record_id, [r.id for r in records]))
        .order_by(Media.position, Media.id)
    )
    for media in db.session.scalars(stmt):
        found.setdefault((media.record_type, media.record_id), []).append(media)
    for record in records:
        record.preloaded_photos = {kind: found.get((kind, record.id), []) for kind in record_types}


def photos_on(record: Any, record_type: str) -> list[Media]:
    """A record's photos of one kind: those its page loaded (`preload_photos`), or read now."""
    preloaded = getattr(record, "preloaded_photos", None)
    if preloaded is not None and record_type in preloaded:
        return preloaded[record_type]
    return photos_of(record_type, record.id)


def release(record_type: str, record_id: uuid.UUID) -> int:
    """Detach a record's photos (the record is deleted): they go back to their uploaders and are purged
    at the next run of `purge_unattached` once they are a day old."""
    count = 0
    for media in photos_of(record_type, record_id):
        media.record_type = None
        media.record_id = None
        media.attached_at = None
        media.position = None
        count += 1
    db.session.flush()
    return count


# ----------------------------------------------------------------------------------------------------
# Thumbnails
# ----------------------------------------------------------------------------------------------------


def make_thumbnail(media_id: uuid.UUID, storage: Storage) -> bool:
    """Make the photo's thumbnail if it has none; True when one was made."""
    media = db.session.get(Media, media_id)
    if media is None or media.status != MediaStatus.READY or not media.object_key or media.thumbnail_key:
        return False
    data = storage.read(media.object_key, max_bytes=MAX_STORED_BYTES)
    if data is None:
        log.warning("media %s has no stored object %s", media.id, media.object_key)
        return False
    key = thumbnail_key(media.id)
    storage.put(key, images.thumbnail(data), images.JPEG.content_type)
    media.thumbnail_key = key
    return True


def schedule_thumbnail(media: Media, storage: Storage) -> None:
    """Have a worker make the thumbnail once this unit of work commits. When tasks run eagerly (the
    embedded default) it is made at once, in this unit of work; a failure then is left to the sweep."""
    if celery.conf.task_always_eager:
        try:
            make_thumbnail(media.id, storage)
        except Exception:
            log.exception("thumbnail of media %s failed; the sweep will try again", media.id)
        return
    after_commit(THUMBNAIL_TASK, str(media.id))


def sweep_thumbnails(now: datetime | None = None, *, limit: int = 500) -> int:
    """Hand over again the thumbnails a lost task never made (ready for over two minutes, none yet)."""
    now = now or utcnow()
    ids = db.session.scalars(
        select(Media.id)
        .where(
            Media.status == MediaStatus.READY,
            Media.thumbnail_key.is_(None),
            Media.object_key.is_not(None),
            Media.created_at < now - timedelta(minutes=2),
            Media.created_at > now - timedelta(days=2),
        )
        .limit(limit)
    ).all()
    for media_id in ids:
        enqueue(THUMBNAIL_TASK, str(media_id))
    return len(ids)


# ----------------------------------------------------------------------------------------------------
# Cleaning up
# ----------------------------------------------------------------------------------------------------


def purge_unattached(
    storage: Storage, now: datetime | None = None, *, older_than: timedelta = UNATTACHED_TTL, batch: int = PURGE_BATCH
) -> dict[str, int]:
    """Delete uploads never attached to a record within `older_than` (tickets never used included): their
    storage objects, then their rows. A row whose objects cannot be deleted now is kept for the next run.
    Rows being attached at this moment are skipped (locked), and attached ones never match."""
    cutoff = (now or utcnow()) - older_than
    stmt = (
        select(Media)
        .where(Media.record_id.is_(None), Media.created_at < cutoff)
        .order_by(Media.created_at)
        .limit(batch)
        .with_for_update(skip_locked=True, of=Media)
    )
    removed = objects = kept = 0
    for media in db.session.scalars(stmt).all():
        try:
            for key in media.keys:
                storage.delete(key)
                objects += 1
        except StorageError:
            log.warning("could not delete the objects of media %s; next run", media.id, exc_info=True)
            kept += 1
            continue
        db.session.delete(media)
        removed += 1
    db.session.flush()
    return {"media": removed, "objects": objects, "kept": kept}
