"""Device alerts: a signed batch from the IoT platform becomes one alert per incident, the family is told
in contact order, nobody answering brings staff and then volunteers, and an acknowledgement stops it.

What is asserted is what people notice: the answer the platform gets per event, the messages in each
person's outbox (`Notification` rows — the worker tests show they reach WeChat), the alert's timeline,
and the staff board. Escalation is driven by calling the beat job's service with a later `now`.
"""

from __future__ import annotations

import json
import threading
import time
import uuid
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import func, select

from api.accounts import seed
from api.accounts.models import Area, AreaKind, Role, Room, User
from api.accounts.services import create_staff
from api.alerts import rules, services
from api.alerts.models import Alert, AlertRule, AlertStatus, AlertStep, IotEvent, Severity, StepKind
from api.db import db, utcnow
from api.devices.models import Device, DeviceStatus, DeviceType
from api.eldercare.models import BindingStatus, Elder, FamilyBinding, MonitoringConsent
from api.jobs import forget_pending
from api.notifications import services as outbox
from api.notifications.models import Channel, DeliveryAttempt, Notification
from tests.conftest import STAFF_PASSWORD, bearer, staff_login
from tests.factories import (
    Home,
    add_device,
    add_elder,
    add_family_member,
    bind_family,
    iot_event,
    push,
    pushed,
    signed,
)

SHANGHAI_NOON = datetime(2026, 12, 2, 4, 0, tzinfo=UTC)  # 12:00 in Shanghai
SHANGHAI_23H = datetime(2026, 12, 2, 15, 0, tzinfo=UTC)  # 23:00 in Shanghai


def messages_to(user_id: uuid.UUID) -> list[Notification]:
    db.session.expire_all()
    return list(
        db.session.scalars(
            select(Notification).where(Notification.user_id == user_id).order_by(Notification.created_at)
        )
    )


def alarms_to(user_id: uuid.UUID) -> list[Notification]:
    """Alert messages only (joining a family also brings a "binding confirmed" message)."""
    return [m for m in messages_to(user_id) if m.kind == services.ALERT_KIND]


def the_alert(alert_id: str | uuid.UUID) -> Alert:
    db.session.expire_all()
    alert = db.session.get(Alert, uuid.UUID(str(alert_id)))
    assert alert is not None
    return alert


def steps_of(alert_id: str | uuid.UUID) -> list[tuple[StepKind, int]]:
    db.session.expire_all()
    rows = db.session.scalars(
        select(AlertStep).where(AlertStep.alert_id == uuid.UUID(str(alert_id))).order_by(AlertStep.id)
    )
    return [(s.kind, s.level) for s in rows]


def commit() -> None:
    """Commit what a service did outside a request. The outbox rows stay pending (not handed to the eager
    task runner, which would deliver them inside this very commit): the tests read the outbox itself."""
    forget_pending()
    db.session.commit()


def escalate(settings, after_seconds: float, base: datetime | None = None) -> int:
    steps = services.escalate_due(settings, (base or utcnow()) + timedelta(seconds=after_seconds))
    commit()
    return steps


def who_was_told(alert_id: str | uuid.UUID) -> list[tuple[str, str]]:
    """The chain's steps on the alert's timeline, in order, each with whom its messages went to (the outbox
    rows the step names): `("notified_contact", "王家女儿")`, `("escalated_staff", "kj01-staff")` …"""
    db.session.expire_all()
    steps = db.session.scalars(
        select(AlertStep)
        .where(
            AlertStep.alert_id == uuid.UUID(str(alert_id)),
            AlertStep.kind.in_((StepKind.NOTIFIED_CONTACT, StepKind.ESCALATED_STAFF, StepKind.VOLUNTEERS_REQUESTED)),
        )
        .order_by(AlertStep.at, AlertStep.id)
    ).all()
    told = []
    for step in steps:
        ids = [uuid.UUID(i) for i in step.notification_ids]
        people = db.session.scalars(
            select(User).join(Notification, Notification.user_id == User.id).where(Notification.id.in_(ids))
        ).all()
        told.append((step.kind.value, ",".join(sorted(p.nickname or p.username or "" for p in people))))
    return told


def binding_of(elder_id: uuid.UUID, user_id: uuid.UUID) -> uuid.UUID:
    db.session.expire_all()
    binding_id = db.session.scalar(
        select(FamilyBinding.id).where(
            FamilyBinding.elder_id == elder_id,
            FamilyBinding.user_id == user_id,
            FamilyBinding.status == BindingStatus.CONFIRMED,
        )
    )
    assert binding_id is not None
    return binding_id


def joins_the_family(client, home: Home, who: str, staff_headers: dict[str, str]) -> None:
    """`who` scans an invite the committee made for the elder and is confirmed: the last contact."""
    invite = client.post(f"/api/v1/admin/elders/{home.elder_id}/invites", headers=staff_headers)
    assert invite.status_code == 201, invite.get_json()
    asked = client.post(
        "/api/v1/family-bindings",
        json={"code": invite.get_json()["code"], "relation": "孙辈"},
        headers=home.headers(who),
    )
    assert asked.status_code == 201, asked.get_json()
    confirmed = client.post(f"/api/v1/admin/family-bindings/{asked.get_json()['id']}/confirm", headers=staff_headers)
    assert confirmed.status_code == 200, confirmed.get_json()


# ----------------------------------------------------------------------------------------------------
# The rules, as a table
# ----------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("device_type", "event_type", "value", "expected"),
    [
        ("smoke_detector", "smoke", None, (AlertRule.SMOKE, Severity.CRITICAL)),
        ("gas_detector", "gas", None, (AlertRule.GAS, Severity.CRITICAL)),
        ("arc_fault_breaker", "arc_fault", None, (AlertRule.ARC_FAULT, Severity.CRITICAL)),
        ("water_leak_sensor", "leak", None, (AlertRule.WATER_LEAK, Severity.CRITICAL)),
        ("sos_button", "sos", None, (AlertRule.SOS, Severity.CRITICAL)),
        ("fall_detector", "fall", None, (AlertRule.FALL, Severity.CRITICAL)),
        ("door_sensor", "low_battery", None, (AlertRule.LOW_BATTERY, Severity.NOTICE)),
        (
            "blood_pressure_monitor",
            "blood_pressure",
            {"systolic": 171, "diastolic": 90},
            (AlertRule.BLOOD_PRESSURE, Severity.WARNING),
        ),
        (
            "blood_pressure_monitor",
            "blood_pressure",
            {"systolic": 150, "diastolic": 101},
            (AlertRule.BLOOD_PRESSURE, Severity.WARNING),
        ),
        ("blood_pressure_monitor", "blood_pressure", {"systolic": 150, "diastolic": 95, "pulse": 70}, None),
        ("door_sensor", "open", None, None),
        ("smoke_detector", "heartbeat", {"battery": 80}, None),
        ("smoke_detector", "test", None, None),
    ],
)
def test_rules_table(device_type, event_type, value, expected):
    assert rules.supported(device_type, event_type)
    assert rules.value_errors(event_type, value) == []
    hit = rules.evaluate(event_type, value, rules.Thresholds())
    assert (None if hit is None else (hit.rule, hit.severity)) == expected


def test_an_elders_own_blood_pressure_limits_apply():
    reading = {"systolic": 150, "diastolic": 85}
    assert rules.evaluate("blood_pressure", reading, rules.Thresholds(bp_systolic_max=140)) is not None
    assert rules.evaluate("blood_pressure", reading, rules.Thresholds()) is None


