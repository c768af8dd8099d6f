"""Shared parking as residents, lenders, gates, sensors and staff meet it: a mall lends its car park on weekday
nights, residents book and pay, the gate lets the booked car in and holds the others, a camera replays its
offline records and the bill comes out right, a silent magnetometer turns its bay unknown, and staff see it all.
(The rush of 200 residents at the same second, on PostgreSQL with a real worker, is test_parking_worker.py.)"""

from __future__ import annotations

import csv
import io
import uuid
from datetime import date, timedelta

import pytest
from sqlalchemy import func, select

from api.db import db, utcnow
from api.fields import LOCAL_TZ
from api.parking import gates, plates, windows
from api.parking.models import Anomaly, Booking, Hold, Occupancy, ParkingSession, Sensor
from api.payments.models import OrderStatus, PaymentOrder
from tests.parking_support import (
    GATE,
    IOT,
    book,
    lent_lot,
    local,
    next_weekday,
    ok,
    pay,
    quote,
    resident_with_car,
    signed,
)


@pytest.fixture
def mall(client, world, admin):
    return lent_lot(client, admin, world, bays=2)


@pytest.fixture
def zhang(client, world, admin):
    return resident_with_car(client, admin, world, "zhangsan", "KJ01/101", "沪A12345")


@pytest.fixture
def lisi(client, world, admin):
    return resident_with_car(client, admin, world, "lisi", "KJ01/102", "沪B67890")


def booked(client, who, lot, starts, ends, **extra):
    made = ok(book(client, who, lot["lot"]["id"], starts, ends, **extra), 201)
    ok(pay(client, who, made))
    return ok(client.get(f"/api/v1/parking/bookings/{made['id']}", headers=who["headers"]))


# ------------------------------------------------------------------------------------------------
# Plates and the working-day calendar
# ------------------------------------------------------------------------------------------------


def test_plates_are_normalised_and_checked_against_the_rules_people_can_act_on():
    assert plates.parse(" 沪a·123-45 ").text == "沪A12345"
    assert plates.parse("沪ＡＤ１２３４５").new_energy  # full-width, new-energy (8 characters)
    for bad, rule in (("A12345", "省份"), ("沪A1234", "7 位"), ("沪AI2345", "I 和 O"), ("沪A12O45", "I 和 O")):
        with pytest.raises(plates.PlateError, match=rule):
            plates.parse(bad)
    assert plates.mask("沪A12345") == "沪A***45"
    assert plates.one_apart("沪A12345", "沪A12845") and not plates.one_apart("沪A12345", "沪A12885")


def test_windows_follow_the_state_councils_calendar_and_a_night_window_is_one_window():
    assert not windows.is_workday(date(2026, 10, 1))  # National Day
    assert windows.is_workday(date(2026, 9, 28)) == (date(2026, 9, 28).weekday() < 5 or True)
    make_up = next(
        d
        for d in (date(2026, 1, 4) + timedelta(days=i) for i in range(360))
        if d.weekday() >= 5 and windows.is_workday(d)
    )
    night = windows.fit(
        [{"days": "workdays", "start": "18:00", "end": "08:00"}],
        [],
        local(make_up, "19:30"),
        local(make_up, "07:00", 1),
    )
    assert night.window is not None, f"a make-up workday ({make_up}) lends its night too"
    tuesday = date(2026, 12, 8)
    inside = windows.fit(
        [{"days": "workdays", "start": "18:00", "end": "08:00"}],
        [],
        local(tuesday, "19:30"),
        local(tuesday, "07:00", 1),
    )
    assert inside.window is not None and inside.window.label == "工作日 18:00–次日08:00"
    friday = date(2026, 12, 11)
    into_saturday = windows.fit(
        [{"days": "workdays", "start": "18:00", "end": "08:00"}], [], local(friday, "19:30"), local(friday, "10:00", 1)
    )
    assert into_saturday.window is None and "工作日 18:00–次日08:00" in into_saturday.problem
    blocked = windows.fit(
        [{"days": "workdays", "start": "18:00", "end": "08:00"}],
        ["2026-12-08"],
        local(tuesday, "19:30"),
        local(tuesday, "07:00", 1),
    )
    assert blocked.window is None


