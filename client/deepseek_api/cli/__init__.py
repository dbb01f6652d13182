"""The ``deepseek`` command line, built on the SDK's public API.

Run ``deepseek --help``; the exit codes are those of :class:`ExitCode`.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Sequence

from deepseek_api.cli._app import run
from deepseek_api.cli._exit import ExitCode

__all__ = ["ExitCode", "main"]


def main(argv: Sequence[str] | None = None) -> int:
    """Run ``deepseek`` with ``argv`` (default: the process's arguments); the exit code.

    Output goes to ``sys.stdout`` and ``sys.stderr``; the environment is read here only
    (``DEEPSEEK_CONFIG_DIR``, ``DEEPSEEK_PROFILE``, ``XDG_CONFIG_HOME``, ``HOME``).
    """
    return run(
        sys.argv[1:] if argv is None else argv,
        stdout=sys.stdout,
        stderr=sys.stderr,
        stdin=sys.stdin,
        environ=os.environ,
    )
