"""City platforms and off-the-shelf 311 tools talk to the subdistrict through Open311 GeoReport v2.

The tests drive `/open311/v2/` the way such a client does — form-encoded POSTs, JSON read back as JSON and
XML parsed with ElementTree — and check what it would notice: exact field and element names, the array
around a single request, open/closed as staff move a case, the 90-day window, the filters, every error in
the spec's shape with its HTTP status, and that nothing about the resident who reported a case leaks.
"""

from __future__ import annotations

import uuid
import xml.etree.ElementTree as ET
from datetime import timedelta

import pytest
from sqlalchemy import func, select, update

from api.db import db, utcnow
from api.incidents import services as incidents
from api.incidents.categories import ensure_default_catalogue
from api.incidents.models import HandlingUnitKind, Incident
from api.open311 import services as open311
from api.open311.models import Open311Key
from tests.conftest import wechat_login

BASE = "/open311/v2"
INSIDE = {"lat": "31.2801", "long": "121.5302"}  # inside the default bounds of the subdistrict
REQUEST_FIELDS = [
    "service_request_id",
    "status",
    "status_notes",
    "service_name",
    "service_code",
    "description",
    "agency_responsible",
    "service_notice",
    "requested_datetime",
    "updated_datetime",
    "expected_datetime",
    "address",
    "address_id",
    "zipcode",
    "lat",
    "long",
    "media_url",
]
SERVICE_FIELDS = ["service_code", "service_name", "description", "metadata", "type", "keywords", "group"]


@pytest.fixture
def catalogue(app):
    ensure_default_catalogue()
    db.session.commit()


@pytest.fixture
def api_key(app, catalogue):
    _key, plain = open311.issue_key("一网统管")
    db.session.commit()
    return plain


def xml_of(response):
    assert response.content_type.startswith("text/xml"), response.content_type
    assert response.data.startswith(b'<?xml version="1.0" encoding="UTF-8"?>')
    return ET.fromstring(response.data)


def post_request(client, api_key, fmt="json", **fields):
    form = {"api_key": api_key, "service_code": "building.pipe_leak", "description": "楼道水管漏水", **INSIDE}
    form.update(fields)
    form = {k: v for k, v in form.items() if v is not None}
    return client.post(f"{BASE}/requests.{fmt}", data=form)


def filed(client, api_key, **fields):
    response = post_request(client, api_key, **fields)
    assert response.status_code == 200, response.get_json()
    return response.get_json()[0]["service_request_id"]


def assert_errors(response, status, fmt="json"):
    """The spec's error document, with the HTTP status repeated in each error's code."""
    assert response.status_code == status
    if fmt == "xml":
        root = xml_of(response)
        assert root.tag == "errors"
        errors = [{c.tag: c.text for c in e} for e in root]
        assert all(e.keys() == {"code", "description"} and e["code"] == str(status) for e in errors)
        return [e["description"] for e in errors]
    assert response.content_type.startswith("application/json")
    body = response.get_json()
    assert isinstance(body, list) and body
    assert all(set(e) == {"code", "description"} and e["code"] == status for e in body)
    return [e["description"] for e in body]


def incident_count():
    db.session.expire_all()
    return db.session.scalar(select(func.count()).select_from(Incident))


# ----------------------------------------------------------------------------------------------------
# Discovery and the catalogue
# ----------------------------------------------------------------------------------------------------


def test_discovery_names_the_v2_endpoint_and_its_formats(client):
    body = client.get(f"{BASE}/discovery.json").get_json()
    assert set(body) == {"changeset", "contact", "key_service", "endpoints"}
    (endpoint,) = body["endpoints"]
    assert endpoint["specification"] == "http://wiki.open311.org/GeoReport_v2"
    assert endpoint["url"] == "http://localhost/open311/v2"
    assert endpoint["formats"] == ["text/xml", "application/json"]

    root = xml_of(client.get(f"{BASE}/discovery.xml"))
    assert root.tag == "discovery"
    assert [f.text for f in root.findall("endpoints/endpoint/formats/format")] == ["text/xml", "application/json"]


