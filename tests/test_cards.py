"""Character Card V2/V3 import and export in JSON, PNG and CHARX, with fixtures built here from the public spec."""

from __future__ import annotations

import base64
import io
import json
import struct
import zipfile
import zlib
from pathlib import Path

import pytest
from click.testing import CliRunner

from clonr import Clonr
from clonr.cli import LazyApp, cli
from clonr.errors import AlreadyExistsError, InvalidInputError
from clonr.ingest import IngestService

V3_CARD = {
    "spec": "chara_card_v3", "spec_version": "3.0", "x_top_level": {"kept": True},
    "data": {
        "name": "Ada Lovelace", "description": "Mathematician and writer.", "personality": "Curious and witty.",
        "scenario": "A salon in London, 1843.", "first_mes": "Good evening! Have you seen the Engine?",
        "mes_example": "<START>\n{{user}}: What is the Engine?\n{{char}}: A machine that weaves algebra.\n"
                       "<START>\n{{user}}: Tea?\nAda Lovelace: Always.",
        "creator_notes": "Made by hand.", "system_prompt": "", "post_history_instructions": "",
        "alternate_greetings": ["Hello there."], "tags": ["history", "science"], "creator": "someone",
        "character_version": "1.2", "group_only_greetings": [], "nickname": "Ada",
        "creation_date": 1700000000, "modification_date": 1700000000, "x_data_field": [1, 2, 3],
        "assets": [{"type": "icon", "uri": "ccdefault:", "name": "main", "ext": "png"}],
        "extensions": {"depth_prompt": {"prompt": "Stay curious.", "depth": 4}, "talkativeness": "0.5"},
        "character_book": {"name": "Ada's world", "extensions": {}, "entries": [
            {"keys": ["Babbage"], "content": "Charles Babbage designed the Analytical Engine.", "enabled": True,
             "insertion_order": 0, "extensions": {}},
            {"keys": ["Byron"], "content": "Lord Byron was Ada's father.", "enabled": True, "insertion_order": 1,
             "extensions": {}},
            {"keys": ["secret"], "content": "Disabled entry.", "enabled": False, "insertion_order": 2,
             "extensions": {}},
        ]},
    },
}


def png_chunk(kind: bytes, body: bytes) -> bytes:
    return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))


def png_with(text_chunks: dict[str, dict]) -> bytes:
    """A 1x1 grey PNG with tEXt chunks holding base64 card JSON, per the PNG and card specs."""
    header = png_chunk(b"IHDR", struct.pack(">IIBBBBB", 1, 1, 8, 0, 0, 0, 0))
    pixels = png_chunk(b"IDAT", zlib.compress(b"\x00\x80"))
    texts = b"".join(png_chunk(b"tEXt", key.encode() + b"\x00" + base64.b64encode(json.dumps(card).encode()))
                     for key, card in text_chunks.items())
    return b"\x89PNG\r\n\x1a\n" + header + texts + pixels + png_chunk(b"IEND", b"")


def png_text(data: bytes) -> dict[str, dict]:
    found, position = {}, 8
    while position < len(data):
        length, kind = struct.unpack(">I4s", data[position:position + 8])
        body = data[position + 8:position + 8 + length]
        crc = struct.unpack(">I", data[position + 8 + length:position + 12 + length])[0]
        assert crc == zlib.crc32(kind + body), "every chunk's CRC is right"
        if kind == b"tEXt":
            key, text = body.split(b"\x00", 1)
            found[key.decode()] = json.loads(base64.b64decode(text))
        position += 12 + length
    return found


def charx_with(card: dict) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("card.json", json.dumps(card))
        archive.writestr("../../evil.txt", "never written anywhere")
        archive.writestr("assets/icon/images/main.png", png_with({}))
    return buffer.getvalue()


def test_a_v3_card_imports_with_its_dialogues_and_lorebook(app: Clonr) -> None:
    clone = app.cards.import_card("ada.json", json.dumps(V3_CARD).encode())
    assert clone.name == "Ada Lovelace" and clone.greeting == "Good evening! Have you seen the Engine?"
    assert clone.long_description.startswith("Mathematician and writer.\n\nPersonality: Curious and witty.")
    assert "Scenario: A salon in London, 1843." in clone.long_description
    assert clone.short_description == "Curious and witty."
    assert [(d.user_text, d.char_text, d.origin) for d in app.dialogues.list(clone.id)] == [
        ("What is the Engine?", "A machine that weaves algebra.", "card"), ("Tea?", "Always.", "card")]
    [lorebook] = app.ingest.list_sources(clone.id)
    assert lorebook.kind == "lorebook" and lorebook.title == "Lorebook: Ada's world"
    text = "\n".join(app.ingest.source_chunks(clone.id, lorebook.id))
    assert "Babbage: Charles Babbage designed" in text and "Disabled entry" not in text


