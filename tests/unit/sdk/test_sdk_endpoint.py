"""Parsing of endpoint strings."""

from __future__ import annotations

import pytest

from deepseek_api._endpoint import parse_endpoint


@pytest.mark.parametrize(
    ("endpoint", "host", "port", "scheme", "target"),
    [
        ("https://api.deepseek.supercomp.cn", "api.deepseek.supercomp.cn", 443, "https", None),
        ("https://api.deepseek.supercomp.cn/", "api.deepseek.supercomp.cn", 443, "https", None),
        ("HTTPS://gw.example:8443", "gw.example", 8443, "https", "gw.example:8443"),
        ("http://localhost:50051", "localhost", 50051, "http", "localhost:50051"),
        ("http://localhost", "localhost", 80, "http", "localhost:80"),
        ("127.0.0.1:50051", "127.0.0.1", 50051, None, "127.0.0.1:50051"),
        ("gateway:1", "gateway", 1, None, "gateway:1"),
        ("[::1]:50051", "::1", 50051, None, "[::1]:50051"),
        ("https://[2001:db8::7]", "2001:db8::7", 443, "https", "[2001:db8::7]:443"),
        ("http://[::1]:65535", "::1", 65535, "http", "[::1]:65535"),
    ],
)
def test_valid_endpoints(
    endpoint: str, host: str, port: int, scheme: str | None, target: str | None
) -> None:
    parsed = parse_endpoint(endpoint)

    assert (parsed.host, parsed.port, parsed.scheme) == (host, port, scheme)
    assert parsed.target == (target or f"{host}:{port}")


@pytest.mark.parametrize(
    ("endpoint", "problem"),
    [
        ("https://api.example/v1", "must not contain a path"),
        ("https://api.example?region=cn", "must not contain a query"),
        ("api.example:50051/jobs", "must not contain a path"),
        ("https://api.example#top", "must not contain a fragment"),
        ("https://user:pw@api.example", "user information"),
        ("grpc://api.example:50051", "unsupported scheme 'grpc'"),
        ("api.example", "has no port"),
        ("api.example:", "port '' is not a number"),
        ("api.example:http", "port 'http' is not a number"),
        ("api.example:-1", "port '-1' is not a number"),
        ("api.example:0", "port 0 is outside 1-65535"),
        ("api.example:65536", "port 65536 is outside 1-65535"),
        ("api.example:٣", "is not a number"),
        ("::1:50051", "IPv6 address in brackets"),
        ("[::1:50051", "unclosed '['"),
        ("[not-v6]:50051", "'not-v6' is not an IPv6 address"),
        ("[::1]50051", "expected ':port' after ']'"),
        (":50051", "has no host"),
        ("https://", "has no host"),
        ("bad host:50051", "invalid host 'bad host'"),
        ("", "has no host"),
    ],
)
def test_invalid_endpoints_name_the_problem(endpoint: str, problem: str) -> None:
    with pytest.raises(ValueError, match="endpoint") as raised:
        parse_endpoint(endpoint)

    assert problem in str(raised.value)
