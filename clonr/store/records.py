"""The records the store hands to services: plain frozen dataclasses, never ORM rows."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from typing import Any


@dataclass(frozen=True)
class Clone:
    id: str
    slug: str
    name: str
    short_description: str
    long_description: str
    greeting: str
    published: bool
    created_at: datetime
    updated_at: datetime
    owner_id: str = "local"
    avoid_topics: str = ""  # one a line: `topic -> what to say instead`, or just the topic
    shared_links: str = ""  # one a line: `label -> https://…`, or just the URL
    variant_of: str | None = None  # the clone this one is made from, knowing only what was true up to `as_of`
    as_of: date | None = None

    @property
    def topics_to_avoid(self) -> list[tuple[str, str]]:
        """(topic, what to say instead; "" when the creator gave nothing), in the creator's order."""
        return [(topic.strip(), instead.strip()) for topic, _, instead in
                (line.partition("->") for line in self.avoid_topics.splitlines() if line.strip())]

    @property
    def links_to_share(self) -> list[tuple[str, str]]:
        """(label; "" when none, URL), in the creator's order: a URL holds no `->`, so the label may."""
        return [(label.strip(), url.strip()) for label, _, url in
                (line.rpartition("->") for line in self.shared_links.splitlines() if line.strip())]


@dataclass(frozen=True)
class ConversationRecord:
    """A conversation an end user started beyond their first (whose id is '')."""

    id: str
    clone_id: str
    fan_id: str
    created_at: datetime


@dataclass(frozen=True)
class FanRecord:
    """A fan the server made; `subject` (issuer|sub) once they have signed in."""

    id: str
    clone_id: str
    subject: str | None
    created_at: datetime


@dataclass(frozen=True)
class Source:
    id: str
    clone_id: str
    kind: str
    title: str
    location: str | None
    content_hash: str
    chunk_count: int
    created_at: datetime
    author: str | None = None
    published: str | None = None  # ISO date the source gives for itself


@dataclass(frozen=True)
class DialogueCandidate:
    """A candidate example dialogue from a chat export: what someone said, how the creator answered."""

    id: int
    source_id: str
    user_text: str
    char_text: str
    said_at: datetime | None


@dataclass(frozen=True)
class JobItem:
    position: int
    item: str
    options: dict[str, Any]
    status: str  # pending, writing, done, skipped, failed
    detail: str | None = None
    source_id: str | None = None
    chunk_count: int | None = None


@dataclass(frozen=True)
class IngestJob:
    """A list of things to ingest, worked through one by one; its items say how far it got."""

    id: str
    clone_id: str
    status: str  # queued, running, done, interrupted
    created_at: datetime
    updated_at: datetime
    items: tuple[JobItem, ...]
    claimed_by: str | None = None  # host:pid of the process that last ran it

    @property
    def total(self) -> int:
        return len(self.items)

    @property
    def finished(self) -> int:
        return sum(item.status in ("done", "skipped", "failed") for item in self.items)

    @property
    def failures(self) -> list[JobItem]:
        return [item for item in self.items if item.status == "failed"]

    @property
    def current(self) -> str | None:
        return next((item.item for item in self.items if item.status in ("pending", "writing")), None)


@dataclass(frozen=True)
class ReplyDraft:
    """A reply while it streams, as far as the fan has been sent it (`reply`), and where it was going."""

    id: str
    clone_id: str
    fan_id: str
    conversation_id: str
    message: str
    reply: str
    context: str | None
    owner_id: str
    channel: str
    key_id: str | None
    claimed_by: str
    updated_at: datetime


@dataclass(frozen=True)
class VoiceRecord:
    """A voice a clone may speak with; the one `chosen` is the one it does."""

    clone_id: str
    provider: str  # piper, elevenlabs
    voice_id: str
    label: str
    chosen: bool
    consent_at: datetime | None  # when the creator confirmed a cloned voice is their own
    created_at: datetime


@dataclass(frozen=True)
class FeedRecord:
    """A live feed of the creator's (a blog, a Mastodon or Bluesky profile, a YouTube channel), polled on a schedule.

    `review`: new items wait for the creator before the clone learns them; `as_source`: items the clone learns
    also become sources. `etag`/`last_modified` make the next poll a conditional request; `failures` sets the
    backoff and `last_error` says why, in one line."""

    id: str
    clone_id: str
    url: str  # as the creator gave it (a profile, a page, a feed)
    feed_url: str  # what is polled
    network: str  # the adapter that reads it: rss, mastodon, ...
    title: str
    review: bool
    as_source: bool
    token_secret: str | None  # an API token, encrypted
    etag: str | None
    last_modified: str | None
    next_poll_at: datetime
    last_polled_at: datetime | None
    failures: int
    last_error: str | None
    created_at: datetime


@dataclass(frozen=True)
class FeedItem:
    """One post of a feed, stored once (by its guid): `pending` until the creator lets it in (or at once when
    the feed is not reviewed), then `accepted` with the event it became, or `rejected`."""

    id: str
    feed_id: str
    clone_id: str
    guid: str
    title: str
    text: str  # plain text, cut to a few hundred words
    link: str | None
    images: tuple[str, ...]  # alt texts and captions
    published_at: datetime
    status: str  # pending, accepted, rejected
    memory_id: str | None
    source_id: str | None
    created_at: datetime


