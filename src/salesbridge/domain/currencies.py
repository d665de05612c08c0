"""The connected CRM's currencies: which is the organization's base currency, and each one's ISO 4217 code.

Dynamics keeps money in a record's own currency (its ``transactioncurrencyid``) and, beside each money column, a
``<column>_base`` twin in the organization's base currency (``organization.basecurrencyid``); a currency's ISO code is
its ``transactioncurrency.isocurrencycode``. The import reads these each run; pages format amounts with the code.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True)
class CrmCurrencies:
    """The CRM's currencies as last imported (empty before the first import).

    Attributes:
        base_currency_id: The organization's base currency (a ``transactioncurrencyid``), None when unknown.
        codes: ISO 4217 code of each currency by ``transactioncurrencyid``.
    """

    base_currency_id: str | None = None
    codes: Mapping[str, str] = field(default_factory=dict)

    @property
    def base(self) -> str | None:
        """The base currency's ISO code, None when unknown."""
        return self.code_of(self.base_currency_id)

    def code_of(self, currency: Any) -> str | None:
        """The ISO code of ``currency``: a ``transactioncurrencyid``, or an imported lookup (``{"id": ...}``);
        None when unknown."""
        if isinstance(currency, Mapping):
            currency = currency.get("id")
        if not isinstance(currency, str):
            return None
        return self.codes.get(currency.lower()) or self.codes.get(currency)
