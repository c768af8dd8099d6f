"""Personal information done properly (PIPL): what a person can see, copy and delete, the trail staff
leave, and what is kept how.

The scenario is 张三, a resident of KJ01 with a household, a report with a photo, a booking, and an elder
he looks after (with 李四 as second contact) whose smoke alarm he acknowledged. He exports his data and
opens the ZIP; asks to delete his account, changes his mind by logging in, asks again and waits the
cooling-off period out: afterwards no row names him, his report still counts in the statistics, and the
elder still has 李四. A staff member's look at the elder's record is in 张三's and the admin's access log.
"""

from __future__ import annotations

import io
import json
import logging
import uuid
import zipfile
from dataclasses import dataclass
from datetime import timedelta
from typing import Any
from urllib.parse import urlsplit

import pytest
from PIL import Image
from sqlalchemy import String, Text, select, text

from api import platform
from api.accounts.models import AccessLog, User
from api.alerts.models import Alert
from api.db import Base, db, utcnow
from api.devices.models import Device, DeviceStatus, DeviceType
from api.eldercare.models import BindingStatus, Elder, ElderStatus, FamilyBinding, MonitoringConsent
from api.eldercare.services import contacts_in_order
from api.incidents.categories import ensure_default_catalogue
from api.models import metadata
from api.notifications.models import Notification
from api.personaldata import PersonalData
from api.privacy import services as privacy
from api.privacy.models import DataExport, DeletionRequest, DeletionStatus, ExportStatus
from tests.conftest import bearer, wechat_login
from tests.factories import iot_event, pushed

PHONE = "13912345678"
LAT, LNG = 31.2822, 121.5355


def jpeg() -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", (40, 30), (20, 120, 200)).save(buffer, "JPEG")
    return buffer.getvalue()


@dataclass
class Zhang:
    user_id: uuid.UUID
    openid: str
    headers: dict[str, str]
    elder_id: uuid.UUID
    incident_id: str
    photo_id: str
    alert_id: str
    lisi_id: uuid.UUID


def _room_user(client, headers, world, room, admin) -> None:
    asked = client.post(
        "/api/v1/me/household-requests",
        json={"room_id": str(world.room(room).id), "relation": "owner", "note": "我住这里"},
        headers=headers,
    )
    assert asked.status_code == 201, asked.get_json()
    approved = client.post(
        f"/api/v1/admin/household-requests/{asked.get_json()['id']}/approve", headers=admin["headers"]
    )
    assert approved.status_code == 200, approved.get_json()


@pytest.fixture
def zhang(client, world, resident, admin, kj01_staff, settings) -> Zhang:
    user = db.session.get(User, uuid.UUID(resident["user"]["id"]))
    user.phone = PHONE
    db.session.commit()
    headers = resident["headers"]
    _room_user(client, headers, world, "KJ01/101", admin)

    ensure_default_catalogue()
    db.session.commit()
    upload = client.post(
        "/api/v1/media",
        data={"file": (io.BytesIO(jpeg()), "p.jpg", "image/jpeg")},
        headers=headers,
        content_type="multipart/form-data",
    )
    assert upload.status_code == 201, upload.get_json()
    photo_id = upload.get_json()["id"]
    report = client.post(
        "/api/v1/incidents",
        json={
            "category": "env.dumping",
            "description": "楼下绿化带有人偷倒装修垃圾",
            "location": {"lat": LAT, "lng": LNG, "address": "控江一村12号楼旁"},
            "media_ids": [photo_id],
        },
        headers=headers,
    )
    assert report.status_code == 201, report.get_json()

    now = utcnow()
    event = client.post(
        "/api/v1/admin/events",
        json={
            "title": "太极拳入门",
            "category": "sports",
            "venue": "睦邻中心",
            "starts_at": (now + timedelta(days=3)).isoformat(),
            "ends_at": (now + timedelta(days=3, hours=2)).isoformat(),
            "booking_opens_at": (now - timedelta(hours=1)).isoformat(),
            "booking_closes_at": (now + timedelta(days=2)).isoformat(),
            "capacity": 10,
            "waitlist_limit": 0,
        },
        headers=kj01_staff["headers"],
    ).get_json()
    client.post(f"/api/v1/admin/events/{event['id']}/publish", headers=kj01_staff["headers"])
    booked = client.post(f"/api/v1/events/{event['id']}/bookings", json={}, headers=headers)
    assert booked.status_code == 201, booked.get_json()

    lisi = wechat_login(client, "lisi#1")
    lisi_id = uuid.UUID(lisi["user"]["id"])
    room = world.room("KJ01/102")
    elder = Elder(name="王阿婆", room_id=room.id, birth_year=1941, status=ElderStatus.ACTIVE, phone="13800001111")
    db.session.add(elder)
    db.session.flush()
    db.session.add(MonitoringConsent(elder_id=elder.id, given_by="本人", device_types=["*"]))
    for position, user_id in ((1, user.id), (2, lisi_id)):
        db.session.add(
            FamilyBinding(
                elder_id=elder.id,
                user_id=user_id,
                relation="子女",
                position=position,
                status=BindingStatus.CONFIRMED,
                confirmed_at=now,
            )
        )
    db.session.add(
        Device(
            serial="SMK-Z",
            type=DeviceType.SMOKE_DETECTOR,
            room_id=room.id,
            elder_id=elder.id,
            status=DeviceStatus.ACTIVE,
        )
    )
    db.session.commit()
    alert_id = pushed(client, [iot_event("SMK-Z", "smoke")])["results"][0]["alert_id"]
    acked = client.post(f"/api/v1/alerts/{alert_id}/ack", headers=headers)
    assert acked.status_code == 200, acked.get_json()
    return Zhang(user.id, user.wechat_openid, headers, elder.id, report.get_json()["id"], photo_id, alert_id, lisi_id)


