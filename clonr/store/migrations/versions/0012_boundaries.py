"""Creator boundaries: the topics a clone avoids and the only links it may share.

`clones.avoid_topics`: one topic a line, optionally `topic -> what to say instead`. `clones.shared_links`: one
link a line, `label -> https://…` or just the URL. Both are empty for existing clones, which keep behaving as
before.

Revision ID: 0012
Revises: 0011
"""

import sqlalchemy as sa
from alembic import op

revision = "0012"
down_revision = "0011"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("clones", sa.Column("avoid_topics", sa.Text, nullable=False, server_default=""))
    op.add_column("clones", sa.Column("shared_links", sa.Text, nullable=False, server_default=""))


def downgrade() -> None:
    op.drop_column("clones", "shared_links")  # SQLite 3.35+ drops a column in place: no copy of the clones table
    op.drop_column("clones", "avoid_topics")
