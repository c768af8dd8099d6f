"""A booking rush over real HTTP: gunicorn with four sync workers on PostgreSQL, hundreds of residents
tapping "book" in the same second, then cancellations racing with new bookings.

Everything is checked twice, from what the API answered and from what the database holds: exactly
`capacity` confirmed seats, the rest waitlisted (up to the cap) in arrival order or refused with
`event_full`, nobody with two active bookings, counters on the event equal to the rows, promotion in
arrival order, no 5xx.

The residents are created and given access tokens from the test process through the app's services
(`issue_tokens`): hundreds of WeChat logins from one address would only measure the login rate limit.
"""

from __future__ import annotations

import contextlib
import http.client
import itertools
import json
import random
import socket
import subprocess
import sys
import threading
import time
import uuid
from collections import Counter, defaultdict
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import create_engine, select, text
from sqlalchemy.engine import make_url
from sqlalchemy.pool import NullPool

from api import Settings, create_app
from api.accounts.models import Area, AreaKind, Role, User
from api.accounts.services import create_staff, issue_tokens
from api.db import db, new_id, utcnow
from api.events import services as events
from api.events.models import Booking, BookingStatus, Event, EventCategory
from api.idempotency import IdempotencyKey
from api.notifications.models import Notification
from tests.conftest import project_root
from tests.worker_support import RedisServer, deployment_env, migrated_database, process_globals_restored

# One xdist process runs this module: gunicorn (on its own database) starts once for the rushes.
pytestmark = [pytest.mark.services, pytest.mark.xdist_group("booking_rush")]

ROOT = project_root()
BIN = Path(sys.executable).parent
SECRET_KEY = "booking-rush-secret-key-that-is-long-enough-for-hs256"
RESIDENTS = 300
CAPACITY = 40
WAITLIST_LIMIT = 100
THREADS = 64
PAIRS_PER_KIND = 12  # residents who send the same booking twice at once, per kind of retry
REQUEST_TIMEOUT = 30


# ----------------------------------------------------------------------------------------------------
# The world: a committee, its staff member, residents with tokens, and gunicorn in front of it all
# ----------------------------------------------------------------------------------------------------


@dataclass
class Rush:
    port: int
    staff_id: uuid.UUID
    area_id: uuid.UUID
    tokens: list[str]  # access token of resident i
    user_ids: list[uuid.UUID]  # and their ids
    server_log: Path
    database_url: str


def _seed(n: int, secret: str) -> tuple[uuid.UUID, list[uuid.UUID], list[str], uuid.UUID]:
    settings = Settings(secret_key=secret, access_token_ttl_seconds=3600)
    subdistrict = Area(id=new_id(), kind=AreaKind.SUBDISTRICT, code="KJ", name="控江路街道", path="/KJ/")
    committee = Area(
        id=new_id(), kind=AreaKind.COMMITTEE, code="KJ01", name="KJ01居委会", parent_id=subdistrict.id, path="/KJ/KJ01/"
    )
    db.session.add_all([subdistrict, committee])
    db.session.flush()
    staff = create_staff("rush-staff", "rush-staff-password", Role.STAFF, "KJ01")
    people = []
    for i in range(n):
        user = User(wechat_openid=f"rush-openid-{i:04d}", nickname=f"居民{i}")
        user.grant(Role.RESIDENT)
        people.append(user)
    db.session.add_all(people)
    db.session.flush()
    tokens = [issue_tokens(user, settings).access_token for user in people]
    db.session.commit()
    return staff.id, [u.id for u in people], tokens, committee.id


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def _wait_healthy(server: subprocess.Popen[bytes], port: int, log: Path) -> None:
    deadline = time.monotonic() + 30
    while True:
        try:
            conn = http.client.HTTPConnection("127.0.0.1", port, timeout=2)
            conn.request("GET", "/healthz")
            if conn.getresponse().status == 200:
                return
        except OSError:
            pass
        finally:
            conn.close()
        if server.poll() is not None or time.monotonic() > deadline:
            pytest.fail("gunicorn did not come up:\n" + log.read_text(errors="replace")[-4000:], pytrace=False)
        time.sleep(0.2)


