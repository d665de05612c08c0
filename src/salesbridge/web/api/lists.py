"""``/api/v1/me/lists`` (a seat holder's lists) and ``/api/v1/orgs/{org}/crm/settings`` (administrators)."""

from __future__ import annotations

import uuid
from typing import Annotated, Final, Literal
from urllib.parse import urlencode

from fastapi import APIRouter, Query, Response
from fastapi.concurrency import run_in_threadpool
from pydantic import Field

from salesbridge.services.crm_settings import SettingsChange, with_stage_label
from salesbridge.services.lists import (
    add_to_list,
    create_list,
    cursor_after,
    delete_list,
    find_records,
    list_page,
    preview_lists,
    remove_from_list,
    rename_list,
)
from salesbridge.web.api.schemas import ApiInput, ApiModel, IsoTime, errors
from salesbridge.web.localized import choices_json, label_reader, list_json, settings_json
from salesbridge.web.security import AdminPrincipal, SeatHolderPrincipal, Services

router = APIRouter(tags=["lists"], responses=errors(401, 403, 422))

LIST_ITEMS_SHOWN: Final = 100
"""The items, people and companies per list GET /api/v1/me/lists answers with unless asked for more."""
LIST_ITEMS_LIMIT: Final = 1_000
"""The most items, people and companies per list GET /api/v1/me/lists answers with: the response stays bounded
however large the auto-saved lists grow; ``size`` and ``unmatched`` count the whole list."""


class CrmSettingsIn(ApiInput):
    """Settings to change; omitted ones stay as they are. Values are checked against the CRM (see GET)."""

    stage_source: str | None = Field(default=None, description="salesstage | salesstagecode | stepname")
    stage_threshold: str | None = Field(
        default=None, description="The first stage inside the pipeline: an option value or label, or a step name."
    )
    every_open_opportunity: bool = Field(
        default=False, description="Clear the threshold: every open opportunity is in the pipeline."
    )
    won_value_column: str | None = Field(default=None, description="A money column of opportunity.")
    won_value_base_currency: bool | None = None
    auto_save_enabled: bool | None = None
    sync_interval_minutes: int | None = Field(default=None, description="5 to 1440.")
    profile_url_columns: dict[str, str] | None = Field(
        default=None,
        description="Per table (contact, lead, account), the text column holding a LinkedIn profile URL; an empty "
        "text clears it. Tables left out stay as they are.",
    )


class CrmSettingsOut(ApiModel):
    """The organization's CRM settings (the defaults until first saved)."""

    stage_source: str = Field(description="salesstage | salesstagecode | stepname")
    stage_source_label: str
    stage_threshold: str | None = Field(description="The first stage inside the pipeline; null: every open one.")
    stage_label: str | None
    won_value_column: str
    won_value_base_currency: bool
    auto_save_enabled: bool
    sync_interval_minutes: int
    profile_url_columns: dict[str, str | None] = Field(
        description="Per table (contact, lead, account), the column holding a LinkedIn profile URL; null: none."
    )
    is_saved: bool = Field(description="False while the defaults are in force.")
    updated_at: IsoTime | None


class ChoiceOut(ApiModel):
    """An allowed value (``value`` is stored, ``label`` shown)."""

    value: str
    label: str


class SettingsChoicesOut(ApiModel):
    """The values the settings may take."""

    stages: dict[str, list[ChoiceOut]] = Field(description="The thresholds offered, per stage source.")
    money_columns: list[ChoiceOut]
    from_crm: bool = Field(description="Read from the connected CRM (else the standard choices).")
    crm_problem: Literal["slow", "failed"] | None = Field(
        description="Why the CRM's own choices could not be read: it did not answer in time, or failed."
    )
    text_columns: dict[str, list[ChoiceOut]] = Field(
        description="Per table (contact, lead, account), the text columns that may hold a profile URL (read from "
        "the CRM; empty when it could not be read)."
    )


class CrmSettingsChoicesOut(CrmSettingsOut):
    """The settings and what they may be set to."""

    choices: SettingsChoicesOut


