"""Chat exports → the creator's voice and the context around it.

Reads WhatsApp's exported chat (.txt, or the .zip the phone shares, read in memory and never unpacked to disk),
Telegram Desktop's JSON export (one chat or the whole account), DiscordChatExporter's JSON, and a generic
CSV of timestamp, sender, text. System lines, media placeholders and deleted messages are dropped;
multi-line messages are kept whole. The creator names which sender is them: their lines become candidate
example dialogues (what someone said → what the creator answered), and the whole chat becomes context.
"""

from __future__ import annotations

import csv
import io
import itertools
import re
import zipfile
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import PurePath
from typing import Any

from clonr.errors import InvalidInputError
from clonr.ingest.documents import Document, Part
from clonr.ingest.files import decode_text, load_json, read_zip_member
from clonr.ingest.untrusted import valid_text

__all__ = ["CHAT_SUFFIXES", "ChatLog", "ChatMessage", "DialogueCandidate", "chat_document", "dialogue_candidates",
           "parse_chat"]

CHAT_SUFFIXES = (".txt", ".zip", ".json", ".csv")
_REPLY_WINDOW = timedelta(hours=6)  # an answer later than this is a new conversation, not a reply


@dataclass(frozen=True)
class ChatMessage:
    sender: str
    text: str
    time: datetime | None = None


@dataclass(frozen=True)
class ChatLog:
    format: str  # whatsapp, telegram, discord, csv
    title: str
    conversations: tuple[tuple[ChatMessage, ...], ...]

    @property
    def senders(self) -> list[str]:
        return sorted({m.sender for conversation in self.conversations for m in conversation})

    @property
    def message_count(self) -> int:
        return sum(len(c) for c in self.conversations)


@dataclass(frozen=True)
class DialogueCandidate:
    """A candidate example dialogue: what someone said, and how the creator answered."""

    user_text: str
    char_text: str
    time: datetime | None


def parse_chat(name: str, data: bytes, max_bytes: int) -> ChatLog:
    """Read a chat export, recognising its format from its name and contents."""
    name = valid_text(PurePath(name).name) or "chat"  # a name that is not UTF-8 could be neither shown nor stored
    suffix = PurePath(name.strip()).suffix.lower()
    if suffix == ".zip":
        name, data = _text_from_zip(name, data, max_bytes)
        suffix = ".txt"
    if suffix not in CHAT_SUFFIXES:
        raise InvalidInputError(f"{name}: a chat export is a WhatsApp .txt/.zip, a Telegram or Discord .json, "
                                "or a .csv of timestamp, sender, text.")
    text = decode_text(data, name, max_bytes)
    if suffix == ".txt":
        log = _whatsapp(name, text)
    elif suffix == ".csv":
        log = _csv(name, text)
    else:
        log = _json_export(name, text)
    if not log.message_count:
        raise InvalidInputError(f"{name} has no chat messages Clonr recognises: check it is an unmodified export.")
    return log


def resolve_me(log: ChatLog, me: str) -> str:
    """The sender name in the log that is the creator (case-insensitive), or an error listing the senders."""
    wanted = me.strip().casefold()
    for sender in log.senders:
        if sender.casefold() == wanted:
            return sender
    shown = ", ".join(log.senders[:12]) + (" …" if len(log.senders) > 12 else "")
    raise InvalidInputError(f"Nobody called {me!r} writes in {log.title}: use --me with one of: {shown}.")


def chat_document(log: ChatLog, me: str) -> Document:
    """The whole chat as a document whose parts keep each message's speaker and time."""
    parts = tuple(Part(m.text, m.sender, m.time.isoformat() if m.time else None)
                  for conversation in log.conversations for m in conversation)
    return Document("chat", log.title, parts=parts, location=log.title, author=me)


def dialogue_candidates(log: ChatLog, me: str) -> list[DialogueCandidate]:
    """Each run of the creator's messages that answers someone else's, with what it answered (merged runs)."""
    candidates = []
    for conversation in log.conversations:
        runs: list[tuple[str, list[ChatMessage]]] = []
        for message in conversation:
            if runs and runs[-1][0] == message.sender:
                runs[-1][1].append(message)
            else:
                runs.append((message.sender, [message]))
        for (asker, asked), (answerer, answered) in itertools.pairwise(runs):
            if answerer != me or asker == me:
                continue
            before, after = asked[-1].time, answered[0].time
            if before and after and after - before > _REPLY_WINDOW:
                continue
            candidates.append(DialogueCandidate("\n".join(m.text for m in asked[-3:]),
                                                "\n".join(m.text for m in answered), answered[0].time))
    return candidates


