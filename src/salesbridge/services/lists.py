"""Saved lists: the two system lists auto-save keeps for each seller, hand-made lists, and each seller's rules.

Auto-save (rules in :mod:`salesbridge.domain.pipeline`) runs for every seat holder whose CRM sync is on (the
organization's "Sync CRM for all seats automatically", or the seat's own switch) and whose seat matches a CRM
user: their "My CRM accounts" and "My CRM leads and contacts" lists are made to hold exactly what the rules choose.
Users without sync or without a match get empty system lists. Hand-made lists are never touched. While the
organization's auto-save is off, nothing is recomputed (lists keep what they hold).

After an import, the lists follow what it changed (:func:`recompute_changed_in`): only the sellers its changes
touch, and for them only the records those changes can move in or out; sellers whose seat, sync switch or rules
changed since their lists were computed (the stored :class:`~salesbridge.domain.lists.AutoSaveBasis`) are computed
whole; a full read, a pipeline change or auto-save turned back on computes everything (:func:`recompute_in`).

A list shows the workspace's people and companies tied to its CRM records (matching's links, read when the list is
shown): a CRM record not matched yet is counted on the list, and appears as its person or company once matched.

The use cases see the store through :mod:`salesbridge.services.ports` and return values whose user-facing texts are
message ids (a system list's name, why auto-save saved a record): the console and the CLI translate them.
"""

from __future__ import annotations

import base64
import hashlib
import json
import uuid
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Final

from salesbridge.domain.lists import (
    SYSTEM_LIST_NAMES,
    AutoSaveBasis,
    ListItem,
    ListItemKey,
    ListKind,
    ListTableQuery,
    ListTarget,
    SavedList,
)
from salesbridge.domain.match_links import TARGET_KINDS, TargetKind
from salesbridge.domain.pipeline import (
    AutoSaveChoices,
    PipelineRule,
    RecordFacts,
    SaveReason,
    account_reason,
    auto_saved_items,
    lookup,
    opportunity_accounts,
    opportunity_people,
    person_reason,
    pipeline_opportunities,
    stakeholder,
)
from salesbridge.domain.sync_runs import ImportChanges, RecordChange, RecordState
from salesbridge.domain.text_rules import MAX_LIST_NAME_LENGTH, checked_list_name, has_refused_characters
from salesbridge.domain.workspace import User
from salesbridge.errors import InvalidRequestError, RowNotFoundError
from salesbridge.message_ids import N_
from salesbridge.services.organizations import require_organization
from salesbridge.services.ports import StoreAccess, UnitOfWork, UnitOfWorkOpener

MAX_LIST_NAME = MAX_LIST_NAME_LENGTH

# The names of the system lists (domain.lists.SYSTEM_LIST_NAMES), marked here so that `make messages` extracts them.
_SYSTEM_LIST_NAMES: Final = (N_("My CRM accounts"), N_("My CRM leads and contacts"))

_REASON_LABELS = {
    "accounts_of_open_opportunities": N_("Account of an open opportunity of yours"),
    "accounts_owned": N_("Account you own"),
    "leads_of_open_opportunities": N_("On an open opportunity of yours"),
    "leads_of_owned_accounts": N_("At an account you own"),
}


@dataclass(frozen=True)
class ListRecompute:
    """What a recompute changed, over every system list of the organization."""

    added: int
    removed: int


@dataclass(frozen=True)
class ListItemView:
    """A record in a list, with its name from the imported CRM records (None when no longer imported)."""

    table: str
    crm_id: str
    name: str | None
    reason: str | None
    added_at: datetime

    @property
    def reason_label(self) -> str | None:
        """Why auto-save saved it (an English message id, to translate where shown); None for hand-added items."""
        return _REASON_LABELS.get(self.reason or "")


@dataclass(frozen=True)
class ListTargetView:
    """A workspace person or company a list holds: the one its CRM records (``crm_records``, ``(table, crm_id)``)
    are tied to by matching (empty in a preview: :func:`preview_lists` does not read them). ``detail`` is a person's
    title and company, or a company's place."""

    kind: TargetKind
    id: uuid.UUID
    name: str
    detail: str | None
    crm_records: tuple[tuple[str, str], ...] = ()


@dataclass(frozen=True)
class ListView:
    """A list and its items. A system list's ``name`` is an English message id (translate it where shown); a
    hand-made list's is the name its owner gave.

    The list holds the workspace's ``people`` and ``companies`` tied to its CRM records (a person holding both a
    contact and a lead of the list appears once, by name); ``unmatched`` counts its CRM records of the matched tables
    (accounts, contacts, leads) not tied to anyone yet: they join ``people`` or ``companies`` once matched.
    """

    id: uuid.UUID
    name: str
    kind: ListKind
    items: tuple[ListItemView, ...]
    people: tuple[ListTargetView, ...] = ()
    companies: tuple[ListTargetView, ...] = ()
    unmatched: int = 0
    size: int | None = None
    """How many records the list holds when ``items`` is only its start (:func:`preview_lists`); None: all of them
    are in ``items``."""

    @property
    def is_system(self) -> bool:
        """Kept by auto-save."""
        return self.kind is not ListKind.MANUAL

    @property
    def count(self) -> int:
        """How many records the list holds."""
        return len(self.items) if self.size is None else self.size


