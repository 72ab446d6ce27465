"""Model files are found, assembled and verified; the real local models answer."""

from __future__ import annotations

import hashlib
from pathlib import Path

import numpy as np
import pytest

from clonr import load_settings
from clonr.errors import ConfigError, ModelError
from clonr.llm import (
    LOCAL_CHAT_MODELS,
    LlamaCppChatModel,
    MiniLMEmbeddings,
    ModelFile,
    files,
    get_chat_model,
    locate,
    resolve_chat_model_name,
)


def _chunked_model(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, payload: bytes, parts: int = 3) -> ModelFile:
    """Fake chunk packages laid out like the real ones: <package>/data/partNN.bin."""
    size = len(payload) // parts + 1
    folders = {}
    for n in range(parts):
        folder = tmp_path / f"pkg_part{n + 1}"
        (folder / "data").mkdir(parents=True)
        (folder / "data" / f"part{n + 1:02d}.bin").write_bytes(payload[n * size:(n + 1) * size])
        folders[f"pkg_part{n + 1}"] = folder
    monkeypatch.setattr(files, "package_dir", lambda name: folders.get(name))
    return ModelFile(id="tiny", filename="tiny.gguf", sha256=hashlib.sha256(payload).hexdigest(),
                     install_hint="pip install tiny", parts=tuple(folders))


def test_chunks_are_assembled_once_and_verified(tmp_path: Path, monkeypatch) -> None:
    payload = bytes(range(256)) * 1000
    model = _chunked_model(tmp_path, monkeypatch, payload)
    progress = []
    path = locate(model, tmp_path / "cache", on_progress=lambda done, total: progress.append(done))
    assert path.read_bytes() == payload and progress == [1, 2, 3]
    assert locate(model, tmp_path / "cache") == path
    assert not [p for p in (tmp_path / "cache").iterdir() if p.name.startswith(".tiny")], "no temp file left"


def test_corrupt_chunks_are_refused_and_leave_nothing_behind(tmp_path: Path, monkeypatch) -> None:
    model = _chunked_model(tmp_path, monkeypatch, b"x" * 3000)
    (tmp_path / "pkg_part2" / "data" / "part02.bin").write_bytes(b"tampered")
    with pytest.raises(ModelError, match="reinstall"):
        locate(model, tmp_path / "cache")
    assert not list((tmp_path / "cache").glob("*"))


def test_a_corrupted_assembled_file_is_detected(tmp_path: Path, monkeypatch) -> None:
    model = _chunked_model(tmp_path, monkeypatch, b"y" * 3000)
    path = locate(model, tmp_path / "cache")
    path.write_bytes(b"z" * 3000)
    with pytest.raises(ModelError, match="corrupt"):
        locate(model, tmp_path / "cache")


def test_a_missing_model_says_how_to_install_it(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.setattr(files, "package_dir", lambda name: None)
    with pytest.raises(ModelError, match="pip install"):
        locate(LOCAL_CHAT_MODELS["qwen2.5-1.5b"], tmp_path)


def test_auto_prefers_openai_when_a_key_is_set(monkeypatch) -> None:
    monkeypatch.setenv("OPENAI_API_KEY", "sk-test")
    assert resolve_chat_model_name(load_settings()) == "openai"


def test_openai_without_a_key_is_a_clear_error(monkeypatch) -> None:
    monkeypatch.setenv("CLONR_CHAT_MODEL", "openai")
    with pytest.raises(ConfigError, match="OPENAI_API_KEY"):
        get_chat_model(load_settings())


@pytest.mark.real_model
def test_smollm2_streams_a_reply_with_token_usage(monkeypatch) -> None:
    monkeypatch.setenv("CLONR_CHAT_MODEL", "smollm2")
    monkeypatch.setenv("CLONR_REPLY_TOKENS", "24")
    model = get_chat_model(load_settings())
    assert isinstance(model, LlamaCppChatModel)
    chunks = list(model.stream([("system", "You are Ada Lovelace."), ("human", "Who are you?")]))
    text = "".join(c.text for c in chunks)
    assert len(chunks) > 3 and text.strip()
    usage = [c.usage_metadata for c in chunks if c.usage_metadata][-1]
    assert 0 < usage["output_tokens"] <= 24 and usage["input_tokens"] > 10
    assert model.get_num_tokens("hello world") == 2


@pytest.mark.real_model
def test_minilm_embeddings_capture_meaning(tmp_path: Path) -> None:
    embeddings = MiniLMEmbeddings(tmp_path)
    horse, pony, engine = np.array(embeddings.embed_documents(
        ["She rode her horse every morning.", "A pony galloped in the field.", "The steam engine's pistons."]))
    assert np.linalg.norm(horse) == pytest.approx(1.0, abs=1e-4)
    assert horse @ pony > horse @ engine + 0.1
    assert np.allclose(embeddings.embed_query("A pony galloped in the field."), pony, atol=1e-5)


@pytest.mark.real_model
def test_a_fan_who_comes_back_after_others_resumes_where_they_were(monkeypatch) -> None:
    """Fans take turns and background work runs in between: each returning fan's model reads only what is new,
    and a new fan starts from the persona another fan's turn read."""
    from clonr import Clonr

    monkeypatch.setenv("CLONR_CHAT_MODEL", "smollm2")
    monkeypatch.setenv("CLONR_REPLY_TOKENS", "16")
    app = Clonr(load_settings())
    runtime = app.chat_model.runtime()
    runtime.states.clear()
    read: list[int] = []
    evaluate = runtime.llama.eval
    monkeypatch.setattr(runtime.llama, "eval", lambda tokens: (read.append(len(tokens)), evaluate(tokens))[1])
    clone = app.clones.create("Ada Lovelace", "Mathematician.", "I was born in London in 1815. " * 40)

    def turn_with(whom, fan: str, message: str) -> int:
        read.clear()
        made = app.chat.start_turn(whom.id, message, fan_id=fan)
        assert made.text()
        return sum(read) - made.usage["output_tokens"]  # what was read before writing

    def turn(fan: str, message: str) -> int:
        return turn_with(clone, fan, message)

    first = turn("ann", "Hello, who are you?")
    assert first > 300, "the first fan's model reads the whole persona"
    other = app.clones.create("Charles Babbage", "Engineer.", "I designed the Difference Engine. " * 40)
    app.chat.warm(other)  # as the widget does when it starts serving a clone
    assert turn_with(other, "cleo", "Hello!") < 60, "a warmed clone's first fan reads only their own part"
    app.chat_model.invoke("Write one word.")  # background work in between takes over the context
    assert turn("bob", "Good morning!") < first / 3 and runtime.restored > 300, "the persona is read once"
    app.chat_model.invoke("Write one more word.")
    assert turn("ann", "Tell me about London.") < 120, "ann's conversation is resumed, not read again"
    assert runtime.restored > first
    assert len(runtime.states) == 4, "one state per conversation (and a warmed prefix): older ones are replaced"