def test_events_a_device_cannot_send_and_bad_readings_are_named():
    assert not rules.supported("door_sensor", "smoke")
    assert not rules.supported("smoke_detector", "open")
    assert not rules.supported("toaster", "heartbeat")
    assert rules.value_errors("blood_pressure", None)
    assert rules.value_errors("blood_pressure", {"systolic": "high", "diastolic": 80})
    assert rules.value_errors("heartbeat", {"battery": 140})


def test_quiet_hours_wrap_over_midnight_and_end_at_seven_in_shanghai():
    assert rules.within(SHANGHAI_23H, "22-7")
    assert rules.within(datetime(2026, 12, 2, 22, 30, tzinfo=UTC), "22-7")  # 06:30 next day local
    assert not rules.within(SHANGHAI_NOON, "22-7")
    assert rules.end_of(SHANGHAI_23H, "22-7") == datetime(2026, 12, 2, 23, 0, tzinfo=UTC)  # 07:00 local
    assert rules.within(SHANGHAI_NOON, "8-20") and not rules.within(SHANGHAI_23H, "8-20")


# ----------------------------------------------------------------------------------------------------
# Signed ingestion: who may push, and what a batch answers
# ----------------------------------------------------------------------------------------------------


def test_a_batch_without_signature_headers_is_refused(client, home):
    body = json.dumps([iot_event("SMK-1", "smoke")]).encode()
    response = client.post("/api/v1/iot/events", data=body, headers={"Content-Type": "application/json"})
    assert response.status_code == 401
    assert response.get_json()["code"] == "iot_signature_missing"


@pytest.mark.parametrize(
    "signing",
    [{"secret": "not-the-secret"}, {"platform": "someone-else"}],
    ids=["wrong secret", "unknown platform"],
)
def test_a_wrongly_signed_batch_is_refused_and_nothing_is_stored(client, home, signing):
    response = push(client, [iot_event("SMK-1", "smoke")], **signing)
    assert response.status_code == 401
    assert response.get_json()["code"] == "iot_signature_invalid"
    assert db.session.scalar(select(func.count()).select_from(IotEvent)) == 0


def test_a_tampered_body_does_not_match_its_signature(client, home):
    body = json.dumps([iot_event("SMK-1", "heartbeat")]).encode()
    headers = signed(body)
    tampered = body.replace(b"heartbeat", b"smoke")
    response = client.post("/api/v1/iot/events", data=tampered, headers=headers)
    assert response.status_code == 401 and response.get_json()["code"] == "iot_signature_invalid"


def test_a_stale_timestamp_is_refused(client, home):
    response = push(client, [iot_event("SMK-1", "smoke")], timestamp=int(time.time()) - 301)
    assert response.status_code == 401
    assert response.get_json()["code"] == "iot_timestamp_stale"


@pytest.mark.smoke
def test_a_replayed_batch_is_refused_and_stores_nothing_twice(client, home):
    body = json.dumps([iot_event("DOOR-1", "open")]).encode()
    headers = signed(body)
    first = client.post("/api/v1/iot/events", data=body, headers=headers)
    again = client.post("/api/v1/iot/events", data=body, headers=headers)
    assert first.status_code == 200
    assert again.status_code == 409 and again.get_json()["code"] == "iot_batch_replayed"
    assert db.session.scalar(select(func.count()).select_from(IotEvent)) == 1


def test_a_batch_whose_commit_failed_can_be_sent_again_as_it_was(client, home):
    """The database goes away at commit: the platform's identical retry must not be refused as a replay."""
    from sqlalchemy import event as orm_event
    from sqlalchemy.exc import OperationalError
    from sqlalchemy.orm import Session

    failures = []

    def database_gone_once(session):
        if not failures:
            failures.append(session)
            raise OperationalError("COMMIT", {}, Exception("server closed the connection unexpectedly"))

    body = json.dumps([iot_event("SMK-1", "smoke")]).encode()
    headers = signed(body)
    orm_event.listen(Session, "before_commit", database_gone_once)
    try:
        first = client.post("/api/v1/iot/events", data=body, headers=headers)
    finally:
        orm_event.remove(Session, "before_commit", database_gone_once)
    assert first.status_code == 503 and first.get_json()["code"] == "service_unavailable"
    assert db.session.scalar(select(func.count()).select_from(Alert)) == 0

    again = client.post("/api/v1/iot/events", data=body, headers=headers)
    assert again.status_code == 200, again.get_json()
    assert again.get_json()["counts"]["accepted"] == 1
    assert db.session.scalar(select(func.count()).select_from(Alert)) == 1
    assert len(messages_to(home.daughter)) == 1


def test_without_a_platform_secret_ingestion_refuses_to_work(client, home, settings):
    settings.iot_platform_secrets = {}
    response = push(client, [iot_event("SMK-1", "smoke")])
    assert response.status_code == 503 and response.get_json()["code"] == "iot_not_configured"


@pytest.mark.parametrize("body", [b'{"device_serial": "SMK-1"}', b"not json at all", b'"a string"'])
def test_a_body_that_is_not_an_array_is_a_422(client, home, body):
    response = client.post("/api/v1/iot/events", data=body, headers=signed(body))
    assert response.status_code == 422
    assert response.get_json()["code"] == "iot_batch_invalid"


def test_more_than_a_thousand_events_is_refused_with_the_limit(client, home):
    response = push(client, [iot_event("DOOR-1", "heartbeat") for _ in range(1001)])
    assert response.status_code == 413
    body = response.get_json()
    assert body["code"] == "iot_batch_too_large"
    assert db.session.scalar(select(func.count()).select_from(IotEvent)) == 0


def test_malformed_items_unknown_devices_and_impossible_events_are_reported_and_the_good_ones_kept(client, home):
    good_open = iot_event("DOOR-1", "open")
    good_reading = iot_event("BP-1", "blood_pressure", {"systolic": 120, "diastolic": 80, "pulse": 70})
    batch = [
        good_open,
        {"device_serial": "DOOR-1", "type": "open"},  # no event id, no time
        iot_event("NOPE-404", "smoke"),
        iot_event("OLD-1", "smoke"),  # retired: no longer ingested
        iot_event("DOOR-1", "smoke"),  # a door sensor cannot smell smoke
        iot_event("BP-1", "blood_pressure", {"systolic": "high"}),
        {**iot_event("DOOR-1", "close"), "occurred_at": "2026-12-02 10:00"},  # no offset
        "not an object",
        good_reading,
        dict(good_open),  # the same event id twice in one batch
    ]
    answer = pushed(client, batch)

    statuses = [r["status"] for r in answer["results"]]
    assert statuses == [
        "accepted",
        "invalid",
        "unknown_device",
        "unknown_device",
        "unsupported_type",
        "invalid",
        "invalid",
        "invalid",
        "accepted",
        "duplicate",
    ]
    assert set(answer["results"][1]["errors"]) == {"event_id", "occurred_at"}
    assert "value" in answer["results"][5]["errors"]
    assert answer["counts"] == {
        "accepted": 2,
        "duplicate": 1,
        "unknown_device": 2,
        "invalid": 4,
        "unsupported_type": 1,
    }
    stored = dict(db.session.execute(select(IotEvent.event_id, IotEvent.value)).all())
    assert stored == {good_open["event_id"]: None, good_reading["event_id"]: good_reading["value"]}


def test_an_event_pushed_again_in_a_later_batch_is_a_duplicate(client, home):
    smoke = iot_event("SMK-1", "smoke")
    first = pushed(client, [smoke])
    response = push(client, [smoke], timestamp=int(time.time()) - 100)  # signed anew: a re-push, not a replay
    assert response.status_code == 200
    again = response.get_json()
    assert first["results"][0]["status"] == "accepted"
    assert again["results"][0]["status"] == "duplicate"
    assert the_alert(first["results"][0]["alert_id"]).count == 1


