"""Writeback's store (issue 14): the organization's writeback settings and its activities with their outbox
entries (:mod:`salesbridge.services.ports.writeback`). See migration 0017.

An activity and its outbox entry are one row of ``activities``: storing the activity stores its delivery, in the
same statement. A due entry has ``next_attempt_at`` at or before now (a queued one: when it was queued), so the
drainer's claim reads the claim index in order.

Two drainers at once never take the same entry: on PostgreSQL the claim selects its rows ``FOR UPDATE SKIP
LOCKED`` (a second drainer skips the rows the first is leasing, instead of waiting for them or leasing them
twice); on SQLite a writing unit of work holds the database's single write lock from its first statement
(``BEGIN IMMEDIATE``), so the second claim runs after the first one committed its leases and skips them.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Collection, Mapping, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any, Final, cast

from sqlalchemy import Integer, Table, and_, bindparam, case, exists, func, or_, select, update

from salesbridge.domain.match_links import LinkBand
from salesbridge.domain.writeback import (
    ALL_ITEMS,
    ITEM_TABLES,
    REGARDING_PREFERENCE,
    Activity,
    ActivityDraft,
    DataItem,
    Delivery,
    DeliveryState,
    Direction,
    FailureOutcome,
    Regarding,
    SeatHold,
    StatusCount,
    WritebackSettings,
    crm_activity_id,
)
from salesbridge.errors import ActivityChangedError, ConcurrentWriteError, RowNotFoundError
from salesbridge.store.database import conflict_insert
from salesbridge.store.repositories import _flush_new, _ScopedRepository, newest_first
from salesbridge.store.tables import ActivityRow, MatchLinkRow, PersonRow, WritebackSettingsRow, WritebackThrottleRow

ACTIVITY_NOT_FOUND: Final = "No such activity in this organization."
MAX_ERROR_CODE_LENGTH: Final = 64

_ACTIVITIES = cast(Table, ActivityRow.__table__)
_REQUEUED_BY_EDIT: Final = frozenset({DeliveryState.DELIVERED.value, DeliveryState.PARKED.value})


def _items_text(items: frozenset[DataItem]) -> str:
    return ",".join(sorted(item.value for item in items))


def _items(text: str) -> frozenset[DataItem]:
    # An item this version does not know (written by a newer one) is ignored rather than failing every read.
    known = {item.value for item in DataItem}
    return frozenset(DataItem(name) for name in text.split(",") if name in known)


class WritebackSettingsRepository(_ScopedRepository):
    """The organization's writeback settings: one row, or none for the defaults."""

    def get(self) -> WritebackSettings:
        """The settings; the defaults (off, all items) when never set."""
        row = self._session.get(WritebackSettingsRow, self._organization_id)
        if row is None:
            return WritebackSettings()
        return WritebackSettings(enabled=row.enabled, items=_items(row.items) or ALL_ITEMS)

    def set(self, settings: WritebackSettings, *, actor: str) -> None:
        """Replace the settings (``actor``: who). Idempotent.

        Raises:
            ConcurrentWriteError: another transaction stored the organization's first settings meanwhile.
        """
        row = self._session.get(WritebackSettingsRow, self._organization_id, with_for_update=True)
        values = {
            "enabled": settings.enabled,
            "items": _items_text(settings.items),
            "updated_at": self._clock(),
            "updated_by": actor,
        }
        if row is None:
            row = WritebackSettingsRow(organization_id=self._organization_id, **values)
            _flush_new(self._session, row, ConcurrentWriteError("The writeback settings were saved meanwhile."))
            return
        for name, value in values.items():
            setattr(row, name, value)
        self._session.flush()


def _value(row: Any) -> Activity:
    """``row``: an :class:`ActivityRow`, or a Core row of its columns (read without the ORM's identity map: the
    claim's and the search's pages of up to thousands of rows read about twice as fast)."""
    regarding = (
        Regarding(table=row.regarding_table, crm_id=row.regarding_id)
        if row.regarding_table is not None and row.regarding_id is not None
        else None
    )
    return Activity(
        id=row.id,
        author_user_id=row.author_user_id,
        client_id=row.client_id,
        item=DataItem(row.item),
        person_id=row.person_id,
        company_id=row.company_id,
        subject=row.subject,
        body=row.body,
        direction=Direction(row.direction),
        occurred_at=row.occurred_at,
        conversation_id=row.conversation_id,
        version=row.version,
        created_at=row.created_at,
        updated_at=row.updated_at,
        participants=tuple(uuid.UUID(participant) for participant in json.loads(row.participants)),
        delivery=Delivery(
            state=DeliveryState(row.state),
            hold=SeatHold(row.hold) if row.hold else None,
            attempts=row.attempts,
            next_attempt_at=row.next_attempt_at,
            error_code=row.error_code,
            error_message=row.error_message,
            regarding=regarding,
            crm_table=row.crm_table,
            crm_id=row.crm_id,
            delivered_version=row.delivered_version,
            delivered_at=row.delivered_at,
        ),
    )