@dataclass(frozen=True)
class AutoSaveRulesView:
    """A user's auto-save rules."""

    accounts_of_open_opportunities: bool
    accounts_owned: bool
    leads_of_open_opportunities: bool
    leads_of_owned_accounts: bool

    def choices(self) -> AutoSaveChoices:
        """The rules as the domain takes them."""
        return AutoSaveChoices(**self.to_json())

    @classmethod
    def of(cls, choices: AutoSaveChoices) -> AutoSaveRulesView:
        """The view of the domain's rules."""
        return cls(
            accounts_of_open_opportunities=choices.accounts_of_open_opportunities,
            accounts_owned=choices.accounts_owned,
            leads_of_open_opportunities=choices.leads_of_open_opportunities,
            leads_of_owned_accounts=choices.leads_of_owned_accounts,
        )

    def to_json(self) -> dict[str, bool]:
        """A JSON-ready mapping."""
        return {
            "accounts_of_open_opportunities": self.accounts_of_open_opportunities,
            "accounts_owned": self.accounts_owned,
            "leads_of_open_opportunities": self.leads_of_open_opportunities,
            "leads_of_owned_accounts": self.leads_of_owned_accounts,
        }


def owners_records(
    uow: UnitOfWork, choices: Mapping[str, AutoSaveChoices], rule: PipelineRule
) -> dict[str, list[RecordFacts]]:
    """The imported records auto-save needs for each CRM user in ``choices`` (systemuserid → their rules): their
    opportunities, what their pipeline opportunities name, the connections of those opportunities, and (when an
    ownership rule is on) their accounts and the contacts and leads of those.

    Each table is read once for all the owners (the owner and parent columns have no index, so that imports
    stay fast), then the records are handed to their owners. Accounts, contacts and leads are read without their
    columns (auto-save needs only their owner, parent and state).
    """
    queries = uow.crm_record_queries
    owners = {owner.lower(): wanted for owner, wanted in choices.items()}
    opportunities = _by_owner(queries.by_owners("opportunity", owners))
    # A seller's own accounts matter only to the ownership rules; without them, the accounts their opportunities
    # name are read by id (fewer rows: a seller owns more accounts than they have open opportunities).
    owning = [owner for owner, wanted in owners.items() if wanted.accounts_owned or wanted.leads_of_owned_accounts]
    owned_accounts = _by_owner(queries.by_owners("account", owning, data=False)) if owning else {}
    records: dict[str, list[RecordFacts]] = {
        owner: [*opportunities.get(owner, ()), *owned_accounts.get(owner, ())] for owner in owners
    }
    in_pipeline = {owner: pipeline_opportunities(owner, rule, opportunities.get(owner, ())) for owner in owners}

    named: dict[str, set[str]] = {}
    for owner, wanted in owners.items():
        if wanted.accounts_of_open_opportunities:
            owned = {account.crm_id.lower() for account in owned_accounts.get(owner, ())}
            named[owner] = {a for o in in_pipeline[owner] for a in opportunity_accounts(o.data)} - owned
    _hand_out(records, named, _by_id(queries.by_ids("account", set().union(*named.values()), data=False)))

    people_owners = [owner for owner, wanted in owners.items() if wanted.leads_of_open_opportunities]
    pipeline_ids = {o.crm_id.lower() for owner in people_owners for o in in_pipeline[owner]}
    connections = _by_parent(queries.by_parents("connection", pipeline_ids))
    people: dict[str, set[tuple[str, str]]] = {}
    for owner in people_owners:
        theirs = [c for o in in_pipeline[owner] for c in connections.get(o.crm_id.lower(), ())]
        records[owner].extend(theirs)
        people[owner] = {person for o in in_pipeline[owner] for person in opportunity_people(o.data)}
        people[owner] |= {("contact", contact) for c in theirs if (contact := stakeholder(c))}
    for table in ("contact", "lead"):
        ids = {owner: {i for t, i in found if t == table} for owner, found in people.items()}
        _hand_out(records, ids, _by_id(queries.by_ids(table, set().union(*ids.values()), data=False)))

    accounts_of: dict[str, set[str]] = {
        owner: {a.crm_id.lower() for a in owned_accounts.get(owner, ()) if a.is_active}
        for owner, wanted in owners.items()
        if wanted.leads_of_owned_accounts
    }
    all_accounts = set().union(*accounts_of.values())
    for table in ("contact", "lead"):
        children = _by_parent(queries.by_parents(table, all_accounts, data=False)) if all_accounts else {}
        for owner, accounts in accounts_of.items():
            records[owner].extend(child for account in accounts for child in children.get(account, ()))
    return records


def _by_owner(records: Iterable[RecordFacts]) -> dict[str, list[RecordFacts]]:
    grouped: dict[str, list[RecordFacts]] = {}
    for record in records:
        grouped.setdefault((record.owner_id or "").lower(), []).append(record)
    return grouped


def _by_parent(records: Iterable[RecordFacts]) -> dict[str, list[RecordFacts]]:
    grouped: dict[str, list[RecordFacts]] = {}
    for record in records:
        grouped.setdefault((record.parent_id or "").lower(), []).append(record)
    return grouped


def _by_id(records: Iterable[RecordFacts]) -> dict[str, RecordFacts]:
    return {record.crm_id.lower(): record for record in records}


def _hand_out(
    records: dict[str, list[RecordFacts]], wanted: Mapping[str, set[str]], found: Mapping[str, RecordFacts]
) -> None:
    """Give each owner the found records among the ids it wants (ids compared in lower case)."""
    for owner, ids in wanted.items():
        records[owner].extend(record for i in ids if (record := found.get(i.lower())) is not None)


def _synced_owners(uow: UnitOfWork) -> dict[uuid.UUID, str]:
    """Seat holders whose CRM sync is on and whose seat matches a CRM user: user id → systemuserid."""
    organization = uow.organization.get()
    crm_users = {row.id: row.crm_id for row in uow.crm_users.list_all()}
    owners: dict[uuid.UUID, str] = {}
    for seat, user in uow.seats.list_with_users():
        active = organization.crm_sync_all_seats or seat.crm_sync_enabled
        crm_id = crm_users.get(seat.crm_user_id) if seat.crm_user_id else None
        if active and seat.match.is_matched and crm_id:
            owners[user.id] = crm_id
    return owners


