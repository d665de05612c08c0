"""Definitions as the metadata API writes them: labels, managed properties, options, tables
(``EntityMetadata``), columns (``AttributeMetadata`` and its casts), relationships and keys."""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

from salesbridge.sandbox.catalogue.definitions import (
    HIERARCHICAL_RELATIONSHIPS,
    LOOKUP_TYPES,
    METADATA_TYPE_NAMES,
    AttributeDef,
    AttributeType,
    EntityDef,
    KeyDef,
    ManyToManyDef,
    OptionDef,
    OwnershipType,
    RelationshipDef,
    RequiredLevel,
    stable_id,
)
from salesbridge.sandbox.catalogue.registry import Catalogue
from salesbridge.sandbox.metadata.model import (
    CRM,
    EMPTY_GUID,
    ENGLISH,
    INT32,
    INT64,
    MONEY_LIMIT,
    NUMBER_LIMIT,
    OPTION_CASTS,
    OPTION_SET_TYPE,
    RELATIONSHIP_TYPE,
    SPANISH,
    TYPE_NAMES,
    plural_name,
)
from salesbridge.sandbox.organization.security import VERBS, privilege_id, privilege_name
from salesbridge.sandbox.organization.state import SandboxState

# --------------------------------------------------------------------------------------------------------
# Serialisation: labels, managed properties, options
# --------------------------------------------------------------------------------------------------------


def _localized(text: str, language: int, managed: bool, key: str) -> dict[str, Any]:
    return {
        "Label": text,
        "LanguageCode": language,
        "IsManaged": managed,
        "MetadataId": stable_id("label", key, str(language)),
        "HasChanged": None,
    }


def _label(text: str | None, *, managed: bool, key: str, spanish: str | None = None) -> dict[str, Any]:
    """A ``Label``: localized labels (English, and Spanish when known) and the user's (English) label."""
    if not text:
        return {"LocalizedLabels": [], "UserLocalizedLabel": None}
    english = _localized(text, ENGLISH, managed, key)
    labels = [english]
    if spanish:
        labels.append(_localized(spanish, SPANISH, managed, key))
    return {"LocalizedLabels": labels, "UserLocalizedLabel": dict(english)}


def _managed(value: object, name: str, *, can_change: bool = True) -> dict[str, Any]:
    """A ``BooleanManagedProperty``-shaped value."""
    return {"Value": value, "CanBeChanged": can_change, "ManagedPropertyLogicalName": name}


def _option(option: OptionDef, kind: AttributeType, managed: bool, key: str) -> dict[str, Any]:
    payload: dict[str, Any] = {}
    if kind == AttributeType.STATE:
        payload["@odata.type"] = f"#{CRM}StateOptionMetadata"
    elif kind == AttributeType.STATUS:
        payload["@odata.type"] = f"#{CRM}StatusOptionMetadata"
    payload.update(
        {
            "Value": option.value,
            "Color": None,
            "IsManaged": managed,
            "ExternalValue": None,
            "ParentValues": [],
            "Tag": None,
            "IsHidden": False,
            "MetadataId": None,
            "HasChanged": None,
            "Label": _label(option.label, managed=managed, key=f"{key}:{option.value}", spanish=option.label_es),
            "Description": _label(None, managed=managed, key=""),
        }
    )
    if kind == AttributeType.STATE:
        payload["DefaultStatus"] = option.default_status
        payload["InvariantName"] = option.label.replace(" ", "")
    elif kind == AttributeType.STATUS:
        payload["State"] = option.state
        payload["TransitionData"] = None
    return payload


def option_set_row(
    name: str,
    kind: AttributeType,
    options: Sequence[OptionDef],
    *,
    is_global: bool,
    managed: bool,
    display: str,
    true_label: str = "Yes",
    false_label: str = "No",
) -> dict[str, Any]:
    """An ``OptionSetMetadata`` (or ``BooleanOptionSetMetadata`` for Boolean columns)."""
    key = f"optionset:{name}"
    payload: dict[str, Any] = {
        "MetadataId": stable_id("optionset", name),
        "HasChanged": None,
        "IsCustomOptionSet": not managed,
        "IsGlobal": is_global,
        "IsManaged": managed,
        "IsCustomizable": _managed(True, "iscustomizable", can_change=False),
        "Name": name,
        "ExternalTypeName": None,
        "OptionSetType": "Boolean" if kind == AttributeType.BOOLEAN else kind.value,
        "IntroducedVersion": "1.0",
        "DisplayName": _label(display, managed=managed, key=f"{key}:display"),
        "Description": _label(None, managed=managed, key=""),
    }
    if kind == AttributeType.BOOLEAN:
        payload["@odata.type"] = f"#{CRM}BooleanOptionSetMetadata"
        payload["TrueOption"] = _option(OptionDef(1, true_label), kind, managed, key)
        payload["FalseOption"] = _option(OptionDef(0, false_label), kind, managed, key)
    else:
        payload["@odata.type"] = f"#{CRM}{OPTION_SET_TYPE}"
        payload["Options"] = [_option(option, kind, managed, key) for option in options]
    return payload


