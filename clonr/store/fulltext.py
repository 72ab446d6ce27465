"""Full-text search over memory streams: SQLite FTS5 BM25 or Postgres ts_rank."""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from clonr.store.database import Database


class FullTextSearch(Database):
    # -- full-text ------------------------------------------------------------------------------

    def lexical_search(self, clone_id: str, fan_ids: list[str], terms: Sequence[str], limit: int = 50,
                       most_matches: Callable[[int], int] | None = None) -> list[tuple[str, float]]:
        """(memory id, score) best first by BM25 (SQLite FTS5) or ts_rank (Postgres); higher is better.

        `terms` are plain words (the caller's policy chose them); on SQLite, a term found in more of these fans'
        memories than `most_matches(how many memories they have)` is left out."""
        terms = list(terms)
        if not terms:
            return []
        with self._transaction() as connection:
            if connection.dialect.name == "sqlite":
                fans = {"clone": clone_id, **{f"fan{n}": fan for n, fan in enumerate(fan_ids)}}
                first = self._first_rowid(connection, fans)
                if most_matches:
                    terms = self._informative(connection, terms, fans, first, most_matches)
                if not terms:
                    return []
                rows = connection.execute(sa.text(
                    "SELECT m.id, -bm25(memories_fts) AS score FROM memories_fts CROSS JOIN memories m "
                    "ON m.rowid = memories_fts.rowid WHERE memories_fts MATCH :match AND memories_fts.rowid >= :first "
                    f"AND {_owned(fans)} ORDER BY score DESC LIMIT :limit"),
                    {"match": " OR ".join(f'"{term}"' for term in terms), "first": first, "limit": limit,
                     **fans}).all()
            else:
                tsquery = " | ".join(terms)
                rows = connection.execute(sa.text(
                    "SELECT id, ts_rank_cd(to_tsvector('english', text), to_tsquery('english', :q)) AS score "
                    "FROM memories WHERE clone_id = :clone AND fan_id = ANY(:fans) "
                    "AND to_tsvector('english', text) @@ to_tsquery('english', :q) ORDER BY score DESC LIMIT :limit"),
                    {"q": tsquery, "clone": clone_id, "fans": fan_ids, "limit": limit}).all()
        return [(row[0], float(row[1])) for row in rows]

    def _stream_size(self, connection: Connection, fans: dict[str, str]) -> int:
        """How many memories these fans have. A share of it needs only its order of magnitude, so it is counted
        at most once a minute per process (the count is a scan of the fans' memories)."""
        key = "\0".join(fans.values())
        now = time.monotonic()
        counted = self._stream_sizes.get(key)
        if counted and now - counted[0] < 60:
            return counted[1]
        size = connection.execute(sa.text(f"SELECT count(*) FROM memories m WHERE {_owned(fans)}"), fans).scalar()
        if len(self._stream_sizes) > 10_000:
            self._stream_sizes.clear()
        self._stream_sizes[key] = (now, size or 0)
        return size or 0

    @staticmethod
    def _first_rowid(connection: Connection, fans: dict[str, str]) -> int:
        """No memory of these fans has a smaller rowid: the full-text postings before it belong to others."""
        return connection.execute(sa.text(
            f"SELECT coalesce(min(first_rowid), 0) FROM memory_states WHERE clone_id = :clone AND fan_id IN "
            f"({_fan_list(fans)})"), fans).scalar() or 0

    def _informative(self, connection: Connection, terms: list[str], fans: dict[str, str], first: int,
                     most_matches: Callable[[int], int]) -> list[str]:
        """Drop terms found in more of these fans' memories than `most_matches` allows (the memory package's
        policy). Counted within the fans, not the whole table, where other clones' memories would make any
        term look rare.

        Each term's matches are counted through the full-text index itself (stopping past the threshold), so
        the count is of the term as the porter tokenizer stems it: "adopted" counts the memories with "adopt".
        The full-text index is read first (CROSS JOIN): left to itself, SQLite walks the fan's memories and
        runs the full-text match once for each. It starts at the fans' first rowid: the postings before it are
        other clones' and fans', and walking them cost more than the count itself.
        """
        threshold = most_matches(self._stream_size(connection, fans))
        counts = " UNION ALL ".join(
            f"SELECT {n}, count(*) FROM (SELECT m.rowid FROM memories_fts CROSS JOIN memories m "
            f"ON m.rowid = memories_fts.rowid WHERE memories_fts MATCH :term{n} AND memories_fts.rowid >= :first "
            f"AND {_owned(fans)} LIMIT :cap)"
            for n in range(len(terms)))  # one round trip for all terms
        rows = connection.execute(sa.text(counts), {
            "cap": threshold + 1, "first": first, **fans,
            **{f"term{n}": f'"{term}"' for n, term in enumerate(terms)}}).all()
        return [terms[n] for n, matches in sorted(rows) if matches <= threshold]



def _owned(fans: dict[str, str]) -> str:
    """SQL for "memory m belongs to the clone and one of the fans" in `fans` (:clone, :fan0, :fan1, ...)."""
    return f"m.clone_id = :clone AND m.fan_id IN ({_fan_list(fans)})"


def _fan_list(fans: dict[str, str]) -> str:
    """The fans' parameters, ":fan0, :fan1", for an IN list."""
    return ", ".join(f":{key}" for key in fans if key != "clone")

