"""incidents: categories, cases, timeline, followers, handling units; roles grid_worker and supervisor

Revision ID: 0006_incidents
Revises: 0005_live
Create Date: 2026-12-02
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op


revision = '0006_incidents'
down_revision = '0005_live'
branch_labels = None
depends_on = None

# user_roles.role gains 'grid_worker' and 'supervisor': a longer VARCHAR and a wider CHECK.
ROLES_OLD = sa.Enum('resident', 'family', 'volunteer', 'staff', 'admin', name='role', native_enum=False, create_constraint=True)
ROLES_NEW = sa.Enum('resident', 'family', 'volunteer', 'staff', 'admin', 'grid_worker', 'supervisor', name='role', native_enum=False, create_constraint=True)


def upgrade() -> None:
    op.create_table('incident_categories',
    sa.Column('code', sa.String(length=64), nullable=False),
    sa.Column('parent_id', sa.Uuid(), nullable=True),
    sa.Column('name_zh', sa.String(length=64), nullable=False),
    sa.Column('name_en', sa.String(length=64), nullable=False),
    sa.Column('time_limit_hours', sa.Integer(), server_default=sa.text('(72)'), nullable=False),
    sa.Column('photo_required', sa.Boolean(), server_default=sa.text('(false)'), nullable=False),
    sa.Column('active', sa.Boolean(), server_default=sa.text('(true)'), nullable=False),
    sa.Column('position', sa.Integer(), server_default=sa.text('0'), nullable=False),
    sa.Column('attributes', sa.JSON(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('id', sa.Uuid(), nullable=False),
    sa.CheckConstraint('time_limit_hours > 0', name=op.f('ck_incident_categories_time_limit_positive')),
    sa.ForeignKeyConstraint(['parent_id'], ['incident_categories.id'], name=op.f('fk_incident_categories_parent_id_incident_categories'), ondelete='RESTRICT'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_incident_categories')),
    sa.UniqueConstraint('code', name=op.f('uq_incident_categories_code'))
    )
    with op.batch_alter_table('incident_categories', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_incident_categories_parent_id'), ['parent_id'], unique=False)

    op.create_table('handling_units',
    sa.Column('name', sa.String(length=64), nullable=False),
    sa.Column('kind', sa.Enum('property_company', 'grid', 'city_department', name='handling_unit_kind', native_enum=False, create_constraint=True), nullable=False),
    sa.Column('area_id', sa.Uuid(), nullable=True),
    sa.Column('active', sa.Boolean(), server_default=sa.text('(true)'), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('id', sa.Uuid(), nullable=False),
    sa.ForeignKeyConstraint(['area_id'], ['areas.id'], name=op.f('fk_handling_units_area_id_areas'), ondelete='RESTRICT'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_handling_units'))
    )
    with op.batch_alter_table('handling_units', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_handling_units_area_id'), ['area_id'], unique=False)

    op.create_table('incidents',
    sa.Column('category_id', sa.Uuid(), nullable=False),
    sa.Column('reporter_id', sa.Uuid(), nullable=True),
    sa.Column('source', sa.Enum('miniprogram', 'open311', name='incident_source', native_enum=False, create_constraint=True), nullable=False),
    sa.Column('partner_id', sa.Uuid(), nullable=True),
    sa.Column('status', sa.Enum('submitted', 'accepted', 'dispatched', 'in_progress', 'resolved', 'closed', 'rejected', name='incident_status', native_enum=False, create_constraint=True), nullable=False),
    sa.Column('description', sa.String(length=500), nullable=False),
    sa.Column('lat', sa.Float(), nullable=True),
    sa.Column('lng', sa.Float(), nullable=True),
    sa.Column('address', sa.String(length=200), nullable=True),
    sa.Column('area_id', sa.Uuid(), nullable=True),
    sa.Column('external_media_urls', sa.JSON(), nullable=False),
    sa.Column('attributes', sa.JSON(), nullable=False),
    sa.Column('status_note', sa.String(length=500), nullable=True),
    sa.Column('due_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('escalation_level', sa.Integer(), server_default=sa.text('0'), nullable=False),
    sa.Column('accepted_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('dispatched_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('started_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('resolved_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('closed_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('assigned_unit_id', sa.Uuid(), nullable=True),
    sa.Column('assignee_id', sa.Uuid(), nullable=True),
    sa.Column('merged_into_id', sa.Uuid(), nullable=True),
    sa.Column('feedback_score', sa.Integer(), nullable=True),
    sa.Column('feedback_comment', sa.String(length=200), nullable=True),
    sa.Column('feedback_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('reopen_count', sa.Integer(), server_default=sa.text('0'), nullable=False),
    sa.Column('id', sa.Uuid(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
    sa.CheckConstraint('(lat IS NULL) = (lng IS NULL)', name=op.f('ck_incidents_lat_lng_together')),
    sa.CheckConstraint('escalation_level >= 0', name=op.f('ck_incidents_escalation_not_negative')),
    sa.CheckConstraint('feedback_score IS NULL OR (feedback_score >= 1 AND feedback_score <= 5)', name=op.f('ck_incidents_score_1_5')),
    sa.CheckConstraint('reopen_count >= 0', name=op.f('ck_incidents_reopen_not_negative')),
    sa.ForeignKeyConstraint(['area_id'], ['areas.id'], name=op.f('fk_incidents_area_id_areas'), ondelete='RESTRICT'),
    sa.ForeignKeyConstraint(['assigned_unit_id'], ['handling_units.id'], name=op.f('fk_incidents_assigned_unit_id_handling_units'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['assignee_id'], ['users.id'], name=op.f('fk_incidents_assignee_id_users'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['category_id'], ['incident_categories.id'], name=op.f('fk_incidents_category_id_incident_categories'), ondelete='RESTRICT'),
    sa.ForeignKeyConstraint(['merged_into_id'], ['incidents.id'], name=op.f('fk_incidents_merged_into_id_incidents'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['reporter_id'], ['users.id'], name=op.f('fk_incidents_reporter_id_users'), ondelete='SET NULL'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_incidents'))
    )
    with op.batch_alter_table('incidents', schema=None) as batch_op:
        batch_op.create_index('ix_incidents_area_id_status', ['area_id', 'status'], unique=False)
        batch_op.create_index('ix_incidents_category_lat_lng', ['category_id', 'lat', 'lng'], unique=False)
        batch_op.create_index('ix_incidents_clocked_due_at', ['due_at'], unique=False, postgresql_where=sa.text("status = 'accepted' OR status = 'dispatched' OR status = 'in_progress'"), sqlite_where=sa.text("status = 'accepted' OR status = 'dispatched' OR status = 'in_progress'"))
        batch_op.create_index('ix_incidents_created_at', ['created_at'], unique=False)
        batch_op.create_index(batch_op.f('ix_incidents_partner_id'), ['partner_id'], unique=False)
        batch_op.create_index('ix_incidents_reporter_id_id', ['reporter_id', 'id'], unique=False)
        batch_op.create_index('ix_incidents_resolved_waiting', ['resolved_at'], unique=False, postgresql_where=sa.text("status = 'resolved'"), sqlite_where=sa.text("status = 'resolved'"))
        batch_op.create_index('ix_incidents_status_id', ['status', 'id'], unique=False)

    op.create_table('incident_events',
    sa.Column('incident_id', sa.Uuid(), nullable=False),
    sa.Column('action', sa.String(length=32), nullable=False),
    sa.Column('from_status', sa.String(length=16), nullable=True),
    sa.Column('to_status', sa.String(length=16), nullable=True),
    sa.Column('actor_id', sa.Uuid(), nullable=True),
    sa.Column('note', sa.String(length=500), nullable=True),
    sa.Column('data', sa.JSON(), nullable=False),
    sa.Column('at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('id', sa.Uuid(), nullable=False),
    sa.ForeignKeyConstraint(['actor_id'], ['users.id'], name=op.f('fk_incident_events_actor_id_users'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['incident_id'], ['incidents.id'], name=op.f('fk_incident_events_incident_id_incidents'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_incident_events'))
    )
    with op.batch_alter_table('incident_events', schema=None) as batch_op:
        batch_op.create_index('ix_incident_events_incident_id_at', ['incident_id', 'at'], unique=False)

    op.create_table('incident_followers',
    sa.Column('incident_id', sa.Uuid(), nullable=False),
    sa.Column('user_id', sa.Uuid(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['incident_id'], ['incidents.id'], name=op.f('fk_incident_followers_incident_id_incidents'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['user_id'], ['users.id'], name=op.f('fk_incident_followers_user_id_users'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('incident_id', 'user_id', name=op.f('pk_incident_followers'))
    )
    with op.batch_alter_table('incident_followers', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_incident_followers_user_id'), ['user_id'], unique=False)

    with op.batch_alter_table('user_roles', schema=None) as batch_op:
        batch_op.drop_constraint(op.f('ck_user_roles_role'), type_='check')
        batch_op.alter_column('role', existing_type=sa.String(length=9), type_=ROLES_NEW, existing_nullable=False)


def downgrade() -> None:
    with op.batch_alter_table('user_roles', schema=None) as batch_op:
        batch_op.drop_constraint(op.f('ck_user_roles_role'), type_='check')
        batch_op.alter_column('role', existing_type=sa.String(length=11), type_=ROLES_OLD, existing_nullable=False)

    with op.batch_alter_table('incident_followers', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_incident_followers_user_id'))

    op.drop_table('incident_followers')
    with op.batch_alter_table('incident_events', schema=None) as batch_op:
        batch_op.drop_index('ix_incident_events_incident_id_at')

    op.drop_table('incident_events')
    with op.batch_alter_table('incidents', schema=None) as batch_op:
        batch_op.drop_index('ix_incidents_status_id')
        batch_op.drop_index('ix_incidents_resolved_waiting', postgresql_where=sa.text("status = 'resolved'"), sqlite_where=sa.text("status = 'resolved'"))
        batch_op.drop_index('ix_incidents_reporter_id_id')
        batch_op.drop_index(batch_op.f('ix_incidents_partner_id'))
        batch_op.drop_index('ix_incidents_created_at')
        batch_op.drop_index('ix_incidents_clocked_due_at', postgresql_where=sa.text("status = 'accepted' OR status = 'dispatched' OR status = 'in_progress'"), sqlite_where=sa.text("status = 'accepted' OR status = 'dispatched' OR status = 'in_progress'"))
        batch_op.drop_index('ix_incidents_category_lat_lng')
        batch_op.drop_index('ix_incidents_area_id_status')

    op.drop_table('incidents')
    with op.batch_alter_table('handling_units', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_handling_units_area_id'))

    op.drop_table('handling_units')
    with op.batch_alter_table('incident_categories', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_incident_categories_parent_id'))

    op.drop_table('incident_categories')
