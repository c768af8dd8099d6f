"""Handing work to the Celery workers: the one way a service sends a task.

`after_commit(task_name, *args)` sends the task once the current unit of work commits, and never if it
rolls back (as pretix's `TransactionAwareTask`): a worker must not look for a row that is not there yet,
or act on one that was never written. `enqueue(task_name, *args)` sends it now. Tasks are named, not
imported, so a service never imports its own tasks module back.

A broker that does not answer is logged, not raised: every kind of work sent here has a periodic sweep
that finds what was never handed over (the outbox, thumbnails), so a Redis outage delays it and loses
nothing. Many tasks from one commit (an alarm storm, an event cancelled) go through one producer, and
after the first refusal the rest are left to the sweeps rather than each waiting on a dead broker; more than
`FAN_OUT_AT` of one kind go as one `fan_out` task that a worker splits, on their own queue.

Which queue a task goes to is decided here, in `ROUTES`, and nowhere else: an alarm never waits behind bulk
work. `alerts` (alarm ingestion follow-ups, escalation, the delivery of alarm messages) has workers of its own,
whose threads take one message at a time each and acknowledge it only once done; `notifications` (every other
message), `default` (short domain jobs) and `bulk` (exports, imports, reconciliation, thumbnails, retention:
minutes of work each) share the others. A task not named here goes to `default`.
"""

from __future__ import annotations

import logging
from typing import Any

from flask import g, has_request_context
from sqlalchemy import event
from sqlalchemy.orm import Session

from api.db import db
from api.extensions import celery

log = logging.getLogger(__name__)

ALERTS, NOTIFICATIONS, DEFAULT, BULK = "alerts", "notifications", "default", "bulk"
QUEUES = (ALERTS, NOTIFICATIONS, DEFAULT, BULK)
# Task name (or "domain.*" for a whole domain) → queue. An exact name wins over its domain's pattern.
ROUTES: dict[str, str] = {
    "alerts.*": ALERTS,
    "alerts.forget_old_batch_receipts": BULK,
    "notifications.*": NOTIFICATIONS,
    "notifications.deliver_alarm": ALERTS,
    "notifications.sweep_alarms": ALERTS,
    "care.welfare_escalate": ALERTS,  # an elder nobody found at home, the family silent: staff must hear at once
    "accounts.purge_expired_credentials": BULK,
    "media.make_thumbnail": BULK,
    "media.sweep_thumbnails": BULK,
    "media.purge_unattached": BULK,
    "parking.reconcile_allowlists": BULK,
    "parking.forget_old_receipts": BULK,
    "party.report_hours": BULK,
    "payments.reconcile": BULK,
    "privacy.build_export": BULK,
    "privacy.erase_due": BULK,
    "privacy.apply_retention": BULK,
}


FAN_OUT = "jobs.fan_out"
# More tasks of one name from one commit than this go as one `fan_out` task: handing a task to the broker costs
# about a millisecond, so an alarm storm's thousand messages held its request a second after the commit.
FAN_OUT_AT = 20


def queue_of(task_name: str) -> str:
    """The queue `task_name` is sent to (`ROUTES`)."""
    return ROUTES.get(task_name) or ROUTES.get(task_name.split(".", 1)[0] + ".*") or DEFAULT


def route_task(name: str, args: Any, kwargs: Any, options: Any, task: Any = None, **_kw: Any) -> dict[str, str]:
    """Celery's `task_routes` router: every task sent (by a service, the sweeps or beat) goes by `ROUTES`; a
    `fan_out` goes where the tasks it carries go."""
    return {"queue": queue_of(args[0] if name == FAN_OUT and args else name)}


_PENDING = "linli.jobs"
# One immediate reconnect (a pooled connection the broker dropped since), then give up. Not `retry=False`:
# kombu then reconnects on its own terms (broker_connection_timeout 4 s, pauses of 2 and 4 s), holding every
# hand-over ~6 s while the broker is down — a commit handing over N tasks would wait 6·N s.
_RETRY_POLICY = {"max_retries": 1, "interval_start": 0, "interval_step": 0, "interval_max": 0}


