"""Table and column definitions of the sandbox: the data behind EntityDefinitions and the storage layout.

The shapes follow Dataverse's metadata model (EntityMetadata, AttributeMetadata, OneToManyRelationshipMetadata,
EntityKeyMetadata) closely enough that the metadata endpoints can serialise them directly.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any


class AttributeType(StrEnum):
    """Dataverse AttributeTypeCode names, as the metadata API spells them."""

    STRING = "String"
    MEMO = "Memo"
    INTEGER = "Integer"
    BIGINT = "BigInt"
    DECIMAL = "Decimal"
    DOUBLE = "Double"
    MONEY = "Money"
    BOOLEAN = "Boolean"
    DATETIME = "DateTime"
    UNIQUEIDENTIFIER = "Uniqueidentifier"
    LOOKUP = "Lookup"
    CUSTOMER = "Customer"
    OWNER = "Owner"
    PICKLIST = "Picklist"
    STATE = "State"
    STATUS = "Status"
    ENTITYNAME = "EntityName"
    PARTYLIST = "PartyList"
    VIRTUAL = "Virtual"


LOOKUP_TYPES = frozenset({AttributeType.LOOKUP, AttributeType.CUSTOMER, AttributeType.OWNER})
OPTION_TYPES = frozenset({AttributeType.PICKLIST, AttributeType.STATE, AttributeType.STATUS})
NUMERIC_TYPES = frozenset(
    {
        AttributeType.INTEGER,
        AttributeType.BIGINT,
        AttributeType.DECIMAL,
        AttributeType.DOUBLE,
        AttributeType.MONEY,
    }
)

#: Attribute type → the metadata cast name (``Microsoft.Dynamics.CRM.<name>``) and the ``@odata.type``.
METADATA_TYPE_NAMES: dict[AttributeType, str] = {
    AttributeType.STRING: "StringAttributeMetadata",
    AttributeType.MEMO: "MemoAttributeMetadata",
    AttributeType.INTEGER: "IntegerAttributeMetadata",
    AttributeType.BIGINT: "BigIntAttributeMetadata",
    AttributeType.DECIMAL: "DecimalAttributeMetadata",
    AttributeType.DOUBLE: "DoubleAttributeMetadata",
    AttributeType.MONEY: "MoneyAttributeMetadata",
    AttributeType.BOOLEAN: "BooleanAttributeMetadata",
    AttributeType.DATETIME: "DateTimeAttributeMetadata",
    AttributeType.UNIQUEIDENTIFIER: "UniqueIdentifierAttributeMetadata",
    AttributeType.LOOKUP: "LookupAttributeMetadata",
    AttributeType.CUSTOMER: "LookupAttributeMetadata",
    AttributeType.OWNER: "LookupAttributeMetadata",
    AttributeType.PICKLIST: "PicklistAttributeMetadata",
    AttributeType.STATE: "StateAttributeMetadata",
    AttributeType.STATUS: "StatusAttributeMetadata",
    AttributeType.ENTITYNAME: "EntityNameAttributeMetadata",
    AttributeType.PARTYLIST: "LookupAttributeMetadata",
    AttributeType.VIRTUAL: "AttributeMetadata",
}


class RequiredLevel(StrEnum):
    """AttributeRequiredLevel values."""

    NONE = "None"
    SYSTEM_REQUIRED = "SystemRequired"
    APPLICATION_REQUIRED = "ApplicationRequired"
    RECOMMENDED = "Recommended"


class OwnershipType(StrEnum):
    """OwnershipTypes values."""

    USER_OWNED = "UserOwned"
    ORGANIZATION_OWNED = "OrganizationOwned"
    BUSINESS_OWNED = "BusinessOwned"
    NONE = "None"


def stable_id(*parts: str) -> str:
    """A deterministic lowercase GUID for a metadata object, so ids survive restarts of the sandbox."""
    return str(uuid.uuid5(uuid.NAMESPACE_URL, "salesbridge-sandbox:" + ":".join(parts)))


@dataclass(frozen=True)
class OptionDef:
    """One choice option. ``state`` is set on status options, ``default_status`` on state options."""

    value: int
    label: str
    label_es: str | None = None
    state: int | None = None
    default_status: int | None = None


@dataclass
class AttributeDef:
    """One column. Lookups (Lookup, Customer, Owner) list their target tables in ``targets``.

    ``max_length`` applies to String and Memo columns and is enforced on write (``0x80044331``).
    ``date_only`` makes a DateTime column serialise as ``yyyy-MM-dd``.
    """

    logical_name: str
    type: AttributeType
    display_name: str = ""
    schema_name: str = ""
    max_length: int | None = None
    targets: tuple[str, ...] = ()
    options: tuple[OptionDef, ...] = ()
    global_option_set: str | None = None
    true_label: str = "Yes"
    false_label: str = "No"
    default_value: object = None
    required_level: RequiredLevel = RequiredLevel.NONE
    is_valid_for_create: bool = True
    is_valid_for_update: bool = True
    is_valid_for_read: bool = True
    is_primary_id: bool = False
    is_primary_name: bool = False
    is_custom: bool = False
    date_only: bool = False
    precision: int | None = None
    min_value: float | None = None
    max_value: float | None = None
    description: str = ""

    def __post_init__(self) -> None:
        if not self.schema_name:
            self.schema_name = self.logical_name
        if not self.display_name:
            self.display_name = self.logical_name

    @property
    def is_lookup(self) -> bool:
        """True for Lookup, Customer and Owner columns."""
        return self.type in LOOKUP_TYPES

    @property
    def is_stored(self) -> bool:
        """False for columns that have no storage of their own (Virtual, PartyList)."""
        return self.type not in (AttributeType.VIRTUAL, AttributeType.PARTYLIST)

    @property
    def json_name(self) -> str:
        """The property name in Web API JSON: ``_x_value`` for lookups, the logical name otherwise."""
        return f"_{self.logical_name}_value" if self.is_lookup else self.logical_name

    def option(self, value: int) -> OptionDef | None:
        """The option with this value, or None."""
        for opt in self.options:
            if opt.value == value:
                return opt
        return None

    def metadata_id(self, entity: str) -> str:
        """A stable MetadataId."""
        return stable_id("attribute", entity, self.logical_name)


class CascadeType(StrEnum):
    """CascadeType values: what an action on a referenced record does to the records referencing it."""

    NO_CASCADE = "NoCascade"
    CASCADE = "Cascade"
    ACTIVE = "Active"
    USER_OWNED = "UserOwned"
    REMOVE_LINK = "RemoveLink"
    RESTRICT = "Restrict"


@dataclass(frozen=True)
class CascadeConfiguration:
    """A one-to-many relationship's CascadeConfiguration (configure-entity-relationship-cascading-behavior.md).

    The sandbox carries out ``delete`` (Cascade, RemoveLink, Restrict, NoCascade); the other actions are reported
    in the metadata only (the sandbox has no assign/share/merge/reparent cascades).
    """

    assign: CascadeType = CascadeType.NO_CASCADE
    delete: CascadeType = CascadeType.REMOVE_LINK
    merge: CascadeType = CascadeType.NO_CASCADE
    reparent: CascadeType = CascadeType.NO_CASCADE
    share: CascadeType = CascadeType.NO_CASCADE
    unshare: CascadeType = CascadeType.NO_CASCADE
    rollup_view: CascadeType = CascadeType.NO_CASCADE
    archive: CascadeType = CascadeType.NO_CASCADE

    def to_metadata(self) -> dict[str, str]:
        """The ``CascadeConfiguration`` complex type of the metadata API."""
        return {
            "Assign": self.assign.value,
            "Delete": self.delete.value,
            "Merge": self.merge.value,
            "Reparent": self.reparent.value,
            "Share": self.share.value,
            "Unshare": self.unshare.value,
            "RollupView": self.rollup_view.value,
            "Archive": self.archive.value,
        }

    @classmethod
    def from_metadata(cls, body: object, default: CascadeConfiguration) -> CascadeConfiguration:
        """Read a ``CascadeConfiguration`` body; absent properties keep ``default``'s.

        Raises:
            ValueError: a value is not a CascadeType name, or ``Delete`` is not Cascade, RemoveLink or Restrict.
        """
        if not isinstance(body, dict):
            return default
        names = {
            "Assign": "assign",
            "Delete": "delete",
            "Merge": "merge",
            "Reparent": "reparent",
            "Share": "share",
            "Unshare": "unshare",
            "RollupView": "rollup_view",
            "Archive": "archive",
        }
        values = {field_name: getattr(default, field_name) for field_name in names.values()}
        for key, field_name in names.items():
            if body.get(key) is not None:
                values[field_name] = CascadeType(str(body[key]))
        if values["delete"] not in (CascadeType.CASCADE, CascadeType.REMOVE_LINK, CascadeType.RESTRICT):
            raise ValueError("The Delete cascade of a relationship must be Cascade, RemoveLink or Restrict.")
        return cls(**values)


REFERENTIAL = CascadeConfiguration()
"""Referential, remove link: the default of a new relationship; deleting the referenced record clears the lookup."""

REFERENTIAL_MERGED = CascadeConfiguration(merge=CascadeType.CASCADE)
"""Referential, remove link, following merges (``lead_parent_account``, ``opportunity_parent_contact`` …)."""

PARENTAL = CascadeConfiguration(
    assign=CascadeType.CASCADE,
    delete=CascadeType.CASCADE,
    merge=CascadeType.CASCADE,
    reparent=CascadeType.CASCADE,
    share=CascadeType.CASCADE,
    unshare=CascadeType.CASCADE,
)
"""Parental: every action follows the parent, so deleting it deletes the children (``contact_customer_accounts``)."""

HIERARCHY = CascadeConfiguration(
    assign=CascadeType.CASCADE,
    merge=CascadeType.CASCADE,
    reparent=CascadeType.CASCADE,
    share=CascadeType.CASCADE,
    unshare=CascadeType.CASCADE,
)
"""A hierarchy of one table (``account_parent_account``): parental for sharing, but a delete only removes the link."""

SYSTEM = CascadeConfiguration(delete=CascadeType.NO_CASCADE)
"""System lookups (created/modified by, owner, owning user and team): nothing cascades."""

RESTRICTED = CascadeConfiguration(delete=CascadeType.RESTRICT, archive=CascadeType.RESTRICT)
"""The owning business unit: it cannot be deleted while records belong to it."""


#: The standard tables' hierarchical relationships (Dataverse's ``IsHierarchical``): the query functions ``Under``,
#: ``Above`` … walk them.
HIERARCHICAL_RELATIONSHIPS = frozenset({"account_parent_account", "user_parent_user"})


@dataclass(frozen=True)
class RelationshipDef:
    """A one-to-many relationship seen from its referencing (many) side.

    ``referencing_nav`` is the single-valued navigation property on the referencing table
    (``customerid_account`` on opportunity); ``referenced_nav`` the collection-valued one on the
    referenced table (``opportunity_customer_accounts`` on account).
    """

    schema_name: str
    referencing_entity: str
    referencing_attribute: str
    referenced_entity: str
    referenced_attribute: str
    referencing_nav: str
    referenced_nav: str
    is_custom: bool = False
    cascade: CascadeConfiguration = REFERENTIAL

    def metadata_id(self) -> str:
        """A stable MetadataId."""
        return stable_id("relationship", self.schema_name)


@dataclass(frozen=True)
class ManyToManyDef:
    """A many-to-many relationship: an intersect table holding pairs of ``entity1`` and ``entity2`` keys.

    ``entity1_nav`` is the collection-valued navigation property on ``entity1`` (leading to ``entity2``
    records), ``entity2_nav`` the one on ``entity2``. The intersect table's key columns are
    ``<entity>id``, or ``<entity>idone`` / ``<entity>idtwo`` when both sides are the same table.
    """

    schema_name: str
    entity1: str
    entity2: str
    intersect: str
    entity1_nav: str
    entity2_nav: str
    is_custom: bool = True

    def metadata_id(self) -> str:
        """A stable MetadataId."""
        return stable_id("relationship", self.schema_name)

    @property
    def entity1_column(self) -> str:
        """The intersect table's column holding ``entity1`` keys."""
        return f"{self.entity1}idone" if self.entity1 == self.entity2 else f"{self.entity1}id"

    @property
    def entity2_column(self) -> str:
        """The intersect table's column holding ``entity2`` keys."""
        return f"{self.entity2}idtwo" if self.entity1 == self.entity2 else f"{self.entity2}id"

    def side(self, logical_name: str, nav: str) -> tuple[str, str, str] | None:
        """For the navigation property ``nav`` of ``logical_name``: (its own intersect column, the other side's
        column, the other table), or None when ``nav`` is not one of this relationship's."""
        if logical_name == self.entity1 and nav == self.entity1_nav:
            return self.entity1_column, self.entity2_column, self.entity2
        if logical_name == self.entity2 and nav == self.entity2_nav:
            return self.entity2_column, self.entity1_column, self.entity1
        return None


