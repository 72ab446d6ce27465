"""Creating, finding, editing and publishing clones."""

from __future__ import annotations

import html
import re
import unicodedata
import uuid
from datetime import date
from urllib.parse import urlsplit

from clonr.access import LOCAL_CREATOR, Actor, Creator, Operation, allowed, authorize
from clonr.config import Settings
from clonr.errors import ForbiddenError, InvalidInputError, NotFoundError
from clonr.store import Clone, SqlStore

__all__ = ["LIMITS", "CloneService", "slugify"]

# Character limits per field: generous for people, small enough that the persona fits a prompt budget.
# Long descriptions and greetings from imported character cards run to pages; the prompt budget trims them.
# Boundaries (topics to avoid, links to share) are lists, one item a line, read whole on every turn: at most
# `boundary_lines` lines of `boundary_line` characters each, and the box as a whole takes that many.
LIMITS = {"name": 80, "short_description": 300, "long_description": 16000, "greeting": 4000,
          "boundary_lines": 10, "boundary_line": 200, "avoid_topics": 10 * 201, "shared_links": 10 * 201}
_BOUNDARY_LABELS = {"avoid_topics": "Topics to avoid", "shared_links": "Links it may share"}


def slugify(name: str) -> str:
    """A URL-safe, lower-case slug: `Ada Lovelace!` becomes `ada-lovelace`."""
    ascii_name = unicodedata.normalize("NFKD", name).encode("ascii", "ignore").decode()
    return re.sub(r"[^a-z0-9]+", "-", ascii_name.lower()).strip("-")[:60]


def _clean(fields: dict[str, str]) -> dict[str, str]:
    cleaned = {}
    for field, value in fields.items():
        value = (value or "").strip()
        if field in _BOUNDARY_LABELS:
            value = _clean_lines(field, value)
        if len(value) > LIMITS[field]:
            label = field.replace("_", " ")
            raise InvalidInputError(f"The {label} is {len(value)} characters; the limit is {LIMITS[field]}: "
                                    "shorten it.")
        cleaned[field] = value
    return cleaned


def _clean_lines(field: str, value: str) -> str:
    """A boundary list with blank lines dropped and each line tidied to `left -> right` (or one part), so the
    prompt reads the same text however the creator spaced it."""
    label = _BOUNDARY_LABELS[field]
    lines = [" ".join(line.split()) for line in value.splitlines() if line.strip()]
    if len(lines) > LIMITS["boundary_lines"]:
        raise InvalidInputError(f"{label} has {len(lines)} lines; the limit is {LIMITS['boundary_lines']}: remove "
                                "some, or merge related ones.")
    cleaned = []
    for number, line in enumerate(lines, 1):
        if len(line) > LIMITS["boundary_line"]:
            raise InvalidInputError(f"{label}, line {number}, is {len(line)} characters; the limit is "
                                    f"{LIMITS['boundary_line']}: shorten it.")
        cleaned.append(_topic(line, number) if field == "avoid_topics" else _link(line, number))
    return "\n".join(cleaned)


def _topic(line: str, number: int) -> str:
    topic, _, instead = (part.strip() for part in line.partition("->"))
    if not topic:
        raise InvalidInputError(f"Topics to avoid, line {number} ({_shown(line)}), has no topic before `->`: "
                                "write it as `topic -> what to say instead`.")
    return f"{topic} -> {instead}" if instead else topic


def _link(line: str, number: int) -> str:
    label, _, url = (part.strip() for part in line.rpartition("->"))
    if problem := _url_problem(url):
        raise InvalidInputError(f"Links it may share, line {number} ({_shown(line)}): {problem}; write it as "
                                "`label -> https://…` or just `https://…`.")
    return f"{label} -> {url}" if label else url


def _url_problem(url: str) -> str:
    """Why `url` is not a plain http(s) address a fan may be sent to; "" when it is one."""
    if not url:
        return "there is no address after `->`"
    try:
        parts = urlsplit(url)
        parts.port  # noqa: B018 (raises on a port that is not a number)
    except ValueError:
        return "the address cannot be read (check its host and port)"
    if parts.scheme.lower() not in ("http", "https"):
        return "it is not an http:// or https:// address"
    if re.search(r'[\s"<>\\^`{|}]', url) or not url.isprintable():
        return "the address has a space, quote or bracket in it (percent-encode those)"
    if "@" in parts.netloc:  # https://yourbank.com@elsewhere.example goes to elsewhere.example
        return "the address has a user name in it"
    if not parts.hostname or not re.fullmatch(r"[\w-]+(\.[\w-]+)*\.?|[0-9a-f.]*:[0-9a-f:.]*", parts.hostname):
        return "the address has no valid host name"
    return ""


def _shown(line: str, most: int = 60) -> str:
    return repr(line if len(line) <= most else line[:most - 1] + "…")


