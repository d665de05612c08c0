"""Person names (issue 13, section 2): parsing, accents, transliteration, nicknames, swaps, phonetic keys."""

from __future__ import annotations

import pytest

from salesbridge.matching.names import (
    PersonName,
    is_swapped,
    nickname_classes,
    parse_person_name,
    phonetic_key,
    same_given_name,
)
from salesbridge.matching.text import fold


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("JOS\u00c9 MU\u00d1OZ", PersonName("jose", "", "munoz")),
        ("Jose Munoz", PersonName("jose", "", "munoz")),
        ("Se\u00e1n O'Brien", PersonName("sean", "", "obrien")),
        ("Sean O\u2019Brien", PersonName("sean", "", "obrien")),
        ("Hans van der Berg", PersonName("hans", "", "van der berg")),
        ("J. Smith", PersonName("j", "", "smith")),
        ("Smith, John", PersonName("john", "", "smith")),
        ("Dr. John Q. Smith Jr.", PersonName("john", "q", "smith")),
        ("Mr John Smith III", PersonName("john", "", "smith")),
        ("Jean-Luc Picard", PersonName("jean luc", "", "picard")),
        (
            "\u0421\u0435\u0440\u0433\u0435\u0439 \u0418\u0432\u0430\u043d\u043e\u0432",
            PersonName("sergei", "", "ivanov"),
        ),
        ("Bj\u00f8rn \u0141ukasz", PersonName("bjorn", "", "lukasz")),
    ],
)
def test_parse_person_name(raw: str, expected: PersonName) -> None:
    assert parse_person_name(raw) == expected


def test_separate_columns_are_taken_as_given() -> None:
    assert parse_person_name(first="Jos\u00e9 Mar\u00eda", last="Garc\u00eda L\u00f3pez") == PersonName(
        "jose", "maria", "garcia lopez"
    )
    assert parse_person_name(first="Smith") == PersonName("smith", "", "")
    assert parse_person_name(last="Smith") == PersonName("", "", "smith")


def test_chinese_is_transliterated_offline() -> None:
    assert fold("\u738b\u5c0f\u660e") == "wang xiao ming"
    assert fold("\u0418\u0432\u0430\u043d\u043e\u0432") == fold("Ivanov")


def test_initials() -> None:
    name = parse_person_name("J. Smith")
    assert name.is_initial_only
    assert name.first_initial == parse_person_name("John Smith").first_initial == "j"
    assert not parse_person_name("John Smith").is_initial_only


@pytest.mark.parametrize(
    ("left", "right"),
    [
        ("Bob", "Robert"),
        ("Bill", "William"),
        ("Paco", "Francisco"),
        ("Pepe", "Jos\u00e9"),
        ("Nacho", "Ignacio"),
        ("Lola", "Dolores"),
        ("Quique", "Enrique"),
        ("Chema", "Jos\u00e9 Mar\u00eda"),
        ("JOS\u00c9", "jose"),
        # Two nicknames of one name are equivalent too.
        ("Bob", "Rob"),
    ],
)
def test_same_given_name(left: str, right: str) -> None:
    assert same_given_name(left, right)
    assert same_given_name(right, left)


@pytest.mark.parametrize(("left", "right"), [("Bob", "Francisco"), ("Paco", "Pepe"), ("John", ""), ("J", "John")])
def test_different_given_names(left: str, right: str) -> None:
    assert not same_given_name(left, right)


def test_nickname_classes_include_the_name_itself() -> None:
    assert "robert" in nickname_classes("Bob")
    assert nickname_classes("Zebediah-Unknown") == frozenset({"zebediah unknown"})
    assert nickname_classes("") == frozenset()


def test_swapped_first_and_last() -> None:
    assert is_swapped(parse_person_name("John Smith"), parse_person_name(first="Smith", last="John"))
    assert not is_swapped(parse_person_name("John Smith"), parse_person_name("John Smith"))
    assert not is_swapped(parse_person_name("John Smith"), parse_person_name("Jane Smith"))
    assert not is_swapped(parse_person_name("Smith"), parse_person_name("Smith"))


def test_phonetic_keys_block_spelling_variants() -> None:
    assert phonetic_key("Smith") == phonetic_key("Smyth")
    assert phonetic_key("Mu\u00f1oz") == phonetic_key("Munoz")
    assert phonetic_key("Smith") != phonetic_key("Jones")
    assert len(phonetic_key("van der Berg").split()) == 3
    assert phonetic_key("") == ""
