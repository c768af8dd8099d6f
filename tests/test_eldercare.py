"""Elders, their consent, and the families bound to them: staff register and approve elders of their own
area only; nothing watches an elder without consent; invite codes work once and expire; only a confirmed
family member sees an elder; family members link their Official Account identity by follow-and-bind or
by unionid."""

from __future__ import annotations

import hashlib
import time
import uuid
from datetime import timedelta

import pytest
from sqlalchemy import select

from api.accounts.models import Role, User
from api.db import db, utcnow
from api.eldercare import services
from api.eldercare.models import BindingInvite
from api.notifications.models import Notification
from tests.factories import bind, bound_family, invite, login, new_elder
from tests.fake_wechat import FakeWechat

OA_EVENTS = "/api/v1/wechat/official-account/events"


# Profiles ---------------------------------------------------------------------------------------------


@pytest.mark.smoke
def test_staff_register_an_elder_of_their_area_and_the_phone_is_masked(client, world, kj01_staff):
    elder = new_elder(client, kj01_staff, world.room("KJ01/101"))
    assert elder["status"] == "active"
    assert elder["phone"] == "138****5678"
    assert "KJ01小区1号楼101室" in elder["address"]
    assert elder["door_inactivity_hours"] == 24

    listed = client.get("/api/v1/admin/elders", headers=kj01_staff["headers"]).get_json()
    assert [e["id"] for e in listed["items"]] == [elder["id"]]
    assert listed["items"][0]["phone"] == "138****5678"


def test_staff_of_kj02_cannot_touch_kj01_elders(client, world, kj01_staff, kj02_staff):
    elder = new_elder(client, kj01_staff, world.room("KJ01/101"))
    h = kj02_staff["headers"]
    # Another committee's elder reads as no elder at all.
    assert client.get(f"/api/v1/admin/elders/{elder['id']}", headers=h).status_code == 404
    assert client.patch(f"/api/v1/admin/elders/{elder['id']}", json={"conditions": "x"}, headers=h).status_code == 404
    consent = {"given_by": "本人", "device_types": ["*"]}
    assert client.post(f"/api/v1/admin/elders/{elder['id']}/consents", json=consent, headers=h).status_code == 404
    assert client.post(f"/api/v1/admin/elders/{elder['id']}/invites", headers=h).status_code == 404
    assert client.get("/api/v1/admin/elders", headers=h).get_json()["items"] == []
    # Nor can they register an elder into KJ01's homes: the home is a bad field.
    body = {"name": "李老伯", "room_id": str(world.room("KJ01/102").id)}
    refused = client.post("/api/v1/admin/elders", json=body, headers=h)
    assert refused.status_code == 422
    assert refused.get_json()["errors"] == {"room_id": ["the room is outside your area"]}


def test_a_resident_registers_a_relative_and_staff_approve_it_and_the_resident_is_told(
    client, world, resident, kj01_staff, kj02_staff
):
    body = {"name": "张老太", "room_id": str(world.room("KJ01/102").id), "phone": "13900001111"}
    registered = client.post("/api/v1/elders", json=body, headers=resident["headers"])
    assert registered.status_code == 201
    elder = registered.get_json()
    assert elder["status"] == "pending"
    assert elder["phone"] == "139****1111"

    queue = client.get("/api/v1/admin/elders?status=pending", headers=kj01_staff["headers"]).get_json()
    assert [e["id"] for e in queue["items"]] == [elder["id"]]
    assert client.post(f"/api/v1/admin/elders/{elder['id']}/approve", headers=kj02_staff["headers"]).status_code == 404

    approved = client.post(f"/api/v1/admin/elders/{elder['id']}/approve", headers=kj01_staff["headers"])
    assert approved.get_json()["status"] == "active"
    again = client.post(f"/api/v1/admin/elders/{elder['id']}/approve", headers=kj01_staff["headers"])
    assert again.status_code == 409
    assert again.get_json()["code"] == "elder_not_pending"
    kinds = db.session.scalars(select(Notification.kind)).all()
    assert kinds == ["elder_registration_decided"]
    mine = client.get("/api/v1/elders", headers=resident["headers"]).get_json()["items"]
    assert [(e["id"], e["status"]) for e in mine] == [(elder["id"], "active")]


