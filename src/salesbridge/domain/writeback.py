"""Activity writeback (issue 14): the activities sellers log, their delivery to the CRM, and the rules that decide
where, when and whether each one is written. Pure: values and rules only, no I/O.

An activity is captured once per ``(author, client_id)``: the client chooses the id, so a retried request never
makes two. Every accepted activity has one outbox entry, stored in the same transaction; the drainer
(:mod:`salesbridge.sync.writeback`) delivers entries in bulk. The CRM row of an activity has a fixed id,
:func:`crm_activity_id`, derived from the organization and the activity: every delivery of the same activity
writes the same row (an upsert), which makes delivery exactly-once however often a crashed drainer repeats it.

The rules, each a function below:

* which CRM table an item goes to (:data:`ITEM_TABLES`);
* whether the author's seat may write back (:func:`seat_hold`);
* which matched CRM record it regards (:func:`choose_regarding`: the contact, else the lead, else the account);
* when a failed delivery is tried again, and when it is parked (:func:`after_failure`).
"""

from __future__ import annotations

import uuid
from collections.abc import Collection, Iterable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from enum import StrEnum
from typing import Final

from salesbridge.domain.crm_app import PUBLISHER_PREFIX
from salesbridge.domain.text_rules import checked_free_text, checked_multiline_text
from salesbridge.errors import InvalidInputError
from salesbridge.message_ids import N_


class DataItem(StrEnum):
    """The data items an administrator can write back ("Sync back all data items" or a subset)."""

    INMAIL = "inmail"
    MESSAGE = "message"
    NOTE = "note"
    CALL = "call"


ALL_ITEMS: Final = frozenset(DataItem)

ITEM_TABLES: Final[dict[DataItem, str]] = {
    DataItem.INMAIL: f"{PUBLISHER_PREFIX}_inmail",
    DataItem.MESSAGE: f"{PUBLISHER_PREFIX}_message",
    DataItem.NOTE: "annotation",
    DataItem.CALL: "phonecall",
}
"""The CRM table (logical name) each item is written to: the app's custom activity tables for InMail and messages,
Dynamics notes for notes and phone calls for calls."""


class Direction(StrEnum):
    """Whether the seller sent it (outgoing) or received it (incoming)."""

    OUTGOING = "outgoing"
    INCOMING = "incoming"


MAX_CLIENT_ID_LENGTH: Final = 100
MAX_SUBJECT_LENGTH: Final = 200
"""Dataverse's ``subject`` of an activity holds 200 characters (lengths here count as Dataverse does:
:func:`dataverse_length`)."""
MAX_BODY_LENGTH: Final = 100_000
MAX_CALL_BODY_LENGTH: Final = 2000
"""A call's text goes to the phone call's ``description``, which Dataverse caps at 2,000 characters (longer is
refused with 0x80044331): refused when logged rather than parked when delivered."""
MAX_CONVERSATION_ID_LENGTH: Final = 100
EARLIEST_TIME: Final = datetime(1753, 1, 1, tzinfo=UTC)
"""Dataverse's date-times start on 1753-01-01 (UTC): an earlier ``occurred_at`` could never be written."""


@dataclass(frozen=True)
class WritebackSettings:
    """The organization's writeback settings (CRM Settings page).

    Attributes:
        enabled: "Enable syncing workspace data back to your CRM?"
        items: The data items written back; :data:`ALL_ITEMS` is "Sync back all data items".
    """

    enabled: bool = False
    items: frozenset[DataItem] = ALL_ITEMS

    @property
    def all_items(self) -> bool:
        """True when every data item is written back."""
        return self.items == ALL_ITEMS

    def writes(self, item: DataItem) -> bool:
        """Whether activities of ``item`` are written back now."""
        return self.enabled and item in self.items


