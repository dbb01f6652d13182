"""What the gateway does with identity while it runs: issue tokens, verify them, publish keys.

Clients and keys change from outside the process (the ``deepseek-server clients``/``keys``
commands write the state store). The service polls the identity version every
:data:`POLL_SECONDS` and reloads on a change, so a disabled client or a rotated key takes
effect within about that long, without a database read per call.
"""

from __future__ import annotations

import asyncio
import logging
import time
from dataclasses import dataclass
from pathlib import Path

from deepseek_server.context import Principal
from deepseek_server.errors import (
    FieldViolation,
    InvalidArgument,
    ResourceExhausted,
    Unauthenticated,
)
from deepseek_server.identity._version import read_version
from deepseek_server.identity.clients import ClientRegistry
from deepseek_server.identity.keys import (
    SigningKey,
    active_key,
    ensure_signing_key,
    load_keys,
    published_jwks,
    write_jwks_file,
)
from deepseek_server.identity.ratelimit import RateLimiter
from deepseek_server.identity.scopes import ALL_SCOPES, format_scopes
from deepseek_server.identity.secret_hash import DECOY_HASH, verify_secret_async
from deepseek_server.identity.tokens import TokenPolicy, TokenVerifier, sign_token
from deepseek_server.periodic import Periodic
from deepseek_server.storage import Store

POLL_SECONDS = 1.0
"""How often a running gateway looks for changed clients and keys."""

GRANT_TYPE = "client_credentials"
# Failed IssueToken attempts per client id: 10 at once, then one every 6 seconds.
FAILED_ATTEMPTS_BURST = 10
FAILED_ATTEMPTS_PER_SECOND = 1 / 6

_log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class IssuedToken:
    """An access token and what the token response says about it."""

    access_token: str
    expires_in: int
    scope: str


class IdentityService:
    """Token issuing and verification over the clients and keys of one state store."""

    def __init__(
        self,
        store: Store,
        policy: TokenPolicy,
        algorithm: str,
        jwks_path: Path,
        verifier: TokenVerifier | None = None,
    ) -> None:
        self.policy = policy
        self.algorithm = algorithm
        self.jwks_path = jwks_path
        self.clients = ClientRegistry(store)
        self.verifier = verifier or TokenVerifier(policy)
        self._store = store
        self._keys: list[SigningKey] = []
        self._published: list[dict[str, str]] = []
        self._version = -1
        self._failures = RateLimiter(FAILED_ATTEMPTS_PER_SECOND, FAILED_ATTEMPTS_BURST)
        self._poller = Periodic("reloading clients and keys", POLL_SECONDS, self.refresh)
        self._reloaded = asyncio.Condition()

    @property
    def keep_retired_seconds(self) -> float:
        """How long a retired key keeps verifying: the longest a token it signed may live."""
        return self.policy.lifetime_seconds + self.policy.leeway_seconds

    @property
    def version(self) -> int:
        """The identity version last loaded."""
        return self._version

    async def start(self) -> None:
        """Make a signing key if there is none, load clients and keys, publish the JWKS file,
        and start watching for changes."""
        await ensure_signing_key(self._store, self.algorithm)
        await self.refresh(force=True)
        self._poller.start()

    async def close(self) -> None:
        """Stop watching for changes."""
        await self._poller.stop()

    async def refresh(self, *, force: bool = False) -> bool:
        """Reload clients and keys if the identity version moved; whether it did."""
        version = await read_version(self._store)
        if version == self._version and not force:
            return False
        keys = await load_keys(self._store, self.keep_retired_seconds)
        published = await published_jwks(self._store)
        enabled = await self.clients.enabled_ids()
        self.verifier.update(keys, enabled)
        if published != self._published or force:
            await write_jwks_file(self.jwks_path, published)
        self._keys, self._published, self._version = keys, published, version
        async with self._reloaded:
            self._reloaded.notify_all()
        _log.info("identity loaded", extra={"identity_version": version, "keys": len(keys)})
        return True

    async def wait_for_version(self, version: int) -> None:
        """Return once the identity version ``version`` (or a later one) is loaded."""
        async with self._reloaded:
            await self._reloaded.wait_for(lambda: self._version >= version)

    def authenticate(self, token: str) -> Principal:
        """The principal an access token speaks for; raises :class:`Unauthenticated`."""
        return self.verifier.verify(token, time.time())

    @property
    def signing_key(self) -> SigningKey:
        """The active key: it signs new access tokens and audit checkpoints."""
        return active_key(self._keys)

    def jwks(self) -> list[dict[str, str]]:
        """Every public key ever used, as JWKs: live tokens verify with the newest ones, audit
        checkpoints with whichever signed them."""
        return list(self._published)

    async def issue_token(
        self, grant_type: str, client_id: str, client_secret: str, scope: str
    ) -> IssuedToken:
        """The OAuth2 client_credentials grant. An unknown client, a wrong secret and a
        disabled client are one error, after the same work."""
        if grant_type != GRANT_TYPE:
            raise InvalidArgument(
                [FieldViolation("grant_type", f'must be "{GRANT_TYPE}"')],
                reason="UNSUPPORTED_GRANT_TYPE",
            )
        wait = self._failures.wait_time(client_id, 1, time.monotonic())
        if wait > 0:
            raise ResourceExhausted(
                "too many failed attempts for this client; retry later",
                reason="TOO_MANY_ATTEMPTS",
                retry_after_seconds=wait,
            )
        found = await self.clients.credentials_of(client_id) if client_id else None
        stored = found[1] if found is not None else DECOY_HASH
        matches = await verify_secret_async(client_secret, stored)
        if found is None or not matches or not found[0].enabled:
            self._failures.take(client_id, 1, time.monotonic())
            raise Unauthenticated("invalid client credentials", reason="INVALID_CLIENT")
        client = found[0]
        # A client registered since the last reload must not wait for the poll to be usable.
        self.verifier.enable_client(client.id)
        wanted = frozenset(scope.split()) if scope.strip() else client.scopes
        refused = sorted(wanted - client.scopes)
        if refused:
            known = "not allowed for this client" if refused[0] in ALL_SCOPES else "unknown"
            raise InvalidArgument(
                [FieldViolation("scope", f"scope {refused[0]!r} is {known}")],
                reason="INVALID_SCOPE",
            )
        token = sign_token(
            active_key(self._keys),
            self.policy,
            user_id=client.user_id,
            client_id=client.id,
            scopes=wanted,
            now=time.time(),
        )
        return IssuedToken(token, self.policy.lifetime_seconds, format_scopes(wanted))
