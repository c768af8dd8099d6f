"""Residents report problems (随手拍) and follow them; staff triage, dispatch, resolve and merge; late
cases escalate to supervisors; statistics give the closure and satisfaction rates the hotline reports."""

from __future__ import annotations

import io
import uuid
from datetime import timedelta

import pytest
from PIL import Image
from sqlalchemy import func, select

from api.accounts.models import Role
from api.accounts.services import create_staff
from api.db import db, utcnow
from api.incidents import services
from api.incidents.categories import ensure_default_catalogue
from api.incidents.models import HandlingUnit, HandlingUnitKind, Incident, IncidentEvent, IncidentStatus
from api.notifications.models import Notification
from tests.conftest import STAFF_PASSWORD, bearer, staff_login, wechat_login

# Inside the default INCIDENTS_BOUNDS (控江路街道, Yangpu).
LAT, LNG = 31.2805, 121.5302
METRE = 1 / 111_320  # degrees of latitude per metre


@pytest.fixture
def catalogue(app, world):
    ensure_default_catalogue()
    db.session.commit()


def photo(client, headers) -> str:
    buffer = io.BytesIO()
    Image.new("RGB", (40, 30), (200, 30, 30)).save(buffer, "JPEG")
    response = client.post(
        "/api/v1/media",
        data={"file": (io.BytesIO(buffer.getvalue()), "p.jpg", "image/jpeg")},
        headers=headers,
        content_type="multipart/form-data",
    )
    assert response.status_code == 201, response.get_json()
    return response.get_json()["id"]


def report(client, person, *, category="env.dumping", lat=LAT, lng=LNG, photos=1, **extra):
    body = {
        "category": category,
        "description": extra.pop("description", "楼下绿化带有人偷倒装修垃圾"),
        "location": {"lat": lat, "lng": lng, "address": "控江一村12号楼旁"},
        "media_ids": [photo(client, person["headers"]) for _ in range(photos)],
        **extra,
    }
    return client.post("/api/v1/incidents", json=body, headers=person["headers"])


def filed(client, person, **kwargs) -> dict:
    response = report(client, person, **kwargs)
    assert response.status_code == 201, response.get_json()
    return response.get_json()


def someone(client, name: str) -> dict:
    tokens = wechat_login(client, f"{name}#{uuid.uuid4().hex[:6]}")
    return {**tokens, "headers": bearer(tokens["access_token"])}


def act(client, staff, incident_id, action, **body):
    return client.post(
        f"/api/v1/admin/incidents/{incident_id}/transitions", json={"action": action, **body}, headers=staff["headers"]
    )


def place(incident_id: str, world, code: str = "KJ01-01") -> None:
    db.session.get(Incident, uuid.UUID(incident_id)).area_id = world.areas[code].id
    db.session.commit()


def count_incidents() -> int:
    return db.session.scalar(select(func.count()).select_from(Incident))


# ------------------------------------------------------------------------------------------------
# The catalogue
# ------------------------------------------------------------------------------------------------


def test_the_catalogue_has_two_levels_time_limits_photo_rules_and_extra_fields(client, resident, catalogue):
    response = client.get("/api/v1/incident-categories", headers=resident["headers"])
    assert response.status_code == 200
    by_code = {c["code"]: c for c in response.get_json()}
    assert by_code["env"]["parent_code"] is None
    assert by_code["env.dumping"]["parent_code"] == "env"
    assert by_code["env.dumping"]["name_zh"] == "偷倒垃圾" and by_code["env.dumping"]["photo_required"] is True
    assert by_code["traffic.fire_lane"]["time_limit_hours"] == 4
    for code in (
        "building.illegal_construction",
        "facility.street_lamp",
        "nuisance.cooking_fumes",
        "building.pipe_leak",
    ):
        assert code in by_code
    noise = by_code["nuisance.noise"]
    assert noise["photo_required"] is False
    assert noise["attributes"][0]["code"] == "time_of_day" and noise["attributes"][0]["required"] is True
    # Running the seed again adds nothing.
    assert ensure_default_catalogue() == 0


# ------------------------------------------------------------------------------------------------
# Reporting
# ------------------------------------------------------------------------------------------------


