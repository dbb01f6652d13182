"""File paths as clients send them, and how they are confined to their root on disk.

A path is accepted only in its one normal form (see ``FileRef`` in data.proto): relative,
'/'-separated, no empty, "." or ".." components, no NUL, at most 4096 bytes of UTF-8 with
components of at most 255 bytes, and in Unicode NFC. A path in any other form is refused, never
normalised: two names that differ only in normalisation would otherwise become two files that
look alike (or one file reached by two names).

On disk, nothing under a root is followed through a symbolic link: directories are walked one
component at a time with ``O_NOFOLLOW``, relative to the directory before, so that a link
planted in a job's tree (by the job itself, say) cannot redirect a write or a read outside it.
"""

from __future__ import annotations

import contextlib
import errno
import os
import stat
import unicodedata
from collections.abc import Iterator, Sequence
from pathlib import Path

from deepseek_server.errors import FieldViolation, InvalidArgument

MAX_PATH_BYTES = 4096
MAX_COMPONENT_BYTES = 255

_DIRECTORY_FLAGS = os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC


def path_problem(path: str) -> str | None:
    """Why ``path`` is not an acceptable file path, or None when it is."""
    if not path:
        return "is required"
    if "\x00" in path:
        return "must not contain NUL characters"
    try:
        encoded = path.encode("utf-8")
    except UnicodeEncodeError:
        return "must be valid UTF-8"
    if len(encoded) > MAX_PATH_BYTES:
        return f"must be at most {MAX_PATH_BYTES} bytes of UTF-8, got {len(encoded)}"
    if path.startswith("/"):
        return "must be relative (no leading '/')"
    if unicodedata.normalize("NFC", path) != path:
        return "must be in Unicode normalisation form NFC"
    for component in path.split("/"):
        if component in ("", ".", ".."):
            return "must not have empty, '.' or '..' components"
        size = len(component.encode("utf-8"))
        if size > MAX_COMPONENT_BYTES:
            return f"components must be at most {MAX_COMPONENT_BYTES} bytes, got {size}"
        if any(unicodedata.category(c) == "Cc" for c in component):
            return "must not contain control characters"
    return None


def check_path(path: str, field: str) -> tuple[str, ...]:
    """The components of ``path``; INVALID_ARGUMENT naming ``field`` if it is not acceptable."""
    problem = path_problem(path)
    if problem is not None:
        raise InvalidArgument([FieldViolation(field, problem)])
    return tuple(path.split("/"))


class UnsafePath(Exception):
    """A component of a path under a root is a symbolic link or not a directory."""


@contextlib.contextmanager
def open_parent(root: Path, components: Sequence[str], *, create: bool) -> Iterator[int]:
    """A directory descriptor of the parent of ``components`` under ``root``, never followed
    through a symbolic link; missing directories are made when ``create`` is set.

    Raises :class:`UnsafePath` for a link or a non-directory on the way, FileNotFoundError
    for a missing directory when not creating. Blocking.
    """
    if create:
        root.mkdir(parents=True, exist_ok=True)
    fd = os.open(root, _DIRECTORY_FLAGS)
    try:
        for name in components[:-1]:
            child = _open_child(fd, name, create)
            os.close(fd)
            fd = child
        yield fd
    finally:
        os.close(fd)


def _open_child(parent: int, name: str, create: bool) -> int:
    try:
        if create:
            with contextlib.suppress(FileExistsError):
                os.mkdir(name, 0o755, dir_fd=parent)
        return os.open(name, _DIRECTORY_FLAGS, dir_fd=parent)
    except OSError as error:
        if error.errno in (errno.ELOOP, errno.ENOTDIR):
            raise UnsafePath(name) from error
        raise


def unsafe_component(root: Path, components: Sequence[str]) -> str | None:
    """The first existing component under ``root`` that is a link (or, for a directory
    component, not a directory); None when the path is safe to write. Blocking."""
    current = root
    for index, name in enumerate(components):
        current = current / name
        try:
            info = current.lstat()
        except FileNotFoundError:
            return None
        last = index == len(components) - 1
        if stat.S_ISLNK(info.st_mode) or (not last and not stat.S_ISDIR(info.st_mode)):
            return "/".join(components[: index + 1])
        if last and stat.S_ISDIR(info.st_mode):
            return "/".join(components)
    return None


def open_regular(root: Path, components: Sequence[str]) -> int:
    """A read-only descriptor of the regular file at ``components`` under ``root``.

    FileNotFoundError for a missing file, and also for a link or anything but a regular file
    (to a reader, such a path names no file). Blocking.
    """
    try:
        with open_parent(root, components, create=False) as parent:
            fd = os.open(components[-1], os.O_RDONLY | os.O_NOFOLLOW | os.O_CLOEXEC, dir_fd=parent)
    except (UnsafePath, NotADirectoryError) as error:
        raise FileNotFoundError("/".join(components)) from error
    except OSError as error:
        if error.errno == errno.ELOOP:
            raise FileNotFoundError("/".join(components)) from error
        raise
    if not stat.S_ISREG(os.fstat(fd).st_mode):
        os.close(fd)
        raise FileNotFoundError("/".join(components))
    return fd