@contextlib.contextmanager
def _served(pg_url: str, redis_url: str, tmp: Path) -> Iterator[Rush]:
    """A database of our own with the residents in it, and gunicorn (4 workers) serving it."""
    with migrated_database(pg_url, prefix="linli_rush") as url, process_globals_restored():
        # The test process talks to the same database (seeding, then reading what the rush left).
        create_app(
            Settings(
                env="test",
                secret_key=SECRET_KEY,
                instance_path=tmp / "test-instance",
                database_url=url,
                redis_url=redis_url,
                celery_always_eager=True,
            )
        )
        staff_id, user_ids, tokens, area_id = _seed(RESIDENTS + 100, SECRET_KEY)
        port = _free_port()
        env = deployment_env(
            DATABASE_URL=url,
            REDIS_URL=redis_url,
            CELERY_ALWAYS_EAGER="1",
            SECRET_KEY=SECRET_KEY,
            LINLI_INSTANCE_PATH=str(tmp / "instance"),
            WEB_CONCURRENCY="4",
        )
        log = tmp / "gunicorn.log"
        with log.open("wb") as out:
            server = subprocess.Popen(
                [BIN / "gunicorn", "-c", "gunicorn.conf.py", "--bind", f"127.0.0.1:{port}", "wsgi:app"],
                cwd=ROOT,
                env=env,
                stdout=out,
                stderr=subprocess.STDOUT,
            )
        try:
            _wait_healthy(server, port, log)
            yield Rush(port, staff_id, area_id, tokens, user_ids, log, url)
        finally:
            server.terminate()
            try:
                server.wait(timeout=20)
            except subprocess.TimeoutExpired:
                server.kill()
                server.wait(timeout=10)
            db.session.remove()


@pytest.fixture(scope="module")
def rush(pg_url: str, redis_url: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Rush]:
    with _served(pg_url, redis_url, tmp_path_factory.mktemp("rush")) as served:
        yield served


def _new_event(rush: Rush, *, capacity: int, waitlist_limit: int) -> uuid.UUID:
    now = utcnow()
    staff = db.session.get(User, rush.staff_id)
    event = events.create_event(
        staff,
        {
            "title": "社区合唱团公开课",
            "category": EventCategory.CULTURE,
            "venue": "控江一村睦邻中心",
            "area_id": rush.area_id,
            "starts_at": now + timedelta(days=2),
            "ends_at": now + timedelta(days=2, hours=2),
            "booking_opens_at": now - timedelta(minutes=1),
            "booking_closes_at": now + timedelta(days=1),
            "capacity": capacity,
            "waitlist_limit": waitlist_limit,
        },
    )
    events.publish_event(staff, event.id)
    db.session.commit()
    return event.id


# ----------------------------------------------------------------------------------------------------
# Firing requests: a pool of threads, one connection per request, released all at once
# ----------------------------------------------------------------------------------------------------


@dataclass
class Answer:
    who: int
    kind: str
    status: int
    body: Any
    replayed: str | None


def _send(port: int, method: str, path: str, token: str, body: Any = None, key: str | None = None) -> tuple:
    headers = {"Authorization": f"Bearer {token}", "Accept": "application/json"}
    payload = None
    if body is not None:
        payload = json.dumps(body)
        headers["Content-Type"] = "application/json"
    if key is not None:
        headers["Idempotency-Key"] = key
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=REQUEST_TIMEOUT)
    try:
        conn.request(method, path, body=payload, headers=headers)
        response = conn.getresponse()
        raw = response.read()
        try:
            parsed = json.loads(raw)
        except ValueError:
            parsed = raw.decode(errors="replace")
        return response.status, parsed, response.getheader("Idempotent-Replayed")
    finally:
        conn.close()


Call = tuple[int, str, str, str, Any, str | None]  # who, kind, method, path, body, idempotency key


