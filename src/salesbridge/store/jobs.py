"""The job API's store side (:mod:`salesbridge.services.ports.jobs`), one implementation per engine:

- **embedded** (the default, SQLite or PostgreSQL): the import runs (``import_requests``) are the queue the
  embedded runner works through; an import job *is* its import run. It runs imports only.
- **procrastinate** (PostgreSQL): jobs are rows of procrastinate's ``procrastinate_jobs`` (schema: migration
  0009). Deferring calls procrastinate's own SQL function ``procrastinate_defer_jobs_v1`` on the unit of work's
  connection, so the job commits (and its NOTIFY wakes the workers) with the business change, or not at all;
  listing, cancelling and retrying use its tables and functions the same way.

Every job a unit of work defers carries the organization's id in its arguments (``organization_id``); that is how
an organization's jobs are found. An import job that ran a failed import run carries that run's id too
(``run_id``, written by the task: :meth:`ProcrastinateJobQueue.record_import_run`); that is how the job shows the
run's reason.
"""

from __future__ import annotations

import enum
import uuid
from collections.abc import Collection, Mapping, Sequence
from datetime import datetime
from typing import Any

import orjson
from alembic.runtime.environment import NameFilterParentNames, NameFilterType
from sqlalchemy import Row, select, text, update
from sqlalchemy.engine import make_url
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, sessionmaker

from salesbridge.domain.jobs import (
    CANCELLED_IMPORT_ERROR,
    IMPORT_ORGANIZATION,
    TASK_RAISED_ERROR,
    TASK_SPECS,
    Job,
    JobState,
)
from salesbridge.domain.sync_runs import ImportRun
from salesbridge.domain.workspace import ImportState
from salesbridge.errors import ConfigError, UnsupportedJobError
from salesbridge.store.repositories import ImportRequestRepository, _ScopedRepository, import_run_value, newest_first
from salesbridge.store.tables import MIGRATION_ONLY_INDEXES, ImportRequest


class JobEngine(enum.StrEnum):
    """Which engine runs background jobs (``SALESBRIDGE_JOBS``)."""

    EMBEDDED = "embedded"
    PROCRASTINATE = "procrastinate"


def procrastinate_conninfo(database_url: str) -> str:
    """The libpq connection string of the store's PostgreSQL URL (``postgresql+psycopg://…``), for procrastinate's
    connector.

    Raises:
        ConfigError: the store is not on PostgreSQL.
    """
    url = make_url(database_url)
    if url.get_backend_name() != "postgresql":
        raise ConfigError("SALESBRIDGE_JOBS=procrastinate needs the store on PostgreSQL (SALESBRIDGE_DATABASE_URL).")
    return url.set(drivername="postgresql").render_as_string(hide_password=False)


def belongs_to_the_models(name: str | None, type_: NameFilterType, parent_names: NameFilterParentNames) -> bool:
    """Alembic's ``include_name`` filter: procrastinate's tables and their indexes are the job engine's schema
    (migrations 0009, 0012), not the models' (:mod:`salesbridge.store.tables`), so schema comparisons and
    autogenerate leave them out; so are the per-backend expression indexes only migrations create
    (:data:`salesbridge.store.tables.MIGRATION_ONLY_INDEXES`)."""
    if type_ == "index" and name in MIGRATION_ONLY_INDEXES:
        return False
    table = name if type_ == "table" else parent_names.get("table_name")
    return not (table or "").startswith("procrastinate_")


# ------------------------------------------------------------------------------------------------ embedded


def _embedded_state(run: ImportRun) -> JobState:
    if run.state is ImportState.FAILED and run.error == CANCELLED_IMPORT_ERROR:
        return JobState.CANCELLED
    return JobState(run.state.value)


