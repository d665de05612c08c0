"""The catalogue of Dataverse's standard tables, as data: columns, choices, relationships and keys.

``build_standard_catalogue()`` returns a fresh :class:`Catalogue` with the standard tables a sales
integration meets: account, contact, lead, opportunity, the security principals and configuration
tables (this module) and the activities, their parties, notes and connections (``standard_activities``).

Sources: the generated table references of ``MicrosoftDocs/powerapps-docs``
(``developer/data-platform/reference/entities/*.md``), the Sales references of
``MicrosoftDocs/dynamics-365-customer-engagement`` (``ce/developer/entities/*.md``) and its Web API
EntityType reference (``progref/webapireference/entitytypes/*.md``), which lists every single-valued
navigation property with its partner. Column lists are a realistic subset of the real tables; lengths,
options, required levels and create/update validity follow the docs. Values the docs leave open are
marked ``undocumented`` where they are chosen.

Choices other parts of the sandbox rely on:

* Relationship schema names equal the referenced (collection-valued) navigation property names, as they
  do for every system relationship in the docs. Referencing (single-valued) navigation property names
  are the documented ones: the attribute name on ordinary tables, ``<lookup>_<target>`` for Customer
  lookups, ``objectid_<table>`` on notes, and ``regardingobjectid_<target>_<activity>`` plus
  ``<system lookup>_<activity>`` (``ownerid_task``, ``createdby_task`` …) on the concrete activities.
* Owner lookups relate to the pseudo-table ``owner`` (``owner_accounts`` …), meaning systemuser or team.
* Columns that Dataverse lists in metadata but does not expose as Web API properties (the ``…name``,
  ``…yominame`` and ``…type`` companions of lookups, such as ``owneridtype``) are left out: selecting
  them fails in Dataverse, so it must fail here too.
* Bulk messages: CreateMultiple, UpdateMultiple and UpsertMultiple are supported on account, contact,
  lead and opportunity (recent Dataverse supports them there) and deliberately *not* on task, phonecall,
  email or annotation, so clients must fall back to ``$batch`` for those, as they must against
  environments without the messages' sdkmessagefilter rows.
* Change tracking is enabled on the business and activity tables and disabled on the configuration
  tables (role, privilege, sdkmessage, sdkmessagefilter, organization, transactioncurrency).
* No alternate keys: Dataverse defines none out of the box on these tables; custom keys arrive through
  the metadata API.
"""

from __future__ import annotations

from salesbridge.sandbox.catalogue.builders import (
    ACTIVE_STATES,
    ACTIVE_STATUSES,
    BUDGET_STATUSES,
    BUSINESS_OWNED,
    CONFIGURATION,
    INITIAL_COMMUNICATIONS,
    NEEDS,
    OWNER,
    PURCHASE_PROCESSES,
    PURCHASE_TIMEFRAMES,
    RATINGS,
    RECOMMENDED,
    REQUIRED,
    SALES_TABLE,
    SYSTEM,
    Rel,
    address_columns,
    audit_columns,
    audit_rels,
    bigint,
    boolean,
    choices,
    currency_rel,
    customer,
    datetime_,
    decimal,
    double,
    entity_name,
    guid,
    industry_options,
    integer,
    lookup,
    memo,
    money,
    opt,
    owner_rels,
    picklist,
    pk,
    preference_columns,
    primary_name,
    process_columns,
    record_columns,
    rel,
    state,
    state_columns,
    status,
    string,
    table,
    timezone_columns,
)
from salesbridge.sandbox.catalogue.cascades import standard_cascade
from salesbridge.sandbox.catalogue.definitions import (
    EntityDef,
    OwnershipType,
    RelationshipDef,
)
from salesbridge.sandbox.catalogue.registry import Catalogue
from salesbridge.sandbox.catalogue.standard_activities import activity_relationships, activity_tables

# --- sales tables --------------------------------------------------------------------------------------