@pytest.mark.smoke
def test_a_resident_reports_a_problem_with_photos_and_sees_it_with_its_timeline(client, resident, catalogue):
    created = filed(client, resident, photos=2)
    assert created["status"] == "submitted"
    assert created["category"] == "env.dumping" and created["possible_duplicates"] == []

    detail = client.get(f"/api/v1/incidents/{created['id']}", headers=resident["headers"]).get_json()
    assert len(detail["photos"]) == 2 and detail["photos"][0]["url"]
    assert [e["action"] for e in detail["timeline"]] == ["submit"]
    assert detail["timeline"][0]["by"] == "resident"

    mine = client.get("/api/v1/me/incidents", headers=resident["headers"]).get_json()
    assert [i["id"] for i in mine["items"]] == [created["id"]]


@pytest.mark.parametrize(
    ("change", "code", "field"),
    [
        ({"category": "env.nothing"}, "unknown_category", "category"),
        ({"category": "env"}, "unknown_category", "category"),
        ({"photos": 0}, "photo_required", "media_ids"),
        ({"lat": 31.2304, "lng": 121.4737}, "location_out_of_bounds", "location"),  # People's Square
        ({"description": "   "}, "validation_failed", "description"),
        ({"description": "垃" * 501}, "validation_failed", "description"),
        ({"category": "nuisance.noise", "photos": 0}, "validation_failed", "attributes.time_of_day"),
    ],
)
def test_bad_reports_are_refused_with_a_clear_error_and_nothing_is_created(
    client, resident, catalogue, change, code, field
):
    response = report(client, resident, **change)
    assert response.status_code == 422, response.get_json()
    assert response.get_json()["code"] == code
    assert field in response.get_json()["errors"]
    assert count_incidents() == 0


def test_someone_elses_photo_or_ten_photos_are_refused(client, resident, catalogue):
    other = someone(client, "lisi")
    theirs = photo(client, other["headers"])
    body = {
        "category": "env.dumping",
        "description": "垃圾",
        "location": {"lat": LAT, "lng": LNG},
        "media_ids": [theirs],
    }
    response = client.post("/api/v1/incidents", json=body, headers=resident["headers"])
    assert response.status_code == 422 and response.get_json()["code"] == "media_not_available"
    body["media_ids"] = [str(uuid.uuid4()) for _ in range(10)]
    assert client.post("/api/v1/incidents", json=body, headers=resident["headers"]).status_code == 422
    assert count_incidents() == 0


def test_noise_report_carries_its_time_of_day_and_address_only_reports_are_accepted(client, resident, catalogue):
    body = {
        "category": "nuisance.noise",
        "description": "夜里装修噪声",
        "location": {"address": "凤城一村5号楼"},
        "attributes": {"time_of_day": "night"},
    }
    response = client.post("/api/v1/incidents", json=body, headers=resident["headers"])
    assert response.status_code == 201, response.get_json()
    incident = db.session.get(Incident, uuid.UUID(response.get_json()["id"]))
    assert incident.attributes == {"time_of_day": "night"} and incident.lat is None


def test_a_retried_report_with_the_same_idempotency_key_is_filed_once(client, resident, catalogue):
    media = photo(client, resident["headers"])
    body = {
        "category": "env.dumping",
        "description": "垃圾",
        "location": {"lat": LAT, "lng": LNG},
        "media_ids": [media],
    }
    headers = {**resident["headers"], "Idempotency-Key": "report-1"}
    first = client.post("/api/v1/incidents", json=body, headers=headers)
    second = client.post("/api/v1/incidents", json=body, headers=headers)
    assert first.status_code == second.status_code == 201
    assert first.get_json()["id"] == second.get_json()["id"]
    assert second.headers["Idempotent-Replayed"] == "true"
    assert count_incidents() == 1


def test_reports_are_rate_limited_per_resident(client, resident, catalogue, settings):
    settings.incidents_reports_per_hour = 2
    for _ in range(2):
        filed(client, resident, category="other.other", photos=0)
    response = report(client, resident, category="other.other", photos=0)
    assert response.status_code == 429 and response.get_json()["code"] == "too_many_requests"
    other = someone(client, "lisi")
    assert report(client, other, category="other.other", photos=0).status_code == 201


@pytest.mark.smoke
def test_a_nearby_open_report_of_the_same_kind_is_offered_as_a_possible_duplicate(client, resident, catalogue):
    first = filed(client, resident)
    other = someone(client, "lisi")
    near = filed(client, other, lat=LAT + 30 * METRE)
    assert [d["id"] for d in near["possible_duplicates"]] == [first["id"]]
    far = filed(client, other, lat=LAT + 120 * METRE)
    assert far["possible_duplicates"] == []
    other_kind = filed(client, other, category="facility.street_lamp", lat=LAT + 10 * METRE)
    assert other_kind["possible_duplicates"] == []
    # A day later it is a new problem, not a duplicate.
    db.session.get(Incident, uuid.UUID(first["id"])).created_at = utcnow() - timedelta(hours=25)
    db.session.get(Incident, uuid.UUID(near["id"])).created_at = utcnow() - timedelta(hours=25)
    db.session.commit()
    assert filed(client, other, lat=LAT + 5 * METRE)["possible_duplicates"] == []


