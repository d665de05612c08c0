"""The matching API on SQLite and PostgreSQL: the match report, the review queue (accept, reject), Edit match by a
seat holder, a person's and a company's links, and the unmatched CSV streamed by the real console served by
uvicorn — every unmatched record in the file, formula cells neutralised; sellers and other organizations refused."""

from __future__ import annotations

import csv
import io
import uuid
from collections.abc import Callable

import httpx
from tests.integration.matching_seed import COMPANIES_CSV, GHOSTS, PEOPLE_CSV, seed_crm
from tests.integration.web.conftest import ACME_ADMIN, ACME_GUEST, ACME_SELLER, GLOBEX_ADMIN, Browser, Console, Person

from salesbridge.domain.csv_rows import read_company_csv, read_people_csv
from salesbridge.domain.match_links import LinkBand, LinkOrigin, MatchLink, TargetKind
from salesbridge.sandbox.server.serving import serve_in_thread
from salesbridge.services.matching import run_matching
from salesbridge.services.people_load import load_companies, load_people
from salesbridge.web.app import create_app

OpenBrowser = Callable[[Person | None], Browser]
ORG = "/api/v1/orgs/acme"


def seed(console: Console) -> uuid.UUID:
    """acme's imported CRM (2 accounts, 2 contacts of workspace people, ``GHOSTS`` contacts of nobody — one named
    with a formula —, 1 lead of nobody), its people and companies, and a matching run."""
    organization_id = console.store.organization_id("acme")
    assert organization_id is not None
    seed_crm(console.store, organization_id)
    load_companies(console.store, "acme", read_company_csv(COMPANIES_CSV), actor="admin@acme.test")
    load_people(console.store, "acme", read_people_csv(PEOPLE_CSV), actor="admin@acme.test")
    run_matching(console.store, organization_id, full=True, clock=console.clock)
    return organization_id


def person_id(console: Console, organization_id: uuid.UUID, external_id: str) -> uuid.UUID:
    with console.store(organization_id, read_only=True) as uow:
        found = uow.people.get_by_external_id(external_id)
    assert found is not None
    assert found.id is not None
    return found.id


def test_the_report_counts_every_record_and_the_csv_holds_every_unmatched_one(
    console: Console, browser: OpenBrowser
) -> None:
    seed(console)
    admin = browser(ACME_ADMIN)

    report = admin.client.get(f"{ORG}/matching/report").json()
    contacts = next(row for row in report["tables"] if row["table"] == "contact")

    assert [row["table"] for row in report["tables"]] == ["account", "contact", "lead"]
    assert contacts["total"] == GHOSTS + 2
    assert contacts["matched"] + contacts["review"] + contacts["unmatched"] == contacts["total"]
    assert contacts["unmatched"] >= GHOSTS  # nobody in the workspace is any ghost
    assert report["last_run_at"] is not None
    with serve_in_thread(create_app(console.services, secure_cookies=False)) as server:
        token = admin.client.post("/api/v1/me/tokens", json={"name": "export"}, headers=admin.csrf_headers()).json()
        headers = {"Authorization": f"Bearer {token['token']}"}
        with httpx.stream(
            "GET", f"{server.base_url}{ORG}/matching/unmatched", params={"table": "contact"}, headers=headers
        ) as answer:
            assert answer.status_code == 200
            assert answer.headers["content-type"].startswith("text/csv")
            body = b"".join(answer.iter_bytes())
    assert body.startswith("\ufeff".encode())
    rows = list(csv.DictReader(io.StringIO(body.decode("utf-8-sig"))))
    assert len(rows) == contacts["unmatched"] + contacts["review"]  # every record not tied, in review included
    ids = {row["crm_id"] for row in rows}
    assert {f"c-ghost-{n:02d}" for n in range(GHOSTS - 1)} | {"c-formula"} <= ids
    formula_row = next(row for row in rows if row["crm_id"] == "c-formula")
    assert formula_row["name"].startswith("'=HYPERLINK(")
    leads = admin.client.get(f"{ORG}/matching/unmatched", params={"table": "lead"})
    assert [row["crm_id"] for row in csv.DictReader(io.StringIO(leads.content.decode("utf-8-sig")))] == ["l-1"]
    assert admin.client.get(f"{ORG}/matching/unmatched", params={"table": "opportunity"}).status_code == 422


