"""Hostile and careless input never reaches a 500 and never half-stores anything.

Each class of input found to end in a 500 once is tried on the routes where it was found: deeply nested
JSON (without a token, with only an IoT signature, with a token), lone surrogates (login code, staff
username, an IoT event id), control and bidi characters in names and text, times at the edge of the
calendar (event times, duty shifts, list filters, statistics), and an IoT batch with a bad item beside
a good heartbeat. The matrix over every operation of the OpenAPI document is in `test_fuzz.py`.
"""

from __future__ import annotations

import json
from datetime import timedelta

import pytest
from sqlalchemy import func, select

from api.alerts.models import IotEvent
from api.db import db, utcnow
from api.devices.models import Device
from api.eldercare.models import Elder
from api.events.models import Event
from tests.factories import iot_event, pushed, signed

ERROR_KEYS = {"code", "message", "errors"}
EDGE_TIMES = ["9999-12-31T23:59:59-12:00", "0001-01-01T00:00:00+14:00", "1899-12-31T23:00:00+08:00"]
NESTED = b"[" * 100_000 + b"]" * 100_000


def raw_json(client, method: str, path: str, payload: object, headers: dict | None = None):
    """Send JSON exactly as given: `json.dumps` escapes lone surrogates (`"\\ud800"`) as a client would."""
    body = json.dumps(payload).encode()
    return getattr(client, method)(path, data=body, content_type="application/json", headers=headers or {})


def assert_error(response, status: int, code: str | None = None) -> dict:
    body = response.get_json()
    assert response.status_code == status, body
    assert set(body) == ERROR_KEYS
    if code is not None:
        assert body["code"] == code
    return body


# ----------------------------------------------------------------------------------------------------
# 1. Deeply nested JSON
# ----------------------------------------------------------------------------------------------------


def test_a_hundred_thousand_brackets_are_malformed_json_on_the_login(client, world):
    response = client.post("/api/v1/auth/wechat-login", data=NESTED, content_type="application/json")
    assert_error(response, 400, "malformed_json")


def test_nesting_a_little_too_deep_is_named_in_the_answer(client, world):
    body = b'{"code": ' + b"[" * 40 + b"]" * 40 + b"}"
    answer = assert_error(client.post("/api/v1/auth/wechat-login", data=body, content_type="application/json"), 400)
    assert answer["code"] == "malformed_json" and "_body" in answer["errors"]


def test_deep_nesting_with_a_token_is_malformed_json(client, resident):
    response = client.patch("/api/v1/me", data=NESTED, content_type="application/json", headers=resident["headers"])
    assert_error(response, 400, "malformed_json")


def test_deep_nesting_signed_by_the_iot_platform_is_an_invalid_batch(client, home):
    response = client.post("/api/v1/iot/events", data=NESTED, headers=signed(NESTED))
    assert_error(response, 422, "iot_batch_invalid")


# ----------------------------------------------------------------------------------------------------
# 2 and 6. Lone surrogates, control characters, bidi overrides
# ----------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("path", "field"),
    [("/api/v1/auth/wechat-login", "code"), ("/api/v1/auth/staff-login", "username")],
)
def test_a_lone_surrogate_at_login_is_a_422_naming_the_field(client, world, path, field):
    payload = {"code": "\ud800"} if field == "code" else {"username": "ad\udfffmin", "password": "x"}
    answer = assert_error(raw_json(client, "post", path, payload), 422, "validation_failed")
    assert field in answer["errors"]


