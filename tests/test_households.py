"""A resident asks to be bound to their flat; the street staff of that committee decide."""

from __future__ import annotations

import pytest
from sqlalchemy import func, select

from api.accounts.models import HouseholdMember
from api.db import db
from tests.conftest import bearer, wechat_login


def ask(client, resident, room, relation="owner", **extra):
    return client.post(
        "/api/v1/me/household-requests",
        json={"room_id": str(room.id), "relation": relation, **extra},
        headers=resident["headers"],
    )


@pytest.mark.smoke
def test_approved_request_makes_the_resident_a_household_member(client, world, resident, kj01_staff):
    room = world.room("KJ01/101")
    created = ask(client, resident, room, note="我是业主")
    assert created.status_code == 201
    request_id = created.get_json()["id"]
    assert created.get_json()["status"] == "pending"
    assert created.get_json()["address"].endswith("1号楼101室")

    queue = client.get("/api/v1/admin/household-requests", headers=kj01_staff["headers"]).get_json()
    assert [item["id"] for item in queue["items"]] == [request_id]
    assert queue["items"][0]["applicant"]["id"] == resident["user"]["id"]

    approved = client.post(f"/api/v1/admin/household-requests/{request_id}/approve", headers=kj01_staff["headers"])
    assert approved.status_code == 200
    assert approved.get_json()["status"] == "approved"

    me = client.get("/api/v1/me", headers=resident["headers"]).get_json()
    assert [h["room_id"] for h in me["households"]] == [str(room.id)]
    assert me["households"][0]["relation"] == "owner"


def test_rejection_carries_the_reason_to_the_resident(client, world, resident, kj01_staff):
    request_id = ask(client, resident, world.room("KJ01/102")).get_json()["id"]

    rejected = client.post(
        f"/api/v1/admin/household-requests/{request_id}/reject",
        json={"reason": "房产证信息不符"},
        headers=kj01_staff["headers"],
    )
    assert rejected.status_code == 200

    mine = client.get("/api/v1/me/household-requests", headers=resident["headers"]).get_json()["items"]
    assert mine[0]["status"] == "rejected"
    assert mine[0]["reject_reason"] == "房产证信息不符"
    assert client.get("/api/v1/me", headers=resident["headers"]).get_json()["households"] == []


def test_staff_of_another_committee_can_neither_see_nor_decide(client, world, resident, kj02_staff):
    request_id = ask(client, resident, world.room("KJ01/101")).get_json()["id"]

    queue = client.get("/api/v1/admin/household-requests", headers=kj02_staff["headers"]).get_json()
    assert queue["items"] == []
    response = client.post(f"/api/v1/admin/household-requests/{request_id}/approve", headers=kj02_staff["headers"])
    assert response.status_code == 404
    assert response.get_json()["code"] == "not_found"
    assert db.session.scalar(select(func.count()).select_from(HouseholdMember)) == 0


def test_the_subdistrict_admin_sees_every_committee(client, world, resident, admin):
    ask(client, resident, world.room("KJ01/101"))
    ask(client, resident, world.room("KJ02/101"))

    queue = client.get("/api/v1/admin/household-requests", headers=admin["headers"]).get_json()
    assert len(queue["items"]) == 2


def test_residents_cannot_use_the_admin_api(client, world, resident):
    response = client.get("/api/v1/admin/household-requests", headers=resident["headers"])
    assert response.status_code == 403
    assert response.get_json()["code"] == "forbidden"


def test_a_second_request_for_the_same_flat_waits_for_the_first(client, world, resident):
    room = world.room("KJ01/101")
    assert ask(client, resident, room).status_code == 201

    again = ask(client, resident, room)
    assert again.status_code == 409
    assert again.get_json()["code"] == "household_request_exists"


def test_a_member_cannot_ask_again_for_their_own_flat(client, world, resident, kj01_staff):
    room = world.room("KJ01/101")
    request_id = ask(client, resident, room).get_json()["id"]
    client.post(f"/api/v1/admin/household-requests/{request_id}/approve", headers=kj01_staff["headers"])

    again = ask(client, resident, room)
    assert again.status_code == 409
    assert again.get_json()["code"] == "already_household_member"