def test_a_resident_never_sees_another_residents_report(client, resident, catalogue):
    created = filed(client, resident)
    other = someone(client, "lisi")
    assert client.get(f"/api/v1/incidents/{created['id']}", headers=other["headers"]).status_code == 404
    assert client.get("/api/v1/me/incidents", headers=other["headers"]).get_json()["items"] == []
    photo_id = client.get(f"/api/v1/incidents/{created['id']}", headers=resident["headers"]).get_json()["photos"][0]
    assert client.get(f"/api/v1/media/{photo_id['id']}", headers=other["headers"]).status_code == 404
    assert client.get(f"/api/v1/media/{photo_id['id']}", headers=resident["headers"]).status_code == 200


# ------------------------------------------------------------------------------------------------
# The handling cycle
# ------------------------------------------------------------------------------------------------


@pytest.fixture
def unit(world):
    row = HandlingUnit(name="控江一村物业", kind=HandlingUnitKind.PROPERTY_COMPANY, area_id=world.areas["KJ01"].id)
    db.session.add(row)
    db.session.commit()
    return str(row.id)


@pytest.mark.smoke
def test_the_full_cycle_from_report_to_a_satisfied_resident(client, resident, kj01_staff, catalogue, world, unit):
    created = filed(client, resident)
    place(created["id"], world)
    case = created["id"]

    accepted = act(client, kj01_staff, case, "accept")
    assert accepted.status_code == 200, accepted.get_json()
    body = accepted.get_json()
    assert body["status"] == "accepted" and body["due_at"] is not None
    assert body["allowed_actions"] == ["reclassify", "reject", "dispatch"]

    assert act(client, kj01_staff, case, "dispatch", unit_id=unit).get_json()["status"] == "dispatched"
    assert act(client, kj01_staff, case, "start").get_json()["status"] == "in_progress"
    # The category needs a photo of the result, and a note of what was done.
    assert act(client, kj01_staff, case, "resolve", note="已清运").get_json()["code"] == "photo_required"
    assert act(client, kj01_staff, case, "resolve").get_json()["errors"] == {"note": ["say what was done"]}
    staff_photo = photo(client, kj01_staff["headers"])
    resolved = act(client, kj01_staff, case, "resolve", note="垃圾已清运", media_ids=[staff_photo])
    assert resolved.get_json()["status"] == "resolved"

    seen = client.get(f"/api/v1/incidents/{case}", headers=resident["headers"]).get_json()
    assert seen["status_note"] == "垃圾已清运" and seen["can_give_feedback"] is True
    assert [p["id"] for p in seen["result_photos"]] == [staff_photo]
    assert [e["action"] for e in seen["timeline"]] == ["submit", "accept", "dispatch", "start", "resolve"]

    rated = client.post(
        f"/api/v1/incidents/{case}/feedback", json={"score": 5, "comment": "很快"}, headers=resident["headers"]
    )
    assert rated.status_code == 200 and rated.get_json()["status"] == "closed"
    again = client.post(f"/api/v1/incidents/{case}/feedback", json={"score": 1}, headers=resident["headers"])
    assert again.status_code == 409 and again.get_json()["code"] == "feedback_already_given"

    # Every status change reached the reporter's inbox, once each.
    kinds = db.session.scalars(
        select(Notification.context)
        .where(Notification.kind == "incident_status_changed")
        .order_by(Notification.created_at, Notification.id)
    ).all()
    assert [k["status"] for k in kinds] == ["accepted", "dispatched", "in_progress", "resolved"]

    # The staff timeline says who did what.
    full = client.get(f"/api/v1/admin/incidents/{case}", headers=kj01_staff["headers"]).get_json()
    assert full["timeline"][1]["actor_name"] == "kj01-staff"
    assert full["timeline"][-1]["action"] == "feedback" and full["timeline"][-1]["data"]["score"] == 5
    assert full["reporter"]["phone"] is None or "*" in full["reporter"]["phone"]


