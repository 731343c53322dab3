"""Running one execution inside a worker (DESIGN §9).

`execute()` is what the `executions.run_execution` task calls. It claims the row
(Pending -> Running), loads the workflow's module (fresh if its file changed), runs the
function with the runtime, log capture and locals capture active, and finishes the row through
the conditional transitions in `executions.transitions`. Everything stored or broadcast is
masked with the execution's SecretMasker first.
"""

from __future__ import annotations

import asyncio
import inspect
import json
import logging
import time
import traceback
import uuid
from dataclasses import dataclass
from typing import Any

from celery.exceptions import SoftTimeLimitExceeded
from django.db import close_old_connections, connection

from bifrost.errors import UserError
from bifrost.masking import SecretMasker
from bifrost.results import capture_locals, classify_result
from bifrost.runtime import activate
from executions import transitions
from executions.engine.capture import LocalsCapture
from executions.engine.dbretry import retry_db
from executions.engine.logs import LogCollector, log_line
from executions.engine.runtime import DjangoRuntime, build_context
from executions.models import Execution, ExecutionStatus, LogLevel
from workflows.versions import version_subquery

S = ExecutionStatus
logger = logging.getLogger(__name__)

GENERIC_ERROR = "An error occurred during execution"
HARD_LIMIT_GRACE_SECONDS = 15


def time_limits(timeout_seconds: int) -> tuple[int, int]:
    """(soft, hard) Celery time limits for a workflow timeout."""
    return timeout_seconds, timeout_seconds + HARD_LIMIT_GRACE_SECONDS


class WorkflowUnavailable(Exception):
    pass


@dataclass(frozen=True)
class WorkflowRow:
    """The registry row of the workflow being run, as read by the claim (transitions.WORKFLOW_FIELDS)."""

    id: Any
    name: str
    source_path: str
    is_available: bool
    import_error: str
    retry_policy: dict | None
    timeout_seconds: int


def load_spec(workflow_name: str, row: dict | None):
    """(WorkflowRow, spec, source hash) for the claimed execution's workflow, loading its module fresh if the
    file changed. The source the spec came from is stored as a WorkflowVersion (DESIGN §20)."""
    from workflows.services.discovery import error_summary, load_specs_and_source
    from workflows.versions import workflow_version_ensure

    if row is None:
        raise WorkflowUnavailable(f"Workflow '{workflow_name}' is not registered.")
    workflow = WorkflowRow(**row)
    if not workflow.is_available:
        raise WorkflowUnavailable(f"Workflow '{workflow_name}' is unavailable: {workflow.import_error}")
    try:
        (found, _), source_hash, source = load_specs_and_source(workflow.source_path)
    except BaseException as exc:
        if isinstance(exc, (KeyboardInterrupt, SoftTimeLimitExceeded)):
            raise
        raise WorkflowUnavailable(f"{workflow.source_path} failed to import:\n{error_summary(exc)}") from None
    spec = found.get(workflow_name)
    if spec is None:
        raise WorkflowUnavailable(f"Workflow '{workflow_name}' is no longer defined in {workflow.source_path}.")
    retry_db(
        lambda: workflow_version_ensure(
            workflow_id=workflow.id, source_hash=source_hash, source=source, source_path=workflow.source_path
        ),
        what="recording the workflow version",
    )
    return workflow, spec, source_hash


ENGINE_FILES = frozenset({__file__, asyncio.runners.__file__, asyncio.base_events.__file__})


def workflow_frames(tb):
    """The traceback from the first frame that is not the engine's own (this module, asyncio's runner for an
    `async def` workflow): admins read where their code failed, not how Bifrost called it."""
    while tb is not None and tb.tb_next is not None and tb.tb_frame.f_code.co_filename in ENGINE_FILES:
        tb = tb.tb_next
    return tb


def call_function(spec, context, parameters: dict) -> Any:
    args = (context,) if spec.takes_context else ()
    if spec.is_async or inspect.iscoroutinefunction(spec.func):
        return asyncio.run(spec.func(*args, **parameters))
    value = spec.func(*args, **parameters)
    if inspect.isawaitable(value):
        return asyncio.run(_await(value))
    return value


