"""``deepseek usage`` and ``quota``: what you used, what it cost, and your limits."""

from __future__ import annotations

import argparse
from datetime import timedelta
from typing import Any

import deepseek_api as ds
from deepseek_api.cli import _format
from deepseek_api.cli._context import Context
from deepseek_api.cli._exit import CliError, ExitCode, reporting
from deepseek_api.cli._jobviews import iso
from deepseek_api.cli._parsing import Commands, add_command, end_moment, moment

_PLAIN_UNITS = frozenset({"jobs", "nodes", "gpus"})


def register(commands: Commands, common: argparse.ArgumentParser) -> None:
    """Add ``usage`` and ``quota``."""
    usage = add_command(
        commands,
        "usage",
        common,
        "what your jobs used and cost",
        "Usage and cost of the jobs that ended in a window: by default the current month\n"
        "(UTC) until now. Dates are local: --from 2026-01-01 --to 2026-01-31 covers all of\n"
        "January, the 31st included; times like 2026-01-31T08:00 or with an offset work too.",
    )
    usage.add_argument("--from", dest="start", type=moment, metavar="DATE", help="window start")
    usage.add_argument(
        "--to", dest="end", type=end_moment, metavar="DATE", help="window end (a date: inclusive)"
    )
    usage.set_defaults(handler=usage_command)

    quota = add_command(
        commands,
        "quota",
        common,
        "your limits and how much of them is in use",
        "Your quota: each limit (concurrent jobs, nodes, GPUs, storage, monthly budget)\n"
        "and the usage counted against it now.",
    )
    quota.set_defaults(handler=quota_command)


def usage_command(args: argparse.Namespace, ctx: Context) -> int:
    """Print one line per job and the total cost."""
    if args.start is not None and args.end is not None and args.start >= args.end:
        raise CliError("--from must be before --to", ExitCode.USAGE)
    client, situation = ctx.client()
    with client, reporting(situation):
        usage = client.get_usage(args.start, args.end)
    if ctx.out.json:
        ctx.out.document(usage_dict(usage))
        return ExitCode.OK
    window = f"{_format.timestamp(usage.start)} to {_format.timestamp(usage.end)}"
    if usage.lines:
        ctx.out.line(
            _format.table(
                ["JOB", "NAME", "WALL", "CORE TIME", "GPU TIME", "COST"],
                [_usage_row(line) for line in usage.lines],
            )
        )
    else:
        ctx.out.note("No jobs ended in this window.")
    total = usage.total_cost
    ctx.out.line(f"Total {_format.money(total.minor_units, total.currency_code)} ({window})")
    return ExitCode.OK


def quota_command(args: argparse.Namespace, ctx: Context) -> int:
    """Print each limit with its usage."""
    client, situation = ctx.client()
    with client, reporting(situation):
        quota = client.get_quota()
    if ctx.out.json:
        ctx.out.document(
            {
                "user_id": quota.user_id,
                "limits": [
                    {
                        "kind": limit.kind,
                        "limit": limit.limit,
                        "usage": limit.usage,
                        "unit": limit.unit,
                        "overridden": limit.overridden,
                    }
                    for limit in quota.limits
                ],
            }
        )
        return ExitCode.OK
    rows = [
        [
            limit.kind,
            quantity(limit.usage, limit.unit),
            "unlimited" if limit.limit is None else quantity(limit.limit, limit.unit),
            _percent(limit),
            "set for you" if limit.overridden else "default",
        ]
        for limit in quota.limits
    ]
    ctx.out.line(_format.table(["LIMIT", "IN USE", "OF", "USED", "SOURCE"], rows))
    return ExitCode.OK


def quantity(amount: int, unit: str) -> str:
    """A quota amount in its unit: ``"3 gpus"``, ``"1.5 GiB"``, ``"12.34 CNY"``."""
    if unit == "bytes":
        return _format.size(amount)
    if unit in _PLAIN_UNITS or not unit.isupper():
        return f"{amount} {unit}".rstrip()
    return _format.money(amount, unit)


def usage_dict(usage: ds.Usage) -> dict[str, Any]:
    """Usage as JSON, amounts in minor units."""
    return {
        "start": iso(usage.start),
        "end": iso(usage.end),
        "total_cost": _amount(usage.total_cost),
        "lines": [
            {
                "job_id": line.job_id,
                "job_name": line.job_name,
                "wall_seconds": line.wall_seconds,
                "core_seconds": line.core_seconds,
                "gpu_seconds": line.gpu_seconds,
                "memory_gb_seconds": line.memory_gb_seconds,
                "cost": _amount(line.cost),
            }
            for line in usage.lines
        ],
    }


def _usage_row(line: ds.UsageLine) -> list[str]:
    gpu = sum(line.gpu_seconds.values())
    return [
        line.job_id,
        line.job_name,
        _format.duration(timedelta(seconds=line.wall_seconds)),
        _format.duration(timedelta(seconds=line.core_seconds)),
        _format.duration(timedelta(seconds=gpu)) if gpu else _format.EMPTY,
        _format.money(line.cost.minor_units, line.cost.currency_code),
    ]


def _percent(limit: ds.QuotaLimit) -> str:
    if not limit.limit:
        return _format.EMPTY
    return f"{100 * limit.usage / limit.limit:.0f}%"


def _amount(amount: ds.Amount) -> dict[str, Any]:
    return {
        "currency_code": amount.currency_code,
        "minor_units": amount.minor_units,
        "text": _format.money(amount.minor_units, amount.currency_code),
    }
