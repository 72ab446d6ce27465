"""Repeated lines count once: each memory's gist, and the newest of a repeated line standing for the others.

`gist`: a short hash of who said it and its content words (`clonr.memory.lexical.gist`); memories of a fan with
the same gist say the same thing. The newest keeps `repeats` (how many times it was said) and `first_said_at`;
the older ones point at it through `repeated_by` and leave recall, like a superseded memory. Memories from
before this revision get their gist from `clonr memory CLONE reindex`.

Revision ID: 0030
Revises: 0029
"""

import sqlalchemy as sa
from alembic import op

revision = "0030"
down_revision = "0029"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # Plain ADD COLUMN, never a batch copy: SQLite's full-text index is keyed on the table's rowids.
    op.add_column("memories", sa.Column("gist", sa.String(16), nullable=True))
    op.add_column("memories", sa.Column("repeated_by", sa.String(32), nullable=True))
    op.add_column("memories", sa.Column("repeats", sa.Integer, nullable=False, server_default="1"))
    op.add_column("memories", sa.Column("first_said_at", sa.DateTime(timezone=True), nullable=True))
    op.create_index("ix_memories_gist", "memories", ["clone_id", "fan_id", "gist"])


def downgrade() -> None:
    op.drop_index("ix_memories_gist", table_name="memories")
    for column in ("first_said_at", "repeats", "repeated_by", "gist"):
        op.drop_column("memories", column)
