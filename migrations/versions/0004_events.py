"""events and bookings

Revision ID: 0004_events
Revises: 0003_media
Create Date: 2026-11-23
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op


revision = '0004_events'
down_revision = '0003_media'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('events',
    sa.Column('title', sa.String(length=64), nullable=False),
    sa.Column('description', sa.Text(), nullable=False),
    sa.Column('category', sa.Enum('culture', 'sports', 'health', 'party', 'volunteer', 'other', name='event_category', native_enum=False, create_constraint=True), nullable=False),
    sa.Column('venue', sa.String(length=128), nullable=False),
    sa.Column('area_id', sa.Uuid(), nullable=False),
    sa.Column('cover_media_id', sa.Uuid(), nullable=True),
    sa.Column('starts_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('ends_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('booking_opens_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('booking_closes_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('capacity', sa.Integer(), nullable=False),
    sa.Column('seats_taken', sa.Integer(), server_default=sa.text('0'), nullable=False),
    sa.Column('waitlist_limit', sa.Integer(), server_default=sa.text('0'), nullable=False),
    sa.Column('waitlist_count', sa.Integer(), server_default=sa.text('0'), nullable=False),
    sa.Column('next_waitlist_seq', sa.BigInteger(), server_default=sa.text('1'), nullable=False),
    sa.Column('max_companions', sa.Integer(), server_default=sa.text('0'), nullable=False),
    sa.Column('cancel_cutoff_minutes', sa.Integer(), server_default=sa.text('(120)'), nullable=False),
    sa.Column('eligibility', sa.JSON(), nullable=False),
    sa.Column('status', sa.Enum('draft', 'published', 'cancelled', name='event_status', native_enum=False, create_constraint=True), nullable=False),
    sa.Column('published_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('cancelled_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('cancel_reason', sa.String(length=200), nullable=True),
    sa.Column('created_by_id', sa.Uuid(), nullable=False),
    sa.Column('id', sa.Uuid(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
    sa.CheckConstraint('ends_at > starts_at', name=op.f('ck_events_ends_after_start')),
    sa.CheckConstraint('seats_taken >= 0 AND seats_taken <= capacity', name=op.f('ck_events_seats_within_capacity')),
    sa.CheckConstraint('waitlist_count >= 0', name=op.f('ck_events_waitlist_not_negative')),
    sa.ForeignKeyConstraint(['area_id'], ['areas.id'], name=op.f('fk_events_area_id_areas'), ondelete='RESTRICT'),
    sa.ForeignKeyConstraint(['cover_media_id'], ['media.id'], name=op.f('fk_events_cover_media_id_media'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['created_by_id'], ['users.id'], name=op.f('fk_events_created_by_id_users'), ondelete='RESTRICT'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_events'))
    )
    with op.batch_alter_table('events', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_events_area_id'), ['area_id'], unique=False)
        batch_op.create_index('ix_events_status_starts_at', ['status', 'starts_at'], unique=False)

    op.create_table('bookings',
    sa.Column('event_id', sa.Uuid(), nullable=False),
    sa.Column('user_id', sa.Uuid(), nullable=False),
    sa.Column('status', sa.Enum('confirmed', 'waitlisted', 'cancelled', name='booking_status', native_enum=False, create_constraint=True), nullable=False),
    sa.Column('party_size', sa.Integer(), nullable=False),
    sa.Column('waitlist_seq', sa.BigInteger(), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('confirmed_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('cancelled_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('checked_in_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('checked_in_by_id', sa.Uuid(), nullable=True),
    sa.Column('reminded_day_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('reminded_hour_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('id', sa.Uuid(), nullable=False),
    sa.CheckConstraint('party_size >= 1', name=op.f('ck_bookings_party_size_positive')),
    sa.ForeignKeyConstraint(['checked_in_by_id'], ['users.id'], name=op.f('fk_bookings_checked_in_by_id_users'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['event_id'], ['events.id'], name=op.f('fk_bookings_event_id_events'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['user_id'], ['users.id'], name=op.f('fk_bookings_user_id_users'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_bookings'))
    )
    with op.batch_alter_table('bookings', schema=None) as batch_op:
        batch_op.create_index('ix_bookings_event_id_status_waitlist_seq', ['event_id', 'status', 'waitlist_seq'], unique=False)
        batch_op.create_index('ix_bookings_user_id_id', ['user_id', 'id'], unique=False)
        batch_op.create_index('uq_bookings_active_per_user', ['event_id', 'user_id'], unique=True, postgresql_where=sa.text("status <> 'cancelled'"), sqlite_where=sa.text("status <> 'cancelled'"))

    with op.batch_alter_table('users', schema=None) as batch_op:
        batch_op.add_column(sa.Column('birth_year', sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column('is_party_member', sa.Boolean(), server_default=sa.text('false'), nullable=False))



def downgrade() -> None:
    with op.batch_alter_table('users', schema=None) as batch_op:
        batch_op.drop_column('is_party_member')
        batch_op.drop_column('birth_year')

    with op.batch_alter_table('bookings', schema=None) as batch_op:
        batch_op.drop_index('uq_bookings_active_per_user', postgresql_where=sa.text("status <> 'cancelled'"), sqlite_where=sa.text("status <> 'cancelled'"))
        batch_op.drop_index('ix_bookings_user_id_id')
        batch_op.drop_index('ix_bookings_event_id_status_waitlist_seq')

    op.drop_table('bookings')
    with op.batch_alter_table('events', schema=None) as batch_op:
        batch_op.drop_index('ix_events_status_starts_at')
        batch_op.drop_index(batch_op.f('ix_events_area_id'))

    op.drop_table('events')
