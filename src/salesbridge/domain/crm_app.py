"""The CRM-side app: what salesbridge installs in a customer's Dynamics 365 so that activities can be written back,
and what a CRM's metadata lacks of it.

The app is two custom activity tables (``IsActivity``: their rows appear in ``activitypointers`` and on the
timeline of the record they regard), one for InMail and one for messages, each with the columns writeback fills
and salesbridge's external id as an alternate key (the idempotent writes of the drainer address rows by it).
Notes are written to the standard ``annotation`` table and calls to the standard ``phonecall`` table: those are
only checked. A custom activity table can regard every table whose ``HasActivities`` is on, which is the case of
contact, lead and account in Dataverse: checked too, never changed.

Names carry the publisher prefix :data:`PUBLISHER_PREFIX` (``create-update-entity-definitions-using-web-api.md``:
a schema name includes the customization prefix of its publisher). Every table the app creates says in its
description which version of the app created it (:func:`version_marker`).

Pure: values and rules only. :func:`missing_items` is the diff an installer applies and ``crm app status`` shows.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import StrEnum

APP_VERSION = 1
"""The version of the app this code installs. Raise it when :data:`CRM_APP` gains a table, column or key."""

PUBLISHER_PREFIX = "sbr"
"""The customization prefix of every name the app creates."""

_MARKER = re.compile(r"\[salesbridge app v(\d+)\]")


def version_marker(version: int = APP_VERSION) -> str:
    """The text a created table's description ends with: ``[salesbridge app v1]``."""
    return f"[salesbridge app v{version}]"


def marked_version(description: str | None) -> int | None:
    """The app version a table's description names (:func:`version_marker`), or None when it names none."""
    found = _MARKER.search(description or "")
    return int(found.group(1)) if found else None


class ColumnKind(StrEnum):
    """The kinds of column the app creates (Dataverse ``AttributeMetadata`` types)."""

    STRING = "String"
    MEMO = "Memo"
    DATETIME = "DateTime"
    BOOLEAN = "Boolean"
    LOOKUP = "Lookup"


@dataclass(frozen=True)
class AppColumn:
    """A custom column of an app table.

    Attributes:
        schema_name: ``sbr_ExternalId``; the logical name is its lowercase.
        kind: The column type.
        label: The English display name.
        description: What it holds, for the Dynamics administrator.
        max_length: For text columns, in characters.
        target: For lookups, the referenced table's logical name.
        true_label / false_label: For yes/no columns, the option labels.
    """

    schema_name: str
    kind: ColumnKind
    label: str
    description: str
    max_length: int | None = None
    target: str | None = None
    true_label: str | None = None
    false_label: str | None = None

    @property
    def logical_name(self) -> str:
        """``sbr_externalid``."""
        return self.schema_name.lower()


@dataclass(frozen=True)
class AppKey:
    """An alternate key of an app table (``define-alternate-keys-entity.md``)."""

    schema_name: str
    label: str
    columns: tuple[str, ...]

    @property
    def logical_name(self) -> str:
        """The key's logical name: its schema name in lowercase."""
        return self.schema_name.lower()


@dataclass(frozen=True)
class AppTable:
    """A custom activity table of the app (user-owned, notes on, primary column ``subject``).

    Attributes:
        schema_name: ``sbr_InMail``; the logical name is its lowercase.
        label / collection_label: English display names.
        description: What it holds (the version marker is appended when created).
        columns: Its custom columns, in creation order.
        keys: Its alternate keys.
        data_item: The writeback data item whose activities it holds (``inmail``, ``message``).
    """

    schema_name: str
    label: str
    collection_label: str
    description: str
    columns: tuple[AppColumn, ...]
    keys: tuple[AppKey, ...]
    data_item: str

    @property
    def logical_name(self) -> str:
        """``sbr_inmail``."""
        return self.schema_name.lower()


@dataclass(frozen=True)
class StandardTable:
    """A standard table writeback uses as it is (only checked)."""

    logical_name: str
    data_item: str


@dataclass(frozen=True)
class CrmApp:
    """Everything the app needs in a CRM.

    Attributes:
        version: :data:`APP_VERSION`.
        tables: The custom activity tables it creates.
        standard_tables: The standard tables it writes to (notes, calls).
        regarded_tables: The tables written activities regard; each must have activities enabled (InMail,
            messages, calls) and notes enabled (notes are attached through ``objectid``).
    """

    version: int
    tables: tuple[AppTable, ...]
    standard_tables: tuple[StandardTable, ...]
    regarded_tables: tuple[str, ...]


