"""Building a sandbox organization: tables, the root business unit, currency, roles and the application user.

Every sandbox starts with the same foundation, whatever the seed: the organization row, a root business
unit, the base currency (USD), the System Administrator and Salesperson roles, the sdkmessagefilter rows
that answer bulk-action support probes, and one application user (client credentials) holding System
Administrator — the identity `sandbox.json` hands out.
"""

from __future__ import annotations

import json
import secrets
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from salesbridge.sandbox.catalogue.definitions import (
    BULK_MESSAGES,
    EntityDef,
    fill_state_and_status,
    lookup_type_column,
    stable_id,
)
from salesbridge.sandbox.catalogue.registry import Catalogue
from salesbridge.sandbox.catalogue.standard_tables import build_standard_catalogue
from salesbridge.sandbox.identity.client_secrets import SecretHash
from salesbridge.sandbox.odata.values import format_timestamp
from salesbridge.sandbox.organization.database import Storage
from salesbridge.sandbox.organization.saved_definitions import (
    DefinitionBaseline,
    restore_definitions,
    standard_baseline,
)
from salesbridge.sandbox.organization.security import VERBS, Depth, Security, privilege_name
from salesbridge.sandbox.organization.state import SandboxConfig, SandboxState, system_clock

SYSTEM_ADMINISTRATOR = "System Administrator"
SALESPERSON = "Salesperson"
ROOT_BUSINESS_UNIT_ID = stable_id("businessunit", "root")
SYSTEM_ADMINISTRATOR_ROLE_ID = stable_id("role", SYSTEM_ADMINISTRATOR)
SALESPERSON_ROLE_ID = stable_id("role", SALESPERSON)
SYSTEM_USER_ID = stable_id("systemuser", "SYSTEM")

_SALESPERSON_TABLES = {
    "account": Depth.LOCAL,
    "contact": Depth.LOCAL,
    "lead": Depth.BASIC,
    "opportunity": Depth.BASIC,
    "task": Depth.BASIC,
    "phonecall": Depth.BASIC,
    "email": Depth.BASIC,
    "annotation": Depth.BASIC,
    "activitypointer": Depth.BASIC,
    "activityparty": Depth.BASIC,
}


_APPLICATION_META_KEY = "application_user"
_SECRET_HASHES_META_KEY = "application_secret_hashes"


@dataclass(frozen=True)
class ApplicationRegistration:
    """The application registration behind a sandbox organization's application user (no secret)."""

    client_id: str
    object_id: str
    systemuser_id: str


@dataclass(frozen=True)
class ApplicationUser:
    """The client-credentials identity of a running sandbox: its registration and the secret handed out."""

    client_id: str
    client_secret: str
    object_id: str
    systemuser_id: str


class RowWriter:
    """Inserts rows with system columns set (created/modified, owner, versionnumber, computed names).

    Used by the organization foundation and the seed generators; product traffic goes through the
    Web API and :mod:`salesbridge.sandbox.webapi.records` instead.
    """

    def __init__(self, state: SandboxState) -> None:
        self.state = state

    def insert(
        self, table: str, values: dict[str, Any], *, owner: str | None = None, when: datetime | None = None
    ) -> str:
        """Insert one row; returns its id."""
        entity = self.state.catalogue.entity(table)
        row = self.complete(entity, values, owner=owner, when=when)
        self.state.storage.insert(table, row)
        return str(row[entity.primary_id])

    def complete(
        self,
        entity: EntityDef,
        values: dict[str, Any],
        *,
        owner: str | None = None,
        when: datetime | None = None,
    ) -> dict[str, Any]:
        """A full storage row for ``values``: ids, system columns, owner, defaults."""
        storage = self.state.storage
        columns = set(storage.columns(entity.logical_name))
        row = dict(values)
        row.setdefault(entity.primary_id, str(uuid.uuid4()))
        stamp = format_timestamp(when or self.state.now())
        row.setdefault("createdon", stamp)
        row.setdefault("modifiedon", row["createdon"])
        for column in ("createdby", "modifiedby"):
            if column in columns:
                row.setdefault(column, SYSTEM_USER_ID)
                row.setdefault(lookup_type_column(column), "systemuser")
        if "ownerid" in columns:
            owner_id = owner or row.get("ownerid") or SYSTEM_USER_ID
            owner_type = row.get(lookup_type_column("ownerid")) or "systemuser"
            row["ownerid"] = owner_id
            row[lookup_type_column("ownerid")] = owner_type
            owning = "owningteam" if owner_type == "team" else "owninguser"
            if owning in columns:
                row[owning] = owner_id
                row[lookup_type_column(owning)] = owner_type
            if "owningbusinessunit" in columns:
                row.setdefault("owningbusinessunit", ROOT_BUSINESS_UNIT_ID)
                row.setdefault(lookup_type_column("owningbusinessunit"), "businessunit")
        fill_state_and_status(entity, row)
        if "fullname" in columns and "fullname" not in row:
            parts = [row.get("firstname"), row.get("lastname")]
            row["fullname"] = " ".join(p for p in parts if p) or None
        for attribute in entity.attributes.values():
            twin = f"{attribute.logical_name}_base"
            if attribute.type.value == "Money" and twin in columns and attribute.logical_name in row:
                row.setdefault(twin, row[attribute.logical_name])
                row.setdefault("transactioncurrencyid", self.state.config.base_currency_id)
                row.setdefault(lookup_type_column("transactioncurrencyid"), "transactioncurrency")
                row.setdefault("exchangerate", 1.0)
        if entity.is_activity and "activitytypecode" in columns:
            row["activitytypecode"] = entity.logical_name
        if "versionnumber" in columns:
            row["versionnumber"] = storage.next_version()
        return {k: v for k, v in row.items() if k in columns}


