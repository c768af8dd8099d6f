"""device alerts: IoT events, alerts (one unresolved per device and rule), their timeline, duty shifts

Revision ID: 0009_alerts
Revises: 0008_eldercare_devices
Create Date: 2026-12-02
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op


revision = '0009_alerts'
down_revision = '0008_eldercare_devices'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('duty_shifts',
    sa.Column('user_id', sa.Uuid(), nullable=False),
    sa.Column('area_id', sa.Uuid(), nullable=False),
    sa.Column('starts_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('ends_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('created_by_id', sa.Uuid(), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('id', sa.Uuid(), nullable=False),
    sa.CheckConstraint('ends_at > starts_at', name=op.f('ck_duty_shifts_ends_after_start')),
    sa.ForeignKeyConstraint(['area_id'], ['areas.id'], name=op.f('fk_duty_shifts_area_id_areas'), ondelete='RESTRICT'),
    sa.ForeignKeyConstraint(['created_by_id'], ['users.id'], name=op.f('fk_duty_shifts_created_by_id_users'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['user_id'], ['users.id'], name=op.f('fk_duty_shifts_user_id_users'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_duty_shifts'))
    )
    with op.batch_alter_table('duty_shifts', schema=None) as batch_op:
        batch_op.create_index('ix_duty_shifts_area_id_ends_at', ['area_id', 'ends_at'], unique=False)
        batch_op.create_index(batch_op.f('ix_duty_shifts_user_id'), ['user_id'], unique=False)

    op.create_table('alerts',
    sa.Column('device_id', sa.Uuid(), nullable=False),
    sa.Column('elder_id', sa.Uuid(), nullable=True),
    sa.Column('room_id', sa.Uuid(), nullable=True),
    sa.Column('area_path', sa.String(length=255), nullable=False),
    sa.Column('rule', sa.Enum('smoke', 'gas', 'arc_fault', 'water_leak', 'sos', 'fall', 'blood_pressure', 'door_inactivity', 'tamper', 'low_battery', 'offline', name='alert_rule', native_enum=False, create_constraint=True), nullable=False),
    sa.Column('severity', sa.Enum('critical', 'warning', 'notice', name='alert_severity', native_enum=False, create_constraint=True), nullable=False),
    sa.Column('status', sa.Enum('open', 'acknowledged', 'resolved', name='alert_status', native_enum=False, create_constraint=True), nullable=False),
    sa.Column('count', sa.Integer(), server_default=sa.text('1'), nullable=False),
    sa.Column('value', sa.JSON(), nullable=True),
    sa.Column('first_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('last_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('escalation_level', sa.Integer(), server_default=sa.text('0'), nullable=False),
    sa.Column('next_escalation_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('acknowledged_by_id', sa.Uuid(), nullable=True),
    sa.Column('acknowledged_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('resolved_by_id', sa.Uuid(), nullable=True),
    sa.Column('resolved_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('resolution', sa.Enum('false_alarm', 'handled', 'hospitalised', 'other', name='alert_resolution', native_enum=False, create_constraint=True), nullable=True),
    sa.Column('resolution_note', sa.Text(), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('id', sa.Uuid(), nullable=False),
    sa.CheckConstraint('count >= 1', name=op.f('ck_alerts_count_positive')),
    sa.ForeignKeyConstraint(['acknowledged_by_id'], ['users.id'], name=op.f('fk_alerts_acknowledged_by_id_users'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['device_id'], ['devices.id'], name=op.f('fk_alerts_device_id_devices'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['elder_id'], ['elders.id'], name=op.f('fk_alerts_elder_id_elders'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['resolved_by_id'], ['users.id'], name=op.f('fk_alerts_resolved_by_id_users'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['room_id'], ['rooms.id'], name=op.f('fk_alerts_room_id_rooms'), ondelete='SET NULL'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_alerts'))
    )
    with op.batch_alter_table('alerts', schema=None) as batch_op:
        batch_op.create_index('ix_alerts_area_path_id', ['area_path', 'id'], unique=False)
        batch_op.create_index('ix_alerts_device_id_id', ['device_id', 'id'], unique=False)
        batch_op.create_index('ix_alerts_elder_id_id', ['elder_id', 'id'], unique=False)
        batch_op.create_index('ix_alerts_status_next_escalation_at', ['status', 'next_escalation_at'], unique=False)
        batch_op.create_index('uq_alerts_unresolved_per_device_rule', ['device_id', 'rule'], unique=True, postgresql_where=sa.text("status <> 'resolved'"), sqlite_where=sa.text("status <> 'resolved'"))

    op.create_table('iot_events',
    sa.Column('platform', sa.String(length=32), nullable=False),
    sa.Column('event_id', sa.String(length=64), nullable=False),
    sa.Column('device_id', sa.Uuid(), nullable=False),
    sa.Column('type', sa.String(length=32), nullable=False),
    sa.Column('value', sa.JSON(), nullable=True),
    sa.Column('occurred_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('received_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('id', sa.Uuid(), nullable=False),
    sa.ForeignKeyConstraint(['device_id'], ['devices.id'], name=op.f('fk_iot_events_device_id_devices'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_iot_events')),
    sa.UniqueConstraint('platform', 'event_id', name=op.f('uq_iot_events_platform_event_id'))
    )
    with op.batch_alter_table('iot_events', schema=None) as batch_op:
        batch_op.create_index('ix_iot_events_device_id_occurred_at_id', ['device_id', 'occurred_at', 'id'], unique=False)

    op.create_table('alert_steps',
    sa.Column('alert_id', sa.Uuid(), nullable=False),
    sa.Column('kind', sa.Enum('notified_contact', 'escalated_staff', 'volunteers_requested', 'no_contact', 'acknowledged', 'resolved', name='alert_step_kind', native_enum=False, create_constraint=True), nullable=False),
    sa.Column('level', sa.Integer(), server_default=sa.text('0'), nullable=False),
    sa.Column('user_id', sa.Uuid(), nullable=True),
    sa.Column('notification_ids', sa.JSON(), nullable=False),
    sa.Column('note', sa.String(length=200), nullable=False),
    sa.Column('at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('id', sa.Uuid(), nullable=False),
    sa.ForeignKeyConstraint(['alert_id'], ['alerts.id'], name=op.f('fk_alert_steps_alert_id_alerts'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['user_id'], ['users.id'], name=op.f('fk_alert_steps_user_id_users'), ondelete='SET NULL'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_alert_steps'))
    )
    with op.batch_alter_table('alert_steps', schema=None) as batch_op:
        batch_op.create_index('ix_alert_steps_alert_id_at', ['alert_id', 'at'], unique=False)



def downgrade() -> None:
    with op.batch_alter_table('alert_steps', schema=None) as batch_op:
        batch_op.drop_index('ix_alert_steps_alert_id_at')

    op.drop_table('alert_steps')
    with op.batch_alter_table('iot_events', schema=None) as batch_op:
        batch_op.drop_index('ix_iot_events_device_id_occurred_at_id')

    op.drop_table('iot_events')
    with op.batch_alter_table('alerts', schema=None) as batch_op:
        batch_op.drop_index('uq_alerts_unresolved_per_device_rule', postgresql_where=sa.text("status <> 'resolved'"), sqlite_where=sa.text("status <> 'resolved'"))
        batch_op.drop_index('ix_alerts_status_next_escalation_at')
        batch_op.drop_index('ix_alerts_elder_id_id')
        batch_op.drop_index('ix_alerts_device_id_id')
        batch_op.drop_index('ix_alerts_area_path_id')

    op.drop_table('alerts')
    with op.batch_alter_table('duty_shifts', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_duty_shifts_user_id'))
        batch_op.drop_index('ix_duty_shifts_area_id_ends_at')

    op.drop_table('duty_shifts')
