"""Administration pages: the organization's audit log, a page at a time, filtered by action, person and date range,
in the reader's language: each action by its name, each detail as a labelled value (internal ids left out); and
every matching entry as a CSV file (formula cells neutralised)."""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from datetime import date, datetime
from typing import IO, Any, Final

from fastapi import APIRouter, Request
from fastapi.responses import Response, StreamingResponse
from starlette.concurrency import run_in_threadpool

from salesbridge.i18n import N_, translate
from salesbridge.services.audit_log import AuditFilter, audit_entries, audit_page
from salesbridge.services.ports import Clock, StoreAccess
from salesbridge.web.security import AdminPrincipal, Services
from salesbridge.web.spreadsheet_csv import MEDIA_TYPE, chunks, spooled_spreadsheet_csv
from salesbridge.web.templating import message, render
from salesbridge.web.ui.account import ALERT_CHOICES
from salesbridge.web.ui.writeback import ITEM_LABELS

router = APIRouter(include_in_schema=False)

ACTION_NAMES: Final = {
    "alert.preferences_changed": N_("Email alerts chosen"),
    "alert.resolved_sent": N_("Alert resolution emailed"),
    "alert.sent": N_("Alert emailed"),
    "api_token.created": N_("API token created"),
    "api_token.revoked": N_("API token revoked"),
    "companies.imported": N_("Companies loaded from a CSV file"),
    "companies.upserted": N_("Companies loaded through the API"),
    "company.deleted": N_("Company deleted"),
    "crm.app_install_failed": N_("Installing the CRM-side app failed"),
    "crm.app_installed": N_("CRM-side app installed"),
    "crm.connect_failed": N_("Connecting to the CRM failed"),
    "crm.connected": N_("Connected to the CRM"),
    "crm.disconnected": N_("CRM sync disconnected"),
    "crm.import_failed": N_("CRM import failed"),
    "crm.import_records_retried": N_("Skipped CRM records read again"),
    "crm.imported": N_("CRM import finished"),
    "crm.settings_changed": N_("CRM settings changed"),
    "crm.sync_requested": N_("Sync requested"),
    "crm.users_import_failed": N_("Importing the CRM users failed"),
    "crm.users_imported": N_("CRM users imported"),
    "invitation.accepted": N_("Invitation accepted"),
    "job.cancelled": N_("Background job cancelled"),
    "job.retried": N_("Background job retried"),
    "list.created": N_("List created"),
    "list.deleted": N_("List deleted"),
    "list.item_added": N_("Record added to a list"),
    "list.item_removed": N_("Record removed from a list"),
    "list.renamed": N_("List renamed"),
    "lists.rules_changed": N_("Auto-save rules changed"),
    "match.confirmed": N_("Match confirmed (Edit match)"),
    "match.linked": N_("CRM record linked to another person or company (Edit match)"),
    "match.review_accepted": N_("Candidate match accepted in review"),
    "match.review_rejected": N_("Candidate match rejected in review"),
    "match.unlinked": N_("CRM record marked as matching no one (Edit match)"),
    "organization.created": N_("Workspace created"),
    "people.imported": N_("People loaded from a CSV file"),
    "people.upserted": N_("People loaded through the API"),
    "person.deleted": N_("Person deleted"),
    "seat.assigned_from_crm": N_("Seat assigned from the CRM"),
    "seat.crm_sync_disabled": N_("CRM sync turned off for a seat"),
    "seat.crm_sync_enabled": N_("CRM sync turned on for a seat"),
    "seat.email_changed": N_("Seat holder's email corrected"),
    "seats.sync_all_changed": N_("Sync CRM for all seats automatically changed"),
    "user.created": N_("Person added"),
    "user.sign_in_locked": N_("Sign-in locked after repeated failures"),
    "user.signed_in": N_("Signed in"),
    "user.signed_out": N_("Signed out"),
    "writeback.backfill": N_("Earlier activity sent to the CRM (backfill)"),
    "writeback.retried": N_("Writeback retried"),
    "writeback.settings_changed": N_("Writeback settings changed"),
}
"""Each audited action's name (English message id); an action missing here is shown as its code."""