def account() -> EntityDef:
    """account (1)."""
    relationship_types = (
        "Competitor|Consultant|Customer|Investor|Partner|Influencer|Press|Prospect|Reseller|Supplier|Vendor|Other"
    )
    return table(
        ("account", "accounts", "accountid", "name", 1),
        ("Account", "Account", "Accounts"),
        [
            pk("accountid", "Account"),
            primary_name("name", "Account Name", 160, required=REQUIRED),
            string("accountnumber", "Account Number", 20),
            string("telephone1", "Main Phone", 50),
            string("telephone2", "Other Phone", 50),
            string("telephone3", "Telephone 3", 50),
            string("fax", "Fax", 50),
            string("emailaddress1", "Email", 100),
            string("emailaddress2", "Email Address 2", 100),
            string("emailaddress3", "Email Address 3", 100),
            string("websiteurl", "Website", 200),
            string("tickersymbol", "Ticker Symbol", 10),
            string("sic", "SIC Code", 20),
            string("yominame", "Yomi Account Name", 160),
            *address_columns(),
            picklist(
                "address1_addresstypecode",
                "Address 1: Address Type",
                choices("Bill To|Ship To|Primary|Other"),
            ),
            picklist("industrycode", "Industry", industry_options()),
            picklist("customertypecode", "Relationship Type", choices(relationship_types)),
            picklist("accountcategorycode", "Category", choices("Preferred Customer|Standard")),
            picklist("ownershipcode", "Ownership", choices("Public|Private|Subsidiary|Other")),
            picklist("paymenttermscode", "Payment Terms", choices("Net 30|2% 10, Net 30|Net 45|Net 60")),
            *money("revenue", "Annual Revenue"),
            *money("creditlimit", "Credit Limit"),
            *money("marketcap", "Market Capitalization"),
            integer("numberofemployees", "Number of Employees", 0, 1_000_000_000),
            boolean("creditonhold", "Credit Hold"),
            memo("description", "Description", 2000),
            *preference_columns(),
            lookup("parentaccountid", "Parent Account", "account"),
            lookup("primarycontactid", "Primary Contact", "contact"),
            lookup("preferredsystemuserid", "Preferred User", "systemuser"),
            lookup("originatingleadid", "Originating Lead", "lead"),
            lookup("masterid", "Master ID", "account", read_only=True),
            boolean("merged", "Merged", read_only=True),
            *state_columns(ACTIVE_STATES, ACTIVE_STATUSES),
            *process_columns(),
            *timezone_columns(),
            *record_columns(),
        ],
        **SALES_TABLE,
        description="Business that represents a customer or potential customer.",
    )


def contact() -> EntityDef:
    """contact (2)."""
    return table(
        ("contact", "contacts", "contactid", "fullname", 2),
        ("Contact", "Contact", "Contacts"),
        [
            pk("contactid", "Contact"),
            primary_name("fullname", "Full Name", 160, read_only=True),  # computed from first and last name
            string("firstname", "First Name", 50, required=RECOMMENDED),
            string("middlename", "Middle Name", 50),
            string("lastname", "Last Name", 50, required=REQUIRED),
            string("salutation", "Salutation", 100),
            string("suffix", "Suffix", 10),
            string("nickname", "Nickname", 100),
            string("yomifullname", "Yomi Full Name", 450, read_only=True),
            string("jobtitle", "Job Title", 100),
            string("department", "Department", 100),
            string("emailaddress1", "Email", 100),
            string("emailaddress2", "Email Address 2", 100),
            string("emailaddress3", "Email Address 3", 100),
            string("telephone1", "Business Phone", 50),
            string("telephone2", "Home Phone", 50),
            string("telephone3", "Telephone 3", 50),
            string("mobilephone", "Mobile Phone", 50),
            string("fax", "Fax", 50),
            string("websiteurl", "Website", 200),
            *address_columns(),
            datetime_("birthdate", "Birthday", date_only=True),
            datetime_("anniversary", "Anniversary", date_only=True),
            picklist("gendercode", "Gender", choices("Male|Female")),
            picklist("familystatuscode", "Marital Status", choices("Single|Married|Divorced|Widowed")),
            *money("creditlimit", "Credit Limit"),
            *money("annualincome", "Annual Income"),
            memo("description", "Description", 2000),
            *preference_columns(),
            customer("parentcustomerid", "Company Name"),
            # Kept by the platform from parentcustomerid when that is an account; no navigation property.
            lookup("accountid", "Account", "account", read_only=True),
            lookup("preferredsystemuserid", "Preferred User", "systemuser"),
            lookup("originatingleadid", "Originating Lead", "lead"),
            lookup("masterid", "Master ID", "contact", read_only=True),
            boolean("merged", "Merged", read_only=True),
            *state_columns(ACTIVE_STATES, ACTIVE_STATUSES),
            *process_columns(),
            *timezone_columns(),
            *record_columns(),
        ],
        **SALES_TABLE,
        description="Person with whom a business unit has a relationship, such as a customer or supplier.",
    )


