"""One ASGI app for every HTTP surface of Clonr: the API at `/v1` with its OpenAPI docs at `/docs`, and what the
installed surface plugins add (the Gradio widgets at `/c/<slug>/` come from the `widget` package this way).

A surface plugin is an entry point in the `clonr.surfaces` group: a callable `(api, app, asgi) -> asgi` that may
add routes to the FastAPI `api` and returns the ASGI app to serve, wrapping `asgi` when it needs to see every
request. The core never imports a UI: it only loads what is installed.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from importlib.metadata import entry_points
from typing import Any

from fastapi import FastAPI

from clonr import __version__
from clonr.api.common import Gate, install_errors
from clonr.api.openai_compat import mount_openai
from clonr.api.rest import mount_rest
from clonr.api.webhooks import mount_webhooks
from clonr.app import Clonr, freeze_startup_objects

__all__ = ["SURFACES_GROUP", "create_api", "create_server", "serve", "worker_server"]

log = logging.getLogger(__name__)
SURFACES_GROUP = "clonr.surfaces"

ASGIApp = Callable[..., Any]

_DESCRIPTION = """Chat with published clones. Every request names a Clonr API key: `Authorization: Bearer clonr_…`
(create one in the studio's *API & usage* page or with `clonr keys create`).

- **OpenAI-compatible**: `GET /v1/models`, `POST /v1/chat/completions`, `POST /v1/completions` — point the
  official `openai` SDK's `base_url` here; `model` is the clone's slug, `user` your id for your end user.
- **Conversations**: each end user (your own id for them) may have several conversations with a clone; the
  clone remembers the end user across all of them.
- Limits per key (`x-ratelimit-*` headers on every answer, `Retry-After` on 429) and `Idempotency-Key` on
  posted messages: a retried post with the same key returns the stored reply and is not charged twice.
- **Billing**: a clone may price API messages; past the month's free ones a message is answered 402
  `insufficient_quota` until the key's owner subscribes (`GET /v1/clones/{slug}/billing` says what is left).
"""


def create_api(app: Clonr) -> FastAPI:
    """The HTTP API of `app`, with its OpenAPI description at /docs and /openapi.json."""
    api = FastAPI(title="Clonr API", version=__version__, description=_DESCRIPTION, redoc_url=None)
    gate = Gate(app)
    install_errors(api)
    mount_openai(api, app, gate)
    mount_rest(api, app, gate)
    mount_webhooks(api, app)

    @api.get("/healthz", include_in_schema=False)
    def healthz() -> dict[str, str]:
        return {"status": "ok"}

    return api


def create_server(app: Clonr) -> ASGIApp:
    """The API and every installed surface plugin, as one ASGI app."""
    api = create_api(app)
    asgi: ASGIApp = api
    for plugin in sorted(entry_points(group=SURFACES_GROUP), key=lambda point: point.name):
        asgi = plugin.load()(api, app, asgi)
        log.info("serving surface %s", plugin.name)
    return asgi


def serve(app: Clonr, host: str = "127.0.0.1", port: int | None = None, workers: int = 1) -> None:
    """Run the server until interrupted (`clonr serve`); with `workers` > 1, that many processes on one port,
    each with its own app over the shared database (`worker_server`)."""
    import uvicorn

    port = port or app.settings.widget_port
    if workers > 1:
        uvicorn.run("clonr.api.server:worker_server", factory=True, host=host, port=port, workers=workers,
                    log_level="warning")
        return
    server = create_server(app)
    stop = app.start_background()
    freeze_startup_objects()
    try:
        uvicorn.run(server, host=host, port=port, log_level="warning")
    finally:
        stop.set()


def worker_server() -> ASGIApp:
    """One process of `clonr serve --workers N`: its own app, from the same settings, over the shared database."""
    app = Clonr()
    app.start_background()
    freeze_startup_objects()
    return create_server(app)
