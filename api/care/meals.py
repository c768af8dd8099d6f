"""Daily meal plans' tables (助餐/送餐): the canteens' meal routes with their daily capacity, the plans that order
an elder's meal on a weekday pattern or on the working-day calendar, their pauses (a hospital stay), and the
shortage list of meals a full route could not take.

The orders themselves are care's (`api.care.models.CareOrder`, `source = 'plan'`): this module adds the one
rule that makes a plan run twice harmless — a unique index on care orders over (elder, service day, meal) for
every order that is not cancelled, whoever placed it. A cancelled order (a paused day) frees its day, so a
resumed plan orders it again; a meal ordered by hand blocks the plan's for that day, and the other way round.
"""

from __future__ import annotations

import enum
import uuid
from datetime import date, datetime

from sqlalchemy import CheckConstraint, Date, ForeignKey, Index, String, UniqueConstraint, text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from api.accounts.models import Area
from api.care.models import PATH_OPS, CareOrder, CareProvider, CareService, Channel, Meal
from api.db import Base, IdMixin, enum_column, utcnow
from api.eldercare.models import Elder

# One live order per elder, service day and meal; `INSERT … ON CONFLICT DO NOTHING` of the plan generator names
# this index (its columns and WHERE), so two runs at once create each order once.
LIVE_MEAL_ORDER = "status <> 'cancelled'"
UQ_MEAL_ORDER = Index(
    "uq_care_orders_elder_day_meal",
    CareOrder.__table__.c.elder_id,
    CareOrder.__table__.c.service_date,
    CareOrder.__table__.c.meal,
    unique=True,
    postgresql_where=text(LIVE_MEAL_ORDER),
    sqlite_where=text(LIVE_MEAL_ORDER),
)
# The kitchen's list and the capacity count read orders by route and day.
IX_ROUTE_DAY = Index(
    "ix_care_orders_route_id_service_date",
    CareOrder.__table__.c.route_id,
    CareOrder.__table__.c.service_date,
)


class RouteMode(enum.StrEnum):
    DELIVERY = "delivery"  # 送餐: carried to the door
    PICKUP = "pickup"  # 助餐: eaten at, or fetched from, the canteen


class Schedule(enum.StrEnum):
    WORKDAYS = "workdays"  # the State Council's working days: holidays off, make-up days (调休) worked
    WEEKDAYS = "weekdays"  # fixed weekdays (e.g. Mon–Fri), statutory holidays skipped unless asked otherwise


class PlanStatus(enum.StrEnum):
    ACTIVE = "active"
    ENDED = "ended"


class MealRoute(IdMixin, Base):
    """One canteen's meal route: the committee it serves, the catalogue service its meals are (price, cut-off),
    the meals it carries and how many it can carry a day."""

    __tablename__ = "care_meal_routes"
    __table_args__ = (
        UniqueConstraint("canteen_id", "name"),
        CheckConstraint("daily_capacity >= 0", name="capacity_not_negative"),
        Index("ix_care_meal_routes_area_path_id", "area_path", "id", postgresql_ops=PATH_OPS),
    )

    canteen_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("care_providers.id", ondelete="RESTRICT"), index=True)
    service_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("care_services.id", ondelete="RESTRICT"))
    name: Mapped[str] = mapped_column(String(64))
    mode: Mapped[RouteMode] = mapped_column(enum_column(RouteMode, "care_meal_route_mode"))
    area_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("areas.id", ondelete="RESTRICT"))
    area_path: Mapped[str] = mapped_column(String(255))
    # Meal values ("lunch", "dinner" …) the route carries.
    meals: Mapped[str] = mapped_column(String(32), default="lunch")
    # Meals of one day, all meals together: orders beyond it are not created (a shortage row, staff told).
    daily_capacity: Mapped[int]
    is_active: Mapped[bool] = mapped_column(default=True, server_default=text("true"))
    created_by_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)

    canteen: Mapped[CareProvider] = relationship(lazy="joined", innerjoin=True)
    service: Mapped[CareService] = relationship(lazy="joined", innerjoin=True)
    area: Mapped[Area] = relationship(lazy="joined", innerjoin=True)

    @property
    def meal_list(self) -> list[str]:
        return [m for m in self.meals.split(",") if m]


