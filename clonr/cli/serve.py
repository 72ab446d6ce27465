"""`clonr serve`: the API (with its docs at /docs) and every installed surface, the widgets included."""

from __future__ import annotations

import importlib.util
import os
import sys

import click

from clonr.api import serve as run_server
from clonr.cli.context import app_from
from clonr.config import load_settings
from clonr.llm import LOCAL_CHAT_MODELS, locate, resolve_chat_model_name


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


@click.command()
@click.option("--concurrency", type=click.IntRange(1, 64), default=1, show_default=True,
              help="Jobs run at once in this process (more only with a model server: a local model answers one "
                   "call at a time).")
@click.option("--until-empty", is_flag=True, help="Stop once no job is waiting, instead of waiting for more.")
@click.pass_context
def worker(ctx: click.Context, concurrency: int, until_empty: bool) -> None:
    """Run the jobs queued in Postgres (ingestion, memory work) until stopped: start as many as you like, on any
    host; a job whose worker dies goes back to the others (CLONR_WORKER_STALLED_SECONDS)."""
    from clonr.jobs.postgres import PostgresQueue

    app = app_from(ctx)
    queue = app.worker
    if not isinstance(queue, PostgresQueue):
        raise click.UsageError("Jobs are queued in Postgres only: set DATABASE_URL to a Postgres database "
                               "(CLONR_JOBS=auto or postgres). With SQLite, `clonr serve` and the studio run "
                               "jobs themselves.")
    waiting = queue.pending()
    click.echo(f"Running queued jobs ({waiting.get('todo', 0)} waiting, {waiting.get('doing', 0)} running "
               f"elsewhere); Ctrl-C stops after the job in hand.", err=True)
    stop = app.start_background(run_jobs=False)
    try:
        queue.run(concurrency, until_empty=until_empty)
    finally:
        stop.set()


@click.command()
@click.argument("clone", required=False)
@click.pass_context
def jobs(ctx: click.Context, clone: str | None) -> None:
    """What background work is under way or waiting, for CLONE or every clone: ingestion jobs and their progress,
    memories waiting for the model's work, and (with jobs in Postgres) the queue."""
    app = app_from(ctx)
    clones = [app.clones.get(clone)] if clone else app.clones.list()
    for record in clones:
        for job in app.ingest.jobs(record.id):
            if job.status != "done":
                where = f", by {job.claimed_by}" if job.status == "running" and job.claimed_by else ""
                click.echo(f"{record.slug}  ingestion {job.id[:8]}  {job.status}  {job.finished}/{job.total} "
                           f"items{where}")
        if waiting := app.memory.waiting(record.id):
            click.echo(f"{record.slug}  memory work  {waiting}")
    click.echo(f"Jobs: {app.worker.describe()}.")


@click.command("model-server")
@click.option("--model", "name", type=click.Choice(sorted(LOCAL_CHAT_MODELS)), default="qwen2.5-1.5b",
              show_default=True, help="The bundled model to serve (installed by scripts/setup).")
@click.option("--host", default="127.0.0.1", show_default=True, help="Address to listen on; 0.0.0.0 for every "
              "interface (a private network only: the server has no keys).")
@click.option("--port", type=click.IntRange(1, 65535), default=8000, show_default=True, help="Port to listen on.")
@click.option("--context", type=click.IntRange(512), help="Context window [default: CLONR_CONTEXT_TOKENS].")
def model_server(name: str, host: str, port: int, context: int | None) -> None:
    """Serve a bundled model with llama.cpp's OpenAI-compatible server (llama-cpp-python's own), for every Clonr
    process to share: set OPENAI_BASE_URL=http://HOST:PORT/v1, CLONR_CHAT_MODEL=openai, CLONR_OPENAI_MODEL=MODEL
    and OPENAI_API_KEY to any non-empty value."""
    missing = [module for module in ("llama_cpp", "sse_starlette", "starlette_context", "pydantic_settings")
               if importlib.util.find_spec(module) is None]
    if missing:
        raise click.ClickException(f"llama.cpp's server needs {', '.join(missing)}: run scripts/setup.")
    settings = load_settings()
    gguf = locate(LOCAL_CHAT_MODELS[name], settings.home / "models")
    threads = str(settings.threads or os.cpu_count() or 1)
    # interrupt_requests off: by default the server cuts a streaming reply short whenever another request waits
    command = [sys.executable, "-m", "llama_cpp.server", "--model", str(gguf), "--model_alias", name,
               "--host", host, "--port", str(port), "--n_ctx", str(context or settings.context_tokens),
               "--n_threads", threads, "--n_threads_batch", threads, "--interrupt_requests", "False",
               "--verbose", "False"]
    click.echo(f"Serving {name} at http://{host}:{port}/v1 (one reply at a time; Ctrl-C stops)", err=True)
    os.execv(sys.executable, command)


COMMANDS = (serve, worker, jobs, model_server)
