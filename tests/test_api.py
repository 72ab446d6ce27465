"""The OpenAI-compatible API, driven by the official `openai` SDK (sync and async, streamed and not) and
LangChain's `ChatOpenAI`, against the real server on loopback."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Iterator
from datetime import timedelta

import httpx
import openai
import pytest
from click.testing import CliRunner, Result
from langchain_core.embeddings import DeterministicFakeEmbedding
from langchain_openai import ChatOpenAI

from clonr import Clonr, load_settings
from clonr.access import LOCAL_CREATOR, Creator
from clonr.cli import LazyApp, cli
from tests.conftest import FakeChatModel
from tests.test_widget import serve


@pytest.fixture
def api(app: Clonr) -> Iterator[tuple[str, str]]:
    """(the API's base URL, a key of the local creator), with Ada published."""
    app.clones.publish(app.clones.create("Ada Lovelace", greeting="Good day!").id)
    secret = app.keys.create(LOCAL_CREATOR, "tests").secret
    with serve(app) as url:
        yield f"{url}/v1", secret


def test_models_are_the_key_owners_published_clones(app: Clonr, api: tuple[str, str]) -> None:
    base, secret = api
    app.clones.create("Draft")
    other = app.clones.acting_as(Creator("someone-else"))
    other.publish(other.create("Charles Babbage").id)
    assert [m.id for m in openai.OpenAI(base_url=base, api_key=secret).models.list()] == ["ada-lovelace"]


def test_the_sdk_chats_and_the_clone_remembers_each_end_user(app: Clonr, api: tuple[str, str],
                                                             fake_chat: FakeChatModel) -> None:
    base, secret = api
    client = openai.OpenAI(base_url=base, api_key=secret)
    fake_chat.enqueue("Hello, Grace.", "Hello, stranger.", "You told me: Grace.")
    first = client.chat.completions.create(model="ada-lovelace", user="42",
                                           messages=[{"role": "user", "content": "I am Grace."}])
    assert first.choices[0].message.content == "Hello, Grace." and first.usage.completion_tokens == 2
    client.chat.completions.create(model="ada-lovelace", user="43", messages=[{"role": "user", "content": "Hi"}])
    again = client.chat.completions.create(model="ada-lovelace", user="42", messages=[
        {"role": "user", "content": "I am Grace."}, {"role": "assistant", "content": "Hello, Grace."},
        {"role": "user", "content": "Who am I?"}])
    assert again.choices[0].message.content == "You told me: Grace."
    assert "I am Grace." in fake_chat.prompt() and "Hi" not in fake_chat.prompt().split("\n"), \
        "user 42's own history is the context; user 43's is not"
    fan = app.fans.end_user(app.keys.authenticate(secret), "ada-lovelace", "42")
    history = [m.content for m in app.fans.history(app.keys.authenticate(secret), "ada-lovelace", fan.fan_id)]
    assert history == ["I am Grace.", "Hello, Grace.", "Who am I?", "You told me: Grace."], \
        "only the last user message of a resent conversation is new"


def test_a_streamed_reply_ends_with_usage_and_done(api: tuple[str, str], fake_chat: FakeChatModel) -> None:
    base, secret = api
    fake_chat.enqueue("Poetical science is imagination.")
    stream = openai.OpenAI(base_url=base, api_key=secret).chat.completions.create(
        model="ada-lovelace", user="42", stream=True, stream_options={"include_usage": True},
        messages=[{"role": "user", "content": "What is poetical science?"}])
    chunks = list(stream)
    assert "".join(c.choices[0].delta.content or "" for c in chunks if c.choices) == \
        "Poetical science is imagination."
    assert chunks[-1].choices == [] and chunks[-1].usage.completion_tokens == 4
    raw = httpx.post(f"{base}/chat/completions", headers={"Authorization": f"Bearer {secret}"}, json={
        "model": "ada-lovelace", "stream": True, "messages": [{"role": "user", "content": "Again?"}]})
    assert raw.text.rstrip().endswith("data: [DONE]")


def test_the_async_sdk_and_langchain_work_unchanged(api: tuple[str, str], fake_chat: FakeChatModel) -> None:
    base, secret = api
    fake_chat.enqueue("Async hello.", "LangChain hello.")

    async def ask() -> str:
        client = openai.AsyncOpenAI(base_url=base, api_key=secret)
        reply = await client.chat.completions.create(model="ada-lovelace", user="7",
                                                     messages=[{"role": "user", "content": "Hi"}])
        return reply.choices[0].message.content

    assert asyncio.run(ask()) == "Async hello."
    chat = ChatOpenAI(base_url=base, api_key=secret, model="ada-lovelace")
    assert chat.invoke("Hi again").content == "LangChain hello."


@pytest.mark.parametrize("which", ["none", "wrong", "revoked", "expired", "other creator's"])
def test_keys_that_name_nobody_or_another_creator_get_openai_errors(app: Clonr, api: tuple[str, str],
                                                                   which: str) -> None:
    base, secret = api
    if which == "revoked":
        app.keys.revoke(LOCAL_CREATOR, secret.split("_")[1])
    presented = {
        "none": "", "wrong": secret[:-4] + "abcd", "revoked": secret,
        "expired": app.keys.create(LOCAL_CREATOR, "old", expires_in=timedelta(seconds=-1)).secret,
        "other creator's": app.keys.create(Creator("someone-else"), "theirs").secret}[which]
    client = openai.OpenAI(base_url=base, api_key=presented or "missing", max_retries=0)
    expected = openai.NotFoundError if which == "other creator's" else openai.AuthenticationError
    with pytest.raises(expected) as raised:
        client.chat.completions.create(model="ada-lovelace", messages=[{"role": "user", "content": "Hi"}])
    assert raised.value.body["message"] and "Traceback" not in str(raised.value.body)


def test_a_failing_model_is_one_line_with_a_reference(api: tuple[str, str], fake_chat: FakeChatModel) -> None:
    base, secret = api
    fake_chat.fail_with(ConnectionError("upstream 10.0.0.5:8000 refused"))
    with pytest.raises(openai.APIStatusError) as raised:
        openai.OpenAI(base_url=base, api_key=secret, max_retries=0).chat.completions.create(
            model="ada-lovelace", messages=[{"role": "user", "content": "Hi"}])
    assert raised.value.status_code == 502 and "reference" in raised.value.body["message"]
    assert "10.0.0.5" not in str(raised.value.body)


def test_a_malformed_request_gets_a_400_in_openais_shape(api: tuple[str, str]) -> None:
    base, secret = api
    answer = httpx.post(f"{base}/chat/completions", headers={"Authorization": f"Bearer {secret}"},
                        json={"model": "ada-lovelace", "messages": "not a list"})
    assert answer.status_code == 400 and answer.json()["error"]["param"] == "messages"


def test_keys_are_made_listed_and_revoked_from_the_cli(app: Clonr, api: tuple[str, str]) -> None:
    base, _ = api

    def run(*args: str) -> Result:
        result = CliRunner().invoke(cli, list(args), obj=LazyApp(app))
        assert result.exit_code == 0, result.output
        return result

    made = run("keys", "create", "My app", "--clone", "ada-lovelace", "--expires-days", "30")
    secret = made.stdout.strip()
    assert secret.startswith("clonr_") and "not stored" in made.stderr
    assert [m.id for m in openai.OpenAI(base_url=base, api_key=secret).models.list()] == ["ada-lovelace"]
    listed = json.loads(run("keys", "list", "--json").stdout)
    mine = next(k for k in listed if k["name"] == "My app")
    assert secret not in json.dumps(listed) and mine["clones"] != "all" and mine["last_used_at"]
    assert app.store.api_key_by_prefix(mine["prefix"]).secret_hash != secret, "only a hash is kept"
    run("keys", "revoke", mine["prefix"])
    with pytest.raises(openai.AuthenticationError, match="revoked"):
        openai.OpenAI(base_url=base, api_key=secret, max_retries=0).models.list()


def test_every_answer_tells_the_keys_rate_limits_and_a_spent_key_gets_429(
        app: Clonr, fake_chat: FakeChatModel, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CLONR_KEY_REQUEST_LIMIT", "3/minute")
    limited = Clonr(load_settings(), chat_model=fake_chat, embeddings=DeterministicFakeEmbedding(size=32))
    limited.clones.publish(limited.clones.create("Ada Lovelace").id)
    secret = limited.keys.create(LOCAL_CREATOR, "tests").secret
    headers = {"Authorization": f"Bearer {secret}"}
    body = {"model": "ada-lovelace", "messages": [{"role": "user", "content": "Hi"}]}
    with serve(limited) as url:
        listed = httpx.get(f"{url}/v1/models", headers=headers)
        replied = httpx.post(f"{url}/v1/chat/completions", headers=headers, json=body)
        streamed = httpx.post(f"{url}/v1/chat/completions", headers=headers, json={**body, "stream": True})
        refused = httpx.post(f"{url}/v1/chat/completions", headers=headers, json=body)
    assert [a.headers["x-ratelimit-remaining-requests"] for a in (listed, replied, streamed)] == ["2", "1", "0"]
    assert all(a.headers["x-ratelimit-limit-requests"] == "3" for a in (listed, replied, streamed, refused))
    tokens_left = [int(a.headers["x-ratelimit-remaining-tokens"]) for a in (replied, streamed)]
    assert tokens_left[0] > tokens_left[1], "the first reply's tokens were counted"
    assert refused.status_code == 429 and refused.json()["error"]["code"] == "rate_limit_exceeded"
    assert 1 <= int(refused.headers["retry-after"]) <= 60
    limited.worker.drain()
