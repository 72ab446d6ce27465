"""Character Cards V2 and V3 (the persona interchange format of SillyTavern, RisuAI, Agnai): JSON, PNG, CHARX.

A V3 PNG carries the card as base64 JSON in a `ccv3` tEXt chunk and a back-filled V2 card in `chara`; CHARX
is a zip with `card.json`. Import keeps the whole card, so a round trip returns every field Clonr does not
use (and every `extensions` entry) unchanged; Clonr's own data travels under `extensions.clonr`.
Reading never unpacks to disk and checks sizes before it parses.
"""

from __future__ import annotations

import base64
import binascii
import copy
import hashlib
import io
import json
import struct
import zipfile
import zlib
from pathlib import PurePath
from typing import Any

from clonr.errors import InvalidInputError
from clonr.ingest.files import read_zip_member
from clonr.ingest.untrusted import load_json, valid_text

__all__ = ["CARD_SUFFIXES", "V3_ONLY_FIELDS", "card_bytes", "read_card"]

CARD_SUFFIXES = (".json", ".png", ".charx")
V3_ONLY_FIELDS = ("assets", "nickname", "creator_notes_multilingual", "source", "group_only_greetings",
                  "creation_date", "modification_date")
_PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
_STRINGS = ("name", "description", "personality", "scenario", "first_mes", "mes_example", "creator_notes",
            "system_prompt", "post_history_instructions", "creator", "character_version")


# -- reading ---------------------------------------------------------------------------------------------

def read_card(name: str, data: bytes, max_bytes: int) -> dict[str, Any]:
    """A card file (V1, V2 or V3; JSON, PNG or CHARX) as a V3-shaped card `{spec, spec_version, data}`.

    The original spec is kept under `data.extensions.clonr.imported_spec` only in memory (for messages);
    unknown fields stay where they were.
    """
    name = valid_text(PurePath(name).name) or "card"
    suffix = PurePath(name.strip()).suffix.lower()
    if suffix not in CARD_SUFFIXES:
        raise InvalidInputError(f"{name}: a character card is a .json, .png or .charx file.")
    if len(data) > max_bytes:
        raise InvalidInputError(f"{name} is {len(data):,} bytes; the limit is {max_bytes:,} (CLONR_MAX_FILE_BYTES).")
    if suffix == ".png":
        text = _card_text_from_png(name, data)
    elif suffix == ".charx":
        text = _card_text_from_charx(name, data, max_bytes)
    else:
        text = data.decode("utf-8-sig", errors="replace")
    return _normalise(name, load_json(name, text))


def _normalise(name: str, card: Any) -> dict[str, Any]:
    if not isinstance(card, dict):
        raise InvalidInputError(f"{name}: a card is a JSON object; this is a {type(card).__name__}.")
    spec = card.get("spec")
    if spec in ("chara_card_v2", "chara_card_v3"):
        if not isinstance(card.get("data"), dict):
            raise InvalidInputError(f"{name}: a {spec} card needs a `data` object.")
        normalised = copy.deepcopy(card)
    elif spec is None and "name" in card:  # V1: the fields at the top level
        normalised = {"spec": "chara_card_v1", "spec_version": "1.0", "data": copy.deepcopy(card)}
    else:
        raise InvalidInputError(f"{name}: unknown card spec {spec!r}: Clonr reads chara_card_v2 and chara_card_v3.")
    data = normalised["data"]
    for field in _STRINGS:
        value = data.get(field)
        if value is None:  # missing or null: V1 cards and sloppy tools leave fields out, which the spec requires
            data[field] = ""
        elif not isinstance(value, str):
            raise InvalidInputError(f"{name}: the card's {field} should be text, not {type(value).__name__}.")
    if not data.get("name", "").strip():
        raise InvalidInputError(f"{name}: the card has no name.")
    for field in ("alternate_greetings", "tags", "group_only_greetings"):
        value = data.get(field, [])
        if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
            raise InvalidInputError(f"{name}: the card's {field} should be a list of texts.")
    if not isinstance(data.get("extensions", {}), dict):
        raise InvalidInputError(f"{name}: the card's extensions should be an object.")
    ours = data.get("extensions", {}).get("clonr")
    if isinstance(ours, dict):
        if not isinstance(ours.get("dialogue_categories", []), list):
            raise InvalidInputError(f"{name}: the card's extensions.clonr.dialogue_categories should be a list of "
                                    "texts.")
        if not isinstance(ours.get("short_description") or "", str):
            raise InvalidInputError(f"{name}: the card's extensions.clonr.short_description should be text.")
    book = data.get("character_book")
    if book is not None and not (isinstance(book, dict) and isinstance(book.get("entries", []), list)):
        raise InvalidInputError(f"{name}: the card's character_book should be an object with a list of entries.")
    for number, entry in enumerate(book.get("entries", []) if book else [], start=1):
        if isinstance(entry, dict) and not (isinstance(entry.get("keys", []), list)
                                            and isinstance(entry.get("content") or "", str)):
            raise InvalidInputError(f"{name}: lorebook entry {number} should have a list of keys and a text content.")
    return normalised


