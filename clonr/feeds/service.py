"""The creator's live feeds: added, polled on a schedule by the job system, and each new post made an event of the
clone's life (and, when the creator wants, a source), at once or after the creator's review."""

from __future__ import annotations

import base64
import contextlib
import logging
import threading
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import TypeVar

from cryptography.fernet import Fernet, InvalidToken

from clonr.access import derived_key
from clonr.clones import CloneService
from clonr.clones.acting import ActsFor
from clonr.config import Settings
from clonr.errors import ClonrError, ConfigError, InvalidInputError, NotFoundError
from clonr.feeds.networks import FeedNetwork, Polled, Validators, network_for, network_named, network_of
from clonr.feeds.parse import Post
from clonr.ingest import IngestService
from clonr.ingest.documents import Document
from clonr.ingest.fetch import SafeFetcher, check_url
from clonr.jobs import JobQueue
from clonr.memory import MemoryService
from clonr.store import SHARED_FAN, Clone, FeedItem, FeedRecord, SqlStore

__all__ = ["POLL", "FeedService", "PollResult", "event_text"]

log = logging.getLogger(__name__)

POLL = "feeds.poll"
LEASE = timedelta(minutes=10)  # a claimed feed is due again after this, should its poller die
LONGEST_WAIT = timedelta(days=1)  # the backoff of a failing feed stops growing here
EVENT_CHARS = 500  # of a post's text in the event the clone remembers
MAX_FEEDS = 50  # per clone


@dataclass(frozen=True)
class PollResult:
    """A poll of one feed: the items it found for the first time, or the one-line error that stopped it."""

    feed: FeedRecord
    new: list[FeedItem]
    error: str | None = None
    not_modified: bool = False


_Record = TypeVar("_Record", FeedRecord, FeedItem)


def _one(found: list[_Record], ref: str) -> _Record | None:
    """The record whose id is `ref`, or the only one whose id starts with it (at least 6 characters)."""
    matches = [record for record in found if record.id == ref or (len(ref) >= 6 and record.id.startswith(ref))]
    return matches[0] if len(matches) == 1 else None


def event_text(network: FeedNetwork, item: FeedItem) -> str:
    """How the clone remembers a post, in the first person: where it was posted, what it said, what its images
    show ("I posted on Mastodon: … (photo: a blue bowl on a windowsill)")."""
    text = item.text if len(item.text) <= EVENT_CHARS else item.text[:EVENT_CHARS].rsplit(" ", 1)[0] + "…"
    if item.title and not text.startswith(item.title.rstrip("…")):
        said = f'"{item.title}"' + (f": {text}" if text else "")
    else:
        said = text or item.title
    photos = "; ".join(item.images[:4])
    return f"{network.posted}: {said}" + (f" (photo: {photos})" if photos else "")