async def _await(awaitable):
    return await awaitable


@dataclass
class Outcome:
    status: str
    result: Any = None
    result_type: str = "none"
    error_type: str = ""
    error_message: str = ""
    variables: dict | None = None
    retryable: bool = False
    cpu_ms: int | None = None  # CPU time of the workflow function (DESIGN §20 usage)
    version: tuple | None = None  # (workflow id, source hash) of the code that ran


def _fail_unstarted(execution_id, status: str, error_type: str, message: str, from_statuses) -> Execution | None:
    execution = retry_db(
        lambda: transitions.transition(
            execution_id, from_statuses=from_statuses, to=status, error_type=error_type, error_message=message
        ),
        what=f"ending execution {execution_id}",
    )
    if execution is not None:
        retry_db(lambda: log_line(execution_id, LogLevel.ERROR, message), what="storing a log line")
    return execution


def execute(execution_id, *, task_id: str = "", publish_retry=None, answer: bool = True) -> dict:
    """Run execution `execution_id` once. `publish_retry(execution, countdown)` re-queues a retry.

    Returns `{"status": ...}`; with `answer`, a finished run's fields too (task_answer), for a sync caller.
    """
    close_old_connections()
    # Claim first (Pending -> Running), reading the organization, user and workflow with it.
    # At most once: whatever is not Pending is never run (again) here.
    attempts = 0

    def claim_once():
        nonlocal attempts
        attempts += 1
        return transitions.claim_pending(execution_id, task_id=task_id)

    claim = retry_db(claim_once, what=f"claiming {execution_id}")
    if claim is None and attempts > 1 and task_id:
        # The connection died after our claim committed and the retry then lost the race to itself.
        current = retry_db(lambda: transitions.read_claim(execution_id), what=f"loading {execution_id}")
        if current and current.execution.status == S.RUNNING and current.execution.celery_task_id == task_id:
            claim = current
    if claim is None:
        return _not_claimed(execution_id)
    claimed = claim.execution
    try:
        return _execute_claimed(claim, publish_retry, answer)
    except SoftTimeLimitExceeded:
        # The cancel signal (or the soft time limit) landed outside the workflow function: while
        # loading, logging or finishing. The row must still end, or it would wait for the cleanup.
        outcome = _interrupted(execution_id, claimed.attempt, None)
        finished = _finish(execution_id, outcome)
        if finished is not None:
            log_line(execution_id, LogLevel.WARNING, outcome.error_message)
        return {"status": finished.status if finished else None}
    except Exception as exc:
        # The row is ours and Running: never leave it so for the cleanup (timeout + 5 minutes) to find.
        # A no-op when it already reached a final status before the failure.
        logger.exception("the engine failed on execution %s", execution_id)
        _fail_unstarted(execution_id, S.FAILED, type(exc).__name__, f"The engine failed: {exc}", {S.RUNNING})
        raise


def _not_claimed(execution_id) -> dict:
    execution = retry_db(lambda: Execution.objects.filter(id=execution_id).first(), what=f"loading {execution_id}")
    if execution is None:
        return {"status": "missing"}
    if execution.status == S.RUNNING:
        # Delivered again while Running: the worker that ran it was lost. Do not re-run.
        _fail_unstarted(
            execution_id,
            S.FAILED,
            "WorkerLost",
            "The worker running this execution was lost; the workflow was not run again.",
            {S.RUNNING},
        )
        return {"status": S.FAILED, "error_type": "WorkerLost"}
    if execution.status == S.CANCELLING:
        # Delivered again while Cancelling: the worker was lost during the cancel; nothing will confirm it.
        finished = transitions.transition(
            execution_id,
            from_statuses={S.CANCELLING},
            to=S.CANCELLED,
            error_type="Cancelled",
            error_message="The execution was cancelled (its worker was lost while stopping it).",
        )
        return {"status": finished.status if finished else execution.status}
    return {"status": execution.status, "skipped": True}


