"""Inputs and datasets are placed into a job's directory by link, or by copy across filesystems."""

from __future__ import annotations

import errno
import os
from pathlib import Path

import pytest

from deepseek_server.jobs import workspace


def make_tree(root: Path) -> None:
    (root / "sub").mkdir(parents=True)
    (root / "a.bin").write_bytes(b"a" * 100_000)
    (root / "sub" / "b.txt").write_text("b")


def test_files_are_linked_where_the_filesystem_allows(tmp_path: Path) -> None:
    make_tree(tmp_path / "source")
    workspace._place_tree(tmp_path / "source", tmp_path / "job")
    linked, original = tmp_path / "job" / "a.bin", tmp_path / "source" / "a.bin"
    assert linked.stat().st_ino == original.stat().st_ino
    assert (tmp_path / "job" / "sub" / "b.txt").read_text() == "b"


def test_files_are_copied_when_a_link_is_refused(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    def cross_device(*args: object, **kwargs: object) -> None:
        raise OSError(errno.EXDEV, os.strerror(errno.EXDEV))

    make_tree(tmp_path / "source")
    monkeypatch.setattr(os, "link", cross_device)
    workspace._place_tree(tmp_path / "source", tmp_path / "job")
    copied = tmp_path / "job" / "a.bin"
    assert copied.read_bytes() == b"a" * 100_000
    assert copied.stat().st_ino != (tmp_path / "source" / "a.bin").stat().st_ino
    assert (tmp_path / "job" / "sub" / "b.txt").read_text() == "b"
