"""Signed calls from machines — the IoT platform's event batches, gate systems' decisions and passage records,
magnetometer frames: the signature (hex HMAC-SHA256 of `"<timestamp>.<raw body>"` with the caller's secret),
the timestamp window, and the replay guard. One implementation; each domain names its secrets, its error codes
and the table its receipts go into.

The replay guard is a row (platform, signature) inserted in the call's own transaction, not a mark in Redis: a
call whose processing fails leaves nothing behind and may be sent again as it was; a concurrent duplicate waits
on the primary key and then finds it taken; Redis being down loses nothing.
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import delete

from api import hygiene
from api.db import db
from api.dialect import insert_on_conflict
from api.errors import ApiError
from api.fields import parse_aware

PLATFORM_HEADER = "X-Linli-Platform"
TIMESTAMP_HEADER = "X-Linli-Timestamp"
SIGNATURE_HEADER = "X-Linli-Signature"


@dataclass(frozen=True)
class Codes:
    """The error codes a domain answers with (declared in its own errors.py)."""

    not_configured: str  # 503: no secret configured at all
    missing: str  # 401: a header is missing
    invalid: str  # 401: wrong signature or unknown platform
    stale: str  # 401: timestamp outside the window (takes `window`)
    replayed: str  # 409: this signature was taken before


def sign(secret: str, timestamp: int | str, body: bytes) -> str:
    """The signature a caller sends: hex HMAC-SHA256(secret, "<timestamp>.<raw body>")."""
    return hmac.new(secret.encode(), f"{timestamp}.".encode() + body, hashlib.sha256).hexdigest()


def signature_of(headers: Any) -> str:
    return (headers.get(SIGNATURE_HEADER) or "").strip().lower()


def verify(headers: Any, body: bytes, secrets: Mapping[str, str], window: int, now: datetime, codes: Codes) -> str:
    """The platform that signed this call, or the error to answer with. Checks, in order: configured,
    headers present, signature (constant-time), timestamp within ±`window` seconds. Whether it was seen
    before is `take_once`, in the call's transaction."""
    if not secrets:
        raise ApiError(codes.not_configured)
    platform = (headers.get(PLATFORM_HEADER) or "").strip()
    timestamp = (headers.get(TIMESTAMP_HEADER) or "").strip()
    signature = signature_of(headers)
    if not (platform and timestamp and signature):
        raise ApiError(codes.missing)
    secret = secrets.get(platform)
    # An unknown platform is compared against a throwaway secret, so its answer takes the same time.
    expected = sign(secret or "\x00unknown-platform", timestamp, body)
    if not hmac.compare_digest(expected, signature) or secret is None:
        raise ApiError(codes.invalid)
    try:
        stamp = int(timestamp)
    except ValueError as exc:
        raise ApiError(codes.stale, window=window) from exc
    if abs(now.timestamp() - stamp) > window:
        raise ApiError(codes.stale, window=window)
    return platform


def take_once(receipts: Any, platform: str, headers: Any, now: datetime, code: str) -> None:
    """The replay guard: insert (platform, signature) into the `receipts` table (columns platform, signature,
    received_at) in the call's transaction; `code` (409) when it was there already."""
    table = getattr(receipts, "__table__", receipts)
    taken = db.session.scalar(
        insert_on_conflict(table)
        .values(platform=platform, signature=signature_of(headers), received_at=now)
        .on_conflict_do_nothing(index_elements=[table.c.platform, table.c.signature])
        .returning(table.c.signature)
    )
    if taken is None:
        raise ApiError(code)


def forget_old(receipts: Any, window: int, now: datetime) -> int:
    """A signature is acceptable for at most 2·window seconds (timestamps ±window): older receipts can go."""
    table = getattr(receipts, "__table__", receipts)
    cutoff = now - timedelta(seconds=2 * window + 60)
    result = db.session.execute(delete(table).where(table.c.received_at < cutoff))
    return result.rowcount or 0


# ------------------------------------------------------------------------------------------------
# One item of a batch: nothing in an item can fail the batch, so each field says what is wrong with it
# ------------------------------------------------------------------------------------------------


def item_text(raw: dict[str, Any], key: str, limit: int, errors: dict[str, list[str]], required: bool = True) -> str:
    """A text field of an item, stripped; its problem (missing, control characters, too long) into `errors`."""
    value = raw.get(key)
    if value is None and not required:
        return ""
    if not isinstance(value, str) or (required and not value.strip()):
        errors[key] = ["required: a non-empty string"]
        return ""
    problem = hygiene.text_problem(value)
    if problem is not None:
        errors[key] = [hygiene.message(problem)]
    elif len(value) > limit:
        errors[key] = [f"at most {limit} characters"]
    return value.strip()


def item_time(
    raw: dict[str, Any], key: str, now: datetime, tolerance: timedelta, errors: dict[str, list[str]]
) -> datetime | None:
    """An ISO 8601 time with offset, in UTC; not further ahead of `now` than `tolerance` (device clocks drift)."""
    stamp = raw.get(key)
    if not isinstance(stamp, str):
        errors[key] = ["required: an ISO 8601 time with offset"]
        return None
    try:
        moment = parse_aware(stamp)
    except ValueError as exc:
        errors[key] = [str(exc)]
        return None
    if moment > now + tolerance:
        errors[key] = ["in the future"]
        return None
    return moment


def item_event_id(raw: Any) -> str | None:
    """The item's event id as the caller sent it, for its result — escaped where it cannot be written."""
    value = raw.get("event_id") if isinstance(raw, dict) else None
    if not isinstance(value, str):
        return None
    value = value[:64]
    return value if hygiene.text_problem(value) is None else value.encode("utf-8", "backslashreplace").decode()
