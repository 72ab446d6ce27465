"""Hostile inputs, generated here (nothing big is checked in), and the harness that runs each one through Clonr's
real entry points and judges what happened. Used by `tests/test_hostile_corpus.py` and by
`benchmarks/hostile_inputs.py`, so the counts in `benchmarks/RESULTS.md` come from the very cases CI runs.

- `MALFORMED`: broken files of every format `clonr ingest` reads, chat exports of the wrong shape, character
  cards (JSON, PNG, CHARX) with wrong fields, wrong types and hostile archives, memory transcripts with wrong
  shapes, times and speakers, and odd file names (newlines, control characters, `../`, very long names), empty
  and over-the-limit files, invalid UTF-8, lone surrogates and NUL bytes. Each goes through the command a user
  types and, where there is one, the service method the studio and the API call.
- `SSRF`: URLs that reach loopback, private, link-local and cloud-metadata addresses in every spelling (decimal,
  octal, hex, short forms, IPv6 with an IPv4 address inside, zone ids, userinfo tricks), redirects from a public
  site, crawls and search results that lead there, YouTube and Wikipedia resolved to such addresses, and a name
  with one public and one private address; with CLONR_ALLOW_PRIVATE_URLS off and on (on: metadata addresses
  must still be refused).

A case is clean when nothing shows a traceback (a CLI exit code 0, or 1/2 with one-line `Error:` messages; no
exception logged; no job item failing as "unexpected"), nothing of a refused input is left in the records or the
index, it finishes within `SLOW_S`, and no connection reaches a forbidden address. The forbidden addresses are
bound on loopback inside the private network namespace the tests run in (`unshare --net`, as root there), each
with a listener on ports 80 and 443 that counts every connection it accepts.
"""

from __future__ import annotations

import base64
import contextlib
import errno
import io
import json
import logging
import os
import random
import shutil
import socket
import sqlite3
import struct
import subprocess
import threading
import time
import warnings
import zipfile
import zlib
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from unittest import mock

from click.testing import CliRunner, Result
from langchain_core.embeddings import DeterministicFakeEmbedding

from clonr import Clonr, load_settings
from clonr.cli import LazyApp, cli
from clonr.errors import ClonrError
from clonr.ingest.fetch import AddressPolicy
from clonr.memory import HeuristicImportanceScorer
from tests.conftest import FakeChatModel, FixtureSite
from tests.test_cards import V3_CARD, png_chunk
from tests.test_ingest_files import make_docx, make_pdf, raw_pdf
from tests.test_ingest_web import article, results_page

__all__ = ["MALFORMED", "MAX_BYTES", "SLOW_S", "SSRF", "Malformed", "Network", "Outcome", "Ssrf", "make_template",
           "run_malformed", "run_ssrf"]

MAX_BYTES = 1_000_000  # CLONR_MAX_FILE_BYTES for the corpus: "over the limit" costs 1 MB, not the default 5
SLOW_S = 20.0  # a case that takes longer is not clean: slowness is a way to hurt a server too
PUBLIC = "127.0.0.2"  # plays a public address (the fixture site that redirects, links and lists search results)
_TEXT = b"Ada Lovelace wrote the first program, for Babbage's Analytical Engine, in 1843."
_IGNORED_TABLES = ("ingest_jobs", "ingest_job_items", "alembic_version")  # a failed item is recorded, by design


def _random(n: int, seed: int = 21) -> bytes:
    return random.Random(seed).randbytes(n)


# -- builders: PDF, zip, PNG, JSON ------------------------------------------------------------------------------

_CATALOG = b"<< /Type /Catalog /Pages 2 0 R >>"
_PAGES = b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>"
_PAGE = b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] /Contents 4 0 R >>"


def _stream(body: bytes, extra: bytes = b"") -> bytes:
    return b"<< /Length %d %s >>\nstream\n%s\nendstream" % (len(body), extra, body)


def _zip(members: dict[str, bytes], method: int = zipfile.ZIP_DEFLATED) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", method) as archive:
        for name, content in members.items():
            archive.writestr(name, content)
    return buffer.getvalue()


def _patch_zip(data: bytes, local: int, central: int, value: bytes) -> bytes:
    """Overwrite a field (at these offsets into every local header and central directory entry) in a zip."""
    out = bytearray(data)
    for signature, offset in ((b"PK\x03\x04", local), (b"PK\x01\x02", central)):
        position = out.find(signature)
        while position >= 0:
            if offset >= 0:
                out[position + offset:position + offset + len(value)] = value
            position = out.find(signature, position + 4)
    return bytes(out)


def _encrypted(data: bytes) -> bytes:
    """The zip with every member flagged as encrypted (traditional PKWARE), as a password-protected export is."""
    return _patch_zip(data, 6, 8, struct.pack("<H", 0x0001))


def _unknown_method(data: bytes) -> bytes:
    """The zip with every member's compression method set to 99 (AES, which zipfile cannot read)."""
    return _patch_zip(data, 8, 10, struct.pack("<H", 99))


def _claims_size(data: bytes, size: int) -> bytes:
    """The zip with every member's uncompressed size, in the central directory, set to `size`."""
    return _patch_zip(data, -1, 24, struct.pack("<I", size))


def _corrupt_deflate(data: bytes) -> bytes:
    """The zip with its first member's compressed bytes replaced by garbage (same length)."""
    out = bytearray(data)
    name_length, extra_length = struct.unpack("<HH", out[26:30])
    compressed = struct.unpack("<I", out[18:22])[0]
    start = 30 + name_length + extra_length
    out[start:start + compressed] = b"\xff" * compressed
    return bytes(out)


def _png(*chunks: bytes) -> bytes:
    header = png_chunk(b"IHDR", struct.pack(">IIBBBBB", 1, 1, 8, 0, 0, 0, 0))
    return b"\x89PNG\r\n\x1a\n" + header + b"".join(chunks) + png_chunk(b"IEND", b"")


def _chara(data: bytes, keyword: bytes = b"chara") -> bytes:
    return png_chunk(b"tEXt", keyword + b"\x00" + base64.b64encode(data))


def _json(value: Any) -> bytes:
    return json.dumps(value).encode()


def _card(**data: Any) -> dict[str, Any]:
    """A small valid V2 card with `data` fields changed (a value of `...` removes the field)."""
    fields = {"name": "Ada Lovelace", "description": "Mathematician.", "personality": "Curious.", "scenario": "",
              "first_mes": "Good evening!", "mes_example": "<START>\n{{user}}: Tea?\n{{char}}: Always."}
    fields.update(data)
    return {"spec": "chara_card_v2", "spec_version": "2.0",
            "data": {k: v for k, v in fields.items() if v is not ...}}


def _lorebook(*entries: Any, **book: Any) -> dict[str, Any]:
    return {"name": "World", "entries": list(entries), **book}


def _deep(levels: int) -> bytes:
    return b"[" * levels + b"]" * levels


def _telegram(*messages: Any, **chat: Any) -> bytes:
    return _json({"name": "Tea club", "type": "personal_chat", "messages": list(messages), **chat})


def _tg(sender: Any = "Ada", text: Any = "Hello", date: Any = "2024-01-01T10:00:00") -> dict[str, Any]:
    return {"type": "message", "from": sender, "date": date, "text": text}


def _discord(*messages: Any, guild: Any = None, channel: Any = None) -> bytes:
    return _json({"guild": guild if guild is not None else {"name": "Engines"},
                  "channel": channel if channel is not None else {"name": "general"}, "messages": list(messages)})


def _dc(author: Any = None, content: Any = "Hello", timestamp: Any = "2024-01-01T10:00:00") -> dict[str, Any]:
    return {"type": "Default", "author": author if author is not None else {"name": "Ada"}, "content": content,
            "timestamp": timestamp}


_WHATSAPP = b"1/2/24, 10:00 - Bob: Tea?\n1/2/24, 10:01 - Ada: Always.\n"


def _line(speaker: Any = "fan", text: Any = "I love engines", time: Any = "2024-01-01T10:00:00") -> dict[str, Any]:
    return {"speaker": speaker, "text": text, "time": time}


# -- the malformed corpus --------------------------------------------------------------------------------------

