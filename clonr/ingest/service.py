"""`IngestService`: sources → documents → chunks in the clone's index, one at a time or as resumable jobs.

Idempotence comes from content: a source's id is derived from its clone and its content hash, and its chunks
get ids `<source id>:<n>`, so writing the same content twice upserts the same vectors. A job records, before
writing an item's vectors, which source id and how many chunks it is writing; a job resumed after a crash
first removes vectors that never got their source record, then carries on from the first unfinished item.
"""

from __future__ import annotations

import hashlib
import logging
import re
import uuid
from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from langchain_core.documents import Document as LangchainDocument
from langchain_core.vectorstores import VectorStore

from clonr.access import SYSTEM
from clonr.clones import CloneService
from clonr.clones.acting import ActsFor
from clonr.config import Settings
from clonr.errors import ClonrError, ConflictError, ForbiddenError, InvalidInputError
from clonr.ingest.chats import chat_document, dialogue_candidates, parse_chat, resolve_me
from clonr.ingest.discover import Candidate, search_web
from clonr.ingest.documents import Document, chunk_document, period_end
from clonr.ingest.fetch import SafeFetcher
from clonr.ingest.files import read_document
from clonr.ingest.untrusted import valid_text
from clonr.ingest.web import fetch_page, fetch_wikipedia, same_site_links, sitemap_urls
from clonr.ingest.youtube import fetch_transcript, is_youtube
from clonr.jobs import JobQueue, process_gone, this_process
from clonr.store import Clone, DialogueCandidate, IngestJob, JobItem, Source, SqlStore
from clonr.vectors.base import replace_all

__all__ = ["IngestResult", "IngestService"]

log = logging.getLogger(__name__)
_STALE_RUNNING = timedelta(minutes=10)  # a "running" job not heard from for this long died with its process
RUN_JOB = "ingest.run"  # the queued task that runs an ingestion job (by id)
_WIKI_URL = re.compile(r"^https?://[a-z\-]+\.(m\.)?wikipedia\.org/wiki/", re.IGNORECASE)


@dataclass(frozen=True)
class IngestResult:
    source: Source
    created: bool  # False when the same content was already ingested
    candidates: int = 0  # dialogue candidates found (chat exports)


