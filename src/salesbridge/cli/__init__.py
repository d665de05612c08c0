"""The ``salesbridge`` command line: thin — parse, call a use case, render. One module per command group; the
use cases and everything they need come from :mod:`salesbridge.bootstrap`, errors are shown by
:func:`salesbridge.cli.rendering.errors_reported`."""

# Every command's start (and `salesbridge --help`) imports this package and every command group module, so their
# tops, and bootstrap's, import only light modules (typer, rich, pydantic, i18n, errors, domain values, use cases).
# The store (SQLAlchemy, Alembic, psycopg), the Dynamics connector (aiohttp, MSAL), the web stack (FastAPI, uvicorn),
# the job engine (procrastinate) and the sandbox are imported inside the function that needs them (types under
# TYPE_CHECKING); the matching engine (numpy, rapidfuzz, …) on first use of salesbridge.matching.Matcher.
# tests/unit/cli/test_start.py fails when one of them is imported at a module's top.

from __future__ import annotations

import typer

from salesbridge.cli import crm, jobs, lists, match, org, people, sandbox, seats, sync, tokens, users, writeback
from salesbridge.cli.demo import demo
from salesbridge.cli.serve import serve

app = typer.Typer(
    help="salesbridge: the bridge between a sales workspace and Microsoft Dynamics 365.", no_args_is_help=True
)
app.add_typer(sandbox.app, name="sandbox")
app.command("demo")(demo)
app.add_typer(org.app, name="org")
app.add_typer(crm.app, name="crm")
app.add_typer(users.app, name="user")
app.add_typer(tokens.app, name="token")
app.add_typer(sync.app, name="sync")
app.add_typer(seats.app, name="seats")
app.add_typer(lists.app, name="lists")
app.add_typer(people.people_app, name="people")
app.add_typer(people.companies_app, name="companies")
app.add_typer(match.app, name="match")
app.add_typer(writeback.app, name="writeback")
app.command("serve")(serve)
app.command("worker")(jobs.worker)
app.add_typer(jobs.app, name="jobs")


def main() -> None:
    """Console entry point."""
    app()
