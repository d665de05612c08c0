"""The pipeline, the won value, and what auto-save puts in a seller's two CRM lists. Pure rules; no I/O.

* An opportunity is **in the pipeline** when it is open (``statecode`` 0) and its stage is at or past the
  organization's threshold (:class:`PipelineRule`). The stage is read from a choice column (``salesstage``,
  ``salesstagecode``: compared by option value) or from the business process step name (``stepname``: compared by
  its leading number, ``"3-Propose"`` → 3, else by equal text).
* The **won value** of an opportunity is a money column, optionally its base-currency twin ``<column>_base``.
* **Auto-save** fills a seller's "My CRM accounts" and "My CRM leads and contacts" lists from the records they own
  (:func:`auto_saved_items`). Only active records (``statecode`` 0) are saved; whatever no longer qualifies
  (an opportunity won, lost, moved back a stage or given to someone else) leaves the lists.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Any, Final

SALES_STAGE: Final = "salesstage"
PROCESS_CODE: Final = "salesstagecode"
PROCESS_STEP: Final = "stepname"
CHOICE_STAGE_SOURCES: Final = (SALES_STAGE, PROCESS_CODE)
"""Stage sources that are choice columns (compared by option value)."""
STAGE_SOURCES: Final = (SALES_STAGE, PROCESS_CODE, PROCESS_STEP)
"""Every stage source, as stored in the settings (the values of :class:`StageSource`)."""

OPEN: Final = 0
"""``statecode`` of an open opportunity and of an active account, contact, lead or connection."""

_LEADING_NUMBER = re.compile(r"\s*(\d+)")


def _integer(value: Any) -> int | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, float) and value.is_integer():
        return int(value)
    if isinstance(value, str):
        try:
            return int(value.strip())
        except ValueError:
            return None
    return None


def step_number(step_name: str) -> int | None:
    """The leading number of a step name (``"3-Propose"`` → 3), or None when it has none."""
    found = _LEADING_NUMBER.match(step_name)
    return int(found.group(1)) if found else None


def is_active(data: Mapping[str, Any]) -> bool:
    """True when the record's ``statecode`` is 0 (open, active)."""
    return _integer(data.get("statecode")) == OPEN


@dataclass(frozen=True)
class PipelineRule:
    """Where an opportunity enters the pipeline.

    Attributes:
        stage_source: One of :data:`STAGE_SOURCES`.
        threshold: The first stage inside the pipeline: an option value (as text) of a choice source, or a step
            name; None means every open opportunity is in the pipeline.

    Raises:
        ValueError: ``stage_source`` is not a stage source.
    """

    stage_source: str
    threshold: str | None = None

    def __post_init__(self) -> None:
        if self.stage_source not in STAGE_SOURCES:
            raise ValueError(f"unknown stage source {self.stage_source!r}; use one of {', '.join(STAGE_SOURCES)}")

    def reached(self, data: Mapping[str, Any]) -> bool:
        """True when the opportunity's stage is at or past the threshold (always, without a threshold). An
        opportunity without a stage value has not reached any threshold."""
        if self.threshold is None:
            return True
        value = data.get(self.stage_source)
        if self.stage_source in CHOICE_STAGE_SOURCES:
            stage, threshold = _integer(value), _integer(self.threshold)
            return stage is not None and threshold is not None and stage >= threshold
        if not isinstance(value, str) or not value.strip():
            return False
        stage_number, threshold_number = step_number(value), step_number(self.threshold)
        if stage_number is not None and threshold_number is not None:
            return stage_number >= threshold_number
        return value.strip().casefold() == self.threshold.strip().casefold()

    def includes(self, data: Mapping[str, Any]) -> bool:
        """True when the opportunity is open and at or past the threshold: it is in the pipeline."""
        return is_active(data) and self.reached(data)


class StageSource(StrEnum):
    """Where an opportunity's pipeline stage is read from (also the column type of ``store.tables.CrmSettings``)."""

    SALES_STAGE = SALES_STAGE
    PROCESS_CODE = PROCESS_CODE
    PROCESS_STEP = PROCESS_STEP


