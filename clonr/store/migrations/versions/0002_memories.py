"""The memory stream, with full-text search (FTS5 on SQLite, a GIN tsvector index on Postgres).

Revision ID: 0002
Revises: 0001
"""

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "memories",
        sa.Column("id", sa.String(32), primary_key=True),
        sa.Column("clone_id", sa.String(32), sa.ForeignKey("clones.id", ondelete="CASCADE"), nullable=False),
        sa.Column("fan_id", sa.String(64), nullable=False),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("text", sa.Text, nullable=False),
        sa.Column("importance", sa.Integer, nullable=True),
        sa.Column("happened_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("last_accessed_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("pinned", sa.Boolean, nullable=False),
        sa.Column("superseded_by", sa.String(32), nullable=True),
        sa.Column("source", sa.Text, nullable=True),
        sa.Column("message_id", sa.Integer, nullable=True),
        sa.Column("evidence", sa.Text, nullable=False),
    )
    op.create_table(
        "memory_states",
        sa.Column("clone_id", sa.String(32), sa.ForeignKey("clones.id", ondelete="CASCADE"), primary_key=True),
        sa.Column("fan_id", sa.String(64), primary_key=True),
        sa.Column("reflected_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("summary", sa.Text, nullable=True),
        sa.Column("summarized_at", sa.DateTime(timezone=True), nullable=True),
    )
    op.create_index("ix_memories_owner", "memories", ["clone_id", "fan_id", "happened_at"])
    op.create_index("ix_memories_pinned", "memories", ["clone_id", "fan_id"], sqlite_where=sa.text("pinned = 1"),
                    postgresql_where=sa.text("pinned"))
    if op.get_bind().dialect.name == "sqlite":
        op.execute("CREATE VIRTUAL TABLE memories_fts USING fts5(text, content='memories', content_rowid='rowid', "
                   "tokenize='porter unicode61')")
        op.execute("CREATE VIRTUAL TABLE memories_vocab USING fts5vocab(memories_fts, 'row')")
        op.execute("CREATE TRIGGER memories_fts_insert AFTER INSERT ON memories BEGIN "
                   "INSERT INTO memories_fts(rowid, text) VALUES (new.rowid, new.text); END")
        op.execute("CREATE TRIGGER memories_fts_delete AFTER DELETE ON memories BEGIN "
                   "INSERT INTO memories_fts(memories_fts, rowid, text) VALUES ('delete', old.rowid, old.text); END")
        op.execute("CREATE TRIGGER memories_fts_update AFTER UPDATE OF text ON memories BEGIN "
                   "INSERT INTO memories_fts(memories_fts, rowid, text) VALUES ('delete', old.rowid, old.text); "
                   "INSERT INTO memories_fts(rowid, text) VALUES (new.rowid, new.text); END")
    else:
        op.execute("CREATE INDEX ix_memories_text ON memories USING gin (to_tsvector('english', text))")


def downgrade() -> None:
    if op.get_bind().dialect.name == "sqlite":
        op.execute("DROP TABLE IF EXISTS memories_vocab")
        op.execute("DROP TABLE IF EXISTS memories_fts")
    op.drop_table("memory_states")
    op.drop_table("memories")
