"""``python -m salesbridge.cli.work_horse``: the process the embedded runner starts for one organization's import
and the matching run after it (:mod:`salesbridge.jobs.work_horse` says why). Not a command for people: it reads its
request as JSON on standard input and writes the outcome as one JSON line on standard output; its log goes to
standard error (the console's log)."""

from __future__ import annotations

import json
import logging
import sys

from salesbridge import bootstrap
from salesbridge.errors import SalesbridgeError
from salesbridge.jobs.work_horse import encode_outcome

logger = logging.getLogger("salesbridge.work_horse")


def main() -> int:
    """Run the request read from standard input; 0 when an outcome was written, 2 for a request it cannot run, 1
    when the run broke off (logged)."""
    logging.basicConfig(level=logging.INFO, stream=sys.stderr, format="%(levelname)s %(name)s: %(message)s")
    bootstrap.fewer_malloc_arenas()  # before the import's threads start
    try:
        request = json.loads(sys.stdin.buffer.read())
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
