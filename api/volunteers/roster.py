"""Who goes: signing up (a place while places last, then the waitlist), leaving, the waitlist moving up, the owner
adding someone by hand, reminders that ask for a confirmation, checking in and out on site, and the owner closing
the roster — attendance, no-shows and the hours that follow.

Every change to a task's places takes the task row's lock first (`services.lock_task`), so concurrent sign-ups,
departures and promotions of one task run one after another: the capacity check and the insert are one step, and
never are more people confirmed than the task has places. A person's own sign-ups are serialised on their profile
row (locked before the task, always in that order), so two sign-ups of one person for overlapping tasks cannot
both pass the overlap check; a promotion, which holds the task's lock already, takes the person's row without
waiting (SKIP LOCKED), so two promotions into overlapping tasks cannot both confirm them either.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Select, func, select

from api import ratelimit
from api.accounts.models import User
from api.config import Settings, parse_rounding
from api.db import db, utcnow
from api.errors import ApiError, NotFound
from api.fields import local_text
from api.notifications.services import notify
from api.volunteers import access, ledger, places, services, states
from api.volunteers.models import (
    CheckinRule,
    ClaimOrigin,
    HourClaim,
    Profile,
    Signup,
    SignupStatus,
    Task,
    TaskSource,
    TaskStatus,
)

S = SignupStatus
# How fast a person can plausibly move between two located check-ins (km/h): faster is a spoofed location.
PLAUSIBLE_KMH = 80
CODE_WINDOW_SECONDS = 600


@dataclass
class SignupResult:
    signup: Signup
    created: bool


# ------------------------------------------------------------------------------------------------
# Eligibility
# ------------------------------------------------------------------------------------------------


def ineligibility(task: Task, profile: Profile) -> list[str]:
    """Why `profile` may not take `task` (empty: they may), in words they can act on."""
    reasons = []
    committees = [a.path for a in profile.committees]
    path = task.area.path
    if not any(path.startswith(p) or p.startswith(path) for p in committees):
        reasons.append(f"任务地点「{services.place_name(task)}」不在您服务的居委会")
    have = {s.id for s in profile.skills}
    lacking = [s.name for s in task.skills if s.id not in have]
    if lacking:
        reasons.append("需要技能：" + "、".join(lacking))
    return reasons


def clash(user_id: uuid.UUID, task: Task) -> Task | None:
    """A task `user_id` is confirmed for whose window overlaps `task`'s."""
    return db.session.scalar(
        select(Task)
        .join(Signup, Signup.task_id == Task.id)
        .where(
            Signup.user_id == user_id,
            Signup.status == S.CONFIRMED,
            Task.id != task.id,
            Task.starts_at < task.ends_at,
            Task.ends_at > task.starts_at,
        )
        .limit(1)
    )


def _profile_row(user_id: uuid.UUID, *, skip_locked: bool = False) -> Profile | None:
    """The person's profile, locked: their sign-ups and promotions run one at a time. With `skip_locked`, None
    when someone else holds it this instant."""
    return db.session.scalar(
        select(Profile)
        .where(Profile.user_id == user_id)
        .with_for_update(of=Profile, skip_locked=skip_locked)
        .execution_options(populate_existing=True)
    )


def _lock_profile(user: User) -> Profile:
    profile = _profile_row(user.id)
    if profile is None:
        raise ApiError("volunteer_profile_missing")
    return profile


def _active(task_id: uuid.UUID, user_id: uuid.UUID) -> Signup | None:
    return db.session.scalar(
        select(Signup).where(
            Signup.task_id == task_id,
            Signup.user_id == user_id,
            Signup.status.in_(("confirmed", "waitlisted", "offered", "attended", "no_show")),
        )
    )


def _reserved_open(task: Task, now: datetime) -> int:
    return task.reserved_slots if task.reserved_until is not None and task.reserved_until > now else 0


def _general_free(task: Task, now: datetime) -> int:
    return (
        task.slots - max(_reserved_open(task, now), task.reserved_taken) - (task.confirmed_count - task.reserved_taken)
    )


def _reserved_free_for(task: Task, profile: Profile | None, now: datetime) -> bool:
    if profile is None or _reserved_open(task, now) <= task.reserved_taken:
        return False
    return task.reserved_group_id in services.my_groups(profile)


