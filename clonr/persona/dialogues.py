"""Example dialogues: how the person answers, as records a creator can tag, edit and delete.

They come from the icebreaker interview, chat exports, corrections in the test chat and imported cards.
Each is embedded (what was said and the answer) in the clone's dialogue index, so a turn can include the
ones most relevant to the fan's message within a token budget, rather than all of them.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable

from langchain_core.vectorstores import VectorStore

from clonr.clones import CloneService
from clonr.clones.acting import ActsFor
from clonr.errors import InvalidInputError
from clonr.store import Clone, Dialogue, SqlStore
from clonr.vectors.base import replace_all

__all__ = ["MAX_DIALOGUE_CHARS", "DialogueService", "parse_mes_example", "to_mes_example"]

MAX_DIALOGUE_CHARS = 2000  # per side: an example longer than this teaches length, not voice
_TURN = re.compile(r"^\{\{(user|char)\}\}:\s*", re.MULTILINE | re.IGNORECASE)


def to_mes_example(dialogues: Iterable[Dialogue]) -> str:
    """Character Card `mes_example` text: `<START>` blocks of `{{user}}:` / `{{char}}:` lines."""
    return "\n".join(f"<START>\n{{{{user}}}}: {d.user_text}\n{{{{char}}}}: {d.char_text}" for d in dialogues)


def parse_mes_example(text: str, char_name: str = "") -> list[tuple[str, str]]:
    """(what was said, the answer) pairs from `mes_example` text; a block's lines by the same side are joined.

    Cards in the wild also write the character's name instead of `{{char}}`: that is understood too.
    """
    if char_name:
        text = re.sub(rf"^{re.escape(char_name)}:", "{{char}}:", text, flags=re.MULTILINE)
    text = re.sub(r"^(You|User):", "{{user}}:", text, flags=re.MULTILINE)
    pairs = []
    for block in re.split(r"<START>", text, flags=re.IGNORECASE):
        parts = _TURN.split(block.strip())
        said: dict[str, list[str]] = {"user": [], "char": []}
        for speaker, words in zip(parts[1::2], parts[2::2], strict=False):
            if words.strip():
                said[speaker.lower()].append(words.strip())
        if said["user"] and said["char"]:
            pairs.append(("\n".join(said["user"]), "\n".join(said["char"])))
    return pairs


class DialogueService(ActsFor):
    def __init__(self, store: SqlStore, clones: CloneService, collection: Callable[[str], VectorStore]) -> None:
        self._store = store
        self._clones = clones
        self._collection = collection

    def index(self, clone: Clone) -> VectorStore:
        return self._collection(f"dialogues_{clone.id}")

    def add(self, clone_ref: str, user_text: str, char_text: str, category: str = "general",
            origin: str = "manual", question_id: str | None = None) -> Dialogue:
        clone = self._owned(clone_ref)
        [dialogue] = self._store.add_dialogues(clone.id, [{
            "category": category, "user_text": _clean(user_text, "what was said"),
            "char_text": _clean(char_text, "the answer"), "origin": origin, "question_id": question_id}])
        self.ensure_indexed(clone)  # now, so that a fan's turn never waits for it
        return dialogue

    def add_many(self, clone_id: str, items: list[tuple[str, str, str]], origin: str) -> list[Dialogue]:
        """Add (what was said, the answer, category) dialogues in one transaction, embedded at once."""
        clone = self._owned(clone_id)
        dialogues = self._store.add_dialogues(clone.id, [
            {"category": category, "user_text": _clean(user, "what was said"), "char_text": _clean(char, "the answer"),
             "origin": origin} for user, char, category in items])
        self.ensure_indexed(clone)
        return dialogues

    def list(self, clone_ref: str, category: str | None = None) -> list[Dialogue]:
        dialogues = self._store.list_dialogues(self._owned(clone_ref).id)
        return [d for d in dialogues if category is None or d.category == category]

    def update(self, clone_ref: str, dialogue_id: str, *, user_text: str | None = None,
               char_text: str | None = None, category: str | None = None) -> Dialogue:
        """Edit a dialogue; its vector is rebuilt on the next turn."""
        clone = self._owned(clone_ref)
        fields: dict[str, object] = {}
        if user_text is not None:
            fields["user_text"] = _clean(user_text, "what was said")
        if char_text is not None:
            fields["char_text"] = _clean(char_text, "the answer")
        if category is not None:
            fields["category"] = category.strip() or "general"
        dialogue = self._store.update_dialogue(clone.id, dialogue_id, **fields, indexed=False)
        self.index(clone).delete([dialogue_id])
        self.ensure_indexed(clone)
        return dialogue

    def delete(self, clone_ref: str, dialogue_id: str) -> None:
        clone = self._owned(clone_ref)
        self._store.delete_dialogue(clone.id, dialogue_id)
        self.index(clone).delete([dialogue_id])

    def promote_candidate(self, clone_ref: str, candidate_id: int) -> Dialogue:
        """Keep a chat export's candidate (someone's message and the creator's answer) as an example."""
        clone = self._owned(clone_ref)
        candidate = next((c for c in self._store.list_dialogue_candidates(clone.id, limit=100_000)
                          if c.id == candidate_id), None)
        if candidate is None:
            raise InvalidInputError(f"This clone has no dialogue candidate {candidate_id}: list them first.")
        return self.add(clone.id, candidate.user_text[:MAX_DIALOGUE_CHARS], candidate.char_text[:MAX_DIALOGUE_CHARS],
                        category="chat", origin="chat")

    def relevant(self, clone: Clone, query_vector: list[float], k: int = 6,
                 exclude: frozenset[str] = frozenset()) -> list[Dialogue]:
        """The dialogues nearest the message, best first (any not embedded yet, e.g. after an upgrade, are
        embedded first)."""
        self.ensure_indexed(clone)
        hits = self.index(clone).similarity_search_by_vector(query_vector, k=k + len(exclude))
        ids = [hit.id for hit in hits if hit.id and hit.id not in exclude][:k]
        return self._store.get_dialogues(clone.id, ids)

    def reindex(self, clone_ref: str) -> int:
        """Embed every example dialogue again with the current embedding model (after switching
        CLONR_EMBEDDINGS); swapped in whole once embedded."""
        clone = self._owned(clone_ref)
        dialogues = self._store.list_dialogues(clone.id)
        if dialogues:
            replace_all(self.index(clone), [_embedded(d) for d in dialogues],
                        [{"category": d.category} for d in dialogues], [d.id for d in dialogues])
            self._store.mark_dialogues_indexed([d.id for d in dialogues])
        return len(dialogues)

    def ensure_indexed(self, clone: Clone) -> None:
        pending = self._store.list_dialogues(clone.id, unindexed=True)
        if pending:
            self.index(clone).add_texts([_embedded(d) for d in pending],
                                        [{"category": d.category} for d in pending], ids=[d.id for d in pending])
            self._store.mark_dialogues_indexed([d.id for d in pending])


def _embedded(dialogue: Dialogue) -> str:
    """What a dialogue is searched by: the exchange, both sides."""
    return f"{dialogue.user_text}\n{dialogue.char_text}"


def _clean(text: str, what: str) -> str:
    text = (text or "").strip()
    if not text:
        raise InvalidInputError(f"An example dialogue needs {what}: it is empty.")
    if len(text) > MAX_DIALOGUE_CHARS:
        raise InvalidInputError(f"In an example dialogue, {what} is {len(text):,} characters; the limit is "
                                f"{MAX_DIALOGUE_CHARS:,}: shorten it.")
    return text