PROFILE_URL_TABLES: Final = ("contact", "lead", "account")
"""The CRM tables whose records matching ties to people and companies, each of which may keep a profile URL in a
column the administrator maps (Dynamics has no standard one)."""

DEFAULT_WON_VALUE_COLUMN: Final = "actualvalue"
DEFAULT_SYNC_INTERVAL_MINUTES: Final = 15


@dataclass(frozen=True, kw_only=True)
class CrmSettings:
    """The organization's CRM settings; the defaults (this class's) until an administrator saves them.

    Attributes:
        stage_threshold: The first stage inside the pipeline (an option value as text, or a step name); None means
            every open opportunity.
        updated_at: When they were last saved; None while the defaults are in force.
    """

    stage_source: StageSource = StageSource.SALES_STAGE
    stage_threshold: str | None = None
    won_value_column: str = DEFAULT_WON_VALUE_COLUMN
    won_value_base_currency: bool = False
    auto_save_enabled: bool = True
    sync_interval_minutes: int = DEFAULT_SYNC_INTERVAL_MINUTES
    contact_profile_url_column: str | None = None
    lead_profile_url_column: str | None = None
    account_profile_url_column: str | None = None
    updated_at: datetime | None = None

    @property
    def profile_url_columns(self) -> dict[str, str]:
        """The column each table keeps a LinkedIn profile URL in, for the tables that have one mapped
        (``{"contact": "new_linkedinurl"}``)."""
        mapped = {table: getattr(self, f"{table}_profile_url_column") for table in PROFILE_URL_TABLES}
        return {table: column for table, column in mapped.items() if column}

    @property
    def is_saved(self) -> bool:
        """False while the defaults are in force."""
        return self.updated_at is not None

    @property
    def pipeline_rule(self) -> PipelineRule:
        """Where an opportunity enters the pipeline, by these settings."""
        return PipelineRule(stage_source=self.stage_source.value, threshold=self.stage_threshold)


def won_value(data: Mapping[str, Any], column: str, base_currency: bool = False) -> float | None:
    """The value of a won opportunity: ``column`` (or its base-currency twin ``<column>_base``), or None when the
    opportunity has no number there."""
    value = data.get(f"{column}_base" if base_currency else column)
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    return float(value)


def won_value_columns(column: str, base_currency: bool) -> tuple[str, ...]:
    """The opportunity columns the import must read for the won value: ``column``, and ``<column>_base`` when the
    base currency is used."""
    return (column, f"{column}_base") if base_currency else (column,)


class SaveReason(StrEnum):
    """Why auto-save put a record in a list: the rule that chose it."""

    ACCOUNTS_OF_OPEN_OPPORTUNITIES = "accounts_of_open_opportunities"
    ACCOUNTS_OWNED = "accounts_owned"
    LEADS_OF_OPEN_OPPORTUNITIES = "leads_of_open_opportunities"
    LEADS_OF_OWNED_ACCOUNTS = "leads_of_owned_accounts"


@dataclass(frozen=True)
class AutoSaveChoices:
    """A seller's auto-save rules (the defaults are the product's)."""

    accounts_of_open_opportunities: bool = True
    accounts_owned: bool = False
    leads_of_open_opportunities: bool = True
    leads_of_owned_accounts: bool = False


@dataclass(frozen=True)
class RecordFacts:
    """An imported CRM record as auto-save sees it.

    Attributes:
        table: ``account``, ``contact``, ``lead``, ``opportunity`` or ``connection``.
        crm_id: The record's id (lowercase GUID).
        owner_id: The owning user's or team's id, when the table has owners.
        parent_id: The account of a contact, lead or opportunity; the first record of a connection.
        data: Every imported column (lookups as ``{"id": …, "table": …}``).
    """

    table: str
    crm_id: str
    owner_id: str | None
    parent_id: str | None
    data: Mapping[str, Any]

    @property
    def is_active(self) -> bool:
        """``statecode`` is 0."""
        return is_active(self.data)


@dataclass(frozen=True, order=True)
class SavedItem:
    """A record auto-save keeps in a list, and why."""

    table: str
    crm_id: str
    reason: SaveReason


