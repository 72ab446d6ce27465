"""The text-to-speech port: a `Speaker` speaks a sentence in one of its voices. Adapters: `PiperSpeaker` (offline,
the default) and `ElevenLabsSpeaker` (the creator's own cloned voice, with ELEVENLABS_API_KEY)."""

from __future__ import annotations

import re
import time
from abc import ABC, abstractmethod
from collections.abc import Callable, Iterable, Iterator
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
FIRST_LIMIT = 45  # characters, or...
FIRST_SECONDS = 0.5  # ...seconds after the first piece: then the first clip is cut at the last break (or word)


def sentences(pieces: Iterable[str], clock: Callable[[], float] = time.monotonic) -> Iterator[str]:
    """The sentences of a text that arrives in pieces (a reply as it streams), each as soon as it is complete. The
    first may be only its first clause (up to a comma, at least MIN_SENTENCE long); and when no such break comes
    within FIRST_LIMIT characters or FIRST_SECONDS (a slow model), it is cut at the last sentence end or comma so
    far ("Right then."), else after its last whole word: the first audio comes early whatever the model's pace."""
    pending, first, began = "", True, None
    for piece in pieces:
        began = clock() if began is None else began
        pending += piece
        start = 0
        for match in _BREAK.finditer(pending):
            clause = match.lastgroup == "clause"
            sentence = pending[start:match.end()].strip()
            if (clause and not first) or len(sentence) < MIN_SENTENCE:
                continue
            yield sentence
            start, first = match.end(), False
        late = len(pending) > FIRST_LIMIT or clock() - began >= FIRST_SECONDS
        if first and late and len(pending.split()) >= 2:
            breaks = [m.end() for m in _BREAK.finditer(pending)]
            cut = breaks[-1] if breaks else pending.rstrip().rindex(" ")
            yield pending[:cut].strip()
            pending, start, first = pending[cut:], 0, False
        pending = pending[start:]
    if pending.strip():
        yield pending.strip()
