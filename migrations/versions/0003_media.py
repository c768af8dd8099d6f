"""media: uploaded photos, their storage objects and the record they are attached to

Revision ID: 0003_media
Revises: 0002_notifications
Create Date: 2026-11-23
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op


revision = '0003_media'
down_revision = '0002_notifications'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('media',
    sa.Column('owner_id', sa.Uuid(), nullable=False),
    sa.Column('status', sa.Enum('pending_upload', 'ready', name='media_status', native_enum=False, create_constraint=True), nullable=False),
    sa.Column('content_type', sa.String(length=32), nullable=False),
    sa.Column('size', sa.Integer(), nullable=True),
    sa.Column('width', sa.Integer(), nullable=True),
    sa.Column('height', sa.Integer(), nullable=True),
    sa.Column('object_key', sa.String(length=255), nullable=True),
    sa.Column('thumbnail_key', sa.String(length=255), nullable=True),
    sa.Column('upload_key', sa.String(length=255), nullable=True),
    sa.Column('upload_expires_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('record_type', sa.String(length=32), nullable=True),
    sa.Column('record_id', sa.Uuid(), nullable=True),
    sa.Column('attached_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('position', sa.Integer(), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('id', sa.Uuid(), nullable=False),
    sa.CheckConstraint('(record_type IS NULL) = (record_id IS NULL)', name=op.f('ck_media_attachment')),
    sa.ForeignKeyConstraint(['owner_id'], ['users.id'], name=op.f('fk_media_owner_id_users'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_media'))
    )
    with op.batch_alter_table('media', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_media_owner_id'), ['owner_id'], unique=False)
        batch_op.create_index('ix_media_record', ['record_type', 'record_id'], unique=False)
        batch_op.create_index('ix_media_unattached_created', ['created_at'], unique=False, postgresql_where=sa.text('record_id IS NULL'), sqlite_where=sa.text('record_id IS NULL'))


def downgrade() -> None:
    with op.batch_alter_table('media', schema=None) as batch_op:
        batch_op.drop_index('ix_media_unattached_created', postgresql_where=sa.text('record_id IS NULL'), sqlite_where=sa.text('record_id IS NULL'))
        batch_op.drop_index('ix_media_record')
        batch_op.drop_index(batch_op.f('ix_media_owner_id'))

    op.drop_table('media')
