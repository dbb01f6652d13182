"""Turning an endpoint and configuration into gRPC channels."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import grpc

from deepseek_api._config import ChannelOptions, TlsConfig
from deepseek_api._endpoint import Endpoint

_ChannelArgument = tuple[str, str | int]


@dataclass(frozen=True, slots=True)
class ChannelSpec:
    """Everything needed to open a channel, resolved once per client."""

    target: str
    credentials: grpc.ChannelCredentials | None
    arguments: tuple[_ChannelArgument, ...]

    @classmethod
    def build(
        cls, endpoint: Endpoint, tls: TlsConfig | None, options: ChannelOptions
    ) -> ChannelSpec:
        """Resolve TLS (``https://`` implies it, ``http://`` forbids it) and channel arguments.

        Raises:
            ValueError: if a TlsConfig is given for an ``http://`` endpoint.
        """
        if endpoint.scheme == "http" and tls is not None:
            raise ValueError(
                "a TlsConfig was given for an http:// endpoint; use https:// or host:port"
            )
        if endpoint.scheme == "https" and tls is None:
            tls = TlsConfig()
        credentials = None
        if tls is not None:
            credentials = grpc.ssl_channel_credentials(
                root_certificates=tls.root_certificates,
                private_key=tls.client_private_key,
                certificate_chain=tls.client_certificate_chain,
            )
        return cls(endpoint.target, credentials, _channel_arguments(options, tls))

    def open(self) -> grpc.Channel:
        """Open a synchronous channel (it connects lazily, on the first call).

        Interceptors are added around it with ``grpc.intercept_channel``.
        """
        if self.credentials is None:
            return grpc.insecure_channel(self.target, options=self.arguments)
        return grpc.secure_channel(self.target, self.credentials, options=self.arguments)

    def open_aio(self, interceptors: Sequence[grpc.aio.ClientInterceptor] = ()) -> grpc.aio.Channel:
        """Open a ``grpc.aio`` channel bound to the running event loop, with
        ``interceptors`` (outermost first)."""
        if self.credentials is None:
            return grpc.aio.insecure_channel(
                self.target, options=self.arguments, interceptors=interceptors or None
            )
        return grpc.aio.secure_channel(
            self.target, self.credentials, options=self.arguments, interceptors=interceptors or None
        )


def _channel_arguments(
    options: ChannelOptions, tls: TlsConfig | None
) -> tuple[_ChannelArgument, ...]:
    arguments: list[_ChannelArgument] = [
        ("grpc.max_receive_message_length", options.max_receive_message_length),
        ("grpc.max_send_message_length", options.max_send_message_length),
        ("grpc.primary_user_agent", options.user_agent),
        ("grpc.keepalive_timeout_ms", round(options.keepalive_timeout * 1000)),
    ]
    if options.keepalive_time is not None:
        arguments.append(("grpc.keepalive_time_ms", round(options.keepalive_time * 1000)))
    if tls is not None and tls.server_name_override is not None:
        arguments.append(("grpc.ssl_target_name_override", tls.server_name_override))
    arguments.extend(options.extra)
    return tuple(arguments)
