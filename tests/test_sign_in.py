"""Signed-in fans: JWTs checked against a JWKS served on loopback (a key pair made here, as Supabase Auth or
any OIDC issuer would publish it); the anonymous conversation carries over to the signed-in fan."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import logging
from datetime import UTC, datetime, timedelta

import jwt
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from langchain_core.embeddings import DeterministicFakeEmbedding

from clonr import Clonr, load_settings
from clonr.errors import ConfigError, SignInError
from tests.conftest import FakeChatModel, FixtureSite

ISSUER = "https://auth.example.test/auth/v1"
KEY = rsa.generate_private_key(public_exponent=65537, key_size=2048)
OTHER_KEY = rsa.generate_private_key(public_exponent=65537, key_size=2048)


def jwk(key: rsa.RSAPrivateKey, kid: str) -> dict:
    return {**jwt.algorithms.RSAAlgorithm.to_jwk(key.public_key(), as_dict=True), "kid": kid, "alg": "RS256",
            "use": "sig"}


def token(sub: str = "user-1", *, key: rsa.RSAPrivateKey = KEY, kid: str = "k1", **changes: object) -> str:
    now = datetime.now(UTC)
    claims = {"iss": ISSUER, "aud": "authenticated", "sub": sub, "iat": now, "exp": now + timedelta(hours=1)}
    return jwt.encode({**claims, **changes}, key, algorithm="RS256", headers={"kid": kid})


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


@pytest.fixture
def signed_in_app(site: FixtureSite, fake_chat: FakeChatModel, monkeypatch: pytest.MonkeyPatch) -> Clonr:
    site.add("/jwks.json", json.dumps({"keys": [jwk(KEY, "k1")]}), content_type="application/json")
    monkeypatch.setenv("CLONR_AUTH_JWKS_URL", site.url("/jwks.json"))
    monkeypatch.setenv("CLONR_AUTH_ISSUER", ISSUER)
    app = Clonr(load_settings(), chat_model=fake_chat, embeddings=DeterministicFakeEmbedding(size=32))
    app.clones.publish(app.clones.create("Ada").id)
    yield app
    app.worker.drain()


def _public_pem() -> bytes:
    return KEY.public_key().public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)


def _hs256_with_the_public_key() -> str:
    header = _b64(json.dumps({"alg": "HS256", "typ": "JWT", "kid": "k1"}).encode())
    now = int(datetime.now(UTC).timestamp())
    payload = _b64(json.dumps({"iss": ISSUER, "aud": "authenticated", "sub": "user-1", "iat": now,
                               "exp": now + 3600}).encode())
    signature = hmac.new(_public_pem(), f"{header}.{payload}".encode(), hashlib.sha256).digest()
    return f"{header}.{payload}.{_b64(signature)}"


def _tampered() -> str:
    header, _payload, signature = token().split(".")
    now = int(datetime.now(UTC).timestamp())
    payload = _b64(json.dumps({"iss": ISSUER, "aud": "authenticated", "sub": "admin", "iat": now,
                               "exp": now + 3600}).encode())
    return f"{header}.{payload}.{signature}"


@pytest.mark.parametrize("bad, reason", [
    (lambda: token(exp=datetime.now(UTC) - timedelta(minutes=5)), "expired"),
    (lambda: token(iss="https://evil.example/auth/v1"), "another issuer"),
    (lambda: token(aud="another-app"), "another audience"),
    (lambda: token(kid="unknown"), "key is not one the issuer publishes"),
    (lambda: token(key=OTHER_KEY), "signature does not match"),
    (lambda: jwt.encode({"iss": ISSUER, "aud": "authenticated", "sub": "user-1", "exp": 2**40, "iat": 0}, None,
                        algorithm="none"), "algorithm that is not accepted"),
    (_hs256_with_the_public_key, "algorithm that is not accepted"),
    (_tampered, "signature does not match"),
    (lambda: "not.a.jwt", "malformed"),
])
def test_a_bad_sign_in_token_is_refused_with_its_reason_and_no_traceback(
        signed_in_app: Clonr, caplog: pytest.LogCaptureFixture, bad, reason: str) -> None:
    caplog.set_level(logging.INFO)
    with pytest.raises(SignInError, match=reason):
        signed_in_app.fans.sign_in("ada", None, bad())
    logged = [r for r in caplog.records if "sign-in refused" in r.getMessage()]
    assert logged and reason in logged[0].getMessage() and not any(r.exc_info for r in caplog.records)


def test_the_anonymous_conversation_becomes_the_signed_in_fans_and_follows_them(
        signed_in_app: Clonr, fake_chat: FakeChatModel) -> None:
    app = signed_in_app
    visitor = app.fans.visit("ada", None)
    fake_chat.enqueue("Nice to meet you, Grace.")
    "".join(app.fans.turn(visitor.fan, "ada", visitor.fan.fan_id, "I am Grace."))
    signed_in = app.fans.sign_in("ada", visitor.token, token("grace"))
    assert signed_in.fan == visitor.fan, "the conversation carries over"
    elsewhere = app.fans.sign_in("ada", None, token("grace"))  # another device, no anonymous token
    assert elsewhere.fan == visitor.fan
    assert app.fans.history(elsewhere.fan, "ada", elsewhere.fan.fan_id)[0].content == "I am Grace."
    someone_else = app.fans.sign_in("ada", visitor.token, token("alan"))
    assert someone_else.fan != visitor.fan and someone_else.new, "Alan does not get Grace's conversation"


def test_sign_in_without_settings_says_what_to_set(app: Clonr) -> None:
    app.clones.publish(app.clones.create("Ada").id)
    with pytest.raises(SignInError, match="CLONR_AUTH_JWKS_URL"):
        app.fans.sign_in("ada", None, token())


def test_a_jwks_url_without_an_issuer_is_a_configuration_error() -> None:
    with pytest.raises(ConfigError, match="CLONR_AUTH_ISSUER"):
        load_settings({"CLONR_AUTH_JWKS_URL": "https://auth.example.test/jwks.json"}, env_file=None)
