"""Request and response shapes of daily meal plans: plans (residents and staff), pauses, routes and their
capacity (staff), the kitchen's list per route and day, the shortage list, the working-day calendar."""

from __future__ import annotations

from typing import Any

from marshmallow import Schema, ValidationError, fields, validate, validates_schema

from api.care.meal_calendar import weekdays_problem
from api.care.meals import PlanStatus, RouteMode, Schedule
from api.care.models import Meal, OrderStatus
from api.fields import Date, DateTime, Text
from api.pagination import CursorArgs

FEN = {"description": "integer fen (1 yuan = 100 fen), CNY"}
CALENDAR = {
    "description": "official: the State Council's calendar (chinese-calendar); fallback: a year it does not know yet "
    "— Monday–Friday with only the fixed-date holidays (1 Jan, 1–2 May, 1–3 Oct)"
}


class MealRouteArgs(Schema):
    canteen_id = fields.UUID(required=True, metadata={"description": "a care provider of kind `canteen`"})
    service_id = fields.UUID(required=True, metadata={"description": "the catalogue's meal service (price, cut-off)"})
    name = Text(required=True, validate=validate.Length(min=1, max=64))
    mode = fields.Enum(RouteMode, by_value=True, required=True)
    area_id = fields.UUID(required=True, metadata={"description": "the committee or estate the route serves"})
    meals = fields.List(fields.Enum(Meal, by_value=True), required=True, validate=validate.Length(min=1, max=3))
    daily_capacity = fields.Integer(required=True, validate=validate.Range(min=0, max=10_000))


class MealRoutePatchArgs(Schema):
    name = Text(validate=validate.Length(min=1, max=64))
    meals = fields.List(fields.Enum(Meal, by_value=True), validate=validate.Length(min=1, max=3))
    daily_capacity = fields.Integer(validate=validate.Range(min=0, max=10_000))
    is_active = fields.Boolean()


class MealRouteSchema(Schema):
    id = fields.UUID(required=True)
    canteen_id = fields.UUID(required=True)
    canteen_name = fields.Function(lambda r: r.canteen.name, required=True, metadata={"type": "string"})
    service_id = fields.UUID(required=True)
    service_name = fields.Function(lambda r: r.service.name, required=True, metadata={"type": "string"})
    list_price_fen = fields.Function(
        lambda r: r.service.list_price_fen, required=True, metadata={"type": "integer", **FEN}
    )
    name = Text(required=True)
    mode = fields.Enum(RouteMode, by_value=True, required=True)
    area_id = fields.UUID(required=True)
    area_name = fields.Function(lambda r: r.area.name, required=True, metadata={"type": "string"})
    meals = fields.Function(
        lambda r: r.meal_list, required=True, metadata={"type": "array", "items": {"type": "string"}}
    )
    daily_capacity = fields.Integer(required=True)
    is_active = fields.Boolean(required=True)


class MealRouteListSchema(Schema):
    items = fields.List(fields.Nested(MealRouteSchema), required=True)


class RoutesForElderArgs(Schema):
    elder_id = fields.UUID(required=True)


class StaffRouteArgs(CursorArgs):
    canteen_id = fields.UUID(load_default=None)


def _check_schedule(data: dict[str, Any]) -> None:
    if data.get("schedule") == Schedule.WEEKDAYS:
        problem = weekdays_problem(data.get("weekdays"))
        if problem is not None:
            raise ValidationError({"weekdays": [problem]})
    elif data.get("weekdays"):
        raise ValidationError({"weekdays": ["only with schedule=weekdays"]})
    starts, ends = data.get("starts_on"), data.get("ends_on")
    if starts is not None and ends is not None and ends < starts:
        raise ValidationError({"ends_on": ["on or after starts_on"]})


class MealPlanArgs(Schema):
    elder_id = fields.UUID(required=True)
    route_id = fields.UUID(required=True)
    meal = fields.Enum(Meal, by_value=True, required=True)
    mode = fields.Enum(
        RouteMode, by_value=True, load_default=None, metadata={"description": "checked against the route"}
    )
    schedule = fields.Enum(
        Schedule,
        by_value=True,
        required=True,
        metadata={"description": "workdays: the working-day calendar with 调休; weekdays: the `weekdays` pattern"},
    )
    weekdays = Text(
        load_default=None,
        validate=validate.Length(max=7),
        metadata={"description": "ISO weekday digits, e.g. 12345 for Monday–Friday (schedule=weekdays)"},
    )
    skip_holidays = fields.Boolean(
        load_default=True, metadata={"description": "weekday pattern: no meal on statutory holidays"}
    )
    starts_on = Date(load_default=None, metadata={"description": "default tomorrow"})
    ends_on = Date(load_default=None)
    note = Text(load_default="", validate=validate.Length(max=200))

    @validates_schema
    def _schedule(self, data: dict[str, Any], **_kwargs: Any) -> None:
        _check_schedule(data)


class PauseSchema(Schema):
    id = fields.UUID(required=True)
    starts_on = Date(required=True)
    ends_on = Date(required=True, allow_none=True)
    reason = Text(required=True)
    resumed_at = DateTime(required=True, allow_none=True)


class UpcomingDaySchema(Schema):
    date = Date(required=True)
    calendar = fields.String(required=True, metadata=CALENDAR)