class ListChangesOut(ApiModel):
    """Items the recompute of the lists added and removed."""

    added: int
    removed: int


class SavedCrmSettingsOut(CrmSettingsOut):
    """The saved settings; ``lists`` when the pipeline changed (null otherwise)."""

    lists: ListChangesOut | None


class ListItemOut(ApiModel):
    """A CRM record in a list."""

    table: str
    crm_id: str
    name: str | None = Field(description="From the imported records; null when no longer imported.")
    reason: str | None = Field(description="Why auto-save saved it; null for hand-added items.")
    reason_label: str | None
    added_at: IsoTime


class CrmRecordRefOut(ApiModel):
    """A CRM record, by table and id."""

    table: str
    crm_id: str


class ListTargetOut(ApiModel):
    """A workspace person or company the list holds: tied by matching to some of its CRM records."""

    id: str
    name: str
    detail: str | None = Field(description="A person's title and company, or a company's place.")
    crm_records: list[CrmRecordRefOut]


class ListOut(ApiModel):
    """A list and its records."""

    id: str = Field(description="The list's id (all zeros for a system list auto-save has not filled yet).")
    name: str
    kind: str = Field(description="`manual` for the caller's own lists; the system lists' kinds otherwise.")
    items: list[ListItemOut]
    people: list[ListTargetOut] = Field(description="The workspace's people tied to the list's contacts and leads.")
    companies: list[ListTargetOut] = Field(description="The workspace's companies tied to the list's accounts.")
    unmatched: int = Field(description="The list's CRM records not matched to a person or company yet.")
    unmatched_label: str | None = Field(description='"12 CRM records not matched yet", in the caller\'s language.')
    size: int = Field(description="How many CRM records the list holds (``items`` has the first ``limit`` of them).")
    next: str | None = Field(
        default=None,
        description="Where the items after ``items`` are read: the path and query of GET "
        "/api/v1/me/lists/{list_id}/items (same ``limit``); null when ``items`` holds the whole list.",
    )


class ListPageOut(ListOut):
    """A page of a list: its items after the cursor by table, then CRM id; the people and companies those items are
    tied to, each with its records on this page (one tied to records on several pages is on each of them);
    ``size`` and ``unmatched`` count the whole list."""

    limit: int
    next_cursor: str | None = Field(description="Pass as ``cursor`` for the next page; null on the last page.")
    next: str | None = Field(description="The next page's path and query (same ``limit``); null on the last page.")


def _page_link(list_id: uuid.UUID, limit: int, cursor: str | None) -> str:
    """The path and query of GET /api/v1/me/lists/{list_id}/items for ``limit`` items after ``cursor``."""
    query = {"limit": limit} if cursor is None else {"limit": limit, "cursor": cursor}
    return f"/api/v1/me/lists/{list_id}/items?{urlencode(query)}"


class AddedOut(ApiModel):
    """Whether the record was added (false: it was in the list already)."""

    added: bool


class RemovedOut(ApiModel):
    """Whether the record was taken out (false: it was not in the list)."""

    removed: bool


class RecordOut(ApiModel):
    """An imported CRM record found by name."""

    table: str
    crm_id: str
    name: str


@router.get("/api/v1/me/lists", summary="My lists and their records")
def my_lists(
    principal: SeatHolderPrincipal,
    services: Services,
    limit: Annotated[
        int,
        Query(
            ge=0,
            le=LIST_ITEMS_LIMIT,
            description="At most this many items per list (the first page of GET /api/v1/me/lists/{list_id}/items), "
            "people and companies (the first by name); `size` and `unmatched` count the whole list.",
        ),
    ] = LIST_ITEMS_SHOWN,
) -> list[ListOut]:
    """The caller's two system lists ("My CRM accounts", "My CRM leads and contacts") and their own lists, each with
    its first ``limit`` items (as GET /api/v1/me/lists/{list_id}/items walks them: by table, then CRM id) and its
    first ``limit`` people and companies by name; its size and unmatched records are counted by the database, so a
    list of thousands of records is not read whole. ``next`` reads on (GET /api/v1/me/lists/{list_id}/items) when
    ``items`` is not the whole list."""
    views = preview_lists(
        services.store, principal.organization_slug, principal.email, shown=limit, records=True, walk_order=True
    )
    answer: list[ListOut] = []
    for view in views:
        following = None
        if view.size and not view.items:  # ?limit=0: the items start at the first page
            following = _page_link(view.id, LIST_ITEMS_SHOWN, None)
        elif (cursor := cursor_after(view)) is not None:
            following = _page_link(view.id, limit, cursor)
        answer.append(ListOut.model_validate({**list_json(view, principal.locale), "next": following}))
    return answer


