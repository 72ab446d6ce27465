"""A clone's voice: which one it speaks with (an offline Piper voice, or the creator's own cloned with ElevenLabs),
and its replies spoken sentence by sentence as they stream, each counted in the usage ledger (`speech_ms`)."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import PurePath

from clonr.billing import SPOKEN
from clonr.clones import CloneService
from clonr.clones.acting import ActsFor
from clonr.config import Settings
from clonr.errors import InvalidInputError, NotFoundError
from clonr.store import Clone, SqlStore, VoiceRecord
from clonr.voice.audio import Speech
from clonr.voice.base import Speaker, SpeechError, VoiceOption, sentences
from clonr.voice.elevenlabs import ElevenLabsSpeaker

__all__ = ["SAMPLE_SUFFIXES", "VoiceChoice", "VoiceService"]

SAMPLE_SUFFIXES = (".mp3", ".wav", ".m4a", ".ogg", ".webm", ".flac")  # what ElevenLabs takes as voice samples
MAX_SAMPLES = 25
PREVIEW = "Hello! This is how I sound. I can't wait to talk with you."


@dataclass(frozen=True)
class VoiceChoice:
    """A voice the clone may speak with, and whether it is the one it does."""

    option: VoiceOption
    chosen: bool
    cloned: bool  # the creator's own voice


class VoiceService(ActsFor):
    """The creator chooses and clones voices (checked here); speaking a reply for a fan is internal: its callers
    (the widget, the API, Discord) have checked who may."""

    def __init__(self, store: SqlStore, clones: CloneService, settings: Settings, piper: Callable[[], Speaker],
                 elevenlabs: Callable[[], ElevenLabsSpeaker]) -> None:
        self._store = store
        self._clones = clones
        self._settings = settings
        self._piper = piper
        self._elevenlabs = elevenlabs

    @property
    def can_clone(self) -> bool:
        """Whether a creator's own voice can be cloned here (ELEVENLABS_API_KEY is set)."""
        return bool(self._settings.elevenlabs_api_key)

    # -- the creator's ----------------------------------------------------------------------------

    def voices(self, clone_ref: str) -> list[VoiceChoice]:
        """The installed offline voices and the creator's cloned ones, the chosen one marked."""
        clone = self._owned(clone_ref)
        records = self._store.clone_voices(clone.id)
        chosen = self._chosen(clone, records)
        options = [*self._piper().voices(),
                   *[VoiceOption(r.provider, r.voice_id, r.label) for r in records if r.provider != "piper"]]
        cloned = {(r.provider, r.voice_id) for r in records if r.consent_at is not None}
        return [VoiceChoice(o, (o.provider, o.voice_id) == (chosen.provider, chosen.voice_id),
                            (o.provider, o.voice_id) in cloned) for o in options]

    def choose(self, clone_ref: str, provider: str, voice_id: str) -> VoiceOption:
        """Make the clone speak with this voice (one of `voices`)."""
        clone = self._owned(clone_ref)
        option = self._option(clone, provider, voice_id)
        if option.provider == "piper":  # an installed voice, recorded once chosen (a cloned one is recorded already)
            self._store.add_voice(clone.id, option.provider, option.voice_id, option.label)
        self._store.choose_voice(clone.id, provider, voice_id)
        return option

    def clone_voice(self, clone_ref: str, samples: list[tuple[str, bytes]], *, consent: bool = False,
                    label: str = "") -> VoiceOption:
        """Clone the creator's voice with ElevenLabs from recordings of it (instant voice cloning). Only with their
        word that the voice is their own (`consent`), kept with the voice. Not chosen yet: listen first."""
        clone = self._owned(clone_ref)
        if not consent:
            raise InvalidInputError("Confirm that the recordings are of your own voice, and that you agree to its "
                                    "cloning: only your own voice may be cloned.")
        samples = [(PurePath(filename).name[:80], data) for filename, data in samples]  # no client's path goes on
        self._check_samples(samples)
        name = (" ".join(label.split()) or f"{clone.name} (Clonr)")[:100]
        voice_id = self._elevenlabs().add_voice(name, samples, f"The voice of {clone.name}, for their AI clone.")
        self._store.add_voice(clone.id, "elevenlabs", voice_id, name, consent_at=datetime.now(UTC))
        return VoiceOption("elevenlabs", voice_id, name)

    def _check_samples(self, samples: list[tuple[str, bytes]]) -> None:
        if not samples:
            raise InvalidInputError("Upload at least one recording of your voice (a minute or more in all is best).")
        if len(samples) > MAX_SAMPLES:
            raise InvalidInputError(f"{len(samples)} recordings is too many: upload at most {MAX_SAMPLES}.")
        for name, data in samples:
            if PurePath(name).suffix.lower() not in SAMPLE_SUFFIXES:
                raise InvalidInputError(f"{name} is not a recording Clonr can send: use {', '.join(SAMPLE_SUFFIXES)}.")
            if not data:
                raise InvalidInputError(f"{name} is empty: record it again.")
            if len(data) > self._settings.max_file_bytes:
                raise InvalidInputError(f"{name} is {len(data):,} bytes; the limit is "
                                        f"{self._settings.max_file_bytes:,} (CLONR_MAX_FILE_BYTES): shorten it.")

    def preview(self, clone_ref: str, provider: str | None = None, voice_id: str | None = None,
                text: str = PREVIEW) -> Speech:
        """A few words in a voice (the chosen one unless named), for the creator to listen to before choosing."""
        clone = self._owned(clone_ref)
        option = self._chosen(clone) if provider is None or voice_id is None else \
            self._option(clone, provider, voice_id)
        return self._speaker(option.provider).speak(text[:500], option.voice_id)

    def _option(self, clone: Clone, provider: str, voice_id: str) -> VoiceOption:
        option = next((c.option for c in self.voices(clone.id)
                       if (c.option.provider, c.option.voice_id) == (provider, voice_id)), None)
        if option is None:
            raise NotFoundError(f"{clone.name} has no voice {provider}:{voice_id}: run `clonr voice {clone.slug}` to "
                                "see the voices it may use.")
        return option

    # -- speaking for fans (internal) ---------------------------------------------------------------

    def speak(self, clone: Clone, pieces: Iterable[str], *, fan_id: str, channel: str,
              key_id: str | None = None) -> Iterator[Speech]:
        """`pieces` (a reply as it streams, or a whole text) spoken sentence by sentence in the clone's voice, each
        as soon as its sentence is complete; the seconds spoken go in the ledger when it ends (or stops)."""
        option = self._chosen(clone)
        speaker = self._speaker(option.provider)
        started, first, spoken = time.perf_counter(), None, 0.0
        try:
            for sentence in sentences(_checked(pieces, self._settings.max_message_chars)):
                speech = speaker.speak(sentence, option.voice_id)
                first = first if first is not None else time.perf_counter() - started
                spoken += speech.seconds
                yield speech
        finally:
            if spoken:
                self._store.add_usage(clone.id, fan_id, SPOKEN, {
                    "owner_id": clone.owner_id, "channel": channel, "key_id": key_id, "prompt_tokens": 0,
                    "completion_tokens": 0, "first_token_ms": round((first or 0) * 1000),
                    "total_ms": round((time.perf_counter() - started) * 1000), "speech_ms": round(spoken * 1000)})

    def _chosen(self, clone: Clone, records: list[VoiceRecord] | None = None) -> VoiceOption:
        records = self._store.clone_voices(clone.id) if records is None else records
        record = next((r for r in records if r.chosen), None)
        if record is None:
            return VoiceOption("piper", self._settings.piper_voice, self._settings.piper_voice)
        return VoiceOption(record.provider, record.voice_id, record.label)

    def _speaker(self, provider: str) -> Speaker:
        if provider == "elevenlabs":
            return self._elevenlabs()
        if provider == "piper":
            return self._piper()
        raise SpeechError(f"No speech provider {provider!r}: choose another voice for the clone.")


def _checked(pieces: Iterable[str], limit: int) -> Iterator[str]:
    """The pieces, refused past `limit` characters in all (before any is spoken when given whole)."""
    total = 0
    for piece in pieces:
        total += len(piece)
        if total > limit:
            raise InvalidInputError(f"The text to speak is over {limit:,} characters (CLONR_MAX_MESSAGE_CHARS): "
                                    "shorten it.")
        yield piece
