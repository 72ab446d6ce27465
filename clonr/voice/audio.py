"""Speech as audio: 16-bit mono PCM pieces, one a sentence, and the containers they are sent in (WAV, MP3, raw PCM).
MP3 is encoded by LAME (lameenc) frame by frame, so each sentence can be sent as soon as it is spoken."""

from __future__ import annotations

import struct
from collections.abc import Iterable, Iterator
from dataclasses import dataclass

import lameenc

from clonr.errors import InvalidInputError

__all__ = ["FORMATS", "Speech", "encode", "media_type"]

FORMATS = {"mp3": "audio/mpeg", "wav": "audio/wav", "pcm": "audio/L16"}  # what `encode` can write


@dataclass(frozen=True)
class Speech:
    """One sentence spoken: 16-bit little-endian mono samples at `sample_rate`."""

    pcm: bytes
    sample_rate: int
    text: str = ""

    @property
    def seconds(self) -> float:
        return len(self.pcm) / 2 / self.sample_rate


def media_type(audio_format: str) -> str:
    try:
        return FORMATS[audio_format]
    except KeyError:
        raise InvalidInputError(f"{audio_format!r} is not an audio format Clonr writes: use one of "
                                f"{', '.join(FORMATS)}.") from None


def _wav_header(sample_rate: int, data_bytes: int) -> bytes:
    return (b"RIFF" + struct.pack("<I", min(36 + data_bytes, 0xFFFFFFFF)) + b"WAVEfmt "
            + struct.pack("<IHHIIHH", 16, 1, 1, sample_rate, sample_rate * 2, 2, 16)
            + b"data" + struct.pack("<I", min(data_bytes, 0xFFFFFFFF)))


def encode(speeches: Iterable[Speech], audio_format: str, *, total_bytes: int | None = None) -> Iterator[bytes]:
    """The audio of `speeches` in `audio_format`, a piece as each sentence arrives. A streamed WAV does not know its
    length when it starts: its header says the most a WAV can hold, as streaming servers do, unless `total_bytes`
    (of PCM) is given."""
    media_type(audio_format)
    encoder = None
    started = False
    for speech in speeches:
        if audio_format == "pcm":
            yield speech.pcm
        elif audio_format == "wav":
            if not started:
                yield _wav_header(speech.sample_rate, total_bytes if total_bytes is not None else 0xFFFFFFFF - 36)
            yield speech.pcm
        else:
            if encoder is None:
                encoder = lameenc.Encoder()
                encoder.set_bit_rate(64)
                encoder.set_in_sample_rate(speech.sample_rate)
                encoder.set_channels(1)
                encoder.set_quality(5)
            if frames := encoder.encode(speech.pcm):
                yield bytes(frames)
        started = True
    if encoder is not None and (rest := encoder.flush()):
        yield bytes(rest)