# --------------------------------------------------------------------------------------------------------
# Serialisation: tables, columns, relationships, keys
# --------------------------------------------------------------------------------------------------------


def entity_row(catalogue: Catalogue, entity: EntityDef) -> dict[str, Any]:
    """Every ``EntityMetadata`` property of a table (navigation properties excluded)."""
    managed = not entity.is_custom
    key = f"entity:{entity.logical_name}"
    is_party = any(
        r.referencing_entity == "activityparty"
        and r.referencing_attribute == "partyid"
        and r.referenced_entity == entity.logical_name
        for r in catalogue.relationships.values()
    )
    privileges = []
    for verb in VERBS:
        name = privilege_name(verb, entity)
        privileges.append(
            {
                "CanBeBasic": entity.ownership_type == OwnershipType.USER_OWNED,
                "CanBeDeep": entity.ownership_type == OwnershipType.USER_OWNED,
                "CanBeGlobal": True,
                "CanBeLocal": entity.ownership_type == OwnershipType.USER_OWNED,
                "CanBeEntityReference": False,
                "CanBeParentEntityReference": False,
                "Name": name,
                "PrivilegeId": privilege_id(name),
                "PrivilegeType": verb,
            }
        )
    return {
        "MetadataId": entity.metadata_id,
        "HasChanged": None,
        "LogicalName": entity.logical_name,
        "SchemaName": entity.schema_name,
        "EntitySetName": entity.entity_set_name,
        "LogicalCollectionName": entity.entity_set_name,
        "CollectionSchemaName": plural_name(entity.schema_name),
        "PrimaryIdAttribute": entity.primary_id,
        "PrimaryNameAttribute": entity.primary_name or None,
        "PrimaryImageAttribute": None,
        "ObjectTypeCode": entity.object_type_code,
        "OwnershipType": entity.ownership_type.value,
        "TableType": "Standard",
        "IsActivity": entity.is_activity,
        "IsActivityParty": is_party,
        "ActivityTypeMask": 1 if entity.is_activity else 0,
        "IsCustomEntity": entity.is_custom,
        "IsManaged": managed,
        "IsPrivate": False,
        "IsIntersect": False,
        "IsLogicalEntity": False,
        "IsChildEntity": False,
        "IsBPFEntity": False,
        "IsStateModelAware": entity.attribute("statecode") is not None,
        "IsReadOnlyInMobileClient": _managed(False, "canmodifymobileclientreadonly"),
        "ChangeTrackingEnabled": entity.change_tracking_enabled,
        "CanChangeTrackingBeEnabled": _managed(
            entity.can_change_tracking_be_enabled, "canchangetrackingbeenabled", can_change=False
        ),
        "IsOptimisticConcurrencyEnabled": entity.is_optimistic_concurrency_enabled,
        "HasNotes": entity.has_notes,
        "HasActivities": entity.has_activities,
        "HasFeedback": False,
        "HasEmailAddresses": entity.attribute("emailaddress1") is not None,
        "IsAuditEnabled": _managed(False, "canmodifyauditsettings"),
        "IsRetrieveAuditEnabled": False,
        "IsRetrieveMultipleAuditEnabled": False,
        "IsCustomizable": _managed(True, "iscustomizable", can_change=not managed),
        "IsRenameable": _managed(True, "isrenameable"),
        "IsMappable": _managed(True, "ismappable", can_change=False),
        "IsValidForQueue": _managed(False, "canmodifyqueuesettings"),
        "IsConnectionsEnabled": _managed(False, "canmodifyconnectionsettings"),
        "IsDuplicateDetectionEnabled": _managed(False, "canmodifyduplicatedetectionsettings"),
        "IsMailMergeEnabled": _managed(True, "canmodifymailmergesettings"),
        "IsVisibleInMobile": _managed(False, "canmodifymobilevisibility"),
        "IsVisibleInMobileClient": _managed(False, "canmodifymobileclientvisibility"),
        "IsOfflineInMobileClient": _managed(False, "canmodifymobileclientoffline"),
        "CanCreateAttributes": _managed(not entity.is_read_only, "cancreateattributes", can_change=False),
        "CanCreateForms": _managed(True, "cancreateforms"),
        "CanCreateViews": _managed(True, "cancreateviews"),
        "CanCreateCharts": _managed(True, "cancreatecharts"),
        "CanBeRelatedEntityInRelationship": _managed(True, "canberelatedentityinrelationship"),
        "CanBePrimaryEntityInRelationship": _managed(True, "canbeprimaryentityinrelationship"),
        "CanBeInManyToMany": _managed(True, "canbeinmanytomany"),
        "CanBeInCustomEntityAssociation": _managed(True, "canbeincustomentityassociation"),
        "CanEnableSyncToExternalSearchIndex": _managed(True, "canenablesynctoexternalsearchindex"),
        "CanModifyAdditionalSettings": _managed(True, "canmodifyadditionalsettings"),
        "CanChangeHierarchicalRelationship": _managed(True, "canchangehierarchicalrelationship"),
        "SyncToExternalSearchIndex": False,
        "IsValidForAdvancedFind": True,
        "IsImportable": True,
        "IsEnabledForCharts": True,
        "IsEnabledForTrace": False,
        "IsQuickCreateEnabled": False,
        "IsAvailableOffline": False,
        "IsReadingPaneEnabled": True,
        "IsAIRUpdated": False,
        "IsDocumentManagementEnabled": False,
        "IsOneNoteIntegrationEnabled": False,
        "IsKnowledgeManagementEnabled": False,
        "IsInteractionCentricEnabled": False,
        "IsSLAEnabled": False,
        "IsMSTeamsIntegrationEnabled": False,
        "IsBusinessProcessEnabled": False,
        "AutoRouteToOwnerQueue": False,
        "AutoCreateAccessTeams": False,
        "CanTriggerWorkflow": True,
        "DaysSinceRecordLastModified": 0,
        "EntityColor": None,
        "EntityHelpUrl": None,
        "EntityHelpUrlEnabled": False,
        "IconLargeName": None,
        "IconMediumName": None,
        "IconSmallName": None,
        "IconVectorName": None,
        "ExternalName": None,
        "ExternalCollectionName": None,
        "DataProviderId": None,
        "DataSourceId": None,
        "RecurrenceBaseEntityLogicalName": None,
        "ReportViewName": f"Filtered{entity.schema_name}",
        "IntroducedVersion": "1.0" if entity.is_custom else "5.0.0.0",
        "DisplayName": _label(entity.display_name, managed=managed, key=f"{key}:display"),
        "DisplayCollectionName": _label(entity.display_collection_name, managed=managed, key=f"{key}:plural"),
        "Description": _label(entity.description, managed=managed, key=f"{key}:description"),
        "Privileges": privileges,
    }


