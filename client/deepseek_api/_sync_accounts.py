"""The quota, usage, cost and audit methods of :class:`DeepSeekClient`."""

from __future__ import annotations

import contextlib
import time
from collections.abc import Generator, Iterable
from datetime import datetime

from deepseek.hpc.v1 import account_pb2, account_pb2_grpc, audit_pb2, audit_pb2_grpc
from deepseek_api import _accounts, _audit, _pages
from deepseek_api._accounts import CostEstimate, Quota, QuotaAlert, Usage
from deepseek_api._audit import AuditChainVerification, AuditRecord
from deepseek_api._client_base import SyncCalls
from deepseek_api._errors import APIException
from deepseek_api._specs import JobSpecLike, job_spec
from deepseek_api._streams import Reconnects


class SyncAccountMethods(SyncCalls):
    """Quotas, usage, cost estimates, quota alerts and the audit log (sync client)."""

    __slots__ = ()

    def get_quota(self, user_id: str | None = None) -> Quota:
        """Your quota limits and current usage (``quota["GPUS"].usage``), or another
        user's with the admin scope.

        Raises:
            PermissionDenied: another user's quota without the admin scope.
            NotFound: no such user.
        """
        request = account_pb2.GetQuotaRequest(user_id=user_id or "")
        return Quota.from_proto(self._unary(self._account_service().GetQuota, request).quota)

    def get_usage(
        self,
        start: datetime | None = None,
        end: datetime | None = None,
        *,
        user_id: str | None = None,
    ) -> Usage:
        """Usage and cost over a window: one line per job that ended in it, and the total.

        Args:
            start: Window start, inclusive (timezone-aware); default: the start of the
                current month (UTC).
            end: Window end, exclusive; default: now.
            user_id: Another user's usage (admin scope); default: yours.

        Raises:
            ValueError: a naive datetime (at once).
            InvalidArgument: ``start`` after ``end``.
            PermissionDenied: another user's usage without the admin scope.
        """
        request: account_pb2.GetUsageRequest | None = _accounts.usage_request(
            user_id, start, end, page_size=1000
        )
        pages = []
        while request is not None:
            response = self._unary(self._account_service().GetUsage, request)
            pages.append(response)
            request = _pages.next_page(request, response)
        return _accounts.usage_of(pages)

    def estimate_job_cost(self, spec: JobSpecLike) -> CostEstimate:
        """The most a job with this spec can cost (resources x timeout x price) and
        whether it fits your remaining monthly budget. Creates nothing.

        Raises:
            ValueError: ``spec`` does not have the shape of a job spec.
            InvalidArgument: the server refuses the spec, as ``create_job`` would.
        """
        request = account_pb2.EstimateJobCostRequest(spec=job_spec(spec))
        return CostEstimate.from_proto(
            self._unary(self._account_service().EstimateJobCost, request)
        )

    def watch_quota_alerts(
        self, kinds: Iterable[str] | None = None, *, user_id: str | None = None
    ) -> Generator[QuotaAlert]:
        """Follow quota alerts: first one ``snapshot`` alert per kind whose usage stands
        at or above a threshold, then one alert each time usage crosses a threshold
        (by default 80 and 100 percent of the limit), until you stop iterating.

        If the server restarts, the SDK reconnects (the new snapshot restates the
        standing); after 5 failed reconnects in a row ``Unavailable`` is raised.

        Args:
            kinds: Only these kinds (``"GPUS"``, ``"MONTHLY_BUDGET"``, ...); default all.
            user_id: Another user's quota (admin scope); default: yours.

        Raises:
            ValueError: an unknown kind (at once).
            PermissionDenied: another user's quota without the admin scope.
        """
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
    ) -> Generator[AuditRecord]:
        """Audit records in sequence order, matching every filter given; pages are
        fetched as the iteration reaches them. Needs the audit:read scope (other users'
        records: admin).

        Args:
            user_id: Only this user's records.
            action: Only this action, e.g. ``"job.create"``.
            resource_id: Only records about this resource (a job id, a dataset name).
            status_code: Only calls that ended with this ``google.rpc.Code`` (0 = OK).
            start: Only records at or after this (timezone-aware) time.
            end: Only records strictly before this time.
            page_size: Records fetched per call (at most 1,000).

        Raises:
            ValueError: a naive datetime (at once).
            PermissionDenied: without the audit:read scope, or another user's records
                without admin.
        """
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
    ) -> Generator[AuditRecord]:
        """Follow the audit log: the stored records after ``after_sequence``, then new
        ones as they are appended, matching every filter given, until you stop iterating.

        If the server restarts, the SDK reconnects after the last record received, so
        none is lost or repeated; after 5 failed reconnects in a row ``Unavailable`` is
        raised.

        Args:
            after_sequence: Replay stored records after this sequence (0: the whole log
                you may see); None for only records appended from now on.
            user_id, action, resource_id, status_code: As for :meth:`list_audit_records`.

        Raises:
            OutOfRange: ``after_sequence`` is beyond the end of the log.
            PermissionDenied: as for :meth:`list_audit_records`.
        """
        request = _audit.watch_records_request(
            after_sequence,
            user_id=user_id,
            action=action,
            resource_id=resource_id,
            status_code=status_code,
        )
        return self._audit_watch(request)

    def verify_audit_chain(
        self, start_sequence: int = 0, end_sequence: int = 0
    ) -> AuditChainVerification:
        """Have the server recompute the audit log's hash chain over a range of sequences
        and check its signed checkpoints (admin scope). A broken chain is reported, not
        raised: check ``ok`` (or the result's truth value).

        Args:
            start_sequence: First sequence to check; 0 means 1.
            end_sequence: Last sequence to check; 0 means the end of the log.

        Raises:
            InvalidArgument: ``start_sequence`` after ``end_sequence``.
            OutOfRange: ``end_sequence`` beyond the end of the log.
            PermissionDenied: without the admin scope.
        """
        request = audit_pb2.VerifyAuditChainRequest(
            start_sequence=start_sequence, end_sequence=end_sequence
        )
        # Linear in the range: a long log takes longer than an ordinary call.
        response = self._unary(self._audit_service().VerifyAuditChain, request, timeout=None)
        return AuditChainVerification.from_proto(response)

    def _account_service(self) -> account_pb2_grpc.AccountServiceStub:
        return self._stub(account_pb2_grpc.AccountServiceStub)

    def _audit_service(self) -> audit_pb2_grpc.AuditServiceStub:
        return self._stub(audit_pb2_grpc.AuditServiceStub)

    def _alerts(self, request: account_pb2.WatchQuotaAlertsRequest) -> Generator[QuotaAlert]:
        reconnects = Reconnects()
        while True:
            alerts = self._server_stream(
                self._account_service().WatchQuotaAlerts, request, timeout=None
            )
            try:
                with contextlib.closing(alerts):
                    for response in alerts:
                        reconnects.received()
                        yield QuotaAlert.from_proto(response.alert)
            except APIException as error:
                time.sleep(reconnects.delay_after(error))
            else:
                return

    def _record_pages(
        self, request: audit_pb2.ListAuditRecordsRequest | None
    ) -> Generator[AuditRecord]:
        while request is not None:
            response = self._unary(self._audit_service().ListAuditRecords, request)
            yield from map(AuditRecord.from_proto, response.records)
            request = _pages.next_page(request, response)

    def _audit_watch(self, request: audit_pb2.WatchAuditRecordsRequest) -> Generator[AuditRecord]:
        reconnects = Reconnects()
        while True:
            records = self._server_stream(
                self._audit_service().WatchAuditRecords, request, timeout=None
            )
            try:
                with contextlib.closing(records):
                    for response in records:
                        reconnects.received()
                        request.after_sequence = response.record.sequence
                        yield AuditRecord.from_proto(response.record)
            except APIException as error:
                time.sleep(reconnects.delay_after(error))
            else:
                return
