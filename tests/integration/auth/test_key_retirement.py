"""A retired key stops verifying tokens but stays published for audit checkpoints."""

from __future__ import annotations

from pathlib import Path

from deepseek_server.identity import load_keys, published_jwks
from deepseek_server.identity.keys import ensure_signing_key, rotate_key
from deepseek_server.storage import SqliteStore


async def test_a_key_past_its_token_horizon_loses_its_private_half_but_stays_published(
    tmp_path: Path,
) -> None:
    store = await SqliteStore.open(tmp_path / "keys.db")
    await ensure_signing_key(store, "ES256")
    (first,) = await load_keys(store, keep_retired_seconds=3600)
    second = await rotate_key(store, "ES256", keep_retired_seconds=3600)
    # The first key's window is over at this rotation; the second only now retires.
    third = await rotate_key(store, "ES256", keep_retired_seconds=0)

    verifying = [key.kid for key in await load_keys(store, keep_retired_seconds=0)]
    published = [jwk["kid"] for jwk in await published_jwks(store)]
    erased = await store.fetch_all(
        "SELECT kid FROM signing_keys WHERE private_key_pem = '' ORDER BY kid"
    )
    await store.close()

    assert verifying == [third]
    assert set(published) == {first.kid, second, third}
    assert {row["kid"] for row in erased} == {first.kid}
