"""Signing keys: made, rotated and published as a JWK Set.

Keys live in the database (table ``signing_keys``) rather than as files: gateway replicas that
share a database then share their keys, and a rotation reaches every replica through the same
identity version as client changes. The private key is PEM in the state store, which is the
gateway's private area; the public half is published as ``<state_dir>/jwks.json`` and by GetJwks.

At most one key is active (signs new tokens). Rotation retires it: a retired key still verifies
tokens until every token it signed has expired (token lifetime plus leeway); then its private
half is erased. Its public half stays published for good, because audit checkpoints it signed
must stay verifiable offline for as long as the audit log is kept.
"""

from __future__ import annotations

import asyncio
import json
import os
import secrets
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from jwt.algorithms import ECAlgorithm, RSAAlgorithm

from deepseek_server.identity._version import bump_version, now_micros
from deepseek_server.storage import Queryable, Row, Store

SIGNING_ALGORITHMS: frozenset[str] = frozenset({"ES256", "RS256"})
"""The allow-list: what keys are made for, and the only algorithms a token may name."""

_RSA_BITS = 3072

PrivateKey = ec.EllipticCurvePrivateKey | rsa.RSAPrivateKey
PublicKey = ec.EllipticCurvePublicKey | rsa.RSAPublicKey


@dataclass(frozen=True, slots=True)
class SigningKey:
    """A key pair named by ``kid``, loaded once (parsing PEM per call would cost ~40 µs)."""

    kid: str
    algorithm: str
    private_key: PrivateKey
    public_key: PublicKey
    public_jwk: dict[str, str]
    create_time: datetime
    retire_time: datetime | None

    @property
    def active(self) -> bool:
        """Whether this key signs new tokens."""
        return self.retire_time is None


async def ensure_signing_key(store: Store, algorithm: str) -> None:
    """Make an active key if there is none (first start, or keys deleted by hand)."""
    query = "SELECT kid FROM signing_keys WHERE retire_time IS NULL"
    if await store.fetch_one(query) is not None:
        return
    new_key = await _NewKey.generate(algorithm)
    async with store.transaction() as tx:
        if await tx.fetch_one(query) is None:  # a concurrent start may have made one meanwhile
            await new_key.insert(tx)


async def rotate_key(store: Store, algorithm: str, keep_retired_seconds: float) -> str:
    """Retire the active key, make a new one for ``algorithm``, delete keys retired long enough
    ago that nothing they signed can still be valid. Returns the new key's kid."""
    # Made before the transaction: an RSA key takes long enough to hold up other writers.
    new_key = await _NewKey.generate(algorithm)
    now = now_micros()
    async with store.transaction() as tx:
        await tx.execute(
            "UPDATE signing_keys SET retire_time = :now WHERE retire_time IS NULL", {"now": now}
        )
        await tx.execute(
            "UPDATE signing_keys SET private_key_pem = '' WHERE retire_time < :horizon",
            {"horizon": now - int(keep_retired_seconds * 1e6)},
        )
        await new_key.insert(tx)
    return new_key.kid


async def load_keys(store: Queryable, keep_retired_seconds: float) -> list[SigningKey]:
    """Every key that may still verify a live token, newest first, parsed in a thread."""
    horizon = now_micros() - int(keep_retired_seconds * 1e6)
    rows = await store.fetch_all(
        "SELECT kid, algorithm, private_key_pem, public_jwk, create_time, retire_time "
        "FROM signing_keys WHERE retire_time IS NULL OR retire_time >= :horizon "
        "ORDER BY create_time DESC, kid",
        {"horizon": horizon},
    )
    return await asyncio.to_thread(lambda: [_parse(row) for row in rows])


async def published_jwks(store: Queryable) -> list[dict[str, str]]:
    """The public half of every key ever made, newest first: what the JWK Set publishes."""
    rows = await store.fetch_all(
        "SELECT public_jwk FROM signing_keys ORDER BY create_time DESC, kid"
    )
    return [json.loads(row["public_jwk"]) for row in rows]


def generate_signing_key(algorithm: str, kid: str) -> SigningKey:
    """A new active key pair in memory only (for tools and tests; blocking for RSA)."""
    pem, jwk = _generate(algorithm, kid)
    now = datetime.now(UTC).timestamp()
    row = {
        "kid": kid,
        "algorithm": algorithm,
        "private_key_pem": pem,
        "public_jwk": json.dumps(jwk),
        "create_time": int(now * 1e6),
        "retire_time": None,
    }
    return _parse(row)