def _embedded_job(run: ImportRun, organization_id: uuid.UUID | None) -> Job:
    state = _embedded_state(run)
    return Job(
        id=str(run.id),
        task=IMPORT_ORGANIZATION,
        organization_id=organization_id,
        state=state,
        attempts=0 if run.started_at is None else 1,
        queued_at=run.requested_at,
        started_at=run.started_at,
        finished_at=run.finished_at,
        reason=run.reason,
        error=run.error,
    )


def _run_states(states: Collection[JobState] | None) -> list[ImportState] | None:
    if states is None:
        return None
    wanted = {ImportState.FAILED if state is JobState.CANCELLED else ImportState(state.value) for state in states}
    return list(wanted)


def _parse_run_id(job_id: str) -> uuid.UUID | None:
    try:
        return uuid.UUID(job_id)
    except ValueError:
        return None


def _embedded_jobs(
    session: Session, organization_id: uuid.UUID | None, states: Collection[JobState] | None, limit: int
) -> list[Job]:
    wanted = limit * 2 if states else limit
    statement = select(ImportRequest).order_by(ImportRequest.requested_at.desc(), ImportRequest.id).limit(wanted)
    run_states = _run_states(states)
    if organization_id is None:
        if run_states is not None:
            statement = statement.where(ImportRequest.state.in_(run_states))
        rows = list(session.scalars(statement))
    else:
        statement = statement.where(ImportRequest.organization_id == organization_id)
        if run_states is None:
            rows = list(session.scalars(statement))
        else:
            # One probe per state of the (organization, state, requested at) index (migration 0043), merged here: an
            # IN over the states made SQLite sort all the organization's runs in them (failed runs are never pruned).
            probes = [
                row for state in run_states for row in session.scalars(statement.where(ImportRequest.state == state))
            ]
            rows = newest_first(probes, lambda row: row.requested_at, lambda row: row.id)[:wanted]
    jobs: list[Job] = []
    # Cancelled and failed share the run's state: filter the few extra in Python.
    for row in rows:
        job = _embedded_job(import_run_value(row), row.organization_id)
        if states is None or job.state in states:
            jobs.append(job)
    return jobs[:limit]


class EmbeddedJobQueue(_ScopedRepository):
    """The organization's jobs for the embedded runner: its import runs."""

    def defer(
        self,
        task: str,
        *,
        args: Mapping[str, Any],
        lock: str | None = None,  # noqa: ARG002 - holds by construction, see below
        queueing_lock: str | None = None,  # noqa: ARG002 - holds by construction, see below
        schedule_at: datetime | None = None,
    ) -> Job | None:
        """The import run queued for the organization (the caller's, or one queued now): the embedded runner claims
        it. Locks hold by construction (one run per organization at a time, one queued).

        Raises:
            UnsupportedJobError: ``task`` is not the import, or ``schedule_at`` is given.
        """
        if task != IMPORT_ORGANIZATION or schedule_at is not None:
            raise UnsupportedJobError(
                f"The embedded runner runs imports now only, not {task!r}"
                f"{' at a set time' if schedule_at else ''}: set SALESBRIDGE_JOBS=procrastinate."
            )
        run = ImportRequestRepository(self._session, self._organization_id, clock=self._clock).enqueue(
            reason=str(args.get("reason") or "deferred")
        )
        return _embedded_job(run, self._organization_id)

    def list(self, *, states: Collection[JobState] | None = None, limit: int = 50) -> list[Job]:
        """The organization's import runs as jobs, newest first."""
        return _embedded_jobs(self._session, self._organization_id, states, limit)

    def get(self, job_id: str) -> Job | None:
        """The organization's import run ``job_id`` as a job, or None."""
        row = self._row(job_id)
        return _embedded_job(import_run_value(row), self._organization_id) if row is not None else None

    def cancel(self, job_id: str) -> bool:
        """End the queued or running run ``job_id``, and no other (:data:`CANCELLED_IMPORT_ERROR`): a running
        import stops at its next page, its lease no longer renewable."""
        run_id = _parse_run_id(job_id)
        if run_id is None:
            return False
        return _cancel_runs(self._session, self._organization_id, self._clock(), ImportRequest.id == run_id) > 0

    def record_import_run(self, job_id: str, run_id: uuid.UUID) -> None:
        """Nothing to record: the job is its run."""

    def retry(self, job_id: str) -> Job | None:
        """Queue an import run again after the failed or cancelled run ``job_id`` (the queued one if any)."""
        row = self._row(job_id)
        if row is None or row.state is not ImportState.FAILED:
            return None
        run = ImportRequestRepository(self._session, self._organization_id, clock=self._clock).enqueue(
            reason=row.reason
        )
        return _embedded_job(run, self._organization_id)

    def _row(self, job_id: str) -> ImportRequest | None:
        run_id = _parse_run_id(job_id)
        if run_id is None:
            return None
        return self._session.scalar(
            select(ImportRequest).where(
                ImportRequest.organization_id == self._organization_id, ImportRequest.id == run_id
            )
        )