# ------------------------------------------------------------------------------------------------
# Signing up, leaving, the waitlist
# ------------------------------------------------------------------------------------------------


def sign_up(user: User, task_id: uuid.UUID, settings: Settings) -> SignupResult:
    """A place while places last, else the waitlist; a second attempt returns the first sign-up. For an alarm's
    task, accepting the offer: the first to accept get the places, the others are stood down."""
    unlocked = db.session.get(Task, task_id)
    if unlocked is None or (unlocked.source == TaskSource.ALERT and services.my_signup(user, task_id) is None):
        raise NotFound()
    profile = _lock_profile(user)
    if profile.status.value != "approved":
        raise ApiError("volunteer_not_approved", state=profile.status.value)
    task = services.lock_task(task_id)
    # Read once the locks are ours, so `created_at` follows the order places and waitlist numbers go out in.
    now = utcnow()
    existing = _active(task.id, user.id)
    if task.source == TaskSource.ALERT:
        offer = existing or services.my_signup(user, task.id)
        return SignupResult(_accept_offer(task, offer, now), created=False)
    if existing is not None:
        return SignupResult(existing, created=False)
    if task.status != TaskStatus.OPEN:
        raise ApiError("task_not_open", state=task.status.value)
    if task.starts_at <= now:
        raise ApiError("task_started")
    reasons = ineligibility(task, profile)
    if reasons:
        raise ApiError("volunteer_not_eligible", errors={"eligibility": reasons}, reasons="；".join(reasons))
    other = clash(user.id, task)
    if other is not None:
        raise ApiError("task_overlaps", title=other.title, starts=local_text(other.starts_at))
    signup = Signup(task_id=task.id, user_id=user.id)
    if _reserved_free_for(task, profile, now):
        signup.reserved = True
        states.enter(signup, task, S.CONFIRMED, now)
    elif _general_free(task, now) > 0 and task.waitlist_count == 0:
        states.enter(signup, task, S.CONFIRMED, now)
    elif task.waitlist_count < task.waitlist_limit:
        states.enter(signup, task, S.WAITLISTED, now)
    else:
        raise ApiError("task_full")
    db.session.add(signup)
    db.session.flush()
    return SignupResult(signup, created=True)


def _accept_offer(task: Task, offer: Signup | None, now: datetime) -> Signup:
    if offer is None:
        raise ApiError("alert_task_not_offered")
    if offer.status == S.STOOD_DOWN or (offer.status == S.OFFERED and task.confirmed_count >= task.slots):
        raise ApiError("task_full")  # others accepted first (they were told to stand down already)
    if offer.status != S.OFFERED:
        return offer  # accepted already (a retry), or declined: the answer says which
    if task.status != TaskStatus.OPEN:
        raise ApiError("task_not_open", state=task.status.value)
    states.move(offer, S.CONFIRMED, now)
    if task.confirmed_count >= task.slots:
        stand_down(task, now, "已有足够的志愿者前往。")
    db.session.flush()
    return offer


def decline(user: User, task_id: uuid.UUID) -> Signup:
    task = services.lock_task(task_id)
    offer = _active(task.id, user.id)
    if offer is None:
        raise NotFound()
    if offer.status == S.OFFERED:
        states.move(offer, S.DECLINED, utcnow())
    db.session.flush()
    return offer


def stand_down(task: Task, now: datetime, why: str, *, including_confirmed: bool = False) -> int:
    """Tell the offered (and, when the alarm was handled, the confirmed who have not arrived) not to come."""
    wanted = [S.OFFERED, S.CONFIRMED] if including_confirmed else [S.OFFERED]
    told = 0
    for signup in db.session.scalars(select(Signup).where(Signup.task_id == task.id, Signup.status.in_(wanted))):
        if signup.status == S.CONFIRMED and signup.checked_in_at is not None:
            continue  # on site already: they finish, and check out
        states.move(signup, S.STOOD_DOWN, now)
        if signup.user is not None:
            notify(
                signup.user,
                "volunteer_stand_down",
                {**services.coarse_context(task), "why": why},
                subject_path=task.area.path,
                dedupe_key=f"volunteer-stand-down:{signup.id}",
            )
        told += 1
    return told


def _promotion_stopped(task: Task, settings: Settings, now: datetime) -> bool:
    return now >= task.starts_at - timedelta(minutes=settings.volunteers_promotion_stop_minutes)


