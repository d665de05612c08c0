"""The workspace's people and companies check their fields when built (:mod:`salesbridge.domain.people`)."""

from __future__ import annotations

import pytest

from salesbridge.domain.people import MAX_LIST_ENTRIES, Company, Person, search_words
from salesbridge.errors import InvalidInputError


def refused_field(build: object) -> tuple[str, object]:
    assert callable(build)
    with pytest.raises(InvalidInputError) as refused:
        build()
    return refused.value.field, refused.value.fields.get("limit")


def test_a_person_is_cleaned_and_named_from_first_and_last_name_when_no_full_name_is_given() -> None:
    person = Person(
        " p1 ",
        first_name=" Ana ",
        last_name="López",
        headline="",
        emails=(" ana@contoso.com", "ana@contoso.com", ""),
        phones=("+34 600 000 000",),
        past_companies=("Fabrikam", "  "),
    )
    assert person.external_id == "p1"
    assert person.full_name == "Ana López"
    assert person.headline is None
    assert person.emails == ("ana@contoso.com",)
    assert person.past_companies == ("Fabrikam",)
    assert (
        Person("p1", "Ana López", first_name="Ana", last_name="López", emails=("ana@contoso.com",))
        == Person("p1", first_name="Ana", last_name="López", emails=("ana@contoso.com", "ana@contoso.com"), phones=())
        != person
    )


@pytest.mark.parametrize(
    ("build", "expected"),
    [
        (lambda: Person(""), ("external_id", None)),
        (lambda: Person("p1"), ("full_name", None)),
        (lambda: Person("x" * 256, "Ana"), ("external_id", 255)),
        (lambda: Person("p1", "A" * 301), ("full_name", 300)),
        (lambda: Person("p1", "Ana", headline="h" * 501), ("headline", 500)),
        (lambda: Person("p1", "Ana", city="Madrid\n"), ("city", None)),
        (lambda: Person("p1", "Ana\x00"), ("full_name", None)),
        (lambda: Person("p1", "Ana", emails=tuple(f"a{i}@x.io" for i in range(51))), ("emails", MAX_LIST_ENTRIES)),
        (lambda: Person("p1", "Ana", phones=("1" * 65,)), ("phones", 64)),
        (lambda: Company("c1", " "), ("name", None)),
        (lambda: Company("c1", "Contoso", employee_count=-1), ("employee_count", None)),
        (lambda: Company("c1", "Contoso", website="https://x.io/" + "a" * 2048), ("website", 2048)),
    ],
)
def test_a_field_breaking_its_rule_is_refused_by_name(build: object, expected: tuple[str, object]) -> None:
    assert refused_field(build) == expected


def test_a_company_keeps_its_domain_in_lowercase_and_searches_by_casefolded_words_without_accents() -> None:
    company = Company("c1", "Straße GmbH", domain="Strasse.DE", industry="Retail", city="Köln")
    assert company.domain == "strasse.de"
    assert all(word in company.search_text() for word in search_words("STRASSE  köln retail"))
    assert search_words("  Ana ana LÓPEZ lopez ") == ("ana", "lopez"), "accents folded away, as in search texts"
    assert company.sort_name() == "strasse gmbh"
