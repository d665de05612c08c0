"""Random CRM changes and the auto-saved lists: after each simulated import, the lists the incremental recompute
(:func:`salesbridge.services.lists.recompute_changed_in`, given the import's changes) leaves must be exactly the
lists the full recompute makes from every row. Shared by the fast tests on the in-memory store and the tests on
SQLite and PostgreSQL, which run the same scenario on any store with the services' unit of work.

An import here writes through the import engine's ports and reports its changes as the engine does
(:meth:`stored_states` before writing, :func:`salesbridge.domain.sync_runs.record_changes`). Between imports,
what changes without an import changes too: a seat's CRM sync switch, a user's rules, the pipeline threshold, a
CRM user disabled (its seat no longer matches).
"""

from __future__ import annotations

import random
import uuid
from collections.abc import Callable, Mapping
from typing import Any

from salesbridge.domain.crm_import import field_reader, import_specs
from salesbridge.domain.lists import ListKind
from salesbridge.domain.pipeline import StageSource
from salesbridge.domain.sync_runs import ImportChanges, RecordChange, RecordRow, record_changes
from salesbridge.domain.workspace import CrmUserValues, SeatState
from salesbridge.services.crm_users import rematch_seats
from salesbridge.services.lists import ListRecompute, recompute_changed_in, recompute_in
from salesbridge.services.ports import UnitOfWork

CRM_USERS = tuple(f"5e000000-0000-0000-0000-00000000000{n}" for n in range(1, 6))
"""The CRM users; the first four have seats (the fifth owns records nobody syncs)."""

ListsSnapshot = dict[tuple[uuid.UUID, ListKind], frozenset[tuple[str, str, str | None]]]
Opener = Callable[[uuid.UUID], Any]


def ref(table: str, crm_id: str) -> dict[str, str]:
    return {"id": crm_id, "table": table}


