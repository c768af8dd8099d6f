"""Elderly services' tables (为老服务): the catalogue, providers and their workers, the care-side profile of an
elder (subsidy flags, 长护险 level and weekly quota, the service code read out at the door), subsidy rules,
orders with their price snapshot and append-only timeline, ratings, disputes, return visits (回访) and the
长护险 quota ledger.

An order carries `area_path` (the elder's building, copied when it is placed), the one thing staff scope
(`api.scope`) compares. Money is integer fen; times are UTC; `service_date` is the Asia/Shanghai day a meal
is for. The meal columns (`meal`, `service_date`, `meal_plan_id`, `route_id`, `source`) are written by the
daily meal plans, which place their orders through `api.care.services.place_order`; one plan order per
elder, day and meal is a unique index, so a plan run twice creates nothing twice.
"""

from __future__ import annotations

import enum
import uuid
from datetime import date, datetime
from typing import Any

from sqlalchemy import JSON, CheckConstraint, Date, ForeignKey, Index, String, Text, UniqueConstraint, text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from api.accounts.models import User
from api.db import Base, IdMixin, enum_column, utcnow
from api.eldercare.models import Elder

PATH_OPS = {"area_path": "varchar_pattern_ops"}


class Category(enum.StrEnum):
    MEAL_CANTEEN = "meal_canteen"  # 助餐: eating at the community canteen
    MEAL_DELIVERY = "meal_delivery"  # 送餐
    BATHING = "bathing"  # 助浴
    CLEANING = "cleaning"  # 助洁
    ESCORT = "escort"  # 助医/陪诊
    REHAB = "rehab"  # 上门康复
    COMPANIONSHIP = "companionship"  # 陪聊
    ERRAND = "errand"  # 代买
    HOME_ADAPTATION = "home_adaptation"  # 适老化改造


MEAL_CATEGORIES = frozenset({Category.MEAL_CANTEEN, Category.MEAL_DELIVERY})


class Unit(enum.StrEnum):
    PER_VISIT = "per_visit"
    PER_MEAL = "per_meal"
    PER_HOUR = "per_hour"


class DeliveredBy(enum.StrEnum):
    PROVIDER = "provider"  # a service organisation's workers
    CANTEEN = "canteen"  # the community canteen (its delivery staff are its workers)
    VOLUNTEERS = "volunteers"


class FundingTier(enum.StrEnum):
    BAODI = "baodi"  # 保底: government-paid, eligibility reviewed by staff
    GONGYI = "gongyi"  # 公益: charity, free or a token price
    SHICHANG = "shichang"  # 市场: paid by the elder (subsidies may still apply)


class Channel(enum.StrEnum):
    SELF = "self"  # the elder in the mini-program
    FAMILY = "family"  # a confirmed family member
    STAFF_PHONE = "staff_phone"  # staff on the elder's behalf (a phone call, a visit)


class Source(enum.StrEnum):
    MANUAL = "manual"
    PLAN = "plan"  # created by a daily meal plan


class Meal(enum.StrEnum):
    BREAKFAST = "breakfast"
    LUNCH = "lunch"
    DINNER = "dinner"


class OrderStatus(enum.StrEnum):
    SUBMITTED = "submitted"  # placed; a subsidised (保底) order waits here for the eligibility review
    PENDING_DISPATCH = "pending_dispatch"  # in the pool: staff assign it or a provider's worker grabs it
    OFFERED = "offered"  # offered to one worker until `offer_expires_at`
    ACCEPTED = "accepted"  # a worker took it: quota reserved, self-pay charged
    EN_ROUTE = "en_route"  # optional: the worker set off
    IN_SERVICE = "in_service"  # checked in at the door
    SERVICE_DONE = "service_done"  # checked out
    AWAITING_CONFIRMATION = "awaiting_confirmation"  # the family or elder confirms, or it auto-confirms
    COMPLETED = "completed"
    CANCELLED = "cancelled"
    NOT_DELIVERED = "not_delivered"  # nobody answered the door: the family and staff are told
    PROVIDER_NO_SHOW = "provider_no_show"  # nobody checked in by the window start + grace (then re-dispatched)
    DISPUTED = "disputed"  # the family disputes it; staff adjust, void or redo


class Proof(enum.StrEnum):
    CODE = "code"  # the elder's service code, read out or shown to the family
    STAFF = "staff"  # a staff member confirmed (an elder with neither phone nor card)


class DisputeStatus(enum.StrEnum):
    OPEN = "open"
    RESOLVED = "resolved"


