"""Routes of daily meal plans: residents and families (plans for me and the elders I look after, pause, resume,
end; the routes that reach an elder's home; the working-day calendar) and staff (canteen routes and their daily
capacity, plans of my area, the kitchen's list per route and day with its CSV, the shortage list).
Thin: parse, authorise, call a service, serialise."""

from __future__ import annotations

import csv
import io
import uuid
from datetime import timedelta
from typing import Any

from flask import Response

from api.auth import current_user, login_required, staff_route
from api.care import meal_schemas as schemas
from api.care import meal_services as services
from api.care import routes as care_routes
from api.care.meal_calendar import official_until
from api.care.meals import MealPlan, MealRoute, MealShortage
from api.db import utcnow
from api.extensions import Blueprint
from api.idempotency import idempotent
from api.pagination import page_of, paginate

meals_blp = Blueprint(
    "care-meals", __name__, url_prefix="/api/v1/care", description="助餐/送餐: daily meal plans of elders"
)
my_meals_blp = Blueprint(
    "my-care-meals", __name__, url_prefix="/api/v1/me/care", description="My (and my elders') daily meal plans"
)
admin_meals_blp = Blueprint(
    "admin-care-meals",
    __name__,
    url_prefix="/api/v1/admin/care",
    description="Staff: canteen meal routes, capacity, the kitchen's daily list, shortages",
)


# Residents, families, and staff acting for an elder ------------------------------------------------


@meals_blp.route("/meal-plans", methods=["POST"])
@login_required()
@idempotent
@meals_blp.arguments(schemas.MealPlanArgs)
@meals_blp.response(201, schemas.MealPlanSchema)
@meals_blp.alt_response(403, description="Not the elder, a confirmed family member, or staff of the elder's area")
@meals_blp.alt_response(409, description="A plan for that meal is already in force (`meal_plan_exists`)")
@meals_blp.alt_response(422, description="Bad weekday pattern, dates, unknown route or one not reaching the home")
def create_meal_plan(args: dict[str, Any]) -> Any:
    """A daily meal for an elder on a route: on working days (holidays off, make-up days worked) or on fixed
    weekdays; the first days' orders are placed at once, the beat job keeps ordering a few days ahead."""
    return services.create_plan(current_user(), args, utcnow())


@my_meals_blp.route("/meal-plans", methods=["GET"])
@login_required()
@my_meals_blp.arguments(schemas.MyPlansArgs, location="query")
@my_meals_blp.response(200, page_of(schemas.MealPlanSchema))
def my_meal_plans(args: dict[str, Any]) -> Any:
    """Meal plans of the elders I am or look after (and those I made), newest first."""
    stmt = services.my_plans(current_user(), args["elder_id"], args["status"])
    return paginate(stmt, order_by=(MealPlan.id,), limit=args["limit"], cursor=args["cursor"])


@meals_blp.route("/meal-plans/<uuid:plan_id>", methods=["GET"])
@login_required()
@meals_blp.response(200, schemas.MealPlanSchema)
@meals_blp.alt_response(404, description="No such plan, or not one of my elders'")
def get_meal_plan(plan_id: uuid.UUID) -> Any:
    return services.plan_for(current_user(), plan_id)


@meals_blp.route("/meal-plans/<uuid:plan_id>/pause", methods=["POST"])
@login_required()
@meals_blp.arguments(schemas.PauseArgs)
@meals_blp.response(200, schemas.PlanChangeSchema)
@meals_blp.alt_response(404, description="No such plan, or not one of my elders'")
@meals_blp.alt_response(409, description="Ended, or overlapping another pause")
@meals_blp.alt_response(422, description="Dates in the past or out of order")
def pause_meal_plan(args: dict[str, Any], plan_id: uuid.UUID) -> Any:
    """Pause (a hospital stay): no meals from `starts_on` to `ends_on` (open-ended until resumed); meals already
    ordered for those days and not yet dispatched are cancelled."""
    return services.pause_plan(current_user(), plan_id, args, utcnow())


