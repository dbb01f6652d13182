"""``deepseek audit list``: the audit log's records."""

from __future__ import annotations

import argparse
import contextlib
import itertools
from typing import Any

import deepseek_api as ds
from deepseek_api.cli import _format
from deepseek_api.cli._context import Context
from deepseek_api.cli._exit import ExitCode, reporting
from deepseek_api.cli._jobviews import iso
from deepseek_api.cli._parsing import Commands, add_command, end_moment, moment, positive_int

DEFAULT_LIMIT = 100


def register(commands: Commands, common: argparse.ArgumentParser) -> None:
    """Add ``audit`` with ``list``."""
    audit = add_command(commands, "audit", common, "read the audit log", "The gateway's audit log.")
    actions = audit.add_subparsers(title="commands", metavar="COMMAND", required=True)
    listing = add_command(
        actions,
        "list",
        common,
        "list audit records, oldest first",
        "List audit records in sequence order, matching every filter given. Needs the\n"
        "audit:read scope; other users' records need admin.",
    )
    listing.add_argument("--user", help="only this user's records")
    listing.add_argument("--action", help="only this action, e.g. job.create")
    listing.add_argument("--resource", help="only records about this job id or dataset")
    listing.add_argument(
        "--status-code", type=int, metavar="CODE", help="only calls that ended so (0 = OK)"
    )
    listing.add_argument("--from", dest="start", type=moment, metavar="DATE")
    listing.add_argument("--to", dest="end", type=end_moment, metavar="DATE")
    listing.add_argument(
        "--limit",
        type=positive_int,
        default=DEFAULT_LIMIT,
        help=f"show at most this many records (default {DEFAULT_LIMIT})",
    )
    listing.set_defaults(handler=list_command)


def list_command(args: argparse.Namespace, ctx: Context) -> int:
    """Print a table of audit records."""
    client, situation = ctx.client()
    with client, reporting(situation):
        found = client.list_audit_records(
            user_id=args.user,
            action=args.action,
            resource_id=args.resource,
            status_code=args.status_code,
            start=args.start,
            end=args.end,
            page_size=min(args.limit + 1, 1000),
        )
        with contextlib.closing(found):
            records = list(itertools.islice(found, args.limit + 1))
    shown = records[: args.limit]
    if ctx.out.json:
        ctx.out.document([record_dict(record) for record in shown])
        return ExitCode.OK
    if not shown:
        ctx.out.note("No audit records found.")
        return ExitCode.OK
    rows = [
        [
            str(record.sequence),
            _format.timestamp(record.time),
            record.user_id,
            record.action,
            _format.optional(record.resource_id),
            record.status,
            f"{record.duration_ms:.1f}ms",
        ]
        for record in shown
    ]
    headers = ["SEQ", "TIME", "USER", "ACTION", "RESOURCE", "STATUS", "DURATION"]
    ctx.out.line(_format.table(headers, rows))
    if len(records) > args.limit:
        ctx.out.note(f"Showing the first {args.limit}; there are more (raise --limit).")
    return ExitCode.OK


def record_dict(record: ds.AuditRecord) -> dict[str, Any]:
    """An audit record as JSON (hashes in hex)."""
    return {
        "sequence": record.sequence,
        "event_id": record.event_id,
        "time": iso(record.time),
        "user_id": record.user_id,
        "client_id": record.client_id or None,
        "action": record.action,
        "method": record.method or None,
        "resource_id": record.resource_id or None,
        "ip_address": record.ip_address or None,
        "status": record.status,
        "status_code": record.status_code,
        "duration_ms": record.duration_ms,
        "request_id": record.request_id or None,
        "system": record.system,
        "detail": record.detail or None,
        "hash": record.hash.hex(),
        "prev_hash": record.prev_hash.hex(),
    }
