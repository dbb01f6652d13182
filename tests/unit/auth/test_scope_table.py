"""The scope table covers every RPC of the contract and agrees with each RPC's "Scope:" line."""

from __future__ import annotations

import re
from pathlib import Path

from deepseek_server.identity import ALL_SCOPES, METHOD_SCOPES, required_scope
from deepseek_server.transport import API_SERVICES

PROTOS = Path(__file__).resolve().parents[3] / "protos" / "deepseek" / "hpc" / "v1"
# A comment block (consecutive // lines) directly followed by "rpc Name(".
_RPC = re.compile(r"((?:[ \t]*//[^\n]*\n)+)[ \t]*rpc[ \t]+(\w+)[ \t]*\(")
_SCOPE = re.compile(r"//\s*Scope:\s*([^\s.(]+)")


def contract_methods() -> set[str]:
    return {
        f"/{service.full_name}/{method.name}"
        for service in API_SERVICES
        for method in service.file.services_by_name[service.name].methods
    }


def documented_scopes() -> dict[str, str | None]:
    found: dict[str, str | None] = {}
    for service in API_SERVICES:
        text = (PROTOS / Path(service.file.name).name).read_text()
        for comment, rpc in _RPC.findall(text):
            scope = _SCOPE.search(comment)
            assert scope is not None, f"{service.name}.{rpc} has no Scope: line"
            word = scope.group(1)
            found[f"/{service.full_name}/{rpc}"] = None if word == "none" else word
    return found


def test_every_rpc_of_every_service_has_a_scope_entry_and_nothing_else_does() -> None:
    methods = contract_methods()

    assert len(methods) > 20
    assert set(METHOD_SCOPES) == methods


def test_each_entry_matches_the_scope_line_of_its_proto_comment() -> None:
    documented = documented_scopes()

    assert set(documented) == contract_methods()
    assert dict(METHOD_SCOPES) == documented


def test_methods_need_scopes_of_the_design() -> None:
    # audit:read needs no method of its own: it widens what the audit methods return.
    assert {scope for scope in METHOD_SCOPES.values() if scope} == ALL_SCOPES - {"audit:read"}


def test_health_and_reflection_need_no_token_and_unknown_methods_need_admin() -> None:
    assert required_scope("/grpc.health.v1.Health/Check") is None
    assert required_scope("/grpc.reflection.v1alpha.ServerReflection/ServerReflectionInfo") is None
    assert required_scope("/deepseek.hpc.v1.AuthService/IssueToken") is None
    assert required_scope("/test.Extra/Method") == "admin"
