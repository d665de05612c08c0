"""The security model: roles carrying privileges with depths, users and teams holding roles, access checks.

Depths follow Dataverse's PrivilegeDepth: Basic (records the user or the user's teams own), Local (the
user's business unit), Deep (the business unit and its children), Global (the organization).
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import IntEnum
from typing import Any

from salesbridge.sandbox.catalogue.definitions import EntityDef, OwnershipType, stable_id
from salesbridge.sandbox.catalogue.registry import Catalogue
from salesbridge.sandbox.errors import privilege_denied, record_access_denied
from salesbridge.sandbox.organization.database import Storage

VERBS = ("Create", "Read", "Write", "Delete", "Append", "AppendTo", "Assign", "Share")
ACCESS_RIGHTS = {
    "Read": "ReadAccess",
    "Write": "WriteAccess",
    "Append": "AppendAccess",
    "AppendTo": "AppendToAccess",
    "Create": "CreateAccess",
    "Delete": "DeleteAccess",
    "Share": "ShareAccess",
    "Assign": "AssignAccess",
}
ACT_ON_BEHALF = "prvActOnBehalfOfAnotherUser"
SPECIAL_PRIVILEGES = (
    ACT_ON_BEHALF,
    "prvCreateEntity",
    "prvReadEntity",
    "prvWriteEntity",
    "prvCreateAttribute",
)


class Depth(IntEnum):
    """PrivilegeDepth mask values."""

    NONE = 0
    BASIC = 1
    LOCAL = 2
    DEEP = 4
    GLOBAL = 8


DEPTH_NAMES = {Depth.BASIC: "Basic", Depth.LOCAL: "Local", Depth.DEEP: "Deep", Depth.GLOBAL: "Global"}


_PRIVILEGE_SUBJECTS = {"systemuser": "User", "annotation": "Note"}


def privilege_name(verb: str, entity: EntityDef) -> str:
    """``prvReadAccount``-style name of a table privilege.

    Dataverse names a few privileges after something other than the table: every activity table shares
    ``prv…Activity``, systemuser has ``prv…User`` and annotation ``prv…Note``. Activity parties have no privileges
    of their own: they are part of their activity, so the activity privileges govern them too.
    """
    if entity.is_activity or entity.logical_name in ("activitypointer", "activityparty"):
        subject = "Activity"
    else:
        subject = _PRIVILEGE_SUBJECTS.get(entity.logical_name, entity.schema_name)
    return f"prv{verb}{subject[:1].upper()}{subject[1:]}"


def privilege_id(name: str) -> str:
    """The stable id of a privilege."""
    return stable_id("privilege", name)


@dataclass(frozen=True)
class RecordOwner:
    """Who owns a record, for depth checks."""

    owner_id: str | None
    owner_type: str | None
    business_unit_id: str | None


class Security:
    """Privilege and record-access checks over the roles stored in the sandbox database."""

    def __init__(self, storage: Storage, catalogue: Catalogue) -> None:
        self.storage = storage
        self.catalogue = catalogue
        self._cache: dict[str, dict[str, int]] = {}
        conn = storage.conn
        conn.execute(
            "CREATE TABLE IF NOT EXISTS _user_roles"
            " (systemuserid TEXT, roleid TEXT, PRIMARY KEY (systemuserid, roleid))"
        )
        conn.execute("CREATE TABLE IF NOT EXISTS _team_roles (teamid TEXT, roleid TEXT, PRIMARY KEY (teamid, roleid))")
        conn.execute(
            "CREATE TABLE IF NOT EXISTS _team_members"
            " (teamid TEXT, systemuserid TEXT, PRIMARY KEY (teamid, systemuserid))"
        )
        conn.execute(
            "CREATE TABLE IF NOT EXISTS _role_privileges (roleid TEXT, privilegeid TEXT, depth INTEGER,"
            " PRIMARY KEY (roleid, privilegeid))"
        )

    def invalidate(self) -> None:
        """Forget cached privilege sets (after any change to roles, memberships or role privileges)."""
        self._cache.clear()

    def all_privilege_names(self) -> list[str]:
        """Every privilege the catalogue implies, table privileges first."""
        names = [privilege_name(v, e) for e in self.catalogue.entities.values() for v in VERBS]
        return list(dict.fromkeys([*names, *SPECIAL_PRIVILEGES]))

    def ensure_privileges(self) -> None:
        """Create privilege rows for every table of the catalogue. Idempotent."""
        existing = {r[0] for r in self.storage.conn.execute('SELECT "name" FROM "privilege"')}
        rows = []
        for name in self.all_privilege_names():
            if name not in existing:
                rows.append((privilege_id(name), name, 1, 1, 1, 1))
        if rows:
            self.storage.insert_many(
                "privilege",
                ["privilegeid", "name", "canbebasic", "canbelocal", "canbedeep", "canbeglobal"],
                rows,
            )

    def grant(self, role_id: str, privileges: dict[str, Depth]) -> None:
        """Give a role privileges at depths (replacing earlier depths)."""
        self.storage.conn.executemany(
            "INSERT INTO _role_privileges (roleid, privilegeid, depth) VALUES (?, ?, ?) "
            "ON CONFLICT(roleid, privilegeid) DO UPDATE SET depth = excluded.depth",
            [(role_id, privilege_id(name), int(depth)) for name, depth in privileges.items()],
        )
        self.invalidate()

    def revoke(self, role_id: str, privilege_names: list[str]) -> None:
        """Remove privileges from a role."""
        self.storage.conn.executemany(
            "DELETE FROM _role_privileges WHERE roleid = ? AND privilegeid = ?",
            [(role_id, privilege_id(n)) for n in privilege_names],
        )
        self.invalidate()

    def assign_role(self, user_id: str, role_id: str) -> None:
        """Give a user a role. Idempotent."""
        self.storage.conn.execute("INSERT OR IGNORE INTO _user_roles VALUES (?, ?)", (user_id, role_id))
        self.invalidate()

    def add_team_member(self, team_id: str, user_id: str) -> None:
        """Add a user to a team. Idempotent."""
        self.storage.conn.execute("INSERT OR IGNORE INTO _team_members VALUES (?, ?)", (team_id, user_id))
        self.invalidate()

    def assign_team_role(self, team_id: str, role_id: str) -> None:
        """Give a team a role. Idempotent."""
        self.storage.conn.execute("INSERT OR IGNORE INTO _team_roles VALUES (?, ?)", (team_id, role_id))
        self.invalidate()

    def user_roles(self, user_id: str) -> list[str]:
        """The roles a user holds directly."""
        rows = self.storage.conn.execute("SELECT roleid FROM _user_roles WHERE systemuserid = ?", (user_id,))
        return [r[0] for r in rows]

    def user_teams(self, user_id: str) -> list[str]:
        """The teams a user belongs to."""
        rows = self.storage.conn.execute("SELECT teamid FROM _team_members WHERE systemuserid = ?", (user_id,))
        return [r[0] for r in rows]

    def privileges_of(self, user_id: str) -> dict[str, int]:
        """Privilege name → the deepest depth the user holds, through roles and team roles."""
        cached = self._cache.get(user_id)
        if cached is not None:
            return cached
        rows = self.storage.conn.execute(
            "SELECT p.name, MAX(rp.depth) FROM _role_privileges rp JOIN privilege p ON p.privilegeid = rp.privilegeid"
            " WHERE rp.roleid IN (SELECT roleid FROM _user_roles WHERE systemuserid = ?"
            "   UNION SELECT tr.roleid FROM _team_roles tr JOIN _team_members tm ON tm.teamid = tr.teamid"
            "   WHERE tm.systemuserid = ?)"
            " GROUP BY p.name",
            (user_id, user_id),
        )
        result = {str(name): int(depth) for name, depth in rows}
        self._cache[user_id] = result
        return result

    def depth(self, user_id: str, name: str) -> Depth:
        """The deepest depth at which the user holds a privilege (NONE when not held)."""
        return Depth(self.privileges_of(user_id).get(name, 0))

    def require(self, user_id: str, verb: str, entity: EntityDef, *, minimum: Depth = Depth.BASIC) -> Depth:
        """Check a table privilege; returns the depth held.

        Raises:
            DataverseError: 403 ``0x80040220`` when the privilege is missing or below ``minimum``.
        """
        name = privilege_name(verb, entity)
        held = self.depth(user_id, name)
        if held < minimum:
            raise privilege_denied(user_id, name, privilege_id(name), entity.logical_name, entity.object_type_code)
        return held

    def require_named(self, user_id: str, name: str) -> None:
        """Check a non-table privilege such as prvActOnBehalfOfAnotherUser.

        Raises:
            DataverseError: 403 ``0x80040220`` when it is missing.
        """
        if self.depth(user_id, name) == Depth.NONE:
            raise privilege_denied(user_id, name, privilege_id(name), "systemuser", 8)

    def business_unit_of(self, user_id: str) -> str | None:
        """The business unit of a user or team."""
        value = self.storage.scalar('SELECT businessunitid FROM "systemuser" WHERE systemuserid = ?', (user_id,))
        if value is None:
            value = self.storage.scalar('SELECT businessunitid FROM "team" WHERE teamid = ?', (user_id,))
        return None if value is None else str(value)

    def business_unit_subtree(self, unit_id: str) -> set[str]:
        """A business unit and all its descendants."""
        rows = self.storage.conn.execute(
            "WITH RECURSIVE tree(id) AS (SELECT ? UNION SELECT b.businessunitid FROM businessunit b"
            " JOIN tree ON b.parentbusinessunitid = tree.id) SELECT id FROM tree",
            (unit_id,),
        )
        return {str(r[0]) for r in rows}

    def covers(self, user_id: str, held: Depth, entity: EntityDef, owner: RecordOwner) -> bool:
        """Whether a privilege held at ``held`` depth covers a record with this owner."""
        if held >= Depth.GLOBAL or entity.ownership_type != OwnershipType.USER_OWNED:
            return held > Depth.NONE
        if owner.owner_id == user_id or (owner.owner_type == "team" and owner.owner_id in self.user_teams(user_id)):
            return True
        if held >= Depth.LOCAL:
            unit = self.business_unit_of(user_id)
            if unit is None or owner.business_unit_id is None:
                return False
            if held >= Depth.DEEP:
                return owner.business_unit_id in self.business_unit_subtree(unit)
            return owner.business_unit_id == unit
        return False

    def require_record(self, user_id: str, verb: str, entity: EntityDef, record_id: str, owner: RecordOwner) -> None:
        """Check a table privilege against one record.

        Raises:
            DataverseError: 403 ``0x80040220`` without the privilege, ``0x80048306`` when its depth does
                not cover the record.
        """
        held = self.require(user_id, verb, entity)
        if not self.covers(user_id, held, entity, owner):
            raise record_access_denied(
                object_id=record_id,
                owner_id=owner.owner_id or "",
                caller_id=user_id,
                object_type_code=entity.object_type_code,
                business_unit_id=owner.business_unit_id or "",
                right=ACCESS_RIGHTS[verb],
            )

    def read_scope(self, user_id: str, entity: EntityDef, alias: str) -> tuple[str, list[Any]] | None:
        """An SQL predicate restricting a collection read to records the user may read; None = all.

        Dataverse leaves unreadable records out of results silently, so this is a filter, not an error.

        Raises:
            DataverseError: 403 when the user lacks the read privilege entirely.
        """
        held = self.require(user_id, "Read", entity)
        if held >= Depth.GLOBAL or entity.ownership_type != OwnershipType.USER_OWNED:
            return None
        teams = self.user_teams(user_id)
        owners = [user_id, *teams]
        marks = ", ".join("?" for _ in owners)
        clauses = [f"{alias}.ownerid IN ({marks})"]
        params: list[Any] = list(owners)
        if held >= Depth.LOCAL:
            unit = self.business_unit_of(user_id)
            units = self.business_unit_subtree(unit) if unit and held >= Depth.DEEP else {unit} if unit else set()
            if units:
                clauses.append(f"{alias}.owningbusinessunit IN ({', '.join('?' for _ in units)})")
                params.extend(sorted(units))
        return "(" + " OR ".join(clauses) + ")", params

    def role_privileges(self, user_id: str, only: str | None = None) -> list[dict[str, str]]:
        """RolePrivileges entries as RetrieveUserPrivileges returns them."""
        unit = self.business_unit_of(user_id) or ""
        entries = []
        for name, depth in sorted(self.privileges_of(user_id).items()):
            if only is not None and name.lower() != only.lower():
                continue
            entries.append(
                {
                    "Depth": DEPTH_NAMES[Depth(_deepest_flag(depth))],
                    "PrivilegeId": privilege_id(name),
                    "BusinessUnitId": unit,
                    "PrivilegeName": name,
                }
            )
        return entries

    def access_rights(self, user_id: str, entity: EntityDef, owner: RecordOwner) -> str:
        """RetrievePrincipalAccess's AccessRights: rights the user has on one record, comma separated."""
        rights = []
        for verb in ("Read", "Write", "Append", "AppendTo", "Create", "Delete", "Share", "Assign"):
            held = self.depth(user_id, privilege_name(verb, entity))
            if held and self.covers(user_id, held, entity, owner):
                rights.append(ACCESS_RIGHTS[verb])
        return ", ".join(rights) if rights else "None"


def _deepest_flag(depth: int) -> int:
    for flag in (8, 4, 2, 1):
        if depth & flag or depth >= flag:
            return flag
    return 1
