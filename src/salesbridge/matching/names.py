"""Person names for matching (issue 13, section 2): parsing, folding, nicknames, swapped names, phonetic keys.

Pure and offline. ``nameparser`` splits a full name into title, first, middle, last and suffix ("Smith, John",
"Dr. John Q. Smith Jr."); ``text.fold`` strips accents and case and transliterates other scripts through ICU;
``nicknames`` (its English table ships in the wheel) plus the small Spanish table below give equivalence classes;
``jellyfish.metaphone`` gives phonetic blocking keys.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache

import jellyfish
from nameparser import HumanName
from nicknames import NickNamer

from salesbridge.matching.caches import run_cache
from salesbridge.matching.text import fold

# Spanish hypocoristics in common use (hand-written here, not taken from a published table): nickname → given name.
# "Chema" stands for the compound "José María"; its class key is the compound, folded.
SPANISH_NICKNAMES: dict[str, str] = {
    "paco": "francisco",
    "pancho": "francisco",
    "curro": "francisco",
    "pepe": "jose",
    "nacho": "ignacio",
    "lola": "dolores",
    "quique": "enrique",
    "chema": "jose maria",
    "manolo": "manuel",
    "lupe": "guadalupe",
    "charo": "rosario",
    "concha": "concepcion",
    "merche": "mercedes",
    "pili": "pilar",
    "rafa": "rafael",
    "toni": "antonio",
}


@dataclass(frozen=True, slots=True)
class PersonName:
    """A parsed, folded person name: every part lower-case ASCII words ("" when absent); title and suffix dropped."""

    first: str
    middle: str
    last: str

    @property
    def first_initial(self) -> str:
        """The first letter of the first name, "" when there is none."""
        return self.first[:1]

    @property
    def is_initial_only(self) -> bool:
        """Whether the first name is a bare initial ("J. Smith")."""
        return len(self.first) == 1


def parse_person_name(full: str = "", *, first: str = "", last: str = "") -> PersonName:
    """A ``PersonName`` from a full name, or from separate first and last columns when those are given.

    Honorifics ("Dr.", "Sr.", "Mrs") and suffixes ("Jr.", "III", "PhD") are dropped; "Last, First" is understood;
    particles stay in the last name ("van der Berg" → last "van der berg"); apostrophes and hyphens are removed
    within words ("O'Brien" → "obrien", "Jean-Luc" → "jean luc"); initials lose their dot ("J." → "j").
    """
    if first or last:
        human = HumanName(f"{last}, {first}") if last and first else HumanName(first or last)
        if not (last and first):
            # A single column: keep it where the caller put it rather than guessing first from last.
            folded = fold(first or last)
            return (
                PersonName(first=folded, middle="", last="") if first else PersonName(first="", middle="", last=folded)
            )
    else:
        human = HumanName(full)
    return PersonName(first=fold(human.first), middle=fold(human.middle), last=fold(human.last))


@cache
def _nick_namer() -> NickNamer:
    return NickNamer()


_GIVEN_NAMES_KEPT = 1 << 16
"""Given names whose classes are kept (least recently used out first): about 300 bytes each, ~20 MiB at most. Kept
by count, not for ever: the keys are every distinct given name the process ever matched (people loads, CRM
contacts of every organization), which grows without end in a long-running console or worker; names are Zipf
distributed, so the common ones stay. Emptied, like every ``run_cache``, when a matching run ends."""


@run_cache(maxsize=_GIVEN_NAMES_KEPT)
def nickname_classes(given: str) -> frozenset[str]:
    """The canonical given names ``given`` may stand for, itself included (folded): "Bob" → {"bob", "robert", ...}.

    The English table is permissive and asymmetric ("bill" → robert, william, will, willis), so two names are
    nickname-equivalent when their classes intersect (``same_given_name``), not when one maps to the other.
    """
    name = fold(given)
    if not name:
        return frozenset()
    classes = {name}
    if name in SPANISH_NICKNAMES:
        classes.add(SPANISH_NICKNAMES[name])
    for word in (name, name.replace(" ", "")):
        classes.update(fold(canonical) for canonical in _nick_namer().canonicals_of(word))
    return frozenset(classes)


def same_given_name(left: str, right: str) -> bool:
    """Whether two given names are the same person's: equal folded, or nicknames of a shared canonical name.

    "JOSÉ" = "Jose"; "Bob" = "Robert"; "Paco" = "Francisco"; "Chema" = "José María". An initial is not a given
    name here (compare ``PersonName.first_initial`` for that level).
    """
    a, b = fold(left), fold(right)
    if not a or not b:
        return False
    if a == b:
        return True
    return bool(nickname_classes(a) & nickname_classes(b))


def is_swapped(left: PersonName, right: PersonName) -> bool:
    """Whether ``right`` is ``left`` with first and last names exchanged ("John Smith" vs "Smith John")."""
    if not (left.first and left.last and right.first and right.last):
        return False
    if left.first == right.first and left.last == right.last:
        return False
    return left.first == right.last and left.last == right.first


def phonetic_key(word: str) -> str:
    """The Metaphone code of ``word`` folded to ASCII, for blocking ("Smith" and "Smyth" share "SM0"); "" if empty.

    jellyfish 1.x has Metaphone, Soundex and NYSIIS but no Double Metaphone; Metaphone is used on each word of a
    multi-word name and the codes are joined with a space.
    """
    words = fold(word).split()
    return " ".join(jellyfish.metaphone(part) for part in words)
