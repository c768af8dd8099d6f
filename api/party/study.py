"""Study (学习): materials for the members of an organisation and below, read time tracked by heartbeats, and
quizzes with a window, a time limit and a pass mark, scored on the server.

Read time is the server's clock, never the phone's: each heartbeat adds the time since the previous one, and a
gap longer than `party_study_session_gap_minutes` closes the session (kept in `party_study_sessions`) and
starts another, the gap not counted. A member's progress on a material is one row, locked for each heartbeat.
"""

from __future__ import annotations

import uuid
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Select, select

from api.accounts.models import User
from api.config import Settings
from api.db import db, new_id, utcnow
from api.dialect import insert_on_conflict
from api.errors import ApiError, NotFound
from api.fields import local_text
from api.party import reach
from api.party.members import current_record, for_member, locked, my_member, one_for_me
from api.party.models import (
    MaterialKind,
    MemberStatus,
    PartyMember,
    PointAction,
    Quiz,
    QuizAttempt,
    StudyMaterial,
    StudyProgress,
    StudySession,
)
from api.party.points import Award, award, rule_of

MATERIAL_PHOTOS = "party_material"
# An answer handed in this long after the deadline still counts: the phone's request was on its way.
SUBMIT_GRACE = timedelta(seconds=30)


# ------------------------------------------------------------------------------------------------
# Materials
# ------------------------------------------------------------------------------------------------


def publish_material(user: User, values: dict[str, Any]) -> StudyMaterial:
    from api.media.services import attach

    org = reach.org_for(user, values["org_id"])
    kind = MaterialKind(values["kind"])
    if kind == MaterialKind.VIDEO and not values.get("video_url"):
        raise ApiError("validation_failed", errors={"video_url": ["a video needs its address"]})
    if kind == MaterialKind.ARTICLE and not (values.get("body") or "").strip():
        raise ApiError("validation_failed", errors={"body": ["an article needs its text"]})
    material = StudyMaterial(
        id=new_id(),
        org_id=org.id,
        org=org,
        kind=kind,
        title=values["title"].strip(),
        body=values.get("body") or "",
        video_url=values.get("video_url"),
        published_at=utcnow(),
        created_by_id=user.id,
    )
    db.session.add(material)
    db.session.flush()
    if values.get("cover_media_id"):
        attach([values["cover_media_id"]], user, MATERIAL_PHOTOS, material.id, max_count=1, field="cover_media_id")
    return material


def staff_materials(user: User) -> Select[tuple[StudyMaterial]]:
    return reach.in_reach(user, StudyMaterial)


def my_materials(user: User) -> Select[tuple[StudyMaterial]]:
    return for_member(my_member(user), StudyMaterial)


def my_material(user: User, material_id: uuid.UUID) -> tuple[StudyMaterial, PartyMember]:
    return one_for_me(user, StudyMaterial, material_id)


def may_see_material_photos(viewer: User, material_id: uuid.UUID) -> bool:
    """A material's cover: its audience (members of the publishing organisation and below) and who reaches it."""
    material = db.session.get(StudyMaterial, material_id)
    if material is None:
        return False
    if reach.sees(viewer, material.org):
        return True
    member = current_record(viewer)
    return (
        member is not None and member.status == MemberStatus.ACTIVE and member.branch.path.startswith(material.org.path)
    )


def progress_of(member: PartyMember, material: StudyMaterial) -> StudyProgress | None:
    return db.session.scalar(
        select(StudyProgress).where(StudyProgress.member_id == member.id, StudyProgress.material_id == material.id)
    )


def heartbeat(
    user: User, material_id: uuid.UUID, settings: Settings, now: datetime | None = None
) -> tuple[StudyProgress, Award | None]:
    """I am reading: count the time since my last heartbeat, or — after a longer gap — start a new session."""
    now = now or utcnow()
    material, member = my_material(user, material_id)
    db.session.execute(
        insert_on_conflict(StudyProgress)
        .values(
            id=new_id(),
            member_id=member.id,
            material_id=material.id,
            seconds_total=0,
            sessions=0,
            session_seconds=0,
            units_awarded=0,
        )
        .on_conflict_do_nothing(index_elements=["member_id", "material_id"])
    )
    progress = locked(StudyProgress, StudyProgress.member_id == member.id, StudyProgress.material_id == material.id)
    assert progress is not None
    gap = timedelta(minutes=settings.party_study_session_gap_minutes)
    last = progress.last_beat_at
    if last is None or now - last > gap or now < last:
        if progress.session_started_at is not None and last is not None:
            db.session.add(
                StudySession(
                    id=new_id(),
                    member_id=member.id,
                    material_id=material.id,
                    started_at=progress.session_started_at,
                    ended_at=last,
                    seconds=progress.session_seconds,
                )
            )
        progress.session_started_at = now
        progress.session_seconds = 0
        progress.sessions += 1
    else:
        elapsed = int((now - last).total_seconds())
        progress.session_seconds += elapsed
        progress.seconds_total += elapsed
    progress.last_beat_at = now
    result = None
    rule = rule_of(PointAction.STUDY_TIME)
    if rule is not None:
        units = progress.seconds_total // rule.unit
        if units > progress.units_awarded:
            result = award(
                member,
                PointAction.STUDY_TIME,
                f"study:{material.id}:{units}",
                units=units - progress.units_awarded,
                note=material.title[:100],
                now=now,
            )
            progress.units_awarded = units
    db.session.flush()
    return progress, result


