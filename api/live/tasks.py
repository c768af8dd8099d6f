"""Periodic jobs of live streams: end the sessions whose stream server never said they ended."""

from __future__ import annotations

from api.db import utcnow
from api.extensions import celery, get_settings
from api.live import services


@celery.task(name="live.end_abandoned", ignore_result=True)
def end_abandoned() -> int:
    """Sessions still live long after their event ended are ended (or their replay shown)."""
    return services.end_abandoned(get_settings().live_abandoned_after_seconds, utcnow())
