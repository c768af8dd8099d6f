"""A person's rights over their data, carried out across every domain through the domains' own hooks
(their manifests' `personal_data`, see `api.personaldata`):

- **Export**: one ZIP per request — a JSON document per domain and the person's photos — built by a
  worker, kept `DATA_EXPORT_TTL_DAYS`, handed out through short-lived signed URLs. One at a time.
- **Deletion**: a cooling-off period (`ACCOUNT_DELETION_COOLING_OFF_DAYS`) in which logging in again
  cancels it; then the erasure, domain by domain from the top floor down (accounts last: it deletes the
  user), each in its own transaction and recorded on the request, so an erasure killed half-way is
  finished by running it again. What must not be dropped silently (the only contact of an elder) blocks
  it, and staff are told.
- **Overview** (`/me/privacy`): the policy accepted, the consents and links each domain reports, and
  what kinds of data Linli holds.
- **The access log** as the person and as admins see it.
- **Retention**: what is kept only for a while is removed in batches (`SKIP LOCKED`) by a beat job.
"""

from __future__ import annotations

import io
import json
import logging
import uuid
import zipfile
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from flask import current_app
from sqlalchemy import Select, delete, or_, select, tuple_
from sqlalchemy.exc import IntegrityError

from api import platform, scope
from api.accounts.access import ELDER, USER
from api.accounts.models import AccessLog, Area, Role, User, UserRole
from api.config import Settings
from api.db import Base, db, utcnow
from api.errors import ApiError, NotFound
from api.jobs import after_commit
from api.media.storage import Storage
from api.notifications.services import notify
from api.personaldata import PersonalData, jsonable
from api.privacy.models import DataExport, DeletionRequest, DeletionStatus, ExportStatus

log = logging.getLogger(__name__)

BUILD_TASK = "privacy.build_export"
DOWNLOAD_TTL = timedelta(minutes=10)
MAX_PHOTO_BYTES = 16 * 1024 * 1024
ERASE_BATCH = 50
RETENTION_BATCH = 5000


def _hooks() -> list[tuple[str, PersonalData]]:
    """(domain, its personal-data hooks), lowest floor first."""
    return platform.personal_data(current_app.extensions["linli.domains"])


# ------------------------------------------------------------------------------------------------
# Export
# ------------------------------------------------------------------------------------------------


def request_export(user: User) -> DataExport:
    running = db.session.scalar(
        select(DataExport).where(
            DataExport.user_id == user.id, DataExport.status.in_((ExportStatus.QUEUED, ExportStatus.BUILDING))
        )
    )
    if running is not None:
        raise ApiError("export_running")
    export = DataExport(user_id=user.id, status=ExportStatus.QUEUED)
    db.session.add(export)
    try:
        with db.session.begin_nested():
            db.session.flush()
    except IntegrityError:  # a concurrent request of the same person won
        raise ApiError("export_running") from None
    after_commit(BUILD_TASK, str(export.id))
    return export


def _set_progress(export_id: uuid.UUID, **values: Any) -> None:
    """Progress in a transaction of its own, so the person polling sees it while the archive is built."""
    with db.new_session() as session, session.begin():
        session.execute(DataExport.__table__.update().where(DataExport.id == export_id).values(**values))


def build_export(export_id: uuid.UUID, storage: Storage, settings: Settings, now: datetime | None = None) -> None:
    """Build the archive of one export (the worker's task); a second run of a finished export does nothing."""
    export = db.session.get(DataExport, export_id)
    if export is None or export.status not in (ExportStatus.QUEUED, ExportStatus.BUILDING) or export.user_id is None:
        return
    user = db.session.get(User, export.user_id)
    if user is None:
        return
    _set_progress(export_id, status=ExportStatus.BUILDING.value, progress=1)
    hooks = _hooks()
    buffer = io.BytesIO()
    try:
        with zipfile.ZipFile(buffer, "w", compression=zipfile.ZIP_DEFLATED) as archive:
            for index, (name, hooks_of) in enumerate(hooks, start=1):
                document = {
                    "domain": name,
                    "categories": list(hooks_of.categories),
                    "data": jsonable(platform.resolve(hooks_of.export)(user)),
                }
                archive.writestr(f"{name}.json", json.dumps(document, ensure_ascii=False, indent=2))
                if hooks_of.photos:
                    for media in platform.resolve(hooks_of.photos)(user):
                        data = storage.read(media.object_key, max_bytes=MAX_PHOTO_BYTES) if media.object_key else None
                        if data is not None:
                            extension = media.content_type.rsplit("/", 1)[-1].replace("jpeg", "jpg")
                            archive.writestr(f"photos/{media.id}.{extension}", data)
                _set_progress(export_id, progress=min(95, int(90 * index / len(hooks))))
            archive.writestr("README.txt", _readme(user, now or utcnow()))
    except Exception:
        log.exception("the export %s failed", export_id)
        _set_progress(export_id, status=ExportStatus.FAILED.value, error="internal error", finished_at=utcnow())
        raise
    key = f"exports/{export_id}.zip"
    payload = buffer.getvalue()
    storage.put(key, payload, "application/zip")
    now = now or utcnow()
    export.status = ExportStatus.READY
    export.progress = 100
    export.object_key = key
    export.size_bytes = len(payload)
    export.finished_at = now
    export.expires_at = now + timedelta(days=settings.data_export_ttl_days)
    notify(
        user,
        "data_export_ready",
        {"export_id": export.id, "days": settings.data_export_ttl_days, "ready_at": now},
        subject_path=None,
        dedupe_key=f"data-export:{export.id}",
    )