def test_a_seat_holder_edits_a_match_and_everyone_sees_it(console: Console, browser: OpenBrowser) -> None:
    organization_id = seed(console)
    seller, admin = browser(ACME_SELLER), browser(ACME_ADMIN)
    carla = person_id(console, organization_id, "p3")

    linked = seller.client.put(
        f"{ORG}/matching/links/contact/c-ghost-00",
        json={"action": "link", "target_id": str(carla)},
        headers=seller.csrf_headers(),
    )

    assert linked.status_code == 200, linked.text
    assert (linked.json()["band"], linked.json()["origin"], linked.json()["target_id"]) == (
        "match",
        "correction",
        str(carla),
    )
    seen = admin.client.get(f"{ORG}/people/{carla}/links").json()
    assert [link["crm_id"] for link in seen] == ["c-ghost-00"]
    assert admin.client.get(f"{ORG}/matching/links/contact/c-ghost-00").json()["target_id"] == str(carla)
    unlinked = seller.client.put(
        f"{ORG}/matching/links/contact/c-ghost-00", json={"action": "unlink"}, headers=seller.csrf_headers()
    )
    assert (unlinked.status_code, unlinked.json()["band"], unlinked.json()["target_id"]) == (200, "no_match", None)
    no_target = seller.client.put(
        f"{ORG}/matching/links/contact/c-ghost-01", json={"action": "link"}, headers=seller.csrf_headers()
    )
    assert no_target.status_code == 422
    unknown = seller.client.put(
        f"{ORG}/matching/links/contact/c-nobody",
        json={"action": "link", "target_id": str(carla)},
        headers=seller.csrf_headers(),
    )
    assert unknown.status_code == 404
    company = admin.client.get(f"{ORG}/companies/by-external-id/k1").json()
    assert admin.client.get(f"{ORG}/companies/{company['id']}/links").status_code == 200


def test_an_edit_made_on_a_stale_view_is_refused_and_names_who_changed_it(
    console: Console, browser: OpenBrowser
) -> None:
    """QA item 1 (lost update): the admin saw c-bob tied to Robert; the seller ties it to Carla meanwhile. The
    admin's confirm (of Robert) and unlink (expecting Robert) are refused with 409, nothing changes, nothing is
    audited; an edit that saw the current target goes through."""
    organization_id = seed(console)
    seller, admin = browser(ACME_SELLER), browser(ACME_ADMIN)
    robert, carla = person_id(console, organization_id, "p1"), person_id(console, organization_id, "p3")
    url = f"{ORG}/matching/links/contact/c-bob"
    assert admin.client.get(url).json()["target_id"] == str(robert)
    moved = seller.client.put(url, json={"action": "link", "target_id": str(carla)}, headers=seller.csrf_headers())
    assert moved.status_code == 200, moved.text
    with console.store(organization_id, read_only=True) as uow:
        audited = uow.audit.count()

    confirm = admin.client.put(url, json={"action": "confirm", "target_id": str(robert)}, headers=admin.csrf_headers())
    unlink = admin.client.put(
        url, json={"action": "unlink", "expected_target_id": str(robert)}, headers=admin.csrf_headers()
    )

    assert (confirm.status_code, unlink.status_code) == (409, 409)
    assert "Sofía Seller" in unlink.json()["detail"]
    now = admin.client.get(url).json()
    assert (now["target_id"], now["band"], now["decided_by"]) == (str(carla), "match", "Sofía Seller")
    with console.store(organization_id, read_only=True) as uow:
        assert uow.audit.count() == audited
    seen_carla = admin.client.put(
        url, json={"action": "unlink", "expected_target_id": str(carla)}, headers=admin.csrf_headers()
    )
    assert (seen_carla.status_code, seen_carla.json()["target_id"]) == (200, None)
    stale_link = admin.client.put(
        url,
        json={"action": "link", "target_id": str(robert), "expected_target_id": str(carla)},
        headers=admin.csrf_headers(),
    )
    assert stale_link.status_code == 409  # it is "no match" now, not Carla


