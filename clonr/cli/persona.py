"""`clonr interview`, `clonr dialogues`, `clonr describe`, `clonr export`, `clonr import`, `clonr fidelity`."""

from __future__ import annotations

import json
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import click

from clonr.app import Clonr
from clonr.cli.context import app_from
from clonr.errors import InvalidInputError
from clonr.persona import InterviewStep, parse_as_of


def _ask(step: InterviewStep) -> None:
    label = "follow-up" if step.is_follow_up else step.category.replace("_", " ")
    click.secho(f"[{label} · {step.answered} answered]", dim=True, err=True)
    click.secho(step.text, fg="cyan")


def _progress(label: str) -> tuple[Any, Callable[[int, int], None]]:
    bar = click.progressbar(length=1, label=label, file=click.get_text_stream("stderr"), show_pos=True)

    def update(done: int, total: int) -> None:
        bar.length = total
        bar.update(done - bar.pos)
    return bar, update


def _full_id(app: Clonr, clone: str, prefix: str) -> str:
    matches = [d.id for d in app.dialogues.list(clone) if d.id.startswith(prefix.strip().lower())]
    if len(matches) != 1:
        raise InvalidInputError(f"{'No' if not matches else 'More than one'} dialogue has an id starting "
                                f"{prefix!r}: run `clonr dialogues {clone}` to see them.")
    return matches[0]


@click.command()
@click.argument("clone")
@click.pass_context
def interview(ctx: click.Context, clone: str) -> None:
    """The icebreaker interview: answer questions as yourself; each answer becomes an example dialogue.

    Type /skip to skip a question and /stop (or Ctrl-D) to stop; the next run carries on where you
    stopped. Without a terminal, each stdin line is one answer.
    """
    app = app_from(ctx)
    step = app.interview.current(clone)
    interactive = sys.stdin.isatty()
    if interactive:
        click.echo("Answer as yourself, in your own words. /skip skips a question, /stop stops.", err=True)
    while step is not None:
        _ask(step)
        line = click.prompt("", prompt_suffix="> ", default="", show_default=False) if interactive \
            else sys.stdin.readline()
        if not line:
            break  # end of input
        answer = line.strip()
        if answer == "/stop":
            break
        step = app.interview.skip(clone) if answer in ("/skip", "") else app.interview.answer(clone, answer)
    if step is None:
        click.echo("That was every question: thank you! Edit your answers with `clonr dialogues`.")
    else:
        click.echo(f"Stopped with {step.answered} questions answered; `clonr interview {clone}` carries on.",
                   err=True)


@click.command()
@click.argument("clone")
@click.option("--json", "as_json", is_flag=True, help="Print a JSON list.")
@click.option("--category", help="Only this category (e.g. humour, work, chat, correction).")
@click.option("--edit", metavar="ID", help="Change one dialogue (with --answer, --said or --set-category).")
@click.option("--answer", help="With --edit: the new answer.")
@click.option("--said", help="With --edit: the new question or message.")
@click.option("--set-category", help="With --edit: the new category.")
@click.option("--delete", metavar="ID", help="Delete one dialogue.")
@click.option("--add", nargs=2, metavar="SAID ANSWER", help="Add a dialogue by hand.")
@click.pass_context
def dialogues(ctx: click.Context, clone: str, as_json: bool, category: str | None, edit: str | None,
              answer: str | None, said: str | None, set_category: str | None, delete: str | None,
              add: tuple[str, str] | None) -> None:
    """List, add, edit or delete CLONE's example dialogues (how you answer, in your own words)."""
    app: Clonr = app_from(ctx)
    if add:
        made = app.dialogues.add(clone, add[0], add[1], category=category or "general")
        click.echo(f"Added {made.id[:8]}.")
        return
    if edit:
        found = app.dialogues.update(clone, _full_id(app, clone, edit), user_text=said, char_text=answer,
                                     category=set_category)
        click.echo(f"Updated {found.id[:8]}.")
        return
    if delete:
        app.dialogues.delete(clone, _full_id(app, clone, delete))
        click.echo("Deleted.")
        return
    listed = app.dialogues.list(clone, category)
    if as_json:
        click.echo(json.dumps([{"id": d.id, "category": d.category, "origin": d.origin, "said": d.user_text,
                                "answer": d.char_text} for d in listed], indent=2))
        return
    if not listed:
        click.echo(f"No example dialogues yet: run `clonr interview {clone}`.")
    for d in listed:
        click.echo(f"{d.id[:8]}  [{d.category}/{d.origin}] {d.user_text[:60]}")
        click.echo(f"          → {d.char_text[:100]}")


