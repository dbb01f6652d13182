"""The client-credentials grant a client authenticates with."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

_REQUIRED_KEYS = ("client_id", "client_secret")
_OPTIONAL_KEYS = ("scope", "grant_type")
_GRANT_TYPE = "client_credentials"


@dataclass(frozen=True, slots=True)
class ClientCredentials:
    """An OAuth2 client-credentials pair, validated, with the secret kept out of ``repr``."""

    client_id: str
    client_secret: str = field(repr=False)
    scope: str | None = None


def parse_credentials(credentials: Mapping[str, str]) -> ClientCredentials:
    """Validate the ``credentials`` mapping a client is given.

    Accepts ``client_id`` and ``client_secret`` (required, non-empty strings), ``scope``
    and ``grant_type`` (which must be ``client_credentials``), as in the platform guide.
    Error messages never contain the secret.

    Raises:
        TypeError: if ``credentials`` is not a mapping or a value is not a string.
        ValueError: if a key is missing, empty or unknown.
    """
    if not isinstance(credentials, Mapping):
        raise TypeError(
            "credentials must be a mapping with 'client_id' and 'client_secret', "
            f"not {type(credentials).__name__}"
        )
    unknown = sorted(set(credentials) - set(_REQUIRED_KEYS) - set(_OPTIONAL_KEYS))
    if unknown:
        raise ValueError(
            f"credentials: unknown key(s) {', '.join(map(repr, unknown))}; "
            f"expected {', '.join(_REQUIRED_KEYS + _OPTIONAL_KEYS)}"
        )
    for key in _REQUIRED_KEYS:
        if key not in credentials:
            raise ValueError(f"credentials: {key!r} is required")
    for key, value in credentials.items():
        if not isinstance(value, str):
            raise TypeError(f"credentials: {key!r} must be a string, not {type(value).__name__}")
        if not value.strip():
            raise ValueError(f"credentials: {key!r} must not be empty")
    grant_type = credentials.get("grant_type", _GRANT_TYPE)
    if grant_type != _GRANT_TYPE:
        raise ValueError(f"credentials: grant_type must be {_GRANT_TYPE!r}, not {grant_type!r}")
    return ClientCredentials(
        client_id=credentials["client_id"],
        client_secret=credentials["client_secret"],
        scope=credentials.get("scope"),
    )
