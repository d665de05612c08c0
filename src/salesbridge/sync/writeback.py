"""The writeback drainer: delivers an organization's due activities to the CRM, in bulk, exactly once.

A drain loops until nothing is due:

1. **Claim** up to ``batch_size`` due outbox entries under a lease (``queued``, or ``failing`` whose next attempt
   came), and decide in the same transaction what each one needs: writeback off or its data item not chosen →
   ``not_written_back``; its author's seat may not write back → ``waiting_for_seat`` with the reason
   (:func:`~salesbridge.domain.writeback.seat_hold`); its person or company tied to no CRM record →
   ``waiting_for_match`` (unless it was delivered before: then it is written again on the record it was written
   on). The rest become :class:`~salesbridge.crm.ports.ActivityRecord`: regarding the matched
   contact, else lead, else account (a person tied to nothing regards their company's account), owned by the
   seller's CRM user, with each participant's matched contact, else lead, as a further activity party (a
   participant tied to neither is left out: the activity is not held for them). The claim and these decisions
   commit together: other drainers skip the leased entries.
2. **Write** the claimed batch with one :meth:`~salesbridge.crm.ports.ActivityWriter.write_activities` call (the
   writer groups it into bulk and ``$batch`` requests), with no transaction open.
3. **Record** each outcome, in a transaction of the batch's own: written → ``delivered`` (an activity edited
   meanwhile goes back to ``queued``); a failure keeps Dynamics' error code and message and follows
   :func:`~salesbridge.domain.writeback.after_failure`: transient → ``failing`` with a backoff, permanent (or too
   many attempts) → ``parked``. A call that fails as a whole fails each record of the batch with its error. Nothing
   is dropped: a record the writer reported neither written nor failed counts as a transient failure. A refusal
   about the seller rather than the record (their CRM user disabled since the last import of CRM users,
   :data:`SEAT_REFUSALS`) → ``waiting_for_seat`` with that hold, requeued when the CRM users are imported again.
   A record whose table is gone (the CRM app's tables removed) waits for the app
   (:func:`~salesbridge.domain.writeback.after_table_missing`); once its last batch is recorded, a drain that met
   that checks the app, and if it is whole again (reinstalled while the write was in flight) delivers those
   activities at once instead of after the wait.

Before its first claim, a drain checks the CRM app when activities wait for it and the first of them is due
(:func:`take_app_check`): a metadata read of the app's tables, not a write. Back (reinstalled in Dynamics, through
salesbridge or not) → the waiting activities are due now and this drain writes them; still missing, or the CRM
unreachable → they wait :func:`~salesbridge.domain.writeback.app_check_delay` more (30 s, 1, 2, 4, then every 5
minutes), and none is written to the missing tables meanwhile.

The three overlap (a pipeline): while batch N is written, batch N-1's outcomes are recorded and batch N+1 is
claimed; N+1's write starts as soon as both are done, while N's last requests are still in flight (the writer keeps
its cap of requests in flight across the two calls), so that the CRM does not wait for a batch's outcomes to be
recorded nor for a batch's last, partly parallel, requests. At most two batches are being written at once, and
three held. The leases keep the batches apart: a claimed entry not yet recorded is leased, so no claim takes it again.

Exactly once: an activity's CRM row has a fixed id (:func:`~salesbridge.domain.writeback.crm_activity_id`) and is
written by upsert, so a drainer killed between the write and the record (its lease then expires and another drain
writes the batch again) updates the same rows instead of creating twins; the same holds for a drainer that dies
with two batches written and one of them not recorded.

The drainer sees the store through the protocols below (the services' unit of work satisfies them), as the import
engine does (:mod:`salesbridge.sync.ports`).
"""

from __future__ import annotations

import asyncio
import logging
import time
import uuid
from collections.abc import Callable, Collection, Iterable, Mapping, Sequence
from contextlib import suppress
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from typing import Any, Final, Protocol

