"""Fans' tokens: the server names each fan, and signs the name so that no client can choose or change it.

A token is a JWT signed with HS256 under a key derived from `CLONR_SECRET_KEY` (or the key made on first run
under CLONR_HOME), bound to one clone and valid for `CLONR_FAN_TOKEN_DAYS`. The widget is embedded on other
sites, where third-party cookies may be blocked, so it keeps the token in the browser's own storage.
"""

from __future__ import annotations

import hashlib
import hmac
import logging
import os
import secrets
from datetime import UTC, datetime, timedelta
from pathlib import Path

import jwt

from clonr.config import Settings
from clonr.errors import StorageError

__all__ = ["FanTokens", "derived_key", "secret_key"]

log = logging.getLogger(__name__)

_ISSUER = "clonr"
_ALGORITHM = "HS256"


def secret_key(settings: Settings) -> bytes:
    """`CLONR_SECRET_KEY`, or the key kept in CLONR_HOME/secret_key, made (once, atomically) when missing."""
    if settings.secret_key:
        return settings.secret_key.encode()
    path = settings.home / "secret_key"
    try:
        return _read_or_make(path)
    except OSError as exc:
        raise StorageError(f"Cannot keep the secret key at {path} ({exc.strerror}): make CLONR_HOME writable, or "
                           "set CLONR_SECRET_KEY.") from None


def _read_or_make(path: Path) -> bytes:
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        draft = path.with_name(f".secret_key.{os.getpid()}.{secrets.token_hex(4)}")
        descriptor = os.open(draft, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(descriptor, "w") as file:
            file.write(secrets.token_urlsafe(48))
        try:
            os.link(draft, path)  # fails if another process made it first: then theirs is the key
        except FileExistsError:
            pass
        finally:
            draft.unlink()
    key = path.read_text().strip()
    if len(key) < 32:
        raise OSError(0, "the file is shorter than 32 characters")
    return key.encode()


def derived_key(secret: bytes, purpose: str) -> bytes:
    """One key per purpose, so that a token for one use is worthless for another."""
    return hmac.new(secret, purpose.encode(), hashlib.sha256).digest()


class FanTokens:
    """Issues and checks fans' tokens. A token that fails any check names nobody: the caller gets a new fan."""

    def __init__(self, secret: bytes, lifetime: timedelta) -> None:
        self._key = derived_key(secret, "fan-token")
        self._lifetime = lifetime

    def issue(self, clone_id: str, fan_id: str, now: datetime | None = None) -> str:
        issued = now or datetime.now(UTC)
        claims = {"iss": _ISSUER, "aud": _audience(clone_id), "sub": fan_id, "iat": issued,
                  "exp": issued + self._lifetime}
        return jwt.encode(claims, self._key, algorithm=_ALGORITHM)

    def fan_id(self, token: str | None, clone_id: str) -> str | None:
        """The fan a token names for this clone, or None (the reason is logged, never the token)."""
        if not token:
            return None
        try:
            claims = jwt.decode(token, self._key, algorithms=[_ALGORITHM], audience=_audience(clone_id),
                                issuer=_ISSUER, options={"require": ["iss", "aud", "sub", "iat", "exp"]})
        except jwt.InvalidTokenError as exc:
            log.info("fan token refused: %s", exc)
            return None
        return str(claims["sub"])


class LinkCodes:
    """One-time codes that tie an account elsewhere (Discord) to a signed-in fan: signed, for one clone, valid
    `lifetime`; the caller records each code's `jti` so it is used once."""

    def __init__(self, secret: bytes, lifetime: timedelta = timedelta(minutes=15)) -> None:
        self._key = derived_key(secret, "account-link")
        self._lifetime = lifetime

    def issue(self, clone_id: str, fan_id: str) -> str:
        issued = datetime.now(UTC)
        return jwt.encode({"iss": _ISSUER, "aud": f"clonr-link:{clone_id}", "sub": fan_id, "iat": issued,
                           "exp": issued + self._lifetime, "jti": secrets.token_hex(8)}, self._key,
                          algorithm=_ALGORITHM)

    def check(self, code: str, clone_id: str) -> tuple[str, str] | None:
        """(fan id, code id) of a valid code for this clone, or None (the reason is logged, never the code)."""
        try:
            claims = jwt.decode(code.strip(), self._key, algorithms=[_ALGORITHM], audience=f"clonr-link:{clone_id}",
                                issuer=_ISSUER, options={"require": ["iss", "aud", "sub", "exp", "jti"]})
        except jwt.InvalidTokenError as exc:
            log.info("link code refused: %s", exc)
            return None
        return str(claims["sub"]), str(claims["jti"])


def _audience(clone_id: str) -> str:
    return f"clonr-fan:{clone_id}"
