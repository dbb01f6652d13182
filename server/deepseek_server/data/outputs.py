"""A job's OUTPUT area: the files it wrote into its working directory, read from disk.

The working directory also holds what was placed there at start (the job's inputs and its
datasets' files, hard-linked); those are the same inodes as their sources and are not outputs.
Symbolic links a job made are never followed and never listed.
"""

from __future__ import annotations

import os
import stat
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from deepseek_server.data.blobs import sha256_of
from deepseek_server.data.paths import path_problem

_CACHE_LIMIT = 10_000


@dataclass(frozen=True, slots=True)
class OutputFile:
    """A file a job wrote: its path in the working directory and its identity on disk."""

    path: str
    size: int
    mtime_ns: int
    identity: tuple[int, int]


def scan_outputs(workdir: Path, placed_roots: Iterable[tuple[str, Path]]) -> list[OutputFile]:
    """Every output file under ``workdir``, by path. ``placed_roots`` are (prefix, source)
    pairs: a file at ``prefix + relative`` that is the same inode as ``source / relative`` was
    placed, not written. Blocking."""
    roots = list(placed_roots)
    found: list[OutputFile] = []
    for directory, subdirs, files in os.walk(workdir):
        subdirs.sort()
        for name in files:
            full = Path(directory, name)
            relative = full.relative_to(workdir).as_posix()
            if path_problem(relative) is not None:
                continue
            try:
                info = full.lstat()
            except FileNotFoundError:
                continue
            if not stat.S_ISREG(info.st_mode) or _was_placed(relative, info, roots):
                continue
            found.append(
                OutputFile(relative, info.st_size, info.st_mtime_ns, (info.st_dev, info.st_ino))
            )
    found.sort(key=lambda output: output.path)
    return found


def _was_placed(relative: str, info: os.stat_result, roots: list[tuple[str, Path]]) -> bool:
    for prefix, source in roots:
        if not relative.startswith(prefix):
            continue
        try:
            origin = (source / relative[len(prefix) :]).lstat()
        except (FileNotFoundError, NotADirectoryError):
            continue
        if (origin.st_dev, origin.st_ino) == (info.st_dev, info.st_ino):
            return True
    return False


class HashCache:
    """SHA-256 of output files, remembered by inode, size and modification time."""

    def __init__(self) -> None:
        self._known: dict[tuple[int, int, int, int], bytes] = {}

    def sha256(self, fd: int) -> bytes:
        """SHA-256 of the open file, computed once per version of it. Blocking."""
        info = os.fstat(fd)
        key = (info.st_dev, info.st_ino, info.st_size, info.st_mtime_ns)
        known = self._known.get(key)
        if known is None:
            if len(self._known) >= _CACHE_LIMIT:
                self._known.clear()
            known = self._known[key] = sha256_of(fd)
        return known
