"""The one place where exceptions become ``google.rpc.Status``.

Domain code raises :mod:`deepseek_server.errors` exceptions; this interceptor, just inside the
request context, turns each into a status with an ``ErrorInfo`` and the detail that fits
(``BadRequest``, ``QuotaFailure``, ``RetryInfo``, ``ResourceInfo``). Anything unexpected
becomes ``INTERNAL`` with no internals in the message, and is logged with its traceback.
"""

from __future__ import annotations

import asyncio
import logging
import math
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import grpc.aio
from google.protobuf import any_pb2, duration_pb2
from google.protobuf.message import Message
from google.rpc import code_pb2, error_details_pb2, status_pb2
from grpc_status import rpc_status

from deepseek_server import errors
from deepseek_server.context import current_call
from deepseek_server.interceptors._around import AroundInterceptor

ERROR_DOMAIN = "hpc.deepseek.com"

_log = logging.getLogger(__name__)

_CODES: dict[type[errors.GatewayError], int] = {
    errors.InvalidArgument: code_pb2.INVALID_ARGUMENT,
    errors.NotFound: code_pb2.NOT_FOUND,
    errors.AlreadyExists: code_pb2.ALREADY_EXISTS,
    errors.FailedPrecondition: code_pb2.FAILED_PRECONDITION,
    errors.Aborted: code_pb2.ABORTED,
    errors.OutOfRange: code_pb2.OUT_OF_RANGE,
    errors.Unauthenticated: code_pb2.UNAUTHENTICATED,
    errors.PermissionDenied: code_pb2.PERMISSION_DENIED,
    errors.ResourceExhausted: code_pb2.RESOURCE_EXHAUSTED,
    errors.DataLoss: code_pb2.DATA_LOSS,
    errors.Unavailable: code_pb2.UNAVAILABLE,
}


class ErrorMappingInterceptor(AroundInterceptor):
    """Converts what a handler or an inner interceptor raises into a detailed gRPC status."""

    @asynccontextmanager
    async def around(
        self, method: str, context: grpc.aio.ServicerContext[Any, Any]
    ) -> AsyncIterator[None]:
        try:
            yield
        except (grpc.aio.AbortError, asyncio.CancelledError):
            raise
        except errors.GatewayError as exc:
            await context.abort_with_status(rpc_status.to_status(status_from_error(exc)))
        except NotImplementedError:
            await context.abort_with_status(rpc_status.to_status(_unimplemented(method)))
        except Exception:
            _log.exception("unhandled error in %s", method)
            await context.abort_with_status(rpc_status.to_status(_internal()))


def status_from_error(exc: errors.GatewayError) -> status_pb2.Status:
    """The ``google.rpc.Status`` a caller receives for ``exc``."""
    code = _code_of(exc)
    details: list[Message] = [_error_info(exc.reason, exc.metadata)]
    if isinstance(exc, errors.InvalidArgument):
        details.append(
            error_details_pb2.BadRequest(
                field_violations=[
                    error_details_pb2.BadRequest.FieldViolation(
                        field=v.field, description=v.description
                    )
                    for v in exc.violations
                ]
            )
        )
    if isinstance(exc, errors.ResourceExhausted) and exc.violations:
        details.append(
            error_details_pb2.QuotaFailure(
                violations=[
                    error_details_pb2.QuotaFailure.Violation(
                        subject=v.subject, description=v.description
                    )
                    for v in exc.violations
                ]
            )
        )
    if isinstance(exc, errors.NotFound | errors.AlreadyExists):
        details.append(
            error_details_pb2.ResourceInfo(
                resource_type=exc.resource_type, resource_name=exc.resource_name
            )
        )
    if exc.retry_after_seconds is not None:
        details.append(error_details_pb2.RetryInfo(retry_delay=_duration(exc.retry_after_seconds)))
    return _status(code, exc.message, details)


def _code_of(exc: errors.GatewayError) -> int:
    for kind in type(exc).__mro__:
        if kind in _CODES:
            return _CODES[kind]
    return code_pb2.UNKNOWN


def _error_info(reason: str, metadata: dict[str, str]) -> error_details_pb2.ErrorInfo:
    call = current_call.get()
    if call is not None:
        metadata = {**metadata, "request_id": call.request_id}
    return error_details_pb2.ErrorInfo(reason=reason, domain=ERROR_DOMAIN, metadata=metadata)


def _duration(seconds: float) -> duration_pb2.Duration:
    whole = math.floor(seconds)
    return duration_pb2.Duration(seconds=whole, nanos=round((seconds - whole) * 1e9))


def _status(code: int, message: str, details: list[Message]) -> status_pb2.Status:
    packed = []
    for detail in details:
        holder = any_pb2.Any()
        holder.Pack(detail)
        packed.append(holder)
    return status_pb2.Status(code=code, message=message, details=packed)


def _unimplemented(method: str) -> status_pb2.Status:
    return _status(
        code_pb2.UNIMPLEMENTED,
        f"{method} is part of the API but not served by this gateway version",
        [_error_info("NOT_IMPLEMENTED", {"method": method})],
    )


def _internal() -> status_pb2.Status:
    return _status(
        code_pb2.INTERNAL,
        "internal error; it has been logged with the request id",
        [_error_info("INTERNAL", {})],
    )
