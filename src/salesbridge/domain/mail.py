"""Outgoing email as the use cases see it: who receives what, in which language, with which values. Pure; no I/O.

A use case names a message by its :class:`MailKind` and gives the values it shows; the mail adapter
(:mod:`salesbridge.mail`) writes it out in the recipient's language (plain text and simple HTML) and sends it, or
prints it when no SMTP server is configured.
"""

from __future__ import annotations

import enum
from collections.abc import Mapping
from dataclasses import dataclass, field


class MailKind(enum.StrEnum):
    """What a message says. The alert kinds are :class:`salesbridge.domain.alerts.AlertKind`'s values."""

    INVITATION = "invitation"
    """A seat was assigned: accept the invitation (values: ``organization``, ``inviter``, ``link``,
    ``expires_at``)."""
    SYNC_FAILING = "sync_failing"
    """The CRM import has been failing for more than an hour (values: ``organization``, ``since``, ``detail``,
    ``link``)."""
    WRITEBACK_FAILING = "writeback_failing"
    """Activities failing to reach the CRM piled up (values: ``organization``, ``since``, ``detail``: how many,
    ``link``)."""
    CRM_APP_MISSING = "crm_app_missing"
    """Writeback is on but the CRM-side app is missing or incomplete (values: ``organization``, ``since``,
    ``detail``: the app's state, ``link``)."""
    SYNC_RESOLVED = "sync_resolved"
    """The CRM import that was failing succeeded again (values: ``organization``, ``since``: when the episode
    started, ``until``: when it ended, ``link``)."""
    WRITEBACK_RESOLVED = "writeback_resolved"
    """Fewer activities are failing or parked again (values as :attr:`SYNC_RESOLVED`)."""
    CRM_APP_RESOLVED = "crm_app_resolved"
    """The CRM-side app is complete again, or writeback was turned off (values as :attr:`SYNC_RESOLVED`)."""


@dataclass(frozen=True)
class OutgoingMail:
    """One message to one recipient.

    Attributes:
        to: The recipient's email address.
        locale: The recipient's language (``en`` or ``es``).
        kind: What the message says.
        values: What it shows (strings, already in their final form: dates as ISO 8601 UTC, links absolute).
    """

    to: str
    locale: str
    kind: MailKind
    values: Mapping[str, str] = field(default_factory=dict)