def reset_db_connection() -> None:
    """Drop this thread's database connection after an interruption.

    SIGUSR1/SoftTimeLimitExceeded can land while psycopg is in the middle of a query; that
    connection then refuses every further command ("another command is already in progress").
    """
    if not connection.in_atomic_block:
        connection.close()


def _execute_claimed(claim: transitions.Claim, publish_retry, answer: bool = True) -> dict:
    execution = claim.execution
    execution_id = execution.id
    masker = SecretMasker()
    collector = retry_db(lambda: LogCollector(execution_id, masker=masker), what="starting the log collector")
    collector.start()
    context = build_context(execution, organization=claim.organization, user=claim.user)
    runtime = DjangoRuntime(context, masker=masker)
    workflow = None
    started = time.monotonic()
    try:
        with collector.capturing():
            try:
                workflow, spec, source_hash = load_spec(execution.workflow_name, claim.workflow)
            except WorkflowUnavailable as exc:
                outcome = Outcome(S.FAILED, error_type="WorkflowUnavailable", error_message=str(exc))
                collector.add(LogLevel.ERROR, str(exc))
            except SoftTimeLimitExceeded:
                outcome = _interrupted(execution_id, execution.attempt, None)
            else:
                outcome = _run(spec, workflow, execution, context, runtime, collector, masker)
                outcome.version = (workflow.id, source_hash)
    finally:
        try:
            runtime.close()
        except Exception:
            logger.exception("could not close the runtime of %s", execution_id)
        collector.close()

    if outcome.retryable and workflow is not None and workflow.retry_policy and publish_retry is not None:
        policy = workflow.retry_policy
        if execution.attempt < int(policy.get("max_attempts", 1)):
            countdown = float(policy.get("backoff_seconds", 0)) * float(policy.get("backoff_factor", 1)) ** (
                execution.attempt - 1
            )
            new_task_id = str(uuid.uuid4())
            retry_db(
                lambda: log_line(
                    execution_id,
                    LogLevel.WARNING,
                    f"Attempt {execution.attempt} of {policy['max_attempts']} ended {outcome.status} "
                    f"({outcome.error_type}); retrying in {countdown:g}s.",
                    masker=masker,
                ),
                what="storing a log line",
            )
            requeued = retry_db(
                lambda: transitions.requeue_for_retry(
                    execution_id,
                    task_id=new_task_id,
                    error_type=outcome.error_type,
                    error_message=outcome.error_message,
                ),
                what=f"re-queueing execution {execution_id}",
            )
            if requeued is not None:
                try:
                    publish_retry(requeued, countdown, new_task_id, workflow.timeout_seconds)
                    return {"status": S.PENDING, "attempt": requeued.attempt}
                except Exception as exc:
                    _fail_unstarted(
                        execution_id,
                        S.FAILED,
                        "BrokerUnavailable",
                        f"The retry could not be queued: {exc}",
                        {S.PENDING},
                    )
                    return {"status": S.FAILED}
    # the database may have restarted while the workflow ran: the final status must still land
    finished = retry_db(lambda: _finish(execution_id, outcome, execution), what=f"finishing execution {execution_id}")
    logger.info(
        "execution %s (%s) %s in %.0f ms",
        execution_id,
        execution.workflow_name,
        finished.status if finished else "?",
        (time.monotonic() - started) * 1000,
    )
    return task_answer(finished) if answer else {"status": finished.status if finished else None}


# A sync caller answers from the run's answer (executions.answers) without reading the row again,
# when the finished row's fields fit in a small message.
ANSWER_MAX_RESULT_CHARS = 64 * 1024
ANSWER_FIELDS = ("status", "result", "result_type", "duration_ms", "error_type", "error_message")


def task_answer(finished: Execution | None) -> dict:
    if finished is None:
        return {"status": None}
    answer = {"status": finished.status}
    if finished.result is None or len(json.dumps(finished.result)) <= ANSWER_MAX_RESULT_CHARS:
        answer["execution"] = {name: getattr(finished, name) for name in ANSWER_FIELDS}
    return answer