DETAIL_NAMES: Final = {
    "alert": N_("Alert"),
    "alerts": N_("Alerts"),
    "recipients": N_("Recipients"),
    "accounts_of_open_opportunities": N_("Accounts of my open opportunities"),
    "accounts_owned": N_("Accounts I own"),
    "activity_ids": N_("Activities"),
    "added": N_("Added"),
    "before": N_("Before"),
    "auto_save_enabled": N_("Auto-save"),
    "blocked_by": N_("To fix in Dynamics 365 first"),
    "cancelled_imports": N_("Imports cancelled"),
    "client_id": N_("Application (client) ID"),
    "created": N_("Created"),
    "crm_records": N_("CRM records"),
    "crm_users": N_("CRM users"),
    "deleted": N_("Deleted"),
    "details": N_("Details"),
    "email": N_("Email"),
    "enabled": N_("On"),
    "encoding": N_("Encoding"),
    "expires_at": N_("Expires"),
    "failed": N_("Failed again"),
    "failed_attempts": N_("Failed attempts"),
    "from": N_("Before"),
    "gone": N_("Gone from the CRM"),
    "has_password": N_("Password set"),
    "include_delivered": N_("Delivered activity included"),
    "import_requests": N_("Import runs"),
    "inserted": N_("New"),
    "is_admin": N_("Administrator"),
    "items": N_("Data items"),
    "kept_working_connection": N_("Working connection kept"),
    "leads_of_open_opportunities": N_("Leads and contacts of my open opportunities"),
    "leads_of_owned_accounts": N_("Leads and contacts of the accounts I own"),
    "lines": N_("Lines read (header included)"),
    "list_items_added": N_("List items added"),
    "list_items_removed": N_("List items removed"),
    "locked_until": N_("Locked until"),
    "missing_privileges": N_("Missing privileges"),
    "name": N_("Name"),
    "named": N_("Records"),
    "org_url": N_("Organization URL"),
    "outcome": N_("Outcome"),
    "prefix": N_("Starts with"),
    "queued": N_("Queued"),
    "purge": N_("Imported CRM data cleaned up"),
    "reason": N_("Reason"),
    "rows": N_("Rows received"),
    "refused": N_("Lines refused"),
    "removed": N_("Removed"),
    "retried": N_("Retried"),
    "rows_deleted": N_("Rows deleted"),
    "rows_imported": N_("Rows imported"),
    "seat": N_("Seat"),
    "seats": N_("Seats"),
    "seats_reset": N_("Seats that lost their CRM match"),
    "since": N_("Since"),
    "slug": N_("Workspace"),
    "stage_source": N_("Stage source"),
    "state": N_("State"),
    "stored": N_("Stored"),
    "stage_threshold": N_("First stage inside the pipeline"),
    "sync_interval_minutes": N_("Import from the CRM every (minutes)"),
    "system_list_items": N_("Auto-saved list items"),
    "system_lists": N_("Auto-saved lists"),
    "table": N_("Table"),
    "table_sync_states": N_("Table checkpoints"),
    "task": N_("Task"),
    "external_id": N_("External id"),
    "links_removed": N_("Match links removed"),
    "to": N_("After"),
    "unchanged": N_("Unchanged"),
    "updated": N_("Updated"),
    "was_connected": N_("Was connected"),
    "won_value_base_currency": N_("Use the value in the base currency"),
    "version": N_("Version"),
    "won_value_column": N_("Opportunity column holding the won value"),
}
"""Each detail's label (English message id); a detail missing here is shown by its key, spaced out."""

HIDDEN_DETAILS: Final = frozenset(
    {
        "user_id",
        "token_id",
        "run_id",
        "seat_id",
        "list_id",
        "invitation_id",
        "crm_id",
        "crm_user_id",
        "job_id",
        "target_id",
        "previous_target_id",
    }
)
"""Internal ids: they mean nothing to a reader (they stay in the API's answer)."""

_ISO_TIME = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d")


@dataclass(frozen=True)
class AuditLine:
    """One entry as the page shows it."""

    created_at: datetime
    actor: str
    action: str
    action_name: str | None
    details: tuple[tuple[str, str], ...]


def action_name(action: str, locale: str) -> str | None:
    """The action's name in ``locale``; None for an action without one (shown as its code)."""
    name = ACTION_NAMES.get(action)
    return translate(name, locale) if name else None


def readable_details(details: Mapping[str, Any], locale: str) -> tuple[tuple[str, str], ...]:
    """``details`` as (label, value) pairs in ``locale``, internal ids left out; alerts by their names."""
    return tuple(
        (_detail_name(key, locale), _detail_value(key, value, locale))
        for key, value in details.items()
        if key not in HIDDEN_DETAILS
    )


ALL_DETAILS: Final = frozenset({"activity_ids", "items", "named"})
"""Details whose value ``"all"`` means every one (writeback settings, writeback and Sync health retries)."""


def _detail_value(key: str, value: Any, locale: str) -> str:
    """The detail ``key``'s ``value`` in ``locale``: alerts and data items by name, ``"all"`` in words."""
    if key in ALERT_DETAILS:
        return _alerts(value, locale)
    if key in ALL_DETAILS and value == "all":
        return translate(N_("All"), locale)
    if key == "items" and isinstance(value, list):
        labels = {item.value: label for item, label in ITEM_LABELS.items()}
        return "; ".join(translate(labels[item], locale) if item in labels else str(item) for item in value) or "—"
    return _value(value, locale)


ALERT_DETAILS: Final = frozenset({"alert", "alerts"})
"""Details holding alert kinds (``alert.sent``, ``alert.resolved_sent``, ``alert.preferences_changed``): shown by
the alerts' names."""


def _alerts(value: Any, locale: str) -> str:
    """An alert kind, or a list of them, by name in ``locale`` (an unknown kind as its code)."""
    names = {kind.value: name for kind, (name, _description) in ALERT_CHOICES.items()}
    kinds = value if isinstance(value, list) else [value]
    return "; ".join(translate(names[kind], locale) if kind in names else str(kind) for kind in kinds) or "—"