def test_heartbeats_update_last_seen_and_battery_and_an_open_door_counts_as_activity(client, home):
    at = utcnow() - timedelta(minutes=5)
    pushed(client, [iot_event("DOOR-1", "heartbeat", {"battery": 64}, at=at), iot_event("DOOR-1", "open", at=at)])
    db.session.expire_all()
    door = db.session.get(Device, home.devices["DOOR-1"])
    assert door.battery_percent == 64
    assert abs((door.last_seen_at - at).total_seconds()) < 1
    assert abs((door.last_activity_at - at).total_seconds()) < 1
    # An older event arriving late does not move "last seen" backwards.
    pushed(client, [iot_event("DOOR-1", "heartbeat", at=at - timedelta(hours=1))])
    db.session.expire_all()
    assert abs((db.session.get(Device, home.devices["DOOR-1"]).last_seen_at - at).total_seconds()) < 1


# ----------------------------------------------------------------------------------------------------
# One alert per incident, the family told in order
# ----------------------------------------------------------------------------------------------------


@pytest.mark.smoke
def test_smoke_tells_the_first_family_contact_once_however_often_it_repeats(client, home):
    answer = pushed(client, [iot_event("SMK-1", "smoke")])
    alert_id = answer["results"][0]["alert_id"]
    assert answer["alerts_opened"] == 1

    for _ in range(5):  # 50 repeats within a minute, in batches of ten
        repeat = pushed(client, [iot_event("SMK-1", "smoke") for _ in range(10)])
        assert {r["alert_id"] for r in repeat["results"]} == {alert_id}
        assert repeat["alerts_opened"] == 0

    alert = the_alert(alert_id)
    assert (alert.rule, alert.severity, alert.status, alert.count) == (
        AlertRule.SMOKE,
        Severity.CRITICAL,
        AlertStatus.OPEN,
        51,
    )
    [message] = messages_to(home.daughter)
    assert message.kind == "device_alert"
    assert message.page == f"pages/alerts/detail?id={alert_id}"
    assert message.context["elder_name"] == "王阿婆" and message.context["device_type"] == "烟感"
    assert messages_to(home.son) == []
    assert steps_of(alert_id) == [(StepKind.NOTIFIED_CONTACT, 1)]
    assert db.session.scalar(select(func.count()).select_from(Alert)) == 1


def test_the_alarms_messages_are_in_the_outbox_of_the_homes_committee_only(client, home, kj01_staff, kj02_staff):
    """The daughter lives in no flat of the subdistrict: KJ01 staff still see the message, because the alarm
    it is about is in KJ01; KJ02 staff do not."""
    alert_id = pushed(client, [iot_event("SMK-1", "smoke")])["results"][0]["alert_id"]

    def outbox(staff):
        items = client.get("/api/v1/admin/notifications", headers=staff["headers"]).get_json()["items"]
        return [(m["user_id"], m["page"]) for m in items]

    assert outbox(kj01_staff) == [(str(home.daughter), f"pages/alerts/detail?id={alert_id}")]
    assert outbox(kj02_staff) == []


@pytest.mark.smoke
def test_nobody_acknowledging_brings_the_second_contact_then_staff_then_volunteers_each_once(
    client, home, settings, world
):
    alert_id = pushed(client, [iot_event("SMK-1", "smoke")])["results"][0]["alert_id"]
    kj01, kj02 = world.users["kj01"].id, world.users["kj02"].id

    assert escalate(settings, 60) == 0  # not yet: three minutes for a critical alert
    assert messages_to(home.son) == []

    assert escalate(settings, 181) == 1
    assert len(messages_to(home.son)) == 1
    assert escalate(settings, 181) == 0  # the same moment again: nothing twice
    assert len(messages_to(home.son)) == 1

    assert escalate(settings, 362) == 1
    [to_staff] = messages_to(kj01)  # staff whose area holds the home (no shift on record)
    assert to_staff.context["alert_type"] == "烟雾报警（家属未确认）"  # both were told; neither answered
    assert messages_to(kj02) == []  # …and not the staff of another committee

    assert escalate(settings, 543) == 1
    volunteers = messages_to(kj01)
    assert len(volunteers) == 2 and "志愿者" in volunteers[-1].context["alert_type"]

    assert escalate(settings, 3600) == 0  # the chain has ended
    assert steps_of(alert_id) == [
        (StepKind.NOTIFIED_CONTACT, 1),
        (StepKind.NOTIFIED_CONTACT, 2),
        (StepKind.ESCALATED_STAFF, 3),
        (StepKind.VOLUNTEERS_REQUESTED, 4),
    ]
    assert len(messages_to(home.daughter)) == 1
    assert the_alert(alert_id).next_escalation_at is None


def test_the_staff_step_goes_to_whoever_is_on_duty_for_the_area(client, home, settings, world, kj01_staff):
    on_duty = User(nickname="网格员小李", username="grid-li")
    on_duty.grant(Role.STAFF)
    on_duty.staff_area = world.areas["KJ01-01"]
    db.session.add(on_duty)
    db.session.commit()
    now = utcnow()
    created = client.post(
        "/api/v1/admin/duty-shifts",
        json={
            "user_id": str(on_duty.id),
            "area_id": str(world.areas["KJ01-01"].id),
            "starts_at": (now - timedelta(hours=1)).isoformat(),
            "ends_at": (now + timedelta(hours=8)).isoformat(),
        },
        headers=kj01_staff["headers"],
    )
    assert created.status_code == 201, created.get_json()

    pushed(client, [iot_event("SMK-1", "smoke")])
    escalate(settings, 181)
    escalate(settings, 362)
    assert len(messages_to(on_duty.id)) == 1
    assert messages_to(world.users["kj01"].id) == []  # someone is on duty: the rest of the office is not woken


def test_an_acknowledgement_stops_the_chain_and_acknowledging_again_changes_nothing(client, home, settings):
    alert_id = pushed(client, [iot_event("SOS-1", "sos")])["results"][0]["alert_id"]

    first = client.post(f"/api/v1/alerts/{alert_id}/ack", headers=home.headers("daughter"))
    again = client.post(f"/api/v1/alerts/{alert_id}/ack", headers=home.headers("son"))

    assert first.status_code == 200 and again.status_code == 200
    assert first.get_json()["status"] == "acknowledged"
    assert again.get_json()["acknowledged_by_id"] == str(home.daughter)
    assert escalate(settings, 3600) == 0
    assert messages_to(home.son) == []
    assert steps_of(alert_id) == [(StepKind.NOTIFIED_CONTACT, 1), (StepKind.ACKNOWLEDGED, 0)]
    # Repeats while someone is on it count on the same alert and tell nobody.
    pushed(client, [iot_event("SOS-1", "sos")])
    assert the_alert(alert_id).count == 2 and len(messages_to(home.daughter)) == 1


def test_a_family_member_of_another_elder_can_neither_see_nor_acknowledge(client, home):
    alert_id = pushed(client, [iot_event("SMK-1", "smoke")])["results"][0]["alert_id"]
    for response in (
        client.get(f"/api/v1/alerts/{alert_id}", headers=home.headers("stranger")),
        client.post(f"/api/v1/alerts/{alert_id}/ack", headers=home.headers("stranger")),
        client.post(
            f"/api/v1/alerts/{alert_id}/resolve",
            json={"resolution": "false_alarm", "note": "x"},
            headers=home.headers("stranger"),
        ),
    ):
        assert response.status_code == 404 and response.get_json()["code"] == "not_found"
    assert the_alert(alert_id).status == AlertStatus.OPEN