def test_services_are_the_leaf_categories_grouped_by_their_parent(client, catalogue):
    services = client.get(f"{BASE}/services.json").get_json()
    by_code = {s["service_code"]: s for s in services}
    assert "env" not in by_code  # a parent is a group, not something to report
    assert all(list(s) == SERVICE_FIELDS for s in services)
    dumping = by_code["env.dumping"]
    assert dumping["service_name"] == "偷倒垃圾"
    assert dumping["group"] == "市容环境"
    assert (dumping["type"], dumping["metadata"]) == ("realtime", False)
    assert "48" in dumping["description"]
    assert by_code["nuisance.noise"]["metadata"] is True

    english = client.get(f"{BASE}/services.json", headers={"Accept-Language": "en"}).get_json()
    assert {s["service_code"]: s["service_name"] for s in english}["env.dumping"] == "Illegal dumping"

    root = xml_of(client.get(f"{BASE}/services.xml"))
    assert root.tag == "services"
    assert {s.tag for s in root} == {"service"}
    noise = next(s for s in root if s.findtext("service_code") == "nuisance.noise")
    assert [c.tag for c in noise] == SERVICE_FIELDS
    assert noise.findtext("metadata") == "true"
    assert len(root) == len(services)


def test_a_service_definition_lists_its_attributes(client, catalogue):
    body = client.get(f"{BASE}/services/nuisance.noise.json").get_json()
    assert body["service_code"] == "nuisance.noise"
    first = body["attributes"][0]
    assert list(first) == [
        "variable",
        "code",
        "datatype",
        "required",
        "datatype_description",
        "order",
        "description",
        "values",
    ]
    assert (first["code"], first["datatype"], first["required"], first["order"]) == (
        "time_of_day",
        "singlevaluelist",
        True,
        1,
    )
    assert {"key": "night", "name": "夜间 (22:00–07:00)"} in first["values"]

    root = xml_of(client.get(f"{BASE}/services/nuisance.noise.xml"))
    assert root.tag == "service_definition"
    attribute = root.find("attributes/attribute")
    assert attribute.findtext("code") == "time_of_day"
    assert attribute.findtext("required") == "true"
    assert [v.findtext("key") for v in attribute.findall("values/value")] == ["day", "evening", "night"]

    plain = client.get(f"{BASE}/services/building.pipe_leak.json").get_json()
    assert plain == {"service_code": "building.pipe_leak", "attributes": []}


def test_an_unknown_service_is_a_404_in_either_format(client, catalogue):
    (description,) = assert_errors(client.get(f"{BASE}/services/no.such.json"), 404)
    assert "no.such" in description
    assert_errors(client.get(f"{BASE}/services/no.such.xml"), 404, "xml")
    assert_errors(client.get(f"{BASE}/services/env.json"), 404)  # a group, not a service


@pytest.mark.smoke
def test_the_demo_seed_gives_a_working_catalogue(app, client):
    result = app.test_cli_runner().invoke(args=["seed-demo"])
    assert result.exit_code == 0, result.output
    codes = {s["service_code"] for s in client.get(f"{BASE}/services.json").get_json()}
    assert {"env.dumping", "traffic.fire_lane", "nuisance.noise"} <= codes


# ----------------------------------------------------------------------------------------------------
# Filing a request
# ----------------------------------------------------------------------------------------------------


