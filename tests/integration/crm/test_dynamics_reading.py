"""Paged reads and change tracking against a scripted Dataverse: nextLink followed verbatim with the same
Prefer header, rows turned into port records, tombstones, delta tokens, and expired tokens."""

from __future__ import annotations

import pytest
from aiohttp import web
from fake_dataverse import API, FakeDataverse, answer, fail

from salesbridge.crm.dynamics.changes import ChangeTrackingReader
from salesbridge.crm.dynamics.client import DynamicsClient
from salesbridge.crm.dynamics.paging import PageRequest, iterate_pages
from salesbridge.crm.ports import ChangePage, ChangeToken, LookupValue, TableInfo
from salesbridge.errors import ResyncRequiredError, UnexpectedResponseError

CONTACTS = TableInfo(
    logical_name="contact", entity_set_name="contacts", primary_id_column="contactid", is_change_tracked=True
)
ID_1 = "49b0be2e-d01c-ed11-b83e-000d3a572421"
ID_2 = "70bf4d48-34cb-ed11-b596-0022481d68cd"
ID_3 = "2e451703-c686-e711-80e5-00155db19e6d"
SKIPTOKEN = "%3Ccookie%20pagenumber=%222%22%20pagingcookie=%22%253ccookie%2520page%253d%25221%2522%253e%22%20/%3E"


def row(contact_id: str, name: str, etag: int) -> dict[str, object]:
    return {
        "@odata.etag": f'W/"{etag}"',
        "fullname": name,
        "contactid": contact_id,
        "_parentcustomerid_value": ID_3,
        "_parentcustomerid_value@Microsoft.Dynamics.CRM.lookuplogicalname": "account",
    }


async def test_pages_follow_the_next_link_verbatim_with_the_same_prefer(
    client: DynamicsClient, dataverse: FakeDataverse
) -> None:
    next_link = f"{dataverse.api_url}contacts?$select=fullname&$skiptoken={SKIPTOKEN}"
    dataverse.on(
        "GET",
        "contacts",
        answer(200, {"value": [row(ID_1, "Yvonne", 1)], "@odata.nextLink": next_link}),
        answer(200, {"value": [row(ID_2, "Susanna", 2)]}),
    )
    first = PageRequest("contacts", params={"$select": "fullname"}, headers={"Prefer": "odata.maxpagesize=1"})

    pages = [page async for page in iterate_pages(client, first)]

    assert [[r["fullname"] for r in page["value"]] for page in pages] == [["Yvonne"], ["Susanna"]]
    first_request, second_request = dataverse.requests
    assert second_request.path_qs == next_link.removeprefix(dataverse.base_url)
    assert first_request.headers["Prefer"] == second_request.headers["Prefer"] == "odata.maxpagesize=1"


async def test_a_repeated_next_link_stops_the_read(client: DynamicsClient, dataverse: FakeDataverse) -> None:
    loop = {"value": [], "@odata.nextLink": f"{dataverse.api_url}contacts?$skiptoken=same"}
    dataverse.on("GET", "contacts", answer(200, loop))

    with pytest.raises(UnexpectedResponseError, match="twice"):
        async for _ in iterate_pages(client, PageRequest("contacts")):
            pass

    assert len(dataverse.requests) == 2


async def test_the_next_page_is_requested_before_the_consumer_gets_the_current_one(
    client: DynamicsClient, dataverse: FakeDataverse
) -> None:
    # The server then prepares page n+1 while the consumer works on page n (a busy consumer that yields to
    # the event loop only after its work would otherwise leave the server idle for that time).
    dataverse.on(
        "GET",
        "contacts",
        answer(200, {"value": [row(ID_1, "Yvonne", 1)], "@odata.nextLink": f"{dataverse.api_url}contacts?p=2"}),
        answer(200, {"value": [row(ID_2, "Susanna", 2)]}),
    )
    sent_when_handed: list[int] = []

    async for _ in iterate_pages(client, PageRequest("contacts")):
        sent_when_handed.append(client.counters.requests)

    assert sent_when_handed == [2, 2]


async def test_abandoning_a_read_cancels_the_prefetched_page(client: DynamicsClient, dataverse: FakeDataverse) -> None:
    dataverse.on("GET", "contacts", answer(200, {"value": [], "@odata.nextLink": f"{dataverse.api_url}contacts?p=2"}))

    async for _ in iterate_pages(client, PageRequest("contacts")):
        break

    assert client.counters.failures == 0


