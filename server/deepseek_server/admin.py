"""``deepseek-server clients ...`` and ``deepseek-server keys ...``: identity administration.

The commands work on the state store directly, with the same settings as ``serve``; a running
gateway notices each change within about a second (it polls the identity version), so they
can be run while it serves. Secrets are printed once, when made, and never again.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from typing import TextIO

from deepseek_server.config import Settings
from deepseek_server.errors import NotFound
from deepseek_server.identity import (
    ALL_SCOPES,
    ApiClient,
    ClientCredentials,
    ClientRegistry,
    SigningKey,
    load_keys,
    published_jwks,
    rotate_key,
    write_jwks_file,
)
from deepseek_server.security import JWKS_FILE_NAME
from deepseek_server.storage import SqliteOptions, Store, StoreError, open_store

COMMANDS = ("clients", "keys")
EXIT_OK, EXIT_FAILURE, EXIT_USAGE = 0, 1, 2


@asynccontextmanager
async def opened_store(settings: Settings) -> AsyncIterator[Store]:
    """The gateway's state store, opened (and migrated) as ``serve`` would."""
    storage = settings.storage
    storage.state_dir.mkdir(parents=True, exist_ok=True)
    store = await open_store(storage.database_path, SqliteOptions(synchronous=storage.synchronous))
    try:
        yield store
    finally:
        await store.close()


async def create_client(settings: Settings, user_id: str, scopes: list[str]) -> ClientCredentials:
    """Register a client for ``user_id`` with ``scopes``; the result holds its only copy of the
    secret."""
    async with opened_store(settings) as store:
        return await ClientRegistry(store).create(user_id, scopes)


async def list_clients(settings: Settings) -> list[ApiClient]:
    """Every registered client (never a secret)."""
    async with opened_store(settings) as store:
        return await ClientRegistry(store).list()


async def set_client_enabled(settings: Settings, client_id: str, enabled: bool) -> ApiClient:
    """Enable or disable a client; raises :class:`NotFound` for an unknown id."""
    async with opened_store(settings) as store:
        return await ClientRegistry(store).set_enabled(client_id, enabled)


async def rotate_client_secret(settings: Settings, client_id: str) -> ClientCredentials:
    """Give a client a new secret (the old one stops working); raises :class:`NotFound`."""
    async with opened_store(settings) as store:
        return await ClientRegistry(store).rotate_secret(client_id)


async def rotate_signing_key(settings: Settings) -> str:
    """Make a new signing key and retire the current one; returns the new kid.

    Tokens signed by the retired key stay valid until they expire. The JWKS file is rewritten
    here and again by every running gateway when it notices the rotation.
    """
    keep = settings.auth.token_lifetime_seconds + settings.auth.leeway_seconds
    async with opened_store(settings) as store:
        kid = await rotate_key(store, settings.auth.algorithm, keep)
        published = await published_jwks(store)
    await write_jwks_file(settings.storage.state_dir / JWKS_FILE_NAME, published)
    return kid


async def list_signing_keys(settings: Settings) -> list[SigningKey]:
    """The signing keys that may still verify a live token, newest first."""
    keep = settings.auth.token_lifetime_seconds + settings.auth.leeway_seconds
    async with opened_store(settings) as store:
        return await load_keys(store, keep)


