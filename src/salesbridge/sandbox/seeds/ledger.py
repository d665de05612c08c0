"""Which seeds an organization has had: remembered in the sandbox's meta table under ``"seed"`` (a
comma-separated list such as ``demo:7,scale:1000:7``), and what applying one wrote."""

from __future__ import annotations

from dataclasses import dataclass, field

from salesbridge.sandbox.organization.state import SandboxState

#: Meta key under which the applied seeds are remembered.
SEED_META_KEY = "seed"


@dataclass(frozen=True)
class SeedSummary:
    """What a seed wrote: rows per table, wall time, and whether it had already been applied.

    ``counts`` holds only the rows this call inserted (foundation rows excluded); an already-applied seed
    reports ``already_seeded=True`` and no counts.
    """

    kind: str
    counts: dict[str, int] = field(default_factory=dict)
    elapsed_seconds: float = 0.0
    already_seeded: bool = False

    @property
    def total_rows(self) -> int:
        """Rows inserted over all tables."""
        return sum(self.counts.values())


def already_applied(state: SandboxState, token: str) -> bool:
    applied = state.storage.get_meta(SEED_META_KEY) or ""
    return token in applied.split(",")


def remember(state: SandboxState, token: str) -> None:
    applied = [t for t in (state.storage.get_meta(SEED_META_KEY) or "").split(",") if t]
    state.storage.set_meta(SEED_META_KEY, ",".join([*applied, token]))