def _cancel_runs(session: Session, organization_id: uuid.UUID, now: datetime, which: Any) -> int:
    """End the organization's queued or running import runs matching ``which`` as cancelled; how many."""
    result = session.execute(
        update(ImportRequest)
        .where(
            ImportRequest.organization_id == organization_id,
            ImportRequest.state.in_([ImportState.QUEUED, ImportState.RUNNING]),
            which,
        )
        .values(state=ImportState.FAILED, finished_at=now, lease_expires_at=None, error=CANCELLED_IMPORT_ERROR)
    )
    return int(getattr(result, "rowcount", 0) or 0)


class EmbeddedJobOverview:
    """Every organization's import runs as jobs."""

    def __init__(self, session_factory: sessionmaker[Session]) -> None:
        self._session_factory = session_factory

    def list(
        self,
        *,
        organization_id: uuid.UUID | None = None,
        states: Collection[JobState] | None = None,
        limit: int = 100,
    ) -> list[Job]:
        """Import runs as jobs, newest first."""
        with self._session_factory() as session:
            return _embedded_jobs(session, organization_id, states, limit)

    def find(self, job_id: str) -> Job | None:
        """The import run ``job_id`` as a job, or None."""
        run_id = _parse_run_id(job_id)
        if run_id is None:
            return None
        with self._session_factory() as session:
            row = session.get(ImportRequest, run_id)
            return _embedded_job(import_run_value(row), row.organization_id) if row is not None else None


# ------------------------------------------------------------------------------------------------ procrastinate

_STATES = {
    "todo": JobState.QUEUED,
    "doing": JobState.RUNNING,
    "succeeded": JobState.SUCCEEDED,
    "failed": JobState.FAILED,
    "cancelled": JobState.CANCELLED,
    "aborting": JobState.RUNNING,
    "aborted": JobState.CANCELLED,
}

_SELECT_JOBS = """
SELECT job.id, job.task_name, job.status::text AS status, job.attempts, job.scheduled_at, job.args,
       job.abort_requested,
       (SELECT run.error FROM import_requests run
         WHERE job.task_name = :import_task AND run.state = 'failed'
           AND run.id = CAST(job.args ->> 'run_id' AS uuid)
           AND run.organization_id = CAST(job.args ->> 'organization_id' AS uuid)) AS run_error,
       (SELECT min(event.at) FROM procrastinate_events event
         WHERE event.job_id = job.id AND event.type = 'deferred') AS queued_at,
       (SELECT max(event.at) FROM procrastinate_events event
         WHERE event.job_id = job.id AND event.type = 'started') AS started_at,
       (SELECT max(event.at) FROM procrastinate_events event
         WHERE event.job_id = job.id AND event.type IN ('succeeded', 'failed', 'cancelled', 'aborted')) AS finished_at
  FROM procrastinate_jobs job
 WHERE {conditions}
 ORDER BY job.id DESC
 LIMIT :limit
"""

