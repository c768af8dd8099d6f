"""outbox: each message's subject area (staff scope), in-flight and unknown delivery attempts

Revision ID: 0011_outbox_subject
Revises: 0010_hostile_input
Create Date: 2026-12-02
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op


revision = '0011_outbox_subject'
down_revision = '0010_hostile_input'
branch_labels = None
depends_on = None

# delivery_attempts.outcome gains 'sending' (recorded before the WeChat call) and 'unknown' (the deliverer died
# during it): the same VARCHAR(7), a wider CHECK.
OUTCOMES_OLD = sa.Enum('sent', 'retry', 'refused', 'skipped', name='attempt_outcome', native_enum=False, create_constraint=True)
OUTCOMES_NEW = sa.Enum('sending', 'sent', 'retry', 'refused', 'skipped', 'unknown', name='attempt_outcome', native_enum=False, create_constraint=True)

# Where an existing message's subject can be found: (kinds, how the message names it, the subject's id and
# area path). A message names its subject by a context field ('json:alert_id') or by its dedupe key's suffix
# ('key:household-request:'). Messages of other kinds (family_binding_decided names no id) stay without a
# subject: only the whole subdistrict's staff and admins see them.
BACKFILL = [
    (('device_alert',), 'json:alert_id',
     "SELECT {id} AS key, x.area_path AS path FROM alerts x WHERE x.area_path <> ''"),
    (('household_request_decided',), 'key:household-request:',
     'SELECT {id} AS key, ar.path AS path FROM household_requests x '
     'JOIN rooms r ON r.id = x.room_id JOIN areas ar ON ar.id = r.building_id'),
    (('incident_status_changed', 'incident_overdue'), 'json:incident_id',
     'SELECT {id} AS key, ar.path AS path FROM incidents x JOIN areas ar ON ar.id = x.area_id'),
    (('booking_promoted', 'event_reminder'), 'json:booking_id',
     'SELECT {id} AS key, ar.path AS path FROM bookings x '
     'JOIN events e ON e.id = x.event_id JOIN areas ar ON ar.id = e.area_id'),
    (('event_cancelled',), 'json:event_id',
     'SELECT {id} AS key, ar.path AS path FROM events x JOIN areas ar ON ar.id = x.area_id'),
    (('family_binding_requested',), 'json:elder_id',
     'SELECT {id} AS key, ar.path AS path FROM elders x '
     'JOIN rooms r ON r.id = x.room_id JOIN areas ar ON ar.id = r.building_id'),
    (('elder_registration_decided',), 'key:elder-registration:',
     'SELECT {id} AS key, ar.path AS path FROM elders x '
     'JOIN rooms r ON r.id = x.room_id JOIN areas ar ON ar.id = r.building_id'),
]


def _backfill() -> None:
    postgresql = op.get_bind().dialect.name == 'postgresql'
    for kinds, named_by, source in BACKFILL:
        how, _, name = named_by.partition(':')
        if how == 'json':
            raw = f"notifications.context ->> '{name}'" if postgresql else f"json_extract(notifications.context, '$.{name}')"
        else:
            raw = f"substr(notifications.dedupe_key, {len(name) + 1})"
        # UUIDs as text: PostgreSQL writes them with dashes; on SQLite they are stored as 32 hex digits.
        key = f"lower({raw})" if postgresql else f"replace(lower({raw}), '-', '')"
        subjects = source.format(id='x.id::text' if postgresql else 'x.id')
        kind_list = ', '.join(f"'{k}'" for k in kinds)
        where = f"notifications.kind IN ({kind_list}) AND notifications.subject_path IS NULL"
        if how == 'key':
            where += f" AND notifications.dedupe_key LIKE '{name}%'"
        if postgresql:  # one join, not a lookup per message
            op.execute(
                f"UPDATE notifications SET subject_path = s.path FROM ({subjects}) AS s WHERE {where} AND s.key = {key}"
            )
        else:
            op.execute(
                f"UPDATE notifications SET subject_path = (SELECT s.path FROM ({subjects}) AS s WHERE s.key = {key}) "
                f"WHERE {where}"
            )


def upgrade() -> None:
    with op.batch_alter_table('notifications', schema=None) as batch_op:
        batch_op.add_column(sa.Column('subject_path', sa.String(length=255), nullable=True))
        batch_op.create_index('ix_notifications_subject_path_id', ['subject_path', 'id'], unique=False, postgresql_ops={'subject_path': 'varchar_pattern_ops'})

    with op.batch_alter_table('delivery_attempts', schema=None) as batch_op:
        batch_op.drop_constraint(op.f('ck_delivery_attempts_attempt_outcome'), type_='check')
        batch_op.alter_column('outcome', existing_type=sa.String(length=7), type_=OUTCOMES_NEW, existing_nullable=False)

    _backfill()


def downgrade() -> None:
    # The old CHECK knows neither state: an attempt whose answer is not known counts as one to retry.
    op.execute("UPDATE delivery_attempts SET outcome = 'retry' WHERE outcome IN ('sending', 'unknown')")
    with op.batch_alter_table('delivery_attempts', schema=None) as batch_op:
        batch_op.drop_constraint(op.f('ck_delivery_attempts_attempt_outcome'), type_='check')
        batch_op.alter_column('outcome', existing_type=sa.String(length=7), type_=OUTCOMES_OLD, existing_nullable=False)

    with op.batch_alter_table('notifications', schema=None) as batch_op:
        batch_op.drop_index('ix_notifications_subject_path_id', postgresql_ops={'subject_path': 'varchar_pattern_ops'})
        batch_op.drop_column('subject_path')
