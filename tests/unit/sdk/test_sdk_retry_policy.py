"""The retry policy and the table of calls safe to repeat, without sockets."""

from __future__ import annotations

import importlib
import pkgutil

import grpc
import pytest
from google.protobuf import any_pb2, duration_pb2
from google.protobuf.message import Message
from google.rpc import error_details_pb2, status_pb2

import deepseek.hpc.v1
import deepseek_api as ds
from deepseek.hpc.v1 import job_pb2
from deepseek_api._methods import METHOD_SAFETY, safe_to_repeat
from deepseek_api._retry import RetryPolicy, backoff, server_retry_delay
from deepseek_api._status import Trailers

CONFIG = ds.RetryConfig(initial_backoff=0.5, max_backoff=3.0, multiplier=2.0, jitter=0.5)
UNAVAILABLE = grpc.StatusCode.UNAVAILABLE
RESOURCE_EXHAUSTED = grpc.StatusCode.RESOURCE_EXHAUSTED


def trailers(*details: Message) -> Trailers:
    """Trailing metadata carrying a google.rpc.Status with ``details``."""
    packed = []
    for detail in details:
        message = any_pb2.Any()
        message.Pack(detail)
        packed.append(message)
    status = status_pb2.Status(code=8, message="slow down", details=packed)
    return (("grpc-status-details-bin", status.SerializeToString()),)


def retry_info(seconds: float) -> error_details_pb2.RetryInfo:
    delay = duration_pb2.Duration()
    delay.FromNanoseconds(round(seconds * 1e9))
    return error_details_pb2.RetryInfo(retry_delay=delay)


QUOTA_FAILURE = error_details_pb2.QuotaFailure(
    violations=[error_details_pb2.QuotaFailure.Violation(subject="user:u", description="jobs")]
)


def policy(fraction: float = 0.0, config: ds.RetryConfig = CONFIG) -> RetryPolicy:
    return RetryPolicy(config, random_fraction=lambda: fraction)


def delays(p: RetryPolicy, code: grpc.StatusCode, meta: Trailers = None) -> list[float | None]:
    """The delays before retries 1, 2, ... up to one past the limit."""
    return [
        p.delay(retry_number=n, code=code, trailers=meta, safe=True, time_left=None)
        for n in range(1, CONFIG.max_retries + 2)
    ]


def test_backoff_grows_exponentially_up_to_the_maximum() -> None:
    assert [backoff(CONFIG, n, 0.0) for n in range(1, 6)] == [0.5, 1.0, 2.0, 3.0, 3.0]


def test_jitter_shortens_a_delay_by_at_most_its_fraction() -> None:
    assert backoff(CONFIG, 2, 0.999999) == pytest.approx(0.5, abs=1e-5)
    assert backoff(CONFIG, 2, 0.5) == 0.75
    assert backoff(ds.RetryConfig(jitter=0.0), 1, 0.9) == 0.5


def test_unavailable_is_retried_three_times_with_backoff() -> None:
    assert delays(policy(), UNAVAILABLE) == [0.5, 1.0, 2.0, None]


def test_retry_info_replaces_the_backoff() -> None:
    meta = trailers(retry_info(1.25))

    assert server_retry_delay(meta) == 1.25
    assert delays(policy(0.9), UNAVAILABLE, meta) == [1.25, 1.25, 1.25, None]
    assert delays(policy(), RESOURCE_EXHAUSTED, meta) == [1.25, 1.25, 1.25, None]


def test_resource_exhausted_without_retry_info_is_a_quota_and_not_retried() -> None:
    assert delays(policy(), RESOURCE_EXHAUSTED, trailers(QUOTA_FAILURE)) == [None] * 4
    assert delays(policy(), RESOURCE_EXHAUSTED) == [None] * 4


@pytest.mark.parametrize(
    "code",
    [
        grpc.StatusCode.INVALID_ARGUMENT,
        grpc.StatusCode.NOT_FOUND,
        grpc.StatusCode.PERMISSION_DENIED,
        grpc.StatusCode.FAILED_PRECONDITION,
        grpc.StatusCode.UNAUTHENTICATED,
        grpc.StatusCode.ALREADY_EXISTS,
        grpc.StatusCode.INTERNAL,
        grpc.StatusCode.CANCELLED,
    ],
)
def test_other_codes_are_not_retried(code: grpc.StatusCode) -> None:
    assert delays(policy(), code, trailers(retry_info(0.1))) == [None] * 4