def promote(task: Task, settings: Settings, now: datetime, *, by_hand: bool = False) -> list[Signup]:
    """Fill free places from the waitlist in arrival order (the task is locked). Stops a while before the start —
    the owner fills by hand then. Someone now confirmed for an overlapping task, or whose row another sign-up or
    promotion holds this instant, is passed over, and stays waiting."""
    if task.status != TaskStatus.OPEN or (not by_hand and _promotion_stopped(task, settings, now)):
        return []
    promoted: list[Signup] = []
    waiting = db.session.scalars(
        select(Signup).where(Signup.task_id == task.id, Signup.status == S.WAITLISTED).order_by(Signup.waitlist_seq)
    ).all()
    for head in waiting:
        if task.confirmed_count >= task.slots:
            break
        if head.user_id is None:
            continue
        # The person's row, as a sign-up takes it: a promotion in an overlapping task at the same moment holds it
        # or has committed. Taken without waiting (the task's lock is already ours, and a sign-up takes the
        # person's first): someone busy right now is passed over this time and stays waiting.
        profile = _profile_row(head.user_id, skip_locked=True)
        if profile is None:
            continue
        reserved = _reserved_free_for(task, profile, now)
        if not reserved and _general_free(task, now) <= 0:
            continue  # only reserved places are free, and this person is not in their group
        if clash(head.user_id, task) is not None:
            continue
        head.reserved = reserved
        states.move(head, S.CONFIRMED, now)
        promoted.append(head)
        if head.user is not None:
            notify(
                head.user,
                "volunteer_promoted",
                services.coarse_context(task),
                subject_path=task.area.path,
                dedupe_key=f"volunteer-promoted:{head.id}",
            )
    db.session.flush()
    return promoted


def leave(user: User, signup_id: uuid.UUID, reason: str | None, settings: Settings) -> Signup:
    """Leave a task. After its cancel deadline a reason is needed, and the late leave counts against reliability."""
    signup = db.session.get(Signup, signup_id)
    if signup is None or signup.user_id != user.id:
        raise NotFound()
    task = services.lock_task(signup.task_id)
    now = utcnow()
    db.session.refresh(signup)
    if signup.status not in (S.CONFIRMED, S.WAITLISTED, S.OFFERED):
        raise ApiError("signup_not_active", state=signup.status.value)
    if signup.status == S.OFFERED:
        states.move(signup, S.DECLINED, now)
        return signup
    if signup.checked_in_at is not None:
        raise ApiError("checkin_done", at=local_text(signup.checked_in_at))
    cutoff = task.starts_at - timedelta(minutes=task.cancel_cutoff_minutes)
    if signup.status == S.CONFIRMED and now >= cutoff:
        if not (reason or "").strip():
            raise ApiError(
                "leave_reason_required", errors={"reason": ["required after the deadline"]}, cutoff=local_text(cutoff)
            )
        signup.late_cancel = True
    signup.leave_reason = (reason or "").strip() or None
    states.move(signup, S.CANCELLED, now)
    db.session.flush()
    promote(task, settings, now)
    return signup


def add_by_owner(
    user: User, task_id: uuid.UUID, profile_id: uuid.UUID, override_overlap: bool, settings: Settings
) -> Signup:
    """The owner puts a volunteer on the task by hand (after promotion stopped, say): into a free place only, and
    past an overlap only when they say so."""
    task = services.managed_task(user, task_id)
    profile = db.session.get(Profile, profile_id)
    if profile is None or profile.user_id is None or profile.status.value != "approved":
        raise ApiError("validation_failed", errors={"profile_id": ["an approved volunteer"]})
    task = services.lock_task(task.id)
    now = utcnow()
    if task.status != TaskStatus.OPEN:
        raise ApiError("task_not_open", state=task.status.value)
    if task.ends_at <= now:
        raise ApiError("task_started")
    existing = _active(task.id, profile.user_id)
    if existing is not None and existing.status != S.WAITLISTED:
        return existing
    other = clash(profile.user_id, task)
    if other is not None and not override_overlap:
        raise ApiError("task_overlaps", title=other.title, starts=local_text(other.starts_at))
    if task.confirmed_count >= task.slots:
        raise ApiError("task_full")
    signup = existing or Signup(task_id=task.id, user_id=profile.user_id)
    signup.overlap_override = other is not None
    if existing is not None:
        states.move(existing, S.CONFIRMED, now)
    else:
        states.enter(signup, task, S.CONFIRMED, now)
        db.session.add(signup)
    db.session.flush()
    return signup