def _path(url: str) -> str:
    parts = urlsplit(url)
    return f"{parts.path}?{parts.query}"


# ----------------------------------------------------------------------------------------------------
# Export
# ----------------------------------------------------------------------------------------------------


def test_a_resident_exports_a_zip_that_names_all_they_hold_and_whose_photos_open(client, zhang):
    asked = client.post("/api/v1/me/data-exports", headers=zhang.headers)
    assert asked.status_code == 202, asked.get_json()
    export = client.get(f"/api/v1/me/data-exports/{asked.get_json()['id']}", headers=zhang.headers).get_json()
    assert export["status"] == "ready" and export["progress"] == 100
    download = client.get(_path(export["download_url"]))
    assert download.status_code == 200

    archive = zipfile.ZipFile(io.BytesIO(download.get_data()))
    names = set(archive.namelist())
    assert {"accounts.json", "incidents.json", "eldercare.json", "events.json", "alerts.json", "media.json"} <= names
    documents = {name: json.loads(archive.read(name)) for name in names if name.endswith(".json")}
    accounts = documents["accounts.json"]["data"]
    assert accounts["profile"]["phone"] == PHONE
    assert accounts["households"][0]["address"].endswith("101室")
    assert documents["incidents.json"]["data"]["reports"][0]["description"] == "楼下绿化带有人偷倒装修垃圾"
    assert documents["eldercare.json"]["data"]["family_bindings"][0]["elder"] == "王阿婆"
    assert documents["events.json"]["data"]["bookings"][0]["event"] == "太极拳入门"
    assert documents["alerts.json"]["data"]["alerts_handled"][0]["id"] == zhang.alert_id
    photo = archive.read(f"photos/{zhang.photo_id}.jpg")
    assert Image.open(io.BytesIO(photo)).size == (40, 30)


def test_only_one_export_is_made_at_a_time(client, zhang):
    db.session.add(DataExport(user_id=zhang.user_id, status=ExportStatus.BUILDING))
    db.session.commit()
    refused = client.post("/api/v1/me/data-exports", headers=zhang.headers)
    assert refused.status_code == 409 and refused.get_json()["code"] == "export_running"


