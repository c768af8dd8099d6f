"""`Idempotency-Key` for creating POSTs: a retry over a weak mobile network returns the first result.

The key is scoped per user and kept 24 h. The first request inserts its key row inside its own
transaction; a concurrent duplicate blocks on the unique index until the first commits, then replays
the stored response. A failed first attempt rolls its key back with everything else, so the retry runs
afresh. The same key with a different body is a 422, never a silent replay of something else.

A view may commit its work before its answer is stored (a booking gives the event's lock back at once); if the
request then dies (its connection cut, its worker killed), the key is committed with no answer. A retry waits
a moment for one, then runs the view again, which finds what the first attempt made (the booking it took).
"""

from __future__ import annotations

import contextlib
import functools
import hashlib
import json
import time
import uuid
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any, TypeVar

from flask import Response, current_app, request
from sqlalchemy import ForeignKey, String, Text, UniqueConstraint, delete, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Mapped, mapped_column

from api.auth import authenticate
from api.db import Base, IdMixin, db, utcnow
from api.errors import ApiError

HEADER = "Idempotency-Key"
ANSWER_WAIT_SECONDS = 5.0
ANSWER_POLL_SECONDS = 0.02
F = TypeVar("F", bound=Callable[..., Any])


class IdempotencyKey(IdMixin, Base):
    __tablename__ = "idempotency_keys"
    __table_args__ = (UniqueConstraint("user_id", "key"),)

    user_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    key: Mapped[str] = mapped_column(String(128))
    method: Mapped[str] = mapped_column(String(8))
    path: Mapped[str] = mapped_column(String(255))
    request_hash: Mapped[str] = mapped_column(String(64))
    status_code: Mapped[int | None]
    response_body: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    expires_at: Mapped[datetime] = mapped_column(index=True)


def _request_fingerprint() -> str:
    digest = hashlib.sha256()
    digest.update(request.method.encode())
    digest.update(b"\0")
    digest.update(request.path.encode())
    digest.update(b"\0")
    body = request.get_data(cache=True)
    # Same JSON, different whitespace or key order: still the same request.
    with contextlib.suppress(ValueError, UnicodeDecodeError):
        body = json.dumps(json.loads(body), sort_keys=True, separators=(",", ":")).encode()
    digest.update(body)
    return digest.hexdigest()


def _finished(row: IdempotencyKey) -> IdempotencyKey | None:
    """The first request's row once it has stored its answer (or, after a wait, still without one); None if
    the key went away. A view may commit its work before the answer is written, so a duplicate can find the
    key committed and the answer not there yet: it waits a moment for it."""
    waited = 0.0
    while row.status_code is None and waited < ANSWER_WAIT_SECONDS:
        user_id, key = row.user_id, row.key
        db.session.rollback()  # a fresh snapshot (and nothing of ours is pending: we wrote nothing yet)
        time.sleep(ANSWER_POLL_SECONDS)
        waited += ANSWER_POLL_SECONDS
        found = db.session.scalar(
            select(IdempotencyKey).where(IdempotencyKey.user_id == user_id, IdempotencyKey.key == key)
        )
        if found is None:
            return None
        row = found
    return row


def _replay(row: IdempotencyKey, fingerprint: str, view: Callable[[], Any]) -> Response:
    if row.request_hash != fingerprint:
        raise ApiError("idempotency_key_mismatch", errors={HEADER: ["used with a different request"]})
    finished = _finished(row)
    if finished is None:
        raise ApiError("idempotency_key_in_use")
    if finished.status_code is None:
        # The first attempt committed its work and died before storing its answer: the view again finds it.
        response = current_app.make_response(view())
        _store(finished, response)
        return response
    response = current_app.response_class(
        finished.response_body, status=finished.status_code, mimetype="application/json"
    )
    response.headers["Idempotent-Replayed"] = "true"
    return response


def _store(row: IdempotencyKey, response: Response) -> None:
    if response.status_code < 400:
        row.status_code = response.status_code
        row.response_body = response.get_data(as_text=True)
        response.headers["Idempotent-Replayed"] = "false"


def idempotent(func: F) -> F:
    """Honour `Idempotency-Key` on this view. Place it under `@blp.route` and above the rest."""

    @functools.wraps(func)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        key = request.headers.get(HEADER)
        if key is None:
            return func(*args, **kwargs)
        key = key.strip()
        if not key or len(key) > 128:
            raise ApiError("validation_failed", errors={HEADER: ["must be 1–128 characters"]})
        user = authenticate()
        fingerprint = _request_fingerprint()
        session = db.session

        def view() -> Any:
            return func(*args, **kwargs)

        now = utcnow()
        existing = session.scalar(
            select(IdempotencyKey).where(IdempotencyKey.user_id == user.id, IdempotencyKey.key == key)
        )
        if existing is not None and existing.expires_at > now:
            return _replay(existing, fingerprint, view)
        if existing is not None:
            session.delete(existing)
            session.flush()
        row = IdempotencyKey(
            user_id=user.id,
            key=key,
            method=request.method,
            path=request.path[:255],
            request_hash=fingerprint,
            expires_at=now + timedelta(seconds=current_app.config["IDEMPOTENCY_TTL_SECONDS"]),
        )
        session.add(row)
        try:
            session.flush()
        except IntegrityError:
            # Another request with this key committed first (we waited for it on the unique index).
            session.rollback()
            winner = session.scalar(
                select(IdempotencyKey).where(IdempotencyKey.user_id == user.id, IdempotencyKey.key == key)
            )
            if winner is None:
                raise ApiError("idempotency_key_in_use") from None
            return _replay(winner, fingerprint, view)

        response = current_app.make_response(view())
        _store(row, response)
        return response

    apidoc = getattr(wrapper, "_apidoc", {})
    parameters = apidoc.setdefault("manual_doc", {}).setdefault("parameters", [])
    parameters.append(
        {
            "in": "header",
            "name": HEADER,
            "required": False,
            "schema": {"type": "string", "maxLength": 128},
            "description": "Retry-safe key (per user, 24 h): a retry returns the first response.",
        }
    )
    wrapper._apidoc = apidoc  # type: ignore[attr-defined]
    return wrapper  # type: ignore[return-value]


def purge_expired(now: datetime | None = None) -> int:
    result = db.session.execute(delete(IdempotencyKey).where(IdempotencyKey.expires_at <= (now or utcnow())))
    return result.rowcount or 0
