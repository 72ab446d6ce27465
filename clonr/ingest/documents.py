"""Documents with provenance, and how they become chunks for the clone's index.

Every source (a page, a PDF, a transcript, a chat export) is read into one `Document`: plain text, or a list of
`Part`s when position matters (a transcript's timestamps, a chat's speakers). Chunks carry that provenance in
their metadata, so the studio can say where a note came from.
"""

from __future__ import annotations

import calendar
import hashlib
import json
import re
from dataclasses import dataclass
from datetime import date

from langchain_text_splitters import RecursiveCharacterTextSplitter

from clonr.errors import InvalidInputError

__all__ = ["CHUNK_CHARS", "Chunk", "Document", "Part", "chunk_document"]

# About 200 MiniLM tokens a chunk, below its 256-token window, with overlap so no sentence is cut off alone.
CHUNK_CHARS = 900
_SPLITTER = RecursiveCharacterTextSplitter(chunk_size=CHUNK_CHARS, chunk_overlap=120)


@dataclass(frozen=True)
class Part:
    """One line of a transcript or chat: who said it and when (ISO time, or seconds into a video)."""

    text: str
    speaker: str | None = None
    at: str | None = None


@dataclass(frozen=True)
class Document:
    kind: str  # note, file, page, wikipedia, youtube, chat
    title: str
    text: str = ""
    parts: tuple[Part, ...] = ()
    location: str | None = None  # URL or file name
    author: str | None = None
    published: str | None = None  # ISO date, when the source says

    @property
    def content_hash(self) -> str:
        """Same content, same hash: what makes re-ingesting a source a no-op."""
        body = self.text if not self.parts else json.dumps([(p.speaker, p.at, p.text) for p in self.parts])
        return hashlib.sha256(body.encode()).hexdigest()

    @property
    def is_empty(self) -> bool:
        return not (self.text.strip() or any(p.text.strip() for p in self.parts))


@dataclass(frozen=True)
class Chunk:
    text: str
    metadata: dict[str, str | int]


def chunk_document(document: Document) -> list[Chunk]:
    """Plain text is split on paragraphs and sentences; parts are packed whole, in order, up to CHUNK_CHARS."""
    base: dict[str, str | int] = {"title": document.title, "kind": document.kind}
    base |= {key: value for key, value in (("location", document.location), ("author", document.author),
                                            ("published", document.published)) if value}
    if not document.parts:
        return [Chunk(text, base | {"position": n}) for n, text in enumerate(_SPLITTER.split_text(document.text))]
    chunks: list[Chunk] = []
    group: list[Part] = []

    def flush() -> None:
        if group:
            meta = base | {"position": len(chunks)}
            if group[0].at:
                meta |= {"at": group[0].at}
            if group[-1].at:
                meta |= {"until": group[-1].at}  # a clone as of a date reads a chunk whose last message is older
            speakers = sorted({p.speaker for p in group if p.speaker})
            if speakers:
                meta |= {"speakers": ", ".join(speakers)}
            chunks.append(Chunk("\n".join(_line(p) for p in group), meta))
            group.clear()

    size = 0
    for part in document.parts:
        line = _line(part)
        if group and size + len(line) + 1 > CHUNK_CHARS:
            flush()
            size = 0
        if len(line) > CHUNK_CHARS:  # one very long message: split it on its own
            for piece in _SPLITTER.split_text(part.text):
                group.append(Part(piece, part.speaker, part.at))
                flush()
            continue
        group.append(part)
        size += len(line) + 1
    flush()
    return chunks


def _line(part: Part) -> str:
    return f"{part.speaker}: {part.text}" if part.speaker else part.text


_PERIOD = re.compile(r"(\d{4})(?:-(\d{2})(?:-(\d{2}))?)?(?:[T ].*)?")


def period_end(published: str) -> date:
    """The last day of the period a source's date names ("2015" → 31 Dec 2015, "2015-06" → 30 Jun 2015, a day or a
    timestamp → that day): a source counts as written then, so a clone as of a date never reads a later one."""
    match = _PERIOD.fullmatch(published.strip())
    try:
        if match is None:
            raise ValueError(published)
        year, month, day = int(match[1]), int(match[2] or 12), match[3]
        return date(year, month, int(day) if day else calendar.monthrange(year, month)[1])
    except ValueError:
        raise InvalidInputError(f"{published[:40]!r} is not a date: write a year (2015), a month (2015-06) or a day "
                                "(2015-06-30).") from None