@dataclass(frozen=True)
class Malformed:
    """One hostile input: which way in, what is wrong with it, the file name it arrives under, and its bytes."""

    path: str  # "ingest", "ingest --chat", "import" (cards), "memory import"
    label: str
    name: str
    build: Callable[[], bytes] = lambda: _TEXT
    kind: str = "file"  # file, dir, missing, fifo, device (a link to /dev/zero), loop (a link to itself)
    known: str = ""  # a failure whose fix lies outside the files this corpus's change may touch (xfail)

    @property
    def id(self) -> str:
        return f"{self.path}: {self.label}"




def _files() -> list[Malformed]:
    def f(label: str, name: str, build: Callable[[], bytes] = lambda: _TEXT, **kw: Any) -> Malformed:
        return Malformed("ingest", label, name, build, **kw)

    pdf_text = _stream(b"BT /F1 12 Tf 72 720 Td (Ada) Tj ET")
    return [
        # PDF
        f("pdf: the header, then random bytes", "cv.pdf", lambda: b"%PDF-1.7\n" + _random(4000)),
        f("pdf: only the header", "cv.pdf", lambda: b"%PDF-"),
        f("pdf: startxref points past the end", "cv.pdf",
          lambda: make_pdf(["Ada"]).replace(b"startxref\n", b"startxref\n99999")),
        f("pdf: a page tree that contains itself", "cv.pdf",
          lambda: raw_pdf(_CATALOG, b"<< /Type /Pages /Kids [2 0 R] /Count 1 >>")),
        f("pdf: claims a billion pages", "cv.pdf",
          lambda: raw_pdf(_CATALOG, b"<< /Type /Pages /Kids [3 0 R] /Count 1000000000 >>", _PAGE, pdf_text)),
        f("pdf: a content stream of broken zlib", "cv.pdf",
          lambda: raw_pdf(_CATALOG, _PAGES, _PAGE, _stream(_random(300), b"/Filter /FlateDecode"))),
        f("pdf: encrypted with an unknown handler", "cv.pdf",
          lambda: raw_pdf(_CATALOG, _PAGES, _PAGE, pdf_text, b"<< /Filter /Bogus /V 9 >>",
                       trailer=b"/Root 1 0 R /Encrypt 5 0 R /ID [<01> <01>]")),
        f("pdf: its info dictionary is an array", "cv.pdf",
          lambda: raw_pdf(_CATALOG, _PAGES, _PAGE, pdf_text, b"[1 2 3]", trailer=b"/Root 1 0 R /Info 5 0 R")),
        f("pdf: a title nested 50,000 arrays deep", "cv.pdf",
          lambda: raw_pdf(_CATALOG, _PAGES, _PAGE, pdf_text, b"<< /Title " + _deep(50_000) + b" >>",
                       trailer=b"/Root 1 0 R /Info 5 0 R")),
        f("pdf: a negative stream length", "cv.pdf",
          lambda: raw_pdf(_CATALOG, _PAGES, _PAGE, b"<< /Length -40 >>\nstream\nBT ET\nendstream")),
        f("pdf: the catalog is missing", "cv.pdf", lambda: raw_pdf(_PAGES, trailer=b"/Root 9 0 R")),
        f("pdf: a UTF-16 title with a lone surrogate", "cv.pdf",
          lambda: make_pdf(["Ada"], title="\xfe\xff\xd8\x00\x00A")),
        f("pdf: over CLONR_MAX_FILE_BYTES", "big.pdf", lambda: b"%PDF-1.4\n" + b" " * MAX_BYTES),
        # Word
        f("docx: an empty zip", "cv.docx", lambda: _zip({})),
        f("docx: a zip without word/document.xml", "cv.docx", lambda: _zip({"notes.txt": b"hello"})),
        f("docx: document.xml is not XML", "cv.docx",
          lambda: _zip({"[Content_Types].xml": b"<Types/>", "word/document.xml": b"<w:document><<<"})),
        f("docx: a billion-laughs entity in document.xml", "cv.docx", lambda: _zip({
            "[Content_Types].xml": b"<Types/>", "word/document.xml":
            b'<?xml version="1.0"?><!DOCTYPE l [<!ENTITY a "aaaaaaaaaa"><!ENTITY b "&a;&a;&a;&a;&a;&a;&a;&a;">'
            b'<!ENTITY c "&b;&b;&b;&b;&b;&b;&b;&b;"><!ENTITY d "&c;&c;&c;&c;&c;&c;&c;&c;">]><l>&d;&d;&d;</l>'})),
        f("docx: document.xml nested 10,000 elements deep", "cv.docx", lambda: _zip({
            "[Content_Types].xml": b"<Types/>", "word/document.xml": b"<a>" * 10_000 + b"</a>" * 10_000})),
        f("docx: random bytes", "cv.docx", lambda: _random(3000)),
        f("docx: a member that lies about its size", "cv.docx",
          lambda: _claims_size(_zip({"word/document.xml": b"<w/>" * 250_000}), 10)),
        f("docx: a member named ../../evil.xml", "cv.docx",
          lambda: _zip({"../../evil.xml": b"<x/>", "word/document.xml": b"<w/>"})),
        f("docx: a real document with its content types removed", "cv.docx", lambda: _zip({
            n: c for n, c in _unzip(make_docx(["Ada wrote notes."])).items() if n != "[Content_Types].xml"})),
        f("docx: a password-protected member", "cv.docx", lambda: _encrypted(make_docx(["Ada"]))),
        # HTML
        f("html: an empty document", "about.html", lambda: b"<html></html>"),
        f("html: only scripts and styles", "about.html",
          lambda: b"<html><script>alert(1)</script><style>p{}</style></html>"),
        f("html: 60,000 nested divs", "about.html",
          lambda: b"<html><body>" + b"<div>" * 60_000 + _TEXT + b"</div>" * 60_000 + b"</body></html>"),
        f("html: invalid UTF-8", "about.html", lambda: b"<html><body><p>caf\xe9 \xff\xfe</p></body></html>"),
        f("html: NUL bytes after the first 8 KiB", "about.html",
          lambda: b"<html><body><p>" + b"a " * 5000 + b"\x00\x00 Ada</p></body></html>"),
        f("html: a 500 KB attribute", "about.html",
          lambda: b"<html><body><p title='" + b"x" * 500_000 + b"'>" + _TEXT * 3 + b"</p></body></html>"),
        f("html: an entity-expansion DTD", "about.html",
          lambda: b'<!DOCTYPE html [<!ENTITY a "aaaaaaaaaaaaaaaaaaaa"><!ENTITY b "&a;&a;&a;&a;&a;&a;&a;&a;&a;&a;">]>'
                  b"<html><body><p>&b;&b;&b;&b;&b;&b; " + _TEXT + b"</p></body></html>"),
        f("html: a PNG named .html", "about.html", lambda: _png()),
        # text and Markdown
        f("txt: an empty file", "notes.txt", lambda: b""),
        f("txt: whitespace only", "notes.txt", lambda: b" \n\t\r\n  "),
        f("txt: invalid UTF-8", "notes.txt", lambda: b"Ada \xff\xfe\xfa Lovelace"),
        f("txt: a lone surrogate as bytes (CESU-8)", "notes.txt", lambda: b"Ada \xed\xa0\x80 Lovelace"),
        f("txt: NUL bytes at the start", "notes.txt", lambda: b"\x00\x00\x00" + _TEXT),
        f("txt: NUL bytes after the first 8 KiB", "notes.txt", lambda: _TEXT * 120 + b"\x00" + _TEXT),
        f("md: UTF-16 with a byte-order mark", "notes.md", lambda: _TEXT.decode().encode("utf-16")),
        f("txt: only a byte-order mark", "notes.txt", lambda: b"\xef\xbb\xbf"),
        f("txt: over CLONR_MAX_FILE_BYTES", "big.txt", lambda: b"a" * (MAX_BYTES + 1)),
        f("md: one 300 KB line without a space", "long.md", lambda: b"x" * 300_000),
        f("txt: ANSI escapes and control characters", "notes.txt", lambda: b"\x1b[2J\x1b[31mAda\x07\x08 " + _TEXT),
        # CSV
        f("csv: 10,000 columns", "wide.csv",
          lambda: (",".join(f"c{n}" for n in range(10_000)) + "\n" + ",".join("v" for _ in range(10_000))).encode()),
        f("csv: a header only", "books.csv", lambda: b"title,year\n"),
        f("csv: an unclosed quote", "books.csv", lambda: b'title,year\n"Notes,1843\nPoems,1844\n'),
        f("csv: a field over the csv module's limit", "books.csv", lambda: b"title\n" + b"x" * 140_000 + b"\n"),
        f("csv: ragged rows and bare carriage returns", "books.csv", lambda: b"a,b,c\r1\r1,2,3,4,5\r,,\r"),
        f("csv: 50,000 rows", "rows.csv", lambda: b"n\n" + b"".join(b"%d\n" % n for n in range(50_000))),
        f("csv: quotes that confuse the dialect sniffer", "q.csv", lambda: b'"' * 4000 + b"\n" + b"'," * 2000),
        # JSON
        f("json: a top-level string", "data.json", lambda: b'"Ada wrote the first program."'),
        f("json: null", "data.json", lambda: b"null"),
        f("json: an empty object", "data.json", lambda: b"{}"),
        f("json: trailing garbage", "data.json", lambda: b'{"name": "Ada"} trailing'),
        f("json: 20,000 keys", "data.json", lambda: _json({f"k{n}": n for n in range(20_000)})),
        f("json: UTF-16", "data.json", lambda: '{"name": "Ada"}'.encode("utf-16")),
        f("json: a byte-order mark", "data.json", lambda: b'\xef\xbb\xbf{"name": "Ada"}'),
        f("json: arrays 100,000 deep", "data.json", lambda: _deep(100_000)),
        f("json: a 100,000-digit number", "data.json", lambda: b'{"n": ' + b"9" * 100_000 + b"}"),
        f("json: lone surrogates in keys and values", "data.json", lambda: b'{"\\udfff": "Ada \\ud800 Lovelace"}'),
        f("json: NUL characters in strings", "data.json", lambda: b'{"name": "Ada\\u0000 Lovelace"}'),
        f("json: a Telegram export", "result.json", lambda: _telegram(_tg(), _tg("Bob", "Hi"))),
        # names and paths
        f("name: a newline inside", "evil\nname.txt"),
        f("name: ends in a newline", "notes.txt\n"),
        f("name: ANSI escapes and a bell", "\x1b[31mred\x07.txt"),
        f("name: 250 characters", "n" * 246 + ".txt"),
        f("name: 300 characters, longer than a file system allows", "n" * 296 + ".txt", kind="missing"),
        f("name: ../ in the path", "../up.txt"),
        f("name: no suffix", "README"),
        f("name: an .exe", "setup.exe", lambda: b"MZ" + _random(200)),
        f("name: only a suffix", ".txt"),
        f("name: a right-to-left override hiding .exe", "cv\u202etxt.exe"),
        f("name: bytes that are not UTF-8", "caf\udce9.txt"),
        f("path: a directory", "folder.txt", kind="dir"),
        f("path: nothing there", "missing.txt", kind="missing"),
        f("path: a named pipe", "pipe.txt", kind="fifo"),
        f("path: a link to /dev/zero", "zero.txt", kind="device"),
        f("path: a link to itself", "loop.txt", kind="loop"),
    ]