def _attribute_common(entity: EntityDef, attribute: AttributeDef, column_number: int) -> dict[str, Any]:
    """The ``AttributeMetadata`` properties every column has."""
    managed = not attribute.is_custom
    key = f"attribute:{entity.logical_name}:{attribute.logical_name}"
    return {
        "@odata.type": f"#{CRM}{METADATA_TYPE_NAMES[attribute.type]}",
        "MetadataId": attribute.metadata_id(entity.logical_name),
        "HasChanged": None,
        "LogicalName": attribute.logical_name,
        "SchemaName": attribute.schema_name,
        "EntityLogicalName": entity.logical_name,
        "AttributeType": attribute.type.value,
        "AttributeTypeName": {"Value": TYPE_NAMES[attribute.type]},
        "AttributeOf": None,
        "ColumnNumber": column_number,
        "DisplayName": _label(attribute.display_name, managed=managed, key=f"{key}:display"),
        "Description": _label(attribute.description, managed=managed, key=f"{key}:description"),
        "RequiredLevel": _managed(attribute.required_level.value, "canmodifyrequirementlevelsettings"),
        "IsValidForCreate": attribute.is_valid_for_create,
        "IsValidForUpdate": attribute.is_valid_for_update,
        "IsValidForRead": attribute.is_valid_for_read,
        "IsValidForForm": True,
        "IsValidForGrid": True,
        "IsValidODataAttribute": True,
        "IsValidForAdvancedFind": _managed(attribute.is_stored, "canmodifysearchsettings"),
        "IsPrimaryId": attribute.is_primary_id,
        "IsPrimaryName": attribute.is_primary_name,
        "IsCustomAttribute": attribute.is_custom,
        "IsManaged": managed,
        "IsLogical": not attribute.is_stored,
        "IsSecured": False,
        "IsFilterable": attribute.is_stored,
        "IsSearchable": attribute.is_stored,
        "IsRetrievable": True,
        "IsRequiredForForm": attribute.required_level == RequiredLevel.SYSTEM_REQUIRED,
        "IsDataSourceSecret": False,
        "IsAuditEnabled": _managed(True, "canmodifyauditsettings"),
        "IsCustomizable": _managed(True, "iscustomizable", can_change=not managed),
        "IsRenameable": _managed(True, "isrenameable"),
        "IsGlobalFilterEnabled": _managed(False, "canmodifyglobalfiltersettings"),
        "IsSortableEnabled": _managed(False, "canmodifyissortablesettings"),
        "CanModifyAdditionalSettings": _managed(True, "canmodifyadditionalsettings"),
        "CanBeSecuredForCreate": attribute.is_custom,
        "CanBeSecuredForRead": attribute.is_custom,
        "CanBeSecuredForUpdate": attribute.is_custom,
        "SourceType": 0,
        "AutoNumberFormat": None,
        "ExternalName": None,
        "LinkedAttributeId": None,
        "DeprecatedVersion": None,
        "IntroducedVersion": "1.0" if attribute.is_custom else "5.0.0.0",
    }