from salesbridge.crm.ports import (
    ActivityRecord,
    ActivityWriter,
    CrmAppInstaller,
    LookupValue,
    RequestUsage,
    WriteFailure,
    WriteReport,
)
from salesbridge.domain.clock import Clock
from salesbridge.domain.crm_app import CRM_APP, AppState, app_state
from salesbridge.domain.match_links import MatchLink
from salesbridge.domain.people import Person
from salesbridge.domain.workspace import CrmConnection, CrmCredentials, CrmUser, Organization, Seat, SeatState
from salesbridge.domain.writeback import (
    CRM_APP_MISSING_CODE,
    FIRST_RETRY,
    Activity,
    DataItem,
    DeliveryState,
    Direction,
    FailureOutcome,
    Regarding,
    SeatHold,
    WritebackSettings,
    after_failure,
    after_table_missing,
    app_check_delay,
    choose_regarding,
    crm_activity_id,
    seat_hold,
)
from salesbridge.errors import CrmError, CrmTableMissingError, TransientError, UpstreamUnavailableError
from salesbridge.sync.ports import Transaction
from salesbridge.sync.throttle_watch import ThrottleWatch

logger = logging.getLogger(__name__)

DEFAULT_BATCH_SIZE: Final = 10_000
"""Entries written with one ``write_activities`` call. The writer sends one bulk request per table and seller (at
most 1,000 records each), so a batch this large keeps requests full with several sellers writing at once (2,000
left 16 groups of 8 sellers' InMail and messages at ~125 records a request)."""
CLAIM_CHUNK: Final = 2000
"""Entries leased by one claim statement (a batch takes several, in one transaction): the ids of a claim travel as
bound parameters, which databases cap."""
BODY_BUDGET: Final = 20_000_000
"""Characters of text a batch holds at most (bodies are up to 100,000 characters each): a batch stops growing at
this, so a drain's memory stays bounded whatever sellers write (three batches at most: one claimed, two being
written)."""
DEFAULT_LEASE: Final = timedelta(minutes=5)

SEAT_REFUSALS: Final[Mapping[str, SeatHold]] = {"0x80040225": SeatHold.CRM_USER_DISABLED}
"""Dynamics' refusals of a record that are about its seller, not the record (by lowercase error code): "The
specified user(Id = …) is disabled." when the seller's CRM user was disabled after the workspace last imported its
CRM users. Such records wait for the seat with that hold, as if the import had seen it, instead of being parked:
the next import of the CRM users puts them back in the queue with the other seats' waiting activities."""

UNREPORTED_CODE: Final = "unreported"
"""The error code recorded for a record the writer reported neither written nor failed (retried)."""
_UNREPORTED_MESSAGE: Final = "The CRM writer reported no outcome for this record; it is tried again."

APP_TABLES_ONLY: Final = replace(CRM_APP, standard_tables=(), regarded_tables=())
"""What a check of the CRM app reads: the app's own tables, their columns and keys (two metadata reads while they
are missing, six once back), not Dynamics' standard tables, which an app removed does not take with it."""


# ------------------------------------------------------------------------------------------------ the ports


class OutboxEntries(Protocol):
    """The organization's activities and their outbox entries, as the drainer uses them
    (:class:`salesbridge.services.ports.ActivityRepository`)."""

    def claim(self, *, now: datetime, lease: timedelta, limit: int) -> list[Activity]: ...

    def mark_delivered(self, delivered: Mapping[uuid.UUID, tuple[int, Regarding]], *, now: datetime) -> None: ...

    def mark_failed(
        self, activity_id: uuid.UUID, *, outcome: FailureOutcome, error_code: str, error_message: str
    ) -> None: ...

    def mark_waiting(self, activity_id: uuid.UUID, *, state: DeliveryState, hold: SeatHold | None) -> None: ...

    def requeue(
        self,
        *,
        states: Collection[DeliveryState],
        items: Collection[DataItem] = (),
        error_code: str | None = None,
    ) -> int: ...

    def note_throttled(self, *, until: datetime) -> None: ...

    def throttled_until(self) -> datetime | None: ...

    def failing_with(self, error_code: str, *, due_by: datetime | None = None) -> bool: ...

    def most_attempts(self, error_code: str) -> int: ...

    def failing_items(self, error_code: str) -> frozenset[DataItem]: ...

    def reschedule_failing(self, error_code: str, *, next_attempt_at: datetime, attempts: int | None = None) -> int: ...

    def any_due(self, *, now: datetime) -> bool: ...

    def search(
        self,
        *,
        person_id: uuid.UUID | None = None,
        company_id: uuid.UUID | None = None,
        author_user_id: uuid.UUID | None = None,
        states: Collection[DeliveryState] = (),
        limit: int = 50,
        offset: int = 0,
    ) -> list[Activity]: ...