@meals_blp.route("/meal-plans/<uuid:plan_id>/resume", methods=["POST"])
@login_required()
@meals_blp.arguments(schemas.ResumeArgs)
@meals_blp.response(200, schemas.PlanChangeSchema)
@meals_blp.alt_response(404, description="No such plan, or not one of my elders'")
@meals_blp.alt_response(409, description="Not paused, or ended")
def resume_meal_plan(args: dict[str, Any], plan_id: uuid.UUID) -> Any:
    """Meals again from `on` (default tomorrow); the days ahead are ordered at once."""
    return services.resume_plan(current_user(), plan_id, args, utcnow())


@meals_blp.route("/meal-plans/<uuid:plan_id>/end", methods=["POST"])
@login_required()
@meals_blp.arguments(schemas.EndArgs)
@meals_blp.response(200, schemas.PlanChangeSchema)
@meals_blp.alt_response(404, description="No such plan, or not one of my elders'")
@meals_blp.alt_response(409, description="Already ended")
def end_meal_plan(args: dict[str, Any], plan_id: uuid.UUID) -> Any:
    """The plan's last day (default today); later meals not yet dispatched are cancelled."""
    return services.end_plan(current_user(), plan_id, args, utcnow())


@meals_blp.route("/meal-routes", methods=["GET"])
@login_required()
@meals_blp.arguments(schemas.RoutesForElderArgs, location="query")
@meals_blp.response(200, schemas.MealRouteListSchema)
@meals_blp.alt_response(403, description="Not one of my elders")
def meal_routes_for_elder(args: dict[str, Any]) -> Any:
    """The canteen routes in service that reach the elder's home, with their meals and price."""
    return {"items": services.routes_for_elder(current_user(), args["elder_id"])}


@meals_blp.route("/meal-calendar", methods=["GET"])
@login_required()
@meals_blp.arguments(schemas.CalendarArgs, location="query")
@meals_blp.response(200, schemas.CalendarSchema)
def meal_calendar(args: dict[str, Any]) -> Any:
    """Working days, holidays and make-up workdays (调休) between two dates (at most 93 days), and whether each
    comes from the official calendar or the Monday–Friday fallback of a year not published yet."""
    return {"items": services.calendar(args["start"], args["end"]), "official_until": official_until()}


# Staff ------------------------------------------------------------------------------------------------


@staff_route(admin_meals_blp, "/meal-routes", methods=["POST"])
@admin_meals_blp.arguments(schemas.MealRouteArgs)
@admin_meals_blp.response(201, schemas.MealRouteSchema)
@admin_meals_blp.alt_response(422, description="Unknown canteen, meal service or area, or a duplicate name")
def admin_create_meal_route(args: dict[str, Any]) -> Any:
    """A canteen's meal route in my area, with its meals and daily capacity."""
    return services.create_route(current_user(), args)


@staff_route(admin_meals_blp, "/meal-routes", methods=["GET"])
@admin_meals_blp.arguments(schemas.StaffRouteArgs, location="query")
@admin_meals_blp.response(200, page_of(schemas.MealRouteSchema))
def admin_meal_routes(args: dict[str, Any]) -> Any:
    stmt = services.staff_routes(current_user(), args["canteen_id"])
    return paginate(stmt, order_by=(MealRoute.id,), limit=args["limit"], cursor=args["cursor"])


@staff_route(admin_meals_blp, "/meal-routes/<uuid:route_id>", methods=["PATCH"])
@admin_meals_blp.arguments(schemas.MealRoutePatchArgs)
@admin_meals_blp.response(200, schemas.MealRouteSchema)
@admin_meals_blp.alt_response(422, description="Bad capacity, meals or name")
def admin_update_meal_route(args: dict[str, Any], route_id: uuid.UUID) -> Any:
    """Change capacity, meals, name or service; more room orders the meals on the shortage list at once."""
    return services.update_route(current_user(), route_id, args, utcnow())


