"""Job state changes as system audit records."""

from __future__ import annotations

from collections.abc import Callable, Sequence

from deepseek_server.audit.actions import JOB_STATE_CHANGE
from deepseek_server.audit.log import AuditLog
from deepseek_server.clock import micros
from deepseek_server.jobs.model import JobEvent, StateReason


def job_state_auditor(log: AuditLog) -> Callable[[Sequence[JobEvent]], None]:
    """A callback for committed job events that records each state change.

    A job's creation is not a change (the RPC that created it is recorded with the job's id);
    every later transition is, with the job's owner as user and ``QUEUED -> RUNNING`` (and the
    reason, when there is one) as detail.
    """

    def record(events: Sequence[JobEvent]) -> None:
        for event in events:
            previous = event.previous_state
            if previous is None or previous is event.job.state:
                continue
            detail = f"{previous.value} -> {event.job.state.value}"
            if event.job.reason is not StateReason.NONE:
                detail += f" ({event.job.reason.value})"
            log.record_system(
                JOB_STATE_CHANGE,
                resource_id=event.job.id,
                user_id=event.job.owner,
                detail=detail,
                time_us=micros(event.time),
            )

    return record
