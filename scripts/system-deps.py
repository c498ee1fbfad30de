#!/usr/bin/env python3
"""Install the Debian packages the tests drive where they are missing (the list: tests/programs.py's PACKAGES).

`make test` and .ci/run run this first. It installs with apt-get when it can (as root, or with sudo that asks
no password); otherwise it installs nothing, prints the one command to run and exits 1, so `make test` stops
before the tests. --check only reports: exit 0 when nothing is missing, 1 with the missing packages otherwise.
Standard library only: it runs before the tests' .venv exists.
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from tests import programs


def installer() -> list[str] | None:
    """How to run apt-get here: directly as root, through `sudo -n` when sudo asks no password, else None."""
    if os.geteuid() == 0:
        return []
    if shutil.which("sudo") and subprocess.run(["sudo", "-n", "true"], capture_output=True).returncode == 0:
        return ["sudo", "-n"]
    return None


def install(packages: list[str], runner: list[str]) -> bool:
    """apt-get update, then install `packages` without recommends; True when apt-get succeeded."""
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    apt = [*runner, "env", "DEBIAN_FRONTEND=noninteractive", "apt-get"] if runner else ["apt-get"]
    print(f"system-deps: installing {' '.join(packages)} (apt-get)", flush=True)
    update = subprocess.run([*apt, "update", "-qq"], env=env)
    return update.returncode == 0 and subprocess.run(
        [*apt, "install", "-y", "-qq", "--no-install-recommends", *packages], env=env).returncode == 0


def refuse(packages: list[str], why: str, command: str | None = None) -> int:
    """Say what is missing, why it was not installed and the one command to run; exit code 1."""
    print(f"system-deps: the tests need these packages, not installed here: {' '.join(packages)}\n"
          f"  {why}\n  Run: {command or programs.install_command(packages)}\n  then `make test` again.",
          file=sys.stderr)
    return 1


def main(argv: list[str] | None = None) -> int:
    """Check, then install what is missing where this machine allows it."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="only report the missing packages; install nothing")
    options = parser.parse_args(argv)
    missing = programs.missing()
    if not missing:
        print(f"system-deps: {', '.join(programs.PACKAGES.values())}: installed")
        return 0
    if options.check:
        return refuse(missing, "(--check: nothing installed)")
    if shutil.which("apt-get") is None:
        wanted = [program for program, package in programs.PACKAGES.items() if package in missing]
        return refuse(missing, "This machine has no apt-get (not Debian or Ubuntu).",
                      f"your system's package manager, to install the programs {' '.join(wanted)}")
    runner = installer()
    if runner is None:
        return refuse(missing, "Installing them needs root: not root, and sudo asks for a password (or is absent).")
    if not install(missing, runner):
        return refuse(missing, "apt-get failed (its messages are above).")
    still = programs.missing()
    return refuse(still, "apt-get ran but they are still not found.") if still else 0


if __name__ == "__main__":
    sys.exit(main())
