"""Standard activity tables, activity parties, notes and connections, as data (standard catalogue, part 2).

Activities (task, phonecall, email) share the activitypointer columns; activitypointer itself is the
read-only union the engine mirrors every activity into. Each concrete activity has its own relationships
with activity-specific navigation property names, as Dataverse documents them:
``regardingobjectid_<target>_<activity>`` (``regardingobjectid_contact_task``; the bare
``regardingobjectid_contact`` belongs to activitypointer) and ``ownerid_task``, ``createdby_task`` … for
the system lookups. Notes bind through ``objectid_<table>``, parties through ``activityid_<activity>`` and
``partyid_<table>``, connections through ``record1id_<table>`` / ``record2id_<table>``.

Bulk messages are not configured on the activities or on notes: clients must use ``$batch`` there.
"""

from __future__ import annotations

from salesbridge.sandbox.catalogue.builders import (
    ACTIVE_STATES,
    ACTIVE_STATUSES,
    NONE,
    PRIORITIES,
    REQUIRED,
    SYSTEM,
    Rel,
    audit_rels,
    bigint,
    boolean,
    choices,
    currency_rel,
    datetime_,
    entity_name,
    guid,
    integer,
    lookup,
    memo,
    options,
    owner_columns,
    owner_rels,
    party_list,
    picklist,
    pk,
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
from salesbridge.sandbox.catalogue.definitions import AttributeDef, EntityDef, OwnershipType

ACTIVITIES = ("task", "phonecall", "email")
#: Tables an activity can be regarding (each with "Enable activities" in Dataverse).
REGARDING_TARGETS = ("account", "contact", "lead", "opportunity")
#: Tables a note can be attached to (each with HasNotes).
NOTE_TARGETS = ("account", "contact", "lead", "opportunity", "task", "phonecall", "email")
#: Tables an activity party can point at.
PARTY_TARGETS = ("account", "contact", "lead", "systemuser")
#: Tables a connection can join.
CONNECTION_TARGETS = (
    *("account", "activitypointer", "contact", "email", "lead"),
    *("opportunity", "phonecall", "systemuser", "task", "team"),
)

_ACTIVITY_TABLE = {"change_tracking_enabled": True, "is_activity": True, "has_notes": True}
_STATE_LABEL = "Activity Status"

# Relationship names that differ per activity (from the Web API EntityType reference).
_REGARDING_COLLECTION = {"task": "Tasks", "phonecall": "Phonecalls", "email": "Emails"}
_OWNING_UNIT = {
    "task": "business_unit_task_activities",
    "phonecall": "business_unit_phone_call_activities",
    "email": "business_unit_email_activities",
}
_CURRENCY = {
    "task": "TransactionCurrency_Task",
    "phonecall": "TransactionCurrency_PhoneCall",
    "email": "TransactionCurrency_Email",
}
_NOTE_COLLECTION = {
    "account": "Account_Annotation",
    "contact": "Contact_Annotation",
    "lead": "Lead_Annotation",
    "opportunity": "Opportunity_Annotation",
    "task": "Task_Annotation",
    "phonecall": "PhoneCall_Annotation",
    "email": "Email_Annotation",
}
_PARTY_COLLECTION = {
    "account": "account_activity_parties",
    "contact": "contact_activity_parties",
    "lead": "lead_activity_parties",
    "systemuser": "system_user_activity_parties",
}


def activity_columns(subject_length: int, *, subject_required: bool = True) -> list[AttributeDef]:
    """The columns every activity shares with activitypointer (activitytypecode is set by the engine)."""
    return [
        pk("activityid", "Activity"),
        primary_name("subject", "Subject", subject_length, required=REQUIRED if subject_required else NONE),
        entity_name("activitytypecode", "Activity Type", required=SYSTEM, read_only=True),
        lookup("regardingobjectid", "Regarding", *REGARDING_TARGETS),
        datetime_("scheduledstart", "Start Date"),
        datetime_("scheduledend", "Due Date"),
        datetime_("actualstart", "Actual Start"),
        datetime_("actualend", "Actual End"),
        integer("actualdurationminutes", "Duration", 0),
        integer("scheduleddurationminutes", "Scheduled Duration", 0, read_only=True),
        picklist("prioritycode", "Priority", PRIORITIES, 1),
        datetime_("sortdate", "Sort Date"),
        boolean("isregularactivity", "Is Regular Activity", default=True, required=SYSTEM, read_only=True),
        boolean("isbilled", "Is Billed"),
        boolean("isworkflowcreated", "Is Workflow Created"),
        integer("onholdtime", "On Hold Time (Minutes)", read_only=True),
        datetime_("lastonholdtime", "Last On Hold Time"),
        *process_columns(),
        *timezone_columns(),
        *record_columns(),
    ]


def task() -> EntityDef:
    """task (4212)."""
    states = (state(0, "Open", 2), state(1, "Completed", 5), state(2, "Canceled", 6))
    statuses = (
        status(2, "Not Started", 0),
        status(3, "In Progress", 0),
        status(4, "Waiting on someone else", 0),
        status(5, "Completed", 1),
        status(6, "Canceled", 2),
        status(7, "Deferred", 0),
    )
    return table(
        ("task", "tasks", "activityid", "subject", 4212),
        ("Task", "Task", "Tasks"),
        [
            *activity_columns(200),
            memo("description", "Description", 2000),
            integer("percentcomplete", "Percent Complete", 0, 100),
            string("category", "Category", 250),
            string("subcategory", "Sub-Category", 250),
            guid("crmtaskassigneduniqueid", "Assigned Task Unique Id"),
            *state_columns(states, statuses, _STATE_LABEL),
        ],
        **_ACTIVITY_TABLE,
        description="Generic activity representing work needed to be done.",
    )


def phonecall() -> EntityDef:
    """phonecall (4210)."""
    states = (state(0, "Open", 1), state(1, "Completed", 2), state(2, "Canceled", 3))
    statuses = (
        status(1, "Open", 0),
        status(2, "Made", 1),
        status(4, "Received", 1),
        status(3, "Canceled", 2),
    )
    return table(
        ("phonecall", "phonecalls", "activityid", "subject", 4210),
        ("PhoneCall", "Phone Call", "Phone Calls"),
        [
            *activity_columns(200),
            memo("description", "Description", 2000),
            string("phonenumber", "Phone Number", 200),
            boolean("directioncode", "Direction", "Outgoing", "Incoming", default=True),
            boolean("leftvoicemail", "Left Voice Mail"),
            party_list("from", "Call From", required=REQUIRED),
            party_list("to", "Call To", required=REQUIRED),
            string("category", "Category", 250),
            string("subcategory", "Sub-Category", 250),
            *state_columns(states, statuses, _STATE_LABEL),
        ],
        **_ACTIVITY_TABLE,
        description="Activity to track a telephone call.",
    )


def email() -> EntityDef:
    """email (4202): the subject (800) is optional; the body is a 1 GB memo."""
    states = (state(0, "Open", 1), state(1, "Completed", 2), state(2, "Canceled", 5))
    statuses = (
        status(1, "Draft", 0),
        status(8, "Failed", 0),
        status(2, "Completed", 1),
        status(3, "Sent", 1),
        status(4, "Received", 1),
        status(6, "Pending Send", 1),
        status(7, "Sending", 1),
        status(5, "Canceled", 2),
    )
    return table(
        ("email", "emails", "activityid", "subject", 4202),
        ("Email", "Email", "Email Messages"),
        [
            *activity_columns(800, subject_required=False),
            memo("description", "Description", 1_073_741_823),
            boolean("directioncode", "Direction", "Outgoing", "Incoming", default=True),
            party_list("from", "From"),
            party_list("to", "To"),
            party_list("cc", "Cc"),
            party_list("bcc", "Bcc"),
            string("sender", "From", 250),
            string("torecipients", "To Recipients", 500),
            string("messageid", "Message ID", 320),
            string("inreplyto", "In Reply To Message", 320, read_only=True),
            boolean("readreceiptrequested", "Read Receipt Requested"),
            boolean("deliveryreceiptrequested", "Delivery Receipt Requested"),
            datetime_("senton", "Date Sent", read_only=True),
            string("category", "Category", 250),
            string("subcategory", "Sub-Category", 250),
            *state_columns(states, statuses, _STATE_LABEL),
        ],
        **_ACTIVITY_TABLE,
        description="Activity that is delivered using email protocols.",
    )


def activitypointer() -> EntityDef:
    """activitypointer (4200): the read-only union of all activities, written by mirroring only.

    Its subject is 400 long in the docs while email's is 800: the mirror copies without checking.
    """
    states = (
        state(0, "Open", 1),
        state(1, "Completed", 2),
        state(2, "Canceled", 3),
        state(3, "Scheduled", 4),
    )
    statuses = (
        status(1, "Open", 0),
        status(2, "Completed", 1),
        status(3, "Canceled", 2),
        status(4, "Scheduled", 3),
    )
    instance_types = choices(
        "Not Recurring|Recurring Master|Recurring Instance|Recurring Exception|Recurring Future Exception", 0
    )
    return table(
        ("activitypointer", "activitypointers", "activityid", "subject", 4200),
        ("ActivityPointer", "Activity", "Activities"),
        [
            *activity_columns(400),
            memo("description", "Description", 1_073_741_823),
            boolean("leftvoicemail", "Left Voice Mail"),
            datetime_("senton", "Date Sent", read_only=True),
            picklist(
                "instancetypecode",
                "Recurring Instance Type",
                instance_types,
                0,
                required=SYSTEM,
                read_only=True,
            ),
            *state_columns(states, statuses, _STATE_LABEL),
        ],
        is_activity=True,
        is_read_only=True,
        change_tracking_enabled=True,
        description="Task performed, or to be performed, by a user: the union of all activity types.",
    )


def activityparty() -> EntityDef:
    """activityparty (135): written through the activities' ``<activity>_activity_parties``; no owner."""
    participation = choices(
        "Sender|To Recipient|CC Recipient|BCC Recipient|Required attendee|Optional attendee|Organizer"
        "|Regarding|Owner|Resource|Customer|Chat Participant"
    )
    return table(
        ("activityparty", "activityparties", "activitypartyid", "partyidname", 135),
        ("ActivityParty", "Activity Party", "Activity Parties"),
        [
            pk("activitypartyid", "Activity Party"),
            primary_name("partyidname", "Party Name", 400, update=False),
            # The docs give activitypointer as target; each concrete activity has its own relationship.
            lookup("activityid", "Activity", "activitypointer", *ACTIVITIES, required=SYSTEM),
            lookup("partyid", "Party", *PARTY_TARGETS),
            picklist("participationtypemask", "Participation Type", participation, required=SYSTEM),
            string("addressused", "Address", 320),
            string("unresolvedpartyname", "Unresolved Party Name", 200),
            boolean("ispartydeleted", "Is Party Deleted", required=SYSTEM, read_only=True),
            boolean("donotemail", "Do not allow Emails", "Do Not Allow", "Allow", read_only=True),
            boolean("donotphone", "Do not allow Phone Calls", "Do Not Allow", "Allow", read_only=True),
            datetime_("scheduledstart", "Scheduled Start", read_only=True),
            datetime_("scheduledend", "Scheduled End", read_only=True),
            string("exchangeentryid", "Exchange Entry", 1024),
            bigint("versionnumber", "Version Number", read_only=True),
        ],
        ownership_type=OwnershipType.NONE,
        change_tracking_enabled=False,
        description="Person or group associated with an activity.",
    )


def annotation() -> EntityDef:
    """annotation (5): a note, optionally with an attached file (documentbody is base64)."""
    return table(
        ("annotation", "annotations", "annotationid", "subject", 5),
        ("Annotation", "Note", "Notes"),
        [
            pk("annotationid", "Note"),
            primary_name("subject", "Title", 500),
            memo("notetext", "Description", 100_000),
            lookup("objectid", "Regarding", *NOTE_TARGETS),
            entity_name("objecttypecode", "Object Type"),
            boolean("isdocument", "Is Document"),
            string("filename", "File Name", 255),
            string("mimetype", "Mime Type", 256),
            memo("documentbody", "Document", 1_073_741_823),
            integer("filesize", "File Size (Bytes)", 0, read_only=True),
            string("langid", "Language ID", 2),
            *record_columns(currency=None),
        ],
        change_tracking_enabled=True,
        description="Note that is attached to one or more objects, including other notes.",
    )


def connection() -> EntityDef:
    """connection (3234): relates two records, each in a connection role."""
    return table(
        ("connection", "connections", "connectionid", "name", 3234),
        ("Connection", "Connection", "Connections"),
        [
            pk("connectionid", "Connection"),
            # Filled by the platform from the connected records' names; not writable through the API.
            primary_name("name", "Connection Name", 500, read_only=True),
            lookup("record1id", "Connected From", *CONNECTION_TARGETS),
            lookup("record2id", "Connected To", *CONNECTION_TARGETS),
            lookup("record1roleid", "Role (From)", "connectionrole"),
            lookup("record2roleid", "Role (To)", "connectionrole"),
            lookup("relatedconnectionid", "Reciprocal Connection", "connection", read_only=True),
            boolean("ismaster", "Is Master", read_only=True),
            memo("description", "Description", 1000),
            datetime_("effectivestart", "Starting"),
            datetime_("effectiveend", "Ending"),
            *state_columns(ACTIVE_STATES, ACTIVE_STATUSES),
            *record_columns(owned=False),
            # Dataverse documents no owning user or team on connections.
            *owner_columns(user=False, team=False),
        ],
        change_tracking_enabled=True,
        description="Relationship between two entities.",
    )


def connectionrole() -> EntityDef:
    """connectionrole (3231): organization-owned roles for the two sides of a connection."""
    categories = options(
        *((1, "Business"), (2, "Family"), (3, "Social"), (4, "Sales"), (5, "Other")),
        *((1000, "Stakeholder"), (1001, "Sales Team"), (1002, "Service")),
    )
    return table(
        ("connectionrole", "connectionroles", "connectionroleid", "name", 3231),
        ("ConnectionRole", "Connection Role", "Connection Roles"),
        [
            pk("connectionroleid", "Connection Role"),
            primary_name("name", "Name", 100, required=REQUIRED),
            picklist("category", "Connection Role Category", categories, 1, required=REQUIRED),
            memo("description", "Description", 1000),
            boolean("ismanaged", "State", "Managed", "Unmanaged", read_only=True),
            string("introducedversion", "Introduced Version", 48),
            *state_columns(ACTIVE_STATES, ACTIVE_STATUSES),
            lookup("organizationid", "Organization", "organization", read_only=True),
            *record_columns(owned=False, currency=None),
        ],
        ownership_type=OwnershipType.ORGANIZATION_OWNED,
        change_tracking_enabled=False,  # undocumented: not needed for sync
        description="Role describing a relationship between two records.",
    )


def activity_tables() -> list[EntityDef]:
    """The tables of this module."""
    return [
        *(task(), phonecall(), email(), activitypointer(), activityparty()),
        *(annotation(), connection(), connectionrole()),
    ]


def _activity_rels(activity: str) -> list[Rel]:
    """Relationships of one concrete activity; its navigation properties carry the activity as a suffix."""
    suffix = f"_{activity}"
    owner = (f"owner_{activity}s", _OWNING_UNIT[activity], f"user_{activity}", f"team_{activity}")
    return [
        *audit_rels(activity, f"lk_{activity}_{{}}", suffix=suffix),
        *owner_rels(activity, *owner, suffix=suffix),
        currency_rel(activity, _CURRENCY[activity], suffix),
        *(
            rel(f"{t.capitalize()}_{_REGARDING_COLLECTION[activity]}", activity, "regardingobjectid", t,
                f"regardingobjectid_{t}{suffix}")
            for t in REGARDING_TARGETS
        ),
    ]  # fmt: skip


def activity_relationships() -> list[Rel]:
    """Relationships of this module's tables (names from the Web API EntityType reference)."""
    pointer = "activitypointer"
    return [
        *(spec for activity in ACTIVITIES for spec in _activity_rels(activity)),
        # activitypointer: bare navigation property names
        *audit_rels(pointer, "lk_activitypointer_{}"),
        *owner_rels(pointer, "owner_activitypointers", "business_unit_activitypointer", "user_activity",
                    "team_activity"),
        currency_rel(pointer, "TransactionCurrency_ActivityPointer"),
        *(
            rel(f"{target.capitalize()}_ActivityPointers", pointer, "regardingobjectid", target,
                f"regardingobjectid_{target}")
            for target in REGARDING_TARGETS
        ),
        # activityparty
        *(
            rel(f"{a}_activity_parties", "activityparty", "activityid", a, f"activityid_{a}")
            for a in (pointer, *ACTIVITIES)
        ),
        *(rel(_PARTY_COLLECTION[t], "activityparty", "partyid", t, f"partyid_{t}") for t in PARTY_TARGETS),
        # annotation
        *audit_rels("annotation", "lk_annotationbase_{}"),
        *owner_rels("annotation", "owner_annotations", "business_unit_annotations", "annotation_owning_user",
                    "team_annotations"),
        *(rel(_NOTE_COLLECTION[t], "annotation", "objectid", t, f"objectid_{t}") for t in NOTE_TARGETS),
        # connection
        *audit_rels("connection", "{}_connection", "lk_connectionbase_{}"),
        *owner_rels("connection", "owner_connections", "business_unit_connections", None, None),
        currency_rel("connection", "TransactionCurrency_Connection"),
        *(
            rel(f"{t}_connections{side}", "connection", f"record{side}id", t, f"record{side}id_{t}")
            for side in (1, 2)
            for t in CONNECTION_TARGETS
        ),
        rel("connection_role_connections1", "connection", "record1roleid", "connectionrole"),
        rel("connection_role_connections2", "connection", "record2roleid", "connectionrole"),
        rel("connection_related_connection", "connection", "relatedconnectionid", "connection"),
        # connectionrole
        *audit_rels("connectionrole", "{}_connection_role", "lk_connectionrolebase_{}"),
        rel("organization_connection_roles", "connectionrole", "organizationid", "organization"),
    ]  # fmt: skip