# -- WhatsApp ------------------------------------------------------------------------------------------------

_WA_HEADER = re.compile(
    r"^\[?(?P<date>\d{1,4}[./-]\d{1,2}[./-]\d{1,4}),?\s+"
    r"(?P<time>\d{1,2}[:.]\d{2}(?:[:.]\d{2})?(?:[\s\u202f\u00a0]*(?P<ampm>[AaPp])\.?\s?[Mm]\.?)?)\]?"
    r"\s*(?:[-\u2013~]\s*)?(?P<rest>.*)$")
_WA_SENDER = re.compile(r"^(?P<sender>[^:\n]{1,80}?): (?P<text>.*)$", re.DOTALL)
_MEDIA = re.compile(
    r"^(<media omitted>|<attached: [^>]*>|(image|video|audio|sticker|gif|document|contact card) omitted"
    r"|this message was deleted|you deleted this message|null|<view once voice message omitted>)$", re.IGNORECASE)
_INVISIBLE = dict.fromkeys(map(ord, "\u200e\u200f\u202a\u202c\ufeff"), None)


def _whatsapp(name: str, text: str) -> ChatLog:
    raw: list[tuple[str, str, str | None, str]] = []  # date, time, am/pm, rest (with continuation lines)
    for line in text.translate(_INVISIBLE).splitlines():
        header = _WA_HEADER.match(line)
        if header:
            raw.append((header["date"], header["time"], header["ampm"], header["rest"]))
        elif raw:
            date, time_, ampm, rest = raw[-1]
            raw[-1] = (date, time_, ampm, rest + "\n" + line)
    if not raw:
        raise InvalidInputError(f"{name} is not a WhatsApp export (no line starts with a date and time): export "
                                "the chat from WhatsApp with 'Export chat'.")
    day_first = _day_first([r[0] for r in raw], any(r[2] for r in raw))
    messages = []
    for date, time_, ampm, rest in raw:
        said = _WA_SENDER.match(rest)
        if not said:
            continue  # a system line: "Messages and calls are end-to-end encrypted", "Ada joined", …
        body = said["text"].replace("<This message was edited>", "").strip()
        if not body or _MEDIA.match(body):
            continue
        messages.append(ChatMessage(said["sender"].strip(), body, _wa_time(date, time_, ampm, day_first)))
    title = PurePath(name).stem.removeprefix("WhatsApp Chat with ").removeprefix("WhatsApp Chat - ")
    return ChatLog("whatsapp", f"WhatsApp: {title}", (tuple(messages),))


def _day_first(dates: list[str], twelve_hour: bool) -> bool:
    """Whether dates read day/month: decided by any field above 12, else by the clock (12-hour → US order)."""
    for date in dates:
        first, second, *_ = (int(x) for x in re.split(r"[./-]", date))
        if first > 31:
            return False  # year first: the order is then year-month-day, handled in _wa_time
        if first > 12:
            return True
        if second > 12:
            return False
    return not twelve_hour


def _wa_time(date: str, time_: str, ampm: str | None, day_first: bool) -> datetime | None:
    fields = [int(x) for x in re.split(r"[./-]", date)]
    if fields[0] > 31:
        year, month, day = fields
    else:
        day, month, year = fields if day_first else (fields[1], fields[0], fields[2])
    year += 2000 if year < 100 else 0
    clock = [int(x) for x in re.findall(r"\d+", time_)]
    hour, minute, second = clock[0], clock[1], clock[2] if len(clock) > 2 else 0
    if ampm:
        hour = hour % 12 + (12 if ampm.lower() == "p" else 0)
    try:
        return datetime(year, month, day, hour, minute, second)
    except ValueError:
        return None


def _text_from_zip(name: str, data: bytes, max_bytes: int) -> tuple[str, bytes]:
    """The chat .txt inside a WhatsApp .zip, read in memory: member names never touch the file system."""
    def chat_text(members: list[zipfile.ZipInfo]) -> zipfile.ZipInfo | None:
        texts = [i for i in members if i.filename.lower().endswith(".txt")]
        return min(texts, key=lambda i: (i.filename != "_chat.txt", len(i.filename))) if texts else None

    member, content = read_zip_member(name, data, chat_text, max_bytes,
                                      "holds no chat .txt: export the chat from WhatsApp again.")
    stem = PurePath(name).stem
    return (f"{stem}.txt" if PurePath(member).name == "_chat.txt" else PurePath(member).name), content


# -- Telegram and Discord (JSON) -----------------------------------------------------------------------------

