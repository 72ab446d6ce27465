"""Which process claimed a running ingestion job (host:pid), so a job whose process died resumes at once.

Revision ID: 0016
Revises: 0015
"""

import sqlalchemy as sa
from alembic import op

revision = "0016"
down_revision = "0015"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("ingest_jobs") as batch:
        batch.add_column(sa.Column("claimed_by", sa.String(300), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("ingest_jobs") as batch:
        batch.drop_column("claimed_by")
