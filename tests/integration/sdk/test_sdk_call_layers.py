"""Authentication, retries and rate limiting of both clients, against a fake gateway.

The fake gateway issues opaque tokens with a short lifetime (AuthService), checks the
``authorization`` header of every other call, and fails calls as a test scripts it. Both
clients are exercised over all four call shapes; the sync client runs in worker threads.
"""

from __future__ import annotations

import asyncio
import time
from collections import defaultdict
from collections.abc import AsyncIterator, Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

import grpc
import pytest
from google.protobuf import any_pb2, duration_pb2, wrappers_pb2
from google.protobuf.message import Message
from google.rpc import error_details_pb2, status_pb2
from grpc_status import rpc_status

import deepseek_api as ds
from deepseek.hpc.v1 import (
    auth_pb2,
    auth_pb2_grpc,
    data_pb2,
    data_pb2_grpc,
    job_pb2,
    job_pb2_grpc,
)

CREDENTIALS = {"client_id": "ds_api_client_001", "client_secret": "s3cret"}
FAST_RETRY = ds.RetryConfig(initial_backoff=0.01, max_backoff=0.05)
StringValue = wrappers_pb2.StringValue
Context = grpc.aio.ServicerContext[Any, Any]

GET_JOB = "GetJob"
CREATE_JOB = "CreateJob"
READ_LOGS = "ReadJobLogs"
COUNT = "Count"
UPLOAD = "Upload"


def failure(
    code: grpc.StatusCode, *, retry_after: float | None = None, quota: bool = False
) -> status_pb2.Status:
    """A status as the gateway sends it: RetryInfo for a rate limit, QuotaFailure for a quota."""
    details: list[Message] = []
    if retry_after is not None:
        delay = duration_pb2.Duration()
        delay.FromNanoseconds(round(retry_after * 1e9))
        details.append(error_details_pb2.ErrorInfo(reason="RATE_LIMITED", domain="test"))
        details.append(error_details_pb2.RetryInfo(retry_delay=delay))
    if quota:
        details.append(error_details_pb2.ErrorInfo(reason="QUOTA_EXCEEDED", domain="test"))
        details.append(
            error_details_pb2.QuotaFailure(
                violations=[error_details_pb2.QuotaFailure.Violation(subject="u", description="q")]
            )
        )
    packed = []
    for detail in details:
        message = any_pb2.Any()
        message.Pack(detail)
        packed.append(message)
    return status_pb2.Status(code=code.value[0], message=f"scripted {code.name}", details=packed)


@dataclass
class FakeGateway:
    """The fake's state: tokens, what each method received, and scripted failures."""

    lifetime: int = 60
    issue_delay: float = 0.0
    issued: int = 0
    tokens: dict[str, float] = field(default_factory=dict)
    refused: int = 0
    headers: dict[str, list[str | None]] = field(default_factory=lambda: defaultdict(list))
    times: dict[str, list[float]] = field(default_factory=lambda: defaultdict(list))
    script: dict[str, list[status_pb2.Status]] = field(default_factory=lambda: defaultdict(list))
    require_auth: bool = True
    token_issued: asyncio.Event = field(default_factory=asyncio.Event)

    def attempts(self, method: str) -> int:
        return len(self.times[method])

    def fail(self, method: str, *statuses: status_pb2.Status) -> None:
        self.script[method].extend(statuses)

    def revoke_all(self) -> None:
        self.tokens.clear()

    async def check(self, method: str, context: Context) -> None:
        """Note the call; refuse a bad token; fail as scripted."""
        header = dict(context.invocation_metadata() or ()).get("authorization")
        self.headers[method].append(header)  # type: ignore[arg-type]
        self.times[method].append(time.monotonic())
        if self.require_auth:
            token = header.removeprefix("Bearer ") if isinstance(header, str) else ""
            expiry = self.tokens.get(token)
            if expiry is None or time.monotonic() >= expiry:
                self.refused += 1
                await context.abort(grpc.StatusCode.UNAUTHENTICATED, "invalid or expired token")
        if self.script[method]:
            status = self.script[method].pop(0)
            await context.abort_with_status(rpc_status.to_status(status))


