"""Seats: who holds one, whether their CRM sync is on, which CRM user they are, and assigning seats from the CRM.

The rules of matching and of the "In CRM" badge live in :mod:`salesbridge.domain.seat_matching`; this module
applies them to the store. Matching is recomputed for every seat whenever something it depends on changes (CRM
users imported, a seat assigned, an email corrected), so a seat's match is never stale. Every change is audited.
"""

from __future__ import annotations

import asyncio
import secrets
import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from typing import Any

from pydantic import SecretStr

from salesbridge.crm.ports import CrmReader
from salesbridge.domain.seat_matching import MatchOutcome, is_in_crm
from salesbridge.domain.text_rules import checked_email
from salesbridge.domain.workspace import CrmCredentials, CrmUser, Seat, SeatState, User
from salesbridge.errors import InvalidRequestError, RowNotFoundError, SeatLimitError
from salesbridge.message_ids import N_
from salesbridge.services.account_rules import token_digest
from salesbridge.services.crm_users import CrmUserImport, crm_user_facts, import_crm_users, rematch_seats
from salesbridge.services.notifications import InvitationMail, send_invitations
from salesbridge.services.organizations import require_organization
from salesbridge.services.ports import Clock, CrmSessionFactory, Mailer, StoreAccess, UnitOfWork
from salesbridge.services.writeback_outbox import requeue_after_seat_change

DEFAULT_INVITATION_TTL = timedelta(days=14)

_MATCH_LABELS = {
    MatchOutcome.ENTRA_OBJECT_ID: N_("Matched by Microsoft Entra ID"),
    MatchOutcome.EMAIL: N_("Matched by email"),
    MatchOutcome.NO_CRM_USER: N_("Not matched"),
    MatchOutcome.CRM_USER_DISABLED: N_("Not matched"),
    MatchOutcome.APPLICATION_USER: N_("Not matched"),
    MatchOutcome.AMBIGUOUS_EMAIL: N_("Not matched"),
    MatchOutcome.NOT_IMPORTED: N_("Not matched"),
}

_MATCH_REASONS = {
    MatchOutcome.NO_CRM_USER: N_("No CRM user has the email {email}."),
    MatchOutcome.CRM_USER_DISABLED: N_("The CRM user with this email is disabled in Dynamics 365."),
    MatchOutcome.APPLICATION_USER: N_("The CRM user with this email is an application user, not a person."),
    MatchOutcome.AMBIGUOUS_EMAIL: N_("Several CRM users have the email {email}."),
    MatchOutcome.NOT_IMPORTED: N_("The CRM users have not been imported yet."),
}

_MATCH_FIXES = {
    MatchOutcome.NO_CRM_USER: N_("Correct the seat holder's email to the one they use in Dynamics 365."),
    MatchOutcome.CRM_USER_DISABLED: N_("Enable the user in Dynamics 365, or correct the seat holder's email."),
    MatchOutcome.APPLICATION_USER: N_("Correct the seat holder's email to their own CRM user's email."),
    MatchOutcome.AMBIGUOUS_EMAIL: N_("Give each CRM user their own email in Dynamics 365, then import the CRM users."),
    MatchOutcome.NOT_IMPORTED: N_("Connect to the CRM on the CRM Settings page, or import the CRM users."),
}


@dataclass(frozen=True)
class CrmUserView:
    """An imported CRM user as the console shows it."""

    id: uuid.UUID
    crm_id: str
    full_name: str
    email: str | None
    is_disabled: bool
    is_application: bool
    is_assignable: bool

    def to_json(self) -> dict[str, Any]:
        """A JSON-ready mapping."""
        return {
            "id": str(self.id),
            "crm_id": self.crm_id,
            "full_name": self.full_name,
            "email": self.email,
            "is_disabled": self.is_disabled,
            "is_application": self.is_application,
            "is_assignable": self.is_assignable,
        }


