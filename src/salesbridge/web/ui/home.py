"""The home page: for a seat holder, their lists with their sizes, what changed in the CRM for their records since
their previous visit, their activity waiting for a CRM match and their recent activity with its delivery in words
(:mod:`salesbridge.services.home`); for everyone, the tiles of what they may open."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from typing import Any, Final

from fastapi import Request
from fastapi.responses import Response

from salesbridge.domain.crm_changes import ChangeKind
from salesbridge.domain.writeback import Activity
from salesbridge.i18n import translate
from salesbridge.message_ids import N_
from salesbridge.services.accounts import Principal
from salesbridge.services.home import seller_home
from salesbridge.web.context import ConsoleServices
from salesbridge.web.templating import render
from salesbridge.web.ui.writeback import ITEM_LABELS, reason_text

CHANGE_LABELS: Final = {
    ChangeKind.OWNER: N_("New owner"),
    ChangeKind.STAGE: N_("Stage moved"),
    ChangeKind.WON: N_("Won"),
    ChangeKind.LOST: N_("Lost"),
    ChangeKind.JOB: N_("Job change"),
}


@dataclass(frozen=True)
class ActivityEntry:
    """One of the seller's activities as the home lists it: its type and delivery in the reader's words, and the
    page of the person or company it concerns."""

    activity: Activity
    item_label: str
    reason: str
    link: str | None
    subject: str | None = None


def _entry(activity: Activity, locale: str, subjects: dict[uuid.UUID, str]) -> ActivityEntry:
    if activity.person_id is not None:
        link: str | None = f"/people/{activity.person_id}#activities"
    elif activity.company_id is not None:
        link = f"/companies/{activity.company_id}#activities"
    else:
        link = None
    subject_id = activity.person_id or activity.company_id
    return ActivityEntry(
        activity=activity,
        item_label=translate(ITEM_LABELS[activity.item], locale),
        reason=reason_text(activity.delivery, locale),
        link=link,
        subject=subjects.get(subject_id) if subject_id is not None else None,
    )


def home_page(request: Request, principal: Principal, services: ConsoleServices) -> Response:
    """The home page; a seat holder's opening of it is their visit (see :func:`seller_home`)."""
    context: dict[str, Any] = {"seller": None}
    if principal.has_seat:
        home = seller_home(services.store, principal.organization_id, principal.user_id, clock=services.clock)
        locale = principal.locale
        context = {
            "seller": home,
            "waiting": [_entry(activity, locale, home.subjects) for activity in home.waiting],
            "recent": [_entry(activity, locale, home.subjects) for activity in home.recent],
            "change_labels": {kind.value: translate(label, locale) for kind, label in CHANGE_LABELS.items()},
        }
    return render(request, "home.html", context, principal=principal)