def lead() -> EntityDef:
    """lead (4). The money estimate is ``estimatedamount``; ``estimatedvalue`` is a deprecated Double."""
    lead_states = (
        state(0, "Open", 1, "Abierto"),
        state(1, "Qualified", 3, "Calificado"),
        state(2, "Disqualified", 4, "Descalificado"),
    )
    lead_statuses = (
        status(1, "New", 0, "Nuevo"),
        status(2, "Contacted", 0, "Contactado"),
        status(3, "Qualified", 1, "Calificado"),
        status(4, "Lost", 2, "Perdido"),
        status(5, "Cannot Contact", 2, "No se puede contactar"),
        status(6, "No Longer Interested", 2, "Ya no está interesado"),
        status(7, "Canceled", 2, "Cancelado"),
    )
    sources = (
        "Advertisement|Employee Referral|External Referral|Partner|Public Relations|Seminar|Trade Show|Web"
        "|Word of Mouth|Other"
    )
    return table(
        ("lead", "leads", "leadid", "fullname", 4),
        ("Lead", "Lead", "Leads"),
        [
            pk("leadid", "Lead"),
            primary_name("fullname", "Name", 160, read_only=True),  # computed from first and last name
            string("subject", "Topic", 300, required=REQUIRED),
            string("firstname", "First Name", 50, required=RECOMMENDED),
            string("middlename", "Middle Name", 50),
            string("lastname", "Last Name", 50, required=REQUIRED),
            string("salutation", "Salutation", 100),
            string("companyname", "Company Name", 100, required=RECOMMENDED),
            string("jobtitle", "Job Title", 100),
            string("emailaddress1", "Email", 100),
            string("emailaddress2", "Email Address 2", 100),
            string("emailaddress3", "Email Address 3", 100),
            string("telephone1", "Business Phone", 50),
            string("telephone2", "Home Phone", 50),
            string("telephone3", "Other Phone", 50),
            string("mobilephone", "Mobile Phone", 20),
            string("fax", "Fax", 50),
            string("websiteurl", "Website", 200),
            string("sic", "SIC Code", 20),
            *address_columns(),
            picklist("industrycode", "Industry", industry_options()),
            picklist("leadsourcecode", "Lead Source", choices(sources)),
            picklist("leadqualitycode", "Rating", RATINGS),
            picklist("purchasetimeframe", "Purchase Timeframe", PURCHASE_TIMEFRAMES),
            picklist("purchaseprocess", "Purchase Process", PURCHASE_PROCESSES),
            picklist("budgetstatus", "Budget", BUDGET_STATUSES),
            picklist("need", "Need", NEEDS),
            picklist("initialcommunication", "Initial Communication", INITIAL_COMMUNICATIONS),
            picklist("salesstage", "Sales Stage", (opt(0, "Qualify", "Calificar"),)),
            *money("revenue", "Annual Revenue"),
            *money("estimatedamount", "Est. Value", 0, 1e12),
            *money("budgetamount", "Budget Amount", 0, 1e12),
            double("estimatedvalue", "Est. Value (deprecated)", 2, 0, 1_000_000_000),
            datetime_("estimatedclosedate", "Est. Close Date", date_only=True),
            integer("numberofemployees", "No. of Employees", 0, 1_000_000),
            memo("description", "Description", 2000),
            memo("qualificationcomments", "Qualification Comments", 2000),
            *preference_columns(),
            customer("customerid", "Customer"),
            lookup("parentaccountid", "Parent Account for lead", "account"),
            lookup("parentcontactid", "Parent Contact for lead", "contact"),
            lookup("qualifyingopportunityid", "Qualifying Opportunity", "opportunity"),
            lookup("masterid", "Master ID", "lead", read_only=True),
            boolean("merged", "Merged", read_only=True),
            *state_columns(lead_states, lead_statuses),
            *process_columns(),
            *timezone_columns(),
            *record_columns(),
        ],
        **SALES_TABLE,
        description="Prospect or potential sales opportunity.",
    )


