"""Persona: example dialogues as records (tagged, editable, retrieved by relevance), interview progress,
description proposals, and the character card a clone was imported from.

The old `clones.example_dialogues` text (Character Card `mes_example` blocks) becomes one row per block.

Revision ID: 0005
Revises: 0004
"""

import re
import uuid
from datetime import UTC, datetime, timedelta

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None

_TURN = re.compile(r"^\{\{(user|char)\}\}:\s*", re.MULTILINE)


def _blocks(text: str) -> list[tuple[str, str]]:
    pairs = []
    for block in text.split("<START>"):
        parts = _TURN.split(block.strip())
        said = {"user": [], "char": []}
        for speaker, words in zip(parts[1::2], parts[2::2], strict=False):
            said[speaker].append(words.strip())
        if said["user"] and said["char"]:
            pairs.append(("\n".join(said["user"]), "\n".join(said["char"])))
    return pairs


def upgrade() -> None:
    dialogues = op.create_table(
        "dialogues",
        sa.Column("id", sa.String(32), primary_key=True),
        sa.Column("clone_id", sa.String(32), sa.ForeignKey("clones.id", ondelete="CASCADE"), nullable=False),
        sa.Column("category", sa.String(40), nullable=False),
        sa.Column("user_text", sa.Text, nullable=False),
        sa.Column("char_text", sa.Text, nullable=False),
        sa.Column("origin", sa.String(16), nullable=False),
        sa.Column("question_id", sa.String(40), nullable=True),
        sa.Column("indexed", sa.Boolean, nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_index("ix_dialogues_clone", "dialogues", ["clone_id"])
    op.create_table(
        "interviews",
        sa.Column("clone_id", sa.String(32), sa.ForeignKey("clones.id", ondelete="CASCADE"), primary_key=True),
        sa.Column("pending_question", sa.String(40), nullable=True),
        sa.Column("pending_followup", sa.Text, nullable=True),
        sa.Column("skipped", sa.Text, nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_table(
        "proposals",
        sa.Column("id", sa.String(32), primary_key=True),
        sa.Column("clone_id", sa.String(32), sa.ForeignKey("clones.id", ondelete="CASCADE"), nullable=False),
        sa.Column("field", sa.String(40), nullable=False),
        sa.Column("text", sa.Text, nullable=False),
        sa.Column("base_text", sa.Text, nullable=False),
        sa.Column("evidence", sa.Text, nullable=False),
        sa.Column("status", sa.String(12), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_table(
        "cards",
        sa.Column("clone_id", sa.String(32), sa.ForeignKey("clones.id", ondelete="CASCADE"), primary_key=True),
        sa.Column("card", sa.Text, nullable=False),
    )
    bind = op.get_bind()
    now = datetime.now(UTC)
    rows = bind.execute(sa.text("SELECT id, example_dialogues FROM clones WHERE example_dialogues <> ''")).all()
    for clone_id, text in rows:
        pairs = _blocks(text)
        if pairs:
            op.bulk_insert(dialogues, [
                {"id": uuid.uuid4().hex, "clone_id": clone_id, "category": "general", "user_text": user,
                 "char_text": char, "origin": "manual", "question_id": None, "indexed": False,
                 "created_at": now + timedelta(microseconds=n), "updated_at": now + timedelta(microseconds=n)}
                for n, (user, char) in enumerate(pairs)])  # a microsecond apart: they keep their order
    with op.batch_alter_table("clones") as batch:
        batch.drop_column("example_dialogues")


def downgrade() -> None:
    with op.batch_alter_table("clones") as batch:
        batch.add_column(sa.Column("example_dialogues", sa.Text, nullable=False, server_default=""))
    op.drop_table("cards")
    op.drop_table("proposals")
    op.drop_table("interviews")
    op.drop_index("ix_dialogues_clone", "dialogues")
    op.drop_table("dialogues")
