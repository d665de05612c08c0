"""People and their credentials: creating users, their console language, the audit trail administrators read,
and inviting people to take a seat. :class:`AccountService` also signs people in and out
(:mod:`salesbridge.services.sign_in`) and manages their API tokens (:mod:`salesbridge.services.api_tokens`); the
rules and values they share are in :mod:`salesbridge.services.account_rules`.
"""

from __future__ import annotations

import uuid
from dataclasses import replace

from pydantic import SecretStr

from salesbridge.domain.text_rules import checked_display_name, checked_email, has_refused_characters
from salesbridge.domain.workspace import SeatState
from salesbridge.errors import (
    ContractFullError,
    InvalidInputError,
    InvitationInvalidError,
    RowNotFoundError,
    UniqueConstraintError,
)
from salesbridge.message_ids import N_
from salesbridge.services.account_rules import (
    API_TOKEN_LIFETIME_CHOICES_DAYS,
    API_TOKEN_LIFETIME_DAYS,
    TOKEN_USE_GRANULARITY,
    ApiTokenView,
    AuditView,
    InvitationView,
    Principal,
    SessionContext,
    SignedIn,
    UserView,
    checked_locale,
    checked_password,
    require_admin,
    token_digest,
)
from salesbridge.services.api_tokens import ApiTokenUseCases
from salesbridge.services.crm_users import rematch_seats
from salesbridge.services.organizations import require_organization
from salesbridge.services.ports import UnitOfWork
from salesbridge.services.writeback_outbox import requeue_after_seat_change

__all__ = [  # the account use cases' names, importable from here as before the split
    "API_TOKEN_LIFETIME_CHOICES_DAYS",
    "API_TOKEN_LIFETIME_DAYS",
    "TOKEN_USE_GRANULARITY",
    "AccountService",
    "ApiTokenView",
    "AuditView",
    "InvitationView",
    "Principal",
    "SessionContext",
    "SignedIn",
    "UserView",
    "checked_email",
    "checked_password",
    "token_digest",
]