def test_a_rejected_registration_carries_the_reason(client, world, resident, kj01_staff):
    body = {"name": "张老太", "room_id": str(world.room("KJ01/102").id)}
    elder = client.post("/api/v1/elders", json=body, headers=resident["headers"]).get_json()
    rejected = client.post(
        f"/api/v1/admin/elders/{elder['id']}/reject", json={"reason": "地址不符"}, headers=kj01_staff["headers"]
    )
    assert rejected.get_json()["status"] == "inactive"
    assert rejected.get_json()["reject_reason"] == "地址不符"
    message = db.session.scalar(select(Notification))
    assert "地址不符" in message.body
    # A rejected elder cannot be given family.
    assert client.post(f"/api/v1/admin/elders/{elder['id']}/invites", headers=kj01_staff["headers"]).status_code == 409


def test_bad_profile_input_is_a_422_with_field_errors(client, world, kj01_staff):
    body = {"name": "", "room_id": "not-a-uuid", "birth_year": 1800, "phone": "call me"}
    response = client.post("/api/v1/admin/elders", json=body, headers=kj01_staff["headers"])
    assert response.status_code == 422
    assert set(response.get_json()["errors"]) >= {"name", "room_id", "birth_year", "phone"}
    thresholds = {"door_inactivity_hours": 0}
    elder = new_elder(client, kj01_staff, world.room("KJ01/101"))
    patched = client.patch(f"/api/v1/admin/elders/{elder['id']}", json=thresholds, headers=kj01_staff["headers"])
    assert patched.status_code == 422


def test_staff_set_per_elder_thresholds(client, world, kj01_staff):
    elder = new_elder(client, kj01_staff, world.room("KJ01/101"))
    changes = {"door_inactivity_hours": 12, "bp_systolic_max": 150, "conditions": "糖尿病"}
    patched = client.patch(f"/api/v1/admin/elders/{elder['id']}", json=changes, headers=kj01_staff["headers"])
    assert patched.status_code == 200
    assert {k: patched.get_json()[k] for k in changes} == changes


# Consent ----------------------------------------------------------------------------------------------


def test_consent_is_recorded_per_device_type_and_withdrawal_is_kept(client, world, kj01_staff):
    elder = new_elder(client, kj01_staff, world.room("KJ01/101"))
    url = f"/api/v1/admin/elders/{elder['id']}/consents"
    given = client.post(url, json={"given_by": "本人", "device_types": ["door_sensor"]}, headers=kj01_staff["headers"])
    assert given.status_code == 201
    elder_id = uuid.UUID(elder["id"])
    assert services.has_consent(elder_id, "door_sensor")
    assert not services.has_consent(elder_id, "smoke_detector")

    bad = client.post(url, json={"given_by": "本人", "device_types": ["camera"]}, headers=kj01_staff["headers"])
    assert bad.status_code == 422

    consent_id = given.get_json()["id"]
    withdrawn = client.post(f"{url}/{consent_id}/withdraw", headers=kj01_staff["headers"])
    assert withdrawn.status_code == 200
    assert not services.has_consent(elder_id, "door_sensor")
    again = client.post(f"{url}/{consent_id}/withdraw", headers=kj01_staff["headers"])
    assert again.get_json()["code"] == "consent_withdrawn"
    record = client.get(url, headers=kj01_staff["headers"]).get_json()["items"]
    assert [c["withdrawn_at"] is not None for c in record] == [True]


# Family bindings -------------------------------------------------------------------------------------


