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


_END = re.compile(r"(?<=[.!?…])[\"'”’)\]]*\s+|\n+")
MIN_SENTENCE = 20  # characters: "Good morning!" waits for the next sentence rather than becoming a clip alone


def sentences(pieces: Iterable[str]) -> Iterator[str]:
    """The sentences of a text that arrives in pieces (a reply as it streams), each as soon as it is complete."""
    pending = ""
    for piece in pieces:
        pending += piece
        start = 0
        for match in _END.finditer(pending):
            sentence = pending[start:match.end()].strip()
            if len(sentence) >= MIN_SENTENCE:
                yield sentence
                start = match.end()
        pending = pending[start:]
    if pending.strip():
        yield pending.strip()