def _readme(user: User, now: datetime) -> str:
    return (
        "邻里 Linli — 个人数据导出 / export of your personal data\n"
        f"生成时间 / made at: {now.isoformat()}\n"
        "每个 JSON 文件是一个业务领域保存的关于您的数据；photos/ 下是您上传的照片。\n"
        "Each JSON file is what one part of Linli holds about you; photos/ holds the photos you uploaded.\n"
    )


def export_of(user: User, export_id: uuid.UUID) -> DataExport:
    export = db.session.get(DataExport, export_id)
    if export is None or export.user_id != user.id:
        raise NotFound()
    return export


def download_url(export: DataExport, storage: Storage, now: datetime | None = None) -> str | None:
    if export.status != ExportStatus.READY or export.object_key is None:
        return None
    if export.expires_at is not None and export.expires_at <= (now or utcnow()):
        return None
    return storage.url(export.object_key, ttl=DOWNLOAD_TTL)


def expire_exports(storage: Storage, now: datetime | None = None) -> int:
    """Archives past their days are deleted (the row stays, as `expired`, without its object)."""
    now = now or utcnow()
    due = db.session.scalars(
        select(DataExport)
        .where(DataExport.status == ExportStatus.READY, DataExport.expires_at <= now)
        .limit(RETENTION_BATCH)
        .with_for_update(skip_locked=True, of=DataExport)
    ).all()
    for export in due:
        if export.object_key:
            storage.delete(export.object_key)
        export.status = ExportStatus.EXPIRED
        export.object_key = None
    db.session.flush()
    return len(due)


# ------------------------------------------------------------------------------------------------
# Deletion
# ------------------------------------------------------------------------------------------------


def blockers_of(user: User) -> list[dict[str, Any]]:
    found: list[dict[str, Any]] = []
    for _name, hooks in _hooks():
        if hooks.blockers:
            found += platform.resolve(hooks.blockers)(user)
    return found


def _tell_staff(blockers: list[dict[str, Any]], now: datetime) -> None:
    """Staff responsible for each blocked record hear of it (the committee's staff, or the admins); blockers
    only the person can settle (an unpaid order) tell nobody else."""
    for blocker in blockers:
        if not blocker.get("tell_staff"):
            continue
        path = blocker.get("area_path") or ""
        staff = _responsible_staff(path)
        for person in staff:
            notify(
                person,
                "deletion_blocked",
                {"elder_name": blocker.get("elder_name", "老人"), "elder_id": blocker.get("elder_id", ""), "at": now},
                subject_path=path or None,
            )


def _responsible_staff(path: str) -> list[User]:
    """Staff whose area contains `path` (the committee's, the subdistrict's), else the admins."""
    staff_roles = select(UserRole.user_id).where(UserRole.role.in_((Role.STAFF, Role.ADMIN)))
    areas = [p for p in _ancestors(path)]
    found = db.session.scalars(
        select(User)
        .join(Area, Area.id == User.staff_area_id)
        .where(User.is_active, User.id.in_(staff_roles), Area.path.in_(areas or [""]))
        .order_by(User.id)
    ).all()
    if found:
        return list(found)
    return list(
        db.session.scalars(
            select(User).where(User.is_active, User.id.in_(staff_roles.where(UserRole.role == Role.ADMIN)))
        )
    )


def _ancestors(path: str) -> list[str]:
    parts = [p for p in path.split("/") if p]
    return ["/" + "/".join(parts[: i + 1]) + "/" for i in range(len(parts))]


