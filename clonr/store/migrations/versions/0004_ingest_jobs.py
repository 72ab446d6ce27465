"""Source provenance (author, date), dialogue candidates from chat exports, and resumable ingestion jobs.

Revision ID: 0004
Revises: 0003
"""

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("sources") as batch:
        batch.add_column(sa.Column("author", sa.Text, nullable=True))
        batch.add_column(sa.Column("published", sa.String(40), nullable=True))
    op.create_table(
        "dialogue_candidates",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("clone_id", sa.String(32), sa.ForeignKey("clones.id", ondelete="CASCADE"), nullable=False),
        sa.Column("source_id", sa.String(32), sa.ForeignKey("sources.id", ondelete="CASCADE"), nullable=False),
        sa.Column("user_text", sa.Text, nullable=False),
        sa.Column("char_text", sa.Text, nullable=False),
        sa.Column("said_at", sa.DateTime(timezone=True), nullable=True),
    )
    op.create_index("ix_dialogue_candidates_clone", "dialogue_candidates", ["clone_id"])
    op.create_table(
        "ingest_jobs",
        sa.Column("id", sa.String(32), primary_key=True),
        sa.Column("clone_id", sa.String(32), sa.ForeignKey("clones.id", ondelete="CASCADE"), nullable=False),
        sa.Column("status", sa.String(12), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_table(
        "ingest_job_items",
        sa.Column("job_id", sa.String(32), sa.ForeignKey("ingest_jobs.id", ondelete="CASCADE"), primary_key=True),
        sa.Column("position", sa.Integer, primary_key=True),
        sa.Column("item", sa.Text, nullable=False),
        sa.Column("options", sa.Text, nullable=False),
        sa.Column("status", sa.String(10), nullable=False),
        sa.Column("detail", sa.Text, nullable=True),
        sa.Column("source_id", sa.String(32), nullable=True),
        sa.Column("chunk_count", sa.Integer, nullable=True),
    )


def downgrade() -> None:
    op.drop_table("ingest_job_items")
    op.drop_table("ingest_jobs")
    op.drop_index("ix_dialogue_candidates_clone", "dialogue_candidates")
    op.drop_table("dialogue_candidates")
    with op.batch_alter_table("sources") as batch:
        batch.drop_column("published")
        batch.drop_column("author")
