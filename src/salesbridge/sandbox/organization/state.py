"""The state every part of the engine shares: catalogue, storage, security, clock and settings."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from salesbridge.sandbox.catalogue.registry import Catalogue
from salesbridge.sandbox.organization.database import Storage
from salesbridge.sandbox.organization.saved_definitions import DefinitionBaseline
from salesbridge.sandbox.organization.security import Security


def system_clock() -> datetime:
    """The current UTC time."""
    return datetime.now(UTC)


@dataclass
class SandboxConfig:
    """Behaviour settings of one sandbox instance."""

    change_tracking_expiry_days: int = 7
    max_page_size: int = 5000
    max_batch_operations: int = 1000
    organization_id: str = "7a0e3b6c-4d1f-4e2a-9b8c-5d6e7f809a1b"
    base_currency_id: str = "e1c8f2a0-3b4d-4c5e-8f6a-7b8c9d0e1f2a"
    organization_name: str = "Contoso Sandbox"
    dop_hint: int = 4


@dataclass
class SandboxState:
    """Shared engine state. ``clock_offset`` shifts the clock (fault injection: expire delta tokens).

    ``definition_baseline`` is the catalogue as the sandbox started, before any definitions kept in the database
    were laid over it (the metadata API keeps what differs from it); by default the catalogue given.
    """

    catalogue: Catalogue
    storage: Storage
    security: Security
    config: SandboxConfig = field(default_factory=SandboxConfig)
    clock: Callable[[], datetime] = system_clock
    clock_offset: timedelta = timedelta(0)
    definition_baseline: DefinitionBaseline | None = None

    def __post_init__(self) -> None:
        if self.definition_baseline is None:
            self.definition_baseline = DefinitionBaseline.of(self.catalogue)

    def now(self) -> datetime:
        """The sandbox's current time (UTC, with any injected shift)."""
        return self.clock() + self.clock_offset
