"""Replies saved as they stream (reply_drafts): a process killed mid-reply leaves what the fan saw, which the next
server start stores as an interrupted exchange.

Revision ID: 0025
Revises: 0024
"""

import sqlalchemy as sa
from alembic import op

revision = "0025"
down_revision = "0024"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "reply_drafts",
        sa.Column("id", sa.String(32), primary_key=True),
        sa.Column("clone_id", sa.String(32), sa.ForeignKey("clones.id", ondelete="CASCADE"), nullable=False),
        sa.Column("fan_id", sa.String(64), nullable=False),
        sa.Column("conversation_id", sa.String(40), nullable=False, server_default=""),
        sa.Column("message", sa.Text, nullable=False),
        sa.Column("reply", sa.Text, nullable=False),
        sa.Column("context", sa.Text, nullable=True),
        sa.Column("owner_id", sa.String(512), nullable=False),
        sa.Column("channel", sa.String(16), nullable=False),
        sa.Column("key_id", sa.String(32), nullable=True),
        sa.Column("claimed_by", sa.String(300), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
    )


def downgrade() -> None:
    op.drop_table("reply_drafts")
