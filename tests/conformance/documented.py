"""Checks shared by the suites that replay Microsoft's documented examples against the sandbox
(``test_documented_*.py``)."""

from __future__ import annotations

from typing import Any

from tests.conformance.conftest import API, WebApi

LOOKUP_ANNOTATIONS = (
    'odata.include-annotations="Microsoft.Dynamics.CRM.associatednavigationproperty,'
    'Microsoft.Dynamics.CRM.lookuplogicalname"'
)


def ok(response: Any, status: int = 200) -> dict[str, Any]:
    """The JSON body of ``response``, once it answered ``status`` with ``OData-Version: 4.0``."""
    assert response.status_code == status, response.text
    assert response.headers["OData-Version"] == "4.0"
    body: dict[str, Any] = response.json()
    return body


def lookup_property_data(api: WebApi) -> list[tuple[str, str]]:
    """select-columns.md, "Lookup property data": two accounts' owner lookups with their associated navigation
    property and lookup logical name, both before the value as the example shows, and ``Preference-Applied``
    repeating the preference. Returns each account's name and its owner's lookup logical name, in order."""
    response = api.get("accounts?$select=name,_ownerid_value&$top=2", headers={"Prefer": LOOKUP_ANNOTATIONS})
    body = ok(response)
    assert response.headers["Preference-Applied"] == LOOKUP_ANNOTATIONS
    assert body["@odata.context"] == f"{API}$metadata#accounts(name,_ownerid_value)"
    assert len(body["value"]) == 2
    owners = []
    for account in body["value"]:
        assert list(account) == [
            "@odata.etag",
            "name",
            "_ownerid_value@Microsoft.Dynamics.CRM.associatednavigationproperty",
            "_ownerid_value@Microsoft.Dynamics.CRM.lookuplogicalname",
            "_ownerid_value",
            "accountid",
        ]
        assert account["_ownerid_value@Microsoft.Dynamics.CRM.associatednavigationproperty"] == "ownerid"
        owners.append((account["name"], account["_ownerid_value@Microsoft.Dynamics.CRM.lookuplogicalname"]))
    return owners
