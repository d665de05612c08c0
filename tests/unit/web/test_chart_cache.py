"""The console's chart cache: least recently used out first within a byte budget, thread-safe, keyed by
organization; an entry is counted by its SVG's bytes and its key."""

from __future__ import annotations

import sys
import threading
import uuid
from collections.abc import Iterator

import pytest
from markupsafe import Markup

from salesbridge.settings import Settings
from salesbridge.web.chart_cache import (
    DEFAULT_BUDGET_MIB,
    ENTRY_OVERHEAD,
    MIB,
    ByteBudgetLru,
    ChartCache,
    ChartKey,
    chart_size,
)


def _by_length(_key: str, value: str) -> int:
    return len(value)


def _cache(budget_values: int) -> ByteBudgetLru[str, str]:
    """A cache of strings counted by their length, with room for ``budget_values`` bytes of values."""
    return ByteBudgetLru(budget_values + 3 * ENTRY_OVERHEAD, _by_length)


def test_the_least_recently_used_entry_leaves_first_and_a_read_makes_an_entry_recent() -> None:
    cache = _cache(300)
    cache.put("a", "x" * 100)
    cache.put("b", "x" * 100)
    cache.put("c", "x" * 100)
    assert cache.get("a") == "x" * 100  # "b" is now the least recently used

    cache.put("d", "x" * 100)

    assert cache.keys_oldest_first() == ["c", "a", "d"]
    stats = cache.stats()
    assert (stats.entries, stats.evictions, stats.bytes) == (3, 1, 300 + 3 * ENTRY_OVERHEAD)
    assert cache.get("b") is None


def test_one_large_entry_pushes_out_as_many_small_ones_as_it_needs() -> None:
    cache = _cache(300)
    for key in "abc":
        cache.put(key, "x" * 100)

    cache.put("big", "x" * 500)  # with its overhead, more than two small entries and their overhead

    assert cache.keys_oldest_first() == ["big"]
    assert cache.stats().bytes <= cache.stats().budget


def test_an_entry_larger_than_the_budget_is_not_kept_and_drops_what_its_key_held() -> None:
    cache = ByteBudgetLru[str, str](1_000, _by_length)
    assert cache.put("a", "small")

    assert not cache.put("a", "x" * 1_000)

    assert cache.get("a") is None
    assert cache.stats().bytes == 0


def test_replacing_an_entry_counts_its_new_size_only() -> None:
    cache = _cache(300)
    cache.put("a", "x" * 200)
    cache.put("a", "x" * 10)

    assert cache.stats().bytes == 10 + ENTRY_OVERHEAD
    assert cache.get("a") == "x" * 10


def test_a_budget_of_nothing_keeps_nothing_and_a_negative_one_is_refused() -> None:
    cache = ByteBudgetLru[str, str](0, _by_length)
    assert cache.get_or_make("a", lambda: "made") == "made"
    assert cache.stats().entries == 0
    with pytest.raises(ValueError, match="0 bytes or more"):
        ByteBudgetLru[str, str](-1, _by_length)


def test_get_or_make_makes_a_missing_value_once_and_keeps_nothing_when_making_fails() -> None:
    cache = _cache(300)
    made: list[str] = []

    def make() -> str:
        made.append("a")
        return "value"

    assert cache.get_or_make("a", make) == "value"
    assert cache.get_or_make("a", make) == "value"
    assert made == ["a"]
    assert (cache.stats().hits, cache.stats().misses) == (1, 1)

    def fail() -> str:
        raise RuntimeError("drawing failed")

    with pytest.raises(RuntimeError):
        cache.get_or_make("b", fail)
    assert cache.keys_oldest_first() == ["a"]


@pytest.fixture
def frequent_thread_switches() -> Iterator[None]:
    """Threads switch every microsecond (5 ms by default), so that unlocked updates would interleave: without the
    cache's lock, the test below fails most runs this way, and hardly ever at the default interval."""
    interval = sys.getswitchinterval()
    sys.setswitchinterval(1e-6)
    try:
        yield
    finally:
        sys.setswitchinterval(interval)


@pytest.mark.usefixtures("frequent_thread_switches")
def test_threads_sharing_the_cache_keep_it_within_its_budget_and_its_count_exact() -> None:
    cache = _cache(2_000)
    threads = 8
    start = threading.Barrier(threads)

    def work(worker: int) -> None:
        start.wait()
        for round_ in range(2_000):
            key = f"{(worker * 7 + round_) % 50}"
            cache.get_or_make(key, lambda key=key: "x" * (10 + int(key) * 3))

    runners = [threading.Thread(target=work, args=(worker,)) for worker in range(threads)]
    for runner in runners:
        runner.start()
    for runner in runners:
        runner.join()

    stats = cache.stats()
    kept = [cache.get(key) for key in cache.keys_oldest_first()]
    assert stats.bytes <= stats.budget
    assert stats.bytes == sum(len(value or "") + ENTRY_OVERHEAD for value in kept)
    assert stats.hits + stats.misses == threads * 2_000


def test_a_chart_counts_its_svg_bytes_and_its_key() -> None:
    svg = Markup("<svg>" + "é" * 40_000 + "</svg>")
    key = ChartKey(uuid.uuid4(), "written-back", "es", ((1.0, 2.0), ("note",)))

    assert chart_size(key, svg) >= sys.getsizeof(str(svg)) > 40_000
    assert chart_size(key, svg) > chart_size(key._replace(drawn=()), svg)


def test_the_same_chart_of_two_organizations_is_two_entries() -> None:
    cache = ChartCache()
    acme, globex = uuid.uuid4(), uuid.uuid4()
    drawn = (0.0, 0.0, None)

    first = cache.chart(ChartKey(acme, "influence", "en", drawn), lambda: Markup("<svg id='acme'/>"))
    second = cache.chart(ChartKey(globex, "influence", "en", drawn), lambda: Markup("<svg id='globex'/>"))

    assert (first, second) == ("<svg id='acme'/>", "<svg id='globex'/>")
    assert {key.organization_id for key in cache.keys_oldest_first()} == {acme, globex}


def test_the_default_budget_is_the_settings_default() -> None:
    assert Settings().reports_cache_mib == DEFAULT_BUDGET_MIB
    assert ChartCache().stats().budget == int(DEFAULT_BUDGET_MIB * MIB)
