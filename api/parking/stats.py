"""What staff see at a glance: live free counts per estate with the age of the data they rest on, and
occupancy and utilisation per lot and hour — computed in SQL (an hour series joined with the stays and the
booked time, each overlap clipped to its hour), so a month of a whole district is one query, not a loop."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Float, Integer, case, cast, func, literal, select, union_all

from api import scope
from api.accounts.models import User
from api.db import UTCDateTime, db
from api.dialect import seconds_between
from api.parking.models import (
    Hold,
    LotKind,
    Occupancy,
    ParkingLot,
    ParkingSession,
    ParkingSpace,
    Passage,
    Sensor,
    SessionStatus,
)

MAX_HOURS = 24 * 31


def free_counts(staff: User, now: datetime) -> list[dict[str, Any]]:
    """Per estate (the lot's area), per lot: places, occupied, unknown (silent sensors — never counted free),
    free, and how old the newest reading behind it is (a gate's last passage, a sensor's last frame)."""
    lots = list(db.session.scalars(scope.visible(staff, ParkingLot).where(ParkingLot.is_active.is_(True))))
    if not lots:
        return []
    ids = [lot.id for lot in lots]
    capacity = dict(
        db.session.execute(
            select(ParkingSpace.lot_id, func.sum(ParkingSpace.capacity))
            .where(ParkingSpace.lot_id.in_(ids), ParkingSpace.is_active.is_(True))
            .group_by(ParkingSpace.lot_id)
        ).all()
    )
    inside = dict(
        db.session.execute(
            select(ParkingSession.lot_id, func.count())
            .where(ParkingSession.lot_id.in_(ids), ParkingSession.status == SessionStatus.OPEN)
            .group_by(ParkingSession.lot_id)
        ).all()
    )
    last_passage = dict(
        db.session.execute(
            select(Passage.lot_id, func.max(Passage.at)).where(Passage.lot_id.in_(ids)).group_by(Passage.lot_id)
        ).all()
    )
    sensed: dict[Any, dict[str, Any]] = {}
    for lot_id, state, count, newest in db.session.execute(
        select(ParkingSpace.lot_id, Sensor.state, func.count(), func.max(Sensor.last_frame_at))
        .join(ParkingSpace, ParkingSpace.id == Sensor.space_id)
        .where(ParkingSpace.lot_id.in_(ids))
        .group_by(ParkingSpace.lot_id, Sensor.state)
    ).all():
        entry = sensed.setdefault(lot_id, {"occupied": 0, "vacant": 0, "newest": None})
        if state == Occupancy.OCCUPIED:
            entry["occupied"] += count
        elif state == Occupancy.VACANT:
            entry["vacant"] += count
        if newest is not None and (entry["newest"] is None or newest > entry["newest"]):
            entry["newest"] = newest
    estates: dict[str, dict[str, Any]] = {}
    for lot in lots:
        places = int(capacity.get(lot.id) or 0)
        if lot.kind == LotKind.ROAD:
            # Only a sensor that reads vacant makes a bay free: silent, faulty and unsensed bays are unknown.
            seen = sensed.get(lot.id, {"occupied": 0, "vacant": 0, "newest": None})
            occupied, as_of = seen["occupied"], seen["newest"]
            unknown = max(0, places - occupied - seen["vacant"])
        else:
            occupied, unknown, as_of = int(inside.get(lot.id) or 0), 0, last_passage.get(lot.id)
        estate = estates.setdefault(
            lot.area_path, {"area_id": lot.area_id, "area_name": lot.area.name, "free": 0, "lots": []}
        )
        free = max(0, places - occupied - unknown)
        estate["free"] += free
        estate["lots"].append(
            {
                "lot_id": lot.id,
                "name": lot.name,
                "kind": lot.kind.value,
                "places": places,
                "occupied": occupied,
                "unknown": unknown,
                "free": free,
                "as_of": as_of,
                "data_age_seconds": int((now - as_of).total_seconds()) if as_of else None,
            }
        )
    return list(estates.values())


def utilisation(staff: User, starts: datetime, ends: datetime, now: datetime) -> list[dict[str, Any]]:
    """Per lot and hour of [starts, ends): booked car-hours (live and past holds), occupied car-hours (stays),
    places, and utilisation = occupied / places. One SQL statement over an hour series."""
    hours = max(1, min(MAX_HOURS, int((ends - starts).total_seconds() // 3600)))
    origin = literal(starts, UTCDateTime())
    series = select(literal(0, Integer).label("n")).cte("hours", recursive=True)
    series = series.union_all(select((series.c.n + 1).label("n")).where(series.c.n + 1 < hours))

    def clipped(start: Any, end: Any) -> Any:
        """Seconds of [start, end) (relative to `starts`) inside hour n."""
        lo = series.c.n * 3600.0
        hi = lo + 3600.0
        a = case((start > lo, start), else_=lo)
        b = case((end < hi, end), else_=hi)
        return case((b > a, b - a), else_=0.0)

    stay_start = cast(seconds_between(ParkingSession.entered_at, origin), Float)
    stay_end = cast(
        seconds_between(func.coalesce(ParkingSession.exited_at, literal(now, UTCDateTime())), origin), Float
    )
    hold_start = cast(seconds_between(Hold.starts_at, origin), Float)
    hold_end = cast(seconds_between(Hold.until, origin), Float)
    lots = scope.visible(staff, select(ParkingLot.id), ParkingLot.area_path).subquery()
    occupied = (
        select(
            ParkingSession.lot_id.label("lot_id"),
            series.c.n.label("n"),
            clipped(stay_start, stay_end).label("occupied"),
            literal(0.0).label("booked"),
        )
        .select_from(ParkingSession)
        .join(series, literal(True))
        .where(ParkingSession.lot_id.in_(select(lots.c.id)), ParkingSession.entered_at < literal(ends, UTCDateTime()))
        .where(func.coalesce(ParkingSession.exited_at, literal(now, UTCDateTime())) > origin)
    )
    booked = (
        select(
            ParkingSpace.lot_id.label("lot_id"),
            series.c.n.label("n"),
            literal(0.0).label("occupied"),
            clipped(hold_start, hold_end).label("booked"),
        )
        .select_from(Hold)
        .join(ParkingSpace, ParkingSpace.id == Hold.space_id)
        .join(series, literal(True))
        .where(ParkingSpace.lot_id.in_(select(lots.c.id)), Hold.starts_at < literal(ends, UTCDateTime()))
        .where(Hold.until > origin)
        # A hold released before it ended counts up to its release (a booking cancelled or completed early).
    )
    both = union_all(occupied, booked).subquery()
    places = (
        select(ParkingSpace.lot_id, func.sum(ParkingSpace.capacity).label("places"))
        .where(ParkingSpace.is_active.is_(True))
        .group_by(ParkingSpace.lot_id)
        .subquery()
    )
    rows = db.session.execute(
        select(
            both.c.lot_id,
            both.c.n,
            func.sum(both.c.occupied) / 3600.0,
            func.sum(both.c.booked) / 3600.0,
            func.max(places.c.places),
        )
        .join(places, places.c.lot_id == both.c.lot_id)
        .group_by(both.c.lot_id, both.c.n)
        .order_by(both.c.lot_id, both.c.n)
    ).all()
    names = (
        dict(
            db.session.execute(
                select(ParkingLot.id, ParkingLot.name).where(ParkingLot.id.in_({r[0] for r in rows}))
            ).all()
        )
        if rows
        else {}
    )
    answer = []
    for lot_id, n, occupied_hours, booked_hours, place_count in rows:
        if round(float(occupied_hours or 0), 3) == 0 and round(float(booked_hours or 0), 3) == 0:
            continue
        places_n = int(place_count or 0)
        answer.append(
            {
                "lot_id": lot_id,
                "lot_name": names.get(lot_id, ""),
                "hour": starts + timedelta(hours=int(n)),
                "occupied_hours": round(float(occupied_hours or 0), 3),
                "booked_hours": round(float(booked_hours or 0), 3),
                "places": places_n,
                "utilisation": round(float(occupied_hours or 0) / places_n, 4) if places_n else 0.0,
            }
        )
    return answer
