"""Identifiers first (issue 13, section 2): e-mail, registrable domain, profile URL and phone normalisation.

Every function is pure and offline and returns ``None`` when its input cannot identify anything (blank, masked,
malformed, an IP address, a free-mail domain where a company is asked for). Two records whose normalised identifier
is equal are the same identifier; ``None`` never equals anything.
"""

from __future__ import annotations

import ipaddress
import re
import unicodedata
from functools import cache
from urllib.parse import unquote, urlsplit

import phonenumbers
import tldextract

# Bundled, not fetched: the providers whose addresses belong to a person, never to a company. A company is never
# identified by one of these domains (a CRM account with website gmail.com is not "Gmail").
FREE_MAIL_DOMAINS: frozenset[str] = frozenset(
    {
        "gmail.com", "googlemail.com", "outlook.com", "outlook.es", "hotmail.com", "hotmail.co.uk", "hotmail.es",
        "hotmail.fr", "hotmail.de", "hotmail.it", "live.com", "live.co.uk", "live.fr", "msn.com", "passport.com",
        "yahoo.com", "yahoo.co.uk", "yahoo.es", "yahoo.fr", "yahoo.de", "yahoo.it", "yahoo.com.au", "yahoo.co.in",
        "ymail.com", "rocketmail.com", "aol.com", "aim.com", "icloud.com", "me.com", "mac.com", "proton.me",
        "protonmail.com", "pm.me", "gmx.com", "gmx.de", "gmx.net", "gmx.es", "web.de", "mail.com", "zoho.com",
        "yandex.com", "yandex.ru", "mail.ru", "inbox.ru", "bk.ru", "list.ru", "qq.com", "163.com", "126.com",
        "sina.com", "naver.com", "daum.net", "fastmail.com", "hey.com", "tutanota.com", "tuta.io", "orange.fr",
        "wanadoo.fr", "free.fr", "laposte.net", "libero.it", "virgilio.it", "t-online.de", "btinternet.com",
        "sky.com", "comcast.net", "verizon.net", "att.net", "sbcglobal.net", "telefonica.net", "movistar.es",
        "terra.es", "uol.com.br", "bol.com.br", "rediffmail.com", "seznam.cz", "wp.pl", "o2.pl", "interia.pl",
    }
)  # fmt: skip

# Providers whose documented rule makes a "+tag" part of the local name irrelevant (Gmail, Outlook.com, iCloud,
# Proton, Fastmail all deliver "name+tag@" to "name@"). Elsewhere the tag is kept: a company server may route it.
_PLUS_TAG_DOMAINS = frozenset(
    {
        "gmail.com", "googlemail.com", "outlook.com", "hotmail.com", "live.com", "msn.com", "icloud.com", "me.com",
        "mac.com", "proton.me", "protonmail.com", "pm.me", "fastmail.com",
    }
)  # fmt: skip
# Only Gmail ignores dots in the local part ("j.smith" and "jsmith" are one mailbox); googlemail.com is its alias.
_DOTLESS_DOMAINS = frozenset({"gmail.com", "googlemail.com"})
_DOMAIN_ALIASES = {"googlemail.com": "gmail.com"}

# A deliberately plain shape: one "@", a local part of visible ASCII without masking characters, a dotted domain.
_LOCAL_PART = re.compile(r"^[a-z0-9!#$%&'+/=?^_`{|}~.-]+$")
_DOMAIN = re.compile(r"^(?=.{1,253}$)([a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?\.)+[a-z]{2,63}$")
_MASKS = ("*", "\u2022", "\u2026", "...")

_LINKEDIN_KINDS = frozenset({"in", "company", "school", "showcase"})


@cache
def _extractor() -> tldextract.TLDExtract:
    """The Public Suffix List snapshot bundled in the tldextract wheel: no download (empty URLs), no cache files."""
    return tldextract.TLDExtract(suffix_list_urls=(), cache_dir=None)


def is_free_mail(domain: str) -> bool:
    """Whether ``domain`` (or the registrable domain it belongs to) is a bundled free-mail provider's."""
    host = domain.strip().lower().rstrip(".")
    if host in FREE_MAIL_DOMAINS:
        return True
    registrable = _registrable_host(host)
    return registrable is not None and registrable in FREE_MAIL_DOMAINS