@pytest.mark.smoke
def test_a_family_member_binds_with_an_invite_and_sees_the_elder_only_once_confirmed(client, world, kj01_staff):
    elder = new_elder(client, kj01_staff, world.room("KJ01/101"))
    code = invite(client, kj01_staff, elder["id"])
    assert code["qr_payload"].endswith(code["code"])
    daughter = login(client, "daughter#1")

    requested = bind(client, daughter, code["code"])
    assert requested.status_code == 201
    assert requested.get_json()["status"] == "requested"
    assert client.get("/api/v1/me/elders", headers=daughter["headers"]).get_json()["items"] == []
    assert client.get(f"/api/v1/me/elders/{elder['id']}", headers=daughter["headers"]).status_code == 404
    assert not services.is_bound(db.session.get(User, uuid.UUID(daughter["user"]["id"])), uuid.UUID(elder["id"]))

    confirmed = client.post(
        f"/api/v1/admin/family-bindings/{requested.get_json()['id']}/confirm", headers=kj01_staff["headers"]
    )
    assert confirmed.get_json()["status"] == "confirmed"
    assert confirmed.get_json()["position"] == 1
    mine = client.get("/api/v1/me/elders", headers=daughter["headers"]).get_json()["items"]
    assert [(e["id"], e["relation"], e["position"]) for e in mine] == [(elder["id"], "子女", 1)]
    assert mine[0]["phone"] == "138****5678"
    assert mine[0]["recent_alerts"] == [] and mine[0]["devices"] == []
    user = db.session.get(User, uuid.UUID(daughter["user"]["id"]))
    db.session.refresh(user)
    assert user.has_role(Role.FAMILY)
    assert "family_binding_decided" in db.session.scalars(select(Notification.kind)).all()


def test_an_invite_code_works_once(client, world, kj01_staff):
    elder = new_elder(client, kj01_staff, world.room("KJ01/101"))
    code = invite(client, kj01_staff, elder["id"])["code"]
    assert bind(client, login(client, "son#1"), code).status_code == 201
    reused = bind(client, login(client, "nephew#1"), code)
    assert reused.status_code == 409
    assert reused.get_json()["code"] == "invite_used"


def test_an_expired_or_unknown_invite_code_is_refused(client, world, kj01_staff):
    elder = new_elder(client, kj01_staff, world.room("KJ01/101"))
    code = invite(client, kj01_staff, elder["id"])["code"]
    row = db.session.scalar(select(BindingInvite).where(BindingInvite.code == code))
    row.expires_at = utcnow() - timedelta(seconds=1)
    db.session.commit()
    family = login(client, "son#1")
    expired = bind(client, family, code)
    assert expired.status_code == 410
    assert expired.get_json()["code"] == "invite_expired"
    unknown = bind(client, family, "ZZZZ2222")
    assert unknown.status_code == 404
    assert unknown.get_json()["code"] == "invite_invalid"


def test_the_elder_with_an_account_invites_and_confirms_their_own_family(client, world, kj01_staff):
    grandma = login(client, "grandma#1")
    elder = new_elder(client, kj01_staff, world.room("KJ01/101"), user_id=grandma["user"]["id"])
    response = client.post(f"/api/v1/elders/{elder['id']}/invites", headers=grandma["headers"])
    assert response.status_code == 201
    son = login(client, "son#1")
    binding = bind(client, son, response.get_json()["code"], "子女").get_json()
    assert "family_binding_requested" in db.session.scalars(select(Notification.kind)).all()

    # Only the elder decides on their own requests (the son cannot confirm himself).
    assert client.post(f"/api/v1/family-bindings/{binding['id']}/confirm", headers=son["headers"]).status_code == 404
    waiting = client.get(f"/api/v1/elders/{elder['id']}/family-bindings", headers=grandma["headers"]).get_json()
    assert [b["status"] for b in waiting["items"]] == ["requested"]
    confirmed = client.post(f"/api/v1/family-bindings/{binding['id']}/confirm", headers=grandma["headers"])
    assert confirmed.get_json()["status"] == "confirmed"
    # Someone else's elder profile is not mine to invite for.
    assert client.post(f"/api/v1/elders/{elder['id']}/invites", headers=son["headers"]).status_code == 404


