"""Discord channels a clone's bot takes part in as a group member, and how talkative it is there.

Revision ID: 0022
Revises: 0021
"""

import sqlalchemy as sa
from alembic import op

revision = "0022"
down_revision = "0021"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("discord_bots") as batch:
        batch.add_column(sa.Column("joined_channels", sa.Text, nullable=False, server_default="[]"))
        batch.add_column(sa.Column("talkativeness", sa.Float, nullable=False, server_default="0.3"))


def downgrade() -> None:
    with op.batch_alter_table("discord_bots") as batch:
        batch.drop_column("talkativeness")
        batch.drop_column("joined_channels")