def _cancel_requested(execution_id) -> bool:
    return Execution.objects.filter(id=execution_id, status=S.CANCELLING).exists()


def _interrupted(execution_id, attempt: int, timeout_seconds: int | None) -> Outcome:
    """SoftTimeLimitExceeded: either our own cancel (revoke with SIGUSR1) or the time limit."""
    reset_db_connection()
    if _cancel_requested(execution_id):
        return Outcome(S.CANCELLED, error_type="Cancelled", error_message="The execution was cancelled.")
    limit = f" of {timeout_seconds}s" if timeout_seconds else ""
    return Outcome(
        S.TIMEOUT,
        error_type="Timeout",
        error_message=f"The execution exceeded its timeout{limit} and was stopped.",
        retryable=True,
    )


def _run(spec, workflow, execution, context, runtime, collector, masker) -> Outcome:
    capture = LocalsCapture(spec.func.__code__)
    value = None
    cpu_started = time.process_time()  # this worker child's CPU time (DESIGN §20 usage)
    try:
        with activate(runtime), capture:
            value = call_function(spec, context, dict(execution.parameters or {}))
    except SoftTimeLimitExceeded:
        outcome = _interrupted(execution.id, execution.attempt, workflow.timeout_seconds)
        collector.add(LogLevel.WARNING if outcome.status == S.CANCELLED else LogLevel.ERROR, outcome.error_message)
    except UserError as exc:
        outcome = Outcome(S.FAILED, error_type="UserError", error_message=masker.mask(exc.message))
        collector.add(LogLevel.ERROR, exc.message)
    except BaseException as exc:
        if isinstance(exc, KeyboardInterrupt):
            raise
        message = str(exc) or type(exc).__name__
        outcome = Outcome(S.FAILED, error_type=type(exc).__name__, error_message=masker.mask(message), retryable=True)
        # Users see the generic sentence; the exception's type, text and traceback are admin-only (DESIGN §7).
        collector.add(LogLevel.ERROR, GENERIC_ERROR)
        frames = workflow_frames(exc.__traceback__)
        collector.add(LogLevel.TRACEBACK, "".join(traceback.format_exception(type(exc), exc, frames)).rstrip())
    else:
        result, result_type = classify_result(value)
        result = masker.mask_data(result)
        status = S.SUCCESS
        if isinstance(value, dict) and value.get("success") is False:
            status = S.COMPLETED_WITH_ERRORS
        outcome = Outcome(status, result=result, result_type=result_type)
    outcome.cpu_ms = round((time.process_time() - cpu_started) * 1000)
    try:
        outcome.variables = capture_locals(capture.locals or {}, masker=masker)
    except Exception:
        outcome.variables = {}
    return outcome


def _finish(execution_id, outcome: Outcome, row: Execution | None = None) -> Execution | None:
    """The run's final status. `row`: the claimed execution (Running), updated in memory, not read back."""
    fields = {
        "result": outcome.result,
        "result_type": outcome.result_type,
        "error_type": outcome.error_type,
        "error_message": outcome.error_message,
        "variables": outcome.variables,
        "cpu_ms": outcome.cpu_ms,
    }
    finished = None
    if outcome.status != S.CANCELLED:
        if row is not None:
            finished = transitions.finish_running(row, outcome.status, version=outcome.version, **fields)
        else:
            finished = transitions.transition(
                execution_id, from_statuses={S.RUNNING}, to=outcome.status, **fields, **_version_field(outcome)
            )
        if finished is not None:
            return finished
        # A cancel arrived while the workflow was finishing: the worker side ends it Cancelled.
        fields.update(error_type="Cancelled", error_message="The execution was cancelled.")
    return transitions.transition(
        execution_id, from_statuses={S.CANCELLING}, to=S.CANCELLED, **fields, **_version_field(outcome)
    )


def _version_field(outcome: Outcome) -> dict:
    if outcome.version is None:
        return {}
    workflow_id, source_hash = outcome.version
    return {"workflow_version": version_subquery(workflow_id=workflow_id, source_hash=source_hash)}