def open_deletion(user: User) -> DeletionRequest | None:
    return db.session.scalar(
        select(DeletionRequest).where(
            DeletionRequest.user_id == user.id,
            DeletionRequest.status.in_((DeletionStatus.WAITING, DeletionStatus.ERASING)),
        )
    )


def request_deletion(user: User, settings: Settings, now: datetime | None = None) -> DeletionRequest:
    """Start the cooling-off period; a second request changes nothing (409, the first stands)."""
    now = now or utcnow()
    existing = open_deletion(user)
    if existing is not None:
        raise ApiError("deletion_requested", due=existing.due_at.isoformat())
    blockers = blockers_of(user)
    if blockers:
        _tell_staff(blockers, now)
        reasons = [b["reason"] for b in blockers]
        # The staff's messages are kept although the request is refused: they must act on it.
        raise ApiError("deletion_blocked", reasons="；".join(reasons), errors={"account": reasons}, keep_changes=True)
    request = DeletionRequest(
        user_id=user.id,
        status=DeletionStatus.WAITING,
        requested_at=now,
        due_at=now + timedelta(days=settings.account_deletion_cooling_off_days),
    )
    db.session.add(request)
    try:
        with db.session.begin_nested():
            db.session.flush()
    except IntegrityError:
        raise ApiError("deletion_requested", due=request.due_at.isoformat()) from None
    return request


def cancel_deletion(user: User, now: datetime | None = None) -> DeletionRequest | None:
    """The person changed their mind (or logged in again) during the cooling-off period."""
    request = db.session.scalar(
        select(DeletionRequest)
        .where(DeletionRequest.user_id == user.id, DeletionRequest.status == DeletionStatus.WAITING)
        .with_for_update(of=DeletionRequest)
    )
    if request is None:
        return None
    request.status = DeletionStatus.CANCELLED
    request.cancelled_at = now or utcnow()
    db.session.flush()
    return request


def cancel_on_login(user: User, **_: Any) -> None:
    """Receiver of `accounts.logged_in`: logging in during the cooling-off period cancels the deletion."""
    cancel_deletion(user)


def erase_due(now: datetime | None = None, batch: int = ERASE_BATCH) -> int:
    """Erase every person whose cooling-off period is over (the beat job); returns how many finished."""
    now = now or utcnow()
    due = db.session.scalars(
        select(DeletionRequest.id)
        .where(
            or_(
                (DeletionRequest.status == DeletionStatus.WAITING) & (DeletionRequest.due_at <= now),
                DeletionRequest.status == DeletionStatus.ERASING,  # a run that died half-way
            )
        )
        .order_by(DeletionRequest.due_at)
        .limit(batch)
    ).all()
    db.session.commit()
    return sum(1 for request_id in due if erase(request_id, now))


def erase(request_id: uuid.UUID, now: datetime | None = None) -> bool:
    """Erase the person of one request, one domain per transaction, top floor first; True when done.

    Re-runnable: domains already erased (recorded on the request, in the same transaction as their
    erasure) are skipped, so a run killed half-way is finished by the next.
    """
    now = now or utcnow()
    request = db.session.scalar(
        select(DeletionRequest).where(DeletionRequest.id == request_id).with_for_update(skip_locked=True)
    )
    if request is None or request.status not in (DeletionStatus.WAITING, DeletionStatus.ERASING):
        db.session.rollback()
        return False
    user = db.session.get(User, request.user_id) if request.user_id else None
    if request.status == DeletionStatus.WAITING:
        blockers = blockers_of(user) if user is not None else []
        if blockers:
            request.status = DeletionStatus.BLOCKED
            request.blockers = [b["reason"] for b in blockers]
            _tell_staff(blockers, now)
            db.session.commit()
            return False
        request.status = DeletionStatus.ERASING
        request.started_at = now
    db.session.commit()
    for name, hooks in reversed(_hooks()):
        if name in (request.erased_domains or []) or user is None:
            continue
        db.session.scalar(select(DeletionRequest).where(DeletionRequest.id == request_id).with_for_update())
        platform.resolve(hooks.erase)(user)
        request.erased_domains = [*(request.erased_domains or []), name]
        db.session.commit()
    request = db.session.get(DeletionRequest, request_id, populate_existing=True)
    assert request is not None
    request.status = DeletionStatus.DONE
    request.completed_at = utcnow()
    request.user_id = None
    db.session.commit()
    return True


