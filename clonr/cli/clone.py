"""`clonr create`, `clonr list`, `clonr publish`."""

from __future__ import annotations

import json

import click

from clonr.cli.context import app_from
from clonr.store import Clone


def _clone_json(clone: Clone) -> dict:
    return {"id": clone.id, "slug": clone.slug, "name": clone.name, "short_description": clone.short_description,
            "published": clone.published, "created_at": clone.created_at.isoformat()}


@click.command()
@click.argument("name")
@click.option("--short", "short_description", default="", help="About 20 tokens: who this is, in a line.")
@click.option("--long", "long_description", default="", help="The fundamental traits, a few paragraphs.")
@click.option("--long-file", type=click.File("r", encoding="utf-8"), help="Read the long description from a file.")
@click.option("--greeting", default="", help="The clone's first message to a fan.")
@click.pass_context
def create(ctx: click.Context, name: str, short_description: str, long_description: str,
           long_file: click.File | None, greeting: str) -> None:
    """Create a clone called NAME."""
    if long_file is not None:
        long_description = long_file.read()  # type: ignore[attr-defined]
    clone = app_from(ctx).clones.create(name, short_description, long_description, greeting)
    click.echo(f"Created {clone.name} (slug {clone.slug}).")


@click.command(name="list")
@click.option("--json", "as_json", is_flag=True, help="Print a JSON list.")
@click.pass_context
def list_clones(ctx: click.Context, as_json: bool) -> None:
    """List your clones."""
    clones = app_from(ctx).clones.list()
    if as_json:
        click.echo(json.dumps([_clone_json(c) for c in clones], indent=2))
        return
    if not clones:
        click.echo("No clones yet: create one with `clonr create \"Your Name\"`.")
    for clone in clones:
        flag = "published" if clone.published else "draft"
        click.echo(f"{clone.slug:<24} {clone.name:<28} {flag:<9} {clone.short_description[:60]}")


@click.command()
@click.argument("clone")
@click.option("--unpublish", is_flag=True, help="Take the clone's widget offline.")
@click.pass_context
def publish(ctx: click.Context, clone: str, unpublish: bool) -> None:
    """Publish CLONE as a widget (or take it offline) and print its embed snippet."""
    app = app_from(ctx)
    record = app.clones.publish(clone, published=not unpublish)
    if unpublish:
        click.echo(f"{record.name} is offline.")
        return
    click.echo(f"{record.name} is live at {app.clones.widget_url(record)}")
    click.echo("Embed it in any web page with:")
    click.echo(app.clones.embed_snippet(record))


COMMANDS = (create, list_clones, publish)
