"""Fixtures for the executor tests: every test is checked for processes left behind."""

from __future__ import annotations

import os
from collections.abc import Iterator

import pytest

from deepseek_server.executors.supervisor import proc_stat


def _descendants_of_this_process() -> list[int]:
    children: dict[int, list[int]] = {}
    for entry in os.listdir("/proc"):
        if entry.isdigit() and (stat := proc_stat(int(entry))) is not None:
            children.setdefault(stat[1], []).append(int(entry))
    found: list[int] = []
    frontier = [os.getpid()]
    while frontier:
        frontier = [child for parent in frontier for child in children.get(parent, ())]
        found.extend(frontier)
    return found


@pytest.fixture(autouse=True)
def no_processes_left_behind() -> Iterator[None]:
    """Every test must leave no process, not even a zombie, below the test process.

    Processes that were there before the test (left by other suites in the same run) are not
    this test's doing and are not counted.
    """
    before = set(_descendants_of_this_process())
    yield
    assert [pid for pid in _descendants_of_this_process() if pid not in before] == []