@dataclass(frozen=True)
class ActivityDraft:
    """An activity as a client sends it. Checks itself when built.

    Attributes:
        client_id: The client's id of the activity; the same author sending the same id again is the same activity.
        item: What it is.
        person_id / company_id: The person or company it concerns (exactly one).
        subject: Short title; for InMail and messages, the first line of the body when the client sends none.
        body: The text.
        direction: Outgoing or incoming (notes are outgoing).
        occurred_at: When it was sent, written or held (timezone-aware).
        conversation_id: The conversation an InMail or message belongs to.
        participants: Other workspace people it involves (at most :data:`MAX_PARTICIPANTS`, each once, not the
            person it concerns); written to the CRM as further activity parties. Whether they are the
            organization's is the service's to check.

    Raises:
        InvalidInputError: a value is missing, too long, or holds control characters (``field`` names it).
    """

    client_id: str
    item: DataItem
    person_id: uuid.UUID | None
    company_id: uuid.UUID | None
    subject: str | None
    body: str
    direction: Direction
    occurred_at: datetime
    conversation_id: str | None = None
    participants: tuple[uuid.UUID, ...] = ()

    def __post_init__(self) -> None:
        client_id = (self.client_id or "").strip()
        if not client_id or len(client_id) > MAX_CLIENT_ID_LENGTH or not client_id.isprintable():
            raise InvalidInputError(
                N_("The activity's id is required, printable and at most {limit} characters."),
                field="client_id",
                limit=MAX_CLIENT_ID_LENGTH,
            )
        object.__setattr__(self, "client_id", client_id)
        if (self.person_id is None) == (self.company_id is None):
            raise InvalidInputError(N_("An activity concerns exactly one person or one company."), field="person_id")
        if self.occurred_at.tzinfo is None:
            raise InvalidInputError(N_("The activity's time needs a time zone."), field="occurred_at")
        try:
            # 0001-01-01T00:00+01:00 and 9999-12-31T23:59-01:00 lie outside the UTC times Python holds: overflow.
            too_early = self.occurred_at.astimezone(UTC) < EARLIEST_TIME
        except OverflowError:
            too_early = True
        if too_early:
            raise InvalidInputError(
                N_("The activity's time must be between the years 1753 and 9999."), field="occurred_at"
            )
        body = checked_multiline_text(self.body, field="body")
        if not body:
            raise InvalidInputError(N_("The text of the activity is required."), field="body")
        limit = MAX_CALL_BODY_LENGTH if self.item is DataItem.CALL else MAX_BODY_LENGTH
        if dataverse_length(body) > limit:
            raise InvalidInputError(
                _CALL_TOO_LONG if self.item is DataItem.CALL else _TOO_LONG, field="body", limit=limit
            )
        object.__setattr__(self, "body", body)
        object.__setattr__(self, "subject", _optional(self.subject, "subject", MAX_SUBJECT_LENGTH))
        object.__setattr__(
            self, "conversation_id", _optional(self.conversation_id, "conversation_id", MAX_CONVERSATION_ID_LENGTH)
        )
        object.__setattr__(self, "participants", tuple(self.participants))
        _check_participants(self.participants, self.person_id)

    @property
    def title(self) -> str:
        """The subject written to the CRM: the given subject, else the body's first line cut to fit."""
        return activity_title(self.subject, self.body)


_TOO_LONG: Final = N_("This text is too long: at most {limit} characters.")

MAX_PARTICIPANTS: Final = 50
"""The most additional people an activity names (each becomes an activity party in Dynamics)."""


def _check_participants(participants: tuple[uuid.UUID, ...], person_id: uuid.UUID | None) -> None:
    if len(participants) > MAX_PARTICIPANTS:
        raise InvalidInputError(
            N_("An activity names at most {limit} participants."), field="participants", limit=MAX_PARTICIPANTS
        )
    seen: set[uuid.UUID] = set()
    for participant in participants:
        if participant in seen:
            raise InvalidInputError(
                N_("The participant {id} is named twice."), field="participants", id=str(participant)
            )
        if participant == person_id:
            raise InvalidInputError(
                N_("The participant {id} is the person the activity concerns: name them once, as its person."),
                field="participants",
                id=str(participant),
            )
        seen.add(participant)


_CALL_TOO_LONG: Final = N_("A call's text holds at most {limit} characters in Dynamics: shorten it.")


def _optional(text: str | None, field: str, limit: int) -> str | None:
    if text is None:
        return None
    cleaned = checked_free_text(text, field=field)
    if dataverse_length(cleaned) > limit:
        raise InvalidInputError(_TOO_LONG, field=field, limit=limit)
    return cleaned or None


def activity_title(subject: str | None, body: str) -> str:
    """The subject written to the CRM: the given subject, else the body's first line cut to fit."""
    if subject:
        return subject
    lines = body.strip().splitlines()
    return _cut(lines[0].strip(), MAX_SUBJECT_LENGTH) if lines else ""


def dataverse_length(text: str) -> int:
    """The length of ``text`` as Dataverse checks a column's MaxLength: in UTF-16 code units (.NET's
    ``String.Length``, SQL Server's ``nvarchar``), so a character beyond the Basic Multilingual Plane (most emoji)
    counts twice. The limits of this module are in these units."""
    if text.isascii():
        return len(text)
    return len(text.encode("utf-16-le", "surrogatepass")) // 2  # in C: a drain measures every body it writes


def _cut(text: str, limit: int) -> str:
    """``text`` cut to at most ``limit`` UTF-16 code units, never inside a character."""
    if dataverse_length(text) <= limit:
        return text
    units = 0
    for index, character in enumerate(text):
        units += 2 if ord(character) > 0xFFFF else 1
        if units > limit:
            return text[:index]
    return text  # pragma: no cover - the length check above returned already


