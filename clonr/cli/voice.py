"""`clonr voice`: the voice a clone speaks with, the creator's own cloned with ElevenLabs, and a text spoken aloud."""

from __future__ import annotations

from pathlib import Path

import click

from clonr.cli.context import app_from
from clonr.errors import InvalidInputError
from clonr.voice import encode


@click.command()
@click.argument("clone")
@click.option("--choose", metavar="PROVIDER:VOICE", help="Speak with this voice (as listed), e.g. piper:joe.")
@click.option("--clone-from", "samples", multiple=True, type=click.Path(exists=True, dir_okay=False, path_type=Path),
              help="A recording of your own voice (mp3, wav, m4a, ogg, webm, flac); repeat for more. Needs "
                   "ELEVENLABS_API_KEY and --mine.")
@click.option("--mine", is_flag=True, help="Confirm the recordings are of your own voice and you agree to its cloning.")
@click.option("--say", metavar="TEXT", help="Speak TEXT in the clone's voice into --out.")
@click.option("--out", type=click.Path(dir_okay=False, path_type=Path), help="Where --say writes (.wav or .mp3).")
@click.pass_context
def voice(ctx: click.Context, clone: str, choose: str | None, samples: tuple[Path, ...], mine: bool,
          say: str | None, out: Path | None) -> None:
    """The voices CLONE may speak with (* marks the one it does); choose one, clone your own, or hear it."""
    app = app_from(ctx)
    if samples:
        made = app.voice.clone_voice(clone, [(path.name, path.read_bytes()) for path in samples], consent=mine)
        click.echo(f"Cloned {made.label}: listen with --say and --out, then --choose {made.provider}:{made.voice_id}.")
    if choose:
        provider, _, voice_id = choose.partition(":")
        made = app.voice.choose(clone, provider, voice_id)
        click.echo(f"{app.clones.get(clone).name} now speaks as {made.label}.")
    if say:
        if out is None or out.suffix.lower() not in (".wav", ".mp3"):
            raise InvalidInputError("Give --out a file ending in .wav or .mp3 to write the speech to.")
        speech = app.voice.preview(clone, text=say)
        out.write_bytes(b"".join(encode([speech], out.suffix.lower()[1:], total_bytes=len(speech.pcm))))
        click.echo(f"Wrote {speech.seconds:.1f} s to {out}.")
    if not (samples or choose or say):
        for choice in app.voice.voices(clone):
            mark = "*" if choice.chosen else " "
            click.echo(f"{mark} {choice.option.provider}:{choice.option.voice_id:<28} {choice.option.label}"
                       + ("  (your own voice)" if choice.cloned else ""))


COMMANDS = (voice,)