@dataclass(frozen=True)
class SeatView:
    """One seat and its holder.

    Attributes:
        crm_sync_enabled: The seat's own switch (counts only when automatic sync for all seats is off).
        crm_sync_active: Whether CRM sync is on for this seat, whichever switch decides.
        match: How the holder matched a CRM user, or why not.
        crm_user: The matched CRM user (also for a disabled or application user found by email).
        in_crm: Whether the seat shows the "In CRM" badge.
    """

    id: uuid.UUID
    user_id: uuid.UUID
    email: str
    display_name: str
    is_admin: bool
    state: SeatState
    crm_sync_enabled: bool
    crm_sync_active: bool
    match: MatchOutcome
    crm_user: CrmUserView | None
    in_crm: bool

    @property
    def match_label(self) -> str:
        """``Matched by email`` or ``Not matched`` (a message id: the edges translate it)."""
        return _MATCH_LABELS[self.match]

    @property
    def match_reason(self) -> str | None:
        """Why the seat is not matched (a message id with an ``{email}`` field, filled with :attr:`email` where
        shown); None when it is."""
        return _MATCH_REASONS.get(self.match)

    @property
    def match_fix(self) -> str | None:
        """How to fix an unmatched seat (a message id); None when it is matched."""
        return _MATCH_FIXES.get(self.match)

    def to_json(self) -> dict[str, Any]:
        """A JSON-ready mapping (``match_label``, ``match_reason``, ``match_fix`` message ids, the reason's
        ``{email}`` unfilled: ``salesbridge.web.localized.seat_json`` gives them in the reader's language)."""
        return {
            "id": str(self.id),
            "user_id": str(self.user_id),
            "email": self.email,
            "display_name": self.display_name,
            "is_admin": self.is_admin,
            "state": self.state.value,
            "crm_sync_enabled": self.crm_sync_enabled,
            "crm_sync_active": self.crm_sync_active,
            "match": self.match.value,
            "match_label": self.match_label,
            "match_reason": self.match_reason,
            "match_fix": self.match_fix,
            "crm_user": self.crm_user.to_json() if self.crm_user else None,
            "in_crm": self.in_crm,
        }


@dataclass(frozen=True)
class SeatOverview:
    """The seat management page: the contract, the switch for all seats, and every seat."""

    organization: str
    seats_purchased: int
    seats_assigned: int
    sync_all_seats: bool
    crm_connected: bool
    crm_users_imported_at: datetime | None
    seats: tuple[SeatView, ...]

    @property
    def seats_left(self) -> int:
        """Seats that can still be assigned."""
        return max(self.seats_purchased - self.seats_assigned, 0)

    def to_json(self) -> dict[str, Any]:
        """A JSON-ready mapping (each seat's as :meth:`SeatView.to_json`)."""
        return {
            "organization": self.organization,
            "seats_purchased": self.seats_purchased,
            "seats_assigned": self.seats_assigned,
            "seats_left": self.seats_left,
            "sync_all_seats": self.sync_all_seats,
            "crm_connected": self.crm_connected,
            "crm_users_imported_at": self.crm_users_imported_at.isoformat() if self.crm_users_imported_at else None,
            "seats": [seat.to_json() for seat in self.seats],
        }


@dataclass(frozen=True)
class IssuedInvitation:
    """An invitation created by an assignment. ``token`` is shown once: only its digest is stored."""

    seat_id: uuid.UUID
    user_id: uuid.UUID
    email: str
    display_name: str
    expires_at: datetime
    token: SecretStr = field(repr=False)
    emailed: bool = False
    """The invitation went out by email (the service was given a mailer, and the send succeeded)."""

    @property
    def path(self) -> str:
        """The console path where the invitation is accepted."""
        return f"/invitations/{self.token.get_secret_value()}"


def _crm_user_view(row: CrmUser) -> CrmUserView:
    return CrmUserView(
        id=row.id,
        crm_id=row.crm_id,
        full_name=row.full_name,
        email=row.email,
        is_disabled=row.is_disabled,
        is_application=row.is_application,
        is_assignable=crm_user_facts(row).is_assignable,
    )


