"""Chat exports in each format become the creator's voice (dialogue candidates) and context."""

from __future__ import annotations

import io
import json
import zipfile
from datetime import datetime
from pathlib import Path

import pytest

from clonr import Clonr
from clonr.errors import InvalidInputError
from clonr.ingest.chats import dialogue_candidates, parse_chat, resolve_me

LIMIT = 5_000_000

ANDROID_US = """\
12/31/21, 11:58 PM - Messages and calls are end-to-end encrypted. No one outside of this chat, not even WhatsApp, \
can read or listen to them. Tap to learn more.
12/31/21, 11:59 PM - Bob: Happy new year soon!
Are you coming to the party?
12/31/21, 11:59 PM - Ada Lovelace: <Media omitted>
1/1/22, 12:01 AM - Ada Lovelace: Yes! On my way
1/1/22, 12:02 AM - Ada Lovelace: bringing the cake <This message was edited>
1/1/22, 12:03 AM - Carol joined using this group's invite link
1/1/22, 12:04 AM - Bob: This message was deleted
"""

IOS_EU = (
    "[31/12/2021, 23:59:07] Bob: Where are you?\n"
    "[01/01/2022, 00:00:02] \u200eAda Lovelace: \u200eimage omitted\n"
    "[01/01/2022, 00:00:09] Ada Lovelace: Stuck on the train, sorry: the engine broke\n"
    "[13/01/2022, 09:15:00] \u200eAda Lovelace: \u200e<attached: 00000012-PHOTO-2022-01-13.jpg>\n"
)

GERMAN = "31.12.21, 23:59 - Bob: Kommst du?\n01.01.22, 00:10 - Ada Lovelace: Ja, gleich!\n"

NEW_IOS_12H = "[1/2/24, 9:05:01\u202fPM] Bob: ping\n[1/2/24, 9:06:00\u202fPM] Ada Lovelace: pong\n"


def test_whatsapp_android_us_export() -> None:
    log = parse_chat("WhatsApp Chat with Bob.txt", ANDROID_US.encode(), LIMIT)
    messages = log.conversations[0]
    assert log.title == "WhatsApp: Bob" and log.format == "whatsapp"
    assert [(m.sender, m.text) for m in messages] == [
        ("Bob", "Happy new year soon!\nAre you coming to the party?"),
        ("Ada Lovelace", "Yes! On my way"), ("Ada Lovelace", "bringing the cake")]
    assert messages[0].time == datetime(2021, 12, 31, 23, 59) and messages[1].time == datetime(2022, 1, 1, 0, 1)


@pytest.mark.parametrize("export, first_time, last_text", [
    (IOS_EU, datetime(2021, 12, 31, 23, 59, 7), "Stuck on the train, sorry: the engine broke"),
    (GERMAN, datetime(2021, 12, 31, 23, 59), "Ja, gleich!"),
    (NEW_IOS_12H, datetime(2024, 1, 2, 21, 5, 1), "pong"),
])
def test_whatsapp_date_formats(export: str, first_time: datetime, last_text: str) -> None:
    messages = parse_chat("chat.txt", export.encode(), LIMIT).conversations[0]
    assert messages[0].time == first_time and messages[-1].text == last_text
    assert all("omitted" not in m.text and "attached" not in m.text for m in messages)


def test_whatsapp_zip_is_read_in_memory_whatever_its_member_names() -> None:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("../../../etc/cron.d/evil.txt", "* * * * * root rm -rf /")
        archive.writestr("_chat.txt", GERMAN)
        archive.writestr("00000012-PHOTO.jpg", b"\xff\xd8")
    log = parse_chat("WhatsApp Chat - Bob.zip", buffer.getvalue(), LIMIT)
    assert [m.text for m in log.conversations[0]] == ["Kommst du?", "Ja, gleich!"]
    assert not Path("etc").exists() and not Path("/etc/cron.d/evil.txt").exists()


def test_telegram_desktop_export_with_formatting_service_lines_and_media() -> None:
    export = {"name": "Bob", "type": "personal_chat", "id": 1, "messages": [
        {"id": 1, "type": "service", "date": "2023-05-01T10:00:00", "actor": "Bob", "action": "phone_call"},
        {"id": 2, "type": "message", "date": "2023-05-01T10:01:00", "from": "Bob", "from_id": "user2",
         "text": ["Have you read ", {"type": "bold", "text": "the Notes"}, "?"]},
        {"id": 3, "type": "message", "date": "2023-05-01T10:02:00", "from": "Ada", "from_id": "user1",
         "photo": "photos/photo_1.jpg", "text": ""},
        {"id": 4, "type": "message", "date": "2023-05-01T10:03:00", "from": "Ada", "from_id": "user1",
         "text": "I wrote them!"},
    ]}
    log = parse_chat("result.json", json.dumps(export).encode(), LIMIT)
    assert log.format == "telegram" and log.title == "Telegram: Bob"
    assert [(m.sender, m.text) for m in log.conversations[0]] == [("Bob", "Have you read the Notes?"),
                                                                  ("Ada", "I wrote them!")]
    whole_account = {"about": "", "chats": {"list": [export, {**export, "name": "Carol"}]}}
    assert len(parse_chat("result.json", json.dumps(whole_account).encode(), LIMIT).conversations) == 2


