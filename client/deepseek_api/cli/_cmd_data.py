"""``deepseek upload`` and ``download``: a job's files, with progress bars."""

from __future__ import annotations

import argparse
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import deepseek_api as ds
from deepseek_api.cli import _format
from deepseek_api.cli._context import Context
from deepseek_api.cli._exit import CliError, ExitCode, reporting
from deepseek_api.cli._output import Output
from deepseek_api.cli._parsing import Commands, add_command
from deepseek_api.cli._progress import TransferProgress


def register(commands: Commands, common: argparse.ArgumentParser) -> None:
    """Add ``upload`` and ``download``."""
    upload = add_command(
        commands,
        "upload",
        common,
        "upload input files to a job that is not yet submitted",
        "Upload files to the job's input area, where the job finds them in its working\n"
        "directory: each file under its own name, each directory as a tree under its\n"
        "name. The job must be held (`deepseek submit FILE --hold`); submit it after\n"
        "with `deepseek jobs submit JOB_ID`, or upload and submit in one go with\n"
        "`deepseek submit FILE --upload PATH...`. Interrupted uploads resume.",
    )
    upload.add_argument("job_id", metavar="JOB_ID")
    upload.add_argument("paths", nargs="+", type=Path, metavar="PATH", help="files or directories")
    upload.add_argument(
        "--overwrite", action="store_true", help="replace files uploaded before under the same path"
    )
    upload.set_defaults(handler=upload_command)

    download = add_command(
        commands,
        "download",
        common,
        "download the files a job wrote",
        "Download every file of the job's output area into DIR (created if missing),\n"
        "keeping their relative paths. The job must have ended. Each file is checked\n"
        "against its checksum and appears only when whole; an interrupted download\n"
        "resumes when run again.",
    )
    download.add_argument("job_id", metavar="JOB_ID")
    download.add_argument("directory", type=Path, metavar="DIR")
    download.set_defaults(handler=download_command)


def upload_command(args: argparse.Namespace, ctx: Context) -> int:
    """Upload the paths, then list what was uploaded."""
    for path in args.paths:
        check_readable(path)
    client, situation = ctx.client()
    with client, reporting(situation):
        files = upload_files(client, args.job_id, args.paths, ctx.out, overwrite=args.overwrite)
    if ctx.out.json:
        ctx.out.document([file_dict(info) for info in files])
    else:
        rows = [[info.path, _format.size(info.size), info.sha256.hex()] for info in files]
        ctx.out.line(_format.table(["PATH", "SIZE", "SHA-256"], rows))
    return ExitCode.OK


def download_command(args: argparse.Namespace, ctx: Context) -> int:
    """Download the job's outputs, then list the local files."""
    client, situation = ctx.client()
    with client, reporting(situation), TransferProgress(ctx.out) as bars:
        try:
            paths = client.download_results(args.job_id, args.directory, progress=bars.update)
        except OSError as err:
            raise CliError(
                f"cannot write {err.filename or args.directory}: {err.strerror} — pick another DIR",
                ExitCode.ERROR,
            ) from err
    files = [(path, path.stat().st_size) for path in paths]
    if ctx.out.json:
        ctx.out.document([{"path": str(path), "size_bytes": size} for path, size in files])
    elif not files:
        ctx.out.note(f"Job {args.job_id} wrote no files.")
    else:
        rows = [[str(path), _format.size(size)] for path, size in files]
        ctx.out.line(_format.table(["FILE", "SIZE"], rows))
    return ExitCode.OK


def check_readable(path: Path) -> None:
    """Fail early, before a job is created, if a path to upload is not there.

    Raises:
        CliError: USAGE, naming the path.
    """
    if not path.exists():
        raise CliError(f"{path}: no such file or directory — check the path", ExitCode.USAGE)


def upload_files(
    client: ds.DeepSeekClient,
    job_id: str,
    paths: Sequence[Path],
    out: Output,
    *,
    overwrite: bool = False,
) -> list[ds.FileInfo]:
    """Upload ``paths`` to the job's inputs, with progress bars on a terminal.

    Raises:
        CliError: if a path cannot be read or two files would get the same remote path.
        APIException: if the gateway refuses an upload.
    """
    with TransferProgress(out) as bars:
        try:
            files = client.upload_input_files(
                job_id, list(paths), overwrite=overwrite, progress=bars.update
            )
        except ValueError as err:
            raise CliError(f"{err} — rename or drop one of the paths", ExitCode.INVALID) from err
        except OSError as err:
            raise CliError(
                f"cannot read {err.filename or 'a file'}: {err.strerror}", ExitCode.USAGE
            ) from err
    return files


def file_dict(info: ds.FileInfo) -> dict[str, Any]:
    """An uploaded file as JSON."""
    return {
        "path": info.path,
        "size_bytes": info.size,
        "sha256": info.sha256.hex(),
        "job_id": info.job_id,
        "area": info.area,
    }