def test_a_forged_or_expired_download_link_is_refused(client, app, zhang):
    export_id = client.post("/api/v1/me/data-exports", headers=zhang.headers).get_json()["id"]
    url = client.get(f"/api/v1/me/data-exports/{export_id}", headers=zhang.headers).get_json()["download_url"]
    forged = _path(url).replace("signature=", "signature=x")
    assert client.get(forged).status_code == 403
    with app.test_request_context():
        export = db.session.get(DataExport, uuid.UUID(export_id))
        expired = app.extensions["linli.storage"].url(export.object_key, ttl=timedelta(seconds=-5))
    answer = client.get(_path(expired))
    assert answer.status_code == 403 and answer.get_json()["code"] == "media_url_expired"
    other = wechat_login(client, "wangwu#1")
    assert client.get(f"/api/v1/me/data-exports/{export_id}", headers=bearer(other["access_token"])).status_code == 404


# ----------------------------------------------------------------------------------------------------
# Deletion
# ----------------------------------------------------------------------------------------------------


def _scan_for(values: list[str]) -> list[str]:
    """Every (table.column) whose text still holds one of `values`."""
    found = []
    db.session.remove()
    for table in metadata.sorted_tables:
        rows = db.session.execute(select(table)).mappings().all()
        for row in rows:
            for column, value in row.items():
                if value is None:
                    continue
                text_value = json.dumps(value, ensure_ascii=False, default=str) if not isinstance(value, str) else value
                for needle in values:
                    if needle and needle in text_value:
                        found.append(f"{table.name}.{column} holds {needle!r}")
    return found


def test_deletion_waits_out_the_cooling_off_a_login_cancels_it_and_then_no_row_names_them(
    client, app, zhang, admin, settings
):
    asked = client.post("/api/v1/me/account-deletion", headers=zhang.headers)
    assert asked.status_code == 202, asked.get_json()
    assert asked.get_json()["status"] == "waiting"
    again = client.post("/api/v1/me/account-deletion", headers=zhang.headers)
    assert again.status_code == 409 and again.get_json()["code"] == "deletion_requested"

    relogged = wechat_login(client, "zhangsan#2")  # changed his mind
    headers = bearer(relogged["access_token"])
    assert client.get("/api/v1/me/account-deletion", headers=headers).status_code == 404
    due = client.post("/api/v1/me/account-deletion", headers=headers).get_json()["due_at"]

    stats_before = client.get(
        "/api/v1/admin/incidents/stats",
        query_string={"from": "2020-01-01T00:00:00+08:00", "to": "2100-01-01T00:00:00+08:00"},
        headers=admin["headers"],
    ).get_json()["total"]["received"]
    with app.app_context():
        assert (
            privacy.erase_due(now=utcnow() + timedelta(days=settings.account_deletion_cooling_off_days, minutes=1)) == 1
        )
    assert due

    leftovers = _scan_for([str(zhang.user_id), zhang.user_id.hex, zhang.openid, PHONE, "张三"])
    assert leftovers == [], leftovers
    assert db.session.get(User, zhang.user_id) is None
    stats_after = client.get(
        "/api/v1/admin/incidents/stats",
        query_string={"from": "2020-01-01T00:00:00+08:00", "to": "2100-01-01T00:00:00+08:00"},
        headers=admin["headers"],
    ).get_json()["total"]["received"]
    assert stats_after == stats_before == 1  # the case still counts, without its reporter
    assert [u.id for u in contacts_in_order(zhang.elder_id)] == [zhang.lisi_id]
    assert db.session.get(Alert, uuid.UUID(zhang.alert_id)) is not None
    request = db.session.scalar(select(DeletionRequest).where(DeletionRequest.status == DeletionStatus.DONE))
    assert request.user_id is None and "accounts" in request.erased_domains
    assert client.get("/api/v1/me", headers=headers).status_code == 401


def test_the_only_contact_of_an_elder_cannot_delete_their_account_and_staff_are_told(client, zhang, world):
    db.session.execute(FamilyBinding.__table__.delete().where(FamilyBinding.user_id == zhang.lisi_id))
    db.session.commit()
    refused = client.post("/api/v1/me/account-deletion", headers=zhang.headers)
    assert refused.status_code == 409 and refused.get_json()["code"] == "deletion_blocked"
    assert "王阿婆" in refused.get_json()["message"]
    assert db.session.scalar(select(DeletionRequest)) is None
    told = db.session.scalars(select(Notification.user_id).where(Notification.kind == "deletion_blocked")).all()
    assert world.users["kj01"].id in told


