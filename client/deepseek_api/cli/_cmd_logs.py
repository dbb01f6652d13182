"""``deepseek logs``: a job's output, optionally followed as it is written."""

from __future__ import annotations

import argparse
import base64
import contextlib
from typing import BinaryIO, Literal, TextIO

from deepseek_api.cli._context import Context
from deepseek_api.cli._exit import ExitCode, reporting
from deepseek_api.cli._parsing import Commands, add_command


def register(commands: Commands, common: argparse.ArgumentParser) -> None:
    """Add ``logs``."""
    logs = add_command(
        commands,
        "logs",
        common,
        "print a job's output",
        "Print a job's standard output (or error, with --stderr) as the job wrote it.\n"
        "With --follow keep printing as the job writes, until it has ended. With --json\n"
        "each chunk is a JSON Lines object: offset, and data as text (or data_base64 when\n"
        "the bytes are not UTF-8).",
    )
    logs.add_argument("job_id", metavar="JOB_ID")
    logs.add_argument("--stderr", action="store_true", help="the standard error stream")
    logs.add_argument(
        "-f", "--follow", action="store_true", help="keep printing until the job has ended"
    )
    logs.set_defaults(handler=logs_command)


def logs_command(args: argparse.Namespace, ctx: Context) -> int:
    """Copy the log's bytes to stdout unchanged (or as JSON Lines)."""
    stream: Literal["stdout", "stderr"] = "stderr" if args.stderr else "stdout"
    client, situation = ctx.client()
    sink = _binary(ctx.out.stdout)
    offset = 0
    with client, reporting(situation):
        chunks = client.read_logs(args.job_id, stream, follow=args.follow)
        with contextlib.closing(chunks):
            for chunk in chunks:
                if ctx.out.json:
                    ctx.out.json_line({"stream": stream, "offset": offset, **_json_data(chunk)})
                elif sink is not None:
                    sink.write(chunk)
                    sink.flush()
                else:
                    ctx.out.stdout.write(chunk.decode("utf-8", "replace"))
                    ctx.out.stdout.flush()
                offset += len(chunk)
    return ExitCode.OK


def _binary(stream: TextIO) -> BinaryIO | None:
    # Logs are bytes, not necessarily UTF-8 or whole lines: pass them through undecoded.
    buffer = getattr(stream, "buffer", None)
    if buffer is None:
        return None
    stream.flush()
    return buffer  # type: ignore[no-any-return]


def _json_data(chunk: bytes) -> dict[str, str]:
    try:
        return {"data": chunk.decode("utf-8")}
    except UnicodeDecodeError:
        return {"data_base64": base64.b64encode(chunk).decode("ascii")}
