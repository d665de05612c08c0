"""Each :class:`~salesbridge.domain.mail.MailKind` written out in the recipient's language: a subject, a plain-text
body and a simple HTML body (every value escaped), as one :class:`email.message.EmailMessage`."""

from __future__ import annotations

import html
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from email.message import EmailMessage
from email.policy import SMTP
from email.utils import formatdate, make_msgid, parseaddr
from typing import Final

from babel.dates import format_datetime

from salesbridge.domain.mail import MailKind, OutgoingMail
from salesbridge.i18n import N_, normalize_locale, translate


@dataclass(frozen=True)
class _Template:
    """A message's words (English message ids with ``{value}`` fields): the subject, paragraphs before the link,
    the link's words, and paragraphs after it."""

    subject: str
    before: tuple[str, ...]
    link_text: str
    after: tuple[str, ...]


_ALERT_FOOTER: Final = N_("You get this alert because you chose it on your Account page: {account_link}")

_TEMPLATES: Final[Mapping[MailKind, _Template]] = {
    MailKind.INVITATION: _Template(
        subject=N_("You're invited to {organization} on salesbridge"),
        before=(
            N_("{inviter} gave you a seat in the salesbridge workspace of {organization}."),
            N_("Accept the invitation and choose your password:"),
        ),
        link_text=N_("Accept the invitation"),
        after=(
            N_("The invitation expires on {expires_at}."),
            N_("If you were not expecting this email, you can ignore it."),
        ),
    ),
    MailKind.SYNC_FAILING: _Template(
        subject=N_("Alert: the CRM sync of {organization} has been failing for more than an hour"),
        before=(
            N_("The import from your CRM has been failing since {since}; nothing new has been imported since then."),
            N_("Last error: {detail}"),
            N_("Check the connection and the sync health on CRM Settings:"),
        ),
        link_text=N_("Open CRM Settings"),
        after=(_ALERT_FOOTER,),
    ),
    MailKind.WRITEBACK_FAILING: _Template(
        subject=N_("Alert: activities of {organization} are failing to reach the CRM"),
        before=(
            N_("{detail} activities are failing or parked instead of reaching your CRM (since {since})."),
            N_("See Dynamics' errors and retry them on the Writeback page:"),
        ),
        link_text=N_("Open the Writeback page"),
        after=(_ALERT_FOOTER,),
    ),
    MailKind.CRM_APP_MISSING: _Template(
        subject=N_("Alert: the CRM-side app of {organization} is missing"),
        before=(
            N_(
                "Writeback is on, but the salesbridge app in your Dynamics 365 is not complete ({detail}) since "
                "{since}. Activities cannot be written back until it is installed again."
            ),
            N_("Install it again from CRM Settings:"),
        ),
        link_text=N_("Open CRM Settings"),
        after=(_ALERT_FOOTER,),
    ),
    MailKind.SYNC_RESOLVED: _Template(
        subject=N_("Resolved: the CRM sync of {organization} works again"),
        before=(
            N_("The import from your CRM, failing since {since}, succeeded again on {until}."),
            N_("See the sync health on CRM Settings:"),
        ),
        link_text=N_("Open CRM Settings"),
        after=(_ALERT_FOOTER,),
    ),
    MailKind.WRITEBACK_RESOLVED: _Template(
        subject=N_("Resolved: activities of {organization} are reaching the CRM again"),
        before=(
            N_(
                "The activities failing or parked since {since} are down to a few again ({until}): writeback is "
                "back to normal."
            ),
            N_("See the Writeback page:"),
        ),
        link_text=N_("Open the Writeback page"),
        after=(_ALERT_FOOTER,),
    ),
    MailKind.CRM_APP_RESOLVED: _Template(
        subject=N_("Resolved: the CRM-side app of {organization} is no longer missing"),
        before=(
            N_(
                "The salesbridge app in your Dynamics 365, incomplete since {since}, is complete again, or writeback "
                "was turned off ({until})."
            ),
            N_("See CRM Settings:"),
        ),
        link_text=N_("Open CRM Settings"),
        after=(_ALERT_FOOTER,),
    ),
}

_POLICY: Final = SMTP.clone(max_line_length=998)
"""CRLF line ends; headers folded only past RFC 5322's hard limit, so a long subject reads the same in every client
(some show the space a fold after ``Subject:`` leaves)."""

_TRANSLATED_VALUES: Final = frozenset({"detail"})
"""Values that may be a message id (the CRM app's state): translated when the catalogue has them."""

_TIME_VALUES: Final = frozenset({"since", "until", "expires_at"})
"""Values given as ISO 8601 UTC times: written the recipient's way."""


def compose(mail: OutgoingMail, *, sender: str) -> EmailMessage:
    """``mail`` as a message from ``sender``, in ``mail.locale``: plain text, with an HTML alternative.

    Raises:
        KeyError: a value the message shows is missing from ``mail.values``.
    """
    locale = normalize_locale(mail.locale)
    template = _TEMPLATES[mail.kind]
    values = {key: _value(key, value, locale) for key, value in mail.values.items()}
    link = values.get("link", "")

    def words(message_id: str) -> str:
        return translate(message_id, locale).format(**values)

    def html_words(message_id: str) -> str:
        escaped = {key: html.escape(value) for key, value in values.items()}
        if "account_link" in escaped:
            escaped["account_link"] = f'<a href="{escaped["account_link"]}">{escaped["account_link"]}</a>'
        return translate(message_id, locale).format(**escaped)

    message = EmailMessage(policy=_POLICY)
    # A value with a line break (a name typed so) must not break the header: one line, spaces collapsed.
    message["Subject"] = " ".join(words(template.subject).split())
    message["From"] = sender
    message["To"] = " ".join(mail.to.split())
    message["Date"] = formatdate(usegmt=True)
    message["Message-ID"] = make_msgid(domain=parseaddr(sender)[1].rpartition("@")[2] or None)
    text = [*(words(paragraph) for paragraph in template.before), link, *(words(p) for p in template.after)]
    message.set_content("\n\n".join(text) + "\n")
    body = "".join(f"<p>{html_words(paragraph)}</p>" for paragraph in template.before)
    body += f'<p><a href="{html.escape(link)}">{html.escape(translate(template.link_text, locale))}</a></p>'
    body += "".join(f'<p style="color:#555">{html_words(paragraph)}</p>' for paragraph in template.after)
    title = html.escape(message["Subject"])
    message.add_alternative(
        f'<!DOCTYPE html><html lang="{locale}"><head><meta charset="utf-8"><title>{title}</title></head>'
        f'<body style="font-family:sans-serif;line-height:1.5">{body}</body></html>\n',
        subtype="html",
    )
    message["Content-Language"] = locale  # after the bodies: setting the content clears the Content-* headers
    return message


def _value(key: str, value: str, locale: str) -> str:
    if key in _TRANSLATED_VALUES:
        return translate(value, locale)
    if key in _TIME_VALUES:
        try:
            moment = datetime.fromisoformat(value)
        except ValueError:
            return value
        return format_datetime(moment.astimezone(UTC), format="medium", tzinfo=UTC, locale=locale) + " UTC"
    return value
