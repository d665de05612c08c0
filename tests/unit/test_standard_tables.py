"""The standard catalogue: its tables, relationships and choices are consistent and match documented facts."""

from __future__ import annotations

from collections import Counter

import pytest

from salesbridge.sandbox.catalogue.builders import OWNER
from salesbridge.sandbox.catalogue.definitions import (
    BULK_MESSAGES,
    AttributeDef,
    AttributeType,
    OwnershipType,
    RequiredLevel,
)
from salesbridge.sandbox.catalogue.registry import Catalogue
from salesbridge.sandbox.catalogue.standard_tables import build_standard_catalogue
from salesbridge.sandbox.organization.database import Storage

#: logical name -> (entity set, primary id, primary name, object type code), as Dataverse has them.
TABLES = {
    "account": ("accounts", "accountid", "name", 1),
    "contact": ("contacts", "contactid", "fullname", 2),
    "lead": ("leads", "leadid", "fullname", 4),
    "opportunity": ("opportunities", "opportunityid", "name", 3),
    "systemuser": ("systemusers", "systemuserid", "fullname", 8),
    "team": ("teams", "teamid", "name", 9),
    "businessunit": ("businessunits", "businessunitid", "name", 10),
    "role": ("roles", "roleid", "name", 1036),
    "task": ("tasks", "activityid", "subject", 4212),
    "phonecall": ("phonecalls", "activityid", "subject", 4210),
    "email": ("emails", "activityid", "subject", 4202),
    "annotation": ("annotations", "annotationid", "subject", 5),
    "activityparty": ("activityparties", "activitypartyid", "partyidname", 135),
    "activitypointer": ("activitypointers", "activityid", "subject", 4200),
    "connection": ("connections", "connectionid", "name", 3234),
    "connectionrole": ("connectionroles", "connectionroleid", "name", 3231),
    "transactioncurrency": ("transactioncurrencies", "transactioncurrencyid", "currencyname", 9105),
    "organization": ("organizations", "organizationid", "name", 1019),
    "sdkmessage": ("sdkmessages", "sdkmessageid", "name", 4606),
    "sdkmessagefilter": ("sdkmessagefilters", "sdkmessagefilterid", "name", 4607),
    "privilege": ("privileges", "privilegeid", "name", 1023),
}
SALES = ("account", "contact", "lead", "opportunity")
ACTIVITIES = ("task", "phonecall", "email")
#: Lookups Dataverse documents without a navigation property (the platform fills them).
NAVLESS_LOOKUPS = {("contact", "accountid")}
SYSTEM_COLUMNS = ("createdon", "modifiedon", "createdby", "modifiedby", "versionnumber")


@pytest.fixture(scope="module")
def catalogue() -> Catalogue:
    return build_standard_catalogue()


def col(catalogue: Catalogue, entity: str, name: str) -> AttributeDef:
    """A column that must exist."""
    attribute = catalogue.entity(entity).attribute(name)
    assert attribute is not None, f"{entity}.{name} missing"
    return attribute


def nav(catalogue: Catalogue, entity: str, name: str) -> tuple[str, str, str, str]:
    """(schema name, attribute, referenced table, referenced nav) of a single-valued navigation property."""
    relationship = catalogue.single_valued_nav(entity, name)
    assert relationship is not None, f"{entity}.{name} missing"
    return (
        relationship.schema_name,
        relationship.referencing_attribute,
        relationship.referenced_entity,
        relationship.referenced_nav,
    )


# --- structure -----------------------------------------------------------------------------------------


def test_the_catalogue_holds_the_standard_tables_as_dataverse_names_them(catalogue: Catalogue) -> None:
    assert set(catalogue.entities) == set(TABLES)
    for logical_name, (entity_set, primary_id, primary_name, otc) in TABLES.items():
        entity = catalogue.entity(logical_name)
        assert (entity.entity_set_name, entity.primary_id, entity.primary_name, entity.object_type_code) == (
            entity_set,
            primary_id,
            primary_name,
            otc,
        )
        assert catalogue.entity_by_set(entity_set) is entity


