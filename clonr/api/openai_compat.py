"""The OpenAI-compatible API: the official `openai` SDK and LangChain's `ChatOpenAI` talk to a clone by
changing `base_url` and using a Clonr API key. (No postponed annotations here: FastAPI reads them.)

- `GET /v1/models`: the key owner's published clones the key may use; a model's id is the clone's slug.
- `POST /v1/chat/completions`: `model` is the slug, `user` the API customer's own id for their end user (one
  fan per user and clone, namespaced by the key's owner). Clonr keeps each end user's history and memory, so
  only the last user message of `messages` is new: a client that sends the whole conversation each time gets
  the same answer as one that sends only the new message. Streamed as server-sent events ending in
  `data: [DONE]`, with a final usage chunk when `stream_options.include_usage` is set.
- Each key has requests and tokens per window (`CLONR_KEY_REQUEST_LIMIT`, `CLONR_KEY_TOKEN_LIMIT`), told in
  `x-ratelimit-*` headers on every answer.
- Errors come in OpenAI's shape (`{"error": {"message", "type", "param", "code"}}`), with `Retry-After` on 429.
  A model failure is one line with a reference id; the details are in the server log only.
"""


import json
import logging
import time
import uuid
from collections.abc import Callable, Iterator
from typing import Annotated, Any

from fastapi import Depends, FastAPI, Header, Request, Response
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, StreamingResponse
from pydantic import BaseModel, ConfigDict

from clonr.access import ApiKey
from clonr.app import Clonr
from clonr.chat import Turn
from clonr.errors import ForbiddenError, InvalidInputError, NotFoundError, RateLimitedError, SignInError
from clonr.fans import Allowance, KeyRates
from clonr.store import Clone

__all__ = ["mount_openai"]

log = logging.getLogger(__name__)


class OpenAIError(Exception):
    """An error answered in OpenAI's shape."""

    def __init__(self, status: int, message: str, kind: str, code: str | None = None, param: str | None = None,
                 headers: dict[str, str] | None = None) -> None:
        super().__init__(message)
        self.status, self.kind, self.code, self.param, self.headers = status, kind, code, param, headers or {}

    def response(self) -> JSONResponse:
        body = {"error": {"message": str(self), "type": self.kind, "param": self.param, "code": self.code}}
        return JSONResponse(body, status_code=self.status, headers=self.headers)


class ChatMessage(BaseModel):
    model_config = ConfigDict(extra="allow")
    role: str
    content: str | list[dict[str, Any]] | None = None


class StreamOptions(BaseModel):
    include_usage: bool = False


class ChatRequest(BaseModel):
    model_config = ConfigDict(extra="allow")  # temperature, max_tokens…: the clone's own settings apply
    model: str
    messages: list[ChatMessage]
    stream: bool = False
    stream_options: StreamOptions | None = None
    user: str | None = None


def _text(message: ChatMessage) -> str:
    if isinstance(message.content, list):
        return "".join(part.get("text", "") for part in message.content if part.get("type") == "text")
    return message.content or ""


def _headers(requests: Allowance, tokens: Allowance) -> dict[str, str]:
    """OpenAI's rate-limit headers, on every answer to a key."""
    return {"x-ratelimit-limit-requests": str(requests.limit),
            "x-ratelimit-remaining-requests": str(requests.remaining),
            "x-ratelimit-reset-requests": f"{requests.reset_s}s",
            "x-ratelimit-limit-tokens": str(tokens.limit), "x-ratelimit-remaining-tokens": str(tokens.remaining),
            "x-ratelimit-reset-tokens": f"{tokens.reset_s}s"}


