"""Wakes watchers when job events have been committed."""

from __future__ import annotations

import asyncio

from deepseek_server.errors import Unavailable


class EventHub:
    """Knows the latest committed event number; lets watchers wait for a newer one.

    Watchers read the events themselves from the database: the hub only says when to look, so a
    slow watcher never holds memory for events it has not read yet.
    """

    def __init__(self) -> None:
        self._last = 0
        self._changed = asyncio.Event()
        self._closed = False

    @property
    def last(self) -> int:
        """The latest committed event number announced so far."""
        return self._last

    def announce(self, sequence: int) -> None:
        """Events up to ``sequence`` are committed."""
        if sequence > self._last:
            self._last = sequence
            changed, self._changed = self._changed, asyncio.Event()
            changed.set()

    async def wait_beyond(self, sequence: int) -> None:
        """Return once an event after ``sequence`` exists.

        Raises :class:`Unavailable` when the gateway shuts down, so that streams end with a code
        telling the client to resume from its last sequence.
        """
        while self._last <= sequence:
            if self._closed:
                raise Unavailable("the gateway is shutting down; resume from the last sequence")
            await self._changed.wait()

    def close(self) -> None:
        """Wake every watcher for the last time."""
        self._closed = True
        changed, self._changed = self._changed, asyncio.Event()
        changed.set()