def promote_by_hand(
    user: User, task_id: uuid.UUID, signup_id: uuid.UUID, override_overlap: bool, settings: Settings
) -> Signup:
    task = services.managed_task(user, task_id)
    signup = db.session.get(Signup, signup_id)
    if signup is None or signup.task_id != task.id:
        raise NotFound()
    if signup.status != S.WAITLISTED:
        raise ApiError("signup_not_waitlisted")
    profile = db.session.scalar(select(Profile).where(Profile.user_id == signup.user_id))
    if profile is None:
        raise ApiError("signup_not_active", state="erased")
    return add_by_owner(user, task_id, profile.id, override_overlap, settings)


def cancel_task(user: User, task_id: uuid.UUID, reason: str) -> Task:
    task = services.managed_task(user, task_id, lock=True)
    if task.status == TaskStatus.CANCELLED:
        return task
    states.move_task(task, TaskStatus.CANCELLED)
    now = utcnow()
    task.cancel_reason = reason
    for signup in db.session.scalars(
        select(Signup).where(Signup.task_id == task.id, Signup.status.in_(("offered", "confirmed", "waitlisted")))
    ):
        states.move(signup, S.STOOD_DOWN if signup.status == S.OFFERED else S.CANCELLED, now)
        if signup.user is not None:
            notify(
                signup.user,
                "volunteer_task_cancelled",
                {**services.coarse_context(task), "reason": reason},
                subject_path=task.area.path,
                dedupe_key=f"volunteer-task-cancelled:{task.id}",
            )
    db.session.flush()
    return task


def roster(user: User, task_id: uuid.UUID) -> Select[tuple[Signup]]:
    services.managed_task(user, task_id)
    return select(Signup).where(Signup.task_id == task_id)


# ------------------------------------------------------------------------------------------------
# Reminders and confirmations
# ------------------------------------------------------------------------------------------------


def confirm_attendance(user: User, signup_id: uuid.UUID) -> Signup:
    signup = db.session.get(Signup, signup_id)
    if signup is None or signup.user_id != user.id:
        raise NotFound()
    if signup.status != S.CONFIRMED:
        raise ApiError("signup_not_active", state=signup.status.value)
    signup.attendance_confirmed_at = signup.attendance_confirmed_at or utcnow()
    db.session.flush()
    return signup


def send_reminders(settings: Settings, now: datetime | None = None) -> int:
    """Ask the confirmed to confirm they will come, once, `volunteers_reminder_hours` before the start."""
    now = now or utcnow()
    due = db.session.scalars(
        select(Signup)
        .join(Signup.task)
        .where(
            Task.status == TaskStatus.OPEN,
            Task.source != TaskSource.ALERT,
            Task.starts_at > now,
            Task.starts_at <= now + timedelta(hours=settings.volunteers_reminder_hours),
            Signup.status == S.CONFIRMED,
            Signup.reminded_at.is_(None),
            Signup.attendance_confirmed_at.is_(None),
        )
        .with_for_update(of=Signup, skip_locked=True)
        .limit(1000)
    ).all()
    for signup in due:
        signup.reminded_at = now
        if signup.user is None:
            continue
        task = signup.task
        confirm_by = task.starts_at - timedelta(minutes=settings.volunteers_confirm_by_minutes)
        notify(
            signup.user,
            "volunteer_task_reminder",
            {**services.coarse_context(task), "confirm_by_text": local_text(confirm_by)},
            subject_path=task.area.path,
            dedupe_key=f"volunteer-reminder:{signup.id}",
        )
    db.session.flush()
    return len(due)