def _either(first: AutoSaveChoices | None, second: AutoSaveChoices) -> AutoSaveChoices:
    """The rules of two seats matched to the same CRM user, together (what either needs is read)."""
    if first is None:
        return second
    return AutoSaveChoices(
        accounts_of_open_opportunities=first.accounts_of_open_opportunities or second.accounts_of_open_opportunities,
        accounts_owned=first.accounts_owned or second.accounts_owned,
        leads_of_open_opportunities=first.leads_of_open_opportunities or second.leads_of_open_opportunities,
        leads_of_owned_accounts=first.leads_of_owned_accounts or second.leads_of_owned_accounts,
    )


def recompute_in(uow: UnitOfWork) -> ListRecompute:
    """Recompute the organization's system lists inside ``uow``'s transaction (the caller commits), from every
    imported row. Does nothing while auto-save is off. See :func:`recompute_auto_saved_lists`."""
    return recompute_changed_in(uow, ImportChanges.all())


def recompute_changed_in(uow: UnitOfWork, changes: ImportChanges) -> ListRecompute:
    """Bring the organization's system lists up to date after an import that changed ``changes``, inside ``uow``'s
    transaction (the caller commits): the same lists :func:`recompute_in` makes, computing only what can differ.

    A seller whose seat's CRM user or rules differ from what their lists were last computed from (the stored
    :class:`AutoSaveBasis`; seats and their sync switches change between imports) has their lists computed whole;
    a seller the import's changes touch (:func:`touched_owners`) has only the records those changes can move
    decided again (:func:`_follow_changes`); lists of users no longer synced are emptied. Everything is computed
    when ``changes`` says everything changed, when the pipeline settings differ from the basis, or when there is no
    basis yet (or auto-save was off). Nothing changed and nothing moved: a few reads of small tables, no imported
    row read. Does nothing while auto-save is off.
    """
    settings = uow.crm_settings.get()
    if not settings.auto_save_enabled:
        # The lists keep what they hold and stop following the imports: when auto-save is on again, everything is
        # computed (no stored basis matches this one).
        if (uow.lists.auto_save_basis() or _AUTO_SAVE_OFF) != _AUTO_SAVE_OFF:
            uow.lists.save_auto_save_basis(_AUTO_SAVE_OFF)
        return ListRecompute(added=0, removed=0)
    rule = settings.pipeline_rule
    owners = _synced_owners(uow)
    stored_rules = uow.auto_save_rules.all_stored()
    choices = {user_id: stored_rules.get(user_id) or AutoSaveChoices() for user_id in owners}
    basis = AutoSaveBasis(
        settings=_fingerprint(rule.stage_source, rule.threshold or ""),
        owners={str(user_id): _owner_digest(owner_id, choices[user_id]) for user_id, owner_id in owners.items()},
    )
    previous = uow.lists.auto_save_basis()
    emptied: set[uuid.UUID] | None = None  # None: every system list of a user not in ``owners``
    added = removed = 0
    if changes.everything or previous is None or previous.settings != basis.settings:
        chosen = dict(owners)
    else:
        chosen = {
            user_id: owner_id
            for user_id, owner_id in owners.items()
            if previous.owners.get(str(user_id)) != basis.owners[str(user_id)]
        }
        touched = touched_owners(uow, changes) if not changes.is_empty else set()
        followed = {
            user_id: (owner_id, choices[user_id])
            for user_id, owner_id in owners.items()
            if owner_id.lower() in touched and user_id not in chosen
        }
        if followed:
            added, removed = _follow_changes(uow, changes, followed, rule)
        emptied = {uuid.UUID(user_id) for user_id in previous.owners} - owners.keys()
    merged: dict[str, AutoSaveChoices] = {}
    for user_id, owner_id in chosen.items():
        merged[owner_id.lower()] = _either(merged.get(owner_id.lower()), choices[user_id])
    records = owners_records(uow, merged, rule) if merged else {}
    for user_id, owner_id in chosen.items():
        selection = auto_saved_items(owner_id, choices[user_id], rule, records[owner_id.lower()])
        for kind, items in (
            (ListKind.CRM_ACCOUNTS, selection.accounts),
            (ListKind.CRM_LEADS, selection.leads_and_contacts),
        ):
            saved = uow.lists.system_list(user_id, kind)
            diff = uow.lists.replace_items(saved.id, ((i.table, i.crm_id, i.reason.value) for i in items))
            added += diff.added
            removed += diff.removed
    if emptied is None or emptied:
        for saved in uow.lists.system_lists():
            if saved.owner_user_id not in owners and (emptied is None or saved.owner_user_id in emptied):
                removed += uow.lists.replace_items(saved.id, ()).removed
    if basis != previous:
        uow.lists.save_auto_save_basis(basis)
    return ListRecompute(added=added, removed=removed)


