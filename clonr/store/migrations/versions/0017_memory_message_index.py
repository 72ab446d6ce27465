"""An index on memories.message_id: finding exchanges that never became memories (the process died first).

Revision ID: 0017
Revises: 0016
"""

from alembic import op

revision = "0017"
down_revision = "0016"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_index("ix_memories_message", "memories", ["message_id"])


def downgrade() -> None:
    op.drop_index("ix_memories_message", "memories")