@pytest.mark.smoke
def test_a_form_encoded_post_files_the_same_incident_the_mini_program_would(client, api_key):
    response = post_request(
        client,
        api_key,
        service_code="nuisance.noise",
        description="夜里装修电钻声",
        address_string="控江路1000弄",
        **{"attribute[time_of_day]": "night", "attribute[source]": "renovation"},
        email="caller@example.com",
        first_name="Wei",
        last_name="Li",
        phone="13912345678",
        device_id="device-42",
    )
    assert response.status_code == 200, response.get_json()
    (answer,) = response.get_json()
    assert list(answer) == ["service_request_id", "service_notice", "account_id"]
    assert answer["account_id"] is None
    assert "48" in answer["service_notice"]

    incident = db.session.get(Incident, uuid.UUID(answer["service_request_id"]))
    key = db.session.scalar(select(Open311Key))
    assert (incident.source.value, incident.partner_id, incident.reporter_id) == ("open311", key.id, None)
    assert incident.attributes == {"time_of_day": "night", "source": "renovation"}
    assert (incident.lat, incident.lng, incident.address) == (31.2801, 121.5302, "控江路1000弄")
    assert key.last_used_at is not None

    (shown,) = client.get(f"{BASE}/requests/{answer['service_request_id']}.json").get_json()
    assert list(shown) == REQUEST_FIELDS
    assert shown["status"] == "open"
    assert (shown["service_code"], shown["service_name"]) == ("nuisance.noise", "噪声扰民")
    assert (shown["lat"], shown["long"]) == (31.2801, 121.5302)
    assert shown["requested_datetime"].endswith("+08:00")
    # The caller's contact details are dropped, never echoed.
    text = client.get(f"{BASE}/requests.json").get_data(as_text=True) + response.get_data(as_text=True)
    for secret in ("caller@example.com", "13912345678", "device-42", "Wei"):
        assert secret not in text


def test_a_post_answers_in_xml_too_and_accepts_json_and_multivalue_attributes(client, api_key, catalogue):
    root = xml_of(post_request(client, api_key, fmt="xml"))
    assert root.tag == "service_requests"
    (request,) = root
    assert request.tag == "request"
    assert [c.tag for c in request] == ["service_request_id", "service_notice", "account_id"]
    assert request.findtext("account_id") in (None, "")

    as_json = client.post(
        f"{BASE}/requests.json",
        json={
            "api_key": api_key,
            "service_code": "nuisance.noise",
            "description": "广场舞音响",
            **INSIDE,
            "attribute": {"time_of_day": "evening"},
        },
    )
    assert as_json.status_code == 200, as_json.get_json()

    # attribute[code][]=v repeated is a list; a list value for a single-value attribute is refused.
    refused = post_request(
        client, api_key, service_code="nuisance.noise", **{"attribute[time_of_day][]": ["day", "night"]}
    )
    (problem,) = assert_errors(refused, 400)
    assert problem.startswith("attribute[time_of_day]:")


def test_a_partner_photo_url_satisfies_a_category_that_needs_a_photo(client, api_key):
    missing = post_request(client, api_key, service_code="env.dumping")
    (problem,) = assert_errors(missing, 400)
    assert problem.startswith("media_url:")

    request_id = filed(client, api_key, service_code="env.dumping", media_url="https://city.example/p/1.jpg")
    (shown,) = client.get(f"{BASE}/requests/{request_id}.json").get_json()
    assert shown["media_url"] == "https://city.example/p/1.jpg"


@pytest.mark.parametrize(
    ("fields", "named"),
    [
        ({"service_code": None}, "service_code"),
        ({"service_code": "no.such"}, "service_code"),
        ({"service_code": "env"}, "service_code"),
        ({"lat": None, "long": None}, "lat"),
        ({"lat": None, "long": None, "address_id": "A-1"}, "lat"),
        ({"lat": "31.28", "long": None}, "long"),
        ({"lat": "north", "long": "121.53"}, "lat"),
        ({"lat": "39.90", "long": "116.40"}, "lat/long"),  # Beijing: outside the subdistrict
        ({"description": "  "}, "description"),
        ({"description": "长" * 501}, "description"),
        ({"media_url": "javascript:alert(1)"}, "media_url"),
        ({"service_code": "nuisance.noise"}, "attribute[time_of_day]"),
        ({"service_code": "nuisance.noise", "attribute[time_of_day]": "noon"}, "attribute[time_of_day]"),
        ({"attribute[colour]": "red"}, "attribute[colour]"),
    ],
)
def test_bad_input_is_a_400_naming_the_argument_and_files_nothing(client, api_key, fields, named):
    for fmt in ("json", "xml"):
        descriptions = assert_errors(post_request(client, api_key, fmt=fmt, **fields), 400, fmt)
        assert any(d.startswith(named + ":") for d in descriptions), descriptions
    assert incident_count() == 0


