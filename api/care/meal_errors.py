"""Error codes of daily meal plans: code -> (HTTP status, Chinese message, English message)."""

from __future__ import annotations

from api.care.errors import ERRORS as CARE_ERRORS

MEAL_ERRORS: dict[str, tuple[int, str, str]] = {
    "meal_plan_exists": (
        409,
        "该老人已有进行中的{meal}计划，请先结束或修改",
        "The elder already has a {meal} plan in force; end it first",
    ),
    "meal_plan_ended": (409, "该助餐计划已结束", "This meal plan has ended"),
    "meal_plan_not_paused": (409, "该助餐计划当前没有暂停", "This meal plan is not paused"),
    "meal_plan_paused_overlap": (
        409,
        "暂停时段与已有暂停（{starts_on} 起）重叠",
        "The pause overlaps an existing one (from {starts_on})",
    ),
    "meal_route_inactive": (409, "该助餐线路已停用", "This meal route is no longer in service"),
    "meal_route_full": (
        409,
        "该线路 {day} 的{meal}已满（每日 {capacity} 份）",
        "The route is full on {day} ({capacity} meals a day)",
    ),
}
# The domain's manifest names one catalogue: care's codes and these.
ERRORS: dict[str, tuple[int, str, str]] = {**CARE_ERRORS, **MEAL_ERRORS}
