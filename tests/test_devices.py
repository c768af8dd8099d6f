"""The device registry: staff register, bind and retire the devices of their own area; a device watches
an elder only with the elder's consent for that kind of device; the CSV import keeps the good rows and
reports each bad one by line."""

from __future__ import annotations

import io
import uuid

import pytest
from sqlalchemy import func, select

from api.db import db
from api.devices.models import DEFAULT_HEARTBEAT_SECONDS, Device, DeviceType
from tests.factories import bound_family, consent, new_device, new_elder

IMPORT = "/api/v1/admin/devices/import"


@pytest.mark.smoke
def test_a_device_cannot_watch_an_elder_without_consent(client, world, kj01_staff):
    elder = new_elder(client, kj01_staff, world.room("KJ01/101"))
    refused = new_device(client, kj01_staff, serial="SMK-1", type="smoke_detector", elder_id=elder["id"])
    assert refused.status_code == 409
    assert refused.get_json()["code"] == "consent_required"
    assert "smoke_detector" in refused.get_json()["message"] or "烟" in refused.get_json()["message"]
    assert db.session.scalar(select(func.count(Device.id))) == 0

    consent(client, kj01_staff, elder["id"], "door_sensor")
    still = new_device(client, kj01_staff, serial="SMK-1", type="smoke_detector", elder_id=elder["id"])
    assert still.status_code == 409
    door = new_device(client, kj01_staff, serial="DOOR-1", type="door_sensor", elder_id=elder["id"])
    assert door.status_code == 201
    assert door.get_json()["room_id"] == str(world.room("KJ01/101").id)  # the elder's home

    # Installed unbound, then bound later: the same rule.
    smoke = new_device(
        client, kj01_staff, serial="SMK-1", type="smoke_detector", room_id=str(world.room("KJ01/101").id)
    )
    assert smoke.status_code == 201
    patch = client.patch(
        f"/api/v1/admin/devices/{smoke.get_json()['id']}", json={"elder_id": elder["id"]}, headers=kj01_staff["headers"]
    )
    assert patch.status_code == 409 and patch.get_json()["code"] == "consent_required"


def test_withdrawing_consent_unbinds_the_devices_it_covered(client, world, kj01_staff):
    elder = new_elder(client, kj01_staff, world.room("KJ01/101"))
    given = consent(client, kj01_staff, elder["id"], "*")
    door = new_device(client, kj01_staff, serial="DOOR-1", type="door_sensor", elder_id=elder["id"]).get_json()
    withdrawn = client.post(
        f"/api/v1/admin/elders/{elder['id']}/consents/{given['id']}/withdraw", headers=kj01_staff["headers"]
    )
    assert withdrawn.get_json()["devices_unbound"] == 1
    device = client.get(f"/api/v1/admin/devices/{door['id']}", headers=kj01_staff["headers"]).get_json()
    assert device["elder_id"] is None


def test_a_device_needs_an_active_elder_and_the_elders_home(client, world, kj01_staff, resident):
    pending = client.post(
        "/api/v1/elders", json={"name": "待审", "room_id": str(world.room("KJ01/102").id)}, headers=resident["headers"]
    ).get_json()
    refused = new_device(client, kj01_staff, serial="D-1", type="door_sensor", elder_id=pending["id"])
    assert refused.get_json()["code"] == "elder_not_active"

    elder = new_elder(client, kj01_staff, world.room("KJ01/101"))
    consent(client, kj01_staff, elder["id"], "*")
    elsewhere = new_device(
        client,
        kj01_staff,
        serial="D-2",
        type="door_sensor",
        elder_id=elder["id"],
        room_id=str(world.room("KJ01/201").id),
    )
    assert elsewhere.status_code == 422
    assert elsewhere.get_json()["code"] == "device_room_mismatch"


def test_heartbeat_defaults_by_type_and_serials_are_unique(client, world, kj01_staff):
    room = str(world.room("KJ01/101").id)
    smoke = new_device(client, kj01_staff, serial="SMK-9", type="smoke_detector", room_id=room).get_json()
    assert smoke["heartbeat_interval_seconds"] == DEFAULT_HEARTBEAT_SECONDS[DeviceType.SMOKE_DETECTOR] == 4 * 3600
    own = new_device(
        client, kj01_staff, serial="DOOR-9", type="door_sensor", room_id=room, heartbeat_interval_seconds=600
    )
    assert own.get_json()["heartbeat_interval_seconds"] == 600
    again = new_device(client, kj01_staff, serial="SMK-9", type="gas_detector", room_id=room)
    assert again.status_code == 409 and again.get_json()["code"] == "device_serial_exists"
    bad = new_device(client, kj01_staff, serial="", type="toaster", room_id=room, heartbeat_interval_seconds=5)
    assert bad.status_code == 422
    assert set(bad.get_json()["errors"]) == {"serial", "type", "heartbeat_interval_seconds"}


