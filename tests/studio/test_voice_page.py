"""The "Voice" studio page: the offline voice chosen by default, the creator's cloned voice listed as their own,
listened to, then chosen; without an ElevenLabs key the page says how to clone one."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from streamlit.testing.v1 import AppTest

from clonr import Clonr
from tests.elevenlabs_local import KEY, FakeElevenLabs
from tests.studio.test_api_usage_page import open_page, studio  # noqa: F401 (fixtures)


@pytest.fixture
def elevenlabs(monkeypatch: pytest.MonkeyPatch) -> Iterator[FakeElevenLabs]:
    """ElevenLabs on loopback, in the settings: list it before `app` or `studio`."""
    fake = FakeElevenLabs()
    monkeypatch.setenv("ELEVENLABS_API_KEY", KEY)
    monkeypatch.setenv("ELEVENLABS_BASE_URL", fake.base)
    yield fake
    fake.close()


def test_a_creator_listens_to_their_cloned_voice_and_chooses_it(elevenlabs: FakeElevenLabs, app: Clonr,
                                                                  studio: AppTest) -> None:  # noqa: F811
    clone = app.clones.create("Inês Duarte")
    app.voice.clone_voice(clone.id, [("me.mp3", b"ID3" + b"\x00" * 2000)], consent=True)
    studio.run()
    open_page(studio, "voice")
    assert studio.radio(key="voice_pick").value == "piper:joe" and studio.checkbox(key="voice_mine") is not None
    studio.radio(key="voice_pick").set_value("elevenlabs:cloned-voice-1").run()
    studio.button(key="voice_listen").click().run()
    assert not studio.exception and elevenlabs.calls[-1].path == "/v1/text-to-speech/cloned-voice-1"
    assert studio.get("audio"), "the creator hears it before choosing"
    studio.button(key="voice_choose").click().run()
    assert [c.option.voice_id for c in app.voice.voices(clone.id) if c.chosen] == ["cloned-voice-1"]


def test_without_a_key_the_page_says_how_to_clone_a_voice(app: Clonr, studio: AppTest) -> None:  # noqa: F811
    app.clones.create("Inês Duarte")
    studio.run()
    open_page(studio, "voice")
    assert "set ELEVENLABS_API_KEY on the server" in studio.info[0].value
