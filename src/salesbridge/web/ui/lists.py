"""The Lists page: a seat holder's lists with their records, their own lists to create, fill (from a search of
the imported CRM accounts, contacts and leads), rename, empty and delete, and their own auto-save rules.
Auto-saved lists are read-only here: auto-save keeps them."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from functools import partial
from typing import Annotated, Any, Final
from urllib.parse import urlencode

from fastapi import APIRouter, Form, Request
from fastapi.responses import RedirectResponse, Response

from salesbridge.errors import InvalidRequestError
from salesbridge.i18n import translate
from salesbridge.message_ids import N_
from salesbridge.services.accounts import Principal
from salesbridge.services.list_view import (
    ROWS_SHOWN,
    ListRow,
    ListSort,
    RowBadge,
    filtered_keys,
    list_table,
    save_rows,
    users_list,
)
from salesbridge.services.lists import (
    AutoSaveRulesView,
    add_to_list,
    create_list,
    delete_list,
    find_records,
    my_rules,
    own_lists,
    preview_lists,
    remove_from_list,
    rename_list,
    save_my_rules,
)
from salesbridge.web.context import ConsoleServices
from salesbridge.web.localized import crm_table, unmatched_label
from salesbridge.web.security import SeatHolderPrincipal, Services
from salesbridge.web.spreadsheet_csv import MEDIA_TYPE, spreadsheet_csv_bytes
from salesbridge.web.templating import render

router = APIRouter(include_in_schema=False)

ROW_BADGE_LABELS: Final = {
    RowBadge.MATCHED: N_("Matched"),
    RowBadge.OUT_OF_DATE: N_("Out of date"),
    RowBadge.UNMATCHED: N_("Not matched yet"),
}
CSV_HEADERS: Final = (N_("Name"), N_("Type"), N_("Owner"), N_("Status"), N_("CRM id"), N_("Added"))

Checkbox = Annotated[str, Form()]
FormText = Annotated[str, Form()]


LIST_ITEMS_SHOWN: Final = 50
"""Records (and people, companies) of each list the Lists page shows (the store reads no more): a list of thousands
is read a page at a time on its own page (``/lists/<id>``)."""


def _page(
    request: Request,
    principal: Principal,
    services: ConsoleServices,
    *,
    find: str = "",
    error: str | None = None,
    status_code: int = 200,
) -> Response:
    slug, email = principal.organization_slug, principal.email
    lists = preview_lists(services.store, slug, email, shown=LIST_ITEMS_SHOWN)
    context: dict[str, Any] = {
        "lists": lists,
        "own_lists": [saved for saved in lists if not saved.is_system],
        "rules": my_rules(services.store, slug, email),
        "find": find,
        "matches": find_records(services.store, slug, find) if find.strip() else None,
        "notice": request.query_params.get("notice"),
        "error": error,
        "unmatched_label": lambda count: unmatched_label(count, principal.locale),
        "items_shown": LIST_ITEMS_SHOWN,
    }
    return render(request, "lists.html", context, principal=principal, status_code=status_code)


def _back(notice: str, list_id: uuid.UUID | None = None, *, find: str = "") -> RedirectResponse:
    """Back to the Lists page with ``notice``, at the list ``list_id``, still showing the search ``find``."""
    query = urlencode({"notice": notice, **({"find": find} if find else {})})
    anchor = f"#list-{list_id}" if list_id else ""
    return RedirectResponse(f"/lists?{query}{anchor}", status_code=303)


@router.get("/lists")
def lists_page(request: Request, principal: SeatHolderPrincipal, services: Services, find: str = "") -> Response:
    """The user's two system lists, then their own lists, each with its records; the records found by ``find``
    (by name) to add to an own list; and the auto-save rules form."""
    return _page(request, principal, services, find=find)


@router.post("/lists/rules")
def save_rules(
    principal: SeatHolderPrincipal,
    services: Services,
    accounts_of_open_opportunities: Checkbox = "",
    accounts_owned: Checkbox = "",
    leads_of_open_opportunities: Checkbox = "",
    leads_of_owned_accounts: Checkbox = "",
) -> Response:
    """Save the user's auto-save rules (checkboxes) and recompute the lists."""
    rules = AutoSaveRulesView(
        accounts_of_open_opportunities=accounts_of_open_opportunities == "on",
        accounts_owned=accounts_owned == "on",
        leads_of_open_opportunities=leads_of_open_opportunities == "on",
        leads_of_owned_accounts=leads_of_owned_accounts == "on",
    )
    save_my_rules(services.store, principal.organization_slug, principal.email, rules, actor=principal.email)
    return _back("saved")