def test_without_a_valid_api_key_nothing_is_filed(app, client, api_key):
    assert_errors(post_request(client, None), 403)
    assert_errors(client.post(f"{BASE}/requests.json", json={"api_key": 12345, "service_code": "env.dumping"}), 403)
    (description,) = assert_errors(post_request(client, "not-a-key", fmt="xml"), 403, "xml")
    assert "api_key" in description
    assert app.test_cli_runner().invoke(args=["revoke-open311-keys", "一网统管"]).exit_code == 0
    assert_errors(post_request(client, api_key), 403)
    assert incident_count() == 0


def test_a_body_that_is_neither_form_nor_json_is_a_400_in_the_open311_shape(client, api_key):
    response = client.post(f"{BASE}/requests.json", data="api_key=x", content_type="text/plain")
    assert_errors(response, 400)
    broken = client.post(f"{BASE}/requests.xml", data="{not json", content_type="application/json")
    assert_errors(broken, 400, "xml")


def test_posting_is_rate_limited_per_key(client, api_key, settings):
    settings.open311_post_rate_limit_per_minute = 2
    filed(client, api_key)
    filed(client, api_key, lat="31.2900", long="121.5400")
    third = post_request(client, api_key, lat="31.2700", long="121.5200")
    assert_errors(third, 429)
    assert int(third.headers["Retry-After"]) > 0
    _other, other_key = open311.issue_key("12345 热线")
    db.session.commit()
    filed(client, other_key)  # another partner has a budget of its own


def test_the_cli_prints_a_key_once_that_works_and_stores_only_its_hash(app, client, catalogue):
    result = app.test_cli_runner().invoke(args=["create-open311-key", "城运中心"])
    assert result.exit_code == 0, result.output
    plain = result.output.strip().splitlines()[-1]
    assert len(plain) >= 40
    row = db.session.scalar(select(Open311Key).where(Open311Key.name == "城运中心"))
    assert plain not in (row.key_hash, row.key_prefix) and row.key_prefix == plain[:8]
    filed(client, plain)
    assert app.test_cli_runner().invoke(args=["create-open311-key", " "]).exit_code != 0


# ----------------------------------------------------------------------------------------------------
# Reading requests
# ----------------------------------------------------------------------------------------------------


def test_one_request_comes_wrapped_in_an_array_and_unknown_ones_are_404(client, api_key):
    request_id = filed(client, api_key, address_string="控江路1000弄3号", description="漏水\x0b<严重> & 急")
    body = client.get(f"{BASE}/requests/{request_id}.json").get_json()
    assert isinstance(body, list) and len(body) == 1 and body[0]["service_request_id"] == request_id

    root = xml_of(client.get(f"{BASE}/requests/{request_id}.xml"))
    assert root.tag == "service_requests"
    (request,) = root.findall("request")
    assert [c.tag for c in request] == REQUEST_FIELDS
    assert request.findtext("status") == "open"
    assert request.findtext("address") == "控江路1000弄3号"
    assert request.findtext("description") == "漏水<严重> & 急"  # escaped by ElementTree; no control characters
    assert request.findtext("requested_datetime").endswith("+08:00")

    assert_errors(client.get(f"{BASE}/requests/{uuid.uuid4()}.json"), 404)
    assert_errors(client.get(f"{BASE}/requests/12345.xml"), 404, "xml")


def test_a_token_is_the_request_id_itself(client, api_key):
    request_id = filed(client, api_key)
    assert client.get(f"{BASE}/tokens/{request_id}.json").get_json() == [
        {"service_request_id": request_id, "token": request_id}
    ]
    request = xml_of(client.get(f"{BASE}/tokens/{request_id}.xml")).find("request")
    assert (request.findtext("service_request_id"), request.findtext("token")) == (request_id, request_id)
    assert_errors(client.get(f"{BASE}/tokens/{uuid.uuid4()}.json"), 404)