def test_the_elder_and_other_family_read_what_a_family_member_typed_with_numbers_masked(client, world, kj01_staff):
    grandma = login(client, "grandma#1")
    conditions = "糖尿病，社区医生 021-6543 2100"
    elder = new_elder(client, kj01_staff, world.room("KJ01/101"), user_id=grandma["user"]["id"], conditions=conditions)
    son = login(client, "son#1")
    code = client.post(f"/api/v1/elders/{elder['id']}/invites", headers=grandma["headers"]).get_json()["code"]
    binding = bind(client, son, code, "儿子13957246801").get_json()
    assert binding["relation"] == "儿子13957246801"  # the son reads his own words

    waiting = client.get(f"/api/v1/elders/{elder['id']}/family-bindings", headers=grandma["headers"]).get_json()
    assert [b["relation"] for b in waiting["items"]] == ["儿子139****6801"]
    (asked,) = db.session.scalars(select(Notification).where(Notification.kind == "family_binding_requested")).all()
    assert asked.context["relation"] == "儿子139****6801"
    staff_view = client.get(f"/api/v1/admin/elders/{elder['id']}/family-bindings", headers=kj01_staff["headers"])
    assert [b["relation"] for b in staff_view.get_json()["items"]] == ["儿子13957246801"]

    # What staff wrote about the elder's health, read by the family: the doctor's number masked.
    client.post(f"/api/v1/family-bindings/{binding['id']}/confirm", headers=grandma["headers"])
    (mine,) = client.get("/api/v1/me/elders", headers=son["headers"]).get_json()["items"]
    assert mine["conditions"] == "糖尿病，社区医生 021-**** 2100"
    # Staff read the profile whole.
    profile = client.get(f"/api/v1/admin/elders/{elder['id']}", headers=kj01_staff["headers"]).get_json()
    assert profile["conditions"] == "糖尿病，社区医生 021-6543 2100"


def test_a_declined_request_does_not_bind(client, world, kj01_staff):
    elder = new_elder(client, kj01_staff, world.room("KJ01/101"))
    family = login(client, "stranger#1")
    binding = bind(client, family, invite(client, kj01_staff, elder["id"])["code"]).get_json()
    declined = client.post(f"/api/v1/admin/family-bindings/{binding['id']}/decline", headers=kj01_staff["headers"])
    assert declined.get_json()["status"] == "revoked"
    assert services.contacts_in_order(uuid.UUID(elder["id"])) == []


def test_a_family_member_of_one_elder_cannot_see_another(client, world, kj01_staff):
    elder_a = new_elder(client, kj01_staff, world.room("KJ01/101"), name="甲")
    elder_b = new_elder(client, kj01_staff, world.room("KJ01/102"), name="乙")
    family_a, _ = bound_family(client, kj01_staff, elder_a["id"], "family-a#1")
    bound_family(client, kj01_staff, elder_b["id"], "family-b#1")

    mine = client.get("/api/v1/me/elders", headers=family_a["headers"]).get_json()["items"]
    assert [e["name"] for e in mine] == ["甲"]
    assert client.get(f"/api/v1/me/elders/{elder_b['id']}", headers=family_a["headers"]).status_code == 404
    assert client.get(f"/api/v1/me/elders/{elder_a['id']}", headers=family_a["headers"]).status_code == 200
    user_a = db.session.get(User, uuid.UUID(family_a["user"]["id"]))
    assert [e.name for e in services.elders_of(user_a)] == ["甲"]


