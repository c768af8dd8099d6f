"""Rehabilitation aids lending as a family, the station's staff and the beat meet it: a son reserves a wheelchair
for his mother, staff lend it with a condition note and a photo, she is reminded before it is due, returns it and
the deposit comes back; the last walker cannot be reserved twice at the same moment (PostgreSQL, threads); an overdue
bed is escalated to the station's staff; a stranger cannot borrow for somebody else's mother; hostile input is a
clear 4xx and changes nothing."""

from __future__ import annotations

import io
import threading
import uuid
from datetime import datetime, timedelta
from typing import Any

import pytest
from PIL import Image
from sqlalchemy import func, select

from api.accounts.models import AccessLog, User
from api.aids import personal, services
from api.aids.models import AidLoan, AidWait, LoanStatus
from api.db import db
from api.notifications.models import Notification
from api.payments.models import OrderStatus, PaymentOrder, PaymentRefund
from tests.conftest import bearer, sandbox_resident, signed_in, wechat_login
from tests.factories import add_elder, bind_family

ADMIN = "/api/v1/admin/aids"


def ok(response: Any, status: int = 200) -> Any:
    assert response.status_code == status, (response.status_code, response.get_json(silent=True))
    return response.get_json()


def code_of(response: Any) -> tuple[int, str | None]:
    body = response.get_json(silent=True) or {}
    return response.status_code, body.get("code")


def messages_to(user_id: Any, kind: str) -> list[Notification]:
    db.session.expire_all()
    return list(
        db.session.scalars(
            select(Notification).where(Notification.user_id == uuid.UUID(str(user_id)), Notification.kind == kind)
        )
    )


def live_loans() -> int:
    db.session.expire_all()
    return db.session.scalar(select(func.count()).select_from(AidLoan).where(AidLoan.status.in_(("reserved", "lent"))))


def make_station(client: Any, world: Any, admin: dict[str, Any], staff: dict[str, Any], area: str = "KJ01-01") -> dict:
    """The catalogue (admins) and a station of `area` with two wheelchairs, one walker and one bed (its staff)."""
    kinds = {}
    for code, name, deposit, days in (
        ("wheelchair", "轮椅", 20000, 30),
        ("walker", "助行器", 0, 30),
        ("hospital_bed", "护理床", 0, 90),
    ):
        existing = {t["code"]: t for t in ok(client.get("/api/v1/aids/types", headers=admin["headers"]))["items"]}
        kinds[code] = existing.get(code) or ok(
            client.post(
                f"{ADMIN}/types",
                json={"code": code, "name": name, "deposit_fen": deposit, "loan_days": days},
                headers=admin["headers"],
            ),
            201,
        )
    body = {"area_id": str(world.areas[area].id), "name": f"{area}社区服务站", "address": "控江路1号底层"}
    station = ok(client.post(f"{ADMIN}/locations", json=body, headers=staff["headers"]), 201)
    items: dict[str, list[dict]] = {}
    for code, count in (("wheelchair", 2), ("walker", 1), ("hospital_bed", 1)):
        for number in range(1, count + 1):
            item = {
                "type_id": kinds[code]["id"],
                "location_id": station["id"],
                "asset_tag": f"{area}-{code}-{number}-{uuid.uuid4().hex[:4]}",
            }
            items.setdefault(code, []).append(
                ok(client.post(f"{ADMIN}/items", json=item, headers=staff["headers"]), 201)
            )
    return {"station": station, "types": kinds, "items": items}


@pytest.fixture
def station(client, world, admin, kj01_staff):
    return make_station(client, world, admin, kj01_staff)


@pytest.fixture
def family(app, world, settings):
    """王阿婆 of KJ01/101 and her son 张三 (a confirmed family member); 李四, a stranger to her."""
    son = sandbox_resident(app, "zhangsan")
    mother = add_elder(world.room("KJ01/101"))
    bind_family(mother, son)
    db.session.commit()
    stranger = sandbox_resident(app, "lisi")
    db.session.commit()
    return {
        "son": signed_in(son, settings),
        "stranger": signed_in(stranger, settings),
        "elder_id": str(mother.id),
    }