def test_discord_export_skips_system_messages_bots_and_bare_attachments() -> None:
    export = {"guild": {"name": "Engines"}, "channel": {"name": "general"}, "messages": [
        {"id": "1", "type": "GuildMemberJoin", "timestamp": "2023-01-01T10:00:00+00:00", "content": "",
         "author": {"name": "bob"}},
        {"id": "2", "type": "Default", "timestamp": "2023-01-01T10:01:00+00:00", "content": "who wrote the notes?",
         "author": {"name": "bob", "nickname": "Bob"}},
        {"id": "3", "type": "Reply", "timestamp": "2023-01-01T10:02:00.123+00:00", "content": "me :)",
         "author": {"name": "ada_l", "nickname": "Ada"}},
        {"id": "4", "type": "Default", "timestamp": "2023-01-01T10:03:00+00:00", "content": "",
         "attachments": [{"fileName": "x.png"}], "author": {"name": "ada_l", "nickname": "Ada"}},
        {"id": "5", "type": "Default", "timestamp": "2023-01-01T10:04:00+00:00", "content": "Level up!",
         "author": {"name": "MEE6", "isBot": True}},
    ]}
    log = parse_chat("general.json", json.dumps(export).encode(), LIMIT)
    assert log.title == "Discord: Engines #general"
    assert [(m.sender, m.text) for m in log.conversations[0]] == [("Bob", "who wrote the notes?"), ("Ada", "me :)")]


def test_generic_csv_with_flexible_headers() -> None:
    data = "Date,From,Message\n2023-01-01 10:00,Bob,\"hi,\nthere\"\n2023-01-01 10:01,Ada,hello\n,,\n"
    log = parse_chat("sms.csv", data.encode(), LIMIT)
    assert [(m.sender, m.text) for m in log.conversations[0]] == [("Bob", "hi,\nthere"), ("Ada", "hello")]
    assert log.conversations[0][0].time == datetime(2023, 1, 1, 10, 0)


@pytest.mark.parametrize("name, data, message", [
    ("chat.txt", b"just some notes\nwith no dates", "not a WhatsApp export"),
    ("chat.json", b'{"messages": [', "not valid JSON"),
    ("chat.json", b'{"hello": "world"}', "neither a Telegram"),
    ("chat.csv", b"a,b\n1,2\n", "sender and text columns"),
    ("chat.zip", b"PK\x03\x04broken", "not a readable .zip"),
    ("chat.pdf", b"%PDF", "a chat export is"),
    ("chat.txt", b"12/31/21, 11:58 PM - Bob joined", "no chat messages"),
])
def test_malformed_exports_get_one_line_errors(name: str, data: bytes, message: str) -> None:
    with pytest.raises(InvalidInputError, match=message) as caught:
        parse_chat(name, data, LIMIT)
    assert "\n" not in str(caught.value)


def test_an_unknown_me_lists_the_senders() -> None:
    log = parse_chat("chat.txt", ANDROID_US.encode(), LIMIT)
    assert resolve_me(log, "ada lovelace") == "Ada Lovelace"
    with pytest.raises(InvalidInputError, match="use --me with one of: Ada Lovelace, Bob"):
        resolve_me(log, "Ada")


def test_dialogue_candidates_pair_what_was_said_with_the_creators_answer() -> None:
    log = parse_chat("chat.txt", (ANDROID_US + "1/2/22, 11:00 AM - Bob: thanks for the cake\n"
                                  "1/2/22, 11:05 PM - Ada Lovelace: anytime\n").encode(), LIMIT)
    candidates = dialogue_candidates(log, "Ada Lovelace")
    assert [(c.user_text, c.char_text) for c in candidates] == [
        ("Happy new year soon!\nAre you coming to the party?", "Yes! On my way\nbringing the cake")]
    # "anytime" came 12 hours after Bob's thanks, and Bob's thanks a day after the cake: neither is a reply.
    assert dialogue_candidates(log, "Bob") == []


def test_a_chat_export_is_ingested_as_context_with_candidates(app: Clonr, tmp_path: Path) -> None:
    ada = app.clones.create("Ada")
    path = tmp_path / "WhatsApp Chat with Bob.txt"
    path.write_text(ANDROID_US, encoding="utf-8")
    result = app.ingest.add_chat("ada", path, me="ada lovelace")
    assert result.created and result.source.kind == "chat" and result.candidates == 1
    chunk = app.index_for(ada).get_by_ids([f"{result.source.id}:0"])[0]
    assert "Bob: Happy new year soon!" in chunk.page_content and "Ada Lovelace: Yes! On my way" in chunk.page_content
    assert chunk.metadata["speakers"] == "Ada Lovelace, Bob" and chunk.metadata["at"] == "2021-12-31T23:59:00"
    [candidate] = app.ingest.dialogue_candidates("ada")
    assert candidate.char_text == "Yes! On my way\nbringing the cake"
    kept = app.dialogues.promote_candidate("ada", candidate.id)
    assert (kept.user_text, kept.char_text, kept.origin) == (candidate.user_text, candidate.char_text, "chat")
    assert not app.ingest.add_chat("ada", path, me="Ada Lovelace").created, "importing twice is a no-op"
    app.ingest.delete_source("ada", result.source.id)
    assert app.ingest.dialogue_candidates("ada") == []
    assert [d.origin for d in app.dialogues.list("ada")] == ["chat"], "a kept example outlives its source"
