"""`clonr serve`'s API beyond the OpenAI shape: its docs, the conversations API, Idempotency-Key, text
completions in the creator's voice, reply slots, and hang-ups under load — against the real server on loopback."""

from __future__ import annotations

import asyncio
import dataclasses
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import httpx
import openai
import pytest
from langchain_core.embeddings import DeterministicFakeEmbedding

from clonr import Clonr
from clonr.access import LOCAL_CREATOR, Creator
from clonr.fans import fingerprint
from clonr.store.schema import idempotency_keys
from tests.conftest import FakeChatModel
from tests.test_widget import serve

ADA = "ada-lovelace"


@pytest.fixture
def api(app: Clonr) -> Iterator[tuple[str, dict[str, str]]]:
    """(the server's URL, headers with a key of the local creator), with Ada published."""
    app.clones.publish(app.clones.create("Ada Lovelace", greeting="Good day!", short_description="Poet of numbers").id)
    secret = app.keys.create(LOCAL_CREATOR, "tests").secret
    with serve(app) as url:
        yield url, {"Authorization": f"Bearer {secret}"}


def ledger(app: Clonr) -> list[dict]:
    return app.store.usage_rows()


def test_the_api_documents_itself_at_docs(api: tuple[str, dict[str, str]]) -> None:
    url, _ = api
    schema = httpx.get(f"{url}/openapi.json").json()
    assert {"/v1/chat/completions", "/v1/completions", "/v1/models", "/v1/clones",
            "/v1/clones/{slug}/users/{user}/conversations/{conversation_id}/messages"} <= set(schema["paths"])
    assert "swagger-ui" in httpx.get(f"{url}/docs").text
    assert httpx.get(f"{url}/c/{ADA}/").status_code == 200, "the widget surface is served beside the API"


def test_an_end_user_has_several_conversations_and_one_memory(app: Clonr, api: tuple[str, dict[str, str]],
                                                            fake_chat: FakeChatModel) -> None:
    url, headers = api
    base = f"{url}/v1/clones/{ADA}/users/grace"
    assert httpx.get(f"{url}/v1/clones", headers=headers).json()["data"][0]["description"] == "Poet of numbers"
    assert httpx.get(f"{base}/conversations", headers=headers).json() == {"data": []}, "not met yet"
    first = httpx.post(f"{base}/conversations", headers=headers)
    second = httpx.post(f"{base}/conversations", headers=headers)
    assert first.status_code == 201 and first.json()["id"] != second.json()["id"]
    fake_chat.enqueue("A fine engine.", "Hello again.")
    said = httpx.post(f"{base}/conversations/{first.json()['id']}/messages", headers=headers,
                      json={"content": "I built an analytical engine."})
    assert said.status_code == 200, said.text
    exchange = said.json()
    assert (exchange["message"]["content"], exchange["reply"]["content"]) == \
        ("I built an analytical engine.", "A fine engine.")
    assert exchange["usage"]["completion_tokens"] == 3 and exchange["replayed"] is False
    app.worker.drain()  # the exchange becomes a memory of Grace
    httpx.post(f"{base}/conversations/{second.json()['id']}/messages", headers=headers,
               json={"content": "Do you remember my engine?"})
    history = [m.text for m in fake_chat.calls[-1] if m.type in ("human", "ai")]
    assert history == ["Good day!", "Do you remember my engine?"], "a new conversation starts afresh"
    assert "I built an analytical engine." in fake_chat.information(), "the clone remembers her across them"
    listed = httpx.get(f"{base}/conversations", headers=headers).json()["data"]
    assert [c["id"] for c in listed] == [first.json()["id"], second.json()["id"]]