# ------------------------------------------------------------------------------------------------
# Booking
# ------------------------------------------------------------------------------------------------


def test_an_overnight_booking_is_accepted_and_one_into_saturday_is_refused_naming_the_window(client, mall, zhang):
    tuesday = next_weekday(1)
    made = ok(book(client, zhang, mall["lot"]["id"], local(tuesday, "19:30"), local(tuesday, "07:00", 1)), 201)
    assert made["status"] == "held" and made["price_fen"] == 4000  # 11.5 h at 5 yuan, capped at 40 a day
    friday = next_weekday(4, working=False)
    while not windows.is_workday(friday) or windows.is_workday(friday + timedelta(days=1)):
        friday += timedelta(days=7)
    refused = quote(client, zhang, mall["lot"]["id"], local(friday, "19:30"), local(friday, "10:00", 1))
    assert refused.status_code == 422 and refused.get_json()["code"] == "outside_window"
    assert "工作日 18:00–次日08:00" in refused.get_json()["message"]
    backwards = quote(client, zhang, mall["lot"]["id"], local(tuesday, "22:00"), local(tuesday, "20:00"))
    assert backwards.status_code == 422 and backwards.get_json()["code"] == "period_invalid"


def test_one_bay_never_holds_two_live_bookings_that_overlap_but_back_to_back_fits(client, world, admin, zhang, lisi):
    lot = lent_lot(client, admin, world, bays=1)
    tuesday = next_weekday(1)
    first = booked(client, zhang, lot, local(tuesday, "18:00"), local(tuesday, "22:00"))
    overlap = book(client, lisi, lot["lot"]["id"], local(tuesday, "21:00"), local(tuesday, "23:00"))
    assert overlap.status_code == 409 and overlap.get_json()["code"] == "space_taken"
    after = ok(book(client, lisi, lot["lot"]["id"], local(tuesday, "22:00"), local(tuesday, "08:00", 1)), 201)
    assert first["status"] == "confirmed" and after["status"] == "held"
    live = db.session.scalar(select(func.count()).select_from(Hold).where(Hold.released_at.is_(None)))
    assert live == 2


def test_the_turnover_buffer_keeps_the_next_driver_out_until_it_has_passed(client, world, admin, zhang, lisi, settings):
    settings.parking_turnover_buffer_minutes = 15
    lot = lent_lot(client, admin, world, bays=1)
    tuesday = next_weekday(1)
    booked(client, zhang, lot, local(tuesday, "18:00"), local(tuesday, "22:00"))
    too_soon = book(client, lisi, lot["lot"]["id"], local(tuesday, "22:00"), local(tuesday, "23:00"))
    assert too_soon.status_code == 409
    ok(book(client, lisi, lot["lot"]["id"], local(tuesday, "22:15"), local(tuesday, "23:00")), 201)


def test_a_pooled_lot_never_holds_more_cars_than_its_capacity_at_any_instant(client, world, admin):
    lot = lent_lot(client, admin, world, pool=2)
    tuesday = next_weekday(1)
    people = [
        resident_with_car(client, admin, world, f"p{i}", room, plate)
        for i, (room, plate) in enumerate(
            (("KJ01/101", "沪C10001"), ("KJ01/102", "沪C10002"), ("KJ01/201", "沪C10003"))
        )
    ]
    ok(book(client, people[0], lot["lot"]["id"], local(tuesday, "18:00"), local(tuesday, "20:00")), 201)
    ok(book(client, people[1], lot["lot"]["id"], local(tuesday, "19:00"), local(tuesday, "21:00")), 201)
    full = book(client, people[2], lot["lot"]["id"], local(tuesday, "19:30"), local(tuesday, "20:30"))
    assert full.status_code == 409 and full.get_json()["code"] in ("lot_full", "space_taken")
    # 20:00 the first car leaves: a third fits from then.
    ok(book(client, people[2], lot["lot"]["id"], local(tuesday, "20:00"), local(tuesday, "22:00")), 201)


