"""Records one audit record per call, for all four call shapes, when the call ends.

Sits just inside error mapping: it sees every call, those refused by authentication included,
with the domain exception that ended it. In the default ``sync`` mode the record is committed
before the response (or, for a stream, the final status) is sent. Health and reflection are not
audited (see :mod:`deepseek_server.audit.actions`).
"""

from __future__ import annotations

import asyncio
import inspect
import time
from collections.abc import AsyncIterator, Callable
from typing import Any
from urllib.parse import unquote

import grpc
import grpc.aio
import jwt
from google.protobuf.descriptor import FieldDescriptor
from google.protobuf.message import Message

from deepseek_server import errors
from deepseek_server.audit import AuditLog, AuditRecord, action_of, new_event_id
from deepseek_server.context import (
    AuditFacts,
    Principal,
    current_audit,
    current_call,
    current_principal,
)
from deepseek_server.interceptors._around import Handler, WrappingInterceptor, call_shape
from deepseek_server.interceptors.errors import status_from_error

_CODE_NAMES = {code.value[0]: code.name for code in grpc.StatusCode}
_OK, _CANCELLED, _UNKNOWN, _DEADLINE_EXCEEDED, _UNIMPLEMENTED, _INTERNAL = 0, 1, 2, 4, 12, 13
_DETAIL_LIMIT = 300
_CLAIM_LIMIT = 128

# Where a request or response names the resource acted on, most specific first.
_REQUEST_RESOURCE_PATHS = (
    ("id",), ("job_id",), ("upload_id",), ("name",), ("dataset",), ("user_id",),
    ("resume", "upload_id"), ("start", "target", "job_id"), ("start", "target", "dataset"),
    ("target", "job_id"), ("target", "dataset"), ("job", "id"), ("dataset", "name"),
)  # fmt: skip
_RESPONSE_RESOURCE_PATHS = (("job", "id"), ("upload_id",), ("dataset", "name"), ("id",))

Resource = Callable[[Any], str]


class AuditInterceptor(WrappingInterceptor):
    """Hands one :class:`~deepseek_server.audit.AuditRecord` per call to the audit log.

    ``anonymous`` is who a call acts for when authentication noted nobody: the local user when
    authentication is switched off, ``None`` (an empty user id) when it is on. Until a log is
    attached with :meth:`attach` (or with auditing switched off), calls pass through untouched.
    """

    def __init__(self, anonymous: Principal | None) -> None:
        super().__init__()
        self._anonymous = anonymous
        self._log: AuditLog | None = None

    def attach(self, log: AuditLog | None) -> None:
        """Record calls into ``log`` from now on (``None``: stop recording)."""
        self._log = log
        self.forget_wrapped()

    def wrap(self, handler: Handler, method: str) -> Handler | None:
        log = self._log
        action = action_of(method)
        if log is None or action is None:
            return None
        return _Recorder(log, method, action, self._anonymous).wrap(handler)


class _Tally:
    """One call's facts, gathered while it runs."""

    __slots__ = (
        "bytes_received",
        "bytes_sent",
        "facts",
        "messages_received",
        "messages_sent",
        "request_id",
        "request_resource",
        "response_resource",
        "started",
        "time_us",
    )

    def __init__(self) -> None:
        self.time_us = time.time_ns() // 1000
        self.started = time.perf_counter()
        self.facts = AuditFacts()
        self.messages_received = self.messages_sent = 0
        self.bytes_received = self.bytes_sent = 0
        self.request_id = ""
        self.request_resource = ""
        self.response_resource = ""