@dataclass(frozen=True)
class AutoSaveSelection:
    """What a seller's two system lists must hold."""

    accounts: frozenset[SavedItem]
    leads_and_contacts: frozenset[SavedItem]


def lookup(data: Mapping[str, Any], column: str) -> tuple[str | None, str | None]:
    """The ``(id, table)`` of a lookup column, ``(None, None)`` when empty; ids are lowercased."""
    value = data.get(column)
    if isinstance(value, Mapping) and value.get("id"):
        table = value.get("table")
        return str(value["id"]).lower(), str(table) if table else None
    return None, None


def opportunity_accounts(data: Mapping[str, Any]) -> tuple[str, ...]:
    """The account of an opportunity: ``parentaccountid``, else ``customerid`` when it is an account."""
    account, _ = lookup(data, "parentaccountid")
    if account:
        return (account,)
    customer, table = lookup(data, "customerid")
    return (customer,) if customer and table == "account" else ()


def opportunity_people(data: Mapping[str, Any]) -> tuple[tuple[str, str], ...]:
    """The ``(table, id)`` of the contacts and the lead an opportunity names: ``parentcontactid``, ``customerid``
    when a contact, and ``originatingleadid`` (stakeholders come from connection records)."""
    people: list[tuple[str, str]] = []
    contact, _ = lookup(data, "parentcontactid")
    if contact:
        people.append(("contact", contact))
    customer, table = lookup(data, "customerid")
    if customer and table == "contact":
        people.append(("contact", customer))
    lead, _ = lookup(data, "originatingleadid")
    if lead:
        people.append(("lead", lead))
    return tuple(dict.fromkeys(people))


def stakeholder(connection: RecordFacts) -> str | None:
    """The contact a connection record links to its first record (``record2id``), or None."""
    contact, table = lookup(connection.data, "record2id")
    return contact if contact and table == "contact" else None


def pipeline_opportunities(owner_id: str, rule: PipelineRule, records: Iterable[RecordFacts]) -> list[RecordFacts]:
    """The opportunities of ``records`` owned by ``owner_id`` that are in the pipeline."""
    owner = owner_id.lower()
    return [
        record
        for record in records
        if record.table == "opportunity" and (record.owner_id or "").lower() == owner and rule.includes(record.data)
    ]


def auto_saved_items(
    owner_id: str, choices: AutoSaveChoices, rule: PipelineRule, records: Iterable[RecordFacts]
) -> AutoSaveSelection:
    """What auto-save keeps for the CRM user ``owner_id`` (the systemuserid in ``ownerid``).

    ``records`` must hold at least the owner's opportunities and accounts, the accounts, contacts and leads those
    opportunities name, the connections whose first record is one of them, and the contacts and leads of the
    owner's accounts; other records are ignored. A record named but absent is not saved (its state is unknown).
    When a record qualifies under two rules, the opportunity rule is its reason.
    """
    owner = owner_id.lower()
    by_key: dict[tuple[str, str], RecordFacts] = {}
    connections: list[RecordFacts] = []
    for record in records:
        if record.table == "connection":
            connections.append(record)
        else:
            by_key[(record.table, record.crm_id.lower())] = record

    def active(table: str, crm_id: str) -> bool:
        found = by_key.get((table, crm_id))
        return found is not None and found.is_active

    accounts: dict[str, SavedItem] = {}
    people: dict[tuple[str, str], SavedItem] = {}
    opportunities = pipeline_opportunities(owner, rule, by_key.values())
    if choices.accounts_of_open_opportunities:
        for opportunity in opportunities:
            for account in opportunity_accounts(opportunity.data):
                if active("account", account):
                    accounts.setdefault(
                        account, SavedItem("account", account, SaveReason.ACCOUNTS_OF_OPEN_OPPORTUNITIES)
                    )
    if choices.leads_of_open_opportunities:
        reason = SaveReason.LEADS_OF_OPEN_OPPORTUNITIES
        in_pipeline = {opportunity.crm_id.lower() for opportunity in opportunities}
        for opportunity in opportunities:
            for table, crm_id in opportunity_people(opportunity.data):
                if active(table, crm_id):
                    people.setdefault((table, crm_id), SavedItem(table, crm_id, reason))
        for connection in connections:
            first, _ = lookup(connection.data, "record1id")
            contact = stakeholder(connection)
            if first in in_pipeline and contact and connection.is_active and active("contact", contact):
                people.setdefault(("contact", contact), SavedItem("contact", contact, reason))
    owned_accounts = {
        crm_id
        for (table, crm_id), record in by_key.items()
        if table == "account" and (record.owner_id or "").lower() == owner and record.is_active
    }
    if choices.accounts_owned:
        for account in sorted(owned_accounts):
            accounts.setdefault(account, SavedItem("account", account, SaveReason.ACCOUNTS_OWNED))
    if choices.leads_of_owned_accounts:
        for (table, crm_id), record in sorted(by_key.items()):
            if table in ("contact", "lead") and (record.parent_id or "").lower() in owned_accounts and record.is_active:
                people.setdefault((table, crm_id), SavedItem(table, crm_id, SaveReason.LEADS_OF_OWNED_ACCOUNTS))
    return AutoSaveSelection(accounts=frozenset(accounts.values()), leads_and_contacts=frozenset(people.values()))


