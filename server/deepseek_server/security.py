"""How the gateway's identity and transport security settings become gRPC pieces.

The interceptors that authenticate and rate-limit calls (none when ``auth.required`` is false),
the token policy, and the listener's TLS credentials (none: plaintext, the local default).
"""

from __future__ import annotations

import asyncio
from pathlib import Path

import grpc
import grpc.aio

from deepseek_server.config import AuthSettings, TlsSettings
from deepseek_server.identity import (
    METHOD_COSTS,
    RateLimiter,
    StreamLimiter,
    TokenPolicy,
    TokenVerifier,
)
from deepseek_server.interceptors import AuthInterceptor, RateLimitInterceptor
from deepseek_server.transport.services import API_SERVICES

JWKS_FILE_NAME = "jwks.json"
"""The published JWK Set, ``<state_dir>/jwks.json``, for services that verify tokens offline."""


class TlsFileError(RuntimeError):
    """A certificate, key or CA file named by the TLS settings cannot be read."""


def token_policy(settings: AuthSettings) -> TokenPolicy:
    """The token policy the auth settings describe."""
    return TokenPolicy(
        issuer=settings.issuer,
        audience=settings.audience,
        lifetime_seconds=settings.token_lifetime_seconds,
        leeway_seconds=settings.leeway_seconds,
    )


def auth_interceptors(
    settings: AuthSettings, verifier: TokenVerifier
) -> list[grpc.aio.ServerInterceptor]:
    """Authentication then rate limiting, or nothing when tokens are not required."""
    if not settings.required:
        return []
    return [
        AuthInterceptor(verifier),
        RateLimitInterceptor(
            RateLimiter(settings.requests_per_second, settings.burst),
            StreamLimiter(settings.max_concurrent_streams),
            streaming_methods(),
            METHOD_COSTS,
        ),
    ]


def streaming_methods() -> frozenset[str]:
    """Full names of the API methods that stream requests or responses."""
    return frozenset(
        f"/{service.full_name}/{method.name}"
        for service in API_SERVICES
        for method in service.file.services_by_name[service.name].methods
        if method.client_streaming or method.server_streaming
    )


async def server_credentials(settings: TlsSettings) -> grpc.ServerCredentials | None:
    """TLS credentials for the listener (mTLS with a client CA), or ``None`` for plaintext."""
    if not settings.cert_file:
        return None
    return await asyncio.to_thread(_load_credentials, settings)


def _load_credentials(settings: TlsSettings) -> grpc.ServerCredentials:
    certificate = _read(settings.cert_file, "tls.cert_file")
    key = _read(settings.key_file, "tls.key_file")
    client_ca = (
        _read(settings.client_ca_file, "tls.client_ca_file") if settings.client_ca_file else None
    )
    return grpc.ssl_server_credentials(
        [(key, certificate)],
        root_certificates=client_ca,
        require_client_auth=client_ca is not None,
    )


def _read(path: str, setting: str) -> bytes:
    try:
        return Path(path).read_bytes()
    except OSError as exc:
        raise TlsFileError(f"{setting} {path}: {exc.strerror or exc}") from exc
