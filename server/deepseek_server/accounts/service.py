"""Quotas enforced exactly, holds, charges and quota alerts for every user.

The gateway is the only writer of its jobs, so the usage of every user (active jobs, nodes,
GPUs, the month's spending and holds) is kept in memory, rebuilt from the database at start.
A check and its reservation happen with no ``await`` in between, so concurrent submissions can
never overshoot a quota: 200 submissions against a limit of 50 accept exactly 50.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import json
import logging
from collections.abc import AsyncIterator, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime

from deepseek_server.accounts.model import (
    UNLIMITED,
    Charge,
    Direction,
    Money,
    Prices,
    QuotaAlert,
    QuotaKind,
    QuotaStanding,
    UsagePage,
)
from deepseek_server.clock import from_micros, micros
from deepseek_server.errors import (
    FieldViolation,
    InvalidArgument,
    QuotaViolation,
    ResourceExhausted,
)
from deepseek_server.executors.base import GpuType, Resources
from deepseek_server.periodic import Periodic
from deepseek_server.storage import Store, Transaction

_log = logging.getLogger(__name__)

_UNITS = {
    QuotaKind.CONCURRENT_JOBS: "jobs",
    QuotaKind.NODES: "nodes",
    QuotaKind.GPUS: "gpus",
    QuotaKind.STORAGE_BYTES: "bytes",
}
OVERRIDES_POLL_SECONDS = 1.0
DEFAULT_PAGE_SIZE = 100
MAX_PAGE_SIZE = 1000


@dataclass
class _Usage:
    jobs: int = 0
    nodes: int = 0
    gpus: int = 0
    held: int = 0
    month: str = ""
    spent: int = 0
    reserved: dict[str, tuple[int, int, int, int]] = field(default_factory=dict)
    levels: dict[QuotaKind, int] = field(default_factory=dict)


class Accounts:
    """Per-user quotas, budgets, billing and alerts."""

    def __init__(
        self,
        store: Store,
        defaults: Mapping[QuotaKind, int],
        prices: Prices,
        thresholds: Sequence[int] = (80, 100),
    ) -> None:
        self._store = store
        self._defaults = dict(defaults)
        self._prices = prices
        self._thresholds = sorted(set(thresholds))
        self._overrides: dict[str, dict[QuotaKind, int]] = {}
        self._usage: dict[str, _Usage] = {}
        self._watchers: dict[str, set[asyncio.Queue[QuotaAlert]]] = {}
        self._overrides_version = ""
        # The CLI writes overrides to the database; a version counter tells when to reread.
        self._poller = Periodic("quota overrides", OVERRIDES_POLL_SECONDS, self.reload_overrides)

    @property
    def prices(self) -> Prices:
        """The price table."""
        return self._prices

    async def start(self, active: Iterable[tuple[str, str, Resources, int]]) -> None:
        """Load overrides and this month's spending; re-reserve the active jobs.

        ``active`` holds (job id, owner, resources, timeout seconds) of every QUEUED or RUNNING
        job: their quota use and holds were taken before the restart.
        """
        await self.reload_overrides()
        month_start = _month_start(datetime.now(UTC))
        rows = await self._store.fetch_all(
            "SELECT owner, SUM(amount) AS spent FROM job_charges "
            "WHERE end_time >= :since GROUP BY owner",
            {"since": micros(month_start)},
        )
        month = _month_key(month_start)
        for row in rows:
            usage = self._usage_of(row["owner"])
            usage.month, usage.spent = month, int(row["spent"])
        for job_id, owner, resources, timeout in active:
            self._take(owner, job_id, resources, timeout)
        self._poller.start()

    async def close(self) -> None:
        """Stop watching for overrides an administrator sets from the command line."""
        await self._poller.stop()

    async def reload_overrides(self) -> None:
        """Read the overrides again if an administrator changed them (from the CLI)."""
        row = await self._store.fetch_one(
            "SELECT value FROM gateway_meta WHERE key = 'quota_overrides_version'"
        )
        version = row["value"] if row else ""
        if version == self._overrides_version and self._overrides_version:
            return
        rows = await self._store.fetch_all("SELECT user_id, kind, quota FROM quota_overrides")
        overrides: dict[str, dict[QuotaKind, int]] = {}
        for item in rows:
            overrides.setdefault(item["user_id"], {})[QuotaKind(item["kind"])] = int(item["quota"])
        self._overrides, self._overrides_version = overrides, version
        for user in list(self._usage):
            self._check_levels(user)

    def overrides_of(self, user: str) -> Mapping[QuotaKind, int]:
        """The limits an administrator set for ``user``."""
        return dict(self._overrides.get(user, {}))

    def limit(self, user: str, kind: QuotaKind) -> int:
        """The user's limit of ``kind``: their override, else the default (-1: unlimited)."""
        return self._overrides.get(user, {}).get(kind, self._defaults.get(kind, UNLIMITED))

    def max_cost(self, resources: Resources, timeout_seconds: int) -> int:
        """The most a job can cost: its allocation for its whole timeout."""
        return self._prices.per_second(resources) * timeout_seconds

    def reserve(self, job_id: str, owner: str, resources: Resources, timeout_seconds: int) -> None:
        """Count a submitted job against its owner's quotas and hold its maximum cost.

        Raises ResourceExhausted naming every quota it would exceed; reserves nothing then.
        """
        usage = self._usage_of(owner)
        self._roll_month(usage)
        hold = self.max_cost(resources, timeout_seconds)
        wanted = {
            QuotaKind.CONCURRENT_JOBS: (usage.jobs, 1),
            QuotaKind.NODES: (usage.nodes, resources.nodes),
            QuotaKind.GPUS: (usage.gpus, resources.nodes * resources.gpus_per_node),
            QuotaKind.MONTHLY_BUDGET: (usage.spent + usage.held, hold),
        }
        violations = []
        for kind, (used, need) in wanted.items():
            limit = self.limit(owner, kind)
            if limit != UNLIMITED and used + need > limit:
                violations.append(
                    QuotaViolation(
                        f"user:{owner}/{kind.subject}",
                        f"limit {limit}, in use {used}, this job needs {need}",
                    )
                )
        if violations:
            names = ", ".join(v.subject.rsplit("/", 1)[1] for v in violations)
            raise ResourceExhausted(
                f"quota exceeded: {names}",
                reason="QUOTA_EXCEEDED",
                violations=violations,
            )
        self._take(owner, job_id, resources, timeout_seconds)

    def release(self, job_id: str, owner: str, charged: int) -> None:
        """A reserved job ended: free its quota use and hold, and book what it was charged."""
        usage = self._usage_of(owner)
        taken = usage.reserved.pop(job_id, None)
        if taken is None:
            return
        nodes, gpus, hold, _ = taken
        usage.jobs -= 1
        usage.nodes -= nodes
        usage.gpus -= gpus
        usage.held -= hold
        self._roll_month(usage)
        usage.spent += charged
        self._check_levels(owner)

    def charge(
        self,
        job_id: str,
        owner: str,
        job_name: str,
        resources: Resources,
        start: datetime | None,
        end: datetime,
        wall_seconds: float,
    ) -> Charge | None:
        """What a job that ended is billed; None for one that never started."""
        if start is None:
            return None
        seconds = int(wall_seconds + 0.5)  # to the second, halves up
        gpus = resources.nodes * resources.gpus_per_node
        return Charge(
            job_id=job_id,
            owner=owner,
            job_name=job_name,
            start_time=start,
            end_time=end,
            billed_seconds=seconds,
            core_seconds=resources.nodes * resources.cpus_per_node * seconds,
            gpu_type=resources.gpu_type if gpus else None,
            gpu_seconds=gpus * seconds,
            memory_gb_seconds=resources.nodes * resources.memory_gb * seconds,
            cost=Money(self._prices.currency, self._prices.per_second(resources) * seconds),
        )

    async def record_charges(self, tx: Transaction, charges: Sequence[Charge]) -> None:
        """Write charges inside the transaction that ends their jobs."""
        if not charges:
            return
        await tx.execute_many(
            "INSERT INTO job_charges (job_id, owner, job_name, start_time, end_time, "
            "billed_seconds, core_seconds, gpu_type, gpu_seconds, memory_gb_seconds, currency, "
            "amount) VALUES (:job_id, :owner, :job_name, :start_time, :end_time, :billed_seconds, "
            ":core_seconds, :gpu_type, :gpu_seconds, :memory_gb_seconds, :currency, :amount) "
            "ON CONFLICT (job_id) DO NOTHING",
            [
                {
                    "job_id": c.job_id,
                    "owner": c.owner,
                    "job_name": c.job_name,
                    "start_time": micros(c.start_time),
                    "end_time": micros(c.end_time),
                    "billed_seconds": c.billed_seconds,
                    "core_seconds": c.core_seconds,
                    "gpu_type": c.gpu_type.value if c.gpu_type else None,
                    "gpu_seconds": c.gpu_seconds,
                    "memory_gb_seconds": c.memory_gb_seconds,
                    "currency": c.cost.currency,
                    "amount": c.cost.minor_units,
                }
                for c in charges
            ],
        )

    def standing(self, user: str, storage_bytes: int = 0) -> list[QuotaStanding]:
        """Every quota of ``user``: limit, usage, and whether an administrator overrode it."""
        usage = self._usage_of(user)
        self._roll_month(usage)
        overridden = self._overrides.get(user, {})
        return [
            QuotaStanding(
                kind,
                self.limit(user, kind),
                self._used(usage, kind, storage_bytes),
                kind in overridden,
                _UNITS.get(kind, self._prices.currency),
            )
            for kind in QuotaKind
        ]

    def remaining_budget(self, user: str) -> int | None:
        """What the user may still commit this month (None: no budget)."""
        limit = self.limit(user, QuotaKind.MONTHLY_BUDGET)
        if limit == UNLIMITED:
            return None
        usage = self._usage_of(user)
        self._roll_month(usage)
        return max(0, limit - usage.spent - usage.held)

    async def set_overrides(self, user: str, overrides: Mapping[QuotaKind, int | None]) -> None:
        """Set (an int, -1 unlimited) or reset (None) the user's limits; durable first."""
        violations = [
            FieldViolation(f"overrides[{kind.subject}].limit", "must be -1 (unlimited) or more")
            for kind, value in overrides.items()
            if value is not None and value < UNLIMITED
        ]
        if violations:
            raise InvalidArgument(violations)
        async with self._store.transaction() as tx:
            for kind, value in overrides.items():
                if value is None:
                    await tx.execute(
                        "DELETE FROM quota_overrides WHERE user_id = :user AND kind = :kind",
                        {"user": user, "kind": kind.value},
                    )
                else:
                    await tx.execute(
                        "INSERT INTO quota_overrides (user_id, kind, quota) VALUES "
                        "(:user, :kind, :quota) ON CONFLICT (user_id, kind) "
                        "DO UPDATE SET quota = :quota",
                        {"user": user, "kind": kind.value, "quota": value},
                    )
            await tx.execute(
                "UPDATE gateway_meta SET value = CAST(CAST(value AS INTEGER) + 1 AS TEXT) "
                "WHERE key = 'quota_overrides_version'"
            )
        self._overrides_version = ""
        await self.reload_overrides()

    async def usage(
        self, user: str, start: datetime | None, end: datetime | None, page_size: int, token: str
    ) -> UsagePage:
        """Charges of ``user``'s jobs that ended in [start, end), a page at a time."""
        now = datetime.now(UTC)
        start = start or _month_start(now)
        end = end or now
        if start > end:
            raise InvalidArgument([FieldViolation("start_time", "must not be after end_time")])
        if page_size < 0:
            raise InvalidArgument([FieldViolation("page_size", "must not be negative")])
        size = min(page_size or DEFAULT_PAGE_SIZE, MAX_PAGE_SIZE)
        window = {"owner": user, "start": micros(start), "end": micros(end)}
        after = _decode_token(token) if token else (-1, "")
        rows = await self._store.fetch_all(
            "SELECT * FROM job_charges WHERE owner = :owner AND end_time >= :start "
            "AND end_time < :end AND (end_time > :after_time OR "
            "(end_time = :after_time AND job_id > :after_id)) "
            "ORDER BY end_time, job_id LIMIT :limit",
            {**window, "after_time": after[0], "after_id": after[1], "limit": size + 1},
        )
        total_row = await self._store.fetch_one(
            "SELECT COALESCE(SUM(amount), 0) AS total FROM job_charges WHERE owner = :owner "
            "AND end_time >= :start AND end_time < :end",
            window,
        )
        charges = [_charge(row) for row in rows[:size]]
        next_token = ""
        if len(rows) > size:
            last = rows[size - 1]
            next_token = _encode_token(int(last["end_time"]), str(last["job_id"]))
        total = Money(self._prices.currency, int(total_row["total"]) if total_row else 0)
        return UsagePage(charges, total, next_token, start, end)

    async def watch(self, user: str, kinds: Iterable[QuotaKind] = ()) -> AsyncIterator[QuotaAlert]:
        """The user's standing (snapshot alerts), then every threshold crossing."""
        wanted = set(kinds) or set(QuotaKind)
        queue: asyncio.Queue[QuotaAlert] = asyncio.Queue()
        self._watchers.setdefault(user, set()).add(queue)
        try:
            usage = self._usage_of(user)
            now = datetime.now(UTC)
            for kind in QuotaKind:
                level = usage.levels.get(kind, 0)
                if kind in wanted and level:
                    yield QuotaAlert(
                        user,
                        kind,
                        self._thresholds[level - 1],
                        Direction.UP,
                        self._used(usage, kind, 0),
                        self.limit(user, kind),
                        now,
                        snapshot=True,
                    )
            while True:
                alert = await queue.get()
                if alert.kind in wanted:
                    yield alert
        finally:
            watchers = self._watchers.get(user, set())
            watchers.discard(queue)
            if not watchers:
                self._watchers.pop(user, None)

    def _take(self, owner: str, job_id: str, resources: Resources, timeout: int) -> None:
        usage = self._usage_of(owner)
        gpus = resources.nodes * resources.gpus_per_node
        hold = self.max_cost(resources, timeout)
        usage.reserved[job_id] = (resources.nodes, gpus, hold, 1)
        usage.jobs += 1
        usage.nodes += resources.nodes
        usage.gpus += gpus
        usage.held += hold
        self._check_levels(owner)

    def _usage_of(self, user: str) -> _Usage:
        usage = self._usage.get(user)
        if usage is None:
            usage = self._usage[user] = _Usage(month=_month_key(datetime.now(UTC)))
        return usage

    def _roll_month(self, usage: _Usage) -> None:
        month = _month_key(datetime.now(UTC))
        if usage.month != month:
            usage.month, usage.spent = month, 0

    def _used(self, usage: _Usage, kind: QuotaKind, storage_bytes: int) -> int:
        return {
            QuotaKind.CONCURRENT_JOBS: usage.jobs,
            QuotaKind.NODES: usage.nodes,
            QuotaKind.GPUS: usage.gpus,
            QuotaKind.STORAGE_BYTES: storage_bytes,
            QuotaKind.MONTHLY_BUDGET: usage.spent + usage.held,
        }[kind]

    def _check_levels(self, user: str) -> None:
        """Emit an alert for every threshold the user's usage crossed since the last check."""
        usage = self._usage_of(user)
        now = datetime.now(UTC)
        for kind in (k for k in QuotaKind if k is not QuotaKind.STORAGE_BYTES):
            limit = self.limit(user, kind)
            used = self._used(usage, kind, 0)
            level = (
                0
                if limit in (UNLIMITED, 0)
                else sum(1 for t in self._thresholds if used * 100 >= t * limit)
            )
            before = usage.levels.get(kind, 0)
            if level == before:
                continue
            usage.levels[kind] = level
            if level > before:
                crossed = [(t, Direction.UP) for t in self._thresholds[before:level]]
            else:
                crossed = [(t, Direction.DOWN) for t in reversed(self._thresholds[level:before])]
            for threshold, direction in crossed:
                alert = QuotaAlert(user, kind, threshold, direction, used, limit, now)
                for queue in self._watchers.get(user, ()):
                    queue.put_nowait(alert)


