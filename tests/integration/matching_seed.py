"""An organization's imported CRM for matching tests: two accounts, the contacts of two workspace people, ghosts
nobody in the workspace is (one named with a formula) and a lead of nobody; and the workspace's side as CSV."""

from __future__ import annotations

import uuid
from typing import Any, Final

from salesbridge.domain.sync_runs import RecordRow
from salesbridge.services.ports import StoreAccess

FORMULA: Final = '=HYPERLINK("http://evil.example","click")'
GHOSTS: Final = 40
"""Contacts nobody in the workspace is (the formula one included)."""

COMPANIES_CSV: Final = b"id,name,website\nk1,Contoso,https://contoso.com\nk2,Fabrikam Inc.,https://www.fabrikam.com\n"
PEOPLE_CSV: Final = (
    "id,first_name,last_name,email,job_title,company_name,city\n"
    "p1,Robert,Smith,bob.smith@contoso.com,Head of Sales,Contoso,Madrid\n"
    "p2,Ana,García,ana.garcia@fabrikam.com,CTO,Fabrikam,Sevilla\n"
    "p3,Carla,Díaz,carla@example.org,Engineer,Northwind,Lisboa\n"
).encode()


def _contact(crm_id: str, first: str, last: str, email: str | None, account: str | None) -> RecordRow:
    data: dict[str, Any] = {
        "firstname": first,
        "lastname": last,
        "fullname": f"{first} {last}",
        "emailaddress1": email,
        "statecode": 0,
    }
    if account is not None:
        data["parentcustomerid"] = {"id": account, "table": "account"}
    return RecordRow(crm_id, f"{first} {last}", None, account, 0, data)


def seed_crm(store: StoreAccess, organization_id: uuid.UUID) -> None:
    """Write the imported CRM records (as an import stores them)."""
    accounts = [
        RecordRow("a1", "CONTOSO LTD", None, None, 0, {"name": "CONTOSO LTD", "websiteurl": "contoso.com"}),
        RecordRow("a2", "Fabrikam", None, None, 0, {"name": "Fabrikam", "websiteurl": "fabrikam.com"}),
    ]
    contacts = [
        _contact("c-bob", "Bob", "Smith", "bob.smith@contoso.com", "a1"),
        _contact("c-ana", "Ana", "Garcia", "ana.garcia@fabrikam.com", "a2"),
        _contact("c-formula", FORMULA, "Hacker", None, None),
        *(_contact(f"c-ghost-{n:02d}", "Zed", f"Quux{n}", f"zed{n}@nowhere.example", None) for n in range(GHOSTS - 1)),
    ]
    leads = [RecordRow("l-1", "Lee Lead", None, None, 0, {"firstname": "Lee", "lastname": "Lead", "statecode": 0})]
    with store(organization_id) as uow:
        uow.crm_records.upsert_many("account", accounts, generation=1)
        uow.crm_records.upsert_many("contact", contacts, generation=1)
        uow.crm_records.upsert_many("lead", leads, generation=1)
        uow.commit()
