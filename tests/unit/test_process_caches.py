"""Every in-process function cache of the product (console, jobs, import and matching; the sandbox aside) is bounded:
by a count of entries (``lru_cache(maxsize=…)``, its worst-case size documented beside it), or keyed by a small fixed
set (no arguments, a supported language, a table). A cache keyed by data — organizations, names, values, settings —
must not grow for as long as the process lives; the matching engine's, sized for a run of a million records, are
emptied when each run ends (``salesbridge.matching.caches``). The Reports page's charts are kept by bytes instead
(:mod:`salesbridge.web.chart_cache`, its own tests)."""

from __future__ import annotations

import importlib
import inspect
import pkgutil
from collections.abc import Iterator
from types import ModuleType
from typing import Any

import salesbridge
from salesbridge.matching.caches import registered_caches

KEYED_BY_A_FIXED_SET = {
    "salesbridge.web.templating.environment": "one per supported language",
    "salesbridge.i18n._compiled": "one per supported language",
    "salesbridge.matching.model._packaged": "one per kind of record (people, companies)",
    "salesbridge.domain.crm_import._field_reader": "one per imported table's name, owner and parent columns",
    "salesbridge.bootstrap._shared_request_budget": "one per database URL: the process's one",
    "salesbridge.native.c_function": "one per C library function the code names (malloc_trim, mallopt, ...)",
}
"""Unbounded caches whose keys come from a small set fixed by the code, and why."""

LEFT_OUT = ("salesbridge.sandbox", "salesbridge.store.migrations")
"""The sandbox is another server (not the console's process in production); migrations run once. (``__main__``
modules run their command when imported.)"""


def _modules() -> Iterator[ModuleType]:
    for info in pkgutil.walk_packages(salesbridge.__path__, prefix="salesbridge."):
        if not info.name.startswith(LEFT_OUT) and not info.name.endswith(".__main__"):
            yield importlib.import_module(info.name)


def _caches() -> dict[str, Any]:
    found: dict[str, Any] = {}
    for module in _modules():
        for name, value in vars(module).items():
            if hasattr(value, "cache_parameters") and getattr(value, "__module__", None) == module.__name__:
                found[f"{module.__name__}.{name}"] = value
    return found


def test_every_function_cache_is_bounded_or_keyed_by_a_fixed_set() -> None:
    caches = _caches()
    unbounded = {
        name
        for name, cached in caches.items()
        if cached.cache_parameters()["maxsize"] is None
        and inspect.signature(cached.__wrapped__).parameters
        and name not in KEYED_BY_A_FIXED_SET
    }

    assert "salesbridge.matching.names.nickname_classes" in caches  # the walk reaches the matching package
    assert unbounded == set()
    assert set(KEYED_BY_A_FIXED_SET) <= set(caches), "an allowed cache is gone: take it off the list"


def test_every_matching_cache_keyed_by_data_is_emptied_when_a_run_ends() -> None:
    """The engine's caches of values are sized for a run of a million records (hundreds of MiB full): each must be a
    ``run_cache`` (registered with ``clear_caches``, which a matching run calls as it ends), or the console keeps
    it for its whole life. Those keyed by a fixed set (no arguments, a kind of record) are kept."""
    caches = _caches()
    registered = {id(cached) for cached in registered_caches()}
    keyed_by_data = {
        name
        for name, cached in caches.items()
        if name.startswith("salesbridge.matching.")
        and inspect.signature(cached.__wrapped__).parameters
        and name not in KEYED_BY_A_FIXED_SET
    }

    assert "salesbridge.matching.compare.company_level" in keyed_by_data
    assert "salesbridge.matching.names.nickname_classes" in keyed_by_data
    assert {name for name in keyed_by_data if id(caches[name]) not in registered} == set()
    assert len(registered) == len(keyed_by_data), "a registered cache outside the matching package's modules"


def test_the_reports_caches_are_bounded() -> None:
    caches = _caches()

    assert "salesbridge.domain.reports._moment_and_limit" in caches
    assert caches["salesbridge.domain.reports._moment_and_limit"].cache_parameters()["maxsize"] <= 1 << 14
    assert not any(name.startswith("salesbridge.web.ui.reports.") for name in caches), "charts: web.chart_cache"
