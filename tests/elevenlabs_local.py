"""ElevenLabs on loopback: the two endpoints Clonr calls (instant voice cloning, text to speech as PCM), answering
as the real API does and recording every call (method, path, query, headers, body)."""

from __future__ import annotations

import http.server
import json
import math
import struct
import threading
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qs, urlsplit

KEY = "el-test-key-0123456789"
SECONDS_PER_CHARACTER = 0.06


@dataclass
class Call:
    method: str
    path: str
    query: dict[str, list[str]]
    headers: dict[str, str]
    body: bytes


@dataclass
class FakeElevenLabs:
    calls: list[Call] = field(default_factory=list)
    fail_with: int | None = None  # answer every call with this status
    base: str = ""

    def __post_init__(self) -> None:
        fake = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                parts = urlsplit(self.path)
                fake.calls.append(Call("POST", parts.path, parse_qs(parts.query), dict(self.headers.items()), body))
                if self.headers.get("xi-api-key") != KEY:
                    return self._json(401, {"detail": {"status": "invalid_api_key", "message": "Invalid API key"}})
                if fake.fail_with:
                    return self._json(fake.fail_with, {"detail": {"status": "busy", "message": "Try again later"}})
                if parts.path == "/v1/voices/add":
                    return self._json(200, {"voice_id": "cloned-voice-1", "requires_verification": False})
                if parts.path.startswith("/v1/text-to-speech/"):
                    text = json.loads(body)["text"]
                    samples = int(len(text) * SECONDS_PER_CHARACTER * 22050)
                    pcm = b"".join(struct.pack("<h", int(8000 * math.sin(n / 10))) for n in range(samples))
                    self.send_response(200)
                    self.send_header("Content-Type", "application/octet-stream")
                    self.send_header("Content-Length", str(len(pcm)))
                    self.end_headers()
                    self.wfile.write(pcm)
                    return None
                return self._json(404, {"detail": "Not Found"})

            def _json(self, status: int, payload: Any) -> None:
                data = json.dumps(payload).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def log_message(self, *args: Any) -> None:
                pass

        self._server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.base = f"http://127.0.0.1:{self._server.server_address[1]}"
        threading.Thread(target=self._server.serve_forever, daemon=True).start()

    def close(self) -> None:
        self._server.shutdown()
        self._server.server_close()