def test_each_call_builds_a_fresh_catalogue(catalogue: Catalogue) -> None:
    other = build_standard_catalogue()
    other.entity("account").attributes.pop("name")
    col(other, "contact", "lastname").max_length = 1
    assert catalogue.entity("account").attribute("name") is not None
    assert col(catalogue, "contact", "lastname").max_length == 50


def test_primary_key_and_primary_name_are_flagged_once(catalogue: Catalogue) -> None:
    for entity in catalogue.entities.values():
        ids = [a for a in entity.attributes.values() if a.is_primary_id]
        names = [a for a in entity.attributes.values() if a.is_primary_name]
        assert [a.logical_name for a in ids] == [entity.primary_id], entity.logical_name
        assert [a.logical_name for a in names] == [entity.primary_name], entity.logical_name
        assert ids[0].type == AttributeType.UNIQUEIDENTIFIER
        assert not ids[0].is_valid_for_update
        assert names[0].type == AttributeType.STRING


def test_every_table_can_be_stored(catalogue: Catalogue) -> None:
    storage = Storage()
    try:
        for entity in catalogue.entities.values():
            storage.ensure_table(entity)
            columns = storage.columns(entity.logical_name)
            assert len(columns) == len(set(columns)), entity.logical_name
    finally:
        storage.close()


def test_system_columns_are_maintained_by_the_platform(catalogue: Catalogue) -> None:
    for entity in catalogue.entities.values():
        for name in (*SYSTEM_COLUMNS, "owninguser", "owningteam", "owningbusinessunit", "exchangerate"):
            attribute = entity.attribute(name)
            if attribute is None or (entity.logical_name, name) == ("transactioncurrency", "exchangerate"):
                continue
            assert not attribute.is_valid_for_create, f"{entity.logical_name}.{name}"
            assert not attribute.is_valid_for_update, f"{entity.logical_name}.{name}"


def test_user_owned_tables_have_owner_and_business_unit(catalogue: Catalogue) -> None:
    for entity in catalogue.entities.values():
        owner = entity.attribute("ownerid")
        if entity.ownership_type == OwnershipType.USER_OWNED:
            assert owner is not None, entity.logical_name
            assert owner.type == AttributeType.OWNER
            assert owner.targets == ("systemuser", "team")
            assert entity.attribute("owningbusinessunit") is not None
            assert all(entity.attribute(name) for name in SYSTEM_COLUMNS), entity.logical_name
        else:
            assert owner is None, entity.logical_name
    business_owned = {
        e.logical_name for e in catalogue.entities.values() if e.ownership_type == OwnershipType.BUSINESS_OWNED
    }
    assert business_owned == {"systemuser", "team", "businessunit", "role"}


def test_money_columns_have_base_twins_and_a_currency(catalogue: Catalogue) -> None:
    for entity in catalogue.entities.values():
        money = [a for a in entity.attributes.values() if a.type == AttributeType.MONEY]
        for attribute in money:
            if attribute.logical_name.endswith("_base"):
                assert not attribute.is_valid_for_create
                assert not attribute.is_valid_for_update
                assert entity.attribute(attribute.logical_name[: -len("_base")]) is not None
            else:
                assert entity.attribute(f"{attribute.logical_name}_base") is not None, attribute.logical_name
        if money:
            assert entity.attribute("transactioncurrencyid") is not None, entity.logical_name
            assert entity.attribute("exchangerate") is not None, entity.logical_name


def test_no_alternate_keys_out_of_the_box(catalogue: Catalogue) -> None:
    assert all(entity.keys == [] for entity in catalogue.entities.values())


# --- relationships -------------------------------------------------------------------------------------


