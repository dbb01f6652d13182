"""Random bytes for identifiers: sizes, no repeats, and a forked child that draws its own."""

from __future__ import annotations

import os

from deepseek_server.randomness import random_bytes, random_hex


def test_draws_have_the_asked_size_and_do_not_repeat() -> None:
    draws = [random_bytes(10) for _ in range(2000)]  # several pages' worth
    assert all(len(draw) == 10 for draw in draws)
    assert len(set(draws)) == len(draws)
    assert len(random_bytes(10_000)) == 10_000  # more than a page at once
    text = random_hex(12)
    assert len(text) == 24
    assert int(text, 16) >= 0


def test_a_forked_child_does_not_reuse_the_parents_bytes() -> None:
    random_bytes(1)  # a page is loaded and partly unused
    reader, writer = os.pipe()
    child = os.fork()
    if child == 0:  # pragma: no cover - runs in the child
        os.write(writer, random_bytes(16))
        os._exit(0)
    os.close(writer)
    os.waitpid(child, 0)
    from_child = os.read(reader, 16)
    os.close(reader)
    assert len(from_child) == 16
    assert from_child != random_bytes(16)
