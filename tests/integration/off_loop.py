"""A check of the async rule ("blocking store work never runs on the event loop"): the store, noting every use
made from a thread that is running an event loop."""

from __future__ import annotations

import asyncio
import functools
import uuid
from typing import Any

from salesbridge.store.uow import SqlAlchemyUnitOfWork, UnitOfWorkFactory


class OffLoopStore:
    """Wraps the real store (a :class:`UnitOfWorkFactory`); every unit of work opened (entered: creating one does
    no I/O) and every lookup made while an event loop runs in the calling thread is recorded in :attr:`on_loop`
    (and still served)."""

    def __init__(self, store: UnitOfWorkFactory) -> None:
        self._store = store
        self.on_loop: list[str] = []

    def _note(self, what: str) -> None:
        try:
            asyncio.get_running_loop()
        except RuntimeError:
            return  # a worker thread (or no loop at all): blocking is fine here
        self.on_loop.append(what)

    def __call__(self, organization_id: uuid.UUID, *, read_only: bool = False) -> _NotedUnitOfWork:
        return _NotedUnitOfWork(self, self._store(organization_id, read_only=read_only))

    def __getattr__(self, name: str) -> Any:
        found = getattr(self._store, name)
        if not callable(found):
            return found

        @functools.wraps(found)
        def noted(*args: Any, **kwargs: Any) -> Any:
            self._note(name)
            return found(*args, **kwargs)

        return noted


class _NotedUnitOfWork:
    """A unit of work whose opening is noted by its :class:`OffLoopStore`."""

    def __init__(self, store: OffLoopStore, unit_of_work: SqlAlchemyUnitOfWork) -> None:
        self._store = store
        self._unit_of_work = unit_of_work

    def __enter__(self) -> SqlAlchemyUnitOfWork:
        self._store._note("unit of work")
        return self._unit_of_work.__enter__()

    def __exit__(self, *exc_info: Any) -> None:
        self._unit_of_work.__exit__(*exc_info)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._unit_of_work, name)
