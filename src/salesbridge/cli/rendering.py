"""How the command line shows things: the console, failures, and the one path from an error to a message and an
exit code."""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from typing import Protocol, runtime_checkable

import typer
from rich.console import Console
from rich.table import Table
from rich.text import Text

from salesbridge.errors import InvalidInputError, SalesbridgeError

console = Console()
"""Where every command prints (stdout, resolved at print time so that test runners can capture it)."""

EXIT_FAILURE = 1
"""The exit code of a command that failed for any reason but bad usage (which is 2, Typer's)."""


@runtime_checkable
class _Localizable(Protocol):
    def localized(self, locale: str) -> str: ...


def error_message(error: SalesbridgeError, locale: str = "en") -> str:
    """What to tell the user about ``error``: its message in ``locale`` when the error carries a translatable one,
    else its English message."""
    return error.localized(locale) if isinstance(error, _Localizable) else str(error)


def failure(message: str, *, out: Console | None = None, code: int = EXIT_FAILURE) -> typer.Exit:
    """Print ``message`` as a failure (bold red, taken literally: no markup) and return the exit to raise."""
    (out or console).print(Text(message, style="bold red"))
    return typer.Exit(code)


def error_exit(error: SalesbridgeError, locale: str = "en", *, out: Console | None = None) -> typer.Exit:
    """Print ``error`` (as :func:`error_message`) and return the exit to raise: 1, or Typer's usage error (2, naming
    the option) when the error is about a value the caller gave.

    Raises:
        typer.BadParameter: ``error`` is an :class:`InvalidInputError` (Typer prints it and exits with 2).
    """
    if isinstance(error, InvalidInputError):
        raise typer.BadParameter(error_message(error, locale), param_hint=f"--{error.field.replace('_', '-')}")
    return failure(error_message(error, locale), out=out)


@contextmanager
def errors_reported(locale: str = "en", *, out: Console | None = None) -> Iterator[None]:
    """Turn a :class:`SalesbridgeError` raised in the block into its message and exit code (see
    :func:`error_exit`); every command runs its work inside one."""
    try:
        yield
    except SalesbridgeError as exc:
        raise error_exit(exc, locale, out=out) from None


def add_email_column(table: Table, header: str, emails: Iterable[str]) -> None:
    """Add a column for ``emails`` that never cuts one short: no wrapping, and at least as wide as the longest
    (other columns wrap first when the terminal is narrow)."""
    longest = max((len(email) for email in emails), default=0)
    table.add_column(header, no_wrap=True, min_width=max(longest, len(header)))
