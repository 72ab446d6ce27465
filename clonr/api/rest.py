"""The conversations API: JSON over HTTP for an API key's end users (`user`: the key owner's own id for them,
namespaced by the owner). (No postponed annotations here: FastAPI reads them.)

- `GET /v1/clones`, `GET /v1/clones/{slug}`: the published clones the key may use.
- `…/users/{user}/conversations`: start (POST) and list (GET) an end user's conversations; `default` is their
  first one, the one `/v1/chat/completions` continues. The clone remembers the end user across all of them.
- `…/conversations/{id}/messages`: page through messages (GET, newest page first, `before` for older ones)
  and post one (POST) to get the clone's reply, whole or as server-sent events (`delta` events, then `done`).
  `Idempotency-Key` makes a retried post safe: the stored reply comes back, and is not charged again.
- `DELETE /v1/clones/{slug}/users/{user}`: forget an end user (messages, memories, their vectors, summary).
- `GET /v1/usage?by=day|clone|user`: what this key's requests used, from the usage ledger.
- `GET /v1/clones/{slug}/billing`: where the key's owner stands with a priced clone this month (free messages
  left, the metered subscription); past them, a message is answered 402 `insufficient_quota`.
"""


import dataclasses
import json
from collections.abc import AsyncIterator
from datetime import datetime
from typing import Annotated, Any, Literal

from fastapi import Depends, FastAPI, Header, Path, Query, Request, Response
from fastapi.responses import JSONResponse, StreamingResponse
from pydantic import BaseModel, Field
from starlette.concurrency import run_in_threadpool

from clonr.access import API_FAN_PREFIX, ApiKey
from clonr.api.common import ApiError, Gate, failure, headers_of, pieces, start_in_slot, told, usage, whole
from clonr.app import Clonr
from clonr.billing import money
from clonr.chat import Turn
from clonr.fans import Replay
from clonr.store import Clone, Message

__all__ = ["mount_rest"]

DEFAULT_CONVERSATION = "default"  # the API's name for an end user's first conversation ('' in the store)
_PAGE_MAX = 200

User = Annotated[str, Path(min_length=1, max_length=256, description="Your own id for your end user.")]
Slug = Annotated[str, Path(description="The clone's slug (GET /v1/clones).")]
ConversationId = Annotated[str, Path(description="A conversation's id, or `default` for the end user's first.")]


class CloneOut(BaseModel):
    slug: str
    name: str
    description: str = Field(description="The creator's short description.")
    greeting: str
    created_at: datetime


class ConversationOut(BaseModel):
    id: str
    clone: str
    user: str
    created_at: datetime | None = Field(description="None for `default`, which every end user has.")


class MessageOut(BaseModel):
    id: int
    role: str = Field(description="`user` (your end user) or `assistant` (the clone).")
    content: str
    created_at: datetime
    interrupted: bool = Field(description="A reply cut short: the client went away or the model failed.")
    written_by_creator: bool = Field(False, description="A reply the creator wrote themselves, not the clone.")


class MessagePage(BaseModel):
    data: list[MessageOut] = Field(description="Oldest first.")
    has_more: bool
    next_before: int | None = Field(description="Pass as `before` for the page before this one.")


class PostMessage(BaseModel):
    content: str = Field(description="What the end user says.")
    stream: bool = Field(False, description="Answer as server-sent events: `delta` events, then `done`.")


class BillingOut(BaseModel):
    audience: str
    free_messages: int | None = Field(description="A month; null: unlimited.")
    free_left: int | None
    subscribed: bool = Field(description="Metered messages past the free ones, billed monthly to the key's owner.")
    price_per_message: str | None = Field(description="E.g. `$0.02`; null when the clone sells none.")
    summary: str


class Exchange(BaseModel):
    message: MessageOut
    reply: MessageOut
    usage: dict[str, int]
    replayed: bool = Field(description="True when an Idempotency-Key returned an earlier reply.")


def _clone_out(clone: Clone) -> CloneOut:
    return CloneOut(slug=clone.slug, name=clone.name, description=clone.short_description, greeting=clone.greeting,
                    created_at=clone.created_at)


def _message_out(message: Message) -> MessageOut:
    return MessageOut(id=message.id, role=message.role, content=message.content, created_at=message.created_at,
                      interrupted=message.interrupted, written_by_creator=message.by_creator)


def _stored(conversation_id: str) -> str:
    return "" if conversation_id == DEFAULT_CONVERSATION else conversation_id