def _duplicated(name: str, *contents: bytes) -> bytes:
    """A zip with several members of the same name (zipfile warns, and writes them)."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive, warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for content in contents:
            archive.writestr(name, content)
    return buffer.getvalue()


def _unzip(data: bytes) -> dict[str, bytes]:
    with zipfile.ZipFile(io.BytesIO(data)) as archive:
        return {name: archive.read(name) for name in archive.namelist()}


def _chats() -> list[Malformed]:
    def c(label: str, name: str, build: Callable[[], bytes], **kw: Any) -> Malformed:
        return Malformed("ingest --chat", label, name, build, **kw)

    chat_zip = {"_chat.txt": _WHATSAPP}
    return [
        # WhatsApp .txt
        c("whatsapp: no line starts with a date", "chat.txt", lambda: b"hello\nthere\n"),
        c("whatsapp: impossible dates and times", "chat.txt",
          lambda: b"31/31/2024, 99:99 - Bob: Tea?\n0/0/00, 10:01 - Ada: Always.\n"),
        c("whatsapp: only system lines", "chat.txt",
          lambda: b"1/2/24, 10:00 - Messages are end-to-end encrypted.\n1/2/24, 10:01 - Ada joined\n"),
        c("whatsapp: a 900 KB message", "chat.txt", lambda: b"1/2/24, 10:00 - Bob: Tea?\n1/2/24, 10:01 - Ada: "
          + b"Always " * 130_000 + b"\n"),
        c("whatsapp: invalid UTF-8", "chat.txt", lambda: b"1/2/24, 10:00 - Bob: T\xe9a?\n"),
        c("whatsapp: the creator never writes", "chat.txt", lambda: b"1/2/24, 10:00 - Bob: Tea?\n"),
        c("whatsapp: sender names with control characters", "chat.txt",
          lambda: b"1/2/24, 10:00 - B\x1b[31mob\x07: Tea?\n1/2/24, 10:01 - Ada: Always.\n"),
        c("whatsapp: year-first dates out of range", "chat.txt",
          lambda: b"9999/99/99, 10:00 - Bob: Tea?\n2024/02/30, 10:01 - Ada: Always.\n"),
        c("whatsapp: 5,000 lines", "chat.txt",
          lambda: b"".join(b"1/2/24, 10:%02d - %s: line %d\n" % (n % 60, b"Ada" if n % 2 else b"Bob", n)
                           for n in range(5_000))),
        c("whatsapp: an empty file", "chat.txt", lambda: b""),
        c("whatsapp: over CLONR_MAX_FILE_BYTES", "chat.txt", lambda: _WHATSAPP * (MAX_BYTES // len(_WHATSAPP) + 1)),
        # WhatsApp .zip
        c("whatsapp zip: not a zip", "chat.zip", lambda: _random(500)),
        c("whatsapp zip: no .txt inside", "chat.zip", lambda: _zip({"photo.jpg": b"\xff\xd8"})),
        c("whatsapp zip: the chat named ../../_chat.txt", "chat.zip", lambda: _zip({"../../_chat.txt": _WHATSAPP})),
        c("whatsapp zip: a password-protected chat", "chat.zip", lambda: _encrypted(_zip(chat_zip))),
        c("whatsapp zip: an unsupported compression method", "chat.zip", lambda: _unknown_method(_zip(chat_zip))),
        c("whatsapp zip: a member that lies about its size", "chat.zip",
          lambda: _claims_size(_zip({"_chat.txt": _WHATSAPP * 2000}), 10)),
        c("whatsapp zip: a member that claims 2 GB", "chat.zip",
          lambda: _claims_size(_zip(chat_zip), 0x7FFF_FFFF)),
        c("whatsapp zip: corrupt deflate data", "chat.zip", lambda: _corrupt_deflate(_zip(chat_zip))),
        c("whatsapp zip: 5,000 members", "chat.zip",
          lambda: _zip({f"media/{n}.jpg": b"" for n in range(5000)} | chat_zip, zipfile.ZIP_STORED)),
        # Telegram
        c("telegram: messages is a number", "result.json", lambda: _telegram(messages=5)),
        c("telegram: chats.list is a number", "result.json", lambda: _json({"chats": {"list": 5}})),
        c("telegram: a message's text is an object", "result.json",
          lambda: _telegram(_tg(text={"a": 1}), _tg("Bob", "Hi"))),
        c("telegram: text entities of every type", "result.json",
          lambda: _telegram(_tg(text=[5, None, {"text": {}}, {"type": "bold", "text": "Hi"}]), _tg("Bob", "Yo"))),
        c("telegram: from is an object", "result.json", lambda: _telegram(_tg(sender={"id": 1}), _tg())),
        c("telegram: dates that are numbers or out of range", "result.json",
          lambda: _telegram(_tg(date=5), _tg("Bob", date="9999-12-31T23:59:59-14:00"), _tg(date="2024-02-30"))),
        c("telegram: nested 100,000 deep", "result.json", lambda: _deep(100_000)),
        c("telegram: a 100,000-digit number", "result.json", lambda: b'{"messages": [], "id": ' + b"1" * 100_000
          + b"}"),
        c("telegram: a lone surrogate in a sender", "result.json",
          lambda: b'{"name": "C", "type": "personal_chat", "messages": [{"type": "message", "from": "Ada\\ud800",'
                  b' "date": "2024-01-01T10:00:00", "text": "Hello"}]}'),
        # Discord
        c("discord: the guild's name is a number", "general.json", lambda: _discord(_dc(), guild={"name": 5})),
        c("discord: the author is a string", "general.json", lambda: _discord(_dc(author="Ada"))),
        c("discord: content is a list", "general.json", lambda: _discord(_dc(content=["a", 1]), _dc())),
        c("discord: a timestamp offset of +25:00", "general.json",
          lambda: _discord(_dc(timestamp="2024-01-01T10:00:00+25:00"))),
        c("discord: the channel is a list", "general.json", lambda: _discord(_dc(), channel=["x"])),
        c("discord: the author's name is an object", "general.json",
          lambda: _discord(_dc(author={"name": {"first": "Ada"}}))),
        # CSV
        c("chat csv: no sender or text column", "chat.csv", lambda: b"a,b\n1,2\n"),
        c("chat csv: 10,000 columns", "chat.csv",
          lambda: ("sender,text," + ",".join(f"c{n}" for n in range(10_000)) + "\nAda,Hi," + "," * 9_999).encode()),
        c("chat csv: a field over the csv module's limit", "chat.csv",
          lambda: b"sender,text\nAda," + b"x" * 140_000 + b"\n"),
        c("chat csv: timestamps that are not dates", "chat.csv",
          lambda: b"timestamp,sender,text\nyesterday,Bob,Tea?\n99999-01-01,Ada,Always.\n"),
        # other
        c("chat: a PDF given as a chat", "chat.pdf", lambda: make_pdf(["Ada"])),
        c("chat: a JSON array", "result.json", lambda: b"[1, 2, 3]"),
        c("chat: a name that is not UTF-8", "caf\udce9.txt", lambda: _WHATSAPP),
    ]


def _cards() -> list[Malformed]:
    def k(label: str, build: Callable[[], bytes], name: str = "ada.json", **kw: Any) -> Malformed:
        return Malformed("import", label, name, build, **kw)

    entry = {"keys": ["Babbage"], "content": "Charles Babbage designed the Engine.", "enabled": True}
    good = _json(_card())
    return [
        # JSON fields
        k("a JSON list", lambda: b"[1, 2]"),
        k("an unknown spec", lambda: _json({"spec": "chara_card_v9", "data": {}})),
        k("v2 without data", lambda: _json({"spec": "chara_card_v2"})),
        k("data is a string", lambda: _json({"spec": "chara_card_v3", "data": "Ada"})),
        k("no name", lambda: _json(_card(name=...))),
        k("the name is a number", lambda: _json(_card(name=5))),
        k("the name is only spaces", lambda: _json(_card(name="   "))),
        k("the name is 10,000 characters", lambda: _json(_card(name="A" * 10_000))),
        k("the name is HTML", lambda: _json(_card(name="<img src=x onerror=alert(1)>"))),
        k("the name holds a newline and escapes", lambda: _json(_card(name="Ada\nLovelace\x1b[2J"))),
        k("the description is a list", lambda: _json(_card(description=["a"]))),
        k("v2 without a description", lambda: _json(_card(description=...))),
        k("alternate_greetings is a string", lambda: _json(_card(alternate_greetings="Hi"))),
        k("tags hold numbers", lambda: _json(_card(tags=[1, 2]))),
        k("extensions is a list", lambda: _json(_card(extensions=[]))),
        k("extensions.clonr is a string", lambda: _json(_card(extensions={"clonr": "x"}))),
        k("dialogue_categories is a number", lambda: _json(_card(extensions={"clonr": {"dialogue_categories": 7}}))),
        k("dialogue_categories holds objects",
          lambda: _json(_card(extensions={"clonr": {"dialogue_categories": [{}, None, 5]}}))),
        k("short_description is an object", lambda: _json(_card(extensions={"clonr": {"short_description": {}}}))),
        k("character_book is a list", lambda: _json(_card(character_book=[]))),
        k("lorebook entries is an object", lambda: _json(_card(character_book={"entries": {}}))),
        k("a lorebook entry's keys is a number", lambda: _json(_card(character_book=_lorebook({**entry, "keys": 5})))),
        k("a lorebook entry's content is an object",
          lambda: _json(_card(character_book=_lorebook({**entry, "content": {"a": 1}})))),
        k("a lorebook entry is a string", lambda: _json(_card(character_book=_lorebook("entry", entry)))),
        k("the lorebook's name is an object", lambda: _json(_card(character_book=_lorebook(entry, name={"a": 1})))),
        k("a 900 KB lorebook entry", lambda: _json(_card(character_book=_lorebook(
            {**entry, "content": "Engines and poetry. " * 45_000})))),
        k("5,000 lorebook entries", lambda: _json(_card(character_book=_lorebook(
            *({**entry, "content": f"Fact {n} about the Engine."} for n in range(5000)))))),
        k("mes_example with 2,000 <START> blocks",
          lambda: _json(_card(mes_example="<START>\n{{user}}: Tea?\n{{char}}: Always.\n" * 2_000))),
        k("mes_example is only <START>", lambda: _json(_card(mes_example="<START>" * 50))),
        k("a lone surrogate in the name", lambda: good.replace(b"Ada Lovelace", b"Lovelace \\ud800")),
        k("NUL characters in the description", lambda: good.replace(b"Mathematician.", b"Math\\u0000ematician.")),
        k("nested 100,000 deep", lambda: _deep(100_000)),
        k("a 100,000-digit number", lambda: good[:-1] + b', "n": ' + b"7" * 100_000 + b"}"),
        k("invalid UTF-8", lambda: good.replace(b"Mathematician", b"Math\xff\xfematician")),
        k("a V1 card with only a name", lambda: _json({"name": "Augusta"})),
        k("a file name that is not UTF-8", lambda: good, "caf\udce9.json"),
        k("a V3 card with assets of the wrong type", lambda: _json({**V3_CARD, "data": {**V3_CARD["data"],
                                                                                    "assets": "icon.png"}})),
        k("a real V3 card over CLONR_MAX_FILE_BYTES", lambda: _json(_card(creator_notes="x" * MAX_BYTES))),
        # PNG
        k("png: not a PNG", lambda: b"GIF89a" + _random(100), "ada.png"),
        k("png: a chunk longer than the file", lambda: _png(struct.pack(">I", 5000) + b"tEXtchara\x00abc"),
          "ada.png"),
        k("png: no card inside", lambda: _png(), "ada.png"),
        k("png: chara is not base64", lambda: _png(png_chunk(b"tEXt", b"chara\x00!!!***not base64***")), "ada.png"),
        k("png: chara holds invalid UTF-8", lambda: _png(_chara(b"\xff\xfe{}")), "ada.png"),
        k("png: chara holds JSON 100,000 deep", lambda: _png(_chara(_deep(100_000))), "ada.png"),
        k("png: only a compressed iTXt card", lambda: _png(png_chunk(b"iTXt", b"chara\x00\x01\x00\x00\x00"
                                                                    + zlib.compress(base64.b64encode(good)))),
          "ada.png"),
        k("png: an iTXt chunk with too few separators", lambda: _png(png_chunk(b"iTXt", b"chara\x00\x00")), "ada.png"),
        k("png: a chunk length of 0xFFFFFFFF", lambda: _png(struct.pack(">I", 0xFFFF_FFFF) + b"tEXt"), "ada.png"),
        k("png: a broken ccv3 beside a good chara", lambda: _png(_chara(b"{", b"ccv3"), _chara(good)), "ada.png"),
        k("png: 20,000 empty chunks", lambda: _png(*([png_chunk(b"zzZz", b"")] * 20_000), _chara(good)), "ada.png"),
        k("png: a keyword that is not Latin-1 text", lambda: _png(_chara(good, b"\xff\xfe")), "ada.png"),
        # CHARX
        k("charx: not a zip", lambda: _random(400), "ada.charx"),
        k("charx: no card.json", lambda: _zip({"other.json": good}), "ada.charx"),
        k("charx: card.json in a folder", lambda: _zip({"x/card.json": good}), "ada.charx"),
        k("charx: card.json claims 2 GB", lambda: _claims_size(_zip({"card.json": good}), 0x7FFF_FFFF), "ada.charx"),
        k("charx: a password-protected card.json", lambda: _encrypted(_zip({"card.json": good})), "ada.charx"),
        k("charx: an unsupported compression method", lambda: _unknown_method(_zip({"card.json": good})),
          "ada.charx"),
        k("charx: corrupt deflate data", lambda: _corrupt_deflate(_zip({"card.json": good})), "ada.charx"),
        k("charx: members named ../../evil and /etc/passwd", lambda: _zip(
            {"../../evil.txt": b"never written", "/etc/passwd": b"root", "card.json": good}), "ada.charx"),
        k("charx: card.json nested 100,000 deep", lambda: _zip({"card.json": _deep(100_000)}), "ada.charx"),
        k("charx: a zip bomb beside card.json", lambda: _zip({"card.json": good, "assets/bomb.bin": bytes(20_000_000)}),
          "ada.charx"),
        k("charx: two members named card.json", lambda: _duplicated("card.json", b"{", good), "ada.charx"),
    ]


def _transcripts() -> list[Malformed]:
    def m(label: str, build: Callable[[], bytes], name: str = "talk.json", **kw: Any) -> Malformed:
        return Malformed("memory import", label, name, build, **kw)

    return [
        m("an object, not a list", lambda: _json({"lines": []})),
        m("a list of numbers", lambda: b"[1, 2, 3]"),
        m("a line without a time", lambda: _json([{"speaker": "fan", "text": "hi"}])),
        m("a time that is a number", lambda: _json([_line(time=5)])),
        m("a time on the 45th of the 13th month", lambda: _json([_line(time="2024-13-45")])),
        m("a time at year 1, fourteen hours ahead", lambda: _json([_line(time="0001-01-01T00:00:00+14:00")])),
        m("a time at the end of year 9999, fourteen hours behind",
          lambda: _json([_line(time="9999-12-31T23:59:59-14:00")])),
        m("a speaker who is neither fan nor clone", lambda: _json([_line(speaker="robot")])),
        m("a speaker that is a list", lambda: _json([_line(speaker=["fan"])])),
        m("empty text", lambda: _json([_line(text="  ")])),
        m("text that is an object", lambda: _json([_line(text={"a": 1})])),
        m("a name that is an object", lambda: _json([{**_line(), "name": {"first": "Bob"}}])),
        m("an id that is a list", lambda: _json([{**_line(), "id": [1, 2]}])),
        m("a lone surrogate in the text", lambda: b'[{"speaker": "fan", "text": "I love \\udc00 engines", '
                                                 b'"time": "2024-01-01T10:00:00"}]'),
        m("NUL characters in the text", lambda: _json([_line(text="I love\x00 engines")])),
        m("invalid UTF-8", lambda: b'[{"speaker": "fan", "text": "caf\xe9", "time": "2024-01-01T10:00:00"}]'),
        m("a byte-order mark", lambda: b"\xef\xbb\xbf" + _json([_line()])),
        m("nested 100,000 deep", lambda: _deep(100_000)),
        m("a 100,000-digit number", lambda: b'[{"speaker": "fan", "text": "hi", "time": ' + b"2" * 100_000 + b"}]"),
        m("NaN as a time", lambda: b'[{"speaker": "fan", "text": "hi", "time": NaN}]'),
        m("an empty list", lambda: b"[]"),
        m("an empty file", lambda: b""),
        m("over CLONR_MAX_FILE_BYTES", lambda: _json([_line(text="x" * MAX_BYTES)])),
        m("3,000 lines", lambda: _json([_line("fan" if n % 2 else "clone", f"Line {n} about engines.",
                                              f"2024-01-01T{n // 3600 % 24:02d}:{n // 60 % 60:02d}:{n % 60:02d}")
                                        for n in range(3000)])),
        m("mixed naive and offset times", lambda: _json([_line(time="2024-01-01T10:00:00"),
                                                         _line("clone", "Hi", "2024-01-01T10:00:00+05:00")])),
        m("a file name that is not UTF-8", lambda: _json([_line()]), "caf\udce9.json"),
        m("the path is a directory", lambda: b"", kind="dir"),
        m("nothing at the path", lambda: b"", kind="missing"),
        m("a 300-character name", lambda: b"", "t" * 296 + ".json", kind="missing"),
    ]


MALFORMED: list[Malformed] = [*_files(), *_chats(), *_cards(), *_transcripts()]


# -- the SSRF corpus -------------------------------------------------------------------------------------------

LOOPBACK_SPELLINGS = (
    "http://127.0.0.1/", "http://127.1/", "http://127.0.1/", "http://0177.0.0.1/", "http://0177.1/",
    "http://0x7f.1/", "http://0x7f000001/", "http://2130706433/", "http://017700000001/",
    "http://0x7f.0x0.0x0.0x1/", "http://127.000.000.001/", "http://0/", "http://0.0.0.0/", "https://127.0.0.1/",
    "http://[::1]/", "http://[0:0:0:0:0:0:0:1]/", "http://[::ffff:127.0.0.1]/", "http://[::ffff:7f00:1]/",
    "http://[::127.0.0.1]/", "http://[64:ff9b::7f00:1]/", "http://[64:ff9b::127.0.0.1]/",
    "http://[64:ff9b:1:7f00:0:100::]/", "http://[2002:7f00:1::]/", "http://[2001:0:4136:e378:8000:63bf:80ff:fffe]/",
    "http://[::1%25lo]/", "http://[fe80::1%25lo]/", "http://public@127.0.0.1/", "http://public.example@127.0.0.1:80/",
    "http://127.0.0.1#@public.example/", "http://127.0.0.1\\@public.example/", "http://[::1]@public.example/",
    "http://localhost/", "http://LOCALHOST./", "http://127.0.0.1./", "http://127。0。0。1/", "http://①②⑦.0.0.1/",
    "http://%31%32%37.0.0.1/", "http://127.0.0.1:99999/", "http://[::1/", "http:/127.0.0.1/", "http:127.0.0.1/",
    "HTTP://127.0.0.1/", " http://127.0.0.1/ ", "http://[::]/", "http://224.0.0.1/", "http://255.255.255.255/",
)
PRIVATE_SPELLINGS = (
    "http://10.0.0.8/", "http://012.0.0.8/", "http://0xa000008/", "http://172.16.0.1/", "http://192.168.1.1/",
    "http://3232235777/", "http://100.64.0.1/", "http://[fc00::1]/", "http://[fe80::1]/", "http://[::ffff:10.0.0.8]/",
    "http://[64:ff9b::a00:8]/", "http://[2002:c0a8:101::]/",
)
METADATA_SPELLINGS = (
    "http://169.254.169.254/latest/meta-data/", "http://0xa9fea9fe/", "http://2852039166/",
    "http://0251.0376.0251.0376/", "http://169.254.43518/", "http://[::ffff:169.254.169.254]/",
    "http://[::ffff:a9fe:a9fe]/", "http://[64:ff9b::a9fe:a9fe]/", "http://[64:ff9b:1:a9fe:a9:fe00::]/",
    "http://[2002:a9fe:a9fe::]/", "http://[fd00:ec2::254]/", "http://100.100.100.200/", "http://169.254.170.2/",
    "http://[2001:0:4136:e378:8000:63bf:5601:5601]/",
)
# Bound on loopback inside the namespace, each with listeners on 80 and 443 (IPv4-mapped and -compatible forms and
# 0.0.0.0 reach 127.0.0.1's; fe80::1 needs an interface, so it is judged by the refusal alone).
FORBIDDEN_ADDRESSES = (
    "127.0.0.1", "10.0.0.8", "172.16.0.1", "192.168.1.1", "100.64.0.1", "169.254.169.254", "169.254.170.2",
    "100.100.100.200", "::1", "64:ff9b::7f00:1", "64:ff9b::a9fe:a9fe", "64:ff9b::a00:8", "64:ff9b:1:7f00:0:100::",
    "64:ff9b:1:a9fe:a9:fe00::", "2002:7f00:1::", "2002:a9fe:a9fe::", "2002:c0a8:101::",
    "2001:0:4136:e378:8000:63bf:80ff:fffe", "2001:0:4136:e378:8000:63bf:5601:5601", "fd00:ec2::254", "fc00::1",
)
# What a refusal made before any connection says (the guard's words, and the service's for what is no web address).
_REFUSALS = ("private or loopback", "cloud-metadata or reserved", "not a valid URL", "has no host name",
             "not an http", "does not resolve", "can be ingested", "is not a web address", "is not a readable file")


@dataclass(frozen=True)
class Ssrf:
    """One way to make Clonr fetch from a forbidden address."""

    route: str  # url, redirect, crawl, search, youtube, wikipedia, rebinding
    label: str
    target: str  # the forbidden URL, or (youtube, wikipedia, rebinding) the address the name resolves to
    allow_private: bool = False
    status: int = 302  # a redirect's status
    reference: str = ""  # what is ingested (youtube, wikipedia)

    @property
    def id(self) -> str:
        return f"{self.route}{' (private allowed)' if self.allow_private else ''}: {self.label}"


def _ssrf() -> list[Ssrf]:
    cases = [Ssrf("url", url if url == url.strip() else f"{url!r}, with spaces", url)
             for url in LOOPBACK_SPELLINGS + PRIVATE_SPELLINGS]
    cases += [Ssrf("url", url, url) for url in METADATA_SPELLINGS]
    cases += [Ssrf("url", url, url, allow_private=True) for url in METADATA_SPELLINGS]
    for status in (301, 302, 303, 307, 308):
        cases.append(Ssrf("redirect", f"{status} to http://127.0.0.1/", "http://127.0.0.1/secret", status=status))
    for target in ("http://[64:ff9b::7f00:1]/secret", "http://[2002:7f00:1::]/secret", "http://2130706433/",
                   "http://0x7f.1/", "http://[::1]/", "http://10.0.0.8/", "//127.0.0.1/secret",
                   "http://169.254.169.254/latest/meta-data/", "file:///etc/passwd", "gopher://127.0.0.1:6379/_INFO",
                   "http://public@127.0.0.1/", "https://[::ffff:127.0.0.1]/"):
        cases.append(Ssrf("redirect", f"302 to {target}", target))
    cases.append(Ssrf("redirect", "a public hop, then 302 to http://127.0.0.1/", "http://127.0.0.1/", status=0))
    for target in ("http://[64:ff9b::a9fe:a9fe]/", "http://169.254.169.254/", "http://0xa9fea9fe/",
                   "http://[2002:a9fe:a9fe::]/"):
        cases.append(Ssrf("redirect", f"302 to {target}", target, allow_private=True))
        cases.append(Ssrf("redirect", f"307 to {target}", target, allow_private=True, status=307))
    for target in ("http://127.0.0.1/", "http://[64:ff9b::7f00:1]/", "http://10.0.0.8/", "http://[::1/"):
        cases.append(Ssrf("crawl", f"links, a redirecting page and a sitemap leading to {target}", target))
    cases.append(Ssrf("crawl", "links and a sitemap leading to http://169.254.169.254/", "http://169.254.169.254/",
                      allow_private=True))
    for target in ("http://127.0.0.1/", "http://[2002:7f00:1::]/", "http://[::1/"):
        cases.append(Ssrf("search", f"results pointing at {target}", target))
    cases.append(Ssrf("search", "results pointing at http://[64:ff9b::a9fe:a9fe]/", "http://[64:ff9b::a9fe:a9fe]/",
                      allow_private=True))
    for address in ("127.0.0.1", "::1", "64:ff9b::7f00:1", "10.0.0.8"):
        cases.append(Ssrf("youtube", f"youtube.com resolving to {address}", address,
                          reference="https://www.youtube.com/watch?v=GJLlxj_dtq8"))
    for address in ("169.254.169.254", "64:ff9b::a9fe:a9fe"):
        cases.append(Ssrf("youtube", f"youtu.be resolving to {address}", address, allow_private=True,
                          reference="https://youtu.be/GJLlxj_dtq8"))
    for address, reference in (("127.0.0.1", "wiki:Ada Lovelace"), ("2002:7f00:1::", "wiki:fr:Ada Lovelace"),
                               ("::1", "https://de.wikipedia.org/wiki/Ada_Lovelace")):
        cases.append(Ssrf("wikipedia", f"{reference} resolving to {address}", address, reference=reference))
    cases.append(Ssrf("wikipedia", "wiki:Ada Lovelace resolving to 169.254.169.254", "169.254.169.254",
                      allow_private=True, reference="wiki:Ada Lovelace"))
    for address, allow in (("127.0.0.1", False), ("64:ff9b::7f00:1", False), ("169.254.169.254", True)):
        cases.append(Ssrf("rebinding", f"a name with a public address and {address}", address, allow_private=allow))
    return cases


SSRF: list[Ssrf] = _ssrf()


# -- the harness -----------------------------------------------------------------------------------------------

@dataclass
class Outcome:
    """What one case did: clean, or what went wrong (a traceback, a forbidden request, something left behind)."""

    id: str
    path: str
    clean: bool = True
    traceback: bool = False
    forbidden_requests: int = 0
    problems: list[str] = field(default_factory=list)
    messages: list[str] = field(default_factory=list)
    seconds: float = 0.0

    def fail(self, problem: str, *, traceback: bool = False) -> None:
        self.clean = False
        self.traceback = self.traceback or traceback
        self.problems.append(problem)

    @property
    def problem(self) -> str:
        return "; ".join(self.problems)


class _Watch(logging.Handler):
    """Collects exceptions logged anywhere (a job item's "unexpected" failure) and raised in other threads."""

    def __init__(self) -> None:
        super().__init__(logging.ERROR)
        self.errors: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        if record.exc_info:
            self.errors.append(f"logged {record.exc_info[0].__name__}: {record.getMessage()[:120]}")

    @contextlib.contextmanager
    def watching(self) -> Iterator[_Watch]:
        root = logging.getLogger()
        root.addHandler(self)
        previous = threading.excepthook
        threading.excepthook = lambda args: self.errors.append(f"thread raised {args.exc_type.__name__}")
        try:
            yield self
        finally:
            threading.excepthook = previous
            root.removeHandler(self)


def make_app(home: Path, **environment: str) -> Clonr:
    """The app over SQLite and the embedded index with the fake model and embeddings, as the tests build it, with
    the corpus's CLONR_MAX_FILE_BYTES and no politeness delay; `environment` adds settings."""
    settings = load_settings({"CLONR_HOME": str(home), "CLONR_MAX_FILE_BYTES": str(MAX_BYTES),
                              "CLONR_CRAWL_DELAY": "0", "CLONR_FETCH_TIMEOUT": "5", "CLONR_REFLECTION_THRESHOLD": "0",
                              "CLONR_KNOWLEDGE_UPDATES": "off", **environment}, env_file=None)
    return Clonr(settings, chat_model=FakeChatModel(), embeddings=DeterministicFakeEmbedding(size=32),
                 importance=HeuristicImportanceScorer())


def _close(app: Clonr) -> None:
    app.worker.drain()
    app.worker.close()
    app.store.close()


def make_template(folder: Path) -> Path:
    """A CLONR_HOME with the schema made and a clone "Ada" in it, copied for every case (migrations are slow)."""
    home = folder / "template"
    app = make_app(home)
    app.clones.create("Ada")
    _close(app)
    return home


def _fresh_home(template: Path, workdir: Path, name: str = "home") -> Path:
    home = workdir / name
    shutil.copytree(template, home)
    return home


def footprint(app: Clonr) -> dict[str, int]:
    """Rows in every table of the records (jobs aside) and vectors in every index: what a refusal must not change."""
    counts: dict[str, int] = {}
    database = Path(app.settings.database_url.removeprefix("sqlite:///"))
    with contextlib.closing(sqlite3.connect(database)) as connection:
        tables = [row[0] for row in connection.execute("SELECT name FROM sqlite_master WHERE type = 'table' AND name "
                                                       "NOT LIKE 'sqlite_%'")]
        for table in tables:
            if table not in _IGNORED_TABLES and "_fts" not in table:
                counts[table] = connection.execute(f'SELECT count(*) FROM "{table}"').fetchone()[0]
    for index in app.settings.home.rglob("index.sqlite"):
        with contextlib.closing(sqlite3.connect(index)) as connection:
            counts[f"vectors in {index.parent.name}"] = connection.execute("SELECT count(*) FROM vectors").fetchone()[0]
    return counts


def _changed(before: dict[str, int], after: dict[str, int]) -> str:
    return ", ".join(f"{name} {before.get(name, 0)}→{count}" for name, count in after.items()
                     if count != before.get(name, 0))


def _judge_cli(outcome: Outcome, result: Result, watch: _Watch, surface: str) -> bool:
    """Whether the command refused (exit 1/2) rather than succeeded; records any traceback or multi-line error."""
    for error in watch.errors:
        outcome.fail(f"{surface}: {error}", traceback=True)
    watch.errors.clear()
    if result.exception is not None and not isinstance(result.exception, SystemExit):
        outcome.fail(f"{surface}: traceback {type(result.exception).__name__}: {str(result.exception)[:160]}",
                     traceback=True)
        return True
    if "Traceback (most recent call last)" in result.output:
        outcome.fail(f"{surface}: a traceback in the output", traceback=True)
    errors = [line.removeprefix("Error: ") for line in result.output.splitlines() if line.startswith("Error: ")]
    outcome.messages += errors
    for message in errors:
        if "unexpected" in message and "see the log" in message:
            outcome.fail(f"{surface}: {message}", traceback=True)
        elif len(message) > 400:
            outcome.fail(f"{surface}: a {len(message)}-character error message")
    if result.exit_code == 0:
        return False
    if result.exit_code not in (1, 2) or not errors:
        outcome.fail(f"{surface}: exit code {result.exit_code} without a one-line error: {result.output[-200:]!r}")
    return True


def _materialise(case: Malformed, folder: Path) -> Path:
    """The case as a file (or directory, pipe, link) on disk; returns the path the user would type."""
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "sub").mkdir(exist_ok=True)
    path = folder / "sub" / case.name if case.name.startswith("../") else folder / case.name
    if case.kind == "file":
        path.write_bytes(case.build())
    elif case.kind == "dir":
        path.mkdir()
    elif case.kind == "fifo":
        os.mkfifo(path)
    elif case.kind == "device":
        path.symlink_to("/dev/zero")
    elif case.kind == "loop":
        path.symlink_to(path)
    return path