def test_staff_act_on_alerts_of_their_own_area_only(client, home, kj01_staff, kj02_staff):
    alert_id = pushed(client, [iot_event("SMK-1", "smoke")])["results"][0]["alert_id"]
    other = client.post(f"/api/v1/alerts/{alert_id}/ack", headers=kj02_staff["headers"])
    assert other.status_code == 404 and other.get_json()["code"] == "not_found"
    assert the_alert(alert_id).status == AlertStatus.OPEN
    mine = client.post(f"/api/v1/alerts/{alert_id}/ack", headers=kj01_staff["headers"])
    assert mine.status_code == 200 and mine.get_json()["status"] == "acknowledged"


def test_resolving_needs_a_note_and_happens_once(client, home):
    alert_id = pushed(client, [iot_event("SMK-1", "smoke")])["results"][0]["alert_id"]
    url = f"/api/v1/alerts/{alert_id}/resolve"

    for body in ({"resolution": "false_alarm"}, {"resolution": "false_alarm", "note": "   "}, {"note": "做饭"}):
        response = client.post(url, json=body, headers=home.headers("daughter"))
        assert response.status_code == 422, body
        assert response.get_json()["code"] == "validation_failed"
    assert the_alert(alert_id).status == AlertStatus.OPEN

    done = client.post(url, json={"resolution": "false_alarm", "note": "做饭烟大"}, headers=home.headers("daughter"))
    assert done.status_code == 200
    body = done.get_json()
    assert (body["status"], body["resolution"], body["resolution_note"]) == ("resolved", "false_alarm", "做饭烟大")
    assert body["acknowledged_at"] is not None  # resolving is an answer too
    assert [s["kind"] for s in body["steps"]] == ["notified_contact", "resolved"]

    twice = client.post(url, json={"resolution": "handled", "note": "again"}, headers=home.headers("son"))
    assert twice.status_code == 409 and twice.get_json()["code"] == "alert_resolved"

    # The next smoke is a new incident: a new alert, and the family is told again.
    next_id = pushed(client, [iot_event("SMK-1", "smoke")])["results"][0]["alert_id"]
    assert next_id != alert_id
    assert len(messages_to(home.daughter)) == 2


def test_the_other_family_members_read_a_resolution_note_with_its_numbers_masked(client, home, kj01_staff):
    alert_id = pushed(client, [iot_event("SMK-1", "smoke")])["results"][0]["alert_id"]
    note = "已送瑞金医院，主治医生电话 138 5724 6801"
    done = client.post(
        f"/api/v1/alerts/{alert_id}/resolve",
        json={"resolution": "hospitalised", "note": note},
        headers=home.headers("daughter"),
    )
    assert done.status_code == 200
    assert done.get_json()["resolution_note"] == note  # the writer reads her own words

    seen_by_son = client.get(f"/api/v1/alerts/{alert_id}", headers=home.headers("son")).get_json()
    assert seen_by_son["resolution_note"] == "已送瑞金医院，主治医生电话 138 **** 6801"
    assert seen_by_son["steps"][-1]["note"] == "hospitalised: 已送瑞金医院，主治医生电话 138 **** 6801"
    listed = client.get("/api/v1/me/alerts", headers=home.headers("son")).get_json()["items"]
    assert [a["resolution_note"] for a in listed] == ["已送瑞金医院，主治医生电话 138 **** 6801"]
    seen_by_staff = client.get(f"/api/v1/admin/alerts/{alert_id}", headers=kj01_staff["headers"]).get_json()
    assert seen_by_staff["resolution_note"] == note


def test_an_acknowledged_incident_quiet_past_the_window_closes_when_a_new_one_starts(client, home, settings):
    settings.alerts_repeat_window_seconds = 600
    long_ago = utcnow() - timedelta(minutes=30)
    alert_id = pushed(client, [iot_event("SMK-1", "smoke", at=long_ago)])["results"][0]["alert_id"]
    client.post(f"/api/v1/alerts/{alert_id}/ack", headers=home.headers("daughter"))
    db.session.execute(Alert.__table__.update().values(last_at=long_ago))
    db.session.commit()

    fresh = pushed(client, [iot_event("SMK-1", "smoke")])["results"][0]["alert_id"]

    assert fresh != alert_id
    old = the_alert(alert_id)
    assert old.status == AlertStatus.RESOLVED and old.resolution.value == "other"
    assert len(messages_to(home.daughter)) == 2


def test_blood_pressure_over_the_elders_threshold_is_a_warning_that_escalates_slowly(client, home, settings):
    db.session.execute(Elder.__table__.update().values(bp_systolic_max=140))
    db.session.commit()
    answer = pushed(
        client,
        [
            iot_event("BP-1", "blood_pressure", {"systolic": 130, "diastolic": 80, "pulse": 70}),
            iot_event("BP-1", "blood_pressure", {"systolic": 152, "diastolic": 88, "pulse": 80}),
        ],
    )
    assert "alert_id" not in answer["results"][0]
    alert = the_alert(answer["results"][1]["alert_id"])
    assert (alert.rule, alert.severity, alert.value["systolic"]) == (AlertRule.BLOOD_PRESSURE, Severity.WARNING, 152)
    assert escalate(settings, 181) == 0  # a warning waits half an hour, not three minutes
    assert escalate(settings, 1801) == 1
    assert len(messages_to(home.son)) == 1


def test_a_low_battery_notice_never_escalates(client, home, settings):
    alert_id = pushed(client, [iot_event("DOOR-1", "low_battery")])["results"][0]["alert_id"]
    alert = the_alert(alert_id)
    assert alert.severity == Severity.NOTICE and alert.next_escalation_at is None
    assert len(messages_to(home.daughter)) == 1
    assert escalate(settings, 24 * 3600) == 0
    assert messages_to(home.son) == []


def test_a_notice_raised_in_quiet_hours_is_delivered_when_they_end(home, settings):
    device = db.session.get(Device, home.devices["DOOR-1"])
    raise_ = services.Raise(
        device.id,
        AlertRule.LOW_BATTERY,
        Severity.NOTICE,
        home.elder_id,
        device.room_id,
        device.room.path,
        SHANGHAI_23H,
        SHANGHAI_23H,
    )
    services.raise_alerts([raise_], settings, SHANGHAI_23H)
    commit()
    [message] = messages_to(home.daughter)
    assert message.next_attempt_at == datetime(2026, 12, 2, 23, 0, tzinfo=UTC)  # 07:00 in Shanghai


def test_an_alarm_in_quiet_hours_is_not_held(home, settings):
    device = db.session.get(Device, home.devices["SMK-1"])
    raise_ = services.Raise(
        device.id,
        AlertRule.SMOKE,
        Severity.CRITICAL,
        home.elder_id,
        device.room_id,
        device.room.path,
        SHANGHAI_23H,
        SHANGHAI_23H,
    )
    services.raise_alerts([raise_], settings, SHANGHAI_23H)
    commit()
    [message] = messages_to(home.daughter)
    assert message.next_attempt_at <= utcnow()  # due at once


def test_an_elder_without_consent_is_not_monitored_and_staff_are_told_instead(client, home, world, settings):
    db.session.execute(MonitoringConsent.__table__.update().values(withdrawn_at=utcnow()))
    db.session.commit()
    alert_id = pushed(client, [iot_event("SMK-1", "smoke")])["results"][0]["alert_id"]
    assert messages_to(home.daughter) == []
    [to_staff] = messages_to(world.users["kj01"].id)  # a fire is still a fire
    # Staff must not read that the family failed to answer: nobody in the family could be told.
    assert to_staff.context["alert_type"] == "烟雾报警（无可通知的家属）"
    assert steps_of(alert_id) == [(StepKind.ESCALATED_STAFF, 1)]


