"""Sources → documents → chunks in the clone's vector index.

This first cut reads text notes (pasted, uploaded, or .txt/.md files). Each source is stored with a content
hash, so adding the same text twice is a no-op; its chunks get ids `<source id>:<n>`, so a source can later
be deleted with its vectors.
"""

from __future__ import annotations

import hashlib
import logging
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from langchain_core.vectorstores import VectorStore
from langchain_text_splitters import RecursiveCharacterTextSplitter

from clonr.config import Settings
from clonr.errors import ClonrError, InvalidInputError
from clonr.store import Clone, Source, SqlStore

__all__ = ["TEXT_SUFFIXES", "IngestFailure", "IngestResult", "IngestService", "decode_text"]

log = logging.getLogger(__name__)
TEXT_SUFFIXES = (".txt", ".md", ".markdown")
# About 200 MiniLM tokens a chunk, below its 256-token window, with overlap so no sentence is cut off alone.
_SPLITTER = RecursiveCharacterTextSplitter(chunk_size=900, chunk_overlap=120)


@dataclass(frozen=True)
class IngestResult:
    source: Source
    created: bool  # False when the same content was already ingested


@dataclass(frozen=True)
class IngestFailure:
    item: str
    error: str


def decode_text(data: bytes, name: str, max_bytes: int) -> str:
    """UTF-8 text from an upload or a file, or a one-line error that says what to do."""
    if len(data) > max_bytes:
        raise InvalidInputError(f"{name} is {len(data):,} bytes; the limit is {max_bytes:,} "
                                "(CLONR_MAX_FILE_BYTES): split it into smaller files.")
    if b"\x00" in data[:8192]:
        raise InvalidInputError(f"{name} looks like a binary file: give a UTF-8 .txt or .md file.")
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise InvalidInputError(f"{name} is not UTF-8 text: save it as UTF-8 and try again.") from None
    if not text.strip():
        raise InvalidInputError(f"{name} is empty: give it some text.")
    return text


class IngestService:
    def __init__(self, store: SqlStore, settings: Settings, index_for: Callable[[Clone], VectorStore]) -> None:
        self._store = store
        self._settings = settings
        self._index_for = index_for

    def add_text(self, clone_ref: str, text: str, title: str, kind: str = "note",
                 location: str | None = None) -> IngestResult:
        clone = self._store.get_clone(clone_ref)
        text = text.strip()
        if not text:
            raise InvalidInputError("The note is empty: paste some text about the person.")
        if len(text.encode()) > self._settings.max_file_bytes:
            raise InvalidInputError(f"The note is longer than {self._settings.max_file_bytes:,} bytes "
                                    "(CLONR_MAX_FILE_BYTES): split it.")
        content_hash = hashlib.sha256(text.encode()).hexdigest()
        existing = self._store.find_source(clone.id, content_hash)
        if existing:
            return IngestResult(existing, created=False)
        source_id = uuid.uuid4().hex
        chunks = _SPLITTER.split_text(text)
        ids = [f"{source_id}:{n}" for n in range(len(chunks))]
        title = (title or "Untitled note").strip()[:200]
        metadatas = [{"source_id": source_id, "title": title, "kind": kind, "position": n}
                     for n in range(len(chunks))]
        index = self._index_for(clone)
        index.add_texts(chunks, metadatas, ids=ids)
        source = Source(id=source_id, clone_id=clone.id, kind=kind, title=title, location=location,
                        content_hash=content_hash, chunk_count=len(chunks), created_at=datetime.now(UTC))
        try:
            self._store.add_source(source)
        except BaseException:
            index.delete(ids)  # never leave vectors without their source record
            raise
        return IngestResult(source, created=True)

    def add_upload(self, clone_ref: str, filename: str, data: bytes) -> IngestResult:
        name = Path(filename).name or "upload"
        if not name.lower().endswith(TEXT_SUFFIXES):
            raise InvalidInputError(f"{name}: only {', '.join(TEXT_SUFFIXES)} files can be added for now.")
        text = decode_text(data, name, self._settings.max_file_bytes)
        return self.add_text(clone_ref, text, title=name, kind="file", location=name)

    def add_file(self, clone_ref: str, path: Path) -> IngestResult:
        if not path.is_file():
            raise InvalidInputError(f"{path} is not a readable file: check the path.")
        if path.stat().st_size > self._settings.max_file_bytes:
            raise InvalidInputError(f"{path.name} is {path.stat().st_size:,} bytes; the limit is "
                                    f"{self._settings.max_file_bytes:,} (CLONR_MAX_FILE_BYTES): split it.")
        if not path.name.lower().endswith(TEXT_SUFFIXES):
            raise InvalidInputError(f"{path.name}: only {', '.join(TEXT_SUFFIXES)} files can be added for now.")
        try:
            data = path.read_bytes()
        except OSError as exc:
            raise InvalidInputError(f"{path} cannot be read ({exc.strerror}): check its permissions.") from None
        text = decode_text(data, path.name, self._settings.max_file_bytes)
        return self.add_text(clone_ref, text, title=path.name, kind="file", location=str(path.resolve()))

    def add_files(self, clone_ref: str, paths: list[Path],
                  on_progress: Callable[[int, int, str], None] | None = None,
                  ) -> tuple[list[IngestResult], list[IngestFailure]]:
        """Ingest each file on its own: one bad file is reported and the others still go in."""
        self._store.get_clone(clone_ref)  # fail once, early, for an unknown clone
        results, failures = [], []
        for done, path in enumerate(paths, start=1):
            try:
                results.append(self.add_file(clone_ref, path))
            except ClonrError as exc:
                failures.append(IngestFailure(str(path), str(exc)))
            if on_progress:
                on_progress(done, len(paths), str(path))
        return results, failures

    def list_sources(self, clone_ref: str) -> list[Source]:
        return self._store.list_sources(self._store.get_clone(clone_ref).id)
