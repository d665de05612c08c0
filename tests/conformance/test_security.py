"""Identity and security: tokens, WhoAmI, privileges with depths, record access, impersonation
(authenticate-oauth.md, security-access-coding.md, api-limits.md)."""

from __future__ import annotations

import uuid
from collections.abc import Iterator

import pytest
from starlette.testclient import TestClient
from tests.conformance.conftest import API, BASE_URL, WebApi

from salesbridge.sandbox.assembly import Sandbox
from salesbridge.sandbox.organization.foundation import SALESPERSON_ROLE_ID, RowWriter


def make_user(sandbox: Sandbox, name: str, *, role: str | None = SALESPERSON_ROLE_ID, disabled: bool = False) -> str:
    state = sandbox.services.state
    with state.storage.transaction():
        user = RowWriter(state).insert(
            "systemuser",
            {
                "lastname": name,
                "fullname": name,
                "internalemailaddress": f"{name.lower()}@contoso.example",
                "azureactivedirectoryobjectid": str(uuid.uuid4()),
                "isdisabled": 1 if disabled else 0,
                "accessmode": 0,
                "businessunitid": state.security.business_unit_of(sandbox.application.systemuser_id),
                "businessunitid__type": "businessunit",
            },
        )
        if role:
            state.security.assign_role(user, role)
    return user


def object_id(sandbox: Sandbox, user: str) -> str:
    return str(
        sandbox.services.state.storage.scalar(
            'SELECT azureactivedirectoryobjectid FROM "systemuser" WHERE systemuserid = ?', (user,)
        )
    )


def test_missing_token_is_a_401_with_the_bearer_challenge(sandbox: Sandbox) -> None:
    with TestClient(sandbox.app, base_url=BASE_URL) as client:
        response = client.get(f"{API}WhoAmI")
    assert response.status_code == 401
    challenge = response.headers["WWW-Authenticate"]
    assert challenge.startswith("Bearer authorization_uri=")
    assert "resource_id=" in challenge


def test_invalid_token_is_a_401(sandbox: Sandbox) -> None:
    with TestClient(sandbox.app, base_url=BASE_URL) as client:
        response = client.get(f"{API}WhoAmI", headers={"Authorization": "Bearer not-a-token"})
    assert response.status_code == 401


def test_who_am_i_names_the_application_user(api: WebApi, sandbox: Sandbox) -> None:
    body = api.get("WhoAmI").json()
    assert body["@odata.context"] == f"{API}$metadata#Microsoft.Dynamics.CRM.WhoAmIResponse"
    assert body["UserId"] == sandbox.application.systemuser_id
    assert set(body) == {"@odata.context", "BusinessUnitId", "UserId", "OrganizationId"}


def test_responses_carry_the_parallelism_hint(api: WebApi) -> None:
    assert int(api.get("WhoAmI").headers["x-ms-dop-hint"]) >= 1


def test_retrieve_user_privilege_by_name(api: WebApi, sandbox: Sandbox) -> None:
    user = make_user(sandbox, "Seller")
    held = api.get(
        f"systemusers({user})/Microsoft.Dynamics.CRM.RetrieveUserPrivilegeByPrivilegeName(PrivilegeName='prvReadLead')"
    ).json()
    assert held["RolePrivileges"][0]["Depth"] == "Basic"
    assert held["RolePrivileges"][0]["PrivilegeName"] == "prvReadLead"
    missing = api.get(
        f"systemusers({user})/Microsoft.Dynamics.CRM.RetrieveUserPrivilegeByPrivilegeName(PrivilegeName='prvCreateEntity')"
    ).json()
    assert missing["RolePrivileges"] == []


def test_retrieve_user_privileges_lists_everything(api: WebApi, sandbox: Sandbox) -> None:
    body = api.get(
        f"systemusers({sandbox.application.systemuser_id})/Microsoft.Dynamics.CRM.RetrieveUserPrivileges"
    ).json()
    names = {entry["PrivilegeName"] for entry in body["RolePrivileges"]}
    assert {"prvReadAccount", "prvCreateActivity", "prvActOnBehalfOfAnotherUser"} <= names


@pytest.fixture
def seller_api(sandbox: Sandbox, api: WebApi) -> Iterator[tuple[WebApi, str]]:
    """The application user impersonating a seller who holds the Salesperson role."""
    seller = make_user(sandbox, "Seller")
    impersonating = WebApi(api.client, api.token)
    original = impersonating.headers

    def headers(extra: dict[str, str] | None = None) -> dict[str, str]:
        merged = original(extra)
        merged["CallerObjectId"] = object_id(sandbox, seller)
        return merged

    impersonating.headers = headers  # type: ignore[method-assign]
    return impersonating, seller


