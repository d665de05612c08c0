"""The base of the demo seed: its principals and staff, sizes, and one writer that draws every random value from
one ``Random(seed)`` and puts rows through :class:`~salesbridge.sandbox.organization.foundation.RowWriter`."""

from __future__ import annotations

import random
import uuid
from collections import Counter
from datetime import UTC, datetime, timedelta
from typing import Any, NamedTuple

from salesbridge.sandbox.odata.values import format_timestamp
from salesbridge.sandbox.organization.foundation import (
    ROOT_BUSINESS_UNIT_ID,
    RowWriter,
)
from salesbridge.sandbox.organization.state import SandboxState
from salesbridge.sandbox.seeds.vocabulary import COUNTRIES, STREETS, City, composite, defaults, fill_digits


class Principal(NamedTuple):
    """An owner: a user or a team, with the business unit its records belong to."""

    id: str
    type: str  # "systemuser" | "team"
    unit: str
    name: str
    email: str | None
    lang: str
    americas: bool


class Staff(NamedTuple):
    first: str
    last: str
    title: str
    unit: str  # "root" | "emea" | "americas"
    city: str
    lang: str


STAFF: tuple[Staff, ...] = (
    Staff("Lucía", "Fernández", "Directora de Ventas", "root", "Madrid", "es"),
    Staff("Javier", "Moreno", "Gerente de Ventas EMEA", "emea", "Madrid", "es"),
    Staff("Carmen", "Ruiz", "Ejecutiva de Cuentas", "emea", "Barcelona", "es"),
    Staff("Alejandro", "Castillo", "Ejecutivo de Cuentas", "emea", "Valencia", "es"),
    Staff("Sophie", "Laurent", "Account Executive", "emea", "Paris", "fr"),
    Staff("Thomas", "Becker", "Account Executive", "emea", "München", "de"),
    Staff("Emma", "Walsh", "Inside Sales Representative", "emea", "Dublin", "en"),
    Staff("Michael", "Carter", "Sales Manager Americas", "americas", "New York", "en"),
    Staff("Diego", "Ramírez", "Ejecutivo de Cuentas", "americas", "Ciudad de México", "es"),
    Staff("Valentina", "Gómez", "Ejecutiva de Cuentas", "americas", "Bogotá", "es"),
    Staff("Martina", "Sosa", "Ejecutiva de Cuentas", "americas", "Buenos Aires", "es"),
    Staff("Rafael", "Oliveira", "Executivo de Contas", "americas", "São Paulo", "pt"),
    Staff("Jessica", "Nguyen", "Inside Sales Representative", "americas", "Austin", "en"),
)
DISABLED_STAFF = Staff("Pablo", "Ortega", "Ejecutivo de Cuentas", "emea", "Sevilla", "es")

DEMO_ACCOUNTS = 60
DEMO_GROUPS = 6  # parent accounts with subsidiaries
DEMO_SUBSIDIARIES = 8
DEMO_CONTACTS = 200
DEMO_LEADS = 50
DEMO_TASKS = 45
DEMO_CALLS = 40
DEMO_EMAILS = 40
DEMO_NOTES = 25


