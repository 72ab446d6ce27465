"""Records: clones, their sources and their conversations.

One adapter (`SqlStore`) serves SQLite, the embedded default, and Postgres, chosen by `DATABASE_URL`.
"""

from __future__ import annotations

from clonr.config import Settings
from clonr.errors import StorageError
from clonr.store.ledger import SUBSCRIBED, Bill, Grant, SubscriptionState
from clonr.store.records import (
    SHARED_FAN,
    AccountRecord,
    ApiKeyRecord,
    BotRecord,
    Clone,
    ConversationRecord,
    Dialogue,
    DialogueCandidate,
    FanActivity,
    FanMemories,
    FanRecord,
    FeedItem,
    FeedRecord,
    GroupChat,
    GroupMessage,
    IngestJob,
    JobItem,
    Memory,
    Message,
    OutboxEvent,
    PackRecord,
    PriceRecord,
    Proposal,
    ReplyDraft,
    Source,
    StoredFidelityCheck,
    VoiceRecord,
)
from clonr.store.sql import SqlStore, redact_url

__all__ = ["SHARED_FAN", "SUBSCRIBED", "AccountRecord", "ApiKeyRecord", "Bill", "BotRecord", "Clone",
           "ConversationRecord", "Dialogue", "DialogueCandidate", "FanActivity", "FanMemories", "FanRecord",
           "FeedItem", "FeedRecord", "Grant", "GroupChat", "GroupMessage", "IngestJob", "JobItem", "Memory", "Message",
           "OutboxEvent", "PackRecord", "PriceRecord", "Proposal", "ReplyDraft", "Source", "SqlStore",
           "StoredFidelityCheck", "SubscriptionState", "VoiceRecord", "ensure_home", "open_store", "redact_url"]


def ensure_home(settings: Settings) -> None:
    """Create CLONR_HOME and prove it is writable, with an error that says what to do."""
    probe = settings.home / ".write-test"
    try:
        settings.home.mkdir(parents=True, exist_ok=True)
        probe.write_bytes(b"")
        probe.unlink()
    except OSError as exc:
        raise StorageError(f"CLONR_HOME {settings.home} is not writable ({exc.strerror}): point CLONR_HOME at a "
                           "folder you can write to.") from None


def open_store(settings: Settings) -> SqlStore:
    ensure_home(settings)
    return SqlStore(settings.database_url)
