"""The ``deepseek`` command: its parser, and running a command to an exit code."""

from __future__ import annotations

import argparse
import os
from collections.abc import Callable, Mapping, Sequence
from typing import TextIO

import deepseek_api as ds
from deepseek_api.cli import (
    _cmd_account,
    _cmd_audit,
    _cmd_auth,
    _cmd_data,
    _cmd_jobs,
    _cmd_logs,
)
from deepseek_api.cli._context import Context, Settings
from deepseek_api.cli._exit import CliError, ExitCode
from deepseek_api.cli._output import Output
from deepseek_api.cli._parsing import positive_float

PROG = "deepseek"
DEFAULT_TIMEOUT = 30.0
Handler = Callable[[argparse.Namespace, Context], int]

_EPILOG = """\
Profiles: `deepseek login` saves credentials in ~/.config/deepseek/config.toml (or
$DEEPSEEK_CONFIG_DIR/config.toml, mode 0600); --profile or $DEEPSEEK_PROFILE picks one.

Exit codes: 0 ok, 1 other error, 2 usage, 3 not found, 4 not allowed (credentials or
scope), 5 invalid request or spec, 6 quota or rate limit, 7 gateway unreachable or too
slow, 8 job FAILED or CANCELLED (submit --wait), 130 interrupted.
"""


def run(
    argv: Sequence[str],
    *,
    stdout: TextIO,
    stderr: TextIO,
    stdin: TextIO,
    environ: Mapping[str, str],
) -> int:
    """Run the command line ``argv`` (without the program name); the exit code."""
    parser = build_parser()
    try:
        args = parser.parse_args(argv)
    except SystemExit as exit_:
        # argparse exits 0 after --help and 2 after printing a usage error.
        return exit_.code if isinstance(exit_.code, int) else ExitCode.USAGE
    out = Output(stdout, stderr, json=getattr(args, "json", False))
    settings = Settings.from_environment(
        environ,
        profile=getattr(args, "profile", None),
        endpoint=getattr(args, "endpoint", None),
        timeout=getattr(args, "timeout", DEFAULT_TIMEOUT),
    )
    ctx = Context(out, stdin, settings)
    handler: Handler = args.handler
    try:
        return int(handler(args, ctx))
    except CliError as err:
        _report(out, err)
        return err.code
    except ds.APIException as err:
        out.note(f"{PROG}: error: {err}")
        return ExitCode.ERROR
    except KeyboardInterrupt:
        out.note(f"{PROG}: interrupted")
        return ExitCode.INTERRUPTED
    except BrokenPipeError:
        # The reader went away (`deepseek logs ID | head`): that is not an error of ours.
        _silence(stdout)
        return ExitCode.OK


def build_parser() -> argparse.ArgumentParser:
    """The parser of the whole command line."""
    common = _global_options()
    parser = argparse.ArgumentParser(
        prog=PROG,
        parents=[common],
        description="Run and follow jobs on the DeepSeek supercomputing platform.",
        epilog=_EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--version", action="version", version=f"%(prog)s {ds.__version__}")
    commands = parser.add_subparsers(title="commands", metavar="COMMAND", required=True)
    _cmd_auth.register(commands, common)
    _cmd_jobs.register(commands, common)
    _cmd_logs.register(commands, common)
    _cmd_data.register(commands, common)
    _cmd_account.register(commands, common)
    _cmd_audit.register(commands, common)
    return parser


def _global_options() -> argparse.ArgumentParser:
    # SUPPRESS keeps an option given before the command from being reset by the
    # sub-command's copy of it, so `deepseek --json jobs list` and `... list --json` agree.
    common = argparse.ArgumentParser(add_help=False)
    group = common.add_argument_group("global options")
    group.add_argument(
        "--json",
        action="store_true",
        default=argparse.SUPPRESS,
        help="print results as JSON (one document; JSON Lines for streams)",
    )
    group.add_argument(
        "--profile",
        default=argparse.SUPPRESS,
        help="the profile to use (default: $DEEPSEEK_PROFILE, else 'default')",
    )
    group.add_argument(
        "--endpoint",
        default=argparse.SUPPRESS,
        metavar="URL",
        help="the gateway to connect to, instead of the profile's",
    )
    group.add_argument(
        "--timeout",
        type=positive_float,
        default=argparse.SUPPRESS,
        metavar="SECONDS",
        help=f"how long each call may take (default {DEFAULT_TIMEOUT:g})",
    )
    return common


def _report(out: Output, error: CliError) -> None:
    out.note(f"{PROG}: error: {error.message}")
    for detail in error.details:
        out.note(f"  {detail}")


def _silence(stdout: TextIO) -> None:
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, stdout.fileno())
    except (OSError, ValueError, AttributeError):
        pass
