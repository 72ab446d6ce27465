"""`clonr memory` (inspect and edit what a clone remembers of a fan), `clonr event` and `clonr reindex`."""

from __future__ import annotations

import contextlib
import json
import threading
from pathlib import Path

import click

from clonr.app import Clonr
from clonr.cli.context import app_from
from clonr.llm import count_tokens
from clonr.memory import MemoryLinks, read_transcript
from clonr.store import Memory


def _memories_json(app: Clonr, clone_id: str, memories: list[Memory]) -> list[dict]:
    """Each memory with its links: `in_reply_to` (the line it answers), `evidence`, `superseded_by` (ids), and how
    often it was said (`repeats`, since `first_said_at`; older sayings point at it with `repeated_by`)."""
    links = app.memory.links(clone_id, memories)
    return [{"id": m.id, "text": m.text, "kind": m.kind, "importance": m.importance, "pinned": m.pinned,
             "happened_at": m.happened_at.isoformat(), "source": m.source,
             "in_reply_to": getattr(links[m.id].in_reply_to, "id", None), "superseded_by": m.superseded_by,
             "replaced_by": getattr(links[m.id].replaced_by, "text", None), "repeats": m.repeats,
             "first_said_at": m.first_said_at.isoformat() if m.first_said_at else None,
             "repeated_by": m.repeated_by, "evidence": list(m.evidence)} for m in memories]


def _show(memory: Memory, links: MemoryLinks | None = None) -> str:
    """id, pin (*), importance, date, kind, text, how often it was said; a superseded memory is struck through
    with ~ and followed by what replaced it."""
    pin = "*" if memory.pinned else " "
    importance = memory.importance if memory.importance is not None else "?"
    text = memory.text
    if memory.repeats > 1:
        text += f"  (x{memory.repeats} since {(memory.first_said_at or memory.happened_at):%Y-%m-%d})"
    if memory.superseded_by:
        newer = links.replaced_by if links else None
        text = f"~{text}~ (replaced by {newer.id}: {newer.text[:80]})" if newer else f"~{text}~ (replaced)"
    return f"{memory.id}  {pin} {importance:>2}  {memory.happened_at:%Y-%m-%d}  {memory.kind:<11}  {text}"


class _MemoryGroup(click.Group):
    """Accepts `memory CLONE --fan ID COMMAND`: the --fan before the command is the group's, not the command's."""

    def parse_args(self, ctx: click.Context, args: list[str]) -> list[str]:
        for n, arg in enumerate(args):
            if arg in self.commands:
                break
            if arg == "--fan" and n + 1 < len(args):
                args = [arg, args[n + 1], *args[:n], *args[n + 2:]]
                break
            if arg.startswith("--fan="):
                args = [arg, *args[:n], *args[n + 1:]]
                break
        return super().parse_args(ctx, args)


@click.group(cls=_MemoryGroup)
@click.argument("clone")
@click.option("--fan", required=True, help="Whose memories: the fan id used in chat.")
@click.pass_context
def memory(ctx: click.Context, clone: str, fan: str) -> None:
    """Inspect and edit what CLONE remembers of one fan."""
    app = app_from(ctx)
    ctx.meta["memory"] = (app, app.clones.get(clone), app.chat.validate_fan(fan))


def _target(ctx: click.Context) -> tuple[Clonr, str, str]:
    """The app, clone id and fan the `memory` group resolved for its command."""
    app, clone, fan = ctx.meta["memory"]
    return app, clone.id, fan


