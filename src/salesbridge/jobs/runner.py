"""The embedded job runner: one background thread that schedules and runs CRM imports for every connected
organization, delivers their logged activities to the CRM (the writeback drain), and loads the CSV files uploaded
on the console (any organization's), in the process serving the console (``salesbridge serve``, ``make demo``).

Every ``poll_interval`` it queues the imports that are due and runs whatever is queued — "Sync now" included — one
organization after another, with the task functions procrastinate workers run (:mod:`salesbridge.jobs.tasks`):
the engine of ``SALESBRIDGE_JOBS=embedded``, where the import runs are the job queue. Runs are claimed under a
lease in the store, so several processes can share one database without running the same organization twice;
activities are claimed under a lease too, so two processes never write the same batch at once.
"""

from __future__ import annotations

import asyncio
import logging
import threading
import uuid
from collections.abc import Callable
from datetime import datetime, timedelta

from salesbridge.domain.writeback import FIRST_RETRY
from salesbridge.errors import WorkHorseError
from salesbridge.jobs.tasks import (
    TaskContext,
    evaluate_all_alerts,
    import_and_match,
    schedule_organization,
    write_back_organization,
)
from salesbridge.jobs.work_horse import WorkHorse
from salesbridge.services.import_run import import_or_matching_waiting
from salesbridge.services.people_upload import run_queued_uploads
from salesbridge.services.ports import (
    Clock,
    CrmAppSessionFactory,
    CrmSessionFactory,
    Mailer,
    StoreAccess,
    WritebackSessionFactory,
)
from salesbridge.services.sync import LEASE, RunOutcome
from salesbridge.sync.writeback import DEFAULT_LEASE, has_due

logger = logging.getLogger(__name__)

AfterImport = Callable[[uuid.UUID], None]

ALERTS_EVERY = timedelta(minutes=1)
"""How often the embedded runner evaluates the alerts (procrastinate: ``SALESBRIDGE_JOBS_SCHEDULE_CRON``)."""


