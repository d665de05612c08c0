"""Importing the CRM's users (``systemuser``) and matching every seat against them.

Shared by the connect flow (which imports the users right after a successful connection, on the same CRM
session) and by seat management (import on demand).
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Iterable
from dataclasses import dataclass

from salesbridge.crm.ports import CrmReader, CrmRecord, LookupValue, RecordQuery
from salesbridge.domain.seat_matching import CrmUserFacts, CrmUserIndex, MatchOutcome, SeatHolderFacts
from salesbridge.domain.workspace import CrmUser, CrmUserSync, CrmUserValues
from salesbridge.services.ports import UnitOfWork, UnitOfWorkOpener
from salesbridge.services.writeback_outbox import requeue_after_seat_change

SYSTEMUSER_COLUMNS = (
    "fullname",
    "internalemailaddress",
    "azureactivedirectoryobjectid",
    "isdisabled",
    "accessmode",
    "applicationid",
)
"""The systemuser columns read to import CRM users."""


@dataclass(frozen=True)
class CrmUserImport:
    """What an import of CRM users changed."""

    added: int
    updated: int
    removed: int
    total: int
    assignable: int


def crm_user_facts(row: CrmUser) -> CrmUserFacts:
    """What seat matching needs to know of an imported CRM user (keyed by our id)."""
    return CrmUserFacts(
        key=str(row.id),
        email=row.email,
        entra_object_id=row.entra_object_id,
        is_disabled=row.is_disabled,
        is_application=row.is_application,
        access_mode=row.access_mode,
    )


def crm_user_values(record: CrmRecord) -> CrmUserValues:
    """A systemuser record as the store keeps it."""
    values = record.values
    application = values.get("applicationid")
    object_id = values.get("azureactivedirectoryobjectid")
    access_mode = values.get("accessmode")
    email = values.get("internalemailaddress")
    name = values.get("fullname")
    return CrmUserValues(
        crm_id=record.id,
        full_name=str(name) if name else (str(email) if email else record.id),
        email=str(email).strip() if isinstance(email, str) and email.strip() else None,
        entra_object_id=str(object_id) if isinstance(object_id, str | LookupValue) and object_id else None,
        is_disabled=bool(values.get("isdisabled")),
        is_application=bool(application),
        access_mode=access_mode if isinstance(access_mode, int) and not isinstance(access_mode, bool) else None,
    )


async def import_crm_users(
    store: UnitOfWorkOpener, organization_id: uuid.UUID, reader: CrmReader, *, actor: str
) -> CrmUserImport:
    """Read every systemuser from the CRM, replace the organization's stored CRM users with them, and match every
    seat again; audited. Idempotent: importing twice changes nothing the second time. The store work runs on a
    worker thread, off the event loop.

    Raises:
        CrmError: the CRM could not be read; nothing was changed.
    """
    values: list[CrmUserValues] = []
    async for page in reader.query(RecordQuery(table="systemuser", columns=SYSTEMUSER_COLUMNS)):
        values.extend(crm_user_values(record) for record in page.records)
    return await asyncio.to_thread(_store_crm_users, store, organization_id, values, actor=actor)


def _store_crm_users(
    store: UnitOfWorkOpener, organization_id: uuid.UUID, values: list[CrmUserValues], *, actor: str
) -> CrmUserImport:
    with store(organization_id) as uow:
        change = uow.crm_users.replace_all(values)
        rematch_seats(uow)
        stored = uow.crm_users.list_all()
        result = CrmUserImport(
            added=change.added,
            updated=change.updated,
            removed=change.removed,
            total=len(stored),
            assignable=sum(1 for row in stored if crm_user_facts(row).is_assignable),
        )
        uow.audit.record(
            actor=actor,
            action="crm.users_imported",
            details={"added": result.added, "updated": result.updated, "removed": result.removed},
        )
        uow.commit()
        return result


def rematch_seats(uow: UnitOfWork) -> None:
    """Match every seat of the unit of work's organization against its CRM users, in the unit of work's
    transaction: Entra object id first, then email (see :mod:`salesbridge.domain.seat_matching`). Seats of an
    organization without imported CRM users are ``not_imported``."""
    crm_users = uow.crm_users.list_all()
    index = CrmUserIndex(crm_user_facts(row) for row in crm_users)
    matches: dict[uuid.UUID, tuple[MatchOutcome, uuid.UUID | None]] = {}
    for seat, user in uow.seats.list_with_users():
        if not crm_users:
            matches[seat.id] = (MatchOutcome.NOT_IMPORTED, None)
        else:
            result = index.match(SeatHolderFacts(email=user.email, entra_object_id=user.entra_object_id))
            matches[seat.id] = (result.outcome, uuid.UUID(result.crm_user_key) if result.crm_user_key else None)
    uow.seats.set_matches(matches)
    requeue_after_seat_change(uow)  # a seat now matched to an enabled CRM user lets its activities through


def refresh_crm_users_from_import(uow: UnitOfWork, systemusers: Iterable[CrmRecord]) -> CrmUserSync:
    """Make the CRM users those of the imported ``systemuser`` records and match every seat again, in the unit of
    work's transaction (after an import, no second read of the CRM is needed)."""
    change = uow.crm_users.replace_all(crm_user_values(record) for record in systemusers)
    rematch_seats(uow)
    return change
