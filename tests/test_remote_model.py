"""llama.cpp's own server as Clonr's remote chat model: llama-cpp-python's OpenAI-compatible server
(`python -m llama_cpp.server`; its `[server]` extra is pinned in requirements-test.txt) runs the bundled SmolLM2 on
loopback, and Clonr talks to it as it would to vLLM, Ollama or OpenAI (`CLONR_CHAT_MODEL=openai`). The
embeddings stay the local MiniLM.

That server never sends token usage in a stream (it ignores `stream_options`), so the counts it reports are
read back from it separately: its own usage for the same prompt, and its tokenizer for the reply.
"""

from __future__ import annotations

import subprocess
import sys
import time
from collections.abc import Iterator

import httpx
import openai
import pytest

from clonr import Clonr, load_settings
from clonr.access import LOCAL_CREATOR
from clonr.llm import LOCAL_CHAT_MODELS, is_installed
from tests.test_widget import free_port, serve

pytestmark = pytest.mark.real_model

REPLY_TOKENS = 16
MODEL_ALIAS = "smollm2"
_ROLES = {"system": "system", "human": "user", "ai": "assistant"}


@pytest.fixture(scope="module")
def model_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """llama-cpp-python's server on a free loopback port, serving SmolLM2: its `/v1` base URL."""
    for module in ("llama_cpp", "sse_starlette", "starlette_context", "pydantic_settings"):
        pytest.importorskip(module, reason="needs llama-cpp-python's server: run scripts/setup")
    if not is_installed(LOCAL_CHAT_MODELS["smollm2"]):
        pytest.skip(f"needs SmolLM2: {LOCAL_CHAT_MODELS['smollm2'].install_hint}")
    port = free_port()
    log = tmp_path_factory.mktemp("llama-server") / "server.log"
    command = [sys.executable, "-m", "clonr", "model-server", "--model", MODEL_ALIAS, "--port", str(port),
               "--context", "2048"]  # what the deployment example runs (deploy/compose.yaml)
    with log.open("wb") as output:
        server = subprocess.Popen(command, stdout=output, stderr=subprocess.STDOUT)
    base = f"http://127.0.0.1:{port}/v1"
    try:
        deadline = time.monotonic() + 60
        while True:
            if server.poll() is not None:
                pytest.fail(f"llama_cpp.server exited with {server.returncode}:\n{log.read_text()[-2000:]}")
            try:
                if httpx.get(f"{base}/models", timeout=2).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            assert time.monotonic() < deadline, f"llama_cpp.server did not answer:\n{log.read_text()[-2000:]}"
            time.sleep(0.2)
        yield base
    finally:
        server.terminate()
        try:
            server.wait(10)
        except subprocess.TimeoutExpired:
            server.kill()
            server.wait()


@pytest.fixture
def remote_app(model_server: str, monkeypatch: pytest.MonkeyPatch) -> Iterator[Clonr]:
    """Clonr with the model server as its remote chat model, under the name the server reports."""
    [served] = httpx.get(f"{model_server}/models").json()["data"]
    monkeypatch.setenv("CLONR_CHAT_MODEL", "openai")
    monkeypatch.setenv("OPENAI_BASE_URL", model_server)
    monkeypatch.setenv("OPENAI_API_KEY", "no-key-needed")
    monkeypatch.setenv("CLONR_OPENAI_MODEL", served["id"])
    monkeypatch.setenv("CLONR_REPLY_TOKENS", str(REPLY_TOKENS))
    monkeypatch.setenv("CLONR_CONTEXT_TOKENS", "2048")  # the server's window
    monkeypatch.setenv("CLONR_IMPORTANCE", "heuristic")  # no background model calls racing the tests' own
    app = Clonr(load_settings())
    yield app
    app.worker.drain()