def _follow_changes(
    uow: UnitOfWork,
    changes: ImportChanges,
    sellers: Mapping[uuid.UUID, tuple[str, AutoSaveChoices]],
    rule: PipelineRule,
) -> tuple[int, int]:
    """Update the system lists of ``sellers`` (user id → their CRM user and rules) for the records ``changes``
    may have moved in or out of them, and only those: the accounts and people the changed opportunities name
    (before and after), the people linked to them by connections, the changed connections' contacts, the changed
    accounts, contacts and leads, and the people of the changed accounts (for the owned-accounts rule). Each is
    decided as :func:`salesbridge.domain.pipeline.auto_saved_items` would (:func:`account_reason`,
    :func:`person_reason`) from the records that decide it alone. Returns the items added and removed."""
    queries = uow.crm_record_queries
    accounts: set[str] = set()
    people: set[tuple[str, str]] = set()
    opportunities = {change.crm_id.lower() for change in changes.of("opportunity")}
    for change in changes.of("opportunity"):
        for state in _states(change):
            accounts.update(opportunity_accounts(state.data))
            people.update(opportunity_people(state.data))
    moved_accounts = {
        change.crm_id.lower()
        for change in changes.of("account")
        if _presence_changed(change) or _moved(change, "owner_id")
    }
    accounts |= moved_accounts
    for table in ("contact", "lead"):  # a job title or a name moves nothing
        people.update(
            (table, change.crm_id.lower())
            for change in changes.of(table)
            if _presence_changed(change) or _moved(change, "parent_id")
        )
    for change in changes.of("connection"):
        people.update(("contact", contact) for state in _states(change) if (contact := _linked_contact(state)))
    if opportunities:
        linked = queries.by_parents("connection", opportunities)
        people.update(("contact", contact) for connection in linked if (contact := stakeholder(connection)))
    if moved_accounts and any(choices.leads_of_owned_accounts for _, choices in sellers.values()):
        for table in ("contact", "lead"):
            people.update((table, p.crm_id.lower()) for p in queries.by_parents(table, moved_accounts, data=False))

    account_facts = _by_id(queries.by_ids("account", accounts, data=False)) if accounts else {}
    naming_accounts = _by_parent(queries.by_parents("opportunity", accounts)) if accounts else {}
    person_facts = {
        table: _by_id(queries.by_ids(table, {i for t, i in people if t == table}, data=False))
        for table in ("contact", "lead")
    }
    person_ids = {crm_id for _, crm_id in people}
    naming_people: dict[str, list[RecordFacts]] = {}
    connections: dict[str, list[tuple[RecordFacts, RecordFacts | None]]] = {}
    if person_ids:
        for opportunity in queries.naming("opportunity", _PEOPLE_LOOKUPS, person_ids):
            for _, crm_id in opportunity_people(opportunity.data):
                naming_people.setdefault(crm_id, []).append(opportunity)
        contacts = {crm_id for table, crm_id in people if table == "contact"}
        found = queries.naming("connection", ("record2id",), contacts) if contacts else []
        linked_opportunities = _by_id(queries.by_ids("opportunity", {c.parent_id for c in found if c.parent_id}))
        for connection in found:
            if contact := stakeholder(connection):
                target = linked_opportunities.get((connection.parent_id or "").lower())
                connections.setdefault(contact, []).append((connection, target))
    parents = {p.parent_id.lower() for facts in person_facts.values() for p in facts.values() if p.parent_id}
    parent_facts = _by_id(queries.by_ids("account", parents, data=False)) if parents else {}

    added = removed = 0
    for user_id, (owner_id, choices) in sellers.items():
        account_items = {
            ("account", crm_id): _reason_value(
                account_reason(account_facts.get(crm_id), owner_id, choices, rule, naming_accounts.get(crm_id, ()))
            )
            for crm_id in accounts
        }
        person_items: dict[tuple[str, str], str | None] = {}
        for table, crm_id in people:
            person = person_facts[table].get(crm_id)
            reason = person_reason(
                person,
                owner_id,
                choices,
                rule,
                naming=naming_people.get(crm_id, ()),
                connections=connections.get(crm_id, ()) if table == "contact" else (),
                parent=parent_facts.get((person.parent_id or "").lower()) if person else None,
            )
            person_items[(table, crm_id)] = _reason_value(reason)
        for kind, items in ((ListKind.CRM_ACCOUNTS, account_items), (ListKind.CRM_LEADS, person_items)):
            if items:
                diff = uow.lists.update_items(uow.lists.system_list(user_id, kind).id, items)
                added += diff.added
                removed += diff.removed
    return added, removed


def _reason_value(reason: SaveReason | None) -> str | None:
    return reason.value if reason is not None else None


def _linked_contact(state: RecordState) -> str | None:
    """The contact a connection (as stored before or after a change) links, its ``record2id``, or None."""
    contact, table = lookup(state.data, "record2id")
    return contact if contact and table == "contact" else None


_AUTO_SAVE_OFF: Final = AutoSaveBasis(settings="auto-save off", owners={})
"""The basis while auto-save is off: it matches no computed basis, so the first recompute after it is full."""


def _fingerprint(*parts: str) -> str:
    return hashlib.sha256("\x1f".join(parts).encode()).hexdigest()


def _owner_digest(owner_id: str, choices: AutoSaveChoices) -> str:
    """A digest of a seller's CRM user and rules: what their lists are computed from, beyond the records."""
    rules = (
        choices.accounts_of_open_opportunities,
        choices.accounts_owned,
        choices.leads_of_open_opportunities,
        choices.leads_of_owned_accounts,
    )
    return _fingerprint(owner_id.lower(), *("1" if rule else "0" for rule in rules))[:32]


_PEOPLE_LOOKUPS: Final = ("parentcontactid", "customerid", "originatingleadid")
"""The opportunity lookups that name contacts and leads (:func:`salesbridge.domain.pipeline.opportunity_people`)."""


def _states(change: RecordChange) -> tuple[RecordState, ...]:
    return tuple(state for state in (change.before, change.after) if state is not None)


def _moved(change: RecordChange, field: str) -> bool:
    """Whether the record's owner or parent (``field``) differs before and after (a record that appeared or went
    counts as :func:`_presence_changed`)."""
    return len({getattr(state, field) for state in _states(change)}) > 1


def _presence_changed(change: RecordChange) -> bool:
    """Whether the record appeared, went, or may have changed ``statecode`` (active or not). An unknown state
    (not an integer) counts as changed: the columns may say otherwise."""
    before, after = change.before, change.after
    if before is None or after is None or before.state_code is None or after.state_code is None:
        return True
    return before.state_code != after.state_code