async def test_change_tracking_reads_all_rows_then_changes_and_tombstones(
    client: DynamicsClient, dataverse: FakeDataverse
) -> None:
    delta_1 = f"{dataverse.api_url}contacts?$select=fullname&$deltatoken=919042%2108%2f22%2f2017%2008%3a10%3a44"
    delta_2 = f"{dataverse.api_url}contacts?$select=fullname&$deltatoken=919058%2108%2f22%2f2017%2008%3a21%3a20"
    tombstone = {
        "@odata.context": f"{dataverse.api_url}$metadata#contacts/$deletedEntity",
        "id": ID_2,
        "reason": "deleted",
    }
    dataverse.on(
        "GET",
        "contacts",
        answer(
            200, {"value": [row(ID_1, "Yvonne", 1)], "@odata.nextLink": f"{dataverse.api_url}contacts?$skiptoken=2"}
        ),
        answer(200, {"value": [row(ID_2, "Susanna", 2)], "@odata.deltaLink": delta_1}),
        answer(200, {"value": [row(ID_1, "Yvonne M.", 3), tombstone], "@odata.deltaLink": delta_2}),
    )
    reader = ChangeTrackingReader(client)

    initial = [page async for page in reader.read(CONTACTS, select="fullname,_parentcustomerid_value", page_size=1)]
    assert initial[-1].token is not None
    changes = [page async for page in reader.read(CONTACTS, since=initial[-1].token, page_size=1)]

    assert [page.is_last for page in initial] == [False, True]
    assert initial[-1].token == ChangeToken(delta_1)
    yvonne = initial[0].records[0]
    assert (yvonne.id, yvonne.version, yvonne.values["fullname"]) == (ID_1, 'W/"1"', "Yvonne")
    assert yvonne.values["parentcustomerid"] == LookupValue(id=ID_3, table="account")
    assert changes == [
        ChangePage(records=changes[0].records, tombstones=changes[0].tombstones, token=ChangeToken(delta_2))
    ]
    assert [r.values["fullname"] for r in changes[0].records] == ["Yvonne M."]
    assert [(t.id, t.reason) for t in changes[0].tombstones] == [(ID_2, "deleted")]
    first, second, delta = dataverse.requests
    assert first.headers["Prefer"] == "odata.track-changes,odata.maxpagesize=1"
    assert second.headers["Prefer"] == first.headers["Prefer"]
    assert delta.path_qs == delta_1.removeprefix(dataverse.base_url)


async def test_an_expired_change_token_requires_a_resync(client: DynamicsClient, dataverse: FakeDataverse) -> None:
    dataverse.on(
        "GET",
        "contacts",
        fail(400, "0x80044352", "Version stamp associated with the client has expired. Please perform a full sync."),
    )
    token = ChangeToken(f"{dataverse.api_url}contacts?$deltatoken=1%2101%2f01%2f2020")

    with pytest.raises(ResyncRequiredError) as raised:
        async for _ in ChangeTrackingReader(client).read(CONTACTS, since=token):
            pass

    assert raised.value.code == "0x80044352"


@pytest.mark.parametrize(
    "token",
    [
        pytest.param("https://other-org.crm.dynamics.com/api/data/v9.2/contacts?$deltatoken=1", id="another-org"),
        pytest.param("{api}accounts?$deltatoken=1", id="another-table"),
        pytest.param("not a link", id="garbage"),
    ],
)
async def test_a_token_of_another_org_or_table_requires_a_resync_without_a_request(
    client: DynamicsClient, dataverse: FakeDataverse, token: str
) -> None:
    with pytest.raises(ResyncRequiredError):
        async for _ in ChangeTrackingReader(client).read(
            CONTACTS, since=ChangeToken(token.format(api=dataverse.api_url))
        ):
            pass

    assert dataverse.requests == []


async def test_a_last_page_without_delta_link_is_reported(client: DynamicsClient, dataverse: FakeDataverse) -> None:
    dataverse.on("GET", "contacts", answer(200, {"value": []}))

    with pytest.raises(UnexpectedResponseError, match="change tracking enabled"):
        async for _ in ChangeTrackingReader(client).read(CONTACTS):
            pass


async def test_the_raw_request_path_is_the_api_root(dataverse: FakeDataverse, client: DynamicsClient) -> None:
    async def echo(request: web.Request) -> web.Response:
        return web.json_response({"path": request.path})

    dataverse.on("GET", "EntityDefinitions(LogicalName='contact')", echo)

    answer_ = await client.get_json("EntityDefinitions(LogicalName='contact')")

    assert answer_ == {"path": f"{API}EntityDefinitions(LogicalName='contact')"}
