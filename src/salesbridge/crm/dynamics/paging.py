"""Server-driven paging: follow ``@odata.nextLink`` verbatim until there is none.

:class:`NextLinkPaginator` is pure (a page in, the next request or None out); :func:`iterate_pages` drives it
with a client. Dataverse wants the same ``Prefer: odata.maxpagesize`` on every page and the link untouched
(query/page-results.md).
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Mapping
from dataclasses import dataclass, field

from salesbridge.crm.dynamics.client import CallClass, DynamicsClient, JsonObject
from salesbridge.crm.dynamics.redaction import redact_url
from salesbridge.errors import UnexpectedResponseError

NEXT_LINK = "@odata.nextLink"
DELTA_LINK = "@odata.deltaLink"
MAX_PAGE_SIZE = 5000
"""Dataverse's largest page."""


def prefer_header(*, page_size: int | None = None, track_changes: bool = False, annotations: str | None = None) -> str:
    """A ``Prefer`` value: ``odata.track-changes,odata.maxpagesize=500,odata.include-annotations="…"``.

    Raises:
        ValueError: ``page_size`` outside 1-5,000.
    """
    preferences: list[str] = []
    if track_changes:
        preferences.append("odata.track-changes")
    if page_size is not None:
        if not 1 <= page_size <= MAX_PAGE_SIZE:
            raise ValueError(f"A page holds 1 to {MAX_PAGE_SIZE} rows, not {page_size}.")
        preferences.append(f"odata.maxpagesize={page_size}")
    if annotations:
        preferences.append(f'odata.include-annotations="{annotations}"')
    return ",".join(preferences)


@dataclass(frozen=True)
class PageRequest:
    """One GET of a paged read.

    Attributes:
        target: Path relative to the API root for the first page; the server's absolute link afterwards.
        params: Query options of the first page; empty for links, which carry their own.
        headers: Sent with every page (the ``Prefer`` header above all).
    """

    target: str
    params: Mapping[str, str] = field(default_factory=dict)
    headers: Mapping[str, str] = field(default_factory=dict)


class NextLinkPaginator:
    """Turns each page into the request for the next one. Pure: holds only the links it has seen.

    Args:
        first: The request of the first page.
    """

    def __init__(self, first: PageRequest) -> None:
        self._first = first
        self._seen: set[str] = set()

    @property
    def first(self) -> PageRequest:
        """The request of the first page."""
        return self._first

    def next_request(self, page: JsonObject) -> PageRequest | None:
        """The request of the page after ``page``, or None when ``page`` is the last.

        Raises:
            UnexpectedResponseError: The link is not a string, or was already followed (the server is
                looping; following it would never end).
        """
        link = page.get(NEXT_LINK)
        if link is None:
            return None
        if not isinstance(link, str) or not link:
            raise UnexpectedResponseError(f"Dynamics sent a {NEXT_LINK} that is not a link.")
        if link in self._seen:
            raise UnexpectedResponseError(
                f"Dynamics sent the same {NEXT_LINK} twice; refusing to loop: {redact_url(link)}"
            )
        self._seen.add(link)
        return PageRequest(target=link, headers=self._first.headers)


async def iterate_pages(
    client: DynamicsClient,
    first: PageRequest,
    *,
    call_class: CallClass = CallClass.QUERY,
    prefetch: bool = True,
) -> AsyncIterator[JsonObject]:
    """Every page of a paged read, in order.

    Args:
        client: Sends the requests.
        first: The first page's request.
        call_class: Chooses the timeout.
        prefetch: Fetch page n+1 while the consumer handles page n (the server spends seconds on each page;
            this hides that time behind the consumer's work). Abandoning the iteration cancels the fetch.

    Raises:
        CrmError: The first failure (transient ones already retried by the client); pages already yielded
            stay valid.
    """
    paginator = NextLinkPaginator(first)

    async def fetch(request: PageRequest) -> JsonObject:
        return await client.get_json(
            request.target, params=request.params or None, headers=request.headers, call_class=call_class
        )

    pending: asyncio.Task[JsonObject] | None = asyncio.ensure_future(fetch(first))
    try:
        while pending is not None:
            page = await pending
            pending = None
            following = paginator.next_request(page)
            if following is not None and prefetch:
                pending = asyncio.ensure_future(fetch(following))
                # Let the fetch send its request before the consumer gets the page: the server then works on
                # page n+1 during the consumer's work on page n instead of after it (a sequential read's
                # throughput is bound by the server's time per page).
                await asyncio.sleep(0)
            yield page
            if following is not None and pending is None:
                pending = asyncio.ensure_future(fetch(following))
    finally:
        if pending is not None and not pending.done():
            pending.cancel()
        if pending is not None:
            # Collect the abandoned fetch's outcome so it is not reported as never retrieved.
            await asyncio.gather(pending, return_exceptions=True)