def test_staff_of_kj02_cannot_touch_kj01_devices(client, world, kj01_staff, kj02_staff):
    elder = new_elder(client, kj01_staff, world.room("KJ01/101"))
    consent(client, kj01_staff, elder["id"], "*")
    device = new_device(client, kj01_staff, serial="DOOR-1", type="door_sensor", elder_id=elder["id"]).get_json()
    h = kj02_staff["headers"]
    # Another committee's device reads as no device at all: its id cannot be probed.
    assert client.get(f"/api/v1/admin/devices/{device['id']}", headers=h).status_code == 404
    assert client.patch(f"/api/v1/admin/devices/{device['id']}", json={"elder_id": None}, headers=h).status_code == 404
    assert client.post(f"/api/v1/admin/devices/{device['id']}/retire", headers=h).status_code == 404
    assert client.get("/api/v1/admin/devices", headers=h).get_json()["items"] == []
    # Naming another committee's elder or home in the body is a bad field, as if there were none.
    their_elder = new_device(client, kj02_staff, serial="X", type="door_sensor", elder_id=elder["id"])
    assert their_elder.status_code == 422 and their_elder.get_json()["errors"] == {"elder_id": ["not found"]}
    room = str(world.room("KJ01/102").id)
    their_home = new_device(client, kj02_staff, serial="X", type="door_sensor", room_id=room)
    assert their_home.status_code == 422 and list(their_home.get_json()["errors"]) == ["room_id"]
    assert db.session.scalar(select(func.count(Device.id))) == 1


def test_a_device_not_yet_installed_is_the_whole_subdistricts(client, world, admin, kj01_staff):
    """The subdistrict's admin registers a device before it is installed in a home and sees it; committee staff
    neither see it nor may leave one of theirs without a home."""
    uninstalled = new_device(client, admin, serial="SMK-NEW", type="smoke_detector")
    assert uninstalled.status_code == 201, uninstalled.get_json()
    device = uninstalled.get_json()
    assert device["room_id"] is None
    assert client.get(f"/api/v1/admin/devices/{device['id']}", headers=admin["headers"]).status_code == 200
    listed = client.get("/api/v1/admin/devices", headers=admin["headers"]).get_json()["items"]
    assert [d["id"] for d in listed] == [device["id"]]

    assert client.get(f"/api/v1/admin/devices/{device['id']}", headers=kj01_staff["headers"]).status_code == 404
    assert client.get("/api/v1/admin/devices", headers=kj01_staff["headers"]).get_json()["items"] == []
    refused = new_device(client, kj01_staff, serial="SMK-MINE", type="smoke_detector")
    assert refused.status_code == 422 and list(refused.get_json()["errors"]) == ["room_id"]

    # Installed in a KJ01 home, it becomes the committee's too; taken out again, only the subdistrict's.
    room = str(world.room("KJ01/101").id)
    moved = client.patch(f"/api/v1/admin/devices/{device['id']}", json={"room_id": room}, headers=admin["headers"])
    assert moved.status_code == 200, moved.get_json()
    assert client.get(f"/api/v1/admin/devices/{device['id']}", headers=kj01_staff["headers"]).status_code == 200
    out = client.patch(f"/api/v1/admin/devices/{device['id']}", json={"room_id": None}, headers=kj01_staff["headers"])
    assert out.status_code == 422 and list(out.get_json()["errors"]) == ["room_id"]