def test_a_call_unsafe_to_repeat_is_not_retried() -> None:
    delay = policy().delay(
        retry_number=1, code=UNAVAILABLE, trailers=None, safe=False, time_left=None
    )

    assert delay is None


def test_no_retry_that_could_not_start_before_the_deadline() -> None:
    p = policy()

    assert p.delay(retry_number=1, code=UNAVAILABLE, trailers=None, safe=True, time_left=0.6)
    assert (
        p.delay(retry_number=1, code=UNAVAILABLE, trailers=None, safe=True, time_left=0.5) is None
    )
    meta = trailers(retry_info(5))
    assert (
        p.delay(retry_number=1, code=RESOURCE_EXHAUSTED, trailers=meta, safe=True, time_left=4)
        is None
    )


def test_deadline_exceeded_is_retried_only_with_time_left() -> None:
    code = grpc.StatusCode.DEADLINE_EXCEEDED
    p = policy()

    assert p.delay(retry_number=1, code=code, trailers=None, safe=True, time_left=None) == 0.5
    assert p.delay(retry_number=1, code=code, trailers=None, safe=True, time_left=10) == 0.5
    assert p.delay(retry_number=1, code=code, trailers=None, safe=True, time_left=0.0) is None
    assert p.delay(retry_number=1, code=code, trailers=None, safe=False, time_left=10) is None


def test_zero_max_retries_turns_retrying_off() -> None:
    off = policy(config=ds.RetryConfig(max_retries=0))

    assert (
        off.delay(retry_number=1, code=UNAVAILABLE, trailers=None, safe=True, time_left=None)
        is None
    )


@pytest.mark.parametrize(
    ("fields", "error"),
    [
        ({"max_retries": -1}, ValueError),
        ({"max_retries": 1.5}, TypeError),
        ({"initial_backoff": -0.1}, ValueError),
        ({"initial_backoff": 2.0, "max_backoff": 1.0}, ValueError),
        ({"multiplier": 0.5}, ValueError),
        ({"jitter": 1.5}, ValueError),
        ({"max_backoff": float("inf")}, ValueError),
    ],
)
def test_retry_config_refuses_nonsense(fields: dict[str, float], error: type[Exception]) -> None:
    with pytest.raises(error):
        ds.RetryConfig(**fields)  # type: ignore[arg-type]


def _api_methods() -> list[str]:
    names: list[str] = []
    for module_info in pkgutil.iter_modules(deepseek.hpc.v1.__path__):
        if not module_info.name.endswith("_pb2"):
            continue
        module = importlib.import_module(f"deepseek.hpc.v1.{module_info.name}")
        for service in module.DESCRIPTOR.services_by_name.values():
            names.extend(f"/{service.full_name}/{method.name}" for method in service.methods)
    return names


def test_every_rpc_of_the_api_is_classified() -> None:
    methods = _api_methods()

    assert len(methods) >= 30
    assert [name for name in methods if name not in METHOD_SAFETY] == []
    listed = {name for name in METHOD_SAFETY if name.startswith("/deepseek.hpc.v1.")}
    assert listed == set(methods)


def test_creations_are_safe_only_with_a_request_id() -> None:
    create = "/deepseek.hpc.v1.JobService/CreateJob"
    batch = "/deepseek.hpc.v1.JobService/BatchCreateJobs"
    with_id = job_pb2.CreateJobRequest(request_id="r-1")
    without_id = job_pb2.CreateJobRequest()

    assert safe_to_repeat(create, with_id)
    assert not safe_to_repeat(create, without_id)
    assert safe_to_repeat(batch, job_pb2.BatchCreateJobsRequest(requests=[with_id, with_id]))
    assert not safe_to_repeat(batch, job_pb2.BatchCreateJobsRequest(requests=[with_id, without_id]))


def test_reads_and_documented_idempotent_methods_are_safe_others_not() -> None:
    assert safe_to_repeat("/deepseek.hpc.v1.JobService/GetJob", None)
    assert safe_to_repeat("/deepseek.hpc.v1.JobService/CancelJob", None)
    assert safe_to_repeat("/deepseek.hpc.v1.DataChunkService/SealDataset", None)
    assert not safe_to_repeat("/deepseek.hpc.v1.DataChunkService/DeleteDataset", None)
    assert not safe_to_repeat("/other.Service/Anything", None)
