"""care: elderly service orders — providers and workers, the catalogue, care profiles (subsidy flags, 长护险 quota,
service code), subsidy rules, orders with their price snapshot and meal-plan columns, the timeline, ratings,
disputes, return visits and the quota ledger

Revision ID: 0017_care
Revises: 0016_party
Create Date: 2026-12-03
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op


revision = "0017_care"
down_revision = "0016_party"
branch_labels = None
depends_on = None


# time_coin_entries.kind gains the coins spent on an elderly service and given back (VARCHAR(12) stays).
_COIN_KINDS = ("earned", "reversal", "gift_out", "gift_in", "donation_out", "donation_in", "closing_out", "closing_in")
COINS_OLD = sa.Enum(*_COIN_KINDS, name="time_coin_kind", native_enum=False, create_constraint=True)
COINS_NEW = sa.Enum(
    *_COIN_KINDS,
    "spent_out",
    "spent_in",
    "refund_out",
    "refund_in",
    name="time_coin_kind",
    native_enum=False,
    create_constraint=True,
)


def upgrade() -> None:
    with op.batch_alter_table("time_coin_entries", schema=None) as batch_op:
        batch_op.drop_constraint(op.f("ck_time_coin_entries_time_coin_kind"), type_="check")
        batch_op.alter_column("kind", existing_type=sa.String(length=12), type_=COINS_NEW, existing_nullable=False)
    op.create_table(
        "care_providers",
        sa.Column("name", sa.String(length=64), nullable=False),
        sa.Column(
            "kind",
            sa.Enum(
                "provider", "canteen", "volunteers", name="care_delivered_by", native_enum=False, create_constraint=True
            ),
            nullable=False,
        ),
        sa.Column("area_path", sa.String(length=255), nullable=False),
        sa.Column("service_area_paths", sa.JSON(), nullable=False),
        sa.Column("daily_capacity", sa.Integer(), nullable=False),
        sa.Column("contact_name", sa.String(length=32), nullable=False),
        sa.Column("contact_phone", sa.String(length=32), nullable=False),
        sa.Column("is_active", sa.Boolean(), server_default=sa.text("true"), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.CheckConstraint("daily_capacity >= 0", name=op.f("ck_care_providers_capacity_not_negative")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_care_providers")),
        sa.UniqueConstraint("name", name=op.f("uq_care_providers_name")),
    )
    with op.batch_alter_table("care_providers", schema=None) as batch_op:
        batch_op.create_index(
            "ix_care_providers_area_path_id",
            ["area_path", "id"],
            unique=False,
            postgresql_ops={"area_path": "varchar_pattern_ops"},
        )

    op.create_table(
        "care_subsidy_rules",
        sa.Column("name", sa.String(length=64), nullable=False),
        sa.Column("funding_line", sa.String(length=32), nullable=False),
        sa.Column(
            "tier",
            sa.Enum("baodi", "gongyi", "shichang", name="care_funding_tier", native_enum=False, create_constraint=True),
            nullable=False,
        ),
        sa.Column(
            "category",
            sa.Enum(
                "meal_canteen",
                "meal_delivery",
                "bathing",
                "cleaning",
                "escort",
                "rehab",
                "companionship",
                "errand",
                "home_adaptation",
                name="care_category",
                native_enum=False,
                create_constraint=True,
            ),
            nullable=True,
        ),
        sa.Column("min_age", sa.Integer(), nullable=True),
        sa.Column("max_age", sa.Integer(), nullable=True),
        sa.Column("requires_dibao", sa.Boolean(), nullable=False),
        sa.Column("requires_living_alone", sa.Boolean(), nullable=False),
        sa.Column("requires_disabled", sa.Boolean(), nullable=False),
        sa.Column("min_ltc_level", sa.Integer(), nullable=True),
        sa.Column("uses_ltc_quota", sa.Boolean(), nullable=False),
        sa.Column("percent", sa.Integer(), nullable=False),
        sa.Column("amount_fen", sa.Integer(), nullable=False),
        sa.Column("cap_fen", sa.Integer(), nullable=False),
        sa.Column("priority", sa.Integer(), nullable=False),
        sa.Column("area_path", sa.String(length=255), nullable=False),
        sa.Column("is_active", sa.Boolean(), server_default=sa.text("true"), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.CheckConstraint("amount_fen >= 0 AND cap_fen >= 0", name=op.f("ck_care_subsidy_rules_amounts_not_negative")),
        sa.CheckConstraint("percent BETWEEN 0 AND 100", name=op.f("ck_care_subsidy_rules_percent_range")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_care_subsidy_rules")),
    )
    op.create_table(
        "care_services",
        sa.Column("code", sa.String(length=32), nullable=False),
        sa.Column("name", sa.String(length=64), nullable=False),
        sa.Column("description", sa.Text(), nullable=False),
        sa.Column(
            "category",
            sa.Enum(
                "meal_canteen",
                "meal_delivery",
                "bathing",
                "cleaning",
                "escort",
                "rehab",
                "companionship",
                "errand",
                "home_adaptation",
                name="care_category",
                native_enum=False,
                create_constraint=True,
            ),
            nullable=False,
        ),
        sa.Column(
            "unit",
            sa.Enum("per_visit", "per_meal", "per_hour", name="care_unit", native_enum=False, create_constraint=True),
            nullable=False,
        ),
        sa.Column("list_price_fen", sa.Integer(), nullable=False),
        sa.Column("duration_minutes", sa.Integer(), nullable=False),
        sa.Column(
            "delivered_by",
            sa.Enum(
                "provider", "canteen", "volunteers", name="care_delivered_by", native_enum=False, create_constraint=True
            ),
            nullable=False,
        ),
        sa.Column("provider_id", sa.Uuid(), nullable=True),
        sa.Column("area_path", sa.String(length=255), nullable=False),
        sa.Column("covers_area_paths", sa.JSON(), nullable=False),
        sa.Column("lead_time_minutes", sa.Integer(), nullable=False),
        sa.Column("cutoff_days_before", sa.Integer(), nullable=True),
        sa.Column("cutoff_local_time", sa.String(length=5), nullable=True),
        sa.Column(
            "funding_tier",
            sa.Enum("baodi", "gongyi", "shichang", name="care_funding_tier", native_enum=False, create_constraint=True),
            nullable=False,
        ),
        sa.Column("self_pay_allowed", sa.Boolean(), server_default=sa.text("true"), nullable=False),
        sa.Column("coin_redeemable", sa.Boolean(), server_default=sa.text("false"), nullable=False),
        sa.Column("needs_photos", sa.Boolean(), server_default=sa.text("false"), nullable=False),
        sa.Column("hourly_cap_minutes", sa.Integer(), nullable=True),
        sa.Column("is_active", sa.Boolean(), server_default=sa.text("true"), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.CheckConstraint(
            "cutoff_days_before IS NULL OR cutoff_days_before >= 0",
            name=op.f("ck_care_services_cutoff_days_not_negative"),
        ),
        sa.CheckConstraint("duration_minutes > 0", name=op.f("ck_care_services_duration_positive")),
        sa.CheckConstraint("lead_time_minutes >= 0", name=op.f("ck_care_services_lead_time_not_negative")),
        sa.CheckConstraint("list_price_fen >= 0", name=op.f("ck_care_services_price_not_negative")),
        sa.ForeignKeyConstraint(
            ["provider_id"],
            ["care_providers.id"],
            name=op.f("fk_care_services_provider_id_care_providers"),
            ondelete="SET NULL",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_care_services")),
        sa.UniqueConstraint("code", name=op.f("uq_care_services_code")),
    )
    with op.batch_alter_table("care_services", schema=None) as batch_op:
        batch_op.create_index(
            "ix_care_services_area_path_id",
            ["area_path", "id"],
            unique=False,
            postgresql_ops={"area_path": "varchar_pattern_ops"},
        )
        batch_op.create_index(batch_op.f("ix_care_services_category"), ["category"], unique=False)

    op.create_table(
        "care_workers",
        sa.Column("provider_id", sa.Uuid(), nullable=False),
        sa.Column("user_id", sa.Uuid(), nullable=False),
        sa.Column("name", sa.String(length=32), nullable=False),
        sa.Column("skills", sa.JSON(), nullable=False),
        sa.Column("is_active", sa.Boolean(), server_default=sa.text("true"), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.ForeignKeyConstraint(
            ["provider_id"],
            ["care_providers.id"],
            name=op.f("fk_care_workers_provider_id_care_providers"),
            ondelete="RESTRICT",
        ),
        sa.ForeignKeyConstraint(
            ["user_id"], ["users.id"], name=op.f("fk_care_workers_user_id_users"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_care_workers")),
        sa.UniqueConstraint("provider_id", "user_id", name=op.f("uq_care_workers_provider_id_user_id")),
    )
    with op.batch_alter_table("care_workers", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_care_workers_provider_id"), ["provider_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_care_workers_user_id"), ["user_id"], unique=False)

    op.create_table(
        "care_orders",
        sa.Column("service_id", sa.Uuid(), nullable=False),
        sa.Column("elder_id", sa.Uuid(), nullable=False),
        sa.Column("ordered_by_id", sa.Uuid(), nullable=True),
        sa.Column(
            "channel",
            sa.Enum("self", "family", "staff_phone", name="care_channel", native_enum=False, create_constraint=True),
            nullable=False,
        ),
        sa.Column(
            "source",
            sa.Enum("manual", "plan", name="care_source", native_enum=False, create_constraint=True),
            nullable=False,
        ),
        sa.Column(
            "status",
            sa.Enum(
                "submitted",
                "pending_dispatch",
                "offered",
                "accepted",
                "en_route",
                "in_service",
                "service_done",
                "awaiting_confirmation",
                "completed",
                "cancelled",
                "not_delivered",
                "provider_no_show",
                "disputed",
                name="care_order_status",
                native_enum=False,
                create_constraint=True,
            ),
            nullable=False,
        ),
        sa.Column("area_path", sa.String(length=255), nullable=False),
        sa.Column("note", sa.String(length=200), nullable=False),
        sa.Column("window_start", sa.DateTime(timezone=True), nullable=False),
        sa.Column("window_end", sa.DateTime(timezone=True), nullable=False),
        sa.Column("planned_minutes", sa.Integer(), nullable=False),
        sa.Column("actual_minutes", sa.Integer(), nullable=True),
        sa.Column("provider_id", sa.Uuid(), nullable=True),
        sa.Column("worker_id", sa.Uuid(), nullable=True),
        sa.Column("offered_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("offer_expires_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("decline_count", sa.Integer(), server_default=sa.text("0"), nullable=False),
        sa.Column("escalated_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("accepted_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("checkin_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("checkin_lat", sa.Float(), nullable=True),
        sa.Column("checkin_lng", sa.Float(), nullable=True),
        sa.Column("checkout_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("checkout_lat", sa.Float(), nullable=True),
        sa.Column("checkout_lng", sa.Float(), nullable=True),
        sa.Column(
            "proof",
            sa.Enum("code", "staff", name="care_proof", native_enum=False, create_constraint=True),
            nullable=True,
        ),
        sa.Column("photo_ids", sa.JSON(), nullable=False),
        sa.Column("completed_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("confirmed_by_id", sa.Uuid(), nullable=True),
        sa.Column("auto_confirmed", sa.Boolean(), server_default=sa.text("false"), nullable=False),
        sa.Column("list_price_fen", sa.Integer(), nullable=False),
        sa.Column("subsidy_lines", sa.JSON(), nullable=False),
        sa.Column("subsidy_fen", sa.Integer(), nullable=False),
        sa.Column("self_pay_fen", sa.Integer(), nullable=False),
        sa.Column("uses_ltc_quota", sa.Boolean(), server_default=sa.text("false"), nullable=False),
        sa.Column("payment_order_id", sa.Uuid(), nullable=True),
        sa.Column("refunded_fen", sa.Integer(), server_default=sa.text("0"), nullable=False),
        sa.Column("coins_centi", sa.Integer(), server_default=sa.text("0"), nullable=False),
        sa.Column("coins_refunded", sa.Boolean(), server_default=sa.text("false"), nullable=False),
        sa.Column("cancel_reason", sa.String(length=200), nullable=True),
        sa.Column("cancelled_by_id", sa.Uuid(), nullable=True),
        sa.Column("cancelled_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("late_cancel", sa.Boolean(), server_default=sa.text("false"), nullable=False),
        sa.Column(
            "meal",
            sa.Enum("breakfast", "lunch", "dinner", name="care_meal", native_enum=False, create_constraint=True),
            nullable=True,
        ),
        sa.Column("service_date", sa.Date(), nullable=True),
        sa.Column("meal_plan_id", sa.String(length=36), nullable=True),
        sa.Column("route_id", sa.String(length=36), nullable=True),
        sa.Column("redo_of_id", sa.Uuid(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.CheckConstraint(
            "list_price_fen >= 0 AND self_pay_fen >= 0 AND subsidy_fen >= 0",
            name=op.f("ck_care_orders_money_not_negative"),
        ),
        sa.CheckConstraint("window_end > window_start", name=op.f("ck_care_orders_window_ordered")),
        sa.ForeignKeyConstraint(
            ["cancelled_by_id"], ["users.id"], name=op.f("fk_care_orders_cancelled_by_id_users"), ondelete="SET NULL"
        ),
        sa.ForeignKeyConstraint(
            ["confirmed_by_id"], ["users.id"], name=op.f("fk_care_orders_confirmed_by_id_users"), ondelete="SET NULL"
        ),
        sa.ForeignKeyConstraint(
            ["elder_id"], ["elders.id"], name=op.f("fk_care_orders_elder_id_elders"), ondelete="RESTRICT"
        ),
        sa.ForeignKeyConstraint(
            ["ordered_by_id"], ["users.id"], name=op.f("fk_care_orders_ordered_by_id_users"), ondelete="SET NULL"
        ),
        sa.ForeignKeyConstraint(
            ["payment_order_id"],
            ["payment_orders.id"],
            name=op.f("fk_care_orders_payment_order_id_payment_orders"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["provider_id"],
            ["care_providers.id"],
            name=op.f("fk_care_orders_provider_id_care_providers"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["redo_of_id"], ["care_orders.id"], name=op.f("fk_care_orders_redo_of_id_care_orders"), ondelete="SET NULL"
        ),
        sa.ForeignKeyConstraint(
            ["service_id"],
            ["care_services.id"],
            name=op.f("fk_care_orders_service_id_care_services"),
            ondelete="RESTRICT",
        ),
        sa.ForeignKeyConstraint(
            ["worker_id"], ["care_workers.id"], name=op.f("fk_care_orders_worker_id_care_workers"), ondelete="SET NULL"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_care_orders")),
    )
    with op.batch_alter_table("care_orders", schema=None) as batch_op:
        batch_op.create_index(
            "ix_care_orders_area_path_id",
            ["area_path", "id"],
            unique=False,
            postgresql_ops={"area_path": "varchar_pattern_ops"},
        )
        batch_op.create_index("ix_care_orders_elder_id_id", ["elder_id", "id"], unique=False)
        batch_op.create_index(batch_op.f("ix_care_orders_meal_plan_id"), ["meal_plan_id"], unique=False)
        batch_op.create_index("ix_care_orders_ordered_by_id_id", ["ordered_by_id", "id"], unique=False)
        batch_op.create_index("ix_care_orders_provider_id_status", ["provider_id", "status"], unique=False)
        batch_op.create_index(batch_op.f("ix_care_orders_service_id"), ["service_id"], unique=False)
        batch_op.create_index("ix_care_orders_status_window_start", ["status", "window_start"], unique=False)
        batch_op.create_index(batch_op.f("ix_care_orders_worker_id"), ["worker_id"], unique=False)
        batch_op.create_index(
            "uq_care_orders_plan_meal",
            ["elder_id", "service_date", "meal"],
            unique=True,
            postgresql_where=sa.text("source = 'plan'"),
            sqlite_where=sa.text("source = 'plan'"),
        )

    op.create_table(
        "care_profiles",
        sa.Column("elder_id", sa.Uuid(), nullable=False),
        sa.Column("dibao", sa.Boolean(), server_default=sa.text("false"), nullable=False),
        sa.Column("living_alone", sa.Boolean(), server_default=sa.text("false"), nullable=False),
        sa.Column("disabled", sa.Boolean(), server_default=sa.text("false"), nullable=False),
        sa.Column("ltc_level", sa.Integer(), nullable=True),
        sa.Column("ltc_weekly_visits", sa.Integer(), server_default=sa.text("0"), nullable=False),
        sa.Column("service_code", sa.String(length=8), nullable=False),
        sa.Column("proof_by_staff", sa.Boolean(), server_default=sa.text("false"), nullable=False),
        sa.Column("door_notes", sa.String(length=200), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.CheckConstraint(
            "ltc_level IS NULL OR ltc_level BETWEEN 1 AND 6", name=op.f("ck_care_profiles_ltc_level_range")
        ),
        sa.CheckConstraint("ltc_weekly_visits >= 0", name=op.f("ck_care_profiles_ltc_visits_not_negative")),
        sa.ForeignKeyConstraint(
            ["elder_id"], ["elders.id"], name=op.f("fk_care_profiles_elder_id_elders"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_care_profiles")),
        sa.UniqueConstraint("elder_id", name=op.f("uq_care_profiles_elder_id")),
    )
    op.create_table(
        "care_disputes",
        sa.Column("order_id", sa.Uuid(), nullable=False),
        sa.Column("opened_by_id", sa.Uuid(), nullable=True),
        sa.Column("reason", sa.String(length=500), nullable=False),
        sa.Column(
            "status",
            sa.Enum("open", "resolved", name="care_dispute_status", native_enum=False, create_constraint=True),
            nullable=False,
        ),
        sa.Column(
            "outcome",
            sa.Enum("adjust", "void", "redo", name="care_dispute_outcome", native_enum=False, create_constraint=True),
            nullable=True,
        ),
        sa.Column("adjusted_self_pay_fen", sa.Integer(), nullable=True),
        sa.Column("resolution_note", sa.String(length=500), nullable=False),
        sa.Column("resolved_by_id", sa.Uuid(), nullable=True),
        sa.Column("opened_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("resolved_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.ForeignKeyConstraint(
            ["opened_by_id"], ["users.id"], name=op.f("fk_care_disputes_opened_by_id_users"), ondelete="SET NULL"
        ),
        sa.ForeignKeyConstraint(
            ["order_id"], ["care_orders.id"], name=op.f("fk_care_disputes_order_id_care_orders"), ondelete="CASCADE"
        ),
        sa.ForeignKeyConstraint(
            ["resolved_by_id"], ["users.id"], name=op.f("fk_care_disputes_resolved_by_id_users"), ondelete="SET NULL"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_care_disputes")),
    )
    with op.batch_alter_table("care_disputes", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_care_disputes_order_id"), ["order_id"], unique=False)
        batch_op.create_index(
            "uq_care_disputes_open",
            ["order_id"],
            unique=True,
            postgresql_where=sa.text("status = 'open'"),
            sqlite_where=sa.text("status = 'open'"),
        )

    op.create_table(
        "care_order_events",
        sa.Column("order_id", sa.Uuid(), nullable=False),
        sa.Column("seq", sa.Integer(), nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("actor_id", sa.Uuid(), nullable=True),
        sa.Column("action", sa.String(length=32), nullable=False),
        sa.Column("from_status", sa.String(length=24), nullable=True),
        sa.Column("to_status", sa.String(length=24), nullable=True),
        sa.Column("note", sa.String(length=200), nullable=False),
        sa.Column("data", sa.JSON(), nullable=False),
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.ForeignKeyConstraint(
            ["actor_id"], ["users.id"], name=op.f("fk_care_order_events_actor_id_users"), ondelete="SET NULL"
        ),
        sa.ForeignKeyConstraint(
            ["order_id"], ["care_orders.id"], name=op.f("fk_care_order_events_order_id_care_orders"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_care_order_events")),
        sa.UniqueConstraint("order_id", "seq", name=op.f("uq_care_order_events_order_id_seq")),
    )

    op.create_table(
        "care_quota_uses",
        sa.Column("elder_id", sa.Uuid(), nullable=False),
        sa.Column("order_id", sa.Uuid(), nullable=False),
        sa.Column("week", sa.Date(), nullable=False),
        sa.Column(
            "state",
            sa.Enum(
                "reserved", "consumed", "released", name="care_quota_state", native_enum=False, create_constraint=True
            ),
            nullable=False,
        ),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.ForeignKeyConstraint(
            ["elder_id"], ["elders.id"], name=op.f("fk_care_quota_uses_elder_id_elders"), ondelete="CASCADE"
        ),
        sa.ForeignKeyConstraint(
            ["order_id"], ["care_orders.id"], name=op.f("fk_care_quota_uses_order_id_care_orders"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_care_quota_uses")),
        sa.UniqueConstraint("order_id", name=op.f("uq_care_quota_uses_order_id")),
    )
    with op.batch_alter_table("care_quota_uses", schema=None) as batch_op:
        batch_op.create_index("ix_care_quota_uses_elder_id_week", ["elder_id", "week"], unique=False)

    op.create_table(
        "care_ratings",
        sa.Column("order_id", sa.Uuid(), nullable=False),
        sa.Column("by_id", sa.Uuid(), nullable=True),
        sa.Column("overall", sa.Integer(), nullable=False),
        sa.Column("punctuality", sa.Integer(), nullable=False),
        sa.Column("attitude", sa.Integer(), nullable=False),
        sa.Column("comment", sa.String(length=500), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.CheckConstraint(
            "overall BETWEEN 1 AND 5 AND punctuality BETWEEN 1 AND 5 AND attitude BETWEEN 1 AND 5",
            name=op.f("ck_care_ratings_scores_range"),
        ),
        sa.ForeignKeyConstraint(["by_id"], ["users.id"], name=op.f("fk_care_ratings_by_id_users"), ondelete="SET NULL"),
        sa.ForeignKeyConstraint(
            ["order_id"], ["care_orders.id"], name=op.f("fk_care_ratings_order_id_care_orders"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_care_ratings")),
        sa.UniqueConstraint("order_id", name=op.f("uq_care_ratings_order_id")),
    )
    op.create_table(
        "care_return_visits",
        sa.Column("order_id", sa.Uuid(), nullable=False),
        sa.Column("area_path", sa.String(length=255), nullable=False),
        sa.Column(
            "reason",
            sa.Enum("low_score", "sample", name="care_visit_reason", native_enum=False, create_constraint=True),
            nullable=False,
        ),
        sa.Column(
            "status",
            sa.Enum("open", "done", name="care_visit_status", native_enum=False, create_constraint=True),
            nullable=False,
        ),
        sa.Column("outcome", sa.String(length=500), nullable=False),
        sa.Column("done_by_id", sa.Uuid(), nullable=True),
        sa.Column("done_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.ForeignKeyConstraint(
            ["done_by_id"], ["users.id"], name=op.f("fk_care_return_visits_done_by_id_users"), ondelete="SET NULL"
        ),
        sa.ForeignKeyConstraint(
            ["order_id"],
            ["care_orders.id"],
            name=op.f("fk_care_return_visits_order_id_care_orders"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_care_return_visits")),
        sa.UniqueConstraint("order_id", "reason", name=op.f("uq_care_return_visits_order_id_reason")),
    )
    with op.batch_alter_table("care_return_visits", schema=None) as batch_op:
        batch_op.create_index(
            "ix_care_return_visits_area_path_id",
            ["area_path", "id"],
            unique=False,
            postgresql_ops={"area_path": "varchar_pattern_ops"},
        )


def downgrade() -> None:
    # The old CHECK does not know spending: those entries cannot stay (a downgrade loses the care domain anyway).
    op.execute("DELETE FROM time_coin_entries WHERE kind IN ('spent_out', 'spent_in', 'refund_out', 'refund_in')")
    with op.batch_alter_table("time_coin_entries", schema=None) as batch_op:
        batch_op.drop_constraint(op.f("ck_time_coin_entries_time_coin_kind"), type_="check")
        batch_op.alter_column("kind", existing_type=sa.String(length=12), type_=COINS_OLD, existing_nullable=False)

    with op.batch_alter_table("care_return_visits", schema=None) as batch_op:
        batch_op.drop_index("ix_care_return_visits_area_path_id", postgresql_ops={"area_path": "varchar_pattern_ops"})

    op.drop_table("care_return_visits")
    op.drop_table("care_ratings")
    with op.batch_alter_table("care_quota_uses", schema=None) as batch_op:
        batch_op.drop_index("ix_care_quota_uses_elder_id_week")

    op.drop_table("care_quota_uses")
    op.drop_table("care_order_events")
    with op.batch_alter_table("care_disputes", schema=None) as batch_op:
        batch_op.drop_index(
            "uq_care_disputes_open",
            postgresql_where=sa.text("status = 'open'"),
            sqlite_where=sa.text("status = 'open'"),
        )
        batch_op.drop_index(batch_op.f("ix_care_disputes_order_id"))

    op.drop_table("care_disputes")
    op.drop_table("care_profiles")
    with op.batch_alter_table("care_orders", schema=None) as batch_op:
        batch_op.drop_index(
            "uq_care_orders_plan_meal",
            postgresql_where=sa.text("source = 'plan'"),
            sqlite_where=sa.text("source = 'plan'"),
        )
        batch_op.drop_index(batch_op.f("ix_care_orders_worker_id"))
        batch_op.drop_index("ix_care_orders_status_window_start")
        batch_op.drop_index(batch_op.f("ix_care_orders_service_id"))
        batch_op.drop_index("ix_care_orders_provider_id_status")
        batch_op.drop_index("ix_care_orders_ordered_by_id_id")
        batch_op.drop_index(batch_op.f("ix_care_orders_meal_plan_id"))
        batch_op.drop_index("ix_care_orders_elder_id_id")
        batch_op.drop_index("ix_care_orders_area_path_id", postgresql_ops={"area_path": "varchar_pattern_ops"})

    op.drop_table("care_orders")
    with op.batch_alter_table("care_workers", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_care_workers_user_id"))
        batch_op.drop_index(batch_op.f("ix_care_workers_provider_id"))

    op.drop_table("care_workers")
    with op.batch_alter_table("care_services", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_care_services_category"))
        batch_op.drop_index("ix_care_services_area_path_id", postgresql_ops={"area_path": "varchar_pattern_ops"})

    op.drop_table("care_services")
    op.drop_table("care_subsidy_rules")
    with op.batch_alter_table("care_providers", schema=None) as batch_op:
        batch_op.drop_index("ix_care_providers_area_path_id", postgresql_ops={"area_path": "varchar_pattern_ops"})

    op.drop_table("care_providers")