MAX_CURSOR: Final = 4_096
"""The longest cursor taken (a page's cursor holds the list's id and its last item's table and CRM id: about 120
characters; the bound refuses made-up ones early)."""


@router.get("/api/v1/me/lists/{list_id}/items", summary="A page of a list of mine", responses=errors(404))
def my_list_page(
    list_id: uuid.UUID,
    principal: SeatHolderPrincipal,
    services: Services,
    limit: Annotated[int, Query(ge=1, le=LIST_ITEMS_LIMIT, description="At most this many items.")] = LIST_ITEMS_SHOWN,
    cursor: Annotated[
        str | None,
        Query(max_length=MAX_CURSOR, description="The previous page's ``next_cursor``; none: the first page."),
    ] = None,
) -> ListPageOut:
    """The caller's list (hand-made or system) ``limit`` items at a time, by table then CRM id (the order GET
    /api/v1/me/lists shows the first ones in): follow ``next`` until it is null to read every item once. The cursor
    is the last item's place, not a count, and the place is the item's identity, not its name: items added or
    removed meanwhile, and records renamed in the CRM meanwhile, move no other item to another page (an item added
    during the walk is seen when it falls after the cursor). 404 for a list that is not the caller's (a system list
    auto-save has not filled yet has no page: its id is all zeros); 422 for a cursor not given by a page of this
    list."""
    page = list_page(services.store, principal.organization_slug, principal.email, list_id, cursor=cursor, limit=limit)
    following = None if page.next_cursor is None else _page_link(list_id, limit, page.next_cursor)
    return ListPageOut.model_validate(
        {**list_json(page.view, principal.locale), "limit": limit, "next_cursor": page.next_cursor, "next": following}
    )


@router.get(
    "/api/v1/orgs/{org}/crm/settings",
    summary="The CRM settings and the values they may take",
    responses=errors(404),
)
async def crm_settings(org: str, principal: AdminPrincipal, services: Services) -> CrmSettingsChoicesOut:  # noqa: ARG001
    """Pipeline stage, won-value column, auto-save, sync interval; ``choices`` lists the allowed values (the
    standard ones, with ``crm_problem`` ``slow`` or ``failed``, when Dynamics does not answer in time or fails)."""
    service = services.crm_settings
    choices = await service.choices(principal.organization_slug, wait_s=services.crm_wait_s)
    # The store is read in the threadpool: an async route must not block the event loop.
    stored = await run_in_threadpool(service.settings, principal.organization_slug)
    settings = with_stage_label(stored, choices)
    return CrmSettingsChoicesOut.model_validate(
        {**settings_json(settings, principal.locale), "choices": choices_json(choices, principal.locale)}
    )


@router.put("/api/v1/orgs/{org}/crm/settings", summary="Change the CRM settings", responses=errors(404))
async def update_crm_settings(
    org: str,  # noqa: ARG001
    body: CrmSettingsIn,
    principal: AdminPrincipal,
    services: Services,
) -> SavedCrmSettingsOut:
    """Validate and save; a pipeline change recomputes the lists (``lists``: items added and removed).
    422 with a message when a value is not allowed."""
    change = SettingsChange(
        stage_source=body.stage_source,
        stage_threshold=body.stage_threshold,
        clear_stage=body.every_open_opportunity,
        won_value_column=body.won_value_column,
        won_value_base_currency=body.won_value_base_currency,
        auto_save_enabled=body.auto_save_enabled,
        sync_interval_minutes=body.sync_interval_minutes,
        profile_url_columns=body.profile_url_columns,
    )
    saved = await services.crm_settings.update(
        principal.organization_slug,
        change,
        actor=principal.email,
        reads=label_reader(principal.locale),
        wait_s=services.crm_wait_s,
    )
    lists = {"added": saved.lists.added, "removed": saved.lists.removed} if saved.lists else None
    return SavedCrmSettingsOut.model_validate({**settings_json(saved.settings, principal.locale), "lists": lists})


