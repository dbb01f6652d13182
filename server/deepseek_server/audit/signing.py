"""Signed checkpoints: who signs them, what they say, and how anyone checks them offline.

A checkpoint's signature is a compact JWS (RFC 7515) whose payload is the JSON object
``{"sequence": n, "head_hash": <base64url>, "time": <RFC 3339>}``, made with the service's
signing key and verifiable with nothing but the public keys of ``AuthService.GetJwks``.
"""

from __future__ import annotations

import base64
import binascii
import json
from collections.abc import Callable, Iterable, Mapping
from pathlib import Path
from typing import Any, Protocol

import jwt

from deepseek_server.audit.model import Checkpoint, rfc3339

CHECKPOINT_TYPE = "audit-checkpoint+json"
"""The JWS ``typ`` header: a checkpoint can never pass for an access token, nor one for it."""

# Asymmetric only: with the public key in hand, HS256 would let anyone forge a checkpoint.
ALLOWED_ALGORITHMS = ("EdDSA", "ES256", "ES384", "RS256", "PS256")


class CheckpointSigner(Protocol):
    """The service's current signing key, as the audit log needs it."""

    def sign(self, payload: bytes, headers: Mapping[str, str]) -> tuple[str, str]:
        """(kid, compact JWS of ``payload``) with ``headers``, ``alg`` and ``kid`` in its header.

        One call returns both, so that a key rotating in between cannot mismatch them.
        """
        ...


class PrivateSigningKey(Protocol):
    """A private key named by ``kid`` (what :class:`deepseek_server.identity.SigningKey` is)."""

    @property
    def kid(self) -> str: ...

    @property
    def algorithm(self) -> str: ...

    @property
    def private_key(self) -> Any: ...


class KeyRingSigner:
    """Signs with the key ``current()`` returns: the identity key ring's active key.

    The same keys sign access tokens; the ``typ`` header keeps the two kinds of JWS apart.
    """

    def __init__(self, current: Callable[[], PrivateSigningKey]) -> None:
        self._current = current

    def sign(self, payload: bytes, headers: Mapping[str, str]) -> tuple[str, str]:
        """(kid, compact JWS) made with the current key."""
        key = self._current()
        token = jwt.api_jws.encode(
            payload, key.private_key, algorithm=key.algorithm, headers={**headers, "kid": key.kid}
        )
        return key.kid, token


def checkpoint_payload(sequence: int, head_hash: bytes, time_us: int) -> bytes:
    """The JSON a checkpoint's JWS signs."""
    return json.dumps(
        {"sequence": sequence, "head_hash": b64url(head_hash), "time": rfc3339(time_us)},
        separators=(",", ":"),
    ).encode()


def sign_checkpoint(
    signer: CheckpointSigner, sequence: int, head_hash: bytes, time_us: int
) -> Checkpoint:
    """A checkpoint of record ``sequence``, signed now by ``signer``."""
    payload = checkpoint_payload(sequence, head_hash, time_us)
    kid, signature = signer.sign(payload, {"typ": CHECKPOINT_TYPE})
    return Checkpoint(sequence, head_hash, time_us, signature, kid)


class PublicKeys:
    """Public keys by kid, from a JWK Set: what an offline verifier holds."""

    def __init__(self, jwks: Mapping[str, Any]) -> None:
        keys = jwks.get("keys")
        if not isinstance(keys, list):
            raise ValueError('a JWK Set is a JSON object with a "keys" array')
        self._keys: dict[str, jwt.PyJWK] = {}
        for entry in keys:
            if not isinstance(entry, dict) or not entry.get("kid"):
                raise ValueError("every key of the JWK Set needs a kid")
            try:
                self._keys[str(entry["kid"])] = jwt.PyJWK(entry)
            except jwt.PyJWTError as error:
                raise ValueError(f"key {entry['kid']!r}: {error}") from error

    @classmethod
    def from_file(cls, path: Path) -> PublicKeys:
        """Keys of a JWKS file (e.g. the JSON of ``GetJwks``). Blocks: use a thread."""
        return cls(json.loads(path.read_text(encoding="utf-8")))

    @classmethod
    def of(cls, jwks: Iterable[Mapping[str, Any]]) -> PublicKeys:
        """Keys from a list of JWKs."""
        return cls({"keys": [dict(key) for key in jwks]})

    def __len__(self) -> int:
        return len(self._keys)

    def check(self, checkpoint: Checkpoint) -> str:
        """Why ``checkpoint``'s signature does not hold; empty when it does."""
        key = self._keys.get(checkpoint.kid)
        if key is None:
            return f"checkpoint signed with unknown key {checkpoint.kid!r}"
        if key.algorithm_name not in ALLOWED_ALGORITHMS:
            return f"checkpoint key {checkpoint.kid!r} has disallowed algorithm"
        try:
            header = jwt.get_unverified_header(checkpoint.signature)
            decoded = jwt.api_jws.decode_complete(
                checkpoint.signature, key=key, algorithms=[key.algorithm_name]
            )
        except jwt.PyJWTError:
            return "checkpoint signature invalid"
        if header.get("kid") != checkpoint.kid or header.get("typ") != CHECKPOINT_TYPE:
            return "checkpoint signature header does not match"
        try:
            claimed = json.loads(decoded["payload"])
            claimed_hash = b64url_decode(claimed["head_hash"])
            same = (
                claimed["sequence"] == checkpoint.sequence
                and claimed_hash == checkpoint.head_hash
                and claimed["time"] == rfc3339(checkpoint.time_us)
            )
        except (ValueError, KeyError, TypeError, binascii.Error):
            return "checkpoint signature payload unreadable"
        return "" if same else "checkpoint signature does not cover these values"


def b64url(data: bytes) -> str:
    """Base64url without padding (RFC 7515)."""
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def b64url_decode(text: str) -> bytes:
    """Inverse of :func:`b64url`; raises ``binascii.Error`` or ValueError."""
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))
