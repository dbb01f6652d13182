"""Parsing of the endpoint string a client is constructed with."""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass
from typing import Final, Literal

_DEFAULT_PORTS: Final = {"https": 443, "http": 80}
_SCHEMES: Final[dict[str, Literal["https", "http"]]] = {"https": "https", "http": "http"}
_FORBIDDEN_HOST_CHARACTERS = frozenset("/?#@[] \t\r\n")


@dataclass(frozen=True, slots=True)
class Endpoint:
    """Where a client connects, and whether it speaks TLS there."""

    host: str
    port: int
    scheme: Literal["https", "http"] | None
    """None for a bare ``host:port``: plaintext unless the client is given a TlsConfig."""

    @property
    def target(self) -> str:
        """The gRPC target, ``host:port`` with IPv6 literals in brackets."""
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"{host}:{self.port}"


def parse_endpoint(endpoint: str) -> Endpoint:
    """Parse ``https://host[:port]``, ``http://host[:port]``, ``host:port`` or ``[v6]:port``.

    Raises:
        ValueError: naming what is wrong (scheme, path, query, host or port).
    """
    scheme, separator, rest = endpoint.partition("://")
    if not separator:
        scheme, rest = "", endpoint
    elif scheme.lower() not in _DEFAULT_PORTS:
        raise ValueError(
            f"endpoint {endpoint!r}: unsupported scheme {scheme!r}; "
            "use https://, http:// or host:port"
        )
    scheme = scheme.lower()
    authority = _strip_trailing_slash(endpoint, rest)
    host, port_text = _split_authority(endpoint, authority)
    if port_text is None:
        if not scheme:
            raise ValueError(
                f"endpoint {endpoint!r} has no port; write 'host:port' or 'https://host'"
            )
        port = _DEFAULT_PORTS[scheme]
    else:
        port = _parse_port(endpoint, port_text)
    return Endpoint(host=host, port=port, scheme=_SCHEMES.get(scheme))


def _strip_trailing_slash(endpoint: str, rest: str) -> str:
    for marker, what in (("?", "a query"), ("#", "a fragment")):
        if marker in rest:
            raise ValueError(f"endpoint {endpoint!r} must not contain {what}")
    authority, slash, path = rest.partition("/")
    if slash and path:
        raise ValueError(f"endpoint {endpoint!r} must not contain a path ('/{path}')")
    if "@" in authority:
        raise ValueError(f"endpoint {endpoint!r} must not contain user information")
    return authority


def _split_authority(endpoint: str, authority: str) -> tuple[str, str | None]:
    if authority.startswith("["):
        closing = authority.find("]")
        if closing < 0:
            raise ValueError(f"endpoint {endpoint!r}: unclosed '[' in IPv6 address")
        host = authority[1:closing]
        try:
            ipaddress.IPv6Address(host)
        except ValueError:
            raise ValueError(f"endpoint {endpoint!r}: {host!r} is not an IPv6 address") from None
        after = authority[closing + 1 :]
        if not after:
            return host, None
        if not after.startswith(":"):
            raise ValueError(f"endpoint {endpoint!r}: expected ':port' after ']'")
        return host, after[1:]
    if authority.count(":") > 1:
        raise ValueError(
            f"endpoint {endpoint!r}: write an IPv6 address in brackets, as '[::1]:50051'"
        )
    host, colon, port_text = authority.partition(":")
    if not host:
        raise ValueError(f"endpoint {endpoint!r} has no host")
    if _FORBIDDEN_HOST_CHARACTERS.intersection(host):
        raise ValueError(f"endpoint {endpoint!r}: invalid host {host!r}")
    return host, port_text if colon else None


def _parse_port(endpoint: str, port_text: str) -> int:
    if not port_text.isascii() or not port_text.isdigit():
        raise ValueError(f"endpoint {endpoint!r}: port {port_text!r} is not a number")
    port = int(port_text)
    if not 1 <= port <= 65535:
        raise ValueError(f"endpoint {endpoint!r}: port {port} is outside 1-65535")
    return port