def status_of(client, request_id):
    (shown,) = client.get(f"{BASE}/requests/{request_id}.json").get_json()
    return shown


def test_status_follows_the_staff_handling_the_case(client, world, api_key):
    staff = world.users["admin"]
    request_id = filed(client, api_key)
    case_id = uuid.UUID(request_id)
    unit = incidents.create_handling_unit(staff, "控江物业", HandlingUnitKind.PROPERTY_COMPANY, None)
    db.session.commit()

    incidents.transition(staff, case_id, "accept", {})
    db.session.commit()
    shown = status_of(client, request_id)
    assert (shown["status"], shown["status_notes"]) == ("open", "已受理，将尽快安排处置")
    assert shown["expected_datetime"].endswith("+08:00")

    incidents.transition(staff, case_id, "dispatch", {"unit_id": unit.id})
    db.session.commit()
    shown = status_of(client, request_id)
    assert (shown["status"], shown["agency_responsible"]) == ("open", "控江物业")

    incidents.transition(staff, case_id, "start", {})
    incidents.transition(staff, case_id, "resolve", {"note": "已更换漏水管段"})
    db.session.commit()
    assert status_of(client, request_id)["status"] == "open"  # waiting for the reporter's feedback

    incidents.transition(staff, case_id, "close", {})
    db.session.commit()
    shown = status_of(client, request_id)
    assert (shown["status"], shown["status_notes"]) == ("closed", "已结案")
    assert shown["updated_datetime"] >= shown["requested_datetime"]

    rejected = filed(client, api_key, lat="31.2900", long="121.5400")
    incidents.transition(staff, uuid.UUID(rejected), "reject", {"reason": "不属于街道职责范围"})
    db.session.commit()
    assert (status_of(client, rejected)["status"], status_of(client, rejected)["status_notes"]) == (
        "closed",
        "不属于街道职责范围",
    )


def test_a_merged_case_is_closed_and_names_the_surviving_request(client, world, api_key):
    survivor = filed(client, api_key)
    duplicate = filed(client, api_key, description="同一处水管漏水")
    incidents.merge(world.users["admin"], uuid.UUID(duplicate), uuid.UUID(survivor))
    db.session.commit()
    shown = status_of(client, duplicate)
    assert shown["status"] == "closed"
    assert survivor in shown["status_notes"]
    assert status_of(client, survivor)["status"] == "open"
    closed = client.get(f"{BASE}/requests.json?status=closed").get_json()
    assert [r["service_request_id"] for r in closed] == [duplicate]


def age(request_id, days):
    db.session.execute(
        update(Incident)
        .where(Incident.id == uuid.UUID(request_id))
        .values(created_at=utcnow() - timedelta(days=days), updated_at=utcnow() - timedelta(days=days))
    )
    db.session.commit()


def ids(response):
    assert response.status_code == 200, response.get_json()
    return [r["service_request_id"] for r in response.get_json()]


@pytest.mark.smoke
def test_the_list_is_newest_first_within_the_last_90_days_by_default(client, api_key):
    old = filed(client, api_key, lat="31.2700", long="121.5200")
    middle = filed(client, api_key, lat="31.2800", long="121.5300")
    new = filed(client, api_key, lat="31.2900", long="121.5400")
    age(old, 100)
    age(middle, 10)

    assert ids(client.get(f"{BASE}/requests.json")) == [new, middle]
    then = (utcnow() - timedelta(days=120)).strftime("%Y-%m-%dT%H:%M:%S")  # no offset: Shanghai time
    assert ids(client.get(f"{BASE}/requests.json", query_string={"start_date": then})) == [old]
    end = (utcnow() - timedelta(days=5)).isoformat()
    assert ids(client.get(f"{BASE}/requests.json", query_string={"end_date": end})) == [middle]
    both = {"start_date": "2020-01-01T00:00:00+08:00", "end_date": "2020-03-01T00:00:00Z"}
    assert ids(client.get(f"{BASE}/requests.json", query_string=both)) == []
    root = xml_of(client.get(f"{BASE}/requests.xml"))
    assert [r.findtext("service_request_id") for r in root.findall("request")] == [new, middle]


