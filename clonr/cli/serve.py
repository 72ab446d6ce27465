"""`clonr serve`: the API (with its docs at /docs) and every installed surface, the widgets included."""

from __future__ import annotations

import click

from clonr.api import serve as run_server
from clonr.cli.context import app_from


@click.command()
@click.option("--host", default="127.0.0.1", show_default=True,
              help="Address to listen on; 0.0.0.0 for every interface (behind a TLS proxy).")
@click.option("--port", type=click.IntRange(1, 65535), help="Port to listen on [default: CLONR_WIDGET_PORT].")
@click.pass_context
def serve(ctx: click.Context, host: str, port: int | None) -> None:
    """Serve the published clones' widgets at /c/<slug>/ and the API at /v1 (docs at /docs)."""
    app = app_from(ctx)
    click.echo(f"Serving on http://{host}:{port or app.settings.widget_port}  (API docs at /docs; Ctrl-C stops)")
    run_server(app, host, port)


COMMANDS = (serve,)