def test_a_retry_with_the_same_idempotency_key_books_once(client, mall, zhang):
    tuesday = next_weekday(1)
    q = ok(quote(client, zhang, mall["lot"]["id"], local(tuesday, "19:00"), local(tuesday, "21:00")), 201)
    body = {"quote_id": q["id"], "vehicle_id": zhang["vehicle_id"]}
    headers = {**zhang["headers"], "Idempotency-Key": "book-1"}
    first = ok(client.post("/api/v1/parking/bookings", json=body, headers=headers), 201)
    again = ok(client.post("/api/v1/parking/bookings", json=body, headers=headers), 201)
    assert first["id"] == again["id"]
    assert db.session.scalar(select(func.count()).select_from(Booking)) == 1


def test_an_unpaid_hold_expires_and_frees_the_space_and_a_late_payment_is_refunded_when_it_was_taken(
    client, world, admin, zhang, lisi, settings
):
    lot = lent_lot(client, admin, world, bays=1)
    tuesday = next_weekday(1)
    held = ok(book(client, zhang, lot["lot"]["id"], local(tuesday, "19:00"), local(tuesday, "21:00")), 201)
    from api.parking import services

    with client.application.app_context():
        assert services.expire_holds(utcnow() + timedelta(minutes=settings.parking_hold_minutes + 1)) == 1
        db.session.commit()
    taken = booked(client, lisi, lot, local(tuesday, "19:00"), local(tuesday, "21:00"))
    assert taken["status"] == "confirmed"
    # 张三 pays at the last second, after his order closed: the space is gone, so the money goes back.
    late = pay(client, zhang, held)
    assert late.status_code == 200, late.get_json()
    mine = ok(client.get(f"/api/v1/parking/bookings/{held['id']}", headers=zhang["headers"]))
    assert mine["status"] == "expired"
    order = db.session.get(PaymentOrder, uuid.UUID(held["order_id"]))
    assert order.status == OrderStatus.PAID and order.refunded_fen == order.amount_fen


def test_a_late_payment_is_kept_when_the_space_is_still_free(client, mall, zhang, settings):
    tuesday = next_weekday(1)
    held = ok(book(client, zhang, mall["lot"]["id"], local(tuesday, "19:00"), local(tuesday, "21:00")), 201)
    from api.parking import services

    with client.application.app_context():
        services.expire_holds(utcnow() + timedelta(minutes=settings.parking_hold_minutes + 1))
        db.session.commit()
    ok(pay(client, zhang, held))
    mine = ok(client.get(f"/api/v1/parking/bookings/{held['id']}", headers=zhang["headers"]))
    assert mine["status"] == "confirmed"
    order = db.session.get(PaymentOrder, uuid.UUID(held["order_id"]))
    assert order.refunded_fen == 0


def test_cancel_is_free_before_the_cutoff_and_a_lender_cancellation_refunds_and_tells_the_driver(
    client, mall, zhang, lisi
):
    tuesday = next_weekday(1)
    mine = booked(client, zhang, mall, local(tuesday, "19:00"), local(tuesday, "21:00"))
    cancelled = ok(client.post(f"/api/v1/parking/bookings/{mine['id']}/cancel", json={}, headers=zhang["headers"]))
    assert cancelled["status"] == "cancelled" and cancelled["refund_fen"] == mine["price_fen"]
    again = client.post(f"/api/v1/parking/bookings/{mine['id']}/cancel", json={}, headers=zhang["headers"])
    assert again.status_code == 409 and again.get_json()["code"] == "booking_not_changeable"
    assert "已取消" in again.get_json()["message"]  # the state it is in, in the resident's words
    theirs = booked(client, lisi, mall, local(tuesday, "19:00"), local(tuesday, "21:00"))
    seen = ok(client.get("/api/v1/parking/lender/bookings", headers=mall["lender"]["headers"]))["items"]
    assert {b["plate"] for b in seen} == {"沪A***45", "沪B***90"}  # masked for the lender
    ok(
        client.post(
            f"/api/v1/parking/lender/bookings/{theirs['id']}/cancel",
            json={"reason": "业主自用"},
            headers=mall["lender"]["headers"],
        )
    )
    after = ok(client.get(f"/api/v1/parking/bookings/{theirs['id']}", headers=lisi["headers"]))
    assert after["status"] == "cancelled" and after["refund_fen"] == theirs["price_fen"]
    inbox = ok(client.get("/api/v1/me/messages", headers=lisi["headers"]))["items"]
    assert any("已取消" in m["title"] for m in inbox)
    # Someone else's booking is not the lender's to cancel, and not another resident's to see.
    assert client.get(f"/api/v1/parking/bookings/{theirs['id']}", headers=zhang["headers"]).status_code == 404


