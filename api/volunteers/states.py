"""The one state machine of tasks and sign-ups: which moves exist. Every change of a task's or a sign-up's status
goes through `move`, so a move that is not in these tables cannot happen anywhere.

A task is open until its owner cancels it or closes its roster; an alarm's task is `handled` once the alarm is
acknowledged (nobody else needs to go) and then closed like any other.

A sign-up is offered (alarms only), confirmed or waitlisted; it ends declined, stood down, cancelled (left),
released (never needed), attended or no-show.
"""

from __future__ import annotations

from datetime import datetime

from api.errors import ApiError
from api.volunteers.models import Signup, SignupStatus, Task, TaskStatus

TASK_MOVES: dict[TaskStatus, frozenset[TaskStatus]] = {
    TaskStatus.OPEN: frozenset({TaskStatus.HANDLED, TaskStatus.CANCELLED, TaskStatus.CLOSED}),
    TaskStatus.HANDLED: frozenset({TaskStatus.CLOSED}),
    TaskStatus.CANCELLED: frozenset(),
    TaskStatus.CLOSED: frozenset(),
}

S = SignupStatus
SIGNUP_MOVES: dict[SignupStatus, frozenset[SignupStatus]] = {
    S.OFFERED: frozenset({S.CONFIRMED, S.DECLINED, S.STOOD_DOWN}),
    S.WAITLISTED: frozenset({S.CONFIRMED, S.CANCELLED, S.RELEASED}),
    S.CONFIRMED: frozenset({S.CANCELLED, S.RELEASED, S.STOOD_DOWN, S.ATTENDED, S.NO_SHOW}),
    S.DECLINED: frozenset(),
    S.STOOD_DOWN: frozenset(),
    S.CANCELLED: frozenset(),
    S.RELEASED: frozenset(),
    S.ATTENDED: frozenset(),
    S.NO_SHOW: frozenset(),
}
# What holds a place (counted in `Task.confirmed_count`).
HOLDS_PLACE = frozenset({S.CONFIRMED})
ENDED = frozenset({S.DECLINED, S.STOOD_DOWN, S.CANCELLED, S.RELEASED})


def move_task(task: Task, to: TaskStatus) -> None:
    if to not in TASK_MOVES[task.status]:
        if task.status == TaskStatus.CLOSED:
            raise ApiError("roster_closed")
        raise ApiError("task_not_open", state=task.status.value)
    task.status = to


def move(signup: Signup, to: SignupStatus, now: datetime) -> None:
    """Change a sign-up's status, keeping the task's counters with it (the caller holds the task's lock)."""
    if to not in SIGNUP_MOVES[signup.status]:
        raise ApiError("signup_not_active", state=signup.status.value)
    task = signup.task
    if signup.status in HOLDS_PLACE and to not in (S.ATTENDED, S.NO_SHOW):
        task.confirmed_count -= 1
        if signup.reserved:
            task.reserved_taken -= 1
            signup.reserved = False
    if signup.status == S.WAITLISTED:
        task.waitlist_count -= 1
        signup.waitlist_seq = None
    if to in HOLDS_PLACE:
        task.confirmed_count += 1
        signup.confirmed_at = now
        if signup.reserved:
            task.reserved_taken += 1
    if to in ENDED:
        signup.ended_at = now
    signup.status = to


def enter(signup: Signup, task: Task, status: SignupStatus, now: datetime) -> None:
    """A new sign-up's first status (offered, confirmed or waitlisted), counted on the locked task."""
    signup.task = task
    signup.status = status
    signup.created_at = now
    if status in HOLDS_PLACE:
        task.confirmed_count += 1
        signup.confirmed_at = now
        if signup.reserved:
            task.reserved_taken += 1
    elif status == S.WAITLISTED:
        signup.waitlist_seq = task.next_waitlist_seq
        task.next_waitlist_seq += 1
        task.waitlist_count += 1
