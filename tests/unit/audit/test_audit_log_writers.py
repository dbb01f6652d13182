"""The audit log keeps its head in memory; another writer's record can fail a write, not fork it."""

from __future__ import annotations

import itertools
from dataclasses import replace
from pathlib import Path

import pytest

from deepseek_server.audit import AuditLog, KeyRingSigner, PublicKeys, RecordFilter, repository
from deepseek_server.audit.canonical import record_hash
from deepseek_server.errors import Unavailable
from deepseek_server.identity import SigningKey
from deepseek_server.storage import open_store

from .conftest import chain_records, event


async def test_a_record_appended_by_another_writer_is_never_forked(
    tmp_path: Path, signing_key: SigningKey
) -> None:
    store = await open_store(tmp_path / "audit.db")
    log = AuditLog(
        store,
        KeyRingSigner(lambda: signing_key),
        lambda: PublicKeys.of([signing_key.public_jwk]),
    )
    await log.start()
    try:
        await log.append(event(1))
        await log.append(event(2))
        # Another process appends record 3 behind this log's back.
        head_sequence, head_hash = await repository.head(store)
        (foreign,) = chain_records([replace(event(3), sequence=3)], head_hash)
        async with store.transaction() as tx:
            await repository.insert(tx, [foreign])

        with pytest.raises(Unavailable):
            await log.append(event(4))  # numbered 3 from the stale head: refused, not forked
        await log.append(event(5))  # the head is read again: numbered 4, after the foreign one

        assert head_sequence == 2
        records = await repository.records(store, RecordFilter(), 0, None, 10)
        assert [r.event_id for r in records] == [
            "ds_audit_0001", "ds_audit_0002", "ds_audit_0003", "ds_audit_0005"
        ]  # fmt: skip
        assert all(r.hash == record_hash(r) for r in records)
        assert all(b.prev_hash == a.hash for a, b in itertools.pairwise(records))
        assert (await log.verify(0, 0)).ok
    finally:
        await log.close()
        await store.close()
