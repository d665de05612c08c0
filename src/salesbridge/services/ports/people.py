"""The ports of the workspace's own people and companies (:mod:`salesbridge.domain.people`) and of the CSV files
uploaded to load them (:mod:`salesbridge.domain.uploads`)."""

from __future__ import annotations

import uuid
from collections.abc import Collection, Mapping, Sequence
from typing import Protocol

from salesbridge.domain.csv_rows import CsvKind, LineProblem
from salesbridge.domain.people import Company, Person
from salesbridge.domain.people import UpsertCounts as UpsertCounts
from salesbridge.domain.uploads import Upload, UploadProgress


class PersonRepository(Protocol):
    """The organization's people, one per external id."""

    def upsert_many(self, people: list[Person], *, kept: Mapping[str, Collection[str]] | None = None) -> UpsertCounts:
        """Insert the people whose external id is new, update those whose fields differ, leave the rest untouched
        (their ``updated_at`` too). ``kept``: by external id, the fields its load did not carry, which a stored
        person keeps (:func:`~salesbridge.domain.people.keeping_stored`) before it is compared. Idempotent: the
        same list again counts every row unchanged. When the list names
        one external id twice, the last value wins (counted once). Writes in the caller's transaction; does not
        commit. ``id`` and ``updated_at`` of the values given are ignored.

        Raises:
            InvalidInputError: a ``company_id`` is not a company of the organization (field ``"company_id"``);
                nothing is written.
            ConcurrentWriteError: another transaction inserted one of the new external ids after this one read
                them; roll back and run the unit of work again.
        """
        ...

    def get(self, person_id: uuid.UUID) -> Person | None:
        """The person with ``person_id`` in the organization, or None."""
        ...

    def get_by_external_id(self, external_id: str) -> Person | None:
        """The person with ``external_id`` in the organization, or None."""
        ...

    def search(self, query: str = "", *, limit: int = 50, offset: int = 0) -> list[Person]:
        """The people whose name, company (current or past), title or place contains every word of ``query``
        (case-insensitive, casefolded; an empty query finds everyone), ordered by full name then id (stable across
        pages), from ``offset``, at most ``limit``."""
        ...

    def count(self, query: str = "") -> int:
        """How many people :meth:`search` finds for ``query`` in all."""
        ...

    def delete(self, person_id: uuid.UUID) -> bool:
        """Delete the organization's person ``person_id``; False when there is none. Does not commit."""
        ...

    def tie_to_companies(self, external_ids: Collection[str]) -> int:
        """Tie each person whose ``company_external_id`` is one of ``external_ids`` to the organization's company of
        that external id (``company_id``; ``updated_at`` now, so matching reads them again) when not tied to it
        already: people loaded before their company. An external id the organization has no company for ties no
        one. How many people were tied. Writes in the caller's transaction; does not commit."""
        ...


class CompanyRepository(Protocol):
    """The organization's companies, one per external id."""

    def upsert_many(
        self, companies: list[Company], *, kept: Mapping[str, Collection[str]] | None = None
    ) -> UpsertCounts:
        """As :meth:`PersonRepository.upsert_many`, for companies."""
        ...

    def get(self, company_id: uuid.UUID) -> Company | None:
        """The company with ``company_id`` in the organization, or None."""
        ...

    def get_by_external_id(self, external_id: str) -> Company | None:
        """The company with ``external_id`` in the organization, or None."""
        ...

    def ids_by_external_ids(self, external_ids: Collection[str]) -> dict[str, uuid.UUID]:
        """The ids of the organization's companies among ``external_ids``, by external id (the others are missing
        from the answer). A few statements whatever the count."""
        ...

    def search(self, query: str = "", *, limit: int = 50, offset: int = 0) -> list[Company]:
        """The companies whose name, domain, industry or place contains every word of ``query`` (as
        :meth:`PersonRepository.search`), ordered by name then id."""
        ...

    def count(self, query: str = "") -> int:
        """How many companies :meth:`search` finds for ``query`` in all."""
        ...

    def delete(self, company_id: uuid.UUID) -> bool:
        """Delete the organization's company ``company_id``; False when there is none. Its people keep their
        company's name but no longer point at it (``company_id`` None, ``updated_at`` now, so matching reads them
        again). Does not commit."""
        ...


class UploadRepository(Protocol):
    """The organization's uploaded CSV files of people and companies and their loads
    (:class:`~salesbridge.domain.uploads.Upload`). Changes are part of the unit of work's transaction."""

    def add(self, *, kind: CsvKind, file_name: str, content: bytes, created_by: str) -> Upload:
        """A new queued upload holding ``content``."""
        ...

    def get(self, upload_id: uuid.UUID) -> Upload | None:
        """The organization's upload ``upload_id`` (another organization's is None)."""
        ...

    def recent(self, *, limit: int = 20) -> list[Upload]:
        """The organization's uploads, newest first, at most ``limit``."""
        ...

    def content(self, upload_id: uuid.UUID) -> bytes | None:
        """The file of a queued or running upload; None once its load ended (or for no such upload)."""
        ...

    def start(self, upload_id: uuid.UUID) -> bool:
        """Mark the queued upload running (now); False when it is not queued (already taken, ended, or missing):
        whoever gets True loads it, once."""
        ...

    def record_progress(self, upload_id: uuid.UUID, progress: UploadProgress) -> None:
        """Write the load's counters so far."""
        ...

    def finish(
        self,
        upload_id: uuid.UUID,
        *,
        progress: UploadProgress,
        problems: Sequence[LineProblem],
        warnings: Sequence[LineProblem],
        error: LineProblem | None = None,
    ) -> None:
        """End the load (now): succeeded, or failed when ``error`` is given; its file is emptied."""
        ...