def test_messages_come_in_pages_newest_page_first(api: tuple[str, dict[str, str]], fake_chat: FakeChatModel) -> None:
    url, headers = api
    base = f"{url}/v1/clones/{ADA}/users/7/conversations/default/messages"
    for n in range(3):
        fake_chat.enqueue(f"Reply {n}.")
        assert httpx.post(base, headers=headers, json={"content": f"Message {n}."}).status_code == 200
    page = httpx.get(base, headers=headers, params={"limit": 4}).json()
    assert [m["content"] for m in page["data"]] == ["Message 1.", "Reply 1.", "Message 2.", "Reply 2."]
    assert page["has_more"] is True
    older = httpx.get(base, headers=headers, params={"limit": 4, "before": page["next_before"]}).json()
    assert [m["content"] for m in older["data"]] == ["Message 0.", "Reply 0."] and older["has_more"] is False
    assert httpx.get(f"{url}/v1/clones/{ADA}/users/7/conversations", headers=headers).json()["data"][0]["id"] == \
        "default"


def test_a_streamed_post_sends_deltas_then_the_stored_exchange(api: tuple[str, dict[str, str]],
                                                               fake_chat: FakeChatModel) -> None:
    url, headers = api
    fake_chat.enqueue("Numbers can weave patterns.")
    answer = httpx.post(f"{url}/v1/clones/{ADA}/users/7/conversations/default/messages", headers=headers,
                        json={"content": "What can numbers do?", "stream": True})
    events = [block.split("\n", 1) for block in answer.text.strip().split("\n\n")]
    kinds = [kind.removeprefix("event: ") for kind, _ in events]
    assert kinds[-1] == "done" and set(kinds[:-1]) == {"delta"}
    assert "Numbers can weave patterns." in events[-1][1] and '"id"' in events[-1][1]


def test_the_same_idempotency_key_returns_the_stored_reply_once_charged(app: Clonr, api: tuple[str, dict[str, str]],
                                                                        fake_chat: FakeChatModel) -> None:
    url, headers = api
    post = f"{url}/v1/clones/{ADA}/users/7/conversations/default/messages"
    keyed = {**headers, "Idempotency-Key": "order-1"}
    fake_chat.enqueue("First answer.", "Second answer.")
    first = httpx.post(post, headers=keyed, json={"content": "Hello?"})
    again = httpx.post(post, headers=keyed, json={"content": "Hello?"})
    assert again.json()["reply"] == first.json()["reply"] and again.json()["replayed"] is True
    assert len(ledger(app)) == 1, "charged once"
    other = httpx.post(post, headers=keyed, json={"content": "Something else"})
    assert other.status_code == 422 and other.json()["error"]["code"] == "idempotency_key_reused"
    openai_again = [openai.OpenAI(base_url=f"{url}/v1", api_key=headers["Authorization"][7:]).chat.completions.create(
        model=ADA, user="8", messages=[{"role": "user", "content": "Hi"}],
        extra_headers={"Idempotency-Key": "chat-1"}).choices[0].message.content for _ in range(2)]
    assert openai_again == ["Second answer.", "Second answer."] and len(ledger(app)) == 2


def test_a_key_whose_first_request_still_runs_gets_409_and_a_dead_ones_key_is_taken_over(
        app: Clonr, api: tuple[str, dict[str, str]], fake_chat: FakeChatModel) -> None:
    url, headers = api
    post = f"{url}/v1/clones/{ADA}/users/7/conversations/default/messages"
    body, keyed = {"content": "Hello?"}, {**headers, "Idempotency-Key": "busy-1"}
    fake_chat.word_delay_s = 0.2
    fake_chat.enqueue("one two three four five")
    with httpx.Client() as client, client.stream("POST", post, headers=keyed, json={**body, "stream": True}) as first:
        lines = first.iter_lines()
        next(lines)  # the first request is answering
        busy = client.post(post, headers=keyed, json=body)
        assert busy.status_code == 409 and busy.json()["error"]["code"] == "idempotency_key_in_use"
        assert "event: done" in "\n".join(lines)
    fake_chat.word_delay_s = 0.0
    # A process that claimed its key long ago and never stored a reply died (kill -9): a retry answers.
    actor = app.keys.authenticate(headers["Authorization"][7:])
    fan = app.fans.end_user(actor, ADA, "7")
    request = fingerprint(fan.clone_id, fan.fan_id, "", "Hello?", None)
    app.store.claim_idempotency_key(actor.key_id, "dead-1", request, datetime.now(UTC))
    with app.store._transaction() as connection:
        connection.execute(idempotency_keys.update().where(idempotency_keys.c.idempotency_key == "dead-1")
                           .values(started_at=datetime.now(UTC) - timedelta(hours=1)))
    assert httpx.post(post, headers={**headers, "Idempotency-Key": "dead-1"}, json=body).status_code == 200


