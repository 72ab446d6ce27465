"""Voice: replies spoken in the clone's voice, offline with Piper by default or in the creator's own voice cloned
with ElevenLabs. `VoiceService` chooses and speaks; `Speaker` is the port a text-to-speech backend implements."""

from clonr.voice.audio import FORMATS, Speech, encode, media_type
from clonr.voice.base import Speaker, SpeechError, VoiceOption, sentences
from clonr.voice.elevenlabs import ElevenLabsSpeaker
from clonr.voice.piper import DEFAULT_PIPER_VOICE, PiperSpeaker
from clonr.voice.service import SAMPLE_SUFFIXES, VoiceChoice, VoiceService

__all__ = ["DEFAULT_PIPER_VOICE", "FORMATS", "SAMPLE_SUFFIXES", "ElevenLabsSpeaker", "PiperSpeaker", "Speaker",
           "Speech", "SpeechError", "VoiceChoice", "VoiceOption", "VoiceService", "encode", "media_type", "sentences"]
