"""The pinned-memories index names the pinned column, so that SQLite picks it.

Every turn lists the fan's pinned memories. The partial index on (clone_id, fan_id) WHERE pinned looked no
better to SQLite's planner than the other (clone_id, fan_id, ...) indexes, and after 0006 it took
ix_memories_created and read the fan's whole stream on every turn. With
pinned as a third equality column the partial index wins on its own terms.

Revision ID: 0007
Revises: 0006
"""

import sqlalchemy as sa
from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None


def _create(columns: list[str]) -> None:
    op.create_index("ix_memories_pinned", "memories", columns, sqlite_where=sa.text("pinned = 1"),
                    postgresql_where=sa.text("pinned"))


def upgrade() -> None:
    op.drop_index("ix_memories_pinned", table_name="memories")
    _create(["clone_id", "fan_id", "pinned"])


def downgrade() -> None:
    op.drop_index("ix_memories_pinned", table_name="memories")
    _create(["clone_id", "fan_id"])
