"""Hints to the kernel's page cache for files that stream through the gateway once.

An upload's bytes are written once and read by a job (often on another node), a download's
are sent once: keeping their pages cached pushes out pages that are reused, and taking ever
new pages for them costs more than the copy itself, above all in a virtual machine whose host
takes freed memory back (on the 2-core test VM, writing 1 GiB with an fdatasync every 8 MiB
ran at 280-460 MB/s, and at 1.7-2.0 GB/s with the pages dropped once durable). So uploads
start the writeback of each chunk as soon as it is written, and both directions drop the
pages behind them once they are durable or read, as HDFS data nodes do (their
``drop.cache.behind.*`` and ``sync.behind.writes`` settings).

These are hints: durability still comes from ``fdatasync``, and where a hint is not
available (not Linux) it does nothing. Every function here blocks; callers run them in a
thread.
"""

from __future__ import annotations

import contextlib
import ctypes
import ctypes.util
import os
import sys
from collections.abc import Callable

# sync_file_range(2) flag: start writing the dirty pages of the range, without waiting.
_SYNC_FILE_RANGE_WRITE = 2


def _load_sync_file_range() -> Callable[[int, int, int, int], int] | None:
    if sys.platform != "linux":
        return None
    libc = ctypes.CDLL(ctypes.util.find_library("c"), use_errno=True)
    function = getattr(libc, "sync_file_range", None)
    if function is None:
        return None
    function.argtypes = [ctypes.c_int, ctypes.c_int64, ctypes.c_int64, ctypes.c_uint]
    function.restype = ctypes.c_int
    return function  # type: ignore[no-any-return]


_sync_file_range = _load_sync_file_range()


def start_writeback(fd: int, offset: int, length: int) -> None:
    """Start writing ``length`` bytes from ``offset`` to the disk, without waiting: the
    ``fdatasync`` that makes them durable then finds most of them written."""
    if _sync_file_range is not None:
        # A failure is no loss: the fdatasync that follows writes the pages and reports errors.
        _sync_file_range(fd, offset, length, _SYNC_FILE_RANGE_WRITE)


def drop(fd: int, offset: int, length: int) -> None:
    """Let the kernel free the cached pages of a range whose bytes are durable (or read).
    Pages still dirty and pages only partly in the range stay."""
    if length > 0 and hasattr(os, "posix_fadvise"):
        # A hint the filesystem refuses costs nothing but the pages it keeps.
        with contextlib.suppress(OSError):
            os.posix_fadvise(fd, offset, length, os.POSIX_FADV_DONTNEED)
