"""The record tables, one schema for SQLite and Postgres. Alembic migrations create them."""

from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import (
    Boolean,
    Column,
    Date,
    DateTime,
    Float,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    String,
    Table,
    Text,
    UniqueConstraint,
    false,
)
from sqlalchemy.engine import Dialect
from sqlalchemy.types import TypeDecorator


class UtcDateTime(TypeDecorator):
    """A moment, stored in UTC and read back aware. SQLite keeps it as text, read here with its offset in one step
    (`datetime.fromisoformat`): four times cheaper than a parse and then `replace(tzinfo=UTC)`, for the hundreds
    of memories a recall reads each turn."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def result_processor(self, dialect: Dialect, coltype: Any) -> Callable[[Any], datetime | None] | None:
        if dialect.name != "sqlite":
            return super().result_processor(dialect, coltype)

        def aware(value: str | None) -> datetime | None:
            if value is None:
                return None
            try:
                return datetime.fromisoformat(value + "+00:00")
            except ValueError:  # written with an offset already (by hand, or another tool)
                moment = datetime.fromisoformat(value)
                return moment.astimezone(UTC) if moment.tzinfo else moment.replace(tzinfo=UTC)

        return aware


metadata = MetaData()

clones = Table(
    "clones", metadata,
    Column("id", String(32), primary_key=True),
    Column("slug", String(80), nullable=False, unique=True),
    Column("name", String(120), nullable=False),
    Column("short_description", Text, nullable=False, default=""),
    Column("long_description", Text, nullable=False, default=""),
    Column("greeting", Text, nullable=False, default=""),
    Column("published", Boolean, nullable=False, default=False),
    Column("created_at", UtcDateTime(), nullable=False),
    Column("updated_at", UtcDateTime(), nullable=False),
    Column("owner_id", String(64), nullable=False, server_default="local"),  # the creator who made it
    Column("avoid_topics", Text, nullable=False, server_default=""),  # one a line: `topic -> what to say instead`
    Column("shared_links", Text, nullable=False, server_default=""),  # one a line: `label -> https://…` or a URL
    Column("variant_of", String(32), nullable=True),  # the clone this one is a variant of, as of `as_of`
    Column("as_of", Date, nullable=True),
    Index("ix_clones_owner", "owner_id"),
    Index("ix_clones_variant_of", "variant_of"),
)

sources = Table(
    "sources", metadata,
    Column("id", String(32), primary_key=True),
    Column("clone_id", String(32), ForeignKey("clones.id", ondelete="CASCADE"), nullable=False),
    Column("kind", String(20), nullable=False),
    Column("title", Text, nullable=False),
    Column("location", Text, nullable=True),
    Column("content_hash", String(64), nullable=False),
    Column("chunk_count", Integer, nullable=False),
    Column("created_at", UtcDateTime(), nullable=False),
    Column("author", Text, nullable=True),
    Column("published", String(40), nullable=True),  # ISO date the source gives for itself
    UniqueConstraint("clone_id", "content_hash", name="uq_sources_clone_hash"),
)

dialogue_candidates = Table(
    "dialogue_candidates", metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("clone_id", String(32), ForeignKey("clones.id", ondelete="CASCADE"), nullable=False),
    Column("source_id", String(32), ForeignKey("sources.id", ondelete="CASCADE"), nullable=False),
    Column("user_text", Text, nullable=False),  # what someone said to the creator
    Column("char_text", Text, nullable=False),  # how the creator answered, in their own words
    Column("said_at", UtcDateTime(), nullable=True),
    Index("ix_dialogue_candidates_clone", "clone_id"),
)

ingest_jobs = Table(
    "ingest_jobs", metadata,
    Column("id", String(32), primary_key=True),
    Column("clone_id", String(32), ForeignKey("clones.id", ondelete="CASCADE"), nullable=False),
    Column("status", String(12), nullable=False),  # queued, running, done, interrupted
    Column("created_at", UtcDateTime(), nullable=False),
    Column("updated_at", UtcDateTime(), nullable=False),
    Column("claimed_by", String(300), nullable=True),  # host:pid of the process running it
)

ingest_job_items = Table(
    "ingest_job_items", metadata,
    Column("job_id", String(32), ForeignKey("ingest_jobs.id", ondelete="CASCADE"), primary_key=True),
    Column("position", Integer, primary_key=True),
    Column("item", Text, nullable=False),  # a URL, a file path, youtube:/wiki: reference
    Column("options", Text, nullable=False),  # JSON: e.g. {"chat_me": "Ada"} or {"languages": ["en"]}
    Column("status", String(10), nullable=False),  # pending, writing, done, skipped, failed
    Column("detail", Text, nullable=True),  # the source title when done, the one-line error when failed
    Column("source_id", String(32), nullable=True),  # set before its vectors are written, for crash clean-up
    Column("chunk_count", Integer, nullable=True),
)

messages = Table(
    "messages", metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("clone_id", String(32), ForeignKey("clones.id", ondelete="CASCADE"), nullable=False),
    Column("fan_id", String(64), nullable=False),
    Column("role", String(10), nullable=False),
    Column("content", Text, nullable=False),
    Column("created_at", UtcDateTime(), nullable=False),
    Column("context", Text, nullable=True),  # JSON: what the turn was given (memory, note, example ids)
    Column("status", String(12), nullable=False, server_default="complete"),  # or "interrupted"
    Column("conversation_id", String(40), nullable=False, server_default=""),  # '': the fan's first conversation
    Column("written_by", String(8), nullable=True),  # "creator" on a reply the creator wrote; none: the clone's
    Index("ix_messages_conversation", "clone_id", "fan_id", "id"),
    Index("ix_messages_thread", "clone_id", "fan_id", "conversation_id", "id"),
)

feeds = Table(  # the creator's live feeds (migration 0026)
    "feeds", metadata,
    Column("id", String(32), primary_key=True),
    Column("clone_id", String(32), ForeignKey("clones.id", ondelete="CASCADE"), nullable=False),
    Column("url", Text, nullable=False),
    Column("feed_url", Text, nullable=False),
    Column("network", String(32), nullable=False),
    Column("title", Text, nullable=False),
    Column("review", Boolean, nullable=False),
    Column("as_source", Boolean, nullable=False),
    Column("token_secret", Text, nullable=True),
    Column("etag", Text, nullable=True),
    Column("last_modified", Text, nullable=True),
    Column("next_poll_at", UtcDateTime(), nullable=False),  # also the claim: a poller moves it on first
    Column("last_polled_at", UtcDateTime(), nullable=True),
    Column("failures", Integer, nullable=False, server_default="0"),
    Column("last_error", Text, nullable=True),
    Column("created_at", UtcDateTime(), nullable=False),
    UniqueConstraint("clone_id", "feed_url", name="uq_feeds_clone_feed_url"),
    Index("ix_feeds_next_poll_at", "next_poll_at"),
)

feed_items = Table(  # each post of a feed once, by its guid (hashed: guids can be any length)
    "feed_items", metadata,
    Column("id", String(32), primary_key=True),
    Column("feed_id", String(32), ForeignKey("feeds.id", ondelete="CASCADE"), nullable=False),
    Column("clone_id", String(32), ForeignKey("clones.id", ondelete="CASCADE"), nullable=False),
    Column("guid_hash", String(64), nullable=False),
    Column("guid", Text, nullable=False),
    Column("title", Text, nullable=False),
    Column("text", Text, nullable=False),
    Column("link", Text, nullable=True),
    Column("images", Text, nullable=False, server_default="[]"),
    Column("published_at", UtcDateTime(), nullable=False),
    Column("status", String(12), nullable=False),
    Column("memory_id", String(32), nullable=True),
    Column("source_id", String(32), nullable=True),
    Column("created_at", UtcDateTime(), nullable=False),
    UniqueConstraint("feed_id", "guid_hash", name="uq_feed_items_feed_guid"),
    Index("ix_feed_items_clone_published", "clone_id", "published_at"),
)

reply_drafts = Table(  # a reply while it streams, saved as it goes: a process killed mid-reply leaves what was seen
    "reply_drafts", metadata,
    Column("id", String(32), primary_key=True),
    Column("clone_id", String(32), ForeignKey("clones.id", ondelete="CASCADE"), nullable=False),
    Column("fan_id", String(64), nullable=False),
    Column("conversation_id", String(40), nullable=False, server_default=""),
    Column("message", Text, nullable=False),
    Column("reply", Text, nullable=False),  # what the fan has been sent so far
    Column("context", Text, nullable=True),
    Column("owner_id", String(512), nullable=False),
    Column("channel", String(16), nullable=False),
    Column("key_id", String(32), nullable=True),
    Column("claimed_by", String(300), nullable=False),  # host:pid of the process streaming it
    Column("updated_at", UtcDateTime(), nullable=False),
)

memories = Table(
    "memories", metadata,
    Column("id", String(32), primary_key=True),
    Column("clone_id", String(32), ForeignKey("clones.id", ondelete="CASCADE"), nullable=False),
    Column("fan_id", String(64), nullable=False),  # "*" for memories every fan shares (events)
    Column("kind", String(16), nullable=False),
    Column("text", Text, nullable=False),
    Column("importance", Integer, nullable=True),  # None until scored, off the reply path
    Column("happened_at", UtcDateTime(), nullable=False),
    Column("created_at", UtcDateTime(), nullable=False),
    Column("last_accessed_at", UtcDateTime(), nullable=False),
    Column("pinned", Boolean, nullable=False, default=False),
    Column("superseded_by", String(32), nullable=True),
    Column("source", Text, nullable=True),  # provenance, e.g. "chat" or "import:D3:12"
    Column("message_id", Integer, nullable=True),  # the message this observation was made from
    Column("evidence", Text, nullable=False, default="[]"),  # JSON list of memory ids a reflection cites
    Column("gist", String(16), nullable=True),  # who said it and its content words, hashed: repeats share it
    Column("repeated_by", String(32), nullable=True),  # the newer memory that says the same (it stands for this one)
    Column("repeats", Integer, nullable=False, default=1),  # times said, counted on the newest
    Column("first_said_at", UtcDateTime(), nullable=True),  # ...and since when
    Column("update_pending", Boolean, nullable=False, default=False),  # a fan line its knowledge update awaits
    Index("ix_memories_message", "message_id"),
    Index("ix_memories_gist", "clone_id", "fan_id", "gist"),
)

memory_states = Table(
    "memory_states", metadata,
    Column("clone_id", String(32), ForeignKey("clones.id", ondelete="CASCADE"), primary_key=True),
    Column("fan_id", String(64), primary_key=True),
    Column("reflected_at", UtcDateTime(), nullable=True),  # when this fan was last reflected on
    Column("summary", Text, nullable=True),  # what the clone knows of this fan; for fan "*", its own current state
    Column("summarized_at", UtcDateTime(), nullable=True),
    # SQLite: no memory of this fan has ever had a smaller rowid; full-text search skips the postings before it
    Column("first_rowid", Integer, nullable=True),
)

group_chats = Table(
    "group_chats", metadata,
    Column("id", String(32), primary_key=True),
    Column("name", String(120), nullable=False, unique=True),
    Column("created_at", UtcDateTime(), nullable=False),
)

group_members = Table(
    "group_members", metadata,
    Column("group_id", String(32), ForeignKey("group_chats.id", ondelete="CASCADE"), primary_key=True),
    Column("clone_id", String(32), ForeignKey("clones.id", ondelete="CASCADE"), primary_key=True),
    Column("talkativeness", Float, nullable=False),  # 0..1: how likely the clone speaks when nobody is named
)

group_messages = Table(
    "group_messages", metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("group_id", String(32), ForeignKey("group_chats.id", ondelete="CASCADE"), nullable=False),
    Column("speaker_kind", String(8), nullable=False),  # "fan" or "clone"
    Column("speaker_id", String(64), nullable=False),  # a fan id or a clone id
    Column("speaker_name", String(120), nullable=False),
    Column("content", Text, nullable=False),
    Column("created_at", UtcDateTime(), nullable=False),
    Index("ix_group_messages_group", "group_id", "id"),
)

entities = Table(
    "entities", metadata,
    Column("clone_id", String(32), ForeignKey("clones.id", ondelete="CASCADE"), primary_key=True),
    Column("fan_id", String(64), primary_key=True),
    Column("key", String(120), primary_key=True),  # the name, case-folded
    Column("name", String(120), nullable=False),
    Column("about", Text, nullable=False),  # what the clone knows of them and how they relate to the fan
    Column("updated_at", UtcDateTime(), nullable=False),
)

dialogues = Table(
    "dialogues", metadata,
    Column("id", String(32), primary_key=True),
    Column("clone_id", String(32), ForeignKey("clones.id", ondelete="CASCADE"), nullable=False),
    Column("category", String(40), nullable=False),  # an interview category, or general, chat, correction
    Column("user_text", Text, nullable=False),  # what was said to the clone ({{user}})
    Column("char_text", Text, nullable=False),  # how the person answers ({{char}})
    Column("origin", String(16), nullable=False),  # interview, chat, correction, card, manual
    Column("question_id", String(40), nullable=True),  # the interview question it answers
    Column("indexed", Boolean, nullable=False, default=False),  # embedded in the clone's dialogue index yet
    Column("created_at", UtcDateTime(), nullable=False),
    Column("updated_at", UtcDateTime(), nullable=False),
    Index("ix_dialogues_clone", "clone_id"),
)

interviews = Table(
    "interviews", metadata,
    Column("clone_id", String(32), ForeignKey("clones.id", ondelete="CASCADE"), primary_key=True),
    Column("pending_question", String(40), nullable=True),  # asked and not answered yet: asked again on resume
    Column("pending_followup", Text, nullable=True),  # the follow-up asked about the pending question's answer
    Column("skipped", Text, nullable=False),  # JSON list of question ids the creator skipped
    Column("updated_at", UtcDateTime(), nullable=False),
)

proposals = Table(
    "proposals", metadata,
    Column("id", String(32), primary_key=True),
    Column("clone_id", String(32), ForeignKey("clones.id", ondelete="CASCADE"), nullable=False),
    Column("field", String(40), nullable=False),  # long_description, short_description, greeting
    Column("text", Text, nullable=False),
    Column("base_text", Text, nullable=False),  # the field's text when proposed: a later edit is never overwritten
    Column("evidence", Text, nullable=False),  # JSON: each claim with the sources it rests on
    Column("status", String(12), nullable=False),  # pending, accepted, rejected
    Column("created_at", UtcDateTime(), nullable=False),
)

cards = Table(
    "cards", metadata,
    Column("clone_id", String(32), ForeignKey("clones.id", ondelete="CASCADE"), primary_key=True),
    Column("card", Text, nullable=False),  # the imported card's JSON, so unknown fields survive a round trip
)

fidelity_checks = Table(
    "fidelity_checks", metadata,
    Column("clone_id", String(32), ForeignKey("clones.id", ondelete="CASCADE"), primary_key=True),
    Column("fingerprint", String(64), nullable=False),  # of what the answers depend on, to tell when it is stale
    Column("report", Text, nullable=False),  # JSON: the questions, the answers and their scores
    Column("checked_at", UtcDateTime(), nullable=False),
)

fans = Table(  # made by the server only: a public surface never names a fan itself
    "fans", metadata,
    Column("id", String(64), primary_key=True),
    Column("clone_id", String(32), ForeignKey("clones.id", ondelete="CASCADE"), nullable=False),
    Column("subject", String(512), nullable=True),  # issuer|sub of a signed-in fan
    Column("created_at", UtcDateTime(), nullable=False),
    UniqueConstraint("clone_id", "subject", name="uq_fans_subject"),
)

api_keys = Table(  # the secret itself is never stored: only its keyed hash, found by its visible prefix
    "api_keys", metadata,
    Column("id", String(32), primary_key=True),
    Column("owner_id", String(512), nullable=False),
    Column("name", String(120), nullable=False),
    Column("prefix", String(16), nullable=False, unique=True),
    Column("secret_hash", String(64), nullable=False),
    Column("clone_ids", Text, nullable=True),  # JSON list; null: every clone of the owner
    Column("expires_at", UtcDateTime(), nullable=True),
    Column("created_at", UtcDateTime(), nullable=False),
    Column("last_used_at", UtcDateTime(), nullable=True),
    Column("revoked_at", UtcDateTime(), nullable=True),
    Index("ix_api_keys_owner", "owner_id"),
)

conversations = Table(  # the ones an end user started beyond their first ('', which every fan has)
    "conversations", metadata,
    Column("id", String(40), primary_key=True),
    Column("clone_id", String(32), ForeignKey("clones.id", ondelete="CASCADE"), nullable=False),
    Column("fan_id", String(64), nullable=False),
    Column("created_at", UtcDateTime(), nullable=False),
    Index("ix_conversations_fan", "clone_id", "fan_id"),
)

idempotency_keys = Table(  # a posted message's Idempotency-Key: the request it named, and its reply once stored
    "idempotency_keys", metadata,
    Column("key_id", String(32), primary_key=True),
    Column("idempotency_key", String(255), primary_key=True),
    Column("request_hash", String(64), nullable=False),
    Column("message_id", Integer, nullable=True),  # the stored reply; none while it runs
    Column("started_at", UtcDateTime(), nullable=False),
)

usage_events = Table(  # the ledger: one row per reply attempt; no foreign keys, so forgetting a fan keeps the bill
    "usage_events", metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("clone_id", String(32), nullable=False),
    Column("owner_id", String(512), nullable=False),
    Column("channel", String(16), nullable=False),  # widget, api, studio, cli, group, fidelity
    Column("key_id", String(32), nullable=True),
    Column("fan_id", String(64), nullable=False),
    Column("message_id", Integer, nullable=True),  # the stored reply (a group message's, for "group"); or none
    Column("prompt_tokens", Integer, nullable=False),
    Column("completion_tokens", Integer, nullable=False),
    Column("first_token_ms", Integer, nullable=True),
    Column("total_ms", Integer, nullable=False),
    Column("status", String(12), nullable=False),  # complete, interrupted, failed
    Column("created_at", UtcDateTime(), nullable=False),
    Column("audience", String(12), nullable=True),  # who paid for it: anonymous, signed_in, discord, api; or none
    Column("charge", String(8), nullable=True),  # free, pack, metered, unpaid; none when not billable
    Column("price_micros", Integer, nullable=False, server_default="0"),  # what a metered reply costs
    Column("speech_ms", Integer, nullable=False, server_default="0"),  # audio spoken (status "spoken"), migration 0028
    Index("ix_usage_owner_time", "owner_id", "created_at"),
)

voices = Table(  # the voices a clone may speak with, and the one it does (`chosen`)
    "voices", metadata,
    Column("clone_id", String(32), ForeignKey("clones.id", ondelete="CASCADE"), primary_key=True),
    Column("provider", String(16), primary_key=True),  # piper, elevenlabs
    Column("voice_id", String(128), primary_key=True),
    Column("label", Text, nullable=False),
    Column("chosen", Boolean, nullable=False, server_default=false()),
    Column("consent_at", UtcDateTime(), nullable=True),  # the creator confirmed a cloned voice is theirs
    Column("created_at", UtcDateTime(), nullable=False),
)

prices = Table(  # what a clone costs one audience; no row: free and unlimited
    "prices", metadata,
    Column("clone_id", String(32), ForeignKey("clones.id", ondelete="CASCADE"), primary_key=True),
    Column("audience", String(12), primary_key=True),
    Column("free_messages", Integer, nullable=True),  # a month; null: unlimited
    Column("price_micros", Integer, nullable=False),  # a message beyond them, in millionths of the currency; 0: none
    Column("updated_at", UtcDateTime(), nullable=False),
)

message_packs = Table(
    "message_packs", metadata,
    Column("id", String(32), primary_key=True),
    Column("clone_id", String(32), ForeignKey("clones.id", ondelete="CASCADE"), nullable=False),
    Column("messages", Integer, nullable=False),
    Column("amount_cents", Integer, nullable=False),
    Column("created_at", UtcDateTime(), nullable=False),
    Index("ix_message_packs_clone", "clone_id"),
)

billing_accounts = Table(  # who pays for a clone's replies: a fan, or an API key's owner ("owner:<id>")
    "billing_accounts", metadata,
    Column("id", String(32), primary_key=True),
    Column("clone_id", String(32), nullable=False),  # no foreign keys: a deleted clone keeps its bills
    Column("payer", String(600), nullable=False),
    Column("period", String(7), nullable=False),  # the month free_used counts, YYYY-MM
    Column("free_used", Integer, nullable=False),
    Column("pack_balance", Integer, nullable=False),  # messages bought and not yet used
    Column("customer_id", String(255), nullable=True),  # Stripe's
    Column("subscription_id", String(255), nullable=True),
    Column("subscription_status", String(24), nullable=True),  # as Stripe last said
    Column("updated_at", UtcDateTime(), nullable=False),
    UniqueConstraint("clone_id", "payer", name="uq_billing_accounts_payer"),
    Index("ix_billing_accounts_customer", "customer_id"),
)

billing_grants = Table(  # messages bought: one row per paid Checkout session, so a payment is granted once
    "billing_grants", metadata,
    Column("id", String(255), primary_key=True),  # the Checkout session's id
    Column("account_id", String(32), nullable=False),
    Column("messages", Integer, nullable=False),
    Column("amount_cents", Integer, nullable=False),
    Column("currency", String(3), nullable=False),
    Column("created_at", UtcDateTime(), nullable=False),
)

billing_outbox = Table(  # a metered reply's Billing Meter event, written with its ledger row, sent later
    "billing_outbox", metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("usage_id", Integer, nullable=False, unique=True),
    Column("customer_id", String(255), nullable=False),
    Column("identifier", String(100), nullable=False, unique=True),  # Stripe drops a second event with it
    Column("created_at", UtcDateTime(), nullable=False),
    Column("sent_at", UtcDateTime(), nullable=True),
    Column("attempts", Integer, nullable=False, server_default="0"),
    Column("last_error", Text, nullable=True),
    Column("due_at", UtcDateTime(), nullable=False),  # the next attempt; a sender claims it by moving it
    Column("claimed_by", String(300), nullable=True),
    Index("ix_billing_outbox_due", "sent_at", "due_at"),
)

stripe_events = Table(  # webhook events handled, by Stripe's event id: a duplicate or replay changes nothing
    "stripe_events", metadata,
    Column("id", String(255), primary_key=True),
    Column("type", String(80), nullable=False),
    Column("received_at", UtcDateTime(), nullable=False),
)

stripe_prices = Table(  # the metered Stripe Price made for a clone's audience at a price, reused while it holds
    "stripe_prices", metadata,
    Column("clone_id", String(32), primary_key=True),
    Column("audience", String(12), primary_key=True),
    Column("price_micros", Integer, primary_key=True),
    Column("price_id", String(255), nullable=False),
)

discord_bots = Table(  # a clone's Discord bot: its token comes from the environment, or is stored encrypted
    "discord_bots", metadata,
    Column("clone_id", String(32), ForeignKey("clones.id", ondelete="CASCADE"), primary_key=True),
    Column("token_env", String(120), nullable=True),  # the name of the environment variable holding the token
    Column("token_secret", Text, nullable=True),  # the token, encrypted with a key derived from CLONR_SECRET_KEY
    Column("guild_ids", Text, nullable=False),  # JSON list: the servers it answers in (direct messages always)
    Column("created_at", UtcDateTime(), nullable=False),
    Column("joined_channels", Text, nullable=False, server_default="[]"),  # JSON list: channels it takes part in
    Column("talkativeness", Float, nullable=False, server_default="0.3"),  # its chance to speak there unasked
    Column("speaks", Boolean, nullable=False, server_default=false()),  # each reply also sent as audio (0029)
)

fan_aliases = Table(  # another account of a fan (a Discord user) tied to them with a one-time link code
    "fan_aliases", metadata,
    Column("clone_id", String(32), ForeignKey("clones.id", ondelete="CASCADE"), primary_key=True),
    Column("subject", String(512), primary_key=True),  # e.g. discord:<user id>
    Column("fan_id", String(64), nullable=False),
    Column("link_id", String(64), nullable=False, unique=True),  # the code's id: each code links once
    Column("created_at", UtcDateTime(), nullable=False),
)
