"""Activity writeback in the console (issue 14).

* The "Activity writeback" section of the CRM Settings page (template ``_writeback_settings.html``): where the
  CRM-side app stands in Dynamics (installed, outdated, not installed; what is missing; the privileges the
  application user lacks, by name) with "Get it now", which installs it. Its forms are saved by the routes in
  :mod:`salesbridge.web.ui.crm_settings`, which render the page with this section's context.

What the section reads from Dynamics is awaited at most ``ConsoleServices.crm_wait_s``, like the rest of the CRM
Settings page: then the section says it could not be read instead of holding the page.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from enum import StrEnum
from typing import Any, Final

from fastapi import Request

from salesbridge.domain.crm_app import AppState, MissingItem, MissingKind
from salesbridge.errors import CrmError, InvalidRequestError
from salesbridge.i18n import translate
from salesbridge.message_ids import N_
from salesbridge.services.accounts import Principal
from salesbridge.services.crm_app import CrmAppStatus, crm_app_status
from salesbridge.web.context import ConsoleServices


class AppProblem(StrEnum):
    """Why the CRM-side app's state could not be read."""

    NOT_CONNECTED = "not_connected"
    SLOW = "slow"
    FAILED = "failed"
    UNAVAILABLE = "unavailable"
    """This console was given no way to the app (``ConsoleServices.crm_app_sessions`` is None)."""


@dataclass(frozen=True)
class AppReading:
    """The CRM-side app's state as the page read it: ``status``, or the ``problem`` that kept it from reading."""

    status: CrmAppStatus | None
    problem: AppProblem | None = None

    @property
    def installed(self) -> bool:
        """The app is known to be installed (writeback may be enabled)."""
        return self.status is not None and self.status.state is AppState.INSTALLED


async def read_app_state(services: ConsoleServices, principal: Principal) -> AppReading:
    """Where the CRM-side app stands in the organization's Dynamics, waiting at most ``services.crm_wait_s``.
    Never raises for the CRM: a problem is returned instead."""
    if services.crm_app_sessions is None:
        return AppReading(None, AppProblem.UNAVAILABLE)
    try:
        async with asyncio.timeout(services.crm_wait_s):
            status = await crm_app_status(services.store, services.crm_app_sessions, slug=principal.organization_slug)
    except TimeoutError:
        return AppReading(None, AppProblem.SLOW)
    except CrmError:
        return AppReading(None, AppProblem.FAILED)
    except InvalidRequestError:  # not connected to a CRM
        return AppReading(None, AppProblem.NOT_CONNECTED)
    return AppReading(status)


_MISSING_TEXTS: Final[dict[MissingKind, str]] = {
    MissingKind.TABLE: N_("Table {table}"),
    MissingKind.COLUMN: N_("Column {name} of {table}"),
    MissingKind.KEY: N_("Alternate key {name} of {table}"),
    MissingKind.STANDARD_TABLE: N_("Standard table {table} (your Dynamics administrator must add it)"),
    MissingKind.ACTIVITIES: N_("Activities are not enabled on {table} (your Dynamics administrator must enable them)"),
    MissingKind.NOTES: N_("Notes are not enabled on {table} (your Dynamics administrator must enable them)"),
    MissingKind.KEY_NOT_ACTIVE: N_("Alternate key {name} of {table} is {state}, not Active yet"),
    MissingKind.NOT_AN_ACTIVITY: N_(
        "{table} exists but is not an activity table (your Dynamics administrator must rename or remove it)"
    ),
}


def missing_text(item: MissingItem, locale: str) -> str:
    """What the CRM lacks of the app, in words in ``locale``."""
    return translate(_MISSING_TEXTS[item.kind], locale).format(table=item.table, name=item.name, state=item.state)


_UNREACHABLE: Final = N_("This console cannot reach the salesbridge app: ask your salesbridge operator.")
_CRM_REFUSED: Final = N_("The app was not installed: Dynamics answered with an error ({error}). Try again later.")


def crm_app_error(error: CrmError | None, locale: str) -> str:
    """Why "Get it now" failed in the CRM (``error``; None: this console has no way to the app), in ``locale``.
    Dynamics' own message is quoted as it came."""
    if error is None:
        return translate(_UNREACHABLE, locale)
    detail = f"{error.code}: {error.message}" if error.code else error.message
    return translate(_CRM_REFUSED, locale).format(error=detail)


def writeback_section(request: Request, principal: Principal, reading: AppReading) -> dict[str, Any]:
    """What ``_writeback_settings.html`` shows: the app's state (``reading``), what is missing in the reader's
    words, and the error of the last "Get it now" or save (``request.state.writeback_error``). Reads the store:
    call it off the event loop."""
    status = reading.status
    return {
        "app": reading,
        "missing": [missing_text(item, principal.locale) for item in status.missing] if status else [],
        "error": getattr(request.state, "writeback_error", None),
    }
