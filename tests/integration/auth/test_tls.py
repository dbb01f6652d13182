"""TLS and mutual TLS on the gateway's listener, with certificates made for the test."""

from __future__ import annotations

import datetime
from collections.abc import Callable
from pathlib import Path

import grpc
import grpc.aio
import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID
from grpc_health.v1 import health_pb2, health_pb2_grpc

from deepseek.hpc.v1 import job_pb2, job_pb2_grpc
from deepseek_server.app import Gateway, StartupError
from deepseek_server.config import Settings
from tests.integration.auth.conftest import issue

HOST = "localhost"
Issued = tuple[x509.Certificate, ec.EllipticCurvePrivateKey]


def _issue(name: str, issuer: Issued | None, *, ca: bool) -> Issued:
    key = ec.generate_private_key(ec.SECP256R1())
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, name)])
    now = datetime.datetime.now(datetime.UTC)
    builder = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(issuer[0].subject if issuer else subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(hours=1))
        .add_extension(x509.BasicConstraints(ca=ca, path_length=None), critical=True)
    )
    if not ca:
        builder = builder.add_extension(
            x509.SubjectAlternativeName([x509.DNSName(name)]), critical=False
        )
    return builder.sign(issuer[1] if issuer else key, hashes.SHA256()), key


def _write(directory: Path, name: str, issued: Issued) -> tuple[Path, Path]:
    certificate, key = issued
    cert_path, key_path = directory / f"{name}.crt", directory / f"{name}.key"
    cert_path.write_bytes(certificate.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    return cert_path, key_path


class Pki:
    """A CA, a server certificate for ``localhost`` and a client certificate, as files."""

    def __init__(self, directory: Path) -> None:
        ca = _issue("Test CA", None, ca=True)
        self.ca_cert, _ = _write(directory, "ca", ca)
        self.server_cert, self.server_key = _write(directory, "server", _issue(HOST, ca, ca=False))
        self.client_cert, self.client_key = _write(directory, "client", _issue("svc", ca, ca=False))
        stranger_ca = _issue("Other CA", None, ca=True)
        self.stranger_cert, self.stranger_key = _write(
            directory, "stranger", _issue("svc", stranger_ca, ca=False)
        )

    def credentials(self, client: tuple[Path, Path] | None = None) -> grpc.ChannelCredentials:
        """Channel credentials trusting the CA, presenting ``client`` (cert, key) if given."""
        return grpc.ssl_channel_credentials(
            root_certificates=self.ca_cert.read_bytes(),
            private_key=client[1].read_bytes() if client else None,
            certificate_chain=client[0].read_bytes() if client else None,
        )


@pytest.fixture
def pki(tmp_path: Path) -> Pki:
    """Fresh certificates under ``tmp_path``."""
    directory = tmp_path / "pki"
    directory.mkdir()
    return Pki(directory)


async def _health(target: str, credentials: grpc.ChannelCredentials | None) -> int:
    channel = (
        grpc.aio.secure_channel(target, credentials)
        if credentials
        else grpc.aio.insecure_channel(target)
    )
    async with channel:
        response = await health_pb2_grpc.HealthStub(channel).Check(
            health_pb2.HealthCheckRequest(), timeout=5
        )
        return int(response.status)


async def test_tls_serves_encrypted_calls_with_tokens_and_refuses_plaintext(
    auth_settings: Callable[..., Settings], pki: Pki
) -> None:
    settings = auth_settings(
        tls={"cert_file": str(pki.server_cert), "key_file": str(pki.server_key)}
    )
    gateway = Gateway(settings)
    await gateway.start()
    target = f"{HOST}:{gateway.port}"
    try:
        made = await gateway.identity.clients.create("alice", ["compute:read"])
        async with grpc.aio.secure_channel(target, pki.credentials()) as channel:
            from deepseek.hpc.v1 import auth_pb2_grpc

            token = (
                await issue(auth_pb2_grpc.AuthServiceStub(channel), made.client.id, made.secret)
            ).access_token
            listed = await job_pb2_grpc.JobServiceStub(channel).ListJobs(
                job_pb2.ListJobsRequest(),
                metadata=(("authorization", f"Bearer {token}"),),
                timeout=5,
            )
        with pytest.raises(grpc.aio.AioRpcError) as plaintext:
            await _health(target, None)
    finally:
        await gateway.stop(grace=0)

    assert list(listed.jobs) == []
    assert plaintext.value.code() == grpc.StatusCode.UNAVAILABLE


async def test_mtls_requires_a_client_certificate_signed_by_the_client_ca(
    auth_settings: Callable[..., Settings], pki: Pki
) -> None:
    settings = auth_settings(
        tls={
            "cert_file": str(pki.server_cert),
            "key_file": str(pki.server_key),
            "client_ca_file": str(pki.ca_cert),
        }
    )
    gateway = Gateway(settings)
    await gateway.start()
    target = f"{HOST}:{gateway.port}"
    try:
        with_certificate = await _health(target, pki.credentials((pki.client_cert, pki.client_key)))
        with pytest.raises(grpc.aio.AioRpcError) as without:
            await _health(target, pki.credentials())
        with pytest.raises(grpc.aio.AioRpcError) as foreign:
            await _health(target, pki.credentials((pki.stranger_cert, pki.stranger_key)))
    finally:
        await gateway.stop(grace=0)

    assert with_certificate == health_pb2.HealthCheckResponse.SERVING
    assert without.value.code() == grpc.StatusCode.UNAVAILABLE
    assert foreign.value.code() == grpc.StatusCode.UNAVAILABLE


async def test_an_unreadable_certificate_stops_the_start_naming_the_setting(
    auth_settings: Callable[..., Settings], tmp_path: Path
) -> None:
    missing = tmp_path / "nope.crt"
    gateway = Gateway(auth_settings(tls={"cert_file": str(missing), "key_file": str(missing)}))

    with pytest.raises(StartupError, match=r"tls\.cert_file"):
        await gateway.start()