class SeatService:
    """Seat management of organizations in one store.

    Args:
        store: Units of work and organization lookups.
        clock: Timezone-aware UTC now; stamps invitations.
        invitation_ttl: How long an invitation stays valid.
        mailer: Emails each invitation an assignment issues (in the invitee's language); None: none is emailed
            (the caller shows the links).
        console_url: The console's public address, the start of the links emailed.
    """

    def __init__(
        self,
        store: StoreAccess,
        *,
        clock: Clock,
        invitation_ttl: timedelta = DEFAULT_INVITATION_TTL,
        mailer: Mailer | None = None,
        console_url: str = "http://127.0.0.1:8000",
    ) -> None:
        self._store = store
        self._clock = clock
        self._invitation_ttl = invitation_ttl
        self._mailer = mailer
        self._console_url = console_url.rstrip("/")

    def overview(self, slug: str) -> SeatOverview:
        """Every seat of the organization ``slug`` with its match and badge. Reads only.

        Raises:
            UnknownOrganizationError: no organization has ``slug``.
        """
        with self._store(require_organization(self._store, slug), read_only=True) as uow:
            return _overview(uow)

    def seat(self, slug: str, seat_id: uuid.UUID) -> SeatView:
        """One seat of the organization ``slug``.

        Raises:
            UnknownOrganizationError: no organization has ``slug``.
            RowNotFoundError: no such seat in this organization.
        """
        return _find_seat(self.overview(slug), seat_id)

    def set_sync_all_seats(self, slug: str, *, enabled: bool, actor: str) -> SeatOverview:
        """Turn "Sync CRM for all seats automatically" on or off. Idempotent; audited when it changes.

        Raises:
            UnknownOrganizationError: no organization has ``slug``.
        """
        with self._store(require_organization(self._store, slug)) as uow:
            organization = uow.organization.get()
            if organization.crm_sync_all_seats != enabled:
                uow.organization.set_crm_sync_all_seats(enabled)
                if enabled:
                    requeue_after_seat_change(uow)
                uow.audit.record(actor=actor, action="seats.sync_all_changed", details={"enabled": enabled})
                uow.commit()
            return _overview(uow)

    def set_seat_crm_sync(self, slug: str, seat_id: uuid.UUID, *, enabled: bool, actor: str) -> SeatView:
        """Enable or disable CRM sync for one seat. Idempotent; audited when it changes.

        Raises:
            UnknownOrganizationError: no organization has ``slug``.
            RowNotFoundError: no such seat in this organization.
            InvalidRequestError: CRM sync is automatic for all seats, so a seat's own switch has no effect.
        """
        with self._store(require_organization(self._store, slug)) as uow:
            seat = uow.seats.get(seat_id)  # an unknown seat is "not found" before any rule is checked
            if uow.organization.get().crm_sync_all_seats:
                raise InvalidRequestError(
                    N_(
                        "CRM sync is automatic for all seats. Turn off \u201cSync CRM for all seats "
                        "automatically\u201d to enable or disable it seat by seat."
                    )
                )
            if seat.crm_sync_enabled != enabled:
                uow.seats.set_crm_sync(seat.id, enabled)
                if enabled:
                    requeue_after_seat_change(uow)
                user = uow.users.get(seat.user_id)
                action = "seat.crm_sync_enabled" if enabled else "seat.crm_sync_disabled"
                uow.audit.record(actor=actor, action=action, details={"seat_id": str(seat.id), "email": user.email})
                uow.commit()
            return _find_seat(_overview(uow), seat_id)

    def change_seat_email(self, slug: str, seat_id: uuid.UUID, *, email: str, actor: str) -> SeatView:
        """Correct the email of a seat's holder and match the seat again at once.

        Raises:
            UnknownOrganizationError: no organization has ``slug``.
            RowNotFoundError: no such seat in this organization.
            InvalidRequestError: the email is not an email address, or another user has it.
        """
        cleaned = checked_email(email)
        with self._store(require_organization(self._store, slug)) as uow:
            seat = uow.seats.get(seat_id)
            user = uow.users.get(seat.user_id)
            previous = user.email
            if previous != cleaned:
                other = uow.users.find_by_email(cleaned)
                if other is not None and other.id != user.id:
                    raise InvalidRequestError(
                        N_("Another user of this workspace already has the email {email}."), email=cleaned
                    )
                uow.users.update(user.id, email=cleaned)
                rematch_seats(uow)
                uow.audit.record(
                    actor=actor,
                    action="seat.email_changed",
                    details={"seat_id": str(seat.id), "from": previous, "to": cleaned},
                )
                uow.commit()
            return _find_seat(_overview(uow), seat_id)

    def crm_users(self, slug: str) -> list[CrmUserView]:
        """Every imported CRM user, by name, disabled and application users included.

        Raises:
            UnknownOrganizationError: no organization has ``slug``.
        """
        with self._store(require_organization(self._store, slug), read_only=True) as uow:
            return [_crm_user_view(row) for row in uow.crm_users.list_all()]

    def assignable_crm_users(self, slug: str) -> list[CrmUserView]:
        """Active human CRM users holding no seat, by name: those "Assign seats from CRM" offers.

        Raises:
            UnknownOrganizationError: no organization has ``slug``.
        """
        with self._store(require_organization(self._store, slug), read_only=True) as uow:
            return _assignable(uow)

    def assign_from_crm(self, slug: str, crm_user_ids: Sequence[uuid.UUID], *, actor: str) -> list[IssuedInvitation]:
        """Give a seat to each CRM user of ``crm_user_ids`` and invite them. All or nothing. With a mailer, each
        invitation is then emailed to its invitee, in their language (``emailed`` says whether it went out; a failed
        send is logged and never undoes the assignment: the caller shows the links once either way).

        A CRM user whose email already belongs to a workspace user without a seat gives that user the seat.

        Raises:
            UnknownOrganizationError: no organization has ``slug``.
            InvalidRequestError: no CRM user was chosen, or one of them cannot be offered a seat (unknown,
                disabled, an application user, or already holding a seat).
            SeatLimitError: more CRM users than seats left; nothing was assigned.
        """
        wanted = list(dict.fromkeys(crm_user_ids))
        if not wanted:
            raise InvalidRequestError(N_("Choose at least one CRM user to assign a seat to."))
        with self._store(require_organization(self._store, slug)) as uow:
            assignable = {view.id: view for view in _assignable(uow)}
            refused = [crm_user_id for crm_user_id in wanted if crm_user_id not in assignable]
            if refused:
                raise InvalidRequestError(
                    N_(
                        "{count} of the chosen CRM users cannot be given a seat: they are unknown, disabled, "
                        "application users or already hold one. Reload the list and try again."
                    ),
                    count=len(refused),
                )
            left = uow.organization.get().seats_purchased - uow.seats.count()
            if len(wanted) > left:
                raise SeatLimitError(
                    N_("You chose {requested} CRM users but only {left} seats are left in your contract."),
                    left=max(left, 0),
                    requested=len(wanted),
                )
            issued = [self._invite(uow, assignable[crm_user_id], actor=actor) for crm_user_id in wanted]
            rematch_seats(uow)
            uow.commit()
            organization = uow.organization.get().name
            inviter = uow.users.find_by_email(actor)
            locales = [uow.users.get(invitation.user_id).locale for invitation in issued]
        if self._mailer is None:
            return issued
        mails = [
            InvitationMail(invitation.email, locale, self._console_url + invitation.path, invitation.expires_at)
            for invitation, locale in zip(issued, locales, strict=True)
        ]
        sent = send_invitations(
            self._mailer, mails, organization=organization, inviter=inviter.display_name if inviter else actor
        )
        return [replace(invitation, emailed=emailed) for invitation, emailed in zip(issued, sent, strict=True)]

    def _invite(self, uow: UnitOfWork, crm_user: CrmUserView, *, actor: str) -> IssuedInvitation:
        email = crm_user.email or ""
        user = uow.users.find_by_email(email) or uow.users.add(email=email, display_name=crm_user.full_name)
        seat = uow.seats.add(user_id=user.id, state=SeatState.INVITED, assigned_by=actor)
        token = secrets.token_urlsafe(32)
        expires_at = self._clock() + self._invitation_ttl
        uow.invitations.add(user_id=user.id, token_hash=token_digest(token), invited_by=actor, expires_at=expires_at)
        uow.audit.record(
            actor=actor,
            action="seat.assigned_from_crm",
            details={"seat_id": str(seat.id), "email": email, "crm_user_id": crm_user.crm_id},
        )
        return IssuedInvitation(
            seat_id=seat.id,
            user_id=user.id,
            email=email,
            display_name=user.display_name,
            expires_at=expires_at,
            token=SecretStr(token),
        )

    async def import_crm_users(self, slug: str, reader: CrmReader, *, actor: str) -> CrmUserImport:
        """Import the CRM users of the organization ``slug`` now (see :func:`import_crm_users`).

        Raises:
            UnknownOrganizationError: no organization has ``slug``.
            CrmError: the CRM could not be read; nothing was changed.
        """
        organization_id = await asyncio.to_thread(require_organization, self._store, slug)
        return await import_crm_users(self._store, organization_id, reader, actor=actor)

    async def refresh_crm_users(self, slug: str, sessions: CrmSessionFactory, *, actor: str) -> CrmUserImport:
        """Import the CRM users of the organization ``slug`` through its stored CRM connection.

        Raises:
            UnknownOrganizationError: no organization has ``slug``.
            InvalidRequestError: the organization is not connected to a CRM.
            CrmError: the CRM could not be read; nothing was changed.
        """
        organization_id, credentials = await asyncio.to_thread(self._connected_credentials, slug)
        session = sessions(credentials)
        try:
            return await import_crm_users(self._store, organization_id, session.reader, actor=actor)
        finally:
            await session.close()

    def _connected_credentials(self, slug: str) -> tuple[uuid.UUID, CrmCredentials]:
        organization_id = require_organization(self._store, slug)
        with self._store(organization_id, read_only=True) as uow:
            connection = uow.crm_connection.find()
            if connection is None or not connection.is_connected:
                raise InvalidRequestError(N_("Connect to the CRM first, on the CRM Settings page."))
            return organization_id, uow.crm_connection.credentials()


