"""The console upload's use cases (services.people_upload) on the in-memory store: a file refused whole is refused
at once with nothing kept; a kept file is loaded once by whoever takes it, with the CSV load's rules, and ends with
its counts and refused lines, its file emptied; the load's job is deferred with the file."""

from __future__ import annotations

import pytest
from tests.fakes.store import FakeStore

from salesbridge.domain.csv_rows import CsvKind
from salesbridge.domain.jobs import LOAD_PEOPLE_UPLOAD
from salesbridge.domain.uploads import UploadState
from salesbridge.errors import InvalidRequestError
from salesbridge.services.people import search_people
from salesbridge.services.people_upload import recent_uploads, run_queued_uploads, run_upload, start_upload, upload_of

PEOPLE = b"id,first name,last name\np1,Ana,Torres\np2,,\np1,Ana,Again\np3,Zoe,Ng\n"


def test_a_kept_file_is_loaded_once_with_the_csv_loads_rules(store: FakeStore) -> None:
    acme = store.add_organization("acme")

    upload = start_upload(store, acme, kind=CsvKind.PEOPLE, file_name="people.csv", content=PEOPLE, actor="ada")
    with store(acme, read_only=True) as uow:
        [job] = uow.jobs.list()
    loaded = run_upload(store, acme, upload.id)
    again = run_upload(store, acme, upload.id)

    assert (upload.state, job.task) == (UploadState.QUEUED, LOAD_PEOPLE_UPLOAD)
    assert loaded is not None
    assert again is None  # taken once
    assert loaded.state is UploadState.SUCCEEDED
    assert (loaded.progress.inserted, loaded.progress.refused, loaded.progress.lines_read) == (2, 2, 5)
    assert [problem.line for problem in loaded.problems] == [3, 4]
    assert [person.full_name for person in search_people(store, acme).items] == ["Ana Torres", "Zoe Ng"]
    assert "people.imported" in store.audit_actions(acme)
    with store(acme, read_only=True) as uow:
        assert uow.uploads.content(upload.id) is None
    assert upload_of(store, acme, upload.id) == loaded
    assert recent_uploads(store, acme) == [loaded]


@pytest.mark.parametrize(
    "content", [b"", b"name,email\nAna,ana@contoso.es\n", b"\xff\xfei\x00d\x00\n\x00"], ids=["empty", "no id", "utf16"]
)
def test_a_file_refused_whole_is_refused_at_once_and_nothing_is_kept(store: FakeStore, content: bytes) -> None:
    acme = store.add_organization("acme")

    with pytest.raises(InvalidRequestError):
        start_upload(store, acme, kind=CsvKind.PEOPLE, file_name="people.csv", content=content, actor="ada")

    assert recent_uploads(store, acme) == []
    assert store.queued_uploads() == []


def test_the_embedded_step_loads_every_organizations_queued_uploads_oldest_first(store: FakeStore) -> None:
    acme, globex = store.add_organization("acme"), store.add_organization("globex")
    ours = start_upload(store, acme, kind=CsvKind.PEOPLE, file_name="a.csv", content=PEOPLE, actor="ada")
    theirs = start_upload(
        store, globex, kind=CsvKind.COMPANIES, file_name="b.csv", content=b"id,name\nk1,Globex\n", actor="greta"
    )

    assert run_queued_uploads(store) == 2

    assert upload_of(store, acme, ours.id).state is UploadState.SUCCEEDED
    assert upload_of(store, globex, theirs.id).progress.inserted == 1
    assert store.queued_uploads() == []
    assert run_queued_uploads(store) == 0
