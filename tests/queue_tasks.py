"""A task that stands for minutes of bulk work (an export, a reconciliation), loaded only by the workers of
`tests/test_queues_worker.py` (`--include tests.queue_tasks`). It marks in Redis that it started, then holds
its worker for up to `seconds`, or until the test sets the release key."""

from __future__ import annotations

import time

import redis

from api.extensions import celery

HOLD_TASK = "tests.hold_bulk"


@celery.task(name=HOLD_TASK, ignore_result=True)
def hold_bulk(broker_url: str, key: str, seconds: float) -> str:
    client = redis.Redis.from_url(broker_url)
    try:
        client.set(f"{key}:started", "1", ex=3600)
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline:
            if client.get(f"{key}:release"):
                return "released"
            time.sleep(0.2)
        return "done"
    finally:
        client.set(f"{key}:finished", "1", ex=3600)
        client.close()