def _fire(port: int, tokens: list[str], units: list[list[Call]]) -> list[Answer]:
    """Send every unit's calls; the calls of one unit leave together (a double tap). All start at a gate."""
    gate = threading.Event()
    answers: list[Answer] = []
    lock = threading.Lock()

    def run(call: Call, barrier: threading.Barrier | None) -> None:
        who, kind, method, path, body, key = call
        gate.wait()
        if barrier is not None:
            barrier.wait(timeout=20)
        status, parsed, replayed = _send(port, method, path, tokens[who], body, key)
        with lock:
            answers.append(Answer(who, kind, status, parsed, replayed))

    with ThreadPoolExecutor(max_workers=THREADS) as pool:
        futures = []
        for unit in units:
            barrier = threading.Barrier(len(unit)) if len(unit) > 1 else None
            futures += [pool.submit(run, call, barrier) for call in unit]
        gate.set()
        for future in futures:
            future.result()
    return answers


def _book(event_id: uuid.UUID, who: int, kind: str, key: str | None = None) -> Call:
    return (who, kind, "POST", f"/api/v1/events/{event_id}/bookings", {}, key)


def _no_server_errors(answers: list[Answer], log: Path) -> None:
    bad = [a for a in answers if a.status >= 500 or not isinstance(a.body, dict)]
    assert not bad, f"{bad[:5]}\n--- gunicorn log ---\n{log.read_text(errors='replace')[-4000:]}"


def _is_error_shape(body: dict[str, Any], code: str) -> bool:
    return set(body) == {"code", "message", "errors"} and body["code"] == code and isinstance(body["errors"], dict)


def _db_state(event_id: uuid.UUID) -> tuple[Event, list[Booking]]:
    db.session.remove()
    event = db.session.get(Event, event_id)
    rows = db.session.scalars(select(Booking).where(Booking.event_id == event_id).order_by(Booking.created_at)).all()
    return event, list(rows)


def _check_counters(event: Event, rows: list[Booking]) -> None:
    confirmed = [b for b in rows if b.status == BookingStatus.CONFIRMED]
    waitlisted = [b for b in rows if b.status == BookingStatus.WAITLISTED]
    assert sum(b.party_size for b in confirmed) == event.seats_taken
    assert len(waitlisted) == event.waitlist_count
    assert 0 <= event.seats_taken <= event.capacity
    assert 0 <= event.waitlist_count <= event.waitlist_limit
    active = Counter(b.user_id for b in rows if b.status != BookingStatus.CANCELLED)
    assert max(active.values(), default=0) <= 1, "a resident holds two active bookings"
    # The waitlist in arrival order: numbers only grow with the time a booking was made.
    assert all(b.waitlist_seq is not None for b in waitlisted)
    inversions = [
        (f"seq {a.waitlist_seq} at {a.created_at:%H:%M:%S.%f}", f"seq {b.waitlist_seq} at {b.created_at:%H:%M:%S.%f}")
        for a, b in itertools.pairwise(waitlisted)
        if a.waitlist_seq >= b.waitlist_seq
    ]
    assert not inversions, f"the waitlist is not in arrival order: {inversions}"
    assert all(b.waitlist_seq is None for b in rows if b.status != BookingStatus.WAITLISTED)


# ----------------------------------------------------------------------------------------------------
# The rush
# ----------------------------------------------------------------------------------------------------


