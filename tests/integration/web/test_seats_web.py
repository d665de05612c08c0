"""Seat management through the API and the pages, on SQLite and PostgreSQL: the overview, the switches, the
email fix, assigning from the CRM within the contract, and that nothing of one organization's seats can be read
or changed by another's administrator or by a seller."""

from __future__ import annotations

import uuid
from collections.abc import Callable

import pytest
from tests.integration.web.conftest import ACME_ADMIN, ACME_SELLER, GLOBEX_ADMIN, Browser, Console, Person

from salesbridge.store.workspace import CrmUserValues


def crm_person(name: str, email: str, **overrides: object) -> CrmUserValues:
    values: dict[str, object] = {
        "crm_id": str(uuid.uuid5(uuid.NAMESPACE_URL, email)),
        "full_name": name,
        "email": email,
        "entra_object_id": None,
        "is_disabled": False,
        "is_application": False,
        "access_mode": 0,
    }
    values.update(overrides)
    return CrmUserValues(**values)  # type: ignore[arg-type]


@pytest.fixture
def acme_crm_users(console: Console) -> None:
    """Acme's CRM users as an import would store them: the seller, four people, a disabled one, an application."""
    organization_id = console.store.organization_id("acme")
    assert organization_id is not None
    from salesbridge.services.crm_users import rematch_seats

    with console.store(organization_id) as uow:
        uow.crm_users.replace_all(
            [
                crm_person("Sofía Seller", ACME_SELLER.email.upper()),
                *(crm_person(f"Person {n}", f"person{n}@acme.test") for n in range(1, 5)),
                crm_person("Old Timer", "old@acme.test", is_disabled=True),
                crm_person("# Integration", "integration@acme.test", is_application=True, access_mode=4),
            ]
        )
        rematch_seats(uow)
        uow.commit()


def seats_of(admin: Browser, org: str = "acme") -> dict[str, dict[str, object]]:
    response = admin.client.get(f"/api/v1/orgs/{org}/seats")
    assert response.status_code == 200, response.text
    return {seat["email"]: seat for seat in response.json()["seats"]}


@pytest.mark.usefixtures("acme_crm_users")
def test_the_api_offers_only_enabled_people_and_assigns_within_the_contract(
    browser: Callable[[Person | None], Browser],
) -> None:
    admin = browser(ACME_ADMIN)
    offered = admin.client.get("/api/v1/orgs/acme/crm/users").json()
    assert sorted(user["email"] for user in offered) == [f"person{n}@acme.test" for n in range(1, 5)]

    too_many = admin.client.post(
        "/api/v1/orgs/acme/seats/assign-from-crm",
        json={"crm_user_ids": [user["id"] for user in offered]},
        headers=admin.csrf_headers(),
    )
    assert too_many.status_code == 409
    assert (too_many.json()["seats_left"], too_many.json()["requested"]) == (3, 4)
    assigned = admin.client.post(
        "/api/v1/orgs/acme/seats/assign-from-crm",
        json={"crm_user_ids": [user["id"] for user in offered[:3]]},
        headers=admin.csrf_headers(),
    )
    assert assigned.status_code == 201, assigned.text
    assert all(link["invitation_url"].startswith("https://console.test/invitations/") for link in assigned.json())
    seats = seats_of(admin)
    assert len(seats) == 5
    assert seats[ACME_SELLER.email]["in_crm"] is False, "not connected yet: no badge"
    assert seats[ACME_SELLER.email]["match"] == "email"
    assert seats[ACME_ADMIN.email]["match"] == "no_crm_user"
    assert (
        seats[ACME_ADMIN.email]["match_fix"] == "Correct the seat holder's email to the one they use in Dynamics 365."
    )


@pytest.mark.usefixtures("acme_crm_users")
def test_a_seat_switch_needs_automatic_sync_off_and_an_email_fix_matches_at_once(
    browser: Callable[[Person | None], Browser],
) -> None:
    admin = browser(ACME_ADMIN)
    seat_id = seats_of(admin)[ACME_ADMIN.email]["id"]

    refused = admin.client.put(
        f"/api/v1/orgs/acme/seats/{seat_id}/crm-sync", json={"enabled": False}, headers=admin.csrf_headers()
    )
    assert refused.status_code == 422
    assert "automatic for all seats" in refused.json()["detail"]
    admin.client.put(
        "/api/v1/orgs/acme/crm/settings/sync-all-seats", json={"sync_all_seats": False}, headers=admin.csrf_headers()
    )
    switched = admin.client.put(
        f"/api/v1/orgs/acme/seats/{seat_id}/crm-sync", json={"enabled": False}, headers=admin.csrf_headers()
    )
    assert switched.json()["crm_sync_active"] is False

    fixed = admin.client.post(
        f"/seats/{seat_id}/email",
        data={"email": "person4@acme.test", **admin.csrf_data()},
        follow_redirects=False,
    )
    assert fixed.status_code == 303
    assert seats_of(admin)["person4@acme.test"]["match"] == "email"
    taken = admin.client.put(
        f"/api/v1/orgs/acme/seats/{seat_id}/email", json={"email": ACME_SELLER.email}, headers=admin.csrf_headers()
    )
    assert taken.status_code == 422


@pytest.mark.usefixtures("acme_crm_users")
def test_another_organization_can_neither_read_nor_change_acme_seats(
    browser: Callable[[Person | None], Browser],
) -> None:
    admin, outsider = browser(ACME_ADMIN), browser(GLOBEX_ADMIN)
    seat_id = seats_of(admin)[ACME_SELLER.email]["id"]
    crm_user_id = admin.client.get("/api/v1/orgs/acme/crm/users").json()[0]["id"]

    assert outsider.client.get("/api/v1/orgs/acme/seats").status_code == 404
    assert outsider.client.get("/api/v1/orgs/acme/crm/users").status_code == 404
    assert (
        outsider.client.put(
            f"/api/v1/orgs/globex/seats/{seat_id}/crm-sync", json={"enabled": False}, headers=outsider.csrf_headers()
        ).status_code
        == 404
    )
    page = outsider.client.post(
        f"/seats/{seat_id}/email", data={"email": "x@globex.test", **outsider.csrf_data()}, follow_redirects=False
    )
    assert page.status_code == 404
    stolen = outsider.client.post(
        "/api/v1/orgs/globex/seats/assign-from-crm",
        json={"crm_user_ids": [crm_user_id]},
        headers=outsider.csrf_headers(),
    )
    assert stolen.status_code == 422, "another organization's CRM user cannot be given a seat"
    assert ACME_SELLER.email not in outsider.client.get("/seats").text
    assert "Person 1" not in outsider.client.get("/seats/assign-from-crm").text
    assert seats_of(admin)[ACME_SELLER.email]["email"] == ACME_SELLER.email


def test_a_seller_cannot_manage_seats(browser: Callable[[Person | None], Browser]) -> None:
    seller = browser(ACME_SELLER)

    assert seller.client.get("/api/v1/orgs/acme/seats").status_code == 403
    assert seller.client.get("/seats").status_code == 403
    assert seller.client.get("/settings/crm").status_code == 403
