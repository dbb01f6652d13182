"""``deepseek submit``, ``jobs list``, ``jobs show`` and ``cancel``."""

from __future__ import annotations

import argparse
import contextlib
import dataclasses
import itertools
from pathlib import Path

import deepseek_api as ds
from deepseek_api.cli import _cmd_data, _cmd_watch, _format, _jobviews
from deepseek_api.cli._context import Context
from deepseek_api.cli._exit import CliError, ExitCode, from_api_error, reporting
from deepseek_api.cli._parsing import Commands, add_command, job_states, label, positive_int
from deepseek_api.cli._specfile import load_spec

DEFAULT_LIMIT = 50


def register(commands: Commands, common: argparse.ArgumentParser) -> None:
    """Add ``submit``, ``jobs`` (``list``, ``show``, ``watch``) and ``cancel``."""
    submit = add_command(
        commands,
        "submit",
        common,
        "create and submit a job from a YAML or JSON spec file",
        "Create a job from a spec file in the platform guide's shape and submit it:\n\n"
        "  job_name: molecular_dynamics_001\n"
        "  resource_spec: {nodes: 4, cpus_per_node: 32, gpus_per_node: 2, memory_gb: 256}\n"
        "  command: mpirun -np 128 ./lammps_simulation\n"
        "  timeout: 86400\n\n"
        "With --upload the files are uploaded to the job's input area before it is\n"
        "submitted. With --wait the command follows the job until it ends and exits 8\n"
        "if it FAILED or was CANCELLED.",
    )
    submit.add_argument(
        "file", type=Path, metavar="FILE", help="the job spec (.yaml, .yml or .json)"
    )
    submit.add_argument(
        "--upload",
        nargs="+",
        default=[],
        type=Path,
        metavar="PATH",
        help="input files to upload before the job is submitted",
    )
    when = submit.add_mutually_exclusive_group()
    when.add_argument(
        "--wait", action="store_true", help="follow the job's state changes until it ends"
    )
    when.add_argument(
        "--hold",
        action="store_true",
        help="create the job but do not submit it (`deepseek jobs submit JOB_ID` does)",
    )
    submit.set_defaults(handler=submit_command)

    jobs = add_command(commands, "jobs", common, "list, show and watch jobs", "Your jobs.")
    actions = jobs.add_subparsers(title="commands", metavar="COMMAND", required=True)
    listing = add_command(
        actions,
        "list",
        common,
        "list your jobs, newest first",
        "List your jobs, newest first, matching every filter given.",
    )
    listing.add_argument(
        "--state",
        type=job_states,
        action="extend",
        metavar="STATE",
        help="only jobs in this state (repeat or separate with commas)",
    )
    listing.add_argument("--name-prefix", help="only jobs whose name starts with this")
    listing.add_argument(
        "--label",
        type=label,
        action="append",
        metavar="KEY=VALUE",
        help="only jobs carrying this label (repeatable)",
    )
    listing.add_argument(
        "--limit",
        type=positive_int,
        default=DEFAULT_LIMIT,
        help=f"show at most this many jobs (default {DEFAULT_LIMIT})",
    )
    listing.set_defaults(handler=list_command)

    show = add_command(actions, "show", common, "show one job in full", "Show one job in full.")
    show.add_argument("job_id", metavar="JOB_ID")
    show.set_defaults(handler=show_command)

    release = add_command(
        actions,
        "submit",
        common,
        "submit a held job",
        "Submit a job created with `deepseek submit FILE --hold`, once its inputs are\n"
        "uploaded: it is queued and runs when it can.",
    )
    release.add_argument("job_id", metavar="JOB_ID")
    release.set_defaults(handler=release_command)

    _cmd_watch.register(actions, common)

    cancel = add_command(
        commands,
        "cancel",
        common,
        "cancel jobs",
        "Cancel jobs. A CREATED or QUEUED job is cancelled at once; a RUNNING one is\n"
        "signalled and ends shortly (follow it with `deepseek jobs watch JOB_ID`).",
    )
    cancel.add_argument("job_ids", nargs="+", metavar="JOB_ID")
    cancel.set_defaults(handler=cancel_command)


def submit_command(args: argparse.Namespace, ctx: Context) -> int:
    """Create the job, upload its inputs, submit it, and optionally follow it."""
    path: Path = args.file
    spec = load_spec(path)
    for upload in args.upload:
        _cmd_data.check_readable(upload)
    client, situation = ctx.client()
    situation = dataclasses.replace(situation, spec_file=str(path))
    with client, reporting(situation):
        try:
            job = client.create_job(spec, submit=not (args.upload or args.hold))
        except ValueError as err:
            raise CliError(f"{err} — fix it in {path}", ExitCode.INVALID) from err
        if args.upload:
            _upload_inputs(client, job, args.upload, ctx)
            if not args.hold:
                try:
                    job.submit()
                except ds.APIException:
                    ctx.out.note(
                        f"Job {job.id} holds its inputs but is not submitted; once the cause "
                        f"below is fixed, run `deepseek jobs submit {job.id}`."
                    )
                    raise
        if not ctx.out.json:
            verb = "Created" if args.hold else "Submitted"
            ctx.out.line(f"{verb} job {job.id} ({job.name}): {job.status}")
        if not args.wait:
            if ctx.out.json:
                ctx.out.document(_jobviews.job_dict(job))
            return ExitCode.OK
        try:
            job = _cmd_watch.follow(client, job, ctx.out)
        except KeyboardInterrupt:
            raise CliError(
                f"stopped waiting; job {job.id} carries on — follow it with "
                f"`deepseek jobs watch {job.id}`",
                ExitCode.INTERRUPTED,
            ) from None
    if ctx.out.json:
        ctx.out.document(_jobviews.job_dict(job))
    return _outcome(job, ctx)


