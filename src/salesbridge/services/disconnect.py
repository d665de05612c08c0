"""Disconnect CRM sync, optionally cleaning up all previously imported CRM data (the admin guide's "Disconnect
CRM Sync" with "Yes, clean up all previously imported CRM data").

Disconnecting cancels the organization's queued and running imports, and deletes the stored connection with its
encrypted secret. With the purge, the imported data goes too (see :mod:`salesbridge.sync.purge` for what is
deleted and kept per table) and every seat is matched again, so no seat keeps an "In CRM" badge.

Two transactions, in this order, so that no import page can commit after the purge read its rows:

1. cancel the imports and delete the connection. A page of a running import that already passed its guard holds
   the run's row, so this waits for that page to commit; every later page finds its run failed and stops
   without writing.
2. with the purge: delete the imported data, match every seat again, and audit; without it, the audit goes into
   the first transaction.

If the second transaction fails, the organization is disconnected with its data still there; disconnecting again
(idempotent) finishes the purge.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from salesbridge.domain.seat_matching import MatchOutcome
from salesbridge.services.crm_users import rematch_seats
from salesbridge.services.organizations import require_organization
from salesbridge.services.ports import StoreAccess, UnitOfWork
from salesbridge.sync.purge import PurgeReport, pending_purge, purge_imported_crm_data

DISCONNECTED_ERROR = "disconnected"
"""The error of the imports a disconnect cancels."""

AUDIT_ACTION = "crm.disconnected"


@dataclass(frozen=True)
class DisconnectOutcome:
    """What a disconnect did.

    Attributes:
        organization: The organization's slug.
        org_url: The Dynamics organization that was connected (or whose data remained), when known.
        was_connected: A stored connection (credentials) was deleted; False when there was none already.
        purged: The purge was asked for.
        cancelled_imports: Queued or running imports that were failed with the error ``disconnected``.
        deleted: Rows the purge deleted, per table (all zero without the purge).
        seats_reset: Seats that had a CRM match and lost it with the purge.
    """

    organization: str
    org_url: str | None
    was_connected: bool
    purged: bool
    cancelled_imports: int
    deleted: PurgeReport = field(default_factory=PurgeReport)
    seats_reset: int = 0

    @property
    def changed_anything(self) -> bool:
        """False for a repeated disconnect that found nothing to do."""
        return self.was_connected or self.cancelled_imports > 0 or self.deleted.total > 0 or self.seats_reset > 0

    def to_json(self) -> dict[str, Any]:
        """A JSON-ready mapping (no secret; values only: ``salesbridge.web.localized.disconnect_json`` adds the
        outcome in words, in the reader's language)."""
        return {
            "organization": self.organization,
            "org_url": self.org_url,
            "was_connected": self.was_connected,
            "purged": self.purged,
            "cancelled_imports": self.cancelled_imports,
            "deleted": self.deleted.counts(),
            "seats_reset": self.seats_reset,
        }


@dataclass(frozen=True)
class DisconnectPreview:
    """What a disconnect would do now, to say before asking for confirmation.

    Attributes:
        org_url: The connected Dynamics organization (or the origin of the remaining data), when known.
        connected: A connection is stored (its credentials would be deleted).
        active_imports: Queued or running imports that would be cancelled.
        purge: What the purge would delete, per table.
    """

    organization: str
    org_url: str | None
    connected: bool
    active_imports: int
    purge: PurgeReport


def disconnect_preview(store: StoreAccess, *, slug: str) -> DisconnectPreview:
    """What :func:`disconnect_crm` would cancel and delete now. Reads only.

    Raises:
        UnknownOrganizationError: no organization has ``slug``.
    """
    organization_id = require_organization(store, slug)
    with store(organization_id, read_only=True) as uow:
        connection = uow.crm_connection.find()
        return DisconnectPreview(
            organization=slug,
            org_url=connection.org_url if connection is not None else uow.imported_data.origin_org_url(),
            connected=connection is not None,
            active_imports=uow.imported_data.active_imports(),
            purge=pending_purge(uow),
        )


def disconnect_crm(store: StoreAccess, *, slug: str, purge: bool, actor: str) -> DisconnectOutcome:
    """Disconnect the organization ``slug`` from its CRM; with ``purge``, also delete all previously imported CRM
    data and reset every seat's CRM match. Audited as ``crm.disconnected`` (with ``purge`` and the counts) unless
    there was nothing to do.

    Idempotent: disconnecting again is harmless (a repeated call with ``purge`` finishes a purge that an earlier
    call did not ask for, or that failed).

    Raises:
        UnknownOrganizationError: no organization has ``slug``.
        sqlalchemy.exc.SQLAlchemyError: the store failed; see the module docstring for what may have happened.
    """
    organization_id = require_organization(store, slug)
    with store(organization_id) as uow:
        connection = uow.crm_connection.find()
        org_url = connection.org_url if connection is not None else uow.imported_data.origin_org_url()
        cancelled = uow.imported_data.cancel_imports(error=DISCONNECTED_ERROR)
        was_connected = uow.crm_connection.delete()
        outcome = DisconnectOutcome(
            organization=slug,
            org_url=org_url,
            was_connected=was_connected,
            purged=purge,
            cancelled_imports=cancelled,
        )
        if not purge:
            if outcome.changed_anything:
                _audit(uow, outcome, actor=actor)
            uow.commit()
            return outcome
        uow.commit()
    with store(organization_id) as uow:
        matched_before = sum(
            1
            for seat, _user in uow.seats.list_with_users()
            if seat.crm_user_id is not None or seat.match is not MatchOutcome.NOT_IMPORTED
        )
        deleted = purge_imported_crm_data(uow)
        rematch_seats(uow)
        outcome = DisconnectOutcome(
            organization=slug,
            org_url=org_url,
            was_connected=was_connected,
            purged=True,
            cancelled_imports=cancelled,
            deleted=deleted,
            seats_reset=matched_before,
        )
        if outcome.changed_anything:
            _audit(uow, outcome, actor=actor)
        uow.commit()
    return outcome


def _audit(uow: UnitOfWork, outcome: DisconnectOutcome, *, actor: str) -> None:
    uow.audit.record(
        actor=actor,
        action=AUDIT_ACTION,
        details={
            "org_url": outcome.org_url,
            "purge": outcome.purged,
            "was_connected": outcome.was_connected,
            "cancelled_imports": outcome.cancelled_imports,
            "deleted": outcome.deleted.counts(),
            "seats_reset": outcome.seats_reset,
        },
    )
