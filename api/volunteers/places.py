"""Where things are: distances on the ground, a task's point and its coarse name, and the sort key the task list
uses for "nearest first" — plain arithmetic SQL (no trigonometry), so it runs the same on SQLite and PostgreSQL.

Distances inside one subdistrict (a few kilometres) are measured on a local flat projection: metres north and east
of a point, with the east–west metres shrunk by the cosine of the latitude. At 31° N the error over 5 km is well
under a metre — far below the accuracy of a phone's location.
"""

from __future__ import annotations

import math
from typing import Any

from sqlalchemy import ColumnElement, case, func, literal

from api.accounts.models import Area, AreaKind

METRES_PER_DEGREE = 111_320.0


def distance_m(lat1: float, lng1: float, lat2: float, lng2: float) -> float:
    """Metres between two points (haversine: exact enough anywhere, used for the decisions)."""
    r = 6_371_000.0
    p1, p2 = math.radians(lat1), math.radians(lat2)
    dp, dl = p2 - p1, math.radians(lng2 - lng1)
    a = math.sin(dp / 2) ** 2 + math.cos(p1) * math.cos(p2) * math.sin(dl / 2) ** 2
    return 2 * r * math.asin(min(1.0, math.sqrt(a)))


def box(lat: float, lng: float, radius_m: float) -> tuple[float, float, float, float]:
    """(min_lat, min_lng, max_lat, max_lng) around a point: a cheap SQL pre-filter before `distance_m`."""
    dlat = radius_m / METRES_PER_DEGREE
    dlng = radius_m / (METRES_PER_DEGREE * max(math.cos(math.radians(lat)), 0.01))
    return lat - dlat, lng - dlng, lat + dlat, lng + dlng


def squared_distance(lat_column: Any, lng_column: Any, lat: float, lng: float) -> ColumnElement[float]:
    """Squared metres from (lat, lng), in SQL; rows with no point sort after every other (a huge number)."""
    shrink = math.cos(math.radians(lat))
    north = (lat_column - literal(lat)) * METRES_PER_DEGREE
    east = (lng_column - literal(lng)) * (METRES_PER_DEGREE * shrink)
    return case(
        (lat_column.is_(None), literal(1e15)),
        (lng_column.is_(None), literal(1e15)),
        else_=func.round(north * north + east * east),
    )


def estate_of(area: Area | None) -> Area | None:
    """The estate an area (a building, or the estate itself) is in; None above estates."""
    while area is not None and area.kind == AreaKind.BUILDING:
        area = area.parent
    return area if area is not None and area.kind == AreaKind.ESTATE else None


def point_of(area: Area | None) -> tuple[float, float] | None:
    """An area's point: its own, or its estate's."""
    estate = estate_of(area) if area is not None and area.kind == AreaKind.BUILDING else area
    if estate is None or estate.lat is None or estate.lng is None:
        return None
    return estate.lat, estate.lng
