"""The cascade configuration of the standard relationships, as Dataverse documents them.

Sources (MicrosoftDocs): ``powerapps-docs/developer/data-platform/configure-entity-relationship-cascading-behavior.md``
(the CascadeType values and which ones each action accepts), the one-to-many relationships of
``powerapps-docs/developer/data-platform/reference/entities/account.md`` and ``contact.md``
(``contact_customer_accounts``: every action Cascade; ``account_parent_account``: Delete RemoveLink;
``account_master_account``: RemoveLink; ``Account_Tasks`` and the other activities' ``regardingobjectid``:
Cascade; ``Account_ActivityPointers``: RemoveLink; ``Account_Annotation``: Cascade; ``account_connections1/2``:
Delete Cascade; ``account_activity_parties``: NoCascade), and the many-to-one relationships of the Sales tables in
``dynamics-365-customer-engagement/ce/developer/entities/opportunity.md`` and ``lead.md``
(``opportunity_customer_accounts``/``lead_customer_accounts``: Cascade; ``opportunity_parent_account``,
``lead_parent_account``, ``opportunity_originating_lead``: Delete RemoveLink, Merge Cascade; created/modified by,
owner, owning user and team: NoCascade; ``business_unit_opportunities``: Delete Restrict).
"""

from __future__ import annotations

from salesbridge.sandbox.catalogue.definitions import (
    HIERARCHY,
    PARENTAL,
    REFERENTIAL,
    REFERENTIAL_MERGED,
    RESTRICTED,
    SYSTEM,
    CascadeConfiguration,
    CascadeType,
)

_SYSTEM_LOOKUPS = frozenset(
    {"createdby", "createdonbehalfby", "modifiedby", "modifiedonbehalfby", "ownerid", "owninguser", "owningteam"}
)
_PARENTAL = frozenset(
    {
        "contact_customer_accounts",
        "contact_customer_contacts",
        "opportunity_customer_accounts",
        "opportunity_customer_contacts",
        "lead_customer_accounts",
        "lead_customer_contacts",
    }
)
_MERGED = frozenset(
    {
        "lead_parent_account",
        "lead_parent_contact",
        "opportunity_parent_account",
        "opportunity_parent_contact",
        "opportunity_originating_lead",
    }
)
_CONNECTION = CascadeConfiguration(delete=CascadeType.CASCADE, merge=CascadeType.CASCADE)


def standard_cascade(
    schema_name: str, referencing_entity: str, referencing_attribute: str, *, referencing_is_activity: bool
) -> CascadeConfiguration:
    """The documented cascade configuration of a standard relationship (REFERENTIAL when nothing says otherwise,
    which is also what Dataverse gives a new relationship)."""
    if referencing_attribute in _SYSTEM_LOOKUPS:
        return SYSTEM
    if referencing_attribute == "owningbusinessunit":
        return RESTRICTED
    if schema_name in _PARENTAL:
        return PARENTAL
    if schema_name in _MERGED:
        return REFERENTIAL_MERGED
    if schema_name == "account_parent_account":
        return HIERARCHY
    if referencing_entity == "activitypointer":
        return REFERENTIAL  # the activity itself cascades; its pointer row goes with it
    if referencing_entity == "activityparty":
        # The parties of an activity go with it; a party's own record (partyid) does not touch them.
        return PARENTAL if referencing_attribute == "activityid" else SYSTEM
    if referencing_attribute == "regardingobjectid" and referencing_is_activity:
        return PARENTAL
    if referencing_entity == "annotation" and referencing_attribute == "objectid":
        return PARENTAL
    if referencing_entity == "connection" and referencing_attribute in ("record1id", "record2id"):
        return _CONNECTION
    return REFERENTIAL