class EmbeddedRunner:
    """Schedules and runs imports on a daemon thread.

    Args:
        store: The store.
        sessions: Opens CRM sessions.
        organizations: Lists the organizations to look after (the connected ones).
        clock: Timezone-aware UTC now.
        poll_interval_s: Seconds between two looks at the queue.
        after_import: Called with the organization after each successful import (e.g. recompute lists).
        lease: How long a run may go without finishing a page before another worker takes it over (and before the
            console stops showing it as running): pass the configured ``SALESBRIDGE_IMPORT_LEASE_SECONDS``.
        writeback_sessions: Opens CRM sessions able to write activities back; None: this runner delivers none.
        mailer: Sends the alerts' email; None: this runner evaluates no alert.
        console_url: The console's public address, for the links in alert emails.
        app_sessions: Opens CRM sessions that can check the CRM-side app (the ``crm_app_missing`` alert).
        alerts_every: The least time, by ``clock``, between two evaluations of the alerts.
        work_horse: Runs each import, and the matching after it, in a process of its own
            (``SALESBRIDGE_IMPORT_PROCESS=child``); None: on this runner's thread, with ``sessions`` and ``clock``.
    """

    def __init__(
        self,
        store: StoreAccess,
        sessions: CrmSessionFactory,
        organizations: Callable[[], list[uuid.UUID]],
        *,
        clock: Clock,
        poll_interval_s: float = 2.0,
        after_import: AfterImport | None = None,
        lease: timedelta = LEASE,
        writeback_sessions: WritebackSessionFactory | None = None,
        writeback_lease: timedelta = DEFAULT_LEASE,
        writeback_first_retry: timedelta = FIRST_RETRY,
        mailer: Mailer | None = None,
        console_url: str = "http://127.0.0.1:8000",
        app_sessions: CrmAppSessionFactory | None = None,
        alerts_every: timedelta = ALERTS_EVERY,
        work_horse: WorkHorse | None = None,
    ) -> None:
        self._store = store
        self._sessions = sessions
        self._organizations = organizations
        self._clock = clock
        self._poll_interval_s = poll_interval_s
        self._after_import = after_import
        self._lease = lease
        self._writeback_sessions = writeback_sessions
        self._writeback_lease = writeback_lease
        self._writeback_first_retry = writeback_first_retry
        self._mailer = mailer
        self._console_url = console_url
        self._app_sessions = app_sessions
        self._alerts_every = alerts_every
        self._alerts_evaluated_at: datetime | None = None
        self._work_horse = work_horse
        self._stop = threading.Event()
        self._wake = threading.Event()
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        """Start the thread. Idempotent."""
        if self._thread is not None:
            return
        self._stop.clear()
        self._thread = threading.Thread(target=self._loop, name="salesbridge-import-runner", daemon=True)
        self._thread.start()

    def stop(self, timeout_s: float = 30.0) -> None:
        """Ask the thread to stop after the current page of work and wait for it; an import's process is ended (its
        run resumes from its last committed page once its lease expires). Idempotent."""
        self._stop.set()
        self._wake.set()
        if self._work_horse is not None:
            self._work_horse.stop()
        if self._thread is not None:
            self._thread.join(timeout_s)
            self._thread = None

    def wake(self) -> None:
        """Look at the queue now ("Sync now" was pressed)."""
        self._wake.set()

    def run_once(self) -> list[RunOutcome]:
        """Schedule what is due and run everything queued, once, on the calling thread: the imports, then the
        uploaded CSV files of every organization (connected or not: the embedded engine's other jobs), then the
        writeback drain of every connected organization with activities to deliver."""
        outcomes = self._run_imports()
        if not self._stop.is_set():
            run_queued_uploads(self._store)
        self._drain_activities()
        self._evaluate_alerts()
        return outcomes

    def _evaluate_alerts(self) -> None:
        """The embedded engine's periodic alerts job (:func:`~salesbridge.jobs.tasks.evaluate_all_alerts`), at most
        once every ``alerts_every``."""
        if self._mailer is None or self._stop.is_set():
            return
        now = self._clock()
        if self._alerts_evaluated_at is not None and now - self._alerts_evaluated_at < self._alerts_every:
            return
        self._alerts_evaluated_at = now
        context = TaskContext(
            self._store,
            self._sessions,
            self._clock,
            self._lease,
            mailer=self._mailer,
            console_url=self._console_url,
            app_sessions=self._app_sessions,
        )
        try:
            asyncio.run(evaluate_all_alerts(context))
        except Exception:  # the alerts' trouble must not stop imports or delivery
            logger.exception("evaluating the alerts failed")

    def _drain_activities(self) -> None:
        """The embedded engine's writeback job: the queued and failing outbox entries are its queue (this engine
        defers imports only), looked at every round; a drain claims only what is due."""
        if self._writeback_sessions is None:
            return
        context = TaskContext(
            self._store,
            self._sessions,
            self._clock,
            self._lease,
            writeback_sessions=self._writeback_sessions,
            writeback_lease=self._writeback_lease,
            writeback_first_retry=self._writeback_first_retry,
        )
        for organization_id in self._organizations():
            if self._stop.is_set():
                break
            try:
                if has_due(self._store, organization_id, now=self._clock()):
                    asyncio.run(write_back_organization(context, organization_id=str(organization_id)))
            except Exception:  # one organization's store trouble must not stop the others' delivery
                logger.exception("writeback of organization %s failed", organization_id)

    def _run_imports(self) -> list[RunOutcome]:
        outcomes: list[RunOutcome] = []
        context = TaskContext(self._store, self._sessions, self._clock, self._lease)
        for organization_id in self._organizations():
            if self._stop.is_set():
                break
            schedule_organization(context, organization_id)
            if self._work_horse is None:
                outcome = import_and_match(context, organization_id)
            else:
                outcome = self._import_in_work_horse(self._work_horse, organization_id)
            if outcome is None:
                continue
            outcomes.append(outcome)
            if outcome.succeeded and self._after_import is not None:
                self._after_import(organization_id)
        return outcomes

    def _import_in_work_horse(self, work_horse: WorkHorse, organization_id: uuid.UUID) -> RunOutcome | None:
        """:func:`import_and_match` in a process of its own, started only when an import or a matching run waits."""
        if not import_or_matching_waiting(self._store, organization_id):
            return None
        try:
            return work_horse.run(organization_id)
        except WorkHorseError:  # logged; its run resumes once its lease expires, like any dead worker's
            logger.exception("the import process of organization %s failed", organization_id)
            return None

    def _loop(self) -> None:
        while not self._stop.is_set():
            try:
                self.run_once()
            except Exception:  # a bug or a store outage must not kill the runner; it retries next round
                logger.exception("the import runner's round failed")
            self._wake.wait(self._poll_interval_s)
            self._wake.clear()