def release_unconfirmed(settings: Settings, now: datetime | None = None) -> int:
    """Places reminded and never confirmed are let go `volunteers_confirm_by_minutes` before the start; the
    waitlist moves up (while promotion runs)."""
    if settings.volunteers_confirm_by_minutes <= 0:
        return 0
    now = now or utcnow()
    task_ids = db.session.scalars(
        select(Signup.task_id)
        .join(Signup.task)
        .where(
            Task.status == TaskStatus.OPEN,
            Task.starts_at > now,
            Task.starts_at <= now + timedelta(minutes=settings.volunteers_confirm_by_minutes),
            Signup.status == S.CONFIRMED,
            Signup.reminded_at.is_not(None),
            Signup.attendance_confirmed_at.is_(None),
        )
        .distinct()
    ).all()
    released = 0
    for task_id in sorted(task_ids):
        task = services.lock_task(task_id)
        for signup in db.session.scalars(
            select(Signup).where(
                Signup.task_id == task.id,
                Signup.status == S.CONFIRMED,
                Signup.reminded_at.is_not(None),
                Signup.attendance_confirmed_at.is_(None),
            )
        ):
            states.move(signup, S.RELEASED, now)
            released += 1
            if signup.user is not None:
                notify(
                    signup.user,
                    "volunteer_place_released",
                    services.coarse_context(task),
                    subject_path=task.area.path,
                    dedupe_key=f"volunteer-released:{signup.id}",
                )
        db.session.flush()
        promote(task, settings, now)
    return released


def reopen_reservations(settings: Settings, now: datetime | None = None) -> int:
    """Reserved places whose time ran out are everyone's: the waitlist moves into them."""
    now = now or utcnow()
    due = db.session.scalars(
        select(Task.id).where(
            Task.status == TaskStatus.OPEN,
            Task.reserved_slots > 0,
            Task.reserved_until <= now,
            Task.waitlist_count > 0,
            Task.confirmed_count < Task.slots,
        )
    ).all()
    moved = 0
    for task_id in sorted(due):
        moved += len(promote(services.lock_task(task_id), settings, now))
    return moved


# ------------------------------------------------------------------------------------------------
# On site
# ------------------------------------------------------------------------------------------------


def _window(task: Task, settings: Settings) -> tuple[datetime, datetime]:
    grace = timedelta(minutes=settings.volunteers_checkin_grace_minutes)
    return task.starts_at - grace, task.ends_at + grace


def _point(task: Task) -> tuple[float, float] | None:
    if task.lat is not None and task.lng is not None:
        return task.lat, task.lng
    return places.point_of(task.area)


def _suspicions(signup: Signup, task: Task, lat: float, lng: float, accuracy: float | None, now: datetime) -> list[str]:
    """What makes a location untrustworthy — kept on the sign-up for review, never a reason to refuse."""
    flags = []
    point = _point(task)
    if point is not None and round(lat, 6) == round(point[0], 6) and round(lng, 6) == round(point[1], 6):
        flags.append("location_identical_to_task")  # to the last digit: copied, not measured
    if accuracy is None or accuracy > max(task.geofence_radius_m, 50):
        flags.append("location_imprecise")
    if accuracy is not None and accuracy <= 0:
        flags.append("location_accuracy_invalid")
    last = db.session.execute(
        select(Signup.check_in_lat, Signup.check_in_lng, Signup.checked_in_at)
        .where(
            Signup.user_id == signup.user_id,
            Signup.id != signup.id,
            Signup.checked_in_at.is_not(None),
            Signup.check_in_lat.is_not(None),
        )
        .order_by(Signup.checked_in_at.desc())
        .limit(1)
    ).first()
    if last is not None:
        hours = max((now - last[2]).total_seconds() / 3600, 1 / 3600)
        if places.distance_m(lat, lng, last[0], last[1]) / 1000 / hours > PLAUSIBLE_KMH:
            flags.append("location_jump")
    return flags


def _verify(
    user: User, task: Task, signup: Signup, args: dict[str, Any], settings: Settings, now: datetime
) -> list[str]:
    """Check the task's rule; what it refuses records nothing. Returns the flags to keep."""
    if task.checkin_rule == CheckinRule.GEOFENCE:
        lat, lng = args.get("lat"), args.get("lng")
        if lat is None or lng is None:
            raise ApiError("validation_failed", errors={"lat": ["your location is needed for this task"]})
        point = _point(task)
        assert point is not None  # a geofence task has a point (checked when it was made)
        distance = places.distance_m(lat, lng, *point)
        if distance > task.geofence_radius_m:
            raise ApiError("checkin_outside_geofence", distance=int(distance), radius=task.geofence_radius_m)
        return _suspicions(signup, task, lat, lng, args.get("accuracy"), now)
    code = (args.get("code") or "").strip()
    # Counted whether right or wrong: six digits are too few to allow guessing.
    ratelimit.enforce(
        "volunteer-code",
        f"{user.id}:{task.id}",
        limit=settings.volunteers_code_attempts,
        window_seconds=CODE_WINDOW_SECONDS,
    )
    expected = task.checkin_code if task.checkin_rule == CheckinRule.OWNER_CODE else task.served_code
    if not code or expected is None or code.removeprefix(f"linli-vol:{task.id}:") != expected:
        raise ApiError("checkin_code_wrong", errors={"code": ["wrong"]})
    return []


