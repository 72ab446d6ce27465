"""`Clonr`: the one service object every surface holds (CLI, studio, widget, notebooks)."""

from __future__ import annotations

import copy
import gc
import threading
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path

from langchain_core.embeddings import Embeddings
from langchain_core.language_models import BaseChatModel
from langchain_core.vectorstores import VectorStore

from clonr.access import SYSTEM, Actor, ApiKeyService, FanTokens, IdentityTokens, LinkCodes, secret_key
from clonr.billing import BillingService, Meter, Payments, Pricing, UsageService
from clonr.chat import ChatService, GroupChatService
from clonr.clones import CloneService
from clonr.config import Settings, load_settings
from clonr.errors import ClonrError
from clonr.fans import FanService, MessageRates
from clonr.feeds import FeedService
from clonr.ingest import IngestService
from clonr.integrations.discord import DiscordService
from clonr.jobs import open_jobs
from clonr.llm import (
    LOCAL_CHAT_MODELS,
    MINILM_ONNX,
    MINILM_TOKENIZER,
    get_chat_model,
    get_embeddings,
    is_installed,
    locate,
    resolve_chat_model_name,
)
from clonr.memory import HeuristicImportanceScorer, ImportanceScorer, MemoryPolicy, MemoryService, ModelImportanceScorer
from clonr.persona import (
    CardService,
    DescriptionService,
    DialogueService,
    FidelityService,
    InterviewService,
    VariantService,
)
from clonr.store import Clone, open_store, redact_url
from clonr.vectors import open_index
from clonr.voice import ElevenLabsSpeaker, PiperSpeaker, VoiceService


def freeze_startup_objects() -> None:
    """For long-running servers (widget, studio), once they have started: the objects made so far, nearly all
    imported code, leave the garbage collector's sight. A full collection then looks at new objects only;
    otherwise it walks them all, and the fan whose turn it lands in waits."""
    gc.collect()
    gc.freeze()


@dataclass(frozen=True)
class Check:
    """One line of `clonr doctor`."""

    name: str
    ok: bool
    detail: str


