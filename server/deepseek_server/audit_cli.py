"""``deepseek-server audit export`` and ``deepseek-server audit verify``: the log offline.

``export`` reads the state store (safe while the gateway serves: SQLite readers do not block
it) and writes JSON Lines (format in :mod:`deepseek_server.audit.export`). ``verify`` needs
nothing but that file and a JWK Set (``<state_dir>/jwks.json``, or the JSON of
``AuthService.GetJwks``): it recomputes every hash and link and checks every checkpoint.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
from pathlib import Path
from typing import TextIO

from deepseek_server.admin import opened_store
from deepseek_server.audit import PublicKeys, VerifyResult
from deepseek_server.audit.export import ExportFormatError, export_records, verify_export
from deepseek_server.config import Settings
from deepseek_server.storage import StoreError

COMMANDS = ("audit",)
EXIT_OK, EXIT_FAILURE = 0, 1


def add_commands(
    commands: argparse._SubParsersAction[argparse.ArgumentParser],
    common: argparse.ArgumentParser,
) -> None:
    """Add ``audit export`` and ``audit verify`` to the command-line parser."""
    audit = commands.add_parser("audit", help="export or verify the audit log", parents=[common])
    actions = audit.add_subparsers(dest="action", metavar="ACTION", required=True)
    export = actions.add_parser(
        "export", help="write the audit log and its checkpoints as JSON Lines", parents=[common]
    )
    export.add_argument("--from", dest="first", type=int, default=1, help="first sequence")
    export.add_argument("--to", dest="last", type=int, default=0, help="last (0: the head)")
    export.add_argument("-o", "--output", type=Path, help="file to write (default: stdout)")
    verify = actions.add_parser(
        "verify", help="check an exported file with the public keys alone", parents=[common]
    )
    verify.add_argument("file", type=Path, help="a file written by 'audit export'")
    verify.add_argument(
        "--jwks", type=Path, required=True, help="JWK Set file (e.g. <state_dir>/jwks.json)"
    )


def run(args: argparse.Namespace, settings: Settings, out: TextIO | None = None) -> int:
    """Run an ``audit`` command; returns the exit status."""
    out = out or sys.stdout
    if args.action == "verify":
        return verify_file(args.file, args.jwks, out)
    try:
        return asyncio.run(export_file(settings, args.first, args.last, args.output, out))
    except (OSError, StoreError) as exc:
        print(f"deepseek-server: cannot export the audit log: {exc}", file=sys.stderr)
        return EXIT_FAILURE


async def export_file(
    settings: Settings, first: int, last: int, output: Path | None, out: TextIO
) -> int:
    """Export records ``first..last`` to ``output`` (or ``out``); the count goes to stderr."""
    async with opened_store(settings) as store:
        if output is None:
            counts = await export_records(store, out, first, last)
        else:
            with output.open("w", encoding="utf-8") as file:
                counts = await export_records(store, file, first, last)
    print(f"exported {counts[0]} records, {counts[1]} checkpoints", file=sys.stderr)
    return EXIT_OK


def verify_file(path: Path, jwks: Path, out: TextIO) -> int:
    """Verify an export file; prints ``OK: ...`` (exit 0) or where and why it breaks (exit 1)."""
    try:
        keys = PublicKeys.from_file(jwks)
        with path.open(encoding="utf-8") as lines:
            result = verify_export(lines, keys)
    except (OSError, ValueError) as exc:
        kind = "not a valid export" if isinstance(exc, ExportFormatError) else "cannot verify"
        print(f"FAILED: {kind}: {exc}", file=out)
        return EXIT_FAILURE
    print(describe(result), file=out)
    return EXIT_OK if result.ok else EXIT_FAILURE


def describe(result: VerifyResult) -> str:
    """One line: ``OK: N records, M checkpoints`` or ``BROKEN at sequence S: why``."""
    if result.ok:
        return f"OK: {result.records_checked} records, {result.checkpoints_checked} checkpoints"
    return (
        f"BROKEN at sequence {result.first_broken_sequence}: {result.problem} "
        f"({result.records_checked} records, {result.checkpoints_checked} checkpoints checked)"
    )