class _Recorder:
    """Wraps one method's handler so that each call ends with its record in the log."""

    def __init__(
        self, log: AuditLog, method: str, action: str, anonymous: Principal | None
    ) -> None:
        self._log = log
        self._method = method
        self._action = action
        self._anonymous = anonymous
        self._request_resource: Resource | None = None
        self._response_resource: Resource | None = None

    def wrap(self, handler: Handler) -> Handler:
        shape = call_shape(handler)
        behavior = getattr(handler, shape)
        streams_requests = bool(handler.request_streaming)

        if inspect.isasyncgenfunction(behavior):

            async def streamed(request: Any, context: grpc.aio.ServicerContext[Any, Any]) -> Any:
                tally = self._begin(request, streams_requests)
                token = current_audit.set(tally.facts)
                outcome: tuple[int, str] = (_OK, "")
                try:
                    requests = self._count_requests(request, tally) if streams_requests else request
                    async for response in behavior(requests, context):
                        tally.messages_sent += 1
                        tally.bytes_sent += response.ByteSize()
                        yield response
                except BaseException as error:
                    outcome = _outcome(error, context)
                    raise
                finally:
                    current_audit.reset(token)
                    await self._end(tally, outcome, context)

            return handler._replace(**{shape: streamed})  # type: ignore[attr-defined, no-any-return]

        async def called(request: Any, context: grpc.aio.ServicerContext[Any, Any]) -> Any:
            tally = self._begin(request, streams_requests)
            token = current_audit.set(tally.facts)
            outcome: tuple[int, str] = (_OK, "")
            try:
                requests = self._count_requests(request, tally) if streams_requests else request
                result = behavior(requests, context)
                response = await result if inspect.isawaitable(result) else result
                if isinstance(response, Message):
                    tally.messages_sent = 1
                    tally.bytes_sent = response.ByteSize()
                    tally.response_resource = self._resource_of_response(response)
                return response
            except BaseException as error:
                outcome = _outcome(error, context)
                raise
            finally:
                current_audit.reset(token)
                await self._end(tally, outcome, context)

        return handler._replace(**{shape: called})  # type: ignore[attr-defined, no-any-return]

    def _begin(self, request: Any, streams_requests: bool) -> _Tally:
        tally = _Tally()
        if not streams_requests and isinstance(request, Message):
            self._note_request(request, tally)
        return tally

    def _note_request(self, request: Message, tally: _Tally) -> None:
        tally.messages_received += 1
        tally.bytes_received += request.ByteSize()
        if tally.messages_received == 1:
            if self._request_resource is None:
                self._request_resource = _resource_reader(
                    request.DESCRIPTOR, _REQUEST_RESOURCE_PATHS
                )
            tally.request_resource = self._request_resource(request)
            request_id = getattr(request, "request_id", None)
            if request_id is None:  # an upload names it in its first message's start
                request_id = getattr(getattr(request, "start", None), "request_id", "")
            tally.request_id = request_id if isinstance(request_id, str) else ""
            claimed = getattr(request, "client_id", None)  # IssueToken names its client
            if isinstance(claimed, str) and not tally.facts.claimed_client_id:
                tally.facts.claimed_client_id = claimed

    async def _count_requests(
        self, requests: AsyncIterator[Any], tally: _Tally
    ) -> AsyncIterator[Any]:
        async for request in requests:
            self._note_request(request, tally)
            yield request

    def _resource_of_response(self, response: Message) -> str:
        if self._response_resource is None:
            self._response_resource = _resource_reader(
                response.DESCRIPTOR, _RESPONSE_RESOURCE_PATHS
            )
        return self._response_resource(response)

    async def _end(
        self,
        tally: _Tally,
        outcome: tuple[int, str],
        context: grpc.aio.ServicerContext[Any, Any],
    ) -> None:
        code, detail = outcome
        if code == _OK:
            code = _set_code(context)
        facts = tally.facts
        principal = facts.principal or current_principal.get() or self._anonymous
        if principal is None and not facts.claimed_client_id:
            facts.claimed_client_id = _claimed_client(context)
        call = current_call.get()
        record = AuditRecord(
            event_id=new_event_id(),
            time_us=tally.time_us,
            action=self._action,
            method=self._method,
            user_id=principal.user_id if principal is not None else "",
            client_id=(principal.client_id if principal is not None else "")
            or facts.claimed_client_id,
            resource_id=facts.resource_id or tally.request_resource or tally.response_resource,
            ip_address=ip_of_peer(call.peer if call is not None else context.peer()),
            status_code=code,
            status=_CODE_NAMES.get(code, str(code)),
            duration_ms=round((time.perf_counter() - tally.started) * 1000, 3),
            request_id=tally.request_id or (call.request_id if call is not None else ""),
            messages_received=tally.messages_received,
            messages_sent=tally.messages_sent,
            bytes_received=tally.bytes_received,
            bytes_sent=tally.bytes_sent,
            detail=detail,
        )
        if code in (_CANCELLED, _DEADLINE_EXCEEDED):
            self._log.append_nowait(record)  # nobody waits for the answer; do not hold the task
        else:
            await self._log.append(record)


