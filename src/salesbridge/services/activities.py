"""Capturing activities (issue 14): what sellers log from the API and the console — InMail, messages, notes and
calls on a person or a company — and edits of them.

Each accepted activity enters the outbox in the transaction that stores it (one row, :mod:`the store
<salesbridge.services.ports.writeback>`), in its first state:

* ``not_written_back`` when writeback is off or its data item is not chosen (kept in the workspace; a backfill
  delivers it later);
* ``waiting_for_seat`` when its author's seat may not write back (:func:`seat_hold_of` says why);
* ``queued`` otherwise, and the organization's drain is deferred in the same transaction
  (:func:`~salesbridge.services.writeback_outbox.request_drain`).

Whether the person or company has a CRM match is the drainer's to decide: an activity is always accepted, and waits
for a match when there is none yet.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Collection, Mapping
from dataclasses import dataclass, field
from typing import Final

from salesbridge.domain.clock import Clock
from salesbridge.domain.writeback import (
    CRM_APP_MISSING_CODE,
    Activity,
    ActivityDraft,
    Delivery,
    DeliveryState,
    SeatHold,
)
from salesbridge.errors import (
    ActivityChangedError,
    AdministratorRequiredError,
    ClientIdReusedError,
    ConcurrentWriteError,
    InvalidInputError,
    RowNotFoundError,
)
from salesbridge.message_ids import N_
from salesbridge.services.people import COMPANY_NOT_FOUND, PERSON_NOT_FOUND
from salesbridge.services.ports import StoreAccess, UnitOfWork
from salesbridge.services.writeback_outbox import EDITED_REASON, LOGGED_REASON, request_drain
from salesbridge.sync.writeback import seller_of

MAX_PAGE: Final = 200
"""The most activities one list returns."""

NOT_AUTHOR: Final = N_("Only its author or an administrator can edit this activity.")


def seat_hold_of(uow: UnitOfWork, author_user_id: uuid.UUID) -> SeatHold | None:
    """Why ``author_user_id``'s activities may not be written back now, or None when they may: a seat that is
    active, with CRM sync on (its own switch, or the organization's "Sync CRM for all seats"), matched to an
    enabled CRM user. Reads only, in the caller's unit of work. The drainer's
    :func:`~salesbridge.sync.writeback.seller_of` decides it, so capture and delivery never disagree."""
    return seller_of(uow, author_user_id).hold


PARTICIPANT_NOT_FOUND: Final = N_("The participant {id} is not a person of this organization.")


def _require_subject(uow: UnitOfWork, draft: ActivityDraft) -> None:
    if draft.person_id is not None and uow.people.get(draft.person_id) is None:
        raise RowNotFoundError(PERSON_NOT_FOUND)
    if draft.company_id is not None and uow.companies.get(draft.company_id) is None:
        raise RowNotFoundError(COMPANY_NOT_FOUND)
    for participant in draft.participants:
        # 422 naming the id, not a bare 404: the request names up to 50 people, the caller must know which one.
        # Another organization's person is "not in this organization" alike: nothing of it is revealed.
        if uow.people.get(participant) is None:
            raise InvalidInputError(PARTICIPANT_NOT_FOUND, field="participants", id=str(participant))


def _same_activity(stored: Activity, draft: ActivityDraft) -> Activity:
    """``stored`` when ``draft`` is a retry of it: the same of what an edit cannot change (its subject and body may
    differ, edited since).

    Raises:
        ClientIdReusedError: ``draft`` is another activity under the same client id.
    """
    logged_as = (
        stored.item,
        stored.person_id,
        stored.company_id,
        stored.occurred_at,
        stored.direction,
        stored.conversation_id,
        stored.participants,
    )
    sent = (
        draft.item,
        draft.person_id,
        draft.company_id,
        draft.occurred_at,
        draft.direction,
        draft.conversation_id,
        draft.participants,
    )
    if logged_as != sent:
        raise ClientIdReusedError(activity_id=stored.id)
    return stored


def log_activity(
    store: StoreAccess,
    organization_id: uuid.UUID,
    author_user_id: uuid.UUID,
    draft: ActivityDraft,
    *,
    clock: Clock,  # noqa: ARG001 - the store's clock stamps the row; kept for the callers' symmetry with the drain
) -> tuple[Activity, bool]:
    """Store the activity ``author_user_id`` logged, with its outbox entry in its first state (see the module),
    deferring the drain in the same transaction when it is queued.

    Idempotent by the author's client id: sending the same ``draft.client_id`` again stores nothing and returns the
    stored activity (even when the two requests race: the loser reads the winner's), provided it is the same
    activity (type, person or company, time, direction, conversation and participants; an edit may have changed the
    text).

    Returns:
        The stored activity, and True when this call stored it.

    Raises:
        RowNotFoundError: the person or company is not the organization's.
        ClientIdReusedError: the author used ``draft.client_id`` for a different activity.
    """
    for attempt in (1, 2):
        try:
            with store(organization_id) as uow:
                stored = uow.activities.find_by_client_id(author_user_id, draft.client_id)
                if stored is not None:
                    return _same_activity(stored, draft), False
                _require_subject(uow, draft)
                hold = None
                if not uow.writeback_settings.get().writes(draft.item):
                    state = DeliveryState.NOT_WRITTEN_BACK
                else:
                    hold = seat_hold_of(uow, author_user_id)
                    state = DeliveryState.WAITING_FOR_SEAT if hold is not None else DeliveryState.QUEUED
                activity, created = uow.activities.add(author_user_id, draft, state=state, hold=hold)
                if not created:
                    _same_activity(activity, draft)
                if created and state is DeliveryState.QUEUED:
                    request_drain(uow, reason=LOGGED_REASON)
                uow.commit()
                return activity, created
        except ConcurrentWriteError:
            if attempt == 2:
                raise
    raise AssertionError("unreachable")  # pragma: no cover


def edit_activity(
    store: StoreAccess,
    organization_id: uuid.UUID,
    actor_user_id: uuid.UUID,
    activity_id: uuid.UUID,
    *,
    subject: str | None,
    body: str,
    expected_version: int | None,
    keep_subject: bool = False,
) -> Activity:
    """Change an activity's subject and body (its author, or an administrator). The text obeys the capture's
    rules. A delivered activity goes back to the queue and the drain is deferred: its CRM row is updated. So does a
    parked one (attempts reset): the edit may be what Dynamics refused it for.

    ``keep_subject``: change the body only (``subject`` is ignored). The subject kept is the one the edit is applied
    to: an edit that lands between reading it and writing is not undone (the edit is made again on the new
    version; ``expected_version``, when given, still refuses it).

    Raises:
        RowNotFoundError: no such activity in the organization (another organization's included).
        AdministratorRequiredError: the actor is neither its author nor an administrator.
        ActivityChangedError: ``expected_version`` is not the activity's version any more.
        InvalidInputError: the subject or body breaks a rule (``field`` names it).
    """
    for attempt in (1, 2):
        try:
            return _edit(
                store,
                organization_id,
                actor_user_id,
                activity_id,
                subject=subject,
                body=body,
                expected_version=expected_version,
                keep_subject=keep_subject,
            )
        except ActivityChangedError:
            if expected_version is not None or not keep_subject or attempt == 2:
                raise
    raise AssertionError("unreachable")  # pragma: no cover


def _edit(
    store: StoreAccess,
    organization_id: uuid.UUID,
    actor_user_id: uuid.UUID,
    activity_id: uuid.UUID,
    *,
    subject: str | None,
    body: str,
    expected_version: int | None,
    keep_subject: bool,
) -> Activity:
    with store(organization_id) as uow:
        stored = uow.activities.get(activity_id)
        if stored.author_user_id != actor_user_id and not uow.users.get(actor_user_id).is_admin:
            raise AdministratorRequiredError(NOT_AUTHOR)
        if keep_subject:
            subject = stored.subject
            # The subject read above is written back: pinned to its version, so another edit committed meanwhile
            # (PostgreSQL reads without locking) fails this one instead of being undone.
            expected_version = stored.version if expected_version is None else expected_version
        checked = ActivityDraft(
            client_id=stored.client_id,
            item=stored.item,
            person_id=stored.person_id,
            company_id=stored.company_id,
            subject=subject,
            body=body,
            direction=stored.direction,
            occurred_at=stored.occurred_at,
            conversation_id=stored.conversation_id,
        )
        edited = uow.activities.edit(
            activity_id, subject=checked.subject, body=checked.body, expected_version=expected_version
        )
        if edited.delivery.state is DeliveryState.QUEUED and stored.delivery.state is not DeliveryState.QUEUED:
            request_drain(uow, reason=EDITED_REASON)
        uow.commit()
        return edited


def list_activities(
    store: StoreAccess,
    organization_id: uuid.UUID,
    *,
    person_id: uuid.UUID | None = None,
    company_id: uuid.UUID | None = None,
    author_user_id: uuid.UUID | None = None,
    states: Collection[DeliveryState] = (),
    limit: int = 50,
    offset: int = 0,
) -> list[Activity]:
    """The organization's activities matching every given filter, newest first; ``limit`` at most
    :data:`MAX_PAGE`. Reads only."""
    with store(organization_id, read_only=True) as uow:
        return uow.activities.search(
            person_id=person_id,
            company_id=company_id,
            author_user_id=author_user_id,
            states=states,
            limit=max(1, min(limit, MAX_PAGE)),
            offset=max(0, offset),
        )


def get_activity(store: StoreAccess, organization_id: uuid.UUID, activity_id: uuid.UUID) -> Activity:
    """The organization's activity ``activity_id``. Reads only.

    Raises:
        RowNotFoundError: no such activity in the organization (another organization's included).
    """
    with store(organization_id, read_only=True) as uow:
        return uow.activities.get(activity_id)


# --------------------------------------------------------------------------------------- delivery in words

_HOLD_REASONS: Final[dict[SeatHold, str]] = {
    SeatHold.NO_SEAT: N_("Waiting: the seller has no seat"),
    SeatHold.SEAT_INACTIVE: N_("Waiting: the seller's seat is not active yet"),
    SeatHold.CRM_SYNC_OFF: N_("Waiting: CRM sync is off for the seller's seat"),
    SeatHold.NO_CRM_USER: N_("Waiting: the seller is not matched to a CRM user"),
    SeatHold.CRM_USER_DISABLED: N_("Waiting: the seller's CRM user is disabled"),
}

_STATE_REASONS: Final[dict[DeliveryState, str]] = {
    DeliveryState.QUEUED: N_("Queued for your CRM"),
    DeliveryState.WAITING_FOR_MATCH: N_("Waiting for a CRM match"),
    DeliveryState.WAITING_FOR_SEAT: N_("Waiting for the seller's seat"),
    DeliveryState.NOT_WRITTEN_BACK: N_("Kept in the workspace: writeback is off for this kind of activity"),
    DeliveryState.FAILING: N_("Failing, retried automatically: {error}"),
    DeliveryState.PARKED: N_("Not delivered (retry it once fixed): {error}"),
    DeliveryState.DELIVERED: N_("Written to your CRM"),
}

_NO_ERROR: Final = N_("no error recorded")
CRM_APP_MISSING_REASON: Final = N_(
    "Waiting for the CRM app: its tables are missing in Dynamics 365 (removed?). Reinstall the app (CRM Settings, "
    "Get it now; or salesbridge crm app install): delivery then resumes by itself, nothing is lost."
)


@dataclass(frozen=True)
class DeliveryReason:
    """Where an activity's delivery stands, in words: a message id of the catalogue and its fields (Dynamics' own
    error text is a field, shown as Dynamics wrote it)."""

    message: str
    fields: Mapping[str, str] = field(default_factory=dict)

    def read(self, translate: Callable[[str], str]) -> str:
        """The reason in the reader's language (``translate``: a message id into it)."""
        fields = {name: translate(value) if value == _NO_ERROR else value for name, value in self.fields.items()}
        return translate(self.message).format(**fields)


def hold_reason(hold: SeatHold) -> DeliveryReason:
    """Why activities wait for their author's seat ("Waiting: CRM sync is off for the seller's seat"…)."""
    return DeliveryReason(_HOLD_REASONS[hold])


def delivery_reason(delivery: Delivery) -> DeliveryReason:
    """The reason shown beside an activity ("Waiting for a CRM match", "Waiting: CRM sync is off for the seller's
    seat", "Failing, retried automatically: <Dynamics' error>"…)."""
    if delivery.state is DeliveryState.WAITING_FOR_SEAT and delivery.hold is not None:
        return hold_reason(delivery.hold)
    if delivery.state is DeliveryState.FAILING and delivery.error_code == CRM_APP_MISSING_CODE:
        return DeliveryReason(CRM_APP_MISSING_REASON)
    if delivery.state in (DeliveryState.FAILING, DeliveryState.PARKED):
        error = delivery.error_message or delivery.error_code or _NO_ERROR
        return DeliveryReason(_STATE_REASONS[delivery.state], {"error": error})
    return DeliveryReason(_STATE_REASONS[delivery.state])


def waiting_reason(key: str) -> DeliveryReason:
    """A waiting reason of the writeback status (its ``waiting`` keys: ``waiting_for_match``, or a seat hold's
    name), in words.

    Raises:
        ValueError: ``key`` is neither.
    """
    if key == DeliveryState.WAITING_FOR_MATCH.value:
        return DeliveryReason(_STATE_REASONS[DeliveryState.WAITING_FOR_MATCH])
    return DeliveryReason(_HOLD_REASONS[SeatHold(key)])