class DeliveryState(StrEnum):
    """Where an activity's delivery stands. Every state but ``delivered`` and ``parked`` is picked up again by the
    drainer when what it waits for changes."""

    QUEUED = "queued"
    """Ready for the next drain (new, edited, or retrying after ``next_attempt_at``)."""
    WAITING_FOR_MATCH = "waiting_for_match"
    """Its person or company has no CRM match yet; delivered when one appears."""
    WAITING_FOR_SEAT = "waiting_for_seat"
    """The author's seat may not write back (:class:`SeatHold` says why); delivered when it may."""
    NOT_WRITTEN_BACK = "not_written_back"
    """Writeback is off, or its data item is not chosen: kept in the workspace (backfill delivers it later)."""
    FAILING = "failing"
    """The last attempt failed transiently; tried again at ``next_attempt_at``."""
    PARKED = "parked"
    """Failed permanently or too often: shown with Dynamics' error, delivered again only when retried by hand."""
    DELIVERED = "delivered"
    """Written to the CRM (its current version)."""


class SeatHold(StrEnum):
    """Why an author's activities may not be written back now."""

    NO_SEAT = "no_seat"
    SEAT_INACTIVE = "seat_inactive"
    CRM_SYNC_OFF = "crm_sync_off"
    NO_CRM_USER = "no_crm_user"
    CRM_USER_DISABLED = "crm_user_disabled"


def seat_hold(
    *,
    has_seat: bool,
    seat_active: bool,
    crm_sync_on: bool,
    crm_user_matched: bool,
    crm_user_enabled: bool,
) -> SeatHold | None:
    """Why the author may not write back, or None when they may.

    Only seats with CRM sync on (the seat's own switch, or the organization's "all seats") and matched to an
    enabled CRM user write back: the CRM user owns and creates the written records, and a disabled user cannot.
    ``crm_sync_on`` is the effective value (the caller applies the organization's "all seats" switch).
    """
    if not has_seat:
        return SeatHold.NO_SEAT
    if not seat_active:
        return SeatHold.SEAT_INACTIVE
    if not crm_sync_on:
        return SeatHold.CRM_SYNC_OFF
    if not crm_user_matched:
        return SeatHold.NO_CRM_USER
    if not crm_user_enabled:
        return SeatHold.CRM_USER_DISABLED
    return None


REGARDING_PREFERENCE: Final = ("contact", "lead", "account")
"""The matched record an activity regards, in order of preference."""


@dataclass(frozen=True)
class Regarding:
    """The CRM record an activity regards.

    Attributes:
        table: ``contact``, ``lead`` or ``account``.
        crm_id: Its id in the CRM (lowercase GUID).
    """

    table: str
    crm_id: str


def choose_regarding(candidates: Iterable[Regarding]) -> Regarding | None:
    """The record to regard among the matched records of the activity's person or company: a contact, else a
    lead, else an account; among several of one table (CRM duplicates), the smallest id, so the choice is stable.
    None when there is none (the activity waits for a match)."""
    ranked = sorted(
        (c for c in candidates if c.table in REGARDING_PREFERENCE),
        key=lambda c: (REGARDING_PREFERENCE.index(c.table), c.crm_id),
    )
    return ranked[0] if ranked else None


_CRM_ID_NAMESPACE: Final = uuid.UUID("2f1d3c4e-5a6b-4c7d-8e9f-0a1b2c3d4e5f")


def crm_activity_id(organization_id: uuid.UUID, activity_id: uuid.UUID) -> str:
    """The id of the activity's row in the CRM: the same for every delivery of the activity (idempotent upserts),
    different across organizations. A lowercase GUID."""
    return str(uuid.uuid5(_CRM_ID_NAMESPACE, f"{organization_id}/{activity_id}"))


MAX_ATTEMPTS: Final = 8
"""Transient failures in a row after which an activity is parked."""
FIRST_RETRY: Final = timedelta(seconds=30)
"""The wait before the first retry of a transient failure by default (``SALESBRIDGE_WRITEBACK_FIRST_RETRY_SECONDS``)."""
LONGEST_RETRY: Final = timedelta(hours=1)


@dataclass(frozen=True)
class FailureOutcome:
    """What a failed delivery leads to: failing with a next attempt, or parked (``next_attempt_at`` None)."""

    state: DeliveryState
    next_attempt_at: datetime | None


def after_failure(
    *, attempts: int, transient: bool, now: datetime, first_retry: timedelta = FIRST_RETRY
) -> FailureOutcome:
    """The state after the ``attempts``-th failed delivery in a row (1 for the first).

    A permanent failure (Dynamics refused the record) parks at once: repeating it would fail the same way. A
    transient one (throttling, unavailability, a cut connection) is retried after ``first_retry`` (30 s by
    default), doubling up to an hour, and parks after :data:`MAX_ATTEMPTS` attempts so nothing is retried forever.
    """
    if not transient or attempts >= MAX_ATTEMPTS:
        return FailureOutcome(DeliveryState.PARKED, None)
    delay = min(first_retry * (2 ** (attempts - 1)), LONGEST_RETRY)
    return FailureOutcome(DeliveryState.FAILING, now + delay)