# ------------------------------------------------------------------------------------------------
# Quizzes
# ------------------------------------------------------------------------------------------------


def _questions(raw: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Questions as stored: an id each, 2–8 options, the right options' indexes, points."""
    checked = []
    errors: dict[str, list[str]] = {}
    for index, question in enumerate(raw):
        options = question["options"]
        answer = sorted(set(question["answer"]))
        if not answer or any(not 0 <= a < len(options) for a in answer):
            errors[f"questions.{index}.answer"] = [f"indexes of its options, 0–{len(options) - 1}"]
            continue
        checked.append(
            {
                "id": f"q{index + 1}",
                "text": question["text"],
                "options": list(options),
                "answer": answer,
                "points": question.get("points") or 1,
            }
        )
    if errors:
        raise ApiError("validation_failed", errors=errors)
    return checked


def create_quiz(user: User, values: dict[str, Any]) -> Quiz:
    org = reach.org_for(user, values["org_id"])
    if values["closes_at"] <= values["opens_at"]:
        raise ApiError("validation_failed", errors={"closes_at": ["must be after opens_at"]})
    quiz = Quiz(
        id=new_id(),
        org_id=org.id,
        org=org,
        title=values["title"].strip(),
        opens_at=values["opens_at"],
        closes_at=values["closes_at"],
        time_limit_seconds=values["time_limit_seconds"],
        pass_percent=values["pass_percent"],
        questions=_questions(values["questions"]),
        created_by_id=user.id,
    )
    db.session.add(quiz)
    db.session.flush()
    return quiz


def staff_quizzes(user: User) -> Select[tuple[Quiz]]:
    return reach.in_reach(user, Quiz)


def my_quizzes(user: User) -> Select[tuple[Quiz]]:
    return for_member(my_member(user), Quiz)


def my_attempt(member: PartyMember, quiz: Quiz) -> QuizAttempt | None:
    return db.session.scalar(
        select(QuizAttempt).where(QuizAttempt.quiz_id == quiz.id, QuizAttempt.member_id == member.id)
    )


def start(user: User, quiz_id: uuid.UUID, now: datetime | None = None) -> QuizAttempt:
    """Begin my one attempt (asking again returns it): the clock runs from now to the time limit, or to the
    quiz's close when that comes first."""
    now = now or utcnow()
    quiz, member = one_for_me(user, Quiz, quiz_id)
    existing = my_attempt(member, quiz)
    if existing is not None:
        return existing
    if not quiz.opens_at <= now < quiz.closes_at:
        raise ApiError("party_quiz_closed", opens=local_text(quiz.opens_at), closes=local_text(quiz.closes_at))
    db.session.execute(
        insert_on_conflict(QuizAttempt)
        .values(
            id=new_id(),
            quiz_id=quiz.id,
            member_id=member.id,
            started_at=now,
            deadline_at=min(now + timedelta(seconds=quiz.time_limit_seconds), quiz.closes_at),
            max_score=sum(q["points"] for q in quiz.questions),
        )
        .on_conflict_do_nothing(index_elements=["quiz_id", "member_id"])
    )
    attempt = my_attempt(member, quiz)
    assert attempt is not None
    return attempt


def answer(
    user: User, attempt_id: uuid.UUID, answers: dict[str, list[int]], now: datetime | None = None
) -> tuple[QuizAttempt, Award | None]:
    """Hand in my answers: scored here (a question counts when exactly its right options are chosen); a pass
    earns points. After the deadline nothing is scored."""
    now = now or utcnow()
    member = my_member(user)
    attempt = locked(QuizAttempt, QuizAttempt.id == attempt_id, QuizAttempt.member_id == member.id)
    if attempt is None:
        raise NotFound()
    if attempt.submitted_at is not None:
        raise ApiError("party_quiz_submitted")
    if now > attempt.deadline_at + SUBMIT_GRACE:
        raise ApiError("party_quiz_time_over", deadline=local_text(attempt.deadline_at))
    questions = {q["id"]: q for q in attempt.quiz.questions}
    unknown = [key for key in answers if key not in questions]
    if unknown:
        raise ApiError(
            "validation_failed", errors={f"answers.{key}": ["not a question of this quiz"] for key in unknown}
        )
    score = sum(q["points"] for key, q in questions.items() if sorted(set(answers.get(key, []))) == q["answer"])
    attempt.answers = {key: sorted(set(value)) for key, value in answers.items()}
    attempt.score = score
    attempt.submitted_at = now
    attempt.passed = score * 100 >= attempt.quiz.pass_percent * attempt.max_score
    result = None
    if attempt.passed:
        result = award(
            member, PointAction.QUIZ_PASSED, f"quiz:{attempt.quiz_id}", note=attempt.quiz.title[:100], now=now
        )
    return attempt, result
