"""The console's cache of drawn charts (Reports), bounded by bytes rather than by a count of entries.

A chart is a pure function of what it draws (its numbers, labels and language), so the console draws each once and
reuses it (pygal took about a tenth of the Reports page's time on every load). A long-running console serves many
organizations, and one organization's chart can be tens of kilobytes (a 12-week stacked bar chart of eight data
items: ~42 KB of SVG), so the cache is bounded by an estimate of the bytes it holds (:class:`ByteBudgetLru`:
least recently used first out), not by how many charts it holds.

Keys are scoped by organization (:class:`ChartKey`): an administrator only ever reuses a chart drawn for their own
organization, even when another organization's numbers are the same.
"""

from __future__ import annotations

import sys
import threading
import uuid
from collections import OrderedDict
from collections.abc import Callable, Hashable
from dataclasses import dataclass
from typing import Final, Generic, NamedTuple, TypeVar

from markupsafe import Markup

K = TypeVar("K", bound=Hashable)
V = TypeVar("V")

MIB: Final = 1 << 20
"""Bytes in a mebibyte."""
DEFAULT_BUDGET_MIB: Final = 4.0
"""The chart cache's default budget (``SALESBRIDGE_REPORTS_CACHE_MIB``): about a hundred of the largest charts."""
ENTRY_OVERHEAD: Final = 256
"""Bytes counted for each entry on top of its key and value: the ordered dict's node and hash slot, the key's
tuple (an estimate; CPython 3.11 on 64 bits uses about 200)."""


@dataclass(frozen=True)
class CacheStats:
    """What a cache did since it was made, and what it holds now.

    Attributes:
        hits / misses: Lookups that found / did not find their key.
        evictions: Entries dropped to stay within the budget (least recently used first).
        entries: Entries held now.
        bytes: The estimated bytes held now (at most the budget).
        budget: The budget, bytes.
    """

    hits: int
    misses: int
    evictions: int
    entries: int
    bytes: int
    budget: int


class ByteBudgetLru(Generic[K, V]):
    """A least-recently-used cache holding at most ``budget`` bytes, as ``size_of(key, value)`` estimates them.

    Thread-safe: every read and change of the entries happens under one lock, held only for dictionary operations
    (never while a value is made: :meth:`get_or_make` makes it outside the lock, so two threads missing the same
    key at once may both make it; the second one stored wins, and both results are equal for a pure maker).

    Args:
        budget: Bytes; 0 keeps nothing (every lookup misses).
        size_of: The estimated bytes an entry holds (its key and value; :data:`ENTRY_OVERHEAD` is added).

    Raises:
        ValueError: ``budget`` is negative.
    """

    def __init__(self, budget: int, size_of: Callable[[K, V], int]) -> None:
        if budget < 0:
            raise ValueError("A cache's budget is 0 bytes or more.")
        self._budget = budget
        self._size_of = size_of
        self._lock = threading.Lock()
        self._entries: OrderedDict[K, tuple[V, int]] = OrderedDict()
        self._bytes = 0
        self._hits = 0
        self._misses = 0
        self._evictions = 0

    def get(self, key: K) -> V | None:
        """The value kept for ``key`` (now the most recently used), else None."""
        with self._lock:
            entry = self._entries.get(key)
            if entry is None:
                self._misses += 1
                return None
            self._entries.move_to_end(key)
            self._hits += 1
            return entry[0]

    def put(self, key: K, value: V) -> bool:
        """Keep ``value`` for ``key`` (replacing what was kept for it), dropping the least recently used entries
        until the cache fits its budget. Returns whether it was kept: an entry larger than the whole budget is not
        (and what ``key`` held before is dropped)."""
        size = self._size_of(key, value) + ENTRY_OVERHEAD
        with self._lock:
            old = self._entries.pop(key, None)
            if old is not None:
                self._bytes -= old[1]
            if size > self._budget:
                return False
            self._entries[key] = (value, size)
            self._bytes += size
            while self._bytes > self._budget:
                _, (_, dropped) = self._entries.popitem(last=False)
                self._bytes -= dropped
                self._evictions += 1
            return True

    def get_or_make(self, key: K, make: Callable[[], V]) -> V:
        """The value kept for ``key``, else ``make()``'s, kept (:meth:`put`). ``make`` runs outside the lock;
        whatever it raises propagates and nothing is kept."""
        found = self.get(key)
        if found is not None:
            return found
        value = make()
        self.put(key, value)
        return value

    def stats(self) -> CacheStats:
        """The counters and the current size."""
        with self._lock:
            return CacheStats(
                hits=self._hits,
                misses=self._misses,
                evictions=self._evictions,
                entries=len(self._entries),
                bytes=self._bytes,
                budget=self._budget,
            )

    def keys_oldest_first(self) -> list[K]:
        """The keys held, least recently used first (a copy)."""
        with self._lock:
            return list(self._entries)


class ChartKey(NamedTuple):
    """What identifies a drawn chart: the organization it was drawn for, which chart, the language, and exactly
    what it draws (a hashable of numbers and texts, small: a series per data item of 12 weeks at most)."""

    organization_id: uuid.UUID
    chart: str
    locale: str
    drawn: Hashable


def approximate_size(value: object) -> int:
    """Estimated bytes of ``value``: ``sys.getsizeof`` of it and, for tuples and frozensets, of everything in them
    (shared objects counted each time: an overestimate)."""
    size = sys.getsizeof(value)
    if isinstance(value, tuple | frozenset):
        size += sum(approximate_size(item) for item in value)
    return size


def chart_size(key: ChartKey, chart: Markup) -> int:
    """An entry's estimated bytes: the SVG text (exact: ``sys.getsizeof`` of the string) and its key."""
    return (
        sys.getsizeof(str(chart)) + approximate_size(key.drawn) + sys.getsizeof(key.chart) + sys.getsizeof(key.locale)
    )


class ChartCache(ByteBudgetLru[ChartKey, Markup]):
    """The drawn charts of the console (Reports), within ``budget`` bytes (:func:`chart_size` each), least
    recently used out first.

    Args:
        budget: Bytes (``SALESBRIDGE_REPORTS_CACHE_MIB``); :data:`DEFAULT_BUDGET_MIB` by default.
    """

    def __init__(self, budget: int = int(DEFAULT_BUDGET_MIB * MIB)) -> None:
        super().__init__(budget, chart_size)

    def chart(self, key: ChartKey, draw: Callable[[], Markup]) -> Markup:
        """The chart ``key`` names, drawn by ``draw`` when not kept (:meth:`get_or_make`)."""
        return self.get_or_make(key, draw)
