"""The writeback outbox's triggers: asking for a drain of the organization's activities, in the transaction of the
change that makes some deliverable, and putting waiting activities back in the queue when what they wait for
changes (a matching run tied their person or company to a CRM record; a seat's CRM sync was turned on, or its holder
matched an enabled CRM user).

The drain itself is :func:`salesbridge.sync.writeback.drain_organization`, run by the
:data:`~salesbridge.domain.jobs.WRITE_BACK_ORGANIZATION` job. With the embedded job engine (which defers imports
only) nothing is deferred: its runner drains every connected organization's due activities each round, so the
queued entries are its queue.
"""

from __future__ import annotations

import contextlib
from collections.abc import Collection
from typing import Final

from salesbridge.domain.jobs import WRITE_BACK_ORGANIZATION, writeback_lock
from salesbridge.domain.writeback import CRM_APP_MISSING_CODE, DataItem, DeliveryState
from salesbridge.errors import UnsupportedJobError
from salesbridge.services.ports import UnitOfWork

LOGGED_REASON: Final = "activity.logged"
"""A drain asked for because an activity was logged."""
EDITED_REASON: Final = "activity.edited"
"""…because a delivered activity was edited (its CRM row is updated)."""
RETRIED_REASON: Final = "writeback.retried"
"""…because an administrator retried failing or parked activities."""
BACKFILL_REASON: Final = "writeback.backfill"
"""…because an administrator asked for earlier activity to be delivered."""
MATCHED_REASON: Final = "writeback.matched"
"""…because a matching run (or a match edited by hand) may have tied activities waiting for a match."""
SEATS_REASON: Final = "writeback.seats"
"""…because a seat's CRM sync or its CRM user changed, which may let waiting activities through."""
APP_INSTALLED_REASON: Final = "writeback.app_installed"
"""…because the CRM app was installed (again): activities waiting for its tables can be delivered."""
SCHEDULED_REASON: Final = "writeback.scheduled"
"""…by the periodic sweep: failing activities whose next attempt came, or queued ones a stopped drainer left."""


def request_drain(uow: UnitOfWork, *, reason: str) -> None:
    """Defer the drain of the unit of work's organization in its transaction (committed with it, or not at all):
    one drain runs at a time per organization and at most one waits, so asking again while one waits queues
    nothing. ``reason``: one of this module's ``*_REASON`` (shown on the jobs page). With the embedded engine,
    nothing to defer (its runner drains every round)."""
    lock = writeback_lock(uow.organization_id)
    with contextlib.suppress(UnsupportedJobError):
        uow.jobs.defer(WRITE_BACK_ORGANIZATION, args={"reason": reason}, lock=lock, queueing_lock=lock)


def requeue_waiting(uow: UnitOfWork, *, states: Collection[DeliveryState], reason: str) -> int:
    """Put the organization's activities waiting in ``states`` (``waiting_for_match``, ``waiting_for_seat``) back
    in the queue and ask for a drain, in the unit of work's transaction; how many. The drain decides again: an
    activity whose wait is not over goes back to waiting, with its reason."""
    requeued = uow.activities.requeue(states=states)
    if requeued:
        request_drain(uow, reason=reason)
    return requeued


def requeue_after_matching(uow: UnitOfWork) -> int:
    """Put the activities waiting for a CRM match that now have one (their person, their person's company or their
    company tied: :meth:`~salesbridge.services.ports.ActivityRepository.requeue_matched`) back in the queue and ask
    for a drain, in the unit of work's transaction (after a matching run, a match edited by hand or a review pair
    accepted); how many. The others stay waiting: a run that ties one person no longer makes the drain decide again
    every activity on people the CRM lacks (20,000 of them cost a drain about 7 s on SQLite and 15 s on PostgreSQL
    after every run). Asking which ones are tied, rather than which ties the run made, also puts back an activity a
    concurrent drain set waiting just as the run tied it."""
    requeued = uow.activities.requeue_matched()
    if requeued:
        request_drain(uow, reason=MATCHED_REASON)
    return requeued


def requeue_after_seat_change(uow: UnitOfWork) -> int:
    """:func:`requeue_waiting` for the activities waiting for their author's seat (after CRM sync was turned on for
    a seat or all seats, a seat taken, or seats matched to CRM users again)."""
    return requeue_waiting(uow, states=(DeliveryState.WAITING_FOR_SEAT,), reason=SEATS_REASON)


def requeue_after_app_install(uow: UnitOfWork, *, recreated: Collection[DataItem] = ()) -> int:
    """Once the CRM app is installed again, in the unit of work's transaction: put the activities waiting for its
    tables (failing with :data:`~salesbridge.domain.writeback.CRM_APP_MISSING_CODE`: they were removed from
    Dynamics) back in the queue, and the delivered ones of the ``recreated`` data items (their tables were created
    anew: their rows went with the removed ones, and are written again by upsert, with the same ids, so never
    twice); ask for a drain; how many. Attempts are reset: the removal was not the activities'."""
    requeued = uow.activities.requeue(states=(DeliveryState.FAILING,), error_code=CRM_APP_MISSING_CODE)
    if recreated:
        requeued += uow.activities.requeue(states=(DeliveryState.DELIVERED,), items=recreated)
    if requeued:
        request_drain(uow, reason=APP_INSTALLED_REASON)
    return requeued


def requeue_after_app_found(uow: UnitOfWork) -> int:
    """The CRM app found whole by a check (the alerts'), not installed through salesbridge: reinstalled in Dynamics
    itself. :func:`requeue_after_app_install`, the data items of the activities waiting for its tables counting as
    recreated (a table they found gone and that is back was created anew: its rows went with the removed one); 0
    when none waits. The drain's own check of the app does the same (:mod:`salesbridge.sync.writeback`)."""
    gone = uow.activities.failing_items(CRM_APP_MISSING_CODE)
    if not gone:
        return 0
    return requeue_after_app_install(uow, recreated=gone)