def test_a_json_round_trip_keeps_every_field_and_extension(app: Clonr) -> None:
    clone = app.cards.import_card("ada.json", json.dumps(V3_CARD).encode())
    exported = json.loads(app.cards.export(clone.id, "ccv3", "ada.json"))
    ours = exported["data"]["extensions"].pop("clonr")
    assert ours["version"] == 1 and ours["short_description"] == "Curious and witty." and "imported" not in ours
    assert exported["data"].pop("modification_date") >= V3_CARD["data"]["modification_date"]
    original = json.loads(json.dumps(V3_CARD))
    original["data"].pop("modification_date")
    assert exported == original, "unchanged fields come back exactly as they were"


def test_an_edited_clone_exports_its_edits_and_still_keeps_unknown_fields(app: Clonr) -> None:
    clone = app.cards.import_card("ada.json", json.dumps(V3_CARD).encode())
    app.clones.update(clone.id, long_description="I am Ada. I write about engines.", greeting="Hi!")
    app.dialogues.add(clone.id, "Music?", "Beethoven, loudly.", category="tastes")
    data = json.loads(app.cards.export(clone.id, "ccv3", "ada.json"))["data"]
    assert (data["description"], data["personality"], data["scenario"], data["first_mes"]) == (
        "I am Ada. I write about engines.", "", "", "Hi!")
    assert data["mes_example"].endswith("<START>\n{{user}}: Music?\n{{char}}: Beethoven, loudly.")
    assert data["extensions"]["clonr"]["dialogue_categories"] == ["general", "general", "tastes"]
    assert data["x_data_field"] == [1, 2, 3] and data["extensions"]["depth_prompt"]["depth"] == 4
    assert data["character_book"] == V3_CARD["data"]["character_book"]


def test_png_export_carries_ccv3_and_a_back_filled_v2_card(app: Clonr, tmp_path: Path) -> None:
    clone = app.clones.create("Ada", "Mathematician.", "I love engines.", "Hello!")
    app.dialogues.add(clone.id, "Who are you?", "Ada, a poet of numbers.")
    chunks = png_text(app.cards.export(clone.id, "ccv3", "ada.png"))
    assert chunks["ccv3"]["spec"] == "chara_card_v3" and chunks["chara"]["spec"] == "chara_card_v2"
    v2 = chunks["chara"]["data"]
    assert (v2["name"], v2["description"], v2["first_mes"]) == ("Ada", "I love engines.", "Hello!")
    assert "{{char}}: Ada, a poet of numbers." in v2["mes_example"] and "assets" not in v2
    again = app.cards.import_card("ada.png", app.cards.export(clone.id, "ccv3", "ada.png"), name="Ada again")
    assert again.long_description == "I love engines." and again.short_description == "Mathematician."
    only_v2 = png_text(app.cards.export(clone.id, "ccv2", "ada.png"))
    assert list(only_v2) == ["chara"]


def test_cards_from_other_tools_import_from_png_and_charx(app: Clonr) -> None:
    v2 = {"spec": "chara_card_v2", "spec_version": "2.0", "data": {**{k: v for k, v in V3_CARD["data"].items()
                                                                      if k not in ("assets", "nickname")},
                                                                   "name": "Ada V2"}}
    from_png = app.cards.import_card("card.png", png_with({"chara": v2}))
    assert from_png.name == "Ada V2"
    both = png_with({"chara": v2, "ccv3": {**V3_CARD, "data": {**V3_CARD["data"], "name": "Ada V3"}}})
    assert app.cards.import_card("card.png", both).name == "Ada V3", "ccv3 wins over chara"
    from_charx = app.cards.import_card("card.charx", charx_with({**V3_CARD, "data": {**V3_CARD["data"],
                                                                                     "name": "Ada X"}}))
    assert from_charx.name == "Ada X" and not Path("evil.txt").exists()
    exported = zipfile.ZipFile(io.BytesIO(app.cards.export(from_charx.id, "ccv3", "ada.charx")))
    assert {"card.json", "assets/icon/images/main.png"} <= set(exported.namelist())
    card = json.loads(exported.read("card.json"))
    assert {"type": "icon", "uri": "embeded://assets/icon/images/main.png", "name": "main", "ext": "png"} in \
        card["data"]["assets"]