class MealPlan(IdMixin, Base):
    """An elder's standing order for one meal a day on a route, from `starts_on` (to `ends_on`)."""

    __tablename__ = "care_meal_plans"
    __table_args__ = (
        # One plan in force per elder and meal: a second lunch plan would fight the first over the same orders.
        Index(
            "uq_care_meal_plans_elder_meal_active",
            "elder_id",
            "meal",
            unique=True,
            postgresql_where=text("status = 'active'"),
            sqlite_where=text("status = 'active'"),
        ),
        Index("ix_care_meal_plans_route_id_status", "route_id", "status"),
        Index("ix_care_meal_plans_area_path_id", "area_path", "id", postgresql_ops=PATH_OPS),
        CheckConstraint("ends_on IS NULL OR ends_on >= starts_on", name="ends_after_start"),
    )

    elder_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("elders.id", ondelete="CASCADE"), index=True)
    route_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("care_meal_routes.id", ondelete="RESTRICT"))
    meal: Mapped[Meal] = mapped_column(enum_column(Meal, "care_meal"))
    schedule: Mapped[Schedule] = mapped_column(enum_column(Schedule, "care_meal_schedule"))
    # ISO weekday digits for the weekday pattern ("12345" is Monday–Friday); "" for the working-day calendar.
    weekdays: Mapped[str] = mapped_column(String(7), default="")
    skip_holidays: Mapped[bool] = mapped_column(default=True, server_default=text("true"))
    starts_on: Mapped[date] = mapped_column(Date)
    ends_on: Mapped[date | None] = mapped_column(Date)
    status: Mapped[PlanStatus] = mapped_column(enum_column(PlanStatus, "care_meal_plan_status"))
    note: Mapped[str] = mapped_column(String(200), default="")
    # The elder's building when the plan was made: staff scope.
    area_path: Mapped[str] = mapped_column(String(255))
    ordered_by_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    channel: Mapped[Channel] = mapped_column(enum_column(Channel, "care_channel"))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    ended_at: Mapped[datetime | None]
    ended_by_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))

    elder: Mapped[Elder] = relationship(lazy="joined", innerjoin=True)
    route: Mapped[MealRoute] = relationship(lazy="joined", innerjoin=True)
    pauses: Mapped[list[MealPlanPause]] = relationship(
        back_populates="plan", order_by="MealPlanPause.starts_on", lazy="selectin"
    )


class MealPlanPause(IdMixin, Base):
    """A stretch of days a plan orders nothing (a hospital stay, a visit to the children): `ends_on` None until
    resumed. Kept after resuming, for the record."""

    __tablename__ = "care_meal_plan_pauses"
    __table_args__ = (CheckConstraint("ends_on IS NULL OR ends_on >= starts_on", name="ends_after_start"),)

    plan_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("care_meal_plans.id", ondelete="CASCADE"), index=True)
    starts_on: Mapped[date] = mapped_column(Date)
    ends_on: Mapped[date | None] = mapped_column(Date)
    reason: Mapped[str] = mapped_column(String(100), default="")
    created_by_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    resumed_at: Mapped[datetime | None]
    resumed_by_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))

    plan: Mapped[MealPlan] = relationship(back_populates="pauses")


class MealShortage(IdMixin, Base):
    """A plan's meal a full route could not take on a day: on the route's list for staff (call the family, raise
    the capacity, move the elder to another route). Gone once the meal is ordered after all."""

    __tablename__ = "care_meal_shortages"
    __table_args__ = (
        UniqueConstraint("plan_id", "service_date"),
        Index("ix_care_meal_shortages_route_id_service_date", "route_id", "service_date"),
    )

    plan_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("care_meal_plans.id", ondelete="CASCADE"))
    route_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("care_meal_routes.id", ondelete="CASCADE"))
    elder_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("elders.id", ondelete="CASCADE"))
    service_date: Mapped[date] = mapped_column(Date)
    meal: Mapped[Meal] = mapped_column(enum_column(Meal, "care_meal"))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