def reserve(client: Any, who: dict[str, Any], station: dict, kind: str, **extra: Any) -> Any:
    body = {"type_id": station["types"][kind]["id"], "location_id": station["station"]["id"], **extra}
    return client.post("/api/v1/aids/reservations", json=body, headers=who["headers"])


def pay(client: Any, who: dict[str, Any], loan: dict[str, Any], outcome: str = "paid") -> None:
    ok(
        client.post(
            f"/api/v1/payments/{loan['order_id']}/sandbox-complete", json={"outcome": outcome}, headers=who["headers"]
        )
    )


def photo(client: Any, headers: dict[str, str]) -> str:
    buffer = io.BytesIO()
    Image.new("RGB", (40, 30), (30, 90, 200)).save(buffer, "JPEG")
    response = client.post(
        "/api/v1/media",
        data={"file": (io.BytesIO(buffer.getvalue()), "chair.jpg", "image/jpeg")},
        headers=headers,
        content_type="multipart/form-data",
    )
    return ok(response, 201)["id"]


def run(app: Any, job: Any, when: datetime) -> int:
    with app.app_context():
        done = job(when)
        db.session.commit()
    return done


def free(client: Any, who: dict[str, Any], station: dict, kind: str) -> int:
    rows = ok(client.get("/api/v1/aids/availability", headers=who["headers"]))["items"]
    [row] = [r for r in rows if r["location"]["id"] == station["station"]["id"] and r["type"]["code"] == kind]
    return row["available"]


# ------------------------------------------------------------------------------------------------
# The whole loan
# ------------------------------------------------------------------------------------------------


@pytest.mark.smoke
def test_a_son_reserves_a_wheelchair_for_his_mother_staff_lend_it_she_is_reminded_returns_it_and_the_deposit_comes_back(
    app, client, station, family, kj01_staff
):
    son = family["son"]
    assert free(client, son, station, "wheelchair") == 2
    made = ok(reserve(client, son, station, "wheelchair", elder_id=family["elder_id"]), 201)
    assert (made["status"], made["deposit_fen"], made["elder_id"]) == ("reserved", 20000, family["elder_id"])
    assert made["hold_until"] and made["order_id"] and not made["deposit_paid"]
    assert free(client, son, station, "wheelchair") == 1
    assert messages_to(son["user"]["id"], "aid_reserved")

    lend_url = f"{ADMIN}/loans/{made['id']}/lend"
    unpaid = client.post(lend_url, json={"condition_note": "完好"}, headers=kj01_staff["headers"])
    assert code_of(unpaid) == (409, "aid_deposit_unpaid")
    pay(client, son, made)

    picture = photo(client, kj01_staff["headers"])
    lent = ok(
        client.post(
            lend_url,
            json={"condition_note": "车况完好，左侧扶手有轻微划痕", "media_ids": [picture]},
            headers=kj01_staff["headers"],
        )
    )
    assert lent["status"] == "lent" and lent["deposit_paid"]
    due = datetime.fromisoformat(lent["due_at"])
    assert timedelta(days=29, hours=23) < due - datetime.fromisoformat(lent["lent_at"]) <= timedelta(days=30)
    seen = ok(client.get(f"/api/v1/aids/loans/{made['id']}", headers=son["headers"]))
    assert seen["lend_note"].startswith("车况完好") and seen["lend_photos"][0]["url"]

    # The reminder comes two days before the due date, once.
    assert run(app, services.remind_due, due - timedelta(days=3)) == 0
    assert run(app, services.remind_due, due - timedelta(days=1)) == 1
    assert run(app, services.remind_due, due - timedelta(hours=20)) == 0
    [reminder] = messages_to(son["user"]["id"], "aid_due_soon")
    assert "王阿婆" in reminder.body and "轮椅" in reminder.body

    returned = ok(
        client.post(
            f"{ADMIN}/loans/{made['id']}/return",
            json={"condition_note": "归还时完好"},
            headers=kj01_staff["headers"],
        )
    )
    assert (returned["status"], returned["refund_fen"], returned["deduction_fen"]) == ("returned", 20000, 0)
    db.session.expire_all()
    order = db.session.get(PaymentOrder, uuid.UUID(made["order_id"]))
    assert order.refunded_fen == 20000
    again = client.post(f"{ADMIN}/loans/{made['id']}/return", json={}, headers=kj01_staff["headers"])
    assert code_of(again) == (409, "aid_loan_not_changeable")
    db.session.expire_all()
    assert db.session.get(PaymentOrder, order.id).refunded_fen == 20000
    assert db.session.scalar(select(func.count()).select_from(PaymentRefund)) == 1
    assert messages_to(son["user"]["id"], "aid_returned")
    assert free(client, son, station, "wheelchair") == 2