@dataclass(frozen=True)
class KeyDef:
    """An alternate key."""

    logical_name: str
    key_attributes: tuple[str, ...]
    schema_name: str = ""
    display_name: str = ""

    def metadata_id(self, entity: str) -> str:
        """A stable MetadataId."""
        return stable_id("key", entity, self.logical_name)


BULK_MESSAGES = ("CreateMultiple", "UpdateMultiple", "UpsertMultiple")


@dataclass
class EntityDef:
    """One table.

    ``bulk_messages`` lists the bulk actions (CreateMultiple, UpdateMultiple, UpsertMultiple) the table
    supports; the others answer as Dataverse does for a table without the message's sdkmessagefilter.
    """

    logical_name: str
    entity_set_name: str
    primary_id: str
    primary_name: str
    object_type_code: int
    display_name: str = ""
    display_collection_name: str = ""
    schema_name: str = ""
    ownership_type: OwnershipType = OwnershipType.USER_OWNED
    is_activity: bool = False
    is_custom: bool = False
    is_read_only: bool = False
    change_tracking_enabled: bool = True
    can_change_tracking_be_enabled: bool = True
    is_optimistic_concurrency_enabled: bool = True
    has_notes: bool = False
    has_activities: bool = False
    bulk_messages: frozenset[str] = frozenset()
    attributes: dict[str, AttributeDef] = field(default_factory=dict)
    keys: list[KeyDef] = field(default_factory=list)
    description: str = ""

    def __post_init__(self) -> None:
        if not self.schema_name:
            self.schema_name = self.logical_name
        if not self.display_name:
            self.display_name = self.logical_name
        if not self.display_collection_name:
            self.display_collection_name = self.entity_set_name

    @property
    def metadata_id(self) -> str:
        """A stable MetadataId."""
        return stable_id("entity", self.logical_name)

    def attribute(self, name: str) -> AttributeDef | None:
        """The column with this logical name, or None."""
        return self.attributes.get(name)

    def add(self, *attributes: AttributeDef) -> None:
        """Add columns (replacing any with the same logical name)."""
        for attribute in attributes:
            self.attributes[attribute.logical_name] = attribute

    @property
    def stored_attributes(self) -> list[AttributeDef]:
        """Columns with storage of their own, primary key first."""
        stored = [a for a in self.attributes.values() if a.is_stored]
        stored.sort(key=lambda a: (not a.is_primary_id, a.logical_name))
        return stored


def quote_ident(name: str) -> str:
    """An SQL identifier, double-quoted."""
    return '"' + name.replace('"', '""') + '"'


def lookup_type_column(attribute: str) -> str:
    """The storage column holding the target table of a lookup value (``<attribute>__type``)."""
    return f"{attribute}__type"


def fill_state_and_status(entity: EntityDef, values: dict[str, Any]) -> None:
    """Default ``statecode`` to the first state and ``statuscode`` to that state's default status, when absent."""
    for attribute in entity.attributes.values():
        name = attribute.logical_name
        if name in values or not attribute.is_stored or not attribute.options:
            continue
        if attribute.type == AttributeType.STATE:
            values[name] = attribute.options[0].value
        elif attribute.type == AttributeType.STATUS:
            state = values.get("statecode", 0)
            state_attr = entity.attribute("statecode")
            option = state_attr.option(int(state)) if state_attr is not None and state is not None else None
            default = option.default_status if option else None
            if default is None:
                default = next((o.value for o in attribute.options if o.state == state), attribute.options[0].value)
            values[name] = default