def create_state(
    db_path: str | None = None,
    *,
    config: SandboxConfig | None = None,
    clock: Callable[[], datetime] = system_clock,
    catalogue: Catalogue | None = None,
) -> SandboxState:
    """Open (or create) a sandbox database and its tables. Idempotent on an existing file.

    Tables, columns, keys and relationships created through the metadata API in an earlier run on the same
    file are laid over ``catalogue`` (see :mod:`salesbridge.sandbox.organization.saved_definitions`).
    """
    if catalogue is None:
        catalogue, baseline = build_standard_catalogue(), standard_baseline()
    else:
        baseline = DefinitionBaseline.of(catalogue)
    storage = Storage(db_path)
    restore_definitions(storage, catalogue)
    with storage.transaction():
        for entity in catalogue.entities.values():
            storage.ensure_table(entity)
        storage.create_index("systemuser", ["applicationid"])
        storage.ensure_lookup_index("activityparty", "activityid")
    security = Security(storage, catalogue)
    return SandboxState(
        catalogue=catalogue,
        storage=storage,
        security=security,
        config=config or SandboxConfig(),
        clock=clock,
        definition_baseline=baseline,
    )


def build_foundation(state: SandboxState) -> ApplicationRegistration:
    """Create the foundation records (once); returns the application user's registration. Idempotent.

    No client secret is created here: :func:`add_client_secret` gives one.
    """
    storage = state.storage
    existing = storage.get_meta(_APPLICATION_META_KEY)
    if existing:
        return _stored_registration(state, existing)
    writer = RowWriter(state)
    config = state.config
    app = ApplicationRegistration(
        client_id=str(uuid.uuid4()),
        object_id=str(uuid.uuid4()),
        systemuser_id=stable_id("systemuser", "application"),
    )
    with storage.transaction():
        # Dataverse's organization names its base currency (read-only; chosen when the environment was created).
        writer.insert(
            "organization",
            {
                "organizationid": config.organization_id,
                "name": config.organization_name,
                "basecurrencyid": config.base_currency_id,
                "basecurrencyid__type": "transactioncurrency",
                "basecurrencysymbol": "$",
                "basecurrencyprecision": 2,
            },
        )
        writer.insert("businessunit", {"businessunitid": ROOT_BUSINESS_UNIT_ID, "name": config.organization_name})
        writer.insert(
            "transactioncurrency",
            {
                "transactioncurrencyid": config.base_currency_id,
                "currencyname": "US Dollar",
                "isocurrencycode": "USD",
                "currencysymbol": "$",
                "exchangerate": 1.0,
            },
        )
        security = state.security
        security.ensure_privileges()
        for role_id, name in (
            (SYSTEM_ADMINISTRATOR_ROLE_ID, SYSTEM_ADMINISTRATOR),
            (SALESPERSON_ROLE_ID, SALESPERSON),
        ):
            writer.insert(
                "role",
                {
                    "roleid": role_id,
                    "name": name,
                    "businessunitid": ROOT_BUSINESS_UNIT_ID,
                    "businessunitid__type": "businessunit",
                },
            )
        security.grant(SYSTEM_ADMINISTRATOR_ROLE_ID, dict.fromkeys(security.all_privilege_names(), Depth.GLOBAL))
        salesperson: dict[str, Depth] = {}
        for table, depth in _SALESPERSON_TABLES.items():
            entity = state.catalogue.find_entity(table)
            if entity is None:
                continue
            for verb in VERBS:
                salesperson[privilege_name(verb, entity)] = depth
        for table in (
            "systemuser",
            "team",
            "businessunit",
            "transactioncurrency",
            "connection",
            "connectionrole",
        ):
            entity = state.catalogue.find_entity(table)
            if entity is not None:
                salesperson[privilege_name("Read", entity)] = Depth.GLOBAL
        # Lookups to users (a custom "Seller" column) take Append To on User, which Dynamics' Salesperson holds.
        users = state.catalogue.find_entity("systemuser")
        if users is not None:
            salesperson[privilege_name("AppendTo", users)] = Depth.GLOBAL
        security.grant(SALESPERSON_ROLE_ID, salesperson)
        _system_user(writer, SYSTEM_USER_ID, "SYSTEM", None, access_mode=1)
        _system_user(
            writer,
            app.systemuser_id,
            "# salesbridge sandbox application",
            app.client_id,
            object_id=app.object_id,
            access_mode=4,
        )
        security.assign_role(app.systemuser_id, SYSTEM_ADMINISTRATOR_ROLE_ID)
        _bulk_message_filters(state, writer)
        storage.set_meta(_APPLICATION_META_KEY, "|".join((app.client_id, app.object_id, app.systemuser_id)))
    return app


