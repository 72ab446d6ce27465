"""Messages keep what a turn was given and whether the reply was finished.

`context` (on a fan's message): the ids of the memories, notes and example dialogues put in front of it,
and what the clone knew of the fan then, as JSON. The next turns render it again in the same place, so the
prompt only grows at its end and llama.cpp reuses what it has already read. `status` (on a reply):
`complete`, or `interrupted` when the fan left before it was finished.

Revision ID: 0009
Revises: 0008
"""

import sqlalchemy as sa
from alembic import op

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("messages") as batch:
        batch.add_column(sa.Column("context", sa.Text, nullable=True))
        batch.add_column(sa.Column("status", sa.String(12), nullable=False, server_default="complete"))


def downgrade() -> None:
    with op.batch_alter_table("messages") as batch:
        batch.drop_column("status")
        batch.drop_column("context")
