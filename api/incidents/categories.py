"""The default incident category catalogue (两级分类: 大类 / 小类), with handling time limits and photo rules.

`ensure_default_catalogue()` adds what is missing by code and leaves existing rows alone (staff may have
changed a time limit), so `seed-demo` can run it every time. Time limits follow what the subdistrict's
hotline promises: a blocked fire lane within hours, illegal construction within a week.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import select

from api.db import db
from api.incidents.models import IncidentCategory

# (code, name_zh, name_en, [(code, name_zh, name_en, time_limit_hours, photo_required, attributes)])
NOISE_ATTRIBUTES: list[dict[str, Any]] = [
    {
        "code": "time_of_day",
        "datatype": "singlevaluelist",
        "required": True,
        "description": "噪声通常出现的时段 / When the noise usually happens",
        "values": [
            {"key": "day", "name": "白天 (07:00–18:00)"},
            {"key": "evening", "name": "傍晚 (18:00–22:00)"},
            {"key": "night", "name": "夜间 (22:00–07:00)"},
        ],
    },
    {
        "code": "source",
        "datatype": "singlevaluelist",
        "required": False,
        "description": "噪声来源 / Source of the noise",
        "values": [
            {"key": "renovation", "name": "装修施工"},
            {"key": "shop", "name": "商铺经营"},
            {"key": "neighbour", "name": "邻里生活"},
            {"key": "other", "name": "其他"},
        ],
    },
]

DEFAULT_CATALOGUE: list[tuple[str, str, str, list[tuple[str, str, str, int, bool, list[dict[str, Any]]]]]] = [
    (
        "env",
        "市容环境",
        "City appearance",
        [
            ("env.dumping", "偷倒垃圾", "Illegal dumping", 48, True, []),
            ("env.overflowing_bins", "垃圾满溢", "Overflowing rubbish bins", 24, True, []),
            ("env.graffiti", "乱张贴乱涂写", "Posters and graffiti", 72, True, []),
        ],
    ),
    (
        "traffic",
        "交通秩序",
        "Traffic and parking",
        [
            ("traffic.fire_lane", "占用消防通道", "Vehicle blocking a fire lane", 4, True, []),
            ("traffic.road_occupation", "占道停放", "Parking on the road or pavement", 24, True, []),
            ("traffic.bike_clutter", "共享单车乱停放", "Shared bikes left in the way", 24, True, []),
        ],
    ),
    (
        "building",
        "房屋建设",
        "Buildings and construction",
        [
            ("building.illegal_construction", "违法搭建", "Illegal construction", 168, True, []),
            ("building.pipe_leak", "管道漏水", "Leaking pipe", 24, False, []),
            ("building.facade_danger", "外墙脱落隐患", "Loose facade (danger of falling)", 24, True, []),
        ],
    ),
    (
        "facility",
        "公共设施",
        "Public facilities",
        [
            ("facility.street_lamp", "路灯损坏", "Broken street lamp", 72, True, []),
            ("facility.manhole", "窨井盖缺损", "Damaged or missing manhole cover", 12, True, []),
            ("facility.road_damage", "道路破损", "Damaged road surface", 120, True, []),
        ],
    ),
    (
        "nuisance",
        "扰民问题",
        "Nuisance",
        [
            ("nuisance.noise", "噪声扰民", "Noise", 48, False, NOISE_ATTRIBUTES),
            ("nuisance.cooking_fumes", "油烟扰民", "Cooking fumes", 72, False, []),
        ],
    ),
    ("other", "其他", "Other", [("other.other", "其他问题", "Other problem", 72, False, [])]),
]


def ensure_default_catalogue() -> int:
    """Add the default categories that are missing (by code); returns how many were added."""
    existing = {c.code: c for c in db.session.scalars(select(IncidentCategory))}
    added = 0
    for p_index, (code, name_zh, name_en, leaves) in enumerate(DEFAULT_CATALOGUE):
        parent = existing.get(code)
        if parent is None:
            # A parent's time limit is only a default for staff adding leaves under it.
            parent = IncidentCategory(
                code=code, name_zh=name_zh, name_en=name_en, time_limit_hours=72, position=p_index * 100
            )
            db.session.add(parent)
            db.session.flush()
            existing[code] = parent
            added += 1
        for l_index, (leaf_code, leaf_zh, leaf_en, hours, photo, attributes) in enumerate(leaves, start=1):
            if leaf_code in existing:
                continue
            leaf = IncidentCategory(
                code=leaf_code,
                parent_id=parent.id,
                name_zh=leaf_zh,
                name_en=leaf_en,
                time_limit_hours=hours,
                photo_required=photo,
                attributes=attributes,
                position=p_index * 100 + l_index,
            )
            db.session.add(leaf)
            existing[leaf_code] = leaf
            added += 1
    db.session.flush()
    return added
