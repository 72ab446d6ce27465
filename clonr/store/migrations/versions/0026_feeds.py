"""Live feeds (feeds) and their posts, each stored once by its guid (feed_items).

Revision ID: 0026
Revises: 0025
"""

import sqlalchemy as sa
from alembic import op

revision = "0026"
down_revision = "0025"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "feeds",
        sa.Column("id", sa.String(32), primary_key=True),
        sa.Column("clone_id", sa.String(32), sa.ForeignKey("clones.id", ondelete="CASCADE"), nullable=False),
        sa.Column("url", sa.Text, nullable=False),
        sa.Column("feed_url", sa.Text, nullable=False),
        sa.Column("network", sa.String(32), nullable=False),
        sa.Column("title", sa.Text, nullable=False),
        sa.Column("review", sa.Boolean, nullable=False),
        sa.Column("as_source", sa.Boolean, nullable=False),
        sa.Column("token_secret", sa.Text, nullable=True),
        sa.Column("etag", sa.Text, nullable=True),
        sa.Column("last_modified", sa.Text, nullable=True),
        sa.Column("next_poll_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("last_polled_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("failures", sa.Integer, nullable=False, server_default="0"),
        sa.Column("last_error", sa.Text, nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.UniqueConstraint("clone_id", "feed_url", name="uq_feeds_clone_feed_url"),
    )
    op.create_index("ix_feeds_next_poll_at", "feeds", ["next_poll_at"])
    op.create_table(
        "feed_items",
        sa.Column("id", sa.String(32), primary_key=True),
        sa.Column("feed_id", sa.String(32), sa.ForeignKey("feeds.id", ondelete="CASCADE"), nullable=False),
        sa.Column("clone_id", sa.String(32), sa.ForeignKey("clones.id", ondelete="CASCADE"), nullable=False),
        sa.Column("guid_hash", sa.String(64), nullable=False),
        sa.Column("guid", sa.Text, nullable=False),
        sa.Column("title", sa.Text, nullable=False),
        sa.Column("text", sa.Text, nullable=False),
        sa.Column("link", sa.Text, nullable=True),
        sa.Column("images", sa.Text, nullable=False, server_default="[]"),
        sa.Column("published_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("status", sa.String(12), nullable=False),
        sa.Column("memory_id", sa.String(32), nullable=True),
        sa.Column("source_id", sa.String(32), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.UniqueConstraint("feed_id", "guid_hash", name="uq_feed_items_feed_guid"),
    )
    op.create_index("ix_feed_items_clone_published", "feed_items", ["clone_id", "published_at"])


def downgrade() -> None:
    op.drop_table("feed_items")
    op.drop_table("feeds")
