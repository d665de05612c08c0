"""The procrastinate engine (``SALESBRIDGE_JOBS=procrastinate``): an App whose tasks are the task functions of
:mod:`salesbridge.jobs.tasks`, and the worker that runs them.

- Every task of :data:`~salesbridge.jobs.tasks.TASKS` is registered under its name, on its queue, with its retry
  strategy (:data:`~salesbridge.domain.jobs.TASK_SPECS`). Jobs are deferred by the use cases through the store, in
  their own transactions (:mod:`salesbridge.store.jobs`), not through this App.
- :data:`~salesbridge.domain.jobs.SCHEDULE_DUE_IMPORTS` and :data:`~salesbridge.domain.jobs.SCHEDULE_DUE_WRITEBACK`
  are periodic: procrastinate's periodic deferrer runs in every worker, and the database
  (``procrastinate_periodic_defers``) lets one defer per period through, however many workers run.
- Stalled jobs: a worker sends a heartbeat every ``heartbeat_s``; the periodic ``retry_stalled_jobs`` task puts the
  jobs of workers silent for ``stalled_after_s`` (killed, or their machine gone) back in the queue. A retried import
  waits (:class:`~salesbridge.errors.ImportBusyError`, retried with backoff) until the dead worker's lease expires,
  then resumes its run from the last committed page.

Tasks run on the worker's event loop: async tasks as they are (they keep blocking store work off the loop), plain
functions on a worker thread.

This module imports procrastinate, which speaks to PostgreSQL through psycopg: import-linter allows exactly this
module that import (``pyproject.toml``); it reaches neither the store nor SQLAlchemy.
"""

from __future__ import annotations

import asyncio
import inspect
import logging
import threading
from collections.abc import Callable, Iterable
from datetime import UTC, datetime
from typing import Any

import procrastinate
from procrastinate import JobContext, RetryDecision
from procrastinate.app import WorkerOptions
from procrastinate.jobs import Job as ProcrastinateJob
from procrastinate.jobs import Status
from procrastinate.retry import BaseRetryStrategy

from salesbridge.domain.jobs import (
    EVALUATE_ALERTS,
    SCHEDULE_DUE_IMPORTS,
    SCHEDULE_DUE_WRITEBACK,
    TASK_SPECS,
    RetryStrategy,
)
from salesbridge.jobs.tasks import TASKS, Task, TaskContext

logger = logging.getLogger(__name__)

RETRY_STALLED_JOBS = "retry_stalled_jobs"
"""The periodic task putting stalled workers' jobs back in the queue."""


class _Retry(BaseRetryStrategy):
    """A task's :class:`~salesbridge.domain.jobs.RetryStrategy` in procrastinate's terms."""

    def __init__(self, strategy: RetryStrategy) -> None:
        self._strategy = strategy

    def get_retry_decision(self, *, exception: BaseException, job: ProcrastinateJob) -> RetryDecision | None:
        wait = self._strategy.wait_before(job.attempts + 1, exception)
        if wait is None:
            return None
        logger.info("job %s (%s) raised %r; retried in %s", job.id, job.task_name, exception, wait)
        return RetryDecision(retry_at=datetime.now(UTC) + wait)


def _job_function(task: Task, context: Callable[[], TaskContext]) -> Callable[..., Any]:
    """The procrastinate job function of ``task``: called with the job's context, it calls the task with this
    process's :class:`TaskContext`, the job's id (``job_id``) and the job's arguments."""
    if inspect.iscoroutinefunction(task):

        async def run_async(job_context: JobContext, **args: Any) -> None:
            await task(context(), job_id=_job_id(job_context), **args)

        return run_async

    async def run_in_thread(job_context: JobContext, **args: Any) -> None:
        await asyncio.to_thread(task, context(), job_id=_job_id(job_context), **args)

    return run_in_thread


def _job_id(job_context: JobContext) -> str | None:
    return str(job_context.job.id) if job_context.job.id is not None else None


