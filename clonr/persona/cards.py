"""Export a clone as a character card, and import a card as a new clone (example dialogues and lorebook too).

The imported card is stored whole; an export starts from it and writes back only what Clonr owns, so every
unknown field and extension survives a round trip. A field the creator has not changed since the import is
written back exactly as it came (the description a card split into description, personality and scenario
stays split; its `mes_example` keeps its own wording).
"""

from __future__ import annotations

import copy
import hashlib
import json
import re
import time
from collections.abc import Callable
from typing import Any

from clonr.clones import CloneService
from clonr.clones.acting import ActsFor
from clonr.errors import ClonrError, InvalidInputError
from clonr.ingest import Document, IngestService, Part
from clonr.persona.card_format import card_bytes, read_card
from clonr.persona.dialogues import DialogueService, parse_mes_example, to_mes_example
from clonr.store import Clone, SqlStore

__all__ = ["CardService"]

_DEFAULT_ICON = {"type": "icon", "uri": "ccdefault:", "name": "main", "ext": "png"}


def _pairs_digest(pairs: list[tuple[str, str]]) -> str:
    return hashlib.sha256(json.dumps(pairs).encode()).hexdigest()


def _first_sentence(text: str, limit: int = 300) -> str:
    sentence = re.split(r"(?<=[.!?])\s", " ".join(text.split()), maxsplit=1)[0]
    return sentence if len(sentence) <= limit else ""


class CardService(ActsFor):
    def __init__(self, store: SqlStore, clones: CloneService, dialogues: DialogueService, ingest: IngestService,
                 max_bytes: Callable[[], int]) -> None:
        self._store = store
        self._clones = clones
        self._dialogues = dialogues
        self._ingest = ingest
        self._max_bytes = max_bytes

    # -- export ----------------------------------------------------------------------------------------

    def build(self, clone_ref: str) -> dict[str, Any]:
        """The clone as a V3 card, on top of the card it was imported from (if any)."""
        clone = self._owned(clone_ref)
        dialogues = self._store.list_dialogues(clone.id)
        stored = self._store.get_card(clone.id)
        card = copy.deepcopy(stored) if stored else {"data": {}}
        card["spec"], card["spec_version"] = "chara_card_v3", "3.0"
        data = card["data"]
        extensions = data.setdefault("extensions", {})
        ours = extensions.get("clonr", {}) if isinstance(extensions.get("clonr"), dict) else {}
        imported = ours.pop("imported", {})
        data["name"] = clone.name
        if clone.long_description != imported.get("long_description"):
            data["description"] = clone.long_description
            if imported:  # personality and scenario were folded into the long description on import
                data["personality"], data["scenario"] = "", ""
        if clone.greeting != imported.get("greeting"):
            data["first_mes"] = clone.greeting
        pairs = [(d.user_text, d.char_text) for d in dialogues]
        if _pairs_digest(pairs) != imported.get("dialogues"):
            data["mes_example"] = to_mes_example(dialogues)
        for field in ("description", "personality", "scenario", "first_mes", "mes_example", "creator_notes",
                      "system_prompt", "post_history_instructions", "creator", "character_version"):
            data.setdefault(field, "")
        for field in ("alternate_greetings", "tags", "group_only_greetings"):
            data.setdefault(field, [])
        data.setdefault("assets", [_DEFAULT_ICON])
        data.setdefault("creation_date", int(clone.created_at.timestamp()))
        data["modification_date"] = int(time.time())
        extensions["clonr"] = {**ours, "version": 1, "slug": clone.slug, "short_description":
                               clone.short_description, "dialogue_categories": [d.category for d in dialogues]}
        return card

    def export(self, clone_ref: str, spec: str, filename: str) -> bytes:
        """The card as bytes for `filename` (.json, .png or .charx), as `spec` ccv3 or ccv2."""
        if spec not in ("ccv3", "ccv2"):
            raise InvalidInputError(f"Unknown card format {spec!r}: use ccv3 or ccv2.")
        return card_bytes(self.build(clone_ref), spec, filename)

    # -- import ----------------------------------------------------------------------------------------

    def import_card(self, filename: str, data: bytes, name: str | None = None) -> Clone:
        """A new clone from a card file, with its example dialogues and lorebook; on any error nothing is kept."""
        self._clones.require_creator()
        card = read_card(filename, data, self._max_bytes())
        fields = card["data"]
        ours = fields.get("extensions", {}).get("clonr", {})
        ours = ours if isinstance(ours, dict) else {}
        long_description = "\n\n".join(part for part in (
            fields["description"].strip(),
            f"Personality: {fields['personality'].strip()}" if fields.get("personality", "").strip() else "",
            f"Scenario: {fields['scenario'].strip()}" if fields.get("scenario", "").strip() else "") if part)
        short = str(ours.get("short_description") or _first_sentence(fields.get("personality", "")))
        pairs = parse_mes_example(fields.get("mes_example", ""), fields["name"])
        clone = self._clones.create(name or fields["name"].strip()[:80], short[:300], long_description,
                                    fields.get("first_mes", ""))
        try:
            categories = [c[:40] if isinstance(c, str) and c.strip() else "general"
                          for c in ours.get("dialogue_categories", [])]
            categories += ["general"] * (len(pairs) - len(categories))
            dialogues = self._dialogues.add_many(
                clone.id, [(user, char, category) for (user, char), category in zip(pairs, categories, strict=False)],
                "card")
            stored = copy.deepcopy(card)
            stored["data"].setdefault("extensions", {}).setdefault("clonr", {})
            if not isinstance(stored["data"]["extensions"]["clonr"], dict):
                stored["data"]["extensions"]["clonr"] = {}
            stored["data"]["extensions"]["clonr"]["imported"] = {
                "long_description": clone.long_description, "greeting": clone.greeting,
                "dialogues": _pairs_digest([(d.user_text, d.char_text) for d in dialogues])}
            self._store.save_card(clone.id, stored)
            self._add_lorebook(clone, fields.get("character_book"))
        except BaseException:
            self._dialogues.index(clone).delete([d.id for d in self._store.list_dialogues(clone.id)])
            self._store.delete_clone(clone.id)
            raise
        return clone

    def _add_lorebook(self, clone: Clone, book: dict[str, Any] | None) -> None:
        """Each enabled lorebook entry becomes part of a `lorebook` source, found by relevance like any note."""
        if not book:
            return
        parts = []
        for entry in book.get("entries", []):
            if not isinstance(entry, dict) or entry.get("enabled") is False:
                continue
            content = str(entry.get("content") or "").strip()
            keys = [str(k) for k in entry.get("keys", []) if isinstance(k, str | int)]
            if content:
                parts.append(Part(f"{', '.join(keys)}: {content}" if keys else content, speaker=None))
        if parts:
            title = f"Lorebook: {book.get('name') or clone.name}"
            try:
                self._ingest.add_document(clone.id, Document("lorebook", title, parts=tuple(parts),
                                                             location="character card"))
            except ClonrError as exc:
                raise InvalidInputError(f"The card's lorebook could not be added ({exc}).") from None
