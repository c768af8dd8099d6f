"""Lists page with an opaque cursor: every row once, in order, however the pages are cut."""

from __future__ import annotations

import pytest

from api.accounts.models import Room
from api.db import db, new_id
from api.pagination import encode_cursor


@pytest.fixture
def big_building(world):
    building = world.areas["KJ01-01-001"]
    for floor in range(3, 9):
        for unit in range(1, 5):
            db.session.add(Room(id=new_id(), building_id=building.id, number=f"{floor}{unit:02d}", floor=floor))
    db.session.commit()
    return building


def walk(client, url, headers, limit):
    seen, cursor, pages = [], None, 0
    while True:
        query = f"limit={limit}" + (f"&cursor={cursor}" if cursor else "")
        body = client.get(f"{url}?{query}", headers=headers).get_json()
        assert set(body) == {"items", "next_cursor"}
        assert len(body["items"]) <= limit
        seen.extend(body["items"])
        pages += 1
        cursor = body["next_cursor"]
        if cursor is None:
            return seen, pages


@pytest.mark.parametrize("limit", [1, 5, 27, 100])
@pytest.mark.smoke
def test_paging_through_rooms_returns_each_once_in_number_order(client, resident, big_building, limit):
    rooms, pages = walk(client, f"/api/v1/areas/{big_building.id}/rooms", resident["headers"], limit)

    numbers = [r["number"] for r in rooms]
    assert len(numbers) == 27 == len(set(numbers))
    assert numbers == sorted(numbers)
    assert pages == -(-27 // limit), "no empty last page"


def test_the_last_page_says_there_is_no_next(client, resident, big_building):
    body = client.get(f"/api/v1/areas/{big_building.id}/rooms?limit=100", headers=resident["headers"]).get_json()
    assert len(body["items"]) == 27
    assert body["next_cursor"] is None


def test_rows_added_between_pages_do_not_shift_what_was_already_seen(client, resident, big_building):
    url = f"/api/v1/areas/{big_building.id}/rooms"
    first = client.get(f"{url}?limit=10", headers=resident["headers"]).get_json()
    db.session.add(Room(id=new_id(), building_id=big_building.id, number="100", floor=1))  # sorts before all
    db.session.commit()

    second = client.get(f"{url}?limit=10&cursor={first['next_cursor']}", headers=resident["headers"]).get_json()
    assert not {r["id"] for r in first["items"]} & {r["id"] for r in second["items"]}
    assert second["items"][0]["number"] > first["items"][-1]["number"]


@pytest.mark.parametrize("cursor", ["garbage", "eyJub3QiOiAibGlzdCJ9", encode_cursor(["only-one-value"])])
def test_a_tampered_cursor_is_a_clear_422(client, resident, big_building, cursor):
    response = client.get(f"/api/v1/areas/{big_building.id}/rooms?cursor={cursor}", headers=resident["headers"])
    assert response.status_code == 422
    assert response.get_json()["code"] == "invalid_cursor"


@pytest.mark.smoke
def test_my_requests_come_newest_first(client, world, resident):
    for key in ("KJ01/101", "KJ01/102", "KJ01/201"):
        client.post(
            "/api/v1/me/household-requests",
            json={"room_id": str(world.room(key).id), "relation": "owner"},
            headers=resident["headers"],
        )

    items, _ = walk(client, "/api/v1/me/household-requests", resident["headers"], 2)
    assert [i["address"][-4:] for i in items] == ["201室", "102室", "101室"]
