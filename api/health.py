"""Liveness and readiness probes for the orchestrator (not part of the public API document)."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, current_app
from sqlalchemy import text

from api.db import db
from api.errors import error_response

blp = Blueprint("health", __name__)


@blp.get("/healthz")
def healthz() -> Any:
    """The process answers. Deliberately touches nothing else."""
    return {"status": "ok"}


@blp.get("/readyz")
def readyz() -> Any:
    """Ready to serve: the database answers and, when configured, the broker too."""
    checks: dict[str, str] = {}
    try:
        db.session.execute(text("SELECT 1"))
        checks["database"] = "ok"
    except Exception as exc:
        checks["database"] = f"error: {type(exc).__name__}"
    settings = current_app.extensions["linli.settings"]
    if settings.redis_url:
        try:
            import redis

            redis.Redis.from_url(settings.redis_url, socket_connect_timeout=2, socket_timeout=2).ping()
            checks["broker"] = "ok"
        except Exception as exc:
            checks["broker"] = f"error: {type(exc).__name__}"
    else:
        checks["broker"] = "eager (no broker configured)"
    failing = {name: [state] for name, state in checks.items() if state.startswith("error")}
    if failing:
        return error_response("service_unavailable", errors=failing)
    return {"status": "ok", "checks": checks}
