"""privacy: policy versions and acceptances, the access log, exports and deletion requests; phone numbers
encrypted at rest with a keyed hash beside them

The data step encrypts every phone number already stored with the key PII_ENCRYPTION_KEY names (the
application's own `api.crypto`: the values must be readable by the same code), and the downgrade writes
them back in clear.

Revision ID: 0012_privacy
Revises: 0011_outbox_subject
Create Date: 2026-12-02
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from api import crypto

PHONES = (("users", "users.phone"), ("elders", "elders.phone"))


def _encrypt_phones() -> None:
    connection = op.get_bind()
    for table_name, context in PHONES:
        table = sa.table(table_name, sa.column("id", sa.Uuid()), sa.column("phone", sa.String()), sa.column("phone_hash", sa.String()))
        rows = connection.execute(sa.select(table.c.id, table.c.phone).where(table.c.phone.is_not(None))).all()
        for row_id, phone in rows:
            if crypto.is_encrypted(phone):
                continue
            connection.execute(
                table.update()
                .where(table.c.id == row_id)
                .values(phone=crypto.encrypt(phone, context), phone_hash=crypto.lookup_hash(phone))
            )


def _decrypt_phones() -> None:
    connection = op.get_bind()
    for table_name, context in PHONES:
        table = sa.table(table_name, sa.column("id", sa.Uuid()), sa.column("phone", sa.String()))
        rows = connection.execute(sa.select(table.c.id, table.c.phone).where(table.c.phone.is_not(None))).all()
        for row_id, phone in rows:
            connection.execute(table.update().where(table.c.id == row_id).values(phone=crypto.decrypt(phone, context)[:20]))


revision = '0012_privacy'
down_revision = '0011_outbox_subject'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('access_log',
    sa.Column('staff_id', sa.Uuid(), nullable=True),
    sa.Column('staff_role', sa.String(length=16), nullable=False),
    sa.Column('staff_area_code', sa.String(length=32), nullable=True),
    sa.Column('subject_kind', sa.String(length=16), nullable=False),
    sa.Column('subject_id', sa.Uuid(), nullable=True),
    sa.Column('fields', sa.JSON(), nullable=False),
    sa.Column('route', sa.String(length=128), nullable=False),
    sa.Column('reason', sa.String(length=200), nullable=True),
    sa.Column('at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('id', sa.Uuid(), nullable=False),
    sa.ForeignKeyConstraint(['staff_id'], ['users.id'], name=op.f('fk_access_log_staff_id_users'), ondelete='SET NULL'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_access_log'))
    )
    with op.batch_alter_table('access_log', schema=None) as batch_op:
        batch_op.create_index('ix_access_log_at', ['at'], unique=False)
        batch_op.create_index('ix_access_log_staff_id_id', ['staff_id', 'id'], unique=False)
        batch_op.create_index('ix_access_log_subject', ['subject_kind', 'subject_id', 'id'], unique=False)

    op.create_table('data_exports',
    sa.Column('user_id', sa.Uuid(), nullable=True),
    sa.Column('status', sa.Enum('queued', 'building', 'ready', 'failed', 'expired', name='export_status', native_enum=False, create_constraint=True), nullable=False),
    sa.Column('progress', sa.Integer(), server_default=sa.text('0'), nullable=False),
    sa.Column('object_key', sa.String(length=255), nullable=True),
    sa.Column('size_bytes', sa.Integer(), nullable=True),
    sa.Column('error', sa.String(length=200), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('finished_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('expires_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('id', sa.Uuid(), nullable=False),
    sa.CheckConstraint('progress >= 0 AND progress <= 100', name=op.f('ck_data_exports_progress_percent')),
    sa.ForeignKeyConstraint(['user_id'], ['users.id'], name=op.f('fk_data_exports_user_id_users'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_data_exports'))
    )
    with op.batch_alter_table('data_exports', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_data_exports_expires_at'), ['expires_at'], unique=False)
        batch_op.create_index('ix_data_exports_user_id_id', ['user_id', 'id'], unique=False)
        batch_op.create_index('uq_data_exports_running', ['user_id'], unique=True, postgresql_where=sa.text("status = 'queued' OR status = 'building'"), sqlite_where=sa.text("status = 'queued' OR status = 'building'"))

    op.create_table('deletion_requests',
    sa.Column('user_id', sa.Uuid(), nullable=True),
    sa.Column('status', sa.Enum('waiting', 'cancelled', 'blocked', 'erasing', 'done', name='deletion_status', native_enum=False, create_constraint=True), nullable=False),
    sa.Column('requested_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('due_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('cancelled_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('started_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('completed_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('erased_domains', sa.JSON(), nullable=False),
    sa.Column('blockers', sa.JSON(), nullable=False),
    sa.Column('id', sa.Uuid(), nullable=False),
    sa.ForeignKeyConstraint(['user_id'], ['users.id'], name=op.f('fk_deletion_requests_user_id_users'), ondelete='SET NULL'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_deletion_requests'))
    )
    with op.batch_alter_table('deletion_requests', schema=None) as batch_op:
        batch_op.create_index('ix_deletion_requests_status_due_at', ['status', 'due_at'], unique=False)
        batch_op.create_index('uq_deletion_requests_open', ['user_id'], unique=True, postgresql_where=sa.text("status = 'waiting' OR status = 'erasing'"), sqlite_where=sa.text("status = 'waiting' OR status = 'erasing'"))

    op.create_table('policy_acceptances',
    sa.Column('user_id', sa.Uuid(), nullable=False),
    sa.Column('version', sa.String(length=32), nullable=False),
    sa.Column('accepted_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('id', sa.Uuid(), nullable=False),
    sa.ForeignKeyConstraint(['user_id'], ['users.id'], name=op.f('fk_policy_acceptances_user_id_users'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_policy_acceptances')),
    sa.UniqueConstraint('user_id', 'version', name=op.f('uq_policy_acceptances_user_id_version'))
    )
    op.create_table('privacy_policies',
    sa.Column('version', sa.String(length=32), nullable=False),
    sa.Column('text', sa.Text(), nullable=False),
    sa.Column('effective_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('published_by_id', sa.Uuid(), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('id', sa.Uuid(), nullable=False),
    sa.ForeignKeyConstraint(['published_by_id'], ['users.id'], name=op.f('fk_privacy_policies_published_by_id_users'), ondelete='SET NULL'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_privacy_policies')),
    sa.UniqueConstraint('version', name=op.f('uq_privacy_policies_version'))
    )
    with op.batch_alter_table('privacy_policies', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_privacy_policies_effective_at'), ['effective_at'], unique=False)

    with op.batch_alter_table('elders', schema=None) as batch_op:
        batch_op.add_column(sa.Column('phone_hash', sa.String(length=64), nullable=True))
        batch_op.alter_column('phone',
               existing_type=sa.VARCHAR(length=20),
               type_=sa.String(length=160),
               existing_nullable=True)
        batch_op.create_index(batch_op.f('ix_elders_phone_hash'), ['phone_hash'], unique=False)

    with op.batch_alter_table('users', schema=None) as batch_op:
        batch_op.add_column(sa.Column('phone_hash', sa.String(length=64), nullable=True))
        batch_op.add_column(sa.Column('policy_version', sa.String(length=32), nullable=True))
        batch_op.add_column(sa.Column('policy_accepted_at', sa.DateTime(timezone=True), nullable=True))
        batch_op.alter_column('phone',
               existing_type=sa.VARCHAR(length=20),
               type_=sa.String(length=160),
               existing_nullable=True)
        batch_op.create_index(batch_op.f('ix_users_phone_hash'), ['phone_hash'], unique=False)

    _encrypt_phones()


def downgrade() -> None:
    _decrypt_phones()
    with op.batch_alter_table('users', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_users_phone_hash'))
        batch_op.alter_column('phone',
               existing_type=sa.String(length=160),
               type_=sa.VARCHAR(length=20),
               existing_nullable=True)
        batch_op.drop_column('policy_accepted_at')
        batch_op.drop_column('policy_version')
        batch_op.drop_column('phone_hash')

    with op.batch_alter_table('elders', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_elders_phone_hash'))
        batch_op.alter_column('phone',
               existing_type=sa.String(length=160),
               type_=sa.VARCHAR(length=20),
               existing_nullable=True)
        batch_op.drop_column('phone_hash')

    with op.batch_alter_table('privacy_policies', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_privacy_policies_effective_at'))

    op.drop_table('privacy_policies')
    op.drop_table('policy_acceptances')
    with op.batch_alter_table('deletion_requests', schema=None) as batch_op:
        batch_op.drop_index('uq_deletion_requests_open', postgresql_where=sa.text("status = 'waiting' OR status = 'erasing'"), sqlite_where=sa.text("status = 'waiting' OR status = 'erasing'"))
        batch_op.drop_index('ix_deletion_requests_status_due_at')

    op.drop_table('deletion_requests')
    with op.batch_alter_table('data_exports', schema=None) as batch_op:
        batch_op.drop_index('uq_data_exports_running', postgresql_where=sa.text("status = 'queued' OR status = 'building'"), sqlite_where=sa.text("status = 'queued' OR status = 'building'"))
        batch_op.drop_index('ix_data_exports_user_id_id')
        batch_op.drop_index(batch_op.f('ix_data_exports_expires_at'))

    op.drop_table('data_exports')
    with op.batch_alter_table('access_log', schema=None) as batch_op:
        batch_op.drop_index('ix_access_log_subject')
        batch_op.drop_index('ix_access_log_staff_id_id')
        batch_op.drop_index('ix_access_log_at')

    op.drop_table('access_log')
