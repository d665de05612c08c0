"""Dataverse's service-protection budget as arithmetic: what a request costs and when the next one may start.

Dataverse counts, per application user and organization, the requests that started and the execution time of the
ones that finished over a sliding 5-minute window (6,000 requests, 1,200 s), and refuses a request with 429 while
either count is at its limit; it also caps concurrent requests at 52, and advises ``x-ms-dop-hint`` in flight.
:class:`BudgetWindow` keeps the same counts on our side, so that every client of one key (one organization's URL
and one application user), in one process or in many, together stays under the limit instead of finding it with
429s. It is pure: no clock, no sleep, no I/O; the time is passed in (seconds, any origin, as long as one window is
always given one clock) and the state round-trips through :meth:`BudgetWindow.to_state` for a shared store.

The window is a ring of buckets of :attr:`BudgetLimits.bucket_s` seconds. A request is charged to the bucket of the
moment it was granted and stays counted until that bucket leaves the ring, which is at least
``window_s + margin_s`` later: more than Dataverse's own memory of it, so the count on our side never forgets a
request before the server does (the margin covers the delay between a grant and the request reaching the server,
and the clocks of different machines). Execution time is charged when it is reported, which is after the request
ended, so it too is remembered at least as long as the server remembers it.

Grants come in leases: a holder (one client) asks for up to ``want`` requests at once and uses them within
:attr:`BudgetLimits.lease_s`; what it did not use is given back when it settles (with the execution time it
measured). A holder alone in-process asks for one at a time; holders sharing a database ask for slices, so the
database is asked once per slice rather than once per request.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

DATAVERSE_REQUESTS_PER_WINDOW = 6000
DATAVERSE_EXECUTION_S_PER_WINDOW = 1200.0
DATAVERSE_WINDOW_S = 300.0
DATAVERSE_MAX_CONCURRENCY = 52
"""Dataverse's concurrent-request limit per user and web server (api-limits.md)."""


@dataclass(frozen=True)
class BudgetKey:
    """Whose budget: Dataverse limits each application user (client id) on each organization (its URL).

    Build with :meth:`of`, which normalises both parts so that one organization written two ways is one key.
    """

    org_url: str
    client_id: str

    @classmethod
    def of(cls, org_url: str, client_id: str) -> BudgetKey:
        """The key of ``client_id`` on the organization at ``org_url`` (case and a trailing slash ignored)."""
        return cls(org_url=org_url.strip().rstrip("/").lower(), client_id=client_id.strip().lower())


@dataclass(frozen=True)
class BudgetLimits:
    """The limits one key is held to, and how the window is kept.

    Attributes:
        requests_per_window: Requests started per window (Dataverse: 6,000).
        execution_s_per_window: Seconds of execution per window (Dataverse: 1,200).
        window_s: The sliding window (Dataverse: 300 s).
        max_concurrency: Requests in flight for the key, all holders together (Dataverse: 52); ``x-ms-dop-hint``
            lowers it.
        headroom: The fraction of the two window limits actually granted; the rest absorbs what other software
            using the same application user sends, and execution time reported late.
        bucket_s: Width of a bucket of the ring: finer is closer to a true sliding window (at most one bucket's
            worth of throughput is lost), coarser is a smaller state.
        margin_s: Extra time a charge stays counted beyond ``window_s``; at least :attr:`lease_s` plus the clock
            difference between machines.
        lease_s: How long a holder may keep using a lease before it must ask again (also how late a pause asked
            by another holder may be noticed).
        holder_ttl_s: A holder that has not leased for this long no longer counts when concurrency is shared.
    """

    requests_per_window: int = DATAVERSE_REQUESTS_PER_WINDOW
    execution_s_per_window: float = DATAVERSE_EXECUTION_S_PER_WINDOW
    window_s: float = DATAVERSE_WINDOW_S
    max_concurrency: int = DATAVERSE_MAX_CONCURRENCY
    headroom: float = 0.95
    bucket_s: float = 10.0
    margin_s: float = 5.0
    lease_s: float = 2.0
    holder_ttl_s: float = 60.0

    def __post_init__(self) -> None:
        if self.requests_per_window < 1 or self.execution_s_per_window <= 0 or self.window_s <= 0:
            raise ValueError("Budget limits must be positive.")
        if not 0 < self.headroom <= 1:
            raise ValueError("The headroom is a fraction in (0, 1].")
        if self.bucket_s <= 0 or self.lease_s <= 0 or self.margin_s < self.lease_s:
            raise ValueError("Buckets and leases must be positive, and the margin at least one lease long.")

    @property
    def granted_requests(self) -> int:
        """Requests granted per window: the limit less the headroom, at least 1."""
        return max(1, math.floor(self.requests_per_window * self.headroom))

    @property
    def granted_execution_s(self) -> float:
        """Execution seconds allowed per window before grants stop: the limit less the headroom."""
        return self.execution_s_per_window * self.headroom

    @property
    def span(self) -> int:
        """Buckets kept: a charge stays counted at least ``window_s + margin_s``."""
        return math.ceil((self.window_s + self.margin_s) / self.bucket_s) + 1


