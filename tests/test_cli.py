"""The commands an operator runs: create a staff login, load the demo subdistrict."""

from __future__ import annotations

import pytest
from sqlalchemy import func, select

from api.accounts.models import Area, AreaKind, Room, User
from api.db import db
from tests.conftest import staff_login, wechat_login


@pytest.mark.smoke
def test_create_staff_gives_a_login_scoped_to_an_estate(app, client, world):
    runner = app.test_cli_runner()
    result = runner.invoke(
        args=["create-staff", "estate-keeper", "--password", "a-long-password", "--role", "staff", "--area", "KJ01-01"]
    )
    assert result.exit_code == 0, result.output
    assert "scope=KJ01-01" in result.output

    tokens = staff_login(client, "estate-keeper", "a-long-password")
    assert tokens["user"]["scope"] == "KJ01-01"

    resident = wechat_login(client, "zhaoliu#1")
    headers = {"Authorization": f"Bearer {resident['access_token']}"}
    for key in ("KJ01/101", "KJ02/101"):
        client.post(
            "/api/v1/me/household-requests",
            json={"room_id": str(world.room(key).id), "relation": "owner"},
            headers=headers,
        )
    queue = client.get(
        "/api/v1/admin/household-requests", headers={"Authorization": f"Bearer {tokens['access_token']}"}
    ).get_json()
    assert [item["room_id"] for item in queue["items"]] == [str(world.room("KJ01/101").id)]


def test_create_staff_refuses_what_would_be_unsafe(app, world):
    runner = app.test_cli_runner()

    short = runner.invoke(args=["create-staff", "x", "--password", "short", "--area", "KJ01"])
    assert short.exit_code != 0 and "at least 8" in short.output
    no_area = runner.invoke(args=["create-staff", "x", "--password", "long-enough-pw"])
    assert no_area.exit_code != 0 and "--area" in no_area.output
    unknown = runner.invoke(args=["create-staff", "x", "--password", "long-enough-pw", "--area", "ZZ99"])
    assert unknown.exit_code != 0 and "ZZ99" in unknown.output
    assert db.session.scalar(select(User).where(User.username == "x")) is None


@pytest.mark.smoke
def test_the_demo_subdistrict_has_25_committees_60_estates_and_loads_once(app, client):
    runner = app.test_cli_runner()
    first = runner.invoke(args=["seed-demo"])
    assert first.exit_code == 0, first.output

    def count(kind=None):
        stmt = select(func.count()).select_from(Area)
        return db.session.scalar(stmt.where(Area.kind == kind) if kind else stmt)

    assert count(AreaKind.COMMITTEE) == 25
    assert count(AreaKind.ESTATE) == 60
    rooms = db.session.scalar(select(func.count()).select_from(Room))
    assert rooms > 25_000

    again = runner.invoke(args=["seed-demo"])
    assert again.exit_code == 0
    assert "areas added: 0" in again.output and "rooms added: 0" in again.output
    assert db.session.scalar(select(func.count()).select_from(Room)) == rooms

    # The demo people work as the README says.
    assert staff_login(client, "admin", "linli-admin-demo")["user"]["roles"] == ["admin"]
    zhangsan = wechat_login(client, "zhangsan#readme")
    me = client.get("/api/v1/me", headers={"Authorization": f"Bearer {zhangsan['access_token']}"}).get_json()
    assert me["nickname"] == "张三" and len(me["households"]) == 1
    staff = staff_login(client, "kj01-staff", "linli-staff-demo")
    queue = client.get(
        "/api/v1/admin/household-requests", headers={"Authorization": f"Bearer {staff['access_token']}"}
    ).get_json()
    assert [item["applicant"]["nickname"] for item in queue["items"]] == ["王五"]
