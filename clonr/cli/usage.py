"""`clonr usage`: what your clones answered, from the usage ledger."""

from __future__ import annotations

import dataclasses
import json

import click

from clonr.billing import GROUPINGS
from clonr.cli.context import app_from


@click.command()
@click.option("--by", type=click.Choice(GROUPINGS), default="day", show_default=True, help="How to group it.")
@click.option("--json", "as_json", is_flag=True, help="Print a JSON list.")
@click.pass_context
def usage(ctx: click.Context, by: str, as_json: bool) -> None:
    """Replies, fans, tokens and first-token latency of your clones, from the usage ledger."""
    lines = app_from(ctx).usage.summary(by)
    if as_json:
        click.echo(json.dumps([dataclasses.asdict(line) for line in lines], indent=2))
        return
    if not lines:
        click.echo("No replies yet.")
        return
    click.echo(f"{by:<34} {'replies':>7} {'failed':>6} {'fans':>5} {'tokens in':>10} {'tokens out':>10} "
               f"{'first p50':>9} {'p95':>7} {'spoken s':>8}")
    for line in lines:
        p50 = f"{line.first_token_p50_ms:.0f} ms" if line.first_token_p50_ms is not None else "-"
        p95 = f"{line.first_token_p95_ms:.0f} ms" if line.first_token_p95_ms is not None else "-"
        click.echo(f"{line.group[:34]:<34} {line.replies:>7} {line.failed:>6} {line.fans:>5} {line.prompt_tokens:>10} "
                   f"{line.completion_tokens:>10} {p50:>9} {p95:>7} {line.speech_seconds:>8.1f}")


COMMANDS = (usage,)