@router.post("/lists")
def create_own_list(
    request: Request, principal: SeatHolderPrincipal, services: Services, name: FormText = ""
) -> Response:
    """Create a list of the user's own (auto-save never touches it); a bad name is explained on the page."""
    try:
        created = create_list(
            services.store, principal.organization_slug, principal.email, name=name, actor=principal.email
        )
    except InvalidRequestError as refused:
        return _page(request, principal, services, error=refused.localized(principal.locale), status_code=422)
    return _back("created", created.id)


def _attempt(
    request: Request,
    principal: Principal,
    services: ConsoleServices,
    change: Callable[[], object],
    *,
    notice: str,
    list_id: uuid.UUID | None = None,
    find: str = "",
) -> Response:
    """Make ``change`` and go back to the page with ``notice``; a refused change is explained on the page."""
    try:
        change()
    except InvalidRequestError as refused:
        error = refused.localized(principal.locale)
        return _page(request, principal, services, find=find, error=error, status_code=422)
    return _back(notice, list_id, find=find)


@router.post("/lists/items")
def add_record(
    request: Request,
    principal: SeatHolderPrincipal,
    services: Services,
    list_id: Annotated[uuid.UUID, Form()],
    table: FormText = "",
    crm_id: FormText = "",
    find: FormText = "",
) -> Response:
    """Put a found record in one of the user's own lists; back to the search. 404 for another user's list."""
    slug, email = principal.organization_slug, principal.email
    change = partial(add_to_list, services.store, slug, email, list_id, table=table, crm_id=crm_id, actor=email)
    return _attempt(request, principal, services, change, notice="added", list_id=list_id, find=find)


@router.post("/lists/{list_id}/items/remove")
def remove_record(
    request: Request,
    list_id: uuid.UUID,
    principal: SeatHolderPrincipal,
    services: Services,
    table: FormText = "",
    crm_id: FormText = "",
) -> Response:
    """Take a record out of one of the user's own lists. Idempotent."""
    slug, email = principal.organization_slug, principal.email
    change = partial(remove_from_list, services.store, slug, email, list_id, table=table, crm_id=crm_id, actor=email)
    return _attempt(request, principal, services, change, notice="removed", list_id=list_id)


@router.post("/lists/{list_id}/name")
def rename_own_list(
    request: Request, list_id: uuid.UUID, principal: SeatHolderPrincipal, services: Services, name: FormText = ""
) -> Response:
    """Rename one of the user's own lists; a bad name is explained on the page."""
    slug, email = principal.organization_slug, principal.email
    change = partial(rename_list, services.store, slug, email, list_id, name=name, actor=email)
    return _attempt(request, principal, services, change, notice="renamed", list_id=list_id)


@router.post("/lists/{list_id}/delete")
def delete_own_list(
    request: Request, list_id: uuid.UUID, principal: SeatHolderPrincipal, services: Services
) -> Response:
    """Delete one of the user's own lists (the CRM records stay)."""
    slug, email = principal.organization_slug, principal.email
    change = partial(delete_list, services.store, slug, email, list_id, actor=email)
    return _attempt(request, principal, services, change, notice="deleted")


# ------------------------------------------------------------------------------------- one list as a table


def _table_query(sort: str, order: str, badge: str, owner: str) -> dict[str, Any]:
    """The sort and filters a list's page or export asks for (unknown values: the defaults)."""
    return {
        "sort": ListSort(sort) if sort in ListSort._value2member_map_ else ListSort.NAME,
        "descending": order == "desc",
        "badge": RowBadge(badge) if badge in RowBadge._value2member_map_ else None,
        "owner": owner or None,
    }