class CloneService:
    """Clones as one actor sees them: `acting_as` gives the same service for another actor."""

    def __init__(self, store: SqlStore, settings: Settings, actor: Actor = LOCAL_CREATOR) -> None:
        self._store = store
        self._settings = settings
        self._actor = actor

    def acting_as(self, actor: Actor) -> CloneService:
        return CloneService(self._store, self._settings, actor)

    @property
    def actor(self) -> Actor:
        return self._actor

    def require_creator(self) -> None:
        """For a creator's tools that touch no clone yet (web search, uploads, card import)."""
        authorize(self._actor, Operation.CREATE_CLONE, None)

    def create(self, name: str, short_description: str = "", long_description: str = "",
               greeting: str = "") -> Clone:
        authorize(self._actor, Operation.CREATE_CLONE, None)
        assert isinstance(self._actor, Creator)
        fields = _clean({"name": name, "short_description": short_description,
                         "long_description": long_description, "greeting": greeting})
        slug = slugify(fields["name"])
        if not slug:
            raise InvalidInputError("A clone needs a name with at least one letter or digit: give it a name.")
        return self._store.create_clone(clone_id=uuid.uuid4().hex, slug=slug, owner_id=self._actor.id, **fields)

    def create_variant(self, ref: str, as_of: date, name: str = "") -> Clone:
        """A new, empty clone of the same creator that is `ref` as of `as_of` (its boundaries kept): what it may know
        is copied in by `clonr.persona.VariantService`. Named "Ada, 2015" unless `name` is given."""
        parent = self._allowed(ref, Operation.EDIT_CLONE)
        if parent.variant_of is not None:
            raise InvalidInputError(f"{parent.name} is already a clone as of {parent.as_of}: make the variant from the "
                                    "clone it was made from.")
        if as_of >= date.today():
            raise InvalidInputError(f"{as_of} is not in the past: a clone as of a date knows what was true up to then.")
        label = str(as_of.year) if (as_of.month, as_of.day) == (12, 31) else f"{as_of.day} {as_of:%b %Y}"
        fields = _clean({"name": name or f"{parent.name}, {label}", "short_description": ""})
        slug = slugify(fields["name"])
        if not slug:
            raise InvalidInputError("A clone needs a name with at least one letter or digit: give it a name.")
        return self._store.create_clone(clone_id=uuid.uuid4().hex, slug=slug, owner_id=parent.owner_id,
                                        avoid_topics=parent.avoid_topics, shared_links=parent.shared_links,
                                        variant_of=parent.id, as_of=as_of, **fields)

    def variants(self, ref: str) -> list[Clone]:
        """The clones made from this one as of a date, earliest first."""
        return self._store.list_variants(self._allowed(ref, Operation.READ_CLONE).id)

    def get(self, ref: str) -> Clone:
        """A clone with its private details: for its owner (and the system)."""
        return self._allowed(ref, Operation.READ_CLONE)

    def public(self, ref: str) -> Clone:
        """A clone anyone may see (published, or the actor's own); any other is reported as not found, so a
        draft's existence is not given away."""
        try:
            return self._allowed(ref, Operation.VIEW_CLONE)
        except ForbiddenError:
            raise NotFoundError(f"No published clone called {ref!r}.") from None

    def list(self) -> list[Clone]:
        """The actor's clones (every clone for the system)."""
        if isinstance(self._actor, Creator):
            return self._store.list_clones(owner_id=self._actor.id)
        return [c for c in self._store.list_clones() if allowed(self._actor, Operation.READ_CLONE, c)]

    def published(self) -> list[Clone]:
        """Every published clone: their public face is anyone's to see."""
        return [c for c in self._store.list_clones() if c.published and allowed(self._actor, Operation.VIEW_CLONE, c)]

    def update(self, ref: str, **fields: str) -> Clone:
        clone = self._allowed(ref, Operation.EDIT_CLONE)
        changes: dict[str, object] = _clean(fields)
        if "name" in changes:
            changes["slug"] = slugify(str(changes["name"]))
            if not changes["slug"]:
                raise InvalidInputError("A clone needs a name with at least one letter or digit: give it a name.")
        return self._store.update_clone(clone.id, **changes)

    def publish(self, ref: str, published: bool = True) -> Clone:
        return self._store.update_clone(self._allowed(ref, Operation.PUBLISH_CLONE).id, published=published)

    def _allowed(self, ref: str, operation: Operation) -> Clone:
        clone = self._store.get_clone(ref)
        authorize(self._actor, operation, clone)
        return clone

    def widget_url(self, clone: Clone) -> str:
        return f"{self._settings.widget_url}/c/{clone.slug}/"

    def embed_snippet(self, clone: Clone) -> str:
        """An iframe that embeds the clone's widget in any web page; every value is HTML-escaped."""
        return (f'<iframe src="{html.escape(self.widget_url(clone), quote=True)}" '
                f'title="Chat with {html.escape(clone.name, quote=True)}" width="400" height="600" '
                'style="border:1px solid #ddd;border-radius:12px" loading="lazy" '
                'allow="clipboard-write"></iframe>')