@pytest.mark.parametrize(
    ("text", "english"),
    [
        ("王\u202e婆阿", "text-direction"),  # right-to-left override: reverses what staff read
        ("王\u2066阿婆\u2069", "text-direction"),  # isolates
        ("\x1b[2J王阿婆", "control characters"),  # terminal escape
        ("王阿婆\x07", "control characters"),  # BEL
        ("王阿\x08婆", "control characters"),  # backspace
        ("王阿婆\x85", "control characters"),  # C1 next-line
    ],
)
def test_control_and_bidi_characters_in_an_elders_name_are_refused_and_nothing_is_stored(
    client, world, kj01_staff, text, english
):
    payload = {"name": text, "room_id": str(world.room("KJ01/101").id)}
    headers = {**kj01_staff["headers"], "Accept-Language": "en"}
    answer = assert_error(raw_json(client, "post", "/api/v1/admin/elders", payload, headers), 422)
    assert english in answer["errors"]["name"][0]
    assert db.session.scalar(select(func.count()).select_from(Elder)) == 0


def test_a_line_break_is_kept_in_a_description_and_refused_in_a_title(client, world, kj01_staff):
    now = utcnow()
    payload = {
        "title": "太极拳\n入门",
        "category": "sports",
        "venue": "睦邻中心",
        "starts_at": (now + timedelta(days=3)).isoformat(),
        "ends_at": (now + timedelta(days=3, hours=2)).isoformat(),
        "booking_opens_at": now.isoformat(),
        "booking_closes_at": (now + timedelta(days=2)).isoformat(),
        "capacity": 10,
        "waitlist_limit": 0,
    }
    answer = assert_error(client.post("/api/v1/admin/events", json=payload, headers=kj01_staff["headers"]), 422)
    assert list(answer["errors"]) == ["title"]
    payload.update(title="太极拳入门", description="第一行\n第二行\t缩进")
    created = client.post("/api/v1/admin/events", json=payload, headers=kj01_staff["headers"])
    assert created.status_code == 201, created.get_json()
    assert created.get_json()["description"] == "第一行\n第二行\t缩进"


@pytest.mark.smoke
def test_text_is_stored_in_one_normal_form(client, resident):
    decomposed = "Jose\u0301"  # "José" typed with a combining accent
    response = client.patch("/api/v1/me", json={"nickname": decomposed}, headers=resident["headers"])
    assert response.status_code == 200, response.get_json()
    assert response.get_json()["nickname"] == "Jos\u00e9"


def test_a_control_character_in_a_query_filter_is_a_422(client, resident):
    response = client.get("/api/v1/areas", query_string={"q": "控江\x1b[0m"}, headers=resident["headers"])
    answer = assert_error(response, 422, "validation_failed")
    assert "q" in answer["errors"]


# ----------------------------------------------------------------------------------------------------
# 3. Times at the edge of the calendar
# ----------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("moment", EDGE_TIMES)
def test_event_times_at_the_edge_of_the_calendar_are_a_422_with_the_accepted_range(client, world, kj01_staff, moment):
    payload = {
        "title": "太极拳入门",
        "category": "sports",
        "venue": "睦邻中心",
        "starts_at": moment,
        "ends_at": moment,
        "capacity": 10,
    }
    answer = assert_error(client.post("/api/v1/admin/events", json=payload, headers=kj01_staff["headers"]), 422)
    assert "1900" in answer["errors"]["starts_at"][0] and "2200" in answer["errors"]["starts_at"][0]
    assert db.session.scalar(select(func.count()).select_from(Event)) == 0


@pytest.mark.parametrize("moment", EDGE_TIMES)
def test_duty_shifts_list_filters_and_statistics_refuse_edge_times(client, world, kj01_staff, moment):
    headers = kj01_staff["headers"]
    shift = {
        "user_id": str(world.users["kj01"].id),
        "area_id": str(world.areas["KJ01"].id),
        "starts_at": moment,
        "ends_at": moment,
    }
    assert_error(client.post("/api/v1/admin/duty-shifts", json=shift, headers=headers), 422)
    for path, query in (
        ("/api/v1/admin/duty-shifts", {"active_at": moment}),
        ("/api/v1/admin/alerts", {"from": moment}),
        ("/api/v1/admin/alerts/stats", {"from": moment}),
        ("/api/v1/admin/alerts/stats", {"to": moment}),
        ("/api/v1/admin/incidents/stats", {"from": moment, "to": "2026-12-01T00:00:00+08:00"}),
    ):
        assert_error(client.get(path, query_string=query, headers=headers), 422)