def test_a_damaged_return_keeps_the_deduction_refunds_the_rest_and_the_chair_waits_for_repair(
    client, station, family, kj01_staff
):
    son = family["son"]
    made = ok(reserve(client, son, station, "wheelchair"), 201)
    pay(client, son, made)
    ok(client.post(f"{ADMIN}/loans/{made['id']}/lend", json={}, headers=kj01_staff["headers"]))
    url = f"{ADMIN}/loans/{made['id']}/return"
    too_much = client.post(url, json={"damaged": True, "deduction_fen": 20001}, headers=kj01_staff["headers"])
    no_reason = client.post(url, json={"damaged": True, "deduction_fen": 5000}, headers=kj01_staff["headers"])
    assert code_of(too_much)[0] == 422 and code_of(no_reason)[0] == 422
    assert live_loans() == 1
    back = ok(
        client.post(
            url,
            json={"damaged": True, "deduction_fen": 5000, "deduction_reason": "刹车损坏", "condition_note": "刹车失灵"},
            headers=kj01_staff["headers"],
        )
    )
    assert (back["damaged"], back["deduction_fen"], back["refund_fen"]) == (True, 5000, 15000)
    item = ok(client.get(f"{ADMIN}/items/{back['item_id']}", headers=kj01_staff["headers"]))
    assert item["condition"] == "needs_repair"
    assert free(client, son, station, "wheelchair") == 1  # the broken one is not lendable


# ------------------------------------------------------------------------------------------------
# Who may borrow for whom; what is taken cannot be taken twice
# ------------------------------------------------------------------------------------------------


@pytest.mark.smoke
def test_only_the_elder_or_a_confirmed_family_member_borrows_for_her_and_nothing_is_held_otherwise(
    client, station, family
):
    stranger = family["stranger"]
    refused = reserve(client, stranger, station, "walker", elder_id=family["elder_id"])
    unknown = reserve(client, stranger, station, "walker", elder_id=str(uuid.uuid4()))
    assert code_of(refused) == (403, "aid_not_for_elder") and code_of(unknown) == (403, "aid_not_for_elder")
    assert live_loans() == 0
    own = ok(reserve(client, stranger, station, "walker"), 201)
    assert own["elder_id"] is None and own["deposit_fen"] == 0 and own["order_id"] is None
    # The son does not see a stranger's loan; the stranger does not see the mother's.
    assert client.get(f"/api/v1/aids/loans/{own['id']}", headers=family["son"]["headers"]).status_code == 404


@pytest.mark.smoke
def test_an_aid_already_lent_out_is_a_409_and_nothing_changes(client, station, family, kj01_staff):
    son, stranger = family["son"], family["stranger"]
    bed = station["items"]["hospital_bed"][0]
    made = ok(reserve(client, son, station, "hospital_bed", elder_id=family["elder_id"]), 201)
    ok(client.post(f"{ADMIN}/loans/{made['id']}/lend", json={}, headers=kj01_staff["headers"]))
    before = live_loans()
    named = client.post("/api/v1/aids/reservations", json={"item_id": bed["id"]}, headers=stranger["headers"])
    assert code_of(named) == (409, "aid_already_lent")
    any_bed = reserve(client, stranger, station, "hospital_bed")
    assert code_of(any_bed) == (409, "aid_unavailable") and "护理床" in any_bed.get_json()["message"]
    assert live_loans() == before
    lend_again = client.post(f"{ADMIN}/loans/{made['id']}/lend", json={}, headers=kj01_staff["headers"])
    assert code_of(lend_again) == (409, "aid_loan_not_changeable")