@router.get("/lists/{list_id}")
def list_table_page(
    request: Request,
    list_id: uuid.UUID,
    principal: SeatHolderPrincipal,
    services: Services,
    sort: str = "name",
    order: str = "asc",
    badge: str = "",
    owner: str = "",
    after: str | None = None,
    before: str | None = None,
) -> Response:
    """One of the user's lists as a table, a page of :data:`ROWS_SHOWN` rows at a time: sorted, filtered by badge
    and CRM owner, rows (or every row the filters keep) to save to another of their lists at once, and every row
    exported as CSV. The next and previous pages are asked for by the cursor of this page's last or first row
    (``after``, ``before``): rows renamed meanwhile move no other row across a page's edge. A cursor that does not
    fit (another sort, a made-up one) shows the first page and says so. 404 for another user's list."""
    slug, email = principal.organization_slug, principal.email
    asked = _table_query(sort, order, badge, owner)
    table = list_table(services.store, slug, email, list_id, **asked, paged=True, after=after, before=before)
    query = {"sort": table.sort.value, "order": "desc" if table.descending else "asc"}
    query |= {"badge": table.badge.value} if table.badge else {}
    query |= {"owner": table.owner} if table.owner else {}
    context: dict[str, Any] = {
        "table": table,
        "rows": table.rows,
        "rows_shown": ROWS_SHOWN,
        "own_lists": [saved for saved in own_lists(services.store, slug, email) if saved.id != list_id],
        "export_query": urlencode(query),
        "page_query": lambda direction, cursor: urlencode({**query, direction: cursor}),
        "notice": request.query_params.get("notice"),
        "saved_count": request.query_params.get("count"),
        "error": request.query_params.get("error"),
    }
    return render(request, "list.html", context, principal=principal)


def _csv_cells(row: ListRow, locale: str) -> list[str]:
    badge = translate(ROW_BADGE_LABELS[row.badge], locale) if row.badge else ""
    return [
        row.name or "",
        crm_table(row.table, locale, plural=False),
        row.owner_name or "",
        badge,
        row.crm_id,
        row.added_at.isoformat(),
    ]


@router.get("/lists/{list_id}/export.csv")
def export_list(
    list_id: uuid.UUID,
    principal: SeatHolderPrincipal,
    services: Services,
    sort: str = "name",
    order: str = "asc",
    badge: str = "",
    owner: str = "",
) -> Response:
    """Every row of the list as the page shows it (same sort and filters), as CSV for a spreadsheet
    (:mod:`salesbridge.web.spreadsheet_csv`: UTF-8 with a byte order mark, headers in the reader's language, formula
    cells neutralised). 404 for another user's list."""
    slug, email, locale = principal.organization_slug, principal.email, principal.locale
    table = list_table(services.store, slug, email, list_id, **_table_query(sort, order, badge, owner))
    cells = (_csv_cells(row, locale) for row in table.rows)
    return Response(
        spreadsheet_csv_bytes(CSV_HEADERS, cells, locale=locale),
        media_type=MEDIA_TYPE,
        headers={"Content-Disposition": 'attachment; filename="list.csv"'},
    )


@router.post("/lists/{list_id}/save")
def save_rows_to_list(
    list_id: uuid.UUID,
    principal: SeatHolderPrincipal,
    services: Services,
    target_id: Annotated[uuid.UUID, Form()],
    rows: Annotated[list[str] | None, Form()] = None,
    every: Checkbox = "",
    badge: FormText = "",
    owner: FormText = "",
) -> Response:
    """Save the chosen rows of the list ``list_id`` to the user's own list ``target_id`` (``every``: every row
    the filters ``badge`` and ``owner`` keep, on every page); back to the list saying how many were added. 404 for
    another user's list."""
    slug, email = principal.organization_slug, principal.email
    if every == "on":
        query = _table_query("", "", badge, owner)
        rows = filtered_keys(services.store, slug, email, list_id, badge=query["badge"], owner=query["owner"])
    else:
        users_list(services.store, slug, email, list_id)  # the list read from is the user's too
    if not rows:
        return RedirectResponse(f"/lists/{list_id}?error=none-chosen", status_code=303)
    try:
        added = save_rows(services.store, slug, email, target_id, rows, actor=email)
    except InvalidRequestError:
        return RedirectResponse(f"/lists/{list_id}?error=not-saved", status_code=303)
    return RedirectResponse(f"/lists/{list_id}?notice=saved&count={added}", status_code=303)
