"""Fixed-window rate limits on the shared store; exceeding one is a 429 with `Retry-After`.

While the store (Redis) is down, requests are let through: a limit guards against abuse over minutes,
and refusing every resident's login for the seconds of an outage would be the worse failure.
"""

from __future__ import annotations

import logging

from api.cache import StoreUnavailable
from api.errors import ApiError
from api.extensions import store

log = logging.getLogger(__name__)


def enforce(bucket: str, identity: str, *, limit: int, window_seconds: int = 60) -> None:
    try:
        count, retry_after = store.hit(f"{bucket}:{identity}", window_seconds)
    except StoreUnavailable:
        log.warning("rate limit %s not counted: the store is unavailable", bucket)
        return
    if count > limit:
        raise ApiError("too_many_requests", headers={"Retry-After": str(retry_after)}, retry_after=retry_after)
