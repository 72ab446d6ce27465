"""Files in real formats → `Document`s: text, Markdown, HTML, PDF, Word, JSON and CSV.

The type comes from the name and is confirmed by sniffing the bytes, so a renamed file gets a clear error
rather than garbage in the index. Every parser failure becomes a one-line `InvalidInputError` for that file.
"""

from __future__ import annotations

import csv
import io
import re
import zipfile
import zlib
from collections.abc import Callable, Iterator
from pathlib import PurePath
from typing import Any

import trafilatura

from clonr.errors import InvalidInputError
from clonr.ingest.documents import Document
from clonr.ingest.untrusted import load_json, valid_text

__all__ = ["FILE_SUFFIXES", "TEXT_SUFFIXES", "decode_text", "html_document", "load_json", "read_document",
           "read_zip_member"]

TEXT_SUFFIXES = (".txt", ".md", ".markdown")
FILE_SUFFIXES = (*TEXT_SUFFIXES, ".html", ".htm", ".pdf", ".docx", ".json", ".csv")
_MAX_UNZIPPED_BYTES = 50_000_000  # a .docx is a zip: refuse one that would inflate past this (a zip bomb)
_MAX_PDF_PAGES = 2_000
_WHATSAPP_LINE = re.compile(r"^\[?\d{1,4}[./-]\d{1,2}[./-]\d{1,4},? \d{1,2}[:.]\d{2}.{0,20}?(?:\] | - )[^:\n]{1,80}: ")
# A page's date only when its markup states one: htmldate's free-text search turns "© 2024" into 2024-01-01.
_STATED_DATES_ONLY = {"extensive_search": False, "original_date": True}


def decode_text(data: bytes, name: str, max_bytes: int) -> str:
    """UTF-8 text from an upload or a file, or a one-line error that says what to do."""
    if len(data) > max_bytes:
        raise InvalidInputError(f"{name} is {len(data):,} bytes; the limit is {max_bytes:,} "
                                "(CLONR_MAX_FILE_BYTES): split it into smaller files.")
    if b"\x00" in data:  # anywhere: no text format has NUL bytes, and Postgres cannot store them
        raise InvalidInputError(f"{name} looks like a binary file: give a UTF-8 text file.")
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise InvalidInputError(f"{name} is not UTF-8 text: save it as UTF-8 and try again.") from None
    if not text.strip():
        raise InvalidInputError(f"{name} is empty: give it some text.")
    return text


def read_document(name: str, data: bytes, max_bytes: int, location: str | None = None) -> Document:
    """Read one file (by its name's suffix, confirmed by its bytes) into a document."""
    name = valid_text(PurePath(name).name) or "upload"  # a name that is not UTF-8 could be neither shown nor stored
    suffix = PurePath(name.strip()).suffix.lower()
    if suffix not in FILE_SUFFIXES:
        raise InvalidInputError(f"{name}: Clonr reads {', '.join(FILE_SUFFIXES)} files; convert it to one of them.")
    if len(data) > max_bytes:
        raise InvalidInputError(f"{name} is {len(data):,} bytes; the limit is {max_bytes:,} "
                                "(CLONR_MAX_FILE_BYTES): split it into smaller files.")
    location = valid_text(location or name)
    if suffix == ".pdf":
        document = _pdf(name, data, location)
    elif suffix == ".docx":
        document = _docx(name, data, location)
    else:
        text = decode_text(data, name, max_bytes)
        if suffix in (".html", ".htm"):
            document = html_document(text, name, location, kind="file")
        elif suffix == ".json":
            _refuse_chat_export(name, load_json(name, text))
            document = Document("file", name, text=_json_text(name, text), location=location)
        elif suffix == ".csv":
            document = Document("file", name, text=_csv_text(name, text), location=location)
        else:
            if _WHATSAPP_LINE.match(text.lstrip("\ufeff\u200e")) and suffix == ".txt":
                raise InvalidInputError(f"{name} looks like a WhatsApp chat export: add it with --chat {name} --me "
                                        "\"<your name in it>\" (the Chat exports tab in the studio).")
            document = Document("file", name, text=text, location=location)
    if document.is_empty:
        raise InvalidInputError(f"{name} has no text Clonr can read" + (
            " (a scanned PDF needs OCR first)." if suffix == ".pdf" else ": give a file with some text in it."))
    return document