def test_a_decided_request_cannot_be_decided_again(client, world, resident, kj01_staff):
    request_id = ask(client, resident, world.room("KJ01/101")).get_json()["id"]
    client.post(f"/api/v1/admin/household-requests/{request_id}/approve", headers=kj01_staff["headers"])

    again = client.post(
        f"/api/v1/admin/household-requests/{request_id}/reject", json={"reason": "x"}, headers=kj01_staff["headers"]
    )
    assert again.status_code == 409
    assert again.get_json()["code"] == "household_request_decided"
    assert "approved" in again.get_json()["message"]
    assert db.session.scalar(select(func.count()).select_from(HouseholdMember)) == 1


def test_withdrawn_request_leaves_the_queue_and_frees_the_flat(client, world, resident, kj01_staff):
    room = world.room("KJ01/101")
    request_id = ask(client, resident, room).get_json()["id"]

    withdrawn = client.post(f"/api/v1/me/household-requests/{request_id}/withdraw", headers=resident["headers"])
    assert withdrawn.get_json()["status"] == "withdrawn"
    assert client.get("/api/v1/admin/household-requests", headers=kj01_staff["headers"]).get_json()["items"] == []
    assert ask(client, resident, room).status_code == 201


def test_nobody_else_can_withdraw_my_request(client, world, resident):
    request_id = ask(client, resident, world.room("KJ01/101")).get_json()["id"]
    other = wechat_login(client, "lisi#1")

    response = client.post(
        f"/api/v1/me/household-requests/{request_id}/withdraw", headers=bearer(other["access_token"])
    )
    assert response.status_code == 404


@pytest.mark.parametrize(
    ("payload", "field"),
    [
        ({"room_id": "not-a-uuid", "relation": "owner"}, "room_id"),
        ({"room_id": "01a20986-b56c-70ff-a1d4-8dfc4867911a", "relation": "owner"}, "room_id"),
        ({"relation": "cousin"}, "relation"),
    ],
)
def test_a_bad_request_names_the_field(client, world, resident, payload, field):
    payload = {"room_id": str(world.room("KJ01/101").id), **payload}
    response = client.post("/api/v1/me/household-requests", json=payload, headers=resident["headers"])
    assert response.status_code == 422
    assert field in response.get_json()["errors"]


@pytest.mark.smoke
def test_areas_lead_from_committee_to_the_rooms_of_a_building(client, world, resident):
    roots = client.get("/api/v1/areas", headers=resident["headers"]).get_json()["items"]
    assert [a["code"] for a in roots] == ["KJ"]
    committees = client.get(f"/api/v1/areas?parent_id={roots[0]['id']}", headers=resident["headers"]).get_json()
    assert [a["code"] for a in committees["items"]] == ["KJ01", "KJ02"]

    building = world.areas["KJ01-01-001"]
    rooms = client.get(f"/api/v1/areas/{building.id}/rooms", headers=resident["headers"]).get_json()["items"]
    assert [r["number"] for r in rooms] == ["101", "102", "201"]

    estate = world.areas["KJ01-01"]
    assert client.get(f"/api/v1/areas/{estate.id}/rooms", headers=resident["headers"]).status_code == 404


def test_profile_changes_are_kept_and_the_phone_is_masked(client, world, resident):
    response = client.patch(
        "/api/v1/me",
        json={"nickname": "老张", "avatar_url": "https://example.org/a.png", "phone_code": "phone-code-1"},
        headers=resident["headers"],
    )
    assert response.status_code == 200
    me = client.get("/api/v1/me", headers=resident["headers"]).get_json()
    assert me["nickname"] == "老张"
    assert me["avatar_url"] == "https://example.org/a.png"
    assert me["phone"] is not None and "****" in me["phone"]


def test_the_mini_program_can_patch_through_a_post_with_a_method_override(client, world, resident):
    response = client.post(
        "/api/v1/me",
        json={"nickname": "老张"},
        headers={**resident["headers"], "X-HTTP-Method-Override": "PATCH"},
    )
    assert response.status_code == 200
    assert client.get("/api/v1/me", headers=resident["headers"]).get_json()["nickname"] == "老张"
    plain_post = client.post("/api/v1/me", json={"nickname": "x"}, headers=resident["headers"])
    assert plain_post.status_code == 405