def _json_export(name: str, text: str) -> ChatLog:
    value = load_json(name, text)
    if isinstance(value, dict) and isinstance(value.get("channel"), dict) and isinstance(value.get("messages"), list):
        return _discord(name, value)
    if isinstance(value, dict) and isinstance(value.get("chats"), dict):
        chats = [c for c in _list(value["chats"].get("list")) if isinstance(c, dict)]
        return ChatLog("telegram", f"Telegram: {PurePath(name).stem}",
                       tuple(_telegram_messages(c) for c in chats))
    if isinstance(value, dict) and isinstance(value.get("messages"), list):
        return ChatLog("telegram", f"Telegram: {_text(value.get('name')) or PurePath(name).stem}",
                       (_telegram_messages(value),))
    raise InvalidInputError(f"{name} is neither a Telegram Desktop export (result.json) nor a DiscordChatExporter "
                            "JSON file: export the chat again in JSON.")


def _telegram_messages(chat: dict[str, Any]) -> tuple[ChatMessage, ...]:
    messages = []
    for item in _list(chat.get("messages")):
        if not isinstance(item, dict) or item.get("type") != "message":
            continue  # service messages: joins, pins, calls
        body = _telegram_text(item.get("text", "")).strip()
        if not body:
            continue  # a photo, sticker or voice note with no caption
        sender = str(item.get("from") or "Deleted Account").strip()
        messages.append(ChatMessage(sender, body, _iso(item.get("date"))))
    return tuple(messages)


def _list(value: Any) -> list[Any]:
    """A field that should hold a list, or none when an export holds something else there."""
    return value if isinstance(value, list) else []


def _text(value: Any) -> str:
    """A field that should hold a name: numbers become their text, anything else none."""
    return str(value).strip() if isinstance(value, str | int | float) and not isinstance(value, bool) else ""


def _telegram_text(text: Any) -> str:
    """Telegram stores formatted text as a list of strings and {type, text} entities."""
    if isinstance(text, str):
        return text
    if isinstance(text, list):
        return "".join(p if isinstance(p, str) else str(p.get("text", "")) for p in text if isinstance(p, str | dict))
    return ""


def _discord(name: str, value: dict[str, Any]) -> ChatLog:
    messages = []
    for item in value["messages"]:
        if not isinstance(item, dict) or item.get("type", "Default") not in ("Default", "Reply"):
            continue  # joins, pins, boosts, thread starts
        body = str(item.get("content") or "").strip()
        author = item.get("author") if isinstance(item.get("author"), dict) else {}
        if not body or author.get("isBot"):
            continue
        sender = str(author.get("nickname") or author.get("name") or "unknown").strip()
        messages.append(ChatMessage(sender, body, _iso(item.get("timestamp"))))
    channel = _text(value["channel"].get("name")) or PurePath(name).stem
    guild = _text(value["guild"].get("name")) if isinstance(value.get("guild"), dict) else ""
    return ChatLog("discord", f"Discord: {guild + ' #' if guild else '#'}{channel}", (tuple(messages),))


# -- CSV -----------------------------------------------------------------------------------------------------

_CSV_COLUMNS = {"time": ("timestamp", "time", "date", "datetime", "sent_at", "created_at"),
                "sender": ("sender", "from", "author", "name", "user", "speaker"),
                "text": ("text", "message", "content", "body")}


def _csv(name: str, text: str) -> ChatLog:
    try:
        rows = list(csv.DictReader(io.StringIO(text, newline="")))  # any line ending, as the csv docs ask
    except csv.Error as exc:
        raise InvalidInputError(f"{name} is not a readable CSV file ({exc}): re-export it.") from None
    header = {h.strip().lower(): h for h in (rows[0].keys() if rows else []) if h}
    columns = {role: next((header[c] for c in names if c in header), None) for role, names in _CSV_COLUMNS.items()}
    if not columns["sender"] or not columns["text"]:
        raise InvalidInputError(f"{name} needs a header row with sender and text columns (and optionally "
                                "timestamp): e.g. timestamp,sender,text.")
    messages = []
    for row in rows:
        body, sender = (row.get(columns["text"]) or "").strip(), (row.get(columns["sender"]) or "").strip()
        if body and sender:
            messages.append(ChatMessage(sender, body, _iso(row.get(columns["time"]) if columns["time"] else None)))
    return ChatLog("csv", f"Chat: {PurePath(name).stem}", (tuple(messages),))


def _iso(value: Any) -> datetime | None:
    if not isinstance(value, str) or not value.strip():
        return None
    try:
        parsed = datetime.fromisoformat(value.strip().replace("Z", "+00:00"))
    except ValueError:
        return None
    return parsed.replace(tzinfo=None) if parsed.tzinfo else parsed