def opportunity() -> EntityDef:
    """opportunity (3). Closing as won or lost goes through WinOpportunity / LoseOpportunity."""
    opportunity_states = (
        state(0, "Open", 1, "Abierta"),
        state(1, "Won", 3, "Ganada"),
        state(2, "Lost", 4, "Perdida"),
    )
    opportunity_statuses = (
        status(1, "In Progress", 0, "En curso"),
        status(2, "On Hold", 0, "En espera"),
        status(3, "Won", 1, "Ganada"),
        status(4, "Canceled", 2, "Cancelada"),
        status(5, "Out-Sold", 2, "Vendida por otro"),
    )
    stages = (
        opt(0, "Qualify", "Calificar"),
        opt(1, "Develop", "Desarrollar"),
        opt(2, "Propose", "Proponer"),
        opt(3, "Close", "Cerrar"),
    )
    return table(
        ("opportunity", "opportunities", "opportunityid", "name", 3),
        ("Opportunity", "Opportunity", "Opportunities"),
        [
            pk("opportunityid", "Opportunity"),
            primary_name("name", "Topic", 300, required=REQUIRED),
            *money("estimatedvalue", "Est. Revenue", -1e12, 1e12),
            *money("actualvalue", "Actual Revenue", -1e12, 1e12),
            *money("budgetamount", "Budget Amount", 0, 1e12),
            boolean("isrevenuesystemcalculated", "Revenue", "System Calculated", "User Provided"),
            datetime_("estimatedclosedate", "Est. Close Date", date_only=True),
            datetime_("actualclosedate", "Actual Close Date", date_only=True),
            datetime_("finaldecisiondate", "Final Decision Date", date_only=True),
            integer("closeprobability", "Probability", 0, 100),
            picklist("salesstage", "Sales Stage", stages),
            picklist("salesstagecode", "Process Code", choices("Default Value")),
            string("stepname", "Pipeline Phase", 200),
            guid("stepid", "Step"),
            picklist("opportunityratingcode", "Rating", RATINGS),
            picklist("prioritycode", "Priority", choices("Default Value")),
            picklist("purchasetimeframe", "Purchase Timeframe", PURCHASE_TIMEFRAMES),
            picklist("purchaseprocess", "Purchase Process", PURCHASE_PROCESSES),
            picklist("budgetstatus", "Budget", BUDGET_STATUSES),
            picklist("need", "Need", NEEDS),
            picklist("timeline", "Timeline", choices("Immediate|This Quarter|Next Quarter|This Year|Not known", 0)),
            picklist("initialcommunication", "Initial Communication", INITIAL_COMMUNICATIONS),
            boolean("decisionmaker", "Decision Maker?", "completed", "mark complete"),
            memo("description", "Description", 2000),
            memo("currentsituation", "Current Situation", 2000),
            memo("customerneed", "Customer Need", 2000),
            memo("customerpainpoints", "Customer Pain Points", 2000),
            memo("proposedsolution", "Proposed Solution", 2000),
            memo("qualificationcomments", "Qualification Comments", 2000),
            memo("quotecomments", "Quote Comments", 2000),
            customer("customerid", "Potential Customer", required=REQUIRED),
            lookup("parentaccountid", "Account", "account"),
            lookup("parentcontactid", "Contact", "contact"),
            lookup("originatingleadid", "Originating Lead", "lead"),
            *state_columns(opportunity_states, opportunity_statuses),
            *process_columns(),
            *timezone_columns(),
            *record_columns(currency=REQUIRED),
        ],
        **SALES_TABLE,
        description="Potential revenue-generating event, or sale to an account, tracked to completion.",
    )


# --- security principals and configuration -----------------------------------------------------------


def systemuser() -> EntityDef:
    """systemuser (8): business-owned; no statecode (isdisabled carries the state)."""
    access_modes = choices("Read-Write|Administrative|Read|Support User|Non-interactive|Delegated Admin", 0)
    return table(
        ("systemuser", "systemusers", "systemuserid", "fullname", 8),
        ("SystemUser", "User", "Users"),
        [
            pk("systemuserid", "User"),
            primary_name("fullname", "Full Name", 200, read_only=True),  # computed from first and last name
            string("firstname", "First Name", 256, required=REQUIRED),
            string("middlename", "Middle Name", 50),
            string("lastname", "Last Name", 256, required=REQUIRED),
            string("nickname", "Nickname", 50),
            string("salutation", "Salutation", 20),
            string("internalemailaddress", "Primary Email", 100, required=SYSTEM),
            string("personalemailaddress", "Email 2", 100),
            string("domainname", "User Name", 1024, required=SYSTEM),
            string("windowsliveid", "Windows Live ID", 1024),
            guid("azureactivedirectoryobjectid", "Azure AD Object ID", read_only=True),
            guid("applicationid", "Application ID"),
            string("applicationiduri", "Application ID URI", 1024, read_only=True),
            boolean("isdisabled", "Status", "Disabled", "Enabled"),  # writable per the docs
            string("disabledreason", "Disabled Reason", 500, read_only=True),
            picklist("accessmode", "Access Mode", access_modes, 0, required=SYSTEM),
            boolean("islicensed", "User Licensed", required=SYSTEM),
            boolean("isintegrationuser", "Integration user mode", required=SYSTEM),
            boolean("setupuser", "Restricted Access Mode", required=SYSTEM),
            lookup("businessunitid", "Business Unit", "businessunit", required=SYSTEM),
            lookup("parentsystemuserid", "Manager", "systemuser"),
            string("title", "Title", 128),
            string("jobtitle", "Job Title", 100),
            string("mobilephone", "Mobile Phone", 64),
            string("homephone", "Home Phone", 50),
            string("employeeid", "Employee", 100),
            *address_columns(line=1024, city=128, region=128, postal=40, country=128),
            guid("organizationid", "Organization", read_only=True),
            *process_columns(),
            *timezone_columns(),
            *record_columns(owned=False),
        ],
        **BUSINESS_OWNED,
        description="Person with access to the system and who owns objects in the database.",
    )


