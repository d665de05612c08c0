"""The port of matching's store (:mod:`salesbridge.domain.match_links`): links, rejected pairs, blocking keys and
the organization's matching state, plus the reads a run needs of the CRM records and the workspace's people and
companies (streamed, filtered in the database)."""

from __future__ import annotations

import uuid
from collections.abc import Collection, Iterable, Iterator, Mapping, Sequence
from datetime import datetime
from typing import Protocol

from salesbridge.domain.match_links import (
    Badge,
    KeySide,
    LinkCounts,
    MatchLink,
    MatchRejection,
    MatchState,
    TargetKind,
)
from salesbridge.domain.people import Company, Person
from salesbridge.domain.sync_runs import ImportedRecord


class MatchRepository(Protocol):
    """The organization's matching data. Writes happen in the unit of work's transaction; nothing commits."""

    # ------------------------------------------------------------------------------------------------ links

    def get(self, crm_table: str, crm_id: str) -> MatchLink | None:
        """The link of one CRM record, or None."""
        ...

    def links(self, crm_table: str, crm_ids: Iterable[str]) -> dict[str, MatchLink]:
        """The links of these CRM records of ``crm_table``, by CRM id (records without one are absent)."""
        ...

    def links_to(self, target_ids: Iterable[uuid.UUID]) -> list[MatchLink]:
        """Every link (any band) whose target is one of ``target_ids``, by table then CRM id."""
        ...

    def corrections(self) -> list[MatchLink]:
        """Every link a person decided (origin correction), by table then CRM id."""
        ...

    def review(self, crm_tables: Sequence[str], *, limit: int = 50, offset: int = 0) -> list[MatchLink]:
        """Links in band review of ``crm_tables``, most probable first (then table, CRM id: stable paging)."""
        ...

    def count_review(self, crm_tables: Sequence[str]) -> int:
        """How many links :meth:`review` pages through."""
        ...

    def counts(self, crm_table: str) -> LinkCounts:
        """The imported records of ``crm_table``, and how many are tied or in review."""
        ...

    def put(self, links: Iterable[MatchLink]) -> None:
        """Insert or replace links, by (table, CRM id)."""
        ...

    def delete(self, crm_table: str, crm_ids: Iterable[str]) -> int:
        """Delete the links of these CRM records; how many went."""
        ...

    def vanished_crm_ids(self, crm_table: str) -> list[str]:
        """CRM ids of ``crm_table`` named by a link, a rejection or a key but no longer imported (deleted in the
        CRM)."""
        ...

    def vanished_targets(self, kind: TargetKind) -> list[uuid.UUID]:
        """People (or companies) named by a link, a rejection or a key but no longer in the workspace."""
        ...

    def forget_crm_records(self, crm_table: str, crm_ids: Iterable[str]) -> int:
        """Delete the links, rejections and keys of these CRM records (corrections included); how many links went."""
        ...

    def forget_targets(self, kind: TargetKind, target_ids: Iterable[uuid.UUID]) -> int:
        """Delete the links to these people (or companies), their rejections and keys; how many links went."""
        ...

    def delete_scorer_links(self, crm_tables: Sequence[str]) -> int:
        """Delete the scorer's links of ``crm_tables`` (corrections stay); how many (a full run starts over)."""
        ...

    # -------------------------------------------------------------------------------------------- rejections

    def reject(self, rejection: MatchRejection) -> None:
        """Remember a rejected pair. Idempotent."""
        ...

    def rejections(self, crm_table: str, crm_ids: Iterable[str]) -> dict[str, set[uuid.UUID]]:
        """The rejected targets of these CRM records, by CRM id."""
        ...

    def all_rejections(self) -> list[MatchRejection]:
        """Every rejected pair."""
        ...

    # -------------------------------------------------------------------------------------------------- keys

    def keys_of(self, side: KeySide, refs: Iterable[str]) -> dict[str, set[str]]:
        """The stored keys of these records of ``side``, by ref (records without keys are absent)."""
        ...

    def fingerprints(self, side: KeySide, refs: Iterable[str], *, prefix: str) -> dict[str, str]:
        """The stored key starting with ``prefix`` (a record's fingerprint) of each of these records of ``side``,
        by ref (records without one are absent); reads only those keys."""
        ...

    def replace_keys(self, side: KeySide, keys: Mapping[str, Collection[str]]) -> None:
        """Make each ref's stored keys exactly the given ones."""
        ...

    def refs_by_key(self, sides: Collection[KeySide], keys: Collection[str]) -> dict[str, set[tuple[KeySide, str]]]:
        """The records of ``sides`` holding each of ``keys``, as (side, ref), by key (keys nobody holds are
        absent)."""
        ...

    def clear_keys(self, sides: Collection[KeySide]) -> None:
        """Delete every key of ``sides``."""
        ...

    # ------------------------------------------------------------------------------------------------- state

    def state(self) -> MatchState:
        """The organization's matching state (empty when no run ever ran)."""
        ...

    def lock_state(self) -> MatchState:
        """The state, its row created if need be and locked until the transaction ends: a second run of the
        organization waits here for the first to commit (SQLite: the write lock does the same)."""
        ...

    def save_state(self, state: MatchState) -> None:
        """Store the state."""
        ...

    # -------------------------------------------------------------------------------- the records matched

    def crm_records(self, crm_table: str, *, since: datetime | None = None) -> Iterator[ImportedRecord]:
        """The imported records of ``crm_table`` written after ``since`` (all when None), by CRM id, streamed."""
        ...

    def crm_records_by_ids(self, crm_table: str, crm_ids: Iterable[str]) -> list[ImportedRecord]:
        """The imported records of ``crm_table`` with these ids (unknown ids are absent)."""
        ...

    def crm_records_by_parents(self, crm_table: str, parent_ids: Iterable[str]) -> list[ImportedRecord]:
        """The imported records of ``crm_table`` whose ``parent_id`` is one of ``parent_ids`` (lower case)."""
        ...

    def unmatched_crm_records(self, crm_table: str) -> Iterator[ImportedRecord]:
        """The imported records of ``crm_table`` not tied to a target (none, in review, or "no match"), by CRM id,
        streamed: no cap."""
        ...

    def people(self, *, since: datetime | None = None) -> Iterator[Person]:
        """The people changed after ``since`` (all when None), streamed."""
        ...

    def people_by_ids(self, person_ids: Iterable[uuid.UUID]) -> list[Person]:
        """The people with these ids (unknown ids are absent)."""
        ...

    def companies(self, *, since: datetime | None = None) -> Iterator[Company]:
        """The companies changed after ``since`` (all when None), streamed."""
        ...

    def companies_by_ids(self, company_ids: Iterable[uuid.UUID]) -> list[Company]:
        """The companies with these ids (unknown ids are absent)."""
        ...

    def people_with_badge(self, badge: Badge, query: str = "", *, limit: int = 50, offset: int = 0) -> list[Person]:
        """The people with ``badge`` whose search text holds every word of ``query`` (as
        :meth:`salesbridge.services.ports.PersonRepository.search`: by name then id)."""
        ...

    def count_people_with_badge(self, badge: Badge, query: str = "") -> int:
        """How many people :meth:`people_with_badge` pages through."""
        ...

    def companies_with_badge(self, badge: Badge, query: str = "", *, limit: int = 50, offset: int = 0) -> list[Company]:
        """As :meth:`people_with_badge`, for companies."""
        ...

    def count_companies_with_badge(self, badge: Badge, query: str = "") -> int:
        """How many companies :meth:`companies_with_badge` pages through."""
        ...
