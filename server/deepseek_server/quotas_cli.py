"""``deepseek-server quotas``: an administrator's per-user quota overrides."""

from __future__ import annotations

import argparse
import asyncio
import sys
from typing import TextIO

from deepseek_server.accounts.model import UNLIMITED, QuotaKind
from deepseek_server.admin import opened_store
from deepseek_server.app import make_accounts
from deepseek_server.config import Settings
from deepseek_server.errors import InvalidArgument
from deepseek_server.storage import StoreError

COMMANDS = ("quotas",)
EXIT_OK, EXIT_FAILURE, EXIT_USAGE = 0, 1, 2
DEFAULT = "default"


def add_commands(
    commands: argparse._SubParsersAction[argparse.ArgumentParser],
    common: argparse.ArgumentParser,
) -> None:
    """Add ``quotas show`` and ``quotas set`` to the command-line parser."""
    quotas = commands.add_parser(
        "quotas", help="show or override a user's quotas", parents=[common]
    )
    actions = quotas.add_subparsers(dest="action", metavar="ACTION", required=True)
    show = actions.add_parser("show", help="a user's limits and usage", parents=[common])
    show.add_argument("--user", required=True)
    change = actions.add_parser(
        "set",
        help="override limits (a number, -1 for unlimited, or 'default' to reset); "
        "a running gateway applies them within a second",
        parents=[common],
    )
    change.add_argument("--user", required=True)
    for kind in QuotaKind:
        change.add_argument(f"--{kind.subject.replace('_', '-')}", dest=kind.subject, metavar="N")


def run(args: argparse.Namespace, settings: Settings, out: TextIO | None = None) -> int:
    """Run a ``quotas`` command; returns the exit status."""
    out = out or sys.stdout
    try:
        overrides = _overrides(args) if args.action == "set" else {}
        return asyncio.run(_run(args.user, overrides, settings, out))
    except (ValueError, InvalidArgument) as exc:
        print(f"deepseek-server: {exc}", file=sys.stderr)
        return EXIT_USAGE
    except (OSError, StoreError) as exc:
        print(
            f"deepseek-server: cannot use the state in {settings.storage.state_dir}: {exc}",
            file=sys.stderr,
        )
        return EXIT_FAILURE


def _overrides(args: argparse.Namespace) -> dict[QuotaKind, int | None]:
    overrides: dict[QuotaKind, int | None] = {}
    for kind in QuotaKind:
        value = getattr(args, kind.subject)
        if value is None:
            continue
        if value == DEFAULT:
            overrides[kind] = None
            continue
        try:
            number = int(value)
        except ValueError:
            raise ValueError(
                f"--{kind.subject.replace('_', '-')} {value!r}: expected a number, -1 or 'default'"
            ) from None
        if number < UNLIMITED:
            raise ValueError(f"--{kind.subject.replace('_', '-')}: -1 (unlimited) or more")
        overrides[kind] = number
    if not overrides:
        raise ValueError("name at least one limit to set, e.g. --concurrent-jobs 10")
    return overrides


async def _run(
    user: str, overrides: dict[QuotaKind, int | None], settings: Settings, out: TextIO
) -> int:
    async with opened_store(settings) as store:
        accounts = make_accounts(store, settings.accounts, settings.data.storage_quota_bytes)
        await accounts.reload_overrides()
        if overrides:
            await accounts.set_overrides(user, overrides)
        rows = [("QUOTA", "LIMIT", "OVERRIDDEN")]
        for kind in QuotaKind:
            limit = accounts.limit(user, kind)
            overridden = kind in (accounts.overrides_of(user))
            rows.append(
                (
                    kind.subject,
                    "unlimited" if limit == UNLIMITED else str(limit),
                    "yes" if overridden else "no",
                )
            )
    widths = [max(len(row[i]) for row in rows) for i in range(3)]
    for row in rows:
        print(
            "  ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=True)).rstrip(),
            file=out,
        )
    return EXIT_OK