@pytest.mark.smoke
def test_list_filters_and_retire(client, world, kj01_staff, admin):
    elder = new_elder(client, kj01_staff, world.room("KJ01/101"))
    consent(client, kj01_staff, elder["id"], "*")
    door = new_device(client, kj01_staff, serial="DOOR-1", type="door_sensor", elder_id=elder["id"]).get_json()
    smoke = new_device(
        client, kj01_staff, serial="SMK-1", type="smoke_detector", room_id=str(world.room("KJ01/102").id)
    ).get_json()
    new_device(client, admin, serial="KJ02-SMK", type="smoke_detector", room_id=str(world.room("KJ02/101").id))
    row = db.session.get(Device, uuid.UUID(smoke["id"]))
    row.battery_percent = 7
    db.session.commit()

    def listed(query):
        body = client.get(f"/api/v1/admin/devices?{query}", headers=kj01_staff["headers"]).get_json()
        return sorted(d["serial"] for d in body["items"])

    assert listed("") == ["DOOR-1", "SMK-1"]
    assert listed("type=smoke_detector") == ["SMK-1"]
    assert listed(f"elder_id={elder['id']}") == ["DOOR-1"]
    assert listed("low_battery=true") == ["SMK-1"]
    assert listed("offline=true") == []
    assert listed(f"area_id={world.areas['KJ01-01-001'].id}") == ["DOOR-1", "SMK-1"]
    everything = client.get("/api/v1/admin/devices", headers=admin["headers"]).get_json()["items"]
    assert len(everything) == 3

    retired = client.post(f"/api/v1/admin/devices/{door['id']}/retire", headers=kj01_staff["headers"]).get_json()
    assert retired["status"] == "retired" and retired["retired_at"] is not None
    assert listed("status=retired") == ["DOOR-1"]
    patch = client.patch(f"/api/v1/admin/devices/{door['id']}", json={"elder_id": None}, headers=kj01_staff["headers"])
    assert patch.get_json()["code"] == "device_retired"


def test_the_family_sees_the_devices_watching_their_elder(client, world, kj01_staff):
    elder = new_elder(client, kj01_staff, world.room("KJ01/101"))
    consent(client, kj01_staff, elder["id"], "*")
    new_device(client, kj01_staff, serial="DOOR-1", type="door_sensor", elder_id=elder["id"])
    family, _ = bound_family(client, kj01_staff, elder["id"], "daughter#1")
    [mine] = client.get("/api/v1/me/elders", headers=family["headers"]).get_json()["items"]
    assert [(d["serial"], d["type"], d["status"]) for d in mine["devices"]] == [("DOOR-1", "door_sensor", "active")]
    assert set(mine["devices"][0]) >= {"last_seen_at", "battery_percent"}


# CSV import -----------------------------------------------------------------------------------------


@pytest.mark.smoke
def test_a_csv_import_keeps_good_rows_and_reports_bad_ones_by_line(client, world, kj01_staff):
    elder = new_elder(client, kj01_staff, world.room("KJ01/101"))
    consent(client, kj01_staff, elder["id"], "door_sensor")
    room_id = world.room("KJ01/102").id
    existing = new_device(client, kj01_staff, serial="OLD-1", type="door_sensor", room_id=str(room_id)).get_json()
    csv_text = "\n".join(
        [
            "serial,type,room,elder_id,installed_on,heartbeat_interval_seconds",
            "NEW-1,smoke_detector,KJ01-01-001/101,,2024-05-01,",  # 2 good: by building code/room
            f"NEW-2,gas_detector,{room_id},,,1800",  # 3 good: by room id
            f"NEW-3,door_sensor,,{elder['id']},2024-05-02,",  # 4 good: the elder's home, with consent
            f"NEW-4,smoke_detector,,{elder['id']},,",  # 5 bad: no consent for smoke
            "NEW-5,toaster,KJ01-01-001/101,,,",  # 6 bad: type
            "NEW-6,door_sensor,KJ01-01-001/999,,,",  # 7 bad: no such room
            "NEW-7,door_sensor,KJ02-01-001/101,,,",  # 8 bad: another committee
            "NEW-1,door_sensor,KJ01-01-001/101,,,",  # 9 bad: repeats line 2
            "NEW-8,door_sensor,KJ01-01-001/101,,31/02/2024,",  # 10 bad: date
            "OLD-1,door_sensor,KJ01-01-001 201,,2023-01-01,900",  # 11 good: updates the existing device
        ]
    )
    response = client.post(IMPORT, data=csv_text.encode(), content_type="text/csv", headers=kj01_staff["headers"])
    assert response.status_code == 200, response.get_json()
    result = response.get_json()
    assert (result["received"], result["created"], result["updated"], result["failed"]) == (10, 3, 1, 6)
    assert {e["line"]: next(iter(e["errors"])) for e in result["errors"]} == {
        5: "elder_id",
        6: "type",
        7: "room",
        8: "room",
        9: "serial",
        10: "installed_on",
    }
    serials = set(db.session.scalars(select(Device.serial)))
    assert serials == {"NEW-1", "NEW-2", "NEW-3", "OLD-1"}
    updated = db.session.get(Device, uuid.UUID(existing["id"]))
    assert updated.room_id == world.room("KJ01/201").id
    assert updated.heartbeat_interval_seconds == 900
    assert str(updated.installed_on) == "2023-01-01"
    new_3 = db.session.scalar(select(Device).where(Device.serial == "NEW-3"))
    assert new_3.elder_id == uuid.UUID(elder["id"]) and new_3.room_id == world.room("KJ01/101").id
    new_1 = db.session.scalar(select(Device).where(Device.serial == "NEW-1"))
    assert new_1.heartbeat_interval_seconds == 4 * 3600


