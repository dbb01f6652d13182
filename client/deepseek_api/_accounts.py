"""Quotas, usage, cost estimates and quota alerts as the SDK shows them."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime

from deepseek.hpc.v1 import account_pb2, common_pb2
from deepseek_api import _protos
from deepseek_api._job import Amount


def _kind_name(kind: int) -> str:
    return _protos.enum_name(account_pb2.QuotaKind.DESCRIPTOR, kind, "QUOTA_KIND_")


def kind_numbers(kinds: Iterable[str] | None) -> list[account_pb2.QuotaKind.ValueType]:
    """Quota kinds named as :attr:`QuotaLimit.kind` (``"GPUS"``, ...) as proto enums.

    Raises:
        ValueError: for an unknown kind.
    """
    if isinstance(kinds, str):
        kinds = [kinds]
    return [
        account_pb2.QuotaKind.ValueType(
            _protos.enum_number(account_pb2.QuotaKind.DESCRIPTOR, kind, "QUOTA_KIND_", "kinds")
        )
        for kind in kinds or ()
    ]


def _amount_or_none(message: account_pb2.EstimateJobCostResponse) -> Amount | None:
    if not message.HasField("remaining_budget"):
        return None
    return Amount.from_proto(message.remaining_budget)


@dataclass(frozen=True, slots=True)
class QuotaLimit:
    """One limit of a user's quota and the usage counted against it.

    Attributes:
        kind: ``"CONCURRENT_JOBS"``, ``"NODES"``, ``"GPUS"``, ``"STORAGE_BYTES"`` or
            ``"MONTHLY_BUDGET"``.
        limit: The limit in ``unit``; None when unlimited.
        usage: Current usage in ``unit``.
        unit: ``"jobs"``, ``"nodes"``, ``"gpus"``, ``"bytes"``, or for the monthly budget
            the currency's ISO 4217 code (amounts in its minor units).
        overridden: True when an administrator set this limit for the user.
    """

    kind: str
    limit: int | None
    usage: int
    unit: str
    overridden: bool

    @classmethod
    def from_proto(cls, limit: account_pb2.QuotaLimit) -> QuotaLimit:
        """Read a ``deepseek.hpc.v1.QuotaLimit``."""
        return cls(
            kind=_kind_name(limit.kind),
            limit=None if limit.limit < 0 else limit.limit,
            usage=limit.usage,
            unit=limit.unit,
            overridden=limit.overridden,
        )


@dataclass(frozen=True, slots=True)
class Quota:
    """A user's quota: every limit that applies to them.

    Attributes:
        user_id: The user.
        limits: One entry per kind of limit.
    """

    user_id: str
    limits: tuple[QuotaLimit, ...]

    def __getitem__(self, kind: str) -> QuotaLimit:
        """The limit of a kind: ``quota["GPUS"]``.

        Raises:
            KeyError: if the quota has no limit of this kind.
        """
        wanted = kind.upper().removeprefix("QUOTA_KIND_")
        for limit in self.limits:
            if limit.kind == wanted:
                return limit
        raise KeyError(kind)

    @classmethod
    def from_proto(cls, quota: account_pb2.Quota) -> Quota:
        """Read a ``deepseek.hpc.v1.Quota``."""
        return cls(quota.user_id, tuple(QuotaLimit.from_proto(limit) for limit in quota.limits))


@dataclass(frozen=True, slots=True)
class UsageLine:
    """Usage and cost of one job (billed when it ended).

    Attributes:
        job_id: The job.
        job_name: Its ``job_name``.
        core_seconds: Cores allocated x billed seconds.
        gpu_seconds: GPUs allocated x billed seconds, by GPU type (``"A100"``, ...).
        memory_gb_seconds: GiB of memory allocated x billed seconds.
        wall_seconds: Billed wall-clock seconds.
        cost: What the job cost.
    """

    job_id: str
    job_name: str
    core_seconds: int
    gpu_seconds: dict[str, int] = field(hash=False)
    memory_gb_seconds: int
    wall_seconds: int
    cost: Amount

    @classmethod
    def from_proto(cls, line: account_pb2.UsageLine) -> UsageLine:
        """Read a ``deepseek.hpc.v1.UsageLine``."""
        return cls(
            job_id=line.job_id,
            job_name=line.job_name,
            core_seconds=line.core_seconds,
            gpu_seconds={
                _protos.enum_name(common_pb2.GpuType.DESCRIPTOR, gpu.gpu_type, "GPU_TYPE_"): (
                    gpu.seconds
                )
                for gpu in line.gpu_seconds
            },
            memory_gb_seconds=line.memory_gb_seconds,
            wall_seconds=line.wall_seconds,
            cost=Amount.from_proto(line.cost),
        )


@dataclass(frozen=True, slots=True)
class Usage:
    """Usage and cost over a time window (see :meth:`DeepSeekClient.get_usage`).

    Attributes:
        lines: One line per job that ended inside the window, by end time.
        total_cost: The cost of all lines.
        start: The window's start (inclusive, UTC).
        end: The window's end (exclusive, UTC).
    """

    lines: tuple[UsageLine, ...]
    total_cost: Amount
    start: datetime | None
    end: datetime | None


def usage_request(
    user_id: str | None, start: datetime | None, end: datetime | None, page_size: int
) -> account_pb2.GetUsageRequest:
    """The first page's ``GetUsageRequest``.

    Raises:
        ValueError: for a naive datetime.
    """
    request = account_pb2.GetUsageRequest(user_id=user_id or "", page_size=page_size)
    if start is not None:
        request.start_time.CopyFrom(_protos.timestamp_of(start, "start"))
    if end is not None:
        request.end_time.CopyFrom(_protos.timestamp_of(end, "end"))
    return request


def usage_of(pages: list[account_pb2.GetUsageResponse]) -> Usage:
    """The :class:`Usage` of every page of a GetUsage answer."""
    last = pages[-1]
    return Usage(
        lines=tuple(UsageLine.from_proto(line) for page in pages for line in page.lines),
        total_cost=Amount.from_proto(last.total_cost),
        start=_protos.datetime_field(last, "start_time"),
        end=_protos.datetime_field(last, "end_time"),
    )


@dataclass(frozen=True, slots=True)
class CostEstimate:
    """The most a job can cost, and whether it fits the budget.

    Attributes:
        max_cost: Allocated resources x timeout x price.
        remaining_budget: Budget left this month; None when the budget is unlimited.
        within_budget: Whether submitting the job would not be refused for budget.
    """

    max_cost: Amount
    remaining_budget: Amount | None
    within_budget: bool

    @classmethod
    def from_proto(cls, response: account_pb2.EstimateJobCostResponse) -> CostEstimate:
        """Read an ``EstimateJobCostResponse``."""
        return cls(
            Amount.from_proto(response.max_cost),
            _amount_or_none(response),
            response.within_budget,
        )


@dataclass(frozen=True, slots=True)
class QuotaAlert:
    """A quota threshold crossed, or (``snapshot``) where usage stood when watching began.

    Attributes:
        kind: Which limit, as in :attr:`QuotaLimit.kind`.
        threshold_percent: The threshold, in percent of the limit.
        direction: ``"UP"`` (usage rose to or above it) or ``"DOWN"`` (fell below).
        usage: Usage at the time, in the kind's unit.
        limit: The limit at the time.
        time: When it happened (UTC).
        snapshot: True for the alerts that open a watch, stating the standing.
        user_id: Whose quota.
    """

    kind: str
    threshold_percent: int
    direction: str
    usage: int
    limit: int
    time: datetime | None
    snapshot: bool
    user_id: str

    @classmethod
    def from_proto(cls, alert: account_pb2.QuotaAlert) -> QuotaAlert:
        """Read a ``deepseek.hpc.v1.QuotaAlert``."""
        return cls(
            kind=_kind_name(alert.kind),
            threshold_percent=alert.threshold_percent,
            direction=_protos.enum_name(
                account_pb2.QuotaAlertDirection.DESCRIPTOR,
                alert.direction,
                "QUOTA_ALERT_DIRECTION_",
            ),
            usage=alert.usage,
            limit=alert.limit,
            time=_protos.datetime_field(alert, "time"),
            snapshot=alert.snapshot,
            user_id=alert.user_id,
        )
