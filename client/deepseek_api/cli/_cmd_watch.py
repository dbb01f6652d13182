"""``deepseek jobs watch``: jobs' state changes as they happen."""

from __future__ import annotations

import argparse
import contextlib
from collections.abc import Iterable
from datetime import UTC, datetime

from rich.live import Live
from rich.table import Table

import deepseek_api as ds
from deepseek_api.cli import _jobviews
from deepseek_api.cli._context import Context
from deepseek_api.cli._exit import ExitCode, reporting
from deepseek_api.cli._output import Output
from deepseek_api.cli._parsing import Commands, add_command

_LIVE_REFRESHES_PER_SECOND = 2


def register(actions: Commands, common: argparse.ArgumentParser) -> None:
    """Add ``jobs watch``."""
    watch = add_command(
        actions,
        "watch",
        common,
        "follow jobs' state changes live",
        "Follow jobs' state changes as the gateway announces them. On a terminal this is a\n"
        "table updated in place; otherwise one line per change (JSON Lines with --json).\n"
        "With job ids it ends when they all have ended; without, it follows all of your\n"
        "jobs, new ones included, until you press Ctrl-C.",
    )
    watch.add_argument("job_ids", nargs="*", metavar="JOB_ID", help="jobs to watch (default: all)")
    watch.set_defaults(handler=watch_command)


def watch_command(args: argparse.Namespace, ctx: Context) -> int:
    """Print each event, or keep a live table, until the stream ends."""
    client, situation = ctx.client()
    with client, reporting(situation):
        events = client.watch_jobs(args.job_ids or None)
        with contextlib.closing(events):
            if ctx.out.json:
                for event in events:
                    ctx.out.json_line(_jobviews.event_dict(event))
            elif ctx.out.interactive:
                _live_table(events, ctx.out)
            else:
                for event in events:
                    line = _jobviews.event_line(event)
                    if line is not None:
                        ctx.out.line(line)
    return ExitCode.OK


def follow(client: ds.DeepSeekClient, job: ds.Job, out: Output) -> ds.Job:
    """Print the job's state changes until it ends (nothing with --json); the ended job."""
    shown = job.status
    last = job
    events = client.watch_jobs([job.id])
    with contextlib.closing(events):
        for event in events:
            if event.job is None:
                continue
            last = event.job
            if last.status != shown and not out.json:
                line = _jobviews.event_line(event)
                if line is not None:
                    out.line(line)
            shown = last.status
    return last if last.is_done else client.get_job(job.id)


class _Board:
    """The jobs of a live watch, by id, in the order they first appeared."""

    def __init__(self) -> None:
        self.jobs: dict[str, ds.Job] = {}
        self.ready = False

    def update(self, event: ds.JobEvent[ds.Job]) -> None:
        """Take the job's newest state from the event."""
        if event.type == "SNAPSHOT_COMPLETE":
            self.ready = True
        elif event.job is not None:
            self.jobs[event.job.id] = event.job

    def render(self) -> Table:
        """The table as of now (runtimes of running jobs keep counting)."""
        now = datetime.now(UTC)
        table = Table(box=None, header_style="bold", pad_edge=False)
        for header in _jobviews.JOB_HEADERS:
            table.add_column(header, no_wrap=header == "ID")
        for job in self.jobs.values():
            table.add_row(*_jobviews.job_row(job, now), style=_STYLES.get(job.status, ""))
        if not self.ready:
            table.caption = "connecting..."
        elif not self.jobs:
            table.caption = "no jobs yet"
        else:
            done = sum(job.is_done for job in self.jobs.values())
            table.caption = f"{done}/{len(self.jobs)} ended · Ctrl-C to stop"
        return table


_STYLES = {"RUNNING": "cyan", "COMPLETED": "green", "FAILED": "red", "CANCELLED": "yellow"}


def _live_table(events: Iterable[ds.JobEvent[ds.Job]], out: Output) -> None:
    board = _Board()
    with Live(
        get_renderable=board.render,
        console=out.console(),
        refresh_per_second=_LIVE_REFRESHES_PER_SECOND,
    ) as live:
        for event in events:
            board.update(event)
            live.refresh()
