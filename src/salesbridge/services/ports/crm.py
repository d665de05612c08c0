"""The CRM session a service opens: what preflight, connecting and importing need from Dynamics."""

from __future__ import annotations

from collections.abc import Callable
from typing import Protocol

from salesbridge.crm.ports import (
    ActivityWriter,
    CrmAppInstaller,
    CrmIdentity,
    CrmMetadata,
    CrmReader,
    RequestUsage,
)
from salesbridge.domain.clock import Clock as Clock
from salesbridge.domain.workspace import (
    CrmCredentials,
)

# ------------------------------------------------------------------------------------------------------- the CRM


class PreflightCrm(CrmIdentity, CrmMetadata, Protocol):
    """The CRM calls the connect pre-flight makes: identity, privileges and metadata."""


class CrmSession(Protocol):
    """An open connection to one CRM organization; nothing is sent before the first call."""

    @property
    def metadata(self) -> PreflightCrm:
        """Identity, privileges and metadata of the organization."""
        ...

    @property
    def reader(self) -> CrmReader:
        """Reads records of the organization."""
        ...

    async def close(self) -> None:
        """Release the connection's resources. Idempotent."""
        ...

    def usage(self) -> RequestUsage:
        """The requests sent and the 429s met since the session was built. Reads a counter; sends nothing."""
        ...


CrmSessionFactory = Callable[[CrmCredentials], CrmSession]
"""Builds a session for the given credentials (the Dynamics connector in production)."""


class CrmAppSession(CrmSession, Protocol):
    """A session that can also install the CRM-side app."""

    @property
    def app(self) -> CrmAppInstaller:
        """Reads and creates the app's definitions."""
        ...


CrmAppSessionFactory = Callable[[CrmCredentials], CrmAppSession]
"""Builds a session able to install the CRM-side app (the Dynamics connector in production)."""


class WritebackSession(CrmSession, Protocol):
    """A session that can also write activities back (the drainer's)."""

    @property
    def activities(self) -> ActivityWriter:
        """Writes activities as their sellers."""
        ...

    @property
    def app(self) -> CrmAppInstaller:
        """Reads the app's definitions (the drain asks whether the app is whole again after a write found its
        tables gone)."""
        ...


WritebackSessionFactory = Callable[[CrmCredentials], WritebackSession]
"""Builds a session able to write activities back (the Dynamics connector in production)."""
