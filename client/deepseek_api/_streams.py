"""Reconnecting a watch stream (audit records, quota alerts) the server broke off."""

from __future__ import annotations

import random

from deepseek_api._errors import APIException, Unavailable
from deepseek_api._watch import DEFAULT_BACKOFF, Backoff


class Reconnects:
    """Counts failed reconnects in a row and says how long to wait before the next one."""

    def __init__(self, backoff: Backoff = DEFAULT_BACKOFF) -> None:
        self._backoff = backoff
        self._failures = 0

    def received(self) -> None:
        """A message arrived: the stream works."""
        self._failures = 0

    def delay_after(self, error: APIException) -> float:
        """Seconds to wait before reconnecting after ``error``.

        Raises:
            APIException: ``error`` itself, unless it is ``Unavailable`` (the server is
                restarting) and there are reconnects left.
        """
        self._failures += 1
        if not isinstance(error, Unavailable) or self._failures > self._backoff.attempts:
            raise error
        delay = min(
            self._backoff.maximum,
            self._backoff.initial * self._backoff.multiplier ** (self._failures - 1),
        )
        return delay * random.uniform(0.5, 1.0)