def test_a_rush_of_bookings_fills_exactly_the_seats_then_the_waitlist(rush: Rush):
    event_id = _new_event(rush, capacity=CAPACITY, waitlist_limit=WAITLIST_LIMIT)
    rng = random.Random(20261124)
    people = list(range(RESIDENTS))
    rng.shuffle(people)
    # Double taps: the same booking sent twice at once — with one Idempotency-Key, without any, with two keys.
    kinds = ["same-key"] * PAIRS_PER_KIND + ["no-key"] * PAIRS_PER_KIND + ["two-keys"] * PAIRS_PER_KIND
    units: list[list[Call]] = []
    for who in people:
        kind = kinds.pop() if kinds and rng.random() < 0.25 else "single"
        if kind == "single":
            units.append([_book(event_id, who, kind)])
        elif kind == "same-key":
            key = f"rush-{who}-{uuid.uuid4().hex}"
            units.append([_book(event_id, who, kind, key), _book(event_id, who, kind, key)])
        elif kind == "no-key":
            units.append([_book(event_id, who, kind), _book(event_id, who, kind)])
        else:
            units.append([_book(event_id, who, kind, uuid.uuid4().hex), _book(event_id, who, kind, uuid.uuid4().hex)])
    assert not kinds, "every kind of double tap is in the rush"

    started = time.monotonic()
    answers = _fire(rush.port, rush.tokens, units)
    elapsed = time.monotonic() - started
    _no_server_errors(answers, rush.server_log)

    # What the API said -------------------------------------------------------------------------
    by_person: dict[int, list[Answer]] = defaultdict(list)
    for answer in answers:
        by_person[answer.who].append(answer)
    outcome: dict[int, Any] = {}  # who -> their booking (a dict) or "full"
    for who, mine in by_person.items():
        statuses = sorted(a.status for a in mine)
        if all(a.status == 409 for a in mine):
            assert all(_is_error_shape(a.body, "event_full") for a in mine), mine
            outcome[who] = "full"
            continue
        assert all(a.status in (200, 201) for a in mine), mine
        ids = {a.body["id"] for a in mine}
        assert len(ids) == 1, f"resident {who} got two bookings: {mine}"
        kind = mine[0].kind
        if kind == "single":
            assert statuses == [201]
        elif kind == "same-key":
            # One booked; the other waited for it on the key and replayed its answer.
            assert statuses == [201, 201] and sorted(a.replayed or "" for a in mine) == ["false", "true"], mine
            assert mine[0].body == mine[1].body
        else:
            # The second found the first booking (under the event lock) and got it back with a 200.
            assert statuses == [200, 201], mine
        outcome[who] = next(a.body for a in mine if a.status == 201)

    assert len(outcome) == RESIDENTS
    booked = [b for b in outcome.values() if b != "full"]
    confirmed = [b for b in booked if b["status"] == "confirmed"]
    waitlisted = [b for b in booked if b["status"] == "waitlisted"]
    full = [who for who, b in outcome.items() if b == "full"]
    expected_waitlist = min(RESIDENTS - CAPACITY, WAITLIST_LIMIT)
    assert (len(confirmed), len(waitlisted), len(full)) == (
        CAPACITY,
        expected_waitlist,
        RESIDENTS - CAPACITY - expected_waitlist,
    )
    assert all(b["ticket"] and b["position"] is None for b in confirmed)
    assert all(b["ticket"] is None for b in waitlisted)
    assert sorted(b["position"] for b in waitlisted) == list(range(1, expected_waitlist + 1))

    # What the database holds -------------------------------------------------------------------
    event, rows = _db_state(event_id)
    _check_counters(event, rows)
    assert event.seats_taken == CAPACITY and event.seats_left == 0
    assert event.waitlist_count == expected_waitlist and event.next_waitlist_seq == expected_waitlist + 1
    assert len(rows) == CAPACITY + expected_waitlist, "a booking was made twice, or for a refused request"
    assert not [b for b in rows if b.status == BookingStatus.CANCELLED]
    assert {str(b.id) for b in rows} == {b["id"] for b in booked}
    assert {rush.user_ids[who] for who in full}.isdisjoint({b.user_id for b in rows})

    in_arrival_order = [b for b in rows if b.status == BookingStatus.WAITLISTED]
    assert [b.waitlist_seq for b in in_arrival_order] == list(range(1, expected_waitlist + 1))
    first_waiting = in_arrival_order[0].created_at
    assert all(b.created_at < first_waiting for b in rows if b.status == BookingStatus.CONFIRMED), (
        "a seat went to someone who came after the first on the waitlist"
    )
    position_by_id = {b["id"]: b["position"] for b in waitlisted}
    assert all(position_by_id[str(b.id)] == b.waitlist_seq for b in in_arrival_order)

    # A key remembers the answer it was sent with; a refused booking leaves no key behind.
    keys = Counter(db.session.scalars(select(IdempotencyKey.user_id)).all())
    rows_per_kind = {"single": 0, "no-key": 0, "same-key": 1, "two-keys": 2}
    for who, mine in by_person.items():
        expected = 0 if outcome[who] == "full" else rows_per_kind[mine[0].kind]
        assert keys.get(rush.user_ids[who], 0) == expected, (who, mine)

    # The API tells the same story.
    status, detail, _ = _send(rush.port, "GET", f"/api/v1/events/{event_id}", rush.tokens[0])
    assert status == 200 and (detail["seats_left"], detail["waitlist_count"]) == (0, expected_waitlist)
    print(f"\nrush: {len(answers)} requests in {elapsed:.2f} s ({len(answers) / elapsed:.0f} req/s)")


