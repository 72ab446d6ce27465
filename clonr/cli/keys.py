"""`clonr keys`: API keys for the OpenAI-compatible API, for the local creator."""

from __future__ import annotations

import json
from datetime import timedelta

import click

from clonr.access import LOCAL_CREATOR
from clonr.cli.context import app_from


@click.group()
def keys() -> None:
    """API keys: let programs talk with your published clones (OpenAI-compatible, at /v1)."""


@keys.command()
@click.argument("name")
@click.option("--clone", "clones", multiple=True, help="Limit the key to this clone (repeat for more).")
@click.option("--expires-days", type=click.IntRange(1, 3650), help="Stop working after this many days.")
@click.pass_context
def create(ctx: click.Context, name: str, clones: tuple[str, ...], expires_days: int | None) -> None:
    """Create a key called NAME and print its secret (shown this once only)."""
    app = app_from(ctx)
    clone_ids = [app.clones.get(ref).id for ref in clones] or None  # only your own clones
    made = app.keys.create(LOCAL_CREATOR, name, clone_ids, timedelta(days=expires_days) if expires_days else None)
    click.echo(made.secret)
    click.echo(f"Key {made.record.prefix} ({made.record.name}) created. Keep the secret now: it is not stored and "
               "cannot be shown again.", err=True)


@keys.command(name="list")
@click.option("--json", "as_json", is_flag=True, help="Print a JSON list.")
@click.pass_context
def list_keys(ctx: click.Context, as_json: bool) -> None:
    """List your keys (their prefixes, never their secrets)."""
    found = app_from(ctx).keys.list(LOCAL_CREATOR)
    rows = [{"prefix": k.prefix, "name": k.name, "clones": list(k.clone_ids) if k.clone_ids else "all",
             "created_at": k.created_at.isoformat(), "expires_at": k.expires_at and k.expires_at.isoformat(),
             "last_used_at": k.last_used_at and k.last_used_at.isoformat(), "revoked": k.revoked_at is not None}
            for k in found]
    if as_json:
        click.echo(json.dumps(rows, indent=2))
        return
    if not rows:
        click.echo("No keys yet: create one with `clonr keys create NAME`.")
    for row in rows:
        state = "revoked" if row["revoked"] else f"last used {row['last_used_at'] or 'never'}"
        click.echo(f"{row['prefix']}  {row['name']:<24} {state}")


@keys.command()
@click.argument("prefix")
@click.pass_context
def revoke(ctx: click.Context, prefix: str) -> None:
    """Revoke the key with PREFIX (as `clonr keys list` shows it); it stops working at once."""
    record = app_from(ctx).keys.revoke(LOCAL_CREATOR, prefix)
    click.echo(f"Revoked {record.prefix} ({record.name}).")


COMMANDS = (keys,)
