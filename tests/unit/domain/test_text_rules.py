"""The text rules (issue 10, item 10): one rule per kind of text, refusing control characters and lone surrogates,
and organization slugs that could not sit in a URL or a command."""

from __future__ import annotations

import sys
import unicodedata

import pytest

from salesbridge.domain.text_rules import (
    checked_display_name,
    checked_email,
    checked_free_text,
    checked_list_name,
    checked_organization_slug,
    checked_token_name,
    has_lone_surrogate,
    has_refused_characters,
)
from salesbridge.errors import InvalidInputError, InvalidRequestError

REFUSED_TEXTS = [
    "a\x00b",
    "\x00",
    "tab\tin",
    "line\nbreak",
    "cr\r",
    "esc\x1b",
    "del\x7f",
    "c1\x85",
    "\ud800",
    "x\udfff",
]


@pytest.mark.parametrize("text", REFUSED_TEXTS)
@pytest.mark.parametrize("rule", [checked_display_name, checked_list_name, checked_token_name])
def test_names_refuse_control_characters_and_lone_surrogates(rule: object, text: str) -> None:
    with pytest.raises(InvalidInputError) as refused:
        rule(text)  # type: ignore[operator]
    assert "control characters" in str(refused.value)


@pytest.mark.parametrize("text", REFUSED_TEXTS)
def test_emails_refuse_control_characters_and_lone_surrogates(text: str) -> None:
    with pytest.raises(InvalidInputError) as refused:
        checked_email(f"ana{text}@acme.test")
    assert refused.value.field == "email"
    with pytest.raises(InvalidInputError):
        checked_email(f"ana@acme.test{text}")


def test_names_keep_ordinary_text_and_trim_spaces() -> None:
    assert checked_display_name("  Ana García-Núñez ") == "Ana García-Núñez"
    assert checked_list_name('Q3 — cuentas <clave> & "más"') == 'Q3 — cuentas <clave> & "más"'
    assert checked_token_name(" ci ") == "ci"
    assert checked_free_text("日本語 ✓", field="name") == "日本語 ✓"
    assert checked_email(" Ana.Garcia+crm@acme.test ") == "Ana.Garcia+crm@acme.test"


@pytest.mark.parametrize("slug", ["acme", "a", "acme-corp", "4x4", "a" * 63, "x1-2-3"])
def test_organization_slugs_accepted(slug: str) -> None:
    assert checked_organization_slug(slug) == slug


@pytest.mark.parametrize(
    "slug",
    [
        "",
        "Acme",
        "acme corp",
        "acme/corp",
        "<b>acme</b>",
        "-acme",
        "acme-",
        "a" * 64,
        "acme\n",
        "acmé",
        "acme_corp",
        " acme",
    ],
)
def test_organization_slugs_refused(slug: str) -> None:
    with pytest.raises(InvalidRequestError) as refused:
        checked_organization_slug(slug)
    assert isinstance(refused.value, InvalidInputError)
    assert refused.value.field == "slug"


def test_exactly_the_control_characters_and_surrogates_of_all_unicode_are_refused() -> None:
    # The rule is a regular expression (fast); the categories are the definition: they agree on every code point.
    for code in range(sys.maxunicode + 1):
        character = chr(code)
        category = unicodedata.category(character)
        assert has_refused_characters(f"a{character}b") is (category in {"Cc", "Cs"}), hex(code)
        assert has_lone_surrogate(character) is (category == "Cs"), hex(code)
