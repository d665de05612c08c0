"""The rules text typed by people must follow before it is stored: one rule per kind of text, used by every use case
that accepts it (so the API, the console and the command line refuse the same input the same way).

* **Free text** (names of people, lists and tokens): no control characters (C0 and C1, NUL, tab and line breaks
  included) and no lone surrogates (which no encoding can store). A NUL in an email once broke its owner's CRM match.
* **Email**: ``local@domain.tld``, at most 320 characters, free text's rule too.
* **Organization slug**: 1 to 63 lowercase letters, digits and hyphens, starting and ending with a letter or digit
  (a DNS label): it appears in URLs and commands.

Each ``checked_*`` returns the value without surrounding spaces, or raises :class:`InvalidInputError` (a message id
of the catalogue, and the refused ``field``). Pure: no I/O.
"""

from __future__ import annotations

import re
from typing import Final

from salesbridge.errors import InvalidInputError
from salesbridge.message_ids import N_

MAX_EMAIL_LENGTH: Final = 320
MAX_DISPLAY_NAME_LENGTH: Final = 200
MAX_LIST_NAME_LENGTH: Final = 200
MAX_TOKEN_NAME_LENGTH: Final = 100

_EMAIL: Final = re.compile(r"[^@\s]+@[^@\s]+\.[^@\s]+")
_ORGANIZATION_SLUG: Final = re.compile(r"[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?")
"""Matched whole (``fullmatch``: ``$`` would let a trailing line break through)."""
_REFUSED_CATEGORIES: Final = frozenset({"Cc", "Cs"})
"""Unicode categories never stored: control characters and (lone) surrogates."""
_REFUSED: Final = re.compile("[\x00-\x1f\x7f-\x9f\ud800-\udfff]")
"""Every character of :data:`_REFUSED_CATEGORIES` (Cc is exactly C0, DEL and C1; Cs the surrogates), in one search:
asking each character's category cost 2.5 s of a 10,000-person load's 4.3."""
_LONE_SURROGATE: Final = re.compile("[\ud800-\udfff]")

CONTROL_CHARACTERS_MESSAGE: Final = N_(
    "This text contains control characters (such as a tab or a line break). Remove them and try again."
)


def has_lone_surrogate(text: str) -> bool:
    """True when ``text`` holds a lone surrogate (JSON's ``"\\ud800"`` decodes to one): no encoding can store it."""
    return _LONE_SURROGATE.search(text) is not None


def has_refused_characters(text: str) -> bool:
    """True when ``text`` holds a control character or a lone surrogate."""
    return _REFUSED.search(text) is not None


def checked_free_text(text: str, *, field: str) -> str:
    """``text`` without surrounding spaces.

    Raises:
        InvalidInputError: it holds a control character or a lone surrogate (``field``).
    """
    if has_refused_characters(text):
        raise InvalidInputError(CONTROL_CHARACTERS_MESSAGE, field=field)
    return text.strip()


_REFUSED_IN_MULTILINE: Final = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f\ud800-\udfff]")
"""Free text's refused characters except tab, line feed and carriage return (the body of a note or message)."""


def checked_multiline_text(text: str, *, field: str) -> str:
    """``text`` (a body of several lines: tabs and line breaks allowed) without surrounding spaces, its line breaks
    made ``\\n``.

    Raises:
        InvalidInputError: it holds another control character or a lone surrogate (``field``).
    """
    if _REFUSED_IN_MULTILINE.search(text) is not None:
        raise InvalidInputError(N_("This text contains control characters. Remove them and try again."), field=field)
    return text.replace("\r\n", "\n").replace("\r", "\n").strip()


def _checked_name(text: str, *, field: str, limit: int, message: str) -> str:
    cleaned = checked_free_text(text, field=field)
    if not cleaned or len(cleaned) > limit:
        raise InvalidInputError(message, field=field, limit=limit)
    return cleaned


def checked_email(email: str) -> str:
    """``email`` without surrounding spaces.

    Raises:
        InvalidInputError: it is not an email address, or holds a control character (field ``"email"``).
    """
    refused = has_refused_characters(email)  # before stripping: a trailing line break is refused, not trimmed
    email = email.strip()
    if refused or len(email) > MAX_EMAIL_LENGTH or not _EMAIL.fullmatch(email):
        raise InvalidInputError(N_("Enter a valid email address, like name@example.com."), field="email")
    return email


def checked_display_name(name: str) -> str:
    """A person's name without surrounding spaces.

    Raises:
        InvalidInputError: it is empty, longer than 200 characters, or holds a control character (field
            ``"display_name"``).
    """
    return _checked_name(
        name, field="display_name", limit=MAX_DISPLAY_NAME_LENGTH, message=N_("Enter a name of 1 to 200 characters.")
    )


def checked_list_name(name: str) -> str:
    """A list's name without surrounding spaces.

    Raises:
        InvalidInputError: it is empty, longer than 200 characters, or holds a control character (field ``"name"``).
    """
    return _checked_name(
        name,
        field="name",
        limit=MAX_LIST_NAME_LENGTH,
        message=N_("Give the list a name of 1 to {limit} characters."),
    )


def checked_token_name(name: str) -> str:
    """An API token's name without surrounding spaces.

    Raises:
        InvalidInputError: it is empty, longer than 100 characters, or holds a control character (field ``"name"``).
    """
    return _checked_name(
        name,
        field="name",
        limit=MAX_TOKEN_NAME_LENGTH,
        message=N_("Give the token a name of 1 to 100 characters."),
    )


def checked_organization_slug(slug: str) -> str:
    """An organization's slug, as given (no spaces are removed: a slug is typed into commands and URLs).

    Raises:
        InvalidInputError: it is not 1 to 63 lowercase letters, digits and hyphens starting and ending with a
            letter or digit (field ``"slug"``).
    """
    if not _ORGANIZATION_SLUG.fullmatch(slug):
        raise InvalidInputError(
            N_(
                "Use 1 to 63 lowercase letters, digits and hyphens for the organization's short name, starting and "
                "ending with a letter or digit, like acme-corp."
            ),
            field="slug",
        )
    return slug
