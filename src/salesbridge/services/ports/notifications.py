"""Email and alerts: the outbound mail port and the organization's alert episodes and choices."""

from __future__ import annotations

import uuid
from typing import Protocol

from salesbridge.domain.alerts import AlertKind, AlertState
from salesbridge.domain.mail import OutgoingMail


class Mailer(Protocol):
    """Sends email (:mod:`salesbridge.mail`: through SMTP, or printed when no SMTP server is configured).
    Blocking: call it off the event loop, and outside any unit of work (it may wait for a slow server)."""

    @property
    def sends(self) -> bool:
        """Whether messages leave this machine (False: they are only printed, no SMTP server being configured)."""
        ...

    def send(self, mail: OutgoingMail) -> None:
        """Write ``mail`` out in its recipient's language and send it. Not idempotent: each call sends.

        Raises:
            MailDeliveryError: the server could not be reached or refused the message (nothing was sent).
        """
        ...


class AlertRepository(Protocol):
    """The organization's alert episodes and its administrators' alert choices."""

    def states(self) -> dict[AlertKind, AlertState]:
        """Every alert's state; a kind never evaluated is its initial state."""
        ...

    def save(self, state: AlertState) -> None:
        """Store ``state``. Idempotent."""
        ...

    def preferences(self, user_id: uuid.UUID) -> dict[AlertKind, bool]:
        """The alerts ``user_id`` chose: every kind, on unless they turned it off."""
        ...

    def set_preferences(self, user_id: uuid.UUID, chosen: dict[AlertKind, bool]) -> None:
        """Record ``user_id``'s choice for each kind of ``chosen``. Idempotent.

        Raises:
            RowNotFoundError: ``user_id`` is not a user of this organization.
        """
        ...