class DisputeOutcome(enum.StrEnum):
    ADJUST = "adjust"  # the price is lowered; the difference refunded
    VOID = "void"  # not counted, fully refunded, quota given back
    REDO = "redo"  # a new order for the same service, free


class VisitReason(enum.StrEnum):
    LOW_SCORE = "low_score"
    SAMPLE = "sample"  # staff sampled a completed order


class VisitStatus(enum.StrEnum):
    OPEN = "open"
    DONE = "done"


class QuotaState(enum.StrEnum):
    RESERVED = "reserved"  # at acceptance
    CONSUMED = "consumed"  # at completion
    RELEASED = "released"  # on cancellation or a void


class CareProvider(IdMixin, Base):
    """A service organisation, the canteen, or a volunteer team, with the committees it serves and how many
    orders a day it can take."""

    __tablename__ = "care_providers"
    __table_args__ = (
        CheckConstraint("daily_capacity >= 0", name="capacity_not_negative"),
        Index("ix_care_providers_area_path_id", "area_path", "id", postgresql_ops=PATH_OPS),
    )

    name: Mapped[str] = mapped_column(String(64), unique=True)
    kind: Mapped[DeliveredBy] = mapped_column(enum_column(DeliveredBy, "care_delivered_by"))
    # The area that registered it (staff scope); `service_area_paths` the committees it serves ([] = all).
    area_path: Mapped[str] = mapped_column(String(255), default="")
    service_area_paths: Mapped[list[str]] = mapped_column(JSON, default=list)
    daily_capacity: Mapped[int] = mapped_column(default=50)
    contact_name: Mapped[str] = mapped_column(String(32), default="")
    contact_phone: Mapped[str] = mapped_column(String(32), default="")
    is_active: Mapped[bool] = mapped_column(default=True, server_default=text("true"))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class CareWorker(IdMixin, Base):
    """A user account working for a provider: they see its pool, grab, check in and out. Being a worker is this
    row, not a global role: it is held per provider and ends when `is_active` is cleared."""

    __tablename__ = "care_workers"
    __table_args__ = (UniqueConstraint("provider_id", "user_id"),)

    provider_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("care_providers.id", ondelete="RESTRICT"), index=True)
    user_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    name: Mapped[str] = mapped_column(String(32))
    skills: Mapped[list[str]] = mapped_column(JSON, default=list)  # Category values
    is_active: Mapped[bool] = mapped_column(default=True, server_default=text("true"))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)

    provider: Mapped[CareProvider] = relationship(lazy="joined", innerjoin=True)
    user: Mapped[User] = relationship(lazy="joined", innerjoin=True)


class CareService(IdMixin, Base):
    """One entry of the catalogue: what it is, its unit and list price, who delivers it, where, and until when
    it can be ordered."""

    __tablename__ = "care_services"
    __table_args__ = (
        CheckConstraint("list_price_fen >= 0", name="price_not_negative"),
        CheckConstraint("duration_minutes > 0", name="duration_positive"),
        CheckConstraint("lead_time_minutes >= 0", name="lead_time_not_negative"),
        CheckConstraint("cutoff_days_before IS NULL OR cutoff_days_before >= 0", name="cutoff_days_not_negative"),
        Index("ix_care_services_area_path_id", "area_path", "id", postgresql_ops=PATH_OPS),
    )

    code: Mapped[str] = mapped_column(String(32), unique=True)
    name: Mapped[str] = mapped_column(String(64))
    description: Mapped[str] = mapped_column(Text, default="")
    category: Mapped[Category] = mapped_column(enum_column(Category, "care_category"), index=True)
    unit: Mapped[Unit] = mapped_column(enum_column(Unit, "care_unit"))
    list_price_fen: Mapped[int]
    duration_minutes: Mapped[int]
    delivered_by: Mapped[DeliveredBy] = mapped_column(enum_column(DeliveredBy, "care_delivered_by"))
    # The provider orders go to by default (None: any provider serving the elder's committee).
    provider_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("care_providers.id", ondelete="SET NULL"))
    # The area whose staff manage it ("" = the whole subdistrict) and the committees it covers ([] = all).
    area_path: Mapped[str] = mapped_column(String(255), default="")
    covers_area_paths: Mapped[list[str]] = mapped_column(JSON, default=list)
    # At least this long between ordering and the window's start.
    lead_time_minutes: Mapped[int] = mapped_column(default=0)
    # Orders for day D close `cutoff_days_before` days earlier at `cutoff_local_time` (Asia/Shanghai, "16:00");
    # both None: only the lead time applies.
    cutoff_days_before: Mapped[int | None]
    cutoff_local_time: Mapped[str | None] = mapped_column(String(5))
    funding_tier: Mapped[FundingTier] = mapped_column(enum_column(FundingTier, "care_funding_tier"))
    # Whether the elder may pay what subsidies do not cover (保底 services usually not).
    self_pay_allowed: Mapped[bool] = mapped_column(default=True, server_default=text("true"))
    coin_redeemable: Mapped[bool] = mapped_column(default=False, server_default=text("false"))
    needs_photos: Mapped[bool] = mapped_column(default=False, server_default=text("false"))
    # Per-hour services: the most minutes charged whatever the actual time.
    hourly_cap_minutes: Mapped[int | None]
    is_active: Mapped[bool] = mapped_column(default=True, server_default=text("true"))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)

    provider: Mapped[CareProvider | None] = relationship(lazy="joined")