class DemoWriter:
    """Plans and writes the demo organization; every random draw comes from one ``Random(seed)``."""

    def __init__(self, state: SandboxState, seed: int) -> None:
        self.state = state
        self.rng = random.Random(seed)
        # What matching compares (switchboards, addresses, second emails, profile URLs) is drawn from its own
        # generator, so the records' other values stay those drawn before these columns were seeded.
        self.extras = random.Random(f"matching:{seed}")
        self.now = state.now().astimezone(UTC).replace(microsecond=0)
        self.writer = RowWriter(state)
        self.counts: Counter[str] = Counter()
        self._columns: dict[str, set[str]] = {}
        self._defaults: dict[str, dict[str, Any]] = {}
        self.units: dict[str, str] = {"root": ROOT_BUSINESS_UNIT_ID}
        self.users: list[Principal] = []  # active humans, director first
        self.sellers: dict[bool, list[Principal]] = {False: [], True: []}  # by americas
        self.disabled: Principal | None = None
        self.team: Principal | None = None
        self.team_members: list[Principal] = []
        self.stakeholder_roles: list[str] = []
        self.accounts: list[dict[str, Any]] = []
        self.contacts: list[dict[str, Any]] = []
        self.contacts_of: dict[str, list[dict[str, Any]]] = {}
        self.leads: list[dict[str, Any]] = []
        self.opportunities: list[dict[str, Any]] = []
        self.principals: dict[str, Principal] = {}

    # -- helpers --

    def has(self, table: str) -> bool:
        return self.state.catalogue.find_entity(table) is not None

    def columns(self, table: str) -> set[str]:
        if table not in self._columns:
            self._columns[table] = set(self.state.storage.columns(table))
        return self._columns[table]

    def new_id(self) -> str:
        return str(uuid.UUID(int=self.rng.getrandbits(128), version=4))

    def put(self, table: str, values: dict[str, Any]) -> dict[str, Any]:
        """Insert one row (only columns the table has, API defaults filled); returns the stored row."""
        entity = self.state.catalogue.entity(table)
        columns = self.columns(table)
        row = {k: v for k, v in values.items() if k in columns}
        if table not in self._defaults:
            self._defaults[table] = defaults(self.state, table)
        for name, value in self._defaults[table].items():
            row.setdefault(name, value)
        full = self.writer.complete(entity, row)
        self.state.storage.insert(table, full)
        self.counts[table] += 1
        return full

    def between(self, start: datetime, end: datetime) -> datetime:
        """A random instant in [start, end] (whole seconds); ``start`` when the range is empty."""
        span = max(0, int((end - start).total_seconds()))
        return start + timedelta(seconds=self.rng.randint(0, span))

    def past(self, max_days: float, min_days: float = 0.0) -> datetime:
        return self.between(self.now - timedelta(days=max_days), self.now - timedelta(days=min_days))

    def modified_after(self, created: datetime, *, until: datetime | None = None) -> datetime:
        """A modification time after ``created``: often soon after, sometimes much later (≤ now)."""
        end = min(until or self.now, self.now)
        if end <= created:
            return created
        if self.rng.random() < 0.4:
            return self.between(created, min(end, created + timedelta(days=2)))
        return self.between(created, end)

    def stamps(self, created: datetime, modified: datetime) -> dict[str, str]:
        return {"createdon": format_timestamp(created), "modifiedon": format_timestamp(modified)}

    def owned(self, owner: Principal, *, creator: str | None = None) -> dict[str, Any]:
        """Owner columns of a record owned by ``owner`` (created and modified by a person)."""
        person = creator or (owner.id if owner.type == "systemuser" else self.users[0].id)
        return {
            "ownerid": owner.id,
            "ownerid__type": owner.type,
            "owningbusinessunit": owner.unit,
            "owningbusinessunit__type": "businessunit",
            "createdby": person,
            "createdby__type": "systemuser",
            "modifiedby": person,
            "modifiedby__type": "systemuser",
        }

    def acting_user(self, owner: Principal) -> Principal:
        """The person acting for an owner (a team's member when a team owns the record)."""
        if owner.type == "team":
            return self.rng.choice(self.team_members)
        return owner

    def phone(self, city: City) -> str:
        return f"{city.phone} {self.rng.randint(100, 999)} {self.rng.randint(1000, 9999)}"

    def address(self, city: City) -> dict[str, Any]:
        lang = COUNTRIES[city.country].lang
        streets, pattern = STREETS[lang]
        line1 = pattern.format(street=self.rng.choice(streets), number=self.rng.randint(1, 240))
        postal = fill_digits(self.rng, city.postal)
        return {
            "address1_line1": line1,
            "address1_city": city.name,
            "address1_stateorprovince": city.province,
            "address1_postalcode": postal,
            "address1_country": COUNTRIES[city.country].name,
            "address1_latitude": round(city.lat + self.rng.uniform(-0.05, 0.05), 5),
            "address1_longitude": round(city.lon + self.rng.uniform(-0.05, 0.05), 5),
            "address1_composite": composite(line1, city, postal),
        }

    # -- the plan --