CRM_APP_MISSING_CODE: Final = "crm_app_missing"
"""The error code kept on an activity whose table in the CRM is gone (the CRM app's tables removed)."""
APP_CHECK_FIRST: Final = timedelta(seconds=30)
"""How long after a delivery found its table gone the drain first checks whether the CRM app is back."""
APP_CHECK_LONGEST: Final = timedelta(minutes=5)
"""The longest wait between two checks of the CRM app while activities wait for it (the waits double from
:data:`APP_CHECK_FIRST` up to this)."""


def after_table_missing(*, now: datetime) -> FailureOutcome:
    """The state after a delivery found the activity's table gone from the CRM (the CRM app removed): failing,
    never parked however long it lasts — the activity is not at fault, and it is delivered as soon as the app is
    back. Its next attempt, :data:`APP_CHECK_FIRST` later, is not a write: the drain then checks the app's tables
    (a metadata read, :func:`app_check_delay` apart while they stay gone) and writes the waiting activities only
    once they are back. One failed write per drain and table, not a storm."""
    return FailureOutcome(DeliveryState.FAILING, now + APP_CHECK_FIRST)


def app_check_delay(checks: int) -> timedelta:
    """The wait after the ``checks``-th check in a row (1 for the first) that found the CRM app still missing:
    :data:`APP_CHECK_FIRST` doubled each time, at most :data:`APP_CHECK_LONGEST` (30 s, 1, 2, 4, then every 5
    minutes), so a CRM whose app is gone for days is asked a couple of metadata reads every 5 minutes."""
    if checks < 1:
        raise ValueError("checks must be at least 1")
    return min(APP_CHECK_FIRST * (1 << min(checks, 16)), APP_CHECK_LONGEST)


def parse_items(values: Collection[str]) -> frozenset[DataItem]:
    """Data items from their names (``inmail``, ``message``, ``note``, ``call``; case and spaces ignored).

    Raises:
        InvalidInputError: an unknown name, or none at all.
    """
    items: set[DataItem] = set()
    for value in values:
        name = value.strip().lower()
        try:
            items.add(DataItem(name))
        except ValueError:
            raise InvalidInputError(
                N_("Unknown data item '{value}': choose among inmail, message, note and call."),
                field="items",
                value=value,
            ) from None
    if not items:
        raise InvalidInputError(N_("Choose at least one data item to write back."), field="items")
    return frozenset(items)


@dataclass(frozen=True)
class Delivery:
    """An activity's outbox entry: where its delivery stands.

    Attributes:
        state: See :class:`DeliveryState`.
        hold: Why the author may not write back (state ``waiting_for_seat``), else None.
        attempts: Failed attempts in a row (0 after a success or a retry by hand).
        next_attempt_at: When a ``failing`` entry is tried again.
        error_code / error_message: Dynamics' error of the last failed attempt (kept until a success).
        regarding: The record it was last written on (None before the first delivery).
        crm_table / crm_id: Where it is written (:data:`ITEM_TABLES`, :func:`crm_activity_id`).
        delivered_version: The activity version last written (an edit raises the activity's version above it).
        delivered_at: When it was last written.
    """

    state: DeliveryState
    hold: SeatHold | None
    attempts: int
    next_attempt_at: datetime | None
    error_code: str | None
    error_message: str | None
    regarding: Regarding | None
    crm_table: str
    crm_id: str
    delivered_version: int | None
    delivered_at: datetime | None


@dataclass(frozen=True)
class Activity:
    """A stored activity and its delivery.

    Attributes:
        id: Ours.
        author_user_id: The workspace user (seller) who logged it.
        version: 1 when captured, raised by each edit.
        participants: Other workspace people it involves (:attr:`ActivityDraft.participants`).
    """

    id: uuid.UUID
    author_user_id: uuid.UUID
    client_id: str
    item: DataItem
    person_id: uuid.UUID | None
    company_id: uuid.UUID | None
    subject: str | None
    body: str
    direction: Direction
    occurred_at: datetime
    conversation_id: str | None
    version: int
    created_at: datetime
    updated_at: datetime
    delivery: Delivery
    participants: tuple[uuid.UUID, ...] = ()

    @property
    def title(self) -> str:
        """The subject written to the CRM (:attr:`ActivityDraft.title`)."""
        return activity_title(self.subject, self.body)


@dataclass(frozen=True)
class StatusCount:
    """One row of the writeback status: how many activities of one item and author are in one state (and hold)."""

    item: DataItem
    author_user_id: uuid.UUID
    state: DeliveryState
    hold: SeatHold | None
    count: int