_DEFER = """
SELECT unnest(procrastinate_defer_jobs_v1(ARRAY[ROW(
    CAST(:queue AS varchar), CAST(:task AS varchar), 0, CAST(:lock AS text), CAST(:queueing_lock AS text),
    CAST(:args AS jsonb), CAST(:scheduled_at AS timestamptz)
)]::procrastinate_job_to_defer_v1[])) AS id
"""


def _procrastinate_statuses(states: Collection[JobState] | None) -> list[str] | None:
    if states is None:
        return None
    return [status for status, state in _STATES.items() if state in states]


def _procrastinate_job(row: Row[Any]) -> Job:
    args: Mapping[str, Any] = row.args or {}
    organization = args.get("organization_id")
    state = _STATES[row.status]
    return Job(
        id=str(row.id),
        task=row.task_name,
        organization_id=uuid.UUID(organization) if organization else None,
        state=state,
        attempts=row.attempts,
        scheduled_at=row.scheduled_at,
        queued_at=row.queued_at,
        started_at=row.started_at,
        finished_at=row.finished_at if not state.active else None,
        reason=args.get("reason"),
        error=(row.run_error or TASK_RAISED_ERROR) if state is JobState.FAILED else None,
        cancel_requested=state is JobState.RUNNING and bool(row.abort_requested),
    )


def _procrastinate_job_id(job_id: str) -> int | None:
    return int(job_id) if job_id.isdecimal() and len(job_id) < 19 else None


def _select_jobs(
    session: Session,
    *,
    organization_id: uuid.UUID | None,
    job_id: int | None = None,
    states: Collection[JobState] | None = None,
    limit: int = 100,
) -> list[Job]:
    # Only the conditions asked for, so that the planner sees the organization's index (migration 0012).
    conditions: list[str] = ["true"]
    parameters: dict[str, Any] = {"limit": limit, "import_task": IMPORT_ORGANIZATION}
    if organization_id is not None:
        conditions.append("job.args ->> 'organization_id' = :organization")
        parameters["organization"] = str(organization_id)
    if job_id is not None:
        conditions.append("job.id = :job_id")
        parameters["job_id"] = job_id
    statuses = _procrastinate_statuses(states)
    if statuses is not None:
        conditions.append("job.status::text = ANY(:statuses)")
        parameters["statuses"] = statuses
    statement = text(_SELECT_JOBS.format(conditions=" AND ".join(conditions)))
    rows: Sequence[Row[Any]] = session.execute(statement, parameters).all()
    return [_procrastinate_job(row) for row in rows]