def build_app(
    conninfo: str,
    context: Callable[[], TaskContext],
    *,
    schedule_cron: str = "* * * * *",
    stalled_after_s: float = 30.0,
) -> procrastinate.App:
    """The procrastinate App on the PostgreSQL at ``conninfo`` (libpq), its tasks calling the task functions with
    ``context()`` (built lazily, once per process, by the caller).

    Args:
        schedule_cron: When the periodic tasks (schedule the due imports, retry stalled jobs) fire: cron, with an
            optional sixth column for seconds.
        stalled_after_s: A worker silent (no heartbeat) this long is taken to be dead; its jobs are retried.
    """
    app = procrastinate.App(connector=procrastinate.PsycopgConnector(conninfo=conninfo))
    for name, task in TASKS.items():
        spec = TASK_SPECS[name]
        registered = app.task(
            name=name,
            queue=spec.queue,
            retry=_Retry(spec.retry),
            lock=spec.lock,
            queueing_lock=spec.queueing_lock,
            pass_context=True,
        )(_job_function(task, context))
        if name in (SCHEDULE_DUE_IMPORTS, SCHEDULE_DUE_WRITEBACK, EVALUATE_ALERTS):
            app.periodic(cron=schedule_cron, periodic_id=name)(registered)

    @app.periodic(cron=schedule_cron, periodic_id=RETRY_STALLED_JOBS)
    @app.task(
        name=RETRY_STALLED_JOBS,
        queue="schedule",
        lock=RETRY_STALLED_JOBS,
        queueing_lock=RETRY_STALLED_JOBS,
        pass_context=True,
    )
    async def retry_stalled_jobs(job_context: JobContext, timestamp: int) -> None:  # noqa: ARG001 - periodic
        manager = job_context.app.job_manager
        for job in await manager.get_stalled_jobs(seconds_since_heartbeat=stalled_after_s):
            assert job.id is not None
            try:
                await manager.retry_job(job)
            except procrastinate.exceptions.UniqueViolation:
                # A twin waits already (same queueing lock: the scheduler re-queued the dead worker's import): this
                # one is redundant. Ending it releases its lock, which would otherwise block the twin for ever.
                await manager.finish_job_by_id_async(job.id, status=Status.FAILED, delete_job=False)
                logger.warning("job %s (%s) stalled; a twin is queued, so it was failed", job.id, job.task_name)
            else:
                logger.warning(
                    "job %s (%s) stalled (its worker stopped sending heartbeats): retried", job.id, job.task_name
                )

    return app


async def run_worker(
    app: procrastinate.App,
    *,
    concurrency: int = 1,
    queues: Iterable[str] | None = None,
    name: str | None = None,
    heartbeat_s: float = 10.0,
    stalled_after_s: float = 30.0,
) -> None:
    """Run a worker of ``app`` until SIGINT or SIGTERM: ``concurrency`` jobs at once, from ``queues`` (all when
    None), a heartbeat every ``heartbeat_s``. Raises what opening the database connection raises."""
    options: WorkerOptions = {
        "concurrency": concurrency,
        "name": name or "salesbridge-worker",
        "update_heartbeat_interval": heartbeat_s,
        "stalled_worker_timeout": stalled_after_s,
        "install_signal_handlers": True,
    }
    if queues:
        options["queues"] = list(queues)
    async with app.open_async():
        await app.run_worker_async(**options)


class ProcrastinateWorkerThread:
    """A procrastinate worker on a daemon thread with its own event loop: the console's own worker (``salesbridge
    serve`` with ``SALESBRIDGE_JOBS=procrastinate``, unless ``--no-worker``). Signals stay the server's."""

    def __init__(self, app: procrastinate.App, *, heartbeat_s: float = 10.0, stalled_after_s: float = 30.0) -> None:
        self._app = app
        self._heartbeat_s = heartbeat_s
        self._stalled_after_s = stalled_after_s
        self._thread: threading.Thread | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._task: asyncio.Task[None] | None = None
        self._ready = threading.Event()

    def start(self) -> None:
        """Start the worker. Idempotent."""
        if self._thread is not None:
            return
        self._ready.clear()
        self._thread = threading.Thread(target=self._run, name="salesbridge-procrastinate-worker", daemon=True)
        self._thread.start()
        self._ready.wait(10.0)

    def stop(self, timeout_s: float = 30.0) -> None:
        """Stop the worker (the running jobs are cancelled: an import resumes from its last page) and wait.
        Idempotent."""
        if self._thread is None:
            return
        if self._loop is not None and self._task is not None:
            self._loop.call_soon_threadsafe(self._task.cancel)
        self._thread.join(timeout_s)
        self._thread = None

    def _run(self) -> None:
        async def main() -> None:
            self._loop = asyncio.get_running_loop()
            self._task = asyncio.current_task()
            self._ready.set()
            async with self._app.open_async():
                await self._app.run_worker_async(
                    name="salesbridge-console-worker",
                    update_heartbeat_interval=self._heartbeat_s,
                    stalled_worker_timeout=self._stalled_after_s,
                    install_signal_handlers=False,
                )

        try:
            asyncio.run(main())
        except asyncio.CancelledError:
            pass
        except Exception:  # the console keeps serving; its jobs wait for another worker
            logger.exception("the console's procrastinate worker stopped")
        finally:
            self._ready.set()
