"""Outbound email, the mail port's adapters (:class:`salesbridge.services.ports.Mailer`): messages written out in
the recipient's language (:mod:`.messages`), sent through SMTP (:mod:`.smtp`) or, when no SMTP server is
configured, printed (:mod:`.printing`).

Only the composition root (:mod:`salesbridge.bootstrap`) builds these; the rest of the product sees the port (an
import-linter contract checks it), as it sees Dynamics through the CRM ports.
"""

from salesbridge.mail.messages import compose
from salesbridge.mail.printing import PrintingMailer
from salesbridge.mail.smtp import SmtpMailer, TlsMode

__all__ = ["PrintingMailer", "SmtpMailer", "TlsMode", "compose"]