def _activity_table(schema_name: str, label: str, collection: str, data_item: str, what: str) -> AppTable:
    prefix = PUBLISHER_PREFIX
    return AppTable(
        schema_name=schema_name,
        label=label,
        collection_label=collection,
        description=f"{what} written back by salesbridge.",
        data_item=data_item,
        columns=(
            AppColumn(f"{prefix}_Body", ColumnKind.MEMO, "Body", "The full text.", max_length=100_000),
            AppColumn(
                f"{prefix}_Direction",
                ColumnKind.BOOLEAN,
                "Direction",
                "Outgoing (sent by the seller) or incoming (received).",
                true_label="Outgoing",
                false_label="Incoming",
            ),
            AppColumn(f"{prefix}_SentOn", ColumnKind.DATETIME, "Sent on", "When it was sent (UTC)."),
            AppColumn(
                f"{prefix}_ConversationId",
                ColumnKind.STRING,
                "Conversation id",
                "The conversation it belongs to.",
                max_length=100,
            ),
            AppColumn(
                f"{prefix}_SellerId",
                ColumnKind.LOOKUP,
                "Seller",
                "The seller who sent or received it.",
                target="systemuser",
            ),
            AppColumn(
                f"{prefix}_ExternalId",
                ColumnKind.STRING,
                "salesbridge id",
                "salesbridge's id of the activity (alternate key).",
                max_length=100,
            ),
        ),
        keys=(AppKey(f"{schema_name}_ExternalIdKey", "salesbridge id", (f"{prefix}_externalid",)),),
    )


CRM_APP = CrmApp(
    version=APP_VERSION,
    tables=(
        _activity_table(f"{PUBLISHER_PREFIX}_InMail", "InMail", "InMails", "inmail", "InMail"),
        _activity_table(f"{PUBLISHER_PREFIX}_Message", "Message", "Messages", "message", "Messages"),
    ),
    standard_tables=(StandardTable("annotation", "note"), StandardTable("phonecall", "call")),
    regarded_tables=("contact", "lead", "account"),
)
"""The app this version of salesbridge installs."""


# ------------------------------------------------------------------------------------------------ the privileges

CUSTOMIZATION_PRIVILEGES: tuple[str, ...] = ("prvCreateEntity", "prvWriteEntity", "prvCreateAttribute")
"""What creating tables, columns (lookups are relationships) and keys takes."""

ACT_ON_BEHALF = "prvActOnBehalfOfAnotherUser"

_PRIVILEGE_SUBJECTS = {"contact": "Contact", "lead": "Lead", "account": "Account", "annotation": "Note"}


def writeback_privileges(app: CrmApp = CRM_APP) -> tuple[str, ...]:
    """The privileges the application user needs to write back, by name, in a stable order.

    Dataverse names them after something other than the table for activities: every activity table, standard or
    custom, shares ``prv…Activity`` ("all the properties and privileges of the activitypointer table are inherited
    for the custom activity", ``custom-activities.md``); notes are ``prv…Note``. Creating needs Create and Append on
    the written table and AppendTo on the regarded one; delivering as the seller needs
    ``prvActOnBehalfOfAnotherUser`` (impersonation).
    """
    names = ["prvCreateActivity", "prvAppendActivity", "prvCreateNote", "prvAppendNote"]
    names += [f"prvAppendTo{_PRIVILEGE_SUBJECTS[table]}" for table in app.regarded_tables]
    names.append(ACT_ON_BEHALF)
    return tuple(names)


def missing_privileges(held: frozenset[str], required: tuple[str, ...]) -> tuple[str, ...]:
    """The names of ``required`` not in ``held`` (compared without case), in ``required``'s order."""
    lowered = {name.lower() for name in held}
    return tuple(name for name in required if name.lower() not in lowered)


# ------------------------------------------------------------------------------------------------ the diff


@dataclass(frozen=True)
class ObservedTable:
    """What a CRM's metadata says of one table.

    Attributes:
        logical_name: ``sbr_inmail``.
        is_activity: ``IsActivity``.
        has_activities: ``HasActivities`` (activities can regard its rows).
        has_notes: ``HasNotes`` (notes can be attached to its rows).
        columns: Logical names of its columns (lowercase).
        keys: Logical names of its alternate keys (lowercase).
        key_states: The ``EntityKeyIndexStatus`` of each key that is not ``Active`` (``Pending``, ``InProgress``,
            ``Failed``): Dataverse builds a key's index in the background, and a key is usable in URLs only once
            active; ``Failed`` when existing rows repeat a key value.
        description: Its description in English, when it has one.
    """

    logical_name: str
    is_activity: bool = False
    has_activities: bool = False
    has_notes: bool = False
    columns: frozenset[str] = frozenset()
    keys: frozenset[str] = frozenset()
    key_states: Mapping[str, str] = field(default_factory=dict)
    description: str | None = None


@dataclass(frozen=True)
class ObservedCrm:
    """The tables of a CRM that concern the app, by logical name; a table the CRM does not have is absent."""

    tables: Mapping[str, ObservedTable] = field(default_factory=dict)


class MissingKind(StrEnum):
    """What is missing, and whether installing creates it."""

    TABLE = "table"
    COLUMN = "column"
    KEY = "key"
    STANDARD_TABLE = "standard_table"
    ACTIVITIES = "activities"
    NOTES = "notes"
    KEY_NOT_ACTIVE = "key_not_active"
    NOT_AN_ACTIVITY = "not_an_activity"


