"""A clone as of a date (`clones.variant_of`, `clones.as_of`): a variant of a clone that knows only what was true up
to then. No foreign key: a variant stays when the clone it was made from is deleted (SQLite adds a column in
place only without one).

Revision ID: 0027
Revises: 0026
"""

import sqlalchemy as sa
from alembic import op

revision = "0027"
down_revision = "0026"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("clones", sa.Column("variant_of", sa.String(32), nullable=True))
    op.add_column("clones", sa.Column("as_of", sa.Date, nullable=True))
    op.create_index("ix_clones_variant_of", "clones", ["variant_of"])


def downgrade() -> None:
    op.drop_index("ix_clones_variant_of", "clones")
    op.drop_column("clones", "as_of")
    op.drop_column("clones", "variant_of")
