"""The OpenAI-compatible API: the official `openai` SDK and LangChain's `ChatOpenAI` talk to a clone by
changing `base_url` and using a Clonr API key. (No postponed annotations here: FastAPI reads them.)

- `GET /v1/models`: the key owner's published clones the key may use; a model's id is the clone's slug.
- `POST /v1/chat/completions`: `model` is the slug, `user` the API customer's own id for their end user (one
  fan per user and clone, namespaced by the key's owner). Clonr keeps each end user's history and memory; only
  the last user message of `messages` is new. When a client sends the whole conversation (as stateless
  clients do), its earlier user and assistant messages are the recent history; one message alone continues
  the end user's stored conversation. Streamed as server-sent events ending in `data: [DONE]`, with a final
  usage chunk when `stream_options.include_usage` is set. A client's system messages are ignored: the clone's
  persona is the creator's.
- `POST /v1/completions`: continues `prompt` in the creator's voice (drafting replies and posts).
- `POST /v1/audio/speech`: `input` spoken in the clone's voice (the creator's choice; `voice` is ignored), as
  `mp3` (the default), `wav` or `pcm` (16-bit mono, 22,050 Hz), streamed sentence by sentence.
- Each key has requests and tokens per window (`CLONR_KEY_REQUEST_LIMIT`, `CLONR_KEY_TOKEN_LIMIT`), told in
  `x-ratelimit-*` headers on every answer.
- Errors come in OpenAI's shape (`{"error": {"message", "type", "param", "code"}}`), with `Retry-After` on 429.
  A model failure is one line with a reference id; the details are in the server log only.
- `Idempotency-Key` on a post: the same key and body again return the stored reply, not charged again.
"""


import json
import time
import uuid
from collections.abc import AsyncIterator, Callable, Iterator
from typing import Annotated, Any

from fastapi import Depends, FastAPI, Header, Request
from fastapi.responses import JSONResponse, StreamingResponse
from pydantic import BaseModel, ConfigDict, Field
from starlette.concurrency import run_in_threadpool

from clonr.access import ApiKey
from clonr.api.common import ApiError, Gate, failure, headers_of, pieces, start_in_slot, told, usage, whole
from clonr.app import Clonr
from clonr.chat import Turn
from clonr.errors import ClonrError
from clonr.fans import Replay
from clonr.store import Clone
from clonr.voice import encode, media_type

__all__ = ["mount_openai"]


class ChatMessage(BaseModel):
    model_config = ConfigDict(extra="allow")
    role: str
    content: str | list[dict[str, Any]] | None = None


class StreamOptions(BaseModel):
    include_usage: bool = False


class ChatRequest(BaseModel):
    model_config = ConfigDict(extra="allow")  # temperature, max_tokens…: the clone's own settings apply
    model: str = Field(description="The clone's slug (GET /v1/models).")
    messages: list[ChatMessage]
    stream: bool = False
    stream_options: StreamOptions | None = None
    user: str | None = Field(None, description="Your own id for your end user; one fan per user and clone.")


class CompletionRequest(BaseModel):
    model_config = ConfigDict(extra="allow")
    model: str = Field(description="The clone's slug (GET /v1/models).")
    prompt: str = Field(description="The text to continue in the creator's voice.")
    stream: bool = False
    stream_options: StreamOptions | None = None
    user: str | None = None


class SpeechRequest(BaseModel):
    model_config = ConfigDict(extra="allow")  # instructions, speed: the clone speaks as its creator chose
    model: str = Field(description="The clone's slug (GET /v1/models).")
    input: str = Field(description="The text to speak.")
    voice: str = Field("clone", description="Ignored: the clone speaks with the voice its creator chose.")
    response_format: str = Field("mp3", description="mp3, wav or pcm (16-bit mono, 22,050 Hz).")


def _text(message: ChatMessage) -> str:
    if isinstance(message.content, list):
        return "".join(part.get("text", "") for part in message.content if part.get("type") == "text")
    return message.content or ""