def team() -> EntityDef:
    """team (9): business-owned; no statecode."""
    memberships = choices("Members and guests|Members|Owners|Guests", 0)  # undocumented in the sources read
    return table(
        ("team", "teams", "teamid", "name", 9),
        ("Team", "Team", "Teams"),
        [
            pk("teamid", "Team"),
            primary_name("name", "Team Name", 160, required=REQUIRED),
            picklist(
                "teamtype",
                "Team Type",
                choices("Owner|Access|Security Group|Office Group", 0),
                0,
                required=SYSTEM,
                update=False,
            ),
            picklist("membershiptype", "Membership Type", memberships, 0),
            guid("azureactivedirectoryobjectid", "Azure AD Object Id for a group"),
            lookup("businessunitid", "Business Unit", "businessunit", required=SYSTEM),
            lookup("administratorid", "Administrator", "systemuser", required=SYSTEM),
            memo("description", "Description", 2000),
            string("emailaddress", "Email", 100),
            string("yominame", "Yomi Name", 160),
            boolean("isdefault", "Is Default", read_only=True),
            boolean("systemmanaged", "Is System Managed", read_only=True),
            guid("organizationid", "Organization", read_only=True),
            *process_columns(),
            *record_columns(owned=False),
        ],
        **BUSINESS_OWNED,
        description="Collection of system users that routinely collaborate.",
    )


def businessunit() -> EntityDef:
    """businessunit (10): business-owned; disabled through isdisabled (SetState), not statecode."""
    return table(
        ("businessunit", "businessunits", "businessunitid", "name", 10),
        ("BusinessUnit", "Business Unit", "Business Units"),
        [
            pk("businessunitid", "Business Unit"),
            primary_name("name", "Name", 160, required=REQUIRED),
            lookup("parentbusinessunitid", "Parent Business", "businessunit"),
            string("divisionname", "Division", 100),
            string("websiteurl", "Website", 200),
            string("emailaddress", "Email", 100),
            string("costcenter", "Cost Center", 100),
            double("creditlimit", "Credit Limit", 2, 0, 1_000_000_000),
            memo("description", "Description", 2000),
            boolean("isdisabled", "Is Disabled", read_only=True),
            string("disabledreason", "Disable Reason", 500, read_only=True),
            *address_columns(),
            lookup("organizationid", "Organization", "organization", read_only=True),
            *record_columns(owned=False),
        ],
        **BUSINESS_OWNED,
        description="Business, division, or department in the database.",
    )


def role() -> EntityDef:
    """role (1036): a security role, copied into every business unit."""
    inheritance = choices("Team privileges only|Direct User (Basic) access level and Team privileges", 0)
    return table(
        ("role", "roles", "roleid", "name", 1036),
        ("Role", "Security Role", "Security Roles"),
        [
            pk("roleid", "Role"),
            primary_name("name", "Name", 100, required=REQUIRED),
            lookup("businessunitid", "Business Unit", "businessunit", required=SYSTEM),
            lookup("parentroleid", "Parent Role", "role", read_only=True),
            lookup("parentrootroleid", "Parent Root Role", "role", read_only=True),
            guid("roletemplateid", "Role Template ID", read_only=True),
            picklist("isinherited", "Member's privilege inheritance", inheritance, 1, required=SYSTEM),
            boolean("ismanaged", "State", "Managed", "Unmanaged", read_only=True),
            guid("solutionid", "Solution", read_only=True),
            guid("organizationid", "Organization", read_only=True),
            *record_columns(owned=False, currency=None),
        ],
        **{**BUSINESS_OWNED, "change_tracking_enabled": False},
        description="Grouping of security privileges.",
    )


