"""volunteers: profiles, groups, tasks, sign-ups, hours claims, the two ledgers, certificates; estates on the map

Estates get coordinates (areas.lat/lng, filled for the demo estates by `seed-demo`). On PostgreSQL the two ledgers
refuse UPDATE and DELETE with a trigger: a correction is a reversing entry, never an edit.

Revision ID: 0014_volunteers
Revises: 0013_payments
Create Date: 2026-12-02 17:12:41.936202
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op


revision = '0014_volunteers'
down_revision = '0013_payments'
branch_labels = None
depends_on = None

LEDGERS = ('volunteer_hour_entries', 'time_coin_entries')
APPEND_ONLY = """
CREATE OR REPLACE FUNCTION volunteer_ledger_append_only() RETURNS trigger AS $$
BEGIN
    RAISE EXCEPTION 'the % ledger is append-only: correct it with a reversing entry', TG_TABLE_NAME
        USING ERRCODE = 'restrict_violation';
END;
$$ LANGUAGE plpgsql
"""


def upgrade() -> None:
    op.create_table('volunteer_skills',
    sa.Column('code', sa.String(length=32), nullable=False),
    sa.Column('name', sa.String(length=32), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('retired_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('id', sa.Uuid(), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_volunteer_skills')),
    sa.UniqueConstraint('code', name=op.f('uq_volunteer_skills_code')),
    sa.UniqueConstraint('name', name=op.f('uq_volunteer_skills_name'))
    )
    op.create_table('volunteer_accounts',
    sa.Column('kind', sa.Enum('person', 'pool', name='volunteer_account_kind', native_enum=False, create_constraint=True), nullable=False),
    sa.Column('user_id', sa.Uuid(), nullable=True),
    sa.Column('code', sa.String(length=32), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('closed_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('id', sa.Uuid(), nullable=False),
    sa.ForeignKeyConstraint(['user_id'], ['users.id'], name=op.f('fk_volunteer_accounts_user_id_users'), ondelete='SET NULL'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_volunteer_accounts')),
    sa.UniqueConstraint('code', name=op.f('uq_volunteer_accounts_code')),
    sa.UniqueConstraint('user_id', name=op.f('uq_volunteer_accounts_user_id'))
    )
    op.create_table('volunteer_certificates',
    sa.Column('code', sa.String(length=16), nullable=False),
    sa.Column('user_id', sa.Uuid(), nullable=True),
    sa.Column('holder_name', sa.String(length=32), nullable=False),
    sa.Column('period_from', sa.DateTime(timezone=True), nullable=True),
    sa.Column('period_to', sa.DateTime(timezone=True), nullable=True),
    sa.Column('total_minutes', sa.Integer(), nullable=False),
    sa.Column('lines', sa.JSON(), nullable=False),
    sa.Column('issued_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('id', sa.Uuid(), nullable=False),
    sa.ForeignKeyConstraint(['user_id'], ['users.id'], name=op.f('fk_volunteer_certificates_user_id_users'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_volunteer_certificates')),
    sa.UniqueConstraint('code', name=op.f('uq_volunteer_certificates_code'))
    )
    with op.batch_alter_table('volunteer_certificates', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_volunteer_certificates_user_id'), ['user_id'], unique=False)

    op.create_table('volunteer_groups',
    sa.Column('name', sa.String(length=64), nullable=False),
    sa.Column('description', sa.Text(), nullable=False),
    sa.Column('area_id', sa.Uuid(), nullable=False),
    sa.Column('created_by_id', sa.Uuid(), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('archived_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('id', sa.Uuid(), nullable=False),
    sa.ForeignKeyConstraint(['area_id'], ['areas.id'], name=op.f('fk_volunteer_groups_area_id_areas'), ondelete='RESTRICT'),
    sa.ForeignKeyConstraint(['created_by_id'], ['users.id'], name=op.f('fk_volunteer_groups_created_by_id_users'), ondelete='SET NULL'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_volunteer_groups'))
    )
    with op.batch_alter_table('volunteer_groups', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_volunteer_groups_area_id'), ['area_id'], unique=False)

    op.create_table('volunteer_profiles',
    sa.Column('user_id', sa.Uuid(), nullable=True),
    sa.Column('real_name', sa.String(length=32), nullable=False),
    sa.Column('area_id', sa.Uuid(), nullable=False),
    sa.Column('home_estate_id', sa.Uuid(), nullable=True),
    sa.Column('availability', sa.JSON(), nullable=False),
    sa.Column('status', sa.Enum('pending', 'approved', 'rejected', 'suspended', name='volunteer_profile_status', native_enum=False, create_constraint=True), nullable=False),
    sa.Column('decided_by_id', sa.Uuid(), nullable=True),
    sa.Column('decided_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('reject_reason', sa.String(length=200), nullable=True),
    sa.Column('on_duty', sa.Boolean(), server_default=sa.text('(false)'), nullable=False),
    sa.Column('duty_lat', sa.Float(), nullable=True),
    sa.Column('duty_lng', sa.Float(), nullable=True),
    sa.Column('duty_since', sa.DateTime(timezone=True), nullable=True),
    sa.Column('leaderboard_opt_out', sa.Boolean(), server_default=sa.text('(false)'), nullable=False),
    sa.Column('id', sa.Uuid(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['area_id'], ['areas.id'], name=op.f('fk_volunteer_profiles_area_id_areas'), ondelete='RESTRICT'),
    sa.ForeignKeyConstraint(['decided_by_id'], ['users.id'], name=op.f('fk_volunteer_profiles_decided_by_id_users'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['home_estate_id'], ['areas.id'], name=op.f('fk_volunteer_profiles_home_estate_id_areas'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['user_id'], ['users.id'], name=op.f('fk_volunteer_profiles_user_id_users'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_volunteer_profiles')),
    sa.UniqueConstraint('user_id', name=op.f('uq_volunteer_profiles_user_id'))
    )
    with op.batch_alter_table('volunteer_profiles', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_volunteer_profiles_area_id'), ['area_id'], unique=False)
        batch_op.create_index('ix_volunteer_profiles_on_duty', ['on_duty', 'status'], unique=False)
        batch_op.create_index('ix_volunteer_profiles_status_id', ['status', 'id'], unique=False)

    op.create_table('volunteer_corrections',
    sa.Column('ledger', sa.String(length=8), nullable=False),
    sa.Column('entry_id', sa.Uuid(), nullable=False),
    sa.Column('account_id', sa.Uuid(), nullable=False),
    sa.Column('reason', sa.String(length=200), nullable=False),
    sa.Column('by_id', sa.Uuid(), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('id', sa.Uuid(), nullable=False),
    sa.ForeignKeyConstraint(['account_id'], ['volunteer_accounts.id'], name=op.f('fk_volunteer_corrections_account_id_volunteer_accounts'), ondelete='RESTRICT'),
    sa.ForeignKeyConstraint(['by_id'], ['users.id'], name=op.f('fk_volunteer_corrections_by_id_users'), ondelete='SET NULL'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_volunteer_corrections')),
    sa.UniqueConstraint('entry_id', name=op.f('uq_volunteer_corrections_entry_id'))
    )
    with op.batch_alter_table('volunteer_corrections', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_volunteer_corrections_account_id'), ['account_id'], unique=False)

    op.create_table('volunteer_group_members',
    sa.Column('group_id', sa.Uuid(), nullable=False),
    sa.Column('profile_id', sa.Uuid(), nullable=False),
    sa.Column('role', sa.Enum('leader', 'member', name='volunteer_group_role', native_enum=False, create_constraint=True), nullable=False),
    sa.Column('joined_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('id', sa.Uuid(), nullable=False),
    sa.ForeignKeyConstraint(['group_id'], ['volunteer_groups.id'], name=op.f('fk_volunteer_group_members_group_id_volunteer_groups'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['profile_id'], ['volunteer_profiles.id'], name=op.f('fk_volunteer_group_members_profile_id_volunteer_profiles'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_volunteer_group_members')),
    sa.UniqueConstraint('group_id', 'profile_id', name=op.f('uq_volunteer_group_members_group_id_profile_id'))
    )
    with op.batch_alter_table('volunteer_group_members', schema=None) as batch_op:
        batch_op.create_index('ix_volunteer_group_members_profile_id', ['profile_id'], unique=False)

    op.create_table('volunteer_profile_committees',
    sa.Column('profile_id', sa.Uuid(), nullable=False),
    sa.Column('area_id', sa.Uuid(), nullable=False),
    sa.ForeignKeyConstraint(['area_id'], ['areas.id'], name=op.f('fk_volunteer_profile_committees_area_id_areas'), ondelete='RESTRICT'),
    sa.ForeignKeyConstraint(['profile_id'], ['volunteer_profiles.id'], name=op.f('fk_volunteer_profile_committees_profile_id_volunteer_profiles'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('profile_id', 'area_id', name=op.f('pk_volunteer_profile_committees'))
    )
    with op.batch_alter_table('volunteer_profile_committees', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_volunteer_profile_committees_area_id'), ['area_id'], unique=False)

    op.create_table('volunteer_profile_skills',
    sa.Column('profile_id', sa.Uuid(), nullable=False),
    sa.Column('skill_id', sa.Uuid(), nullable=False),
    sa.ForeignKeyConstraint(['profile_id'], ['volunteer_profiles.id'], name=op.f('fk_volunteer_profile_skills_profile_id_volunteer_profiles'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['skill_id'], ['volunteer_skills.id'], name=op.f('fk_volunteer_profile_skills_skill_id_volunteer_skills'), ondelete='RESTRICT'),
    sa.PrimaryKeyConstraint('profile_id', 'skill_id', name=op.f('pk_volunteer_profile_skills'))
    )
    with op.batch_alter_table('volunteer_profile_skills', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_volunteer_profile_skills_skill_id'), ['skill_id'], unique=False)

    op.create_table('volunteer_tasks',
    sa.Column('title', sa.String(length=64), nullable=False),
    sa.Column('kind', sa.Enum('elder_visit', 'meal_delivery', 'escort', 'event_help', 'patrol', 'cleanup', 'alert_response', 'other', name='volunteer_task_kind', native_enum=False, create_constraint=True), nullable=False),
    sa.Column('description', sa.Text(), nullable=False),
    sa.Column('area_id', sa.Uuid(), nullable=False),
    sa.Column('address', sa.String(length=200), nullable=False),
    sa.Column('door_notes', sa.Text(), nullable=False),
    sa.Column('lat', sa.Float(), nullable=True),
    sa.Column('lng', sa.Float(), nullable=True),
    sa.Column('starts_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('ends_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('slots', sa.Integer(), nullable=False),
    sa.Column('confirmed_count', sa.Integer(), server_default=sa.text('0'), nullable=False),
    sa.Column('waitlist_limit', sa.Integer(), server_default=sa.text('0'), nullable=False),
    sa.Column('waitlist_count', sa.Integer(), server_default=sa.text('0'), nullable=False),
    sa.Column('next_waitlist_seq', sa.BigInteger(), server_default=sa.text('1'), nullable=False),
    sa.Column('reserved_group_id', sa.Uuid(), nullable=True),
    sa.Column('reserved_slots', sa.Integer(), server_default=sa.text('0'), nullable=False),
    sa.Column('reserved_until', sa.DateTime(timezone=True), nullable=True),
    sa.Column('reserved_taken', sa.Integer(), server_default=sa.text('0'), nullable=False),
    sa.Column('owner_id', sa.Uuid(), nullable=True),
    sa.Column('group_id', sa.Uuid(), nullable=True),
    sa.Column('checkin_rule', sa.Enum('geofence', 'owner_code', 'served_code', name='volunteer_checkin_rule', native_enum=False, create_constraint=True), nullable=False),
    sa.Column('geofence_radius_m', sa.Integer(), server_default=sa.text('(150)'), nullable=False),
    sa.Column('checkin_code', sa.String(length=6), nullable=False),
    sa.Column('served_code', sa.String(length=6), nullable=True),
    sa.Column('source', sa.Enum('manual', 'alert', 'care_order', 'incident', 'event', name='volunteer_task_source', native_enum=False, create_constraint=True), nullable=False),
    sa.Column('source_ref', sa.String(length=64), nullable=True),
    sa.Column('status', sa.Enum('open', 'handled', 'cancelled', 'closed', name='volunteer_task_status', native_enum=False, create_constraint=True), nullable=False),
    sa.Column('urgent', sa.Boolean(), server_default=sa.text('(false)'), nullable=False),
    sa.Column('coins', sa.Boolean(), server_default=sa.text('(false)'), nullable=False),
    sa.Column('cancel_cutoff_minutes', sa.Integer(), server_default=sa.text('(1440)'), nullable=False),
    sa.Column('cancel_reason', sa.String(length=200), nullable=True),
    sa.Column('closed_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('closed_by_id', sa.Uuid(), nullable=True),
    sa.Column('created_by_id', sa.Uuid(), nullable=True),
    sa.Column('id', sa.Uuid(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
    sa.CheckConstraint('confirmed_count >= 0 AND confirmed_count <= slots', name=op.f('ck_volunteer_tasks_confirmed_within_slots')),
    sa.CheckConstraint('ends_at > starts_at', name=op.f('ck_volunteer_tasks_ends_after_start')),
    sa.CheckConstraint('reserved_slots >= 0 AND reserved_slots <= slots', name=op.f('ck_volunteer_tasks_reserved_within_slots')),
    sa.CheckConstraint('reserved_taken >= 0 AND reserved_taken <= confirmed_count', name=op.f('ck_volunteer_tasks_reserved_taken_counted')),
    sa.CheckConstraint('slots >= 1', name=op.f('ck_volunteer_tasks_slots_positive')),
    sa.CheckConstraint('waitlist_count >= 0 AND waitlist_count <= waitlist_limit', name=op.f('ck_volunteer_tasks_waitlist_within_limit')),
    sa.ForeignKeyConstraint(['area_id'], ['areas.id'], name=op.f('fk_volunteer_tasks_area_id_areas'), ondelete='RESTRICT'),
    sa.ForeignKeyConstraint(['closed_by_id'], ['users.id'], name=op.f('fk_volunteer_tasks_closed_by_id_users'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['created_by_id'], ['users.id'], name=op.f('fk_volunteer_tasks_created_by_id_users'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['group_id'], ['volunteer_groups.id'], name=op.f('fk_volunteer_tasks_group_id_volunteer_groups'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['owner_id'], ['users.id'], name=op.f('fk_volunteer_tasks_owner_id_users'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['reserved_group_id'], ['volunteer_groups.id'], name=op.f('fk_volunteer_tasks_reserved_group_id_volunteer_groups'), ondelete='SET NULL'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_volunteer_tasks'))
    )
    with op.batch_alter_table('volunteer_tasks', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_volunteer_tasks_area_id'), ['area_id'], unique=False)
        batch_op.create_index('ix_volunteer_tasks_group_id_id', ['group_id', 'id'], unique=False)
        batch_op.create_index('ix_volunteer_tasks_status_starts_at', ['status', 'starts_at'], unique=False)
        batch_op.create_index('uq_volunteer_tasks_source_ref', ['source', 'source_ref'], unique=True, postgresql_where=sa.text('source_ref IS NOT NULL'), sqlite_where=sa.text('source_ref IS NOT NULL'))

    op.create_table('time_coin_entries',
    sa.Column('account_id', sa.Uuid(), nullable=False),
    sa.Column('kind', sa.Enum('earned', 'reversal', 'gift_out', 'gift_in', 'donation_out', 'donation_in', 'closing_out', 'closing_in', name='time_coin_kind', native_enum=False, create_constraint=True), nullable=False),
    sa.Column('centi', sa.Integer(), nullable=False),
    sa.Column('task_id', sa.Uuid(), nullable=True),
    sa.Column('counterpart_id', sa.Uuid(), nullable=True),
    sa.Column('area_path', sa.String(length=255), nullable=False),
    sa.Column('source_id', sa.Uuid(), nullable=True),
    sa.Column('reverses_id', sa.Uuid(), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('id', sa.Uuid(), nullable=False),
    sa.CheckConstraint('centi <> 0', name=op.f('ck_time_coin_entries_centi_not_zero')),
    sa.ForeignKeyConstraint(['account_id'], ['volunteer_accounts.id'], name=op.f('fk_time_coin_entries_account_id_volunteer_accounts'), ondelete='RESTRICT'),
    sa.ForeignKeyConstraint(['counterpart_id'], ['volunteer_accounts.id'], name=op.f('fk_time_coin_entries_counterpart_id_volunteer_accounts'), ondelete='RESTRICT'),
    sa.ForeignKeyConstraint(['reverses_id'], ['time_coin_entries.id'], name=op.f('fk_time_coin_entries_reverses_id_time_coin_entries')),
    sa.ForeignKeyConstraint(['task_id'], ['volunteer_tasks.id'], name=op.f('fk_time_coin_entries_task_id_volunteer_tasks'), ondelete='RESTRICT'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_time_coin_entries')),
    sa.UniqueConstraint('reverses_id', name=op.f('uq_time_coin_entries_reverses_id'))
    )
    with op.batch_alter_table('time_coin_entries', schema=None) as batch_op:
        batch_op.create_index('ix_time_coin_entries_account_id_id', ['account_id', 'id'], unique=False)
        batch_op.create_index('ix_time_coin_entries_area_path_id', ['area_path', 'id'], unique=False)

    op.create_table('volunteer_hour_entries',
    sa.Column('account_id', sa.Uuid(), nullable=False),
    sa.Column('kind', sa.Enum('attendance', 'manual', 'reversal', name='volunteer_hour_kind', native_enum=False, create_constraint=True), nullable=False),
    sa.Column('minutes', sa.Integer(), nullable=False),
    sa.Column('task_id', sa.Uuid(), nullable=True),
    sa.Column('group_id', sa.Uuid(), nullable=True),
    sa.Column('area_path', sa.String(length=255), nullable=False),
    sa.Column('served_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('source_id', sa.Uuid(), nullable=True),
    sa.Column('reverses_id', sa.Uuid(), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('id', sa.Uuid(), nullable=False),
    sa.CheckConstraint('minutes <> 0', name=op.f('ck_volunteer_hour_entries_minutes_not_zero')),
    sa.ForeignKeyConstraint(['account_id'], ['volunteer_accounts.id'], name=op.f('fk_volunteer_hour_entries_account_id_volunteer_accounts'), ondelete='RESTRICT'),
    sa.ForeignKeyConstraint(['group_id'], ['volunteer_groups.id'], name=op.f('fk_volunteer_hour_entries_group_id_volunteer_groups'), ondelete='RESTRICT'),
    sa.ForeignKeyConstraint(['reverses_id'], ['volunteer_hour_entries.id'], name=op.f('fk_volunteer_hour_entries_reverses_id_volunteer_hour_entries')),
    sa.ForeignKeyConstraint(['task_id'], ['volunteer_tasks.id'], name=op.f('fk_volunteer_hour_entries_task_id_volunteer_tasks'), ondelete='RESTRICT'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_volunteer_hour_entries')),
    sa.UniqueConstraint('reverses_id', name=op.f('uq_volunteer_hour_entries_reverses_id'))
    )
    with op.batch_alter_table('volunteer_hour_entries', schema=None) as batch_op:
        batch_op.create_index('ix_volunteer_hour_entries_account_id_id', ['account_id', 'id'], unique=False)
        batch_op.create_index('ix_volunteer_hour_entries_area_path_id', ['area_path', 'id'], unique=False)
        batch_op.create_index('ix_volunteer_hour_entries_group_id_served_at', ['group_id', 'served_at'], unique=False)

    op.create_table('volunteer_signups',
    sa.Column('task_id', sa.Uuid(), nullable=False),
    sa.Column('user_id', sa.Uuid(), nullable=True),
    sa.Column('status', sa.Enum('offered', 'confirmed', 'waitlisted', 'declined', 'stood_down', 'cancelled', 'released', 'attended', 'no_show', name='volunteer_signup_status', native_enum=False, create_constraint=True), nullable=False),
    sa.Column('waitlist_seq', sa.BigInteger(), nullable=True),
    sa.Column('reserved', sa.Boolean(), server_default=sa.text('(false)'), nullable=False),
    sa.Column('overlap_override', sa.Boolean(), server_default=sa.text('(false)'), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('confirmed_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('ended_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('late_cancel', sa.Boolean(), server_default=sa.text('(false)'), nullable=False),
    sa.Column('leave_reason', sa.String(length=200), nullable=True),
    sa.Column('offered_distance_m', sa.Integer(), nullable=True),
    sa.Column('reminded_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('attendance_confirmed_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('checked_in_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('checked_in_by', sa.String(length=16), nullable=True),
    sa.Column('checked_out_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('check_in_lat', sa.Float(), nullable=True),
    sa.Column('check_in_lng', sa.Float(), nullable=True),
    sa.Column('check_out_lat', sa.Float(), nullable=True),
    sa.Column('check_out_lng', sa.Float(), nullable=True),
    sa.Column('flags', sa.JSON(), nullable=False),
    sa.Column('minutes', sa.Integer(), nullable=True),
    sa.Column('id', sa.Uuid(), nullable=False),
    sa.ForeignKeyConstraint(['task_id'], ['volunteer_tasks.id'], name=op.f('fk_volunteer_signups_task_id_volunteer_tasks'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['user_id'], ['users.id'], name=op.f('fk_volunteer_signups_user_id_users'), ondelete='SET NULL'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_volunteer_signups'))
    )
    with op.batch_alter_table('volunteer_signups', schema=None) as batch_op:
        batch_op.create_index('ix_volunteer_signups_task_id_status_waitlist_seq', ['task_id', 'status', 'waitlist_seq'], unique=False)
        batch_op.create_index('ix_volunteer_signups_user_id_id', ['user_id', 'id'], unique=False)
        batch_op.create_index('uq_volunteer_signups_active_per_user', ['task_id', 'user_id'], unique=True, postgresql_where=sa.text("status <> 'declined' AND status <> 'stood_down' AND status <> 'cancelled' AND status <> 'released'"), sqlite_where=sa.text("status <> 'declined' AND status <> 'stood_down' AND status <> 'cancelled' AND status <> 'released'"))

    op.create_table('volunteer_task_skills',
    sa.Column('task_id', sa.Uuid(), nullable=False),
    sa.Column('skill_id', sa.Uuid(), nullable=False),
    sa.ForeignKeyConstraint(['skill_id'], ['volunteer_skills.id'], name=op.f('fk_volunteer_task_skills_skill_id_volunteer_skills'), ondelete='RESTRICT'),
    sa.ForeignKeyConstraint(['task_id'], ['volunteer_tasks.id'], name=op.f('fk_volunteer_task_skills_task_id_volunteer_tasks'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('task_id', 'skill_id', name=op.f('pk_volunteer_task_skills'))
    )
    with op.batch_alter_table('volunteer_task_skills', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_volunteer_task_skills_skill_id'), ['skill_id'], unique=False)

    op.create_table('volunteer_hour_claims',
    sa.Column('task_id', sa.Uuid(), nullable=False),
    sa.Column('user_id', sa.Uuid(), nullable=True),
    sa.Column('signup_id', sa.Uuid(), nullable=True),
    sa.Column('minutes', sa.Integer(), nullable=False),
    sa.Column('origin', sa.Enum('manual', 'unchecked', 'flagged', name='volunteer_claim_origin', native_enum=False, create_constraint=True), nullable=False),
    sa.Column('note', sa.String(length=200), nullable=False),
    sa.Column('entered_by_id', sa.Uuid(), nullable=True),
    sa.Column('status', sa.Enum('pending', 'approved', 'rejected', name='volunteer_claim_status', native_enum=False, create_constraint=True), nullable=False),
    sa.Column('decided_by_id', sa.Uuid(), nullable=True),
    sa.Column('decided_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('reject_reason', sa.String(length=200), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('id', sa.Uuid(), nullable=False),
    sa.CheckConstraint('minutes > 0', name=op.f('ck_volunteer_hour_claims_minutes_positive')),
    sa.ForeignKeyConstraint(['decided_by_id'], ['users.id'], name=op.f('fk_volunteer_hour_claims_decided_by_id_users'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['entered_by_id'], ['users.id'], name=op.f('fk_volunteer_hour_claims_entered_by_id_users'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['signup_id'], ['volunteer_signups.id'], name=op.f('fk_volunteer_hour_claims_signup_id_volunteer_signups'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['task_id'], ['volunteer_tasks.id'], name=op.f('fk_volunteer_hour_claims_task_id_volunteer_tasks'), ondelete='RESTRICT'),
    sa.ForeignKeyConstraint(['user_id'], ['users.id'], name=op.f('fk_volunteer_hour_claims_user_id_users'), ondelete='SET NULL'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_volunteer_hour_claims'))
    )
    with op.batch_alter_table('volunteer_hour_claims', schema=None) as batch_op:
        batch_op.create_index('ix_volunteer_hour_claims_status_id', ['status', 'id'], unique=False)
        batch_op.create_index('ix_volunteer_hour_claims_task_id', ['task_id'], unique=False)

    with op.batch_alter_table('areas', schema=None) as batch_op:
        batch_op.add_column(sa.Column('lat', sa.Float(), nullable=True))
        batch_op.add_column(sa.Column('lng', sa.Float(), nullable=True))

    if op.get_bind().dialect.name == 'postgresql':
        op.execute(APPEND_ONLY)
        for table in LEDGERS:
            op.execute(
                f'CREATE TRIGGER {table}_append_only BEFORE UPDATE OR DELETE ON {table} '
                'FOR EACH ROW EXECUTE FUNCTION volunteer_ledger_append_only()'
            )


def downgrade() -> None:
    if op.get_bind().dialect.name == 'postgresql':
        for table in LEDGERS:
            op.execute(f'DROP TRIGGER IF EXISTS {table}_append_only ON {table}')
        op.execute('DROP FUNCTION IF EXISTS volunteer_ledger_append_only()')
    with op.batch_alter_table('areas', schema=None) as batch_op:
        batch_op.drop_column('lng')
        batch_op.drop_column('lat')

    with op.batch_alter_table('volunteer_hour_claims', schema=None) as batch_op:
        batch_op.drop_index('ix_volunteer_hour_claims_task_id')
        batch_op.drop_index('ix_volunteer_hour_claims_status_id')

    op.drop_table('volunteer_hour_claims')
    with op.batch_alter_table('volunteer_task_skills', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_volunteer_task_skills_skill_id'))

    op.drop_table('volunteer_task_skills')
    with op.batch_alter_table('volunteer_signups', schema=None) as batch_op:
        batch_op.drop_index('uq_volunteer_signups_active_per_user', postgresql_where=sa.text("status <> 'declined' AND status <> 'stood_down' AND status <> 'cancelled' AND status <> 'released'"), sqlite_where=sa.text("status <> 'declined' AND status <> 'stood_down' AND status <> 'cancelled' AND status <> 'released'"))
        batch_op.drop_index('ix_volunteer_signups_user_id_id')
        batch_op.drop_index('ix_volunteer_signups_task_id_status_waitlist_seq')

    op.drop_table('volunteer_signups')
    with op.batch_alter_table('volunteer_hour_entries', schema=None) as batch_op:
        batch_op.drop_index('ix_volunteer_hour_entries_group_id_served_at')
        batch_op.drop_index('ix_volunteer_hour_entries_area_path_id')
        batch_op.drop_index('ix_volunteer_hour_entries_account_id_id')

    op.drop_table('volunteer_hour_entries')
    with op.batch_alter_table('time_coin_entries', schema=None) as batch_op:
        batch_op.drop_index('ix_time_coin_entries_area_path_id')
        batch_op.drop_index('ix_time_coin_entries_account_id_id')

    op.drop_table('time_coin_entries')
    with op.batch_alter_table('volunteer_tasks', schema=None) as batch_op:
        batch_op.drop_index('uq_volunteer_tasks_source_ref', postgresql_where=sa.text('source_ref IS NOT NULL'), sqlite_where=sa.text('source_ref IS NOT NULL'))
        batch_op.drop_index('ix_volunteer_tasks_status_starts_at')
        batch_op.drop_index('ix_volunteer_tasks_group_id_id')
        batch_op.drop_index(batch_op.f('ix_volunteer_tasks_area_id'))

    op.drop_table('volunteer_tasks')
    with op.batch_alter_table('volunteer_profile_skills', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_volunteer_profile_skills_skill_id'))

    op.drop_table('volunteer_profile_skills')
    with op.batch_alter_table('volunteer_profile_committees', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_volunteer_profile_committees_area_id'))

    op.drop_table('volunteer_profile_committees')
    with op.batch_alter_table('volunteer_group_members', schema=None) as batch_op:
        batch_op.drop_index('ix_volunteer_group_members_profile_id')

    op.drop_table('volunteer_group_members')
    with op.batch_alter_table('volunteer_corrections', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_volunteer_corrections_account_id'))

    op.drop_table('volunteer_corrections')
    with op.batch_alter_table('volunteer_profiles', schema=None) as batch_op:
        batch_op.drop_index('ix_volunteer_profiles_status_id')
        batch_op.drop_index('ix_volunteer_profiles_on_duty')
        batch_op.drop_index(batch_op.f('ix_volunteer_profiles_area_id'))

    op.drop_table('volunteer_profiles')
    with op.batch_alter_table('volunteer_groups', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_volunteer_groups_area_id'))

    op.drop_table('volunteer_groups')
    with op.batch_alter_table('volunteer_certificates', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_volunteer_certificates_user_id'))

    op.drop_table('volunteer_certificates')
    op.drop_table('volunteer_accounts')
    op.drop_table('volunteer_skills')
