"""A CSV uploaded on the console, loaded by a real procrastinate worker (``python -m salesbridge worker``) on
PostgreSQL: the upload defers its ``load_people_upload`` job in the transaction that keeps the file, under the
organization's lock; the worker loads it with the CSV load's rules and the upload ends with its counts and refused
lines, its file emptied."""

from __future__ import annotations

from tests.integration.jobs.conftest import JobsStore, wait_until

from salesbridge.domain.csv_rows import CsvKind
from salesbridge.domain.jobs import LOAD_PEOPLE_UPLOAD, JobState
from salesbridge.domain.uploads import UploadState
from salesbridge.services.connecting import create_organization
from salesbridge.services.jobs import organization_jobs
from salesbridge.services.people import search_people
from salesbridge.services.people_upload import start_upload, upload_of

PEOPLE_CSV = (
    b"id,first name,last name,email\n"
    b"p1,Ana,Torres,ana@contoso.es\n"
    b"p2,,,nobody@contoso.es\n"
    b"p3,Zoe,Ng,zoe@northwind.com\n"
)


def test_a_worker_loads_an_uploaded_file(jobs_store: JobsStore) -> None:
    store = jobs_store.store
    acme = create_organization(store, slug="acme", seats=2)

    upload = start_upload(
        store, acme, kind=CsvKind.PEOPLE, file_name="people.csv", content=PEOPLE_CSV, actor="admin@acme.test"
    )

    [job] = [job for job in organization_jobs(store, slug="acme") if job.task == LOAD_PEOPLE_UPLOAD]
    assert job.state is JobState.QUEUED
    assert jobs_store.sql(f"SELECT lock, args->>'upload_id' FROM procrastinate_jobs WHERE id = {job.id}") == [
        (f"org:{acme}", str(upload.id))
    ]
    jobs_store.start_worker()
    wait_until(
        lambda: not upload_of(store, acme, upload.id).state.active,
        seconds=60,
        what="the upload loaded",
        logs=jobs_store.logs,
    )

    loaded = upload_of(store, acme, upload.id)
    assert loaded.state is UploadState.SUCCEEDED, loaded.error
    assert (loaded.progress.inserted, loaded.progress.refused) == (2, 1)
    assert [problem.line for problem in loaded.problems] == [3]
    assert [person.full_name for person in search_people(store, acme).items] == ["Ana Torres", "Zoe Ng"]
    assert jobs_store.sql(f"SELECT length(content) FROM people_uploads WHERE id = '{upload.id}'") == [(0,)]
    wait_until(
        lambda: jobs_store.sql(f"SELECT status::text FROM procrastinate_jobs WHERE id = {job.id}") == [("succeeded",)],
        seconds=30,
        what="the job marked succeeded",
        logs=jobs_store.logs,
    )