_COMMANDS: dict[str, Callable[[str], list[str]]] = {
    "ingest": lambda path: ["ingest", "ada", path],
    "ingest --chat": lambda path: ["ingest", "ada", "--chat", path, "--me", "Ada"],
    "import": lambda path: ["import", path],
    "memory import": lambda path: ["memory", "ada", "--fan", "bob", "import", path],
}


def run_malformed(case: Malformed, workdir: Path, template: Path) -> Outcome:
    """Run one malformed input through its command, then through the service the studio and the API call."""
    outcome = Outcome(case.id, case.path)
    started = time.perf_counter()
    app = make_app(_fresh_home(template, workdir))
    try:
        with _Watch().watching() as watch:
            path = _materialise(case, workdir / "in")
            before = footprint(app)
            result = CliRunner().invoke(cli, _COMMANDS[case.path](str(path)), obj=LazyApp(app))
            if _judge_cli(outcome, result, watch, "cli") and (changed := _changed(before, footprint(app))):
                outcome.fail(f"cli: refused, yet left {changed}")
    finally:
        _close(app)
    if (case.kind == "file" or case.known) and case.path != "memory import":
        app = make_app(_fresh_home(template, workdir, "service-home"))  # what the command added is not there
        try:
            with _Watch().watching() as watch:
                _through_the_service(case, app, outcome, watch)
        finally:
            _close(app)
    outcome.seconds = time.perf_counter() - started
    if outcome.seconds > SLOW_S:
        outcome.fail(f"took {outcome.seconds:.0f} s (more than {SLOW_S:.0f})")
    return outcome