def test_a_csv_import_as_a_multipart_upload_in_gb18030(client, world, kj01_staff):
    body = "serial,type,room\nA-1,door_sensor,KJ01-01-001/101\n".encode("gb18030")
    data = {"file": (io.BytesIO(body), "设备清单.csv")}
    response = client.post(IMPORT, data=data, content_type="multipart/form-data", headers=kj01_staff["headers"])
    assert response.status_code == 200, response.get_json()
    assert response.get_json()["created"] == 1


def test_a_csv_without_the_needed_columns_is_a_422(client, world, kj01_staff):
    response = client.post(IMPORT, data=b"foo,bar\n1,2\n", content_type="text/csv", headers=kj01_staff["headers"])
    assert response.status_code == 422
    assert response.get_json()["code"] == "csv_invalid"
    json_body = client.post(IMPORT, json={"serial": "x"}, headers=kj01_staff["headers"])
    assert json_body.status_code == 415


def test_kj02_staff_cannot_overwrite_a_kj01_device_by_importing_its_serial(client, world, kj01_staff, kj02_staff):
    new_device(client, kj01_staff, serial="KJ01-DOOR", type="door_sensor", room_id=str(world.room("KJ01/101").id))
    csv_text = "serial,type,room\nKJ01-DOOR,door_sensor,KJ02-01-001/101\n"
    result = client.post(IMPORT, data=csv_text, content_type="text/csv", headers=kj02_staff["headers"]).get_json()
    assert result["failed"] == 1 and result["errors"][0]["errors"] == {
        "serial": ["belongs to a device outside your area"]
    }
    device = db.session.scalar(select(Device).where(Device.serial == "KJ01-DOOR"))
    assert device.room_id == world.room("KJ01/101").id


def test_the_family_sees_recent_alerts_of_their_elder(client, world, kj01_staff):
    from api.alerts.models import Alert, AlertRule, Severity
    from api.db import utcnow

    elder = new_elder(client, kj01_staff, world.room("KJ01/101"))
    consent(client, kj01_staff, elder["id"], "*")
    device = new_device(client, kj01_staff, serial="SMK-1", type="smoke_detector", elder_id=elder["id"]).get_json()
    now = utcnow()
    db.session.add(
        Alert(
            device_id=uuid.UUID(device["id"]),
            elder_id=uuid.UUID(elder["id"]),
            room_id=world.room("KJ01/101").id,
            area_path=world.areas["KJ01-01-001"].path,
            rule=AlertRule.SMOKE,
            severity=Severity.CRITICAL,
            first_at=now,
            last_at=now,
        )
    )
    db.session.commit()
    family, _ = bound_family(client, kj01_staff, elder["id"], "daughter#1")
    [mine] = client.get("/api/v1/me/elders", headers=family["headers"]).get_json()["items"]
    assert [(a["rule"], a["severity"], a["status"], a["device_id"]) for a in mine["recent_alerts"]] == [
        ("smoke", "critical", "open", device["id"])
    ]


def test_my_elders_cost_the_same_statements_for_two_as_for_one(client, world, kj01_staff, admin):
    """Each elder shows their devices and recent alerts: loaded for all of them at once, not per elder."""
    from tests.test_read_path import statements_of

    def elder_with_a_device(room: str, serial: str, code: str, staff: dict) -> dict:
        elder = new_elder(client, staff, world.room(room))
        consent(client, staff, elder["id"], "*")
        new_device(client, staff, serial=serial, type="door_sensor", elder_id=elder["id"])
        family, _ = bound_family(client, staff, elder["id"], code)
        return family

    family = elder_with_a_device("KJ01/101", "DOOR-1", "daughter#1", kj01_staff)
    one = statements_of(client, "/api/v1/me/elders", family["headers"])
    elder_with_a_device("KJ02/101", "DOOR-2", "daughter#2", admin)
    mine = client.get("/api/v1/me/elders", headers=family["headers"]).get_json()["items"]
    assert sorted(d["serial"] for e in mine for d in e["devices"]) == ["DOOR-1", "DOOR-2"]
    assert statements_of(client, "/api/v1/me/elders", family["headers"]) == one
