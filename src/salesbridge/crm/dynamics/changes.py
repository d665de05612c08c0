"""Change tracking: the whole table first, then only what changed, as pages of rows and tombstones.

The first read sends ``Prefer: odata.track-changes``; Dataverse answers with every row, page by page, and
puts an ``@odata.deltaLink`` on the last page only. Reading that link later returns the rows created or
updated since and ``$deletedEntity`` markers for deleted rows, then a new delta link. A token older than the
organization's ``ExpireChangeTrackingInDays`` is refused with ``0x80044352``, which
:func:`~salesbridge.crm.dynamics.errors.translate_error` turns into ResyncRequiredError.
(use-change-tracking-synchronize-data-external-systems.md)
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Sequence

from salesbridge.crm.dynamics.client import DynamicsClient, JsonObject
from salesbridge.crm.dynamics.paging import DELTA_LINK, PageRequest, iterate_pages, prefer_header
from salesbridge.crm.dynamics.redaction import redact_url
from salesbridge.crm.dynamics.rows import LOOKUP_TABLE, is_tombstone, record_from_row, select_clause, tombstone_from_row
from salesbridge.crm.ports import ChangePage, ChangeToken, CrmRecord, RowPage, TableInfo, Tombstone
from salesbridge.errors import ResyncRequiredError, UnexpectedResponseError

LOOKUP_ANNOTATION = LOOKUP_TABLE


class ChangeTrackingReader:
    """Reads a change-tracked table incrementally.

    Args:
        client: The organization's client.
        prefetch: Fetch the next page while the caller handles the current one.
    """

    def __init__(self, client: DynamicsClient, *, prefetch: bool = True) -> None:
        self._client = client
        self._prefetch = prefetch

    async def read(
        self,
        table: TableInfo,
        *,
        select: str = "",
        since: ChangeToken | None = None,
        page_size: int = 5000,
        annotations: str | None = None,
        resume: ChangeToken | None = None,
    ) -> AsyncIterator[ChangePage]:
        """Pages of changes; the last one carries the token to pass as ``since`` next time.

        Args:
            table: The table (its entity set and primary key come from metadata).
            select: ``$select`` text of the first read; a delta link repeats its own.
            since: The token of the previous read, or None to read every row.
            page_size: Rows per page (``odata.maxpagesize``), 1-5,000.
            annotations: ``odata.include-annotations`` value, when wanted.
            resume: A page's ``resume`` link: continue that read from its next page (the link is followed
                verbatim, with the same Prefer header).

        Raises:
            ResyncRequiredError: The token expired, was refused, or belongs to another organization or
                table: drop it and read again with ``since=None``.
            UnexpectedResponseError: The last page carried no delta link.
            CrmError: Any other failure; pages already yielded stay valid.
        """
        prefer = prefer_header(track_changes=True, page_size=page_size, annotations=annotations)
        first = self._first_request(table, select=select, since=since, resume=resume, prefer=prefer)
        async for page in iterate_pages(self._client, first, prefetch=self._prefetch):
            records: list[CrmRecord] = []
            tombstones: list[Tombstone] = []
            for row in page.get("value") or []:
                if is_tombstone(row):
                    tombstones.append(tombstone_from_row(row, table))
                else:
                    records.append(record_from_row(row, table))
            token, resume_link = _position_after(page, table)
            yield ChangePage(records=tuple(records), tombstones=tuple(tombstones), token=token, resume=resume_link)

    async def read_rows(
        self,
        table: TableInfo,
        *,
        columns: Sequence[str],
        lookup_columns: frozenset[str],
        since: ChangeToken | None = None,
        page_size: int = 5000,
        resume: ChangeToken | None = None,
    ) -> AsyncIterator[RowPage]:
        """As :meth:`read` with ``$select`` of ``columns``, yielding plain rows (:class:`RowPage`).

        Raises:
            As :meth:`read`.
        """
        primary_key = table.primary_id_column
        # One (column, wire property, lookup-table annotation) per column, computed once per read.
        plan = [
            (column, f"_{column}_value", f"_{column}_value@{LOOKUP_TABLE}")
            if column in lookup_columns
            else (column, column, None)
            for column in (name.lower() for name in columns)
            if column != primary_key
        ]
        prefer = prefer_header(track_changes=True, page_size=page_size, annotations=LOOKUP_ANNOTATION)
        select = select_clause([primary_key, *(column for column, _, _ in plan)], lookup_columns)
        first = self._first_request(table, select=select, since=since, resume=resume, prefer=prefer)
        async for page in iterate_pages(self._client, first, prefetch=self._prefetch):
            rows: list[tuple[str, dict[str, object]]] = []
            deleted: list[str] = []
            for row in page.get("value") or []:
                if "@odata.context" in row and is_tombstone(row):
                    deleted.append(tombstone_from_row(row, table).id)
                    continue
                record_id = row.get(primary_key)
                if not record_id:
                    raise UnexpectedResponseError(
                        f"A '{table.logical_name}' row arrived without its primary key '{primary_key}'."
                    )
                values: dict[str, object] = {}
                for column, wire, annotation in plan:
                    value = row.get(wire)
                    if annotation is not None and value is not None:
                        value = {"id": value, "table": row.get(annotation)}
                    values[column] = value
                rows.append((record_id, values))
            token, resume_link = _position_after(page, table)
            yield RowPage(rows=rows, deleted_ids=deleted, token=token, resume=resume_link)

    def _first_request(
        self,
        table: TableInfo,
        *,
        select: str,
        since: ChangeToken | None,
        resume: ChangeToken | None,
        prefer: str,
    ) -> PageRequest:
        """The first page: where an interrupted read stopped, else the delta since ``since``, else the whole table."""
        headers = {"Prefer": prefer}
        if resume is not None:
            self._check_token(resume, table)
            return PageRequest(target=resume.value, headers=headers)
        if since is not None:
            self._check_token(since, table)
            return PageRequest(target=since.value, headers=headers)
        return PageRequest(target=table.entity_set_name, params={"$select": select} if select else {}, headers=headers)

    def _check_token(self, token: ChangeToken, table: TableInfo) -> None:
        """A token is a delta link of this organization's API and of this table, or it cannot be used."""
        if not self._client.is_own_link(token.value, collection=table.entity_set_name):
            raise ResyncRequiredError(
                f"The stored change token of '{table.logical_name}' is not a delta link of this organization and "
                f"table ({redact_url(token.value)}); read the table again in full."
            )


def _position_after(page: JsonObject, table: TableInfo) -> tuple[ChangeToken | None, ChangeToken | None]:
    """The delta token (last page) or the resume link (other pages) of a page of changes.

    Raises:
        UnexpectedResponseError: The page has neither, so the read could never finish.
    """
    delta_link = page.get(DELTA_LINK)
    token = ChangeToken(str(delta_link)) if delta_link else None
    next_link = page.get("@odata.nextLink")
    if token is None and next_link is None:
        raise UnexpectedResponseError(
            f"The last page of changes of '{table.logical_name}' carried no delta link; is change tracking enabled "
            "on the table?"
        )
    return token, (ChangeToken(str(next_link)) if next_link and token is None else None)