def test_an_erasure_killed_half_way_is_finished_by_the_next_run(client, app, zhang, settings, monkeypatch):
    client.post("/api/v1/me/account-deletion", headers=zhang.headers)
    later = utcnow() + timedelta(days=settings.account_deletion_cooling_off_days, minutes=1)
    from api.incidents import personal as incidents_personal

    real = incidents_personal.erase

    def dies(user: Any) -> None:
        raise SystemExit("the worker was killed")

    monkeypatch.setattr(incidents_personal, "erase", dies)
    with app.app_context(), pytest.raises(SystemExit):
        privacy.erase_due(now=later)
    db.session.remove()
    request = db.session.scalar(select(DeletionRequest))
    assert request.status == DeletionStatus.ERASING
    assert "privacy" in request.erased_domains and "accounts" not in request.erased_domains
    assert db.session.get(User, zhang.user_id) is not None

    monkeypatch.setattr(incidents_personal, "erase", real)
    with app.app_context():
        assert privacy.erase_due(now=later) == 1
    assert db.session.get(User, zhang.user_id) is None
    assert _scan_for([str(zhang.user_id), zhang.openid, PHONE]) == []


# ----------------------------------------------------------------------------------------------------
# The access log
# ----------------------------------------------------------------------------------------------------


def test_a_staff_look_at_an_elder_is_in_the_familys_and_the_admins_access_log(
    client, zhang, kj01_staff, kj02_staff, admin
):
    assert client.get(f"/api/v1/admin/elders/{zhang.elder_id}", headers=kj01_staff["headers"]).status_code == 200

    mine = client.get("/api/v1/me/access-log", headers=zhang.headers).get_json()["items"]
    entry = next(e for e in mine if e["subject_kind"] == "elder")
    assert entry["subject_id"] == str(zhang.elder_id)
    assert (entry["staff_role"], entry["staff_area_code"]) == ("staff", "KJ01")
    assert "staff_id" not in entry and "conditions" in entry["fields"]

    logged = client.get(
        "/api/v1/admin/access-log", query_string={"subject_id": str(zhang.elder_id)}, headers=admin["headers"]
    ).get_json()["items"]
    assert any(row["route"].startswith("GET /api/v1/admin/elders/") for row in logged)
    csv = client.get("/api/v1/admin/access-log.csv", headers=admin["headers"])
    assert csv.status_code == 200 and str(zhang.elder_id) in csv.get_data(as_text=True)

    elsewhere = client.get(
        "/api/v1/admin/access-log",
        query_string={"subject_kind": "elder", "subject_id": str(zhang.elder_id)},
        headers=kj02_staff["headers"],
    )
    assert elsewhere.status_code == 404
    own_area = client.get(
        "/api/v1/admin/access-log",
        query_string={"subject_kind": "elder", "subject_id": str(zhang.elder_id)},
        headers=kj01_staff["headers"],
    )
    assert own_area.status_code == 200


def test_a_full_phone_number_is_revealed_only_with_a_reason_that_is_logged(client, zhang, kj01_staff):
    elder = client.get(f"/api/v1/admin/elders/{zhang.elder_id}", headers=kj01_staff["headers"]).get_json()
    assert elder["phone"] == "138****1111"
    no_reason = client.post(
        f"/api/v1/admin/elders/{zhang.elder_id}/reveal-phone", json={}, headers=kj01_staff["headers"]
    )
    assert no_reason.status_code == 422
    revealed = client.post(
        f"/api/v1/admin/elders/{zhang.elder_id}/reveal-phone",
        json={"reason": "联系家属确认报警"},
        headers=kj01_staff["headers"],
    )
    assert revealed.get_json() == {"phone": "13800001111"}
    row = db.session.scalar(select(AccessLog).where(AccessLog.reason == "联系家属确认报警"))
    assert row is not None and row.fields == ["phone"]


# ----------------------------------------------------------------------------------------------------
# At rest
# ----------------------------------------------------------------------------------------------------


def test_the_database_holds_no_phone_number_in_clear(zhang):
    stored = db.session.execute(text("SELECT phone FROM users WHERE phone IS NOT NULL")).scalars().all()
    assert stored and all(value.startswith("enc1:") and PHONE not in value for value in stored)
    elders = db.session.execute(text("SELECT phone FROM elders WHERE phone IS NOT NULL")).scalars().all()
    assert elders and all(value.startswith("enc1:") for value in elders)
    assert db.session.get(User, zhang.user_id).phone == PHONE  # the app reads it back