@memory.command(name="list")
@click.option("--limit", default=50, show_default=True, type=click.IntRange(1))
@click.option("--every-saying", is_flag=True, help="List each time a repeated line was said, not once with a count.")
@click.option("--json", "as_json", is_flag=True, help="Print a JSON list.")
@click.pass_context
def list_memories(ctx: click.Context, limit: int, every_saying: bool, as_json: bool) -> None:
    """List the fan's memories, newest first (id, pin, importance, date, text): a line said again and again
    once, with how often and since when; one a newer fact replaced, struck through, with what replaced it."""
    app, clone_id, fan = _target(ctx)
    memories = app.memory.list(clone_id, fan, limit=limit, every_saying=every_saying)
    if as_json:
        click.echo(json.dumps(_memories_json(app, clone_id, memories), indent=2))
        return
    links = app.memory.links(clone_id, [m for m in memories if m.superseded_by])
    for memory in memories:
        click.echo(_show(memory, links.get(memory.id)))


@memory.command()
@click.argument("query")
@click.option("--budget", type=click.IntRange(1), help="Tokens the memories may fill, to look further down "
              "the ranking [default: what a reply is given]")
@click.option("--json", "as_json", is_flag=True, help="Print a JSON list, best first.")
@click.pass_context
def search(ctx: click.Context, query: str, budget: int | None, as_json: bool) -> None:
    """Recall the memories a reply to QUERY would be given now, best first, with why each was chosen
    (memories the conversation already holds are not given again)."""
    app, clone_id, fan = _target(ctx)
    if budget is None:
        recalled = app.chat.preview(clone_id, fan, query).recalled
    else:
        model = app.chat_model
        recalled = app.memory.recall(clone_id, fan, query, budget, lambda text: count_tokens(model, text),
                                     touch=False)
    if as_json:
        found = _memories_json(app, clone_id, [r.memory for r in recalled])
        click.echo(json.dumps([{**memory, "score": round(r.score, 4), "tokens": r.tokens,
                                "reasons": {k: round(v, 4) for k, v in r.reasons.items()}}
                               for memory, r in zip(found, recalled, strict=True)], indent=2))
        return
    for r in recalled:
        why = ", ".join(f"{k} {v:.2f}" for k, v in r.reasons.items())
        click.echo(f"{r.score:.3f}  {r.line}  ({why})")


@memory.command()
@click.argument("memory_id")
@click.option("--unpin", is_flag=True, help="Let the memory compete like any other again.")
@click.pass_context
def pin(ctx: click.Context, memory_id: str, unpin: bool) -> None:
    """Pin a memory: it is always in the prompt and never summarised away."""
    app, clone_id, fan = _target(ctx)
    click.echo(_show(app.memory.pin(clone_id, fan, memory_id, pinned=not unpin)))


@memory.command()
@click.argument("memory_id")
@click.pass_context
def restore(ctx: click.Context, memory_id: str) -> None:
    """Undo a knowledge update: the replaced memory is true again and recalled again."""
    app, clone_id, fan = _target(ctx)
    click.echo(_show(app.memory.restore(clone_id, fan, memory_id)))


@memory.command()
@click.argument("memory_id")
@click.argument("text")
@click.pass_context
def edit(ctx: click.Context, memory_id: str, text: str) -> None:
    """Replace a memory's text."""
    app, clone_id, fan = _target(ctx)
    click.echo(_show(app.memory.edit(clone_id, fan, memory_id, text)))


@memory.command()
@click.argument("memory_id", required=False)
@click.option("--everything", is_flag=True, help="Forget the fan entirely: memories and conversation.")
@click.pass_context
def delete(ctx: click.Context, memory_id: str | None, everything: bool) -> None:
    """Delete one memory, or with --everything all that is known of the fan."""
    app, clone_id, fan = _target(ctx)
    if everything:
        click.echo(f"Forgot {app.memory.forget_fan(clone_id, fan)} memories and the conversation.")
    elif memory_id:
        app.memory.delete(clone_id, fan, memory_id)
        click.echo(f"Deleted {memory_id}.")
    else:
        raise click.UsageError("Give a MEMORY_ID, or --everything.")