def test_renewal_is_once_while_nobody_waits_and_whoever_waits_is_told_when_it_comes_back(
    client, station, family, kj01_staff
):
    son, stranger = family["son"], family["stranger"]
    made = ok(reserve(client, son, station, "walker"), 201)
    ok(client.post(f"{ADMIN}/loans/{made['id']}/lend", json={}, headers=kj01_staff["headers"]))
    renewed = ok(client.post(f"/api/v1/aids/loans/{made['id']}/renew", headers=son["headers"]))
    assert renewed["renewals"] == 1
    twice = client.post(f"/api/v1/aids/loans/{made['id']}/renew", headers=son["headers"])
    assert code_of(twice) == (409, "aid_renewal_refused")

    other = ok(reserve(client, stranger, station, "hospital_bed"), 201)
    ok(client.post(f"{ADMIN}/loans/{other['id']}/lend", json={}, headers=kj01_staff["headers"]))
    waits = {"type_id": station["types"]["hospital_bed"]["id"], "location_id": station["station"]["id"]}
    ok(client.post("/api/v1/aids/waits", json=waits, headers=son["headers"]), 201)
    assert code_of(client.post("/api/v1/aids/waits", json=waits, headers=son["headers"])) == (
        409,
        "aid_already_waiting",
    )
    refused = client.post(f"/api/v1/aids/loans/{other['id']}/renew", headers=stranger["headers"])
    assert code_of(refused) == (409, "aid_renewal_refused") and "等候" in refused.get_json()["message"]
    ok(client.post(f"{ADMIN}/loans/{other['id']}/return", json={}, headers=kj01_staff["headers"]))
    [told] = messages_to(son["user"]["id"], "aid_available")
    assert "护理床" in told.body
    assert db.session.scalar(select(AidWait.ended_at)) is not None


def test_a_reservation_not_picked_up_expires_and_an_unpaid_deposit_frees_the_chair(app, client, station, family):
    son, stranger = family["son"], family["stranger"]
    walker = ok(reserve(client, son, station, "walker"), 201)
    chair = ok(reserve(client, stranger, station, "wheelchair"), 201)
    pay(client, stranger, chair, outcome="failed")  # the deposit order closes: the chair is free again
    db.session.expire_all()
    assert db.session.get(AidLoan, uuid.UUID(chair["id"])).status == LoanStatus.EXPIRED
    assert free(client, son, station, "wheelchair") == 2

    paid = ok(reserve(client, son, station, "wheelchair"), 201)
    pay(client, son, paid)
    later = datetime.fromisoformat(walker["hold_until"]) + timedelta(minutes=1)
    assert run(app, services.expire_reservations, later) == 2
    db.session.expire_all()
    assert {db.session.get(AidLoan, uuid.UUID(x["id"])).status for x in (walker, paid)} == {LoanStatus.EXPIRED}
    assert db.session.get(PaymentOrder, uuid.UUID(paid["order_id"])).refunded_fen == 20000
    assert len(messages_to(son["user"]["id"], "aid_reservation_ended")) == 2
    assert run(app, services.expire_reservations, later) == 0


# ------------------------------------------------------------------------------------------------
# Overdue: the station's staff follow it up
# ------------------------------------------------------------------------------------------------