def test_a_new_key_put_first_re_encrypts_everything_and_hashes_still_find_numbers(app, zhang):
    from api import crypto

    old = crypto.Keyring.parse(crypto.DEV_PII_KEY)
    fresh = "k2:" + crypto.new_key() + "," + crypto.DEV_PII_KEY
    try:
        crypto.configure(fresh)
        done = app.test_cli_runner().invoke(args=["reencrypt-pii"], catch_exceptions=False)
        assert "users.phone: 1 re-encrypted with key 'k2'" in done.output
        stored = db.session.execute(text("SELECT phone FROM users WHERE phone IS NOT NULL")).scalars().all()
        assert all(crypto.key_id(value) == "k2" for value in stored)
        db.session.remove()
        assert db.session.get(User, zhang.user_id).phone == PHONE
        assert db.session.scalar(select(User.id).where(User.phone_hash == crypto.lookup_hash(PHONE))) == zhang.user_id
    finally:
        crypto.configure(crypto.DEV_PII_KEY)
        assert crypto.current_key_id() == old.current


def test_a_number_is_found_by_its_keyed_hash(zhang):
    from api.crypto import lookup_hash

    assert (
        db.session.scalar(select(User.id).where(User.phone_hash == lookup_hash("+86 139-1234-5678"))) == zhang.user_id
    )


def test_binding_a_phone_number_leaves_no_number_in_the_logs(client, resident, caplog):
    caplog.set_level(logging.DEBUG)
    bound = client.patch("/api/v1/me", json={"phone_code": "phone-code-1"}, headers=resident["headers"])
    assert bound.status_code == 200, bound.get_json()
    full = db.session.get(User, uuid.UUID(resident["user"]["id"])).phone
    assert full and full not in caplog.text


# ----------------------------------------------------------------------------------------------------
# The privacy policy
# ----------------------------------------------------------------------------------------------------


def test_once_a_policy_is_in_force_residents_accept_it_before_anything_else(client, resident, admin, kj01_staff):
    published = client.post(
        "/api/v1/admin/privacy-policies",
        json={"version": "2026-12", "text": "我们如何处理您的个人信息……", "effective_at": utcnow().isoformat()},
        headers=admin["headers"],
    )
    assert published.status_code == 201, published.get_json()
    assert client.get("/api/v1/privacy-policy").get_json()["version"] == "2026-12"

    refused = client.get("/api/v1/me/household-requests", headers=resident["headers"])
    assert refused.status_code == 403 and refused.get_json()["code"] == "policy_not_accepted"
    me = client.get("/api/v1/me", headers=resident["headers"]).get_json()
    assert me["privacy_policy"]["must_accept"] is True and me["privacy_policy"]["in_force"] == "2026-12"
    assert client.get("/api/v1/admin/household-requests", headers=kj01_staff["headers"]).status_code == 200

    unknown = client.post("/api/v1/me/privacy/accept", json={"version": "1999-01"}, headers=resident["headers"])
    assert unknown.status_code == 422
    accepted = client.post("/api/v1/me/privacy/accept", json={"version": "2026-12"}, headers=resident["headers"])
    assert accepted.status_code == 200 and accepted.get_json()["policy"]["accepted"] == "2026-12"
    assert client.get("/api/v1/me/household-requests", headers=resident["headers"]).status_code == 200
    again = client.post(
        "/api/v1/admin/privacy-policies",
        json={"version": "2026-12", "text": "x", "effective_at": utcnow().isoformat()},
        headers=admin["headers"],
    )
    assert again.status_code == 409


def test_my_privacy_shows_the_policy_consents_and_what_is_held(client, zhang):
    overview = client.get("/api/v1/me/privacy", headers=zhang.headers).get_json()
    assert overview["consents"]["elders_i_look_after"][0]["elder"] == "王阿婆"
    assert overview["consents"]["official_account_linked"] is False
    held = {d["domain"] for d in overview["data_held"]}
    assert {"accounts", "incidents", "eldercare", "media"} <= held