def test_statistics_windows_near_the_accepted_edge_clamp_instead_of_overflowing(client, world, kj01_staff):
    response = client.get(
        "/api/v1/admin/alerts/stats", query_string={"to": "1900-01-03T00:00:00+00:00"}, headers=kj01_staff["headers"]
    )
    assert response.status_code == 200, response.get_json()
    assert response.get_json()["total"] == 0


def test_open311_dates_at_the_edge_are_a_400_not_a_500(client, world):
    response = client.get("/open311/v2/requests.json", query_string={"start_date": "0001-01-01T00:00:00+14:00"})
    assert response.status_code == 400, response.get_data(as_text=True)


# ----------------------------------------------------------------------------------------------------
# 4 and 12. IoT batches keep their good items; a device follows its newest reading
# ----------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "bad",
    [
        {"occurred_at": "9999-12-31T23:59:59-12:00"},
        {"occurred_at": "0001-01-01T00:00:00+14:00"},
        {"event_id": "evt-\ud800"},
        {"event_id": "evt-\x1b[31m"},
        {"device_serial": "SMK-\u202e1"},
        {"value": {"note": "\udfff"}},
    ],
)
def test_one_bad_item_is_invalid_and_the_good_heartbeat_beside_it_is_kept(client, home, bad):
    good = iot_event("DOOR-1", "heartbeat")
    answer = pushed(client, [{**iot_event("SMK-1", "smoke"), **bad}, good])

    assert [r["status"] for r in answer["results"]] == ["invalid", "accepted"]
    assert set(answer["results"][0]["errors"]) <= {"occurred_at", "event_id", "device_serial", "value.note"}
    assert answer["results"][0]["errors"]
    json.dumps(answer)  # the echoed event id can be written back
    assert db.session.scalars(select(IotEvent.event_id)).all() == [good["event_id"]]


def test_an_older_reading_re_sent_after_an_outage_never_overwrites_a_newer_battery_level(client, home):
    now = utcnow()
    pushed(client, [iot_event("SMK-1", "heartbeat", {"battery": 91}, at=now - timedelta(minutes=5))])
    pushed(client, [iot_event("SMK-1", "heartbeat", {"battery": 94}, at=now - timedelta(hours=2))])  # re-sent, older

    device = db.session.get(Device, home.devices["SMK-1"])
    db.session.refresh(device)
    assert device.battery_percent == 91
    assert abs(device.last_seen_at - (now - timedelta(minutes=5))) < timedelta(seconds=1)


@pytest.mark.smoke
def test_a_replayed_batch_is_refused_once_taken_even_without_redis(client, home):
    body = json.dumps([iot_event("SMK-1", "smoke")]).encode()
    headers = signed(body)
    assert client.post("/api/v1/iot/events", data=body, headers=headers).status_code == 200
    again = client.post("/api/v1/iot/events", data=body, headers=headers)
    assert_error(again, 409, "iot_batch_replayed")


def test_a_very_long_query_string_is_answered_in_the_error_shape(client, resident):
    response = client.get("/api/v1/areas", query_string={"q": "控" * 5000}, headers=resident["headers"])
    assert_error(response, 422, "validation_failed")


def test_a_forged_cursor_of_the_wrong_types_is_an_invalid_cursor(client, resident):
    from api.pagination import encode_cursor

    for values in (["not-a-uuid"], [2**80], [float("inf")], ["\ud800"]):
        cursor = encode_cursor(values)
        response = client.get(
            "/api/v1/me/household-requests", query_string={"cursor": cursor}, headers=resident["headers"]
        )
        assert_error(response, 422, "invalid_cursor")
