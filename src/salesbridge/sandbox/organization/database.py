"""SQLite storage of the sandbox: one table per Dataverse table, a row-version counter, and tombstones.

Layout: a table named by the logical name; one column per stored attribute, named by its logical name;
lookups add ``<attribute>__type`` holding the target table. TEXT columns are ``COLLATE NOCASE`` because
Dataverse compares and sorts strings case-insensitively. DateTime values are ISO-8601 UTC text, so they
compare and sort as text.

Every write takes the next value of one database-wide row version (like SQL Server's ``rowversion``):
it is each row's ``versionnumber``, its ETag, and the basis of change-tracking tokens. Deletions of
change-tracked tables leave a tombstone with the version of the delete.
"""

from __future__ import annotations

import contextlib
import os
import sqlite3
import stat
import threading
from collections.abc import Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from salesbridge.sandbox.catalogue.definitions import (
    AttributeDef,
    AttributeType,
    EntityDef,
    lookup_type_column,
    quote_ident,
)

_INTEGER_TYPES = frozenset(
    {
        AttributeType.INTEGER,
        AttributeType.BIGINT,
        AttributeType.PICKLIST,
        AttributeType.STATE,
        AttributeType.STATUS,
        AttributeType.BOOLEAN,
    }
)
_REAL_TYPES = frozenset({AttributeType.MONEY, AttributeType.DECIMAL, AttributeType.DOUBLE})


def column_sql_type(attribute: AttributeDef) -> str:
    """The SQLite column type (with collation) of an attribute."""
    if attribute.type in _INTEGER_TYPES:
        return "INTEGER"
    if attribute.type in _REAL_TYPES:
        return "REAL"
    return "TEXT COLLATE NOCASE"


def _restrict_to_owner(path: str) -> None:
    """Create ``path`` with mode 0600 if missing; take group and other permissions off it and its WAL files."""
    with contextlib.suppress(FileExistsError):
        os.close(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600))
    for file in (Path(path), Path(f"{path}-wal"), Path(f"{path}-shm")):
        try:
            mode = stat.S_IMODE(file.stat().st_mode)
        except FileNotFoundError:
            continue
        if mode & 0o077:
            file.chmod(mode & 0o700)


def storage_columns(entity: EntityDef) -> list[str]:
    """Every storage column of a table, primary key first (lookups followed by their ``__type`` column)."""
    columns: list[str] = []
    for attribute in entity.stored_attributes:
        columns.append(attribute.logical_name)
        if attribute.is_lookup:
            columns.append(lookup_type_column(attribute.logical_name))
    return columns


