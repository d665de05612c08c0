"""Checkpointing a SQLite store's write-ahead log from a thread of its own while an import writes.

SQLite checkpoints on the committing connection: once the log passes ``wal_autocheckpoint`` pages, that commit
copies the log into the database file and waits for two ``fsync`` calls. During an import the committing
connection is the import's writer, and every such commit stalled the pipeline for as long as the disk took
(a million-row import: a dozen stalls, seconds in all). While :meth:`WalCheckpointer.running` is active, a
thread checkpoints every quarter second in ``PASSIVE`` mode — it never blocks a writer or a reader — so the log
stays short and the writer's commits only append to it. ``wal_autocheckpoint`` stays set as the backstop.
"""

from __future__ import annotations

import logging
import sqlite3
import threading
from collections.abc import Iterator
from contextlib import contextmanager

from sqlalchemy import Engine
from sqlalchemy.pool import PoolProxiedConnection

logger = logging.getLogger(__name__)

CHECKPOINT_INTERVAL_S = 0.25


class WalCheckpointer:
    """Checkpoints ``engine``'s SQLite database in the background while at least one caller is inside
    :meth:`running` (one thread, however many imports of the process overlap).

    Attributes:
        passes: Checkpoints run so far.
        frames_checkpointed: How many frames of the log the latest checkpoint found copied into the database.
    """

    def __init__(self, engine: Engine, *, interval_s: float = CHECKPOINT_INTERVAL_S) -> None:
        self._engine = engine
        self._interval_s = interval_s
        self._lock = threading.Lock()
        self._users = 0
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self.passes = 0
        self.frames_checkpointed = 0

    @property
    def is_running(self) -> bool:
        """Whether the checkpoint thread is alive."""
        thread = self._thread
        return thread is not None and thread.is_alive()

    @contextmanager
    def running(self) -> Iterator[None]:
        """Keep the thread running for the duration of the block."""
        with self._lock:
            self._users += 1
            if self._users == 1:
                self._stop.clear()
                self._thread = threading.Thread(target=self._loop, name="sqlite-wal-checkpoint", daemon=True)
                self._thread.start()
        try:
            yield
        finally:
            thread = None
            with self._lock:
                self._users -= 1
                if self._users == 0:
                    self._stop.set()
                    thread, self._thread = self._thread, None
            if thread is not None:
                thread.join()

    def _loop(self) -> None:
        connection = self._engine.raw_connection()  # a pooled connection, with the store's pragmas
        try:
            while not self._stop.wait(self._interval_s):
                self._checkpoint(connection)
        finally:
            connection.close()

    def _checkpoint(self, connection: PoolProxiedConnection) -> None:
        cursor = connection.cursor()
        try:
            # (busy, frames in the log, frames checkpointed); PASSIVE copies what no reader still needs.
            _busy, _log, copied = cursor.execute("PRAGMA wal_checkpoint(PASSIVE)").fetchone()
        except sqlite3.Error as error:  # never fatal: the writer's own autocheckpoint remains
            logger.warning("Background WAL checkpoint failed: %s", error)
            return
        finally:
            cursor.close()
        self.passes += 1
        self.frames_checkpointed = int(copied)
