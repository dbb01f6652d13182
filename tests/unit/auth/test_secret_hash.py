"""Client secrets: slow salted hashes, verified in constant time, off the event loop."""

from __future__ import annotations

import hmac
import threading

import pytest

from deepseek_server.identity import secret_hash
from deepseek_server.identity.secret_hash import (
    DECOY_HASH,
    ScryptParams,
    SecretHash,
    hash_secret,
    new_client_id,
    new_secret,
    verify_secret,
)

FAST = ScryptParams(n=2**10, r=8, p=1)


def test_the_right_secret_verifies_and_a_wrong_one_does_not() -> None:
    stored = hash_secret("s3cret", FAST)

    assert verify_secret("s3cret", stored)
    assert not verify_secret("s3cret ", stored)
    assert not verify_secret("", stored)


def test_the_stored_form_holds_no_secret_and_a_fresh_salt_each_time() -> None:
    first, second = hash_secret("s3cret", FAST), hash_secret("s3cret", FAST)

    assert first.salt != second.salt
    assert first.hash != second.hash
    assert "s3cret" not in repr(first)
    assert first.params == "scrypt:n=1024,r=8,p=1"


def test_default_cost_is_scrypt_n_16384() -> None:
    stored = hash_secret("x")

    assert ScryptParams.decode(stored.params) == ScryptParams(n=2**14, r=8, p=1)


def test_malformed_stored_hashes_never_verify() -> None:
    good = hash_secret("s3cret", FAST)

    assert not verify_secret("s3cret", SecretHash(good.hash, good.salt, "bcrypt:12"))
    assert not verify_secret("s3cret", SecretHash(good.hash, good.salt, "scrypt:n=x"))
    assert not verify_secret("s3cret", DECOY_HASH)


def test_ids_and_secrets_are_fresh_and_long() -> None:
    assert new_client_id() != new_client_id()
    assert len(new_secret()) > 40
    assert new_secret().startswith("ds_secret_")


def test_secret_verification_compares_in_constant_time(monkeypatch: pytest.MonkeyPatch) -> None:
    compared = []
    real = hmac.compare_digest

    def spy(a: bytes, b: bytes) -> bool:
        compared.append((a, b))
        return real(a, b)

    monkeypatch.setattr(hmac, "compare_digest", spy)
    verify_secret("s3cret", hash_secret("s3cret", FAST))

    assert len(compared) == 1


async def test_async_hashing_runs_off_the_event_loop_thread(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    threads = []
    real = secret_hash._scrypt

    def spy(*args: object) -> bytes:
        threads.append(threading.current_thread())
        return real(*args)  # type: ignore[arg-type]

    monkeypatch.setattr(secret_hash, "_scrypt", spy)
    stored = await secret_hash.hash_secret_async("s3cret", FAST)
    assert await secret_hash.verify_secret_async("s3cret", stored)

    assert threads
    assert all(thread is not threading.main_thread() for thread in threads)
