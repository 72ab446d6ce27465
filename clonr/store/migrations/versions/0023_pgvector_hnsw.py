"""pgvector: HNSW indexes (cosine) for the two embedding sizes Clonr ships with, 384 (MiniLM) and 1536 (OpenAI's
text-embedding-3-small). The `embedding` column has no fixed size, so each index is on the column cast to its
size, for the rows of that size. m = 16, ef_construction = 64: pgvector's defaults (see the README, Scaling out).

Revision ID: 0023
Revises: 0022
"""

from alembic import op

revision = "0023"
down_revision = "0022"
branch_labels = None
depends_on = None

SIZES = (384, 1536)


def upgrade() -> None:
    if op.get_bind().dialect.name != "postgresql":
        return
    for size in SIZES:
        op.execute(f"CREATE INDEX IF NOT EXISTS ix_clonr_vectors_hnsw_{size} ON clonr_vectors USING hnsw "
                   f"((embedding::vector({size})) vector_cosine_ops) WITH (m = 16, ef_construction = 64) "
                   f"WHERE vector_dims(embedding) = {size}")


def downgrade() -> None:
    if op.get_bind().dialect.name != "postgresql":
        return
    for size in SIZES:
        op.execute(f"DROP INDEX IF EXISTS ix_clonr_vectors_hnsw_{size}")
