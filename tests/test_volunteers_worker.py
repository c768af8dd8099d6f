"""An alarm next door with a real Celery worker on PostgreSQL and Redis: the escalation beat job runs in the worker
process (where the volunteers domain's receiver must be connected too), the on-duty volunteers near the elder's
estate are offered the task and the one across the subdistrict is not, the first two to accept through the API see
the address, the third is told to stand down; then one of them checks in with their location, the staff member closes
the roster, and the hours and coins are in the ledgers."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import pytest
from flask import Flask
from sqlalchemy import select

from api.accounts.models import Area, AreaKind, Role, Room, User
from api.auth import issue_access_token
from api.db import db, utcnow
from api.devices.models import Device, DeviceStatus, DeviceType
from api.eldercare.models import Elder, ElderStatus, MonitoringConsent
from api.notifications.models import Notification
from api.volunteers.models import Profile, ProfileStatus, Signup, Task
from tests.test_alerts_worker import Home, fake, sender, worker, worker_database  # noqa: F401 (fixtures)
from tests.test_notifications_worker import empty_database
from tests.worker_support import Worker

pytestmark = pytest.mark.services

ESTATE = (31.2800, 121.5300)


def _north(metres: float) -> tuple[float, float]:
    return ESTATE[0] + metres / 111_320, ESTATE[1]


@pytest.fixture
def street(sender: Flask, worker: Worker, fake: Any, worker_database: str) -> Iterator[dict[str, Any]]:  # noqa: F811
    fake.reset()
    with sender.app_context():
        root = Area(kind=AreaKind.SUBDISTRICT, code="KJ", name="控江路街道", path="/KJ/")
        db.session.add(root)
        db.session.flush()
        committee = Area(
            kind=AreaKind.COMMITTEE, code="KJ07", name="凤城一村居委会", parent_id=root.id, path="/KJ/KJ07/"
        )
        db.session.add(committee)
        db.session.flush()
        estate = Area(
            kind=AreaKind.ESTATE, code="KJ07-01", name="凤城一村", parent_id=committee.id, path="/KJ/KJ07/KJ07-01/"
        )
        estate.lat, estate.lng = ESTATE
        far_estate = Area(
            kind=AreaKind.ESTATE, code="KJ07-02", name="凤城一村西块", parent_id=committee.id, path="/KJ/KJ07/KJ07-02/"
        )
        far_estate.lat, far_estate.lng = 31.2960, 121.5500
        db.session.add_all([estate, far_estate])
        db.session.flush()
        building = Area(
            kind=AreaKind.BUILDING,
            code="KJ07-01-003",
            name="3号楼",
            parent_id=estate.id,
            path=estate.path + "KJ07-01-003/",
        )
        db.session.add(building)
        db.session.flush()
        room = Room(building_id=building.id, number="201", floor=2)
        db.session.add(room)
        db.session.flush()
        elder = Elder(name="李阿婆", room_id=room.id, status=ElderStatus.ACTIVE, conditions="独居；备用钥匙在202室")
        db.session.add(elder)
        db.session.flush()
        db.session.add(MonitoringConsent(elder_id=elder.id, given_by="本人", device_types=["*"]))
        db.session.add(
            Device(
                serial="SMK-KJ07",
                type=DeviceType.SMOKE_DETECTOR,
                room_id=room.id,
                elder_id=elder.id,
                status=DeviceStatus.ACTIVE,
            )
        )
        staff = User(nickname="kj07", username="kj07-staff", staff_area_id=committee.id)
        staff.grant(Role.STAFF)
        db.session.add(staff)
        people: dict[str, User] = {}
        for name, where, home in (
            ("近1", 150, estate),
            ("近2", 260, estate),
            ("近3", 330, estate),
            ("远", None, far_estate),
        ):
            user = User(nickname=name, wechat_openid=f"o-vol-{uuid.uuid4().hex[:8]}")
            user.grant(Role.VOLUNTEER)
            point = _north(where) if where is not None else (None, None)
            profile = Profile(
                user=user,
                real_name=f"志愿者{name}",
                area_id=committee.id,
                home_estate_id=home.id,
                status=ProfileStatus.APPROVED,
                on_duty=True,
                duty_lat=point[0],
                duty_lng=point[1],
                duty_since=utcnow(),
            )
            profile.committees = [committee]
            db.session.add(profile)
            people[name] = user
        db.session.commit()
        secret = sender.config["SECRET_KEY"]
        tokens = {name: issue_access_token(user, secret=secret, ttl_seconds=900) for name, user in people.items()}
        tokens["staff"] = issue_access_token(staff, secret=secret, ttl_seconds=900)
        ids = {name: user.id for name, user in people.items()}
    with worker.log_on_failure():
        yield {"tokens": tokens, "ids": ids, "home": Home(sender, worker, fake, {}, {})}
    empty_database(worker_database)


def _headers(street: dict[str, Any], who: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {street['tokens'][who]}"}


def test_the_worker_offers_an_unanswered_alarm_to_the_volunteers_next_door_and_the_first_two_go(street, sender):  # noqa: F811
    home: Home = street["home"]
    alert_id = home.push("smoke", serial="SMK-KJ07")["results"][0]["alert_id"]
    assert home.beat(181) == "1"  # nobody acknowledged: the volunteers step, in the worker
    with sender.app_context():
        task = db.session.scalar(select(Task).where(Task.source_ref == alert_id))
        assert task is not None, home.worker.log()[-3000:]
        offered = set(
            db.session.scalars(select(Signup.user_id).where(Signup.task_id == task.id, Signup.status == "offered"))
        )
        told = set(db.session.scalars(select(Notification.user_id).where(Notification.kind == "volunteer_alert_offer")))
        task_id = task.id
    near = {street["ids"][n] for n in ("近1", "近2", "近3")}
    assert offered == near == told

    client = sender.test_client()
    url = f"/api/v1/volunteer/tasks/{task_id}/signups"
    first = client.post(url, headers=_headers(street, "近3"))
    second = client.post(url, headers=_headers(street, "近1"))
    assert first.status_code == second.status_code == 200, (first.get_json(), second.get_json())
    assert first.get_json()["address"].endswith("3号楼201室") and "202室" in second.get_json()["door_notes"]
    third = client.post(url, headers=_headers(street, "近2"))
    assert third.status_code == 409 and third.get_json()["code"] == "task_full"
    assert client.post(url, headers=_headers(street, "远")).status_code == 404
    with sender.app_context():
        stood_down = db.session.scalar(
            select(Notification.id).where(
                Notification.kind == "volunteer_stand_down", Notification.user_id == street["ids"]["近2"]
            )
        )
        assert stood_down is not None

    # On site: inside the fence, by the location the phone reports; then the staff close the roster.
    lat, lng = _north(20)
    checked = client.post(
        f"/api/v1/volunteer/tasks/{task_id}/check-in",
        json={"lat": lat, "lng": lng, "accuracy": 8},
        headers=_headers(street, "近3"),
    )
    assert checked.status_code == 200, checked.get_json()
    with sender.app_context():
        signup = db.session.scalar(
            select(Signup).where(Signup.task_id == task_id, Signup.user_id == street["ids"]["近3"])
        )
        signup.checked_in_at = utcnow() - timedelta(minutes=50)  # as if they had been there since the alarm
        task = db.session.get(Task, task_id)
        task.starts_at = utcnow() - timedelta(minutes=55)
        db.session.commit()
    out = client.post(
        f"/api/v1/volunteer/tasks/{task_id}/check-out",
        json={"lat": lat, "lng": lng, "accuracy": 8},
        headers=_headers(street, "近3"),
    )
    assert out.status_code == 200, out.get_json()
    closed = client.post(
        f"/api/v1/admin/volunteer-tasks/{task_id}/roster/close", json={}, headers=_headers(street, "staff")
    )
    assert closed.status_code == 200, closed.get_json()
    me = client.get("/api/v1/me/volunteer", headers=_headers(street, "近3")).get_json()
    assert (me["hours"], me["coins"]) == (1.0, 1.0)
