"""NextLinkPaginator: pure, follows the link verbatim with the first request's headers, refuses loops."""

from __future__ import annotations

import pytest

from salesbridge.crm.dynamics.paging import NextLinkPaginator, PageRequest, prefer_header
from salesbridge.errors import UnexpectedResponseError

FIRST = PageRequest("contacts", params={"$select": "fullname"}, headers={"Prefer": "odata.maxpagesize=500"})
LINK = "https://org.crm.dynamics.com/api/data/v9.2/contacts?$select=fullname&$skiptoken=%3Ccookie%20pagenumber=%222%22%20/%3E"


def test_the_next_request_is_the_link_verbatim_with_the_same_prefer() -> None:
    paginator = NextLinkPaginator(FIRST)

    following = paginator.next_request({"value": [], "@odata.nextLink": LINK})

    assert following == PageRequest(LINK, params={}, headers={"Prefer": "odata.maxpagesize=500"})


def test_no_link_means_the_last_page() -> None:
    assert NextLinkPaginator(FIRST).next_request({"value": [], "@odata.deltaLink": LINK}) is None


def test_a_repeated_link_is_refused() -> None:
    paginator = NextLinkPaginator(FIRST)
    paginator.next_request({"@odata.nextLink": LINK})
    paginator.next_request({"@odata.nextLink": LINK + "2"})

    with pytest.raises(UnexpectedResponseError, match="twice"):
        paginator.next_request({"@odata.nextLink": LINK})


@pytest.mark.parametrize("link", [pytest.param("", id="empty"), pytest.param(42, id="number")])
def test_a_link_that_is_not_a_link_is_refused(link: object) -> None:
    with pytest.raises(UnexpectedResponseError):
        NextLinkPaginator(FIRST).next_request({"@odata.nextLink": link})


@pytest.mark.parametrize(
    ("options", "expected"),
    [
        pytest.param({"page_size": 500}, "odata.maxpagesize=500", id="page-size"),
        pytest.param(
            {"page_size": 100, "track_changes": True}, "odata.track-changes,odata.maxpagesize=100", id="tracking"
        ),
        pytest.param({"annotations": "*"}, 'odata.include-annotations="*"', id="annotations"),
    ],
)
def test_prefer_header(options: dict[str, object], expected: str) -> None:
    assert prefer_header(**options) == expected  # type: ignore[arg-type]


@pytest.mark.parametrize("page_size", [0, 5001])
def test_page_size_is_bounded_by_dataverse(page_size: int) -> None:
    with pytest.raises(ValueError, match="5000"):
        prefer_header(page_size=page_size)