# ----------------------------------------------------------------------------------------------------
# The chain follows people, not positions: the family changes while nobody answers
# ----------------------------------------------------------------------------------------------------


def test_when_the_first_contact_leaves_mid_chain_the_second_is_still_told_before_staff(client, home, settings, world):
    alert_id = pushed(client, [iot_event("SMK-1", "smoke")])["results"][0]["alert_id"]
    daughter_binding = binding_of(home.elder_id, home.daughter)
    left = client.post(f"/api/v1/family-bindings/{daughter_binding}/leave", headers=home.headers("daughter"))
    assert left.status_code == 200

    assert escalate(settings, 181) == 1
    assert len(alarms_to(home.son)) == 1  # the son is the contact now, and has not been told yet
    assert alarms_to(world.users["kj01"].id) == []

    assert escalate(settings, 362) == 1
    [to_staff] = alarms_to(world.users["kj01"].id)
    assert to_staff.context["alert_type"] == "烟雾报警（家属未确认）"  # true: two were told, nobody answered
    escalate(settings, 543)
    assert escalate(settings, 3600) == 0

    assert who_was_told(alert_id) == [
        ("notified_contact", "王家女儿"),
        ("notified_contact", "王家儿子"),
        ("escalated_staff", "kj01-staff"),
        ("volunteers_requested", "kj01-staff"),
    ]
    assert len(alarms_to(home.daughter)) == 1 and len(alarms_to(home.son)) == 1
    # The son's alert page tells the same story.
    page = client.get(f"/api/v1/alerts/{alert_id}", headers=home.headers("son")).get_json()
    assert [(s["kind"], s["user_id"]) for s in page["steps"][:2]] == [
        ("notified_contact", str(home.daughter)),
        ("notified_contact", str(home.son)),
    ]
    assert page["escalation_level"] == 4


def test_contacts_reordered_mid_chain_skip_nobody_and_repeat_nobody(client, home, settings, world, kj01_staff):
    joins_the_family(client, home, "stranger", kj01_staff["headers"])  # a grandchild: the third contact
    alert_id = pushed(client, [iot_event("SMK-1", "smoke")])["results"][0]["alert_id"]
    assert len(alarms_to(home.daughter)) == 1

    # The family asks the committee to put the grandchild first and the daughter (already told) last.
    order = [binding_of(home.elder_id, u) for u in (home.stranger, home.son, home.daughter)]
    reordered = client.put(
        f"/api/v1/admin/elders/{home.elder_id}/contacts",
        json={"binding_ids": [str(b) for b in order]},
        headers=kj01_staff["headers"],
    )
    assert reordered.status_code == 200, reordered.get_json()

    escalate(settings, 181)
    escalate(settings, 362)
    assert alarms_to(world.users["kj01"].id) == []  # everyone in the family first
    escalate(settings, 543)
    escalate(settings, 724)
    assert escalate(settings, 3600) == 0

    assert who_was_told(alert_id) == [
        ("notified_contact", "王家女儿"),
        ("notified_contact", "路人"),
        ("notified_contact", "王家儿子"),
        ("escalated_staff", "kj01-staff"),
        ("volunteers_requested", "kj01-staff"),
    ]
    for person in (home.daughter, home.son, home.stranger):
        assert len(alarms_to(person)) == 1


def test_a_contact_who_joins_mid_chain_is_told_in_turn_before_staff(client, home, settings, world, kj01_staff):
    alert_id = pushed(client, [iot_event("SMK-1", "smoke")])["results"][0]["alert_id"]
    joins_the_family(client, home, "stranger", kj01_staff["headers"])

    escalate(settings, 181)
    escalate(settings, 362)
    assert len(alarms_to(home.stranger)) == 1
    assert alarms_to(world.users["kj01"].id) == []
    escalate(settings, 543)

    assert who_was_told(alert_id) == [
        ("notified_contact", "王家女儿"),
        ("notified_contact", "王家儿子"),
        ("notified_contact", "路人"),
        ("escalated_staff", "kj01-staff"),
    ]
    assert the_alert(alert_id).escalation_level == 4


def test_a_contact_who_left_and_came_back_is_not_told_twice(client, home, settings, kj01_staff):
    alert_id = pushed(client, [iot_event("SMK-1", "smoke")])["results"][0]["alert_id"]
    client.post(
        f"/api/v1/family-bindings/{binding_of(home.elder_id, home.daughter)}/leave", headers=home.headers("daughter")
    )
    joins_the_family(client, home, "daughter", kj01_staff["headers"])

    escalate(settings, 181)
    escalate(settings, 362)

    assert who_was_told(alert_id) == [
        ("notified_contact", "王家女儿"),
        ("notified_contact", "王家儿子"),
        ("escalated_staff", "kj01-staff"),
    ]
    assert len(alarms_to(home.daughter)) == 1


def test_nobody_who_joins_after_staff_were_told_is_woken_by_the_chain(client, home, settings, kj01_staff):
    alert_id = pushed(client, [iot_event("SMK-1", "smoke")])["results"][0]["alert_id"]
    escalate(settings, 181)
    escalate(settings, 362)  # staff
    joins_the_family(client, home, "stranger", kj01_staff["headers"])

    escalate(settings, 543)

    assert [kind for kind, _who in who_was_told(alert_id)][-1] == "volunteers_requested"
    assert alarms_to(home.stranger) == []
    assert the_alert(alert_id).next_escalation_at is None


def test_consent_withdrawn_mid_chain_stops_the_family_steps_and_brings_staff(client, home, settings, world, kj01_staff):
    alert_id = pushed(client, [iot_event("SMK-1", "smoke")])["results"][0]["alert_id"]
    consent_id = db.session.scalar(select(MonitoringConsent.id).where(MonitoringConsent.elder_id == home.elder_id))
    withdrawn = client.post(
        f"/api/v1/admin/elders/{home.elder_id}/consents/{consent_id}/withdraw", headers=kj01_staff["headers"]
    )
    assert withdrawn.status_code == 200, withdrawn.get_json()

    assert escalate(settings, 181) == 1
    assert alarms_to(home.son) == []  # no longer watched for the family: the son is not told
    [to_staff] = alarms_to(world.users["kj01"].id)
    assert to_staff.context["alert_type"] == "烟雾报警（家属未确认）"  # the daughter was told, and is silent
    escalate(settings, 362)
    assert escalate(settings, 3600) == 0

    assert who_was_told(alert_id) == [
        ("notified_contact", "王家女儿"),
        ("escalated_staff", "kj01-staff"),
        ("volunteers_requested", "kj01-staff"),
    ]
    assert the_alert(alert_id).escalation_level == 3


def test_an_elder_no_longer_active_mid_chain_goes_to_staff(client, home, settings, world, kj01_staff):
    alert_id = pushed(client, [iot_event("SOS-1", "sos")])["results"][0]["alert_id"]
    moved = client.patch(
        f"/api/v1/admin/elders/{home.elder_id}", json={"status": "inactive"}, headers=kj01_staff["headers"]
    )
    assert moved.status_code == 200, moved.get_json()

    escalate(settings, 181)

    assert alarms_to(home.son) == []
    assert who_was_told(alert_id) == [("notified_contact", "王家女儿"), ("escalated_staff", "kj01-staff")]


