"""Python SDK of the DeepSeek HPC Gateway.

import deepseek_api as ds

with ds.DeepSeekClient("https://api.deepseek.supercomp.cn", credentials={...}) as client:
    try:
        client.check_health()
    except ds.APIException as e:
        print(e.code, e.message)
"""

from deepseek_api._async_client import AsyncDeepSeekClient
from deepseek_api._client import DeepSeekClient
from deepseek_api._config import ChannelOptions, TlsConfig
from deepseek_api._errors import (
    Aborted,
    AlreadyExists,
    APIException,
    Cancelled,
    ClientError,
    DataLoss,
    DeadlineExceeded,
    FailedPrecondition,
    FieldViolation,
    Internal,
    InvalidArgument,
    NotFound,
    OutOfRange,
    PermissionDenied,
    QuotaViolation,
    ResourceExhausted,
    ServerError,
    Unauthenticated,
    Unavailable,
    Unimplemented,
    Unknown,
)
from deepseek_api._status import from_rpc_error
from deepseek_api._version import __version__

__all__ = [
    "APIException",
    "Aborted",
    "AlreadyExists",
    "AsyncDeepSeekClient",
    "Cancelled",
    "ChannelOptions",
    "ClientError",
    "DataLoss",
    "DeadlineExceeded",
    "DeepSeekClient",
    "FailedPrecondition",
    "FieldViolation",
    "Internal",
    "InvalidArgument",
    "NotFound",
    "OutOfRange",
    "PermissionDenied",
    "QuotaViolation",
    "ResourceExhausted",
    "ServerError",
    "TlsConfig",
    "Unauthenticated",
    "Unavailable",
    "Unimplemented",
    "Unknown",
    "__version__",
    "from_rpc_error",
]

# Exceptions and classes show as deepseek_api.X in tracebacks and docs, not _errors.X.
for _name in __all__:
    _obj = globals()[_name]
    if isinstance(_obj, type):
        _obj.__module__ = __name__
del _name, _obj