def touched_owners(uow: UnitOfWork, changes: ImportChanges) -> set[str]:
    """The CRM users (lower-case ids) whose auto-saved lists may differ because of ``changes`` (a record-by-record
    account: ``changes.everything`` must be False). Reads only the changed records' neighbours:

    * an opportunity: its owner before and after;
    * an account that appeared, went, changed state or owner: its owners, and the owners of the opportunities
      naming it (the account rules);
    * a contact or lead that appeared, went or changed state: the owners of the opportunities naming it, directly
      or through a connection; with its parent account, if that changed too: the owners of its old and new account
      (the owned-accounts rule). Other changes (a job title, a name) choose nothing;
    * a connection: the owners of the opportunities it links, before and after.
    """
    queries = uow.crm_record_queries
    touched: set[str] = set()

    def add(states: Iterable[RecordState | RecordFacts]) -> None:
        touched.update(state.owner_id.lower() for state in states if state.owner_id)

    for change in changes.of("opportunity"):
        add(_states(change))
    accounts: set[str] = set()
    for change in changes.of("account"):
        states = _states(change)
        if _presence_changed(change) or _moved(change, "owner_id"):
            add(states)
            accounts.add(change.crm_id)
    if accounts:
        add(queries.by_parents("opportunity", accounts, data=False))
    parents: set[str] = set()
    people: set[str] = set()
    contacts: set[str] = set()
    for table in ("contact", "lead"):
        for change in changes.of(table):
            states = _states(change)
            moved = _moved(change, "parent_id")
            if _presence_changed(change):
                people.add(change.crm_id)
                contacts.update((change.crm_id,) if table == "contact" else ())
            if moved or _presence_changed(change):
                parents.update(state.parent_id for state in states if state.parent_id)
    if parents:
        add(queries.by_ids("account", parents, data=False))
    opportunities = {state.parent_id for change in changes.of("connection") for state in _states(change)}
    if people:
        add(queries.naming("opportunity", _PEOPLE_LOOKUPS, people, data=False))
    if contacts:
        opportunities.update(c.parent_id for c in queries.naming("connection", ("record2id",), contacts, data=False))
    opportunities.discard(None)
    if opportunities:
        add(queries.by_ids("opportunity", {crm_id for crm_id in opportunities if crm_id}, data=False))
    return touched


def recompute_auto_saved_lists(store: UnitOfWorkOpener, organization_id: uuid.UUID) -> ListRecompute:
    """Make every system list of the organization hold exactly what auto-save chooses now, in one transaction.

    For each seat holder with CRM sync on and a matched CRM user: their two system lists (created when missing)
    get the new items and lose the gone ones. Other users' system lists are emptied. Hand-made lists are never
    touched. Nothing changes while the organization's auto-save is off. Idempotent: a second call changes nothing.
    Reads only the owners' opportunities and accounts and the records those name (indexed reads), so it stays
    fast with millions of contacts. Call it after every import, and after settings or seats change.

    Raises:
        RowNotFoundError: the organization does not exist.
    """
    with store(organization_id) as uow:
        result = recompute_in(uow)
        uow.commit()
        return result


def _user(uow: UnitOfWork, email: str) -> User:
    user = None if has_refused_characters(email) else uow.users.find_by_email(email)
    if user is None:
        raise RowNotFoundError("No such user in this organization.")
    return user


def _list_views(uow: UnitOfWork, lists: Iterable[SavedList]) -> list[ListView]:
    views: list[ListView] = []
    for saved in lists:
        items = uow.lists.items(saved.id)
        names = uow.crm_record_queries.names([(item.crm_table, item.crm_id) for item in items])
        item_views = tuple(
            sorted(
                (_item_view(item, names) for item in items),
                key=lambda view: ((view.name or "").casefold(), view.table, view.crm_id),
            )
        )
        people, companies, unmatched = _targets(uow, item_views)
        views.append(
            ListView(
                id=saved.id,
                name=saved.name,
                kind=saved.kind,
                items=item_views,
                people=people,
                companies=companies,
                unmatched=unmatched,
            )
        )
    return views


def _item_view(item: ListItem, names: Mapping[tuple[str, str], str | None]) -> ListItemView:
    return ListItemView(
        table=item.crm_table,
        crm_id=item.crm_id,
        name=names.get((item.crm_table, item.crm_id)),
        reason=item.reason,
        added_at=item.added_at,
    )


def _targets(
    uow: UnitOfWork, items: Iterable[ListItemView]
) -> tuple[tuple[ListTargetView, ...], tuple[ListTargetView, ...], int]:
    """The people and companies ``items`` are tied to (each once, by name), and how many of the items of the
    matched tables are tied to no one yet."""
    by_table: dict[str, list[str]] = {}
    for item in items:
        if item.table in TARGET_KINDS:
            by_table.setdefault(item.table, []).append(item.crm_id)
    records: dict[tuple[TargetKind, uuid.UUID], list[tuple[str, str]]] = {}
    unmatched = 0
    for table, crm_ids in by_table.items():
        links = uow.matches.links(table, crm_ids)
        for crm_id in crm_ids:
            link = links.get(crm_id)
            if link is None or not link.is_tie or link.target_id is None:
                unmatched += 1
                continue
            records.setdefault((link.target_kind, link.target_id), []).append((table, crm_id))
    people: list[ListTargetView] = []
    companies: list[ListTargetView] = []
    for (kind, target_id), tied in records.items():
        if kind is TargetKind.PERSON:
            person = uow.people.get(target_id)
            if person is not None:
                detail = " · ".join(part for part in (person.headline, person.company_name) if part) or None
                people.append(ListTargetView(kind, target_id, person.full_name, detail, tuple(tied)))
        else:
            company = uow.companies.get(target_id)
            if company is not None:
                detail = ", ".join(part for part in (company.city, company.country) if part) or None
                companies.append(ListTargetView(kind, target_id, company.name, detail, tuple(tied)))
    return tuple(sorted(people, key=_by_name)), tuple(sorted(companies, key=_by_name)), unmatched