# ----------------------------------------------------------------------------------------------------
# Cancellations racing with bookings
# ----------------------------------------------------------------------------------------------------


def test_cancellations_racing_with_bookings_promote_in_arrival_order(rush: Rush):
    capacity, limit = 40, 100
    event_id = _new_event(rush, capacity=capacity, waitlist_limit=limit)
    first_wave = list(range(100))
    answers = _fire(rush.port, rush.tokens, [[_book(event_id, who, "first")] for who in first_wave])
    _no_server_errors(answers, rush.server_log)
    assert all(a.status == 201 for a in answers)
    booking_of = {a.who: a.body for a in answers}
    holders = sorted(who for who, b in booking_of.items() if b["status"] == "confirmed")
    waiting = sorted(
        (who for who, b in booking_of.items() if b["status"] == "waitlisted"), key=lambda w: booking_of[w]["position"]
    )
    assert (len(holders), len(waiting)) == (capacity, 60)

    rng = random.Random(7)
    cancelling_holders = rng.sample(holders, 20)
    # Near the head (they may be promoted before their cancel lands) and at the tail (still waiting).
    cancelling_waiters = waiting[15:20] + waiting[-5:]
    newcomers = list(range(100, 100 + 80))

    def cancel(who: int, kind: str) -> Call:
        return (who, kind, "POST", f"/api/v1/bookings/{booking_of[who]['id']}/cancel", None, None)

    units: list[list[Call]] = [[_book(event_id, who, "newcomer")] for who in newcomers]
    for i, who in enumerate(cancelling_holders):
        units.append([cancel(who, "holder-cancel")] * (2 if i < 5 else 1))  # five cancel twice at once
    units += [[cancel(who, "waiter-cancel")] for who in cancelling_waiters]
    rng.shuffle(units)
    answers = _fire(rush.port, rush.tokens, units)
    _no_server_errors(answers, rush.server_log)

    cancels = [a for a in answers if a.kind.endswith("cancel")]
    assert all(a.status == 200 and a.body["status"] == "cancelled" for a in cancels), cancels
    joined = [a for a in answers if a.kind == "newcomer"]
    assert all(
        (a.status == 201 and a.body["status"] == "waitlisted")
        or (a.status == 409 and _is_error_shape(a.body, "event_full"))
        for a in joined
    ), [a for a in joined if a.status not in (201, 409)]  # the waitlist never empties: no newcomer gets a seat

    event, rows = _db_state(event_id)
    _check_counters(event, rows)
    assert event.waitlist_count > 0 and event.seats_taken == capacity, "a seat stayed empty with people waiting"
    cancelled_ids = {booking_of[who]["id"] for who in cancelling_holders + cancelling_waiters}
    assert {str(b.id) for b in rows if b.status == BookingStatus.CANCELLED} == cancelled_ids
    first_wave_ids = {b["id"] for b in booking_of.values()}
    newcomer_rows = [b for b in rows if str(b.id) not in first_wave_ids]
    assert len(newcomer_rows) == sum(a.status == 201 for a in joined)
    assert event.waitlist_count + event.seats_taken + len(cancelled_ids) == len(rows)

    # Promotion in arrival order: of everyone who ever waited and still holds a booking, those promoted
    # are exactly the earliest arrivals; and each seat freed by a cancellation went to one of them.
    promoted = [b for b in rows if b.confirmed_at is not None and b.confirmed_at > b.created_at]
    ever_waited = [b for b in rows if b in promoted or b.status == BookingStatus.WAITLISTED]
    still_here = [b for b in ever_waited if b.status != BookingStatus.CANCELLED]  # rows are in created_at order
    n_promoted_here = sum(b.status == BookingStatus.CONFIRMED for b in still_here)
    assert all(b.status == BookingStatus.CONFIRMED for b in still_here[:n_promoted_here])
    assert all(b.status == BookingStatus.WAITLISTED for b in still_here[n_promoted_here:])
    freed_seats = sum(1 for b in rows if b.status == BookingStatus.CANCELLED and b.confirmed_at is not None)
    assert len(promoted) == freed_seats >= len(cancelling_holders)
    assert {b.user_id for b in promoted} <= {rush.user_ids[w] for w in waiting}, "a newcomer jumped the queue"

    # Each promoted resident was told once, and the message went out (eager tasks: inline after commit).
    told = db.session.scalars(select(Notification).where(Notification.kind == "booking_promoted")).all()
    promoted_ids = {str(b.id) for b in promoted}
    told_here = [n for n in told if n.context.get("booking_id") in promoted_ids]
    assert sorted(n.context["booking_id"] for n in told_here) == sorted(promoted_ids)
    owner = {str(b.id): b.user_id for b in promoted}
    assert all(n.user_id == owner[n.context["booking_id"]] for n in told_here)
    assert all(n.status != "pending" for n in told_here), [(n.status, n.attempt_count) for n in told_here]


