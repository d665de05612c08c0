"""The engine's caches of values live for a matching run: ``kept_for_run`` empties every registered cache when the
last run under way ends, returned or raised, and never under another run still going."""

from __future__ import annotations

import pytest

from salesbridge.matching import Matcher, PersonRecord, clear_caches, kept_for_run
from salesbridge.matching.caches import registered_caches
from salesbridge.matching.compare import company_level, compare_first
from salesbridge.matching.features import fold_word
from salesbridge.matching.names import nickname_classes

CONTACTS = [
    PersonRecord(id="c1", first_name="Bob", last_name="Smith", company_name="Contoso Ltd", emails=("b@contoso.com",)),
    PersonRecord(id="c2", first_name="Ana", last_name="García", company_name="Fabrikam", city="Sevilla"),
]
PEOPLE = [
    PersonRecord(id="p1", first_name="Robert", last_name="Smith", company_name="Contoso", emails=("b@contoso.com",)),
    PersonRecord(id="p2", first_name="Ana", last_name="Garcia", company_name="Fabrikam Inc.", city="Sevilla"),
]


def _held() -> dict[str, int]:
    return {cached.__wrapped__.__qualname__: cached.cache_info().currsize for cached in registered_caches()}


def _fill() -> None:
    Matcher.people().link(CONTACTS, PEOPLE)


def test_a_link_fills_the_caches_and_clear_caches_empties_every_one() -> None:
    _fill()
    assert fold_word.cache_info().currsize > 0
    assert nickname_classes.cache_info().currsize > 0
    assert compare_first.cache_info().currsize > 0

    clear_caches()

    assert set(_held().values()) == {0}
    assert company_level.cache_parameters()["maxsize"] == 1 << 20, "the limits stay"


def test_the_caches_are_emptied_when_the_run_returns() -> None:
    with kept_for_run():
        _fill()
        assert sum(_held().values()) > 0

    assert set(_held().values()) == {0}


def _failing_run() -> None:
    with kept_for_run():
        _fill()
        assert sum(_held().values()) > 0
        raise RuntimeError("store failed")


def test_the_caches_are_emptied_when_the_run_raises() -> None:
    with pytest.raises(RuntimeError, match="store failed"):
        _failing_run()

    assert set(_held().values()) == {0}


def test_a_run_ending_under_another_run_leaves_the_caches_to_the_last_one() -> None:
    """Two runs overlapping (two organizations' runs in two threads): the first to end keeps the caches for the
    other, the last empties them."""
    with kept_for_run():
        with kept_for_run():
            _fill()
        held = _held()
        assert held["fold_word"] > 0
        assert held["compare_first"] > 0
        _fill()

    assert set(_held().values()) == {0}