class IngestService(ActsFor):
    def __init__(self, store: SqlStore, clones: CloneService, settings: Settings,
                 index_for: Callable[[Clone], VectorStore], worker: JobQueue | None = None,
                 fetcher: SafeFetcher | None = None) -> None:
        self._store = store
        self._clones = clones
        self._settings = settings
        self._index_for = index_for
        self._worker = worker
        self._fetcher = fetcher
        if worker is not None:
            worker.register(RUN_JOB, self._run_queued)

    @property
    def fetcher(self) -> SafeFetcher:
        if self._fetcher is None:
            self._fetcher = SafeFetcher(self._settings)
        return self._fetcher

    # -- one source at a time ----------------------------------------------------------------------

    def add_document(self, clone_ref: str, document: Document,
                     candidates: list[tuple[str, str, datetime | None]] = (),
                     before_write: Callable[[str, int], None] | None = None) -> IngestResult:
        """Chunk, embed and index a document, then record it; the same content twice is a no-op."""
        clone = self._owned(clone_ref)
        if document.is_empty:
            raise InvalidInputError(f"{document.title} has no text to add.")
        content_hash = document.content_hash
        existing = self._store.find_source(clone.id, content_hash)
        if existing:
            return IngestResult(existing, created=False)
        source_id = hashlib.sha256(f"{clone.id}:{content_hash}".encode()).hexdigest()[:32]
        chunks = chunk_document(document)
        if before_write:
            before_write(source_id, len(chunks))
        ids = [f"{source_id}:{n}" for n in range(len(chunks))]
        index = self._index_for(clone)
        index.add_texts([c.text for c in chunks], [c.metadata | {"source_id": source_id} for c in chunks], ids=ids)
        source = Source(id=source_id, clone_id=clone.id, kind=document.kind, title=document.title[:200],
                        location=document.location, content_hash=content_hash, chunk_count=len(chunks),
                        created_at=datetime.now(UTC), author=document.author, published=document.published)
        try:
            self._store.add_source(source, list(candidates))
        except BaseException:
            index.delete(ids)  # never leave vectors without their source record
            raise
        return IngestResult(source, created=True, candidates=len(candidates))

    def add_text(self, clone_ref: str, text: str, title: str, kind: str = "note",
                 location: str | None = None) -> IngestResult:
        self._owned(clone_ref)
        text = text.strip()
        if not text:
            raise InvalidInputError("The note is empty: paste some text about the person.")
        if len(text.encode()) > self._settings.max_file_bytes:
            raise InvalidInputError(f"The note is longer than {self._settings.max_file_bytes:,} bytes "
                                    "(CLONR_MAX_FILE_BYTES): split it.")
        document = Document(kind, (title or "Untitled note").strip()[:200], text=text, location=location)
        return self.add_document(clone_ref, document)

    def date_source(self, clone_ref: str, source_id: str, published: str | None) -> Source:
        """Say when a source's content belongs to (a year, a month or a day; None: undated), so that a clone as of
        a date includes it or leaves it out (`clonr.persona.VariantService`)."""
        clone = self._owned(clone_ref)
        source = self._store.get_source(clone.id, source_id)
        value = (published or "").strip() or None
        if value is not None:
            period_end(value)  # a date it can read, or a one-line error
        self._store.date_source(source.id, value)
        return self._store.get_source(clone.id, source.id)

    def chunks_said_by(self, clone_ref: str, source_id: str, said_by: datetime) -> int:
        """How many of a source's chunks a clone as of `said_by` would read (all, or a chat's said by then)."""
        clone = self._owned(clone_ref)
        source = self._store.get_source(clone.id, source_id)
        return len(_said_by(self._index_for(clone).get_by_ids([f"{source.id}:{n}" for n in range(source.chunk_count)]),
                            said_by))

    def copy_sources(self, clone_ref: str, into: Clone, found: list[Source], said_by: datetime) -> int:
        """Copy sources of this clone into another of the same creator's (its variant as of a date): their chunks,
        embedded again in its index, and the chat answers among their dialogue candidates said by `said_by`. A
        chat export's chunks carry their messages' times: only those whose last message was said by then are
        copied. How many sources were copied (a chat said entirely later is not)."""
        clone = self._owned(clone_ref)
        if into.owner_id != clone.owner_id:
            raise ForbiddenError(f"{into.name} is another creator's clone: sources are copied only between clones of "
                                 "one creator.")
        candidates = self._store.list_dialogue_candidates(clone.id, limit=1_000_000)
        index, target = self._index_for(clone), self._index_for(into)
        copied = 0
        for source in found:
            copy = replace(source, id=hashlib.sha256(f"{into.id}:{source.content_hash}".encode()).hexdigest()[:32],
                           clone_id=into.id, created_at=datetime.now(UTC))
            chunks = _said_by(index.get_by_ids([f"{source.id}:{n}" for n in range(source.chunk_count)]), said_by)
            if not chunks:
                continue
            copied += 1
            ids = [f"{copy.id}:{n}" for n in range(len(chunks))]
            target.add_texts([c.page_content for c in chunks], [c.metadata | {"source_id": copy.id} for c in chunks],
                             ids=ids)
            said = [(c.user_text, c.char_text, c.said_at) for c in candidates
                    if c.source_id == source.id and c.said_at is not None and c.said_at <= said_by]
            try:
                self._store.add_source(replace(copy, chunk_count=len(chunks)), said)
            except BaseException:
                target.delete(ids)
                raise
        return copied

    def add_file(self, clone_ref: str, path: Path, before_write: Callable[[str, int], None] | None = None,
                 ) -> IngestResult:
        self._owned(clone_ref)
        document = read_document(path.name, self._read_path(path), self._settings.max_file_bytes,
                                 location=str(path.resolve()))
        return self.add_document(clone_ref, document, before_write=before_write)

    def add_chat(self, clone_ref: str, path: Path, me: str, before_write: Callable[[str, int], None] | None = None,
                 ) -> IngestResult:
        """A chat export: the whole chat as context, and the creator's answers as dialogue candidates."""
        self._owned(clone_ref)
        log_ = parse_chat(path.name, self._read_path(path), self._settings.max_file_bytes)
        me = resolve_me(log_, me)
        candidates = [(c.user_text, c.char_text, c.time and c.time.replace(tzinfo=UTC))
                      for c in dialogue_candidates(log_, me)]
        return self.add_document(clone_ref, chat_document(log_, me), candidates, before_write)

    def _read_path(self, path: Path) -> bytes:
        if not path.is_file():
            raise InvalidInputError(f"{path} is not a readable file: check the path.")
        size = path.stat().st_size
        if size > self._settings.max_file_bytes:
            raise InvalidInputError(f"{path.name} is {size:,} bytes; the limit is {self._settings.max_file_bytes:,} "
                                    "(CLONR_MAX_FILE_BYTES): split it.")
        try:
            return path.read_bytes()
        except OSError as exc:
            raise InvalidInputError(f"{path} cannot be read ({exc.strerror}): check its permissions.") from None

    # -- sources -----------------------------------------------------------------------------------

    def list_sources(self, clone_ref: str) -> list[Source]:
        return self._store.list_sources(self._owned(clone_ref).id)

    def get_source(self, clone_ref: str, source_id: str) -> Source:
        return self._store.get_source(self._owned(clone_ref).id, source_id)

    def source_chunks(self, clone_ref: str, source_id: str) -> list[str]:
        """The text of a source's chunks, in order, as the clone's index holds them."""
        clone = self._owned(clone_ref)
        source = self._store.get_source(clone.id, source_id)
        documents = self._index_for(clone).get_by_ids([f"{source.id}:{n}" for n in range(source.chunk_count)])
        return [d.page_content for d in documents]

    def reindex(self, clone_ref: str) -> int:
        """Embed the clone's notes again with the current embedding model, from the texts its index keeps
        (after switching CLONR_EMBEDDINGS); swapped in whole once embedded."""
        clone = self._owned(clone_ref)
        index = self._index_for(clone)
        ids = [f"{source.id}:{n}" for source in self._store.list_sources(clone.id) for n in range(source.chunk_count)]
        chunks = index.get_by_ids(ids)
        if chunks:
            replace_all(index, [c.page_content for c in chunks], [c.metadata for c in chunks],
                        [c.id or "" for c in chunks])
        return len(chunks)

    def delete_source(self, clone_ref: str, source_id: str) -> Source:
        """Delete a source with its chunks, vectors and dialogue candidates (vectors first: no dangling record)."""
        clone = self._owned(clone_ref)
        source = self._store.get_source(clone.id, source_id)
        self._index_for(clone).delete([f"{source.id}:{n}" for n in range(source.chunk_count)])
        self._store.delete_source(source.id)
        return source

    def dialogue_candidates(self, clone_ref: str, limit: int = 1000) -> list[DialogueCandidate]:
        return self._store.list_dialogue_candidates(self._owned(clone_ref).id, limit)

    # -- discovery -----------------------------------------------------------------------------------

    def discover(self, name: str, hints: list[str] = (), max_results: int = 10) -> list[Candidate]:
        """Pages that may be about the person, most likely first; nothing is fetched or stored."""
        self._clones.require_creator()
        return search_web(name, list(hints), max_results, self._settings.search_url, self._settings.fetch_timeout)

    # -- jobs ----------------------------------------------------------------------------------------

    @property
    def _uploads(self) -> Path:
        return self._settings.home / "uploads"

    def stage_upload(self, filename: str, data: bytes) -> str:
        """Keep an uploaded file under CLONR_HOME/uploads until its job has read it; returns the job item.

        Only the base name is kept, with anything unusual replaced, so an upload cannot write elsewhere.
        """
        self._clones.require_creator()
        if len(data) > self._settings.max_file_bytes:
            raise InvalidInputError(f"{Path(filename).name} is {len(data):,} bytes; the limit is "
                                    f"{self._settings.max_file_bytes:,} (CLONR_MAX_FILE_BYTES): split it.")
        safe = re.sub(r"[^\w.\- ]", "_", Path(filename.replace("\\", "/")).name).strip(" ._") or "upload"
        stem, suffix = Path(safe).stem, Path(safe).suffix[:16]
        safe = stem[:120] + suffix  # a file system takes 255 bytes a name: far from a user's long upload name
        folder = self._uploads / uuid.uuid4().hex
        folder.mkdir(parents=True)
        path = folder / safe
        path.write_bytes(data)
        return str(path)

    def start_job(self, clone_ref: str, items: list[tuple[str, dict[str, Any]]]) -> IngestJob:
        """Record a job: items are URLs, `wiki:Title`, YouTube links, or file paths (options per item)."""
        clone = self._owned(clone_ref)
        if not items:
            raise InvalidInputError("Nothing to ingest: give at least one URL, file, youtube link or wiki:Title.")
        return self._store.create_job(uuid.uuid4().hex, clone.id,
                                      [(_reference(item), options) for item, options in items])

    def start_web_job(self, clone_ref: str, references: list[str], options: dict[str, Any]) -> IngestJob:
        """A job of web references only (http(s) URLs, YouTube links, `wiki:Title`): what a form on a web page
        may ask for. A path on the server's disk is refused; files come through `stage_upload`."""
        self._owned(clone_ref)
        for reference in references:
            if not is_web_reference(reference):
                raise InvalidInputError(f"{reference.strip()[:80]!r} is not a web address: give a URL "
                                        "(https://…), a YouTube link or wiki:Title, and upload files instead.")
        return self.start_job(clone_ref, [(reference, options) for reference in references])

    def submit_job(self, job_id: str) -> None:
        """Queue the job for a worker (this process's, or any `clonr worker`); poll `job()` for progress."""
        if self._worker is None:
            raise RuntimeError("IngestService has no worker: run_job() instead")
        job = self.job(job_id)
        self._store.set_job_status(job_id, "queued", only_from=self._claimable(job))  # shows as waiting at once
        self._worker.defer(RUN_JOB, job_id=job_id, lock=f"ingest:{job_id}", once=f"ingest:{job_id}")

    def _run_queued(self, job_id: str) -> None:
        """The queued task: the job was checked when it was submitted, so the worker runs it for the system."""
        self.acting_as(SYSTEM).run_job(job_id)

    def job(self, job_id: str) -> IngestJob:
        job = self._store.get_job(job_id)
        self._owned(job.clone_id)
        return job

    def jobs(self, clone_ref: str) -> list[IngestJob]:
        return self._store.list_jobs(self._owned(clone_ref).id)

    def resumable_jobs(self, clone_ref: str) -> list[IngestJob]:
        """Jobs that stopped before the end: interrupted, never started, or whose process died."""
        return [job for job in self.jobs(clone_ref) if job.status in self._claimable(job)]

    @staticmethod
    def _claimable(job: IngestJob) -> tuple[str, ...]:
        """The statuses from which a run may take the job over: a running one too when its process is gone
        (on this host), or has not been heard from for 10 minutes (on another)."""
        stale = datetime.now(UTC) - job.updated_at > _STALE_RUNNING
        gone = stale or process_gone(job.claimed_by)
        return ("queued", "interrupted", "running") if gone else ("queued", "interrupted")

    def run_job(self, job_id: str, on_progress: Callable[[IngestJob], None] | None = None) -> IngestJob:
        """Work through the job's unfinished items; one failure is recorded and the rest go on.

        Ctrl-C or a crash leaves the job `interrupted` (or `running`, after a hard kill); running it again
        resumes where it stopped, without duplicates.
        """
        job = self.job(job_id)
        if job.status == "done":
            return job
        claimed = self._store.set_job_status(job_id, "running", only_from=self._claimable(job),
                                             claimed_by=this_process())
        if not claimed:
            raise ConflictError(f"Job {job_id} is already running in another process: wait for it (or, if that "
                                "process died on another machine, resume it after 10 minutes).")
        try:
            while True:
                job = self._store.get_job(job_id)
                if on_progress:
                    on_progress(job)
                item = next((i for i in job.items if i.status in ("pending", "writing")), None)
                if item is None:
                    break
                self._run_item(job, item)
        except BaseException:
            self._store.set_job_status(job_id, "interrupted")
            raise
        self._store.set_job_status(job_id, "done")
        job = self._store.get_job(job_id)
        for item in job.items:  # staged uploads have been read: remove them
            path = Path(item.item)
            if path.parent.parent == self._uploads and path.is_file():
                path.unlink()
                path.parent.rmdir()
        return job

    def _run_item(self, job: IngestJob, item: JobItem) -> None:
        if item.status == "writing" and item.source_id:
            self._clean_half_written(job.clone_id, item)

        def before_write(source_id: str, chunk_count: int) -> None:
            self._store.update_job_item(job.id, item.position, status="writing", source_id=source_id,
                                        chunk_count=chunk_count)

        try:
            result, follow = self._ingest_item(job.clone_id, item, before_write)
        except ClonrError as exc:
            self._store.update_job_item(job.id, item.position, status="failed", detail=str(exc))
            return
        except Exception as exc:  # a bug or an unexpected library error: log it, keep the job going
            log.exception("ingesting %s failed", item.item)
            self._store.update_job_item(job.id, item.position, status="failed",
                                        detail=f"{item.item}: unexpected {type(exc).__name__}; see the log.")
            return
        status = "done" if result.created else "skipped"
        self._store.update_job_item(job.id, item.position, status=status, detail=result.source.title,
                                    source_id=result.source.id, chunk_count=result.source.chunk_count)
        if follow:
            root = item.options.get("crawl", item.item)
            crawled = [i for i in job.items if i.options.get("crawl", i.item) == root]
            room = int(item.options.get("max_pages", 0)) - len(crawled)
            known = {i.item for i in job.items}
            child = {**item.options, "crawl": root, "depth": int(item.options["depth"]) - 1, "sitemap": False}
            new = [url for url in follow if url not in known][:max(0, room)]
            if new:
                self._store.append_job_items(job.id, [(url, child) for url in new])

    def _clean_half_written(self, clone_id: str, item: JobItem) -> None:
        """An item that crashed while writing: drop its vectors unless its source record made it."""
        try:
            self._store.get_source(clone_id, item.source_id)
        except ClonrError:
            clone = self._store.get_clone(clone_id)
            self._index_for(clone).delete([f"{item.source_id}:{n}" for n in range(item.chunk_count or 0)])

    def _ingest_item(self, clone_id: str, item: JobItem, before_write: Callable[[str, int], None],
                     ) -> tuple[IngestResult, list[str]]:
        """Ingest one item; returns the result and the pages to follow from it (crawls)."""
        reference, options = item.item, item.options
        if options.get("chat_me"):
            return self.add_chat(clone_id, Path(reference), options["chat_me"], before_write), []
        if is_youtube(reference):
            languages = options.get("languages") or list(self._settings.transcript_languages)
            with self.fetcher.requests_session() as session:
                transcript = fetch_transcript(reference, languages, session)
            return self.add_document(clone_id, transcript, before_write=before_write), []
        if reference.startswith("wiki:") or _WIKI_URL.match(reference):
            document = fetch_wikipedia(self.fetcher, reference, self._settings.wikipedia_url)
            return self.add_document(clone_id, document, before_write=before_write), []
        if reference.startswith(("http://", "https://")):
            document, html = fetch_page(self.fetcher, reference, self._settings.max_file_bytes)
            result = self.add_document(clone_id, document, before_write=before_write)
            return result, self._pages_to_follow(reference, html, options)
        if "://" in reference:
            raise InvalidInputError(f"{reference[:80]}: only http(s) URLs, files, youtube links and wiki:Title "
                                    "can be ingested.")
        return self.add_file(clone_id, Path(reference), before_write), []

    def _pages_to_follow(self, url: str, html: str | None, options: dict[str, Any]) -> list[str]:
        """Same-site links while depth is left, and the sitemap's pages when asked (the first page only)."""
        depth, budget = int(options.get("depth", 0)), int(options.get("max_pages", 0))
        pages = sitemap_urls(self.fetcher, url, budget) if options.get("sitemap") and budget > 0 else []
        if html and depth > 0:
            pages += same_site_links(html, url)
        # Pages robots.txt keeps out are never queued, so a crawl does not report them as failures.
        return [page for page in dict.fromkeys(pages) if self.fetcher.allowed_by_robots(page)]


