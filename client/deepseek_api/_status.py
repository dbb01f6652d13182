"""Conversion of a failed gRPC call into the matching ``APIException``."""

from __future__ import annotations

from collections.abc import Iterable

import grpc
from google.protobuf import any_pb2, descriptor_pool, message_factory
from google.protobuf.message import DecodeError, Message
from google.rpc import error_details_pb2, status_pb2

from deepseek_api._errors import APIException, exception_class_for

# The standard detail types must be in the default pool before details are unpacked.
_ = error_details_pb2

_STATUS_DETAILS_KEY = "grpc-status-details-bin"

Trailers = Iterable[tuple[str, str | bytes]] | None

_CODE_BY_NUMBER = {code.value[0]: code for code in grpc.StatusCode}


def from_rpc_error(err: grpc.RpcError) -> APIException:
    """Convert a ``grpc.RpcError`` (sync or ``grpc.aio``) into the matching ``APIException``.

    The exception class follows the status code; its fields come from the
    ``google.rpc.Status`` in the ``grpc-status-details-bin`` trailer, when there is one.
    The returned exception has ``err`` as its ``__cause__``; raise it ``from err``.
    """
    code, message, trailers = _call_outcome(err)
    status = rich_status(trailers)
    details: list[Message] = []
    if status is not None:
        message = message or status.message
        details = [_unpack(detail) for detail in status.details]
    exception = exception_class_for(code)(message, details=details)
    exception.__cause__ = err
    return exception


def from_status(status: status_pb2.Status) -> APIException:
    """Convert a ``google.rpc.Status`` carried in a response (a batch item's error, say)
    into the ``APIException`` the same status would raise as a call's outcome."""
    code = _CODE_BY_NUMBER.get(status.code, grpc.StatusCode.UNKNOWN)
    details = [_unpack(detail) for detail in status.details]
    return exception_class_for(code)(status.message, details=details)


def _call_outcome(err: grpc.RpcError) -> tuple[grpc.StatusCode, str, Trailers]:
    # grpc.aio errors return aio Metadata, the sync ones tuples of (key, value);
    # both iterate as pairs. A bare RpcError (raised by an interceptor, say) has neither.
    if isinstance(err, grpc.aio.AioRpcError):
        return err.code(), err.details() or "", err.trailing_metadata()
    if isinstance(err, grpc.Call):
        return err.code() or grpc.StatusCode.UNKNOWN, err.details() or "", err.trailing_metadata()
    return grpc.StatusCode.UNKNOWN, str(err), None


def rich_status(trailers: Trailers) -> status_pb2.Status | None:
    """The ``google.rpc.Status`` a server sent in a call's trailing metadata, if any."""
    # Not grpc_status.rpc_status.from_call: it raises ValueError when the Status
    # disagrees with the call's code or message (a proxy rewrote one), which would hide
    # the real error behind a ValueError. The transport's code and message win here.
    for key, value in trailers or ():
        if key == _STATUS_DETAILS_KEY and isinstance(value, bytes):
            try:
                return status_pb2.Status.FromString(value)
            except DecodeError:
                return None
    return None


def _unpack(detail: any_pb2.Any) -> Message:
    try:
        descriptor = descriptor_pool.Default().FindMessageTypeByName(detail.TypeName())
    except KeyError:
        return detail
    message = message_factory.GetMessageClass(descriptor)()
    try:
        unpacked = detail.Unpack(message)
    except DecodeError:
        return detail
    return message if unpacked else detail
