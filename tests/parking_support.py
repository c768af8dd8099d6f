"""What the parking tests (and the walks of the whole admin API in test_scope) share: a lot lent in sharing
windows, residents with verified cars, signed calls from a gate system or the IoT platform, and times on
the Chinese working-day calendar."""

from __future__ import annotations

import json
import time
import uuid
from datetime import date, datetime, timedelta
from typing import Any

from api import signedbatch
from api.config import DEV_IOT_PLATFORM_SECRETS, DEV_PARKING_GATE_SECRETS
from api.fields import LOCAL_TZ
from api.parking import windows
from tests.conftest import bearer, wechat_login

GATE = next(iter(DEV_PARKING_GATE_SECRETS))
IOT = next(iter(DEV_IOT_PLATFORM_SECRETS))
WEEKDAY_NIGHTS = [{"days": "workdays", "start": "18:00", "end": "08:00"}]


def ok(response: Any, status: int = 200) -> Any:
    assert response.status_code == status, (response.status_code, response.get_json(silent=True))
    return response.get_json()


def local(day: date, hhmm: str, days_later: int = 0) -> datetime:
    hour, minute = (int(p) for p in hhmm.split(":"))
    return datetime.combine(day + timedelta(days=days_later), datetime.min.time(), tzinfo=LOCAL_TZ).replace(
        hour=hour, minute=minute
    )


def next_weekday(weekday: int, *, after: date | None = None, working: bool = True) -> date:
    """The next date (at least two days ahead) that is `weekday` (0 = Monday) and a working day — and whose next
    day is one too when `working` (so an overnight window is an ordinary one)."""
    day = (after or datetime.now(LOCAL_TZ).date()) + timedelta(days=2)
    while True:
        if day.weekday() == weekday and (
            not working or (windows.is_workday(day) and windows.is_workday(day + timedelta(days=1)))
        ):
            return day
        day += timedelta(days=1)


def signed(
    client: Any, path: str, payload: Any, *, platform: str = GATE, secret: str | None = None, stamp: int | None = None
) -> Any:
    body = json.dumps(payload, ensure_ascii=False).encode()
    secrets = {**DEV_PARKING_GATE_SECRETS, **DEV_IOT_PLATFORM_SECRETS}
    timestamp = stamp if stamp is not None else int(time.time())
    headers = {
        signedbatch.PLATFORM_HEADER: platform,
        signedbatch.TIMESTAMP_HEADER: str(timestamp),
        signedbatch.SIGNATURE_HEADER: signedbatch.sign(secret or secrets[platform], timestamp, body),
        "Content-Type": "application/json",
    }
    return client.post(path, data=body, headers=headers)


def resident_with_car(
    client: Any, admin: dict[str, Any], world: Any, code: str, room: str, plate: str
) -> dict[str, Any]:
    """A resident bound to `room` (approved by staff) with a verified car: `{headers, user, vehicle_id}`."""
    tokens = wechat_login(client, f"{code}#1")
    headers = bearer(tokens["access_token"])
    asked = ok(
        client.post(
            "/api/v1/me/household-requests",
            json={"room_id": str(world.room(room).id), "relation": "owner"},
            headers=headers,
        ),
        201,
    )
    ok(client.post(f"/api/v1/admin/household-requests/{asked['id']}/approve", headers=admin["headers"]))
    vehicle = ok(client.post("/api/v1/parking/vehicles", json={"plate": plate}, headers=headers), 201)
    ok(client.post(f"/api/v1/admin/parking/vehicles/{vehicle['id']}/verify", headers=admin["headers"]))
    return {"headers": headers, "user": tokens["user"], "vehicle_id": vehicle["id"]}


def lot_payload(world: Any, area: str = "KJ01", **overrides: Any) -> dict[str, Any]:
    return {
        "area_id": str(world.areas[area].id),
        "name": f"{area}商场车库",
        "kind": "car_park",
        "address": "控江路1000号",
        "lat": 31.2822,
        "lng": 121.5301,
        "hourly_rate_fen": 500,
        "daily_cap_fen": 4000,
        "overstay_rate_fen": 1000,
        "pass_monthly_fen": 30000,
        "gate_platform": GATE,
        "gate_vendor": "fake",
        **overrides,
    }


def lent_lot(
    client: Any,
    admin: dict[str, Any],
    world: Any,
    *,
    area: str = "KJ01",
    bays: int = 0,
    pool: int = 0,
    rules: list[dict[str, str]] | None = None,
    lender_code: str = "mall",
    **lot: Any,
) -> dict[str, Any]:
    """A lot with `bays` bays and/or a pool of `pool`, lent by a unit's account in `rules`, approved by staff."""
    h = admin["headers"]
    lender_tokens = wechat_login(client, f"{lender_code}-{uuid.uuid4().hex[:6]}#1")
    lender = {"headers": bearer(lender_tokens["access_token"]), "user": lender_tokens["user"]}
    made = ok(client.post("/api/v1/admin/parking/lots", json=lot_payload(world, area, **lot), headers=h), 201)
    spaces = []
    for number in range(1, bays + 1):
        spaces.append(
            ok(
                client.post(
                    f"/api/v1/admin/parking/lots/{made['id']}/spaces",
                    json={"code": f"B{number:03d}", "kind": "bay", "lender_id": lender["user"]["id"]},
                    headers=h,
                ),
                201,
            )
        )
    if pool:
        spaces.append(
            ok(
                client.post(
                    f"/api/v1/admin/parking/lots/{made['id']}/spaces",
                    json={"code": "POOL", "kind": "pool", "capacity": pool, "lender_id": lender["user"]["id"]},
                    headers=h,
                ),
                201,
            )
        )
    offer = ok(
        client.post(
            "/api/v1/parking/lender/offers",
            json={"lot_id": made["id"], "rules": rules or WEEKDAY_NIGHTS},
            headers=lender["headers"],
        ),
        201,
    )
    ok(client.post(f"/api/v1/admin/parking/offers/{offer['id']}/approve", headers=h))
    return {"lot": made, "spaces": spaces, "lender": lender, "offer": offer}


def quote(client: Any, who: dict[str, Any], lot_id: str, starts: datetime, ends: datetime, **extra: Any) -> Any:
    return client.post(
        "/api/v1/parking/quotes",
        json={"lot_id": lot_id, "starts_at": starts.isoformat(), "ends_at": ends.isoformat(), **extra},
        headers=who["headers"],
    )


def book(client: Any, who: dict[str, Any], lot_id: str, starts: datetime, ends: datetime, **extra: Any) -> Any:
    q = quote(client, who, lot_id, starts, ends, **extra)
    if q.status_code != 201:
        return q
    return client.post(
        "/api/v1/parking/bookings",
        json={"quote_id": q.get_json()["id"], "vehicle_id": who["vehicle_id"]},
        headers=who["headers"],
    )


def pay(client: Any, who: dict[str, Any], booking: dict[str, Any]) -> Any:
    return client.post(
        f"/api/v1/payments/{booking['order_id']}/sandbox-complete", json={"outcome": "paid"}, headers=who["headers"]
    )


def booked_now(client: Any, who: dict[str, Any], lot: dict[str, Any]) -> dict[str, Any]:
    """A paid booking from a minute from now for two hours (the lot must lend all day)."""
    from api.db import utcnow

    now = utcnow()
    made = ok(book(client, who, lot["lot"]["id"], now + timedelta(minutes=1), now + timedelta(hours=2)), 201)
    ok(pay(client, who, made))
    return made