def test_a_transition_the_status_does_not_allow_is_a_409_naming_the_allowed_ones(
    client, resident, kj01_staff, catalogue, world
):
    case = filed(client, resident)["id"]
    place(case, world)
    needs_reason = act(client, kj01_staff, case, "reject")
    assert needs_reason.status_code == 422 and "reason" in needs_reason.get_json()["errors"]
    assert act(client, kj01_staff, case, "reject", reason="非本街道管辖").get_json()["status"] == "rejected"

    refused = act(client, kj01_staff, case, "resolve", note="x")
    assert refused.status_code == 409
    assert refused.get_json()["code"] == "transition_not_allowed"
    assert refused.get_json()["errors"] == {"action": []}
    early = filed(client, resident)["id"]
    place(early, world)
    start = act(client, kj01_staff, early, "start")
    assert start.status_code == 409 and start.get_json()["errors"]["action"] == ["accept", "reclassify", "reject"]
    assert db.session.get(Incident, uuid.UUID(early)).status == IncidentStatus.SUBMITTED


def test_reclassify_changes_the_category_and_the_time_limit(client, resident, kj01_staff, catalogue, world):
    case = filed(client, resident)["id"]
    place(case, world)
    act(client, kj01_staff, case, "accept")
    response = act(client, kj01_staff, case, "reclassify", category="traffic.fire_lane", reason="实为占用消防通道")
    assert response.status_code == 200, response.get_json()
    incident = db.session.get(Incident, uuid.UUID(case))
    assert incident.category.code == "traffic.fire_lane"
    assert incident.due_at - incident.accepted_at == timedelta(hours=4)


def test_a_low_score_reopens_the_case(client, resident, kj01_staff, catalogue, world, unit):
    case = filed(client, resident, category="building.pipe_leak", photos=0)["id"]
    place(case, world)
    early = client.post(f"/api/v1/incidents/{case}/feedback", json={"score": 4}, headers=resident["headers"])
    assert early.status_code == 409 and early.get_json()["code"] == "incident_not_resolved"
    for action, extra in (("accept", {}), ("dispatch", {"unit_id": unit}), ("resolve", {"note": "已修复"})):
        assert act(client, kj01_staff, case, action, **extra).status_code == 200
    unhappy = client.post(
        f"/api/v1/incidents/{case}/feedback", json={"score": 2, "comment": "还在漏"}, headers=resident["headers"]
    )
    assert unhappy.get_json()["status"] == "accepted"
    incident = db.session.get(Incident, uuid.UUID(case))
    assert incident.reopen_count == 1 and incident.due_at > utcnow()
    bad_score = client.post(f"/api/v1/incidents/{case}/feedback", json={"score": 6}, headers=resident["headers"])
    assert bad_score.status_code == 422


def test_staff_see_and_act_only_within_their_area(client, resident, kj01_staff, kj02_staff, admin, catalogue, world):
    case = filed(client, resident)["id"]
    place(case, world)
    assert client.get(f"/api/v1/admin/incidents/{case}", headers=kj02_staff["headers"]).status_code == 404
    assert act(client, kj02_staff, case, "accept").status_code == 404
    assert client.get("/api/v1/admin/incidents", headers=kj02_staff["headers"]).get_json()["items"] == []
    queue = client.get("/api/v1/admin/incidents?status=submitted", headers=kj01_staff["headers"]).get_json()
    assert [i["id"] for i in queue["items"]] == [case]
    assert (
        client.get("/api/v1/admin/incidents?category=traffic", headers=kj01_staff["headers"]).get_json()["items"] == []
    )
    assert (
        len(client.get("/api/v1/admin/incidents?category=env", headers=kj01_staff["headers"]).get_json()["items"]) == 1
    )
    # An unplaced case is the subdistrict's until someone places it.
    unplaced = filed(client, resident)["id"]
    assert client.get(f"/api/v1/admin/incidents/{unplaced}", headers=kj01_staff["headers"]).status_code == 404
    placed = act(client, admin, unplaced, "accept", area_id=str(world.areas["KJ02-01"].id))
    assert placed.status_code == 200
    assert client.get(f"/api/v1/admin/incidents/{unplaced}", headers=kj02_staff["headers"]).status_code == 200


