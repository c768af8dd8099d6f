"""parking: shared parking (issue 17) — lots, spaces, sharing offers, vehicles, quotes, bookings, passes, the
holds they take on spaces (with, on PostgreSQL, the exclusion constraint that refuses two live holds of one bay
overlapping), sessions, passages, magnetometers, anomalies, and the gate/sensor replay guard

Revision ID: 0015_parking
Revises: 0014_volunteers
Create Date: 2026-12-02
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = '0015_parking'
down_revision = '0014_volunteers'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('parking_batch_receipts',
    sa.Column('platform', sa.String(length=40), nullable=False),
    sa.Column('signature', sa.String(length=64), nullable=False),
    sa.Column('received_at', sa.DateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('platform', 'signature', name=op.f('pk_parking_batch_receipts'))
    )
    with op.batch_alter_table('parking_batch_receipts', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_parking_batch_receipts_received_at'), ['received_at'], unique=False)

    op.create_table('parking_lots',
    sa.Column('area_id', sa.Uuid(), nullable=False),
    sa.Column('area_path', sa.String(length=255), nullable=False),
    sa.Column('name', sa.String(length=64), nullable=False),
    sa.Column('kind', sa.Enum('car_park', 'road', name='parking_lot_kind', native_enum=False, create_constraint=True), nullable=False),
    sa.Column('address', sa.String(length=200), nullable=False),
    sa.Column('lat', sa.Float(), nullable=False),
    sa.Column('lng', sa.Float(), nullable=False),
    sa.Column('opening_hours', sa.String(length=200), nullable=False),
    sa.Column('hourly_rate_fen', sa.Integer(), nullable=False),
    sa.Column('daily_cap_fen', sa.Integer(), nullable=False),
    sa.Column('overstay_rate_fen', sa.Integer(), nullable=False),
    sa.Column('pass_monthly_fen', sa.Integer(), server_default=sa.text('0'), nullable=False),
    sa.Column('gate_platform', sa.String(length=32), nullable=True),
    sa.Column('gate_vendor', sa.String(length=32), nullable=False),
    sa.Column('allowlist_reconciled_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('is_active', sa.Boolean(), server_default=sa.text('(true)'), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('id', sa.Uuid(), nullable=False),
    sa.CheckConstraint('hourly_rate_fen >= 0 AND daily_cap_fen >= 0', name=op.f('ck_parking_lots_prices_not_negative')),
    sa.CheckConstraint('lat BETWEEN -90 AND 90 AND lng BETWEEN -180 AND 180', name=op.f('ck_parking_lots_on_the_globe')),
    sa.CheckConstraint('overstay_rate_fen >= 0 AND pass_monthly_fen >= 0', name=op.f('ck_parking_lots_rates_not_negative')),
    sa.ForeignKeyConstraint(['area_id'], ['areas.id'], name=op.f('fk_parking_lots_area_id_areas'), ondelete='RESTRICT'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_parking_lots'))
    )
    with op.batch_alter_table('parking_lots', schema=None) as batch_op:
        batch_op.create_index('ix_parking_lots_area_path_id', ['area_path', 'id'], unique=False, postgresql_ops={'area_path': 'varchar_pattern_ops'})
        batch_op.create_index('ix_parking_lots_lat_lng', ['lat', 'lng'], unique=False)

    op.create_table('parking_offers',
    sa.Column('lot_id', sa.Uuid(), nullable=False),
    sa.Column('lender_id', sa.Uuid(), nullable=True),
    sa.Column('area_path', sa.String(length=255), nullable=False),
    sa.Column('rules', sa.JSON(), nullable=False),
    sa.Column('blocked_dates', sa.JSON(), nullable=False),
    sa.Column('note', sa.String(length=200), nullable=False),
    sa.Column('status', sa.Enum('pending', 'approved', 'rejected', 'superseded', 'withdrawn', name='parking_offer_status', native_enum=False, create_constraint=True), nullable=False),
    sa.Column('decided_by_id', sa.Uuid(), nullable=True),
    sa.Column('decided_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('reject_reason', sa.String(length=200), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('id', sa.Uuid(), nullable=False),
    sa.ForeignKeyConstraint(['decided_by_id'], ['users.id'], name=op.f('fk_parking_offers_decided_by_id_users'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['lender_id'], ['users.id'], name=op.f('fk_parking_offers_lender_id_users'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['lot_id'], ['parking_lots.id'], name=op.f('fk_parking_offers_lot_id_parking_lots'), ondelete='RESTRICT'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_parking_offers'))
    )
    with op.batch_alter_table('parking_offers', schema=None) as batch_op:
        batch_op.create_index('ix_parking_offers_area_path_id', ['area_path', 'id'], unique=False, postgresql_ops={'area_path': 'varchar_pattern_ops'})
        batch_op.create_index(batch_op.f('ix_parking_offers_lender_id'), ['lender_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_parking_offers_lot_id'), ['lot_id'], unique=False)
        batch_op.create_index('uq_parking_offers_approved', ['lot_id', 'lender_id'], unique=True, postgresql_where=sa.text("status = 'approved'"), sqlite_where=sa.text("status = 'approved'"))
        batch_op.create_index('uq_parking_offers_pending', ['lot_id', 'lender_id'], unique=True, postgresql_where=sa.text("status = 'pending'"), sqlite_where=sa.text("status = 'pending'"))

    op.create_table('parking_spaces',
    sa.Column('lot_id', sa.Uuid(), nullable=False),
    sa.Column('area_path', sa.String(length=255), nullable=False),
    sa.Column('code', sa.String(length=32), nullable=False),
    sa.Column('kind', sa.Enum('bay', 'pool', name='parking_space_kind', native_enum=False, create_constraint=True), nullable=False),
    sa.Column('capacity', sa.Integer(), nullable=False),
    sa.Column('lender_id', sa.Uuid(), nullable=True),
    sa.Column('is_active', sa.Boolean(), server_default=sa.text('(true)'), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('id', sa.Uuid(), nullable=False),
    sa.CheckConstraint("kind = 'pool' OR capacity = 1", name=op.f('ck_parking_spaces_bay_holds_one')),
    sa.CheckConstraint('capacity >= 1', name=op.f('ck_parking_spaces_capacity_positive')),
    sa.ForeignKeyConstraint(['lender_id'], ['users.id'], name=op.f('fk_parking_spaces_lender_id_users'), ondelete='RESTRICT'),
    sa.ForeignKeyConstraint(['lot_id'], ['parking_lots.id'], name=op.f('fk_parking_spaces_lot_id_parking_lots'), ondelete='RESTRICT'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_parking_spaces')),
    sa.UniqueConstraint('lot_id', 'code', name=op.f('uq_parking_spaces_lot_id_code'))
    )
    with op.batch_alter_table('parking_spaces', schema=None) as batch_op:
        batch_op.create_index('ix_parking_spaces_area_path_id', ['area_path', 'id'], unique=False, postgresql_ops={'area_path': 'varchar_pattern_ops'})
        batch_op.create_index(batch_op.f('ix_parking_spaces_lender_id'), ['lender_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_parking_spaces_lot_id'), ['lot_id'], unique=False)

    op.create_table('parking_quotes',
    sa.Column('user_id', sa.Uuid(), nullable=False),
    sa.Column('lot_id', sa.Uuid(), nullable=False),
    sa.Column('space_id', sa.Uuid(), nullable=True),
    sa.Column('starts_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('ends_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('price_fen', sa.Integer(), nullable=False),
    sa.Column('window', sa.String(length=64), nullable=False),
    sa.Column('expires_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('id', sa.Uuid(), nullable=False),
    sa.ForeignKeyConstraint(['lot_id'], ['parking_lots.id'], name=op.f('fk_parking_quotes_lot_id_parking_lots'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['space_id'], ['parking_spaces.id'], name=op.f('fk_parking_quotes_space_id_parking_spaces'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['user_id'], ['users.id'], name=op.f('fk_parking_quotes_user_id_users'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_parking_quotes'))
    )
    with op.batch_alter_table('parking_quotes', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_parking_quotes_expires_at'), ['expires_at'], unique=False)
        batch_op.create_index(batch_op.f('ix_parking_quotes_user_id'), ['user_id'], unique=False)

    op.create_table('parking_sensors',
    sa.Column('serial', sa.String(length=64), nullable=False),
    sa.Column('space_id', sa.Uuid(), nullable=False),
    sa.Column('area_path', sa.String(length=255), nullable=False),
    sa.Column('heartbeat_seconds', sa.Integer(), nullable=False),
    sa.Column('last_seq', sa.Integer(), nullable=True),
    sa.Column('last_frame_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('reported', sa.Enum('vacant', 'occupied', 'unknown', 'fault', name='parking_sensor_reported', native_enum=False, create_constraint=True), nullable=True),
    sa.Column('reported_since', sa.DateTime(timezone=True), nullable=True),
    sa.Column('state', sa.Enum('vacant', 'occupied', 'unknown', 'fault', name='parking_occupancy', native_enum=False, create_constraint=True), nullable=False),
    sa.Column('state_since', sa.DateTime(timezone=True), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('id', sa.Uuid(), nullable=False),
    sa.ForeignKeyConstraint(['space_id'], ['parking_spaces.id'], name=op.f('fk_parking_sensors_space_id_parking_spaces'), ondelete='RESTRICT'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_parking_sensors')),
    sa.UniqueConstraint('serial', name=op.f('uq_parking_sensors_serial')),
    sa.UniqueConstraint('space_id', name=op.f('uq_parking_sensors_space_id'))
    )
    with op.batch_alter_table('parking_sensors', schema=None) as batch_op:
        batch_op.create_index('ix_parking_sensors_area_path_id', ['area_path', 'id'], unique=False, postgresql_ops={'area_path': 'varchar_pattern_ops'})

    op.create_table('parking_vehicles',
    sa.Column('owner_id', sa.Uuid(), nullable=False),
    sa.Column('room_id', sa.Uuid(), nullable=False),
    sa.Column('area_path', sa.String(length=255), nullable=False),
    sa.Column('plate', sa.String(length=10), nullable=False),
    sa.Column('new_energy', sa.Boolean(), nullable=False),
    sa.Column('verification', sa.Enum('unverified', 'verified', 'rejected', name='parking_vehicle_verification', native_enum=False, create_constraint=True), nullable=False),
    sa.Column('verified_via', sa.String(length=16), nullable=True),
    sa.Column('licence_media_id', sa.Uuid(), nullable=True),
    sa.Column('verified_by_id', sa.Uuid(), nullable=True),
    sa.Column('verified_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('reject_reason', sa.String(length=200), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('removed_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('id', sa.Uuid(), nullable=False),
    sa.ForeignKeyConstraint(['licence_media_id'], ['media.id'], name=op.f('fk_parking_vehicles_licence_media_id_media'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['owner_id'], ['users.id'], name=op.f('fk_parking_vehicles_owner_id_users'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['room_id'], ['rooms.id'], name=op.f('fk_parking_vehicles_room_id_rooms'), ondelete='RESTRICT'),
    sa.ForeignKeyConstraint(['verified_by_id'], ['users.id'], name=op.f('fk_parking_vehicles_verified_by_id_users'), ondelete='SET NULL'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_parking_vehicles'))
    )
    with op.batch_alter_table('parking_vehicles', schema=None) as batch_op:
        batch_op.create_index('ix_parking_vehicles_area_path_id', ['area_path', 'id'], unique=False, postgresql_ops={'area_path': 'varchar_pattern_ops'})
        batch_op.create_index(batch_op.f('ix_parking_vehicles_owner_id'), ['owner_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_parking_vehicles_room_id'), ['room_id'], unique=False)
        batch_op.create_index('uq_parking_vehicles_plate_registered', ['plate'], unique=True, postgresql_where=sa.text('removed_at IS NULL'), sqlite_where=sa.text('removed_at IS NULL'))

    op.create_table('parking_bookings',
    sa.Column('user_id', sa.Uuid(), nullable=True),
    sa.Column('vehicle_id', sa.Uuid(), nullable=True),
    sa.Column('plate', sa.String(length=10), nullable=True),
    sa.Column('lot_id', sa.Uuid(), nullable=False),
    sa.Column('space_id', sa.Uuid(), nullable=False),
    sa.Column('lender_id', sa.Uuid(), nullable=True),
    sa.Column('area_path', sa.String(length=255), nullable=False),
    sa.Column('starts_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('ends_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('window', sa.String(length=64), nullable=False),
    sa.Column('status', sa.Enum('held', 'confirmed', 'in_progress', 'completed', 'expired', 'cancelled', 'no_show', name='parking_booking_status', native_enum=False, create_constraint=True), nullable=False),
    sa.Column('price_fen', sa.Integer(), nullable=False),
    sa.Column('extension_fen', sa.Integer(), server_default=sa.text('0'), nullable=False),
    sa.Column('refund_fen', sa.Integer(), server_default=sa.text('0'), nullable=False),
    sa.Column('order_id', sa.Uuid(), nullable=True),
    sa.Column('hold_expires_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('confirmed_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('ended_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('cancelled_by', sa.String(length=16), nullable=True),
    sa.Column('cancel_reason', sa.String(length=200), nullable=True),
    sa.Column('warned_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('allowlist_pushed_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('id', sa.Uuid(), nullable=False),
    sa.CheckConstraint('ends_at > starts_at', name=op.f('ck_parking_bookings_ends_after_start')),
    sa.CheckConstraint('price_fen >= 0 AND extension_fen >= 0 AND refund_fen >= 0', name=op.f('ck_parking_bookings_money_not_negative')),
    sa.ForeignKeyConstraint(['lender_id'], ['users.id'], name=op.f('fk_parking_bookings_lender_id_users'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['lot_id'], ['parking_lots.id'], name=op.f('fk_parking_bookings_lot_id_parking_lots'), ondelete='RESTRICT'),
    sa.ForeignKeyConstraint(['order_id'], ['payment_orders.id'], name=op.f('fk_parking_bookings_order_id_payment_orders'), ondelete='RESTRICT'),
    sa.ForeignKeyConstraint(['space_id'], ['parking_spaces.id'], name=op.f('fk_parking_bookings_space_id_parking_spaces'), ondelete='RESTRICT'),
    sa.ForeignKeyConstraint(['user_id'], ['users.id'], name=op.f('fk_parking_bookings_user_id_users'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['vehicle_id'], ['parking_vehicles.id'], name=op.f('fk_parking_bookings_vehicle_id_parking_vehicles'), ondelete='SET NULL'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_parking_bookings'))
    )
    with op.batch_alter_table('parking_bookings', schema=None) as batch_op:
        batch_op.create_index('ix_parking_bookings_area_path_id', ['area_path', 'id'], unique=False, postgresql_ops={'area_path': 'varchar_pattern_ops'})
        batch_op.create_index(batch_op.f('ix_parking_bookings_lender_id'), ['lender_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_parking_bookings_lot_id'), ['lot_id'], unique=False)
        batch_op.create_index('ix_parking_bookings_plate_status', ['plate', 'status'], unique=False)
        batch_op.create_index(batch_op.f('ix_parking_bookings_space_id'), ['space_id'], unique=False)
        batch_op.create_index('ix_parking_bookings_status_hold_expires_at', ['status', 'hold_expires_at'], unique=False)
        batch_op.create_index('ix_parking_bookings_status_starts_at', ['status', 'starts_at'], unique=False)
        batch_op.create_index('ix_parking_bookings_user_id_id', ['user_id', 'id'], unique=False)

    op.create_table('parking_passes',
    sa.Column('user_id', sa.Uuid(), nullable=True),
    sa.Column('vehicle_id', sa.Uuid(), nullable=True),
    sa.Column('plate', sa.String(length=10), nullable=True),
    sa.Column('lot_id', sa.Uuid(), nullable=False),
    sa.Column('space_id', sa.Uuid(), nullable=False),
    sa.Column('area_path', sa.String(length=255), nullable=False),
    sa.Column('window_start', sa.String(length=5), nullable=False),
    sa.Column('window_end', sa.String(length=5), nullable=False),
    sa.Column('starts_on', sa.Date(), nullable=False),
    sa.Column('ends_on', sa.Date(), nullable=False),
    sa.Column('months', sa.Integer(), nullable=False),
    sa.Column('days', sa.Integer(), nullable=False),
    sa.Column('price_fen', sa.Integer(), nullable=False),
    sa.Column('status', sa.Enum('held', 'active', 'expired', 'cancelled', name='parking_pass_status', native_enum=False, create_constraint=True), nullable=False),
    sa.Column('order_id', sa.Uuid(), nullable=True),
    sa.Column('hold_expires_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('activated_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('allowlist_pushed_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('id', sa.Uuid(), nullable=False),
    sa.CheckConstraint('months BETWEEN 1 AND 12', name=op.f('ck_parking_passes_months_in_range')),
    sa.ForeignKeyConstraint(['lot_id'], ['parking_lots.id'], name=op.f('fk_parking_passes_lot_id_parking_lots'), ondelete='RESTRICT'),
    sa.ForeignKeyConstraint(['order_id'], ['payment_orders.id'], name=op.f('fk_parking_passes_order_id_payment_orders'), ondelete='RESTRICT'),
    sa.ForeignKeyConstraint(['space_id'], ['parking_spaces.id'], name=op.f('fk_parking_passes_space_id_parking_spaces'), ondelete='RESTRICT'),
    sa.ForeignKeyConstraint(['user_id'], ['users.id'], name=op.f('fk_parking_passes_user_id_users'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['vehicle_id'], ['parking_vehicles.id'], name=op.f('fk_parking_passes_vehicle_id_parking_vehicles'), ondelete='SET NULL'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_parking_passes'))
    )
    with op.batch_alter_table('parking_passes', schema=None) as batch_op:
        batch_op.create_index('ix_parking_passes_area_path_id', ['area_path', 'id'], unique=False, postgresql_ops={'area_path': 'varchar_pattern_ops'})
        batch_op.create_index(batch_op.f('ix_parking_passes_lot_id'), ['lot_id'], unique=False)
        batch_op.create_index('ix_parking_passes_plate_status', ['plate', 'status'], unique=False)
        batch_op.create_index(batch_op.f('ix_parking_passes_space_id'), ['space_id'], unique=False)
        batch_op.create_index('ix_parking_passes_user_id_id', ['user_id', 'id'], unique=False)

    op.create_table('parking_holds',
    sa.Column('space_id', sa.Uuid(), nullable=False),
    sa.Column('booking_id', sa.Uuid(), nullable=True),
    sa.Column('pass_id', sa.Uuid(), nullable=True),
    sa.Column('pooled', sa.Boolean(), nullable=False),
    sa.Column('starts_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('until', sa.DateTime(timezone=True), nullable=False),
    sa.Column('released_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('id', sa.Uuid(), nullable=False),
    sa.CheckConstraint('(booking_id IS NULL) <> (pass_id IS NULL)', name=op.f('ck_parking_holds_one_owner')),
    sa.CheckConstraint('until > starts_at', name=op.f('ck_parking_holds_until_after_start')),
    sa.ForeignKeyConstraint(['booking_id'], ['parking_bookings.id'], name=op.f('fk_parking_holds_booking_id_parking_bookings'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['pass_id'], ['parking_passes.id'], name=op.f('fk_parking_holds_pass_id_parking_passes'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['space_id'], ['parking_spaces.id'], name=op.f('fk_parking_holds_space_id_parking_spaces'), ondelete='RESTRICT'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_parking_holds'))
    )
    with op.batch_alter_table('parking_holds', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_parking_holds_booking_id'), ['booking_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_parking_holds_pass_id'), ['pass_id'], unique=False)
        batch_op.create_index('ix_parking_holds_space_id_starts_at', ['space_id', 'starts_at'], unique=False)

    if op.get_bind().dialect.name == 'postgresql':
        # Never two live holds of one bay overlapping in time, whatever the code does: half-open ranges, so
        # 18:00–22:00 and 22:00–08:00 both fit; pooled spaces are counted under their row lock instead.
        # btree_gist lets the uuid `=` sit beside the range `&&` in one GiST index (a trusted extension).
        op.execute('CREATE EXTENSION IF NOT EXISTS btree_gist')
        op.execute(
            "ALTER TABLE parking_holds ADD CONSTRAINT ex_parking_holds_no_overlap "
            "EXCLUDE USING gist (space_id WITH =, tstzrange(starts_at, until, '[)') WITH &&) "
            "WHERE (released_at IS NULL AND NOT pooled)"
        )

    op.create_table('parking_sessions',
    sa.Column('lot_id', sa.Uuid(), nullable=False),
    sa.Column('space_id', sa.Uuid(), nullable=True),
    sa.Column('area_path', sa.String(length=255), nullable=False),
    sa.Column('plate', sa.String(length=10), nullable=True),
    sa.Column('user_id', sa.Uuid(), nullable=True),
    sa.Column('booking_id', sa.Uuid(), nullable=True),
    sa.Column('pass_id', sa.Uuid(), nullable=True),
    sa.Column('status', sa.Enum('open', 'closed', name='parking_session_status', native_enum=False, create_constraint=True), nullable=False),
    sa.Column('entered_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('exited_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('overstay_minutes', sa.Integer(), nullable=False),
    sa.Column('charge_fen', sa.Integer(), nullable=False),
    sa.Column('charge_detail', sa.String(length=200), nullable=False),
    sa.Column('order_id', sa.Uuid(), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('id', sa.Uuid(), nullable=False),
    sa.CheckConstraint('charge_fen >= 0', name=op.f('ck_parking_sessions_charge_not_negative')),
    sa.ForeignKeyConstraint(['booking_id'], ['parking_bookings.id'], name=op.f('fk_parking_sessions_booking_id_parking_bookings'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['lot_id'], ['parking_lots.id'], name=op.f('fk_parking_sessions_lot_id_parking_lots'), ondelete='RESTRICT'),
    sa.ForeignKeyConstraint(['order_id'], ['payment_orders.id'], name=op.f('fk_parking_sessions_order_id_payment_orders'), ondelete='RESTRICT'),
    sa.ForeignKeyConstraint(['pass_id'], ['parking_passes.id'], name=op.f('fk_parking_sessions_pass_id_parking_passes'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['space_id'], ['parking_spaces.id'], name=op.f('fk_parking_sessions_space_id_parking_spaces'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['user_id'], ['users.id'], name=op.f('fk_parking_sessions_user_id_users'), ondelete='SET NULL'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_parking_sessions'))
    )
    with op.batch_alter_table('parking_sessions', schema=None) as batch_op:
        batch_op.create_index('ix_parking_sessions_area_path_id', ['area_path', 'id'], unique=False, postgresql_ops={'area_path': 'varchar_pattern_ops'})
        batch_op.create_index(batch_op.f('ix_parking_sessions_lot_id'), ['lot_id'], unique=False)
        batch_op.create_index('ix_parking_sessions_lot_plate_status', ['lot_id', 'plate', 'status'], unique=False)
        batch_op.create_index('ix_parking_sessions_user_id_id', ['user_id', 'id'], unique=False)

    op.create_table('parking_passages',
    sa.Column('platform', sa.String(length=32), nullable=False),
    sa.Column('event_id', sa.String(length=64), nullable=False),
    sa.Column('lot_id', sa.Uuid(), nullable=False),
    sa.Column('lane', sa.String(length=32), nullable=False),
    sa.Column('direction', sa.Enum('entry', 'exit', name='parking_direction', native_enum=False, create_constraint=True), nullable=False),
    sa.Column('plate', sa.String(length=10), nullable=True),
    sa.Column('at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('opened_by', sa.String(length=16), nullable=False),
    sa.Column('session_id', sa.Uuid(), nullable=True),
    sa.Column('received_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('id', sa.Uuid(), nullable=False),
    sa.ForeignKeyConstraint(['lot_id'], ['parking_lots.id'], name=op.f('fk_parking_passages_lot_id_parking_lots'), ondelete='RESTRICT'),
    sa.ForeignKeyConstraint(['session_id'], ['parking_sessions.id'], name=op.f('fk_parking_passages_session_id_parking_sessions'), ondelete='SET NULL'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_parking_passages')),
    sa.UniqueConstraint('platform', 'event_id', name=op.f('uq_parking_passages_platform_event_id'))
    )
    with op.batch_alter_table('parking_passages', schema=None) as batch_op:
        batch_op.create_index('ix_parking_passages_lot_plate_at', ['lot_id', 'plate', 'at'], unique=False)

    op.create_table('parking_anomalies',
    sa.Column('lot_id', sa.Uuid(), nullable=False),
    sa.Column('area_path', sa.String(length=255), nullable=False),
    sa.Column('kind', sa.Enum('exit_without_session', 'unbooked_entry', 'misread_opened', 'occupied_on_arrival', 'sensor_silent', 'sensor_fault', name='parking_anomaly_kind', native_enum=False, create_constraint=True), nullable=False),
    sa.Column('plate', sa.String(length=10), nullable=True),
    sa.Column('at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('details', sa.String(length=200), nullable=False),
    sa.Column('dedupe_key', sa.String(length=120), nullable=False),
    sa.Column('booking_id', sa.Uuid(), nullable=True),
    sa.Column('passage_id', sa.Uuid(), nullable=True),
    sa.Column('reported_by_id', sa.Uuid(), nullable=True),
    sa.Column('status', sa.Enum('open', 'resolved', name='parking_anomaly_status', native_enum=False, create_constraint=True), nullable=False),
    sa.Column('resolved_by_id', sa.Uuid(), nullable=True),
    sa.Column('resolved_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('resolution_note', sa.String(length=200), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('id', sa.Uuid(), nullable=False),
    sa.ForeignKeyConstraint(['booking_id'], ['parking_bookings.id'], name=op.f('fk_parking_anomalies_booking_id_parking_bookings'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['lot_id'], ['parking_lots.id'], name=op.f('fk_parking_anomalies_lot_id_parking_lots'), ondelete='RESTRICT'),
    sa.ForeignKeyConstraint(['passage_id'], ['parking_passages.id'], name=op.f('fk_parking_anomalies_passage_id_parking_passages'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['reported_by_id'], ['users.id'], name=op.f('fk_parking_anomalies_reported_by_id_users'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['resolved_by_id'], ['users.id'], name=op.f('fk_parking_anomalies_resolved_by_id_users'), ondelete='SET NULL'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_parking_anomalies'))
    )
    with op.batch_alter_table('parking_anomalies', schema=None) as batch_op:
        batch_op.create_index('ix_parking_anomalies_area_path_id', ['area_path', 'id'], unique=False, postgresql_ops={'area_path': 'varchar_pattern_ops'})
        batch_op.create_index(batch_op.f('ix_parking_anomalies_lot_id'), ['lot_id'], unique=False)
        batch_op.create_index('ix_parking_anomalies_status_id', ['status', 'id'], unique=False)
        batch_op.create_index('uq_parking_anomalies_open_key', ['dedupe_key'], unique=True, postgresql_where=sa.text("status = 'open'"), sqlite_where=sa.text("status = 'open'"))



def downgrade() -> None:
    with op.batch_alter_table('parking_anomalies', schema=None) as batch_op:
        batch_op.drop_index('uq_parking_anomalies_open_key', postgresql_where=sa.text("status = 'open'"), sqlite_where=sa.text("status = 'open'"))
        batch_op.drop_index('ix_parking_anomalies_status_id')
        batch_op.drop_index(batch_op.f('ix_parking_anomalies_lot_id'))
        batch_op.drop_index('ix_parking_anomalies_area_path_id', postgresql_ops={'area_path': 'varchar_pattern_ops'})

    op.drop_table('parking_anomalies')
    with op.batch_alter_table('parking_passages', schema=None) as batch_op:
        batch_op.drop_index('ix_parking_passages_lot_plate_at')

    op.drop_table('parking_passages')
    with op.batch_alter_table('parking_sessions', schema=None) as batch_op:
        batch_op.drop_index('ix_parking_sessions_user_id_id')
        batch_op.drop_index('ix_parking_sessions_lot_plate_status')
        batch_op.drop_index(batch_op.f('ix_parking_sessions_lot_id'))
        batch_op.drop_index('ix_parking_sessions_area_path_id', postgresql_ops={'area_path': 'varchar_pattern_ops'})

    op.drop_table('parking_sessions')
    with op.batch_alter_table('parking_holds', schema=None) as batch_op:
        batch_op.drop_index('ix_parking_holds_space_id_starts_at')
        batch_op.drop_index(batch_op.f('ix_parking_holds_pass_id'))
        batch_op.drop_index(batch_op.f('ix_parking_holds_booking_id'))

    op.drop_table('parking_holds')
    with op.batch_alter_table('parking_passes', schema=None) as batch_op:
        batch_op.drop_index('ix_parking_passes_user_id_id')
        batch_op.drop_index(batch_op.f('ix_parking_passes_space_id'))
        batch_op.drop_index('ix_parking_passes_plate_status')
        batch_op.drop_index(batch_op.f('ix_parking_passes_lot_id'))
        batch_op.drop_index('ix_parking_passes_area_path_id', postgresql_ops={'area_path': 'varchar_pattern_ops'})

    op.drop_table('parking_passes')
    with op.batch_alter_table('parking_bookings', schema=None) as batch_op:
        batch_op.drop_index('ix_parking_bookings_user_id_id')
        batch_op.drop_index('ix_parking_bookings_status_starts_at')
        batch_op.drop_index('ix_parking_bookings_status_hold_expires_at')
        batch_op.drop_index(batch_op.f('ix_parking_bookings_space_id'))
        batch_op.drop_index('ix_parking_bookings_plate_status')
        batch_op.drop_index(batch_op.f('ix_parking_bookings_lot_id'))
        batch_op.drop_index(batch_op.f('ix_parking_bookings_lender_id'))
        batch_op.drop_index('ix_parking_bookings_area_path_id', postgresql_ops={'area_path': 'varchar_pattern_ops'})

    op.drop_table('parking_bookings')
    with op.batch_alter_table('parking_vehicles', schema=None) as batch_op:
        batch_op.drop_index('uq_parking_vehicles_plate_registered', postgresql_where=sa.text('removed_at IS NULL'), sqlite_where=sa.text('removed_at IS NULL'))
        batch_op.drop_index(batch_op.f('ix_parking_vehicles_room_id'))
        batch_op.drop_index(batch_op.f('ix_parking_vehicles_owner_id'))
        batch_op.drop_index('ix_parking_vehicles_area_path_id', postgresql_ops={'area_path': 'varchar_pattern_ops'})

    op.drop_table('parking_vehicles')
    with op.batch_alter_table('parking_sensors', schema=None) as batch_op:
        batch_op.drop_index('ix_parking_sensors_area_path_id', postgresql_ops={'area_path': 'varchar_pattern_ops'})

    op.drop_table('parking_sensors')
    with op.batch_alter_table('parking_quotes', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_parking_quotes_user_id'))
        batch_op.drop_index(batch_op.f('ix_parking_quotes_expires_at'))

    op.drop_table('parking_quotes')
    with op.batch_alter_table('parking_spaces', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_parking_spaces_lot_id'))
        batch_op.drop_index(batch_op.f('ix_parking_spaces_lender_id'))
        batch_op.drop_index('ix_parking_spaces_area_path_id', postgresql_ops={'area_path': 'varchar_pattern_ops'})

    op.drop_table('parking_spaces')
    with op.batch_alter_table('parking_offers', schema=None) as batch_op:
        batch_op.drop_index('uq_parking_offers_pending', postgresql_where=sa.text("status = 'pending'"), sqlite_where=sa.text("status = 'pending'"))
        batch_op.drop_index('uq_parking_offers_approved', postgresql_where=sa.text("status = 'approved'"), sqlite_where=sa.text("status = 'approved'"))
        batch_op.drop_index(batch_op.f('ix_parking_offers_lot_id'))
        batch_op.drop_index(batch_op.f('ix_parking_offers_lender_id'))
        batch_op.drop_index('ix_parking_offers_area_path_id', postgresql_ops={'area_path': 'varchar_pattern_ops'})

    op.drop_table('parking_offers')
    with op.batch_alter_table('parking_lots', schema=None) as batch_op:
        batch_op.drop_index('ix_parking_lots_lat_lng')
        batch_op.drop_index('ix_parking_lots_area_path_id', postgresql_ops={'area_path': 'varchar_pattern_ops'})

    op.drop_table('parking_lots')
    with op.batch_alter_table('parking_batch_receipts', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_parking_batch_receipts_received_at'))

    op.drop_table('parking_batch_receipts')
