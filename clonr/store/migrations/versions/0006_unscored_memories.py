"""A partial index on the memories still waiting for their importance score.

The background scorer asks for a fan's unscored memories after every exchange; there are usually two, and
without this index finding out that there are no more meant reading the fan's whole stream (~30 ms at 100k
memories).

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


def downgrade() -> None:
    op.drop_index("ix_memories_unscored", table_name="memories")