# ------------------------------------------------------------------------------------------------
# What a person sees of their privacy
# ------------------------------------------------------------------------------------------------


def overview(user: User, in_force: str | None) -> dict[str, Any]:
    consents: dict[str, Any] = {}
    categories: list[dict[str, Any]] = []
    for name, hooks in _hooks():
        categories.append({"domain": name, "categories": list(hooks.categories)})
        if hooks.summary:
            consents.update(platform.resolve(hooks.summary)(user))
    deletion = open_deletion(user)
    return {
        "policy": {
            "in_force": in_force,
            "accepted": user.policy_version,
            "accepted_at": user.policy_accepted_at,
        },
        "consents": jsonable(consents),
        "data_held": categories,
        "deletion": deletion,
    }


# ------------------------------------------------------------------------------------------------
# The access log
# ------------------------------------------------------------------------------------------------


def subjects_of(user: User) -> list[tuple[str, uuid.UUID]]:
    subjects: list[tuple[str, uuid.UUID]] = [(USER, user.id)]
    for _name, hooks in _hooks():
        if hooks.subjects:
            subjects += platform.resolve(hooks.subjects)(user)
    return subjects


def my_access_log(user: User) -> Select[tuple[AccessLog]]:
    """Staff reads of my data and of the elders I look after (who at the street: role and committee)."""
    subjects = subjects_of(user)
    return select(AccessLog).where(tuple_(AccessLog.subject_kind, AccessLog.subject_id).in_(subjects))


@dataclass
class AccessLogFilters:
    subject_kind: str | None = None
    subject_id: uuid.UUID | None = None
    staff_id: uuid.UUID | None = None
    since: datetime | None = None
    until: datetime | None = None


def access_log(staff: User, filters: AccessLogFilters) -> Select[tuple[AccessLog]]:
    """The log as an admin reads it. Other staff read only the trail on an elder of their own area (the
    subject must be named, and in scope: else 404, so ids cannot be probed)."""
    stmt = select(AccessLog)
    named_in_area = (
        filters.subject_kind == ELDER and filters.subject_id is not None and _elder_in_area(staff, filters.subject_id)
    )
    if not staff.has_role(Role.ADMIN) and not named_in_area:
        raise NotFound()
    if filters.subject_kind is not None:
        stmt = stmt.where(AccessLog.subject_kind == filters.subject_kind)
    if filters.subject_id is not None:
        stmt = stmt.where(AccessLog.subject_id == filters.subject_id)
    if filters.staff_id is not None:
        stmt = stmt.where(AccessLog.staff_id == filters.staff_id)
    if filters.since is not None:
        stmt = stmt.where(AccessLog.at >= filters.since)
    if filters.until is not None:
        stmt = stmt.where(AccessLog.at < filters.until)
    return stmt


def _elder_in_area(staff: User, elder_id: uuid.UUID) -> bool:
    from api.eldercare.models import Elder

    elder = db.session.get(Elder, elder_id)
    return elder is not None and scope.sees(staff, elder.area_path)


# ------------------------------------------------------------------------------------------------
# Retention
# ------------------------------------------------------------------------------------------------


def _rules(settings: Settings) -> list[tuple[str, str, int]]:
    """(table, time column, days kept) of what is kept only for a while."""
    return [
        ("iot_events", "received_at", settings.retention_iot_events_days),
        ("delivery_attempts", "attempted_at", settings.retention_delivery_attempts_days),
        ("access_log", "at", settings.retention_access_log_days),
    ]


def apply_retention(settings: Settings, storage: Storage, now: datetime | None = None) -> dict[str, int]:
    """Remove what is past its retention, batch by batch (each its own transaction, rows locked `SKIP
    LOCKED` so two runs share the work); returns how many rows of each kind went."""
    now = now or utcnow()
    removed: dict[str, int] = {}
    for table_name, column_name, days in _rules(settings):
        table = Base.metadata.tables[table_name]
        column = table.c[column_name]
        cutoff = now - timedelta(days=days)
        total = 0
        while True:
            ids = select(table.c.id).where(column < cutoff).limit(RETENTION_BATCH)
            if db.dialect == "postgresql":
                ids = ids.with_for_update(skip_locked=True)
            gone = db.session.execute(delete(table).where(table.c.id.in_(ids.scalar_subquery()))).rowcount or 0
            db.session.commit()
            total += gone
            if gone < RETENTION_BATCH:
                break
        removed[table_name] = total
    removed["data_exports"] = expire_exports(storage, now)
    db.session.commit()
    log.info("retention removed %s", removed)
    return removed
