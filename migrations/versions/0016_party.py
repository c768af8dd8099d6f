"""party: organisations, officers, members, meetings and minutes, study, points, announcements, dues, transfers,
working members' registration; the party_officer role

Revision ID: 0016_party
Revises: 0015_parking
Create Date: 2026-12-02
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op


revision = "0016_party"
down_revision = "0015_parking"
branch_labels = None
depends_on = None

# user_roles.role gains 'party_officer' (a member holding a post acts for their organisation): VARCHAR(11) becomes
# VARCHAR(13), with a wider CHECK.
ROLES_OLD = sa.Enum(
    "resident",
    "family",
    "volunteer",
    "staff",
    "admin",
    "grid_worker",
    "supervisor",
    "finance",
    name="role",
    native_enum=False,
    create_constraint=True,
)
ROLES_NEW = sa.Enum(
    "resident",
    "family",
    "volunteer",
    "staff",
    "admin",
    "grid_worker",
    "supervisor",
    "finance",
    "party_officer",
    name="role",
    native_enum=False,
    create_constraint=True,
)


def upgrade() -> None:
    op.create_table(
        "party_orgs",
        sa.Column("code", sa.String(length=32), nullable=False),
        sa.Column("name", sa.String(length=64), nullable=False),
        sa.Column(
            "kind",
            sa.Enum(
                "committee",
                "general_branch",
                "branch",
                "group",
                name="party_org_kind",
                native_enum=False,
                create_constraint=True,
            ),
            nullable=False,
        ),
        sa.Column("parent_id", sa.Uuid(), nullable=True),
        sa.Column("path", sa.String(length=255), nullable=False),
        sa.Column("area_id", sa.Uuid(), nullable=False),
        sa.Column("area_path", sa.String(length=255), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.ForeignKeyConstraint(
            ["area_id"], ["areas.id"], name=op.f("fk_party_orgs_area_id_areas"), ondelete="RESTRICT"
        ),
        sa.ForeignKeyConstraint(
            ["parent_id"], ["party_orgs.id"], name=op.f("fk_party_orgs_parent_id_party_orgs"), ondelete="RESTRICT"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_party_orgs")),
        sa.UniqueConstraint("code", name=op.f("uq_party_orgs_code")),
        sa.UniqueConstraint("path", name=op.f("uq_party_orgs_path")),
    )
    with op.batch_alter_table("party_orgs", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_party_orgs_area_id"), ["area_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_party_orgs_parent_id"), ["parent_id"], unique=False)

    op.create_table(
        "party_announcements",
        sa.Column("org_id", sa.Uuid(), nullable=False),
        sa.Column("title", sa.String(length=100), nullable=False),
        sa.Column("body", sa.Text(), nullable=False),
        sa.Column("published_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("created_by_id", sa.Uuid(), nullable=True),
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.ForeignKeyConstraint(
            ["created_by_id"],
            ["users.id"],
            name=op.f("fk_party_announcements_created_by_id_users"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["org_id"], ["party_orgs.id"], name=op.f("fk_party_announcements_org_id_party_orgs"), ondelete="RESTRICT"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_party_announcements")),
    )
    with op.batch_alter_table("party_announcements", schema=None) as batch_op:
        batch_op.create_index("ix_party_announcements_org_id_id", ["org_id", "id"], unique=False)

    op.create_table(
        "party_dues_rates",
        sa.Column("version", sa.String(length=64), nullable=False),
        sa.Column("effective_from", sa.Date(), nullable=False),
        sa.Column("rules", sa.JSON(), nullable=False),
        sa.Column("created_by_id", sa.Uuid(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.ForeignKeyConstraint(
            ["created_by_id"], ["users.id"], name=op.f("fk_party_dues_rates_created_by_id_users"), ondelete="SET NULL"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_party_dues_rates")),
        sa.UniqueConstraint("effective_from", name=op.f("uq_party_dues_rates_effective_from")),
        sa.UniqueConstraint("version", name=op.f("uq_party_dues_rates_version")),
    )
    op.create_table(
        "party_meetings",
        sa.Column("org_id", sa.Uuid(), nullable=False),
        sa.Column(
            "kind",
            sa.Enum(
                "branch_assembly",
                "branch_committee",
                "group_meeting",
                "party_lecture",
                "theme_day",
                "life_meeting",
                name="party_meeting_kind",
                native_enum=False,
                create_constraint=True,
            ),
            nullable=False,
        ),
        sa.Column("topic", sa.String(length=100), nullable=False),
        sa.Column("place", sa.String(length=100), nullable=False),
        sa.Column("starts_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("ends_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("presenter_name", sa.String(length=32), nullable=False),
        sa.Column("recorder_name", sa.String(length=32), nullable=False),
        sa.Column(
            "status",
            sa.Enum("scheduled", "cancelled", name="party_meeting_status", native_enum=False, create_constraint=True),
            nullable=False,
        ),
        sa.Column("cancel_reason", sa.String(length=200), nullable=True),
        sa.Column("closed_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("created_by_id", sa.Uuid(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.CheckConstraint("ends_at > starts_at", name=op.f("ck_party_meetings_ends_after_start")),
        sa.ForeignKeyConstraint(
            ["created_by_id"], ["users.id"], name=op.f("fk_party_meetings_created_by_id_users"), ondelete="SET NULL"
        ),
        sa.ForeignKeyConstraint(
            ["org_id"], ["party_orgs.id"], name=op.f("fk_party_meetings_org_id_party_orgs"), ondelete="RESTRICT"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_party_meetings")),
    )
    with op.batch_alter_table("party_meetings", schema=None) as batch_op:
        batch_op.create_index("ix_party_meetings_org_id_starts_at", ["org_id", "starts_at"], unique=False)
        batch_op.create_index("ix_party_meetings_starts_at", ["starts_at"], unique=False)

    op.create_table(
        "party_members",
        sa.Column("user_id", sa.Uuid(), nullable=True),
        sa.Column("name", sa.String(length=32), nullable=False),
        sa.Column(
            "category",
            sa.Enum("probationary", "full", name="party_member_category", native_enum=False, create_constraint=True),
            nullable=False,
        ),
        sa.Column("joined_on", sa.Date(), nullable=False),
        sa.Column("full_on", sa.Date(), nullable=True),
        sa.Column("branch_id", sa.Uuid(), nullable=False),
        sa.Column("group_id", sa.Uuid(), nullable=True),
        sa.Column("is_mobile", sa.Boolean(), server_default=sa.text("(false)"), nullable=False),
        sa.Column(
            "status",
            sa.Enum(
                "active",
                "pending",
                "suspended",
                "transferred_out",
                "left",
                "deceased",
                "not_arrived",
                name="party_member_status",
                native_enum=False,
                create_constraint=True,
            ),
            nullable=False,
        ),
        sa.Column("status_changed_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("status_reason", sa.String(length=200), nullable=True),
        sa.Column("dues_standard_fen", sa.Integer(), server_default=sa.text("0"), nullable=False),
        sa.Column("dues_start_month", sa.Date(), nullable=False),
        sa.Column("dues_paid_until", sa.Date(), nullable=True),
        sa.Column("dues_flagged_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("hide_from_rankings", sa.Boolean(), server_default=sa.text("(false)"), nullable=False),
        sa.Column("linked_by_id", sa.Uuid(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.CheckConstraint(
            "full_on IS NULL OR category = 'full'", name=op.f("ck_party_members_full_members_have_a_date")
        ),
        sa.CheckConstraint("dues_standard_fen >= 0", name=op.f("ck_party_members_dues_standard_not_negative")),
        sa.CheckConstraint("full_on IS NULL OR full_on >= joined_on", name=op.f("ck_party_members_full_after_joining")),
        sa.ForeignKeyConstraint(
            ["branch_id"], ["party_orgs.id"], name=op.f("fk_party_members_branch_id_party_orgs"), ondelete="RESTRICT"
        ),
        sa.ForeignKeyConstraint(
            ["group_id"], ["party_orgs.id"], name=op.f("fk_party_members_group_id_party_orgs"), ondelete="RESTRICT"
        ),
        sa.ForeignKeyConstraint(
            ["linked_by_id"], ["users.id"], name=op.f("fk_party_members_linked_by_id_users"), ondelete="SET NULL"
        ),
        sa.ForeignKeyConstraint(
            ["user_id"], ["users.id"], name=op.f("fk_party_members_user_id_users"), ondelete="SET NULL"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_party_members")),
    )
    with op.batch_alter_table("party_members", schema=None) as batch_op:
        batch_op.create_index("ix_party_members_branch_id_status", ["branch_id", "status"], unique=False)
        batch_op.create_index("ix_party_members_group_id", ["group_id"], unique=False)
        batch_op.create_index("ix_party_members_user_id", ["user_id"], unique=False)
        batch_op.create_index(
            "uq_party_members_current_user",
            ["user_id"],
            unique=True,
            postgresql_where=sa.text("status = 'active' OR status = 'pending' OR status = 'suspended'"),
            sqlite_where=sa.text("status = 'active' OR status = 'pending' OR status = 'suspended'"),
        )

    op.create_table(
        "party_point_rules",
        sa.Column(
            "action",
            sa.Enum(
                "meeting_sign_in",
                "study_time",
                "quiz_passed",
                "service_hours",
                "claim",
                name="party_point_action",
                native_enum=False,
                create_constraint=True,
            ),
            nullable=False,
        ),
        sa.Column("points", sa.Integer(), nullable=False),
        sa.Column("unit", sa.Integer(), server_default=sa.text("1"), nullable=False),
        sa.Column(
            "cycle",
            sa.Enum(
                "day", "month", "quarter", "year", name="party_point_cycle", native_enum=False, create_constraint=True
            ),
            nullable=False,
        ),
        sa.Column("cap", sa.Integer(), nullable=False),
        sa.Column("active", sa.Boolean(), server_default=sa.text("(true)"), nullable=False),
        sa.Column("updated_by_id", sa.Uuid(), nullable=True),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint("cap >= 0", name=op.f("ck_party_point_rules_cap_not_negative")),
        sa.CheckConstraint("points > 0", name=op.f("ck_party_point_rules_points_positive")),
        sa.CheckConstraint("unit > 0", name=op.f("ck_party_point_rules_unit_positive")),
        sa.ForeignKeyConstraint(
            ["updated_by_id"], ["users.id"], name=op.f("fk_party_point_rules_updated_by_id_users"), ondelete="SET NULL"
        ),
        sa.PrimaryKeyConstraint("action", name=op.f("pk_party_point_rules")),
    )
    op.create_table(
        "party_quizzes",
        sa.Column("org_id", sa.Uuid(), nullable=False),
        sa.Column("title", sa.String(length=100), nullable=False),
        sa.Column("opens_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("closes_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("time_limit_seconds", sa.Integer(), nullable=False),
        sa.Column("pass_percent", sa.Integer(), nullable=False),
        sa.Column("questions", sa.JSON(), nullable=False),
        sa.Column("created_by_id", sa.Uuid(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.CheckConstraint("closes_at > opens_at", name=op.f("ck_party_quizzes_closes_after_opening")),
        sa.CheckConstraint("pass_percent BETWEEN 0 AND 100", name=op.f("ck_party_quizzes_pass_percent_range")),
        sa.CheckConstraint("time_limit_seconds > 0", name=op.f("ck_party_quizzes_time_limit_positive")),
        sa.ForeignKeyConstraint(
            ["created_by_id"], ["users.id"], name=op.f("fk_party_quizzes_created_by_id_users"), ondelete="SET NULL"
        ),
        sa.ForeignKeyConstraint(
            ["org_id"], ["party_orgs.id"], name=op.f("fk_party_quizzes_org_id_party_orgs"), ondelete="RESTRICT"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_party_quizzes")),
    )
    with op.batch_alter_table("party_quizzes", schema=None) as batch_op:
        batch_op.create_index("ix_party_quizzes_org_id_id", ["org_id", "id"], unique=False)

    op.create_table(
        "party_registrations",
        sa.Column("user_id", sa.Uuid(), nullable=True),
        sa.Column("org_id", sa.Uuid(), nullable=False),
        sa.Column("name", sa.String(length=32), nullable=False),
        sa.Column("workplace_org", sa.String(length=100), nullable=False),
        sa.Column("registered_on", sa.Date(), nullable=False),
        sa.Column(
            "status",
            sa.Enum(
                "submitted",
                "confirmed",
                "rejected",
                "ended",
                name="party_registration_status",
                native_enum=False,
                create_constraint=True,
            ),
            nullable=False,
        ),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("decided_by_id", sa.Uuid(), nullable=True),
        sa.Column("decided_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("reject_reason", sa.String(length=200), nullable=True),
        sa.Column("ended_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.ForeignKeyConstraint(
            ["decided_by_id"],
            ["users.id"],
            name=op.f("fk_party_registrations_decided_by_id_users"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["org_id"], ["party_orgs.id"], name=op.f("fk_party_registrations_org_id_party_orgs"), ondelete="RESTRICT"
        ),
        sa.ForeignKeyConstraint(
            ["user_id"], ["users.id"], name=op.f("fk_party_registrations_user_id_users"), ondelete="SET NULL"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_party_registrations")),
    )
    with op.batch_alter_table("party_registrations", schema=None) as batch_op:
        batch_op.create_index("ix_party_registrations_org_id_id", ["org_id", "id"], unique=False)
        batch_op.create_index("ix_party_registrations_user_id", ["user_id"], unique=False)
        batch_op.create_index(
            "uq_party_registrations_open_user",
            ["user_id"],
            unique=True,
            postgresql_where=sa.text("status = 'submitted' OR status = 'confirmed'"),
            sqlite_where=sa.text("status = 'submitted' OR status = 'confirmed'"),
        )

    op.create_table(
        "party_study_materials",
        sa.Column("org_id", sa.Uuid(), nullable=False),
        sa.Column(
            "kind",
            sa.Enum("article", "video", name="party_material_kind", native_enum=False, create_constraint=True),
            nullable=False,
        ),
        sa.Column("title", sa.String(length=100), nullable=False),
        sa.Column("body", sa.Text(), nullable=False),
        sa.Column("video_url", sa.String(length=500), nullable=True),
        sa.Column("published_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("created_by_id", sa.Uuid(), nullable=True),
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.ForeignKeyConstraint(
            ["created_by_id"],
            ["users.id"],
            name=op.f("fk_party_study_materials_created_by_id_users"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["org_id"], ["party_orgs.id"], name=op.f("fk_party_study_materials_org_id_party_orgs"), ondelete="RESTRICT"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_party_study_materials")),
    )
    with op.batch_alter_table("party_study_materials", schema=None) as batch_op:
        batch_op.create_index("ix_party_study_materials_org_id_id", ["org_id", "id"], unique=False)

    op.create_table(
        "party_announcement_reads",
        sa.Column("announcement_id", sa.Uuid(), nullable=False),
        sa.Column("member_id", sa.Uuid(), nullable=False),
        sa.Column("read_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.ForeignKeyConstraint(
            ["announcement_id"],
            ["party_announcements.id"],
            name=op.f("fk_party_announcement_reads_announcement_id_party_announcements"),
            ondelete="RESTRICT",
        ),
        sa.ForeignKeyConstraint(
            ["member_id"],
            ["party_members.id"],
            name=op.f("fk_party_announcement_reads_member_id_party_members"),
            ondelete="RESTRICT",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_party_announcement_reads")),
        sa.UniqueConstraint(
            "announcement_id", "member_id", name=op.f("uq_party_announcement_reads_announcement_id_member_id")
        ),
    )
    op.create_table(
        "party_attendance",
        sa.Column("meeting_id", sa.Uuid(), nullable=False),
        sa.Column("member_id", sa.Uuid(), nullable=False),
        sa.Column("invited", sa.Boolean(), server_default=sa.text("(false)"), nullable=False),
        sa.Column(
            "status",
            sa.Enum(
                "expected",
                "present",
                "leave",
                "absent",
                name="party_attendance_status",
                native_enum=False,
                create_constraint=True,
            ),
            nullable=False,
        ),
        sa.Column("signed_in_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column(
            "signed_in_via",
            sa.Enum("code", "ticket", "organiser", name="party_sign_in_via", native_enum=False, create_constraint=True),
            nullable=True,
        ),
        sa.Column("signed_in_by_id", sa.Uuid(), nullable=True),
        sa.Column(
            "leave_state",
            sa.Enum(
                "none",
                "requested",
                "approved",
                "refused",
                "cleared",
                name="party_leave_state",
                native_enum=False,
                create_constraint=True,
            ),
            nullable=False,
        ),
        sa.Column("leave_reason", sa.String(length=200), nullable=True),
        sa.Column("leave_requested_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("leave_decided_by_id", sa.Uuid(), nullable=True),
        sa.Column("leave_decided_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("leave_note", sa.String(length=200), nullable=True),
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.CheckConstraint(
            "status <> 'present' OR signed_in_at IS NOT NULL", name=op.f("ck_party_attendance_present_signed_in")
        ),
        sa.ForeignKeyConstraint(
            ["leave_decided_by_id"],
            ["users.id"],
            name=op.f("fk_party_attendance_leave_decided_by_id_users"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["meeting_id"],
            ["party_meetings.id"],
            name=op.f("fk_party_attendance_meeting_id_party_meetings"),
            ondelete="RESTRICT",
        ),
        sa.ForeignKeyConstraint(
            ["member_id"],
            ["party_members.id"],
            name=op.f("fk_party_attendance_member_id_party_members"),
            ondelete="RESTRICT",
        ),
        sa.ForeignKeyConstraint(
            ["signed_in_by_id"],
            ["users.id"],
            name=op.f("fk_party_attendance_signed_in_by_id_users"),
            ondelete="SET NULL",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_party_attendance")),
        sa.UniqueConstraint("meeting_id", "member_id", name=op.f("uq_party_attendance_meeting_id_member_id")),
    )
    with op.batch_alter_table("party_attendance", schema=None) as batch_op:
        batch_op.create_index("ix_party_attendance_member_id_id", ["member_id", "id"], unique=False)

    op.create_table(
        "party_dues_declarations",
        sa.Column("member_id", sa.Uuid(), nullable=False),
        sa.Column("year", sa.Integer(), nullable=False),
        sa.Column(
            "income_kind",
            sa.Enum(
                "wage",
                "pension",
                "student",
                "unemployed",
                "subsistence",
                name="party_income_kind",
                native_enum=False,
                create_constraint=True,
            ),
            nullable=False,
        ),
        sa.Column("base_fen", sa.Integer(), nullable=True),
        sa.Column("rate_id", sa.Uuid(), nullable=False),
        sa.Column("standard_fen", sa.Integer(), nullable=False),
        sa.Column(
            "status",
            sa.Enum(
                "declared",
                "confirmed",
                "rejected",
                name="party_declaration_status",
                native_enum=False,
                create_constraint=True,
            ),
            nullable=False,
        ),
        sa.Column("declared_by_id", sa.Uuid(), nullable=True),
        sa.Column("declared_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("decided_by_id", sa.Uuid(), nullable=True),
        sa.Column("decided_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("reject_reason", sa.String(length=200), nullable=True),
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.CheckConstraint(
            "base_fen IS NULL OR base_fen >= 0", name=op.f("ck_party_dues_declarations_base_not_negative")
        ),
        sa.CheckConstraint("standard_fen > 0", name=op.f("ck_party_dues_declarations_standard_positive")),
        sa.ForeignKeyConstraint(
            ["decided_by_id"],
            ["users.id"],
            name=op.f("fk_party_dues_declarations_decided_by_id_users"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["declared_by_id"],
            ["users.id"],
            name=op.f("fk_party_dues_declarations_declared_by_id_users"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["member_id"],
            ["party_members.id"],
            name=op.f("fk_party_dues_declarations_member_id_party_members"),
            ondelete="RESTRICT",
        ),
        sa.ForeignKeyConstraint(
            ["rate_id"],
            ["party_dues_rates.id"],
            name=op.f("fk_party_dues_declarations_rate_id_party_dues_rates"),
            ondelete="RESTRICT",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_party_dues_declarations")),
    )
    with op.batch_alter_table("party_dues_declarations", schema=None) as batch_op:
        batch_op.create_index("ix_party_dues_declarations_member_id_year", ["member_id", "year"], unique=False)
        batch_op.create_index("ix_party_dues_declarations_status_id", ["status", "id"], unique=False)

    op.create_table(
        "party_dues_payments",
        sa.Column("member_id", sa.Uuid(), nullable=False),
        sa.Column(
            "channel",
            sa.Enum("online", "offline", name="party_dues_channel", native_enum=False, create_constraint=True),
            nullable=False,
        ),
        sa.Column(
            "status",
            sa.Enum(
                "pending", "paid", "closed", name="party_dues_payment_status", native_enum=False, create_constraint=True
            ),
            nullable=False,
        ),
        sa.Column("first_month", sa.Date(), nullable=False),
        sa.Column("last_month", sa.Date(), nullable=False),
        sa.Column("months", sa.Integer(), nullable=False),
        sa.Column("amount_fen", sa.Integer(), nullable=False),
        sa.Column("order_id", sa.Uuid(), nullable=True),
        sa.Column("payer_id", sa.Uuid(), nullable=True),
        sa.Column("paid_by_name", sa.String(length=32), nullable=True),
        sa.Column("recorded_by_id", sa.Uuid(), nullable=True),
        sa.Column("late_reason", sa.String(length=200), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("paid_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("closed_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.CheckConstraint("amount_fen > 0", name=op.f("ck_party_dues_payments_amount_positive")),
        sa.CheckConstraint("last_month >= first_month", name=op.f("ck_party_dues_payments_months_in_order")),
        sa.CheckConstraint("months > 0", name=op.f("ck_party_dues_payments_months_positive")),
        sa.ForeignKeyConstraint(
            ["member_id"],
            ["party_members.id"],
            name=op.f("fk_party_dues_payments_member_id_party_members"),
            ondelete="RESTRICT",
        ),
        sa.ForeignKeyConstraint(
            ["order_id"],
            ["payment_orders.id"],
            name=op.f("fk_party_dues_payments_order_id_payment_orders"),
            ondelete="RESTRICT",
        ),
        sa.ForeignKeyConstraint(
            ["payer_id"], ["users.id"], name=op.f("fk_party_dues_payments_payer_id_users"), ondelete="SET NULL"
        ),
        sa.ForeignKeyConstraint(
            ["recorded_by_id"],
            ["users.id"],
            name=op.f("fk_party_dues_payments_recorded_by_id_users"),
            ondelete="SET NULL",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_party_dues_payments")),
        sa.UniqueConstraint("order_id", name=op.f("uq_party_dues_payments_order_id")),
    )
    with op.batch_alter_table("party_dues_payments", schema=None) as batch_op:
        batch_op.create_index("ix_party_dues_payments_member_id_id", ["member_id", "id"], unique=False)

    op.create_table(
        "party_member_log",
        sa.Column("member_id", sa.Uuid(), nullable=False),
        sa.Column("kind", sa.String(length=32), nullable=False),
        sa.Column("data", sa.JSON(), nullable=False),
        sa.Column("actor_id", sa.Uuid(), nullable=True),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.ForeignKeyConstraint(
            ["actor_id"], ["users.id"], name=op.f("fk_party_member_log_actor_id_users"), ondelete="SET NULL"
        ),
        sa.ForeignKeyConstraint(
            ["member_id"],
            ["party_members.id"],
            name=op.f("fk_party_member_log_member_id_party_members"),
            ondelete="RESTRICT",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_party_member_log")),
    )
    with op.batch_alter_table("party_member_log", schema=None) as batch_op:
        batch_op.create_index("ix_party_member_log_member_id_id", ["member_id", "id"], unique=False)

    op.create_table(
        "party_minutes",
        sa.Column("meeting_id", sa.Uuid(), nullable=False),
        sa.Column("content", sa.Text(), nullable=False),
        sa.Column("decisions", sa.Text(), nullable=False),
        sa.Column(
            "status",
            sa.Enum(
                "draft",
                "submitted",
                "approved",
                "rejected",
                name="party_minutes_status",
                native_enum=False,
                create_constraint=True,
            ),
            nullable=False,
        ),
        sa.Column("edited_by_id", sa.Uuid(), nullable=True),
        sa.Column("edited_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("submitted_by_id", sa.Uuid(), nullable=True),
        sa.Column("submitted_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("decided_by_id", sa.Uuid(), nullable=True),
        sa.Column("decided_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("reject_reason", sa.String(length=200), nullable=True),
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.ForeignKeyConstraint(
            ["decided_by_id"], ["users.id"], name=op.f("fk_party_minutes_decided_by_id_users"), ondelete="SET NULL"
        ),
        sa.ForeignKeyConstraint(
            ["edited_by_id"], ["users.id"], name=op.f("fk_party_minutes_edited_by_id_users"), ondelete="SET NULL"
        ),
        sa.ForeignKeyConstraint(
            ["meeting_id"],
            ["party_meetings.id"],
            name=op.f("fk_party_minutes_meeting_id_party_meetings"),
            ondelete="RESTRICT",
        ),
        sa.ForeignKeyConstraint(
            ["submitted_by_id"], ["users.id"], name=op.f("fk_party_minutes_submitted_by_id_users"), ondelete="SET NULL"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_party_minutes")),
        sa.UniqueConstraint("meeting_id", name=op.f("uq_party_minutes_meeting_id")),
    )
    op.create_table(
        "party_officers",
        sa.Column("org_id", sa.Uuid(), nullable=False),
        sa.Column("member_id", sa.Uuid(), nullable=False),
        sa.Column(
            "post",
            sa.Enum(
                "secretary",
                "deputy_secretary",
                "organisation",
                "publicity",
                "discipline",
                "committee_member",
                "group_leader",
                name="party_officer_post",
                native_enum=False,
                create_constraint=True,
            ),
            nullable=False,
        ),
        sa.Column("started_on", sa.Date(), nullable=False),
        sa.Column("ended_on", sa.Date(), nullable=True),
        sa.Column("appointed_by_id", sa.Uuid(), nullable=True),
        sa.Column("ended_by_id", sa.Uuid(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.CheckConstraint(
            "ended_on IS NULL OR ended_on >= started_on", name=op.f("ck_party_officers_ends_after_start")
        ),
        sa.ForeignKeyConstraint(
            ["appointed_by_id"], ["users.id"], name=op.f("fk_party_officers_appointed_by_id_users"), ondelete="SET NULL"
        ),
        sa.ForeignKeyConstraint(
            ["ended_by_id"], ["users.id"], name=op.f("fk_party_officers_ended_by_id_users"), ondelete="SET NULL"
        ),
        sa.ForeignKeyConstraint(
            ["member_id"],
            ["party_members.id"],
            name=op.f("fk_party_officers_member_id_party_members"),
            ondelete="RESTRICT",
        ),
        sa.ForeignKeyConstraint(
            ["org_id"], ["party_orgs.id"], name=op.f("fk_party_officers_org_id_party_orgs"), ondelete="RESTRICT"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_party_officers")),
    )
    with op.batch_alter_table("party_officers", schema=None) as batch_op:
        batch_op.create_index("ix_party_officers_member_id", ["member_id"], unique=False)
        batch_op.create_index(
            "uq_party_officers_active_post",
            ["org_id", "member_id", "post"],
            unique=True,
            postgresql_where=sa.text("ended_on IS NULL"),
            sqlite_where=sa.text("ended_on IS NULL"),
        )
        batch_op.create_index(
            "uq_party_officers_one_secretary",
            ["org_id"],
            unique=True,
            postgresql_where=sa.text("post = 'secretary' AND ended_on IS NULL"),
            sqlite_where=sa.text("post = 'secretary' AND ended_on IS NULL"),
        )

    op.create_table(
        "party_point_claims",
        sa.Column("member_id", sa.Uuid(), nullable=False),
        sa.Column("description", sa.Text(), nullable=False),
        sa.Column(
            "status",
            sa.Enum(
                "pending", "approved", "rejected", name="party_claim_status", native_enum=False, create_constraint=True
            ),
            nullable=False,
        ),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("decided_by_id", sa.Uuid(), nullable=True),
        sa.Column("decided_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("reject_reason", sa.String(length=200), nullable=True),
        sa.Column("points_awarded", sa.Integer(), nullable=True),
        sa.Column("award_note", sa.String(length=100), nullable=True),
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.ForeignKeyConstraint(
            ["decided_by_id"], ["users.id"], name=op.f("fk_party_point_claims_decided_by_id_users"), ondelete="SET NULL"
        ),
        sa.ForeignKeyConstraint(
            ["member_id"],
            ["party_members.id"],
            name=op.f("fk_party_point_claims_member_id_party_members"),
            ondelete="RESTRICT",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_party_point_claims")),
    )
    with op.batch_alter_table("party_point_claims", schema=None) as batch_op:
        batch_op.create_index("ix_party_point_claims_member_id_id", ["member_id", "id"], unique=False)

    op.create_table(
        "party_point_tallies",
        sa.Column("member_id", sa.Uuid(), nullable=False),
        sa.Column(
            "action",
            sa.Enum(
                "meeting_sign_in",
                "study_time",
                "quiz_passed",
                "service_hours",
                "claim",
                name="party_point_action",
                native_enum=False,
                create_constraint=True,
            ),
            nullable=False,
        ),
        sa.Column("cycle_key", sa.String(length=16), nullable=False),
        sa.Column("points", sa.Integer(), server_default=sa.text("0"), nullable=False),
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.CheckConstraint("points >= 0", name=op.f("ck_party_point_tallies_points_not_negative")),
        sa.ForeignKeyConstraint(
            ["member_id"],
            ["party_members.id"],
            name=op.f("fk_party_point_tallies_member_id_party_members"),
            ondelete="RESTRICT",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_party_point_tallies")),
        sa.UniqueConstraint(
            "member_id", "action", "cycle_key", name=op.f("uq_party_point_tallies_member_id_action_cycle_key")
        ),
    )
    op.create_table(
        "party_points_ledger",
        sa.Column("member_id", sa.Uuid(), nullable=False),
        sa.Column(
            "action",
            sa.Enum(
                "meeting_sign_in",
                "study_time",
                "quiz_passed",
                "service_hours",
                "claim",
                name="party_point_action",
                native_enum=False,
                create_constraint=True,
            ),
            nullable=False,
        ),
        sa.Column("source", sa.String(length=80), nullable=False),
        sa.Column("points", sa.Integer(), nullable=False),
        sa.Column("units", sa.Integer(), server_default=sa.text("1"), nullable=False),
        sa.Column("cycle_key", sa.String(length=16), nullable=False),
        sa.Column("note", sa.String(length=100), nullable=False),
        sa.Column("awarded_by_id", sa.Uuid(), nullable=True),
        sa.Column("awarded_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.CheckConstraint("points > 0", name=op.f("ck_party_points_ledger_points_positive")),
        sa.ForeignKeyConstraint(
            ["awarded_by_id"],
            ["users.id"],
            name=op.f("fk_party_points_ledger_awarded_by_id_users"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["member_id"],
            ["party_members.id"],
            name=op.f("fk_party_points_ledger_member_id_party_members"),
            ondelete="RESTRICT",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_party_points_ledger")),
        sa.UniqueConstraint(
            "member_id", "action", "source", name=op.f("uq_party_points_ledger_member_id_action_source")
        ),
    )
    with op.batch_alter_table("party_points_ledger", schema=None) as batch_op:
        batch_op.create_index("ix_party_points_ledger_awarded_at", ["awarded_at"], unique=False)
        batch_op.create_index("ix_party_points_ledger_member_id_awarded_at", ["member_id", "awarded_at"], unique=False)

    op.create_table(
        "party_quiz_attempts",
        sa.Column("quiz_id", sa.Uuid(), nullable=False),
        sa.Column("member_id", sa.Uuid(), nullable=False),
        sa.Column("started_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("deadline_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("submitted_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("answers", sa.JSON(), nullable=True),
        sa.Column("score", sa.Integer(), nullable=True),
        sa.Column("max_score", sa.Integer(), nullable=False),
        sa.Column("passed", sa.Boolean(), nullable=True),
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.ForeignKeyConstraint(
            ["member_id"],
            ["party_members.id"],
            name=op.f("fk_party_quiz_attempts_member_id_party_members"),
            ondelete="RESTRICT",
        ),
        sa.ForeignKeyConstraint(
            ["quiz_id"],
            ["party_quizzes.id"],
            name=op.f("fk_party_quiz_attempts_quiz_id_party_quizzes"),
            ondelete="RESTRICT",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_party_quiz_attempts")),
        sa.UniqueConstraint("quiz_id", "member_id", name=op.f("uq_party_quiz_attempts_quiz_id_member_id")),
    )
    op.create_table(
        "party_study_progress",
        sa.Column("member_id", sa.Uuid(), nullable=False),
        sa.Column("material_id", sa.Uuid(), nullable=False),
        sa.Column("seconds_total", sa.Integer(), server_default=sa.text("0"), nullable=False),
        sa.Column("sessions", sa.Integer(), server_default=sa.text("0"), nullable=False),
        sa.Column("session_started_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("session_seconds", sa.Integer(), server_default=sa.text("0"), nullable=False),
        sa.Column("last_beat_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("units_awarded", sa.Integer(), server_default=sa.text("0"), nullable=False),
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.ForeignKeyConstraint(
            ["material_id"],
            ["party_study_materials.id"],
            name=op.f("fk_party_study_progress_material_id_party_study_materials"),
            ondelete="RESTRICT",
        ),
        sa.ForeignKeyConstraint(
            ["member_id"],
            ["party_members.id"],
            name=op.f("fk_party_study_progress_member_id_party_members"),
            ondelete="RESTRICT",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_party_study_progress")),
        sa.UniqueConstraint("member_id", "material_id", name=op.f("uq_party_study_progress_member_id_material_id")),
    )
    op.create_table(
        "party_study_sessions",
        sa.Column("member_id", sa.Uuid(), nullable=False),
        sa.Column("material_id", sa.Uuid(), nullable=False),
        sa.Column("started_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("ended_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("seconds", sa.Integer(), nullable=False),
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.ForeignKeyConstraint(
            ["material_id"],
            ["party_study_materials.id"],
            name=op.f("fk_party_study_sessions_material_id_party_study_materials"),
            ondelete="RESTRICT",
        ),
        sa.ForeignKeyConstraint(
            ["member_id"],
            ["party_members.id"],
            name=op.f("fk_party_study_sessions_member_id_party_members"),
            ondelete="RESTRICT",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_party_study_sessions")),
    )
    with op.batch_alter_table("party_study_sessions", schema=None) as batch_op:
        batch_op.create_index("ix_party_study_sessions_member_id_id", ["member_id", "id"], unique=False)

    op.create_table(
        "party_transfers",
        sa.Column("member_id", sa.Uuid(), nullable=False),
        sa.Column(
            "direction",
            sa.Enum("inside", "out", "in", name="party_transfer_direction", native_enum=False, create_constraint=True),
            nullable=False,
        ),
        sa.Column(
            "reach",
            sa.Enum("in_city", "out_of_city", name="party_transfer_reach", native_enum=False, create_constraint=True),
            nullable=False,
        ),
        sa.Column("from_org_id", sa.Uuid(), nullable=True),
        sa.Column("to_org_id", sa.Uuid(), nullable=True),
        sa.Column("approver_org_id", sa.Uuid(), nullable=False),
        sa.Column("external_org", sa.String(length=100), nullable=True),
        sa.Column("reason", sa.String(length=200), nullable=False),
        sa.Column(
            "status",
            sa.Enum(
                "draft",
                "submitted",
                "returned",
                "confirmed",
                "approved",
                "received",
                "completed",
                "withdrawn",
                "rejected",
                "expired",
                "revoked",
                name="party_transfer_status",
                native_enum=False,
                create_constraint=True,
            ),
            nullable=False,
        ),
        sa.Column("letter_no", sa.String(length=40), nullable=True),
        sa.Column("letter_issued_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("valid_until", sa.DateTime(timezone=True), nullable=True),
        sa.Column("letter_paid_until", sa.Date(), nullable=True),
        sa.Column("created_by_id", sa.Uuid(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("closed_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.ForeignKeyConstraint(
            ["approver_org_id"],
            ["party_orgs.id"],
            name=op.f("fk_party_transfers_approver_org_id_party_orgs"),
            ondelete="RESTRICT",
        ),
        sa.ForeignKeyConstraint(
            ["created_by_id"], ["users.id"], name=op.f("fk_party_transfers_created_by_id_users"), ondelete="SET NULL"
        ),
        sa.ForeignKeyConstraint(
            ["from_org_id"],
            ["party_orgs.id"],
            name=op.f("fk_party_transfers_from_org_id_party_orgs"),
            ondelete="RESTRICT",
        ),
        sa.ForeignKeyConstraint(
            ["member_id"],
            ["party_members.id"],
            name=op.f("fk_party_transfers_member_id_party_members"),
            ondelete="RESTRICT",
        ),
        sa.ForeignKeyConstraint(
            ["to_org_id"], ["party_orgs.id"], name=op.f("fk_party_transfers_to_org_id_party_orgs"), ondelete="RESTRICT"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_party_transfers")),
    )
    with op.batch_alter_table("party_transfers", schema=None) as batch_op:
        batch_op.create_index("ix_party_transfers_member_id_id", ["member_id", "id"], unique=False)
        batch_op.create_index("ix_party_transfers_status_valid_until", ["status", "valid_until"], unique=False)
        batch_op.create_index(
            "uq_party_transfers_open_member",
            ["member_id"],
            unique=True,
            postgresql_where=sa.text(
                "status = 'draft' OR status = 'submitted' OR status = 'returned' OR status = 'confirmed' OR status = 'approved' OR status = 'received'"
            ),
            sqlite_where=sa.text(
                "status = 'draft' OR status = 'submitted' OR status = 'returned' OR status = 'confirmed' OR status = 'approved' OR status = 'received'"
            ),
        )

    op.create_table(
        "party_dues_months",
        sa.Column("member_id", sa.Uuid(), nullable=False),
        sa.Column("month", sa.Date(), nullable=False),
        sa.Column("due_fen", sa.Integer(), nullable=False),
        sa.Column("payment_id", sa.Uuid(), nullable=True),
        sa.Column("paid_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column(
            "channel",
            sa.Enum("online", "offline", name="party_dues_channel", native_enum=False, create_constraint=True),
            nullable=True,
        ),
        sa.Column("late", sa.Boolean(), server_default=sa.text("(false)"), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.CheckConstraint("due_fen > 0", name=op.f("ck_party_dues_months_due_positive")),
        sa.CheckConstraint(
            "paid_at IS NULL OR payment_id IS NOT NULL", name=op.f("ck_party_dues_months_paid_by_a_payment")
        ),
        sa.ForeignKeyConstraint(
            ["member_id"],
            ["party_members.id"],
            name=op.f("fk_party_dues_months_member_id_party_members"),
            ondelete="RESTRICT",
        ),
        sa.ForeignKeyConstraint(
            ["payment_id"],
            ["party_dues_payments.id"],
            name=op.f("fk_party_dues_months_payment_id_party_dues_payments"),
            ondelete="RESTRICT",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_party_dues_months")),
        sa.UniqueConstraint("member_id", "month", name=op.f("uq_party_dues_months_member_id_month")),
    )
    with op.batch_alter_table("party_dues_months", schema=None) as batch_op:
        batch_op.create_index("ix_party_dues_months_payment_id", ["payment_id"], unique=False)

    op.create_table(
        "party_transfer_steps",
        sa.Column("transfer_id", sa.Uuid(), nullable=False),
        sa.Column("action", sa.String(length=16), nullable=False),
        sa.Column("from_status", sa.String(length=16), nullable=True),
        sa.Column("to_status", sa.String(length=16), nullable=False),
        sa.Column("actor_id", sa.Uuid(), nullable=True),
        sa.Column("actor_role", sa.String(length=24), nullable=False),
        sa.Column("actor_org_id", sa.Uuid(), nullable=True),
        sa.Column("remark", sa.String(length=200), nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.ForeignKeyConstraint(
            ["actor_id"], ["users.id"], name=op.f("fk_party_transfer_steps_actor_id_users"), ondelete="SET NULL"
        ),
        sa.ForeignKeyConstraint(
            ["actor_org_id"],
            ["party_orgs.id"],
            name=op.f("fk_party_transfer_steps_actor_org_id_party_orgs"),
            ondelete="RESTRICT",
        ),
        sa.ForeignKeyConstraint(
            ["transfer_id"],
            ["party_transfers.id"],
            name=op.f("fk_party_transfer_steps_transfer_id_party_transfers"),
            ondelete="RESTRICT",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_party_transfer_steps")),
    )
    with op.batch_alter_table("party_transfer_steps", schema=None) as batch_op:
        batch_op.create_index("ix_party_transfer_steps_transfer_id_id", ["transfer_id", "id"], unique=False)

    with op.batch_alter_table("user_roles", schema=None) as batch_op:
        batch_op.drop_constraint(op.f("ck_user_roles_role"), type_="check")
        batch_op.alter_column("role", existing_type=sa.String(length=11), type_=ROLES_NEW, existing_nullable=False)


def downgrade() -> None:
    # The old CHECK does not know 'party_officer': those grants go (the people keep their other roles).
    op.execute("DELETE FROM user_roles WHERE role = 'party_officer'")
    with op.batch_alter_table("user_roles", schema=None) as batch_op:
        batch_op.drop_constraint(op.f("ck_user_roles_role"), type_="check")
        batch_op.alter_column("role", existing_type=sa.String(length=13), type_=ROLES_OLD, existing_nullable=False)

    with op.batch_alter_table("party_transfer_steps", schema=None) as batch_op:
        batch_op.drop_index("ix_party_transfer_steps_transfer_id_id")

    op.drop_table("party_transfer_steps")
    with op.batch_alter_table("party_dues_months", schema=None) as batch_op:
        batch_op.drop_index("ix_party_dues_months_payment_id")

    op.drop_table("party_dues_months")
    with op.batch_alter_table("party_transfers", schema=None) as batch_op:
        batch_op.drop_index(
            "uq_party_transfers_open_member",
            postgresql_where=sa.text(
                "status = 'draft' OR status = 'submitted' OR status = 'returned' OR status = 'confirmed' OR status = 'approved' OR status = 'received'"
            ),
            sqlite_where=sa.text(
                "status = 'draft' OR status = 'submitted' OR status = 'returned' OR status = 'confirmed' OR status = 'approved' OR status = 'received'"
            ),
        )
        batch_op.drop_index("ix_party_transfers_status_valid_until")
        batch_op.drop_index("ix_party_transfers_member_id_id")

    op.drop_table("party_transfers")
    with op.batch_alter_table("party_study_sessions", schema=None) as batch_op:
        batch_op.drop_index("ix_party_study_sessions_member_id_id")

    op.drop_table("party_study_sessions")
    op.drop_table("party_study_progress")
    op.drop_table("party_quiz_attempts")
    with op.batch_alter_table("party_points_ledger", schema=None) as batch_op:
        batch_op.drop_index("ix_party_points_ledger_member_id_awarded_at")
        batch_op.drop_index("ix_party_points_ledger_awarded_at")

    op.drop_table("party_points_ledger")
    op.drop_table("party_point_tallies")
    with op.batch_alter_table("party_point_claims", schema=None) as batch_op:
        batch_op.drop_index("ix_party_point_claims_member_id_id")

    op.drop_table("party_point_claims")
    with op.batch_alter_table("party_officers", schema=None) as batch_op:
        batch_op.drop_index(
            "uq_party_officers_one_secretary",
            postgresql_where=sa.text("post = 'secretary' AND ended_on IS NULL"),
            sqlite_where=sa.text("post = 'secretary' AND ended_on IS NULL"),
        )
        batch_op.drop_index(
            "uq_party_officers_active_post",
            postgresql_where=sa.text("ended_on IS NULL"),
            sqlite_where=sa.text("ended_on IS NULL"),
        )
        batch_op.drop_index("ix_party_officers_member_id")

    op.drop_table("party_officers")
    op.drop_table("party_minutes")
    with op.batch_alter_table("party_member_log", schema=None) as batch_op:
        batch_op.drop_index("ix_party_member_log_member_id_id")

    op.drop_table("party_member_log")
    with op.batch_alter_table("party_dues_payments", schema=None) as batch_op:
        batch_op.drop_index("ix_party_dues_payments_member_id_id")

    op.drop_table("party_dues_payments")
    with op.batch_alter_table("party_dues_declarations", schema=None) as batch_op:
        batch_op.drop_index("ix_party_dues_declarations_status_id")
        batch_op.drop_index("ix_party_dues_declarations_member_id_year")

    op.drop_table("party_dues_declarations")
    with op.batch_alter_table("party_attendance", schema=None) as batch_op:
        batch_op.drop_index("ix_party_attendance_member_id_id")

    op.drop_table("party_attendance")
    op.drop_table("party_announcement_reads")
    with op.batch_alter_table("party_study_materials", schema=None) as batch_op:
        batch_op.drop_index("ix_party_study_materials_org_id_id")

    op.drop_table("party_study_materials")
    with op.batch_alter_table("party_registrations", schema=None) as batch_op:
        batch_op.drop_index(
            "uq_party_registrations_open_user",
            postgresql_where=sa.text("status = 'submitted' OR status = 'confirmed'"),
            sqlite_where=sa.text("status = 'submitted' OR status = 'confirmed'"),
        )
        batch_op.drop_index("ix_party_registrations_user_id")
        batch_op.drop_index("ix_party_registrations_org_id_id")

    op.drop_table("party_registrations")
    with op.batch_alter_table("party_quizzes", schema=None) as batch_op:
        batch_op.drop_index("ix_party_quizzes_org_id_id")

    op.drop_table("party_quizzes")
    op.drop_table("party_point_rules")
    with op.batch_alter_table("party_members", schema=None) as batch_op:
        batch_op.drop_index(
            "uq_party_members_current_user",
            postgresql_where=sa.text("status = 'active' OR status = 'pending' OR status = 'suspended'"),
            sqlite_where=sa.text("status = 'active' OR status = 'pending' OR status = 'suspended'"),
        )
        batch_op.drop_index("ix_party_members_user_id")
        batch_op.drop_index("ix_party_members_group_id")
        batch_op.drop_index("ix_party_members_branch_id_status")

    op.drop_table("party_members")
    with op.batch_alter_table("party_meetings", schema=None) as batch_op:
        batch_op.drop_index("ix_party_meetings_starts_at")
        batch_op.drop_index("ix_party_meetings_org_id_starts_at")

    op.drop_table("party_meetings")
    op.drop_table("party_dues_rates")
    with op.batch_alter_table("party_announcements", schema=None) as batch_op:
        batch_op.drop_index("ix_party_announcements_org_id_id")

    op.drop_table("party_announcements")
    with op.batch_alter_table("party_orgs", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_party_orgs_parent_id"))
        batch_op.drop_index(batch_op.f("ix_party_orgs_area_id"))

    op.drop_table("party_orgs")
