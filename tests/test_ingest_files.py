"""Real files in real formats become documents with provenance; malformed ones get a one-line error."""

from __future__ import annotations

import io
import json
import zipfile
from pathlib import Path

import docx
import pytest

from clonr import Clonr
from clonr.errors import InvalidInputError
from clonr.ingest.files import read_document

LIMIT = 5_000_000


def raw_pdf(*objects: bytes, trailer: bytes = b"/Root 1 0 R") -> bytes:
    """A PDF from raw object bodies (numbered from 1), with a correct cross-reference table."""
    out, offsets = bytearray(b"%PDF-1.4\n"), []
    for number, body in enumerate(objects, start=1):
        offsets.append(len(out))
        out += b"%d 0 obj\n%s\nendobj\n" % (number, body)
    xref = len(out)
    out += b"xref\n0 %d\n0000000000 65535 f \n" % (len(objects) + 1)
    out += b"".join(b"%010d 00000 n \n" % offset for offset in offsets)
    out += b"trailer\n<< /Size %d %s >>\nstartxref\n%d\n%%%%EOF\n" % (len(objects) + 1, trailer, xref)
    return bytes(out)


def make_pdf(lines: list[str], title: str = "Résumé", author: str = "Ada Lovelace") -> bytes:
    """A real PDF 1.4 (one page, Helvetica text, an info dictionary), written from the spec by hand."""
    text = "BT /F1 12 Tf 72 720 Td 14 TL " + " ".join(f"({line}) '" for line in lines) + " ET"
    objects = [
        b"<< /Type /Catalog /Pages 2 0 R >>",
        b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
        b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] /Contents 4 0 R "
        b"/Resources << /Font << /F1 5 0 R >> >> >>",
        b"<< /Length %d >>\nstream\n%s\nendstream" % (len(text), text.encode("latin-1")),
        b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>",
        f"<< /Title ({title}) /Author ({author}) /CreationDate (D:20240115120000Z) >>".encode("latin-1"),
    ]
    return raw_pdf(*objects, trailer=b"/Root 1 0 R /Info 6 0 R")


def make_docx(paragraphs: list[str], table: list[list[str]] | None = None) -> bytes:
    document = docx.Document()
    document.core_properties.title = "Ada's CV"
    document.core_properties.author = "Ada Lovelace"
    for paragraph in paragraphs:
        document.add_paragraph(paragraph)
    if table:
        grid = document.add_table(rows=len(table), cols=len(table[0]))
        for row, values in zip(grid.rows, table, strict=True):
            for cell, value in zip(row.cells, values, strict=True):
                cell.text = value
    buffer = io.BytesIO()
    document.save(buffer)
    return buffer.getvalue()


def test_a_resume_pdf_is_read_with_its_title_author_and_date() -> None:
    document = read_document("cv.pdf", make_pdf(["Ada Lovelace", "Analyst of the Analytical Engine, 1843"]), LIMIT)
    assert "Analytical Engine" in document.text
    assert (document.title, document.author, document.published) == ("Résumé", "Ada Lovelace", "2024-01-15")


def test_a_word_document_keeps_paragraphs_and_tables() -> None:
    document = read_document("cv.docx", make_docx(["I write about engines."], [["Year", "Work"], ["1843", "Notes"]]),
                             LIMIT)
    assert "I write about engines." in document.text and "1843 | Notes" in document.text
    assert (document.title, document.author) == ("Ada's CV", "Ada Lovelace")


def test_html_json_and_csv_read_as_text() -> None:
    paragraphs = "".join(f"<p>Paragraph {n}: I am a mathematician and I love poetry, horses and the engines of "
                         f"Mr Babbage, which I describe in my notes at some length.</p>" for n in range(4))
    html = ("<html><head><title>About Ada</title><meta name='author' content='Ada King'></head><body><nav><ul>"
            "<li><a href='/'>Home</a></li><li><a href='/blog'>Blog</a></li></ul></nav><main><article><h1>About"
            f"</h1>{paragraphs}</article></main><footer><a href='/legal'>Legal notice</a></footer></body></html>")
    page = read_document("about.html", html.encode(), LIMIT)
    assert "love poetry" in page.text and "Legal notice" not in page.text
    assert (page.title, page.author) == ("About", "Ada King")  # trafilatura prefers the h1 heading
    profile = read_document("profile.json", json.dumps({"name": "Ada", "jobs": [{"title": "Analyst"}],
                                                         "age": 36, "alive": False}).encode(), LIMIT)
    assert profile.text.splitlines() == ["name: Ada", "jobs.title: Analyst", "age: 36"]
    table = read_document("books.csv", b"title,year\nNotes,1843\nPoems,\n", LIMIT)
    assert table.text.splitlines() == ["title: Notes; year: 1843", "title: Poems"]