@memory.command()
@click.pass_context
def summary(ctx: click.Context) -> None:
    """Show the summaries a reply starts from: the clone's current state and what it knows of the fan."""
    app, clone_id, fan = _target(ctx)
    state, about_fan = app.memory.summaries(clone_id, fan)
    click.echo(f"Current state: {state or '(none yet: post events with `clonr event`)'}")
    click.echo(f"About this fan: {about_fan or '(none yet: written once enough is remembered)'}")
    for name, about in app.memory.entities(clone_id, fan).items():
        click.echo(f"  {name}: {about}")


@memory.command(name="import")
@click.argument("transcript", type=click.Path(path_type=Path))
@click.option("--wait", is_flag=True, help="Stay until the background work on the imported lines (importance, "
              "reflections, summaries, knowledge updates) is done, with its progress.")
@click.pass_context
def import_transcript(ctx: click.Context, transcript: Path, wait: bool) -> None:
    """Import a past conversation: a JSON list of {"speaker": "fan"|"clone", "text", "time": ISO-8601}. It returns
    once the lines are stored and searchable; the model's work on them follows in the background."""
    app, clone_id, fan = _target(ctx)
    lines = read_transcript(transcript, app.settings.max_file_bytes)
    with contextlib.ExitStack() as stack:
        if not wait:  # the model's work is left to a server: none starts in this process
            stack.enter_context(app.worker.held())
        with click.progressbar(length=len(lines), label="Remembering",
                               file=click.get_text_stream("stderr")) as bar:
            done = app.memory.import_transcript(app.clones.get(clone_id), fan, lines,
                                                on_progress=lambda n, _total: bar.update(n - bar.pos))
    if wait:
        _wait_for_memory_work(app, clone_id)
        click.echo(f"Imported {done} lines.")
        return
    where = ("the workers do it" if app.worker.durable else
             "`clonr serve` or the studio does it when it next starts")
    click.echo(f"Imported {done} lines. Their importance, reflections, summaries and knowledge updates follow in "
               f"the background ({where}; --wait waits for them here).")


def _wait_for_memory_work(app: Clonr, clone_id: str) -> None:
    """Drain the queued memory work, showing how much of the clone's waits: memories to score, lines to compare
    with what the fan said before."""
    def left() -> int:
        work = app.memory.waiting(clone_id)
        return work.to_score + work.to_compare

    finished = threading.Event()
    threading.Thread(target=lambda: (app.worker.drain(), finished.set()), daemon=True).start()
    total = left()
    with click.progressbar(length=max(total, 1), label="Scoring, reflecting and updating what changed",
                           file=click.get_text_stream("stderr")) as bar:
        while not finished.wait(0.5):
            bar.update(max(0, total - left() - bar.pos))
        bar.update(bar.length - bar.pos)


@click.command()
@click.argument("clone")
@click.pass_context
def reindex(ctx: click.Context, clone: str) -> None:
    """Embed CLONE's notes, example dialogues and memories again with the current CLONR_EMBEDDINGS (after
    switching models; memories also get the context new ones get). Safe to interrupt and run again."""
    app = app_from(ctx)
    record = app.clones.get(clone)
    notes = app.ingest.reindex(record.id)
    dialogues = app.dialogues.reindex(record.id)
    with click.progressbar(length=1, label="Embedding memories", file=click.get_text_stream("stderr")) as bar:
        def progress(done: int, total: int) -> None:
            bar.length = total
            bar.update(done - bar.pos)

        memories = app.memory.reindex(record.id, on_progress=progress)
    click.echo(f"Embedded {notes} note chunks, {dialogues} example dialogues and {memories} memories of "
               f"{record.name} again.")


@click.command()
@click.argument("clone")
@click.argument("text")
@click.pass_context
def event(ctx: click.Context, clone: str, text: str) -> None:
    """Tell CLONE about something that happened in your life; every fan's chat can draw on it."""
    app = app_from(ctx)
    record = app.clones.get(clone)
    memory = app.memory.post_event(record.id, text)
    app.worker.drain()
    click.echo(f"{record.name} will remember: {memory.text}")


COMMANDS = (memory, reindex, event)