def add_commands(
    commands: argparse._SubParsersAction[argparse.ArgumentParser], common: argparse.ArgumentParser
) -> None:
    """Add the ``clients`` and ``keys`` command groups to the ``deepseek-server`` parser."""
    clients = commands.add_parser(
        "clients", help="register and manage API clients", parents=[common]
    )
    actions = clients.add_subparsers(dest="action", metavar="ACTION", required=True)
    create = actions.add_parser(
        "create", help="register a client; prints its id and secret once", parents=[common]
    )
    create.add_argument("--user", required=True, help="the user the client acts for")
    create.add_argument(
        "--scopes",
        required=True,
        nargs="+",
        help=f"scopes the client may request: {', '.join(sorted(ALL_SCOPES))}",
    )
    actions.add_parser("list", help="list clients (never their secrets)", parents=[common])
    for name, help_text in (
        ("disable", "refuse the client's tokens and token requests"),
        ("enable", "accept a disabled client again"),
        ("rotate-secret", "give the client a new secret; prints it once"),
    ):
        action = actions.add_parser(name, help=help_text, parents=[common])
        action.add_argument("client_id")
    keys = commands.add_parser(
        "keys", help="manage the keys that sign access tokens", parents=[common]
    )
    key_actions = keys.add_subparsers(dest="action", metavar="ACTION", required=True)
    key_actions.add_parser("rotate", help="sign new tokens with a new key", parents=[common])
    key_actions.add_parser("list", help="list the signing keys", parents=[common])


def run(args: argparse.Namespace, settings: Settings, out: TextIO | None = None) -> int:
    """Run a ``clients`` or ``keys`` command; returns the exit status."""
    out = out or sys.stdout
    try:
        return asyncio.run(_run(args, settings, out))
    except NotFound as exc:
        print(f"deepseek-server: {exc.message}", file=sys.stderr)
        return EXIT_FAILURE
    except ValueError as exc:
        print(f"deepseek-server: {exc}", file=sys.stderr)
        return EXIT_USAGE
    except (OSError, StoreError) as exc:
        print(
            f"deepseek-server: cannot use the state in {settings.storage.state_dir}: {exc}",
            file=sys.stderr,
        )
        return EXIT_FAILURE


async def _run(args: argparse.Namespace, settings: Settings, out: TextIO) -> int:
    if args.command == "keys":
        if args.action == "rotate":
            print(f"new signing key {await rotate_signing_key(settings)}", file=out)
        else:
            _print_keys(await list_signing_keys(settings), out)
        return EXIT_OK
    if args.action == "create":
        _print_credentials(await create_client(settings, args.user, args.scopes), out)
    elif args.action == "list":
        _print_clients(await list_clients(settings), out)
    elif args.action == "rotate-secret":
        _print_credentials(await rotate_client_secret(settings, args.client_id), out)
    else:
        client = await set_client_enabled(settings, args.client_id, args.action == "enable")
        print(f"client {client.id} {'enabled' if client.enabled else 'disabled'}", file=out)
    return EXIT_OK


def _print_credentials(credentials: ClientCredentials, out: TextIO) -> None:
    client = credentials.client
    print(f"client_id:     {client.id}", file=out)
    print(f"client_secret: {credentials.secret}", file=out)
    print(f"user:          {client.user_id}", file=out)
    print(f"scopes:        {' '.join(sorted(client.scopes))}", file=out)
    print("The secret is shown only now; store it safely.", file=out)


def _print_clients(clients: list[ApiClient], out: TextIO) -> None:
    rows = [("CLIENT ID", "USER", "ENABLED", "CREATED", "SCOPES")]
    rows += [
        (
            c.id,
            c.user_id,
            "yes" if c.enabled else "no",
            c.create_time.isoformat(timespec="seconds"),
            " ".join(sorted(c.scopes)),
        )
        for c in clients
    ]
    _print_table(rows, out)


def _print_keys(keys: list[SigningKey], out: TextIO) -> None:
    if not keys:
        print("no signing keys yet (the gateway makes one when it first starts)", file=out)
        return
    rows = [("KID", "ALGORITHM", "CREATED", "STATE")]
    rows += [
        (
            k.kid,
            k.algorithm,
            k.create_time.isoformat(timespec="seconds"),
            "active"
            if k.retire_time is None
            else f"retired {k.retire_time.isoformat(timespec='seconds')}",
        )
        for k in keys
    ]
    _print_table(rows, out)


def _print_table(rows: Sequence[Sequence[str]], out: TextIO) -> None:
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    for row in rows:
        print(
            "  ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=True)).rstrip(),
            file=out,
        )
