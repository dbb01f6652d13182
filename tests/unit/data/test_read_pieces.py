"""Reading a file for a download: pieces in order with their CRC32C, and a file shorter than
its record."""

from __future__ import annotations

import asyncio
import os
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from deepseek_server.data import downloads
from deepseek_server.data.blobs import crc32c
from deepseek_server.data.downloads import read_pieces
from deepseek_server.errors import DataLoss


@pytest.fixture
def data_file(tmp_path: Path) -> Iterator[tuple[int, bytes]]:
    data = os.urandom(10_000)
    path = tmp_path / "f.bin"
    path.write_bytes(data)
    fd = os.open(path, os.O_RDONLY)
    yield fd, data
    os.close(fd)


@pytest.mark.parametrize("drop_behind", [False, True])
async def test_pieces_cover_the_range_in_order_with_their_crc32c(
    data_file: tuple[int, bytes], drop_behind: bool
) -> None:
    fd, data = data_file

    pieces = [piece async for piece in read_pieces(fd, 1000, 9500, 3000, drop_behind=drop_behind)]

    assert [(offset, len(piece)) for offset, piece, _ in pieces] == [
        (1000, 3000),
        (4000, 3000),
        (7000, 2500),
    ]
    assert b"".join(piece for _, piece, _ in pieces) == data[1000:9500]
    assert all(crc == crc32c(piece) for _, piece, crc in pieces)


async def test_a_file_shorter_than_the_range_is_data_loss_after_the_bytes_it_has(
    data_file: tuple[int, bytes],
) -> None:
    fd, data = data_file
    received: list[tuple[int, bytes]] = []

    async def receive_all() -> None:
        async for offset, piece, _ in read_pieces(fd, 0, 12_000, 4000, drop_behind=False):
            received.append((offset, piece))

    with pytest.raises(DataLoss, match="ended early at 10000 bytes"):
        await receive_all()

    assert received == [(0, data[:4000]), (4000, data[4000:8000])]


async def test_closing_early_waits_for_the_reads_still_running(
    data_file: tuple[int, bytes], monkeypatch: pytest.MonkeyPatch
) -> None:
    fd, data = data_file
    gate = threading.Event()
    finished: list[int] = []

    def gated_read(fd: int, offset: int, size: int, drop_behind: bool) -> tuple[bytes, int]:
        if offset > 0:  # the reads ahead of the first piece wait for the gate
            gate.wait()
        finished.append(offset)
        return real_read(fd, offset, size, drop_behind)

    real_read = downloads._read_piece
    monkeypatch.setattr(downloads, "_read_piece", gated_read)
    pieces = downloads.read_pieces(fd, 0, len(data), 1000, drop_behind=False)
    first = await anext(pieces)
    closing = asyncio.ensure_future(pieces.aclose())
    for _ in range(10):
        await asyncio.sleep(0)
    waited = not closing.done()
    gate.set()
    await closing

    assert first[:2] == (0, data[:1000])
    assert waited  # the descriptor may only be closed once no read uses it
    assert sorted(finished) == [1000 * n for n in range(downloads.READ_AHEAD + 1)]