def _through_the_service(case: Malformed, app: Clonr, outcome: Outcome, watch: _Watch) -> None:
    """An upload as the studio and the API take it: staged, then run as a job (files, chats); a card as bytes.
    (A memory transcript has no other way in: the command reads it and calls MemoryService.import_transcript.)"""
    before = footprint(app)
    refused = False
    try:
        if case.path == "import":
            app.cards.import_card(case.name, case.build())
        else:
            options = {"chat_me": "Ada"} if case.path == "ingest --chat" else {}
            staged = app.ingest.stage_upload(case.name, case.build())
            job = app.ingest.run_job(app.ingest.start_job("ada", [(staged, options)]).id)
            for item in job.failures:
                refused = True
                outcome.messages.append(item.detail)
                if "unexpected" in item.detail:
                    outcome.fail(f"service: {item.detail}", traceback=True)
    except ClonrError as exc:
        refused = True
        outcome.messages.append(str(exc))
        if "\n" in str(exc):
            outcome.fail(f"service: a multi-line error {str(exc)[:100]!r}")
    except Exception as exc:  # what the corpus is for: report it, do not stop the run
        outcome.fail(f"service: traceback {type(exc).__name__}: {str(exc)[:160]}", traceback=True)
        return
    for error in watch.errors:
        outcome.fail(f"service: {error}", traceback=True)
    if refused and (changed := _changed(before, footprint(app))):
        outcome.fail(f"service: refused, yet left {changed}")