def _outcome(error: BaseException, context: grpc.aio.ServicerContext[Any, Any]) -> tuple[int, str]:
    """The status code a call ending with ``error`` reports, and a short detail."""
    if isinstance(error, errors.GatewayError):
        return status_from_error(error).code, _short(error.message)
    if isinstance(error, asyncio.CancelledError | GeneratorExit):
        remaining = context.time_remaining()
        expired = remaining is not None and remaining <= 0
        return (_DEADLINE_EXCEEDED, "") if expired else (_CANCELLED, "")
    if isinstance(error, grpc.aio.AbortError):
        code = _set_code(context)
        return (code if code != _OK else _UNKNOWN), _short(context.details() or "")
    if isinstance(error, NotImplementedError):
        return _UNIMPLEMENTED, ""
    return _INTERNAL, type(error).__name__


def _claimed_client(context: grpc.aio.ServicerContext[Any, Any]) -> str:
    """The client_id a bearer token claims, unverified: who a refused call said it was."""
    for key, value in context.invocation_metadata() or ():
        if key == "authorization" and isinstance(value, str) and value[:7].lower() == "bearer ":
            try:
                claims = jwt.decode(value[7:].strip(), options={"verify_signature": False})
            except jwt.PyJWTError:
                return ""
            claimed = claims.get("client_id", "") if isinstance(claims, dict) else ""
            return claimed[:_CLAIM_LIMIT] if isinstance(claimed, str) else ""
    return ""


def _set_code(context: grpc.aio.ServicerContext[Any, Any]) -> int:
    code = context.code()
    if isinstance(code, grpc.StatusCode):
        return int(code.value[0])
    return int(code) if isinstance(code, int) else _OK


def _short(text: str) -> str:
    return text if len(text) <= _DETAIL_LIMIT else text[: _DETAIL_LIMIT - 3] + "..."


def ip_of_peer(peer: str) -> str:
    """The IP address in a gRPC peer string: ``ipv4:1.2.3.4:5`` or ``ipv6:[::1]:5``; else ``""``."""
    kind, _, rest = peer.partition(":")
    if kind == "ipv4":
        return rest.rpartition(":")[0]
    if kind == "ipv6":
        host = rest.rpartition(":")[0] if rest.startswith("[") else rest
        return unquote(host.strip("[]"))
    return ""


def _resource_reader(descriptor: Any, paths: tuple[tuple[str, ...], ...]) -> Resource:
    usable = [path for path in paths if _is_string_path(descriptor, path)]

    def read(message: Any) -> str:
        for path in usable:
            value = message
            for name in path:
                value = getattr(value, name)
            if value:
                return str(value)
        return ""

    return read


def _is_string_path(descriptor: Any, path: tuple[str, ...]) -> bool:
    current: Any = descriptor
    for position, name in enumerate(path):
        if current is None or name not in current.fields_by_name:
            return False
        field = current.fields_by_name[name]
        if field.is_repeated:
            return False
        last = position == len(path) - 1
        if last:
            return bool(field.type == FieldDescriptor.TYPE_STRING)
        current = field.message_type
    return False