@pytest.mark.smoke
def test_an_overdue_bed_is_escalated_to_the_stations_staff_once_and_not_to_another_committees(
    app, client, world, station, family, kj01_staff, kj02_staff
):
    son = family["son"]
    made = ok(reserve(client, son, station, "hospital_bed", elder_id=family["elder_id"]), 201)
    lent = ok(client.post(f"{ADMIN}/loans/{made['id']}/lend", json={}, headers=kj01_staff["headers"]))
    due = datetime.fromisoformat(lent["due_at"])
    assert run(app, services.escalate_overdue, due - timedelta(minutes=1)) == 0
    assert run(app, services.escalate_overdue, due + timedelta(hours=1)) == 1
    assert run(app, services.escalate_overdue, due + timedelta(hours=2)) == 0
    [staff_note] = messages_to(world.users["kj01"].id, "aid_overdue_staff")
    assert "护理床" in staff_note.body and station["items"]["hospital_bed"][0]["asset_tag"] in staff_note.body
    assert messages_to(world.users["kj02"].id, "aid_overdue_staff") == []
    assert len(messages_to(son["user"]["id"], "aid_overdue")) == 1
    overdue = ok(client.get(f"{ADMIN}/loans", query_string={"overdue": "true"}, headers=kj01_staff["headers"]))
    # `overdue` is judged by the clock: the bed is due in 90 days, so nothing is overdue yet today.
    assert overdue["items"] == []
    listed = ok(client.get(f"{ADMIN}/loans", headers=kj01_staff["headers"]))["items"]
    assert [row["id"] for row in listed] == [made["id"]] and listed[0]["escalated_at"]
    assert listed[0]["elder_name"] == "王阿婆"
    theirs = ok(client.get(f"{ADMIN}/loans", headers=kj02_staff["headers"]))["items"]
    assert theirs == []
    stock = {
        row["type"]["code"]: row for row in ok(client.get(f"{ADMIN}/stock", headers=kj01_staff["headers"]))["items"]
    }
    assert {k: (v["items"], v["free"], v["lent"]) for k, v in stock.items()} == {
        "hospital_bed": (1, 0, 1),
        "walker": (1, 1, 0),
        "wheelchair": (2, 2, 0),
    }
    assert ok(client.get(f"{ADMIN}/stock", headers=kj02_staff["headers"]))["items"] == []
    assert code_of(client.get(f"{ADMIN}/loans/{made['id']}", headers=kj02_staff["headers"])) == (404, "not_found")


def test_staff_see_the_borrowers_phone_masked(client, station, family, kj01_staff):
    user = db.session.get(User, uuid.UUID(family["son"]["user"]["id"]))
    user.phone = "13912345678"
    db.session.commit()
    made = ok(reserve(client, family["son"], station, "walker"), 201)
    seen = ok(client.get(f"{ADMIN}/loans/{made['id']}", headers=kj01_staff["headers"]))
    assert seen["borrower_phone"] == "139****5678"
    assert "13912345678" not in str(seen)
    # The read is on the trail the son can see in /me/access-log.
    db.session.expire_all()
    trail = db.session.scalars(select(AccessLog).where(AccessLog.subject_id == user.id)).all()
    assert [row.fields for row in trail] == [["nickname", "phone_masked"]]


# ------------------------------------------------------------------------------------------------
# Personal data
# ------------------------------------------------------------------------------------------------


def test_a_live_loan_blocks_deletion_and_erasure_keeps_the_loan_without_the_borrower(
    app, client, station, family, kj01_staff
):
    son = family["son"]
    made = ok(reserve(client, son, station, "walker"), 201)
    user = db.session.get(User, uuid.UUID(son["user"]["id"]))
    with app.app_context():
        assert personal.blockers(user)
        assert personal.export(user)["loans"][0]["type"] == "助行器"
    ok(client.post(f"{ADMIN}/loans/{made['id']}/lend", json={}, headers=kj01_staff["headers"]))
    ok(client.post(f"{ADMIN}/loans/{made['id']}/return", json={}, headers=kj01_staff["headers"]))
    with app.app_context():
        user = db.session.get(User, uuid.UUID(son["user"]["id"]))
        assert personal.blockers(user) == []
        personal.erase(user)
        db.session.commit()
    db.session.expire_all()
    kept = db.session.get(AidLoan, uuid.UUID(made["id"]))
    assert kept.user_id is None and kept.status == LoanStatus.RETURNED