INSTALLABLE = frozenset({MissingKind.TABLE, MissingKind.COLUMN, MissingKind.KEY})
"""What the installer creates; the other kinds are for the Dynamics administrator to fix, except a key whose index
Dataverse is still building (it becomes active by itself)."""


@dataclass(frozen=True)
class MissingItem:
    """One thing the CRM lacks.

    Attributes:
        kind: What it is.
        table: The table concerned (logical name).
        name: The column or key (logical name); None for table-level items.
        state: For a key not active yet, its index status (``Pending``, ``Failed``…).
    """

    kind: MissingKind
    table: str
    name: str | None = None
    state: str | None = None

    @property
    def installable(self) -> bool:
        """Whether installing the app creates it."""
        return self.kind in INSTALLABLE

    def __str__(self) -> str:
        if self.kind is MissingKind.COLUMN:
            return f"{self.table}.{self.name}"
        if self.kind is MissingKind.KEY:
            return f"{self.table}: key {self.name}"
        if self.kind is MissingKind.ACTIVITIES:
            return f"{self.table}: activities not enabled"
        if self.kind is MissingKind.NOTES:
            return f"{self.table}: notes not enabled"
        if self.kind is MissingKind.KEY_NOT_ACTIVE:
            return f"{self.table}: key {self.name} is {self.state}, not Active"
        if self.kind is MissingKind.NOT_AN_ACTIVITY:
            return f"{self.table}: exists but is not an activity table"
        return self.table


class AppState(StrEnum):
    """Where the app stands in a CRM."""

    INSTALLED = "installed"
    OUTDATED = "outdated"
    MISSING = "missing"


def missing_items(observed: ObservedCrm, app: CrmApp = CRM_APP) -> tuple[MissingItem, ...]:
    """What ``observed`` lacks of ``app``, in the order an installer creates it (a table before its columns, columns
    before the keys on them); the things only an administrator can fix come last. Empty when all is there."""
    installable: list[MissingItem] = []
    blocking: list[MissingItem] = []
    for table in app.tables:
        found = observed.tables.get(table.logical_name)
        if found is None:
            installable.append(MissingItem(MissingKind.TABLE, table.logical_name))
            installable += [MissingItem(MissingKind.COLUMN, table.logical_name, c.logical_name) for c in table.columns]
            installable += [MissingItem(MissingKind.KEY, table.logical_name, k.logical_name) for k in table.keys]
            continue
        if not found.is_activity:
            blocking.append(MissingItem(MissingKind.NOT_AN_ACTIVITY, table.logical_name))
            continue
        installable += [
            MissingItem(MissingKind.COLUMN, table.logical_name, column.logical_name)
            for column in table.columns
            if column.logical_name not in found.columns
        ]
        installable += [
            MissingItem(MissingKind.KEY, table.logical_name, key.logical_name)
            for key in table.keys
            if key.logical_name not in found.keys
        ]
        blocking += [
            MissingItem(MissingKind.KEY_NOT_ACTIVE, table.logical_name, key.logical_name, state)
            for key in table.keys
            if key.logical_name in found.keys and (state := found.key_states.get(key.logical_name)) is not None
        ]
    for standard in app.standard_tables:
        if standard.logical_name not in observed.tables:
            blocking.append(MissingItem(MissingKind.STANDARD_TABLE, standard.logical_name))
    for regarded in app.regarded_tables:
        found = observed.tables.get(regarded)
        if found is None:
            blocking.append(MissingItem(MissingKind.STANDARD_TABLE, regarded))
        else:
            if not found.has_activities:
                blocking.append(MissingItem(MissingKind.ACTIVITIES, regarded))
            if not found.has_notes:
                blocking.append(MissingItem(MissingKind.NOTES, regarded))
    return (*installable, *blocking)


def app_state(observed: ObservedCrm, app: CrmApp = CRM_APP) -> AppState:
    """``missing`` when none of the app's tables exists, ``installed`` when nothing is missing, else ``outdated``."""
    if not any(table.logical_name in observed.tables for table in app.tables):
        return AppState.MISSING
    return AppState.OUTDATED if missing_items(observed, app) else AppState.INSTALLED


def installed_version(observed: ObservedCrm, app: CrmApp = CRM_APP) -> int | None:
    """The lowest app version the app's tables were created by (their version markers), or None without any."""
    versions = [
        version
        for table in app.tables
        if (found := observed.tables.get(table.logical_name)) is not None
        and (version := marked_version(found.description)) is not None
    ]
    return min(versions, default=None)


def app_table(logical_name: str, app: CrmApp = CRM_APP) -> AppTable:
    """The app table named ``logical_name``.

    Raises:
        KeyError: the app has no such table.
    """
    for table in app.tables:
        if table.logical_name == logical_name:
            return table
    raise KeyError(logical_name)


def observed_tables(app: CrmApp = CRM_APP) -> tuple[str, ...]:
    """Every table whose metadata the diff reads, in a stable order."""
    names = [t.logical_name for t in app.tables]
    names += [t.logical_name for t in app.standard_tables]
    names += list(app.regarded_tables)
    return tuple(dict.fromkeys(names))