def test_merging_a_duplicate_moves_its_reporter_to_the_surviving_case(client, resident, kj01_staff, catalogue, world):
    first = filed(client, resident)["id"]
    neighbour = someone(client, "lisi")
    second = filed(client, neighbour, lat=LAT + 20 * METRE)["id"]
    place(first, world)
    place(second, world)
    merged = client.post(f"/api/v1/admin/incidents/{second}/merge", json={"into": first}, headers=kj01_staff["headers"])
    assert merged.status_code == 200, merged.get_json()
    assert merged.get_json()["id"] == first
    assert db.session.get(Incident, uuid.UUID(second)).status == IncidentStatus.CLOSED

    act(client, kj01_staff, first, "accept")
    theirs = client.get("/api/v1/me/incidents", headers=neighbour["headers"]).get_json()["items"]
    assert {i["id"] for i in theirs} == {first, second}
    followed = client.get(f"/api/v1/incidents/{first}", headers=neighbour["headers"]).get_json()
    assert followed["status"] == "accepted"
    told = db.session.scalars(
        select(Notification).where(Notification.user_id == uuid.UUID(neighbour["user"]["id"]))
    ).all()
    assert {n.context["status"] for n in told} == {"closed", "accepted"}
    # Only the reporter rates the result; a follower cannot.
    follower_rates = client.post(f"/api/v1/incidents/{first}/feedback", json={"score": 5}, headers=neighbour["headers"])
    assert follower_rates.status_code == 403
    # A closed duplicate cannot be merged again, nor can cases of different kinds.
    again = client.post(f"/api/v1/admin/incidents/{second}/merge", json={"into": first}, headers=kj01_staff["headers"])
    assert again.status_code == 409 and again.get_json()["code"] == "merge_not_allowed"
    other_kind = filed(client, resident, category="facility.street_lamp")["id"]
    place(other_kind, world)
    refused = client.post(
        f"/api/v1/admin/incidents/{other_kind}/merge", json={"into": first}, headers=kj01_staff["headers"]
    )
    assert refused.status_code == 409


def test_another_resident_reads_a_report_with_the_numbers_in_it_masked(client, resident, kj01_staff, catalogue, world):
    words = "楼下绿化带有人偷倒装修垃圾，联系我 139 5724 6801"
    where = {"lat": LAT, "lng": LNG, "address": "控江一村12号楼 电话13957246801"}
    first = filed(client, resident, description=words, location=where)["id"]
    neighbour = someone(client, "lisi")
    second = filed(client, neighbour, lat=LAT + 20 * METRE)
    # The neighbour is offered the first report as a possible duplicate: its address is what the reporter typed.
    (duplicate,) = second["possible_duplicates"]
    assert duplicate["address"] == "控江一村12号楼 电话139****6801"

    place(first, world)
    place(second["id"], world)
    merged = client.post(
        f"/api/v1/admin/incidents/{second['id']}/merge", json={"into": first}, headers=kj01_staff["headers"]
    )
    assert merged.status_code == 200, merged.get_json()
    assert act(client, kj01_staff, first, "accept", note="已电话联系报修人 139-5724-6801").status_code == 200

    # The neighbour now follows the first report and reads it with the reporter's number masked.
    followed = client.get(f"/api/v1/incidents/{first}", headers=neighbour["headers"]).get_json()
    assert followed["description"] == "楼下绿化带有人偷倒装修垃圾，联系我 139 **** 6801"
    assert followed["address"] == "控江一村12号楼 电话139****6801"
    assert followed["status_note"] == "已电话联系报修人 139-****-6801"
    assert [e["note"] for e in followed["timeline"] if e["action"] == "accept"] == ["已电话联系报修人 139-****-6801"]
    listed = client.get("/api/v1/me/incidents", headers=neighbour["headers"]).get_json()["items"]
    assert [i["description"] for i in listed if i["id"] == first] == [followed["description"]]
    told = db.session.scalars(
        select(Notification).where(Notification.user_id == uuid.UUID(neighbour["user"]["id"]))
    ).all()
    assert [n.context["note"] for n in told if n.context["status"] == "accepted"] == ["已电话联系报修人 139-****-6801"]

    # The reporter reads their own words; staff, who call back, read everything whole.
    own = client.get(f"/api/v1/incidents/{first}", headers=resident["headers"]).get_json()
    assert own["description"] == words and own["address"] == where["address"]
    handled = client.get(f"/api/v1/admin/incidents/{first}", headers=kj01_staff["headers"]).get_json()
    assert handled["description"] == words and handled["address"] == where["address"]
    assert handled["status_note"] == "已电话联系报修人 139-5724-6801"


