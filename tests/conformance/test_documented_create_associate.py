"""The create and associate examples of Microsoft's Web API documentation, replayed example by example.

Source: ``MicrosoftDocs/powerapps-docs``, ``powerapps-docs/developer/data-platform/webapi/`` —
``create-entity-web-api.md`` ("Basic Create"; its "Create with data returned", "Create related table rows in one
operation" and "Associate table rows on create" are replayed in ``test_documented_examples.py``) and
``associate-disassociate-entities-using-web-api.md`` (the examples ``test_documented_examples.py`` does not
replay: each form on an opportunity and its account, both directions of the relationship, the two forms of
disassociating on update with two lookups at once, and the activity parties of an email). Each case is named
after its page and example; it sends the documented request, with the documents' ids replaced by records the
case creates, and compares status, headers and body with the documented response, then reads the effect.

One sandbox for the module (issue 17: the suite must stay fast); each case works on records of its own.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import pytest
from cryptography.hazmat.primitives.asymmetric import rsa
from tests.conformance.conftest import API, WebApi, open_api
from tests.conformance.test_documented_writes import SAMPLE_ACCOUNT, _no_content

from salesbridge.sandbox.assembly import build_sandbox


@pytest.fixture(scope="module")
def api(sandbox_signing_key: rsa.RSAPrivateKey) -> Iterator[WebApi]:
    with open_api(build_sandbox(signing_key=sandbox_signing_key)) as api:
        yield api


def _lookup(api: WebApi, path: str, column: str) -> Any:
    response = api.get(f"{path}?$select={column}")
    assert response.status_code == 200, response.text
    return response.json()[column]


# --- create-entity-web-api.md ------------------------------------------------------------------------------------


def test_basic_create(api: WebApi) -> None:
    """create-entity-web-api.md, "Basic Create": 204 with the new record's URI in ``OData-EntityId`` and no body;
    the record holds the values sent."""
    response = api.post("accounts", json=SAMPLE_ACCOUNT, headers={"Content-Type": "application/json; charset=utf-8"})
    _no_content(response)
    entity_id = response.headers["OData-EntityId"]
    assert entity_id.startswith(f"{API}accounts(")
    account = entity_id[len(f"{API}accounts(") : -1]
    assert entity_id.endswith(")")
    read = api.get(f"accounts({account})?$select={','.join(SAMPLE_ACCOUNT)}")
    assert read.status_code == 200
    assert {name: read.json()[name] for name in SAMPLE_ACCOUNT} == SAMPLE_ACCOUNT


# --- associate-disassociate-entities-using-web-api.md ------------------------------------------------------------


@dataclass(frozen=True)
class Records:
    account: str
    other_account: str
    opportunity: str
    contact: str


def _records(api: WebApi) -> Records:
    return Records(
        account=api.create("accounts", {"name": "Account 2"}),
        other_account=api.create("accounts", {"name": "Parent account"}),
        opportunity=api.create("opportunities", {"name": "Opportunity 1"}),
        contact=api.create("contacts", {"lastname": "Contact"}),
    )


def _change_the_reference_in_a_single_valued_navigation_property(api: WebApi, r: Records) -> None:
    """PUT ``opportunities(<id>)/customerid_account/$ref`` with a relative ``@odata.id``: the referencing side."""
    response = api.request(
        "PUT",
        f"opportunities({r.opportunity})/customerid_account/$ref",
        json={"@odata.id": f"accounts({r.account})"},
    )
    _no_content(response)
    assert _lookup(api, f"opportunities({r.opportunity})", "_customerid_value") == r.account


def _remove_a_reference_by_key_in_the_collection(api: WebApi, r: Records) -> None:
    """The "Or, use this" form: DELETE ``accounts(<id>)/opportunity_customer_accounts(<id>)/$ref``."""
    api.request(
        "PUT", f"opportunities({r.opportunity})/customerid_account/$ref", json={"@odata.id": f"accounts({r.account})"}
    )
    _no_content(api.delete(f"accounts({r.account})/opportunity_customer_accounts({r.opportunity})/$ref"))
    assert _lookup(api, f"opportunities({r.opportunity})", "_customerid_value") is None


def _remove_a_single_valued_reference(api: WebApi, r: Records) -> None:
    """For a single-valued navigation property, "remove the $id query string parameter": DELETE
    ``opportunities(<id>)/customerid_account/$ref``."""
    api.request(
        "PUT", f"opportunities({r.opportunity})/customerid_account/$ref", json={"@odata.id": f"accounts({r.account})"}
    )
    _no_content(api.delete(f"opportunities({r.opportunity})/customerid_account/$ref"))
    assert _lookup(api, f"opportunities({r.opportunity})", "_customerid_value") is None


def _associate_table_rows_on_update(api: WebApi, r: Records) -> None:
    """PATCH ``opportunities(<id>)`` with ``customerid_account@odata.bind`` (relative). The page shows only
    ``204`` and ``OData-Version``; the sandbox adds ``OData-EntityId`` as a basic update does."""
    response = api.patch(
        f"opportunities({r.opportunity})", json={"customerid_account@odata.bind": f"accounts({r.account})"}
    )
    assert response.status_code == 204, response.text
    assert response.headers["OData-Version"] == "4.0"
    assert _lookup(api, f"opportunities({r.opportunity})", "_customerid_value") == r.account


def _disassociate_on_update(body: dict[str, None]) -> Callable[[WebApi, Records], None]:
    def case(api: WebApi, r: Records) -> None:
        bound = api.patch(
            f"accounts({r.account})",
            json={
                "parentaccountid@odata.bind": f"accounts({r.other_account})",
                "primarycontactid@odata.bind": f"contacts({r.contact})",
            },
        )
        assert bound.status_code == 204, bound.text
        response = api.patch(f"accounts({r.account})", json=body)
        assert response.status_code == 204, response.text
        assert response.headers["OData-Version"] == "4.0"
        read = api.get(f"accounts({r.account})?$select=_parentaccountid_value,_primarycontactid_value").json()
        assert (read["_parentaccountid_value"], read["_primarycontactid_value"]) == (None, None)

    return case


def _associate_activity_parties_on_update(api: WebApi, r: Records) -> None:
    """PUT ``emails(<id>)/email_activity_parties`` with ``{"value": [...]}``: the parties of the email become the
    two contacts, with the participation types sent (3 = cc, 2 = to)."""
    email = api.create("emails", {"subject": "Parties"})
    second = api.create("contacts", {"lastname": "Second"})
    response = api.request(
        "PUT",
        f"emails({email})/email_activity_parties",
        json={
            "value": [
                {"partyid_contact@odata.bind": f"contacts({r.contact})", "participationtypemask": 3},
                {"partyid_contact@odata.bind": f"contacts({second})", "participationtypemask": 2},
            ]
        },
    )
    _no_content(response)
    parties = api.get(f"emails({email})/email_activity_parties?$select=participationtypemask,_partyid_value").json()
    found = sorted((p["_partyid_value"], p["participationtypemask"]) for p in parties["value"])
    assert found == sorted([(r.contact, 3), (second, 2)])


ASSOCIATE_EXAMPLES = [
    pytest.param(
        _change_the_reference_in_a_single_valued_navigation_property,
        id="associate-disassociate.md:change-the-reference-in-a-single-valued-navigation-property",
    ),
    pytest.param(
        _remove_a_reference_by_key_in_the_collection,
        id="associate-disassociate.md:remove-a-reference-collection-valued-key-in-path",
    ),
    pytest.param(
        _remove_a_single_valued_reference,
        id="associate-disassociate.md:remove-a-reference-single-valued",
    ),
    pytest.param(_associate_table_rows_on_update, id="associate-disassociate.md:associate-table-rows-on-update"),
    pytest.param(
        _disassociate_on_update({"parentaccountid@odata.bind": None, "primarycontactid@odata.bind": None}),
        id="associate-disassociate.md:disassociate-on-update-odata-bind-null",
    ),
    pytest.param(
        _disassociate_on_update({"parentaccountid": None, "primarycontactid": None}),
        id="associate-disassociate.md:disassociate-on-update-navigation-property-null",
    ),
    pytest.param(
        _associate_activity_parties_on_update,
        id="associate-disassociate.md:associate-on-update-using-collection-valued-navigation-property",
    ),
]


@pytest.mark.parametrize("case", ASSOCIATE_EXAMPLES)
def test_associate_examples(api: WebApi, case: Callable[[WebApi, Records], None]) -> None:
    case(api, _records(api))
