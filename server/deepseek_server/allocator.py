"""How the gateway process asks the C allocator to treat the large buffers of data streams.

Every 4 MiB chunk of an upload or a download passes through several buffers of its size on
the event loop (gRPC's message, protobuf's parse or serialisation, the bytes handed to a
thread). glibc's malloc maps buffers that large straight from the kernel and gives them back
when freed, or keeps them in its heap only to trim them off again once more than twice their
size lies free; either way, most chunks get fresh pages, and faulting in and zeroing those
cost more than the copies themselves (on the 2-core test VM, the event loop's CPU time for a
1 GiB upload and download fell from 3.2-3.4 s to 1.7-2.1 s with the two thresholds below).
"""

from __future__ import annotations

import ctypes
import ctypes.util
import sys

MIB = 1024 * 1024

# mallopt(3) parameters.
_M_TRIM_THRESHOLD = -1
_M_MMAP_THRESHOLD = -3

# glibc refuses a larger mmap threshold (HEAP_MAX_SIZE / 2 on 64-bit).
LARGEST_HEAP_BUFFER = 32 * MIB

# Freed memory kept at the top of the heap: a few chunks' worth of buffers of a few streams.
RETAINED_BYTES = 64 * MIB


def reuse_large_buffers(largest: int) -> bool:
    """Have malloc serve buffers of up to ``largest`` bytes (at most 32 MiB) from its heap and
    keep up to :data:`RETAINED_BYTES` of freed memory instead of returning it to the kernel.
    Process-wide; for the gateway's own process, not for a process that embeds it. Returns
    whether it applied (glibc only)."""
    if sys.platform != "linux":
        return False
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c"))
        mallopt = libc.mallopt
    except (OSError, AttributeError):  # another C library (musl has no mallopt)
        return False
    mallopt.argtypes = [ctypes.c_int, ctypes.c_int]
    mallopt.restype = ctypes.c_int
    threshold = min(largest, LARGEST_HEAP_BUFFER)
    # Setting either disables glibc's own adjustment of both, so both are set.
    return bool(
        mallopt(_M_MMAP_THRESHOLD, threshold) and mallopt(_M_TRIM_THRESHOLD, RETAINED_BYTES)
    )