def test_a_failed_reply_frees_its_idempotency_key(app: Clonr, api: tuple[str, dict[str, str]],
                                                 fake_chat: FakeChatModel) -> None:
    url, headers = api
    post = f"{url}/v1/clones/{ADA}/users/7/conversations/default/messages"
    keyed = {**headers, "Idempotency-Key": "retry-me"}
    fake_chat.fail_with(ConnectionError("model server down"))
    failed = httpx.post(post, headers=keyed, json={"content": "Hello?"})
    assert failed.status_code == 502 and "reference" in failed.json()["error"]["message"]
    fake_chat.failure = None
    fake_chat.enqueue("Back again.")
    assert httpx.post(post, headers=keyed, json={"content": "Hello?"}).json()["reply"]["content"] == "Back again."


def test_deleting_an_end_user_forgets_them(app: Clonr, api: tuple[str, dict[str, str]]) -> None:
    url, headers = api
    base = f"{url}/v1/clones/{ADA}/users/gone"
    httpx.post(f"{base}/conversations/default/messages", headers=headers, json={"content": "Remember me."})
    httpx.post(f"{base}/conversations", headers=headers)
    app.worker.drain()
    assert httpx.delete(base, headers=headers).status_code == 204
    assert httpx.get(f"{base}/conversations", headers=headers).json() == {"data": []}
    missing = httpx.get(f"{base}/conversations/default/messages", headers=headers)
    assert missing.status_code == 404 and missing.headers["x-ratelimit-limit-requests"], "rate headers on errors"
    assert httpx.delete(base, headers=headers).status_code == 404


def test_completions_continue_a_text_in_the_creators_voice(app: Clonr, api: tuple[str, dict[str, str]],
                                                           fake_chat: FakeChatModel) -> None:
    url, headers = api
    app.dialogues.add(app.clones.get(ADA).id, "How do you write?", "With a poetical science, dear friend.")
    client = openai.OpenAI(base_url=f"{url}/v1", api_key=headers["Authorization"][7:])
    fake_chat.enqueue("engines may compose music.", "and so on.")
    whole = client.completions.create(model=ADA, prompt="I believe that")
    assert whole.choices[0].text == "engines may compose music." and whole.usage.completion_tokens == 4
    assert "With a poetical science, dear friend." in fake_chat.prompt(), "her own words are the style"
    streamed = "".join(c.choices[0].text for c in client.completions.create(model=ADA, prompt="Next,", stream=True))
    assert streamed == "and so on."
    rows = ledger(app)
    assert [(r["channel"], r["message_id"], r["status"]) for r in rows] == [("api", None, "complete")] * 2
    assert app.fans.history(LOCAL_CREATOR, ADA, rows[0]["fan_id"]) == [], "a draft is not a message"


