"""``deepseek-server``: run the gateway and administer it."""

from __future__ import annotations

import argparse
import asyncio
import gc
import logging
import os
import signal
import sys
from collections.abc import Sequence
from pathlib import Path

from deepseek_server import admin, allocator, audit_cli, quotas_cli
from deepseek_server.app import Gateway, StartupError
from deepseek_server.config import ConfigError, Settings, describe_settings, load_settings
from deepseek_server.logs import configure_logging

CONFIG_ENV = "DEEPSEEK_CONFIG"
EXIT_OK, EXIT_FAILURE, EXIT_BAD_CONFIG = 0, 1, 2
GC_YOUNG_THRESHOLD = 50_000

_log = logging.getLogger("deepseek_server")


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of ``deepseek-server`` and ``python -m deepseek_server``."""
    args = _parser().parse_args(argv)
    if args.command == "settings":
        for name, default, help_text in describe_settings():
            print(f"{name} = {default}\n    {help_text}")
        return EXIT_OK
    config = args.config or (Path(os.environ[CONFIG_ENV]) if os.environ.get(CONFIG_ENV) else None)
    try:
        settings = load_settings(config)
    except ConfigError as exc:
        print(f"deepseek-server: {exc}", file=sys.stderr)
        return EXIT_BAD_CONFIG
    configure_logging(settings.logging)
    if args.command in admin.COMMANDS:
        return admin.run(args, settings)
    if args.command in audit_cli.COMMANDS:
        return audit_cli.run(args, settings)
    if args.command in quotas_cli.COMMANDS:
        return quotas_cli.run(args, settings)
    if args.command == "check-config":
        print(f"settings OK ({config or 'embedded defaults'})")
        return EXIT_OK
    largest_message = max(
        settings.server.max_receive_message_bytes, settings.server.max_send_message_bytes
    )
    allocator.reuse_large_buffers(largest_message)  # this process serves; see allocator.py
    try:
        return asyncio.run(serve(settings))
    except StartupError as exc:
        _log.error("cannot start: %s", exc)
        return EXIT_FAILURE


async def serve(settings: Settings) -> int:
    """Serve until SIGTERM or SIGINT, then shut down gracefully."""
    # Handlers go in first: a SIGTERM that arrives while starting must still stop gracefully.
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(signum, stop.set)
    gateway = Gateway(settings)
    await gateway.start()
    _tune_garbage_collection()
    await stop.wait()
    await gateway.stop()
    return EXIT_OK


def _tune_garbage_collection() -> None:
    # Every call allocates a few hundred short-lived objects, so with the default threshold
    # (700) a collection ran every few calls and walked the whole heap of modules, protobuf
    # descriptors and settings each time it reached the older generations. Frozen, that
    # long-lived heap is never walked again; a larger young generation collects less often.
    gc.freeze()
    gc.set_threshold(GC_YOUNG_THRESHOLD, *gc.get_threshold()[1:])


def _parser() -> argparse.ArgumentParser:
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument(
        "--config",
        type=Path,
        default=argparse.SUPPRESS,
        help=f"TOML settings file (default: ${CONFIG_ENV}, else embedded defaults); "
        "DEEPSEEK__<SECTION>__<KEY> environment variables override it",
    )
    parser = argparse.ArgumentParser(
        prog="deepseek-server",
        description="The DeepSeek HPC gateway. Without a command, serves on the embedded defaults.",
        parents=[common],
    )
    commands = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name, help_text in (
        ("serve", "serve the gateway until SIGTERM/SIGINT (the default)"),
        ("check-config", "validate the settings and exit"),
        ("settings", "list every setting with its default and meaning"),
    ):
        commands.add_parser(name, help=help_text, parents=[common])
    admin.add_commands(commands, common)
    audit_cli.add_commands(commands, common)
    quotas_cli.add_commands(commands, common)
    parser.set_defaults(command="serve", config=None)
    return parser