def _by_name(target: ListTargetView) -> tuple[str, str]:
    return (target.name.casefold(), str(target.id))


def show_lists(store: StoreAccess, slug: str, email: str) -> list[ListView]:
    """The lists of the user ``email``: the two system lists (shown even before auto-save filled them), then the
    hand-made ones by name. Reads only.

    Raises:
        UnknownOrganizationError: no organization has ``slug``.
        RowNotFoundError: no user has ``email`` in it.
    """
    with store(require_organization(store, slug), read_only=True) as uow:
        user = _user(uow, email)
        lists = uow.lists.lists_of(user.id)
        present = {saved.kind for saved in lists}
        placeholders = [
            ListView(id=uuid.UUID(int=0), name=SYSTEM_LIST_NAMES[kind], kind=kind, items=())
            for kind in (ListKind.CRM_ACCOUNTS, ListKind.CRM_LEADS)
            if kind not in present
        ]
        views = _list_views(uow, lists)
        return [*placeholders, *views] if placeholders else views


def preview_lists(
    store: StoreAccess, slug: str, email: str, *, shown: int, records: bool = False, walk_order: bool = False
) -> list[ListView]:
    """The lists of the user ``email`` as :func:`show_lists` orders them, each with only its first ``shown`` items
    (by name, as :func:`show_lists` sorts them; ``walk_order``: the first page of :func:`list_page`), people and
    companies (by name; with their records of the list when ``records``), its size and how many of its records are
    not matched yet: what the Lists page and the API show, read by the store a list at a time however long the
    lists are (sizes and counts in SQL). Reads only.

    Raises:
        UnknownOrganizationError: no organization has ``slug``.
        RowNotFoundError: no user has ``email`` in it.
    """
    with store(require_organization(store, slug), read_only=True) as uow:
        user = _user(uow, email)
        lists = uow.lists.lists_of(user.id)
        previews = uow.list_tables.previews([saved.id for saved in lists], limit=shown, walk_order=walk_order)
        tied: dict[uuid.UUID, dict[uuid.UUID, list[tuple[str, str]]]] = {}
        if records:
            for list_id, start in previews.items():
                target_ids = [target.id for target in (*start.people, *start.companies)]
                tied[list_id] = uow.list_tables.tied_records(list_id, target_ids)
    present = {saved.kind for saved in lists}
    views = [
        ListView(id=uuid.UUID(int=0), name=SYSTEM_LIST_NAMES[kind], kind=kind, items=(), size=0)
        for kind in (ListKind.CRM_ACCOUNTS, ListKind.CRM_LEADS)
        if kind not in present
    ]
    for saved in lists:
        preview = previews.get(saved.id)
        if preview is None:
            views.append(ListView(id=saved.id, name=saved.name, kind=saved.kind, items=(), size=0))
            continue
        items = tuple(_item_view(item, preview.names) for item in preview.items)
        records_of = tied.get(saved.id, {})
        views.append(
            ListView(
                id=saved.id,
                name=saved.name,
                kind=saved.kind,
                items=items,
                people=tuple(_target_view(target, records_of) for target in preview.people),
                companies=tuple(_target_view(target, records_of) for target in preview.companies),
                unmatched=preview.unmatched,
                size=preview.size,
            )
        )
    return views


def _target_view(target: ListTarget, records: Mapping[uuid.UUID, list[tuple[str, str]]]) -> ListTargetView:
    return ListTargetView(
        TargetKind(target.kind), target.id, target.name, target.detail, tuple(records.get(target.id, ()))
    )


LIST_PAGE_LIMIT: Final = 1_000
"""The most items a page of a list (:func:`list_page`) holds."""

_BAD_CURSOR = N_("This cursor was not given by a page of this list: start again without a cursor.")


@dataclass(frozen=True)
class ListPage:
    """A page of a list: ``view`` holds the page's items (by name, then table and id), the people and companies
    they are tied to (each with its records on this page), and the whole list's ``size`` and ``unmatched`` count;
    ``next_cursor`` asks for the page after it (None: this is the last)."""

    view: ListView
    next_cursor: str | None


def list_page(
    store: StoreAccess, slug: str, email: str, list_id: uuid.UUID, *, cursor: str | None, limit: int
) -> ListPage:
    """The ``limit`` items of the user ``email``'s list ``list_id`` (hand-made or system) after ``cursor`` (None:
    the first ones), by table then CRM id (:class:`ListItemKey`; :func:`preview_lists` with ``walk_order`` shows
    the first page). The cursor is the last item's place, not a count, and that place is the item's identity, not
    its record's name: items added or removed meanwhile and records renamed meanwhile shift no other item to
    another page, so walking the pages gives each item present throughout exactly once (an item added during the
    walk is seen when it falls after the cursor). Reads only.

    Raises:
        UnknownOrganizationError: no organization has ``slug``.
        RowNotFoundError: no user has ``email`` in it, or the list is not theirs (another seat's or organization's).
        InvalidRequestError: ``cursor`` was not given by a page of this list.
    """
    after = None if cursor is None else _cursor_key(cursor, list_id)
    with store(require_organization(store, slug), read_only=True) as uow:
        user = _user(uow, email)
        saved = uow.lists.get(list_id)
        if saved.owner_user_id != user.id:
            raise RowNotFoundError("No such list in this organization.")
        tables = uow.list_tables
        # One more than asked: whether a page follows, without a page that turns out empty.
        found = tables.items_after(list_id, after, limit=limit + 1)
        shown = found[:limit]
        keys = [(item.crm_table, item.crm_id) for item, _ in shown]
        people = tables.targets_of_items(list_id, TargetKind.PERSON, keys)
        companies = tables.targets_of_items(list_id, TargetKind.COMPANY, keys)
        records = tables.tied_records(list_id, [target.id for target in (*people, *companies)], keys=keys)
        size = tables.count(list_id, ListTableQuery())
        unmatched = tables.unmatched(list_id)
    names = {(item.crm_table, item.crm_id): name for item, name in shown}
    view = ListView(
        id=saved.id,
        name=saved.name,
        kind=saved.kind,
        items=tuple(_item_view(item, names) for item, _ in shown),
        people=tuple(_target_view(target, records) for target in people),
        companies=tuple(_target_view(target, records) for target in companies),
        unmatched=unmatched,
        size=size,
    )
    if len(found) <= limit:
        return ListPage(view, None)
    last, _ = shown[-1]
    return ListPage(view, _cursor(list_id, ListItemKey(last.crm_table, last.crm_id)))


