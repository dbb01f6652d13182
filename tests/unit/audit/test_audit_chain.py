"""Verification finds every kind of tampering, at the sequence where the chain breaks."""

from __future__ import annotations

from dataclasses import replace

from deepseek_server.audit import PublicKeys, verify_chain
from deepseek_server.audit.canonical import record_hash
from deepseek_server.audit.model import Checkpoint
from deepseek_server.identity import SigningKey, generate_signing_key
from tests.unit.audit.conftest import build_chain, chain_records, event


def test_an_untouched_chain_verifies(signing_key: SigningKey) -> None:
    chain = build_chain(10, every=4, key=signing_key)

    result = verify_chain(chain.records, chain.checkpoints, chain.keys)

    assert (result.ok, result.first_broken_sequence, result.problem) == (True, 0, "")
    assert (result.records_checked, result.checkpoints_checked, result.end_sequence) == (10, 3, 10)


def test_editing_one_field_of_one_record_breaks_at_that_record(signing_key: SigningKey) -> None:
    chain = build_chain(10, key=signing_key)
    chain.records[5] = replace(chain.records[5], user_id="mallory")

    result = verify_chain(chain.records, chain.checkpoints, chain.keys)

    assert not result.ok
    assert result.first_broken_sequence == 6
    assert "hash mismatch" in result.problem


def test_editing_and_rehashing_a_record_breaks_the_link_after_it(signing_key: SigningKey) -> None:
    chain = build_chain(10, key=signing_key)
    edited = replace(chain.records[5], status="OK", status_code=0, detail="nothing happened")
    chain.records[5] = replace(edited, hash=record_hash(edited))

    result = verify_chain(chain.records, chain.checkpoints, chain.keys)

    assert result.first_broken_sequence == 7
    assert "prev_hash does not link" in result.problem


def test_rewriting_the_rest_of_the_chain_is_caught_by_the_next_checkpoint(
    signing_key: SigningKey,
) -> None:
    chain = build_chain(10, every=4, key=signing_key)
    rewritten = chain_records(
        [replace(chain.records[4], user_id="mallory"), *chain.records[5:]],
        prev=chain.records[3].hash,
    )

    result = verify_chain([*chain.records[:4], *rewritten], chain.checkpoints, chain.keys)

    assert result.first_broken_sequence == 8  # the checkpoint at 8 signed the old head
    assert "checkpoint head_hash" in result.problem


def test_deleting_a_record_breaks_at_its_sequence(signing_key: SigningKey) -> None:
    chain = build_chain(10, key=signing_key)
    del chain.records[3]

    result = verify_chain(chain.records, chain.checkpoints, chain.keys)

    assert result.first_broken_sequence == 4
    assert "expected 4, found 5" in result.problem


def test_swapping_two_records_breaks_at_the_first(signing_key: SigningKey) -> None:
    chain = build_chain(10, key=signing_key)
    chain.records[2], chain.records[3] = chain.records[3], chain.records[2]

    result = verify_chain(chain.records, chain.checkpoints, chain.keys)

    assert result.first_broken_sequence == 3
    assert "expected 3, found 4" in result.problem


def test_dropping_the_tail_is_caught_by_the_last_checkpoint(signing_key: SigningKey) -> None:
    chain = build_chain(10, every=4, key=signing_key)

    result = verify_chain(chain.records[:7], chain.checkpoints, chain.keys)

    assert result.first_broken_sequence == 8
    assert "truncated" in result.problem


def test_dropping_the_tail_is_caught_by_the_expected_end(signing_key: SigningKey) -> None:
    chain = build_chain(10, every=4, key=signing_key)
    before_last_checkpoint = [c for c in chain.checkpoints if c.sequence <= 8]

    result = verify_chain(chain.records[:9], before_last_checkpoint, chain.keys, end_sequence=10)

    assert result.first_broken_sequence == 10


def test_a_forged_record_inserted_is_caught_where_it_sits(signing_key: SigningKey) -> None:
    chain = build_chain(10, key=signing_key)
    forged = chain_records([replace(event(99), sequence=5)], prev=chain.records[3].hash)[0]
    tampered = [*chain.records[:4], forged, *chain.records[4:]]

    result = verify_chain(tampered, chain.checkpoints, chain.keys)

    assert result.first_broken_sequence == 5
    assert "expected 6, found 5" in result.problem


def test_a_forged_record_with_the_chain_renumbered_is_caught_by_a_checkpoint(
    signing_key: SigningKey,
) -> None:
    chain = build_chain(10, every=4, key=signing_key)
    renumbered = chain_records(
        [replace(event(99), sequence=5), *chain.records[4:]], prev=chain.records[3].hash
    )

    result = verify_chain([*chain.records[:4], *renumbered], chain.checkpoints, chain.keys)

    assert result.first_broken_sequence == 8
    assert "checkpoint" in result.problem


def test_a_checkpoint_signed_by_another_key_is_refused(signing_key: SigningKey) -> None:
    chain = build_chain(8, every=4, key=signing_key)
    impostor = build_chain(8, every=4, key=generate_signing_key("ES256", "k1"))

    result = verify_chain(chain.records, impostor.checkpoints, chain.keys)

    assert result.first_broken_sequence == 4
    assert result.problem == "checkpoint signature invalid"


def test_a_checkpoint_whose_fields_differ_from_its_signature_is_refused(
    signing_key: SigningKey,
) -> None:
    chain = build_chain(8, every=4, key=signing_key)
    chain.checkpoints[0] = replace(chain.checkpoints[0], time_us=1)

    result = verify_chain(chain.records, chain.checkpoints, chain.keys)

    assert result.first_broken_sequence == 4
    assert "does not cover" in result.problem


def test_a_checkpoint_by_an_unknown_key_is_refused(signing_key: SigningKey) -> None:
    chain = build_chain(8, every=4, key=signing_key)
    other = generate_signing_key("ES256", "k2")

    result = verify_chain(chain.records, chain.checkpoints, PublicKeys.of([other.public_jwk]))

    assert result.first_broken_sequence == 4
    assert "unknown key 'k1'" in result.problem


def test_the_first_record_must_follow_the_zero_hash(signing_key: SigningKey) -> None:
    chain = build_chain(3, key=signing_key)
    first = replace(chain.records[0], prev_hash=b"\x01" * 32)
    relinked = chain_records([first, *chain.records[1:]], prev=b"\x01" * 32)

    result = verify_chain(relinked, [], chain.keys)

    assert result.first_broken_sequence == 1


def test_a_range_starting_later_trusts_its_first_prev_hash(signing_key: SigningKey) -> None:
    chain = build_chain(10, every=4, key=signing_key)
    later: list[Checkpoint] = [c for c in chain.checkpoints if c.sequence >= 5]

    result = verify_chain(chain.records[4:], later, chain.keys, first_sequence=5)

    assert result.ok
    assert (result.records_checked, result.checkpoints_checked) == (6, 2)
