"""Which local files an upload of several paths sends, and under which remote paths."""

from __future__ import annotations

import os
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

LocalPath = str | os.PathLike[str]
"""A local file or directory."""

UploadSources = Iterable[LocalPath] | Mapping[LocalPath, str]
"""Local paths (each file under its own name, each directory as a tree under its name), or
a mapping of local paths to the remote paths they go to."""

_MAX_PATH_BYTES = 4096
_MAX_COMPONENT_BYTES = 255


@dataclass(frozen=True, slots=True)
class PlannedFile:
    """One local file to upload and the remote path it goes to."""

    local: Path
    remote: str


def remote_path_problem(path: str) -> str | None:
    """What makes ``path`` unacceptable as a remote file path, or None if it is fine.

    The rules of ``deepseek.hpc.v1.FileRef.path``: relative, ``/``-separated, no empty,
    ``.`` or ``..`` components, no NUL, at most 4096 bytes and 255 per component.
    """
    if not path:
        return "is empty"
    if "\0" in path:
        return "contains NUL"
    if path.startswith("/"):
        return "is absolute; remote paths are relative"
    if len(path.encode()) > _MAX_PATH_BYTES:
        return f"is longer than {_MAX_PATH_BYTES} bytes"
    for component in path.split("/"):
        if component in ("", ".", ".."):
            return f"has an empty, '.' or '..' component ({path!r})"
        if len(component.encode()) > _MAX_COMPONENT_BYTES:
            return f"has a component longer than {_MAX_COMPONENT_BYTES} bytes"
    return None


def check_remote_path(path: str) -> str:
    """``path`` if it is an acceptable remote path.

    Raises:
        ValueError: saying what is wrong with it.
    """
    problem = remote_path_problem(path)
    if problem is not None:
        raise ValueError(f"remote path {path!r} {problem}")
    return path


def plan_uploads(sources: UploadSources) -> list[PlannedFile]:
    """The files to upload for ``sources``, in order, each with its remote path.

    A file goes under its own name (``data/topol.tpr`` -> ``topol.tpr``); a directory
    as a tree under its name (``inputs/`` -> ``inputs/a.txt``, ``inputs/sub/b.txt``), its
    files in the order of their remote paths. With a mapping, each local file goes to the
    remote path it maps to, and each local directory's tree under that path (``""`` for
    the top level).
    Blocking: it walks the file system.

    Raises:
        FileNotFoundError: if a local path does not exist.
        ValueError: if a remote path is not acceptable, or two files would go to the same
            remote path.
    """
    if isinstance(sources, Mapping):
        pairs = [(Path(local), remote) for local, remote in sources.items()]
    elif isinstance(sources, str | os.PathLike):
        pairs = [(Path(sources), None)]
    else:
        pairs = [(Path(local), None) for local in sources]
    planned: list[PlannedFile] = []
    for local, remote in pairs:
        if local.is_dir():
            base = local.resolve().name if remote is None else remote
            planned.extend(_tree(local, base))
        elif local.exists():
            planned.append(
                PlannedFile(local, check_remote_path(local.name if remote is None else remote))
            )
        else:
            raise FileNotFoundError(f"no such file or directory: {str(local)!r}")
    _refuse_duplicates(planned)
    return planned


def _tree(directory: Path, base: str) -> list[PlannedFile]:
    found: list[PlannedFile] = []
    for root, subdirectories, files in os.walk(directory):
        subdirectories.sort()
        relative_root = PurePosixPath(Path(root).relative_to(directory).as_posix())
        for name in sorted(files):
            local = Path(root, name)
            if not local.is_file():
                continue  # sockets, fifos, dangling links: nothing to upload
            relative = str(relative_root / name) if str(relative_root) != "." else name
            remote = f"{base.rstrip('/')}/{relative}" if base else relative
            found.append(PlannedFile(local, check_remote_path(remote)))
    found.sort(key=lambda item: item.remote)
    return found


def _refuse_duplicates(planned: list[PlannedFile]) -> None:
    seen: dict[str, Path] = {}
    for item in planned:
        earlier = seen.setdefault(item.remote, item.local)
        if earlier != item.local:
            raise ValueError(
                f"{str(earlier)!r} and {str(item.local)!r} would both be uploaded "
                f"as {item.remote!r}; map them to different remote paths"
            )


def local_path_for(directory: Path, remote: str) -> Path:
    """Where a downloaded file with remote path ``remote`` goes under ``directory``.

    Raises:
        ValueError: if ``remote`` would land outside ``directory`` (the server never sends
            such a path; this guards against one that did).
    """
    check_remote_path(remote)
    return directory.joinpath(*remote.split("/"))
