"""How guessable a password is, judged by zxcvbn (Dropbox's estimator, with its lists of the most common
passwords, words, names and keyboard patterns) rather than a list of our own. Pure rules; no I/O.

A password is *weak* when zxcvbn's score is below :data:`MIN_SCORE` (3: about 10^8 guesses, which the
sign-in throttle makes centuries of online guessing). Words the person is known by (email, name, workspace) count
as the most guessable words of all.
"""

from __future__ import annotations

import re
import threading
from collections.abc import Iterable
from enum import StrEnum
from typing import Any, Final

MIN_SCORE: Final = 3
"""zxcvbn's score (0 to 4) a password must reach."""
SCORED_LENGTH: Final = 72
"""zxcvbn scores at most this many characters (its own limit, to bound its time); a longer password is judged
by its first 72, which is never kinder than judging the whole."""

# zxcvbn keeps the caller's words in a module-level dictionary during a call: one call at a time.
_ZXCVBN_LOCK = threading.Lock()
_WORD = re.compile(r"[^\W_]+")


class PasswordWeakness(StrEnum):
    """Why a password is too easy to guess: its most telling part, as zxcvbn saw it."""

    COMMON_PASSWORD = "common_password"
    """It is, or is built from, passwords people use most."""
    COMMON_WORDS = "common_words"
    """A common word or name by itself (or nearly)."""
    PERSONAL = "personal"
    """It contains the person's email, name or workspace."""
    REPEATS = "repeats"
    """Repeated characters or words (``aaaa``, ``abcabc``)."""
    SEQUENCE = "sequence"
    """A sequence (``abcd``, ``9876``)."""
    KEYBOARD = "keyboard"
    """A keyboard pattern (``qwerty``, ``zxcvbn``)."""
    DATES = "dates"
    """Dates or years."""
    GUESSABLE = "guessable"
    """Guessable as a whole, nothing in particular."""


def password_weakness(password: str, *, personal: Iterable[str] = ()) -> PasswordWeakness | None:
    """Why ``password`` is too easy to guess, or None when it is strong enough (score >= :data:`MIN_SCORE`).

    Args:
        personal: Texts the person is known by (email, name, workspace); each is split into words.
    """
    # Imported on first use: its word lists take a noticeable share of every CLI command's start.
    from zxcvbn import zxcvbn  # type: ignore[import-untyped]

    words = sorted({word.lower() for text in personal for word in _WORD.findall(text) if len(word) >= 3})
    with _ZXCVBN_LOCK:
        result: dict[str, Any] = zxcvbn(password[:SCORED_LENGTH], user_inputs=words)
    if int(result["score"]) >= MIN_SCORE:
        return None
    telling = [match for match in result["sequence"] if match["pattern"] != "bruteforce"]
    if not telling:
        return PasswordWeakness.GUESSABLE
    return _weakness_of(max(telling, key=lambda match: len(match["token"])))


def _weakness_of(match: dict[str, Any]) -> PasswordWeakness:
    pattern = match["pattern"]
    if pattern == "dictionary":
        source = match.get("dictionary_name")
        if source == "user_inputs":
            return PasswordWeakness.PERSONAL
        return PasswordWeakness.COMMON_PASSWORD if source == "passwords" else PasswordWeakness.COMMON_WORDS
    return {
        "repeat": PasswordWeakness.REPEATS,
        "sequence": PasswordWeakness.SEQUENCE,
        "spatial": PasswordWeakness.KEYBOARD,
        "date": PasswordWeakness.DATES,
        "regex": PasswordWeakness.DATES,  # zxcvbn's one regex pattern is "recent year"
    }.get(pattern, PasswordWeakness.GUESSABLE)