class CareProfile(IdMixin, Base):
    """What care needs to know of an elder beyond eldercare's profile: the statuses subsidies depend on
    (低保, 独居, 失能), the 长护险 care level and weekly visit quota, the service code read out at the door,
    and the door notes a worker sees once accepted."""

    __tablename__ = "care_profiles"
    __table_args__ = (
        CheckConstraint("ltc_level IS NULL OR ltc_level BETWEEN 1 AND 6", name="ltc_level_range"),
        CheckConstraint("ltc_weekly_visits >= 0", name="ltc_visits_not_negative"),
    )

    elder_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("elders.id", ondelete="CASCADE"), unique=True)
    dibao: Mapped[bool] = mapped_column(default=False, server_default=text("false"))  # 低保
    living_alone: Mapped[bool] = mapped_column(default=False, server_default=text("false"))  # 独居
    disabled: Mapped[bool] = mapped_column(default=False, server_default=text("false"))  # 失能
    ltc_level: Mapped[int | None]  # 长护险评估等级
    ltc_weekly_visits: Mapped[int] = mapped_column(default=0, server_default=text("0"))
    # Read out by the elder (printed card) or shown to the family; a worker needs it to check in.
    service_code: Mapped[str] = mapped_column(String(8))
    # No phone, no card, no family: staff confirm each visit instead of a code.
    proof_by_staff: Mapped[bool] = mapped_column(default=False, server_default=text("false"))
    door_notes: Mapped[str] = mapped_column(String(200), default="")
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)

    elder: Mapped[Elder] = relationship(lazy="joined", innerjoin=True)


