"""Company names for matching (issue 13, section 2): legal forms stripped, folded, compared.

Pure and offline. ``normalize_company_name`` gives the comparable core of a name ("Contoso Ltd.", "CONTOSO" and
"Contoso, S.L." all give "contoso"); ``company_similarity`` scores two names from 0 to 1 for later scoring.
"""

from __future__ import annotations

import re

import fingerprints
from cleanco import basename
from rapidfuzz import fuzz

from salesbridge.matching.text import ascii_fold, fold

# "and" in the languages our customers write company names in: "&", "and", "y", "e", "et", "und" are one token.
_AND = re.compile(r"\s*&\s*|\s+(?:and|y|e|et|und)\s+", re.IGNORECASE)
# A leading article never tells two companies apart ("The Boeing Company" is "Boeing").
_LEADING_ARTICLE = re.compile(r"^(?:the|la|el|los|las|les|le|der|die|das)\s+")
# Trailing words that both tables leave behind once a compound legal form is gone ("GmbH & Co. KG" → "and co",
# "y Cía., S.A." → "and cia", "S.A.U." → "sau", Mexico's "S.A.B. de C.V." → "sab de"): dropped from the end only, and
# never the last word left.
_TRAILING_FORMS = frozenset(
    {"and", "co", "cia", "company", "de", "sab", "sapi", "sau", "slu", "sll", "slne", "scp", "cb", "kg", "ohg"}
)


def normalize_company_name(name: str) -> str:
    """The comparable core of a company name: lower-case ASCII words without legal form, article or punctuation.

    Legal forms are removed with ``fingerprints.remove_types`` (OpenSanctions' multilingual table, which also knows
    full words such as "Aktiengesellschaft"), then with ``cleanco.basename`` for the abbreviations that table leaves
    ("S.L."). "&", "and", "y", "e", "et", "und" become the word "and" so "Procter & Gamble" and "Procter and
    Gamble" agree. A name that is nothing but a legal form keeps its folded text rather than becoming "".
    """
    # "&" first: the legal-form tables treat it as punctuation and would lose it.
    text = _AND.sub(" and ", ascii_fold(name))
    stripped = fingerprints.remove_types(text) or ""
    stripped = basename(stripped) if stripped else ""
    words = _LEADING_ARTICLE.sub("", fold(stripped)).split()
    while len(words) > 1 and words[-1] in _TRAILING_FORMS:
        words.pop()
    return " ".join(words) or fold(text)


def company_similarity(left: str, right: str) -> float:
    """Similarity of two company names in [0, 1] after ``normalize_company_name``.

    rapidfuzz's token-set ratio (word order and an extra word do not count against) tempered by the plain ratio, so
    "Contoso" vs "Contoso Pharma" is high but below an exact match; 0.0 when either name is empty.
    """
    a, b = normalize_company_name(left), normalize_company_name(right)
    if not a or not b:
        return 0.0
    if a == b:
        return 1.0
    return (0.7 * fuzz.token_set_ratio(a, b) + 0.3 * fuzz.ratio(a, b)) / 100.0
