"""The `digest` command the team installs: the tests that stand for the team's month run it, not the checkout.

`make test` builds the wheel and installs it in a fresh virtual environment (.venv-installed), then hands its
`digest` to the tests in DIGEST_INSTALLED. Run by hand without it, those tests fall back to `python -m digest`
of the checkout; on CI (CI=true) that is a failure, never a silent fallback.
"""

from __future__ import annotations

import os
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest

VARIABLE = "DIGEST_INSTALLED"


def command() -> list[str]:
    """How to run `digest`: the installed command when `make test` made one, else the checkout's."""
    given = os.environ.get(VARIABLE)
    if given:
        if not Path(given).is_file():
            pytest.fail(f"{VARIABLE}={given}: no such command; run `make test`, which installs it")
        return [given]
    if os.environ.get("CI"):
        pytest.fail(f"{VARIABLE} is not set: run the tests with `make test`, which installs the wheel to test it")
    return [sys.executable, "-m", "digest"]


@dataclass(frozen=True)
class Ran:
    """What a run of the installed command gave: its exit code and everything it printed (stdout, then stderr)."""

    exit_code: int
    output: str


def run(*args: str, cwd: Path | None = None) -> Ran:
    """`digest ARGS` through the installed command, in this process's environment."""
    done = subprocess.run([*command(), *args], capture_output=True, text=True, timeout=300, cwd=cwd,
                          stdin=subprocess.DEVNULL)
    return Ran(done.returncode, done.stdout + done.stderr)