class SubsidyRule(IdMixin, Base):
    """One funding line applied automatically to an order when the elder and the service match: a share
    (`percent`) or a fixed amount, capped per order; a 长护险 rule counts against the weekly quota."""

    __tablename__ = "care_subsidy_rules"
    __table_args__ = (
        CheckConstraint("percent BETWEEN 0 AND 100", name="percent_range"),
        CheckConstraint("amount_fen >= 0 AND cap_fen >= 0", name="amounts_not_negative"),
    )

    name: Mapped[str] = mapped_column(String(64))
    funding_line: Mapped[str] = mapped_column(String(32))  # 街道养老补贴, 长护险, 慈善基金 …
    tier: Mapped[FundingTier] = mapped_column(enum_column(FundingTier, "care_funding_tier"))
    category: Mapped[Category | None] = mapped_column(enum_column(Category, "care_category"))
    min_age: Mapped[int | None]
    max_age: Mapped[int | None]
    requires_dibao: Mapped[bool] = mapped_column(default=False)
    requires_living_alone: Mapped[bool] = mapped_column(default=False)
    requires_disabled: Mapped[bool] = mapped_column(default=False)
    min_ltc_level: Mapped[int | None]
    uses_ltc_quota: Mapped[bool] = mapped_column(default=False)
    percent: Mapped[int] = mapped_column(default=0)
    amount_fen: Mapped[int] = mapped_column(default=0)
    cap_fen: Mapped[int] = mapped_column(default=0)  # 0: no cap
    priority: Mapped[int] = mapped_column(default=100)  # lower applies first
    area_path: Mapped[str] = mapped_column(String(255), default="")
    is_active: Mapped[bool] = mapped_column(default=True, server_default=text("true"))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class CareOrder(IdMixin, Base):
    """One service for one elder at one time, who ordered it for whom, its price snapshot and what happened."""

    __tablename__ = "care_orders"
    __table_args__ = (
        CheckConstraint("window_end > window_start", name="window_ordered"),
        CheckConstraint("list_price_fen >= 0 AND self_pay_fen >= 0 AND subsidy_fen >= 0", name="money_not_negative"),
        Index("ix_care_orders_area_path_id", "area_path", "id", postgresql_ops=PATH_OPS),
        Index("ix_care_orders_status_window_start", "status", "window_start"),
        Index("ix_care_orders_elder_id_id", "elder_id", "id"),
        Index("ix_care_orders_ordered_by_id_id", "ordered_by_id", "id"),
        Index("ix_care_orders_provider_id_status", "provider_id", "status"),
        # One live meal per elder, day and meal: `uq_care_orders_elder_day_meal` (api.care.meals, 0018).
    )

    service_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("care_services.id", ondelete="RESTRICT"), index=True)
    elder_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("elders.id", ondelete="RESTRICT"))
    # Who ordered (None: a meal plan's beat run, or an account since erased); the order is for `elder_id`.
    ordered_by_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    channel: Mapped[Channel] = mapped_column(enum_column(Channel, "care_channel"))
    source: Mapped[Source] = mapped_column(enum_column(Source, "care_source"), default=Source.MANUAL)
    status: Mapped[OrderStatus] = mapped_column(enum_column(OrderStatus, "care_order_status"))
    area_path: Mapped[str] = mapped_column(String(255))
    note: Mapped[str] = mapped_column(String(200), default="")

    window_start: Mapped[datetime]
    window_end: Mapped[datetime]
    planned_minutes: Mapped[int]
    actual_minutes: Mapped[int | None]

    # Dispatch
    provider_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("care_providers.id", ondelete="SET NULL"))
    worker_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("care_workers.id", ondelete="SET NULL"), index=True)
    offered_at: Mapped[datetime | None]
    offer_expires_at: Mapped[datetime | None]
    decline_count: Mapped[int] = mapped_column(default=0, server_default=text("0"))
    escalated_at: Mapped[datetime | None]  # handed to staff after too many declines or time-outs
    accepted_at: Mapped[datetime | None]

    # Proof of service
    checkin_at: Mapped[datetime | None]
    checkin_lat: Mapped[float | None]
    checkin_lng: Mapped[float | None]
    checkout_at: Mapped[datetime | None]
    checkout_lat: Mapped[float | None]
    checkout_lng: Mapped[float | None]
    proof: Mapped[Proof | None] = mapped_column(enum_column(Proof, "care_proof"))
    photo_ids: Mapped[list[str]] = mapped_column(JSON, default=list)
    completed_at: Mapped[datetime | None]
    confirmed_by_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    auto_confirmed: Mapped[bool] = mapped_column(default=False, server_default=text("false"))

    # Price snapshot, taken when the order is placed (and re-taken for per-hour services at check-out):
    # [{"rule_id", "funding_line", "amount_fen", "uses_ltc_quota"}].
    list_price_fen: Mapped[int]
    subsidy_lines: Mapped[list[dict[str, Any]]] = mapped_column(JSON, default=list)
    subsidy_fen: Mapped[int] = mapped_column(default=0)
    self_pay_fen: Mapped[int]
    uses_ltc_quota: Mapped[bool] = mapped_column(default=False, server_default=text("false"))
    payment_order_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("payment_orders.id", ondelete="SET NULL"))
    refunded_fen: Mapped[int] = mapped_column(default=0, server_default=text("0"))
    # The elder's share paid in time coins instead (hundredths of a coin, api/volunteers ledger), and whether
    # they were given back.
    coins_centi: Mapped[int] = mapped_column(default=0, server_default=text("0"))
    coins_refunded: Mapped[bool] = mapped_column(default=False, server_default=text("false"))

    cancel_reason: Mapped[str | None] = mapped_column(String(200))
    cancelled_by_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    cancelled_at: Mapped[datetime | None]
    late_cancel: Mapped[bool] = mapped_column(default=False, server_default=text("false"))

    # Nobody at the door: the family is told at once and staff at `welfare_staff_due_at` unless someone of the
    # family reports the elder reached and safe first (staff at once when there is no family to tell).
    welfare_staff_due_at: Mapped[datetime | None]
    welfare_staff_told_at: Mapped[datetime | None]
    welfare_safe_at: Mapped[datetime | None]
    welfare_safe_by_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    welfare_safe_note: Mapped[str | None] = mapped_column(String(200))

    # Daily meal plans (api.care meal plans): which meal of which local day, from which plan, on which route.
    meal: Mapped[Meal | None] = mapped_column(enum_column(Meal, "care_meal"))
    service_date: Mapped[date | None] = mapped_column(Date)
    meal_plan_id: Mapped[str | None] = mapped_column(String(36), index=True)
    route_id: Mapped[str | None] = mapped_column(String(36))
    # A redo after a dispute points at the order it replaces.
    redo_of_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("care_orders.id", ondelete="SET NULL"))

    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)

    service: Mapped[CareService] = relationship(lazy="joined", innerjoin=True)
    elder: Mapped[Elder] = relationship(lazy="joined", innerjoin=True)
    worker: Mapped[CareWorker | None] = relationship(lazy="joined")
    provider: Mapped[CareProvider | None] = relationship(lazy="joined", foreign_keys=[provider_id])
    events: Mapped[list[CareOrderEvent]] = relationship(viewonly=True, order_by="CareOrderEvent.seq", lazy="select")


