"""Reading a file for a Download stream: pieces read and checksummed ahead, in threads."""

from __future__ import annotations

import asyncio
import contextlib
import os
from collections import deque
from collections.abc import AsyncGenerator

from deepseek_server.data import blobs, pagecache
from deepseek_server.errors import DataLoss

# Pieces being read while an earlier one is sent: enough to keep the disk busy while gRPC
# sends, few enough to bound a download's memory (with 4 MiB pieces, 12 MiB with the one sent).
READ_AHEAD = 2


async def read_pieces(
    fd: int, start: int, end: int, step: int, *, drop_behind: bool
) -> AsyncGenerator[tuple[int, bytes, int]]:
    """(offset, data, crc32c) of the open file from ``start`` to ``end``, ``step`` bytes at a
    time; DataLoss if the file is shorter. With ``drop_behind``, the pages read leave the
    page cache. Close it with ``aclose()``: that waits for the reads still running, so that
    the descriptor can be closed after it."""
    pending: deque[tuple[int, int, asyncio.Future[tuple[bytes, int]]]] = deque()
    following = start
    try:
        while following < end or pending:
            while following < end and len(pending) <= READ_AHEAD:
                size = min(step, end - following)
                read = asyncio.to_thread(_read_piece, fd, following, size, drop_behind)
                pending.append((following, size, asyncio.ensure_future(read)))
                following += size
            offset, size, reading = pending.popleft()
            data, crc = await reading
            if len(data) != size:
                raise DataLoss(f"the file ended early at {offset + len(data)} bytes")
            yield offset, data, crc
    finally:
        for _, _, reading in pending:
            with contextlib.suppress(Exception):
                await reading


def _read_piece(fd: int, offset: int, size: int, drop_behind: bool) -> tuple[bytes, int]:
    data = os.pread(fd, size, offset)
    if drop_behind:
        pagecache.drop(fd, offset, len(data))
    return data, blobs.crc32c(data)
