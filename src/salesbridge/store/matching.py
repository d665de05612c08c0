"""Matching's store (:class:`salesbridge.services.ports.MatchRepository`): links of CRM records to the workspace's
people and companies, rejected pairs, blocking keys and the organization's matching state (migration 0014), and
the reads a matching run needs of the imported records and the workspace, filtered in the database.

Every statement is scoped by organization. Sets of ids go to the database in chunks (``IN (...)`` within every
backend's limit on bound parameters); long reads are streamed (``yield_per``), so a run or an unmatched-rows export
never holds a table's rows in the driver at once.
"""

from __future__ import annotations

import dataclasses
import uuid
from collections.abc import Collection, Iterable, Iterator, Mapping, Sequence
from datetime import datetime
from typing import Any, Final, TypeVar

from sqlalchemy import String, Table, and_, cast, delete, exists, func, select, union
from sqlalchemy.sql.elements import ColumnElement

from salesbridge.domain.match_links import (
    Badge,
    KeySide,
    LinkBand,
    LinkCounts,
    LinkOrigin,
    MatchLink,
    MatchRejection,
    MatchState,
    TargetKind,
)
from salesbridge.domain.people import Company, Person, search_words
from salesbridge.domain.sync_runs import ImportedRecord
from salesbridge.store.database import conflict_insert
from salesbridge.store.imports import record_value
from salesbridge.store.repositories import _ScopedRepository
from salesbridge.store.tables import (
    Base,
    CrmRecord,
    MatchKeyRow,
    MatchLinkRow,
    MatchRejectionRow,
    MatchStateRow,
)

_CHUNK: Final = 500
"""Values per ``IN (...)``: well under every backend's limit on bound parameters."""
_STREAM: Final = 1000
"""Rows per fetch of a streamed read."""

_T = TypeVar("_T")
_V = TypeVar("_V", Person, Company)

_PEOPLE: Final[Table] = Base.metadata.tables["people"]
_COMPANIES: Final[Table] = Base.metadata.tables["companies"]
_STATE_FIELDS: Final = (
    "people_model",
    "companies_model",
    "crm_watermark",
    "people_watermark",
    "companies_watermark",
    "last_run_at",
    "last_full_run_at",
    "last_summary",
    "requested_at",
)


def _chunks(values: Iterable[_T]) -> Iterator[list[_T]]:
    items = list(dict.fromkeys(values))
    for start in range(0, len(items), _CHUNK):
        yield items[start : start + _CHUNK]


def _link_value(row: MatchLinkRow) -> MatchLink:
    return MatchLink(
        crm_table=row.crm_table,
        crm_id=row.crm_id,
        target_kind=TargetKind(row.target_kind),
        target_id=row.target_id,
        band=LinkBand(row.band),
        probability=row.probability,
        decision=row.decision,
        origin=LinkOrigin(row.origin),
        decided_by=row.decided_by,
        decided_at=row.decided_at,
        stale_fields=tuple(row.stale_fields or ()),
    )


def _link_columns(link: MatchLink) -> dict[str, Any]:
    return {
        "crm_table": link.crm_table,
        "crm_id": link.crm_id,
        "target_kind": link.target_kind.value,
        "target_id": link.target_id,
        "band": link.band.value,
        "probability": link.probability,
        "decision": dict(link.decision) if link.decision is not None else None,
        "origin": link.origin.value,
        "decided_by": link.decided_by,
        "decided_at": link.decided_at,
        "stale_fields": list(link.stale_fields),
    }


_PERSON_FIELDS: Final = tuple(field.name for field in dataclasses.fields(Person))
_COMPANY_FIELDS: Final = tuple(field.name for field in dataclasses.fields(Company))
_LISTS: Final = frozenset({"past_companies", "emails", "phones"})


def _trusted(value_type: type[_V], fields: tuple[str, ...], row: Any) -> _V:
    """A person or company as stored, without checking its fields again: they were checked by the value that was
    stored (the store writes only checked values), and a run reads every person of the organization, where checking
    each text again cost as much as the rest of the run. JSON lists come back as tuples, as the value holds them."""
    value = object.__new__(value_type)
    for name in fields:
        held = row[name]
        object.__setattr__(value, name, tuple(held) if name in _LISTS else held)
    return value