class ListIn(ApiInput):
    """A hand-made list; auto-save never touches it."""

    # Checked by the use case, so a bad name is refused (422) in the caller's language.
    name: str = Field(description="1 to 200 characters (surrounding spaces are dropped).")


class ListItemIn(ApiInput):
    """A CRM record to put in a hand-made list."""

    table: Literal["account", "contact", "lead"]
    crm_id: uuid.UUID


@router.post("/api/v1/me/lists", status_code=201, summary="Create a list of my own")
def create_my_list(body: ListIn, principal: SeatHolderPrincipal, services: Services) -> ListOut:
    """A new, empty hand-made list of the caller."""
    created = create_list(
        services.store, principal.organization_slug, principal.email, name=body.name, actor=principal.email
    )
    return ListOut.model_validate(list_json(created, principal.locale))


@router.post("/api/v1/me/lists/{list_id}/items", summary="Put a CRM record in a list of my own", responses=errors(404))
def add_to_my_list(
    list_id: uuid.UUID, body: ListItemIn, principal: SeatHolderPrincipal, services: Services
) -> AddedOut:
    """Idempotent: ``added`` is false when the record was in the list already. 404 for a list that is not the
    caller's; 422 for a system list."""
    added = add_to_list(
        services.store,
        principal.organization_slug,
        principal.email,
        list_id,
        table=body.table,
        crm_id=str(body.crm_id),
        actor=principal.email,
    )
    return AddedOut(added=added)


@router.patch("/api/v1/me/lists/{list_id}", summary="Rename a list of my own", responses=errors(404))
def rename_my_list(list_id: uuid.UUID, body: ListIn, principal: SeatHolderPrincipal, services: Services) -> ListOut:
    """The renamed list. 404 for a list that is not the caller's; 422 for a system list or a bad name."""
    renamed = rename_list(
        services.store, principal.organization_slug, principal.email, list_id, name=body.name, actor=principal.email
    )
    return ListOut.model_validate(list_json(renamed, principal.locale))


@router.delete("/api/v1/me/lists/{list_id}", status_code=204, summary="Delete a list of my own", responses=errors(404))
def delete_my_list(list_id: uuid.UUID, principal: SeatHolderPrincipal, services: Services) -> Response:
    """The list and its items go; the CRM records stay. 404 for a list that is not the caller's (or is gone);
    422 for a system list."""
    delete_list(services.store, principal.organization_slug, principal.email, list_id, actor=principal.email)
    return Response(status_code=204)


@router.delete(
    "/api/v1/me/lists/{list_id}/items/{table}/{crm_id}",
    summary="Take a record out of a list of my own",
    responses=errors(404),
)
def remove_from_my_list(
    list_id: uuid.UUID,
    table: Literal["account", "contact", "lead"],
    crm_id: uuid.UUID,
    principal: SeatHolderPrincipal,
    services: Services,
) -> RemovedOut:
    """Idempotent: ``removed`` is false when the record was not in the list. 404 for a list that is not the
    caller's; 422 for a system list."""
    removed = remove_from_list(
        services.store,
        principal.organization_slug,
        principal.email,
        list_id,
        table=table,
        crm_id=str(crm_id),
        actor=principal.email,
    )
    return RemovedOut(removed=removed)


@router.get("/api/v1/me/records", summary="Find imported CRM accounts, contacts and leads by name")
def find_my_records(q: str, principal: SeatHolderPrincipal, services: Services) -> list[RecordOut]:
    """Up to 20 records whose name contains ``q`` (any case, at least two characters), by name."""
    matches = find_records(services.store, principal.organization_slug, q)
    return [RecordOut.model_validate(match.to_json()) for match in matches]
