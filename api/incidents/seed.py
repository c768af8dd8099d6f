"""The incidents domain's part of the demo: the category catalogue and a few handling units to dispatch
to (additive, by name: running it again adds nothing)."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select

from api.accounts.models import Area
from api.db import db
from api.incidents.categories import ensure_default_catalogue
from api.incidents.models import HandlingUnit, HandlingUnitKind

UNITS = [
    ("控江一村物业服务中心", HandlingUnitKind.PROPERTY_COMPANY, "KJ01"),
    ("控江路街道第一网格", HandlingUnitKind.GRID, "KJ01"),
    ("杨浦区城管执法局控江中队", HandlingUnitKind.CITY_DEPARTMENT, None),
    ("杨浦区绿化市容局", HandlingUnitKind.CITY_DEPARTMENT, None),
]


def seed_demo() -> dict[str, Any]:
    added = ensure_default_catalogue()
    known = set(db.session.scalars(select(HandlingUnit.name)))
    areas = dict(db.session.execute(select(Area.code, Area.id)).all())
    new_units = 0
    for name, kind, area_code in UNITS:
        if name not in known:
            db.session.add(HandlingUnit(name=name, kind=kind, area_id=areas.get(area_code) if area_code else None))
            new_units += 1
    db.session.flush()
    return {"incident categories added": added, "handling units added": new_units}