class AutoSaveScenario:
    """One organization's CRM records, seats and rules, changed at random by ``rng``."""

    def __init__(self, store: Opener, organization_id: uuid.UUID, rng: random.Random) -> None:
        self.store = store
        self.org = organization_id
        self.rng = rng
        self.records: dict[tuple[str, str], dict[str, Any]] = {}
        self.seats: list[uuid.UUID] = []
        self.users: list[uuid.UUID] = []

    # ------------------------------------------------------------------------------------------ the setting

    def set_up(self) -> None:
        """Four seated sellers matched to CRM users, sync on for all seats, random rules and threshold, and
        random records; then the full recompute (what the first import does)."""
        rng = self.rng
        with self.store(self.org) as uow:
            self._crm_users(uow, disabled=())
            for number in range(4):
                user = uow.users.add(email=f"seller{number}@acme.test", display_name=f"Seller {number}")
                seat = uow.seats.add(user_id=user.id, state=SeatState.ACTIVE, assigned_by="test")
                self.users.append(user.id)
                self.seats.append(seat.id)
            rematch_seats(uow)
            uow.organization.set_crm_sync_all_seats(True)
            self._threshold(uow, rng.choice((None, "1", "2")))
            for user_id in self.users:
                self._rules(uow, user_id)
            for number in range(12):
                self._put(uow, "account", f"a{number:02d}", self._account())
            for number in range(24):
                self._put(uow, "contact", f"c{number:02d}", self._person("contact"))
            for number in range(8):
                self._put(uow, "lead", f"l{number:02d}", self._person("lead"))
            for number in range(16):
                self._put(uow, "opportunity", f"o{number:02d}", self._opportunity())
            for number in range(14):
                self._put(uow, "connection", f"n{number:02d}", self._connection())
            recompute_in(uow)
            uow.commit()

    def _crm_users(self, uow: UnitOfWork, *, disabled: tuple[str, ...]) -> None:
        uow.crm_users.replace_all(
            CrmUserValues(
                crm_id=crm_id,
                full_name=f"Seller {number}",
                email=f"seller{number}@acme.test",
                entra_object_id=None,
                is_disabled=crm_id in disabled,
                is_application=False,
                access_mode=0,
            )
            for number, crm_id in enumerate(CRM_USERS)
        )

    def _threshold(self, uow: UnitOfWork, threshold: str | None, *, auto_save: bool = True) -> None:
        uow.crm_settings.save(
            stage_source=StageSource.SALES_STAGE,
            stage_threshold=threshold,
            won_value_column="actualvalue",
            won_value_base_currency=False,
            auto_save_enabled=auto_save,
            sync_interval_minutes=15,
        )

    def _rules(self, uow: UnitOfWork, user_id: uuid.UUID) -> None:
        rng = self.rng
        uow.auto_save_rules.save(
            user_id,
            accounts_of_open_opportunities=rng.random() < 0.8,
            accounts_owned=rng.random() < 0.5,
            leads_of_open_opportunities=rng.random() < 0.8,
            leads_of_owned_accounts=rng.random() < 0.5,
        )

    # ------------------------------------------------------------------------------------------ the records

    def _state(self) -> int:
        return 0 if self.rng.random() < 0.8 else 1

    def _owner(self) -> dict[str, str]:
        return ref("systemuser", self.rng.choice(CRM_USERS))

    def _account(self) -> dict[str, Any]:
        return {"name": "Account", "statecode": self._state(), "ownerid": self._owner()}

    def _account_id(self) -> str:
        return f"a{self.rng.randrange(14):02d}"  # a12 and a13 are named but never imported

    def _person(self, table: str) -> dict[str, Any]:
        parent = "parentcustomerid" if table == "contact" else "parentaccountid"
        data: dict[str, Any] = {"fullname": "Person", "statecode": self._state(), "jobtitle": "Buyer"}
        if self.rng.random() < 0.9:
            data[parent] = ref("account", self._account_id())
        return data

    def _opportunity(self) -> dict[str, Any]:
        rng = self.rng
        data: dict[str, Any] = {
            "name": "Deal",
            "statecode": self._state(),
            "ownerid": self._owner(),
            "salesstage": rng.randrange(4),
        }
        account = self._account_id()
        shape = rng.random()
        if shape < 0.6:
            data["parentaccountid"] = ref("account", account)
        elif shape < 0.8:
            data["customerid"] = ref("account", account)
        else:
            data["customerid"] = ref("contact", f"c{rng.randrange(30):02d}")
        if rng.random() < 0.6:
            data["parentcontactid"] = ref("contact", f"c{rng.randrange(30):02d}")  # c24-c29 appear later
        if rng.random() < 0.4:
            data["originatingleadid"] = ref("lead", f"l{rng.randrange(10):02d}")
        return data

    def _connection(self) -> dict[str, Any]:
        rng = self.rng
        return {
            "statecode": self._state(),
            "record1id": ref("opportunity", f"o{rng.randrange(18):02d}"),
            "record2id": ref("contact", f"c{rng.randrange(30):02d}"),
        }

    def _put(self, uow: UnitOfWork, table: str, crm_id: str, data: dict[str, Any]) -> None:
        self.records[(table, crm_id)] = data
        uow.crm_records.upsert_many(table, [_row(table, crm_id, data)], generation=1)

    # -------------------------------------------------------------------------------------------- changing

    def _ids(self, table: str) -> list[str]:
        return sorted(crm_id for record_table, crm_id in self.records if record_table == table)

    def _mutations(self) -> tuple[dict[tuple[str, str], dict[str, Any]], set[tuple[str, str]]]:
        """A random batch of changes: records to write (whole) and records to delete."""
        rng = self.rng
        written: dict[tuple[str, str], dict[str, Any]] = {}
        deleted: set[tuple[str, str]] = set()

        def current(table: str, crm_id: str) -> dict[str, Any]:
            return dict(written.get((table, crm_id)) or self.records[(table, crm_id)])

        for _ in range(rng.randrange(1, 6)):
            kind = rng.randrange(13)
            opportunities, accounts = self._ids("opportunity"), self._ids("account")
            people = [("contact", i) for i in self._ids("contact")] + [("lead", i) for i in self._ids("lead")]
            if kind <= 2 and opportunities:  # an opportunity moved to another owner, stage or state
                crm_id = rng.choice(opportunities)
                data = current("opportunity", crm_id)
                field = ("ownerid", "salesstage", "statecode")[kind]
                data[field] = (self._owner(), rng.randrange(4), self._state())[kind]
                written[("opportunity", crm_id)] = data
            elif kind <= 4 and accounts:  # an account given to another owner, or (de)activated
                crm_id = rng.choice(accounts)
                data = current("account", crm_id)
                data["ownerid" if kind == 3 else "statecode"] = self._owner() if kind == 3 else self._state()
                written[("account", crm_id)] = data
            elif kind <= 6 and people:  # a person (de)activated, or moved to another account
                table, crm_id = rng.choice(people)
                data = current(table, crm_id)
                if kind == 5:
                    data["statecode"] = self._state()
                else:
                    data["parentcustomerid" if table == "contact" else "parentaccountid"] = ref(
                        "account", self._account_id()
                    )
                written[(table, crm_id)] = data
            elif kind == 7:  # a record deleted
                table = rng.choice(("opportunity", "contact", "lead", "connection", "account"))
                if self._ids(table):
                    deleted.add((table, rng.choice(self._ids(table))))
            elif kind == 8 and accounts:  # an account deleted with its contacts and leads
                crm_id = rng.choice(accounts)
                deleted.add(("account", crm_id))
                for table, person in people:
                    parent = "parentcustomerid" if table == "contact" else "parentaccountid"
                    if (self.records[(table, person)].get(parent) or {}).get("id") == crm_id:
                        deleted.add((table, person))
            elif kind == 9:  # a new contact or lead (perhaps one an opportunity already names)
                table = rng.choice(("contact", "lead"))
                crm_id = f"{table[0]}{rng.randrange(30 if table == 'contact' else 10):02d}"
                written[(table, crm_id)] = self._person(table)
            elif kind == 10:  # a connection made or changed
                written[("connection", f"n{rng.randrange(16):02d}")] = self._connection()
            elif kind == 11:  # a new opportunity
                written[("opportunity", f"o{rng.randrange(18):02d}")] = self._opportunity()
            elif people:  # a job title: changes nothing auto-save reads
                table, crm_id = rng.choice(people)
                data = current(table, crm_id)
                data["jobtitle"] = f"Title {rng.randrange(100)}"
                written[(table, crm_id)] = data
        return {key: data for key, data in written.items() if key not in deleted}, deleted

    def import_changes(self, uow: UnitOfWork) -> ImportChanges:
        """Apply a random batch of CRM changes as an import writes them (table by table, in the import's order);
        what it changed, as the import engine reports it."""
        written, deleted = self._mutations()
        tables: dict[str, tuple[RecordChange, ...]] = {}
        for table in ("account", "contact", "lead", "opportunity", "connection"):
            rows = [_row(table, crm_id, data) for (t, crm_id), data in sorted(written.items()) if t == table]
            gone = sorted(crm_id for t, crm_id in deleted if t == table)
            if not rows and not gone:
                continue
            before = uow.crm_records.stored_states(table, [*(row.crm_id for row in rows), *gone])
            changes = record_changes(before, rows, gone)
            uow.crm_records.upsert_many(table, rows, generation=1)
            uow.crm_records.delete_ids(table, gone)
            if changes:
                tables[table] = tuple(changes)
        for key, data in written.items():
            self.records[key] = data
        for key in deleted:
            self.records.pop(key, None)
        return ImportChanges(everything=False, tables=tables)

    def between_imports(self, uow: UnitOfWork) -> None:
        """What may change without an import: a seat's sync switch, a user's rules, the pipeline threshold,
        auto-save turned off or on again, a CRM user disabled or enabled again (seats matched again)."""
        rng = self.rng
        kind = rng.randrange(8)
        if kind == 0:
            uow.organization.set_crm_sync_all_seats(False)
            for seat in self.seats:
                uow.seats.set_crm_sync(seat, rng.random() < 0.6)
        elif kind == 1:
            uow.organization.set_crm_sync_all_seats(True)
        elif kind == 2:
            self._rules(uow, rng.choice(self.users))
        elif kind == 3:
            self._threshold(uow, rng.choice((None, "1", "2", "3")))
        elif kind == 4:
            self._crm_users(uow, disabled=tuple(rng.sample(CRM_USERS[:4], rng.randrange(2))))
            rematch_seats(uow)
        elif kind == 5:
            threshold = uow.crm_settings.get().stage_threshold
            self._threshold(uow, threshold, auto_save=not uow.crm_settings.get().auto_save_enabled)

    # ------------------------------------------------------------------------------------------- checking