def add_client_secret(state: SandboxState, registration: ApplicationRegistration) -> ApplicationUser:
    """Add a new client secret to the application registration, as adding one in Entra does; returns it.

    The secret's value exists only in the answer (and in the ``sandbox.json`` written from it); the database
    keeps its :class:`SecretHash` beside those of earlier starts, which stay valid, so a workspace connected
    before a restart of a ``--db`` sandbox keeps working.
    """
    secret = secrets.token_hex(32)
    with state.storage.transaction():
        _keep_secret_hash(state, secret)
    return ApplicationUser(registration.client_id, secret, registration.object_id, registration.systemuser_id)


def client_secret_hashes(state: SandboxState) -> list[SecretHash]:
    """The hashes of every client secret given to the application user, oldest first."""
    stored = state.storage.get_meta(_SECRET_HASHES_META_KEY)
    return [SecretHash.from_text(text) for text in json.loads(stored)] if stored else []


def _keep_secret_hash(state: SandboxState, secret: str) -> None:
    hashes = [*client_secret_hashes(state), SecretHash.of(secret)]
    state.storage.set_meta(_SECRET_HASHES_META_KEY, json.dumps([h.to_text() for h in hashes]))


def _stored_registration(state: SandboxState, stored: str) -> ApplicationRegistration:
    """The registration kept in the database; a clear-text secret kept by older sandboxes becomes a hash."""
    parts = stored.split("|")
    if len(parts) == 4:
        client_id, secret, object_id, user_id = parts
        state.storage.conn.execute("PRAGMA secure_delete = ON")  # the old value's bytes are zeroed, not left
        with state.storage.transaction():
            _keep_secret_hash(state, secret)
            state.storage.set_meta(_APPLICATION_META_KEY, "|".join((client_id, object_id, user_id)))
        return ApplicationRegistration(client_id, object_id, user_id)
    client_id, object_id, user_id = parts
    return ApplicationRegistration(client_id, object_id, user_id)


def _system_user(
    writer: RowWriter,
    user_id: str,
    name: str,
    application_id: str | None,
    *,
    object_id: str | None = None,
    access_mode: int = 0,
) -> None:
    first, _, last = name.rpartition(" ")
    writer.insert(
        "systemuser",
        {
            "systemuserid": user_id,
            "firstname": first or None,
            "lastname": last,
            "fullname": name,
            "applicationid": application_id,
            "azureactivedirectoryobjectid": object_id,
            "accessmode": access_mode,
            "isdisabled": 0,
            "businessunitid": ROOT_BUSINESS_UNIT_ID,
            "businessunitid__type": "businessunit",
        },
    )


def _bulk_message_filters(state: SandboxState, writer: RowWriter) -> None:
    message_ids = {}
    for message in (*BULK_MESSAGES, "Create", "Update", "Delete"):
        message_ids[message] = writer.insert(
            "sdkmessage", {"sdkmessageid": stable_id("sdkmessage", message), "name": message}
        )
    for entity in state.catalogue.entities.values():
        for message in entity.bulk_messages:
            writer.insert(
                "sdkmessagefilter",
                {
                    "sdkmessagefilterid": stable_id("sdkmessagefilter", message, entity.logical_name),
                    "sdkmessageid": message_ids[message],
                    "sdkmessageid__type": "sdkmessage",
                    "primaryobjecttypecode": entity.logical_name,
                },
            )
