"""Client configuration: immutable values with documented defaults."""

from __future__ import annotations

from dataclasses import dataclass, field

from deepseek_api._version import __version__

_MIB = 1024 * 1024


@dataclass(frozen=True, slots=True)
class TlsConfig:
    """TLS settings for a client.

    Giving a ``TlsConfig`` turns on TLS for a bare ``host:port`` endpoint; ``https://``
    endpoints use TLS with the defaults below even without one.

    Attributes:
        root_certificates: PEM roots to verify the server with. Default: gRPC's default
            roots (the Mozilla bundle shipped with grpcio, unless the environment variable
            ``GRPC_DEFAULT_SSL_ROOTS_FILE_PATH`` names another file).
        client_certificate_chain: PEM certificate chain presented to the server for mutual
            TLS. Must be given together with ``client_private_key``.
        client_private_key: PEM private key matching ``client_certificate_chain``.
        server_name_override: Host name to verify the server certificate against, instead
            of the endpoint's host (for testing, or addressing a server by IP). Default: None.
    """

    root_certificates: bytes | None = None
    client_certificate_chain: bytes | None = None
    client_private_key: bytes | None = field(default=None, repr=False)
    server_name_override: str | None = None

    def __post_init__(self) -> None:
        if (self.client_certificate_chain is None) != (self.client_private_key is None):
            raise ValueError(
                "TlsConfig: client_certificate_chain and client_private_key go together"
            )


@dataclass(frozen=True, slots=True)
class ChannelOptions:
    """Transport settings of the client's gRPC channel.

    Attributes:
        keepalive_time: Seconds between HTTP/2 keepalive pings while calls are active, or
            None to send none. Default: 300, the least interval a gRPC server accepts by
            default (shorter ones get the connection closed with ``too_many_pings``).
        keepalive_timeout: Seconds to wait for a ping's acknowledgement before the
            connection is considered dead. Default: 20.
        max_receive_message_length: Largest response message accepted, in bytes.
            Default: 64 MiB.
        max_send_message_length: Largest request message sent, in bytes. Default: 64 MiB.
        user_agent: Prefix of the ``user-agent`` header. Default:
            ``deepseek-api-python/<version>``.
        extra: Further raw gRPC channel arguments, as ``(name, value)`` pairs, applied
            last. Default: none.
    """

    keepalive_time: float | None = 300.0
    keepalive_timeout: float = 20.0
    max_receive_message_length: int = 64 * _MIB
    max_send_message_length: int = 64 * _MIB
    user_agent: str = f"deepseek-api-python/{__version__}"
    extra: tuple[tuple[str, str | int], ...] = ()

    def __post_init__(self) -> None:
        if self.keepalive_time is not None and self.keepalive_time <= 0:
            raise ValueError("ChannelOptions: keepalive_time must be positive or None")
        if self.keepalive_timeout <= 0:
            raise ValueError("ChannelOptions: keepalive_timeout must be positive")
        for name in ("max_receive_message_length", "max_send_message_length"):
            if getattr(self, name) <= 0:
                raise ValueError(f"ChannelOptions: {name} must be positive")
