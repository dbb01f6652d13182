"""Random bytes for identifiers, drawn from the OS generator a page at a time.

``os.urandom`` releases the GIL around its system call. With the gRPC poller and the store's
threads waiting for the GIL under load, each release handed the GIL to another thread and back:
on the 2-core test machines that round trip cost ~13 us, three times per call (request, job and
audit ids). Reading 4 KiB at once makes it one release per ~250 identifiers. The bytes are the
kernel's CSPRNG output either way; they are kept only until used.
"""

from __future__ import annotations

import os
import threading

__all__ = ["random_bytes", "random_hex"]

_PAGE_BYTES = 4096


class _Pool:
    """Unused bytes of the last page read from the OS; refilled when they run out."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._page = b""
        self._used = 0

    def take(self, count: int) -> bytes:
        with self._lock:
            if self._used + count > len(self._page):
                self._page = os.urandom(max(_PAGE_BYTES, count))
                self._used = 0
            start = self._used
            self._used += count
            return self._page[start : start + count]

    def forget(self) -> None:
        # A forked child must not hand out the bytes its parent hands out too.
        self._lock = threading.Lock()
        self._page = b""
        self._used = 0


_pool = _Pool()
os.register_at_fork(after_in_child=_pool.forget)


def random_bytes(count: int) -> bytes:
    """``count`` bytes from the OS's cryptographically secure generator."""
    return _pool.take(count)


def random_hex(count: int) -> str:
    """``count`` random bytes as ``2 * count`` lowercase hexadecimal digits."""
    return _pool.take(count).hex()