def lists_of(uow: UnitOfWork) -> ListsSnapshot:
    """Every system list's items, with their reasons."""
    return {
        (saved.owner_user_id, saved.kind): frozenset(
            (item.crm_table, item.crm_id, item.reason) for item in uow.lists.items(saved.id)
        )
        for saved in uow.lists.system_lists()
    }


def check_incremental_equals_full(scenario: AutoSaveScenario, imports: int) -> tuple[int, int]:
    """Run ``imports`` random imports; after each, the incremental recompute's lists must be the full
    recompute's. Returns how many imports changed some list, and how many changed none (both kinds must occur for
    the run to mean something)."""
    changed = unchanged = 0
    for _ in range(imports):
        with scenario.store(scenario.org) as uow:
            if scenario.rng.random() < 0.3:
                scenario.between_imports(uow)
            changes = scenario.import_changes(uow)
            before = lists_of(uow)
            recompute_changed_in(uow, changes)
            uow.commit()
        with scenario.store(scenario.org) as uow:
            after = lists_of(uow)
            full: ListRecompute = recompute_in(uow)
            assert (full.added, full.removed) == (0, 0), f"the full recompute still changed {full} after {changes}"
            assert lists_of(uow) == after
        if _non_empty(after) != _non_empty(before):
            changed += 1
        else:
            unchanged += 1
    return changed, unchanged


def _non_empty(snapshot: Mapping[tuple[uuid.UUID, ListKind], frozenset[Any]]) -> dict[Any, frozenset[Any]]:
    return {key: items for key, items in snapshot.items() if items}


def _row(table: str, crm_id: str, data: dict[str, Any]) -> RecordRow:
    return RecordRow(crm_id, *field_reader(import_specs()[table])(data), data)