def test_the_evaluation_has_no_score_while_nothing_is_labelled(console: Console, browser: OpenBrowser) -> None:
    """QA item 6: precision, recall and F1 read 1.0 with nothing labelled; they are null."""
    seed(console)
    evaluation = browser(ACME_ADMIN).client.get(f"{ORG}/matching/evaluation").json()
    assert (evaluation["labelled"], evaluation["precision"], evaluation["recall"], evaluation["f1"]) == (
        0,
        None,
        None,
        None,
    )


def test_an_administrator_deletes_a_person_and_a_company_and_their_links_go_at_once(
    console: Console, browser: OpenBrowser
) -> None:
    """QA item 8: a wrong load or an erasure request; corrections naming the deleted go too; the next run matches
    their CRM records again; audited; sellers and other organizations refused."""
    organization_id = seed(console)
    seller, admin, other = browser(ACME_SELLER), browser(ACME_ADMIN), browser(GLOBEX_ADMIN)
    robert, carla = person_id(console, organization_id, "p1"), person_id(console, organization_id, "p3")
    contoso = admin.client.get(f"{ORG}/companies/by-external-id/k1").json()["id"]
    assert admin.client.get(f"{ORG}/matching/links/contact/c-bob").json()["target_id"] == str(robert)
    assert admin.client.get(f"{ORG}/matching/links/account/a1").json()["target_id"] == contoso
    linked = seller.client.put(
        f"{ORG}/matching/links/contact/c-ghost-00",
        json={"action": "link", "target_id": str(carla)},
        headers=seller.csrf_headers(),
    )
    assert linked.status_code == 200
    matched_before = _matched(admin, "contact")

    assert seller.client.delete(f"{ORG}/people/{robert}", headers=seller.csrf_headers()).status_code == 403
    assert other.client.delete(f"/api/v1/orgs/acme/people/{robert}", headers=other.csrf_headers()).status_code == 404
    assert admin.client.delete(f"{ORG}/people/{robert}").status_code == 403  # a session needs its CSRF token
    for deleted in (f"people/{robert}", f"people/{carla}", f"companies/{contoso}"):
        assert admin.client.delete(f"{ORG}/{deleted}", headers=admin.csrf_headers()).status_code == 204

    assert admin.client.get(f"{ORG}/people/{robert}").status_code == 404
    assert admin.client.get(f"{ORG}/companies/{contoso}").status_code == 404
    for gone in ("contact/c-bob", "contact/c-ghost-00", "account/a1"):  # the correction to Carla too
        assert admin.client.get(f"{ORG}/matching/links/{gone}").status_code == 404, gone
    assert _matched(admin, "contact") == matched_before - 2
    assert admin.client.delete(f"{ORG}/people/{robert}", headers=admin.csrf_headers()).status_code == 404
    with console.store(organization_id, read_only=True) as uow:
        entries = uow.audit.recent(action="person.deleted") + uow.audit.recent(action="company.deleted")
    assert sorted((entry.action, entry.actor, entry.details["external_id"]) for entry in entries) == [
        ("company.deleted", ACME_ADMIN.email, "k1"),
        ("person.deleted", ACME_ADMIN.email, "p1"),
        ("person.deleted", ACME_ADMIN.email, "p3"),
    ]
    summary = run_matching(console.store, organization_id, clock=console.clock)
    assert summary.people.crm_changed >= 2  # c-bob and c-ghost-00 decided again (Ana's contact too: no company)
    assert admin.client.get(f"{ORG}/matching/links/contact/c-bob").status_code == 404  # nobody is Bob now
    ana = admin.client.get(f"{ORG}/matching/links/contact/c-ana").json()
    assert ana["target_id"] == str(person_id(console, organization_id, "p2"))


def _matched(client: Browser, table: str) -> int:
    report = client.client.get(f"{ORG}/matching/report").json()
    return int(next(row["matched"] for row in report["tables"] if row["table"] == table))


