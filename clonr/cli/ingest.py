"""`clonr ingest`, `clonr sources`, `clonr discover`: pour a person's data into a clone, and look after it."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import click

from clonr.app import Clonr
from clonr.cli.context import app_from
from clonr.errors import InvalidInputError, one_line
from clonr.ingest import Candidate
from clonr.store import IngestJob, Source

_ITEM_HELP = """ITEMS are web page URLs, files (.txt .md .html .pdf .docx .json .csv), YouTube links or youtube:ID,
and Wikipedia articles as wiki:Title or their URL. Items run one by one as a job: a bad item is reported and
the others still go in; Ctrl-C stops it, and `--resume` carries on without duplicates."""


def _crawl_options(follow: int, max_pages: int, sitemap: bool) -> dict[str, Any]:
    return {"depth": follow, "max_pages": max_pages, "sitemap": sitemap} if follow or sitemap else {}


def _run_with_progress(ctx: click.Context, app: Clonr, job: IngestJob, clone: str) -> None:
    """Run a job under a progress bar (its length grows as a crawl finds pages), then report each item.

    Without a terminal (a log, a pipe) each step is one line instead, `[done/total] item`.
    """
    stderr = click.get_text_stream("stderr")
    try:
        if stderr.isatty():
            with click.progressbar(length=job.total, label="Ingesting", file=stderr, show_pos=True,
                                   item_show_func=lambda item: one_line(item or "")[-50:]) as bar:
                def progress(current: IngestJob) -> None:
                    bar.length = current.total
                    bar.update(current.finished - bar.pos, current.current)

                job = app.ingest.run_job(job.id, on_progress=progress)
        else:
            job = app.ingest.run_job(job.id, on_progress=lambda current: click.echo(
                f"Ingesting [{current.finished}/{current.total}] {one_line(current.current or 'done')}", err=True))
    except KeyboardInterrupt:
        click.secho(f"\nInterrupted: run `clonr ingest {clone} --resume` to carry on.", fg="yellow", err=True)
        ctx.exit(130)
    for item in job.items:
        if item.status == "done":
            click.echo(f"{one_line(item.detail)}: added ({item.chunk_count} chunks)")
        elif item.status == "skipped":
            click.echo(f"{one_line(item.detail)}: already there")
    for item in job.failures:
        click.secho(f"Error: {one_line(item.detail)}", fg="red", err=True)
    candidates = len(app.ingest.dialogue_candidates(clone))
    if candidates:
        click.echo(f"{candidates} dialogue candidates from chat exports (your own answers) are ready for the persona.")
    if job.failures:
        ctx.exit(1)


def _absolute(item: str) -> str:
    """File items become absolute paths, so that `--resume` from another folder finds them."""
    try:
        return str(Path(item).resolve()) if Path(item).exists() else item
    except (OSError, ValueError):  # not a name a file system takes: the job refuses it in one line
        return item


def _source_json(source: Source) -> dict[str, Any]:
    return {"id": source.id, "kind": source.kind, "title": source.title, "location": source.location,
            "url": source.location if (source.location or "").startswith(("http://", "https://")) else None,
            "path": None if (source.location or "").startswith(("http://", "https://")) else source.location,
            "author": source.author, "published": source.published, "chunks": source.chunk_count,
            "created_at": source.created_at.isoformat()}


def _find_source(app: Clonr, clone: str, prefix: str) -> Source:
    """A source by its id or an unambiguous prefix of it (ids are long; the table shows 8 characters)."""
    matches = [s for s in app.ingest.list_sources(clone) if s.id.startswith(prefix.strip().lower())]
    if len(matches) != 1:
        raise InvalidInputError(f"{'No' if not matches else 'More than one'} source of this clone has an id "
                                f"starting {prefix!r}: run `clonr sources {clone}` to see the ids.")
    return matches[0]


def _parse_choice(answer: str, count: int) -> list[int]:
    """'1,3-4', 'all' or 'none' → zero-based indexes."""
    answer = answer.strip().lower()
    if answer in ("", "none", "n"):
        return []
    if answer in ("all", "a"):
        return list(range(count))
    chosen: list[int] = []
    for part in re.split(r"[,\s]+", answer):
        bounds = part.split("-", 1)
        if not all(b.isdigit() for b in bounds):
            raise InvalidInputError(f"{part!r} is not a number or a range: answer like 1,3-4, all or none.")
        low, high = int(bounds[0]), int(bounds[-1])
        if not 1 <= low <= high <= count:
            raise InvalidInputError(f"{part!r} is outside 1–{count}: answer like 1,3-4, all or none.")
        chosen += [n - 1 for n in range(low, high + 1) if n - 1 not in chosen]
    return chosen


def _show_candidates(candidates: list[Candidate]) -> None:
    for n, candidate in enumerate(candidates, start=1):
        click.echo(f"{n:>2}. [{candidate.likelihood:.0%}] {candidate.title[:70]}")
        click.echo(f"    {candidate.url}")
        if candidate.snippet:
            click.echo(f"    {candidate.snippet[:110]}")
        if candidate.reasons:
            click.secho(f"    why: {'; '.join(candidate.reasons)}", dim=True)


_CRAWL = (click.option("--follow", type=click.IntRange(0, 5), default=0, show_default=True,
                       help="Also ingest pages linked from each page, on the same site, this many links deep."),
          click.option("--max-pages", type=click.IntRange(1, 500), default=20, show_default=True,
                       help="Most pages one crawl adds (with --follow or --sitemap)."),
          click.option("--sitemap", is_flag=True, help="Also ingest the pages listed in the site's sitemap.xml."))


def _with_crawl(command: Any) -> Any:
    """Add the crawl options (--follow, --max-pages, --sitemap) to a command."""
    for option in reversed(_CRAWL):
        command = option(command)
    return command


@click.command(help=f"Add sources about the person to CLONE.\n\n{_ITEM_HELP}")
@click.argument("clone")
@click.argument("items", nargs=-1)
@click.option("--chat", "chats", multiple=True, metavar="EXPORT",
              help="A chat export: WhatsApp .txt/.zip, Telegram or Discord .json, or .csv (timestamp,sender,text).")
@click.option("--me", help="Your name as it appears in the chat export (with --chat).")
@click.option("--lang", help="YouTube transcript languages in order of preference, e.g. en,de.")
@_with_crawl
@click.option("--resume", "resume", is_flag=True, help="Carry on with this clone's unfinished jobs.")
@click.pass_context
def ingest(ctx: click.Context, clone: str, items: tuple[str, ...], chats: tuple[str, ...], me: str | None,
           lang: str | None, follow: int, max_pages: int, sitemap: bool, resume: bool) -> None:
    app = app_from(ctx)
    clone = app.clones.get(clone).id  # an unknown clone fails before anything starts
    if resume:
        unfinished = app.ingest.resumable_jobs(clone)
        if not unfinished:
            click.echo("Nothing to resume: every ingestion job of this clone has finished.")
        for job in unfinished:
            _run_with_progress(ctx, app, job, clone)
        if not items and not chats:
            return
    if chats and not me:
        raise click.UsageError("--chat needs --me with your name as it appears in the export.")
    if not items and not chats:
        raise click.UsageError("Give at least one item (URL, file, youtube link, wiki:Title) or --chat EXPORT.")
    options: dict[str, Any] = _crawl_options(follow, max_pages, sitemap)
    if lang:
        options["languages"] = [code.strip() for code in lang.split(",") if code.strip()]
    job_items = [(_absolute(item), options) for item in items] + [(_absolute(c), {"chat_me": me}) for c in chats]
    _run_with_progress(ctx, app, app.ingest.start_job(clone, job_items), clone)


@click.command()
@click.argument("clone")
@click.option("--json", "as_json", is_flag=True, help="Print a JSON list.")
@click.option("--show", metavar="ID", help="Print one source's details and its chunks.")
@click.option("--delete", metavar="ID", help="Delete a source with its chunks and vectors.")
@click.option("--jobs", "show_jobs", is_flag=True, help="List ingestion jobs and how far each got.")
@click.option("--date", "dating", nargs=2, metavar="ID WHEN",
              help="Say when a source's content is from: a year (2015), a month (2015-06) or a day, or `none`. A "
                   "clone as of a date (`clonr as-of`) reads only sources dated up to then.")
@click.pass_context
def sources(ctx: click.Context, clone: str, as_json: bool, show: str | None, delete: str | None,
            show_jobs: bool, dating: tuple[str, str] | None) -> None:
    """List, inspect, date or delete CLONE's sources (ids may be shortened to their first characters)."""
    app = app_from(ctx)
    if dating:
        source_id, when = dating
        source = app.ingest.date_source(clone, _find_source(app, clone, source_id).id,
                                        None if when.lower() == "none" else when)
        click.echo(f"{source.title}: " + (f"dated {source.published}." if source.published else "undated."))
        return
    if delete:
        source = app.ingest.delete_source(clone, _find_source(app, clone, delete).id)
        click.echo(f"Deleted {source.title} ({source.chunk_count} chunks).")
        return
    if show:
        source = _find_source(app, clone, show)
        click.echo(json.dumps(_source_json(source), indent=2))
        for n, chunk in enumerate(app.ingest.source_chunks(clone, source.id)):
            click.secho(f"--- chunk {n}", dim=True)
            click.echo(chunk)
        return
    if show_jobs:
        for job in app.ingest.jobs(clone):
            click.echo(f"{job.id[:8]}  {job.status:<11} {job.finished}/{job.total} items  "
                       f"{len(job.failures)} failed  {job.updated_at:%Y-%m-%d %H:%M}")
        return
    listed = app.ingest.list_sources(clone)
    if as_json:
        click.echo(json.dumps([_source_json(s) for s in listed], indent=2))
        return
    if not listed:
        click.echo(f"No sources yet: add some with `clonr ingest {clone} <url|file|wiki:Title>`.")
    for s in listed:
        click.echo(f"{s.id[:8]}  {s.kind:<9} {s.chunk_count:>5} chunks  {(s.published or 'undated')[:10]:<10}  "
                   f"{s.title[:44]:<44}  {(s.location or '')[-40:]}")


