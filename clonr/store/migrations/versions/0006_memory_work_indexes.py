"""Indexes for the background memory work that runs after every exchange.

- The memories still waiting for their importance score (partial): there are usually two, and without the
  index finding out that there are no more meant reading the fan's whole stream.
- A fan's memories by creation time: the importance added since the last reflection or summary (which decides
  when the next one is due) is summed over the memories made since then, not over the whole stream.

Revision ID: 0006
Revises: 0005
"""

import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_index("ix_memories_unscored", "memories", ["clone_id", "fan_id", "happened_at"],
                    sqlite_where=sa.text("importance IS NULL"), postgresql_where=sa.text("importance IS NULL"))
    op.create_index("ix_memories_created", "memories", ["clone_id", "fan_id", "created_at"])


def downgrade() -> None:
    op.drop_index("ix_memories_created", table_name="memories")
    op.drop_index("ix_memories_unscored", table_name="memories")