def test_staff_reorder_contacts_and_a_leaving_member_closes_the_gap(client, world, kj01_staff):
    elder = new_elder(client, kj01_staff, world.room("KJ01/101"))
    first, b1 = bound_family(client, kj01_staff, elder["id"], "first#1")
    second, b2 = bound_family(client, kj01_staff, elder["id"], "second#1")
    third, b3 = bound_family(client, kj01_staff, elder["id"], "third#1")
    elder_id = uuid.UUID(elder["id"])
    names = lambda: [str(u.id) for u in services.contacts_in_order(elder_id)]  # noqa: E731
    assert names() == [first["user"]["id"], second["user"]["id"], third["user"]["id"]]

    url = f"/api/v1/admin/elders/{elder['id']}/contacts"
    order = {"binding_ids": [b3["id"], b1["id"], b2["id"]]}
    assert client.put(url, json=order, headers=kj01_staff["headers"]).status_code == 200
    assert names() == [third["user"]["id"], first["user"]["id"], second["user"]["id"]]
    incomplete = client.put(url, json={"binding_ids": [b1["id"]]}, headers=kj01_staff["headers"])
    assert incomplete.status_code == 422

    left = client.post(f"/api/v1/family-bindings/{b1['id']}/leave", headers=first["headers"])
    assert left.get_json()["status"] == "revoked"
    assert names() == [third["user"]["id"], second["user"]["id"]]
    positions = client.get(f"/api/v1/admin/elders/{elder['id']}/family-bindings", headers=kj01_staff["headers"])
    assert [b["position"] for b in positions.get_json()["items"]] == [1, 2]
    # Someone else's binding is not mine to leave.
    assert client.post(f"/api/v1/family-bindings/{b2['id']}/leave", headers=third["headers"]).status_code == 404


# Official Account identity ----------------------------------------------------------------------------


def signed(settings, **extra):
    timestamp, nonce = str(int(time.time())), "n0nce"
    signature = hashlib.sha1("".join(sorted([settings.wechat_oa_token, timestamp, nonce])).encode()).hexdigest()
    return {"signature": signature, "timestamp": timestamp, "nonce": nonce, **extra}


def push(client, settings, xml, **query):
    params = query or signed(settings)
    return client.post(OA_EVENTS, query_string=params, data=xml.encode(), content_type="text/xml")


def follow_xml(openid, scene=None, event="subscribe"):
    key = f"<EventKey><![CDATA[{scene}]]></EventKey>" if scene else ""
    return (
        f"<xml><ToUserName><![CDATA[gh_oa]]></ToUserName><FromUserName><![CDATA[{openid}]]></FromUserName>"
        f"<CreateTime>{int(time.time())}</CreateTime><MsgType><![CDATA[event]]></MsgType>"
        f"<Event><![CDATA[{event}]]></Event>{key}</xml>"
    )


def text_xml(openid, content):
    return (
        f"<xml><ToUserName><![CDATA[gh_oa]]></ToUserName><FromUserName><![CDATA[{openid}]]></FromUserName>"
        f"<CreateTime>{int(time.time())}</CreateTime><MsgType><![CDATA[text]]></MsgType>"
        f"<Content><![CDATA[{content}]]></Content><MsgId>1</MsgId></xml>"
    )


def test_an_oa_push_with_a_bad_signature_is_refused(client, world, settings):
    bad = {"signature": "0" * 40, "timestamp": str(int(time.time())), "nonce": "x"}
    response = push(client, settings, follow_xml("o-oa-1"), **bad)
    assert response.status_code == 403
    assert response.get_json()["code"] == "oa_signature_invalid"
    assert client.get(OA_EVENTS, query_string={**bad, "echostr": "e"}).status_code == 403
    good = client.get(OA_EVENTS, query_string=signed(settings, echostr="hello"))
    assert good.status_code == 200 and good.get_data(as_text=True) == "hello"