def privilege() -> EntityDef:
    """privilege (1023): read-only through the API; the sandbox writes its rows itself."""
    return table(
        ("privilege", "privileges", "privilegeid", "name", 1023),
        ("Privilege", "Privilege", "Privileges"),
        [
            pk("privilegeid", "Privilege"),
            primary_name("name", "Name", 100, required=SYSTEM),
            integer("accessright", "Access Right", 0),
            boolean("canbebasic", "Can Be Basic"),
            boolean("canbelocal", "Can Be Local"),
            boolean("canbedeep", "Can Be Deep"),
            boolean("canbeglobal", "Can Be Global"),
            boolean("canbeentityreference", "Can Be Entity Reference"),
            boolean("canbeparententityreference", "Can Be Parent Entity Reference"),
            boolean("isdisabledwhenintegrated", "Disabled When Integrated"),
            boolean("ismanaged", "State", "Managed", "Unmanaged", read_only=True),
            guid("solutionid", "Solution", read_only=True),
            string("introducedversion", "Introduced Version", 48),
            bigint("versionnumber", "Version Number", read_only=True),
        ],
        ownership_type=OwnershipType.NONE,
        is_read_only=True,
        change_tracking_enabled=False,
        description="Permission to perform an action in the system.",
    )


def transactioncurrency() -> EntityDef:
    """transactioncurrency (9105): here ``exchangerate`` is the writable rate itself."""
    return table(
        ("transactioncurrency", "transactioncurrencies", "transactioncurrencyid", "currencyname", 9105),
        ("TransactionCurrency", "Currency", "Currencies"),
        [
            pk("transactioncurrencyid", "Transaction Currency"),
            primary_name("currencyname", "Currency Name", 100, required=REQUIRED),
            string("isocurrencycode", "Currency Code", 5, required=REQUIRED, update=False),
            string("currencysymbol", "Currency Symbol", 10, required=REQUIRED),
            decimal("exchangerate", "Exchange Rate", 10, 1e-10, 1e11, required=REQUIRED),
            integer("currencyprecision", "Currency Precision", 0, 4, required=REQUIRED, default_value=2),
            *state_columns(ACTIVE_STATES, ACTIVE_STATUSES),
            lookup("organizationid", "Organization", "organization", read_only=True),
            *record_columns(owned=False, currency=None),
        ],
        **CONFIGURATION,
        description="Currency in which a financial transaction is carried out.",
    )


def organization() -> EntityDef:
    """organization (1019): one row per environment; updatable, not creatable."""
    return table(
        ("organization", "organizations", "organizationid", "name", 1019),
        ("Organization", "Organization", "Organizations"),
        [
            pk("organizationid", "Organization"),
            primary_name("name", "Organization Name", 160, create=False),
            lookup("basecurrencyid", "Currency", "transactioncurrency", read_only=True),
            string("basecurrencysymbol", "Currency Symbol", 5, read_only=True),
            integer("basecurrencyprecision", "Base Currency Precision", 0, 4, read_only=True),
            integer("currencydecimalprecision", "Currency Decimal Precision", 0, 4),
            integer("pricingdecimalprecision", "Pricing Decimal Precision", 0, 4),
            integer("languagecode", "Language", 0, read_only=True),
            integer("localeid", "Locale", 0),
            integer(
                "maxuploadfilesize",
                "Max Upload File Size (in bytes)",
                0,
                131_072_000,
                default_value=5_242_880,
            ),
            boolean("isauditenabled", "Is Auditing Enabled"),
            *audit_columns(),
        ],
        **CONFIGURATION,
        description="Top level of the business hierarchy: the environment's settings.",
    )


def sdkmessage() -> EntityDef:
    """sdkmessage (4606): read-only through the API."""
    return table(
        ("sdkmessage", "sdkmessages", "sdkmessageid", "name", 4606),
        ("SdkMessage", "Sdk Message", "Sdk Messages"),
        [
            pk("sdkmessageid", "Sdk Message"),
            primary_name("name", "Name", 256, required=SYSTEM),
            string("categoryname", "Category Name", 25),
            integer("availability", "Availability", 0, 2),  # 0 Server, 1 Client, 2 Both
            boolean("autotransact", "Auto Transact"),
            boolean("expand", "Expand"),
            boolean("isactive", "Is Active", default=True),
            boolean("isprivate", "Is Private"),
            boolean("isreadonly", "Is Read Only"),
            boolean("isvalidforexecuteasync", "Is Valid for Execute Async"),
            boolean("template", "Template"),
            boolean("workflowsdkstepenabled", "WorkflowSdkStepEnabled", read_only=True),
            string("throttlesettings", "Throttle Settings", 512),
            integer("customizationlevel", "Customization Level", -255, 255, read_only=True),
            string("introducedversion", "Introduced Version", 48),
            lookup("organizationid", "Organization", "organization", read_only=True),
            *audit_columns(),
        ],
        **CONFIGURATION,
        is_read_only=True,
        description="Message and enumerations used by the SDK.",
    )


