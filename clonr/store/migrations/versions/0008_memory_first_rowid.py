"""Where each fan's memories start in the SQLite table, so full-text search can skip everyone before them.

SQLite keeps one full-text index for every clone and fan. Before ranking a query's words, recall counts how
many of the fan's memories contain each one; the count walks the word's postings in rowid order, through
every other clone's and fan's memories first. `first_rowid` is a
lower bound of the fan's rowids: no memory of the fan has ever had a smaller one. Unused on Postgres.

Revision ID: 0008
Revises: 0007
"""

import sqlalchemy as sa
from alembic import op

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("memory_states") as batch:
        batch.add_column(sa.Column("first_rowid", sa.Integer, nullable=True))
    if op.get_bind().dialect.name == "sqlite":
        op.execute("INSERT INTO memory_states (clone_id, fan_id) SELECT DISTINCT clone_id, fan_id FROM memories m "
                   "WHERE NOT EXISTS (SELECT 1 FROM memory_states s WHERE s.clone_id = m.clone_id "
                   "AND s.fan_id = m.fan_id)")
        op.execute("UPDATE memory_states SET first_rowid = (SELECT min(m.rowid) FROM memories m "
                   "WHERE m.clone_id = memory_states.clone_id AND m.fan_id = memory_states.fan_id)")


def downgrade() -> None:
    with op.batch_alter_table("memory_states") as batch:
        batch.drop_column("first_rowid")
