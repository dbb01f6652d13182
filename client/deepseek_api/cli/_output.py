"""Where a command's results go: tables for people, JSON for scripts, notes to stderr."""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, TextIO

from rich.console import Console

JsonValue = Any
"""Anything ``json.dumps`` accepts."""


@dataclass(frozen=True)
class Output:
    """A command's two streams and the format asked for.

    Results go to ``stdout``: text, or with ``json`` one JSON document (JSON Lines for
    streams). Progress, notes and errors go to ``stderr`` so that piping stdout into a
    file or ``jq`` keeps only the results.

    Attributes:
        stdout: Where results go.
        stderr: Where notes, progress and errors go.
        json: Whether results are JSON.
    """

    stdout: TextIO
    stderr: TextIO
    json: bool = False

    @property
    def interactive(self) -> bool:
        """Whether stdout is a terminal (live tables) rather than a pipe or file."""
        return _isatty(self.stdout)

    @property
    def stderr_interactive(self) -> bool:
        """Whether stderr is a terminal (progress bars)."""
        return _isatty(self.stderr)

    def line(self, text: str = "") -> None:
        """Print a line of text to stdout."""
        print(text, file=self.stdout, flush=True)

    def note(self, text: str) -> None:
        """Print a line for the person at the terminal to stderr (never part of results)."""
        print(text, file=self.stderr, flush=True)

    def document(self, value: JsonValue) -> None:
        """Print one JSON document to stdout."""
        print(json.dumps(value, ensure_ascii=False, indent=2), file=self.stdout, flush=True)

    def json_line(self, value: Mapping[str, JsonValue] | Sequence[JsonValue]) -> None:
        """Print one line of JSON Lines to stdout (for streams such as watch)."""
        print(json.dumps(value, ensure_ascii=False), file=self.stdout, flush=True)

    def console(self, *, stderr: bool = False) -> Console:
        """A rich console on stdout (or stderr) for live tables and progress bars."""
        return Console(file=self.stderr if stderr else self.stdout, highlight=False)


def _isatty(stream: TextIO) -> bool:
    try:
        return stream.isatty()
    except (AttributeError, ValueError):
        return False