def _rowcount(result: object) -> int:
    return int(getattr(result, "rowcount", 0) or 0)


class ActivityRepository(_ScopedRepository):
    """The organization's activities and their outbox entries."""

    def _scope(self) -> Any:
        return ActivityRow.organization_id == self._organization_id

    def _row(self, activity_id: uuid.UUID, *, for_update: bool = False) -> ActivityRow:
        statement = select(ActivityRow).where(self._scope(), ActivityRow.id == activity_id)
        if for_update:
            statement = statement.with_for_update()
        row = self._session.scalar(statement)
        if row is None:
            raise RowNotFoundError(ACTIVITY_NOT_FOUND)
        return row

    def add(
        self, author_user_id: uuid.UUID, draft: ActivityDraft, *, state: DeliveryState, hold: SeatHold | None
    ) -> tuple[Activity, bool]:
        """Store a captured activity and its outbox entry in the current transaction; idempotent by
        ``(author_user_id, draft.client_id)`` (the stored one is returned with False).

        Raises:
            ConcurrentWriteError: another transaction stored the same client id meanwhile (run again).
        """
        stored = self.find_by_client_id(author_user_id, draft.client_id)
        if stored is not None:
            return stored, False
        now = self._clock()
        activity_id = uuid.uuid4()
        row = ActivityRow(
            id=activity_id,
            organization_id=self._organization_id,
            author_user_id=author_user_id,
            client_id=draft.client_id,
            item=draft.item.value,
            person_id=draft.person_id,
            company_id=draft.company_id,
            subject=draft.subject,
            body=draft.body,
            direction=draft.direction.value,
            occurred_at=draft.occurred_at.astimezone(UTC),  # as read back: UTC
            conversation_id=draft.conversation_id,
            version=1,
            created_at=now,
            updated_at=now,
            state=state.value,
            hold=hold.value if hold is not None else None,
            attempts=0,
            next_attempt_at=now if state is DeliveryState.QUEUED else None,
            claimed_until=None,
            error_code=None,
            error_message=None,
            regarding_table=None,
            regarding_id=None,
            crm_table=ITEM_TABLES[draft.item],
            crm_id=crm_activity_id(self._organization_id, activity_id),
            delivered_version=None,
            delivered_at=None,
            participants=json.dumps([str(participant) for participant in draft.participants]),
        )
        _flush_new(self._session, row, ConcurrentWriteError("The same activity was stored meanwhile."))
        return _value(row), True

    def edit(self, activity_id: uuid.UUID, *, subject: str | None, body: str, expected_version: int | None) -> Activity:
        """Change the subject and body, raise the version; a delivered or parked activity goes back to ``queued``
        (a parked one with its attempts reset: the edit may be what Dynamics asked for).

        Raises:
            RowNotFoundError: no such activity in the organization.
            ActivityChangedError: ``expected_version`` was given and the activity changed since.
        """
        row = self._row(activity_id, for_update=True)
        if expected_version is not None and row.version != expected_version:
            raise ActivityChangedError(version=row.version)
        now = self._clock()
        row.subject = subject
        row.body = body
        row.version += 1
        row.updated_at = now
        if row.state in _REQUEUED_BY_EDIT:
            if row.state == DeliveryState.PARKED.value:
                row.attempts = 0
            row.state = DeliveryState.QUEUED.value
            row.next_attempt_at = now
        self._session.flush()
        return _value(row)

    def get(self, activity_id: uuid.UUID) -> Activity:
        """The activity. Raises RowNotFoundError when the organization has none with this id."""
        return _value(self._row(activity_id))

    def find_by_client_id(self, author_user_id: uuid.UUID, client_id: str) -> Activity | None:
        """The author's activity with this client id, or None."""
        row = self._session.scalar(
            select(ActivityRow).where(
                self._scope(), ActivityRow.author_user_id == author_user_id, ActivityRow.client_id == client_id
            )
        )
        return _value(row) if row is not None else None

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
        """Activities matching every given filter, newest ``occurred_at`` first (ties by id).

        Filtered by states alone (the failing and parked ones the Writeback and CRM health pages list): one probe per
        state of the (organization, state, occurred at) index (migration 0043), merged here; an IN over the states
        walked every activity of the organization by date, or sorted all those in the states."""
        statement = select(*_ACTIVITIES.c).where(self._scope())
        if person_id is not None:
            statement = statement.where(ActivityRow.person_id == person_id)
        if company_id is not None:
            statement = statement.where(ActivityRow.company_id == company_id)
        if author_user_id is not None:
            statement = statement.where(ActivityRow.author_user_id == author_user_id)
        statement = statement.order_by(ActivityRow.occurred_at.desc(), ActivityRow.id)
        if states and person_id is None and company_id is None and author_user_id is None:
            values = sorted({state.value for state in states})
            newest = [
                row
                for value in values
                for row in self._session.execute(statement.where(ActivityRow.state == value).limit(limit + offset))
            ]
            merged = newest_first(newest, lambda row: row.occurred_at, lambda row: row.id)
            return [_value(row) for row in merged[offset : offset + limit]]
        if states:
            statement = statement.where(ActivityRow.state.in_([state.value for state in states]))
        return [_value(row) for row in self._session.execute(statement.limit(limit).offset(offset))]

    def claim(self, *, now: datetime, lease: timedelta, limit: int) -> list[Activity]:
        """Lease up to ``limit`` due entries (``queued``, or ``failing`` and due; no live lease), oldest first, until
        ``now + lease``. Commit right after: the leases are what other drainers skip."""
        due = (
            select(ActivityRow.id)
            .where(
                self._scope(),
                ActivityRow.state.in_([DeliveryState.QUEUED.value, DeliveryState.FAILING.value]),
                ActivityRow.next_attempt_at <= now,
                or_(ActivityRow.claimed_until.is_(None), ActivityRow.claimed_until <= now),
            )
            .order_by(ActivityRow.next_attempt_at, ActivityRow.id)
            .limit(limit)
            # PostgreSQL: rows another drainer is claiming right now are skipped, not waited for. SQLite renders no
            # FOR UPDATE: its single writer already serialises claims.
            .with_for_update(skip_locked=True)
        )
        ids = list(self._session.scalars(due))
        if not ids:
            return []
        self._session.execute(
            update(ActivityRow)
            .where(self._scope(), ActivityRow.id.in_(ids))
            .values(claimed_until=now + lease)
            .execution_options(synchronize_session=False)
        )
        rows = self._session.execute(
            select(*_ACTIVITIES.c)
            .where(self._scope(), ActivityRow.id.in_(ids))
            .order_by(ActivityRow.next_attempt_at, ActivityRow.id)
        )
        return [_value(row) for row in rows]

    def mark_delivered(self, delivered: Mapping[uuid.UUID, tuple[int, Regarding]], *, now: datetime) -> None:
        """Record deliveries (activity id → the version written and the record it regards): the lease, attempts
        and error cleared; an activity edited since (a higher version) goes back to ``queued``."""
        if not delivered:
            return
        written = bindparam("b_version", type_=Integer)
        statement = (
            _ACTIVITIES.update()
            .where(_ACTIVITIES.c.organization_id == self._organization_id, _ACTIVITIES.c.id == bindparam("b_id"))
            .values(
                state=case(
                    (_ACTIVITIES.c.version > written, DeliveryState.QUEUED.value), else_=DeliveryState.DELIVERED.value
                ),
                next_attempt_at=case((_ACTIVITIES.c.version > written, now), else_=None),
                hold=None,
                attempts=0,
                claimed_until=None,
                error_code=None,
                error_message=None,
                regarding_table=bindparam("b_table"),
                regarding_id=bindparam("b_crm_id"),
                delivered_version=written,
                delivered_at=now,
            )
        )
        parameters = [
            {"b_id": activity_id, "b_version": version, "b_table": regarding.table, "b_crm_id": regarding.crm_id}
            for activity_id, (version, regarding) in delivered.items()
        ]
        self._session.execute(statement, parameters)
        self._session.expire_all()

    def mark_failed(
        self, activity_id: uuid.UUID, *, outcome: FailureOutcome, error_code: str, error_message: str
    ) -> None:
        """Record a failed attempt: ``outcome``'s state and next attempt, Dynamics' error; the lease cleared and the
        attempt counted."""
        self._session.execute(
            update(ActivityRow)
            .where(self._scope(), ActivityRow.id == activity_id)
            .values(
                state=outcome.state.value,
                next_attempt_at=outcome.next_attempt_at,
                attempts=ActivityRow.attempts + 1,
                claimed_until=None,
                error_code=error_code[:MAX_ERROR_CODE_LENGTH],
                error_message=error_message,
            )
            .execution_options(synchronize_session=False)
        )
        self._session.expire_all()

    def mark_waiting(self, activity_id: uuid.UUID, *, state: DeliveryState, hold: SeatHold | None) -> None:
        """Record why an entry cannot be delivered now (``waiting_for_match``, ``waiting_for_seat`` with its hold,
        ``not_written_back``); the lease cleared."""
        self._session.execute(
            update(ActivityRow)
            .where(self._scope(), ActivityRow.id == activity_id)
            .values(
                state=state.value,
                hold=hold.value if hold is not None else None,
                next_attempt_at=None,
                claimed_until=None,
            )
            .execution_options(synchronize_session=False)
        )
        self._session.expire_all()

    def requeue(
        self,
        *,
        states: Collection[DeliveryState],
        since: datetime | None = None,
        activity_ids: Sequence[uuid.UUID] = (),
        items: Collection[DataItem] = (),
        error_code: str | None = None,
    ) -> int:
        """Put entries in ``states`` back to ``queued``, due now, attempts reset (``since`` bounds ``occurred_at``,
        ``activity_ids``, ``items`` and ``error_code`` limit it to those). Returns how many."""
        if not states:
            return 0
        conditions = [self._scope(), ActivityRow.state.in_([state.value for state in states])]
        if since is not None:
            conditions.append(ActivityRow.occurred_at >= since)
        if activity_ids:
            conditions.append(ActivityRow.id.in_(list(activity_ids)))
        if items:
            conditions.append(ActivityRow.item.in_([item.value for item in items]))
        if error_code is not None:
            conditions.append(ActivityRow.error_code == error_code)
        result = self._session.execute(
            update(ActivityRow)
            .where(and_(*conditions))
            .values(state=DeliveryState.QUEUED.value, hold=None, attempts=0, next_attempt_at=self._clock())
            .execution_options(synchronize_session=False)
        )
        self._session.expire_all()
        return _rowcount(result)

    def _failing_with(self, error_code: str) -> Any:
        # Matches ix_activities_organization_id_error_code_state (migration 0041; partial on error_code IS NOT NULL,
        # which the equality implies): one probe, however many activities the organization has.
        return and_(
            self._scope(), ActivityRow.error_code == error_code, ActivityRow.state == DeliveryState.FAILING.value
        )

    def failing_with(self, error_code: str, *, due_by: datetime | None = None) -> bool:
        """See the port. The first such entry by next attempt, one probe of the error-code index: ordered, so that
        no plan can scan the table instead (an ``EXISTS`` let PostgreSQL choose a sequential scan hoping to meet one
        early, which reads every row when the organization's are the newest)."""
        condition = self._failing_with(error_code)
        if due_by is not None:
            condition = and_(condition, ActivityRow.next_attempt_at <= due_by)
        return self._first(condition) is not None

    def _first(self, condition: Any) -> uuid.UUID | None:
        """The id of the entry meeting ``condition`` whose next attempt is first (the order of both indexes led by
        the organization and the state); None when none does."""
        return self._session.scalar(
            select(ActivityRow.id).where(condition).order_by(ActivityRow.next_attempt_at).limit(1)
        )

    def most_attempts(self, error_code: str) -> int:
        """See the port."""
        return int(
            self._session.scalar(select(func.max(ActivityRow.attempts)).where(self._failing_with(error_code))) or 0
        )

    def failing_items(self, error_code: str) -> frozenset[DataItem]:
        """See the port. One probe of the error code's index per data item: a DISTINCT over the failing rows let
        SQLite walk every activity through the index that orders them by item (migration 0042) instead."""
        return frozenset(
            item
            for item in DataItem
            if self._session.scalar(
                select(ActivityRow.id).where(self._failing_with(error_code), ActivityRow.item == item.value).limit(1)
            )
            is not None
        )

    def reschedule_failing(self, error_code: str, *, next_attempt_at: datetime, attempts: int | None = None) -> int:
        """See the port."""
        values: dict[str, Any] = {"next_attempt_at": next_attempt_at}
        if attempts is not None:
            values["attempts"] = attempts
        result = self._session.execute(
            update(ActivityRow)
            .where(self._failing_with(error_code))
            .values(**values)
            .execution_options(synchronize_session=False)
        )
        self._session.expire_all()
        return _rowcount(result)

    def any_due(self, *, now: datetime) -> bool:
        """See the port. Two ordered probes of the state index (see :meth:`failing_with`)."""
        if self._first(and_(self._scope(), ActivityRow.state == DeliveryState.QUEUED.value)) is not None:
            return True
        failing_due = and_(
            self._scope(), ActivityRow.state == DeliveryState.FAILING.value, ActivityRow.next_attempt_at <= now
        )
        return self._first(failing_due) is not None

    def requeue_matched(self) -> int:
        """See the port. One statement: each waiting entry probes the links of its person, its person's company
        and its company (the links' target index), so its cost follows the waiting entries, not the links."""
        tie = and_(
            MatchLinkRow.organization_id == self._organization_id,
            MatchLinkRow.band == LinkBand.MATCH.value,
            MatchLinkRow.crm_table.in_(REGARDING_PREFERENCE),
        )
        tied = or_(
            exists().where(tie, MatchLinkRow.target_id == ActivityRow.person_id),
            exists().where(tie, MatchLinkRow.target_id == ActivityRow.company_id),
            exists().where(
                tie,
                PersonRow.organization_id == self._organization_id,
                PersonRow.id == ActivityRow.person_id,
                MatchLinkRow.target_id == PersonRow.company_id,
            ),
        )
        result = self._session.execute(
            update(ActivityRow)
            .where(self._scope(), ActivityRow.state == DeliveryState.WAITING_FOR_MATCH.value, tied)
            .values(state=DeliveryState.QUEUED.value, hold=None, attempts=0, next_attempt_at=self._clock())
            .execution_options(synchronize_session=False)
        )
        self._session.expire_all()
        return _rowcount(result)

    def note_throttled(self, *, until: datetime) -> None:
        """Record that Dynamics throttles the organization's drain until ``until`` (a later note replaces it, an
        earlier one is ignored: drains running side by side share the organization's budget)."""
        statement = conflict_insert(self._session, WritebackThrottleRow).values(
            organization_id=self._organization_id, throttled_until=until
        )
        later = statement.excluded.throttled_until
        kept = case((later > WritebackThrottleRow.throttled_until, later), else_=WritebackThrottleRow.throttled_until)
        self._session.execute(
            statement.on_conflict_do_update(index_elements=["organization_id"], set_={"throttled_until": kept})
        )

    def throttled_until(self) -> datetime | None:
        """Until when Dynamics last throttled the organization's drain (None: never)."""
        return self._session.scalar(
            select(WritebackThrottleRow.throttled_until).where(
                WritebackThrottleRow.organization_id == self._organization_id
            )
        )

    def count_in(self, states: Collection[DeliveryState]) -> int:
        """How many activities are in one of ``states`` (ix_activities_organization_id_state_next_attempt_at)."""
        statement = (
            select(func.count())
            .select_from(ActivityRow)
            .where(self._scope(), ActivityRow.state.in_([state.value for state in states]))
        )
        return int(self._session.scalar(statement) or 0)

    def status(self) -> list[StatusCount]:
        """How many activities there are per item, author, state and hold: read in the order of
        ix_activities_organization_id_item_author_state_hold (migration 0042), so the database counts as it reads
        the index instead of sorting every activity (on SQLite, in the process that asks)."""
        statement = (
            select(ActivityRow.item, ActivityRow.author_user_id, ActivityRow.state, ActivityRow.hold, func.count())
            .where(self._scope())
            .group_by(ActivityRow.item, ActivityRow.author_user_id, ActivityRow.state, ActivityRow.hold)
        )
        return [
            StatusCount(
                item=DataItem(item),
                author_user_id=author,
                state=DeliveryState(state),
                hold=SeatHold(hold) if hold else None,
                count=int(count),
            )
            for item, author, state, hold, count in self._session.execute(statement)
        ]