def test_impersonation_sets_created_by_to_the_impersonated_user(
    seller_api: tuple[WebApi, str], sandbox: Sandbox
) -> None:
    api, seller = seller_api
    task = api.create("tasks", {"subject": "Logged by the seller"})
    row = api.get(f"tasks({task})?$select=_createdby_value,_createdonbehalfby_value,_ownerid_value").json()
    assert row["_createdby_value"] == seller
    assert row["_ownerid_value"] == seller
    assert row["_createdonbehalfby_value"] == sandbox.application.systemuser_id
    assert api.get("WhoAmI").json()["UserId"] == seller


def test_a_missing_privilege_is_a_403_in_dataverse_shape(seller_api: tuple[WebApi, str]) -> None:
    api, seller = seller_api
    response = api.post("roles", json={"name": "Sneaky"})
    assert response.status_code == 403
    error = response.json()["error"]
    assert error["code"] == "0x80040220"
    assert error["message"].startswith(f"Principal user (Id={seller}")
    assert "is missing prvCreateRole privilege" in error["message"]


def test_basic_depth_hides_other_owners_records_from_collections(seller_api: tuple[WebApi, str], api: WebApi) -> None:
    impersonating, _ = seller_api
    api.create("leads", {"subject": "Owned by the application user", "lastname": "x"})
    mine = impersonating.create("leads", {"subject": "Mine", "lastname": "y"})
    visible = impersonating.get("leads?$select=subject").json()["value"]
    assert [row["leadid"] for row in visible] == [mine]


def test_basic_depth_denies_another_owners_record(seller_api: tuple[WebApi, str], api: WebApi) -> None:
    impersonating, _ = seller_api
    other = api.create("leads", {"subject": "Not yours", "lastname": "x"})
    response = impersonating.get(f"leads({other})")
    assert response.status_code == 403
    assert response.json()["error"]["code"] == "0x80048306"


def test_change_tracking_needs_organization_level_read(seller_api: tuple[WebApi, str]) -> None:
    impersonating, _ = seller_api
    response = impersonating.get("leads?$select=subject", headers={"Prefer": "odata.track-changes"})
    assert response.status_code == 403
    assert response.json()["error"]["code"] == "0x80040220"


def test_retrieve_principal_access(api: WebApi, sandbox: Sandbox) -> None:
    seller = make_user(sandbox, "Seller")
    other = api.create("leads", {"subject": "Not theirs", "lastname": "x"})
    body = api.get(
        f"systemusers({seller})/Microsoft.Dynamics.CRM.RetrievePrincipalAccess(Target=@p1)?@p1={{'@odata.id':'leads({other})'}}"
    ).json()
    assert body["AccessRights"] == "None"
    own = api.get(
        f"systemusers({sandbox.application.systemuser_id})/Microsoft.Dynamics.CRM.RetrievePrincipalAccess(Target=@p1)?@p1={{'@odata.id':'leads({other})'}}"
    ).json()
    assert "ReadAccess" in own["AccessRights"]
    assert "WriteAccess" in own["AccessRights"]


def test_impersonation_needs_the_act_on_behalf_privilege(sandbox: Sandbox, api: WebApi) -> None:
    from salesbridge.sandbox.organization.foundation import SYSTEM_ADMINISTRATOR_ROLE_ID

    sandbox.services.state.security.revoke(SYSTEM_ADMINISTRATOR_ROLE_ID, ["prvActOnBehalfOfAnotherUser"])
    seller = make_user(sandbox, "Seller")
    response = api.get("WhoAmI", headers={"CallerObjectId": object_id(sandbox, seller)})
    assert response.status_code == 403
    assert "prvActOnBehalfOfAnotherUser" in response.json()["error"]["message"]


def test_a_disabled_user_cannot_own_records(api: WebApi, sandbox: Sandbox) -> None:
    gone = make_user(sandbox, "Gone", disabled=True)
    response = api.post("tasks", json={"subject": "x", "ownerid@odata.bind": f"/systemusers({gone})"})
    assert response.status_code == 400
    assert response.json()["error"]["code"] == "0x80040225"


def test_roles_are_assigned_through_the_n_to_n_association(api: WebApi, sandbox: Sandbox) -> None:
    user = make_user(sandbox, "Newcomer", role=None)
    ref = {"@odata.id": f"{API}roles({SALESPERSON_ROLE_ID})"}
    assert api.post(f"systemusers({user})/systemuserroles_association/$ref", json=ref).status_code == 204
    roles = api.get(f"systemusers({user})/systemuserroles_association").json()["value"]
    assert [r["name"] for r in roles] == ["Salesperson"]
