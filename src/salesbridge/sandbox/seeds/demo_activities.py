"""The activities ``make demo`` logs as its sellers (issue 14): what a morning of prospecting leaves behind, written
in the words a seller would use. Only texts and timings live here; :mod:`salesbridge.bootstrap_demo` logs them
through the capture service and drains them to the sandbox.

``{first}`` in a text is the first name of the person the activity concerns.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final, Literal


@dataclass(frozen=True)
class DemoActivityText:
    """One activity to log.

    Attributes:
        client_id: The seller's client id (fixed: logging it again is the same activity).
        item: ``inmail``, ``message``, ``note`` or ``call`` (a :class:`~salesbridge.domain.writeback.DataItem`).
        subject: Its subject, or None (InMail and messages take their first line).
        body: Its text.
        incoming: Whether the person sent it (a reply), else the seller did.
        hours_ago: How long before the demo's start it happened.
        conversation_id: The thread an InMail or message belongs to.
    """

    client_id: str
    item: Literal["inmail", "message", "note", "call"]
    subject: str | None
    body: str
    incoming: bool = False
    hours_ago: int = 1
    conversation_id: str | None = None


FIRST_CONTACT_HOURS_AGO: Final = 335 * 24
"""The seller's first InMail to the matched person: eleven months ago, before the open opportunities of the
person's account were created (the demo's are at most 330 days old), so Reports shows them as influenced
pipeline."""

ON_THE_MATCHED_PERSON: Final = (
    DemoActivityText(
        client_id="demo-inmail-0",
        item="inmail",
        subject="Analytics for your sales team",
        body="Hi {first},\nteams like yours cut their reporting time in half with our analytics bundle: "
        "may I show you in 20 minutes?",
        hours_ago=FIRST_CONTACT_HOURS_AGO,
        conversation_id="demo-thread-0",
    ),
    DemoActivityText(
        client_id="demo-inmail-1",
        item="inmail",
        subject="Renewal of your analytics licences",
        body="Hi {first},\nyour licences renew next quarter: shall we look at the new bundle together?",
        hours_ago=49,
        conversation_id="demo-thread-1",
    ),
    DemoActivityText(
        client_id="demo-message-1",
        item="message",
        subject=None,
        body="Thanks! Thursday at 10:00 works for me.\nCould you send the price list beforehand?",
        incoming=True,
        hours_ago=26,
        conversation_id="demo-thread-1",
    ),
    DemoActivityText(
        client_id="demo-call-1",
        item="call",
        subject="Renewal call",
        body="30 minutes with {first}: happy with support, budget approved for 40 seats, wants a pilot of the bundle.",
        hours_ago=3,
    ),
    DemoActivityText(
        client_id="demo-note-1",
        item="note",
        subject="Next steps",
        body="Send the pilot proposal by Friday; {first} introduces us to their CFO.",
        hours_ago=2,
    ),
)
"""Logged by the demo's seller on a person tied to a CRM contact: all five are delivered."""

ON_A_PERSON_THE_CRM_LACKS: Final = DemoActivityText(
    client_id="demo-note-2",
    item="note",
    subject="Met at the trade fair",
    body="{first} runs purchasing; asked for a call in two weeks.",
    hours_ago=5,
)
"""Logged by the demo's seller on a person with no CRM match: it waits for one."""

BY_A_SELLER_WITHOUT_CRM_SYNC: Final = DemoActivityText(
    client_id="demo-inmail-2",
    item="inmail",
    subject="Introduction",
    body="Hi {first},\nI look after your region from this month on: may I call you next week?",
    hours_ago=4,
)
"""Logged by a second seller, whose seat's CRM sync is off, on the same matched person: it waits for the seat."""
