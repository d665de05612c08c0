"""When a sign-in may be tried again: the throttling rules of failed sign-ins. Pure rules; no I/O.

Failures are counted against two *subjects*, each with a sliding window:

* the **account**, as typed (workspace and email, case-insensitive, whether or not they exist, so that the
  throttle reveals nothing about which accounts exist);
* the **client address** (an IPv4 address, or the /64 network of an IPv6 address, since one IPv6 client
  usually holds a whole /64).

Only failures count: successful sign-ins never add to either subject, so a whole office behind one address
signing in correctly is never slowed. The address subject stops everyone at that address only once the address
itself has failed :attr:`SignInThrottlePolicy.per_address` times within the window.

Subjects are SHA-256 digests: the store never keeps the emails or addresses typed by strangers.
"""

from __future__ import annotations

import hashlib
import ipaddress
import uuid
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime, timedelta

IPV6_PREFIX_LENGTH = 64
"""IPv6 clients are counted per /64 network: a single host is routinely given a whole /64."""


@dataclass(frozen=True)
class ThrottleRule:
    """At most ``limit`` failures within any ``window``; the next attempt waits until the oldest counted failure
    leaves the window.

    Raises:
        ValueError: ``limit`` is below 1 or ``window`` is not positive.
    """

    limit: int
    window: timedelta

    def __post_init__(self) -> None:
        if self.limit < 1 or self.window <= timedelta(0):
            raise ValueError("a throttle rule needs a limit of at least 1 and a positive window")

    def retry_at(self, failures: Iterable[datetime], now: datetime) -> datetime | None:
        """When another attempt may be made, given the subject's ``failures``; None when it may be made now.

        Failures older than the window (at or before ``now - window``) no longer count.
        """
        recent = sorted(moment for moment in failures if moment > now - self.window)
        if len(recent) < self.limit:
            return None
        # The attempt is allowed once all but limit - 1 of the counted failures have left the window.
        return recent[len(recent) - self.limit] + self.window


@dataclass(frozen=True)
class SignInThrottlePolicy:
    """The rules for both subjects (see the module docstring).

    The defaults: 5 failures per account per 15 minutes (a person who mistypes a few times is not stopped; a
    guesser gets 480 tries a day, against passwords that must resist 10^8 guesses), and 50 failures per address
    per 15 minutes (an office's typos stay far below it; a guesser spraying one password over many accounts from
    one address is stopped).
    """

    per_account: ThrottleRule = field(default_factory=lambda: ThrottleRule(5, timedelta(minutes=15)))
    per_address: ThrottleRule = field(default_factory=lambda: ThrottleRule(50, timedelta(minutes=15)))

    @property
    def longest_window(self) -> timedelta:
        """How long a failure may still count against some subject."""
        return max(self.per_account.window, self.per_address.window)


def account_subject(workspace: str, email: str) -> str:
    """The subject of the account ``email`` of ``workspace`` as typed (trimmed, case-insensitive)."""
    return _digest("account", f"{workspace.strip().lower()}\n{email.strip().lower()}")


def address_subject(address: str) -> str:
    """The subject of the client ``address``: an IPv4 address, the /64 of an IPv6 address (an IPv4-mapped IPv6
    address counts as its IPv4 address), or the text itself when it is not an IP address."""
    try:
        parsed = ipaddress.ip_address(address.strip())
    except ValueError:
        return _digest("address", address.strip().lower())
    if isinstance(parsed, ipaddress.IPv6Address):
        if parsed.ipv4_mapped is not None:
            return _digest("address", str(parsed.ipv4_mapped))
        network = ipaddress.IPv6Network((parsed, IPV6_PREFIX_LENGTH), strict=False)
        return _digest("address", str(network))
    return _digest("address", str(parsed))


def _digest(kind: str, value: str) -> str:
    return hashlib.sha256(f"{kind}\n{value}".encode()).hexdigest()


@dataclass(frozen=True)
class SignInAdmission:
    """Whether a sign-in attempt may go ahead.

    Attributes:
        attempt_id: The attempt, counted against the account as a failure until it is known to have succeeded;
            None when refused.
        retry_at: When to try again; None when admitted.
        locks_until: Admitted, and a failure of this attempt reaches the account's limit: until when the account
            is then locked (so that the lockout is audited once, by the attempt that causes it); else None.
    """

    attempt_id: uuid.UUID | None
    retry_at: datetime | None
    locks_until: datetime | None = None

    @property
    def admitted(self) -> bool:
        """True when the attempt may go ahead."""
        return self.retry_at is None
