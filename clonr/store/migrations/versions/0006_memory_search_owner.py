"""Full-text search narrowed to one fan inside the index (SQLite).

`memories_fts` gains an `owner` column: one token per clone and fan (`<clone id>x<hex of fan id>`, made by
`owner_token`). A search then intersects the term's postings with the owner's instead of reading every
clone's matches and filtering them afterwards, and the number of a fan's memories that hold a term, which
decides whether the term is worth searching for, costs the same. The index reads its content through a view.

Revision ID: 0006
Revises: 0005
"""

from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None

_TRIGGERS = ("memories_fts_insert", "memories_fts_delete", "memories_fts_update")


def _drop() -> None:
    for trigger in _TRIGGERS:
        op.execute(f"DROP TRIGGER IF EXISTS {trigger}")
    op.execute("DROP TABLE IF EXISTS memories_vocab")
    op.execute("DROP TABLE IF EXISTS memories_fts")


def upgrade() -> None:
    if op.get_bind().dialect.name != "sqlite":
        return  # Postgres filters by clone and fan in the same index scan already
    _drop()
    op.execute("CREATE VIEW memories_fts_source AS SELECT rowid AS rowid, text, "
               "clone_id || 'x' || hex(fan_id) AS owner FROM memories")
    op.execute("CREATE VIRTUAL TABLE memories_fts USING fts5(text, owner, content='memories_fts_source', "
               "content_rowid='rowid', tokenize='porter unicode61')")
    op.execute("CREATE VIRTUAL TABLE memories_vocab USING fts5vocab(memories_fts, 'row')")
    owner = "{row}.clone_id || 'x' || hex({row}.fan_id)"
    insert = f"INSERT INTO memories_fts(rowid, text, owner) VALUES (new.rowid, new.text, {owner.format(row='new')});"
    delete = (f"INSERT INTO memories_fts(memories_fts, rowid, text, owner) "
              f"VALUES ('delete', old.rowid, old.text, {owner.format(row='old')});")
    op.execute(f"CREATE TRIGGER memories_fts_insert AFTER INSERT ON memories BEGIN {insert} END")
    op.execute(f"CREATE TRIGGER memories_fts_delete AFTER DELETE ON memories BEGIN {delete} END")
    op.execute(f"CREATE TRIGGER memories_fts_update AFTER UPDATE OF text ON memories BEGIN {delete} {insert} END")
    op.execute("INSERT INTO memories_fts(memories_fts) VALUES ('rebuild')")


def downgrade() -> None:
    if op.get_bind().dialect.name != "sqlite":
        return
    _drop()
    op.execute("DROP VIEW IF EXISTS memories_fts_source")
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
    op.execute("INSERT INTO memories_fts(memories_fts) VALUES ('rebuild')")