def _person_value(row: Any) -> Person:
    return _trusted(Person, _PERSON_FIELDS, row)


def _company_value(row: Any) -> Company:
    return _trusted(Company, _COMPANY_FIELDS, row)


def delete_matches(session: Any, organization_id: uuid.UUID) -> int:
    """Delete every link, rejection, key and the matching state of the organization (a disconnect's purge: they
    all describe imported CRM records; people and companies stay); how many links went."""
    links = 0
    for row_type in (MatchLinkRow, MatchRejectionRow, MatchKeyRow, MatchStateRow):
        statement = delete(row_type).where(row_type.organization_id == organization_id)
        result = session.execute(statement.execution_options(synchronize_session=False))
        if row_type is MatchLinkRow:
            links = int(getattr(result, "rowcount", 0) or 0)
    return links


class MatchRepository(_ScopedRepository):
    """The organization's matching data (:class:`salesbridge.services.ports.MatchRepository`)."""

    # -------------------------------------------------------------------------------------------- helpers

    def _links_where(self, *conditions: ColumnElement[bool]) -> list[MatchLink]:
        statement = (
            select(MatchLinkRow)
            .where(MatchLinkRow.organization_id == self._organization_id, *conditions)
            .order_by(MatchLinkRow.crm_table, MatchLinkRow.crm_id)
        )
        return [_link_value(row) for row in self._session.scalars(statement)]

    def _delete(self, statement: Any) -> int:
        result = self._session.execute(statement.execution_options(synchronize_session=False))
        return int(getattr(result, "rowcount", 0) or 0)

    def _record_exists(self, crm_table: str, crm_id: Any) -> Any:
        return exists().where(
            CrmRecord.organization_id == self._organization_id,
            CrmRecord.table_name == crm_table,
            CrmRecord.crm_id == crm_id,
        )

    # ---------------------------------------------------------------------------------------------- links

    def get(self, crm_table: str, crm_id: str) -> MatchLink | None:
        """The link of one CRM record, or None."""
        row = self._session.get(MatchLinkRow, (self._organization_id, crm_table, crm_id))
        return _link_value(row) if row is not None else None

    def links(self, crm_table: str, crm_ids: Iterable[str]) -> dict[str, MatchLink]:
        """The links of these CRM records, by CRM id."""
        found: dict[str, MatchLink] = {}
        for chunk in _chunks(crm_ids):
            for link in self._links_where(MatchLinkRow.crm_table == crm_table, MatchLinkRow.crm_id.in_(chunk)):
                found[link.crm_id] = link
        return found

    def links_to(self, target_ids: Iterable[uuid.UUID]) -> list[MatchLink]:
        """Every link whose target is one of ``target_ids``, by table then CRM id."""
        found: list[MatchLink] = []
        for chunk in _chunks(target_ids):
            found.extend(self._links_where(MatchLinkRow.target_id.in_(chunk)))
        return sorted(found, key=lambda link: (link.crm_table, link.crm_id))

    def corrections(self) -> list[MatchLink]:
        """Every link a person decided."""
        return self._links_where(MatchLinkRow.origin == LinkOrigin.CORRECTION.value)

    def review(self, crm_tables: Sequence[str], *, limit: int = 50, offset: int = 0) -> list[MatchLink]:
        """Links in review, most probable first, then by table and CRM id."""
        statement = (
            select(MatchLinkRow)
            .where(
                MatchLinkRow.organization_id == self._organization_id,
                MatchLinkRow.crm_table.in_(list(crm_tables)),
                MatchLinkRow.band == LinkBand.REVIEW.value,
            )
            .order_by(MatchLinkRow.probability.desc(), MatchLinkRow.crm_table, MatchLinkRow.crm_id)
            .limit(limit)
            .offset(offset)
        )
        return [_link_value(row) for row in self._session.scalars(statement)]

    def count_review(self, crm_tables: Sequence[str]) -> int:
        """How many links are in review in ``crm_tables``."""
        statement = (
            select(func.count())
            .select_from(MatchLinkRow)
            .where(
                MatchLinkRow.organization_id == self._organization_id,
                MatchLinkRow.crm_table.in_(list(crm_tables)),
                MatchLinkRow.band == LinkBand.REVIEW.value,
            )
        )
        return int(self._session.scalar(statement) or 0)

    def counts(self, crm_table: str) -> LinkCounts:
        """The imported records of ``crm_table``, and how many are tied or in review."""
        total = self._session.scalar(
            select(func.count())
            .select_from(CrmRecord)
            .where(CrmRecord.organization_id == self._organization_id, CrmRecord.table_name == crm_table)
        )
        statement = (
            select(MatchLinkRow.band, func.count())
            .where(
                MatchLinkRow.organization_id == self._organization_id,
                MatchLinkRow.crm_table == crm_table,
                MatchLinkRow.target_id.is_not(None),
                self._record_exists(crm_table, MatchLinkRow.crm_id),
            )
            .group_by(MatchLinkRow.band)
        )
        bands = {band: int(count) for band, count in self._session.execute(statement).all()}
        return LinkCounts(
            total=int(total or 0),
            matched=bands.get(LinkBand.MATCH.value, 0),
            review=bands.get(LinkBand.REVIEW.value, 0),
        )

    def put(self, links: Iterable[MatchLink]) -> None:
        """Insert or replace links, by (table, CRM id)."""
        rows = [{**_link_columns(link), "organization_id": self._organization_id} for link in links]
        if not rows:
            return
        statement = conflict_insert(self._session, MatchLinkRow)
        replaced = {name: statement.excluded[name] for name in rows[0] if name not in ("crm_table", "crm_id")}
        upsert = statement.on_conflict_do_update(
            index_elements=["organization_id", "crm_table", "crm_id"], set_=replaced
        )
        for start in range(0, len(rows), _CHUNK):
            self._session.execute(upsert, rows[start : start + _CHUNK])

    def delete(self, crm_table: str, crm_ids: Iterable[str]) -> int:
        """Delete the links of these CRM records; how many went."""
        deleted = 0
        for chunk in _chunks(crm_ids):
            deleted += self._delete(
                delete(MatchLinkRow).where(
                    MatchLinkRow.organization_id == self._organization_id,
                    MatchLinkRow.crm_table == crm_table,
                    MatchLinkRow.crm_id.in_(chunk),
                )
            )
        return deleted

    def vanished_crm_ids(self, crm_table: str) -> list[str]:
        """CRM ids named by a link, a rejection or a key but no longer imported."""
        org = self._organization_id
        named = union(
            select(MatchLinkRow.crm_id.label("crm_id")).where(
                MatchLinkRow.organization_id == org,
                MatchLinkRow.crm_table == crm_table,
                ~self._record_exists(crm_table, MatchLinkRow.crm_id),
            ),
            select(MatchRejectionRow.crm_id.label("crm_id")).where(
                MatchRejectionRow.organization_id == org,
                MatchRejectionRow.crm_table == crm_table,
                ~self._record_exists(crm_table, MatchRejectionRow.crm_id),
            ),
            select(MatchKeyRow.ref.label("crm_id")).where(
                MatchKeyRow.organization_id == org,
                MatchKeyRow.side == crm_table,
                ~self._record_exists(crm_table, MatchKeyRow.ref),
            ),
        )
        ids: Iterable[Any] = self._session.scalars(select(named.subquery().c.crm_id))
        return sorted(str(crm_id) for crm_id in ids)

    def vanished_targets(self, kind: TargetKind) -> list[uuid.UUID]:
        """People (or companies) named by a link or a rejection but no longer in the workspace."""
        targets = _PEOPLE if kind is TargetKind.PERSON else _COMPANIES
        gone_link = ~exists().where(targets.c.id == MatchLinkRow.target_id)
        links = select(MatchLinkRow.target_id).where(
            MatchLinkRow.organization_id == self._organization_id,
            MatchLinkRow.target_kind == kind.value,
            MatchLinkRow.target_id.is_not(None),
            gone_link,
        )
        tables = ("contact", "lead") if kind is TargetKind.PERSON else ("account",)
        rejections = select(MatchRejectionRow.target_id).where(
            MatchRejectionRow.organization_id == self._organization_id,
            MatchRejectionRow.crm_table.in_(tables),
            ~exists().where(targets.c.id == MatchRejectionRow.target_id),
        )
        found = set(self._session.scalars(links)) | set(self._session.scalars(rejections))
        return sorted((target for target in found if target is not None), key=str)

    def forget_crm_records(self, crm_table: str, crm_ids: Iterable[str]) -> int:
        """Delete the links, rejections and keys of these CRM records; how many links went."""
        ids = list(crm_ids)
        org = self._organization_id
        for chunk in _chunks(ids):
            self._delete(
                delete(MatchRejectionRow).where(
                    MatchRejectionRow.organization_id == org,
                    MatchRejectionRow.crm_table == crm_table,
                    MatchRejectionRow.crm_id.in_(chunk),
                )
            )
            self._delete(
                delete(MatchKeyRow).where(
                    MatchKeyRow.organization_id == org, MatchKeyRow.side == crm_table, MatchKeyRow.ref.in_(chunk)
                )
            )
        return self.delete(crm_table, ids)

    def forget_targets(self, kind: TargetKind, target_ids: Iterable[uuid.UUID]) -> int:
        """Delete the links to these people (or companies), their rejections and keys; how many links went."""
        org = self._organization_id
        deleted = 0
        side = KeySide.PERSON if kind is TargetKind.PERSON else KeySide.COMPANY
        for chunk in _chunks(target_ids):
            deleted += self._delete(
                delete(MatchLinkRow).where(
                    MatchLinkRow.organization_id == org,
                    MatchLinkRow.target_kind == kind.value,
                    MatchLinkRow.target_id.in_(chunk),
                )
            )
            self._delete(
                delete(MatchRejectionRow).where(
                    MatchRejectionRow.organization_id == org, MatchRejectionRow.target_id.in_(chunk)
                )
            )
            self._delete(
                delete(MatchKeyRow).where(
                    MatchKeyRow.organization_id == org,
                    MatchKeyRow.side == side.value,
                    MatchKeyRow.ref.in_([str(target) for target in chunk]),
                )
            )
        return deleted

    def delete_scorer_links(self, crm_tables: Sequence[str]) -> int:
        """Delete the scorer's links of ``crm_tables``; corrections stay."""
        return self._delete(
            delete(MatchLinkRow).where(
                MatchLinkRow.organization_id == self._organization_id,
                MatchLinkRow.crm_table.in_(list(crm_tables)),
                MatchLinkRow.origin == LinkOrigin.SCORER.value,
            )
        )

    # ----------------------------------------------------------------------------------------- rejections

    def reject(self, rejection: MatchRejection) -> None:
        """Remember a rejected pair. Idempotent."""
        statement = conflict_insert(self._session, MatchRejectionRow).values(
            organization_id=self._organization_id,
            crm_table=rejection.crm_table,
            crm_id=rejection.crm_id,
            target_id=rejection.target_id,
            decided_by=rejection.decided_by,
            decided_at=rejection.decided_at,
        )
        self._session.execute(statement.on_conflict_do_nothing())

    def rejections(self, crm_table: str, crm_ids: Iterable[str]) -> dict[str, set[uuid.UUID]]:
        """The rejected targets of these CRM records, by CRM id."""
        found: dict[str, set[uuid.UUID]] = {}
        for chunk in _chunks(crm_ids):
            statement = select(MatchRejectionRow.crm_id, MatchRejectionRow.target_id).where(
                MatchRejectionRow.organization_id == self._organization_id,
                MatchRejectionRow.crm_table == crm_table,
                MatchRejectionRow.crm_id.in_(chunk),
            )
            for crm_id, target_id in self._session.execute(statement).all():
                found.setdefault(crm_id, set()).add(target_id)
        return found

    def all_rejections(self) -> list[MatchRejection]:
        """Every rejected pair, by table, CRM id and target."""
        statement = (
            select(MatchRejectionRow)
            .where(MatchRejectionRow.organization_id == self._organization_id)
            .order_by(MatchRejectionRow.crm_table, MatchRejectionRow.crm_id, MatchRejectionRow.target_id)
        )
        return [
            MatchRejection(
                crm_table=row.crm_table,
                crm_id=row.crm_id,
                target_id=row.target_id,
                decided_by=row.decided_by,
                decided_at=row.decided_at,
            )
            for row in self._session.scalars(statement)
        ]

    # ----------------------------------------------------------------------------------------------- keys

    def keys_of(self, side: KeySide, refs: Iterable[str]) -> dict[str, set[str]]:
        """The stored keys of these records of ``side``, by ref."""
        found: dict[str, set[str]] = {}
        for chunk in _chunks(refs):
            statement = select(MatchKeyRow.ref, MatchKeyRow.key).where(
                MatchKeyRow.organization_id == self._organization_id,
                MatchKeyRow.side == side.value,
                MatchKeyRow.ref.in_(chunk),
            )
            for ref, key in self._session.execute(statement).all():
                found.setdefault(ref, set()).add(key)
        return found

    def fingerprints(self, side: KeySide, refs: Iterable[str], *, prefix: str) -> dict[str, str]:
        """The stored key starting with ``prefix`` of each of these records, by ref: a few refs through the
        (organization, side, ref) index, many in one pass over the side's prefixed keys (a range of the primary
        key), filtered here."""
        wanted = list(dict.fromkeys(refs))
        upper = prefix[:-1] + chr(ord(prefix[-1]) + 1)
        org, side_value = self._organization_id, side.value
        if len(wanted) > _CHUNK * 4:
            statement = select(MatchKeyRow.ref, MatchKeyRow.key).where(
                MatchKeyRow.organization_id == org,
                MatchKeyRow.side == side_value,
                MatchKeyRow.key >= prefix,
                MatchKeyRow.key < upper,
            )
            held = set(wanted)
            return {ref: key for ref, key in self._session.execute(statement).all() if ref in held}
        found: dict[str, str] = {}
        for chunk in _chunks(wanted):
            # coalesce(): the key's range must not steer SQLite (no statistics) to the primary key's range, which
            # would read every fingerprint of the side for each chunk, instead of looking each ref up.
            key = func.coalesce(MatchKeyRow.key, "")
            statement = select(MatchKeyRow.ref, MatchKeyRow.key).where(
                MatchKeyRow.organization_id == org,
                MatchKeyRow.side == side_value,
                MatchKeyRow.ref.in_(chunk),
                key >= prefix,
                key < upper,
            )
            found.update((ref, key) for ref, key in self._session.execute(statement).all())
        return found

    def replace_keys(self, side: KeySide, keys: Mapping[str, Collection[str]]) -> None:
        """Make each ref's stored keys exactly the given ones."""
        for chunk in _chunks(keys):
            self._delete(
                delete(MatchKeyRow).where(
                    MatchKeyRow.organization_id == self._organization_id,
                    MatchKeyRow.side == side.value,
                    MatchKeyRow.ref.in_(chunk),
                )
            )
        rows = [
            {"organization_id": self._organization_id, "side": side.value, "key": key, "ref": ref}
            for ref, held in keys.items()
            for key in set(held)
        ]
        insert = conflict_insert(self._session, MatchKeyRow)
        for start in range(0, len(rows), _CHUNK * 4):
            self._session.execute(insert, rows[start : start + _CHUNK * 4])

    def refs_by_key(self, sides: Collection[KeySide], keys: Collection[str]) -> dict[str, set[tuple[KeySide, str]]]:
        """The records of ``sides`` holding each of ``keys``, as (side, ref), by key."""
        found: dict[str, set[tuple[KeySide, str]]] = {}
        for chunk in _chunks(keys):
            statement = select(MatchKeyRow.key, MatchKeyRow.side, MatchKeyRow.ref).where(
                MatchKeyRow.organization_id == self._organization_id,
                MatchKeyRow.side.in_([side.value for side in sides]),
                MatchKeyRow.key.in_(chunk),
            )
            for key, side, ref in self._session.execute(statement).all():
                found.setdefault(key, set()).add((KeySide(side), ref))
        return found

    def clear_keys(self, sides: Collection[KeySide]) -> None:
        """Delete every key of ``sides``."""
        self._delete(
            delete(MatchKeyRow).where(
                MatchKeyRow.organization_id == self._organization_id,
                MatchKeyRow.side.in_([side.value for side in sides]),
            )
        )

    # ---------------------------------------------------------------------------------------------- state

    def state(self) -> MatchState:
        """The organization's matching state (empty when no run ever ran)."""
        row = self._session.get(MatchStateRow, self._organization_id, populate_existing=True)
        return self._state_value(row)

    def lock_state(self) -> MatchState:
        """The state, its row created if need be and locked (``FOR UPDATE``) until the transaction ends."""
        insert = conflict_insert(self._session, MatchStateRow).values(organization_id=self._organization_id)
        self._session.execute(insert.on_conflict_do_nothing())
        statement = (
            select(MatchStateRow)
            .where(MatchStateRow.organization_id == self._organization_id)
            .with_for_update()
            .execution_options(populate_existing=True)
        )
        return self._state_value(self._session.scalars(statement).one())

    def save_state(self, state: MatchState) -> None:
        """Store the state."""
        values: dict[str, Any] = {name: getattr(state, name) for name in _STATE_FIELDS}
        for name in ("people_model", "companies_model", "last_summary"):
            values[name] = dict(values[name]) if values[name] is not None else None
        statement = conflict_insert(self._session, MatchStateRow).values(
            organization_id=self._organization_id, **values
        )
        self._session.execute(statement.on_conflict_do_update(index_elements=["organization_id"], set_=values))

    @staticmethod
    def _state_value(row: MatchStateRow | None) -> MatchState:
        if row is None:
            return MatchState()
        return MatchState(**{name: getattr(row, name) for name in _STATE_FIELDS})

    # --------------------------------------------------------------------------------- the records matched

    def _records(self, *conditions: ColumnElement[bool]) -> Iterator[ImportedRecord]:
        statement = (
            select(CrmRecord)
            .where(CrmRecord.organization_id == self._organization_id, *conditions)
            .order_by(CrmRecord.crm_id)
            .execution_options(yield_per=_STREAM)
        )
        for row in self._session.scalars(statement):
            yield record_value(row)

    def crm_records(self, crm_table: str, *, since: datetime | None = None) -> Iterator[ImportedRecord]:
        """The imported records of ``crm_table`` written after ``since``, by CRM id, streamed."""
        conditions = [CrmRecord.table_name == crm_table]
        if since is not None:
            conditions.append(CrmRecord.imported_at > since)
        return self._records(*conditions)

    def crm_records_by_ids(self, crm_table: str, crm_ids: Iterable[str]) -> list[ImportedRecord]:
        """The imported records of ``crm_table`` with these ids."""
        found: list[ImportedRecord] = []
        for chunk in _chunks(crm_ids):
            found.extend(self._records(CrmRecord.table_name == crm_table, CrmRecord.crm_id.in_(chunk)))
        return found

    def crm_records_by_parents(self, crm_table: str, parent_ids: Iterable[str]) -> list[ImportedRecord]:
        """The imported records of ``crm_table`` whose parent is one of ``parent_ids``."""
        found: list[ImportedRecord] = []
        for chunk in _chunks(parent_id.lower() for parent_id in parent_ids):
            found.extend(self._records(CrmRecord.table_name == crm_table, CrmRecord.parent_id.in_(chunk)))
        return found

    def unmatched_crm_records(self, crm_table: str) -> Iterator[ImportedRecord]:
        """The imported records of ``crm_table`` not tied to a target, by CRM id, streamed."""
        tied = exists().where(
            MatchLinkRow.organization_id == self._organization_id,
            MatchLinkRow.crm_table == crm_table,
            MatchLinkRow.crm_id == CrmRecord.crm_id,
            MatchLinkRow.band == LinkBand.MATCH.value,
            MatchLinkRow.target_id.is_not(None),
        )
        return self._records(CrmRecord.table_name == crm_table, ~tied)

    def _profiles(self, table: Table, *conditions: ColumnElement[bool]) -> Iterator[Any]:
        statement = (
            select(table)
            .where(table.c.organization_id == self._organization_id, *conditions)
            .order_by(table.c.id)
            .execution_options(yield_per=_STREAM)
        )
        yield from self._session.execute(statement).mappings()

    def _profiles_by_ids(self, table: Table, ids: Iterable[uuid.UUID]) -> Iterator[Any]:
        for chunk in _chunks(ids):
            # coalesce(): still scoped to the organization, but not through its index, which SQLite (no statistics)
            # would otherwise scan instead of looking each id up by the primary key.
            statement = select(table).where(
                table.c.id.in_(chunk), func.coalesce(table.c.organization_id, None) == self._organization_id
            )
            yield from self._session.execute(statement).mappings()

    def people(self, *, since: datetime | None = None) -> Iterator[Person]:
        """The people changed after ``since`` (all when None), streamed."""
        conditions = [] if since is None else [_PEOPLE.c.updated_at > since]
        return (_person_value(row) for row in self._profiles(_PEOPLE, *conditions))

    def people_by_ids(self, person_ids: Iterable[uuid.UUID]) -> list[Person]:
        """The people with these ids."""
        return [_person_value(row) for row in self._profiles_by_ids(_PEOPLE, person_ids)]

    def companies(self, *, since: datetime | None = None) -> Iterator[Company]:
        """The companies changed after ``since`` (all when None), streamed."""
        conditions = [] if since is None else [_COMPANIES.c.updated_at > since]
        return (_company_value(row) for row in self._profiles(_COMPANIES, *conditions))

    def companies_by_ids(self, company_ids: Iterable[uuid.UUID]) -> list[Company]:
        """The companies with these ids."""
        return [_company_value(row) for row in self._profiles_by_ids(_COMPANIES, company_ids)]

    def _badge_conditions(self, table: Table, badge: Badge, query: str) -> list[ColumnElement[bool]]:
        tied = [
            MatchLinkRow.organization_id == self._organization_id,
            MatchLinkRow.target_id == table.c.id,
            MatchLinkRow.band == LinkBand.MATCH.value,
        ]
        if badge is Badge.OUT_OF_DATE:
            tied.append(cast(MatchLinkRow.stale_fields, String) != "[]")
        held = exists().where(and_(*tied))
        conditions = [table.c.organization_id == self._organization_id, ~held if badge is Badge.NOT_IN_CRM else held]
        conditions.extend(table.c.search_text.contains(word, autoescape=True) for word in search_words(query))
        return conditions

    def _with_badge(self, table: Table, badge: Badge, query: str, limit: int, offset: int) -> list[Any]:
        statement = (
            select(table)
            .where(*self._badge_conditions(table, badge, query))
            .order_by(table.c.sort_name, table.c.id)
            .limit(limit)
            .offset(offset)
        )
        return list(self._session.execute(statement).mappings())

    def _count_with_badge(self, table: Table, badge: Badge, query: str) -> int:
        statement = select(func.count()).select_from(table).where(*self._badge_conditions(table, badge, query))
        return int(self._session.scalar(statement) or 0)

    def people_with_badge(self, badge: Badge, query: str = "", *, limit: int = 50, offset: int = 0) -> list[Person]:
        """The people with ``badge`` matching ``query``, by name then id."""
        return [_person_value(row) for row in self._with_badge(_PEOPLE, badge, query, limit, offset)]

    def count_people_with_badge(self, badge: Badge, query: str = "") -> int:
        """How many people :meth:`people_with_badge` pages through."""
        return self._count_with_badge(_PEOPLE, badge, query)

    def companies_with_badge(self, badge: Badge, query: str = "", *, limit: int = 50, offset: int = 0) -> list[Company]:
        """The companies with ``badge`` matching ``query``, by name then id."""
        return [_company_value(row) for row in self._with_badge(_COMPANIES, badge, query, limit, offset)]

    def count_companies_with_badge(self, badge: Badge, query: str = "") -> int:
        """How many companies :meth:`companies_with_badge` pages through."""
        return self._count_with_badge(_COMPANIES, badge, query)