def _detail_name(key: str, locale: str) -> str:
    name = DETAIL_NAMES.get(key)
    return translate(name, locale) if name else key.replace("_", " ").capitalize()


def _value(value: Any, locale: str) -> str:
    if value is None or value == "":
        return "—"
    if isinstance(value, bool):
        return translate(N_("Yes") if value else N_("No"), locale)
    if isinstance(value, Mapping):
        if set(value) == {"from", "to"}:
            return f"{_value(value['from'], locale)} → {_value(value['to'], locale)}"
        return "; ".join(
            f"{_detail_name(key, locale)}: {_detail_value(key, item, locale)}" for key, item in value.items()
        )
    if isinstance(value, list | tuple):
        return "; ".join(_value(item, locale) for item in value) or "—"
    if isinstance(value, int | float):
        return f"{value:,}"
    text = str(value)
    if _ISO_TIME.match(text):
        return text[:10] + " " + text[11:16] + " UTC"
    return text


_BAD_DATE: Final = N_("Enter dates as year-month-day, for example 2026-12-31.")

CSV_COLUMNS: Final = (N_("When (UTC)"), N_("Who"), N_("Action"), N_("What"), N_("Details"))
"""The export's header, in the reader's language."""


def _day(value: str) -> date | None:
    """``value`` (``YYYY-MM-DD``; empty: none) as a day.

    Raises:
        ValueError: ``value`` is not such a day.
    """
    return date.fromisoformat(value.strip()) if value.strip() else None


def _audit_filter(action: str, actor: str, since: str, until: str) -> AuditFilter:
    """The query's filter; a day that does not read raises ValueError."""
    return AuditFilter(action or None, actor or None, _day(since), _day(until))


@router.get("/admin/audit")
def audit_log_page(
    request: Request,
    principal: AdminPrincipal,
    services: Services,
    page: int = 1,
    action: str = "",
    actor: str = "",
    since: str = "",
    until: str = "",
) -> Response:
    """The audit log of the administrator's organization, 50 entries a page, newest first; ``action``, ``actor``
    and the UTC days ``since`` and ``until`` (``YYYY-MM-DD``, included; empty: all) filter it. A day that does not
    read is refused with 400 and the form says how to write it."""
    locale = principal.locale
    error: str | None = None
    try:
        chosen = _audit_filter(action, actor, since, until)
    except ValueError:
        chosen, error = AuditFilter(action or None, actor or None), message(_BAD_DATE, locale)
    found = audit_page(
        services.store,
        principal.organization_slug,
        page=page,
        action=chosen.action,
        actor=chosen.actor,
        since=chosen.since,
        until=chosen.until,
    )
    lines = [
        AuditLine(
            entry.created_at,
            entry.actor,
            entry.action,
            action_name(entry.action, locale),
            readable_details(entry.details, locale),
        )
        for entry in found.entries
    ]
    actions = sorted(
        ((code, action_name(code, locale) or code) for code in found.actions), key=lambda pair: pair[1].casefold()
    )
    context = {
        "audit": found,
        "lines": lines,
        "actions": actions,
        "filtered": chosen.active,
        "error": error,
        "typed": {"since": since, "until": until},
    }
    return render(request, "admin_audit.html", context, principal=principal, status_code=400 if error else 200)


@router.get("/admin/audit/export.csv")
async def audit_log_csv(
    principal: AdminPrincipal,
    services: Services,
    action: str = "",
    actor: str = "",
    since: str = "",
    until: str = "",
) -> Response:
    """Every entry of the audit log matching the filter (as the page's), newest first, as CSV in the reader's
    language: UTF-8 with a byte order mark, formula cells neutralised, no cap. 400 for a day that does not read."""
    try:
        chosen = _audit_filter(action, actor, since, until)
    except ValueError:
        return Response(message(_BAD_DATE, principal.locale), status_code=400, media_type="text/plain")
    spool = await run_in_threadpool(
        _spooled_audit_csv, services.store, services.clock, principal.organization_slug, chosen, principal.locale
    )
    return StreamingResponse(
        chunks(spool),
        media_type=MEDIA_TYPE,
        headers={"Content-Disposition": 'attachment; filename="audit-log.csv"'},
    )


def _spooled_audit_csv(store: StoreAccess, clock: Clock, slug: str, chosen: AuditFilter, locale: str) -> IO[bytes]:
    """The export written into a spooled file (:mod:`salesbridge.web.spreadsheet_csv`), rewound: memory stays
    bounded, and no transaction stays open while the client downloads it. The caller closes it (``chunks`` does)."""

    def cells() -> Iterator[tuple[str, ...]]:
        for entry in audit_entries(store, slug, chosen, clock=clock):
            details = "; ".join(f"{label}: {value}" for label, value in readable_details(entry.details, locale))
            action = action_name(entry.action, locale) or entry.action
            yield entry.created_at.isoformat(), entry.actor, entry.action, action, details

    return spooled_spreadsheet_csv(CSV_COLUMNS, cells(), locale=locale)