# ----------------------------------------------------------------------------------------------------
# Retention
# ----------------------------------------------------------------------------------------------------


def test_retention_removes_only_what_is_past_its_time(app, zhang, settings):
    old = utcnow() - timedelta(days=settings.retention_access_log_days + 1)
    db.session.add(
        AccessLog(staff_role="staff", subject_kind="user", subject_id=zhang.user_id, route="-", fields=[], at=old)
    )
    db.session.commit()
    before = db.session.scalar(select(AccessLog.id).where(AccessLog.at > old))
    with app.app_context():
        removed = privacy.apply_retention(settings, app.extensions["linli.storage"])
    assert removed["access_log"] == 1
    assert db.session.scalar(select(AccessLog.id).where(AccessLog.at <= old)) is None
    assert before is None or db.session.get(AccessLog, before) is not None


# ----------------------------------------------------------------------------------------------------
# Every column that names a person is somebody's to export and erase
# ----------------------------------------------------------------------------------------------------

# Columns that look personal by their name but are not a person's: names of places, categories and
# partner systems; what staff publish to everyone.
NOT_PERSONAL = {
    "parking_lots.name",  # a car park's public name and street address, no person's
    "parking_lots.address",
    "subscription_credits.template_id",  # "template" holds "plate"
    "areas.name",
    "incident_categories.name_zh",
    "incident_categories.name_en",
    "open311_keys.name",
    "handling_units.name",
    "events.title",
    "events.description",
    "events.cancel_reason",
    "live_sessions.stream_name",
    "media.content_type",
    "privacy_policies.text",
    "volunteer_skills.name",
    "volunteer_groups.name",
    "volunteer_groups.description",
    "volunteer_tasks.title",
    "volunteer_tasks.description",
    "volunteer_tasks.cancel_reason",
    # Party affairs: what organisations publish and decide, not what a person wrote about themselves.
    "party_orgs.name",
    "party_meetings.cancel_reason",
    "party_minutes.reject_reason",
    "party_study_materials.title",
    "party_study_materials.body",
    "party_quizzes.title",
    "party_announcements.title",
    "party_announcements.body",
    "party_points_ledger.note",  # what a point was for: a meeting's topic, a material's title
    # Aids lending: the catalogue, the stations' public names and addresses, the state of an item (staff's words
    # about a wheelchair; what was noted at a hand-out or return stays on the loan, which is covered).
    "aid_types.name",
    "aid_types.description",
    "aid_locations.name",
    "aid_locations.address",
    "aid_items.condition_note",
    # Elderly services: organisations and their service desks, the catalogue and the street's rules; why a return
    # visit is due (low_score / sample).
    "care_providers.name",
    "care_providers.contact_name",
    "care_providers.contact_phone",
    "care_services.name",
    "care_services.description",
    "care_subsidy_rules.name",
    "care_return_visits.reason",
    # Daily meal plans: a canteen's route is named by staff, about no person.
    "care_meal_routes.name",
}
PERSONAL_NAME = ("phone", "id_number", "name", "nickname", "address", "note", "description", "comment", "reason")
PERSONAL_NAME += ("conditions", "relation", "body", "title", "given_by", "openid", "unionid", "username", "avatar")
PERSONAL_NAME += ("plate",)  # a licence plate names its car's owner


def test_every_column_that_refers_to_a_person_is_covered_by_a_domains_exporter_and_eraser():
    covered: set[str] = set()
    for manifest in platform.load():
        if manifest.personal_data:
            hooks: PersonalData = platform.resolve(manifest.personal_data)
            covered |= set(hooks.covers)
            assert callable(platform.resolve(hooks.export)) and callable(platform.resolve(hooks.erase))
    missing = []
    for table in Base.metadata.sorted_tables:
        for column in table.columns:
            name = f"{table.name}.{column.name}"
            refers = any(fk.column.table.name == "users" for fk in column.foreign_keys)
            looks = isinstance(column.type, String | Text) and any(word in column.name for word in PERSONAL_NAME)
            if (refers or looks) and name not in NOT_PERSONAL and name not in covered:
                missing.append(name)
    assert missing == [], f"columns no domain exports and erases: {missing}"