# ----------------------------------------------------------------------------------------------------
# A rush through outages: Redis stopped, PostgreSQL connections cut
# ----------------------------------------------------------------------------------------------------

OUTAGE_RESIDENTS = 160


def _cut_connections(database_url: str) -> int:
    """Terminate every server process of the rush's database but our own (a failover, a network blip)."""
    engine = create_engine(make_url(database_url), poolclass=NullPool)
    try:
        with engine.connect() as conn:
            return len(
                conn.execute(
                    text(
                        "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                        "WHERE datname = current_database() AND pid <> pg_backend_pid()"
                    )
                ).all()
            )
    finally:
        engine.dispose()


def test_a_rush_through_a_redis_outage_and_cut_database_connections_loses_and_doubles_nothing(
    pg_url: str, redis_url: str, tmp_path_factory: pytest.TempPathFactory
):
    tmp = tmp_path_factory.mktemp("rush-outage")
    broker = RedisServer(tmp / "redis-server.log").start()
    try:
        with _served(pg_url, broker.url, tmp) as served:
            event_id = _new_event(served, capacity=CAPACITY, waitlist_limit=WAITLIST_LIMIT)
            keys = {who: f"outage-{who}-{uuid.uuid4().hex}" for who in range(OUTAGE_RESIDENTS)}
            units = [[_book(event_id, who, "single", keys[who])] for who in range(OUTAGE_RESIDENTS)]

            def chaos() -> None:
                time.sleep(0.05)
                broker.stop()
                for _ in range(3):
                    _cut_connections(served.database_url)
                    time.sleep(0.15)
                broker.start()

            troublemaker = threading.Thread(target=chaos)
            troublemaker.start()
            answers = _fire(served.port, served.tokens, units)
            troublemaker.join()

            # Every answer is a success, a full event, or a 503 in the error shape: never a 500.
            for answer in answers:
                assert answer.status in (201, 409, 503), (answer, served.server_log.read_text()[-3000:])
                if answer.status == 409:
                    assert _is_error_shape(answer.body, "event_full"), answer
                if answer.status == 503:
                    assert _is_error_shape(answer.body, "service_unavailable"), answer
            unavailable = [a.who for a in answers if a.status == 503]

            # The phones that saw a 503 retry with the same key once things are back: nothing doubles.
            retried = _fire(
                served.port, served.tokens, [[_book(event_id, who, "retry", keys[who])] for who in unavailable]
            )
            # A 200 is a booking the first attempt made before its answer was lost: the retry found it.
            assert all(a.status in (200, 201, 409) for a in retried), retried
            final = {a.who: a for a in answers if a.status != 503} | {a.who: a for a in retried}
            assert len(final) == OUTAGE_RESIDENTS

            event, rows = _db_state(event_id)
            _check_counters(event, rows)
            booked = {who: a.body["id"] for who, a in final.items() if a.status in (200, 201)}
            assert {str(b.id) for b in rows} == set(booked.values()), "a booking was lost or made twice"
            assert len(rows) == min(OUTAGE_RESIDENTS, CAPACITY + WAITLIST_LIMIT)
            print(f"\noutage rush: {len(unavailable)} of {OUTAGE_RESIDENTS} bookings answered 503 and were retried")
    finally:
        broker.stop()