@pytest.mark.parametrize("name, data, message", [
    ("cv.pdf", b"%PDF-1.4\n1 0 obj garbage", "damaged PDF"),
    ("cv.pdf", b"PK\x03\x04 not a pdf", "not a PDF"),
    ("cv.docx", b"%PDF-1.4", "damaged Word file"),
    ("cv.docx", b"", "damaged Word file"),
    ("data.json", b'{"name": ', r"not valid JSON \(line 1"),
    ("notes.txt", "café".encode("latin-1"), "not UTF-8"),
    ("photo.png", b"\x89PNG", "convert it"),
    ("empty.md", b"  \n", "empty"),
    ("scan.pdf", make_pdf([]), "no text Clonr can read"),
])
def test_malformed_files_get_one_line_errors(name: str, data: bytes, message: str) -> None:
    with pytest.raises(InvalidInputError, match=message) as caught:
        read_document(name, data, LIMIT)
    assert "\n" not in str(caught.value)


def test_a_docx_zip_bomb_is_refused() -> None:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("word/document.xml", "<w/>")
        archive.writestr("word/padding.bin", b"\0" * 60_000_000)
    with pytest.raises(InvalidInputError, match="unpacks to more than"):
        read_document("bomb.docx", buffer.getvalue(), LIMIT)


def test_an_oversized_file_is_refused_before_parsing() -> None:
    with pytest.raises(InvalidInputError, match="CLONR_MAX_FILE_BYTES"):
        read_document("cv.pdf", make_pdf(["x"]), 100)


def test_a_pdf_file_is_ingested_with_provenance_in_its_chunks(app: Clonr, tmp_path: Path) -> None:
    ada = app.clones.create("Ada")
    path = tmp_path / "cv.pdf"
    path.write_bytes(make_pdf(["Ada Lovelace", "Wrote the first program in 1843"]))
    result = app.ingest.add_file("ada", path)
    assert result.source.kind == "file" and result.source.author == "Ada Lovelace"
    chunk = app.index_for(ada).get_by_ids([f"{result.source.id}:0"])[0]
    assert "first program" in chunk.page_content
    assert chunk.metadata.items() >= {"title": "Résumé", "kind": "file", "author": "Ada Lovelace",
                                   "published": "2024-01-15", "location": str(path.resolve()), "position": 0}.items()


def test_a_page_without_a_stated_date_gets_none_not_a_guess() -> None:
    body = "<p>I am a mathematician and I love poetry and long sentences about engines.</p>" * 5
    page = read_document("a.html", f"<html><body><article>{body}</article><footer>© 2024</footer></body></html>"
                         .encode(), LIMIT)
    assert page.published is None


@pytest.mark.parametrize("name, data", [
    ("WhatsApp Chat with Bob.txt", b"12/31/21, 11:59 PM - Bob: Happy new year!\n1/1/22, 12:01 AM - Ada: Thanks!\n"),
    ("result.json", json.dumps({"name": "Bob", "type": "personal_chat", "messages": []}).encode()),
    ("general.json", json.dumps({"channel": {"name": "general"}, "messages": []}).encode()),
])
def test_a_chat_export_added_as_a_file_says_how_to_add_it(name: str, data: bytes) -> None:
    with pytest.raises(InvalidInputError, match="--chat"):
        read_document(name, data, LIMIT)


def test_a_page_without_a_charset_header_is_decoded_by_its_meta_tag(web_app: Clonr, site) -> None:
    body = "<p>Je m'appelle Ada et j'adore le café, les chevaux et les machines à calculer.</p>" * 4
    site.add("/fr", f"<html><head><meta charset='iso-8859-1'><title>Ada</title></head><body><article>{body}"
             "</article></body></html>".encode("latin-1"), content_type="text/html")
    site.add("/robots.txt", "", status=404)
    web_app.clones.create("Ada")
    web_app.ingest.run_job(web_app.ingest.start_job("ada", [(site.url("/fr"), {})]).id)
    [source] = web_app.ingest.list_sources("ada")
    assert "café" in web_app.ingest.source_chunks("ada", source.id)[0]