class WritebackSettingsReader(Protocol):
    def get(self) -> WritebackSettings: ...


class MatchLinks(Protocol):
    def links_to(self, target_ids: Iterable[uuid.UUID]) -> list[MatchLink]: ...

    def people_by_ids(self, person_ids: Iterable[uuid.UUID]) -> list[Person]: ...


class SeatReader(Protocol):
    def find_by_user(self, user_id: uuid.UUID) -> Seat | None: ...


class OrganizationReader(Protocol):
    def get(self) -> Organization: ...


class CrmUserReader(Protocol):
    def find(self, crm_user_id: uuid.UUID) -> CrmUser | None: ...


class ConnectionReader(Protocol):
    def find(self) -> CrmConnection | None: ...

    def credentials(self) -> CrmCredentials: ...


class WritebackUnitOfWork(Transaction, Protocol):
    """One transaction of the drain; rolled back unless committed."""

    @property
    def activities(self) -> OutboxEntries: ...

    @property
    def writeback_settings(self) -> WritebackSettingsReader: ...

    @property
    def matches(self) -> MatchLinks: ...

    @property
    def seats(self) -> SeatReader: ...

    @property
    def organization(self) -> OrganizationReader: ...

    @property
    def crm_users(self) -> CrmUserReader: ...

    @property
    def crm_connection(self) -> ConnectionReader: ...


class WritebackStore(Protocol):
    """Opens the drain's units of work (:class:`salesbridge.services.ports.StoreAccess` is one)."""

    def __call__(self, organization_id: uuid.UUID, *, read_only: bool = False) -> WritebackUnitOfWork: ...


class WriterSession(Protocol):
    """An open CRM session able to write activities (:class:`salesbridge.services.ports.WritebackSession`)."""

    @property
    def activities(self) -> ActivityWriter: ...

    @property
    def app(self) -> CrmAppInstaller: ...

    async def close(self) -> None: ...

    def usage(self) -> RequestUsage: ...


WriterSessions = Callable[[CrmCredentials], WriterSession]
"""Opens a writing session for the organization's credentials
(:data:`salesbridge.services.ports.WritebackSessionFactory`)."""


# ------------------------------------------------------------------------------------------------ the summary


@dataclass
class DrainSummary:
    """What a drain did.

    Attributes:
        connected: False when the organization has no connected CRM: nothing was claimed.
        claimed: Outbox entries taken.
        delivered: Written to the CRM.
        failing: Failed transiently; tried again after their backoff.
        parked: Failed permanently or too often; retried only by hand.
        waiting_for_match / waiting_for_seat / not_written_back: Set aside, and why.
        writes: ``write_activities`` calls (one per batch holding something to write).
        app_checks: Checks of the CRM app's tables (metadata reads) made while activities waited for it.
        errors: Dynamics' error codes met, with how many records each.
    """

    connected: bool = True
    claimed: int = 0
    delivered: int = 0
    failing: int = 0
    parked: int = 0
    waiting_for_match: int = 0
    waiting_for_seat: int = 0
    not_written_back: int = 0
    writes: int = 0
    app_checks: int = 0
    errors: dict[str, int] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready."""
        return {
            "connected": self.connected,
            "claimed": self.claimed,
            "delivered": self.delivered,
            "failing": self.failing,
            "parked": self.parked,
            "waiting_for_match": self.waiting_for_match,
            "waiting_for_seat": self.waiting_for_seat,
            "not_written_back": self.not_written_back,
            "writes": self.writes,
            "app_checks": self.app_checks,
            "errors": dict(self.errors),
        }

    def add(self, other: DrainSummary) -> None:
        """Count what ``other`` (a part of the drain) did as well."""
        for name in _COUNTS:
            setattr(self, name, getattr(self, name) + getattr(other, name))
        for code, count in other.errors.items():
            self.errors[code] = self.errors.get(code, 0) + count


_COUNTS: Final = (
    "claimed",
    "delivered",
    "failing",
    "parked",
    "waiting_for_match",
    "waiting_for_seat",
    "not_written_back",
    "writes",
    "app_checks",
)


# ------------------------------------------------------------------------------------------------ the drain


@dataclass(frozen=True)
class Seller:
    """Whether an author may write back now, and as which CRM user (``systemuser_id``, lowercase)."""

    hold: SeatHold | None
    systemuser_id: str | None


def seller_of(uow: WritebackUnitOfWork, author_user_id: uuid.UUID) -> Seller:
    """The author's standing as a writer: the hold of :func:`~salesbridge.domain.writeback.seat_hold` (their seat,
    its CRM sync, the organization's "all seats" switch, the matched CRM user and whether it is enabled) and, when
    none, the CRM user the activity is written as. The one decision of who may write back: capture
    (:func:`salesbridge.services.activities.seat_hold_of`) asks it too. Reads only: the seat, the organization
    and the seat's CRM user (not every CRM user of the organization)."""
    seat = uow.seats.find_by_user(author_user_id)
    if seat is None:
        return Seller(SeatHold.NO_SEAT, None)
    crm_user = uow.crm_users.find(seat.crm_user_id) if seat.crm_user_id is not None else None
    hold = seat_hold(
        has_seat=True,
        seat_active=seat.state is SeatState.ACTIVE,
        crm_sync_on=seat.crm_sync_enabled or uow.organization.get().crm_sync_all_seats,
        crm_user_matched=crm_user is not None,
        crm_user_enabled=crm_user is not None and not crm_user.is_disabled,
    )
    return Seller(hold, crm_user.crm_id.lower() if hold is None and crm_user is not None else None)


