"""Installing the CRM-side app through the Web API's metadata operations.

Implements :class:`~salesbridge.crm.ports.CrmAppInstaller`. Sources (``MicrosoftDocs/powerapps-docs``,
``powerapps-docs/developer/data-platform/``): ``webapi/create-update-entity-definitions-using-web-api.md`` (``POST
EntityDefinitions``: an ``EntityMetadata`` with its primary name column), ``custom-activities.md`` (``IsActivity``
true, primary column ``Subject``, user- or team-owned, ``HasActivities`` false, ``IsAvailableOffline`` true,
``IsMailMergeEnabled`` false), ``webapi/create-update-column-definitions-using-web-api.md`` (``POST
…/Attributes``), ``webapi/create-update-entity-relationships-using-web-api.md`` (a lookup is created with its
one-to-many relationship, ``POST RelationshipDefinitions``), ``define-alternate-keys-entity.md`` (``POST …/Keys``)
and ``webapi/query-metadata-web-api.md`` (the existence check ``EntityDefinitions?$filter=LogicalName eq 'x'``
answers an empty collection rather than a 404). Created definitions need no ``PublishXml``: publishing applies
updates of existing definitions, and this installer never updates one.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from salesbridge.crm.dynamics.client import CallClass, DynamicsClient, JsonObject, quote_literal
from salesbridge.crm.dynamics.metadata import DynamicsMetadata, label_text
from salesbridge.domain.crm_app import (
    PUBLISHER_PREFIX,
    AppColumn,
    AppKey,
    AppTable,
    ColumnKind,
    CrmApp,
    MissingItem,
    MissingKind,
    ObservedCrm,
    ObservedTable,
    app_table,
    observed_tables,
    version_marker,
)
from salesbridge.errors import UnexpectedResponseError

ENGLISH = 1033
CRM = "Microsoft.Dynamics.CRM."
_TABLE_SELECT = "LogicalName,IsActivity,HasActivities,HasNotes,Description"
_REFERENTIAL = {
    "Assign": "NoCascade",
    "Delete": "RemoveLink",
    "Merge": "NoCascade",
    "Reparent": "NoCascade",
    "Share": "NoCascade",
    "Unshare": "NoCascade",
}


def label(text: str) -> JsonObject:
    """A ``Label`` in English (only ``LocalizedLabels`` is set on writes)."""
    return {
        "@odata.type": f"{CRM}Label",
        "LocalizedLabels": [{"@odata.type": f"{CRM}LocalizedLabel", "Label": text, "LanguageCode": ENGLISH}],
    }


def _required_none() -> JsonObject:
    return {"Value": "None", "CanBeChanged": True, "ManagedPropertyLogicalName": "canmodifyrequirementlevelsettings"}


def table_body(table: AppTable, version: int) -> JsonObject:
    """The ``EntityMetadata`` of a custom activity table, with its primary column ``Subject``."""
    return {
        "@odata.type": f"{CRM}EntityMetadata",
        "SchemaName": table.schema_name,
        "DisplayName": label(table.label),
        "DisplayCollectionName": label(table.collection_label),
        "Description": label(f"{table.description} {version_marker(version)}"),
        "OwnershipType": "UserOwned",
        "IsActivity": True,
        "HasActivities": False,
        "HasNotes": True,
        "IsAvailableOffline": True,
        "IsMailMergeEnabled": False,
        "Attributes": [
            {
                "@odata.type": f"{CRM}StringAttributeMetadata",
                "AttributeType": "String",
                "AttributeTypeName": {"Value": "StringType"},
                "SchemaName": "Subject",
                "IsPrimaryName": True,
                "MaxLength": 200,
                "FormatName": {"Value": "Text"},
                "RequiredLevel": _required_none(),
                "DisplayName": label("Subject"),
            }
        ],
    }


def column_body(column: AppColumn) -> JsonObject:
    """The ``AttributeMetadata`` of a column that is not a lookup, shaped as the documentation's examples of each
    type (``create-update-column-definitions-using-web-api.md``)."""
    kind = column.kind.value
    common: JsonObject = {
        "@odata.type": f"{CRM}{kind}AttributeMetadata",
        "AttributeType": kind,
        "AttributeTypeName": {"Value": f"{kind}Type"},
        "SchemaName": column.schema_name,
        "DisplayName": label(column.label),
        "Description": label(column.description),
        "RequiredLevel": _required_none(),
    }
    if column.kind is ColumnKind.STRING:
        return {**common, "MaxLength": column.max_length, "FormatName": {"Value": "Text"}}
    if column.kind is ColumnKind.MEMO:
        return {**common, "MaxLength": column.max_length, "Format": "TextArea"}
    if column.kind is ColumnKind.DATETIME:
        return {**common, "Format": "DateAndTime", "DateTimeBehavior": {"Value": "UserLocal"}}
    if column.kind is ColumnKind.BOOLEAN:
        return {
            **common,
            "DefaultValue": True,
            "OptionSet": {
                "TrueOption": {"Value": 1, "Label": label(column.true_label or "Yes")},
                "FalseOption": {"Value": 0, "Label": label(column.false_label or "No")},
                "OptionSetType": "Boolean",
            },
        }
    raise ValueError(f"A {kind} column is not created through the Attributes collection.")


def relationship_body(table: AppTable, column: AppColumn) -> JsonObject:
    """The ``OneToManyRelationshipMetadata`` that creates a lookup column, referential (deleting the referenced
    record clears the lookup and never deletes a written activity)."""
    if column.kind is not ColumnKind.LOOKUP or column.target is None:
        raise ValueError(f"'{column.schema_name}' is not a lookup.")
    return {
        "@odata.type": f"{CRM}OneToManyRelationshipMetadata",
        "SchemaName": f"{PUBLISHER_PREFIX}_{column.target}_{table.logical_name}_{column.logical_name}",
        "ReferencedEntity": column.target,
        "ReferencedAttribute": f"{column.target}id",  # the primary key of the (standard) referenced table
        "ReferencingEntity": table.logical_name,
        "CascadeConfiguration": dict(_REFERENTIAL),
        "Lookup": {
            "@odata.type": f"{CRM}LookupAttributeMetadata",
            "AttributeType": "Lookup",
            "AttributeTypeName": {"Value": "LookupType"},
            "SchemaName": column.schema_name,
            "DisplayName": label(column.label),
            "Description": label(column.description),
            "RequiredLevel": _required_none(),
        },
    }


def key_body(key: AppKey) -> JsonObject:
    """The ``EntityKeyMetadata`` of an alternate key."""
    return {"SchemaName": key.schema_name, "DisplayName": label(key.label), "KeyAttributes": list(key.columns)}


class DynamicsAppInstaller:
    """:class:`~salesbridge.crm.ports.CrmAppInstaller` over the Web API.

    Args:
        client: The organization's client.
        metadata: Its metadata cache, dropped after every create (the tables changed).
    """

    def __init__(self, client: DynamicsClient, metadata: DynamicsMetadata) -> None:
        self._client = client
        self._metadata = metadata

    async def observe(self, app: CrmApp) -> ObservedCrm:
        """See the port: one existence read per table, then the columns and keys of each app table found."""
        found: dict[str, ObservedTable] = {}
        app_tables = {table.logical_name for table in app.tables}
        for name in observed_tables(app):
            page = await self._client.get_json(
                "EntityDefinitions",
                params={"$select": _TABLE_SELECT, "$filter": f"LogicalName eq {quote_literal(name)}"},
            )
            rows = [row for row in page.get("value") or [] if isinstance(row, dict)]
            if not rows:
                continue
            row = rows[0]
            columns: frozenset[str] = frozenset()
            keys: dict[str, str] = {}
            if name in app_tables:
                path = f"EntityDefinitions(LogicalName={quote_literal(name)})"
                columns = frozenset(row["LogicalName"] for row in await self._rows(f"{path}/Attributes", "LogicalName"))
                keys = {
                    row["LogicalName"]: str(row.get("EntityKeyIndexStatus") or "Active")
                    for row in await self._rows(f"{path}/Keys", "LogicalName,EntityKeyIndexStatus")
                }
            found[name] = ObservedTable(
                logical_name=name,
                is_activity=bool(row.get("IsActivity")),
                has_activities=bool(row.get("HasActivities")),
                has_notes=bool(row.get("HasNotes")),
                columns=columns,
                keys=frozenset(keys),
                key_states={key: state for key, state in keys.items() if state != "Active"},
                description=label_text(row.get("Description"), ENGLISH),
            )
        return ObservedCrm(found)

    async def create(self, app: CrmApp, items: Sequence[MissingItem]) -> None:
        """See the port."""
        try:
            for item in items:
                if item.installable:
                    await self._create(app, item)
        finally:
            self._metadata.forget()

    async def _create(self, app: CrmApp, item: MissingItem) -> None:
        table = app_table(item.table, app)
        if item.kind is MissingKind.TABLE:
            await self._post("EntityDefinitions", table_body(table, app.version), slow=True)
            return
        path = f"EntityDefinitions(LogicalName={quote_literal(table.logical_name)})"
        if item.kind is MissingKind.COLUMN:
            column = next(c for c in table.columns if c.logical_name == item.name)
            if column.kind is ColumnKind.LOOKUP:
                await self._post("RelationshipDefinitions", relationship_body(table, column), slow=True)
            else:
                await self._post(f"{path}/Attributes", column_body(column), slow=False)
            return
        key = next(k for k in table.keys if k.logical_name == item.name)
        await self._post(f"{path}/Keys", key_body(key), slow=True)

    async def _post(self, target: str, body: Any, *, slow: bool) -> None:
        # A definition created twice is refused (the name is taken), so these are not idempotent: only throttled
        # attempts are retried, and an install interrupted after the server acted is finished by the next one.
        await self._client.post_json(
            target, body, is_idempotent=False, call_class=CallClass.BULK if slow else CallClass.WRITE
        )

    async def _rows(self, target: str, select: str) -> list[JsonObject]:
        """The rows of a metadata collection, ``LogicalName`` in lowercase."""
        page = await self._client.get_json(target, params={"$select": select})
        rows = page.get("value")
        if not isinstance(rows, list):
            raise UnexpectedResponseError("A metadata collection arrived without its 'value' array.")
        return [
            {**row, "LogicalName": str(row["LogicalName"]).lower()}
            for row in rows
            if isinstance(row, dict) and row.get("LogicalName")
        ]