def _month_start(moment: datetime) -> datetime:
    return moment.replace(day=1, hour=0, minute=0, second=0, microsecond=0)


def _month_key(moment: datetime) -> str:
    return f"{moment.year:04d}-{moment.month:02d}"


def _charge(row: Mapping[str, object]) -> Charge:
    gpu_type = row["gpu_type"]
    return Charge(
        job_id=str(row["job_id"]),
        owner=str(row["owner"]),
        job_name=str(row["job_name"]),
        start_time=from_micros(int(str(row["start_time"]))),
        end_time=from_micros(int(str(row["end_time"]))),
        billed_seconds=int(str(row["billed_seconds"])),
        core_seconds=int(str(row["core_seconds"])),
        gpu_type=GpuType(gpu_type) if gpu_type else None,
        gpu_seconds=int(str(row["gpu_seconds"])),
        memory_gb_seconds=int(str(row["memory_gb_seconds"])),
        cost=Money(str(row["currency"]), int(str(row["amount"]))),
    )


def _encode_token(end_time: int, job_id: str) -> str:
    raw = json.dumps([end_time, job_id], separators=(",", ":")).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def _decode_token(token: str) -> tuple[int, str]:
    try:
        end_time, job_id = json.loads(base64.urlsafe_b64decode(token + "=" * (-len(token) % 4)))
        return int(end_time), str(job_id)
    except (binascii.Error, ValueError, TypeError):
        raise InvalidArgument(
            [FieldViolation("page_token", "is not a page token this API returned")]
        ) from None