def test_extending_takes_the_following_time_only_when_it_is_free(client, world, admin, zhang, lisi):
    lot = lent_lot(client, admin, world, bays=1)
    tuesday = next_weekday(1)
    mine = booked(client, zhang, lot, local(tuesday, "19:00"), local(tuesday, "21:00"))
    booked(client, lisi, lot, local(tuesday, "22:00"), local(tuesday, "23:00"))
    longer = ok(
        client.post(
            f"/api/v1/parking/bookings/{mine['id']}/extend",
            json={"ends_at": local(tuesday, "22:00").isoformat()},
            headers=zhang["headers"],
        )
    )
    assert longer["extension_fen"] == 500
    clash = client.post(
        f"/api/v1/parking/bookings/{mine['id']}/extend",
        json={"ends_at": local(tuesday, "22:30").isoformat()},
        headers=zhang["headers"],
    )
    assert clash.status_code == 409 and clash.get_json()["code"] == "space_taken"


# ------------------------------------------------------------------------------------------------
# Vehicles
# ------------------------------------------------------------------------------------------------


def test_a_driving_licence_photo_is_seen_by_its_owner_and_staff_only(client, world, admin, zhang, lisi):
    from PIL import Image

    car = ok(client.post("/api/v1/parking/vehicles", json={"plate": "沪D54321"}, headers=zhang["headers"]), 201)
    buffer = io.BytesIO()
    Image.new("RGB", (40, 30), (30, 90, 200)).save(buffer, "JPEG")
    picture = ok(
        client.post(
            "/api/v1/media",
            data={"file": (io.BytesIO(buffer.getvalue()), "licence.jpg", "image/jpeg")},
            headers=zhang["headers"],
            content_type="multipart/form-data",
        ),
        201,
    )["id"]
    verified = ok(
        client.post(
            f"/api/v1/parking/vehicles/{car['id']}/licence", json={"media_id": picture}, headers=zhang["headers"]
        )
    )
    assert verified["verification"] == "verified"
    for who, status in ((zhang, 200), (admin, 200), (lisi, 404)):
        assert client.get(f"/api/v1/media/{picture}", headers=who["headers"]).status_code == status


def test_a_plate_is_on_one_household_and_a_household_has_at_most_n_cars(client, world, admin, zhang, lisi, settings):
    taken = client.post("/api/v1/parking/vehicles", json={"plate": "沪a 12345"}, headers=lisi["headers"])
    assert taken.status_code == 409 and taken.get_json()["code"] == "plate_taken"
    bad = client.post("/api/v1/parking/vehicles", json={"plate": "沪AO1234"}, headers=lisi["headers"])
    assert bad.status_code == 422 and "I 和 O" in bad.get_json()["errors"]["plate"][0]
    settings.parking_vehicles_per_household = 2
    ok(client.post("/api/v1/parking/vehicles", json={"plate": "沪D00001"}, headers=zhang["headers"]), 201)
    over = client.post("/api/v1/parking/vehicles", json={"plate": "沪D00002"}, headers=zhang["headers"])
    assert over.status_code == 409 and over.get_json()["code"] == "vehicle_limit"


# ------------------------------------------------------------------------------------------------
# Gates, passages, sessions
# ------------------------------------------------------------------------------------------------


def decide(client, lot_id, plate, direction="entry", **extra):
    return signed(
        client,
        "/api/v1/parking/gates/decisions",
        {"lot_id": lot_id, "lane": "A1", "direction": direction, "plate": plate, **extra},
    )