ENDPOINTS = [
    ("GET", "/v1/models", None), ("GET", "/v1/clones", None), ("GET", f"/v1/clones/{ADA}", None),
    ("POST", "/v1/chat/completions", {"model": ADA, "messages": [{"role": "user", "content": "Hi"}]}),
    ("POST", "/v1/completions", {"model": ADA, "prompt": "Dear"}),
    ("POST", f"/v1/clones/{ADA}/users/u/conversations", None),
    ("GET", f"/v1/clones/{ADA}/users/u/conversations", None),
    ("POST", f"/v1/clones/{ADA}/users/u/conversations/default/messages", {"content": "Hi"}),
    ("GET", f"/v1/clones/{ADA}/users/u/conversations/default/messages", None),
    ("DELETE", f"/v1/clones/{ADA}/users/u", None),
    ("GET", "/v1/usage?by=clone", None),
]


LISTS = ("/v1/models", "/v1/clones", "/v1/usage?by=clone")  # answer every key, each with what is its own


@pytest.mark.parametrize("method,path,body", ENDPOINTS, ids=[f"{m} {p}" for m, p, _ in ENDPOINTS])
def test_every_endpoint_answers_only_a_key_that_may_use_the_clone(
        app: Clonr, api: tuple[str, dict[str, str]], method: str, path: str, body: dict | None) -> None:
    url, headers = api
    owner = app.keys.authenticate(headers["Authorization"][7:])
    bob = app.clones.create("Bob")
    app.clones.publish(bob.id)
    revoked = app.keys.create(LOCAL_CREATOR, "revoked")
    app.keys.revoke(LOCAL_CREATOR, revoked.record.prefix)
    keys = {
        "owner": headers["Authorization"][7:],
        "other creator": app.keys.create(Creator("someone-else"), "theirs").secret,
        "limited to another clone": app.keys.create(LOCAL_CREATOR, "bob only", clone_ids=[bob.id]).secret,
        "revoked": revoked.secret,
        "expired": app.keys.create(LOCAL_CREATOR, "old", expires_in=timedelta(seconds=-1)).secret,
        "none": "",
    }
    for secret in (headers["Authorization"][7:], keys["other creator"], keys["limited to another clone"]):
        httpx.post(f"{url}/v1/chat/completions", headers={"Authorization": f"Bearer {secret}"}, json={
            "model": ADA, "user": "u", "messages": [{"role": "user", "content": "Hello"}]})  # u has data to reach
    got = {}
    for name, secret in keys.items():
        presented = {"Authorization": f"Bearer {secret}"} if secret else {}
        answer = httpx.request(method, url + path, json=body, headers=presented)
        if path in LISTS and answer.status_code == 200:
            listed = [m.get("id") or m.get("slug") or m.get("group") for m in answer.json()["data"]]
            got[name] = "allow" if ADA in listed else "refuse"
        else:
            got[name] = "allow" if answer.status_code < 300 else f"refuse {answer.status_code}"
        assert "Traceback" not in answer.text and owner.owner_id not in answer.text.replace(ADA, "")
        if name == "none":
            assert answer.json()["error"]["message"].startswith("No API key: send `Authorization: Bearer")
    hidden = "refuse" if path in LISTS else "refuse 404"  # not listed, or not found
    assert got == {"owner": "allow", "other creator": hidden, "limited to another clone": hidden,
                   "revoked": "refuse 401", "expired": "refuse 401", "none": "refuse 401"}


def test_with_one_reply_slot_and_no_queue_the_next_request_is_told_to_retry(
        app: Clonr, fake_chat: FakeChatModel) -> None:
    busy = Clonr(dataclasses.replace(app.settings, api_concurrency=1, api_queue=0), chat_model=fake_chat,
                 embeddings=DeterministicFakeEmbedding(size=32))
    busy.clones.publish(busy.clones.create("Ada Lovelace").id)
    headers = {"Authorization": f"Bearer {busy.keys.create(LOCAL_CREATOR, 'tests').secret}"}
    fake_chat.word_delay_s = 0.3
    fake_chat.enqueue("one two three four five six")
    body = {"model": ADA, "messages": [{"role": "user", "content": "Hi"}]}
    with serve(busy) as url, httpx.Client() as client, client.stream(
            "POST", f"{url}/v1/chat/completions", headers=headers, json={**body, "stream": True}) as first:
        lines = first.iter_lines()
        next(lines)
        refused = client.post(f"{url}/v1/chat/completions", headers=headers, json=body)
        assert refused.status_code == 503 and refused.headers["retry-after"] == "5"
        assert "".join(lines).endswith("data: [DONE]")
    fake_chat.word_delay_s = 0.0
    busy.worker.drain()