def test_relationships_point_at_existing_tables_and_columns(catalogue: Catalogue) -> None:
    assert len(catalogue.relationships) > 150
    for schema_name, relationship in catalogue.relationships.items():
        assert schema_name == relationship.schema_name == relationship.referenced_nav
        referencing = catalogue.entity(relationship.referencing_entity)
        attribute = referencing.attribute(relationship.referencing_attribute)
        assert attribute is not None, schema_name
        assert attribute.is_lookup, schema_name
        if relationship.referenced_entity == OWNER:
            assert attribute.type == AttributeType.OWNER
            assert relationship.referenced_attribute == "ownerid"
        else:
            referenced = catalogue.entity(relationship.referenced_entity)
            assert relationship.referenced_attribute == referenced.primary_id, schema_name
            assert relationship.referenced_entity in attribute.targets, schema_name


def test_navigation_property_names_are_unique(catalogue: Catalogue) -> None:
    single = Counter((r.referencing_entity, r.referencing_nav) for r in catalogue.relationships.values())
    collection = Counter((r.referenced_entity, r.referenced_nav) for r in catalogue.relationships.values())
    assert [key for key, count in single.items() if count > 1] == []
    assert [key for key, count in collection.items() if count > 1] == []
    for entity in catalogue.entities.values():
        clashes = {r.referencing_nav for r in catalogue.many_to_one(entity.logical_name)} & set(entity.attributes)
        assert clashes <= {r.referencing_attribute for r in catalogue.many_to_one(entity.logical_name)}


def test_every_lookup_has_one_relationship_per_target(catalogue: Catalogue) -> None:
    for entity in catalogue.entities.values():
        for attribute in entity.attributes.values():
            if not attribute.is_lookup:
                continue
            relationships = [
                r
                for r in catalogue.many_to_one(entity.logical_name)
                if r.referencing_attribute == attribute.logical_name
            ]
            if (entity.logical_name, attribute.logical_name) in NAVLESS_LOOKUPS:
                assert relationships == []
                continue
            targets = [r.referenced_entity for r in relationships]
            expected = [OWNER] if attribute.type == AttributeType.OWNER else list(attribute.targets)
            assert sorted(targets) == sorted(expected), f"{entity.logical_name}.{attribute.logical_name}"
            if len(relationships) > 1:
                assert len({r.referencing_nav for r in relationships}) == len(relationships)
                assert all(r.referencing_nav != attribute.logical_name for r in relationships)


def test_party_lists_are_not_stored_and_name_their_targets(catalogue: Catalogue) -> None:
    parties = [
        (e.logical_name, a)
        for e in catalogue.entities.values()
        for a in e.attributes.values()
        if a.type == AttributeType.PARTYLIST
    ]
    assert {(name, a.logical_name) for name, a in parties} == {
        ("phonecall", "from"),
        ("phonecall", "to"),
        ("email", "from"),
        ("email", "to"),
        ("email", "cc"),
        ("email", "bcc"),
    }
    assert all(not a.is_stored and a.targets for _, a in parties)


# --- choices -------------------------------------------------------------------------------------------


def test_option_sets_have_unique_values_and_consistent_states(catalogue: Catalogue) -> None:
    for entity in catalogue.entities.values():
        for attribute in entity.attributes.values():
            values = [o.value for o in attribute.options]
            assert len(values) == len(set(values)), f"{entity.logical_name}.{attribute.logical_name}"
            if attribute.type in (AttributeType.PICKLIST, AttributeType.STATE, AttributeType.STATUS):
                assert values, f"{entity.logical_name}.{attribute.logical_name}"
            if attribute.type == AttributeType.PICKLIST and attribute.default_value is not None:
                assert attribute.default_value in values
        state = entity.attribute("statecode")
        status = entity.attribute("statuscode")
        assert (state is None) == (status is None), entity.logical_name
        if state is None or status is None:
            continue
        assert state.type == AttributeType.STATE
        assert status.type == AttributeType.STATUS
        states = {o.value for o in state.options}
        assert all(o.state in states for o in status.options), entity.logical_name
        for option in state.options:
            default = status.option(option.default_status or -1)
            assert default is not None, f"{entity.logical_name} {option}"
            assert default.state == option.value, f"{entity.logical_name} {option}"


def test_spanish_labels_where_a_spanish_speaking_admin_looks(catalogue: Catalogue) -> None:
    for entity, name in (
        ("opportunity", "salesstage"),
        ("opportunity", "statecode"),
        ("opportunity", "statuscode"),
        ("lead", "statecode"),
        ("lead", "statuscode"),
        ("lead", "industrycode"),
        ("account", "industrycode"),
    ):
        attribute = catalogue.entity(entity).attribute(name)
        assert attribute is not None
        assert all(o.label_es for o in attribute.options), f"{entity}.{name}"
    salesstage = catalogue.entity("opportunity").attribute("salesstage")
    assert salesstage is not None
    assert [(o.value, o.label, o.label_es) for o in salesstage.options] == [
        (0, "Qualify", "Calificar"),
        (1, "Develop", "Desarrollar"),
        (2, "Propose", "Proponer"),
        (3, "Close", "Cerrar"),
    ]


# --- table flags ---------------------------------------------------------------------------------------


def test_bulk_messages_only_on_the_sales_tables(catalogue: Catalogue) -> None:
    for entity in catalogue.entities.values():
        expected = frozenset(BULK_MESSAGES) if entity.logical_name in SALES else frozenset()
        assert entity.bulk_messages == expected, entity.logical_name


def test_change_tracking_notes_and_activities_flags(catalogue: Catalogue) -> None:
    tracked = {e.logical_name for e in catalogue.entities.values() if e.change_tracking_enabled}
    assert tracked == {
        *SALES,
        *ACTIVITIES,
        *("systemuser", "team", "businessunit", "connection", "activitypointer", "annotation"),
    }
    for name in SALES:
        assert catalogue.entity(name).has_notes
        assert catalogue.entity(name).has_activities
    activities = {e.logical_name for e in catalogue.entities.values() if e.is_activity}
    assert activities == {*ACTIVITIES, "activitypointer"}
    read_only = {e.logical_name for e in catalogue.entities.values() if e.is_read_only}
    assert read_only == {"activitypointer", "privilege", "sdkmessage", "sdkmessagefilter"}


def test_note_targets_have_notes(catalogue: Catalogue) -> None:
    objectid = catalogue.entity("annotation").attribute("objectid")
    assert objectid is not None
    assert all(catalogue.entity(target).has_notes for target in objectid.targets)


def test_activities_share_the_activitypointer_columns(catalogue: Catalogue) -> None:
    pointer = catalogue.entity("activitypointer")
    for name in ACTIVITIES:
        activity = catalogue.entity(name)
        assert activity.attribute("activitytypecode") is not None
        regarding = activity.attribute("regardingobjectid")
        assert regarding is not None
        assert regarding.targets == ("account", "contact", "lead", "opportunity")
        shared = {
            "activityid",
            "subject",
            "regardingobjectid",
            "ownerid",
            "statecode",
            "scheduledend",
            "sortdate",
        }
        assert shared <= set(activity.attributes) & set(pointer.attributes)


# --- documented facts ----------------------------------------------------------------------------------


def test_task_subject_and_states(catalogue: Catalogue) -> None:
    task = catalogue.entity("task")
    subject = task.attribute("subject")
    assert subject is not None
    assert (subject.type, subject.max_length, subject.required_level) == (
        AttributeType.STRING,
        200,
        RequiredLevel.APPLICATION_REQUIRED,
    )
    description = task.attribute("description")
    assert description is not None
    assert (description.type, description.max_length) == (
        AttributeType.MEMO,
        2000,
    )
    state = task.attribute("statecode")
    assert state is not None
    assert [(o.value, o.label, o.default_status) for o in state.options] == [
        (0, "Open", 2),
        (1, "Completed", 5),
        (2, "Canceled", 6),
    ]


def test_opportunity_states_and_statuses(catalogue: Catalogue) -> None:
    opportunity = catalogue.entity("opportunity")
    state = opportunity.attribute("statecode")
    status = opportunity.attribute("statuscode")
    assert state is not None
    assert status is not None
    assert [(o.value, o.label, o.default_status) for o in state.options] == [
        (0, "Open", 1),
        (1, "Won", 3),
        (2, "Lost", 4),
    ]
    assert not state.is_valid_for_create
    assert state.required_level == RequiredLevel.SYSTEM_REQUIRED
    assert [(o.value, o.label, o.state) for o in status.options] == [
        (1, "In Progress", 0),
        (2, "On Hold", 0),
        (3, "Won", 1),
        (4, "Canceled", 2),
        (5, "Out-Sold", 2),
    ]
    salesstagecode = opportunity.attribute("salesstagecode")
    assert salesstagecode is not None
    assert [(o.value, o.label) for o in salesstagecode.options] == [(1, "Default Value")]
    closeprobability = opportunity.attribute("closeprobability")
    assert closeprobability is not None
    assert (closeprobability.min_value, closeprobability.max_value) == (
        0,
        100,
    )
    for name in ("estimatedclosedate", "actualclosedate"):
        assert col(catalogue, "opportunity", name).date_only
    for name in ("estimatedvalue", "actualvalue"):
        assert opportunity.attribute(f"{name}_base") is not None


def test_lead_states_and_estimates(catalogue: Catalogue) -> None:
    lead = catalogue.entity("lead")
    status = lead.attribute("statuscode")
    assert status is not None
    assert [(o.value, o.state) for o in status.options] == [
        (1, 0),
        (2, 0),
        (3, 1),
        (4, 2),
        (5, 2),
        (6, 2),
        (7, 2),
    ]
    subject = lead.attribute("subject")
    assert subject is not None
    assert (subject.max_length, subject.required_level) == (
        300,
        RequiredLevel.APPLICATION_REQUIRED,
    )
    # The docs surprise: estimatedvalue is a deprecated Double; the money estimate is estimatedamount.
    assert col(catalogue, "lead", "estimatedvalue").type == AttributeType.DOUBLE
    assert col(catalogue, "lead", "estimatedamount").type == AttributeType.MONEY
    assert col(catalogue, "lead", "estimatedclosedate").date_only


def test_date_only_columns(catalogue: Catalogue) -> None:
    date_only = {
        (e.logical_name, a.logical_name)
        for e in catalogue.entities.values()
        for a in e.attributes.values()
        if a.date_only
    }
    assert date_only == {
        ("contact", "birthdate"),
        ("contact", "anniversary"),
        ("lead", "estimatedclosedate"),
        ("opportunity", "estimatedclosedate"),
        ("opportunity", "actualclosedate"),
        ("opportunity", "finaldecisiondate"),
    }


def test_account_columns(catalogue: Catalogue) -> None:
    account = catalogue.entity("account")
    lengths = {
        name: col(catalogue, "account", name).max_length
        for name in ("name", "accountnumber", "emailaddress1", "websiteurl")
    }
    assert lengths == {"name": 160, "accountnumber": 20, "emailaddress1": 100, "websiteurl": 200}
    composite = account.attribute("address1_composite")
    assert composite is not None
    assert composite.type == AttributeType.MEMO
    assert not composite.is_valid_for_update
    industry = account.attribute("industrycode")
    assert industry is not None
    assert len(industry.options) == 33
    assert (industry.options[0].label, industry.options[-1].label) == ("Accounting", "Wholesale")


def test_systemuser_columns(catalogue: Catalogue) -> None:
    user = catalogue.entity("systemuser")
    assert user.ownership_type == OwnershipType.BUSINESS_OWNED
    assert user.attribute("statecode") is None
    accessmode = user.attribute("accessmode")
    assert accessmode is not None
    assert [o.label for o in accessmode.options] == [
        "Read-Write",
        "Administrative",
        "Read",
        "Support User",
        "Non-interactive",
        "Delegated Admin",
    ]
    assert col(catalogue, "systemuser", "internalemailaddress").max_length == 100
    assert col(catalogue, "systemuser", "domainname").max_length == 1024
    for name in ("azureactivedirectoryobjectid", "applicationid"):
        assert col(catalogue, "systemuser", name).type == AttributeType.UNIQUEIDENTIFIER
    assert col(catalogue, "systemuser", "isdisabled").type == AttributeType.BOOLEAN


def test_phonecall_direction_and_parties(catalogue: Catalogue) -> None:
    phonecall = catalogue.entity("phonecall")
    direction = phonecall.attribute("directioncode")
    assert direction is not None
    assert (direction.true_label, direction.false_label, direction.default_value) == (
        "Outgoing",
        "Incoming",
        True,
    )
    assert col(catalogue, "phonecall", "phonenumber").max_length == 200
    mask = catalogue.entity("activityparty").attribute("participationtypemask")
    assert mask is not None
    assert [o.value for o in mask.options] == list(range(1, 13))


def test_contact_and_opportunity_customer_navigation_properties(catalogue: Catalogue) -> None:
    assert nav(catalogue, "contact", "parentcustomerid_account") == (
        "contact_customer_accounts",
        "parentcustomerid",
        "account",
        "contact_customer_accounts",
    )
    assert nav(catalogue, "contact", "parentcustomerid_contact")[3] == "contact_customer_contacts"
    assert nav(catalogue, "opportunity", "customerid_account")[3] == "opportunity_customer_accounts"
    assert nav(catalogue, "opportunity", "customerid_contact")[3] == "opportunity_customer_contacts"
    assert catalogue.single_valued_nav("contact", "parentcustomerid") is None
    assert catalogue.collection_nav("account", "contact_customer_accounts") is not None
    through = catalogue.nav_for_lookup("contact", "parentcustomerid", "contact")
    assert through is not None
    assert through.referencing_nav == "parentcustomerid_contact"


def test_account_navigation_properties(catalogue: Catalogue) -> None:
    assert nav(catalogue, "account", "primarycontactid") == (
        "account_primary_contact",
        "primarycontactid",
        "contact",
        "account_primary_contact",
    )
    assert nav(catalogue, "account", "parentaccountid")[0] == "account_parent_account"
    assert nav(catalogue, "account", "ownerid") == ("owner_accounts", "ownerid", OWNER, "owner_accounts")
    assert nav(catalogue, "account", "owninguser")[0] == "user_accounts"
    assert nav(catalogue, "account", "owningteam")[0] == "team_accounts"
    assert nav(catalogue, "account", "owningbusinessunit")[0] == "business_unit_accounts"
    assert nav(catalogue, "account", "createdby")[0] == "lk_accountbase_createdby"
    assert nav(catalogue, "account", "modifiedby")[0] == "lk_accountbase_modifiedby"
    assert nav(catalogue, "account", "transactioncurrencyid")[0] == "transactioncurrency_account"
    owner = catalogue.nav_for_lookup("account", "ownerid", "team")
    assert owner is not None
    assert owner.referencing_nav == "ownerid"


def test_activity_regarding_navigation_properties(catalogue: Catalogue) -> None:
    assert nav(catalogue, "task", "regardingobjectid_contact_task") == (
        "Contact_Tasks",
        "regardingobjectid",
        "contact",
        "Contact_Tasks",
    )
    assert nav(catalogue, "task", "regardingobjectid_account_task")[0] == "Account_Tasks"
    assert nav(catalogue, "task", "regardingobjectid_lead_task")[0] == "Lead_Tasks"
    assert nav(catalogue, "task", "regardingobjectid_opportunity_task")[0] == "Opportunity_Tasks"
    assert catalogue.single_valued_nav("task", "regardingobjectid_contact") is None
    assert nav(catalogue, "phonecall", "regardingobjectid_account_phonecall")[0] == "Account_Phonecalls"
    assert nav(catalogue, "email", "regardingobjectid_contact_email")[0] == "Contact_Emails"
    assert nav(catalogue, "activitypointer", "regardingobjectid_contact")[0] == "Contact_ActivityPointers"
    assert catalogue.collection_nav("account", "Account_Tasks") is not None