def _day(args: dict[str, Any]) -> Any:
    return args["date"] or services.local_today(utcnow()) + timedelta(days=1)


@staff_route(admin_meals_blp, "/meal-routes/<uuid:route_id>/meals", methods=["GET"])
@admin_meals_blp.arguments(schemas.MealListArgs, location="query")
@admin_meals_blp.response(200, schemas.MealListSchema)
def admin_meal_list(args: dict[str, Any], route_id: uuid.UUID) -> Any:
    """The route's meals of a day (default tomorrow): the count, each elder and door, the ones left out."""
    route = services.staff_route(current_user(), route_id)
    return services.meal_list(route, _day(args), args["meal"])


def _safe(value: Any) -> str:
    text = "" if value is None else str(value)
    return "'" + text if text[:1] in ("=", "+", "-", "@", "\t", "\r") else text  # never a formula in Excel


@staff_route(admin_meals_blp, "/meal-routes/<uuid:route_id>/meals.csv", methods=["GET"])
@admin_meals_blp.arguments(schemas.MealListArgs, location="query")
@admin_meals_blp.doc(
    responses={"200": {"description": "the kitchen's list", "content": {"text/csv": {"schema": {"type": "string"}}}}}
)
def admin_meal_list_csv(args: dict[str, Any], route_id: uuid.UUID) -> Any:
    """The same list for the kitchen as CSV (UTF-8 with BOM; amounts in yuan), the left-out meals at the end."""
    route = services.staff_route(current_user(), route_id)
    day = _day(args)
    listing = services.meal_list(route, day, args["meal"])
    out = io.StringIO()
    out.write("\ufeff")
    writer = csv.writer(out)
    writer.writerow((f"{route.canteen.name} {route.name}", day.isoformat(), f"共 {listing['count']} 份"))
    writer.writerow(("序号", "老人", "地址", "餐次", "方式", "状态", "自付(元)", "订单编号"))
    for number, item in enumerate(listing["items"], start=1):
        writer.writerow(
            [
                _safe(v)
                for v in (
                    number,
                    item["elder_name"],
                    item["address"],
                    services.MEAL_ZH[item["meal"]],
                    services.MODE_ZH[route.mode],
                    item["status"].value,
                    f"{item['self_pay_fen'] / 100:.2f}",
                    item["order_id"],
                )
            ]
        )
    for item in listing["shortages"]:
        writer.writerow(
            [
                _safe(v)
                for v in ("未安排", item["elder_name"], item["address"], services.MEAL_ZH[item["meal"]], "", "线路已满")
            ]
        )
    return Response(
        out.getvalue(),
        mimetype="text/csv",
        headers={"Content-Disposition": f'attachment; filename="meals-{day.isoformat()}.csv"'},
    )


@staff_route(admin_meals_blp, "/meal-plans", methods=["GET"])
@admin_meals_blp.arguments(schemas.StaffPlansArgs, location="query")
@admin_meals_blp.response(200, page_of(schemas.MealPlanSchema))
def admin_meal_plans(args: dict[str, Any]) -> Any:
    stmt = services.staff_plans(current_user(), args)
    return paginate(stmt, order_by=(MealPlan.id,), limit=args["limit"], cursor=args["cursor"])


@staff_route(admin_meals_blp, "/meal-shortages", methods=["GET"])
@admin_meals_blp.arguments(schemas.ShortageArgs, location="query")
@admin_meals_blp.response(200, page_of(schemas.ShortageSchema))
def admin_meal_shortages(args: dict[str, Any]) -> Any:
    """Meals a full route could not take, of my area: call the family, raise the capacity, or move the elder."""
    stmt = services.staff_shortages(current_user(), args["date"], args["route_id"])
    return paginate(stmt, order_by=(MealShortage.id,), limit=args["limit"], cursor=args["cursor"])


# The domain's manifest names one routes module: care's blueprints, then the meal plans'.
blueprints = [*care_routes.blueprints, meals_blp, my_meals_blp, admin_meals_blp]