def mount_rest(api: FastAPI, app: Clonr, gate: Gate) -> None:
    """Add the conversations API to `api`."""
    tags = ["Conversations"]
    Key = Annotated[ApiKey, Depends(gate.key)]  # noqa: N806 (a type alias for the routes below)

    def fan_of(actor: ApiKey, slug: str, user: str, create: bool) -> tuple[Clone, str]:
        clone = gate.clone(actor, slug, "slug")
        with told():
            return clone, app.fans.end_user(actor, clone.id, user, create=create).fan_id

    @api.get("/v1/clones", tags=tags, summary="The clones this key may use")
    def list_clones(actor: Key, request: Request) -> JSONResponse:
        data = [_clone_out(c).model_dump(mode="json") for c in app.fans.clones_for(actor)]
        return JSONResponse({"data": data}, headers=headers_of(request))

    @api.get("/v1/clones/{slug}", tags=tags, summary="One clone", response_model=CloneOut)
    def get_clone(actor: Key, slug: Slug, request: Request) -> JSONResponse:
        return JSONResponse(_clone_out(gate.clone(actor, slug, "slug")).model_dump(mode="json"),
                            headers=headers_of(request))

    @api.post("/v1/clones/{slug}/users/{user}/conversations", tags=tags, status_code=201,
              summary="Start a conversation", response_model=ConversationOut)
    def start_conversation(actor: Key, slug: Slug, user: User, request: Request) -> JSONResponse:
        clone, fan_id = fan_of(actor, slug, user, create=True)
        with told():
            record = app.fans.start_conversation(actor, clone.id, fan_id)
        out = ConversationOut(id=record.id, clone=clone.slug, user=user, created_at=record.created_at)
        return JSONResponse(out.model_dump(mode="json"), status_code=201, headers=headers_of(request))

    @api.get("/v1/clones/{slug}/users/{user}/conversations", tags=tags, summary="An end user's conversations")
    def list_conversations(actor: Key, slug: Slug, user: User, request: Request) -> JSONResponse:
        try:
            clone, fan_id = fan_of(actor, slug, user, create=False)
        except ApiError as exc:
            if exc.status != 404 or exc.param == "slug":
                raise
            return JSONResponse({"data": []}, headers=headers_of(request))  # an end user not met yet
        with told():
            started = app.fans.conversations(actor, clone.id, fan_id)
            first = app.fans.history(actor, clone.id, fan_id, 1, conversation_id="")
        data = [ConversationOut(id=c.id, clone=clone.slug, user=user, created_at=c.created_at) for c in started]
        if first:  # the first conversation is listed once it has a message
            data.insert(0, ConversationOut(id=DEFAULT_CONVERSATION, clone=clone.slug, user=user, created_at=None))
        return JSONResponse({"data": [c.model_dump(mode="json") for c in data]}, headers=headers_of(request))

    @api.get("/v1/clones/{slug}/users/{user}/conversations/{conversation_id}/messages", tags=tags,
             summary="Page through a conversation", response_model=MessagePage)
    def list_messages(actor: Key, slug: Slug, user: User, conversation_id: ConversationId, request: Request,
                      limit: Annotated[int, Query(ge=1, le=_PAGE_MAX)] = 50,
                      before: Annotated[int | None, Query(description="A message id: the page before it.")] = None,
                      ) -> JSONResponse:
        clone, fan_id = fan_of(actor, slug, user, create=False)
        with told():
            found = app.fans.history(actor, clone.id, fan_id, limit + 1, conversation_id=_stored(conversation_id),
                                     before=before)
        page, more = found[-limit:], len(found) > limit
        out = MessagePage(data=[_message_out(m) for m in page], has_more=more,
                          next_before=page[0].id if more and page else None)
        return JSONResponse(out.model_dump(mode="json"), headers=headers_of(request))

    @api.post("/v1/clones/{slug}/users/{user}/conversations/{conversation_id}/messages", tags=tags,
              summary="Send a message and get the clone's reply", response_model=Exchange)
    async def post_message(actor: Key, slug: Slug, user: User, conversation_id: ConversationId,
                           body: PostMessage, request: Request,
                           idempotency_key: Annotated[str | None, Header()] = None) -> Response:
        clone, fan_id = await run_in_threadpool(fan_of, actor, slug, user, True)

        def start() -> Turn | Replay:
            with told():
                return app.fans.post(actor, clone.id, fan_id, body.content, idempotency_key,
                                     conversation_id=_stored(conversation_id))

        turn, give_back = await start_in_slot(gate.slots, start)
        if isinstance(turn, Replay):
            exchange = _replayed_exchange(turn)
            if body.stream:
                return StreamingResponse(_replay_events(exchange), media_type="text/event-stream",
                                         headers=headers_of(request))
            return JSONResponse(exchange.model_dump(mode="json"), headers=headers_of(request))
        said = pieces(turn, give_back)
        if body.stream:
            return StreamingResponse(_events(app, gate, actor, clone, turn, said), media_type="text/event-stream",
                                     headers={"Cache-Control": "no-cache", **headers_of(request)})
        await whole(said, clone, lambda: gate.spend(actor, sum(turn.tokens())))
        exchange = await run_in_threadpool(_exchange, app, actor, turn)
        return JSONResponse(exchange.model_dump(mode="json"), headers=headers_of(request))

    @api.get("/v1/clones/{slug}/billing", tags=["Usage"], summary="What is left this month",
             response_model=BillingOut)
    def read_billing(actor: Key, slug: Slug, request: Request) -> JSONResponse:
        clone = gate.clone(actor, slug, "slug")
        with told():
            standing = app.fans.standing(actor, clone.id, API_FAN_PREFIX)
        assert standing is not None  # an API key's owner pays for its messages
        out = BillingOut(audience=standing.audience, free_messages=standing.free_messages,
                         free_left=standing.free_left, subscribed=standing.subscribed,
                         price_per_message=money(standing.price_micros, standing.currency)
                         if standing.price_micros else None, summary=standing.summary())
        return JSONResponse(out.model_dump(mode="json"), headers=headers_of(request))

    @api.get("/v1/usage", tags=["Usage"], summary="What this key used")
    def read_usage(actor: Key, request: Request, by: Literal["day", "clone", "user"] = "day") -> JSONResponse:
        """Replies, failed attempts, end users, tokens and first-token latency of this key's requests, grouped by
        day, clone (slug) or end user (Clonr's id for them)."""
        lines = app.usage.acting_as(actor).summary(by)
        return JSONResponse({"by": by, "data": [dataclasses.asdict(line) for line in lines]},
                            headers=headers_of(request))

    @api.delete("/v1/clones/{slug}/users/{user}", tags=tags, status_code=204,
                summary="Forget an end user: messages, memories and summary")
    def forget_user(actor: Key, slug: Slug, user: User, request: Request) -> Response:
        clone, fan_id = fan_of(actor, slug, user, create=False)
        with told():
            app.fans.forget(actor, clone.id, fan_id)
        return Response(status_code=204, headers=headers_of(request))