def _attribute_specific(entity: EntityDef, attribute: AttributeDef) -> dict[str, Any]:
    """The properties of the column's derived metadata type (``MaxLength``, ``Targets``, ``Precision`` …)."""
    kind = attribute.type
    if kind == AttributeType.STRING:
        length = attribute.max_length or 100
        return {
            "MaxLength": length,
            "DatabaseLength": length * 2,
            "Format": "Text",
            "FormatName": {"Value": "Text"},
            "ImeMode": "Auto",
            "IsLocalizable": False,
            "YomiOf": None,
            "FormulaDefinition": None,
            "SourceTypeMask": 0,
        }
    if kind == AttributeType.MEMO:
        length = attribute.max_length or 2000
        return {
            "MaxLength": length,
            "DatabaseLength": length * 2,
            "Format": "TextArea",
            "FormatName": {"Value": "TextArea"},
            "ImeMode": "Auto",
            "IsLocalizable": False,
        }
    if kind in (AttributeType.INTEGER, AttributeType.BIGINT):
        low, high = INT32 if kind == AttributeType.INTEGER else INT64
        payload: dict[str, Any] = {
            "MinValue": _number(attribute.min_value, low),
            "MaxValue": _number(attribute.max_value, high),
        }
        if kind == AttributeType.INTEGER:
            payload.update({"Format": "None", "FormulaDefinition": None, "SourceTypeMask": 0})
        return payload
    if kind in (AttributeType.DECIMAL, AttributeType.DOUBLE, AttributeType.MONEY):
        limit = MONEY_LIMIT if kind == AttributeType.MONEY else NUMBER_LIMIT
        payload = {
            "Precision": attribute.precision if attribute.precision is not None else 2,
            "MinValue": attribute.min_value if attribute.min_value is not None else -limit,
            "MaxValue": attribute.max_value if attribute.max_value is not None else limit,
            "ImeMode": "Auto",
        }
        if kind == AttributeType.MONEY:
            is_base = attribute.logical_name.endswith("_base")
            payload.update(
                {
                    "PrecisionSource": 2,
                    "IsBaseCurrency": is_base,
                    "CalculationOf": attribute.logical_name[: -len("_base")] if is_base else None,
                    "FormulaDefinition": None,
                    "SourceTypeMask": 0,
                }
            )
        else:
            payload.update({"FormulaDefinition": None, "SourceTypeMask": 0})
        return payload
    if kind == AttributeType.BOOLEAN:
        return {"DefaultValue": bool(attribute.default_value), "FormulaDefinition": None, "SourceTypeMask": 0}
    if kind == AttributeType.DATETIME:
        behavior = "DateOnly" if attribute.date_only else "UserLocal"
        return {
            "Format": "DateOnly" if attribute.date_only else "DateAndTime",
            "DateTimeBehavior": {"Value": behavior},
            "CanChangeDateTimeBehavior": _managed(attribute.is_custom, "canchangedatetimebehavior"),
            "ImeMode": "Inactive",
            "MinSupportedValue": "1753-01-01T00:00:00Z",
            "MaxSupportedValue": "9999-12-30T23:59:59Z",
            "FormulaDefinition": None,
            "SourceTypeMask": 0,
        }
    if kind in LOOKUP_TYPES or kind == AttributeType.PARTYLIST:
        return {"Targets": list(attribute.targets), "Format": "None"}
    if kind in (AttributeType.PICKLIST, AttributeType.STATUS):
        default = attribute.default_value if isinstance(attribute.default_value, int) else -1
        payload = {"DefaultFormValue": default, "FormulaDefinition": None, "SourceTypeMask": 0}
        if kind == AttributeType.PICKLIST:
            payload.update({"ParentPicklistLogicalName": None, "ChildPicklistLogicalNames": []})
        return payload
    if kind == AttributeType.STATE:
        return {"DefaultFormValue": -1}
    if kind == AttributeType.ENTITYNAME:
        return {"IsEntityReferenceStored": True}
    del entity
    return {}


