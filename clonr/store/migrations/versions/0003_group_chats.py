"""Group chats (several fans and clones in one conversation) and entities (who and what a fan talks about).

Revision ID: 0003
Revises: 0002
"""

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "group_chats",
        sa.Column("id", sa.String(32), primary_key=True),
        sa.Column("name", sa.String(120), nullable=False, unique=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_table(
        "group_members",
        sa.Column("group_id", sa.String(32), sa.ForeignKey("group_chats.id", ondelete="CASCADE"), primary_key=True),
        sa.Column("clone_id", sa.String(32), sa.ForeignKey("clones.id", ondelete="CASCADE"), primary_key=True),
        sa.Column("talkativeness", sa.Float, nullable=False),
    )
    op.create_table(
        "group_messages",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("group_id", sa.String(32), sa.ForeignKey("group_chats.id", ondelete="CASCADE"), nullable=False),
        sa.Column("speaker_kind", sa.String(8), nullable=False),
        sa.Column("speaker_id", sa.String(64), nullable=False),
        sa.Column("speaker_name", sa.String(120), nullable=False),
        sa.Column("content", sa.Text, nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_index("ix_group_messages_group", "group_messages", ["group_id", "id"])
    op.create_table(
        "entities",
        sa.Column("clone_id", sa.String(32), sa.ForeignKey("clones.id", ondelete="CASCADE"), primary_key=True),
        sa.Column("fan_id", sa.String(64), primary_key=True),
        sa.Column("key", sa.String(120), primary_key=True),
        sa.Column("name", sa.String(120), nullable=False),
        sa.Column("about", sa.Text, nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
    )


def downgrade() -> None:
    op.drop_table("entities")
    op.drop_table("group_messages")
    op.drop_table("group_members")
    op.drop_table("group_chats")
