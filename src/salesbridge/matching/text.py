"""Text folding shared by the matching normalisers.

Contract: ``fold(text)`` gives lower-case ASCII words separated by single spaces, the same for every spelling that
differs only by case, accents, punctuation, width or script (Cyrillic, Greek, Chinese... are transliterated by ICU
through ``normality``, offline: the transliteration rules ship inside the PyICU wheel). ``""`` when nothing is left.
"""

from __future__ import annotations

import re
import unicodedata

from normality import ascii_text

# Letters that Unicode does not decompose into a base letter plus a mark (NFKD leaves them whole), spelled the way
# names are commonly written in ASCII. ICU would otherwise give "O/" for "Ø".
_UNDECOMPOSED = str.maketrans(
    {"ø": "o", "Ø": "O", "ł": "l", "Ł": "L", "đ": "d", "Đ": "D", "ß": "ss", "æ": "ae", "Æ": "AE", "œ": "oe", "Œ": "OE"}
)
_NOT_WORD = re.compile(r"[^a-z0-9]+")


def ascii_fold(text: str) -> str:
    """``text`` in ASCII, case kept: accents stripped (NFKD), other scripts transliterated (ICU, via normality)."""
    decomposed = unicodedata.normalize("NFKD", text.translate(_UNDECOMPOSED))
    stripped = "".join(ch for ch in decomposed if not unicodedata.combining(ch))
    if stripped.isascii():
        return stripped
    return ascii_text(stripped) or ""


def fold(text: str) -> str:
    """Lower-case ASCII words of ``text`` joined by one space, punctuation removed ("O'Brien" → "obrien")."""
    ascii_only = ascii_fold(text.replace("'", "").replace("\u2019", "")).lower()
    return " ".join(_NOT_WORD.sub(" ", ascii_only).split())
