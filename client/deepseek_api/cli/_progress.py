"""Progress bars of file transfers: one bar per file, with the rate and time remaining."""

from __future__ import annotations

import threading
from types import TracebackType
from typing import Self

from rich.progress import (
    BarColumn,
    DownloadColumn,
    Progress,
    TaskID,
    TextColumn,
    TimeRemainingColumn,
    TransferSpeedColumn,
)

from deepseek_api.cli._output import Output


class TransferProgress:
    """Bars on stderr when it is a terminal; nothing otherwise (the results still print).

    Use :meth:`update` as the SDK's progress callback ``(path, bytes done, bytes total)``::

        with TransferProgress(out) as bars:
            client.upload_files(job_id, paths, progress=bars.update)
    """

    def __init__(self, out: Output) -> None:
        self._progress = Progress(
            TextColumn("{task.description}", markup=False),
            BarColumn(),
            DownloadColumn(),
            TransferSpeedColumn(),
            TimeRemainingColumn(),
            console=out.console(stderr=True),
            disable=not out.stderr_interactive,
            transient=False,
        )
        self._tasks: dict[str, TaskID] = {}
        self._lock = threading.Lock()

    def __enter__(self) -> Self:
        self._progress.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc_value: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self._progress.stop()

    def update(self, name: str, done: int, total: int) -> None:
        """Move the bar of ``name`` (made on its first report) to ``done`` of ``total`` bytes."""
        with self._lock:
            task = self._tasks.get(name)
            if task is None:
                task = self._tasks[name] = self._progress.add_task(name, total=total)
        self._progress.update(task, completed=done, total=total)
