"""Bytes on disk: an upload's part file, and files placed atomically under their root.

Every function here blocks; callers run them in a thread.
"""

from __future__ import annotations

import contextlib
import errno
import hashlib
import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import google_crc32c

from deepseek_server.data import pagecache
from deepseek_server.data.paths import open_parent

READ_BYTES = 4 * 1024 * 1024

Hash = Any  # hashlib's object has no public type


class ChecksumMismatch(Exception):
    """A chunk's data does not match its CRC32C; nothing of it was written."""


class TargetExists(Exception):
    """A file is already at the target path and overwriting was not asked for."""


class TargetIsDirectory(Exception):
    """A directory is at the target path."""


def crc32c(data: bytes) -> int:
    """CRC32C (Castagnoli) of ``data``."""
    return int(google_crc32c.value(data))


class PartFile:
    """An upload's data so far.

    Writing, hashing and syncing are separate steps, each meant for its own ordered worker
    thread so that they overlap: :meth:`write_at` puts bytes at an offset and starts writing
    them to the disk; :meth:`check_and_hash` checks a chunk's CRC32C and feeds the SHA-256;
    :meth:`sync` makes what was written durable. After a mismatch, hashing stops for good (the
    hash state stays at the end of the last good chunk), and bytes written past that point are
    never committed: a later open cuts the file back to its committed size.
    """

    def __init__(
        self, path: Path, fd: int, size: int, hasher: Hash, *, drop_behind: bool = False
    ) -> None:
        self.path = path
        self._fd = fd
        self.size = size
        self._hasher = hasher
        self._failed = False
        self._drop_behind = drop_behind
        self._dropped = 0

    @classmethod
    def open(
        cls,
        path: Path,
        committed: int,
        saved: tuple[int, Hash] | None,
        *,
        drop_behind: bool = False,
    ) -> PartFile:
        """Open the part file cut back to its ``committed`` size (bytes past it were never
        acknowledged). The hash state comes from ``saved`` if it is at that size, else from
        re-reading the committed bytes. FileNotFoundError if committed bytes are missing.
        With ``drop_behind``, synced bytes leave the page cache."""
        path.parent.mkdir(parents=True, exist_ok=True)
        flags = os.O_RDWR | os.O_CLOEXEC | (os.O_CREAT if committed == 0 else 0)
        fd = os.open(path, flags, 0o600)
        try:
            if os.fstat(fd).st_size < committed:
                raise FileNotFoundError(errno.ENOENT, "committed bytes are missing", str(path))
            os.ftruncate(fd, committed)
            if saved is not None and saved[0] == committed:
                hasher = saved[1].copy()
            else:
                hasher = hash_prefix(fd, committed)
        except BaseException:
            os.close(fd)
            raise
        return cls(path, fd, committed, hasher, drop_behind=drop_behind)

    def write_at(self, data: bytes, offset: int) -> None:
        """Put ``data`` at ``offset``, and start writing it to the disk."""
        view = memoryview(data)
        position = offset
        while view:
            written = os.pwrite(self._fd, view, position)
            view = view[written:]
            position += written
        pagecache.start_writeback(self._fd, offset, len(data))

    def check_and_hash(self, data: bytes, crc: int) -> None:
        """Feed ``data`` to the hash if it matches ``crc``; ChecksumMismatch otherwise, and for
        every chunk after a mismatch."""
        if self._failed:
            raise ChecksumMismatch
        if crc32c(data) != crc:
            self._failed = True
            raise ChecksumMismatch
        self._hasher.update(data)

    def snapshot(self) -> Hash:
        """The hash state after every chunk hashed so far."""
        return self._hasher.copy()

    def sync(self, committed: int) -> None:
        """Make every byte written so far durable, and the first ``committed`` of them (the
        size being committed) leave the page cache if the file drops behind."""
        os.fdatasync(self._fd)
        if self._drop_behind and committed > self._dropped:
            pagecache.drop(self._fd, self._dropped, committed - self._dropped)
            self._dropped = committed

    def sha256(self) -> bytes:
        """SHA-256 of everything hashed."""
        return bytes(self._hasher.digest())

    def close(self) -> None:
        """Release the descriptor. Idempotent."""
        if self._fd >= 0:
            os.close(self._fd)
            self._fd = -1


def hash_prefix(fd: int, size: int) -> Hash:
    """SHA-256 state of the first ``size`` bytes of the open file."""
    hasher = hashlib.sha256()
    offset = 0
    while offset < size:
        piece = os.pread(fd, min(READ_BYTES, size - offset), offset)
        if not piece:
            raise FileNotFoundError(errno.ENOENT, "file is shorter than expected")
        hasher.update(piece)
        offset += len(piece)
    return hasher


def sha256_of(fd: int) -> bytes:
    """SHA-256 of a whole open file."""
    return bytes(hash_prefix(fd, os.fstat(fd).st_size).digest())


def place(part: Path, root: Path, components: Sequence[str], *, overwrite: bool) -> None:
    """Make ``part`` visible at ``components`` under ``root`` in one atomic step.

    Directories on the way are made, none is followed through a link. Without ``overwrite``
    an existing file is left alone (TargetExists). The directory entry is made durable.
    """
    with open_parent(root, components, create=True) as parent:
        name = components[-1]
        try:
            if overwrite:
                os.rename(part, name, dst_dir_fd=parent)
            else:
                # link() never replaces: the check for an existing file and the creation are
                # one step, so two uploads racing to one path cannot both win.
                os.link(part, name, dst_dir_fd=parent, follow_symlinks=False)
                os.unlink(part)
        except FileExistsError as error:
            raise TargetExists(name) from error
        except IsADirectoryError as error:
            raise TargetIsDirectory(name) from error
        except OSError as error:
            if error.errno in (errno.ENOTEMPTY, errno.EEXIST):
                raise TargetIsDirectory(name) from error
            raise
        os.fsync(parent)


def remove(path: Path) -> None:
    """Delete a file if it exists."""
    with contextlib.suppress(FileNotFoundError):
        path.unlink()