def test_the_gate_opens_for_the_booked_plate_holds_an_unbooked_one_and_flags_a_unique_misread(
    client, world, admin, zhang, lisi
):
    lot = lent_lot(client, admin, world, bays=2)
    now = utcnow()
    # A booking from now (inside a window in force every day, so the test runs any day).
    lot = lent_lot(client, admin, world, bays=2, rules=[{"days": "everyday", "start": "00:00", "end": "00:00"}])
    mine = booked(client, zhang, lot, now + timedelta(minutes=5), now + timedelta(hours=2))
    assert mine["status"] == "confirmed"
    lot_id = lot["lot"]["id"]
    opened = ok(decide(client, lot_id, "沪A12345"))
    assert (opened["decision"], opened["reason"], opened["flagged"]) == ("open", "booking_valid", False)
    held = ok(decide(client, lot_id, "沪B67890"))
    assert (held["decision"], held["reason"]) == ("hold", "no_booking")
    misread = ok(decide(client, lot_id, "沪A12845"))
    assert (misread["decision"], misread["flagged"], misread["plate"]) == ("open", True, "沪A12345")
    assert db.session.scalar(select(Anomaly.kind).where(Anomaly.kind == "misread_opened")) is not None
    unknown = ok(decide(client, str(uuid.uuid4()), "沪A12345"))
    assert (unknown["decision"], unknown["reason"]) == ("hold", "unknown_lot")


def test_unsigned_forged_or_replayed_gate_calls_are_refused_and_change_nothing(client, mall):
    payload = {"lot_id": mall["lot"]["id"], "lane": "A1", "direction": "entry", "plate": "沪A12345"}
    assert client.post("/api/v1/parking/gates/decisions", json=payload).status_code == 401
    forged = signed(client, "/api/v1/parking/gates/decisions", payload, secret="not-the-secret")
    assert forged.status_code == 401 and forged.get_json()["code"] == "gate_signature_invalid"
    stamp = int(utcnow().timestamp())
    ok(signed(client, "/api/v1/parking/gates/decisions", payload, stamp=stamp))
    replay = signed(client, "/api/v1/parking/gates/decisions", payload, stamp=stamp)
    assert replay.status_code == 409 and replay.get_json()["code"] == "gate_replayed"


def passages(client, items):
    return ok(signed(client, "/api/v1/parking/gates/passages", items))


def test_a_camera_replaying_yesterdays_offline_records_out_of_order_gives_the_right_bill(client, world, admin, zhang):
    lot = lent_lot(client, admin, world, bays=1, rules=[{"days": "everyday", "start": "00:00", "end": "00:00"}])
    now = utcnow()
    starts, ends = now + timedelta(minutes=1), now + timedelta(hours=3)
    mine = booked(client, zhang, lot, starts, ends)
    lot_id = lot["lot"]["id"]
    # The camera was offline; it sends the exit first, then the entry, then the entry again (a repeat).
    exited_at, entered_at = ends + timedelta(hours=2, minutes=10), starts - timedelta(minutes=5)
    from api.parking import gates as gate_module

    with client.application.app_context():
        # The records arrive the next morning: the no-show sweep ran meanwhile and released the booking.
        from api.parking import services

        services.release_no_shows(starts + timedelta(minutes=31))
        db.session.commit()
        assert db.session.get(Booking, uuid.UUID(mine["id"])).status.value == "no_show"
        result = gate_module.ingest_passages(
            GATE,
            [
                {
                    "event_id": "x1",
                    "lot_id": lot_id,
                    "lane": "B",
                    "direction": "exit",
                    "plate": "沪A12345",
                    "at": exited_at.isoformat(),
                },
                {
                    "event_id": "e1",
                    "lot_id": lot_id,
                    "lane": "A",
                    "direction": "entry",
                    "plate": "沪A12345",
                    "at": entered_at.isoformat(),
                },
                {
                    "event_id": "e2",
                    "lot_id": lot_id,
                    "lane": "A",
                    "direction": "entry",
                    "plate": "沪A12345",
                    "at": (entered_at + timedelta(seconds=20)).isoformat(),
                },
                {
                    "event_id": "e1",
                    "lot_id": lot_id,
                    "lane": "A",
                    "direction": "entry",
                    "plate": "沪A12345",
                    "at": entered_at.isoformat(),
                },
            ],
            exited_at + timedelta(hours=8),
        )
        db.session.commit()
    statuses = [r["status"] for r in result["results"]]
    assert statuses == ["accepted", "accepted", "accepted", "duplicate"]
    sessions = list(db.session.scalars(select(ParkingSession)))
    assert len(sessions) == 1, "a repeated trigger never opens a second session"
    stay = sessions[0]
    assert stay.exited_at == exited_at and stay.charge_fen == 3 * 1000  # 2 h 10 min over: three started hours
    assert db.session.get(Booking, uuid.UUID(mine["id"])).status.value == "completed"
    bill = db.session.get(PaymentOrder, stay.order_id)
    assert bill.amount_fen == 3000 and bill.status == OrderStatus.PENDING
    # Until it is paid, the gate denies the next entry.
    denied = ok(decide(client, lot_id, "沪A12345"))
    assert (denied["decision"], denied["reason"]) == ("deny", "overstay_unpaid")