@click.command()
@click.argument("clone")
@click.option("--yes", is_flag=True, help="Accept every proposal without asking.")
@click.option("--force", is_flag=True, help="Accept even where you edited the text since it was proposed.")
@click.option("--pending", "show_pending", is_flag=True, help="Review the proposals already made, no new draft.")
@click.pass_context
def describe(ctx: click.Context, clone: str, yes: bool, force: bool, show_pending: bool) -> None:
    """Draft CLONE's long description, short description and greeting from everything known, then review.

    Each proposal is shown as a diff with the sources its claims rest on; accept, edit or reject it.
    """
    app: Clonr = app_from(ctx)
    if not show_pending:
        estimate = app.descriptions.estimate(clone)
        click.echo(f"The model will read {estimate.excerpts} excerpts, about {estimate.tokens:,} tokens, in "
                   f"{estimate.steps} steps.", err=True)
        bar, update = _progress("Drafting")
        with bar:
            app.descriptions.propose(clone, on_progress=update)
    for proposal in app.descriptions.pending(clone):
        click.secho(f"\n{proposal.field.replace('_', ' ')} ({proposal.id[:8]})", bold=True)
        click.echo(app.descriptions.diff(clone, proposal.id) or proposal.text)
        for claim in proposal.evidence:
            click.secho(f"  · {claim['claim']} — from {'; '.join(claim['sources'])}", dim=True)
        choice = "a" if yes else click.prompt("Accept, edit or reject?", type=click.Choice(["a", "e", "r"]),
                                              default="r")
        if choice == "r":
            app.descriptions.reject(clone, proposal.id)
            click.echo("Rejected.")
            continue
        text = click.edit(proposal.text) if choice == "e" else None
        app.descriptions.accept(clone, proposal.id, text=text, force=force)
        click.echo("Accepted.")


@click.command(name="export")
@click.argument("clone")
@click.option("--format", "spec", type=click.Choice(["ccv3", "ccv2"]), default="ccv3", show_default=True,
              help="Character Card V3 or V2.")
@click.option("-o", "--output", type=click.Path(dir_okay=False, path_type=Path), required=True,
              help="The file: .json, .png (card inside the image) or .charx (V3 only).")
@click.pass_context
def export_card(ctx: click.Context, clone: str, spec: str, output: Path) -> None:
    """Export CLONE as a character card."""
    data = app_from(ctx).cards.export(clone, spec, output.name)
    output.write_bytes(data)
    click.echo(f"Wrote {output} ({len(data):,} bytes).")


@click.command(name="import")
@click.argument("card", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--name", help="Name for the new clone (default: the card's).")
@click.pass_context
def import_card(ctx: click.Context, card: Path, name: str | None) -> None:
    """Create a clone from a character card (V2/V3 .json, .png or .charx), dialogues and lorebook included."""
    app = app_from(ctx)
    if card.stat().st_size > app.settings.max_file_bytes:
        raise InvalidInputError(f"{card.name} is {card.stat().st_size:,} bytes; the limit is "
                                f"{app.settings.max_file_bytes:,} (CLONR_MAX_FILE_BYTES).")
    made = app.cards.import_card(card.name, card.read_bytes(), name=name)
    click.echo(f"Imported {made.name} (slug {made.slug}) with {len(app.dialogues.list(made.id))} example "
               f"dialogues and {len(app.ingest.list_sources(made.id))} lorebook source(s).")


@click.command()
@click.argument("clone")
@click.option("--questions", type=click.IntRange(1, 50), default=8, show_default=True,
              help="How many answered interview questions to hold out and ask.")
@click.option("--json", "as_json", is_flag=True, help="Print the report as JSON.")
@click.pass_context
def fidelity(ctx: click.Context, clone: str, questions: int, as_json: bool) -> None:
    """Test CLONE: ask it questions you answered and score how close it comes, beside a generic assistant."""
    app: Clonr = app_from(ctx)
    bar, update = _progress("Asking")
    with bar:
        report = app.fidelity.run(clone, questions, on_progress=update)
    if as_json:
        click.echo(json.dumps({"clone": report.clone_score, "baseline": report.baseline_score, "items": [
            item.__dict__ for item in report.items]}, indent=2))
        return
    click.echo(f"Similarity to your own answers: clone {report.clone_score:.2f}, generic assistant "
               f"{report.baseline_score:.2f} ({len(report.items)} questions).")
    for item in report.worst(3):
        click.secho(f"\n{item.question}  (clone {item.clone_score:.2f})", bold=True)
        click.echo(f"  you:   {item.creator_answer[:160]}")
        click.echo(f"  clone: {item.clone_answer[:160]}")


@click.command(name="as-of")
@click.argument("clone")
@click.argument("when")
@click.option("--name", default="", help='The variant\'s name (default: "<clone>, <year>").')
@click.option("--no-describe", is_flag=True, help="Leave its descriptions empty (no drafting with the model).")
@click.option("--dry-run", is_flag=True, help="Only say what it would know and what it would leave out.")
@click.pass_context
def as_of(ctx: click.Context, clone: str, when: str, name: str, no_describe: bool, dry_run: bool) -> None:
    """Make CLONE as of WHEN (a year such as 2015, a month 2015-06 or a day): a new clone that knows only its
    sources, example dialogues and events dated up to then, published on its own ("Ada, 2015")."""
    app = app_from(ctx)
    day = parse_as_of(when)
    found = app.variants.slice(clone, day)
    click.echo(f"As of {day}: {len(found.sources)} source(s), {found.dialogues} example dialogue(s), {found.events} "
               f"event(s). Left out as later: {found.later_sources} source(s), {found.later_dialogues} "
               f"dialogue(s), {found.later_events} event(s).")
    for source in found.undated_sources:
        click.echo(f"  left out, undated: {source.id[:8]}  {source.title[:60]}  (date it: clonr sources {clone} "
                   f"--date {source.id[:8]} YEAR)")
    if dry_run:
        return
    bar, update = _progress("Drafting its description")
    with bar:
        variant, _ = app.variants.create(clone, day, name, describe=not no_describe, on_progress=update)
    click.echo(f"Made {variant.name} ({variant.slug}). Try it: clonr chat {variant.slug}; publish it: "
               f"clonr publish {variant.slug}")


COMMANDS = (interview, dialogues, describe, export_card, import_card, fidelity, as_of)