class MealPlanSchema(Schema):
    id = fields.UUID(required=True)
    elder_id = fields.UUID(required=True)
    elder_name = fields.Function(lambda p: p.elder.name, required=True, metadata={"type": "string"})
    route = fields.Nested(MealRouteSchema, required=True)
    meal = fields.Enum(Meal, by_value=True, required=True)
    mode = fields.Function(lambda p: p.route.mode.value, required=True, metadata={"type": "string"})
    schedule = fields.Enum(Schedule, by_value=True, required=True)
    weekdays = Text(required=True)
    skip_holidays = fields.Boolean(required=True)
    starts_on = Date(required=True)
    ends_on = Date(required=True, allow_none=True)
    status = fields.Enum(PlanStatus, by_value=True, required=True)
    note = Text(required=True)
    channel = fields.String(required=True)
    pauses = fields.List(fields.Nested(PauseSchema), required=True)
    upcoming = fields.Method("_upcoming", required=True, metadata={"type": "array", "items": {"type": "object"}})
    created_at = DateTime(required=True)

    def _upcoming(self, plan: Any) -> list[dict[str, Any]]:
        from api.care.meal_services import upcoming
        from api.db import utcnow

        return UpcomingDaySchema(many=True).dump(upcoming(plan, utcnow()))


class PlanOrderSchema(Schema):
    id = fields.UUID(required=True)
    service_date = Date(required=True)
    status = fields.Enum(OrderStatus, by_value=True, required=True)


class PlanChangeSchema(Schema):
    plan = fields.Nested(MealPlanSchema, required=True)
    cancelled_dates = fields.List(Date(), required=True, metadata={"description": "meals cancelled by this change"})
    dispatched_orders = fields.List(
        fields.Nested(PlanOrderSchema),
        required=True,
        metadata={"description": "meals already with the delivery staff: not cancelled, call the canteen"},
    )
    ordered_dates = fields.List(Date(), load_default=list, dump_default=list)


class MyPlansArgs(CursorArgs):
    elder_id = fields.UUID(load_default=None)
    status = fields.Enum(PlanStatus, by_value=True, load_default=None)


class StaffPlansArgs(MyPlansArgs):
    route_id = fields.UUID(load_default=None)


class PauseArgs(Schema):
    starts_on = Date(load_default=None, metadata={"description": "default tomorrow"})
    ends_on = Date(load_default=None, metadata={"description": "the last day away; none: until resumed"})
    reason = Text(load_default="", validate=validate.Length(max=100))

    @validates_schema
    def _order(self, data: dict[str, Any], **_kwargs: Any) -> None:
        if data.get("starts_on") and data.get("ends_on") and data["ends_on"] < data["starts_on"]:
            raise ValidationError({"ends_on": ["on or after starts_on"]})


class ResumeArgs(Schema):
    on = Date(load_default=None, metadata={"description": "the first day with meals again; default tomorrow"})


class EndArgs(Schema):
    last_day = Date(load_default=None, metadata={"description": "the last day with a meal; default today"})


class MealListArgs(Schema):
    date = Date(load_default=None, metadata={"description": "default tomorrow (Asia/Shanghai)"})
    meal = fields.Enum(Meal, by_value=True, load_default=None)


class MealListItemSchema(Schema):
    order_id = fields.UUID(required=True)
    elder_id = fields.UUID(required=True)
    elder_name = Text(required=True)
    address = Text(required=True)
    meal = fields.Enum(Meal, by_value=True, required=True)
    status = fields.Enum(OrderStatus, by_value=True, required=True)
    self_pay_fen = fields.Integer(required=True, metadata=FEN)
    note = Text(required=True)


class ShortageItemSchema(Schema):
    plan_id = fields.UUID(required=True)
    elder_id = fields.UUID(required=True)
    elder_name = Text(required=True)
    address = Text(required=True)
    meal = fields.Enum(Meal, by_value=True, required=True)


class MealListSchema(Schema):
    route = fields.Nested(MealRouteSchema, required=True)
    date = Date(required=True)
    calendar = fields.String(required=True, metadata=CALENDAR)
    holiday = Text(required=True, allow_none=True)
    capacity = fields.Integer(required=True)
    count = fields.Integer(required=True)
    by_meal = fields.Dict(keys=fields.String(), values=fields.Integer(), required=True)
    items = fields.List(fields.Nested(MealListItemSchema), required=True)
    shortages = fields.List(fields.Nested(ShortageItemSchema), required=True)


class ShortageArgs(CursorArgs):
    date = Date(load_default=None)
    route_id = fields.UUID(load_default=None)


class ShortageSchema(Schema):
    id = fields.UUID(required=True)
    plan_id = fields.UUID(required=True)
    route_id = fields.UUID(required=True)
    elder_id = fields.UUID(required=True)
    service_date = Date(required=True)
    meal = fields.Enum(Meal, by_value=True, required=True)
    created_at = DateTime(required=True)


class CalendarArgs(Schema):
    start = Date(required=True, data_key="from")
    end = Date(required=True, data_key="to")

    @validates_schema
    def _span(self, data: dict[str, Any], **_kwargs: Any) -> None:
        if data["end"] < data["start"]:
            raise ValidationError({"to": ["on or after from"]})
        if (data["end"] - data["start"]).days > 92:
            raise ValidationError({"to": ["at most 93 days"]})


class CalendarDaySchema(Schema):
    date = Date(required=True)
    workday = fields.Boolean(required=True)
    holiday = Text(required=True, allow_none=True)
    makeup_workday = fields.Boolean(required=True, metadata={"description": "a weekend day worked (调休)"})
    calendar = fields.String(required=True, metadata=CALENDAR)


class CalendarSchema(Schema):
    items = fields.List(fields.Nested(CalendarDaySchema), required=True)
    official_until = Date(required=True, metadata={"description": "the last day the official calendar covers"})