def test_handling_units_are_listed_and_created_within_scope(client, kj01_staff, kj02_staff, world, unit):
    listed = client.get("/api/v1/admin/handling-units", headers=kj01_staff["headers"]).get_json()["items"]
    assert [u["id"] for u in listed] == [unit]
    assert client.get("/api/v1/admin/handling-units", headers=kj02_staff["headers"]).get_json()["items"] == []
    body = {"name": "凤城物业", "kind": "property_company", "area_id": str(world.areas["KJ01"].id)}
    theirs = client.post("/api/v1/admin/handling-units", json=body, headers=kj02_staff["headers"])
    assert theirs.status_code == 422 and list(theirs.get_json()["errors"]) == ["area_id"]
    created = client.post("/api/v1/admin/handling-units", json=body, headers=kj01_staff["headers"])
    assert created.status_code == 201 and created.get_json()["kind"] == "property_company"


def test_committee_staff_can_dispatch_only_to_units_and_people_their_own_list_offers(
    client, resident, kj01_staff, catalogue, world, unit
):
    other = HandlingUnit(name="凤城物业", kind=HandlingUnitKind.PROPERTY_COMPANY, area_id=world.areas["KJ02"].id)
    db.session.add(other)
    db.session.commit()
    offered = client.get("/api/v1/admin/handling-units", headers=kj01_staff["headers"]).get_json()["items"]
    assert str(other.id) not in [u["id"] for u in offered]
    case = filed(client, resident)["id"]
    place(case, world)
    act(client, kj01_staff, case, "accept")

    refused = act(client, kj01_staff, case, "dispatch", unit_id=str(other.id))
    assert refused.status_code == 422 and "unit_id" in refused.get_json()["errors"]
    elsewhere = act(client, kj01_staff, case, "dispatch", assignee_id=str(world.users["kj02"].id))
    assert elsewhere.status_code == 422 and "assignee_id" in elsewhere.get_json()["errors"]
    assert client.get(f"/api/v1/admin/incidents/{case}", headers=kj01_staff["headers"]).get_json()["status"] == (
        "accepted"
    )

    assert act(client, kj01_staff, case, "dispatch", unit_id=unit).get_json()["status"] == "dispatched"


# ------------------------------------------------------------------------------------------------
# SLA escalation and auto-close
# ------------------------------------------------------------------------------------------------


@pytest.mark.smoke
def test_overdue_cases_escalate_to_supervisors_once_per_level(app, client, resident, kj01_staff, catalogue, world):
    committee_boss = create_staff("kj01-boss", STAFF_PASSWORD, Role.STAFF, "KJ01")
    committee_boss.grant(Role.SUPERVISOR)
    street_boss = create_staff("kj-boss", STAFF_PASSWORD, Role.STAFF, "KJ")
    street_boss.grant(Role.SUPERVISOR)
    other_boss = create_staff("kj02-boss", STAFF_PASSWORD, Role.STAFF, "KJ02")
    other_boss.grant(Role.SUPERVISOR)
    db.session.commit()
    case = filed(client, resident, category="traffic.fire_lane")["id"]  # 4 h limit
    place(case, world)
    act(client, kj01_staff, case, "accept")
    due = db.session.get(Incident, uuid.UUID(case)).due_at
    db.session.remove()

    def overdue_messages():
        return db.session.scalars(
            select(Notification.user_id).where(Notification.kind == "incident_overdue").order_by(Notification.id)
        ).all()

    with app.app_context():
        assert services.escalate_overdue(now=due - timedelta(minutes=1)) == 0
        assert services.escalate_overdue(now=due + timedelta(minutes=1)) == 1
        db.session.commit()
        assert overdue_messages() == [committee_boss.id]
        assert services.escalate_overdue(now=due + timedelta(minutes=5)) == 0  # level 1 only once
        assert services.escalate_overdue(now=due + timedelta(hours=2)) == 1  # + half of 4 h: level 2
        db.session.commit()
        assert sorted(overdue_messages()) == sorted([committee_boss.id, committee_boss.id, street_boss.id])
        assert services.escalate_overdue(now=due + timedelta(hours=9)) == 0
        db.session.commit()
    levels = db.session.scalars(select(IncidentEvent.data).where(IncidentEvent.action == "escalate")).all()
    assert [row["level"] for row in levels] == [1, 2]
    assert client.get("/api/v1/admin/incidents?overdue=true", headers=kj01_staff["headers"]).get_json()["items"] == []
    db.session.get(Incident, uuid.UUID(case)).due_at = utcnow() - timedelta(hours=3)  # the clock has run out
    db.session.commit()
    overdue_queue = client.get("/api/v1/admin/incidents?overdue=true", headers=kj01_staff["headers"]).get_json()
    assert [i["id"] for i in overdue_queue["items"]] == [case]
    assert overdue_queue["items"][0]["escalation_level"] == 2