def _number(value: float | None, default: int) -> int | float:
    if value is None:
        return default
    return int(value) if float(value).is_integer() else value


def attribute_row(entity: EntityDef, attribute: AttributeDef, column_number: int = 0) -> dict[str, Any]:
    row = _attribute_common(entity, attribute, column_number)
    row.update(_attribute_specific(entity, attribute))
    return row


def attribute_rows(entity: EntityDef) -> list[tuple[AttributeDef, dict[str, Any]]]:
    return [
        (attribute, attribute_row(entity, attribute, number))
        for number, attribute in enumerate(entity.attributes.values(), start=1)
    ]


def _base_attribute_properties() -> frozenset[str]:
    sample = EntityDef("x", "xs", "xid", "name", 0)
    return frozenset(_attribute_common(sample, AttributeDef("a", AttributeType.VIRTUAL), 0))


BASE_ATTRIBUTE_PROPERTIES = _base_attribute_properties()


def cast_properties(cast: str) -> frozenset[str]:
    """The properties ``$select`` may name after a cast to ``cast`` (base plus derived)."""
    sample = EntityDef("x", "xs", "xid", "name", 0)
    names = set(BASE_ATTRIBUTE_PROPERTIES)
    for kind in cast_types(cast):
        names.update(_attribute_specific(sample, AttributeDef("a", kind)))
    if cast in OPTION_CASTS:
        names.update({"OptionSet", "GlobalOptionSet"})
    return frozenset(names)


def cast_types(cast: str) -> frozenset[AttributeType]:
    return frozenset(kind for kind, name in METADATA_TYPE_NAMES.items() if name == cast)


def relationship_row(relationship: RelationshipDef, *, typed: bool) -> dict[str, Any]:
    """A ``OneToManyRelationshipMetadata``; ``typed`` adds ``@odata.type`` (RelationshipDefinitions)."""
    managed = not relationship.is_custom
    row: dict[str, Any] = {}
    if typed:
        row["@odata.type"] = f"#{CRM}{RELATIONSHIP_TYPE}"
    row.update(
        {
            "MetadataId": relationship.metadata_id(),
            "HasChanged": None,
            "SchemaName": relationship.schema_name,
            "RelationshipType": "OneToManyRelationship",
            "IsCustomRelationship": relationship.is_custom,
            "IsManaged": managed,
            "IsValidForAdvancedFind": True,
            "IsHierarchical": relationship.schema_name in HIERARCHICAL_RELATIONSHIPS,
            "IsCustomizable": _managed(True, "iscustomizable", can_change=not managed),
            "SecurityTypes": "Append" if managed else "None",
            "IntroducedVersion": "1.0" if relationship.is_custom else "5.0.0.0",
            "ReferencedAttribute": relationship.referenced_attribute,
            "ReferencedEntity": relationship.referenced_entity,
            "ReferencingAttribute": relationship.referencing_attribute,
            "ReferencingEntity": relationship.referencing_entity,
            "ReferencedEntityNavigationPropertyName": relationship.referenced_nav,
            "ReferencingEntityNavigationPropertyName": relationship.referencing_nav,
            "RelationshipBehavior": 0,
            "IsDenormalizedLookup": None,
            "DenormalizedAttributeName": None,
            "EntityKey": None,
            "RelationshipAttributes": [],
            "CascadeConfiguration": relationship.cascade.to_metadata(),
            "AssociatedMenuConfiguration": _menu_configuration(managed=managed),
        }
    )
    return row


