"""Registered API clients: each acts for one user with a set of scopes, and has a secret.

Secrets are stored only as scrypt hashes (see :mod:`.secret_hash`). Every change bumps the
identity version, which running gateways poll.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime

from deepseek_server.errors import NotFound
from deepseek_server.identity._version import bump_version, now_micros
from deepseek_server.identity.scopes import format_scopes, parse_scopes
from deepseek_server.identity.secret_hash import (
    SecretHash,
    hash_secret_async,
    new_client_id,
    new_secret,
)
from deepseek_server.storage import Row, Store

_USER_ID = re.compile(r"[A-Za-z0-9._@-]{1,128}")
_COLUMNS = "id, user_id, scopes, enabled, create_time, update_time"


@dataclass(frozen=True, slots=True)
class ApiClient:
    """A registered client, without its secret."""

    id: str
    user_id: str
    scopes: frozenset[str]
    enabled: bool
    create_time: datetime
    update_time: datetime


@dataclass(frozen=True, slots=True)
class ClientCredentials:
    """A client and its secret in clear: returned once, when made or rotated, never stored."""

    client: ApiClient
    secret: str


class ClientRegistry:
    """The clients in a store."""

    def __init__(self, store: Store) -> None:
        self._store = store

    async def create(self, user_id: str, scopes: Iterable[str]) -> ClientCredentials:
        """Register a client for ``user_id`` allowed ``scopes``; returns its new secret."""
        if not _USER_ID.fullmatch(user_id):
            raise ValueError("a user id is 1-128 letters, digits, '.', '_', '@' or '-'")
        granted = parse_scopes(scopes)
        if not granted:
            raise ValueError("a client needs at least one scope")
        secret = new_secret()
        stored = await hash_secret_async(secret)
        client_id, now = new_client_id(), now_micros()
        async with self._store.transaction() as tx:
            await tx.execute(
                "INSERT INTO api_clients (id, user_id, secret_hash, secret_salt, secret_params, "
                "scopes, enabled, create_time, update_time) VALUES (:id, :user_id, :hash, :salt, "
                ":params, :scopes, 1, :now, :now)",
                {
                    "id": client_id,
                    "user_id": user_id,
                    "hash": stored.hash,
                    "salt": stored.salt,
                    "params": stored.params,
                    "scopes": format_scopes(granted),
                    "now": now,
                },
            )
            await bump_version(tx)
        return ClientCredentials(await self.get(client_id), secret)

    async def get(self, client_id: str) -> ApiClient:
        """The client ``client_id``; raises :class:`NotFound` if there is none."""
        row = await self._store.fetch_one(
            f"SELECT {_COLUMNS} FROM api_clients WHERE id = :id", {"id": client_id}
        )
        if row is None:
            raise NotFound("client", client_id)
        return _client(row)

    async def list(self) -> list[ApiClient]:
        """Every client, oldest first."""
        rows = await self._store.fetch_all(
            f"SELECT {_COLUMNS} FROM api_clients ORDER BY create_time, id"
        )
        return [_client(row) for row in rows]

    async def set_enabled(self, client_id: str, enabled: bool) -> ApiClient:
        """Enable or disable a client. A disabled client gets no tokens, and the tokens it
        has stop working (within the poll interval of each running gateway)."""
        async with self._store.transaction() as tx:
            changed = await tx.execute(
                "UPDATE api_clients SET enabled = :enabled, update_time = :now WHERE id = :id",
                {"enabled": int(enabled), "now": now_micros(), "id": client_id},
            )
            if not changed:
                raise NotFound("client", client_id)
            await bump_version(tx)
        return await self.get(client_id)

    async def rotate_secret(self, client_id: str) -> ClientCredentials:
        """Give a client a new secret; the old one stops working at once. Live tokens stay
        valid until they expire (disable the client to end them)."""
        secret = new_secret()
        stored = await hash_secret_async(secret)
        async with self._store.transaction() as tx:
            changed = await tx.execute(
                "UPDATE api_clients SET secret_hash = :hash, secret_salt = :salt, "
                "secret_params = :params, update_time = :now WHERE id = :id",
                {
                    "hash": stored.hash,
                    "salt": stored.salt,
                    "params": stored.params,
                    "now": now_micros(),
                    "id": client_id,
                },
            )
            if not changed:
                raise NotFound("client", client_id)
            await bump_version(tx)
        return ClientCredentials(await self.get(client_id), secret)

    async def credentials_of(self, client_id: str) -> tuple[ApiClient, SecretHash] | None:
        """A client with its stored secret hash, for authentication; ``None`` if unknown."""
        row = await self._store.fetch_one(
            f"SELECT {_COLUMNS}, secret_hash, secret_salt, secret_params FROM api_clients "
            "WHERE id = :id",
            {"id": client_id},
        )
        if row is None:
            return None
        return _client(row), SecretHash(
            row["secret_hash"], row["secret_salt"], row["secret_params"]
        )

    async def enabled_ids(self) -> frozenset[str]:
        """The ids of every enabled client."""
        rows = await self._store.fetch_all("SELECT id FROM api_clients WHERE enabled = 1")
        return frozenset(row["id"] for row in rows)


def _client(row: Row) -> ApiClient:
    return ApiClient(
        id=row["id"],
        user_id=row["user_id"],
        scopes=frozenset(row["scopes"].split()),
        enabled=bool(row["enabled"]),
        create_time=_time(row["create_time"]),
        update_time=_time(row["update_time"]),
    )


def _time(micros: int) -> datetime:
    return datetime.fromtimestamp(micros / 1e6, UTC)