def _split(messages: list[ChatMessage]) -> tuple[str, list[tuple[str, str]] | None]:
    """The new message (the last user message) and the history a stateless client sent before it, if any."""
    said = [n for n, m in enumerate(messages) if m.role == "user"]
    if not said or not _text(messages[said[-1]]).strip():
        raise ApiError(400, "`messages` needs a user message with text.", param="messages")
    history = [(m.role, _text(m)) for m in messages[:said[-1]] if m.role in ("user", "assistant") and _text(m)]
    return _text(messages[said[-1]]), history or None


def mount_openai(api: FastAPI, app: Clonr, gate: Gate) -> None:
    """Add the OpenAI-compatible routes to `api`."""

    @api.get("/v1/models", tags=["OpenAI-compatible"], summary="The clones this key may use")
    def models(actor: Annotated[ApiKey, Depends(gate.key)], request: Request) -> JSONResponse:
        return JSONResponse({"object": "list", "data": [
            {"id": c.slug, "object": "model", "created": int(c.created_at.timestamp()), "owned_by": "clonr"}
            for c in app.fans.clones_for(actor)]}, headers=headers_of(request))

    @api.post("/v1/chat/completions", tags=["OpenAI-compatible"], summary="Chat with a clone",
              response_model=None)
    async def chat_completions(body: ChatRequest, actor: Annotated[ApiKey, Depends(gate.key)], request: Request,
                               idempotency_key: Annotated[str | None, Header()] = None,
                               ) -> JSONResponse | StreamingResponse:
        message, history = _split(body.messages)
        clone = await run_in_threadpool(gate.clone, actor, body.model)

        def start() -> Turn | Replay:
            with told():
                fan = app.fans.end_user(actor, clone.id, body.user or "default")
                return app.fans.post(actor, clone.id, fan.fan_id, message, idempotency_key, history=history)

        return await _answer(gate, actor, clone, request, body.stream, _include_usage(body), start, "chat")

    @api.post("/v1/completions", tags=["OpenAI-compatible"], summary="Continue a text in the creator's voice",
              response_model=None)
    async def completions(body: CompletionRequest, actor: Annotated[ApiKey, Depends(gate.key)],
                          request: Request) -> JSONResponse | StreamingResponse:
        clone = await run_in_threadpool(gate.clone, actor, body.model)

        def start() -> Turn:
            with told():
                fan = app.fans.end_user(actor, clone.id, body.user or "default")
                return app.fans.draft(actor, clone.id, fan.fan_id, body.prompt)

        return await _answer(gate, actor, clone, request, body.stream, _include_usage(body), start, "text")


    @api.post("/v1/audio/speech", tags=["OpenAI-compatible"], summary="Speak a text in the clone's voice",
              response_class=StreamingResponse)
    async def speech(body: SpeechRequest, actor: Annotated[ApiKey, Depends(gate.key)], request: Request
                     ) -> StreamingResponse:
        clone = await run_in_threadpool(gate.clone, actor, body.model)
        if not body.input.strip():
            raise ApiError(400, "input is empty: give the text to speak.", param="input")
        with told():
            kind = media_type(body.response_format)

        def start() -> tuple[bytes, Iterator[bytes]]:
            with told():
                fan = app.fans.end_user(actor, clone.id, "default")
                audio = encode(app.voice.speak(clone, [body.input], fan_id=fan.fan_id, channel="api",
                                               key_id=actor.key_id), body.response_format)
                return next(audio, b""), audio  # the first sentence here: a failure is an answer, not a cut stream

        first, rest = await run_in_threadpool(start)
        gate.spend(actor, len(body.input) // 4)
        return StreamingResponse(_audio(first, rest, clone), media_type=kind, headers=headers_of(request))


def _audio(first: bytes, rest: Iterator[bytes], clone: Clone) -> Iterator[bytes]:
    yield first
    try:
        yield from rest
    except ClonrError as exc:  # after the first sentence the answer has begun: it ends early, logged
        failure(exc, clone)


def _include_usage(body: ChatRequest | CompletionRequest) -> bool:
    return bool(body.stream_options and body.stream_options.include_usage)


async def _answer(gate: Gate, actor: ApiKey, clone: Clone, request: Request, stream: bool, include_usage: bool,
                  start: Callable[[], Turn | Replay], kind: str) -> JSONResponse | StreamingResponse:
    """Start the turn in a reply slot and answer it whole or as OpenAI's chunks (`kind`: chat or text)."""
    turn, give_back = await start_in_slot(gate.slots, start)
    shape = _Shape(kind, clone.slug)
    headers = headers_of(request)
    said = _replayed(turn) if isinstance(turn, Replay) else pieces(turn, give_back)
    if stream:
        return StreamingResponse(_events(shape, said, clone, lambda: _tokens(turn) if include_usage else None,
                                         lambda: _spend(gate, actor, turn)),
                                 media_type="text/event-stream", headers={"Cache-Control": "no-cache", **headers})
    text = await whole(said, clone, lambda: _spend(gate, actor, turn))
    return JSONResponse(shape.whole(turn.reply if isinstance(turn, Turn) else text, _tokens(turn)), headers=headers)


async def _replayed(replay: Replay) -> AsyncIterator[str]:
    yield replay.reply.content


def _tokens(turn: Turn | Replay) -> dict[str, int]:
    return usage(*turn.tokens()) if isinstance(turn, Turn) else usage(turn.prompt_tokens, turn.completion_tokens)


def _spend(gate: Gate, actor: ApiKey, turn: Turn | Replay) -> None:
    if isinstance(turn, Turn):
        gate.spend(actor, sum(turn.tokens()))


class _Shape:
    """OpenAI's reply objects: chat completions (`chat`) or text completions (`text`)."""

    def __init__(self, kind: str, model: str) -> None:
        self.kind, self.model = kind, model
        self.id = f"{'chatcmpl' if kind == 'chat' else 'cmpl'}-{uuid.uuid4().hex}"
        self.created = int(time.time())

    def _object(self, choices: list[dict[str, Any]], chunk: bool, **extra: Any) -> dict[str, Any]:
        kind = "chat.completion" if self.kind == "chat" else "text_completion"
        return {"id": self.id, "object": kind + (".chunk" if chunk and self.kind == "chat" else ""),
                "created": self.created, "model": self.model, "choices": choices, **extra}

    def whole(self, text: str, tokens: dict[str, int] | None) -> dict[str, Any]:
        choice = {"index": 0, "message": {"role": "assistant", "content": text}} if self.kind == "chat" else \
            {"index": 0, "text": text, "logprobs": None}
        return self._object([{**choice, "finish_reason": "stop"}], chunk=False, usage=tokens)

    def chunk(self, text: str | None, finish: str | None = None) -> str:
        if self.kind == "chat":
            delta = {"role": "assistant", "content": ""} if text is None else ({"content": text} if text else {})
            choice: dict[str, Any] = {"index": 0, "delta": delta}
        else:
            choice = {"index": 0, "text": text or "", "logprobs": None}
        return _event(self._object([{**choice, "finish_reason": finish}], chunk=True))

    def usage_chunk(self, tokens: dict[str, int]) -> str:
        return _event(self._object([], chunk=True, usage=tokens))


def _event(payload: dict[str, Any]) -> str:
    return f"data: {json.dumps(payload)}\n\n"


async def _events(shape: _Shape, said: AsyncIterator[str], clone: Clone, tokens: Callable[[], dict[str, int] | None],
                  spend: Callable[[], None]) -> AsyncIterator[str]:
    """The reply as OpenAI's chunks. A client that hangs up stops the reply, and the turn stores what was said so
    far marked interrupted; the tokens are counted against the key either way (`spend`)."""
    if shape.kind == "chat":
        yield shape.chunk(None)
    try:
        async for piece in said:
            yield shape.chunk(piece)
    except Exception as exc:  # the model failed mid-reply: an error event, as OpenAI sends one
        yield _event({"error": {"message": failure(exc, clone), "type": "server_error"}})
        return
    finally:
        spend()
    yield shape.chunk("", "stop")
    counted = tokens()
    if counted is not None:
        yield shape.usage_chunk(counted)
    yield "data: [DONE]\n\n"