def sdkmessagefilter() -> EntityDef:
    """sdkmessagefilter (4607): which messages are valid for which table (probed for bulk support)."""
    return table(
        ("sdkmessagefilter", "sdkmessagefilters", "sdkmessagefilterid", "name", 4607),
        ("SdkMessageFilter", "Sdk Message Filter", "Sdk Message Filters"),
        [
            pk("sdkmessagefilterid", "Sdk Message Filter"),
            primary_name("name", "Name", 256),
            lookup("sdkmessageid", "SDK Message ID", "sdkmessage", required=SYSTEM),
            entity_name("primaryobjecttypecode", "Primary Object Type Code", required=SYSTEM, read_only=True),
            entity_name("secondaryobjecttypecode", "Secondary Object Type Code", required=SYSTEM, read_only=True),
            boolean("isvisible", "Is Visible", required=SYSTEM, read_only=True),
            boolean("iscustomprocessingstepallowed", "Custom Processing Step Allowed", required=SYSTEM),
            boolean("workflowsdkstepenabled", "WorkflowSdkStepEnabled", read_only=True),
            integer("availability", "Availability", required=SYSTEM),  # 0 Server, 1 Client, 2 Both
            integer("restrictionlevel", "Restriction Level", 0, 255, required=SYSTEM),
            integer("customizationlevel", "Customization Level", -255, 255, read_only=True),
            string("introducedversion", "Introduced Version", 48),
            lookup("organizationid", "Organization", "organization", required=SYSTEM, read_only=True),
            *audit_columns(),
        ],
        **CONFIGURATION,
        is_read_only=True,
        description="Filter that defines which SDK messages are valid for each type of table.",
    )


def core_tables() -> list[EntityDef]:
    """The tables of this module."""
    return [
        *(account(), contact(), lead(), opportunity(), systemuser(), team(), businessunit(), role()),
        *(privilege(), transactioncurrency(), organization(), sdkmessage(), sdkmessagefilter()),
    ]


