"""Choosing and applying a seed: ``none``, ``demo`` or ``scale:N`` (the ``--seed`` option).

Both generators start from the organization foundation
(:func:`~salesbridge.sandbox.organization.foundation.build_foundation`) and are deterministic: the same ``seed``
and the same clock give the same rows, ids included. Each applied seed is remembered (:mod:`.ledger`); applying
the same seed again does nothing, which makes both generators idempotent on an existing database file. Only
columns the catalogue has are written; a table missing from the catalogue (connections, notes …) is skipped.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import Literal

from salesbridge.sandbox.organization.state import SandboxState
from salesbridge.sandbox.seeds.demo import seed_demo
from salesbridge.sandbox.seeds.ledger import SeedSummary
from salesbridge.sandbox.seeds.scale import seed_scale

#: Largest N accepted by ``scale:N`` (a guard against typos such as ``scale:1e12``).
MAX_SCALE_CONTACTS = 100_000_000

SeedKind = Literal["none", "demo", "scale"]


# --- public API ----------------------------------------------------------------------------------------


@dataclass(frozen=True)
class SeedSpec:
    """A parsed ``--seed`` value: ``none``, ``demo`` or ``scale`` with the number of contacts."""

    kind: SeedKind
    contacts: int = 0

    def __str__(self) -> str:
        return f"scale:{self.contacts}" if self.kind == "scale" else self.kind


def parse_seed(text: str) -> SeedSpec:
    """Parse a ``--seed`` value: ``demo``, ``none`` or ``scale:N`` (N ≥ 1, e.g. ``scale:1000000``, ``scale:1e6``).

    Case and surrounding blanks are ignored; N may use ``_`` separators or exponent notation as long as
    it is a whole number no larger than :data:`MAX_SCALE_CONTACTS`.

    Raises:
        ValueError: for anything else, with a message naming the accepted forms.
    """
    value = text.strip().lower()
    if value in ("demo", "none"):
        return SeedSpec(kind="demo" if value == "demo" else "none")
    usage = (
        "expected 'demo', 'none' or 'scale:N' with N a whole number of contacts ≥ 1 (e.g. scale:1000000 or scale:1e6)"
    )
    kind, colon, amount = value.partition(":")
    if kind != "scale" or not colon:
        raise ValueError(f"Unknown seed {text!r}: {usage}.")
    amount = amount.strip()
    try:
        number = int(amount)
    except ValueError:
        try:
            real = float(amount)
        except ValueError:
            raise ValueError(f"Invalid contact count in seed {text!r}: {usage}.") from None
        if not math.isfinite(real) or not real.is_integer():
            raise ValueError(f"Invalid contact count in seed {text!r}: {usage}.") from None
        number = int(real)
    if number < 1:
        raise ValueError(f"Invalid contact count in seed {text!r}: N must be at least 1 ({usage}).")
    if number > MAX_SCALE_CONTACTS:
        raise ValueError(f"Contact count in seed {text!r} is too large: at most {MAX_SCALE_CONTACTS:,}.")
    return SeedSpec(kind="scale", contacts=number)


def apply_seed(
    state: SandboxState, spec: SeedSpec, progress: Callable[[int], None] | None = None
) -> SeedSummary | None:
    """Apply a parsed seed; returns its summary, or None for ``none`` (which writes nothing).

    ``progress`` receives the cumulative number of rows written (for the CLI's progress bar).
    """
    if spec.kind == "demo":
        summary = seed_demo(state)
        if progress is not None:
            progress(summary.total_rows)
        return summary
    if spec.kind == "scale":
        return seed_scale(state, spec.contacts, progress=progress)
    return None
