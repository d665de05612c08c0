"""Finding the organization a use case is asked about, by its slug: the lookup every slug-taking use case starts
with, written once."""

from __future__ import annotations

import uuid

from salesbridge.domain.text_rules import has_refused_characters
from salesbridge.errors import UnknownOrganizationError
from salesbridge.services.ports import OrganizationFinder


def require_organization(organizations: OrganizationFinder, slug: str) -> uuid.UUID:
    """The id of the organization called ``slug``. Reads only.

    Raises:
        UnknownOrganizationError: no organization is called ``slug``.
    """
    # A slug with a control character names no organization (and PostgreSQL would refuse the query's NUL).
    organization_id = None if has_refused_characters(slug) else organizations.organization_id(slug)
    if organization_id is None:
        raise UnknownOrganizationError(
            f"No organization is called {slug!r}: create it with `salesbridge org create {slug}`."
        )
    return organization_id