def test_resolved_cases_left_unrated_close_themselves_after_the_silent_period(
    app, client, resident, kj01_staff, catalogue, world, unit
):
    case = filed(client, resident, category="building.pipe_leak", photos=0)["id"]
    place(case, world)
    for action, extra in (("accept", {}), ("dispatch", {"unit_id": unit}), ("resolve", {"note": "已修复"})):
        act(client, kj01_staff, case, action, **extra)
    resolved_at = db.session.get(Incident, uuid.UUID(case)).resolved_at
    db.session.remove()
    with app.app_context():
        assert services.auto_close(now=resolved_at + timedelta(days=6)) == 0
        assert services.auto_close(now=resolved_at + timedelta(days=7, minutes=1)) == 1
        db.session.commit()
    incident = db.session.get(Incident, uuid.UUID(case))
    assert incident.status == IncidentStatus.CLOSED and incident.feedback_score is None
    last = db.session.scalars(
        select(IncidentEvent).where(IncidentEvent.incident_id == incident.id).order_by(IncidentEvent.at.desc())
    ).first()
    assert last.action == "close" and last.actor_id is None and last.data == {"by": "auto_close"}


def test_the_sla_sweep_is_a_beat_job():
    from workers.schedule import BEAT_SCHEDULE

    assert any(entry["task"] == "incidents.sla_sweep" for entry in BEAT_SCHEDULE.values())


# ------------------------------------------------------------------------------------------------
# Statistics
# ------------------------------------------------------------------------------------------------


@pytest.mark.smoke
def test_statistics_give_closure_and_satisfaction_rates_and_handling_time_percentiles(
    client, resident, kj01_staff, kj02_staff, catalogue, world
):
    now = utcnow()
    start = now - timedelta(days=10)
    cases = []
    # Five cases in KJ01 resolved after 1, 2, 3, 4 and 10 hours (limit 5 h), three of them rated.
    category = services.get_category_by_code("env.dumping")
    for hours, status, score in (
        (1, "closed", 5),
        (2, "closed", 4),
        (3, "closed", 2),
        (4, "resolved", None),
        (10, "closed", None),
    ):
        created = now - timedelta(days=2)
        cases.append(
            Incident(
                category_id=category.id,
                description="x",
                lat=LAT,
                lng=LNG,
                area_id=world.areas["KJ01-01"].id,
                status=IncidentStatus(status),
                created_at=created,
                updated_at=created,
                accepted_at=created,
                due_at=created + timedelta(hours=5),
                resolved_at=created + timedelta(hours=hours),
                feedback_score=score,
            )
        )
    cases.append(
        Incident(
            category_id=category.id,
            description="x",
            area_id=world.areas["KJ01-01"].id,
            address="a",
            status=IncidentStatus.REJECTED,
            created_at=now - timedelta(days=1),
            updated_at=now,
        )
    )
    cases.append(
        Incident(
            category_id=category.id,
            description="x",
            area_id=world.areas["KJ02-01"].id,
            address="b",
            status=IncidentStatus.SUBMITTED,
            created_at=now - timedelta(days=1),
            updated_at=now,
        )
    )
    cases.append(
        Incident(
            category_id=category.id,
            description="old",
            area_id=world.areas["KJ01-01"].id,
            address="c",
            status=IncidentStatus.CLOSED,
            created_at=now - timedelta(days=30),
            updated_at=now,
        )
    )
    db.session.add_all(cases)
    db.session.commit()

    query = {"from": start.isoformat(), "to": now.isoformat(), "group_by": "committee"}
    response = client.get("/api/v1/admin/incidents/stats", query_string=query, headers=kj01_staff["headers"])
    assert response.status_code == 200, response.get_json()
    body = response.get_json()
    assert [r["key"] for r in body["rows"]] == ["KJ01"]  # KJ02's case is outside this staff member's area
    row = body["rows"][0]
    assert row["received"] == 6 and row["closed"] == 4 and row["rejected"] == 1
    assert row["closure_rate"] == 0.8  # 4 of the 5 that were cases
    assert row["median_handling_hours"] == 3.0
    assert row["p90_handling_hours"] == pytest.approx(7.6, abs=0.01)  # percentile_cont: 4 + 0.6·(10 − 4)
    assert row["overdue"] == 1  # resolved after 10 h against a 5 h limit
    assert row["feedback_count"] == 3 and row["satisfaction_rate"] == pytest.approx(0.6667, abs=0.0001)
    assert body["total"]["received"] == 6

    by_category = client.get(
        "/api/v1/admin/incidents/stats", query_string={**query, "group_by": "category"}, headers=kj02_staff["headers"]
    ).get_json()
    assert [(r["key"], r["received"]) for r in by_category["rows"]] == [("env.dumping", 1)]
    bad = client.get(
        "/api/v1/admin/incidents/stats",
        query_string={"from": now.isoformat(), "to": start.isoformat()},
        headers=kj01_staff["headers"],
    )
    assert bad.status_code == 422


