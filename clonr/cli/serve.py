"""`clonr serve`: the API (with its docs at /docs) and every installed surface, the widgets included."""

from __future__ import annotations

import click

from clonr.api import serve as run_server
from clonr.cli.context import app_from
from clonr.llm import resolve_chat_model_name


@click.command()
@click.option("--host", default="127.0.0.1", show_default=True,
              help="Address to listen on; 0.0.0.0 for every interface (behind a TLS proxy).")
@click.option("--port", type=click.IntRange(1, 65535), help="Port to listen on [default: CLONR_WIDGET_PORT].")
@click.option("--workers", type=click.IntRange(1, 64), default=1, show_default=True,
              help="Server processes on this port, sharing the database (and CLONR_LIMITS_STORAGE).")
@click.pass_context
def serve(ctx: click.Context, host: str, port: int | None, workers: int) -> None:
    """Serve the published clones' widgets at /c/<slug>/ and the API at /v1 (docs at /docs)."""
    app = app_from(ctx)
    if workers > 1 and resolve_chat_model_name(app.settings) != "openai":
        click.echo(f"Each of the {workers} processes loads its own copy of the local model: point OPENAI_BASE_URL "
                   "at a model server to share one.", err=True)
    if workers > 1 and app.settings.limits_storage.startswith("memory"):
        click.echo("Limits are counted in each process: set CLONR_LIMITS_STORAGE to a Redis URL to share them.",
                   err=True)
    click.echo(f"Serving on http://{host}:{port or app.settings.widget_port}  (API docs at /docs; Ctrl-C stops)")
    run_server(app, host, port, workers)


COMMANDS = (serve,)