def _exchange(app: Clonr, actor: ApiKey, turn: Turn) -> Exchange:
    """The stored message and reply of a finished turn."""
    if turn.stored is None:
        raise ApiError(502, "The reply was not stored: send the message again.", "server_error")
    with told():
        asked, reply = app.fans.exchange(actor, turn.clone.id, turn.fan_id, turn.stored)
    return Exchange(message=_message_out(asked), reply=_message_out(reply), usage=usage(*turn.tokens()),
                    replayed=False)


def _replayed_exchange(replay: Replay) -> Exchange:
    return Exchange(message=_message_out(replay.asked), reply=_message_out(replay.reply),
                    usage=usage(replay.prompt_tokens, replay.completion_tokens), replayed=True)


def _sse(event: str, payload: dict[str, Any]) -> str:
    return f"event: {event}\ndata: {json.dumps(payload)}\n\n"


async def _replay_events(exchange: Exchange) -> AsyncIterator[str]:
    yield _sse("delta", {"content": exchange.reply.content})
    yield _sse("done", exchange.model_dump(mode="json"))


async def _events(app: Clonr, gate: Gate, actor: ApiKey, clone: Clone, turn: Turn,
                  said: AsyncIterator[str]) -> AsyncIterator[str]:
    """`delta` events with the reply's pieces, then `done` with the stored exchange (or `error`)."""
    try:
        async for piece in said:
            yield _sse("delta", {"content": piece})
    except Exception as exc:
        yield _sse("error", {"error": {"message": failure(exc, clone), "type": "server_error"}})
        return
    finally:
        gate.spend(actor, sum(turn.tokens()))
    exchange = await run_in_threadpool(_exchange, app, actor, turn)
    yield _sse("done", exchange.model_dump(mode="json"))