def html_document(html: str, title: str, location: str | None, kind: str) -> Document:
    """The main text of a page (no navigation, ads or footers), with its title, author and date when stated."""
    extracted = trafilatura.bare_extraction(html, url=location if kind == "page" else None, with_metadata=True,
                                            include_comments=False, include_tables=True,
                                            date_extraction_params=_STATED_DATES_ONLY)
    if extracted is None or not (extracted.text or "").strip():
        raise InvalidInputError(f"{title}: no readable text found on this page.")
    return Document(kind, (extracted.title or title).strip()[:200], text=extracted.text, location=location,
                    author=extracted.author or None, published=extracted.date or None)


def _pdf(name: str, data: bytes, location: str) -> Document:
    from pypdf import PdfReader
    from pypdf.errors import PdfReadError

    if not data.startswith(b"%PDF-"):
        raise InvalidInputError(f"{name} is not a PDF (it does not start with %PDF-): check the file.")
    try:
        reader = PdfReader(io.BytesIO(data))
        if reader.is_encrypted:
            raise InvalidInputError(f"{name} is password-protected: save an unprotected copy and add that.")
        if len(reader.pages) > _MAX_PDF_PAGES:
            raise InvalidInputError(f"{name} has {len(reader.pages):,} pages; split it (at most {_MAX_PDF_PAGES}).")
        text = "\n\n".join(page.extract_text() or "" for page in reader.pages)
        info = reader.metadata or {}
        created = info.get("/CreationDate")
    except InvalidInputError:
        raise
    except (PdfReadError, ValueError, KeyError, TypeError, AttributeError) as exc:
        raise InvalidInputError(f"{name} is a damaged PDF ({type(exc).__name__}): re-export it, then retry.") \
            from None
    except Exception as exc:  # pypdf raises NotImplementedError (an unknown encryption), RecursionError, and more
        raise InvalidInputError(f"{name} cannot be read as a PDF ({type(exc).__name__}): re-export it, then retry.") \
            from None
    published = f"{created[2:6]}-{created[6:8]}-{created[8:10]}" if isinstance(created, str) and len(created) >= 10 \
        and created[2:10].isdigit() else None
    return Document("file", _title(info.get("/Title"), name), text=valid_text(text), location=location,
                    author=_clean(info.get("/Author")), published=published)


def _docx(name: str, data: bytes, location: str) -> Document:
    import docx

    try:
        with zipfile.ZipFile(io.BytesIO(data)) as archive:
            if "word/document.xml" not in archive.namelist():
                raise InvalidInputError(f"{name} is not a Word document: save it as .docx and try again.")
            if sum(info.file_size for info in archive.infolist()) > _MAX_UNZIPPED_BYTES:
                raise InvalidInputError(f"{name} unpacks to more than {_MAX_UNZIPPED_BYTES:,} bytes: Clonr refuses it.")
        word = docx.Document(io.BytesIO(data))
    except InvalidInputError:
        raise
    except (zipfile.BadZipFile, KeyError, ValueError) as exc:
        raise InvalidInputError(f"{name} is a damaged Word file ({type(exc).__name__}): re-save it as .docx.") from None
    except Exception as exc:  # python-docx raises lxml and its own errors for malformed parts
        raise InvalidInputError(f"{name} cannot be read as .docx ({type(exc).__name__}): re-save it in Word.") from None
    lines = [p.text for p in word.paragraphs if p.text.strip()]
    for table in word.tables:
        lines += [" | ".join(cell.text.strip() for cell in row.cells) for row in table.rows]
    props = word.core_properties
    return Document("file", _title(props.title, name), text="\n".join(lines), location=location,
                    author=_clean(props.author), published=props.created.date().isoformat() if props.created else None)