def release_command(args: argparse.Namespace, ctx: Context) -> int:
    """Submit a held job."""
    client, situation = ctx.client()
    with client, reporting(situation):
        job = client.submit_job(args.job_id)
    if ctx.out.json:
        ctx.out.document(_jobviews.job_dict(job))
    else:
        ctx.out.line(f"Submitted job {job.id} ({job.name}): {job.status}")
    return ExitCode.OK


def list_command(args: argparse.Namespace, ctx: Context) -> int:
    """Print a table of jobs."""
    client, situation = ctx.client()
    with client, reporting(situation):
        found = client.list_jobs(
            states=args.state,
            name_prefix=args.name_prefix,
            labels=dict(args.label) if args.label else None,
            page_size=min(args.limit + 1, 1000),
        )
        # One more than the limit tells whether there were more.
        with contextlib.closing(found):
            jobs = list(itertools.islice(found, args.limit + 1))
    shown = jobs[: args.limit]
    if ctx.out.json:
        ctx.out.document([_jobviews.job_dict(job) for job in shown])
        return ExitCode.OK
    if not shown:
        ctx.out.note("No jobs found.")
        return ExitCode.OK
    ctx.out.line(_jobviews.jobs_table(shown))
    if len(jobs) > args.limit:
        ctx.out.note(f"Showing the newest {args.limit}; there are more (raise --limit).")
    return ExitCode.OK


def show_command(args: argparse.Namespace, ctx: Context) -> int:
    """Print one job in full."""
    client, situation = ctx.client()
    with client, reporting(situation):
        job = client.get_job(args.job_id)
    if ctx.out.json:
        ctx.out.document(_jobviews.job_dict(job))
    else:
        ctx.out.line(_jobviews.job_details(job))
    return ExitCode.OK


def cancel_command(args: argparse.Namespace, ctx: Context) -> int:
    """Cancel each job; one that fails does not stop the others."""
    client, situation = ctx.client()
    results: list[dict[str, object]] = []
    first_failure: CliError | None = None
    with client:
        for job_id in args.job_ids:
            try:
                job = client.cancel_job(job_id)
            except ds.APIException as err:
                failure = from_api_error(err, situation)
                first_failure = first_failure or failure
                results.append({"id": job_id, "error": {"code": err.code, "message": err.message}})
                if not ctx.out.json:
                    ctx.out.note(f"deepseek: error: {job_id}: {failure.message}")
                continue
            results.append(_jobviews.job_dict(job))
            if not ctx.out.json:
                ctx.out.line(_cancel_line(job))
    if ctx.out.json:
        ctx.out.document(results)
    return first_failure.code if first_failure else ExitCode.OK


def _upload_inputs(client: ds.DeepSeekClient, job: ds.Job, paths: list[Path], ctx: Context) -> None:
    try:
        files = _cmd_data.upload_files(client, job.id, paths, ctx.out)
    except BaseException:
        # A job without its inputs must not run, nor linger as a surprise.
        with contextlib.suppress(ds.APIException):
            client.cancel_job(job.id)
        ctx.out.note(f"Cancelled job {job.id}: its inputs could not be uploaded.")
        raise
    total = sum(info.size for info in files)
    ctx.out.note(f"Uploaded {len(files)} input file(s), {_format.size(total)}, to job {job.id}.")


def _cancel_line(job: ds.Job) -> str:
    if job.status == "CANCELLED":
        return f"{job.id}: CANCELLED"
    if job.is_done:
        return f"{job.id}: already {job.status}, nothing to cancel"
    return f"{job.id}: cancelling ({job.status}); it stops shortly"


def _outcome(job: ds.Job, ctx: Context) -> int:
    if job.status == "COMPLETED":
        if not ctx.out.json:
            ctx.out.line(f"Job {job.id} COMPLETED{_jobviews.outcome_suffix(job)}")
        return ExitCode.OK
    reason = _jobviews.outcome_suffix(job).strip() or "no reason given"
    message = f": {job.state_message}" if job.state_message else ""
    raise CliError(
        f"job {job.id} ended {job.status} ({reason}){message} — "
        f"see `deepseek logs {job.id} --stderr`",
        ExitCode.JOB_FAILED,
    )