@dataclass(frozen=True)
class _Plan:
    """A claimed batch: what to write, and each record's activity (by CRM id)."""

    records: tuple[ActivityRecord, ...]
    activities: Mapping[str, tuple[Activity, Regarding]]


def _ties(links: Iterable[MatchLink]) -> dict[uuid.UUID, list[Regarding]]:
    tied: dict[uuid.UUID, list[Regarding]] = {}
    for link in links:
        if link.is_tie and link.target_id is not None:
            tied.setdefault(link.target_id, []).append(Regarding(link.crm_table, link.crm_id.lower()))
    return tied


def _regarding(uow: WritebackUnitOfWork, activities: Sequence[Activity]) -> dict[uuid.UUID, Regarding]:
    """The record each activity regards, by activity id (absent: no match yet). A person tied to no contact or lead
    regards their company's account when the company is tied to one."""
    targets = {target for a in activities if (target := a.person_id or a.company_id) is not None}
    tied = _ties(uow.matches.links_to(targets)) if targets else {}
    untied_people = {a.person_id for a in activities if a.person_id is not None and a.person_id not in tied}
    companies: dict[uuid.UUID, uuid.UUID] = {}
    if untied_people:
        companies = {
            person.id: person.company_id
            for person in uow.matches.people_by_ids(untied_people)
            if person.id is not None and person.company_id is not None
        }
        missing = set(companies.values()) - set(tied)
        if missing:
            tied.update(_ties(uow.matches.links_to(missing)))
    chosen: dict[uuid.UUID, Regarding] = {}
    for activity in activities:
        if activity.person_id is not None:
            company_id = companies.get(activity.person_id)
            candidates = tied.get(activity.person_id) or (tied.get(company_id, []) if company_id else [])
        else:
            candidates = tied.get(activity.company_id, []) if activity.company_id else []
        regarding = choose_regarding(candidates)
        if regarding is not None:
            chosen[activity.id] = regarding
    return chosen


PARTY_TABLES: Final = frozenset({"contact", "lead"})
"""The tables a participant's party is chosen from."""


def _participant_parties(uow: WritebackUnitOfWork, activities: Sequence[Activity]) -> dict[uuid.UUID, LookupValue]:
    """Each participant's party, by person id: their matched contact, else lead (an account is not a person
    spoken to). A participant tied to neither has none."""
    people = {participant for activity in activities for participant in activity.participants}
    if not people:
        return {}
    tied = _ties(uow.matches.links_to(people))
    parties: dict[uuid.UUID, LookupValue] = {}
    for person_id, candidates in tied.items():
        chosen = choose_regarding(c for c in candidates if c.table in PARTY_TABLES)
        if chosen is not None:
            parties[person_id] = LookupValue(chosen.crm_id, chosen.table)
    return parties


