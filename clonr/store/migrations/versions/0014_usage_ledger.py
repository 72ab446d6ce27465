"""The usage ledger: one row per reply attempt (tokens, timings, status), written with the stored reply.

Revision ID: 0014
Revises: 0013
"""

import sqlalchemy as sa
from alembic import op

revision = "0014"
down_revision = "0013"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "usage_events",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("clone_id", sa.String(32), nullable=False),
        sa.Column("owner_id", sa.String(512), nullable=False),
        sa.Column("channel", sa.String(16), nullable=False),
        sa.Column("key_id", sa.String(32), nullable=True),
        sa.Column("fan_id", sa.String(64), nullable=False),
        sa.Column("message_id", sa.Integer, nullable=True),
        sa.Column("prompt_tokens", sa.Integer, nullable=False),
        sa.Column("completion_tokens", sa.Integer, nullable=False),
        sa.Column("first_token_ms", sa.Integer, nullable=True),
        sa.Column("total_ms", sa.Integer, nullable=False),
        sa.Column("status", sa.String(12), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_index("ix_usage_owner_time", "usage_events", ["owner_id", "created_at"])


def downgrade() -> None:
    op.drop_index("ix_usage_owner_time", "usage_events")
    op.drop_table("usage_events")