def cursor_after(view: ListView) -> str | None:
    """The cursor of :func:`list_page` for the items after ``view``'s last one (a start of the list as
    :func:`preview_lists` with ``walk_order`` or :func:`list_page` reads it); None when ``view`` shows no item or
    every one."""
    if not view.items or view.size is None or view.size <= len(view.items):
        return None
    last = view.items[-1]
    return _cursor(view.id, ListItemKey(last.table, last.crm_id))


def _cursor(list_id: uuid.UUID, key: ListItemKey) -> str:
    """``key`` of list ``list_id`` as an opaque, URL-safe text."""
    return opaque_cursor([str(list_id), key.crm_table, key.crm_id])


def opaque_cursor(parts: list[Any]) -> str:
    """``parts`` (JSON values) as an opaque, URL-safe text: what :func:`cursor_parts` reads back."""
    text = json.dumps(parts, ensure_ascii=False, separators=(",", ":"))
    return base64.urlsafe_b64encode(text.encode()).decode().rstrip("=")


def cursor_parts(cursor: str) -> list[Any] | None:
    """The parts :func:`opaque_cursor` made ``cursor`` of; None when it is not such a text."""
    try:
        decoded = json.loads(base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode())
    except (ValueError, UnicodeDecodeError):
        return None
    return decoded if isinstance(decoded, list) else None


def _cursor_key(cursor: str, list_id: uuid.UUID) -> ListItemKey:
    """The place a cursor of :func:`_cursor` names.

    Raises:
        InvalidRequestError: not such a cursor, or one of another list.
    """
    decoded = cursor_parts(cursor)
    if (
        decoded is None
        or len(decoded) != 3
        or not all(isinstance(part, str) and storable(part) for part in decoded)
        or decoded[0] != str(list_id)
    ):
        raise InvalidRequestError(_BAD_CURSOR)
    # A cursor of the walk by name (four parts, before the walk by identity) is refused too: start again.
    return ListItemKey(decoded[1], decoded[2])


def storable(text: str) -> bool:
    """``text`` can be compared by both databases: PostgreSQL refuses a NUL, and UTF-8 a lone surrogate (a made-up
    cursor may hold other control characters: it is compared, not stored)."""
    try:
        text.encode()
    except UnicodeEncodeError:
        return False
    return "\x00" not in text


def own_lists(store: StoreAccess, slug: str, email: str) -> list[SavedList]:
    """The hand-made lists of the user ``email``, by name, without their items (what a "Save to list" menu offers:
    cheap however large the auto-saved lists are). Reads only.

    Raises:
        UnknownOrganizationError: no organization has ``slug``.
        RowNotFoundError: no user has ``email`` in it.
    """
    with store(require_organization(store, slug), read_only=True) as uow:
        return [saved for saved in uow.lists.lists_of(_user(uow, email).id) if not saved.is_system]


LIST_TABLES: Final = ("account", "contact", "lead")
"""The CRM tables whose records a hand-made list may hold."""

_SYSTEM_LIST = N_("Auto-save keeps this list: its records follow your rules, and it cannot be renamed or deleted.")


@dataclass(frozen=True)
class RecordMatch:
    """An imported CRM record found by name, to put in a list."""

    table: str
    crm_id: str
    name: str

    def to_json(self) -> dict[str, str]:
        """A JSON-ready mapping."""
        return {"table": self.table, "crm_id": self.crm_id, "name": self.name}


def _own_list(uow: UnitOfWork, email: str, list_id: uuid.UUID) -> SavedList:
    """The hand-made list ``list_id`` of the user ``email``.

    Raises:
        RowNotFoundError: no such user, or the list is not theirs.
        InvalidRequestError: it is a system list (auto-save keeps those).
    """
    user = _user(uow, email)
    saved = uow.lists.get(list_id)
    if saved.owner_user_id != user.id:
        raise RowNotFoundError("No such list in this organization.")
    if saved.kind is not ListKind.MANUAL:
        raise InvalidRequestError(_SYSTEM_LIST)
    return saved


def create_list(store: StoreAccess, slug: str, email: str, *, name: str, actor: str) -> ListView:
    """Create a hand-made list of the user ``email``; audited. Auto-save never touches it.

    Raises:
        UnknownOrganizationError: no organization has ``slug``.
        RowNotFoundError: no user has ``email`` in it.
        InvalidRequestError: the name is empty, longer than 200 characters or holds a control character.
    """
    cleaned = checked_list_name(name)
    with store(require_organization(store, slug)) as uow:
        user = _user(uow, email)
        saved = uow.lists.create_manual(user.id, cleaned)
        uow.audit.record(actor=actor, action="list.created", details={"list_id": str(saved.id), "name": cleaned})
        uow.commit()
        return ListView(id=saved.id, name=saved.name, kind=saved.kind, items=())