def _png_chunks(name: str, data: bytes) -> list[tuple[bytes, bytes]]:
    if not data.startswith(_PNG_SIGNATURE):
        raise InvalidInputError(f"{name} is not a PNG image (wrong signature): export the card again.")
    chunks, position = [], len(_PNG_SIGNATURE)
    while position + 8 <= len(data):
        length, kind = struct.unpack(">I4s", data[position:position + 8])
        body = data[position + 8:position + 8 + length]
        if len(body) != length:
            raise InvalidInputError(f"{name} is a truncated PNG: export the card again.")
        chunks.append((kind, body))
        position += 12 + length
        if kind == b"IEND":
            break
    return chunks


def _card_text_from_png(name: str, data: bytes) -> str:
    """The card JSON from a PNG's `ccv3` (preferred) or `chara` text chunk (tEXt, or uncompressed iTXt)."""
    found: dict[str, bytes] = {}
    for kind, body in _png_chunks(name, data):
        if kind == b"tEXt" and b"\x00" in body:
            keyword, text = body.split(b"\x00", 1)
        elif kind == b"iTXt" and body.count(b"\x00") >= 4:
            keyword, rest = body.split(b"\x00", 1)
            compressed, rest = rest[0], rest[2:]
            text = rest.split(b"\x00", 2)[-1]
            if compressed:
                continue
        else:
            continue
        found[keyword.decode("latin-1").lower()] = text
    encoded = found.get("ccv3") or found.get("chara")
    if encoded is None:
        raise InvalidInputError(f"{name} is a PNG without a character card in it (no ccv3 or chara chunk).")
    try:
        return base64.b64decode(encoded, validate=False).decode("utf-8")
    except (binascii.Error, UnicodeDecodeError):
        raise InvalidInputError(f"{name}: the card inside the PNG is not base64 JSON: export it again.") from None


def _card_text_from_charx(name: str, data: bytes, max_bytes: int) -> str:
    _, raw = read_zip_member(name, data, lambda members: next((m for m in members if m.filename == "card.json"), None),
                             max_bytes, "has no card.json: it is not a CHARX file.", what="CHARX (zip)")
    return raw.decode("utf-8-sig", errors="replace")


# -- writing ---------------------------------------------------------------------------------------------

def as_v2(card_v3: dict[str, Any]) -> dict[str, Any]:
    """The V2 card for a V3 one: V2's fields, V3-only ones dropped (V2 readers ignore them anyway)."""
    data = {k: copy.deepcopy(v) for k, v in card_v3["data"].items() if k not in V3_ONLY_FIELDS}
    return {"spec": "chara_card_v2", "spec_version": "2.0", "data": data}


def card_bytes(card_v3: dict[str, Any], spec: str, filename: str) -> bytes:
    """The card in the format the file name asks for (.json, .png, .charx), as `spec` (ccv3 or ccv2)."""
    suffix = PurePath(filename).suffix.lower()
    card = card_v3 if spec == "ccv3" else as_v2(card_v3)
    if suffix == ".json":
        return json.dumps(card, indent=2, ensure_ascii=False).encode()
    if suffix == ".png":
        chunks = [("ccv3", card_v3), ("chara", as_v2(card_v3))] if spec == "ccv3" else [("chara", card)]
        return _png_with_text(avatar_png(card["data"]["name"]), chunks)
    if suffix == ".charx":
        if spec != "ccv3":
            raise InvalidInputError("CHARX holds V3 cards: use --format ccv3 with a .charx file.")
        buffer = io.BytesIO()
        with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
            charx = copy.deepcopy(card_v3)
            charx["data"]["assets"] = [a for a in charx["data"].get("assets", []) if a.get("uri") != "ccdefault:"] + [
                {"type": "icon", "uri": "embeded://assets/icon/images/main.png", "name": "main", "ext": "png"}]
            archive.writestr("card.json", json.dumps(charx, indent=2, ensure_ascii=False))
            archive.writestr("assets/icon/images/main.png", avatar_png(card["data"]["name"]))
        return buffer.getvalue()
    raise InvalidInputError(f"{filename}: export to a .json, .png or .charx file.")


def _chunk(kind: bytes, body: bytes) -> bytes:
    return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body) & 0xFFFFFFFF)


def avatar_png(name: str, size: int = 256) -> bytes:
    """A plain square avatar in a colour taken from the name: a real PNG (8-bit RGB), no imaging library."""
    red, green, blue = hashlib.sha256(name.encode()).digest()[:3]
    row = b"\x00" + bytes((red // 2 + 64, green // 2 + 64, blue // 2 + 64)) * size
    header = struct.pack(">IIBBBBB", size, size, 8, 2, 0, 0, 0)
    return (_PNG_SIGNATURE + _chunk(b"IHDR", header) + _chunk(b"IDAT", zlib.compress(row * size, 9))
            + _chunk(b"IEND", b""))


def _png_with_text(png: bytes, cards: list[tuple[str, dict[str, Any]]]) -> bytes:
    """The PNG with each card as a base64 tEXt chunk, placed before IEND."""
    end = png.rindex(b"IEND") - 4
    text = b"".join(_chunk(b"tEXt", key.encode("latin-1") + b"\x00" + base64.b64encode(
        json.dumps(card, ensure_ascii=False).encode())) for key, card in cards)
    return png[:end] + text + png[end:]
