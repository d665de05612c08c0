"""Company names (issue 13, section 2): legal forms, accents, "&"/"and"/"y", punctuation, similarity."""

from __future__ import annotations

import pytest

from salesbridge.matching.companies import company_similarity, normalize_company_name


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("Contoso Ltd.", "contoso"),
        ("CONTOSO", "contoso"),
        ("Contoso, S.L.", "contoso"),
        ("Contoso S.A.U.", "contoso"),
        ("Fabrikam, Inc.", "fabrikam"),
        ("Siemens Aktiengesellschaft", "siemens"),
        ("M\u00fcller GmbH & Co. KG", "muller"),
        ("Hermanos P\u00e9rez y C\u00eda., S.A.", "hermanos perez"),
        ("The Boeing Company", "boeing"),
        ("Procter & Gamble Co.", "procter and gamble"),
        ("Procter and Gamble", "procter and gamble"),
        ("Marks & Spencer plc", "marks and spencer"),
        ("Sal Y Pimienta, S.L.", "sal and pimienta"),
        ("Construcciones Ruiz e Hijos, S.A.", "construcciones ruiz and hijos"),
        # Mexico's "S.A. de C.V.": both tables drop "S.A." and "C.V." but leave the "de" between them.
        ("Roble Servicios S.A. de C.V.", "roble servicios"),
        ("Grupo Bimbo, S.A.B. de C.V.", "grupo bimbo"),
        # A name that is only a legal form keeps its text instead of becoming empty.
        ("Ltd", "ltd"),
        ("", ""),
    ],
)
def test_normalize_company_name(raw: str, expected: str) -> None:
    assert normalize_company_name(raw) == expected


def test_similarity() -> None:
    assert company_similarity("Contoso Ltd.", "CONTOSO, S.L.") == 1.0
    assert company_similarity("Procter & Gamble", "Procter and Gamble Co.") == 1.0
    near = company_similarity("Contoso", "Contoso Pharma")
    assert 0.8 < near < 1.0
    assert company_similarity("Contoso", "Fabrikam") < 0.3
    assert company_similarity("", "Contoso") == 0.0
