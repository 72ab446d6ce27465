"""What every API route shares: the key that asks (with its limits told in headers), errors in OpenAI's shape,
the reply slots that bound how many replies a process streams at once, and a turn streamed off the event loop.
(No postponed annotations here: FastAPI reads them.)
"""


import asyncio
import contextlib
import logging
import threading
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from typing import Annotated, TypeVar

from fastapi import Depends, FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from starlette.concurrency import run_in_threadpool

from clonr.access import ApiKey
from clonr.app import Clonr
from clonr.chat import Turn
from clonr.errors import (
    ConflictError,
    ForbiddenError,
    IdempotencyKeyReusedError,
    InvalidInputError,
    NotFoundError,
    PaymentError,
    PaymentRequiredError,
    RateLimitedError,
    SignInError,
)
from clonr.fans import Allowance, KeyRates
from clonr.llm import resolve_chat_model_name
from clonr.store import Clone
from clonr.voice import SpeechError

log = logging.getLogger(__name__)
T = TypeVar("T")

BUSY = "Every reply slot of this server is taken and its queue is full: retry in a few seconds."
_BEARER = HTTPBearer(auto_error=False, bearerFormat="clonr_<prefix>_<secret>",
                     description="A Clonr API key: the studio's API & usage page, or `clonr keys create`.")
_REMOTE_CONCURRENCY = 32  # replies at once with an OpenAI-compatible endpoint, unless CLONR_API_CONCURRENCY says


class ApiError(Exception):
    """An error answered in OpenAI's shape: `{"error": {"message", "type", "param", "code"}}`."""

    def __init__(self, status: int, message: str, kind: str = "invalid_request_error", code: str | None = None,
                 param: str | None = None, headers: dict[str, str] | None = None) -> None:
        super().__init__(message)
        self.status, self.kind, self.code, self.param, self.headers = status, kind, code, param, headers or {}

    def response(self, extra_headers: dict[str, str] | None = None) -> JSONResponse:
        body = {"error": {"message": str(self), "type": self.kind, "param": self.param, "code": self.code}}
        return JSONResponse(body, status_code=self.status, headers={**(extra_headers or {}), **self.headers})


@contextlib.contextmanager
def told() -> Iterator[None]:
    """Known errors of the services, as the API answers them."""
    try:
        yield
    except RateLimitedError as exc:
        raise ApiError(429, str(exc), "requests", "rate_limit_exceeded",
                       headers={"Retry-After": str(exc.retry_after)}) from None
    except ConflictError as exc:
        raise ApiError(409, str(exc), code="idempotency_key_in_use") from None
    except IdempotencyKeyReusedError as exc:
        raise ApiError(422, str(exc), code="idempotency_key_reused") from None
    except NotFoundError as exc:
        raise ApiError(404, str(exc), code="not_found") from None
    except PaymentRequiredError as exc:
        raise ApiError(402, str(exc), "insufficient_quota", "insufficient_quota") from None
    except PaymentError as exc:
        raise ApiError(503, str(exc), "api_error", "payments_unavailable") from None
    except SpeechError as exc:
        raise ApiError(503, str(exc), "api_error", "speech_unavailable") from None
    except (InvalidInputError, ForbiddenError) as exc:
        raise ApiError(400, str(exc)) from None


def rate_headers(requests: Allowance, tokens: Allowance) -> dict[str, str]:
    """OpenAI's rate-limit headers, on every answer to a key."""
    return {"x-ratelimit-limit-requests": str(requests.limit),
            "x-ratelimit-remaining-requests": str(requests.remaining),
            "x-ratelimit-reset-requests": f"{requests.reset_s}s",
            "x-ratelimit-limit-tokens": str(tokens.limit), "x-ratelimit-remaining-tokens": str(tokens.remaining),
            "x-ratelimit-reset-tokens": f"{tokens.reset_s}s"}


class ReplySlots:
    """How many replies one process streams at once (`CLONR_API_CONCURRENCY`: one with a local model, which
    answers one at a time; several with a remote endpoint), and how many requests may wait for a slot
    (`CLONR_API_QUEUE`; beyond it, 503). Waiting happens on the event loop, holding no thread."""

    def __init__(self, concurrency: int, queue: int) -> None:
        # Turns are prepared one at a time, in arrival order: on a few cores, preparing a burst side by side
        # makes every one of them late, and the model waits for the first.
        self.preparing = asyncio.Lock()
        self._semaphore = asyncio.Semaphore(concurrency)
        self._queue = queue
        self._waiting = 0

    @contextlib.contextmanager
    def place(self) -> Iterator[Callable[[], Awaitable[Callable[[], None]]]]:
        """A place in the queue, or 503 when it is full; inside, await the callable it gives for a slot. The
        slot's own callable gives it back (once, from any thread)."""
        if self._semaphore.locked() and self._waiting >= self._queue:
            raise ApiError(503, BUSY, "server_error", "server_busy", headers={"Retry-After": "5"})
        self._waiting += 1
        waiting = True

        async def slot() -> Callable[[], None]:
            nonlocal waiting
            await self._semaphore.acquire()
            self._waiting, waiting = self._waiting - 1, False
            return self._giver(asyncio.get_running_loop())

        try:
            yield slot
        finally:
            if waiting:
                self._waiting -= 1

    def _giver(self, loop: asyncio.AbstractEventLoop) -> Callable[[], None]:
        given_back = threading.Event()

        def give_back() -> None:
            if not given_back.is_set():
                given_back.set()
                with contextlib.suppress(RuntimeError):  # the loop closed: the server is stopping
                    loop.call_soon_threadsafe(self._semaphore.release)

        return give_back