def test_an_unpaid_order_blocks_deletion_and_a_paid_one_stays_without_its_payer(client, app, resident, settings):
    from api.payments import services as payments
    from api.payments.models import PaymentOrder

    payer = db.session.get(User, uuid.UUID(resident["user"]["id"]))
    with app.app_context():
        order = payments.create_order(payer, "test", "r-1", 1500, "测试缴费", 3600, area_path="/KJ/KJ01/")
        db.session.commit()
        order_id = order.id
    blocked = client.post("/api/v1/me/account-deletion", headers=resident["headers"])
    assert blocked.status_code == 409 and "支付" in blocked.get_json()["message"]

    paid = client.post(
        f"/api/v1/payments/{order_id}/sandbox-complete", json={"outcome": "paid"}, headers=resident["headers"]
    )
    assert paid.status_code == 200, paid.get_json()
    assert client.post("/api/v1/me/account-deletion", headers=resident["headers"]).status_code == 202
    with app.app_context():
        assert (
            privacy.erase_due(now=utcnow() + timedelta(days=settings.account_deletion_cooling_off_days, minutes=1)) == 1
        )
    db.session.remove()
    kept = db.session.get(PaymentOrder, order_id)
    assert kept is not None and kept.payer_id is None and kept.amount_fen == 1500 and kept.status.value == "paid"


def test_a_volunteer_leaves_the_time_bank_its_books_still_add_up_and_nothing_names_them(
    client, app, world, resident, admin, kj01_staff, settings
):
    """Erasing a volunteer keeps every ledger entry (the subdistrict's hours and coins still add up), moves the coins
    left to the community pool, and leaves no row with their id, name or where they stood; their certificate no
    longer verifies, and the task they served still counts them."""
    from api.volunteers import ledger
    from api.volunteers.models import CoinEntry, HourEntry, Signup

    now = utcnow()
    headers = resident["headers"]
    applied = client.post(
        "/api/v1/me/volunteer",
        json={"real_name": "张志愿者", "committee_ids": [str(world.areas["KJ01"].id)]},
        headers=headers,
    ).get_json()
    client.post(f"/api/v1/admin/volunteer-profiles/{applied['id']}/approve", headers=kj01_staff["headers"])
    task = client.post(
        "/api/v1/admin/volunteer-tasks",
        json={
            "title": "探访",
            "kind": "elder_visit",
            "starts_at": (now + timedelta(days=1)).isoformat(),
            "ends_at": (now + timedelta(days=1, hours=2)).isoformat(),
            "slots": 2,
            "checkin_rule": "owner_code",
        },
        headers=kj01_staff["headers"],
    ).get_json()
    signed = client.post(f"/api/v1/volunteer/tasks/{task['id']}/signups", headers=headers)
    assert signed.status_code == 201, signed.get_json()
    claim = client.post(
        "/api/v1/admin/volunteer-hours",
        json={"task_id": task["id"], "profile_id": applied["id"], "minutes": 120},
        headers=kj01_staff["headers"],
    ).get_json()
    assert (
        client.post(f"/api/v1/admin/volunteer-hours/{claim['id']}/approve", headers=admin["headers"]).status_code == 200
    )
    code = client.get("/api/v1/me/volunteer/certificate", headers=headers).headers["X-Certificate-Code"]
    assert client.get(f"/api/v1/volunteer-certificates/{code}").status_code == 200
    user_id = uuid.UUID(resident["user"]["id"])

    assert client.post("/api/v1/me/account-deletion", headers=headers).status_code == 202
    with app.app_context():
        later = utcnow() + timedelta(days=settings.account_deletion_cooling_off_days, minutes=1)
        assert privacy.erase_due(now=later) == 1
    db.session.remove()
    assert _scan_for([str(user_id), user_id.hex, "张志愿者"]) == []
    assert sum(db.session.scalars(select(HourEntry.minutes))) == 120  # the hours served stay served
    assert sum(db.session.scalars(select(CoinEntry.centi))) == 200
    assert ledger.coin_balance(ledger.pool().id) == 200  # the coins left went to the community pool
    assert client.get(f"/api/v1/volunteer-certificates/{code}").status_code == 404
    assert db.session.scalar(select(Signup).where(Signup.task_id == uuid.UUID(task["id"]))).user_id is None