class CareOrderEvent(IdMixin, Base):
    """The order's timeline, append-only: every move and every action, who and when."""

    __tablename__ = "care_order_events"
    __table_args__ = (UniqueConstraint("order_id", "seq"),)

    order_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("care_orders.id", ondelete="CASCADE"))
    seq: Mapped[int]  # 1, 2, … per order: the timeline's order even within one millisecond
    at: Mapped[datetime] = mapped_column(default=utcnow)
    actor_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    action: Mapped[str] = mapped_column(String(32))
    from_status: Mapped[str | None] = mapped_column(String(24))
    to_status: Mapped[str | None] = mapped_column(String(24))
    note: Mapped[str] = mapped_column(String(200), default="")
    data: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)


class CareRating(IdMixin, Base):
    __tablename__ = "care_ratings"
    __table_args__ = (
        CheckConstraint(
            "overall BETWEEN 1 AND 5 AND punctuality BETWEEN 1 AND 5 AND attitude BETWEEN 1 AND 5",
            name="scores_range",
        ),
    )

    order_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("care_orders.id", ondelete="CASCADE"), unique=True)
    by_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    overall: Mapped[int]
    punctuality: Mapped[int]
    attitude: Mapped[int]
    comment: Mapped[str] = mapped_column(String(500), default="")
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class CareDispute(IdMixin, Base):
    __tablename__ = "care_disputes"
    __table_args__ = (
        Index(
            "uq_care_disputes_open",
            "order_id",
            unique=True,
            postgresql_where=text("status = 'open'"),
            sqlite_where=text("status = 'open'"),
        ),
    )

    order_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("care_orders.id", ondelete="CASCADE"), index=True)
    opened_by_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    reason: Mapped[str] = mapped_column(String(500))
    status: Mapped[DisputeStatus] = mapped_column(enum_column(DisputeStatus, "care_dispute_status"))
    outcome: Mapped[DisputeOutcome | None] = mapped_column(enum_column(DisputeOutcome, "care_dispute_outcome"))
    adjusted_self_pay_fen: Mapped[int | None]
    resolution_note: Mapped[str] = mapped_column(String(500), default="")
    resolved_by_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    opened_at: Mapped[datetime] = mapped_column(default=utcnow)
    resolved_at: Mapped[datetime | None]


class CareReturnVisit(IdMixin, Base):
    """A staff return visit (回访): after a low score, or an order sampled from the completed ones."""

    __tablename__ = "care_return_visits"
    __table_args__ = (
        UniqueConstraint("order_id", "reason"),
        Index("ix_care_return_visits_area_path_id", "area_path", "id", postgresql_ops=PATH_OPS),
    )

    order_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("care_orders.id", ondelete="CASCADE"))
    area_path: Mapped[str] = mapped_column(String(255))
    reason: Mapped[VisitReason] = mapped_column(enum_column(VisitReason, "care_visit_reason"))
    status: Mapped[VisitStatus] = mapped_column(enum_column(VisitStatus, "care_visit_status"))
    outcome: Mapped[str] = mapped_column(String(500), default="")
    done_by_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    done_at: Mapped[datetime | None]
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class CareQuotaUse(IdMixin, Base):
    """One 长护险 visit counted against an elder's weekly quota: reserved at acceptance, consumed at completion,
    released on cancellation. The week is the Monday (Asia/Shanghai) of the service window."""

    __tablename__ = "care_quota_uses"
    __table_args__ = (Index("ix_care_quota_uses_elder_id_week", "elder_id", "week"),)

    elder_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("elders.id", ondelete="CASCADE"))
    order_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("care_orders.id", ondelete="CASCADE"), unique=True)
    week: Mapped[date] = mapped_column(Date)
    state: Mapped[QuotaState] = mapped_column(enum_column(QuotaState, "care_quota_state"))
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)