def _reference(item: str) -> str:
    """An item as typed, stripped, unless it names a file that exists as it is (a name may end in a newline).
    A name that could not be stored or opened (not UTF-8, too long) is refused here, before the job is."""
    if is_web_reference(item):
        return item.strip()
    try:
        item.encode("utf-8")
        exists = Path(item).is_file()
    except UnicodeEncodeError:
        raise InvalidInputError(f"{valid_text(item)[:120]!r} is not a UTF-8 file name: rename the file and add it "
                                "again.") from None
    except OSError as exc:  # too long for the file system, or otherwise unusable
        raise InvalidInputError(f"{item[:120]!r} cannot be a file name ({exc.strerror}): check the path.") from None
    return item if exists else item.strip()


def is_web_reference(reference: str) -> bool:
    """An http(s) URL, a YouTube link or `wiki:Title`: something fetched from the web, never a local path."""
    reference = reference.strip()
    return reference.startswith(("http://", "https://", "wiki:")) or is_youtube(reference)


def _said_by(chunks: list[LangchainDocument], said_by: datetime) -> list[LangchainDocument]:
    """The chunks said by then: all of a document's, or of a chat export's those whose last message (`until`; in
    chunks made before it was recorded, the next chunk's first) is no later. A chunk of unknown end is left out."""
    if not any("at" in chunk.metadata for chunk in chunks):
        return chunks
    kept = []
    for n, chunk in enumerate(chunks):
        end = chunk.metadata.get("until") or (chunks[n + 1].metadata.get("at") if n + 1 < len(chunks) else None)
        if end and _as_utc(str(end)) <= said_by:
            kept.append(chunk)
    return kept


def _as_utc(value: str) -> datetime:
    when = datetime.fromisoformat(value)
    return when if when.tzinfo else when.replace(tzinfo=UTC)  # an export's local time: close enough for a year
