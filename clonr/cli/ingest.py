"""`clonr ingest`: add notes about the person to a clone."""

from __future__ import annotations

from pathlib import Path

import click


def register(cli: click.Group) -> None:
    from clonr.cli import app_from

    @cli.command()
    @click.argument("clone")
    @click.argument("files", nargs=-1, required=True, type=click.Path(path_type=Path))
    @click.pass_context
    def ingest(ctx: click.Context, clone: str, files: tuple[Path, ...]) -> None:
        """Add FILES (.txt, .md) about the person to CLONE. Adding a file twice is harmless."""
        app = app_from(ctx)
        clone = app.clones.get(clone).id  # an unknown clone fails before the progress bar starts
        with click.progressbar(length=len(files), label="Ingesting", file=click.get_text_stream("stderr"),
                               show_pos=True) as bar:
            results, failures = app.ingest.add_files(clone, list(files), on_progress=lambda *_: bar.update(1))
        for result in results:
            verb = "added" if result.created else "already there"
            click.echo(f"{result.source.title}: {verb} ({result.source.chunk_count} chunks)")
        for failure in failures:
            click.secho(f"Error: {failure.error}", fg="red", err=True)
        if failures:
            ctx.exit(1)
