"""Access tokens: JWTs per RFC 9068, signed by the active key, verified per RFC 8725.

Verification allow-lists algorithms (each key verifies only with its own algorithm), requires
every claim, and checks issuer, audience, type, expiry and issue time with a small leeway. A
verified token is cached until it expires, so that a call with a known token costs a dict
lookup rather than a signature check (~125 µs for ES256).
"""

from __future__ import annotations

import secrets
from collections.abc import Collection, Iterable
from dataclasses import dataclass
from typing import Any

import jwt

from deepseek_server.context import Principal
from deepseek_server.errors import Unauthenticated
from deepseek_server.identity.keys import SIGNING_ALGORITHMS, SigningKey
from deepseek_server.identity.scopes import format_scopes

TOKEN_TYPE = "at+jwt"
# RFC 9068 section 4: "at+jwt" or the full media type; compared case-insensitively.
_ACCEPTED_TYPES = frozenset({"at+jwt", "application/at+jwt"})
REQUIRED_CLAIMS: tuple[str, ...] = ("iss", "aud", "sub", "client_id", "iat", "exp", "jti", "scope")
_STRING_CLAIMS = ("sub", "client_id", "jti", "scope")
_MAX_CACHED = 100_000

INVALID_TOKEN = "INVALID_TOKEN"
TOKEN_EXPIRED = "TOKEN_EXPIRED"


@dataclass(frozen=True, slots=True)
class TokenPolicy:
    """What tokens say and how strictly they are checked."""

    issuer: str
    audience: str
    lifetime_seconds: int
    leeway_seconds: int


def sign_token(
    key: SigningKey,
    policy: TokenPolicy,
    *,
    user_id: str,
    client_id: str,
    scopes: Iterable[str],
    now: float,
) -> str:
    """A signed access token for ``client_id`` acting as ``user_id`` with ``scopes``."""
    issued = int(now)
    claims = {
        "iss": policy.issuer,
        "aud": policy.audience,
        "sub": user_id,
        "client_id": client_id,
        "iat": issued,
        "exp": issued + policy.lifetime_seconds,
        "jti": secrets.token_urlsafe(16),
        "scope": format_scopes(scopes),
    }
    headers = {"kid": key.kid, "typ": TOKEN_TYPE}
    return jwt.encode(claims, key.private_key, algorithm=key.algorithm, headers=headers)


class TokenVerifier:
    """Checks access tokens against the current keys and enabled clients, with a cache."""

    def __init__(
        self,
        policy: TokenPolicy,
        keys: Iterable[SigningKey] = (),
        enabled_clients: Collection[str] = (),
    ) -> None:
        self.policy = policy
        self._keys: dict[str, SigningKey] = {}
        self._enabled: frozenset[str] = frozenset()
        self._cache: dict[str, tuple[Principal, float]] = {}
        self.update(keys, enabled_clients)

    def update(self, keys: Iterable[SigningKey], enabled_clients: Collection[str]) -> None:
        """Verify with ``keys`` from now on, accepting only tokens of ``enabled_clients``."""
        new_keys = {key.kid: key for key in keys}
        if not set(self._keys) <= set(new_keys):
            self._cache.clear()  # a key was withdrawn: what it signed must be checked again
        self._keys = new_keys
        self._enabled = frozenset(enabled_clients)

    def enable_client(self, client_id: str) -> None:
        """Accept ``client_id``'s tokens now (it was just seen enabled), before the next reload."""
        if client_id not in self._enabled:
            self._enabled = self._enabled | {client_id}

    def verify(self, token: str, now: float) -> Principal:
        """The principal ``token`` speaks for; raises :class:`Unauthenticated` if it is not
        valid at ``now`` (seconds since the epoch) or its client is disabled."""
        cached = self._cache.get(token)
        if cached is not None:
            principal, good_until = cached
            if now < good_until and principal.client_id in self._enabled:
                return principal
            if now >= good_until:
                del self._cache[token]
                raise Unauthenticated("the access token has expired", reason=TOKEN_EXPIRED)
            raise _invalid()
        principal, good_until = self._check(token, now)
        if principal.client_id not in self._enabled:
            raise _invalid()
        if len(self._cache) >= _MAX_CACHED:
            self._evict(now)
        self._cache[token] = (principal, good_until)
        return principal

    def _check(self, token: str, now: float) -> tuple[Principal, float]:
        policy = self.policy
        try:
            header = jwt.get_unverified_header(token)
        except jwt.PyJWTError:
            raise _invalid() from None
        kid, algorithm, typ = header.get("kid"), header.get("alg"), header.get("typ")
        key = self._keys.get(kid) if isinstance(kid, str) else None
        if (
            key is None
            or algorithm not in SIGNING_ALGORITHMS
            or algorithm != key.algorithm
            or not isinstance(typ, str)
            or typ.lower() not in _ACCEPTED_TYPES
        ):
            raise _invalid()
        try:
            claims: dict[str, Any] = jwt.decode(
                token,
                key.public_key,
                algorithms=[key.algorithm],
                audience=policy.audience,
                issuer=policy.issuer,
                leeway=policy.leeway_seconds,
                options={"require": list(REQUIRED_CLAIMS), "strict_aud": False},
            )
        except jwt.ExpiredSignatureError:
            raise Unauthenticated("the access token has expired", reason=TOKEN_EXPIRED) from None
        except jwt.PyJWTError:
            raise _invalid() from None
        if not all(isinstance(claims[name], str) and claims[name] for name in _STRING_CLAIMS):
            raise _invalid()
        principal = Principal(
            user_id=claims["sub"],
            client_id=claims["client_id"],
            scopes=frozenset(claims["scope"].split()),
        )
        return principal, float(claims["exp"]) + policy.leeway_seconds

    def _evict(self, now: float) -> None:
        for token in [t for t, (_, until) in self._cache.items() if until <= now]:
            del self._cache[token]
        if len(self._cache) >= _MAX_CACHED:
            self._cache.clear()


def _invalid() -> Unauthenticated:
    # Deliberately the same for every defect: a prober learns nothing about which check failed.
    return Unauthenticated("the access token is not valid", reason=INVALID_TOKEN)
