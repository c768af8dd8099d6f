"""care meals: daily meal plans (助餐/送餐) — canteen meal routes with their daily capacity, plans, pauses, the
shortage list; one live meal order per elder, day and meal (uq_care_orders_elder_day_meal, cancelled orders
excluded) replaces 0017's plan-only index, so a paused day's cancelled order frees the day for a resumed plan

Revision ID: 0018_care_meals
Revises: 0017_care
Create Date: 2026-12-03
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op


revision = "0018_care_meals"
down_revision = "0017_care"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "care_meal_routes",
        sa.Column("canteen_id", sa.Uuid(), nullable=False),
        sa.Column("service_id", sa.Uuid(), nullable=False),
        sa.Column("name", sa.String(length=64), nullable=False),
        sa.Column(
            "mode",
            sa.Enum("delivery", "pickup", name="care_meal_route_mode", native_enum=False, create_constraint=True),
            nullable=False,
        ),
        sa.Column("area_id", sa.Uuid(), nullable=False),
        sa.Column("area_path", sa.String(length=255), nullable=False),
        sa.Column("meals", sa.String(length=32), nullable=False),
        sa.Column("daily_capacity", sa.Integer(), nullable=False),
        sa.Column("is_active", sa.Boolean(), server_default=sa.text("true"), nullable=False),
        sa.Column("created_by_id", sa.Uuid(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.CheckConstraint("daily_capacity >= 0", name=op.f("ck_care_meal_routes_capacity_not_negative")),
        sa.ForeignKeyConstraint(
            ["area_id"], ["areas.id"], name=op.f("fk_care_meal_routes_area_id_areas"), ondelete="RESTRICT"
        ),
        sa.ForeignKeyConstraint(
            ["canteen_id"],
            ["care_providers.id"],
            name=op.f("fk_care_meal_routes_canteen_id_care_providers"),
            ondelete="RESTRICT",
        ),
        sa.ForeignKeyConstraint(
            ["created_by_id"], ["users.id"], name=op.f("fk_care_meal_routes_created_by_id_users"), ondelete="SET NULL"
        ),
        sa.ForeignKeyConstraint(
            ["service_id"],
            ["care_services.id"],
            name=op.f("fk_care_meal_routes_service_id_care_services"),
            ondelete="RESTRICT",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_care_meal_routes")),
        sa.UniqueConstraint("canteen_id", "name", name=op.f("uq_care_meal_routes_canteen_id_name")),
    )
    with op.batch_alter_table("care_meal_routes", schema=None) as batch_op:
        batch_op.create_index(
            "ix_care_meal_routes_area_path_id",
            ["area_path", "id"],
            unique=False,
            postgresql_ops={"area_path": "varchar_pattern_ops"},
        )
        batch_op.create_index(batch_op.f("ix_care_meal_routes_canteen_id"), ["canteen_id"], unique=False)

    op.create_table(
        "care_meal_plans",
        sa.Column("elder_id", sa.Uuid(), nullable=False),
        sa.Column("route_id", sa.Uuid(), nullable=False),
        sa.Column(
            "meal",
            sa.Enum("breakfast", "lunch", "dinner", name="care_meal", native_enum=False, create_constraint=True),
            nullable=False,
        ),
        sa.Column(
            "schedule",
            sa.Enum("workdays", "weekdays", name="care_meal_schedule", native_enum=False, create_constraint=True),
            nullable=False,
        ),
        sa.Column("weekdays", sa.String(length=7), nullable=False),
        sa.Column("skip_holidays", sa.Boolean(), server_default=sa.text("true"), nullable=False),
        sa.Column("starts_on", sa.Date(), nullable=False),
        sa.Column("ends_on", sa.Date(), nullable=True),
        sa.Column(
            "status",
            sa.Enum("active", "ended", name="care_meal_plan_status", native_enum=False, create_constraint=True),
            nullable=False,
        ),
        sa.Column("note", sa.String(length=200), nullable=False),
        sa.Column("area_path", sa.String(length=255), nullable=False),
        sa.Column("ordered_by_id", sa.Uuid(), nullable=True),
        sa.Column(
            "channel",
            sa.Enum("self", "family", "staff_phone", name="care_channel", native_enum=False, create_constraint=True),
            nullable=False,
        ),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("ended_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("ended_by_id", sa.Uuid(), nullable=True),
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.CheckConstraint("ends_on IS NULL OR ends_on >= starts_on", name=op.f("ck_care_meal_plans_ends_after_start")),
        sa.ForeignKeyConstraint(
            ["elder_id"], ["elders.id"], name=op.f("fk_care_meal_plans_elder_id_elders"), ondelete="CASCADE"
        ),
        sa.ForeignKeyConstraint(
            ["ended_by_id"], ["users.id"], name=op.f("fk_care_meal_plans_ended_by_id_users"), ondelete="SET NULL"
        ),
        sa.ForeignKeyConstraint(
            ["ordered_by_id"], ["users.id"], name=op.f("fk_care_meal_plans_ordered_by_id_users"), ondelete="SET NULL"
        ),
        sa.ForeignKeyConstraint(
            ["route_id"],
            ["care_meal_routes.id"],
            name=op.f("fk_care_meal_plans_route_id_care_meal_routes"),
            ondelete="RESTRICT",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_care_meal_plans")),
    )
    with op.batch_alter_table("care_meal_plans", schema=None) as batch_op:
        batch_op.create_index(
            "ix_care_meal_plans_area_path_id",
            ["area_path", "id"],
            unique=False,
            postgresql_ops={"area_path": "varchar_pattern_ops"},
        )
        batch_op.create_index(batch_op.f("ix_care_meal_plans_elder_id"), ["elder_id"], unique=False)
        batch_op.create_index("ix_care_meal_plans_route_id_status", ["route_id", "status"], unique=False)
        batch_op.create_index(
            "uq_care_meal_plans_elder_meal_active",
            ["elder_id", "meal"],
            unique=True,
            postgresql_where=sa.text("status = 'active'"),
            sqlite_where=sa.text("status = 'active'"),
        )

    op.create_table(
        "care_meal_plan_pauses",
        sa.Column("plan_id", sa.Uuid(), nullable=False),
        sa.Column("starts_on", sa.Date(), nullable=False),
        sa.Column("ends_on", sa.Date(), nullable=True),
        sa.Column("reason", sa.String(length=100), nullable=False),
        sa.Column("created_by_id", sa.Uuid(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("resumed_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("resumed_by_id", sa.Uuid(), nullable=True),
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.CheckConstraint(
            "ends_on IS NULL OR ends_on >= starts_on", name=op.f("ck_care_meal_plan_pauses_ends_after_start")
        ),
        sa.ForeignKeyConstraint(
            ["created_by_id"],
            ["users.id"],
            name=op.f("fk_care_meal_plan_pauses_created_by_id_users"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["plan_id"],
            ["care_meal_plans.id"],
            name=op.f("fk_care_meal_plan_pauses_plan_id_care_meal_plans"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["resumed_by_id"],
            ["users.id"],
            name=op.f("fk_care_meal_plan_pauses_resumed_by_id_users"),
            ondelete="SET NULL",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_care_meal_plan_pauses")),
    )
    with op.batch_alter_table("care_meal_plan_pauses", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_care_meal_plan_pauses_plan_id"), ["plan_id"], unique=False)

    op.create_table(
        "care_meal_shortages",
        sa.Column("plan_id", sa.Uuid(), nullable=False),
        sa.Column("route_id", sa.Uuid(), nullable=False),
        sa.Column("elder_id", sa.Uuid(), nullable=False),
        sa.Column("service_date", sa.Date(), nullable=False),
        sa.Column(
            "meal",
            sa.Enum("breakfast", "lunch", "dinner", name="care_meal", native_enum=False, create_constraint=True),
            nullable=False,
        ),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.ForeignKeyConstraint(
            ["elder_id"], ["elders.id"], name=op.f("fk_care_meal_shortages_elder_id_elders"), ondelete="CASCADE"
        ),
        sa.ForeignKeyConstraint(
            ["plan_id"],
            ["care_meal_plans.id"],
            name=op.f("fk_care_meal_shortages_plan_id_care_meal_plans"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["route_id"],
            ["care_meal_routes.id"],
            name=op.f("fk_care_meal_shortages_route_id_care_meal_routes"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_care_meal_shortages")),
        sa.UniqueConstraint("plan_id", "service_date", name=op.f("uq_care_meal_shortages_plan_id_service_date")),
    )
    with op.batch_alter_table("care_meal_shortages", schema=None) as batch_op:
        batch_op.create_index(
            "ix_care_meal_shortages_route_id_service_date", ["route_id", "service_date"], unique=False
        )

    with op.batch_alter_table("care_orders", schema=None) as batch_op:
        batch_op.drop_index(
            "uq_care_orders_plan_meal",
            postgresql_where=sa.text("source = 'plan'"),
            sqlite_where=sa.text("source = 'plan'"),
        )
        batch_op.create_index("ix_care_orders_route_id_service_date", ["route_id", "service_date"], unique=False)
        batch_op.create_index(
            "uq_care_orders_elder_day_meal",
            ["elder_id", "service_date", "meal"],
            unique=True,
            postgresql_where=sa.text("status <> 'cancelled'"),
            sqlite_where=sa.text("status <> 'cancelled'"),
        )


def downgrade() -> None:
    with op.batch_alter_table("care_orders", schema=None) as batch_op:
        batch_op.drop_index(
            "uq_care_orders_elder_day_meal",
            postgresql_where=sa.text("status <> 'cancelled'"),
            sqlite_where=sa.text("status <> 'cancelled'"),
        )
        batch_op.drop_index("ix_care_orders_route_id_service_date")
        batch_op.create_index(
            "uq_care_orders_plan_meal",
            ["elder_id", "service_date", "meal"],
            unique=True,
            postgresql_where=sa.text("source = 'plan'"),
            sqlite_where=sa.text("source = 'plan'"),
        )

    with op.batch_alter_table("care_meal_shortages", schema=None) as batch_op:
        batch_op.drop_index("ix_care_meal_shortages_route_id_service_date")

    op.drop_table("care_meal_shortages")
    with op.batch_alter_table("care_meal_plan_pauses", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_care_meal_plan_pauses_plan_id"))

    op.drop_table("care_meal_plan_pauses")
    with op.batch_alter_table("care_meal_plans", schema=None) as batch_op:
        batch_op.drop_index(
            "uq_care_meal_plans_elder_meal_active",
            postgresql_where=sa.text("status = 'active'"),
            sqlite_where=sa.text("status = 'active'"),
        )
        batch_op.drop_index("ix_care_meal_plans_route_id_status")
        batch_op.drop_index(batch_op.f("ix_care_meal_plans_elder_id"))
        batch_op.drop_index("ix_care_meal_plans_area_path_id", postgresql_ops={"area_path": "varchar_pattern_ops"})

    op.drop_table("care_meal_plans")
    with op.batch_alter_table("care_meal_routes", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_care_meal_routes_canteen_id"))
        batch_op.drop_index("ix_care_meal_routes_area_path_id", postgresql_ops={"area_path": "varchar_pattern_ops"})

    op.drop_table("care_meal_routes")