def rename_list(store: StoreAccess, slug: str, email: str, list_id: uuid.UUID, *, name: str, actor: str) -> ListView:
    """Rename one of the user's hand-made lists; audited when the name changes. Idempotent.

    Raises:
        UnknownOrganizationError: no organization has ``slug``.
        RowNotFoundError: no such user, or the list is not theirs.
        InvalidRequestError: the name is empty, too long or holds a control character, or the list is a system
            list.
    """
    cleaned = checked_list_name(name)
    with store(require_organization(store, slug)) as uow:
        saved = _own_list(uow, email, list_id)
        before = saved.name
        if before != cleaned:
            saved = uow.lists.rename(list_id, cleaned)
            uow.audit.record(
                actor=actor, action="list.renamed", details={"list_id": str(list_id), "from": before, "to": cleaned}
            )
            uow.commit()
        return _list_views(uow, [saved])[0]


def delete_list(store: StoreAccess, slug: str, email: str, list_id: uuid.UUID, *, actor: str) -> None:
    """Delete one of the user's hand-made lists and its items (the CRM records stay); audited.

    Raises:
        UnknownOrganizationError: no organization has ``slug``.
        RowNotFoundError: no such user, or the list is not theirs (or no longer exists).
        InvalidRequestError: the list is a system list.
    """
    with store(require_organization(store, slug)) as uow:
        saved = _own_list(uow, email, list_id)
        name = saved.name
        items = uow.lists.delete(list_id)
        uow.audit.record(
            actor=actor, action="list.deleted", details={"list_id": str(list_id), "name": name, "items": items}
        )
        uow.commit()


def add_to_list(
    store: StoreAccess, slug: str, email: str, list_id: uuid.UUID, *, table: str, crm_id: str, actor: str
) -> bool:
    """Put an imported CRM record in one of the user's hand-made lists; False when it was there already.
    Audited.

    Raises:
        UnknownOrganizationError: no organization has ``slug``.
        RowNotFoundError: no such user, or the list is not theirs.
        InvalidRequestError: the list is a system list (auto-save keeps those), or no such record of an
            account, contact or lead has been imported.
    """
    with store(require_organization(store, slug)) as uow:
        _own_list(uow, email, list_id)
        if table not in LIST_TABLES or not uow.crm_record_queries.by_ids(table, [crm_id]):
            raise InvalidRequestError(N_("No imported CRM account, contact or lead has this id."))
        added = uow.lists.add_item(list_id, table, crm_id)
        if added:
            _audit_item(uow, "list.item_added", list_id, table, crm_id, actor=actor)
        uow.commit()
        return added


def remove_from_list(
    store: StoreAccess, slug: str, email: str, list_id: uuid.UUID, *, table: str, crm_id: str, actor: str
) -> bool:
    """Take a record out of one of the user's hand-made lists; False when it was not there. Audited when
    removed. Idempotent.

    Raises:
        UnknownOrganizationError: no organization has ``slug``.
        RowNotFoundError: no such user, or the list is not theirs.
        InvalidRequestError: the list is a system list.
    """
    with store(require_organization(store, slug)) as uow:
        _own_list(uow, email, list_id)
        removed = uow.lists.remove_item(list_id, table, crm_id)
        if removed:
            _audit_item(uow, "list.item_removed", list_id, table, crm_id, actor=actor)
            uow.commit()
        return removed


def _audit_item(uow: UnitOfWork, action: str, list_id: uuid.UUID, table: str, crm_id: str, *, actor: str) -> None:
    uow.audit.record(
        actor=actor, action=action, details={"list_id": str(list_id), "table": table, "crm_id": crm_id.lower()}
    )


def find_records(store: StoreAccess, slug: str, text: str, *, limit: int = 20) -> list[RecordMatch]:
    """Up to ``limit`` imported accounts, contacts and leads whose name contains ``text`` (any case), by name;
    none for fewer than two characters. Reads only.

    Raises:
        UnknownOrganizationError: no organization has ``slug``.
    """
    wanted = text.strip()
    if len(wanted) < 2:
        return []
    with store(require_organization(store, slug), read_only=True) as uow:
        return [
            RecordMatch(table, crm_id, name)
            for table, crm_id, name in uow.crm_record_queries.search(LIST_TABLES, wanted, limit=limit)
        ]


def my_rules(store: StoreAccess, slug: str, email: str) -> AutoSaveRulesView:
    """The auto-save rules of the user ``email`` (the defaults until they save theirs).

    Raises:
        UnknownOrganizationError: no organization has ``slug``.
        RowNotFoundError: no user has ``email`` in it.
    """
    with store(require_organization(store, slug), read_only=True) as uow:
        return AutoSaveRulesView.of(uow.auto_save_rules.get(_user(uow, email).id))


def save_my_rules(
    store: StoreAccess, slug: str, email: str, rules: AutoSaveRulesView, *, actor: str
) -> AutoSaveRulesView:
    """Save the auto-save rules of the user ``email`` and recompute the organization's lists at once; audited
    when they change. Idempotent.

    Raises:
        UnknownOrganizationError: no organization has ``slug``.
        RowNotFoundError: no user has ``email`` in it.
    """
    with store(require_organization(store, slug)) as uow:
        user = _user(uow, email)
        before = AutoSaveRulesView.of(uow.auto_save_rules.get(user.id))
        if before != rules:
            uow.auto_save_rules.save(user.id, **rules.to_json())
            uow.audit.record(
                actor=actor,
                action="lists.rules_changed",
                details={"email": user.email, "from": before.to_json(), "to": rules.to_json()},
            )
            recompute_in(uow)
            uow.commit()
        return rules
