"""The widgets: every published clone at /c/<slug>/, mounted on first visit, as a surface of `clonr serve`
(the `clonr.surfaces` entry point `mount_widgets`, beside the API of `clonr.api`).

Clones published in the studio go live without a restart: a small ASGI middleware looks the slug up, builds
and mounts the clone's Gradio app on first use, and answers 404 for unknown or unpublished clones.
"""

from __future__ import annotations

import asyncio
import contextlib
import html
import json
import re
import time
from typing import Any

import gradio as gr
from fastapi import FastAPI
from fastapi.responses import HTMLResponse

from clonr import Clonr
from clonr.access import NOBODY
from clonr.errors import NotFoundError
from widget.app import build_app

_CLONE_PATH = re.compile(r"^/c/([a-z0-9-]{1,80})(/.*)?$")
BUSY = "This clone is busy with other fans right now: please try again shortly."
_PUBLISHED_TTL = 2.0  # seconds a published/unpublished answer is reused, so assets don't each hit the database


class _CloneMounter:
    """ASGI middleware that mounts clone apps on demand and hides unpublished ones."""

    def __init__(self, api: FastAPI, app: Clonr, downstream: Any) -> None:
        self.api = api  # where clone apps are mounted
        self.downstream = downstream  # what serves every request once the clone is mounted
        self.app = app
        self.mounted: dict[str, str] = {}  # slug -> clone id
        self._published: dict[str, tuple[float, str | None]] = {}
        self._lock = asyncio.Lock()
        self._stack = contextlib.AsyncExitStack()

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] == "lifespan":
            await self._lifespan(scope, receive, send)
            return
        match = _CLONE_PATH.match(scope.get("path", "")) if scope["type"] in ("http", "websocket") else None
        if match:
            slug = match.group(1)
            clone_id = await self._published_id(slug)
            if clone_id is None:
                await _not_found(scope, send, slug)
                return
            if match.group(2) is None and scope["type"] == "http":  # /c/slug -> /c/slug/
                await _redirect(send, f"/c/{slug}/")
                return
            if slug not in self.mounted:
                await self._mount(slug, clone_id)
            if (match.group(2) or "").endswith("/queue/join"):
                send = _busy_when_full(send)
        await self.downstream(scope, receive, send)

    async def _published_id(self, slug: str) -> str | None:
        now = time.monotonic()
        cached = self._published.get(slug)
        if cached and now - cached[0] < _PUBLISHED_TTL:
            return cached[1]
        try:
            clone = await asyncio.to_thread(self.app.clones.acting_as(NOBODY).public, slug)
            clone_id = clone.id if clone.slug == slug else None
        except NotFoundError:
            clone_id = None
        self._published[slug] = (now, clone_id)
        return clone_id

    async def _mount(self, slug: str, clone_id: str) -> None:
        async with self._lock:
            if slug in self.mounted:
                return
            blocks = await asyncio.to_thread(build_app, self.app, clone_id)
            # One local model per process: replies take turns, and a full queue tells the next fan it is busy.
            blocks.queue(default_concurrency_limit=1, max_size=self.app.settings.widget_queue)
            gr.mount_gradio_app(self.api, blocks, path=f"/c/{slug}", show_error=False, footer_links=[],
                                run_history=False)
            gradio_app = self.api.router.routes[-1].app  # the Mount just added
            await self._stack.enter_async_context(gradio_app.router.lifespan_context(gradio_app))
            gradio_app.get_blocks().run_startup_events()
            await gradio_app.get_blocks().run_extra_startup_events()
            self.mounted[slug] = clone_id

    async def _lifespan(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        while True:
            message = await receive()
            if message["type"] == "lifespan.startup":
                await send({"type": "lifespan.startup.complete"})
            elif message["type"] == "lifespan.shutdown":
                await self._stack.aclose()
                await send({"type": "lifespan.shutdown.complete"})
                return


async def _send_html(send: Any, status: int, body: str, headers: list[tuple[bytes, bytes]] = ()) -> None:
    payload = body.encode()
    await send({"type": "http.response.start", "status": status, "headers": [
        (b"content-type", b"text/html; charset=utf-8"), (b"content-length", str(len(payload)).encode()),
        *headers]})
    await send({"type": "http.response.body", "body": payload})


def _busy_when_full(send: Any) -> Any:
    """Gradio answers a join to a full queue with 503 and its own technical words; the fan reads these."""
    full = False

    async def wrapped(message: dict[str, Any]) -> None:
        nonlocal full
        if message["type"] == "http.response.start" and message["status"] == 503:
            full = True
            body = json.dumps({"detail": BUSY}).encode()
            await send({"type": "http.response.start", "status": 503, "headers": [
                (b"content-type", b"application/json"), (b"content-length", str(len(body)).encode()),
                (b"retry-after", b"10")]})
            await send({"type": "http.response.body", "body": body})
        elif not full:
            await send(message)

    return wrapped


async def _not_found(scope: dict[str, Any], send: Any, slug: str) -> None:
    if scope["type"] != "http":
        await send({"type": "websocket.close", "code": 4404})
        return
    await _send_html(send, 404, f"<h1>No clone here</h1><p>{html.escape(slug)} is not published.</p>")


async def _redirect(send: Any, location: str) -> None:
    await _send_html(send, 307, "", [(b"location", location.encode())])


def mount_widgets(api: FastAPI, app: Clonr, downstream: Any) -> _CloneMounter:
    """The `clonr.surfaces` hook: a page listing the published clones at /, and each clone's widget."""

    @api.get("/", response_class=HTMLResponse, include_in_schema=False)
    def index() -> str:
        live = app.clones.acting_as(NOBODY).published()
        items = "".join(f'<li><a href="/c/{html.escape(c.slug)}/">{html.escape(c.name)}</a></li>' for c in live)
        return f"<h1>Clonr</h1><ul>{items or '<li>No published clones yet.</li>'}</ul>"

    return _CloneMounter(api, app, downstream)
