"""The embedded runner's work horse: each import, and the matching run after it, in a process of its own.

The console's process (``salesbridge serve``) serves pages for days. An import allocates millions of short-lived
objects and, on SQLite, pages of the store; freed, that memory mostly stays with the process's allocator, so the
console kept about 110 MiB more than its pages need (docs/reliability.md § Soak: 140 of Python's arenas against 85
with the imports elsewhere). A process started for one run gives everything back when it ends. This is
what RQ's work horse and Celery's ``max_tasks_per_child=1`` do; the parent keeps the schedule, the console and the
writeback drain.

The child is ``python -m salesbridge.cli.work_horse``: it reads one request (the settings, the store's URL, the
organization) as JSON on its standard input — so secrets never appear in a command line — runs the organization's
queued import and any requested matching run, and writes one JSON line on its standard output: the run's outcome.
Its log goes to the parent's standard error. Its exit status: 0 when it wrote an outcome; anything else is a crash,
which the parent logs; a run it left running is failed and replaced once its lease expires, as after any dead
worker (fault 7 of docs/reliability.md). It never outlives the console: the kernel kills it when the thread that
started it ends (``PR_SET_PDEATHSIG``), and stopping the runner ends it (:meth:`WorkHorse.stop`).
"""

from __future__ import annotations

import json
import logging
import os
import subprocess
import sys
import threading
import uuid
from collections.abc import Mapping, Sequence
from typing import Any, Final

from salesbridge.errors import WorkHorseError
from salesbridge.services.sync import RunOutcome

logger = logging.getLogger(__name__)

CHILD_MODULE: Final = "salesbridge.cli.work_horse"
"""The module the child runs (``python -m``)."""


def encode_outcome(outcome: RunOutcome | None) -> str:
    """The child's answer, one JSON line: the outcome (its report is not carried: the run's counts are in the store),
    ``null`` when no import ran (nothing queued, or another process holds the lease)."""
    if outcome is None:
        return "null"
    return json.dumps(
        {
            "run_id": str(outcome.run_id),
            "succeeded": outcome.succeeded,
            "error": outcome.error,
            "stopped": outcome.stopped,
        }
    )


def decode_outcome(line: str) -> RunOutcome | None:
    """What :func:`encode_outcome` wrote.

    Raises:
        WorkHorseError: the line is not an answer of the child.
    """
    try:
        value = json.loads(line)
        if value is None:
            return None
        return RunOutcome(
            uuid.UUID(value["run_id"]),
            succeeded=bool(value["succeeded"]),
            error=value["error"],
            stopped=bool(value["stopped"]),
        )
    except (ValueError, TypeError, KeyError) as error:
        raise WorkHorseError(f"The import process answered something else than an outcome: {line[:200]!r}.") from error


class WorkHorse:
    """Runs one organization's import (and requested matching) in a child process per call, one at a time.

    Args:
        request: What the child needs besides the organization (the settings, secrets included, and the store's
            URL), sent as JSON on its standard input.
        command: The child's command line; ``python -m salesbridge.cli.work_horse`` with this interpreter.
        environment: The child's environment; this process's when None.
        stop_grace_s: How long :meth:`stop` lets the child end on SIGTERM before killing it.
    """

    def __init__(
        self,
        request: Mapping[str, Any],
        *,
        command: Sequence[str] | None = None,
        environment: Mapping[str, str] | None = None,
        stop_grace_s: float = 10.0,
    ) -> None:
        self._request = dict(request)
        self._command = list(command or (sys.executable, "-m", CHILD_MODULE))
        self._environment = dict(environment) if environment is not None else None
        self._stop_grace_s = stop_grace_s
        self._lock = threading.Lock()
        self._child: subprocess.Popen[bytes] | None = None
        self._stopping = threading.Event()
        self.runs_started = 0
        """How many children this work horse started (an idle round of the runner starts none)."""

    def run(self, organization_id: uuid.UUID) -> RunOutcome | None:
        """Run the organization's queued import and requested matching in a child and wait for it: the import's
        outcome, None when none ran (nothing queued, another process holds its lease, or this work horse was
        stopped).

        Raises:
            WorkHorseError: the child could not start, crashed, or answered nonsense (its log is in this process's
                standard error).
        """
        request = {**self._request, "organization_id": str(organization_id), "parent_pid": os.getpid()}
        payload = json.dumps(request).encode()
        with self._lock:
            if self._stopping.is_set():
                return None
            try:
                self._child = subprocess.Popen(
                    self._command,
                    stdin=subprocess.PIPE,
                    stdout=subprocess.PIPE,
                    env=self._environment,
                    start_new_session=True,  # a Ctrl+C in the console's terminal reaches the child through stop()
                )
            except OSError as error:
                raise WorkHorseError(f"The import process could not start: {error}.") from error
            child = self._child
            self.runs_started += 1
        try:
            answer, _ = child.communicate(payload)
        finally:
            with self._lock:
                self._child = None
        if self._stopping.is_set() and child.returncode != 0:  # ended by stop()
            return None
        lines = [line for line in answer.decode("utf-8", "replace").splitlines() if line.strip()]
        if child.returncode != 0 or not lines:
            raise WorkHorseError(
                f"The import process of organization {organization_id} ended with status {child.returncode} "
                "without an outcome; its run resumes once its lease expires."
            )
        return decode_outcome(lines[-1])

    @property
    def running_pid(self) -> int | None:
        """The process id of the child running now, or None."""
        child = self._child
        return None if child is None else child.pid

    def stop(self) -> None:
        """End the running child (SIGTERM, then SIGKILL after the grace period) and start no more. Idempotent. The
        run it held is failed and replaced once its lease expires; every page it committed stays."""
        with self._lock:
            self._stopping.set()
            child = self._child
        if child is None or child.poll() is not None:
            return
        child.terminate()
        try:
            child.wait(self._stop_grace_s)
        except subprocess.TimeoutExpired:
            child.kill()
            child.wait()