def mount_openai(api: FastAPI, app: Clonr) -> None:
    """Add the OpenAI-compatible routes and their error shape to `api`."""
    rates = KeyRates(app.settings.key_request_limit, app.settings.key_token_limit)

    def key(response: Response, authorization: Annotated[str | None, Header()] = None) -> ApiKey:
        """The key's actor, its request counted (`CLONR_KEY_*_LIMIT`) and the rate headers set."""
        presented = authorization.removeprefix("Bearer").strip() if authorization else None
        try:
            actor = app.keys.authenticate(presented)
        except SignInError as exc:
            raise OpenAIError(401, str(exc), "invalid_request_error", "invalid_api_key") from None
        try:
            response.headers.update(_headers(*rates.request(actor.key_id)))
        except RateLimitedError as exc:
            raise OpenAIError(429, str(exc), "requests", "rate_limit_exceeded", headers={
                "Retry-After": str(exc.retry_after), **_headers(*rates.allowances(actor.key_id))}) from None
        return actor

    def clone_for(actor: ApiKey, model: str) -> Clone:
        found = next((c for c in app.fans.clones_for(actor) if c.slug == model), None)
        if found is None:
            raise OpenAIError(404, f"The model {model!r} does not exist or this key may not use it: list them "
                                   "with GET /v1/models.", "invalid_request_error", "model_not_found", "model")
        return found

    @api.exception_handler(OpenAIError)
    async def openai_error(request: Request, exc: OpenAIError) -> JSONResponse:
        return exc.response()

    @api.exception_handler(RequestValidationError)
    async def invalid_request(request: Request, exc: RequestValidationError) -> JSONResponse:
        first = exc.errors()[0] if exc.errors() else {}
        where = ".".join(str(part) for part in first.get("loc", ())[1:]) or None
        return OpenAIError(400, f"Invalid request: {first.get('msg', 'malformed body')} ({where}).",
                           "invalid_request_error", None, where).response()

    @api.get("/v1/models")
    def models(actor: Annotated[ApiKey, Depends(key)]) -> dict[str, Any]:
        return {"object": "list", "data": [
            {"id": c.slug, "object": "model", "created": int(c.created_at.timestamp()), "owned_by": "clonr"}
            for c in app.fans.clones_for(actor)]}

    @api.post("/v1/chat/completions", response_model=None)
    def chat_completions(body: ChatRequest, actor: Annotated[ApiKey, Depends(key)],
                         response: Response) -> JSONResponse | StreamingResponse:
        clone = clone_for(actor, body.model)
        said = [m for m in body.messages if m.role == "user"]
        if not said or not _text(said[-1]).strip():
            raise OpenAIError(400, "`messages` needs a user message with text.", "invalid_request_error",
                              None, "messages")
        try:
            fan = app.fans.end_user(actor, clone.id, body.user or "default")
            turn = app.fans.turn(actor, clone.id, fan.fan_id, _text(said[-1]), channel="api")
        except RateLimitedError as exc:
            raise OpenAIError(429, str(exc), "requests", "rate_limit_exceeded",
                              headers={"Retry-After": str(exc.retry_after)}) from None
        except (InvalidInputError, ForbiddenError, NotFoundError) as exc:
            raise OpenAIError(400, str(exc), "invalid_request_error") from None
        reply_id = f"chatcmpl-{uuid.uuid4().hex}"
        created = int(time.time())
        headers = {k: v for k, v in response.headers.items() if k.startswith("x-ratelimit-")}  # set by `key`
        if body.stream:
            usage = bool(body.stream_options and body.stream_options.include_usage)
            events = _events(turn, reply_id, created, clone.slug, usage,
                             lambda: rates.spend(actor.key_id, _usage(turn)["total_tokens"]))
            return StreamingResponse(events, media_type="text/event-stream",
                                     headers={"Cache-Control": "no-cache", **headers})
        try:
            text = turn.text()
        except Exception as exc:  # the model failed: one line for the caller, the details in the log
            raise OpenAIError(502, _failure(exc, clone), "server_error", "model_failed", headers=headers) from None
        rates.spend(actor.key_id, _usage(turn)["total_tokens"])
        return JSONResponse({
            "id": reply_id, "object": "chat.completion", "created": created, "model": clone.slug,
            "choices": [{"index": 0, "message": {"role": "assistant", "content": text}, "finish_reason": "stop"}],
            "usage": _usage(turn)}, headers=headers)


def _events(turn: Turn, reply_id: str, created: int, model: str, include_usage: bool,
            spend: Callable[[], None]) -> Iterator[str]:
    """The reply as OpenAI's chunks. A client that hangs up stops this generator, and the turn stores what was
    said so far marked interrupted; the tokens are counted against the key either way (`spend`)."""

    def chunk(delta: dict[str, str], finish: str | None = None, **extra: Any) -> str:
        payload = {"id": reply_id, "object": "chat.completion.chunk", "created": created, "model": model,
                   "choices": [{"index": 0, "delta": delta, "finish_reason": finish}], **extra}
        return f"data: {json.dumps(payload)}\n\n"

    yield chunk({"role": "assistant", "content": ""})
    try:
        for piece in turn:
            yield chunk({"content": piece})
    except Exception as exc:  # the model failed mid-reply: an error event, as OpenAI sends one
        yield f"data: {json.dumps({'error': {'message': _failure(exc, turn.clone), 'type': 'server_error'}})}\n\n"
        return
    finally:
        spend()
    yield chunk({}, "stop")
    if include_usage:
        payload = {"id": reply_id, "object": "chat.completion.chunk", "created": created, "model": model,
                   "choices": [], "usage": _usage(turn)}
        yield f"data: {json.dumps(payload)}\n\n"
    yield "data: [DONE]\n\n"


def _usage(turn: Turn) -> dict[str, int]:
    prompt, completion = turn.tokens()
    return {"prompt_tokens": prompt, "completion_tokens": completion, "total_tokens": prompt + completion}


def _failure(exc: Exception, clone: Clone) -> str:
    reference = uuid.uuid4().hex[:8]
    log.error("api error %s for %s", reference, clone.slug, exc_info=exc)
    return f"{clone.name} cannot answer right now: try again in a moment (reference {reference})."