def test_a_notice_with_nobody_to_tell_says_so_once(client, home, settings):
    db.session.execute(MonitoringConsent.__table__.update().values(withdrawn_at=utcnow()))
    db.session.commit()
    alert_id = pushed(client, [iot_event("DOOR-1", "low_battery")])["results"][0]["alert_id"]

    assert escalate(settings, 24 * 3600) == 0
    assert steps_of(alert_id) == [(StepKind.NO_CONTACT, 1)]
    assert the_alert(alert_id).next_escalation_at is None


# ----------------------------------------------------------------------------------------------------
# Addresses in messages: the template's 20 characters name the door, the alert page the whole address
# ----------------------------------------------------------------------------------------------------


def demo_room(committee: str, estate: str, building: str, number: str) -> Room:
    """A room as the demo seed shapes it (居委会 → 小区 → 楼 → 室), not stored."""
    root = Area(kind=AreaKind.SUBDISTRICT, code="KJ", name="控江路街道")
    office = Area(kind=AreaKind.COMMITTEE, code="C", name=committee, parent=root)
    place = Area(kind=AreaKind.ESTATE, code="E", name=estate, parent=office)
    return Room(
        number=number, floor=int(number[:-2]), building=Area(kind=AreaKind.BUILDING, name=building, parent=place)
    )


def test_every_demo_estates_door_address_keeps_building_and_room_in_twenty_characters():
    for committee, estates in seed.COMMITTEES:
        for estate in estates:
            room = demo_room(committee, estate, "38号楼", "704")  # the demo's highest building and room numbers
            door = room.door_address()
            assert door == f"{estate}38号楼704室", door  # the committee dropped, nothing else
            assert len(door) <= 20, door
            assert room.address == f"{committee}{estate}38号楼704室"


def test_an_estate_too_long_for_the_field_is_shortened_never_the_building_or_room():
    room = demo_room("凤城一村居委会", "上海市杨浦区控江路街道凤城新苑小区", "12号楼", "1203")
    door = room.door_address()
    assert door == "上海市杨浦区控江路街…12号楼1203室" and len(door) == 20
    # Where dropping the generic "小区" is enough, that is all that goes.
    assert demo_room("x居委会", "打虎山路第一小区", "12号楼", "1203").door_address(16) == "打虎山路第一12号楼1203室"


def test_a_building_straight_under_a_committee_is_found_by_the_committees_place_name():
    committee = Area(kind=AreaKind.COMMITTEE, name="内江路居委会", parent=Area(kind=AreaKind.SUBDISTRICT))
    room = Room(number="302", floor=3, building=Area(kind=AreaKind.BUILDING, name="7号楼", parent=committee))
    assert room.door_address() == "内江路7号楼302室"


def test_the_staff_escalation_message_names_the_door_of_a_long_demo_address(client, world, settings):
    office = Area(
        kind=AreaKind.COMMITTEE, code="KJ03", name="控江二村居委会", parent=world.areas["KJ"], path="/KJ/KJ03/"
    )
    estate = Area(kind=AreaKind.ESTATE, code="KJ03-02", name="控江二村东块", parent=office, path="/KJ/KJ03/KJ03-02/")
    building = Area(
        kind=AreaKind.BUILDING, code="KJ03-02-010", name="10号楼", parent=estate, path="/KJ/KJ03/KJ03-02/KJ03-02-010/"
    )
    room = Room(building=building, number="104", floor=1)
    db.session.add_all([office, estate, building, room])
    db.session.flush()
    staff = create_staff("kj03-staff", STAFF_PASSWORD, Role.STAFF, "KJ03")
    staff.wechat_oa_openid = "o-oa-kj03-staff"  # follows the Official Account: the template message is tried
    elder = add_elder(room, "周阿公", birth_year=1939)
    bind_family(elder, add_family_member("周家女儿"))
    add_device("SMK-KJ03", DeviceType.SMOKE_DETECTOR, room, elder)
    db.session.commit()
    full = "控江二村居委会控江二村东块10号楼104室"
    assert len(full) > 20  # cut at 20 from the right, it lost the room: "控江二村居委会控江二村东块10号楼1…"

    alert_id = pushed(client, [iot_event("SMK-KJ03", "smoke")])["results"][0]["alert_id"]
    assert escalate(settings, 181) == 1  # the daughter did not answer: staff
    [message] = alarms_to(staff.id)
    assert outbox.deliver(message.id, settings, outbox.WechatSenders(settings)) is not None

    db.session.expire_all()
    attempt = db.session.scalar(select(DeliveryAttempt).where(DeliveryAttempt.notification_id == message.id))
    assert attempt.channel == Channel.SANDBOX and attempt.payload["template_id"] == "linli-oa-device-alert"
    assert attempt.payload["data"]["thing5"] == {"value": "控江二村东块10号楼104室"}
    assert attempt.payload["data"]["thing3"] == {"value": "烟雾报警（家属未确认）"}
    # The inbox text and the alert page carry the whole address.
    assert full in message.body
    page = client.get(
        f"/api/v1/admin/alerts/{alert_id}", headers=bearer(staff_login(client, "kj03-staff")["access_token"])
    )
    assert page.get_json()["address"] == full


# ----------------------------------------------------------------------------------------------------
# Sweeps: silent devices, doors that stay shut
# ----------------------------------------------------------------------------------------------------


@pytest.mark.smoke
def test_a_silent_device_goes_offline_with_a_notice_and_comes_back_with_its_next_heartbeat(client, home, settings):
    last = SHANGHAI_NOON - timedelta(hours=3)
    db.session.execute(
        Device.__table__.update()
        .where(Device.id == home.devices["DOOR-1"])
        .values(last_seen_at=last, heartbeat_interval_seconds=3600)
    )
    db.session.execute(
        Device.__table__.update().where(Device.id != home.devices["DOOR-1"]).values(last_seen_at=SHANGHAI_NOON)
    )
    db.session.commit()

    assert services.sweep_offline(settings, last + timedelta(minutes=119)) == 0  # not yet twice the interval
    assert services.sweep_offline(settings, SHANGHAI_NOON) == 1
    commit()
    assert services.sweep_offline(settings, SHANGHAI_NOON) == 0  # once
    db.session.expire_all()
    assert db.session.get(Device, home.devices["DOOR-1"]).status == DeviceStatus.OFFLINE
    offline = db.session.scalar(select(Alert).where(Alert.rule == AlertRule.OFFLINE))
    assert offline.severity == Severity.NOTICE and offline.status == AlertStatus.OPEN
    offline_id = offline.id
    assert len(messages_to(home.daughter)) == 1

    pushed(client, [iot_event("DOOR-1", "heartbeat")])
    db.session.expire_all()
    assert db.session.get(Device, home.devices["DOOR-1"]).status == DeviceStatus.ACTIVE
    assert the_alert(offline_id).status == AlertStatus.RESOLVED


