"""payments: WeChat Pay orders, refunds, reconciliation, audit; the finance role

Revision ID: 0013_payments
Revises: 0012_privacy
Create Date: 2026-12-02
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op


revision = '0013_payments'
down_revision = '0012_privacy'
branch_labels = None
depends_on = None

# user_roles.role gains 'finance' (refunds on a resident's behalf, reconciliation differences): the same
# VARCHAR(11), a wider CHECK. Finance staff hold it beside 'staff'.
ROLES_OLD = sa.Enum('resident', 'family', 'volunteer', 'staff', 'admin', 'grid_worker', 'supervisor', name='role', native_enum=False, create_constraint=True)
ROLES_NEW = sa.Enum('resident', 'family', 'volunteer', 'staff', 'admin', 'grid_worker', 'supervisor', 'finance', name='role', native_enum=False, create_constraint=True)


def upgrade() -> None:
    op.create_table('payment_reconciliations',
    sa.Column('bill_date', sa.Date(), nullable=False),
    sa.Column('status', sa.Enum('matched', 'differences', name='reconciliation_status', native_enum=False, create_constraint=True), nullable=False),
    sa.Column('ran_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('bill_payments', sa.Integer(), nullable=False),
    sa.Column('bill_payments_fen', sa.Integer(), nullable=False),
    sa.Column('bill_refunds', sa.Integer(), nullable=False),
    sa.Column('bill_refunds_fen', sa.Integer(), nullable=False),
    sa.Column('our_payments', sa.Integer(), nullable=False),
    sa.Column('our_payments_fen', sa.Integer(), nullable=False),
    sa.Column('our_refunds', sa.Integer(), nullable=False),
    sa.Column('our_refunds_fen', sa.Integer(), nullable=False),
    sa.Column('differences', sa.Integer(), nullable=False),
    sa.Column('id', sa.Uuid(), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_payment_reconciliations')),
    sa.UniqueConstraint('bill_date', name=op.f('uq_payment_reconciliations_bill_date'))
    )
    op.create_table('payment_orders',
    sa.Column('out_trade_no', sa.String(length=32), nullable=False),
    sa.Column('payer_id', sa.Uuid(), nullable=True),
    sa.Column('purpose', sa.String(length=32), nullable=False),
    sa.Column('reference', sa.String(length=64), nullable=False),
    sa.Column('description', sa.String(length=127), nullable=False),
    sa.Column('amount_fen', sa.Integer(), nullable=False),
    sa.Column('currency', sa.String(length=3), server_default=sa.text("'CNY'"), nullable=False),
    sa.Column('area_path', sa.String(length=255), nullable=True),
    sa.Column('status', sa.Enum('pending', 'paid', 'closed', name='payment_order_status', native_enum=False, create_constraint=True), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('expires_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('prepay_id', sa.String(length=64), nullable=True),
    sa.Column('prepaid_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('prepay_expires_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('last_queried_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('transaction_id', sa.String(length=32), nullable=True),
    sa.Column('paid_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('paid_via', sa.Enum('notify', 'query', 'sandbox', name='payment_paid_via', native_enum=False, create_constraint=True), nullable=True),
    sa.Column('payer_openid', sa.String(length=64), nullable=True),
    sa.Column('paid_after_close', sa.Boolean(), server_default=sa.text('(false)'), nullable=False),
    sa.Column('closed_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('close_reason', sa.String(length=32), nullable=True),
    sa.Column('close_pending_at_wechat', sa.Boolean(), server_default=sa.text('(false)'), nullable=False),
    sa.Column('refunded_fen', sa.Integer(), server_default=sa.text('0'), nullable=False),
    sa.Column('success_signalled_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('closed_signalled_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('id', sa.Uuid(), nullable=False),
    sa.CheckConstraint("currency = 'CNY'", name=op.f('ck_payment_orders_currency_cny')),
    sa.CheckConstraint("refunded_fen = 0 OR status = 'paid'", name=op.f('ck_payment_orders_refunds_only_when_paid')),
    sa.CheckConstraint('amount_fen > 0', name=op.f('ck_payment_orders_amount_positive')),
    sa.CheckConstraint('refunded_fen >= 0 AND refunded_fen <= amount_fen', name=op.f('ck_payment_orders_refunds_within_paid')),
    sa.ForeignKeyConstraint(['payer_id'], ['users.id'], name=op.f('fk_payment_orders_payer_id_users'), ondelete='RESTRICT'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_payment_orders')),
    sa.UniqueConstraint('out_trade_no', name=op.f('uq_payment_orders_out_trade_no')),
    sa.UniqueConstraint('transaction_id', name=op.f('uq_payment_orders_transaction_id'))
    )
    with op.batch_alter_table('payment_orders', schema=None) as batch_op:
        batch_op.create_index('ix_payment_orders_area_path_id', ['area_path', 'id'], unique=False, postgresql_ops={'area_path': 'varchar_pattern_ops'})
        batch_op.create_index('ix_payment_orders_paid_at', ['paid_at'], unique=False)
        batch_op.create_index('ix_payment_orders_payer_id_id', ['payer_id', 'id'], unique=False)
        batch_op.create_index('ix_payment_orders_status_expires_at', ['status', 'expires_at'], unique=False)
        batch_op.create_index('ix_payment_orders_status_prepaid_at', ['status', 'prepaid_at'], unique=False)
        batch_op.create_index('uq_payment_orders_open_reference', ['purpose', 'reference'], unique=True, postgresql_where=sa.text("status = 'pending'"), sqlite_where=sa.text("status = 'pending'"))

    op.create_table('payment_refunds',
    sa.Column('order_id', sa.Uuid(), nullable=False),
    sa.Column('out_refund_no', sa.String(length=64), nullable=False),
    sa.Column('amount_fen', sa.Integer(), nullable=False),
    sa.Column('reason', sa.String(length=80), nullable=False),
    sa.Column('status', sa.Enum('requested', 'processing', 'succeeded', 'closed', 'abnormal', name='payment_refund_status', native_enum=False, create_constraint=True), nullable=False),
    sa.Column('requested_by_id', sa.Uuid(), nullable=True),
    sa.Column('refund_id', sa.String(length=32), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('submitted_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('succeeded_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('last_error', sa.String(length=255), nullable=True),
    sa.Column('outcome_signalled_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('id', sa.Uuid(), nullable=False),
    sa.CheckConstraint('amount_fen > 0', name=op.f('ck_payment_refunds_amount_positive')),
    sa.ForeignKeyConstraint(['order_id'], ['payment_orders.id'], name=op.f('fk_payment_refunds_order_id_payment_orders'), ondelete='RESTRICT'),
    sa.ForeignKeyConstraint(['requested_by_id'], ['users.id'], name=op.f('fk_payment_refunds_requested_by_id_users'), ondelete='SET NULL'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_payment_refunds')),
    sa.UniqueConstraint('out_refund_no', name=op.f('uq_payment_refunds_out_refund_no'))
    )
    with op.batch_alter_table('payment_refunds', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_payment_refunds_order_id'), ['order_id'], unique=False)
        batch_op.create_index('ix_payment_refunds_status_updated_at', ['status', 'updated_at'], unique=False)
        batch_op.create_index('ix_payment_refunds_succeeded_at', ['succeeded_at'], unique=False)

    op.create_table('payment_audit',
    sa.Column('actor_id', sa.Uuid(), nullable=True),
    sa.Column('action', sa.Enum('list', 'export', 'view', 'refund', 'auto_refund', name='payment_audit_action', native_enum=False, create_constraint=True), nullable=False),
    sa.Column('order_id', sa.Uuid(), nullable=True),
    sa.Column('refund_id', sa.Uuid(), nullable=True),
    sa.Column('amount_fen', sa.Integer(), nullable=True),
    sa.Column('reason', sa.String(length=200), nullable=True),
    sa.Column('details', sa.JSON(), nullable=False),
    sa.Column('at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('id', sa.Uuid(), nullable=False),
    sa.ForeignKeyConstraint(['actor_id'], ['users.id'], name=op.f('fk_payment_audit_actor_id_users'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['order_id'], ['payment_orders.id'], name=op.f('fk_payment_audit_order_id_payment_orders'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['refund_id'], ['payment_refunds.id'], name=op.f('fk_payment_audit_refund_id_payment_refunds'), ondelete='SET NULL'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_payment_audit'))
    )
    with op.batch_alter_table('payment_audit', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_payment_audit_actor_id'), ['actor_id'], unique=False)
        batch_op.create_index('ix_payment_audit_order_id_id', ['order_id', 'id'], unique=False)

    op.create_table('payment_discrepancies',
    sa.Column('bill_date', sa.Date(), nullable=False),
    sa.Column('entry', sa.Enum('payment', 'refund', name='discrepancy_entry', native_enum=False, create_constraint=True), nullable=False),
    sa.Column('kind', sa.Enum('missing_here', 'amount_mismatch', 'missing_there', name='discrepancy_kind', native_enum=False, create_constraint=True), nullable=False),
    sa.Column('reference', sa.String(length=64), nullable=False),
    sa.Column('out_trade_no', sa.String(length=32), nullable=True),
    sa.Column('order_id', sa.Uuid(), nullable=True),
    sa.Column('refund_id', sa.Uuid(), nullable=True),
    sa.Column('area_path', sa.String(length=255), nullable=True),
    sa.Column('our_amount_fen', sa.Integer(), nullable=True),
    sa.Column('their_amount_fen', sa.Integer(), nullable=True),
    sa.Column('transaction_id', sa.String(length=32), nullable=True),
    sa.Column('detected_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('id', sa.Uuid(), nullable=False),
    sa.ForeignKeyConstraint(['order_id'], ['payment_orders.id'], name=op.f('fk_payment_discrepancies_order_id_payment_orders'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['refund_id'], ['payment_refunds.id'], name=op.f('fk_payment_discrepancies_refund_id_payment_refunds'), ondelete='SET NULL'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_payment_discrepancies')),
    sa.UniqueConstraint('bill_date', 'entry', 'kind', 'reference', name=op.f('uq_payment_discrepancies_bill_date_entry_kind_reference'))
    )
    with op.batch_alter_table('payment_discrepancies', schema=None) as batch_op:
        batch_op.create_index('ix_payment_discrepancies_bill_date_id', ['bill_date', 'id'], unique=False)

    with op.batch_alter_table('user_roles', schema=None) as batch_op:
        batch_op.drop_constraint(op.f('ck_user_roles_role'), type_='check')
        batch_op.alter_column('role', existing_type=sa.String(length=11), type_=ROLES_NEW, existing_nullable=False)


def downgrade() -> None:
    # The old CHECK does not know 'finance': those grants go (the people keep their other roles).
    op.execute("DELETE FROM user_roles WHERE role = 'finance'")
    with op.batch_alter_table('user_roles', schema=None) as batch_op:
        batch_op.drop_constraint(op.f('ck_user_roles_role'), type_='check')
        batch_op.alter_column('role', existing_type=sa.String(length=11), type_=ROLES_OLD, existing_nullable=False)

    with op.batch_alter_table('payment_discrepancies', schema=None) as batch_op:
        batch_op.drop_index('ix_payment_discrepancies_bill_date_id')

    op.drop_table('payment_discrepancies')
    with op.batch_alter_table('payment_audit', schema=None) as batch_op:
        batch_op.drop_index('ix_payment_audit_order_id_id')
        batch_op.drop_index(batch_op.f('ix_payment_audit_actor_id'))

    op.drop_table('payment_audit')
    with op.batch_alter_table('payment_refunds', schema=None) as batch_op:
        batch_op.drop_index('ix_payment_refunds_succeeded_at')
        batch_op.drop_index('ix_payment_refunds_status_updated_at')
        batch_op.drop_index(batch_op.f('ix_payment_refunds_order_id'))

    op.drop_table('payment_refunds')
    with op.batch_alter_table('payment_orders', schema=None) as batch_op:
        batch_op.drop_index('uq_payment_orders_open_reference', postgresql_where=sa.text("status = 'pending'"), sqlite_where=sa.text("status = 'pending'"))
        batch_op.drop_index('ix_payment_orders_status_prepaid_at')
        batch_op.drop_index('ix_payment_orders_status_expires_at')
        batch_op.drop_index('ix_payment_orders_payer_id_id')
        batch_op.drop_index('ix_payment_orders_paid_at')
        batch_op.drop_index('ix_payment_orders_area_path_id', postgresql_ops={'area_path': 'varchar_pattern_ops'})

    op.drop_table('payment_orders')
    op.drop_table('payment_reconciliations')
