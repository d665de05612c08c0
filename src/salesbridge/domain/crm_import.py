"""What the import reads from each CRM table, and how a row becomes a stored record. Pure; no I/O.

A stored record keeps every imported column in ``data`` (lookups as ``{"id": …, "table": …}``) and copies four
of them into queryable fields: ``name``, ``owner_id``, ``parent_id`` (the account a contact, lead or opportunity
belongs to; the first record of a connection) and ``state_code``.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, NamedTuple

from salesbridge.domain.crm_requirements import REQUIRED_TABLES

IMPORTED_TABLES: tuple[str, ...] = ("systemuser", "team", "account", "contact", "lead", "opportunity", "connection")
"""Tables the import reads, in order: people first, so owners are known when their records arrive."""

ADDRESS_COLUMNS: tuple[str, ...] = (
    "address1_line1",
    "address1_city",
    "address1_postalcode",
    "address1_stateorprovince",
    "address1_country",
)
"""The primary address, as matching compares places (street, city, postcode, region, country)."""

OPTIONAL_COLUMNS: Mapping[str, tuple[str, ...]] = {
    # createdon and exchangerate: the reports' influenced pipeline (when it was created; values in base currency);
    # transactioncurrencyid: the currency of the opportunity's own values (estimatedvalue, actualvalue).
    "opportunity": (
        "originatingleadid",
        "estimatedvalue_base",
        "actualvalue_base",
        "statuscode",
        "createdon",
        "exchangerate",
        "transactioncurrencyid",
    ),
    "account": ("telephone1", *ADDRESS_COLUMNS, "industrycode", "numberofemployees"),
    "contact": ("telephone1", "mobilephone", "emailaddress2", *ADDRESS_COLUMNS),
    "lead": ("telephone1", "mobilephone", "websiteurl", "emailaddress2", *ADDRESS_COLUMNS),
}
"""Columns read when the organization has them; their absence never fails an import. Besides the opportunity's
won-value twins, these are what matching compares a CRM record on (phones, second email, address, website,
industry, size): standard columns of Dataverse's account, contact and lead tables (Microsoft's generated table
references, which the sandbox's standard catalogue follows; reference/dataverse.md reads account ``telephone1`` by
change tracking), yet an organization may have removed or never had some, so none is required by the pre-flight."""


@dataclass(frozen=True)
class ImportSpec:
    """How one table is imported.

    Attributes:
        table: Logical name.
        columns: Required columns (the pre-flight checked they exist), primary key excluded.
        optional_columns: Read only when metadata lists them.
        name_column: Copied to ``name``.
        owner_column: Copied to ``owner_id``; None for tables without owners.
        parent_columns: The first of these holding a value is copied to ``parent_id``.
    """

    table: str
    columns: tuple[str, ...]
    optional_columns: tuple[str, ...]
    name_column: str | None
    owner_column: str | None
    parent_columns: tuple[str, ...]


_NAMES = {"account": "name", "opportunity": "name", "team": "name", "connection": None}
_PARENTS: Mapping[str, tuple[str, ...]] = {
    "contact": ("parentcustomerid",),
    "lead": ("parentaccountid",),
    "opportunity": ("parentaccountid", "customerid"),
    "account": ("parentaccountid",),
    "connection": ("record1id",),
    "systemuser": ("businessunitid",),
    "team": ("businessunitid",),
}


def import_specs(extra_columns: Mapping[str, tuple[str, ...]] | None = None) -> dict[str, ImportSpec]:
    """The spec of every imported table. ``extra_columns`` adds columns read when the CRM has them (e.g. a custom
    won-value column and its base-currency twin)."""
    required = {table.logical_name: table for table in REQUIRED_TABLES}
    specs: dict[str, ImportSpec] = {}
    for table in IMPORTED_TABLES:
        requirement = required[table]
        primary_key = f"{table}id"
        columns = tuple(column for column in requirement.columns if column != primary_key)
        optional = (*OPTIONAL_COLUMNS.get(table, ()), *(extra_columns or {}).get(table, ()))
        specs[table] = ImportSpec(
            table=table,
            columns=columns,
            optional_columns=tuple(dict.fromkeys(column for column in optional if column not in columns)),
            name_column=_NAMES.get(table, "fullname"),
            owner_column="ownerid" if "ownerid" in columns else None,
            parent_columns=_PARENTS.get(table, ()),
        )
    return specs


class StoredFields(NamedTuple):
    """The queryable copies of a record's columns."""

    name: str | None
    owner_id: str | None
    parent_id: str | None
    state_code: int | None


FieldValues = tuple[str | None, str | None, str | None, int | None]
"""``(name, owner_id, parent_id, state_code)`` as a plain tuple (the import's hot path builds millions)."""


def field_reader(spec: ImportSpec) -> Callable[[Mapping[str, Any]], FieldValues]:
    """A function computing the queryable fields of rows of ``spec``'s table from their columns (lookups as
    ``{"id", "table"}`` mappings): the name column's text (at most 400 characters), the owner lookup's id, the id of
    the first parent lookup holding one (ids in lower case, as lists query them), and ``statecode`` when it is an
    integer.

    Specialised once per table: it runs for every imported row, so it checks exact types (no ABC ``isinstance``)
    and looks nothing up on the spec per row.
    """
    return _field_reader(spec.name_column, spec.owner_column, spec.parent_columns)


# Kept per what the reader reads, not per spec: a spec also names the organization's optional columns (its won
# value column, its profile URL column…), so a cache per spec would grow with every organization and every change of
# their settings in a long-running process; these three come from the table alone (a few dozen readers at most).
@functools.cache
def _field_reader(
    name_column: str | None, owner_column: str | None, parent_columns: tuple[str, ...]
) -> Callable[[Mapping[str, Any]], FieldValues]:
    def read(data: Mapping[str, Any]) -> FieldValues:
        get = data.get
        name = get(name_column) if name_column else None
        owner = get(owner_column) if owner_column else None
        parent = None
        for column in parent_columns:
            value = get(column)
            if type(value) is dict and value.get("id"):
                parent = str(value["id"]).lower()
                break
        state = get("statecode")
        return (
            str(name)[:400] if name is not None else None,
            str(owner["id"]).lower() if type(owner) is dict and owner.get("id") else None,
            parent,
            state if type(state) is int else None,
        )

    return read


def stored_fields(spec: ImportSpec, data: Mapping[str, Any]) -> StoredFields:
    """The queryable fields of a row whose columns (lookups as ``{"id", "table"}`` mappings) are ``data``."""
    return StoredFields._make(field_reader(spec)(data))