class ProcrastinateJobQueue(_ScopedRepository):
    """The organization's jobs in procrastinate's tables, changed in the unit of work's transaction."""

    def defer(
        self,
        task: str,
        *,
        args: Mapping[str, Any],
        lock: str | None = None,
        queueing_lock: str | None = None,
        schedule_at: datetime | None = None,
    ) -> Job | None:
        """Insert the job with procrastinate's ``procrastinate_defer_jobs_v1`` (the organization's id added to its
        arguments); None when ``queueing_lock`` already has a job waiting. Inside a savepoint, so that refusal
        leaves the transaction usable.

        Raises:
            UnsupportedJobError: ``task`` names no task (:data:`~salesbridge.domain.jobs.TASK_SPECS`).
        """
        spec = TASK_SPECS.get(task)
        if spec is None:
            raise UnsupportedJobError(f"No task is named {task!r}.")
        arguments = {**args, "organization_id": str(self._organization_id)}
        try:
            with self._session.begin_nested():
                job_id: int = self._session.execute(
                    text(_DEFER),
                    {
                        "queue": spec.queue,
                        "task": task,
                        "lock": lock,
                        "queueing_lock": queueing_lock,
                        "args": orjson.dumps(arguments).decode(),
                        "scheduled_at": schedule_at,
                    },
                ).scalar_one()
        except IntegrityError as exc:
            if queueing_lock is not None and "queueing_lock" in str(exc.orig):
                return None
            raise
        return self.get(str(job_id))

    def list(self, *, states: Collection[JobState] | None = None, limit: int = 50) -> list[Job]:
        """The organization's jobs, newest first."""
        return _select_jobs(self._session, organization_id=self._organization_id, states=states, limit=limit)

    def get(self, job_id: str) -> Job | None:
        """The organization's job ``job_id``, or None."""
        number = _procrastinate_job_id(job_id)
        if number is None:
            return None
        found = _select_jobs(self._session, organization_id=self._organization_id, job_id=number, limit=1)
        return found[0] if found else None

    def cancel(self, job_id: str) -> bool:
        """procrastinate's ``procrastinate_cancel_job_v1`` with abort: a queued job becomes cancelled, a running one
        is marked for abortion (its worker aborts it). A waiting import job ends the organization's queued run, a
        running one its running run (so that it stops at its next page even if the abort comes late), no other.
        False for a job already asked to stop."""
        job = self.get(job_id)
        if job is None or not job.state.active or job.cancel_requested:
            return False
        cancelled = self._session.execute(
            text("SELECT procrastinate_cancel_job_v1(CAST(:id AS bigint), true, false)"), {"id": int(job.id)}
        ).scalar()
        if cancelled is None:
            return False
        if job.task == IMPORT_ORGANIZATION:
            run_state = ImportState.QUEUED if job.state is JobState.QUEUED else ImportState.RUNNING
            _cancel_runs(self._session, self._organization_id, self._clock(), ImportRequest.state == run_state)
        return True

    def record_import_run(self, job_id: str, run_id: uuid.UUID) -> None:
        """The run's id in the job's arguments (``run_id``): the job listing reads the run's reason through it
        (procrastinate passes it back to the task on a retry, which takes it as informational)."""
        number = _procrastinate_job_id(job_id)
        if number is None:
            return
        self._session.execute(
            text(
                "UPDATE procrastinate_jobs SET args = args || jsonb_build_object('run_id', CAST(:run AS text)) "
                "WHERE id = :id AND task_name = :task AND args ->> 'organization_id' = :organization"
            ),
            {"run": str(run_id), "id": number, "task": IMPORT_ORGANIZATION, "organization": str(self._organization_id)},
        )

    def retry(self, job_id: str) -> Job | None:
        """Queue the failed or cancelled job again now (procrastinate's ``procrastinate_retry_job_v2`` for a
        failed one); None when it is neither, or its queueing lock already has a job waiting."""
        job = self.get(job_id)
        if job is None or job.state not in (JobState.FAILED, JobState.CANCELLED):
            return None
        try:
            with self._session.begin_nested():
                self._session.execute(
                    # Without the run it failed with: the next attempt's failure (if any) records its own.
                    text(
                        "UPDATE procrastinate_jobs SET status = 'todo', abort_requested = false, "
                        "scheduled_at = now(), args = args - 'run_id' "
                        "WHERE id = :id AND status IN ('failed', 'cancelled', 'aborted')"
                    ),
                    {"id": int(job.id)},
                )
        except IntegrityError:
            return None
        return self.get(job.id)


class ProcrastinateJobOverview:
    """Every organization's jobs in procrastinate's tables."""

    def __init__(self, session_factory: sessionmaker[Session]) -> None:
        self._session_factory = session_factory

    def list(
        self,
        *,
        organization_id: uuid.UUID | None = None,
        states: Collection[JobState] | None = None,
        limit: int = 100,
    ) -> list[Job]:
        """Jobs, newest first."""
        with self._session_factory() as session:
            return _select_jobs(session, organization_id=organization_id, states=states, limit=limit)

    def find(self, job_id: str) -> Job | None:
        """The job ``job_id``, or None."""
        number = _procrastinate_job_id(job_id)
        if number is None:
            return None
        with self._session_factory() as session:
            found = _select_jobs(session, organization_id=None, job_id=number, limit=1)
        return found[0] if found else None