def test_fifty_streams_some_hanging_up_leave_exactly_one_ledger_row_each(
        app: Clonr, fake_chat: FakeChatModel) -> None:
    """A remote-model server with 8 reply slots: 50 clients stream at once, every fifth hangs up after its
    first piece. Each request leaves one ledger row: complete, or interrupted for those that hung up."""
    many = Clonr(dataclasses.replace(app.settings, api_concurrency=8, key_request_limit="1000/minute",
                                     fan_message_limit="1000/minute", address_message_limit="1000/minute"),
                 chat_model=fake_chat, embeddings=DeterministicFakeEmbedding(size=32))
    many.clones.publish(many.clones.create("Ada Lovelace").id)
    secret = many.keys.create(LOCAL_CREATOR, "load").secret
    fake_chat.default_reply = " ".join(f"word{n}" for n in range(12))
    fake_chat.word_delay_s = 0.02

    async def one(client: openai.AsyncOpenAI, n: int) -> str:
        stream = await client.chat.completions.create(model=ADA, user=f"user-{n}", stream=True,
                                                      messages=[{"role": "user", "content": f"Hello {n}"}])
        async for chunk in stream:
            if n % 5 == 0 and chunk.choices and chunk.choices[0].delta.content:
                await stream.close()  # hang up mid-reply
                return "hung up"
        return "complete"

    async def all_of_them(url: str) -> list[str]:
        client = openai.AsyncOpenAI(base_url=f"{url}/v1", api_key=secret, max_retries=0)
        return await asyncio.gather(*(one(client, n) for n in range(50)))

    with serve(many) as url:
        outcomes = asyncio.run(all_of_them(url))
        deadline = time.monotonic() + 10  # a hung-up reply is stored when its model stops, just after
        while len(many.store.usage_rows()) < 50 and time.monotonic() < deadline:
            time.sleep(0.1)
    fake_chat.word_delay_s = 0.0
    rows = many.store.usage_rows()
    assert len(rows) == 50 and len({r["fan_id"] for r in rows}) == 50, "one row per request"
    by_fan = {r["fan_id"]: r["status"] for r in rows}
    assert sorted(by_fan.values()) == sorted("interrupted" if o == "hung up" else "complete" for o in outcomes)
    assert outcomes.count("hung up") == 10
    many.worker.drain()


def test_each_end_user_has_their_own_message_limit(app: Clonr, fake_chat: FakeChatModel) -> None:
    limited = Clonr(dataclasses.replace(app.settings, fan_message_limit="2/minute"), chat_model=fake_chat,
                    embeddings=DeterministicFakeEmbedding(size=32))
    limited.clones.publish(limited.clones.create("Ada Lovelace").id)
    headers = {"Authorization": f"Bearer {limited.keys.create(LOCAL_CREATOR, 'tests').secret}"}

    def say(url: str, user: str) -> httpx.Response:
        return httpx.post(f"{url}/v1/clones/{ADA}/users/{user}/conversations/default/messages", headers=headers,
                          json={"content": "Hello"})

    with serve(limited) as url:
        codes = [say(url, "a").status_code for _ in range(3)]
        refused = say(url, "a")
        other = say(url, "b")
    assert codes == [200, 200, 429] and refused.json()["error"]["code"] == "rate_limit_exceeded"
    assert 1 <= int(refused.headers["retry-after"]) <= 60 and refused.headers["x-ratelimit-limit-requests"]
    assert other.status_code == 200, "another end user of the same key is not held up"
    limited.worker.drain()
