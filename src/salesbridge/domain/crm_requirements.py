"""What salesbridge needs from a customer's CRM: the tables it reads, their columns, and the read privileges.

The connect pre-flight checks these before a connection is accepted, and the import engine reads exactly these
columns, so the two cannot drift apart. Names are Dataverse logical names.
"""

from __future__ import annotations

from dataclasses import dataclass

GLOBAL_DEPTH = "Global"
"""Organization-level depth: change tracking returns every row of a table, so reading it needs all of them."""
BASIC_DEPTH = "Basic"


@dataclass(frozen=True)
class RequiredTable:
    """A table salesbridge reads.

    Attributes:
        logical_name: ``opportunity``.
        columns: Columns the import reads; each must exist.
        read_privilege: The privilege that allows reading it. Dataverse names some after something other than
            the table (``prvReadUser`` for systemuser, ``prvReadActivity`` for every activity table).
        change_tracked: Imported incrementally, so change tracking must be enabled and the read privilege must
            reach the whole organization.
    """

    logical_name: str
    columns: tuple[str, ...]
    read_privilege: str
    change_tracked: bool = True

    @property
    def required_depth(self) -> str:
        """The least privilege depth that suffices: ``Global`` for change-tracked tables, ``Basic`` otherwise."""
        return GLOBAL_DEPTH if self.change_tracked else BASIC_DEPTH


REQUIRED_TABLES: tuple[RequiredTable, ...] = (
    RequiredTable(
        "account",
        ("accountid", "name", "emailaddress1", "websiteurl", "ownerid", "parentaccountid", "statecode"),
        "prvReadAccount",
    ),
    RequiredTable(
        "contact",
        (
            "contactid",
            "fullname",
            "firstname",
            "lastname",
            "emailaddress1",
            "jobtitle",
            "parentcustomerid",
            "ownerid",
            "statecode",
        ),
        "prvReadContact",
    ),
    RequiredTable(
        "lead",
        (
            "leadid",
            "fullname",
            "firstname",
            "lastname",
            "emailaddress1",
            "companyname",
            "jobtitle",
            "parentaccountid",
            "parentcontactid",
            "ownerid",
            "statecode",
        ),
        "prvReadLead",
    ),
    RequiredTable(
        "opportunity",
        (
            "opportunityid",
            "name",
            "customerid",
            "parentaccountid",
            "parentcontactid",
            "ownerid",
            "estimatedvalue",
            "actualvalue",
            "estimatedclosedate",
            "actualclosedate",
            "salesstage",
            "salesstagecode",
            "stepname",
            "statecode",
        ),
        "prvReadOpportunity",
    ),
    RequiredTable(
        "systemuser",
        (
            "systemuserid",
            "fullname",
            "internalemailaddress",
            "azureactivedirectoryobjectid",
            "isdisabled",
            "accessmode",
            "applicationid",
            "businessunitid",
        ),
        "prvReadUser",
    ),
    RequiredTable("team", ("teamid", "name", "teamtype", "businessunitid"), "prvReadTeam"),
    RequiredTable(
        "connection",
        ("connectionid", "record1id", "record2id", "record1roleid", "record2roleid", "statecode"),
        "prvReadConnection",
    ),
    RequiredTable(
        "activitypointer",
        ("activityid", "activitytypecode", "subject", "regardingobjectid", "ownerid", "actualend", "statecode"),
        "prvReadActivity",
    ),
)
"""Every table salesbridge reads, in the order the pre-flight reports them."""

DEPTH_ORDER: tuple[str, ...] = ("Basic", "Local", "Deep", GLOBAL_DEPTH)
"""Privilege depths from the narrowest to the widest."""


def depth_suffices(held: str, required: str) -> bool:
    """Whether a privilege held at depth ``held`` reaches at least ``required`` (names from :data:`DEPTH_ORDER`).

    Raises:
        ValueError: a depth is not one of :data:`DEPTH_ORDER`.
    """
    return DEPTH_ORDER.index(held) >= DEPTH_ORDER.index(required)
