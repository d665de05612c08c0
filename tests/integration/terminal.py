"""Running a command on a real pseudo-terminal, as a person at a keyboard does (for prompts that only a terminal
may answer)."""

from __future__ import annotations

import fcntl
import os
import pty
import re
import select
import struct
import subprocess
import termios
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

_ESCAPE_SEQUENCE = re.compile(r"\x1b\[[0-9;?]*[A-Za-z]")


@dataclass(frozen=True)
class TerminalRun:
    """How a command run on a terminal ended: its exit code and everything the terminal showed (typing included)."""

    exit_code: int
    output: str


def run_in_terminal(
    argv: Sequence[str],
    *,
    env: Mapping[str, str],
    prompt: str,
    answer: str,
    columns: int = 200,
    idle_timeout_s: float = 60.0,
) -> TerminalRun:
    """Run ``argv`` with stdin, stdout and stderr on a new pseudo-terminal ``columns`` wide; type ``answer`` once
    ``prompt`` shows. The output comes back without the terminal's escape sequences (styles).

    Raises:
        AssertionError: the command printed nothing for ``idle_timeout_s`` seconds (it hangs).
    """
    primary, secondary = pty.openpty()
    fcntl.ioctl(secondary, termios.TIOCSWINSZ, struct.pack("HHHH", 50, columns, 0, 0))
    process = subprocess.Popen(argv, stdin=secondary, stdout=secondary, stderr=secondary, env=dict(env))
    os.close(secondary)
    shown = b""
    answered = False
    try:
        while True:
            ready, _, _ = select.select([primary], [], [], idle_timeout_s)
            assert ready, f"the command stopped printing: {shown.decode(errors='replace')}"
            try:
                chunk = os.read(primary, 4096)
            except OSError:  # EIO: the command exited and closed the terminal
                break
            if not chunk:
                break
            shown += chunk
            if not answered and prompt.encode() in shown:
                os.write(primary, answer.encode())
                answered = True
        return TerminalRun(process.wait(), _ESCAPE_SEQUENCE.sub("", shown.decode()).replace("\r\n", "\n"))
    finally:
        os.close(primary)
        if process.poll() is None:
            process.kill()
            process.wait()