class Auth(auth_pb2_grpc.AuthServiceServicer):
    def __init__(self, gateway: FakeGateway) -> None:
        self.gateway = gateway

    async def IssueToken(
        self, request: auth_pb2.IssueTokenRequest, context: Context
    ) -> auth_pb2.IssueTokenResponse:
        if (request.grant_type, request.client_id, request.client_secret) != (
            "client_credentials",
            CREDENTIALS["client_id"],
            CREDENTIALS["client_secret"],
        ):
            await context.abort(grpc.StatusCode.UNAUTHENTICATED, "invalid client")
        gateway = self.gateway
        gateway.issued += 1
        token = f"opaque-{gateway.issued}"
        await asyncio.sleep(gateway.issue_delay)
        gateway.tokens[token] = time.monotonic() + gateway.lifetime
        gateway.token_issued.set()
        return auth_pb2.IssueTokenResponse(
            access_token=token, token_type="Bearer", expires_in=gateway.lifetime, scope="all"
        )


class Jobs(job_pb2_grpc.JobServiceServicer):
    def __init__(self, gateway: FakeGateway) -> None:
        self.gateway = gateway

    async def GetJob(
        self, request: job_pb2.GetJobRequest, context: Context
    ) -> job_pb2.GetJobResponse:
        await self.gateway.check(GET_JOB, context)
        return job_pb2.GetJobResponse(job=job_pb2.Job(id=request.id))

    async def CreateJob(
        self, request: job_pb2.CreateJobRequest, context: Context
    ) -> job_pb2.CreateJobResponse:
        await self.gateway.check(CREATE_JOB, context)
        return job_pb2.CreateJobResponse(job=job_pb2.Job(id="job-new"))

    async def ReadJobLogs(
        self, request: job_pb2.ReadJobLogsRequest, context: Context
    ) -> AsyncIterator[job_pb2.ReadJobLogsResponse]:
        await self.gateway.check(READ_LOGS, context)
        yield job_pb2.ReadJobLogsResponse(data=b"hello ")
        if self.gateway.script["after-first-log"]:
            status = self.gateway.script["after-first-log"].pop(0)
            await context.abort_with_status(rpc_status.to_status(status))
        yield job_pb2.ReadJobLogsResponse(data=b"world")


class Data(data_pb2_grpc.DataChunkServiceServicer):
    def __init__(self, gateway: FakeGateway) -> None:
        self.gateway = gateway

    async def Upload(
        self, request_iterator: AsyncIterator[data_pb2.UploadRequest], context: Context
    ) -> AsyncIterator[data_pb2.UploadResponse]:
        await self.gateway.check(UPLOAD, context)
        async for _ in request_iterator:
            yield data_pb2.UploadResponse(upload_id="u-1")


def count_handler(gateway: FakeGateway) -> grpc.GenericRpcHandler:
    """``test.Streams/Count``: a client-streaming method (the API has none of its own)."""

    async def count(request_iterator: AsyncIterator[StringValue], context: Context) -> StringValue:
        await gateway.check(COUNT, context)
        values = [request.value async for request in request_iterator]
        return StringValue(value=str(len(values)))

    return grpc.method_handlers_generic_handler(
        "test.Streams",
        {
            "Count": grpc.stream_unary_rpc_method_handler(
                count,
                request_deserializer=StringValue.FromString,
                response_serializer=StringValue.SerializeToString,
            )
        },
    )


class StreamsStub:
    def __init__(self, channel: Any) -> None:
        self.Count = channel.stream_unary(
            "/test.Streams/Count",
            request_serializer=StringValue.SerializeToString,
            response_deserializer=StringValue.FromString,
        )