def test_a_door_shut_for_a_day_raises_a_warning_in_the_daytime_only(home, settings):
    db.session.execute(
        Device.__table__.update()
        .where(Device.id == home.devices["DOOR-1"])
        .values(last_activity_at=SHANGHAI_23H - timedelta(hours=25))
    )
    db.session.commit()
    assert services.sweep_door_inactivity(settings, SHANGHAI_23H) == 0  # at night: nobody is woken for this

    noon_next_day = SHANGHAI_NOON + timedelta(days=1)
    assert services.sweep_door_inactivity(settings, noon_next_day) == 1
    commit()
    assert services.sweep_door_inactivity(settings, noon_next_day + timedelta(minutes=5)) == 0  # already open
    alert = db.session.scalar(select(Alert).where(Alert.rule == AlertRule.DOOR_INACTIVITY))
    assert alert.severity == Severity.WARNING
    assert len(messages_to(home.daughter)) == 1
    # Resolved ("she is staying with us"): no new alert for the same quiet stretch …
    alert.status = AlertStatus.RESOLVED
    commit()
    assert services.sweep_door_inactivity(settings, noon_next_day + timedelta(hours=2)) == 0
    # … but after the door opened and stayed shut a day again, yes.
    db.session.execute(
        Device.__table__.update()
        .where(Device.id == home.devices["DOOR-1"])
        .values(last_activity_at=noon_next_day + timedelta(hours=3))
    )
    commit()
    assert services.sweep_door_inactivity(settings, noon_next_day + timedelta(days=1, hours=4)) == 1


def test_a_door_sensor_that_never_saw_the_door_open_counts_from_its_installation(home, settings):
    db.session.execute(
        Device.__table__.update()
        .where(Device.id == home.devices["DOOR-1"])
        .values(last_activity_at=None, created_at=SHANGHAI_NOON - timedelta(hours=25))
    )
    db.session.commit()
    assert services.sweep_door_inactivity(settings, SHANGHAI_NOON - timedelta(hours=2)) == 0  # not a day yet
    assert services.sweep_door_inactivity(settings, SHANGHAI_NOON) == 1
    commit()
    alert = db.session.scalar(select(Alert).where(Alert.rule == AlertRule.DOOR_INACTIVITY))
    assert alert.severity == Severity.WARNING
    assert len(messages_to(home.daughter)) == 1
    alert.status = AlertStatus.RESOLVED  # "the sensor is on the balcony door": not raised again
    commit()
    assert services.sweep_door_inactivity(settings, SHANGHAI_NOON + timedelta(hours=3)) == 0


def test_the_door_threshold_is_the_elders_own(home, settings):
    db.session.execute(Elder.__table__.update().values(door_inactivity_hours=48))
    db.session.execute(
        Device.__table__.update()
        .where(Device.id == home.devices["DOOR-1"])
        .values(last_activity_at=SHANGHAI_NOON - timedelta(hours=30))
    )
    db.session.commit()
    assert services.sweep_door_inactivity(settings, SHANGHAI_NOON) == 0


# ----------------------------------------------------------------------------------------------------
# Reading: families, staff, other domains
# ----------------------------------------------------------------------------------------------------


def test_a_family_member_lists_and_opens_the_alerts_of_their_elder(client, home):
    alert_id = pushed(client, [iot_event("SMK-1", "smoke")])["results"][0]["alert_id"]
    pushed(client, [iot_event("DOOR-1", "low_battery")])

    mine = client.get("/api/v1/me/alerts", headers=home.headers("son"))
    assert mine.status_code == 200
    assert [a["type"] for a in mine.get_json()["items"]] == ["low_battery", "smoke"]
    assert client.get("/api/v1/me/alerts", headers=home.headers("stranger")).get_json()["items"] == []

    detail = client.get(f"/api/v1/alerts/{alert_id}", headers=home.headers("daughter")).get_json()
    assert detail["elder_name"] == "王阿婆"
    assert detail["address"].endswith("101室")
    assert detail["steps"][0]["kind"] == "notified_contact"


def test_the_staff_board_is_scoped_filtered_and_paged(client, home, settings, kj01_staff, kj02_staff):
    smoke = pushed(client, [iot_event("SMK-1", "smoke")])["results"][0]["alert_id"]
    sos = pushed(client, [iot_event("SOS-1", "sos")])["results"][0]["alert_id"]
    battery = pushed(client, [iot_event("DOOR-1", "low_battery")])["results"][0]["alert_id"]
    client.post(f"/api/v1/alerts/{sos}/ack", headers=home.headers("daughter"))
    escalate(settings, 181)
    escalate(settings, 362)

    def board(headers, **query):
        response = client.get("/api/v1/admin/alerts", query_string=query, headers=headers)
        assert response.status_code == 200, response.get_json()
        return response.get_json()

    assert {a["id"] for a in board(kj01_staff["headers"])["items"]} == {smoke, sos, battery}
    assert board(kj02_staff["headers"])["items"] == []
    assert [a["id"] for a in board(kj01_staff["headers"], status="unacknowledged", severity="critical")["items"]] == [
        smoke
    ]
    assert [a["id"] for a in board(kj01_staff["headers"], status="escalated")["items"]] == [smoke]
    assert [a["id"] for a in board(kj01_staff["headers"], type="low_battery")["items"]] == [battery]
    first = board(kj01_staff["headers"], limit=2)
    second = board(kj01_staff["headers"], limit=2, cursor=first["next_cursor"])
    assert len(first["items"]) == 2 and len(second["items"]) == 1 and second["next_cursor"] is None
    bad = client.get("/api/v1/admin/alerts", query_string={"status": "burning"}, headers=kj01_staff["headers"])
    assert bad.status_code == 422

    detail = client.get(f"/api/v1/admin/alerts/{smoke}", headers=kj01_staff["headers"])
    assert [s["kind"] for s in detail.get_json()["steps"]] == [
        "notified_contact",
        "notified_contact",
        "escalated_staff",
    ]
    assert client.get(f"/api/v1/admin/alerts/{smoke}", headers=kj02_staff["headers"]).status_code == 404


def test_a_devices_history_is_paged_newest_first_for_staff_in_scope(client, home, kj01_staff, kj02_staff):
    ids = [
        iot_event("DOOR-1", kind, at=utcnow() - timedelta(minutes=5 - i))
        for i, kind in enumerate(["open", "close", "open"])
    ]
    pushed(client, ids)
    url = f"/api/v1/admin/devices/{home.devices['DOOR-1']}/events"
    page = client.get(url, query_string={"limit": 2}, headers=kj01_staff["headers"]).get_json()
    rest = client.get(url, query_string={"limit": 2, "cursor": page["next_cursor"]}, headers=kj01_staff["headers"])
    assert [e["type"] for e in page["items"] + rest.get_json()["items"]] == ["open", "close", "open"]
    assert client.get(url, headers=kj02_staff["headers"]).status_code == 404
    assert client.get(f"/api/v1/admin/devices/{uuid.uuid4()}/events", headers=kj01_staff["headers"]).status_code == 404


@pytest.mark.smoke
def test_statistics_count_types_time_to_acknowledge_and_false_alarms(client, home, kj01_staff):
    smoke = pushed(client, [iot_event("SMK-1", "smoke")])["results"][0]["alert_id"]
    sos = pushed(client, [iot_event("SOS-1", "sos")])["results"][0]["alert_id"]
    pushed(client, [iot_event("DOOR-1", "low_battery")])
    for alert_id, seconds in ((smoke, 60), (sos, 180)):
        client.post(f"/api/v1/alerts/{alert_id}/ack", headers=home.headers("daughter"))
        alert = the_alert(alert_id)
        alert.acknowledged_at = alert.first_at + timedelta(seconds=seconds)
    db.session.commit()
    client.post(
        f"/api/v1/alerts/{smoke}/resolve",
        json={"resolution": "false_alarm", "note": "做饭"},
        headers=home.headers("daughter"),
    )
    client.post(
        f"/api/v1/alerts/{sos}/resolve",
        json={"resolution": "handled", "note": "邻居已上门"},
        headers=home.headers("son"),
    )

    response = client.get("/api/v1/admin/alerts/stats", headers=kj01_staff["headers"])
    assert response.status_code == 200, response.get_json()
    stats = response.get_json()
    assert stats["total"] == 3
    assert stats["by_type"] == {"low_battery": 1, "smoke": 1, "sos": 1}
    assert stats["by_severity"] == {"critical": 2, "notice": 1}
    assert stats["acknowledged"] == 2
    assert stats["ack_seconds_p50"] == pytest.approx(120, abs=1)
    assert stats["ack_seconds_p90"] == pytest.approx(168, abs=1)
    assert (stats["resolved"], stats["false_alarms"], stats["false_alarm_rate"]) == (2, 1, 0.5)
    backwards = client.get(
        "/api/v1/admin/alerts/stats",
        query_string={"from": "2026-12-02T10:00:00+08:00", "to": "2026-12-01T10:00:00+08:00"},
        headers=kj01_staff["headers"],
    )
    assert backwards.status_code == 422


