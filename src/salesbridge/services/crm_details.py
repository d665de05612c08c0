"""The CRM's key fields of the records tied to a person or company, for a seller whose seat has CRM sync on: each
record's owner and account, and the open opportunities of that account (or of the contact itself), with their
stage and value. A seat without CRM sync sees none of it (the CRM's data is for the seats the contract syncs)."""

from __future__ import annotations

import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Final

from salesbridge.domain.currencies import CrmCurrencies
from salesbridge.services.home import crm_standing
from salesbridge.services.ports import StoreAccess

OPPORTUNITIES_SHOWN: Final = 20
"""The open opportunities shown per record, largest first."""


@dataclass(frozen=True)
class OpenOpportunity:
    """An open opportunity: its name, stage (``stepname``, else ``salesstage``) and estimated value (in the base
    currency when the CRM gives it, else as entered, in the opportunity's own currency), with the ISO 4217 code of
    the value's currency (None when unknown: before the first import read the CRM's currencies)."""

    crm_id: str
    name: str | None
    stage: str | None
    value: float | None
    currency: str | None = None


@dataclass(frozen=True)
class CrmRecordDetails:
    """A tied CRM record's key fields: who owns it, its account, and the open opportunities there."""

    table: str
    crm_id: str
    name: str | None
    owner_name: str | None
    account_name: str | None
    opportunities: list[OpenOpportunity]


def _text(value: Any) -> str | None:
    return str(value) if value not in (None, "") else None


def _number(value: Any) -> float | None:
    return float(value) if isinstance(value, int | float) and not isinstance(value, bool) else None


def _opportunity(crm_id: str, data: Mapping[str, Any], currencies: CrmCurrencies) -> OpenOpportunity:
    base = _number(data.get("estimatedvalue_base"))
    own = _number(data.get("estimatedvalue"))
    return OpenOpportunity(
        crm_id=crm_id,
        name=_text(data.get("name")),
        stage=_text(data.get("stepname")) or _text(data.get("salesstage")),
        value=base if base is not None else own,
        currency=currencies.base if base is not None else currencies.code_of(data.get("transactioncurrencyid")),
    )


def crm_details(
    store: StoreAccess, organization_id: uuid.UUID, user_id: uuid.UUID, records: Sequence[tuple[str, str]]
) -> list[CrmRecordDetails] | None:
    """The key fields of ``records`` (``(table, crm id)`` of imported contacts, leads or accounts) as ``user_id``
    may see them: None when their seat's CRM sync is off (or they hold no seat). Records no longer imported are left
    out. Reads only."""
    with store(organization_id, read_only=True) as uow:
        if not crm_standing(uow, user_id).sync_on:
            return None
        found = [
            facts
            for table in sorted({table for table, _ in records})
            for facts in uow.crm_record_queries.by_ids(table, [crm_id for t, crm_id in records if t == table])
        ]
        accounts = {facts.crm_id: facts.crm_id if facts.table == "account" else facts.parent_id for facts in found}
        parents = {parent for parent in accounts.values() if parent} | {facts.crm_id for facts in found}
        opportunities = uow.crm_record_queries.open_opportunities(parents)
        currencies = uow.crm_connection.currencies()
        owners = {facts.owner_id for facts in found if facts.owner_id}
        names = uow.crm_record_queries.names(
            [
                *(("systemuser", owner) for owner in owners),
                *(("team", owner) for owner in owners),
                *(("account", parent) for parent in accounts.values() if parent),
                *((facts.table, facts.crm_id) for facts in found),
            ]
        )
    details: list[CrmRecordDetails] = []
    for facts in found:
        account = accounts[facts.crm_id]
        owner = facts.owner_id or ""
        mine = [
            _opportunity(opportunity.crm_id, opportunity.data, currencies)
            for opportunity in opportunities
            if opportunity.parent_id in (account, facts.crm_id)
        ]
        mine.sort(key=lambda line: (-(line.value or 0.0), line.name or ""))
        details.append(
            CrmRecordDetails(
                table=facts.table,
                crm_id=facts.crm_id,
                name=names.get((facts.table, facts.crm_id)),
                owner_name=names.get(("systemuser", owner)) or names.get(("team", owner)),
                account_name=names.get(("account", account)) if account else None,
                opportunities=mine[:OPPORTUNITIES_SHOWN],
            )
        )
    return details
