"""The path rules: one accepted form, everything else refused with the reason."""

from __future__ import annotations

import os
import unicodedata
from pathlib import Path

import pytest

from deepseek_server.data.paths import (
    UnsafePath,
    open_parent,
    open_regular,
    path_problem,
    unsafe_component,
)

ACCEPTED = [
    "a",
    "dir/sub/file.txt",
    "with space/and-dash_underscore.tar.gz",
    ".hidden",
    "...",
    unicodedata.normalize("NFC", "café/données.csv"),
    "x" * 255,
    "/".join(["d" * 255] * 16),
]

REFUSED = {
    "": "is required",
    "..": "'..' components",
    "a/../b": "'..' components",
    ".": "'.' or '..'",
    "./a": "'.' or '..'",
    "a//b": "empty",
    "a/": "empty",
    "/abs": "relative",
    "//abs": "relative",
    "a\x00b": "NUL",
    "x" * 256: "at most 255 bytes",
    "é" * 128: "at most 255 bytes",
    "/".join(["d" * 255] * 17): "at most 4096 bytes",
    unicodedata.normalize("NFD", "café"): "NFC",
    "\u212b": "NFC",  # ANGSTROM SIGN: NFC makes it U+00C5
    "tab\there": "control characters",
    "new\nline": "control characters",
    "\udcff": "UTF-8",
}


@pytest.mark.parametrize("path", ACCEPTED)
def test_paths_in_normal_form_are_accepted(path: str) -> None:
    assert path_problem(path) is None


@pytest.mark.parametrize(("path", "reason"), REFUSED.items(), ids=[repr(p)[:20] for p in REFUSED])
def test_paths_in_any_other_form_are_refused_with_the_reason(path: str, reason: str) -> None:
    problem = path_problem(path)

    assert problem is not None
    assert reason in problem


def test_names_differing_only_in_normalisation_have_exactly_one_accepted_form() -> None:
    forms = {unicodedata.normalize(form, "Ångström/naïve") for form in ("NFC", "NFD", "NFKD")}

    accepted = [form for form in forms if path_problem(form) is None]

    assert len(forms) > 1
    assert accepted == [unicodedata.normalize("NFC", "Ångström/naïve")]


def test_links_on_the_way_are_reported_and_never_followed(tmp_path: Path) -> None:
    root = tmp_path / "root"
    outside = tmp_path / "outside"
    (root / "real").mkdir(parents=True)
    outside.mkdir()
    (outside / "secret").write_text("s")
    (root / "link").symlink_to(outside)
    (root / "real" / "file-link").symlink_to(outside / "secret")

    assert unsafe_component(root, ["link", "x"]) == "link"
    assert unsafe_component(root, ["real", "file-link"]) == "real/file-link"
    assert unsafe_component(root, ["real"]) == "real"  # a directory cannot become a file
    assert unsafe_component(root, ["real", "new", "x"]) is None
    with pytest.raises(UnsafePath), open_parent(root, ["link", "x"], create=True):
        pass
    with pytest.raises(FileNotFoundError):
        os.close(open_regular(root, ["real", "file-link"]))
    with pytest.raises(FileNotFoundError):
        os.close(open_regular(root, ["link", "secret"]))
    assert sorted(p.name for p in outside.iterdir()) == ["secret"]


def test_open_parent_makes_the_missing_directories(tmp_path: Path) -> None:
    with open_parent(tmp_path / "root", ["a", "b", "file"], create=True) as parent:
        fd = os.open("file", os.O_WRONLY | os.O_CREAT, 0o600, dir_fd=parent)
        os.close(fd)

    assert (tmp_path / "root" / "a" / "b" / "file").is_file()
