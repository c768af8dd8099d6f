"""Fixed-window rate limits on the shared store; exceeding one is a 429 with `Retry-After`."""

from __future__ import annotations

from api.errors import ApiError
from api.extensions import store


def enforce(bucket: str, identity: str, *, limit: int, window_seconds: int = 60) -> None:
    count, retry_after = store.hit(f"{bucket}:{identity}", window_seconds)
    if count > limit:
        raise ApiError("too_many_requests", headers={"Retry-After": str(retry_after)}, retry_after=retry_after)
