"""The writeback plane's store ports (issue 14): the organization's writeback settings, and its activities with
their outbox entries (:mod:`salesbridge.domain.writeback`).

An activity and its outbox entry are one row's worth of truth: :meth:`ActivityRepository.add` stores both in the
caller's transaction, so an accepted activity is never without its delivery, and a rolled-back capture leaves
neither. The drainer takes due entries with :meth:`ActivityRepository.claim` (a lease, so two drainers on two
machines never deliver the same entry at once; a drainer killed mid-delivery lets its lease expire and the next
one repeats the delivery, which the CRM-side upsert by :func:`~salesbridge.domain.writeback.crm_activity_id`
makes harmless) and records each outcome with the ``mark_*`` methods.
"""

from __future__ import annotations

import uuid
from collections.abc import Collection, Mapping, Sequence
from datetime import datetime, timedelta
from typing import Protocol

from salesbridge.domain.writeback import (
    Activity,
    ActivityDraft,
    DataItem,
    DeliveryState,
    FailureOutcome,
    Regarding,
    SeatHold,
    StatusCount,
    WritebackSettings,
)


class WritebackSettingsRepository(Protocol):
    """The organization's writeback settings."""

    def get(self) -> WritebackSettings:
        """The settings; the defaults (off, all items) when never set."""
        ...

    def set(self, settings: WritebackSettings, *, actor: str) -> None:
        """Replace the settings (``actor``: who, for the record). Idempotent."""
        ...


class ActivityRepository(Protocol):
    """The organization's activities and their outbox entries."""

    def add(
        self, author_user_id: uuid.UUID, draft: ActivityDraft, *, state: DeliveryState, hold: SeatHold | None
    ) -> tuple[Activity, bool]:
        """Store a captured activity and its outbox entry (``state``, ``hold``) in the current transaction.

        Idempotent by ``(author_user_id, draft.client_id)``: when the author already has an activity with that
        client id, nothing is written and the stored one is returned.

        Returns:
            The stored activity, and True when this call created it.

        Raises:
            ConcurrentWriteError: another transaction stored the same client id meanwhile (run again: the retry
                returns the stored one).
        """
        ...

    def edit(self, activity_id: uuid.UUID, *, subject: str | None, body: str, expected_version: int | None) -> Activity:
        """Change an activity's subject and body and raise its version. A delivered activity goes back to
        ``queued`` (its CRM row is updated by the next drain), and so does a parked one, its attempts reset (the
        edit may be what Dynamics asked for); a waiting or failing one keeps its state.

        Raises:
            RowNotFoundError: no such activity in the organization.
            ActivityChangedError: ``expected_version`` was given and the activity changed since (someone else
                edited).
        """
        ...

    def get(self, activity_id: uuid.UUID) -> Activity:
        """The activity. Raises RowNotFoundError when the organization has none with this id."""
        ...

    def find_by_client_id(self, author_user_id: uuid.UUID, client_id: str) -> Activity | None:
        """The author's activity with this client id, or None."""
        ...

    def search(
        self,
        *,
        person_id: uuid.UUID | None = None,
        company_id: uuid.UUID | None = None,
        author_user_id: uuid.UUID | None = None,
        states: Collection[DeliveryState] = (),
        limit: int = 50,
        offset: int = 0,
    ) -> list[Activity]:
        """Activities matching every given filter, newest ``occurred_at`` first."""
        ...

    def claim(self, *, now: datetime, lease: timedelta, limit: int) -> list[Activity]:
        """Take up to ``limit`` due entries for delivery: ``queued``, or ``failing`` with ``next_attempt_at`` due,
        and not claimed by a live lease; oldest first. Each is leased until ``now + lease``. Commit right after
        claiming so other drainers see the lease."""
        ...

    def mark_delivered(self, delivered: Mapping[uuid.UUID, tuple[int, Regarding]], *, now: datetime) -> None:
        """Record deliveries: activity id → (the version written, the record it regards). Clears the lease, the
        attempts and the error. An activity edited since (its version is higher) goes back to ``queued``."""
        ...

    def mark_failed(
        self, activity_id: uuid.UUID, *, outcome: FailureOutcome, error_code: str, error_message: str
    ) -> None:
        """Record a failed attempt: the state and next attempt of ``outcome`` (from
        :func:`~salesbridge.domain.writeback.after_failure`, given ``attempts + 1``), Dynamics' error; clears the
        lease and counts the attempt."""
        ...

    def mark_waiting(self, activity_id: uuid.UUID, *, state: DeliveryState, hold: SeatHold | None) -> None:
        """Record why an entry cannot be delivered now (``waiting_for_match``, ``waiting_for_seat`` with its hold,
        ``not_written_back``); clears the lease."""
        ...

    def requeue(
        self,
        *,
        states: Collection[DeliveryState],
        since: datetime | None = None,
        activity_ids: Sequence[uuid.UUID] = (),
        items: Collection[DataItem] = (),
        error_code: str | None = None,
    ) -> int:
        """Put entries in ``states`` back to ``queued`` (attempts reset, due now): a retry by hand (``parked``,
        ``failing``), a backfill (``not_written_back``, with ``since`` bounding ``occurred_at``), or a change the
        waiting entries wait for (a new match, a seat turned on). ``activity_ids`` limits it to those, ``items``
        to those data items (empty: every one), ``error_code`` to those whose last failure has that code. Returns
        how many."""
        ...

    def failing_with(self, error_code: str, *, due_by: datetime | None = None) -> bool:
        """Whether an entry is ``failing`` with ``error_code`` (and, given ``due_by``, its next attempt is at or
        before it): asked exactly, over every activity of the organization (e.g. whether activities wait for the
        CRM app, :data:`~salesbridge.domain.writeback.CRM_APP_MISSING_CODE`). Reads only."""
        ...

    def most_attempts(self, error_code: str) -> int:
        """The most attempts any entry ``failing`` with ``error_code`` counts; 0 when none fails so."""
        ...

    def failing_items(self, error_code: str) -> frozenset[DataItem]:
        """The data items of the entries ``failing`` with ``error_code`` (e.g. those whose CRM table was gone)."""
        ...

    def reschedule_failing(self, error_code: str, *, next_attempt_at: datetime, attempts: int | None = None) -> int:
        """Move the next attempt of every entry ``failing`` with ``error_code`` to ``next_attempt_at`` (and set
        their attempts to ``attempts`` when given); how many. Their state and error stay."""
        ...

    def any_due(self, *, now: datetime) -> bool:
        """Whether an entry is ``queued`` (perhaps under another drain's live lease) or ``failing`` with its next
        attempt at or before ``now``. Reads only; exact."""
        ...

    def requeue_matched(self) -> int:
        """Put the entries waiting for a match that has come back in the queue (attempts reset, due now): those
        whose person is tied to a contact or lead, whose person's company or whose company is tied to an account
        (as :func:`salesbridge.sync.writeback.drain_organization` regards them). The others stay waiting. Returns
        how many."""
        ...

    def status(self) -> list[StatusCount]:
        """How many activities there are per item, author, state and hold."""
        ...

    def count_in(self, states: Collection[DeliveryState]) -> int:
        """How many activities are in one of ``states`` (read by the state index: the cost follows the activities
        in those states, not all of the organization's). Reads only."""
        ...

    def note_throttled(self, *, until: datetime) -> None:
        """Record that Dynamics throttles the organization's drain until ``until`` (a later note replaces it, an
        earlier one is ignored)."""
        ...

    def throttled_until(self) -> datetime | None:
        """Until when Dynamics last throttled the organization's drain (None: never)."""
        ...
