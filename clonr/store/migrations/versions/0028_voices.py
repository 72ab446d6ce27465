"""Voices: the voices a clone may speak with (an offline Piper voice, or the creator's cloned ElevenLabs voice, with
when they confirmed it is theirs) and the one it speaks with; speech in the usage ledger (`speech_ms`).

Revision ID: 0028
Revises: 0027
"""

import sqlalchemy as sa
from alembic import op

revision = "0028"
down_revision = "0027"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "voices",
        sa.Column("clone_id", sa.String(32), sa.ForeignKey("clones.id", ondelete="CASCADE"), primary_key=True),
        sa.Column("provider", sa.String(16), primary_key=True),
        sa.Column("voice_id", sa.String(128), primary_key=True),
        sa.Column("label", sa.Text, nullable=False),
        sa.Column("chosen", sa.Boolean, nullable=False, server_default=sa.false()),
        sa.Column("consent_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
    )
    op.add_column("usage_events", sa.Column("speech_ms", sa.Integer, nullable=False, server_default="0"))


def downgrade() -> None:
    op.drop_column("usage_events", "speech_ms")
    op.drop_table("voices")
