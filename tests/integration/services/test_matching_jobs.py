"""Matching as a procrastinate job (PostgreSQL): the end of an import and a people load each defer
``match_organization`` in their own transaction, under the organization's lock with one waiting at most, and a real
worker process runs it until the organization's contacts are tied to its people."""

from __future__ import annotations

import csv
import io

from tests.integration.jobs.conftest import (
    JobsStore,
    SandboxFactory,
    connect_organization,
    jobs_store,
    serve_sandbox,
    wait_until,
)

from salesbridge.domain.csv_rows import read_people_csv
from salesbridge.domain.jobs import IMPORT_ORGANIZATION, MATCH_ORGANIZATION, JobState
from salesbridge.services.jobs import organization_jobs
from salesbridge.services.matching import match_report
from salesbridge.services.people_load import load_people

__all__ = ["jobs_store", "serve_sandbox"]  # the job tests' fixtures: a procrastinate store, a served sandbox


def test_an_import_and_a_people_load_each_run_matching_as_a_job(
    jobs_store: JobsStore, serve_sandbox: SandboxFactory
) -> None:
    store = jobs_store.store
    acme = connect_organization(store, "acme", serve_sandbox(contacts=12))

    def succeeded(task: str) -> int:
        return sum(1 for job in organization_jobs(store, slug="acme", states=[JobState.SUCCEEDED]) if job.task == task)

    jobs_store.start_worker()
    wait_until(
        lambda: succeeded(MATCH_ORGANIZATION) == 1, seconds=60, what="matching after the import", logs=jobs_store.logs
    )
    assert succeeded(IMPORT_ORGANIZATION) == 1
    locks = jobs_store.sql(
        f"SELECT lock, queueing_lock FROM procrastinate_jobs WHERE task_name = '{MATCH_ORGANIZATION}'"
    )
    assert locks == [(f"org:{acme}", f"match:{acme}")]

    with store(acme, read_only=True) as uow:
        contacts = uow.crm_records.records("contact")
    rows = io.StringIO()
    writer = csv.writer(rows)
    writer.writerow(["id", "first_name", "last_name", "email"])
    for index, contact in enumerate(contacts):
        data = contact.data
        writer.writerow([f"p{index}", data.get("firstname"), data.get("lastname"), data.get("emailaddress1")])
    load_people(store, "acme", read_people_csv(rows.getvalue().encode()), actor="admin@acme.test")

    wait_until(
        lambda: succeeded(MATCH_ORGANIZATION) == 2, seconds=60, what="matching after the load", logs=jobs_store.logs
    )
    with store(acme, read_only=True) as uow:
        report = {table.table: table for table in match_report(uow).tables}
    assert report["contact"].total == len(contacts) > 0
    assert report["contact"].matched == len(contacts)
