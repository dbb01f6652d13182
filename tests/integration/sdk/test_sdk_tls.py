"""TLS and mutual TLS through TlsConfig, against a real grpc.aio server."""

from __future__ import annotations

import asyncio
import datetime
from collections.abc import AsyncIterator
from dataclasses import dataclass

import grpc
import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID
from grpc_health.v1 import health, health_pb2_grpc

import deepseek_api as ds

SERVER_NAME = "gateway.test"


@dataclass(frozen=True)
class Pem:
    """A PEM certificate and its private key."""

    certificate: bytes
    key: bytes


@dataclass(frozen=True)
class Pki:
    """A throwaway certificate authority with a server and a client certificate."""

    ca: Pem
    server: Pem
    client: Pem


def _issue(
    subject: str, issuer: tuple[x509.Name, ec.EllipticCurvePrivateKey] | None, *, ca: bool
) -> tuple[x509.Certificate, ec.EllipticCurvePrivateKey]:
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, subject)])
    issuer_name, issuer_key = issuer if issuer else (name, key)
    now = datetime.datetime.now(datetime.UTC)
    builder = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(issuer_name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(hours=1))
        .add_extension(x509.BasicConstraints(ca=ca, path_length=None), critical=True)
    )
    if not ca:
        builder = builder.add_extension(
            x509.SubjectAlternativeName([x509.DNSName(subject)]), critical=False
        )
    return builder.sign(issuer_key, hashes.SHA256()), key


def _pem(certificate: x509.Certificate, key: ec.EllipticCurvePrivateKey) -> Pem:
    return Pem(
        certificate.public_bytes(serialization.Encoding.PEM),
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        ),
    )


@pytest.fixture(scope="module")
def pki() -> Pki:
    """Certificates for this module's tests, made fresh."""
    ca_certificate, ca_key = _issue("Test CA", None, ca=True)
    issuer = (ca_certificate.subject, ca_key)
    return Pki(
        ca=_pem(ca_certificate, ca_key),
        server=_pem(*_issue(SERVER_NAME, issuer, ca=False)),
        client=_pem(*_issue("md_sim_client", issuer, ca=False)),
    )


@pytest.fixture
async def mtls_address(pki: Pki) -> AsyncIterator[str]:
    """A health server on 127.0.0.1 that demands a client certificate from the test CA."""
    server = grpc.aio.server()
    health_pb2_grpc.add_HealthServicer_to_server(health.aio.HealthServicer(), server)
    credentials = grpc.ssl_server_credentials(
        [(pki.server.key, pki.server.certificate)],
        root_certificates=pki.ca.certificate,
        require_client_auth=True,
    )
    port = server.add_secure_port("127.0.0.1:0", credentials)
    await server.start()
    try:
        yield f"127.0.0.1:{port}"
    finally:
        await server.stop(grace=None)


def mutual_tls(pki: Pki) -> ds.TlsConfig:
    """A TlsConfig trusting the test CA and presenting the client certificate."""
    return ds.TlsConfig(
        root_certificates=pki.ca.certificate,
        client_certificate_chain=pki.client.certificate,
        client_private_key=pki.client.key,
        server_name_override=SERVER_NAME,
    )


async def test_async_client_speaks_mutual_tls(mtls_address: str, pki: Pki) -> None:
    async with ds.AsyncDeepSeekClient(mtls_address, tls=mutual_tls(pki)) as client:
        assert await client.check_health() == "SERVING"


async def test_sync_client_speaks_mutual_tls(mtls_address: str, pki: Pki) -> None:
    def check() -> str:
        with ds.DeepSeekClient(mtls_address, tls=mutual_tls(pki)) as client:
            return client.check_health()

    assert await asyncio.to_thread(check) == "SERVING"


async def test_without_a_client_certificate_the_handshake_fails(
    mtls_address: str, pki: Pki
) -> None:
    tls = ds.TlsConfig(root_certificates=pki.ca.certificate, server_name_override=SERVER_NAME)
    async with ds.AsyncDeepSeekClient(mtls_address, tls=tls, timeout=10) as client:
        with pytest.raises(ds.Unavailable):
            await client.check_health()


async def test_a_server_outside_the_trusted_roots_is_refused(mtls_address: str, pki: Pki) -> None:
    tls = ds.TlsConfig(
        root_certificates=pki.client.certificate,  # not the CA that signed the server
        client_certificate_chain=pki.client.certificate,
        client_private_key=pki.client.key,
        server_name_override=SERVER_NAME,
    )
    async with ds.AsyncDeepSeekClient(mtls_address, tls=tls, timeout=10) as client:
        with pytest.raises(ds.Unavailable):
            await client.check_health()


async def test_plaintext_to_a_tls_server_fails(mtls_address: str) -> None:
    async with ds.AsyncDeepSeekClient(mtls_address, timeout=10) as client:
        with pytest.raises(ds.Unavailable):
            await client.check_health()