class Gate:
    """The API key that asks, counted against its limits, and the clones it may use."""

    def __init__(self, app: Clonr) -> None:
        self.app = app
        self.rates = KeyRates(app.settings.key_request_limit, app.settings.key_token_limit,
                              app.settings.limits_storage)
        concurrency = app.settings.api_concurrency or (
            _REMOTE_CONCURRENCY if resolve_chat_model_name(app.settings) == "openai" else 1)
        self.slots = ReplySlots(concurrency, app.settings.api_queue)

    def key(self, request: Request,
            credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_BEARER)] = None) -> ApiKey:
        """A FastAPI dependency: the key's actor, its request counted (`CLONR_KEY_*_LIMIT`); the rate headers go
        on every answer to it, errors included."""
        presented = credentials.credentials if credentials else None
        try:
            actor = self.app.keys.authenticate(presented)
        except SignInError as exc:
            raise ApiError(401, str(exc), code="invalid_api_key") from None
        try:
            request.state.rate_headers = rate_headers(*self.rates.request(actor.key_id))
        except RateLimitedError as exc:
            request.state.rate_headers = rate_headers(*self.rates.allowances(actor.key_id))
            raise ApiError(429, str(exc), "requests", "rate_limit_exceeded",
                           headers={"Retry-After": str(exc.retry_after)}) from None
        return actor

    def clone(self, actor: ApiKey, slug: str, param: str = "model") -> Clone:
        """The published clone `slug` of the key's owner, if the key may use it."""
        found = next((c for c in self.app.fans.clones_for(actor) if c.slug == slug), None)
        if found is None:
            raise ApiError(404, f"The clone {slug!r} does not exist or this key may not use it: list them with "
                                "GET /v1/models.", code="model_not_found", param=param)
        return found

    def spend(self, actor: ApiKey, tokens: int) -> None:
        self.rates.spend(actor.key_id, tokens)


def install_errors(api: FastAPI) -> None:
    """Answer `ApiError` and malformed requests in OpenAI's shape, with the asking key's rate headers."""

    @api.exception_handler(ApiError)
    async def api_error(request: Request, exc: ApiError) -> JSONResponse:
        return exc.response(getattr(request.state, "rate_headers", None))

    @api.exception_handler(RequestValidationError)
    async def invalid_request(request: Request, exc: RequestValidationError) -> JSONResponse:
        first = exc.errors()[0] if exc.errors() else {}
        where = ".".join(str(part) for part in first.get("loc", ())[1:]) or None
        return ApiError(400, f"Invalid request: {first.get('msg', 'malformed body')} ({where}).", param=where
                        ).response(getattr(request.state, "rate_headers", None))


def headers_of(request: Request) -> dict[str, str]:
    return dict(getattr(request.state, "rate_headers", {}))


_DONE = object()


def pieces(turn: Turn, give_back: Callable[[], None]) -> AsyncIterator[str]:
    """The turn's reply, generated on its own thread from now on (the event loop never waits on the model, and
    the slot is given back even if no one ever reads). When the reader stops early (the client went away),
    generation stops at the next piece and the turn stores what was said, marked interrupted. A model failure
    is raised to the reader."""
    loop = asyncio.get_running_loop()
    queue: asyncio.Queue[object] = asyncio.Queue()
    stop = threading.Event()

    def put(item: object) -> None:
        with contextlib.suppress(RuntimeError):  # the loop closed: the server is stopping
            loop.call_soon_threadsafe(queue.put_nowait, item)

    def produce() -> None:
        iterator = iter(turn)
        try:
            for piece in iterator:
                if stop.is_set():
                    break
                put(piece)
        except Exception as exc:  # the model failed: the turn has recorded it; the reader tells the client
            put(exc)
        finally:
            iterator.close()  # a turn stopped early stores what was said, marked interrupted
            give_back()
            put(_DONE)

    async def read() -> AsyncIterator[str]:
        try:
            while (item := await queue.get()) is not _DONE:
                if isinstance(item, Exception):
                    raise item
                yield item  # type: ignore[misc]
        finally:
            stop.set()

    threading.Thread(target=produce, name=f"reply-{turn.fan_id}", daemon=True).start()
    return read()


async def start_in_slot(slots: ReplySlots, start: Callable[[], T]) -> tuple[T, Callable[[], None]]:
    """Start a turn (claiming its Idempotency-Key first, so a repeat is told 409 at once) and wait for a reply
    slot for it. A replayed reply needs no slot: its giver does nothing. A client that leaves while waiting
    abandons its turn."""
    with slots.place() as slot:
        async with slots.preparing:
            started = await run_in_threadpool(start)
        if not isinstance(started, Turn):
            return started, lambda: None
        try:
            return started, await slot()
        except BaseException:
            started.abandon()
            raise


async def whole(said: AsyncIterator[str], clone: Clone, spend: Callable[[], None]) -> str:
    """The reply read to its end; a model failure as a 502 with a reference (details in the log only). The
    tokens are counted against the key (`spend`) either way."""
    try:
        return "".join([piece async for piece in said])
    except Exception as exc:
        raise ApiError(502, failure(exc, clone), "server_error", "model_failed") from None
    finally:
        spend()


def usage(prompt_tokens: int, completion_tokens: int) -> dict[str, int]:
    return {"prompt_tokens": prompt_tokens, "completion_tokens": completion_tokens,
            "total_tokens": prompt_tokens + completion_tokens}


def failure(exc: Exception, clone: Clone) -> str:
    """A model failure as the client reads it: one line with a reference; the details go to the log only."""
    reference = uuid.uuid4().hex[:8]
    log.error("api error %s for %s", reference, clone.slug, exc_info=exc)
    return f"{clone.name} cannot answer right now: try again in a moment (reference {reference})."
