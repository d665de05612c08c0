"""A seller's home: their lists with their sizes, what changed in the CRM for their records since their previous
visit, their activity waiting for a CRM match, and their recent activity on its way to the CRM.

"Their records" are the CRM records in their lists, the records whose account is in their lists, and those their
seat's CRM user owns (or owned, before a change of owner). The changes are those the import noticed
(:mod:`salesbridge.domain.crm_changes`), written with the page that brought them.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Final

from salesbridge.domain.clock import Clock
from salesbridge.domain.crm_changes import ChangeKind, NoticedChange
from salesbridge.domain.lists import SavedList
from salesbridge.domain.match_links import LinkBand, TargetKind
from salesbridge.domain.workspace import SeatState
from salesbridge.domain.writeback import Activity, DeliveryState
from salesbridge.services.ports import StoreAccess, UnitOfWork

VISIT_GAP: Final = timedelta(hours=1)
"""Openings of the home less than this apart are one visit (reloading keeps showing the same changes)."""
FIRST_VISIT_WINDOW: Final = timedelta(days=7)
"""On a first visit, the changes of this long before are shown."""
CHANGES_SHOWN: Final = 50
ACTIVITIES_SHOWN: Final = 10


@dataclass(frozen=True)
class CrmStanding:
    """A user's seat as the console sees it: whether its CRM sync is on (an active seat whose own switch, or the
    organization's "Sync CRM for all seats", is on) and its matched CRM user's id (lower case), if any."""

    sync_on: bool
    crm_user_id: str | None


def crm_standing(uow: UnitOfWork, user_id: uuid.UUID) -> CrmStanding:
    """The CRM standing of ``user_id``'s seat (no seat: sync off, no CRM user). Reads only."""
    seat = uow.seats.find_by_user(user_id)
    if seat is None:
        return CrmStanding(sync_on=False, crm_user_id=None)
    crm_user = uow.crm_users.find(seat.crm_user_id) if seat.crm_user_id is not None else None
    sync_on = seat.state is SeatState.ACTIVE and (seat.crm_sync_enabled or uow.organization.get().crm_sync_all_seats)
    return CrmStanding(sync_on=sync_on, crm_user_id=crm_user.crm_id.lower() if crm_user is not None else None)


@dataclass(frozen=True)
class ChangeLine:
    """A noticed change as the home lists it.

    Attributes:
        change: What changed; its ``before``/``after`` are ids for a change of owner.
        record_name: The CRM record's name (None: no longer imported, or nameless).
        before, after: The values to show: owners' names for a change of owner, else the change's own values.
        account_name: The record's account after the change (a job change's new company), if known.
        link: The workspace page of the person or company tied to the record (or, for an opportunity, to its
            account), if any.
        seen_at: When the import saw it.
    """

    change: NoticedChange
    record_name: str | None
    before: str | None
    after: str | None
    account_name: str | None
    link: str | None
    seen_at: datetime

    @property
    def out_of_date(self) -> bool:
        """A job change: the workspace's profile no longer says what the CRM says."""
        return self.change.kind is ChangeKind.JOB


@dataclass(frozen=True)
class SellerHome:
    """What a seller's home shows. ``since``: the previous visit the changes are counted from (None: a first
    visit, the last :data:`FIRST_VISIT_WINDOW`)."""

    lists: list[tuple[SavedList, int]]
    since: datetime | None
    changes: list[ChangeLine]
    waiting: list[Activity]
    recent: list[Activity]
    crm_sync_on: bool
    subjects: dict[uuid.UUID, str] = field(default_factory=dict)
    """The name of the person or company each of ``waiting`` and ``recent`` concerns, by its id."""


_LINKED_TABLES: Final = ("contact", "lead", "account")


def _links(uow: UnitOfWork, keys: Sequence[tuple[str, str]]) -> dict[tuple[str, str], str]:
    links: dict[tuple[str, str], str] = {}
    for table in _LINKED_TABLES:
        ids = [crm_id for key_table, crm_id in keys if key_table == table]
        for crm_id, link in uow.matches.links(table, ids).items() if ids else ():
            if link.band is LinkBand.MATCH and link.target_id is not None:
                path = "people" if link.target_kind is TargetKind.PERSON else "companies"
                links[(table, crm_id)] = f"/{path}/{link.target_id}"
    return links