def test_administrators_work_the_review_queue(console: Console, browser: OpenBrowser) -> None:
    organization_id = seed(console)
    admin = browser(ACME_ADMIN)
    carla = person_id(console, organization_id, "p3")
    with console.store(organization_id) as uow:
        uow.matches.put(
            [
                MatchLink(
                    crm_table="contact",
                    crm_id=crm_id,
                    target_kind=TargetKind.PERSON,
                    target_id=carla,
                    band=LinkBand.REVIEW,
                    probability=0.6,
                    decision=None,
                    origin=LinkOrigin.SCORER,
                    decided_by=None,
                    decided_at=console.clock(),
                )
                for crm_id in ("c-ghost-05", "c-ghost-06")
            ]
        )
        uow.commit()

    queue = admin.client.get(f"{ORG}/matching/review", params={"kind": "people"}).json()
    in_review = {item["crm_id"] for item in queue["items"]}
    accepted = admin.client.post(
        f"{ORG}/matching/review/accept",
        json={"table": "contact", "crm_id": "c-ghost-05", "target_id": str(carla)},
        headers=admin.csrf_headers(),
    )
    rejected = admin.client.post(
        f"{ORG}/matching/review/reject",
        json={"table": "contact", "crm_id": "c-ghost-06", "target_id": str(carla)},
        headers=admin.csrf_headers(),
    )
    again = admin.client.post(
        f"{ORG}/matching/review/accept",
        json={"table": "contact", "crm_id": "c-ghost-06", "target_id": str(carla)},
        headers=admin.csrf_headers(),
    )

    assert {"c-ghost-05", "c-ghost-06"} <= in_review
    assert queue["total"] == len(queue["items"])
    item = next(item for item in queue["items"] if item["crm_id"] == "c-ghost-05")
    assert (item["person"]["external_id"], item["company"]) == ("p3", None)
    assert accepted.status_code == 200
    assert (accepted.json()["link"]["band"], accepted.json()["link"]["origin"]) == ("match", "correction")
    assert (rejected.status_code, rejected.json()) == (200, {"link": None})
    assert again.status_code == 404  # no longer in review
    remaining = admin.client.get(f"{ORG}/matching/review", params={"kind": "people"}).json()
    assert {"c-ghost-05", "c-ghost-06"}.isdisjoint({item["crm_id"] for item in remaining["items"]})
    evaluation = admin.client.get(f"{ORG}/matching/evaluation").json()
    assert evaluation["labelled"] >= 2


def test_sellers_guests_and_other_organizations_are_refused(console: Console, browser: OpenBrowser) -> None:
    organization_id = seed(console)
    seller, guest, outsider = browser(ACME_SELLER), browser(ACME_GUEST), browser(GLOBEX_ADMIN)
    carla = person_id(console, organization_id, "p3")
    pair = {"table": "contact", "crm_id": "c-ghost-00", "target_id": str(carla)}

    assert seller.client.get(f"{ORG}/matching/report").status_code == 403
    assert seller.client.get(f"{ORG}/matching/unmatched", params={"table": "contact"}).status_code == 403
    assert (
        seller.client.post(f"{ORG}/matching/review/accept", json=pair, headers=seller.csrf_headers()).status_code == 403
    )
    assert seller.client.get(f"{ORG}/people/{carla}/links").status_code == 200
    assert guest.client.get(f"{ORG}/people/{carla}/links").status_code == 403
    edit = {"action": "link", "target_id": str(carla)}
    assert (
        guest.client.put(
            f"{ORG}/matching/links/contact/c-ghost-00", json=edit, headers=guest.csrf_headers()
        ).status_code
        == 403
    )
    assert outsider.client.get(f"{ORG}/matching/report").status_code == 404
    assert outsider.client.get("/api/v1/orgs/globex/matching/links/contact/c-bob").status_code == 404
    assert outsider.client.get(f"/api/v1/orgs/globex/people/{carla}/links").status_code == 404
    theirs = outsider.client.put(
        "/api/v1/orgs/globex/matching/links/contact/c-ghost-00", json=edit, headers=outsider.csrf_headers()
    )
    assert theirs.status_code == 404
    csv_of_theirs = outsider.client.get("/api/v1/orgs/globex/matching/unmatched", params={"table": "contact"})
    assert "c-ghost" not in csv_of_theirs.text
