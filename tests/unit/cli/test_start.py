"""Every command's start imports the command line (the package and every command group module): it must not pull in
the store, the Dynamics connector, the web stack, the job engine or the sandbox, which only the commands using them
import. A fresh interpreter is the only place where ``sys.modules`` tells what importing the CLI costs."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap

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
