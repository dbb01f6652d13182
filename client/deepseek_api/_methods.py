"""Which calls are safe to repeat: the one table the retry layer consults.

Every RPC of the API is listed (a unit test holds the table to the generated descriptors),
as one of:

- ``SAFE``: repeating the call cannot do anything the first one did not (reads, watches,
  and the methods the contract documents as idempotent), so it is retried whenever its
  error is retryable.
- ``request_id`` checks: a creation that the server deduplicates by ``request_id``; safe
  when the request carries one (for a batch: every item).
- ``UNSAFE``: a repeat can act twice or report differently (DeleteDataset's second call
  says NOT_FOUND), so it is never retried.

A method not in the table (another service on the same server) counts as unsafe.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any, Final

from deepseek.hpc.v1 import job_pb2

SafetyCheck = Callable[[Any], bool]
"""Given a call's request message, whether the call may be repeated."""


def SAFE(request: Any) -> bool:  # noqa: N802 (a constant of the table, named like one)
    """Always safe to repeat."""
    return True


def UNSAFE(request: Any) -> bool:  # noqa: N802
    """Never safe to repeat."""
    return False


def _has_request_id(request: Any) -> bool:
    return bool(getattr(request, "request_id", ""))


def _every_item_has_request_id(request: Any) -> bool:
    if not isinstance(request, job_pb2.BatchCreateJobsRequest):
        return False
    return bool(request.requests) and all(item.request_id for item in request.requests)


_JOB = "/deepseek.hpc.v1.JobService/"
_DATA = "/deepseek.hpc.v1.DataChunkService/"
_AUDIT = "/deepseek.hpc.v1.AuditService/"
_ACCOUNT = "/deepseek.hpc.v1.AccountService/"
_AUTH = "/deepseek.hpc.v1.AuthService/"
_HEALTH = "/grpc.health.v1.Health/"

METHOD_SAFETY: Final[Mapping[str, SafetyCheck]] = {
    _JOB + "CreateJob": _has_request_id,
    _JOB + "BatchCreateJobs": _every_item_has_request_id,
    _JOB + "SubmitJob": SAFE,
    _JOB + "GetJob": SAFE,
    _JOB + "ListJobs": SAFE,
    _JOB + "CancelJob": SAFE,
    _JOB + "WatchJobs": SAFE,
    _JOB + "ReadJobLogs": SAFE,
    _JOB + "GetCapabilities": SAFE,
    # Upload is a bidirectional stream, which the retry layer never repeats; its request_id
    # lets the upload helper reattach to the upload on its own.
    _DATA + "Upload": UNSAFE,
    _DATA + "GetUploadStatus": SAFE,
    _DATA + "CancelUpload": SAFE,
    _DATA + "Download": SAFE,
    _DATA + "ListFiles": SAFE,
    _DATA + "CreateDataset": _has_request_id,
    _DATA + "GetDataset": SAFE,
    _DATA + "ListDatasets": SAFE,
    _DATA + "SealDataset": SAFE,
    _DATA + "DeleteDataset": UNSAFE,
    _AUDIT + "ListAuditRecords": SAFE,
    _AUDIT + "WatchAuditRecords": SAFE,
    _AUDIT + "VerifyAuditChain": SAFE,
    _AUDIT + "ListAuditCheckpoints": SAFE,
    _ACCOUNT + "GetQuota": SAFE,
    _ACCOUNT + "UpdateQuota": SAFE,
    _ACCOUNT + "GetUsage": SAFE,
    _ACCOUNT + "EstimateJobCost": SAFE,
    _ACCOUNT + "WatchQuotaAlerts": SAFE,
    # A second IssueToken issues a second token, which harms nothing.
    _AUTH + "IssueToken": SAFE,
    _AUTH + "GetJwks": SAFE,
    _HEALTH + "Check": SAFE,
    _HEALTH + "List": SAFE,
    _HEALTH + "Watch": SAFE,
}


def safe_to_repeat(method: str, request: Any) -> bool:
    """Whether a call of ``method`` (``/package.Service/Method``) with ``request`` may be
    sent again after a failure that left its outcome unknown."""
    return METHOD_SAFETY.get(method, UNSAFE)(request)
