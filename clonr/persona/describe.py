"""The AI long description: drafted from everything known about the person, proposed, never imposed.

Iterative refinement over the corpus (source chunks, interview answers, example dialogues): the corpus is
read in windows that fit the model's context; at each window the model adds or revises first-person claims
on a set of trait axes, citing the excerpts each rests on. A claim that cites nothing it was shown, or shares
no content word with what it cites, is dropped: no invented facts, and every kept claim can be traced to its
sources. The result (at most 512 tokens), a short description and a greeting become *proposals* the creator
accepts, edits or rejects; a field the creator changed after the proposal was made is never overwritten
without saying so.
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Callable
from dataclasses import dataclass, field

from langchain_core.language_models import BaseChatModel
from langchain_core.vectorstores import VectorStore

from clonr.clones import CloneService
from clonr.clones.acting import ActsFor
from clonr.config import Settings
from clonr.errors import InvalidInputError
from clonr.llm import context_tokens, count_tokens
from clonr.llm.structured import ask_json
from clonr.store import Clone, Proposal, SqlStore

__all__ = ["DESCRIPTION_TOKENS", "TRAIT_AXES", "DescriptionService", "Estimate", "Excerpt"]

DESCRIPTION_TOKENS = 512
TRAIT_AXES = ("personality", "values", "experiences", "relationships", "communication style", "work and interests",
              "goals")
_PER_AXIS = 6
_ANSWER_TOKENS = 700  # room for the model's JSON at each step
_STOPWORDS = frozenset("""about above after again against also among because been before being below between both
could does doing down during each from further have having here into itself just more most myself other ours
over same should some such than that their them then there these they this those through under until very what
when where which while will with would your yours really things thing people like love loves""".split())  # noqa: SIM905
_CLAIMS_SCHEMA = {"type": "object", "properties": {"claims": {"type": "array", "maxItems": 12, "items": {
    "type": "object", "properties": {
        "axis": {"type": "string", "enum": list(TRAIT_AXES)},
        "claim": {"type": "string", "maxLength": 300},
        "evidence": {"type": "array", "items": {"type": "string"}, "minItems": 1, "maxItems": 4},
        "replaces": {"type": "integer"}},
    "required": ["axis", "claim", "evidence"]}}}, "required": ["claims"]}
_SHORT_SCHEMA = {"type": "object", "properties": {"short": {"type": "string", "maxLength": 200},
                                                  "greeting": {"type": "string", "maxLength": 400}},
                 "required": ["short", "greeting"]}


@dataclass(frozen=True)
class Excerpt:
    """A piece of the corpus the model reads, labelled so claims can cite it."""

    id: str  # E1, E2, …
    text: str
    source: str  # where it came from, for the creator: a source's title and URL, or "interview: <question>"


@dataclass(frozen=True)
class Estimate:
    excerpts: int
    tokens: int  # tokens the model will read, prompts included
    steps: int  # model calls for the description (plus one for the short description and greeting)


@dataclass
class _Claim:
    axis: str
    text: str
    evidence: list[str] = field(default_factory=list)  # excerpt ids


def _content_words(text: str) -> set[str]:
    return {w for w in re.findall(r"[a-zà-ÿ0-9]{4,}", text.casefold()) if w not in _STOPWORDS}


class DescriptionService(ActsFor):
    def __init__(self, store: SqlStore, clones: CloneService, model: Callable[[], BaseChatModel],
                 index_for: Callable[[Clone], VectorStore], settings: Settings) -> None:
        self._store = store
        self._clones = clones
        self._model = model
        self._index_for = index_for
        self._settings = settings

    # -- the corpus ------------------------------------------------------------------------------------

    def corpus(self, clone_ref: str) -> list[Excerpt]:
        """Everything known, in reading order: each source's chunks, then the example dialogues."""
        clone = self._owned(clone_ref)
        excerpts: list[Excerpt] = []
        index = self._index_for(clone)
        for source in self._store.list_sources(clone.id):
            label = source.title + (f" ({source.location})" if source.location else "")
            chunks = index.get_by_ids([f"{source.id}:{n}" for n in range(source.chunk_count)])
            excerpts += [Excerpt("", chunk.page_content, label) for chunk in chunks]
        for dialogue in self._store.list_dialogues(clone.id):
            excerpts.append(Excerpt("", f"Asked: {dialogue.user_text}\n{clone.name} answered: {dialogue.char_text}",
                                    f"{dialogue.origin}: {dialogue.user_text[:80]}"))
        return [Excerpt(f"E{n}", e.text, e.source) for n, e in enumerate(excerpts, start=1)]

    def _windows(self, model: BaseChatModel, excerpts: list[Excerpt]) -> list[list[Excerpt]]:
        """Excerpts grouped so each step's prompt fits the context (with room for claims and the answer)."""
        context = context_tokens(model, self._settings)
        room = max(256, context - _ANSWER_TOKENS - DESCRIPTION_TOKENS - 350)
        windows: list[list[Excerpt]] = [[]]
        used = 0
        for excerpt in excerpts:
            tokens = count_tokens(model, excerpt.text) + 8
            if windows[-1] and used + tokens > room:
                windows.append([])
                used = 0
            windows[-1].append(excerpt)
            used += tokens
        return [w for w in windows if w]

    def estimate(self, clone_ref: str) -> Estimate:
        """How much the model will read before a draft: shown to the creator before they start one."""
        model = self._model()
        excerpts = self.corpus(clone_ref)
        windows = self._windows(model, excerpts)
        reading = sum(count_tokens(model, e.text) + 8 for e in excerpts)
        overhead = len(windows) * (350 + DESCRIPTION_TOKENS // 2) + 400
        return Estimate(len(excerpts), reading + overhead, len(windows))

    # -- drafting --------------------------------------------------------------------------------------

    def propose(self, clone_ref: str, on_progress: Callable[[int, int], None] | None = None) -> list[Proposal]:
        """Draft the long description, the short description and the greeting as proposals (nothing applied)."""
        clone = self._owned(clone_ref)
        model = self._model()
        excerpts = self.corpus(clone.id)
        if not excerpts:
            raise InvalidInputError(f"{clone.name} has no sources or interview answers yet: add some, then draft "
                                    "a description.")
        by_id = {e.id: e for e in excerpts}
        windows = self._windows(model, excerpts)
        claims: list[_Claim] = []
        for step, window in enumerate(windows, start=1):
            if on_progress:
                on_progress(step - 1, len(windows) + 1)
            claims = self._refine(model, clone, claims, window)
        text = self._render(model, claims)
        if on_progress:
            on_progress(len(windows), len(windows) + 1)
        short, greeting = self._short_and_greeting(model, clone, text)
        if on_progress:
            on_progress(len(windows) + 1, len(windows) + 1)
        evidence = [{"axis": c.axis, "claim": c.text, "sources": sorted({by_id[e].source for e in c.evidence}),
                     "excerpts": [by_id[e].text[:300] for e in c.evidence]} for c in claims if c.text in text]
        proposals = [self._store.add_proposal(clone.id, "long_description", text, clone.long_description, evidence)]
        if short:
            proposals.append(self._store.add_proposal(clone.id, "short_description", short,
                                                      clone.short_description, []))
        if greeting:
            proposals.append(self._store.add_proposal(clone.id, "greeting", greeting, clone.greeting, []))
        return proposals

    def _refine(self, model: BaseChatModel, clone: Clone, claims: list[_Claim], window: list[Excerpt]) -> list[_Claim]:
        """One step: the model adds or revises claims from this window; only grounded ones are kept."""
        current = "\n".join(f"{n}. [{c.axis}] {c.text}" for n, c in enumerate(claims, start=1)) or "(none yet)"
        shown = "\n\n".join(f"[{e.id}] ({e.source})\n{e.text}" for e in window)
        prompt = (f"You are writing the character description of {clone.name}, a real person, for an AI that will "
                  f"speak as them.\n\nClaims so far:\n{current}\n\nNew excerpts about {clone.name}:\n{shown}\n\n"
                  f"For every fact the new excerpts state about {clone.name} — their {', '.join(TRAIT_AXES)} — "
                  f"write one claim: one short sentence in the first person, as {clone.name} would say it. Up to "
                  "8 claims. Cite the excerpt ids each claim rests on. To improve a claim above, give its number "
                  "in \"replaces\". Use ONLY what the excerpts say: never add facts. Answer as JSON: "
                  '{"claims": [{"axis": "<the trait axis>", "claim": "<a sentence that starts with I or My>", '
                  '"evidence": ["<excerpt id>"]}, …]}')
        value = ask_json(model, prompt, _CLAIMS_SCHEMA, max_tokens=_ANSWER_TOKENS) or {}
        shown_ids = {e.id: e for e in window}
        updated = [_Claim(c.axis, c.text, list(c.evidence)) for c in claims]
        for item in value.get("claims", []) if isinstance(value.get("claims"), list) else []:
            if not isinstance(item, dict) or item.get("axis") not in TRAIT_AXES:
                continue
            text = " ".join(str(item.get("claim", "")).split())[:300]
            cited = [e for e in dict.fromkeys(item.get("evidence", [])) if isinstance(e, str) and e in shown_ids]
            grounding = set().union(*(_content_words(shown_ids[e].text) for e in cited)) if cited else set()
            if not text or not (_content_words(text) - _content_words(clone.name)) & grounding:
                continue  # cites nothing it was shown, or shares no content word with it: possibly invented
            replaces = item.get("replaces")
            if isinstance(replaces, int) and 1 <= replaces <= len(updated):
                old = updated[replaces - 1]
                updated[replaces - 1] = _Claim(item["axis"], text, list(dict.fromkeys(old.evidence + cited)))
            elif text.casefold() not in {c.text.casefold() for c in updated} \
                    and sum(c.axis == item["axis"] for c in updated) < _PER_AXIS:
                updated.append(_Claim(item["axis"], text, cited))
        return updated

    @staticmethod
    def _render(model: BaseChatModel, claims: list[_Claim]) -> str:
        """Claims as one paragraph per axis, in axis order, cut to DESCRIPTION_TOKENS at a claim boundary."""
        kept: list[_Claim] = []
        for claim in sorted(claims, key=lambda c: TRAIT_AXES.index(c.axis)):
            trial = [*kept, claim]
            if count_tokens(model, _paragraphs(trial)) > DESCRIPTION_TOKENS:
                continue
            kept = trial
        return _paragraphs(kept)

    def _short_and_greeting(self, model: BaseChatModel, clone: Clone, description: str) -> tuple[str, str]:
        if not description:
            return "", ""
        prompt = (f"Here is how {clone.name} describes themselves:\n{description}\n\nWrite (1) a short description "
                  f"of {clone.name} in at most 20 words, third person, using only facts from the text above (no "
                  f"titles or praise it does not give); and (2) the first message {clone.name} sends a new fan: "
                  "the message itself, in their own voice, one or two sentences. Answer as JSON: "
                  '{"short": "<at most 20 words>", "greeting": "<the message, as they would write it>"}')
        value = ask_json(model, prompt, _SHORT_SCHEMA, max_tokens=200) or {}
        short = " ".join(str(value.get("short", "")).split()[:25])[:300]
        greeting = " ".join(str(value.get("greeting", "")).split())
        quoted = re.match(r"^[^'\"]{0,80}:\s*['\"“](.+)['\"”]$", greeting)  # "X would say: '…'" → the message
        return short, (quoted[1] if quoted else greeting.strip("'\"“”"))[:1000]

    # -- review ----------------------------------------------------------------------------------------

    def pending(self, clone_ref: str) -> list[Proposal]:
        return self._store.list_proposals(self._owned(clone_ref).id)

    def diff(self, clone_ref: str, proposal_id: str) -> str:
        """The proposal against the field's current text, as a unified diff."""
        clone = self._owned(clone_ref)
        proposal = self._store.get_proposal(clone.id, proposal_id)
        current = getattr(clone, proposal.field)
        return "\n".join(difflib.unified_diff(current.splitlines(), proposal.text.splitlines(), "current",
                                              "proposed", lineterm=""))

    def accept(self, clone_ref: str, proposal_id: str, text: str | None = None, force: bool = False) -> Clone:
        """Apply a proposal (or the creator's edit of it). Refused if the field changed since it was proposed,
        unless `force`: the creator's own edits are never overwritten silently."""
        clone = self._owned(clone_ref)
        proposal = self._store.get_proposal(clone.id, proposal_id)
        if proposal.status != "pending":
            raise InvalidInputError(f"That proposal was already {proposal.status}: draft a new one.")
        label = proposal.field.replace("_", " ")
        if getattr(clone, proposal.field) != proposal.base_text and not force:
            raise InvalidInputError(f"The {label} was edited after this proposal was made: look at the diff, then "
                                    "accept with force (--force) to replace your edit, or reject it.")
        updated = self._clones.update(clone.id, **{proposal.field: text or proposal.text})
        self._store.set_proposal_status(proposal.id, "accepted")
        return updated

    def reject(self, clone_ref: str, proposal_id: str) -> None:
        clone = self._owned(clone_ref)
        self._store.set_proposal_status(self._store.get_proposal(clone.id, proposal_id).id, "rejected")


def _paragraphs(claims: list[_Claim]) -> str:
    by_axis = {axis: [c.text for c in claims if c.axis == axis] for axis in TRAIT_AXES}
    return "\n\n".join(" ".join(texts) for texts in by_axis.values() if texts)
