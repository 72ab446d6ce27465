"""Sources → documents → chunks in the clone's vector index.

Sources: notes, files (.txt .md .html .pdf .docx .json .csv), web pages (fetched safely, optionally crawled),
Wikipedia articles, YouTube transcripts and chat exports (WhatsApp, Telegram, Discord, CSV); web-presence
discovery finds pages to approve. `IngestService` is the one entry point; long work runs as resumable jobs.
"""

from clonr.ingest.chats import CHAT_SUFFIXES
from clonr.ingest.discover import Candidate
from clonr.ingest.documents import Document, Part, period_end
from clonr.ingest.fetch import AddressPolicy, FetchError, SafeFetcher, UnsafeURLError
from clonr.ingest.files import FILE_SUFFIXES
from clonr.ingest.service import IngestResult, IngestService

__all__ = ["CHAT_SUFFIXES", "FILE_SUFFIXES", "AddressPolicy", "Candidate", "Document",
           "FetchError", "IngestResult", "IngestService", "Part", "SafeFetcher", "UnsafeURLError", "period_end"]
