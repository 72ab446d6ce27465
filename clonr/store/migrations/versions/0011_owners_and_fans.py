"""Clones get an owner, and fans are made by the server.

`clones.owner_id`: the creator who owns the clone; existing clones belong to the local creator. `fans`: every
fan a public surface (the widget) has made; a token names one of them, so a client can never pick a fan,
and a forgotten fan's token names nobody. A signed-in fan's `subject` (issuer|sub) is unique per clone.

Revision ID: 0011
Revises: 0010
"""

import sqlalchemy as sa
from alembic import op

revision = "0011"
down_revision = "0010"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("clones", sa.Column("owner_id", sa.String(64), nullable=False, server_default="local"))
    op.create_index("ix_clones_owner", "clones", ["owner_id"])
    op.create_table(
        "fans",
        sa.Column("id", sa.String(64), primary_key=True),
        sa.Column("clone_id", sa.String(32), sa.ForeignKey("clones.id", ondelete="CASCADE"), nullable=False),
        sa.Column("subject", sa.String(512), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.UniqueConstraint("clone_id", "subject", name="uq_fans_subject"),
    )


def downgrade() -> None:
    op.drop_table("fans")
    op.drop_index("ix_clones_owner", "clones")
    op.drop_column("clones", "owner_id")  # SQLite 3.35+ drops a column in place: no copy of the clones table