def read_zip_member(name: str, data: bytes, choose: Callable[[list[zipfile.ZipInfo]], zipfile.ZipInfo | None],
                    max_bytes: int, missing: str, what: str = ".zip") -> tuple[str, bytes]:
    """One member of an archive, read in memory (its name never touches the file system) and size-capped."""
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as archive:
            member = choose([i for i in archive.infolist() if not i.is_dir()])
            if member is None:
                raise InvalidInputError(f"{name} {missing}")
            if member.file_size > max_bytes:
                raise InvalidInputError(f"{name}: {member.filename} unpacks to {member.file_size:,} bytes; the limit "
                                        f"is {max_bytes:,} (CLONR_MAX_FILE_BYTES).")
            if member.flag_bits & 0x1:
                raise InvalidInputError(f"{name}: {member.filename} is password-protected: export it again without a "
                                        "password.")
            with archive.open(member) as handle:
                content = handle.read(max_bytes + 1)
    except (zipfile.BadZipFile, zlib.error, EOFError, ValueError):
        raise InvalidInputError(f"{name} is not a readable {what} file: export it again.") from None
    except NotImplementedError:  # a compression method zipfile lacks (AES, PPMd, …)
        raise InvalidInputError(f"{name} is compressed in a way Clonr cannot unpack: export it again as a plain "
                                f"{what} file.") from None
    if len(content) > max_bytes:
        raise InvalidInputError(f"{name}: {member.filename} is larger than {max_bytes:,} bytes (CLONR_MAX_FILE_BYTES).")
    return member.filename, content


def _refuse_chat_export(name: str, value: Any) -> None:
    """A Telegram or Discord export read as plain JSON would lose who said what: say how to add it."""
    if isinstance(value, dict) and (isinstance(value.get("chats"), dict) or (
            isinstance(value.get("messages"), list) and ("channel" in value or "type" in value))):
        raise InvalidInputError(f"{name} looks like a chat export: add it with --chat {name} --me \"<your name in "
                                "it>\" (the Chat exports tab in the studio).")


def _json_text(name: str, text: str) -> str:
    """Any JSON as `path: value` lines, so a profile export or a list of posts reads as text."""
    value = load_json(name, text)
    return "\n".join(f"{path}: {leaf}" if path else str(leaf) for path, leaf in _leaves(value, ""))


def _leaves(value: Any, path: str) -> Iterator[tuple[str, Any]]:
    if isinstance(value, dict):
        for key, item in value.items():
            yield from _leaves(item, f"{path}.{key}" if path else str(key))
    elif isinstance(value, list):
        for item in value:
            yield from _leaves(item, path)
    elif (isinstance(value, str) and value.strip()) or (isinstance(value, int | float) and not isinstance(value, bool)):
        yield path, value


def _csv_text(name: str, text: str) -> str:
    """Each row as `column: value` pairs, so the header names give the values their meaning."""
    sample = text[:4096]
    try:
        dialect = csv.Sniffer().sniff(sample) if sample.count("\n") else csv.excel
    except csv.Error:  # one column, or too little to tell: the sniffer gives up, and commas are the default
        dialect = csv.excel
    try:
        rows = list(csv.reader(io.StringIO(text, newline=""), dialect))  # any line ending, as the csv docs ask
    except csv.Error as exc:
        raise InvalidInputError(f"{name} is not a readable CSV file ({exc}): re-export it.") from None
    if not rows:
        return ""
    header, body = rows[0], rows[1:]
    return "\n".join("; ".join(f"{h}: {v}" for h, v in zip(header, row, strict=False) if v.strip())
                     for row in body)


def _clean(value: object) -> str | None:
    """Metadata as one short text (a PDF's UTF-16 title may hold a lone surrogate), or None."""
    return valid_text(str(value)).strip()[:200] or None if value else None


def _title(value: object, name: str) -> str:
    return _clean(value) or name