@pytest.mark.parametrize("name, data, message", [
    ("card.json", b"{not json", "not valid JSON"),
    ("card.json", b"[1, 2]", "is a JSON object"),
    ("card.json", json.dumps({"spec": "chara_card_v9", "data": {}}).encode(), "unknown card spec"),
    ("card.json", json.dumps({"spec": "chara_card_v2", "data": {"name": ""}}).encode(), "has no name"),
    ("card.json", json.dumps({"spec": "chara_card_v2", "data": {"name": "X", "tags": "a"}}).encode(), "list of texts"),
    ("card.json", json.dumps({"spec": "chara_card_v2", "data": {"name": "X", "description": 5}}).encode(),
     "should be text"),
    ("card.png", b"\x89PNG\r\n\x1a\n" + png_chunk(b"IHDR", b"\0" * 13)[:10], "truncated PNG"),
    ("card.png", png_with({}), "without a character card"),
    ("card.png", b"GIF89a", "not a PNG"),
    ("card.charx", b"PK\x03\x04nope", "not a readable CHARX"),
    ("card.txt", b"{}", "is a .json, .png or .charx"),
])
def test_malformed_cards_get_one_line_errors_and_create_nothing(app: Clonr, name: str, data: bytes,
                                                                message: str) -> None:
    with pytest.raises(InvalidInputError, match=message) as caught:
        app.cards.import_card(name, data)
    assert "\n" not in str(caught.value) and app.clones.list() == []


def test_an_oversized_card_and_a_charx_without_card_json_are_refused(app: Clonr) -> None:
    with pytest.raises(InvalidInputError, match="CLONR_MAX_FILE_BYTES"):
        app.cards.import_card("big.json", b" " * (app.settings.max_file_bytes + 1))
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("other.json", "{}")
    with pytest.raises(InvalidInputError, match=r"no card\.json"):
        app.cards.import_card("x.charx", buffer.getvalue())
    assert app.clones.list() == []


def test_a_failure_half_way_leaves_no_clone(app: Clonr, monkeypatch: pytest.MonkeyPatch) -> None:
    def broken(*args, **kwargs):
        raise InvalidInputError("disk full")

    monkeypatch.setattr(IngestService, "add_document", broken)  # every instance: the card service's too
    with pytest.raises(InvalidInputError, match="lorebook could not be added"):
        app.cards.import_card("ada.json", json.dumps(V3_CARD).encode())
    assert app.clones.list() == [] and app.store.list_dialogues("anything") == []
    with pytest.raises(AlreadyExistsError):
        app.clones.create("Ada Lovelace")
        app.cards.import_card("ada.json", json.dumps({**V3_CARD, "data": {**V3_CARD["data"],
                                                                           "character_book": None}}).encode())


def test_export_and_import_cli(app: Clonr, tmp_path: Path) -> None:
    app.clones.create("Ada", "Mathematician.", "I love engines.")
    run = CliRunner().invoke
    for filename in ("ada.json", "ada.png", "ada.charx"):
        result = run(cli, ["export", "ada", "-o", str(tmp_path / filename)], obj=LazyApp(app))
        assert result.exit_code == 0 and (tmp_path / filename).stat().st_size > 100, result.output
    v2 = run(cli, ["export", "ada", "--format", "ccv2", "-o", str(tmp_path / "v2.json")], obj=LazyApp(app))
    assert v2.exit_code == 0 and json.loads((tmp_path / "v2.json").read_text())["spec"] == "chara_card_v2"
    imported = run(cli, ["import", str(tmp_path / "ada.charx"), "--name", "Ada Copy"], obj=LazyApp(app))
    assert imported.exit_code == 0 and "Imported Ada Copy" in imported.output
    assert app.clones.get("ada-copy").long_description == "I love engines."
    clash = run(cli, ["import", str(tmp_path / "ada.json")], obj=LazyApp(app))
    assert clash.exit_code == 1 and "already exists" in clash.output
    charx_v2 = run(cli, ["export", "ada", "--format", "ccv2", "-o", str(tmp_path / "x.charx")], obj=LazyApp(app))
    assert charx_v2.exit_code == 1 and "CHARX holds V3 cards" in charx_v2.output