def _record(
    organization_id: uuid.UUID,
    activity: Activity,
    owner_id: str,
    regarding: Regarding,
    parties: Mapping[uuid.UUID, LookupValue],
) -> ActivityRecord:
    return ActivityRecord(
        id=crm_activity_id(organization_id, activity.id),
        table=activity.delivery.crm_table,
        owner_id=owner_id,
        regarding=LookupValue(regarding.crm_id, regarding.table),
        subject=activity.title,
        body=activity.body,
        occurred_at=activity.occurred_at,
        outgoing=activity.direction is Direction.OUTGOING,
        conversation_id=activity.conversation_id,
        external_id=str(activity.id),
        participants=tuple(parties[person_id] for person_id in activity.participants if person_id in parties),
    )


def _claim(
    store: WritebackStore,
    organization_id: uuid.UUID,
    summary: DrainSummary,
    *,
    now: datetime,
    lease: timedelta,
    limit: int,
) -> _Plan | None:
    """Claim a batch (up to ``limit`` entries, :data:`CLAIM_CHUNK` at a time, at most :data:`BODY_BUDGET` characters)
    and set aside what cannot be written now, in one transaction; None when nothing was due."""
    with store(organization_id) as uow:
        claimed: list[Activity] = []
        characters = 0
        while len(claimed) < limit and characters < BODY_BUDGET:
            chunk = uow.activities.claim(now=now, lease=lease, limit=min(CLAIM_CHUNK, limit - len(claimed)))
            claimed.extend(chunk)
            characters += sum(len(activity.body) for activity in chunk)
            if len(chunk) < CLAIM_CHUNK:
                break
        if not claimed:
            return None
        summary.claimed += len(claimed)
        settings = uow.writeback_settings.get()
        sellers: dict[uuid.UUID, Seller] = {}
        writable: list[tuple[Activity, str]] = []
        for activity in claimed:
            if not settings.writes(activity.item):
                uow.activities.mark_waiting(activity.id, state=DeliveryState.NOT_WRITTEN_BACK, hold=None)
                summary.not_written_back += 1
                continue
            seller = sellers.get(activity.author_user_id)
            if seller is None:
                seller = sellers[activity.author_user_id] = seller_of(uow, activity.author_user_id)
            if seller.hold is not None or seller.systemuser_id is None:
                uow.activities.mark_waiting(activity.id, state=DeliveryState.WAITING_FOR_SEAT, hold=seller.hold)
                summary.waiting_for_seat += 1
                continue
            writable.append((activity, seller.systemuser_id))
        regarding = _regarding(uow, [activity for activity, _ in writable])
        parties = _participant_parties(uow, [activity for activity, _ in writable])
        records: list[ActivityRecord] = []
        planned: dict[str, tuple[Activity, Regarding]] = {}
        for activity, owner_id in writable:
            # Written before and tied to nothing now (its person or company deleted or unlinked since): its CRM row
            # is updated where it is, rather than waiting for a match a deleted person can never get.
            target = regarding.get(activity.id) or activity.delivery.regarding
            if target is None:
                uow.activities.mark_waiting(activity.id, state=DeliveryState.WAITING_FOR_MATCH, hold=None)
                summary.waiting_for_match += 1
                continue
            record = _record(organization_id, activity, owner_id, target, parties)
            records.append(record)
            planned[record.id] = (activity, target)
        uow.commit()
    return _Plan(tuple(records), planned)