@dataclass(frozen=True)
class Settlement:
    """What a holder reports about its previous lease.

    Attributes:
        bucket: :attr:`LeaseGrant.bucket` of that lease.
        unused: Requests of it never sent (given back).
        execution_s: Seconds of execution measured since the holder last settled (response times, which include
            the server's execution time).
    """

    bucket: int
    unused: int = 0
    execution_s: float = 0.0


@dataclass(frozen=True)
class LeaseAsk:
    """One holder's call on the window.

    Attributes:
        holder: Who asks (one client); its share of the concurrency is computed among the holders seen lately.
        want: Requests wanted now (0: only settle, pause or report).
        settlement: The previous lease, if any.
        pause_s: The server answered 429 with ``Retry-After`` of this many seconds: no holder of the key may start
            a request before then.
        dop_hint: The server's latest ``x-ms-dop-hint``.
        leaving: The holder is done (its client closed): it no longer counts when concurrency is shared.
    """

    holder: str
    want: int = 1
    settlement: Settlement | None = None
    pause_s: float = 0.0
    dop_hint: int | None = None
    leaving: bool = False


@dataclass(frozen=True)
class LeaseGrant:
    """The answer to a :class:`LeaseAsk`.

    Attributes:
        granted: Requests the holder may start, within :attr:`BudgetLimits.lease_s`; 0 when it must wait.
        bucket: Where they were charged (settle with it).
        wait_s: When nothing was granted, seconds until asking again may succeed (a pause ends, a bucket leaves
            the window); 0 otherwise.
        concurrency: Requests this holder may have in flight: ``min(dop hint, max_concurrency)`` split evenly
            among the holders seen within :attr:`BudgetLimits.holder_ttl_s` (at least 1).
        sharers: How many holders it is split among (a holder that learns a newer hint divides it by this).
    """

    granted: int
    bucket: int
    wait_s: float
    concurrency: int
    sharers: int = 1


