"""Validation of the credentials mapping."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import pytest

from deepseek_api._credentials import ClientCredentials, parse_credentials


def test_guide_credentials_are_accepted() -> None:
    credentials = parse_credentials(
        {
            "client_id": "ds_api_client_001",
            "client_secret": "encrypted_key_base64",
            "grant_type": "client_credentials",
            "scope": "compute:read compute:write",
        }
    )

    assert credentials == ClientCredentials(
        "ds_api_client_001", "encrypted_key_base64", "compute:read compute:write"
    )


def test_the_secret_stays_out_of_repr() -> None:
    credentials = parse_credentials({"client_id": "md_sim_client", "client_secret": "s3cr3t"})

    assert "s3cr3t" not in repr(credentials)
    assert credentials.scope is None


@pytest.mark.parametrize(
    ("credentials", "error", "problem"),
    [
        ({"client_id": "a"}, ValueError, "'client_secret' is required"),
        ({"client_secret": "s3cr3t"}, ValueError, "'client_id' is required"),
        ({"client_id": "", "client_secret": "s3cr3t"}, ValueError, "'client_id' must not be"),
        ({"client_id": "a", "client_secret": "  "}, ValueError, "'client_secret' must not be"),
        ({"client_id": 7, "client_secret": "s3cr3t"}, TypeError, "'client_id' must be a string"),
        ({"client_id": "a", "client_secret": b"s3cr3t"}, TypeError, "must be a string"),
        (
            {"client_id": "a", "client_secert": "s3cr3t"},
            ValueError,
            "unknown key(s) 'client_secert'",
        ),
        (
            {"client_id": "a", "client_secret": "s3cr3t", "grant_type": "password"},
            ValueError,
            "grant_type must be 'client_credentials'",
        ),
        (("client_id", "client_secret"), TypeError, "must be a mapping"),
    ],
)
def test_malformed_credentials_are_refused_clearly(
    credentials: Mapping[str, Any], error: type[Exception], problem: str
) -> None:
    with pytest.raises(error) as raised:
        parse_credentials(credentials)

    assert problem in str(raised.value)
    assert "s3cr3t" not in str(raised.value)