@click.command()
@click.argument("clone")
@click.argument("name")
@click.option("--hint", "hints", multiple=True, help="A city, handle or profession that narrows the search.")
@click.option("--max", "max_results", type=click.IntRange(1, 50), default=10, show_default=True,
              help="How many results to show (with --yes: how many to add).")
@click.option("--yes", is_flag=True, help="Add the top results without asking.")
@_with_crawl
@click.pass_context
def discover(ctx: click.Context, clone: str, name: str, hints: tuple[str, ...], max_results: int, yes: bool,
             follow: int, max_pages: int, sitemap: bool) -> None:
    """Search the web for NAME, approve the pages about them, and add those to CLONE."""
    app = app_from(ctx)
    clone = app.clones.get(clone).id
    candidates = app.ingest.discover(name, list(hints), max_results)
    if not candidates:
        click.echo("The search found nothing: try another spelling, or add --hint with a city or handle.")
        return
    _show_candidates(candidates)
    chosen = list(range(len(candidates))) if yes else _parse_choice(
        click.prompt("Add which pages? (e.g. 1,3-4, all, none)", default="none"), len(candidates))
    if not chosen:
        click.echo("Nothing added.")
        return
    options = _crawl_options(follow, max_pages, sitemap)
    job = app.ingest.start_job(clone, [(candidates[n].url, options) for n in chosen])
    _run_with_progress(ctx, app, job, clone)


COMMANDS = (ingest, sources, discover)
