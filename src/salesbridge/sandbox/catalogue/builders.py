"""The vocabulary the standard tables are written in: required levels, choices, column constructors, table
flags, and relationship specs (:mod:`.standard_tables` and :mod:`.standard_activities` are written with it; the
metadata API builds the system columns of custom tables with it)."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any, NamedTuple

from salesbridge.sandbox.catalogue.definitions import (
    BULK_MESSAGES,
    AttributeDef,
    AttributeType,
    EntityDef,
    OptionDef,
    OwnershipType,
    RequiredLevel,
)

NONE = RequiredLevel.NONE
RECOMMENDED = RequiredLevel.RECOMMENDED
REQUIRED = RequiredLevel.APPLICATION_REQUIRED
SYSTEM = RequiredLevel.SYSTEM_REQUIRED

#: The pseudo-table an Owner lookup relates to (systemuser or team).
OWNER = "owner"

#: Table flags of the four sales tables.
SALES_TABLE: dict[str, Any] = {
    "change_tracking_enabled": True,
    "has_notes": True,
    "has_activities": True,
    "bulk_messages": frozenset(BULK_MESSAGES),
}
BUSINESS_OWNED: dict[str, Any] = {
    "ownership_type": OwnershipType.BUSINESS_OWNED,
    "change_tracking_enabled": True,
}
CONFIGURATION: dict[str, Any] = {
    "ownership_type": OwnershipType.ORGANIZATION_OWNED,
    "change_tracking_enabled": False,
}

_INT_MIN, _INT_MAX = -2147483648, 2147483647
_MONEY_BASE_LIMIT = 922337203685477


# --- choices -------------------------------------------------------------------------------------------


def opt(value: int, label: str, es: str | None = None) -> OptionDef:
    """A choice option (with its Spanish label where a Spanish-speaking admin sees it)."""
    return OptionDef(value, label, es)


def state(value: int, label: str, default_status: int, es: str | None = None) -> OptionDef:
    """A statecode option with the status reason a record gets on entering the state."""
    return OptionDef(value, label, es, default_status=default_status)


def status(value: int, label: str, of_state: int, es: str | None = None) -> OptionDef:
    """A statuscode option belonging to a state."""
    return OptionDef(value, label, es, state=of_state)


def choices(labels: str, start: int = 1) -> tuple[OptionDef, ...]:
    """Options with consecutive values from ``start``, labels separated by ``|``."""
    return tuple(OptionDef(start + i, label) for i, label in enumerate(labels.split("|")))


def options(*pairs: tuple[int, str]) -> tuple[OptionDef, ...]:
    """Options from (value, label) pairs, for non-consecutive values."""
    return tuple(OptionDef(value, label) for value, label in pairs)


ACTIVE_STATES = (state(0, "Active", 1), state(1, "Inactive", 2))
ACTIVE_STATUSES = (status(1, "Active", 0), status(2, "Inactive", 1))
PRIORITIES = choices("Low|Normal|High", 0)
RATINGS = choices("Hot|Warm|Cold")
CONTACT_METHODS = choices("Any|Email|Phone|Fax|Mail")
PURCHASE_TIMEFRAMES = choices("Immediate|This Quarter|Next Quarter|This Year|Unknown", 0)
PURCHASE_PROCESSES = choices("Individual|Committee|Unknown", 0)
BUDGET_STATUSES = choices("No Committed Budget|May Buy|Can Buy|Will Buy", 0)
NEEDS = choices("Must have|Should have|Good to have|No need", 0)
INITIAL_COMMUNICATIONS = choices("Contacted|Not Contacted", 0)

#: Industry (account and lead). English labels from the docs; the Spanish ones render the es-ES UI terms
#: of Dynamics 365 (undocumented in the sources read; our rendering).
INDUSTRIES: tuple[tuple[str, str], ...] = (
    ("Accounting", "Contabilidad"),
    ("Agriculture and Non-petrol Natural Resource Extraction", "Agricultura y extracción no petrolífera"),
    ("Broadcasting Printing and Publishing", "Radiodifusión, impresión y publicación"),
    ("Brokers", "Agentes"),
    ("Building Supply Retail", "Venta minorista de materiales de construcción"),
    ("Business Services", "Servicios empresariales"),
    ("Consulting", "Consultoría"),
    ("Consumer Services", "Servicios al consumidor"),
    ("Design, Direction and Creative Management", "Diseño, dirección y gestión creativa"),
    ("Distributors, Dispatchers and Processors", "Distribuidores, expedidores y procesadores"),
    ("Doctor's Offices and Clinics", "Consultorios médicos y clínicas"),
    ("Durable Manufacturing", "Fabricación de bienes duraderos"),
    ("Eating and Drinking Places", "Restaurantes y bares"),
    ("Entertainment Retail", "Venta minorista de ocio"),
    ("Equipment Rental and Leasing", "Alquiler y arrendamiento de equipos"),
    ("Financial", "Finanzas"),
    ("Food and Tobacco Processing", "Procesamiento de alimentos y tabaco"),
    ("Inbound Capital Intensive Processing", "Procesamiento intensivo en capital"),
    ("Inbound Repair and Services", "Reparación y servicios"),
    ("Insurance", "Seguros"),
    ("Legal Services", "Servicios jurídicos"),
    ("Non-Durable Merchandise Retail", "Venta minorista de bienes no duraderos"),
    ("Outbound Consumer Service", "Servicio al consumidor externo"),
    ("Petrochemical Extraction and Distribution", "Extracción y distribución petroquímica"),
    ("Service Retail", "Venta minorista de servicios"),
    ("SIG Affiliations", "Afiliaciones SIG"),
    ("Social Services", "Servicios sociales"),
    ("Special Outbound Trade Contractors", "Contratistas comerciales especializados"),
    ("Specialty Realty", "Inmobiliaria especializada"),
    ("Transportation", "Transporte"),
    ("Utility Creation and Distribution", "Generación y distribución de suministros"),
    ("Vehicle Retail", "Venta minorista de vehículos"),
    ("Wholesale", "Venta al por mayor"),
)


def industry_options() -> tuple[OptionDef, ...]:
    """The industrycode options (1 to 33) shared by account and lead."""
    return tuple(opt(value, label, es) for value, (label, es) in enumerate(INDUSTRIES, start=1))


# --- columns -------------------------------------------------------------------------------------------


def column(
    name: str,
    kind: AttributeType,
    display: str,
    *,
    required: RequiredLevel = NONE,
    create: bool = True,
    update: bool = True,
    read_only: bool = False,
    **extra: Any,
) -> AttributeDef:
    """Any column. ``read_only`` means neither valid for create nor for update."""
    return AttributeDef(
        logical_name=name,
        type=kind,
        display_name=display,
        required_level=required,
        is_valid_for_create=create and not read_only,
        is_valid_for_update=update and not read_only,
        **extra,
    )


def pk(name: str, display: str) -> AttributeDef:
    """The primary key: a client may choose it on create, never change it."""
    return column(name, AttributeType.UNIQUEIDENTIFIER, display, required=SYSTEM, update=False, is_primary_id=True)


def string(name: str, display: str, max_length: int, **kw: Any) -> AttributeDef:
    """A single line of text."""
    return column(name, AttributeType.STRING, display, max_length=max_length, **kw)


def primary_name(name: str, display: str, max_length: int, **kw: Any) -> AttributeDef:
    """The primary name column."""
    return column(name, AttributeType.STRING, display, max_length=max_length, is_primary_name=True, **kw)


def memo(name: str, display: str, max_length: int, **kw: Any) -> AttributeDef:
    """Multiple lines of text."""
    return column(name, AttributeType.MEMO, display, max_length=max_length, **kw)


def integer(name: str, display: str, low: float = _INT_MIN, high: float = _INT_MAX, **kw: Any) -> AttributeDef:
    """A whole number."""
    return column(name, AttributeType.INTEGER, display, min_value=low, max_value=high, **kw)


def bigint(name: str, display: str, **kw: Any) -> AttributeDef:
    """A 64-bit whole number."""
    return column(name, AttributeType.BIGINT, display, **kw)


def decimal(name: str, display: str, precision: int, low: float, high: float, **kw: Any) -> AttributeDef:
    """A decimal number."""
    return column(name, AttributeType.DECIMAL, display, precision=precision, min_value=low, max_value=high, **kw)


def double(name: str, display: str, precision: int, low: float, high: float, **kw: Any) -> AttributeDef:
    """A floating point number."""
    return column(name, AttributeType.DOUBLE, display, precision=precision, min_value=low, max_value=high, **kw)


def money(name: str, display: str, low: float = 0, high: float = 1e14, **kw: Any) -> list[AttributeDef]:
    """A currency column (2 decimals) and its read-only base-currency twin ``<name>_base`` (4 decimals)."""
    limit = _MONEY_BASE_LIMIT
    return [
        column(name, AttributeType.MONEY, display, precision=2, min_value=low, max_value=high, **kw),
        column(
            f"{name}_base",
            AttributeType.MONEY,
            f"{display} (Base)",
            read_only=True,
            precision=4,
            min_value=-limit,
            max_value=limit,
        ),
    ]


def boolean(
    name: str, display: str, yes: str = "Yes", no: str = "No", default: bool = False, **kw: Any
) -> AttributeDef:
    """A two-option column; ``default`` is applied on create."""
    return column(name, AttributeType.BOOLEAN, display, true_label=yes, false_label=no, default_value=default, **kw)


def datetime_(name: str, display: str, *, date_only: bool = False, **kw: Any) -> AttributeDef:
    """A date and time (UserLocal), or a date (DateOnly behaviour, ``yyyy-MM-dd``) with ``date_only``."""
    return column(name, AttributeType.DATETIME, display, date_only=date_only, **kw)


def guid(name: str, display: str, **kw: Any) -> AttributeDef:
    """A unique identifier that is not the primary key."""
    return column(name, AttributeType.UNIQUEIDENTIFIER, display, **kw)


def picklist(
    name: str, display: str, values: tuple[OptionDef, ...], default: int | None = None, **kw: Any
) -> AttributeDef:
    """A local choice; ``default`` is applied on create."""
    return column(name, AttributeType.PICKLIST, display, options=values, default_value=default, **kw)


def lookup(name: str, display: str, *targets: str, **kw: Any) -> AttributeDef:
    """A lookup to one or more tables (one relationship per target)."""
    return column(name, AttributeType.LOOKUP, display, targets=targets, **kw)


def customer(name: str, display: str, **kw: Any) -> AttributeDef:
    """A Customer lookup (account or contact)."""
    return column(name, AttributeType.CUSTOMER, display, targets=("account", "contact"), **kw)


def entity_name(name: str, display: str, **kw: Any) -> AttributeDef:
    """A table logical name (EntityName)."""
    return column(name, AttributeType.ENTITYNAME, display, **kw)


def party_list(name: str, display: str, **kw: Any) -> AttributeDef:
    """An activity party list (stored as activityparty rows, not as a column)."""
    return column(name, AttributeType.PARTYLIST, display, targets=("account", "contact", "lead", "systemuser"), **kw)


def state_columns(
    states: tuple[OptionDef, ...], statuses: tuple[OptionDef, ...], label: str = "Status"
) -> list[AttributeDef]:
    """statecode (SystemRequired; not valid for create: records start in their first state) and statuscode."""
    return [
        column("statecode", AttributeType.STATE, label, required=SYSTEM, create=False, options=states),
        column("statuscode", AttributeType.STATUS, "Status Reason", options=statuses),
    ]


def audit_columns() -> list[AttributeDef]:
    """Created/modified on and by (with delegates) and the row version: maintained by the platform."""
    return [
        datetime_("createdon", "Created On", read_only=True),
        lookup("createdby", "Created By", "systemuser", read_only=True),
        lookup("createdonbehalfby", "Created By (Delegate)", "systemuser", read_only=True),
        datetime_("modifiedon", "Modified On", read_only=True),
        lookup("modifiedby", "Modified By", "systemuser", read_only=True),
        lookup("modifiedonbehalfby", "Modified By (Delegate)", "systemuser", read_only=True),
        bigint("versionnumber", "Version Number", read_only=True),
    ]


def owner_columns(*, user: bool = True, team: bool = True) -> list[AttributeDef]:
    """ownerid (Owner: systemuser or team) and the read-only owning business unit, user and team."""
    columns = [
        column("ownerid", AttributeType.OWNER, "Owner", required=SYSTEM, targets=("systemuser", "team")),
        lookup("owningbusinessunit", "Owning Business Unit", "businessunit", read_only=True),
    ]
    if user:
        columns.append(lookup("owninguser", "Owning User", "systemuser", read_only=True))
    if team:
        columns.append(lookup("owningteam", "Owning Team", "team", read_only=True))
    return columns


def currency_columns(required: RequiredLevel = NONE) -> list[AttributeDef]:
    """The record currency and its exchange rate to the base currency (set by the platform)."""
    return [
        lookup("transactioncurrencyid", "Currency", "transactioncurrency", required=required),
        decimal("exchangerate", "Exchange Rate", 10, 1e-10, 1e11, read_only=True),
    ]


def import_columns() -> list[AttributeDef]:
    """Migration columns: valid on create only (overriddencreatedon sets createdon)."""
    return [
        integer("importsequencenumber", "Import Sequence Number", update=False),
        datetime_("overriddencreatedon", "Record Created On", update=False),
    ]


def process_columns() -> list[AttributeDef]:
    """Business process flow position."""
    return [
        guid("processid", "Process"),
        guid("stageid", "Process Stage"),
        string("traversedpath", "Traversed Path", 1250),
    ]


def timezone_columns() -> list[AttributeDef]:
    """Time zone bookkeeping."""
    return [
        integer("timezoneruleversionnumber", "Time Zone Rule Version Number", -1),
        integer("utcconversiontimezonecode", "UTC Conversion Time Zone Code", -1),
    ]


def address_columns(
    line: int = 250, city: int = 80, region: int = 50, postal: int = 20, country: int = 80
) -> list[AttributeDef]:
    """The primary address (address1_*) with its read-only composite."""
    return [
        string("address1_name", "Address 1: Name", 200),
        string("address1_line1", "Address 1: Street 1", line),
        string("address1_line2", "Address 1: Street 2", line),
        string("address1_line3", "Address 1: Street 3", line),
        string("address1_city", "Address 1: City", city),
        string("address1_stateorprovince", "Address 1: State/Province", region),
        string("address1_postalcode", "Address 1: ZIP/Postal Code", postal),
        string("address1_country", "Address 1: Country/Region", country),
        string("address1_telephone1", "Address Phone", 50),
        double("address1_latitude", "Address 1: Latitude", 5, -90, 90),
        double("address1_longitude", "Address 1: Longitude", 5, -180, 180),
        memo("address1_composite", "Address 1", 1000, read_only=True),
    ]


def preference_columns() -> list[AttributeDef]:
    """Contact preferences shared by account, contact and lead."""
    return [
        picklist("preferredcontactmethodcode", "Preferred Method of Contact", CONTACT_METHODS, 1),
        boolean("donotemail", "Do not allow Emails", "Do Not Allow", "Allow"),
        boolean("donotphone", "Do not allow Phone Calls", "Do Not Allow", "Allow"),
        boolean("donotbulkemail", "Do not allow Bulk Emails", "Do Not Allow", "Allow"),
        boolean("followemail", "Follow Email Activity", "Allow", "Do Not Allow", default=True),
    ]


def record_columns(*, owned: bool = True, currency: RequiredLevel | None = NONE) -> list[AttributeDef]:
    """The system columns of an ordinary record: import, currency, ownership, audit."""
    columns = import_columns()
    if currency is not None:
        columns += currency_columns(currency)
    if owned:
        columns += owner_columns()
    return columns + audit_columns()


def table(
    ident: tuple[str, str, str, str, int],
    names: tuple[str, str, str],
    columns: Iterable[AttributeDef],
    **kw: Any,
) -> EntityDef:
    """A table. ``ident`` is (logical name, entity set, primary id, primary name, object type code);
    ``names`` is (SchemaName, DisplayName, DisplayCollectionName)."""
    logical_name, entity_set, primary_id, primary_name_attribute, otc = ident
    schema, display, plural = names
    entity = EntityDef(
        logical_name=logical_name,
        entity_set_name=entity_set,
        primary_id=primary_id,
        primary_name=primary_name_attribute,
        object_type_code=otc,
        schema_name=schema,
        display_name=display,
        display_collection_name=plural,
        **kw,
    )
    entity.add(*columns)
    return entity


# --- relationships -------------------------------------------------------------------------------------


class Rel(NamedTuple):
    """A relationship as written down; its referenced navigation property is its schema name."""

    schema: str
    entity: str
    attribute: str
    target: str
    nav: str


def rel(schema: str, entity: str, attribute: str, target: str, nav: str | None = None) -> Rel:
    """A relationship whose single-valued navigation property defaults to the attribute name."""
    return Rel(schema, entity, attribute, target, nav or attribute)


def audit_rels(entity: str, pattern: str, delegate_pattern: str | None = None, suffix: str = "") -> list[Rel]:
    """The created/modified-by relationships. ``pattern`` names them from the lookup (``lk_accountbase_{}``);
    ``delegate_pattern`` names the on-behalf-of pair when it differs; activities suffix their navs."""
    delegates = delegate_pattern or pattern
    names = {
        "createdby": pattern,
        "createdonbehalfby": delegates,
        "modifiedby": pattern,
        "modifiedonbehalfby": delegates,
    }
    return [rel(name.format(lookup), entity, lookup, "systemuser", lookup + suffix) for lookup, name in names.items()]


def owner_rels(entity: str, owner: str, unit: str, user: str | None, team: str | None, suffix: str = "") -> list[Rel]:
    """ownerid (to the owner pseudo-table) and the owning business unit, user and team."""
    rels = [
        rel(owner, entity, "ownerid", OWNER, f"ownerid{suffix}"),
        rel(unit, entity, "owningbusinessunit", "businessunit", f"owningbusinessunit{suffix}"),
    ]
    if user:
        rels.append(rel(user, entity, "owninguser", "systemuser", f"owninguser{suffix}"))
    if team:
        rels.append(rel(team, entity, "owningteam", "team", f"owningteam{suffix}"))
    return rels


def currency_rel(entity: str, schema: str, suffix: str = "") -> Rel:
    """The transaction currency relationship."""
    return rel(schema, entity, "transactioncurrencyid", "transactioncurrency", f"transactioncurrencyid{suffix}")
