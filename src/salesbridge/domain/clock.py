"""The one clock type: what every layer that stamps or compares times is given (and tests replace)."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime

Clock = Callable[[], datetime]
"""Returns the current time, timezone-aware UTC."""
