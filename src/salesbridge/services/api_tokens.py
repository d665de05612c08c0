"""API tokens: creating, listing and revoking them, and finding who a presented token acts for.

A new token is returned once, as a :class:`~pydantic.SecretStr`, to the session (or command line) that created
it; the store keeps its SHA-256 digest and a short display prefix. Tokens expire (90 days unless chosen
otherwise), can be created only by a signed-in session or the command line (never by another token), and record
their last use to within :data:`~salesbridge.services.account_rules.TOKEN_USE_GRANULARITY`.
"""

from __future__ import annotations

import secrets
import uuid
from dataclasses import replace
from datetime import timedelta

from pydantic import SecretStr

from salesbridge.domain.text_rules import checked_token_name
from salesbridge.errors import ApiTokenNotFoundError, InvalidInputError, RowNotFoundError, SessionRequiredError
from salesbridge.message_ids import N_
from salesbridge.services.account_rules import (
    API_TOKEN_DISPLAY_LENGTH,
    API_TOKEN_LIFETIME_CHOICES_DAYS,
    API_TOKEN_LIFETIME_DAYS,
    API_TOKEN_PREFIX,
    TOKEN_USE_GRANULARITY,
    ApiTokenView,
    Principal,
    api_token_view,
    token_digest,
)
from salesbridge.services.sign_in import SignInUseCases


class ApiTokenUseCases(SignInUseCases):
    """API tokens of every organization in one store (see :class:`SignInUseCases` for the arguments)."""

    def create_api_token(
        self, principal: Principal, name: str, *, expires_in_days: int = API_TOKEN_LIFETIME_DAYS
    ) -> tuple[ApiTokenView, SecretStr]:
        """Create an API token named ``name`` for the principal, expiring in ``expires_in_days``; audit it. The
        returned secret is the only copy. Not idempotent.

        Raises:
            SessionRequiredError: the principal was authenticated by an API token.
            InvalidInputError: the name is empty, longer than 100 characters or holds a control character, or the
                lifetime is not 1 to 365 days.
        """
        if principal.via_api_token:
            raise SessionRequiredError
        name = checked_token_name(name)
        longest = API_TOKEN_LIFETIME_CHOICES_DAYS[-1]
        if not 1 <= expires_in_days <= longest:
            raise InvalidInputError(
                N_("Choose a token lifetime of 1 to {days} days."), field="expires_in_days", days=longest
            )
        token = API_TOKEN_PREFIX + secrets.token_urlsafe(32)
        with self._store(principal.organization_id) as uow:
            row = uow.api_tokens.add(
                user_id=principal.user_id,
                name=name,
                prefix=token[:API_TOKEN_DISPLAY_LENGTH],
                token_hash=token_digest(token),
                expires_at=self._clock() + timedelta(days=expires_in_days),
            )
            uow.audit.record(
                actor=principal.email,
                action="api_token.created",
                details={
                    "token_id": str(row.id),
                    "name": name,
                    "prefix": row.prefix,
                    "expires_at": row.expires_at.isoformat(),
                },
            )
            view = api_token_view(row, now=self._clock())
            uow.commit()
        return view, SecretStr(token)

    def principal_for_api_token(self, token: str) -> Principal | None:
        """Who the API token ``token`` acts for; None when unknown, revoked or expired.

        Stamps the token used now when its stamp is older than :data:`TOKEN_USE_GRANULARITY`, in a write of its
        own; most calls only read.
        """
        if not token.startswith(API_TOKEN_PREFIX):
            return None
        digest = token_digest(token)
        organization_id = self._store.organization_of_api_token(digest)
        if organization_id is None:
            return None
        with self._store(organization_id, read_only=True) as uow:
            row = uow.api_tokens.find_active_by_hash(digest)
            if row is None:
                return None
            try:
                user = uow.users.get(row.user_id)
            except RowNotFoundError:
                return None
            principal = replace(self._principal(uow, user), via_api_token=True)
        if row.last_used_at is None or row.last_used_at <= self._clock() - TOKEN_USE_GRANULARITY:
            with self._store(organization_id) as uow:
                if uow.api_tokens.touch(row.id, granularity=TOKEN_USE_GRANULARITY):
                    uow.commit()
        return principal

    def list_api_tokens(self, principal: Principal) -> list[ApiTokenView]:
        """The principal's own tokens, revoked and expired ones included, newest first. Reads only."""
        with self._store(principal.organization_id, read_only=True) as uow:
            return [api_token_view(row, now=self._clock()) for row in uow.api_tokens.list_for_user(principal.user_id)]

    def revoke_api_token(self, principal: Principal, token_id: uuid.UUID) -> ApiTokenView:
        """Revoke the principal's token ``token_id``; audit the first revocation. Idempotent.

        Raises:
            ApiTokenNotFoundError: the principal has no such token.
        """
        with self._store(principal.organization_id) as uow:
            try:
                before = next(
                    (row.revoked_at for row in uow.api_tokens.list_for_user(principal.user_id) if row.id == token_id),
                    None,
                )
                row = uow.api_tokens.revoke(user_id=principal.user_id, token_id=token_id)
            except RowNotFoundError:
                raise ApiTokenNotFoundError("No such API token.") from None
            if before is None:
                uow.audit.record(
                    actor=principal.email,
                    action="api_token.revoked",
                    details={"token_id": str(row.id), "prefix": row.prefix},
                )
            view = api_token_view(row, now=self._clock())
            uow.commit()
        return view