def _outcomes(
    store: WritebackStore,
    organization_id: uuid.UUID,
    plan: _Plan,
    report: WriteReport,
    summary: DrainSummary,
    *,
    now: datetime,
    first_retry: timedelta,
) -> None:
    """Record what the write did to each record of ``plan``, in one transaction (a transient failure is tried
    again after ``first_retry``, doubling: :func:`~salesbridge.domain.writeback.after_failure`)."""
    failures: dict[str, CrmError] = {}
    for failure in report.failures:
        for record_id in failure.record_ids:
            failures[record_id] = failure.error
    written = set(report.written) - set(failures)
    for record_id in plan.activities.keys() - written - failures.keys():
        failures[record_id] = UpstreamUnavailableError(_UNREPORTED_MESSAGE, code=UNREPORTED_CODE)
    with store(organization_id) as uow:
        delivered = {
            activity.id: (activity.version, regarding)
            for record_id, (activity, regarding) in plan.activities.items()
            if record_id in written
        }
        uow.activities.mark_delivered(delivered, now=now)
        summary.delivered += len(delivered)
        for record_id, error in failures.items():
            entry = plan.activities.get(record_id)
            if entry is None:  # an id the writer made up: nothing of ours to mark
                continue
            activity = entry[0]
            code = error.code or (str(error.status) if error.status is not None else type(error).__name__)
            if isinstance(error, CrmTableMissingError):
                code = CRM_APP_MISSING_CODE
            summary.errors[code] = summary.errors.get(code, 0) + 1
            hold = SEAT_REFUSALS.get(code.lower())
            if hold is not None:
                uow.activities.mark_waiting(activity.id, state=DeliveryState.WAITING_FOR_SEAT, hold=hold)
                summary.waiting_for_seat += 1
                continue
            if isinstance(error, CrmTableMissingError):
                # The CRM app's tables were removed: the activity waits for them (never parked), and the admin is
                # told to install the app again (the code says so in their language).
                outcome = after_table_missing(now=now)
            else:
                outcome = after_failure(
                    attempts=activity.delivery.attempts + 1,
                    transient=isinstance(error, TransientError),
                    now=now,
                    first_retry=first_retry,
                )
            uow.activities.mark_failed(activity.id, outcome=outcome, error_code=code, error_message=error.message)
            if outcome.state is DeliveryState.PARKED:
                summary.parked += 1
            else:
                summary.failing += 1
        uow.commit()


@dataclass(frozen=True)
class _Writing:
    """A batch whose write is under way (or done, its outcomes not yet recorded)."""

    plan: _Plan
    report: asyncio.Future[WriteReport]
    started: float


async def _write(writer: ActivityWriter, records: Sequence[ActivityRecord]) -> WriteReport:
    """One ``write_activities`` call; a failure of the call as a whole fails every record with its error."""
    try:
        return await writer.write_activities(records)
    except CrmError as error:
        return WriteReport(written=(), failures=(WriteFailure(tuple(record.id for record in records), error),))


def _requeue_app_missing(store: WritebackStore, organization_id: uuid.UUID) -> int:
    """The CRM app found whole again: put the activities waiting for its tables back in the queue, due now, and the
    delivered ones of their data items (the tables they found gone were created anew since, in Dynamics or through
    salesbridge: their rows went with the removed ones; written again by upsert on the same ids, never twice); how
    many waited."""
    with store(organization_id) as uow:
        gone = uow.activities.failing_items(CRM_APP_MISSING_CODE)
        requeued = uow.activities.requeue(states=(DeliveryState.FAILING,), error_code=CRM_APP_MISSING_CODE)
        if gone:
            uow.activities.requeue(states=(DeliveryState.DELIVERED,), items=gone)
        uow.commit()
    return requeued


def take_app_check(store: WritebackStore, organization_id: uuid.UUID, *, now: datetime) -> bool:
    """Whether a drain is to check the CRM app at ``now``: activities wait for it (``failing`` with
    :data:`~salesbridge.domain.writeback.CRM_APP_MISSING_CODE`) and the first of them is due. If so, in the same
    transaction, every one of them is put off to the check after this one
    (:func:`~salesbridge.domain.writeback.app_check_delay` of the checks made so far, counted in their attempts):
    a drain beside this one does not check too, and none is claimed, i.e. written to the missing tables; the check
    that finds the app back makes them due at once. While Dynamics throttles the drain (its ``Retry-After`` not
    over at ``now``) no check is taken: they are put off until then. When the settings write none of their data
    items back any more (writeback turned off meanwhile), no check either: the claim sets them aside
    (``not_written_back``) as it does every activity of an item not written back. Exact and cheap (the error-code
    index)."""
    with store(organization_id) as uow:
        activities = uow.activities
        if not activities.failing_with(CRM_APP_MISSING_CODE, due_by=now):
            return False
        settings = uow.writeback_settings.get()
        if not any(settings.writes(item) for item in activities.failing_items(CRM_APP_MISSING_CODE)):
            return False
        throttled = activities.throttled_until()
        if throttled is not None and throttled > now:
            activities.reschedule_failing(CRM_APP_MISSING_CODE, next_attempt_at=throttled)
            uow.commit()
            return False
        # The write that met the tables gone counted one attempt: the first check is the first of the backoff.
        checks = max(1, activities.most_attempts(CRM_APP_MISSING_CODE))
        activities.reschedule_failing(
            CRM_APP_MISSING_CODE, next_attempt_at=now + app_check_delay(checks), attempts=checks + 1
        )
        uow.commit()
    return True


