"""Dataverse metadata and identity: tables, columns, choices, many-to-one relationships, WhoAmI, privileges.

Implements :class:`~salesbridge.crm.ports.CrmMetadata` and :class:`~salesbridge.crm.ports.CrmIdentity`.
Table, column and relationship answers are cached for the life of the object (metadata changes with
solution deployments, not between two calls); :meth:`DynamicsMetadata.forget` drops the cache.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Mapping
from types import MappingProxyType
from typing import Any, TypeVar

from salesbridge.crm.dynamics.client import (
    CallClass,
    DynamicsClient,
    JsonObject,
    quote_literal,
    record_path,
    require_identifier,
)
from salesbridge.crm.ports import (
    CallerIdentity,
    ColumnInfo,
    LookupRelation,
    OptionInfo,
    Ownership,
    PrivilegeDepth,
    PrivilegeGrant,
    TableInfo,
)
from salesbridge.errors import UnexpectedResponseError

_T = TypeVar("_T")

DEFAULT_LANGUAGE_CODE = 1033
"""English (United States)."""

LOOKUP_TYPES = frozenset({"Lookup", "Customer", "Owner"})
"""Attribute types whose values reference other records."""

_TABLE_SELECT = (
    "LogicalName,EntitySetName,PrimaryIdAttribute,PrimaryNameAttribute,DisplayName,ChangeTrackingEnabled,"
    "IsActivity,OwnershipType"
)
_COLUMN_SELECT = "LogicalName,AttributeType,DisplayName,IsValidForCreate,IsValidForUpdate"
_RELATION_SELECT = (
    "SchemaName,ReferencingAttribute,ReferencedEntity,ReferencedAttribute,ReferencingEntityNavigationPropertyName"
)
_OWNERSHIP: Mapping[str, Ownership] = MappingProxyType(
    {
        "UserOwned": Ownership.USER,
        "TeamOwned": Ownership.USER,
        "OrganizationOwned": Ownership.ORGANIZATION,
        "BusinessOwned": Ownership.BUSINESS,
        "BusinessParented": Ownership.BUSINESS,
    }
)
# Attribute type → (metadata cast, $expand) to read its options.
_OPTION_CASTS: Mapping[str, tuple[str, str]] = MappingProxyType(
    {
        "Picklist": ("PicklistAttributeMetadata", "OptionSet($select=Options),GlobalOptionSet($select=Options)"),
        "MultiSelectPicklist": (
            "MultiSelectPicklistAttributeMetadata",
            "OptionSet($select=Options),GlobalOptionSet($select=Options)",
        ),
        "State": ("StateAttributeMetadata", "OptionSet($select=Options)"),
        "Status": ("StatusAttributeMetadata", "OptionSet($select=Options)"),
        "Boolean": ("BooleanAttributeMetadata", "OptionSet($select=TrueOption,FalseOption)"),
    }
)


def label_text(label: Any, language_code: int) -> str | None:
    """The text of a Dataverse ``Label`` in ``language_code``, else the user's localized label, else None.

    A ``Label`` is ``{"LocalizedLabels": [{"Label": "…", "LanguageCode": 1033}, …], "UserLocalizedLabel": {…}}``.
    Pure.
    """
    if not isinstance(label, Mapping):
        return None
    for localized in label.get("LocalizedLabels") or []:
        if isinstance(localized, Mapping) and localized.get("LanguageCode") == language_code:
            text = localized.get("Label")
            if text:
                return str(text)
    user_label = label.get("UserLocalizedLabel")
    if isinstance(user_label, Mapping) and user_label.get("Label"):
        return str(user_label["Label"])
    return None


OWNER_TABLES = frozenset({"systemuser", "team"})
"""Tables whose records can own rows (through an ``Owner`` lookup to the abstract ``owner`` table)."""


class DynamicsMetadata:
    """Metadata and identity reads of one organization.

    Args:
        client: The organization's client.
        language_code: LCID of the labels to return (1033 English, 3082 Spanish…); labels fall back to the
            calling user's language when this one is missing.
    """

    def __init__(self, client: DynamicsClient, *, language_code: int = DEFAULT_LANGUAGE_CODE) -> None:
        self._client = client
        self._language_code = language_code
        self._tables: dict[str, TableInfo] = {}
        self._columns: dict[str, list[ColumnInfo]] = {}
        self._relations: dict[str, list[LookupRelation]] = {}
        self._loading: dict[tuple[str, str], asyncio.Future[Any]] = {}

    async def cancel_loads(self) -> None:
        """Cancel the loads in flight and wait until they have ended. Idempotent."""
        pending = list(self._loading.values())
        for future in pending:
            future.cancel()
        if pending:
            await asyncio.gather(*pending, return_exceptions=True)

    def forget(self) -> None:
        """Drop every cached answer (after a solution import, for example)."""
        self._tables.clear()
        self._columns.clear()
        self._relations.clear()

    async def table(self, table: str) -> TableInfo:
        """Facts about one table. Cached.

        Raises:
            NotFoundError: No table has this logical name.
            ValueError: ``table`` is not a valid logical name.
        """
        name = require_identifier(table).lower()
        if name not in self._tables:
            row = await self._once(
                ("table", name),
                lambda: self._client.get_json(
                    f"EntityDefinitions(LogicalName={quote_literal(name)})", params={"$select": _TABLE_SELECT}
                ),
            )
            self._tables[name] = self._table_from(row)
        return self._tables[name]

    async def tables(self) -> list[TableInfo]:
        """Every table (one response: metadata collections are not paged). Fills the per-table cache."""
        page = await self._client.get_json("EntityDefinitions", params={"$select": _TABLE_SELECT})
        tables = [self._table_from(row) for row in _rows(page)]
        self._tables.update({table.logical_name: table for table in tables})
        return tables

    async def columns(self, table: str) -> list[ColumnInfo]:
        """The columns of a table. Cached.

        Raises:
            NotFoundError: No such table.
        """
        name = require_identifier(table).lower()
        if name not in self._columns:
            page = await self._once(
                ("columns", name),
                lambda: self._client.get_json(
                    f"EntityDefinitions(LogicalName={quote_literal(name)})/Attributes",
                    params={"$select": _COLUMN_SELECT},
                ),
            )
            self._columns[name] = [self._column_from(row) for row in _rows(page)]
        return self._columns[name]

    async def options(self, table: str, column: str) -> list[OptionInfo]:
        """The options of a choice, multi-choice, state, status or yes/no column, labelled.

        Raises:
            NotFoundError: No such table or column.
            ValueError: The column is not one of those kinds.
        """
        name = require_identifier(column).lower()
        kinds = {info.logical_name: info.type for info in await self.columns(table)}
        if name not in kinds:
            # Let the server say it: the answer is a NotFoundError with its own message.
            await self._client.get_json(
                f"EntityDefinitions(LogicalName={quote_literal(table.lower())})/Attributes"
                f"(LogicalName={quote_literal(name)})",
                params={"$select": "LogicalName"},
            )
        kind = kinds.get(name, "")
        if kind not in _OPTION_CASTS:
            raise ValueError(f"Column '{table}.{name}' is a {kind or 'non-choice'} column, not a choice.")
        cast, expand = _OPTION_CASTS[kind]
        row = await self._client.get_json(
            f"EntityDefinitions(LogicalName={quote_literal(table.lower())})/Attributes"
            f"(LogicalName={quote_literal(name)})/Microsoft.Dynamics.CRM.{cast}",
            params={"$select": "LogicalName", "$expand": expand},
        )
        return self._options_from(row)

    async def lookups(self, table: str) -> list[LookupRelation]:
        """The many-to-one relationships of a table. Cached.

        Raises:
            NotFoundError: No such table.
        """
        name = require_identifier(table).lower()
        if name not in self._relations:
            page = await self._once(
                ("relations", name),
                lambda: self._client.get_json(
                    f"EntityDefinitions(LogicalName={quote_literal(name)})/ManyToOneRelationships",
                    params={"$select": _RELATION_SELECT},
                ),
            )
            self._relations[name] = [
                LookupRelation(
                    column=str(row["ReferencingAttribute"]),
                    target_table=str(row["ReferencedEntity"]),
                    target_column=str(row.get("ReferencedAttribute") or ""),
                    navigation_name=str(row["ReferencingEntityNavigationPropertyName"]),
                    schema_name=str(row.get("SchemaName") or ""),
                )
                for row in _rows(page)
                if row.get("ReferencingAttribute") and row.get("ReferencingEntityNavigationPropertyName")
            ]
        return self._relations[name]

    async def navigation_name(self, table: str, column: str, target_table: str) -> str:
        """The name that sets ``column`` to a ``target_table`` record in a write (``<name>@odata.bind``).

        Raises:
            ValueError: No many-to-one relationship of ``table`` links ``column`` to ``target_table``.
        """
        relations = [relation for relation in await self.lookups(table) if relation.column == column.lower()]
        for relation in relations:
            if relation.target_table == target_table.lower():
                return relation.navigation_name
        # Owner lookups are one relationship to the abstract "owner" table; a user or a team is set through it.
        if target_table.lower() in OWNER_TABLES:
            for relation in relations:
                if relation.target_table == "owner":
                    return relation.navigation_name
        raise ValueError(f"Column '{table}.{column}' cannot refer to a '{target_table}' record.")

    async def who_am_i(self) -> CallerIdentity:
        """The signed-in user (``WhoAmI``); also teaches the client the server's ``x-ms-dop-hint``."""
        answer = await self._client.get_json("WhoAmI")
        try:
            return CallerIdentity(
                user_id=str(answer["UserId"]).lower(),
                business_unit_id=str(answer["BusinessUnitId"]).lower(),
                organization_id=str(answer["OrganizationId"]).lower(),
            )
        except KeyError as exc:
            raise UnexpectedResponseError(f"WhoAmI answered without {exc.args[0]}.") from exc

    async def user_privilege(self, user_id: str, privilege_name: str) -> tuple[PrivilegeGrant, ...]:
        """``RetrieveUserPrivilegeByPrivilegeName``: the user's grants of one privilege; empty when not held.

        Raises:
            NotFoundError: No such user.
            ValueError: ``user_id`` is not a GUID, or ``privilege_name`` is not a valid name.
        """
        answer = await self._client.get_json(
            f"{record_path('systemusers', user_id)}/Microsoft.Dynamics.CRM.RetrieveUserPrivilegeByPrivilegeName"
            f"(PrivilegeName={quote_literal(require_identifier(privilege_name))})"
        )
        return _grants(answer)

    async def user_privileges(self, user_id: str) -> tuple[PrivilegeGrant, ...]:
        """``RetrieveUserPrivileges``: every grant the user holds, directly or through teams.

        Raises:
            NotFoundError: No such user.
        """
        answer = await self._client.get_json(
            f"{record_path('systemusers', user_id)}/Microsoft.Dynamics.CRM.RetrieveUserPrivileges",
            call_class=CallClass.QUERY,
        )
        return _grants(answer)

    async def _once(self, key: tuple[str, str], load: Callable[[], Awaitable[_T]]) -> _T:
        """Share one in-flight load among concurrent callers asking for the same thing."""
        future = self._loading.get(key)
        if future is None:
            future = asyncio.ensure_future(load())
            self._loading[key] = future
            future.add_done_callback(lambda done: self._settle(key, done))
        result: _T = await asyncio.shield(future)
        return result

    def _settle(self, key: tuple[str, str], done: asyncio.Future[Any]) -> None:
        self._loading.pop(key, None)
        if not done.cancelled():
            done.exception()  # Seen here, so a load every waiter abandoned is not reported as unretrieved.

    def _table_from(self, row: JsonObject) -> TableInfo:
        try:
            return TableInfo(
                logical_name=str(row["LogicalName"]),
                entity_set_name=str(row["EntitySetName"]),
                primary_id_column=str(row["PrimaryIdAttribute"]),
                primary_name_column=str(row["PrimaryNameAttribute"]) if row.get("PrimaryNameAttribute") else None,
                display_name=label_text(row.get("DisplayName"), self._language_code),
                is_change_tracked=bool(row.get("ChangeTrackingEnabled")),
                is_activity=bool(row.get("IsActivity")),
                ownership=_OWNERSHIP.get(str(row.get("OwnershipType") or ""), Ownership.NONE),
            )
        except KeyError as exc:
            raise UnexpectedResponseError(f"Table metadata arrived without {exc.args[0]}.") from exc

    def _column_from(self, row: JsonObject) -> ColumnInfo:
        kind = str(row.get("AttributeType") or "")
        return ColumnInfo(
            logical_name=str(row["LogicalName"]),
            type=kind,
            display_name=label_text(row.get("DisplayName"), self._language_code),
            is_lookup=kind in LOOKUP_TYPES,
            is_valid_for_create=bool(row.get("IsValidForCreate", True)),
            is_valid_for_update=bool(row.get("IsValidForUpdate", True)),
        )

    def _options_from(self, row: JsonObject) -> list[OptionInfo]:
        option_set = row.get("OptionSet") or row.get("GlobalOptionSet") or {}
        if "TrueOption" in option_set or "FalseOption" in option_set:
            raw = [option_set.get("FalseOption"), option_set.get("TrueOption")]
        else:
            raw = list(option_set.get("Options") or [])
        options: list[OptionInfo] = []
        for option in raw:
            if isinstance(option, Mapping) and option.get("Value") is not None:
                options.append(
                    OptionInfo(value=int(option["Value"]), label=label_text(option.get("Label"), self._language_code))
                )
        return options


def _rows(page: JsonObject) -> list[JsonObject]:
    rows = page.get("value")
    if not isinstance(rows, list):
        raise UnexpectedResponseError("A collection arrived without its 'value' array.")
    return [row for row in rows if isinstance(row, dict)]


def _grants(answer: JsonObject) -> tuple[PrivilegeGrant, ...]:
    grants: list[PrivilegeGrant] = []
    for grant in answer.get("RolePrivileges") or []:
        try:
            depth = PrivilegeDepth(str(grant.get("Depth")))
        except ValueError as exc:
            raise UnexpectedResponseError(f"Unknown privilege depth {grant.get('Depth')!r}.") from exc
        grants.append(
            PrivilegeGrant(
                name=str(grant.get("PrivilegeName") or ""),
                depth=depth,
                privilege_id=str(grant.get("PrivilegeId") or "").lower(),
                business_unit_id=str(grant["BusinessUnitId"]).lower() if grant.get("BusinessUnitId") else None,
            )
        )
    return tuple(grants)