def _my_place(user: User, task_id: uuid.UUID) -> tuple[Task, Signup]:
    task = services.lock_task(task_id)
    signup = _active(task.id, user.id)
    if signup is None or signup.status != S.CONFIRMED:
        raise ApiError("checkin_not_confirmed")
    return task, signup


def check_in(user: User, task_id: uuid.UUID, args: dict[str, Any], settings: Settings) -> Signup:
    task, signup = _my_place(user, task_id)
    now = utcnow()
    opens, _closes = _window(task, settings)
    if not opens <= now <= task.ends_at:
        raise ApiError("checkin_outside_window", opens=local_text(opens), closes=local_text(task.ends_at))
    if signup.checked_in_at is not None:
        raise ApiError("checkin_done", at=local_text(signup.checked_in_at))
    flags = _verify(user, task, signup, args, settings, now)
    signup.checked_in_at = now
    signup.checked_in_by = task.checkin_rule.value
    signup.check_in_lat, signup.check_in_lng = args.get("lat"), args.get("lng")
    signup.flags = sorted(set(signup.flags or []) | {f"check_in:{f}" for f in flags})
    db.session.flush()
    return signup


def check_out(user: User, task_id: uuid.UUID, args: dict[str, Any], settings: Settings) -> Signup:
    task, signup = _my_place(user, task_id)
    now = utcnow()
    opens, closes = _window(task, settings)
    if signup.checked_in_at is None:
        raise ApiError("checkout_before_checkin")
    if signup.checked_out_at is not None:
        raise ApiError("checkout_done", at=local_text(signup.checked_out_at))
    if now > closes:
        raise ApiError("checkin_outside_window", opens=local_text(opens), closes=local_text(closes))
    flags = _verify(user, task, signup, args, settings, now)
    signup.checked_out_at = now
    signup.check_out_lat, signup.check_out_lng = args.get("lat"), args.get("lng")
    signup.flags = sorted(set(signup.flags or []) | {f"check_out:{f}" for f in flags})
    db.session.flush()
    return signup


def close_forgotten_checkouts(settings: Settings, now: datetime | None = None) -> int:
    """Checked in and never out: closed at the planned end, and flagged so someone reviews the hours."""
    now = now or utcnow()
    grace = timedelta(minutes=settings.volunteers_checkin_grace_minutes)
    forgotten = db.session.scalars(
        select(Signup)
        .join(Signup.task)
        .where(
            Signup.status == S.CONFIRMED,
            Signup.checked_in_at.is_not(None),
            Signup.checked_out_at.is_(None),
            Task.ends_at < now - grace,
        )
        .with_for_update(of=Signup, skip_locked=True)
        .limit(1000)
    ).all()
    for signup in forgotten:
        signup.checked_out_at = signup.task.ends_at
        signup.flags = sorted(set(signup.flags or []) | {"check_out:forgotten"})
    db.session.flush()
    return len(forgotten)


# ------------------------------------------------------------------------------------------------
# Closing the roster
# ------------------------------------------------------------------------------------------------


def rounded(minutes: int, rule: str) -> int:
    """Whole hours as they are; the part over them by the rounding rule (≤ 15 min → 0, ≤ 45 → 30, ≤ 60 → 60)."""
    if minutes <= 0:
        return 0
    hours, rest = divmod(minutes, 60)
    credit = 0
    if rest:
        credit = next(credited for bound, credited in parse_rounding(rule) if rest <= bound)
    return hours * 60 + credit