def test_an_exit_with_no_session_is_an_anomaly_for_staff_never_a_crash(client, mall, admin):
    result = passages(
        client,
        [
            {
                "event_id": "x9",
                "lot_id": mall["lot"]["id"],
                "lane": "B",
                "direction": "exit",
                "plate": "沪E99999",
                "at": utcnow().isoformat(),
            },
            {
                "event_id": "bad",
                "lot_id": "nope",
                "lane": "B",
                "direction": "sideways",
                "plate": "沪E1",
                "at": "yesterday",
            },
        ],
    )
    assert [r["status"] for r in result["results"]] == ["accepted", "invalid"]
    cases = ok(client.get("/api/v1/admin/parking/anomalies", headers=admin["headers"]))["items"]
    assert [c["kind"] for c in cases] == ["exit_without_session"]


# ------------------------------------------------------------------------------------------------
# Magnetometers
# ------------------------------------------------------------------------------------------------


def test_a_magnetometer_debounces_drops_stale_frames_and_going_silent_turns_its_bay_unknown(client, world, admin):
    lot = lent_lot(client, admin, world, bays=1, kind="road", gate_platform=None, gate_vendor="none")
    space_id = lot["spaces"][0]["id"]
    ok(
        client.post(
            "/api/v1/admin/parking/sensors",
            json={"serial": "MAG-1", "space_id": space_id, "heartbeat_seconds": 300},
            headers=admin["headers"],
        ),
        201,
    )
    now = utcnow()

    def frames(*items):
        payload = [
            {
                "event_id": f"f{seq}",
                "serial": serial,
                "seq": seq,
                "type": kind,
                "at": (now + timedelta(seconds=at)).isoformat(),
            }
            for serial, seq, kind, at in items
        ]
        return ok(signed(client, "/api/v1/parking/sensors/frames", payload, platform=IOT))

    first = frames(("MAG-1", 1, "vacant", -200), ("MAG-1", 2, "occupied", -30), ("NOPE", 1, "vacant", 0))
    assert [r["status"] for r in first["results"]] == ["accepted", "accepted", "unknown_sensor"]
    sensor = db.session.scalar(select(Sensor))
    assert sensor.state == Occupancy.VACANT, "occupied for 30 s is not yet a parked car"
    stale = frames(("MAG-1", 2, "vacant", 0))
    assert stale["results"][0]["status"] == "stale"
    from api.parking import sensors

    with client.application.app_context():
        sensors.sweep(now + timedelta(seconds=61))
        db.session.commit()
        db.session.expire_all()
        assert db.session.scalar(select(Sensor)).state == Occupancy.OCCUPIED
        sensors.sweep(now + timedelta(seconds=601))  # two heartbeats missed
        db.session.commit()
        db.session.expire_all()
        assert db.session.scalar(select(Sensor)).state == Occupancy.UNKNOWN
    counts = ok(client.get("/api/v1/admin/parking/free-counts", headers=admin["headers"]))["items"]
    road = next(lot_ for estate in counts for lot_ in estate["lots"] if lot_["lot_id"] == lot["lot"]["id"])
    assert (road["free"], road["unknown"]) == (0, 1), "a silent sensor is never free"