@dataclass(frozen=True)
class Message:
    id: int
    clone_id: str
    fan_id: str
    role: str  # "user" or "assistant"
    content: str
    created_at: datetime
    context: str | None = None  # on a fan's message: JSON of what the turn was given (see clonr.chat.context)
    status: str = "complete"  # on a reply: "interrupted" when the fan left before it was finished
    conversation_id: str = ""  # '': the fan's first conversation; others were started through the API
    written_by: str | None = None  # "creator" on a reply the creator wrote themselves (stepping in)

    @property
    def interrupted(self) -> bool:
        return self.status == "interrupted"

    @property
    def by_creator(self) -> bool:
        return self.written_by == "creator"


@dataclass(frozen=True)
class FanActivity:
    """One fan's conversation with a clone, at a glance, for its creator."""

    fan_id: str
    signed_in: bool
    messages: int
    last_at: datetime


SHARED_FAN = "*"  # fan_id of memories every fan shares; never a valid fan id


@dataclass(frozen=True)
class Memory:
    id: str
    clone_id: str
    fan_id: str
    kind: str  # observation, reflection, event
    text: str
    importance: int | None
    happened_at: datetime
    created_at: datetime
    last_accessed_at: datetime
    pinned: bool = False
    superseded_by: str | None = None
    source: str | None = None
    message_id: int | None = None
    evidence: tuple[str, ...] = ()
    gist: str | None = None  # who said it and what, hashed: memories that say the same share it
    repeated_by: str | None = None  # the newer memory saying the same, which stands for this one in recall
    repeats: int = 1  # how many times this was said (on the newest of them)...
    first_said_at: datetime | None = None  # ...since when (None: said once)
    update_pending: bool = False  # a fan's line not yet compared with what they said before (knowledge updates)

    @property
    def order(self) -> tuple[datetime, int, str]:
        """When it was said, in order: time, then message (the two lines of an exchange share a time), then id."""
        return self.happened_at, self.message_id or 0, self.id


@dataclass(frozen=True)
class FanMemories:
    """A fan the clone remembers: how many memories, and when the latest happened."""

    fan_id: str
    memories: int
    latest: datetime


@dataclass(frozen=True)
class GroupChat:
    id: str
    name: str
    members: dict[str, float]  # clone id -> talkativeness
    created_at: datetime


@dataclass(frozen=True)
class GroupMessage:
    id: int
    group_id: str
    speaker_kind: str  # "fan" or "clone"
    speaker_id: str
    speaker_name: str
    content: str
    created_at: datetime


@dataclass(frozen=True)
class Dialogue:
    """An example dialogue: something said to the person, and their answer in their own words."""

    id: str
    clone_id: str
    category: str
    user_text: str
    char_text: str
    origin: str  # interview, chat, correction, card, manual
    question_id: str | None
    created_at: datetime
    updated_at: datetime


@dataclass(frozen=True)
class Proposal:
    """A proposed text for a clone field, with the claims it rests on; applied only when the creator accepts."""

    id: str
    clone_id: str
    field: str
    text: str
    base_text: str
    evidence: tuple[dict[str, Any], ...]
    status: str
    created_at: datetime


@dataclass(frozen=True)
class StoredFidelityCheck:
    fingerprint: str
    report: dict[str, Any]
    checked_at: datetime


@dataclass(frozen=True)
class ApiKeyRecord:
    id: str
    owner_id: str
    name: str
    prefix: str  # shown to the creator, and how a presented key is found
    secret_hash: str
    clone_ids: tuple[str, ...] | None  # None: every clone of the owner
    expires_at: datetime | None
    created_at: datetime
    last_used_at: datetime | None
    revoked_at: datetime | None


@dataclass(frozen=True)
class PriceRecord:
    """What one audience pays for a clone: `free_messages` a month (None: unlimited), then `price_micros` each
    (millionths of the currency; 0: only bought packs)."""

    clone_id: str
    audience: str
    free_messages: int | None
    price_micros: int


@dataclass(frozen=True)
class PackRecord:
    id: str
    clone_id: str
    messages: int
    amount_cents: int


@dataclass(frozen=True)
class AccountRecord:
    """Who pays for a clone's replies (a fan, or `owner:<id>` for an API key's owner) and where they stand."""

    id: str
    clone_id: str
    payer: str
    period: str
    free_used: int  # this month's (`period`); zero once a new month starts
    pack_balance: int
    customer_id: str | None
    subscription_id: str | None
    subscription_status: str | None


@dataclass(frozen=True)
class OutboxEvent:
    """A metered reply's Billing Meter event, waiting to be sent (or sent)."""

    id: int
    usage_id: int
    customer_id: str
    identifier: str
    created_at: datetime
    attempts: int
    sent_at: datetime | None


@dataclass(frozen=True)
class BotRecord:
    """A clone's Discord bot: where its token is (`token_env`, or `token_secret` encrypted) and the servers it
    answers in."""

    clone_id: str
    token_env: str | None
    token_secret: str | None
    guild_ids: tuple[int, ...]
    created_at: datetime
    joined_channels: tuple[int, ...] = ()  # channels where it takes part in the conversation, not only when asked
    talkativeness: float = 0.3  # its chance to speak there when nobody names it
    speaks: bool = False  # each reply also sent as audio in the clone's voice