def active_key(keys: Sequence[SigningKey]) -> SigningKey:
    """The key that signs new tokens."""
    for key in keys:
        if key.active:
            return key
    raise LookupError("there is no active signing key")


def jwks_document(keys: Sequence[SigningKey]) -> dict[str, list[dict[str, str]]]:
    """The JWK Set (RFC 7517) of the public halves of ``keys``."""
    return {"keys": [dict(key.public_jwk) for key in keys]}


async def write_jwks_file(path: Path, jwks: Sequence[dict[str, str]]) -> None:
    """Replace ``path`` with the JWK Set atomically (readers see the old file or the new)."""
    text = json.dumps({"keys": list(jwks)}, indent=2, sort_keys=True) + "\n"
    await asyncio.to_thread(_write_atomically, path, text)


@dataclass(frozen=True, slots=True)
class _NewKey:
    kid: str
    algorithm: str
    private_pem: str
    public_jwk: dict[str, str]

    @classmethod
    async def generate(cls, algorithm: str) -> _NewKey:
        if algorithm not in SIGNING_ALGORITHMS:
            allowed = ", ".join(sorted(SIGNING_ALGORITHMS))
            raise ValueError(f"signing algorithm {algorithm!r} is not one of {allowed}")
        kid = f"{datetime.now(UTC):%Y%m%d}-{secrets.token_hex(6)}"
        private_pem, jwk = await asyncio.to_thread(_generate, algorithm, kid)
        return cls(kid, algorithm, private_pem, jwk)

    async def insert(self, tx: Queryable) -> None:
        await tx.execute(
            "INSERT INTO signing_keys (kid, algorithm, private_key_pem, public_jwk, create_time) "
            "VALUES (:kid, :algorithm, :pem, :jwk, :now)",
            {
                "kid": self.kid,
                "algorithm": self.algorithm,
                "pem": self.private_pem,
                "jwk": json.dumps(self.public_jwk),
                "now": now_micros(),
            },
        )
        await bump_version(tx)


def _generate(algorithm: str, kid: str) -> tuple[str, dict[str, str]]:
    private_key: PrivateKey
    if algorithm == "ES256":
        private_key = ec.generate_private_key(ec.SECP256R1())
    else:
        private_key = rsa.generate_private_key(public_exponent=65537, key_size=_RSA_BITS)
    pem = private_key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    ).decode()
    return pem, _public_jwk(private_key.public_key(), algorithm, kid)


def _public_jwk(public_key: PublicKey, algorithm: str, kid: str) -> dict[str, str]:
    fields: dict[str, Any]
    if isinstance(public_key, ec.EllipticCurvePublicKey):
        fields = ECAlgorithm.to_jwk(public_key, as_dict=True)
    else:
        fields = RSAAlgorithm.to_jwk(public_key, as_dict=True)
    jwk = {str(name): str(value) for name, value in fields.items() if name not in ("key_ops",)}
    return {**jwk, "kid": kid, "use": "sig", "alg": algorithm}


def _parse(row: Row) -> SigningKey:
    private_key = serialization.load_pem_private_key(row["private_key_pem"].encode(), None)
    if not isinstance(private_key, ec.EllipticCurvePrivateKey | rsa.RSAPrivateKey):
        raise ValueError(f"signing key {row['kid']} is neither an EC nor an RSA key")
    retire = row["retire_time"]
    return SigningKey(
        kid=row["kid"],
        algorithm=row["algorithm"],
        private_key=private_key,
        public_key=private_key.public_key(),
        public_jwk=json.loads(row["public_jwk"]),
        create_time=datetime.fromtimestamp(row["create_time"] / 1e6, UTC),
        retire_time=None if retire is None else datetime.fromtimestamp(retire / 1e6, UTC),
    )


def _write_atomically(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    handle, temporary = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
    try:
        with os.fdopen(handle, "w", encoding="utf-8") as file:
            file.write(text)
            file.flush()
            os.fsync(file.fileno())
        os.chmod(temporary, 0o644)  # public keys: other services of the cluster read this file
        os.replace(temporary, path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise
