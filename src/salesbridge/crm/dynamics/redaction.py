"""Scrubbing URLs and texts before they reach an error message or a log record.

Query strings of Dataverse URLs carry filters (names, e-mail addresses) and opaque paging or change tokens;
identity URLs can carry secrets. Only a short allow-list of harmless query options keeps its value.
"""

from __future__ import annotations

import re
from urllib.parse import parse_qsl, quote, urlsplit, urlunsplit

REDACTED = "***"

_HARMLESS_QUERY_OPTIONS = frozenset({"$select", "$top", "$orderby", "$count", "api-version"})

_SECRET_PATTERNS = (
    # A bearer token in a header echoed back by a proxy or a server.
    re.compile(r"(?i)(bearer\s+)[A-Za-z0-9\-._~+/]+=*"),
    # JSON Web Tokens anywhere in the text (three base64url segments, the first starting with '{"').
    re.compile(r"eyJ[A-Za-z0-9_\-]+\.[A-Za-z0-9_\-]+\.[A-Za-z0-9_\-]*"),
    # key=value pairs whose key says it is secret (query strings, form bodies, connection strings).
    re.compile(
        r"(?i)((?<![A-Za-z])(?:client_secret|access_token|refresh_token|id_token|password|passphrase|sig|signature|"
        r"client_assertion|code|secret|apikey|api_key)[\"']?\s*[=:]\s*[\"']?)([^&\s,;\"']+)"
    ),
)


def redact_url(url: str) -> str:
    """The URL without user info, fragment, or the values of query options outside a harmless allow-list.

    ``https://u:p@org.crm.dynamics.com/api/data/v9.2/contacts?$select=fullname&$filter=emailaddress1 eq 'a@b.c'``
    becomes ``https://org.crm.dynamics.com/api/data/v9.2/contacts?$select=fullname&$filter=***``. Pure.
    """
    try:
        parts = urlsplit(url)
    except ValueError:
        return REDACTED
    netloc = parts.hostname or ""
    if parts.port is not None:
        netloc = f"{netloc}:{parts.port}"
    query = "&".join(
        f"{name}={value if name in _HARMLESS_QUERY_OPTIONS else REDACTED}"
        for name, value in parse_qsl(parts.query, keep_blank_values=True)
    )
    return urlunsplit((parts.scheme, netloc, quote(parts.path, safe="/()$'=,@:;"), query, ""))


_URL = re.compile(r"https?://[^\s\"<>]+")


def redact_text(text: str) -> str:
    """``text`` with URLs passed through :func:`redact_url`, and bearer tokens, JWTs and ``secret=value`` pairs
    masked. Pure."""
    text = _URL.sub(lambda match: redact_url(match.group(0)), text)
    for pattern in _SECRET_PATTERNS:
        if pattern.groups >= 1:
            text = pattern.sub(lambda match: f"{match.group(1)}{REDACTED}", text)
        else:
            text = pattern.sub(REDACTED, text)
    return text
