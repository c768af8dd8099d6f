"""Shared setups of the eldercare, device and alert tests: elders at home with their consent, family and
devices; the same through the staff API; signed batches from the IoT platform.

Registered as a plugin by tests/conftest.py, so its fixtures (`home`) are there for every test module.
The model-level helpers add to `db.session` and leave committing to the caller (the fixtures commit).
"""

from __future__ import annotations

import hashlib
import hmac
import json
import time
import uuid
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import pytest
from flask.testing import FlaskClient

from api.accounts.models import Role, Room, User
from api.auth import issue_access_token
from api.config import DEV_IOT_PLATFORM_SECRETS, Settings
from api.db import db, utcnow
from api.devices.models import Device, DeviceStatus, DeviceType
from api.eldercare.models import BindingStatus, Elder, ElderStatus, FamilyBinding, MonitoringConsent
from tests.conftest import World, bearer, wechat_login

# ----------------------------------------------------------------------------------------------------
# Elders, families and devices, as rows
# ----------------------------------------------------------------------------------------------------


def add_elder(
    room: Room, name: str = "王阿婆", *, birth_year: int | None = 1941, consent: Iterable[str] = ("*",)
) -> Elder:
    """An active elder living in `room`, who consented (本人) to the device types in `consent` ("*": all)."""
    elder = Elder(name=name, room_id=room.id, birth_year=birth_year, status=ElderStatus.ACTIVE)
    db.session.add(elder)
    db.session.flush()
    db.session.add(MonitoringConsent(elder_id=elder.id, given_by="本人", device_types=list(consent)))
    return elder


def add_wechat_user(nickname: str, *roles: Role, **fields: Any) -> User:
    """Someone on the mini-program who follows the Official Account (both openids), with `roles`."""
    suffix = uuid.uuid4().hex[:8]
    fields = {"wechat_openid": f"o-mini-{suffix}", "wechat_oa_openid": f"o-oa-{suffix}", **fields}
    user = User(nickname=nickname, **fields)
    for role in roles:
        user.grant(role)
    db.session.add(user)
    return user


def add_family_member(nickname: str) -> User:
    """A family member (the `family` role) who follows the Official Account."""
    return add_wechat_user(nickname, Role.FAMILY)


def bind_family(elder: Elder, *members: User, relation: str = "子女") -> None:
    """`members` bound to `elder` and confirmed, in this contact order."""
    db.session.flush()
    for position, user in enumerate(members, start=1):
        db.session.add(
            FamilyBinding(
                elder_id=elder.id,
                user_id=user.id,
                relation=relation,
                position=position,
                status=BindingStatus.CONFIRMED,
                confirmed_at=utcnow(),
            )
        )


def add_device(
    serial: str, kind: DeviceType, room: Room, elder: Elder | None = None, status: DeviceStatus = DeviceStatus.ACTIVE
) -> Device:
    """A device installed in `room`, watching `elder` when given."""
    device = Device(serial=serial, type=kind, room_id=room.id, elder_id=elder.id if elder else None, status=status)
    db.session.add(device)
    db.session.flush()
    return device


# ----------------------------------------------------------------------------------------------------
# A home: 王阿婆 in KJ01 1号楼101, who consented to every device, her daughter and son, her devices
# ----------------------------------------------------------------------------------------------------

HOME_DEVICES = (
    ("SMK-1", DeviceType.SMOKE_DETECTOR),
    ("DOOR-1", DeviceType.DOOR_SENSOR),
    ("BP-1", DeviceType.BLOOD_PRESSURE_MONITOR),
    ("SOS-1", DeviceType.SOS_BUTTON),
)


@dataclass
class Home:
    """What `home` made: ids, and `headers(who)` for the daughter, the son and the stranger."""

    elder_id: uuid.UUID
    daughter: uuid.UUID
    son: uuid.UUID
    stranger: uuid.UUID
    devices: dict[str, uuid.UUID]
    tokens: dict[str, dict[str, str]]

    def headers(self, who: str) -> dict[str, str]:
        return self.tokens[who]


@pytest.fixture
def home(world: World, settings: Settings) -> Home:
    """王阿婆 at KJ01/101 (every consent), daughter then son as contacts, a stranger, her devices (HOME_DEVICES)."""
    room = world.room("KJ01/101")
    elder = add_elder(room)
    daughter, son, stranger = add_family_member("王家女儿"), add_family_member("王家儿子"), add_family_member("路人")
    bind_family(elder, daughter, son)
    devices = {serial: add_device(serial, kind, room, elder).id for serial, kind in HOME_DEVICES}
    add_device("OLD-1", DeviceType.SMOKE_DETECTOR, room, status=DeviceStatus.RETIRED)
    db.session.commit()
    tokens = {
        name: bearer(issue_access_token(user, secret=settings.secret_key, ttl_seconds=900))
        for name, user in (("daughter", daughter), ("son", son), ("stranger", stranger))
    }
    return Home(elder.id, daughter.id, son.id, stranger.id, devices, tokens)


