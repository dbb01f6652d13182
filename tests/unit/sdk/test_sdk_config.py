"""Configuration values, and clients built from them (no call is made, so no socket)."""

from __future__ import annotations

import dataclasses
from typing import Any

import pytest

import deepseek_api as ds
from deepseek_api._channel import ChannelSpec
from deepseek_api._endpoint import parse_endpoint


def test_channel_option_defaults() -> None:
    options = ds.ChannelOptions()

    assert options.max_receive_message_length == 64 * 1024 * 1024
    assert options.max_send_message_length == 64 * 1024 * 1024
    assert options.keepalive_time == 300.0
    assert options.keepalive_timeout == 20.0
    assert options.user_agent == f"deepseek-api-python/{ds.__version__}"


def test_configuration_is_frozen() -> None:
    with pytest.raises(dataclasses.FrozenInstanceError):
        ds.ChannelOptions().keepalive_time = 1.0  # type: ignore[misc]


@pytest.mark.parametrize(
    ("fields", "problem"),
    [
        ({"keepalive_time": 0}, "keepalive_time"),
        ({"keepalive_timeout": -1}, "keepalive_timeout"),
        ({"max_receive_message_length": 0}, "max_receive_message_length"),
        ({"max_send_message_length": -1}, "max_send_message_length"),
    ],
)
def test_invalid_channel_options_are_refused(fields: dict[str, Any], problem: str) -> None:
    with pytest.raises(ValueError, match=problem):
        ds.ChannelOptions(**fields)


def test_a_client_certificate_needs_its_key() -> None:
    with pytest.raises(ValueError, match="go together"):
        ds.TlsConfig(client_certificate_chain=b"-----BEGIN CERTIFICATE-----")


def test_the_private_key_stays_out_of_repr() -> None:
    tls = ds.TlsConfig(client_certificate_chain=b"chain", client_private_key=b"KEY-BYTES")

    assert "KEY-BYTES" not in repr(tls)


def test_channel_arguments_carry_the_options() -> None:
    options = ds.ChannelOptions(
        keepalive_time=60, user_agent="pipeline/2", extra=(("grpc.lb_policy_name", "round_robin"),)
    )
    tls = ds.TlsConfig(server_name_override="gateway.internal")

    spec = ChannelSpec.build(parse_endpoint("10.0.0.5:8443"), tls, options)

    assert spec.target == "10.0.0.5:8443"
    assert spec.credentials is not None
    assert dict(spec.arguments) == {
        "grpc.max_receive_message_length": 64 * 1024 * 1024,
        "grpc.max_send_message_length": 64 * 1024 * 1024,
        "grpc.primary_user_agent": "pipeline/2",
        "grpc.keepalive_time_ms": 60_000,
        "grpc.keepalive_timeout_ms": 20_000,
        "grpc.ssl_target_name_override": "gateway.internal",
        "grpc.lb_policy_name": "round_robin",
    }


def test_no_keepalive_means_no_keepalive_argument() -> None:
    spec = ChannelSpec.build(parse_endpoint("h:1"), None, ds.ChannelOptions(keepalive_time=None))

    assert "grpc.keepalive_time_ms" not in dict(spec.arguments)


@pytest.mark.parametrize(
    ("endpoint", "tls", "uses_tls"),
    [
        ("https://api.example", None, True),
        ("https://api.example", ds.TlsConfig(root_certificates=b"roots"), True),
        ("api.example:443", ds.TlsConfig(), True),
        ("api.example:50051", None, False),
        ("http://api.example:50051", None, False),
    ],
)
def test_tls_follows_scheme_and_config(
    endpoint: str, tls: ds.TlsConfig | None, uses_tls: bool
) -> None:
    spec = ChannelSpec.build(parse_endpoint(endpoint), tls, ds.ChannelOptions())

    assert (spec.credentials is not None) is uses_tls


@pytest.mark.parametrize("client_class", [ds.DeepSeekClient, ds.AsyncDeepSeekClient])
def test_tls_config_contradicting_http_is_refused(client_class: type[Any]) -> None:
    with pytest.raises(ValueError, match="http:// endpoint"):
        client_class("http://api.example:50051", tls=ds.TlsConfig())


@pytest.mark.parametrize("client_class", [ds.DeepSeekClient, ds.AsyncDeepSeekClient])
@pytest.mark.parametrize(
    ("timeout", "error"),
    [(0, ValueError), (-1.0, ValueError), (float("inf"), ValueError), ("30", TypeError)],
)
def test_invalid_timeouts_are_refused(
    client_class: type[Any], timeout: Any, error: type[Exception]
) -> None:
    with pytest.raises(error, match="timeout"):
        client_class(timeout=timeout)


@pytest.mark.parametrize("client_class", [ds.DeepSeekClient, ds.AsyncDeepSeekClient])
def test_clients_validate_endpoint_and_credentials(client_class: type[Any]) -> None:
    with pytest.raises(ValueError, match="must not contain a path"):
        client_class("https://api.example/v1")
    with pytest.raises(ValueError, match="'client_secret' is required"):
        client_class(credentials={"client_id": "md_sim_client"})


def test_client_repr_names_the_endpoint_and_hides_the_secret() -> None:
    client = ds.DeepSeekClient(
        "https://api.example", credentials={"client_id": "c", "client_secret": "s3cr3t"}
    )
    try:
        assert repr(client) == "DeepSeekClient(endpoint='https://api.example')"
    finally:
        client.close()
    assert repr(client) == "DeepSeekClient(endpoint='https://api.example', closed)"