@pytest.mark.parametrize(
    "query",
    [
        {"start_date": "yesterday"},
        {"end_date": "2026-13-01T00:00:00"},
        {"start_date": "2026-01-01T00:00:00+08:00", "end_date": "2026-06-01T00:00:00+08:00"},
        {"start_date": "2026-06-01T00:00:00+08:00", "end_date": "2026-01-01T00:00:00+08:00"},
        {"status": "pending"},
    ],
)
def test_bad_filters_are_a_400(client, query):
    descriptions = assert_errors(client.get(f"{BASE}/requests.json", query_string=query), 400)
    assert any(d.split(":")[0] in query for d in descriptions), descriptions
    assert_errors(client.get(f"{BASE}/requests.xml", query_string=query), 400, "xml")


def test_filters_by_id_service_code_and_status(client, world, api_key):
    leak = filed(client, api_key)
    noise = filed(client, api_key, service_code="nuisance.noise", **{"attribute[time_of_day]": "day"})
    dumped = filed(client, api_key, service_code="env.dumping", media_url="https://city.example/d.jpg")
    incidents.transition(world.users["admin"], uuid.UUID(leak), "reject", {"reason": "重复"})
    db.session.commit()

    def listed(**query):
        return ids(client.get(f"{BASE}/requests.json", query_string=query))

    assert listed(service_code="nuisance.noise,env.dumping") == [dumped, noise]
    assert listed(status="open") == [dumped, noise]
    assert listed(status="closed") == [leak]
    assert listed(status="open,closed") == [dumped, noise, leak]
    assert listed(service_code="building.pipe_leak", status="open") == []
    # Ids override every other filter, the 90-day window included.
    age(leak, 200)
    assert listed(service_request_id=f"{leak},{noise},not-an-id", status="open") == [noise, leak]


def test_nothing_reveals_who_reported_a_case(client, world, api_key):
    tokens = wechat_login(client, "lisi#open311")
    resident = db.session.get(type(world.users["admin"]), uuid.UUID(tokens["user"]["id"]))
    resident.nickname = "李四阿姨"
    resident.phone = "13800138000"
    db.session.commit()
    created = incidents.create_incident(
        resident,
        category_code="building.pipe_leak",
        description="楼上漏水，联系我 13912345678，身份证 310101195001011234",
        lat=31.2801,
        lng=121.5302,
        address="控江路1000弄",
    )
    db.session.commit()
    request_id = str(created.incident.id)

    texts = [
        client.get(f"{BASE}/requests.json").get_data(as_text=True),
        client.get(f"{BASE}/requests.xml").get_data(as_text=True),
        client.get(f"{BASE}/requests/{request_id}.json").get_data(as_text=True),
        client.get(f"{BASE}/requests/{request_id}.xml").get_data(as_text=True),
    ]
    assert all(request_id in text for text in texts)
    for text in texts:
        for secret in ("李四阿姨", "13800138000", str(resident.id), resident.wechat_openid, "13912345678"):
            assert secret not in text
        assert "310101195001011234" not in text
    (shown,) = client.get(f"{BASE}/requests/{request_id}.json").get_json()
    assert "139****5678" in shown["description"]
    assert shown["media_url"] is None


# A resident's number as people type it into a report: the digits, and how they were written.
WRITTEN_NUMBERS = {
    "13957246801": "139 5724 6801",
    "13857246802": "138-5724-6802",
    "13757246803": "+86 137 5724 6803",
    "13657246804": "+8613657246804",
    "13557246805": "0086 135 5724 6805",
    "18957246806": "(+86)189-5724-6806",
    "18857246807": "188.5724.6807",
    "18757246808": "１８７５７２４６８０８",
    "18657246809": "186 5724\n6809",
    "15957246810": "159\u00a05724\u30006810",
    "15857246811": "＋８６ １５８ ５７２４ ６８１１",
    "310101195001011234": "310101 19500101 1234",
    "02165432100": "021-6543 2100",
}
FULL_WIDTH_DIGITS = str.maketrans("０１２３４５６７８９", "0123456789")