# ------------------------------------------------------------------------------------------------
# Hostile input
# ------------------------------------------------------------------------------------------------


@pytest.mark.smoke
def test_hostile_input_is_a_clear_4xx_and_changes_nothing(client, station, family, kj01_staff, admin):
    son = family["son"]
    h = son["headers"]
    assert client.get("/api/v1/aids/loans/not-a-uuid", headers=h).status_code == 404
    assert client.get(f"/api/v1/aids/loans/{uuid.uuid4()}", headers=h).status_code == 404
    bad = [
        {"type_id": "x", "location_id": station["station"]["id"]},
        {"item_id": 12},
        {"type_id": station["types"]["walker"]["id"]},  # which station?
        {"type_id": str(uuid.uuid4()), "location_id": station["station"]["id"]},
        {"item_id": str(uuid.uuid4())},
    ]
    for body in bad:
        answer = client.post("/api/v1/aids/reservations", json=body, headers=h)
        assert answer.status_code == 422, (body, answer.get_json())
    made = ok(reserve(client, son, station, "walker"), 201)
    surrogate = client.post(
        f"{ADMIN}/loans/{made['id']}/lend",
        data='{"condition_note": "\\ud800"}',
        headers={**kj01_staff["headers"], "Content-Type": "application/json"},
    )
    assert surrogate.status_code == 422
    far = client.get(
        f"{ADMIN}/loans", query_string={"due_before": "9999-12-31T00:00:00+08:00"}, headers=kj01_staff["headers"]
    )
    assert far.status_code == 422
    huge = client.post(
        f"{ADMIN}/types",
        json={"code": "x_big", "name": "大", "deposit_fen": 10**30, "loan_days": 30},
        headers=admin["headers"],
    )
    assert huge.status_code == 422
    assert live_loans() == 1 and db.session.get(AidLoan, uuid.UUID(made["id"])).status == LoanStatus.RESERVED
    strangers_photo = client.post(
        f"{ADMIN}/loans/{made['id']}/lend", json={"media_ids": [str(uuid.uuid4())]}, headers=kj01_staff["headers"]
    )
    assert strangers_photo.status_code == 422
    db.session.expire_all()
    assert db.session.get(AidLoan, uuid.UUID(made["id"])).status == LoanStatus.RESERVED


def test_the_catalogue_is_the_admins_and_stations_are_placed_in_the_staff_members_area(
    client, world, admin, kj01_staff
):
    refused = client.post(
        f"{ADMIN}/types", json={"code": "cane", "name": "手杖", "loan_days": 30}, headers=kj01_staff["headers"]
    )
    assert code_of(refused) == (403, "forbidden")
    made = ok(
        client.post(f"{ADMIN}/types", json={"code": "cane", "name": "手杖", "loan_days": 30}, headers=admin["headers"]),
        201,
    )
    dup = client.post(
        f"{ADMIN}/types", json={"code": "cane", "name": "手杖", "loan_days": 30}, headers=admin["headers"]
    )
    assert dup.status_code == 422
    elsewhere = client.post(
        f"{ADMIN}/locations",
        json={"area_id": str(world.areas["KJ02"].id), "name": "别处", "address": "某路"},
        headers=kj01_staff["headers"],
    )
    assert elsewhere.status_code == 422
    assert made["deposit_fen"] == 0


# ------------------------------------------------------------------------------------------------
# Concurrency on PostgreSQL: the last walker, reserved by six at the same moment
# ------------------------------------------------------------------------------------------------


