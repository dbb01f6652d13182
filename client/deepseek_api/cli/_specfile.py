"""Reading a job spec file: YAML or JSON in the platform guide's shape."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import yaml

from deepseek_api.cli._exit import CliError, ExitCode

_JSON_SUFFIXES = frozenset({".json"})


def load_spec(path: Path) -> dict[str, Any]:
    """The job spec in ``path``: JSON if it ends in ``.json``, YAML otherwise.

    YAML is read with the safe loader (no Python objects); a JSON file is valid YAML too,
    but JSON errors are clearer from the JSON parser.

    Raises:
        CliError: USAGE if the file cannot be read; INVALID if it does not parse or is not
            one mapping. The message gives the file, and the line and column if known.
    """
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError as err:
        raise CliError(f"{path}: no such file — check the path", ExitCode.USAGE) from err
    except (OSError, UnicodeDecodeError) as err:
        reason = err.strerror if isinstance(err, OSError) else "not UTF-8 text"
        raise CliError(f"{path}: cannot read it: {reason}", ExitCode.USAGE) from err
    document = _parse_json(path, text) if path.suffix in _JSON_SUFFIXES else _parse_yaml(path, text)
    if not isinstance(document, dict):
        kind = "nothing" if document is None else type(document).__name__
        raise CliError(
            f"{path}: a job spec is a mapping with job_name, resource_spec and command, "
            f"but the file holds {kind}",
            ExitCode.INVALID,
        )
    return document


def _parse_json(path: Path, text: str) -> Any:
    try:
        return json.loads(text)
    except json.JSONDecodeError as err:
        raise CliError(
            f"{path}:{err.lineno}:{err.colno}: invalid JSON: {err.msg}", ExitCode.INVALID
        ) from err


def _parse_yaml(path: Path, text: str) -> Any:
    try:
        documents = list(yaml.safe_load_all(text))
    except yaml.YAMLError as err:
        mark = getattr(err, "problem_mark", None)
        where = f"{path}:{mark.line + 1}:{mark.column + 1}" if mark is not None else str(path)
        problem = getattr(err, "problem", None) or str(err)
        raise CliError(f"{where}: invalid YAML: {problem}", ExitCode.INVALID) from err
    if len(documents) > 1:
        raise CliError(
            f"{path}: holds {len(documents)} YAML documents; put one job spec per file",
            ExitCode.INVALID,
        )
    return documents[0] if documents else None
