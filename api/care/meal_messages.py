"""Message kinds of daily meal plans (see `api.notifications.catalogue`): staff told of a full route, the family
told that a meal could not be arranged."""

from __future__ import annotations

from api.care.messages import MESSAGES as CARE_MESSAGES
from api.notifications.catalogue import MessageKind, Template
from api.notifications.models import Channel

MEAL_MESSAGES: tuple[MessageKind, ...] = (
    MessageKind(
        kind="care_meal_shortage",
        description="Staff: a meal route is full on a day; some plans' meals were not ordered",
        title="助餐线路已满：{route_name} {service_date}",
        body=(
            "「{canteen_name}」{route_name} {service_date} 每日限 {capacity} 份，已满；"
            "{count} 位老人的助餐未能安排，请调整线路容量或联系家属。"
        ),
        page="pages/admin/care/meal-shortages?route_id={route_id}&date={service_date}",
        channels=(),
    ),
    MessageKind(
        kind="care_meal_not_arranged",
        description="The family (or the elder): a planned meal could not be arranged because the route is full",
        title="助餐未能安排：{elder_name} {service_date}",
        body="{elder_name} {service_date} 的{meal_zh}因线路「{route_name}」已满未能安排，社区工作人员会与您联系。",
        page="pages/care/meal-plan?id={plan_id}",
        subscribe=Template(
            "linli-sub-care-meal-not-arranged",
            {"thing1": "{elder_name}", "date2": "{service_date}", "thing3": "{route_name}"},
        ),
        channels=(Channel.SUBSCRIBE,),
    ),
)
# The domain's manifest names one catalogue: care's kinds and these.
MESSAGES: tuple[MessageKind, ...] = (*CARE_MESSAGES, *MEAL_MESSAGES)
