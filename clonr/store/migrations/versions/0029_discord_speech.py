"""A Discord bot that also sends each reply as audio in the clone's voice (`discord_bots.speaks`).

Revision ID: 0029
Revises: 0028
"""

import sqlalchemy as sa
from alembic import op

revision = "0029"
down_revision = "0028"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("discord_bots", sa.Column("speaks", sa.Boolean, nullable=False, server_default=sa.false()))


def downgrade() -> None:
    op.drop_column("discord_bots", "speaks")
