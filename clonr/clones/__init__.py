"""Creating, finding, editing and publishing clones."""

from __future__ import annotations

import html
import re
import unicodedata
import uuid

from clonr.config import Settings
from clonr.errors import InvalidInputError
from clonr.store import Clone, SqlStore

__all__ = ["LIMITS", "CloneService", "slugify"]

# Character limits per field: generous for people, small enough that the persona fits a prompt budget.
# Long descriptions and greetings from imported character cards run to pages; the prompt budget trims them.
LIMITS = {"name": 80, "short_description": 300, "long_description": 16000, "greeting": 4000}


def slugify(name: str) -> str:
    """A URL-safe, lower-case slug: `Ada Lovelace!` becomes `ada-lovelace`."""
    ascii_name = unicodedata.normalize("NFKD", name).encode("ascii", "ignore").decode()
    return re.sub(r"[^a-z0-9]+", "-", ascii_name.lower()).strip("-")[:60]


def _clean(fields: dict[str, str]) -> dict[str, str]:
    cleaned = {}
    for field, value in fields.items():
        value = (value or "").strip()
        if len(value) > LIMITS[field]:
            label = field.replace("_", " ")
            raise InvalidInputError(f"The {label} is {len(value)} characters; the limit is {LIMITS[field]}: "
                                    "shorten it.")
        cleaned[field] = value
    return cleaned


class CloneService:
    def __init__(self, store: SqlStore, settings: Settings) -> None:
        self._store = store
        self._settings = settings

    def create(self, name: str, short_description: str = "", long_description: str = "",
               greeting: str = "") -> Clone:
        fields = _clean({"name": name, "short_description": short_description,
                         "long_description": long_description, "greeting": greeting})
        slug = slugify(fields["name"])
        if not slug:
            raise InvalidInputError("A clone needs a name with at least one letter or digit: give it a name.")
        return self._store.create_clone(clone_id=uuid.uuid4().hex, slug=slug, **fields)

    def get(self, ref: str) -> Clone:
        return self._store.get_clone(ref)

    def list(self) -> list[Clone]:
        return self._store.list_clones()

    def update(self, ref: str, **fields: str) -> Clone:
        clone = self._store.get_clone(ref)
        changes: dict[str, object] = _clean(fields)
        if "name" in changes:
            changes["slug"] = slugify(str(changes["name"]))
            if not changes["slug"]:
                raise InvalidInputError("A clone needs a name with at least one letter or digit: give it a name.")
        return self._store.update_clone(clone.id, **changes)

    def publish(self, ref: str, published: bool = True) -> Clone:
        return self._store.update_clone(self._store.get_clone(ref).id, published=published)

    def widget_url(self, clone: Clone) -> str:
        return f"{self._settings.widget_url}/c/{clone.slug}/"

    def embed_snippet(self, clone: Clone) -> str:
        """An iframe that embeds the clone's widget in any web page; every value is HTML-escaped."""
        return (f'<iframe src="{html.escape(self.widget_url(clone), quote=True)}" '
                f'title="Chat with {html.escape(clone.name, quote=True)}" width="400" height="600" '
                'style="border:1px solid #ddd;border-radius:12px" loading="lazy" '
                'allow="clipboard-write"></iframe>')