def core_relationships() -> list[Rel]:
    """Relationships of this module's tables (names from the Web API EntityType reference)."""
    return [
        *audit_rels("account", "lk_accountbase_{}"),
        *owner_rels("account", "owner_accounts", "business_unit_accounts", "user_accounts", "team_accounts"),
        currency_rel("account", "transactioncurrency_account"),
        rel("account_parent_account", "account", "parentaccountid", "account"),
        rel("account_primary_contact", "account", "primarycontactid", "contact"),
        rel("system_user_accounts", "account", "preferredsystemuserid", "systemuser"),
        rel("account_originating_lead", "account", "originatingleadid", "lead"),
        rel("account_master_account", "account", "masterid", "account"),
        *audit_rels("contact", "lk_contactbase_{}", "lk_contact_{}"),
        *owner_rels("contact", "owner_contacts", "business_unit_contacts", "contact_owning_user",
                    "team_contacts"),
        currency_rel("contact", "transactioncurrency_contact"),
        *(
            rel(f"contact_customer_{t}s", "contact", "parentcustomerid", t, f"parentcustomerid_{t}")
            for t in ("account", "contact")
        ),
        rel("system_user_contacts", "contact", "preferredsystemuserid", "systemuser"),
        rel("contact_originating_lead", "contact", "originatingleadid", "lead"),
        rel("contact_master_contact", "contact", "masterid", "contact"),
        *audit_rels("lead", "lk_leadbase_{}"),
        *owner_rels("lead", "owner_leads", "business_unit_leads", "lead_owning_user", "lead_owning_team"),
        currency_rel("lead", "transactioncurrency_lead"),
        rel("lead_customer_accounts", "lead", "customerid", "account", "customerid_account"),
        rel("lead_customer_contacts", "lead", "customerid", "contact", "customerid_contact"),
        rel("lead_parent_account", "lead", "parentaccountid", "account"),
        rel("lead_parent_contact", "lead", "parentcontactid", "contact"),
        rel("lead_qualifying_opportunity", "lead", "qualifyingopportunityid", "opportunity"),
        rel("lead_master_lead", "lead", "masterid", "lead"),
        *audit_rels("opportunity", "lk_opportunitybase_{}", "lk_opportunity_{}"),
        *owner_rels("opportunity", "owner_opportunitys", "business_unit_opportunities",
                    "opportunity_owning_user", "team_opportunities"),
        currency_rel("opportunity", "transactioncurrency_opportunity"),
        rel("opportunity_customer_accounts", "opportunity", "customerid", "account", "customerid_account"),
        rel("opportunity_customer_contacts", "opportunity", "customerid", "contact", "customerid_contact"),
        rel("opportunity_parent_account", "opportunity", "parentaccountid", "account"),
        rel("opportunity_parent_contact", "opportunity", "parentcontactid", "contact"),
        rel("opportunity_originating_lead", "opportunity", "originatingleadid", "lead"),
        *audit_rels("systemuser", "lk_systemuserbase_{}", "lk_systemuser_{}"),
        currency_rel("systemuser", "TransactionCurrency_SystemUser"),
        rel("business_unit_system_users", "systemuser", "businessunitid", "businessunit"),
        rel("user_parent_user", "systemuser", "parentsystemuserid", "systemuser"),
        *audit_rels("team", "lk_teambase_{}", "lk_team_{}"),
        currency_rel("team", "TransactionCurrency_Team"),
        rel("business_unit_teams", "team", "businessunitid", "businessunit"),
        rel("lk_teambase_administratorid", "team", "administratorid", "systemuser"),
        *audit_rels("businessunit", "lk_businessunitbase_{}", "lk_businessunit_{}"),
        currency_rel("businessunit", "TransactionCurrency_BusinessUnit"),
        rel("business_unit_parent_business_unit", "businessunit", "parentbusinessunitid", "businessunit"),
        rel("organization_business_units", "businessunit", "organizationid", "organization"),
        *audit_rels("role", "lk_rolebase_{}", "lk_role_{}"),
        rel("business_unit_roles", "role", "businessunitid", "businessunit"),
        rel("role_parent_role", "role", "parentroleid", "role"),
        rel("role_parent_root_role", "role", "parentrootroleid", "role"),
        *audit_rels("transactioncurrency", "lk_transactioncurrencybase_{}", "lk_transactioncurrency_{}"),
        rel("organization_transactioncurrencies", "transactioncurrency", "organizationid", "organization"),
        *audit_rels("organization", "lk_organizationbase_{}", "lk_organization_{}"),
        rel("basecurrency_organization", "organization", "basecurrencyid", "transactioncurrency"),
        *audit_rels("sdkmessage", "{}_sdkmessage", "lk_sdkmessage_{}"),
        rel("organization_sdkmessage", "sdkmessage", "organizationid", "organization"),
        *audit_rels("sdkmessagefilter", "{}_sdkmessagefilter", "lk_sdkmessagefilter_{}"),
        rel("organization_sdkmessagefilter", "sdkmessagefilter", "organizationid", "organization"),
        rel("sdkmessageid_sdkmessagefilter", "sdkmessagefilter", "sdkmessageid", "sdkmessage"),
    ]  # fmt: skip


# --- assembly ------------------------------------------------------------------------------------------


def resolve(catalogue: Catalogue, spec: Rel) -> RelationshipDef:
    """A relationship spec as a RelationshipDef (the owner pseudo-table's key is ``ownerid``)."""
    referenced_attribute = "ownerid" if spec.target == OWNER else catalogue.entity(spec.target).primary_id
    return RelationshipDef(
        schema_name=spec.schema,
        referencing_entity=spec.entity,
        referencing_attribute=spec.attribute,
        referenced_entity=spec.target,
        referenced_attribute=referenced_attribute,
        referencing_nav=spec.nav,
        referenced_nav=spec.schema,
        cascade=standard_cascade(
            spec.schema, spec.entity, spec.attribute, referencing_is_activity=catalogue.entity(spec.entity).is_activity
        ),
    )


def build_standard_catalogue() -> Catalogue:
    """A fresh catalogue of the standard tables and their relationships (no alternate keys).

    Raises:
        ValueError: when two relationships share a schema name (a defect of this module).
    """
    catalogue = Catalogue()
    for entity in (*core_tables(), *activity_tables()):
        catalogue.add_entity(entity)
    for spec in (*core_relationships(), *activity_relationships()):
        if spec.schema in catalogue.relationships:
            raise ValueError(f"duplicate relationship schema name {spec.schema}")
        catalogue.add_relationship(resolve(catalogue, spec))
    return catalogue