def test_duty_shifts_are_created_listed_and_removed_within_scope(client, world, kj01_staff, kj02_staff):
    now = utcnow()
    body = {
        "user_id": str(world.users["kj01"].id),
        "area_id": str(world.areas["KJ01"].id),
        "starts_at": now.isoformat(),
        "ends_at": (now + timedelta(hours=8)).isoformat(),
    }
    theirs = client.post("/api/v1/admin/duty-shifts", json=body, headers=kj02_staff["headers"])
    assert theirs.status_code == 422 and theirs.get_json()["errors"] == {"area_id": ["the area is outside your area"]}
    backwards = {**body, "ends_at": (now - timedelta(hours=1)).isoformat()}
    assert client.post("/api/v1/admin/duty-shifts", json=backwards, headers=kj01_staff["headers"]).status_code == 422
    created = client.post("/api/v1/admin/duty-shifts", json=body, headers=kj01_staff["headers"])
    assert created.status_code == 201
    shift_id = created.get_json()["id"]
    listed = client.get(
        "/api/v1/admin/duty-shifts",
        query_string={"active_at": (now + timedelta(hours=1)).isoformat()},
        headers=kj01_staff["headers"],
    )
    assert [s["id"] for s in listed.get_json()["items"]] == [shift_id]
    assert client.get("/api/v1/admin/duty-shifts", headers=kj02_staff["headers"]).get_json()["items"] == []
    assert client.delete(f"/api/v1/admin/duty-shifts/{shift_id}", headers=kj02_staff["headers"]).status_code == 404
    assert client.delete(f"/api/v1/admin/duty-shifts/{shift_id}", headers=kj01_staff["headers"]).status_code == 204
    assert client.get("/api/v1/admin/duty-shifts", headers=kj01_staff["headers"]).get_json()["items"] == []


def test_recent_alerts_for_gives_each_elder_their_newest(client, home):
    for kind, serial in (("smoke", "SMK-1"), ("sos", "SOS-1"), ("low_battery", "DOOR-1")):
        pushed(client, [iot_event(serial, kind)])
    other = uuid.uuid4()
    recent = services.recent_alerts_for([home.elder_id, other], limit=2)
    assert [a.rule for a in recent[home.elder_id]] == [AlertRule.LOW_BATTERY, AlertRule.SOS]
    assert recent[other] == []


# ----------------------------------------------------------------------------------------------------
# Concurrency on PostgreSQL: two batches of the same incident at the same moment
# ----------------------------------------------------------------------------------------------------


@pytest.mark.services
@pytest.mark.commits
def test_concurrent_batches_of_the_same_alarm_open_one_alert_and_one_message(app, home):
    barrier = threading.Barrier(6)
    answers: list[int] = []

    def send() -> None:
        client = app.test_client()
        body = json.dumps([iot_event("SMK-1", "smoke") for _ in range(5)]).encode()
        headers = signed(body)
        barrier.wait()
        answers.append(client.post("/api/v1/iot/events", data=body, headers=headers).status_code)

    threads = [threading.Thread(target=send) for _ in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    assert answers == [200] * 6
    db.session.expire_all()
    [alert] = db.session.scalars(select(Alert)).all()
    assert alert.count == 30
    assert len(messages_to(home.daughter)) == 1


def test_incident_after_incident_each_opens_a_new_alert_and_tells_the_family(client, home):
    """Eight alarms, each resolved before the next: the alert upsert runs often enough on one connection for
    psycopg to prepare it (from the 5th run) — the partial index must still be found for ON CONFLICT."""
    seen = set()
    for n in range(8):
        answer = pushed(client, [iot_event("SMK-1", "smoke")])
        assert answer["alerts_opened"] == 1, n
        alert_id = answer["results"][0]["alert_id"]
        seen.add(alert_id)
        done = client.post(
            f"/api/v1/alerts/{alert_id}/resolve",
            json={"resolution": "false_alarm", "note": f"第{n + 1}次测试"},
            headers=home.headers("daughter"),
        )
        assert done.status_code == 200
        repeat = pushed(client, [iot_event("SMK-1", "smoke")])  # a repeat right after is a new incident too
        assert repeat["alerts_opened"] == 1
        client.post(
            f"/api/v1/alerts/{repeat['results'][0]['alert_id']}/resolve",
            json={"resolution": "handled", "note": "ok"},
            headers=home.headers("daughter"),
        )
    assert len(seen) == 8
    assert len(messages_to(home.daughter)) == 16


def test_an_alarm_storm_opens_every_alert_with_one_outbox_insert_and_tells_the_staff_once_each(
    app, client, home, world, kj01_staff
):
    """Many detectors of flats without an elder go off in one batch with 王阿婆's: each opens its own alert whose
    first step tells the area's staff (one message each) — hers tells her daughter — and the outbox rows, the
    timeline steps of all of them are written set-based, not a statement per alert, and no alert is written twice."""
    from sqlalchemy import event

    room = world.room("KJ01/101")
    serials = [f"SMK-STORM-{n:03d}" for n in range(40)]
    for serial in serials:
        add_device(serial, DeviceType.SMOKE_DETECTOR, room)
    db.session.commit()
    writes: list[str] = []

    def count(conn, cursor, statement, parameters, context, executemany):
        writes.append(" ".join(statement.split()[:3]).upper())
        if statement.startswith("UPDATE alerts SET escalation_level"):  # an executemany is a statement per row
            writes.extend(["the first steps' levels"] * (len(parameters) if executemany else 1))

    event.listen(db.engine, "before_cursor_execute", count)
    try:
        answer = pushed(client, [iot_event(serial, "smoke") for serial in [*serials, "SMK-1"]])
    finally:
        event.remove(db.engine, "before_cursor_execute", count)

    assert answer["alerts_opened"] == len(serials) + 1
    hers = answer["results"][-1]["alert_id"]
    alert_ids = {r["alert_id"] for r in answer["results"][:-1]}
    assert len(alert_ids) == len(serials)
    assert writes.count("INSERT INTO NOTIFICATIONS") == 1
    assert writes.count("INSERT INTO ALERT_STEPS") == 1
    assert writes.count("the first steps' levels") == 0  # inserted at the level and time their first step gives
    for alert_id in alert_ids:
        assert who_was_told(alert_id) == [("escalated_staff", "kj01-staff")]
    assert who_was_told(hers) == [("notified_contact", "王家女儿")]
    for alert_id in [*alert_ids, hers]:
        alert = the_alert(alert_id)
        assert alert.escalation_level == 1
        assert alert.next_escalation_at == alert.created_at + timedelta(seconds=180)
    staff_id = uuid.UUID(kj01_staff["user"]["id"])
    told = db.session.scalars(select(Notification).where(Notification.user_id == staff_id)).all()
    assert sorted(m.context["alert_id"] for m in told) == sorted(alert_ids)
