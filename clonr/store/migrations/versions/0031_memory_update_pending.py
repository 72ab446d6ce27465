"""Which fan lines still wait for their knowledge update (compared with what the fan said before): the progress an
import shows, and the work a server queues again when the process that had it queued died.

Revision ID: 0031
Revises: 0030
"""

import sqlalchemy as sa
from alembic import op

revision = "0031"
down_revision = "0030"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # Plain ADD COLUMN, never a batch copy: SQLite's full-text index is keyed on the table's rowids.
    op.add_column("memories", sa.Column("update_pending", sa.Boolean, nullable=False, server_default=sa.false()))
    op.create_index("ix_memories_update_pending", "memories", ["clone_id", "fan_id"],
                    sqlite_where=sa.text("update_pending"), postgresql_where=sa.text("update_pending"))


def downgrade() -> None:
    op.drop_index("ix_memories_update_pending", table_name="memories")
    op.drop_column("memories", "update_pending")