def enqueue(task_name: str, *args: Any, countdown: float | None = None, producer: Any = None) -> bool:
    """Send `task_name(*args)` now; False (and logged) when the broker did not take it."""
    task = celery.tasks[task_name]
    try:
        task.apply_async(
            args=list(args), countdown=countdown, retry=True, retry_policy=_RETRY_POLICY, producer=producer
        )
    except Exception:
        log.warning("could not enqueue %s%r; its sweep will hand it over", task_name, args, exc_info=True)
        return False
    return True


def after_commit(task_name: str, *args: Any, session: Session | None = None) -> None:
    """Send `task_name(*args)` once the unit of work of `session` (the request's by default) commits."""
    (session or db.session).info.setdefault(_PENDING, []).append((task_name, args))


def waiting_for_commit(session: Session | None = None) -> bool:
    """Whether tasks wait for this unit of work (the request's by default) to commit."""
    return bool((session or db.session).info.get(_PENDING))


def forget_pending(session: Session | None = None) -> list[tuple[str, tuple[Any, ...]]]:
    """Drop the tasks waiting for this unit of work to commit (as if the broker had lost them); returns them.
    For tests and tools that commit outside a request and read the outbox themselves."""
    return (session or db.session).info.pop(_PENDING, [])


def run_eager_after_request() -> None:
    """Run the tasks a request's commit handed over while tasks run eagerly (the embedded default): after
    the unit of work, not inside its commit, so they can use the session themselves. A task that fails is
    logged; what it wrote is rolled back, and the answer the person already has stands."""
    jobs = g.pop("_linli_eager_jobs", [])
    for task_name, args in jobs:
        try:
            celery.tasks[task_name].apply(args=list(args), throw=True)
            db.session.commit()
        except Exception:
            db.session.rollback()
            log.exception("eager task %s%r failed", task_name, args)


@event.listens_for(Session, "after_commit")
def _send_committed(session: Session) -> None:
    jobs = session.info.pop(_PENDING, [])
    if jobs and celery.conf.task_always_eager and has_request_context() and session is db.session():
        g.setdefault("_linli_eager_jobs", []).extend(jobs)
        return
    if len(jobs) <= 1 or celery.conf.task_always_eager:
        for task_name, args in jobs:
            enqueue(task_name, *args)
        return
    _send_all(_fanned_out(jobs))


def _send_all(jobs: list[tuple[str, tuple[Any, ...]]]) -> None:
    handled = 0  # sent, or refused and logged by `enqueue`
    try:
        with celery.producer_or_acquire() as producer:
            for task_name, args in jobs:
                handled += 1
                if not enqueue(task_name, *args, producer=producer):
                    break
    except Exception:
        log.debug("the broker connection failed while enqueueing", exc_info=True)
    for task_name, args in jobs[handled:]:
        log.warning("could not enqueue %s%r; its sweep will hand it over", task_name, args)


def _fanned_out(jobs: list[tuple[str, tuple[Any, ...]]]) -> list[tuple[str, tuple[Any, ...]]]:
    by_name: dict[str, list[tuple[Any, ...]]] = {}
    for task_name, args in jobs:
        by_name.setdefault(task_name, []).append(args)
    out: list[tuple[str, tuple[Any, ...]]] = []
    for task_name, calls in by_name.items():
        if len(calls) > FAN_OUT_AT:
            out.append((FAN_OUT, (task_name, [list(args) for args in calls])))
        else:
            out.extend((task_name, args) for args in calls)
    return out


@celery.task(name=FAN_OUT, ignore_result=True, acks_late=True, reject_on_worker_lost=True)
def fan_out(task_name: str, calls: list[list[Any]]) -> int:
    """Send `task_name(*args)` for each of `calls`, from a worker on the tasks' own queue (an alarm's fan-out
    waits behind no bulk work). Acknowledged once all are sent: a worker lost half-way has the whole list sent
    again, which the tasks allow — each is idempotent, as every task sent through `after_commit` must be."""
    _send_all([(task_name, tuple(args)) for args in calls])
    return len(calls)


@event.listens_for(Session, "after_rollback")
def _forget_rolled_back(session: Session) -> None:
    session.info.pop(_PENDING, None)
