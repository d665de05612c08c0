"""How searches compare text: case and accents ignored ("alvarez" and "ÁLVAREZ" both find "Álvarez").

One folding for every search of the workspace — people and companies (their stored search text), and imported CRM
records by name — so that it can run in Python and, for names stored as they came from the CRM, in the database:
:data:`FOLDING_TABLE` maps each letter below U+2000 (Latin, Greek, Cyrillic) that lower-casing or dropping its
accents changes to the single letter it becomes, so PostgreSQL's ``lower(translate(name, …))`` gives the same
text as :func:`fold_for_search` whatever the database's character-type locale for those letters (SQLite calls
:func:`fold_for_search` itself). Other scripts (CJK, Arabic, Hangul…) are compared as written, lower-cased.
Pure: no I/O.
"""

from __future__ import annotations

import unicodedata
from typing import Final

# Letters Unicode does not decompose into a base letter and an accent, searched as the base letter people type.
_NOT_DECOMPOSED: Final = {"ø": "o", "ł": "l", "đ": "d", "ħ": "h", "ŧ": "t"}


def _folding_table() -> dict[int, str]:
    letters: dict[int, str] = {}
    marks: dict[int, str] = {}
    for code in range(0x80, 0x2000):
        letter = chr(code)
        if unicodedata.combining(letter):
            marks[code] = ""  # an accent written apart from its letter ("e" + U+0301) is dropped
            continue
        bare = "".join(part for part in unicodedata.normalize("NFD", letter.lower()) if not unicodedata.combining(part))
        bare = _NOT_DECOMPOSED.get(bare, bare)
        if len(bare) == 1 and bare != letter:
            letters[code] = bare
    return letters | marks  # letters first: translate() deletes the characters of its "from" beyond its "to"


FOLDING_TABLE: Final[dict[int, str]] = _folding_table()
"""Code point → the lower-case letter without accents it is searched as, or "" (a combining accent: dropped)."""

FOLDED_FROM: Final = "".join(chr(code) for code in FOLDING_TABLE)
"""The characters :data:`FOLDING_TABLE` changes, letters first (``translate``'s second argument)."""
FOLDED_TO: Final = "".join(FOLDING_TABLE.values())
"""What the letters of :data:`FOLDED_FROM` become (``translate``'s third argument; the accents after them have
nothing, so ``translate`` deletes them)."""


def fold_for_search(text: str) -> str:
    """``text`` without accents, then lower-cased, as every search compares it (the database's
    ``lower(translate(name, FOLDED_FROM, FOLDED_TO))`` is the same text)."""
    return text.translate(FOLDING_TABLE).lower()
