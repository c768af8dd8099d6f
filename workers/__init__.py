"""The Celery application, bound to the Flask app and its configuration.

`celery -A workers worker` and `celery -A workers beat` start the worker and the scheduler; they read
the same environment variables as the web app (REDIS_URL is the broker). The Flask app is built on
first access of `workers.app`, so importing `workers.schedule` or `workers.tasks` stays cheap.
"""

from __future__ import annotations

from typing import Any

_celery: Any = None


def __getattr__(name: str) -> Any:
    global _celery
    if name in {"app", "celery"}:
        if _celery is None:
            from api import create_app, settle_heap

            _celery = create_app().extensions["celery"]
            settle_heap()
        return _celery
    raise AttributeError(name)
