"""A small shared store for counters and one-time markers (rate limits, used WeChat codes, ended
sessions).

Redis when `REDIS_URL` is set, so every gunicorn worker and every host share one view; an in-process
dictionary on the embedded default, which runs a single process. When Redis cannot be reached, every
method raises `StoreUnavailable`: each caller decides which side it fails to (a rate limit lets the
request through, the ended-session check asks the database, logging out answers 503), and anything
that escapes is a 503, never a 500.
"""

from __future__ import annotations

import functools
import threading
import time
from collections.abc import Callable
from typing import Any, Protocol, TypeVar

F = TypeVar("F", bound=Callable[..., Any])


class StoreUnavailable(Exception):
    """The shared store (Redis) did not answer."""


def _unavailable_as_store_error(method: F) -> F:
    @functools.wraps(method)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        import redis

        try:
            return method(*args, **kwargs)
        except (redis.ConnectionError, redis.TimeoutError) as exc:
            raise StoreUnavailable(str(exc)) from exc

    return wrapper  # type: ignore[return-value]


class Store(Protocol):
    @_unavailable_as_store_error
    def hit(self, key: str, window_seconds: int) -> tuple[int, int]:
        """Count one hit in the current window; return (hits so far, seconds until the window ends)."""

    @_unavailable_as_store_error
    def add_once(self, key: str, ttl_seconds: int) -> bool:
        """Mark `key` for `ttl_seconds`; False when it was already marked."""

    @_unavailable_as_store_error
    def mark(self, key: str, ttl_seconds: int) -> None:
        """Mark `key` for `ttl_seconds` from now, whether or not it was marked."""

    @_unavailable_as_store_error
    def release(self, key: str) -> None:
        """Forget a mark made by `add_once`."""

    @_unavailable_as_store_error
    def marked(self, key: str) -> bool:
        """Whether `add_once` marked `key` and the mark has not expired."""

    def ping(self) -> bool: ...


class MemoryStore:
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._values: dict[str, tuple[int, float]] = {}

    def _sweep(self, now: float) -> None:
        if len(self._values) > 10_000:
            self._values = {k: v for k, v in self._values.items() if v[1] > now}

    def hit(self, key: str, window_seconds: int) -> tuple[int, int]:
        now = time.monotonic()
        with self._lock:
            self._sweep(now)
            count, expires = self._values.get(key, (0, 0.0))
            if expires <= now:
                count, expires = 0, now + window_seconds
            count += 1
            self._values[key] = (count, expires)
            return count, max(1, int(expires - now))

    def add_once(self, key: str, ttl_seconds: int) -> bool:
        now = time.monotonic()
        with self._lock:
            self._sweep(now)
            current = self._values.get(key)
            if current and current[1] > now:
                return False
            self._values[key] = (1, now + ttl_seconds)
            return True

    def mark(self, key: str, ttl_seconds: int) -> None:
        with self._lock:
            self._values[key] = (1, time.monotonic() + ttl_seconds)

    def release(self, key: str) -> None:
        with self._lock:
            self._values.pop(key, None)

    def marked(self, key: str) -> bool:
        with self._lock:
            current = self._values.get(key)
            return current is not None and current[1] > time.monotonic()

    def ping(self) -> bool:
        return True


class RedisStore:
    def __init__(self, url: str, prefix: str = "linli:") -> None:
        import redis

        # A dead Redis must cost a request a fraction of a second before the caller fails over, not seconds.
        self.client = redis.Redis.from_url(url, socket_timeout=1, socket_connect_timeout=0.5)
        self.prefix = prefix

    @_unavailable_as_store_error
    def hit(self, key: str, window_seconds: int) -> tuple[int, int]:
        full = self.prefix + "rl:" + key
        pipe = self.client.pipeline()
        pipe.incr(full)
        pipe.expire(full, window_seconds, nx=True)
        pipe.ttl(full)
        count, _, ttl = pipe.execute()
        return int(count), max(1, int(ttl))

    @_unavailable_as_store_error
    def add_once(self, key: str, ttl_seconds: int) -> bool:
        return bool(self.client.set(self.prefix + "once:" + key, b"1", nx=True, ex=ttl_seconds))

    @_unavailable_as_store_error
    def mark(self, key: str, ttl_seconds: int) -> None:
        self.client.set(self.prefix + "once:" + key, b"1", ex=ttl_seconds)

    @_unavailable_as_store_error
    def release(self, key: str) -> None:
        self.client.delete(self.prefix + "once:" + key)

    @_unavailable_as_store_error
    def marked(self, key: str) -> bool:
        return bool(self.client.exists(self.prefix + "once:" + key))

    @_unavailable_as_store_error
    def ping(self) -> bool:
        return bool(self.client.ping())


def make_store(redis_url: str, prefix: str = "linli:") -> Store:
    return RedisStore(redis_url, prefix) if redis_url else MemoryStore()