# -- SSRF: the forbidden network, the public site, and a resolver ----------------------------------------------

class Listener:
    """Accepts TCP connections on one address and port and counts them; answers each with an internal page, so a
    fetch the guard let through would succeed and show."""

    def __init__(self, address: str, port: int) -> None:
        family = socket.AF_INET6 if ":" in address else socket.AF_INET
        self._socket = socket.socket(family, socket.SOCK_STREAM)
        self._socket.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self._socket.bind((address, port))
        self._socket.listen(16)
        self.address, self.port, self.connections = address, port, 0
        threading.Thread(target=self._serve, daemon=True).start()

    def _serve(self) -> None:
        body = b"<html><body><p>Internal admin page: the secret is 42.</p></body></html>"
        while True:
            try:
                connection, _ = self._socket.accept()
            except OSError:
                return
            self.connections += 1
            with connection:
                connection.settimeout(1)
                with contextlib.suppress(OSError):
                    connection.recv(4096)
                    connection.sendall(b"HTTP/1.1 200 OK\r\nContent-Type: text/html\r\nContent-Length: %d\r\n"
                                       b"Connection: close\r\n\r\n%s" % (len(body), body))

    def close(self) -> None:
        self._socket.close()


def in_private_namespace() -> bool:
    """Whether this process's network has loopback only (`unshare --net`): only then are addresses added to it."""
    return [name for _, name in socket.if_nameindex()] == ["lo"]


