"""``python -m salesbridge.cli.work_horse``: the process the embedded runner starts for one organization's import
and the matching run after it (:mod:`salesbridge.jobs.work_horse` says why). Not a command for people: it reads its
request as JSON on standard input and writes the outcome as one JSON line on standard output; its log goes to
standard error (the console's log)."""

from __future__ import annotations

import ctypes
import json
import logging
import os
import signal
import sys
from typing import Final

from salesbridge import bootstrap
from salesbridge.errors import SalesbridgeError
from salesbridge.jobs.work_horse import encode_outcome
from salesbridge.native import c_function

logger = logging.getLogger("salesbridge.work_horse")

_PR_SET_PDEATHSIG: Final = 1


def die_with_parent(parent: int) -> bool:
    """Have the kernel kill this process when the thread that started it ends (Linux's ``PR_SET_PDEATHSIG``: the
    embedded runner's thread lives as long as the console), so that an import never outlives a console killed with
    SIGKILL or by the out-of-memory killer; its run is then failed and resumed like any dead worker's. Whether
    ``parent`` (the console's pid) is still this process's parent once asked (where the platform has no such call,
    only that)."""
    prctl = c_function("c", "prctl", ctypes.c_int, ctypes.c_int, ctypes.c_ulong)
    if prctl is not None:
        prctl(_PR_SET_PDEATHSIG, signal.SIGKILL)
    return os.getppid() == parent


def main() -> int:
    """Run the request read from standard input; 0 when an outcome was written, 2 for a request it cannot run, 1
    when the run broke off (logged)."""
    # Warnings and errors in the console's log; not the store's migration check, made at every start.
    logging.basicConfig(level=logging.WARNING, stream=sys.stderr, format="%(levelname)s %(name)s: %(message)s")
    bootstrap.fewer_malloc_arenas()  # before the import's threads start
    try:
        request = json.loads(sys.stdin.buffer.read())
        parent = request.get("parent_pid")
        if parent is not None and not die_with_parent(int(parent)):
            logger.error("the console that started this import process has ended: nothing to do")
            return 2
        outcome = bootstrap.run_work_horse(request)
    except (ValueError, TypeError, SalesbridgeError) as error:
        logger.error("the import process cannot run its request: %s", error)
        return 2
    except Exception:
        logger.exception("the import process broke off")
        return 1
    sys.stdout.write(encode_outcome(outcome) + "\n")
    sys.stdout.flush()
    return 0


if __name__ == "__main__":
    sys.exit(main())
