"""eldercare (elders, consent, family bindings, invites, Official Account links) and the device registry

Revision ID: 0008_eldercare_devices
Revises: 0007_open311
Create Date: 2026-12-02
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op


revision = '0008_eldercare_devices'
down_revision = '0007_open311'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('elders',
    sa.Column('user_id', sa.Uuid(), nullable=True),
    sa.Column('name', sa.String(length=32), nullable=False),
    sa.Column('room_id', sa.Uuid(), nullable=False),
    sa.Column('birth_year', sa.Integer(), nullable=True),
    sa.Column('conditions', sa.Text(), nullable=False),
    sa.Column('phone', sa.String(length=20), nullable=True),
    sa.Column('status', sa.Enum('pending', 'active', 'inactive', name='elder_status', native_enum=False, create_constraint=True), nullable=False),
    sa.Column('registered_by_id', sa.Uuid(), nullable=True),
    sa.Column('approved_by_id', sa.Uuid(), nullable=True),
    sa.Column('approved_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('reject_reason', sa.String(length=200), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('door_inactivity_hours', sa.Integer(), server_default=sa.text('24'), nullable=False),
    sa.Column('bp_systolic_max', sa.Integer(), server_default=sa.text('160'), nullable=False),
    sa.Column('bp_diastolic_max', sa.Integer(), server_default=sa.text('100'), nullable=False),
    sa.Column('id', sa.Uuid(), nullable=False),
    sa.ForeignKeyConstraint(['approved_by_id'], ['users.id'], name=op.f('fk_elders_approved_by_id_users'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['registered_by_id'], ['users.id'], name=op.f('fk_elders_registered_by_id_users'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['room_id'], ['rooms.id'], name=op.f('fk_elders_room_id_rooms'), ondelete='RESTRICT'),
    sa.ForeignKeyConstraint(['user_id'], ['users.id'], name=op.f('fk_elders_user_id_users'), ondelete='SET NULL'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_elders'))
    )
    with op.batch_alter_table('elders', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_elders_room_id'), ['room_id'], unique=False)
        batch_op.create_index('ix_elders_status_id', ['status', 'id'], unique=False)
        batch_op.create_index(batch_op.f('ix_elders_user_id'), ['user_id'], unique=False)

    op.create_table('official_account_links',
    sa.Column('user_id', sa.Uuid(), nullable=False),
    sa.Column('code', sa.String(length=16), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('expires_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('used_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('id', sa.Uuid(), nullable=False),
    sa.ForeignKeyConstraint(['user_id'], ['users.id'], name=op.f('fk_official_account_links_user_id_users'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_official_account_links')),
    sa.UniqueConstraint('code', name=op.f('uq_official_account_links_code'))
    )
    with op.batch_alter_table('official_account_links', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_official_account_links_user_id'), ['user_id'], unique=False)

    op.create_table('binding_invites',
    sa.Column('elder_id', sa.Uuid(), nullable=False),
    sa.Column('code', sa.String(length=16), nullable=False),
    sa.Column('created_by_id', sa.Uuid(), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('expires_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('used_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('used_by_id', sa.Uuid(), nullable=True),
    sa.Column('id', sa.Uuid(), nullable=False),
    sa.ForeignKeyConstraint(['created_by_id'], ['users.id'], name=op.f('fk_binding_invites_created_by_id_users'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['elder_id'], ['elders.id'], name=op.f('fk_binding_invites_elder_id_elders'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['used_by_id'], ['users.id'], name=op.f('fk_binding_invites_used_by_id_users'), ondelete='SET NULL'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_binding_invites')),
    sa.UniqueConstraint('code', name=op.f('uq_binding_invites_code'))
    )
    with op.batch_alter_table('binding_invites', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_binding_invites_elder_id'), ['elder_id'], unique=False)

    op.create_table('monitoring_consents',
    sa.Column('elder_id', sa.Uuid(), nullable=False),
    sa.Column('given_by', sa.String(length=64), nullable=False),
    sa.Column('recorded_by_id', sa.Uuid(), nullable=True),
    sa.Column('recorded_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('device_types', sa.JSON(), nullable=False),
    sa.Column('withdrawn_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('withdrawn_by_id', sa.Uuid(), nullable=True),
    sa.Column('id', sa.Uuid(), nullable=False),
    sa.ForeignKeyConstraint(['elder_id'], ['elders.id'], name=op.f('fk_monitoring_consents_elder_id_elders'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['recorded_by_id'], ['users.id'], name=op.f('fk_monitoring_consents_recorded_by_id_users'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['withdrawn_by_id'], ['users.id'], name=op.f('fk_monitoring_consents_withdrawn_by_id_users'), ondelete='SET NULL'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_monitoring_consents'))
    )
    with op.batch_alter_table('monitoring_consents', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_monitoring_consents_elder_id'), ['elder_id'], unique=False)

    op.create_table('family_bindings',
    sa.Column('elder_id', sa.Uuid(), nullable=False),
    sa.Column('user_id', sa.Uuid(), nullable=False),
    sa.Column('relation', sa.String(length=16), nullable=False),
    sa.Column('position', sa.Integer(), server_default=sa.text('0'), nullable=False),
    sa.Column('status', sa.Enum('requested', 'confirmed', 'revoked', name='binding_status', native_enum=False, create_constraint=True), nullable=False),
    sa.Column('requested_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('confirmed_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('confirmed_by_id', sa.Uuid(), nullable=True),
    sa.Column('revoked_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('id', sa.Uuid(), nullable=False),
    sa.ForeignKeyConstraint(['confirmed_by_id'], ['users.id'], name=op.f('fk_family_bindings_confirmed_by_id_users'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['elder_id'], ['elders.id'], name=op.f('fk_family_bindings_elder_id_elders'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['user_id'], ['users.id'], name=op.f('fk_family_bindings_user_id_users'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_family_bindings')),
    sa.UniqueConstraint('elder_id', 'user_id', name=op.f('uq_family_bindings_elder_id_user_id'))
    )
    with op.batch_alter_table('family_bindings', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_family_bindings_elder_id'), ['elder_id'], unique=False)
        batch_op.create_index('ix_family_bindings_user_id_status', ['user_id', 'status'], unique=False)

    op.create_table('devices',
    sa.Column('serial', sa.String(length=64), nullable=False),
    sa.Column('type', sa.Enum('door_sensor', 'smoke_detector', 'gas_detector', 'arc_fault_breaker', 'water_leak_sensor', 'sos_button', 'fall_detector', 'blood_pressure_monitor', name='device_type', native_enum=False, create_constraint=True), nullable=False),
    sa.Column('room_id', sa.Uuid(), nullable=True),
    sa.Column('elder_id', sa.Uuid(), nullable=True),
    sa.Column('installed_on', sa.Date(), nullable=True),
    sa.Column('status', sa.Enum('active', 'offline', 'retired', name='device_status', native_enum=False, create_constraint=True), nullable=False),
    sa.Column('last_seen_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('battery_percent', sa.Integer(), nullable=True),
    sa.Column('heartbeat_interval_seconds', sa.Integer(), server_default=sa.text('3600'), nullable=False),
    sa.Column('last_activity_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('retired_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('id', sa.Uuid(), nullable=False),
    sa.ForeignKeyConstraint(['elder_id'], ['elders.id'], name=op.f('fk_devices_elder_id_elders'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['room_id'], ['rooms.id'], name=op.f('fk_devices_room_id_rooms'), ondelete='SET NULL'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_devices')),
    sa.UniqueConstraint('serial', name=op.f('uq_devices_serial'))
    )
    with op.batch_alter_table('devices', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_devices_elder_id'), ['elder_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_devices_room_id'), ['room_id'], unique=False)
        batch_op.create_index('ix_devices_status_last_seen_at', ['status', 'last_seen_at'], unique=False)


def downgrade() -> None:
    with op.batch_alter_table('devices', schema=None) as batch_op:
        batch_op.drop_index('ix_devices_status_last_seen_at')
        batch_op.drop_index(batch_op.f('ix_devices_room_id'))
        batch_op.drop_index(batch_op.f('ix_devices_elder_id'))
    op.drop_table('devices')

    with op.batch_alter_table('family_bindings', schema=None) as batch_op:
        batch_op.drop_index('ix_family_bindings_user_id_status')
        batch_op.drop_index(batch_op.f('ix_family_bindings_elder_id'))
    op.drop_table('family_bindings')

    with op.batch_alter_table('monitoring_consents', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_monitoring_consents_elder_id'))
    op.drop_table('monitoring_consents')

    with op.batch_alter_table('binding_invites', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_binding_invites_elder_id'))
    op.drop_table('binding_invites')

    with op.batch_alter_table('official_account_links', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_official_account_links_user_id'))
    op.drop_table('official_account_links')

    with op.batch_alter_table('elders', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_elders_user_id'))
        batch_op.drop_index('ix_elders_status_id')
        batch_op.drop_index(batch_op.f('ix_elders_room_id'))
    op.drop_table('elders')