def digits_read(text):
    """The digits a reader makes out of a text, full-width ones included; hidden ones as `*`."""
    return "".join(c for c in (text or "").translate(FULL_WIDTH_DIGITS) if c in "0123456789*")


def test_phone_and_id_numbers_however_written_never_reach_the_public_feed(client, world, api_key):
    for written in WRITTEN_NUMBERS.values():
        filed(client, api_key, description=f"楼道水管漏水，请联系 {written} 谢谢")
    address = filed(client, api_key, address_string="控江路1000弄5号 电话 139 5724 6812")
    noted = filed(client, api_key)
    incidents.transition(world.users["admin"], uuid.UUID(noted), "accept", {"note": "已电话联系报修人 139-5724-6813"})
    db.session.commit()
    secrets = [*WRITTEN_NUMBERS, "13957246812", "13957246813"]

    as_json = client.get(f"{BASE}/requests.json")
    as_xml = client.get(f"{BASE}/requests.xml")
    requests_json = as_json.get_json()
    requests_xml = [{child.tag: child.text for child in request} for request in xml_of(as_xml)]
    assert len(requests_json) == len(requests_xml) == len(WRITTEN_NUMBERS) + 2
    for shown in (requests_json, requests_xml):
        for request in shown:
            for field in ("description", "address", "status_notes"):
                read = digits_read(request[field])
                assert not any(secret in read for secret in secrets), (field, request[field])
    for raw in (as_json.get_data(as_text=True), as_xml.get_data(as_text=True)):
        assert not any(written in raw for written in WRITTEN_NUMBERS.values())
        assert not any(secret in raw for secret in secrets)

    # What a reader of the feed sees: the text as written, the middle digits hidden.
    by_id = {r["service_request_id"]: r for r in requests_json}
    descriptions = {r["description"] for r in requests_json}
    assert "楼道水管漏水，请联系 139 **** 6801 谢谢" in descriptions
    assert "楼道水管漏水，请联系 +86 137 **** 6803 谢谢" in descriptions
    assert "楼道水管漏水，请联系 186 ****\n6809 谢谢" in descriptions
    assert "楼道水管漏水，请联系 ＋８６ １５８ **** ６８１１ 谢谢" in descriptions
    assert "楼道水管漏水，请联系 310*** ******** 1234 谢谢" in descriptions
    assert "楼道水管漏水，请联系 021-**** 2100 谢谢" in descriptions
    assert by_id[address]["address"] == "控江路1000弄5号 电话 139 **** 6812"
    assert by_id[noted]["status_notes"] == "已电话联系报修人 139-****-6813"
    (single,) = xml_of(client.get(f"{BASE}/requests/{noted}.xml"))
    assert single.findtext("status_notes") == "已电话联系报修人 139-****-6813"


# ----------------------------------------------------------------------------------------------------
# The Open311 error shape everywhere under the prefix
# ----------------------------------------------------------------------------------------------------


def test_unknown_paths_methods_and_formats_answer_in_the_open311_shape(client):
    assert_errors(client.get(f"{BASE}/nothing.json"), 404)
    assert_errors(client.get(f"{BASE}/nothing.xml"), 404, "xml")
    assert_errors(client.get(f"{BASE}/requests"), 404)
    (description,) = assert_errors(client.get(f"{BASE}/services.html"), 404)
    assert "html" in description
    wrong = client.delete(f"{BASE}/requests.json")
    assert_errors(wrong, 405)
    assert "POST" in wrong.headers["Allow"]
    assert_errors(client.put(f"{BASE}/services.xml"), 405, "xml")


def test_an_unexpected_failure_is_a_500_in_the_open311_shape(client, monkeypatch):
    def broken(*_args, **_kwargs):
        raise RuntimeError("database exploded")

    monkeypatch.setattr(open311, "list_services", broken)
    response = client.get(f"{BASE}/services.xml")
    (description,) = assert_errors(response, 500, "xml")
    assert "exploded" not in description