class Network:
    """The forbidden addresses, bound on loopback with listeners on 80 and 443; the public site; the resolver."""

    def __init__(self) -> None:
        self.listeners: list[Listener] = []
        self.unwatched: list[str] = []
        self._added: list[str] = []
        private = in_private_namespace()
        for address in FORBIDDEN_ADDRESSES:
            if private and address not in ("127.0.0.1", "::1"):
                flags = ["nodad"] if ":" in address else []  # usable at once, not after duplicate detection
                added = subprocess.run(["ip", "addr", "add", f"{address}/{128 if ':' in address else 32}", "dev",
                                        "lo", *flags], capture_output=True, check=False)
                if added.returncode == 0:
                    self._added.append(address)
            for port in (80, 443):
                for attempt in range(20):
                    try:
                        self.listeners.append(Listener(address, port))
                        break
                    except OSError as exc:
                        if attempt == 19 or exc.errno != errno.EADDRNOTAVAIL:
                            where = f"[{address}]:{port}" if ":" in address else f"{address}:{port}"
                            self.unwatched.append(f"{where} ({exc.strerror})")
                            break
                        time.sleep(0.05)
        self.public = FixtureSite(PUBLIC)
        self.names: dict[str, list[str]] = {}  # host name → addresses, for the case being run

    def hits(self) -> int:
        return sum(listener.connections for listener in self.listeners)

    def close(self) -> None:
        for listener in self.listeners:
            listener.close()
        self.public.close()
        for address in self._added:
            subprocess.run(["ip", "addr", "del", f"{address}/{128 if ':' in address else 32}", "dev", "lo"],
                           capture_output=True, check=False)

    @contextlib.contextmanager
    def playing_the_internet(self) -> Iterator[None]:
        """127.0.0.2 counts as a public address (every other rule is the production one), and the names in
        `names` resolve to the addresses given there."""
        real_check, real_resolve = AddressPolicy.check, socket.getaddrinfo

        def check(policy: AddressPolicy, host: str, address: str) -> None:
            if address != PUBLIC:
                real_check(policy, host, address)

        def resolve(host: Any, port: Any, *args: Any, **kwargs: Any) -> list[Any]:
            name = host.decode() if isinstance(host, bytes) else str(host)
            addresses = self.names.get(name.lower().rstrip("."))
            if addresses is None:
                return real_resolve(host, port, *args, **kwargs)
            return [info for address in addresses for info in real_resolve(address, port, *args, **kwargs)]

        with mock.patch.object(AddressPolicy, "check", check), mock.patch.object(socket, "getaddrinfo", resolve):
            yield