@dataclass
class BudgetWindow:
    """The counters of one key: a ring of buckets, a pause, the concurrency cap and the holders sharing it.

    Not thread-safe: the caller serialises calls (a lock in-process, a row lock in a database).
    """

    limits: BudgetLimits
    first_bucket: int = 0
    requests: list[int] = field(default_factory=list)
    execution_s: list[float] = field(default_factory=list)
    paused_until: float = 0.0
    concurrency_cap: int | None = None
    holders: dict[str, float] = field(default_factory=dict)

    def lease(self, now: float, ask: LeaseAsk) -> LeaseGrant:
        """Settle, pause and report as ``ask`` says, then grant up to ``ask.want`` requests if the window allows.

        A grant never takes the requests in the window above :attr:`BudgetLimits.granted_requests`, and nothing is
        granted while the execution time in the window is at :attr:`BudgetLimits.granted_execution_s` or above (the
        server's rule too: a request is refused only once the time is spent) or while a pause lasts. When others
        hold leases too, one grant takes at most an even share of what is left, so one holder cannot take it all.
        """
        current = self._advance(now)
        if ask.settlement is not None:
            self._settle(current, ask.settlement)
        if ask.pause_s > 0:
            self.paused_until = max(self.paused_until, now + ask.pause_s)
        if ask.dop_hint is not None and ask.dop_hint > 0:
            self.concurrency_cap = ask.dop_hint
        self.holders = {holder: seen for holder, seen in self.holders.items() if seen > now - self.limits.holder_ttl_s}
        if ask.leaving:
            self.holders.pop(ask.holder, None)
        elif ask.want > 0:
            self.holders[ask.holder] = now
        if ask.want <= 0:
            return self._answer(current, granted=0, wait_s=0.0)
        if now < self.paused_until:
            return self._answer(current, granted=0, wait_s=self.paused_until - now)
        available = self.limits.granted_requests - sum(self.requests)
        if available <= 0:
            return self._answer(current, granted=0, wait_s=self._wait_for(self.requests, now))
        if sum(self.execution_s) >= self.limits.granted_execution_s:
            return self._answer(current, granted=0, wait_s=self._wait_for(self.execution_s, now))
        granted = min(ask.want, available, max(1, math.ceil(available / len(self.holders))))
        self.requests[-1] += granted
        return self._answer(current, granted=granted, wait_s=0.0)

    def requests_in_window(self, now: float) -> int:
        """Requests counted at ``now`` (granted and not given back)."""
        self._advance(now)
        return sum(self.requests)

    def execution_in_window(self, now: float) -> float:
        """Execution seconds counted at ``now``."""
        self._advance(now)
        return sum(self.execution_s)

    def to_state(self) -> dict[str, Any]:
        """The counters as plain JSON values (for a database row)."""
        return {
            "first_bucket": self.first_bucket,
            "requests": list(self.requests),
            "execution_s": list(self.execution_s),
            "paused_until": self.paused_until,
            "concurrency_cap": self.concurrency_cap,
            "holders": dict(self.holders),
        }

    @classmethod
    def from_state(cls, state: dict[str, Any], limits: BudgetLimits) -> BudgetWindow:
        """The window :meth:`to_state` wrote; an empty or unreadable state is an empty window (counters are a
        safeguard, and a fresh window only forgets what the next 429 would teach again)."""
        try:
            requests = [int(count) for count in state.get("requests", [])]
            execution = [float(seconds) for seconds in state.get("execution_s", [])]
            if len(requests) != len(execution):
                raise ValueError("ragged ring")
            cap = state.get("concurrency_cap")
            return cls(
                limits=limits,
                first_bucket=int(state.get("first_bucket", 0)),
                requests=requests,
                execution_s=execution,
                paused_until=float(state.get("paused_until", 0.0)),
                concurrency_cap=int(cap) if cap is not None else None,
                holders={str(holder): float(seen) for holder, seen in dict(state.get("holders", {})).items()},
            )
        except (TypeError, ValueError, AttributeError):
            return cls(limits=limits)

    def _advance(self, now: float) -> int:
        """Drop the buckets that left the window and open up to the current one; returns the current bucket."""
        current = math.floor(now / self.limits.bucket_s)
        span = self.limits.span
        oldest = current - span + 1
        if not self.requests or oldest > self.first_bucket + len(self.requests) - 1:
            self.first_bucket, self.requests, self.execution_s = current, [0], [0.0]
            return current
        if current < self.first_bucket + len(self.requests) - 1:
            # A clock that went back (another machine's): charge to the newest bucket there is.
            return self.first_bucket + len(self.requests) - 1
        drop = max(0, oldest - self.first_bucket)
        if drop:
            del self.requests[:drop]
            del self.execution_s[:drop]
            self.first_bucket += drop
        missing = current - (self.first_bucket + len(self.requests) - 1)
        self.requests.extend([0] * missing)
        self.execution_s.extend([0.0] * missing)
        return current

    def _settle(self, current: int, settlement: Settlement) -> None:
        index = settlement.bucket - self.first_bucket
        if settlement.unused > 0 and 0 <= index < len(self.requests):
            self.requests[index] = max(0, self.requests[index] - settlement.unused)
        if settlement.execution_s > 0:
            self.execution_s[current - self.first_bucket] += settlement.execution_s

    def _wait_for(self, counts: list[int] | list[float], now: float) -> float:
        """Seconds until the oldest bucket holding something leaves the ring (something is then freed)."""
        for offset, count in enumerate(counts):
            if count > 0:
                leaves_at = (self.first_bucket + offset + self.limits.span) * self.limits.bucket_s
                return max(leaves_at - now, 0.0) or self.limits.bucket_s
        return self.limits.bucket_s

    def _answer(self, bucket: int, *, granted: int, wait_s: float) -> LeaseGrant:
        cap = min(self.concurrency_cap or self.limits.max_concurrency, self.limits.max_concurrency)
        sharers = max(1, len(self.holders))
        return LeaseGrant(
            granted=granted, bucket=bucket, wait_s=wait_s, concurrency=max(1, cap // sharers), sharers=sharers
        )