def _credentials(store: WritebackStore, organization_id: uuid.UUID) -> CrmCredentials | None:
    with store(organization_id, read_only=True) as uow:
        connection = uow.crm_connection.find()
        if connection is None or not connection.is_connected:
            return None
        return uow.crm_connection.credentials()


async def drain_organization(
    store: WritebackStore,
    sessions: WriterSessions,
    organization_id: uuid.UUID,
    *,
    clock: Clock,
    batch_size: int = DEFAULT_BATCH_SIZE,
    lease: timedelta = DEFAULT_LEASE,
    first_retry: timedelta = FIRST_RETRY,
) -> DrainSummary:
    """Deliver the organization's due activities until none is due (see the module's contract); what it did.

    Store work runs on worker threads, never on the event loop; the CRM session is opened only when a batch holds
    something to write, and closed before returning. Safe to run in several processes at once (claims are leased)
    and to repeat after a crash (writes are upserts by fixed ids). An organization without a connected CRM is left
    alone (its entries wait for the connection).

    Args:
        batch_size: Entries claimed, and written with one ``write_activities`` call, at a time (fewer when their
            text passes :data:`BODY_BUDGET`).
        lease: How long a claimed batch is reserved for this drain; a drain killed meanwhile leaves its batch to
            the next one after this. A batch is recorded about two batches' writing time after its claim (it is
            claimed while the one before it is written): the lease must outlast that.
        first_retry: How long an activity whose delivery failed transiently waits before its first retry (doubling
            after each further failure; ``SALESBRIDGE_WRITEBACK_FIRST_RETRY_SECONDS``).

    Raises:
        StoreError: the store failed (the claimed entries' leases expire and a later drain takes them again).
    """
    if batch_size < 1:
        raise ValueError("batch_size must be at least 1")
    summary = DrainSummary()
    credentials = await asyncio.to_thread(_credentials, store, organization_id)
    if credentials is None:
        summary.connected = False
        return summary
    session: WriterSession | None = None

    async def claim() -> _Plan | None:
        started = time.monotonic()
        # Each claim and record counts into a summary of its own, added on the event loop: they run on worker
        # threads, a claim beside a record.
        part = DrainSummary()
        plan = await asyncio.to_thread(_claim, store, organization_id, part, now=clock(), lease=lease, limit=batch_size)
        summary.add(part)
        logger.debug(
            "organization %s: claimed %s in %.2f s",
            organization_id,
            len(plan.activities) if plan else 0,
            time.monotonic() - started,
        )
        return plan

    def note_throttled(until: datetime) -> None:
        with store(organization_id) as uow:
            uow.activities.note_throttled(until=until)
            uow.commit()

    throttles: ThrottleWatch | None = None
    watching: asyncio.Future[None] | None = None
    app_checked = False

    def open_session() -> WriterSession:
        nonlocal session, throttles, watching
        if session is None:
            session = sessions(credentials)
            # The status says Dynamics throttles the drain while it waits rather than nothing.
            throttles = ThrottleWatch(session.usage, clock, note_throttled, subject=f"the drain of {organization_id}")
            watching = asyncio.ensure_future(throttles.watch())
        return session

    async def app_is_back() -> bool:
        """Whether the CRM app's tables are whole again (a metadata read through the drain's session: its request
        budget and throttling apply); if so, the activities waiting for them are due now. A half-installed app
        (its tables back, a column not yet) is not whole: writing to it then would park the activities. The CRM
        unreachable: not back (logged)."""
        summary.app_checks += 1
        try:
            observed = await open_session().app.observe(APP_TABLES_ONLY)
        except CrmError as error:
            logger.warning("organization %s: the CRM app could not be checked: %s", organization_id, error)
            return False
        if app_state(observed, APP_TABLES_ONLY) is not AppState.INSTALLED:
            return False
        requeued = await asyncio.to_thread(_requeue_app_missing, store, organization_id)
        logger.info("organization %s: the CRM app is back: %d activities due now", organization_id, requeued)
        return requeued > 0

    async def app_back() -> bool:
        """Once per drain, after it found the CRM app's tables gone: :func:`app_is_back`. An administrator who
        reinstalled it while a write was in flight did so before that write's failure was recorded, so the
        install's requeue could not see the activity, which would wait for the next check. Asked after the failures
        are recorded: an install that completes later requeues them itself."""
        nonlocal app_checked
        if app_checked or session is None or not summary.errors.get(CRM_APP_MISSING_CODE):
            return False
        app_checked = True
        return await app_is_back()

    def write(plan: _Plan) -> _Writing:
        summary.writes += 1
        writer = open_session().activities
        return _Writing(plan, asyncio.ensure_future(_write(writer, plan.records)), time.monotonic())

    async def record(writing: _Writing) -> None:
        report = await writing.report
        written = time.monotonic()
        if throttles is not None:
            # A write that gave up throttled ends before the watch looks again: what it met is noted now.
            await throttles.look()
        part = DrainSummary()
        await asyncio.to_thread(
            _outcomes, store, organization_id, writing.plan, report, part, now=clock(), first_retry=first_retry
        )
        summary.add(part)
        logger.debug(
            "organization %s: %d records written in %.2f s (from the start of the call), outcomes recorded in %.2f s",
            organization_id,
            len(writing.plan.records),
            written - writing.started,
            time.monotonic() - written,
        )

    # The pipeline: while batch N is written, batch N-1's outcomes are recorded and batch N+1 is claimed; N+1's
    # write starts once both are done, its requests queued in the writer behind N's, so that the CRM gets requests
    # without a pause at a batch's boundary or its last, partly parallel, requests.
    writing: _Writing | None = None  # the batch written before the one just started: recorded next
    started: _Writing | None = None
    following: asyncio.Future[_Plan | None] | None = None
    try:
        # Activities waiting for the CRM app, their check due: the app is checked before anything is claimed, so
        # that they are written now if it is back (reinstalled in Dynamics, with no action in salesbridge), and
        # left out of the claims otherwise.
        if await asyncio.to_thread(take_app_check, store, organization_id, now=clock()):
            await app_is_back()
        plan = await claim()
        while plan is not None or writing is not None:
            started = write(plan) if plan is not None and plan.records else None
            following = asyncio.ensure_future(claim()) if plan is not None else None
            recorded = writing is not None
            if writing is not None:
                await record(writing)
            writing = started
            plan = await following if following is not None else None
            if plan is None and writing is None and recorded:
                # The last look comes after the last record: an activity edited while it was written went back to
                # queued when its delivery was recorded, and is written again now.
                plan = await claim()
                if plan is None and await app_back():
                    plan = await claim()
    finally:
        # Raising (the store failed, the drain was cancelled): a write in flight is abandoned and a claim under way
        # let finish; their batches' leases expire and a later drain writes them (again: by upsert, no twins).
        writes = {w.report for w in (writing, started) if w is not None}
        for future in writes:
            future.cancel()
        await asyncio.gather(*writes, *([following] if following is not None else []), return_exceptions=True)
        if watching is not None:
            watching.cancel()
            await asyncio.gather(watching, return_exceptions=True)
        if session is not None:
            with suppress(Exception):  # closing must not hide what the drain raised or return
                await session.close()
    return summary


def has_due(store: WritebackStore, organization_id: uuid.UUID, *, now: datetime) -> bool:
    """Whether the organization has work for a drain at ``now``: queued activities (perhaps under another drain's
    live lease: the claim skips those), or failing ones whose next attempt came — among them those waiting for the
    CRM app whose check is due (the drain checks the app rather than writing them). Reads only; exact and cheap (two
    probes of the state index), so a runner can ask every round."""
    with store(organization_id, read_only=True) as uow:
        return uow.activities.any_due(now=now)
