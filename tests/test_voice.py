"""Voice: Piper speaks offline (valid audio whose length follows the text, streamed sentence by sentence without
gaps), ElevenLabs against a recording fake (voice cloning with consent, speech), failures in one line while the
text reply still arrives, `POST /v1/audio/speech` through the official `openai` SDK, and seconds in the ledger."""

from __future__ import annotations

import io
import wave
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path

import numpy as np
import openai
import pytest
from click.testing import CliRunner

from clonr import Clonr
from clonr.access import LOCAL_CREATOR
from clonr.cli import LazyApp, cli
from clonr.errors import ClonrError
from clonr.voice import Speech, encode, sentences
from tests.conftest import FakeChatModel
from tests.elevenlabs_local import KEY, SECONDS_PER_CHARACTER, FakeElevenLabs
from tests.test_widget import serve

REPLY = ("Good morning! I just named my new kiln Brasa, which means ember in Portuguese. "
         "Its first firing is tonight, and I am a little nervous. Wish me luck?")


@pytest.fixture
def ines(app: Clonr) -> Clonr:
    app.clones.publish(app.clones.create("Inês Duarte").id)
    return app


@pytest.fixture
def elevenlabs(app: Clonr) -> Iterator[FakeElevenLabs]:
    fake = FakeElevenLabs()
    app.settings = replace(app.settings, elevenlabs_api_key=KEY, elevenlabs_base_url=fake.base)
    yield fake
    fake.close()


def wav_of(speeches: list[Speech]) -> wave.Wave_read:
    data = b"".join(encode(speeches, "wav", total_bytes=sum(len(s.pcm) for s in speeches)))
    return wave.open(io.BytesIO(data))


def silences(pcm: bytes, rate: int, threshold: int = 300) -> list[float]:
    """The lengths in seconds of the quiet stretches between sounds."""
    loud = np.nonzero(np.abs(np.frombuffer(pcm, dtype="<i2")) > threshold)[0]
    return [gap / rate for gap in np.diff(loud) if gap > 1]


def test_piper_speaks_valid_audio_whose_length_follows_the_text(ines: Clonr) -> None:
    clone = ines.clones.get("ines-duarte")
    short = list(ines.voice.speak(clone, ["Hello there, my friend."], fan_id="fan-1", channel="widget"))
    long = list(ines.voice.speak(clone, [REPLY], fan_id="fan-1", channel="widget"))
    audio = wav_of(long)
    assert (audio.getnchannels(), audio.getsampwidth(), audio.getframerate()) == (1, 2, 22050)
    seconds = audio.getnframes() / audio.getframerate()
    assert 7 < seconds < 16 and seconds > 3 * sum(s.seconds for s in short), "longer text, longer speech"
    assert [s.text for s in long] == list(sentences([REPLY]))


def test_a_streamed_reply_is_spoken_sentence_by_sentence_and_joins_without_gaps(ines: Clonr) -> None:
    clone = ines.clones.get("ines-duarte")
    tokens = [word + " " for word in REPLY.split()]  # as a model streams it
    streamed = list(ines.voice.speak(clone, iter(tokens), fan_id="fan-1", channel="widget"))
    assert [s.text for s in streamed] == [
        "Good morning! I just named my new kiln Brasa,",  # the first clause alone: the first audio comes sooner
        "which means ember in Portuguese.", "Its first firing is tonight, and I am a little nervous.", "Wish me luck?"]
    joined = b"".join(s.pcm for s in streamed)
    assert max(silences(joined, 22050)) < 0.45, "no more than a breath between sentences"
    whole = sum(s.seconds for s in ines.voice.speak(clone, [REPLY], fan_id="fan-1", channel="widget"))
    assert abs(sum(s.seconds for s in streamed) - whole) / whole < 0.15


def test_sentences_come_as_soon_as_they_are_complete() -> None:
    seen = []

    def pieces() -> Iterator[str]:
        for piece in ("Hi! ", "I am very ", "well, thank you. ", "And ", "you", "?"):
            seen.append(piece)
            yield piece

    for sentence in sentences(pieces()):
        seen.append(f"<{sentence}>")
    assert seen == ["Hi! ", "I am very ", "well, thank you. ", "<Hi! I am very well, thank you.>", "And ", "you", "?",
                    "<And you?>"]
    assert list(sentences(["It costs 3.50 euros. Really."])) == ["It costs 3.50 euros.", "Really."]


def test_a_slow_model_has_its_first_clip_cut_at_the_last_break_after_half_a_second() -> None:
    now = [0.0]

    def slowly(text: str) -> Iterator[str]:  # a word every 0.1 s, as Qwen2.5-1.5B writes on two cores
        for word in text.split():
            now[0] += 0.1
            yield word + " "

    said = "Right then. What got you into ceramics? My grandfather did, long ago."
    assert list(sentences(slowly(said), clock=lambda: now[0])) == [
        "Right then.", "What got you into ceramics?", "My grandfather did, long ago."]
    assert list(sentences([said])) == ["Right then. What got you into ceramics?", "My grandfather did, long ago."]


