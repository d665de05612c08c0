"""The audit log page names a people or companies load and each of its details in the reader's language (not by
its code)."""

from __future__ import annotations

import uuid

import pytest
from tests.fakes.store import FakeStore

from salesbridge.domain.csv_rows import read_company_csv, read_people_csv
from salesbridge.services.people import delete_company, delete_person
from salesbridge.services.people_load import load_companies, load_people
from salesbridge.web.job_descriptions import REASONS as JOB_REASONS
from salesbridge.web.ui.admin import ACTION_NAMES, DETAIL_NAMES


def _loaded(kind: str) -> tuple[FakeStore, uuid.UUID]:
    """A store whose organization acme holds one person (or company), external id p1, loaded by the CLI."""
    store = FakeStore()
    acme = store.add_organization("acme")
    if kind == "people":
        load_people(store, "acme", read_people_csv(b"id,first_name\np1,Ana\n"), actor="cli")
    else:
        load_companies(store, "acme", read_company_csv(b"id,name\np1,Contoso\n"), actor="cli")
    return store, acme


@pytest.mark.parametrize("kind", ["people", "companies"])
def test_a_load_is_named_with_every_detail_labelled(kind: str) -> None:
    store, acme = _loaded(kind)

    with store(acme, read_only=True) as uow:
        (entry,) = uow.audit.recent()

    assert entry.action in ACTION_NAMES
    assert set(entry.details) <= set(DETAIL_NAMES)


@pytest.mark.parametrize("kind", ["people", "companies"])
def test_a_deletion_is_named_with_every_detail_labelled(kind: str) -> None:
    store, acme = _loaded(kind)
    with store(acme, read_only=True) as uow:
        found = (uow.people if kind == "people" else uow.companies).get_by_external_id("p1")
    assert found is not None
    assert found.id is not None

    (delete_person if kind == "people" else delete_company)(store, acme, found.id, actor="cli")

    with store(acme, read_only=True) as uow:
        entry = uow.audit.recent()[0]
    assert entry.action in ACTION_NAMES
    assert set(entry.details) <= set(DETAIL_NAMES)
    assert entry.action in JOB_REASONS  # the match run it requests is named on the jobs page
