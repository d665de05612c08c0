"""The one organization lookup by slug that use cases start with."""

from __future__ import annotations

import uuid

import pytest

from salesbridge.errors import UnknownOrganizationError
from salesbridge.services.organizations import require_organization


class Organizations:
    """Organization ids by slug (the store's organization lookup, in memory)."""

    def __init__(self, **ids: uuid.UUID) -> None:
        self._ids = ids

    def organization_id(self, slug: str) -> uuid.UUID | None:
        return self._ids.get(slug)


def test_the_id_of_a_known_slug() -> None:
    acme = uuid.uuid4()
    assert require_organization(Organizations(acme=acme, globex=uuid.uuid4()), "acme") == acme


def test_an_unknown_slug_is_refused_by_name() -> None:
    with pytest.raises(UnknownOrganizationError, match="No organization is called 'initech'"):
        require_organization(Organizations(acme=uuid.uuid4()), "initech")
