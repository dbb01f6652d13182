"""Client ids and secrets: generation, and slow salted hashes compared in constant time.

Hashing is scrypt (RFC 7914) from the standard library. It takes tens of milliseconds on
purpose, so the async functions run it in a thread; the event loop never waits for it.
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import hmac
import secrets
from dataclasses import dataclass

CLIENT_ID_PREFIX = "ds_client_"
SECRET_PREFIX = "ds_secret_"
_SALT_BYTES = 16
_KEY_BYTES = 32


@dataclass(frozen=True, slots=True)
class ScryptParams:
    """scrypt cost parameters; stored beside each hash so that they can be raised later."""

    n: int = 2**14
    r: int = 8
    p: int = 1

    def encode(self) -> str:
        """The parameters as stored: ``scrypt:n=16384,r=8,p=1``."""
        return f"scrypt:n={self.n},r={self.r},p={self.p}"

    @classmethod
    def decode(cls, text: str) -> ScryptParams:
        """Parse what :meth:`encode` wrote; raises ``ValueError`` on anything else."""
        scheme, _, fields = text.partition(":")
        if scheme != "scrypt":
            raise ValueError(f"unknown secret hash scheme {scheme!r}")
        values = dict(item.split("=", 1) for item in fields.split(","))
        return cls(n=int(values["n"]), r=int(values["r"]), p=int(values["p"]))


@dataclass(frozen=True, slots=True)
class SecretHash:
    """A stored secret: scrypt output and its salt (base64url), and the parameters used."""

    hash: str
    salt: str
    params: str


DEFAULT_PARAMS = ScryptParams()


def new_client_id() -> str:
    """A fresh, unguessable client id, e.g. ``ds_client_3kq...``."""
    return CLIENT_ID_PREFIX + secrets.token_hex(8)


def new_secret() -> str:
    """A fresh client secret with 256 bits of entropy."""
    return SECRET_PREFIX + secrets.token_urlsafe(32)


def hash_secret(secret: str, params: ScryptParams = DEFAULT_PARAMS) -> SecretHash:
    """Hash ``secret`` with a new random salt. Blocking: use :func:`hash_secret_async` in a loop."""
    salt = secrets.token_bytes(_SALT_BYTES)
    return SecretHash(_b64(_scrypt(secret, salt, params)), _b64(salt), params.encode())


def verify_secret(secret: str, stored: SecretHash) -> bool:
    """Whether ``secret`` hashes to ``stored``, compared in constant time. Blocking."""
    try:
        params = ScryptParams.decode(stored.params)
        salt, expected = _unb64(stored.salt), _unb64(stored.hash)
    except (ValueError, KeyError):
        return False
    return hmac.compare_digest(_scrypt(secret, salt, params), expected)


async def hash_secret_async(secret: str, params: ScryptParams = DEFAULT_PARAMS) -> SecretHash:
    """:func:`hash_secret` in a worker thread."""
    return await asyncio.to_thread(hash_secret, secret, params)


async def verify_secret_async(secret: str, stored: SecretHash) -> bool:
    """:func:`verify_secret` in a worker thread."""
    return await asyncio.to_thread(verify_secret, secret, stored)


DECOY_HASH = SecretHash(
    hash=base64.urlsafe_b64encode(bytes(_KEY_BYTES)).decode().rstrip("="),
    salt=base64.urlsafe_b64encode(bytes(_SALT_BYTES)).decode().rstrip("="),
    params=DEFAULT_PARAMS.encode(),
)
"""Checked against when the client id is unknown, so that a miss costs what a wrong secret does."""


def _scrypt(secret: str, salt: bytes, params: ScryptParams) -> bytes:
    return hashlib.scrypt(
        secret.encode(),
        salt=salt,
        n=params.n,
        r=params.r,
        p=params.p,
        maxmem=256 * params.n * params.r * params.p,
        dklen=_KEY_BYTES,
    )


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).decode().rstrip("=")


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))