@pytest.mark.services
@pytest.mark.commits
def test_the_last_walker_cannot_be_reserved_twice_at_the_same_moment(app, client, world, admin, kj01_staff):
    if db.dialect != "postgresql":
        pytest.skip("row locks under concurrent requests are PostgreSQL's")
    station = make_station(client, world, admin, kj01_staff)
    people = [bearer(wechat_login(client, f"walker-rush-{n}#1")["access_token"]) for n in range(6)]
    body = {"type_id": station["types"]["walker"]["id"], "location_id": station["station"]["id"]}
    barrier = threading.Barrier(len(people))
    answers: list[tuple[int, str | None]] = []

    def ask(headers: dict[str, str]) -> None:
        mine = app.test_client()
        barrier.wait()
        answers.append(code_of(mine.post("/api/v1/aids/reservations", json=body, headers=headers)))

    threads = [threading.Thread(target=ask, args=(h,)) for h in people]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    assert sorted(answers) == sorted([(201, None)] + [(409, "aid_unavailable")] * 5), answers
    walker = uuid.UUID(station["items"]["walker"][0]["id"])
    db.session.expire_all()
    live = db.session.scalar(
        select(func.count()).select_from(AidLoan).where(AidLoan.item_id == walker, AidLoan.status == "reserved")
    )
    assert live == 1
    assert (
        db.session.scalar(
            select(func.count()).select_from(PaymentOrder).where(PaymentOrder.status == OrderStatus.PENDING)
        )
        == 0
    )


def test_a_deposit_paid_after_its_reservation_ended_comes_back_in_full(client, station, family):
    stranger = family["stranger"]
    chair = ok(reserve(client, stranger, station, "wheelchair"), 201)
    pay(client, stranger, chair, outcome="failed")  # the order closes, the reservation ends
    pay(client, stranger, chair)  # WeChat Pay took the money anyway
    db.session.expire_all()
    order = db.session.get(PaymentOrder, uuid.UUID(chair["order_id"]))
    assert (order.status, order.refunded_fen) == (OrderStatus.PAID, 20000)
    assert db.session.get(AidLoan, uuid.UUID(chair["id"])).status == LoanStatus.EXPIRED


def test_condition_photos_are_seen_by_the_station_and_the_family_not_by_a_stranger(
    client, station, family, kj01_staff, kj02_staff
):
    made = ok(reserve(client, family["son"], station, "walker", elder_id=family["elder_id"]), 201)
    picture = photo(client, kj01_staff["headers"])
    ok(client.post(f"{ADMIN}/loans/{made['id']}/lend", json={"media_ids": [picture]}, headers=kj01_staff["headers"]))
    for who, status in (
        (family["son"], 200),
        (kj01_staff, 200),
        (family["stranger"], 404),
        (kj02_staff, 404),
    ):
        assert client.get(f"/api/v1/media/{picture}", headers=who["headers"]).status_code == status


def test_the_stations_list_of_loans_costs_the_same_statements_for_two_borrowers_as_for_one(
    client, station, family, kj01_staff
):
    """Each loan shows its borrower, elder and condition photos: a page loads them with it, not per loan."""
    from tests.test_read_path import statements_of

    staff = kj01_staff["headers"]

    def lend(who: dict[str, Any], kind: str, **extra: Any) -> None:
        made = ok(reserve(client, who, station, kind, **extra), 201)
        body = {"condition_note": "完好", "media_ids": [photo(client, staff)]}
        ok(client.post(f"{ADMIN}/loans/{made['id']}/lend", json=body, headers=staff))

    lend(family["son"], "walker", elder_id=family["elder_id"])
    one = statements_of(client, f"{ADMIN}/loans", staff)
    mine_one = statements_of(client, "/api/v1/aids/loans", family["son"]["headers"])
    lend(family["stranger"], "hospital_bed")
    listed = ok(client.get(f"{ADMIN}/loans", headers=staff))["items"]
    assert {(loan["borrower_name"], loan["elder_name"], len(loan["lend_photos"])) for loan in listed} == {
        (family["son"]["user"]["nickname"], "王阿婆", 1),
        (family["stranger"]["user"]["nickname"], None, 1),
    }
    assert statements_of(client, f"{ADMIN}/loans", staff) == one
    ok(reserve(client, family["son"], station, "wheelchair"), 201)  # a second loan of his own, photos or not
    assert statements_of(client, "/api/v1/aids/loans", family["son"]["headers"]) == mine_one
