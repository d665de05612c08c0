"""Every command's start imports the command line (the package and every command group module): it must not pull in
the store, the Dynamics connector, the web stack, the job engine, the sandbox or the matching engine's libraries,
which only the commands using them import. The processes that run jobs, serve the console or the sandbox load the
matching engine only when they match. A fresh interpreter is the only place where ``sys.modules`` tells what an
import costs."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap

MATCHING = (
    "numpy",
    "rapidfuzz",
    "jellyfish",
    "nameparser",
    "nicknames",
    "cleanco",
    "fingerprints",
    "normality",
    "icu",
    "tldextract",
    "phonenumbers",
    "salesbridge.matching.engine",
)
"""The matching engine and the libraries it scores with (a quarter of a second at every start when imported eagerly);
``from salesbridge.matching import Matcher`` imports them."""

HEAVY = (
    "sqlalchemy",
    "alembic",
    "psycopg",
    "aiohttp",
    "msal",
    "fastapi",
    "starlette",
    "uvicorn",
    "procrastinate",
    "salesbridge.store",
    "salesbridge.crm.dynamics",
    "salesbridge.sandbox",
    *MATCHING,
)

# Imports the CLI, then asks every command and group of it for its --help, as a user does; prints, on its last line,
# the heavy modules loaded and the commands asked.
_PROBE = textwrap.dedent(
    """
    import json, sys

    import typer.main

    from salesbridge.cli import app

    heavy = tuple(sys.argv[1:])
    root = typer.main.get_command(app)
    asked = []

    def ask(command, path):
        asked.append(" ".join(path))
        try:
            root.main([*path, "--help"], prog_name="salesbridge", standalone_mode=False)
        except SystemExit:
            pass
        for name, sub in getattr(command, "commands", {}).items():  # a group's
            ask(sub, [*path, name])

    ask(root, [])
    loaded = sorted(name for name in sys.modules if name in heavy or name.startswith(tuple(h + "." for h in heavy)))
    print(json.dumps({"loaded": loaded, "asked": asked}))
    """
)


def test_the_command_line_and_its_help_load_no_heavy_library() -> None:
    probe = subprocess.run(
        [sys.executable, "-c", _PROBE, *HEAVY], capture_output=True, text=True, check=False, timeout=120
    )

    assert probe.returncode == 0, probe.stderr
    report = json.loads(probe.stdout.strip().splitlines()[-1])
    assert {"crm connect", "sync run", "serve", "sandbox serve", "demo"} <= set(report["asked"])
    assert report["loaded"] == []


# Imports what the worker (job functions, embedded runner, procrastinate app), the console and the sandbox server run
# on, then the scorer itself; prints, on its last line, the matching modules loaded before and after the scorer.
_SERVER_PROBE = textwrap.dedent(
    """
    import json, sys

    import salesbridge.jobs.procrastinate_app
    import salesbridge.jobs.runner
    import salesbridge.jobs.tasks
    import salesbridge.sandbox.assembly
    import salesbridge.web.app

    matching = tuple(sys.argv[1:])

    def loaded():
        return sorted(name for name in matching if name in sys.modules)

    before = loaded()
    from salesbridge.matching import Matcher, MatchIndex

    print(json.dumps({"before": before, "after": loaded()}))
    """
)


def test_workers_the_console_and_the_sandbox_load_the_matching_engine_only_to_match() -> None:
    probe = subprocess.run(
        [sys.executable, "-c", _SERVER_PROBE, *MATCHING], capture_output=True, text=True, check=False, timeout=120
    )

    assert probe.returncode == 0, probe.stderr
    report = json.loads(probe.stdout.strip().splitlines()[-1])
    assert report["before"] == []
    assert report["after"] == sorted(MATCHING)  # the names above are the engine's: the guard guards something
