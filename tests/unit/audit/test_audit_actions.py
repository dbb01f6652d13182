"""Every RPC of the contract has a stable action name; health and reflection have none."""

from __future__ import annotations

import re

from deepseek_server.audit import ACTIONS, action_of
from deepseek_server.interceptors.audit import ip_of_peer
from deepseek_server.transport import API_SERVICES


def test_every_rpc_of_every_service_has_an_action() -> None:
    methods = {
        f"/{service.full_name}/{method.name}"
        for service in API_SERVICES
        for method in service.file.services_by_name[service.name].methods
    }

    assert methods - ACTIONS.keys() == set()
    assert ACTIONS.keys() - methods == set()


def test_action_names_are_unique_and_resource_dot_verb() -> None:
    assert len(set(ACTIONS.values())) == len(ACTIONS)
    for action in ACTIONS.values():
        assert re.fullmatch(r"[a-z]+\.[a-z_]+", action), action


def test_health_and_reflection_are_not_audited_and_new_rpcs_are() -> None:
    assert action_of("/grpc.health.v1.Health/Check") is None
    assert action_of("/grpc.reflection.v1alpha.ServerReflection/ServerReflectionInfo") is None
    assert action_of("/deepseek.hpc.v1.JobService/CreateJob") == "job.create"
    assert action_of("/deepseek.hpc.v1.JobService/PauseJob") == "job.pause_job"


def test_the_peer_address_is_reduced_to_its_ip() -> None:
    assert ip_of_peer("ipv4:203.0.113.45:53412") == "203.0.113.45"
    assert ip_of_peer("ipv6:[::1]:53412") == "::1"
    assert ip_of_peer("ipv6:[fe80::1%25eth0]:80") == "fe80::1%eth0"
    assert ip_of_peer("unix:/tmp/socket") == ""
