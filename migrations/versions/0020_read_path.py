"""read path: path-prefix indexes PostgreSQL can use for the staff scope (`path LIKE '/KJ/KJ01/%'`)

Staff lists filter by area path prefix (`api.scope`). Under a non-C collation a btree with the default
operator class cannot serve `LIKE 'prefix%'`, so PostgreSQL read every area (or alert, hours entry …) and
tested each. `varchar_pattern_ops` indexes can: a new one on `areas.path` (the unique index stays for
equality and uniqueness), and the `(area_path, id)` indexes of alerts, volunteer hours and time coins
rebuilt with that operator class (the newer domains' were created so). SQLite ignores operator classes.

Revision ID: 0020_read_path
Revises: 0019_aids
Create Date: 2026-12-03
"""

from __future__ import annotations

from alembic import op

revision = "0020_read_path"
down_revision = "0019_aids"
branch_labels = None
depends_on = None

PATTERN = "varchar_pattern_ops"
REBUILT = (
    ("alerts", "ix_alerts_area_path_id"),
    ("volunteer_hour_entries", "ix_volunteer_hour_entries_area_path_id"),
    ("time_coin_entries", "ix_time_coin_entries_area_path_id"),
)


def upgrade() -> None:
    with op.batch_alter_table("areas", schema=None) as batch_op:
        batch_op.create_index("ix_areas_path_prefix", ["path"], unique=False, postgresql_ops={"path": PATTERN})
    for table, name in REBUILT:
        with op.batch_alter_table(table, schema=None) as batch_op:
            batch_op.drop_index(name)
            batch_op.create_index(name, ["area_path", "id"], unique=False, postgresql_ops={"area_path": PATTERN})


def downgrade() -> None:
    for table, name in REBUILT:
        with op.batch_alter_table(table, schema=None) as batch_op:
            batch_op.drop_index(name)
            batch_op.create_index(name, ["area_path", "id"], unique=False)
    with op.batch_alter_table("areas", schema=None) as batch_op:
        batch_op.drop_index("ix_areas_path_prefix")