def server_counts(base: str, messages: list[dict[str, str]], reply: str) -> tuple[int, int]:
    """(prompt, reply) tokens as the model server counts them: its usage for `messages`, its tokenizer for
    `reply`."""
    asked = httpx.post(f"{base}/chat/completions", timeout=60,
                       json={"model": MODEL_ALIAS, "messages": messages, "max_tokens": 1}).json()
    root = base.removesuffix("/v1")
    counted = httpx.post(f"{root}/extras/tokenize/count", json={"input": reply}, timeout=10).json()
    return asked["usage"]["prompt_tokens"], counted["count"]


def as_openai(messages: list) -> list[dict[str, str]]:
    return [{"role": _ROLES[m.type], "content": m.text} for m in messages]


def assert_ledger_matches_server(row: dict, prompt: int, reply: int) -> None:
    """The ledger's counts are the server's: the reply exactly (one token either way, as a text's tokens may
    differ from the tokens generated), the prompt at least as many and at most half as many again (the
    server gives no usage in a stream, and Clonr's own estimate for a remote model is conservative)."""
    assert 0 < reply <= REPLY_TOKENS + 1, f"the reply is {reply} tokens: CLONR_REPLY_TOKENS={REPLY_TOKENS} ignored"
    assert abs(row["completion_tokens"] - reply) <= 1, (row["completion_tokens"], reply)
    assert prompt <= row["prompt_tokens"] <= prompt * 1.5, (row["prompt_tokens"], prompt)


def test_a_turn_streams_from_the_remote_model_into_the_ledger(remote_app: Clonr, model_server: str) -> None:
    clone = remote_app.clones.create("Ada Lovelace", "Mathematician.", greeting="Good day!")
    turn = remote_app.chat.start_turn(clone.id, "Hello! Who are you?", fan_id="studio")
    pieces = list(turn)
    assert len(pieces) > 1 and "".join(pieces).strip(), "streamed in pieces, not empty"
    stored = remote_app.chat.history(clone.id, "studio")
    assert [m.role for m in stored[-2:]] == ["user", "assistant"] and stored[-1].content == turn.reply
    [row] = remote_app.store.usage_rows()
    assert (row["status"], row["channel"], row["message_id"]) == ("complete", "studio", stored[-1].id)
    assert 0 <= row["first_token_ms"] <= row["total_ms"]
    assert_ledger_matches_server(row, *server_counts(model_server, as_openai(turn.plan.messages), turn.reply))


def test_the_openai_sdk_streams_through_clonr_and_the_remote_model(remote_app: Clonr, model_server: str) -> None:
    clone = remote_app.clones.publish(remote_app.clones.create("Ada Lovelace", "Mathematician.",
                                                               greeting="Good day!").id)
    made = remote_app.keys.create(LOCAL_CREATOR, "tests")
    actor = remote_app.keys.authenticate(made.secret)
    fan = remote_app.fans.end_user(actor, clone.id, "42")
    message = "Hello! Who are you?"
    sent = as_openai(remote_app.chat.preview(clone.id, fan.fan_id, message).plan.messages)
    with serve(remote_app) as url:
        stream = openai.OpenAI(base_url=f"{url}/v1", api_key=made.secret, max_retries=0).chat.completions.create(
            model=clone.slug, user="42", stream=True, stream_options={"include_usage": True},
            messages=[{"role": "user", "content": message}])
        chunks = list(stream)
    pieces = [c.choices[0].delta.content for c in chunks if c.choices and c.choices[0].delta.content]
    text = "".join(pieces)
    assert len(pieces) > 1 and text.strip()
    assert chunks[-1].choices == [] and chunks[-1].usage is not None, "a final usage chunk"
    [reply] = [m for m in remote_app.fans.history(actor, clone.id, fan.fan_id) if m.role == "assistant"]
    assert reply.content == text.strip()
    [row] = remote_app.store.usage_rows()
    assert (row["channel"], row["key_id"], row["status"]) == ("api", made.record.id, "complete")
    assert (chunks[-1].usage.prompt_tokens, chunks[-1].usage.completion_tokens) == \
        (row["prompt_tokens"], row["completion_tokens"]), "the API reports the ledger's count"
    assert_ledger_matches_server(row, *server_counts(model_server, sent, reply.content))
