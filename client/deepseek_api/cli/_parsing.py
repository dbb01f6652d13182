"""Shared pieces of the argument parsers."""

from __future__ import annotations

import argparse
from datetime import UTC, date, datetime, time, timedelta
from typing import TypeAlias

Commands: TypeAlias = "argparse._SubParsersAction[argparse.ArgumentParser]"
"""What ``add_subparsers`` returns: commands are added to it."""

JOB_STATES = ("CREATED", "QUEUED", "RUNNING", "COMPLETED", "FAILED", "CANCELLED")


def add_command(
    commands: Commands, name: str, common: argparse.ArgumentParser, summary: str, description: str
) -> argparse.ArgumentParser:
    """A sub-command taking the global options too (so they may follow the command name)."""
    return commands.add_parser(
        name,
        parents=[common],
        help=summary,
        description=description,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )


def job_states(text: str) -> list[str]:
    """``--state`` values: one state or several separated by commas, any case."""
    states = [part.strip().upper() for part in text.split(",") if part.strip()]
    unknown = [state for state in states if state not in JOB_STATES]
    if unknown or not states:
        raise argparse.ArgumentTypeError(
            f"unknown state {', '.join(unknown) or repr(text)}; choose from {', '.join(JOB_STATES)}"
        )
    return states


def label(text: str) -> tuple[str, str]:
    """A ``--label key=value`` pair."""
    key, equals, value = text.partition("=")
    if not equals or not key:
        raise argparse.ArgumentTypeError(f"expected key=value, got {text!r}")
    return key, value


def positive_int(text: str) -> int:
    """A whole number of at least 1."""
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a whole number, got {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be at least 1, got {value}")
    return value


def positive_float(text: str) -> float:
    """A number of seconds greater than 0."""
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number, got {text!r}") from None
    if not value > 0:
        raise argparse.ArgumentTypeError(f"must be greater than 0, got {text}")
    return value


def moment(text: str, *, end_of_day: bool = False) -> datetime:
    """A date (``2026-01-31``) or a time (``2026-01-31T08:00``, with or without an offset).

    A time without an offset is local time. A bare date is its midnight (local time), or
    with ``end_of_day`` the next midnight, so that ``--to 2026-01-31`` includes that day.
    """
    try:
        if len(text) == 10:
            day = date.fromisoformat(text)
            start = datetime.combine(day, time()).astimezone()
            return start + timedelta(days=1) if end_of_day else start
        parsed = datetime.fromisoformat(text)
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"expected a date like 2026-01-31 or a time like 2026-01-31T08:00, got {text!r}"
        ) from None
    return parsed.astimezone() if parsed.tzinfo is None else parsed.astimezone(UTC)


def end_moment(text: str) -> datetime:
    """A ``--to`` value: as :func:`moment`, a bare date meaning up to the end of that day."""
    return moment(text, end_of_day=True)