def test_following_with_the_link_code_links_the_oa_openid(client, world, settings):
    family = login(client, "daughter#1")
    link = client.post("/api/v1/me/official-account/link", headers=family["headers"]).get_json()
    assert link["linked"] is False and link["scene"] == "link_" + link["code"]

    response = push(client, settings, follow_xml("o-oa-daughter", "qrscene_" + link["scene"]))
    assert response.status_code == 200
    assert "绑定成功" in response.get_data(as_text=True)
    user = db.session.get(User, uuid.UUID(family["user"]["id"]))
    db.session.refresh(user)
    assert user.wechat_oa_openid == "o-oa-daughter"
    assert client.get("/api/v1/me/official-account", headers=family["headers"]).get_json() == {"linked": True}
    # The code is spent: someone else following with it links nobody.
    push(client, settings, follow_xml("o-oa-other", link["scene"], event="SCAN"))
    assert db.session.scalar(select(User).where(User.wechat_oa_openid == "o-oa-other")) is None


def test_sending_the_link_code_as_a_text_message_links_too(client, world, settings):
    family = login(client, "son#1")
    code = client.post("/api/v1/me/official-account/link", headers=family["headers"]).get_json()["code"]
    response = push(client, settings, text_xml("o-oa-son", f"绑定{code.lower()}。"))
    assert "<Content><![CDATA[绑定成功" in response.get_data(as_text=True)
    assert db.session.scalar(select(User.wechat_oa_openid).where(User.id == uuid.UUID(family["user"]["id"]))) == (
        "o-oa-son"
    )
    unknown = push(client, settings, text_xml("o-oa-son", "ABCDEFGH"))
    assert "无效" in unknown.get_data(as_text=True)
    # Unrelated chatter and unfollows are acknowledged and change nothing.
    assert push(client, settings, text_xml("o-oa-son", "你好")).get_data(as_text=True) == "success"
    assert push(client, settings, follow_xml("o-oa-son", event="unsubscribe")).get_data(as_text=True) == "success"
    assert push(client, settings, "<xml><oops").get_data(as_text=True) == "success"


def test_a_follow_links_by_unionid_through_the_wechat_user_info(client, world, settings):
    family = login(client, "daughter#1")
    user_id = uuid.UUID(family["user"]["id"])
    unionid = db.session.get(User, user_id).wechat_unionid
    with FakeWechat({"wx-test-oa-eldercare": "oa-secret"}) as fake:
        fake.add_handler(
            "GET",
            "/cgi-bin/user/info",
            lambda req: {"subscribe": 1, "openid": req.query.get("openid"), "unionid": unionid},
            token=True,
        )
        settings.wechat_oa_app_id, settings.wechat_oa_secret = "wx-test-oa-eldercare", "oa-secret"
        settings.wechat_api_base_url = fake.url
        response = push(client, settings, follow_xml("o-oa-by-unionid"))
        assert response.status_code == 200
        assert [c.query.get("openid") for c in fake.calls("/cgi-bin/user/info")] == ["o-oa-by-unionid"]
    assert db.session.get(User, user_id).wechat_oa_openid == "o-oa-by-unionid"


@pytest.mark.smoke
def test_the_sandbox_confirms_a_link_without_wechat_and_only_in_the_sandbox(client, world, settings):
    family = login(client, "daughter#1")
    code = client.post("/api/v1/me/official-account/link", headers=family["headers"]).get_json()["code"]
    url = "/api/v1/me/official-account/link/sandbox-confirm"
    assert client.post(url, json={"code": "WRONG234"}, headers=family["headers"]).status_code == 404
    assert client.post(url, json={"code": code}, headers=family["headers"]).get_json() == {"linked": True}

    settings.wechat_oa_app_id = "wx-real-oa"
    code = client.post("/api/v1/me/official-account/link", headers=family["headers"]).get_json()["code"]
    refused = client.post(url, json={"code": code}, headers=family["headers"])
    assert refused.status_code == 404
    assert refused.get_json()["code"] == "oa_sandbox_only"


@pytest.mark.parametrize("path", ["/api/v1/me/elders", "/api/v1/me/family-bindings", "/api/v1/elders"])
def test_family_routes_need_a_login(client, world, path):
    assert client.get(path).status_code == 401
