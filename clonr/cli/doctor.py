"""`clonr doctor`: which backends are active, where data lives, whether the model files are verified."""

from __future__ import annotations

import click

from clonr.cli.context import app_from


@click.command()
@click.pass_context
def doctor(ctx: click.Context) -> None:
    """Check the settings, the storage and the model files."""
    checks = app_from(ctx).doctor()
    for check in checks:
        mark = click.style("ok  ", fg="green") if check.ok else click.style("FAIL", fg="red")
        click.echo(f"{mark} {check.name:<20} {check.detail}")
    if not all(check.ok for check in checks):
        ctx.exit(1)


COMMANDS = (doctor,)