def served_minutes(signup: Signup, task: Task, rule: str) -> int:
    """Minutes from check-in to check-out inside the planned window, rounded, and never above the plan."""
    if signup.checked_in_at is None or signup.checked_out_at is None:
        return 0
    start = max(signup.checked_in_at, task.starts_at)
    end = min(signup.checked_out_at, task.ends_at)
    raw = int(max((end - start).total_seconds(), 0) // 60)
    return min(rounded(raw, rule), task.minutes)


def close_roster(
    user: User, task_id: uuid.UUID, attended: list[uuid.UUID], no_show: list[uuid.UUID], settings: Settings
) -> Task:
    """One step: every confirmed volunteer attended (checked in, or named attended) or did not show (or named a
    no-show); whoever still waited or was offered is released. Trusted check-ins go to the ledgers; an attendance
    nobody could check (no check-in, a flagged location, a forgotten check-out) becomes hours for someone else to
    approve."""
    task = services.managed_task(user, task_id, lock=True)
    now = utcnow()
    if task.status == TaskStatus.CLOSED:
        raise ApiError("roster_closed")
    if now < task.starts_at:
        raise ApiError("roster_too_early")
    named = set(attended) | set(no_show)
    signups = db.session.scalars(select(Signup).where(Signup.task_id == task.id).order_by(Signup.created_at)).all()
    unknown = named - {s.id for s in signups}
    if unknown:
        raise ApiError("validation_failed", errors={"attended": [f"not on this roster: {sorted(map(str, unknown))}"]})
    states.move_task(task, TaskStatus.CLOSED)
    task.closed_at = now
    task.closed_by_id = user.id
    credited = []
    for signup in signups:
        if signup.status in (S.WAITLISTED, S.OFFERED):
            states.move(signup, S.RELEASED if signup.status == S.WAITLISTED else S.STOOD_DOWN, now)
            continue
        if signup.status != S.CONFIRMED:
            continue
        came = signup.id in attended or (signup.checked_in_at is not None and signup.id not in no_show)
        if not came:
            states.move(signup, S.NO_SHOW, now)
            continue
        states.move(signup, S.ATTENDED, now)
        if signup.user_id is None:
            continue
        minutes = served_minutes(signup, task, settings.volunteers_hours_rounding)
        trusted = signup.checked_in_at is not None and signup.checked_out_at is not None and not signup.flags
        if trusted and minutes > 0:
            signup.minutes = minutes
            credited.append(signup)
        elif not trusted:
            claim_minutes = minutes if signup.checked_in_at is not None and minutes > 0 else task.minutes
            db.session.add(
                HourClaim(
                    task_id=task.id,
                    user_id=signup.user_id,
                    signup_id=signup.id,
                    minutes=claim_minutes,
                    origin=ClaimOrigin.FLAGGED if signup.checked_in_at is not None else ClaimOrigin.UNCHECKED,
                    note="；".join(signup.flags or []) or "到场未签到",
                    entered_by_id=user.id,
                )
            )
    db.session.flush()
    for signup in credited:
        assert signup.user is not None and signup.minutes is not None
        ledger.credit(signup.user, task, signup.minutes, source_id=signup.id, now=now)
    if task.source == TaskSource.ALERT:
        # The elder's address and notes were copied for the alarm; once it is settled nobody needs them here.
        task.address, task.door_notes = "", ""
    db.session.flush()
    return task


# ------------------------------------------------------------------------------------------------
# Reliability (coordinators only)
# ------------------------------------------------------------------------------------------------


def reliability(user_ids: list[uuid.UUID]) -> dict[uuid.UUID, dict[str, Any]]:
    """Per person: attended, no-shows and late leaves, and the share of commitments kept."""
    figures: dict[uuid.UUID, dict[str, Any]] = {
        uid: {"attended": 0, "no_shows": 0, "late_cancels": 0, "rate": None} for uid in user_ids
    }
    if not user_ids:
        return figures
    rows = db.session.execute(
        select(
            Signup.user_id,
            func.count().filter(Signup.status == S.ATTENDED),
            func.count().filter(Signup.status == S.NO_SHOW),
            func.count().filter(Signup.late_cancel.is_(True)),
        )
        .where(Signup.user_id.in_(user_ids))
        .group_by(Signup.user_id)
    ).all()
    for user_id, came, missed, late in rows:
        total = came + missed + late
        figures[user_id] = {
            "attended": came,
            "no_shows": missed,
            "late_cancels": late,
            "rate": round(came / total, 2) if total else None,
        }
    return figures


def ensure_coordinator(user: User, task: Task) -> None:
    access.ensure_manages(user, task)