def test_activity_system_navigation_properties(catalogue: Catalogue) -> None:
    assert nav(catalogue, "task", "ownerid_task") == ("owner_tasks", "ownerid", OWNER, "owner_tasks")
    assert nav(catalogue, "task", "createdby_task")[0] == "lk_task_createdby"
    assert nav(catalogue, "task", "owningbusinessunit_task")[0] == "business_unit_task_activities"
    assert nav(catalogue, "phonecall", "owningbusinessunit_phonecall")[0] == "business_unit_phone_call_activities"
    assert nav(catalogue, "email", "ownerid_email")[0] == "owner_emails"
    assert nav(catalogue, "email", "transactioncurrencyid_email")[0] == "TransactionCurrency_Email"
    assert nav(catalogue, "activitypointer", "ownerid")[0] == "owner_activitypointers"


def test_activity_party_navigation_properties(catalogue: Catalogue) -> None:
    for activity in ACTIVITIES:
        schema, attribute, target, _ = nav(catalogue, "activityparty", f"activityid_{activity}")
        assert (schema, attribute, target) == (f"{activity}_activity_parties", "activityid", activity)
        assert catalogue.collection_nav(activity, f"{activity}_activity_parties") is not None
    assert nav(catalogue, "activityparty", "partyid_systemuser")[0] == "system_user_activity_parties"
    for target in ("contact", "account", "lead"):
        assert nav(catalogue, "activityparty", f"partyid_{target}")[0] == f"{target}_activity_parties"


def test_note_and_connection_navigation_properties(catalogue: Catalogue) -> None:
    assert nav(catalogue, "annotation", "objectid_account") == (
        "Account_Annotation",
        "objectid",
        "account",
        "Account_Annotation",
    )
    for target in ("contact", "lead", "opportunity", "task"):
        assert nav(catalogue, "annotation", f"objectid_{target}")[2] == target
    assert nav(catalogue, "connection", "record1id_account")[0] == "account_connections1"
    assert nav(catalogue, "connection", "record2id_contact")[0] == "contact_connections2"
    assert nav(catalogue, "connection", "record1roleid")[2] == "connectionrole"


def test_security_navigation_properties(catalogue: Catalogue) -> None:
    assert nav(catalogue, "systemuser", "businessunitid") == (
        "business_unit_system_users",
        "businessunitid",
        "businessunit",
        "business_unit_system_users",
    )
    assert nav(catalogue, "team", "administratorid")[2] == "systemuser"
    assert nav(catalogue, "businessunit", "parentbusinessunitid")[0] == "business_unit_parent_business_unit"
    assert nav(catalogue, "role", "businessunitid")[0] == "business_unit_roles"
    assert nav(catalogue, "sdkmessagefilter", "sdkmessageid")[0] == "sdkmessageid_sdkmessagefilter"
    team = catalogue.entity("team").attribute("teamtype")
    assert team is not None
    assert [o.label for o in team.options] == [
        "Owner",
        "Access",
        "Security Group",
        "Office Group",
    ]


def test_email_subject_and_statuses(catalogue: Catalogue) -> None:
    subject = col(catalogue, "email", "subject")
    assert (subject.max_length, subject.required_level) == (800, RequiredLevel.NONE)
    status = col(catalogue, "email", "statuscode")
    assert {o.value: o.state for o in status.options} == {1: 0, 8: 0, 2: 1, 3: 1, 4: 1, 6: 1, 7: 1, 5: 2}
    assert col(catalogue, "email", "description").max_length == 1_073_741_823
    assert col(catalogue, "annotation", "notetext").max_length == 100_000
    assert col(catalogue, "annotation", "mimetype").max_length == 256