class Clonr:
    """Settings, the store, and the services over them. Models load lazily, once, on first use."""

    def __init__(self, settings: Settings | None = None, *, chat_model: BaseChatModel | None = None,
                 embeddings: Embeddings | None = None, clock: Callable[[], datetime] | None = None,
                 importance: ImportanceScorer | None = None) -> None:
        self.settings = settings or load_settings()
        self.store = open_store(self.settings)
        self._chat_model = chat_model
        self._embeddings = embeddings
        self._importance = importance
        self._lock = threading.Lock()
        # Ingestion and memory work: named tasks each service registers here, run by this process or (CLONR_JOBS
        # =postgres) by any `clonr worker`; both yield to replies in progress in this process.
        self.worker = open_jobs(self.settings)
        # Each service acts for the local creator unless a surface binds it to another actor (`acting_as`).
        # A service that has checked its caller uses the others through instances bound to the system.
        self.clones = CloneService(self.store, self.settings)
        clones = self.clones
        self.ingest = IngestService(self.store, clones, self.settings, self.index_for, self.worker)
        self.memory = MemoryService(
            self.store, clones, self.collection, self._importance_scorer, self.worker, lambda: self.chat_model,
            clock=clock, policy=MemoryPolicy(reflection_threshold=self.settings.reflection_threshold,
                                             knowledge_updates=self.settings.knowledge_updates != "off",
                                             confirm_updates=self.settings.knowledge_updates == "on"
                                             and resolve_chat_model_name(self.settings) != "smollm2",
                                             longest_text=self.settings.max_message_chars))
        memory = self.memory.acting_as(SYSTEM)
        self.dialogues = DialogueService(self.store, clones, self.collection)
        dialogues = self.dialogues.acting_as(SYSTEM)
        self.chat = ChatService(self.store, clones, self.settings, lambda: self.chat_model, self.index_for, memory,
                                self.worker, dialogues)
        chat = self.chat.acting_as(SYSTEM)
        self.groups = GroupChatService(self.store, clones, chat, memory)
        self.interview = InterviewService(self.store, clones, dialogues, lambda: self.chat_model)
        self.descriptions = DescriptionService(self.store, clones, lambda: self.chat_model, self.index_for,
                                               self.settings)
        self.variants = VariantService(self.store, clones, self.ingest.acting_as(SYSTEM), dialogues, memory,
                                       self.descriptions.acting_as(SYSTEM))
        self.cards = CardService(self.store, clones, dialogues, self.ingest.acting_as(SYSTEM),
                                 lambda: self.settings.max_file_bytes)
        self.fidelity = FidelityService(self.store, clones, chat, lambda: self.chat_model, lambda: self.embeddings,
                                        self.settings)
        self.usage = UsageService(self.store, clones)
        self._piper = PiperSpeaker(self.settings.home / "voices")
        self.voice = VoiceService(self.store, clones, self.settings, lambda: self._piper, self._elevenlabs)
        self.payments = Payments(self.store, self.settings)
        self.billing = BillingService(self.store, clones, self.payments, self.settings.currency)
        self.meter = Meter(self.store, self.payments)
        secret = secret_key(self.settings)
        self.feeds = FeedService(self.store, clones, self.settings, lambda: self.ingest.fetcher, memory,
                                 self.ingest.acting_as(SYSTEM), self.worker, secret, clock=clock)
        self.keys = ApiKeyService(self.store, secret)
        self.discord = DiscordService(self.store, clones, secret)
        self.fans = FanService(self.store, clones, chat, memory,
                               FanTokens(secret, timedelta(days=self.settings.fan_token_days)),
                               MessageRates(self.settings.fan_message_limit, self.settings.address_message_limit,
                                            self.settings.limits_storage),
                               Pricing(self.store, self.settings.currency), self.payments, LinkCodes(secret),
                               self.groups.acting_as(SYSTEM), self.voice.acting_as(SYSTEM),
                               IdentityTokens.from_settings(self.settings))

    def acting_as(self, actor: Actor) -> Clonr:
        """This app with every creator-facing service bound to `actor` (the studio binds each session to its
        signed-in creator); the store, models, workers and caches stay shared."""
        view = copy.copy(self)
        for name in ("clones", "ingest", "memory", "dialogues", "chat", "groups", "interview", "descriptions",
                     "cards", "fidelity", "usage", "billing", "discord", "feeds", "variants", "voice"):
            setattr(view, name, getattr(self, name).acting_as(actor))
        return view

    def start_background(self, *, run_jobs: bool | None = None) -> threading.Event:
        """What a long-running process (a server, the studio, a worker) does besides its own work: queue the memory
        work lost with the last process, send the meter outbox (every process may: each event is claimed by one),
        queue the polls of feeds that are due (each claimed by one process), and run queued jobs when they wait in
        Postgres (CLONR_SERVER_JOBS, unless `run_jobs` says). Set the returned event to stop."""
        stop = threading.Event()
        self.worker.submit(self._make_up_lost_work)
        if self.payments.configured and self.settings.meter_send_seconds:
            threading.Thread(target=self.meter.run, args=(stop, self.settings.meter_send_seconds), name="clonr-meter",
                             daemon=True).start()
        if self.settings.feed_check_seconds:
            threading.Thread(target=self.feeds.run_schedule, args=(stop, self.settings.feed_check_seconds),
                             name="clonr-feeds", daemon=True).start()
        if self.settings.server_jobs if run_jobs is None else run_jobs:
            self.worker.start_running(stop)
        return stop

    def _make_up_lost_work(self) -> None:
        """Replies cut off by a process that died are stored (as interrupted), then the memory work it lost is
        queued, theirs included."""
        self.chat.recover_interrupted()
        self.memory.catch_up()

    def _elevenlabs(self) -> ElevenLabsSpeaker:
        s = self.settings
        return ElevenLabsSpeaker(s.elevenlabs_api_key, s.elevenlabs_base_url, s.elevenlabs_model)

    @property
    def chat_model(self) -> BaseChatModel:
        with self._lock:
            if self._chat_model is None:
                self._chat_model = get_chat_model(self.settings)
            return self._chat_model

    @property
    def embeddings(self) -> Embeddings:
        with self._lock:
            if self._embeddings is None:
                self._embeddings = get_embeddings(self.settings)
            return self._embeddings

    def _importance_scorer(self) -> ImportanceScorer:
        if self._importance is None:
            choice = self.settings.importance
            if choice == "auto":  # SmolLM2's scores did not follow hand labels at all (rank agreement <= 0)
                choice = "heuristic" if resolve_chat_model_name(self.settings) == "smollm2" else "model"
            self._importance = (HeuristicImportanceScorer() if choice == "heuristic"
                                else ModelImportanceScorer(self.chat_model))
        return self._importance

    def collection(self, name: str) -> VectorStore:
        return open_index(self.settings, self.store, self.embeddings, name)

    def index_for(self, clone: Clone) -> VectorStore:
        """The clone's notes (its sources' chunks)."""
        return self.collection(f"clone_{clone.id}")

    def doctor(self) -> list[Check]:
        """What is active and whether it works, without loading a model into memory."""
        s = self.settings
        checks = [Check("home", True, str(s.home)),
                  Check("records", True, redact_url(s.database_url)),
                  Check("vectors", True, s.vector_backend)]
        name = resolve_chat_model_name(s)
        if name == "openai":
            checks.append(Check("chat model", bool(s.openai_api_key),
                                f"openai-compatible {s.openai_model} at {s.openai_base_url or 'api.openai.com'}"))
        else:
            checks.append(self._file_check("chat model", name, lambda: locate(LOCAL_CHAT_MODELS[name],
                                                                              s.home / "models")))
            others = [m for m in LOCAL_CHAT_MODELS if m != name and is_installed(LOCAL_CHAT_MODELS[m])]
            checks.append(Check("other local models", True, ", ".join(others) or "none installed"))
        if s.embeddings == "minilm":
            checks.append(self._file_check("embeddings", "all-MiniLM-L6-v2",
                                           lambda: locate(MINILM_ONNX, s.home / "models")))
            checks.append(self._file_check("tokenizer", "all-MiniLM-L6-v2",
                                           lambda: locate(MINILM_TOKENIZER, s.home / "models")))
        else:
            checks.append(Check("embeddings", bool(s.openai_api_key), f"openai {s.openai_embedding_model}"))
        checks.append(Check("jobs", True, self.worker.describe()))
        checks.append(Check("widget", True, s.widget_url))
        checks.append(Check("payments", not s.stripe_secret_key or bool(s.stripe_webhook_secret),
                            "off (no STRIPE_SECRET_KEY): allowances only, nothing can be bought"
                            if not s.stripe_secret_key else
                            f"Stripe at {s.stripe_api_base or 'api.stripe.com'}, {s.currency.upper()}"
                            + ("" if s.stripe_webhook_secret else ": set STRIPE_WEBHOOK_SECRET, or purchases are "
                                                                  "never granted")))
        return checks

    @staticmethod
    def _file_check(label: str, name: str, find: Callable[[], Path]) -> Check:
        try:
            path = find()
        except ClonrError as exc:
            return Check(label, False, f"{name}: {exc}")
        return Check(label, True, f"{name} ({path}, sha256 verified)")