# ------------------------------------------------------------------------------------------------
# The interface the Open311 face builds on
# ------------------------------------------------------------------------------------------------


def test_a_partner_system_files_a_report_without_a_reporter(app, world, catalogue):
    partner = uuid.uuid4()
    with app.app_context():
        created = services.create_incident(
            None,
            category_code="env.dumping",
            description="Dumped sofa",
            lat=LAT,
            lng=LNG,
            address=None,
            source="open311",
            partner_id=partner,
            external_media_urls=["https://example.org/sofa.jpg"],
        )
        db.session.commit()
        incident = created.incident
        assert incident.reporter_id is None and incident.partner_id == partner and incident.status.is_open
        with pytest.raises(Exception) as refused:
            services.create_incident(
                None, category_code="env.dumping", description="x", lat=LAT, lng=LNG, address=None, source="open311"
            )
        assert refused.value.code == "photo_required"
        db.session.rollback()
    assert not IncidentStatus.CLOSED.is_open and not IncidentStatus.REJECTED.is_open


# ------------------------------------------------------------------------------------------------
# Concurrency (PostgreSQL)
# ------------------------------------------------------------------------------------------------


@pytest.mark.services
@pytest.mark.commits
def test_two_staff_accepting_at_once_apply_the_transition_once(app, resident, kj01_staff, catalogue, world):
    import threading

    if db.dialect != "postgresql":
        pytest.skip("row locks under concurrent requests are PostgreSQL's")

    client = app.test_client()
    case = filed(client, resident)["id"]
    place(case, world)
    other = staff_login(app.test_client(), "admin")
    results = []
    barrier = threading.Barrier(2)

    def accept(headers):
        c = app.test_client()
        barrier.wait()
        results.append(
            c.post(
                f"/api/v1/admin/incidents/{case}/transitions", json={"action": "accept"}, headers=headers
            ).status_code
        )

    threads = [
        threading.Thread(target=accept, args=(h,)) for h in (kj01_staff["headers"], bearer(other["access_token"]))
    ]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(results) == [200, 409]
    db.session.remove()
    accepts = db.session.scalar(select(func.count()).select_from(IncidentEvent).where(IncidentEvent.action == "accept"))
    assert accepts == 1


@pytest.mark.services
@pytest.mark.commits
def test_two_beat_runs_at_once_escalate_an_overdue_case_once(app, client, resident, kj01_staff, catalogue, world):
    """Two beat schedulers (a deployment mistake, or a slow run overlapping the next): one message per level."""
    import threading

    boss = create_staff("kj01-boss", STAFF_PASSWORD, Role.STAFF, "KJ01")
    boss.grant(Role.SUPERVISOR)
    db.session.commit()
    case = filed(client, resident, category="traffic.fire_lane")["id"]
    place(case, world)
    act(client, kj01_staff, case, "accept")
    due = db.session.get(Incident, uuid.UUID(case)).due_at
    db.session.remove()

    barrier = threading.Barrier(2)
    escalated = []

    def beat_run():
        with app.app_context():
            barrier.wait()
            escalated.append(services.escalate_overdue(now=due + timedelta(minutes=1)))
            db.session.commit()
            db.session.remove()

    runs = [threading.Thread(target=beat_run) for _ in range(2)]
    for run in runs:
        run.start()
    for run in runs:
        run.join()

    assert sorted(escalated) == [0, 1]
    messages = db.session.scalars(select(Notification.user_id).where(Notification.kind == "incident_overdue")).all()
    assert messages == [boss.id]
    escalations = db.session.scalar(
        select(func.count()).select_from(IncidentEvent).where(IncidentEvent.action == "escalate")
    )
    assert escalations == 1
