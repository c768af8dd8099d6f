"""Periodic housekeeping of accounts: expired refresh tokens and idempotency keys."""

from __future__ import annotations

from api.accounts.services import purge_expired_refresh_tokens
from api.extensions import celery
from api.idempotency import purge_expired


@celery.task(name="accounts.purge_expired_credentials")
def purge_expired_credentials() -> dict[str, int]:
    """Delete refresh tokens and idempotency keys past their expiry; returns what was removed."""
    return {"refresh_tokens": purge_expired_refresh_tokens(), "idempotency_keys": purge_expired()}


@celery.task(name="linli.ping")
def ping() -> str:
    return "pong"
