"""AccountService over gRPC: quotas, usage, cost estimates and quota alerts."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import grpc.aio

from deepseek.hpc.v1 import account_pb2, account_pb2_grpc, common_pb2
from deepseek_server.accounts.model import Charge, Money, QuotaAlert, QuotaKind
from deepseek_server.accounts.service import Accounts
from deepseek_server.context import caller
from deepseek_server.data.service import DataService
from deepseek_server.errors import FieldViolation, InvalidArgument, PermissionDenied
from deepseek_server.jobs.service import JobService
from deepseek_server.jobs.validation import validate_spec
from deepseek_server.transport._time import datetime_of, timestamp
from deepseek_server.transport.job_messages import gpu_type_to_proto, spec_from_proto

Context = grpc.aio.ServicerContext[Any, Any]
ADMIN_SCOPE = "admin"

_KIND_TO_PROTO = {
    kind: account_pb2.QuotaKind.Value(f"QUOTA_KIND_{kind.value}") for kind in QuotaKind
}
_KIND_FROM_PROTO = {number: kind for kind, number in _KIND_TO_PROTO.items()}


class AccountServicer(account_pb2_grpc.AccountServiceServicer):
    """Quotas, usage and alerts of the caller (of anyone, with the admin scope)."""

    def __init__(self, accounts: Accounts, jobs: JobService, data: DataService) -> None:
        self._accounts = accounts
        self._jobs = jobs
        self._data = data

    async def GetQuota(
        self, request: account_pb2.GetQuotaRequest, context: Context
    ) -> account_pb2.GetQuotaResponse:
        user = _whose(request.user_id)
        return account_pb2.GetQuotaResponse(quota=await self._quota(user))

    async def UpdateQuota(
        self, request: account_pb2.UpdateQuotaRequest, context: Context
    ) -> account_pb2.UpdateQuotaResponse:
        if ADMIN_SCOPE not in caller().scopes:
            raise PermissionDenied("updating quotas needs the admin scope")
        violations = []
        if not request.user_id:
            violations.append(FieldViolation("user_id", "is required"))
        overrides: dict[QuotaKind, int | None] = {}
        for index, item in enumerate(request.overrides):
            kind = _KIND_FROM_PROTO.get(item.kind)
            if kind is None:
                violations.append(
                    FieldViolation(f"overrides[{index}].kind", "must be a quota kind")
                )
            elif kind in overrides:
                violations.append(FieldViolation(f"overrides[{index}].kind", "is named twice"))
            else:
                overrides[kind] = item.limit if item.HasField("limit") else None
        if violations:
            raise InvalidArgument(violations)
        await self._accounts.set_overrides(request.user_id, overrides)
        return account_pb2.UpdateQuotaResponse(quota=await self._quota(request.user_id))

    async def GetUsage(
        self, request: account_pb2.GetUsageRequest, context: Context
    ) -> account_pb2.GetUsageResponse:
        user = _whose(request.user_id)
        page = await self._accounts.usage(
            user,
            datetime_of(request.start_time) if request.HasField("start_time") else None,
            datetime_of(request.end_time) if request.HasField("end_time") else None,
            request.page_size,
            request.page_token,
        )
        return account_pb2.GetUsageResponse(
            lines=[_usage_line(charge) for charge in page.charges],
            total_cost=_amount(page.total),
            next_page_token=page.next_page_token,
            start_time=timestamp(page.start_time),
            end_time=timestamp(page.end_time),
        )

    async def EstimateJobCost(
        self, request: account_pb2.EstimateJobCostRequest, context: Context
    ) -> account_pb2.EstimateJobCostResponse:
        spec, violations = validate_spec(spec_from_proto(request.spec), self._jobs.capabilities)
        if violations:
            raise InvalidArgument(violations)
        currency = self._accounts.prices.currency
        cost = self._accounts.max_cost(spec.resources, spec.timeout_seconds)
        remaining = self._accounts.remaining_budget(caller().user_id)
        response = account_pb2.EstimateJobCostResponse(
            max_cost=common_pb2.Amount(currency_code=currency, minor_units=cost),
            within_budget=remaining is None or cost <= remaining,
        )
        if remaining is not None:
            response.remaining_budget.CopyFrom(
                common_pb2.Amount(currency_code=currency, minor_units=remaining)
            )
        return response

    async def WatchQuotaAlerts(
        self, request: account_pb2.WatchQuotaAlertsRequest, context: Context
    ) -> AsyncIterator[account_pb2.WatchQuotaAlertsResponse]:
        user = _whose(request.user_id)
        kinds = [_KIND_FROM_PROTO[k] for k in request.kinds if k in _KIND_FROM_PROTO]
        async for alert in self._accounts.watch(user, kinds):
            yield account_pb2.WatchQuotaAlertsResponse(alert=_alert(alert))

    async def _quota(self, user: str) -> account_pb2.Quota:
        stored = await self._data.storage_used(user)
        return account_pb2.Quota(
            user_id=user,
            limits=[
                account_pb2.QuotaLimit(
                    kind=_KIND_TO_PROTO[standing.kind],
                    limit=standing.limit,
                    usage=standing.usage,
                    unit=standing.unit,
                    overridden=standing.overridden,
                )
                for standing in self._accounts.standing(user, stored)
            ],
        )


def _whose(user_id: str) -> str:
    """The user a request is about: the caller's own, or another's with the admin scope."""
    me = caller()
    if not user_id or user_id == me.user_id:
        return me.user_id
    if ADMIN_SCOPE not in me.scopes:
        raise PermissionDenied("another user's accounts need the admin scope")
    return user_id


def _usage_line(charge: Charge) -> account_pb2.UsageLine:
    line = account_pb2.UsageLine(
        job_id=charge.job_id,
        job_name=charge.job_name,
        core_seconds=charge.core_seconds,
        memory_gb_seconds=charge.memory_gb_seconds,
        wall_seconds=charge.billed_seconds,
        cost=_amount(charge.cost),
    )
    if charge.gpu_type is not None:
        line.gpu_seconds.add(
            gpu_type=gpu_type_to_proto(charge.gpu_type), seconds=charge.gpu_seconds
        )
    return line


def _alert(alert: QuotaAlert) -> account_pb2.QuotaAlert:
    direction = (
        account_pb2.QUOTA_ALERT_DIRECTION_UP
        if alert.direction.value == "UP"
        else account_pb2.QUOTA_ALERT_DIRECTION_DOWN
    )
    return account_pb2.QuotaAlert(
        kind=_KIND_TO_PROTO[alert.kind],
        threshold_percent=alert.threshold_percent,
        direction=direction,
        usage=alert.usage,
        limit=alert.limit,
        time=timestamp(alert.time),
        snapshot=alert.snapshot,
        user_id=alert.user_id,
    )


def _amount(money: Money) -> common_pb2.Amount:
    return common_pb2.Amount(currency_code=money.currency, minor_units=money.minor_units)
