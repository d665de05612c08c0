"""Every page of the console, for the walks that visit them all (tests/e2e/test_accessibility.py: axe-core in
English and Spanish, desktop and phone, a screenshot of each).

ADD YOUR PAGE HERE when you add one to the console: one ``ConsolePage`` line in :data:`CONSOLE_PAGES`. A page is
visited in the demo workspace (``synced_console``: the demo sandbox imported once) by the user who sees it:

- ``"admin"``: the demo's administrator; ``"seller"``: the demo's seller (a seat with CRM sync on);
  ``"anonymous"``: nobody signed in (``?lang=`` picks the language).
- ``path``: the page's path with its query; for a detail page whose id the demo decides, the path of a page that
  links to it plus ``follow``, CSS selectors of the links to take: the walk opens ``path`` and follows the first
  link matching each selector in turn (so ids never need hard-coding).
- ``name``: the artifacts' base name (``test-artifacts/screenshots/<name>-<lang>-<size>.png`` and
  ``test-artifacts/axe/<name>-<lang>-<size>.json``): lowercase words joined by ``-``, unique.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

Who = Literal["admin", "seller", "anonymous"]


@dataclass(frozen=True)
class ConsolePage:
    """A console page the walk visits: ``name`` (artifacts), ``path``, who sees it, and ``follow`` (CSS selectors
    of the links that lead from ``path`` to the page meant, for detail pages)."""

    name: str
    path: str
    who: Who
    follow: tuple[str, ...] = ()


CONSOLE_PAGES: tuple[ConsolePage, ...] = (
    # Anyone
    ConsolePage("sign-in", "/sign-in", "anonymous"),
    # The seller
    ConsolePage("home", "/", "seller"),
    ConsolePage("people", "/people", "seller"),
    ConsolePage("person", "/people", "seller", follow=("[data-testid=person-link]",)),
    ConsolePage("companies", "/companies", "seller"),
    ConsolePage("company", "/companies", "seller", follow=("[data-testid=company-link]",)),
    ConsolePage("lists", "/lists?find=co", "seller"),
    ConsolePage("list-table", "/lists", "seller", follow=("[data-testid=list-open]",)),
    ConsolePage("account", "/account", "seller"),
    # The administrator
    ConsolePage("admin-home", "/", "admin"),
    ConsolePage("seats", "/seats", "admin"),
    ConsolePage("seats-assign", "/seats/assign-from-crm", "admin"),
    ConsolePage("crm-settings", "/settings/crm", "admin"),
    ConsolePage("sync-health", "/settings/crm/health", "admin"),
    ConsolePage("crm-disconnect", "/settings/crm/disconnect?purge=yes", "admin"),
    ConsolePage("writeback", "/admin/writeback", "admin"),
    ConsolePage("matching", "/admin/matching", "admin"),
    ConsolePage("matching-review", "/admin/matching/review", "admin"),
    ConsolePage(
        "match-edit", "/people?badge=in_crm", "admin", follow=("[data-testid=person-link]", "[data-testid=edit-match]")
    ),
    ConsolePage("uploads", "/admin/uploads", "admin"),
    ConsolePage("audit", "/admin/audit", "admin"),
    ConsolePage("reports", "/admin/reports", "admin"),
    ConsolePage("jobs", "/admin/jobs", "admin"),
    ConsolePage("admin-account", "/account", "admin"),
)
"""Every console page, in the order the walk visits them."""