# ------------------------------------------------------------------------------------------------
# Staff, lenders, no-shows, privacy
# ------------------------------------------------------------------------------------------------


def test_staff_see_bookings_as_csv_and_utilisation_per_lot_and_hour(client, world, admin, kj01_staff, zhang):
    lot = lent_lot(client, admin, world, bays=1, rules=[{"days": "everyday", "start": "00:00", "end": "00:00"}])
    now = utcnow().replace(minute=0, second=0, microsecond=0) + timedelta(hours=1)
    booked(client, zhang, lot, now, now + timedelta(hours=2))
    exported = client.get("/api/v1/admin/parking/bookings.csv", headers=kj01_staff["headers"])
    rows = list(csv.reader(io.StringIO(exported.get_data(as_text=True).lstrip("\ufeff"))))
    assert len(rows) == 2 and rows[1][3] == "沪A***45"
    usage = ok(
        client.get(
            "/api/v1/admin/parking/utilisation",
            query_string={"from": now.isoformat(), "to": (now + timedelta(hours=3)).isoformat()},
            headers=admin["headers"],
        )
    )["items"]
    assert [round(r["booked_hours"], 2) for r in usage] == [1.0, 1.0]


def test_a_no_show_is_released_and_repeated_no_shows_restrict_booking(client, world, admin, zhang, settings):
    lot = lent_lot(client, admin, world, bays=3, rules=[{"days": "everyday", "start": "00:00", "end": "00:00"}])
    settings.parking_no_show_limit = 1
    now = utcnow()
    mine = booked(client, zhang, lot, now + timedelta(minutes=1), now + timedelta(hours=2))
    from api.parking import services

    with client.application.app_context():
        assert services.release_no_shows(now + timedelta(minutes=32)) == 1
        db.session.commit()
    assert ok(client.get(f"/api/v1/parking/bookings/{mine['id']}", headers=zhang["headers"]))["status"] == "no_show"
    again = book(client, zhang, lot["lot"]["id"], now + timedelta(hours=3), now + timedelta(hours=4))
    assert again.status_code == 403 and again.get_json()["code"] == "parking_suspended"


def test_an_occupied_space_on_arrival_gets_another_space_in_one_step_and_staff_a_case(client, mall, zhang, admin):
    now = utcnow()
    lot = mall
    offer_all_day = ok(
        client.post(
            "/api/v1/parking/lender/offers",
            json={"lot_id": lot["lot"]["id"], "rules": [{"days": "everyday", "start": "00:00", "end": "00:00"}]},
            headers=lot["lender"]["headers"],
        ),
        201,
    )
    ok(client.post(f"/api/v1/admin/parking/offers/{offer_all_day['id']}/approve", headers=admin["headers"]))
    mine = booked(client, zhang, lot, now + timedelta(minutes=1), now + timedelta(hours=2))
    moved = ok(client.post(f"/api/v1/parking/bookings/{mine['id']}/occupied", headers=zhang["headers"]))
    assert moved["outcome"] == "moved" and moved["booking"]["space_code"] != mine["space_code"]
    assert moved["booking"]["status"] == "confirmed"
    cases = ok(client.get("/api/v1/admin/parking/anomalies", headers=admin["headers"]))["items"]
    assert [c["kind"] for c in cases] == ["occupied_on_arrival"]


