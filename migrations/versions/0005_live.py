"""live sessions, replay files and viewing records

Revision ID: 0005_live
Revises: 0004_events
Create Date: 2026-11-23
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op


revision = '0005_live'
down_revision = '0004_events'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('live_sessions',
    sa.Column('event_id', sa.Uuid(), nullable=False),
    sa.Column('stream_name', sa.String(length=64), nullable=False),
    sa.Column('status', sa.Enum('scheduled', 'live', 'ended', 'replay_ready', name='live_status', native_enum=False, create_constraint=True), nullable=False),
    sa.Column('scheduled_start', sa.DateTime(timezone=True), nullable=False),
    sa.Column('started_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('last_published_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('ended_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('publish_count', sa.Integer(), server_default=sa.text('0'), nullable=False),
    sa.Column('publisher_client_id', sa.String(length=64), nullable=True),
    sa.Column('created_by_id', sa.Uuid(), nullable=True),
    sa.Column('id', sa.Uuid(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
    sa.CheckConstraint('publish_count >= 0', name=op.f('ck_live_sessions_publish_count_not_negative')),
    sa.ForeignKeyConstraint(['created_by_id'], ['users.id'], name=op.f('fk_live_sessions_created_by_id_users'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['event_id'], ['events.id'], name=op.f('fk_live_sessions_event_id_events'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_live_sessions')),
    sa.UniqueConstraint('event_id', name=op.f('uq_live_sessions_event_id')),
    sa.UniqueConstraint('stream_name', name=op.f('uq_live_sessions_stream_name'))
    )
    op.create_table('replay_files',
    sa.Column('live_session_id', sa.Uuid(), nullable=False),
    sa.Column('path', sa.String(length=512), nullable=False),
    sa.Column('duration_seconds', sa.Integer(), nullable=True),
    sa.Column('size_bytes', sa.BigInteger(), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('id', sa.Uuid(), nullable=False),
    sa.ForeignKeyConstraint(['live_session_id'], ['live_sessions.id'], name=op.f('fk_replay_files_live_session_id_live_sessions'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_replay_files')),
    sa.UniqueConstraint('live_session_id', 'path', name=op.f('uq_replay_files_live_session_id_path'))
    )
    op.create_table('viewer_minutes',
    sa.Column('live_session_id', sa.Uuid(), nullable=False),
    sa.Column('mode', sa.Enum('live', 'replay', name='viewing_mode', native_enum=False, create_constraint=True), nullable=False),
    sa.Column('minute', sa.DateTime(timezone=True), nullable=False),
    sa.Column('user_id', sa.Uuid(), nullable=False),
    sa.Column('seconds', sa.Integer(), server_default=sa.text('0'), nullable=False),
    sa.CheckConstraint('seconds >= 0 AND seconds <= 60', name=op.f('ck_viewer_minutes_seconds_within_minute')),
    sa.ForeignKeyConstraint(['live_session_id'], ['live_sessions.id'], name=op.f('fk_viewer_minutes_live_session_id_live_sessions'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['user_id'], ['users.id'], name=op.f('fk_viewer_minutes_user_id_users'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('live_session_id', 'mode', 'minute', 'user_id', name=op.f('pk_viewer_minutes'))
    )
    with op.batch_alter_table('viewer_minutes', schema=None) as batch_op:
        batch_op.create_index('ix_viewer_minutes_user_id', ['user_id'], unique=False)

    op.create_table('viewing_sessions',
    sa.Column('live_session_id', sa.Uuid(), nullable=False),
    sa.Column('user_id', sa.Uuid(), nullable=False),
    sa.Column('mode', sa.Enum('live', 'replay', name='viewing_mode', native_enum=False, create_constraint=True), nullable=False),
    sa.Column('play_id', sa.String(length=64), nullable=False),
    sa.Column('started_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('last_heartbeat_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('watched_seconds', sa.Integer(), server_default=sa.text('0'), nullable=False),
    sa.Column('position_seconds', sa.Integer(), nullable=True),
    sa.Column('id', sa.Uuid(), nullable=False),
    sa.CheckConstraint('watched_seconds >= 0', name=op.f('ck_viewing_sessions_watched_seconds_not_negative')),
    sa.ForeignKeyConstraint(['live_session_id'], ['live_sessions.id'], name=op.f('fk_viewing_sessions_live_session_id_live_sessions'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['user_id'], ['users.id'], name=op.f('fk_viewing_sessions_user_id_users'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_viewing_sessions')),
    sa.UniqueConstraint('live_session_id', 'user_id', 'mode', 'play_id', name=op.f('uq_viewing_sessions_live_session_id_user_id_mode_play_id'))
    )
    with op.batch_alter_table('viewing_sessions', schema=None) as batch_op:
        batch_op.create_index('ix_viewing_sessions_user_id', ['user_id'], unique=False)



def downgrade() -> None:
    with op.batch_alter_table('viewing_sessions', schema=None) as batch_op:
        batch_op.drop_index('ix_viewing_sessions_user_id')

    op.drop_table('viewing_sessions')
    with op.batch_alter_table('viewer_minutes', schema=None) as batch_op:
        batch_op.drop_index('ix_viewer_minutes_user_id')

    op.drop_table('viewer_minutes')
    op.drop_table('replay_files')
    op.drop_table('live_sessions')