def _assignable(uow: UnitOfWork) -> list[CrmUserView]:
    holders = uow.seats.list_with_users()
    seated = {crm_user_id for seat, _ in holders if (crm_user_id := seat.crm_user_id)}
    seated_emails = {user.email.lower() for _, user in holders}
    return [
        view
        for view in (_crm_user_view(row) for row in uow.crm_users.list_all())
        if view.is_assignable and view.id not in seated and (view.email or "").lower() not in seated_emails
    ]


def _overview(uow: UnitOfWork) -> SeatOverview:
    organization = uow.organization.get()
    connection = uow.crm_connection.find()
    connected = connection is not None and connection.is_connected
    crm_users = {row.id: row for row in uow.crm_users.list_all()}
    seats = tuple(
        _seat_view(seat, user, crm_users, sync_all=organization.crm_sync_all_seats, connected=connected)
        for seat, user in uow.seats.list_with_users()
    )
    return SeatOverview(
        organization=organization.slug,
        seats_purchased=organization.seats_purchased,
        seats_assigned=len(seats),
        sync_all_seats=organization.crm_sync_all_seats,
        crm_connected=connected,
        crm_users_imported_at=uow.crm_users.last_imported_at(),
        seats=seats,
    )


def _seat_view(
    seat: Seat, user: User, crm_users: dict[uuid.UUID, CrmUser], *, sync_all: bool, connected: bool
) -> SeatView:
    crm_user = crm_users.get(seat.crm_user_id) if seat.crm_user_id else None
    return SeatView(
        id=seat.id,
        user_id=user.id,
        email=user.email,
        display_name=user.display_name,
        is_admin=user.is_admin,
        state=seat.state,
        crm_sync_enabled=seat.crm_sync_enabled,
        crm_sync_active=sync_all or seat.crm_sync_enabled,
        match=seat.match,
        crm_user=_crm_user_view(crm_user) if crm_user else None,
        in_crm=is_in_crm(
            outcome=seat.match, sync_all_seats=sync_all, seat_sync_enabled=seat.crm_sync_enabled, connected=connected
        ),
    )


def _find_seat(overview: SeatOverview, seat_id: uuid.UUID) -> SeatView:
    for seat in overview.seats:
        if seat.id == seat_id:
            return seat
    raise RowNotFoundError("No such seat in this organization.")