_ABOUT = "Ada Lovelace wrote about the Analytical Engine."
_YOUTUBE_HOSTS = ("www.youtube.com", "youtube.com", "m.youtube.com", "youtu.be")
_WIKIPEDIA_HOSTS = ("en.wikipedia.org", "fr.wikipedia.org", "de.wikipedia.org")


def run_ssrf(case: Ssrf, number: int, workdir: Path, template: Path, network: Network) -> Outcome:
    """Ingest what the case names through the command (and, for a URL, the studio's web form), and count what
    reached a forbidden address."""
    outcome = Outcome(case.id, case.route + (" (private allowed)" if case.allow_private else ""))
    started = time.perf_counter()
    public, prefix = network.public, f"/case{number}"
    public.add(f"{prefix}/robots.txt", "", status=404)
    app = make_app(_fresh_home(template, workdir), CLONR_ALLOW_PRIVATE_URLS="on" if case.allow_private else "off",
                   CLONR_SEARCH_URL=public.url(f"{prefix}/html/"))
    network.names = {}
    hits = network.hits()
    run = CliRunner().invoke
    try:
        with network.playing_the_internet(), _Watch().watching() as watch:
            before = footprint(app)
            if case.route == "url":
                result = run(cli, ["ingest", "ada", case.target], obj=LazyApp(app))
                _refused(outcome, _judge_cli(outcome, result, watch, "cli"))
                _through_the_web_form(case, app, outcome)
            elif case.route in ("redirect", "youtube", "wikipedia", "rebinding"):
                reference = _prepare(case, prefix, network)
                result = run(cli, ["ingest", "ada", reference], obj=LazyApp(app))
                _refused(outcome, _judge_cli(outcome, result, watch, "cli"))
            elif case.route == "crawl":
                _prepare_crawl(case, prefix, public)
                result = run(cli, ["ingest", "ada", public.url(f"{prefix}/"), "--follow", "2", "--sitemap",
                                   "--max-pages", "10"], obj=LazyApp(app))
                _judge_cli(outcome, result, watch, "cli")
                if not any(s.location == public.url(f"{prefix}/") for s in app.ingest.list_sources("ada")):
                    outcome.fail("the public start page of the crawl was not added")
            else:  # search
                public.add(f"{prefix}/go", "", status=302, headers={"Location": case.target})
                public.add(f"{prefix}/html/", results_page([
                    (case.target, "Ada Lovelace - home", "Ada Lovelace, mathematician, London."),
                    (public.url(f"{prefix}/go"), "Ada Lovelace - notes", "Ada Lovelace wrote notes.")]))
                result = run(cli, ["discover", "ada", "Ada Lovelace", "--yes"], obj=LazyApp(app))
                _judge_cli(outcome, result, watch, "cli")
            if case.route != "crawl" and (changed := _changed(before, footprint(app))):
                outcome.fail(f"refused, yet left {changed}")
    finally:
        _close(app)
    outcome.forbidden_requests = network.hits() - hits
    if outcome.forbidden_requests:
        outcome.fail(f"{outcome.forbidden_requests} connection(s) reached a forbidden address")
    outcome.seconds = time.perf_counter() - started
    if outcome.seconds > SLOW_S:
        outcome.fail(f"took {outcome.seconds:.0f} s (more than {SLOW_S:.0f})")
    return outcome


def _prepare(case: Ssrf, prefix: str, network: Network) -> str:
    """Set up the redirect or the resolver for the case; returns what the user ingests."""
    public = network.public
    if case.route == "redirect":
        if case.status == 0:  # one public hop first
            public.add(f"{prefix}/hop", "", status=301, headers={"Location": f"{prefix}/go"})
            public.add(f"{prefix}/go", "", status=302, headers={"Location": case.target})
            return public.url(f"{prefix}/hop")
        public.add(f"{prefix}/go", "", status=case.status, headers={"Location": case.target})
        return public.url(f"{prefix}/go")
    if case.route == "youtube":
        network.names = {host: [case.target] for host in _YOUTUBE_HOSTS}
        return case.reference
    if case.route == "wikipedia":
        network.names = {host: [case.target] for host in _WIKIPEDIA_HOSTS}
        return case.reference
    network.names = {"rebound.example": [PUBLIC, case.target]}  # rebinding
    public.add(f"{prefix}/", article("Rebound", _ABOUT))
    return f"http://rebound.example:{public.url('/').rsplit(':', 1)[1].rstrip('/')}{prefix}/"


def _prepare_crawl(case: Ssrf, prefix: str, public: FixtureSite) -> None:
    """A public page whose links (absolute, protocol-relative, and a same-site page that redirects) and sitemap
    lead to the forbidden address."""
    links = (f"<a href='{case.target}'>Admin</a> <a href='//{case.target.split('//', 1)[1]}'>Admin too</a> "
             f"<a href='{prefix}/next'>Next</a> <a href='{prefix}/about'>About</a>")
    public.add(f"{prefix}/", article("Home", _ABOUT, links))
    public.add(f"{prefix}/about", article("About", _ABOUT))
    public.add(f"{prefix}/next", "", status=302, headers={"Location": case.target})
    public.add("/sitemap.xml", "<?xml version='1.0'?><urlset xmlns='http://www.sitemaps.org/schemas/sitemap/0.9'>"
               f"<url><loc>{case.target}</loc></url><url><loc>{public.url(f'{prefix}/next')}</loc></url></urlset>",
               content_type="application/xml")


def _refused(outcome: Outcome, refused: bool) -> None:
    """A direct fetch of a forbidden address must be refused as such, not fail on the way (which would mean a
    connection was tried)."""
    if not refused:
        outcome.fail("it was fetched")
    elif not any(any(words in message for words in _REFUSALS) for message in outcome.messages):
        outcome.fail(f"refused, but not by the address guard: {outcome.messages[-1:]}")


def _through_the_web_form(case: Ssrf, app: Clonr, outcome: Outcome) -> None:
    """The studio's (and the API's) way in for web references: `start_web_job`, then the job."""
    try:
        job = app.ingest.run_job(app.ingest.start_web_job("ada", [case.target], {}).id)
    except ClonrError as exc:
        outcome.messages.append(str(exc))
        return
    except Exception as exc:  # what the corpus is for: report it, do not stop the run
        outcome.fail(f"web form: traceback {type(exc).__name__}: {str(exc)[:160]}", traceback=True)
        return
    if not job.failures:
        outcome.fail("web form: it was fetched")
    for item in job.failures:
        outcome.messages.append(item.detail)
        if "unexpected" in item.detail:
            outcome.fail(f"web form: {item.detail}", traceback=True)