def test_a_live_booking_blocks_account_deletion_and_erasure_leaves_the_accounts_without_the_plate(
    client, app, mall, zhang, settings
):
    tuesday = next_weekday(1)
    mine = booked(client, zhang, mall, local(tuesday, "19:00"), local(tuesday, "21:00"))
    blocked = client.post("/api/v1/me/account-deletion", headers=zhang["headers"])
    assert blocked.status_code == 409 and "停车预约" in blocked.get_json()["message"]
    ok(client.post(f"/api/v1/parking/bookings/{mine['id']}/cancel", json={}, headers=zhang["headers"]))
    from api.parking import personal

    with app.app_context():
        from api.accounts.models import User

        user = db.session.get(User, uuid.UUID(zhang["user"]["id"]))
        exported = personal.export(user)
        assert exported["vehicles"][0]["plate"] == "沪A12345"
        personal.erase(user)
        db.session.commit()
    kept = db.session.get(Booking, uuid.UUID(mine["id"]))
    assert kept is not None and kept.user_id is None and kept.plate is None and kept.price_fen == mine["price_fen"]
    assert db.session.scalar(select(func.count()).select_from(Booking).where(Booking.plate == "沪A12345")) == 0


def test_allow_lists_follow_confirmations_and_the_nightly_reconciliation_mends_a_missed_push(
    client, world, admin, zhang
):
    lot = lent_lot(client, admin, world, bays=1)
    tuesday = next_weekday(1)
    gates.FakeGate.lists.clear()
    gates.FakeGate.unreachable = True  # the link to the gate system is down when the booking is paid
    try:
        mine = booked(client, zhang, lot, local(tuesday, "19:00"), local(tuesday, "21:00"))
    finally:
        gates.FakeGate.unreachable = False
    lot_id = uuid.UUID(lot["lot"]["id"])
    assert gates.FakeGate.lists.get(lot_id, {}) == {}
    with client.application.app_context():
        done = gates.reconcile_all(utcnow())
        db.session.commit()
    assert done["pushed"] >= 1
    entry = gates.FakeGate.lists[lot_id][f"booking:{mine['id']}"]
    assert entry.plate == "沪A12345"


def test_a_monthly_pass_takes_its_window_every_lent_day_and_the_gate_opens_for_it_inside_the_window(
    client, world, admin, zhang, lisi
):
    lot = lent_lot(client, admin, world, bays=1, rules=[{"days": "everyday", "start": "00:00", "end": "00:00"}])
    today = utcnow().astimezone(LOCAL_TZ).date()
    made = ok(
        client.post(
            "/api/v1/parking/passes",
            json={
                "lot_id": lot["lot"]["id"],
                "vehicle_id": zhang["vehicle_id"],
                "window_start": "00:00",
                "window_end": "23:59",
                "starts_on": today.isoformat(),
                "months": 1,
            },
            headers=zhang["headers"],
        ),
        201,
    )
    assert made["status"] == "held" and made["price_fen"] == 30000 and made["days"] >= 28
    ok(pay(client, zhang, made))
    assert ok(client.get(f"/api/v1/parking/passes/{made['id']}", headers=zhang["headers"]))["status"] == "active"
    # The pass's windows block hourly bookings on its space.
    now = utcnow()
    taken = book(client, lisi, lot["lot"]["id"], now + timedelta(hours=1), now + timedelta(hours=2))
    assert taken.status_code == 409
    opened = ok(decide(client, lot["lot"]["id"], "沪A12345"))
    assert (opened["decision"], opened["reason"]) in (("open", "pass_valid"), ("hold", "early"))
    if local(today, "23:59") > now:
        assert opened["reason"] == "pass_valid"


def test_old_quotes_and_replay_receipts_are_forgotten_by_the_hourly_job(client, mall, zhang):
    tuesday = next_weekday(1)
    ok(quote(client, zhang, mall["lot"]["id"], local(tuesday, "19:00"), local(tuesday, "21:00")), 201)
    ok(decide(client, mall["lot"]["id"], "沪A12345"))
    from api.parking.models import ParkingBatchReceipt, Quote
    from api.parking.tasks import forget_old_receipts

    with client.application.app_context():
        assert forget_old_receipts.run((utcnow() + timedelta(hours=1)).isoformat()) == 1  # the receipt only
        assert forget_old_receipts.run((utcnow() + timedelta(days=2)).isoformat()) == 1  # then the quote
        db.session.commit()
    assert db.session.scalar(select(func.count()).select_from(Quote)) == 0
    assert db.session.scalar(select(func.count()).select_from(ParkingBatchReceipt)) == 0
