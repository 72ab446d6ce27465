"""Hostile JSON through every path that reads it (a JSON file, a chat export, a character card as JSON and
inside a PNG, a memory transcript): each is refused in one line that names the file, or read with its text made
valid UTF-8 — never a traceback, never a string that cannot be stored."""

from __future__ import annotations

import base64
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from clonr import Clonr
from clonr.cli import LazyApp, cli
from clonr.errors import InvalidInputError
from clonr.ingest.chats import parse_chat
from clonr.ingest.files import read_document
from clonr.memory import read_transcript
from clonr.persona.card_format import read_card
from tests.test_cards import png_chunk

MAX = 10_000_000


def from_png(name: str, data: bytes, max_bytes: int) -> Any:
    """The JSON as a PNG card's `chara` chunk (base64), as card tools write it."""
    header = png_chunk(b"IHDR", b"\x00\x00\x00\x01\x00\x00\x00\x01\x08\x00\x00\x00\x00")
    png = (b"\x89PNG\r\n\x1a\n" + header + png_chunk(b"tEXt", b"chara\x00" + base64.b64encode(data))
           + png_chunk(b"IEND", b""))
    return read_card(name.replace(".json", ".png"), png, max_bytes)


def transcript(name: str, data: bytes, max_bytes: int) -> Any:
    """The JSON as a memory transcript file (each test runs in its own folder)."""
    path = Path.cwd() / name
    path.write_bytes(data)
    return read_transcript(path, max_bytes)


READERS: dict[str, Callable[[str, bytes, int], Any]] = {
    "file": read_document, "chat export": parse_chat, "card": read_card, "card in a PNG": from_png,
    "memory import": transcript,
}

HOSTILE: dict[str, bytes] = {
    "arrays 1,000 deep": b"[" * 1_000 + b"]" * 1_000,
    "arrays 100,000 deep": b"[" * 100_000 + b"]" * 100_000,
    "objects 1,000 deep": b'{"a":' * 1_000 + b"1" + b"}" * 1_000,
    "objects 100 deep": b'{"a":' * 100 + b"1" + b"}" * 100,
    "a 100,000-digit number": b'{"name": "Ada", "n": ' + b"9" * 100_000 + b"}",
    "a 5,000-digit float": b'{"name": "Ada", "n": 1.' + b"5" * 5_000 + b"}",
    "NaN": b'{"name": "Ada", "n": NaN}',
    "Infinity": b'[{"speaker": "fan", "text": "hi", "time": Infinity}]',
    "truncated": b'{"name": "Ada", "messages": [',
}


@pytest.mark.parametrize("reader", list(READERS))
@pytest.mark.parametrize("case", list(HOSTILE))
def test_hostile_json_is_refused_in_one_line(reader: str, case: str) -> None:
    name = "hostile.json"
    with pytest.raises(InvalidInputError) as refused:
        READERS[reader](name, HOSTILE[case], MAX)
    message = str(refused.value)
    assert "\n" not in message and name.split(".")[0] in message and len(message) < 300


SURROGATES = {
    "file": b'{"about": "Ada \\ud800 Lovelace", "\\udfff": "key"}',
    "chat export": b'{"name": "Chat", "type": "personal_chat", "messages": [{"type": "message", "from": "Ada",'
                   b' "date": "2024-01-01T10:00:00", "text": "Hello \\ud800"}, {"type": "message", "from": "Bob",'
                   b' "date": "2024-01-01T10:01:00", "text": "Hi"}]}',
    "card": b'{"spec": "chara_card_v2", "spec_version": "2.0", "data": {"name": "Ada \\ud800", "description": "x",'
            b' "personality": "", "scenario": "", "first_mes": "Hi", "mes_example": ""}}',
    "memory import": b'[{"speaker": "fan", "text": "I love \\udc00 engines", "time": "2024-01-01T10:00:00"}]',
}


@pytest.mark.parametrize("reader", list(SURROGATES))
def test_lone_surrogates_become_replacement_characters(reader: str) -> None:
    result = READERS[reader]("odd.json", SURROGATES[reader], MAX)
    text = repr(result)
    assert "\\ud800" not in text and "\\udfff" not in text and "\\udc00" not in text
    assert "\ufffd" in str(result) or "\\ufffd" in text
    str(result).encode("utf-8")  # storable


def test_ordinary_json_still_reads() -> None:
    document = read_document("profile.json", b'{"name": "Ada", "born": 1815, "likes": ["engines", "poetry"]}', MAX)
    assert "born: 1815" in document.text and "likes: engines" in document.text


WRONG_SHAPES = {
    "telegram list is a number": ("chat export", b'{"chats": {"list": 5}}'),
    "telegram messages is a number": ("chat export", b'{"name": "C", "type": "personal_chat", "messages": 5}'),
    "telegram message is a string": ("chat export", b'{"name": "C", "type": "personal_chat", "messages": ["hi"]}'),
    "discord guild name is a number": ("chat export", b'{"guild": {"name": 5}, "channel": {"name": "general"}, '
                                                      b'"messages": [{"author": {"name": "Ada"}, "content": "hi", '
                                                      b'"timestamp": "2024-01-01T10:00:00"}]}'),
    "discord author is a string": ("chat export", b'{"guild": {"name": "G"}, "channel": {"name": "general"}, '
                                                  b'"messages": [{"author": "Ada", "content": "hi"}]}'),
    "v2 card without description": ("card", b'{"spec": "chara_card_v2", "spec_version": "2.0", '
                                            b'"data": {"name": "Ada"}}'),
    "card name is a number": ("card", b'{"spec": "chara_card_v2", "data": {"name": 5}}'),
    "card categories is a number": ("card", b'{"spec": "chara_card_v2", "data": {"name": "Ada", "description": "x", '
                                            b'"extensions": {"clonr": {"dialogue_categories": 7}}}}'),
    "card extensions is a list": ("card", b'{"spec": "chara_card_v2", "data": {"name": "Ada", "extensions": []}}'),
    "transcript line is a number": ("memory import", b"[5]"),
    "transcript text is an object": ("memory import", b'[{"speaker": "fan", "text": {}, "time": "2024-01-01"}]'),
}


@pytest.mark.parametrize("case", list(WRONG_SHAPES))
def test_json_of_the_wrong_shape_is_read_or_refused_in_one_line(case: str) -> None:
    reader, data = WRONG_SHAPES[case]
    try:
        READERS[reader]("shaped.json", data, MAX)
    except InvalidInputError as refused:
        assert "\n" not in str(refused) and "shaped" in str(refused)


def test_a_file_name_with_a_newline_is_read_and_errors_stay_one_line(app: Clonr, tmp_path: Path) -> None:
    app.clones.create("Ada")
    odd = tmp_path / "notes.txt\n"
    odd.write_text("Ada wrote the first program.")
    bad = tmp_path / "evil\nname.exe"
    bad.write_bytes(b"MZ")
    result = CliRunner().invoke(cli, ["ingest", "ada", str(odd), str(bad)], obj=LazyApp(app))
    named = [line for line in result.output.splitlines() if "name.exe" in line]
    assert named and all("evil\\nname.exe" in line for line in named), "the name is shown escaped, on one line"
    assert any(line.startswith("Error: evil\\nname.exe: Clonr reads") for line in named)
    assert [s.chunk_count for s in app.ingest.list_sources("ada")] == [1], \
        "a name that ends in a newline is still a .txt file"