def _lines(uow: UnitOfWork, found: list[tuple[NoticedChange, datetime]]) -> list[ChangeLine]:
    """The changes with the names and links the home shows (a few queries for all of them)."""
    records = [(change.table, change.crm_id) for change, _ in found]
    accounts = [("account", change.parent_id) for change, _ in found if change.parent_id]
    owners = [
        ("systemuser", value)
        for change, _ in found
        if change.kind is ChangeKind.OWNER
        for value in (change.before, change.after)
        if value
    ]
    names = uow.crm_record_queries.names([*records, *accounts, *owners])
    links = _links(uow, [*records, *accounts])
    lines: list[ChangeLine] = []
    for change, seen_at in found:
        before, after = change.before, change.after
        if change.kind is ChangeKind.OWNER:
            before = names.get(("systemuser", before or ""), before) if before else None
            after = names.get(("systemuser", after or ""), after) if after else None
        account = ("account", change.parent_id or "")
        link = links.get((change.table, change.crm_id))
        if link is None and change.table == "opportunity":
            link = links.get(account)
        lines.append(
            ChangeLine(
                change=change,
                record_name=names.get((change.table, change.crm_id)),
                before=before,
                after=after,
                account_name=names.get(account) if change.parent_id else None,
                link=link,
                seen_at=seen_at,
            )
        )
    return lines


def seller_home(store: StoreAccess, organization_id: uuid.UUID, user_id: uuid.UUID, *, clock: Clock) -> SellerHome:
    """Open ``user_id``'s home at ``clock()``: record the visit and read what it shows (see the module). The
    changes are those seen since the previous visit (openings within :data:`VISIT_GAP` are one visit), at most
    :data:`CHANGES_SHOWN`; activities at most :data:`ACTIVITIES_SHOWN` each, newest first.

    Raises:
        RowNotFoundError: no such user in the organization.
    """
    now = clock()
    with store(organization_id) as uow:
        previous = uow.home_visits.visit(user_id, now=now, gap=VISIT_GAP)
        uow.commit()
        standing = crm_standing(uow, user_id)
        since = previous if previous is not None else now - FIRST_VISIT_WINDOW
        # With CRM sync off the records the seller owns in the CRM are not followed (the home says so): only
        # their lists' records are.
        owner = standing.crm_user_id if standing.sync_on else None
        found = uow.crm_record_changes.for_seller(user_id, owner, since=since, limit=CHANGES_SHOWN)
        waiting = uow.activities.search(
            author_user_id=user_id, states=(DeliveryState.WAITING_FOR_MATCH,), limit=ACTIVITIES_SHOWN
        )
        on_the_way = tuple(state for state in DeliveryState if state is not DeliveryState.WAITING_FOR_MATCH)
        recent = uow.activities.search(author_user_id=user_id, states=on_the_way, limit=ACTIVITIES_SHOWN)
        return SellerHome(
            lists=uow.list_sizes.of_user(user_id),
            since=previous,
            changes=_lines(uow, found),
            waiting=waiting,
            recent=recent,
            crm_sync_on=standing.sync_on,
            subjects=_subjects(uow, [*waiting, *recent]),
        )


def _subjects(uow: UnitOfWork, activities: Sequence[Activity]) -> dict[uuid.UUID, str]:
    """Who each activity is about (at most twice :data:`ACTIVITIES_SHOWN` lookups by id): a seller reads "Note: Met
    at the fair" as nothing without the person's name."""
    names: dict[uuid.UUID, str] = {}
    for activity in activities:
        if activity.person_id is not None and activity.person_id not in names:
            person = uow.people.get(activity.person_id)
            if person is not None:
                names[activity.person_id] = person.full_name
        elif activity.company_id is not None and activity.company_id not in names:
            company = uow.companies.get(activity.company_id)
            if company is not None:
                names[activity.company_id] = company.name
    return names


def author_names(store: StoreAccess, organization_id: uuid.UUID, user_ids: Iterable[uuid.UUID]) -> dict[uuid.UUID, str]:
    """The display names of ``user_ids`` (who logged a teammate's activity); users since deleted are left out. Reads
    only."""
    wanted = set(user_ids)
    if not wanted:
        return {}
    with store(organization_id, read_only=True) as uow:
        return {user.id: user.display_name for user in uow.users.list_all() if user.id in wanted}