class AccountService(ApiTokenUseCases):
    """Use cases for people and credentials of every organization in one store: users, invitations, the console
    language and the audit trail here; sign-in and sessions, and API tokens, from its bases (see
    :class:`~salesbridge.services.sign_in.SignInUseCases` for the arguments)."""

    def create_user(
        self,
        org_slug: str,
        *,
        email: str,
        display_name: str,
        password: SecretStr | None,
        is_admin: bool,
        with_seat: bool,
        locale: str = "en",
        actor: str,
    ) -> Principal:
        """Add a user to the organization ``org_slug``, with an active seat when ``with_seat``, and audit it.

        A user without a password can use API tokens, or set one by accepting an invitation. Not idempotent: a
        second call with the same email is refused.

        Raises:
            UnknownOrganizationError: no organization has ``org_slug``.
            InvalidInputError: the email, name, password or language breaks a rule, or the email is taken.
            ContractFullError: ``with_seat`` and every purchased seat is assigned.
            PasswordHashingBusyError: too many passwords are being hashed at once; nothing was created.
        """
        email = checked_email(email)
        display_name = checked_display_name(display_name)
        locale = checked_locale(locale)
        password_hash = (
            self._hash(checked_password(password, personal=(email, display_name, org_slug))) if password else None
        )
        organization_id = require_organization(self._store, org_slug)
        with self._store(organization_id) as uow:
            try:
                user = uow.users.add(
                    email=email,
                    display_name=display_name,
                    is_admin=is_admin,
                    password_hash=password_hash,
                    locale=locale,
                )
            except UniqueConstraintError:
                raise InvalidInputError(N_("A user with this email already exists."), field="email") from None
            if with_seat:
                self._add_active_seat(uow, user.id, actor=actor)
            uow.audit.record(
                actor=actor,
                action="user.created",
                details={
                    "user_id": str(user.id),
                    "email": email,
                    "is_admin": is_admin,
                    "seat": with_seat,
                    "has_password": password_hash is not None,
                },
            )
            principal = self._principal(uow, user, org_slug)
            uow.commit()
        return principal

    def principal_of(self, org_slug: str, email: str) -> Principal:
        """The user ``email`` of ``org_slug`` as a principal, for trusted callers (the command line). Reads only.

        Raises:
            UnknownOrganizationError: no organization has ``org_slug``.
            RowNotFoundError: the organization has no user with this email.
        """
        organization_id = require_organization(self._store, org_slug)
        with self._store(organization_id, read_only=True) as uow:
            user = None if has_refused_characters(email) else uow.users.find_by_email(email.strip())
            if user is None:
                raise RowNotFoundError(f"No user of {org_slug} has the email {email!r}.")
            return self._principal(uow, user, org_slug)

    def list_users(self, principal: Principal) -> list[UserView]:
        """Every user of the principal's organization, by email. Reads only.

        Raises:
            AdministratorRequiredError: the principal is not an administrator.
        """
        require_admin(principal)
        with self._store(principal.organization_id, read_only=True) as uow:
            seated = {seat.user_id for seat, _user in uow.seats.list_with_users()}
            return [
                UserView(
                    id=user.id,
                    email=user.email,
                    display_name=user.display_name,
                    is_admin=user.is_admin,
                    has_seat=user.id in seated,
                    has_password=user.password_hash is not None,
                    locale=user.locale,
                    created_at=user.created_at,
                )
                for user in uow.users.list_all()
            ]

    def recent_audit(self, principal: Principal, *, limit: int = 50) -> list[AuditView]:
        """Up to ``limit`` audit entries of the principal's organization, newest first. Reads only.

        Raises:
            AdministratorRequiredError: the principal is not an administrator.
        """
        require_admin(principal)
        with self._store(principal.organization_id, read_only=True) as uow:
            return [
                AuditView(entry.created_at, entry.actor, entry.action, dict(entry.details or {}))
                for entry in uow.audit.recent(limit=limit)
            ]

    def set_locale(self, principal: Principal, locale: str) -> Principal:
        """Make ``locale`` (``en`` or ``es``) the user's console language. Idempotent.

        Raises:
            InvalidInputError: the language is not supported.
            RowNotFoundError: the user no longer exists.
        """
        locale = checked_locale(locale)
        with self._store(principal.organization_id) as uow:
            uow.users.update(principal.user_id, locale=locale)
            uow.commit()
        return replace(principal, locale=locale)

    def describe_invitation(self, token: str) -> InvitationView | None:
        """The pending, unexpired invitation of ``token``, or None. Reads only."""
        digest = token_digest(token)
        organization_id = self._store.organization_of_invitation(digest)
        if organization_id is None:
            return None
        with self._store(organization_id, read_only=True) as uow:
            invitation = uow.invitations.find_by_token_hash(digest)
            if invitation is None or not invitation.is_pending(self._clock()):
                return None
            user = uow.users.get(invitation.user_id)
            organization = uow.organization.get()
            return InvitationView(
                organization.slug, organization.name, user.email, user.display_name, invitation.expires_at
            )

    def accept_invitation(self, token: str, password: SecretStr, display_name: str) -> SignedIn:
        """Accept the invitation of ``token``: set the user's name and password, activate their seat, mark the
        invitation accepted, audit it and open a session. Not repeatable: a second call is refused.

        Raises:
            InvalidInputError: the name or password breaks a rule.
            InvitationInvalidError: the invitation is unknown, expired or already accepted.
            ContractFullError: the user had no seat and every purchased seat is assigned.
            PasswordHashingBusyError: too many passwords are being hashed at once; nothing changed.
        """
        display_name = checked_display_name(display_name)
        invitation_view = self.describe_invitation(token)
        if invitation_view is None:
            raise InvitationInvalidError
        personal = (invitation_view.email, display_name, invitation_view.organization_slug)
        password_hash = self._hash(checked_password(password, personal=personal))
        digest = token_digest(token)
        organization_id = self._store.organization_of_invitation(digest)
        if organization_id is None:
            raise InvitationInvalidError
        with self._store(organization_id) as uow:
            invitation = uow.invitations.find_by_token_hash(digest)
            if invitation is None or not invitation.is_pending(self._clock()):
                raise InvitationInvalidError
            user = uow.users.update(invitation.user_id, display_name=display_name, password_hash=password_hash)
            seat = uow.seats.find_by_user(user.id)
            if seat is None:
                self._add_active_seat(uow, user.id, actor=user.email)
            else:
                uow.seats.set_state(seat.id, SeatState.ACTIVE)
                requeue_after_seat_change(uow)
            uow.invitations.mark_accepted(invitation.id)
            uow.audit.record(
                actor=user.email,
                action="invitation.accepted",
                details={"user_id": str(user.id), "invitation_id": str(invitation.id)},
            )
            signed_in = self._open_session(uow, user, uow.organization.get().slug)
            uow.commit()
        return signed_in

    def _add_active_seat(self, uow: UnitOfWork, user_id: uuid.UUID, *, actor: str) -> None:
        seats = uow.organization.get().seats_purchased
        if uow.seats.count() >= seats:
            raise ContractFullError(seats=seats)
        uow.seats.add(user_id=user_id, state=SeatState.ACTIVE, assigned_by=actor)
        rematch_seats(uow)
