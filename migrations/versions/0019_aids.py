"""aids: rehabilitation aids lending (康复辅具共享) — aid types, service stations, items, loans (one live loan per
item: a partial unique index), waits

Revision ID: 0019_aids
Revises: 0018_care_meals
Create Date: 2026-12-03
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op


revision = "0019_aids"
down_revision = "0018_care_meals"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('aid_types',
    sa.Column('code', sa.String(length=32), nullable=False),
    sa.Column('name', sa.String(length=32), nullable=False),
    sa.Column('description', sa.String(length=200), nullable=False),
    sa.Column('deposit_fen', sa.Integer(), server_default=sa.text('0'), nullable=False),
    sa.Column('loan_days', sa.Integer(), nullable=False),
    sa.Column('is_active', sa.Boolean(), server_default=sa.text('(true)'), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('id', sa.Uuid(), nullable=False),
    sa.CheckConstraint('deposit_fen >= 0', name=op.f('ck_aid_types_deposit_not_negative')),
    sa.CheckConstraint('loan_days BETWEEN 1 AND 365', name=op.f('ck_aid_types_loan_days_in_range')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_aid_types')),
    sa.UniqueConstraint('code', name=op.f('uq_aid_types_code'))
    )
    op.create_table('aid_locations',
    sa.Column('area_id', sa.Uuid(), nullable=False),
    sa.Column('area_path', sa.String(length=255), nullable=False),
    sa.Column('name', sa.String(length=64), nullable=False),
    sa.Column('address', sa.String(length=200), nullable=False),
    sa.Column('opening_hours', sa.String(length=200), nullable=False),
    sa.Column('is_active', sa.Boolean(), server_default=sa.text('(true)'), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('id', sa.Uuid(), nullable=False),
    sa.ForeignKeyConstraint(['area_id'], ['areas.id'], name=op.f('fk_aid_locations_area_id_areas'), ondelete='RESTRICT'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_aid_locations'))
    )
    with op.batch_alter_table('aid_locations', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_aid_locations_area_id'), ['area_id'], unique=False)
        batch_op.create_index('ix_aid_locations_area_path_id', ['area_path', 'id'], unique=False, postgresql_ops={'area_path': 'varchar_pattern_ops'})

    op.create_table('aid_items',
    sa.Column('type_id', sa.Uuid(), nullable=False),
    sa.Column('location_id', sa.Uuid(), nullable=False),
    sa.Column('area_path', sa.String(length=255), nullable=False),
    sa.Column('asset_tag', sa.String(length=32), nullable=False),
    sa.Column('condition', sa.Enum('good', 'fair', 'needs_repair', 'retired', name='aid_condition', native_enum=False, create_constraint=True), nullable=False),
    sa.Column('condition_note', sa.String(length=500), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('id', sa.Uuid(), nullable=False),
    sa.ForeignKeyConstraint(['location_id'], ['aid_locations.id'], name=op.f('fk_aid_items_location_id_aid_locations'), ondelete='RESTRICT'),
    sa.ForeignKeyConstraint(['type_id'], ['aid_types.id'], name=op.f('fk_aid_items_type_id_aid_types'), ondelete='RESTRICT'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_aid_items')),
    sa.UniqueConstraint('asset_tag', name=op.f('uq_aid_items_asset_tag'))
    )
    with op.batch_alter_table('aid_items', schema=None) as batch_op:
        batch_op.create_index('ix_aid_items_area_path_id', ['area_path', 'id'], unique=False, postgresql_ops={'area_path': 'varchar_pattern_ops'})
        batch_op.create_index(batch_op.f('ix_aid_items_location_id'), ['location_id'], unique=False)
        batch_op.create_index('ix_aid_items_type_id_location_id', ['type_id', 'location_id'], unique=False)

    op.create_table('aid_waits',
    sa.Column('user_id', sa.Uuid(), nullable=False),
    sa.Column('type_id', sa.Uuid(), nullable=False),
    sa.Column('location_id', sa.Uuid(), nullable=False),
    sa.Column('area_path', sa.String(length=255), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('notified_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('ended_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('id', sa.Uuid(), nullable=False),
    sa.ForeignKeyConstraint(['location_id'], ['aid_locations.id'], name=op.f('fk_aid_waits_location_id_aid_locations'), ondelete='RESTRICT'),
    sa.ForeignKeyConstraint(['type_id'], ['aid_types.id'], name=op.f('fk_aid_waits_type_id_aid_types'), ondelete='RESTRICT'),
    sa.ForeignKeyConstraint(['user_id'], ['users.id'], name=op.f('fk_aid_waits_user_id_users'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_aid_waits'))
    )
    with op.batch_alter_table('aid_waits', schema=None) as batch_op:
        batch_op.create_index('ix_aid_waits_type_id_location_id', ['type_id', 'location_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_aid_waits_user_id'), ['user_id'], unique=False)
        batch_op.create_index('uq_aid_waits_open', ['user_id', 'type_id', 'location_id'], unique=True, postgresql_where=sa.text('ended_at IS NULL'), sqlite_where=sa.text('ended_at IS NULL'))

    op.create_table('aid_loans',
    sa.Column('item_id', sa.Uuid(), nullable=False),
    sa.Column('type_id', sa.Uuid(), nullable=False),
    sa.Column('location_id', sa.Uuid(), nullable=False),
    sa.Column('area_path', sa.String(length=255), nullable=False),
    sa.Column('user_id', sa.Uuid(), nullable=True),
    sa.Column('elder_id', sa.Uuid(), nullable=True),
    sa.Column('status', sa.Enum('reserved', 'lent', 'returned', 'expired', 'cancelled', name='aid_loan_status', native_enum=False, create_constraint=True), nullable=False),
    sa.Column('reserved_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('hold_until', sa.DateTime(timezone=True), nullable=True),
    sa.Column('deposit_fen', sa.Integer(), server_default=sa.text('0'), nullable=False),
    sa.Column('order_id', sa.Uuid(), nullable=True),
    sa.Column('deposit_paid_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('lent_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('lent_by_id', sa.Uuid(), nullable=True),
    sa.Column('lend_note', sa.Text(), nullable=False),
    sa.Column('due_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('renewals', sa.Integer(), server_default=sa.text('0'), nullable=False),
    sa.Column('reminded_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('escalated_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('returned_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('returned_by_id', sa.Uuid(), nullable=True),
    sa.Column('return_note', sa.Text(), nullable=False),
    sa.Column('damaged', sa.Boolean(), server_default=sa.text('(false)'), nullable=False),
    sa.Column('deduction_fen', sa.Integer(), server_default=sa.text('0'), nullable=False),
    sa.Column('deduction_reason', sa.String(length=200), nullable=False),
    sa.Column('refund_fen', sa.Integer(), server_default=sa.text('0'), nullable=False),
    sa.Column('ended_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('cancelled_by', sa.String(length=16), nullable=True),
    sa.Column('cancel_reason', sa.String(length=200), nullable=True),
    sa.Column('id', sa.Uuid(), nullable=False),
    sa.CheckConstraint('deduction_fen <= deposit_fen', name=op.f('ck_aid_loans_deduction_within_deposit')),
    sa.CheckConstraint('deposit_fen >= 0 AND deduction_fen >= 0 AND refund_fen >= 0', name=op.f('ck_aid_loans_money_not_negative')),
    sa.CheckConstraint('renewals BETWEEN 0 AND 1', name=op.f('ck_aid_loans_renewed_at_most_once')),
    sa.ForeignKeyConstraint(['elder_id'], ['elders.id'], name=op.f('fk_aid_loans_elder_id_elders'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['item_id'], ['aid_items.id'], name=op.f('fk_aid_loans_item_id_aid_items'), ondelete='RESTRICT'),
    sa.ForeignKeyConstraint(['lent_by_id'], ['users.id'], name=op.f('fk_aid_loans_lent_by_id_users'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['location_id'], ['aid_locations.id'], name=op.f('fk_aid_loans_location_id_aid_locations'), ondelete='RESTRICT'),
    sa.ForeignKeyConstraint(['order_id'], ['payment_orders.id'], name=op.f('fk_aid_loans_order_id_payment_orders'), ondelete='RESTRICT'),
    sa.ForeignKeyConstraint(['returned_by_id'], ['users.id'], name=op.f('fk_aid_loans_returned_by_id_users'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['type_id'], ['aid_types.id'], name=op.f('fk_aid_loans_type_id_aid_types'), ondelete='RESTRICT'),
    sa.ForeignKeyConstraint(['user_id'], ['users.id'], name=op.f('fk_aid_loans_user_id_users'), ondelete='SET NULL'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_aid_loans'))
    )
    with op.batch_alter_table('aid_loans', schema=None) as batch_op:
        batch_op.create_index('ix_aid_loans_area_path_id', ['area_path', 'id'], unique=False, postgresql_ops={'area_path': 'varchar_pattern_ops'})
        batch_op.create_index(batch_op.f('ix_aid_loans_elder_id'), ['elder_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_aid_loans_location_id'), ['location_id'], unique=False)
        batch_op.create_index('ix_aid_loans_status_due_at', ['status', 'due_at'], unique=False)
        batch_op.create_index('ix_aid_loans_status_hold_until', ['status', 'hold_until'], unique=False)
        batch_op.create_index('ix_aid_loans_user_id_id', ['user_id', 'id'], unique=False)
        batch_op.create_index('uq_aid_loans_item_live', ['item_id'], unique=True, postgresql_where=sa.text("status = 'reserved' OR status = 'lent'"), sqlite_where=sa.text("status = 'reserved' OR status = 'lent'"))



def downgrade() -> None:
    with op.batch_alter_table('aid_loans', schema=None) as batch_op:
        batch_op.drop_index('uq_aid_loans_item_live', postgresql_where=sa.text("status = 'reserved' OR status = 'lent'"), sqlite_where=sa.text("status = 'reserved' OR status = 'lent'"))
        batch_op.drop_index('ix_aid_loans_user_id_id')
        batch_op.drop_index('ix_aid_loans_status_hold_until')
        batch_op.drop_index('ix_aid_loans_status_due_at')
        batch_op.drop_index(batch_op.f('ix_aid_loans_location_id'))
        batch_op.drop_index(batch_op.f('ix_aid_loans_elder_id'))
        batch_op.drop_index('ix_aid_loans_area_path_id', postgresql_ops={'area_path': 'varchar_pattern_ops'})

    op.drop_table('aid_loans')
    with op.batch_alter_table('aid_waits', schema=None) as batch_op:
        batch_op.drop_index('uq_aid_waits_open', postgresql_where=sa.text('ended_at IS NULL'), sqlite_where=sa.text('ended_at IS NULL'))
        batch_op.drop_index(batch_op.f('ix_aid_waits_user_id'))
        batch_op.drop_index('ix_aid_waits_type_id_location_id')

    op.drop_table('aid_waits')
    with op.batch_alter_table('aid_items', schema=None) as batch_op:
        batch_op.drop_index('ix_aid_items_type_id_location_id')
        batch_op.drop_index(batch_op.f('ix_aid_items_location_id'))
        batch_op.drop_index('ix_aid_items_area_path_id', postgresql_ops={'area_path': 'varchar_pattern_ops'})

    op.drop_table('aid_items')
    with op.batch_alter_table('aid_locations', schema=None) as batch_op:
        batch_op.drop_index('ix_aid_locations_area_path_id', postgresql_ops={'area_path': 'varchar_pattern_ops'})
        batch_op.drop_index(batch_op.f('ix_aid_locations_area_id'))

    op.drop_table('aid_locations')
    op.drop_table('aid_types')
