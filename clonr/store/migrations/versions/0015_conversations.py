"""Conversations: an end user may start several with a clone (messages name theirs; '' is a fan's first), and
idempotency keys of posted messages (a retried post returns the stored reply instead of a second one).

Revision ID: 0015
Revises: 0014
"""

import sqlalchemy as sa
from alembic import op

revision = "0015"
down_revision = "0014"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("messages") as batch:
        batch.add_column(sa.Column("conversation_id", sa.String(40), nullable=False, server_default=""))
    op.create_index("ix_messages_thread", "messages", ["clone_id", "fan_id", "conversation_id", "id"])
    op.create_table(
        "conversations",
        sa.Column("id", sa.String(40), primary_key=True),
        sa.Column("clone_id", sa.String(32), sa.ForeignKey("clones.id", ondelete="CASCADE"), nullable=False),
        sa.Column("fan_id", sa.String(64), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_index("ix_conversations_fan", "conversations", ["clone_id", "fan_id"])
    op.create_table(
        "idempotency_keys",
        sa.Column("key_id", sa.String(32), primary_key=True),
        sa.Column("idempotency_key", sa.String(255), primary_key=True),
        sa.Column("request_hash", sa.String(64), nullable=False),
        sa.Column("message_id", sa.Integer, nullable=True),
        sa.Column("started_at", sa.DateTime(timezone=True), nullable=False),
    )


def downgrade() -> None:
    op.drop_table("idempotency_keys")
    op.drop_index("ix_conversations_fan", "conversations")
    op.drop_table("conversations")
    op.drop_index("ix_messages_thread", "messages")
    with op.batch_alter_table("messages") as batch:
        batch.drop_column("conversation_id")