class Storage:
    """The sandbox database. Not thread-safe by itself: callers serialise access through :attr:`lock`.

    A database file (and its ``-wal``/``-shm`` companions, which SQLite creates with the file's permissions) is
    readable by its owner only: created with mode 0600, and an existing one made so — it holds the application
    user's client-secret hashes and the organization's records.

    Args:
        path: a database file, or None for an in-memory database.
    """

    def __init__(self, path: str | None = None) -> None:
        self.path = path
        if path and path != ":memory:":
            _restrict_to_owner(path)
        self.conn = sqlite3.connect(path or ":memory:", isolation_level=None, check_same_thread=False)
        self.lock = threading.RLock()
        self._depth = 0
        self._columns: dict[str, list[str]] = {}
        self.conn.execute("PRAGMA synchronous=NORMAL")
        if path:
            self.conn.execute("PRAGMA journal_mode=WAL")
        self.conn.execute("PRAGMA cache_size=-200000")
        self.conn.execute("PRAGMA temp_store=MEMORY")
        self.conn.execute("CREATE TABLE IF NOT EXISTS _sandbox_meta (key TEXT PRIMARY KEY, value TEXT NOT NULL)")
        self.conn.execute(
            "CREATE TABLE IF NOT EXISTS _tombstones ("
            " entity TEXT NOT NULL, id TEXT NOT NULL, version INTEGER NOT NULL, deleted_on TEXT NOT NULL)"
        )
        self.conn.execute("CREATE INDEX IF NOT EXISTS _tombstones_version ON _tombstones (entity, version)")
        stored = self.get_meta("rowversion")
        self._version = int(stored) if stored else 1000

    def close(self) -> None:
        """Close the connection."""
        self.conn.close()

    def get_meta(self, key: str) -> str | None:
        """A value of the sandbox's own key/value table."""
        row = self.conn.execute("SELECT value FROM _sandbox_meta WHERE key = ?", (key,)).fetchone()
        return None if row is None else str(row[0])

    def set_meta(self, key: str, value: str) -> None:
        """Set a value of the sandbox's own key/value table."""
        self.conn.execute(
            "INSERT INTO _sandbox_meta (key, value) VALUES (?, ?) "
            "ON CONFLICT(key) DO UPDATE SET value = excluded.value",
            (key, value),
        )

    @property
    def current_version(self) -> int:
        """The last row version handed out."""
        return self._version

    def next_version(self) -> int:
        """Take the next row version (persisted when the enclosing transaction commits)."""
        self._version += 1
        return self._version

    @contextmanager
    def transaction(self) -> Iterator[None]:
        """A transaction; nested calls become savepoints. Rolls back (and re-raises) on any exception."""
        with self.lock:
            self._depth += 1
            savepoint = f"sp{self._depth}"
            if self._depth == 1:
                self.conn.execute("BEGIN IMMEDIATE")
            else:
                self.conn.execute(f"SAVEPOINT {savepoint}")
            try:
                yield
            except BaseException:
                if self._depth == 1:
                    self.conn.execute("ROLLBACK")
                else:
                    self.conn.execute(f"ROLLBACK TO {savepoint}")
                    self.conn.execute(f"RELEASE {savepoint}")
                # Versions handed out inside a rolled-back transaction are not reused: Dataverse's
                # rowversion also only grows.
                self._depth -= 1
                if self._depth == 0:
                    self.set_meta("rowversion", str(self._version))
                raise
            else:
                if self._depth == 1:
                    self.set_meta("rowversion", str(self._version))
                    self.conn.execute("COMMIT")
                else:
                    self.conn.execute(f"RELEASE {savepoint}")
                self._depth -= 1

    def ensure_table(self, entity: EntityDef) -> None:
        """Create the table of an entity, or add columns it lacks. Idempotent."""
        name = quote_ident(entity.logical_name)
        existing = {row[1] for row in self.conn.execute(f"PRAGMA table_info({name})")}
        if not existing:
            definitions = []
            for attribute in entity.stored_attributes:
                column = f"{quote_ident(attribute.logical_name)} {column_sql_type(attribute)}"
                if attribute.is_primary_id:
                    column += " PRIMARY KEY"
                definitions.append(column)
                if attribute.is_lookup:
                    definitions.append(f"{quote_ident(lookup_type_column(attribute.logical_name))} TEXT")
            self.conn.execute(f"CREATE TABLE {name} ({', '.join(definitions)})")
            if entity.attribute("versionnumber"):
                index = quote_ident(f"{entity.logical_name}__version")
                self.conn.execute(f"CREATE INDEX {index} ON {name} (versionnumber)")
        else:
            for attribute in entity.stored_attributes:
                if attribute.logical_name not in existing:
                    self.conn.execute(
                        f"ALTER TABLE {name} ADD COLUMN {quote_ident(attribute.logical_name)} "
                        f"{column_sql_type(attribute)}"
                    )
                type_column = lookup_type_column(attribute.logical_name)
                if attribute.is_lookup and type_column not in existing:
                    self.conn.execute(f"ALTER TABLE {name} ADD COLUMN {quote_ident(type_column)} TEXT")
        self._columns[entity.logical_name] = storage_columns(entity)

    def create_index(self, entity: str, columns: Sequence[str], *, unique: bool = False) -> None:
        """Create an index (for alternate keys and frequent lookups). Idempotent."""
        index = quote_ident(f"{entity}__{'_'.join(columns)}")
        kind = "UNIQUE INDEX" if unique else "INDEX"
        cols = ", ".join(quote_ident(c) for c in columns)
        self.conn.execute(f"CREATE {kind} IF NOT EXISTS {index} ON {quote_ident(entity)} ({cols})")

    def ensure_lookup_index(self, entity: str, column: str) -> None:
        """Index a lookup column the first time records are looked up by it (delete cascades); idempotent.

        Created on demand rather than with the table, so seeding millions of rows does not maintain indexes no
        delete may ever use; named apart from alternate-key indexes, which must stay unique.
        """
        index = quote_ident(f"{entity}__{column}__referencing")
        self.conn.execute(f"CREATE INDEX IF NOT EXISTS {index} ON {quote_ident(entity)} ({quote_ident(column)})")

    def columns(self, entity: str) -> list[str]:
        """The storage columns of a table, as created."""
        return self._columns[entity]

    def insert(self, entity: str, values: Mapping[str, Any]) -> None:
        """Insert one row. Raises sqlite3.IntegrityError on a duplicate primary key or unique key."""
        names = list(values)
        placeholders = ", ".join("?" for _ in names)
        cols = ", ".join(quote_ident(n) for n in names)
        self.conn.execute(
            f"INSERT INTO {quote_ident(entity)} ({cols}) VALUES ({placeholders})",
            [values[n] for n in names],
        )

    def insert_many(self, entity: str, columns: Sequence[str], rows: Iterable[Sequence[Any]]) -> None:
        """Insert many rows in one statement batch (used by the seed generators)."""
        placeholders = ", ".join("?" for _ in columns)
        cols = ", ".join(quote_ident(n) for n in columns)
        self.conn.executemany(f"INSERT INTO {quote_ident(entity)} ({cols}) VALUES ({placeholders})", rows)

    def update(self, entity: str, pk_column: str, pk: str, values: Mapping[str, Any]) -> int:
        """Update one row by primary key; returns the number of rows changed (0 or 1)."""
        if not values:
            return 0
        names = list(values)
        assignments = ", ".join(f"{quote_ident(n)} = ?" for n in names)
        cursor = self.conn.execute(
            f"UPDATE {quote_ident(entity)} SET {assignments} WHERE {quote_ident(pk_column)} = ?",
            [*(values[n] for n in names), pk],
        )
        return cursor.rowcount

    def delete(self, entity: str, pk_column: str, pk: str) -> int:
        """Delete one row by primary key; returns the number of rows deleted."""
        cursor = self.conn.execute(
            f"DELETE FROM {quote_ident(entity)} WHERE {quote_ident(pk_column)} = ?",
            (pk,),
        )
        return cursor.rowcount

    def add_tombstone(self, entity: str, record_id: str, version: int, deleted_on: str) -> None:
        """Remember a deletion for change tracking."""
        self.conn.execute(
            "INSERT INTO _tombstones (entity, id, version, deleted_on) VALUES (?, ?, ?, ?)",
            (entity, record_id, version, deleted_on),
        )

    def tombstones_after(self, entity: str, version: int, up_to: int) -> list[tuple[str, int]]:
        """Deletions with ``version < v <= up_to``, oldest first, as (id, version)."""
        rows = self.conn.execute(
            "SELECT id, version FROM _tombstones WHERE entity = ? AND version > ? AND version <= ? ORDER BY version",
            (entity, version, up_to),
        )
        return [(str(r[0]), int(r[1])) for r in rows]

    def get(self, entity: str, pk_column: str, pk: str) -> dict[str, Any] | None:
        """One row by primary key, as a dict of storage columns, or None."""
        cursor = self.conn.execute(
            f"SELECT * FROM {quote_ident(entity)} WHERE {quote_ident(pk_column)} = ?",
            (pk,),
        )
        row = cursor.fetchone()
        if row is None:
            return None
        names = [d[0] for d in cursor.description]
        return dict(zip(names, row, strict=True))

    def query(self, sql: str, params: Sequence[Any] = ()) -> tuple[list[str], list[tuple[Any, ...]]]:
        """Run a SELECT; returns column names and rows."""
        cursor = self.conn.execute(sql, params)
        names = [d[0] for d in cursor.description]
        return names, cursor.fetchall()

    def scalar(self, sql: str, params: Sequence[Any] = ()) -> Any:
        """Run a SELECT returning one value (None when there is no row)."""
        row = self.conn.execute(sql, params).fetchone()
        return None if row is None else row[0]
