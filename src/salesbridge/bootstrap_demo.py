"""The demo's activity writeback (``make demo``, after it connects, imports and matches): what a user sees of
issue 14 end to end, built from the real use cases only.

:func:`demo_writeback` installs the CRM-side app in the sandbox through the installer, turns writeback on for every
data item, gives a second CRM seller a seat whose CRM sync is off (its invitation accepted), logs the activities of
:mod:`salesbridge.sandbox.seeds.demo_activities` as the demo's sellers through the capture service, and runs the
drainer once. Composition-root code like :mod:`salesbridge.bootstrap` (which stays the place that builds services);
kept apart so that the demo's wiring does not grow it. Its heavy imports are inside the functions, as there.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Final
from urllib.parse import quote

from salesbridge.domain.writeback import DeliveryState

if TYPE_CHECKING:
    from salesbridge.bootstrap import DemoWorkspace
    from salesbridge.crm.dynamics import DynamicsConnector
    from salesbridge.domain.clock import Clock
    from salesbridge.domain.people import Person
    from salesbridge.domain.workspace import CrmCredentials
    from salesbridge.domain.writeback import Activity, ActivityDraft
    from salesbridge.sandbox.seeds.demo_activities import DemoActivityText
    from salesbridge.services.ports import StoreAccess, UnitOfWork
    from salesbridge.services.writeback import WritebackStatus
    from salesbridge.sync.writeback import DrainSummary

PEOPLE_PAGE: Final = 200
"""People read at a time while looking for one the CRM lacks."""


@dataclass(frozen=True)
class DemoActivity:
    """An activity the demo logged, as it stands after the drain, with who logged it and whom it concerns."""

    activity: Activity
    author_email: str
    person_name: str

    @property
    def reason(self) -> str:
        """Where its delivery stands, in words (English): "Written to your CRM", "Waiting for a CRM match"…"""
        from salesbridge.services.activities import delivery_reason

        return delivery_reason(self.activity.delivery).read(str)


@dataclass(frozen=True)
class DemoWriteback:
    """What :func:`demo_writeback` did, and where writeback stands after its drain.

    Attributes:
        app_created: What the installer created in the CRM (empty when the app was installed already).
        seller_email: The seller who logged the InMails, message, call and notes (the demo's seller).
        held_seller_email: The second seller, whose seat's CRM sync is off.
        person_name / contact_id: The person the delivered activities concern, and the CRM contact tied to them.
        activities: Every activity logged, as it stands after the drain (in the order of logging).
        drain: What the drain did (a second run delivers nothing new).
        status: The organization's writeback status after the drain.
    """

    app_created: tuple[str, ...]
    seller_email: str
    held_seller_email: str
    person_name: str
    contact_id: str
    activities: tuple[DemoActivity, ...]
    drain: DrainSummary
    status: WritebackStatus = field(repr=False)

    @property
    def delivered(self) -> int:
        """Activities of the organization written to the CRM."""
        return self.status.totals[DeliveryState.DELIVERED]

    def waiting(self) -> dict[str, int]:
        """Activities of the organization waiting, per reason in words (English)."""
        from salesbridge.services.activities import waiting_reason

        return {waiting_reason(key).read(str): count for key, count in sorted(self.status.waiting.items())}

    def by_reason(self) -> dict[str, list[DemoActivity]]:
        """The logged activities grouped by where their delivery stands, in words; delivered first."""
        grouped: dict[str, list[DemoActivity]] = {}
        delivered_first = sorted(
            self.activities, key=lambda logged: logged.activity.delivery.state is not DeliveryState.DELIVERED
        )
        for logged in delivered_first:
            grouped.setdefault(logged.reason, []).append(logged)
        return grouped


async def demo_writeback(
    store: StoreAccess,
    workspace: DemoWorkspace,
    *,
    sessions: Callable[[CrmCredentials], DynamicsConnector] | None = None,
    clock: Clock | None = None,
) -> DemoWriteback:
    """Show activity writeback on the demo workspace (see the module), after its first import and matching run.

    Idempotent: running it again installs nothing, seats nobody, logs nothing new (client ids are fixed) and
    delivers nothing twice (the CRM rows have fixed ids). Store work runs on worker threads.

    Args:
        sessions: Opens CRM sessions able to install the app and write activities (bootstrap's
            ``dynamics_session`` when None).
        clock: Timezone-aware UTC now (the store's when None); activities are dated before it.

    Raises:
        CrmAppPrivilegesError, CrmAppBlockedError: the CRM refused the app (nothing is logged).
        ConfigError: the workspace holds no person tied to a CRM contact, or none the CRM lacks; or the CRM has no
            user left for the second seller's seat.
    """
    import asyncio

    from salesbridge.bootstrap import dynamics_session
    from salesbridge.domain.writeback import WritebackSettings
    from salesbridge.services.crm_app import install_crm_app
    from salesbridge.services.organizations import require_organization
    from salesbridge.services.writeback import set_writeback_settings, writeback_status
    from salesbridge.store.uow import utc_now
    from salesbridge.sync.writeback import drain_organization

    sessions = sessions or dynamics_session
    clock = clock or utc_now
    slug = workspace.organization
    organization_id = await asyncio.to_thread(require_organization, store, slug)
    installed = await install_crm_app(store, sessions, slug=slug, actor=workspace.admin_email)
    settings = WritebackSettings(enabled=True)  # every data item
    await set_writeback_settings(store, sessions, organization_id, settings, actor=workspace.admin_email)
    held_seller = await asyncio.to_thread(_seller_without_crm_sync, store, workspace)
    people = await asyncio.to_thread(_demo_people, store, organization_id)
    logged = await asyncio.to_thread(
        _log_demo_activities, store, organization_id, workspace, held_seller, people, clock
    )
    drain = await drain_organization(store, sessions, organization_id, clock=clock)
    activities = await asyncio.to_thread(_current, store, organization_id, [activity for activity, _, _ in logged])
    return DemoWriteback(
        app_created=tuple(str(item) for item in installed.created),
        seller_email=workspace.seller_email,
        held_seller_email=held_seller,
        person_name=people.matched_name,
        contact_id=people.contact_id,
        activities=tuple(
            DemoActivity(activity, author, person)
            for activity, (_, author, person) in zip(activities, logged, strict=True)
        ),
        drain=drain,
        status=await asyncio.to_thread(writeback_status, store, organization_id),
    )


def _seller_without_crm_sync(store: StoreAccess, workspace: DemoWorkspace) -> str:
    """The email of a second seller with an active seat whose CRM sync is off: the administrator assigns the next
    CRM user a seat, the seller accepts with the demo's password, and the administrator turns "Sync CRM for all
    seats" off and that seat's CRM sync off. A seller seated by an earlier run is kept."""
    from salesbridge.domain.workspace import SeatState
    from salesbridge.errors import ConfigError
    from salesbridge.services.accounts import AccountService
    from salesbridge.services.seats import SeatService
    from salesbridge.store.uow import utc_now

    slug, admin = workspace.organization, workspace.admin_email
    seats = SeatService(store, clock=utc_now)
    known = {admin, workspace.seller_email}
    seated = [
        seat
        for seat in seats.overview(slug).seats
        if seat.state is SeatState.ACTIVE and seat.email not in known and seat.crm_user is not None
    ]
    if not seated:
        assignable = seats.assignable_crm_users(slug)
        if not assignable:
            raise ConfigError("The demo CRM has no user left to give a second seller's seat to.")
        (invitation,) = seats.assign_from_crm(slug, [assignable[0].id], actor=admin)
        AccountService(store, clock=utc_now).accept_invitation(
            invitation.token.get_secret_value(), workspace.password, invitation.display_name
        )
        seated = [seats.seat(slug, invitation.seat_id)]
    seat = min(seated, key=lambda view: view.email)
    seats.set_sync_all_seats(slug, enabled=False, actor=admin)
    seats.set_seat_crm_sync(slug, seat.id, enabled=False, actor=admin)
    return seat.email


@dataclass(frozen=True)
class _DemoPeople:
    matched: uuid.UUID
    matched_name: str
    matched_first: str
    contact_id: str
    unmatched: uuid.UUID
    unmatched_name: str
    unmatched_first: str


def _demo_people(store: StoreAccess, organization_id: uuid.UUID) -> _DemoPeople:
    """The first person (by contact id) tied to a CRM contact whose account has an open opportunity (else to any
    contact: the seller's first InMail, older than the opportunity, makes it influenced pipeline on Reports), and
    the first person (by name) tied to nothing whose company is tied to nothing either (an activity on them waits
    for a CRM match).

    Raises:
        ConfigError: the workspace has no such person.
    """
    from salesbridge.errors import ConfigError

    with store(organization_id, read_only=True) as uow:
        accounts_in_play = {
            record.parent_id
            for record in uow.crm_records.records("opportunity")
            if record.parent_id and record.state_code == 0
        }
        contacts = {record.crm_id: record.parent_id for record in uow.crm_records.records("contact")}
        ties = [
            link for link in uow.matches.links("contact", list(contacts)).values() if link.is_tie and link.target_id
        ]
        tie = min(ties, key=lambda link: (contacts[link.crm_id] not in accounts_in_play, link.crm_id), default=None)
        matched = uow.people.get(tie.target_id) if tie is not None and tie.target_id is not None else None
        unmatched = _a_person_the_crm_lacks(uow)
    if tie is None or matched is None or matched.id is None:
        raise ConfigError("The demo workspace holds no person matched with a CRM contact.")
    if unmatched is None or unmatched.id is None:
        raise ConfigError("The demo workspace holds no person the CRM lacks.")
    return _DemoPeople(
        matched=matched.id,
        matched_name=matched.full_name,
        matched_first=matched.first_name or matched.full_name,
        contact_id=tie.crm_id,
        unmatched=unmatched.id,
        unmatched_name=unmatched.full_name,
        unmatched_first=unmatched.first_name or unmatched.full_name,
    )


def _a_person_the_crm_lacks(uow: UnitOfWork) -> Person | None:
    offset = 0
    while people := uow.people.search("", limit=PEOPLE_PAGE, offset=offset):
        offset += len(people)
        ids = [person.id for person in people if person.id is not None]
        companies = {person.company_id for person in people if person.company_id is not None}
        tied = {link.target_id for link in uow.matches.links_to([*ids, *companies]) if link.is_tie}
        for person in people:
            if person.id not in tied and (person.company_id is None or person.company_id not in tied):
                return person
    return None


def _log_demo_activities(
    store: StoreAccess,
    organization_id: uuid.UUID,
    workspace: DemoWorkspace,
    held_seller: str,
    people: _DemoPeople,
    clock: Clock,
) -> list[tuple[uuid.UUID, str, str]]:
    """Log the seeded activities through the capture service (idempotent by their client ids): each one's id, its
    author's email and the name of the person it concerns."""
    from salesbridge.sandbox.seeds.demo_activities import (
        BY_A_SELLER_WITHOUT_CRM_SYNC,
        ON_A_PERSON_THE_CRM_LACKS,
        ON_THE_MATCHED_PERSON,
    )
    from salesbridge.services.activities import log_activity

    with store(organization_id, read_only=True) as uow:
        seller, held = (_user_id(uow, email) for email in (workspace.seller_email, held_seller))
    now = clock()
    matched = (people.matched, people.matched_first, people.matched_name)
    unmatched = (people.unmatched, people.unmatched_first, people.unmatched_name)
    planned = [
        *((seller, workspace.seller_email, text, matched) for text in ON_THE_MATCHED_PERSON),
        (seller, workspace.seller_email, ON_A_PERSON_THE_CRM_LACKS, unmatched),
        (held, held_seller, BY_A_SELLER_WITHOUT_CRM_SYNC, matched),
    ]
    logged = []
    for author, email, text, (person_id, first_name, name) in planned:
        # A demo run again finds its activities by their fixed client ids: logging them again would send another
        # time under the same id, which capture refuses (a reused client id).
        with store(organization_id, read_only=True) as uow:
            activity = uow.activities.find_by_client_id(author, text.client_id)
        if activity is None:
            activity, _ = log_activity(
                store, organization_id, author, _draft(text, person_id, first_name, now=now), clock=clock
            )
        logged.append((activity.id, email, name))
    return logged


def _user_id(uow: UnitOfWork, email: str) -> uuid.UUID:
    user = uow.users.find_by_email(email)
    if user is None:
        raise AssertionError(f"the demo's seller {email} is not a user")  # seated above: a bug if missing
    return user.id


def _draft(text: DemoActivityText, person_id: uuid.UUID, first_name: str, *, now: datetime) -> ActivityDraft:
    from salesbridge.domain.writeback import ActivityDraft, DataItem, Direction

    return ActivityDraft(
        client_id=text.client_id,
        item=DataItem(text.item),
        person_id=person_id,
        company_id=None,
        subject=text.subject.format(first=first_name) if text.subject else None,
        body=text.body.format(first=first_name),
        direction=Direction.INCOMING if text.incoming else Direction.OUTGOING,
        occurred_at=now - timedelta(hours=text.hours_ago),
        conversation_id=text.conversation_id,
    )


def _current(store: StoreAccess, organization_id: uuid.UUID, activity_ids: list[uuid.UUID]) -> tuple[Activity, ...]:
    from salesbridge.services.activities import get_activity

    return tuple(get_activity(store, organization_id, activity_id) for activity_id in activity_ids)


def activities_query(api_url: str, contact_id: str) -> str:
    """The sandbox Web API query listing the activities regarding the CRM contact ``contact_id`` (its timeline:
    InMail, messages and phone calls, with their owner and creator)."""
    select = "subject,activitytypecode,_ownerid_value,_createdby_value,_createdonbehalfby_value"
    return (
        f"{api_url.rstrip('/')}/activitypointers?$select={select}"
        f"&$filter={quote(f'_regardingobjectid_value eq {contact_id}')}"
    )
