"""The quota, usage, cost and audit methods of :class:`AsyncDeepSeekClient`."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncGenerator, Iterable
from datetime import datetime

from deepseek.hpc.v1 import account_pb2, account_pb2_grpc, audit_pb2, audit_pb2_grpc
from deepseek_api import _accounts, _audit, _pages
from deepseek_api._accounts import CostEstimate, Quota, QuotaAlert, Usage
from deepseek_api._audit import AuditChainVerification, AuditRecord
from deepseek_api._client_base import AsyncCalls
from deepseek_api._errors import APIException
from deepseek_api._specs import JobSpecLike, job_spec
from deepseek_api._streams import Reconnects


class AsyncAccountMethods(AsyncCalls):
    """Quotas, usage, cost estimates, quota alerts and the audit log (async client)."""

    __slots__ = ()

    async def get_quota(self, user_id: str | None = None) -> Quota:
        """Quota limits and usage. See :meth:`DeepSeekClient.get_quota`."""
        request = account_pb2.GetQuotaRequest(user_id=user_id or "")
        return Quota.from_proto(
            (await self._unary(self._account_service().GetQuota, request)).quota
        )

    async def get_usage(
        self,
        start: datetime | None = None,
        end: datetime | None = None,
        *,
        user_id: str | None = None,
    ) -> Usage:
        """Usage and cost over a window. See :meth:`DeepSeekClient.get_usage`."""
        request: account_pb2.GetUsageRequest | None = _accounts.usage_request(
            user_id, start, end, page_size=1000
        )
        pages = []
        while request is not None:
            response = await self._unary(self._account_service().GetUsage, request)
            pages.append(response)
            request = _pages.next_page(request, response)
        return _accounts.usage_of(pages)

    async def estimate_job_cost(self, spec: JobSpecLike) -> CostEstimate:
        """The most a job can cost. See :meth:`DeepSeekClient.estimate_job_cost`."""
        request = account_pb2.EstimateJobCostRequest(spec=job_spec(spec))
        return CostEstimate.from_proto(
            await self._unary(self._account_service().EstimateJobCost, request)
        )

    def watch_quota_alerts(
        self, kinds: Iterable[str] | None = None, *, user_id: str | None = None
    ) -> AsyncGenerator[QuotaAlert]:
        """Follow quota alerts as an async iterator.
        See :meth:`DeepSeekClient.watch_quota_alerts`."""
        request = account_pb2.WatchQuotaAlertsRequest(
            user_id=user_id or "", kinds=_accounts.kind_numbers(kinds)
        )
        return self._alerts(request)

    def list_audit_records(
        self,
        *,
        user_id: str | None = None,
        action: str | None = None,
        resource_id: str | None = None,
        status_code: int | None = None,
        start: datetime | None = None,
        end: datetime | None = None,
        page_size: int = 100,
    ) -> AsyncGenerator[AuditRecord]:
        """Audit records as an async iterator. See :meth:`DeepSeekClient.list_audit_records`."""
        request = _audit.list_records_request(
            user_id=user_id,
            action=action,
            resource_id=resource_id,
            status_code=status_code,
            start=start,
            end=end,
            page_size=page_size,
        )
        return self._record_pages(request)

    def watch_audit_records(
        self,
        after_sequence: int | None = 0,
        *,
        user_id: str | None = None,
        action: str | None = None,
        resource_id: str | None = None,
        status_code: int | None = None,
    ) -> AsyncGenerator[AuditRecord]:
        """Follow the audit log as an async iterator.
        See :meth:`DeepSeekClient.watch_audit_records`."""
        request = _audit.watch_records_request(
            after_sequence,
            user_id=user_id,
            action=action,
            resource_id=resource_id,
            status_code=status_code,
        )
        return self._audit_watch(request)

    async def verify_audit_chain(
        self, start_sequence: int = 0, end_sequence: int = 0
    ) -> AuditChainVerification:
        """Verify the audit log's hash chain. See :meth:`DeepSeekClient.verify_audit_chain`."""
        request = audit_pb2.VerifyAuditChainRequest(
            start_sequence=start_sequence, end_sequence=end_sequence
        )
        response = await self._unary(self._audit_service().VerifyAuditChain, request, timeout=None)
        return AuditChainVerification.from_proto(response)

    def _account_service(self) -> account_pb2_grpc.AccountServiceAsyncStub:
        return self._stub(account_pb2_grpc.AccountServiceStub)

    def _audit_service(self) -> audit_pb2_grpc.AuditServiceAsyncStub:
        return self._stub(audit_pb2_grpc.AuditServiceStub)

    async def _alerts(
        self, request: account_pb2.WatchQuotaAlertsRequest
    ) -> AsyncGenerator[QuotaAlert]:
        reconnects = Reconnects()
        while True:
            alerts = self._server_stream(
                self._account_service().WatchQuotaAlerts, request, timeout=None
            )
            try:
                async with contextlib.aclosing(alerts):
                    async for response in alerts:
                        reconnects.received()
                        yield QuotaAlert.from_proto(response.alert)
            except APIException as error:
                await asyncio.sleep(reconnects.delay_after(error))
            else:
                return

    async def _record_pages(
        self, request: audit_pb2.ListAuditRecordsRequest | None
    ) -> AsyncGenerator[AuditRecord]:
        while request is not None:
            response = await self._unary(self._audit_service().ListAuditRecords, request)
            for record in response.records:
                yield AuditRecord.from_proto(record)
            request = _pages.next_page(request, response)

    async def _audit_watch(
        self, request: audit_pb2.WatchAuditRecordsRequest
    ) -> AsyncGenerator[AuditRecord]:
        reconnects = Reconnects()
        while True:
            records = self._server_stream(
                self._audit_service().WatchAuditRecords, request, timeout=None
            )
            try:
                async with contextlib.aclosing(records):
                    async for response in records:
                        reconnects.received()
                        request.after_sequence = response.record.sequence
                        yield AuditRecord.from_proto(response.record)
            except APIException as error:
                await asyncio.sleep(reconnects.delay_after(error))
            else:
                return
