"""Every kind of bad access token is refused, with nothing said about which check failed."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import time
from collections.abc import Callable
from typing import Any

import jwt
import pytest
from cryptography.hazmat.primitives import serialization

from deepseek_server.errors import Unauthenticated
from deepseek_server.identity import (
    REQUIRED_CLAIMS,
    SigningKey,
    TokenPolicy,
    TokenVerifier,
    generate_signing_key,
)
from deepseek_server.identity.tokens import sign_token

POLICY = TokenPolicy(
    issuer="deepseek-hpc-gateway", audience="deepseek-hpc", lifetime_seconds=3600, leeway_seconds=30
)
KEY = generate_signing_key("ES256", "kid-1")
OTHER_KEY = generate_signing_key("ES256", "kid-other")
RSA_KEY = generate_signing_key("RS256", "kid-rsa")
CLIENT = "ds_client_alice"


def claims(**changes: Any) -> dict[str, Any]:
    now = int(time.time())
    base = {
        "iss": POLICY.issuer,
        "aud": POLICY.audience,
        "sub": "alice",
        "client_id": CLIENT,
        "iat": now,
        "exp": now + 600,
        "jti": "j1",
        "scope": "compute:read compute:write",
    }
    base.update(changes)
    return {k: v for k, v in base.items() if v is not None}


def signed(
    payload: dict[str, Any], key: SigningKey = KEY, *, kid: str | None = None, typ: str = "at+jwt"
) -> str:
    headers = {"kid": kid or key.kid, "typ": typ}
    return jwt.encode(payload, key.private_key, algorithm=key.algorithm, headers=headers)


def b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).decode().rstrip("=")


def unsigned() -> str:
    header = {"alg": "none", "typ": "at+jwt", "kid": KEY.kid}
    return f"{b64(json.dumps(header).encode())}.{b64(json.dumps(claims()).encode())}."


def tampered() -> str:
    header, _, signature = signed(claims()).split(".")
    forged = b64(json.dumps(claims(sub="mallory", scope="admin")).encode())
    return f"{header}.{forged}.{signature}"


def hs256_with_public_key() -> str:
    public_pem = KEY.public_key.public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    header = b64(json.dumps({"alg": "HS256", "typ": "at+jwt", "kid": KEY.kid}).encode())
    payload = b64(json.dumps(claims()).encode())
    mac = hmac.new(public_pem, f"{header}.{payload}".encode(), hashlib.sha256).digest()
    return f"{header}.{payload}.{b64(mac)}"


def verifier(enabled: tuple[str, ...] = (CLIENT,)) -> TokenVerifier:
    return TokenVerifier(POLICY, [KEY, RSA_KEY], enabled)


BAD_TOKENS: dict[str, Callable[[], str]] = {
    "unsigned (alg none)": unsigned,
    "tampered payload": tampered,
    "signed by an unknown key under a known kid": lambda: signed(claims(), OTHER_KEY, kid="kid-1"),
    "signed by an unknown kid": lambda: signed(claims(), OTHER_KEY),
    "HS256 with the public key as secret": hs256_with_public_key,
    "RS256 header on an ES256 key": lambda: signed(claims(), RSA_KEY, kid="kid-1"),
    "not yet valid (iat)": lambda: signed(claims(iat=int(time.time()) + 3600)),
    "not yet valid (nbf)": lambda: signed(claims(nbf=int(time.time()) + 3600)),
    "wrong audience": lambda: signed(claims(aud="someone-else")),
    "wrong issuer": lambda: signed(claims(iss="https://evil.example")),
    "wrong typ": lambda: signed(claims(), typ="JWT"),
    "empty subject": lambda: signed(claims(sub="")),
    "scope not a string": lambda: signed(claims(scope=["admin"])),
    "not a JWT": lambda: "not-a-token",
    "empty": lambda: "",
    **{
        f"missing {name}": (lambda name=name: signed(claims(**{name: None})))  # type: ignore[misc]
        for name in REQUIRED_CLAIMS
    },
}


@pytest.mark.parametrize("make", BAD_TOKENS.values(), ids=BAD_TOKENS.keys())
def test_a_bad_token_is_refused_as_invalid_without_saying_why(make: Callable[[], str]) -> None:
    with pytest.raises(Unauthenticated) as refused:
        verifier().verify(make(), time.time())

    assert refused.value.reason == "INVALID_TOKEN"
    assert refused.value.message == "the access token is not valid"


def test_a_good_token_gives_its_principal_for_either_algorithm() -> None:
    for key in (KEY, RSA_KEY):
        principal = verifier().verify(signed(claims(), key), time.time())

        assert principal.user_id == "alice"
        assert principal.client_id == CLIENT
        assert principal.scopes == {"compute:read", "compute:write"}


def test_an_expired_token_is_refused_as_expired() -> None:
    now = int(time.time())
    token = signed(claims(iat=now - 4000, exp=now - POLICY.leeway_seconds - 5))

    with pytest.raises(Unauthenticated) as refused:
        verifier().verify(token, time.time())

    assert refused.value.reason == "TOKEN_EXPIRED"


def test_expiry_and_issue_time_allow_the_leeway() -> None:
    now = int(time.time())
    token = signed(claims(iat=now + 10, exp=now - 10))

    assert verifier().verify(token, time.time()).user_id == "alice"


def test_the_token_of_a_disabled_client_is_refused() -> None:
    with pytest.raises(Unauthenticated):
        verifier(enabled=()).verify(signed(claims()), time.time())


def test_a_cached_token_is_refused_once_its_client_is_disabled_or_it_expires() -> None:
    checker = verifier()
    token = signed(claims())
    now = time.time()
    assert checker.verify(token, now).user_id == "alice"

    checker.update([KEY, RSA_KEY], enabled_clients=())
    with pytest.raises(Unauthenticated):
        checker.verify(token, now)

    checker.update([KEY, RSA_KEY], enabled_clients=(CLIENT,))
    assert checker.verify(token, now).user_id == "alice"
    with pytest.raises(Unauthenticated) as refused:
        checker.verify(token, now + 600 + POLICY.leeway_seconds)
    assert refused.value.reason == "TOKEN_EXPIRED"


def test_a_cached_token_of_a_withdrawn_key_is_checked_again_and_refused() -> None:
    checker = verifier()
    token = signed(claims())
    checker.verify(token, time.time())

    checker.update([RSA_KEY], enabled_clients=(CLIENT,))

    with pytest.raises(Unauthenticated):
        checker.verify(token, time.time())


def test_signed_tokens_carry_every_rfc_9068_claim_and_header() -> None:
    token = sign_token(
        KEY, POLICY, user_id="bob", client_id="c1", scopes={"admin", "audit:read"}, now=1000.0
    )

    header = jwt.get_unverified_header(token)
    payload = jwt.decode(token, options={"verify_signature": False})
    assert header == {"alg": "ES256", "kid": "kid-1", "typ": "at+jwt"}
    assert set(payload) == set(REQUIRED_CLAIMS)
    assert (payload["sub"], payload["client_id"], payload["scope"]) == (
        "bob",
        "c1",
        "admin audit:read",
    )
    assert (payload["iat"], payload["exp"]) == (1000, 4600)