def normalize_email(value: str) -> str | None:
    """The comparable form of an e-mail address, or ``None`` if it is not a usable one.

    Trimmed, ``mailto:`` and angle brackets removed, lower-cased (local parts are case-insensitive at every provider
    in practice). For the free-mail providers listed in ``_PLUS_TAG_DOMAINS`` a ``+tag`` is dropped; for Gmail (and
    its alias googlemail.com, folded into gmail.com) dots in the local part are dropped too. Company domains keep
    their local part as written. Masked addresses ("j***@contoso.com") and malformed ones give ``None``.
    """
    text = value.strip().strip("<>").strip()
    if text.lower().startswith("mailto:"):
        text = text[len("mailto:") :].split("?", 1)[0]
    text = unquote(text).strip().lower()
    if any(mask in text for mask in _MASKS) or text.count("@") != 1:
        return None
    local, domain = text.split("@")
    domain = domain.rstrip(".")
    if not local or not _LOCAL_PART.match(local) or not _DOMAIN.match(domain):
        return None
    if local.startswith(".") or local.endswith(".") or ".." in local:
        return None
    domain = _DOMAIN_ALIASES.get(domain, domain)
    if domain in _PLUS_TAG_DOMAINS:
        local = local.split("+", 1)[0]
    if domain in _DOTLESS_DOMAINS:
        local = local.replace(".", "")
    if not local:
        return None
    return f"{local}@{domain}"


def _host_of(value: str) -> str | None:
    """The host name in a website, a bare host, an e-mail address or a ``mailto:`` link, lower-cased."""
    text = value.strip()
    if not text:
        return None
    if text.lower().startswith("mailto:") or ("@" in text and "://" not in text and "/" not in text.split("@")[0]):
        email = normalize_email(text)
        return email.split("@")[1] if email else None
    if "://" not in text:
        text = "//" + text
    try:
        host = urlsplit(text).hostname
    except ValueError:  # an unbalanced "[" (IPv6 literal) or a bad port
        return None
    return host.rstrip(".") if host else None


def _registrable_host(host: str) -> str | None:
    try:
        ipaddress.ip_address(host)
    except ValueError:
        pass
    else:
        return None
    parts = _extractor()(host)
    if not parts.domain or not parts.suffix:
        return None
    return f"{parts.domain}.{parts.suffix}"


def registrable_domain(value: str) -> str | None:
    """The registrable domain (public-suffix aware) of a website, host, e-mail address or ``mailto:`` link.

    "https://www.shop.contoso.co.uk/x" → "contoso.co.uk"; "contoso.com.au" → "contoso.com.au"; "j@mail.contoso.com"
    → "contoso.com". ``None`` for IP addresses, single labels ("localhost"), unknown suffixes and blanks. Free-mail
    domains are returned as they are (they identify a mailbox's provider); ask ``company_domain`` for a company's.
    """
    host = _host_of(value)
    return _registrable_host(host) if host else None


def company_domain(value: str) -> str | None:
    """``registrable_domain(value)``, or ``None`` for a free-mail provider's (it never identifies a company)."""
    domain = registrable_domain(value)
    if domain is None or domain in FREE_MAIL_DOMAINS:
        return None
    return domain


def normalize_profile_url(value: str) -> str | None:
    """The canonical key of a LinkedIn profile or company page URL, or ``None`` if the value is not one.

    Scheme, ``www``/country/mobile subdomains (uk.linkedin.com, m.linkedin.com), case, percent-encoding, trailing
    slash, query, fragment and sub-pages ("/details/experience") do not matter:
    "HTTPS://UK.LinkedIn.com/in/John-Smith-1a2b/?trk=x#top" → "linkedin.com/in/john-smith-1a2b". The kinds kept are
    ``in`` (people), ``company``, ``school`` and ``showcase``. Short links (lnkd.in) cannot be resolved offline:
    ``None``.
    """
    text = value.strip()
    if not text:
        return None
    if "://" not in text:
        text = "//" + text
    try:
        parts = urlsplit(text)
    except ValueError:
        return None
    host = (parts.hostname or "").rstrip(".")
    if host != "linkedin.com" and not host.endswith(".linkedin.com"):
        return None
    segments = [unquote(segment) for segment in parts.path.split("/") if segment]
    if len(segments) < 2 or segments[0].lower() not in _LINKEDIN_KINDS:
        return None
    slug = unicodedata.normalize("NFC", segments[1]).strip().lower()
    if not slug or any(ch.isspace() for ch in slug):
        return None
    return f"linkedin.com/{segments[0].lower()}/{slug}"


def normalize_phone(value: str, default_region: str | None) -> str | None:
    """``value`` in E.164 ("+442079460958"), or ``None`` if it is not a valid number.

    A national number is read in ``default_region`` (ISO 3166 alpha-2, the organization's country); a number written
    with "+" or "00" ignores it. The UK's "(0)" trunk prefix after the country code is understood. An extension
    ("ext. 204", "x204") is not part of E.164 and is dropped: a switchboard reached at different extensions is one
    number.
    """
    text = value.strip()
    if not text:
        return None
    if text.startswith("00"):
        text = "+" + text[2:]
    region = default_region.upper() if default_region else None
    try:
        number = phonenumbers.parse(text, region)
    except phonenumbers.NumberParseException:
        return None
    if not phonenumbers.is_valid_number(number):
        return None
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)
