"""The text-to-speech port: a `Speaker` speaks a sentence in one of its voices. Adapters: `PiperSpeaker` (offline,
the default) and `ElevenLabsSpeaker` (the creator's own cloned voice, with ELEVENLABS_API_KEY)."""

from __future__ import annotations

import re
from abc import ABC, abstractmethod
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import ClassVar

from clonr.errors import ClonrError
from clonr.voice.audio import Speech

__all__ = ["Speaker", "SpeechError", "VoiceOption", "sentences"]


class SpeechError(ClonrError):
    """Speech could not be made (a voice missing, a speech service refusing or down); the text reply stands."""


@dataclass(frozen=True)
class VoiceOption:
    """A voice a clone can speak with: `provider` names the speaker, `voice_id` the voice within it."""

    provider: str
    voice_id: str
    label: str


class Speaker(ABC):
    """Speaks text in a voice; `speak` is one sentence (or a few), so audio can start before a reply ends."""

    provider: ClassVar[str]
    sample_rate: ClassVar[int] = 22050

    @abstractmethod
    def speak(self, text: str, voice_id: str) -> Speech:
        """The sentence spoken in the voice; `SpeechError` when it cannot be."""

    @abstractmethod
    def voices(self) -> list[VoiceOption]:
        """The voices every clone may use (a creator's cloned voice is listed by the service, as it is theirs)."""


_BREAK = re.compile(r"(?P<end>(?<=[.!?…])[\"'”’)\]]*\s+|\n+)|(?P<clause>(?<=[,;:—])\s+)")
MIN_SENTENCE = 20  # characters: "Good morning!" waits for the next sentence rather than becoming a clip alone
FIRST_LIMIT = 45  # characters: a first sentence with no comma by then is spoken from its first words


def sentences(pieces: Iterable[str]) -> Iterator[str]:
    """The sentences of a text that arrives in pieces (a reply as it streams), each as soon as it is complete. The
    first may be only its first clause (up to a comma, at least MIN_SENTENCE long), or its first words when no break
    comes in FIRST_LIMIT characters, so that the first audio comes early."""
    pending, first = "", True
    for piece in pieces:
        pending += piece
        start = 0
        for match in _BREAK.finditer(pending):
            clause = match.lastgroup == "clause"
            sentence = pending[start:match.end()].strip()
            if (clause and not first) or len(sentence) < MIN_SENTENCE:
                continue
            yield sentence
            start, first = match.end(), False
        if first and len(pending) > FIRST_LIMIT and " " in pending.strip():  # no break yet: speak its first words
            cut = pending.rstrip().rindex(" ")
            yield pending[:cut].strip()
            pending, start, first = pending[cut:], 0, False
        pending = pending[start:]
    if pending.strip():
        yield pending.strip()