def test_a_creator_clones_their_own_voice_only_with_their_word_and_hears_it(ines: Clonr,
                                                                           elevenlabs: FakeElevenLabs) -> None:
    sample = [("me reading.mp3", b"ID3" + b"\x00" * 4000)]
    with pytest.raises(ClonrError, match="Confirm that the recordings are of your own voice"):
        ines.voice.clone_voice("ines-duarte", sample, consent=False)
    with pytest.raises(ClonrError, match="is not a recording Clonr can send"):
        ines.voice.clone_voice("ines-duarte", [("notes.txt", b"hello")], consent=True)
    assert elevenlabs.calls == []
    made = ines.voice.clone_voice("ines-duarte", sample, consent=True)
    [call] = elevenlabs.calls
    assert (call.path, call.headers["xi-api-key"]) == ("/v1/voices/add", KEY)
    assert b'filename="me reading.mp3"' in call.body and b"Ins Duarte (Clonr)" not in call.body
    assert "Inês Duarte (Clonr)".encode() in call.body
    choices = ines.voice.voices("ines-duarte")
    assert [(c.option.provider, c.option.voice_id, c.chosen, c.cloned) for c in choices] == [
        ("piper", "joe", True, False), ("elevenlabs", "cloned-voice-1", False, True)], "listened to before chosen"
    heard = ines.voice.preview("ines-duarte", made.provider, made.voice_id)
    assert heard.seconds > 1 and elevenlabs.calls[-1].query == {"output_format": ["pcm_22050"]}
    ines.voice.choose("ines-duarte", "elevenlabs", "cloned-voice-1")
    clone = ines.clones.get("ines-duarte")
    spoken = list(ines.voice.speak(clone, [REPLY], fan_id="fan-1", channel="widget"))
    assert abs(sum(s.seconds for s in spoken) - len(REPLY) * SECONDS_PER_CHARACTER) < 0.5
    assert elevenlabs.calls[-1].path == "/v1/text-to-speech/cloned-voice-1"
    with pytest.raises(ClonrError, match="has no voice piper:nobody"):
        ines.voice.choose("ines-duarte", "piper", "nobody")


def test_a_missing_key_or_a_failed_call_is_one_line_and_the_text_reply_still_arrives(
        ines: Clonr, elevenlabs: FakeElevenLabs, fake_chat: FakeChatModel) -> None:
    ines.voice.clone_voice("ines-duarte", [("me.wav", b"RIFF" + b"\x00" * 100)], consent=True)
    ines.voice.choose("ines-duarte", "elevenlabs", "cloned-voice-1")
    clone = ines.clones.get("ines-duarte")
    elevenlabs.fail_with = 500
    with pytest.raises(ClonrError) as failed:
        list(ines.voice.speak(clone, [REPLY], fan_id="fan-1", channel="widget"))
    assert str(failed.value) == "ElevenLabs answered HTTP 500 (Try again later): try again later."
    ines.settings = replace(ines.settings, elevenlabs_api_key="")
    with pytest.raises(ClonrError, match="ElevenLabs needs ELEVENLABS_API_KEY: set it, or let the clone speak"):
        list(ines.voice.speak(clone, [REPLY], fan_id="fan-1", channel="widget"))
    fake_chat.enqueue("Still here, in writing.")
    assert "".join(ines.chat.start_turn("ines-duarte", "Hello?", fan_id="fan-1")) == "Still here, in writing."


def test_the_openai_sdk_hears_the_clone_and_the_seconds_go_in_the_ledger(ines: Clonr) -> None:
    secret = ines.keys.create(LOCAL_CREATOR, "tests").secret
    with serve(ines) as url:
        client = openai.OpenAI(base_url=f"{url}/v1", api_key=secret, max_retries=0)
        audio = client.audio.speech.create(model="ines-duarte", voice="alloy", input=REPLY, response_format="wav")
        with wave.open(io.BytesIO(audio.content)) as heard:
            assert heard.getframerate() == 22050 and heard.readframes(10**7), "a WAV that plays, streamed"
        mp3 = client.audio.speech.create(model="ines-duarte", voice="alloy", input="Hello there, my friend.")
        assert mp3.content[:2] in (b"\xff\xfb", b"\xff\xf3", b"ID") and len(mp3.content) > 1000
        with pytest.raises(openai.BadRequestError, match="'opus' is not an audio format Clonr writes"):
            client.audio.speech.create(model="ines-duarte", voice="alloy", input="Hi.", response_format="opus")
        with pytest.raises(openai.NotFoundError, match="does not exist or this key may not use it"):
            client.audio.speech.create(model="someone-else", voice="alloy", input="Hi.")
        with pytest.raises(openai.BadRequestError, match="over 4,000 characters"):
            client.audio.speech.create(model="ines-duarte", voice="alloy", input="Hi there. " * 500)
    [line] = ines.usage.summary("clone")
    assert line.replies == 0 and 8 < line.speech_seconds < 20, line


def test_the_cli_lists_chooses_and_speaks(ines: Clonr, tmp_path: Path) -> None:
    def run(*args: str):
        return CliRunner().invoke(cli, list(args), obj=LazyApp(ines))

    listed = run("voice", "ines-duarte")
    assert listed.exit_code == 0 and "* piper:joe" in listed.output
    out = tmp_path / "hello.wav"
    said = run("voice", "ines-duarte", "--say", "Hello there, my friend.", "--out", str(out))
    with wave.open(str(out)) as written:
        assert said.exit_code == 0 and written.getnframes() > 22050
    bad = run("voice", "ines-duarte", "--choose", "piper:nobody")
    assert bad.exit_code == 1 and "has no voice piper:nobody" in bad.output