@dataclass
class Api:
    """Either client behind one awaitable surface (sync calls run in worker threads)."""

    client: Any
    is_async: bool

    async def call(self, method: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
        if self.is_async:
            return await method(*args, **kwargs)
        return await asyncio.to_thread(method, *args, **kwargs)

    async def collect(self, make: Callable[[], Any]) -> list[Any]:
        """The items of the (sync or async) iterable ``make`` returns."""
        if self.is_async:
            return [item async for item in make()]
        return await asyncio.to_thread(lambda: list(make()))

    async def many(self, n: int, method: Callable[..., Any], *args: Any) -> list[Any]:
        """``n`` concurrent calls: tasks, or one thread each."""
        if self.is_async:
            return list(await asyncio.gather(*(method(*args) for _ in range(n))))

        def run_all() -> list[Any]:
            with ThreadPoolExecutor(max_workers=n) as pool:
                return list(pool.map(lambda _: method(*args), range(n)))

        return await asyncio.to_thread(run_all)


@pytest.fixture
async def gateway() -> AsyncIterator[tuple[str, FakeGateway]]:
    state = FakeGateway()
    server = grpc.aio.server()
    auth_pb2_grpc.add_AuthServiceServicer_to_server(Auth(state), server)
    job_pb2_grpc.add_JobServiceServicer_to_server(Jobs(state), server)
    data_pb2_grpc.add_DataChunkServiceServicer_to_server(Data(state), server)
    server.add_generic_rpc_handlers((count_handler(state),))
    port = server.add_insecure_port("127.0.0.1:0")
    await server.start()
    try:
        yield f"127.0.0.1:{port}", state
    finally:
        await server.stop(grace=None)


@pytest.fixture
def fake(gateway: tuple[str, FakeGateway]) -> FakeGateway:
    return gateway[1]


def make_client(is_async: bool, address: str, **kwargs: Any) -> Any:
    kwargs.setdefault("credentials", CREDENTIALS)
    kwargs.setdefault("retry", FAST_RETRY)
    kwargs.setdefault("timeout", 10)
    cls = ds.AsyncDeepSeekClient if is_async else ds.DeepSeekClient
    return cls(address, **kwargs)


@pytest.fixture(params=["sync", "async"])
async def api(
    request: pytest.FixtureRequest, gateway: tuple[str, FakeGateway]
) -> AsyncIterator[Api]:
    is_async = request.param == "async"
    client = make_client(is_async, gateway[0])
    try:
        yield Api(client, is_async)
    finally:
        if is_async:
            await client.close()
        else:
            client.close()


def upload_requests() -> Iterator[data_pb2.UploadRequest]:
    return iter([data_pb2.UploadRequest(), data_pb2.UploadRequest()])


async def all_four_shapes(api: Api) -> None:
    """One call of each shape: unary, server streaming, client streaming, bidirectional."""
    client = api.client
    assert (await api.call(client.get_job, "job-1")).id == "job-1"
    assert b"".join(await api.collect(lambda: client.read_logs("job-1"))) == b"hello world"
    counted = await api.call(
        client._stub(StreamsStub).Count, iter([StringValue(value="a")] * 3), timeout=10
    )
    assert counted.value == "3"
    upload = client._stub(data_pb2_grpc.DataChunkServiceStub).Upload
    responses = await api.collect(lambda: upload(upload_requests(), timeout=10))
    assert [response.upload_id for response in responses] == ["u-1", "u-1"]


async def test_every_call_shape_carries_the_token(api: Api, fake: FakeGateway) -> None:
    await all_four_shapes(api)

    for method in (GET_JOB, READ_LOGS, COUNT, UPLOAD):
        assert fake.headers[method] == ["Bearer opaque-1"], method
    assert (fake.issued, fake.refused) == (1, 0)


@pytest.mark.parametrize("is_async", [False, True], ids=["sync", "async"])
async def test_without_credentials_no_token_is_fetched_or_sent(
    gateway: tuple[str, FakeGateway], is_async: bool
) -> None:
    address, fake = gateway
    fake.require_auth = False
    client = make_client(is_async, address, credentials=None)
    api = Api(client, is_async)
    try:
        await all_four_shapes(api)
    finally:
        await api.call(client.close)

    assert fake.issued == 0
    assert fake.headers[GET_JOB] == [None]
    assert fake.headers[UPLOAD] == [None]


async def test_a_wrong_secret_fails_the_call_as_unauthenticated(
    gateway: tuple[str, FakeGateway],
) -> None:
    address, fake = gateway
    for is_async in (False, True):
        client = make_client(
            is_async, address, credentials={**CREDENTIALS, "client_secret": "wrong"}
        )
        api = Api(client, is_async)
        try:
            with pytest.raises(ds.Unauthenticated, match="invalid client"):
                await api.call(client.get_job, "job-1")
        finally:
            await api.call(client.close)

    assert fake.attempts(GET_JOB) == 0


async def test_fifty_concurrent_calls_share_one_token_fetch(api: Api, fake: FakeGateway) -> None:
    fake.issue_delay = 0.2

    jobs = await api.many(50, api.client.get_job, "job-1")

    assert len(jobs) == 50
    assert fake.issued == 1
    assert set(fake.headers[GET_JOB]) == {"Bearer opaque-1"}


async def test_fifty_concurrent_calls_after_expiry_share_one_refresh(
    api: Api, fake: FakeGateway
) -> None:
    fake.lifetime = 1
    await api.call(api.client.get_job, "job-1")
    await asyncio.sleep(1.1)  # let the token expire
    fake.issue_delay = 0.2

    await api.many(50, api.client.get_job, "job-1")

    assert fake.issued == 2
    assert fake.headers[GET_JOB][1:] == ["Bearer opaque-2"] * 50
    assert fake.refused == 0


async def test_the_token_is_refreshed_before_it_expires(api: Api, fake: FakeGateway) -> None:
    fake.lifetime = 2
    await api.call(api.client.get_job, "job-1")
    await asyncio.sleep(1.7)  # into the last fifth of the lifetime: due, not expired

    await api.call(api.client.get_job, "job-1")
    # The async client refreshes in the background: wait until it holds the new token.
    await asyncio.wait_for(_until(lambda: cached_token(api).value == "opaque-2"), timeout=5)
    await api.call(api.client.get_job, "job-1")

    assert fake.refused == 0
    assert fake.headers[GET_JOB][0] == "Bearer opaque-1"
    assert fake.headers[GET_JOB][-1] == "Bearer opaque-2"


async def test_a_refused_token_is_replaced_and_the_call_repeated_once(
    api: Api, fake: FakeGateway
) -> None:
    await api.call(api.client.get_job, "job-1")
    fake.revoke_all()

    assert (await api.call(api.client.get_job, "job-2")).id == "job-2"
    assert b"".join(await api.collect(lambda: api.client.read_logs("job-1"))) == b"hello world"

    assert fake.issued == 2
    assert fake.headers[GET_JOB] == ["Bearer opaque-1", "Bearer opaque-1", "Bearer opaque-2"]
    assert fake.headers[READ_LOGS] == ["Bearer opaque-2"]


async def test_unauthenticated_twice_is_raised_after_one_refresh(
    api: Api, fake: FakeGateway
) -> None:
    unauthenticated = failure(grpc.StatusCode.UNAUTHENTICATED)
    fake.fail(GET_JOB, unauthenticated, unauthenticated, unauthenticated)

    with pytest.raises(ds.Unauthenticated, match="scripted"):
        await api.call(api.client.get_job, "job-1")

    assert (fake.attempts(GET_JOB), fake.issued) == (2, 2)


async def test_a_streamed_upload_refused_drops_the_token_for_the_next_call(
    api: Api, fake: FakeGateway
) -> None:
    await api.call(api.client.get_job, "job-1")
    fake.revoke_all()
    upload = api.client._stub(data_pb2_grpc.DataChunkServiceStub).Upload

    with pytest.raises(grpc.RpcError):
        await api.collect(lambda: upload(upload_requests(), timeout=10))
    # The layer learns of the refusal in a done callback, which may run after the caller saw it.
    await asyncio.wait_for(_until(lambda: cached_token(api) is None), timeout=5)
    responses = await api.collect(lambda: upload(upload_requests(), timeout=10))

    assert len(responses) == 2
    assert fake.attempts(UPLOAD) == 2  # not repeated by the SDK: its requests are spent
    assert fake.headers[UPLOAD] == ["Bearer opaque-1", "Bearer opaque-2"]


async def test_unavailable_is_retried_until_it_succeeds(api: Api, fake: FakeGateway) -> None:
    fake.fail(GET_JOB, *[failure(grpc.StatusCode.UNAVAILABLE)] * 3)
    fake.fail(READ_LOGS, *[failure(grpc.StatusCode.UNAVAILABLE)] * 2)

    assert (await api.call(api.client.get_job, "job-1")).id == "job-1"
    assert b"".join(await api.collect(lambda: api.client.read_logs("job-1"))) == b"hello world"

    assert (fake.attempts(GET_JOB), fake.attempts(READ_LOGS)) == (4, 3)


async def test_retries_stop_after_three(api: Api, fake: FakeGateway) -> None:
    fake.fail(GET_JOB, *[failure(grpc.StatusCode.UNAVAILABLE)] * 5)

    with pytest.raises(ds.Unavailable):
        await api.call(api.client.get_job, "job-1")

    assert fake.attempts(GET_JOB) == 4


@pytest.mark.parametrize(
    "code",
    [
        grpc.StatusCode.INVALID_ARGUMENT,
        grpc.StatusCode.NOT_FOUND,
        grpc.StatusCode.PERMISSION_DENIED,
        grpc.StatusCode.FAILED_PRECONDITION,
    ],
    ids=lambda code: code.name,
)
async def test_client_errors_are_not_retried(
    api: Api, fake: FakeGateway, code: grpc.StatusCode
) -> None:
    fake.fail(GET_JOB, failure(code))

    with pytest.raises(ds.ClientError) as raised:
        await api.call(api.client.get_job, "job-1")

    assert raised.value.code == code.name
    assert fake.attempts(GET_JOB) == 1


async def test_rate_limited_calls_wait_as_retry_info_says(api: Api, fake: FakeGateway) -> None:
    fake.fail(GET_JOB, failure(grpc.StatusCode.RESOURCE_EXHAUSTED, retry_after=0.3))

    assert (await api.call(api.client.get_job, "job-1")).id == "job-1"

    first, second = fake.times[GET_JOB]
    assert second - first >= 0.3


async def test_a_quota_failure_is_not_retried(api: Api, fake: FakeGateway) -> None:
    fake.fail(GET_JOB, failure(grpc.StatusCode.RESOURCE_EXHAUSTED, quota=True))

    with pytest.raises(ds.ResourceExhausted) as raised:
        await api.call(api.client.get_job, "job-1")

    assert raised.value.reason == "QUOTA_EXCEEDED"
    assert fake.attempts(GET_JOB) == 1


async def test_a_creation_is_retried_only_with_a_request_id(api: Api, fake: FakeGateway) -> None:
    create = api.client._job_service().CreateJob
    fake.fail(CREATE_JOB, *[failure(grpc.StatusCode.UNAVAILABLE)] * 2)

    with pytest.raises(grpc.RpcError):
        await api.call(create, job_pb2.CreateJobRequest(), timeout=10)
    assert fake.attempts(CREATE_JOB) == 1

    # create_job always sends a request_id, so the SDK's own retries are safe.
    job = await api.call(api.client.create_job, {"job_name": "j", "command": "true"})
    assert job.id == "job-new"
    assert fake.attempts(CREATE_JOB) == 3


async def test_a_stream_is_not_retried_after_its_first_message(api: Api, fake: FakeGateway) -> None:
    fake.fail("after-first-log", failure(grpc.StatusCode.UNAVAILABLE))
    received: list[bytes] = []

    def read() -> Any:
        for data in api.client.read_logs("job-1"):
            received.append(data)
            yield data

    async def read_async() -> Any:
        async for data in api.client.read_logs("job-1"):
            received.append(data)
            yield data

    with pytest.raises(ds.Unavailable):
        await api.collect(read_async if api.is_async else read)

    assert received == [b"hello "]
    assert fake.attempts(READ_LOGS) == 1


@pytest.mark.parametrize("is_async", [False, True], ids=["sync", "async"])
async def test_the_rate_limiter_makes_callers_wait_for_tokens(
    gateway: tuple[str, FakeGateway], is_async: bool
) -> None:
    address, fake = gateway
    client = make_client(
        is_async, address, rate_limit=ds.RateLimitConfig(capacity=2, refill_per_second=10)
    )
    api = Api(client, is_async)
    try:
        await api.call(client.get_job, "job-0")  # fetches the token
        await asyncio.sleep(0.2)  # refills the bucket
        started = time.monotonic()
        jobs = await api.many(7, client.get_job, "job-1")
        elapsed = time.monotonic() - started
    finally:
        await api.call(client.close)

    assert len(jobs) == 7
    # 2 at once, then 5 more at 10 a second: the last may start 0.5 s after the first.
    assert elapsed >= 0.45
    times = sorted(fake.times[GET_JOB][1:])
    assert times[-1] - times[0] >= 0.45


async def _until(condition: Callable[[], bool]) -> None:
    # Polls: what it waits for happens in the SDK's background work, which has no event.
    while not condition():  # noqa: ASYNC110
        await asyncio.sleep(0.01)


def cached_token(api: Api) -> Any:
    """The token the client holds, if any."""
    return api.client._token_cache._token
