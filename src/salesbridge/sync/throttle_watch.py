"""Watching a CRM session for throttling: the one rule the import run and the writeback drain share, so that their
status says "Dynamics is throttling requests … tries again at …" while the session waits rather than after.

Each time Dynamics has throttled the session anew since the last look (429 with ``Retry-After``: one more in
:attr:`~salesbridge.crm.ports.RequestUsage.throttled`) and the session waits
(:attr:`~salesbridge.crm.ports.RequestUsage.paused_s` > 0), the wait ends at ``clock() + paused_s``: the watch
hands that time to its caller's note, which records it in the caller's own place (an import run, the
organization's drain).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Final

from salesbridge.crm.ports import RequestUsage
from salesbridge.domain.clock import Clock
from salesbridge.errors import StoreError

logger = logging.getLogger(__name__)

THROTTLE_WATCH_S: Final = 0.5
"""How often a watch looks at its session's counters for a new throttle (no request is sent)."""


class ThrottleWatch:
    """Looks at a session's counters (``usage``) for a new throttle and notes until when the session waits.

    ``note`` receives that time (timezone-aware UTC, from ``clock``); it does blocking store work, so it is called
    on a worker thread, never on the event loop. ``subject`` names what is watched in the log line written when
    ``note`` raises :class:`~salesbridge.errors.StoreError` (such as ``"import <run id>"``): the note only informs,
    so its failure is logged and the watch goes on.
    """

    def __init__(
        self,
        usage: Callable[[], RequestUsage],
        clock: Clock,
        note: Callable[[datetime], None],
        *,
        subject: str,
    ) -> None:
        self._usage = usage
        self._clock = clock
        self._note = note
        self._subject = subject
        self._seen = 0

    def sighted(self) -> datetime | None:
        """Until when the session waits, when Dynamics throttled it anew since the last sighting and it waits; else
        None. A throttle is sighted once (a throttle seen while the session no longer waits is sighted when it
        waits again). Pure but for ``usage`` and ``clock``; sends no request."""
        now = self._usage()
        if now.throttled <= self._seen or now.paused_s <= 0:
            return None
        self._seen = now.throttled
        return self._clock() + timedelta(seconds=now.paused_s)

    async def look(self) -> None:
        """Note the wait of a throttle sighted now (:meth:`sighted`), if any; never raises
        :class:`~salesbridge.errors.StoreError` (logged)."""
        until = self.sighted()
        if until is None:
            return
        try:
            await asyncio.to_thread(self._note, until)
        except StoreError as error:
            logger.warning("Could not record that Dynamics throttles %s: %s", self._subject, error)

    async def watch(self, every_s: float = THROTTLE_WATCH_S) -> None:
        """:meth:`look` every ``every_s`` seconds until cancelled."""
        while True:
            await asyncio.sleep(every_s)
            await self.look()
