"""Why a CRM record matched, worded for a seller in English and Spanish from the engine's per-field reasons."""

from __future__ import annotations

import pytest

from salesbridge.matching import FieldReason
from salesbridge.web.localized import match_reason_text


def _reason(
    field: str, level: str, detail: str | None = None, left: str | None = None, right: str | None = None
) -> FieldReason:
    return FieldReason(field=field, level=level, detail=detail, weight=1.0, left=left, right=right)


@pytest.mark.parametrize(
    ("reason", "english", "spanish"),
    [
        (
            _reason("email", "exact", left="bob@contoso.com", right="bob@contoso.com"),
            "Email: same",
            "Correo electrónico: igual",
        ),
        (
            _reason("name", "equivalent", "nickname", "Bob Smith", "Robert Smith"),
            "Name: nickname (Bob Smith / Robert Smith)",
            "Nombre: diminutivo (Bob Smith / Robert Smith)",
        ),
        (
            _reason("company", "equivalent", "legal_form", "Contoso Ltd.", "CONTOSO"),
            "Company: legal form differs (Contoso Ltd. / CONTOSO)",
            "Empresa: cambia la forma jurídica (Contoso Ltd. / CONTOSO)",
        ),
        (
            _reason("phone", "missing", left="+34 600 000 000"),
            "Phone: missing on one side",
            "Teléfono: falta en uno de los dos",
        ),
        (
            _reason("title", "different", None, "CFO", "Sales Director"),
            "Title: different (CFO / Sales Director)",
            "Cargo: distinto (CFO / Sales Director)",
        ),
        # Codes the console does not know yet read as the engine wrote them rather than failing.
        (_reason("shoe_size", "odd", "weird"), "shoe_size: odd", "shoe_size: odd"),
    ],
)
def test_each_reason_reads_as_a_short_line(reason: FieldReason, english: str, spanish: str) -> None:
    assert match_reason_text(reason, "en") == english
    assert match_reason_text(reason, "es") == spanish