class FeedService(ActsFor):
    """What a creator does with feeds (add, list, change, remove, poll now, review items) checks the actor; the
    scheduled work (`queue_due` and the poll task) is the system's."""

    def __init__(self, store: SqlStore, clones: CloneService, settings: Settings,
                 fetcher: Callable[[], SafeFetcher], memory: MemoryService, ingest: IngestService, worker: JobQueue,
                 secret: bytes, clock: Callable[[], datetime] | None = None) -> None:
        self._store = store
        self._clones = clones
        self._settings = settings
        self._fetcher = fetcher
        self._memory = memory
        self._ingest = ingest
        self._worker = worker
        self._fernet = Fernet(base64.urlsafe_b64encode(derived_key(secret, "feed-tokens")))
        self._clock = clock or (lambda: datetime.now(UTC))
        worker.register(POLL, self._poll_task)

    @property
    def interval(self) -> timedelta:
        return timedelta(minutes=self._settings.feed_minutes)

    # -- the creator's feeds -----------------------------------------------------------------------

    def add(self, clone_ref: str, url: str, *, review: bool = False, as_source: bool = False,
            token: str | None = None) -> PollResult:
        """Connect a feed and read it once now (so a wrong address fails here, with a reason): a blog or any
        page that links to its feed, a feed, a Mastodon or Bluesky profile, a YouTube channel. With `token`, a
        Mastodon profile is read through its API. Its posts become events at once, or wait for `accept` when
        `review` is on."""
        clone = self._owned(clone_ref)
        if clone.as_of is not None:
            raise InvalidInputError(f"{clone.name} knows only what was true up to {clone.as_of}: follow feeds with the "
                                    "clone it was made from.")
        url = check_url(url)
        token = (token or "").strip() or None
        if len(self._store.list_feeds(clone.id)) >= MAX_FEEDS:
            raise InvalidInputError(f"{clone.name} already has {MAX_FEEDS} feeds: remove one before adding another.")
        network, feed_url = network_for(url, token=token is not None)
        try:
            polled = network.poll(self._fetcher(), feed_url, Validators(), token)
        except ClonrError as first:
            if token is not None or network.name == "blog":
                raise
            network, feed_url = network_named("blog"), url  # a look-alike address: read the page itself
            try:
                polled = network.poll(self._fetcher(), url, Validators())
            except ClonrError:
                raise first from None
        if network.name == "blog":
            network = network_of(polled)
        now = self._clock()
        feed = FeedRecord(id=uuid.uuid4().hex, clone_id=clone.id, url=url, feed_url=polled.feed_url,
                          network=network.name, title=polled.title, review=review, as_source=as_source,
                          token_secret=self._fernet.encrypt(token.encode()).decode() if token else None,
                          etag=polled.validators.etag, last_modified=polled.validators.last_modified,
                          next_poll_at=now + self.interval, last_polled_at=now, failures=0, last_error=None,
                          created_at=now)
        if self._store.add_feed(feed) is None:
            raise InvalidInputError(f"{clone.name} already follows {polled.feed_url}: nothing to add.")
        return PollResult(feed, self._take(clone, feed, network, polled.posts))

    def list(self, clone_ref: str) -> list[FeedRecord]:
        return self._store.list_feeds(self._owned(clone_ref).id)

    def change(self, clone_ref: str, feed_id: str, *, review: bool | None = None,
               as_source: bool | None = None) -> FeedRecord:
        """Turn review or making sources on or off for the posts still to come."""
        feed = self._feed(clone_ref, feed_id)
        fields = {name: value for name, value in (("review", review), ("as_source", as_source)) if value is not None}
        if fields:
            self._store.update_feed(feed.id, **fields)
        return self._store.get_feed(feed.id) or feed

    def remove(self, clone_ref: str, feed_id: str, *, forget: bool = False) -> FeedRecord:
        """Stop following a feed; with `forget`, the clone also forgets the events (and sources) made from it."""
        feed = self._feed(clone_ref, feed_id)
        if forget:
            for item in self._store.feed_items(feed.clone_id, feed_id=feed.id, limit=None):
                self._unlearn(feed.clone_id, item)
        self._store.delete_feed(feed.id)
        return feed

    def poll(self, clone_ref: str, feed_id: str | None = None) -> list[PollResult]:
        """Poll the clone's feeds (or one) now, whenever they are due."""
        clone = self._owned(clone_ref)
        feeds = [self._feed(clone.id, feed_id)] if feed_id else self._store.list_feeds(clone.id)
        return [self._poll(clone, feed) for feed in feeds]

    def items(self, clone_ref: str, *, status: str | None = None, limit: int = 100) -> list[FeedItem]:
        """The clone's posts from its feeds, newest first (`pending` ones wait for the creator)."""
        if status not in (None, "pending", "accepted", "rejected"):
            raise InvalidInputError(f"{status!r} is not a status: use pending, accepted or rejected.")
        return self._store.feed_items(self._owned(clone_ref).id, status=status, limit=limit)

    def accept(self, clone_ref: str, item_id: str) -> FeedItem:
        """Let a post waiting for review in: it becomes an event of the clone's life (and a source if the feed
        makes them)."""
        clone = self._owned(clone_ref)
        item = self._item(clone, item_id)
        if item.status == "accepted":
            return item
        feed = self._store.get_feed(item.feed_id)
        if feed is None or not self._store.decide_feed_item(item.id, "accepted", was=item.status):
            raise InvalidInputError("That post was just decided elsewhere: reload the list.")
        return self._learn(clone, feed, network_named(feed.network), item)

    def reject(self, clone_ref: str, item_id: str) -> FeedItem:
        """Keep a post out; one the clone had learnt is forgotten again."""
        clone = self._owned(clone_ref)
        item = self._item(clone, item_id)
        if item.status != "rejected" and self._store.decide_feed_item(item.id, "rejected", was=item.status):
            self._unlearn(clone.id, item)
        return self._store.get_feed_item(item.id) or item

    # -- scheduled polls (the system's) ------------------------------------------------------------

    def queue_due(self) -> int:
        """Claim the feeds due a poll and queue a poll of each; how many. Every long-running process calls this;
        a feed is claimed by one of them (`SqlStore.claim_due_feeds`)."""
        now = self._clock()
        claimed = self._store.claim_due_feeds(now, now + LEASE)
        for feed_id in claimed:
            self._worker.defer(POLL, feed_id=feed_id, lock=f"feed:{feed_id}")
        return len(claimed)

    def run_schedule(self, stop: threading.Event, seconds: float) -> None:
        """Queue due polls every `seconds` until `stop` is set (a thread of a long-running process)."""
        while True:
            try:
                self.queue_due()
            except ClonrError as exc:
                log.warning("could not look for feeds due a poll: %s", exc)
            except Exception:  # a bug: logged, and the schedule goes on
                log.exception("looking for feeds due a poll failed")
            if stop.wait(seconds):
                return

    def _poll_task(self, feed_id: str) -> None:
        feed = self._store.get_feed(feed_id)
        if feed is not None:  # removed meanwhile: nothing to poll
            self._poll(self._store.get_clone(feed.clone_id), feed)

    # -- inside ------------------------------------------------------------------------------------

    def _feed(self, clone_ref: str, feed_id: str) -> FeedRecord:
        """The clone's feed with this id, or the one id that starts with it (as `clonr feed list` shows them)."""
        clone = self._owned(clone_ref)
        feed = _one(self._store.list_feeds(clone.id), feed_id)
        if feed is None:
            raise NotFoundError(f"{clone.name} has no feed {feed_id[:40]!r}: run `clonr feed list {clone.slug}`.")
        return feed

    def _item(self, clone: Clone, item_id: str) -> FeedItem:
        item = self._store.get_feed_item(item_id)
        if item is None or item.clone_id != clone.id:
            item = _one(self._store.feed_items(clone.id, limit=None), item_id)
        if item is None:
            raise NotFoundError(f"{clone.name} has no feed post {item_id[:40]!r}: run `clonr feed items "
                                f"{clone.slug}`.")
        return item

    def _poll(self, clone: Clone, feed: FeedRecord) -> PollResult:
        """One poll: new posts stored once each and taken in; a failure recorded, and the next poll put off twice
        as long each time (up to a day), never raised: one bad feed does not stop the others."""
        now = self._clock()
        try:
            network = network_named(feed.network)
            polled = network.poll(self._fetcher(), feed.feed_url, Validators(feed.etag, feed.last_modified),
                                  self._token(clone, feed))
        except ClonrError as exc:
            wait = min(self.interval * 2 ** (feed.failures + 1), LONGEST_WAIT)
            self._store.update_feed(feed.id, failures=feed.failures + 1, last_error=str(exc)[:500],
                                    last_polled_at=now, next_poll_at=now + wait)
            log.warning("feed %s of %s failed (%d in a row): %s", feed.id, clone.slug, feed.failures + 1, exc)
            return PollResult(self._store.get_feed(feed.id) or feed, [], str(exc))
        self._store.update_feed(feed.id, failures=0, last_error=None, last_polled_at=now,
                                next_poll_at=now + self.interval, **self._changes(feed, polled))
        feed = self._store.get_feed(feed.id) or feed
        return PollResult(feed, self._take(clone, feed, network, polled.posts), not_modified=polled.not_modified)

    @staticmethod
    def _changes(feed: FeedRecord, polled: Polled) -> dict[str, str | None]:
        if polled.not_modified:
            return {}
        return {"etag": polled.validators.etag, "last_modified": polled.validators.last_modified,
                "title": polled.title or feed.title}

    def _token(self, clone: Clone, feed: FeedRecord) -> str | None:
        if feed.token_secret is None:
            return None
        try:
            return self._fernet.decrypt(feed.token_secret.encode()).decode()
        except InvalidToken:
            raise ConfigError(f"The stored token of {clone.name}'s feed {feed.url} cannot be read with this "
                              "CLONR_SECRET_KEY: remove the feed and add it again with its token.") from None

    def _take(self, clone: Clone, feed: FeedRecord, network: FeedNetwork, posts: list[Post]) -> list[FeedItem]:
        """Store the posts not seen before; unless the feed is reviewed, the clone learns each at once."""
        now = self._clock()
        status = "pending" if feed.review else "accepted"
        new = self._store.add_feed_items([
            FeedItem(id=uuid.uuid4().hex, feed_id=feed.id, clone_id=clone.id, guid=post.guid, title=post.title,
                     text=post.text, link=post.link, images=post.images, published_at=post.published or now,
                     status=status, memory_id=None, source_id=None, created_at=now)
            for post in map(network.tidy, posts)])
        if status == "accepted":
            new = [self._learn(clone, feed, network, item) for item in new]
        return new

    def _learn(self, clone: Clone, feed: FeedRecord, network: FeedNetwork, item: FeedItem) -> FeedItem:
        """The post as an event of the clone's life, dated when it was posted (and as a source)."""
        event, = self._memory.remember(clone.id, SHARED_FAN, [event_text(network, item)], kind="event",
                                       happened_at=[item.published_at], sources=["feed"])
        source_id = None
        if feed.as_source and item.text:
            document = Document("feed", item.title or f"{network.label} post", text=item.text, location=item.link,
                                published=item.published_at.date().isoformat())
            source_id = self._ingest.add_document(clone.id, document).source.id
        self._store.link_feed_item(item.id, event.id, source_id)
        return self._store.get_feed_item(item.id) or item

    def _unlearn(self, clone_id: str, item: FeedItem) -> None:
        if item.memory_id:
            with contextlib.suppress(NotFoundError):  # the creator deleted the event already
                self._memory.delete(clone_id, SHARED_FAN, item.memory_id)
        if item.source_id:
            with contextlib.suppress(NotFoundError):
                self._ingest.delete_source(clone_id, item.source_id)
        self._store.link_feed_item(item.id, None, None)
