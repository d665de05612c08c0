"""The engine's caches of values, kept for the length of a matching run (docs/performance.md § Matching).

The normalisers and pair comparators of ``features``, ``compare`` and ``names`` are cached on distinct values, so a
run over a million records costs one normalisation per distinct value and one comparison per distinct pair. Sized
for that run (16,384 to 1,048,576 entries), full they hold several hundred MiB; kept for a process's life they would
grow a console (``salesbridge serve`` matches after each import) with every distinct name it ever matched. So each
is declared with :func:`run_cache`, which registers it, and a matching run holds :func:`kept_for_run`: the caches
are emptied when the last run under way ends, returned or raised. tests/unit/test_process_caches.py fails on a
cache of this package keyed by data that is not registered.

Pure: no I/O, no clock. The engine's modules are not imported here (a command that never matches stays light):
only the caches of modules already imported are registered, and only those can hold anything.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from functools import lru_cache
from typing import TYPE_CHECKING, Any, TypeVar

if TYPE_CHECKING:
    from functools import _lru_cache_wrapper

__all__ = ["clear_caches", "kept_for_run", "registered_caches", "run_cache"]

T = TypeVar("T")

_registered: list[_lru_cache_wrapper[Any]] = []
_lock = threading.Lock()
_runs_under_way = 0  # how many runs of this process (its threads) hold the caches now


def run_cache(maxsize: int) -> Callable[[Callable[..., T]], _lru_cache_wrapper[T]]:
    """``functools.lru_cache(maxsize)``, registered with :func:`clear_caches` (emptied when a matching run ends)."""

    def register(function: Callable[..., T]) -> _lru_cache_wrapper[T]:
        cached = lru_cache(maxsize=maxsize)(function)
        _registered.append(cached)
        return cached

    return register


def registered_caches() -> tuple[_lru_cache_wrapper[Any], ...]:
    """The caches :func:`clear_caches` empties (those of the engine's modules imported so far)."""
    return tuple(_registered)


def clear_caches() -> None:
    """Empty every registered cache now (their size limits stay)."""
    for cached in _registered:
        cached.cache_clear()


@contextmanager
def kept_for_run() -> Iterator[None]:
    """Hold the caches for one matching run: when the last run under way in this process leaves (returns or
    raises), they are emptied. Runs overlapping in threads (another organization's, procrastinate's concurrency)
    share them until then, so one run's end never empties them under another; a pair scored outside a run (a
    correction) leaves its few entries until the next run ends."""
    global _runs_under_way
    with _lock:
        _runs_under_way += 1
    try:
        yield
    finally:
        with _lock:
            _runs_under_way -= 1
            if _runs_under_way == 0:
                clear_caches()
