"""The demo workspace generator: people and companies overlapping a CRM the way real data does, with its truth;
deterministic, independent of row order and size, and readable by the people and companies CSV import."""

from __future__ import annotations

import csv
import dataclasses
import random
from collections import Counter
from pathlib import Path

import pytest

from salesbridge.domain.csv_rows import read_company_csv, read_people_csv
from salesbridge.sandbox.assembly import build_sandbox
from salesbridge.sandbox.seeds.demo_workspace import (
    COMPANY_COLUMNS,
    PEOPLE_COLUMNS,
    CrmRows,
    DemoWorkspace,
    _name_variant,
    crm_rows_of_sandbox,
    csv_bytes,
    generate_workspace,
    main,
    write_workspace_csvs,
)
from salesbridge.sandbox.seeds.seeding import parse_seed
from salesbridge.sandbox.seeds.vocabulary import without_accents


@pytest.fixture(scope="module")
def crm() -> CrmRows:
    return crm_rows_of_sandbox(build_sandbox(seed=parse_seed("demo")).services.state)


@pytest.fixture(scope="module")
def workspace(crm: CrmRows) -> DemoWorkspace:
    return generate_workspace(crm)


def _by_id(rows: list[dict[str, str]]) -> dict[str, dict[str, str]]:
    return {row["id"]: row for row in rows}


def test_the_same_crm_and_seed_give_the_same_workspace_whatever_the_row_order(
    crm: CrmRows, workspace: DemoWorkspace
) -> None:
    shuffled = CrmRows(crm.accounts[::-1], crm.contacts[::-1], crm.leads[::-1])

    again = generate_workspace(shuffled)

    assert _by_id(again.people) == _by_id(workspace.people)
    assert _by_id(again.companies) == _by_id(workspace.companies)
    assert set(again.truth) == set(workspace.truth)
    assert generate_workspace(crm, seed=14).people != workspace.people


def test_a_records_counterpart_does_not_change_when_the_crm_grows(crm: CrmRows, workspace: DemoWorkspace) -> None:
    smaller = generate_workspace(dataclasses.replace(crm, leads=crm.leads[:10]))

    kept = {link.crm_id: link.workspace_id for link in smaller.truth if link.table == "contact"}
    full = {link.crm_id: link.workspace_id for link in workspace.truth if link.table == "contact"}
    people, smaller_people = _by_id(workspace.people), _by_id(smaller.people)
    with_leads = {link.workspace_id for link in workspace.truth if link.table == "lead"}
    assert kept == full
    assert all(people[person] == smaller_people[person] for person in kept.values() if person not in with_leads)


def test_the_truth_ties_existing_rows_to_existing_crm_records_once(crm: CrmRows, workspace: DemoWorkspace) -> None:
    crm_ids = {
        "account": {row["accountid"] for row in crm.accounts},
        "contact": {row["contactid"] for row in crm.contacts},
        "lead": {row["leadid"] for row in crm.leads},
    }
    people, companies = _by_id(workspace.people), _by_id(workspace.companies)

    for link in workspace.truth:
        assert link.crm_id in crm_ids[link.table]
        assert link.workspace_id in (companies if link.kind == "company" else people)
        assert (link.kind == "company") == (link.table == "account")
    records = Counter((link.table, link.crm_id) for link in workspace.truth)
    assert max(records.values()) == 1, "a CRM record is one person or company at most"
    tied = len(records) / sum(len(ids) for ids in crm_ids.values())
    assert 0.7 < tied < 0.95, "most CRM records have a counterpart, some do not"


def test_the_overlap_is_as_messy_as_real_data(crm: CrmRows, workspace: DemoWorkspace) -> None:
    variations = Counter(variation for link in workspace.truth for variation in link.variations)
    for expected in (
        "nickname",
        "accents_dropped",
        "accents_added",
        "typo",
        "legal_form",
        "upper_case",
        "job_change",
        "masked_email",
        "no_email",
        "personal_email",
        "business_phone",
        "surname_shortened",
    ):
        assert variations[expected] > 0, expected
    people = _by_id(workspace.people)
    tied_people = {link.workspace_id for link in workspace.truth if link.kind == "person"}
    tied_companies = {link.workspace_id for link in workspace.truth if link.kind == "company"}
    unknown_people = [row for row in workspace.people if row["id"] not in tied_people]
    assert len(unknown_people) > 0.2 * len(tied_people), "people with no CRM record"
    assert len(workspace.companies) - len(tied_companies) > 10, "companies the CRM does not know"
    records_per_person = Counter(link.workspace_id for link in workspace.truth if link.kind == "person")
    assert sum(count > 1 for count in records_per_person.values()) >= 5, "CRM duplicates: one person, two records"
    names = Counter((row["first_name"], row["last_name"]) for row in workspace.people)
    namesakes = [name for name, count in names.items() if count > 1]
    assert any(
        sum(row["id"] in tied_people for row in workspace.people if (row["first_name"], row["last_name"]) == name) == 1
        for name in namesakes
    ), "someone with the same name as a CRM person, at another company"
    masked = [row["email"] for row in people.values() if "***" in row["email"]]
    assert masked
    assert all(without_accents(row["first_name"]) for row in people.values())
    phones = Counter(row["phone"].replace(" ", "") for row in workspace.people if row["phone"])
    assert any(count > 1 for count in phones.values()), "colleagues share their account's switchboard"


