"""Signed-in people: JWTs from Supabase Auth or any OIDC issuer, verified against the issuer's JWKS.

Issuer, audience, expiry and algorithms are pinned by the settings; a token that fails any check is refused
with its reason (logged, and said to the caller in one line), never with a traceback.
"""

from __future__ import annotations

import logging

import jwt

from clonr.config import Settings
from clonr.errors import SignInError

__all__ = ["IdentityTokens"]

log = logging.getLogger(__name__)

_REASONS: tuple[tuple[type[Exception], str], ...] = (
    (jwt.ExpiredSignatureError, "the sign-in has expired"),
    (jwt.InvalidIssuerError, "the token comes from another issuer"),
    (jwt.InvalidAudienceError, "the token is meant for another audience"),
    (jwt.InvalidAlgorithmError, "the token is signed with an algorithm that is not accepted"),
    (jwt.InvalidSignatureError, "the token's signature does not match"),
    (jwt.ImmatureSignatureError, "the token is not valid yet"),
    (jwt.MissingRequiredClaimError, "the token lacks a required claim"),
    (jwt.PyJWKClientError, "the token's key is not one the issuer publishes"),
)


class IdentityTokens:
    """Verifies a person's JWT and names them as `issuer|subject`."""

    def __init__(self, jwks_url: str, issuer: str, audience: str, algorithms: tuple[str, ...],
                 timeout: float = 10.0) -> None:
        self._jwks = jwt.PyJWKClient(jwks_url, cache_keys=True, lifespan=300, timeout=timeout)
        self._issuer = issuer
        self._audience = audience
        self._algorithms = list(algorithms)

    @classmethod
    def from_settings(cls, settings: Settings) -> IdentityTokens | None:
        """None when sign-in is not set up (`CLONR_AUTH_JWKS_URL` empty)."""
        if not settings.auth_jwks_url:
            return None
        return cls(settings.auth_jwks_url, settings.auth_issuer, settings.auth_audience, settings.auth_algorithms,
                   timeout=settings.fetch_timeout)

    def subject(self, token: str) -> str:
        """`issuer|sub` of a valid token; `SignInError` with the reason otherwise."""
        try:
            header = jwt.get_unverified_header(token)
            if header.get("alg") not in self._algorithms:
                raise jwt.InvalidAlgorithmError(header.get("alg"))
            key = self._jwks.get_signing_key(header.get("kid") or "")
            claims = jwt.decode(token, key.key, algorithms=self._algorithms, audience=self._audience,
                                issuer=self._issuer, leeway=30,
                                options={"require": ["iss", "aud", "sub", "exp", "iat"]})
        except (jwt.PyJWTError, ValueError) as exc:
            reason = next((text for kind, text in _REASONS if isinstance(exc, kind)), "the token is malformed")
            log.warning("sign-in refused: %s (%s)", reason, type(exc).__name__)
            raise SignInError(f"Sign-in refused: {reason}. Sign in again.") from None
        return f"{claims['iss']}|{claims['sub']}"
