"""Discord without Discord, for the bot tests: gateway payloads in the shapes Discord sends are fed to discord.py's
own parsers (`ConnectionState.parsers`), and its REST calls go to a local HTTP server that records them and
answers as Discord would (`discord.http.Route.BASE` points there). No object is built by hand: discord.py
parses every message, member and interaction itself.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import json
import re
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from typing import Any

import discord
from aiohttp import web

BOT_ID = APP_ID = 1100
OWNER_ID = 1200
GUILD_ID, OTHER_GUILD_ID, TEXT_CHANNEL = 2000, 2500, 2100
GOOD_TOKEN = "MTEwMA.fake-bot-token.for-tests-only-0123456789abcdefghijklmnopqrstuv"
_ids = itertools.count(900_000)


def user(user_id: int, name: str, bot: bool = False) -> dict[str, Any]:
    return {"id": str(user_id), "username": name, "discriminator": "0", "global_name": name.title(),
            "avatar": None, "bot": bot, "public_flags": 0}


BOT_USER = user(BOT_ID, "adabot", bot=True)


def _now() -> str:
    return datetime.now(UTC).isoformat()


def message(channel_id: int, author: dict[str, Any], content: str, *, guild_id: int | None = None,
            mentions: tuple[dict[str, Any], ...] = (), replying_to: dict[str, Any] | None = None) -> dict[str, Any]:
    """A MESSAGE_CREATE payload (a direct message when there is no guild)."""
    found = {"id": str(next(_ids)), "channel_id": str(channel_id), "author": author, "content": content,
             "timestamp": _now(), "edited_timestamp": None, "tts": False, "mention_everyone": False,
             "mentions": list(mentions), "mention_roles": [], "attachments": [], "embeds": [], "pinned": False,
             "type": 0, "flags": 0, "components": []}
    if guild_id is not None:
        found["guild_id"] = str(guild_id)
        found["member"] = {"roles": [], "joined_at": _now(), "deaf": False, "mute": False, "flags": 0}
    if replying_to is not None:
        found["type"] = 19
        found["message_reference"] = {"type": 0, "message_id": replying_to["id"],
                                      "channel_id": replying_to["channel_id"], "guild_id": str(guild_id)}
        found["referenced_message"] = replying_to
    return found


def slash(name: str, who: dict[str, Any], channel_id: int, *, guild_id: int | None = None,
          options: list[dict[str, Any]] | None = None) -> dict[str, Any]:
    """An INTERACTION_CREATE payload for a slash command."""
    interaction_id = next(_ids)
    found = {"id": str(interaction_id), "application_id": str(APP_ID), "type": 2, "token": f"itok{interaction_id}",
             "version": 1, "data": {"id": "555", "name": name, "type": 1, "options": options or []},
             "channel_id": str(channel_id), "locale": "en-US", "app_permissions": "0", "entitlements": [],
             "attachment_size_limit": 10 * 1024 * 1024, "context": 1 if guild_id is None else 0}
    if guild_id is None:
        found["user"] = who
        found["channel"] = {"id": str(channel_id), "type": 1, "recipients": [who]}
    else:
        found["guild_id"] = str(guild_id)
        found["member"] = {"user": who, "roles": [], "joined_at": _now(), "deaf": False, "mute": False,
                           "flags": 0, "permissions": "0"}
        found["channel"] = {"id": str(channel_id), "type": 0, "name": "general", "guild_id": str(guild_id)}
    return found


READY = {"v": 10, "user": {**BOT_USER, "verified": True, "mfa_enabled": False, "flags": 0},
         "guilds": [{"id": str(GUILD_ID), "unavailable": True}], "session_id": "offline",
         "resume_gateway_url": "wss://127.0.0.1", "private_channels": [], "relationships": [],
         "application": {"id": str(APP_ID), "flags": 0}}


def guild_create(guild_id: int = GUILD_ID) -> dict[str, Any]:
    return {"id": str(guild_id), "name": "Fans of Ada", "owner_id": str(OWNER_ID), "unavailable": False,
            "member_count": 3, "features": [], "emojis": [], "stickers": [], "large": False,
            "roles": [{"id": str(guild_id), "name": "@everyone", "permissions": "1071698660929", "position": 0,
                       "color": 0, "hoist": False, "managed": False, "mentionable": False}],
            "channels": [{"id": str(TEXT_CHANNEL), "type": 0, "name": "general", "position": 0,
                          "permission_overwrites": [], "nsfw": False, "parent_id": None}],
            "members": [{"user": BOT_USER, "roles": [], "joined_at": _now(), "deaf": False, "mute": False,
                         "flags": 0}],
            "threads": [], "voice_states": [], "presences": [], "stage_instances": [],
            "guild_scheduled_events": [], "soundboard_sounds": []}


class FakeDiscord:
    """A local stand-in for https://discord.com/api/v10 that records every request (method, path, JSON)."""

    def __init__(self) -> None:
        self.calls: list[dict[str, Any]] = []
        self._changed = asyncio.Condition()
        self._runner: web.AppRunner | None = None

    async def start(self) -> str:
        app = web.Application()
        app.router.add_route("*", "/api/v10/{tail:.*}", self._handle)
        self._runner = web.AppRunner(app)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        return f"http://127.0.0.1:{site._server.sockets[0].getsockname()[1]}/api/v10"  # type: ignore[union-attr]

    async def stop(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()

    def sent(self, channel_id: int) -> list[dict[str, Any]]:
        """The messages the bot posted in a channel, oldest first."""
        return [c["json"] for c in self.calls
                if c["method"] == "POST" and c["path"] == f"/channels/{channel_id}/messages"]

    async def wait_for(self, method: str, pattern: str, count: int = 1, timeout: float = 15) -> list[dict[str, Any]]:
        """The first `count` recorded requests matching METHOD and the path pattern, once there are as many."""
        def found() -> list[dict[str, Any]]:
            return [c for c in self.calls if c["method"] == method and re.search(pattern, c["path"])]

        async with self._changed:
            await asyncio.wait_for(self._changed.wait_for(lambda: len(found()) >= count), timeout)
            return found()[:count]

    async def _handle(self, request: web.Request) -> web.Response:
        body = await request.json() if request.can_read_body and request.content_type == "application/json" else None
        files = []
        if request.content_type == "multipart/form-data":  # a message with attachments: payload_json and files[n]
            form = await request.post()
            body = json.loads(str(form.get("payload_json") or "{}"))
            files = [(field.filename, field.file.read()) for name, field in form.items() if name.startswith("files")]
        path = "/" + request.match_info["tail"]
        call = {"method": request.method, "path": path, "json": body, "files": files,
                "at": asyncio.get_running_loop().time()}
        async with self._changed:
            self.calls.append(call)
            self._changed.notify_all()
        status, payload = self._answer(request.method, path, body or {}, request.headers.get("Authorization"))
        if status == 204:
            return web.Response(status=204)
        # discord.py decodes JSON only when the content type is exactly application/json
        return web.Response(body=json.dumps(payload).encode(), status=status,
                            headers={"Content-Type": "application/json"})

    def _answer(self, method: str, path: str, body: dict[str, Any], auth: str | None) -> tuple[int, Any]:
        by_url_token = path.startswith(("/interactions/", "/webhooks/"))  # no bot token on these, as on Discord
        if auth != f"Bot {GOOD_TOKEN}" and not by_url_token:
            return 401, {"message": "401: Unauthorized", "code": 0}
        if (method, path) == ("GET", "/users/@me"):
            return 200, {**BOT_USER, "verified": True, "mfa_enabled": False, "flags": 0}
        if (method, path) == ("GET", "/oauth2/applications/@me"):
            return 200, {"id": str(APP_ID), "name": "adabot", "description": "", "icon": None, "bot_public": False,
                         "bot_require_code_grant": False, "verify_key": "00", "owner": user(OWNER_ID, "owner"),
                         "flags": 0}
        if re.fullmatch(r"/channels/\d+/typing", path):
            return 204, None
        if found := re.fullmatch(r"/channels/(\d+)/messages", path):
            if len(body.get("content", "")) > 2000:
                return 400, {"message": "Invalid Form Body", "code": 50035}
            return 200, message(int(found[1]), BOT_USER, body.get("content", ""))
        if found := re.fullmatch(r"/applications/(\d+)/commands", path):
            return 200, [{**c, "id": str(next(_ids)), "application_id": found[1], "version": "1",
                          "type": c.get("type", 1)} for c in body or []]
        if found := re.fullmatch(r"/interactions/(\d+)/([^/]+)/callback", path):
            data = body.get("data") or {}
            return 200, {"interaction": {"id": found[1], "type": 2, "response_message_id": str(next(_ids)),
                                         "response_message_loading": body["type"] == 5,
                                         "response_message_ephemeral": bool((data.get("flags") or 0) & 64)},
                         "resource": {"type": body["type"], "message": message(1, BOT_USER, data.get("content", ""))}}
        if re.fullmatch(r"/webhooks/\d+/[^/]+(/messages/@original)?", path):
            return 200, message(1, BOT_USER, body.get("content", ""))
        return 404, {"message": "Unknown route (fake)", "code": 0}


def followups(fake: FakeDiscord) -> list[str]:
    """What slash commands answered (their followups), oldest first."""
    return [c["json"]["content"] for c in fake.calls if c["method"] == "POST" and c["path"].startswith("/webhooks/")]


@contextlib.asynccontextmanager
async def offline(fake: FakeDiscord) -> AsyncIterator[None]:
    """discord.py's REST pointed at the fake while the block runs."""
    base = await fake.start()
    previous, discord.http.Route.BASE = discord.http.Route.BASE, base
    try:
        yield
    finally:
        discord.http.Route.BASE = previous
        await fake.stop()


async def ready(bot: discord.Client, token: str = GOOD_TOKEN, guild_ids: tuple[int, ...] = (GUILD_ID,)) -> None:
    """Log the bot in against the fake and bring it to READY with its servers, as the gateway would."""
    await bot.login(token)
    bot._connection.parsers["READY"]({**READY, "guilds": [{"id": str(g), "unavailable": True} for g in guild_ids]})
    for guild_id in guild_ids:
        bot._connection.parsers["GUILD_CREATE"](guild_create(guild_id))
    await bot.wait_until_ready()


def feed(bot: discord.Client, event: str, payload: dict[str, Any]) -> None:
    bot._connection.parsers[event](payload)
