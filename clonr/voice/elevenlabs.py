"""Speech in the creator's own voice with ElevenLabs (ELEVENLABS_API_KEY): instant voice cloning from samples the
creator uploads and confirms are theirs, and text to speech as 16-bit PCM at 22,050 Hz, Piper's rate, so both
speakers' audio goes through the same encoders. The key is sent only to ELEVENLABS_BASE_URL and never logged."""

from __future__ import annotations

from typing import ClassVar

import httpx

from clonr.voice.audio import Speech
from clonr.voice.base import Speaker, SpeechError, VoiceOption

__all__ = ["ElevenLabsSpeaker"]


class ElevenLabsSpeaker(Speaker):
    provider: ClassVar[str] = "elevenlabs"

    def __init__(self, api_key: str, base_url: str, model: str, timeout: float = 30.0) -> None:
        if not api_key:
            raise SpeechError("ElevenLabs needs ELEVENLABS_API_KEY: set it, or let the clone speak with an offline "
                              "Piper voice.")
        self._client = httpx.Client(base_url=base_url.rstrip("/"), timeout=timeout, trust_env=False,
                                    headers={"xi-api-key": api_key})
        self._model = model

    def _call(self, method: str, path: str, **kwargs: object) -> httpx.Response:
        try:
            response = self._client.request(method, path, **kwargs)  # type: ignore[arg-type]
        except httpx.HTTPError as exc:
            raise SpeechError(f"ElevenLabs could not be reached ({type(exc).__name__}): try again later.") from None
        if response.status_code in (401, 403):
            raise SpeechError("ElevenLabs refused the key: check ELEVENLABS_API_KEY.")
        if response.status_code >= 400:
            detail = ""
            try:
                body = response.json().get("detail")
                detail = body.get("message", "") if isinstance(body, dict) else str(body or "")
            except ValueError:
                pass
            raise SpeechError(f"ElevenLabs answered HTTP {response.status_code}"
                              + (f" ({' '.join(detail.split())[:120]})" if detail else "") + ": try again later.")
        return response

    def voices(self) -> list[VoiceOption]:
        return []  # its voices are the creators' own: the service lists a clone's

    def speak(self, text: str, voice_id: str) -> Speech:
        response = self._call("POST", f"/v1/text-to-speech/{voice_id}", params={"output_format": "pcm_22050"},
                              json={"text": text, "model_id": self._model})
        return Speech(response.content, self.sample_rate, text)

    def add_voice(self, name: str, samples: list[tuple[str, bytes]], description: str) -> str:
        """Instant voice cloning: the new voice's id."""
        response = self._call("POST", "/v1/voices/add", data={"name": name, "description": description},
                              files=[("files", (filename, data)) for filename, data in samples])
        voice_id = response.json().get("voice_id")
        if not isinstance(voice_id, str) or not voice_id:
            raise SpeechError("ElevenLabs made no voice from the samples: try longer, clearer recordings.")
        return voice_id
