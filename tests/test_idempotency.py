"""A mini-program on a shaky 4G line retries; a retry with the same Idempotency-Key does the thing once."""

from __future__ import annotations

import threading
from datetime import timedelta

import pytest
from sqlalchemy import func, select

from api.accounts.models import HouseholdRequest
from api.db import db, utcnow
from api.idempotency import IdempotencyKey
from tests.conftest import bearer, wechat_login


def post(client, resident, room, key, relation="owner"):
    return client.post(
        "/api/v1/me/household-requests",
        json={"room_id": str(room.id), "relation": relation},
        headers={**resident["headers"], "Idempotency-Key": key},
    )


def requests_count() -> int:
    return db.session.scalar(select(func.count()).select_from(HouseholdRequest))


@pytest.mark.smoke
def test_a_retry_returns_the_first_answer_and_creates_nothing_more(client, world, resident):
    room = world.room("KJ01/101")
    first = post(client, resident, room, "k-1")
    retry = post(client, resident, room, "k-1")

    assert first.status_code == retry.status_code == 201
    assert retry.get_json() == first.get_json()
    assert first.headers["Idempotent-Replayed"] == "false"
    assert retry.headers["Idempotent-Replayed"] == "true"
    assert requests_count() == 1


def test_the_same_key_with_a_different_body_is_refused(client, world, resident):
    room = world.room("KJ01/101")
    post(client, resident, room, "k-1")

    other = post(client, resident, room, "k-1", relation="tenant")
    assert other.status_code == 422
    assert other.get_json()["code"] == "idempotency_key_mismatch"


def test_the_same_json_written_differently_is_the_same_request(client, world, resident):
    room = world.room("KJ01/101")
    post(client, resident, room, "k-1")
    spaced = client.post(
        "/api/v1/me/household-requests",
        data=f'{{ "relation" : "owner",  "room_id": "{room.id}" }}',
        content_type="application/json",
        headers={**resident["headers"], "Idempotency-Key": "k-1"},
    )
    assert spaced.status_code == 201
    assert spaced.headers["Idempotent-Replayed"] == "true"


def test_keys_belong_to_one_person(client, world, resident):
    post(client, resident, world.room("KJ01/101"), "shared-key")
    other = wechat_login(client, "lisi#1")

    theirs = post(client, {"headers": bearer(other["access_token"])}, world.room("KJ01/101"), "shared-key")
    assert theirs.status_code == 201
    assert theirs.headers["Idempotent-Replayed"] == "false"
    assert requests_count() == 2


def test_a_failed_request_is_not_remembered(client, world, resident):
    room = world.room("KJ01/101")
    post(client, resident, room, "k-1")
    failed = post(client, resident, room, "k-2")  # a pending request exists: 409
    assert failed.status_code == 409

    client.post(
        f"/api/v1/me/household-requests/{requests_list(client, resident)[0]['id']}/withdraw",
        headers=resident["headers"],
    )
    assert post(client, resident, room, "k-2").status_code == 201


def requests_list(client, resident):
    return client.get("/api/v1/me/household-requests", headers=resident["headers"]).get_json()["items"]


@pytest.mark.smoke
def test_a_key_expires_after_a_day(client, world, resident):
    room = world.room("KJ01/101")
    post(client, resident, room, "k-1")
    db.session.execute(IdempotencyKey.__table__.update().values(expires_at=utcnow() - timedelta(seconds=1)))
    db.session.commit()

    again = post(client, resident, room, "k-1")
    assert again.status_code == 409  # treated as new: the pending request from the first call is found
    assert again.get_json()["code"] == "household_request_exists"


def test_an_overlong_key_is_refused(client, world, resident):
    response = post(client, resident, world.room("KJ01/101"), "k" * 129)
    assert response.status_code == 422
    assert "Idempotency-Key" in response.get_json()["errors"]


def test_the_key_is_documented_on_the_route(client):
    spec = client.get("/api/v1/openapi.json").get_json()
    parameters = spec["paths"]["/api/v1/me/household-requests"]["post"]["parameters"]
    assert any(p["name"] == "Idempotency-Key" and p["in"] == "header" for p in parameters)


@pytest.mark.services
@pytest.mark.commits
def test_simultaneous_retries_create_one_request(app, world, resident, pg_url):
    """Two copies of the same request racing on PostgreSQL: one creates, the other replays."""
    room = world.room("KJ01/101")
    barrier = threading.Barrier(4)
    results: list = []

    def send():
        client = app.test_client()
        barrier.wait()
        results.append(post(client, resident, room, "race-key"))

    threads = [threading.Thread(target=send) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert [r.status_code for r in results] == [201] * 4, "the losers wait for the winner and replay it"
    assert sorted(r.headers["Idempotent-Replayed"] for r in results) == ["false", "true", "true", "true"]
    assert len({r.get_json()["id"] for r in results}) == 1
    assert requests_count() == 1