# ----------------------------------------------------------------------------------------------------
# The same through the API, as staff and families do it
# ----------------------------------------------------------------------------------------------------


def login(client: FlaskClient, code: str) -> dict[str, Any]:
    """A resident logged in through the WeChat sandbox, with `headers`."""
    tokens = wechat_login(client, code)
    return {**tokens, "headers": bearer(tokens["access_token"])}


def new_elder(client: FlaskClient, staff: dict[str, Any], room: Room, **overrides: Any) -> dict[str, Any]:
    """Staff register 王阿婆 (or `overrides`) in `room`: the elder as the API answers."""
    body = {
        "name": "王阿婆",
        "room_id": str(room.id),
        "birth_year": 1941,
        "conditions": "高血压",
        "phone": "13812345678",
    }
    body.update(overrides)
    response = client.post("/api/v1/admin/elders", json=body, headers=staff["headers"])
    assert response.status_code == 201, response.get_json()
    return response.get_json()


def consent(
    client: FlaskClient, staff: dict[str, Any], elder_id: str, *types: str, given_by: str = "本人"
) -> dict[str, Any]:
    """Staff record the elder's consent to `types` of device."""
    body = {"given_by": given_by, "device_types": list(types)}
    response = client.post(f"/api/v1/admin/elders/{elder_id}/consents", json=body, headers=staff["headers"])
    assert response.status_code == 201, response.get_json()
    return response.get_json()


def new_device(client: FlaskClient, staff: dict[str, Any], **body: Any) -> Any:
    """Staff register a device (the response, whatever its status)."""
    return client.post("/api/v1/admin/devices", json=body, headers=staff["headers"])


def invite(client: FlaskClient, staff: dict[str, Any], elder_id: str) -> dict[str, Any]:
    """Staff make a family invite for the elder."""
    response = client.post(f"/api/v1/admin/elders/{elder_id}/invites", headers=staff["headers"])
    assert response.status_code == 201, response.get_json()
    return response.get_json()


def bind(client: FlaskClient, family: dict[str, Any], code: str, relation: str = "子女") -> Any:
    """A family member asks to be bound with an invite code (the response)."""
    return client.post("/api/v1/family-bindings", json={"code": code, "relation": relation}, headers=family["headers"])


def bound_family(
    client: FlaskClient, staff: dict[str, Any], elder_id: str, code_name: str, relation: str = "子女"
) -> tuple[dict[str, Any], dict[str, Any]]:
    """A family member who asked with an invite and was confirmed by staff: (their login, the binding)."""
    family = login(client, code_name)
    requested = bind(client, family, invite(client, staff, elder_id)["code"], relation)
    assert requested.status_code == 201, requested.get_json()
    confirmed = client.post(
        f"/api/v1/admin/family-bindings/{requested.get_json()['id']}/confirm", headers=staff["headers"]
    )
    assert confirmed.status_code == 200, confirmed.get_json()
    return family, confirmed.get_json()


# ----------------------------------------------------------------------------------------------------
# Signed batches from the IoT platform
# ----------------------------------------------------------------------------------------------------

PLATFORM, SECRET = "linli-dev", DEV_IOT_PLATFORM_SECRETS["linli-dev"]  # the development platform


def iot_event(
    serial: str, kind: str, value: Any = None, *, at: datetime | None = None, event_id: str | None = None
) -> dict[str, Any]:
    """One item of a batch: `kind` from device `serial`, now (or `at`), with a fresh event id."""
    item: dict[str, Any] = {
        "device_serial": serial,
        "type": kind,
        "occurred_at": (at or utcnow()).isoformat(),
        "event_id": event_id or uuid.uuid4().hex,
    }
    if value is not None:
        item["value"] = value
    return item


def signed(
    body: bytes, *, secret: str = SECRET, timestamp: int | None = None, platform: str = PLATFORM
) -> dict[str, str]:
    """The headers the IoT platform signs `body` with (HMAC-SHA256 of `"<timestamp>.<body>"`)."""
    stamp = str(int(time.time()) if timestamp is None else timestamp)
    signature = hmac.new(secret.encode(), f"{stamp}.".encode() + body, hashlib.sha256).hexdigest()
    return {
        "X-Linli-Platform": platform,
        "X-Linli-Timestamp": stamp,
        "X-Linli-Signature": signature,
        "Content-Type": "application/json",
    }


def push(client: FlaskClient, items: Any, **signing: Any) -> Any:
    """Post `items` to the ingestion endpoint as a signed batch (the response)."""
    body = json.dumps(items).encode()
    return client.post("/api/v1/iot/events", data=body, headers=signed(body, **signing))


def pushed(client: FlaskClient, items: Any) -> dict[str, Any]:
    """Post a signed batch that must be taken (200): the result per item."""
    response = push(client, items)
    assert response.status_code == 200, response.get_json()
    return response.get_json()