def _menu_configuration(*, managed: bool) -> dict[str, Any]:
    """An ``AssociatedMenuConfiguration`` as Dataverse reports one left at its defaults."""
    return {
        "Behavior": "UseCollectionName",
        "Group": "Details",
        "Label": _label(None, managed=managed, key=""),
        "Order": 10000,
        "IsCustomizable": True,
        "Icon": None,
        "ViewId": EMPTY_GUID,
        "AvailableOffline": True,
        "MenuId": None,
        "QueryApi": None,
    }


def many_to_many_row(relationship: ManyToManyDef, *, typed: bool) -> dict[str, Any]:
    """A ``ManyToManyRelationshipMetadata``; ``typed`` adds ``@odata.type`` (RelationshipDefinitions)."""
    managed = not relationship.is_custom
    row: dict[str, Any] = {}
    if typed:
        row["@odata.type"] = f"#{CRM}ManyToManyRelationshipMetadata"

    row.update(
        {
            "MetadataId": relationship.metadata_id(),
            "HasChanged": None,
            "SchemaName": relationship.schema_name,
            "RelationshipType": "ManyToManyRelationship",
            "IsCustomRelationship": relationship.is_custom,
            "IsManaged": managed,
            "IsValidForAdvancedFind": True,
            "IsCustomizable": _managed(True, "iscustomizable", can_change=not managed),
            "SecurityTypes": "None",
            "IntroducedVersion": "1.0",
            "Entity1LogicalName": relationship.entity1,
            "Entity2LogicalName": relationship.entity2,
            "IntersectEntityName": relationship.intersect,
            "Entity1IntersectAttribute": relationship.entity1_column,
            "Entity2IntersectAttribute": relationship.entity2_column,
            "Entity1NavigationPropertyName": relationship.entity1_nav,
            "Entity2NavigationPropertyName": relationship.entity2_nav,
            "Entity1AssociatedMenuConfiguration": _menu_configuration(managed=managed),
            "Entity2AssociatedMenuConfiguration": _menu_configuration(managed=managed),
        }
    )
    return row


def key_row(entity: EntityDef, key: KeyDef, status: str = "Active") -> dict[str, Any]:
    managed = False  # keys only come from the metadata API: unmanaged customizations
    return {
        "MetadataId": key.metadata_id(entity.logical_name),
        "HasChanged": None,
        "LogicalName": key.logical_name,
        "SchemaName": key.schema_name or key.logical_name,
        "EntityLogicalName": entity.logical_name,
        "KeyAttributes": list(key.key_attributes),
        "DisplayName": _label(
            key.display_name or key.schema_name or key.logical_name,
            managed=managed,
            key=f"key:{entity.logical_name}:{key.logical_name}",
        ),
        "EntityKeyIndexStatus": status,
        "AsyncJob": None,
        "IsCustomizable": _managed(True, "iscustomizable"),
        "IsManaged": managed,
        "IsSecondaryKey": False,
        "IsExportKey": False,
        "IsSynchronous": False,
        "IntroducedVersion": "1.0",
    }


def failed_keys_of(state: SandboxState, entity: EntityDef) -> list[KeyDef]:
    """Keys whose unique index could not be built (duplicate values): ``EntityKeyIndexStatus`` Failed."""
    stored = state.storage.get_meta(failed_keys_meta(entity))
    if not stored:
        return []
    return [
        KeyDef(item["logical_name"], tuple(item["key_attributes"]), item["schema_name"], item["display_name"])
        for item in json.loads(stored)
    ]


def failed_keys_meta(entity: EntityDef) -> str:
    return f"metadata:failed_keys:{entity.logical_name}"


def save_failed_keys(state: SandboxState, entity: EntityDef, keys: Sequence[KeyDef]) -> None:
    state.storage.set_meta(
        failed_keys_meta(entity),
        json.dumps(
            [
                {
                    "logical_name": k.logical_name,
                    "key_attributes": list(k.key_attributes),
                    "schema_name": k.schema_name,
                    "display_name": k.display_name,
                }
                for k in keys
            ]
        ),
    )
