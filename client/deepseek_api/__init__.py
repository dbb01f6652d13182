"""Python SDK of the DeepSeek HPC Gateway.

import deepseek_api as ds

with ds.DeepSeekClient("https://api.deepseek.supercomp.cn", credentials={...}) as client:
    try:
        job = client.create_job({
            "job_name": "protein_folding_2023",
            "resource_spec": {"nodes": 8, "gpus_per_node": 4, "memory_gb": 512},
            "command": "gromacs -s topol.tpr -ntomp 32 -gpu_id 0,1,2,3",
        })
        client.upload_input_files(job.id, ["topol.tpr", "conf.gro"])
        job.submit()
        job.wait()
        if job.status == "COMPLETED":
            client.download_results(job.id, "./output/")
    except ds.APIException as e:
        print(e.code, e.message)
"""

from deepseek_api._accounts import CostEstimate, Quota, QuotaAlert, QuotaLimit, Usage, UsageLine
from deepseek_api._async_client import AsyncDeepSeekClient
from deepseek_api._audit import AuditChainVerification, AuditRecord
from deepseek_api._capabilities import Capabilities, Partition
from deepseek_api._client import DeepSeekClient
from deepseek_api._config import ChannelOptions, RateLimitConfig, RetryConfig, TlsConfig
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
from deepseek_api._files import Dataset, FileInfo, UploadStatus
from deepseek_api._job import Amount, AsyncJob, Job, ResourceUsage
from deepseek_api._ml import AsyncMLTask, MLTask, TaskMetrics
from deepseek_api._status import from_rpc_error
from deepseek_api._version import __version__
from deepseek_api._watch import JobEvent

__all__ = [
    "APIException",
    "Aborted",
    "AlreadyExists",
    "Amount",
    "AsyncDeepSeekClient",
    "AsyncJob",
    "AsyncMLTask",
    "AuditChainVerification",
    "AuditRecord",
    "Cancelled",
    "Capabilities",
    "ChannelOptions",
    "ClientError",
    "CostEstimate",
    "DataLoss",
    "Dataset",
    "DeadlineExceeded",
    "DeepSeekClient",
    "FailedPrecondition",
    "FieldViolation",
    "FileInfo",
    "Internal",
    "InvalidArgument",
    "Job",
    "JobEvent",
    "MLTask",
    "NotFound",
    "OutOfRange",
    "Partition",
    "PermissionDenied",
    "Quota",
    "QuotaAlert",
    "QuotaLimit",
    "QuotaViolation",
    "RateLimitConfig",
    "ResourceExhausted",
    "ResourceUsage",
    "RetryConfig",
    "ServerError",
    "TaskMetrics",
    "TlsConfig",
    "Unauthenticated",
    "Unavailable",
    "Unimplemented",
    "Unknown",
    "UploadStatus",
    "Usage",
    "UsageLine",
    "__version__",
    "from_rpc_error",
]

# Exceptions and classes show as deepseek_api.X in tracebacks and docs, not _errors.X.
for _name in __all__:
    _obj = globals()[_name]
    if isinstance(_obj, type):
        _obj.__module__ = __name__
del _name, _obj