def account_reason(
    account: RecordFacts | None,
    owner_id: str,
    choices: AutoSaveChoices,
    rule: PipelineRule,
    naming: Iterable[RecordFacts],
) -> SaveReason | None:
    """Why auto-save keeps ``account`` for ``owner_id`` (the reason :func:`auto_saved_items` gives it), or None
    when it keeps it not: ``account`` is the account (None: not imported), ``naming`` must hold every opportunity
    naming it (others are ignored)."""
    if account is None or not account.is_active:
        return None
    owner, crm_id = owner_id.lower(), account.crm_id.lower()
    if choices.accounts_of_open_opportunities and any(
        crm_id in opportunity_accounts(opportunity.data) for opportunity in pipeline_opportunities(owner, rule, naming)
    ):
        return SaveReason.ACCOUNTS_OF_OPEN_OPPORTUNITIES
    if choices.accounts_owned and (account.owner_id or "").lower() == owner:
        return SaveReason.ACCOUNTS_OWNED
    return None


def person_reason(
    person: RecordFacts | None,
    owner_id: str,
    choices: AutoSaveChoices,
    rule: PipelineRule,
    *,
    naming: Iterable[RecordFacts],
    connections: Iterable[tuple[RecordFacts, RecordFacts | None]],
    parent: RecordFacts | None,
) -> SaveReason | None:
    """Why auto-save keeps the contact or lead ``person`` for ``owner_id`` (the reason :func:`auto_saved_items`
    gives it), or None when it keeps it not. ``person`` is the record (None: not imported); ``naming`` must hold
    every opportunity naming it, ``connections`` every connection whose ``record2id`` is it, each with the
    opportunity it links (its ``record1id``; None when that is no imported opportunity), and ``parent`` its
    account (None: none imported)."""
    if person is None or not person.is_active:
        return None
    owner, key = owner_id.lower(), (person.table, person.crm_id.lower())
    if choices.leads_of_open_opportunities:
        if any(key in opportunity_people(o.data) for o in pipeline_opportunities(owner, rule, naming)):
            return SaveReason.LEADS_OF_OPEN_OPPORTUNITIES
        if person.table == "contact" and any(
            connection.is_active
            and stakeholder(connection) == key[1]
            and opportunity is not None
            and pipeline_opportunities(owner, rule, [opportunity])
            for connection, opportunity in connections
        ):
            return SaveReason.LEADS_OF_OPEN_OPPORTUNITIES
    if (
        choices.leads_of_owned_accounts
        and parent is not None
        and parent.is_active
        and (parent.owner_id or "").lower() == owner
        and (person.parent_id or "").lower() == parent.crm_id.lower()
    ):
        return SaveReason.LEADS_OF_OWNED_ACCOUNTS
    return None