def test_a_job_change_shows_the_new_company_and_the_crm_keeps_the_old_one(
    crm: CrmRows, workspace: DemoWorkspace
) -> None:
    accounts = {row["accountid"]: row["name"] for row in crm.accounts}
    contacts = {row["contactid"]: row for row in crm.contacts}
    people = _by_id(workspace.people)
    changed = [link for link in workspace.truth if "job_change" in link.variations and link.table == "contact"]

    assert changed
    for link in changed:
        old = accounts[contacts[link.crm_id]["parentcustomerid"]]
        assert people[link.workspace_id]["company_name"] != old


def test_about_sixty_percent_of_people_carry_their_employers_id_and_it_is_their_company(
    crm: CrmRows, workspace: DemoWorkspace
) -> None:
    companies = _by_id(workspace.companies)
    accounts = {company: account for kind, company, _table, account, _v in _truth(workspace, "company")}
    parents = {row["contactid"]: row["parentcustomerid"] for row in crm.contacts}
    at_a_company = [row for row in workspace.people if row["company_name"]]
    carrying = [row for row in at_a_company if row["company_external_id"]]

    assert 0.45 < len(carrying) / len(at_a_company) < 0.75, "a share, as a prospecting tool knows it: not everyone"
    assert all(row["company_external_id"] in companies for row in carrying)
    people = _by_id(workspace.people)
    checked = 0
    for link in workspace.truth:
        person = people.get(link.workspace_id)
        if link.kind != "person" or link.table != "contact" or person is None or not person["company_external_id"]:
            continue
        checked += 1
        if "job_change" in link.variations:  # the new company, never the account the CRM still holds
            assert accounts.get(person["company_external_id"]) != parents[link.crm_id]
        else:
            assert accounts.get(person["company_external_id"]) == parents[link.crm_id]
    assert checked > 50


def _truth(workspace: DemoWorkspace, kind: str) -> list[tuple[str, str, str, str, tuple[str, ...]]]:
    return [
        (link.kind, link.workspace_id, link.table, link.crm_id, link.variations)
        for link in workspace.truth
        if link.kind == kind
    ]


def test_a_bigger_crm_gives_a_proportionate_workspace() -> None:
    crm = crm_rows_of_sandbox(build_sandbox(seed=parse_seed("scale:3000")).services.state)

    workspace = generate_workspace(crm)

    tied = {(link.table, link.crm_id) for link in workspace.truth}
    assert 0.7 < len(tied) / (len(crm.accounts) + len(crm.contacts) + len(crm.leads)) < 0.95
    assert len(workspace.people) > len(crm.contacts)
    assert len({row["id"] for row in workspace.people}) == len(workspace.people)
    assert len({row["id"] for row in workspace.companies}) == len(workspace.companies)


def test_the_files_are_what_the_csv_import_reads(workspace: DemoWorkspace, tmp_path: Path) -> None:
    files = write_workspace_csvs(workspace, tmp_path / "out")

    people = read_people_csv(files.people.read_bytes())
    companies = read_company_csv(files.companies.read_bytes())
    people_rows = [row for batch in people.batches() for row in batch.rows]
    company_rows = [row for batch in companies.batches() for row in batch.rows]
    assert not people.warnings
    assert not companies.warnings
    assert len(people_rows) == len(workspace.people)
    assert len(company_rows) == len(workspace.companies)
    assert not [problem for batch in read_people_csv(files.people.read_bytes()).batches() for problem in batch.problems]
    with files.truth.open(encoding="utf-8") as truth:
        assert len(list(csv.DictReader(truth))) == len(workspace.truth)
    assert csv_bytes(PEOPLE_COLUMNS, workspace.people) == files.people.read_bytes()
    assert csv_bytes(COMPANY_COLUMNS, workspace.companies) == files.companies.read_bytes()


def test_the_command_writes_the_three_files(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    main([str(tmp_path), "--crm", "demo", "--seed", "13"])

    assert {path.name for path in tmp_path.iterdir()} == {"people.csv", "companies.csv", "truth.csv"}
    assert "people" in capsys.readouterr().out


def test_a_shortened_surname_never_leaves_a_particle_alone() -> None:
    """QA item 9: the CRM's "Bram de Vries" became the person "Bram de"; a double surname is still shortened."""
    dutch = {_name_variant("Bram", "de Vries", random.Random(seed), [])[1] for seed in range(200)}
    spanish = {_name_variant("Lucía", "García López", random.Random(seed), [])[1] for seed in range(200)}
    assert "de" not in dutch
    assert {"García", "Garcia"} & spanish
